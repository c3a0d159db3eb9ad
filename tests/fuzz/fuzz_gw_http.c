/* libFuzzer target for http mode's filter, both ways. The input is
 *
 *   [cut] [room] [flags] [client length, 2 bytes] client bytes | backend bytes
 *
 * Client bytes are fed in pieces of the size `cut` picks, with `room`
 * deciding the room downstream, and backend bytes interleaved with them.
 * Checked: nothing is written past the room given or consumed past the
 * input; a rewritten head fits the size announced; a refusal says why; the
 * ring of requests stays bounded. Then, when there were no backend bytes
 * (no tunnel), the invariant the gateway relies on: what it forwarded,
 * fed through a second filter, passes unrefused and comes out the same
 * bytes. So the output is well-framed requests, and no reserved header
 * survives the first pass (the second would drop it, and differ). Every
 * head written is also checked by an oracle of the target's own (with at
 * most one Connection line, also when flags bit 1 makes the heads ask the
 * backend to close). Flags bit 2 stops the filter at its second head, as a
 * certificate refused after a reload does. After a refusal or a stop the
 * backend's bytes are still fed: the responses owed come, and only those
 * (gw_http_response says 1 exactly when none is owed any more, and never
 * keeps more than it was given). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gateway/gw.h"

#define OUT_CAP (1024 * 1024)
static const char extra_lines[] = "X-Client-Verify: NONE\r\nX-Forwarded-For: 192.0.2.1\r\n"
				  "Forwarded: for=192.0.2.1;proto=https\r\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct run {
	char *out;
	size_t len;
	int refused;
	int close_next, stop_at; /* flags bits 1 and 2 */
	unsigned heads;
};

/* An oracle of its own for a written head: a request line of three parts,
 * then "name: value" lines with token names and no control characters,
 * none of them a name the gateway owns, then our lines and the empty line. */
static int
tchar(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static int
owned(const char *name, size_t len)
{
	static const char *const words[] = { "x-client-", "x-forwarded-", "x-real-ip:", "forwarded:",
		"script-name:" };
	char low[16];
	size_t n = len < sizeof(low) ? len : sizeof(low);

	for (size_t i = 0; i < n; i++) {
		char c = name[i] == '_' ? '-' : name[i];
		low[i] = c >= 'A' && c <= 'Z' ? (char)(c + 32) : c;
	}
	for (size_t w = 0; w < sizeof(words) / sizeof(words[0]); w++)
		if (n >= strlen(words[w]) && memcmp(low, words[w], strlen(words[w])) == 0)
			return 1;
	return 0;
}

static void
check_head(const char *p, size_t n)
{
	size_t tail = sizeof(extra_lines) - 1 + 2, i = 0, spaces = 0, conn_lines = 0;

	if (n < tail || memcmp(p + n - tail, extra_lines, tail - 2) != 0 ||
	    memcmp(p + n - 2, "\r\n", 2) != 0)
		abort();
	n -= tail;
	for (; i < n && p[i] != '\r'; i++) {
		unsigned char c = (unsigned char)p[i];
		spaces += c == ' ';
		if (c <= 0x20 && c != ' ')
			abort();
	}
	if (spaces != 2 || i + 1 >= n + 1 || p[i + 1] != '\n')
		abort();
	for (i += 2; i < n;) {
		size_t s = i;
		while (i < n && tchar((unsigned char)p[i]))
			i++;
		if (i == s || i + 1 >= n || p[i] != ':' || p[i + 1] != ' ' || owned(p + s, i + 1 - s))
			abort();
		if (i - s == 10 && strncasecmp(p + s, "connection", 10) == 0 && ++conn_lines > 1)
			abort();
		for (i += 2; i < n && p[i] != '\r'; i++)
			if (((unsigned char)p[i] < 0x20 && p[i] != '\t') || p[i] == 0x7f)
				abort();
		if (i + 1 >= n + 1 || p[i + 1] != '\n')
			abort();
		i += 2;
	}
}

/* Writes a ready head; aborts if it overflows what was announced. */
static void
head(gw_http *h, struct run *r)
{
	struct gw_text extra = { extra_lines, sizeof(extra_lines) - 1 };
	size_t need = gw_http_head_size(h, extra.len), n;

	if (r->stop_at && r->heads == 1) {
		(void)gw_http_stop(h);
		r->refused = 1;
		return;
	}
	if (r->close_next)
		gw_http_close_next(h);
	if (need > OUT_CAP - r->len)
		abort(); /* cannot happen for inputs under the fuzzer's max_len */
	n = gw_http_head_write(h, r->out + r->len, &extra, 1);
	if (n > need)
		abort();
	check_head(r->out + r->len, n);
	r->len += n;
	r->heads++;
}

static void
check_refusal(const gw_http *h)
{
	const char *reason, *why;
	int status = gw_http_refusal(h, &reason, &why);

	if (why == NULL || (status != 400 && status != 405 && status != 501 && status != 503 &&
	    status != 505) || (reason != NULL && status != 400))
		abort();
}

/* One call of the filter: in[0..len) with `room` bytes of output. Returns
 * what it consumed. */
static size_t
step(gw_http *h, struct run *r, const char *in, size_t len, size_t room)
{
	size_t used = 0, n = 0;
	enum gw_http_ev ev;

	if (room > OUT_CAP - r->len)
		room = OUT_CAP - r->len;
	ev = gw_http_feed(h, in, len, &used, r->out + r->len, room, &n);
	if (n > room || used > len || gw_http_outstanding(h) > GW_HTTP_PIPELINE)
		abort();
	r->len += n;
	if (ev == GW_HTTP_HEAD)
		head(h, r);
	if (ev == GW_HTTP_REFUSE) {
		check_refusal(h);
		r->refused = 1;
	}
	return used;
}

/* Feeds everything it will take, with unlimited room; the output is r. */
static void
drain(gw_http *h, struct run *r, const char *in, size_t len)
{
	size_t off = 0;

	while (!r->refused) {
		size_t before = r->len, used = step(h, r, in + off, len - off, OUT_CAP);
		off += used;
		if (used == 0 && r->len == before)
			break;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char out1[OUT_CAP], out2[OUT_CAP];
	struct run r1 = { out1, 0, 0, 0, 0, 0 }, r2 = { out2, 0, 0, 0, 0, 0 };
	const char *client, *backend;
	size_t cut, room, clen, blen, off = 0, boff = 0;
	unsigned flags;
	gw_http *h;

	if (size < 5)
		return 0;
	cut = (size_t)data[0] % 64 + 1;
	room = (size_t)data[1] % 32 + 1;
	flags = data[2] & 1 ? GW_HTTP_ALLOW_CONNECT : 0;
	r1.close_next = r2.close_next = (data[2] & 2) != 0;
	r1.stop_at = (data[2] & 4) != 0;
	clen = ((size_t)data[3] << 8 | data[4]) % (size - 5 + 1);
	client = (const char *)data + 5;
	backend = client + clen;
	blen = size - 5 - clen;
	if ((h = gw_http_new(flags)) == NULL)
		return 0;
	/* Client bytes in cuts, the backend's interleaved, until neither moves;
	 * after a refusal, the backend's alone. */
	for (;;) {
		size_t end = off + cut < clen ? off + cut : clen, before = r1.len, used = 0;

		if (!r1.refused) {
			used = step(h, &r1, client + off, end - off, room);
			off += used;
		}
		if (boff < blen) {
			size_t bend = boff + cut < blen ? boff + cut : blen, keep;
			int rc = gw_http_response(h, backend + boff, bend - boff), clean;

			keep = gw_http_response_keep(h, &clean);
			if ((rc != 0 && keep > bend - boff) || gw_http_owed(h) > gw_http_outstanding(h))
				abort();
			if (rc > 0 && (!r1.refused || gw_http_owed(h) != 0))
				abort();
			if (rc < 0 && gw_http_response_error(h) == NULL)
				abort();
			if (rc != 0)
				break; /* the gateway ends the connection here */
			boff = bend;
			continue;
		}
		if (r1.refused || (used == 0 && r1.len == before))
			break; /* all taken, or held for an answer that will not come */
	}
	if (!r1.refused)
		drain(h, &r1, client + off, clen - off);
	gw_http_free(h);
	if (blen > 0)
		return 0;
	/* What went out is requests the filter accepts as they are. */
	if ((h = gw_http_new(flags)) == NULL)
		return 0;
	drain(h, &r2, out1, r1.len);
	if (r2.refused || r2.len != r1.len || memcmp(out1, out2, r1.len) != 0)
		abort();
	gw_http_free(h);
	return 0;
}
