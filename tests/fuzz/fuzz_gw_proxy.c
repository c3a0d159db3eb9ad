/* libFuzzer target for PROXY protocol v2: the reader on raw bytes must stay
 * inside them, and a header the writer builds from fuzzed facts (addresses
 * of either family, TLS flags, texts of any length) must read back to the
 * same facts, texts cut at 255 bytes, exactly when it fits its buffer. */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/gw.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct input {
	const uint8_t *p;
	size_t left;
};

static uint8_t
take_byte(struct input *in)
{
	uint8_t b = 0;

	if (in->left > 0) {
		b = *in->p++;
		in->left--;
	}
	return b;
}

static void
take(struct input *in, void *out, size_t n)
{
	for (size_t i = 0; i < n; i++)
		((uint8_t *)out)[i] = take_byte(in);
}

/* A text of the length the input picks (up to 300, past the 255 cut), or
 * NULL; NUL bytes inside end it early, as they would a C string. */
static char *
take_text(struct input *in, char *buf)
{
	size_t n = (size_t)take_byte(in) * 300 / 255;

	if (n == 0)
		return NULL;
	take(in, buf, n);
	buf[n] = '\0';
	return buf;
}

static void
take_addr(struct input *in, struct sockaddr_storage *ss, int v6)
{
	memset(ss, 0, sizeof(*ss));
	if (v6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
		a->sin6_family = AF_INET6;
		take(in, &a->sin6_addr, 16);
		take(in, &a->sin6_port, 2);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)ss;
		a->sin_family = AF_INET;
		take(in, &a->sin_addr, 4);
		take(in, &a->sin_port, 2);
	}
}

static size_t
text_len(const char *s)
{
	return s == NULL ? 0 : strnlen(s, 255);
}

static size_t
tlv_size(const char *s)
{
	return text_len(s) ? 3 + text_len(s) : 0;
}

static void
same_text(struct gw_text got, const char *want)
{
	if (got.len != text_len(want) || (got.len && memcmp(got.p, want, got.len) != 0))
		abort();
}

static void
same_addr(const unsigned char *got, unsigned got_port, const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const void *)ss;
		if (memcmp(got, &a->sin6_addr, 16) != 0 || got_port != ntohs(a->sin6_port))
			abort();
	} else {
		const struct sockaddr_in *a = (const void *)ss;
		if (memcmp(got, &a->sin_addr, 4) != 0 || got_port != ntohs(a->sin_port))
			abort();
	}
}

static void
round_trip(struct input *in)
{
	static char t[4][301];
	struct sockaddr_storage src, dst;
	uint8_t flags = take_byte(in);
	struct gw_proxy_info pi = { &src, &dst, flags & 1, (flags >> 1) & 1, (flags >> 2) & 1,
		NULL, NULL, NULL, NULL };
	unsigned char out[GW_PROXY_MAX];
	size_t cap = (size_t)take_byte(in) * 4 + 16, expect;
	struct gw_proxy_read r;
	int n, same;

	take_addr(in, &src, (flags >> 3) & 1);
	take_addr(in, &dst, (flags >> 4) & 1);
	pi.version = take_text(in, t[0]);
	pi.cipher = take_text(in, t[1]);
	pi.cn = take_text(in, t[2]);
	pi.sni = take_text(in, t[3]);
	same = src.ss_family == dst.ss_family;
	expect = 16 + (same ? (src.ss_family == AF_INET ? 12 : 36) : 0) + tlv_size(pi.sni);
	if (pi.tls)
		expect += 3 + 5 + tlv_size(pi.version) + (pi.cert_conn ? tlv_size(pi.cn) : 0) +
		    tlv_size(pi.cipher);
	if (cap > sizeof(out))
		cap = sizeof(out);
	n = gw_proxy_v2_build(&pi, out, cap);
	if (n < 0) {
		if (expect <= cap)
			abort(); /* it fitted, yet the writer gave up */
		return;
	}
	if ((size_t)n != expect || gw_proxy_v2_read(out, (size_t)n, &r) != n)
		abort();
	if (r.local || r.family != (same ? (src.ss_family == AF_INET ? 0x11 : 0x21) : 0x00))
		abort();
	if (same) {
		same_addr(r.src, r.src_port, &src);
		same_addr(r.dst, r.dst_port, &dst);
	}
	same_text(r.authority, pi.sni);
	if (r.ssl != pi.tls)
		abort();
	if (!pi.tls)
		return;
	if (r.client != (pi.cert_conn ? 0x07 : 0x01) || r.verify != !(pi.cert_conn && pi.cert_verified))
		abort();
	same_text(r.version, pi.version);
	same_text(r.cipher, pi.cipher);
	same_text(r.cn, pi.cert_conn ? pi.cn : NULL);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = { data + (size > 0), size - (size > 0) };
	struct gw_proxy_read r;

	if (size == 0)
		return 0;
	if (data[0] & 1) {
		/* Raw bytes for the reader, in a copy of their exact size so
		 * ASan sees any read past them. */
		unsigned char *copy = malloc(in.left ? in.left : 1);
		int n;
		memcpy(copy, in.p, in.left);
		n = gw_proxy_v2_read(copy, in.left, &r);
		if (n > (int)in.left || (n > 0 && n < 16))
			abort();
		free(copy);
	} else {
		round_trip(&in);
	}
	return 0;
}
