/* libFuzzer target for client mode's PostgreSQL prelude (`connect
 * --starttls postgres`). The input is
 *
 *   [server's answer byte] [how recv ended] [cut] client bytes
 *
 * The server's answer goes through gw_pg_server_answer: 0 exactly for a
 * byte 'S', else a reason that is one line of printable text (the byte it
 * names is shown in hex, never raw). The client bytes go through
 * gw_pg_client_first as the pump's filter drives it: in pieces of the size
 * `cut` picks, each SSLRequest or GSSENCRequest answered and dropped, the
 * rest forwarded once a byte tells it is not one. Checked: what is
 * forwarded never starts with a whole request (the client's own
 * SSLRequest must not reach PostgreSQL inside the tunnel), the answers and
 * the forwarded bytes add up to the input, and none of it depends on how
 * the bytes were cut. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/pgstart.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct outcome {
	size_t answers;   /* requests answered 'N' */
	size_t forwarded; /* offset from which the bytes go on to the server */
	int passed;       /* the filter stepped aside */
};

/* The pump's loop: bytes arrive in pieces of `cut` (0: all at once), the
 * filter decides on what is buffered after each. */
static struct outcome
run(const uint8_t *p, size_t len, size_t cut)
{
	struct outcome o = { 0 };
	size_t off = 0, have = cut == 0 || cut > len ? len : cut;

	for (;;) {
		int eof = have == len;
		enum gw_pg_first f = gw_pg_client_first(p + off, have - off, eof);
		if (f == GW_PG_PASS) {
			o.passed = 1;
			break;
		}
		if (f == GW_PG_SSLREQUEST || f == GW_PG_GSSENCREQUEST) {
			if (have - off < GW_PG_REQUEST_LEN)
				abort(); /* answered a request it has not seen whole */
			if (memcmp(p + off, f == GW_PG_SSLREQUEST ? gw_pg_sslrequest : gw_pg_gssencrequest,
			        GW_PG_REQUEST_LEN) != 0)
				abort();
			o.answers++;
			off += GW_PG_REQUEST_LEN;
			continue;
		}
		if (eof)
			break; /* waits with every byte seen: only when none is left */
		have = have + cut > len ? len : have + cut;
	}
	if (!o.passed && off != len)
		abort();
	o.forwarded = off;
	return o;
}

static void
server_answer(uint8_t ch, uint8_t how)
{
	static const ssize_t ns[] = { 1, 0, -1 };
	ssize_t n = ns[how % 3];
	char why[300];
	int r;

	memset(why, 0x55, sizeof(why));
	r = gw_pg_server_answer(n, ch, how & 0x80 ? 104 : 110, "db.example:5432", why, sizeof(why));
	if ((r == 0) != (n == 1 && ch == 'S'))
		abort();
	if (r == 0)
		return;
	if (memchr(why, '\0', sizeof(why)) == NULL || why[0] == '\0')
		abort();
	for (const char *c = why; *c != '\0'; c++)
		if ((unsigned char)*c < 0x20 || (unsigned char)*c == 0x7f)
			abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct outcome whole, cut;
	const uint8_t *p;
	size_t len;

	if (size < 3)
		return 0;
	server_answer(data[0], data[1]);
	p = data + 3;
	len = size - 3;
	whole = run(p, len, 0);
	cut = run(p, len, (size_t)data[2] % 9 + 1);
	if (whole.answers != cut.answers || whole.forwarded != cut.forwarded ||
	    whole.passed != cut.passed)
		abort();
	if (whole.forwarded + GW_PG_REQUEST_LEN <= len &&
	    (memcmp(p + whole.forwarded, gw_pg_sslrequest, GW_PG_REQUEST_LEN) == 0 ||
	        memcmp(p + whole.forwarded, gw_pg_gssencrequest, GW_PG_REQUEST_LEN) == 0))
		abort();
	if (whole.answers * GW_PG_REQUEST_LEN != whole.forwarded)
		abort();
	return 0;
}
