/* Session-ticket key files: nginx's 80-byte layout, sizes, names given
 * twice, the private-key mode rule. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gateway/tickets.h"

static void
fill(unsigned char *p, size_t len, unsigned char seed)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (unsigned char)(seed + i * 7);
}

/* name, then the HMAC key, then the AES key, as nginx reads 80 bytes. */
static void
test_layout(void **state)
{
	unsigned char buf[160];
	struct gw_ticket_keys k;
	tg_err err;

	memset(&k, 0, sizeof(k));
	tg_err_clear(&err);
	fill(buf, sizeof(buf), 1);
	assert_int_equal(gw_ticket_keys_parse(&k, buf, sizeof(buf), "t.key", &err), 0);
	assert_int_equal(k.n, 2);
	assert_memory_equal(k.k[0].name, buf, 16);
	assert_memory_equal(k.k[0].hmac, buf + 16, 32);
	assert_memory_equal(k.k[0].aes, buf + 48, 32);
	assert_memory_equal(k.k[1].name, buf + 80, 16);
	assert_memory_equal(k.k[1].hmac, buf + 96, 32);
	assert_memory_equal(k.k[1].aes, buf + 128, 32);
}

static void
test_sizes(void **state)
{
	static const struct {
		size_t len;
		size_t keys; /* 0: refused */
		const char *msg;
	} cases[] = {
		{ 80, 1, NULL },
		{ 240, 3, NULL },
		{ 0, 0, "ticket keys t.key: the file is empty; make one with `openssl rand 80" },
		{ 48, 0, "48 bytes is nginx's older AES-128 key" },
		{ 79, 0, "79 bytes is not a whole number of 80-byte keys" },
		{ 81, 0, "81 bytes is not a whole number" },
		{ 96, 0, "96 bytes is not a whole number" },
		{ GW_TICKET_KEY_LEN * GW_TICKET_KEYS_MAX, GW_TICKET_KEYS_MAX, NULL },
		{ GW_TICKET_KEY_LEN * (GW_TICKET_KEYS_MAX + 1), 0, "more than 32 keys in all" },
	};
	unsigned char *buf = malloc(GW_TICKET_KEY_LEN * (GW_TICKET_KEYS_MAX + 1));

	assert_non_null(buf);
	for (size_t i = 0; i < GW_TICKET_KEYS_MAX + 1; i++)
		fill(buf + i * GW_TICKET_KEY_LEN, GW_TICKET_KEY_LEN, (unsigned char)(i * 3 + 1));
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct gw_ticket_keys k;
		tg_err err;
		memset(&k, 0, sizeof(k));
		tg_err_clear(&err);
		if (cases[i].keys > 0) {
			assert_int_equal(gw_ticket_keys_parse(&k, buf, cases[i].len, "t.key", &err), 0);
			assert_int_equal(k.n, cases[i].keys);
		} else {
			assert_int_equal(gw_ticket_keys_parse(&k, buf, cases[i].len, "t.key", &err), -1);
			assert_non_null(strstr(err.msg, cases[i].msg));
		}
	}
	free(buf);
}

static void
test_name_twice(void **state)
{
	unsigned char a[80], b[80], two[160];
	struct gw_ticket_keys k;
	tg_err err;

	fill(a, sizeof(a), 5);
	fill(b, sizeof(b), 9);
	memcpy(two, a, 80);
	memcpy(two + 80, b, 80);
	memcpy(two + 80, a, 16); /* another key under the first one's name */
	memset(&k, 0, sizeof(k));
	tg_err_clear(&err);
	assert_int_equal(gw_ticket_keys_parse(&k, two, sizeof(two), "t.key", &err), -1);
	assert_non_null(strstr(err.msg, "ticket keys t.key: key 2 has the name of an earlier key (1)"));
	/* Across files, as the option repeated gives them. */
	memset(&k, 0, sizeof(k));
	assert_int_equal(gw_ticket_keys_parse(&k, a, sizeof(a), "a.key", &err), 0);
	assert_int_equal(gw_ticket_keys_parse(&k, b, sizeof(b), "b.key", &err), 0);
	assert_int_equal(gw_ticket_keys_parse(&k, a, sizeof(a), "c.key", &err), -1);
	assert_non_null(strstr(err.msg, "ticket keys c.key: key 1 has the name of an earlier key (1)"));
}

static void
write_file(const char *path, const unsigned char *p, size_t len, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, p, len), (ssize_t)len);
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

static void
test_load(void **state)
{
	char dir[] = "/tmp/test_gw_tickets.XXXXXX", a[64], b[64], open_[64], missing[64];
	unsigned char ka[80], kb[160];
	char *va[] = { a, b }, *vo[] = { a, open_ }, *vm[] = { missing };
	struct gw_strlist both = { va, 2 }, loose = { vo, 2 }, none = { vm, 1 };
	struct gw_ticket_keys *k = NULL;
	tg_err err;

	assert_non_null(mkdtemp(dir));
	snprintf(a, sizeof(a), "%s/a.key", dir);
	snprintf(b, sizeof(b), "%s/b.key", dir);
	snprintf(open_, sizeof(open_), "%s/open.key", dir);
	snprintf(missing, sizeof(missing), "%s/missing.key", dir);
	fill(ka, sizeof(ka), 3);
	fill(kb, sizeof(kb), 100);
	write_file(a, ka, sizeof(ka), 0600);
	write_file(b, kb, sizeof(kb), 0600);
	write_file(open_, kb, sizeof(kb), 0644);
	tg_err_clear(&err);
	/* The first file's first key encrypts: the order is the files'. */
	assert_int_equal(gw_ticket_keys_load(&both, &k, &err), 0);
	assert_int_equal(k->n, 3);
	assert_memory_equal(k->k[0].name, ka, 16);
	assert_memory_equal(k->k[2].aes, kb + 128, 32);
	gw_ticket_keys_free(k);
	/* All or nothing: a good file and a loose one give nothing. */
	assert_int_equal(gw_ticket_keys_load(&loose, &k, &err), -1);
	assert_null(k);
	assert_non_null(strstr(err.msg, "open.key has mode 0644"));
	assert_int_equal(gw_ticket_keys_load(&none, &k, &err), -1);
	assert_non_null(strstr(err.msg, "missing.key: cannot open: No such file"));
	gw_ticket_keys_free(NULL);
	unlink(a);
	unlink(b);
	unlink(open_);
	rmdir(dir);
}

/* The process's keys: one encrypts, the previous decrypts one more
 * rotation, the one before is gone. */
static void
test_ring(void **state)
{
	struct gw_ticket_key first, k;
	struct gw_ticket_ring *r;
	tg_err err;

	(void)state;
	assert_null(gw_ticket_ring_get());
	assert_int_equal(gw_ticket_ring_start(2.5, &err), 0);
	assert_non_null(r = gw_ticket_ring_get());
	assert_true(gw_ticket_ring_period(r) == 2.5);
	assert_int_equal(gw_ticket_ring_find(r, NULL, &first), 0);
	assert_int_equal(gw_ticket_ring_find(r, first.name, &k), 0);
	assert_memory_equal(&k, &first, sizeof(k));
	assert_int_equal(gw_ticket_ring_rotate(r, &err), 0);
	assert_int_equal(gw_ticket_ring_find(r, NULL, &k), 0);
	assert_memory_not_equal(k.name, first.name, sizeof(k.name));
	assert_int_equal(gw_ticket_ring_find(r, first.name, &k), 1);
	assert_memory_equal(&k, &first, sizeof(k));
	assert_int_equal(gw_ticket_ring_rotate(r, &err), 0);
	assert_int_equal(gw_ticket_ring_find(r, first.name, &k), -1);
	gw_ticket_ring_stop();
	assert_null(gw_ticket_ring_get());
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_layout),
		cmocka_unit_test(test_sizes),
		cmocka_unit_test(test_name_twice),
		cmocka_unit_test(test_load),
		cmocka_unit_test(test_ring),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
