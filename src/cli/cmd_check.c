/* tlsgate check: files, directories and live endpoints. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "tlsgate/check.h"
#include "tlsgate/gateway.h"
#include "tlsgate/util.h"

static const char check_help[] =
"Usage: tlsgate check [PATH]... [OPTIONS]\n"
"       tlsgate check --prosody-config FILE [DIR] [OPTIONS]\n"
"       tlsgate check --pg-config FILE [OPTIONS]\n"
"       tlsgate check --nginx-config FILE [OPTIONS]\n"
"       tlsgate check --mosquitto-config FILE [OPTIONS]\n"
"       tlsgate check endpoint HOST:PORT [--sni NAME] [--ca FILE] [--starttls PROTO]\n"
"                              [--cert FILE --key FILE] [OPTIONS]\n"
"\n"
"Finds the certificate mistakes that break TLS services and says how to fix\n"
"each one, in files, in the files a service's config names (Prosody, nginx,\n"
"PostgreSQL, mosquitto), or on a live endpoint. PATH is a cert, chain, key, CRL\n"
"or PKCS#12 file, or a directory laid out the way services expect: a Prosody\n"
"certs dir (HOST.crt + HOST.key, HOST/fullchain.pem + HOST/privkey.pem), a\n"
"certbot live/NAME dir, a PostgreSQL data dir (server.crt, server.key, root.crt,\n"
"root.crl) or a tlsgate CA dir.\n"
"Keys are paired with their certs by name and by public key.\n"
"\n"
"Options:\n"
"  -H, --host NAME       a name the server cert must cover (repeat for each\n"
"                        VirtualHost/Component); HOST.crt implies HOST\n"
"      --prosody-config FILE\n"
"                        take the hosts from Prosody's config: every VirtualHost\n"
"                        and Component not `enabled = false`, following its\n"
"                        Include lines (conf.d/*.cfg.lua); check DIR, or else the\n"
"                        certs dir the config names (`certificates`, default:\n"
"                        certs next to FILE); a host whose `ssl` option names a\n"
"                        certificate and key is checked against those files.\n"
"                        The config is read, never run\n"
"      --nginx-config FILE\n"
"                        check what nginx.conf (and its includes) serves: each\n"
"                        server that listens with ssl, its ssl_certificate and key,\n"
"                        its server_names (which that certificate must cover), its\n"
"                        ssl_client_certificate and ssl_crl\n"
"      --mosquitto-config FILE\n"
"                        check mosquitto.conf's TLS listeners: certfile and keyfile,\n"
"                        cafile/capath, crlfile; warn when client certificates are\n"
"                        checked but not required (require_certificate false)\n"
"      --pg-config FILE  check what PostgreSQL's postgresql.conf (and its include\n"
"                        lines) uses: ssl on, ssl_cert_file, ssl_key_file (default\n"
"                        server.crt/server.key in the data directory), ssl_ca_file,\n"
"                        ssl_crl_file; keys against the data directory's owner\n"
"      --ca FILE         trusted root(s) for private CAs (default: the system\n"
"                        store, /etc/ssl/certs, plus CAs found next to the certs)\n"
"      --no-system-ca    do not read the system trust store\n"
"      --crl FILE        also check this CRL, and the certs against it\n"
"      --purpose P       server (default) or client\n"
"      --owner USER[:GROUP]\n"
"                        the ownership keys should have, as cert import sets it\n"
"                        (:GROUP is root's key shared with GROUP); the account\n"
"                        that must open them (USER, or a member of GROUP) tries\n"
"                        to (as root: it opens each key as that account). Keys of\n"
"                        PostgreSQL (--pg-config, data dirs) also follow its rule:\n"
"                        0600 owned by USER, or 0640 root:GROUP. Default with\n"
"                        --pg-config: the data dir's owner; --mosquitto-config:\n"
"                        its `user` (mosquitto)\n"
"      --warn-days N     warn about certs expiring within N days (default 30)\n"
"      --pass-file FILE  passphrase for encrypted keys and PKCS#12 files (first\n"
"                        line of FILE; - reads standard input)\n"
"      --config FILE     check every file a `tlsgate serve` config names (cert,\n"
"                        key, certs-dir, client-ca, crl; its pass-file opens keys)\n"
"      --json            findings as JSON (schema: docs/check-json.md)\n"
"  endpoint only:\n"
"      --sni NAME        server name to send (default: HOST unless an address)\n"
"      --starttls PROTO  what comes before the handshake: postgres (PostgreSQL's\n"
"                        SSLRequest), xmpp (an XMPP client stream, port 5222) or\n"
"                        xmpp-server (server-to-server, 5269); XMPP opens its\n"
"                        stream to the --sni name (default: HOST), the domain\n"
"      --cert FILE, --key FILE\n"
"                        present this client certificate (with the chain in FILE)\n"
"                        when the server asks for one (its key opened with\n"
"                        --pass-file); a refusal is the client-cert-refused error\n"
"\n"
"Examples:\n"
"  tlsgate check /etc/prosody/certs --owner prosody\n"
"  tlsgate check --prosody-config /etc/prosody/prosody.cfg.lua --owner prosody\n"
"  tlsgate check /etc/letsencrypt/live/example.com --host example.com --host conference.example.com\n"
"  tlsgate check /var/lib/postgresql/15/main --owner postgres\n"
"  tlsgate check --pg-config /etc/postgresql/15/main/postgresql.conf\n"
"  tlsgate check --nginx-config /etc/nginx/nginx.conf\n"
"  tlsgate check --mosquitto-config /etc/mosquitto/mosquitto.conf\n"
"  tlsgate check server.crt server.key --host db.example.com --ca ./pki/root.crt\n"
"  tlsgate check ./pki/crl.pem --ca ./pki/root.crt\n"
"  tlsgate check --config /etc/tlsgate/gateway.ini --owner tlsgate\n"
"  tlsgate check endpoint example.com:443\n"
"  tlsgate check endpoint db.example.com:5432 --starttls postgres --ca ./pki/root.crt\n"
"  tlsgate check endpoint 127.0.0.1:5222 --starttls xmpp --sni example.com\n"
"\n"
"Each finding reads `severity code: what is wrong` with a `fix:` line; codes are\n"
"stable (`tlsgate check --rules` lists them). Exit: 0 no errors (warnings\n"
"allowed), 1 errors found, 2 could not run (bad usage, nothing found, a Prosody\n"
"config that cannot be read: the error names its file and line).\n";

enum {
	OPT_CA = 256, OPT_CRL, OPT_PURPOSE, OPT_OWNER, OPT_WARN, OPT_PASS, OPT_JSON, OPT_SNI,
	OPT_STARTTLS, OPT_NOSYS, OPT_RULES, OPT_CONFIG, OPT_NOW, OPT_PROSODY, OPT_PGCONF, OPT_NGINX, OPT_MOSQ,
	OPT_CERT, OPT_KEY,
};

static const struct option check_opts[] = {
	{ "host", required_argument, NULL, 'H' },
	{ "ca", required_argument, NULL, OPT_CA },
	{ "crl", required_argument, NULL, OPT_CRL },
	{ "purpose", required_argument, NULL, OPT_PURPOSE },
	{ "owner", required_argument, NULL, OPT_OWNER },
	{ "warn-days", required_argument, NULL, OPT_WARN },
	{ "pass-file", required_argument, NULL, OPT_PASS },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "sni", required_argument, NULL, OPT_SNI },
	{ "starttls", required_argument, NULL, OPT_STARTTLS },
	{ "no-system-ca", no_argument, NULL, OPT_NOSYS },
	{ "rules", no_argument, NULL, OPT_RULES },
	{ "config", required_argument, NULL, OPT_CONFIG },
	{ "prosody-config", required_argument, NULL, OPT_PROSODY },
	{ "pg-config", required_argument, NULL, OPT_PGCONF },
	{ "nginx-config", required_argument, NULL, OPT_NGINX },
	{ "mosquitto-config", required_argument, NULL, OPT_MOSQ },
	{ "cert", required_argument, NULL, OPT_CERT },
	{ "key", required_argument, NULL, OPT_KEY },
	{ "now", required_argument, NULL, OPT_NOW }, /* tests: pretend it is this Unix time */
	{ NULL, 0, NULL, 0 },
};

struct check_args {
	int json, endpoint, rules;
	const char *sni;
	const char *prosody; /* read after the options: DIR decides the certs dir */
	const char *pgconf;
	const char *nginx;
	const char *mosquitto;
	const char *cert, *key; /* endpoint: the client certificate to present */
	chk_starttls starttls;
};

static int
list_rules(void)
{
	for (size_t i = 0; i < chk_rule_count(); i++)
		printf("%-24s %-8s %s\n", chk_rule_code(i), chk_severity_name(chk_rule_severity(i)),
		    chk_rule_summary(i));
	return 0;
}

struct config_walk {
	chk_ctx *c;
	tg_err *err;
	const char *cert; /* a listener's cert, waiting for its key */
};

/* A listener's cert arrives just before its key: they are checked as a pair. */
static int
flush_cert(struct config_walk *w)
{
	const char *cert = w->cert;

	w->cert = NULL;
	return cert == NULL ? 0 : chk_add_path(w->c, cert, w->err);
}

/* Every file a gateway listener names is checked; its passphrase file opens
 * its key. */
static int
add_config_file(const char *listener, const char *option, const char *path, void *arg)
{
	struct config_walk *w = arg;
	int rc;

	if (strcmp(option, "key") == 0 && w->cert != NULL) {
		rc = chk_add_pair(w->c, w->cert, path, w->err);
		w->cert = NULL;
	} else if (flush_cert(w) != 0) {
		rc = -1;
	} else if (strcmp(option, "cert") == 0) {
		w->cert = path;
		rc = 0;
	} else if (strcmp(option, "pass-file") == 0) {
		/* The gateway's own reading: a FILE, never standard input. */
		pki_pass pass = { .option = "pass-file", .file = path, .no_stdin = 1 };
		if ((rc = pki_pass_get(&pass, "the listener's keys", 0, w->err)) == 0)
			rc = chk_set_passphrase(w->c, pass.value, w->err);
		pki_pass_clear(&pass);
	} else {
		rc = chk_add_path(w->c, path, w->err);
	}
	return rc != 0 ? tg_err_prefix(w->err, "listener %s, %s", listener, option) : 0;
}

static int
add_gateway_config(chk_ctx *c, const char *path, tg_err *err)
{
	gw_config *cfg = gw_config_new();
	struct config_walk w = { c, err, NULL };
	int rc;

	if (cfg == NULL)
		return tg_err_set(err, TG_ERR_INTERNAL, "out of memory");
	rc = gw_config_load(cfg, path, err);
	if (rc == 0)
		rc = gw_config_files(cfg, add_config_file, &w);
	if (rc == 0)
		rc = flush_cert(&w);
	gw_config_free(cfg);
	return rc;
}

/* A service's config: one per check. */
static int
set_once(const char **slot, const char *arg, const char *opt, const char *what, tg_err *err)
{
	if (*slot != NULL)
		return tg_err_set(err, TG_ERR_USAGE, "%s given twice; check one %s config at a time",
		    opt, what);
	*slot = arg;
	return 0;
}

static int
apply_opt(chk_ctx *c, struct check_args *a, int opt, const char *arg, tg_err *err)
{
	unsigned long n;
	pki_pass pass;
	int rc;

	switch (opt) {
	case 'H':
		return chk_add_host(c, arg, err);
	case OPT_CA:
		return chk_set_ca_file(c, arg, err);
	case OPT_CRL:
		return chk_add_path(c, arg, err);
	case OPT_PURPOSE:
		if (strcmp(arg, "server") == 0)
			chk_set_purpose(c, CHK_PURPOSE_SERVER);
		else if (strcmp(arg, "client") == 0)
			chk_set_purpose(c, CHK_PURPOSE_CLIENT);
		else
			return tg_err_set(err, TG_ERR_USAGE, "--purpose is server or client, not '%s'", arg);
		return 0;
	case OPT_OWNER:
		return chk_set_owner(c, arg, err);
	case OPT_WARN:
		if (util_parse_uint(arg, "--warn-days", 36500, &n, err) != 0)
			return -1;
		chk_set_warn_days(c, (unsigned)n);
		return 0;
	case OPT_PASS:
		cli_pass_init(&pass, check_opts, OPT_PASS, 0);
		pass.file = arg;
		if (pki_pass_get(&pass, "the keys and PKCS#12 files", 0, err) != 0)
			return -1;
		rc = chk_set_passphrase(c, pass.value, err);
		pki_pass_clear(&pass);
		return rc;
	case OPT_NOW:
		if (util_parse_uint(arg, "--now", 0xffffffffffUL, &n, err) != 0)
			return -1;
		chk_set_time(c, (int64_t)n);
		return 0;
	case OPT_JSON:
		a->json = 1;
		return 0;
	case OPT_SNI:
		a->sni = arg;
		return 0;
	case OPT_STARTTLS:
		if (strcmp(arg, "postgres") == 0)
			a->starttls = CHK_STARTTLS_POSTGRES;
		else if (strcmp(arg, "xmpp") == 0)
			a->starttls = CHK_STARTTLS_XMPP;
		else if (strcmp(arg, "xmpp-server") == 0)
			a->starttls = CHK_STARTTLS_XMPP_SERVER;
		else
			return tg_err_set(err, TG_ERR_USAGE, "--starttls '%s': give postgres, xmpp "
			    "(client port 5222) or xmpp-server (port 5269)", arg);
		return 0;
	case OPT_NOSYS:
		chk_use_system_store(c, 0);
		return 0;
	case OPT_RULES:
		a->rules = 1;
		return 0;
	case OPT_CONFIG:
		return add_gateway_config(c, arg, err);
	case OPT_MOSQ:
		return set_once(&a->mosquitto, arg, "--mosquitto-config", "mosquitto", err);
	case OPT_CERT:
		a->cert = arg;
		return 0;
	case OPT_KEY:
		a->key = arg;
		return 0;
	case OPT_NGINX:
		return set_once(&a->nginx, arg, "--nginx-config", "nginx", err);
	case OPT_PGCONF:
		return set_once(&a->pgconf, arg, "--pg-config", "PostgreSQL", err);
	case OPT_PROSODY:
		return set_once(&a->prosody, arg, "--prosody-config", "Prosody", err);
	}
	return tg_err_set(err, TG_ERR_USAGE, "unknown option");
}

static int
report(chk_ctx *c, const struct check_args *a)
{
	tg_err err = { 0 };
	int rc = a->json ? chk_report_json(c, stdout, &err) : chk_report_text(c, stdout, &err);

	if (rc != 0)
		return cli_fail(&err);
	return chk_exit_code(c);
}

static int
run_check(int argc, char **argv)
{
	struct check_args a = { 0 };
	tg_err err = { 0 };
	chk_ctx *c;
	int opt, rc = 2, first = 1;

	if ((c = chk_new(&err)) == NULL)
		return cli_fail(&err);
	if (argc > 1 && strcmp(argv[1], "endpoint") == 0) {
		a.endpoint = 1;
		first = 2;
	}
	optind = first;
	while ((opt = cli_getopt(argc, argv, check_opts, "check")) != -1) {
		if (opt == '?')
			goto out;
		if (apply_opt(c, &a, opt, optarg, &err) != 0) {
			/* Exit 2 either way: the check could not run. */
			if (err.cat == TG_ERR_USAGE) {
				rc = cli_usage("check", "%s", err.msg);
			} else {
				fprintf(stderr, "tlsgate: could not check: %s\n", err.msg);
				rc = 2;
			}
			goto out;
		}
	}
	if (a.rules) {
		rc = list_rules();
		goto out;
	}
	/* A service's config names the files; an endpoint is checked live. */
	{
		const struct {
			const char *value, *opt, *instead;
		} svc[] = {
			{ a.prosody, "--prosody-config", " (each host may be served its own "
			  "certificate); give the name with --sni" },
			{ a.nginx, "--nginx-config", "; check the server with check endpoint HOST:443" },
			{ a.pgconf, "--pg-config", "; check the server with check endpoint HOST:PORT "
			  "--starttls postgres" },
			{ a.mosquitto, "--mosquitto-config", "; check the broker with check endpoint "
			  "HOST:8883" },
		};
		for (size_t i = 0; i < sizeof(svc) / sizeof(svc[0]); i++)
			if (svc[i].value != NULL && a.endpoint) {
				rc = cli_usage("check", "%s does not go with check endpoint%s", svc[i].opt,
				    svc[i].instead);
				goto out;
			}
	}
	/* Without DIR the certs dir the Prosody config names is checked. */
	if ((a.nginx != NULL && chk_add_nginx_config(c, a.nginx, &err) != 0) ||
	    (a.mosquitto != NULL && chk_add_mosquitto_config(c, a.mosquitto, &err) != 0) ||
	    (a.pgconf != NULL && chk_add_pg_config(c, a.pgconf, &err) != 0) ||
	    (a.prosody != NULL && chk_add_prosody_config(c, a.prosody, optind == argc, &err) != 0)) {
		fprintf(stderr, "tlsgate: could not check: %s\n", err.msg);
		rc = 2;
		goto out;
	}
	if ((a.cert != NULL || a.key != NULL) && (!a.endpoint || a.cert == NULL || a.key == NULL)) {
		rc = cli_usage("check", a.endpoint ? "--cert and --key go together: the client "
		    "certificate and its key" : "--cert and --key are for check endpoint (the client "
		    "certificate to present); to check a certificate and key file: tlsgate check CERT KEY");
		goto out;
	}
	if (a.endpoint) {
		if (optind + 1 != argc) {
			rc = cli_usage("check", "check endpoint takes one HOST:PORT");
			goto out;
		}
		if (a.cert != NULL && chk_set_client_cert(c, a.cert, a.key, &err) != 0) {
			rc = cli_fail(&err);
			goto out;
		}
		if (chk_endpoint(c, argv[optind], a.sni, a.starttls, &err) != 0) {
			fprintf(stderr, "tlsgate: could not check %s: %s\n", argv[optind], err.msg);
			rc = 2;
			goto out;
		}
	} else {
		for (int i = optind; i < argc; i++)
			if (chk_add_path(c, argv[i], &err) != 0) {
				rc = cli_fail(&err);
				goto out;
			}
		if (chk_run(c, &err) != 0) {
			fprintf(stderr, "tlsgate: could not check: %s\n", err.msg);
			rc = 2;
			goto out;
		}
	}
	rc = report(c, &a);
out:
	chk_free(c);
	return rc;
}

const struct cli_cmd cli_check_cmd = {
	"check", "find certificate mistakes in files, service dirs and live endpoints",
	check_help, run_check, NULL,
};
