/* libFuzzer target for the file of `cert issue --batch`: any bytes are read
 * line by line into profiles (the first input byte picks the profile kind
 * and whether a --san is given for every line) until the end or a refusal
 * naming the line; never past its buffers, without leaks. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tlsgate/ca.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const extra[] = { "DNS:extra.example", "10.0.0.1" };
	static const pki_profile_kind kinds[] = { PKI_PROFILE_SERVER, PKI_PROFILE_CLIENT,
		PKI_PROFILE_BOTH };
	static pki_profile p; /* 17 KB */
	tg_ca_batch b = { .path = "fuzz.batch", .secs = 86400 };
	unsigned long last = 0;
	tg_err err;
	int r;

	if (size < 1)
		return 0;
	b.kind = kinds[data[0] % 3];
	b.sans = extra;
	b.nsans = (data[0] >> 2) % 3;
	data++;
	size--;
	if (size == 0 || (b.f = fmemopen((void *)data, size, "r")) == NULL)
		return 0;
	tg_err_clear(&err);
	while ((r = tg_ca_batch_next(&b, &p, &err)) == 1) {
		if (b.line <= last || p.cn[0] == '\0' || p.nsans > PKI_MAX_SANS)
			abort();
		last = b.line;
	}
	if (r != 0 && (r != -1 || strncmp(err.msg, "fuzz.batch:", 11) != 0))
		abort(); /* a refusal names the line */
	fclose(b.f);
	return 0;
}
