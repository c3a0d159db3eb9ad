/* JWKs (RFC 7517, 7518 6) to public keys and back, and their RFC 7638
 * thumbprints. A JWK comes from a client: every member is checked for type
 * and exact length before OpenSSL sees it, private members are refused, and
 * the key OpenSSL builds is checked again (point on the curve, RSA size). */
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/sha.h>

#include "acme/acme_int.h"

static const struct {
	const char *alg;
	acme_keykind kind;
} algs[] = {
	{ "ES256", ACME_KEY_P256 },
	{ "ES384", ACME_KEY_P384 },
	{ "RS256", ACME_KEY_RSA },
	{ "EdDSA", ACME_KEY_ED25519 },
};

/* The EC curves: JWK crv, OpenSSL's group name, coordinate length. */
static const struct {
	const char *crv;
	const char *group;
	size_t len;
	acme_keykind kind;
} curves[] = {
	{ "P-256", "prime256v1", 32, ACME_KEY_P256 },
	{ "P-384", "secp384r1", 48, ACME_KEY_P384 },
};

/* Members that only a private (or symmetric) key has, RFC 7518 6.2.2, 6.3.2, 6.4. */
static const char *const private_members[] = { "d", "p", "q", "dp", "dq", "qi", "oth", "k" };

acme_keykind
acme_alg_kind(const char *alg)
{
	size_t i;

	for (i = 0; alg != NULL && i < sizeof(algs) / sizeof(algs[0]); i++)
		if (strcmp(alg, algs[i].alg) == 0)
			return algs[i].kind;
	return ACME_KEY_NONE;
}

const char *
acme_key_kind_name(acme_keykind kind)
{
	static const char *const names[] = { "unsupported", "P-256", "P-384", "RSA", "Ed25519" };

	return (size_t)kind < sizeof(names) / sizeof(names[0]) ? names[kind] : names[0];
}

acme_keykind
acme_key_kind(EVP_PKEY *key)
{
	char group[64];
	size_t i;

	if (key == NULL)
		return ACME_KEY_NONE;
	switch (EVP_PKEY_get_base_id(key)) {
	case EVP_PKEY_RSA:
		return ACME_KEY_RSA;
	case EVP_PKEY_ED25519:
		return ACME_KEY_ED25519;
	case EVP_PKEY_EC:
		if (EVP_PKEY_get_group_name(key, group, sizeof(group), NULL) != 1)
			return ACME_KEY_NONE;
		for (i = 0; i < sizeof(curves) / sizeof(curves[0]); i++)
			if (strcmp(group, curves[i].group) == 0)
				return curves[i].kind;
		return ACME_KEY_NONE;
	default:
		return ACME_KEY_NONE;
	}
}

int
acme_alg_fits_key(const char *alg, EVP_PKEY *key)
{
	acme_keykind k = acme_alg_kind(alg);

	return k != ACME_KEY_NONE && k == acme_key_kind(key);
}

/* A base64url member of the JWK, decoded; its length between min and max
 * bytes. */
static int
member(const json_t *jwk, const char *name, size_t min, size_t max, unsigned char **out,
    size_t *outlen, acme_problem *p)
{
	const json_t *v = json_object_get(jwk, name);

	*out = NULL;
	if (!json_is_string(v))
		return acme_problem_set(p, ACME_P_BAD_PUBLIC_KEY,
		    "jwk: member \"%s\" is %s; it must be a base64url string", name,
		    v == NULL ? "missing" : "not a string");
	if (acme_b64u_decode(json_string_value(v), json_string_length(v), out, outlen) != 0)
		return acme_problem_set(p, ACME_P_BAD_PUBLIC_KEY,
		    "jwk: member \"%s\" is not unpadded base64url (RFC 7515 2)", name);
	if (*outlen < min || *outlen > max) {
		if (min == max)
			acme_problem_set(p, ACME_P_BAD_PUBLIC_KEY,
			    "jwk: member \"%s\" holds %zu bytes; it must hold exactly %zu", name, *outlen,
			    min);
		else
			acme_problem_set(p, ACME_P_BAD_PUBLIC_KEY,
			    "jwk: member \"%s\" holds %zu bytes; it must hold %zu to %zu", name, *outlen,
			    min, max);
		free(*out);
		*out = NULL;
		return -1;
	}
	return 0;
}

/* OpenSSL builds the key from the parameters, then (check) checks it as a
 * public key (on the curve and not the point at infinity; RSA n odd, e odd,
 * n composite by Miller-Rabin with random bases). */
static EVP_PKEY *
from_params(const char *type, OSSL_PARAM *params, const char *why, int check_key,
    acme_problem *p)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL), *check = NULL;
	EVP_PKEY *key = NULL;

	if (ctx == NULL || EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params) != 1) {
		acme_problem_set(p, ACME_P_BAD_PUBLIC_KEY, "jwk: not a usable %s key: %s", type, why);
		goto out;
	}
	if (!check_key)
		goto out;
	check = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL);
	if (check == NULL || EVP_PKEY_public_check(check) != 1) {
		acme_problem_set(p, ACME_P_BAD_PUBLIC_KEY, "jwk: not a usable %s key: %s", type, why);
		EVP_PKEY_free(key);
		key = NULL;
	}
out:
	ERR_clear_error();
	EVP_PKEY_CTX_free(check);
	EVP_PKEY_CTX_free(ctx);
	return key;
}

static EVP_PKEY *
ec_key(const json_t *jwk, int check, acme_problem *p)
{
	const char *crv = json_string_value(json_object_get(jwk, "crv"));
	unsigned char *x = NULL, *y = NULL, pt[1 + 2 * 48];
	size_t i, xl, yl;
	EVP_PKEY *key = NULL;
	OSSL_PARAM params[3];

	for (i = 0; crv != NULL && i < sizeof(curves) / sizeof(curves[0]); i++)
		if (strcmp(crv, curves[i].crv) == 0)
			break;
	if (crv == NULL || i == sizeof(curves) / sizeof(curves[0])) {
		acme_problem_set(p, ACME_P_BAD_PUBLIC_KEY,
		    "jwk: EC key with crv %s; use P-256 (ES256) or P-384 (ES384)",
		    crv == NULL ? "missing or not a string" : "other than P-256 or P-384");
		return NULL;
	}
	if (member(jwk, "x", curves[i].len, curves[i].len, &x, &xl, p) != 0 ||
	    member(jwk, "y", curves[i].len, curves[i].len, &y, &yl, p) != 0)
		goto out;
	pt[0] = 0x04; /* uncompressed point, SEC 1 2.3.3 */
	memcpy(pt + 1, x, xl);
	memcpy(pt + 1 + xl, y, yl);
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME,
	    (char *)curves[i].group, 0);
	params[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, pt, 1 + xl + yl);
	params[2] = OSSL_PARAM_construct_end();
	key = from_params("EC", params, "the point (x, y) is not on the curve", check, p);
out:
	free(x);
	free(y);
	return key;
}

static EVP_PKEY *
rsa_key(const json_t *jwk, int check, acme_problem *p)
{
	unsigned char *n = NULL, *e = NULL;
	size_t nl, el;
	BIGNUM *bn = NULL, *be = NULL;
	OSSL_PARAM_BLD *bld = NULL;
	OSSL_PARAM *params = NULL;
	EVP_PKEY *key = NULL;
	int bits;

	/* Twice the largest size: a longer n is refused unread, a shorter one
	 * below by its bit count, which the message gives. */
	if (member(jwk, "n", 1, 2 * ACME_RSA_MAX_BITS / 8, &n, &nl, p) != 0)
		goto out;
	if (member(jwk, "e", 1, 8, &e, &el, p) != 0)
		goto out;
	/* RFC 7518 6.3.1.1: the shortest encoding, no leading zero byte. */
	if (n[0] == 0 || e[0] == 0) {
		acme_problem_set(p, ACME_P_BAD_PUBLIC_KEY,
		    "jwk: RSA %s has a leading zero byte; RFC 7518 6.3.1 wants the shortest encoding",
		    n[0] == 0 ? "n" : "e");
		goto out;
	}
	/* OpenSSL's public key check (SP 800-56B) wants 65537 or more: said
	 * here, with the fix. */
	if ((e[el - 1] & 1) == 0 || el < 3) {
		acme_problem_set(p, ACME_P_BAD_PUBLIC_KEY,
		    "jwk: RSA exponent e must be odd and at least 65537; make a key with e = 65537");
		goto out;
	}
	bn = BN_bin2bn(n, (int)nl, NULL);
	be = BN_bin2bn(e, (int)el, NULL);
	bits = bn == NULL ? 0 : BN_num_bits(bn);
	if (bn != NULL && (bits < ACME_RSA_MIN_BITS || bits > ACME_RSA_MAX_BITS)) {
		acme_problem_set(p, ACME_P_BAD_PUBLIC_KEY,
		    "jwk: RSA modulus of %d bits; use a key of %d to %d bits", bits, ACME_RSA_MIN_BITS,
		    ACME_RSA_MAX_BITS);
		goto out;
	}
	if (be == NULL || (bld = OSSL_PARAM_BLD_new()) == NULL ||
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn) != 1 ||
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be) != 1 ||
	    (params = OSSL_PARAM_BLD_to_param(bld)) == NULL) {
		ERR_clear_error();
		acme_problem_set(p, ACME_P_SERVER_INTERNAL, "jwk: out of memory building an RSA key");
		goto out;
	}
	key = from_params("RSA", params, "n and e fail OpenSSL's public key check", check, p);
out:
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	BN_free(bn);
	BN_free(be);
	free(n);
	free(e);
	return key;
}

static EVP_PKEY *
okp_key(const json_t *jwk, int check, acme_problem *p)
{
	const char *crv = json_string_value(json_object_get(jwk, "crv"));
	unsigned char *x = NULL;
	size_t xl;
	EVP_PKEY *key = NULL;

	if (crv == NULL || strcmp(crv, "Ed25519") != 0) {
		acme_problem_set(p, ACME_P_BAD_PUBLIC_KEY,
		    "jwk: OKP key with a crv other than Ed25519; use Ed25519 (EdDSA)");
		return NULL;
	}
	if (member(jwk, "x", 32, 32, &x, &xl, p) != 0)
		return NULL;
	key = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, x, xl);
	if (key == NULL) {
		ERR_clear_error();
		acme_problem_set(p, ACME_P_BAD_PUBLIC_KEY, "jwk: the Ed25519 key is not usable");
	}
	free(x);
	return key;
}

static const struct {
	const char *kty;
	EVP_PKEY *(*build)(const json_t *, int check, acme_problem *);
} ktys[] = {
	{ "EC", ec_key },
	{ "RSA", rsa_key },
	{ "OKP", okp_key },
};

static EVP_PKEY *
jwk_to_key(const json_t *jwk, int check, acme_problem *p)
{
	const char *kty;
	size_t i;

	if (!json_is_object(jwk)) {
		acme_problem_set(p, ACME_P_BAD_PUBLIC_KEY, "jwk is not a JSON object");
		return NULL;
	}
	for (i = 0; i < sizeof(private_members) / sizeof(private_members[0]); i++)
		if (json_object_get(jwk, private_members[i]) != NULL) {
			acme_problem_set(p, ACME_P_BAD_PUBLIC_KEY,
			    "jwk holds the private member \"%s\": send the public key only (and make "
			    "a new account key: this one has been disclosed)",
			    private_members[i]);
			return NULL;
		}
	kty = json_string_value(json_object_get(jwk, "kty"));
	for (i = 0; kty != NULL && i < sizeof(ktys) / sizeof(ktys[0]); i++)
		if (strcmp(kty, ktys[i].kty) == 0)
			return ktys[i].build(jwk, check, p);
	acme_problem_set(p, ACME_P_BAD_PUBLIC_KEY,
	    "jwk: kty %s; use EC (P-256, P-384), RSA or OKP (Ed25519)",
	    kty == NULL ? "missing or not a string" : "not supported");
	return NULL;
}

EVP_PKEY *
acme_jwk_to_key(const json_t *jwk, acme_problem *p)
{
	return jwk_to_key(jwk, 1, p);
}

EVP_PKEY *
acme_jwk_to_stored_key(const json_t *jwk, acme_problem *p)
{
	return jwk_to_key(jwk, 0, p);
}

/* A big number member, in the shortest big-endian form (RFC 7518 6.3.1.1),
 * or left-padded to pad bytes (EC coordinates, 6.2.1.2). */
static int
set_bn(json_t *o, const char *name, EVP_PKEY *key, const char *param, int pad)
{
	BIGNUM *bn = NULL;
	unsigned char buf[ACME_RSA_MAX_BITS / 8];
	char *s = NULL;
	int n, rc = -1;

	if (EVP_PKEY_get_bn_param(key, param, &bn) != 1)
		goto out;
	n = pad > 0 ? BN_bn2binpad(bn, buf, pad) : BN_num_bytes(bn);
	if (n <= 0 || (size_t)n > sizeof(buf))
		goto out;
	if (pad == 0)
		BN_bn2bin(bn, buf);
	if ((s = acme_b64u_encode(buf, (size_t)n)) == NULL)
		goto out;
	rc = json_object_set_new(o, name, json_string(s));
out:
	ERR_clear_error();
	free(s);
	BN_free(bn);
	return rc;
}

json_t *
acme_jwk_from_key(EVP_PKEY *key)
{
	json_t *o = json_object();
	unsigned char raw[32];
	size_t rawlen = sizeof(raw), i;
	char *s = NULL;
	acme_keykind kind = acme_key_kind(key);
	int rc = -1;

	if (o == NULL)
		return NULL;
	switch (kind) {
	case ACME_KEY_P256:
	case ACME_KEY_P384:
		for (i = 0; curves[i].kind != kind; i++)
			;
		rc = json_object_set_new(o, "kty", json_string("EC")) |
		     json_object_set_new(o, "crv", json_string(curves[i].crv)) |
		     set_bn(o, "x", key, OSSL_PKEY_PARAM_EC_PUB_X, (int)curves[i].len) |
		     set_bn(o, "y", key, OSSL_PKEY_PARAM_EC_PUB_Y, (int)curves[i].len);
		break;
	case ACME_KEY_RSA:
		rc = json_object_set_new(o, "kty", json_string("RSA")) |
		     set_bn(o, "n", key, OSSL_PKEY_PARAM_RSA_N, 0) |
		     set_bn(o, "e", key, OSSL_PKEY_PARAM_RSA_E, 0);
		break;
	case ACME_KEY_ED25519:
		if (EVP_PKEY_get_raw_public_key(key, raw, &rawlen) != 1 || rawlen != 32 ||
		    (s = acme_b64u_encode(raw, rawlen)) == NULL)
			break;
		rc = json_object_set_new(o, "kty", json_string("OKP")) |
		     json_object_set_new(o, "crv", json_string("Ed25519")) |
		     json_object_set_new(o, "x", json_string(s));
		break;
	default:
		break;
	}
	ERR_clear_error();
	free(s);
	if (rc != 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

int
acme_jwk_thumbprint(EVP_PKEY *key, char out[44])
{
	json_t *jwk = acme_jwk_from_key(key);
	unsigned char md[SHA256_DIGEST_LENGTH];
	char *text = NULL, *b64 = NULL;
	int rc = -1;

	out[0] = '\0';
	/* RFC 7638 3: the required members in lexicographic order, no
	 * whitespace; the members' values hold no characters JSON escapes. */
	if (jwk == NULL || (text = json_dumps(jwk, JSON_COMPACT | JSON_SORT_KEYS)) == NULL)
		goto out;
	SHA256((const unsigned char *)text, strlen(text), md);
	if ((b64 = acme_b64u_encode(md, sizeof(md))) == NULL)
		goto out;
	memcpy(out, b64, 44);
	rc = 0;
out:
	free(b64);
	free(text);
	json_decref(jwk);
	return rc;
}
