/* tlsgate-acmeload: an ACME (RFC 8555) load client for bench/acme_bench.sh.
 * Worker threads, each with its own account and keep-alive HTTPS
 * connection, run whole orders (newOrder, http-01, finalize, download)
 * back to back; an in-process HTTP server answers the http-01 requests.
 * Everything the server sends is untrusted: bounded buffers, checked
 * lengths, JSON read through jansson with types checked. */
#ifndef TLSGATE_ACMELOAD_H
#define TLSGATE_ACMELOAD_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#define AL_HOST_MAX 256
#define AL_PATH_MAX 1024
#define AL_NONCE_MAX 128
#define AL_HEAD_MAX (16 * 1024)   /* a response's status line and headers */
#define AL_BODY_MAX (256 * 1024)  /* a response body (a certificate chain fits) */
#define AL_TOKEN_MAX 128
#define AL_KEYAUTHZ_MAX (AL_TOKEN_MAX + 64)
#define AL_ERR_MAX 512

/* ---- jws.c: base64url, the account key's JWK, ES256 JWS, CSRs ---------- */

char *al_b64u(const unsigned char *in, size_t len);
/* A P-256 key (account key or certificate key). */
EVP_PKEY *al_key_new(void);
/* The key's JWK ({"crv","kty","x","y"} in RFC 7638 order, compact) and its
 * thumbprint; 0/-1. jwk_out holds at least 256 bytes, tp_out 44. */
int al_jwk(EVP_PKEY *key, char *jwk_out, size_t jwk_cap, char tp_out[44]);
/* A flattened JWS (RFC 8555 6.2) signed with ES256: kid when given, else
 * the jwk; payload NULL means POST-as-GET (""). malloc'd, NULL on failure. */
char *al_jws(EVP_PKEY *key, const char *jwk, const char *kid, const char *nonce,
             const char *url, const char *payload);
/* A CSR (DER, base64url) for one identifier (IP literal or DNS name). */
char *al_csr_b64u(EVP_PKEY *key, const char *identifier);

/* ---- http.c: one keep-alive HTTPS connection, the http-01 responder ----- */

typedef struct al_resp {
	int status;
	char nonce[AL_NONCE_MAX];      /* Replay-Nonce, "" when absent */
	char location[AL_PATH_MAX];    /* Location, "" when absent */
	char ctype[128];               /* Content-Type, "" when absent */
	char *body;                    /* NUL-ended, at most AL_BODY_MAX */
	size_t body_len;
} al_resp;

typedef struct al_conn {
	SSL_CTX *ctx;                  /* shared, not owned */
	char host[AL_HOST_MAX];
	int port;
	int fd;
	SSL *ssl;
	char rbuf[16 * 1024];          /* bytes read, not yet consumed */
	size_t rpos, rlen;
	int reused;                    /* a response came on this connection */
	char err[AL_ERR_MAX];
	uint64_t requests;             /* sent, counting retries */
	uint64_t connects;
} al_conn;

/* The client context: TLS 1.2+, the server verified against ca_file. */
SSL_CTX *al_tls_ctx(const char *ca_file);
int al_conn_init(al_conn *c, SSL_CTX *ctx, const char *host, int port);
void al_conn_close(al_conn *c);
/* One request (method "GET", "HEAD" or "POST" with a JOSE body) on the
 * keep-alive connection, reconnecting when the server closed it. r->body is
 * malloc'd; al_resp_clear frees it. 0/-1 (c->err says why). */
int al_request(al_conn *c, const char *method, const char *path, const char *body,
               al_resp *r);
void al_resp_clear(al_resp *r);
/* The path of an absolute URL the server gave, which must name the server we
 * talk to (https://HOST:PORT/...); 0/-1. */
int al_url_path(const al_conn *c, const char *url, char *out, size_t cap);

/* The http-01 responder: answers GET /.well-known/acme-challenge/TOKEN for
 * the tokens placed in its slots (one per worker), 404 otherwise. */
typedef struct al_http01 al_http01;
al_http01 *al_http01_start(int port, size_t slots, int threads, char *err, size_t errlen);
void al_http01_set(al_http01 *h, size_t slot, const char *token, const char *keyauthz);
void al_http01_stop(al_http01 *h);

/* ---- flow.c: one worker's account and orders --------------------------- */

typedef struct al_shared {
	/* options */
	char host[AL_HOST_MAX];
	int port;
	char dir_path[AL_PATH_MAX];
	char identifier[AL_HOST_MAX];
	int is_ip;
	int poll_ms;
	int verify_every;              /* verify order 0 and every Nth chain */
	long orders;
	SSL_CTX *ctx;
	X509_STORE *roots;             /* the CA root the chains must reach */
	al_http01 *http01;
	/* the run */
	pthread_barrier_t ready;       /* every account registered: the clock starts */
	pthread_mutex_t mu;
	long next_order;               /* under mu */
	int first_error_shown;         /* under mu */
} al_shared;

typedef struct al_worker {
	al_shared *sh;
	size_t slot;
	al_conn conn;
	EVP_PKEY *key;
	char jwk[256];
	char thumbprint[44];
	char kid[AL_PATH_MAX];
	char nonce[AL_NONCE_MAX];
	char new_nonce[AL_PATH_MAX], new_account[AL_PATH_MAX], new_order[AL_PATH_MAX];
	/* results */
	double *lat;                   /* seconds per order that succeeded */
	size_t n_lat, cap_lat;
	long failed;
	long verified;
	uint64_t requests;             /* in the measured phase */
	uint64_t bad_nonce;
	long authz_valid;              /* authorizations already valid (reused) */
	int setup_failed;
	char err[AL_ERR_MAX];
} al_worker;

void *al_worker_run(void *arg);
double al_now(void);

#endif
