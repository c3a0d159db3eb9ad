#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_impl.h"

struct store {
	const struct store_ops *ops;
	void *be;
};

static const struct store_ops *const backends[] = {
	&store_sqlite_ops,
	&store_pg_ops,
};

#define STORE_URL_HELP "use sqlite:PATH, postgresql://USER@HOST:PORT/DB or postgres:KEY=VALUE..."

static int
scheme_is(const char *name, const char *url, size_t n)
{
	return name != NULL && strlen(name) == n && strncmp(url, name, n) == 0;
}

/* "scheme:rest" picks a backend; a plain path (no scheme before the first
 * slash) is an SQLite file, as it always was. */
static int
store_pick(const char *url, const struct store_ops **ops, const char **location,
    tg_err *err)
{
	const char *colon = strchr(url, ':'), *slash = strchr(url, '/');
	size_t n;

	*ops = &store_sqlite_ops;
	*location = url;
	if (colon == NULL || colon == url || (slash != NULL && slash < colon))
		return 0;
	n = (size_t)(colon - url);
	*ops = NULL;
	for (size_t i = 0; i < sizeof(backends) / sizeof(backends[0]); i++)
		if (scheme_is(backends[i]->scheme, url, n) || scheme_is(backends[i]->alias, url, n))
			*ops = backends[i];
	if (*ops == NULL)
		return tg_err_set(err, TG_ERR_USAGE, "unknown store '%s'; " STORE_URL_HELP, url);
	*location = colon + 1;
	return 0;
}

int
store_check_url(const char *url, tg_err *err)
{
	const struct store_ops *ops;
	const char *location;

	if (store_pick(url, &ops, &location, err) != 0)
		return -1;
	if (*location == '\0')
		return tg_err_set(err, TG_ERR_USAGE, "empty store location in '%s'; " STORE_URL_HELP,
		    url);
	return ops->check != NULL ? ops->check(location, err) : 0;
}

store *
store_open_ca(const char *url, const char *ca, tg_err *err)
{
	const struct store_ops *ops;
	const char *location;
	store *s;

	if (store_pick(url, &ops, &location, err) != 0)
		return NULL;
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		tg_err_set(err, TG_ERR_INTERNAL, "out of memory");
		return NULL;
	}
	s->ops = ops;
	if ((s->be = ops->open(location, ca, err)) == NULL) {
		free(s);
		return NULL;
	}
	return s;
}

store *
store_open(const char *url, tg_err *err)
{
	return store_open_ca(url, NULL, err);
}

void
store_close(store *s)
{
	if (s == NULL)
		return;
	s->ops->close(s->be);
	free(s);
}

int store_begin(store *s, tg_err *err) { return s->ops->begin(s->be, err); }
int store_commit(store *s, tg_err *err) { return s->ops->commit(s->be, err); }
void store_rollback(store *s) { s->ops->rollback(s->be); }
int store_add(store *s, const store_cert *c, tg_err *err) { return s->ops->add(s->be, c, err); }

const char *
store_add_status(const store_cert *c)
{
	if (strcmp(c->status, STORE_PENDING) == 0)
		return STORE_PENDING;
	if (strcmp(c->status, STORE_VOID) == 0)
		return STORE_VOID;
	return STORE_VALID;
}

static int
store_status_known(const char *status)
{
	static const char *const known[] = { STORE_PENDING, STORE_VALID, STORE_REVOKED, STORE_VOID };

	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (strcmp(status, known[i]) == 0)
			return 1;
	return 0;
}

void
store_filter_where(const store_filter *f, char mark, int first, store_where *w)
{
	size_t off = 0;

	memset(w, 0, sizeof(*w));
#define WHERE_ADD(...) off += (size_t)snprintf(w->sql + off, sizeof(w->sql) - off, __VA_ARGS__)
	if (f == NULL)
		return;
	if (f->revoked_only)
		WHERE_ADD(" AND status = 'revoked'");
	if (f->valid_only)
		WHERE_ADD(" AND status = 'valid'");
	if (f->expiring_before != 0) {
		snprintf(w->before, sizeof(w->before), "%" PRId64, f->expiring_before);
		w->before_at = w->n + 1;
		w->vals[w->n++] = w->before;
		WHERE_ADD(" AND not_after < %c%d", mark, first + w->n - 1);
	}
	if (f->cn != NULL) {
		w->vals[w->n++] = f->cn;
		WHERE_ADD(" AND cn = %c%d", mark, first + w->n - 1);
	}
	/* A status of the schema's four is written out: a plan made without
	 * the value (PostgreSQL's generic plan) takes "status = $2" to match
	 * most rows, as "valid" does, and reads them all for the few pending. */
	if (f->status != NULL && store_status_known(f->status))
		WHERE_ADD(" AND status = '%s'", f->status);
	else if (f->status != NULL) {
		w->vals[w->n++] = f->status;
		WHERE_ADD(" AND status = %c%d", mark, first + w->n - 1);
	}
#undef WHERE_ADD
}

int
store_not_revocable(const store_cert *c, tg_err *err)
{
	if (strcmp(c->status, STORE_VOID) == 0)
		return tg_err_set(err, TG_ERR_USAGE,
		    "certificate %s was never handed out (an interrupted run signed it, then its files "
		    "were removed; it is void): there is nothing to revoke", c->serial);
	if (strcmp(c->status, STORE_PENDING) == 0)
		return tg_err_set(err, TG_ERR_USAGE,
		    "certificate %s is pending: a run on %s was interrupted before publishing it; "
		    "run a tlsgate command that writes to this CA there first", c->serial,
		    c->writer ? c->writer : "another machine");
	return tg_err_set(err, TG_ERR_USAGE, "certificate %s is already %s", c->serial, c->status);
}

int
store_has_serial(store *s, const char *serial, tg_err *err)
{
	return s->ops->has_serial(s->be, serial, err);
}

int
store_get(store *s, const char *serial, store_cert *out, tg_err *err)
{
	return s->ops->get(s->be, serial, out, err);
}

int
store_revoke(store *s, const char *serial, int64_t when, int reason, tg_err *err)
{
	return s->ops->revoke(s->be, serial, when, reason, err);
}

int
store_set_status(store *s, const char *serial, const char *from, const char *to, tg_err *err)
{
	return s->ops->set_status(s->be, serial, from, to, err);
}

int store_lock(store *s, tg_err *err) { return s->ops->lock(s->be, err); }
void store_unlock(store *s) { s->ops->unlock(s->be); }

int
store_list(store *s, const store_filter *f, int (*fn)(const store_cert *c, void *arg),
    void *arg, tg_err *err)
{
	return s->ops->list(s->be, f, fn, arg, err);
}

int
store_next_crl_number(store *s, const char *series, uint64_t *out, tg_err *err)
{
	return s->ops->next_crl_number(s->be, series, out, err);
}

void
store_cert_clear(store_cert *c)
{
	free(c->subject);
	free(c->cn);
	free(c->sans);
	free(c->profile);
	free(c->pem);
	free(c->cert_path);
	free(c->key_path);
	free(c->writer);
	memset(c, 0, sizeof(*c));
}

/* --- Copying one store into another --- */

struct copy {
	store *to;
	store_copy_stats *st;
	tg_err *err;
	int failed;
};

static int
copy_cert(const store_cert *c, void *arg)
{
	struct copy *cp = arg;
	store_cert have = { 0 };
	int r;

	if ((r = store_has_serial(cp->to, c->serial, cp->err)) < 0)
		goto fail;
	if (r == 1) {
		if (store_get(cp->to, c->serial, &have, cp->err) != 0)
			goto fail;
		r = strcmp(have.fingerprint, c->fingerprint);
		/* Revoked since the target last saw it (a move back and forth). */
		if (r == 0 && strcmp(c->status, "revoked") == 0 &&
		    strcmp(have.status, "revoked") != 0) {
			store_cert_clear(&have);
			if (store_revoke(cp->to, c->serial, c->revoked_at, c->reason, cp->err) != 0)
				goto fail;
			cp->st->revoked++;
			cp->st->already++;
			return 0;
		}
		store_cert_clear(&have);
		if (r != 0) {
			tg_err_set(cp->err, TG_ERR_EXISTS, "serial %s is already in the target "
			    "inventory for another certificate (%s): it is not a copy of this CA's "
			    "inventory; give an empty inventory", c->serial, c->cn ? c->cn : "");
			goto fail;
		}
		cp->st->already++;
		return 0;
	}
	if (store_add(cp->to, c, cp->err) != 0)
		goto fail;
	if (strcmp(c->status, "revoked") == 0) {
		if (store_revoke(cp->to, c->serial, c->revoked_at, c->reason, cp->err) != 0)
			goto fail;
		cp->st->revoked++;
	}
	cp->st->certs++;
	return 0;
fail:
	cp->failed = 1;
	return 1;
}

static int
copy_crl(const char *series, uint64_t last, void *arg)
{
	struct copy *cp = arg;

	if (store_floor_crl(cp->to, series, last, cp->err) != 0) {
		cp->failed = 1;
		return 1;
	}
	if (strcmp(series, "leaf") == 0)
		cp->st->leaf_crl = last;
	cp->st->crl_series++;
	return 0;
}

/* Every serial of from must be in to. */
static int
check_present(const store_cert *c, void *arg)
{
	struct copy *cp = arg;
	int r = store_has_serial(cp->to, c->serial, cp->err);

	if (r == 1)
		return 0;
	if (r == 0)
		tg_err_set(cp->err, TG_ERR_INTERNAL, "serial %s is missing from the target inventory "
		    "after the copy", c->serial);
	cp->failed = 1;
	return 1;
}

int
store_floor_crl(store *s, const char *series, uint64_t last, tg_err *err)
{
	return s->ops->crl_floor(s->be, series, last, err);
}

int
store_copy(store *from, store *to, const store_copy_module *mods, size_t nmods,
    store_copy_stats *stats, tg_err *err)
{
	struct copy cp = { to, stats, err, 0 };

	memset(stats, 0, sizeof(*stats));
	for (size_t i = 0; i < nmods; i++)
		if (mods[i].prepare != NULL && mods[i].prepare(from, to, mods[i].arg, err) != 0)
			return -1;
	if (store_begin(to, err) != 0)
		return -1;
	if (store_list(from, NULL, copy_cert, &cp, err) != 0 || cp.failed ||
	    from->ops->crl_numbers(from->be, copy_crl, &cp, err) != 0 || cp.failed)
		goto fail;
	for (size_t i = 0; i < nmods; i++)
		if (mods[i].copy(from, to, mods[i].arg, err) != 0)
			goto fail;
	if (store_commit(to, err) != 0)
		return -1;
	if (store_list(from, NULL, check_present, &cp, err) != 0 || cp.failed)
		return -1;
	return 0;
fail:
	store_rollback(to);
	return -1;
}

/* --- Tables of other modules --- */

const char *store_ca_name(store *s) { return s->ops->ca_name(s->be); }

int
store_sql(store *s, const char *sql, const char *const *params, int nparams, store_row_fn fn,
    void *arg, long *changes, tg_err *err)
{
	return s->ops->sql(s->be, sql, params, nparams, fn, arg, changes, err);
}

int store_sql_begin(store *s, tg_err *err) { return s->ops->sql_txn(s->be, STORE_TXN_BEGIN, err); }
int store_sql_commit(store *s, tg_err *err) { return s->ops->sql_txn(s->be, STORE_TXN_COMMIT, err); }
void store_sql_rollback(store *s) { (void)s->ops->sql_txn(s->be, STORE_TXN_ROLLBACK, NULL); }

int store_sql_relaxed(store *s, tg_err *err) { return s->ops->sql_relaxed(s->be, err); }

int
store_sql_schema(store *s, const char *key, const char *version, const char *ddl, tg_err *err)
{
	return s->ops->sql_schema(s->be, key, version, ddl, err);
}

struct text_out {
	char *buf;
	size_t cap;
};

static int
first_text(void *arg, int ncols, const char *const *vals)
{
	struct text_out *out = arg;

	snprintf(out->buf, out->cap, "%s", ncols > 0 && vals[0] != NULL ? vals[0] : "");
	return 1;
}

int
store_sql_schema_get(store *s, const char *key, char *version, size_t cap, tg_err *err)
{
	struct text_out out = { version, cap };
	const char *params[] = { key };

	version[0] = '\0';
	return store_sql(s, s->ops->sql_schema_get, params, 1, first_text, &out, NULL, err);
}
