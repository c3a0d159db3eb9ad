/* Account key rollover (RFC 8555 7.3.5): the outer request, signed by the
 * current key, carries an inner JWS signed by the new key, which names the
 * account and the current key. Both keys thus agree to the change. */
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>

#include "acme/acme_int.h"

#define WHAT "keyChange inner JWS"

/* {"account": URL, "oldKey": JWK}: the account the request is for and the
 * key it has now. */
static int
check_payload(const json_t *payload, const char *account_url, EVP_PKEY *old_key, acme_problem *p)
{
	const json_t *acct = json_object_get(payload, "account");
	EVP_PKEY *named = NULL;
	acme_problem why = { 0 };
	int rc = -1;

	if (!json_is_string(acct) || account_url == NULL ||
	    strcmp(json_string_value(acct), account_url) != 0)
		return acme_problem_set(p, ACME_P_MALFORMED,
		    WHAT ": payload \"account\" must be the URL of the account the outer request is "
		    "signed for (RFC 8555 7.3.5)");
	if ((named = acme_jwk_to_key(json_object_get(payload, "oldKey"), &why)) == NULL)
		return acme_problem_set(p, ACME_P_MALFORMED,
		    WHAT ": payload \"oldKey\" is not the account's key: %s", why.detail);
	if (old_key == NULL || EVP_PKEY_eq(named, old_key) != 1) {
		acme_problem_set(p, ACME_P_UNAUTHORIZED,
		    WHAT ": payload \"oldKey\" is not the account's current key");
		goto out;
	}
	rc = 0;
out:
	ERR_clear_error();
	EVP_PKEY_free(named);
	return rc;
}

int
acme_keychange_verify(const json_t *inner, const char *outer_url, const char *account_url,
    EVP_PKEY *old_key, EVP_PKEY **new_key, acme_problem *p)
{
	acme_jws_parts parts;
	const char *alg, *url, *nonce, *kid;
	EVP_PKEY *key = NULL;
	int rc = -1;

	*new_key = NULL;
	if (acme_jws_split(inner, WHAT, &parts, p) != 0)
		return -1;
	if (acme_header_str(parts.header, "alg", 16, WHAT, &alg, p) != 0 ||
	    acme_jws_check_alg(alg, WHAT, p) != 0 || acme_jws_check_ext(parts.header, WHAT, p) != 0 ||
	    acme_header_str(parts.header, "url", ACME_URL_MAX, WHAT, &url, p) != 0 ||
	    acme_header_str(parts.header, "nonce", ACME_NONCE_MAX, WHAT, &nonce, p) != 0 ||
	    acme_header_str(parts.header, "kid", ACME_URL_MAX, WHAT, &kid, p) != 0)
		goto out;
	if (nonce != NULL || kid != NULL) {
		acme_problem_set(p, ACME_P_MALFORMED, WHAT ": the protected header has \"%s\"; RFC "
		    "8555 7.3.5 wants jwk (the new key), alg and url only", nonce != NULL ? "nonce" : "kid");
		goto out;
	}
	if (acme_same_url(url, outer_url, WHAT, "keyChange URL", "RFC 8555 7.3.5", p) != 0)
		goto out;
	if (json_object_get(parts.header, "jwk") == NULL) {
		acme_problem_set(p, ACME_P_MALFORMED,
		    WHAT ": the protected header has no \"jwk\" (the new key)");
		goto out;
	}
	if ((key = acme_jwk_to_key(json_object_get(parts.header, "jwk"), p)) == NULL ||
	    acme_sig_verify(alg, key, (const unsigned char *)parts.signing_input,
	        parts.signing_input_len, parts.sig, parts.sig_len, WHAT, p) != 0)
		goto out;
	if (parts.payload == NULL) {
		acme_problem_set(p, ACME_P_MALFORMED,
		    WHAT ": the payload is empty; it must hold \"account\" and \"oldKey\"");
		goto out;
	}
	if (check_payload(parts.payload, account_url, old_key, p) != 0)
		goto out;
	if (EVP_PKEY_eq(key, old_key) == 1) {
		acme_problem_set(p, ACME_P_MALFORMED,
		    WHAT ": the new key is the account's current key; make a new key to roll over to");
		goto out;
	}
	/* Handed over to the caller. */
	*new_key = key;
	key = NULL;
	rc = 0;
out:
	ERR_clear_error();
	EVP_PKEY_free(key);
	acme_jws_parts_clear(&parts);
	return rc;
}
