#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "tlsgate/acme.h"
#include "tlsgate/ca.h"
#include "tlsgate/util.h"

static const char ca_init_help[] =
"Usage: tlsgate ca init --dir DIR [--name NAME] [--intermediate] [--key TYPE]\n"
"                       [--days N] [--pass-file F] [--store URL]\n"
"                       [--crl-url URL]... [--root-crl-url URL]...\n"
"\n"
"Creates a private certificate authority in DIR:\n"
"  DIR/root.crt                the root certificate: give it to every client and server\n"
"                              that must trust what this CA issues (ssl_client_certificate,\n"
"                              cacertfile, ssl_ca_file, sslrootcert)\n"
"  DIR/private/root.key        its key (directory 0700, file 0600)\n"
"  DIR/tlsgate.db              the inventory of everything issued (SQLite), or with\n"
"  DIR/store.conf              --store: the URL of the inventory (0600)\n"
"With --intermediate, also DIR/intermediate.crt and DIR/private/intermediate.key:\n"
"the intermediate then issues, and the root key can be moved offline.\n"
"DIR/ca-bundle.crt then holds intermediate + root.\n"
"\n"
"Options:\n"
"  --dir DIR         where the CA lives (or $TLSGATE_DIR); must not hold a CA already\n"
"  --name NAME       the root's common name (default \"tlsgate Root CA\")\n"
"  --intermediate    create an intermediate CA (pathlen:0) that signs leaves\n"
"  --key TYPE        " PKI_KEY_TYPES " (default ec-p256)\n"
"  --days N          root validity in days (default 3650; intermediate 1825)\n"
"  --pass-file F     encrypt the CA keys with the passphrase on F's first line\n"
"                    (- reads it from standard input, or asks twice on a\n"
"                    terminal); later commands then need --ca-pass-file F\n"
"  --store URL       keep the inventory in PostgreSQL instead of DIR/tlsgate.db:\n"
"                    postgresql://USER@HOST:PORT/DB?sslmode=verify-full or\n"
"                    postgres:host=H port=P dbname=D user=U (libpq conninfo).\n"
"                    The database must exist; tlsgate creates its tables. Several\n"
"                    CAs may share one database: each sees only its own rows.\n"
"                    The URL is recorded in DIR/store.conf and every later command\n"
"                    uses it. A URL with a password is refused: put the password\n"
"                    in ~/.pgpass (HOST:PORT:DB:USER:PASSWORD, mode 0600) or\n"
"                    PGPASSWORD. If the server cannot be reached, nothing is created.\n"
"  --crl-url URL     where the issuing CA's CRL is published (http:// or https://,\n"
"                    up to 4): a CRL Distribution Points extension in every\n"
"                    certificate the CA issues, so clients (and testssl.sh) find\n"
"                    its revocation status. Serve the CRL there in DER:\n"
"                    openssl crl -in DIR/crl.pem -outform der -out ca.crl\n"
"                    (after each `tlsgate crl`). Recorded in DIR/ca.conf; change it\n"
"                    later with `tlsgate ca set`.\n"
"  --root-crl-url URL  with --intermediate: where the root's CRL is published,\n"
"                    put into the intermediate (the second CRL in DIR/crl.pem)\n"
"\n"
"Examples:\n"
"  tlsgate ca init --dir /etc/tlsgate/ca --name 'Example Corp CA'\n"
"  tlsgate ca init --dir ./pki --intermediate --key ec-p384 --pass-file ca.pass\n"
"  tlsgate ca init --dir ./pki --crl-url http://pki.example.com/ca.crl\n"
"  tlsgate ca init --dir /etc/tlsgate/ca \\\n"
"      --store 'postgresql://tlsgate@db.example.com:5432/pki?sslmode=verify-full'\n";

/* --crl-url ('u') and --root-crl-url ('r'), in ca init and ca set alike. */
static int
crl_url_opt(int c, struct cli_urls *crl, struct cli_urls *root_crl, const char *cmd)
{
	return cli_urls_add(c == 'u' ? crl : root_crl, optarg, cmd,
	    c == 'u' ? "--crl-url" : "--root-crl-url");
}

static int
ca_init(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "name", required_argument, NULL, 'n' },
		{ "intermediate", no_argument, NULL, 'i' },
		{ "key", required_argument, NULL, 'k' },
		{ "days", required_argument, NULL, 'D' },
		{ "pass-file", required_argument, NULL, 'p' },
		{ "store", required_argument, NULL, 's' },
		{ "crl-url", required_argument, NULL, 'u' },
		{ "root-crl-url", required_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 },
	};
	tg_ca_init_opts o = { .key_type = PKI_KEY_EC_P256, .notify = cli_note };
	struct cli_urls crl = { 0 }, root_crl = { 0 };
	const char *dir_opt = NULL;
	pki_pass pass;
	unsigned long days;
	tg_err err = { 0 };
	int c, rc;

	cli_pass_init(&pass, opts, 'p', 0);
	while ((c = cli_getopt(argc, argv, opts, "ca init")) != -1) {
		switch (c) {
		case 'd': dir_opt = optarg; break;
		case 'n': o.name = optarg; break;
		case 'i': o.intermediate = 1; break;
		case 'k':
			if (pki_key_type_parse(optarg, &o.key_type, &err) != 0)
				return cli_fail(&err);
			break;
		case 'D':
			if (util_parse_uint(optarg, "--days", 36500, &days, &err) != 0)
				return cli_fail(&err);
			o.root_secs = (int64_t)days * 86400;
			break;
		case 'p': pass.file = optarg; break;
		case 's': o.store_url = optarg; break;
		case 'u':
		case 'r':
			if (crl_url_opt(c, &crl, &root_crl, "ca init") != 0)
				return 2;
			break;
		default: return 2;
		}
	}
	if (optind < argc)
		return cli_usage("ca init", "unexpected argument '%s'", argv[optind]);
	o.crl_urls = crl.v;
	o.ncrl_urls = crl.n;
	o.root_crl_urls = root_crl.v;
	o.nroot_crl_urls = root_crl.n;
	if ((o.dir = cli_ca_dir(dir_opt, "ca init")) == NULL)
		return 2;
	if (o.name != NULL && (strlen(o.name) == 0 || strlen(o.name) >= PKI_NAME_MAX))
		return cli_usage("ca init", "--name must be 1 to %d characters", PKI_NAME_MAX - 1);
	if (pass.file != NULL && pki_pass_get(&pass, "the new CA keys", 1, &err) != 0)
		return cli_fail(&err);
	o.pass = pass.value;
	rc = tg_ca_init(&o, &err);
	pki_pass_clear(&pass);
	if (rc != 0)
		return cli_fail(&err);
	printf("Created CA in %s\n  root certificate: %s/root.crt (share it with every peer)\n"
	       "  root key:         %s/private/root.key (0600, keep it secret)\n",
	    o.dir, o.dir, o.dir);
	if (o.intermediate)
		printf("  intermediate:     %s/intermediate.crt (issues certificates)\n", o.dir);
	if (o.store_url != NULL)
		printf("  inventory:        %s (recorded in %s/store.conf)\n", o.store_url, o.dir);
	for (size_t i = 0; i < crl.n; i++)
		printf("  CRL published at: %s (in every certificate it issues)\n", crl.v[i]);
	for (size_t i = 0; i < root_crl.n; i++)
		printf("  root's CRL at:    %s (in the intermediate)\n", root_crl.v[i]);
	printf("Next: tlsgate cert issue HOST --dir %s\n", o.dir);
	return 0;
}

static const char ca_store_help[] =
"Usage: tlsgate ca store --dir DIR [--move-to URL] [--json]\n"
"\n"
"Shows where the inventory of the CA in DIR lives. With --move-to, moves it:\n"
"every certificate (status, revocation and dates kept), every CRL number and\n"
"the ACME server's state (accounts, orders, authorizations, challenges, EAB\n"
"keys, used nonces) is copied to the store at URL in one transaction, read\n"
"back, and only then\n"
"is URL recorded in DIR/store.conf, so every later command uses it. A\n"
"failure changes nothing. The old inventory is left as it was: remove it\n"
"once you trust the new one. Running it again after a failure is safe:\n"
"what is already there (same serial, same fingerprint) is kept; a serial\n"
"there for another certificate stops the move.\n"
"\n"
"The usual move: from the embedded SQLite (DIR/tlsgate.db) to a PostgreSQL\n"
"shared by several machines and CAs, when the CA outgrows one host.\n"
"\n"
"Options:\n"
"  --dir DIR         the CA (or $TLSGATE_DIR)\n"
"  --move-to URL     postgresql://USER@HOST:PORT/DB?sslmode=verify-full,\n"
"                    postgres:host=H dbname=D user=U (libpq conninfo), or\n"
"                    sqlite:PATH. A URL with a password is refused: use\n"
"                    ~/.pgpass or PGPASSWORD\n"
"  --json            the result as JSON: from, to, certificates, revoked,\n"
"                    already_there, crl_series, leaf_crl_number, acme_accounts,\n"
"                    acme_orders, acme_eab_keys\n"
"\n"
"Examples:\n"
"  tlsgate ca store --dir ./pki\n"
"  tlsgate ca store --dir ./pki \\\n"
"      --move-to 'postgresql://tlsgate@db.example.com:5432/pki?sslmode=verify-full'\n";

static int
ca_store(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "move-to", required_argument, NULL, 'm' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	const char *dir_opt = NULL, *dir, *to = NULL;
	tg_ca_move_result r;
	acme_move_stats acme = { 0 };
	store_copy_module mods[1];
	char url[STORE_URL_MAX];
	tg_err err = { 0 };
	int c, json = 0;

	while ((c = cli_getopt(argc, argv, opts, "ca store")) != -1) {
		switch (c) {
		case 'd': dir_opt = optarg; break;
		case 'm': to = optarg; break;
		case 'j': json = 1; break;
		default: return 2;
		}
	}
	if (optind < argc)
		return cli_usage("ca store", "unexpected argument '%s'", argv[optind]);
	if ((dir = cli_ca_dir(dir_opt, "ca store")) == NULL)
		return 2;
	if (to == NULL) {
		if (tg_ca_store_info(dir, url, sizeof(url), &err) != 0)
			return cli_fail(&err);
		if (json) {
			json_t *o = json_pack("{s:s, s:s}", "dir", dir, "store", url);
			json_dumpf(o, stdout, JSON_INDENT(2));
			putchar('\n');
			json_decref(o);
		} else {
			printf("%s\n", url);
		}
		return 0;
	}
	mods[0] = acme_move_module(&acme);
	if (tg_ca_move_store(dir, to, mods, 1, &r, &err) != 0)
		return cli_fail(&err);
	if (json) {
		json_t *o = json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "from",
		    r.from, "to", r.to,
		    "certificates", (json_int_t)r.stats.certs, "revoked", (json_int_t)r.stats.revoked,
		    "already_there", (json_int_t)r.stats.already,
		    "crl_series", (json_int_t)r.stats.crl_series,
		    "leaf_crl_number", (json_int_t)r.stats.leaf_crl,
		    "acme_accounts", (json_int_t)acme.accounts, "acme_orders", (json_int_t)acme.orders,
		    "acme_eab_keys", (json_int_t)acme.eab_keys);
		json_dumpf(o, stdout, JSON_INDENT(2));
		putchar('\n');
		json_decref(o);
		return 0;
	}
	printf("Moved the inventory of %s\n  from: %s\n  to:   %s (recorded in %s/store.conf)\n"
	       "  %lu certificate%s copied (%lu revoked), %lu already there; %lu CRL series "
	       "(last leaf CRL number %llu)\n",
	    dir, r.from, r.to, dir, r.stats.certs, r.stats.certs == 1 ? "" : "s", r.stats.revoked,
	    r.stats.already, r.stats.crl_series, (unsigned long long)r.stats.leaf_crl);
	if (!acme.none)
		printf("  ACME server: %lu account%s, %lu order%s, %lu EAB key%s (%lu rows in all)\n",
		    acme.accounts, acme.accounts == 1 ? "" : "s", acme.orders,
		    acme.orders == 1 ? "" : "s", acme.eab_keys, acme.eab_keys == 1 ? "" : "s",
		    acme.rows);
	printf("The old inventory is untouched: remove it once you trust the new one.\n");
	return 0;
}

static const char ca_set_help[] =
"Usage: tlsgate ca set --dir DIR [--crl-url URL]... [--root-crl-url URL]...\n"
"       tlsgate ca set --dir DIR --no-crl-url\n"
"\n"
"Shows or changes the settings of the CA in DIR (DIR/ca.conf). The URLs given\n"
"with an option replace the ones recorded for it (the other option's stay);\n"
"certificates issued from now on carry them (those issued before keep theirs:\n"
"renew them to change). Without an option, prints them.\n"
"\n"
"Options:\n"
"  --dir DIR           the CA (or $TLSGATE_DIR)\n"
"  --crl-url URL       where the issuing CA's CRL is published (http:// or https://,\n"
"                      up to 4): a CRL Distribution Points extension in every\n"
"                      certificate it issues (cert issue, sign, renew, batches).\n"
"                      Serve the CRL there in DER: openssl crl -in DIR/crl.pem\n"
"                      -outform der -out ca.crl, after each `tlsgate crl`\n"
"  --root-crl-url URL  where the root's CRL is published, for a CA with an\n"
"                      intermediate (used when an intermediate is issued)\n"
"  --no-crl-url        remove both: certificates carry no CRL pointer\n"
"\n"
"Example:\n"
"  tlsgate ca set --dir ./pki --crl-url http://pki.example.com/ca.crl\n";

static void
print_urls(tg_ca *ca)
{
	const char *const *urls;
	size_t n = tg_ca_crl_urls(ca, 0, &urls);

	for (size_t i = 0; i < n; i++)
		printf("crl-url = %s\n", urls[i]);
	n = tg_ca_crl_urls(ca, 1, &urls);
	for (size_t i = 0; i < n; i++)
		printf("root-crl-url = %s\n", urls[i]);
}

static int
ca_set(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "crl-url", required_argument, NULL, 'u' },
		{ "root-crl-url", required_argument, NULL, 'r' },
		{ "no-crl-url", no_argument, NULL, 'N' },
		{ NULL, 0, NULL, 0 },
	};
	struct cli_urls crl = { 0 }, root_crl = { 0 };
	const char *dir_opt = NULL, *dir;
	tg_err err = { 0 };
	tg_ca *ca;
	int c, rc, none = 0;

	while ((c = cli_getopt(argc, argv, opts, "ca set")) != -1) {
		switch (c) {
		case 'd': dir_opt = optarg; break;
		case 'u':
		case 'r':
			if (crl_url_opt(c, &crl, &root_crl, "ca set") != 0)
				return 2;
			break;
		case 'N': none = 1; break;
		default: return 2;
		}
	}
	if (optind < argc)
		return cli_usage("ca set", "unexpected argument '%s'", argv[optind]);
	if (none && crl.n + root_crl.n > 0)
		return cli_usage("ca set", "--no-crl-url removes the URLs; give it alone");
	if ((dir = cli_ca_dir(dir_opt, "ca set")) == NULL)
		return 2;
	if ((ca = tg_ca_open(dir, NULL, 0, &err)) == NULL)
		return cli_fail(&err);
	if (none || crl.n + root_crl.n > 0) {
		/* An option not given keeps what is recorded. */
		const char *const *keep;
		for (int root = 0; !none && root < 2; root++) {
			struct cli_urls *u = root ? &root_crl : &crl;
			size_t n = tg_ca_crl_urls(ca, root, &keep);
			for (size_t i = 0; u->n == 0 && i < n; i++)
				u->v[i] = keep[i];
			if (u->n == 0)
				u->n = n;
		}
		rc = tg_ca_set_crl_urls(dir, crl.v, crl.n, root_crl.v, root_crl.n, &err);
		tg_ca_free(ca);
		if (rc != 0 || (ca = tg_ca_open(dir, NULL, 0, &err)) == NULL)
			return cli_fail(&err);
	}
	print_urls(ca);
	tg_ca_free(ca);
	return 0;
}

const struct cli_cmd cli_ca_cmds[] = {
	{ "init", "create a root CA (and optionally an intermediate) in a directory",
	  ca_init_help, ca_init, NULL },
	{ "store", "show where the inventory lives, or move it (SQLite to PostgreSQL)",
	  ca_store_help, ca_store, NULL },
	{ "set", "show or change the CA's settings: the CRL URL put into what it issues",
	  ca_set_help, ca_set, NULL },
	{ NULL, NULL, NULL, NULL, NULL },
};
