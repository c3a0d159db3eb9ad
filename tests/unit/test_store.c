#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tlsgate/store.h"
#include "store/store_impl.h"

static char dir[] = "/tmp/tlsgate-store-XXXXXX";
static char dbpath[256];

static int
setup(void **state)
{
	(void)state;
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(dbpath, sizeof(dbpath), "%s/t.db", dir);
	return 0;
}

static int
teardown(void **state)
{
	char cmd[300];
	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static store_cert
cert(const char *serial, const char *cn, int64_t not_after)
{
	store_cert c;
	memset(&c, 0, sizeof(c));
	snprintf(c.serial, sizeof(c.serial), "%s", serial);
	c.cn = (char *)cn;
	c.subject = (char *)cn;
	c.profile = "client";
	c.not_after = not_after;
	snprintf(c.fingerprint, sizeof(c.fingerprint), "ff");
	c.pem = "PEM";
	return c;
}

static int
count(const store_cert *c, void *arg)
{
	(void)c;
	(*(int *)arg)++;
	return 0;
}

static void
test_add_get_revoke_list(void **state)
{
	tg_err err = { 0 };
	store *s;
	store_cert a = cert("0A", "alice", 1000), b = cert("0B", "bob", 5000), got;
	store_filter f = { 0 };
	int n = 0;

	(void)state;
	assert_non_null(s = store_open(dbpath, &err));
	assert_int_equal(store_begin(s, &err), 0);
	assert_int_equal(store_add(s, &a, &err), 0);
	assert_int_equal(store_add(s, &b, &err), 0);
	/* the same serial twice is refused */
	assert_int_equal(store_add(s, &a, &err), -1);
	assert_int_equal(err.cat, TG_ERR_EXISTS);
	assert_int_equal(store_commit(s, &err), 0);
	assert_int_equal(store_has_serial(s, "0A", &err), 1);
	assert_int_equal(store_has_serial(s, "0C", &err), 0);
	assert_int_equal(store_get(s, "0B", &got, &err), 0);
	assert_string_equal(got.cn, "bob");
	assert_string_equal(got.status, "valid");
	store_cert_clear(&got);
	assert_int_equal(store_get(s, "0C", &got, &err), -1);
	assert_non_null(strstr(err.msg, "cert list"));
	assert_int_equal(store_revoke(s, "0A", 42, 1, &err), 0);
	assert_int_equal(store_revoke(s, "0A", 43, 1, &err), -1);
	assert_non_null(strstr(err.msg, "already revoked"));
	assert_int_equal(store_revoke(s, "0D", 43, 1, &err), -1);
	f.revoked_only = 1;
	assert_int_equal(store_list(s, &f, count, &n, &err), 0);
	assert_int_equal(n, 1);
	memset(&f, 0, sizeof(f));
	f.expiring_before = 2000;
	n = 0;
	assert_int_equal(store_list(s, &f, count, &n, &err), 0);
	assert_int_equal(n, 1);
	store_close(s);
}

static void
test_rollback_forgets(void **state)
{
	tg_err err = { 0 };
	store *s;
	store_cert c = cert("1F", "carol", 1);
	uint64_t a, b;

	(void)state;
	assert_non_null(s = store_open(dbpath, &err));
	assert_int_equal(store_begin(s, &err), 0);
	assert_int_equal(store_add(s, &c, &err), 0);
	assert_int_equal(store_next_crl_number(s, "leaf", &a, &err), 0);
	store_rollback(s);
	assert_int_equal(store_has_serial(s, "1F", &err), 0);
	assert_int_equal(store_begin(s, &err), 0);
	assert_int_equal(store_next_crl_number(s, "leaf", &b, &err), 0);
	assert_int_equal(store_commit(s, &err), 0);
	assert_int_equal(a, b); /* the rolled-back number was not consumed */
	store_close(s);
}

/* Writers of one process, each thread on its own connection, in the three
 * shapes the code uses (store_begin's, store_sql_begin's and a write
 * outside any transaction), queue on the process's writer lock: every
 * write lands and none slept in SQLite's busy handler. */
#define WR_THREADS 4
#define WR_EACH 60

/* Opening and closing a connection take SQLite's file locks outside any
 * transaction and may still meet the busy handler: the writes are counted
 * between two barriers, every connection open before and none closed. */
static pthread_barrier_t wr_opened, wr_written;
static unsigned long wr_waits;

static void *
writer_thread(void *arg)
{
	int t = (int)(intptr_t)arg, bad = 0;
	tg_err err = { 0 };
	store *s = store_open(dbpath, &err);

	if (pthread_barrier_wait(&wr_opened) == PTHREAD_BARRIER_SERIAL_THREAD)
		wr_waits = store_sqlite_busy_waits();
	for (int i = 0; s != NULL && i < WR_EACH; i++) {
		char key[32], serial[32];
		const char *p[] = { key, "v" };
		snprintf(key, sizeof(key), "w%d-%d", t, i);
		snprintf(serial, sizeof(serial), "%02X%04X", t + 0x10, i);
		if (i % 3 == 0) {
			store_cert c = cert(serial, key, 1);
			if (store_begin(s, &err) != 0 || store_add(s, &c, &err) != 0 ||
			    store_commit(s, &err) != 0)
				bad++;
		} else if (i % 3 == 1) {
			if (store_sql_begin(s, &err) != 0 ||
			    store_sql(s, "INSERT INTO meta(key, value) VALUES ($1, $2)", p, 2, NULL, NULL,
				NULL, &err) != 0 || store_sql_commit(s, &err) != 0)
				bad++;
		} else if (store_sql(s, "INSERT INTO meta(key, value) VALUES ($1, $2)", p, 2, NULL,
			       NULL, NULL, &err) != 0)
			bad++;
		if (bad > 0) {
			fprintf(stderr, "writer %d, write %d: %s\n", t, i, err.msg);
			break;
		}
	}
	if (pthread_barrier_wait(&wr_written) == PTHREAD_BARRIER_SERIAL_THREAD)
		wr_waits = store_sqlite_busy_waits() - wr_waits;
	store_close(s);
	return (void *)(intptr_t)(s == NULL ? -1 : bad);
}

static int
count_row(void *arg, int ncols, const char *const *vals)
{
	(void)ncols;
	*(int *)arg = atoi(vals[0]);
	return 0;
}

static void
test_writers_queue(void **state)
{
	pthread_t th[WR_THREADS];
	tg_err err = { 0 };
	store *s;
	int metas = 0, certs = 0;

	(void)state;
	assert_non_null(s = store_open(dbpath, &err)); /* the schema, before the threads */
	store_close(s);
	assert_int_equal(pthread_barrier_init(&wr_opened, NULL, WR_THREADS), 0);
	assert_int_equal(pthread_barrier_init(&wr_written, NULL, WR_THREADS), 0);
	for (int t = 0; t < WR_THREADS; t++)
		assert_int_equal(pthread_create(&th[t], NULL, writer_thread, (void *)(intptr_t)t), 0);
	for (int t = 0; t < WR_THREADS; t++) {
		void *bad;
		assert_int_equal(pthread_join(th[t], &bad), 0);
		assert_int_equal((intptr_t)bad, 0);
	}
	pthread_barrier_destroy(&wr_opened);
	pthread_barrier_destroy(&wr_written);
	assert_int_equal(wr_waits, 0);
	assert_non_null(s = store_open(dbpath, &err));
	assert_int_equal(store_sql(s, "SELECT count(*) FROM meta WHERE key LIKE 'w%'", NULL, 0,
			     count_row, &metas, NULL, &err), 0);
	assert_int_equal(store_sql(s, "SELECT count(*) FROM certs WHERE cn LIKE 'w%'", NULL, 0,
			     count_row, &certs, NULL, &err), 0);
	store_close(s);
	assert_int_equal(metas, WR_THREADS * (WR_EACH - WR_EACH / 3));
	assert_int_equal(certs, WR_THREADS * (WR_EACH / 3));
}

static void
test_not_a_database(void **state)
{
	char path[300];
	FILE *fp;
	tg_err err = { 0 };
	store *s;

	(void)state;
	snprintf(path, sizeof(path), "%s/junk.db", dir);
	fp = fopen(path, "w");
	fputs("this is not sqlite, just a text file that is long enough to matter\n", fp);
	fclose(fp);
	s = store_open(path, &err);
	assert_null(s);
	assert_non_null(strstr(err.msg, path));
	assert_int_equal(store_open("mongodb://x/y", &err) == NULL, 1);
	assert_non_null(strstr(err.msg, "unknown store"));
}

/* Store URLs are checked before anything is written: known scheme, libpq
 * syntax, and never a password. */
static void
test_check_url(void **state)
{
	static const struct {
		const char *url;
		const char *refusal; /* NULL: accepted */
	} cases[] = {
		{ "sqlite:/var/lib/tlsgate/ca.db", NULL },
		{ "/var/lib/tlsgate/ca.db", NULL },
		{ "postgresql://tlsgate@db.example:5432/pki?sslmode=verify-full", NULL },
		{ "postgres://tlsgate@db.example/pki", NULL },
		{ "postgres:host=/run/postgresql dbname=pki", NULL },
		{ "postgresql://tlsgate:s3cret@db.example/pki", "holds a password" },
		{ "postgres:host=db dbname=pki password=s3cret", "holds a password" },
		{ "postgresql://db.example/pki?password=s3cret", "holds a password" },
		{ "postgres:host=db dbname=pki bogus=1", "not a PostgreSQL connection URL" },
		{ "mongodb://db/x", "unknown store" },
		{ "postgres:", "empty store location" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		tg_err err = { 0 };
		int rc = store_check_url(cases[i].url, &err);
		if (cases[i].refusal == NULL) {
			assert_int_equal(rc, 0);
			continue;
		}
		assert_int_equal(rc, -1);
		assert_int_equal(err.cat, TG_ERR_USAGE);
		assert_non_null(strstr(err.msg, cases[i].refusal));
		/* the secret never reaches a message */
		assert_null(strstr(err.msg, "s3cret"));
	}
}

/* Nothing listens on port 1: the refusal names the server and the fix. */
static void
test_pg_unreachable(void **state)
{
	tg_err err = { 0 };

	(void)state;
	assert_null(store_open_ca("postgresql://tlsgate@127.0.0.1:1/pki", "x", &err));
	assert_int_equal(err.cat, TG_ERR_IO);
	assert_non_null(strstr(err.msg, "PostgreSQL at 127.0.0.1:1, database pki"));
	assert_non_null(strstr(err.msg, "start the server"));
}

/* store_copy between two SQLite files: rows with their status, CRL series,
 * a second run that changes nothing, and a clashing serial that stops the
 * copy and leaves the target as it was. */
static void
test_copy(void **state)
{
	char a[300], b[300];
	store *from, *to;
	store_cert c1 = cert("0A", "one", 100), c2 = cert("0B", "two", 200), got = { 0 };
	store_copy_stats st;
	uint64_t n = 0;
	tg_err err = { 0 };
	int rows = 0;

	(void)state;
	snprintf(a, sizeof(a), "sqlite:%s/from.db", dir);
	snprintf(b, sizeof(b), "sqlite:%s/to.db", dir);
	assert_non_null(from = store_open(a, &err));
	assert_non_null(to = store_open(b, &err));
	snprintf(c2.fingerprint, sizeof(c2.fingerprint), "ee");
	c1.created_at = 42;
	assert_int_equal(store_begin(from, &err), 0);
	assert_int_equal(store_add(from, &c1, &err), 0);
	assert_int_equal(store_add(from, &c2, &err), 0);
	assert_int_equal(store_revoke(from, "0B", 1234, 1, &err), 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(store_next_crl_number(from, "leaf", &n, &err), 0);
	assert_int_equal(store_next_crl_number(from, "root", &n, &err), 0);
	assert_int_equal(store_commit(from, &err), 0);

	assert_int_equal(store_copy(from, to, NULL, 0, &st, &err), 0);
	assert_int_equal(st.certs, 2);
	assert_int_equal(st.revoked, 1);
	assert_int_equal(st.already, 0);
	assert_int_equal(st.crl_series, 2);
	assert_int_equal(st.leaf_crl, 3);
	assert_int_equal(store_get(to, "0B", &got, &err), 0);
	assert_string_equal(got.status, "revoked");
	assert_int_equal(got.revoked_at, 1234);
	assert_int_equal(got.reason, 1);
	store_cert_clear(&got);
	assert_int_equal(store_get(to, "0A", &got, &err), 0);
	assert_int_equal(got.created_at, 42);
	store_cert_clear(&got);
	/* The series continue where they were. */
	assert_int_equal(store_begin(to, &err), 0);
	assert_int_equal(store_next_crl_number(to, "leaf", &n, &err), 0);
	assert_int_equal(n, 4);
	assert_int_equal(store_next_crl_number(to, "root", &n, &err), 0);
	assert_int_equal(n, 2);
	store_rollback(to);

	/* Again: nothing new. */
	assert_int_equal(store_copy(from, to, NULL, 0, &st, &err), 0);
	assert_int_equal(st.certs, 0);
	assert_int_equal(st.already, 2);

	/* A serial in the target for another certificate: refused, rolled back. */
	store_close(to);
	snprintf(b, sizeof(b), "sqlite:%s/clash.db", dir);
	assert_non_null(to = store_open(b, &err));
	c1.fingerprint[0] = 'a';
	assert_int_equal(store_begin(to, &err), 0);
	assert_int_equal(store_add(to, &c1, &err), 0);
	assert_int_equal(store_commit(to, &err), 0);
	assert_int_equal(store_copy(from, to, NULL, 0, &st, &err), -1);
	assert_int_equal(err.cat, TG_ERR_EXISTS);
	assert_non_null(strstr(err.msg, "serial 0A is already in the target inventory"));
	assert_int_equal(store_list(to, NULL, count, &rows, &err), 0);
	assert_int_equal(rows, 1);
	store_close(to);
	store_close(from);
}

/* A certificate's life: pending, then valid or void; filters by status;
 * a void one cannot be revoked, and says why. */
static void
test_pending_void(void **state)
{
	tg_err err = { 0 };
	store *s;
	store_cert a = cert("1A", "a", 1000), b = cert("1B", "b", 1000), got;
	store_filter f = { .status = STORE_PENDING };
	int n = 0;

	(void)state;
	snprintf(a.status, sizeof(a.status), STORE_PENDING);
	snprintf(b.status, sizeof(b.status), STORE_PENDING);
	a.writer = "host:42";
	assert_non_null(s = store_open(dbpath, &err));
	assert_int_equal(store_begin(s, &err), 0);
	assert_int_equal(store_add(s, &a, &err), 0);
	assert_int_equal(store_add(s, &b, &err), 0);
	assert_int_equal(store_commit(s, &err), 0);
	assert_int_equal(store_list(s, &f, count, &n, &err), 0);
	assert_int_equal(n, 2);
	assert_int_equal(store_get(s, "1A", &got, &err), 0);
	assert_string_equal(got.status, STORE_PENDING);
	assert_string_equal(got.writer, "host:42");
	store_cert_clear(&got);

	assert_int_equal(store_begin(s, &err), 0);
	assert_int_equal(store_set_status(s, "1A", STORE_PENDING, STORE_VALID, &err), 0);
	assert_int_equal(store_set_status(s, "1B", STORE_PENDING, STORE_VOID, &err), 0);
	/* only from the status named */
	assert_int_equal(store_set_status(s, "1B", STORE_PENDING, STORE_VALID, &err), -1);
	assert_non_null(strstr(err.msg, "is not pending"));
	assert_int_equal(store_commit(s, &err), 0);
	n = 0;
	assert_int_equal(store_list(s, &f, count, &n, &err), 0);
	assert_int_equal(n, 0);
	assert_int_equal(store_revoke(s, "1B", 1, 0, &err), -1);
	assert_non_null(strstr(err.msg, "never handed out"));
	assert_int_equal(store_revoke(s, "1A", 1, 0, &err), 0);
	store_close(s);
}

/* The writer lock asks for the pending rows before every issue: an
 * inventory gets the status index that answers it without reading every
 * row, also one made before the index existed (added on open). */
static int
has_status_index(const char *path)
{
	sqlite3 *db;
	sqlite3_stmt *st = NULL;
	int found;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT 1 FROM sqlite_master WHERE type = 'index'"
	    " AND tbl_name = 'certs' AND sql LIKE '%(status)%'", -1, &st, NULL), SQLITE_OK);
	found = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_finalize(st);
	sqlite3_close(db);
	return found;
}

static void
test_status_index(void **state)
{
	tg_err err = { 0 };
	store *s;
	sqlite3 *db;
	char path[300];

	(void)state;
	snprintf(path, sizeof(path), "%s/status.db", dir);
	assert_non_null(s = store_open(path, &err));
	store_close(s);
	assert_true(has_status_index(path));
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "DROP INDEX certs_status", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_false(has_status_index(path));
	assert_non_null(s = store_open(path, &err));
	store_close(s);
	assert_true(has_status_index(path));
}

/* The plan SQLite makes for the list sq_list runs for f: through an index
 * for every narrow question. The old shape, conditions switched off by
 * parameters ("?1 = 0 OR ..."), is planned as a scan of every row, which
 * this check tells apart. */
static int
plan_uses_index(sqlite3 *db, const char *query)
{
	char sql[1024], plan[512] = "";
	sqlite3_stmt *st = NULL;
	size_t off = 0;

	snprintf(sql, sizeof(sql), "EXPLAIN QUERY PLAN %s", query);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	while (sqlite3_step(st) == SQLITE_ROW)
		off += (size_t)snprintf(plan + off, sizeof(plan) - off, "%s; ",
		    (const char *)sqlite3_column_text(st, 3));
	sqlite3_finalize(st);
	print_message("%s\n  -> %s\n", strstr(query, "FROM"), plan);
	return strstr(plan, "USING INDEX") != NULL;
}

static int
list_uses_index(sqlite3 *db, const store_filter *f)
{
	store_where w;
	char sql[600];

	store_sqlite_list_sql(f, &w, sql, sizeof(sql));
	return plan_uses_index(db, sql);
}

static void
test_list_plans(void **state)
{
	const store_filter narrow[] = {
		{ .revoked_only = 1 }, { .expiring_before = 1000 }, { .cn = "alice" },
		{ .status = STORE_PENDING }, { .status = "other" }, { .revoked_only = 1, .cn = "bob" },
	};
	store_filter all = { 0 };
	store_where w;
	tg_err err = { 0 };
	char path[300];
	sqlite3 *db;
	store *s;

	(void)state;
	snprintf(path, sizeof(path), "%s/plans.db", dir);
	assert_non_null(s = store_open(path, &err));
	store_close(s);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	for (size_t i = 0; i < sizeof(narrow) / sizeof(narrow[0]); i++)
		assert_true(list_uses_index(db, &narrow[i]));
	/* The placeholders are numbered in order, values alongside. */
	store_filter_where(&(store_filter){ .expiring_before = 5, .cn = "c", .status = "odd" }, '$', 2,
	    &w);
	assert_string_equal(w.sql, " AND not_after < $2 AND cn = $3 AND status = $4");
	assert_int_equal(w.n, 3);
	assert_int_equal(w.before_at, 1);
	assert_string_equal(w.vals[0], "5");
	assert_string_equal(w.vals[1], "c");
	assert_string_equal(w.vals[2], "odd");
	store_filter_where(&all, '?', 1, &w);
	assert_string_equal(w.sql, "");
	assert_false(list_uses_index(db, &all));
	assert_false(plan_uses_index(db, "SELECT * FROM certs WHERE (?1 = 0 OR status = 'revoked')"
	    " AND (?2 IS NULL OR cn = ?2) ORDER BY id"));
	sqlite3_close(db);
}

/* An inventory of schema version 1 (statuses valid and revoked only) is
 * migrated on open, rows kept, and then takes the new statuses. */
static void
test_migrate_v1(void **state)
{
	static const char v1[] =
	    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
	    "CREATE TABLE certs (id INTEGER PRIMARY KEY, serial TEXT NOT NULL UNIQUE,"
	    " subject TEXT NOT NULL, cn TEXT NOT NULL, sans TEXT NOT NULL, profile TEXT NOT NULL,"
	    " not_before INTEGER NOT NULL, not_after INTEGER NOT NULL, fingerprint TEXT NOT NULL,"
	    " pem TEXT NOT NULL, cert_path TEXT, key_path TEXT, status TEXT NOT NULL DEFAULT"
	    " 'valid' CHECK (status IN ('valid','revoked')), revoked_at INTEGER, reason INTEGER,"
	    " created_at INTEGER NOT NULL);"
	    "INSERT INTO meta VALUES ('schema_version', '1'), ('crl_number', '7');"
	    "INSERT INTO certs (serial, subject, cn, sans, profile, not_before, not_after,"
	    " fingerprint, pem, status, revoked_at, reason, created_at) VALUES"
	    " ('0A', 's', 'old', '', 'server', 1, 2, 'ff', 'PEM', 'revoked', 5, 1, 3);";
	char path[300];
	sqlite3 *db;
	tg_err err = { 0 };
	store *s;
	store_cert c = cert("0B", "new", 1000), got;
	uint64_t n;

	(void)state;
	snprintf(path, sizeof(path), "%s/v1.db", dir);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, v1, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_non_null(s = store_open(path, &err));
	assert_int_equal(store_get(s, "0A", &got, &err), 0);
	assert_string_equal(got.status, "revoked");
	assert_int_equal(got.revoked_at, 5);
	store_cert_clear(&got);
	snprintf(c.status, sizeof(c.status), STORE_PENDING);
	assert_int_equal(store_begin(s, &err), 0);
	assert_int_equal(store_add(s, &c, &err), 0);
	assert_int_equal(store_next_crl_number(s, "leaf", &n, &err), 0);
	assert_int_equal(n, 8);
	assert_int_equal(store_commit(s, &err), 0);
	store_close(s);
	/* opened again: already version 2, nothing to do */
	assert_non_null(s = store_open(path, &err));
	assert_int_equal(store_has_serial(s, "0B", &err), 1);
	store_close(s);
}

/* store_lock keeps another writer's begin waiting until store_unlock, even
 * across transactions of the holder. */
static void
test_lock_spans_transactions(void **state)
{
	tg_err err = { 0 };
	store *s;
	pid_t child;
	int st;

	(void)state;
	assert_non_null(s = store_open(dbpath, &err));
	assert_int_equal(store_lock(s, &err), 0);
	assert_int_equal(store_begin(s, &err), 0);
	assert_int_equal(store_commit(s, &err), 0);
	child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		store *other = store_open(dbpath, &err);
		int rc = other != NULL && store_begin(other, &err) == 0 &&
		    store_commit(other, &err) == 0;
		_exit(rc ? 0 : 1);
	}
	/* still locked out after a while; the holder still writes */
	usleep(300 * 1000);
	assert_int_equal(waitpid(child, &st, WNOHANG), 0);
	assert_int_equal(store_begin(s, &err), 0);
	assert_int_equal(store_commit(s, &err), 0);
	store_unlock(s);
	assert_int_equal(waitpid(child, &st, 0), child);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	store_close(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_add_get_revoke_list),
		cmocka_unit_test(test_copy),
		cmocka_unit_test(test_rollback_forgets),
		cmocka_unit_test(test_writers_queue),
		cmocka_unit_test(test_not_a_database),
		cmocka_unit_test(test_check_url),
		cmocka_unit_test(test_pg_unreachable),
		cmocka_unit_test(test_pending_void),
		cmocka_unit_test(test_migrate_v1),
		cmocka_unit_test(test_status_index),
		cmocka_unit_test(test_list_plans),
		cmocka_unit_test(test_lock_spans_transactions),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
