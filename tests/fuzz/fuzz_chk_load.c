/* libFuzzer target for the checker's file loader: any bytes go through
 * src/pki's PEM splitter (labels, CRLF, junk, blocks that do not decode,
 * BEGIN without END, an END of another label) or the DER / PKCS#12 / DER
 * key sniffing, with a passphrase ("test") for encrypted keys and PKCS#12
 * files, whose key derivation src/pki caps. The loader never fails on
 * content: whatever it reads, it records, and every object it keeps is
 * one the rules can use. */
#include <stdint.h>
#include <stdlib.h>

#include "check/chk_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct chk_file *f;
	chk_ctx *c;
	tg_err err;

	tg_err_clear(&err);
	if ((c = chk_new(&err)) == NULL)
		return 0;
	chk_use_system_store(c, 0);
	if (chk_set_passphrase(c, "test", &err) != 0 || (f = chk_file_new("fuzz.pem", 1)) == NULL) {
		chk_free(c);
		return 0;
	}
	if (chk_file_parse(c, f, data, size) == 0) {
		for (size_t i = 0; i < f->ncerts; i++)
			if (f->certs[i].x == NULL)
				abort();
		if (f->ncrls > CHK_CRLS_MAX || (f->ncrls > 0) != (f->crl != NULL))
			abort();
		if (f->empty && (f->ncerts > 0 || f->key != NULL || f->ncrls > 0))
			abort();
		if (f->corrupt > 0 && f->corrupt_where[0] == '\0')
			abort(); /* a damaged block is always placed */
	}
	chk_file_free(f);
	chk_free(c);
	return 0;
}
