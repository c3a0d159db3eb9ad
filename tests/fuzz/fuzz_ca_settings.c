/* libFuzzer target for a CA directory's ca.conf (its CRL URLs), read as
 * every command that opens the CA reads it (ca_settings_parse). Checked:
 * a refusal names the file and a line; a file with a NUL byte is refused
 * (the lines after it would otherwise be dropped unread); every URL taken
 * is one token without spaces or control characters; what the writer
 * writes of the settings reads back to the same settings and the same
 * text. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ca/ca_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_urls(const struct ca_url_list *l)
{
	if (l->n > PKI_MAX_CRL_URLS)
		abort();
	for (size_t i = 0; i < l->n; i++) {
		if (l->ptr[i] != l->url[i] || l->url[i][0] == '\0')
			abort();
		for (const unsigned char *c = (const unsigned char *)l->url[i]; *c != '\0'; c++)
			if (*c <= 0x20 || *c == 0x7f)
				abort();
		for (size_t j = 0; j < i; j++)
			if (strcmp(l->url[i], l->url[j]) == 0)
				abort(); /* kept once */
	}
}

static int
same(const struct ca_url_list *a, const struct ca_url_list *b)
{
	if (a->n != b->n)
		return 0;
	for (size_t i = 0; i < a->n; i++)
		if (strcmp(a->url[i], b->url[i]) != 0)
			return 0;
	return 1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ca_settings s, back;
	static char text[CA_SETTINGS_TEXT_MAX], again[CA_SETTINGS_TEXT_MAX];
	tg_err err;
	int n, m;

	tg_err_clear(&err);
	if (ca_settings_parse("ca.conf", (const char *)data, size, &s, &err) != 0) {
		if (strncmp(err.msg, "ca.conf, line ", 14) != 0)
			abort(); /* a refusal names the file and the line */
		return 0;
	}
	if (memchr(data, '\0', size) != NULL)
		abort();
	check_urls(&s.leaf);
	check_urls(&s.root);
	if ((n = ca_settings_text(&s, text, sizeof(text), &err)) < 0)
		abort();
	if (ca_settings_parse("ca.conf", text, (size_t)n, &back, &err) != 0 ||
	    !same(&s.leaf, &back.leaf) || !same(&s.root, &back.root))
		abort();
	if ((m = ca_settings_text(&back, again, sizeof(again), &err)) != n ||
	    memcmp(text, again, (size_t)n) != 0)
		abort();
	return 0;
}
