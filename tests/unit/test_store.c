#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tlsgate/store.h"

static char dir[] = "/tmp/tlsgate-store-XXXXXX";
static char dbpath[256];

static int
setup(void **state)
{
	(void)state;
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(dbpath, sizeof(dbpath), "%s/t.db", dir);
	return 0;
}

static int
teardown(void **state)
{
	char cmd[300];
	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static store_cert
cert(const char *serial, const char *cn, int64_t not_after)
{
	store_cert c;
	memset(&c, 0, sizeof(c));
	snprintf(c.serial, sizeof(c.serial), "%s", serial);
	c.cn = (char *)cn;
	c.subject = (char *)cn;
	c.profile = "client";
	c.not_after = not_after;
	snprintf(c.fingerprint, sizeof(c.fingerprint), "ff");
	c.pem = "PEM";
	return c;
}

static int
count(const store_cert *c, void *arg)
{
	(void)c;
	(*(int *)arg)++;
	return 0;
}

static void
test_add_get_revoke_list(void **state)
{
	tg_err err = { 0 };
	store *s;
	store_cert a = cert("0A", "alice", 1000), b = cert("0B", "bob", 5000), got;
	store_filter f = { 0 };
	int n = 0;

	(void)state;
	assert_non_null(s = store_open(dbpath, &err));
	assert_int_equal(store_begin(s, &err), 0);
	assert_int_equal(store_add(s, &a, &err), 0);
	assert_int_equal(store_add(s, &b, &err), 0);
	/* the same serial twice is refused */
	assert_int_equal(store_add(s, &a, &err), -1);
	assert_int_equal(err.cat, TG_ERR_EXISTS);
	assert_int_equal(store_commit(s, &err), 0);
	assert_int_equal(store_has_serial(s, "0A", &err), 1);
	assert_int_equal(store_has_serial(s, "0C", &err), 0);
	assert_int_equal(store_get(s, "0B", &got, &err), 0);
	assert_string_equal(got.cn, "bob");
	assert_string_equal(got.status, "valid");
	store_cert_clear(&got);
	assert_int_equal(store_get(s, "0C", &got, &err), -1);
	assert_non_null(strstr(err.msg, "cert list"));
	assert_int_equal(store_revoke(s, "0A", 42, 1, &err), 0);
	assert_int_equal(store_revoke(s, "0A", 43, 1, &err), -1);
	assert_non_null(strstr(err.msg, "already revoked"));
	assert_int_equal(store_revoke(s, "0D", 43, 1, &err), -1);
	f.revoked_only = 1;
	assert_int_equal(store_list(s, &f, count, &n, &err), 0);
	assert_int_equal(n, 1);
	memset(&f, 0, sizeof(f));
	f.expiring_before = 2000;
	n = 0;
	assert_int_equal(store_list(s, &f, count, &n, &err), 0);
	assert_int_equal(n, 1);
	store_close(s);
}

static void
test_rollback_forgets(void **state)
{
	tg_err err = { 0 };
	store *s;
	store_cert c = cert("1F", "carol", 1);
	uint64_t a, b;

	(void)state;
	assert_non_null(s = store_open(dbpath, &err));
	assert_int_equal(store_begin(s, &err), 0);
	assert_int_equal(store_add(s, &c, &err), 0);
	assert_int_equal(store_next_crl_number(s, "leaf", &a, &err), 0);
	store_rollback(s);
	assert_int_equal(store_has_serial(s, "1F", &err), 0);
	assert_int_equal(store_begin(s, &err), 0);
	assert_int_equal(store_next_crl_number(s, "leaf", &b, &err), 0);
	assert_int_equal(store_commit(s, &err), 0);
	assert_int_equal(a, b); /* the rolled-back number was not consumed */
	store_close(s);
}

static void
test_not_a_database(void **state)
{
	char path[300];
	FILE *fp;
	tg_err err = { 0 };
	store *s;

	(void)state;
	snprintf(path, sizeof(path), "%s/junk.db", dir);
	fp = fopen(path, "w");
	fputs("this is not sqlite, just a text file that is long enough to matter\n", fp);
	fclose(fp);
	s = store_open(path, &err);
	assert_null(s);
	assert_non_null(strstr(err.msg, path));
	assert_int_equal(store_open("mongodb://x/y", &err) == NULL, 1);
	assert_non_null(strstr(err.msg, "unknown store"));
}

/* Store URLs are checked before anything is written: known scheme, libpq
 * syntax, and never a password. */
static void
test_check_url(void **state)
{
	static const struct {
		const char *url;
		const char *refusal; /* NULL: accepted */
	} cases[] = {
		{ "sqlite:/var/lib/tlsgate/ca.db", NULL },
		{ "/var/lib/tlsgate/ca.db", NULL },
		{ "postgresql://tlsgate@db.example:5432/pki?sslmode=verify-full", NULL },
		{ "postgres://tlsgate@db.example/pki", NULL },
		{ "postgres:host=/run/postgresql dbname=pki", NULL },
		{ "postgresql://tlsgate:s3cret@db.example/pki", "holds a password" },
		{ "postgres:host=db dbname=pki password=s3cret", "holds a password" },
		{ "postgresql://db.example/pki?password=s3cret", "holds a password" },
		{ "postgres:host=db dbname=pki bogus=1", "not a PostgreSQL connection URL" },
		{ "mongodb://db/x", "unknown store" },
		{ "postgres:", "empty store location" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		tg_err err = { 0 };
		int rc = store_check_url(cases[i].url, &err);
		if (cases[i].refusal == NULL) {
			assert_int_equal(rc, 0);
			continue;
		}
		assert_int_equal(rc, -1);
		assert_int_equal(err.cat, TG_ERR_USAGE);
		assert_non_null(strstr(err.msg, cases[i].refusal));
		/* the secret never reaches a message */
		assert_null(strstr(err.msg, "s3cret"));
	}
}

/* Nothing listens on port 1: the refusal names the server and the fix. */
static void
test_pg_unreachable(void **state)
{
	tg_err err = { 0 };

	(void)state;
	assert_null(store_open_ca("postgresql://tlsgate@127.0.0.1:1/pki", "x", &err));
	assert_int_equal(err.cat, TG_ERR_IO);
	assert_non_null(strstr(err.msg, "PostgreSQL at 127.0.0.1:1, database pki"));
	assert_non_null(strstr(err.msg, "start the server"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_add_get_revoke_list),
		cmocka_unit_test(test_rollback_forgets),
		cmocka_unit_test(test_not_a_database),
		cmocka_unit_test(test_check_url),
		cmocka_unit_test(test_pg_unreachable),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
