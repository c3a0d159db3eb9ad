/* dns-01's pieces that need no network: --dns-resolver's ADDR[:PORT], and
 * the reader of DNS answers on messages built here (TXT found, CNAME chains,
 * NXDOMAIN, errors, truncation, answers not to our query, broken records,
 * compression pointer loops). The exchange with a real resolver is in
 * tests/e2e/test_acme_dns01_*.sh. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "acme/acme_int.h"

#define QNAME "_acme-challenge.x.example.test"
#define WANT "0123456789abcdefghijklmnopqrstuvwxyzABCDEFG"

static void
test_server_parse(void **state)
{
	static const struct {
		const char *in;
		const char *text; /* NULL: refused */
	} cases[] = {
		{ "127.0.0.1", "127.0.0.1:53" },
		{ "127.0.0.1:5353", "127.0.0.1:5353" },
		{ "::1", "[::1]:53" },
		{ "[::1]", "[::1]:53" },
		{ "[::1]:5353", "[::1]:5353" },
		{ "2001:db8::53", "[2001:db8::53]:53" },
		{ "127.0.0.1:0", NULL },
		{ "127.0.0.1:65536", NULL },
		{ "127.0.0.1:", NULL },
		{ "127.0.0.1:+53", NULL },
		{ "127.0.0.1:53x", NULL },
		{ "[127.0.0.1]:53", NULL },
		{ "[::1", NULL },
		{ "[::1]x", NULL },
		{ "dns.example.test", NULL },
		{ "", NULL },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		acme_addr a;
		int rc = acme_dns_server_parse(cases[i].in, &a);
		if (cases[i].text == NULL) {
			if (rc == 0)
				fail_msg("'%s' accepted", cases[i].in);
			continue;
		}
		if (rc != 0)
			fail_msg("'%s' refused", cases[i].in);
		acme_addr_text(&a);
		assert_string_equal(a.text, cases[i].text);
	}
}

/* ---- messages ---- */

typedef struct msg {
	unsigned char b[2048];
	size_t n;
} msg;

static void
put(msg *m, const void *p, size_t n)
{
	assert_true(m->n + n <= sizeof(m->b));
	memcpy(m->b + m->n, p, n);
	m->n += n;
}

static void
put16(msg *m, unsigned v)
{
	unsigned char b[2] = { (unsigned char)(v >> 8), (unsigned char)v };
	put(m, b, 2);
}

static void
put_name(msg *m, const char *name)
{
	while (*name != '\0') {
		size_t l = strcspn(name, ".");
		unsigned char lb = (unsigned char)l;
		put(m, &lb, 1);
		put(m, name, l);
		name += l + (name[l] == '.');
	}
	put(m, "", 1);
}

/* Header and question; counts patched by rr(). */
static void
start(msg *m, unsigned id, unsigned flags, const char *qname, unsigned qtype)
{
	m->n = 0;
	put16(m, id);
	put16(m, flags);
	put16(m, 1);
	put16(m, 0);
	put16(m, 0);
	put16(m, 0);
	put_name(m, qname);
	put16(m, qtype);
	put16(m, 1);
}

/* An answer record; owner NULL: a pointer to the question's name. */
static void
rr(msg *m, const char *owner, unsigned type, const void *rdata, size_t rdlen)
{
	if (owner == NULL)
		put16(m, 0xc00c);
	else
		put_name(m, owner);
	put16(m, type);
	put16(m, 1);
	put16(m, 0);
	put16(m, 60);
	put16(m, (unsigned)rdlen);
	put(m, rdata, rdlen);
	m->b[7]++;
}

static void
txt(msg *m, const char *owner, const char *value)
{
	unsigned char rd[300];
	size_t l = strlen(value);

	rd[0] = (unsigned char)l;
	memcpy(rd + 1, value, l);
	rr(m, owner, 16, rd, l + 1);
}

static void
cname(msg *m, const char *owner, const char *target)
{
	msg t = { .n = 0 };

	put_name(&t, target);
	rr(m, owner, 5, t.b, t.n);
}

static int
read_answer(const msg *m, acme_dns_answer *a)
{
	return acme_dns_txt_answer(m->b, m->n, 0x1234, QNAME, WANT, a);
}

static void
test_txt_found(void **state)
{
	msg m;
	acme_dns_answer a;

	(void)state;
	start(&m, 0x1234, 0x8180, QNAME, 16);
	txt(&m, NULL, "other");
	txt(&m, "_acme-challenge.X.example.test", WANT); /* names compare without case */
	assert_int_equal(read_answer(&m, &a), 0);
	assert_int_equal(a.ntxt, 2);
	assert_true(a.matched);
	assert_string_equal(a.txt[0], "other");
	assert_int_equal(a.cnames, 0);

	/* Split into two character-strings: joined. */
	unsigned char rd[64] = { 20 };
	memcpy(rd + 1, WANT, 20);
	rd[21] = 23;
	memcpy(rd + 22, WANT + 20, 23);
	start(&m, 0x1234, 0x8180, QNAME, 16);
	rr(&m, NULL, 16, rd, 45);
	assert_int_equal(read_answer(&m, &a), 0);
	assert_true(a.matched);

	/* The right value at another name is not ours. */
	start(&m, 0x1234, 0x8180, QNAME, 16);
	txt(&m, "_acme-challenge.y.example.test", WANT);
	assert_int_equal(read_answer(&m, &a), 0);
	assert_int_equal(a.ntxt, 0);
	assert_false(a.matched);
}

static void
test_cname_chain(void **state)
{
	msg m;
	acme_dns_answer a;

	(void)state;
	/* Records in any order: the chain is followed from the question. */
	start(&m, 0x1234, 0x8180, QNAME, 16);
	txt(&m, "c2.example.test", WANT);
	txt(&m, NULL, "not at the owner of a CNAME");
	cname(&m, "c1.example.test", "c2.example.test");
	cname(&m, NULL, "c1.example.test");
	assert_int_equal(read_answer(&m, &a), 0);
	assert_int_equal(a.cnames, 2);
	assert_string_equal(a.name, "c2.example.test");
	assert_int_equal(a.ntxt, 1);
	assert_true(a.matched);

	/* Ending at a CNAME: the caller asks again for its target. */
	start(&m, 0x1234, 0x8180, QNAME, 16);
	cname(&m, NULL, "elsewhere.example.test");
	assert_int_equal(read_answer(&m, &a), 0);
	assert_int_equal(a.cnames, 1);
	assert_int_equal(a.ntxt, 0);
	assert_string_equal(a.name, "elsewhere.example.test");

	/* A loop. */
	start(&m, 0x1234, 0x8180, QNAME, 16);
	cname(&m, NULL, "l.example.test");
	cname(&m, "l.example.test", QNAME);
	assert_int_equal(read_answer(&m, &a), -1);
	assert_non_null(strstr(a.why, "CNAMEs (a loop?)"));
}

static void
test_refusals(void **state)
{
	static const struct {
		unsigned id, flags;
		const char *qname;
		unsigned qtype;
		int rc, truncated, rcode;
		const char *why;
	} cases[] = {
		{ 0x1234, 0x8183, QNAME, 16, 0, 0, 3, "NXDOMAIN" },
		{ 0x1234, 0x8182, QNAME, 16, -1, 0, 2, "SERVFAIL" },
		{ 0x1234, 0x8185, QNAME, 16, -1, 0, 5, "REFUSED" },
		{ 0x1234, 0x8380, QNAME, 16, 0, 1, 0, "" },
		{ 0x4321, 0x8180, QNAME, 16, -1, 0, 0, "not for our query" },
		{ 0x1234, 0x0100, QNAME, 16, -1, 0, 0, "not for our query" },  /* a query, not an answer */
		{ 0x1234, 0x8180, "_acme-challenge.y.example.test", 16, -1, 0, 0, "not for our query" },
		{ 0x1234, 0x8180, QNAME, 1, -1, 0, 0, "not for our query" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		msg m;
		acme_dns_answer a;
		start(&m, cases[i].id, cases[i].flags, cases[i].qname, cases[i].qtype);
		if (read_answer(&m, &a) != cases[i].rc)
			fail_msg("case %zu: not %d (%s)", i, cases[i].rc, a.why);
		assert_int_equal(a.truncated, cases[i].truncated);
		assert_int_equal(a.rcode, cases[i].rcode);
		if (strstr(a.why, cases[i].why) == NULL)
			fail_msg("case %zu: '%s' lacks '%s'", i, a.why, cases[i].why);
	}
}

static void
test_broken(void **state)
{
	msg m;
	acme_dns_answer a;
	unsigned char rd[8] = { 9, 'a', 'b' }; /* a string longer than its record */

	(void)state;
	start(&m, 0x1234, 0x8180, QNAME, 16);
	rr(&m, NULL, 16, rd, 3);
	assert_int_equal(read_answer(&m, &a), -1);
	assert_non_null(strstr(a.why, "malformed TXT"));

	/* A record's owner that points at itself. */
	start(&m, 0x1234, 0x8180, QNAME, 16);
	{
		size_t at = m.n;
		put16(&m, 0xc000 | (unsigned)at);
		put16(&m, 16);
		put16(&m, 1);
		put16(&m, 0);
		put16(&m, 60);
		put16(&m, 1);
		put(&m, "", 1);
		m.b[7] = 1;
	}
	assert_int_equal(read_answer(&m, &a), -1);

	/* An answer count past the end, a header cut short. */
	start(&m, 0x1234, 0x8180, QNAME, 16);
	txt(&m, NULL, WANT);
	m.b[7] = 3;
	assert_int_equal(read_answer(&m, &a), -1);
	assert_int_equal(acme_dns_txt_answer(m.b, 11, 0x1234, QNAME, WANT, &a), -1);
	assert_non_null(strstr(a.why, "not a DNS message"));

	/* A value over ACME_DNS_TXT_MAX in two strings: kept cut, never a match. */
	unsigned char big[2 + 2 * 255];
	big[0] = 255;
	memset(big + 1, 'A', 255);
	big[256] = 255;
	memset(big + 257, 'B', 255);
	start(&m, 0x1234, 0x8180, QNAME, 16);
	rr(&m, NULL, 16, big, sizeof(big));
	assert_int_equal(read_answer(&m, &a), 0);
	assert_int_equal(a.txt_len[0], 510);
	assert_int_equal(strlen(a.txt[0]), ACME_DNS_TXT_MAX - 1);
	assert_false(a.matched);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_server_parse),
		cmocka_unit_test(test_txt_found),
		cmocka_unit_test(test_cname_chain),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_broken),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
