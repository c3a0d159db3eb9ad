/* Prosody config reader (chk_prosody.h). Two steps per file: the Lua lexer
 * (lua_lex.c) turns the bytes into tokens, then one walk over the tokens
 * interprets the statements Prosody's configmanager gives meaning to:
 * VirtualHost/Host, Component, Include, and the assignments `enabled = ...`,
 * `certificates = ...` and `ssl = { certificate = ...; key = ... }`.
 * Nothing is executed. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "check/chk_int.h"
#include "check/chk_lua.h"
#include "tlsgate/util.h"

/* ================= Interpretation ================= */

struct loader {
	struct chk_pcfg *cfg;
	char main_dir[PATH_MAX]; /* `certificates` is relative to the main config's dir */
	tg_err *err;
};

/* One file's walk. */
struct walk {
	struct loader *ld;
	const char *file;        /* in cfg->files */
	char dir[PATH_MAX];      /* its directory: relative Includes start here */
	int depth;               /* Include nesting */
	struct tok *t;
	size_t i;
	int cur;                 /* the host options go to; -1: the global section */
	int brackets, blocks, loops;
	int table_host, table_depth; /* VirtualHost "x" { options } */
};

static int load_file(struct loader *ld, const char *path, int depth, const char *from,
    unsigned from_line, const char *spec);

static int
tok_is(const struct tok *t, enum tok_type type, const char *s)
{
	return t->type == type && t->n == strlen(s) && strncmp(t->p, s, t->n) == 0;
}

static int
name_is(const struct tok *t, const char *s)
{
	return tok_is(t, T_NAME, s);
}

static int
op_is(const struct tok *t, const char *s)
{
	return tok_is(t, T_OP, s);
}

/* Prosody's resolve_relative_path: one leading "./" dropped, a relative path
 * joined to dir (given without its trailing slash; "" is the root, "." the
 * current directory, left out of the result). */
static int
resolve(char *out, size_t len, const char *dir, const char *path)
{
	size_t dl = strlen(dir);
	int n;

	while (dl > 0 && dir[dl - 1] == '/')
		dl--;
	if (path[0] == '.' && path[1] == '/')
		for (path += 2; *path == '/'; path++)
			;
	if (path[0] == '/' || strcmp(dir, ".") == 0)
		n = snprintf(out, len, "%s", path);
	else
		n = snprintf(out, len, "%.*s/%s", (int)dl, dir, path);
	return n > 0 && (size_t)n < len ? 0 : -1;
}

static int
vnote(struct chk_pcfg *cfg, tg_err *err, const char *file, unsigned line, const char *code,
    const char *fix, const char *fmt, va_list ap)
{
	struct chk_pnote *n = realloc(cfg->notes, (cfg->nnotes + 1) * sizeof(*n));

	if (n == NULL)
		return tg_err_set(err, TG_ERR_INTERNAL, "out of memory");
	cfg->notes = n;
	n = &cfg->notes[cfg->nnotes++];
	n->code = code;
	n->file = file;
	n->line = line;
	vsnprintf(n->message, sizeof(n->message), fmt, ap);
	snprintf(n->fix, sizeof(n->fix), "%s", fix);
	return 0;
}

int
chk_pcfg_note(struct chk_pcfg *cfg, const char *file, unsigned line, const char *code,
    const char *fix, tg_err *err, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = vnote(cfg, err, file, line, code, fix, fmt, ap);
	va_end(ap);
	return rc;
}

static int
add_note(struct walk *w, unsigned line, const char *code, const char *fix, const char *fmt, ...)
    TG_PRINTF(5, 6);

static int
add_note(struct walk *w, unsigned line, const char *code, const char *fix, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = vnote(w->ld->cfg, w->ld->err, w->file, line, code, fix, fmt, ap);
	va_end(ap);
	return rc;
}

static int
cfg_note(struct loader *ld, const char *file, unsigned line, const char *code, const char *fix,
    const char *fmt, ...) TG_PRINTF(6, 7);

static int
cfg_note(struct loader *ld, const char *file, unsigned line, const char *code, const char *fix,
    const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = vnote(ld->cfg, ld->err, file, line, code, fix, fmt, ap);
	va_end(ap);
	return rc;
}

/* The argument of a call written the two ways configs write it: NAME "x"
 * or NAME("x"). Advances *j past it; NULL when it is anything else. */
static const struct tok *
call_arg(const struct tok *t, size_t *j)
{
	if (t[*j].type == T_STRING) {
		return &t[(*j)++];
	}
	if (op_is(&t[*j], "(") && t[*j + 1].type == T_STRING && op_is(&t[*j + 2], ")")) {
		*j += 3;
		return &t[*j - 2];
	}
	return NULL;
}

/* Whether the value at t[j] is one literal (not the start of an expression
 * tlsgate would have to evaluate). */
static int
is_literal(const struct tok *t, size_t j)
{
	const struct tok *next = &t[j + 1];

	if (!(t[j].type == T_STRING || t[j].type == T_NUMBER || name_is(&t[j], "true") ||
	    name_is(&t[j], "false") || name_is(&t[j], "nil")))
		return 0;
	if (next->type == T_EOF || op_is(next, ";") || op_is(next, ",") || op_is(next, "}") ||
	    op_is(next, ")"))
		return 1;
	return next->type == T_NAME && !name_is(next, "and") && !name_is(next, "or");
}

static void
nameprep(char *name)
{
	for (char *p = name; *p != '\0'; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
}

static const char *
kind_word(enum chk_phost_kind k)
{
	return k == CHK_PHOST_COMPONENT ? "Component" : "VirtualHost";
}

const char *
chk_phost_kind_name(enum chk_phost_kind k)
{
	return kind_word(k);
}

static int
check_host_name(struct walk *w, const struct tok *name, unsigned line, const char *word)
{
	if (name->slen == 0)
		return chk_file_error(w->ld->err, w->file, line, "%s \"\" has no name; write the host "
		    "name, as in %s \"example.com\"", word, word);
	if (name->slen >= CHK_PCFG_NAME_MAX)
		return chk_file_error(w->ld->err, w->file, line, "%s name is longer than %d bytes",
		    word, CHK_PCFG_NAME_MAX - 1);
	for (size_t k = 0; k < name->slen; k++)
		if ((unsigned char)name->s[k] <= ' ' || name->s[k] == 0x7f)
			return chk_file_error(w->ld->err, w->file, line, "%s \"%.*s\": a host name "
			    "cannot hold spaces or control characters", word, (int)strcspn(name->s, "\n"),
			    name->s);
	return 0;
}

/* The host named name, added when new. A VirtualHost and a Component may
 * not share a name: Prosody refuses that config. */
static int
host_for(struct walk *w, const char *name, enum chk_phost_kind kind, unsigned line)
{
	struct chk_pcfg *cfg = w->ld->cfg;
	struct chk_phost *h;

	for (size_t k = 0; k < cfg->nhosts; k++) {
		h = &cfg->hosts[k];
		if (strcmp(h->name, name) != 0)
			continue;
		if (h->kind != kind)
			return chk_file_error(w->ld->err, w->file, line, "%s \"%s\" clashes with the %s "
			    "of the same name at %s:%u (Prosody refuses this config); for a service "
			    "use a sub-domain, like conference.%s", kind_word(kind), name,
			    kind_word(h->kind), h->file, h->line, name);
		return (int)k;
	}
	if (cfg->nhosts == CHK_PCFG_MAX_HOSTS)
		return chk_file_error(w->ld->err, w->file, line, "more than %d hosts; check them in "
		    "parts with --host", CHK_PCFG_MAX_HOSTS);
	if ((h = realloc(cfg->hosts, (cfg->nhosts + 1) * sizeof(*h))) == NULL)
		return tg_err_set(w->ld->err, TG_ERR_INTERNAL, "out of memory");
	cfg->hosts = h;
	h = &cfg->hosts[cfg->nhosts];
	memset(h, 0, sizeof(*h));
	snprintf(h->name, sizeof(h->name), "%s", name);
	h->kind = kind;
	snprintf(h->module, sizeof(h->module), "%s", kind == CHK_PHOST_COMPONENT ? "component" : "");
	h->file = w->file;
	h->line = line;
	h->enabled = CHK_PVAL_UNSET;
	return (int)cfg->nhosts++;
}

/* VirtualHost "name" [{ options }] or Component "name" ["module"] [{ options }] */
static int
declare_host(struct walk *w, enum chk_phost_kind kind)
{
	const struct tok *t = w->t, *name, *module;
	const char *word = kind_word(kind);
	unsigned line = t[w->i].line;
	size_t j = w->i + 1;
	char prepped[CHK_PCFG_NAME_MAX];
	int idx;

	if ((name = call_arg(t, &j)) == NULL)
		return chk_file_error(w->ld->err, w->file, line, "%.*s must be followed by a quoted "
		    "name, as in %s \"example.com\": tlsgate reads the config without running it, "
		    "so it cannot work out a name computed in Lua; write the name as a string, or "
		    "give the hosts with --host", (int)t[w->i].n, t[w->i].p, word);
	if (check_host_name(w, name, line, word) != 0)
		return -1;
	module = call_arg(t, &j);
	if (module != NULL && kind == CHK_PHOST_VIRTUAL)
		return chk_file_error(w->ld->err, w->file, line, "VirtualHost \"%s\" is given a module "
		    "name (\"%s\"), which Prosody refuses; for a service write Component \"%s\" "
		    "\"%s\"", name->s, module->s, name->s, module->s);
	snprintf(prepped, sizeof(prepped), "%s", name->s);
	nameprep(prepped);
	if ((idx = host_for(w, prepped, kind, line)) < 0)
		return -1;
	if (module != NULL)
		snprintf(w->ld->cfg->hosts[idx].module, CHK_PCFG_MODULE_MAX, "%s", module->s);
	if (w->blocks > 0 && add_note(w, line, "prosody-unread", "move it to the top level of "
	    "the file, or check it with --host", "%s \"%s\" is inside a Lua block (if, function "
	    "or loop): tlsgate does not run the config and takes it as declared", word,
	    w->ld->cfg->hosts[idx].name) != 0)
		return -1;
	if (op_is(&t[j], "{")) {
		/* VirtualHost "x" { ... }: the options are in the table, and the
		 * section is closed again right after it. */
		w->table_host = idx;
		w->table_depth = w->brackets;
		w->cur = -1;
	} else {
		w->cur = idx;
	}
	w->i = j;
	return 0;
}

static int
has_wildcard(const char *s, size_t n)
{
	for (size_t k = 0; k < n; k++)
		if (s[k] == '*' || s[k] == '?')
			return 1;
	return 0;
}

/* Prosody's glob_to_pattern: * and ? are the only special characters. */
static int
glob_match(const char *g, const char *s)
{
	const char *star = NULL, *resume = NULL;

	while (*s != '\0') {
		if (*g == '*') {
			star = g++;
			resume = s;
		} else if (*g == '?' || *g == *s) {
			g++;
			s++;
		} else if (star != NULL) {
			g = star + 1;
			s = ++resume;
		} else {
			return 0;
		}
	}
	while (*g == '*')
		g++;
	return *g == '\0';
}

static int
cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The regular files in dir matching glob (dotfiles left out, as Prosody
 * does), sorted so the result does not depend on the file system. */
static int
glob_dir(struct walk *w, unsigned line, const char *spec, const char *dir, const char *glob,
    char ***out, size_t *nout)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char **names = NULL, path[PATH_MAX];
	size_t n = 0;
	struct stat st;

	*out = NULL;
	*nout = 0;
	if (d == NULL)
		return chk_file_error(w->ld->err, w->file, line, "Include \"%s\": cannot open the "
		    "directory %s: %s (Prosody stops there too); create it or fix the Include", spec,
		    dir, strerror(errno));
	while ((de = readdir(d)) != NULL) {
		char **nn;
		if (de->d_name[0] == '.' || !glob_match(glob, de->d_name) ||
		    resolve(path, sizeof(path), dir, de->d_name) != 0 || stat(path, &st) != 0 ||
		    !S_ISREG(st.st_mode))
			continue;
		if ((nn = realloc(names, (n + 1) * sizeof(*nn))) == NULL)
			goto nomem;
		names = nn;
		if ((names[n] = strdup(de->d_name)) == NULL)
			goto nomem;
		n++;
	}
	closedir(d);
	if (n > 0)
		qsort(names, n, sizeof(*names), cmp_names);
	*out = names;
	*nout = n;
	return 0;
nomem:
	for (size_t k = 0; k < n; k++)
		free(names[k]);
	free(names);
	closedir(d);
	return tg_err_set(w->ld->err, TG_ERR_INTERNAL, "out of memory");
}

static int
include_glob(struct walk *w, unsigned line, const char *spec)
{
	const char *slash = strrchr(spec, '/'), *glob = slash ? slash + 1 : spec;
	char dir[PATH_MAX], part[PATH_MAX], path[PATH_MAX], **names;
	size_t n;
	int rc = 0;

	if (slash != NULL && has_wildcard(spec, (size_t)(slash - spec)))
		return chk_file_error(w->ld->err, w->file, line, "Include \"%s\": Prosody expands * and "
		    "? only in the file name, not in directories; name the directory", spec);
	snprintf(part, sizeof(part), "%.*s", slash ? (int)(slash - spec) : 0, spec);
	if (slash == spec)
		snprintf(dir, sizeof(dir), "/");
	else if (part[0] == '\0')
		snprintf(dir, sizeof(dir), "%s", w->dir);
	else if (resolve(dir, sizeof(dir), w->dir, part) != 0)
		return chk_file_error(w->ld->err, w->file, line, "Include \"%s\": path too long", spec);
	if (glob_dir(w, line, spec, dir, glob, &names, &n) != 0)
		return -1;
	if (n == 0)
		rc = add_note(w, line, "prosody-include-empty", "add the files it should read "
		    "(Debian: /etc/prosody/conf.d/HOST.cfg.lua) or remove the Include",
		    "Include \"%s\" matches no file in %s: hosts meant to be there are not defined",
		    spec, dir);
	for (size_t k = 0; k < n; k++) {
		if (rc == 0 && resolve(path, sizeof(path), dir, names[k]) != 0)
			rc = chk_file_error(w->ld->err, w->file, line, "Include \"%s\": path too long", spec);
		if (rc == 0)
			rc = load_file(w->ld, path, w->depth + 1, w->file, line, spec);
		free(names[k]);
	}
	free(names);
	return rc;
}

/* Include "file", or a pattern with * and ? in the file name; relative to
 * this file's dir. */
static int
include(struct walk *w)
{
	const struct tok *t = w->t, *arg;
	unsigned line = t[w->i].line;
	size_t j = w->i + 1;
	char path[PATH_MAX];

	if ((arg = call_arg(t, &j)) == NULL)
		return chk_file_error(w->ld->err, w->file, line, "Include must be followed by a quoted "
		    "file name, as in Include \"conf.d/*.cfg.lua\": tlsgate reads the config "
		    "without running it; write the path as a string");
	if (arg->slen == 0 || memchr(arg->s, '\0', arg->slen) != NULL)
		return chk_file_error(w->ld->err, w->file, line, "Include needs a file name");
	if (w->blocks > 0 && add_note(w, line, "prosody-unread", "move it to the top level of "
	    "the file", "Include \"%s\" is inside a Lua block (if, function or loop): tlsgate "
	    "does not run the config and reads it as if it ran", arg->s) != 0)
		return -1;
	w->i = j;
	if (has_wildcard(arg->s, arg->slen))
		return include_glob(w, line, arg->s);
	if (resolve(path, sizeof(path), w->dir, arg->s) != 0)
		return chk_file_error(w->ld->err, w->file, line, "Include \"%s\": path too long", arg->s);
	return load_file(w->ld, path, w->depth + 1, w->file, line, arg->s);
}

static void
pssl_clear(struct chk_pssl *ssl)
{
	free(ssl->cert);
	free(ssl->key);
	util_free_secret(ssl->password);
	memset(ssl, 0, sizeof(*ssl));
}

static int
is_open(const struct tok *t)
{
	return op_is(t, "{") || op_is(t, "(") || op_is(t, "[");
}

static int
is_close(const struct tok *t)
{
	return op_is(t, "}") || op_is(t, ")") || op_is(t, "]");
}

/* One `certificate = "..."` or `key = "..."` entry of an ssl table. */
static int
ssl_field(struct walk *w, struct chk_pssl *ssl, size_t j)
{
	const struct tok *t = w->t, *v = &t[j + 2];
	char path[PATH_MAX], **slot;

	if (name_is(&t[j], "password")) {
		/* The key's passphrase: a literal is tried on the key; anything
		 * else (a function, a variable) is Prosody's business. */
		ssl->password_set = 1;
		util_free_secret(ssl->password);
		ssl->password = NULL;
		if (v->type == T_STRING && is_literal(t, j + 2) && memchr(v->s, '\0', v->slen) == NULL &&
		    (ssl->password = strdup(v->s)) == NULL)
			return tg_err_set(w->ld->err, TG_ERR_INTERNAL, "out of memory");
		return 0;
	}
	slot = name_is(&t[j], "certificate") ? &ssl->cert : name_is(&t[j], "key") ? &ssl->key : NULL;
	if (slot == NULL)
		return 0;
	if (v->type != T_STRING || !is_literal(t, j + 2) || memchr(v->s, '\0', v->slen) != NULL) {
		ssl->unknown = 1;
		return 0;
	}
	if (resolve(path, sizeof(path), w->ld->main_dir, v->s) != 0)
		return chk_file_error(w->ld->err, w->file, t[j].line, "ssl %.*s \"%s\": path too long",
		    (int)t[j].n, t[j].p, v->s);
	free(*slot);
	if ((*slot = strdup(path)) == NULL)
		return tg_err_set(w->ld->err, TG_ERR_INTERNAL, "out of memory");
	return 0;
}

/* ssl = { certificate = "..."; key = "..." } for a host (or, host < 0, the
 * global section): the paths it names, when they are literal strings.
 * Anything else in the table (protocol, ciphers...) is not tlsgate's
 * business here. */
static int
read_ssl(struct walk *w, int host, size_t i)
{
	struct chk_pcfg *cfg = w->ld->cfg;
	struct chk_pssl *ssl = host < 0 ? &cfg->ssl : &cfg->hosts[host].ssl;
	const struct tok *t = w->t;
	size_t j = i + 2;
	int depth = 0;

	pssl_clear(ssl);
	ssl->set = 1;
	ssl->file = w->file;
	ssl->line = t[i].line;
	if (!op_is(&t[j], "{"))
		ssl->unknown = 1;
	for (; !ssl->unknown && t[j].type != T_EOF; j++) {
		if (is_open(&t[j]))
			depth++;
		else if (is_close(&t[j]) && --depth == 0)
			break;
		else if (depth == 1 && t[j].type == T_NAME && op_is(&t[j + 1], "=") &&
		    (op_is(&t[j - 1], "{") || op_is(&t[j - 1], ",") || op_is(&t[j - 1], ";")) &&
		    ssl_field(w, ssl, j) != 0)
			return -1;
	}
	if (!ssl->unknown)
		return 0;
	if (host >= 0)
		return add_note(w, t[i].line, "prosody-unread", "write ssl = { certificate = "
		    "\"/path/cert.crt\"; key = \"/path/cert.key\" } with literal paths, or check the "
		    "files with: tlsgate check CERT KEY --host NAME", "the ssl option of %s \"%s\" is "
		    "not a table of literal paths tlsgate reads: which certificate Prosody serves it "
		    "is unknown, so the host is left out", kind_word(cfg->hosts[host].kind),
		    cfg->hosts[host].name);
	return add_note(w, t[i].line, "prosody-unread", "write ssl = { certificate = "
	    "\"/path/cert.crt\"; key = \"/path/cert.key\" } with literal paths, or give the "
	    "hosts with --host", "the global ssl option is not a table of literal paths tlsgate "
	    "reads: hosts without an ssl option of their own are left out");
}

/* A bare `certificate = "..."` in a host's section. */
static int
own_certificate(struct walk *w, int host, size_t i)
{
	struct chk_phost *h = &w->ld->cfg->hosts[host];
	const struct tok *t = w->t;

	if (!name_is(&t[i], "certificate") || h->own_cert_line != 0)
		return 0;
	h->own_cert_line = t[i].line;
	return add_note(w, t[i].line, "prosody-unread", "name the files in an ssl table: ssl = { "
	    "certificate = \"...\"; key = \"...\" }, or check them with: tlsgate check CERT KEY "
	    "--host NAME", "%s \"%s\" sets certificate = ... outside an ssl table: tlsgate does "
	    "not know which files Prosody serves it, so the host is left out",
	    kind_word(h->kind), h->name);
}

static int
add_svc(struct walk *w, const struct tok *name, long port, const struct tok *v)
{
	struct chk_pcfg *cfg = w->ld->cfg;
	struct chk_psvc *n;
	char path[PATH_MAX];

	if (resolve(path, sizeof(path), w->ld->main_dir, v->s) != 0)
		return chk_file_error(w->ld->err, w->file, v->line, "%.*s: path too long",
		    (int)name->n, name->p);
	if ((n = realloc(cfg->svcs, (cfg->nsvcs + 1) * sizeof(*n))) == NULL)
		return tg_err_set(w->ld->err, TG_ERR_INTERNAL, "out of memory");
	cfg->svcs = n;
	n = &cfg->svcs[cfg->nsvcs];
	memset(n, 0, sizeof(*n));
	snprintf(n->service, sizeof(n->service), "%.*s", (int)(name->n - 12), name->p);
	n->port = port;
	n->file = w->file;
	n->line = v->line;
	if ((n->path = strdup(path)) == NULL)
		return tg_err_set(w->ld->err, TG_ERR_INTERNAL, "out of memory");
	cfg->nsvcs++;
	return 0;
}

static int
is_svc_cert(const struct tok *t)
{
	return t->type == T_NAME && t->n > 12 && strncmp(t->p + t->n - 12, "_certificate", 12) == 0;
}

/* SERVICE_certificate = "path", or { [PORT] = "path"; default = "path" }:
 * the certificate a service's port is served from (certmanager's
 * find_service_cert), in the global section only. */
static int
service_certificate(struct walk *w, size_t i)
{
	const struct tok *t = w->t, *name = &t[i];
	size_t j = i + 2;

	if (t[j].type == T_STRING && is_literal(t, j) && memchr(t[j].s, '\0', t[j].slen) == NULL)
		return add_svc(w, name, 0, &t[j]);
	if (!op_is(&t[j], "{"))
		goto unread;
	for (j++; t[j].type != T_EOF; j++) {
		if (op_is(&t[j], "}"))
			return 0;
		if (op_is(&t[j], ",") || op_is(&t[j], ";"))
			continue;
		/* [5281] = "path" */
		if (op_is(&t[j], "[") && t[j + 1].type == T_NUMBER && op_is(&t[j + 2], "]") &&
		    op_is(&t[j + 3], "=") && t[j + 4].type == T_STRING && is_literal(t, j + 4)) {
			if (add_svc(w, name, strtol(t[j + 1].p, NULL, 10), &t[j + 4]) != 0)
				return -1;
			j += 4;
		} else if (name_is(&t[j], "default") && op_is(&t[j + 1], "=") &&
		    t[j + 2].type == T_STRING && is_literal(t, j + 2)) {
			if (add_svc(w, name, 0, &t[j + 2]) != 0)
				return -1;
			j += 2;
		} else {
			goto unread;
		}
	}
unread:
	return add_note(w, t[i].line, "prosody-unread", "write it as a literal path, or { [PORT] = "
	    "\"path\" } with literal ports and paths, or check the files with: tlsgate check CERT KEY",
	    "%.*s = ... is not a path or a table of literal ports and paths tlsgate reads: the "
	    "certificate that service is served is not checked", (int)name->n, name->p);
}

/* NAME = value: the options tlsgate needs. */
static int
option(struct walk *w, int host, size_t i)
{
	struct chk_pcfg *cfg = w->ld->cfg;
	const struct tok *t = w->t, *v = &t[i + 2];
	unsigned line = t[i].line;
	enum chk_pval val;

	if ((name_is(&t[i], "enabled") || name_is(&t[i], "certificates") ||
	    name_is(&t[i], "ssl")) && w->blocks > 0 &&
	    add_note(w, line, "prosody-unread", "move it to the top level of the file", "%.*s = "
	    "... is inside a Lua block (if, function or loop): tlsgate does not run the config "
	    "and takes it as if it ran", (int)t[i].n, t[i].p) != 0)
		return -1;
	if (name_is(&t[i], "enabled")) {
		if (!is_literal(t, i + 2)) {
			val = CHK_PVAL_OTHER;
			if (add_note(w, line, "prosody-unread", "write enabled = false or remove the "
			    "line", "enabled = ... is an expression tlsgate does not evaluate; the "
			    "%s is taken as enabled", host < 0 ? "global section" : "host") != 0)
				return -1;
		} else {
			val = name_is(v, "false") ? CHK_PVAL_FALSE :
			    name_is(v, "nil") ? CHK_PVAL_UNSET : CHK_PVAL_OTHER;
		}
		if (host < 0)
			cfg->global_enabled = val;
		else
			cfg->hosts[host].enabled = val;
		return 0;
	}
	if (name_is(&t[i], "ssl"))
		return read_ssl(w, host, i);
	if (host < 0 && name_is(&t[i], "prosody_user") && v->type == T_STRING &&
	    is_literal(t, i + 2) && v->slen < sizeof(cfg->user) &&
	    memchr(v->s, '\0', v->slen) == NULL) {
		memcpy(cfg->user, v->s, v->slen);
		cfg->user[v->slen] = '\0';
		cfg->user_file = w->file;
		cfg->user_line = line;
		return 0;
	}
	if (host < 0 && is_svc_cert(&t[i]))
		return service_certificate(w, i);
	if (host >= 0 && own_certificate(w, host, i) != 0)
		return -1;
	/* `certificates` counts only in the global section (certmanager). */
	if (!name_is(&t[i], "certificates") || host >= 0)
		return 0;
	cfg->certs_file = w->file;
	cfg->certs_line = line;
	cfg->certs_unknown = !(v->type == T_STRING && is_literal(t, i + 2)) ||
	    memchr(v->s, '\0', v->slen) != NULL;
	if (!cfg->certs_unknown && resolve(cfg->certs, sizeof(cfg->certs), w->ld->main_dir,
	    v->s) != 0)
		return chk_file_error(w->ld->err, w->file, line, "certificates: path too long");
	return 0;
}

static void
track_blocks(struct walk *w, const struct tok *t)
{
	if (name_is(t, "function") || name_is(t, "if") || name_is(t, "repeat")) {
		w->blocks++;
	} else if (name_is(t, "while") || name_is(t, "for")) {
		w->blocks++;
		w->loops++; /* its `do` opens nothing more */
	} else if (name_is(t, "do")) {
		if (w->loops > 0)
			w->loops--;
		else
			w->blocks++;
	} else if ((name_is(t, "end") || name_is(t, "until")) && w->blocks > 0) {
		w->blocks--;
	}
}

static void
track_brackets(struct walk *w, const struct tok *t)
{
	if (op_is(t, "(") || op_is(t, "{") || op_is(t, "[")) {
		w->brackets++;
	} else if ((op_is(t, ")") || op_is(t, "}") || op_is(t, "]")) && w->brackets > 0) {
		w->brackets--;
		if (w->table_host >= 0 && w->brackets == w->table_depth)
			w->table_host = -1;
	}
}

/* A statement at the top level (or in a Lua block): a declaration, an
 * Include, or an assignment to an option of the current section. */
static int
statement(struct walk *w)
{
	const struct tok *t = &w->t[w->i];

	if (op_is(&w->t[w->i + 1], "=")) {
		if (option(w, w->cur, w->i) != 0)
			return -1;
		w->i++;
		return 0;
	}
	if (name_is(t, "VirtualHost") || name_is(t, "Host") || name_is(t, "host"))
		return declare_host(w, CHK_PHOST_VIRTUAL);
	if (name_is(t, "Component") || name_is(t, "component"))
		return declare_host(w, CHK_PHOST_COMPONENT);
	if (name_is(t, "Include") || name_is(t, "include"))
		return include(w);
	if (name_is(t, "RunScript") && add_note(w, t->line, "prosody-unread", "move what it "
	    "sets into the config or an Include, or give its hosts with --host", "RunScript runs "
	    "Lua that tlsgate does not execute: hosts or options it sets are not seen") != 0)
		return -1;
	w->i++;
	return 0;
}

/* A NAME that starts a statement: not a field (a.b), a local, or a function
 * being defined. */
static int
starts_statement(const struct walk *w)
{
	const struct tok *prev = w->i > 0 ? &w->t[w->i - 1] : NULL;

	return prev == NULL || !(op_is(prev, ".") || op_is(prev, ":") || op_is(prev, ",") ||
	    name_is(prev, "local") || name_is(prev, "function") || name_is(prev, "goto"));
}

static int
walk_tokens(struct walk *w)
{
	while (w->t[w->i].type != T_EOF) {
		const struct tok *t = &w->t[w->i];
		const struct tok *prev = w->i > 0 ? &w->t[w->i - 1] : NULL;

		if (t->type == T_OP) {
			track_brackets(w, t);
		} else if (t->type == T_NAME) {
			track_blocks(w, t);
			if (w->brackets == 0 && starts_statement(w)) {
				if (statement(w) != 0)
					return -1;
				continue;
			}
			/* An entry of VirtualHost "x" { enabled = false, ... } */
			if (w->table_host >= 0 && w->brackets == w->table_depth + 1 && prev != NULL &&
			    (op_is(prev, "{") || op_is(prev, ",") || op_is(prev, ";")) &&
			    op_is(&w->t[w->i + 1], "=") && option(w, w->table_host, w->i) != 0)
				return -1;
		}
		w->i++;
	}
	return 0;
}

static int
parse_text(struct loader *ld, const char *file, const char *text, size_t len, int depth)
{
	struct tok *toks = NULL;
	size_t ntoks = 0;
	struct walk w;
	int rc;

	memset(&w, 0, sizeof(w));
	if (chk_lua_lex(file, text, len, &toks, &ntoks, ld->err) != 0)
		return -1;
	w.ld = ld;
	w.file = file;
	chk_dir_of(file, w.dir, sizeof(w.dir));
	w.depth = depth;
	w.t = toks;
	w.cur = -1;
	w.table_host = -1;
	rc = walk_tokens(&w);
	chk_lua_free(toks, ntoks);
	return rc;
}

static const char *
add_file_name(struct loader *ld, const char *path)
{
	struct chk_pcfg *cfg = ld->cfg;
	char **n;

	if ((n = realloc(cfg->files, (cfg->nfiles + 1) * sizeof(*n))) == NULL)
		return NULL;
	cfg->files = n;
	if ((n[cfg->nfiles] = strdup(path)) == NULL)
		return NULL;
	return n[cfg->nfiles++];
}

/* Reads one file (the main config when from is NULL, else an Include at
 * from:from_line) and walks it. */
static int
load_file(struct loader *ld, const char *path, int depth, const char *from, unsigned from_line,
    const char *spec)
{
	unsigned char *data = NULL;
	const char *name;
	size_t len;
	tg_err rerr = { 0 };
	int rc;

	if (depth > CHK_PCFG_MAX_DEPTH)
		return chk_file_error(ld->err, from, from_line, "Include \"%s\": includes nest deeper "
		    "than %d files; does a file include itself?", spec, CHK_PCFG_MAX_DEPTH);
	if (ld->cfg->nfiles == CHK_PCFG_MAX_FILES)
		return chk_file_error(ld->err, from, from_line, "Include \"%s\": more than %d config "
		    "files", spec, CHK_PCFG_MAX_FILES);
	if (util_read_file(path, &data, &len, &rerr) != 0) {
		if (from == NULL)
			return tg_err_set(ld->err, TG_ERR_USAGE, "cannot read the Prosody config: %s; "
			    "give the file Prosody runs with (Debian: /etc/prosody/prosody.cfg.lua)",
			    rerr.msg);
		return chk_file_error(ld->err, from, from_line, "Include \"%s\": cannot read %s (Prosody "
		    "refuses to start with this config too); fix the path or remove the Include",
		    spec, rerr.msg);
	}
	if (len > CHK_PCFG_FILE_MAX) {
		free(data);
		return tg_err_set(ld->err, TG_ERR_USAGE, "%s is larger than %u bytes: not a Prosody "
		    "config", path, CHK_PCFG_FILE_MAX);
	}
	if ((name = add_file_name(ld, path)) == NULL) {
		free(data);
		return tg_err_set(ld->err, TG_ERR_INTERNAL, "out of memory");
	}
	rc = parse_text(ld, name, (const char *)data, len, depth);
	free(data);
	return rc;
}

/* ================= Entry points ================= */

static struct chk_pcfg *
pcfg_new(struct loader *ld, const char *path, tg_err *err)
{
	struct chk_pcfg *cfg = calloc(1, sizeof(*cfg));

	if (cfg == NULL) {
		tg_err_set(err, TG_ERR_INTERNAL, "out of memory");
		return NULL;
	}
	cfg->global_enabled = CHK_PVAL_UNSET;
	ld->cfg = cfg;
	ld->err = err;
	chk_dir_of(path, ld->main_dir, sizeof(ld->main_dir));
	(void)resolve(cfg->certs, sizeof(cfg->certs), ld->main_dir, "certs");
	return cfg;
}

/* What Prosody would refuse once everything is read: a host served a
 * certificate its ssl options name with no key. */
static int
finish(struct loader *ld)
{
	const struct chk_pcfg *cfg = ld->cfg;

	for (size_t i = 0; i < cfg->nhosts; i++) {
		const struct chk_phost *h = &cfg->hosts[i];
		const struct chk_pssl *from;
		const char *cert, *key;

		if (!chk_phost_enabled(cfg, h) || strchr(h->name, '@') != NULL ||
		    chk_phost_ssl(cfg, h, &cert, &key) != 1 || key != NULL)
			continue;
		from = h->ssl.cert != NULL ? &h->ssl : &cfg->ssl;
		for (size_t j = 0; from == &cfg->ssl && j < cfg->nhosts; j++)
			if (cfg->hosts[j].ssl.cert == cert)
				from = &cfg->hosts[j].ssl; /* the parent domain's */
		if (cfg_note(ld, from->file, from->line, "prosody-ssl-no-key", "add key = "
		    "\"/path/to/the.key\" next to certificate in that ssl table", "%s \"%s\" is "
		    "served certificate = \"%s\" with no key: Prosody refuses it (\"No key present "
		    "in SSL/TLS configuration for %s\")", kind_word(h->kind), h->name, cert,
		    h->name) != 0)
			return -1;
	}
	return 0;
}

struct chk_pcfg *
chk_pcfg_load(const char *path, tg_err *err)
{
	struct loader ld;
	struct chk_pcfg *cfg = pcfg_new(&ld, path, err);

	if (cfg != NULL && (load_file(&ld, path, 0, NULL, 0, path) != 0 || finish(&ld) != 0)) {
		chk_pcfg_free(cfg);
		return NULL;
	}
	return cfg;
}

struct chk_pcfg *
chk_pcfg_parse(const char *name, const char *text, size_t len, tg_err *err)
{
	struct loader ld;
	struct chk_pcfg *cfg = pcfg_new(&ld, name, err);
	const char *file;

	if (cfg == NULL)
		return NULL;
	if ((file = add_file_name(&ld, name)) == NULL) {
		tg_err_set(err, TG_ERR_INTERNAL, "out of memory");
		chk_pcfg_free(cfg);
		return NULL;
	}
	if (parse_text(&ld, file, text, len, 0) != 0 || finish(&ld) != 0) {
		chk_pcfg_free(cfg);
		return NULL;
	}
	return cfg;
}

void
chk_pcfg_free(struct chk_pcfg *cfg)
{
	if (cfg == NULL)
		return;
	for (size_t i = 0; i < cfg->nfiles; i++)
		free(cfg->files[i]);
	free(cfg->files);
	for (size_t i = 0; i < cfg->nhosts; i++)
		pssl_clear(&cfg->hosts[i].ssl);
	pssl_clear(&cfg->ssl);
	for (size_t i = 0; i < cfg->nsvcs; i++)
		free(cfg->svcs[i].path);
	free(cfg->svcs);
	free(cfg->hosts);
	free(cfg->notes);
	free(cfg);
}

int
chk_phost_enabled(const struct chk_pcfg *cfg, const struct chk_phost *h)
{
	enum chk_pval v = h->enabled != CHK_PVAL_UNSET ? h->enabled : cfg->global_enabled;

	return v != CHK_PVAL_FALSE;
}

int
chk_phost_ssl(const struct chk_pcfg *cfg, const struct chk_phost *h, const char **cert,
    const char **key)
{
	const struct chk_pssl *own = h->ssl.set ? &h->ssl : NULL;
	const char *dot = strchr(h->name, '.');

	/* Prosody asks the host's section, then the parent domain's. */
	for (size_t i = 0; own == NULL && dot != NULL && i < cfg->nhosts; i++)
		if (cfg->hosts[i].ssl.set && strcmp(cfg->hosts[i].name, dot + 1) == 0)
			own = &cfg->hosts[i].ssl;
	*cert = own != NULL ? own->cert : NULL;
	*key = own != NULL ? own->key : NULL;
	if (own != NULL && own->unknown)
		return -1;
	/* What the host's table leaves out comes from the global one. */
	if ((*cert == NULL || *key == NULL) && cfg->ssl.unknown)
		return -1;
	if (*cert == NULL)
		*cert = cfg->ssl.cert;
	if (*key == NULL)
		*key = cfg->ssl.key;
	return *cert != NULL;
}

int
chk_phost_ssl_password(const struct chk_pcfg *cfg, const struct chk_phost *h,
    const char **pass, char *at, size_t atlen)
{
	const struct chk_pssl *own = h->ssl.set ? &h->ssl : NULL, *from;
	const char *dot = strchr(h->name, '.');

	for (size_t i = 0; own == NULL && dot != NULL && i < cfg->nhosts; i++)
		if (cfg->hosts[i].ssl.set && strcmp(cfg->hosts[i].name, dot + 1) == 0)
			own = &cfg->hosts[i].ssl;
	from = own != NULL && own->password_set ? own : cfg->ssl.password_set ? &cfg->ssl : NULL;
	*pass = NULL;
	if (from == NULL)
		return 0;
	snprintf(at, atlen, "%s:%u", from->file, from->line);
	*pass = from->password;
	return from->password != NULL ? 1 : -1;
}

/* certmanager's find_cert: the path itself (its key by .crt -> .key,
 * fullchain -> privkey), then SERVICE.crt, SERVICE/fullchain.pem and
 * SERVICE.pem under it; the first whose certificate and key both exist. */
int
chk_psvc_files(const struct chk_psvc *svc, char *cert, char *key)
{
	/* After the path itself: PATH/SERVICE + each tail. */
	static const char *const crt_tail[] = { NULL, ".crt", "/fullchain.pem", ".pem" };
	static const char *const key_tail[] = { NULL, ".key", "/privkey.pem", ".pem" };
	struct stat st;

	for (size_t i = 0; i < 4; i++) {
		size_t n;
		if (i == 0)
			n = (size_t)snprintf(cert, PATH_MAX, "%s", svc->path);
		else
			n = (size_t)snprintf(cert, PATH_MAX, "%s/%s%s", svc->path, svc->service,
			    crt_tail[i]);
		if (n >= PATH_MAX || stat(cert, &st) != 0 || !S_ISREG(st.st_mode))
			continue;
		if (i == 0)
			snprintf(key, PATH_MAX, "%s", cert);
		else
			snprintf(key, PATH_MAX, "%s/%s%s", svc->path, svc->service, key_tail[i]);
		n = strlen(key);
		if (i == 0 && n > 4 && strcmp(key + n - 4, ".crt") == 0)
			snprintf(key + n - 4, PATH_MAX - (n - 4), ".key");
		else if (i == 0 && n > 14 && strcmp(key + n - 14, "/fullchain.pem") == 0)
			snprintf(key + n - 14, PATH_MAX - (n - 14), "/privkey.pem");
		if (stat(key, &st) == 0)
			return 0;
	}
	snprintf(cert, PATH_MAX, "%s", svc->path);
	return -1;
}

/* certmanager's find_matching_key: .crt -> .key at the end, then every
 * "fullchain" in the path -> "privkey". */
static int
index_key_path(const char *cert, char *key, size_t len)
{
	size_t n = strlen(cert), o = 0;

	for (size_t i = 0; i < n; i++) {
		const char *rep = NULL;
		size_t skip = 1;
		if (i == n - 4 && strcmp(cert + i, ".crt") == 0)
			rep = ".key", skip = 4;
		else if (strncmp(cert + i, "fullchain", 9) == 0)
			rep = "privkey", skip = 9;
		if (o + (rep != NULL ? strlen(rep) : 1) >= len)
			return -1;
		if (rep != NULL) {
			memcpy(key + o, rep, strlen(rep));
			o += strlen(rep);
			i += skip - 1;
		} else {
			key[o++] = cert[i];
		}
	}
	key[o] = '\0';
	return 0;
}

/* One file as index_certs takes it: its first line exactly a certificate's
 * BEGIN line, a key file beside it, the first certificate valid at `now`
 * and naming a host (a CN or a DNS SAN: valid for any service). */
static int
index_takes(const char *path, int64_t now)
{
	char line[64], key[PATH_MAX];
	struct stat st;
	X509 *x = NULL;
	GENERAL_NAMES *sans = NULL;
	int named = 0, ok = 0;
	FILE *f;

	if (index_key_path(path, key, sizeof(key)) != 0 || stat(key, &st) != 0 ||
	    !S_ISREG(st.st_mode) || (f = fopen(path, "r")) == NULL)
		return 0;
	if (fgets(line, sizeof(line), f) != NULL &&
	    strcmp(line, "-----BEGIN CERTIFICATE-----\n") == 0 && fseek(f, 0, SEEK_SET) == 0)
		x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (x == NULL)
		goto out;
	if (ASN1_TIME_cmp_time_t(X509_get0_notBefore(x), (time_t)now) > 0 ||
	    ASN1_TIME_cmp_time_t(X509_get0_notAfter(x), (time_t)now) < 0)
		goto out;
	named = X509_NAME_get_index_by_NID(X509_get_subject_name(x), NID_commonName, -1) >= 0;
	sans = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	for (int i = 0; !named && i < sk_GENERAL_NAME_num(sans); i++)
		named = sk_GENERAL_NAME_value(sans, i)->type == GEN_DNS;
	ok = named;
out:
	GENERAL_NAMES_free(sans);
	X509_free(x);
	ERR_clear_error();
	return ok;
}

static int
index_walk(const char *dir, int depth, int64_t now, const char *except, char *found,
    size_t len)
{
	struct dirent **ents = NULL;
	char path[PATH_MAX];
	struct stat st;
	int n, hit = 0;

	if (depth <= 0 || (n = scandir(dir, &ents, NULL, alphasort)) < 0)
		return 0;
	for (int i = 0; i < n; i++) {
		const char *name = ents[i]->d_name;
		size_t nl = strlen(name);
		if (hit || strcmp(name, ".") == 0 || strcmp(name, "..") == 0 ||
		    (size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >= sizeof(path) ||
		    stat(path, &st) != 0)
			continue;
		if (S_ISDIR(st.st_mode)) {
			if (name[0] != '.')
				hit = index_walk(path, depth - 1, now, except, found, len);
		} else if (((nl > 4 && strcmp(name + nl - 4, ".crt") == 0) ||
		    strstr(name, "fullchain") != NULL) &&
		    (except == NULL || !util_same_file(path, except)) &&
		    index_takes(path, now)) {
			snprintf(found, len, "%s", path);
			hit = 1;
		}
	}
	for (int i = 0; i < n; i++)
		free(ents[i]);
	free(ents);
	return hit;
}

int
chk_pcfg_index_cert(const struct chk_pcfg *cfg, int64_t now, const char *except, char *found,
    size_t len)
{
	if (cfg->certs_unknown)
		return 0;
	return index_walk(cfg->certs, 3, now, except, found, len);
}

int
chk_phost_checked(const struct chk_pcfg *cfg, const struct chk_phost *h)
{
	const char *cert, *key;
	int r;

	if (!chk_phost_enabled(cfg, h) || strchr(h->name, '@') != NULL || h->own_cert_line != 0)
		return 0;
	r = chk_phost_ssl(cfg, h, &cert, &key);
	return r == 0 || (r == 1 && key != NULL);
}
