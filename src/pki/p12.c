#include "tlsgate/pki.h"

#include <openssl/pkcs12.h>

int
pki_p12_build(X509 *cert, EVP_PKEY *key, STACK_OF(X509) *chain, const char *name,
    const char *pass, int legacy, unsigned char **der, size_t *len, tg_err *err)
{
	PKCS12 *p12;
	int nid_key, nid_cert, iter = 2048, n;

	*der = NULL;
	*len = 0;
	if (legacy) {
		/* What macOS before 14, Windows before Server 2019 and old Java read. */
		nid_key = NID_pbe_WithSHA1And3_Key_TripleDES_CBC;
		nid_cert = NID_pbe_WithSHA1And3_Key_TripleDES_CBC;
	} else {
		nid_key = NID_aes_256_cbc;
		nid_cert = NID_aes_256_cbc;
	}
	p12 = PKCS12_create(pass, name, key, cert, chain, nid_key, nid_cert, iter, -1, 0);
	if (p12 == NULL)
		return tg_err_ossl(err, TG_ERR_INTERNAL, "cannot build the PKCS#12 bundle");
	if (PKCS12_set_mac(p12, pass, -1, NULL, 0, iter, legacy ? EVP_sha1() : EVP_sha256()) != 1) {
		PKCS12_free(p12);
		return tg_err_ossl(err, TG_ERR_INTERNAL, "cannot set the PKCS#12 MAC");
	}
	n = i2d_PKCS12(p12, der);
	PKCS12_free(p12);
	if (n <= 0)
		return tg_err_ossl(err, TG_ERR_INTERNAL, "cannot encode the PKCS#12 bundle");
	*len = (size_t)n;
	return 0;
}
