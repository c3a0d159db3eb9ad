/* Plain configuration: one table of options shared by the command line and
 * the INI file, so a flag and a config key can never drift apart. */
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/gw.h"
#include "gateway/tls_client.h"
#include "tlsgate/util.h"

#define LISTENER_DEFAULT "default"
/* The longest config file line read (inih, used before, cut at 200 bytes
 * and called a longer value a syntax error). */
#define CONFIG_LINE_MAX 4096

struct opt;
typedef int (*opt_setter)(void *obj, const struct opt *o, const char *v, tg_err *err);

struct opt {
	const char *key;
	int global;   /* in gw_config, not gw_listener_cfg */
	opt_setter set;
	size_t off;
	unsigned long max; /* for numbers */
	int roles;    /* R_SERVER, R_CLIENT: the listeners it is for */
};

#define R_SERVER 1
#define R_CLIENT 2
#define R_ANY (R_SERVER | R_CLIENT)
#define R_FLAG 4 /* a flag without a value on the command line: "yes" */

static int
set_str(void *obj, const struct opt *o, const char *v, tg_err *err)
{
	char **slot = (char **)((char *)obj + o->off);
	char *dup;

	if (*v == '\0')
		return tg_err_set(err, TG_ERR_USAGE, "%s: empty value", o->key);
	if ((dup = strdup(v)) == NULL)
		return tg_err_set(err, TG_ERR_INTERNAL, "out of memory");
	free(*slot);
	*slot = dup;
	return 0;
}

/* HOST:PORT, checked when set so that a bad port names the option. */
static int
set_addr(void *obj, const struct opt *o, const char *v, tg_err *err)
{
	if (*v != '\0' && gw_addr_check(v, o->key, err) != 0)
		return -1;
	return set_str(obj, o, v, err);
}

static int
set_list(void *obj, const struct opt *o, const char *v, tg_err *err)
{
	struct gw_strlist *l = (struct gw_strlist *)((char *)obj + o->off);
	char **nv;

	if (*v == '\0')
		return tg_err_set(err, TG_ERR_USAGE, "%s: empty value", o->key);
	if (l->n >= 4096)
		return tg_err_set(err, TG_ERR_USAGE, "%s: too many values", o->key);
	if ((nv = realloc(l->v, (l->n + 1) * sizeof(*nv))) == NULL)
		return tg_err_set(err, TG_ERR_INTERNAL, "out of memory");
	l->v = nv;
	if ((l->v[l->n] = strdup(v)) == NULL)
		return tg_err_set(err, TG_ERR_INTERNAL, "out of memory");
	l->n++;
	return 0;
}

/* Maps a word to an int through a NULL-terminated list of names. */
static int
set_enum(void *obj, const struct opt *o, const char *v, const char *const *names,
    const int *values, tg_err *err)
{
	char choices[256] = "";

	for (size_t i = 0; names[i] != NULL; i++) {
		if (strcmp(v, names[i]) == 0) {
			*(int *)((char *)obj + o->off) = values[i];
			return 0;
		}
		strncat(choices, i ? ", " : "", sizeof(choices) - strlen(choices) - 1);
		strncat(choices, names[i], sizeof(choices) - strlen(choices) - 1);
	}
	return tg_err_set(err, TG_ERR_USAGE, "%s: '%s' is not one of: %s", o->key, v, choices);
}

static int
set_mode(void *obj, const struct opt *o, const char *v, tg_err *err)
{
	static const char *const names[] = { "tcp", "http", NULL };
	static const int values[] = { GW_MODE_TCP, GW_MODE_HTTP };
	return set_enum(obj, o, v, names, values, err);
}

static int
set_verify(void *obj, const struct opt *o, const char *v, tg_err *err)
{
	static const char *const names[] = { "none", "optional", "require", "verify-full", NULL };
	static const int values[] = { GW_VERIFY_NONE, GW_VERIFY_OPTIONAL, GW_VERIFY_REQUIRE,
		GW_VERIFY_FULL };
	return set_enum(obj, o, v, names, values, err);
}

static int
set_bool(void *obj, const struct opt *o, const char *v, tg_err *err)
{
	static const char *const names[] = { "yes", "no", "true", "false", "on", "off", "1", "0", NULL };
	static const int values[] = { 1, 0, 1, 0, 1, 0, 1, 0 };
	return set_enum(obj, o, v, names, values, err);
}

static int
set_min_tls(void *obj, const struct opt *o, const char *v, tg_err *err)
{
	static const char *const names[] = { "1.2", "1.3", NULL };
	static const int values[] = { 12, 13 };
	return set_enum(obj, o, v, names, values, err);
}

static int
set_proxy(void *obj, const struct opt *o, const char *v, tg_err *err)
{
	static const char *const names[] = { "v2", "off", "none", NULL };
	static const int values[] = { 1, 0, 0 };
	return set_enum(obj, o, v, names, values, err);
}

static int
set_ulong(void *obj, const struct opt *o, const char *v, tg_err *err)
{
	return util_parse_uint(v, o->key, o->max, (unsigned long *)((char *)obj + o->off), err);
}

/* A count where 0 means "none". */
static int
set_ulong0(void *obj, const struct opt *o, const char *v, tg_err *err)
{
	if (strcmp(v, "0") == 0) {
		*(unsigned long *)((char *)obj + o->off) = 0;
		return 0;
	}
	return set_ulong(obj, o, v, err);
}

/* Timeouts are seconds ("10", "2.5") or carry a unit ("500ms", "30s", "5m",
 * "1h"); a bare number is seconds here, unlike certificate lifetimes. */
static int
set_seconds(void *obj, const struct opt *o, const char *v, tg_err *err)
{
	static const struct {
		const char *unit;
		double mul;
	} units[] = { { "", 1 }, { "s", 1 }, { "ms", 0.001 }, { "m", 60 }, { "h", 3600 } };
	char *end;
	double d;

	errno = 0;
	d = strtod(v, &end);
	if (errno == 0 && end != v && isfinite(d) && d > 0 && d <= 86400 * 7) {
		for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
			if (strcmp(end, units[i].unit) == 0) {
				*(double *)((char *)obj + o->off) = d * units[i].mul;
				return 0;
			}
		}
	}
	return tg_err_set(err, TG_ERR_USAGE,
	    "%s: '%s' is not a timeout; write seconds (10, 2.5) or 500ms, 30s, 5m, 1h",
	    o->key, v);
}

/* A limit that is off unless set: "off" or 0, else as set_seconds. */
static int
set_seconds0(void *obj, const struct opt *o, const char *v, tg_err *err)
{
	if (strcmp(v, "off") == 0 || strcmp(v, "0") == 0) {
		*(double *)((char *)obj + o->off) = 0;
		return 0;
	}
	return set_seconds(obj, o, v, err);
}

static int
set_role(void *obj, const struct opt *o, const char *v, tg_err *err)
{
	static const char *const names[] = { "server", "client", NULL };
	static const int values[] = { 0, 1 };
	return set_enum(obj, o, v, names, values, err);
}

static int
set_starttls(void *obj, const struct opt *o, const char *v, tg_err *err)
{
	static const char *const names[] = { "postgres", "none", NULL };
	static const int values[] = { GW_STARTTLS_POSTGRES, GW_STARTTLS_NONE };
	return set_enum(obj, o, v, names, values, err);
}

static int
set_alpn(void *obj, const struct opt *o, const char *v, tg_err *err)
{
	if (!gw_tls_alpn_ok(v))
		return tg_err_set(err, TG_ERR_USAGE,
		    "%s: '%s' is not a list of protocol names like h2,http/1.1 (each 1-255 bytes, "
		    "comma-separated)", o->key, v);
	return set_str(obj, o, v, err);
}

#define L(f) offsetof(struct gw_listener_cfg, f)
#define G(f) offsetof(struct gw_config, f)

static const struct opt opts[] = {
	{ "listen", 0, set_addr, L(listen), 0, R_ANY },
	{ "target", 0, set_addr, L(target), 0, R_ANY },
	{ "mode", 0, set_mode, L(mode), 0, R_SERVER },
	{ "cert", 0, set_str, L(cert), 0, R_ANY },
	{ "key", 0, set_str, L(key), 0, R_ANY },
	{ "certs-dir", 0, set_str, L(certs_dir), 0, R_SERVER },
	{ "strict-sni", 0, set_bool, L(strict_sni), 0, R_SERVER },
	{ "client-ca", 0, set_str, L(client_ca), 0, R_SERVER },
	{ "verify", 0, set_verify, L(verify), 0, R_SERVER },
	{ "allow-cn", 0, set_list, L(allow_cn), 0, R_SERVER },
	{ "allow-san", 0, set_list, L(allow_san), 0, R_SERVER },
	{ "allow-ou", 0, set_list, L(allow_ou), 0, R_SERVER },
	{ "crl", 0, set_str, L(crl), 0, R_SERVER },
	{ "proxy-protocol", 0, set_proxy, L(proxy_v2), 0, R_SERVER },
	{ "cert-header", 0, set_bool, L(cert_header), 0, R_SERVER },
	{ "pass-file", 0, set_str, L(pass_file), 0, R_ANY },
	{ "pass-command", 0, set_str, L(pass_command), 0, R_ANY },
	{ "ciphers", 0, set_str, L(ciphers), 0, R_ANY },
	{ "min-tls", 0, set_min_tls, L(min_tls), 0, R_ANY },
	{ "handshake-timeout", 0, set_seconds, L(handshake_timeout), 0, R_ANY },
	{ "connect-timeout", 0, set_seconds, L(connect_timeout), 0, R_ANY },
	{ "idle-timeout", 0, set_seconds, L(idle_timeout), 0, R_ANY },
	{ "max-conn-lifetime", 0, set_seconds0, L(max_conn_lifetime), 0, R_ANY },
	{ "head-timeout", 0, set_seconds, L(head_timeout), 0, R_SERVER },
	{ "body-timeout", 0, set_seconds, L(body_timeout), 0, R_SERVER },
	{ "allow-connect", 0, set_bool, L(allow_connect), 0, R_SERVER },
	{ "max-conns", 0, set_ulong, L(max_conns), 10000000, R_ANY },
	{ "max-unauth-conns", 0, set_ulong, L(max_unauth), 10000000, R_SERVER },
	{ "max-unauth-per-addr", 0, set_ulong, L(max_unauth_per_addr), 65535, R_SERVER },
	{ "session-cache", 0, set_ulong0, L(session_cache), 10000000, R_ANY },
	{ "ticket-keys", 0, set_list, L(ticket_keys), 0, R_SERVER },
	{ "crl-strict", 0, set_bool, L(crl_strict), 0, R_SERVER },
	{ "workers", 1, set_ulong, G(workers), GW_MAX_WORKERS, R_ANY },
	{ "status", 1, set_addr, G(status), 0, R_ANY },
	{ "watch", 1, set_bool, G(watch), 0, R_ANY },
	{ "ticket-key-rotate", 1, set_seconds0, G(ticket_key_rotate), 0, R_SERVER },
	{ "role", 0, set_role, L(client), 0, R_ANY },
	{ "ca", 0, set_str, L(ca), 0, R_CLIENT },
	{ "verify-name", 0, set_str, L(verify_name), 0, R_CLIENT },
	{ "sni", 0, set_str, L(sni), 0, R_CLIENT },
	{ "starttls", 0, set_starttls, L(starttls), 0, R_CLIENT },
	{ "alpn", 0, set_alpn, L(alpn), 0, R_CLIENT },
	{ "insecure", 0, set_bool, L(insecure), 0, R_CLIENT | R_FLAG },
};

static const struct opt *
find_opt(const char *key)
{
	for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++)
		if (strcmp(opts[i].key, key) == 0)
			return &opts[i];
	return NULL;
}

const char *const *
gw_config_keys(void)
{
	static const char *keys[sizeof(opts) / sizeof(opts[0]) + 1];

	if (keys[0] == NULL)
		for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++)
			keys[i] = opts[i].key;
	return keys;
}

const char *const *
gw_config_client_keys(void)
{
	static const char *keys[sizeof(opts) / sizeof(opts[0]) + 1];
	size_t n = 0;

	if (keys[0] == NULL)
		for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++)
			if ((opts[i].roles & R_CLIENT) && opts[i].set != set_role)
				keys[n++] = opts[i].key;
	return keys;
}

int
gw_config_key_is_flag(const char *key)
{
	const struct opt *o = find_opt(key);
	return o != NULL && (o->roles & R_FLAG);
}

int
gw_config_key_is_global(const char *key)
{
	const struct opt *o = find_opt(key);
	return o != NULL && o->global;
}

const char *
gw_mode_name(enum gw_mode m)
{
	return m == GW_MODE_HTTP ? "http" : "tcp";
}

const char *
gw_verify_name(enum gw_verify v)
{
	static const char *const names[] = { "none", "optional", "require", "verify-full" };
	return names[v];
}

static void
strlist_free(struct gw_strlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

static void
listener_free(struct gw_listener_cfg *l)
{
	if (l == NULL)
		return;
	free(l->name);
	free(l->listen);
	free(l->target);
	free(l->cert);
	free(l->key);
	free(l->certs_dir);
	free(l->client_ca);
	free(l->crl);
	free(l->pass_file);
	free(l->pass_command);
	free(l->ciphers);
	free(l->ca);
	free(l->verify_name);
	free(l->sni);
	free(l->alpn);
	strlist_free(&l->allow_cn);
	strlist_free(&l->allow_san);
	strlist_free(&l->allow_ou);
	strlist_free(&l->ticket_keys);
	free(l);
}

static struct gw_listener_cfg *
listener_new(const char *name)
{
	struct gw_listener_cfg *l = calloc(1, sizeof(*l));

	if (l == NULL || (l->name = strdup(name)) == NULL) {
		free(l);
		return NULL;
	}
	/* Defaults: secure and patient enough for MQTT keep-alives. */
	l->mode = GW_MODE_TCP;
	l->verify = GW_VERIFY_NONE;
	l->min_tls = 12;
	l->cert_header = 1;
	l->handshake_timeout = 10;
	l->connect_timeout = 5;
	l->idle_timeout = 600;
	l->head_timeout = 60; /* nginx's client_header_timeout */
	l->body_timeout = 60; /* ... and client_body_timeout */
	l->max_conns = 0; /* gw_default_max_conns() */
	l->max_unauth = 4096;
	l->max_unauth_per_addr = 256;
	l->session_cache = 10000;
	return l;
}

gw_config *
gw_config_new(void)
{
	gw_config *cfg = calloc(1, sizeof(gw_config));

	/* ticket_key_rotate 0: without --ticket-keys, sessions stay in the
	 * worker process's cache, where resuming costs no decoding (see
	 * setup_defaults in tls_engine.c). */
	return cfg;
}

void
gw_config_free(gw_config *cfg)
{
	if (cfg == NULL)
		return;
	for (size_t i = 0; i < cfg->nl; i++)
		listener_free(cfg->l[i]);
	free(cfg->path);
	free(cfg->status);
	free(cfg);
}

static struct gw_listener_cfg *
listener_get(gw_config *cfg, const char *name, tg_err *err)
{
	for (size_t i = 0; i < cfg->nl; i++)
		if (strcmp(cfg->l[i]->name, name) == 0)
			return cfg->l[i];
	if (cfg->nl == GW_MAX_LISTENERS) {
		tg_err_set(err, TG_ERR_CONFIG, "more than %d listeners", GW_MAX_LISTENERS);
		return NULL;
	}
	if ((cfg->l[cfg->nl] = listener_new(name)) == NULL) {
		tg_err_set(err, TG_ERR_INTERNAL, "out of memory");
		return NULL;
	}
	return cfg->l[cfg->nl++];
}

int
gw_config_set(gw_config *cfg, const char *listener, const char *key,
    const char *value, tg_err *err)
{
	const struct opt *o = find_opt(key);
	struct gw_listener_cfg *l;

	if (o == NULL)
		return tg_err_set(err, TG_ERR_USAGE, "unknown option '%s'", key);
	if (o->global) {
		if (listener != NULL && strcmp(listener, LISTENER_DEFAULT) != 0)
			return tg_err_set(err, TG_ERR_USAGE,
			    "'%s' is a global option; put it in the [global] section, not [listener %s]",
			    key, listener);
		return o->set(cfg, o, value, err);
	}
	if ((l = listener_get(cfg, listener ? listener : LISTENER_DEFAULT, err)) == NULL)
		return -1;
	if (o->set(l, o, value, err) != 0)
		return -1;
	l->keys_set |= UINT64_C(1) << (o - opts);
	return 0;
}

int
gw_config_files(const gw_config *cfg,
    int (*fn)(const char *listener, const char *option, const char *path, void *arg),
    void *arg)
{
	for (size_t i = 0; i < cfg->nl; i++) {
		const struct gw_listener_cfg *l = cfg->l[i];
		const struct {
			const char *option, *path;
		} files[] = {
			{ "cert", l->cert }, { "key", l->key }, { "certs-dir", l->certs_dir },
			{ "client-ca", l->client_ca }, { "crl", l->crl }, { "pass-file", l->pass_file },
			{ "ca", l->ca },
		};
		for (size_t f = 0; f < sizeof(files) / sizeof(files[0]); f++) {
			int rc;
			if (files[f].path == NULL)
				continue;
			if ((rc = fn(l->name, files[f].option, files[f].path, arg)) != 0)
				return rc;
		}
	}
	return 0;
}

/* --- The config file --- */

#define NOPTS (sizeof(opts) / sizeof(opts[0]))

struct section_seen {
	char *name;
	int line;
};

struct reader {
	gw_config *cfg;
	const char *path;
	tg_err *err;
	int line;
	char *section;       /* the current section's name; NULL before the first */
	const char *listener; /* its listener name, NULL in [global] */
	int section_line;
	size_t nkeys;        /* keys in the current section */
	int key_line[NOPTS]; /* where each option was set in it; 0: not yet */
	struct section_seen seen[GW_MAX_LISTENERS + 1];
	size_t nseen;
};

/* One line into buf (without its newline): 1, or 0 at the end of the
 * file; -1 if it is longer than CONFIG_LINE_MAX or holds a NUL byte. */
static int
read_line(FILE *f, char *buf, size_t *len, struct reader *r)
{
	int ch;

	*len = 0;
	while ((ch = getc(f)) != EOF && ch != '\n') {
		if (ch == '\0')
			return tg_err_set(r->err, TG_ERR_CONFIG,
			    "%s:%d: a NUL byte; the config file is text", r->path, r->line);
		if (*len == CONFIG_LINE_MAX)
			return tg_err_set(r->err, TG_ERR_CONFIG,
			    "%s:%d: line longer than %d bytes, the longest the reader takes; "
			    "shorten it (a long path can be a shorter symlink)", r->path, r->line,
			    CONFIG_LINE_MAX);
		buf[(*len)++] = (char)ch;
	}
	buf[*len] = '\0';
	return ch == EOF && *len == 0 ? 0 : 1;
}

static char *
trim(char *s)
{
	char *end;

	while (*s == ' ' || *s == '\t' || *s == '\r')
		s++;
	end = s + strlen(s);
	while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
		*--end = '\0';
	return s;
}

static int
fail_at(struct reader *r, const char *why)
{
	return tg_err_set(r->err, TG_ERR_CONFIG, "%s:%d: %s", r->path, r->line, why);
}

/* A listener section with no key would silently serve nothing. */
static int
section_end(struct reader *r)
{
	if (r->listener != NULL && r->nkeys == 0)
		return tg_err_set(r->err, TG_ERR_CONFIG,
		    "%s:%d: [%s] is empty: give it listen, target and a certificate, or remove it",
		    r->path, r->section_line, r->section);
	return 0;
}

static int
section_start(struct reader *r, char *name)
{
	const char *listener = NULL;
	char *norm;
	size_t len;

	if (section_end(r) != 0)
		return -1;
	if (strncmp(name, "listener", 8) == 0 && (name[8] == ' ' || name[8] == '\t' || name[8] == '\0')) {
		listener = trim(name + 8);
		if (*listener == '\0')
			return fail_at(r, "[listener] needs a name: write [listener web]");
	} else if (strcmp(name, "global") != 0) {
		return tg_err_set(r->err, TG_ERR_CONFIG,
		    "%s:%d: unknown section [%s]; use [global] or [listener NAME]", r->path, r->line, name);
	}
	len = strlen(name) + 10;
	if ((norm = malloc(len)) == NULL)
		return tg_err_set(r->err, TG_ERR_INTERNAL, "out of memory");
	snprintf(norm, len, "%s%s", listener ? "listener " : "global", listener ? listener : "");
	/* The same section twice would merge silently (the later listen wins). */
	for (size_t i = 0; i < r->nseen; i++) {
		if (strcmp(r->seen[i].name, norm) == 0) {
			tg_err_set(r->err, TG_ERR_CONFIG,
			    "%s:%d: [%s] again (first at line %d): one section per listener; merge "
			    "the two or rename one", r->path, r->line, norm, r->seen[i].line);
			free(norm);
			return -1;
		}
	}
	if (r->nseen == sizeof(r->seen) / sizeof(r->seen[0])) {
		free(norm);
		return tg_err_set(r->err, TG_ERR_CONFIG, "%s:%d: more than %d listeners", r->path,
		    r->line, GW_MAX_LISTENERS);
	}
	r->seen[r->nseen].name = norm;
	r->seen[r->nseen++].line = r->line;
	r->section = norm;
	r->listener = listener != NULL ? norm + 9 : NULL;
	r->section_line = r->line;
	r->nkeys = 0;
	memset(r->key_line, 0, sizeof(r->key_line));
	return 0;
}

static int
key_value(struct reader *r, char *line)
{
	char *eq = strchr(line, '='), *key, *value, *c;
	const struct opt *o;
	const char *where = r->section ? r->section : "global";

	if (eq == NULL)
		return fail_at(r, "syntax error; lines are `key = value` under [global] or [listener NAME]");
	*eq = '\0';
	key = trim(line);
	value = eq + 1;
	/* An inline comment starts with ';' after a blank, as inih read it. */
	for (c = value; (c = strchr(c, ';')) != NULL; c++)
		if (c > value && (c[-1] == ' ' || c[-1] == '\t')) {
			*c = '\0';
			break;
		}
	value = trim(value);
	if (*key == '\0')
		return fail_at(r, "syntax error: a value without a key; lines are `key = value`");
	o = find_opt(key);
	if (o != NULL && r->listener != NULL && o->global)
		return tg_err_set(r->err, TG_ERR_CONFIG,
		    "%s:%d: '%s' is a global option; move it to the [global] section", r->path,
		    r->line, key);
	if (o != NULL && r->listener == NULL && !o->global)
		return tg_err_set(r->err, TG_ERR_CONFIG,
		    "%s:%d: '%s' belongs in a [listener NAME] section, not [global]", r->path, r->line,
		    key);
	if (o != NULL && o->set != set_list && r->key_line[o - opts] != 0)
		return tg_err_set(r->err, TG_ERR_CONFIG,
		    "%s:%d: [%s] sets '%s' again (first at line %d); it takes one value: remove one",
		    r->path, r->line, where, key, r->key_line[o - opts]);
	if (gw_config_set(r->cfg, r->listener, key, value, r->err) != 0) {
		tg_err_prefix(r->err, "%s:%d: [%s]", r->path, r->line, where);
		r->err->cat = TG_ERR_CONFIG;
		return -1;
	}
	r->key_line[o - opts] = r->line;
	r->nkeys++;
	return 0;
}

int
gw_config_read(gw_config *cfg, FILE *f, const char *path, tg_err *err)
{
	struct reader r;
	char *buf = malloc(CONFIG_LINE_MAX + 1);
	size_t len;
	int rc = -1, got;

	memset(&r, 0, sizeof(r));
	r.cfg = cfg;
	r.path = path;
	r.err = err;
	if (buf == NULL)
		return tg_err_set(err, TG_ERR_INTERNAL, "out of memory");
	for (r.line = 1; (got = read_line(f, buf, &len, &r)) == 1; r.line++) {
		char *line = buf;
		if (r.line == 1 && len >= 3 && memcmp(line, "\xEF\xBB\xBF", 3) == 0)
			line += 3; /* a UTF-8 byte order mark */
		line = trim(line);
		if (*line == '\0' || *line == ';' || *line == '#')
			continue;
		if (*line == '[') {
			char *close = line + strlen(line) - 1;
			if (*close != ']') {
				fail_at(&r, "syntax error: a section header is [global] or [listener NAME]");
				goto out;
			}
			*close = '\0';
			if (section_start(&r, trim(line + 1)) != 0)
				goto out;
		} else if (key_value(&r, line) != 0) {
			goto out;
		}
	}
	if (got == 0 && ferror(f))
		tg_err_set(err, TG_ERR_IO, "cannot read config file %s: %s", path, strerror(errno));
	else if (got == 0)
		rc = section_end(&r);
out:
	for (size_t i = 0; i < r.nseen; i++)
		free(r.seen[i].name);
	free(buf);
	return rc;
}

int
gw_config_load(gw_config *cfg, const char *path, tg_err *err)
{
	FILE *f;
	int rc;

	free(cfg->path);
	if ((cfg->path = strdup(path)) == NULL)
		return tg_err_set(err, TG_ERR_INTERNAL, "out of memory");
	if ((f = fopen(path, "r")) == NULL)
		return tg_err_set(err, TG_ERR_IO, "cannot open config file %s: %s", path,
		    strerror(errno));
	rc = gw_config_read(cfg, f, path, err);
	fclose(f);
	return rc;
}

/* An option given to a listener of the other role would be ignored
 * silently: --verify on a client, --ca on a server. */
static int
validate_roles(const struct gw_listener_cfg *l, tg_err *err)
{
	int role = l->client ? R_CLIENT : R_SERVER;

	for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++)
		if ((l->keys_set & (UINT64_C(1) << i)) && !(opts[i].roles & role))
			return tg_err_set(err, TG_ERR_USAGE, l->client ?
			    "listener %s: --%s is for server listeners (tlsgate serve); a client "
			    "listener checks the server with --ca and --verify-name" :
			    "listener %s: --%s is for client listeners (tlsgate connect, or role = "
			    "client); a server checks its clients with --client-ca and --verify",
			    l->name, opts[i].key);
	return 0;
}

/* Client mode: the server is verified unless --insecure says otherwise. */
static int
validate_client(const struct gw_listener_cfg *l, tg_err *err)
{
	const char *n = l->name;
	util_addr a;

	if ((l->cert == NULL) != (l->key == NULL))
		return tg_err_set(err, TG_ERR_USAGE, "listener %s: --cert and --key go together", n);
	if (l->pass_file && l->pass_command)
		return tg_err_set(err, TG_ERR_USAGE, "listener %s: give --pass-file or --pass-command, not both", n);
	if (l->insecure && l->ca != NULL)
		return tg_err_set(err, TG_ERR_USAGE,
		    "listener %s: --insecure turns off the server check that --ca is for; drop one", n);
	if (!l->insecure && l->ca == NULL)
		return tg_err_set(err, TG_ERR_USAGE,
		    "listener %s: no --ca: the server's certificate cannot be verified; pass --ca "
		    "FILE (the CA that signed the server's certificate, e.g. ./pki/root.crt), or "
		    "--insecure to connect without checking who answers (not for production)", n);
	if (util_parse_addr(l->target, "target", 0, &a, err) != 0)
		return tg_err_prefix(err, "listener %s", n);
	if (a.is_unix && !l->insecure && l->verify_name == NULL)
		return tg_err_set(err, TG_ERR_USAGE,
		    "listener %s: target %s is a unix socket, which names no server: pass "
		    "--verify-name NAME (the name in the server's certificate)", n, l->target);
	return 0;
}

static int
validate_listener(const struct gw_listener_cfg *l, tg_err *err)
{
	const char *n = l->name;

	if (l->listen == NULL)
		return tg_err_set(err, TG_ERR_USAGE, "listener %s: no listen address; pass --listen 127.0.0.1:8443", n);
	if (l->target == NULL)
		return tg_err_set(err, TG_ERR_USAGE, "listener %s: no target; pass --target 127.0.0.1:5000", n);
	if (validate_roles(l, err) != 0)
		return -1;
	if (l->client)
		return validate_client(l, err);
	if (l->certs_dir == NULL && (l->cert == NULL || l->key == NULL))
		return tg_err_set(err, TG_ERR_USAGE,
		    "listener %s: no certificate; pass --cert FILE --key FILE, or --certs-dir DIR", n);
	if ((l->cert == NULL) != (l->key == NULL))
		return tg_err_set(err, TG_ERR_USAGE, "listener %s: --cert and --key go together", n);
	if (l->verify != GW_VERIFY_NONE && l->client_ca == NULL)
		return tg_err_set(err, TG_ERR_USAGE,
		    "listener %s: --verify %s needs --client-ca FILE (the CA that signed the client certs)",
		    n, gw_verify_name(l->verify));
	if (l->verify == GW_VERIFY_FULL &&
	    l->allow_cn.n + l->allow_san.n + l->allow_ou.n == 0)
		return tg_err_set(err, TG_ERR_USAGE,
		    "listener %s: --verify verify-full needs an allow rule: --allow-cn, --allow-san or --allow-ou", n);
	if (l->verify == GW_VERIFY_NONE && (l->crl || l->allow_cn.n || l->allow_san.n || l->allow_ou.n))
		return tg_err_set(err, TG_ERR_USAGE,
		    "listener %s: --crl and --allow-* need client certificates; add --verify require or verify-full", n);
	/* Only a certificate is judged by the rules: optional would let a
	 * client that sends none through where one not on the list is refused. */
	if (l->verify == GW_VERIFY_OPTIONAL && (l->allow_cn.n || l->allow_san.n || l->allow_ou.n))
		return tg_err_set(err, TG_ERR_USAGE,
		    "listener %s: --allow-* with --verify optional would let a client without a "
		    "certificate through while refusing certificates not on the list; use --verify "
		    "verify-full", n);
	if (gw_acl_check(&l->allow_cn, &l->allow_san, &l->allow_ou, err) != 0)
		return tg_err_prefix(err, "listener %s", n);
	if (l->pass_file && l->pass_command)
		return tg_err_set(err, TG_ERR_USAGE, "listener %s: give --pass-file or --pass-command, not both", n);
	/* Read again at every reload, when standard input is long gone. */
	if (l->pass_file != NULL && strcmp(l->pass_file, "-") == 0)
		return tg_err_set(err, TG_ERR_USAGE, "listener %s: --pass-file -: the gateway reads "
		    "the passphrase again at every reload, when standard input is gone; give "
		    "--pass-file FILE or --pass-command CMD", n);
	if (l->allow_connect && l->mode != GW_MODE_HTTP)
		return tg_err_set(err, TG_ERR_USAGE,
		    "listener %s: --allow-connect is for http mode; tcp mode forwards every byte anyway", n);
	if (l->ticket_keys.n > 0 && l->session_cache == 0)
		return tg_err_set(err, TG_ERR_USAGE,
		    "listener %s: --ticket-keys makes sessions resumable; it cannot go with "
		    "--session-cache 0 (no resumption): drop one", n);
	if (l->crl_strict && l->crl == NULL)
		return tg_err_set(err, TG_ERR_USAGE,
		    "listener %s: --crl-strict judges the --crl file's nextUpdate; give --crl FILE", n);
	if (l->proxy_v2 && l->mode != GW_MODE_TCP)
		return tg_err_set(err, TG_ERR_USAGE,
		    "listener %s: --proxy-protocol v2 is for tcp mode; http mode passes identity as headers", n);
	return 0;
}

int
gw_config_validate(gw_config *cfg, tg_err *err)
{
	if (cfg->nl == 0)
		return tg_err_set(err, TG_ERR_USAGE,
		    "nothing to serve: pass --listen, --target and a certificate, or --config FILE");
	for (size_t i = 0; i < cfg->nl; i++) {
		if (validate_listener(cfg->l[i], err) != 0)
			return -1;
		for (size_t j = 0; j < i; j++)
			if (strcmp(cfg->l[i]->listen, cfg->l[j]->listen) == 0)
				return tg_err_set(err, TG_ERR_USAGE,
				    "listeners %s and %s both listen on %s", cfg->l[j]->name,
				    cfg->l[i]->name, cfg->l[i]->listen);
	}
	return 0;
}
