/* libFuzzer target for the name and duration parsers that take typed-in or
 * file text: pki_san_parse (and a leaf profile built from the text),
 * util_idna_to_ascii and util_parse_duration, on the input as a C string.
 * Besides staying inside their buffers: an accepted SAN formats and parses
 * back to itself; an IDNA result is ASCII, lower case, and its own result;
 * a duration is not negative. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tlsgate/pki.h"
#include "tlsgate/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
san(const char *s)
{
	pki_san a, b;
	char text[PKI_NAME_MAX + 16];
	tg_err err;

	tg_err_clear(&err);
	if (pki_san_parse(s, &a, &err) != 0) {
		if (err.msg[0] == '\0')
			abort();
		return;
	}
	if (memchr(a.value, '\0', sizeof(a.value)) == NULL || a.value[0] == '\0')
		abort();
	if (a.type == PKI_SAN_IP && a.iplen != 4 && a.iplen != 16)
		abort();
	pki_san_format(&a, text, sizeof(text));
	if (pki_san_parse(text, &b, &err) != 0 || b.type != a.type || strcmp(a.value, b.value) != 0)
		abort();
}

static void
idna(const char *s)
{
	char out[PKI_NAME_MAX], again[PKI_NAME_MAX];
	tg_err err;

	tg_err_clear(&err);
	if (util_idna_to_ascii(s, out, sizeof(out), &err) != 0) {
		if (err.msg[0] == '\0')
			abort();
		return;
	}
	for (const char *p = out; *p != '\0'; p++)
		if ((unsigned char)*p >= 0x80 || (*p >= 'A' && *p <= 'Z'))
			abort();
	if (util_idna_to_ascii(out, again, sizeof(again), &err) != 0 || strcmp(out, again) != 0)
		abort();
}

static void
leaf(const char *s)
{
	static pki_profile p; /* 17 KB */
	tg_err err;

	tg_err_clear(&err);
	if (pki_profile_leaf(&p, PKI_PROFILE_SERVER, s, NULL, 0, 86400, &err) != 0 &&
	    err.msg[0] == '\0')
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	int64_t secs;
	tg_err err;

	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	san(s);
	idna(s);
	leaf(s);
	tg_err_clear(&err);
	if (util_parse_duration(s, &secs, &err) == 0 && secs < 0)
		abort();
	free(s);
	return 0;
}
