/* The ACME server's policy and its state in a real SQLite store: a table of
 * identifiers with what the policy says of each (the canonical form kept, or
 * the problem type and reason), CIDR refusals, and the conditional updates
 * that keep two servers from both making one change (a nonce used twice, a
 * challenge claimed twice, an order finalized twice). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "acme/srv.h"

static const char *const domains[] = { "example.test" };

static acme_addr_key
key_of(const char *text)
{
	struct sockaddr_storage ss;
	acme_addr_key k;

	memset(&ss, 0, sizeof(ss));
	if (strchr(text, ':') != NULL) {
		ss.ss_family = AF_INET6;
		assert_int_equal(inet_pton(AF_INET6, text, &((struct sockaddr_in6 *)&ss)->sin6_addr), 1);
	} else {
		ss.ss_family = AF_INET;
		assert_int_equal(inet_pton(AF_INET, text, &((struct sockaddr_in *)&ss)->sin_addr), 1);
	}
	acme_addr_key_of(&ss, &k);
	return k;
}

static int
same_client(const char *a, const char *b)
{
	acme_addr_key x = key_of(a), y = key_of(b);
	return memcmp(&x, &y, sizeof(x)) == 0;
}

/* --max-conns-per-ip counts an IPv6 client by its /64 (each of whose
 * addresses it may use), a mapped IPv4 address as the IPv4 one. */
static void
test_per_ip_key(void **state)
{
	(void)state;
	assert_true(same_client("2001:db8:1:2::1", "2001:db8:1:2:ffff:ffff:ffff:fffe"));
	assert_true(same_client("2001:db8:1:2::1", "2001:db8:1:2::1"));
	assert_false(same_client("2001:db8:1:2::1", "2001:db8:1:3::1"));
	assert_false(same_client("2001:db8:1:2::1", "2001:db9:1:2::1"));
	assert_true(same_client("192.0.2.7", "::ffff:192.0.2.7"));
	assert_false(same_client("192.0.2.7", "192.0.2.8"));
	assert_false(same_client("::1", "127.0.0.1"));
	/* An IPv6 /64 whose first 32 bits are those of an IPv4 address is
	 * still another client. */
	assert_false(same_client("c000:207::", "192.0.2.7"));
}

static acme_policy
policy(acme_cidr *ips)
{
	tg_err err = { 0 };
	acme_policy p = { .domains = domains, .ndomains = 1, .ips = ips, .nips = 2,
		.max_validity = 86400 * 90, .default_validity = 86400 * 90 };

	assert_int_equal(acme_cidr_parse("10.0.0.0/8", &ips[0], &err), 0);
	assert_int_equal(acme_cidr_parse("2001:db8::/32", &ips[1], &err), 0);
	return p;
}

static void
test_identifiers(void **state)
{
	static const struct {
		const char *type, *value;
		acme_ptype want;       /* ACME_P_NONE: allowed */
		const char *canon_or_reason;
	} cases[] = {
		{ "dns", "example.test", ACME_P_NONE, "example.test" },
		{ "dns", "a.b.example.test", ACME_P_NONE, "a.b.example.test" },
		{ "dns", "badexample.test", ACME_P_REJECTED_IDENTIFIER, "outside this CA's policy" },
		{ "dns", "example.test.evil", ACME_P_REJECTED_IDENTIFIER, "outside this CA's policy" },
		{ "dns", "test", ACME_P_REJECTED_IDENTIFIER, "outside this CA's policy" },
		{ "dns", "*.example.test", ACME_P_REJECTED_IDENTIFIER, "dns-01" },
		{ "dns", "WWW.example.test", ACME_P_MALFORMED, "lower case" },
		{ "dns", "a\001.example.test", ACME_P_MALFORMED, "control character" },
		{ "dns", "b\xc3\xbc" "cher.example.test", ACME_P_MALFORMED, "A-labels" },
		{ "dns", "a..example.test", ACME_P_REJECTED_IDENTIFIER, "not a DNS name" },
		{ "dns", "", ACME_P_MALFORMED, "missing, empty" },
		{ "ip", "10.1.2.3", ACME_P_NONE, "10.1.2.3" },
		{ "ip", "11.0.0.1", ACME_P_REJECTED_IDENTIFIER, "--allow-ip" },
		{ "ip", "2001:DB8:0::1", ACME_P_NONE, "2001:db8::1" },
		{ "ip", "2001:db9::1", ACME_P_REJECTED_IDENTIFIER, "--allow-ip" },
		{ "ip", "10.1.2", ACME_P_MALFORMED, "not an IPv4 or IPv6 address" },
		{ "ip", "example.test", ACME_P_MALFORMED, "not an IPv4 or IPv6 address" },
		{ "email", "a@example.test", ACME_P_UNSUPPORTED_IDENTIFIER, "not supported" },
	};
	acme_cidr ips[2];
	acme_policy pol = policy(ips);

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		acme_problem p = { 0 };
		char canon[256] = "";
		int rc = acme_ident_check(&pol, cases[i].type, cases[i].value, canon, &p);
		if (cases[i].want == ACME_P_NONE) {
			if (rc != 0)
				fail_msg("%s:%s refused: %s", cases[i].type, cases[i].value, p.detail);
			assert_string_equal(canon, cases[i].canon_or_reason);
		} else {
			if (rc == 0)
				fail_msg("%s:%s allowed", cases[i].type, cases[i].value);
			assert_int_equal(p.type, cases[i].want);
			if (strstr(p.detail, cases[i].canon_or_reason) == NULL)
				fail_msg("%s:%s: '%s' lacks '%s'", cases[i].type, cases[i].value, p.detail,
				    cases[i].canon_or_reason);
		}
	}
}

/* Wildcards: allowed only with dns-01 (--dns-resolver), not with
 * --no-wildcards, and the policy applies to the base name. */
static void
test_wildcards(void **state)
{
	static const struct {
		int dns01, no_wildcards;
		const char *value;
		acme_ptype want;
		const char *canon_or_reason;
	} cases[] = {
		{ 1, 0, "*.example.test", ACME_P_NONE, "*.example.test" },
		{ 1, 0, "*.a.example.test", ACME_P_NONE, "*.a.example.test" },
		{ 1, 0, "*.example.org", ACME_P_REJECTED_IDENTIFIER, "outside this CA's policy" },
		{ 1, 0, "*.test", ACME_P_REJECTED_IDENTIFIER, "outside this CA's policy" },
		{ 1, 0, "*.*.example.test", ACME_P_REJECTED_IDENTIFIER, "not a DNS name" },
		{ 1, 0, "a*.example.test", ACME_P_REJECTED_IDENTIFIER, "not a DNS name" },
		{ 1, 1, "*.example.test", ACME_P_REJECTED_IDENTIFIER, "--no-wildcards" },
		{ 0, 0, "*.example.test", ACME_P_REJECTED_IDENTIFIER, "--dns-resolver" },
		{ 0, 1, "*.example.test", ACME_P_REJECTED_IDENTIFIER, "--no-wildcards" },
		{ 1, 1, "www.example.test", ACME_P_NONE, "www.example.test" },
	};
	acme_cidr ips[2];
	acme_policy pol = policy(ips);

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		acme_problem p = { 0 };
		char canon[256] = "";
		int rc;
		pol.dns01 = cases[i].dns01;
		pol.no_wildcards = cases[i].no_wildcards;
		rc = acme_ident_check(&pol, "dns", cases[i].value, canon, &p);
		if (cases[i].want == ACME_P_NONE) {
			if (rc != 0)
				fail_msg("%s (dns01 %d) refused: %s", cases[i].value, cases[i].dns01, p.detail);
			assert_string_equal(canon, cases[i].canon_or_reason);
		} else {
			if (rc == 0)
				fail_msg("%s (dns01 %d, no_wildcards %d) allowed", cases[i].value,
				    cases[i].dns01, cases[i].no_wildcards);
			assert_int_equal(p.type, cases[i].want);
			if (strstr(p.detail, cases[i].canon_or_reason) == NULL)
				fail_msg("%s: '%s' lacks '%s'", cases[i].value, p.detail,
				    cases[i].canon_or_reason);
		}
	}
}

static void
test_cidr_refusals(void **state)
{
	static const char *const bad[] = { "10.0.0.0/33", "10.0.0.0/", "/8", "abc", "10.0.0.0/8x",
		"2001:db8::/129", "", "10.0.0.0/-1" };
	acme_cidr c;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		tg_err err = { 0 };
		if (acme_cidr_parse(bad[i], &c, &err) == 0)
			fail_msg("CIDR '%s' accepted", bad[i]);
		assert_non_null(strstr(err.msg, "--allow-ip"));
	}
}

/* ---- the store ------------------------------------------------------ */

static store *
temp_store(char *path, size_t len)
{
	tg_err err = { 0 };
	char url[600];
	store *db;
	int fd;

	snprintf(path, len, "%s/acme-srv-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	unlink(path);
	snprintf(url, sizeof(url), "sqlite:%s", path);
	db = store_open_ca(url, "test-ca", &err);
	if (db == NULL)
		fail_msg("store: %s", err.msg);
	if (acme_db_init(db, &err) != 0 || acme_db_init(db, &err) != 0)
		fail_msg("acme tables: %s", err.msg);
	return db;
}

static void
drop_store(store *db, const char *path)
{
	char p[600];

	store_close(db);
	unlink(path);
	snprintf(p, sizeof(p), "%s-wal", path);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", path);
	unlink(p);
	snprintf(p, sizeof(p), "%s-lock", path);
	unlink(p);
}

static void
test_nonce_once(void **state)
{
	char path[512];
	store *db = temp_store(path, sizeof(path));
	unsigned char k1[ACME_NONCE_KEY_LEN], k2[ACME_NONCE_KEY_LEN];
	tg_err err = { 0 };
	int fresh = -1;

	(void)state;
	/* One key per store: the second call reads the first's. */
	assert_int_equal(acme_db_nonce_key(db, k1, &err), 0);
	assert_int_equal(acme_db_nonce_key(db, k2, &err), 0);
	assert_memory_equal(k1, k2, sizeof(k1));
	assert_int_equal(acme_db_nonce_use(db, "00112233445566778899aabbccddeeff", 1000, &fresh,
	    &err), 0);
	assert_int_equal(fresh, 1);
	assert_int_equal(acme_db_nonce_use(db, "00112233445566778899aabbccddeeff", 1000, &fresh,
	    &err), 0);
	assert_int_equal(fresh, 0);
	/* Pruned once old enough; then (were it not too old) taken again. */
	assert_int_equal(acme_db_nonce_prune(db, 1001, &err), 0);
	assert_int_equal(acme_db_nonce_use(db, "00112233445566778899aabbccddeeff", 1000, &fresh,
	    &err), 0);
	assert_int_equal(fresh, 1);
	drop_store(db, path);
}

static void
order_with_challenge(store *db, acme_order *o, acme_authz *a, acme_chall *c)
{
	tg_err err = { 0 };

	memset(o, 0, sizeof(*o));
	memset(a, 0, sizeof(*a));
	memset(c, 0, sizeof(*c));
	snprintf(o->id, sizeof(o->id), "order1");
	snprintf(o->account, sizeof(o->account), "acct1");
	snprintf(o->status, sizeof(o->status), "pending");
	o->identifiers = (char *)"[{\"type\":\"dns\",\"value\":\"a.example.test\"}]";
	o->expires = 4000000000;
	o->created = 1000;
	snprintf(a->id, sizeof(a->id), "authz1");
	snprintf(a->order_id, sizeof(a->order_id), "order1");
	snprintf(a->account, sizeof(a->account), "acct1");
	snprintf(a->type, sizeof(a->type), "dns");
	snprintf(a->value, sizeof(a->value), "a.example.test");
	snprintf(a->status, sizeof(a->status), "pending");
	snprintf(a->token, sizeof(a->token), "tok");
	a->expires = 4000000000;
	snprintf(c->id, sizeof(c->id), "authz1-h");
	snprintf(c->authz, sizeof(c->authz), "authz1");
	snprintf(c->type, sizeof(c->type), "http-01");
	snprintf(c->status, sizeof(c->status), "pending");
	if (acme_db_order_insert(db, o, &err) != 0 || acme_db_authz_insert(db, a, 0, &err) != 0 ||
	    acme_db_chall_insert(db, c, &err) != 0)
		fail_msg("insert: %s", err.msg);
}

static void
test_claim_validate_finalize_once(void **state)
{
	char path[512];
	store *db = temp_store(path, sizeof(path));
	acme_order o, got = { 0 };
	acme_authz a;
	acme_chall c;
	tg_err err = { 0 };
	long changes = -1;

	(void)state;
	order_with_challenge(db, &o, &a, &c);
	/* Finalize before ready changes nothing. */
	assert_int_equal(acme_db_order_issued(db, "order1", "AB", &changes, &err), 0);
	assert_int_equal(changes, 0);
	/* One claim wins; a second (another server) does not, until stale. */
	assert_int_equal(acme_db_chall_claim(db, "authz1-h", 2000, 1940, &changes, &err), 0);
	assert_int_equal(changes, 1);
	assert_int_equal(acme_db_chall_claim(db, "authz1-h", 2010, 1950, &changes, &err), 0);
	assert_int_equal(changes, 0);
	assert_int_equal(acme_db_chall_claim(db, "authz1-h", 2100, 2040, &changes, &err), 0);
	assert_int_equal(changes, 1);
	/* Valid: the authorization, then the order (its only one) becomes ready. */
	assert_int_equal(acme_db_chall_done(db, &c, &a, 1, NULL, 2101, &err), 0);
	assert_int_equal(acme_db_order_get(db, "order1", &got, &err), 1);
	assert_string_equal(got.status, "ready");
	acme_order_clear(&got);
	/* A second outcome (a stale validator finishing late) changes nothing. */
	assert_int_equal(acme_db_chall_done(db, &c, &a, 0, "{\"type\":\"x\"}", 2102, &err), 0);
	assert_int_equal(acme_db_order_get(db, "order1", &got, &err), 1);
	assert_string_equal(got.status, "ready");
	assert_null(got.error);
	acme_order_clear(&got);
	/* Finalized once: the second finds it valid already. */
	assert_int_equal(acme_db_order_issued(db, "order1", "AB", &changes, &err), 0);
	assert_int_equal(changes, 1);
	assert_int_equal(acme_db_order_issued(db, "order1", "CD", &changes, &err), 0);
	assert_int_equal(changes, 0);
	assert_int_equal(acme_db_order_by_serial(db, "AB", &got, &err), 1);
	assert_string_equal(got.status, "valid");
	acme_order_clear(&got);
	assert_int_equal(acme_db_order_by_serial(db, "CD", &got, &err), 0);
	drop_store(db, path);
}

static void
test_invalid_challenge_invalidates_order(void **state)
{
	char path[512];
	store *db = temp_store(path, sizeof(path));
	acme_order o, got = { 0 };
	acme_authz a, ga;
	acme_chall c;
	tg_err err = { 0 };
	long changes = -1;

	(void)state;
	order_with_challenge(db, &o, &a, &c);
	assert_int_equal(acme_db_chall_claim(db, "authz1-h", 2000, 1940, &changes, &err), 0);
	assert_int_equal(acme_db_chall_done(db, &c, &a, 0,
	    "{\"type\":\"urn:ietf:params:acme:error:incorrectResponse\"}", 2001, &err), 0);
	assert_int_equal(acme_db_order_get(db, "order1", &got, &err), 1);
	assert_string_equal(got.status, "invalid");
	assert_non_null(strstr(got.error, "incorrectResponse"));
	acme_order_clear(&got);
	assert_int_equal(acme_db_authz_get(db, "authz1", &ga, &err), 1);
	assert_string_equal(ga.status, "invalid");
	/* An invalid authorization's challenge cannot be claimed again. */
	assert_int_equal(acme_db_chall_claim(db, "authz1-h", 3000, 2940, &changes, &err), 0);
	assert_int_equal(changes, 0);
	drop_store(db, path);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_per_ip_key),
		cmocka_unit_test(test_identifiers),
		cmocka_unit_test(test_wildcards),
		cmocka_unit_test(test_cidr_refusals),
		cmocka_unit_test(test_nonce_once),
		cmocka_unit_test(test_claim_validate_finalize_once),
		cmocka_unit_test(test_invalid_challenge_invalidates_order),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
