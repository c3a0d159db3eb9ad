/* The inventory: every certificate a CA issued, with its status. One
 * interface, several backends (SQLite embedded by default; the vtable in
 * src/store/store_impl.h is what a PostgreSQL backend implements). */
#ifndef TLSGATE_STORE_H
#define TLSGATE_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "tlsgate/err.h"

typedef struct store store;

#define STORE_URL_MAX 4096 /* a store URL, NUL included */

#define STORE_SERIAL_MAX 41 /* 20 octets in hex + NUL */

typedef struct store_cert {
	char serial[STORE_SERIAL_MAX]; /* upper-case hex, as `openssl x509 -serial` */
	char *subject;
	char *cn;
	char *sans;                    /* "DNS:a,IP:b" */
	char *profile;                 /* server, client, both, intermediate, ... */
	int64_t not_before, not_after;
	char fingerprint[65];          /* SHA-256, lower-case hex */
	char *pem;
	char *cert_path, *key_path;    /* where the files were written, if anywhere */
	char *writer;                  /* HOST:PID writing the files of a pending row */
	char status[16];               /* see STORE_PENDING..STORE_VOID */
	int64_t revoked_at;
	int reason;                    /* CRL reason code, -1 when not revoked */
	int64_t created_at;
} store_cert;

/* A certificate's life in the inventory. Issuing records it "pending"
 * (durable before any of its files reaches its final name), publishes the
 * files, then makes it "valid"; a run that died in between is finished by
 * the next one, which makes it "valid" (a file was published) or "void"
 * (signed, never handed out, its staged files removed). */
#define STORE_PENDING "pending"
#define STORE_VALID "valid"
#define STORE_REVOKED "revoked"
#define STORE_VOID "void"

void store_cert_clear(store_cert *c);

typedef struct store_filter {
	int revoked_only;
	int valid_only;
	int64_t expiring_before; /* 0: any; else not_after < this (unix time) */
	const char *cn;          /* exact CN, or NULL */
	const char *status;      /* exact status, or NULL */
} store_filter;

/* Opens (creating if needed) a store by URL: "sqlite:PATH" or a plain path
 * (one file per CA), "postgresql://USER@HOST:PORT/DB?sslmode=..." or
 * "postgres:KEY=VALUE ..." (libpq conninfo; one database may hold many CAs).
 * ca names the CA whose certificates the handle sees and records (tlsgate
 * uses the root key's pki_key_id); NULL is the default CA. */
store *store_open_ca(const char *url, const char *ca, tg_err *err);
store *store_open(const char *url, tg_err *err);

/* Checks a store URL without opening it: a known scheme, well-formed, and no
 * password in it (secrets belong in ~/.pgpass or PGPASSWORD, not in files or
 * command lines). */
int store_check_url(const char *url, tg_err *err) TG_MUST_CHECK;
void store_close(store *s);

/* Transactions serialise writers across processes: begin takes the write lock
 * (waiting for other writers), commit makes everything since begin durable,
 * rollback forgets it. */
int store_begin(store *s, tg_err *err) TG_MUST_CHECK;
int store_commit(store *s, tg_err *err) TG_MUST_CHECK;
void store_rollback(store *s);

/* Holds the writer lock across several transactions, until store_unlock or
 * the process ends (however it ends): an operation that commits, writes
 * files, then commits again keeps other writers out of the gap, so a writer
 * that holds the lock and sees a "pending" row knows its writer is gone.
 * begin/commit inside it do not take or drop it. */
int store_lock(store *s, tg_err *err) TG_MUST_CHECK;
void store_unlock(store *s);

/* Records a certificate: status "pending" or "void" when c->status says so,
 * else "valid" (a revocation is recorded with store_revoke). A serial
 * already present fails with TG_ERR_EXISTS (the caller draws a new one). */
int store_add(store *s, const store_cert *c, tg_err *err) TG_MUST_CHECK;
/* 1 if the serial is recorded, 0 if not, -1 on error. */
int store_has_serial(store *s, const char *serial, tg_err *err);
int store_get(store *s, const char *serial, store_cert *out, tg_err *err) TG_MUST_CHECK;
int store_revoke(store *s, const char *serial, int64_t when, int reason,
    tg_err *err) TG_MUST_CHECK;
/* Moves a certificate from status from to status to; fails when it is not
 * in status from. */
int store_set_status(store *s, const char *serial, const char *from, const char *to,
    tg_err *err) TG_MUST_CHECK;

/* Calls fn for each matching certificate, oldest first; fn returns non-zero
 * to stop. fn must not use the store: rows may stream over its connection. */
int store_list(store *s, const store_filter *f,
    int (*fn)(const store_cert *c, void *arg), void *arg, tg_err *err) TG_MUST_CHECK;

/* Returns the next number (starting at 1) of the named CRL series ("leaf" for
 * the issuing CA's CRL, "root" for the root's CRL over intermediates),
 * reserved inside the current transaction. */
int store_next_crl_number(store *s, const char *series, uint64_t *out,
    tg_err *err) TG_MUST_CHECK;

/* Makes the series' last handed-out CRL number at least last (the next one
 * is then last + 1 or more). */
int store_floor_crl(store *s, const char *series, uint64_t last, tg_err *err) TG_MUST_CHECK;

/* What store_copy moved. */
typedef struct store_copy_stats {
	unsigned long certs, revoked, already; /* already: present, same fingerprint */
	unsigned long crl_series;
	uint64_t leaf_crl;                     /* the leaf series' last number */
} store_copy_stats;

/* Another module's tables (store_sql), copied by store_copy with the
 * certificates: prepare (may be NULL) runs before the transaction (a
 * module's CREATE TABLEs commit on their own, store_sql_schema), copy inside
 * it, so the rows move with the certificates or not at all. */
typedef struct store_copy_module {
	int (*prepare)(store *from, store *to, void *arg, tg_err *err);
	int (*copy)(store *from, store *to, void *arg, tg_err *err);
	void *arg;
} store_copy_module;

/* Copies every certificate of from (status, revocation and dates kept),
 * every CRL series' last number and the tables of the nmods modules into
 * to, in one transaction on to: all or nothing. A serial already in to with
 * the same fingerprint is taken as copied (a second run changes nothing);
 * with another fingerprint the copy fails (TG_ERR_EXISTS) and to is left as
 * it was. Afterwards to is read back: it must hold every serial of from. */
int store_copy(store *from, store *to, const store_copy_module *mods, size_t nmods,
    store_copy_stats *stats, tg_err *err) TG_MUST_CHECK;

/* --- Tables of other modules (the ACME server's state) ---
 * Statements are written once in the SQL both backends speak: parameters
 * $1..$n, passed as text (NULL for SQL NULL), compared with BIGINT columns
 * as numbers; every row carries store_ca_name() in a column "ca", so several
 * CAs may share one PostgreSQL database. sql must be a string constant: it
 * is prepared once per connection and found again by its address. These
 * statements do not take the writer lock: each runs on its own, or inside
 * store_sql_begin/commit (a plain transaction), or inside store_begin's. */
typedef int (*store_row_fn)(void *arg, int ncols, const char *const *vals);

const char *store_ca_name(store *s);
/* Runs sql; fn (may be NULL) gets each row, returning non-zero to stop;
 * *changes (may be NULL) the rows an INSERT/UPDATE/DELETE touched. A unique
 * key already taken fails with TG_ERR_EXISTS. */
int store_sql(store *s, const char *sql, const char *const *params, int nparams,
    store_row_fn fn, void *arg, long *changes, tg_err *err) TG_MUST_CHECK;
int store_sql_begin(store *s, tg_err *err) TG_MUST_CHECK;
int store_sql_commit(store *s, tg_err *err) TG_MUST_CHECK;
void store_sql_rollback(store *s);
/* Commits on this handle stop waiting for the disk (SQLite synchronous=NORMAL
 * in WAL mode, PostgreSQL synchronous_commit off): a crash of the machine,
 * not of the process, may lose its last commits, never corrupt the store.
 * For state a client recreates by retrying (used nonces, orders in
 * progress); certificates are recorded through a handle that keeps full
 * durability, whose commit also makes everything before it durable. */
int store_sql_relaxed(store *s, tg_err *err) TG_MUST_CHECK;
/* Creates a module's tables: when the store's meta key `key` is absent, ddl
 * (several statements, CREATE ... IF NOT EXISTS) runs and key is set to
 * version, in one transaction under the schema lock; another version is
 * refused (a newer tlsgate made it). */
int store_sql_schema(store *s, const char *key, const char *version, const char *ddl,
    tg_err *err) TG_MUST_CHECK;
/* The version store_sql_schema recorded under key, "" when it never ran
 * (the module's tables are not there); creates nothing. */
int store_sql_schema_get(store *s, const char *key, char *version, size_t cap,
    tg_err *err) TG_MUST_CHECK;

#endif
