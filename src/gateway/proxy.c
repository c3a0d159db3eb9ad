/* PROXY protocol v2 (HAProxy's spec, section 2.2) with the TLS TLVs HAProxy
 * sends, so backends that already read HAProxy's identity read ours. */
#include <string.h>

#include "gateway/gw.h"

#define PP2_CMD_PROXY 0x21
#define PP2_FAM_UNSPEC 0x00
#define PP2_FAM_TCP4 0x11
#define PP2_FAM_TCP6 0x21
#define PP2_TYPE_AUTHORITY 0x02
#define PP2_TYPE_SSL 0x20
#define PP2_SUBTYPE_SSL_VERSION 0x21
#define PP2_SUBTYPE_SSL_CN 0x22
#define PP2_SUBTYPE_SSL_CIPHER 0x23
#define PP2_CLIENT_SSL 0x01
#define PP2_CLIENT_CERT_CONN 0x02
#define PP2_CLIENT_CERT_SESS 0x04

static const unsigned char pp2_sig[12] = {
	0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A,
};

static void
put16(struct gw_out *w, unsigned v)
{
	unsigned char b[2] = { (unsigned char)(v >> 8), (unsigned char)v };
	gw_out_add(w, b, 2);
}

static void
put_tlv(struct gw_out *w, unsigned char type, const char *s)
{
	size_t n;

	if (s == NULL || *s == '\0')
		return;
	n = strnlen(s, 255);
	gw_out_add(w, &type, 1);
	put16(w, (unsigned)n);
	gw_out_add(w, s, n);
}

static void
put_addrs(struct gw_out *w, const struct sockaddr_storage *src,
    const struct sockaddr_storage *dst)
{
	if (src->ss_family == AF_INET && dst->ss_family == AF_INET) {
		const struct sockaddr_in *s = (const void *)src, *d = (const void *)dst;
		gw_out_add(w, &s->sin_addr, 4);
		gw_out_add(w, &d->sin_addr, 4);
		gw_out_add(w, &s->sin_port, 2); /* already network order */
		gw_out_add(w, &d->sin_port, 2);
	} else if (src->ss_family == AF_INET6 && dst->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s = (const void *)src, *d = (const void *)dst;
		gw_out_add(w, &s->sin6_addr, 16);
		gw_out_add(w, &d->sin6_addr, 16);
		gw_out_add(w, &s->sin6_port, 2);
		gw_out_add(w, &d->sin6_port, 2);
	}
}

static unsigned char
family_byte(const struct gw_proxy_info *pi)
{
	if (pi->src->ss_family != pi->dst->ss_family)
		return PP2_FAM_UNSPEC;
	if (pi->src->ss_family == AF_INET)
		return PP2_FAM_TCP4;
	if (pi->src->ss_family == AF_INET6)
		return PP2_FAM_TCP6;
	return PP2_FAM_UNSPEC;
}

int
gw_proxy_v2_build(const struct gw_proxy_info *pi, unsigned char *out, size_t cap)
{
	struct gw_out w = { (char *)out, 0, cap, 0 };
	unsigned char cmd = PP2_CMD_PROXY, fam = family_byte(pi);
	size_t len_at, ssl_len_at, body_start, ssl_start;
	unsigned char client;
	unsigned char verify[4] = { 0, 0, 0, 0 };

	gw_out_add(&w, pp2_sig, sizeof(pp2_sig));
	gw_out_add(&w, &cmd, 1);
	gw_out_add(&w, &fam, 1);
	len_at = w.len;
	put16(&w, 0); /* patched below */
	body_start = w.len;
	if (fam != PP2_FAM_UNSPEC)
		put_addrs(&w, pi->src, pi->dst);
	put_tlv(&w, PP2_TYPE_AUTHORITY, pi->sni);
	if (pi->tls) {
		unsigned char t = PP2_TYPE_SSL;
		client = PP2_CLIENT_SSL;
		if (pi->cert_conn)
			client |= PP2_CLIENT_CERT_CONN | PP2_CLIENT_CERT_SESS;
		/* verify is 0 only for a presented and verified certificate. */
		if (!(pi->cert_conn && pi->cert_verified))
			verify[3] = 1;
		gw_out_add(&w, &t, 1);
		ssl_len_at = w.len;
		put16(&w, 0);
		ssl_start = w.len;
		gw_out_add(&w, &client, 1);
		gw_out_add(&w, verify, 4);
		put_tlv(&w, PP2_SUBTYPE_SSL_VERSION, pi->version);
		if (pi->cert_conn)
			put_tlv(&w, PP2_SUBTYPE_SSL_CN, pi->cn);
		put_tlv(&w, PP2_SUBTYPE_SSL_CIPHER, pi->cipher);
		if (!w.overflow) {
			size_t n = w.len - ssl_start;
			out[ssl_len_at] = (unsigned char)(n >> 8);
			out[ssl_len_at + 1] = (unsigned char)n;
		}
	}
	if (w.overflow || w.len - body_start > 0xffff)
		return -1;
	out[len_at] = (unsigned char)((w.len - body_start) >> 8);
	out[len_at + 1] = (unsigned char)(w.len - body_start);
	return (int)w.len;
}

/* --- Reading (for tests and fuzzing) --- */

static unsigned
get16(const unsigned char *p)
{
	return (unsigned)p[0] << 8 | p[1];
}

static int
read_ssl_tlv(const unsigned char *p, size_t len, struct gw_proxy_read *out)
{
	if (len < 5)
		return -1;
	out->ssl = 1;
	out->client = p[0];
	out->verify = (uint32_t)p[1] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 8 | p[4];
	for (size_t off = 5; off < len;) {
		size_t n;
		struct gw_text *t = NULL;
		if (len - off < 3 || (n = get16(p + off + 1)) > len - off - 3)
			return -1;
		if (p[off] == PP2_SUBTYPE_SSL_VERSION)
			t = &out->version;
		else if (p[off] == PP2_SUBTYPE_SSL_CN)
			t = &out->cn;
		else if (p[off] == PP2_SUBTYPE_SSL_CIPHER)
			t = &out->cipher;
		if (t != NULL)
			*t = (struct gw_text){ (const char *)p + off + 3, n };
		off += 3 + n;
	}
	return 0;
}

int
gw_proxy_v2_read(const unsigned char *in, size_t len, struct gw_proxy_read *out)
{
	static const struct {
		unsigned char family;
		size_t addr_len, block; /* address bytes, and the whole address block */
	} fams[] = {
		{ PP2_FAM_UNSPEC, 0, 0 }, { PP2_FAM_TCP4, 4, 12 }, { 0x12, 4, 12 },
		{ PP2_FAM_TCP6, 16, 36 }, { 0x22, 16, 36 }, { 0x31, 0, 216 }, { 0x32, 0, 216 },
	};
	size_t body, off, f;

	memset(out, 0, sizeof(*out));
	if (memcmp(in, pp2_sig, len < sizeof(pp2_sig) ? len : sizeof(pp2_sig)) != 0)
		return -1;
	if (len < 16)
		return 0;
	if ((in[12] & 0xf0) != 0x20 || (in[12] & 0x0f) > 1)
		return -1;
	out->local = (in[12] & 0x0f) == 0;
	for (f = 0; f < sizeof(fams) / sizeof(fams[0]) && fams[f].family != in[13]; f++)
		;
	if (f == sizeof(fams) / sizeof(fams[0]))
		return -1;
	body = get16(in + 14);
	if (body < fams[f].block)
		return -1;
	if (len < 16 + body)
		return 0;
	out->family = in[13];
	out->addr_len = fams[f].addr_len;
	if (out->addr_len > 0) {
		const unsigned char *a = in + 16;
		memcpy(out->src, a, out->addr_len);
		memcpy(out->dst, a + out->addr_len, out->addr_len);
		out->src_port = get16(a + 2 * out->addr_len);
		out->dst_port = get16(a + 2 * out->addr_len + 2);
	}
	for (off = 16 + fams[f].block; off < 16 + body;) {
		size_t n;
		if (16 + body - off < 3 || (n = get16(in + off + 1)) > 16 + body - off - 3)
			return -1;
		if (in[off] == PP2_TYPE_AUTHORITY)
			out->authority = (struct gw_text){ (const char *)in + off + 3, n };
		else if (in[off] == PP2_TYPE_SSL && read_ssl_tlv(in + off + 3, n, out) != 0)
			return -1;
		off += 3 + n;
	}
	return (int)(16 + body);
}
