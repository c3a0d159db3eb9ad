/* The option table shared by flags and the INI file, and validation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <arpa/inet.h>
#include <unistd.h>

#include "gateway/gw.h"

static gw_config *
minimal(void)
{
	gw_config *c = gw_config_new();

	assert_int_equal(gw_config_set(c, NULL, "listen", "127.0.0.1:8443", NULL), 0);
	assert_int_equal(gw_config_set(c, NULL, "target", "127.0.0.1:5000", NULL), 0);
	assert_int_equal(gw_config_set(c, NULL, "cert", "s.crt", NULL), 0);
	assert_int_equal(gw_config_set(c, NULL, "key", "s.key", NULL), 0);
	return c;
}

static void
test_values(void **state)
{
	static const struct {
		const char *key, *value;
		int ok;
		const char *msg;
	} cases[] = {
		{ "mode", "http", 0, NULL },
		{ "mode", "udp", -1, "is not one of: tcp, http" },
		{ "verify", "verify-full", 0, NULL },
		{ "verify", "yes", -1, "none, optional, require, verify-full" },
		{ "handshake-timeout", "2.5", 0, NULL },
		{ "idle-timeout", "500ms", 0, NULL },
		{ "idle-timeout", "5m", 0, NULL },
		{ "idle-timeout", "0", -1, "is not a timeout" },
		{ "idle-timeout", "-1", -1, "is not a timeout" },
		{ "idle-timeout", "10x", -1, "is not a timeout" },
		{ "max-conn-lifetime", "1h", 0, NULL },
		{ "max-conn-lifetime", "off", 0, NULL },
		{ "max-conn-lifetime", "0", 0, NULL },
		{ "max-conn-lifetime", "-5", -1, "is not a timeout" },
		{ "max-conn-lifetime", "forever", -1, "is not a timeout" },
		{ "head-timeout", "1.5", 0, NULL },
		{ "head-timeout", "0", -1, "is not a timeout" },
		{ "body-timeout", "2m", 0, NULL },
		{ "body-timeout", "never", -1, "is not a timeout" },
		{ "allow-connect", "yes", 0, NULL },
		{ "allow-connect", "sometimes", -1, "yes" },
		{ "max-conns", "0", -1, "between 1 and" },
		{ "max-conns", "100", 0, NULL },
		{ "workers", "65", -1, "between 1 and 64" },
		{ "min-tls", "1.1", -1, "1.2, 1.3" },
		{ "proxy-protocol", "v1", -1, "v2" },
		{ "strict-sni", "maybe", -1, "yes" },
		{ "cert", "", -1, "empty value" },
		{ "no-such-key", "x", -1, "unknown option" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		gw_config *c = gw_config_new();
		tg_err err;
		tg_err_clear(&err);
		assert_int_equal(gw_config_set(c, NULL, cases[i].key, cases[i].value, &err), cases[i].ok);
		if (cases[i].msg != NULL)
			assert_non_null(strstr(err.msg, cases[i].msg));
		gw_config_free(c);
	}
}

/* An allow rule that can never match is a configuration error. */
static void
test_bad_ip_rule(void **state)
{
	gw_config *c = minimal();
	tg_err err;

	tg_err_clear(&err);
	assert_int_equal(gw_config_set(c, NULL, "client-ca", "ca.crt", &err), 0);
	assert_int_equal(gw_config_set(c, NULL, "verify", "verify-full", &err), 0);
	assert_int_equal(gw_config_set(c, NULL, "allow-san", "IP:2001:db8::1::2", &err), 0);
	assert_int_equal(gw_config_validate(c, &err), -1);
	assert_non_null(strstr(err.msg, "listener default: --allow-san 'IP:2001:db8::1::2'"));
	assert_non_null(strstr(err.msg, "is not an IPv4 or IPv6 address"));
	gw_config_free(c);
}

static void
test_validation(void **state)
{
	static const struct {
		const char *key, *value;
		const char *msg;
	} cases[] = {
		{ "verify", "require", "needs --client-ca" },
		{ "crl", "x.crl", "need client certificates" },
		{ "allow-cn", "alice", "need client certificates" },
		{ "proxy-protocol", "v2", NULL }, /* fine in tcp mode */
		{ "allow-connect", "yes", "--allow-connect is for http mode" },
		{ "ca", "root.crt", "--ca is for client listeners (tlsgate connect, or role = client)" },
		{ "starttls", "postgres", "--starttls is for client listeners" },
		{ "insecure", "yes", "--insecure is for client listeners" },
		{ "crl-strict", "yes", "--crl-strict judges the --crl file's nextUpdate" },
		{ "ticket-keys", "t.key", NULL },
		{ "session-cache", "0", NULL },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		gw_config *c = minimal();
		tg_err err;
		tg_err_clear(&err);
		assert_int_equal(gw_config_set(c, NULL, cases[i].key, cases[i].value, &err), 0);
		if (cases[i].msg == NULL) {
			assert_int_equal(gw_config_validate(c, &err), 0);
		} else {
			assert_int_equal(gw_config_validate(c, &err), -1);
			assert_non_null(strstr(err.msg, cases[i].msg));
		}
		gw_config_free(c);
	}
}

/* Client listeners: the server is verified unless --insecure; options of
 * a server are refused by name; each case on top of role = client with a
 * listen and target (and no --ca unless the case gives one). */
static void
test_client_validation(void **state)
{
	static const struct {
		const char *k1, *v1, *k2, *v2;
		const char *msg;
	} cases[] = {
		{ "ca", "root.crt", NULL, NULL, NULL },
		{ "insecure", "yes", NULL, NULL, NULL },
		{ "cert", "a.crt", "key", "a.key", "no --ca: the server's certificate cannot be verified" },
		{ "ca", "root.crt", "insecure", "yes", "--insecure turns off the server check" },
		{ "ca", "root.crt", "verify", "require", "--verify is for server listeners (tlsgate serve)" },
		{ "ca", "root.crt", "client-ca", "ca.crt", "--client-ca is for server listeners" },
		{ "ca", "root.crt", "mode", "http", "--mode is for server listeners" },
		{ "ca", "root.crt", "cert", "a.crt", "--cert and --key go together" },
		{ "ca", "root.crt", "target", "unix:/run/db.sock", "names no server: pass --verify-name" },
		{ "target", "unix:/run/db.sock", "verify-name", "db.internal", "no --ca" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		gw_config *c = gw_config_new();
		tg_err err;
		tg_err_clear(&err);
		assert_int_equal(gw_config_set(c, NULL, "role", "client", &err), 0);
		assert_int_equal(gw_config_set(c, NULL, "listen", "127.0.0.1:5432", &err), 0);
		assert_int_equal(gw_config_set(c, NULL, "target", "db.internal:5432", &err), 0);
		assert_int_equal(gw_config_set(c, NULL, cases[i].k1, cases[i].v1, &err), 0);
		if (cases[i].k2 != NULL)
			assert_int_equal(gw_config_set(c, NULL, cases[i].k2, cases[i].v2, &err), 0);
		if (cases[i].msg == NULL) {
			assert_int_equal(gw_config_validate(c, &err), 0);
		} else {
			assert_int_equal(gw_config_validate(c, &err), -1);
			if (strstr(err.msg, cases[i].msg) == NULL)
				fail_msg("case %zu: '%s' lacks '%s'", i, err.msg, cases[i].msg);
		}
		gw_config_free(c);
	}
	{
		gw_config *c = gw_config_new();
		tg_err err;
		tg_err_clear(&err);
		assert_int_equal(gw_config_set(c, NULL, "alpn", "h2,http/1.1", &err), 0);
		assert_int_equal(gw_config_set(c, NULL, "alpn", "h2,", &err), -1);
		assert_non_null(strstr(err.msg, "alpn: 'h2,' is not a list of protocol names"));
		assert_int_equal(gw_config_set(c, NULL, "starttls", "mysql", &err), -1);
		assert_non_null(strstr(err.msg, "starttls: 'mysql' is not one of: postgres, none"));
		gw_config_free(c);
	}
}

/* Ticket keys make sessions resumable: no resumption is a contradiction. */
static void
test_ticket_keys_need_sessions(void **state)
{
	gw_config *c = minimal();
	tg_err err;

	tg_err_clear(&err);
	assert_int_equal(gw_config_set(c, NULL, "ticket-keys", "a.key", &err), 0);
	assert_int_equal(gw_config_set(c, NULL, "ticket-keys", "b.key", &err), 0);
	assert_int_equal(gw_config_validate(c, &err), 0);
	assert_int_equal(gw_config_set(c, NULL, "session-cache", "0", &err), 0);
	assert_int_equal(gw_config_validate(c, &err), -1);
	assert_non_null(strstr(err.msg, "--ticket-keys makes sessions resumable"));
	assert_int_equal(gw_config_set(c, NULL, "watch", "maybe", &err), -1);
	assert_non_null(strstr(err.msg, "watch: 'maybe' is not one of: yes, no"));
	gw_config_free(c);
}

/* --verify optional judges only the certificates sent: an allow list
 * there would let clients without one through. */
static void
test_optional_no_rules(void **state)
{
	static const char *const keys[][2] = { { "allow-cn", "alice" }, { "allow-san", "DNS:a" },
		{ "allow-ou", "ops" } };

	(void)state;
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		gw_config *c = minimal();
		tg_err err;

		assert_int_equal(gw_config_set(c, NULL, "client-ca", "ca.crt", NULL), 0);
		assert_int_equal(gw_config_set(c, NULL, "verify", "optional", NULL), 0);
		assert_int_equal(gw_config_validate(c, &err), 0);
		assert_int_equal(gw_config_set(c, NULL, keys[i][0], keys[i][1], NULL), 0);
		assert_int_equal(gw_config_validate(c, &err), -1);
		assert_non_null(strstr(err.msg, "--allow-* with --verify optional would let a client without a certificate through"));
		assert_int_equal(gw_config_set(c, NULL, "verify", "require", NULL), 0);
		assert_int_equal(gw_config_validate(c, &err), 0);
		gw_config_free(c);
	}
}

static void
test_verify_full_needs_rule(void **state)
{
	gw_config *c = minimal();
	tg_err err;

	assert_int_equal(gw_config_set(c, NULL, "client-ca", "ca.crt", NULL), 0);
	assert_int_equal(gw_config_set(c, NULL, "verify", "verify-full", NULL), 0);
	assert_int_equal(gw_config_validate(c, &err), -1);
	assert_non_null(strstr(err.msg, "needs an allow rule"));
	assert_int_equal(gw_config_set(c, NULL, "allow-san", "DNS:a", NULL), 0);
	assert_int_equal(gw_config_validate(c, &err), 0);
	assert_int_equal(gw_config_set(c, NULL, "mode", "http", NULL), 0);
	assert_int_equal(gw_config_set(c, NULL, "proxy-protocol", "v2", NULL), 0);
	assert_int_equal(gw_config_validate(c, &err), -1);
	assert_non_null(strstr(err.msg, "for tcp mode"));
	gw_config_free(c);
}

static void
test_empty_and_missing(void **state)
{
	gw_config *c = gw_config_new();
	tg_err err;

	assert_int_equal(gw_config_validate(c, &err), -1);
	assert_non_null(strstr(err.msg, "nothing to serve"));
	assert_int_equal(gw_config_set(c, NULL, "listen", "127.0.0.1:1", NULL), 0);
	assert_int_equal(gw_config_validate(c, &err), -1);
	assert_non_null(strstr(err.msg, "no target"));
	gw_config_free(c);
	gw_config_free(NULL);
}

static void
test_ini(void **state)
{
	char path[] = "/tmp/tlsgate-test-XXXXXX";
	int fd = mkstemp(path);
	FILE *f = fdopen(fd, "w");
	gw_config *c = gw_config_new();
	tg_err err;

	fputs("[global]\nworkers = 3\n[listener a]\nlisten = 127.0.0.1:1\ntarget = 127.0.0.1:2\n"
	    "cert = c\nkey = k\nclient-ca = ca\nverify = require\nallow-cn = x\nallow-cn = y\n[listener b]\nlisten = 127.0.0.1:1\n"
	    "target = 127.0.0.1:3\ncert = c\nkey = k\n", f);
	fclose(f);
	assert_int_equal(gw_config_load(c, path, &err), 0);
	assert_int_equal(c->workers, 3);
	assert_int_equal(c->nl, 2);
	assert_int_equal(c->l[0]->allow_cn.n, 2);
	/* Both listen on the same address. */
	assert_int_equal(gw_config_validate(c, &err), -1);
	assert_non_null(strstr(err.msg, "both listen on 127.0.0.1:1"));
	gw_config_free(c);
	unlink(path);
}

static int
read_text(gw_config *c, const char *text, size_t len, tg_err *err)
{
	FILE *f = fmemopen((void *)text, len, "r");
	int rc;

	assert_non_null(f);
	rc = gw_config_read(c, f, "gw.ini", err);
	fclose(f);
	return rc;
}

#define WEB "[listener web]\nlisten = 127.0.0.1:1\ntarget = 127.0.0.1:2\ncert = c\nkey = k\n"

/* Each refusal names the file and the line; nothing is merged silently. */
static void
test_ini_refusals(void **state)
{
	static const struct {
		const char *text, *msg;
	} cases[] = {
		{ WEB "[listener web]\nlisten = 127.0.0.1:3\n",
		  "gw.ini:6: [listener web] again (first at line 1): one section per listener" },
		{ WEB "[listener  web ]\nmode = http\n", "gw.ini:6: [listener web] again (first at line 1)" },
		{ "[global]\nworkers = 2\n" WEB "[global]\nstatus = 127.0.0.1:9\n", "gw.ini:8: [global] again (first at line 1)" },
		{ WEB "[listener b]\n", "gw.ini:6: [listener b] is empty: give it listen, target and a certificate" },
		{ "[listener b]\n; nothing\n" WEB, "gw.ini:1: [listener b] is empty" },
		{ WEB "listen = 127.0.0.1:5\n", "gw.ini:6: [listener web] sets 'listen' again (first at line 2); it takes one value" },
		{ "[global]\nworkers = 2\nworkers = 3\n", "gw.ini:3: [global] sets 'workers' again (first at line 2)" },
		{ WEB "mode http\n", "gw.ini:6: syntax error; lines are `key = value`" },
		{ WEB "= http\n", "gw.ini:6: syntax error: a value without a key" },
		{ WEB "[listener web\n", "gw.ini:6: syntax error: a section header is" },
		{ "[lisener web]\n", "gw.ini:1: unknown section [lisener web]" },
		{ "[listener]\n", "gw.ini:1: [listener] needs a name" },
		{ WEB "workers = 3\n", "gw.ini:6: 'workers' is a global option; move it to the [global] section" },
		{ "[global]\nmode = http\n", "gw.ini:2: 'mode' belongs in a [listener NAME] section" },
		{ "[listener web]\nlisten = 127.0.0.1:99999\n", "gw.ini:2: [listener web]: listen: port '99999' is not a port number: ports are 1-65535" },
		{ WEB "mode = udp\n", "gw.ini:6: [listener web]: mode: 'udp' is not one of: tcp, http" },
		{ WEB "bogus = 1\n", "gw.ini:6: [listener web]: unknown option 'bogus'" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		gw_config *c = gw_config_new();
		tg_err err;
		tg_err_clear(&err);
		assert_int_equal(read_text(c, cases[i].text, strlen(cases[i].text), &err), -1);
		if (strstr(err.msg, cases[i].msg) == NULL)
			fail_msg("case %zu: '%s' lacks '%s'", i, err.msg, cases[i].msg);
		assert_int_equal(err.cat, TG_ERR_CONFIG);
		gw_config_free(c);
	}
}

/* Long values (inih stopped at 200 bytes), NUL bytes, comments, a BOM. */
static void
test_ini_lines(void **state)
{
	char text[8192], path[4000];
	gw_config *c = gw_config_new();
	tg_err err;
	int n;

	memset(path, 'p', sizeof(path) - 1);
	path[0] = '/';
	path[sizeof(path) - 1] = '\0';
	n = snprintf(text, sizeof(text), "\xEF\xBB\xBF# comment\n[listener web]\n  listen = 127.0.0.1:1 ; inline\n"
	    "target=127.0.0.1:2\r\ncert = %s\nkey = k;not a comment\nallow-cn = a\nallow-cn = b\n", path);
	assert_int_equal(read_text(c, text, (size_t)n, &err), 0);
	assert_int_equal(c->nl, 1);
	assert_string_equal(c->l[0]->listen, "127.0.0.1:1");
	assert_string_equal(c->l[0]->target, "127.0.0.1:2");
	assert_int_equal(strlen(c->l[0]->cert), sizeof(path) - 1);
	assert_string_equal(c->l[0]->key, "k;not a comment");
	assert_int_equal(c->l[0]->allow_cn.n, 2);
	gw_config_free(c);

	c = gw_config_new();
	n = snprintf(text, sizeof(text), "[listener web]\ncert = %s%.100s\n", path, path);
	assert_int_equal(read_text(c, text, (size_t)n, &err), -1);
	assert_non_null(strstr(err.msg, "gw.ini:2: line longer than 4096 bytes"));
	gw_config_free(c);

	c = gw_config_new();
	assert_int_equal(read_text(c, "[listener web]\nlisten = 1\0:2\n", 30, &err), -1);
	assert_non_null(strstr(err.msg, "gw.ini:2: a NUL byte"));
	gw_config_free(c);

	c = gw_config_new();
	assert_int_equal(read_text(c, "", 0, &err), 0);
	assert_int_equal(c->nl, 0);
	gw_config_free(c);
}

static void
test_addr(void **state)
{
	struct sockaddr_storage ss;
	socklen_t len;
	tg_err err;

	assert_int_equal(gw_parse_addr("127.0.0.1:8443", "listen", &ss, &len, &err), 0);
	assert_int_equal(ss.ss_family, AF_INET);
	assert_int_equal(((struct sockaddr_in *)&ss)->sin_port, htons(8443));
	assert_int_equal(gw_parse_addr("[::1]:8443", "listen", &ss, &len, &err), 0);
	assert_int_equal(ss.ss_family, AF_INET6);
	assert_int_equal(gw_parse_addr("127.0.0.1", "listen", &ss, &len, &err), -1);
	assert_non_null(strstr(err.msg, "HOST:PORT"));
	assert_int_equal(gw_parse_addr("127.0.0.1:", "listen", &ss, &len, &err), -1);
	assert_int_equal(gw_parse_addr(":80", "listen", &ss, &len, &err), -1);
	assert_int_equal(gw_parse_addr("127.0.0.1:99999", "target", &ss, &len, &err), -1);
	assert_non_null(strstr(err.msg, "target: port '99999' is not a port number: ports are 1-65535"));
	assert_int_equal(gw_parse_addr("unix:/run/app.sock", "target", &ss, &len, &err), 0);
	assert_int_equal(ss.ss_family, AF_UNIX);
	assert_string_equal(((struct sockaddr_un *)&ss)->sun_path, "/run/app.sock");
	assert_int_equal(len, offsetof(struct sockaddr_un, sun_path) + strlen("/run/app.sock") + 1);
	assert_int_equal(gw_parse_addr("unix:/run/a.sock,mode=0660", "listen", &ss, &len, &err), 0);
	assert_string_equal(((struct sockaddr_un *)&ss)->sun_path, "/run/a.sock");
	assert_int_equal(gw_parse_addr("unix:/run/app.sock", "status", &ss, &len, &err), -1);
	assert_non_null(strstr(err.msg, "the status port is TCP"));
}

/* Addresses are checked when the option is set, naming it. */
static void
test_addr_options(void **state)
{
	static const struct {
		const char *key, *value, *msg;
	} cases[] = {
		{ "listen", "127.0.0.1:99999", "listen: port '99999' is not a port number: ports are 1-65535" },
		{ "target", "127.0.0.1:70000", "target: port '70000'" },
		{ "status", "127.0.0.1:65536", "status: port '65536'" },
		{ "listen", "127.0.0.1:0", "ports are 1-65535" },
		{ "target", "unix:/run/app.sock,mode=0660", "target: 'unix:/run/app.sock,mode=0660': mode= and owner= belong to a listening socket" },
		{ "target", "/run/app.sock", "target: '/run/app.sock': a unix socket is written unix:/run/app.sock" },
		{ "listen", "unix:relative.sock", "the socket's path must be absolute" },
		{ "listen", "unix:/run/a.sock,mode=999", "is not a unix socket option" },
		{ "status", "unix:/run/status.sock", "the status port is TCP" },
		{ "listen", "8443", "listen: '8443' is not HOST:PORT" },
		{ "listen", "", "empty value" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		gw_config *c = gw_config_new();
		tg_err err;
		tg_err_clear(&err);
		assert_int_equal(gw_config_set(c, NULL, cases[i].key, cases[i].value, &err), -1);
		if (strstr(err.msg, cases[i].msg) == NULL)
			fail_msg("%s = %s: '%s' lacks '%s'", cases[i].key, cases[i].value, err.msg, cases[i].msg);
		assert_int_equal(c->nl, cases[i].key[0] == 's' ? 0 : 1);
		assert_null(c->nl ? c->l[0]->listen : c->status);
		assert_null(c->nl ? c->l[0]->target : NULL);
		gw_config_free(c);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_validation),
		cmocka_unit_test(test_client_validation),
		cmocka_unit_test(test_bad_ip_rule),
		cmocka_unit_test(test_verify_full_needs_rule),
		cmocka_unit_test(test_optional_no_rules),
		cmocka_unit_test(test_ticket_keys_need_sessions),
		cmocka_unit_test(test_empty_and_missing),
		cmocka_unit_test(test_ini),
		cmocka_unit_test(test_ini_refusals),
		cmocka_unit_test(test_ini_lines),
		cmocka_unit_test(test_addr),
		cmocka_unit_test(test_addr_options),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
