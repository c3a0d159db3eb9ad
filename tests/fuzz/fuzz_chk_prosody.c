/* libFuzzer target for the Prosody config reader: the Lua lexer on the
 * whole input, then the reader on its first piece as the main config, with
 * the other pieces as files its Includes may name (conf.d/a.cfg.lua,
 * conf.d/b.cfg.lua, c.cfg.lua; see fuzz_files.h). Any text is read or
 * refused with a message naming a line, never past its buffers, without
 * leaks; every host read answers the questions the checker asks. */
#define _GNU_SOURCE /* memmem, in fuzz_files.h */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check/chk_lua.h"
#include "check/chk_prosody.h"
#include "fuzz_files.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const names[] = {
	"prosody.cfg.lua", "conf.d/a.cfg.lua", "conf.d/b.cfg.lua", "c.cfg.lua",
};

/* The lexer alone: one T_EOF, last; decoded strings NUL-terminated. */
static void
lex_only(const uint8_t *data, size_t size)
{
	struct tok *toks = NULL;
	size_t n = 0;
	tg_err err;

	tg_err_clear(&err);
	if (chk_lua_lex("fuzz.lua", (const char *)data, size, &toks, &n, &err) != 0) {
		if (err.msg[0] == '\0')
			abort();
		return;
	}
	if (n == 0 || toks[n - 1].type != T_EOF)
		abort();
	for (size_t i = 0; i < n; i++) {
		if ((toks[i].type == T_EOF) != (i == n - 1))
			abort();
		if (toks[i].type == T_STRING && (toks[i].s == NULL || toks[i].s[toks[i].slen] != '\0'))
			abort();
		if (toks[i].type != T_STRING && toks[i].type != T_EOF &&
		    (toks[i].p < (const char *)data || toks[i].p + toks[i].n > (const char *)data + size))
			abort();
	}
	chk_lua_free(toks, n);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *dir = fuzz_dir(names, sizeof(names) / sizeof(names[0]));
	char main_path[PATH_MAX], at[PATH_MAX + 32], file[PATH_MAX], key[PATH_MAX];
	const char *sep, *cert, *k, *pass;
	size_t mlen;
	struct chk_pcfg *cfg;
	tg_err err;

	lex_only(data, size);
	fuzz_write_files(names, sizeof(names) / sizeof(names[0]), data, size);
	sep = memmem(data, size, FUZZ_SEP, sizeof(FUZZ_SEP) - 1);
	mlen = sep != NULL ? (size_t)(sep - (const char *)data) : size;
	snprintf(main_path, sizeof(main_path), "%s/%s", dir, names[0]);
	tg_err_clear(&err);
	if ((cfg = chk_pcfg_parse(main_path, (const char *)data, mlen, &err)) == NULL) {
		if (err.msg[0] == '\0')
			abort(); /* a refusal must say why */
		return 0;
	}
	if (cfg->nfiles == 0 || strcmp(cfg->files[0], main_path) != 0)
		abort();
	for (size_t i = 0; i < cfg->nhosts; i++) {
		const struct chk_phost *h = &cfg->hosts[i];
		if (memchr(h->name, '\0', sizeof(h->name)) == NULL)
			abort();
		(void)chk_phost_enabled(cfg, h);
		(void)chk_phost_checked(cfg, h);
		(void)chk_phost_ssl(cfg, h, &cert, &k);
		(void)chk_phost_ssl_password(cfg, h, &pass, at, sizeof(at));
		(void)chk_phost_kind_name(h->kind);
	}
	for (size_t i = 0; i < cfg->nsvcs; i++)
		(void)chk_psvc_files(&cfg->svcs[i], file, key);
	chk_pcfg_free(cfg);
	return 0;
}
