/* What the command tables say, for other programs: `tlsgate __complete`
 * (the words bash completion offers) and `tlsgate __man DIR` (one manual
 * page per command, built from the help texts). Both read the same tables
 * and option arrays the commands run with, so neither can fall behind. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "tlsgate/util.h"

#ifndef TLSGATE_VERSION
#define TLSGATE_VERSION "0.0.0"
#endif

static int listing;

int
cli_doc_options(const struct option *opts)
{
	if (!listing)
		return 0;
	for (const struct option *o = opts; o->name != NULL; o++)
		printf("--%s%s\n", o->name, o->has_arg == no_argument ? "" : "=");
	puts("--help");
	return 1;
}

/* Runs a leaf with no arguments in listing mode: its first cli_getopt call
 * prints the options and stops it (a usage return, ignored here). */
static void
list_options(const struct cli_cmd *leaf)
{
	char *argv[] = { (char *)leaf->name, NULL };

	listing = 1;
	(void)leaf->run(1, argv);
	listing = 0;
}

/* tlsgate __complete [CMD [SUB]]: the commands, CMD's subcommands, or the
 * options of a leaf, one a line; an option that takes a value ends in '='. */
int
cli_doc_complete(int argc, char **argv, const struct cli_cmd *top)
{
	const struct cli_cmd *c, *s;

	if (argc < 2) {
		for (c = top; c->name != NULL; c++)
			puts(c->name);
		puts("help");
		return 0;
	}
	if ((c = cli_find(top, argv[1])) == NULL)
		return 0;
	if (c->subs == NULL) {
		list_options(c);
		return 0;
	}
	if (argc < 3) {
		for (s = c->subs; s->name != NULL; s++)
			puts(s->name);
		return 0;
	}
	if ((s = cli_find(c->subs, argv[2])) != NULL)
		list_options(s);
	return 0;
}

/* --- Manual pages --- */

/* One line of help text as roff: backslashes and minus signs escaped, a
 * leading dot or quote made literal. */
static void
roff_line(FILE *f, const char *s, size_t n)
{
	if (n > 0 && (s[0] == '.' || s[0] == '\''))
		fputs("\\&", f);
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\\')
			fputs("\\e", f);
		else if (s[i] == '-')
			fputs("\\-", f);
		else
			fputc(s[i], f);
	}
	fputc('\n', f);
}

/* The help text's first paragraph is its usage ("Usage: tlsgate ..." and
 * continuation lines); writes it (synopsis) or the rest (body). */
static void
roff_help(FILE *f, const char *help, int synopsis)
{
	const char *p = help, *nl;
	int in_usage = strncmp(help, "Usage: ", 7) == 0;

	fputs(".nf\n", f);
	for (; *p != '\0'; p = nl + 1) {
		size_t n, skip = 0;

		nl = strchr(p, '\n');
		if (nl == NULL)
			nl = p + strlen(p);
		n = (size_t)(nl - p);
		if (in_usage && n == 0) {
			in_usage = 0;
			if (*nl == '\0')
				break;
			continue;
		}
		if (in_usage == synopsis) {
			/* "Usage: " goes, and as much indentation under it. */
			if (synopsis && strncmp(p, "Usage: ", 7) == 0)
				skip = 7;
			while (synopsis && skip < 7 && skip < n && p[skip] == ' ')
				skip++;
			roff_line(f, p + skip, n - skip);
		}
		if (*nl == '\0')
			break;
	}
	fputs(".fi\n", f);
}

static void
roff_escaped(FILE *f, const char *s)
{
	roff_line(f, s, strlen(s));
}

static int
write_page(const char *dir, const struct cli_cmd *top, const struct cli_cmd *c, tg_err *err)
{
	char path[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof(path), "%s/tlsgate-%s.1", dir, c->name);
	if ((f = fopen(path, "w")) == NULL)
		return tg_err_set(err, TG_ERR_IO, "cannot write %s: %s", path, strerror(errno));
	fprintf(f, ".\\\" Made by `tlsgate __man` from the command's help text; edit that.\n");
	fputs(".TH TLSGATE\\-", f);
	for (const char *p = c->name; *p != '\0'; p++)
		fputc(toupper((unsigned char)*p), f);
	fprintf(f, " 1 \"\" \"tlsgate %s\" \"User Commands\"\n.SH NAME\n", TLSGATE_VERSION);
	fprintf(f, "tlsgate\\-%s \\- ", c->name);
	roff_escaped(f, c->summary);
	fputs(".SH SYNOPSIS\n", f);
	if (c->subs == NULL) {
		roff_help(f, c->help, 1);
		fputs(".SH DESCRIPTION\n", f);
		roff_help(f, c->help, 0);
	} else {
		for (const struct cli_cmd *s = c->subs; s->name != NULL; s++)
			roff_help(f, cli_find(c->subs, s->name)->help, 1);
		fputs(".SH DESCRIPTION\n", f);
		for (const struct cli_cmd *s = c->subs; s->name != NULL; s++) {
			fprintf(f, ".SS \"tlsgate %s %s\"\n", c->name, s->name);
			roff_escaped(f, s->summary);
			fputs(".PP\n", f);
			roff_help(f, cli_find(c->subs, s->name)->help, 0);
		}
	}
	fputs(".SH SEE ALSO\n.BR tlsgate (1)", f);
	for (const struct cli_cmd *o = top; o->name != NULL; o++)
		if (o != c)
			fprintf(f, ",\n.BR tlsgate\\-%s (1)", o->name);
	fputs("\n", f);
	if (fclose(f) != 0)
		return tg_err_set(err, TG_ERR_IO, "cannot write %s: %s", path, strerror(errno));
	return 0;
}

/* tlsgate __man DIR: DIR/tlsgate-CMD.1 for every command. */
int
cli_doc_man(int argc, char **argv, const struct cli_cmd *top)
{
	tg_err err = { 0 };

	if (argc != 2)
		return cli_usage(NULL, "__man needs the directory to write the pages into");
	for (const struct cli_cmd *c = top; c->name != NULL; c++)
		if (write_page(argv[1], top, cli_find(top, c->name), &err) != 0)
			return cli_fail(&err);
	return 0;
}
