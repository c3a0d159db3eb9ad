/* Chain verification as a TLS peer does it, with the failure explained. */
#include "tlsgate/pki.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

/* What to do about the common verification failures. */
static const struct {
	int code;
	const char *fix;
} verify_fixes[] = {
	{ X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY,
	  "the issuing CA is not in the trusted file and no intermediate was given: pass the "
	  "right --ca, or the intermediates with --untrusted (a served chain must include them)" },
	{ X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT,
	  "an issuer in the chain is missing: add the intermediate to --untrusted or the CA file" },
	{ X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE,
	  "the certificate was not signed by any CA given: pass the CA that issued it" },
	{ X509_V_ERR_CERT_HAS_EXPIRED,
	  "renew it: `tlsgate cert renew --dir DIR` or re-issue with `tlsgate cert issue NAME --force`" },
	{ X509_V_ERR_CERT_NOT_YET_VALID,
	  "check the clock of this machine and of the machine that issued it" },
	{ X509_V_ERR_CERT_REVOKED,
	  "the certificate was revoked; issue a new one with `tlsgate cert issue NAME --force`" },
	{ X509_V_ERR_UNABLE_TO_GET_CRL,
	  "no CRL from this certificate's issuer was given; every CA of the chain needs one "
	  "(PostgreSQL and nginx check them all): publish with `tlsgate crl --dir DIR`, which "
	  "includes the root's CRL when an intermediate issues" },
	{ X509_V_ERR_CRL_HAS_EXPIRED,
	  "the CRL is past its nextUpdate: publish a fresh one with `tlsgate crl --dir DIR`" },
	{ X509_V_ERR_CRL_SIGNATURE_FAILURE,
	  "the CRL was not signed by this CA: use the CRL that `tlsgate crl` wrote for this CA" },
	{ X509_V_ERR_HOSTNAME_MISMATCH,
	  "the name is not among the certificate's SANs: re-issue with `--san NAME`" },
	{ X509_V_ERR_IP_ADDRESS_MISMATCH,
	  "the address is not among the certificate's IP SANs: re-issue with `--san IP:ADDR`" },
	{ X509_V_ERR_INVALID_PURPOSE,
	  "the certificate's extended key usage does not allow this purpose: issue it with "
	  "--server, --client or --both as needed" },
	{ X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT,
	  "the certificate is self-signed: trust it explicitly (--ca CERT) or issue it from a CA" },
	{ X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN,
	  "the chain ends in a root that is not trusted: pass that root with --ca" },
	{ X509_V_ERR_CERT_SIGNATURE_FAILURE,
	  "a signature in the chain does not verify: the file is corrupt or was altered" },
};

static const char *
fix_for(int code)
{
	for (size_t i = 0; i < sizeof(verify_fixes) / sizeof(verify_fixes[0]); i++)
		if (verify_fixes[i].code == code)
			return verify_fixes[i].fix;
	return "inspect the chain with `tlsgate inspect FILE`";
}

static int
set_host(X509_VERIFY_PARAM *param, const char *host)
{
	unsigned char buf[16];

	if (inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1)
		return X509_VERIFY_PARAM_set1_ip_asc(param, host);
	X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	return X509_VERIFY_PARAM_set1_host(param, host, 0);
}

int
pki_verify(X509 *leaf, const pki_verify_opts *o, tg_err *err)
{
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	X509_VERIFY_PARAM *param;
	unsigned long flags = 0;
	int rc = -1, code, depth;
	char cn[PKI_NAME_MAX] = "";
	X509 *bad;

	if (store == NULL || ctx == NULL) {
		tg_err_set(err, TG_ERR_INTERNAL, "out of memory");
		goto out;
	}
	for (int i = 0; o->trusted != NULL && i < sk_X509_num(o->trusted); i++)
		X509_STORE_add_cert(store, sk_X509_value(o->trusted, i));
	for (int i = 0; o->crls != NULL && i < sk_X509_CRL_num(o->crls); i++)
		X509_STORE_add_crl(store, sk_X509_CRL_value(o->crls, i));
	/* Like PostgreSQL and nginx: once CRLs are given, every certificate of
	 * the chain must be covered by one, not just the leaf. */
	if (o->crls != NULL && sk_X509_CRL_num(o->crls) > 0)
		flags |= X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL;
	if (o->x509_strict)
		flags |= X509_V_FLAG_X509_STRICT;
	/* Trust an intermediate given as trusted, like `openssl verify -partial_chain`
	 * does not by default: we only trust roots unless told otherwise. */
	X509_STORE_set_flags(store, flags);
	if (X509_STORE_CTX_init(ctx, store, leaf, o->untrusted) != 1) {
		tg_err_ossl(err, TG_ERR_INTERNAL, "cannot set up verification");
		goto out;
	}
	param = X509_STORE_CTX_get0_param(ctx);
	if (o->purpose != PKI_PURPOSE_ANY)
		X509_STORE_CTX_set_purpose(ctx, o->purpose == PKI_PURPOSE_SERVER ?
		    X509_PURPOSE_SSL_SERVER : X509_PURPOSE_SSL_CLIENT);
	if (o->host != NULL && set_host(param, o->host) != 1) {
		tg_err_set(err, TG_ERR_USAGE, "bad host name '%s'", o->host);
		goto out;
	}
	if (X509_verify_cert(ctx) == 1) {
		rc = 0;
		goto out;
	}
	code = X509_STORE_CTX_get_error(ctx);
	depth = X509_STORE_CTX_get_error_depth(ctx);
	bad = X509_STORE_CTX_get_current_cert(ctx);
	if (bad != NULL)
		pki_cert_cn(bad, cn, sizeof(cn));
	tg_err_set(err, TG_ERR_VERIFY, "verification failed at depth %d (CN=%s): %s; fix: %s",
	    depth, cn, X509_verify_cert_error_string(code), fix_for(code));
out:
	ERR_clear_error();
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	return rc;
}
