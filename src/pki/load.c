#define _GNU_SOURCE
/* Loading certificates, keys, CSRs and CRLs from files, PEM or DER. Messages
 * name the file, say what was found instead, and how to fix it. */
#include "tlsgate/pki.h"
#include "tlsgate/util.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <limits.h>
#include <openssl/pkcs12.h>
#include <string.h>

static int
looks_pem(const unsigned char *data, size_t len)
{
	return len > 11 && memmem(data, len, "-----BEGIN ", 11) != NULL;
}

/* Names what a PEM file holds when it is not what was asked for. */
static const char *
pem_kind(const unsigned char *data, size_t len)
{
	static const struct {
		const char *marker;
		const char *what;
	} kinds[] = {
		{ "-----BEGIN CERTIFICATE REQUEST", "a certificate signing request (CSR)" },
		{ "-----BEGIN NEW CERTIFICATE REQUEST", "a certificate signing request (CSR)" },
		{ "-----BEGIN CERTIFICATE", "a certificate" },
		{ "-----BEGIN X509 CRL", "a CRL" },
		{ "-----BEGIN ENCRYPTED PRIVATE KEY", "an encrypted private key" },
		{ "PRIVATE KEY-----", "a private key" },
		{ "-----BEGIN PUBLIC KEY", "a public key" },
	};

	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (memmem(data, len, kinds[i].marker, strlen(kinds[i].marker)) != NULL)
			return kinds[i].what;
	return "PEM data of another kind";
}

unsigned
pki_file_kinds(const char *path)
{
	unsigned char *data;
	size_t len;
	unsigned kinds = 0;

	if (util_read_file(path, &data, &len, NULL) != 0)
		return 0;
	if (looks_pem(data, len)) {
		if (memmem(data, len, "-----BEGIN CERTIFICATE-----", 27) != NULL)
			kinds |= PKI_FILE_CERT;
		if (memmem(data, len, "PRIVATE KEY-----", 16) != NULL)
			kinds |= PKI_FILE_KEY;
	} else {
		const unsigned char *p = data;
		X509 *x = d2i_X509(NULL, &p, (long)len);
		EVP_PKEY *k;
		if (x != NULL)
			kinds |= PKI_FILE_CERT;
		X509_free(x);
		p = data;
		if ((k = d2i_AutoPrivateKey(NULL, &p, (long)len)) != NULL)
			kinds |= PKI_FILE_KEY;
		EVP_PKEY_free(k);
		ERR_clear_error();
	}
	OPENSSL_clear_free(data, len);
	return kinds;
}

static int
looks_pem_file(const char *path)
{
	unsigned char *data;
	size_t len;
	int pem;

	if (util_read_file(path, &data, &len, NULL) != 0)
		return 1; /* let the real load report the error */
	pem = looks_pem(data, len);
	free(data);
	return pem;
}

static int
read_input(const char *path, unsigned char **data, size_t *len, tg_err *err)
{
	if (util_read_file(path, data, len, err) != 0)
		return -1;
	if (*len == 0) {
		free(*data);
		*data = NULL;
		return tg_err_set(err, TG_ERR_CONFIG, "%s is empty", path);
	}
	return 0;
}

int
pki_load_certs(const char *path, STACK_OF(X509) **certs, tg_err *err)
{
	unsigned char *data = NULL;
	size_t len;
	BIO *bio = NULL;
	STACK_OF(X509) *sk = NULL;
	X509 *x;
	int rc = -1;

	*certs = NULL;
	if (read_input(path, &data, &len, err) != 0)
		return -1;
	if ((sk = sk_X509_new_null()) == NULL ||
	    (bio = BIO_new_mem_buf(data, (int)len)) == NULL) {
		tg_err_set(err, TG_ERR_INTERNAL, "out of memory");
		goto out;
	}
	if (!looks_pem(data, len)) {
		const unsigned char *p = data;
		x = d2i_X509(NULL, &p, (long)len);
		if (x == NULL) {
			tg_err_ossl(err, TG_ERR_CONFIG,
			    "%s is neither PEM nor a DER certificate; give a certificate file "
			    "(-----BEGIN CERTIFICATE-----)", path);
			goto out;
		}
		sk_X509_push(sk, x);
	} else {
		ERR_set_mark();
		while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL)
			sk_X509_push(sk, x);
		ERR_pop_to_mark();
		if (sk_X509_num(sk) == 0 && memmem(data, len, "-----BEGIN CERTIFICATE-----", 27)) {
			tg_err_set(err, TG_ERR_CONFIG,
			    "%s is damaged: its CERTIFICATE block does not decode (truncated, edited, "
			    "or a copy-and-paste that lost lines); copy the file again from its source",
			    path);
			goto out;
		}
		if (sk_X509_num(sk) == 0) {
			tg_err_set(err, TG_ERR_CONFIG,
			    "%s holds %s, not a certificate; give the certificate file", path,
			    pem_kind(data, len));
			goto out;
		}
	}
	*certs = sk; /* ownership to caller */
	sk = NULL;
	rc = 0;
out:
	sk_X509_pop_free(sk, X509_free);
	BIO_free(bio);
	free(data);
	return rc;
}

X509 *
pki_load_cert(const char *path, tg_err *err)
{
	STACK_OF(X509) *sk;
	X509 *x;

	if (pki_load_certs(path, &sk, err) != 0)
		return NULL;
	x = sk_X509_shift(sk);
	sk_X509_pop_free(sk, X509_free);
	return x;
}

static int
pass_cb(char *buf, int size, int rwflag, void *u)
{
	const char *pass = u;
	size_t n;

	(void)rwflag;
	if (pass == NULL)
		return -1; /* OpenSSL never prompts: pki_pass_get asked already */
	n = strlen(pass);
	if (n > (size_t)size)
		return -1;
	memcpy(buf, pass, n);
	return (int)n;
}

static int
key_is_encrypted(const unsigned char *data, size_t len)
{
	return memmem(data, len, "ENCRYPTED PRIVATE KEY", 21) != NULL ||
	    memmem(data, len, "Proc-Type: 4,ENCRYPTED", 22) != NULL;
}

int
pki_key_file_encrypted(const char *path)
{
	unsigned char *data;
	size_t len;
	int enc;

	if (util_read_file(path, &data, &len, NULL) != 0)
		return 0;
	enc = key_is_encrypted(data, len);
	OPENSSL_clear_free(data, len);
	return enc;
}

EVP_PKEY *
pki_load_key_pass(const char *path, pki_pass *pass, tg_err *err)
{
	unsigned char *data = NULL;
	size_t len = 0;
	BIO *bio = NULL;
	EVP_PKEY *key = NULL;
	char what[PATH_MAX + 16], text[768];
	int encrypted;

	if (read_input(path, &data, &len, err) != 0)
		return NULL;
	encrypted = key_is_encrypted(data, len);
	if (encrypted && !pki_pass_available(pass)) {
		pki_pass_fix(pass, text, sizeof(text));
		tg_err_set(err, TG_ERR_CONFIG, "%s is protected by a passphrase; %s", path, text);
		goto out;
	}
	snprintf(what, sizeof(what), "the key %s", path);
	if (encrypted && pki_pass_get(pass, what, 0, err) != 0)
		goto out;
	if ((bio = BIO_new_mem_buf(data, (int)len)) == NULL) {
		tg_err_set(err, TG_ERR_INTERNAL, "out of memory");
		goto out;
	}
	if (looks_pem(data, len)) {
		key = PEM_read_bio_PrivateKey(bio, NULL, pass_cb,
		    encrypted ? (void *)pass->value : NULL);
		if (key == NULL && encrypted) {
			pki_pass_source(pass, text, sizeof(text));
			tg_err_ossl(err, TG_ERR_CONFIG,
			    "cannot decrypt %s: wrong passphrase (%s)", path, text);
			goto out;
		}
		if (key == NULL) {
			tg_err_ossl(err, TG_ERR_CONFIG,
			    "%s holds %s, not a usable private key; give the key file "
			    "(-----BEGIN PRIVATE KEY-----)", path, pem_kind(data, len));
			goto out;
		}
	} else {
		key = d2i_PrivateKey_bio(bio, NULL);
		if (key == NULL) {
			tg_err_ossl(err, TG_ERR_CONFIG,
			    "%s is neither PEM nor a DER private key; give the key file", path);
			goto out;
		}
	}
	ERR_clear_error();
out:
	BIO_free(bio);
	OPENSSL_clear_free(data, len);
	return key;
}

EVP_PKEY *
pki_load_key(const char *path, const char *pass, tg_err *err)
{
	/* A fixed passphrase: no option to name, nothing to ask. */
	pki_pass fixed = { .value = (char *)pass };

	return pki_load_key_pass(path, pass != NULL ? &fixed : NULL, err);
}

/* One kind of single object a file may hold, PEM or DER. */
typedef struct {
	void *(*from_pem)(BIO *bio);
	void *(*from_der)(BIO *bio);
	const char *what;   /* "a certificate signing request (CSR)" */
	const char *der;    /* "a DER CSR" */
	const char *fix;
} object_kind;

static void *csr_pem(BIO *b) { return PEM_read_bio_X509_REQ(b, NULL, NULL, NULL); }
static void *csr_der(BIO *b) { return d2i_X509_REQ_bio(b, NULL); }
static void *crl_pem(BIO *b) { return PEM_read_bio_X509_CRL(b, NULL, NULL, NULL); }
static void *crl_der(BIO *b) { return d2i_X509_CRL_bio(b, NULL); }

static const object_kind csr_kind = {
	csr_pem, csr_der, "a certificate signing request", "a DER CSR",
	"create one with `tlsgate cert request HOST --new-key`",
};
static const object_kind crl_kind = {
	crl_pem, crl_der, "a CRL", "a DER CRL", "publish one with `tlsgate crl --dir DIR`",
};

static void *
load_object(const char *path, const object_kind *k, tg_err *err)
{
	unsigned char *data = NULL;
	size_t len;
	BIO *bio = NULL;
	void *obj = NULL;
	int pem;

	if (read_input(path, &data, &len, err) != 0)
		return NULL;
	if ((bio = BIO_new_mem_buf(data, (int)len)) == NULL) {
		tg_err_set(err, TG_ERR_INTERNAL, "out of memory");
		goto out;
	}
	pem = looks_pem(data, len);
	obj = pem ? k->from_pem(bio) : k->from_der(bio);
	if (obj == NULL) {
		char found[128];
		if (pem)
			snprintf(found, sizeof(found), "%s", pem_kind(data, len));
		else
			snprintf(found, sizeof(found), "binary data that is not %s", k->der);
		tg_err_ossl(err, TG_ERR_CONFIG, "%s is not %s (it holds %s); %s", path, k->what,
		    found, k->fix);
	}
	ERR_clear_error();
out:
	BIO_free(bio);
	free(data);
	return obj;
}

X509_REQ *
pki_load_csr(const char *path, tg_err *err)
{
	return load_object(path, &csr_kind, err);
}

X509_CRL *
pki_load_crl(const char *path, tg_err *err)
{
	return load_object(path, &crl_kind, err);
}

/* The next CRL of a PEM stream into *crl (NULL at the end): 0, or -1 for
 * a block that does not decode (bad base64, cut short, a CRL block whose
 * DER does not parse). */
static int
next_crl(BIO *bio, X509_CRL **crl)
{
	char *name = NULL, *header = NULL;
	unsigned char *der = NULL;
	const unsigned char *p;
	long len = 0;
	int rc = -1;

	*crl = NULL;
	for (;;) {
		unsigned long e;
		ERR_set_mark();
		if (PEM_read_bio(bio, &name, &header, &der, &len) == 1) {
			ERR_pop_to_mark();
			if (strcmp(name, PEM_STRING_X509_CRL) == 0)
				break;
			OPENSSL_free(name);
			OPENSSL_free(header);
			OPENSSL_free(der);
			name = header = NULL;
			der = NULL;
			continue;
		}
		e = ERR_peek_last_error();
		ERR_pop_to_mark();
		/* No further block: the end. */
		return ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE ? 0 : -1;
	}
	p = der;
	if ((*crl = d2i_X509_CRL(NULL, &p, len)) != NULL && p == der + len)
		rc = 0;
	else {
		X509_CRL_free(*crl);
		*crl = NULL;
		ERR_clear_error();
	}
	OPENSSL_free(name);
	OPENSSL_free(header);
	OPENSSL_free(der);
	return rc;
}

int
pki_load_crls(const char *path, STACK_OF(X509_CRL) *crls, tg_err *err)
{
	unsigned char *data = NULL;
	size_t len;
	BIO *bio = NULL;
	X509_CRL *crl;
	int n = 0, bad, rc = -1;

	if (!looks_pem_file(path)) {
		if ((crl = pki_load_crl(path, err)) == NULL)
			return -1;
		sk_X509_CRL_push(crls, crl);
		return 0;
	}
	if (read_input(path, &data, &len, err) != 0)
		return -1;
	if ((bio = BIO_new_mem_buf(data, (int)len)) == NULL) {
		tg_err_set(err, TG_ERR_INTERNAL, "out of memory");
		goto out;
	}
	/* Block by block: a CRL that does not decode is an error wherever it
	 * is, not the silent end of the list (the CRLs after it, and its own
	 * revocations, would be lost). Blocks of other kinds are skipped. */
	while ((bad = next_crl(bio, &crl)) == 0 && crl != NULL) {
		sk_X509_CRL_push(crls, crl);
		n++;
	}
	if (bad && n == 0 && strcmp(pem_kind(data, len), "a CRL") == 0) {
		/* CRL armour around bytes that do not decode. */
		tg_err_set(err, TG_ERR_CONFIG,
		    "%s: its CRL does not parse (garbled, or cut short while copied); publish it "
		    "again with `tlsgate crl --dir DIR` and copy it whole", path);
		goto out;
	}
	if (bad && n > 0) {
		tg_err_set(err, TG_ERR_CONFIG,
		    "%s: CRL %d of the file (counted from the top, after %d that parse) does not "
		    "parse (garbled, or cut short while copied); publish it again with `tlsgate crl "
		    "--dir DIR` and copy the file whole", path, n + 1, n);
		goto out;
	}
	if (n == 0) {
		tg_err_set(err, TG_ERR_CONFIG,
		    "%s holds %s, not a CRL; publish one with `tlsgate crl --dir DIR`", path,
		    pem_kind(data, len));
		goto out;
	}
	rc = 0;
out:
	BIO_free(bio);
	free(data);
	return rc;
}

/* "--cert " for messages, or "" for a file found by its layout. */
static const char *
dash(const char *opt)
{
	return opt != NULL ? "--" : "";
}

static const char *
sp(const char *opt)
{
	return opt != NULL ? opt : "";
}

int
pki_pair_kinds_check(const char *cert, const char *key, const char *cert_opt,
    const char *key_opt, tg_err *err)
{
	unsigned c = pki_file_kinds(cert), k = pki_file_kinds(key);

	if (c == PKI_FILE_KEY && k == PKI_FILE_CERT) {
		if (cert_opt == NULL || key_opt == NULL)
			return tg_err_set(err, TG_ERR_CONFIG, "certificate and key are swapped: %s "
			    "holds a private key and %s a certificate; exchange their names", cert, key);
		return tg_err_set(err, TG_ERR_CONFIG,
		    "certificate and key are swapped: %s holds a private key and %s a certificate; "
		    "pass --%s %s --%s %s", cert, key, cert_opt, key, key_opt, cert);
	}
	if (k == PKI_FILE_CERT)
		return tg_err_set(err, TG_ERR_CONFIG,
		    "key %s holds a certificate, not a private key: give %s%s%sthe key the "
		    "certificate %s was issued for", key, dash(key_opt), sp(key_opt),
		    key_opt != NULL ? " " : "", cert);
	if (c == PKI_FILE_KEY)
		return tg_err_set(err, TG_ERR_CONFIG,
		    "certificate %s holds a private key, not a certificate: give %s%s%sthe "
		    "certificate (chain) issued for key %s", cert, dash(cert_opt), sp(cert_opt),
		    cert_opt != NULL ? " " : "", key);
	return 0;
}

/* The leaf must come first and match the key; a reversed chain is the
 * "no shared cipher" trap Prosody's guide warns about, so name it. */
static int
pair_matches(const char *cert, const char *key, const char *key_opt, const pki_pair *p,
    tg_err *err)
{
	if (pki_key_matches_cert(p->key, p->leaf))
		return 0;
	for (int i = 0; i < sk_X509_num(p->chain); i++)
		if (pki_key_matches_cert(p->key, sk_X509_value(p->chain, i)))
			return tg_err_set(err, TG_ERR_CONFIG,
			    "%s is in the wrong order: the certificate for key %s is number %d, "
			    "but the leaf (the certificate of the key) must come first, then the "
			    "intermediates", cert, key, i + 2);
	return tg_err_set(err, TG_ERR_CONFIG,
	    "key %s does not match certificate %s: give %s%s%sthe key this certificate was "
	    "issued for", key, cert, dash(key_opt), sp(key_opt), key_opt != NULL ? " " : "");
}

int
pki_load_pair(const char *cert, const char *key, const char *cert_opt, const char *key_opt,
    pki_pass *pass, pki_pair *out, tg_err *err)
{
	memset(out, 0, sizeof(*out));
	if (pki_pair_kinds_check(cert, key, cert_opt, key_opt, err) != 0)
		return -1;
	if (pki_load_certs(cert, &out->chain, err) != 0) {
		if (cert_opt != NULL)
			tg_err_prefix(err, "--%s", cert_opt);
		return -1;
	}
	out->leaf = sk_X509_shift(out->chain);
	if ((out->key = pki_load_key_pass(key, pass, err)) == NULL) {
		if (key_opt != NULL)
			tg_err_prefix(err, "--%s", key_opt);
		goto fail;
	}
	if (pair_matches(cert, key, key_opt, out, err) != 0)
		goto fail;
	return 0;
fail:
	pki_pair_clear(out);
	return -1;
}

void
pki_pair_clear(pki_pair *p)
{
	if (p == NULL)
		return;
	X509_free(p->leaf);
	sk_X509_pop_free(p->chain, X509_free);
	EVP_PKEY_free(p->key);
	memset(p, 0, sizeof(*p));
}
