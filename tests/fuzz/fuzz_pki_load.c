/* libFuzzer target for src/pki's loaders. The first input byte picks the
 * loader (certificates and a certificate; a key without and with a
 * passphrase, "test"; a CSR; a CRL; CRLs; the kind sniffers: one per input,
 * as OpenSSL 3.0 builds its decoders anew for each key); the rest becomes a
 * file in a temporary directory, as they read paths. Each returns its
 * object or fails saying why; never past its buffers, without leaks. */
#define _GNU_SOURCE /* memmem, in fuzz_files.h */
#include <openssl/err.h>
#include <stdint.h>
#include <stdlib.h>

#include "fuzz_files.h"
#include "tlsgate/pki.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const names[] = { "in.pem" };

/* A failure must say why. */
static void
said(const tg_err *err)
{
	if (err->msg[0] == '\0')
		abort();
}

static void
certs(const char *path)
{
	STACK_OF(X509) *sk = NULL;
	X509 *x;
	tg_err err;

	tg_err_clear(&err);
	if (pki_load_certs(path, &sk, &err) == 0) {
		if (sk == NULL || sk_X509_num(sk) < 1)
			abort();
		sk_X509_pop_free(sk, X509_free);
	} else {
		said(&err);
	}
	tg_err_clear(&err);
	if ((x = pki_load_cert(path, &err)) == NULL)
		said(&err);
	X509_free(x);
}

static void
key(const char *path, const char *pass)
{
	EVP_PKEY *k;
	tg_err err;

	tg_err_clear(&err);
	if ((k = pki_load_key(path, pass, &err)) == NULL)
		said(&err);
	EVP_PKEY_free(k);
}

static void
csr(const char *path)
{
	X509_REQ *req;
	tg_err err;

	tg_err_clear(&err);
	if ((req = pki_load_csr(path, &err)) == NULL)
		said(&err);
	X509_REQ_free(req);
}

static void
crl(const char *path)
{
	X509_CRL *c;
	tg_err err;

	tg_err_clear(&err);
	if ((c = pki_load_crl(path, &err)) == NULL)
		said(&err);
	X509_CRL_free(c);
}

static void
crls(const char *path)
{
	STACK_OF(X509_CRL) *sk = sk_X509_CRL_new_null();
	tg_err err;

	tg_err_clear(&err);
	if (sk == NULL)
		return;
	if (pki_load_crls(path, sk, &err) != 0)
		said(&err);
	else if (sk_X509_CRL_num(sk) < 1)
		abort();
	sk_X509_CRL_pop_free(sk, X509_CRL_free);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *dir = fuzz_dir(names, 1);
	char path[PATH_MAX];

	if (size < 1)
		return 0;
	snprintf(path, sizeof(path), "%s/%s", dir, names[0]);
	fuzz_write_file(path, data + 1, size - 1);
	switch (data[0] % 7) {
	case 0: certs(path); break;
	case 1: key(path, NULL); break;
	case 2: key(path, "test"); break;
	case 3: csr(path); break;
	case 4: crl(path); break;
	case 5: crls(path); break;
	default:
		(void)pki_file_kinds(path);
		(void)pki_key_file_encrypted(path);
		break;
	}
	ERR_clear_error();
	return 0;
}
