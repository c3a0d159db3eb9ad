/* Mosquitto's config, read for its TLS listeners: `listener PORT [ADDR]`
 * starts one (options before the first go to the default listener),
 * `certfile`/`keyfile` are its pair, `cafile`/`capath` the CAs client
 * certificates are verified against, `crlfile` their CRL, and
 * `require_certificate` whether a client must send one. `include_dir`
 * reads the directory's .conf files in order, as mosquitto does. */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check/chk_int.h"
#include "check/chk_lua.h" /* chk_file_error */
#include "tlsgate/util.h"

enum { MQ_CERT, MQ_KEY, MQ_CAFILE, MQ_CAPATH, MQ_CRL, MQ_REQUIRE, MQ_N };

static const char *const mq_names[MQ_N] = {
	"certfile", "keyfile", "cafile", "capath", "crlfile", "require_certificate",
};

struct mq_listener {
	char port[64];
	char file[PATH_MAX]; /* where it starts (or the main file, for the default) */
	unsigned line;
	char v[MQ_N][PATH_MAX];
};

struct mq {
	chk_ctx *c;
	tg_err *err;
	struct mq_listener cur;
	int started; /* cur holds options */
	int tls;     /* listeners with a certfile */
	struct chk_conf *conf; /* files through include_dir */
	char user[64];         /* `user`: whom the broker becomes when started as root */
	char user_at[PATH_MAX + 16];
};

#define MQ_MAX_DEPTH 8

static int mq_read(struct mq *m, const char *path, const char *from, unsigned from_line);

/* A listener is complete: its files become inputs. */
static int
mq_done(struct mq *m)
{
	struct mq_listener *l = &m->cur;
	chk_ctx *c = m->c;

	if (!m->started || l->v[MQ_CERT][0] == '\0')
		return 0;
	m->tls++;
	if (l->v[MQ_KEY][0] == '\0')
		return chk_file_error(m->err, l->file, l->line, "listener %s has a certfile but no "
		    "keyfile: mosquitto refuses to start; add keyfile", l->port);
	if ((!chk_has_pair(c, l->v[MQ_CERT]) && chk_add_pair(c, l->v[MQ_CERT], l->v[MQ_KEY],
	    m->err) != 0) ||
	    (l->v[MQ_CAFILE][0] && chk_add_ca_input(c, l->v[MQ_CAFILE],
	    "mosquitto's cafile: client certificates must chain to it", m->err) != 0) ||
	    (l->v[MQ_CAFILE][0] && chk_add_chain_source(c, l->v[MQ_CERT], l->v[MQ_CAFILE],
	    "mosquitto's cafile", m->err) != 0) ||
	    (l->v[MQ_CAPATH][0] && chk_add_path(c, l->v[MQ_CAPATH], m->err) != 0) ||
	    (l->v[MQ_CRL][0] && chk_add_path(c, l->v[MQ_CRL], m->err) != 0))
		return -1;
	/* Client certificates checked when sent, but not asked for: the
	 * pitfall the EMQX guide's fail_if_no_peer_cert = true closes. */
	if ((l->v[MQ_CAFILE][0] || l->v[MQ_CAPATH][0]) && strcmp(l->v[MQ_REQUIRE], "true") != 0 &&
	    chk_cfg_note(c, "mqtt-client-cert-optional", l->file, l->line, "set require_certificate "
	    "true in the listener (EMQX: verify = verify_peer with fail_if_no_peer_cert = true)",
	    "listener %s verifies client certificates only when a client sends one "
	    "(require_certificate is %s): clients without a certificate connect", l->port,
	    l->v[MQ_REQUIRE][0] ? l->v[MQ_REQUIRE] : "not set, so false") != 0)
		return tg_err_set(m->err, TG_ERR_INTERNAL, "out of memory");
	return 0;
}

struct mq_inc {
	struct mq *m;
	const char *from;
	unsigned line;
};

static int
mq_include_one(const char *path, void *arg)
{
	struct mq_inc *in = arg;

	return mq_read(in->m, path, in->from, in->line);
}

static int
mq_include_dir(struct mq *m, const char *dir, const char *file, unsigned line)
{
	struct mq_inc in = { m, file, line };
	/* mosquitto reads every NAME.conf, hidden ones too. */
	int rc = chk_each_conf(dir, 0, mq_include_one, &in, m->err);

	if (rc < 0)
		return chk_file_error(m->err, file, line, "include_dir %s: %s (mosquitto refuses "
		    "to start with this too)", dir, strerror(errno));
	return rc == 0 ? 0 : -1;
}

static int
mq_line(struct mq *m, const char *path, unsigned line, char *p)
{
	char *name, *value, *end;

	while (isspace((unsigned char)*p))
		p++;
	if (*p == '\0' || *p == '#')
		return 0;
	name = p;
	while (*p != '\0' && !isspace((unsigned char)*p))
		p++;
	if (*p != '\0')
		*p++ = '\0';
	while (isspace((unsigned char)*p))
		p++;
	value = p;
	end = value + strlen(value);
	while (end > value && isspace((unsigned char)end[-1]))
		*--end = '\0';
	if (strcmp(name, "listener") == 0) {
		if (mq_done(m) != 0)
			return -1;
		memset(&m->cur, 0, sizeof(m->cur));
		m->started = 1;
		snprintf(m->cur.port, sizeof(m->cur.port), "%.63s", value);
		snprintf(m->cur.file, sizeof(m->cur.file), "%s", path);
		m->cur.line = line;
		return 0;
	}
	if (strcmp(name, "include_dir") == 0)
		return mq_include_dir(m, value, path, line);
	if (strcmp(name, "user") == 0) {
		snprintf(m->user, sizeof(m->user), "%.63s", value);
		snprintf(m->user_at, sizeof(m->user_at), "%s:%u", path, line);
		return 0;
	}
	for (int i = 0; i < MQ_N; i++) {
		if (strcmp(name, mq_names[i]) != 0)
			continue;
		if (!m->started) { /* the default listener */
			m->started = 1;
			snprintf(m->cur.port, sizeof(m->cur.port), "1883 (the default listener)");
			snprintf(m->cur.file, sizeof(m->cur.file), "%s", path);
			m->cur.line = line;
		}
		snprintf(m->cur.v[i], sizeof(m->cur.v[i]), "%s", value);
	}
	return 0;
}

static int
mq_line_cb(void *arg, const char *path, unsigned line, char *text)
{
	return mq_line(arg, path, line, text);
}

static int
mq_read(struct mq *m, const char *path, const char *from, unsigned from_line)
{
	int rc = chk_conf_each_line(m->conf, path, from, from_line, mq_line_cb, m, m->err);

	if (rc < 0 && m->err->cat == TG_ERR_IO)
		return tg_err_prefix(m->err, "cannot read the mosquitto config");
	return rc == 0 ? 0 : -1;
}

/* Started as root (as its service is), mosquitto becomes `user` (default
 * mosquitto) before it opens the listeners' files: that account must read
 * the keys. */
static int
mq_owner(struct mq *m)
{
	char from[PATH_MAX + 128];

	if (strcmp(m->user, "root") == 0)
		return 0;
	if (m->user[0] == '\0') {
		snprintf(m->user, sizeof(m->user), "mosquitto");
		snprintf(from, sizeof(from), "mosquitto's default `user`: the broker started as root "
		    "reads its files as it");
	} else {
		snprintf(from, sizeof(from), "`user %s` at %.3000s: the broker started as root reads its "
		    "files as it", m->user, m->user_at);
	}
	if (getpwnam(m->user) == NULL)
		return 0; /* not installed here: nothing to try as */
	return chk_default_owner(m->c, m->user, from, m->err);
}

int
chk_add_mosquitto_config(chk_ctx *c, const char *path, tg_err *err)
{
	struct mq *m = calloc(1, sizeof(*m));
	int rc = -1;

	if (m == NULL)
		return tg_err_set(err, TG_ERR_INTERNAL, "out of memory");
	m->c = c;
	m->err = err;
	if ((m->conf = chk_conf_new("mosquitto", MQ_MAX_DEPTH)) == NULL) {
		tg_err_set(err, TG_ERR_INTERNAL, "out of memory");
		goto out;
	}
	if (mq_read(m, path, path, 0) != 0 || mq_done(m) != 0)
		goto out;
	if (m->tls == 0) {
		tg_err_set(err, TG_ERR_USAGE, "%s has no listener with a certfile: mosquitto serves "
		    "no TLS there; add certfile and keyfile to a listener (port 8883)", path);
		goto out;
	}
	if (mq_owner(m) != 0)
		goto out;
	rc = 0;
out:
	chk_conf_free(m->conf);
	free(m);
	return rc;
}
