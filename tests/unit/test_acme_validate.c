/* The challenge validators against real servers on loopback
 * (tests/unit/acme_chal_server.py): python's http.server, raw HTTP answers
 * (wrong, malformed, oversized, slow, redirecting) and a python TLS
 * server presenting acme-tls/1 certificates built with cryptography. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "acme/acme_proto.h"

#define SCRIPT TLSGATE_SRC_DIR "/tests/unit/acme_chal_server.py"
#define NAME "www.example.test"
#define KA "tok.thumbprint-of-the-account-key"

static char dir[512];
static pid_t running[4]; /* stopped in teardown if a failed check left one */

/* A running acme_chal_server.py. */
typedef struct server {
	pid_t pid;
	int port;
} server;

static void
write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static server
start(const char *mode, const char *arg)
{
	char portfile[600], buf[16] = "";
	server s = { 0, 0 };
	FILE *f;
	int i;

	snprintf(portfile, sizeof(portfile), "%s/port", dir);
	unlink(portfile);
	s.pid = fork();
	assert_true(s.pid >= 0);
	if (s.pid == 0) {
		char log[600];
		snprintf(log, sizeof(log), "%s/server.log", dir);
		if (freopen(log, "a", stdout) == NULL || freopen(log, "a", stderr) == NULL)
			_exit(126);
		execlp("python3", "python3", SCRIPT, mode, arg, portfile, (char *)NULL);
		_exit(127);
	}
	for (i = 0; i < 4; i++)
		if (running[i] == 0) {
			running[i] = s.pid;
			break;
		}
	for (i = 0; i < 1000 && (f = fopen(portfile, "r")) == NULL; i++)
		usleep(20000);
	assert_non_null(f);
	assert_non_null(fgets(buf, sizeof(buf), f));
	fclose(f);
	s.port = atoi(buf);
	assert_true(s.port > 0);
	return s;
}

static void
stop(server *s)
{
	kill(s->pid, SIGTERM);
	waitpid(s->pid, NULL, 0);
	for (int i = 0; i < 4; i++)
		if (running[i] == s->pid)
			running[i] = 0;
}

static const acme_resolve resolve_name[] = { { NAME, "127.0.0.1" } };

static acme_vopts
opts(int port, int timeout_ms)
{
	acme_vopts o = { port, port, resolve_name, 1, timeout_ms, NULL };
	return o;
}

static void
assert_problem(int rc, const acme_problem *p, acme_ptype type, const char *needle)
{
	assert_int_equal(rc, -1);
	if (p->type != type || strstr(p->detail, needle) == NULL)
		fail_msg("problem %s \"%s\"; wanted %s with \"%s\"", acme_problem_urn(p->type),
		    p->detail, acme_problem_urn(type), needle);
}

static int
setup(void **state)
{
	const char *t = getenv("TMPDIR");

	signal(SIGPIPE, SIG_DFL); /* the validators must not need it ignored */
	snprintf(dir, sizeof(dir), "%s/acme-validate-XXXXXX", t != NULL ? t : "/tmp");
	return mkdtemp(dir) == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	char cmd[600];

	for (int i = 0; i < 4; i++)
		if (running[i] != 0) {
			server s = { running[i], 0 };
			stop(&s);
		}
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* ---- http-01 ---- */

#define OK200(body) "HTTP/1.1 200 OK\r\nContent-Length: " #body "\r\n\r\n"
#define WK "/.well-known/acme-challenge/"

/* One route per token: raw answers, and the delay of the slow one. */
static const struct {
	const char *token;
	const char *raw;
	int delay;
} routes[] = {
	{ "good", "HTTP/1.1 200 OK\r\nContent-Length: 35\r\n\r\n" KA "\r\n", 0 },
	{ "close", "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n" KA " \t\n", 0 },
	{ "chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	             "4\r\ntok.\r\n1d;ext=1\r\nthumbprint-of-the-account-key\r\n0\r\nX-T: 1\r\n\r\n", 0 },
	{ "wrong", "HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\nnot\x01 the one", 0 },
	{ "lead", "HTTP/1.1 200 OK\r\nContent-Length: 34\r\n\r\n " KA, 0 },
	{ "rel", "HTTP/1.1 302 Found\r\nLocation: " WK "good\r\nContent-Length: 0\r\n\r\n", 0 },
	{ "abs", "HTTP/1.1 301 Moved\r\nLocation: http://" NAME WK "rel#frag\r\n\r\n", 0 },
	{ "loop", "HTTP/1.1 307 Again\r\nLocation: " WK "loop\r\n\r\n", 0 },
	{ "https", "HTTP/1.1 302 Found\r\nLocation: https://" NAME WK "good\r\n\r\n", 0 },
	{ "port", "HTTP/1.1 302 Found\r\nLocation: http://" NAME ":8080" WK "good\r\n\r\n", 0 },
	{ "userinfo", "HTTP/1.1 302 Found\r\nLocation: http://u@" NAME WK "good\r\n\r\n", 0 },
	{ "noloc", "HTTP/1.1 302 Found\r\nContent-Length: 0\r\n\r\n", 0 },
	{ "404", "HTTP/1.1 404 Not Found\r\nContent-Length: 4\r\n\r\nnope", 0 },
	{ "biglen", "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\nxxxx", 0 },
	{ "badstatus", "HTTP/1.1 20 OK\r\n\r\n", 0 },
	{ "fold", "HTTP/1.1 200 OK\r\nX: a\r\n  b\r\nContent-Length: 0\r\n\r\n", 0 },
	{ "lf", "HTTP/1.1 200 OK\nContent-Length: 0\n\n", 0 },
	{ "twolen", "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", 0 },
	{ "telen", "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 0 },
	{ "gzip", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", 0 },
	{ "badchunk", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 0 },
	{ "short", "HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n" KA, 0 },
	{ "empty", "", 0 },
	{ "slow", OK200(33) KA, 3 },
};

static void
http_case(const acme_vopts *o, const char *token, int want, acme_ptype type, const char *why)
{
	acme_problem p = { 0 };
	int rc = acme_validate_http01(NAME, 0, token, KA, o, &p);

	if (want == 0) {
		if (rc != 0)
			fail_msg("token %s refused: %s", token, p.detail);
		return;
	}
	assert_problem(rc, &p, type, why);
}

static void
test_http01(void **state)
{
	char conf[600], big[9000 + 64];
	json_t *c = json_object();
	server s;
	acme_vopts o;
	size_t i;

	for (i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		char path[128];
		snprintf(path, sizeof(path), WK "%s", routes[i].token);
		assert_int_equal(json_object_set_new(c, path, json_pack("{s:s, s:i}", "raw",
		    routes[i].raw, "delay", routes[i].delay)), 0);
	}
	/* A close-delimited body over the limit. */
	snprintf(big, sizeof(big), "HTTP/1.0 200 OK\r\n\r\n");
	memset(big + strlen(big), 'a', 9000);
	big[19 + 9000] = '\0';
	assert_int_equal(json_object_set_new(c, WK "bigclose", json_pack("{s:s}", "raw", big)), 0);
	snprintf(conf, sizeof(conf), "%s/http.json", dir);
	assert_int_equal(json_dump_file(c, conf, 0), 0);
	json_decref(c);
	s = start("http", conf);
	o = opts(s.port, 8000);

	http_case(&o, "good", 0, 0, "");
	http_case(&o, "close", 0, 0, "");   /* close-delimited, trailing whitespace */
	http_case(&o, "chunked", 0, 0, "");
	http_case(&o, "rel", 0, 0, "");     /* a path on the same host */
	http_case(&o, "abs", 0, 0, "");     /* port 80 is the http-01 port; 2 hops */
	http_case(&o, "wrong", -1, ACME_P_INCORRECT_RESPONSE,
	    "127.0.0.1:");
	http_case(&o, "wrong", -1, ACME_P_INCORRECT_RESPONSE,
	    "with \"not\\x01 the one\", not the key authorization");
	http_case(&o, "lead", -1, ACME_P_INCORRECT_RESPONSE, "not the key authorization");
	http_case(&o, "loop", -1, ACME_P_INCORRECT_RESPONSE, "more than 10 redirects");
	http_case(&o, "https", -1, ACME_P_CONNECTION, "over http only");
	http_case(&o, "port", -1, ACME_P_INCORRECT_RESPONSE, "on port 8080");
	http_case(&o, "userinfo", -1, ACME_P_INCORRECT_RESPONSE, "does not follow");
	http_case(&o, "noloc", -1, ACME_P_INCORRECT_RESPONSE, "302 without a Location");
	http_case(&o, "404", -1, ACME_P_INCORRECT_RESPONSE, "status 404, not 200: \"HTTP/1.1 404");
	http_case(&o, "biglen", -1, ACME_P_INCORRECT_RESPONSE, "a body over 8192 bytes");
	http_case(&o, "bigclose", -1, ACME_P_INCORRECT_RESPONSE, "a body over 8192 bytes");
	http_case(&o, "badstatus", -1, ACME_P_INCORRECT_RESPONSE, "no HTTP/1.x status line");
	http_case(&o, "fold", -1, ACME_P_INCORRECT_RESPONSE, "obs-fold");
	http_case(&o, "lf", -1, ACME_P_INCORRECT_RESPONSE, "not ended by an empty line (CRLF CRLF)");
	http_case(&o, "twolen", -1, ACME_P_INCORRECT_RESPONSE, "two different Content-Lengths");
	http_case(&o, "telen", -1, ACME_P_INCORRECT_RESPONSE, "both Content-Length and Transfer");
	http_case(&o, "gzip", -1, ACME_P_INCORRECT_RESPONSE, "other than chunked");
	http_case(&o, "badchunk", -1, ACME_P_INCORRECT_RESPONSE, "broken chunked framing");
	http_case(&o, "short", -1, ACME_P_INCORRECT_RESPONSE, "cut short");
	http_case(&o, "empty", -1, ACME_P_CONNECTION, "closed without a response");
	http_case(&o, "missing", -1, ACME_P_INCORRECT_RESPONSE, "status 404");
	o.timeout_ms = 500;
	http_case(&o, "slow", -1, ACME_P_CONNECTION, "timed out waiting for the response");
	stop(&s);

	/* Nobody listening any more; a name nobody resolves. */
	o.timeout_ms = 2000;
	http_case(&o, "good", -1, ACME_P_CONNECTION, "could not connect to " NAME " (127.0.0.1:");
	{
		acme_problem p = { 0 };
		assert_problem(acme_validate_http01("nowhere.invalid", 0, "good", KA, &o, &p), &p,
		    ACME_P_DNS, "no address found for nowhere.invalid");
	}
}

/* python's own http.server, the way a webroot is served; an IP identifier. */
static void
test_http01_webroot(void **state)
{
	char path[700];
	acme_problem p = { 0 };
	acme_vopts o;
	server s;

	snprintf(path, sizeof(path), "%s/.well-known", dir);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/.well-known/acme-challenge", dir);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/.well-known/acme-challenge/tok", dir);
	write_text(path, KA "\n");
	s = start("webroot", dir);
	o = opts(s.port, 5000);
	assert_int_equal(acme_validate_http01(NAME, 0, "tok", KA, &o, &p), 0);
	assert_int_equal(acme_validate_http01("127.0.0.1", 1, "tok", KA, &o, &p), 0);
	assert_problem(acme_validate_http01("127.0.0.1", 1, "tok", KA "x", &o, &p), &p,
	    ACME_P_INCORRECT_RESPONSE, "not the key authorization");
	stop(&s);
}

/* ---- tls-alpn-01 ---- */

static int
tls_case(const char *id, int is_ip, const char *sans, const char *ext, const char *alpn,
    const char *ka, acme_problem *p, char *sni, size_t snilen)
{
	char conf[600], log[600], text[1200];
	acme_vopts o;
	server s;
	FILE *f;
	int rc;

	snprintf(conf, sizeof(conf), "%s/tls.json", dir);
	snprintf(log, sizeof(log), "%s/sni.log", dir);
	unlink(log);
	snprintf(text, sizeof(text),
	    "{\"sans\": [%s], \"ext\": \"%s\", \"keyauthz\": \"" KA "\", \"alpn\": \"%s\", "
	    "\"sni_log\": \"%s\"}", sans, ext, alpn, log);
	write_text(conf, text);
	s = start("tls", conf);
	o = opts(s.port, 5000);
	memset(p, 0, sizeof(*p));
	rc = acme_validate_tlsalpn01(id, is_ip, ka, &o, p);
	stop(&s);
	sni[0] = '\0';
	if ((f = fopen(log, "r")) != NULL) {
		if (fgets(sni, (int)snilen, f) != NULL)
			sni[strcspn(sni, "\n")] = '\0';
		fclose(f);
	}
	return rc;
}

static void
test_tlsalpn01(void **state)
{
	static const struct {
		const char *id;
		int is_ip;
		const char *sans, *ext, *alpn, *ka;
		acme_ptype type; /* ACME_P_NONE: accepted */
		const char *why; /* or the SNI the server must have seen */
	} cases[] = {
		{ NAME, 0, "\"dns:" NAME "\"", "good", "acme-tls/1", KA, ACME_P_NONE, NAME },
		{ "WWW.Example.test", 0, "\"dns:" NAME "\"", "good", "acme-tls/1", KA, ACME_P_NONE, NULL },
		{ "127.0.0.1", 1, "\"ip:127.0.0.1\"", "good", "acme-tls/1", KA, ACME_P_NONE,
		    "1.0.0.127.in-addr.arpa" },
		{ NAME, 0, "\"dns:" NAME "\"", "good", "acme-tls/1", KA "x", ACME_P_INCORRECT_RESPONSE,
		    "does not hold SHA-256 of the key authorization" },
		{ NAME, 0, "\"dns:" NAME "\"", "wrong", "acme-tls/1", KA, ACME_P_INCORRECT_RESPONSE,
		    "does not hold SHA-256" },
		{ NAME, 0, "\"dns:other.example.test\"", "good", "acme-tls/1", KA,
		    ACME_P_INCORRECT_RESPONSE, "SAN is not the identifier" },
		{ NAME, 0, "\"dns:" NAME "\", \"dns:b.example.test\"", "good", "acme-tls/1", KA,
		    ACME_P_INCORRECT_RESPONSE, "more than one SAN" },
		{ NAME, 0, "", "good", "acme-tls/1", KA, ACME_P_INCORRECT_RESPONSE,
		    "no subjectAltName" },
		{ "127.0.0.1", 1, "\"dns:127.0.0.1\"", "good", "acme-tls/1", KA,
		    ACME_P_INCORRECT_RESPONSE, "not the identifier's IP address" },
		{ NAME, 0, "\"dns:" NAME "\"", "none", "acme-tls/1", KA, ACME_P_INCORRECT_RESPONSE,
		    "no acmeIdentifier extension" },
		{ NAME, 0, "\"dns:" NAME "\"", "noncrit", "acme-tls/1", KA, ACME_P_INCORRECT_RESPONSE,
		    "not critical" },
		{ NAME, 0, "\"dns:" NAME "\"", "good", "h2", KA, ACME_P_TLS,
		    "did not negotiate ALPN protocol acme-tls/1" },
		{ NAME, 0, "\"dns:" NAME "\"", "good", "", KA, ACME_P_TLS, "did not negotiate" },
	};
	acme_problem p;
	char sni[300];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = tls_case(cases[i].id, cases[i].is_ip, cases[i].sans, cases[i].ext,
		    cases[i].alpn, cases[i].ka, &p, sni, sizeof(sni));
		if (cases[i].type == ACME_P_NONE) {
			if (rc != 0)
				fail_msg("case %zu refused: %s", i, p.detail);
			if (cases[i].why != NULL)
				assert_string_equal(sni, cases[i].why);
			continue;
		}
		assert_problem(rc, &p, cases[i].type, cases[i].why);
		assert_non_null(strstr(p.detail, "127.0.0.1:"));
	}
}

/* A TLS port that answers http, and one that accepts and says nothing. */
static void
test_tlsalpn01_not_tls(void **state)
{
	char conf[600];
	acme_problem p = { 0 };
	acme_vopts o;
	server s;

	snprintf(conf, sizeof(conf), "%s/plain.json", dir);
	write_text(conf, "{}");
	s = start("http", conf);
	o = opts(s.port, 3000);
	assert_problem(acme_validate_tlsalpn01(NAME, 0, KA, &o, &p), &p, ACME_P_TLS, "127.0.0.1:");
	stop(&s);
	o.timeout_ms = 1000;
	assert_problem(acme_validate_tlsalpn01(NAME, 0, KA, &o, &p), &p, ACME_P_CONNECTION,
	    "could not connect");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_http01),
		cmocka_unit_test(test_http01_webroot),
		cmocka_unit_test(test_tlsalpn01),
		cmocka_unit_test(test_tlsalpn01_not_tls),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
