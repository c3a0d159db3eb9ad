/* What the operator of an ACME server does from a shell: external account
 * binding keys (add, list, revoke) and listings of accounts and orders. */
#include <inttypes.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "acme/srv.h"
#include "tlsgate/pki.h"
#include "tlsgate/util.h"

static int
ready(tg_ca *ca, tg_err *err)
{
	return acme_db_init(tg_ca_store(ca), err);
}

int
acme_eab_add(tg_ca *ca, const char *name, acme_eab_new *out, tg_err *err)
{
	static const char sql[] = "INSERT INTO tlsgate_acme_eab (ca, kid, hmac, name, created)"
		" VALUES ($1, $2, $3, $4, $5)";
	store *db = tg_ca_store(ca);
	char t[24], rnd[32];
	const char *params[] = { store_ca_name(db), out->kid, out->hmac, name ? name : "", t };

	memset(out, 0, sizeof(*out));
	if (name != NULL && (strlen(name) > 128 || util_find_control(name, strlen(name)) >= 0))
		return tg_err_set(err, TG_ERR_USAGE, "--name must be at most 128 characters of text");
	snprintf(t, sizeof(t), "%" PRId64, (int64_t)time(NULL));
	/* "eab-" first: a base64url id may begin with '-', which a command
	 * line (`acme eab revoke KID`, certbot --eab-kid KID) reads as an option. */
	if (ready(ca, err) != 0 || acme_rand_id(rnd, sizeof(rnd), 12, err) != 0 ||
	    acme_rand_id(out->hmac, sizeof(out->hmac), 32, err) != 0)
		return -1;
	snprintf(out->kid, sizeof(out->kid), "eab-%s", rnd);
	if (store_sql(db, sql, params, 5, NULL, NULL, NULL, err) != 0) {
		OPENSSL_cleanse(out, sizeof(*out));
		return -1;
	}
	return 0;
}

int
acme_eab_revoke(tg_ca *ca, const char *kid, tg_err *err)
{
	static const char sql[] = "UPDATE tlsgate_acme_eab SET revoked = $3"
		" WHERE ca = $1 AND kid = $2 AND revoked IS NULL";
	store *db = tg_ca_store(ca);
	char t[24];
	const char *params[] = { store_ca_name(db), kid, t };
	long changes = 0;

	snprintf(t, sizeof(t), "%" PRId64, (int64_t)time(NULL));
	if (ready(ca, err) != 0 || store_sql(db, sql, params, 3, NULL, NULL, &changes, err) != 0)
		return -1;
	if (changes != 1)
		return tg_err_set(err, TG_ERR_USAGE, "no unrevoked EAB key %s; list them with "
		    "`tlsgate acme eab list`", kid);
	return 0;
}

/* A row as a JSON object: columns named by cols, "#" marking numbers (time
 * columns as RFC 3339 too), "@" JSON text. */
struct rows {
	json_t *arr;
	const char *const *cols;
	size_t ncols;
};

static int
row_json(void *arg, int ncols, const char *const *v)
{
	struct rows *r = arg;
	json_t *o = json_object();

	for (size_t i = 0; i < r->ncols && (int)i < ncols; i++) {
		const char *name = r->cols[i] + 1;
		char kind = r->cols[i][0];
		if (v[i] == NULL) {
			json_object_set_new(o, name, json_null());
		} else if (kind == '#') {
			char when[64];
			int64_t t = strtoll(v[i], NULL, 10);
			pki_time_format(t, when, sizeof(when));
			json_object_set_new(o, name, json_string(when));
		} else if (kind == 'n') {
			json_object_set_new(o, name, json_integer(strtoll(v[i], NULL, 10)));
		} else if (kind == '@') {
			json_t *j = json_loads(v[i], 0, NULL);
			json_object_set_new(o, name, j != NULL ? j : json_string(v[i]));
		} else {
			json_object_set_new(o, name, json_string(v[i]));
		}
	}
	json_array_append_new(r->arr, o);
	return 0;
}

static json_t *
list(tg_ca *ca, const char *sql, const char *const *cols, size_t ncols, tg_err *err)
{
	store *db = tg_ca_store(ca);
	const char *params[] = { store_ca_name(db) };
	struct rows r = { json_array(), cols, ncols };

	if (r.arr == NULL || ready(ca, err) != 0 ||
	    store_sql(db, sql, params, 1, row_json, &r, NULL, err) != 0) {
		json_decref(r.arr);
		return NULL;
	}
	return r.arr;
}

json_t *
acme_eab_list(tg_ca *ca, tg_err *err)
{
	static const char sql[] = "SELECT kid, name, created, account, revoked"
		" FROM tlsgate_acme_eab WHERE ca = $1 ORDER BY created, kid";
	static const char *const cols[] = { "skid", "sname", "#created", "saccount", "#revoked" };

	return list(ca, sql, cols, 5, err);
}

json_t *
acme_accounts_list(tg_ca *ca, tg_err *err)
{
	static const char sql[] = "SELECT id, status, contact, thumbprint, eab_kid, created,"
		" (SELECT COUNT(*) FROM tlsgate_acme_orders o WHERE o.ca = a.ca AND o.account = a.id)"
		" FROM tlsgate_acme_accounts a WHERE ca = $1 ORDER BY created, id";
	static const char *const cols[] = { "sid", "sstatus", "@contact", "skey_thumbprint",
		"seab_kid", "#created", "norders" };

	return list(ca, sql, cols, 7, err);
}

json_t *
acme_orders_list(tg_ca *ca, tg_err *err)
{
	static const char sql[] = "SELECT id, account, status, identifiers, serial, created, expires,"
		" error FROM tlsgate_acme_orders WHERE ca = $1 ORDER BY created, id";
	static const char *const cols[] = { "sid", "saccount", "sstatus", "@identifiers", "sserial",
		"#created", "#expires", "@error" };

	return list(ca, sql, cols, 8, err);
}
