/* The embedded default store: one SQLite file per CA, WAL mode so readers
 * never block, BEGIN IMMEDIATE so concurrent issuers queue for the write lock
 * instead of failing. */
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "store_impl.h"

#define BUSY_TIMEOUT_MS 60000

/* The writers of one process queue here, not in SQLite's busy handler: a
 * thread that finds the file's write lock taken by another of our threads
 * polls for it (sq_busy), and with the ACME server's threads each writing
 * for every request, those sleeps were 40 % of its context switches. Held
 * from BEGIN to COMMIT or ROLLBACK, and around a write outside a
 * transaction; other processes still meet the busy handler. A thread that
 * holds it through one connection does not take it again through another
 * (SQLite's lock decides then, as before). Lock order: the flock of
 * store_lock and sq_begin, then this, then SQLite's. */
static pthread_mutex_t sq_writer = PTHREAD_MUTEX_INITIALIZER;
static _Thread_local int sq_writer_mine;
static _Atomic unsigned long sq_busy_waits; /* sq_busy's sleeps, for tests */

unsigned long
store_sqlite_busy_waits(void)
{
	return sq_busy_waits;
}

typedef struct {
	sqlite3 *db;
	char *path;
	int lockfd;   /* PATH-lock, flock()ed while the writer lock is held */
	int held;     /* store_lock holds it */
	int txn_lock; /* begin took it, commit/rollback drop it */
	int mu_held;  /* this connection holds sq_writer */
	char *ca;     /* the name store_ca_name gives: rows of other modules carry it */
	struct {
		const char *sql;
		sqlite3_stmt *st;
	} cache[STORE_SQL_CACHE]; /* store_sql's statements, prepared once */
	size_t ncache;
} sq;

#define SCHEMA_VERSION "2"

/* Version 2: the statuses "pending" and "void" and the writer column. */
#define CERTS_COLUMNS \
	"(" \
	"  id INTEGER PRIMARY KEY," \
	"  serial TEXT NOT NULL UNIQUE," \
	"  subject TEXT NOT NULL," \
	"  cn TEXT NOT NULL," \
	"  sans TEXT NOT NULL," \
	"  profile TEXT NOT NULL," \
	"  not_before INTEGER NOT NULL," \
	"  not_after INTEGER NOT NULL," \
	"  fingerprint TEXT NOT NULL," \
	"  pem TEXT NOT NULL," \
	"  cert_path TEXT," \
	"  key_path TEXT," \
	"  status TEXT NOT NULL DEFAULT 'valid'" \
	"    CHECK (status IN ('pending','valid','revoked','void'))," \
	"  revoked_at INTEGER," \
	"  reason INTEGER," \
	"  created_at INTEGER NOT NULL," \
	"  writer TEXT)"

#define CERTS_INDEXES \
	"CREATE INDEX IF NOT EXISTS certs_cn ON certs(cn);" \
	"CREATE INDEX IF NOT EXISTS certs_not_after ON certs(not_after);" \
	"CREATE INDEX IF NOT EXISTS certs_status ON certs(status);"

static const char schema[] =
	"CREATE TABLE IF NOT EXISTS meta ("
	"  key TEXT PRIMARY KEY, value TEXT NOT NULL);"
	"CREATE TABLE IF NOT EXISTS certs " CERTS_COLUMNS ";"
	CERTS_INDEXES
	"INSERT OR IGNORE INTO meta(key, value) VALUES ('schema_version', '" SCHEMA_VERSION "');"
	"INSERT OR IGNORE INTO meta(key, value) VALUES ('crl_number', '0');";

/* SQLite cannot change a CHECK constraint in place: the table is rebuilt
 * (inside the opening transaction, so all or nothing). */
static const char migrate_v1[] =
	"CREATE TABLE certs_v2 " CERTS_COLUMNS ";"
	"INSERT INTO certs_v2 (id, serial, subject, cn, sans, profile, not_before, not_after,"
	" fingerprint, pem, cert_path, key_path, status, revoked_at, reason, created_at)"
	" SELECT id, serial, subject, cn, sans, profile, not_before, not_after,"
	" fingerprint, pem, cert_path, key_path, status, revoked_at, reason, created_at FROM certs;"
	"DROP TABLE certs;"
	"ALTER TABLE certs_v2 RENAME TO certs;"
	CERTS_INDEXES
	"UPDATE meta SET value = '" SCHEMA_VERSION "' WHERE key = 'schema_version';";

static int
sq_fail(sq *s, tg_err *err, const char *what)
{
	int code = sqlite3_errcode(s->db), sys = sqlite3_system_errno(s->db);
	tg_errcat cat = (code == SQLITE_CORRUPT || code == SQLITE_NOTADB) ? TG_ERR_CONFIG : TG_ERR_IO;

	/* A full disk may surface as SQLITE_FULL or as an I/O error (growing
	 * the WAL index, syncing) whose system errno says ENOSPC. */
	if (code == SQLITE_FULL ||
	    ((code == SQLITE_IOERR || code == SQLITE_CANTOPEN) && (sys == ENOSPC || sys == EDQUOT)))
		return tg_err_set(err, TG_ERR_IO,
		    "inventory %s: disk full (%s failed); free space on the file system holding %s "
		    "and retry", s->path, what, s->path);
	if (code == SQLITE_NOTADB || code == SQLITE_CORRUPT)
		return tg_err_set(err, cat,
		    "inventory %s is damaged or not a tlsgate database (%s); restore it from a backup",
		    s->path, sqlite3_errmsg(s->db));
	return tg_err_set(err, cat, "inventory %s: %s: %s", s->path, what, sqlite3_errmsg(s->db));
}

static int
exec(sq *s, const char *sql, tg_err *err)
{
	if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return sq_fail(s, err, sql);
	return 0;
}

static void
writer_take(sq *s)
{
	if (s->mu_held || sq_writer_mine)
		return;
	pthread_mutex_lock(&sq_writer);
	sq_writer_mine = 1;
	s->mu_held = 1;
}

static void
writer_drop(sq *s)
{
	if (!s->mu_held)
		return;
	s->mu_held = 0;
	sq_writer_mine = 0;
	pthread_mutex_unlock(&sq_writer);
}

static void
sq_close(void *be)
{
	sq *s = be;

	if (s == NULL)
		return;
	for (size_t i = 0; i < s->ncache; i++)
		sqlite3_finalize(s->cache[i].st);
	writer_drop(s);
	free(s->ca);
	sqlite3_close(s->db);
	if (s->lockfd >= 0)
		close(s->lockfd); /* drops the flock, if held */
	free(s->path);
	free(s);
}

/* Waits for another writer: SQLite's own handler sleeps 1, 2, 5, ... 100 ms
 * between tries, long against a commit that takes well under one; several
 * writers of one process (the ACME server's threads) queued behind each
 * other for milliseconds each. Tries every 100 us for the first 10 ms, then
 * every ms, up to BUSY_TIMEOUT_MS in all. */
static int
sq_busy(void *arg, int count)
{
	(void)arg;
	sq_busy_waits++;
	if (count < 100) {
		usleep(100);
		return 1;
	}
	if (count - 100 >= BUSY_TIMEOUT_MS)
		return 0;
	usleep(1000);
	return 1;
}

/* The schema in place: version 1 is migrated, a newer one refused. */
static int
sq_schema(sq *s, tg_err *err)
{
	sqlite3_stmt *st = NULL;
	char version[16] = "";
	int rc;

	if (exec(s, schema, err) != 0)
		return -1;
	if (sqlite3_prepare_v2(s->db, "SELECT value FROM meta WHERE key = 'schema_version'", -1,
		&st, NULL) != SQLITE_OK)
		return sq_fail(s, err, "prepare schema version");
	if ((rc = sqlite3_step(st)) == SQLITE_ROW)
		snprintf(version, sizeof(version), "%s", (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW)
		return sq_fail(s, err, "schema version");
	if (strcmp(version, "1") == 0)
		return exec(s, migrate_v1, err);
	if (strcmp(version, SCHEMA_VERSION) != 0)
		return tg_err_set(err, TG_ERR_CONFIG,
		    "inventory %s has schema version %s, which this tlsgate does not know; upgrade "
		    "tlsgate", s->path, version);
	return 0;
}

/* One file holds one CA, so the CA's name is not needed. */
static void *
sq_open(const char *location, const char *ca, tg_err *err)
{
	sq *s = calloc(1, sizeof(*s));

	if (s != NULL)
		s->lockfd = -1;
	if (s == NULL || (s->path = strdup(location)) == NULL ||
	    (s->ca = strdup(ca != NULL ? ca : "default")) == NULL) {
		if (s != NULL)
			free(s->path);
		free(s);
		tg_err_set(err, TG_ERR_INTERNAL, "out of memory");
		return NULL;
	}
	if (sqlite3_open_v2(location, &s->db,
		SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOFOLLOW, NULL) != SQLITE_OK) {
		tg_err_set(err, TG_ERR_IO, "cannot open inventory %s: %s", location,
		    s->db ? sqlite3_errmsg(s->db) : "out of memory");
		sq_close(s);
		return NULL;
	}
	sqlite3_busy_handler(s->db, sq_busy, NULL);
	/* WAL keeps readers off the writers' backs; synchronous=FULL makes every
	 * commit durable before tlsgate reports success. */
	if (exec(s, "PRAGMA journal_mode=WAL", err) != 0 ||
	    exec(s, "PRAGMA synchronous=FULL", err) != 0 ||
	    exec(s, "PRAGMA foreign_keys=ON", err) != 0) {
		sq_close(s);
		return NULL;
	}
	writer_take(s);
	if (exec(s, "BEGIN IMMEDIATE", err) != 0) {
		sq_close(s);
		return NULL;
	}
	if (sq_schema(s, err) != 0 || exec(s, "COMMIT", err) != 0) {
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
		sq_close(s);
		return NULL;
	}
	writer_drop(s);
	return s;
}

/* The writer lock that outlives a transaction: flock on PATH-lock, which
 * the kernel drops when the process ends, however it ends. Waits as long as
 * SQLite's busy timeout. */
static int
sq_flock(sq *s, tg_err *err)
{
	char path[PATH_MAX];
	int waited = 0, pause = 1;

	if (s->lockfd < 0) {
		if ((size_t)snprintf(path, sizeof(path), "%s-lock", s->path) >= sizeof(path))
			return tg_err_set(err, TG_ERR_USAGE, "inventory path too long: %s", s->path);
		/* Read-only is enough to flock, so any user who may write the
		 * inventory can take the lock, whoever made the file. */
		s->lockfd = open(path, O_RDONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
		if (s->lockfd < 0)
			return tg_err_set(err, TG_ERR_IO, "inventory %s: cannot open its lock file %s: %s",
			    s->path, path, strerror(errno));
	}
	while (flock(s->lockfd, LOCK_EX | LOCK_NB) != 0) {
		if (errno != EWOULDBLOCK && errno != EINTR)
			return tg_err_set(err, TG_ERR_IO, "inventory %s: cannot lock %s-lock: %s", s->path,
			    s->path, strerror(errno));
		if (waited >= BUSY_TIMEOUT_MS)
			return tg_err_set(err, TG_ERR_IO,
			    "inventory %s: another tlsgate process has been writing for %d s; retry when "
			    "it has finished", s->path, BUSY_TIMEOUT_MS / 1000);
		usleep((useconds_t)pause * 1000);
		waited += pause;
		pause = pause < 50 ? pause * 2 : 50;
	}
	return 0;
}

static void
sq_funlock(sq *s)
{
	if (s->lockfd >= 0)
		flock(s->lockfd, LOCK_UN);
}

static int
sq_lock(void *be, tg_err *err)
{
	sq *s = be;

	if (sq_flock(s, err) != 0)
		return -1;
	s->held = 1;
	return 0;
}

static void
sq_unlock(void *be)
{
	sq *s = be;

	s->held = 0;
	sq_funlock(s);
}

/* Every writer takes the flock before SQLite's own lock, so one that holds
 * it across transactions keeps the others out. */
static int
sq_begin(void *be, tg_err *err)
{
	sq *s = be;

	if (!s->held) {
		if (sq_flock(s, err) != 0)
			return -1;
		s->txn_lock = 1;
	}
	writer_take(s);
	if (exec(s, "BEGIN IMMEDIATE", err) != 0) {
		writer_drop(s);
		if (s->txn_lock)
			sq_funlock(s);
		s->txn_lock = 0;
		return -1;
	}
	return 0;
}

static void
sq_txn_done(sq *s)
{
	writer_drop(s);
	if (s->txn_lock)
		sq_funlock(s);
	s->txn_lock = 0;
}

static int
sq_commit(void *be, tg_err *err)
{
	sq *s = be;

	if (exec(s, "COMMIT", err) != 0)
		return -1; /* the caller rolls back, which drops the lock */
	sq_txn_done(s);
	return 0;
}

static void
sq_rollback(void *be)
{
	sq *s = be;
	sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	sq_txn_done(s);
}

static void
bind_text(sqlite3_stmt *st, int i, const char *v)
{
	if (v == NULL)
		sqlite3_bind_null(st, i);
	else
		sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
}

static int
sq_add(void *be, const store_cert *c, tg_err *err)
{
	sq *s = be;
	sqlite3_stmt *st = NULL;
	int rc;

	if (sqlite3_prepare_v2(s->db,
		"INSERT INTO certs (serial, subject, cn, sans, profile, not_before, not_after,"
		" fingerprint, pem, cert_path, key_path, status, created_at, writer)"
		" VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)", -1, &st, NULL) != SQLITE_OK)
		return sq_fail(s, err, "prepare insert");
	bind_text(st, 1, c->serial);
	bind_text(st, 2, c->subject ? c->subject : "");
	bind_text(st, 3, c->cn ? c->cn : "");
	bind_text(st, 4, c->sans ? c->sans : "");
	bind_text(st, 5, c->profile ? c->profile : "");
	sqlite3_bind_int64(st, 6, c->not_before);
	sqlite3_bind_int64(st, 7, c->not_after);
	bind_text(st, 8, c->fingerprint);
	bind_text(st, 9, c->pem ? c->pem : "");
	bind_text(st, 10, c->cert_path);
	bind_text(st, 11, c->key_path);
	bind_text(st, 12, store_add_status(c));
	sqlite3_bind_int64(st, 13, c->created_at ? c->created_at : (int64_t)time(NULL));
	bind_text(st, 14, c->writer);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc == SQLITE_CONSTRAINT)
		return tg_err_set(err, TG_ERR_EXISTS, "serial %s is already in the inventory", c->serial);
	if (rc != SQLITE_DONE)
		return sq_fail(s, err, "insert");
	return 0;
}

static char *
col_dup(sqlite3_stmt *st, int i)
{
	const unsigned char *v = sqlite3_column_text(st, i);
	return v ? strdup((const char *)v) : NULL;
}

#define SELECT_COLS "serial, subject, cn, sans, profile, not_before, not_after, fingerprint," \
	" pem, cert_path, key_path, status, revoked_at, reason, created_at, writer"

static void
row_to_cert(sqlite3_stmt *st, store_cert *c)
{
	const unsigned char *v;

	memset(c, 0, sizeof(*c));
	snprintf(c->serial, sizeof(c->serial), "%s", (const char *)sqlite3_column_text(st, 0));
	c->subject = col_dup(st, 1);
	c->cn = col_dup(st, 2);
	c->sans = col_dup(st, 3);
	c->profile = col_dup(st, 4);
	c->not_before = sqlite3_column_int64(st, 5);
	c->not_after = sqlite3_column_int64(st, 6);
	v = sqlite3_column_text(st, 7);
	snprintf(c->fingerprint, sizeof(c->fingerprint), "%s", v ? (const char *)v : "");
	c->pem = col_dup(st, 8);
	c->cert_path = col_dup(st, 9);
	c->key_path = col_dup(st, 10);
	v = sqlite3_column_text(st, 11);
	snprintf(c->status, sizeof(c->status), "%s", v ? (const char *)v : "");
	c->revoked_at = sqlite3_column_int64(st, 12);
	c->reason = sqlite3_column_type(st, 13) == SQLITE_NULL ? -1 : sqlite3_column_int(st, 13);
	c->created_at = sqlite3_column_int64(st, 14);
	c->writer = col_dup(st, 15);
}

static int
sq_get(void *be, const char *serial, store_cert *out, tg_err *err)
{
	sq *s = be;
	sqlite3_stmt *st = NULL;
	int rc;

	if (sqlite3_prepare_v2(s->db, "SELECT " SELECT_COLS " FROM certs WHERE serial = ?",
		-1, &st, NULL) != SQLITE_OK)
		return sq_fail(s, err, "prepare select");
	bind_text(st, 1, serial);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		row_to_cert(st, out);
		sqlite3_finalize(st);
		return 0;
	}
	sqlite3_finalize(st);
	if (rc == SQLITE_DONE)
		return tg_err_set(err, TG_ERR_USAGE,
		    "no certificate with serial %s in %s; list them with `tlsgate cert list`",
		    serial, s->path);
	return sq_fail(s, err, "select");
}

static int
sq_has_serial(void *be, const char *serial, tg_err *err)
{
	sq *s = be;
	sqlite3_stmt *st = NULL;
	int rc;

	if (sqlite3_prepare_v2(s->db, "SELECT 1 FROM certs WHERE serial = ?", -1, &st,
		NULL) != SQLITE_OK)
		return sq_fail(s, err, "prepare select");
	bind_text(st, 1, serial);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc == SQLITE_ROW)
		return 1;
	if (rc == SQLITE_DONE)
		return 0;
	return sq_fail(s, err, "select");
}

/* Runs an UPDATE: the number of rows it changed, or -1. */
static int
sq_update(sq *s, sqlite3_stmt *st, tg_err *err)
{
	int rc = sqlite3_step(st);

	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return sq_fail(s, err, "update");
	return sqlite3_changes(s->db);
}

static int
sq_revoke(void *be, const char *serial, int64_t when, int reason, tg_err *err)
{
	sq *s = be;
	sqlite3_stmt *st = NULL;
	store_cert c;
	int changed;

	if (sqlite3_prepare_v2(s->db,
		"UPDATE certs SET status = 'revoked', revoked_at = ?, reason = ?"
		" WHERE serial = ? AND status = 'valid'", -1, &st, NULL) != SQLITE_OK)
		return sq_fail(s, err, "prepare update");
	sqlite3_bind_int64(st, 1, when);
	sqlite3_bind_int(st, 2, reason);
	bind_text(st, 3, serial);
	if ((changed = sq_update(s, st, err)) != 0)
		return changed < 0 ? -1 : 0;
	if (sq_get(s, serial, &c, err) != 0)
		return -1;
	changed = store_not_revocable(&c, err);
	store_cert_clear(&c);
	return changed;
}

static int
sq_set_status(void *be, const char *serial, const char *from, const char *to, tg_err *err)
{
	sq *s = be;
	sqlite3_stmt *st = NULL;
	int changed;

	if (sqlite3_prepare_v2(s->db, "UPDATE certs SET status = ?3 WHERE serial = ?1 AND status = ?2",
		-1, &st, NULL) != SQLITE_OK)
		return sq_fail(s, err, "prepare update");
	bind_text(st, 1, serial);
	bind_text(st, 2, from);
	bind_text(st, 3, to);
	if ((changed = sq_update(s, st, err)) < 0)
		return -1;
	if (changed == 0)
		return tg_err_set(err, TG_ERR_USAGE, "certificate %s in %s is not %s", serial, s->path,
		    from);
	return 0;
}

void
store_sqlite_list_sql(const store_filter *f, store_where *w, char *sql, size_t len)
{
	store_filter_where(f, '?', 1, w);
	/* With no statistics SQLite takes an open range on not_after for a
	 * quarter of the table and walks it all in id order instead; the
	 * index is the better bet for "expiring within D". */
	snprintf(sql, len, "SELECT " SELECT_COLS " FROM certs%s WHERE 1%s ORDER BY id",
	    w->before_at != 0 && f->cn == NULL ? " INDEXED BY certs_not_after" : "", w->sql);
}

static int
sq_list(void *be, const store_filter *f, int (*fn)(const store_cert *c, void *arg),
    void *arg, tg_err *err)
{
	sq *s = be;
	sqlite3_stmt *st = NULL;
	store_where w;
	char sql[sizeof(w.sql) + 256];
	int rc;

	store_sqlite_list_sql(f, &w, sql, sizeof(sql));
	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
		return sq_fail(s, err, "prepare list");
	for (int i = 0; i < w.n; i++) {
		if (i + 1 == w.before_at)
			sqlite3_bind_int64(st, i + 1, f->expiring_before);
		else
			bind_text(st, i + 1, w.vals[i]);
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		store_cert c;
		int stop;
		row_to_cert(st, &c);
		stop = fn(&c, arg);
		store_cert_clear(&c);
		if (stop) {
			rc = SQLITE_DONE;
			break;
		}
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return sq_fail(s, err, "list");
	return 0;
}

/* The leaf series keeps the key it has always had. */
static void
crl_key(const char *series, char *key, size_t len)
{
	if (strcmp(series, "leaf") == 0)
		snprintf(key, len, "crl_number");
	else
		snprintf(key, len, "crl_number_%.40s", series);
}

static int
sq_next_crl_number(void *be, const char *series, uint64_t *out, tg_err *err)
{
	sq *s = be;
	sqlite3_stmt *st = NULL;
	char key[64];
	int rc;

	crl_key(series, key, sizeof(key));
	if (sqlite3_prepare_v2(s->db,
		"INSERT INTO meta(key, value) VALUES (?1, '1')"
		" ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1"
		" RETURNING CAST(value AS INTEGER)", -1, &st, NULL) != SQLITE_OK)
		return sq_fail(s, err, "prepare crl number");
	bind_text(st, 1, key);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*out = (uint64_t)sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW)
		return sq_fail(s, err, "crl number");
	return 0;
}

static int
sq_crl_numbers(void *be, int (*fn)(const char *series, uint64_t last, void *arg), void *arg,
    tg_err *err)
{
	sq *s = be;
	sqlite3_stmt *st = NULL;
	int rc;

	if (sqlite3_prepare_v2(s->db, "SELECT key, CAST(value AS INTEGER) FROM meta"
		" WHERE key = 'crl_number' OR key LIKE 'crl\\_number\\_%' ESCAPE '\\'"
		" ORDER BY key", -1, &st, NULL) != SQLITE_OK)
		return sq_fail(s, err, "prepare crl numbers");
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *key = (const char *)sqlite3_column_text(st, 0);
		uint64_t last = (uint64_t)sqlite3_column_int64(st, 1);
		if (last == 0)
			continue; /* the schema's placeholder: nothing handed out */
		if (fn(strcmp(key, "crl_number") == 0 ? "leaf" : key + 11, last, arg) != 0) {
			rc = SQLITE_DONE;
			break;
		}
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return sq_fail(s, err, "crl numbers");
	return 0;
}

static int
sq_crl_floor(void *be, const char *series, uint64_t last, tg_err *err)
{
	sq *s = be;
	sqlite3_stmt *st = NULL;
	char key[64];
	int rc;

	crl_key(series, key, sizeof(key));
	if (sqlite3_prepare_v2(s->db,
		"INSERT INTO meta(key, value) VALUES (?1, ?2)"
		" ON CONFLICT(key) DO UPDATE SET value = MAX(CAST(value AS INTEGER), ?2)",
		-1, &st, NULL) != SQLITE_OK)
		return sq_fail(s, err, "prepare crl floor");
	bind_text(st, 1, key);
	sqlite3_bind_int64(st, 2, (int64_t)last);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return sq_fail(s, err, "crl floor");
	return 0;
}

/* --- Tables of other modules --- */

static const char *
sq_ca_name(void *be)
{
	return ((sq *)be)->ca;
}

/* The statement for sql, prepared once; *cached = 0 when the cache is full
 * (the caller finalizes it after use). */
static sqlite3_stmt *
sq_cached(sq *s, const char *sql, int *cached, tg_err *err)
{
	sqlite3_stmt *st = NULL;

	*cached = 1;
	for (size_t i = 0; i < s->ncache; i++)
		if (s->cache[i].sql == sql)
			return s->cache[i].st;
	if (sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) != SQLITE_OK) {
		sq_fail(s, err, "prepare");
		return NULL;
	}
	if (s->ncache < STORE_SQL_CACHE) {
		s->cache[s->ncache].sql = sql;
		s->cache[s->ncache++].st = st;
	} else {
		*cached = 0;
	}
	return st;
}

#define SQ_COLS_MAX 32

/* Parameters are named $1..$n in the text; SQLite numbers named parameters
 * by first appearance, so each is looked up by its name. */
static int
sq_sql(void *be, const char *sql, const char *const *params, int nparams, store_row_fn fn,
    void *arg, long *changes, tg_err *err)
{
	sq *s = be;
	const char *vals[SQ_COLS_MAX];
	int rc, ncols, cached, alone;
	sqlite3_stmt *st = sq_cached(s, sql, &cached, err);

	if (st == NULL)
		return -1;
	/* A write in a transaction of its own queues like BEGIN does. */
	if ((alone = !s->mu_held && !sqlite3_stmt_readonly(st) && sqlite3_get_autocommit(s->db)))
		writer_take(s);
	for (int i = 0; i < nparams; i++) {
		char name[16];
		int idx;
		snprintf(name, sizeof(name), "$%d", i + 1);
		if ((idx = sqlite3_bind_parameter_index(st, name)) > 0)
			bind_text(st, idx, params[i]);
	}
	ncols = sqlite3_column_count(st);
	if (ncols > SQ_COLS_MAX)
		ncols = SQ_COLS_MAX;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		for (int i = 0; i < ncols; i++)
			vals[i] = (const char *)sqlite3_column_text(st, i);
		if (fn != NULL && fn(arg, ncols, vals) != 0) {
			rc = SQLITE_DONE;
			break;
		}
	}
	if (rc == SQLITE_DONE && changes != NULL)
		*changes = sqlite3_changes(s->db);
	if (rc == SQLITE_CONSTRAINT && sqlite3_extended_errcode(s->db) != SQLITE_CONSTRAINT_CHECK)
		tg_err_set(err, TG_ERR_EXISTS, "inventory %s: already recorded (%s)", s->path,
		    sqlite3_errmsg(s->db));
	else if (rc != SQLITE_DONE)
		sq_fail(s, err, "statement");
	sqlite3_reset(st);
	if (alone)
		writer_drop(s);
	sqlite3_clear_bindings(st);
	if (!cached)
		sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

static int
sq_sql_txn(void *be, int op, tg_err *err)
{
	sq *s = be;
	static const char *const sql[] = { "BEGIN IMMEDIATE", "COMMIT", "ROLLBACK" };

	int rc;

	if (op == STORE_TXN_ROLLBACK) {
		sqlite3_exec(s->db, sql[op], NULL, NULL, NULL);
		writer_drop(s);
		return 0;
	}
	if (op == STORE_TXN_BEGIN)
		writer_take(s);
	rc = exec(s, sql[op], err);
	/* A failed BEGIN, and a COMMIT that ended the transaction either way
	 * (a busy COMMIT leaves it open for the caller's ROLLBACK). */
	if (sqlite3_get_autocommit(s->db))
		writer_drop(s);
	return rc;
}

static int
sq_sql_relaxed(void *be, tg_err *err)
{
	return exec(be, "PRAGMA synchronous=NORMAL", err);
}

/* A module's schema version in the meta table (store_sql_schema_get). */
static const char schema_get[] = "SELECT value FROM meta WHERE key = $1";

static int
meta_value(void *arg, int ncols, const char *const *vals)
{
	snprintf(arg, 16, "%s", ncols > 0 && vals[0] != NULL ? vals[0] : "");
	return 1;
}

static int
sq_sql_schema(void *be, const char *key, const char *version, const char *ddl, tg_err *err)
{
	sq *s = be;
	const char *get = schema_get;
	static const char set[] = "INSERT INTO meta(key, value) VALUES ($1, $2)";
	const char *params[] = { key, version };
	char have[16] = "";

	writer_take(s);
	if (exec(s, "BEGIN IMMEDIATE", err) != 0) {
		writer_drop(s);
		return -1;
	}
	if (sq_sql(s, get, params, 1, meta_value, have, NULL, err) != 0)
		goto fail;
	if (have[0] == '\0' && (exec(s, ddl, err) != 0 ||
		sq_sql(s, set, params, 2, NULL, NULL, NULL, err) != 0))
		goto fail;
	if (have[0] != '\0' && strcmp(have, version) != 0) {
		tg_err_set(err, TG_ERR_CONFIG, "inventory %s has %s %s, which this tlsgate does not "
		    "know; upgrade tlsgate", s->path, key, have);
		goto fail;
	}
	if (exec(s, "COMMIT", err) != 0)
		goto fail;
	writer_drop(s);
	return 0;
fail:
	sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	writer_drop(s);
	return -1;
}

const struct store_ops store_sqlite_ops = {
	.scheme = "sqlite",
	.open = sq_open,
	.close = sq_close,
	.begin = sq_begin,
	.commit = sq_commit,
	.rollback = sq_rollback,
	.add = sq_add,
	.has_serial = sq_has_serial,
	.get = sq_get,
	.revoke = sq_revoke,
	.set_status = sq_set_status,
	.lock = sq_lock,
	.unlock = sq_unlock,
	.list = sq_list,
	.next_crl_number = sq_next_crl_number,
	.crl_numbers = sq_crl_numbers,
	.crl_floor = sq_crl_floor,
	.ca_name = sq_ca_name,
	.sql = sq_sql,
	.sql_txn = sq_sql_txn,
	.sql_relaxed = sq_sql_relaxed,
	.sql_schema = sq_sql_schema,
	.sql_schema_get = schema_get,
};
