/* PostgreSQL's postgresql.conf, read the way the server reads it, for the
 * files its TLS uses: `ssl`, `ssl_cert_file`, `ssl_key_file`, `ssl_ca_file`,
 * `ssl_crl_file` and `data_directory`, through `include`,
 * `include_if_exists` and `include_dir`. The last assignment wins; relative
 * file names are relative to the data directory, included files to the
 * including file's directory, and postgresql.auto.conf (ALTER SYSTEM) in the
 * data directory is read last (PostgreSQL's rules). */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "check/chk_int.h"
#include "tlsgate/pki.h"
#include "check/chk_lua.h" /* chk_file_error */
#include "tlsgate/util.h"

#define PG_MAX_DEPTH 10 /* PostgreSQL's own limit on include nesting */

enum { PG_SSL, PG_CERT, PG_KEY, PG_CA, PG_CRL, PG_DATA, PG_PASSCMD, PG_HBA, PG_N };

static const char *const pg_names[PG_N] = {
	"ssl", "ssl_cert_file", "ssl_key_file", "ssl_ca_file", "ssl_crl_file", "data_directory",
	"ssl_passphrase_command", "hba_file",
};

struct pg_setting {
	char value[PATH_MAX];
	char file[PATH_MAX];
	unsigned line;
	int set;
};

struct pgconf {
	struct pg_setting s[PG_N];
	struct chk_conf *conf; /* files through includes */
	tg_err *err;
};

static int pg_read(struct pgconf *pc, const char *path, const char *from, unsigned from_line,
    int missing_ok);

/* A value: 'quoted' ('' and \' for a quote) or a bare word. */
static const char *
pg_value(const char *p, char *out, size_t len, int *bad)
{
	size_t n = 0;

	*bad = 0;
	if (*p == '\'') {
		for (p++; *p != '\0'; p++) {
			if (*p == '\'' && p[1] == '\'')
				p++;
			else if (*p == '\\' && p[1] != '\0')
				p++;
			else if (*p == '\'')
				break;
			if (n + 1 < len)
				out[n++] = *p;
		}
		if (*p != '\'')
			*bad = 1;
		else
			p++;
	} else {
		while (*p != '\0' && !isspace((unsigned char)*p) && *p != '#') {
			if (n + 1 < len)
				out[n++] = *p;
			p++;
		}
	}
	out[n] = '\0';
	return p;
}

struct pg_inc {
	struct pgconf *pc;
	const char *from;
	unsigned line;
};

static int
pg_include_one(const char *path, void *arg)
{
	struct pg_inc *in = arg;

	return pg_read(in->pc, path, in->from, in->line, 0);
}

static int
pg_include_dir(struct pgconf *pc, const char *dir, const char *file, unsigned line)
{
	struct pg_inc in = { pc, file, line };
	/* PostgreSQL skips hidden files. */
	int rc = chk_each_conf(dir, 1, pg_include_one, &in, pc->err);

	if (rc < 0)
		return chk_file_error(pc->err, file, line, "include_dir '%s': %s (PostgreSQL "
		    "refuses to start with this too)", dir, strerror(errno));
	return rc == 0 ? 0 : -1;
}

static int
pg_line(struct pgconf *pc, const char *path, unsigned line, const char *p)
{
	char name[64], value[PATH_MAX], dir[PATH_MAX], full[PATH_MAX];
	size_t n = 0;
	int bad;

	while (isspace((unsigned char)*p))
		p++;
	if (*p == '\0' || *p == '#')
		return 0;
	while ((isalnum((unsigned char)*p) || *p == '_' || *p == '.') && n + 1 < sizeof(name))
		name[n++] = (char)tolower((unsigned char)*p++);
	name[n] = '\0';
	if (n == 0)
		return chk_file_error(pc->err, path, line, "expected NAME = VALUE (PostgreSQL "
		    "refuses this line too)");
	while (isspace((unsigned char)*p))
		p++;
	if (*p == '=')
		p++;
	while (isspace((unsigned char)*p))
		p++;
	p = pg_value(p, value, sizeof(value), &bad);
	while (isspace((unsigned char)*p))
		p++;
	if (bad || (*p != '\0' && *p != '#'))
		return chk_file_error(pc->err, path, line, "%s: %s (PostgreSQL refuses this line "
		    "too)", name, bad ? "the quoted value is not closed" : "text after the value");
	if (strcmp(name, "include") == 0 || strcmp(name, "include_if_exists") == 0 ||
	    strcmp(name, "include_dir") == 0) {
		chk_dir_of(path, dir, sizeof(dir));
		if (chk_path_under(dir, value, full, pc->err) != 0)
			return -1;
		if (strcmp(name, "include_dir") == 0)
			return pg_include_dir(pc, full, path, line);
		return pg_read(pc, full, path, line, strcmp(name, "include_if_exists") == 0);
	}
	for (int i = 0; i < PG_N; i++) {
		if (strcmp(name, pg_names[i]) != 0)
			continue;
		snprintf(pc->s[i].value, sizeof(pc->s[i].value), "%s", value);
		snprintf(pc->s[i].file, sizeof(pc->s[i].file), "%s", path);
		pc->s[i].line = line;
		pc->s[i].set = 1;
	}
	return 0;
}

static int
pg_line_cb(void *arg, const char *path, unsigned line, char *text)
{
	return pg_line(arg, path, line, text);
}

static int
pg_read(struct pgconf *pc, const char *path, const char *from, unsigned from_line, int missing_ok)
{
	char why[TG_ERR_MSG_MAX - 400];
	struct stat st;
	int rc;

	if (missing_ok && stat(path, &st) != 0 && errno == ENOENT)
		return 0;
	rc = chk_conf_each_line(pc->conf, path, from, from_line, pg_line_cb, pc, pc->err);
	if (rc == 0)
		return 0;
	if (rc > 0 || pc->err->cat != TG_ERR_IO)
		return -1;
	snprintf(why, sizeof(why), "%.1500s", pc->err->msg);
	return tg_err_set(pc->err, TG_ERR_USAGE, "cannot read the PostgreSQL config: %s%s", why,
	    from_line > 0 ? "" : "; give the file the server runs with (psql: SHOW config_file; "
	    "Debian: /etc/postgresql/15/main/postgresql.conf)");
}

/* on/off/true/false/yes/no/1/0 and their prefixes, as PostgreSQL takes
 * them; -1 when it is none of them. */
static int
pg_bool(const char *v)
{
	static const char *const yes[] = { "on", "true", "yes", "1" };
	static const char *const no[] = { "off", "false", "no", "0" };
	size_t n = strlen(v);

	for (size_t i = 0; i < 4; i++) {
		if (n > 0 && strncasecmp(v, yes[i], n) == 0 && (i > 0 || n >= 2))
			return 1;
		if (n > 0 && strncasecmp(v, no[i], n) == 0 && (i > 0 || n >= 2))
			return 0;
	}
	return -1;
}

/* A file setting resolved against the data directory; "" when unset or
 * empty (the feature off). */
static int
pg_path(const struct pgconf *pc, int which, const char *dflt, const char *datadir, char *out,
    tg_err *err)
{
	const char *v = pc->s[which].set ? pc->s[which].value : dflt;

	out[0] = '\0';
	if (v == NULL || v[0] == '\0')
		return 0;
	return chk_path_under(datadir, v, out, err);
}

/* --- pg_hba.conf: client certificates need ssl_ca_file --- */

static const char *const pg_methods[] = {
	"trust", "reject", "scram-sha-256", "md5", "password", "gss", "sspi", "ident", "peer",
	"ldap", "radius", "cert", "pam", "bsd", NULL,
};

struct pg_hba {
	chk_ctx *c;
	tg_err *err;
};

/* A line asking for a client certificate (auth method cert, or clientcert=
 * verify-ca/verify-full) while no ssl_ca_file is set: PostgreSQL has no CA
 * to check it against, and refuses (the line, or every such client). */
static int
pg_hba_line(void *arg, const char *path, unsigned line, char *text)
{
	struct pg_hba *h = arg;
	char *tok[32], *save = NULL, *hash = strchr(text, '#');
	int n = 0, method = -1, clientcert = 0;

	if (hash != NULL)
		*hash = '\0';
	for (char *t = strtok_r(text, " \t\r", &save); t != NULL && n < 32;
	    t = strtok_r(NULL, " \t\r", &save))
		tok[n++] = t;
	if (n < 4 || strcmp(tok[0], "local") == 0)
		return 0;
	for (int i = 3; i < n; i++) {
		for (size_t k = 0; method < 0 && pg_methods[k] != NULL; k++)
			if (strcmp(tok[i], pg_methods[k]) == 0)
				method = i;
		if (method >= 0 && i > method && (strcmp(tok[i], "clientcert=verify-ca") == 0 ||
		    strcmp(tok[i], "clientcert=verify-full") == 0))
			clientcert = 1;
	}
	if (method < 0 || (!clientcert && strcmp(tok[method], "cert") != 0))
		return 0;
	if (chk_cfg_note(h->c, "pg-hba-client-cert-no-ca", path, line, "set ssl_ca_file in "
	    "postgresql.conf to the CA that issues the client certificates (tlsgate: ./pki/root.crt), "
	    "then reload", "%s asks for client certificates (%s) but postgresql.conf sets no "
	    "ssl_ca_file: PostgreSQL has nothing to verify them with (\"client certificates can "
	    "only be checked if a root certificate store is available\"), so these clients are "
	    "refused", tok[0], clientcert ? "clientcert" : "auth method cert") != 0)
		return tg_err_set(h->err, TG_ERR_INTERNAL, "out of memory");
	return 0;
}

static int
pg_hba(chk_ctx *c, const struct pgconf *pc, const char *datadir, tg_err *err)
{
	struct pg_hba h = { c, err };
	char path[PATH_MAX];
	struct chk_conf *r;
	int rc;

	if (pg_path(pc, PG_HBA, "pg_hba.conf", datadir, path, err) != 0)
		return -1;
	if (access(path, F_OK) != 0)
		return 0; /* not here (a copy of the config): nothing to say */
	if ((r = chk_conf_new("PostgreSQL", PG_MAX_DEPTH)) == NULL)
		return tg_err_set(err, TG_ERR_INTERNAL, "out of memory");
	rc = chk_conf_each_line(r, path, path, 0, pg_hba_line, &h, err);
	chk_conf_free(r);
	return rc == 0 ? 0 : -1;
}


/* The child: PostgreSQL's popen of the command, as the server's account
 * when we are root (the server never runs as root), in the data directory
 * (the server's working directory), %p the prompt. */
static void
pg_passcmd_child(const char *cmd, const char *datadir, const struct passwd *pw, int out)
{
	char line[PATH_MAX * 2];
	size_t o = 0;
	int null = open("/dev/null", O_RDWR);

	for (size_t i = 0; cmd[i] != '\0' && o + 32 < sizeof(line); i++) {
		if (cmd[i] == '%' && cmd[i + 1] == 'p') {
			o += (size_t)snprintf(line + o, sizeof(line) - o, "Enter PEM pass phrase:");
			i++;
		} else {
			line[o++] = cmd[i];
			i += cmd[i] == '%' && cmd[i + 1] == '%';
		}
	}
	line[o] = '\0';
	setpgid(0, 0);
	if (null < 0 || dup2(null, 0) < 0 || dup2(out, 1) < 0 || dup2(null, 2) < 0 ||
	    chdir(datadir) != 0)
		_exit(126);
	if (geteuid() == 0 &&
	    (pw == NULL || pw->pw_uid == 0 || setgid(pw->pw_gid) != 0 ||
	    initgroups(pw->pw_name, pw->pw_gid) != 0 || setuid(pw->pw_uid) != 0))
		_exit(126);
	execl("/bin/sh", "sh", "-c", line, (char *)NULL);
	_exit(127);
}

/* Whether the command may run here: a command from a config file is code,
 * so it runs only with no more rights than the server would give it. As
 * root, it runs as the data directory's owner, never as root (PostgreSQL
 * refuses to run as root, so a root-owned data directory never runs it
 * either). As anyone else, it runs as ourselves, so only from a file we or
 * root own: a config someone else wrote may not run code as us. */
static int
pg_passcmd_trusted(const char *file, const struct passwd *pw)
{
	struct stat st;

	if (geteuid() == 0)
		return pw != NULL && pw->pw_uid != 0;
	return stat(file, &st) == 0 && (st.st_uid == geteuid() || st.st_uid == 0);
}

/* ssl_passphrase_command, run as the server runs it when it starts with
 * an encrypted key: its first line (CR/LF stripped) is the passphrase, a
 * non-zero exit fails the start. Bounded to PG_PASSCMD_SECONDS; one that
 * does not finish (a prompt waiting for someone) is not judged. */
#define PG_PASSCMD_SECONDS 10

static int
pg_passcmd(chk_ctx *c, const struct pg_setting *s, const char *key, const char *datadir,
    const struct passwd *pw, tg_err *err)
{
	char origin[PATH_MAX + 64], buf[1024], failed[256] = "";
	size_t len = 0;
	int fds[2], status = 0, done = 0, rc;
	char *pass = buf;
	time_t deadline = time(NULL) + PG_PASSCMD_SECONDS;
	pid_t pid;

	snprintf(origin, sizeof(origin), "ssl_passphrase_command (%.3000s:%u)", s->file, s->line);
	/* PostgreSQL runs ssl_passphrase_command only when OpenSSL asks for a
	 * passphrase: when the key is passphrase-protected. */
	if (!pki_key_file_encrypted(key))
		return 0;
	if (!pg_passcmd_trusted(s->file, pw))
		return chk_add_key_pass(c, key, NULL, 0, origin, err); /* not judged */
	if (pipe2(fds, O_CLOEXEC) != 0 || (pid = fork()) < 0)
		return tg_err_set(err, TG_ERR_IO, "cannot run %s: %s", origin, strerror(errno));
	if (pid == 0)
		pg_passcmd_child(s->value, datadir, pw, fds[1]);
	close(fds[1]);
	while (!done) {
		struct pollfd p = { .fd = fds[0], .events = POLLIN };
		ssize_t n;
		int left = (int)(deadline - time(NULL));
		if (left <= 0 || poll(&p, 1, left * 1000) <= 0)
			break;
		n = read(fds[0], buf + len, sizeof(buf) - 1 - len);
		if (n > 0)
			len += (size_t)n;
		done = n <= 0 || len == sizeof(buf) - 1;
	}
	close(fds[0]);
	if (!done)
		kill(-pid, SIGKILL); /* too slow: its whole group */
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	buf[len] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
	if (!done)
		rc = chk_add_key_pass(c, key, NULL, 0, origin, err); /* not judged */
	else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		if (WIFEXITED(status))
			snprintf(failed, sizeof(failed), "exited with status %d (run as %s)",
			    WEXITSTATUS(status), pw != NULL ? pw->pw_name : "this user");
		else
			snprintf(failed, sizeof(failed), "was killed by signal %d",
			    WIFSIGNALED(status) ? WTERMSIG(status) : 0);
		rc = chk_add_key_pass(c, key, NULL, 0, origin, err);
		if (rc == 0)
			snprintf(c->keypasses[c->nkeypasses - 1].failed,
			    sizeof(c->keypasses[0].failed), "%s", failed);
	} else {
		rc = chk_add_key_pass(c, key, &pass, 1, origin, err);
	}
	OPENSSL_cleanse(buf, sizeof(buf));
	return rc;
}

int
chk_add_pg_config(chk_ctx *c, const char *path, tg_err *err)
{
	struct pgconf *pc = calloc(1, sizeof(*pc));
	char datadir[PATH_MAX], cert[PATH_MAX], key[PATH_MAX], ca[PATH_MAX], crl[PATH_MAX];
	char auto_conf[PATH_MAX];
	struct passwd *pw;
	struct stat st;
	int rc = -1, on;

	if (pc == NULL)
		return tg_err_set(err, TG_ERR_INTERNAL, "out of memory");
	pc->err = err;
	if ((pc->conf = chk_conf_new("PostgreSQL", PG_MAX_DEPTH)) == NULL) {
		tg_err_set(err, TG_ERR_INTERNAL, "out of memory");
		goto out;
	}
	if (pg_read(pc, path, path, 0, 0) != 0)
		goto out;
	snprintf(c->pg_conf, sizeof(c->pg_conf), "%s", path);
	if (pc->s[PG_DATA].set && pc->s[PG_DATA].value[0] != '\0')
		snprintf(datadir, sizeof(datadir), "%s", pc->s[PG_DATA].value);
	else
		chk_dir_of(path, datadir, sizeof(datadir));
	snprintf(c->pg_datadir, sizeof(c->pg_datadir), "%s", datadir);
	/* ALTER SYSTEM's file comes last and wins, as in the server. */
	if (util_path_join(auto_conf, sizeof(auto_conf), datadir, "postgresql.auto.conf", err) != 0 ||
	    pg_read(pc, auto_conf, path, 1, 1) != 0)
		goto out;
	on = pc->s[PG_SSL].set ? pg_bool(pc->s[PG_SSL].value) : 0;
	if (on < 0) {
		rc = chk_file_error(err, pc->s[PG_SSL].file, pc->s[PG_SSL].line, "ssl = '%s' is not "
		    "a boolean: write on or off", pc->s[PG_SSL].value);
		goto out;
	}
	if (!on) {
		/* PostgreSQL's default is off: nothing of the TLS files is used. */
		snprintf(c->pg_ssl_off_file, sizeof(c->pg_ssl_off_file), "%s",
		    pc->s[PG_SSL].set ? pc->s[PG_SSL].file : path);
		c->pg_ssl_off_line = pc->s[PG_SSL].set ? pc->s[PG_SSL].line : 0;
		rc = 0;
		goto out;
	}
	if (pg_path(pc, PG_CERT, "server.crt", datadir, cert, err) != 0 ||
	    pg_path(pc, PG_KEY, "server.key", datadir, key, err) != 0 ||
	    pg_path(pc, PG_CA, "", datadir, ca, err) != 0 ||
	    pg_path(pc, PG_CRL, "", datadir, crl, err) != 0)
		goto out;
	if (chk_add_pair(c, cert, key, err) != 0 || (ca[0] && chk_add_ca_input(c, ca, "PostgreSQL's ssl_ca_file: client "
	    "certificates must chain to it", err) != 0) ||
	    (crl[0] && chk_add_path(c, crl, err) != 0))
		goto out;
	if (!ca[0] && pg_hba(c, pc, datadir, err) != 0)
		goto out;
	/* The key rule is about the user the server runs as: the data
	 * directory's owner, unless --owner says otherwise. */
	c->pg_keys = 1;
	pw = stat(datadir, &st) == 0 ? getpwuid(st.st_uid) : NULL;
	if (pw != NULL) {
		char from[PATH_MAX + 64];
		snprintf(from, sizeof(from), "the owner of the data directory %s", datadir);
		if (chk_default_owner(c, pw->pw_name, from, err) != 0)
			goto out;
	}
	if (pc->s[PG_PASSCMD].set && pc->s[PG_PASSCMD].value[0] != '\0' &&
	    pg_passcmd(c, &pc->s[PG_PASSCMD], key, datadir, pw, err) != 0)
		goto out;
	rc = 0;
out:
	chk_conf_free(pc->conf);
	free(pc);
	return rc;
}
