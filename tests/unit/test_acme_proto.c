/* The ACME protocol pieces: base64url, JWKs and thumbprints, JWS requests
 * signed at test time with OpenSSL for every alg, the refusals, nonces,
 * problem documents, external account binding and key rollover. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "acme/acme_proto.h"

enum { K_P256, K_P384, K_RSA, K_ED, K_P256B, K_RSA1024, K_N };
static EVP_PKEY *keys[K_N];
static const char *const key_alg[K_N] = { "ES256", "ES384", "RS256", "EdDSA", "ES256", "RS256" };

#define URL "https://ca.example/acme/new-order"
#define KID "https://ca.example/acme/acct/1"

static int
setup(void **state)
{
	keys[K_P256] = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	keys[K_P384] = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
	keys[K_RSA] = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	keys[K_ED] = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	keys[K_P256B] = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	keys[K_RSA1024] = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
	for (int i = 0; i < K_N; i++)
		if (keys[i] == NULL)
			return -1;
	return 0;
}

static int
teardown(void **state)
{
	for (int i = 0; i < K_N; i++)
		EVP_PKEY_free(keys[i]);
	return 0;
}

static char *
b64s(const char *s)
{
	return acme_b64u_encode((const unsigned char *)s, strlen(s));
}

static char *
jwk_text(EVP_PKEY *k)
{
	json_t *j = acme_jwk_from_key(k);
	char *s;

	assert_non_null(j);
	s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(j);
	return s;
}

/* The protected header most tests use: alg, nonce, url, and jwk or kid. */
static char *
header(const char *alg, EVP_PKEY *jwk, const char *kid, const char *extra)
{
	char *jt = jwk != NULL ? jwk_text(jwk) : NULL, *out = malloc(8192);

	snprintf(out, 8192, "{\"alg\":\"%s\",\"nonce\":\"bm9uY2U\",\"url\":\"" URL "\"%s%s%s%s%s%s}",
	    alg, jt != NULL ? ",\"jwk\":" : "", jt != NULL ? jt : "", kid != NULL ? ",\"kid\":\"" : "",
	    kid != NULL ? kid : "", kid != NULL ? "\"" : "", extra != NULL ? extra : "");
	free(jt);
	return out;
}

enum { F_DER = 1, F_TRUNC = 2, F_HMAC = 4 };

/* A signature as a JWS carries it: ES* as r||s unless F_DER. F_HMAC:
 * HMAC-SHA256 with mac_key. */
static unsigned char *
sign(EVP_PKEY *key, const char *msg, size_t *len, int flags, const unsigned char *mac_key,
    size_t mac_len)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char *sig = malloc(2048), *der;
	const char *md = NULL;
	int id = EVP_PKEY_get_base_id(key);
	unsigned int ml;

	if (flags & F_HMAC) {
		HMAC(EVP_sha256(), mac_key, (int)mac_len, (const unsigned char *)msg, strlen(msg), sig, &ml);
		*len = ml - ((flags & F_TRUNC) != 0);
		EVP_MD_CTX_free(ctx);
		return sig;
	}
	if (id == EVP_PKEY_EC)
		md = EVP_PKEY_get_bits(key) == 384 ? "SHA384" : "SHA256";
	else if (id == EVP_PKEY_RSA)
		md = "SHA256";
	*len = 2048;
	assert_int_equal(EVP_DigestSignInit_ex(ctx, NULL, md, NULL, NULL, key, NULL), 1);
	assert_int_equal(EVP_DigestSign(ctx, sig, len, (const unsigned char *)msg, strlen(msg)), 1);
	EVP_MD_CTX_free(ctx);
	if (id == EVP_PKEY_EC && !(flags & F_DER)) {
		const unsigned char *p = sig;
		ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)*len);
		int half = EVP_PKEY_get_bits(key) / 8;
		der = malloc(2 * half);
		BN_bn2binpad(ECDSA_SIG_get0_r(es), der, half);
		BN_bn2binpad(ECDSA_SIG_get0_s(es), der + half, half);
		ECDSA_SIG_free(es);
		free(sig);
		sig = der;
		*len = 2 * half;
	}
	if (flags & F_TRUNC)
		(*len)--;
	return sig;
}

/* {"protected":..., "payload":..., "signature":...} as a JSON text. */
static char *
jws_mac(EVP_PKEY *key, const char *prot, const char *payload, int flags, const unsigned char *mk,
    size_t mklen)
{
	char *pb = b64s(prot), *yb = b64s(payload), *input, *sb, *out;
	unsigned char *sig;
	size_t slen;

	input = malloc(strlen(pb) + strlen(yb) + 2);
	sprintf(input, "%s.%s", pb, yb);
	sig = sign(key, input, &slen, flags, mk, mklen);
	sb = acme_b64u_encode(sig, slen);
	out = malloc(strlen(input) + strlen(sb) + 64);
	sprintf(out, "{\"protected\":\"%s\",\"payload\":\"%s\",\"signature\":\"%s\"}", pb, yb, sb);
	free(pb);
	free(yb);
	free(input);
	free(sig);
	free(sb);
	return out;
}

static char *
jws(EVP_PKEY *key, const char *prot, const char *payload, int flags)
{
	return jws_mac(key, prot, payload, flags, NULL, 0);
}

static void
assert_problem(const acme_problem *p, acme_ptype type, const char *needle)
{
	if (p->type != type || strstr(p->detail, needle) == NULL)
		fail_msg("problem %s \"%s\"; wanted %s with \"%s\"", acme_problem_urn(p->type),
		    p->detail, acme_problem_urn(type), needle);
}

static void
assert_cleared(const acme_jws *j)
{
	assert_null(j->jwk);
	assert_null(j->payload);
	assert_null(j->signing_input);
	assert_null(j->sig);
	assert_string_equal(j->url, "");
}

/* ---- base64url ---- */

static void
test_b64u(void **state)
{
	static const struct {
		const char *in;
		const char *out; /* NULL: refused */
	} cases[] = {
		{ "", "" },
		{ "QQ", "A" },
		{ "QUI", "AB" },
		{ "QUJD", "ABC" },
		{ "_-8", "\xff\xef" },
		{ "QR", NULL },     /* trailing bits not zero */
		{ "QUJ", NULL },    /* trailing bits not zero */
		{ "QQ==", NULL },   /* padding */
		{ "Q", NULL },      /* one character left over */
		{ "QU I", NULL },   /* whitespace */
		{ "+/8", NULL },    /* standard base64 alphabet */
		{ "QUJD\n", NULL },
	};
	unsigned char *out, all[256];
	size_t len, i;
	char *enc;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = acme_b64u_decode(cases[i].in, strlen(cases[i].in), &out, &len);
		if (cases[i].out == NULL) {
			assert_int_equal(rc, -1);
			assert_null(out);
			continue;
		}
		assert_int_equal(rc, 0);
		assert_int_equal(len, strlen(cases[i].out));
		assert_memory_equal(out, cases[i].out, len);
		free(out);
	}
	/* Every length and byte value survives the round trip. */
	for (i = 0; i < sizeof(all); i++)
		all[i] = (unsigned char)(255 - i);
	for (i = 0; i <= sizeof(all); i++) {
		enc = acme_b64u_encode(all, i);
		assert_int_equal(strlen(enc), (i * 4 + 2) / 3);
		assert_int_equal(acme_b64u_decode(enc, strlen(enc), &out, &len), 0);
		assert_int_equal(len, i);
		assert_memory_equal(out, all, i);
		free(out);
		free(enc);
	}
}

/* ---- JWKs ---- */

#define RFC7638_N                                                                              \
	"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_" \
	"BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_" \
	"FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-"        \
	"bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"

static void
test_thumbprint_rfc7638(void **state)
{
	/* RFC 7638 3.1's key, with the optional members it shows (alg, kid),
	 * which the thumbprint leaves out. */
	json_t *jwk = json_pack("{s:s, s:s, s:s, s:s, s:s}", "kty", "RSA", "n", RFC7638_N, "e",
	    "AQAB", "alg", "RS256", "kid", "2011-04-29");
	acme_problem p = { 0 };
	EVP_PKEY *k = acme_jwk_to_key(jwk, &p);
	json_t *back;
	char tp[44];

	assert_non_null(k);
	assert_int_equal(acme_jwk_thumbprint(k, tp), 0);
	assert_string_equal(tp, "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
	back = acme_jwk_from_key(k);
	assert_string_equal(json_string_value(json_object_get(back, "n")), RFC7638_N);
	assert_string_equal(json_string_value(json_object_get(back, "e")), "AQAB");
	assert_int_equal(json_object_size(back), 3);
	assert_true(acme_alg_fits_key("RS256", k));
	assert_false(acme_alg_fits_key("ES256", k));
	json_decref(back);
	json_decref(jwk);
	EVP_PKEY_free(k);
}

/* Every key type goes to a JWK and back to the same key, and its
 * thumbprint is the SHA-256 of the sorted, compact required members. */
static void
test_jwk_round_trip(void **state)
{
	static const char *const members[K_RSA1024] [5] = {
		{ "crv", "kty", "x", "y", NULL },
		{ "crv", "kty", "x", "y", NULL },
		{ "e", "kty", "n", NULL },
		{ "crv", "kty", "x", NULL },
		{ "crv", "kty", "x", "y", NULL },
	};
	acme_problem p = { 0 };

	for (int i = 0; i < K_RSA1024; i++) {
		json_t *j = acme_jwk_from_key(keys[i]);
		EVP_PKEY *k = acme_jwk_to_key(j, &p);
		char tp[44], tp2[44];
		size_t n = 0;
		assert_non_null(k);
		assert_int_equal(EVP_PKEY_eq(k, keys[i]), 1);
		for (n = 0; members[i][n] != NULL; n++)
			assert_non_null(json_object_get(j, members[i][n]));
		assert_int_equal(json_object_size(j), n);
		assert_true(acme_alg_fits_key(key_alg[i], k));
		assert_int_equal(acme_jwk_thumbprint(k, tp), 0);
		assert_int_equal(acme_jwk_thumbprint(keys[i], tp2), 0);
		assert_string_equal(tp, tp2);
		assert_int_equal(strlen(tp), 43);
		json_decref(j);
		EVP_PKEY_free(k);
	}
}

static json_t *
jwk_with(EVP_PKEY *k, const char *member, const char *value)
{
	json_t *j = acme_jwk_from_key(k);

	if (value == NULL)
		json_object_del(j, member);
	else
		json_object_set_new(j, member, json_string(value));
	return j;
}

/* y with its last bit flipped: (x, y') is not on the curve. */
static json_t *
jwk_off_curve(void)
{
	json_t *j = acme_jwk_from_key(keys[K_P256]);
	unsigned char *y;
	size_t len;
	char *b;

	acme_b64u_decode(json_string_value(json_object_get(j, "y")), 43, &y, &len);
	y[len - 1] ^= 1;
	b = acme_b64u_encode(y, len);
	json_object_set_new(j, "y", json_string(b));
	free(b);
	free(y);
	return j;
}

static void
test_jwk_refusals(void **state)
{
	struct {
		json_t *jwk;
		const char *why;
	} cases[] = {
		{ acme_jwk_from_key(keys[K_RSA1024]), "RSA modulus of 1024 bits" },
		{ jwk_with(keys[K_P256], "d", "AAAA"), "private member \"d\"" },
		{ jwk_with(keys[K_RSA], "p", "AAAA"), "private member \"p\"" },
		{ jwk_off_curve(), "not on the curve" },
		{ jwk_with(keys[K_P256], "crv", "P-521"), "crv other than P-256" },
		{ jwk_with(keys[K_P256], "crv", "P-384"), "must hold exactly 48" },
		{ jwk_with(keys[K_P256], "y", NULL), "\"y\" is missing" },
		{ jwk_with(keys[K_P256], "x", "AAAA="), "not unpadded base64url" },
		{ jwk_with(keys[K_ED], "crv", "X25519"), "crv other than Ed25519" },
		{ jwk_with(keys[K_RSA], "kty", "oct"), "kty not supported" },
		{ jwk_with(keys[K_RSA], "kty", NULL), "kty missing" },
		{ jwk_with(keys[K_RSA], "e", "AAEAAQ"), "leading zero" },
		{ jwk_with(keys[K_RSA], "e", "AQAA"), "must be odd" },
		{ jwk_with(keys[K_RSA], "e", "Aw"), "at least 65537" },    /* 3 */
		{ jwk_with(keys[K_RSA], "e", "__8"), "at least 65537" },   /* 65535 */
		{ json_string("{}"), "not a JSON object" },
	};
	acme_problem p;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(&p, 0, sizeof(p));
		assert_null(acme_jwk_to_key(cases[i].jwk, &p));
		assert_problem(&p, ACME_P_BAD_PUBLIC_KEY, cases[i].why);
		/* A stored key is held to the same form (a damaged row). */
		memset(&p, 0, sizeof(p));
		assert_null(acme_jwk_to_stored_key(cases[i].jwk, &p));
		assert_problem(&p, ACME_P_BAD_PUBLIC_KEY, cases[i].why);
		json_decref(cases[i].jwk);
	}
}

/* tests/fuzz/corpus/fuzz_acme_jws/rsa-n-factor-found-by-random-base's key:
 * a made-up 2048-bit n with the factor 5147, above the small primes
 * OpenSSL's RSA public key check divides by. Its Miller-Rabin step draws
 * random bases and refuses n when a base reveals that factor (about one
 * base in 80 here): the same key passes or fails by chance. */
#define RANDOM_CHECK_N                                                                      \
	"5c130q2WnmKIY1vJDkx2IPO5z9LiZ8tr7T6PsSf322Xxn7phjzSpIY6MSlli_rXAaJkcJ3E03himvscOYLap" \
	"g8fwLDnqt9NjaiFcQFYOQ7_9yoVWe5zGJmjkN3AmIFZDvqf_QJmBe9k0MGHz_O-XOP-SJSmslbKmh_w_uaEm" \
	"FbYoCzewavmlvPmnzAEC4HmUzVGt1ALneLHgHqQJdSdltGF8t0OdEGuA31z0BcijFyrSqJHTZYVqnvsfM-BB" \
	"EmJrXxOPxAmIi0DkwtcOCPRA5ps2Z7S1lMDp60cQPLAW7fauUtcg59aFIqER0pNRmIRywxFy9zQ4vLYc05XQ" \
	"Qj8qFw"

/* A stored account key decodes the same way every time: the key accepted
 * at newAccount is not refused on a later request by a random draw. The
 * client's key (acme_jwk_to_key) keeps the check, which this key fails
 * now and then. */
static void
test_stored_key_deterministic(void **state)
{
	json_t *jwk = json_pack("{s:s, s:s, s:s}", "kty", "RSA", "n", RANDOM_CHECK_N, "e", "AQAB");
	EVP_PKEY *first = NULL;
	int refused = 0;

	for (int i = 0; i < 2000; i++) {
		acme_problem p = { 0 };
		EVP_PKEY *k = acme_jwk_to_stored_key(jwk, &p);
		if (k == NULL)
			fail_msg("try %d: the stored key was refused: %s", i, p.detail);
		if (first == NULL) {
			first = k;
			continue;
		}
		assert_int_equal(EVP_PKEY_eq(k, first), 1);
		EVP_PKEY_free(k);
	}
	for (int i = 0; i < 2000 && !refused; i++) {
		acme_problem p = { 0 };
		EVP_PKEY *k = acme_jwk_to_key(jwk, &p);
		if (k == NULL) {
			assert_problem(&p, ACME_P_BAD_PUBLIC_KEY, "public key check");
			refused = 1;
		}
		EVP_PKEY_free(k);
	}
	assert_true(refused);
	EVP_PKEY_free(first);
	json_decref(jwk);
}

/* ---- JWS ---- */

static void
test_jws_each_alg(void **state)
{
	for (int i = 0; i < K_RSA1024; i++) {
		char *h = header(key_alg[i], keys[i], NULL, NULL), *body;
		acme_problem p = { 0 };
		acme_jws j;

		body = jws(keys[i], h, "{\"termsOfServiceAgreed\":true}", 0);
		assert_int_equal(acme_jws_parse(body, strlen(body), &j, &p), 0);
		assert_string_equal(j.alg, key_alg[i]);
		assert_string_equal(j.url, URL);
		assert_string_equal(j.nonce, "bm9uY2U");
		assert_string_equal(j.kid, "");
		assert_int_equal(EVP_PKEY_eq(j.jwk, keys[i]), 1);
		assert_true(json_is_true(json_object_get(j.payload, "termsOfServiceAgreed")));
		assert_int_equal(j.post_as_get, 0);
		assert_int_equal(acme_jws_verify(&j, j.jwk, &p), 0);
		/* Another key of the same type: the signature does not verify. */
		if (i == K_P256) {
			assert_int_equal(acme_jws_verify(&j, keys[K_P256B], &p), -1);
			assert_problem(&p, ACME_P_MALFORMED, "does not verify");
		}
		/* A key of another type: the alg does not fit it. */
		assert_int_equal(acme_jws_verify(&j, keys[(i + 1) % 4], &p), -1);
		assert_problem(&p, ACME_P_BAD_SIG_ALG, "does not fit");
		acme_jws_clear(&j);
		free(body);
		free(h);

		/* The kid form, POST-as-GET. */
		h = header(key_alg[i], NULL, KID, NULL);
		body = jws(keys[i], h, "", 0);
		assert_int_equal(acme_jws_parse(body, strlen(body), &j, &p), 0);
		assert_string_equal(j.kid, KID);
		assert_null(j.jwk);
		assert_null(j.payload);
		assert_int_equal(j.post_as_get, 1);
		assert_int_equal(acme_jws_verify(&j, keys[i], &p), 0);
		/* A flipped bit in the signature. */
		j.sig[j.sig_len / 2] ^= 0x10;
		assert_int_equal(acme_jws_verify(&j, keys[i], &p), -1);
		assert_problem(&p, ACME_P_MALFORMED, "does not verify");
		acme_jws_clear(&j);
		acme_jws_clear(&j); /* twice is harmless */
		free(body);
		free(h);
	}
}

/* A body with one thing wrong: the refusal, its type, its reason, and an
 * output left cleared. */
static void
refuse(char *body, acme_ptype type, const char *why)
{
	acme_problem p = { 0 };
	acme_jws j;

	memset(&j, 0x5a, sizeof(j));
	if (acme_jws_parse(body, strlen(body), &j, &p) == 0) {
		/* Form is fine: the signature must be what fails. */
		int rc = acme_jws_verify(&j, j.jwk != NULL ? j.jwk : keys[K_P256], &p);
		acme_jws_clear(&j);
		if (rc == 0)
			fail_msg("accepted: %s", body);
	} else {
		assert_cleared(&j);
	}
	assert_problem(&p, type, why);
	free(body);
}

static char *
replace(char *s, const char *from, const char *to)
{
	char *at = strstr(s, from), *out;

	assert_non_null(at);
	out = malloc(strlen(s) + strlen(to) + 1);
	sprintf(out, "%.*s%s%s", (int)(at - s), s, to, at + strlen(from));
	free(s);
	return out;
}

static void
test_jws_refusals(void **state)
{
	EVP_PKEY *ec = keys[K_P256];
	char *h = header("ES256", ec, NULL, NULL), *t, big[ACME_BODY_MAX + 2];

	/* Form of the body. */
	refuse(strdup("not json"), ACME_P_MALFORMED, "not JSON");
	refuse(strdup("{\"protected\":\"e30\"} x"), ACME_P_MALFORMED, "not JSON");
	refuse(strdup("[]"), ACME_P_MALFORMED, "not a JSON object");
	refuse(replace(jws(ec, h, "{}", 0), "{\"protected\"",
	           "{\"protected\":\"e30\",\"protected\""),
	    ACME_P_MALFORMED, "duplicate");
	refuse(replace(jws(ec, h, "{}", 0), "{\"protected\"", "{\"header\":{},\"protected\""),
	    ACME_P_MALFORMED, "unprotected header");
	refuse(replace(jws(ec, h, "{}", 0), "\"signature\"", "\"sig\""), ACME_P_MALFORMED,
	    "\"signature\" is missing");
	refuse(replace(jws(ec, h, "{}", 0), "\"payload\":\"e30\"", "\"payload\":{}"),
	    ACME_P_MALFORMED, "\"payload\" is not a string");
	memset(big, ' ', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	refuse(strdup(big), ACME_P_TOO_LARGE, "at most 65536");
	/* base64url. */
	t = jws(ec, h, "{}", 0);
	refuse(replace(t, "\",\"payload\"", "=\",\"payload\""), ACME_P_MALFORMED,
	    "protected header is not unpadded base64url");
	refuse(replace(jws(ec, h, "{}", 0), "\"payload\":\"e30\"", "\"payload\":\"e3$\""),
	    ACME_P_MALFORMED, "payload is not unpadded base64url");
	refuse(replace(jws(ec, h, "{}", 0), "\"signature\":\"", "\"signature\":\" "),
	    ACME_P_MALFORMED, "signature is not unpadded base64url");
	/* The protected header. */
	refuse(jws(ec, "{\"alg\":\"ES256\",\"alg\":\"ES256\",\"nonce\":\"a\",\"url\":\"u\",\"kid\":\"k\"}",
	           "{}", 0),
	    ACME_P_MALFORMED, "duplicate");
	refuse(jws(ec, "{\"nonce\":\"bm9uY2U\",\"url\":\"u\",\"kid\":\"k\"}", "{}", 0),
	    ACME_P_MALFORMED, "no \"alg\"");
	refuse(jws(ec, "[1]", "{}", 0), ACME_P_MALFORMED, "protected header is not a JSON object");
	refuse(jws(ec, "{\"alg\":\"ES256\",\"url\":\"u\",\"kid\":\"k\"}", "{}", 0), ACME_P_BAD_NONCE,
	    "no usable \"nonce\"");
	refuse(jws(ec, "{\"alg\":\"ES256\",\"nonce\":\"a+b\",\"url\":\"u\",\"kid\":\"k\"}", "{}", 0),
	    ACME_P_BAD_NONCE, "not base64url");
	refuse(jws(ec, "{\"alg\":\"ES256\",\"nonce\":\"a\",\"kid\":\"k\"}", "{}", 0),
	    ACME_P_MALFORMED, "no \"url\"");
	refuse(jws(ec, "{\"alg\":\"ES256\",\"nonce\":\"a\",\"url\":7,\"kid\":\"k\"}", "{}", 0),
	    ACME_P_MALFORMED, "\"url\" is not a string");
	t = header("ES256", ec, KID, NULL);
	refuse(jws(ec, t, "{}", 0), ACME_P_MALFORMED, "both of \"jwk\" and \"kid\"");
	free(t);
	refuse(jws(ec, "{\"alg\":\"ES256\",\"nonce\":\"a\",\"url\":\"u\"}", "{}", 0),
	    ACME_P_MALFORMED, "neither of \"jwk\" and \"kid\"");
	t = header("none", ec, NULL, NULL);
	refuse(jws(ec, t, "{}", 0), ACME_P_BAD_SIG_ALG, "alg none is no signature");
	free(t);
	t = header("HS256", NULL, KID, NULL);
	refuse(jws_mac(ec, t, "{}", F_HMAC, (const unsigned char *)"k", 1), ACME_P_BAD_SIG_ALG,
	    "alg HS256 is a MAC");
	free(t);
	t = header("PS256", NULL, KID, NULL);
	refuse(jws(keys[K_RSA], t, "{}", 0), ACME_P_BAD_SIG_ALG, "alg is not one of");
	free(t);
	t = header("ES384", ec, NULL, NULL);
	refuse(jws(ec, t, "{}", 0), ACME_P_BAD_SIG_ALG, "alg ES384 does not fit the jwk's P-256 key");
	free(t);
	t = header("RS256", keys[K_RSA1024], NULL, NULL);
	refuse(jws(keys[K_RSA1024], t, "{}", 0), ACME_P_BAD_PUBLIC_KEY, "RSA modulus of 1024 bits");
	free(t);
	t = header("ES256", ec, NULL, ",\"b64\":false");
	refuse(jws(ec, t, "{}", 0), ACME_P_MALFORMED, "\"b64\": false");
	free(t);
	t = header("ES256", ec, NULL, ",\"crit\":[\"exp\"],\"exp\":1");
	refuse(jws(ec, t, "{}", 0), ACME_P_MALFORMED, "\"crit\"");
	free(t);
	/* The payload. */
	refuse(jws(ec, h, "[1]", 0), ACME_P_MALFORMED, "payload is not a JSON object");
	refuse(jws(ec, h, "{\"a\":1,\"a\":2}", 0), ACME_P_MALFORMED, "duplicate");
	refuse(jws(ec, h, "{\"a\":\"\\u0000\"}", 0), ACME_P_MALFORMED, "payload is not JSON");
	/* The signature. */
	refuse(jws(ec, h, "{}", F_TRUNC), ACME_P_MALFORMED, "is 63 bytes; it must be 64");
	refuse(jws(ec, h, "{}", F_DER), ACME_P_MALFORMED, "not DER");
	refuse(replace(jws(ec, h, "{}", 0), "\"payload\":\"e30\"", "\"payload\":\"eyJhIjoxfQ\""),
	    ACME_P_MALFORMED, "does not verify");
	free(h);
}

/* ---- external account binding ---- */

static const unsigned char eab_key[] = "0123456789abcdef0123456789abcdef";

static int
eab_lookup(const char *kid, unsigned char *key, size_t *keylen, void *arg)
{
	int *calls = arg;

	(*calls)++;
	if (strcmp(kid, "kid-1") != 0)
		return -1;
	assert_int_equal(*keylen, ACME_EAB_KEY_MAX);
	memcpy(key, eab_key, 32);
	*keylen = 32;
	return 0;
}

/* An EAB JWS as a JSON object: header text, payload text, MACed with key. */
static json_t *
eab_make(const char *prot, EVP_PKEY *payload_key, const unsigned char *key, int flags)
{
	char *jt = jwk_text(payload_key), *t = jws_mac(keys[K_P256], prot, jt, F_HMAC | flags, key, 32);
	json_t *o = json_loads(t, 0, NULL);

	free(jt);
	free(t);
	return o;
}

static void
eab_case(json_t *eab, int want, acme_ptype type, const char *why)
{
	acme_problem p = { 0 };
	char kid[ACME_URL_MAX];
	int calls = 0;

	memset(kid, 'x', sizeof(kid));
	if (acme_eab_verify(eab, keys[K_P256], URL, eab_lookup, &calls, kid, &p) != want)
		fail_msg("EAB case for \"%s\": got the other result, \"%s\"", why, p.detail);
	if (want == 0) {
		assert_string_equal(kid, "kid-1");
		assert_int_equal(calls, 1);
	} else {
		assert_string_equal(kid, "");
		assert_problem(&p, type, why);
	}
	json_decref(eab);
}

#define EAB_HDR(alg, kid, url, extra) \
	"{\"alg\":\"" alg "\",\"kid\":\"" kid "\",\"url\":\"" url "\"" extra "}"

static void
test_eab(void **state)
{
	unsigned char wrong[32] = { 1 };
	json_t *o;

	eab_case(eab_make(EAB_HDR("HS256", "kid-1", URL, ""), keys[K_P256], eab_key, 0), 0, 0, "");
	eab_case(eab_make(EAB_HDR("HS256", "kid-1", URL, ""), keys[K_P256], wrong, 0), -1,
	    ACME_P_UNAUTHORIZED, "MAC does not verify");
	eab_case(eab_make(EAB_HDR("HS256", "kid-1", URL, ""), keys[K_P256], eab_key, F_TRUNC), -1,
	    ACME_P_UNAUTHORIZED, "MAC does not verify");
	eab_case(eab_make(EAB_HDR("HS256", "kid-2", URL, ""), keys[K_P256], eab_key, 0), -1,
	    ACME_P_UNAUTHORIZED, "no EAB key has the id");
	eab_case(eab_make(EAB_HDR("HS256", "kid-1", "https://ca.example/other", ""), keys[K_P256],
	             eab_key, 0),
	    -1, ACME_P_MALFORMED, "\"url\" must be the newAccount URL");
	/* Bound to another key than the request's jwk (compared as keys). */
	eab_case(eab_make(EAB_HDR("HS256", "kid-1", URL, ""), keys[K_P256B], eab_key, 0), -1,
	    ACME_P_MALFORMED, "another key than the request's jwk");
	eab_case(eab_make(EAB_HDR("HS256", "kid-1", URL, ""), keys[K_RSA1024], eab_key, 0), -1,
	    ACME_P_MALFORMED, "payload is not the account key: jwk: RSA modulus");
	eab_case(eab_make(EAB_HDR("ES256", "kid-1", URL, ""), keys[K_P256], eab_key, 0), -1,
	    ACME_P_MALFORMED, "alg must be a MAC");
	eab_case(eab_make(EAB_HDR("HS256", "kid-1", URL, ",\"nonce\":\"abc\""), keys[K_P256],
	             eab_key, 0),
	    -1, ACME_P_MALFORMED, "has \"nonce\"");
	eab_case(eab_make("{\"alg\":\"HS256\",\"url\":\"" URL "\"}", keys[K_P256], eab_key, 0), -1,
	    ACME_P_MALFORMED, "no \"kid\"");
	eab_case(json_string("x"), -1, ACME_P_MALFORMED, "not a JSON object");
	/* The same JWK with its members in another order is the same key. */
	o = json_pack("{s:s, s:s, s:s, s:s}", "y", "", "x", "", "crv", "P-256", "kty", "EC");
	{
		json_t *k = acme_jwk_from_key(keys[K_P256]);
		char *t, *body;
		json_object_set(o, "x", json_object_get(k, "x"));
		json_object_set(o, "y", json_object_get(k, "y"));
		t = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
		body = jws_mac(keys[K_P256], EAB_HDR("HS256", "kid-1", URL, ""), t, F_HMAC, eab_key, 32);
		eab_case(json_loads(body, 0, NULL), 0, 0, "");
		free(body);
		free(t);
		json_decref(k);
	}
	json_decref(o);
}

/* ---- key rollover ---- */

#define KC_URL "https://ca.example/acme/key-change"

static json_t *
kc_make(EVP_PKEY *signer, EVP_PKEY *jwk, const char *url, const char *account, EVP_PKEY *old,
    const char *extra)
{
	char *jt = jwk_text(jwk), *ot = jwk_text(old), prot[4096], payload[4096], *t;
	json_t *o;

	snprintf(prot, sizeof(prot), "{\"alg\":\"%s\",\"jwk\":%s,\"url\":\"%s\"%s}",
	    key_alg[jwk == keys[K_P384] ? K_P384 : jwk == keys[K_ED] ? K_ED : K_P256], jt, url, extra);
	snprintf(payload, sizeof(payload), "{\"account\":\"%s\",\"oldKey\":%s}", account, ot);
	t = jws(signer, prot, payload, 0);
	o = json_loads(t, 0, NULL);
	free(t);
	free(jt);
	free(ot);
	return o;
}

static void
kc_case(json_t *inner, int want, acme_ptype type, const char *why)
{
	acme_problem p = { 0 };
	EVP_PKEY *nk = (EVP_PKEY *)1;

	if (acme_keychange_verify(inner, KC_URL, KID, keys[K_P256], &nk, &p) != want)
		fail_msg("keyChange case for \"%s\": got the other result, \"%s\"", why, p.detail);
	if (want == 0) {
		assert_non_null(nk);
		assert_int_not_equal(EVP_PKEY_eq(nk, keys[K_P256]), 1);
		EVP_PKEY_free(nk);
	} else {
		assert_null(nk);
		assert_problem(&p, type, why);
	}
	json_decref(inner);
}

static void
test_keychange(void **state)
{
	EVP_PKEY *old = keys[K_P256], *nw = keys[K_P384], *ed = keys[K_ED];
	acme_problem p = { 0 };
	EVP_PKEY *nk = NULL;
	json_t *in;

	in = kc_make(nw, nw, KC_URL, KID, old, "");
	assert_int_equal(acme_keychange_verify(in, KC_URL, KID, old, &nk, &p), 0);
	assert_int_equal(EVP_PKEY_eq(nk, nw), 1);
	EVP_PKEY_free(nk);
	json_decref(in);
	kc_case(kc_make(ed, ed, KC_URL, KID, old, ""), 0, 0, "");
	/* Signed by the old key, not the new one it names. */
	kc_case(kc_make(keys[K_P256B], keys[K_P256], KC_URL, KID, old, ""), -1, ACME_P_MALFORMED,
	    "does not verify");
	kc_case(kc_make(nw, nw, URL, KID, old, ""), -1, ACME_P_MALFORMED, "\"url\" must be the keyChange URL");
	kc_case(kc_make(nw, nw, KC_URL, KID, old, ",\"nonce\":\"abc\""), -1, ACME_P_MALFORMED,
	    "has \"nonce\"");
	kc_case(kc_make(nw, nw, KC_URL, KID, old, ",\"kid\":\"" KID "\""), -1, ACME_P_MALFORMED,
	    "has \"kid\"");
	kc_case(kc_make(nw, nw, KC_URL, "https://ca.example/acme/acct/2", old, ""), -1,
	    ACME_P_MALFORMED, "\"account\" must be the URL");
	kc_case(kc_make(nw, nw, KC_URL, KID, keys[K_P256B], ""), -1, ACME_P_UNAUTHORIZED,
	    "not the account's current key");
	kc_case(kc_make(old, old, KC_URL, KID, old, ""), -1, ACME_P_MALFORMED,
	    "new key is the account's current key");
	in = json_loads("{\"protected\":\"e30\",\"payload\":\"\",\"signature\":\"AA\"}", 0, NULL);
	kc_case(in, -1, ACME_P_MALFORMED, "no \"alg\"");
}

/* ---- nonces ---- */

static void
test_nonce(void **state)
{
	unsigned char key[ACME_NONCE_KEY_LEN] = { 1, 2, 3 }, other[ACME_NONCE_KEY_LEN] = { 9 };
	char n[ACME_NONCE_MAX], n2[ACME_NONCE_MAX], id[33], id2[33], *t;
	int64_t issued;
	unsigned char *raw;
	size_t len;

	acme_nonce_make(key, 1000, n);
	acme_nonce_make(key, 1000, n2);
	assert_int_equal(strlen(n), 75);
	assert_string_not_equal(n, n2);
	assert_int_equal(acme_nonce_check(key, n, 1000, 300, id, &issued), 0);
	assert_int_equal(issued, 1000);
	assert_int_equal(strlen(id), 32);
	assert_int_equal(acme_nonce_check(key, n2, 1300, 300, id2, &issued), 0);
	assert_string_not_equal(id, id2);
	/* The id is the nonce's random part, in hex. */
	acme_b64u_decode(n, strlen(n), &raw, &len);
	for (int i = 0; i < 16; i++) {
		char hx[3];
		snprintf(hx, sizeof(hx), "%02x", raw[i]);
		assert_memory_equal(id + 2 * i, hx, 2);
	}
	/* Expired, from the far future, another key, every byte tampered. */
	assert_int_equal(acme_nonce_check(key, n, 1301, 300, id, &issued), -1);
	assert_string_equal(id, "");
	assert_int_equal(acme_nonce_check(key, n, 900, 300, id, &issued), -1);
	assert_int_equal(acme_nonce_check(key, n, 940, 300, id, &issued), 0); /* clock skew */
	assert_int_equal(acme_nonce_check(other, n, 1000, 300, id, &issued), -1);
	for (size_t i = 0; i < len; i++) {
		raw[i] ^= 0x01;
		t = acme_b64u_encode(raw, len);
		assert_int_equal(acme_nonce_check(key, t, 1000, 300, id, &issued), -1);
		free(t);
		raw[i] ^= 0x01;
	}
	free(raw);
	/* Malformed texts. */
	assert_int_equal(acme_nonce_check(key, "", 1000, 300, id, &issued), -1);
	assert_int_equal(acme_nonce_check(key, "abc", 1000, 300, id, &issued), -1);
	n[74] = '=';
	assert_int_equal(acme_nonce_check(key, n, 1000, 300, id, &issued), -1);
	assert_int_equal(acme_nonce_check(key, NULL, 1000, 300, id, &issued), -1);
}

/* ---- problems ---- */

static void
test_problem(void **state)
{
	acme_problem p;
	json_t *o;
	char *s;

	assert_int_equal(acme_problem_set(&p, ACME_P_BAD_NONCE, "nonce %s used", "x"), -1);
	assert_int_equal(acme_problem_set(NULL, ACME_P_BAD_NONCE, "ignored"), -1);
	assert_string_equal(acme_problem_urn(ACME_P_BAD_NONCE), "urn:ietf:params:acme:error:badNonce");
	assert_int_equal(acme_problem_status(ACME_P_UNAUTHORIZED), 403);
	assert_int_equal(acme_problem_status(ACME_P_RATE_LIMITED), 429);
	assert_int_equal(acme_problem_status(ACME_P_TOO_LARGE), 413);
	assert_string_equal(acme_problem_urn(ACME_P_TOO_LARGE), "urn:ietf:params:acme:error:malformed");
	assert_string_equal(acme_problem_urn(ACME_P_NONE),
	    "urn:ietf:params:acme:error:serverInternal");
	assert_int_equal(acme_problem_status((acme_ptype)999), 500);
	s = acme_problem_json(&p);
	o = json_loads(s, 0, NULL);
	assert_string_equal(json_string_value(json_object_get(o, "type")),
	    "urn:ietf:params:acme:error:badNonce");
	assert_string_equal(json_string_value(json_object_get(o, "detail")), "nonce x used");
	assert_int_equal(json_integer_value(json_object_get(o, "status")), 400);
	assert_null(json_object_get(o, "algorithms"));
	json_decref(o);
	free(s);
	/* badSignatureAlgorithm lists ours; a detail quoting bad bytes stays JSON. */
	acme_problem_set(&p, ACME_P_BAD_SIG_ALG, "got \x01\xff\"");
	s = acme_problem_json(&p);
	o = json_loads(s, 0, NULL);
	assert_non_null(o);
	assert_string_equal(json_string_value(json_object_get(o, "detail")), "got \\x01\\xFF\"");
	assert_int_equal(json_array_size(json_object_get(o, "algorithms")), 4);
	assert_string_equal(json_string_value(json_array_get(json_object_get(o, "algorithms"), 3)),
	    "EdDSA");
	json_decref(o);
	free(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_b64u),
		cmocka_unit_test(test_thumbprint_rfc7638),
		cmocka_unit_test(test_jwk_round_trip),
		cmocka_unit_test(test_jwk_refusals),
		cmocka_unit_test(test_stored_key_deterministic),
		cmocka_unit_test(test_jws_each_alg),
		cmocka_unit_test(test_jws_refusals),
		cmocka_unit_test(test_eab),
		cmocka_unit_test(test_keychange),
		cmocka_unit_test(test_nonce),
		cmocka_unit_test(test_problem),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
