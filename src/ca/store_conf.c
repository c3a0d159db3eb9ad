/* DIR/store.conf names an inventory that lives outside DIR: comment lines
 * and one `url = URL` line. Read by hand rather than with inih, whose lines
 * stop at 200 bytes: a connection URL with sslrootcert paths is longer.
 * Lines are cut by length, not as C strings, so a line number is the line's
 * own and a NUL byte is refused rather than ending the file early. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "ca/ca_int.h"

int
ca_store_conf_text(char *buf, size_t len, const char *url, tg_err *err)
{
	int n = snprintf(buf, len,
	    "# The inventory of this CA, written by `tlsgate ca init --store` or\n"
	    "# `tlsgate ca store --move-to`.\n"
	    "# Never put a password here: libpq reads it from ~/.pgpass or PGPASSWORD.\n"
	    "url = %s\n", url);

	if (n < 0 || (size_t)n >= len)
		return tg_err_set(err, TG_ERR_USAGE, "store URL too long (at most %d bytes)",
		    STORE_URL_MAX - 1);
	return n;
}

static int
is_blank(char ch)
{
	return ch == ' ' || ch == '\t';
}

/* One line, p[0..n): 1 = the url line (copied to url), 0 = blank or
 * comment, -1 = anything else. */
static int
conf_line(const char *p, size_t n, char *url, size_t len)
{
	while (n > 0 && is_blank(*p))
		p++, n--;
	while (n > 0 && isspace((unsigned char)p[n - 1]))
		n--;
	if (n == 0 || *p == '#')
		return 0;
	if (n < 3 || memcmp(p, "url", 3) != 0)
		return -1;
	for (p += 3, n -= 3; n > 0 && is_blank(*p); p++, n--)
		;
	if (n == 0 || *p != '=')
		return -1;
	for (p++, n--; n > 0 && is_blank(*p); p++, n--)
		;
	if (n == 0 || n >= len || memchr(p, '\0', n) != NULL)
		return -1;
	memcpy(url, p, n);
	url[n] = '\0';
	return 1;
}

int
ca_store_conf_parse(const char *name, const char *text, size_t tlen, char *url, size_t len,
    tg_err *err)
{
	const char *p = text, *end = text + tlen;
	unsigned long lineno = 0;
	int got = 0;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);
		int r = conf_line(p, n, url, len);

		lineno++;
		if (r < 0 || (r == 1 && got))
			return tg_err_set(err, TG_ERR_CONFIG, "%s, line %lu: expected one `url = URL` "
			    "line (and # comments); fix the file, or recreate it as `tlsgate ca init "
			    "--store` wrote it", name, lineno);
		got |= r;
		p += n + (nl != NULL);
	}
	if (!got)
		return tg_err_set(err, TG_ERR_CONFIG, "%s has no `url = URL` line; add the "
		    "inventory's URL", name);
	return 0;
}

int
ca_store_conf_read(const char *path, char *url, size_t len, tg_err *err)
{
	unsigned char *data = NULL;
	size_t dlen;
	int rc;

	if (util_read_file(path, &data, &dlen, err) != 0)
		return -1;
	rc = ca_store_conf_parse(path, (const char *)data, dlen, url, len, err);
	free(data);
	return rc;
}
