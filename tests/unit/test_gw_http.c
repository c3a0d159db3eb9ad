/* The http filter: heads rebuilt without spoofed identity headers, bodies
 * copied (Content-Length) or re-framed (chunked), pipelining, split input and
 * a small output at every point, RFC 9112's refusals, responses matched to
 * requests so that only a 101 to the request that asked for it makes a
 * tunnel, limits, error pages. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/gw.h"

#define EXTRA "X-Client-Verify: SUCCESS\r\n"
#define OUT_CAP (64 * 1024)

struct sink {
	char buf[OUT_CAP + 1];
	size_t len;
};

static struct sink out;

/* Feeds in[0..len) to h in pieces of `step` bytes, never offering more
 * than `room` bytes of output per call (as conn.c does with a full buffer);
 * every head gets EXTRA. Stops at a refusal or when nothing moves (input
 * consumed, or held). Returns the last event; *consumed says how much of
 * the input was taken. */
static enum gw_http_ev
feed(gw_http *h, const char *in, size_t len, size_t step, size_t room, size_t *consumed)
{
	size_t off = 0, avail = len < step ? len : step;
	enum gw_http_ev ev;

	for (;;) {
		size_t used = 0, n = 0, space = OUT_CAP - out.len < room ? OUT_CAP - out.len : room;

		ev = gw_http_feed(h, in + off, avail - off, &used, out.buf + out.len, space, &n);
		assert_true(n <= space);
		assert_true(used <= avail - off);
		off += used;
		out.len += n;
		if (ev == GW_HTTP_HEAD) {
			struct gw_text extra = { EXTRA, strlen(EXTRA) };
			size_t need = gw_http_head_size(h, extra.len);

			assert_true(need < OUT_CAP - out.len);
			n = gw_http_head_write(h, out.buf + out.len, &extra, 1);
			assert_true(n <= need);
			out.len += n;
			continue;
		}
		if (ev == GW_HTTP_REFUSE)
			break;
		if (used == 0 && n == 0) {
			if (avail == len)
				break;
			avail = avail + step > len ? len : avail + step;
		}
	}
	out.buf[out.len] = '\0';
	if (consumed != NULL)
		*consumed = off;
	return ev;
}

static void
sink_reset(void)
{
	out.len = 0;
	out.buf[0] = '\0';
}

/* Backend bytes, in pieces of `step`; returns gw_http_response's verdict. */
static int
respond(gw_http *h, const char *r, size_t step)
{
	size_t len = strlen(r);

	for (size_t off = 0; off < len; off += step)
		if (gw_http_response(h, r + off, len - off < step ? len - off : step) != 0)
			return -1;
	return 0;
}

/* --- Requests the gateway forwards, and exactly how --- */

static const struct {
	const char *name, *in, *want;
} forwarded[] = {
	{ "spoofed identity headers are removed, every spelling",
	  "GET /a HTTP/1.1\r\nHost: x\r\nX-Client-Subject: CN=evil\r\nx-client-verify: SUCCESS\r\n"
	  "X_Client_CN: root\r\nX-Forwarded-For: 6.6.6.6\r\nX-Client-CN-Padding-Well-Past-Thirty-Two-Bytes: e\r\n"
	  "X_CLIENT_VERIFY_AND_THEN_SOME_MORE_CHARACTERS_xx: e\r\nForwarded: for=6.6.6.6\r\n"
	  "X-Real-IP: 6.6.6.6\r\nx_real_ip: 6.6.6.6\r\nX-Forwarded-Host: evil\r\nX-Forwarded-Proto: http\r\n"
	  "X-Other: kept\r\nX-Clients: kept\r\n\r\n",
	  "GET /a HTTP/1.1\r\nHost: x\r\nX-Other: kept\r\nX-Clients: kept\r\n" EXTRA "\r\n" },
	{ "chunked bodies are re-framed: extensions and trailers dropped, CRLF ours",
	  "POST /u HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: Chunked\r\n\r\n"
	  "5;name=\"v\"\r\nhello\r\nA\r\n0123456789\r\n000\r\nX-Client-CN: admin\r\nX-T: 1\r\n\r\n",
	  "POST /u HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n" EXTRA "\r\n"
	  "5\r\nhello\r\na\r\n0123456789\r\n0\r\n\r\n" },
	{ "pipelined requests with Content-Length and chunked bodies, HTTP/1.0",
	  "POST /u HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
	  "PUT /v HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nX-Client-Cert: x\r\n\r\nabc"
	  "GET /w HTTP/1.0\r\n\r\n",
	  "POST /u HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n" EXTRA "\r\n5\r\nhello\r\n0\r\n\r\n"
	  "PUT /v HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n" EXTRA "\r\nabc"
	  "GET /w HTTP/1.0\r\n" EXTRA "\r\n" },
	{ "empty lines before a request, bare LF line ends, whitespace around values",
	  "\r\n\r\nGET / HTTP/1.1\nHost:x  \nX-A:\t v \t\n\n",
	  "GET / HTTP/1.1\r\nHost: x\r\nX-A: v\r\n" EXTRA "\r\n" },
	{ "identical Content-Length lines become one",
	  "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok",
	  "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n" EXTRA "\r\nok" },
	{ "h2c upgrade is not forwarded: the request goes on as HTTP/1.1",
	  "GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n"
	  "HTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\n",
	  "GET / HTTP/1.1\r\nHost: x\r\n" EXTRA "\r\nGET /2 HTTP/1.1\r\nHost: x\r\n" EXTRA "\r\n" },
	{ "Connection keeps close and keep-alive only; the fields it names stay",
	  "GET / HTTP/1.0\r\nConnection: keep-alive, X-Foo, TE\r\nX-Foo: 1\r\nTE: trailers\r\n\r\n",
	  "GET / HTTP/1.0\r\nX-Foo: 1\r\nTE: trailers\r\nConnection: keep-alive\r\n" EXTRA "\r\n" },
	{ "obs-text in a value and an odd but valid method pass",
	  "M-SEARCH * HTTP/1.1\r\nHost: x\r\nX-A: caf\xc3\xa9\r\n\r\n",
	  "M-SEARCH * HTTP/1.1\r\nHost: x\r\nX-A: caf\xc3\xa9\r\n" EXTRA "\r\n" },
	{ "HTTP/1.9 is read as HTTP/1.1",
	  "GET / HTTP/1.9\r\nHost: x\r\n\r\n", "GET / HTTP/1.1\r\nHost: x\r\n" EXTRA "\r\n" },
};

static void
test_forwarded_at_every_split(void **state)
{
	static const size_t rooms[] = { 1, 2, 5, 17, OUT_CAP };

	for (size_t i = 0; i < sizeof(forwarded) / sizeof(forwarded[0]); i++) {
		size_t len = strlen(forwarded[i].in);
		for (size_t step = 1; step <= len; step++) {
			for (size_t r = 0; r < sizeof(rooms) / sizeof(rooms[0]); r++) {
				gw_http *h = gw_http_new(0);
				size_t used;

				assert_non_null(h);
				sink_reset();
				if (feed(h, forwarded[i].in, len, step, rooms[r], &used) != GW_HTTP_MORE ||
				    used != len || strcmp(out.buf, forwarded[i].want) != 0)
					fail_msg("%s (step %zu, room %zu): got\n%s", forwarded[i].name, step,
					    rooms[r], out.buf);
				gw_http_free(h);
			}
		}
	}
}

/* --- Refusals: what RFC 9112 tells an intermediary to reject --- */

static const struct {
	const char *in;
	int status, too_big;
	const char *why;
	const char *forwarded; /* what reached the output before the refusal */
} refused[] = {
	{ "GET / HTTP/1.1\r\n X-Client-CN: bob\r\nHost: x\r\n\r\n", 400, 0, "obs-fold", "" },
	{ "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n\tX-Client-CN: bob\r\n\r\n", 400, 0, "obs-fold", "" },
	{ "GET / HTTP/1.1\r\nHost: x\r\nX-Client CN: bob\r\n\r\n", 400, 0, "not a token", "" },
	{ "GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400, 0, "not a token", "" },
	{ "GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n", 400, 0, "not a token", "" },
	{ "GET / HTTP/1.1\r\nHost: x\r\n: empty\r\n\r\n", 400, 0, "not a token", "" },
	{ "GET /a\tb HTTP/1.1\r\nHost: x\r\n\r\n", 400, 0, "target", "" },
	{ "GET /a\x01 HTTP/1.1\r\nHost: x\r\n\r\n", 400, 0, "target", "" },
	{ "GET /a\x7f HTTP/1.1\r\nHost: x\r\n\r\n", 400, 0, "target", "" },
	{ "GET /\xc3\xa9 HTTP/1.1\r\nHost: x\r\n\r\n", 400, 0, "target", "" },
	{ "GET / x HTTP/1.1\r\nHost: x\r\n\r\n", 400, 0, "version", "" },
	{ "GET / HTTP/1.1\rHost: x\r\n\r\n", 400, 0, "bare CR", "" },
	{ "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\rb\r\n\r\n", 400, 0, "bare CR", "" },
	{ "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\x01" "b\r\n\r\n", 400, 0, "control character", "" },
	{ "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\x7f\r\n\r\n", 400, 0, "control character", "" },
	{ "GET / HTTP/1.1\r\nHost: x\r\n\r\r\n", 400, 0, "bare CR", "" },
	{ "G@T / HTTP/1.1\r\nHost: x\r\n\r\n", 400, 0, "method", "" },
	{ "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 tls to the http port\r\n\r\n", 400, 0, "method", "" },
	{ "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505, 0, "version", "" },
	{ "GET / HTTP/1.1\r\n\r\n", 400, 0, "without Host", "" },
	{ "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, 0, "more than one Host", "" },
	{ "GET / HTTP/1.0\r\nHost: a\r\nhost: a\r\n\r\n", 400, 0, "more than one Host", "" },
	{ "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
	  400, 0, "with Content-Length", "" },
	{ "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n",
	  400, 0, "with Content-Length", "" },
	{ "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello", 400, 0,
	  "two different Content-Length", "" },
	{ "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5, 5\r\n\r\nhello", 400, 0, "Content-Length", "" },
	{ "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +5\r\n\r\nhello", 400, 0, "Content-Length", "" },
	{ "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0x5\r\n\r\nhello", 400, 0, "Content-Length", "" },
	{ "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1234567890123456789\r\n\r\n", 400, 0,
	  "Content-Length", "" },
	{ "POST / HTTP/1.1\r\nHost: x\r\nContent-Length:\r\n\r\n", 400, 0, "Content-Length", "" },
	{ "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 400, 0, "final transfer coding", "" },
	{ "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", 400, 0, "after chunked", "" },
	{ "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: x\r\n\r\n", 400, 0,
	  "after chunked", "" },
	{ "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", 400, 0, "after chunked", "" },
	{ "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: \"chunked\"\r\n\r\n", 400, 0, "list of codings", "" },
	{ "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding:\r\n\r\n", 400, 0, "final transfer coding", "" },
	{ "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501, 0, "other than chunked", "" },
	{ "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400, 0, "HTTP/1.0", "" },
	{ "GET / HTTP/1.1\r\nHost: x\r\nConnection: close, \"x\"\r\n\r\n", 400, 0, "Connection", "" },
	{ "POST / HTTP/1.1\r\nHost: x\r\nContent_Length: 5\r\n\r\nhello", 400, 0, "spelt with '_'", "" },
	{ "GET / HTTP/1.1\r\nHost: x\r\ncontent_length: 5\r\n\r\n", 400, 0, "spelt with '_'", "" },
	{ "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent_Length: 5\r\n\r\nhello", 400, 0,
	  "spelt with '_'", "" },
	{ "POST / HTTP/1.1\r\nHost: x\r\nTransfer_Encoding: chunked\r\n\r\n0\r\n\r\n", 400, 0,
	  "spelt with '_'", "" },
	{ "POST / HTTP/1.1\r\nHost: x\r\nTRANSFER_ENCODING: gzip\r\nContent-Length: 1\r\n\r\nx", 400, 0,
	  "spelt with '_'", "" },
	{ "CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: 127.0.0.1:22\r\n\r\n", 405, 0, "allow-connect", "" },
#define CHUNKED_HEAD "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
#define CHUNKED_OUT "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n" EXTRA "\r\n"
	{ CHUNKED_HEAD "3\r\nabcXY0\r\n\r\n", 400, 0, "not followed by CRLF", CHUNKED_OUT "3\r\nabc" },
	{ CHUNKED_HEAD "3\r\nabc\rX0\r\n\r\n", 400, 0, "not followed by CRLF", CHUNKED_OUT "3\r\nabc" },
	{ CHUNKED_HEAD "ffffffffffffffff1\r\n", 400, 0, "15 hex digits", CHUNKED_OUT },
	{ CHUNKED_HEAD "0000000000000000\r\n\r\n", 400, 0, "15 hex digits", CHUNKED_OUT },
	{ CHUNKED_HEAD "-1\r\n", 400, 0, "hexadecimal", CHUNKED_OUT },
	{ CHUNKED_HEAD "\r\n", 400, 0, "hexadecimal", CHUNKED_OUT },
	{ CHUNKED_HEAD "0x5\r\nhello\r\n0\r\n\r\n", 400, 0, "hexadecimal", CHUNKED_OUT },
	{ CHUNKED_HEAD "5\rhello\r\n", 400, 0, "bare CR", CHUNKED_OUT },
	{ CHUNKED_HEAD "1;a=\x01\r\nx\r\n0\r\n\r\n", 400, 0, "control character", CHUNKED_OUT },
	{ CHUNKED_HEAD "0\r\n X-Client-CN: bob\r\n\r\n", 400, 0, "obs-fold", CHUNKED_OUT },
	{ CHUNKED_HEAD "0\r\nX Client: bob\r\n\r\n", 400, 0, "trailer field name", CHUNKED_OUT },
	{ CHUNKED_HEAD "0\r\nX: a\x01\r\n\r\n", 400, 0, "control character", CHUNKED_OUT },
	{ CHUNKED_HEAD "0\r\n\rGET", 400, 0, "bare CR", CHUNKED_OUT },
};

static void
test_refused_at_every_split(void **state)
{
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		size_t len = strlen(refused[i].in);
		for (size_t step = 1; step <= len; step++) {
			gw_http *h = gw_http_new(0);
			const char *reason, *why;
			int status;

			sink_reset();
			if (feed(h, refused[i].in, len, step, step % 2 ? 3 : OUT_CAP, NULL) != GW_HTTP_REFUSE)
				fail_msg("case %zu (step %zu) not refused; forwarded\n%s", i, step, out.buf);
			status = gw_http_refusal(h, &reason, &why);
			if (status != refused[i].status || why == NULL ||
			    strstr(why, refused[i].why) == NULL ||
			    (reason != NULL) != refused[i].too_big ||
			    strcmp(out.buf, refused[i].forwarded) != 0)
				fail_msg("case %zu (step %zu): %d \"%s\", forwarded\n%s", i, step, status,
				    why ? why : "(null)", out.buf);
			/* Nothing more is taken once refused. */
			assert_int_equal(feed(h, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 27, 27, OUT_CAP, NULL),
			    GW_HTTP_REFUSE);
			assert_string_equal(out.buf, refused[i].forwarded);
			gw_http_free(h);
		}
	}
}

static void
test_limits(void **state)
{
	size_t big = GW_HTTP_HEAD_MAX + 100, n = 0;
	char *in = malloc(big + 4096);
	const char *reason, *why;
	gw_http *h;

	assert_non_null(in);
	/* A head over 16 KB. */
	memcpy(in, "GET / HTTP/1.1\r\nHost: x\r\nCookie: ", 33);
	memset(in + 33, 'a', big);
	memcpy(in + 33 + big, "\r\n\r\n", 4);
	h = gw_http_new(0);
	sink_reset();
	assert_int_equal(feed(h, in, 37 + big, 4096, OUT_CAP, NULL), GW_HTTP_REFUSE);
	assert_int_equal(gw_http_refusal(h, &reason, &why), 400);
	assert_string_equal(reason, "Request Header Or Cookie Too Large");
	assert_int_equal(out.len, 0);
	gw_http_free(h);
	/* 129 header fields. */
	n = (size_t)sprintf(in, "GET / HTTP/1.1\r\nHost: x\r\n");
	for (int i = 0; i < GW_HTTP_HEADERS_MAX; i++)
		n += (size_t)sprintf(in + n, "X-%d: v\r\n", i);
	n += (size_t)sprintf(in + n, "\r\n");
	h = gw_http_new(0);
	sink_reset();
	assert_int_equal(feed(h, in, n, n, OUT_CAP, NULL), GW_HTTP_REFUSE);
	assert_int_equal(gw_http_refusal(h, &reason, &why), 400);
	assert_string_equal(reason, "Request Header Or Cookie Too Large");
	assert_non_null(strstr(why, "128"));
	gw_http_free(h);
	/* Trailers over 16 KB. */
	n = (size_t)sprintf(in, CHUNKED_HEAD "0\r\nX-T: ");
	memset(in + n, 'a', big);
	n += big;
	memcpy(in + n, "\r\n\r\n", 4);
	h = gw_http_new(0);
	sink_reset();
	assert_int_equal(feed(h, in, n + 4, 4096, OUT_CAP, NULL), GW_HTTP_REFUSE);
	assert_int_equal(gw_http_refusal(h, &reason, &why), 400);
	assert_non_null(reason);
	assert_string_equal(out.buf, CHUNKED_OUT);
	gw_http_free(h);
	free(in);
}

/* --- Upgrade and CONNECT: a tunnel only after the backend said so --- */

#define WS_REQ "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
#define WS_OUT "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: upgrade\r\n" EXTRA "\r\n"
#define SMUGGLED "GET /admin HTTP/1.1\r\nHost: x\r\nX-Client-Verify: SUCCESS\r\nX-Client-CN: admin\r\n\r\n"
#define ADMIN_OUT "GET /admin HTTP/1.1\r\nHost: x\r\n" EXTRA "\r\n"

static void
test_upgrade_waits_for_the_answer(void **state)
{
	static const struct {
		const char *response;
		int tunnel;
	} answers[] = {
		{ "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nno", 0 },
		{ "HTTP/1.1 426 Upgrade Required\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nno\r\n0\r\n\r\n", 0 },
		{ "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", 0 },
		{ "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n", 1 },
	};
	const char *in = WS_REQ SMUGGLED;
	size_t len = strlen(in);

	for (size_t a = 0; a < sizeof(answers) / sizeof(answers[0]); a++) {
		size_t rlen = strlen(answers[a].response);
		for (size_t step = 1; step <= len; step += 3) {
			for (size_t rstep = 1; rstep <= rlen; rstep += 5) {
				gw_http *h = gw_http_new(0);
				size_t used;

				sink_reset();
				/* Only the upgrade request goes; the rest is held, unparsed. */
				assert_int_equal(feed(h, in, len, step, OUT_CAP, &used), GW_HTTP_MORE);
				assert_int_equal(used, strlen(WS_REQ));
				assert_string_equal(out.buf, WS_OUT);
				assert_int_equal(gw_http_phase(h), GW_HTTP_OTHER);
				assert_int_equal(gw_http_outstanding(h), 1);
				assert_int_equal(respond(h, answers[a].response, rstep), 0);
				assert_int_equal(feed(h, in + used, len - used, step, OUT_CAP, NULL), GW_HTTP_MORE);
				assert_string_equal(out.buf, answers[a].tunnel ? WS_OUT SMUGGLED : WS_OUT ADMIN_OUT);
				gw_http_free(h);
			}
		}
	}
}

static void
test_upgrade_with_a_body_then_tunnel(void **state)
{
	const char *in = "POST /up HTTP/1.1\r\nHost: x\r\nUpgrade: x\r\nConnection: upgrade\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\nraw\r\nbytes";
	gw_http *h = gw_http_new(0);
	size_t used;

	sink_reset();
	assert_int_equal(feed(h, in, strlen(in), 7, 4, &used), GW_HTTP_MORE);
	assert_string_equal(out.buf, "POST /up HTTP/1.1\r\nHost: x\r\nUpgrade: x\r\nTransfer-Encoding: chunked\r\n"
	    "Connection: upgrade\r\n" EXTRA "\r\n3\r\nabc\r\n0\r\n\r\n");
	assert_int_equal(strcmp(in + used, "raw\r\nbytes"), 0);
	assert_int_equal(respond(h, "HTTP/1.1 101 Switching Protocols\r\n\r\n", 1), 0);
	/* After the 101 the backend's bytes are opaque too. */
	assert_int_equal(respond(h, "HTTP/1.1 101 again\r\n\r\n\x81\x05hello", 3), 0);
	assert_int_equal(feed(h, in + used, strlen(in + used), 2, 1, NULL), GW_HTTP_MORE);
	assert_non_null(strstr(out.buf, "0\r\n\r\nraw\r\nbytes"));
	gw_http_free(h);
}

static void
test_bad_101_and_orphan_responses(void **state)
{
	static const struct {
		const char *req, *resp, *why;
	} cases[] = {
		{ "GET / HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 101 Switching Protocols\r\n\r\n", "did not ask" },
		{ "GET / HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: h2c\r\n\r\n",
		  "HTTP/1.1 101 Switching Protocols\r\n\r\n", "did not ask" },
		/* The upgrade request is the second: the first one's 101 is wrong. */
		{ "GET /a HTTP/1.1\r\nHost: x\r\n\r\n" WS_REQ, "HTTP/1.1 101 Switching Protocols\r\n\r\n", "did not ask" },
		{ "GET / HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200", "no request" },
		{ "GET / HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
		  "two different" },
		{ "GET / HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n", "not a number" },
		{ "GET / HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 200 OK\r\n folded\r\n\r\n", "obs-fold" },
		{ "GET / HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 099 Low\r\n\r\n", "below 100" },
		{ "GET / HTTP/1.1\r\nHost: x\r\n\r\n", "SSH-2.0-OpenSSH\r\n", "status line" },
		{ "GET / HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
		  "hexadecimal" },
		/* Both framings: the client might read either; forwarded unchanged
		 * it cannot be (RFC 9112 section 6.3). */
		{ "GET / HTTP/1.1\r\nHost: x\r\n\r\n",
		  "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", "with Content-Length" },
		{ "GET / HTTP/1.1\r\nHost: x\r\n\r\n",
		  "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", "with Content-Length" },
		/* A CR that is no line end: a client may end the line there. */
		{ "GET / HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 200 OK\r\nContent-Length: 1\r5\r\n\r\n", "bare CR" },
		{ "GET / HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 200 OK\rContent-Length: 5\r\n\r\n", "bare CR" },
		{ "GET / HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 200 OK\r\nX-A: a\x00b\r\n\r\n", "control character" },
		{ "GET / HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 2000 OK\r\n\r\n", "status line" },
		/* A HEAD response's body is a response to no request. */
		{ "HEAD / HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", "no request" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t rlen = strlen(cases[i].resp);
		for (size_t rstep = 1; rstep <= rlen; rstep++) {
			gw_http *h = gw_http_new(0);

			sink_reset();
			feed(h, cases[i].req, strlen(cases[i].req), 1000, OUT_CAP, NULL);
			if (respond(h, cases[i].resp, rstep) != -1 ||
			    strstr(gw_http_response_error(h), cases[i].why) == NULL)
				fail_msg("case %zu (step %zu): %s", i, rstep,
				    gw_http_response_error(h) ? gw_http_response_error(h) : "accepted");
			gw_http_free(h);
		}
	}
}

/* Responses are matched in order: HEAD, 1xx, 204 and 304 have no body,
 * chunked and Content-Length bodies are skipped whole (a "101" inside one
 * is data), so the upgrade's own answer is the one that counts. */
static void
test_response_framing(void **state)
{
	static const struct {
		const char *methods; /* one letter per pipelined request: G(ET) H(EAD) */
		const char *resp;
	} cases[] = {
		{ "H", "HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n" },
		{ "H", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" },
		{ "G", "HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n" },
		{ "G", "HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n" },
		{ "G", "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n" },
		{ "G", "HTTP/1.1 200 OK\r\ncontent-length:  36 \r\n\r\nHTTP/1.1 101 Switching Protocols\r\n\r\n" },
		{ "G", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, Chunked\r\n\r\n"
		       "24;x=y\r\nHTTP/1.1 101 Switching Protocols\r\n\r\n\r\n0\r\nT: 1\r\n\r\n" },
		{ "GH", "HTTP/1.1 200 OK\nContent-Length: 1\n\nxHTTP/1.0 200 OK\r\nContent-Length: 7\r\n\r\n" },
		{ "GG", "HTTP/1.1 200 OK\r\nX-Content-Length: 7\r\nContent-Lengthy: 7\r\nContent-Length: 0\r\n\r\n"
		        "HTTP/1.1 200 OK\r\nTransfer-Encodings: chunked\r\nContent-Length: 1\r\n\r\nx" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t rlen = strlen(cases[i].resp);
		for (size_t rstep = 1; rstep <= rlen; rstep++) {
			gw_http *h = gw_http_new(0);
			char req[512];
			size_t n = 0;

			for (const char *m = cases[i].methods; *m; m++)
				n += (size_t)sprintf(req + n, "%s / HTTP/1.1\r\nHost: x\r\n\r\n", *m == 'H' ? "HEAD" : "GET");
			n += (size_t)sprintf(req + n, WS_REQ);
			sink_reset();
			feed(h, req, n, n, OUT_CAP, NULL);
			assert_int_equal(gw_http_outstanding(h), strlen(cases[i].methods) + 1);
			if (respond(h, cases[i].resp, rstep) != 0)
				fail_msg("case %zu (step %zu): %s", i, rstep, gw_http_response_error(h));
			/* Only the upgrade's answer is left to come, and no tunnel yet. */
			assert_int_equal(gw_http_outstanding(h), 1);
			assert_int_equal(gw_http_phase(h), GW_HTTP_OTHER);
			if (respond(h, "HTTP/1.1 101 Switching Protocols\r\n\r\n", rlen) != 0 ||
			    gw_http_outstanding(h) != 0)
				fail_msg("case %zu (step %zu): the 101 did not open the tunnel: %s %u", i, rstep, gw_http_response_error(h), gw_http_outstanding(h));
			gw_http_free(h);
		}
	}
}

static void
test_read_until_close_keeps_holding(void **state)
{
	gw_http *h = gw_http_new(0);

	sink_reset();
	feed(h, WS_REQ SMUGGLED, strlen(WS_REQ SMUGGLED), 1000, OUT_CAP, NULL);
	/* No length: the body runs to the backend's close, so nothing after it
	 * is a response, and the held request never goes. */
	assert_int_equal(respond(h, "HTTP/1.1 200 OK\r\n\r\nHTTP/1.1 101 Switching Protocols\r\n\r\n", 4), 0);
	assert_int_equal(gw_http_outstanding(h), 1);
	assert_int_equal(feed(h, SMUGGLED, strlen(SMUGGLED), 1000, OUT_CAP, NULL), GW_HTTP_MORE);
	assert_string_equal(out.buf, WS_OUT);
	gw_http_free(h);
}

static void
test_connect(void **state)
{
	const char *in = "CONNECT db:5432 HTTP/1.1\r\nHost: db:5432\r\n\r\n\x00\x01raw";
	size_t len = strlen(in) + 5, used;
	gw_http *h = gw_http_new(GW_HTTP_ALLOW_CONNECT);

	sink_reset();
	assert_int_equal(feed(h, in, len, 5, OUT_CAP, &used), GW_HTTP_MORE);
	assert_string_equal(out.buf, "CONNECT db:5432 HTTP/1.1\r\nHost: db:5432\r\n" EXTRA "\r\n");
	assert_int_equal(used, len - 5);
	assert_int_equal(respond(h, "HTTP/1.1 200 Connection Established\r\n\r\n", 2), 0);
	assert_int_equal(feed(h, in + used, 5, 1, OUT_CAP, NULL), GW_HTTP_MORE);
	assert_int_equal(out.len, strlen(out.buf) + 5);
	assert_memory_equal(out.buf + out.len - 5, "\x00\x01raw", 5);
	gw_http_free(h);
	/* A refused CONNECT (407) lets the next request be filtered. */
	h = gw_http_new(GW_HTTP_ALLOW_CONNECT);
	sink_reset();
	feed(h, "CONNECT a:1 HTTP/1.1\r\nHost: a:1\r\n\r\n" SMUGGLED, 35 + strlen(SMUGGLED), 1000, OUT_CAP, &used);
	assert_int_equal(used, 35);
	assert_int_equal(respond(h, "HTTP/1.1 407 No\r\nContent-Length: 0\r\n\r\n", 100), 0);
	feed(h, SMUGGLED, strlen(SMUGGLED), 1000, OUT_CAP, NULL);
	assert_string_equal(out.buf, "CONNECT a:1 HTTP/1.1\r\nHost: a:1\r\n" EXTRA "\r\n" ADMIN_OUT);
	gw_http_free(h);
}

/* More than GW_HTTP_PIPELINE requests without answers: the rest waits. */
static void
test_pipeline_bound(void **state)
{
	const char *one = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
	size_t n1 = strlen(one), used;
	char *in = malloc(n1 * (GW_HTTP_PIPELINE + 2));
	gw_http *h = gw_http_new(0);

	assert_non_null(in);
	for (int i = 0; i < GW_HTTP_PIPELINE + 2; i++)
		memcpy(in + i * n1, one, n1);
	sink_reset();
	feed(h, in, n1 * (GW_HTTP_PIPELINE + 2), 100000, OUT_CAP, &used);
	assert_int_equal(used, n1 * GW_HTTP_PIPELINE);
	assert_int_equal(gw_http_outstanding(h), GW_HTTP_PIPELINE);
	assert_int_equal(respond(h, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 100), 0);
	feed(h, in + used, n1 * 2, 100000, OUT_CAP, &used);
	assert_int_equal(used, n1);
	free(in);
	gw_http_free(h);
}

static void
test_phases(void **state)
{
	gw_http *h = gw_http_new(0);

	sink_reset();
	assert_int_equal(gw_http_phase(h), GW_HTTP_IDLE);
	feed(h, "\r\n", 2, 2, OUT_CAP, NULL);
	assert_int_equal(gw_http_phase(h), GW_HTTP_IDLE);
	feed(h, "P", 1, 1, OUT_CAP, NULL);
	assert_int_equal(gw_http_phase(h), GW_HTTP_IN_HEAD);
	feed(h, "OST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n", 46, 100, OUT_CAP, NULL);
	assert_int_equal(gw_http_phase(h), GW_HTTP_IN_BODY);
	feed(h, "ok", 2, 100, OUT_CAP, NULL);
	assert_int_equal(gw_http_phase(h), GW_HTTP_IDLE);
	assert_int_equal(gw_http_outstanding(h), 1);
	gw_http_free(h);
}

/* A refusal in the middle of a pipeline is answered after the responses
 * owed to the requests before it, which reach the client whole and in
 * order; whatever the backend sends after them is not the client's. At
 * every split of the backend's bytes. */
static void
test_refusal_after_owed_responses(void **state)
{
	static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
	static const char ok_chunked[] = "HTTP/1.1 100 Continue\r\n\r\n"
	    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n";
	static const struct {
		const char *req, *resp;
		unsigned owed;
		size_t keep; /* bytes of resp that go to the client */
	} cases[] = {
		/* the second request has no Host: one response owed */
		{ "GET /1 HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\n\r\n", ok, 1, sizeof(ok) - 1 },
		/* two owed, the first with an interim response and a chunked body */
		{ "GET /1 HTTP/1.1\r\nHost: x\r\n\r\nHEAD /2 HTTP/1.1\r\nHost: x\r\n\r\nGET /3 HTTP/1.1\r\nHost : x\r\n\r\n",
		  NULL, 2, 0 },
		/* the refusal cuts the third request's chunked body: its answer is
		 * not owed (the backend answering early gets no further) */
		{ "GET /1 HTTP/1.1\r\nHost: x\r\n\r\nPOST /2 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcXY",
		  ok, 1, sizeof(ok) - 1 },
		/* nothing owed: answered at once */
		{ "GET /1 HTTP/1.1\r\n\r\n", ok, 0, 0 },
	};
	char two[256];

	snprintf(two, sizeof(two), "%sHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", ok_chunked);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *resp = cases[i].resp ? cases[i].resp : two;
		char all[512];
		size_t keep = cases[i].resp ? cases[i].keep : strlen(two), len;

		/* what the backend sends after the owed responses is dropped */
		len = (size_t)snprintf(all, sizeof(all), "%sHTTP/1.1 413 Too Large\r\n\r\n", resp);
		for (size_t rstep = 1; rstep <= len; rstep++) {
			gw_http *h = gw_http_new(0);
			size_t off = 0, got = 0;
			int rc = 0, clean;

			sink_reset();
			assert_int_equal(feed(h, cases[i].req, strlen(cases[i].req), 1000, OUT_CAP, NULL),
			    GW_HTTP_REFUSE);
			assert_int_equal(gw_http_owed(h), cases[i].owed);
			if (cases[i].owed == 0) {
				gw_http_free(h);
				break;
			}
			for (; off < len && rc == 0; off += rstep) {
				size_t n = len - off < rstep ? len - off : rstep;
				rc = gw_http_response(h, all + off, n);
				got += rc == 0 ? n : gw_http_response_keep(h, &clean);
			}
			if (rc != 1 || got != keep || gw_http_owed(h) != 0)
				fail_msg("case %zu (step %zu): rc %d, %zu bytes kept, %u owed", i, rstep, rc,
				    got, gw_http_owed(h));
			gw_http_free(h);
		}
	}
}

/* A broken response after good ones: the good ones go to the client, and
 * "clean" says whether the broken one began in the bytes just given (the
 * gateway then answers 502 in its place). */
static void
test_broken_response_keeps_the_ones_before(void **state)
{
	static const char req[] = "GET /1 HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\n";
	static const char good[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
	static const char bad[] = "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n";
	char all[256];
	gw_http *h;
	int clean;

	snprintf(all, sizeof(all), "%s%s", good, bad);
	/* in one read: the good response is kept, the broken one is clean */
	h = gw_http_new(0);
	sink_reset();
	feed(h, req, sizeof(req) - 1, 1000, OUT_CAP, NULL);
	assert_int_equal(gw_http_response(h, all, strlen(all)), -1);
	assert_int_equal(gw_http_response_keep(h, &clean), sizeof(good) - 1);
	assert_int_equal(clean, 1);
	assert_int_equal(gw_http_outstanding(h), 1);
	gw_http_free(h);
	/* the broken head began in an earlier read: nothing of this one, not clean */
	h = gw_http_new(0);
	sink_reset();
	feed(h, req, sizeof(req) - 1, 1000, OUT_CAP, NULL);
	assert_int_equal(gw_http_response(h, all, sizeof(good) - 1 + 10), 0);
	assert_int_equal(gw_http_response(h, all + sizeof(good) - 1 + 10, strlen(all) - sizeof(good) + 1 - 10), -1);
	assert_int_equal(gw_http_response_keep(h, &clean), 0);
	assert_int_equal(clean, 0);
	gw_http_free(h);
}

/* max-conn-lifetime's last request: one Connection line, close and not
 * keep-alive, whatever the client asked. */
static void
test_close_next(void **state)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
		{ "GET / HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n",
		  "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" EXTRA "\r\n" },
		{ "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
		  "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" EXTRA "\r\n" },
		{ "GET / HTTP/1.0\r\n\r\n", "GET / HTTP/1.0\r\nConnection: close\r\n" EXTRA "\r\n" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		gw_http *h = gw_http_new(0);

		gw_http_close_next(h);
		sink_reset();
		feed(h, cases[i].in, strlen(cases[i].in), 1000, OUT_CAP, NULL);
		assert_string_equal(out.buf, cases[i].want);
		gw_http_free(h);
	}
}

static void
test_reserved_names(void **state)
{
	static const struct {
		const char *name;
		int reserved;
	} cases[] = {
		{ "X-Client-Verify", 1 }, { "x-client-anything", 1 }, { "X_CLIENT_CERT", 1 },
		{ "X-Client-CN-and-a-name-longer-than-thirty-two-bytes", 1 },
		{ "x_client_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 1 },
		{ "X-Forwarded-For", 1 }, { "x_forwarded_proto", 1 }, { "X-Forwarded-Host", 1 },
		{ "X-Forwarded-Prefix", 1 }, { "X-Real-IP", 1 }, { "x_real_ip", 1 }, { "Forwarded", 1 },
		{ "Script-Name", 1 }, { "SCRIPT_NAME", 1 }, { "Script-Names", 0 },
		{ "X-Clients", 0 }, { "Host", 0 }, { "X-Client", 0 }, { "X-Real-IPs", 0 },
		{ "Forwarded-X", 0 }, { "X-Forwarded", 0 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (gw_http_header_reserved(cases[i].name, strlen(cases[i].name)) != cases[i].reserved)
			fail_msg("%s: expected %d", cases[i].name, cases[i].reserved);
}

static void
test_error_pages(void **state)
{
	static const struct {
		int status;
		const char *line;
	} cases[] = {
		{ 400, "HTTP/1.1 400 Bad Request\r\n" }, { 403, "HTTP/1.1 403 Forbidden\r\n" },
		{ 405, "HTTP/1.1 405 Not Allowed\r\n" }, { 408, "HTTP/1.1 408 Request Time-out\r\n" },
		{ 501, "HTTP/1.1 501 Not Implemented\r\n" }, { 502, "HTTP/1.1 502 Bad Gateway\r\n" },
		{ 505, "HTTP/1.1 505 HTTP Version Not Supported\r\n" },
	};
	char page[1024];
	int n = gw_http_error(400, "No required SSL certificate was sent", page, sizeof(page));

	assert_true(n > 0);
	assert_non_null(strstr(page, "HTTP/1.1 400 Bad Request\r\n"));
	assert_non_null(strstr(page, "<title>400 No required SSL certificate was sent</title>"));
	assert_non_null(strstr(page, "Connection: close"));
	assert_int_equal(gw_http_error(502, NULL, page, 10), -1); /* too small: refused */
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_true(gw_http_error(cases[i].status, NULL, page, sizeof(page)) > 0);
		assert_memory_equal(page, cases[i].line, strlen(cases[i].line));
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_forwarded_at_every_split),
		cmocka_unit_test(test_refused_at_every_split),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_upgrade_waits_for_the_answer),
		cmocka_unit_test(test_upgrade_with_a_body_then_tunnel),
		cmocka_unit_test(test_bad_101_and_orphan_responses),
		cmocka_unit_test(test_response_framing),
		cmocka_unit_test(test_read_until_close_keeps_holding),
		cmocka_unit_test(test_connect),
		cmocka_unit_test(test_pipeline_bound),
		cmocka_unit_test(test_phases),
		cmocka_unit_test(test_refusal_after_owed_responses),
		cmocka_unit_test(test_broken_response_keeps_the_ones_before),
		cmocka_unit_test(test_close_next),
		cmocka_unit_test(test_reserved_names),
		cmocka_unit_test(test_error_pages),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
