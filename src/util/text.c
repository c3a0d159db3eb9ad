/* Text from outside on the way to a terminal. */
#include "tlsgate/util.h"

#include <stdio.h>
#include <string.h>

/* Length of the well-formed UTF-8 sequence at s that is not a C1 control
 * (U+0080..U+009F), or 0. */
static size_t
utf8_len(const unsigned char *s)
{
	size_t n;
	unsigned cp;

	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2, cp = s[0] & 0x1fu;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3, cp = s[0] & 0x0fu;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4, cp = s[0] & 0x07u;
	else
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3fu);
	}
	/* Overlong forms, surrogates, beyond U+10FFFF, C1 controls. */
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10ffff ||
	    (cp >= 0xd800 && cp <= 0xdfff) || (cp >= 0x80 && cp <= 0x9f))
		return 0;
	return n;
}

const char *
util_escape(const char *in, char *out, size_t outlen)
{
	const unsigned char *s = (const unsigned char *)in;
	size_t used = 0;

	if (outlen == 0)
		return out;
	while (*s != '\0') {
		size_t n = 1;
		if (*s >= 0x20 && *s < 0x7f) {
			if (used + 1 >= outlen)
				break;
			out[used++] = (char)*s;
		} else if (*s >= 0x80 && (n = utf8_len(s)) > 0) {
			if (used + n >= outlen)
				break;
			memcpy(out + used, s, n);
			used += n;
		} else {
			n = 1;
			if (used + 4 >= outlen)
				break;
			snprintf(out + used, 5, "\\x%02X", *s);
			used += 4;
		}
		s += n;
	}
	out[used] = '\0';
	return out;
}

long
util_find_control(const void *s, size_t len)
{
	const unsigned char *p = s;

	for (size_t i = 0; i < len; i++)
		if (p[i] < 0x20 || p[i] == 0x7f ||
		    (p[i] == 0xc2 && i + 1 < len && p[i + 1] >= 0x80 && p[i + 1] <= 0x9f))
			return (long)i;
	return -1;
}
