/* One worker: its account (newAccount once), then orders until the shared
 * count runs out: newOrder, the authorization, http-01 (the responder's
 * slot, then the challenge POST), order polls until ready, finalize with a
 * fresh key and CSR, polls until valid, the certificate download. Every
 * answer's Replay-Nonce is kept for the next request; a badNonce problem is
 * retried with the nonce it carries. A sample of the chains is verified
 * against the CA root. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/pem.h>

#include "al.h"

#define BAD_NONCE_RETRIES 5
#define POLL_DEADLINE_S 60.0

double al_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int werr(al_worker *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int werr(al_worker *w, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(w->err, sizeof(w->err), fmt, ap);
	va_end(ap);
	return -1;
}

static void keep_nonce(al_worker *w, const al_resp *r)
{
	if (r->nonce[0])
		memcpy(w->nonce, r->nonce, sizeof(w->nonce));
}

static int fetch_nonce(al_worker *w)
{
	al_resp r;

	if (al_request(&w->conn, "HEAD", w->new_nonce, NULL, &r) != 0)
		return werr(w, "newNonce: %s", w->conn.err);
	keep_nonce(w, &r);
	al_resp_clear(&r);
	return w->nonce[0] ? 0 : werr(w, "newNonce: no Replay-Nonce in the answer");
}

static int is_bad_nonce(const al_resp *r)
{
	json_t *j, *t;
	int bad = 0;

	if (r->status != 400 || !r->body)
		return 0;
	j = json_loadb(r->body, r->body_len, 0, NULL);
	t = json_object_get(j, "type");
	bad = json_is_string(t) &&
	      !strcmp(json_string_value(t), "urn:ietf:params:acme:error:badNonce");
	json_decref(j);
	return bad;
}

/* A signed POST to path (payload NULL: POST-as-GET); the answer in *r with
 * its JSON parsed into *json when the body is JSON (else *json NULL). */
static int post(al_worker *w, const char *path, const char *payload, al_resp *r, json_t **json)
{
	char url[AL_PATH_MAX + AL_HOST_MAX + 16];
	int tries;

	if (json)
		*json = NULL;
	snprintf(url, sizeof(url), "https://%s:%d%s", w->conn.host, w->conn.port, path);
	for (tries = 0;; tries++) {
		char *jws;
		if (!w->nonce[0] && fetch_nonce(w) != 0)
			return -1;
		jws = al_jws(w->key, w->jwk, w->kid[0] ? w->kid : NULL, w->nonce, url, payload);
		w->nonce[0] = '\0'; /* used */
		if (!jws)
			return werr(w, "signing the request to %s failed", path);
		if (al_request(&w->conn, "POST", path, jws, r) != 0) {
			free(jws);
			return werr(w, "%s", w->conn.err);
		}
		free(jws);
		keep_nonce(w, r);
		if (!is_bad_nonce(r) || tries >= BAD_NONCE_RETRIES)
			break;
		w->bad_nonce++;
		al_resp_clear(r);
	}
	if (r->status >= 400)
		return werr(w, "POST %s: HTTP %d: %.300s", path, r->status,
		            r->body ? r->body : "");
	if (json && r->body_len && strstr(r->ctype, "json")) {
		*json = json_loadb(r->body, r->body_len, 0, NULL);
		if (!*json || !json_is_object(*json))
			return werr(w, "POST %s: the answer is not a JSON object", path);
	}
	return 0;
}

/* A string member that is a URL of our server, as a path. */
static int url_member(al_worker *w, const json_t *obj, const char *name, char *out, size_t cap)
{
	const char *s = json_string_value(json_object_get(obj, name));

	if (!s || al_url_path(&w->conn, s, out, cap) != 0)
		return werr(w, "\"%s\" is missing or not a URL of https://%s:%d", name,
		            w->conn.host, w->conn.port);
	return 0;
}

static const char *status_of(const json_t *obj)
{
	const char *s = json_string_value(json_object_get(obj, "status"));
	return s ? s : "";
}

static int directory(al_worker *w)
{
	al_resp r;
	json_t *d = NULL;
	int rc = -1;

	if (al_request(&w->conn, "GET", w->sh->dir_path, NULL, &r) != 0)
		return werr(w, "directory: %s", w->conn.err);
	if (r.status != 200 || !(d = json_loadb(r.body, r.body_len, 0, NULL))) {
		werr(w, "directory %s: HTTP %d, not JSON", w->sh->dir_path, r.status);
		goto out;
	}
	if (url_member(w, d, "newNonce", w->new_nonce, sizeof(w->new_nonce)) != 0 ||
	    url_member(w, d, "newAccount", w->new_account, sizeof(w->new_account)) != 0 ||
	    url_member(w, d, "newOrder", w->new_order, sizeof(w->new_order)) != 0)
		goto out;
	rc = 0;
out:
	json_decref(d);
	al_resp_clear(&r);
	return rc;
}

static int new_account(al_worker *w)
{
	al_resp r;
	int rc;

	w->key = al_key_new();
	if (!w->key || al_jwk(w->key, w->jwk, sizeof(w->jwk), w->thumbprint) != 0)
		return werr(w, "cannot make the account key");
	rc = post(w, w->new_account, "{\"termsOfServiceAgreed\":true}", &r, NULL);
	if (rc == 0 && (r.status != 201 && r.status != 200))
		rc = werr(w, "newAccount: HTTP %d", r.status);
	if (rc == 0 && (!r.location[0] || strlen(r.location) >= sizeof(w->kid)))
		rc = werr(w, "newAccount: no Location");
	if (rc == 0)
		memcpy(w->kid, r.location, sizeof(w->kid));
	al_resp_clear(&r);
	return rc;
}

/* POST-as-GET path until its status is one of want (space-separated) or
 * "invalid"; the object in *out. */
static int poll(al_worker *w, const char *path, const char *want, json_t **out)
{
	double end = al_now() + POLL_DEADLINE_S;
	struct timespec ts = {.tv_sec = w->sh->poll_ms / 1000,
	                      .tv_nsec = (long)(w->sh->poll_ms % 1000) * 1000000L};

	for (;;) {
		al_resp r;
		const char *st;
		int rc = post(w, path, NULL, &r, out);
		al_resp_clear(&r);
		if (rc != 0)
			return -1;
		if (!*out)
			return werr(w, "%s: no JSON", path);
		st = status_of(*out);
		if (st[0] && strstr(want, st))
			return 0;
		if (!strcmp(st, "invalid")) {
			char *s = json_dumps(*out, JSON_COMPACT);
			werr(w, "%s became invalid: %.300s", path, s ? s : "");
			free(s);
			return -1;
		}
		json_decref(*out);
		*out = NULL;
		if (al_now() > end)
			return werr(w, "%s: not %s after %.0f s", path, want, POLL_DEADLINE_S);
		nanosleep(&ts, NULL);
	}
}

/* The chain: every certificate parses, the leaf holds key, the chain
 * reaches the CA root. */
static int verify_chain(al_worker *w, const char *pem, size_t len, EVP_PKEY *key)
{
	BIO *b = BIO_new_mem_buf(pem, (int)len);
	STACK_OF(X509) *rest = sk_X509_new_null();
	X509_STORE_CTX *vc = X509_STORE_CTX_new();
	X509 *leaf = NULL, *x;
	int rc = -1;

	if (!b || !rest || !vc)
		goto out;
	leaf = PEM_read_bio_X509(b, NULL, NULL, NULL);
	if (!leaf) {
		werr(w, "the certificate download holds no PEM certificate");
		goto out;
	}
	while ((x = PEM_read_bio_X509(b, NULL, NULL, NULL)))
		if (!sk_X509_push(rest, x)) {
			X509_free(x);
			goto out;
		}
	ERR_clear_error();
	if (EVP_PKEY_eq(X509_get0_pubkey(leaf), key) != 1) {
		werr(w, "the certificate is not for the CSR's key");
		goto out;
	}
	if (X509_STORE_CTX_init(vc, w->sh->roots, leaf, rest) != 1 || X509_verify_cert(vc) != 1) {
		werr(w, "the certificate does not chain to the CA root: %s",
		     X509_verify_cert_error_string(X509_STORE_CTX_get_error(vc)));
		goto out;
	}
	rc = 0;
out:
	X509_STORE_CTX_free(vc);
	sk_X509_pop_free(rest, X509_free);
	X509_free(leaf);
	BIO_free(b);
	return rc;
}

static int one_order(al_worker *w, long index)
{
	char payload[AL_HOST_MAX + 64], order_path[AL_PATH_MAX], path[AL_PATH_MAX];
	char finalize[AL_PATH_MAX], *csr = NULL, *body = NULL;
	json_t *order = NULL, *authz = NULL, *ch = NULL, *chs;
	EVP_PKEY *key = NULL;
	const char *token = NULL;
	al_resp r;
	size_t i;
	int rc = -1;

	/* newOrder */
	snprintf(payload, sizeof(payload), "{\"identifiers\":[{\"type\":\"%s\",\"value\":\"%s\"}]}",
	         w->sh->is_ip ? "ip" : "dns", w->sh->identifier);
	memset(&r, 0, sizeof(r));
	if (post(w, w->new_order, payload, &r, &order) != 0)
		goto out;
	if (r.status != 201 || !order || !r.location[0] ||
	    al_url_path(&w->conn, r.location, order_path, sizeof(order_path)) != 0) {
		werr(w, "newOrder: HTTP %d without an order object and its Location", r.status);
		goto out;
	}
	al_resp_clear(&r);
	if (url_member(w, order, "finalize", finalize, sizeof(finalize)) != 0)
		goto out;
	{
		json_t *az = json_object_get(order, "authorizations");
		if (!json_is_array(az) || json_array_size(az) != 1 ||
		    al_url_path(&w->conn, json_string_value(json_array_get(az, 0)), path,
		                sizeof(path)) != 0) {
			werr(w, "newOrder: not one authorization URL");
			goto out;
		}
	}
	/* the authorization and its http-01 challenge */
	if (post(w, path, NULL, &r, &authz) != 0 || !authz)
		goto out;
	al_resp_clear(&r);
	if (!strcmp(status_of(authz), "valid")) {
		/* the server reused an earlier authorization: nothing to answer */
		w->authz_valid++;
		goto finalize;
	}
	chs = json_object_get(authz, "challenges");
	for (i = 0; i < json_array_size(chs); i++) {
		ch = json_array_get(chs, i);
		const char *type = json_string_value(json_object_get(ch, "type"));
		if (type && !strcmp(type, "http-01")) {
			token = json_string_value(json_object_get(ch, "token"));
			break;
		}
	}
	if (!token || strlen(token) < 16 || strlen(token) >= AL_TOKEN_MAX ||
	    strspn(token, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") !=
	        strlen(token) ||
	    url_member(w, ch, "url", path, sizeof(path)) != 0) {
		werr(w, "the authorization has no usable http-01 challenge");
		goto out;
	}
	{
		char ka[AL_KEYAUTHZ_MAX];
		snprintf(ka, sizeof(ka), "%s.%s", token, w->thumbprint);
		al_http01_set(w->sh->http01, w->slot, token, ka);
	}
	if (post(w, path, "{}", &r, NULL) != 0)
		goto out;
	al_resp_clear(&r);
finalize:
	json_decref(order);
	order = NULL;
	if (poll(w, order_path, "ready", &order) != 0)
		goto out;
	key = al_key_new();
	csr = key ? al_csr_b64u(key, w->sh->identifier) : NULL;
	if (!csr) {
		werr(w, "cannot make the CSR");
		goto out;
	}
	body = malloc(strlen(csr) + 16);
	if (!body)
		goto out;
	sprintf(body, "{\"csr\":\"%s\"}", csr);
	json_decref(order);
	order = NULL;
	if (post(w, finalize, body, &r, &order) != 0 || !order)
		goto out;
	al_resp_clear(&r);
	if (strcmp(status_of(order), "valid")) {
		json_decref(order);
		order = NULL;
		if (poll(w, order_path, "valid", &order) != 0)
			goto out;
	}
	if (url_member(w, order, "certificate", path, sizeof(path)) != 0)
		goto out;
	/* the certificate */
	if (post(w, path, NULL, &r, NULL) != 0)
		goto out;
	if (!r.body || !strstr(r.body, "-----BEGIN CERTIFICATE-----")) {
		werr(w, "the certificate download is no PEM chain");
		goto out;
	}
	if (w->sh->verify_every > 0 && index % w->sh->verify_every == 0) {
		if (verify_chain(w, r.body, r.body_len, key) != 0)
			goto out;
		w->verified++;
	}
	rc = 0;
out:
	al_http01_set(w->sh->http01, w->slot, "", "");
	al_resp_clear(&r);
	json_decref(order);
	json_decref(authz);
	EVP_PKEY_free(key);
	free(csr);
	free(body);
	return rc;
}

static void show_first_error(al_worker *w, const char *what)
{
	pthread_mutex_lock(&w->sh->mu);
	if (!w->sh->first_error_shown) {
		w->sh->first_error_shown = 1;
		fprintf(stderr, "acmeload: %s: %s\n", what, w->err);
	}
	pthread_mutex_unlock(&w->sh->mu);
}

static long take_order(al_shared *sh)
{
	long i = -1;

	pthread_mutex_lock(&sh->mu);
	if (sh->next_order < sh->orders)
		i = sh->next_order++;
	pthread_mutex_unlock(&sh->mu);
	return i;
}

void *al_worker_run(void *arg)
{
	al_worker *w = arg;
	uint64_t req0;
	long i;

	if (al_conn_init(&w->conn, w->sh->ctx, w->sh->host, w->sh->port) != 0 ||
	    directory(w) != 0 || new_account(w) != 0) {
		w->setup_failed = 1;
		show_first_error(w, "account setup failed");
	}
	pthread_barrier_wait(&w->sh->ready);
	req0 = w->conn.requests;
	while (!w->setup_failed && (i = take_order(w->sh)) >= 0) {
		double t0 = al_now();
		if (one_order(w, i) != 0) {
			w->failed++;
			show_first_error(w, "order failed");
			continue;
		}
		if (w->n_lat == w->cap_lat) {
			size_t cap = w->cap_lat ? w->cap_lat * 2 : 64;
			double *l = realloc(w->lat, cap * sizeof(*l));
			if (!l) {
				w->failed++;
				continue;
			}
			w->lat = l;
			w->cap_lat = cap;
		}
		w->lat[w->n_lat++] = al_now() - t0;
	}
	w->requests = w->conn.requests - req0;
	al_conn_close(&w->conn);
	return NULL;
}
