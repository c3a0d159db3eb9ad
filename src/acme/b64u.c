/* Unpadded base64url (RFC 7515 2, RFC 4648 5), strict: one spelling per
 * byte string, so two different texts never decode to the same bytes. */
#include <stdlib.h>

#include "acme/acme_proto.h"

static const char alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* The value of one character, or -1 outside the alphabet. */
static int
val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

int
acme_b64u_decode(const char *in, size_t len, unsigned char **out, size_t *outlen)
{
	const unsigned char *s = (const unsigned char *)in;
	unsigned char *buf;
	uint32_t acc = 0;
	size_t i, n = 0;
	int bits = 0, v;

	*out = NULL;
	*outlen = 0;
	/* One character left over carries 6 bits: not even one byte. */
	if (len % 4 == 1 || (in == NULL && len > 0))
		return -1;
	buf = malloc(len / 4 * 3 + 3);
	if (buf == NULL)
		return -1;
	for (i = 0; i < len; i++) {
		if ((v = val(s[i])) < 0)
			goto bad;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			buf[n++] = (unsigned char)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	/* The bits after the last byte must be zero (RFC 4648 3.5). */
	if (acc != 0)
		goto bad;
	buf[n] = '\0';
	*out = buf;
	*outlen = n;
	return 0;
bad:
	free(buf);
	return -1;
}

char *
acme_b64u_encode(const unsigned char *in, size_t len)
{
	char *out = malloc(len / 3 * 4 + 4);
	size_t i, n = 0;
	uint32_t v;

	if (out == NULL)
		return NULL;
	for (i = 0; i + 2 < len; i += 3) {
		v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
		out[n++] = alphabet[v >> 18];
		out[n++] = alphabet[(v >> 12) & 63];
		out[n++] = alphabet[(v >> 6) & 63];
		out[n++] = alphabet[v & 63];
	}
	if (len - i == 1) {
		v = (uint32_t)in[i] << 16;
		out[n++] = alphabet[v >> 18];
		out[n++] = alphabet[(v >> 12) & 63];
	} else if (len - i == 2) {
		v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
		out[n++] = alphabet[v >> 18];
		out[n++] = alphabet[(v >> 12) & 63];
		out[n++] = alphabet[(v >> 6) & 63];
	}
	out[n] = '\0';
	return out;
}
