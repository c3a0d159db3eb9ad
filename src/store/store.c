#include <stdlib.h>
#include <string.h>

#include "store_impl.h"

struct store {
	const struct store_ops *ops;
	void *be;
};

static const struct store_ops *const backends[] = {
	&store_sqlite_ops,
};

store *
store_open(const char *url, tg_err *err)
{
	const struct store_ops *ops = &store_sqlite_ops;
	const char *location = url;
	const char *colon = strchr(url, ':');
	store *s;

	if (colon != NULL && colon != url && strchr(url, '/') > colon) {
		size_t n = (size_t)(colon - url);
		ops = NULL;
		for (size_t i = 0; i < sizeof(backends) / sizeof(backends[0]); i++)
			if (strlen(backends[i]->scheme) == n && strncmp(url, backends[i]->scheme, n) == 0)
				ops = backends[i];
		if (ops == NULL) {
			tg_err_set(err, TG_ERR_USAGE, "unknown store '%s'; use sqlite:PATH", url);
			return NULL;
		}
		location = colon + 1;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		tg_err_set(err, TG_ERR_INTERNAL, "out of memory");
		return NULL;
	}
	s->ops = ops;
	if ((s->be = ops->open(location, err)) == NULL) {
		free(s);
		return NULL;
	}
	return s;
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
	memset(c, 0, sizeof(*c));
}
