/* libFuzzer target for http mode's identity headers (X-Client-*) from a
 * client certificate: the input is a DER certificate (the first byte picks
 * whether X-Client-Cert is passed too). Its names are read as a handshake
 * reads them (gw_peer_from_cert), then the header lines are built as
 * attach_ident builds them. Checked: every line is "X-Client-NAME: value"
 * ended by CR LF, with no CR, LF, NUL or other control character inside
 * (a certificate holder must not add headers of its own); X-Client-Verify
 * comes first; the entry is found again by its fingerprint. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "gateway/gw.h"
#include "gateway/tls_engine.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_lines(const char *t, size_t len)
{
	const char *end = t + len, *eol;

	if (len < 2 || memcmp(t, "X-Client-Verify: ", 17) != 0)
		abort();
	for (; t < end; t = eol + 2) {
		const char *colon;
		eol = memchr(t, '\r', (size_t)(end - t));
		if (eol == NULL || eol + 1 >= end || eol[1] != '\n')
			abort();
		for (const char *c = t; c < eol; c++)
			if ((unsigned char)*c < 0x20 || (unsigned char)*c == 0x7f)
				abort();
		colon = memchr(t, ':', (size_t)(eol - t));
		if (colon == NULL || colon + 1 >= eol || colon[1] != ' ' || eol - t < 10 ||
		    memcmp(t, "X-Client-", 9) != 0)
			abort();
		for (const char *c = t; c < colon; c++)
			if (*c == ' ')
				abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gw_idents ic = { 0 };
	struct gw_peer p;
	unsigned char fp[GW_FP_LEN];
	unsigned int fplen = 0;
	const unsigned char *der;
	X509 *cert;
	gw_ident *id, *again;
	int cert_header;
	size_t len;
	const char *text;

	if (size < 1)
		return 0;
	cert_header = data[0] & 1;
	der = data + 1;
	/* The queue is emptied every time (see fuzz_acme_tlsalpn.c). */
	if ((cert = d2i_X509(NULL, &der, (long)(size - 1))) == NULL) {
		ERR_clear_error();
		return 0;
	}
	if (X509_digest(cert, EVP_sha256(), fp, &fplen) != 1 || fplen != GW_FP_LEN)
		abort();
	/* As attach_ident does: the identity, then the lines when it was read. */
	if (gw_peer_from_cert(cert, &p, GW_PEER_NAMES | (cert_header ? GW_PEER_PEM : 0)) == 0 &&
	    (id = gw_ident_add(&ic, fp, cert_header, &p)) != NULL) {
		text = gw_ident_text(id, &len);
		check_lines(text, len);
		if (p.present && memcmp(text, "X-Client-Verify: NONE", 21) == 0)
			abort();
		if ((again = gw_ident_find(&ic, fp, cert_header)) != id ||
		    gw_ident_find(&ic, fp, !cert_header) != NULL)
			abort();
		gw_ident_put(&ic, again);
		gw_ident_put(&ic, id);
	}
	gw_peer_clear(&p);
	gw_idents_free(&ic);
	ERR_clear_error();
	X509_free(cert);
	return 0;
}
