/* A Lua lexer for reading config files without running them (Prosody's
 * config is Lua): comments, both quote styles, long brackets and escapes
 * become tokens, so none of them can be mistaken for code. */
#ifndef TLSGATE_CHK_LUA_H
#define TLSGATE_CHK_LUA_H

#include <stddef.h>

#include "tlsgate/err.h"
#include "tlsgate/util.h"

enum tok_type { T_EOF, T_NAME, T_STRING, T_NUMBER, T_OP };

struct tok {
	enum tok_type type;
	const char *p;  /* NAME, NUMBER, OP: the bytes in the text */
	size_t n;
	char *s;        /* STRING: decoded, NUL-terminated (may hold NULs) */
	size_t slen;
	unsigned line;
};

/* Tokens of text (from file, for messages), ending with one T_EOF; *n
 * counts it. Fails (TG_ERR_USAGE) naming file:line and what to fix, as
 * Lua itself would refuse the text. */
int chk_lua_lex(const char *file, const char *text, size_t len, struct tok **toks, size_t *n,
    tg_err *err) TG_MUST_CHECK;

void chk_lua_free(struct tok *t, size_t n);

/* A TG_ERR_USAGE error at file:line; returns -1. */
int chk_file_error(tg_err *err, const char *file, unsigned line, const char *fmt, ...)
    TG_PRINTF(4, 5);

#endif
