/* `tlsgate acme`: the ACME server (serve) and what its operator needs around
 * it (eab keys, accounts, orders). */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "tlsgate/acme.h"
#include "tlsgate/ca.h"
#include "tlsgate/util.h"

#define LIST_MAX 64 /* values of one repeatable option */

static const char serve_help[] =
"Usage: tlsgate acme serve --dir DIR --allow-domain D|--allow-ip CIDR... [options]\n"
"\n"
"Runs an ACME server (RFC 8555) over the CA in DIR, so certbot, lego, Caddy\n"
"and any ACME client get and renew certificates from your private CA. The\n"
"directory is https://HOST:PORT/directory. Orders are validated with http-01\n"
"or tls-alpn-01 (DNS names and IP addresses; for an address, SNI is its\n"
"reverse-DNS name, RFC 8738) or, with --dns-resolver, dns-01 (DNS names and\n"
"wildcards *.NAME), and issued through\n"
"the same code as `tlsgate cert sign` (profiles, serials, the inventory);\n"
"`tlsgate cert list` shows them, `tlsgate acme orders` which account got each.\n"
"Accounts, orders and nonces live in the CA's inventory: several servers on\n"
"one PostgreSQL inventory (`tlsgate ca init --store URL`) serve one client\n"
"together.\n"
"\n"
"Options:\n"
"  --dir DIR               the CA (or $TLSGATE_DIR)\n"
"  --ca-pass-file F        passphrase of an encrypted CA key (or $TLSGATE_CA_PASS_FILE)\n"
"  --listen HOST:PORT      where to listen (default 127.0.0.1:8555)\n"
"  --name HOST             the name clients use (repeatable): the base URL's host\n"
"                          (the first) and names of the server's own certificate\n"
"  --external-url URL      https://HOST[:PORT] the clients see, when it is not\n"
"                          https://NAME:PORT (behind a port forward)\n"
"  --cert F --key F        the server's certificate and key; without them it\n"
"                          issues its own from the CA into DIR/acme/ at start,\n"
"                          and again when a third of its life is left\n"
"  --allow-domain D        issue for D and every name under it (repeatable)\n"
"  --allow-ip CIDR         issue for addresses in CIDR (10.0.0.0/8; repeatable)\n"
"                          With neither, the server refuses to start.\n"
"  --no-wildcards          refuse wildcards (*.NAME) even with --dns-resolver\n"
"  --eab-required          accounts need an external account binding key\n"
"                          (`tlsgate acme eab add`)\n"
"  --max-validity DUR      longest certificate a client may ask for (default 90d)\n"
"  --default-validity DUR  when it asks for none (default 90d)\n"
"  --resolve NAME=ADDR     validate NAME at ADDR instead of asking DNS (repeatable;\n"
"                          tests on loopback, split-horizon networks)\n"
"  --http01-port N         port http-01 validation connects to (default 80)\n"
"  --tlsalpn01-port N      port tls-alpn-01 validation connects to (default 443)\n"
"  --dns-resolver ADDR[:PORT]  offer dns-01 and validate it by asking this DNS\n"
"                          resolver (IPv4 or IPv6, port 53 when none; [::1]:5353)\n"
"                          for TXT _acme-challenge.NAME (CNAMEs followed); it\n"
"                          also allows wildcards *.NAME, which need dns-01.\n"
"                          Without it dns-01 is not offered and wildcards are refused\n"
"  --workers N             requests served at once (default 16); connections\n"
"                          waiting for a request hold no worker\n"
"  --max-conns N           connections open at once (default 1024, at most\n"
"                          1000000); past it the longest-idle kept-alive one is\n"
"                          closed, else new ones. Each is an open file: a soft\n"
"                          limit (ulimit -n) too low is raised to the hard one;\n"
"                          a hard limit too low stops the start (the default\n"
"                          shrinks to fit)\n"
"  --max-conns-per-ip N    connections open at once from one address, for IPv6\n"
"                          from one /64 (default 8; 0: no limit)\n"
"  --validators N          validations at once (default 4)\n"
"  --orders-per-minute N   new orders per account per minute (default 300)\n"
"\n"
"Every request is logged (method, path, status, account, problem type), and\n"
"every issuance (serial, account, order, names). GET /healthz and /metrics on\n"
"the same port give its health and Prometheus counters.\n"
"\n"
"Example (then: certbot certonly --server https://ca.example.internal:8555/directory\n"
"--standalone -d host.example.internal, with REQUESTS_CA_BUNDLE=pki/root.crt):\n"
"  tlsgate acme serve --dir pki --listen 0.0.0.0:8555 --name ca.example.internal \\\n"
"      --allow-domain example.internal --allow-ip 10.0.0.0/8\n";

enum {
	O_DIR = 'd', O_PASS = 'c', O_LISTEN = 'l', O_NAME = 'n',
	O_EXT = 1000, O_CERT, O_KEY, O_ALLOW_DOMAIN, O_ALLOW_IP, O_NO_WILD, O_EAB_REQ, O_MAX_VAL,
	O_DEF_VAL, O_RESOLVE, O_HTTP_PORT, O_ALPN_PORT, O_WORKERS, O_VALIDATORS, O_OPM, O_JSON,
	O_DNS, O_MAX_CONNS, O_PER_IP,
};

struct list {
	const char *v[LIST_MAX];
	size_t n;
};

static int
push(struct list *l, const char *v, const char *opt)
{
	if (l->n >= LIST_MAX)
		return cli_usage("acme serve", "--%s given more than %d times", opt, LIST_MAX);
	l->v[l->n++] = v;
	return 0;
}

static int
port_opt(const char *s, const char *what, int *out, tg_err *err)
{
	unsigned p;

	if (util_parse_port(s, what, &p, err) != 0)
		return -1;
	*out = (int)p;
	return 0;
}

static int
serve_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, O_DIR },
		{ "ca-pass-file", required_argument, NULL, O_PASS },
		{ "listen", required_argument, NULL, O_LISTEN },
		{ "name", required_argument, NULL, O_NAME },
		{ "external-url", required_argument, NULL, O_EXT },
		{ "cert", required_argument, NULL, O_CERT },
		{ "key", required_argument, NULL, O_KEY },
		{ "allow-domain", required_argument, NULL, O_ALLOW_DOMAIN },
		{ "allow-ip", required_argument, NULL, O_ALLOW_IP },
		{ "no-wildcards", no_argument, NULL, O_NO_WILD },
		{ "eab-required", no_argument, NULL, O_EAB_REQ },
		{ "max-validity", required_argument, NULL, O_MAX_VAL },
		{ "default-validity", required_argument, NULL, O_DEF_VAL },
		{ "resolve", required_argument, NULL, O_RESOLVE },
		{ "http01-port", required_argument, NULL, O_HTTP_PORT },
		{ "tlsalpn01-port", required_argument, NULL, O_ALPN_PORT },
		{ "dns-resolver", required_argument, NULL, O_DNS },
		{ "workers", required_argument, NULL, O_WORKERS },
		{ "max-conns", required_argument, NULL, O_MAX_CONNS },
		{ "max-conns-per-ip", required_argument, NULL, O_PER_IP },
		{ "validators", required_argument, NULL, O_VALIDATORS },
		{ "orders-per-minute", required_argument, NULL, O_OPM },
		{ NULL, 0, NULL, 0 },
	};
	acme_serve_opts o = { .listen = "127.0.0.1:8555", .max_validity = 90 * 86400,
		.default_validity = -1, .http01_port = 80, .tlsalpn01_port = 443,
		.orders_per_minute = 300, .max_conns_per_ip = 8 };
	struct list names = { 0 }, domains = { 0 }, ips = { 0 }, resolve = { 0 };
	const char *dir_opt = NULL, *pass = NULL;
	unsigned long n;
	tg_err err = { 0 };
	tg_ca *ca;
	int c, rc;

	while ((c = cli_getopt(argc, argv, opts, "acme serve")) != -1) {
		const char *name = cli_opt_name(opts, c);
		char what[64];
		snprintf(what, sizeof(what), "--%s", name ? name : "?");
		switch (c) {
		case O_DIR: dir_opt = optarg; break;
		case O_PASS: pass = optarg; break;
		case O_LISTEN: o.listen = optarg; break;
		case O_NAME: if (push(&names, optarg, "name") != 0) return 2; break;
		case O_EXT: o.external_url = optarg; break;
		case O_CERT: o.cert = optarg; break;
		case O_KEY: o.key = optarg; break;
		case O_ALLOW_DOMAIN: if (push(&domains, optarg, "allow-domain") != 0) return 2; break;
		case O_ALLOW_IP: if (push(&ips, optarg, "allow-ip") != 0) return 2; break;
		case O_NO_WILD: o.no_wildcards = 1; break;
		case O_EAB_REQ: o.eab_required = 1; break;
		case O_RESOLVE: if (push(&resolve, optarg, "resolve") != 0) return 2; break;
		case O_DNS: o.dns_resolver = optarg; break;
		case O_MAX_VAL:
			if (util_parse_duration(optarg, &o.max_validity, &err) != 0)
				return cli_fail(&err);
			break;
		case O_DEF_VAL:
			if (util_parse_duration(optarg, &o.default_validity, &err) != 0)
				return cli_fail(&err);
			break;
		case O_HTTP_PORT:
			if (port_opt(optarg, what, &o.http01_port, &err) != 0)
				return cli_fail(&err);
			break;
		case O_ALPN_PORT:
			if (port_opt(optarg, what, &o.tlsalpn01_port, &err) != 0)
				return cli_fail(&err);
			break;
		case O_WORKERS: case O_VALIDATORS: case O_OPM:
			if (util_parse_uint(optarg, what, c == O_OPM ? 1000000 : 1024, &n, &err) != 0)
				return cli_fail(&err);
			if (n == 0)
				return cli_usage("acme serve", "%s must be at least 1", what);
			if (c == O_WORKERS)
				o.workers = (unsigned)n;
			else if (c == O_VALIDATORS)
				o.validators = (unsigned)n;
			else
				o.orders_per_minute = (unsigned)n;
			break;
		case O_MAX_CONNS: case O_PER_IP:
			/* 0 is --max-conns-per-ip's "no limit". */
			if (c == O_PER_IP && strcmp(optarg, "0") == 0)
				n = 0;
			else if (util_parse_uint(optarg, what, 1000000, &n, &err) != 0)
				return cli_fail(&err);
			if (c == O_MAX_CONNS)
				o.max_conns = (unsigned)n;
			else
				o.max_conns_per_ip = (unsigned)n;
			break;
		default: return 2;
		}
	}
	if (optind != argc)
		return cli_usage("acme serve", "unexpected argument '%s'", argv[optind]);
	if (o.default_validity < 0)
		o.default_validity = o.max_validity < 90 * 86400 ? o.max_validity : 90 * 86400;
	o.names = names.v;
	o.nnames = names.n;
	o.allow_domains = domains.v;
	o.n_allow_domains = domains.n;
	o.allow_ips = ips.v;
	o.n_allow_ips = ips.n;
	o.resolve = resolve.v;
	o.nresolve = resolve.n;
	/* Options first: a wrong flag should not wait for a passphrase. */
	if (acme_serve_check(&o, &err) != 0)
		return cli_fail(&err);
	if ((ca = cli_open_ca(dir_opt, pass, TG_CA_NEED_KEY, "acme serve", &rc)) == NULL)
		return rc;
	rc = acme_serve(ca, &o, &err) != 0 ? cli_fail(&err) : 0;
	tg_ca_free(ca);
	return rc;
}

static const char eab_help[] =
"Usage: tlsgate acme eab add --dir DIR [--name LABEL] [--json]\n"
"       tlsgate acme eab list --dir DIR [--json]\n"
"       tlsgate acme eab revoke KID --dir DIR\n"
"\n"
"External account binding keys (RFC 8555 7.3.4): with `acme serve\n"
"--eab-required`, a client registers only with a key from here, so only hosts\n"
"you gave one get certificates. `add` prints the key id and the HMAC key\n"
"(base64url) once; each binds one account. `revoke` stops a key that was not\n"
"used yet (an account it bound stays; deactivate that one from its client).\n"
"\n"
"Options:\n"
"  --dir DIR      the CA (or $TLSGATE_DIR)\n"
"  --name LABEL   what the key is for (host42), shown by list\n"
"  --json         machine-readable output\n"
"\n"
"Example:\n"
"  tlsgate acme eab add --dir pki --name web1\n"
"  certbot register --server https://ca:8555/directory --eab-kid KID --eab-hmac-key KEY\n";

static int
print_json(json_t *j, const tg_err *err)
{
	if (j == NULL)
		return cli_fail(err);
	json_dumpf(j, stdout, JSON_INDENT(2));
	putchar('\n');
	json_decref(j);
	return 0;
}

static const char *
str(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s != NULL ? s : "-";
}

static int
eab_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, O_DIR },
		{ "name", required_argument, NULL, O_NAME },
		{ "json", no_argument, NULL, O_JSON },
		{ NULL, 0, NULL, 0 },
	};
	const char *dir_opt = NULL, *name = NULL, *action = argc > 1 ? argv[1] : "";
	int c, rc, json = 0;
	tg_err err = { 0 };
	tg_ca *ca;

	if (cli_doc_options(opts)) /* `tlsgate __complete`: list, do not run */
		return 2;
	if (strcmp(action, "add") != 0 && strcmp(action, "list") != 0 &&
	    strcmp(action, "revoke") != 0)
		return cli_usage("acme eab", "say add, list or revoke (got '%s')", action);
	optind = 2;
	while ((c = cli_getopt(argc, argv, opts, "acme eab")) != -1) {
		switch (c) {
		case O_DIR: dir_opt = optarg; break;
		case O_NAME: name = optarg; break;
		case O_JSON: json = 1; break;
		default: return 2;
		}
	}
	if (strcmp(action, "revoke") == 0 ? optind != argc - 1 : optind != argc)
		return cli_usage("acme eab", strcmp(action, "revoke") == 0 ?
		    "revoke takes one KID" : "unexpected argument '%s'", argv[optind]);
	if ((ca = cli_open_ca(dir_opt, NULL, 0, "acme eab", &rc)) == NULL)
		return rc;
	if (strcmp(action, "add") == 0) {
		acme_eab_new k;
		if (acme_eab_add(ca, name, &k, &err) != 0) {
			rc = cli_fail(&err);
		} else if (json) {
			json_t *o = json_pack("{s:s, s:s}", "kid", k.kid, "hmac_key", k.hmac);
			rc = print_json(o, &err);
		} else {
			printf("kid: %s\nhmac-key: %s\n(give both to the client, e.g. certbot --eab-kid "
			    "KID --eab-hmac-key KEY; the key is not shown again)\n", k.kid, k.hmac);
		}
		memset(&k, 0, sizeof(k));
	} else if (strcmp(action, "revoke") == 0) {
		rc = acme_eab_revoke(ca, argv[optind], &err) != 0 ? cli_fail(&err) : 0;
		if (rc == 0)
			printf("Revoked EAB key %s\n", cli_safe(0, argv[optind]));
	} else {
		json_t *l = acme_eab_list(ca, &err), *v;
		size_t i;
		if (json || l == NULL) {
			rc = print_json(l, &err);
		} else {
			json_array_foreach(l, i, v)
				printf("%s  %-16s created %s  %s\n", str(v, "kid"), cli_safe(0, str(v, "name")),
				    str(v, "created"), json_is_string(json_object_get(v, "revoked")) ?
				    "revoked" : json_is_string(json_object_get(v, "account")) ?
				    "bound to an account" : "unused");
			json_decref(l);
			rc = 0;
		}
	}
	tg_ca_free(ca);
	return rc;
}

static const char accounts_help[] =
"Usage: tlsgate acme accounts --dir DIR [--json]\n"
"\n"
"Lists the ACME accounts of the CA in DIR: id (the end of the account URL),\n"
"status, contacts, key thumbprint, EAB key, creation time and orders.\n"
"\n"
"Example:\n"
"  tlsgate acme accounts --dir pki --json | jq '.[] | select(.status == \"valid\")'\n";

static const char orders_help[] =
"Usage: tlsgate acme orders --dir DIR [--json]\n"
"\n"
"Lists the ACME orders of the CA in DIR: id, account, status, identifiers,\n"
"and the serial of the certificate issued for it (`tlsgate cert list` has the\n"
"certificate; this says which account got it).\n"
"\n"
"Example:\n"
"  tlsgate acme orders --dir pki --json | jq -r '.[] | select(.serial) | .serial'\n";

static int
listing(int argc, char **argv, const char *cmd, json_t *(*fn)(tg_ca *, tg_err *))
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, O_DIR },
		{ "json", no_argument, NULL, O_JSON },
		{ NULL, 0, NULL, 0 },
	};
	const char *dir_opt = NULL;
	int c, rc, json = 0;
	tg_err err = { 0 };
	tg_ca *ca;
	json_t *l, *v;
	size_t i;

	while ((c = cli_getopt(argc, argv, opts, cmd)) != -1) {
		switch (c) {
		case O_DIR: dir_opt = optarg; break;
		case O_JSON: json = 1; break;
		default: return 2;
		}
	}
	if (optind != argc)
		return cli_usage(cmd, "unexpected argument '%s'", argv[optind]);
	if ((ca = cli_open_ca(dir_opt, NULL, 0, cmd, &rc)) == NULL)
		return rc;
	l = fn(ca, &err);
	tg_ca_free(ca);
	if (json || l == NULL)
		return print_json(l, &err);
	json_array_foreach(l, i, v) {
		char *ids = json_dumps(json_object_get(v, fn == acme_orders_list ? "identifiers" :
		    "contact"), JSON_COMPACT);
		printf("%s  %-11s %s  %s  %s\n", str(v, "id"), str(v, "status"),
		    fn == acme_orders_list ? str(v, "account") : str(v, "created"),
		    fn == acme_orders_list ? str(v, "serial") : str(v, "key_thumbprint"),
		    cli_safe(0, ids ? ids : "-"));
		free(ids);
	}
	json_decref(l);
	return 0;
}

static int
accounts_run(int argc, char **argv)
{
	return listing(argc, argv, "acme accounts", acme_accounts_list);
}

static int
orders_run(int argc, char **argv)
{
	return listing(argc, argv, "acme orders", acme_orders_list);
}

const struct cli_cmd cli_acme_cmds[] = {
	{ "serve", "run the ACME server over a CA", serve_help, serve_run, NULL },
	{ "eab", "external account binding keys: add, list, revoke", eab_help, eab_run, NULL },
	{ "accounts", "list the ACME accounts", accounts_help, accounts_run, NULL },
	{ "orders", "list the ACME orders and who got each certificate", orders_help, orders_run,
	  NULL },
	{ NULL, NULL, NULL, NULL, NULL },
};
