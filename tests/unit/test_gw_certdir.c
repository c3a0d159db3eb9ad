/* Certificates found by layout (Prosody's) and the key-permission rule. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gateway/gw.h"

static char dir[64];

static void
touch(const char *name, mode_t mode)
{
	char path[256];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(chmod(path, mode), 0);
}

static int
setup(void **state)
{
	strcpy(dir, "/tmp/tlsgate-certdir-XXXXXX");
	assert_non_null(mkdtemp(dir));
	return 0;
}

static int
teardown(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void
test_layouts(void **state)
{
	struct gw_cert_spec *s;
	char sub[128];
	size_t n;

	touch("b.example.com.crt", 0644);
	touch("b.example.com.key", 0600);
	touch("lonely.crt", 0644);          /* no key: not a pair */
	touch(".hidden.crt", 0644);
	touch(".hidden.key", 0600);
	touch("notes.txt", 0644);
	snprintf(sub, sizeof(sub), "%s/a.example.com", dir);
	assert_int_equal(mkdir(sub, 0755), 0);
	touch("a.example.com/fullchain.pem", 0644);
	touch("a.example.com/privkey.pem", 0600);
	snprintf(sub, sizeof(sub), "%s/half", dir);
	assert_int_equal(mkdir(sub, 0755), 0);
	touch("half/fullchain.pem", 0644);  /* no privkey.pem */

	assert_int_equal(gw_certdir_scan(dir, &s, &n, NULL), 0);
	assert_int_equal(n, 2);
	assert_string_equal(s[0].host, "a.example.com"); /* sorted */
	assert_non_null(strstr(s[0].cert, "a.example.com/fullchain.pem"));
	assert_non_null(strstr(s[0].key, "a.example.com/privkey.pem"));
	assert_string_equal(s[1].host, "b.example.com");
	assert_non_null(strstr(s[1].key, "b.example.com.key"));
	gw_cert_specs_free(s, n);
	gw_cert_specs_free(NULL, 0);
}

static void
test_empty_and_missing(void **state)
{
	struct gw_cert_spec *s;
	size_t n;
	tg_err err;

	assert_int_equal(gw_certdir_scan(dir, &s, &n, &err), -1);
	assert_non_null(strstr(err.msg, "holds no certificate"));
	assert_non_null(strstr(err.msg, "HOST/fullchain.pem"));
	assert_int_equal(gw_certdir_scan("/nonexistent/tlsgate", &s, &n, &err), -1);
	assert_non_null(strstr(err.msg, "cannot open certs dir"));
}

static void
test_key_modes(void **state)
{
	static const struct {
		mode_t mode;
		int ok;
		const char *msg;
	} cases[] = {
		{ 0600, 0, NULL },
		{ 0400, 0, NULL },
		{ 0644, -1, "has mode 0644" },
		{ 0604, -1, "other users can read" },
		{ 0666, -1, "chmod 600" },
	};
	char path[128];

	snprintf(path, sizeof(path), "%s/k.key", dir);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		tg_err err;
		touch("k.key", cases[i].mode);
		tg_err_clear(&err);
		assert_int_equal(gw_key_mode_ok(path, &err), cases[i].ok);
		if (cases[i].msg != NULL)
			assert_non_null(strstr(err.msg, cases[i].msg));
	}
	/* 0640: fine for a root-owned key only (we run the tests as whoever). */
	touch("k.key", 0640);
	assert_int_equal(gw_key_mode_ok(path, NULL), geteuid() == 0 ? 0 : -1);
	assert_int_equal(gw_key_mode_ok("/nonexistent/k.key", NULL), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_layouts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_empty_and_missing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_key_modes, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
