/* Client-side JOSE for the load client: unpadded base64url (RFC 7515 2),
 * the P-256 account key's JWK and RFC 7638 thumbprint, flattened ES256 JWS
 * requests (RFC 8555 6.2, the signature as raw r||s per RFC 7518 3.4) and
 * the CSR of each order. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/x509v3.h>

#include "al.h"

char *al_b64u(const unsigned char *in, size_t len)
{
	static const char abc[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	char *out = malloc(len / 3 * 4 + 5);
	size_t i, o = 0;

	if (!out)
		return NULL;
	for (i = 0; i + 2 < len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
		out[o++] = abc[v >> 18 & 63];
		out[o++] = abc[v >> 12 & 63];
		out[o++] = abc[v >> 6 & 63];
		out[o++] = abc[v & 63];
	}
	if (len - i == 1) {
		uint32_t v = (uint32_t)in[i] << 16;
		out[o++] = abc[v >> 18 & 63];
		out[o++] = abc[v >> 12 & 63];
	} else if (len - i == 2) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
		out[o++] = abc[v >> 18 & 63];
		out[o++] = abc[v >> 12 & 63];
		out[o++] = abc[v >> 6 & 63];
	}
	out[o] = '\0';
	return out;
}

EVP_PKEY *al_key_new(void)
{
	return EVP_EC_gen("P-256");
}

int al_jwk(EVP_PKEY *key, char *jwk_out, size_t jwk_cap, char tp_out[44])
{
	unsigned char pt[65], md[32];
	size_t ptlen = 0;
	char *x = NULL, *y = NULL, *tp = NULL;
	int n, rc = -1;

	if (EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_PUB_KEY, pt, sizeof(pt),
	                                    &ptlen) != 1 ||
	    ptlen != 65 || pt[0] != 4)
		goto out;
	x = al_b64u(pt + 1, 32);
	y = al_b64u(pt + 33, 32);
	if (!x || !y)
		goto out;
	/* RFC 7638: the required members in lexical order, no whitespace. */
	n = snprintf(jwk_out, jwk_cap, "{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"%s\",\"y\":\"%s\"}",
	             x, y);
	if (n < 0 || (size_t)n >= jwk_cap)
		goto out;
	if (EVP_Digest(jwk_out, (size_t)n, md, NULL, EVP_sha256(), NULL) != 1)
		goto out;
	tp = al_b64u(md, sizeof(md));
	if (!tp || strlen(tp) != 43)
		goto out;
	memcpy(tp_out, tp, 44);
	rc = 0;
out:
	free(x);
	free(y);
	free(tp);
	return rc;
}

/* ES256 over data: the DER ECDSA signature turned into 64 bytes r||s. */
static int sign_es256(EVP_PKEY *key, const char *data, size_t len, unsigned char raw[64])
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char der[80];
	const unsigned char *p = der;
	size_t dlen = sizeof(der);
	ECDSA_SIG *sig = NULL;
	const BIGNUM *r, *s;
	int rc = -1;

	if (!md || EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key) != 1 ||
	    EVP_DigestSign(md, der, &dlen, (const unsigned char *)data, len) != 1)
		goto out;
	sig = d2i_ECDSA_SIG(NULL, &p, (long)dlen);
	if (!sig)
		goto out;
	ECDSA_SIG_get0(sig, &r, &s);
	if (BN_bn2binpad(r, raw, 32) != 32 || BN_bn2binpad(s, raw + 32, 32) != 32)
		goto out;
	rc = 0;
out:
	ECDSA_SIG_free(sig);
	EVP_MD_CTX_free(md);
	return rc;
}

char *al_jws(EVP_PKEY *key, const char *jwk, const char *kid, const char *nonce,
             const char *url, const char *payload)
{
	json_t *hdr = NULL, *jwk_obj = NULL;
	char *hdr_s = NULL, *p64 = NULL, *h64 = NULL, *input = NULL, *s64 = NULL, *out = NULL;
	unsigned char raw[64];
	size_t ilen, olen;

	if (!kid) {
		jwk_obj = json_loads(jwk, 0, NULL);
		if (!jwk_obj)
			goto out;
	}
	hdr = json_pack("{s:s, s:s, s:s}", "alg", "ES256", "nonce", nonce, "url", url);
	if (!hdr)
		goto out;
	if (kid ? json_object_set_new(hdr, "kid", json_string(kid))
	        : json_object_set(hdr, "jwk", jwk_obj))
		goto out;
	hdr_s = json_dumps(hdr, JSON_COMPACT);
	if (!hdr_s)
		goto out;
	h64 = al_b64u((const unsigned char *)hdr_s, strlen(hdr_s));
	p64 = payload ? al_b64u((const unsigned char *)payload, strlen(payload)) : strdup("");
	if (!h64 || !p64)
		goto out;
	ilen = strlen(h64) + 1 + strlen(p64);
	input = malloc(ilen + 1);
	if (!input)
		goto out;
	snprintf(input, ilen + 1, "%s.%s", h64, p64);
	if (sign_es256(key, input, ilen, raw) != 0)
		goto out;
	s64 = al_b64u(raw, sizeof(raw));
	if (!s64)
		goto out;
	olen = ilen + strlen(s64) + 64;
	out = malloc(olen);
	if (out)
		snprintf(out, olen, "{\"protected\":\"%s\",\"payload\":\"%s\",\"signature\":\"%s\"}",
		         h64, p64, s64);
out:
	json_decref(hdr);
	json_decref(jwk_obj);
	free(hdr_s);
	free(h64);
	free(p64);
	free(input);
	free(s64);
	return out;
}

char *al_csr_b64u(EVP_PKEY *key, const char *identifier)
{
	X509_REQ *req = X509_REQ_new();
	STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
	X509_EXTENSION *san = NULL;
	unsigned char addr[16], *der = NULL;
	char spec[AL_HOST_MAX + 8];
	char *out = NULL;
	int len;

	if (!req || !exts)
		goto out;
	snprintf(spec, sizeof(spec), "%s:%s",
	         inet_pton(AF_INET, identifier, addr) == 1 ||
	                 inet_pton(AF_INET6, identifier, addr) == 1
	             ? "IP"
	             : "DNS",
	         identifier);
	san = X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name, spec);
	if (!san || !sk_X509_EXTENSION_push(exts, san))
		goto out;
	san = NULL; /* owned by exts */
	if (X509_REQ_set_version(req, 0) != 1 || X509_REQ_set_pubkey(req, key) != 1 ||
	    X509_REQ_add_extensions(req, exts) != 1 || X509_REQ_sign(req, key, EVP_sha256()) <= 0)
		goto out;
	len = i2d_X509_REQ(req, &der);
	if (len <= 0)
		goto out;
	out = al_b64u(der, (size_t)len);
out:
	OPENSSL_free(der);
	X509_EXTENSION_free(san);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	X509_REQ_free(req);
	return out;
}
