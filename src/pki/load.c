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

/* What a PEM label names, for "it holds ..." messages. */
static const char *
label_kind(const char *label)
{
	static const struct {
		const char *label;
		const char *what;
	} kinds[] = {
		{ "CERTIFICATE REQUEST", "a certificate signing request (CSR)" },
		{ "NEW CERTIFICATE REQUEST", "a certificate signing request (CSR)" },
		{ "CERTIFICATE", "a certificate" },
		{ "X509 CERTIFICATE", "a certificate" },
		{ "TRUSTED CERTIFICATE", "a certificate" },
		{ "X509 CRL", "a CRL" },
		{ "ENCRYPTED PRIVATE KEY", "an encrypted private key" },
		{ "PUBLIC KEY", "a public key" },
	};
	size_t n = strlen(label);

	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (strcmp(label, kinds[i].label) == 0)
			return kinds[i].what;
	if (n >= 11 && strcmp(label + n - 11, "PRIVATE KEY") == 0)
		return "a private key";
	return NULL;
}

static int
is_cert_label(const char *label)
{
	return strcmp(label, "CERTIFICATE") == 0 || strcmp(label, "X509 CERTIFICATE") == 0 ||
	    strcmp(label, "TRUSTED CERTIFICATE") == 0;
}

static int
is_key_label(const char *label)
{
	size_t n = strlen(label);

	return n >= 11 && strcmp(label + n - 11, "PRIVATE KEY") == 0;
}

/* The first block a test takes, copied out of the splitter. */
typedef struct {
	int (*want)(const char *label);
	pki_pem_block b;
	int found;
	const char *kind; /* what the first block of a known kind holds */
} first_block;

static int
first_cb(const pki_pem_block *b, void *arg)
{
	first_block *fb = arg;

	if (fb->kind == NULL)
		fb->kind = label_kind(b->label);
	if (fb->want == NULL || !fb->want(b->label))
		return 0;
	fb->b = *b;
	fb->found = 1;
	return 1;
}

static int
first_of(const unsigned char *data, size_t len, int (*want)(const char *), first_block *fb)
{
	memset(fb, 0, sizeof(*fb));
	fb->want = want;
	(void)pki_pem_split(data, len, first_cb, fb, NULL);
	return fb->found;
}

/* Names what a PEM file holds when it is not what was asked for. */
static const char *
pem_kind(const unsigned char *data, size_t len)
{
	first_block fb;

	first_of(data, len, NULL, &fb);
	return fb.kind != NULL ? fb.kind : "PEM data of another kind";
}

static int
has_label(const unsigned char *data, size_t len, int (*want)(const char *))
{
	first_block fb;

	return first_of(data, len, want, &fb);
}

/* A DER file's kind: whatever decodes from it; a PKCS#12 only as the
 * whole file. */
static unsigned
der_kinds(const unsigned char *data, size_t len)
{
	const unsigned char *p = data;
	X509 *x;
	EVP_PKEY *k = NULL;
	PKCS12 *p12;
	unsigned kinds = 0;

	if (len > LONG_MAX)
		return 0;
	if ((x = d2i_X509(NULL, &p, (long)len)) != NULL)
		kinds |= PKI_FILE_CERT;
	p = data;
	if (pki_key_der_encrypted(data, len) ||
	    (k = d2i_AutoPrivateKey(NULL, &p, (long)len)) != NULL)
		kinds |= PKI_FILE_KEY;
	p = data;
	if ((p12 = d2i_PKCS12(NULL, &p, (long)len)) != NULL && p == data + len)
		kinds |= PKI_FILE_P12;
	X509_free(x);
	EVP_PKEY_free(k);
	PKCS12_free(p12);
	ERR_clear_error();
	return kinds;
}

unsigned
pki_file_kinds(const char *path)
{
	unsigned char *data;
	size_t len;
	unsigned kinds = 0;

	if (util_read_file(path, &data, &len, NULL) != 0)
		return 0;
	if (pki_pem_is(data, len)) {
		if (has_label(data, len, is_cert_label))
			kinds |= PKI_FILE_CERT;
		if (has_label(data, len, is_key_label))
			kinds |= PKI_FILE_KEY;
	} else {
		kinds = der_kinds(data, len);
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
	pem = pki_pem_is(data, len);
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

typedef struct {
	STACK_OF(X509) *sk;
	char bad[256]; /* the first certificate block that does not decode */
} certs_walk;

static int
certs_cb(const pki_pem_block *b, void *arg)
{
	certs_walk *w = arg;
	unsigned char *der;
	const unsigned char *p;
	long len;
	X509 *x = NULL;

	if (!is_cert_label(b->label))
		return 0;
	if (pki_pem_decode(b, &der, &len, NULL) == 0) {
		p = der;
		x = strcmp(b->label, "TRUSTED CERTIFICATE") == 0 ? d2i_X509_AUX(NULL, &p, len) :
		    d2i_X509(NULL, &p, len);
		if (x != NULL && p != der + len) {
			X509_free(x);
			x = NULL;
		}
		OPENSSL_free(der);
	}
	ERR_clear_error();
	if (x == NULL || sk_X509_push(w->sk, x) <= 0) {
		X509_free(x);
		pki_pem_where(b, w->bad, sizeof(w->bad));
		return 1;
	}
	return 0;
}

int
pki_load_certs(const char *path, STACK_OF(X509) **certs, tg_err *err)
{
	unsigned char *data = NULL;
	size_t len;
	STACK_OF(X509) *sk = NULL;
	X509 *x;
	int rc = -1;

	*certs = NULL;
	if (read_input(path, &data, &len, err) != 0)
		return -1;
	if ((sk = sk_X509_new_null()) == NULL) {
		tg_err_set(err, TG_ERR_INTERNAL, "out of memory");
		goto out;
	}
	if (!pki_pem_is(data, len)) {
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
		certs_walk w = { .sk = sk };
		if (pki_pem_split(data, len, certs_cb, &w, NULL) != 0) {
			tg_err_set(err, TG_ERR_CONFIG,
			    "%s is damaged: %s (truncated, edited, or a copy-and-paste that lost "
			    "lines); copy the file again from its source", path, w.bad);
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

/* The key of a file: the first PRIVATE KEY block of PEM (its DER and
 * headers), or the whole of DER. Sets *where for a block that does not
 * decode; 0 with *der NULL when the file holds no key. */
typedef struct {
	unsigned char *der;
	size_t len;
	char *header;
	int pem;
	char where[256];
} key_bytes;

static void
key_bytes_free(key_bytes *k)
{
	if (k->pem && k->der != NULL)
		OPENSSL_clear_free(k->der, k->len);
	OPENSSL_free(k->header);
	memset(k, 0, sizeof(*k));
}

static int
key_bytes_of(const unsigned char *data, size_t len, key_bytes *k)
{
	first_block fb;
	long dlen;

	memset(k, 0, sizeof(*k));
	if (!pki_pem_is(data, len)) {
		k->der = (unsigned char *)data; /* borrowed */
		k->len = len;
		return 0;
	}
	k->pem = 1;
	if (!first_of(data, len, is_key_label, &fb))
		return 0;
	if (pki_pem_decode(&fb.b, &k->der, &dlen, &k->header) != 0) {
		pki_pem_where(&fb.b, k->where, sizeof(k->where));
		return -1;
	}
	k->len = (size_t)dlen;
	return 0;
}

static int
key_bytes_encrypted(const key_bytes *k)
{
	return (k->header != NULL && strstr(k->header, "ENCRYPTED") != NULL) ||
	    pki_key_der_encrypted(k->der, k->len);
}

int
pki_key_file_encrypted(const char *path)
{
	unsigned char *data;
	size_t len;
	key_bytes k;
	int enc = 0;

	if (util_read_file(path, &data, &len, NULL) != 0)
		return 0;
	if (key_bytes_of(data, len, &k) == 0 && k.der != NULL)
		enc = key_bytes_encrypted(&k);
	key_bytes_free(&k);
	OPENSSL_clear_free(data, len);
	return enc;
}

/* The message of a key or bundle that did not open for its passphrase: 1
 * if st is such a failure (a cost above the caps, whose message is set
 * already, or a wrong passphrase: "VERB PATH: wrong passphrase (where it
 * came from)AFTER"), 0 for the caller to say. */
static int
pass_failure(pki_key_status st, const char *verb, const char *path, const char *after,
    pki_pass *pass, tg_err *err)
{
	char text[768];

	if (st == PKI_KEY_TOO_COSTLY)
		return 1;
	if (st != PKI_KEY_BAD_PASS)
		return 0;
	pki_pass_source(pass, text, sizeof(text));
	tg_err_set(err, TG_ERR_CONFIG, "%s %s: wrong passphrase (%s)%s", verb, path, text, after);
	return 1;
}

/* Why a key did not load, once its bytes were found. */
static void
key_failure(const char *path, const key_bytes *k, pki_key_status st, pki_pass *pass,
    const unsigned char *data, size_t len, tg_err *err)
{
	if (pass_failure(st, "cannot decrypt", path, "", pass, err))
		return;
	if (k->pem)
		tg_err_set(err, TG_ERR_CONFIG, "%s holds %s, not a usable private key; give the key "
		    "file (-----BEGIN PRIVATE KEY-----)", path, pem_kind(data, len));
	else
		tg_err_set(err, TG_ERR_CONFIG,
		    "%s is neither PEM nor a DER private key; give the key file", path);
}

EVP_PKEY *
pki_load_key_pass(const char *path, pki_pass *pass, tg_err *err)
{
	unsigned char *data = NULL;
	size_t len = 0;
	key_bytes k = { 0 };
	EVP_PKEY *key = NULL;
	char what[PATH_MAX + 16], text[768];
	pki_key_status st;

	if (read_input(path, &data, &len, err) != 0)
		return NULL;
	if (key_bytes_of(data, len, &k) != 0) {
		tg_err_set(err, TG_ERR_CONFIG, "%s is damaged: %s; copy the key again from its "
		    "source", path, k.where);
		goto out;
	}
	if (k.der == NULL) {
		tg_err_set(err, TG_ERR_CONFIG, "%s holds %s, not a usable private key; give the key "
		    "file (-----BEGIN PRIVATE KEY-----)", path, pem_kind(data, len));
		goto out;
	}
	/* Without a passphrase first: a key derivation above the caps is
	 * refused before anyone is asked for one. */
	st = pki_key_decode(k.der, k.len, k.header, NULL, path, &key, err);
	if (st == PKI_KEY_NEED_PASS) {
		if (!pki_pass_available(pass)) {
			pki_pass_fix(pass, text, sizeof(text));
			tg_err_set(err, TG_ERR_CONFIG, "%s is protected by a passphrase; %s", path,
			    text);
			goto out;
		}
		snprintf(what, sizeof(what), "the key %s", path);
		if (pki_pass_get(pass, what, 0, err) != 0)
			goto out;
		st = pki_key_decode(k.der, k.len, k.header, pass->value, path, &key, err);
	}
	if (st != PKI_KEY_OK)
		key_failure(path, &k, st, pass, data, len, err);
out:
	ERR_clear_error();
	key_bytes_free(&k);
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
	int (*label)(const char *label);
	void *(*from_der)(const unsigned char **p, long len);
	void (*free)(void *obj);
	const char *what;   /* "a certificate signing request (CSR)" */
	const char *der;    /* "a DER CSR" */
	const char *fix;
} object_kind;

static int
csr_label(const char *l)
{
	return strcmp(l, "CERTIFICATE REQUEST") == 0 || strcmp(l, "NEW CERTIFICATE REQUEST") == 0;
}

static int
crl_label(const char *l)
{
	return strcmp(l, "X509 CRL") == 0;
}

static void *csr_der(const unsigned char **p, long n) { return d2i_X509_REQ(NULL, p, n); }
static void *crl_der(const unsigned char **p, long n) { return d2i_X509_CRL(NULL, p, n); }
static void csr_free(void *o) { X509_REQ_free(o); }
static void crl_free(void *o) { X509_CRL_free(o); }

static const object_kind csr_kind = {
	csr_label, csr_der, csr_free, "a certificate signing request", "a DER CSR",
	"create one with `tlsgate cert request HOST --new-key`",
};
static const object_kind crl_kind = {
	crl_label, crl_der, crl_free, "a CRL", "a DER CRL", "publish one with `tlsgate crl --dir DIR`",
};

/* The whole of der[0..len) as one object of kind k, or NULL. */
static void *
object_of(const object_kind *k, const unsigned char *der, size_t len)
{
	const unsigned char *p = der;
	void *obj = len <= LONG_MAX ? k->from_der(&p, (long)len) : NULL;

	if (obj != NULL && p != der + len) {
		k->free(obj); /* trailing bytes: not this object */
		obj = NULL;
	}
	ERR_clear_error();
	return obj;
}

/* A block's object; NULL with where set when it does not decode. */
static void *
block_object(const object_kind *k, const pki_pem_block *b, char *where, size_t wlen)
{
	unsigned char *der;
	long len;
	void *obj = NULL;

	if (pki_pem_decode(b, &der, &len, NULL) == 0) {
		obj = object_of(k, der, (size_t)len);
		OPENSSL_free(der);
	}
	if (obj == NULL)
		pki_pem_where(b, where, wlen);
	return obj;
}

static void *
load_object(const char *path, const object_kind *k, tg_err *err)
{
	unsigned char *data = NULL;
	size_t len;
	void *obj = NULL;
	first_block fb;
	char where[256];

	if (read_input(path, &data, &len, err) != 0)
		return NULL;
	if (!pki_pem_is(data, len)) {
		if ((obj = object_of(k, data, len)) == NULL)
			tg_err_set(err, TG_ERR_CONFIG, "%s is not %s (it holds binary data that is not "
			    "%s); %s", path, k->what, k->der, k->fix);
	} else if (!first_of(data, len, k->label, &fb)) {
		tg_err_set(err, TG_ERR_CONFIG, "%s is not %s (it holds %s); %s", path, k->what,
		    pem_kind(data, len), k->fix);
	} else if ((obj = block_object(k, &fb.b, where, sizeof(where))) == NULL) {
		tg_err_set(err, TG_ERR_CONFIG, "%s is not %s: %s (garbled, or cut short while "
		    "copied); %s", path, k->what, where, k->fix);
	}
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

/* Every CRL block of a file, in order; the first that does not decode
 * stops the walk. */
typedef struct {
	STACK_OF(X509_CRL) *crls;
	int n;
	char where[256];
} crls_walk;

static int
crls_cb(const pki_pem_block *b, void *arg)
{
	crls_walk *w = arg;
	X509_CRL *crl;

	if (!crl_label(b->label))
		return 0;
	if ((crl = block_object(&crl_kind, b, w->where, sizeof(w->where))) == NULL)
		return 1;
	if (sk_X509_CRL_push(w->crls, crl) <= 0) {
		X509_CRL_free(crl);
		snprintf(w->where, sizeof(w->where), "out of memory");
		return 1;
	}
	w->n++;
	return 0;
}

int
pki_load_crls(const char *path, STACK_OF(X509_CRL) *crls, tg_err *err)
{
	unsigned char *data = NULL;
	size_t len;
	X509_CRL *crl;
	crls_walk w = { .crls = crls };
	int bad, rc = -1;

	if (!looks_pem_file(path)) {
		if ((crl = pki_load_crl(path, err)) == NULL)
			return -1;
		sk_X509_CRL_push(crls, crl);
		return 0;
	}
	if (read_input(path, &data, &len, err) != 0)
		return -1;
	/* Block by block: a CRL that does not decode is an error wherever it
	 * is, not the silent end of the list (the CRLs after it, and its own
	 * revocations, would be lost). Blocks of other kinds are skipped. */
	bad = pki_pem_split(data, len, crls_cb, &w, NULL);
	if (bad && w.n == 0) {
		tg_err_set(err, TG_ERR_CONFIG,
		    "%s: its CRL does not parse (garbled, or cut short while copied): %s; publish "
		    "it again with `tlsgate crl --dir DIR` and copy it whole", path, w.where);
		goto out;
	}
	if (bad) {
		tg_err_set(err, TG_ERR_CONFIG,
		    "%s: CRL %d of the file (counted from the top, after %d that parse) does not "
		    "parse (garbled, or cut short while copied): %s; publish it again with `tlsgate "
		    "crl --dir DIR` and copy the file whole", path, w.n + 1, w.n, w.where);
		goto out;
	}
	if (w.n == 0) {
		tg_err_set(err, TG_ERR_CONFIG,
		    "%s holds %s, not a CRL; publish one with `tlsgate crl --dir DIR`", path,
		    pem_kind(data, len));
		goto out;
	}
	rc = 0;
out:
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

/* --- PKCS#12 --- */

/* "CN=a, CN=b" of the certificates of a bundle, for messages. */
static void
cns_of(STACK_OF(X509) *certs, char *buf, size_t len)
{
	char cn[PKI_NAME_MAX];
	size_t used = 0;

	buf[0] = '\0';
	for (int i = 0; i < sk_X509_num(certs) && used + 1 < len; i++) {
		pki_cert_cn(sk_X509_value(certs, i), cn, sizeof(cn));
		int n = snprintf(buf + used, len - used, "%sCN=%s", i > 0 ? ", " : "", cn);
		if (n < 0)
			break;
		used += (size_t)n;
	}
}

/* Why a bundle that opened cannot stand for a pair; 0 if it can. */
static int
p12_pair_check(const char *path, const pki_pair *out, int nkeys, tg_err *err)
{
	char cns[512];

	if (out->key == NULL)
		return tg_err_set(err, TG_ERR_CONFIG,
		    "%s holds no private key (%d certificate(s) only): export it again with the "
		    "key (`openssl pkcs12 -export -inkey KEY -in CERT`; Windows and macOS: export "
		    "the certificate with its private key)", path, sk_X509_num(out->chain));
	if (nkeys > 1)
		return tg_err_set(err, TG_ERR_CONFIG,
		    "%s holds %d private keys (a keystore of several entries), so which one to use "
		    "is not clear: export the one entry alone (keytool -importkeystore -srcalias "
		    "ALIAS -destkeystore ONE.p12 -deststoretype PKCS12)", path, nkeys);
	if (out->leaf == NULL && sk_X509_num(out->chain) == 0)
		return tg_err_set(err, TG_ERR_CONFIG,
		    "%s holds a private key but no certificate: export the key together with the "
		    "certificate issued for it", path);
	if (out->leaf == NULL) {
		cns_of(out->chain, cns, sizeof(cns));
		return tg_err_set(err, TG_ERR_CONFIG,
		    "%s holds a private key but not its certificate: the certificates it holds (%s) "
		    "belong to other keys; export the key together with the certificate issued for "
		    "it", path, cns);
	}
	return 0;
}

/* What pki_p12_open said, as a message; st is not PKI_KEY_OK. */
static void
p12_failure(const char *path, pki_key_status st, pki_pass *pass, tg_err *err)
{
	if (pass_failure(st, "cannot open PKCS#12", path, ": its MAC does not verify with it; "
	    "give the passphrase it was exported with", pass, err))
		return;
	if (st == PKI_KEY_MAC_BAD)
		tg_err_set(err, TG_ERR_CONFIG, "PKCS#12 %s was altered or damaged after it was "
		    "exported: the passphrase decrypts it, but its integrity check (MAC) fails; "
		    "export it again from its source, or copy it again whole (in binary mode)", path);
	else
		tg_err_set(err, TG_ERR_CONFIG, "%s is a damaged PKCS#12 file (it does not decode); "
		    "export it again, or copy it again whole (in binary mode)", path);
}

int
pki_load_p12(const char *path, pki_pass *pass, pki_pair *out, tg_err *err)
{
	unsigned char *data = NULL;
	size_t len = 0;
	char what[PATH_MAX + 32], text[768];
	pki_key_status st;
	int nkeys = 0, rc = -1;

	memset(out, 0, sizeof(*out));
	if (read_input(path, &data, &len, err) != 0)
		return -1;
	if (pki_pem_is(data, len) || !(der_kinds(data, len) & PKI_FILE_P12)) {
		tg_err_set(err, TG_ERR_CONFIG, "%s is not a PKCS#12 file (.p12, .pfx)", path);
		goto out;
	}
	/* The empty passphrase first, after every cost is checked: a bundle
	 * above the caps is refused before anyone is asked for one. */
	st = pki_p12_open(data, len, NULL, path, &out->key, &out->leaf, &out->chain, &nkeys, err);
	if (st == PKI_KEY_BAD_PASS) {
		if (!pki_pass_available(pass)) {
			pki_pass_fix(pass, text, sizeof(text));
			tg_err_set(err, TG_ERR_CONFIG, "PKCS#12 %s is protected by a passphrase; %s",
			    path, text);
			goto out;
		}
		snprintf(what, sizeof(what), "the PKCS#12 file %s", path);
		if (pki_pass_get(pass, what, 0, err) != 0)
			goto out;
		st = pki_p12_open(data, len, pass->value, path, &out->key, &out->leaf, &out->chain,
		    &nkeys, err);
	}
	if (st != PKI_KEY_OK) {
		p12_failure(path, st, pass, err);
		goto out;
	}
	rc = p12_pair_check(path, out, nkeys, err);
out:
	if (rc != 0)
		pki_pair_clear(out);
	ERR_clear_error();
	OPENSSL_clear_free(data, len);
	return rc;
}
