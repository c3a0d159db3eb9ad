/* Internal interfaces of the gateway. The pipeline is
 *   gw_config (plain, validated) -> gw_runtime (built: TLS contexts, ACLs,
 *   addresses) -> workers (one libev loop each) -> gw_conn.
 * Only tls_engine.c talks to libssl; everything else sees plain data. */
#ifndef TLSGATE_GW_H
#define TLSGATE_GW_H

#include <netinet/in.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "tlsgate/gateway.h"
#include "tlsgate/util.h"

/* --- Plain configuration --- */

enum gw_mode { GW_MODE_TCP, GW_MODE_HTTP };
enum gw_verify { GW_VERIFY_NONE, GW_VERIFY_OPTIONAL, GW_VERIFY_REQUIRE, GW_VERIFY_FULL };

#define GW_MAX_LISTENERS 64
#define GW_MAX_WORKERS 64

struct gw_strlist {
	char **v;
	size_t n;
};

struct gw_listener_cfg {
	char *name;
	char *listen, *target;
	enum gw_mode mode;
	char *cert, *key, *certs_dir;
	int strict_sni;
	char *client_ca, *crl;
	enum gw_verify verify;
	struct gw_strlist allow_cn, allow_san, allow_ou;
	int proxy_v2;
	int cert_header; /* http: pass X-Client-Cert (the URL-encoded PEM) */
	char *pass_file, *pass_command;
	char *ciphers;
	int min_tls; /* 12 or 13 */
	double handshake_timeout, connect_timeout, idle_timeout;
	double max_conn_lifetime; /* seconds; 0: no limit */
	double head_timeout, body_timeout; /* http: a request head's arrival; a body's silence */
	int allow_connect;                 /* http: forward CONNECT instead of 405 */
	unsigned long max_conns; /* 0: from memory and the descriptor limit */
	/* Connections that have not finished their handshake, per listener
	 * and per client address (IPv6: per /64). */
	unsigned long max_unauth, max_unauth_per_addr;
	unsigned long session_cache; /* resumable sessions kept; 0: no resumption */
	struct gw_strlist ticket_keys; /* session-ticket key files (nginx's format) */
	int crl_strict; /* a CRL past its nextUpdate refuses every client */
	int seen; /* bitmask of how the listener got options; for messages */
	/* role = client (`tlsgate connect`): plain in, TLS out to target, with
	 * cert/key as the client certificate. */
	int client;
	char *ca;          /* the CAs the server's chain must lead to */
	char *verify_name; /* the name the server's certificate must hold */
	char *sni;
	char *alpn;
	int starttls;      /* enum gw_starttls */
	int insecure;      /* no server verification (loudly) */
	uint64_t keys_set; /* bit i: option i of the table was given */
};

enum gw_starttls { GW_STARTTLS_NONE, GW_STARTTLS_POSTGRES };

struct gw_config {
	char *path;             /* the INI file, re-read on reload; NULL for flags */
	unsigned long workers;  /* 0: one per core */
	char *status;
	int watch;              /* reload when a certificate, key, CA or CRL file changes */
	double ticket_key_rotate; /* seconds between rotations of the process's own
	                           * ticket keys; 0: none (sessions in the cache) */
	struct gw_listener_cfg *l[GW_MAX_LISTENERS];
	size_t nl;
};

/* Reads config file text from f (gw_config_load opens path and calls it);
 * path names the file in messages, each with its line. */
int gw_config_read(gw_config *cfg, FILE *f, const char *path, tg_err *err) TG_MUST_CHECK;

const char *gw_mode_name(enum gw_mode m);
const char *gw_verify_name(enum gw_verify v);

/* --- Identity of a client certificate, as plain data --- */

struct gw_peer {
	int present;               /* the client sent a certificate */
	int verified;              /* ... and it passed CA, time and CRL checks */
	const char *verify_error;  /* why not, when present && !verified (static) */
	char cn[256];
	char **sans;               /* "DNS:x", "URI:x", "email:x", "IP:x" */
	size_t nsans;
	char **ous;
	size_t nous;
	/* Filled only on request (http identity headers). */
	char *subject, *issuer, *serial, *fingerprint, *pem;
};

void gw_peer_clear(struct gw_peer *p);

/* --- Allow rules (verify-full) --- */

typedef struct gw_acl gw_acl;

gw_acl *gw_acl_new(const struct gw_strlist *cn, const struct gw_strlist *san,
    const struct gw_strlist *ou, tg_err *err);
void gw_acl_free(gw_acl *acl);
/* 0 if gw_acl_new would take the rules; for config validation. */
int gw_acl_check(const struct gw_strlist *cn, const struct gw_strlist *san,
    const struct gw_strlist *ou, tg_err *err) TG_MUST_CHECK;
/* 1 if there are no rules at all. */
int gw_acl_empty(const gw_acl *acl);
/* 1 if the identity matches at least one rule. */
int gw_acl_allows(const gw_acl *acl, const struct gw_peer *p);

/* --- Certificates found by file layout (Prosody's) --- */

struct gw_cert_spec {
	char *host;  /* name from the layout, or NULL for an explicit --cert */
	char *cert;
	char *key;
};

/* Finds HOST.crt + HOST.key and HOST/fullchain.pem + HOST/privkey.pem in dir,
 * sorted by host. */
int gw_certdir_scan(const char *dir, struct gw_cert_spec **specs, size_t *n,
    tg_err *err) TG_MUST_CHECK;
void gw_cert_specs_free(struct gw_cert_spec *specs, size_t n);

/* Refuses keys looser than PostgreSQL's rule: 0600 (or stricter) owned by us,
 * or 0640 (or stricter) owned by root. */
int gw_key_mode_ok(const char *path, tg_err *err) TG_MUST_CHECK;

/* --- Logging --- */

/* A line that can repeat fast (accept failures, a limit reached) goes out
 * at most once per GW_LOG_EVERY seconds per limiter; the next line written
 * counts the ones held back. Threads may share a limiter. */
#define GW_LOG_EVERY 10

struct gw_log_limit {
	_Atomic int64_t next_ms; /* monotonic ms from which the next line may go */
	_Atomic uint64_t held;   /* lines held back since the last one */
};

/* One line at syslog priority prio (UTIL_LOG_ERR, _WARN, _INFO), which the
 * journal records (log.c); the text is the same on a terminal. */
void gw_logp(int prio, const char *fmt, ...) TG_PRINTF(2, 3);
#define gw_log(...) gw_logp(UTIL_LOG_INFO, __VA_ARGS__)
#define gw_log_warn(...) gw_logp(UTIL_LOG_WARN, __VA_ARGS__)
#define gw_log_err(...) gw_logp(UTIL_LOG_ERR, __VA_ARGS__)
/* Rate-limited lines are warnings. */
void gw_log_limited(struct gw_log_limit *lim, const char *fmt, ...) TG_PRINTF(2, 3);

/* --- Built runtime --- */

struct gw_tls_ctx;

struct gw_listener_rt {
	char *name;
	char listen_str[256];
	struct sockaddr_storage listen_addr;
	socklen_t listen_len;
	/* A unix listening socket: its mode (-1: 0666 less the umask) and
	 * owner ((uid_t)-1: ours), set before listen(2). */
	int unix_mode;
	uid_t unix_uid;
	gid_t unix_gid;
	char target_str[256];
	struct sockaddr_storage target_addr;
	socklen_t target_len;
	enum gw_mode mode;
	enum gw_verify verify;
	int proxy_v2;
	int cert_header;
	double handshake_timeout, connect_timeout, idle_timeout;
	double max_conn_lifetime;
	double head_timeout, body_timeout;
	int allow_connect;
	unsigned long max_conns;
	_Atomic unsigned long conns; /* open, over the worker process's threads */
	/* Connections still in their handshake: a count for the listener and
	 * one per client address hashed into GW_UNAUTH_SLOTS (a collision
	 * only makes two addresses share a limit), shared by the threads of a
	 * worker process. */
	unsigned long max_unauth, max_unauth_per_addr;
	_Atomic unsigned long unauth;
	_Atomic uint16_t *unauth_addr;
	struct gw_tls_ctx *tls; /* NULL for a client listener */
	/* Client mode (role = client): TLS goes out to the target. */
	int client;
	int starttls; /* enum gw_starttls */
	int insecure;
	struct gw_tls_client *upstream;
	char verify_name[256]; /* "" with --insecure */
	struct gw_log_limit insecure_log;
	gw_acl *acl;
	struct gw_tls_verifier *verifier; /* CA, CRL, rules: the TLS context uses it */
	/* Written by every worker thread (the rest is read only). */
	struct gw_log_limit full_log;    /* max-conns reached */
	struct gw_log_limit accept_log;  /* accept failed (EMFILE...) */
	struct gw_log_limit refused_log; /* over max-unauth-conns or -per-addr */
};

struct gw_runtime {
	struct gw_listener_rt *l;
	size_t nl;
};

#define GW_UNAUTH_SLOTS 8192

/* Per listener when max-conns is not set: what half the memory holds at
 * ~64 KB a busy connection, what the descriptor limit allows (two per
 * connection), and at most 100000. */
unsigned long gw_default_max_conns(void);

struct gw_runtime *gw_runtime_build(const struct gw_config *cfg, tg_err *err);
void gw_runtime_free(struct gw_runtime *rt);

/* After a reload, the client-verification rules that the new configuration
 * gives each listener of an old runtime (matched by name), for the old
 * generation to re-check the connections it still holds. Built from the
 * configuration's source as the master built it (the INI file re-read, or
 * the flags), by the same code as a runtime's, without certificates or keys.
 * A listener whose rules cannot be had (the file no longer loads, a CA or
 * CRL is unreadable, the listener is gone) gets `closed`: the reason its
 * connections are closed for. Shared by a process's worker threads, which
 * drop their references (gw_recheck_put) when they take a newer one. */
struct gw_recheck_l {
	gw_acl *acl;
	struct gw_tls_verifier *verifier;
	char *closed;
};

struct gw_recheck {
	_Atomic unsigned long refs;
	size_t nl; /* the old runtime's listeners, in its order */
	struct gw_recheck_l l[];
};

/* NULL only when out of memory. */
struct gw_recheck *gw_recheck_build(const struct gw_runtime *old, const struct gw_config *src);
void gw_recheck_put(struct gw_recheck *r);


/* HOST:PORT (port 1-65535) resolved, or unix:/PATH (util_parse_addr);
 * what names the option in messages ("listen" takes unix socket options,
 * "status" no unix socket). */
int gw_parse_addr(const char *s, const char *what, struct sockaddr_storage *ss,
    socklen_t *len, tg_err *err) TG_MUST_CHECK;
/* The same checks without resolving, for when an option is set. */
int gw_addr_check(const char *s, const char *what, tg_err *err) TG_MUST_CHECK;

/* A piece of text that is not NUL-terminated. */
struct gw_text {
	const char *p;
	size_t len;
};

/* --- PROXY protocol v2 --- */

struct gw_proxy_info {
	const struct sockaddr_storage *src, *dst;
	int tls;                  /* the client connection used TLS */
	int cert_conn;            /* a client cert was presented on this connection */
	int cert_verified;
	const char *version, *cipher, *cn, *sni;
};

#define GW_PROXY_MAX 1024

/* Writes the header into out (at most cap bytes); returns its length or -1. */
int gw_proxy_v2_build(const struct gw_proxy_info *pi, unsigned char *out, size_t cap);

/* A PROXY v2 header as read back (tests and fuzzing check the writer with
 * it). Texts point into the bytes read; absent ones have len 0. */
struct gw_proxy_read {
	int local;              /* LOCAL command (health checks): no addresses */
	unsigned char family;   /* PP2 family and protocol byte: 0x00, 0x11, 0x21... */
	unsigned char src[16], dst[16];
	size_t addr_len;        /* 4 (IPv4), 16 (IPv6), 0 (none or unix) */
	unsigned src_port, dst_port;
	struct gw_text authority;
	int ssl;                /* a PP2_TYPE_SSL TLV was present */
	unsigned char client;   /* its client flags */
	uint32_t verify;
	struct gw_text version, cn, cipher;
};

/* Reads the header at the start of in[0..len): returns its length, 0 when
 * more bytes are needed, -1 when it is not a well-formed v2 header (bad
 * signature, version, command, family, or a TLV that overruns). */
int gw_proxy_v2_read(const unsigned char *in, size_t len, struct gw_proxy_read *out);

/* --- HTTP filter (http.c over h1.c) --- */

typedef struct gw_http gw_http;

#define GW_HTTP_HEAD_MAX (16 * 1024)
#define GW_HTTP_HEADERS_MAX 128
#define GW_HTTP_PIPELINE 64 /* requests sent and not yet answered; more wait */

#define GW_HTTP_ALLOW_CONNECT 1 /* gw_http_new: forward CONNECT (else 405) */

enum gw_http_ev {
	GW_HTTP_MORE,    /* consumed what it could; feed more or make room */
	GW_HTTP_HEAD,    /* a request head is complete: write it or refuse */
	GW_HTTP_REFUSE,  /* the request is refused: answer gw_http_refusal() and close */
};

/* Where the client is in its request, for the timeouts. */
enum gw_http_phase {
	GW_HTTP_IDLE,     /* between requests */
	GW_HTTP_IN_HEAD,  /* a head has begun */
	GW_HTTP_IN_BODY,  /* a request body is coming */
	GW_HTTP_OTHER,    /* waiting for the answer to an upgrade, a tunnel, refused */
};

gw_http *gw_http_new(unsigned flags);
void gw_http_free(gw_http *h);
/* Parses client bytes in[0..len); bodies go to out as far as outspace
 * allows (Content-Length bodies copied, chunked ones re-framed). *used and
 * *outlen say how much. Stops at each complete head until
 * gw_http_head_write is called; after a request that asked to upgrade (or a
 * CONNECT) takes nothing until gw_http_response has seen its answer. */
enum gw_http_ev gw_http_feed(gw_http *h, const char *in, size_t len, size_t *used,
    char *out, size_t outspace, size_t *outlen);
/* After GW_HTTP_REFUSE: the status to answer, the reason for the error page
 * (or NULL) and what was wrong, for the log. */
int gw_http_refusal(const gw_http *h, const char **reason, const char **why);

/* Bytes gw_http_head_write needs for the rewritten head plus extra_len. */
size_t gw_http_head_size(const gw_http *h, size_t extra_len);
/* Writes the head without client-sent identity headers, with the n pieces
 * of `extra` (ready-made "Name: value\r\n" lines) added; returns bytes
 * written. */
size_t gw_http_head_write(gw_http *h, char *out, const struct gw_text *extra, size_t n);
/* Backend bytes p[0..n), in order, as they go to the client: matched to the
 * requests sent. -1: the backend broke HTTP (gw_http_response_error says
 * how); the connection cannot go on. 1: a request was refused and the
 * responses owed before it are complete. After -1 or 1 only the first
 * gw_http_response_keep() bytes go to the client: the responses that ended
 * before the broken one (or before the refusal); *clean says that no byte of
 * the broken response went out in an earlier call (an error page may take
 * its place). */
int gw_http_response(gw_http *h, const char *p, size_t n);
size_t gw_http_response_keep(const gw_http *h, int *clean);
const char *gw_http_response_error(const gw_http *h);
/* Reads no more requests; the caller refuses the next one (a certificate
 * refused after a reload, a request past max-conn-lifetime). Returns how
 * many responses the client is owed first (gw_http_owed). */
unsigned gw_http_stop(gw_http *h);
/* After GW_HTTP_REFUSE or gw_http_stop: responses still owed to the client
 * for the requests forwarded whole before the refused one; the refusal is
 * answered after them (gw_http_response returns 1). */
unsigned gw_http_owed(const gw_http *h);
/* The next head written asks the backend to close after its answer
 * (max-conn-lifetime): its one Connection line says close, not keep-alive. */
void gw_http_close_next(gw_http *h);
enum gw_http_phase gw_http_phase(const gw_http *h);
/* Requests sent whose final response has not ended yet. */
unsigned gw_http_outstanding(const gw_http *h);
/* 1 while framing the filter wrote waits for room, or a parsed head waits
 * to be written (feed it even without input). */
int gw_http_pending(const gw_http *h);
/* 1 if name is one the gateway owns (X-Client-*, X-Forwarded-*, X-Real-IP,
 * Forwarded), comparing '_' as '-' because WSGI/CGI backends merge them. */
int gw_http_header_reserved(const char *name, size_t len);
/* A complete HTTP/1.1 error response in nginx's words; returns its length. */
int gw_http_error(int status, const char *reason, char *out, size_t cap);

/* --- Bounded text (out.c) --- */

/* A builder into p[cap]: a piece that does not fit sets overflow instead of
 * writing past the end, and nothing more is added. */
struct gw_out {
	char *p;
	size_t len, cap;
	int overflow;
};

void gw_out_add(struct gw_out *o, const void *s, size_t n);
void gw_out_str(struct gw_out *o, const char *s);
/* Control characters become '?'; for_log also spaces and quotes. */
void gw_out_clean(struct gw_out *o, const char *s, int for_log);
/* "name: value\r\n"; clean: the value through gw_out_clean. */
void gw_out_header(struct gw_out *o, const char *name, const char *value, int clean);
/* s, cleaned for a log field and cut to fit, into dst[cap]. */
void gw_log_field(char *dst, size_t cap, const char *s);

/* --- Identity headers of http mode (ident.c) --- */

#define GW_FP_LEN 32 /* SHA-256 */

/* The X-Client-* lines for one client certificate (or for none), shared by
 * reference count among a worker's connections that present it. */
typedef struct gw_ident gw_ident;

struct gw_idents {
	gw_ident **b; /* hash buckets by fingerprint */
	size_t nb, n;
};

/* A new reference to the lines for the certificate with SHA-256 fp (all
 * zero: no certificate), or NULL if there are none yet. */
gw_ident *gw_ident_find(struct gw_idents *ic, const unsigned char *fp, int cert_header);
/* Builds the lines from p (full identity: GW_PEER_NAMES, and GW_PEER_PEM if
 * cert_header) and returns the first reference; NULL when out of memory. */
gw_ident *gw_ident_add(struct gw_idents *ic, const unsigned char *fp, int cert_header,
    const struct gw_peer *p);
/* Drops a reference; the last one frees the lines. NULL is ignored. */
void gw_ident_put(struct gw_idents *ic, gw_ident *id);
const char *gw_ident_text(const gw_ident *id, size_t *len);
/* Frees the table; entries still held belong to their connections. */
void gw_idents_free(struct gw_idents *ic);

#endif
