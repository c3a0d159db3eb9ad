/* libFuzzer target for the gateway's config file reader: any text (lines
 * of any length, NUL bytes, sections and keys in any order) is read or
 * refused with a message, never past its buffers and without leaks; what
 * it accepts goes through validation too. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/gw.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	gw_config *cfg;
	FILE *f;
	tg_err err;

	if (size == 0 || (f = fmemopen((void *)data, size, "r")) == NULL)
		return 0;
	if ((cfg = gw_config_new()) == NULL) {
		fclose(f);
		return 0;
	}
	tg_err_clear(&err);
	if (gw_config_read(cfg, f, "fuzz.ini", &err) == 0)
		(void)!gw_config_validate(cfg, &err);
	else if (err.msg[0] == '\0')
		abort(); /* a refusal must say why */
	fclose(f);
	gw_config_free(cfg);
	return 0;
}
