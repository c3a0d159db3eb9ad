/* libFuzzer target for a CA directory's store.conf (the URL of its
 * inventory), read as every command that opens the CA reads it: either one
 * URL comes back (NUL-terminated, one line, then checked as `ca init
 * --store` checks a URL) or a refusal naming the line; never past its
 * buffers, without leaks. What the writer writes reads back the same. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ca/ca_int.h"
#include "tlsgate/store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char url[STORE_URL_MAX], again[STORE_URL_MAX], text[STORE_URL_MAX + 256];
	tg_err err;
	int n;

	tg_err_clear(&err);
	if (ca_store_conf_parse("store.conf", (const char *)data, size, url, sizeof(url), &err) != 0) {
		if (strncmp(err.msg, "store.conf", 10) != 0)
			abort(); /* a refusal names the file */
		return 0;
	}
	if (url[0] == '\0' || strlen(url) >= sizeof(url) || strpbrk(url, "\n") != NULL)
		abort();
	tg_err_clear(&err);
	if (store_check_url(url, &err) != 0 && err.msg[0] == '\0')
		abort();
	/* The writer's text for this URL reads back as the same URL. */
	if ((n = ca_store_conf_text(text, sizeof(text), url, &err)) < 0)
		return 0;
	if (ca_store_conf_parse("store.conf", text, (size_t)n, again, sizeof(again), &err) != 0 ||
	    strcmp(again, url) != 0)
		abort();
	return 0;
}
