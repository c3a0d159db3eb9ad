/* What a store backend implements. */
#ifndef TLSGATE_STORE_IMPL_H
#define TLSGATE_STORE_IMPL_H

#include "tlsgate/store.h"

struct store_ops {
	const char *scheme;
	const char *alias;  /* another scheme naming the same backend, or NULL */
	/* Validates a location without connecting (may be NULL). */
	int (*check)(const char *location, tg_err *err);
	/* ca names the CA whose rows this handle sees, for backends that hold
	 * several CAs; NULL for the default. */
	void *(*open)(const char *location, const char *ca, tg_err *err);
	void (*close)(void *be);
	int (*begin)(void *be, tg_err *err);
	int (*commit)(void *be, tg_err *err);
	void (*rollback)(void *be);
	int (*add)(void *be, const store_cert *c, tg_err *err);
	int (*has_serial)(void *be, const char *serial, tg_err *err);
	int (*get)(void *be, const char *serial, store_cert *out, tg_err *err);
	int (*revoke)(void *be, const char *serial, int64_t when, int reason, tg_err *err);
	int (*set_status)(void *be, const char *serial, const char *from, const char *to,
	    tg_err *err);
	/* The writer lock held across transactions (store_lock). */
	int (*lock)(void *be, tg_err *err);
	void (*unlock)(void *be);
	int (*list)(void *be, const store_filter *f,
	    int (*fn)(const store_cert *c, void *arg), void *arg, tg_err *err);
	int (*next_crl_number)(void *be, const char *series, uint64_t *out, tg_err *err);
	/* Calls fn with each CRL series and the last number it handed out. */
	int (*crl_numbers)(void *be, int (*fn)(const char *series, uint64_t last, void *arg),
	    void *arg, tg_err *err);
	/* Makes the series' last number at least last. */
	int (*crl_floor)(void *be, const char *series, uint64_t last, tg_err *err);
	/* Other modules' tables (store_sql and friends). */
	const char *(*ca_name)(void *be);
	int (*sql)(void *be, const char *sql, const char *const *params, int nparams,
	    store_row_fn fn, void *arg, long *changes, tg_err *err);
	int (*sql_txn)(void *be, int op, tg_err *err); /* STORE_TXN_* */
	int (*sql_relaxed)(void *be, tg_err *err);
	int (*sql_schema)(void *be, const char *key, const char *version, const char *ddl,
	    tg_err *err);
	/* The meta statement that reads a schema key's version ($1: key). */
	const char *sql_schema_get;
};

enum { STORE_TXN_BEGIN, STORE_TXN_COMMIT, STORE_TXN_ROLLBACK };

/* A statement cache entry: sql is the caller's constant, found by address. */
#define STORE_SQL_CACHE 96

/* The status store_add writes for c: "pending" and "void" as given, else
 * "valid" (revocations are replayed with their time and reason). */
const char *store_add_status(const store_cert *c);

/* The conditions f asks for, and only those, for a list's WHERE after its
 * first condition: " AND status = 'revoked' AND not_after < ?2 ...", with
 * placeholders mark ('?' SQLite, '$' PostgreSQL) numbered from first. A
 * condition turned off by a parameter instead ("?1 = 0 OR ...") keeps both
 * engines off every index: listing the revoked for a CRL, the expiring for
 * a renewal or one name would read the whole inventory. */
typedef struct store_where {
	char sql[160];
	int n;                /* placeholders used */
	const char *vals[3];  /* their values in order, as text */
	int before_at;        /* 1-based place of the not_after bound (an integer), 0: none */
	char before[24];
} store_where;
void store_filter_where(const store_filter *f, char mark, int first, store_where *w);
/* The SQL of the SQLite backend's list for f (its values in w). */
void store_sqlite_list_sql(const store_filter *f, store_where *w, char *sql, size_t len);

/* Why c (found, but not valid) cannot be revoked; always -1. */
int store_not_revocable(const store_cert *c, tg_err *err);

/* How often this process's SQLite connections slept waiting for another
 * writer (its own threads queue on a mutex instead). */
unsigned long store_sqlite_busy_waits(void);

extern const struct store_ops store_sqlite_ops;
extern const struct store_ops store_pg_ops;

#endif
