/* The TLS engine: the only part of the gateway that calls libssl. A context
 * is built once per listener (and rebuilt on reload); a connection wraps one
 * non-blocking socket. Swapping in another engine means another file with
 * this interface. */
#ifndef TLSGATE_GW_TLS_ENGINE_H
#define TLSGATE_GW_TLS_ENGINE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "gateway/gw.h"
#include "tlsgate/pki.h"
#include "gateway/tickets.h"

typedef struct gw_tls_ctx gw_tls_ctx;
typedef struct gw_tls gw_tls;
typedef struct gw_tls_verifier gw_tls_verifier;

/* --- Client verification --- */

/* What a listener asks of client certificates: the CA bundle and CRL (one
 * X509 store), the verify mode and the identity rules. A TLS context verifies
 * handshakes with one; an old generation builds them alone (no keys, no
 * passphrases: cheap) from the new configuration after a reload to re-check
 * the connections it still holds (gw_tls_recheck). */
struct gw_tls_verify_opts {
	const char *client_ca, *crl;
	enum gw_verify verify;
	const gw_acl *acl; /* borrowed: outlives the verifier */
	/* A CRL past its nextUpdate refuses every client (OpenSSL's and
	 * PostgreSQL's way); otherwise it still revokes, with a warning. */
	int crl_strict;
};

gw_tls_verifier *gw_tls_verifier_new(const struct gw_tls_verify_opts *o, tg_err *err);
void gw_tls_verifier_free(gw_tls_verifier *v);

/* One CRL a verifier loaded, for /healthz and /metrics. */
struct gw_tls_crlinfo {
	char path[512];
	char issuer[256];
	long number;          /* its crlNumber; -1 without one */
	int64_t last_update;
	int64_t next_update;  /* 0: the CRL has none */
	int strict;           /* --crl-strict: past next_update, every client is refused */
};

const struct gw_tls_crlinfo *gw_tls_verifier_crls(const gw_tls_verifier *v, size_t *n);
/* Logs that ci is past its nextUpdate and what that does (listener may be
 * NULL). */
void gw_tls_crl_warn_expired(const struct gw_tls_crlinfo *ci, const char *listener);

enum gw_verdict {
	GW_VERDICT_OK,
	GW_VERDICT_NO_CERT,  /* required, none sent (http: 400) */
	GW_VERDICT_BAD_CERT, /* chain, time, CRL or a name that is not text (http: 400) */
	GW_VERDICT_DENIED,   /* valid, not on the allow list (http: 403) */
};

struct gw_tls_opts {
	const char *listener;
	const struct gw_cert_spec *certs; /* certs[0] is the default */
	size_t ncerts;
	int strict_sni;
	/* Client verification (NULL, or verify none: no client certificates);
	 * borrowed, outlives the context. */
	const gw_tls_verifier *verifier;
	/* Finish every handshake whatever the client cert and report the result
	 * afterwards (http mode answers 400/403 like nginx); otherwise a bad or
	 * missing required cert fails the handshake with an alert, and the
	 * identity rules are checked in the handshake. */
	int defer_verify;
	pki_pass *pass; /* asked only for an encrypted key */
	const char *ciphers;
	int min_tls;
	unsigned long session_cache; /* sessions kept for resumption; 0: none */
	/* Stateless tickets under these keys (copied): other gateways
	 * sharing them resume the sessions. NULL: under the ring's keys
	 * (borrowed); neither: sessions stay in the in-memory cache (a TLS
	 * 1.3 ticket is only an ID into it) and no ticket key exists. */
	const struct gw_ticket_keys *tickets;
	struct gw_ticket_ring *ring;
};

gw_tls_ctx *gw_tls_ctx_new(const struct gw_tls_opts *o, tg_err *err);
void gw_tls_ctx_free(gw_tls_ctx *ctx);
/* Frees the cached sessions that have expired (their secrets wiped), at
 * most once per GW_TLS_EXPIRE_SECS whichever thread calls: the worker
 * threads call it every tick, so a session's secrets leave memory within
 * that of its end even when no handshake comes to run OpenSSL's own
 * flush. */
#define GW_TLS_EXPIRE_SECS 30
void gw_tls_ctx_expire_sessions(gw_tls_ctx *ctx, time_t now);

struct gw_tls_certinfo {
	char path[512];
	char subject[256];
	int64_t not_after;
};

const struct gw_tls_certinfo *gw_tls_ctx_certs(const gw_tls_ctx *ctx, size_t *n);

enum gw_io {
	GW_IO_OK,
	GW_IO_WANT_READ,
	GW_IO_WANT_WRITE,
	GW_IO_EOF,    /* the peer closed (close_notify or TCP EOF) */
	GW_IO_ERROR,
};

/* How much of the client's first TLS record has arrived, looked at without
 * reading it (MSG_PEEK), so that a connection holds no TLS state until its
 * ClientHello is complete: 0 when the record is whole, or when the bytes are
 * not a TLS handshake record (the handshake then says why); -1 when the
 * client closed or the socket failed before sending anything; else the
 * number of bytes the record needs in all, header included. */
long gw_tls_first_record(int fd);

gw_tls *gw_tls_new(gw_tls_ctx *ctx, int fd);
/* For tls_client.c: wraps ssl (taken, freed on failure) for non-blocking
 * I/O on fd. expect: on the client side the name the server's certificate
 * must hold (for failure messages), NULL on the server side. */
struct ssl_st;
struct ssl_ctx_st;
gw_tls *gw_tls_wrap(struct ssl_st *ssl, int fd, const char *expect);
/* The defaults every context gets: TLS 1.2+ (or 1.3 with min_tls 13), no
 * renegotiation or compression, released buffers, AEAD-only TLS 1.2
 * suites unless ciphers (--ciphers) says otherwise. */
int gw_tls_ssl_defaults(struct ssl_ctx_st *ssl, int min_tls, const char *ciphers,
    tg_err *err) TG_MUST_CHECK;
void gw_tls_free(gw_tls *t);
enum gw_io gw_tls_handshake(gw_tls *t);
enum gw_io gw_tls_read(gw_tls *t, void *buf, size_t len, size_t *n);
enum gw_io gw_tls_write(gw_tls *t, const void *buf, size_t len, size_t *n);
/* Sends close_notify; reading may continue (TLS half-close). */
enum gw_io gw_tls_shutdown(gw_tls *t);
/* 1 if decrypted bytes wait inside the engine (no socket event will come). */
int gw_tls_pending(gw_tls *t);
/* 1 if the engine holds no unread bytes and its last socket read found the
 * socket empty: another read would only want a read event. */
int gw_tls_drained(gw_tls *t);
/* Why the last call failed, for the connection log. */
const char *gw_tls_error(const gw_tls *t);

/* 1 once the client sent anything of a handshake (a bare TCP connect, as
 * load-balancer health checks do, is not a failed handshake). */
int gw_tls_started(gw_tls *t);
const char *gw_tls_version(gw_tls *t);
const char *gw_tls_cipher(gw_tls *t);
const char *gw_tls_sni(gw_tls *t);
int gw_tls_resumed(gw_tls *t);

#define GW_PEER_NAMES 1 /* subject, issuer, serial, SHA-256 fingerprint */
#define GW_PEER_PEM 2   /* and the PEM */

/* Fills the client's identity: CN, SANs and OUs always, more with the
 * GW_PEER_* flags in full (for identity headers). */
int gw_tls_peer(gw_tls *t, struct gw_peer *p, int full);
/* The same from a certificate alone (not verified; tests and fuzzing). */
int gw_peer_from_cert(X509 *cert, struct gw_peer *p, int full);
/* The SHA-256 of the client's certificate: 0, or -1 if it sent none. */
int gw_tls_peer_fingerprint(gw_tls *t, unsigned char fp[GW_FP_LEN]);

/* Judges the client certificate of an established connection again, as a
 * handshake under v would (chain to v's CA, time, v's CRL, names, v's rules):
 * after a reload, with the new configuration's verifier. *why says why not
 * (a static string). */
enum gw_verdict gw_tls_recheck(gw_tls *t, const gw_tls_verifier *v, const char **why);

#endif
