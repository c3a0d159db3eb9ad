/* The ACME server's state in the CA's store: accounts, orders,
 * authorizations, challenges, used nonces, EAB keys and the nonce key. One
 * text of SQL for both backends (store_sql); every row carries the CA's
 * name, so several CAs may share a PostgreSQL database. Nothing is kept in
 * memory between requests: any server on the store answers any request.
 * Status changes are conditional updates (`... AND status = 'pending'`), so
 * two servers racing for one change cannot both make it. */
#include <inttypes.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acme/srv.h"

#define ACME_SCHEMA_VERSION "1"

static const char ddl[] =
	"CREATE TABLE IF NOT EXISTS tlsgate_acme_accounts ("
	"  ca TEXT NOT NULL, id TEXT NOT NULL, thumbprint TEXT NOT NULL, jwk TEXT NOT NULL,"
	"  status TEXT NOT NULL, contact TEXT NOT NULL, eab_kid TEXT, created BIGINT NOT NULL,"
	"  PRIMARY KEY (ca, id), UNIQUE (ca, thumbprint));"
	"CREATE TABLE IF NOT EXISTS tlsgate_acme_orders ("
	"  ca TEXT NOT NULL, id TEXT NOT NULL, account TEXT NOT NULL, status TEXT NOT NULL,"
	"  identifiers TEXT NOT NULL, not_before BIGINT NOT NULL, not_after BIGINT NOT NULL,"
	"  expires BIGINT NOT NULL, error TEXT, serial TEXT, created BIGINT NOT NULL,"
	"  PRIMARY KEY (ca, id));"
	"CREATE INDEX IF NOT EXISTS tlsgate_acme_orders_account"
	"  ON tlsgate_acme_orders (ca, account, created);"
	"CREATE INDEX IF NOT EXISTS tlsgate_acme_orders_serial ON tlsgate_acme_orders (ca, serial);"
	"CREATE TABLE IF NOT EXISTS tlsgate_acme_authzs ("
	"  ca TEXT NOT NULL, id TEXT NOT NULL, order_id TEXT NOT NULL, pos BIGINT NOT NULL,"
	"  account TEXT NOT NULL, type TEXT NOT NULL, value TEXT NOT NULL, status TEXT NOT NULL,"
	"  token TEXT NOT NULL, expires BIGINT NOT NULL, PRIMARY KEY (ca, id));"
	"CREATE INDEX IF NOT EXISTS tlsgate_acme_authzs_order ON tlsgate_acme_authzs (ca, order_id);"
	"CREATE INDEX IF NOT EXISTS tlsgate_acme_authzs_held"
	"  ON tlsgate_acme_authzs (ca, account, type, value);"
	"CREATE TABLE IF NOT EXISTS tlsgate_acme_challenges ("
	"  ca TEXT NOT NULL, id TEXT NOT NULL, authz TEXT NOT NULL, type TEXT NOT NULL,"
	"  status TEXT NOT NULL, validated BIGINT, started BIGINT, error TEXT,"
	"  PRIMARY KEY (ca, id));"
	"CREATE INDEX IF NOT EXISTS tlsgate_acme_challenges_authz"
	"  ON tlsgate_acme_challenges (ca, authz);"
	"CREATE TABLE IF NOT EXISTS tlsgate_acme_nonces ("
	"  ca TEXT NOT NULL, id TEXT NOT NULL, issued BIGINT NOT NULL, PRIMARY KEY (ca, id));"
	"CREATE INDEX IF NOT EXISTS tlsgate_acme_nonces_issued ON tlsgate_acme_nonces (ca, issued);"
	"CREATE TABLE IF NOT EXISTS tlsgate_acme_eab ("
	"  ca TEXT NOT NULL, kid TEXT NOT NULL, hmac TEXT NOT NULL, name TEXT NOT NULL,"
	"  created BIGINT NOT NULL, account TEXT, revoked BIGINT, PRIMARY KEY (ca, kid));"
	"CREATE TABLE IF NOT EXISTS tlsgate_acme_keys ("
	"  ca TEXT NOT NULL, name TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (ca, name));";

int
acme_db_init(store *db, tg_err *err)
{
	return store_sql_schema(db, "acme_schema", ACME_SCHEMA_VERSION, ddl, err);
}

int
acme_rand_id(char *buf, size_t cap, size_t n, tg_err *err)
{
	unsigned char raw[48];
	char *s;

	if (n > sizeof(raw) || RAND_bytes(raw, (int)n) != 1)
		return tg_err_ossl(err, TG_ERR_INTERNAL, "no random bytes");
	if ((s = acme_b64u_encode(raw, n)) == NULL)
		return tg_err_set(err, TG_ERR_INTERNAL, "out of memory");
	snprintf(buf, cap, "%s", s);
	free(s);
	return 0;
}

static void
num(char *buf, int64_t v)
{
	snprintf(buf, 24, "%" PRId64, v);
}

static int64_t
to_i64(const char *s)
{
	return s != NULL ? strtoll(s, NULL, 10) : 0;
}

static void
copy(char *dst, size_t cap, const char *s)
{
	snprintf(dst, cap, "%s", s != NULL ? s : "");
}

static char *
dup_or_null(const char *s)
{
	return s != NULL ? strdup(s) : NULL;
}

/* ---- nonces ---------------------------------------------------------- */

static int
one_text(void *arg, int ncols, const char *const *vals)
{
	char **out = arg;

	if (ncols > 0 && vals[0] != NULL)
		*out = strdup(vals[0]);
	return 1;
}

int
acme_db_nonce_key(store *db, unsigned char key[ACME_NONCE_KEY_LEN], tg_err *err)
{
	static const char put[] = "INSERT INTO tlsgate_acme_keys (ca, name, value)"
		" VALUES ($1, 'nonce', $2) ON CONFLICT (ca, name) DO NOTHING";
	static const char get[] = "SELECT value FROM tlsgate_acme_keys WHERE ca = $1 AND name = 'nonce'";
	char fresh[96];
	char *have = NULL;
	unsigned char *raw = NULL;
	size_t len = 0;
	const char *params[] = { store_ca_name(db), fresh };
	int rc = -1;

	if (acme_rand_id(fresh, sizeof(fresh), ACME_NONCE_KEY_LEN, err) != 0 ||
	    store_sql(db, put, params, 2, NULL, NULL, NULL, err) != 0 ||
	    store_sql(db, get, params, 1, one_text, &have, NULL, err) != 0)
		goto out;
	if (have == NULL || acme_b64u_decode(have, strlen(have), &raw, &len) != 0 ||
	    len != ACME_NONCE_KEY_LEN) {
		tg_err_set(err, TG_ERR_CONFIG, "the ACME nonce key in the inventory is damaged; "
		    "delete the row tlsgate_acme_keys 'nonce' and restart every acme server");
		goto out;
	}
	memcpy(key, raw, ACME_NONCE_KEY_LEN);
	rc = 0;
out:
	OPENSSL_cleanse(fresh, sizeof(fresh));
	if (raw != NULL)
		OPENSSL_clear_free(raw, len);
	free(have);
	return rc;
}

int
acme_db_nonce_use(store *db, const char *id, int64_t issued, int *fresh, tg_err *err)
{
	static const char sql[] = "INSERT INTO tlsgate_acme_nonces (ca, id, issued)"
		" VALUES ($1, $2, $3) ON CONFLICT (ca, id) DO NOTHING";
	char t[24];
	const char *params[] = { store_ca_name(db), id, t };
	long changes = 0;

	num(t, issued);
	if (store_sql(db, sql, params, 3, NULL, NULL, &changes, err) != 0)
		return -1;
	*fresh = changes == 1;
	return 0;
}

int
acme_db_nonce_prune(store *db, int64_t before, tg_err *err)
{
	static const char sql[] = "DELETE FROM tlsgate_acme_nonces WHERE ca = $1 AND issued < $2";
	char t[24];
	const char *params[] = { store_ca_name(db), t };

	num(t, before);
	return store_sql(db, sql, params, 2, NULL, NULL, NULL, err);
}

/* ---- accounts -------------------------------------------------------- */

#define ACCOUNT_COLS "id, thumbprint, jwk, status, contact, eab_kid, created"

void
acme_account_clear(acme_account *a)
{
	free(a->jwk);
	free(a->contact);
	memset(a, 0, sizeof(*a));
}

static int
account_row(void *arg, int ncols, const char *const *v)
{
	acme_account *a = arg;

	if (ncols < 7)
		return 1;
	acme_account_clear(a);
	copy(a->id, sizeof(a->id), v[0]);
	copy(a->thumbprint, sizeof(a->thumbprint), v[1]);
	a->jwk = dup_or_null(v[2]);
	copy(a->status, sizeof(a->status), v[3]);
	a->contact = dup_or_null(v[4]);
	copy(a->eab_kid, sizeof(a->eab_kid), v[5]);
	a->created = to_i64(v[6]);
	return 1;
}

static int
account_by(store *db, const char *sql, const char *key, acme_account *a, tg_err *err)
{
	const char *params[] = { store_ca_name(db), key };

	memset(a, 0, sizeof(*a));
	if (store_sql(db, sql, params, 2, account_row, a, NULL, err) != 0)
		return -1;
	return a->id[0] != '\0';
}

int
acme_db_account_get(store *db, const char *id, acme_account *a, tg_err *err)
{
	static const char sql[] = "SELECT " ACCOUNT_COLS
		" FROM tlsgate_acme_accounts WHERE ca = $1 AND id = $2";
	return account_by(db, sql, id, a, err);
}

int
acme_db_account_by_thumb(store *db, const char *thumb, acme_account *a, tg_err *err)
{
	static const char sql[] = "SELECT " ACCOUNT_COLS
		" FROM tlsgate_acme_accounts WHERE ca = $1 AND thumbprint = $2";
	return account_by(db, sql, thumb, a, err);
}

int
acme_db_account_insert(store *db, const acme_account *a, tg_err *err)
{
	static const char sql[] = "INSERT INTO tlsgate_acme_accounts (ca, " ACCOUNT_COLS ")"
		" VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
	char t[24];
	const char *params[] = { store_ca_name(db), a->id, a->thumbprint, a->jwk, a->status,
		a->contact, a->eab_kid[0] ? a->eab_kid : NULL, t };

	num(t, a->created);
	return store_sql(db, sql, params, 8, NULL, NULL, NULL, err);
}

int
acme_db_account_update(store *db, const char *id, const char *contact, const char *status,
    tg_err *err)
{
	static const char sql_contact[] = "UPDATE tlsgate_acme_accounts SET contact = $3"
		" WHERE ca = $1 AND id = $2 AND status = 'valid'";
	static const char sql_status[] = "UPDATE tlsgate_acme_accounts SET status = $3"
		" WHERE ca = $1 AND id = $2 AND status = 'valid'";
	const char *params[] = { store_ca_name(db), id, contact };

	if (contact != NULL && store_sql(db, sql_contact, params, 3, NULL, NULL, NULL, err) != 0)
		return -1;
	params[2] = status;
	if (status != NULL && store_sql(db, sql_status, params, 3, NULL, NULL, NULL, err) != 0)
		return -1;
	return 0;
}

int
acme_db_account_rekey(store *db, const char *id, const char *old_thumb, const char *new_thumb,
    const char *jwk, long *changes, tg_err *err)
{
	static const char sql[] = "UPDATE tlsgate_acme_accounts SET thumbprint = $4, jwk = $5"
		" WHERE ca = $1 AND id = $2 AND thumbprint = $3 AND status = 'valid'";
	const char *params[] = { store_ca_name(db), id, old_thumb, new_thumb, jwk };

	return store_sql(db, sql, params, 5, NULL, NULL, changes, err);
}

struct urls {
	json_t *arr;
	const char *base;
};

static int
order_url_row(void *arg, int ncols, const char *const *v)
{
	struct urls *u = arg;
	char url[ACME_URL_MAX];

	if (ncols < 1 || v[0] == NULL)
		return 0;
	snprintf(url, sizeof(url), "%s/acme/order/%s", u->base, v[0]);
	json_array_append_new(u->arr, json_string(url));
	return 0;
}

int
acme_db_account_orders(store *db, const char *id, json_t *arr, const char *base, tg_err *err)
{
	/* The newest 1000: enough for a client that looks; the list is not paged. */
	static const char sql[] = "SELECT id FROM tlsgate_acme_orders WHERE ca = $1 AND account = $2"
		" ORDER BY created DESC LIMIT 1000";
	const char *params[] = { store_ca_name(db), id };
	struct urls u = { arr, base };

	return store_sql(db, sql, params, 2, order_url_row, &u, NULL, err);
}

/* ---- EAB keys -------------------------------------------------------- */

static int
eab_row(void *arg, int ncols, const char *const *v)
{
	acme_eab_key *k = arg;
	unsigned char *raw = NULL;
	size_t len = 0;

	if (ncols < 4 || v[1] == NULL)
		return 1;
	copy(k->kid, sizeof(k->kid), v[0]);
	if (acme_b64u_decode(v[1], strlen(v[1]), &raw, &len) == 0 && len <= sizeof(k->key)) {
		memcpy(k->key, raw, len);
		k->keylen = len;
	}
	if (raw != NULL)
		OPENSSL_clear_free(raw, len);
	copy(k->account, sizeof(k->account), v[2]);
	k->revoked = v[3] != NULL;
	return 1;
}

int
acme_db_eab_get(store *db, const char *kid, acme_eab_key *k, tg_err *err)
{
	static const char sql[] = "SELECT kid, hmac, account, revoked FROM tlsgate_acme_eab"
		" WHERE ca = $1 AND kid = $2";
	const char *params[] = { store_ca_name(db), kid };

	memset(k, 0, sizeof(*k));
	if (store_sql(db, sql, params, 2, eab_row, k, NULL, err) != 0)
		return -1;
	return k->kid[0] != '\0' && k->keylen > 0;
}

int
acme_db_eab_bind(store *db, const char *kid, const char *account, long *changes, tg_err *err)
{
	static const char sql[] = "UPDATE tlsgate_acme_eab SET account = $3"
		" WHERE ca = $1 AND kid = $2 AND account IS NULL AND revoked IS NULL";
	const char *params[] = { store_ca_name(db), kid, account };

	return store_sql(db, sql, params, 3, NULL, NULL, changes, err);
}

/* ---- orders ---------------------------------------------------------- */

#define ORDER_COLS "id, account, status, identifiers, not_before, not_after, expires, error," \
	" serial, created"

void
acme_order_clear(acme_order *o)
{
	free(o->identifiers);
	free(o->error);
	memset(o, 0, sizeof(*o));
}

static int
order_row(void *arg, int ncols, const char *const *v)
{
	acme_order *o = arg;

	if (ncols < 10)
		return 1;
	acme_order_clear(o);
	copy(o->id, sizeof(o->id), v[0]);
	copy(o->account, sizeof(o->account), v[1]);
	copy(o->status, sizeof(o->status), v[2]);
	o->identifiers = dup_or_null(v[3]);
	o->not_before = to_i64(v[4]);
	o->not_after = to_i64(v[5]);
	o->expires = to_i64(v[6]);
	o->error = dup_or_null(v[7]);
	copy(o->serial, sizeof(o->serial), v[8]);
	o->created = to_i64(v[9]);
	return 1;
}

static int
order_by(store *db, const char *sql, const char *key, acme_order *o, tg_err *err)
{
	const char *params[] = { store_ca_name(db), key };

	memset(o, 0, sizeof(*o));
	if (store_sql(db, sql, params, 2, order_row, o, NULL, err) != 0)
		return -1;
	return o->id[0] != '\0';
}

int
acme_db_order_get(store *db, const char *id, acme_order *o, tg_err *err)
{
	static const char sql[] = "SELECT " ORDER_COLS
		" FROM tlsgate_acme_orders WHERE ca = $1 AND id = $2";
	return order_by(db, sql, id, o, err);
}

int
acme_db_order_by_serial(store *db, const char *serial, acme_order *o, tg_err *err)
{
	static const char sql[] = "SELECT " ORDER_COLS
		" FROM tlsgate_acme_orders WHERE ca = $1 AND serial = $2";
	return order_by(db, sql, serial, o, err);
}

int
acme_db_order_insert(store *db, const acme_order *o, tg_err *err)
{
	static const char sql[] = "INSERT INTO tlsgate_acme_orders (ca, " ORDER_COLS ")"
		" VALUES ($1, $2, $3, $4, $5, $6, $7, $8, NULL, NULL, $9)";
	char nb[24], na[24], ex[24], cr[24];
	const char *params[] = { store_ca_name(db), o->id, o->account, o->status, o->identifiers,
		nb, na, ex, cr };

	num(nb, o->not_before);
	num(na, o->not_after);
	num(ex, o->expires);
	num(cr, o->created);
	return store_sql(db, sql, params, 9, NULL, NULL, NULL, err);
}

static int
one_long(void *arg, int ncols, const char *const *v)
{
	*(long *)arg = ncols > 0 && v[0] != NULL ? atol(v[0]) : 0;
	return 1;
}

int
acme_db_orders_since(store *db, const char *account, int64_t since, long *n, tg_err *err)
{
	static const char sql[] = "SELECT COUNT(*) FROM tlsgate_acme_orders"
		" WHERE ca = $1 AND account = $2 AND created >= $3";
	char t[24];
	const char *params[] = { store_ca_name(db), account, t };

	*n = 0;
	num(t, since);
	return store_sql(db, sql, params, 3, one_long, n, NULL, err);
}

int
acme_db_order_issued(store *db, const char *id, const char *serial, long *changes, tg_err *err)
{
	static const char sql[] = "UPDATE tlsgate_acme_orders SET status = 'valid', serial = $3"
		" WHERE ca = $1 AND id = $2 AND status = 'ready'";
	const char *params[] = { store_ca_name(db), id, serial };

	return store_sql(db, sql, params, 3, NULL, NULL, changes, err);
}

/* ---- authorizations -------------------------------------------------- */

#define AUTHZ_COLS "id, order_id, account, type, value, status, token, expires"

static int
authz_row_into(acme_authz *a, int ncols, const char *const *v)
{
	if (ncols < 8)
		return -1;
	memset(a, 0, sizeof(*a));
	copy(a->id, sizeof(a->id), v[0]);
	copy(a->order_id, sizeof(a->order_id), v[1]);
	copy(a->account, sizeof(a->account), v[2]);
	copy(a->type, sizeof(a->type), v[3]);
	copy(a->value, sizeof(a->value), v[4]);
	copy(a->status, sizeof(a->status), v[5]);
	copy(a->token, sizeof(a->token), v[6]);
	a->expires = to_i64(v[7]);
	return 0;
}

static int
authz_row(void *arg, int ncols, const char *const *v)
{
	authz_row_into(arg, ncols, v);
	return 1;
}

int
acme_db_authz_get(store *db, const char *id, acme_authz *a, tg_err *err)
{
	static const char sql[] = "SELECT " AUTHZ_COLS
		" FROM tlsgate_acme_authzs WHERE ca = $1 AND id = $2";
	const char *params[] = { store_ca_name(db), id };

	memset(a, 0, sizeof(*a));
	if (store_sql(db, sql, params, 2, authz_row, a, NULL, err) != 0)
		return -1;
	return a->id[0] != '\0';
}

int
acme_db_authz_insert(store *db, const acme_authz *a, int pos, tg_err *err)
{
	static const char sql[] = "INSERT INTO tlsgate_acme_authzs"
		" (ca, id, order_id, pos, account, type, value, status, token, expires)"
		" VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";
	char p[24], ex[24];
	const char *params[] = { store_ca_name(db), a->id, a->order_id, p, a->account, a->type,
		a->value, a->status, a->token, ex };

	num(p, pos);
	num(ex, a->expires);
	return store_sql(db, sql, params, 10, NULL, NULL, NULL, err);
}

struct each_authz {
	int (*fn)(const acme_authz *a, void *arg);
	void *arg;
	int stopped;
};

static int
each_authz_row(void *arg, int ncols, const char *const *v)
{
	struct each_authz *e = arg;
	acme_authz a;

	if (authz_row_into(&a, ncols, v) != 0)
		return 1;
	e->stopped = e->fn(&a, e->arg);
	return e->stopped;
}

int
acme_db_authz_each(store *db, const char *order_id, int (*fn)(const acme_authz *a, void *arg),
    void *arg, tg_err *err)
{
	static const char sql[] = "SELECT " AUTHZ_COLS
		" FROM tlsgate_acme_authzs WHERE ca = $1 AND order_id = $2 ORDER BY pos";
	const char *params[] = { store_ca_name(db), order_id };
	struct each_authz e = { fn, arg, 0 };

	return store_sql(db, sql, params, 2, each_authz_row, &e, NULL, err);
}

int
acme_db_authz_held(store *db, const char *account, const char *type, const char *value,
    int64_t now, tg_err *err)
{
	static const char sql[] = "SELECT COUNT(*) FROM tlsgate_acme_authzs WHERE ca = $1"
		" AND account = $2 AND type = $3 AND value = $4 AND status = 'valid' AND expires > $5";
	char t[24];
	const char *params[] = { store_ca_name(db), account, type, value, t };
	long n = 0;

	num(t, now);
	if (store_sql(db, sql, params, 5, one_long, &n, NULL, err) != 0)
		return -1;
	return n > 0;
}

int
acme_db_authz_deactivate(store *db, const char *id, tg_err *err)
{
	static const char authz[] = "UPDATE tlsgate_acme_authzs SET status = 'deactivated'"
		" WHERE ca = $1 AND id = $2 AND status IN ('pending', 'valid')";
	static const char order[] = "UPDATE tlsgate_acme_orders SET status = 'invalid'"
		" WHERE ca = $1 AND status IN ('pending', 'ready') AND id ="
		" (SELECT order_id FROM tlsgate_acme_authzs WHERE ca = $1 AND id = $2)";
	const char *params[] = { store_ca_name(db), id };

	if (store_sql_begin(db, err) != 0)
		return -1;
	if (store_sql(db, authz, params, 2, NULL, NULL, NULL, err) != 0 ||
	    store_sql(db, order, params, 2, NULL, NULL, NULL, err) != 0 ||
	    store_sql_commit(db, err) != 0) {
		store_sql_rollback(db);
		return -1;
	}
	return 0;
}

/* ---- challenges ------------------------------------------------------ */

#define CHALL_COLS "id, authz, type, status, validated, started, error"

void
acme_chall_clear(acme_chall *c)
{
	free(c->error);
	memset(c, 0, sizeof(*c));
}

static int
chall_row_into(acme_chall *c, int ncols, const char *const *v)
{
	if (ncols < 7)
		return -1;
	memset(c, 0, sizeof(*c));
	copy(c->id, sizeof(c->id), v[0]);
	copy(c->authz, sizeof(c->authz), v[1]);
	copy(c->type, sizeof(c->type), v[2]);
	copy(c->status, sizeof(c->status), v[3]);
	c->validated = to_i64(v[4]);
	c->started = to_i64(v[5]);
	c->error = dup_or_null(v[6]);
	return 0;
}

static int
chall_row(void *arg, int ncols, const char *const *v)
{
	acme_chall_clear(arg);
	chall_row_into(arg, ncols, v);
	return 1;
}

int
acme_db_chall_get(store *db, const char *id, acme_chall *c, tg_err *err)
{
	static const char sql[] = "SELECT " CHALL_COLS
		" FROM tlsgate_acme_challenges WHERE ca = $1 AND id = $2";
	const char *params[] = { store_ca_name(db), id };

	memset(c, 0, sizeof(*c));
	if (store_sql(db, sql, params, 2, chall_row, c, NULL, err) != 0)
		return -1;
	return c->id[0] != '\0';
}

int
acme_db_chall_insert(store *db, const acme_chall *c, tg_err *err)
{
	static const char sql[] = "INSERT INTO tlsgate_acme_challenges (ca, id, authz, type, status)"
		" VALUES ($1, $2, $3, $4, $5)";
	const char *params[] = { store_ca_name(db), c->id, c->authz, c->type, c->status };

	return store_sql(db, sql, params, 5, NULL, NULL, NULL, err);
}

struct each_chall {
	int (*fn)(const acme_chall *c, void *arg);
	void *arg;
};

static int
each_chall_row(void *arg, int ncols, const char *const *v)
{
	struct each_chall *e = arg;
	acme_chall c;
	int stop;

	if (chall_row_into(&c, ncols, v) != 0)
		return 1;
	stop = e->fn(&c, e->arg);
	acme_chall_clear(&c);
	return stop;
}

int
acme_db_chall_each(store *db, const char *authz, int (*fn)(const acme_chall *c, void *arg),
    void *arg, tg_err *err)
{
	/* Ordered by an expression, not the column: ordered by id, SQLite walks
	 * the primary key through every challenge of the CA instead of taking
	 * the authorization's few from its index and sorting them. */
	static const char sql[] = "SELECT " CHALL_COLS
		" FROM tlsgate_acme_challenges WHERE ca = $1 AND authz = $2 ORDER BY id || ''";
	const char *params[] = { store_ca_name(db), authz };
	struct each_chall e = { fn, arg };

	return store_sql(db, sql, params, 2, each_chall_row, &e, NULL, err);
}

int
acme_db_chall_claim(store *db, const char *id, int64_t now, int64_t stale, long *changes,
    tg_err *err)
{
	static const char sql[] = "UPDATE tlsgate_acme_challenges SET status = 'processing',"
		" started = $3 WHERE ca = $1 AND id = $2"
		" AND (status = 'pending' OR (status = 'processing' AND started < $4))"
		" AND EXISTS (SELECT 1 FROM tlsgate_acme_authzs a WHERE a.ca = $1"
		"   AND a.id = tlsgate_acme_challenges.authz AND a.status = 'pending'"
		"   AND a.expires > $3)";
	char t[24], s[24];
	const char *params[] = { store_ca_name(db), id, t, s };

	num(t, now);
	num(s, stale);
	return store_sql(db, sql, params, 4, NULL, NULL, changes, err);
}

int
acme_db_chall_done(store *db, const acme_chall *c, const acme_authz *a, int ok,
    const char *error, int64_t now, tg_err *err)
{
	static const char chall[] = "UPDATE tlsgate_acme_challenges SET status = $3,"
		" validated = $4, error = $5 WHERE ca = $1 AND id = $2 AND status = 'processing'";
	static const char authz[] = "UPDATE tlsgate_acme_authzs SET status = $3"
		" WHERE ca = $1 AND id = $2 AND status = 'pending'";
	static const char ready[] = "UPDATE tlsgate_acme_orders SET status = 'ready'"
		" WHERE ca = $1 AND id = $2 AND status = 'pending' AND NOT EXISTS"
		" (SELECT 1 FROM tlsgate_acme_authzs WHERE ca = $1 AND order_id = $2"
		"  AND status <> 'valid')";
	static const char failed[] = "UPDATE tlsgate_acme_orders SET status = 'invalid', error = $3"
		" WHERE ca = $1 AND id = $2 AND status = 'pending'";
	const char *status = ok ? "valid" : "invalid";
	char t[24];
	const char *pc[] = { store_ca_name(db), c->id, status, ok ? t : NULL, error };
	const char *pa[] = { store_ca_name(db), a->id, status };
	const char *po[] = { store_ca_name(db), a->order_id, error };
	long changes = 0;

	num(t, now);
	if (store_sql_begin(db, err) != 0)
		return -1;
	if (store_sql(db, chall, pc, 5, NULL, NULL, &changes, err) != 0)
		goto fail;
	if (changes == 1 && (store_sql(db, authz, pa, 3, NULL, NULL, NULL, err) != 0 ||
		store_sql(db, ok ? ready : failed, po, ok ? 2 : 3, NULL, NULL, NULL, err) != 0))
		goto fail;
	if (store_sql_commit(db, err) != 0)
		goto fail;
	return 0;
fail:
	store_sql_rollback(db);
	return -1;
}
