/* The body of the service config targets (nginx, PostgreSQL, mosquitto):
 * the input cut into the target's files (fuzz_files.h), the first of them
 * read by the checker's reader add, which either takes it or refuses it
 * with a message. */
#ifndef TLSGATE_FUZZ_CHK_CONFIG_H
#define TLSGATE_FUZZ_CHK_CONFIG_H

#include <stdint.h>
#include <stdlib.h>

#include "check/chk_int.h"
#include "fuzz_files.h"

typedef int (*fuzz_add_config)(chk_ctx *c, const char *path, tg_err *err);

static inline void
fuzz_chk_config(fuzz_add_config add, const char *const *names, size_t nnames,
    const uint8_t *data, size_t size)
{
	const char *dir = fuzz_dir(names, nnames);
	char path[PATH_MAX];
	chk_ctx *c;
	tg_err err;

	fuzz_write_files(names, nnames, data, size);
	snprintf(path, sizeof(path), "%s/%s", dir, names[0]);
	tg_err_clear(&err);
	if ((c = chk_new(&err)) == NULL)
		return;
	chk_use_system_store(c, 0);
	if (add(c, path, &err) != 0 && err.msg[0] == '\0')
		abort(); /* a refusal must say why */
	chk_free(c);
}

#endif
