/* libFuzzer target for the dns-01 answer reader: any bytes as the answer
 * to a TXT query (its ID the input's first two bytes) must be read inside
 * them, and what it keeps must be NUL-ended within its buffers (a value's
 * own NULs are data: the kept length says where it ends). */
#include <stdint.h>
#include <string.h>

#include "acme/acme_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static acme_dns_answer a;
	uint16_t id;

	if (size < 2)
		return 0;
	id = (uint16_t)(data[0] << 8 | data[1]);
	if (acme_dns_txt_answer(data + 2, size - 2, id, "_acme-challenge.x.example.internal",
	        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", &a) != 0) {
		if (memchr(a.why, '\0', sizeof(a.why)) == NULL || a.why[0] == '\0')
			__builtin_trap();
		return 0;
	}
	if (memchr(a.name, '\0', sizeof(a.name)) == NULL)
		__builtin_trap();
	for (size_t i = 0; i < a.ntxt && i < ACME_DNS_TXTS; i++)
		if (a.txt[i][acme_dns_kept(a.txt_len[i])] != '\0')
			__builtin_trap();
	return 0;
}
