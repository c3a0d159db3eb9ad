/* Nonces that need no state to hand out (RFC 8555 6.5): 16 random bytes and
 * the issue time, MACed with a key the servers of one store share. Any of
 * them can check any nonce; single use is the caller's insert of the
 * nonce's id into the store (a unique key). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "acme/acme_int.h"

#define NONCE_RAND 16
#define NONCE_TIME 8
#define NONCE_MAC 32
#define NONCE_RAW (NONCE_RAND + NONCE_TIME + NONCE_MAC)
#define NONCE_B64 ((NONCE_RAW * 4 + 2) / 3) /* 75 characters, unpadded */
/* Servers sharing a store may disagree a little on the time: a nonce
 * issued this far in the checker's future is still taken. */
#define NONCE_SKEW 60

_Static_assert(NONCE_B64 < ACME_NONCE_MAX, "a nonce fits ACME_NONCE_MAX");

static int
mac(const unsigned char key[ACME_NONCE_KEY_LEN], const unsigned char *msg,
    unsigned char out[NONCE_MAC])
{
	unsigned int len = 0;

	if (HMAC(EVP_sha256(), key, ACME_NONCE_KEY_LEN, msg, NONCE_RAND + NONCE_TIME, out, &len) ==
	        NULL || len != NONCE_MAC) {
		ERR_clear_error();
		return -1;
	}
	return 0;
}

void
acme_nonce_make(const unsigned char key[ACME_NONCE_KEY_LEN], int64_t now,
    char out[ACME_NONCE_MAX])
{
	unsigned char raw[NONCE_RAW];
	uint64_t t = (uint64_t)now;
	char *b64 = NULL;
	int i;

	out[0] = '\0';
	if (RAND_bytes(raw, NONCE_RAND) != 1) {
		ERR_clear_error();
		return;
	}
	for (i = 0; i < NONCE_TIME; i++)
		raw[NONCE_RAND + i] = (unsigned char)(t >> (8 * (NONCE_TIME - 1 - i)));
	if (mac(key, raw, raw + NONCE_RAND + NONCE_TIME) == 0 &&
	    (b64 = acme_b64u_encode(raw, sizeof(raw))) != NULL)
		memcpy(out, b64, NONCE_B64 + 1);
	free(b64);
}

int
acme_nonce_check(const unsigned char key[ACME_NONCE_KEY_LEN], const char *nonce, int64_t now,
    int64_t max_age, char id[33], int64_t *issued)
{
	unsigned char *raw = NULL, want[NONCE_MAC];
	size_t len = 0, i;
	uint64_t t = 0;
	int rc = -1;

	id[0] = '\0';
	*issued = 0;
	if (nonce == NULL || strnlen(nonce, NONCE_B64 + 1) != NONCE_B64 ||
	    acme_b64u_decode(nonce, NONCE_B64, &raw, &len) != 0 || len != NONCE_RAW)
		goto out;
	if (mac(key, raw, want) != 0 || CRYPTO_memcmp(want, raw + NONCE_RAND + NONCE_TIME, NONCE_MAC) != 0)
		goto out;
	for (i = 0; i < NONCE_TIME; i++)
		t = t << 8 | raw[NONCE_RAND + i];
	if ((int64_t)t > now + NONCE_SKEW || now - (int64_t)t > max_age)
		goto out;
	for (i = 0; i < NONCE_RAND; i++)
		snprintf(id + 2 * i, 3, "%02x", raw[i]);
	*issued = (int64_t)t;
	rc = 0;
out:
	free(raw);
	return rc;
}
