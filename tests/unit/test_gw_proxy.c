/* PROXY protocol v2 header bytes, checked against the spec's layout. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <string.h>

#include "gateway/gw.h"

static void
v4(struct sockaddr_storage *ss, const char *ip, unsigned port)
{
	struct sockaddr_in *s = (struct sockaddr_in *)ss;

	memset(ss, 0, sizeof(*ss));
	s->sin_family = AF_INET;
	s->sin_port = htons((uint16_t)port);
	inet_pton(AF_INET, ip, &s->sin_addr);
}

static void
test_v4_with_tls_tlvs(void **state)
{
	struct sockaddr_storage src, dst;
	struct gw_proxy_info pi = { &src, &dst, 1, 1, 1, "TLSv1.3", "TLS_AES_128_GCM_SHA256", "dev", "h" };
	unsigned char b[GW_PROXY_MAX];
	int n;

	v4(&src, "10.1.2.3", 40000);
	v4(&dst, "127.0.0.1", 8883);
	n = gw_proxy_v2_build(&pi, b, sizeof(b));
	assert_true(n > 16);
	assert_memory_equal(b, "\r\n\r\n\0\r\nQUIT\n", 12);
	assert_int_equal(b[12], 0x21);
	assert_int_equal(b[13], 0x11);
	assert_int_equal((b[14] << 8 | b[15]) + 16, n);
	assert_memory_equal(b + 16, "\x0a\x01\x02\x03\x7f\x00\x00\x01", 8);
	assert_int_equal(b[24] << 8 | b[25], 40000);
	assert_int_equal(b[26] << 8 | b[27], 8883);
	/* AUTHORITY "h", then the SSL TLV. */
	assert_memory_equal(b + 28, "\x02\x00\x01h", 4);
	assert_int_equal(b[32], 0x20);
	assert_int_equal(b[35], 0x07);                        /* SSL|CERT_CONN|CERT_SESS */
	assert_memory_equal(b + 36, "\0\0\0\0", 4);           /* verified */
	assert_memory_equal(b + 40, "\x21\x00\x07TLSv1.3", 10);
	assert_memory_equal(b + 50, "\x22\x00\x03" "dev", 6);
	assert_int_equal((b[33] << 8 | b[34]), n - 35);
}

static void
test_unverified_and_no_cert(void **state)
{
	struct sockaddr_storage src, dst;
	struct gw_proxy_info pi = { &src, &dst, 1, 0, 0, "TLSv1.2", "X", "ignored", NULL };
	unsigned char b[GW_PROXY_MAX];
	int n;

	v4(&src, "10.0.0.1", 1);
	v4(&dst, "10.0.0.2", 2);
	n = gw_proxy_v2_build(&pi, b, sizeof(b));
	assert_true(n > 0);
	assert_int_equal(b[28], 0x20);    /* no AUTHORITY without SNI */
	assert_int_equal(b[31], 0x01);    /* SSL only */
	assert_int_equal(b[35], 1);       /* verify != 0 */
	assert_null(memchr(b + 36, 0x22, (size_t)n - 36)); /* no CN without a cert */
}

static void
test_mixed_families_and_overflow(void **state)
{
	struct sockaddr_storage src, dst;
	struct gw_proxy_info pi = { &src, &dst, 0, 0, 0, NULL, NULL, NULL, NULL };
	unsigned char b[GW_PROXY_MAX];

	v4(&src, "10.0.0.1", 1);
	memset(&dst, 0, sizeof(dst));
	dst.ss_family = AF_INET6;
	assert_int_equal(gw_proxy_v2_build(&pi, b, sizeof(b)), 16);
	assert_int_equal(b[13], 0x00);    /* UNSPEC, no addresses */
	assert_int_equal(gw_proxy_v2_build(&pi, b, 10), -1);
}

static void
test_v6(void **state)
{
	struct sockaddr_storage src, dst;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&src, *d6 = (struct sockaddr_in6 *)&dst;
	struct gw_proxy_info pi = { &src, &dst, 0, 0, 0, NULL, NULL, NULL, NULL };
	unsigned char b[GW_PROXY_MAX];

	memset(&src, 0, sizeof(src));
	memset(&dst, 0, sizeof(dst));
	s6->sin6_family = d6->sin6_family = AF_INET6;
	inet_pton(AF_INET6, "2001:db8::1", &s6->sin6_addr);
	inet_pton(AF_INET6, "::1", &d6->sin6_addr);
	s6->sin6_port = htons(1234);
	d6->sin6_port = htons(443);
	assert_int_equal(gw_proxy_v2_build(&pi, b, sizeof(b)), 16 + 36);
	assert_int_equal(b[13], 0x21);
	assert_int_equal(b[14] << 8 | b[15], 36);
	assert_memory_equal(b + 16, &s6->sin6_addr, 16);
	assert_memory_equal(b + 32, &d6->sin6_addr, 16);
	assert_int_equal(b[48] << 8 | b[49], 1234);
	assert_int_equal(b[50] << 8 | b[51], 443);
}

static void
assert_text(struct gw_text t, const char *want)
{
	assert_int_equal(t.len, strlen(want));
	assert_memory_equal(t.p, want, t.len);
}

/* What the writer writes, the reader reads back. */
static void
test_read_back(void **state)
{
	struct sockaddr_storage src, dst;
	struct gw_proxy_info pi = { &src, &dst, 1, 1, 0, "TLSv1.2", "ECDHE-RSA-AES128-GCM-SHA256", "dev", "h.example" };
	unsigned char b[GW_PROXY_MAX];
	struct gw_proxy_read r;
	int n;

	v4(&src, "10.1.2.3", 40000);
	v4(&dst, "127.0.0.1", 8883);
	n = gw_proxy_v2_build(&pi, b, sizeof(b));
	assert_int_equal(gw_proxy_v2_read(b, (size_t)n, &r), n);
	assert_int_equal(r.local, 0);
	assert_int_equal(r.family, 0x11);
	assert_int_equal(r.addr_len, 4);
	assert_memory_equal(r.src, "\x0a\x01\x02\x03", 4);
	assert_memory_equal(r.dst, "\x7f\x00\x00\x01", 4);
	assert_int_equal(r.src_port, 40000);
	assert_int_equal(r.dst_port, 8883);
	assert_text(r.authority, "h.example");
	assert_int_equal(r.ssl, 1);
	assert_int_equal(r.client, 0x07);
	assert_int_equal(r.verify, 1); /* presented, not verified */
	assert_text(r.version, "TLSv1.2");
	assert_text(r.cn, "dev");
	assert_text(r.cipher, "ECDHE-RSA-AES128-GCM-SHA256");
	/* Every shorter prefix asks for more; trailing data is not the header's. */
	for (int k = 0; k < n; k++)
		assert_int_equal(gw_proxy_v2_read(b, (size_t)k, &r), 0);
	b[n] = 'x';
	assert_int_equal(gw_proxy_v2_read(b, (size_t)n + 1, &r), n);
}

static void
test_read_refusals(void **state)
{
	static const struct {
		const char *what;
		size_t len;
		const char *bytes;
	} cases[] = {
		{ "bad signature", 16, "\r\n\r\n\0\r\nQUIT\r\x21\x00\x00\x00" },
		{ "version 1", 16, "\r\n\r\n\0\r\nQUIT\n\x11\x00\x00\x00" },
		{ "command 2", 16, "\r\n\r\n\0\r\nQUIT\n\x22\x00\x00\x00" },
		{ "family 0x41", 16, "\r\n\r\n\0\r\nQUIT\n\x21\x41\x00\x00" },
		{ "IPv4 with 11 address bytes", 27, "\r\n\r\n\0\r\nQUIT\n\x21\x11\x00\x0b" "12345678901" },
		{ "TLV overruns", 20, "\r\n\r\n\0\r\nQUIT\n\x21\x00\x00\x04" "\x02\x00\x02x" },
		{ "TLV header cut", 18, "\r\n\r\n\0\r\nQUIT\n\x21\x00\x00\x02" "\x02\x00" },
		{ "SSL TLV of 4 bytes", 23, "\r\n\r\n\0\r\nQUIT\n\x21\x00\x00\x07" "\x20\x00\x04\x01\x00\x00\x00" },
		{ "SSL sub-TLV overruns", 27, "\r\n\r\n\0\r\nQUIT\n\x21\x00\x00\x0b" "\x20\x00\x08\x01\x00\x00\x00\x00\x21\x00\x05" },
	};
	struct gw_proxy_read r;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (gw_proxy_v2_read((const unsigned char *)cases[i].bytes, cases[i].len, &r) != -1)
			fail_msg("%s: not refused", cases[i].what);
	/* LOCAL, no addresses: fine. */
	assert_int_equal(gw_proxy_v2_read((const unsigned char *)"\r\n\r\n\0\r\nQUIT\n\x20\x00\x00\x00", 16, &r), 16);
	assert_int_equal(r.local, 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_v4_with_tls_tlvs),
		cmocka_unit_test(test_unverified_and_no_cert),
		cmocka_unit_test(test_mixed_families_and_overflow),
		cmocka_unit_test(test_v6),
		cmocka_unit_test(test_read_back),
		cmocka_unit_test(test_read_refusals),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
