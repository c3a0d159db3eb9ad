/* What the ACME server's files share: the state in the store (db.c), the
 * policy (policy.c), the request handlers (handlers.c), the HTTPS front end
 * (server.c) and the queue of challenge validations (vqueue.c). */
#ifndef TLSGATE_ACME_SRV_H
#define TLSGATE_ACME_SRV_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "acme/acme_proto.h"
#include "tlsgate/acme.h"
#include "tlsgate/store.h"

#define ACME_ID_LEN 22         /* 16 random bytes, base64url */
#define ACME_ID_MAX 48
#define ACME_BASE_MAX 384      /* the base URL: every URL is it and a short path */
#define ACME_TOKEN_MAX 48      /* 32 random bytes, base64url: 43 */
#define ACME_IDENTS_MAX 100    /* identifiers per order */
#define ACME_CONTACTS_MAX 4
#define ACME_CONTACT_LEN 256
#define ACME_NONCE_AGE 3600    /* seconds a nonce stays good */
#define ACME_ORDER_LIFE (7 * 86400)
#define ACME_STALE_SECS 60     /* a "processing" challenge older than this is retried */

/* ---- state in the store (db.c) ------------------------------------------- */

/* Creates the tables once per store (schema key "acme_schema"). */
int acme_db_init(store *db, tg_err *err) TG_MUST_CHECK;
/* Fills buf with n random bytes as base64url (buf holds 2n). */
int acme_rand_id(char *buf, size_t cap, size_t n, tg_err *err) TG_MUST_CHECK;

/* The HMAC key of nonces: made by the first server, shared by all. */
int acme_db_nonce_key(store *db, unsigned char key[ACME_NONCE_KEY_LEN], tg_err *err) TG_MUST_CHECK;
/* Records a nonce as used: *fresh = 1 the first time, 0 after. */
int acme_db_nonce_use(store *db, const char *id, int64_t issued, int *fresh, tg_err *err) TG_MUST_CHECK;
int acme_db_nonce_prune(store *db, int64_t before, tg_err *err) TG_MUST_CHECK;

typedef struct acme_account {
	char id[ACME_ID_MAX];
	char thumbprint[48];
	char *jwk;                 /* JSON text */
	char status[16];           /* valid, deactivated, revoked */
	char *contact;             /* JSON array text */
	char eab_kid[ACME_URL_MAX];
	int64_t created;
} acme_account;

void acme_account_clear(acme_account *a);
/* 1 found, 0 not, -1 error. */
int acme_db_account_get(store *db, const char *id, acme_account *a, tg_err *err);
int acme_db_account_by_thumb(store *db, const char *thumb, acme_account *a, tg_err *err);
int acme_db_account_insert(store *db, const acme_account *a, tg_err *err) TG_MUST_CHECK;
/* Sets contact and/or status (NULL: unchanged). */
int acme_db_account_update(store *db, const char *id, const char *contact, const char *status,
    tg_err *err) TG_MUST_CHECK;
/* The key rollover: only when the account still has old_thumb. *changes 0
 * when it did not; TG_ERR_EXISTS when another account holds the new key. */
int acme_db_account_rekey(store *db, const char *id, const char *old_thumb,
    const char *new_thumb, const char *jwk, long *changes, tg_err *err) TG_MUST_CHECK;
int acme_db_account_orders(store *db, const char *id, json_t *urls, const char *base,
    tg_err *err) TG_MUST_CHECK;

typedef struct acme_eab_key {
	char kid[ACME_URL_MAX];
	unsigned char key[64];
	size_t keylen;
	char account[ACME_ID_MAX];
	int revoked;
} acme_eab_key;

int acme_db_eab_get(store *db, const char *kid, acme_eab_key *k, tg_err *err);
/* Binds kid to account: *changes 0 when it was revoked or bound already. */
int acme_db_eab_bind(store *db, const char *kid, const char *account, long *changes,
    tg_err *err) TG_MUST_CHECK;

typedef struct acme_order {
	char id[ACME_ID_MAX];
	char account[ACME_ID_MAX];
	char status[16];           /* pending, ready, processing, valid, invalid */
	char *identifiers;         /* JSON array text */
	int64_t not_before, not_after, expires, created;
	char *error;               /* JSON problem text or NULL */
	char serial[STORE_SERIAL_MAX];
} acme_order;

void acme_order_clear(acme_order *o);
int acme_db_order_get(store *db, const char *id, acme_order *o, tg_err *err);
int acme_db_order_by_serial(store *db, const char *serial, acme_order *o, tg_err *err);
int acme_db_order_insert(store *db, const acme_order *o, tg_err *err) TG_MUST_CHECK;
/* Orders the account made since since (the rate limit). */
int acme_db_orders_since(store *db, const char *account, int64_t since, long *n,
    tg_err *err) TG_MUST_CHECK;
/* Finalize's step inside the issuing transaction: ready -> valid with the
 * serial; *changes 0 when the order was no longer ready. */
int acme_db_order_issued(store *db, const char *id, const char *serial, long *changes,
    tg_err *err) TG_MUST_CHECK;

typedef struct acme_authz {
	char id[ACME_ID_MAX];
	char order_id[ACME_ID_MAX];
	char account[ACME_ID_MAX];
	char type[8];              /* dns, ip */
	char value[256];           /* a wildcard keeps its "*.": shown as the base name */
	char status[16];           /* pending, valid, invalid, deactivated */
	char token[ACME_TOKEN_MAX];
	int64_t expires;
} acme_authz;

int acme_db_authz_get(store *db, const char *id, acme_authz *a, tg_err *err);
int acme_db_authz_insert(store *db, const acme_authz *a, int pos, tg_err *err) TG_MUST_CHECK;
/* Calls fn with each authorization of an order, in order. */
int acme_db_authz_each(store *db, const char *order_id, int (*fn)(const acme_authz *a, void *arg),
    void *arg, tg_err *err) TG_MUST_CHECK;
/* 1 if the account holds a valid, unexpired authorization for type:value. */
int acme_db_authz_held(store *db, const char *account, const char *type, const char *value,
    int64_t now, tg_err *err);
int acme_db_authz_deactivate(store *db, const char *id, tg_err *err) TG_MUST_CHECK;

typedef struct acme_chall {
	char id[ACME_ID_MAX];
	char authz[ACME_ID_MAX];
	char type[16];             /* http-01, tls-alpn-01, dns-01 */
	char status[16];           /* pending, processing, valid, invalid */
	int64_t validated, started;
	char *error;               /* JSON problem text or NULL */
} acme_chall;

void acme_chall_clear(acme_chall *c);
int acme_db_chall_get(store *db, const char *id, acme_chall *c, tg_err *err);
int acme_db_chall_insert(store *db, const acme_chall *c, tg_err *err) TG_MUST_CHECK;
int acme_db_chall_each(store *db, const char *authz, int (*fn)(const acme_chall *c, void *arg),
    void *arg, tg_err *err) TG_MUST_CHECK;
/* pending (or processing since before stale) -> processing; *changes 0 when
 * another request claimed it or its authorization is no longer pending. */
int acme_db_chall_claim(store *db, const char *id, int64_t now, int64_t stale, long *changes,
    tg_err *err) TG_MUST_CHECK;
/* The validation's outcome for the challenge, its authorization and order,
 * in one transaction. error: a problem document (JSON text) or NULL. */
int acme_db_chall_done(store *db, const acme_chall *c, const acme_authz *a, int ok,
    const char *error, int64_t now, tg_err *err) TG_MUST_CHECK;

/* ---- policy (policy.c) --------------------------------------------------- */

typedef struct acme_cidr {
	int family;                /* 4 or 6 */
	unsigned char addr[16];
	int prefix;
} acme_cidr;

typedef struct acme_policy {
	const char *const *domains;
	size_t ndomains;
	acme_cidr *ips;
	size_t nips;
	int no_wildcards;
	int dns01;                 /* --dns-resolver given: dns-01 offered, wildcards possible */
	int64_t max_validity, default_validity;
} acme_policy;

int acme_cidr_parse(const char *s, acme_cidr *c, tg_err *err) TG_MUST_CHECK;
/* An identifier {"type","value"} from a client: syntax (a DNS name in
 * lower-case A-labels, an IP literal in canonical form), then the policy.
 * canon receives the form the server keeps. On refusal: malformed,
 * unsupportedIdentifier or rejectedIdentifier with the reason. */
int acme_ident_check(const acme_policy *pol, const char *type, const char *value,
    char canon[256], acme_problem *p);

/* ---- the server ------------------------------------------------------- */

/* Counters for /metrics (relaxed atomics: any thread adds). */
struct acme_metrics {
	_Atomic unsigned long requests, problems, accounts, orders, issued, revoked;
	_Atomic unsigned long validations_ok, validations_failed, conns, conns_active;
	_Atomic unsigned long refused_busy;
	/* Connections the front end closed: parked past their deadline, the
	 * longest idle one reclaimed at --max-conns, refused at --max-conns or
	 * at --max-conns-per-ip. */
	_Atomic unsigned long closed_idle, closed_reclaimed, refused_full, refused_per_ip;
};

struct acme_vq; /* the validation queue (vqueue.c) */

/* Group commit (group.c): items of several threads written by one of them
 * in one transaction. run gets the leader's ctx and the items (at most
 * ACME_GROUP_MAX) and must settle every item's outcome. */
/* What --max-conns-per-ip counts by: an IPv4 address (mapped ones too), an
 * IPv6 address's /64 (server.c). */
typedef struct acme_addr_key {
	int family;
	unsigned char b[8];
} acme_addr_key;
struct sockaddr_storage;
void acme_addr_key_of(const struct sockaddr_storage *ss, acme_addr_key *k);

#define ACME_GROUP_MAX 64
typedef void (*acme_group_fn)(void *ctx, void *const *items, size_t n);
struct acme_group_wait;
typedef struct acme_group {
	pthread_mutex_t mu;
	struct acme_group_wait *head, **tail;
	int leading;               /* a thread is writing a group */
	acme_group_fn run;
} acme_group;

void acme_group_init(acme_group *g, acme_group_fn run);
void acme_group_free(acme_group *g);
/* Returns once item has been through run (by this thread or another). */
void acme_group_join(acme_group *g, void *ctx, void *item);

typedef struct acme_srv {
	const acme_serve_opts *o;
	tg_ca *ca;                 /* signs; used under sign_lock */
	pthread_mutex_t sign_lock;
	acme_group signq;          /* finalizes signed together (handlers.c) */
	acme_group nonceq;         /* used nonces recorded together (handlers.c) */
	char ca_dir[4096];
	char base[ACME_BASE_MAX];  /* https://HOST:PORT, no trailing slash */
	unsigned char nonce_key[ACME_NONCE_KEY_LEN];
	acme_policy pol;
	acme_vopts vopts;
	acme_resolve *resolve;
	struct acme_dns *dns;      /* --dns-resolver, set up once; NULL: none */
	char *chain_pem;           /* intermediates after a leaf ("" without one) */
	struct acme_vq *vq;
	struct acme_metrics m;
	_Atomic int64_t next_prune;
	atomic_int stop;
	int64_t started;
} acme_srv;

#define ACME_KEY_CACHE 64

/* What one thread (worker or validator) keeps: its own store connection,
 * and the account keys it decoded lately (a JWK becomes a key through
 * OpenSSL's decoders, a good part of a request's CPU). An entry is used
 * only while the account's stored thumbprint is still its own, so a key
 * rollover on any server is seen at once. */
typedef struct acme_thr {
	acme_srv *srv;
	tg_ca *ca;                 /* opened without the key: the store handle */
	store *db;
	struct {
		char id[ACME_ID_MAX];
		char thumbprint[48];
		EVP_PKEY *key;
	} keys[ACME_KEY_CACHE];
	unsigned next_key;
} acme_thr;

int acme_thr_open(acme_thr *t, acme_srv *srv, tg_err *err) TG_MUST_CHECK;
void acme_thr_close(acme_thr *t);

/* A request as the front end read it. */
typedef struct acme_req {
	const char *method;
	const char *path;          /* the request target, NUL-ended */
	const char *content_type;  /* "" when absent */
	const char *body;
	size_t body_len;
} acme_req;

#define ACME_RESP_HDRS 1024

typedef struct acme_resp {
	int status;
	const char *ctype;         /* NULL: no body */
	char *body;                /* malloc'd */
	size_t body_len;
	char hdrs[ACME_RESP_HDRS]; /* extra header lines, each ending in CRLF */
	size_t hlen;
	/* For the log line. */
	char account[ACME_ID_MAX];
	acme_ptype problem;
	int nonce;                 /* add a Replay-Nonce */
} acme_resp;

void acme_resp_header(acme_resp *r, const char *fmt, ...) TG_PRINTF(2, 3);
void acme_resp_clear(acme_resp *r);
/* Answers one request. */
void acme_handle(acme_thr *t, const acme_req *q, acme_resp *r);
/* A problem answer (for the front end's own refusals too). */
void acme_resp_problem(acme_srv *srv, acme_resp *r, const acme_problem *p);

/* The validation queue, bounded: a request reserves a place (-1: full)
 * before it claims the challenge in the store, then hands the place to the
 * claimed challenge (chall_id) or gives it back (NULL). */
int acme_vq_start(acme_srv *srv, tg_err *err) TG_MUST_CHECK;
int acme_vq_reserve(acme_srv *srv);
void acme_vq_hand(acme_srv *srv, const char *chall_id);
void acme_vq_stop(acme_srv *srv);

/* The server's group commits (finalize's certificates, used nonces). */
void acme_groups_init(acme_srv *srv);
void acme_groups_free(acme_srv *srv);

void acme_time_rfc3339(int64_t t, char *buf, size_t len);

#endif
