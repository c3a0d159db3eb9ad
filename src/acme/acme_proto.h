/* The ACME protocol pieces that touch outside bytes and need no store or
 * server: JWS requests (RFC 7515 flattened JSON, as RFC 8555 6.2 restricts
 * them), JWKs and their thumbprints (RFC 7638), external account binding
 * (RFC 8555 7.3.4), account key rollover's inner JWS (7.3.5), nonces that
 * need no state to hand out, problem documents (RFC 7807 with RFC 8555 6.7's
 * types), and the challenge validators (http-01, tls-alpn-01 per RFC 8737,
 * IP identifiers per RFC 8738). The server (src/acme/server.c and friends)
 * calls these; fuzz/fuzz_acme_jws.c feeds acme_jws_parse. */
#ifndef TLSGATE_ACME_PROTO_H
#define TLSGATE_ACME_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "tlsgate/err.h"

/* ---- problem documents ------------------------------------------------ */

/* RFC 8555 6.7 error types the server uses; the table in problem.c gives
 * each its URN ("urn:ietf:params:acme:error:badNonce") and HTTP status. */
typedef enum {
	ACME_P_NONE = 0,
	ACME_P_MALFORMED,          /* 400 */
	ACME_P_BAD_NONCE,          /* 400, the response carries a fresh nonce */
	ACME_P_BAD_SIG_ALG,        /* 400, with "algorithms" listing ours */
	ACME_P_BAD_PUBLIC_KEY,     /* 400 */
	ACME_P_BAD_CSR,            /* 400 */
	ACME_P_BAD_REVOCATION_REASON, /* 400 */
	ACME_P_UNAUTHORIZED,       /* 403 */
	ACME_P_ACCOUNT_DOES_NOT_EXIST, /* 400 */
	ACME_P_EAB_REQUIRED,       /* 403 externalAccountRequired */
	ACME_P_REJECTED_IDENTIFIER, /* 400 */
	ACME_P_UNSUPPORTED_IDENTIFIER, /* 400 */
	ACME_P_ORDER_NOT_READY,    /* 403 */
	ACME_P_ALREADY_REVOKED,    /* 400 */
	ACME_P_UNSUPPORTED_CONTACT, /* 400 */
	ACME_P_INVALID_CONTACT,    /* 400 */
	ACME_P_CONNECTION,         /* challenge: could not connect */
	ACME_P_INCORRECT_RESPONSE, /* challenge: wrong answer */
	ACME_P_TLS,                /* challenge: TLS failure */
	ACME_P_DNS,                /* challenge: name did not resolve */
	ACME_P_RATE_LIMITED,       /* 429 */
	ACME_P_SERVER_INTERNAL,    /* 500 */
	ACME_P_NOT_FOUND,          /* 404, type malformed (no ACME type exists) */
	ACME_P_METHOD,             /* 405, type malformed */
	ACME_P_TOO_LARGE,          /* 413, type malformed */
	ACME_P_UNSUPPORTED_MEDIA,  /* 415, type malformed */
} acme_ptype;

#define ACME_DETAIL_MAX 512

typedef struct acme_problem {
	acme_ptype type;
	char detail[ACME_DETAIL_MAX]; /* for a human: what was wrong and the fix */
} acme_problem;

/* Records a problem and returns -1, like tg_err_set. p may be NULL. */
int acme_problem_set(acme_problem *p, acme_ptype type, const char *fmt, ...)
	TG_PRINTF(3, 4);
const char *acme_problem_urn(acme_ptype type);
int acme_problem_status(acme_ptype type);
/* The problem as an application/problem+json body (malloc'd, NUL-ended). */
char *acme_problem_json(const acme_problem *p);

/* ---- base64url --------------------------------------------------------- */

/* Unpadded base64url (RFC 7515 2). Decoding refuses padding, whitespace and
 * any character outside the alphabet, and non-canonical trailing bits.
 * *out is malloc'd (NUL-ended for convenience); returns -1 on bad input. */
int acme_b64u_decode(const char *in, size_t len, unsigned char **out, size_t *outlen);
char *acme_b64u_encode(const unsigned char *in, size_t len);

/* ---- JWKs --------------------------------------------------------------- */

/* The JWK algorithms accepted, in the order the directory's badSignatureAlgorithm
 * problem lists them. */
#define ACME_JWS_ALGS "ES256 ES384 RS256 EdDSA"
#define ACME_RSA_MIN_BITS 2048
#define ACME_RSA_MAX_BITS 8192

/* A public key from a JWK object (kty EC with crv P-256/P-384, RSA, OKP with
 * crv Ed25519); anything else, a private member ("d"), a point not on the
 * curve or an RSA size outside the limits is refused. */
EVP_PKEY *acme_jwk_to_key(const json_t *jwk, acme_problem *p);
/* An account's key as this server stored it, which acme_jwk_to_key passed
 * when the client sent it: decoded with the same checks of form, without
 * OpenSSL's public key check again. Its RSA part is Miller-Rabin on n with
 * random bases, so a key it passed once (a made-up n with a small factor)
 * could be refused on a later request. */
EVP_PKEY *acme_jwk_to_stored_key(const json_t *jwk, acme_problem *p);
/* The canonical JWK (only the required members) of a public key, and its
 * RFC 7638 SHA-256 thumbprint, base64url (43 characters + NUL). */
json_t *acme_jwk_from_key(EVP_PKEY *key);
int acme_jwk_thumbprint(EVP_PKEY *key, char out[44]);
/* Whether a JWS alg fits a key: ES256 for P-256, ES384 for P-384, RS256 for
 * RSA, EdDSA for Ed25519. */
int acme_alg_fits_key(const char *alg, EVP_PKEY *key);

/* ---- JWS requests ------------------------------------------------------- */

#define ACME_URL_MAX 1024
#define ACME_NONCE_MAX 96
#define ACME_BODY_MAX (64 * 1024) /* refused (413) before it is parsed */

/* One request body, parsed and checked for form (not yet for signature):
 * flattened JSON with exactly "protected", "payload", "signature"; protected
 * header with alg (one of ACME_JWS_ALGS), nonce, url, and exactly one of jwk
 * and kid; no "b64":false, no unknown "crit"; jwk (if given) decoded to a
 * key whose type fits alg. */
typedef struct acme_jws {
	char alg[16];
	char nonce[ACME_NONCE_MAX];
	char url[ACME_URL_MAX];
	char kid[ACME_URL_MAX];    /* "" when the jwk form was used */
	EVP_PKEY *jwk;             /* NULL when the kid form was used */
	json_t *payload;           /* NULL for POST-as-GET (empty payload) */
	int post_as_get;
	/* What was signed: ASCII(protected) || '.' || ASCII(payload). */
	char *signing_input;
	size_t signing_input_len;
	unsigned char *sig;
	size_t sig_len;
} acme_jws;

/* Parses a request body. On failure the problem is malformed (or
 * badSignatureAlgorithm for an alg we do not take, badPublicKey for a jwk
 * we refuse, badNonce for a missing or non-base64url nonce, TOO_LARGE over
 * ACME_BODY_MAX); *out is left cleared. */
int acme_jws_parse(const char *body, size_t len, acme_jws *out, acme_problem *p);
/* Verifies the signature with key (the jwk's, or the account's for kid).
 * ES* signatures are the raw r||s of RFC 7518 3.4, not DER. */
int acme_jws_verify(const acme_jws *j, EVP_PKEY *key, acme_problem *p);
void acme_jws_clear(acme_jws *j);

/* External account binding (RFC 8555 7.3.4): eab is the
 * "externalAccountBinding" member of a newAccount payload; it must be a JWS
 * with alg HS256 (HS384/HS512 accepted), kid the EAB key id, url equal to
 * outer_url, and payload the outer request's jwk. On success kid_out holds
 * the key id; mac_key_for is called with it to fetch the HMAC key (return
 * -1 for an unknown kid: unauthorized). */
#define ACME_EAB_KEY_MAX 256 /* the callback's buffer: *keylen is this on entry */
typedef int (*acme_eab_key_fn)(const char *kid, unsigned char *key, size_t *keylen,
                               void *arg);
int acme_eab_verify(const json_t *eab, EVP_PKEY *outer_jwk, const char *outer_url,
                    acme_eab_key_fn mac_key_for, void *arg, char kid_out[ACME_URL_MAX],
                    acme_problem *p);

/* Key rollover (RFC 8555 7.3.5): inner is the outer JWS's payload, itself a
 * JWS signed by the new key with a jwk header, the same url as the outer, no
 * nonce, and payload {"account": account_url, "oldKey": JWK of old_key}.
 * On success *new_key holds the new key (caller frees). */
int acme_keychange_verify(const json_t *inner, const char *outer_url,
                          const char *account_url, EVP_PKEY *old_key,
                          EVP_PKEY **new_key, acme_problem *p);

/* ---- nonces ------------------------------------------------------------- */

/* Nonces carry their own proof: 16 random bytes, the issue time and an HMAC
 * over both with a key every server on one store shares, base64url. Handing
 * one out needs no write; checking one needs the MAC, its age (at most
 * max_age seconds) and, for single use, the caller's insert of *id into the
 * store's used-nonce table (a unique key: a second use fails there). */
#define ACME_NONCE_KEY_LEN 32
/* out is "" in the one case it cannot be made (no random bytes). */
void acme_nonce_make(const unsigned char key[ACME_NONCE_KEY_LEN], int64_t now,
                     char out[ACME_NONCE_MAX]);
/* 0 when the MAC holds and the nonce is not older than max_age; *id is the
 * nonce's 16 random bytes in hex (33 with NUL), *issued its time. */
int acme_nonce_check(const unsigned char key[ACME_NONCE_KEY_LEN], const char *nonce,
                     int64_t now, int64_t max_age, char id[33], int64_t *issued);

/* ---- challenge validation ------------------------------------------------ */

typedef struct acme_resolve {
	const char *name; /* a DNS name (lower case) */
	const char *addr; /* an IPv4 or IPv6 literal */
} acme_resolve;

typedef struct acme_vopts {
	int http_port;              /* http-01 connects here (default 80) */
	int tlsalpn_port;           /* tls-alpn-01 connects here (default 443) */
	const acme_resolve *resolve; /* --resolve NAME=ADDR, checked first */
	size_t n_resolve;
	int timeout_ms;             /* overall deadline per attempt */
	/* The resolver dns-01 asks (--dns-resolver), made once at start and
	 * shared, read only, by every validator thread; NULL: no dns-01. */
	const struct acme_dns *dns;
} acme_vopts;

/* The key authorization: token || '.' || thumbprint (malloc'd). */
char *acme_key_authz(const char *token, EVP_PKEY *account_key);

/* identifier is a DNS name or an IP literal (is_ip). http-01 GETs
 * http://ID:PORT/.well-known/acme-challenge/TOKEN (at most 10 redirects to
 * ports 80/443 as RFC 8555 8.3 allows; body read bounded) and compares the
 * trimmed body with key_authz. tls-alpn-01 connects with ALPN "acme-tls/1"
 * and SNI ID (IP: the reverse-DNS name of RFC 8738 6), and checks the
 * self-signed certificate's single SAN and its critical acmeIdentifier
 * extension (1.3.6.1.5.5.7.1.31) holding SHA-256(key_authz). On failure the
 * problem is connection / dns / tls / incorrectResponse with a detail naming
 * the address tried and what came back. */
int acme_validate_http01(const char *identifier, int is_ip, const char *token,
                         const char *key_authz, const acme_vopts *o, acme_problem *p);
int acme_validate_tlsalpn01(const char *identifier, int is_ip, const char *key_authz,
                            const acme_vopts *o, acme_problem *p);
/* dns-01 (RFC 8555 8.4): TXT _acme-challenge.ID (a wildcard's base name) at
 * the resolver o->dns, CNAMEs followed, must hold base64url(SHA-256(key_authz)).
 * dns problem when the lookup fails or finds nothing, incorrectResponse when
 * no TXT value matches. */
int acme_validate_dns01(const char *identifier, const char *key_authz, const acme_vopts *o,
                        acme_problem *p);

#endif
