#include <stdlib.h>

#include "cli.h"
#include "tlsgate/ca.h"
#include "tlsgate/util.h"

static const char crl_help[] =
"Usage: tlsgate crl --dir DIR [--days N] [--out FILE] [--force]\n"
"\n"
"Publishes the certificate revocation list of the CA in DIR: every certificate\n"
"revoked with `tlsgate cert revoke`, signed by the issuing CA, with a CRL number\n"
"one higher than the last and a nextUpdate N days ahead (default 30). Services\n"
"reject a CRL past its nextUpdate, so publish again before then (cron).\n"
"Written to DIR/crl.pem (replaced atomically) unless --out is given.\n"
"An encrypted CA key's passphrase: --ca-pass-file F (or $TLSGATE_CA_PASS_FILE).\n"
"\n"
"Give the CRL to the services: PostgreSQL ssl_crl_file, nginx ssl_crl,\n"
"tlsgate serve --crl, openssl verify -crl_check -CRLfile.\n"
"\n"
"Example:\n"
"  tlsgate crl --dir pki --days 7\n";

static int
crl_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "days", required_argument, NULL, 'D' },
		{ "out", required_argument, NULL, 'o' },
		{ "force", no_argument, NULL, 'f' },
		{ "ca-pass-file", required_argument, NULL, 'c' },
		{ NULL, 0, NULL, 0 },
	};
	const char *dir_opt = NULL, *out = NULL, *ca_pass = NULL;
	unsigned long days = 30;
	tg_crl_result r;
	int c, rc, force = 0;
	tg_ca *ca;
	tg_err err = { 0 };

	while ((c = cli_getopt(argc, argv, opts, "crl")) != -1) {
		switch (c) {
		case 'd': dir_opt = optarg; break;
		case 'D':
			if (util_parse_uint(optarg, "--days", 3650, &days, &err) != 0)
				return cli_fail(&err);
			break;
		case 'o': out = optarg; break;
		case 'f': force = 1; break;
		case 'c': ca_pass = optarg; break;
		default: return 2;
		}
	}
	if (optind != argc)
		return cli_usage("crl", "unexpected argument '%s'", argv[optind]);
	if ((ca = cli_open_ca(dir_opt, ca_pass, TG_CA_NEED_KEY, "crl", &rc)) == NULL)
		return rc;
	if (tg_ca_crl(ca, (int64_t)days * 86400, out, force, &r, &err) != 0) {
		rc = cli_fail(&err);
	} else {
		printf("Wrote CRL number %llu with %zu revoked certificate%s to %s%s, valid %lu days\n",
		    (unsigned long long)r.number, r.revoked, r.revoked == 1 ? "" : "s",
		    out ? out : tg_ca_dir(ca), out ? "" : "/crl.pem", days);
		if (r.with_root)
			printf("  followed by the root's CRL number %llu (%zu revoked intermediates), "
			       "for services that check the whole chain\n",
			    (unsigned long long)r.root_number, r.root_revoked);
		if (r.root_offline)
			fprintf(stderr, "tlsgate: warning: the root key is not in %s/private, so only "
			    "the intermediate's CRL was written; services that check CRLs for the whole "
			    "chain (PostgreSQL ssl_crl_file, nginx ssl_crl) will refuse every client "
			    "until the root's CRL is added\n", tg_ca_dir(ca));
		rc = 0;
	}
	tg_ca_free(ca);
	return rc;
}

const struct cli_cmd cli_crl_cmd = { "crl", "publish the CRL of a CA", crl_help, crl_run, NULL };
