#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "tlsgate/pki.h"

static const char verify_help[] =
"Usage: tlsgate verify CERT --ca FILE [--untrusted FILE] [--crl FILE]...\n"
"                      [--host NAME] [--purpose server|client]\n"
"\n"
"Verifies CERT the way a TLS peer would: the chain up to a root in --ca, each\n"
"signature, validity dates, X.509 strictness, the purpose (EKU), the host name or\n"
"IP (RFC 6125: SANs only, one-label wildcards) and, with --crl, revocation.\n"
"Certificates after the first in CERT are used as intermediates, like a served\n"
"chain. On failure it says which certificate failed, why, and how to fix it.\n"
"\n"
"Example:\n"
"  tlsgate verify pki/issued/db.internal.crt --ca pki/root.crt --host db.internal\n"
"  tlsgate verify alice.crt --ca pki/root.crt --crl pki/crl.pem --purpose client\n";

static int
verify_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "ca", required_argument, NULL, 'c' },
		{ "untrusted", required_argument, NULL, 'u' },
		{ "crl", required_argument, NULL, 'r' },
		{ "host", required_argument, NULL, 'H' },
		{ "purpose", required_argument, NULL, 'p' },
		{ NULL, 0, NULL, 0 },
	};
	const char *ca = NULL, *untrusted = NULL, *crls[16];
	size_t ncrls = 0;
	pki_verify_opts o = { .x509_strict = 1 };
	STACK_OF(X509) *chain = NULL, *extra = NULL;
	X509 *leaf = NULL;
	char cn[PKI_NAME_MAX];
	tg_err err = { 0 };
	int c, rc = 1;

	while ((c = cli_getopt(argc, argv, opts, "verify")) != -1) {
		switch (c) {
		case 'c': ca = optarg; break;
		case 'u': untrusted = optarg; break;
		case 'r':
			if (ncrls == 16)
				return cli_usage("verify", "at most 16 --crl");
			crls[ncrls++] = optarg;
			break;
		case 'H': o.host = optarg; break;
		case 'p':
			if (strcmp(optarg, "server") == 0)
				o.purpose = PKI_PURPOSE_SERVER;
			else if (strcmp(optarg, "client") == 0)
				o.purpose = PKI_PURPOSE_CLIENT;
			else
				return cli_usage("verify", "--purpose is server or client");
			break;
		default: return 2;
		}
	}
	if (optind + 1 != argc || ca == NULL)
		return cli_usage("verify", "give one CERT and --ca FILE");
	if (pki_load_certs(argv[optind], &chain, &err) != 0 ||
	    pki_load_certs(ca, &o.trusted, &err) != 0)
		goto fail;
	leaf = sk_X509_shift(chain);
	o.untrusted = chain;
	if (untrusted != NULL) {
		if (pki_load_certs(untrusted, &extra, &err) != 0)
			goto fail;
		while (sk_X509_num(extra) > 0)
			sk_X509_push(chain, sk_X509_shift(extra));
	}
	if (ncrls > 0 && (o.crls = sk_X509_CRL_new_null()) == NULL)
		goto fail;
	for (size_t i = 0; i < ncrls; i++)
		if (pki_load_crls(crls[i], o.crls, &err) != 0)
			goto fail;
	if (pki_verify(leaf, &o, &err) != 0) {
		tg_err_prefix(&err, "%s", argv[optind]);
		goto fail;
	}
	pki_cert_cn(leaf, cn, sizeof(cn));
	printf("%s: OK (CN=%s%s%s%s)\n", argv[optind], cli_safe(0, cn), o.host ? ", covers " : "",
	    o.host ? o.host : "", ncrls ? ", not revoked" : "");
	rc = 0;
	goto out;
fail:
	rc = cli_fail(&err);
out:
	X509_free(leaf);
	sk_X509_pop_free(chain, X509_free);
	sk_X509_pop_free(extra, X509_free);
	sk_X509_pop_free(o.trusted, X509_free);
	sk_X509_CRL_pop_free(o.crls, X509_CRL_free);
	return rc;
}

const struct cli_cmd cli_verify_cmd = { "verify", "verify a certificate chain", verify_help,
	verify_run, NULL };
