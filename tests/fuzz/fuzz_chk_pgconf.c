/* libFuzzer target for the PostgreSQL config reader: the pieces of the
 * input are postgresql.conf, pg_hba.conf, postgresql.auto.conf, a file
 * `include` may name (inc.conf) and two in an include_dir (conf.d/; see
 * fuzz_files.h), all in one temporary directory, which is also the data
 * directory unless the config says otherwise. Any text is read or refused
 * with a message naming the line, never past its buffers, without leaks. */
#define _GNU_SOURCE /* memmem, in fuzz_files.h */
#include <stdint.h>

#include "fuzz_chk_config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const names[] = {
	"postgresql.conf", "pg_hba.conf", "postgresql.auto.conf", "inc.conf", "conf.d/a.conf",
	"conf.d/b.conf",
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_chk_config(chk_add_pg_config, names, sizeof(names) / sizeof(names[0]), data, size);
	return 0;
}
