/* DIR/ca.conf: what the CA puts into what it signs, beyond each profile.
 * `key = value` lines and # comments; today the CRL distribution points:
 *   crl-url = URL        the issuing CA's CRL, put into every leaf
 *   root-crl-url = URL   the root's CRL, put into the intermediate
 * Written by `ca init` and `ca set` (the whole file, atomically), read by
 * every command that opens the CA. A line it does not know is refused,
 * naming the file and line, rather than ignored. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ca_int.h"

#define CA_SETTINGS "ca.conf"

/* One list of URLs and its key. */
static struct ca_url_list *
list_of(struct ca_settings *s, const char *key)
{
	if (strcmp(key, "crl-url") == 0)
		return &s->leaf;
	if (strcmp(key, "root-crl-url") == 0)
		return &s->root;
	return NULL;
}

int
ca_url_list_add(struct ca_url_list *l, const char *url, const char *what, tg_err *err)
{
	if (pki_crl_url_check(url, err) != 0)
		return tg_err_prefix(err, "%s", what);
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->url[i], url) == 0)
			return 0;
	if (l->n == PKI_MAX_CRL_URLS)
		return tg_err_set(err, TG_ERR_USAGE, "%s: at most %d URLs", what, PKI_MAX_CRL_URLS);
	snprintf(l->url[l->n], sizeof(l->url[l->n]), "%s", url);
	l->ptr[l->n] = l->url[l->n];
	l->n++;
	return 0;
}

int
ca_settings_path(const char *dir, char *path, size_t len, tg_err *err)
{
	return util_path_join(path, len, dir, CA_SETTINGS, err);
}

static int
parse_line(struct ca_settings *s, char *line, const char *path, int lineno, tg_err *err)
{
	char *p = line, *eq, *end;
	struct ca_url_list *l;

	while (*p == ' ' || *p == '\t')
		p++;
	if (*p == '\0' || *p == '#')
		return 0;
	if ((eq = strchr(p, '=')) == NULL)
		return tg_err_set(err, TG_ERR_CONFIG, "%s, line %d: expected `key = value`", path,
		    lineno);
	for (end = eq; end > p && (end[-1] == ' ' || end[-1] == '\t'); end--)
		;
	*end = '\0';
	for (eq++; *eq == ' ' || *eq == '\t'; eq++)
		;
	for (end = eq + strlen(eq); end > eq && (end[-1] == ' ' || end[-1] == '\t' ||
	    end[-1] == '\r'); end--)
		;
	*end = '\0';
	if ((l = list_of(s, p)) == NULL)
		return tg_err_set(err, TG_ERR_CONFIG, "%s, line %d: unknown setting '%s' (known: "
		    "crl-url, root-crl-url); fix the file or set it again with `tlsgate ca set`",
		    path, lineno, p);
	if (ca_url_list_add(l, eq, p, err) != 0)
		return tg_err_prefix(err, "%s, line %d", path, lineno);
	return 0;
}

int
ca_settings_parse(const char *path, const char *data, size_t len, struct ca_settings *s,
    tg_err *err)
{
	char *copy, *line, *save = NULL;
	const char *nul = memchr(data, '\0', len);
	int lineno = 0, rc = 0;

	memset(s, 0, sizeof(*s));
	/* A NUL would end the text there, and the lines after it would be
	 * ignored without a word: the file is not text. */
	if (nul != NULL) {
		for (const char *c = data; c < nul; c++)
			lineno += *c == '\n';
		return tg_err_set(err, TG_ERR_CONFIG, "%s, line %d: a NUL byte; the file must be "
		    "text (set the URLs again with `tlsgate ca set`)", path, lineno + 1);
	}
	if ((copy = malloc(len + 1)) == NULL)
		return tg_err_set(err, TG_ERR_INTERNAL, "out of memory reading %s", path);
	memcpy(copy, data, len);
	copy[len] = '\0';
	/* Counting every line, blank ones too, so the numbers match an editor's. */
	for (line = copy; rc == 0 && line != NULL; line = save) {
		save = strchr(line, '\n');
		if (save != NULL)
			*save++ = '\0';
		rc = parse_line(s, line, path, ++lineno, err);
	}
	free(copy);
	return rc;
}

int
ca_settings_read(const char *dir, struct ca_settings *s, tg_err *err)
{
	char path[PATH_MAX];
	unsigned char *data = NULL;
	size_t len;
	int rc;

	memset(s, 0, sizeof(*s));
	if (ca_settings_path(dir, path, sizeof(path), err) != 0)
		return -1;
	if (!util_exists(path))
		return 0;
	if (util_read_file(path, &data, &len, err) != 0)
		return -1;
	rc = ca_settings_parse(path, (const char *)data, len, s, err);
	free(data);
	return rc;
}

int
ca_settings_text(const struct ca_settings *s, char *buf, size_t len, tg_err *err)
{
	const struct {
		const char *key;
		const struct ca_url_list *l;
	} lists[] = { { "crl-url", &s->leaf }, { "root-crl-url", &s->root } };
	int n = snprintf(buf, len, "# Settings of this CA, written by `tlsgate ca init` and "
	    "`tlsgate ca set`.\n# crl-url: the issuing CA's CRL, put into every certificate "
	    "it issues;\n# root-crl-url: the root's CRL, put into the intermediate.\n");

	for (size_t k = 0; k < sizeof(lists) / sizeof(lists[0]); k++)
		for (size_t i = 0; i < lists[k].l->n && n >= 0 && (size_t)n < len; i++)
			n += snprintf(buf + n, len - (size_t)n, "%s = %s\n", lists[k].key,
			    lists[k].l->url[i]);
	if (n < 0 || (size_t)n >= len)
		return tg_err_set(err, TG_ERR_INTERNAL, "CA settings do not fit %zu bytes", len);
	return n;
}
