/* The http request filter: heads rebuilt without spoofed identity headers,
 * bodies (chunked too) passed byte for byte, pipelining, split input, limits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/gw.h"

#define EXTRA "X-Client-Verify: SUCCESS\r\n"

/* Feeds input in pieces of `step` bytes and collects what would go to the
 * backend; every head gets EXTRA. Returns the last event. */
static enum gw_http_ev
run(const char *in, size_t step, char *out, size_t *outlen)
{
	gw_http *h = gw_http_new();
	size_t len = strlen(in), off = 0, end = 0, avail = len < step ? len : step;
	enum gw_http_ev ev = GW_HTTP_MORE;

	*outlen = 0;
	while (off < len) {
		size_t used = 0, produced = 0;
		ev = gw_http_feed(h, in + off, avail - off, &used, out + *outlen, 65536 - *outlen, &produced);
		off += used;
		*outlen += produced;
		if (ev == GW_HTTP_HEAD) {
			struct gw_text extra = { EXTRA, strlen(EXTRA) };

			assert_true(gw_http_head_size(h, extra.len) < 65536 - *outlen);
			*outlen += gw_http_head_write(h, out + *outlen, &extra, 1);
			continue;
		}
		if (ev != GW_HTTP_MORE)
			break;
		if (used == 0 && produced == 0) {
			if (avail == len)
				break;
			end = avail + step;
			avail = end > len ? len : end;
		}
	}
	out[*outlen] = '\0';
	gw_http_free(h);
	return ev;
}

static void
test_spoofed_headers_removed(void **state)
{
	static char out[65536];
	size_t n;
	const char *in = "GET /a HTTP/1.1\r\nHost: x\r\nX-Client-Subject: CN=evil\r\n"
	    "x-client-verify: SUCCESS\r\nX_Client_CN: root\r\nX-Forwarded-For: 6.6.6.6\r\n"
	    "X-Other: kept\r\n\r\n";

	assert_int_equal(run(in, 1 << 20, out, &n), GW_HTTP_MORE);
	assert_string_equal(out, "GET /a HTTP/1.1\r\nHost: x\r\nX-Other: kept\r\n" EXTRA "\r\n");
}

static void
test_chunked_body_and_pipelining_any_split(void **state)
{
	static char out[65536];
	const char *in = "POST /u HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "5\r\nhello\r\n0\r\n\r\n"
	    "PUT /v HTTP/1.1\r\nContent-Length: 3\r\nX-Client-Cert: x\r\n\r\nabc"
	    "GET /w HTTP/1.0\r\n\r\n";
	const char *want = "POST /u HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n" EXTRA "\r\n"
	    "5\r\nhello\r\n0\r\n\r\n"
	    "PUT /v HTTP/1.1\r\nContent-Length: 3\r\n" EXTRA "\r\nabc"
	    "GET /w HTTP/1.0\r\n" EXTRA "\r\n";

	/* Every split point must give the same bytes. */
	for (size_t step = 1; step <= strlen(in); step++) {
		size_t n;
		run(in, step, out, &n);
		assert_string_equal(out, want);
	}
}

static void
test_bad_request(void **state)
{
	static char out[65536];
	size_t n;

	assert_int_equal(run("GET / HTTP/1.1\r\nBad Header\r\n\r\n", 1 << 20, out, &n), GW_HTTP_BAD);
	assert_int_equal(run("\x16\x03\x01 tls to http port", 1 << 20, out, &n), GW_HTTP_BAD);
	/* Request smuggling: the backend could frame these differently. */
	assert_int_equal(run("POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "0\r\n\r\n", 1 << 20, out, &n), GW_HTTP_BAD);
	assert_int_equal(run("POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello",
	    1 << 20, out, &n), GW_HTTP_BAD);
}

static void
test_folded_header_stays_one_line(void **state)
{
	static char out[65536];
	size_t n;

	/* obs-fold: the continuation joins the value; no new header line. */
	run("GET / HTTP/1.1\r\nX-Foo: a\r\n X-Client-CN: evil\r\nHost: x\r\n\r\n", 1 << 20, out, &n);
	assert_string_equal(out, "GET / HTTP/1.1\r\nX-Foo: a X-Client-CN: evil\r\nHost: x\r\n" EXTRA "\r\n");
}

static void
test_head_too_big(void **state)
{
	static char out[65536];
	char *in = malloc(GW_HTTP_HEAD_MAX + 100);
	size_t n;

	assert_non_null(in);
	memcpy(in, "GET / HTTP/1.1\r\nCookie: ", 24);
	memset(in + 24, 'a', GW_HTTP_HEAD_MAX + 50);
	strcpy(in + 24 + GW_HTTP_HEAD_MAX + 50, "\r\n\r\n");
	assert_int_equal(run(in, 4096, out, &n), GW_HTTP_TOO_BIG);
	free(in);
}

static void
test_upgrade_becomes_raw(void **state)
{
	static char out[65536];
	size_t n;
	const char *in = "GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
	    "\x81\x02hi-not-http";

	run(in, 7, out, &n);
	assert_string_equal(out, "GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" EXTRA
	    "\r\n\x81\x02hi-not-http");
}

static void
test_reserved_names(void **state)
{
	static const struct {
		const char *name;
		int reserved;
	} cases[] = {
		{ "X-Client-Verify", 1 }, { "x-client-anything", 1 }, { "X_CLIENT_CERT", 1 },
		{ "X-Forwarded-For", 1 }, { "x_forwarded_proto", 1 }, { "X-Forwarded-Host", 0 },
		{ "X-Clients", 0 }, { "Host", 0 }, { "X-Client", 0 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_int_equal(gw_http_header_reserved(cases[i].name, strlen(cases[i].name)),
		    cases[i].reserved);
}

static void
test_error_pages(void **state)
{
	char page[1024];
	int n = gw_http_error(400, "No required SSL certificate was sent", page, sizeof(page));

	assert_true(n > 0);
	assert_non_null(strstr(page, "HTTP/1.1 400 Bad Request\r\n"));
	assert_non_null(strstr(page, "<title>400 No required SSL certificate was sent</title>"));
	assert_non_null(strstr(page, "Connection: close"));
	assert_int_equal(gw_http_error(502, NULL, page, 10), -1); /* too small: refused */
	assert_true(gw_http_error(403, NULL, page, sizeof(page)) > 0);
	assert_non_null(strstr(page, "403 Forbidden"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spoofed_headers_removed),
		cmocka_unit_test(test_chunked_body_and_pipelining_any_split),
		cmocka_unit_test(test_bad_request),
		cmocka_unit_test(test_folded_header_stays_one_line),
		cmocka_unit_test(test_head_too_big),
		cmocka_unit_test(test_upgrade_becomes_raw),
		cmocka_unit_test(test_reserved_names),
		cmocka_unit_test(test_error_pages),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
