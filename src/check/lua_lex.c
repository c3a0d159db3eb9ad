/* Lua lexer (chk_lua.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check/chk_lua.h"

int
chk_file_error(tg_err *err, const char *file, unsigned line, const char *fmt, ...)
{
	char msg[TG_ERR_MSG_MAX - 300];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return tg_err_set(err, TG_ERR_USAGE, "%.250s:%u: %s", file, line, msg);
}

struct lexer {
	const char *file;
	const char *p, *end;
	unsigned line;
	struct tok *toks;
	size_t n, cap;
	tg_err *err;
};

static const char equals[] = "================";

static int
tok_push(struct lexer *lx, enum tok_type type, const char *p, size_t n, unsigned line)
{
	if (lx->n == lx->cap) {
		size_t ncap = lx->cap ? lx->cap * 2 : 256;
		struct tok *t = realloc(lx->toks, ncap * sizeof(*t));
		if (t == NULL)
			return tg_err_set(lx->err, TG_ERR_INTERNAL, "out of memory reading %s", lx->file);
		lx->toks = t;
		lx->cap = ncap;
	}
	lx->toks[lx->n++] = (struct tok){ type, p, n, NULL, 0, line };
	return 0;
}

void
chk_lua_free(struct tok *t, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(t[i].s);
	free(t);
}

/* At '[': the level of a long bracket "[==[" (the number of '='), or -1. */
static int
long_level(const char *p, const char *end)
{
	const char *q = p + 1;

	while (q < end && *q == '=')
		q++;
	return q < end && *q == '[' ? (int)(q - p - 1) : -1;
}

/* At ']': whether it closes a long bracket of the given level. */
static int
long_close(const char *p, const char *end, int level)
{
	if (end - p < level + 2)
		return 0;
	for (int k = 1; k <= level; k++)
		if (p[k] != '=')
			return 0;
	return p[level + 1] == ']';
}

/* Skips a long bracket of the given level starting at lx->p ('['); the body
 * (without a first newline, as Lua reads it) goes to body/blen. */
static int
lex_long(struct lexer *lx, int level, const char *what, const char **body, size_t *blen)
{
	unsigned start = lx->line;
	int shown = level < (int)sizeof(equals) - 1 ? level : (int)sizeof(equals) - 1;

	lx->p += level + 2;
	if (lx->p < lx->end && (*lx->p == '\r' || *lx->p == '\n')) {
		char first = *lx->p++;
		if (lx->p < lx->end && (*lx->p == '\r' || *lx->p == '\n') && *lx->p != first)
			lx->p++;
		lx->line++;
	}
	*body = lx->p;
	for (; lx->p < lx->end; lx->p++) {
		if (*lx->p == '\n') {
			lx->line++;
		} else if (*lx->p == ']' && long_close(lx->p, lx->end, level)) {
			*blen = (size_t)(lx->p - *body);
			lx->p += level + 2;
			return 0;
		}
	}
	return chk_file_error(lx->err, lx->file, start, "the %s opened here with [%.*s[ is never "
	    "closed; add ]%.*s] where it ends (Prosody cannot load this file either)", what,
	    shown, equals, shown, equals);
}

static int
hexval(int ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

static size_t
utf8_put(char *out, unsigned long cp)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | (cp >> 12));
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | (cp >> 18));
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* One escape after '\' (lx->p points past the backslash); appends to out. */
static int
lex_escape(struct lexer *lx, char *out, size_t *n, unsigned start)
{
	static const char simple[] = "a\ab\bf\fn\nr\rt\tv\v\\\\\"\"''";
	char e = *lx->p++;
	const char *hit = strchr(simple, e);
	unsigned long v = 0;
	int digits = 0, h;

	if (e != '\0' && hit != NULL && (hit - simple) % 2 == 0) {
		out[(*n)++] = hit[1];
	} else if (e == '\n' || e == '\r') {
		out[(*n)++] = '\n';
		lx->line += e == '\n';
		if (lx->p < lx->end && (*lx->p == '\n' || *lx->p == '\r') && *lx->p != e)
			lx->line += *lx->p++ == '\n';
	} else if (e == 'z') {
		for (; lx->p < lx->end && strchr(" \t\r\n\f\v", *lx->p) != NULL; lx->p++)
			lx->line += *lx->p == '\n';
	} else if (e == 'x') {
		for (; digits < 2 && lx->p < lx->end && (h = hexval(*lx->p)) >= 0; digits++, lx->p++)
			v = v * 16 + (unsigned long)h;
		if (digits != 2)
			return chk_file_error(lx->err, lx->file, start, "\\x in a string needs two hex digits");
		out[(*n)++] = (char)v;
	} else if (e >= '0' && e <= '9') {
		v = (unsigned long)(e - '0');
		for (digits = 1; digits < 3 && lx->p < lx->end && *lx->p >= '0' && *lx->p <= '9'; digits++)
			v = v * 10 + (unsigned long)(*lx->p++ - '0');
		if (v > 255)
			return chk_file_error(lx->err, lx->file, start, "decimal escape \\%lu in a string is "
			    "larger than 255", v);
		out[(*n)++] = (char)v;
	} else if (e == 'u' && lx->p < lx->end && *lx->p == '{') {
		for (lx->p++; lx->p < lx->end && (h = hexval(*lx->p)) >= 0 && v <= 0x7ffffff; lx->p++)
			v = v * 16 + (unsigned long)h, digits++;
		if (digits == 0 || lx->p >= lx->end || *lx->p != '}' || v > 0x10ffff)
			return chk_file_error(lx->err, lx->file, start, "\\u{...} in a string needs "
			    "hex digits for a code point up to 10FFFF, then '}'");
		lx->p++;
		*n += utf8_put(out + *n, v);
	} else {
		return chk_file_error(lx->err, lx->file, start, "invalid escape sequence \\%c in a string "
		    "(Prosody cannot load this file either); write \\\\ for a backslash", e);
	}
	return 0;
}

/* A quoted string: its raw end is found first (so the decoded copy is sized
 * by the string, not the file), then it is decoded. */
static int
lex_string(struct lexer *lx)
{
	char q = *lx->p, *out;
	const char *raw = lx->p + 1, *r = raw;
	unsigned start = lx->line;
	size_t n = 0;
	struct tok *t;

	while (r < lx->end && *r != q && *r != '\n') {
		if (*r == '\\' && r + 1 < lx->end) {
			r++;
			if (*r == 'z')
				while (r + 1 < lx->end && strchr(" \t\r\n\f\v", r[1]) != NULL)
					r++;
			else if ((*r == '\r' || *r == '\n') && r + 1 < lx->end &&
			    (r[1] == '\r' || r[1] == '\n') && r[1] != *r)
				r++;
		}
		r++;
	}
	if (r >= lx->end || *r != q)
		return chk_file_error(lx->err, lx->file, start, "string not closed: add the closing %c "
		    "(Prosody cannot load this file either)", q);
	if (tok_push(lx, T_STRING, raw, (size_t)(r - raw), start) != 0)
		return -1;
	if ((out = malloc((size_t)(r - raw) + 4)) == NULL)
		return tg_err_set(lx->err, TG_ERR_INTERNAL, "out of memory reading %s", lx->file);
	t = &lx->toks[lx->n - 1];
	t->s = out;
	for (lx->p = raw; lx->p < r;) {
		if (*lx->p != '\\') {
			out[n++] = *lx->p++;
			continue;
		}
		lx->p++;
		if (lex_escape(lx, out, &n, start) != 0)
			return -1;
	}
	out[n] = '\0';
	t->slen = n;
	lx->p = r + 1;
	return 0;
}

static int
lex_long_string(struct lexer *lx, int level)
{
	unsigned start = lx->line;
	const char *body;
	size_t blen;
	struct tok *t;

	if (lex_long(lx, level, "long string", &body, &blen) != 0 ||
	    tok_push(lx, T_STRING, body, blen, start) != 0)
		return -1;
	t = &lx->toks[lx->n - 1];
	/* All blen bytes: a NUL inside is part of the string (strndup would
	 * stop there, leaving slen past the copy). */
	if ((t->s = malloc(blen + 1)) == NULL)
		return tg_err_set(lx->err, TG_ERR_INTERNAL, "out of memory reading %s", lx->file);
	memcpy(t->s, body, blen);
	t->s[blen] = '\0';
	t->slen = blen;
	return 0;
}

static int
is_name_start(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_';
}

static int
is_name_char(char ch)
{
	return is_name_start(ch) || (ch >= '0' && ch <= '9');
}

static int
lex_number(struct lexer *lx)
{
	const char *s = lx->p;
	const char *expo = s[0] == '0' && lx->end - s > 1 && (s[1] == 'x' || s[1] == 'X') ? "Pp" : "Ee";

	for (lx->p++; lx->p < lx->end; lx->p++) {
		if ((*lx->p == '+' || *lx->p == '-') && strchr(expo, lx->p[-1]) != NULL)
			continue;
		if (!is_name_char(*lx->p) && *lx->p != '.')
			break;
	}
	return tok_push(lx, T_NUMBER, s, (size_t)(lx->p - s), lx->line);
}

static int
lex_op(struct lexer *lx)
{
	static const char *const two[] = { "..", "==", "~=", "<=", ">=", "::", "//", "<<", ">>", NULL };
	size_t n = 1;

	if (lx->end - lx->p >= 3 && strncmp(lx->p, "...", 3) == 0)
		n = 3;
	for (size_t i = 0; n == 1 && two[i] != NULL && lx->end - lx->p >= 2; i++)
		if (strncmp(lx->p, two[i], 2) == 0)
			n = 2;
	lx->p += n;
	return tok_push(lx, T_OP, lx->p - n, n, lx->line);
}

static int
lex_comment(struct lexer *lx)
{
	const char *body;
	size_t blen;
	int level;

	lx->p += 2;
	if (lx->p < lx->end && *lx->p == '[' && (level = long_level(lx->p, lx->end)) >= 0)
		return lex_long(lx, level, "comment --", &body, &blen);
	while (lx->p < lx->end && *lx->p != '\n')
		lx->p++;
	return 0;
}

static int
lex(struct lexer *lx)
{
	int level;

	while (lx->p < lx->end) {
		char ch = *lx->p;
		int rc;

		if (ch == '\n') {
			lx->line++;
			lx->p++;
			continue;
		}
		if (ch == ' ' || ch == '\t' || ch == '\r' || ch == '\f' || ch == '\v') {
			lx->p++;
			continue;
		}
		if (ch == '-' && lx->end - lx->p >= 2 && lx->p[1] == '-') {
			rc = lex_comment(lx);
		} else if (is_name_start(ch)) {
			const char *s = lx->p;
			while (lx->p < lx->end && is_name_char(*lx->p))
				lx->p++;
			rc = tok_push(lx, T_NAME, s, (size_t)(lx->p - s), lx->line);
		} else if ((ch >= '0' && ch <= '9') ||
		    (ch == '.' && lx->end - lx->p >= 2 && lx->p[1] >= '0' && lx->p[1] <= '9')) {
			rc = lex_number(lx);
		} else if (ch == '"' || ch == '\'') {
			rc = lex_string(lx);
		} else if (ch == '[' && (level = long_level(lx->p, lx->end)) >= 0) {
			rc = lex_long_string(lx, level);
		} else {
			rc = lex_op(lx);
		}
		if (rc != 0)
			return -1;
	}
	return tok_push(lx, T_EOF, lx->end, 0, lx->line);
}

int
chk_lua_lex(const char *file, const char *text, size_t len, struct tok **toks, size_t *n,
    tg_err *err)
{
	struct lexer lx = { file, text, text + len, 1, NULL, 0, 0, err };

	if (lex(&lx) != 0) {
		chk_lua_free(lx.toks, lx.n);
		return -1;
	}
	*toks = lx.toks;
	*n = lx.n;
	return 0;
}
