/* The shared store: PostgreSQL through libpq, for CAs whose inventory must
 * outlive one machine or be shared by several. Same semantics as the SQLite
 * backend: one table of certificates, writers serialised by begin, serials
 * unique per CA, CRL numbers per series. Several CAs may share one database:
 * every row carries the CA's name (the SHA-256 of its root public key) and
 * every statement is scoped to it. Values only ever travel as parameters of
 * prepared statements. */
#include <ctype.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store_impl.h"

#define PG_DEFAULT_CA "default"
#define PG_CONNECT_TIMEOUT "10"
/* The first key of tlsgate's two-key advisory locks ("tlsg"); the second is
 * the CA's hash, or 0 for the schema. Two-key locks never meet the one-key
 * (bigint) locks other applications of the same database may take. */
#define PG_LOCK_CLASS "1953264487"
#define PG_WHERE_MAX 512

typedef struct {
	PGconn *conn;
	char *ca;
	char lock_key[16];        /* the CA's advisory lock, as a decimal int4 */
	char where[PG_WHERE_MAX]; /* "PostgreSQL at HOST:PORT, database DB" */
	unsigned prepared;        /* bit per statement prepared on this connection */
	int held;                 /* the session-level writer lock (store_lock) */
	const char *cache[STORE_SQL_CACHE]; /* store_sql's statements, prepared as tgs_N */
	size_t ncache;
} pg;

#define PG_SCHEMA_VERSION "2"

static const char schema_version[] =
	"SELECT value FROM tlsgate_meta WHERE key = 'schema_version'";

/* Lock, schema and version check in one round trip. The advisory lock keeps
 * concurrent first opens from racing on CREATE TABLE (which is not safe
 * under concurrency even with IF NOT EXISTS). */
static const char schema[] =
	"BEGIN;"
	"SELECT pg_advisory_xact_lock(" PG_LOCK_CLASS ", 0);"
	"CREATE TABLE IF NOT EXISTS tlsgate_meta ("
	"  key TEXT PRIMARY KEY, value TEXT NOT NULL);"
	"CREATE TABLE IF NOT EXISTS tlsgate_certs ("
	"  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
	"  ca TEXT NOT NULL,"
	"  serial TEXT NOT NULL,"
	"  subject TEXT NOT NULL,"
	"  cn TEXT NOT NULL,"
	"  sans TEXT NOT NULL,"
	"  profile TEXT NOT NULL,"
	"  not_before BIGINT NOT NULL,"
	"  not_after BIGINT NOT NULL,"
	"  fingerprint TEXT NOT NULL,"
	"  pem TEXT NOT NULL,"
	"  cert_path TEXT,"
	"  key_path TEXT,"
	"  status TEXT NOT NULL DEFAULT 'valid'"
	"    CONSTRAINT tlsgate_certs_status_check"
	"    CHECK (status IN ('pending','valid','revoked','void')),"
	"  revoked_at BIGINT,"
	"  reason INTEGER,"
	"  created_at BIGINT NOT NULL,"
	"  writer TEXT,"
	"  UNIQUE (ca, serial));"
	"CREATE INDEX IF NOT EXISTS tlsgate_certs_cn ON tlsgate_certs(ca, cn);"
	"CREATE INDEX IF NOT EXISTS tlsgate_certs_not_after ON tlsgate_certs(ca, not_after);"
	"CREATE INDEX IF NOT EXISTS tlsgate_certs_status ON tlsgate_certs(ca, status);"
	"CREATE TABLE IF NOT EXISTS tlsgate_crl_numbers ("
	"  ca TEXT NOT NULL, series TEXT NOT NULL, number BIGINT NOT NULL,"
	"  PRIMARY KEY (ca, series));"
	"INSERT INTO tlsgate_meta(key, value) VALUES ('schema_version', '" PG_SCHEMA_VERSION "')"
	"  ON CONFLICT (key) DO NOTHING;"
	"COMMIT;"
	"SELECT value FROM tlsgate_meta WHERE key = 'schema_version'";

/* Version 1 to 2: the statuses "pending" and "void" and the writer column,
 * under the schema lock, re-checked inside it (another tlsgate may have
 * migrated meanwhile). Needs the table owner's rights, once. */
static const char migrate_v1[] =
	"BEGIN;"
	"SELECT pg_advisory_xact_lock(" PG_LOCK_CLASS ", 0);"
	"DO $$ BEGIN"
	"  IF (SELECT value FROM tlsgate_meta WHERE key = 'schema_version') = '1' THEN"
	"    ALTER TABLE tlsgate_certs DROP CONSTRAINT IF EXISTS tlsgate_certs_status_check,"
	"      ADD CONSTRAINT tlsgate_certs_status_check"
	"      CHECK (status IN ('pending','valid','revoked','void')),"
	"      ADD COLUMN IF NOT EXISTS writer TEXT;"
	"    UPDATE tlsgate_meta SET value = '" PG_SCHEMA_VERSION "' WHERE key = 'schema_version';"
	"  END IF;"
	"END $$;"
	"COMMIT;"
	"SELECT value FROM tlsgate_meta WHERE key = 'schema_version'";

#define SELECT_COLS "serial, subject, cn, sans, profile, not_before, not_after, fingerprint," \
	" pem, cert_path, key_path, status, revoked_at, reason, created_at, writer"

enum { ST_LOCK, ST_ADD, ST_HAS, ST_GET, ST_REVOKE, ST_CRL, ST_CRL_LIST,
	ST_CRL_FLOOR, ST_STATUS, ST_HOLD, ST_UNHOLD, ST_COUNT };

static const struct {
	const char *name;
	const char *sql;
} stmts[ST_COUNT] = {
	[ST_LOCK] = { "tg_lock", "SELECT pg_advisory_xact_lock(" PG_LOCK_CLASS ", $1::integer)" },
	/* ON CONFLICT keeps the transaction usable after a duplicate serial, as
	 * SQLite does: the caller draws again within the same transaction. */
	[ST_ADD] = { "tg_add",
	    "INSERT INTO tlsgate_certs (ca, serial, subject, cn, sans, profile, not_before,"
	    " not_after, fingerprint, pem, cert_path, key_path, status, created_at, writer)"
	    " VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$14,$13,$15)"
	    " ON CONFLICT (ca, serial) DO NOTHING" },
	[ST_HAS] = { "tg_has", "SELECT 1 FROM tlsgate_certs WHERE ca = $1 AND serial = $2" },
	[ST_GET] = { "tg_get",
	    "SELECT " SELECT_COLS " FROM tlsgate_certs WHERE ca = $1 AND serial = $2" },
	[ST_REVOKE] = { "tg_revoke",
	    "UPDATE tlsgate_certs SET status = 'revoked', revoked_at = $3, reason = $4"
	    " WHERE ca = $1 AND serial = $2 AND status = 'valid'" },
	[ST_CRL] = { "tg_crl",
	    "INSERT INTO tlsgate_crl_numbers (ca, series, number) VALUES ($1, $2, 1)"
	    " ON CONFLICT (ca, series) DO UPDATE SET number = tlsgate_crl_numbers.number + 1"
	    " RETURNING number" },
	[ST_CRL_LIST] = { "tg_crl_list",
	    "SELECT series, number FROM tlsgate_crl_numbers WHERE ca = $1 ORDER BY series" },
	[ST_CRL_FLOOR] = { "tg_crl_floor",
	    "INSERT INTO tlsgate_crl_numbers (ca, series, number) VALUES ($1, $2, $3::bigint)"
	    " ON CONFLICT (ca, series) DO UPDATE"
	    " SET number = GREATEST(tlsgate_crl_numbers.number, $3::bigint)" },
	[ST_STATUS] = { "tg_status",
	    "UPDATE tlsgate_certs SET status = $4 WHERE ca = $1 AND serial = $2 AND status = $3" },
	/* Session-level: held across transactions, dropped with the connection
	 * when the process dies. The transaction lock in begin is the same key,
	 * which a session holding it takes again at once. */
	[ST_HOLD] = { "tg_hold", "SELECT pg_advisory_lock(" PG_LOCK_CLASS ", $1::integer)" },
	[ST_UNHOLD] = { "tg_unhold", "SELECT pg_advisory_unlock(" PG_LOCK_CLASS ", $1::integer)" },
};

/* libpq's messages end in a newline and may span indented lines; ours are
 * one line, so whitespace runs become one space. */
static void
one_line(char *dst, size_t len, const char *src)
{
	size_t n = 0;

	for (; src != NULL && *src != '\0' && n + 1 < len; src++) {
		int blank = isspace((unsigned char)*src);
		if (blank && (n == 0 || dst[n - 1] == ' '))
			continue;
		dst[n++] = blank ? ' ' : *src;
	}
	while (n > 0 && dst[n - 1] == ' ')
		n--;
	dst[n] = '\0';
}

static int
pg_fail(pg *p, const PGresult *res, const char *what, tg_err *err)
{
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	char msg[1024];

	one_line(msg, sizeof(msg), res ? PQresultErrorMessage(res) : PQerrorMessage(p->conn));
	if (msg[0] == '\0')
		one_line(msg, sizeof(msg), PQerrorMessage(p->conn));
	if (PQstatus(p->conn) == CONNECTION_BAD)
		return tg_err_set(err, TG_ERR_IO,
		    "lost the connection to %s (%s); check that the server is running and retry",
		    p->where, msg);
	/* SQLSTATE 53100: disk_full. */
	if (state != NULL && strcmp(state, "53100") == 0)
		return tg_err_set(err, TG_ERR_IO,
		    "inventory on %s: the database server is out of disk space (SQLSTATE 53100, "
		    "disk full: %s); free space on the server's data or tablespace file system "
		    "and retry", p->where, msg);
	if (state != NULL && strcmp(state, "42501") == 0)
		return tg_err_set(err, TG_ERR_CONFIG,
		    "inventory on %s: %s; the database user needs CREATE on the database's schema "
		    "(first use) and SELECT, INSERT, UPDATE on the tlsgate_* tables", p->where, msg);
	return tg_err_set(err, TG_ERR_IO, "inventory on %s: %s: %s", p->where, what, msg);
}

static void
pg_describe(pg *p)
{
	const char *host = PQhost(p->conn), *port = PQport(p->conn), *db = PQdb(p->conn);

	if (host == NULL || *host == '\0')
		host = "localhost";
	if (port == NULL || *port == '\0')
		port = "5432";
	if (db == NULL || *db == '\0')
		db = "?";
	snprintf(p->where, sizeof(p->where), "PostgreSQL at %.200s%s%.8s, database %.100s", host,
	    host[0] == '/' ? "/.s.PGSQL." : ":", port, db);
}

static int
contains(const char *haystack, const char *needle)
{
	return strstr(haystack, needle) != NULL;
}

/* Turns libpq's connection failure into what to do about it. libpq gives no
 * error code before a session exists, so the message text decides. */
static int
connect_fail(pg *p, tg_err *err)
{
	char msg[1024];
	const char *user = PQuser(p->conn), *db = PQdb(p->conn);

	one_line(msg, sizeof(msg), PQerrorMessage(p->conn));
	if (contains(msg, "password authentication failed") || contains(msg, "no password supplied") ||
	    contains(msg, "authentication failed") || contains(msg, "pg_hba.conf"))
		return tg_err_set(err, TG_ERR_CONFIG,
		    "%s refused user %s (%s); put the password in ~/.pgpass (HOST:PORT:DB:USER:PASSWORD, "
		    "mode 0600) or PGPASSWORD, or let the user in through the server's pg_hba.conf",
		    p->where, user ? user : "?", msg);
	if (contains(msg, "database \"") && contains(msg, "does not exist"))
		return tg_err_set(err, TG_ERR_CONFIG,
		    "%s has no database %s (%s); create it first, e.g. `createdb -h HOST -p PORT -O %s %s`",
		    p->where, db ? db : "?", msg, user ? user : "USER", db ? db : "DB");
	if (contains(msg, "role \"") && contains(msg, "does not exist"))
		return tg_err_set(err, TG_ERR_CONFIG,
		    "%s has no user %s (%s); create it first, e.g. `createuser -h HOST -p PORT %s`",
		    p->where, user ? user : "?", msg, user ? user : "USER");
	if (contains(msg, "Connection refused") || contains(msg, "No such file or directory") ||
	    contains(msg, "timeout expired") || contains(msg, "could not translate host name") ||
	    contains(msg, "No route to host") || contains(msg, "Network is unreachable"))
		return tg_err_set(err, TG_ERR_IO,
		    "cannot reach %s (%s); start the server, or fix the host and port in the store URL",
		    p->where, msg);
	return tg_err_set(err, TG_ERR_IO, "cannot connect to %s: %s", p->where, msg);
}

/* Notices such as "relation already exists, skipping" are not for users. */
static void
pg_quiet(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

/* A URL keeps its scheme for libpq; "postgres:k=v ..." is a conninfo. */
static char *
conninfo_of(const char *location)
{
	size_t n = strlen(location) + sizeof("postgresql:");
	char *s = malloc(n);

	if (s == NULL)
		return NULL;
	if (strncmp(location, "//", 2) == 0)
		snprintf(s, n, "postgresql:%s", location);
	else
		snprintf(s, n, "%s", location);
	return s;
}

/* Parses the location as libpq will, so a typo gets a message about the URL
 * rather than about a server that was never tried. */
static PQconninfoOption *
pg_parse(const char *location, tg_err *err)
{
	char *conninfo = conninfo_of(location), *why = NULL;
	PQconninfoOption *opts;
	char msg[512];

	if (conninfo == NULL) {
		tg_err_set(err, TG_ERR_INTERNAL, "out of memory");
		return NULL;
	}
	if ((opts = PQconninfoParse(conninfo, &why)) == NULL) {
		one_line(msg, sizeof(msg), why ? why : "out of memory");
		tg_err_set(err, TG_ERR_USAGE,
		    "the store URL is not a PostgreSQL connection URL (%s); write "
		    "postgresql://USER@HOST:PORT/DB?sslmode=verify-full or postgres:host=H dbname=D",
		    msg);
	}
	PQfreemem(why);
	free(conninfo);
	return opts;
}

static PGconn *
pg_connect(const char *conninfo)
{
	/* Defaults come first so the URL overrides them; the environment wins
	 * over a default only when we leave the keyword out. */
	const char *keys[4], *vals[4];
	int n = 0;

	keys[n] = "fallback_application_name";
	vals[n++] = "tlsgate";
	if (getenv("PGCONNECT_TIMEOUT") == NULL) {
		keys[n] = "connect_timeout";
		vals[n++] = PG_CONNECT_TIMEOUT;
	}
	keys[n] = "dbname";
	vals[n++] = conninfo;
	keys[n] = NULL;
	vals[n] = NULL;
	return PQconnectdbParams(keys, vals, 1);
}

static void
pg_close(void *be)
{
	pg *p = be;

	if (p == NULL)
		return;
	PQfinish(p->conn);
	free(p->ca);
	free(p);
}

/* FNV-1a: a stable 32-bit lock key per CA name (a collision only makes two
 * CAs queue behind each other). */
static void
lock_key_of(const char *ca, char out[16])
{
	uint32_t h = 2166136261u;

	for (const unsigned char *c = (const unsigned char *)ca; *c; c++)
		h = (h ^ *c) * 16777619u;
	snprintf(out, 16, "%" PRId32, (int32_t)h);
}

/* Most opens find the tables made: one read, no lock, and no CREATE right
 * needed (an administrator may create the tables and grant the tlsgate user
 * only SELECT, INSERT and UPDATE). Only a missing table runs the DDL. */
static int
pg_schema(pg *p, tg_err *err)
{
	PGresult *res = PQexec(p->conn, schema_version);
	const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	int rc = -1;

	if (state != NULL && strcmp(state, "42P01") == 0) {
		PQclear(res);
		res = PQexec(p->conn, schema);
	} else if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 &&
	    strcmp(PQgetvalue(res, 0, 0), "1") == 0) {
		PQclear(res);
		res = PQexec(p->conn, migrate_v1);
	}
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		pg_fail(p, res, "creating the tables", err);
		PQclear(PQexec(p->conn, "ROLLBACK"));
		goto out;
	}
	if (PQntuples(res) != 1 || strcmp(PQgetvalue(res, 0, 0), PG_SCHEMA_VERSION) != 0) {
		tg_err_set(err, TG_ERR_CONFIG,
		    "inventory on %s has schema version %s, which this tlsgate does not know; "
		    "upgrade tlsgate", p->where, PQntuples(res) == 1 ? PQgetvalue(res, 0, 0) : "(none)");
		goto out;
	}
	rc = 0;
out:
	PQclear(res);
	return rc;
}

static void *
pg_open(const char *location, const char *ca, tg_err *err)
{
	PQconninfoOption *opts = pg_parse(location, err);
	pg *p = NULL;
	char *conninfo = NULL;

	if (opts == NULL)
		return NULL;
	PQconninfoFree(opts);
	p = calloc(1, sizeof(*p));
	conninfo = conninfo_of(location);
	if (p == NULL || conninfo == NULL ||
	    (p->ca = strdup(ca != NULL ? ca : PG_DEFAULT_CA)) == NULL) {
		tg_err_set(err, TG_ERR_INTERNAL, "out of memory");
		goto fail;
	}
	lock_key_of(p->ca, p->lock_key);
	if ((p->conn = pg_connect(conninfo)) == NULL) {
		tg_err_set(err, TG_ERR_INTERNAL, "out of memory");
		goto fail;
	}
	pg_describe(p);
	if (PQstatus(p->conn) != CONNECTION_OK) {
		connect_fail(p, err);
		goto fail;
	}
	PQsetNoticeProcessor(p->conn, pg_quiet, NULL);
	if (pg_schema(p, err) != 0)
		goto fail;
	free(conninfo);
	return p;
fail:
	free(conninfo);
	pg_close(p);
	return NULL;
}

/* Statements are prepared on first use: most tlsgate runs need two or three
 * of them, and a batch reuses the plan for every certificate. */
static int
pg_prepare(pg *p, int st, int nparams, tg_err *err)
{
	PGresult *res;
	int rc = 0;

	if (p->prepared & (1u << st))
		return 0;
	res = PQprepare(p->conn, stmts[st].name, stmts[st].sql, nparams, NULL);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		rc = pg_fail(p, res, "prepare", err);
	else
		p->prepared |= 1u << st;
	PQclear(res);
	return rc;
}

/* Runs a prepared statement; the caller frees *out (set on success only). */
static int
pg_run(pg *p, int st, int n, const char *const *vals, PGresult **out, tg_err *err)
{
	PGresult *res;
	ExecStatusType status;

	*out = NULL;
	if (pg_prepare(p, st, n, err) != 0)
		return -1;
	res = PQexecPrepared(p->conn, stmts[st].name, n, vals, NULL, NULL, 0);
	status = PQresultStatus(res);
	if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
		const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
		int rc = (state != NULL && strcmp(state, "23505") == 0) ?
		    tg_err_set(err, TG_ERR_EXISTS, "already in the inventory on %s", p->where) :
		    pg_fail(p, res, stmts[st].name + 3, err);
		PQclear(res);
		return rc;
	}
	*out = res;
	return 0;
}

static int
pg_simple(pg *p, const char *sql, tg_err *err)
{
	PGresult *res = PQexec(p->conn, sql);
	int rc = 0;

	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		rc = pg_fail(p, res, sql, err);
	PQclear(res);
	return rc;
}

/* READ COMMITTED on purpose: each statement sees what writers committed
 * before it, so once the lock is ours we see everything the previous holder
 * wrote (a REPEATABLE READ snapshot would predate the lock). */
static int
pg_begin(void *be, tg_err *err)
{
	pg *p = be;
	const char *vals[] = { p->lock_key };
	PGresult *res;

	if (pg_simple(p, "BEGIN ISOLATION LEVEL READ COMMITTED", err) != 0)
		return -1;
	if (pg_run(p, ST_LOCK, 1, vals, &res, err) != 0) {
		PQclear(PQexec(p->conn, "ROLLBACK"));
		return -1;
	}
	PQclear(res);
	return 0;
}

/* A transaction that failed answers COMMIT with ROLLBACK: not a success. */
static int
pg_commit(void *be, tg_err *err)
{
	pg *p = be;
	PGresult *res = PQexec(p->conn, "COMMIT");
	int rc = 0;

	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		rc = pg_fail(p, res, "commit", err);
	else if (strcmp(PQcmdStatus(res), "COMMIT") != 0)
		rc = tg_err_set(err, TG_ERR_IO,
		    "inventory on %s: the transaction failed earlier and was rolled back; retry",
		    p->where);
	PQclear(res);
	return rc;
}

static void
pg_rollback(void *be)
{
	pg *p = be;

	PQclear(PQexec(p->conn, "ROLLBACK"));
}

static const char *
or_empty(const char *s)
{
	return s != NULL ? s : "";
}

static int
pg_add(void *be, const store_cert *c, tg_err *err)
{
	pg *p = be;
	char nb[24], na[24], ct[24];
	const char *vals[15];
	PGresult *res;
	int added;

	snprintf(nb, sizeof(nb), "%" PRId64, c->not_before);
	snprintf(na, sizeof(na), "%" PRId64, c->not_after);
	snprintf(ct, sizeof(ct), "%" PRId64, c->created_at ? c->created_at : (int64_t)time(NULL));
	vals[0] = p->ca;
	vals[1] = c->serial;
	vals[2] = or_empty(c->subject);
	vals[3] = or_empty(c->cn);
	vals[4] = or_empty(c->sans);
	vals[5] = or_empty(c->profile);
	vals[6] = nb;
	vals[7] = na;
	vals[8] = c->fingerprint;
	vals[9] = or_empty(c->pem);
	vals[10] = c->cert_path;
	vals[11] = c->key_path;
	vals[12] = ct;
	vals[13] = store_add_status(c);
	vals[14] = c->writer;
	if (pg_run(p, ST_ADD, 15, vals, &res, err) != 0) {
		if (err != NULL && err->cat == TG_ERR_EXISTS)
			tg_err_set(err, TG_ERR_EXISTS, "serial %s is already in the inventory", c->serial);
		return -1;
	}
	added = strcmp(PQcmdTuples(res), "1") == 0;
	PQclear(res);
	if (!added)
		return tg_err_set(err, TG_ERR_EXISTS, "serial %s is already in the inventory", c->serial);
	return 0;
}

static char *
col_dup(const PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? NULL : strdup(PQgetvalue(res, row, col));
}

static int64_t
col_int(const PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? 0 : strtoll(PQgetvalue(res, row, col), NULL, 10);
}

static void
row_to_cert(const PGresult *res, int row, store_cert *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->serial, sizeof(c->serial), "%s", PQgetvalue(res, row, 0));
	c->subject = col_dup(res, row, 1);
	c->cn = col_dup(res, row, 2);
	c->sans = col_dup(res, row, 3);
	c->profile = col_dup(res, row, 4);
	c->not_before = col_int(res, row, 5);
	c->not_after = col_int(res, row, 6);
	snprintf(c->fingerprint, sizeof(c->fingerprint), "%s", PQgetvalue(res, row, 7));
	c->pem = col_dup(res, row, 8);
	c->cert_path = col_dup(res, row, 9);
	c->key_path = col_dup(res, row, 10);
	snprintf(c->status, sizeof(c->status), "%s", PQgetvalue(res, row, 11));
	c->revoked_at = col_int(res, row, 12);
	c->reason = PQgetisnull(res, row, 13) ? -1 : (int)col_int(res, row, 13);
	c->created_at = col_int(res, row, 14);
	c->writer = col_dup(res, row, 15);
}

static int
no_such_serial(pg *p, const char *serial, tg_err *err)
{
	return tg_err_set(err, TG_ERR_USAGE,
	    "no certificate with serial %s in the inventory on %s; list them with `tlsgate cert list`",
	    serial, p->where);
}

static int
pg_get(void *be, const char *serial, store_cert *out, tg_err *err)
{
	pg *p = be;
	const char *vals[] = { p->ca, serial };
	PGresult *res;
	int rc = 0;

	if (pg_run(p, ST_GET, 2, vals, &res, err) != 0)
		return -1;
	if (PQntuples(res) == 1)
		row_to_cert(res, 0, out);
	else
		rc = no_such_serial(p, serial, err);
	PQclear(res);
	return rc;
}

static int
pg_has_serial(void *be, const char *serial, tg_err *err)
{
	pg *p = be;
	const char *vals[] = { p->ca, serial };
	PGresult *res;
	int have;

	if (pg_run(p, ST_HAS, 2, vals, &res, err) != 0)
		return -1;
	have = PQntuples(res) > 0;
	PQclear(res);
	return have;
}

static int
pg_revoke(void *be, const char *serial, int64_t when, int reason, tg_err *err)
{
	pg *p = be;
	char at[24], why[16];
	const char *vals[] = { p->ca, serial, at, why };
	PGresult *res;
	store_cert c;
	int changed;

	snprintf(at, sizeof(at), "%" PRId64, when);
	snprintf(why, sizeof(why), "%d", reason);
	if (pg_run(p, ST_REVOKE, 4, vals, &res, err) != 0)
		return -1;
	changed = strcmp(PQcmdTuples(res), "0") != 0;
	PQclear(res);
	if (changed)
		return 0;
	if (pg_get(p, serial, &c, err) != 0)
		return -1;
	changed = store_not_revocable(&c, err);
	store_cert_clear(&c);
	return changed;
}

static int
pg_set_status(void *be, const char *serial, const char *from, const char *to, tg_err *err)
{
	pg *p = be;
	const char *vals[] = { p->ca, serial, from, to };
	PGresult *res;
	int changed;

	if (pg_run(p, ST_STATUS, 4, vals, &res, err) != 0)
		return -1;
	changed = strcmp(PQcmdTuples(res), "0") != 0;
	PQclear(res);
	if (!changed)
		return tg_err_set(err, TG_ERR_USAGE, "certificate %s in the inventory on %s is not %s",
		    serial, p->where, from);
	return 0;
}

static int
pg_lock(void *be, tg_err *err)
{
	pg *p = be;
	const char *vals[] = { p->lock_key };
	PGresult *res;

	if (pg_run(p, ST_HOLD, 1, vals, &res, err) != 0)
		return -1;
	PQclear(res);
	p->held = 1;
	return 0;
}

static void
pg_unlock(void *be)
{
	pg *p = be;
	const char *vals[] = { p->lock_key };
	PGresult *res;

	if (!p->held)
		return;
	p->held = 0;
	if (pg_run(p, ST_UNHOLD, 1, vals, &res, NULL) == 0)
		PQclear(res);
}

/* Rows stream one at a time (single-row mode), so listing a large inventory
 * never holds it all in memory. Stopping early still drains the results:
 * the connection must be idle again before the next statement. */
static int
pg_list_rows(pg *p, int (*fn)(const store_cert *c, void *arg), void *arg, tg_err *err)
{
	PGresult *res;
	int rc = 0, stop = 0;

	while ((res = PQgetResult(p->conn)) != NULL) {
		ExecStatusType status = PQresultStatus(res);

		for (int row = 0; row < PQntuples(res) && !stop && rc == 0; row++) {
			store_cert c;
			row_to_cert(res, row, &c);
			stop = fn(&c, arg);
			store_cert_clear(&c);
		}
		if (status == PGRES_SINGLE_TUPLE || status == PGRES_TUPLES_OK) {
			PQclear(res);
			continue;
		}
		if (rc == 0)
			rc = pg_fail(p, res, "list", err);
		PQclear(res);
	}
	return rc;
}

static int
pg_list(void *be, const store_filter *f, int (*fn)(const store_cert *c, void *arg),
    void *arg, tg_err *err)
{
	pg *p = be;
	store_where w;
	const char *vals[1 + sizeof(w.vals) / sizeof(w.vals[0])] = { p->ca };
	char sql[sizeof(w.sql) + 256];

	/* Not prepared: a generic plan of a prepared list would not use the
	 * index its conditions name either. */
	store_filter_where(f, '$', 2, &w);
	memcpy(vals + 1, w.vals, sizeof(w.vals));
	snprintf(sql, sizeof(sql), "SELECT " SELECT_COLS " FROM tlsgate_certs WHERE ca = $1%s"
	    " ORDER BY id", w.sql);
	if (PQsendQueryParams(p->conn, sql, 1 + w.n, NULL, vals, NULL, NULL, 0) != 1)
		return pg_fail(p, NULL, "list", err);
	/* Without single-row mode the rows still come, all at once. */
	(void)PQsetSingleRowMode(p->conn);
	return pg_list_rows(p, fn, arg, err);
}

static int
pg_next_crl_number(void *be, const char *series, uint64_t *out, tg_err *err)
{
	pg *p = be;
	const char *vals[] = { p->ca, series };
	PGresult *res;
	int rc = 0;

	if (pg_run(p, ST_CRL, 2, vals, &res, err) != 0)
		return -1;
	if (PQntuples(res) == 1)
		*out = (uint64_t)strtoull(PQgetvalue(res, 0, 0), NULL, 10);
	else
		rc = tg_err_set(err, TG_ERR_INTERNAL, "inventory on %s: no CRL number returned",
		    p->where);
	PQclear(res);
	return rc;
}

static int
pg_crl_numbers(void *be, int (*fn)(const char *series, uint64_t last, void *arg), void *arg,
    tg_err *err)
{
	pg *p = be;
	const char *vals[] = { p->ca };
	PGresult *res;

	if (pg_run(p, ST_CRL_LIST, 1, vals, &res, err) != 0)
		return -1;
	for (int i = 0; i < PQntuples(res); i++)
		if (fn(PQgetvalue(res, i, 0), strtoull(PQgetvalue(res, i, 1), NULL, 10), arg) != 0)
			break;
	PQclear(res);
	return 0;
}

static int
pg_crl_floor(void *be, const char *series, uint64_t last, tg_err *err)
{
	pg *p = be;
	char num[24];
	const char *vals[] = { p->ca, series, num };
	PGresult *res;

	snprintf(num, sizeof(num), "%" PRIu64, last);
	if (pg_run(p, ST_CRL_FLOOR, 3, vals, &res, err) != 0)
		return -1;
	PQclear(res);
	return 0;
}

/* A password is refused: tlsgate records the URL in a file, and a command
 * line is visible to every user through ps. */
static int
pg_check(const char *location, tg_err *err)
{
	PQconninfoOption *opts = pg_parse(location, err);
	int rc = 0;

	if (opts == NULL)
		return -1;
	for (PQconninfoOption *o = opts; o->keyword != NULL; o++)
		if (strcmp(o->keyword, "password") == 0 && o->val != NULL && *o->val != '\0')
			rc = tg_err_set(err, TG_ERR_USAGE,
			    "the store URL holds a password; tlsgate never writes a password into "
			    "DIR/store.conf (and a command line shows in ps): remove it from the URL and "
			    "put it in ~/.pgpass (HOST:PORT:DB:USER:PASSWORD, mode 0600) or PGPASSWORD");
	PQconninfoFree(opts);
	return rc;
}

/* --- Tables of other modules --- */

static const char *
pg_ca_name(void *be)
{
	return ((pg *)be)->ca;
}

#define PG_STMT_NAME 32

/* Prepares sql once per connection as tgs_N; name receives N's name, or
 * "" when the cache is full (then it runs unprepared). */
static int
pg_cached(pg *p, const char *sql, int nparams, char name[PG_STMT_NAME], tg_err *err)
{
	PGresult *res;
	int rc = 0;

	name[0] = '\0';
	for (size_t i = 0; i < p->ncache; i++)
		if (p->cache[i] == sql) {
			snprintf(name, PG_STMT_NAME, "tgs_%zu", i);
			return 0;
		}
	if (p->ncache >= STORE_SQL_CACHE)
		return 0;
	snprintf(name, PG_STMT_NAME, "tgs_%zu", p->ncache);
	res = PQprepare(p->conn, name, sql, nparams, NULL);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		rc = pg_fail(p, res, "prepare", err);
	else
		p->cache[p->ncache++] = sql;
	PQclear(res);
	return rc;
}

#define PG_COLS_MAX 32

static int
pg_sql(void *be, const char *sql, const char *const *params, int nparams, store_row_fn fn,
    void *arg, long *changes, tg_err *err)
{
	pg *p = be;
	const char *vals[PG_COLS_MAX];
	char name[PG_STMT_NAME];
	PGresult *res;
	ExecStatusType status;
	int rc = 0, ncols;

	if (pg_cached(p, sql, nparams, name, err) != 0)
		return -1;
	res = name[0] ? PQexecPrepared(p->conn, name, nparams, params, NULL, NULL, 0) :
	    PQexecParams(p->conn, sql, nparams, NULL, params, NULL, NULL, 0);
	status = PQresultStatus(res);
	if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
		const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
		rc = (state != NULL && strcmp(state, "23505") == 0) ?
		    tg_err_set(err, TG_ERR_EXISTS, "already recorded in %s", p->where) :
		    pg_fail(p, res, "statement", err);
		PQclear(res);
		return rc;
	}
	ncols = PQnfields(res) < PG_COLS_MAX ? PQnfields(res) : PG_COLS_MAX;
	for (int r = 0; fn != NULL && r < PQntuples(res); r++) {
		for (int i = 0; i < ncols; i++)
			vals[i] = PQgetisnull(res, r, i) ? NULL : PQgetvalue(res, r, i);
		if (fn(arg, ncols, vals) != 0)
			break;
	}
	if (changes != NULL)
		*changes = atol(PQcmdTuples(res));
	PQclear(res);
	return 0;
}

static int
pg_sql_txn(void *be, int op, tg_err *err)
{
	pg *p = be;

	if (op == STORE_TXN_BEGIN)
		return pg_simple(p, "BEGIN ISOLATION LEVEL READ COMMITTED", err);
	if (op == STORE_TXN_COMMIT)
		return pg_commit(p, err);
	pg_rollback(p);
	return 0;
}

static int
pg_sql_relaxed(void *be, tg_err *err)
{
	return pg_simple(be, "SET synchronous_commit TO off", err);
}

/* A module's schema version in the meta table (store_sql_schema_get). */
static const char schema_get[] = "SELECT value FROM tlsgate_meta WHERE key = $1";

static int
meta_value(void *arg, int ncols, const char *const *vals)
{
	snprintf(arg, 16, "%s", ncols > 0 && vals[0] != NULL ? vals[0] : "");
	return 1;
}

/* Read without a lock first (most opens find the tables made); the DDL runs
 * under the schema lock, re-checked inside it. */
static int
pg_sql_schema(void *be, const char *key, const char *version, const char *ddl, tg_err *err)
{
	pg *p = be;
	const char *get = schema_get;
	static const char set[] = "INSERT INTO tlsgate_meta(key, value) VALUES ($1, $2)";
	const char *params[] = { key, version };
	char have[16] = "";

	if (pg_sql(p, get, params, 1, meta_value, have, NULL, err) != 0)
		return -1;
	if (have[0] == '\0') {
		if (pg_simple(p, "BEGIN", err) != 0)
			return -1;
		if (pg_sql(p, "SELECT pg_advisory_xact_lock(" PG_LOCK_CLASS ", 0)", NULL, 0, NULL,
			NULL, NULL, err) != 0 ||
		    pg_sql(p, get, params, 1, meta_value, have, NULL, err) != 0)
			goto fail;
		if (have[0] == '\0') {
			PGresult *res = PQexec(p->conn, ddl);
			int ok = PQresultStatus(res) == PGRES_COMMAND_OK;
			if (!ok)
				pg_fail(p, res, "creating the tables", err);
			PQclear(res);
			if (!ok || pg_sql(p, set, params, 2, NULL, NULL, NULL, err) != 0)
				goto fail;
			snprintf(have, sizeof(have), "%s", version);
		}
		if (pg_commit(p, err) != 0)
			goto fail;
	}
	if (strcmp(have, version) != 0)
		return tg_err_set(err, TG_ERR_CONFIG, "inventory on %s has %s %s, which this tlsgate "
		    "does not know; upgrade tlsgate", p->where, key, have);
	return 0;
fail:
	pg_rollback(p);
	return -1;
}

const struct store_ops store_pg_ops = {
	.scheme = "postgresql",
	.alias = "postgres",
	.check = pg_check,
	.open = pg_open,
	.close = pg_close,
	.begin = pg_begin,
	.commit = pg_commit,
	.rollback = pg_rollback,
	.add = pg_add,
	.has_serial = pg_has_serial,
	.get = pg_get,
	.revoke = pg_revoke,
	.set_status = pg_set_status,
	.lock = pg_lock,
	.unlock = pg_unlock,
	.list = pg_list,
	.next_crl_number = pg_next_crl_number,
	.crl_numbers = pg_crl_numbers,
	.crl_floor = pg_crl_floor,
	.ca_name = pg_ca_name,
	.sql = pg_sql,
	.sql_txn = pg_sql_txn,
	.sql_relaxed = pg_sql_relaxed,
	.sql_schema = pg_sql_schema,
	.sql_schema_get = schema_get,
};
