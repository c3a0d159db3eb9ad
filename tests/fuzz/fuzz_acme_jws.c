/* libFuzzer target for ACME request bodies: acme_jws_parse on any bytes;
 * when it accepts, the signature is verified with the embedded jwk (or a
 * fixed account key for the kid form), the jwk goes back to JSON and to a
 * key again (the same key, a 43-character thumbprint), and the payload's
 * externalAccountBinding and keyChange shapes go through their checks.
 * Every refusal carries a problem whose document is valid JSON. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "acme/acme_proto.h"
#include "fuzz_acme.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
eab_key(const char *kid, unsigned char *key, size_t *keylen, void *arg)
{
	if (strcmp(kid, "kid-1") != 0)
		return -1;
	memset(key, 0x42, 32);
	*keylen = 32;
	return 0;
}

static void
check_jwk(EVP_PKEY *k)
{
	acme_problem p = { 0 };
	json_t *j = acme_jwk_from_key(k);
	EVP_PKEY *back = acme_jwk_to_key(j, &p);
	char tp[44];

	/* OpenSSL's RSA public key check (SP 800-56B) runs Miller-Rabin with
	 * random bases on n and refuses when a base happens to reveal a factor:
	 * for a made-up n that is not a product of two large primes the same
	 * key can pass once and fail the next time. Only that refusal is let
	 * through, and only for RSA. */
	if (back == NULL && EVP_PKEY_get_base_id(k) == EVP_PKEY_RSA &&
	    strstr(p.detail, "public key check") != NULL) {
		json_decref(j);
		return;
	}
	if (back == NULL || EVP_PKEY_eq(back, k) != 1 || acme_jwk_thumbprint(k, tp) != 0 ||
	    strlen(tp) != 43)
		abort();
	EVP_PKEY_free(back);
	json_decref(j);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static EVP_PKEY *account;
	static const unsigned char nonce_key[ACME_NONCE_KEY_LEN];
	acme_problem p = { 0 };
	acme_jws j;
	EVP_PKEY *key, *nk = NULL;
	const json_t *eab;
	char kid[ACME_URL_MAX], id[33];
	int64_t issued;
	char *body;

	if (account == NULL && (account = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256")) == NULL)
		abort();
	/* A copy of exactly the bytes: ASan sees any read past them. */
	body = malloc(size + 1);
	memcpy(body, data, size);
	if (acme_jws_parse(body, size, &j, &p) != 0) {
		if (j.jwk != NULL || j.payload != NULL || j.sig != NULL || j.signing_input != NULL)
			abort();
		check_problem(&p);
		free(body);
		return 0;
	}
	if ((j.jwk == NULL) == (j.kid[0] == '\0') || j.post_as_get != (j.payload == NULL))
		abort();
	key = j.jwk != NULL ? j.jwk : account;
	if (acme_jws_verify(&j, key, &p) != 0)
		check_problem(&p);
	if (j.jwk != NULL)
		check_jwk(j.jwk);
	if (acme_nonce_check(nonce_key, j.nonce, 0, 300, id, &issued) == 0)
		abort(); /* no input forges the MAC */
	if (j.payload != NULL) {
		eab = json_object_get(j.payload, "externalAccountBinding");
		memset(&p, 0, sizeof(p));
		if (eab != NULL && acme_eab_verify(eab, key, j.url, eab_key, NULL, kid, &p) != 0)
			check_problem(&p);
		memset(&p, 0, sizeof(p));
		if (json_object_get(j.payload, "protected") != NULL) {
			if (acme_keychange_verify(j.payload, j.url, "https://ca.example/acme/acct/1", key,
			        &nk, &p) == 0) {
				if (nk == NULL || EVP_PKEY_eq(nk, key) == 1)
					abort();
				EVP_PKEY_free(nk);
			} else {
				if (nk != NULL)
					abort();
				check_problem(&p);
			}
		}
	}
	acme_jws_clear(&j);
	free(body);
	return 0;
}
