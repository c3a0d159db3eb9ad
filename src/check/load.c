/* Reading one file into objects, keeping every format detail the rules need
 * to explain: DER instead of PEM, no BEGIN line, CRLF, text around blocks,
 * blocks that do not decode, encrypted keys, legacy PKCS#12. OpenSSL's own
 * loaders hide these behind "no start line", so we split the PEM ourselves. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <openssl/core_names.h>
#include <openssl/decoder.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check/chk_int.h"
#include "tlsgate/pki.h"
#include "tlsgate/util.h"

struct chk_file *
chk_file_new(const char *path, int explicit_input)
{
	struct chk_file *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return NULL;
	if ((f->path = strdup(path)) == NULL) {
		free(f);
		return NULL;
	}
	f->explicit_input = explicit_input;
	return f;
}

void
chk_file_free(struct chk_file *f)
{
	if (f == NULL)
		return;
	for (size_t i = 0; i < f->ncerts; i++)
		chk_cert_clear(&f->certs[i]);
	free(f->certs);
	EVP_PKEY_free(f->key);
	for (size_t i = 0; i < f->ncrls; i++)
		X509_CRL_free(f->crls[i]);
	free(f->key_refused);
	free(f->path);
	free(f);
}

/* The raw public key as a provider parameter: the EC point, the RSA
 * modulus, the Ed25519 bytes. Cheap, unlike i2d_PUBKEY, which in OpenSSL 3.0
 * builds an encoder and a decoder for every call. */
static int
pub_material(EVP_PKEY *key, unsigned char *buf, size_t cap, size_t *len)
{
	BIGNUM *n = NULL;
	int rc = -1;

	if (EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_PUB_KEY, buf, cap, len) == 1)
		return 0;
	if (EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_N, &n) == 1 &&
	    BN_num_bytes(n) <= (int)cap && BN_bn2bin(n, buf) >= 0) {
		*len = (size_t)BN_num_bytes(n);
		rc = 0;
	}
	BN_free(n);
	return rc;
}

int
chk_key_spki(EVP_PKEY *key, unsigned char out[CHK_HASH_LEN])
{
	unsigned char buf[2048], *der = NULL;
	size_t len = 0;
	int dlen, rc = -1;

	/* The key type name goes in first, so equal bytes of different
	 * algorithms never compare equal. */
	if (pub_material(key, buf, sizeof(buf), &len) == 0) {
		EVP_MD_CTX *md = EVP_MD_CTX_new();
		const char *type = EVP_PKEY_get0_type_name(key);
		if (md != NULL && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1 &&
		    EVP_DigestUpdate(md, type ? type : "", type ? strlen(type) : 0) == 1 &&
		    EVP_DigestUpdate(md, buf, len) == 1 && EVP_DigestFinal_ex(md, out, NULL) == 1)
			rc = 0;
		EVP_MD_CTX_free(md);
		ERR_clear_error();
		return rc;
	}
	ERR_clear_error();
	dlen = i2d_PUBKEY(key, &der);
	if (dlen > 0 && EVP_Digest(der, (size_t)dlen, out, NULL, EVP_sha256(), NULL) == 1)
		rc = 0;
	OPENSSL_free(der);
	return rc;
}

int
chk_cert_init(struct chk_cert *cc, X509 *x, const struct chk_file *f, int index)
{
	unsigned int n = 0;
	EVP_PKEY *pub;

	memset(cc, 0, sizeof(*cc));
	cc->x = x;
	cc->file = f;
	cc->index = index;
	if (X509_digest(x, EVP_sha256(), cc->fp, &n) != 1)
		return -1;
	/* X509_get_extension_flags caches the extensions and the self-signed test. */
	cc->is_ca = (X509_get_extension_flags(x) & EXFLAG_CA) != 0 && X509_check_ca(x) != 0;
	cc->self_issued = X509_NAME_cmp(X509_get_subject_name(x), X509_get_issuer_name(x)) == 0;
	pub = X509_get0_pubkey(x);
	if (pub == NULL || chk_key_spki(pub, cc->spki) != 0) {
		ERR_clear_error();
		memset(cc->spki, 0, sizeof(cc->spki));
	}
	if (cc->self_issued && pub != NULL)
		cc->self_signed = X509_verify(x, pub) == 1;
	ERR_clear_error();
	return 0;
}

void
chk_cert_clear(struct chk_cert *cc)
{
	if (cc == NULL)
		return;
	X509_free(cc->x);
	cc->x = NULL;
}

static int
add_cert(struct chk_file *f, X509 *x)
{
	struct chk_cert *n = realloc(f->certs, (f->ncerts + 1) * sizeof(*n));

	if (n == NULL) {
		X509_free(x);
		return -1;
	}
	f->certs = n;
	/* Ownership of x passes to the file. */
	if (chk_cert_init(&f->certs[f->ncerts], x, f, (int)f->ncerts + 1) != 0) {
		X509_free(x);
		return -1;
	}
	f->ncerts++;
	return 0;
}

/* Decoded certs by DER hash: the same intermediate sits in thousands of
 * chain files, and decoding is the expensive part of loading in OpenSSL 3.0
 * (a decoder per public key). Returns a new reference, or NULL. */
static X509 *
cache_get(chk_ctx *c, const unsigned char *fp)
{
	size_t mask = c->xcache_cap - 1, i;

	if (c->xcache_cap == 0)
		return NULL;
	for (i = (size_t)fp[0] | (size_t)fp[1] << 8 | (size_t)fp[2] << 16; ; i++) {
		struct chk_xcache *e = &c->xcache[i & mask];
		if (e->x == NULL)
			return NULL;
		if (memcmp(e->fp, fp, CHK_HASH_LEN) == 0)
			return X509_up_ref(e->x) == 1 ? e->x : NULL;
	}
}

static void
cache_put(chk_ctx *c, const unsigned char *fp, X509 *x)
{
	size_t i, mask;

	if (c->xcache_n * 2 >= c->xcache_cap) {
		size_t ncap = c->xcache_cap ? c->xcache_cap * 2 : 1024;
		struct chk_xcache *old = c->xcache, *n = calloc(ncap, sizeof(*n));
		size_t ocap = c->xcache_cap;
		if (n == NULL)
			return; /* no cache, just slower */
		c->xcache = n;
		c->xcache_cap = ncap;
		c->xcache_n = 0;
		for (size_t k = 0; k < ocap; k++)
			if (old[k].x != NULL) {
				cache_put(c, old[k].fp, old[k].x);
				X509_free(old[k].x);
			}
		free(old);
	}
	if (X509_up_ref(x) != 1)
		return;
	mask = c->xcache_cap - 1;
	for (i = (size_t)fp[0] | (size_t)fp[1] << 8 | (size_t)fp[2] << 16; c->xcache[i & mask].x != NULL; i++)
		;
	memcpy(c->xcache[i & mask].fp, fp, CHK_HASH_LEN);
	c->xcache[i & mask].x = x;
	c->xcache_n++;
}

void
chk_cache_free(chk_ctx *c)
{
	for (size_t i = 0; i < c->xcache_cap; i++)
		X509_free(c->xcache[i].x);
	free(c->xcache);
	c->xcache = NULL;
	c->xcache_cap = c->xcache_n = 0;
}

static X509 *
decode_cert(chk_ctx *c, BIO *b)
{
	char *name = NULL, *header = NULL;
	unsigned char *der = NULL, fp[CHK_HASH_LEN];
	const unsigned char *p;
	long len = 0;
	X509 *x = NULL;

	if (PEM_read_bio(b, &name, &header, &der, &len) != 1)
		goto out;
	if (EVP_Digest(der, (size_t)len, fp, NULL, EVP_sha256(), NULL) == 1 &&
	    (x = cache_get(c, fp)) != NULL)
		goto out;
	p = der;
	if ((x = d2i_X509(NULL, &p, len)) != NULL && p == der + len)
		cache_put(c, fp, x);
	else if (x != NULL && p != der + len) {
		X509_free(x); /* trailing bytes inside the block: damaged */
		x = NULL;
	}
out:
	OPENSSL_free(name);
	OPENSSL_free(header);
	OPENSSL_free(der);
	return x;
}

static int
set_key(struct chk_file *f, EVP_PKEY *key)
{
	if (f->key != NULL) {
		EVP_PKEY_free(key); /* the first key of a file is the one services use */
		return 0;
	}
	f->key = key;
	if (chk_key_spki(key, f->key_spki) != 0)
		ERR_clear_error();
	return 0;
}

/* --- PEM --- */

struct pem_walk {
	chk_ctx *c;
	struct chk_file *f;
	int rc;
};

static void
note_other(struct chk_file *f, const char *what)
{
	if (f->other[0] == '\0')
		snprintf(f->other, sizeof(f->other), "%s", what);
}

/* One decoder context for the whole run: building it costs far more than
 * decoding a key in OpenSSL 3.0, and a run may read 10,000 keys. */
static EVP_PKEY *
decode_plain_key(chk_ctx *c, const unsigned char *der, size_t len)
{
	EVP_PKEY *key;

	if (c->key_decoder == NULL) {
		c->key_decoder = OSSL_DECODER_CTX_new_for_pkey(&c->decoded_key, "DER", NULL, NULL,
		    EVP_PKEY_KEYPAIR, NULL, NULL);
		if (c->key_decoder == NULL)
			return NULL;
	}
	c->decoded_key = NULL;
	if (OSSL_DECODER_from_data(c->key_decoder, &der, &len) != 1) {
		EVP_PKEY_free(c->decoded_key);
		c->decoded_key = NULL;
		return NULL;
	}
	key = c->decoded_key; /* ownership passes to the caller */
	c->decoded_key = NULL;
	return key;
}

/* Why src/pki would not try a key's passphrase (the first one). */
static void
note_refused(struct chk_file *f, const tg_err *err)
{
	if (f->key_refused == NULL)
		f->key_refused = strdup(err->msg);
}

static void
note_corrupt(struct chk_file *f, const pki_pem_block *b)
{
	if (f->corrupt++ == 0) {
		snprintf(f->corrupt_label, sizeof(f->corrupt_label), "%s", b->label);
		pki_pem_where(b, f->corrupt_where, sizeof(f->corrupt_where));
	}
}

/* An encrypted key opened the way its service opens it: with the
 * passphrases its config gives (tried in turn, as nginx tries the lines of
 * ssl_password_file), else with --pass-file. A key derivation above
 * src/pki's caps is not tried at all. */
static EVP_PKEY *
decrypt_key(chk_ctx *c, struct chk_file *f, const unsigned char *der, size_t n,
    const char *header)
{
	const struct chk_keypass *kp = chk_key_pass(c, f->path);
	char *const *tries = kp != NULL ? kp->passes : &c->pass;
	size_t ntries = kp != NULL ? kp->npasses : 1;
	EVP_PKEY *key = NULL;
	tg_err err;

	if (kp != NULL && kp->npasses == 0 && c->pass != NULL) {
		kp = NULL; /* the command's answer, given with --pass-file */
		tries = &c->pass;
		ntries = 1;
	}
	f->keypass = kp;
	tg_err_clear(&err);
	for (size_t i = 0; key == NULL && i < ntries; i++) {
		if (pki_key_decode(der, n, header, tries[i], f->path, &key, &err) ==
		    PKI_KEY_TOO_COSTLY) {
			note_refused(f, &err);
			break;
		}
	}
	return key;
}

/* A key's DER (a PEM block's, with its headers, or a whole DER file): 1
 * when it is no key at all. By content as well as label: an encrypted
 * PKCS#8 body under any label goes through the same capped decryption. */
static int
take_key(chk_ctx *c, struct chk_file *f, const unsigned char *der, size_t len,
    const char *header, int encrypted)
{
	EVP_PKEY *key;

	encrypted = encrypted || pki_key_der_encrypted(der, len);
	key = encrypted ? decrypt_key(c, f, der, len, header) : decode_plain_key(c, der, len);
	ERR_clear_error();
	if (key != NULL)
		return set_key(f, key);
	if (!encrypted)
		return 1;
	f->key_encrypted = 1;
	f->key_bad_pass = f->keypass != NULL ? f->keypass->npasses > 0 : c->pass != NULL;
	return 0;
}

static int
decode_key_block(chk_ctx *c, struct chk_file *f, const pki_pem_block *b)
{
	char *header = NULL;
	unsigned char *der = NULL;
	long dlen = 0;
	int rc;

	if (pki_pem_decode(b, &der, &dlen, &header) != 0) {
		note_corrupt(f, b);
		return 0;
	}
	rc = take_key(c, f, der, (size_t)dlen, header, pki_pem_is_encrypted_key(b));
	OPENSSL_clear_free(der, (size_t)dlen);
	OPENSSL_free(header);
	if (rc == 1) {
		note_corrupt(f, b);
		rc = 0;
	}
	return rc;
}

/* Keeps every CRL of a file; past CHK_CRLS_MAX the rest are dropped. */
static void
add_crl(struct chk_file *f, X509_CRL *crl)
{
	if (f->ncrls == CHK_CRLS_MAX) {
		X509_CRL_free(crl);
		return;
	}
	f->crls[f->ncrls++] = crl;
	f->crl = f->crls[0];
}

/* Decodes one BEGIN..END block by its label. */
static int
decode_block(const pki_pem_block *b, void *arg)
{
	struct pem_walk *w = arg;
	chk_ctx *c = w->c;
	struct chk_file *f = w->f;
	const char *label = b->label;
	BIO *bio;
	void *obj = NULL;
	int known = 1;

	if (b->cut_short || b->end_mismatch) {
		note_corrupt(f, b);
		return 0;
	}
	if (strstr(label, "PRIVATE KEY") != NULL) {
		w->rc |= decode_key_block(c, f, b);
		return 0;
	}
	if ((bio = BIO_new_mem_buf(b->text, (int)b->len)) == NULL) {
		w->rc = -1;
		return 1;
	}
	if (strcmp(label, "CERTIFICATE") == 0 || strcmp(label, "X509 CERTIFICATE") == 0) {
		if ((obj = decode_cert(c, bio)) != NULL)
			w->rc |= add_cert(f, obj);
	} else if (strcmp(label, "TRUSTED CERTIFICATE") == 0) {
		if ((obj = PEM_read_bio_X509_AUX(bio, NULL, NULL, NULL)) != NULL)
			w->rc |= add_cert(f, obj);
	} else if (strcmp(label, "X509 CRL") == 0) {
		if ((obj = PEM_read_bio_X509_CRL(bio, NULL, NULL, NULL)) != NULL)
			add_crl(f, obj);
	} else {
		known = 0;
		if (strstr(label, "REQUEST") != NULL)
			note_other(f, "a certificate signing request (CSR), not a certificate");
		else if (strcmp(label, "PUBLIC KEY") == 0)
			note_other(f, "a public key, not a certificate or private key");
		else if (strstr(label, "PARAMETERS") == NULL)
			note_other(f, "a PEM block of an unknown type");
	}
	if (obj == NULL && known)
		note_corrupt(f, b);
	ERR_clear_error();
	BIO_free(bio);
	return w->rc != 0;
}

/* The blocks through src/pki's splitter; text outside them is junk. */
static int
load_pem(chk_ctx *c, struct chk_file *f, const char *data, size_t len)
{
	struct pem_walk w = { c, f, 0 };
	pki_pem_info info;

	f->fmt = CHK_FMT_PEM;
	(void)pki_pem_split((const unsigned char *)data, len, decode_block, &w, &info);
	f->crlf = info.crlf;
	f->junk = info.junk;
	return w.rc != 0 ? -1 : 0;
}

/* --- DER and PKCS#12 --- */

static const char *
p12_alg_name(const X509_ALGOR *alg, int *legacy)
{
	int nid = OBJ_obj2nid(alg->algorithm);

	/* The PKCS#12 PBE family is what old macOS/Windows/Java need; PBES2
	 * (PBKDF2 + AES) is the modern scheme. */
	switch (nid) {
	case NID_pbe_WithSHA1And3_Key_TripleDES_CBC:
		*legacy = 1;
		return "PBE-SHA1-3DES";
	case NID_pbe_WithSHA1And2_Key_TripleDES_CBC:
		*legacy = 1;
		return "PBE-SHA1-2DES";
	case NID_pbe_WithSHA1And40BitRC2_CBC:
		*legacy = 1;
		return "PBE-SHA1-RC2-40";
	case NID_pbe_WithSHA1And128BitRC2_CBC:
		*legacy = 1;
		return "PBE-SHA1-RC2-128";
	case NID_pbe_WithSHA1And128BitRC4:
	case NID_pbe_WithSHA1And40BitRC4:
		*legacy = 1;
		return "PBE-SHA1-RC4";
	default:
		return NULL;
	}
}

static void
p12_scan_bags(struct chk_file *f, const STACK_OF(PKCS12_SAFEBAG) *bags)
{
	for (int i = 0; i < sk_PKCS12_SAFEBAG_num(bags); i++) {
		const PKCS12_SAFEBAG *bag = sk_PKCS12_SAFEBAG_value(bags, i);
		const X509_SIG *sig;
		const X509_ALGOR *alg;
		const char *name;

		if (PKCS12_SAFEBAG_get_nid(bag) != NID_pkcs8ShroudedKeyBag)
			continue;
		if ((sig = PKCS12_SAFEBAG_get0_pkcs8(bag)) == NULL)
			continue;
		X509_SIG_get0(sig, &alg, NULL);
		if ((name = p12_alg_name(alg, &f->p12_legacy)) != NULL)
			snprintf(f->p12_alg, sizeof(f->p12_alg), "%s", name);
	}
}

/* Finds the encryption schemes without the password: they sit in the clear
 * around the encrypted parts. */
static void
p12_inspect(struct chk_file *f, PKCS12 *p12)
{
	STACK_OF(PKCS7) *safes = PKCS12_unpack_authsafes(p12);

	for (int i = 0; safes != NULL && i < sk_PKCS7_num(safes); i++) {
		PKCS7 *p7 = sk_PKCS7_value(safes, i);
		int nid = OBJ_obj2nid(p7->type);
		const char *name;

		if (nid == NID_pkcs7_encrypted && p7->d.encrypted != NULL) {
			name = p12_alg_name(p7->d.encrypted->enc_data->algorithm, &f->p12_legacy);
			if (name != NULL)
				snprintf(f->p12_alg, sizeof(f->p12_alg), "%s", name);
		} else if (nid == NID_pkcs7_data) {
			STACK_OF(PKCS12_SAFEBAG) *bags = PKCS12_unpack_p7data(p7);
			if (bags != NULL)
				p12_scan_bags(f, bags);
			sk_PKCS12_SAFEBAG_pop_free(bags, PKCS12_SAFEBAG_free);
		}
	}
	sk_PKCS7_pop_free(safes, PKCS7_free);
	ERR_clear_error();
}

/* Opened with --pass-file, else with an empty passphrase; src/pki checks
 * the MAC's and every encryption's iteration count before trying any. */
static int
p12_open(chk_ctx *c, struct chk_file *f, PKCS12 *p12, const unsigned char *data, size_t len)
{
	const char *tries[] = { c->pass, NULL };
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	STACK_OF(X509) *ca = NULL;
	pki_key_status st = PKI_KEY_BAD_PASS;
	tg_err err;
	int rc = 0;

	p12_inspect(f, p12);
	tg_err_clear(&err);
	for (size_t i = c->pass == NULL ? 1 : 0; i < 2; i++) {
		st = pki_p12_open(data, len, tries[i], f->path, &key, &cert, &ca, NULL, &err);
		if (st == PKI_KEY_OK || st == PKI_KEY_TOO_COSTLY)
			break;
	}
	if (st == PKI_KEY_TOO_COSTLY)
		note_refused(f, &err);
	if (st != PKI_KEY_OK) {
		f->p12_locked = 1; /* wrong or no passphrase: only the scheme is known */
		return 0;
	}
	if (cert != NULL)
		rc |= add_cert(f, cert);
	for (int i = 0; ca != NULL && i < sk_X509_num(ca); i++)
		rc |= add_cert(f, sk_X509_value(ca, i));
	sk_X509_free(ca); /* the certs now belong to the file */
	if (key != NULL)
		rc |= set_key(f, key);
	return rc == 0 ? 0 : -1;
}

static int
load_binary(chk_ctx *c, struct chk_file *f, const unsigned char *data, size_t len)
{
	const unsigned char *p;
	X509 *x;
	X509_CRL *crl;
	EVP_PKEY *key;
	PKCS12 *p12;
	int rc = 0;

	f->fmt = CHK_FMT_BINARY;
	if (len < 2 || data[0] != 0x30)
		return 0;
	p = data;
	if ((x = d2i_X509(NULL, &p, (long)len)) != NULL) {
		f->fmt = CHK_FMT_DER;
		rc = add_cert(f, x);
	} else if (p = data, (crl = d2i_X509_CRL(NULL, &p, (long)len)) != NULL) {
		f->fmt = CHK_FMT_DER;
		add_crl(f, crl);
	} else if (p = data, (p12 = d2i_PKCS12(NULL, &p, (long)len)) != NULL) {
		f->fmt = CHK_FMT_P12;
		f->p12 = 1;
		rc = p12_open(c, f, p12, data, len);
		PKCS12_free(p12);
	} else if (pki_key_der_encrypted(data, len)) {
		f->fmt = CHK_FMT_DER;
		rc = take_key(c, f, data, len, NULL, 1);
	} else if (p = data, (key = d2i_AutoPrivateKey(NULL, &p, (long)len)) != NULL) {
		f->fmt = CHK_FMT_DER;
		rc = set_key(f, key);
	}
	ERR_clear_error();
	return rc;
}

static int
looks_base64(const unsigned char *d, size_t len)
{
	size_t b64 = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char ch = d[i];
		if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
		    (ch >= '0' && ch <= '9') || ch == '+' || ch == '/' || ch == '=')
			b64++;
		else if (ch != '\n' && ch != '\r' && ch != ' ' && ch != '\t')
			return 0;
	}
	return b64 >= 64;
}

static int
is_text(const unsigned char *d, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (d[i] == 0 || (d[i] < 0x20 && d[i] != '\n' && d[i] != '\r' && d[i] != '\t'))
			return 0;
	return 1;
}

static int
read_whole(struct chk_file *f, unsigned char **data, size_t *len)
{
	/* A FIFO or device is refused without waiting for a writer. */
	int fd = util_open_input(f->path, &f->st, NULL);
	size_t cap, used = 0;
	unsigned char *buf;

	*data = NULL;
	if (fd < 0) {
		f->read_errno = errno;
		if (stat(f->path, &f->st) != 0)
			memset(&f->st, 0, sizeof(f->st));
		return 0;
	}
	if (f->st.st_size > UTIL_FILE_MAX) {
		f->read_errno = EFBIG;
		close(fd);
		return 0;
	}
	cap = (size_t)f->st.st_size + 1;
	if ((buf = malloc(cap)) == NULL) {
		close(fd);
		return -1;
	}
	for (;;) {
		ssize_t n = read(fd, buf + used, cap - used - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			f->read_errno = errno;
			break;
		}
		if (n == 0)
			break;
		used += (size_t)n;
		if (used + 1 >= cap)
			break;
	}
	close(fd);
	buf[used] = '\0';
	*data = buf;
	*len = used;
	return 0;
}

/* Only blanks and line ends (bounded: data need not be NUL-terminated). */
static int
all_space(const unsigned char *d, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (d[i] != ' ' && d[i] != '\t' && d[i] != '\r' && d[i] != '\n')
			return 0;
	return 1;
}

int
chk_file_parse(chk_ctx *c, struct chk_file *f, const unsigned char *data, size_t len)
{
	if (len == 0 || all_space(data, len)) {
		f->empty = 1;
		f->fmt = CHK_FMT_TEXT;
		return 0;
	}
	if (pki_pem_is(data, len))
		return load_pem(c, f, (const char *)data, len);
	if (is_text(data, len)) {
		f->fmt = CHK_FMT_TEXT;
		f->bare_base64 = looks_base64(data, len);
		return 0;
	}
	return load_binary(c, f, data, len);
}

int
chk_file_load(chk_ctx *c, struct chk_file *f)
{
	unsigned char *data = NULL;
	size_t len = 0;
	int rc = 0;

	if (read_whole(f, &data, &len) != 0)
		return -1;
	if (data != NULL && f->read_errno == 0)
		rc = chk_file_parse(c, f, data, len);
	/* Keys were in this buffer: wipe before freeing. */
	if (data != NULL)
		OPENSSL_clear_free(data, len + 1);
	return rc;
}
