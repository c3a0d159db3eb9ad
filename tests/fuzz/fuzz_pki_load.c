/* libFuzzer target for src/pki's loaders. The first input byte picks the
 * loader (certificates and a certificate; a key without and with a
 * passphrase, "test"; a CSR; a CRL; CRLs; the kind sniffers: one per input,
 * as OpenSSL 3.0 builds its decoders anew for each key; the PEM splitter
 * itself, its blocks checked against the input; a PKCS#12 file and a DER
 * key opened with "test", their key derivation capped); the rest becomes a
 * file in a temporary directory, as they read paths. Each returns its
 * object or fails saying why; never past its buffers, without leaks. */
#define _GNU_SOURCE /* memmem, in fuzz_files.h */
#include <openssl/err.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

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

/* Every block lies inside the input, in order, numbered from 1, with a
 * printable label; each decodes or not, within its bounds. */
static int
block(const pki_pem_block *b, void *arg)
{
	const char **next = arg;
	unsigned char *der;
	long len;
	char where[256];

	if (b->text < next[0] || b->len == 0 || b->text + b->len > next[1] ||
	    b->number < 1 || b->line < 1 || b->label[0] == '\0' ||
	    strlen(b->label) >= PKI_PEM_LABEL_MAX)
		abort();
	for (const char *l = b->label; *l != '\0'; l++)
		if (*l < 0x20 || *l > 0x7e)
			abort();
	next[0] = b->text + b->len;
	if (pki_pem_decode(b, &der, &len, NULL) == 0)
		OPENSSL_clear_free(der, (size_t)len);
	pki_pem_where(b, where, sizeof(where));
	(void)pki_pem_is_encrypted_key(b);
	return 0;
}

static void
split(const uint8_t *data, size_t size)
{
	const char *bounds[2] = { (const char *)data, (const char *)data + size };
	pki_pem_info info;

	if (pki_pem_split(data, size, block, bounds, &info) != 0 || info.nblocks < 0)
		abort();
}

static void
secrets(const uint8_t *data, size_t size)
{
	EVP_PKEY *k = NULL;
	X509 *leaf = NULL;
	STACK_OF(X509) *ca = NULL;
	tg_err err;

	tg_err_clear(&err);
	if (pki_p12_open(data, size, "test", "in.p12", &k, &leaf, &ca, NULL, &err) ==
	    PKI_KEY_TOO_COSTLY)
		said(&err);
	EVP_PKEY_free(k);
	X509_free(leaf);
	sk_X509_pop_free(ca, X509_free);
	k = NULL;
	tg_err_clear(&err);
	if (pki_key_decode(data, size, NULL, "test", "in.der", &k, &err) == PKI_KEY_TOO_COSTLY)
		said(&err);
	EVP_PKEY_free(k);
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
	switch (data[0] % 9) {
	case 0: certs(path); break;
	case 1: key(path, NULL); break;
	case 2: key(path, "test"); break;
	case 3: csr(path); break;
	case 4: crl(path); break;
	case 5: crls(path); break;
	case 6: split(data + 1, size - 1); break;
	case 7: secrets(data + 1, size - 1); break;
	default:
		(void)pki_file_kinds(path);
		(void)pki_key_file_encrypted(path);
		break;
	}
	ERR_clear_error();
	return 0;
}
