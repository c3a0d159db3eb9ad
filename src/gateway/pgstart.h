/* PostgreSQL's TLS prelude in client mode (`tlsgate connect --starttls
 * postgres`), the parsing steps apart from the pump so that they can be
 * tested on any bytes: what the local client's first bytes are, and what
 * the server's answer to our SSLRequest means. */
#ifndef TLSGATE_GW_PGSTART_H
#define TLSGATE_GW_PGSTART_H

#include <stddef.h>
#include <sys/types.h>

/* SSLRequest: length 8, code 80877103 (1234 << 16 | 5679);
 * GSSENCRequest: code 80877104. */
#define GW_PG_REQUEST_LEN 8
extern const unsigned char gw_pg_sslrequest[GW_PG_REQUEST_LEN];
extern const unsigned char gw_pg_gssencrequest[GW_PG_REQUEST_LEN];

enum gw_pg_first {
	GW_PG_WAIT,        /* no byte, or fewer than 8 all a request's so far: wait */
	GW_PG_PASS,        /* the startup message (or anything else): forward */
	GW_PG_SSLREQUEST,  /* the first 8 bytes are an SSLRequest: answer 'N' */
	GW_PG_GSSENCREQUEST
};

/* What the client's buffered bytes p[0..have) start with; eof: the client
 * sends no more (a request cut short then goes on as it is). */
enum gw_pg_first gw_pg_client_first(const unsigned char *p, size_t have, int eof);

/* The server's answer to the SSLRequest: n is what recv returned for one
 * byte (errnum its errno when n < 0), ch the byte. 0 for 'S'; else -1 and
 * why says what the server did (its bytes are not shown: they came before
 * TLS). */
int gw_pg_server_answer(ssize_t n, unsigned char ch, int errnum, const char *target, char *why,
    size_t whylen);

#endif
