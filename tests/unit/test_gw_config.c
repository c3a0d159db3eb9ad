/* The option table shared by flags and the INI file, and validation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

static void
test_addr(void **state)
{
	struct sockaddr_storage ss;
	socklen_t len;
	tg_err err;

	assert_int_equal(gw_parse_addr("127.0.0.1:8443", &ss, &len, &err), 0);
	assert_int_equal(ss.ss_family, AF_INET);
	assert_int_equal(gw_parse_addr("[::1]:8443", &ss, &len, &err), 0);
	assert_int_equal(ss.ss_family, AF_INET6);
	assert_int_equal(gw_parse_addr("127.0.0.1", &ss, &len, &err), -1);
	assert_non_null(strstr(err.msg, "HOST:PORT"));
	assert_int_equal(gw_parse_addr("127.0.0.1:", &ss, &len, &err), -1);
	assert_int_equal(gw_parse_addr(":80", &ss, &len, &err), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_validation),
		cmocka_unit_test(test_bad_ip_rule),
		cmocka_unit_test(test_verify_full_needs_rule),
		cmocka_unit_test(test_empty_and_missing),
		cmocka_unit_test(test_ini),
		cmocka_unit_test(test_addr),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
