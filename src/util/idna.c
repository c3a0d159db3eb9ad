/* Internationalised host names to the ASCII form certificates and SNI
 * carry: each label with a letter beyond ASCII becomes "xn--" + its
 * Punycode (RFC 3492), after lower-casing (ASCII, Latin, Greek, Cyrillic). */
#include <stdint.h>
#include <string.h>

#include "tlsgate/util.h"

enum {
	PC_BASE = 36, PC_TMIN = 1, PC_TMAX = 26, PC_SKEW = 38, PC_DAMP = 700,
	PC_BIAS = 72, PC_N = 128,
};

#define LABEL_MAX 63

/* One code point from UTF-8 at *p (strict: no overlong forms, surrogates
 * or values past U+10FFFF); 0 on a bad sequence. */
static uint32_t
utf8_next(const unsigned char **p, const unsigned char *end)
{
	const unsigned char *s = *p;
	uint32_t c, min;
	int more;

	if (s[0] < 0x80) {
		*p = s + 1;
		return s[0];
	}
	if ((s[0] & 0xe0) == 0xc0) {
		c = s[0] & 0x1f, more = 1, min = 0x80;
	} else if ((s[0] & 0xf0) == 0xe0) {
		c = s[0] & 0x0f, more = 2, min = 0x800;
	} else if ((s[0] & 0xf8) == 0xf0) {
		c = s[0] & 0x07, more = 3, min = 0x10000;
	} else {
		return 0;
	}
	if (end - s <= more)
		return 0;
	for (int i = 1; i <= more; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*p = s + more + 1;
	return c;
}

/* Lower case, as lookups map names before encoding (UTS #46): ASCII, and
 * the capitals of Latin-1, Latin Extended-A, Greek and Cyrillic. Other
 * scripts are taken as written. */
static uint32_t
fold(uint32_t c)
{
	if (c >= 'A' && c <= 'Z')
		return c + 0x20;
	if (c >= 0xc0 && c <= 0xde && c != 0xd7)
		return c + 0x20;
	if ((c >= 0x100 && c <= 0x137) || (c >= 0x14a && c <= 0x177))
		return c | 1;
	if (((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17e)) && (c & 1))
		return c + 1;
	if (c == 0x178)
		return 0xff;
	if (c >= 0x391 && c <= 0x3a9 && c != 0x3a2)
		return c + 0x20;
	if (c >= 0x410 && c <= 0x42f)
		return c + 0x20;
	if (c >= 0x400 && c <= 0x40f)
		return c + 0x50;
	return c;
}

static uint32_t
adapt(uint32_t delta, uint32_t points, int first)
{
	uint32_t k = 0;

	delta = first ? delta / PC_DAMP : delta / 2;
	delta += delta / points;
	while (delta > ((PC_BASE - PC_TMIN) * PC_TMAX) / 2) {
		delta /= PC_BASE - PC_TMIN;
		k += PC_BASE;
	}
	return k + (PC_BASE - PC_TMIN + 1) * delta / (delta + PC_SKEW);
}

static char
digit(uint32_t d)
{
	return (char)(d < 26 ? 'a' + d : '0' + d - 26);
}

/* RFC 3492 section 6.3 over cp[0..n): the label's Punycode after "xn--".
 * Returns its length, or 0 when it does not fit in room. */
static size_t
punycode(const uint32_t *cp, size_t n, char *out, size_t room)
{
	uint32_t next = PC_N, delta = 0, bias = PC_BIAS;
	size_t o = 0, h, b = 0;

	for (size_t i = 0; i < n; i++)
		if (cp[i] < 0x80) {
			if (o + 1 >= room)
				return 0;
			out[o++] = (char)cp[i];
			b++;
		}
	if (b > 0) {
		if (o + 1 >= room)
			return 0;
		out[o++] = '-';
	}
	for (h = b; h < n;) {
		uint32_t m = UINT32_MAX;
		for (size_t i = 0; i < n; i++)
			if (cp[i] >= next && cp[i] < m)
				m = cp[i];
		if ((m - next) > (UINT32_MAX - delta) / (h + 1))
			return 0;
		delta += (m - next) * (uint32_t)(h + 1);
		next = m;
		for (size_t i = 0; i < n; i++) {
			if (cp[i] < next && ++delta == 0)
				return 0;
			if (cp[i] != next)
				continue;
			uint32_t q = delta;
			for (uint32_t k = PC_BASE;; k += PC_BASE) {
				uint32_t t = k <= bias ? PC_TMIN : k >= bias + PC_TMAX ? PC_TMAX : k - bias;
				if (q < t)
					break;
				if (o + 1 >= room)
					return 0;
				out[o++] = digit(t + (q - t) % (PC_BASE - t));
				q = (q - t) / (PC_BASE - t);
			}
			if (o + 1 >= room)
				return 0;
			out[o++] = digit(q);
			bias = adapt(delta, (uint32_t)h + 1, h == b);
			delta = 0;
			h++;
		}
		delta++;
		next++;
	}
	return o;
}

int
util_idna_to_ascii(const char *name, char *out, size_t len, tg_err *err)
{
	const unsigned char *p = (const unsigned char *)name, *end = p + strlen(name);
	size_t o = 0;

	while (p <= end) {
		const unsigned char *label = p;
		uint32_t cp[LABEL_MAX + 1];
		size_t n = 0, wide = 0;
		char ascii[LABEL_MAX + 1];
		size_t alen;

		/* The label's code points, ASCII letters lower-cased. */
		while (p < end && *p != '.') {
			uint32_t c = utf8_next(&p, end);
			if (c == 0)
				return tg_err_set(err, TG_ERR_USAGE, "'%s' is not valid UTF-8 (byte %zu)",
				    name, (size_t)(p - (const unsigned char *)name) + 1);
			if (n == LABEL_MAX)
				return tg_err_set(err, TG_ERR_USAGE, "'%s': the label '%.*s' is longer "
				    "than 63 characters", name, (int)(p - label), (const char *)label);
			cp[n++] = fold(c);
			wide += c >= 0x80;
		}
		if (wide == 0) {
			alen = n;
			for (size_t i = 0; i < n; i++)
				ascii[i] = (char)cp[i];
		} else {
			memcpy(ascii, "xn--", 4);
			alen = punycode(cp, n, ascii + 4, sizeof(ascii) - 4);
			if (alen == 0)
				return tg_err_set(err, TG_ERR_USAGE, "'%s': the label '%.*s' is longer "
				    "than 63 characters once encoded for DNS (xn--...)", name,
				    (int)(p - label), (const char *)label);
			alen += 4;
		}
		if (o + alen + 2 > len)
			return tg_err_set(err, TG_ERR_USAGE, "'%s' is too long for a host name", name);
		memcpy(out + o, ascii, alen);
		o += alen;
		if (p == end)
			break;
		out[o++] = '.';
		p++;
	}
	out[o] = '\0';
	return 0;
}

int
util_is_ascii(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s >= 0x80)
			return 0;
	return 1;
}
