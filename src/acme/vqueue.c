/* Challenge validation off the request path: a bounded queue of claimed
 * challenges and a few threads, each with its own store connection. The
 * client polls; the outcome is written to the store (challenge,
 * authorization and order in one transaction), where any server reads it.
 * A challenge whose server died while validating stays "processing" until
 * ACME_STALE_SECS have passed; a new POST to it then tries again. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "acme/srv.h"
#include "gateway/gw.h"

#define VQ_CAP 1024

struct acme_vq {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	char ids[VQ_CAP][ACME_ID_MAX];
	size_t head, len;          /* queued */
	size_t reserved;           /* places promised to requests about to claim */
	int stop;
	pthread_t *threads;
	size_t nthreads;
};

int
acme_vq_reserve(acme_srv *srv)
{
	struct acme_vq *q = srv->vq;
	int rc = -1;

	pthread_mutex_lock(&q->mu);
	if (q->len + q->reserved < VQ_CAP) {
		q->reserved++;
		rc = 0;
	}
	pthread_mutex_unlock(&q->mu);
	if (rc != 0)
		atomic_fetch_add_explicit(&srv->m.refused_busy, 1, memory_order_relaxed);
	return rc;
}

void
acme_vq_hand(acme_srv *srv, const char *chall_id)
{
	struct acme_vq *q = srv->vq;

	pthread_mutex_lock(&q->mu);
	q->reserved--;
	if (chall_id != NULL) {
		snprintf(q->ids[(q->head + q->len) % VQ_CAP], ACME_ID_MAX, "%s", chall_id);
		q->len++;
		pthread_cond_signal(&q->cv);
	}
	pthread_mutex_unlock(&q->mu);
}

static void
validate_one(acme_thr *t, const char *id)
{
	acme_srv *srv = t->srv;
	acme_chall c = { 0 };
	acme_authz a;
	acme_account acct = { 0 };
	acme_problem p = { 0 };
	tg_err err = { 0 };
	char keyauthz[ACME_TOKEN_MAX + 64];
	char *problem_json = NULL;
	int ok, is_ip;

	if (acme_db_chall_get(t->db, id, &c, &err) != 1 || strcmp(c.status, "processing") != 0 ||
	    acme_db_authz_get(t->db, c.authz, &a, &err) != 1 ||
	    acme_db_account_get(t->db, a.account, &acct, &err) != 1) {
		if (err.msg[0] != '\0')
			gw_log_err("acme: validating challenge %s: %s", id, err.msg);
		goto out;
	}
	snprintf(keyauthz, sizeof(keyauthz), "%s.%s", a.token, acct.thumbprint);
	is_ip = strcmp(a.type, "ip") == 0;
	if (strcmp(c.type, "http-01") == 0)
		ok = acme_validate_http01(a.value, is_ip, a.token, keyauthz, &srv->vopts, &p) == 0;
	else if (strcmp(c.type, "dns-01") == 0)
		ok = acme_validate_dns01(a.value, keyauthz, &srv->vopts, &p) == 0;
	else
		ok = acme_validate_tlsalpn01(a.value, is_ip, keyauthz, &srv->vopts, &p) == 0;
	if (!ok && (problem_json = acme_problem_json(&p)) == NULL)
		goto out;
	if (acme_db_chall_done(t->db, &c, &a, ok, problem_json, time(NULL), &err) != 0) {
		gw_log_err("acme: recording the validation of challenge %s: %s", id, err.msg);
		goto out;
	}
	atomic_fetch_add_explicit(ok ? &srv->m.validations_ok : &srv->m.validations_failed, 1,
	    memory_order_relaxed);
	gw_log("acme: %s %s:%s for account %s (authz %s): %s%s%s", c.type, a.type, a.value,
	    a.account, a.id, ok ? "valid" : "invalid", ok ? "" : ": ", ok ? "" : p.detail);
out:
	free(problem_json);
	acme_chall_clear(&c);
	acme_account_clear(&acct);
}

static void *
validator(void *arg)
{
	acme_thr *t = arg;
	struct acme_vq *q = t->srv->vq;
	char id[ACME_ID_MAX];

	for (;;) {
		pthread_mutex_lock(&q->mu);
		while (q->len == 0 && !q->stop)
			pthread_cond_wait(&q->cv, &q->mu);
		if (q->stop) {
			pthread_mutex_unlock(&q->mu);
			break;
		}
		snprintf(id, sizeof(id), "%s", q->ids[q->head]);
		q->head = (q->head + 1) % VQ_CAP;
		q->len--;
		pthread_mutex_unlock(&q->mu);
		validate_one(t, id);
	}
	acme_thr_close(t);
	free(t);
	return NULL;
}

int
acme_vq_start(acme_srv *srv, tg_err *err)
{
	struct acme_vq *q = calloc(1, sizeof(*q));
	unsigned n = srv->o->validators ? srv->o->validators : 4;

	if (q == NULL || (q->threads = calloc(n, sizeof(*q->threads))) == NULL) {
		free(q);
		return tg_err_set(err, TG_ERR_INTERNAL, "out of memory");
	}
	pthread_mutex_init(&q->mu, NULL);
	pthread_cond_init(&q->cv, NULL);
	srv->vq = q;
	for (unsigned i = 0; i < n; i++) {
		acme_thr *t = calloc(1, sizeof(*t));
		if (t == NULL || acme_thr_open(t, srv, err) != 0) {
			free(t);
			return -1;
		}
		if (pthread_create(&q->threads[i], NULL, validator, t) != 0) {
			acme_thr_close(t);
			free(t);
			return tg_err_set(err, TG_ERR_INTERNAL, "cannot start a validation thread");
		}
		q->nthreads++;
	}
	return 0;
}

void
acme_vq_stop(acme_srv *srv)
{
	struct acme_vq *q = srv->vq;

	if (q == NULL)
		return;
	pthread_mutex_lock(&q->mu);
	q->stop = 1;
	pthread_cond_broadcast(&q->cv);
	pthread_mutex_unlock(&q->mu);
	for (size_t i = 0; i < q->nthreads; i++)
		pthread_join(q->threads[i], NULL);
	pthread_mutex_destroy(&q->mu);
	pthread_cond_destroy(&q->cv);
	free(q->threads);
	free(q);
	srv->vq = NULL;
}
