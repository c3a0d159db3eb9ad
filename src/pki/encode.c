/* Encodings and the facts tlsgate prints and stores about certificates. */
#include "tlsgate/pki.h"

#include <arpa/inet.h>
#include <openssl/bio.h>
#include <openssl/buffer.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <string.h>

#include "tlsgate/util.h"

static int
bio_to_string(BIO *bio, char **out, size_t *len, tg_err *err)
{
	BUF_MEM *mem;

	BIO_get_mem_ptr(bio, &mem);
	if ((*out = malloc(mem->length + 1)) == NULL)
		return tg_err_set(err, TG_ERR_INTERNAL, "out of memory");
	memcpy(*out, mem->data, mem->length);
	(*out)[mem->length] = '\0';
	*len = mem->length;
	return 0;
}

int
pki_certs_to_pem(X509 *const *certs, size_t n, char **pem, size_t *len, tg_err *err)
{
	BIO *bio = BIO_new(BIO_s_mem());
	int rc = -1;

	*pem = NULL;
	if (bio == NULL)
		return tg_err_ossl(err, TG_ERR_INTERNAL, "out of memory");
	for (size_t i = 0; i < n; i++) {
		if (PEM_write_bio_X509(bio, certs[i]) != 1) {
			tg_err_ossl(err, TG_ERR_INTERNAL, "cannot encode a certificate");
			goto out;
		}
	}
	rc = bio_to_string(bio, pem, len, err);
out:
	BIO_free(bio);
	return rc;
}

int
pki_crl_to_pem(X509_CRL *crl, char **pem, size_t *len, tg_err *err)
{
	BIO *bio = BIO_new(BIO_s_mem());
	int rc = -1;

	if (bio == NULL || PEM_write_bio_X509_CRL(bio, crl) != 1)
		tg_err_ossl(err, TG_ERR_INTERNAL, "cannot encode the CRL");
	else
		rc = bio_to_string(bio, pem, len, err);
	BIO_free(bio);
	return rc;
}

int
pki_csr_to_pem(X509_REQ *csr, char **pem, size_t *len, tg_err *err)
{
	BIO *bio = BIO_new(BIO_s_mem());
	int rc = -1;

	if (bio == NULL || PEM_write_bio_X509_REQ(bio, csr) != 1)
		tg_err_ossl(err, TG_ERR_INTERNAL, "cannot encode the certificate request");
	else
		rc = bio_to_string(bio, pem, len, err);
	BIO_free(bio);
	return rc;
}

void
pki_cert_serial_hex(X509 *cert, char *buf, size_t len)
{
	BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL);
	char *hex = bn ? BN_bn2hex(bn) : NULL;

	snprintf(buf, len, "%s", hex ? hex : "");
	OPENSSL_free(hex);
	BN_free(bn);
}

void
pki_cert_fingerprint(X509 *cert, char hex[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	if (X509_digest(cert, EVP_sha256(), md, &n) != 1 || n != 32) {
		hex[0] = '\0';
		return;
	}
	util_hex(hex, md, n, 0);
}

int
pki_key_id(EVP_PKEY *key, char hex[65], tg_err *err)
{
	unsigned char *der = NULL, md[32];
	int len = i2d_PUBKEY(key, &der);
	int rc = -1;

	if (len <= 0) {
		tg_err_ossl(err, TG_ERR_INTERNAL, "cannot encode a public key");
		goto out;
	}
	if (EVP_Digest(der, (size_t)len, md, NULL, EVP_sha256(), NULL) != 1) {
		tg_err_ossl(err, TG_ERR_INTERNAL, "cannot hash a public key");
		goto out;
	}
	util_hex(hex, md, sizeof(md), 0);
	rc = 0;
out:
	OPENSSL_free(der);
	return rc;
}

struct cn_out {
	char *buf;
	size_t len;
};

/* The first CN as it reads; one that is not text (a NUL in it) escaped, so
 * it never shows as a shorter name. */
static int
first_cn(const pki_name *n, void *arg)
{
	struct cn_out *o = arg;

	if (n->bad != NULL)
		(void)pki_name_escape(o->buf, o->len, n->value, n->len);
	else
		snprintf(o->buf, o->len, "%.*s", (int)n->len, n->value);
	return 1;
}

void
pki_cert_cn(X509 *cert, char *buf, size_t len)
{
	struct cn_out o = { buf, len };

	if (len == 0)
		return;
	buf[0] = '\0';
	(void)pki_cert_subject_each(cert, NID_commonName, first_cn, &o);
}

void
pki_name_oneline(const X509_NAME *name, char *buf, size_t len)
{
	BIO *bio = BIO_new(BIO_s_mem());
	BUF_MEM *mem;

	buf[0] = '\0';
	if (bio == NULL)
		return;
	if (X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) >= 0) {
		BIO_get_mem_ptr(bio, &mem);
		snprintf(buf, len, "%.*s", (int)mem->length, mem->data);
	}
	BIO_free(bio);
}

int64_t
pki_asn1_time_unix(const ASN1_TIME *t)
{
	struct tm tm;

	if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1)
		return 0;
	return (int64_t)timegm(&tm);
}

void
pki_time_format(int64_t t, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm) == NULL)
		snprintf(buf, len, "?");
	else
		strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}
