/* Passphrase-based encryption of files from elsewhere: encrypted PKCS#8 keys
 * (PBES2 with PBKDF2 or scrypt, PKCS#5 v1, PKCS#12 PBEs) and PKCS#12
 * bundles. Their key derivation cost is chosen by whoever wrote the file:
 * PBKDF2 at 2^31 iterations keeps a core busy for hours, scrypt with a
 * large N or p for as long or eats the memory. Every such parameter is read
 * before the passphrase is tried, and refused above a cap.
 *
 * The caps sit far above what real tools write: OpenSSL 3 writes PBKDF2 at
 * 2048 iterations (pkcs8 -v2, pkcs12 -export, and tlsgate's own key and p12
 * writers), Java's keytool PKCS#12 at 10,000, OWASP's 2023 advice for
 * PBKDF2-HMAC-SHA256 is 600,000; scrypt defaults are N=2^14, r=8, p=1
 * (openssl pkcs8 -scrypt) and N=2^18, r=8, p=1 (age). PBKDF2 at the cap
 * takes a few seconds on one core. */
#include "tlsgate/pki.h"

#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <limits.h>
#include <string.h>

/* The parameter's value, or UINT64_MAX when it is negative or too large. */
static uint64_t
int_value(const ASN1_INTEGER *i, uint64_t dflt)
{
	uint64_t v;

	if (i == NULL)
		return dflt;
	if (ASN1_INTEGER_get_uint64(&v, i) != 1) {
		ERR_clear_error();
		return UINT64_MAX;
	}
	return v;
}

typedef struct {
	const char *what;   /* "the key server.key" */
	const char *scheme; /* "PBKDF2", "scrypt", "PKCS#12 MAC" */
	const char *fix;
	/* A PKCS#12 file's running totals: each encrypted part (and the MAC)
	 * derives its own key, so many parts each under the cap would add up
	 * to hours too. NULL for a lone key. */
	uint64_t *iters, *work;
} cost_ctx;

static int
over(const cost_ctx *c, const char *param, uint64_t value, uint64_t cap, tg_err *err)
{
	char v[32];

	if (value <= cap)
		return 0;
	if (value == UINT64_MAX)
		snprintf(v, sizeof(v), "out of range");
	else
		snprintf(v, sizeof(v), "%llu", (unsigned long long)value);
	return tg_err_set(err, TG_ERR_CONFIG,
	    "%s is passphrase-protected with %s %s = %s, above tlsgate's cap of %llu: deriving "
	    "its key could keep this machine busy for hours (no tool writes such files; one made "
	    "to stall whatever opens it does), so it was not tried; if the file is yours, %s",
	    c->what, c->scheme, param, v, (unsigned long long)cap, c->fix);
}

/* over(), then the same for the file's total when it keeps one. */
static int
charge(const cost_ctx *c, const char *param, uint64_t value, uint64_t cap, uint64_t *total,
    tg_err *err)
{
	char all[64];

	if (over(c, param, value, cap, err) != 0)
		return -1;
	if (total == NULL)
		return 0;
	*total += value;
	snprintf(all, sizeof(all), "%s (all its parts together)", param);
	return over(c, all, *total, cap, err);
}

static int
scrypt_check(const cost_ctx *c, const ASN1_TYPE *param, tg_err *err)
{
	SCRYPT_PARAMS *sp = ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(SCRYPT_PARAMS), param);
	cost_ctx sc = *c;
	uint64_t n, r, p;
	int rc = 0;

	if (sp == NULL) {
		ERR_clear_error();
		return 0; /* does not parse: the decryption fails, quickly */
	}
	sc.scheme = "scrypt";
	n = int_value(sp->costParameter, UINT64_MAX);
	r = int_value(sp->blockSize, UINT64_MAX);
	p = int_value(sp->parallelizationParameter, UINT64_MAX);
	if (over(&sc, "N", n, PKI_SCRYPT_N_MAX, err) != 0 ||
	    over(&sc, "r", r, PKI_SCRYPT_R_MAX, err) != 0 ||
	    over(&sc, "p", p, PKI_SCRYPT_P_MAX, err) != 0 ||
	    charge(&sc, "N*r*p", n * r * p, PKI_SCRYPT_WORK_MAX, c->work, err) != 0)
		rc = -1;
	SCRYPT_PARAMS_free(sp);
	return rc;
}

static int
pbes2_check(const cost_ctx *c, const ASN1_TYPE *param, tg_err *err)
{
	PBE2PARAM *p2 = ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(PBE2PARAM), param);
	PBKDF2PARAM *kdf = NULL;
	cost_ctx kc = *c;
	int rc = 0;

	if (p2 == NULL) {
		ERR_clear_error();
		return 0;
	}
	switch (OBJ_obj2nid(p2->keyfunc->algorithm)) {
	case NID_id_pbkdf2:
		kdf = ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(PBKDF2PARAM), p2->keyfunc->parameter);
		kc.scheme = "PBKDF2";
		if (kdf != NULL)
			rc = charge(&kc, "iterations", int_value(kdf->iter, 1), PKI_KDF_ITER_MAX,
			    c->iters, err);
		break;
	case NID_id_scrypt:
		rc = scrypt_check(c, p2->keyfunc->parameter, err);
		break;
	default:
		break; /* unknown: OpenSSL refuses it before deriving anything */
	}
	ERR_clear_error();
	PBKDF2PARAM_free(kdf);
	PBE2PARAM_free(p2);
	return rc;
}

/* One encryption algorithm: PBES2, or a PKCS#5 v1 / PKCS#12 PBE whose
 * parameters are a salt and an iteration count. */
static int
alg_check(const cost_ctx *c, const X509_ALGOR *alg, tg_err *err)
{
	PBEPARAM *pbe;
	cost_ctx pc = *c;
	int rc;

	if (alg == NULL || alg->parameter == NULL)
		return 0;
	if (OBJ_obj2nid(alg->algorithm) == NID_pbes2)
		return pbes2_check(c, alg->parameter, err);
	if ((pbe = ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(PBEPARAM), alg->parameter)) == NULL) {
		ERR_clear_error();
		return 0;
	}
	pc.scheme = OBJ_nid2sn(OBJ_obj2nid(alg->algorithm));
	rc = charge(&pc, "iterations", int_value(pbe->iter, 1), PKI_KDF_ITER_MAX, c->iters, err);
	PBEPARAM_free(pbe);
	return rc;
}

static const char key_fix[] =
    "decrypt it with the tool that wrote it and encrypt it again with default settings: "
    "`openssl pkcs8 -topk8 -v2 aes-256-cbc -in KEY -out KEY.new` (2048 iterations)";
static const char p12_fix[] =
    "export it again with default settings: `openssl pkcs12 -in FILE -nodes | openssl "
    "pkcs12 -export -out FILE.new` (2048 iterations)";

int
pki_pbe_check(const X509_ALGOR *alg, const char *what, tg_err *err)
{
	cost_ctx c = { what, "", key_fix, NULL, NULL };

	return alg_check(&c, alg, err);
}

/* --- Keys --- */

static int
pass_cb(char *buf, int size, int rwflag, void *u)
{
	const char *pass = u;
	size_t n;

	(void)rwflag;
	if (pass == NULL)
		return -1; /* OpenSSL never prompts: the caller read the passphrase */
	n = strlen(pass);
	if (n > (size_t)size)
		return -1;
	memcpy(buf, pass, n);
	return (int)n;
}

int
pki_key_der_encrypted(const unsigned char *der, size_t len)
{
	const unsigned char *p = der;
	X509_SIG *sig;
	int whole;

	if (len > LONG_MAX || (sig = d2i_X509_SIG(NULL, &p, (long)len)) == NULL) {
		ERR_clear_error();
		return 0;
	}
	whole = p == der + len;
	X509_SIG_free(sig);
	return whole;
}

/* An EncryptedPrivateKeyInfo, its cost checked before the passphrase. */
static pki_key_status
decrypt_pkcs8(const unsigned char *der, size_t len, const char *pass, const char *what,
    EVP_PKEY **key, tg_err *err)
{
	const unsigned char *p = der;
	X509_SIG *sig = d2i_X509_SIG(NULL, &p, (long)len);
	PKCS8_PRIV_KEY_INFO *p8 = NULL;
	const X509_ALGOR *alg;
	pki_key_status st = PKI_KEY_BAD_PASS;

	if (sig == NULL)
		return PKI_KEY_DAMAGED;
	X509_SIG_get0(sig, &alg, NULL);
	if (pki_pbe_check(alg, what, err) != 0)
		st = PKI_KEY_TOO_COSTLY;
	else if (pass == NULL)
		st = PKI_KEY_NEED_PASS;
	else if ((p8 = PKCS8_decrypt(sig, pass, (int)strlen(pass))) != NULL)
		st = (*key = EVP_PKCS82PKEY(p8)) != NULL ? PKI_KEY_OK : PKI_KEY_DAMAGED;
	PKCS8_PRIV_KEY_INFO_free(p8);
	X509_SIG_free(sig);
	return st;
}

pki_key_status
pki_key_decode(const unsigned char *der, size_t len, const char *header, const char *pass,
    const char *what, EVP_PKEY **key, tg_err *err)
{
	unsigned char *buf = NULL;
	long blen = (long)len;
	const unsigned char *p;
	pki_key_status st;

	*key = NULL;
	if (len == 0 || len > LONG_MAX)
		return PKI_KEY_DAMAGED;
	if (header != NULL && strstr(header, "ENCRYPTED") != NULL) {
		/* Legacy PEM encryption (DEK-Info): one round of MD5, no cost to
		 * cap; what it hides is looked at below like any DER. */
		EVP_CIPHER_INFO cipher;
		if (pass == NULL)
			return PKI_KEY_NEED_PASS;
		if ((buf = OPENSSL_memdup(der, len)) == NULL)
			return PKI_KEY_DAMAGED;
		if (PEM_get_EVP_CIPHER_INFO((char *)header, &cipher) != 1 ||
		    PEM_do_header(&cipher, buf, &blen, pass_cb, (void *)pass) != 1) {
			OPENSSL_clear_free(buf, len);
			ERR_clear_error();
			return PKI_KEY_BAD_PASS;
		}
		der = buf;
	}
	/* By content, not by label: an EncryptedPrivateKeyInfo under any
	 * label (or none) is decrypted here only, after its cost is checked. */
	if (pki_key_der_encrypted(der, (size_t)blen))
		st = decrypt_pkcs8(der, (size_t)blen, pass, what, key, err);
	else if (p = der, (*key = d2i_AutoPrivateKey(NULL, &p, blen)) != NULL)
		st = PKI_KEY_OK;
	else
		st = buf != NULL ? PKI_KEY_BAD_PASS : PKI_KEY_DAMAGED;
	if (buf != NULL)
		OPENSSL_clear_free(buf, len);
	ERR_clear_error();
	return st;
}

/* --- PKCS#12 --- */

#define P12_DEPTH_MAX 4 /* safeContents bags inside bags */

/* Two walks over a bundle: the scan charges every part whose cost is in
 * the clear (the MAC, the encrypted safes, the key bags of plain safes)
 * before anything is derived; the open decrypts, charging only what the
 * encrypted safes hid. */
typedef struct {
	const char *pass;
	int passlen;
	int scan;
	cost_ctx cost;
	EVP_PKEY *key;
	int nkeys;     /* key bags seen by the open */
	int decrypted; /* the passphrase opened an encrypted part */
	STACK_OF(X509) *certs;
	tg_err *err;
	pki_key_status st;
} p12_walk;

static int
too_costly(p12_walk *w, const X509_ALGOR *alg)
{
	if (alg_check(&w->cost, alg, w->err) == 0)
		return 0;
	w->st = PKI_KEY_TOO_COSTLY;
	return 1;
}

static int
shrouded_key(p12_walk *w, const PKCS12_SAFEBAG *bag, int hidden)
{
	const X509_SIG *sig = PKCS12_SAFEBAG_get0_pkcs8(bag);
	const X509_ALGOR *alg;
	PKCS8_PRIV_KEY_INFO *p8;

	if (sig == NULL)
		return 0;
	X509_SIG_get0(sig, &alg, NULL);
	if ((w->scan || hidden) && too_costly(w, alg))
		return -1;
	if (!w->scan)
		w->nkeys++;
	if (w->scan || w->key != NULL)
		return 0; /* the first key is the one */
	if ((p8 = PKCS8_decrypt(sig, w->pass, w->passlen)) == NULL) {
		w->st = PKI_KEY_BAD_PASS;
		return -1;
	}
	w->key = EVP_PKCS82PKEY(p8);
	w->decrypted = 1;
	PKCS8_PRIV_KEY_INFO_free(p8);
	return 0;
}

static int
p12_bags(p12_walk *w, const STACK_OF(PKCS12_SAFEBAG) *bags, int depth, int hidden)
{
	for (int i = 0; i < sk_PKCS12_SAFEBAG_num(bags); i++) {
		const PKCS12_SAFEBAG *bag = sk_PKCS12_SAFEBAG_value(bags, i);
		X509 *x;

		switch (PKCS12_SAFEBAG_get_nid(bag)) {
		case NID_pkcs8ShroudedKeyBag:
			if (shrouded_key(w, bag, hidden) != 0)
				return -1;
			break;
		case NID_keyBag:
			w->nkeys += !w->scan;
			if (!w->scan && w->key == NULL && PKCS12_SAFEBAG_get0_p8inf(bag) != NULL)
				w->key = EVP_PKCS82PKEY(PKCS12_SAFEBAG_get0_p8inf(bag));
			break;
		case NID_certBag:
			if (w->scan || PKCS12_SAFEBAG_get_bag_nid(bag) != NID_x509Certificate)
				break;
			if ((x = PKCS12_SAFEBAG_get1_cert(bag)) != NULL && sk_X509_push(w->certs, x) <= 0)
				X509_free(x);
			break;
		case NID_safeContentsBag:
			if (depth < P12_DEPTH_MAX &&
			    p12_bags(w, PKCS12_SAFEBAG_get0_safes(bag), depth + 1, hidden) != 0)
				return -1;
			break;
		default:
			break;
		}
	}
	return 0;
}

/* One encrypted safe: charged in the scan, decrypted in the open. */
static STACK_OF(PKCS12_SAFEBAG) *
encrypted_safe(p12_walk *w, PKCS7 *p7)
{
	STACK_OF(PKCS12_SAFEBAG) *bags;

	if (p7->d.encrypted == NULL || p7->d.encrypted->enc_data == NULL) {
		w->st = PKI_KEY_DAMAGED;
		return NULL;
	}
	if (w->scan) {
		(void)too_costly(w, p7->d.encrypted->enc_data->algorithm);
		return NULL;
	}
	if ((bags = PKCS12_unpack_p7encdata(p7, w->pass, w->passlen)) == NULL)
		w->st = PKI_KEY_BAD_PASS;
	else
		w->decrypted = 1;
	return bags;
}

static int
p12_safes(p12_walk *w, PKCS12 *p12)
{
	STACK_OF(PKCS7) *safes = PKCS12_unpack_authsafes(p12);
	int rc = 0;

	if (safes == NULL) {
		w->st = PKI_KEY_DAMAGED;
		return -1;
	}
	for (int i = 0; rc == 0 && w->st == PKI_KEY_OK && i < sk_PKCS7_num(safes); i++) {
		PKCS7 *p7 = sk_PKCS7_value(safes, i);
		STACK_OF(PKCS12_SAFEBAG) *bags = NULL;
		int hidden = 0;

		switch (OBJ_obj2nid(p7->type)) {
		case NID_pkcs7_data:
			bags = PKCS12_unpack_p7data(p7);
			break;
		case NID_pkcs7_encrypted:
			bags = encrypted_safe(w, p7);
			hidden = 1;
			break;
		default:
			break;
		}
		if (bags != NULL)
			rc = p12_bags(w, bags, 0, hidden);
		sk_PKCS12_SAFEBAG_pop_free(bags, PKCS12_SAFEBAG_free);
	}
	sk_PKCS7_pop_free(safes, PKCS7_free);
	return rc != 0 || w->st != PKI_KEY_OK ? -1 : 0;
}

static int
p12_mac_cost(p12_walk *w, PKCS12 *p12)
{
	const ASN1_INTEGER *iter = NULL;
	cost_ctx mc = w->cost;

	if (!PKCS12_mac_present(p12))
		return 0;
	PKCS12_get0_mac(NULL, NULL, NULL, &iter, p12);
	mc.scheme = "PKCS#12 MAC";
	if (charge(&mc, "iterations", int_value(iter, 1), PKI_KDF_ITER_MAX, mc.iters,
	    w->err) == 0)
		return 0;
	w->st = PKI_KEY_TOO_COSTLY;
	return -1;
}

/* The MAC, as PKCS12_parse: an empty passphrase is tried both ways tools
 * write it (none, and ""). */
static int
p12_mac(p12_walk *w, PKCS12 *p12)
{
	if (!PKCS12_mac_present(p12))
		return 0;
	if (w->pass != NULL && *w->pass != '\0')
		return PKCS12_verify_mac(p12, w->pass, -1) == 1 ? 0 : (w->st = PKI_KEY_BAD_PASS, -1);
	if (PKCS12_verify_mac(p12, NULL, 0) == 1) {
		w->pass = NULL;
		return 0;
	}
	if (PKCS12_verify_mac(p12, "", 0) == 1) {
		w->pass = "";
		return 0;
	}
	w->st = PKI_KEY_BAD_PASS;
	return -1;
}

/* The MAC failed with a passphrase: when that passphrase decrypts what the
 * bundle holds all the same, the passphrase is right and the bundle was
 * altered after it was written (a bundle with nothing encrypted cannot
 * tell). What it opened is dropped. */
static pki_key_status
p12_mac_failure(p12_walk *w, PKCS12 *p12)
{
	if (w->pass == NULL || *w->pass == '\0')
		return PKI_KEY_BAD_PASS;
	w->st = PKI_KEY_OK;
	if (p12_safes(w, p12) == 0 && w->decrypted)
		w->st = PKI_KEY_MAC_BAD;
	else
		w->st = PKI_KEY_BAD_PASS;
	EVP_PKEY_free(w->key);
	w->key = NULL;
	while (sk_X509_num(w->certs) > 0)
		X509_free(sk_X509_pop(w->certs));
	return w->st;
}

static pki_key_status
p12_walk_all(p12_walk *w, PKCS12 *p12)
{
	w->scan = 1;
	if (p12_mac_cost(w, p12) != 0 || p12_safes(w, p12) != 0)
		return w->st != PKI_KEY_OK ? w->st : PKI_KEY_DAMAGED;
	w->scan = 0;
	if (p12_mac(w, p12) != 0)
		return w->st == PKI_KEY_BAD_PASS ? p12_mac_failure(w, p12) : w->st;
	if (p12_safes(w, p12) != 0)
		return w->st != PKI_KEY_OK ? w->st : PKI_KEY_DAMAGED;
	return PKI_KEY_OK;
}

pki_key_status
pki_p12_open(const unsigned char *der, size_t len, const char *pass, const char *what,
    EVP_PKEY **key, X509 **leaf, STACK_OF(X509) **ca, int *nkeys, tg_err *err)
{
	const unsigned char *p = der;
	PKCS12 *p12 = len <= LONG_MAX ? d2i_PKCS12(NULL, &p, (long)len) : NULL;
	uint64_t iters = 0, work = 0;
	p12_walk w = { .pass = pass, .passlen = -1, .cost = { what, "", p12_fix, &iters, &work },
		.err = err, .st = PKI_KEY_OK };
	int at = -1;

	*key = NULL;
	*leaf = NULL;
	*ca = NULL;
	if (nkeys != NULL)
		*nkeys = 0;
	if (p12 == NULL) {
		ERR_clear_error();
		return PKI_KEY_DAMAGED;
	}
	if ((w.certs = sk_X509_new_null()) == NULL)
		w.st = PKI_KEY_DAMAGED;
	else
		w.st = p12_walk_all(&w, p12);
	PKCS12_free(p12);
	ERR_clear_error();
	if (w.st != PKI_KEY_OK) {
		EVP_PKEY_free(w.key);
		sk_X509_pop_free(w.certs, X509_free);
		return w.st;
	}
	/* The leaf is the certificate of the key; the others are its chain. */
	for (int i = 0; w.key != NULL && at < 0 && i < sk_X509_num(w.certs); i++)
		if (pki_key_matches_cert(w.key, sk_X509_value(w.certs, i)))
			at = i;
	if (at >= 0)
		*leaf = sk_X509_delete(w.certs, at);
	*key = w.key; /* ownership to the caller */
	*ca = w.certs;
	if (nkeys != NULL)
		*nkeys = w.nkeys;
	return PKI_KEY_OK;
}
