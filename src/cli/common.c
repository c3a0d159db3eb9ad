#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "tlsgate/ca.h"
#include "tlsgate/util.h"

int
cli_fail(const tg_err *e)
{
	/* Messages quote names and lines from outside files. */
	char safe[4 * TG_ERR_MSG_MAX];

	fprintf(stderr, "%stlsgate: error: %s\n", util_log_prefix(UTIL_LOG_ERR),
	    e->msg[0] ? util_escape(e->msg, safe, sizeof(safe)) : "unknown failure");
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

/* Edit distance with adjacent swaps (optimal string alignment), capped: a
 * typo's distance is small. */
static size_t
edit_distance(const char *a, size_t la, const char *b)
{
	size_t lb = strlen(b), d[CLI_OPT_NAME_MAX + 1][CLI_OPT_NAME_MAX + 1];

	if (la > CLI_OPT_NAME_MAX || lb > CLI_OPT_NAME_MAX)
		return (size_t)-1;
	for (size_t i = 0; i <= la; i++)
		d[i][0] = i;
	for (size_t j = 0; j <= lb; j++)
		d[0][j] = j;
	for (size_t i = 1; i <= la; i++) {
		for (size_t j = 1; j <= lb; j++) {
			size_t cost = a[i - 1] != b[j - 1], v = d[i - 1][j - 1] + cost;
			if (d[i - 1][j] + 1 < v)
				v = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < v)
				v = d[i][j - 1] + 1;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
			    d[i - 2][j - 2] + 1 < v)
				v = d[i - 2][j - 2] + 1;
			d[i][j] = v;
		}
	}
	return d[la][lb];
}

/* The real options nearest to what was typed: those it begins (what
 * getopt_long's abbreviations used to accept), else the closest by edit
 * distance when that is close enough to be a typo. */
static void
suggest(const char *typed, size_t n, const struct option *opts, char *buf, size_t len)
{
	static const struct option help_opt = { "help", no_argument, NULL, 'h' };
	const char *prefixed[3];
	const struct option *best = NULL;
	size_t nprefix = 0, best_d = (size_t)-1;

	buf[0] = '\0';
	for (const struct option *o = opts; ; o++) {
		const struct option *c = o->name != NULL ? o : &help_opt;
		size_t d = edit_distance(typed, n, c->name);
		if (n > 0 && strncmp(c->name, typed, n) == 0 && nprefix < 3)
			prefixed[nprefix++] = c->name;
		if (d < best_d) {
			best_d = d;
			best = c;
		}
		if (o->name == NULL)
			break;
	}
	if (nprefix == 1)
		snprintf(buf, len, "--%s", prefixed[0]);
	else if (nprefix == 2)
		snprintf(buf, len, "--%s or --%s", prefixed[0], prefixed[1]);
	else if (nprefix == 3)
		snprintf(buf, len, "--%s, --%s or --%s", prefixed[0], prefixed[1], prefixed[2]);
	else if (best != NULL && (best_d <= 2 || best_d <= n / 3))
		snprintf(buf, len, "--%s", best->name);
}

/* Long options are matched by their exact name: getopt_long would take a
 * prefix (--ou for --out-dir) and write files where nobody asked. */
static int
exact_long(const char *arg, const struct option *opts, const char *cmd)
{
	const char *name = arg + 2, *eq = strchr(name, '=');
	size_t n = eq != NULL ? (size_t)(eq - name) : strlen(name);
	char near[256];

	for (const struct option *o = opts; o->name != NULL; o++) {
		if (strlen(o->name) != n || strncmp(o->name, name, n) != 0)
			continue;
		if (eq != NULL && o->has_arg == no_argument) {
			cli_usage(cmd, "option --%s takes no value", o->name);
			return -1;
		}
		return 0;
	}
	suggest(name, n, opts, near, sizeof(near));
	cli_usage(cmd, "unknown option --%.*s%s%s%s", (int)(n > 64 ? 64 : n), name,
	    near[0] ? "; did you mean " : "", near, near[0] ? "?" : "");
	return -1;
}

int
cli_getopt(int argc, char **argv, const struct option *opts, const char *cmd)
{
	char shortopts[128];
	size_t n = 0;
	int c;

	if (cli_doc_options(opts)) /* `tlsgate __complete`: list, do not run */
		return '?';
	/* The next argument getopt_long will take as an option: checked first. */
	for (int i = optind > 0 ? optind : 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--") == 0 || (a[0] == '-' && a[1] != '-' && a[1] != '\0'))
			break;
		if (a[0] == '-' && a[1] == '-') {
			if (exact_long(a, opts, cmd) != 0)
				return '?';
			break;
		}
	}
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

const char *
cli_opt_name(const struct option *opts, int val)
{
	for (const struct option *o = opts; o->name != NULL; o++)
		if (o->val == val)
			return o->name;
	return NULL;
}

void
cli_pass_init(pki_pass *p, const struct option *opts, int val, int ask)
{
	memset(p, 0, sizeof(*p));
	p->option = cli_opt_name(opts, val);
	p->ask = ask;
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

/* What the CA did unasked (settling an interrupted run) goes to stderr. */
void
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
	pki_pass pass = { .option = CLI_CA_PASS_OPT, .file = pass_file,
		.env = "TLSGATE_CA_PASS_FILE", .ask = 1 };
	tg_ca *ca;
	tg_err err = { 0 };

	*exit_code = 2;
	if (dir == NULL)
		return NULL;
	ca = tg_ca_open(dir, &pass, flags, &err);
	pki_pass_clear(&pass);
	if (ca == NULL) {
		*exit_code = cli_fail(&err);
		return NULL;
	}
	tg_ca_set_notify(ca, cli_note, NULL);
	*exit_code = 0;
	return ca;
}

int
cli_export_pass(pki_pass *p, int no_password, const struct option *opts, int none_val,
    const char *cmd, const char *what, int *exit_code)
{
	const char *none = cli_opt_name(opts, none_val);
	tg_err err = { 0 };

	if (no_password && p->file != NULL) {
		*exit_code = cli_usage(cmd, "give either --%s or --%s, not both", p->option, none);
		return -1;
	}
	if (no_password)
		return 0;
	if (!pki_pass_available(p)) {
		*exit_code = cli_usage(cmd, "%s needs an export password: give --%s FILE (its first "
		    "line; - reads standard input), or --%s for a file anyone can open", what,
		    p->option, none);
		return -1;
	}
	if (pki_pass_get(p, what, 1, &err) != 0) {
		*exit_code = cli_fail(&err);
		return -1;
	}
	return 0;
}

int
cli_owner_parse(const char *spec, cli_owner *o, tg_err *err)
{
	util_owner u;

	if (util_owner_parse(spec, &u, err) != 0)
		return -1;
	o->uid = u.uid;
	o->gid = u.gid;
	o->key_mode = util_owner_key_mode(&u);
	o->chown = 1;
	return 0;
}

int
cli_stage_owned(util_fileset *fs, const char *path, const void *data, size_t len, mode_t mode,
    int flags, const cli_owner *o, tg_err *err)
{
	const char *tmp;
	int fd, saved;

	if (util_fileset_stage(fs, path, NULL, data, len, o != NULL && o->chown ? 0600 : mode,
		flags, err) != 0)
		return -1;
	if (o == NULL || !o->chown)
		return 0;
	/* Handed over while 0600 and under its temporary name: at its final name
	 * it never has another owner or mode. */
	tmp = util_fileset_tmp(fs, fs->n - 1);
	fd = open(tmp, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || fchown(fd, o->uid, o->gid) != 0 || fchmod(fd, mode) != 0) {
		saved = errno;
		if (fd >= 0)
			close(fd);
		return tg_err_set(err, TG_ERR_IO, "cannot set owner/mode of %s: %s (run as root to "
		    "use --owner); nothing was changed", path, strerror(saved));
	}
	close(fd);
	return 0;
}

int
cli_write_owned(const char *path, const void *data, size_t len, mode_t mode, int flags,
    const cli_owner *o, tg_err *err)
{
	util_fileset fs = { 0 };
	int rc;

	rc = cli_stage_owned(&fs, path, data, len, mode, flags, o, err) != 0 ||
	    util_fileset_publish_all(&fs, err) != 0 ? -1 : 0;
	util_fileset_done(&fs, rc != 0);
	return rc;
}

const char *
cli_safe(int slot, const char *text)
{
	static char bufs[4][4 * 1024];

	slot &= 3;
	return util_escape(text != NULL ? text : "", bufs[slot], sizeof(bufs[slot]));
}

int
cli_urls_add(struct cli_urls *u, const char *url, const char *cmd, const char *opt)
{
	tg_err err = { 0 };

	if (pki_crl_url_check(url, &err) != 0)
		return cli_usage(cmd, "%s: %s", opt, err.msg);
	if (u->n == PKI_MAX_CRL_URLS)
		return cli_usage(cmd, "%s: at most %d URLs", opt, PKI_MAX_CRL_URLS);
	u->v[u->n++] = url;
	return 0;
}
