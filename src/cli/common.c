#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "tlsgate/ca.h"
#include "tlsgate/util.h"

int
cli_fail(const tg_err *e)
{
	fprintf(stderr, "%stlsgate: error: %s\n", util_log_prefix(UTIL_LOG_ERR),
	    e->msg[0] ? e->msg : "unknown failure");
	return tg_err_exit_code(e) ? tg_err_exit_code(e) : 1;
}

int
cli_usage(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fputs("tlsgate: usage error: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (cmd != NULL)
		fprintf(stderr, "\nRun `tlsgate help %s` for the options.\n", cmd);
	else
		fputs("\nRun `tlsgate --help` for the commands.\n", stderr);
	return 2;
}

int
cli_getopt(int argc, char **argv, const struct option *opts, const char *cmd)
{
	char shortopts[128];
	size_t n = 0;
	int c;

	if (cli_doc_options(opts)) /* `tlsgate __complete`: list, do not run */
		return '?';
	/* Short forms are the long options' `val`s when printable. */
	shortopts[n++] = ':';
	for (const struct option *o = opts; o->name != NULL && n + 3 < sizeof(shortopts); o++) {
		if (o->flag != NULL || o->val < 'A' || o->val > 'z')
			continue;
		shortopts[n++] = (char)o->val;
		if (o->has_arg == required_argument)
			shortopts[n++] = ':';
	}
	shortopts[n] = '\0';
	opterr = 0;
	c = getopt_long(argc, argv, shortopts, opts, NULL);
	if (c == '?') {
		if (optopt != 0)
			cli_usage(cmd, "unknown option '-%c'", optopt);
		else
			cli_usage(cmd, "unknown option '%s'", argv[optind - 1]);
		return '?';
	}
	if (c == ':') {
		cli_usage(cmd, "option '%s' needs a value", argv[optind - 1]);
		return '?';
	}
	return c;
}

int
cli_wants_help(int argc, char **argv, const char *help)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			break;
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			fputs(help, stdout);
			return 1;
		}
	}
	return 0;
}

const char *
cli_ca_dir(const char *dir_opt, const char *cmd)
{
	const char *env;

	if (dir_opt != NULL)
		return dir_opt;
	env = getenv("TLSGATE_DIR");
	if (env != NULL && *env != '\0')
		return env;
	cli_usage(cmd, "no CA directory: pass --dir DIR or set TLSGATE_DIR");
	return NULL;
}

int
cli_read_pass(const char *path, char **pass, tg_err *err)
{
	*pass = NULL;
	if (path == NULL)
		return 0;
	return util_read_pass_file(path, pass, err);
}

/* What the CA did unasked (settling an interrupted run) goes to stderr. */
static void
cli_note(const char *msg, void *arg)
{
	(void)arg;
	fprintf(stderr, "tlsgate: note: %s\n", msg);
}

struct tg_ca *
cli_open_ca(const char *dir_opt, const char *pass_file, int flags, const char *cmd,
    int *exit_code)
{
	const char *dir = cli_ca_dir(dir_opt, cmd);
	char *pass = NULL;
	tg_ca *ca;
	tg_err err = { 0 };

	*exit_code = 2;
	if (dir == NULL)
		return NULL;
	if (pass_file == NULL && getenv("TLSGATE_CA_PASS_FILE") != NULL)
		pass_file = getenv("TLSGATE_CA_PASS_FILE");
	if (cli_read_pass(pass_file, &pass, &err) != 0) {
		*exit_code = cli_fail(&err);
		return NULL;
	}
	ca = tg_ca_open(dir, pass, flags, &err);
	util_free_secret(pass);
	if (ca == NULL) {
		if (strstr(err.msg, "protected by a passphrase") != NULL)
			tg_err_prefix(&err, "the CA key is encrypted (use --ca-pass-file FILE or "
			    "$TLSGATE_CA_PASS_FILE)");
		*exit_code = cli_fail(&err);
		return NULL;
	}
	tg_ca_set_notify(ca, cli_note, NULL);
	*exit_code = 0;
	return ca;
}
