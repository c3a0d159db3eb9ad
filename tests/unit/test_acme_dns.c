/* dns-01's pieces that need no network: --dns-resolver's ADDR[:PORT], and
 * the reader of DNS answers on messages built here (TXT found, CNAME chains,
 * NXDOMAIN, errors, truncation, answers not to our query, broken records,
 * compression pointer loops, thousands of records); what the client takes
 * off the wire from a scripted resolver on loopback (forged answers from
 * another port or address, or with our ID and another question, are
 * dropped and the real answer still read). The exchange with a real
 * resolver is in tests/e2e/test_acme_dns01_*.sh. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/evp.h>

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
	unsigned char b[65535];
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

/* Thousands of TXT records (a 64 KB answer over TCP): every one counted,
 * the match found at the end, the reading bounded by the message. */
static void
test_many_records(void **state)
{
	static msg m;
	acme_dns_answer a;

	(void)state;
	start(&m, 0x1234, 0x8180, QNAME, 16);
	m.b[6] = 0;
	m.b[7] = 0;
	for (unsigned i = 0; i < 4000; i++) {
		unsigned char rd[2] = { 1, 'x' };
		put16(&m, 0xc00c);
		put16(&m, 16);
		put16(&m, 1);
		put16(&m, 0);
		put16(&m, 60);
		put16(&m, 2);
		put(&m, rd, 2);
	}
	txt(&m, NULL, WANT);
	m.b[6] = (unsigned char)(4001 >> 8);
	m.b[7] = (unsigned char)(4001 & 0xff);
	assert_int_equal(read_answer(&m, &a), 0);
	assert_int_equal(a.ntxt, 4001);
	assert_true(a.matched);
	/* The count says 4002: the last record is past the end. */
	m.b[7]++;
	assert_int_equal(read_answer(&m, &a), -1);
}

/* The UDP filter: our ID, QR, a standard query, our question. */
static void
test_reply_is_ours(void **state)
{
	msg q, r;

	(void)state;
	start(&q, 0x1234, 0x0100, QNAME, 16);
	start(&r, 0x1234, 0x8180, "_ACME-Challenge.X.example.TEST", 16);
	txt(&r, NULL, WANT);
	assert_true(acme_dns_reply_is_ours(r.b, r.n, q.b, q.n));
	r.b[1] ^= 1; /* another ID */
	assert_false(acme_dns_reply_is_ours(r.b, r.n, q.b, q.n));
	r.b[1] ^= 1;
	r.b[2] &= 0x7f; /* a query, not an answer */
	assert_false(acme_dns_reply_is_ours(r.b, r.n, q.b, q.n));
	r.b[2] |= 0x80;
	r.b[14] ^= 1; /* a letter of the question */
	assert_false(acme_dns_reply_is_ours(r.b, r.n, q.b, q.n));
	r.b[14] ^= 1;
	r.b[q.n - 3] = 1; /* QTYPE A */
	assert_false(acme_dns_reply_is_ours(r.b, r.n, q.b, q.n));
	assert_false(acme_dns_reply_is_ours(r.b, q.n - 1, q.b, q.n)); /* cut short */
}

/* ---- a scripted resolver on loopback ------------------------------------ */

#define KEYAUTHZ "token.thumbprint"

typedef struct resolver {
	int fd, port;
	int real;                  /* after the forgeries, answer for real */
	char value[64];            /* the real answer's TXT value */
	pthread_t th;
} resolver;

/* The answer to query q with one TXT value: its ID and question. */
static void
reply_to(msg *r, const unsigned char *q, size_t qlen, const char *value)
{
	memcpy(r->b, q, qlen);
	r->n = qlen;
	r->b[2] = 0x81;
	r->b[3] = 0x80;
	txt(r, NULL, value);
}

static void
send_from(const char *src, const struct sockaddr_in *to, const msg *m)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	inet_pton(AF_INET, src, &a.sin_addr);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_true(sendto(fd, m->b, m->n, 0, (const struct sockaddr *)to, sizeof(*to)) ==
	    (ssize_t)m->n);
	close(fd);
}

/* Takes the first query, then sends what an off-path forger would (the
 * digest the validation wants: taken, it would pass): from another port,
 * from another address, and from the resolver's own port one with another
 * ID and one with our ID and another question. Then, if real, the true
 * answer, whose value is another. */
static void *
resolve(void *arg)
{
	resolver *r = arg;
	unsigned char q[512];
	struct sockaddr_in from;
	socklen_t fl = sizeof(from);
	ssize_t n = recvfrom(r->fd, q, sizeof(q), 0, (struct sockaddr *)&from, &fl);
	unsigned char md[32];
	unsigned int mdlen;
	char *want;
	msg m, other;

	if (n < 12)
		return NULL;
	EVP_Digest(KEYAUTHZ, strlen(KEYAUTHZ), md, &mdlen, EVP_sha256(), NULL);
	want = acme_b64u_encode(md, mdlen);
	reply_to(&m, q, (size_t)n, want);
	send_from("127.0.0.1", &from, &m);
	send_from("127.0.0.2", &from, &m);
	m.b[1] ^= 0x55;
	sendto(r->fd, m.b, m.n, 0, (struct sockaddr *)&from, fl);
	start(&other, (unsigned)(q[0] << 8 | q[1]), 0x8180, "_acme-challenge.evil.example.test", 16);
	txt(&other, NULL, want);
	sendto(r->fd, other.b, other.n, 0, (struct sockaddr *)&from, fl);
	if (r->real) {
		usleep(100000);
		reply_to(&m, q, (size_t)n, r->value);
		sendto(r->fd, m.b, m.n, 0, (struct sockaddr *)&from, fl);
	}
	free(want);
	return NULL;
}

static void
resolver_start(resolver *r, int real)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t al = sizeof(a);

	r->real = real;
	snprintf(r->value, sizeof(r->value), "the-real-answer");
	r->fd = socket(AF_INET, SOCK_DGRAM, 0);
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	assert_int_equal(bind(r->fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(r->fd, (struct sockaddr *)&a, &al), 0);
	r->port = ntohs(a.sin_port);
	assert_int_equal(pthread_create(&r->th, NULL, resolve, r), 0);
}

static int
validate_at(resolver *r, int timeout_ms, acme_problem *p)
{
	char spec[32];
	acme_dns dns;
	acme_vopts o = { .timeout_ms = timeout_ms, .dns = &dns };
	int rc;

	snprintf(spec, sizeof(spec), "127.0.0.1:%d", r->port);
	assert_int_equal(acme_dns_init(&dns, spec), 0);
	memset(p, 0, sizeof(*p));
	rc = acme_validate_dns01("x.example.test", KEYAUTHZ, &o, p);
	pthread_join(r->th, NULL);
	close(r->fd);
	return rc;
}

/* A resolver that sends forged answers first (then, when real, the real
 * one): dns-01 fails with type, and detail in its problem. */
static void
expect_after_forged(int real, int timeout_ms, int type, const char *detail)
{
	resolver r;
	acme_problem p;

	resolver_start(&r, real);
	assert_int_equal(validate_at(&r, timeout_ms, &p), -1);
	assert_int_equal(p.type, type);
	assert_non_null(strstr(p.detail, detail));
}

/* Forged answers before the real one: dropped, and the real answer read
 * (its value is not the digest, so a forged one taken would have passed). */
static void
test_forged_then_real(void **state)
{
	(void)state;
	expect_after_forged(1, 5000, ACME_P_INCORRECT_RESPONSE, "the-real-answer");
}

/* Forged answers alone: none taken, the lookup times out. */
static void
test_forged_only(void **state)
{
	(void)state;
	expect_after_forged(0, 1500, ACME_P_DNS, "timed out");
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
		cmocka_unit_test(test_many_records),
		cmocka_unit_test(test_reply_is_ours),
		cmocka_unit_test(test_forged_then_real),
		cmocka_unit_test(test_forged_only),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
