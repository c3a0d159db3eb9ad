/* nginx's config, read for what its TLS servers use: every `server` block
 * that listens with `ssl`, its `server_name`s, `ssl_certificate` and
 * `ssl_certificate_key` (inherited from `http` when the server has none),
 * `ssl_client_certificate`/`ssl_trusted_certificate` and `ssl_crl`, through
 * `include` (globs, relative to the main config's directory, as nginx's
 * prefix makes them). Each server's names are checked against its own
 * certificate. Nothing is run; paths with variables are left out. */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <glob.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#include "check/chk_int.h"
#include "check/chk_lua.h" /* chk_file_error */
#include "tlsgate/util.h"

#define NGX_MAX_DEPTH 16  /* include nesting */
#define NGX_MAX_BLOCKS 64 /* { } nesting: real configs use 4 or 5 */

enum { NX_CERT, NX_KEY, NX_CLIENT_CA, NX_TRUSTED, NX_CRL, NX_PASS, NX_N };

static const char *const nx_names[NX_N] = {
	"ssl_certificate", "ssl_certificate_key", "ssl_client_certificate",
	"ssl_trusted_certificate", "ssl_crl", "ssl_password_file",
};

/* What one level (http, or a server) sets. */
struct nx_level {
	char v[NX_N][PATH_MAX];
	char at[NX_N][320];  /* FILE:LINE where each was set (for messages) */
	int ssl;          /* a listen ... ssl, or ssl on */
	char **names;     /* server_name */
	size_t nnames;
};

struct nx {
	chk_ctx *c;
	tg_err *err;
	char prefix[PATH_MAX]; /* the main config's directory */
	struct nx_level http;
	int servers;
	int blocks;          /* { } nesting now */
	struct chk_conf *conf; /* files through includes */
};

struct nx_file {
	const char *path;
	const char *p, *end;
	unsigned line;
};

static int nx_read(struct nx *x, const char *path, const char *from, unsigned line,
    struct nx_level *lv, int block);

/* One token: a word, a quoted string, or one of ; { }. 0 at the end. */
static int
nx_token(struct nx_file *f, char *out, size_t len, int *quoted, tg_err *err)
{
	size_t n = 0;

	*quoted = 0;
	for (;;) {
		while (f->p < f->end && isspace((unsigned char)*f->p))
			if (*f->p++ == '\n')
				f->line++;
		if (f->p < f->end && *f->p == '#') {
			while (f->p < f->end && *f->p != '\n')
				f->p++;
			continue;
		}
		break;
	}
	if (f->p >= f->end)
		return 0;
	if (*f->p == ';' || *f->p == '{' || *f->p == '}') {
		out[0] = *f->p++;
		out[1] = '\0';
		return 1;
	}
	if (*f->p == '"' || *f->p == '\'') {
		char q = *f->p++;
		*quoted = 1;
		while (f->p < f->end && *f->p != q) {
			if (*f->p == '\\' && f->p + 1 < f->end)
				f->p++;
			if (*f->p == '\n')
				f->line++;
			if (n + 1 < len)
				out[n++] = *f->p;
			f->p++;
		}
		if (f->p >= f->end)
			return chk_file_error(err, f->path, f->line, "a quoted string is not closed "
			    "(nginx -t refuses this too)");
		f->p++;
		out[n] = '\0';
		return 1;
	}
	while (f->p < f->end && !isspace((unsigned char)*f->p) && *f->p != ';' && *f->p != '{' &&
	    *f->p != '}') {
		if (n + 1 < len)
			out[n++] = *f->p;
		f->p++;
	}
	out[n] = '\0';
	return 1;
}

/* nginx takes relative paths from its prefix: the main config's directory. */
static int
nx_abs(const struct nx *x, const char *v, char *out, tg_err *err)
{
	return chk_path_under(x->prefix, v, out, err);
}

static void
level_free(struct nx_level *lv)
{
	for (size_t i = 0; i < lv->nnames; i++)
		free(lv->names[i]);
	free(lv->names);
}

/* ssl_password_file: nginx tries its lines in turn on the key, and refuses
 * to start when it cannot read it. */
static int
nx_password_file(struct nx *x, const struct nx_level *sv, const char *key)
{
	const struct nx_level *lv = sv->v[NX_PASS][0] ? sv : &x->http;
	char path[PATH_MAX], origin[PATH_MAX + 384], *lines[64], *p, *save = NULL;
	unsigned char *data;
	size_t len, n = 0;
	tg_err rerr = { 0 };
	int rc;

	if (lv->v[NX_PASS][0] == '\0')
		return 0;
	if (nx_abs(x, lv->v[NX_PASS], path, x->err) != 0)
		return -1;
	if (util_read_file(path, &data, &len, &rerr) != 0)
		return tg_err_set(x->err, TG_ERR_USAGE, "%s: ssl_password_file: %s (nginx -t refuses "
		    "this too)", lv->at[NX_PASS], rerr.msg);
	for (p = strtok_r((char *)data, "\r\n", &save); p != NULL && n < 64;
	    p = strtok_r(NULL, "\r\n", &save))
		lines[n++] = p;
	snprintf(origin, sizeof(origin), "ssl_password_file %s (%s)", path, lv->at[NX_PASS]);
	rc = chk_add_key_pass(x->c, key, lines, n, origin, x->err);
	OPENSSL_cleanse(data, len);
	free(data);
	return rc;
}

/* A server block is over: its names against its certificate. */
static int
nx_server_done(struct nx *x, struct nx_level *sv)
{
	const char *cert = sv->v[NX_CERT][0] ? sv->v[NX_CERT] : x->http.v[NX_CERT];
	const char *key = sv->v[NX_KEY][0] ? sv->v[NX_KEY] : x->http.v[NX_KEY];
	char cpath[PATH_MAX], kpath[PATH_MAX], p[PATH_MAX];

	if (!sv->ssl || cert[0] == '\0')
		return 0;
	x->servers++;
	if (strchr(cert, '$') != NULL || strchr(key, '$') != NULL)
		return 0; /* chosen per request ($ssl_server_name): nothing fixed to check */
	if (nx_abs(x, cert, cpath, x->err) != 0 ||
	    (key[0] && nx_abs(x, key, kpath, x->err) != 0))
		return -1;
	if (!chk_has_pair(x->c, cpath) &&
	    (key[0] ? chk_add_pair(x->c, cpath, kpath, x->err) : chk_add_path(x->c, cpath, x->err)) != 0)
		return -1;
	if (key[0] && nx_password_file(x, sv, kpath) != 0)
		return -1;
	for (int i = NX_CLIENT_CA; i < NX_PASS; i++) {
		const char *v = sv->v[i][0] ? sv->v[i] : x->http.v[i];
		if (v[0] == '\0' || strchr(v, '$') != NULL)
			continue;
		if (nx_abs(x, v, p, x->err) != 0 || (i == NX_CRL ? chk_add_path(x->c, p, x->err) :
		    chk_add_ca_input(x->c, p, i == NX_CLIENT_CA ? "nginx's ssl_client_certificate: "
		    "client certificates must chain to it" : NULL, x->err)) != 0)
			return -1;
	}
	for (size_t i = 0; i < sv->nnames; i++) {
		const char *n = sv->names[i];
		/* _ and "" match nothing; regexes are not names. */
		if (n[0] == '\0' || strcmp(n, "_") == 0 || n[0] == '~' || n[0] == '.')
			continue;
		if (chk_add_pinned_host(x->c, n, cpath, x->err) != 0)
			return -1;
	}
	return 0;
}

static int
nx_directive(struct nx *x, const struct nx_file *f, struct nx_level *lv, int block, char **argv,
    int argc)
{
	if (strcmp(argv[0], "include") == 0 && argc == 2) {
		char pat[PATH_MAX];
		glob_t g;
		int rc = 0, gr;

		if (nx_abs(x, argv[1], pat, x->err) != 0)
			return -1;
		gr = glob(pat, 0, NULL, &g);
		if (gr == GLOB_NOMATCH && strpbrk(pat, "*?[") == NULL)
			return chk_file_error(x->err, f->path, f->line, "include %s: no such file "
			    "(nginx -t refuses this too)", pat);
		for (size_t i = 0; gr == 0 && rc == 0 && i < g.gl_pathc; i++)
			rc = nx_read(x, g.gl_pathv[i], f->path, f->line, lv, block);
		if (gr == 0)
			globfree(&g);
		return rc;
	}
	if (block != 's' && block != 'h')
		return 0;
	if (strcmp(argv[0], "listen") == 0) {
		for (int i = 2; i < argc; i++)
			if (strcmp(argv[i], "ssl") == 0)
				lv->ssl = 1;
		return 0;
	}
	if (strcmp(argv[0], "ssl") == 0 && argc == 2 && strcmp(argv[1], "on") == 0) {
		lv->ssl = 1;
		return 0;
	}
	if (strcmp(argv[0], "server_name") == 0 && block == 's') {
		for (int i = 1; i < argc; i++) {
			char **nv = realloc(lv->names, (lv->nnames + 1) * sizeof(*nv));
			if (nv == NULL)
				return tg_err_set(x->err, TG_ERR_INTERNAL, "out of memory");
			lv->names = nv;
			if ((nv[lv->nnames] = strdup(argv[i])) == NULL)
				return tg_err_set(x->err, TG_ERR_INTERNAL, "out of memory");
			lv->nnames++;
		}
		return 0;
	}
	for (int i = 0; i < NX_N; i++)
		if (strcmp(argv[0], nx_names[i]) == 0 && argc >= 2) {
			snprintf(lv->v[i], sizeof(lv->v[i]), "%s", argv[1]);
			snprintf(lv->at[i], sizeof(lv->at[i]), "%.300s:%u", f->path, f->line);
		}
	return 0;
}

struct nx_args {
	char **v;
	int n, cap;
};

static void
args_clear(struct nx_args *a)
{
	for (int i = 0; i < a->n; i++)
		free(a->v[i]);
	a->n = 0;
}

static int
args_push(struct nx_args *a, const char *t, tg_err *err)
{
	if (a->n == a->cap) {
		int ncap = a->cap ? a->cap * 2 : 8;
		char **nv = realloc(a->v, (size_t)ncap * sizeof(*nv));
		if (nv == NULL)
			return tg_err_set(err, TG_ERR_INTERNAL, "out of memory");
		a->v = nv;
		a->cap = ncap;
	}
	if ((a->v[a->n] = strdup(t)) == NULL)
		return tg_err_set(err, TG_ERR_INTERNAL, "out of memory");
	a->n++;
	return 0;
}

/* Reads directives until the block closes, or, at the top of a file, until
 * the file ends (an included file goes on in the block that includes it).
 * block: 't' top of nginx.conf, 'h' http, 's' server, 'o' any other. */
static int
nx_walk(struct nx *x, struct nx_file *f, struct nx_level *lv, int block, int top)
{
	struct nx_args a = { 0 };
	char tok[PATH_MAX];
	int quoted, r, rc = -1;

	while ((r = nx_token(f, tok, sizeof(tok), &quoted, x->err)) > 0) {
		if (!quoted && strcmp(tok, ";") == 0) {
			if (a.n > 0 && nx_directive(x, f, lv, block, a.v, a.n) != 0)
				goto out;
			args_clear(&a);
		} else if (!quoted && strcmp(tok, "{") == 0) {
			int inner = a.n == 0 ? 'o' : strcmp(a.v[0], "http") == 0 ? 'h' :
			    strcmp(a.v[0], "server") == 0 && block == 'h' ? 's' : 'o';
			if (x->blocks == NGX_MAX_BLOCKS) {
				chk_file_error(x->err, f->path, f->line, "blocks nested more than %d deep: "
				    "not a config nginx loads", NGX_MAX_BLOCKS);
				goto out;
			}
			x->blocks++;
			if (inner == 's') {
				/* On the heap: a level is tens of KB, walks nest. */
				struct nx_level *sv = calloc(1, sizeof(*sv));
				r = sv == NULL ? tg_err_set(x->err, TG_ERR_INTERNAL, "out of memory") :
				    nx_walk(x, f, sv, 's', 0);
				if (r == 0)
					r = nx_server_done(x, sv);
				if (sv != NULL)
					level_free(sv);
				free(sv);
			} else {
				r = nx_walk(x, f, inner == 'h' ? &x->http : lv, inner, 0);
			}
			x->blocks--;
			if (r != 0)
				goto out;
			args_clear(&a);
		} else if (!quoted && strcmp(tok, "}") == 0) {
			if (top) {
				chk_file_error(x->err, f->path, f->line, "unexpected \"}\" (nginx -t "
				    "refuses this too)");
				goto out;
			}
			rc = 0;
			goto out;
		} else if (args_push(&a, tok, x->err) != 0) {
			goto out;
		}
	}
	if (r < 0)
		goto out;
	if (!top) {
		chk_file_error(x->err, f->path, f->line, "a block is not closed: a \"}\" is missing "
		    "(nginx -t refuses this too)");
		goto out;
	}
	rc = 0;
out:
	args_clear(&a);
	free(a.v);
	return rc;
}

static int
nx_read(struct nx *x, const char *path, const char *from, unsigned line, struct nx_level *lv,
    int block)
{
	const unsigned char *data;
	size_t len;
	struct nx_file f;
	int rc;

	if (chk_conf_enter(x->conf, path, from, line, &data, &len, x->err) != 0)
		return x->err->cat == TG_ERR_IO ? tg_err_prefix(x->err, "cannot read the nginx "
		    "config") : -1;
	f.path = path;
	f.p = (const char *)data;
	f.end = f.p + len;
	f.line = 1;
	rc = nx_walk(x, &f, lv, block, 1);
	chk_conf_leave(x->conf);
	return rc;
}

int
chk_add_nginx_config(chk_ctx *c, const char *path, tg_err *err)
{
	struct nx *x = calloc(1, sizeof(*x));
	int rc = -1;

	if (x == NULL)
		return tg_err_set(err, TG_ERR_INTERNAL, "out of memory");
	x->c = c;
	x->err = err;
	if ((x->conf = chk_conf_new("nginx -t", NGX_MAX_DEPTH)) == NULL) {
		tg_err_set(err, TG_ERR_INTERNAL, "out of memory");
		goto out;
	}
	chk_dir_of(path, x->prefix, sizeof(x->prefix));
	if (nx_read(x, path, path, 0, &x->http, 't') != 0)
		goto out;
	if (x->servers == 0) {
		tg_err_set(err, TG_ERR_USAGE, "%s has no server that listens with ssl and names an "
		    "ssl_certificate: nothing to check; add `listen 443 ssl;` and the certificate "
		    "to the server block", path);
		goto out;
	}
	rc = 0;
out:
	chk_conf_free(x->conf);
	level_free(&x->http);
	free(x);
	return rc;
}
