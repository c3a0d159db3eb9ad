#include "tlsgate/pki.h"

#include <openssl/x509v3.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static const struct {
	int code;
	const char *name;
} reasons[] = {
	{ CRL_REASON_UNSPECIFIED, "unspecified" },
	{ CRL_REASON_KEY_COMPROMISE, "keyCompromise" },
	{ CRL_REASON_CA_COMPROMISE, "CACompromise" },
	{ CRL_REASON_AFFILIATION_CHANGED, "affiliationChanged" },
	{ CRL_REASON_SUPERSEDED, "superseded" },
	{ CRL_REASON_CESSATION_OF_OPERATION, "cessationOfOperation" },
	{ CRL_REASON_CERTIFICATE_HOLD, "certificateHold" },
	{ CRL_REASON_PRIVILEGE_WITHDRAWN, "privilegeWithdrawn" },
};

int
pki_reason_parse(const char *s, int *reason, tg_err *err)
{
	for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++) {
		if (strcasecmp(s, reasons[i].name) == 0) {
			*reason = reasons[i].code;
			return 0;
		}
	}
	return tg_err_set(err, TG_ERR_USAGE,
	    "unknown revocation reason '%s'; use unspecified, keyCompromise, CACompromise, "
	    "affiliationChanged, superseded, cessationOfOperation, certificateHold or "
	    "privilegeWithdrawn", s);
}

const char *
pki_reason_name(int reason)
{
	for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
		if (reasons[i].code == reason)
			return reasons[i].name;
	return "unspecified";
}

static int
add_revoked(X509_CRL *crl, const pki_revoked *r)
{
	X509_REVOKED *rev = X509_REVOKED_new();
	ASN1_TIME *when = ASN1_TIME_set(NULL, (time_t)r->revoked_at);
	BIGNUM *bn = NULL;
	ASN1_INTEGER *sn = NULL;
	ASN1_ENUMERATED *code = NULL;
	int rc = -1;

	if (rev == NULL || when == NULL || BN_hex2bn(&bn, r->serial_hex) == 0 ||
	    (sn = BN_to_ASN1_INTEGER(bn, NULL)) == NULL)
		goto out;
	if (X509_REVOKED_set_serialNumber(rev, sn) != 1 ||
	    X509_REVOKED_set_revocationDate(rev, when) != 1)
		goto out;
	if (r->reason >= 0 && r->reason != CRL_REASON_UNSPECIFIED) {
		if ((code = ASN1_ENUMERATED_new()) == NULL ||
		    ASN1_ENUMERATED_set(code, r->reason) != 1 ||
		    X509_REVOKED_add1_ext_i2d(rev, NID_crl_reason, code, 0, 0) != 1)
			goto out;
	}
	if (X509_CRL_add0_revoked(crl, rev) != 1)
		goto out;
	rev = NULL; /* owned by the CRL */
	rc = 0;
out:
	X509_REVOKED_free(rev);
	ASN1_TIME_free(when);
	ASN1_INTEGER_free(sn);
	ASN1_ENUMERATED_free(code);
	BN_free(bn);
	return rc;
}

X509_CRL *
pki_crl_build(X509 *ca, EVP_PKEY *ca_key, const pki_revoked *revoked, size_t nrevoked,
    uint64_t crl_number, int64_t valid_secs, tg_err *err)
{
	X509_CRL *crl = X509_CRL_new();
	ASN1_TIME *last = NULL, *next = NULL;
	ASN1_INTEGER *num = NULL;
	X509V3_CTX ctx;
	X509_EXTENSION *aki = NULL;
	time_t now = time(NULL);

	if (crl == NULL || (last = ASN1_TIME_set(NULL, now - 60)) == NULL ||
	    (next = ASN1_TIME_set(NULL, now + (time_t)valid_secs)) == NULL ||
	    (num = ASN1_INTEGER_new()) == NULL || ASN1_INTEGER_set_uint64(num, crl_number) != 1)
		goto fail;
	if (X509_CRL_set_version(crl, X509_CRL_VERSION_2) != 1 ||
	    X509_CRL_set_issuer_name(crl, X509_get_subject_name(ca)) != 1 ||
	    X509_CRL_set1_lastUpdate(crl, last) != 1 ||
	    X509_CRL_set1_nextUpdate(crl, next) != 1)
		goto fail;
	for (size_t i = 0; i < nrevoked; i++)
		if (add_revoked(crl, &revoked[i]) != 0)
			goto fail;
	X509_CRL_sort(crl);
	if (X509_CRL_add1_ext_i2d(crl, NID_crl_number, num, 0, 0) != 1)
		goto fail;
	X509V3_set_ctx(&ctx, ca, NULL, NULL, crl, 0);
	if ((aki = X509V3_EXT_conf_nid(NULL, &ctx, NID_authority_key_identifier,
		 "keyid:always")) == NULL || X509_CRL_add_ext(crl, aki, -1) != 1)
		goto fail;
	if (X509_CRL_sign(crl, ca_key,
		EVP_PKEY_get_base_id(ca_key) == EVP_PKEY_ED25519 ? NULL : EVP_sha256()) <= 0)
		goto fail;
	X509_EXTENSION_free(aki);
	ASN1_TIME_free(last);
	ASN1_TIME_free(next);
	ASN1_INTEGER_free(num);
	return crl;
fail:
	tg_err_ossl(err, TG_ERR_INTERNAL, "cannot build the CRL");
	X509_EXTENSION_free(aki);
	ASN1_TIME_free(last);
	ASN1_TIME_free(next);
	ASN1_INTEGER_free(num);
	X509_CRL_free(crl);
	return NULL;
}
