#include "tlsgate/pki.h"

#include <openssl/bio.h>
#include <openssl/buffer.h>
#include <openssl/pem.h>
#include <string.h>

static const struct {
	pki_key_type type;
	const char *name;
	const char *alg;     /* EVP_PKEY_Q_keygen algorithm */
	const char *curve;
	size_t bits;
} key_types[] = {
	{ PKI_KEY_EC_P256, "ec-p256", "EC", "P-256", 0 },
	{ PKI_KEY_EC_P384, "ec-p384", "EC", "P-384", 0 },
	{ PKI_KEY_RSA2048, "rsa2048", "RSA", NULL, 2048 },
	{ PKI_KEY_RSA3072, "rsa3072", "RSA", NULL, 3072 },
	{ PKI_KEY_RSA4096, "rsa4096", "RSA", NULL, 4096 },
	{ PKI_KEY_ED25519, "ed25519", "ED25519", NULL, 0 },
};

#define NKEY_TYPES (sizeof(key_types) / sizeof(key_types[0]))

int
pki_key_type_parse(const char *s, pki_key_type *out, tg_err *err)
{
	for (size_t i = 0; i < NKEY_TYPES; i++) {
		if (strcmp(s, key_types[i].name) == 0) {
			*out = key_types[i].type;
			return 0;
		}
	}
	return tg_err_set(err, TG_ERR_USAGE, "unknown key type '%s'; use one of %s",
	    s, PKI_KEY_TYPES);
}

const char *
pki_key_type_name(pki_key_type t)
{
	for (size_t i = 0; i < NKEY_TYPES; i++)
		if (key_types[i].type == t)
			return key_types[i].name;
	return "unknown";
}

EVP_PKEY *
pki_key_generate(pki_key_type t, tg_err *err)
{
	EVP_PKEY *key = NULL;

	for (size_t i = 0; i < NKEY_TYPES; i++) {
		if (key_types[i].type != t)
			continue;
		if (key_types[i].curve != NULL)
			key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", key_types[i].curve);
		else if (key_types[i].bits != 0)
			key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", key_types[i].bits);
		else
			key = EVP_PKEY_Q_keygen(NULL, NULL, key_types[i].alg);
		if (key == NULL)
			tg_err_ossl(err, TG_ERR_INTERNAL, "cannot generate a %s key",
			    key_types[i].name);
		return key;
	}
	tg_err_set(err, TG_ERR_USAGE, "unknown key type %d", (int)t);
	return NULL;
}

void
pki_key_describe(EVP_PKEY *key, char *buf, size_t len)
{
	char group[64];
	size_t glen = 0;

	if (key == NULL) {
		/* A certificate whose public key does not decode. */
		snprintf(buf, len, "unreadable public key");
		return;
	}
	switch (EVP_PKEY_get_base_id(key)) {
	case EVP_PKEY_RSA:
		snprintf(buf, len, "RSA %d", EVP_PKEY_get_bits(key));
		break;
	case EVP_PKEY_EC:
		if (EVP_PKEY_get_utf8_string_param(key, "group", group, sizeof(group), &glen) != 1)
			snprintf(group, sizeof(group), "%d-bit", EVP_PKEY_get_bits(key));
		snprintf(buf, len, "EC %s", strcmp(group, "prime256v1") == 0 ? "P-256" :
		    strcmp(group, "secp384r1") == 0 ? "P-384" :
		    strcmp(group, "secp521r1") == 0 ? "P-521" : group);
		break;
	case EVP_PKEY_ED25519:
		snprintf(buf, len, "Ed25519");
		break;
	default:
		snprintf(buf, len, "%s %d", OBJ_nid2sn(EVP_PKEY_get_base_id(key)),
		    EVP_PKEY_get_bits(key));
	}
}

int
pki_key_to_pem(EVP_PKEY *key, const char *pass, char **pem, size_t *len, tg_err *err)
{
	BIO *bio = BIO_new(BIO_s_secmem());
	BUF_MEM *mem;
	int rc = -1, ok;

	*pem = NULL;
	*len = 0;
	if (bio == NULL)
		return tg_err_ossl(err, TG_ERR_INTERNAL, "out of memory");
	if (pass != NULL)
		ok = PEM_write_bio_PKCS8PrivateKey(bio, key, EVP_aes_256_cbc(), NULL, 0,
		    NULL, (void *)pass);
	else
		ok = PEM_write_bio_PKCS8PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL);
	if (ok != 1) {
		tg_err_ossl(err, TG_ERR_INTERNAL, "cannot encode private key");
		goto out;
	}
	BIO_get_mem_ptr(bio, &mem);
	if ((*pem = OPENSSL_malloc(mem->length + 1)) == NULL) {
		tg_err_set(err, TG_ERR_INTERNAL, "out of memory");
		goto out;
	}
	memcpy(*pem, mem->data, mem->length);
	(*pem)[mem->length] = '\0';
	*len = mem->length;
	rc = 0;
out:
	BIO_free(bio); /* secure memory BIO wipes on free */
	return rc;
}

int
pki_key_matches_cert(EVP_PKEY *key, X509 *cert)
{
	EVP_PKEY *pub = cert != NULL ? X509_get0_pubkey(cert) : NULL;

	return key != NULL && pub != NULL && EVP_PKEY_eq(key, pub) == 1;
}
