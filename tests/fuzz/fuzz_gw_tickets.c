/* libFuzzer target for `serve --ticket-keys FILE...` (nginx's
 * ssl_session_ticket_key files): the input is up to three files cut at
 * lines "%%" (fuzz_files.h), each given to gw_ticket_keys_load in order.
 * An oracle of the target's own says what must happen: the files are
 * taken exactly when each holds a whole, non-zero number of 80-byte keys,
 * at most 32 keys in all, no name twice; then every key is the bytes of
 * the files in order (name, HMAC key, AES key), the first encrypts, each
 * is found by its name and a name not given finds none. A refusal names
 * the file and leaves no keys. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_files.h"
#include "gateway/tickets.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const names[] = { "a.key", "b.key", "c.key" };
#define NFILES (sizeof(names) / sizeof(names[0]))
#define ALL_MAX (NFILES * (GW_TICKET_KEYS_MAX + 1) * GW_TICKET_KEY_LEN)

/* The files' bytes back, concatenated; -1 when one is not a whole number
 * of keys (or the keys are too many to read). */
static long
read_back(char paths[][PATH_MAX], size_t n, unsigned char *all)
{
	size_t total = 0;

	for (size_t i = 0; i < n; i++) {
		FILE *f = fopen(paths[i], "rb");
		size_t got;
		if (f == NULL)
			abort();
		got = fread(all + total, 1, ALL_MAX - total, f);
		fclose(f);
		if (got == 0 || got % GW_TICKET_KEY_LEN != 0 ||
		    got > GW_TICKET_KEYS_MAX * GW_TICKET_KEY_LEN)
			return -1;
		total += got;
	}
	return (long)total;
}

static int
names_distinct(const unsigned char *all, size_t nkeys)
{
	for (size_t i = 0; i < nkeys; i++)
		for (size_t j = 0; j < i; j++)
			if (memcmp(all + i * GW_TICKET_KEY_LEN, all + j * GW_TICKET_KEY_LEN,
			        GW_TICKET_NAME_LEN) == 0)
				return 0;
	return 1;
}

static void
check_keys(const struct gw_ticket_keys *k, const unsigned char *all, size_t nkeys)
{
	struct gw_ticket_key got;
	unsigned char other[GW_TICKET_NAME_LEN];

	if (k->n != nkeys)
		abort();
	for (size_t i = 0; i < nkeys; i++) {
		const unsigned char *b = all + i * GW_TICKET_KEY_LEN;
		if (memcmp(k->k[i].name, b, GW_TICKET_NAME_LEN) != 0 ||
		    memcmp(k->k[i].hmac, b + GW_TICKET_NAME_LEN, GW_TICKET_HMAC_LEN) != 0 ||
		    memcmp(k->k[i].aes, b + GW_TICKET_NAME_LEN + GW_TICKET_HMAC_LEN,
		        GW_TICKET_AES_LEN) != 0)
			abort();
		if (gw_ticket_keys_find(k, b, &got) != (int)i || memcmp(&got, &k->k[i], sizeof(got)) != 0)
			abort();
	}
	if (gw_ticket_keys_find(k, NULL, &got) != 0)
		abort();
	/* A name none of the keys has: the first one's, changed until so. */
	memcpy(other, all, sizeof(other));
	for (other[0]++; ; other[1]++) {
		size_t i = 0;
		while (i < nkeys && memcmp(k->k[i].name, other, sizeof(other)) != 0)
			i++;
		if (i == nkeys)
			break;
	}
	if (gw_ticket_keys_find(k, other, &got) != -1)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static unsigned char all[ALL_MAX];
	char paths[NFILES][PATH_MAX], *v[NFILES];
	struct gw_strlist files = { v, 0 };
	struct gw_ticket_keys *k = NULL;
	tg_err err;
	long total;
	int r;

	files.n = fuzz_write_files(names, NFILES, data, size);
	for (size_t i = 0; i < files.n; i++) {
		snprintf(paths[i], PATH_MAX, "%s/%s", fuzz_dir(names, NFILES), names[i]);
		v[i] = paths[i];
	}
	total = read_back(paths, files.n, all);
	tg_err_clear(&err);
	r = gw_ticket_keys_load(&files, &k, &err);
	if (total > 0 && (size_t)total / GW_TICKET_KEY_LEN <= GW_TICKET_KEYS_MAX &&
	    names_distinct(all, (size_t)total / GW_TICKET_KEY_LEN)) {
		if (r != 0 || k == NULL)
			abort(); /* good files refused */
		check_keys(k, all, (size_t)total / GW_TICKET_KEY_LEN);
	} else {
		if (r == 0 || k != NULL || strstr(err.msg, "ticket keys") == NULL ||
		    strstr(err.msg, fuzz_dir(names, NFILES)) == NULL)
			abort(); /* bad files taken, or refused without naming the file */
	}
	gw_ticket_keys_free(k);
	return 0;
}
