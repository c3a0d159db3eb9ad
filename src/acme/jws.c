/* JWS requests (RFC 7515 flattened JSON serialization, as RFC 8555 6.2
 * restricts it): split and decoded strictly, the protected header checked
 * for form, then the signature verified with the key the server picks. */
#include <stdlib.h>
#include <string.h>

#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include "acme/acme_int.h"

void
acme_jws_parts_clear(acme_jws_parts *parts)
{
	if (parts == NULL)
		return;
	json_decref(parts->header);
	json_decref(parts->payload);
	free(parts->signing_input);
	free(parts->sig);
	memset(parts, 0, sizeof(*parts));
}

/* A member of the flattened JWS that must be a string. */
static const char *
jws_member(const json_t *jws, const char *name, size_t *len, const char *what, acme_problem *p)
{
	const json_t *v = json_object_get(jws, name);

	if (!json_is_string(v)) {
		acme_problem_set(p, ACME_P_MALFORMED, "%s: member \"%s\" is %s; a JWS in flattened "
		    "JSON form (RFC 7515 7.2.2) has string members protected, payload, signature",
		    what, name, v == NULL ? "missing" : "not a string");
		return NULL;
	}
	*len = json_string_length(v);
	return json_string_value(v);
}

/* base64url text holding a JSON object (no duplicate members, no NUL). */
static json_t *
b64_json(const char *b64, size_t len, const char *what, const char *name, acme_problem *p)
{
	unsigned char *raw = NULL;
	size_t rawlen;
	json_error_t jerr;
	json_t *o = NULL;

	if (acme_b64u_decode(b64, len, &raw, &rawlen) != 0) {
		acme_problem_set(p, ACME_P_MALFORMED,
		    "%s: %s is not unpadded base64url (RFC 7515 2: no '=', no whitespace)", what, name);
		return NULL;
	}
	o = json_loadb((const char *)raw, rawlen, JSON_REJECT_DUPLICATES, &jerr);
	free(raw);
	if (o == NULL) {
		acme_problem_set(p, ACME_P_MALFORMED, "%s: %s is not JSON: %s (at byte %d)", what, name,
		    jerr.text, jerr.position);
		return NULL;
	}
	if (!json_is_object(o)) {
		json_decref(o);
		acme_problem_set(p, ACME_P_MALFORMED, "%s: %s is not a JSON object", what, name);
		return NULL;
	}
	return o;
}

int
acme_jws_split(const json_t *jws, const char *what, acme_jws_parts *out, acme_problem *p)
{
	const char *prot, *payload, *sig;
	size_t plen, ylen, slen;

	memset(out, 0, sizeof(*out));
	if (!json_is_object(jws))
		return acme_problem_set(p, ACME_P_MALFORMED,
		    "%s is not a JSON object (a JWS in flattened JSON form, RFC 7515 7.2.2)", what);
	if ((prot = jws_member(jws, "protected", &plen, what, p)) == NULL ||
	    (payload = jws_member(jws, "payload", &ylen, what, p)) == NULL ||
	    (sig = jws_member(jws, "signature", &slen, what, p)) == NULL)
		return -1;
	/* RFC 8555 6.2: no unprotected header, no multiple signatures. */
	if (json_object_size(jws) != 3)
		return acme_problem_set(p, ACME_P_MALFORMED,
		    "%s: a JWS with members besides protected, payload and signature (an "
		    "unprotected header or several signatures); RFC 8555 6.2 allows neither",
		    what);
	if (plen == 0)
		return acme_problem_set(p, ACME_P_MALFORMED, "%s: the protected header is empty", what);
	if ((out->header = b64_json(prot, plen, what, "the protected header", p)) == NULL)
		goto bad;
	if (ylen > 0 && (out->payload = b64_json(payload, ylen, what, "the payload", p)) == NULL)
		goto bad;
	if (acme_b64u_decode(sig, slen, &out->sig, &out->sig_len) != 0 || out->sig_len == 0) {
		acme_problem_set(p, ACME_P_MALFORMED,
		    "%s: the signature is %s", what, slen == 0 ? "empty" : "not unpadded base64url");
		goto bad;
	}
	out->signing_input_len = plen + 1 + ylen;
	if ((out->signing_input = malloc(out->signing_input_len + 1)) == NULL) {
		acme_problem_set(p, ACME_P_SERVER_INTERNAL, "%s: out of memory", what);
		goto bad;
	}
	memcpy(out->signing_input, prot, plen);
	out->signing_input[plen] = '.';
	memcpy(out->signing_input + plen + 1, payload, ylen);
	out->signing_input[out->signing_input_len] = '\0';
	return 0;
bad:
	acme_jws_parts_clear(out);
	return -1;
}

int
acme_header_str(const json_t *header, const char *name, size_t max, const char *what,
    const char **out, acme_problem *p)
{
	const json_t *v = json_object_get(header, name);

	*out = NULL;
	if (v == NULL)
		return 0;
	if (!json_is_string(v))
		return acme_problem_set(p, ACME_P_MALFORMED,
		    "%s: protected header member \"%s\" is not a string", what, name);
	if (json_string_length(v) >= max)
		return acme_problem_set(p, ACME_P_MALFORMED,
		    "%s: protected header member \"%s\" is %zu bytes long; at most %zu are accepted",
		    what, name, json_string_length(v), max - 1);
	*out = json_string_value(v);
	return 0;
}

int
acme_same_url(const char *url, const char *outer_url, const char *what, const char *endpoint,
    const char *rfc, acme_problem *p)
{
	if (url == NULL || outer_url == NULL || strcmp(url, outer_url) != 0)
		return acme_problem_set(p, ACME_P_MALFORMED,
		    "%s: \"url\" must be the %s the outer request has (%s)", what, endpoint, rfc);
	return 0;
}

/* ES* signatures are r||s, each the curve's size (RFC 7518 3.4); OpenSSL
 * verifies DER. */
static int
ecdsa_der(const unsigned char *sig, size_t half, unsigned char **der, int *derlen)
{
	ECDSA_SIG *es = ECDSA_SIG_new();
	BIGNUM *r = BN_bin2bn(sig, (int)half, NULL), *s = BN_bin2bn(sig + half, (int)half, NULL);

	*der = NULL;
	if (es == NULL || r == NULL || s == NULL || ECDSA_SIG_set0(es, r, s) != 1) {
		BN_free(r);
		BN_free(s);
		ECDSA_SIG_free(es);
		return -1;
	}
	/* r and s now belong to es. */
	*derlen = i2d_ECDSA_SIG(es, der);
	ECDSA_SIG_free(es);
	return *derlen > 0 ? 0 : -1;
}

static const struct {
	acme_keykind kind;
	const char *md; /* NULL: EdDSA hashes itself */
	size_t siglen;  /* 0: the RSA modulus' size */
} sigs[] = {
	{ ACME_KEY_P256, "SHA256", 64 },
	{ ACME_KEY_P384, "SHA384", 96 },
	{ ACME_KEY_RSA, "SHA256", 0 },
	{ ACME_KEY_ED25519, NULL, 64 },
};

int
acme_sig_verify(const char *alg, EVP_PKEY *key, const unsigned char *msg, size_t msglen,
    const unsigned char *sig, size_t siglen, const char *what, acme_problem *p)
{
	acme_keykind kind = acme_alg_kind(alg);
	EVP_MD_CTX *ctx = NULL;
	unsigned char *der = NULL;
	size_t i, want;
	int derlen = 0, rc = -1;

	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		if (sigs[i].kind == kind)
			break;
	if (i == sizeof(sigs) / sizeof(sigs[0]) || key == NULL)
		return acme_problem_set(p, ACME_P_BAD_SIG_ALG, "%s: alg %s is not one of %s", what,
		    alg == NULL ? "(none)" : alg, ACME_JWS_ALGS);
	if (acme_key_kind(key) != kind)
		return acme_problem_set(p, ACME_P_BAD_SIG_ALG,
		    "%s: alg %s does not fit the %s key it is checked with; " ACME_ALG_FIT, what, alg,
		    acme_key_kind_name(acme_key_kind(key)));
	want = sigs[i].siglen > 0 ? sigs[i].siglen : (size_t)EVP_PKEY_get_size(key);
	if (siglen != want)
		return acme_problem_set(p, ACME_P_MALFORMED,
		    "%s: the %s signature is %zu bytes; it must be %zu%s", what, alg, siglen, want,
		    kind == ACME_KEY_P256 || kind == ACME_KEY_P384
		        ? " (r||s as RFC 7518 3.4 says, not DER)" : "");
	if (kind == ACME_KEY_P256 || kind == ACME_KEY_P384) {
		if (ecdsa_der(sig, siglen / 2, &der, &derlen) != 0) {
			acme_problem_set(p, ACME_P_SERVER_INTERNAL, "%s: out of memory", what);
			goto out;
		}
		sig = der;
		siglen = (size_t)derlen;
	}
	ERR_clear_error();
	ctx = EVP_MD_CTX_new();
	if (ctx == NULL || EVP_DigestVerifyInit_ex(ctx, NULL, sigs[i].md, NULL, NULL, key, NULL) != 1) {
		acme_problem_set(p, ACME_P_SERVER_INTERNAL, "%s: cannot set up %s verification", what,
		    alg);
		goto out;
	}
	if (EVP_DigestVerify(ctx, sig, siglen, msg, msglen) != 1) {
		acme_problem_set(p, ACME_P_MALFORMED,
		    "%s: the %s signature does not verify with the %s key (signed with another key, "
		    "or over other bytes than protected.payload)",
		    what, alg, acme_key_kind_name(kind));
		goto out;
	}
	rc = 0;
out:
	ERR_clear_error();
	EVP_MD_CTX_free(ctx);
	OPENSSL_free(der);
	return rc;
}

/* The alg of a JWS we verify with a public key: none and the MACs are
 * refused by name (RFC 8555 6.2), anything else not ours as unsupported. */
int
acme_jws_check_alg(const char *alg, const char *what, acme_problem *p)
{
	if (alg == NULL)
		return acme_problem_set(p, ACME_P_MALFORMED,
		    "%s: the protected header has no \"alg\"", what);
	if (strcmp(alg, "none") == 0 || strncmp(alg, "HS", 2) == 0)
		return acme_problem_set(p, ACME_P_BAD_SIG_ALG,
		    "%s: alg %s is %s; RFC 8555 6.2 wants a signature: one of %s", what, alg,
		    strcmp(alg, "none") == 0 ? "no signature" : "a MAC", ACME_JWS_ALGS);
	if (acme_alg_kind(alg) == ACME_KEY_NONE)
		return acme_problem_set(p, ACME_P_BAD_SIG_ALG, "%s: alg is not one of %s", what,
		    ACME_JWS_ALGS);
	return 0;
}

/* Header members that change how a JWS is read: we understand none of
 * the extensions crit may list, and b64 false (RFC 7797) would sign the
 * payload unencoded. */
int
acme_jws_check_ext(const json_t *header, const char *what, acme_problem *p)
{
	const json_t *b64 = json_object_get(header, "b64");

	if (json_object_get(header, "crit") != NULL)
		return acme_problem_set(p, ACME_P_MALFORMED,
		    "%s: the protected header has \"crit\"; this server understands no JWS "
		    "extension (RFC 7515 4.1.11)", what);
	if (b64 != NULL && !json_is_true(b64))
		return acme_problem_set(p, ACME_P_MALFORMED,
		    "%s: \"b64\": false (RFC 7797, unencoded payload) is not allowed in ACME", what);
	return 0;
}

/* The outer request's header: alg, nonce, url, and jwk or kid. */
static int
outer_header(const json_t *h, const char *what, acme_jws *out, acme_problem *p)
{
	const char *alg, *nonce, *url, *kid;
	const json_t *jwk = json_object_get(h, "jwk");
	const unsigned char *c;

	if (acme_header_str(h, "alg", sizeof(out->alg), what, &alg, p) != 0 ||
	    acme_jws_check_alg(alg, what, p) != 0 || acme_jws_check_ext(h, what, p) != 0)
		return -1;
	if (acme_header_str(h, "nonce", ACME_NONCE_MAX, what, &nonce, p) != 0 || nonce == NULL ||
	    nonce[0] == '\0')
		return acme_problem_set(p, ACME_P_BAD_NONCE,
		    "%s: the protected header has no usable \"nonce\" (RFC 8555 6.5); get one from "
		    "newNonce", what);
	for (c = (const unsigned char *)nonce; *c != '\0'; c++)
		if (!(*c >= 'A' && *c <= 'Z') && !(*c >= 'a' && *c <= 'z') &&
		    !(*c >= '0' && *c <= '9') && *c != '-' && *c != '_')
			return acme_problem_set(p, ACME_P_BAD_NONCE,
			    "%s: the nonce is not base64url; get one from newNonce", what);
	if (acme_header_str(h, "url", ACME_URL_MAX, what, &url, p) != 0)
		return -1;
	if (url == NULL || url[0] == '\0')
		return acme_problem_set(p, ACME_P_MALFORMED,
		    "%s: the protected header has no \"url\" (RFC 8555 6.4)", what);
	if (acme_header_str(h, "kid", ACME_URL_MAX, what, &kid, p) != 0)
		return -1;
	if ((kid != NULL) == (jwk != NULL))
		return acme_problem_set(p, ACME_P_MALFORMED,
		    "%s: the protected header has %s of \"jwk\" and \"kid\"; RFC 8555 6.2 wants "
		    "exactly one (jwk for newAccount and revokeCert by certificate key, kid otherwise)",
		    what, kid == NULL ? "neither" : "both");
	if (kid != NULL && kid[0] == '\0')
		return acme_problem_set(p, ACME_P_MALFORMED, "%s: \"kid\" is empty", what);
	if (jwk != NULL) {
		if ((out->jwk = acme_jwk_to_key(jwk, p)) == NULL)
			return -1;
		if (!acme_alg_fits_key(alg, out->jwk))
			return acme_problem_set(p, ACME_P_BAD_SIG_ALG,
			    "%s: alg %s does not fit the jwk's %s key; " ACME_ALG_FIT, what, alg,
			    acme_key_kind_name(acme_key_kind(out->jwk)));
	}
	/* Each fits: acme_header_str checked the lengths. */
	memcpy(out->alg, alg, strlen(alg) + 1);
	memcpy(out->nonce, nonce, strlen(nonce) + 1);
	memcpy(out->url, url, strlen(url) + 1);
	if (kid != NULL)
		memcpy(out->kid, kid, strlen(kid) + 1);
	return 0;
}

int
acme_jws_parse(const char *body, size_t len, acme_jws *out, acme_problem *p)
{
	acme_jws_parts parts = { 0 };
	json_error_t jerr;
	json_t *o = NULL;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (len > ACME_BODY_MAX)
		return acme_problem_set(p, ACME_P_TOO_LARGE,
		    "request body of %zu bytes; at most %d are accepted", len, ACME_BODY_MAX);
	if (body == NULL || len == 0)
		return acme_problem_set(p, ACME_P_MALFORMED,
		    "empty request body; ACME requests are JWS objects (RFC 8555 6.2)");
	o = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (o == NULL)
		return acme_problem_set(p, ACME_P_MALFORMED, "request body is not JSON: %s (at byte %d)",
		    jerr.text, jerr.position);
	if (acme_jws_split(o, "request", &parts, p) != 0 ||
	    outer_header(parts.header, "request", out, p) != 0)
		goto out;
	/* Handed over to out. */
	out->payload = parts.payload;
	out->post_as_get = parts.payload == NULL;
	out->signing_input = parts.signing_input;
	out->signing_input_len = parts.signing_input_len;
	out->sig = parts.sig;
	out->sig_len = parts.sig_len;
	parts.payload = NULL;
	parts.signing_input = NULL;
	parts.sig = NULL;
	rc = 0;
out:
	if (rc != 0)
		acme_jws_clear(out);
	acme_jws_parts_clear(&parts);
	json_decref(o);
	return rc;
}

int
acme_jws_verify(const acme_jws *j, EVP_PKEY *key, acme_problem *p)
{
	if (j == NULL || j->signing_input == NULL)
		return acme_problem_set(p, ACME_P_SERVER_INTERNAL, "request: no parsed JWS to verify");
	return acme_sig_verify(j->alg, key, (const unsigned char *)j->signing_input,
	    j->signing_input_len, j->sig, j->sig_len, "request", p);
}

void
acme_jws_clear(acme_jws *j)
{
	if (j == NULL)
		return;
	EVP_PKEY_free(j->jwk);
	json_decref(j->payload);
	free(j->signing_input);
	free(j->sig);
	memset(j, 0, sizeof(*j));
}
