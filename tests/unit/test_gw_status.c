/* The status port's request reader (bytes in, a route out) and its
 * responses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/status.h"

#define R(s) s, sizeof(s) - 1

static void
test_routes(void **state)
{
	static const struct {
		const char *req;
		size_t len;
		enum gw_status_route want;
	} cases[] = {
		{ R("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"), GW_STATUS_METRICS },
		{ R("GET /healthz HTTP/1.0\r\n\r\n"), GW_STATUS_HEALTH },
		{ R("GET /healthz HTTP/1.1\n\n"), GW_STATUS_HEALTH },
		{ R("GET /metrics?name[]=x HTTP/1.1\r\n\r\n"), GW_STATUS_METRICS },
		{ R("GET /metricsx HTTP/1.1\r\n\r\n"), GW_STATUS_NOT_FOUND },
		{ R("GET /metrics/ HTTP/1.1\r\n\r\n"), GW_STATUS_NOT_FOUND },
		{ R("GET / HTTP/1.1\r\n\r\n"), GW_STATUS_NOT_FOUND },
		{ R("GET /metrics\r\n\r\n"), GW_STATUS_NOT_FOUND },
		{ R("POST /metrics HTTP/1.1\r\n\r\n"), GW_STATUS_BAD },
		{ R("get /metrics HTTP/1.1\r\n\r\n"), GW_STATUS_BAD },
		{ R("\r\n\r\n"), GW_STATUS_BAD },
		{ R("GET /metr\0cs HTTP/1.1\r\n\r\n"), GW_STATUS_BAD },
		{ R("GET /metrics HTTP/1.1\r\n"), GW_STATUS_MORE },
		{ R("GET /metrics HTTP/1.1\r\nHost: x\r\n\r"), GW_STATUS_MORE },
		{ R(""), GW_STATUS_MORE },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (gw_status_route(cases[i].req, cases[i].len) != cases[i].want)
			fail_msg("case %zu: got %d, want %d", i, gw_status_route(cases[i].req, cases[i].len),
			    cases[i].want);
}

/* A head that does not end within GW_STATUS_REQ_MAX bytes is refused, not
 * waited for. */
static void
test_too_long(void **state)
{
	char *req = malloc(GW_STATUS_REQ_MAX);

	memset(req, 'a', GW_STATUS_REQ_MAX);
	memcpy(req, "GET /metrics HTTP/1.1\r\nX: ", 26);
	assert_int_equal(gw_status_route(req, GW_STATUS_REQ_MAX - 1), GW_STATUS_MORE);
	assert_int_equal(gw_status_route(req, GW_STATUS_REQ_MAX), GW_STATUS_BAD);
	free(req);
}

static void
test_responses(void **state)
{
	static struct gw_metrics m;
	struct gw_status_view v = { &m, NULL, 2, 1, 0, 0, "" };
	char *out;
	size_t len;

	assert_int_equal(gw_status_response(&v, GW_STATUS_HEALTH, &out, &len), 0);
	assert_int_equal(strncmp(out, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n", 49), 0);
	assert_non_null(strstr(out, "\"workers\": 2"));
	assert_int_equal(len, strlen(out));
	free(out);
	assert_int_equal(gw_status_response(&v, GW_STATUS_METRICS, &out, &len), 0);
	assert_non_null(strstr(out, "tlsgate_worker_connections_total{thread=\"1\"} 0\n"));
	assert_null(strstr(out, "thread=\"2\""));
	free(out);
	assert_int_equal(gw_status_response(&v, GW_STATUS_NOT_FOUND, &out, &len), 0);
	assert_int_equal(strncmp(out, "HTTP/1.1 404 Not Found\r\n", 24), 0);
	free(out);
	assert_int_equal(gw_status_response(&v, GW_STATUS_BAD, &out, &len), 0);
	assert_int_equal(strncmp(out, "HTTP/1.1 400 Bad Request\r\n", 26), 0);
	assert_non_null(strstr(out, "Content-Length: 47\r\n"));
	free(out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_routes),
		cmocka_unit_test(test_too_long),
		cmocka_unit_test(test_responses),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
