/* libFuzzer target for the mosquitto config reader: the first piece of the
 * input is mosquitto.conf, the others .conf files of two directories
 * include_dir may name (conf.d/, more/; see fuzz_files.h; write
 * `include_dir @DIR@/conf.d`: mosquitto takes a relative one from its
 * working directory). Any text is read or refused with a message, never
 * past its buffers, without leaks. */
#define _GNU_SOURCE /* memmem, in fuzz_files.h */
#include <stdint.h>

#include "fuzz_chk_config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const names[] = {
	"mosquitto.conf", "conf.d/a.conf", "conf.d/b.conf", "more/c.conf", "more/.d.conf",
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_chk_config(chk_add_mosquitto_config, names, sizeof(names) / sizeof(names[0]), data, size);
	return 0;
}
