/* The file of `cert issue --batch`: one certificate per line, read a byte at
 * a time into a bounded line, so a long line or a NUL byte is refused with
 * its line number instead of being cut where a C string would end. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "tlsgate/ca.h"

/* 1 = a line in line (NUL-terminated), 0 = end of file, -1 = refused. */
static int
read_line(tg_ca_batch *b, char *line, tg_err *err)
{
	size_t n = 0;
	int ch, nul = 0;

	while ((ch = getc(b->f)) != EOF && ch != '\n') {
		if (n == TG_CA_BATCH_LINE_MAX - 1)
			return tg_err_set(err, TG_ERR_CONFIG, "%s:%lu: line longer than %d bytes; "
			    "write one NAME [SAN...] per line", b->path, b->line + 1,
			    TG_CA_BATCH_LINE_MAX - 1);
		nul |= ch == '\0';
		line[n++] = (char)ch;
	}
	if (ferror(b->f))
		return tg_err_set(err, TG_ERR_IO, "cannot read %s: %s", b->path, strerror(errno));
	if (ch == EOF && n == 0)
		return 0;
	b->line++;
	if (nul)
		return tg_err_set(err, TG_ERR_CONFIG, "%s:%lu: holds a NUL byte: a batch file is "
		    "text, one NAME [SAN...] per line", b->path, b->line);
	line[n] = '\0';
	return 1;
}

int
tg_ca_batch_next(tg_ca_batch *b, pki_profile *p, tg_err *err)
{
	char line[TG_CA_BATCH_LINE_MAX], *save, *tok, *name;
	const char *sans[PKI_MAX_SANS];
	size_t nsans;
	int r;

	if (b->nsans > PKI_MAX_SANS)
		return tg_err_set(err, TG_ERR_USAGE, "at most %d SANs for every line", PKI_MAX_SANS);
	while ((r = read_line(b, line, err)) > 0) {
		line[strcspn(line, "#\r")] = '\0';
		save = NULL;
		if ((name = strtok_r(line, " \t", &save)) == NULL)
			continue;
		memcpy(sans, b->sans, b->nsans * sizeof(sans[0]));
		nsans = b->nsans;
		while ((tok = strtok_r(NULL, " \t", &save)) != NULL) {
			if (nsans == PKI_MAX_SANS)
				return tg_err_set(err, TG_ERR_CONFIG, "%s:%lu: too many names (at most "
				    "%d SANs)", b->path, b->line, PKI_MAX_SANS);
			sans[nsans++] = tok;
		}
		if (pki_profile_leaf(p, b->kind, name, sans, nsans, b->secs, err) != 0)
			return tg_err_prefix(err, "%s:%lu", b->path, b->line);
		return 1;
	}
	return r;
}
