/* PostgreSQL's TLS prelude in client mode: see pgstart.h. */
#include <stdio.h>
#include <string.h>

#include "gateway/pgstart.h"

const unsigned char gw_pg_sslrequest[GW_PG_REQUEST_LEN] = { 0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f };
const unsigned char gw_pg_gssencrequest[GW_PG_REQUEST_LEN] = { 0, 0, 0, 8, 0x04, 0xd2, 0x16,
	0x30 };

enum gw_pg_first
gw_pg_client_first(const unsigned char *p, size_t have, int eof)
{
	size_t k = have < GW_PG_REQUEST_LEN ? have : GW_PG_REQUEST_LEN;
	int ssl;

	if (have == 0)
		return GW_PG_WAIT; /* nothing to decide on */
	ssl = memcmp(p, gw_pg_sslrequest, k) == 0;
	if (!ssl && memcmp(p, gw_pg_gssencrequest, k) != 0)
		return GW_PG_PASS;
	if (have < GW_PG_REQUEST_LEN)
		return eof ? GW_PG_PASS : GW_PG_WAIT; /* cut short: goes on as it is */
	return ssl ? GW_PG_SSLREQUEST : GW_PG_GSSENCREQUEST;
}

int
gw_pg_server_answer(ssize_t n, unsigned char ch, int errnum, const char *target, char *why,
    size_t whylen)
{
	if (n == 1 && ch == 'S')
		return 0;
	if (n == 1 && ch == 'N')
		snprintf(why, whylen, "PostgreSQL at %s refused TLS: it answered 'N' to the SSLRequest "
		    "(ssl = off in its postgresql.conf?); closed the client", target);
	else if (n == 1 && ch == 'E') /* its text came before TLS: not trusted, not shown */
		snprintf(why, whylen, "%s answered the PostgreSQL SSLRequest with an error message "
		    "('E', not read: it came before TLS; too old a server, or not PostgreSQL?); "
		    "closed the client", target);
	else if (n == 1)
		snprintf(why, whylen, "%s answered 0x%02x to the PostgreSQL SSLRequest, not 'S': is "
		    "it PostgreSQL? (--starttls postgres); closed the client", target, ch);
	else
		snprintf(why, whylen, "%s %s after the PostgreSQL SSLRequest; closed the client",
		    target, n == 0 ? "closed the connection" : strerror(errnum));
	return -1;
}
