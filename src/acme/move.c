/* The ACME server's tables moved with the inventory (`tlsgate ca store
 * --move-to`): every row of the CA, in the transaction that copies the
 * certificates. The old store is the truth: a row already in the new one
 * (a move there and back) takes the old store's values; a row that clashes
 * with another (an account key another account holds there) stops the move.
 * The nonce key and the used nonces move too, so a nonce handed out before
 * the move cannot be replayed after it. */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "acme/srv.h"

#define MOVE_COLS_MAX 12

#define NO_COUNT ((size_t)-1)

/* One table: its columns after "ca" (the first is the row's key with ca),
 * read with sel, written with put ($1 the target's CA, then the columns);
 * count: where acme_move_stats counts its rows, or NO_COUNT. */
struct move_table {
	const char *name;
	int ncols;
	const char *sel, *put;
	size_t count;
};

#define UPSERT(key) " ON CONFLICT (ca, " key ") DO UPDATE SET "

static const struct move_table tables[] = {
	{ "tlsgate_acme_keys", 2,
	  "SELECT name, value FROM tlsgate_acme_keys WHERE ca = $1",
	  "INSERT INTO tlsgate_acme_keys (ca, name, value) VALUES ($1, $2, $3)"
	  UPSERT("name") "value = excluded.value", NO_COUNT },
	{ "tlsgate_acme_accounts", 7,
	  "SELECT id, thumbprint, jwk, status, contact, eab_kid, created"
	  " FROM tlsgate_acme_accounts WHERE ca = $1",
	  "INSERT INTO tlsgate_acme_accounts (ca, id, thumbprint, jwk, status, contact, eab_kid,"
	  " created) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
	  UPSERT("id") "thumbprint = excluded.thumbprint, jwk = excluded.jwk,"
	  " status = excluded.status, contact = excluded.contact, eab_kid = excluded.eab_kid,"
	  " created = excluded.created", offsetof(acme_move_stats, accounts) },
	{ "tlsgate_acme_eab", 6,
	  "SELECT kid, hmac, name, created, account, revoked FROM tlsgate_acme_eab WHERE ca = $1",
	  "INSERT INTO tlsgate_acme_eab (ca, kid, hmac, name, created, account, revoked)"
	  " VALUES ($1, $2, $3, $4, $5, $6, $7)"
	  UPSERT("kid") "hmac = excluded.hmac, name = excluded.name,"
	  " created = excluded.created, account = excluded.account, revoked = excluded.revoked",
	  offsetof(acme_move_stats, eab_keys) },
	{ "tlsgate_acme_orders", 10,
	  "SELECT id, account, status, identifiers, not_before, not_after, expires, error, serial,"
	  " created FROM tlsgate_acme_orders WHERE ca = $1",
	  "INSERT INTO tlsgate_acme_orders (ca, id, account, status, identifiers, not_before,"
	  " not_after, expires, error, serial, created)"
	  " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
	  UPSERT("id") "account = excluded.account, status = excluded.status,"
	  " identifiers = excluded.identifiers, not_before = excluded.not_before,"
	  " not_after = excluded.not_after, expires = excluded.expires, error = excluded.error,"
	  " serial = excluded.serial, created = excluded.created",
	  offsetof(acme_move_stats, orders) },
	{ "tlsgate_acme_authzs", 9,
	  "SELECT id, order_id, pos, account, type, value, status, token, expires"
	  " FROM tlsgate_acme_authzs WHERE ca = $1",
	  "INSERT INTO tlsgate_acme_authzs (ca, id, order_id, pos, account, type, value, status,"
	  " token, expires) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
	  UPSERT("id") "order_id = excluded.order_id, pos = excluded.pos,"
	  " account = excluded.account, type = excluded.type, value = excluded.value,"
	  " status = excluded.status, token = excluded.token, expires = excluded.expires",
	  NO_COUNT },
	{ "tlsgate_acme_challenges", 7,
	  "SELECT id, authz, type, status, validated, started, error"
	  " FROM tlsgate_acme_challenges WHERE ca = $1",
	  "INSERT INTO tlsgate_acme_challenges (ca, id, authz, type, status, validated, started,"
	  " error) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
	  UPSERT("id") "authz = excluded.authz, type = excluded.type,"
	  " status = excluded.status, validated = excluded.validated,"
	  " started = excluded.started, error = excluded.error", NO_COUNT },
	{ "tlsgate_acme_nonces", 2,
	  "SELECT id, issued FROM tlsgate_acme_nonces WHERE ca = $1",
	  "INSERT INTO tlsgate_acme_nonces (ca, id, issued) VALUES ($1, $2, $3)"
	  UPSERT("id") "issued = excluded.issued", NO_COUNT },
};

struct move_rows {
	store *to;
	const struct move_table *t;
	unsigned long n;
	tg_err *err;
	int failed;
};

static int
move_row(void *arg, int ncols, const char *const *vals)
{
	struct move_rows *m = arg;
	const char *params[MOVE_COLS_MAX];

	if (ncols != m->t->ncols) {
		tg_err_set(m->err, TG_ERR_INTERNAL, "%s: %d columns read, %d expected", m->t->name,
		    ncols, m->t->ncols);
		m->failed = 1;
		return 1;
	}
	params[0] = store_ca_name(m->to);
	memcpy(params + 1, vals, (size_t)ncols * sizeof(*vals));
	if (store_sql(m->to, m->t->put, params, ncols + 1, NULL, NULL, NULL, m->err) != 0) {
		/* Another row holds one of its unique values (an account key). */
		if (m->err != NULL && m->err->cat == TG_ERR_EXISTS) {
			char why[TG_ERR_MSG_MAX];
			snprintf(why, sizeof(why), "%s", m->err->msg);
			tg_err_set(m->err, TG_ERR_EXISTS, "%s row %s clashes with another row of the "
			    "target (%s): it holds ACME state that is not a copy of this CA's; give an "
			    "inventory without it", m->t->name, vals[0] != NULL ? vals[0] : "", why);
		}
		m->failed = 1;
		return 1;
	}
	m->n++;
	return 0;
}

/* The old store has no ACME tables when no ACME server or `acme eab` ever
 * ran on it: nothing to move, and nothing is created in either store.
 * Otherwise both must hold the version of the tables this tlsgate knows
 * (acme_db_init creates them in the new store, refuses another version). */
static int
move_prepare(store *from, store *to, void *arg, tg_err *err)
{
	acme_move_stats *st = arg;
	char version[16];

	memset(st, 0, sizeof(*st));
	if (store_sql_schema_get(from, "acme_schema", version, sizeof(version), err) != 0)
		return -1;
	st->none = version[0] == '\0';
	if (st->none)
		return 0;
	return acme_db_init(from, err) != 0 || acme_db_init(to, err) != 0 ? -1 : 0;
}

static int
move_copy(store *from, store *to, void *arg, tg_err *err)
{
	acme_move_stats *st = arg;
	const char *params[] = { store_ca_name(from) };

	if (st->none)
		return 0;
	for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
		struct move_rows m = { to, &tables[i], 0, err, 0 };
		if (store_sql(from, tables[i].sel, params, 1, move_row, &m, NULL, err) != 0 ||
		    m.failed) {
			tg_err_prefix(err, "copying the ACME server's state");
			return -1;
		}
		if (tables[i].count != NO_COUNT)
			*(unsigned long *)((char *)st + tables[i].count) = m.n;
		st->rows += m.n;
	}
	return 0;
}

store_copy_module
acme_move_module(acme_move_stats *st)
{
	store_copy_module m = { move_prepare, move_copy, st };

	return m;
}
