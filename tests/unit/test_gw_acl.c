/* Identity allow rules against plain certificate facts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "gateway/gw.h"

static char *alice_sans[] = { "DNS:alice.example.com", "URI:spiffe://example.com/alice",
	"email:Alice@Example.com", "IP:10.0.0.5", "IP:2001:db8::1" };
static char *alice_ous[] = { "eng", "ops" };

static struct gw_peer
alice(void)
{
	struct gw_peer p;

	memset(&p, 0, sizeof(p));
	p.present = p.verified = 1;
	strcpy(p.cn, "alice");
	p.sans = alice_sans;
	p.nsans = 5;
	p.ous = alice_ous;
	p.nous = 2;
	return p;
}

static int
allows(const char *cn, const char *san, const char *ou)
{
	char *cv[1] = { (char *)cn }, *sv[1] = { (char *)san }, *ov[1] = { (char *)ou };
	struct gw_strlist lc = { cv, cn != NULL }, ls = { sv, san != NULL }, lo = { ov, ou != NULL };
	struct gw_peer p = alice();
	gw_acl *acl = gw_acl_new(&lc, &ls, &lo, NULL);
	int r;

	assert_non_null(acl);
	r = gw_acl_allows(acl, &p);
	gw_acl_free(acl);
	return r;
}

static void
test_rules(void **state)
{
	static const struct {
		const char *cn, *san, *ou;
		int want;
	} cases[] = {
		{ "alice", NULL, NULL, 1 },
		{ "Alice", NULL, NULL, 0 },              /* CN is exact */
		{ "bob", NULL, NULL, 0 },
		{ NULL, "DNS:alice.example.com", NULL, 1 },
		{ NULL, "dns:ALICE.example.com", NULL, 1 }, /* DNS ignores case */
		{ NULL, "alice.example.com", NULL, 1 },     /* bare value: any type */
		{ NULL, "URI:spiffe://example.com/alice", NULL, 1 },
		{ NULL, "URI:spiffe://example.com/Alice", NULL, 0 }, /* URI is exact */
		{ NULL, "spiffe://example.com/alice", NULL, 1 },
		{ NULL, "email:alice@example.com", NULL, 1 },
		{ NULL, "IP:10.0.0.5", NULL, 1 },
		{ NULL, "DNS:10.0.0.5", NULL, 0 },          /* typed rule, other type */
		{ NULL, "DNS:evil.example.com", NULL, 0 },
		{ NULL, NULL, "ops", 1 },
		{ NULL, NULL, "Ops", 0 },
		{ NULL, NULL, "sales", 0 },
		{ "bob", "DNS:x", "ops", 1 },               /* any rule suffices */
		/* IPv6: the rule's spelling does not matter, the address does
		 * (the SAN is in the form pki_cert_san_each gives). */
		{ NULL, "IP:2001:db8::1", NULL, 1 },
		{ NULL, "IP:2001:DB8:0::1", NULL, 1 },
		{ NULL, "IP:2001:0db8:0000:0000:0000:0000:0000:0001", NULL, 1 },
		{ NULL, "2001:DB8::1", NULL, 1 },           /* bare address */
		{ NULL, "IP:2001:db8::2", NULL, 0 },
		{ NULL, "IP:::ffff:10.0.0.5", NULL, 0 },    /* another address */
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_int_equal(allows(cases[i].cn, cases[i].san, cases[i].ou), cases[i].want);
}

static void
test_no_cert_never_allowed(void **state)
{
	char *cv[1] = { "alice" };
	struct gw_strlist lc = { cv, 1 };
	struct gw_peer p;
	gw_acl *acl = gw_acl_new(&lc, NULL, NULL, NULL);

	memset(&p, 0, sizeof(p));
	strcpy(p.cn, "alice"); /* a CN without a certificate means nothing */
	assert_int_equal(gw_acl_allows(acl, &p), 0);
	assert_int_equal(gw_acl_allows(acl, NULL), 0);
	assert_int_equal(gw_acl_allows(NULL, &p), 0);
	assert_int_equal(gw_acl_empty(acl), 0);
	assert_int_equal(gw_acl_empty(NULL), 1);
	gw_acl_free(acl);
	gw_acl_free(NULL);
}

/* An IP rule that is no address could never match: refused when the
 * configuration is read, saying why, and nothing is built. */
static void
test_bad_ip_rule_refused(void **state)
{
	static const char *const bad[] = { "IP:2001:db8::1::2", "IP:300.1.1.1", "IP:alice",
		"ip:10.0.0" };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *sv[1] = { (char *)bad[i] };
		struct gw_strlist ls = { sv, 1 };
		tg_err err;

		tg_err_clear(&err);
		assert_null(gw_acl_new(NULL, &ls, NULL, &err));
		assert_non_null(strstr(err.msg, "is not an IPv4 or IPv6 address"));
		assert_non_null(strstr(err.msg, bad[i]));
		tg_err_clear(&err);
		assert_int_equal(gw_acl_check(NULL, &ls, NULL, &err), -1);
		assert_non_null(strstr(err.msg, "--allow-san"));
	}
}

static void
test_empty_typed_rule_refused(void **state)
{
	char *sv[1] = { "URI:" };
	struct gw_strlist ls = { sv, 1 };
	tg_err err;

	assert_null(gw_acl_new(NULL, &ls, NULL, &err));
	assert_non_null(strstr(err.msg, "empty value"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rules),
		cmocka_unit_test(test_no_cert_never_allowed),
		cmocka_unit_test(test_empty_typed_rule_refused),
		cmocka_unit_test(test_bad_ip_rule_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
