/* The ACME resources (RFC 8555 section 7): a table of routes; every POST
 * goes through one gate (JWS form, url, key by jwk or kid, algorithm,
 * signature, then the nonce) before its handler runs. Handlers read and
 * write only the store, so any server on it answers any request. */
#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "acme/srv.h"
#include "gateway/gw.h"
#include "tlsgate/ca.h"
#include "tlsgate/pki.h"
#include "tlsgate/util.h"

enum auth { AUTH_GET, AUTH_JWK, AUTH_KID, AUTH_EITHER };

typedef struct hctx {
	acme_thr *t;
	acme_srv *srv;
	store *db;
	const acme_req *q;
	acme_resp *r;
	acme_problem p;
	acme_jws jws;
	acme_account acct;         /* for kid requests */
	EVP_PKEY *key;             /* the key that signed */
	const char *rest;          /* the path after the route's prefix */
	int64_t now;
} hctx;

void
acme_time_rfc3339(int64_t t, char *buf, size_t len)
{
	pki_time_format(t, buf, len);
}

void
acme_resp_header(acme_resp *r, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (r->hlen >= sizeof(r->hdrs))
		return;
	va_start(ap, fmt);
	n = vsnprintf(r->hdrs + r->hlen, sizeof(r->hdrs) - r->hlen, fmt, ap);
	va_end(ap);
	if (n > 0 && (size_t)n < sizeof(r->hdrs) - r->hlen)
		r->hlen += (size_t)n;
	else
		r->hdrs[r->hlen] = '\0'; /* a line that did not fit is left out whole */
}

void
acme_resp_clear(acme_resp *r)
{
	free(r->body);
	memset(r, 0, sizeof(*r));
}

static void
set_body(acme_resp *r, int status, const char *ctype, char *body)
{
	free(r->body);
	r->status = status;
	r->ctype = ctype;
	r->body = body;
	r->body_len = body != NULL ? strlen(body) : 0;
}

void
acme_resp_problem(acme_srv *srv, acme_resp *r, const acme_problem *p)
{
	(void)srv;
	set_body(r, acme_problem_status(p->type), "application/problem+json", acme_problem_json(p));
	r->problem = p->type;
	r->nonce = 1;
	if (p->type == ACME_P_METHOD)
		acme_resp_header(r, "Allow: POST\r\n");
}

/* Fails the request with the problem in h->p; returns -1 for `return fail(h)`. */
static int
fail(hctx *h)
{
	acme_resp_problem(h->srv, h->r, &h->p);
	return -1;
}

static int
problem(hctx *h, acme_ptype type, const char *fmt, ...) TG_PRINTF(3, 4);

static int
problem(hctx *h, acme_ptype type, const char *fmt, ...)
{
	va_list ap;

	h->p.type = type;
	va_start(ap, fmt);
	vsnprintf(h->p.detail, sizeof(h->p.detail), fmt, ap);
	va_end(ap);
	return fail(h);
}

/* A store failure: logged with its reason, answered as serverInternal. */
static int
internal(hctx *h, const tg_err *err)
{
	gw_log_err("acme: %s %s: %s", h->q->method, h->q->path, err->msg);
	return problem(h, ACME_P_SERVER_INTERNAL,
	    "the server could not read or write its state; retry later");
}

static int
reply_json(hctx *h, int status, json_t *obj)
{
	char *text = obj != NULL ? json_dumps(obj, JSON_COMPACT) : NULL;

	json_decref(obj);
	if (text == NULL) {
		tg_err e = { TG_ERR_INTERNAL, "out of memory" };
		return internal(h, &e);
	}
	set_body(h->r, status, "application/json", text);
	h->r->nonce = 1;
	return 0;
}

static void
url_of(hctx *h, char *out, size_t len, const char *kind, const char *id)
{
	snprintf(out, len, "%s/acme/%s/%s", h->srv->base, kind, id);
}

static json_t *
url_json(hctx *h, const char *kind, const char *id)
{
	char url[ACME_URL_MAX];

	url_of(h, url, sizeof(url), kind, id);
	return json_string(url);
}

static void
location(hctx *h, const char *kind, const char *id)
{
	char url[ACME_URL_MAX];

	url_of(h, url, sizeof(url), kind, id);
	acme_resp_header(h->r, "Location: %s\r\n", url);
}

static void
link_up(hctx *h, const char *kind, const char *id)
{
	char url[ACME_URL_MAX];

	url_of(h, url, sizeof(url), kind, id);
	acme_resp_header(h->r, "Link: <%s>;rel=\"up\"\r\n", url);
}

static void
set_time(json_t *obj, const char *key, int64_t t)
{
	char buf[64];

	acme_time_rfc3339(t, buf, sizeof(buf));
	json_object_set_new(obj, key, json_string(buf));
}

/* An id from a path: base64url characters only, bounded. */
static int
path_id(const char *s, size_t n, char out[ACME_ID_MAX])
{
	if (n == 0 || n >= ACME_ID_MAX)
		return -1;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '_'))
			return -1;
	}
	memcpy(out, s, n);
	out[n] = '\0';
	return 0;
}

static int
not_found(hctx *h, const char *what)
{
	return problem(h, ACME_P_NOT_FOUND, "no such %s on this server", what);
}

/* ---- objects ---------------------------------------------------------- */

static json_t *
account_json(hctx *h, const acme_account *a)
{
	json_t *o = json_object(), *contact = a->contact ? json_loads(a->contact, 0, NULL) : NULL;
	char url[ACME_URL_MAX];

	json_object_set_new(o, "status", json_string(a->status));
	json_object_set_new(o, "contact", contact != NULL ? contact : json_array());
	url_of(h, url, sizeof(url), "acct", a->id);
	strncat(url, "/orders", sizeof(url) - strlen(url) - 1);
	json_object_set_new(o, "orders", json_string(url));
	set_time(o, "createdAt", a->created);
	return o;
}

static const char *
order_status(const acme_order *o, int64_t now)
{
	if ((strcmp(o->status, "pending") == 0 || strcmp(o->status, "ready") == 0) &&
	    o->expires <= now)
		return "invalid";
	return o->status;
}

static int
add_authz_url(const acme_authz *a, void *arg)
{
	void **x = arg;
	hctx *h = x[0];

	json_array_append_new(x[1], url_json(h, "authz", a->id));
	return 0;
}

static json_t *
order_json(hctx *h, const acme_order *o, tg_err *err)
{
	json_t *obj = json_object(), *authzs = json_array();
	json_t *ids = json_loads(o->identifiers, 0, NULL);
	void *x[2] = { h, authzs };
	char url[ACME_URL_MAX];

	json_object_set_new(obj, "status", json_string(order_status(o, h->now)));
	set_time(obj, "expires", o->expires);
	json_object_set_new(obj, "identifiers", ids != NULL ? ids : json_array());
	if (o->not_after > 0)
		set_time(obj, "notAfter", o->not_after);
	if (acme_db_authz_each(h->db, o->id, add_authz_url, x, err) != 0) {
		json_decref(obj);
		json_decref(authzs);
		return NULL;
	}
	json_object_set_new(obj, "authorizations", authzs);
	json_object_set_new(obj, "finalize", url_json(h, "finalize", o->id));
	if (o->serial[0] != '\0') {
		url_of(h, url, sizeof(url), "cert", o->serial);
		json_object_set_new(obj, "certificate", json_string(url));
	}
	if (o->error != NULL) {
		json_t *e = json_loads(o->error, 0, NULL);
		if (e != NULL)
			json_object_set_new(obj, "error", e);
	}
	return obj;
}

static json_t *
chall_json(hctx *h, const acme_authz *a, const acme_chall *c)
{
	json_t *o = json_object();

	json_object_set_new(o, "type", json_string(c->type));
	json_object_set_new(o, "url", url_json(h, "chall", c->id));
	json_object_set_new(o, "status", json_string(c->status));
	json_object_set_new(o, "token", json_string(a->token));
	if (c->validated > 0)
		set_time(o, "validated", c->validated);
	if (c->error != NULL) {
		json_t *e = json_loads(c->error, 0, NULL);
		if (e != NULL)
			json_object_set_new(o, "error", e);
	}
	return o;
}

static const char *
authz_status(const acme_authz *a, int64_t now)
{
	if ((strcmp(a->status, "pending") == 0 || strcmp(a->status, "valid") == 0) &&
	    a->expires <= now)
		return "expired";
	return a->status;
}

struct chall_acc {
	hctx *h;
	const acme_authz *a;
	json_t *arr;
};

static int
add_chall(const acme_chall *c, void *arg)
{
	struct chall_acc *acc = arg;

	/* Once one challenge is valid, only it is shown (RFC 8555 7.1.4). */
	if (strcmp(acc->a->status, "valid") == 0 && strcmp(c->status, "valid") != 0)
		return 0;
	json_array_append_new(acc->arr, chall_json(acc->h, acc->a, c));
	return 0;
}

static json_t *
authz_json(hctx *h, const acme_authz *a, tg_err *err)
{
	json_t *o = json_object(), *ident = json_object();
	struct chall_acc acc = { h, a, json_array() };
	int wildcard = strncmp(a->value, "*.", 2) == 0;

	json_object_set_new(ident, "type", json_string(a->type));
	/* A wildcard's authorization is for its base name (RFC 8555 7.1.3). */
	json_object_set_new(ident, "value", json_string(wildcard ? a->value + 2 : a->value));
	json_object_set_new(o, "identifier", ident);
	if (wildcard)
		json_object_set_new(o, "wildcard", json_true());
	json_object_set_new(o, "status", json_string(authz_status(a, h->now)));
	set_time(o, "expires", a->expires);
	if (acme_db_chall_each(h->db, a->id, add_chall, &acc, err) != 0) {
		json_decref(o);
		json_decref(acc.arr);
		return NULL;
	}
	json_object_set_new(o, "challenges", acc.arr);
	return o;
}

/* ---- the POST gate ------------------------------------------------------ */

/* The account's key: from the thread's cache while the stored thumbprint
 * is the one it was decoded with; a new reference. */
static EVP_PKEY *
account_key(hctx *h)
{
	acme_thr *t = h->t;
	json_t *jwk;
	EVP_PKEY *key;
	unsigned slot;

	for (size_t i = 0; i < ACME_KEY_CACHE; i++)
		if (t->keys[i].key != NULL && strcmp(t->keys[i].id, h->acct.id) == 0 &&
		    strcmp(t->keys[i].thumbprint, h->acct.thumbprint) == 0) {
			EVP_PKEY_up_ref(t->keys[i].key);
			return t->keys[i].key;
		}
	jwk = h->acct.jwk ? json_loads(h->acct.jwk, 0, NULL) : NULL;
	key = jwk != NULL ? acme_jwk_to_stored_key(jwk, &h->p) : NULL;
	json_decref(jwk);
	if (key == NULL)
		return NULL;
	slot = t->next_key++ % ACME_KEY_CACHE;
	EVP_PKEY_free(t->keys[slot].key);
	snprintf(t->keys[slot].id, sizeof(t->keys[slot].id), "%s", h->acct.id);
	snprintf(t->keys[slot].thumbprint, sizeof(t->keys[slot].thumbprint), "%s",
	    h->acct.thumbprint);
	t->keys[slot].key = key;
	EVP_PKEY_up_ref(key);
	return key;
}

/* The account a kid names: base/acme/acct/ID of a valid account. */
static int
load_kid(hctx *h)
{
	char prefix[ACME_URL_MAX], id[ACME_ID_MAX];
	size_t n;
	tg_err err = { 0 };
	int found;

	snprintf(prefix, sizeof(prefix), "%s/acme/acct/", h->srv->base);
	n = strlen(prefix);
	if (strncmp(h->jws.kid, prefix, n) != 0 ||
	    path_id(h->jws.kid + n, strlen(h->jws.kid + n), id) != 0)
		return problem(h, ACME_P_ACCOUNT_DOES_NOT_EXIST,
		    "kid '%.200s' is not an account URL of this server (%.200s...)", h->jws.kid, prefix);
	if ((found = acme_db_account_get(h->db, id, &h->acct, &err)) < 0)
		return internal(h, &err);
	if (found == 0)
		return problem(h, ACME_P_ACCOUNT_DOES_NOT_EXIST, "no account %.64s on this server; "
		    "create one with newAccount", id);
	if (strcmp(h->acct.status, "valid") != 0)
		return problem(h, ACME_P_UNAUTHORIZED, "account %.64s is %s; it can no longer be used",
		    id, h->acct.status);
	if ((h->key = account_key(h)) == NULL) {
		tg_err e = { TG_ERR_INTERNAL, "" };
		snprintf(e.msg, sizeof(e.msg), "account %s: stored key does not load: %s", id,
		    h->p.detail);
		return internal(h, &e);
	}
	snprintf(h->r->account, sizeof(h->r->account), "%s", id);
	return 0;
}

/* A nonce to be recorded as used, with the concurrent requests' ones. */
struct nonce_use {
	const char *id;
	int64_t issued;
	int fresh, rc;
	tg_err err;
};

/* Runs on the leader's store connection: the nonces' inserts in one
 * transaction, each still refused on its own if its id is there already
 * (the unique key decides, across all servers of the store). A failed
 * statement or commit fails the whole group, which then recorded none. */
static void
nonce_group(void *ctx, void *const *items, size_t n)
{
	store *db = ctx;
	tg_err err = { 0 };
	int rc = store_sql_begin(db, &err);

	for (size_t i = 0; rc == 0 && i < n; i++) {
		struct nonce_use *u = items[i];
		rc = acme_db_nonce_use(db, u->id, u->issued, &u->fresh, &err);
	}
	if (rc == 0)
		rc = store_sql_commit(db, &err);
	if (rc != 0)
		store_sql_rollback(db);
	for (size_t i = 0; i < n; i++) {
		struct nonce_use *u = items[i];
		u->rc = rc;
		if (rc != 0)
			u->err = err;
	}
}

static int
check_nonce(hctx *h)
{
	char id[33];
	struct nonce_use u = { id, 0, 0, 0, { 0 } };

	if (acme_nonce_check(h->srv->nonce_key, h->jws.nonce, h->now, ACME_NONCE_AGE, id,
		&u.issued) != 0)
		return problem(h, ACME_P_BAD_NONCE,
		    "the nonce is not one this server handed out, or older than %d s; retry with "
		    "the Replay-Nonce of this answer", ACME_NONCE_AGE);
	acme_group_join(&h->srv->nonceq, h->db, &u);
	if (u.rc != 0)
		return internal(h, &u.err);
	if (!u.fresh)
		return problem(h, ACME_P_BAD_NONCE,
		    "the nonce was used already (each nonce is good for one request); retry with the "
		    "Replay-Nonce of this answer");
	return 0;
}

static int
post_gate(hctx *h, enum auth auth)
{
	char want[ACME_URL_MAX * 2];

	if (strcmp(h->q->method, "POST") != 0)
		return problem(h, ACME_P_METHOD, "%s is not allowed here: ACME resources are read with "
		    "POST-as-GET (RFC 8555 6.3)", h->q->method);
	if (strcmp(h->q->content_type, "application/jose+json") != 0)
		return problem(h, ACME_P_UNSUPPORTED_MEDIA,
		    "the request's Content-Type must be application/jose+json");
	if (acme_jws_parse(h->q->body, h->q->body_len, &h->jws, &h->p) != 0)
		return fail(h);
	snprintf(want, sizeof(want), "%s%s", h->srv->base, h->q->path);
	if (strcmp(h->jws.url, want) != 0)
		return problem(h, ACME_P_UNAUTHORIZED,
		    "the JWS url '%.200s' is not this request's URL '%.200s' (RFC 8555 6.4)",
		    h->jws.url, want);
	if (h->jws.jwk != NULL) {
		if (auth == AUTH_KID)
			return problem(h, ACME_P_MALFORMED,
			    "this resource takes requests signed by an account (kid), not by a jwk");
		h->key = h->jws.jwk;
		EVP_PKEY_up_ref(h->key);
	} else {
		if (auth == AUTH_JWK)
			return problem(h, ACME_P_MALFORMED,
			    "newAccount takes the account's key as a jwk, not a kid");
		if (load_kid(h) != 0)
			return -1;
		if (!acme_alg_fits_key(h->jws.alg, h->key))
			return problem(h, ACME_P_BAD_SIG_ALG,
			    "alg %s does not fit the account's key", h->jws.alg);
	}
	if (acme_jws_verify(&h->jws, h->key, &h->p) != 0)
		return fail(h);
	return check_nonce(h);
}

/* ---- directory, nonces, health ----------------------------------------- */

static int
h_directory(hctx *h)
{
	json_t *d = json_object(), *meta = json_object();
	char url[ACME_URL_MAX];
	static const char *const names[][2] = {
		{ "newNonce", "new-nonce" }, { "newAccount", "new-account" },
		{ "newOrder", "new-order" }, { "revokeCert", "revoke-cert" },
		{ "keyChange", "key-change" },
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(url, sizeof(url), "%s/acme/%s", h->srv->base, names[i][1]);
		json_object_set_new(d, names[i][0], json_string(url));
	}
	json_object_set_new(meta, "externalAccountRequired",
	    json_boolean(h->srv->o->eab_required));
	json_object_set_new(d, "meta", meta);
	return reply_json(h, 200, d);
}

static int
h_new_nonce(hctx *h)
{
	h->r->status = strcmp(h->q->method, "HEAD") == 0 ? 200 : 204;
	h->r->nonce = 1;
	acme_resp_header(h->r, "Cache-Control: no-store\r\n");
	return 0;
}

/* ---- accounts ----------------------------------------------------------- */

/* contact: an array of at most ACME_CONTACTS_MAX mailto: URLs, one address
 * each, no header fields (RFC 8555 7.3). */
static int
check_contact(hctx *h, const json_t *contact, char **text)
{
	size_t i;
	json_t *v;

	*text = NULL;
	if (contact == NULL) {
		*text = strdup("[]");
		return 0;
	}
	if (!json_is_array(contact) || json_array_size(contact) > ACME_CONTACTS_MAX)
		return problem(h, ACME_P_INVALID_CONTACT,
		    "contact must be an array of at most %d mailto: URLs", ACME_CONTACTS_MAX);
	json_array_foreach(contact, i, v) {
		const char *s = json_string_value(v), *at;
		if (s == NULL || strlen(s) > ACME_CONTACT_LEN)
			return problem(h, ACME_P_INVALID_CONTACT,
			    "each contact must be a string of at most %d characters", ACME_CONTACT_LEN);
		if (strncmp(s, "mailto:", 7) != 0)
			return problem(h, ACME_P_UNSUPPORTED_CONTACT,
			    "contact '%.100s': only mailto: contacts are supported", s);
		at = strchr(s + 7, '@');
		if (at == NULL || at == s + 7 || at[1] == '\0' || strpbrk(s + 7, "?,;<> \"") != NULL ||
		    util_find_control(s, strlen(s)) >= 0 || strchr(at + 1, '@') != NULL)
			return problem(h, ACME_P_INVALID_CONTACT,
			    "contact '%.100s' is not one e-mail address (mailto:user@example.com, no "
			    "header fields)", s);
	}
	*text = json_dumps(contact, JSON_COMPACT);
	return 0;
}

static int
eab_key_for(const char *kid, unsigned char *key, size_t *keylen, void *arg)
{
	hctx *h = arg;
	acme_eab_key k;
	tg_err err = { 0 };

	/* A revoked or used key still verifies here: binding it then fails
	 * saying so, rather than as an unknown kid. */
	if (acme_db_eab_get(h->db, kid, &k, &err) != 1 || *keylen < k.keylen) {
		OPENSSL_cleanse(&k, sizeof(k));
		return -1;
	}
	memcpy(key, k.key, k.keylen);
	*keylen = k.keylen;
	OPENSSL_cleanse(&k, sizeof(k));
	return 0;
}

static int
reply_account(hctx *h, int status, const acme_account *a)
{
	location(h, "acct", a->id);
	snprintf(h->r->account, sizeof(h->r->account), "%s", a->id);
	return reply_json(h, status, account_json(h, a));
}

static int
create_account(hctx *h, const char *thumb, const json_t *payload)
{
	acme_account a = { 0 };
	const json_t *eab = json_object_get(payload, "externalAccountBinding");
	json_t *jwk = NULL;
	char kid[ACME_URL_MAX] = "";
	tg_err err = { 0 };
	long bound = 0;
	int rc = -1;

	if (h->srv->o->eab_required && eab == NULL)
		return problem(h, ACME_P_EAB_REQUIRED, "this server requires an external account "
		    "binding: ask its operator for a key (`tlsgate acme eab add`) and register with "
		    "it (certbot --eab-kid KID --eab-hmac-key KEY)");
	if (acme_rand_id(a.id, sizeof(a.id), 16, &err) != 0)
		return internal(h, &err);
	if (eab != NULL) {
		char outer[ACME_URL_MAX * 2];
		snprintf(outer, sizeof(outer), "%s%s", h->srv->base, h->q->path);
		if (acme_eab_verify(eab, h->key, outer, eab_key_for, h, kid, &h->p) != 0)
			return fail(h);
	}
	if (check_contact(h, json_object_get(payload, "contact"), &a.contact) != 0)
		return -1;
	if ((jwk = acme_jwk_from_key(h->key)) == NULL || (a.jwk = json_dumps(jwk, JSON_COMPACT |
		JSON_SORT_KEYS)) == NULL || a.contact == NULL) {
		err.cat = TG_ERR_INTERNAL;
		snprintf(err.msg, sizeof(err.msg), "out of memory");
		rc = internal(h, &err);
		goto out;
	}
	snprintf(a.thumbprint, sizeof(a.thumbprint), "%s", thumb);
	snprintf(a.status, sizeof(a.status), "valid");
	snprintf(a.eab_kid, sizeof(a.eab_kid), "%s", kid);
	a.created = h->now;
	if (store_sql_begin(h->db, &err) != 0) {
		rc = internal(h, &err);
		goto out;
	}
	if (acme_db_account_insert(h->db, &a, &err) != 0 ||
	    (kid[0] != '\0' && acme_db_eab_bind(h->db, kid, a.id, &bound, &err) != 0)) {
		store_sql_rollback(h->db);
		/* Two newAccount requests with one key: the other one won. */
		rc = err.cat == TG_ERR_EXISTS ?
		    problem(h, ACME_P_MALFORMED, "an account for this key was created meanwhile; "
		        "retry to get it") : internal(h, &err);
		goto out;
	}
	if (kid[0] != '\0' && bound != 1) {
		store_sql_rollback(h->db);
		rc = problem(h, ACME_P_UNAUTHORIZED, "the external account binding key %.64s is "
		    "revoked or bound to another account already", kid);
		goto out;
	}
	if (store_sql_commit(h->db, &err) != 0) {
		store_sql_rollback(h->db);
		rc = internal(h, &err);
		goto out;
	}
	atomic_fetch_add_explicit(&h->srv->m.accounts, 1, memory_order_relaxed);
	gw_log("acme: new account %s%s%s", a.id, kid[0] ? " bound to EAB key " : "", kid);
	rc = reply_account(h, 201, &a);
out:
	json_decref(jwk);
	acme_account_clear(&a);
	return rc;
}

static int
h_new_account(hctx *h)
{
	char thumb[44];
	const json_t *pl = h->jws.payload;
	acme_account have = { 0 };
	tg_err err = { 0 };
	int found, rc;

	if (pl == NULL || !json_is_object(pl))
		return problem(h, ACME_P_MALFORMED, "newAccount needs a JSON object as its payload");
	if (acme_jwk_thumbprint(h->key, thumb) != 0)
		return problem(h, ACME_P_BAD_PUBLIC_KEY, "cannot compute the key's thumbprint");
	if ((found = acme_db_account_by_thumb(h->db, thumb, &have, &err)) < 0)
		return internal(h, &err);
	if (found) {
		rc = strcmp(have.status, "valid") != 0 ?
		    problem(h, ACME_P_UNAUTHORIZED, "the account of this key is %s", have.status) :
		    reply_account(h, 200, &have);
		acme_account_clear(&have);
		return rc;
	}
	if (json_is_true(json_object_get(pl, "onlyReturnExisting")))
		return problem(h, ACME_P_ACCOUNT_DOES_NOT_EXIST, "no account has this key");
	return create_account(h, thumb, pl);
}

static int
h_account_orders(hctx *h)
{
	json_t *o = json_object(), *arr = json_array();
	tg_err err = { 0 };

	if (acme_db_account_orders(h->db, h->acct.id, arr, h->srv->base, &err) != 0) {
		json_decref(o);
		json_decref(arr);
		return internal(h, &err);
	}
	json_object_set_new(o, "orders", arr);
	return reply_json(h, 200, o);
}

static int
h_account(hctx *h)
{
	const char *slash = strchr(h->rest, '/');
	char id[ACME_ID_MAX], *contact = NULL;
	const json_t *pl = h->jws.payload, *st;
	tg_err err = { 0 };
	int rc;

	if (path_id(h->rest, slash ? (size_t)(slash - h->rest) : strlen(h->rest), id) != 0 ||
	    (slash != NULL && strcmp(slash, "/orders") != 0))
		return not_found(h, "account");
	if (strcmp(id, h->acct.id) != 0)
		return problem(h, ACME_P_UNAUTHORIZED, "the request is signed by another account");
	if (slash != NULL)
		return h_account_orders(h);
	if (pl != NULL && !json_is_object(pl))
		return problem(h, ACME_P_MALFORMED, "the payload must be a JSON object");
	st = pl ? json_object_get(pl, "status") : NULL;
	if (st != NULL && (!json_is_string(st) || strcmp(json_string_value(st), "deactivated") != 0))
		return problem(h, ACME_P_MALFORMED, "an account's status can only become deactivated");
	if (pl != NULL && json_object_get(pl, "contact") != NULL &&
	    check_contact(h, json_object_get(pl, "contact"), &contact) != 0)
		return -1;
	rc = acme_db_account_update(h->db, id, contact, st ? "deactivated" : NULL, &err);
	free(contact);
	if (rc != 0)
		return internal(h, &err);
	acme_account_clear(&h->acct);
	if (acme_db_account_get(h->db, id, &h->acct, &err) != 1)
		return internal(h, &err);
	if (st != NULL)
		gw_log("acme: account %s deactivated", id);
	return reply_account(h, 200, &h->acct);
}

static int
h_key_change(hctx *h)
{
	EVP_PKEY *new_key = NULL;
	char acct_url[ACME_URL_MAX], outer[ACME_URL_MAX * 2], thumb[44], *jwk_text = NULL;
	json_t *jwk = NULL;
	acme_account other = { 0 };
	tg_err err = { 0 };
	long changes = 0;
	int rc = -1, found;

	url_of(h, acct_url, sizeof(acct_url), "acct", h->acct.id);
	snprintf(outer, sizeof(outer), "%s%s", h->srv->base, h->q->path);
	if (h->jws.payload == NULL)
		return problem(h, ACME_P_MALFORMED, "keyChange needs the inner JWS as its payload");
	if (acme_keychange_verify(h->jws.payload, outer, acct_url, h->key, &new_key, &h->p) != 0)
		return fail(h);
	if (acme_jwk_thumbprint(new_key, thumb) != 0 || (jwk = acme_jwk_from_key(new_key)) == NULL ||
	    (jwk_text = json_dumps(jwk, JSON_COMPACT | JSON_SORT_KEYS)) == NULL) {
		rc = problem(h, ACME_P_BAD_PUBLIC_KEY, "cannot use the new key");
		goto out;
	}
	if ((found = acme_db_account_by_thumb(h->db, thumb, &other, &err)) < 0) {
		rc = internal(h, &err);
		goto out;
	}
	if (found || acme_db_account_rekey(h->db, h->acct.id, h->acct.thumbprint, thumb, jwk_text,
			 &changes, &err) != 0) {
		if (found || err.cat == TG_ERR_EXISTS) {
			if (found)
				location(h, "acct", other.id);
			h->p.type = ACME_P_MALFORMED;
			snprintf(h->p.detail, sizeof(h->p.detail),
			    "the new key belongs to another account already");
			acme_resp_problem(h->srv, h->r, &h->p);
			h->r->status = 409;
		} else {
			internal(h, &err);
		}
		goto out;
	}
	if (changes != 1) {
		rc = problem(h, ACME_P_UNAUTHORIZED, "the account's key changed meanwhile; retry");
		goto out;
	}
	gw_log("acme: account %s rolled over to key %s", h->acct.id, thumb);
	acme_account_clear(&h->acct);
	if (acme_db_account_get(h->db, h->r->account, &h->acct, &err) != 1) {
		rc = internal(h, &err);
		goto out;
	}
	rc = reply_account(h, 200, &h->acct);
out:
	acme_account_clear(&other);
	EVP_PKEY_free(new_key);
	json_decref(jwk);
	free(jwk_text);
	return rc;
}

/* ---- orders ------------------------------------------------------------- */

/* "2026-01-02T03:04:05Z", fractions of a second allowed. */
static int
parse_time(const char *s, int64_t *out)
{
	struct tm tm = { 0 };
	const char *end;
	int used = 0;

	if (s == NULL || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
		&tm.tm_hour, &tm.tm_min, &tm.tm_sec, &used) != 6 || used != 19)
		return -1;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	end = s + used;
	if (*end == '.')
		for (end++; *end >= '0' && *end <= '9'; end++)
			;
	if (strcmp(end, "Z") != 0)
		return -1;
	*out = (int64_t)timegm(&tm);
	return 0;
}

struct idents {
	json_t *canon;             /* [{"type","value"}] as kept */
	size_t n;
};

static int
read_identifiers(hctx *h, const json_t *arr, struct idents *out)
{
	size_t i;
	json_t *v;

	out->canon = json_array();
	out->n = 0;
	if (!json_is_array(arr) || json_array_size(arr) == 0)
		return problem(h, ACME_P_MALFORMED, "newOrder needs a non-empty \"identifiers\" array");
	if (json_array_size(arr) > ACME_IDENTS_MAX)
		return problem(h, ACME_P_REJECTED_IDENTIFIER,
		    "an order may hold at most %d identifiers; split it", ACME_IDENTS_MAX);
	json_array_foreach(arr, i, v) {
		const char *type = json_string_value(json_object_get(v, "type"));
		const char *value = json_string_value(json_object_get(v, "value"));
		char canon[256];
		json_t *o;
		size_t j;
		json_t *w;

		if (!json_is_object(v) || type == NULL || value == NULL)
			return problem(h, ACME_P_MALFORMED,
			    "identifier %zu must be an object with string \"type\" and \"value\"", i + 1);
		if (acme_ident_check(&h->srv->pol, type, value, canon, &h->p) != 0)
			return fail(h);
		json_array_foreach(out->canon, j, w)
			if (strcmp(json_string_value(json_object_get(w, "type")), type) == 0 &&
			    strcmp(json_string_value(json_object_get(w, "value")), canon) == 0)
				return problem(h, ACME_P_MALFORMED, "identifier %.255s is listed twice",
				    canon);
		o = json_object();
		json_object_set_new(o, "type", json_string(type));
		json_object_set_new(o, "value", json_string(canon));
		json_array_append_new(out->canon, o);
		out->n++;
	}
	return 0;
}

/* The order's validity: notAfter if asked (within --max-validity), notBefore
 * only as "now" (certificates start when they are issued). */
static int
order_dates(hctx *h, const json_t *pl, int64_t *not_after)
{
	const json_t *nb = json_object_get(pl, "notBefore"), *na = json_object_get(pl, "notAfter");
	int64_t t;

	*not_after = 0;
	if (nb != NULL && (parse_time(json_string_value(nb), &t) != 0 || t > h->now + 300))
		return problem(h, ACME_P_MALFORMED, "notBefore must be an RFC 3339 time not in the "
		    "future (certificates start when issued); leave it out");
	if (na == NULL)
		return 0;
	if (parse_time(json_string_value(na), &t) != 0 || t <= h->now)
		return problem(h, ACME_P_MALFORMED, "notAfter must be an RFC 3339 time in the future");
	if (t - h->now > h->srv->pol.max_validity)
		return problem(h, ACME_P_REJECTED_IDENTIFIER,
		    "notAfter is more than %lld days ahead; this server issues for at most that "
		    "(--max-validity)", (long long)(h->srv->pol.max_validity / 86400));
	*not_after = t;
	return 0;
}

/* The challenges an authorization offers. An IP address gets http-01 and
 * tls-alpn-01 (RFC 8738 6: SNI the reverse-DNS name, SAN the address), not
 * dns-01. A wildcard gets dns-01 alone (RFC 8555 7.1.3); dns-01 needs
 * --dns-resolver. */
static const struct offer {
	const char *type;
	char suffix;               /* of the challenge's id: the authorization's, -h */
	int ip, name, wildcard, needs_resolver;
} offers[] = {
	{ "http-01", 'h', 1, 1, 0, 0 },
	{ "tls-alpn-01", 't', 1, 1, 0, 0 },
	{ "dns-01", 'd', 0, 1, 1, 1 },
};

static int
offered(const struct offer *f, const acme_srv *srv, const char *type, const char *value)
{
	if (f->needs_resolver && !srv->pol.dns01)
		return 0;
	if (strcmp(type, "ip") == 0)
		return f->ip;
	return strncmp(value, "*.", 2) == 0 ? f->wildcard : f->name;
}

static int
insert_order(hctx *h, acme_order *o, const struct idents *ids, tg_err *err)
{
	size_t i;
	json_t *v;

	json_array_foreach(ids->canon, i, v) {
		acme_authz a = { 0 };
		acme_chall c = { 0 };
		const char *type = json_string_value(json_object_get(v, "type"));
		if (acme_rand_id(a.id, sizeof(a.id), 16, err) != 0 ||
		    acme_rand_id(a.token, sizeof(a.token), 32, err) != 0)
			return -1;
		snprintf(a.order_id, sizeof(a.order_id), "%s", o->id);
		snprintf(a.account, sizeof(a.account), "%s", o->account);
		snprintf(a.type, sizeof(a.type), "%s", type);
		snprintf(a.value, sizeof(a.value), "%s", json_string_value(json_object_get(v, "value")));
		snprintf(a.status, sizeof(a.status), "pending");
		a.expires = o->expires;
		if (acme_db_authz_insert(h->db, &a, (int)i, err) != 0)
			return -1;
		snprintf(c.authz, sizeof(c.authz), "%s", a.id);
		snprintf(c.status, sizeof(c.status), "pending");
		for (size_t k = 0; k < sizeof(offers) / sizeof(offers[0]); k++) {
			if (!offered(&offers[k], h->srv, type, a.value))
				continue;
			snprintf(c.id, sizeof(c.id), "%.40s-%c", a.id, offers[k].suffix);
			snprintf(c.type, sizeof(c.type), "%s", offers[k].type);
			if (acme_db_chall_insert(h->db, &c, err) != 0)
				return -1;
		}
	}
	return acme_db_order_insert(h->db, o, err);
}

static int
h_new_order(hctx *h)
{
	const json_t *pl = h->jws.payload;
	struct idents ids = { 0 };
	acme_order o = { 0 };
	tg_err err = { 0 };
	long recent = 0;
	json_t *obj;
	int rc = -1;

	if (pl == NULL || !json_is_object(pl))
		return problem(h, ACME_P_MALFORMED, "newOrder needs a JSON object as its payload");
	if (read_identifiers(h, json_object_get(pl, "identifiers"), &ids) != 0 ||
	    order_dates(h, pl, &o.not_after) != 0)
		goto out;
	if (acme_db_orders_since(h->db, h->acct.id, h->now - 60, &recent, &err) != 0) {
		rc = internal(h, &err);
		goto out;
	}
	if (recent >= (long)h->srv->o->orders_per_minute) {
		acme_resp_header(h->r, "Retry-After: 60\r\n");
		rc = problem(h, ACME_P_RATE_LIMITED, "this account made %ld orders in the last minute, "
		    "the most this server takes (--orders-per-minute); retry later", recent);
		goto out;
	}
	snprintf(o.account, sizeof(o.account), "%s", h->acct.id);
	snprintf(o.status, sizeof(o.status), "pending");
	o.created = h->now;
	o.expires = h->now + ACME_ORDER_LIFE;
	if (acme_rand_id(o.id, sizeof(o.id), 16, &err) != 0 ||
	    (o.identifiers = json_dumps(ids.canon, JSON_COMPACT)) == NULL) {
		rc = internal(h, &err);
		goto out;
	}
	if (store_sql_begin(h->db, &err) != 0) {
		rc = internal(h, &err);
		goto out;
	}
	if (insert_order(h, &o, &ids, &err) != 0 || store_sql_commit(h->db, &err) != 0) {
		store_sql_rollback(h->db);
		rc = internal(h, &err);
		goto out;
	}
	atomic_fetch_add_explicit(&h->srv->m.orders, 1, memory_order_relaxed);
	if ((obj = order_json(h, &o, &err)) == NULL) {
		rc = internal(h, &err);
		goto out;
	}
	location(h, "order", o.id);
	rc = reply_json(h, 201, obj);
out:
	json_decref(ids.canon);
	acme_order_clear(&o);
	return rc;
}

/* The order of the path, which must be the signing account's. */
static int
own_order(hctx *h, const char *idtext, acme_order *o)
{
	char id[ACME_ID_MAX];
	tg_err err = { 0 };
	int found;

	if (path_id(idtext, strlen(idtext), id) != 0)
		return not_found(h, "order");
	if ((found = acme_db_order_get(h->db, id, o, &err)) < 0)
		return internal(h, &err);
	if (found == 0)
		return not_found(h, "order");
	if (strcmp(o->account, h->acct.id) != 0)
		return problem(h, ACME_P_UNAUTHORIZED, "order %s belongs to another account", id);
	return 0;
}

static int
reply_order(hctx *h, acme_order *o)
{
	tg_err err = { 0 };
	json_t *obj = order_json(h, o, &err);

	if (obj == NULL)
		return internal(h, &err);
	location(h, "order", o->id);
	return reply_json(h, 200, obj);
}

static int
h_order(hctx *h)
{
	acme_order o = { 0 };
	int rc = own_order(h, h->rest, &o);

	if (rc == 0)
		rc = reply_order(h, &o);
	acme_order_clear(&o);
	return rc;
}

/* ---- authorizations and challenges --------------------------------------- */

static int
own_authz(hctx *h, const char *idtext, acme_authz *a)
{
	char id[ACME_ID_MAX];
	tg_err err = { 0 };
	int found;

	if (path_id(idtext, strlen(idtext), id) != 0)
		return not_found(h, "authorization");
	if ((found = acme_db_authz_get(h->db, id, a, &err)) < 0)
		return internal(h, &err);
	if (found == 0)
		return not_found(h, "authorization");
	if (strcmp(a->account, h->acct.id) != 0)
		return problem(h, ACME_P_UNAUTHORIZED, "authorization %s belongs to another account",
		    id);
	return 0;
}

static int
reply_authz(hctx *h, const acme_authz *a)
{
	tg_err err = { 0 };
	json_t *obj = authz_json(h, a, &err);

	if (obj == NULL)
		return internal(h, &err);
	if (strcmp(a->status, "pending") == 0)
		acme_resp_header(h->r, "Retry-After: 1\r\n");
	return reply_json(h, 200, obj);
}

static int
h_authz(hctx *h)
{
	acme_authz a;
	const json_t *st = h->jws.payload ? json_object_get(h->jws.payload, "status") : NULL;
	tg_err err = { 0 };

	if (own_authz(h, h->rest, &a) != 0)
		return -1;
	if (st != NULL) {
		if (!json_is_string(st) || strcmp(json_string_value(st), "deactivated") != 0)
			return problem(h, ACME_P_MALFORMED,
			    "an authorization's status can only become deactivated");
		char id[ACME_ID_MAX];
		snprintf(id, sizeof(id), "%s", a.id); /* a is cleared before it is read again */
		if (acme_db_authz_deactivate(h->db, id, &err) != 0 ||
		    acme_db_authz_get(h->db, id, &a, &err) != 1)
			return internal(h, &err);
		gw_log("acme: authorization %s deactivated", id);
	}
	return reply_authz(h, &a);
}

static int
reply_chall(hctx *h, const acme_authz *a, const acme_chall *c)
{
	link_up(h, "authz", a->id);
	if (strcmp(c->status, "processing") == 0)
		acme_resp_header(h->r, "Retry-After: 1\r\n");
	return reply_json(h, 200, chall_json(h, a, c));
}

static int
h_chall(hctx *h)
{
	char id[ACME_ID_MAX], authz_id[ACME_ID_MAX];
	acme_chall c = { 0 };
	acme_authz a;
	tg_err err = { 0 };
	long claimed = 0;
	int rc = -1, found;
	size_t n = strlen(h->rest);

	if (path_id(h->rest, n, id) != 0 || n < 3 || h->rest[n - 2] != '-')
		return not_found(h, "challenge");
	snprintf(authz_id, sizeof(authz_id), "%.*s", (int)(n - 2), h->rest);
	if (own_authz(h, authz_id, &a) != 0)
		return -1;
	if ((found = acme_db_chall_get(h->db, id, &c, &err)) != 1) {
		rc = found < 0 ? internal(h, &err) : h->rest[n - 1] == 'd' ?
		    problem(h, ACME_P_MALFORMED, "authorization %s offers no dns-01 challenge: this "
		    "server offers dns-01 for DNS names only, and only when started with "
		    "--dns-resolver%s; use a challenge the authorization lists", a.id,
		    h->srv->pol.dns01 ? "" : " (it was not)") : not_found(h, "challenge");
		goto out;
	}
	/* An empty object asks for validation; POST-as-GET only reads. */
	if (h->jws.payload != NULL && strcmp(a.status, "pending") == 0 &&
	    a.expires > h->now && (strcmp(c.status, "pending") == 0 ||
		(strcmp(c.status, "processing") == 0 && c.started < h->now - ACME_STALE_SECS))) {
		if (acme_vq_reserve(h->srv) != 0) {
			acme_resp_header(h->r, "Retry-After: 2\r\n");
			rc = problem(h, ACME_P_RATE_LIMITED, "too many validations are under way; "
			    "retry in a moment");
			goto out;
		}
		if (acme_db_chall_claim(h->db, id, h->now, h->now - ACME_STALE_SECS, &claimed,
			&err) != 0) {
			acme_vq_hand(h->srv, NULL);
			rc = internal(h, &err);
			goto out;
		}
		/* Hands the reservation over to the challenge, or gives it back. */
		acme_vq_hand(h->srv, claimed == 1 ? id : NULL);
		acme_chall_clear(&c);
		if (acme_db_chall_get(h->db, id, &c, &err) != 1) {
			rc = internal(h, &err);
			goto out;
		}
	}
	rc = reply_chall(h, &a, &c);
out:
	acme_chall_clear(&c);
	return rc;
}

/* ---- finalize ----------------------------------------------------------- */

static int
csr_key_ok(EVP_PKEY *key)
{
	int bits = EVP_PKEY_get_bits(key);
	char curve[32] = "";
	size_t len;

	switch (EVP_PKEY_get_base_id(key)) {
	case EVP_PKEY_RSA:
		return bits >= ACME_RSA_MIN_BITS && bits <= ACME_RSA_MAX_BITS;
	case EVP_PKEY_EC:
		if (EVP_PKEY_get_utf8_string_param(key, "group", curve, sizeof(curve), &len) != 1)
			return 0;
		return strcmp(curve, "prime256v1") == 0 || strcmp(curve, "secp384r1") == 0;
	case EVP_PKEY_ED25519:
		return 1;
	default:
		return 0;
	}
}

/* The CSR's names must be exactly the order's identifiers. */
static int
csr_names_match(hctx *h, const pki_profile *prof, const acme_order *o)
{
	json_t *ids = json_loads(o->identifiers, 0, NULL), *v;
	size_t i, matched = 0;
	int rc = 0;

	for (size_t k = 0; k < prof->nsans && rc == 0; k++) {
		const pki_san *s = &prof->sans[k];
		const char *type = s->type == PKI_SAN_DNS ? "dns" : s->type == PKI_SAN_IP ? "ip" : NULL;
		int found = 0;
		if (type != NULL)
			json_array_foreach(ids, i, v)
				found |= strcmp(json_string_value(json_object_get(v, "type")), type) == 0 &&
				    strcmp(json_string_value(json_object_get(v, "value")), s->value) == 0;
		if (!found)
			rc = problem(h, ACME_P_BAD_CSR, "the CSR names %.255s, which is not an "
			    "identifier of the order; its names must be exactly the order's", s->value);
		matched++;
	}
	if (rc == 0 && matched != json_array_size(ids))
		rc = problem(h, ACME_P_BAD_CSR, "the CSR names %zu of the order's %zu identifiers; "
		    "its names must be exactly the order's", matched, json_array_size(ids));
	/* The policy may have changed since the order was made. */
	json_array_foreach(ids, i, v) {
		char canon[256];
		if (rc == 0 && acme_ident_check(&h->srv->pol,
		    json_string_value(json_object_get(v, "type")),
		    json_string_value(json_object_get(v, "value")), canon, &h->p) != 0)
			rc = fail(h);
	}
	json_decref(ids);
	return rc;
}

struct issue_step {
	const char *order;
	int not_ready;
};

/* Runs inside the issuing transaction: the order becomes valid with the
 * certificate's serial, or the certificate is not recorded either. */
static int
order_issued(store *db, const tg_issued *r, void *arg, tg_err *err)
{
	struct issue_step *s = arg;
	long changes = 0;

	if (acme_db_order_issued(db, s->order, r->serial, &changes, err) != 0)
		return -1;
	if (changes != 1) {
		s->not_ready = 1;
		return tg_err_set(err, TG_ERR_USAGE, "the order is no longer ready");
	}
	return 0;
}

/* Runs on the leader's thread: the group's certificates under the CA's
 * writer lock, in one transaction (tg_ca_sign_group). */
static void
sign_group(void *ctx, void *const *items, size_t n)
{
	acme_srv *srv = ctx;
	tg_ca_sign_req *reqs[ACME_GROUP_MAX];
	tg_err err = { 0 };
	size_t ok = 0;

	for (size_t i = 0; i < n; i++)
		reqs[i] = items[i];
	pthread_mutex_lock(&srv->sign_lock);
	if (tg_ca_sign_group(srv->ca, reqs, n, &err) != 0)
		gw_log_err("acme: a group of %zu certificates was not recorded: %s", n, err.msg);
	pthread_mutex_unlock(&srv->sign_lock);
	for (size_t i = 0; i < n; i++)
		ok += reqs[i]->rc == 0;
	if (n > 1)
		gw_log("acme: %zu of %zu certificates recorded in one commit", ok, n);
}

void
acme_groups_init(acme_srv *srv)
{
	acme_group_init(&srv->signq, sign_group);
	acme_group_init(&srv->nonceq, nonce_group);
}

void
acme_groups_free(acme_srv *srv)
{
	acme_group_free(&srv->signq);
	acme_group_free(&srv->nonceq);
}

static int
issue(hctx *h, acme_order *o, pki_profile *prof, EVP_PKEY *pub)
{
	struct issue_step step = { o->id, 0 };
	tg_ca_sign_req q = { .p = prof, .pub = pub, .in_txn = order_issued, .arg = &step };
	char sans[1024] = "", id[ACME_ID_MAX];
	tg_err err = { 0 };
	size_t used = 0;

	for (size_t i = 0; i < prof->nsans && used < sizeof(sans); i++)
		used += (size_t)snprintf(sans + used, sizeof(sans) - used, "%s%s", i ? "," : "",
		    prof->sans[i].value);
	acme_group_join(&h->srv->signq, h->srv, &q);
	if (q.rc != 0 && step.not_ready)
		return problem(h, ACME_P_ORDER_NOT_READY, "the order was finalized meanwhile");
	if (q.rc != 0) {
		gw_log_err("acme: issuing for order %s of account %s failed: %s", o->id, o->account,
		    q.err.msg);
		return problem(h, ACME_P_SERVER_INTERNAL, "the certificate could not be issued; "
		    "the order is still ready: retry");
	}
	atomic_fetch_add_explicit(&h->srv->m.issued, 1, memory_order_relaxed);
	gw_log("acme: issued %s to account %s for order %s: %s, valid %lld days", q.r.serial,
	    o->account, o->id, sans, (long long)(prof->valid_secs / 86400));
	snprintf(id, sizeof(id), "%s", o->id);
	acme_order_clear(o);
	if (acme_db_order_get(h->db, id, o, &err) != 1)
		return internal(h, &err);
	return reply_order(h, o);
}

static int
h_finalize(hctx *h)
{
	acme_order o = { 0 };
	const char *csr_b64 = json_string_value(json_object_get(h->jws.payload, "csr"));
	unsigned char *der = NULL;
	const unsigned char *pp;
	size_t len = 0;
	X509_REQ *csr = NULL;
	EVP_PKEY *pub;
	pki_profile prof;
	tg_err err = { 0 };
	int64_t valid;
	int rc = -1;

	if (own_order(h, h->rest, &o) != 0)
		goto out;
	if (strcmp(order_status(&o, h->now), "ready") != 0) {
		rc = problem(h, ACME_P_ORDER_NOT_READY, "the order is %s, not ready: %s",
		    order_status(&o, h->now), strcmp(o.status, "pending") == 0 ?
		    "answer its challenges first, then finalize" : "it cannot be finalized again");
		goto out;
	}
	if (csr_b64 == NULL || acme_b64u_decode(csr_b64, strlen(csr_b64), &der, &len) != 0) {
		rc = problem(h, ACME_P_MALFORMED, "finalize needs \"csr\": a base64url DER CSR");
		goto out;
	}
	pp = der;
	if ((csr = d2i_X509_REQ(NULL, &pp, (long)len)) == NULL || pp != der + len) {
		rc = problem(h, ACME_P_BAD_CSR, "the csr is not one DER certificate request");
		goto out;
	}
	valid = o.not_after > 0 ? o.not_after - h->now : h->srv->pol.default_validity;
	if (valid > h->srv->pol.max_validity)
		valid = h->srv->pol.max_validity;
	if (valid < 3600)
		valid = 3600;
	if (pki_csr_to_profile(csr, "the CSR", PKI_PROFILE_SERVER, valid, &prof, &err) != 0) {
		rc = problem(h, ACME_P_BAD_CSR, "%s", err.msg);
		goto out;
	}
	pub = X509_REQ_get0_pubkey(csr);
	if (pub == NULL || !csr_key_ok(pub)) {
		rc = problem(h, ACME_P_BAD_CSR, "the CSR's key must be EC P-256 or P-384, RSA of "
		    "%d to %d bits, or Ed25519", ACME_RSA_MIN_BITS, ACME_RSA_MAX_BITS);
		goto out;
	}
	if (EVP_PKEY_eq(pub, h->key) == 1) {
		rc = problem(h, ACME_P_BAD_CSR, "the CSR's key is the account key; use a key of its "
		    "own for the certificate (RFC 8555 11.1)");
		goto out;
	}
	if (csr_names_match(h, &prof, &o) != 0)
		goto out;
	rc = issue(h, &o, &prof, pub);
out:
	ERR_clear_error();
	X509_REQ_free(csr);
	free(der);
	acme_order_clear(&o);
	return rc;
}

/* ---- certificates and revocation ------------------------------------------ */

static int
h_cert(hctx *h)
{
	char serial[STORE_SERIAL_MAX];
	acme_order o = { 0 };
	store_cert c = { 0 };
	tg_err err = { 0 };
	char *body;
	size_t n;
	int found;

	if (tg_serial_normalize(h->rest, serial, &err) != 0 || strlen(h->rest) >= STORE_SERIAL_MAX)
		return not_found(h, "certificate");
	if ((found = acme_db_order_by_serial(h->db, serial, &o, &err)) < 0)
		return internal(h, &err);
	if (found == 0)
		return not_found(h, "certificate");
	if (strcmp(o.account, h->acct.id) != 0) {
		acme_order_clear(&o);
		return problem(h, ACME_P_UNAUTHORIZED, "the certificate belongs to another account");
	}
	acme_order_clear(&o);
	if (store_get(h->db, serial, &c, &err) != 0)
		return internal(h, &err);
	n = strlen(c.pem) + strlen(h->srv->chain_pem) + 1;
	if ((body = malloc(n)) != NULL)
		snprintf(body, n, "%s%s", c.pem, h->srv->chain_pem);
	store_cert_clear(&c);
	if (body == NULL) {
		tg_err e = { TG_ERR_INTERNAL, "out of memory" };
		return internal(h, &e);
	}
	set_body(h->r, 200, "application/pem-certificate-chain", body);
	h->r->nonce = 1;
	return 0;
}

struct held {
	hctx *h;
	int all, any, failed;
};

static int
name_held(const pki_name *n, void *arg)
{
	struct held *x = arg;
	char value[256];
	const char *type = strcmp(n->prefix, "DNS:") == 0 ? "dns" :
	    strcmp(n->prefix, "IP:") == 0 ? "ip" : NULL;
	tg_err err = { 0 };
	int r;

	if (type == NULL || n->bad != NULL || n->len >= sizeof(value)) {
		x->all = 0;
		return 1;
	}
	memcpy(value, n->value, n->len);
	value[n->len] = '\0';
	if ((r = acme_db_authz_held(x->h->db, x->h->acct.id, type, value, x->h->now, &err)) < 0)
		x->failed = 1;
	x->any = 1;
	if (r != 1)
		x->all = 0;
	return r != 1;
}

/* Who may revoke (RFC 8555 7.6): the certificate's own key (jwk), the
 * account that ordered it, or an account holding valid authorizations for
 * every name in it. */
static int
may_revoke(hctx *h, X509 *cert, const char *serial)
{
	acme_order o = { 0 };
	tg_err err = { 0 };
	struct held x = { h, 1, 0, 0 };
	int found;

	if (h->jws.jwk != NULL) {
		if (EVP_PKEY_eq(X509_get0_pubkey(cert), h->jws.jwk) == 1)
			return 0;
		return problem(h, ACME_P_UNAUTHORIZED, "the jwk is not the certificate's key; sign "
		    "with the certificate's key or with the account that ordered it");
	}
	if ((found = acme_db_order_by_serial(h->db, serial, &o, &err)) < 0)
		return internal(h, &err);
	found = found && strcmp(o.account, h->acct.id) == 0;
	acme_order_clear(&o);
	if (found)
		return 0;
	(void)pki_cert_san_each(cert, name_held, &x);
	if (x.failed)
		return internal(h, &err);
	if (x.all && x.any)
		return 0;
	return problem(h, ACME_P_UNAUTHORIZED, "account %s neither ordered this certificate nor "
	    "holds valid authorizations for all its names", h->acct.id);
}

static int
h_revoke(hctx *h)
{
	const json_t *pl = h->jws.payload, *reason_j;
	const char *b64 = json_string_value(json_object_get(pl, "certificate"));
	unsigned char *der = NULL;
	const unsigned char *pp;
	size_t len = 0;
	X509 *cert = NULL, *issuer = tg_ca_issuer(h->srv->ca);
	char serial[STORE_SERIAL_MAX];
	store_cert c = { 0 };
	tg_err err = { 0 };
	int reason = 0, rc = -1;

	if (h->jws.kid[0] != '\0')
		snprintf(h->r->account, sizeof(h->r->account), "%s", h->acct.id);
	if (b64 == NULL || acme_b64u_decode(b64, strlen(b64), &der, &len) != 0) {
		rc = problem(h, ACME_P_MALFORMED, "revokeCert needs \"certificate\": base64url DER");
		goto out;
	}
	pp = der;
	if ((cert = d2i_X509(NULL, &pp, (long)len)) == NULL || pp != der + len) {
		rc = problem(h, ACME_P_MALFORMED, "\"certificate\" is not one DER certificate");
		goto out;
	}
	if ((reason_j = json_object_get(pl, "reason")) != NULL) {
		static const int allowed[] = { 0, 1, 3, 4, 5, 9 };
		int ok = 0;
		for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++)
			ok |= json_is_integer(reason_j) && json_integer_value(reason_j) == allowed[i];
		if (!ok) {
			rc = problem(h, ACME_P_BAD_REVOCATION_REASON, "reason must be one of 0 "
			    "(unspecified), 1 (keyCompromise), 3 (affiliationChanged), 4 (superseded), "
			    "5 (cessationOfOperation), 9 (privilegeWithdrawn)");
			goto out;
		}
		reason = (int)json_integer_value(reason_j);
	}
	if (X509_check_issued(issuer, cert) != X509_V_OK ||
	    X509_verify(cert, X509_get0_pubkey(issuer)) != 1) {
		rc = problem(h, ACME_P_NOT_FOUND, "this CA did not issue that certificate");
		goto out;
	}
	pki_cert_serial_hex(cert, serial, sizeof(serial));
	if (may_revoke(h, cert, serial) != 0)
		goto out;
	if (store_get(h->db, serial, &c, &err) != 0) {
		rc = problem(h, ACME_P_NOT_FOUND, "the certificate is not in this CA's inventory");
		goto out;
	}
	if (strcmp(c.status, STORE_REVOKED) == 0) {
		rc = problem(h, ACME_P_ALREADY_REVOKED, "certificate %s is revoked already", serial);
		goto out;
	}
	pthread_mutex_lock(&h->srv->sign_lock);
	rc = tg_ca_revoke(h->srv->ca, serial, reason, &err);
	pthread_mutex_unlock(&h->srv->sign_lock);
	if (rc != 0) {
		rc = problem(h, strstr(err.msg, "already revoked") ? ACME_P_ALREADY_REVOKED :
		    ACME_P_MALFORMED, "%.400s", err.msg);
		goto out;
	}
	atomic_fetch_add_explicit(&h->srv->m.revoked, 1, memory_order_relaxed);
	gw_log("acme: revoked %s (%s) by %s%s", serial, pki_reason_name(reason),
	    h->jws.jwk ? "the certificate's key" : "account ", h->jws.jwk ? "" : h->acct.id);
	h->r->status = 200;
	h->r->nonce = 1;
out:
	ERR_clear_error();
	store_cert_clear(&c);
	X509_free(cert);
	free(der);
	return rc;
}

/* ---- health and metrics -------------------------------------------------- */

static int
h_health(hctx *h)
{
	json_t *o = json_object();

	json_object_set_new(o, "status", json_string("ok"));
	json_object_set_new(o, "uptime", json_integer(h->now - h->srv->started));
	json_object_set_new(o, "base", json_string(h->srv->base));
	return reply_json(h, 200, o);
}

static int
h_metrics(hctx *h)
{
	const struct acme_metrics *m = &h->srv->m;
	char buf[3072], *text;
	int n = snprintf(buf, sizeof(buf),
	    "# TYPE tlsgate_acme_requests_total counter\ntlsgate_acme_requests_total %lu\n"
	    "# TYPE tlsgate_acme_problems_total counter\ntlsgate_acme_problems_total %lu\n"
	    "# TYPE tlsgate_acme_accounts_created_total counter\n"
	    "tlsgate_acme_accounts_created_total %lu\n"
	    "# TYPE tlsgate_acme_orders_total counter\ntlsgate_acme_orders_total %lu\n"
	    "# TYPE tlsgate_acme_certificates_issued_total counter\n"
	    "tlsgate_acme_certificates_issued_total %lu\n"
	    "# TYPE tlsgate_acme_certificates_revoked_total counter\n"
	    "tlsgate_acme_certificates_revoked_total %lu\n"
	    "# TYPE tlsgate_acme_validations_total counter\n"
	    "tlsgate_acme_validations_total{result=\"valid\"} %lu\n"
	    "tlsgate_acme_validations_total{result=\"invalid\"} %lu\n"
	    "# TYPE tlsgate_acme_connections_total counter\ntlsgate_acme_connections_total %lu\n"
	    "# TYPE tlsgate_acme_connections_active gauge\ntlsgate_acme_connections_active %lu\n"
	    "# TYPE tlsgate_acme_busy_refusals_total counter\ntlsgate_acme_busy_refusals_total %lu\n"
	    "# TYPE tlsgate_acme_connections_closed_total counter\n"
	    "tlsgate_acme_connections_closed_total{reason=\"idle\"} %lu\n"
	    "tlsgate_acme_connections_closed_total{reason=\"reclaimed\"} %lu\n"
	    "tlsgate_acme_connections_closed_total{reason=\"max_conns\"} %lu\n"
	    "tlsgate_acme_connections_closed_total{reason=\"per_ip\"} %lu\n",
	    atomic_load(&m->requests), atomic_load(&m->problems), atomic_load(&m->accounts),
	    atomic_load(&m->orders), atomic_load(&m->issued), atomic_load(&m->revoked),
	    atomic_load(&m->validations_ok), atomic_load(&m->validations_failed),
	    atomic_load(&m->conns), atomic_load(&m->conns_active), atomic_load(&m->refused_busy),
	    atomic_load(&m->closed_idle), atomic_load(&m->closed_reclaimed),
	    atomic_load(&m->refused_full), atomic_load(&m->refused_per_ip));

	if (n < 0 || (size_t)n >= sizeof(buf) || (text = strdup(buf)) == NULL) {
		tg_err e = { TG_ERR_INTERNAL, "out of memory" };
		return internal(h, &e);
	}
	set_body(h->r, 200, "text/plain; version=0.0.4", text);
	return 0;
}

/* ---- routing ------------------------------------------------------------- */

static const struct route {
	const char *path;
	int prefix;                /* path is a prefix; the rest is an id */
	enum auth auth;
	int (*fn)(hctx *h);
} routes[] = {
	{ "/directory", 0, AUTH_GET, h_directory },
	{ "/acme/new-nonce", 0, AUTH_GET, h_new_nonce },
	{ "/acme/new-account", 0, AUTH_JWK, h_new_account },
	{ "/acme/new-order", 0, AUTH_KID, h_new_order },
	{ "/acme/revoke-cert", 0, AUTH_EITHER, h_revoke },
	{ "/acme/key-change", 0, AUTH_KID, h_key_change },
	{ "/acme/acct/", 1, AUTH_KID, h_account },
	{ "/acme/order/", 1, AUTH_KID, h_order },
	{ "/acme/authz/", 1, AUTH_KID, h_authz },
	{ "/acme/chall/", 1, AUTH_KID, h_chall },
	{ "/acme/finalize/", 1, AUTH_KID, h_finalize },
	{ "/acme/cert/", 1, AUTH_KID, h_cert },
	{ "/healthz", 0, AUTH_GET, h_health },
	{ "/metrics", 0, AUTH_GET, h_metrics },
};

static const struct route *
route_of(const char *path, const char **rest)
{
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		size_t n = strlen(routes[i].path);
		if (routes[i].prefix ? strncmp(path, routes[i].path, n) == 0 && path[n] != '\0' :
		    strcmp(path, routes[i].path) == 0) {
			*rest = path + n;
			return &routes[i];
		}
	}
	return NULL;
}

/* Every few minutes some request prunes nonces too old to be accepted. */
static void
maybe_prune(hctx *h)
{
	int64_t next = atomic_load(&h->srv->next_prune);
	tg_err err = { 0 };

	if (h->now < next || !atomic_compare_exchange_strong(&h->srv->next_prune, &next,
		h->now + 300))
		return;
	if (acme_db_nonce_prune(h->db, h->now - ACME_NONCE_AGE - 60, &err) != 0)
		gw_log_warn("acme: pruning used nonces: %s", err.msg);
}

void
acme_handle(acme_thr *t, const acme_req *q, acme_resp *r)
{
	hctx h = { .t = t, .srv = t->srv, .db = t->db, .q = q, .r = r, .now = time(NULL) };
	const struct route *rt = route_of(q->path, &h.rest);

	atomic_fetch_add_explicit(&h.srv->m.requests, 1, memory_order_relaxed);
	if (rt == NULL) {
		problem(&h, ACME_P_NOT_FOUND, "no ACME resource at %.200s; the directory is at "
		    "%.200s/directory", q->path, h.srv->base);
	} else if (rt->auth == AUTH_GET) {
		if (strcmp(q->method, "GET") != 0 && strcmp(q->method, "HEAD") != 0)
			problem(&h, ACME_P_METHOD, "%.16s is not allowed on %.100s", q->method, q->path);
		else
			rt->fn(&h);
	} else if (post_gate(&h, rt->auth) == 0) {
		rt->fn(&h);
	}
	if (r->problem != ACME_P_NONE)
		atomic_fetch_add_explicit(&h.srv->m.problems, 1, memory_order_relaxed);
	maybe_prune(&h);
	acme_jws_clear(&h.jws);
	acme_account_clear(&h.acct);
	EVP_PKEY_free(h.key);
}
