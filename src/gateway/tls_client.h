/* The client side of the TLS engine (`tlsgate connect`): a context that
 * connects out to one target with a client certificate, verifies the
 * server's chain against --ca and its name, and keeps the sessions the
 * server hands out to resume later connections. Its connections are gw_tls
 * objects like a server's, so the pump reads and writes them the same way. */
#ifndef TLSGATE_GW_TLS_CLIENT_H
#define TLSGATE_GW_TLS_CLIENT_H

#include "gateway/tls_engine.h"
#include "tlsgate/pki.h"

typedef struct gw_tls_client gw_tls_client;

/* Sessions kept per target at most, whatever --session-cache says. */
#define GW_TLS_CLIENT_SESSIONS_MAX 1024

struct gw_tls_client_opts {
	const char *listener;
	const char *cert, *key; /* NULL: no client certificate */
	pki_pass *pass;          /* asked only for an encrypted key */
	const char *ca;          /* NULL only with insecure */
	const char *verify_name; /* the name (or IP) the server's certificate must hold */
	const char *sni;         /* NULL: none (the target is an IP address) */
	const char *alpn;        /* "h2,http/1.1" or NULL */
	int insecure;
	const char *ciphers;
	int min_tls;
	unsigned long sessions;  /* 0: no resumption */
};

gw_tls_client *gw_tls_client_new(const struct gw_tls_client_opts *o, tg_err *err);
void gw_tls_client_free(gw_tls_client *c);
/* The client certificate, for /metrics and --test (n is 0 or 1). */
const struct gw_tls_certinfo *gw_tls_client_certs(const gw_tls_client *c, size_t *n);
/* A connection to the target over fd (connected), with a kept session to
 * resume if there is one; gw_tls_handshake drives it. */
gw_tls *gw_tls_client_conn(gw_tls_client *c, int fd);
/* The certificates a listener loaded, server or client (runtime.c). */
const struct gw_tls_certinfo *gw_listener_certs(const struct gw_listener_rt *l, size_t *n);
/* 1 if "h2,http/1.1" is a list ALPN can carry (each 1-255 bytes). */
int gw_tls_alpn_ok(const char *list);

#endif
