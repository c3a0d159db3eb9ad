#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "tlsgate/ca.h"
#include "tlsgate/util.h"

static const char ca_init_help[] =
"Usage: tlsgate ca init --dir DIR [--name NAME] [--intermediate] [--key TYPE]\n"
"                       [--days N] [--pass-file F] [--store URL]\n"
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
"  --pass-file F     encrypt the CA keys with the passphrase on F's first line;\n"
"                    later commands then need --ca-pass-file F\n"
"  --store URL       keep the inventory in PostgreSQL instead of DIR/tlsgate.db:\n"
"                    postgresql://USER@HOST:PORT/DB?sslmode=verify-full or\n"
"                    postgres:host=H port=P dbname=D user=U (libpq conninfo).\n"
"                    The database must exist; tlsgate creates its tables. Several\n"
"                    CAs may share one database: each sees only its own rows.\n"
"                    The URL is recorded in DIR/store.conf and every later command\n"
"                    uses it. A URL with a password is refused: put the password\n"
"                    in ~/.pgpass (HOST:PORT:DB:USER:PASSWORD, mode 0600) or\n"
"                    PGPASSWORD. If the server cannot be reached, nothing is created.\n"
"\n"
"Examples:\n"
"  tlsgate ca init --dir /etc/tlsgate/ca --name 'Example Corp CA'\n"
"  tlsgate ca init --dir ./pki --intermediate --key ec-p384 --pass-file ca.pass\n"
"  tlsgate ca init --dir /etc/tlsgate/ca \\\n"
"      --store 'postgresql://tlsgate@db.example.com:5432/pki?sslmode=verify-full'\n";

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
		{ NULL, 0, NULL, 0 },
	};
	tg_ca_init_opts o = { .key_type = PKI_KEY_EC_P256 };
	const char *dir_opt = NULL, *pass_file = NULL;
	char *pass = NULL;
	unsigned long days;
	tg_err err = { 0 };
	int c, rc;

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
		case 'p': pass_file = optarg; break;
		case 's': o.store_url = optarg; break;
		default: return 2;
		}
	}
	if (optind < argc)
		return cli_usage("ca init", "unexpected argument '%s'", argv[optind]);
	if ((o.dir = cli_ca_dir(dir_opt, "ca init")) == NULL)
		return 2;
	if (o.name != NULL && (strlen(o.name) == 0 || strlen(o.name) >= PKI_NAME_MAX))
		return cli_usage("ca init", "--name must be 1 to %d characters", PKI_NAME_MAX - 1);
	if (cli_read_pass(pass_file, &pass, &err) != 0)
		return cli_fail(&err);
	o.pass = pass;
	rc = tg_ca_init(&o, &err);
	util_free_secret(pass);
	if (rc != 0)
		return cli_fail(&err);
	printf("Created CA in %s\n  root certificate: %s/root.crt (share it with every peer)\n"
	       "  root key:         %s/private/root.key (0600, keep it secret)\n",
	    o.dir, o.dir, o.dir);
	if (o.intermediate)
		printf("  intermediate:     %s/intermediate.crt (issues certificates)\n", o.dir);
	if (o.store_url != NULL)
		printf("  inventory:        %s (recorded in %s/store.conf)\n", o.store_url, o.dir);
	printf("Next: tlsgate cert issue HOST --dir %s\n", o.dir);
	return 0;
}

const struct cli_cmd cli_ca_cmds[] = {
	{ "init", "create a root CA (and optionally an intermediate) in a directory",
	  ca_init_help, ca_init, NULL },
	{ NULL, NULL, NULL, NULL, NULL },
};
