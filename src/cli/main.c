#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "tlsgate/util.h"

#ifndef TLSGATE_VERSION /* CMake passes the project's version */
#define TLSGATE_VERSION "0.0.0"
#endif

static const struct cli_cmd top_cmds[] = {
	{ "ca", "create a certificate authority; show or move its inventory", NULL, NULL, cli_ca_cmds },
	{ "cert", "issue, sign, import, revoke, list and renew certificates", NULL, NULL, cli_cert_cmds },
	{ "crl", "publish the certificate revocation list of a CA", NULL, NULL, NULL },
	{ "key", "work with private keys (remove a passphrase)", NULL, NULL, cli_key_cmds },
	{ "inspect", "show what a certificate, chain, CSR, CRL, key or p12 file holds", NULL, NULL, NULL },
	{ "verify", "verify a certificate chain the way a TLS peer would", NULL, NULL, NULL },
	{ "check", "find certificate mistakes in files, service dirs and live endpoints", NULL, NULL, NULL },
	{ "serve", "run the TLS/mutual-TLS gateway in front of a TCP or HTTP backend", NULL, NULL, NULL },
	{ "connect", "client mode: plain TCP or unix socket in, TLS with a client certificate out", NULL, NULL, NULL },
	{ "acme", "run an ACME server over a CA (certbot, lego, Caddy); its accounts and keys", NULL, NULL, cli_acme_cmds },
	{ NULL, NULL, NULL, NULL, NULL },
};

static const char top_help[] =
"tlsgate: TLS and mutual TLS made easy and correct.\n"
"\n"
"Usage: tlsgate COMMAND [SUBCOMMAND] [OPTIONS]\n"
"       tlsgate help COMMAND [SUBCOMMAND]\n"
"\n"
"Commands:\n"
"%s"
"\n"
"A private CA with mutual TLS in four commands:\n"
"  tlsgate ca init --dir ./pki --name 'Example CA'\n"
"  tlsgate cert issue db.example.com --dir ./pki --san 10.0.0.5\n"
"  tlsgate cert issue alice --dir ./pki --client --p12\n"
"  tlsgate verify ./pki/issued/alice.crt --ca ./pki/root.crt --purpose client\n"
"\n"
"The CA directory may also be given as $TLSGATE_DIR. Exit codes: 0 done,\n"
"1 failed, 2 usage error. See tlsgate(1) for everything.\n";

/* The leaf commands whose row lives in its own file. */
static const struct cli_cmd *
leaf_for(const struct cli_cmd *row)
{
	if (row->run != NULL || row->subs != NULL) /* a full row (`acme serve` is not `serve`) */
		return row;
	if (strcmp(row->name, "crl") == 0)
		return &cli_crl_cmd;
	if (strcmp(row->name, "inspect") == 0)
		return &cli_inspect_cmd;
	if (strcmp(row->name, "verify") == 0)
		return &cli_verify_cmd;
	if (strcmp(row->name, "check") == 0)
		return &cli_check_cmd;
	if (strcmp(row->name, "serve") == 0)
		return &cli_serve_cmd;
	if (strcmp(row->name, "connect") == 0)
		return &cli_connect_cmd;
	return row;
}

const struct cli_cmd *
cli_find(const struct cli_cmd *table, const char *name)
{
	for (const struct cli_cmd *c = table; c != NULL && c->name != NULL; c++)
		if (strcmp(c->name, name) == 0)
			return leaf_for(c);
	return NULL;
}

static void
print_table(FILE *f, const struct cli_cmd *table, const char *prefix)
{
	for (const struct cli_cmd *c = table; c->name != NULL; c++)
		fprintf(f, "  %s%-10s %s\n", prefix, c->name, c->summary);
}

static void
print_top_help(FILE *f)
{
	char list[4096] = "";
	size_t used = 0;

	for (const struct cli_cmd *c = top_cmds; c->name != NULL; c++)
		used += (size_t)snprintf(list + used, sizeof(list) - used, "  %-10s %s\n",
		    c->name, c->summary);
	fprintf(f, top_help, list);
}

static int
print_group_help(FILE *f, const char *group, const struct cli_cmd *subs)
{
	fprintf(f, "Usage: tlsgate %s SUBCOMMAND [OPTIONS]\n\nSubcommands:\n", group);
	print_table(f, subs, "");
	fprintf(f, "\nRun `tlsgate help %s SUBCOMMAND` for the options of each.\n", group);
	return 0;
}

static int
help(int argc, char **argv)
{
	const struct cli_cmd *c, *s;

	if (argc < 2) {
		print_top_help(stdout);
		return 0;
	}
	if ((c = cli_find(top_cmds, argv[1])) == NULL)
		return cli_usage("help", "unknown command '%s'", argv[1]);
	if (c->subs == NULL) {
		fputs(c->help, stdout);
		return 0;
	}
	if (argc < 3)
		return print_group_help(stdout, c->name, c->subs);
	if ((s = cli_find(c->subs, argv[2])) == NULL)
		return cli_usage("help", "unknown subcommand '%s %s'", argv[1], argv[2]);
	fputs(s->help, stdout);
	return 0;
}

/* The libraries are those loaded now: a distribution updates them without
 * rebuilding tlsgate. */
static int
print_version(void)
{
	char libs[512];

	util_runtime_versions(libs, sizeof(libs));
	printf("tlsgate %s\n%s", TLSGATE_VERSION, libs);
	return 0;
}

int
main(int argc, char **argv)
{
	const struct cli_cmd *c, *s;

	if (argc < 2) {
		print_top_help(stderr);
		return 2;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0)
		return help(argc - 1, argv + 1);
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0)
		return print_version();
	if (strcmp(argv[1], "__complete") == 0)
		return cli_doc_complete(argc - 1, argv + 1, top_cmds);
	if (strcmp(argv[1], "__man") == 0)
		return cli_doc_man(argc - 1, argv + 1, top_cmds);
	if ((c = cli_find(top_cmds, argv[1])) == NULL)
		return cli_usage(NULL, "unknown command '%s'", argv[1]);
	if (c->subs == NULL) {
		if (cli_wants_help(argc - 1, argv + 1, c->help))
			return 0;
		return c->run(argc - 1, argv + 1);
	}
	if (argc < 3 || strcmp(argv[2], "--help") == 0 || strcmp(argv[2], "-h") == 0) {
		print_group_help(argc < 3 ? stderr : stdout, c->name, c->subs);
		return argc < 3 ? 2 : 0;
	}
	if ((s = cli_find(c->subs, argv[2])) == NULL)
		return cli_usage(c->name, "unknown subcommand '%s'", argv[2]);
	if (cli_wants_help(argc - 2, argv + 2, s->help))
		return 0;
	return s->run(argc - 2, argv + 2);
}
