/* External account binding (RFC 8555 7.3.4): a JWS inside newAccount's
 * payload, MACed with a key the CA handed out beforehand, binding the new
 * account's key to that key id. */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "acme/acme_int.h"

#define WHAT "externalAccountBinding"

static const struct {
	const char *alg;
	const char *md;
} macs[] = {
	{ "HS256", "SHA256" },
	{ "HS384", "SHA384" },
	{ "HS512", "SHA512" },
};

/* The MAC over the signing input with the kid's key, compared in constant
 * time. */
static int
check_mac(const acme_jws_parts *parts, const char *md, const char *kid,
    acme_eab_key_fn mac_key_for, void *arg, acme_problem *p)
{
	unsigned char key[ACME_EAB_KEY_MAX], mac[EVP_MAX_MD_SIZE];
	size_t keylen = sizeof(key);
	unsigned int maclen = 0;
	const EVP_MD *m = EVP_get_digestbyname(md);
	int rc = -1;

	if (mac_key_for == NULL || mac_key_for(kid, key, &keylen, arg) != 0) {
		acme_problem_set(p, ACME_P_UNAUTHORIZED,
		    WHAT ": no EAB key has the id given as kid; ask the CA for one "
		    "(tlsgate acme eab add)");
		goto out;
	}
	if (keylen == 0 || keylen > sizeof(key)) {
		acme_problem_set(p, ACME_P_SERVER_INTERNAL, WHAT ": the stored EAB key is unusable");
		goto out;
	}
	if (m == NULL || HMAC(m, key, (int)keylen, (const unsigned char *)parts->signing_input,
	                     parts->signing_input_len, mac, &maclen) == NULL) {
		ERR_clear_error();
		acme_problem_set(p, ACME_P_SERVER_INTERNAL, WHAT ": cannot compute the MAC");
		goto out;
	}
	if (parts->sig_len != maclen || CRYPTO_memcmp(parts->sig, mac, maclen) != 0) {
		acme_problem_set(p, ACME_P_UNAUTHORIZED,
		    WHAT ": the MAC does not verify with the EAB key of this kid; check the HMAC key "
		    "given to the client (base64url, as `tlsgate acme eab add` printed it)");
		goto out;
	}
	rc = 0;
out:
	OPENSSL_cleanse(key, sizeof(key));
	OPENSSL_cleanse(mac, sizeof(mac));
	return rc;
}

int
acme_eab_verify(const json_t *eab, EVP_PKEY *outer_jwk, const char *outer_url,
    acme_eab_key_fn mac_key_for, void *arg, char kid_out[ACME_URL_MAX], acme_problem *p)
{
	acme_jws_parts parts;
	const char *alg, *kid, *url, *nonce;
	EVP_PKEY *bound = NULL;
	acme_problem why = { 0 };
	size_t i;
	int rc = -1;

	kid_out[0] = '\0';
	if (acme_jws_split(eab, WHAT, &parts, p) != 0)
		return -1;
	if (acme_header_str(parts.header, "alg", 16, WHAT, &alg, p) != 0 ||
	    acme_jws_check_ext(parts.header, WHAT, p) != 0 ||
	    acme_header_str(parts.header, "kid", ACME_URL_MAX, WHAT, &kid, p) != 0 ||
	    acme_header_str(parts.header, "url", ACME_URL_MAX, WHAT, &url, p) != 0 ||
	    acme_header_str(parts.header, "nonce", ACME_NONCE_MAX, WHAT, &nonce, p) != 0)
		goto out;
	for (i = 0; alg != NULL && i < sizeof(macs) / sizeof(macs[0]); i++)
		if (strcmp(alg, macs[i].alg) == 0)
			break;
	if (alg == NULL || i == sizeof(macs) / sizeof(macs[0])) {
		acme_problem_set(p, ACME_P_MALFORMED,
		    WHAT ": alg must be a MAC (HS256, HS384 or HS512) with the EAB key");
		goto out;
	}
	if (kid == NULL || kid[0] == '\0') {
		acme_problem_set(p, ACME_P_MALFORMED, WHAT ": the protected header has no \"kid\" "
		    "(the EAB key id the CA gave)");
		goto out;
	}
	if (nonce != NULL || json_object_get(parts.header, "jwk") != NULL) {
		acme_problem_set(p, ACME_P_MALFORMED, WHAT ": the protected header has \"%s\"; "
		    "RFC 8555 7.3.4 allows only alg, kid and url", nonce != NULL ? "nonce" : "jwk");
		goto out;
	}
	if (acme_same_url(url, outer_url, WHAT, "newAccount URL", "RFC 8555 7.3.4", p) != 0)
		goto out;
	/* The MAC first: a payload is only worth reading from a client who
	 * holds the key. */
	if (check_mac(&parts, macs[i].md, kid, mac_key_for, arg, p) != 0)
		goto out;
	if (parts.payload == NULL) {
		acme_problem_set(p, ACME_P_MALFORMED, WHAT ": the payload is empty; it must be the "
		    "account key's JWK");
		goto out;
	}
	if ((bound = acme_jwk_to_key(parts.payload, &why)) == NULL) {
		acme_problem_set(p, ACME_P_MALFORMED, WHAT ": the payload is not the account key: %s",
		    why.detail);
		goto out;
	}
	if (outer_jwk == NULL || EVP_PKEY_eq(bound, outer_jwk) != 1) {
		ERR_clear_error();
		acme_problem_set(p, ACME_P_MALFORMED,
		    WHAT ": the payload is another key than the request's jwk; bind the account key");
		goto out;
	}
	memcpy(kid_out, kid, strlen(kid) + 1);
	rc = 0;
out:
	EVP_PKEY_free(bound);
	acme_jws_parts_clear(&parts);
	return rc;
}
