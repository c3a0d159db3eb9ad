/* libFuzzer target for the dns-01 answer reader: any bytes as the answer
 * to a TXT query (its ID the input's first two bytes) must be read inside
 * them, and what it keeps must be NUL-ended within its buffers (a value's
 * own NULs are data: the kept length says where it ends). The UDP filter
 * reads the same bytes: what it lets through as an answer to our query,
 * the reader must not refuse as another query's (the two agree). */
#include <stdint.h>
#include <string.h>

#include "acme/acme_int.h"

#define QNAME "_acme-challenge.x.example.internal"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Our query for QNAME (TXT, IN) with the given ID. */
static size_t
query(uint16_t id, unsigned char *q)
{
	static const char name[] = "\x0f_acme-challenge\x01x\x07example\x08internal";
	size_t n = 12;

	memset(q, 0, 12);
	q[0] = (unsigned char)(id >> 8);
	q[1] = (unsigned char)id;
	q[2] = 0x01;
	q[5] = 1;
	memcpy(q + n, name, sizeof(name));
	n += sizeof(name);
	q[n++] = 0;
	q[n++] = 16;
	q[n++] = 0;
	q[n++] = 1;
	return n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static acme_dns_answer a;
	unsigned char q[64];
	size_t qlen;
	uint16_t id;
	int ours;

	if (size < 2)
		return 0;
	id = (uint16_t)(data[0] << 8 | data[1]);
	qlen = query(id, q);
	ours = acme_dns_reply_is_ours(data + 2, size - 2, q, qlen);
	if (acme_dns_txt_answer(data + 2, size - 2, id, QNAME,
	        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", &a) != 0) {
		if (memchr(a.why, '\0', sizeof(a.why)) == NULL || a.why[0] == '\0')
			__builtin_trap();
		if (ours && strstr(a.why, "not for our query") != NULL)
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
