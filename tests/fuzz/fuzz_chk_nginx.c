/* libFuzzer target for the nginx config reader: the first piece of the
 * input is nginx.conf, the others files its includes may name
 * (conf.d/a.conf, conf.d/b.conf, sites/c.conf, mime.types; see
 * fuzz_files.h), all in one temporary directory, the include walker's
 * cycle, depth and walk limits bounding the rest. Any text is read or
 * refused with a message, never past its buffers, without leaks. */
#define _GNU_SOURCE /* memmem, in fuzz_files.h */
#include <stdint.h>

#include "fuzz_chk_config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const names[] = {
	"nginx.conf", "conf.d/a.conf", "conf.d/b.conf", "sites/c.conf", "mime.types",
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_chk_config(chk_add_nginx_config, names, sizeof(names) / sizeof(names[0]), data, size);
	return 0;
}
