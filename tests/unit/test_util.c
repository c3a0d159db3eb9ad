#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tlsgate/util.h"

static char tmpdir[] = "/tmp/tlsgate-unit-XXXXXX";

static int
setup(void **state)
{
	(void)state;
	return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	char cmd[128];
	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static void
test_write_creates_with_mode(void **state)
{
	char path[256];
	struct stat st;
	tg_err err = { 0 };
	unsigned char *data;
	size_t len;

	(void)state;
	snprintf(path, sizeof(path), "%s/secret.key", tmpdir);
	umask(0);
	assert_int_equal(util_write_file(path, "k1", 2, 0600, 0, &err), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(util_read_file(path, &data, &len, &err), 0);
	assert_int_equal(len, 2);
	assert_memory_equal(data, "k1", 2);
	free(data);
}

static void
test_write_refuses_existing(void **state)
{
	char path[256];
	tg_err err = { 0 };
	unsigned char *data;
	size_t len;

	(void)state;
	snprintf(path, sizeof(path), "%s/keep.txt", tmpdir);
	assert_int_equal(util_write_file(path, "old", 3, 0644, 0, &err), 0);
	assert_int_equal(util_write_file(path, "new", 3, 0644, 0, &err), -1);
	assert_int_equal(err.cat, TG_ERR_EXISTS);
	assert_non_null(strstr(err.msg, "--force"));
	assert_int_equal(util_read_file(path, &data, &len, &err), 0);
	assert_memory_equal(data, "old", 3);
	free(data);
	assert_int_equal(util_write_file(path, "new", 3, 0644, UTIL_WRITE_FORCE, &err), 0);
	assert_int_equal(util_read_file(path, &data, &len, &err), 0);
	assert_memory_equal(data, "new", 3);
	free(data);
}

static void
test_write_refuses_symlink_target(void **state)
{
	char path[256], target[256];
	tg_err err = { 0 };

	(void)state;
	snprintf(target, sizeof(target), "%s/elsewhere", tmpdir);
	snprintf(path, sizeof(path), "%s/link.key", tmpdir);
	assert_int_equal(symlink(target, path), 0);
	/* A dangling symlink is an existing path: never followed, never replaced. */
	assert_int_equal(util_write_file(path, "x", 1, 0600, 0, &err), -1);
	assert_int_equal(err.cat, TG_ERR_EXISTS);
	assert_int_equal(access(target, F_OK), -1);
}

static void
test_write_unwritable_dir(void **state)
{
	tg_err err = { 0 };

	(void)state;
	assert_int_equal(util_write_file("/nonexistent-dir/x.crt", "x", 1, 0644, 0, &err), -1);
	assert_int_equal(err.cat, TG_ERR_IO);
	assert_non_null(strstr(err.msg, "/nonexistent-dir"));
}

static void
test_no_temp_left_behind(void **state)
{
	char cmd[512];
	(void)state;
	snprintf(cmd, sizeof(cmd), "ls -a '%s' | grep -q tlsgate-tmp", tmpdir);
	assert_int_not_equal(system(cmd), 0);
}

static void
test_read_missing(void **state)
{
	tg_err err = { 0 };
	unsigned char *data;
	size_t len;

	(void)state;
	assert_int_equal(util_read_file("/nonexistent/file.pem", &data, &len, &err), -1);
	assert_non_null(strstr(err.msg, "no such file"));
	assert_null(data);
}

static void
test_durations(void **state)
{
	static const struct {
		const char *in;
		int ok;
		int64_t secs;
	} cases[] = {
		{ "30d", 1, 30 * 86400 }, { "12h", 1, 12 * 3600 }, { "45s", 1, 45 },
		{ "2w", 1, 14 * 86400 }, { "1y", 1, 365 * 86400 }, { "7", 1, 7 * 86400 },
		{ "", 0, 0 }, { "-1d", 0, 0 }, { "10x", 0, 0 }, { "d", 0, 0 }, { "5dd", 0, 0 },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int64_t v = -1;
		tg_err err = { 0 };
		int rc = util_parse_duration(cases[i].in, &v, &err);
		assert_int_equal(rc == 0, cases[i].ok);
		if (cases[i].ok)
			assert_int_equal(v, cases[i].secs);
		else
			assert_int_equal(err.cat, TG_ERR_USAGE);
	}
}

static void
test_uint(void **state)
{
	unsigned long v;
	tg_err err = { 0 };
	(void)state;
	assert_int_equal(util_parse_uint("365", "--days", 1000, &v, &err), 0);
	assert_int_equal(v, 365);
	assert_int_equal(util_parse_uint("0", "--days", 1000, &v, &err), -1);
	assert_int_equal(util_parse_uint("1001", "--days", 1000, &v, &err), -1);
	assert_int_equal(util_parse_uint("12abc", "--days", 1000, &v, &err), -1);
	assert_non_null(strstr(err.msg, "--days"));
}

/* One HOST:PORT parser for every command: ports above 65535 are refused,
 * not wrapped (99999 once bound 34463). */
static void
test_hostport(void **state)
{
	static const struct {
		const char *in, *host;
		unsigned port;
		const char *msg;
	} cases[] = {
		{ "127.0.0.1:8443", "127.0.0.1", 8443, NULL },
		{ "[::1]:443", "::1", 443, NULL },
		{ "localhost:65535", "localhost", 65535, NULL },
		{ "h:1", "h", 1, NULL },
		{ "127.0.0.1:99999", NULL, 0, "--listen: port '99999' is not a port number: ports are 1-65535" },
		{ "127.0.0.1:65536", NULL, 0, "ports are 1-65535" },
		{ "127.0.0.1:4294967297", NULL, 0, "ports are 1-65535" },
		{ "127.0.0.1:0", NULL, 0, "ports are 1-65535" },
		{ "127.0.0.1:-1", NULL, 0, "ports are 1-65535" },
		{ "127.0.0.1:+80", NULL, 0, "ports are 1-65535" },
		{ "127.0.0.1:80x", NULL, 0, "ports are 1-65535" },
		{ "127.0.0.1: 80", NULL, 0, "ports are 1-65535" },
		{ "127.0.0.1", NULL, 0, "--listen: '127.0.0.1' is not HOST:PORT" },
		{ "127.0.0.1:", NULL, 0, "is not HOST:PORT" },
		{ ":80", NULL, 0, "is not HOST:PORT" },
		{ "[::1]443", NULL, 0, "is not HOST:PORT" },
		{ "[::1:443", NULL, 0, "is not HOST:PORT" },
		{ "[]:443", NULL, 0, "is not HOST:PORT" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char host[64] = "untouched";
		unsigned port = 7;
		tg_err err;
		int rc;

		tg_err_clear(&err);
		rc = util_parse_hostport(cases[i].in, "--listen", host, sizeof(host), &port, &err);
		if (cases[i].host != NULL) {
			assert_int_equal(rc, 0);
			assert_string_equal(host, cases[i].host);
			assert_int_equal(port, cases[i].port);
		} else {
			assert_int_equal(rc, -1);
			if (strstr(err.msg, cases[i].msg) == NULL)
				fail_msg("%s: '%s' lacks '%s'", cases[i].in, err.msg, cases[i].msg);
			assert_string_equal(host, "untouched");
			assert_int_equal(port, 7);
		}
	}
}

/* Unix sockets through the same parser: paths, listening options, and what
 * a target may not carry. */
static void
test_parse_addr(void **state)
{
	static const struct {
		const char *in;
		unsigned flags;
		const char *path, *owner;
		int mode;
		const char *msg;
	} cases[] = {
		{ "unix:/run/app.sock", 0, "/run/app.sock", "", -1, NULL },
		{ "unix:/run/a.sock,mode=0660", UTIL_ADDR_LISTEN, "/run/a.sock", "", 0660, NULL },
		{ "unix:/run/a.sock,owner=www-data:www-data,mode=600", UTIL_ADDR_LISTEN, "/run/a.sock",
		    "www-data:www-data", 0600, NULL },
		{ "unix:/run/a.sock,mode=0660", 0, NULL, NULL, 0, "belong to a listening socket" },
		{ "unix:/run/a.sock,mode=0778", UTIL_ADDR_LISTEN, NULL, NULL, 0, "not a unix socket option" },
		{ "unix:/run/a.sock,mode=01777", UTIL_ADDR_LISTEN, NULL, NULL, 0, "at most 0777" },
		{ "unix:/run/a.sock,mode=", UTIL_ADDR_LISTEN, NULL, NULL, 0, "not a unix socket option" },
		{ "unix:/run/a.sock,mode=0600,mode=0600", UTIL_ADDR_LISTEN, NULL, NULL, 0, "each at most once" },
		{ "unix:/run/a.sock,group=x", UTIL_ADDR_LISTEN, NULL, NULL, 0, "'group=x'" },
		{ "unix:run/a.sock", 0, NULL, NULL, 0, "must be absolute" },
		{ "unix:", 0, NULL, NULL, 0, "must be absolute" },
		{ "/run/a.sock", 0, NULL, NULL, 0, "is written unix:/run/a.sock" },
		{ "unix:/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
		    0, NULL, NULL, 0, "at most 107 bytes" },
		{ "127.0.0.1:99999", 0, NULL, NULL, 0, "ports are 1-65535" },
	};
	util_addr a;
	tg_err err;

	tg_err_clear(&err);
	assert_int_equal(util_parse_addr("[::1]:443", "--target", 0, &a, &err), 0);
	assert_int_equal(a.is_unix, 0);
	assert_string_equal(a.host, "::1");
	assert_int_equal(a.port, 443);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc;

		tg_err_clear(&err);
		rc = util_parse_addr(cases[i].in, "--listen", cases[i].flags, &a, &err);
		if (cases[i].path != NULL) {
			assert_int_equal(rc, 0);
			assert_int_equal(a.is_unix, 1);
			assert_string_equal(a.path, cases[i].path);
			assert_string_equal(a.owner, cases[i].owner);
			assert_int_equal(a.mode, cases[i].mode);
		} else {
			assert_int_equal(rc, -1);
			if (strstr(err.msg, cases[i].msg) == NULL)
				fail_msg("%s: '%s' lacks '%s'", cases[i].in, err.msg, cases[i].msg);
		}
	}
}

static void
test_pass_file(void **state)
{
	char path[256];
	char *pass;
	tg_err err = { 0 };

	(void)state;
	snprintf(path, sizeof(path), "%s/pass", tmpdir);
	assert_int_equal(util_write_file(path, "s3cret\r\nignored\n", 16, 0600, 0, &err), 0);
	assert_int_equal(util_read_pass_file(path, &pass, &err), 0);
	assert_string_equal(pass, "s3cret");
	util_free_secret(pass);
	snprintf(path, sizeof(path), "%s/empty", tmpdir);
	assert_int_equal(util_write_file(path, "\n", 1, 0600, 0, &err), 0);
	assert_int_equal(util_read_pass_file(path, &pass, &err), -1);
	assert_non_null(strstr(err.msg, "empty"));
}

static void
test_open_input_regular_only(void **state)
{
	char fifo[256], path[256];
	unsigned char *data;
	size_t len;
	struct stat st;
	tg_err err = { 0 };
	int fd;

	(void)state;
	/* A FIFO with no writer: refused at once (it used to block forever). */
	snprintf(fifo, sizeof(fifo), "%s/fifo", tmpdir);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	assert_int_equal(util_open_input(fifo, &st, &err), -1);
	assert_true(S_ISFIFO(st.st_mode));
	assert_non_null(strstr(err.msg, "is a FIFO (named pipe), not a regular file"));
	assert_int_equal(util_read_file(fifo, &data, &len, &err), -1);
	assert_int_equal(util_read_pass_file(fifo, (char **)&data, &err), -1);
	assert_non_null(strstr(err.msg, "not a regular file"));
	/* A character device, a directory. */
	assert_int_equal(util_read_file("/dev/null", &data, &len, &err), -1);
	assert_non_null(strstr(err.msg, "a character device, not a regular file"));
	assert_int_equal(util_read_file(tmpdir, &data, &len, &err), -1);
	assert_non_null(strstr(err.msg, "is a directory"));
	/* A regular file opens blocking, and reads whole. */
	snprintf(path, sizeof(path), "%s/regular", tmpdir);
	assert_int_equal(util_write_file(path, "abc", 3, 0600, 0, &err), 0);
	assert_true((fd = util_open_input(path, NULL, &err)) >= 0);
	assert_int_equal(fcntl(fd, F_GETFL) & O_NONBLOCK, 0);
	close(fd);
	assert_int_equal(util_read_file(path, &data, &len, &err), 0);
	assert_int_equal(len, 3);
	free(data);
}

static void
test_escape(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "plain text", "plain text" },
		{ "bob\r\nIssued", "bob\\x0D\\x0AIssued" },
		{ "a\x1b[2Jb", "a\\x1B[2Jb" },
		{ "del\x7f", "del\\x7F" },
		{ "tab\there", "tab\\x09here" },
		{ "m\xc3\xbcnchen", "m\xc3\xbcnchen" },         /* UTF-8 kept */
		{ "csi\xc2\x9b" "31m", "csi\\xC2\\x9B31m" },      /* C1 control U+009B */
		{ "bad\xff\xc3", "bad\\xFF\\xC3" },              /* not UTF-8 */
		{ "over\xc0\xaf", "over\\xC0\\xAF" },            /* overlong '/' */
	};
	char out[64], tiny[6];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_string_equal(util_escape(cases[i].in, out, sizeof(out)), cases[i].out);
	/* Bounded: never a half escape. */
	assert_string_equal(util_escape("ab\r\ncd", tiny, sizeof(tiny)), "ab");
	assert_int_equal(util_find_control("abc", 3), -1);
	assert_int_equal(util_find_control("ab\0c", 4), 2);
	assert_int_equal(util_find_control("ab\x7f", 3), 2);
	assert_int_equal(util_find_control("a\xc2\x9b", 3), 1);     /* C1 CSI */
	assert_int_equal(util_find_control("m\xc3\xbc", 3), -1);    /* U+00FC */
}

static void
test_err_prefix(void **state)
{
	tg_err err = { 0 };
	(void)state;
	tg_err_set(&err, TG_ERR_IO, "inner %d", 7);
	tg_err_prefix(&err, "outer");
	assert_string_equal(err.msg, "outer: inner 7");
	assert_int_equal(tg_err_exit_code(&err), 1);
	tg_err_set(&err, TG_ERR_USAGE, "bad");
	assert_int_equal(tg_err_exit_code(&err), 2);
}

/* IDNA A-labels; expected values from Python's RFC 3492 codec
 * ("bücher".encode("punycode")) and RFC 3492's own samples. */
static void
test_idna(void **state)
{
	static const struct {
		const char *in, *out;
	} ok[] = {
		{ "bücher.example", "xn--bcher-kva.example" },
		{ "München.DE", "xn--mnchen-3ya.de" },
		{ "straße.example", "xn--strae-oqa.example" },
		{ "日本語.jp", "xn--wgv71a119e.jp" },
		{ "правда.example", "xn--80aafi6cg.example" },
		{ "ü", "xn--tda" },
		{ "aü.üa", "xn--a-eha.xn--a-dha" },
		{ "ドメイン名例.jp", "xn--eckwd4c7cu47r2wf.jp" },
		{ "*.café.example", "*.xn--caf-dma.example" },
		{ "Plain.Example.COM", "plain.example.com" },
		/* capitals are lower-cased first, as lookups map them */
		{ "MÜNCHEN.de", "xn--mnchen-3ya.de" },
		{ "ПРАВДА.example", "xn--80aafi6cg.example" },
		{ "ŁÓDŹ.pl", "xn--d-uga0v4h.pl" },
		{ "ΕΛΛΑΔΑ.gr", "xn--mxaaic4aa.gr" },
		{ "xn--bcher-kva.example", "xn--bcher-kva.example" },
		/* RFC 3492 7.1 (L): 3<nen>B<gumi><kinpachi><sensei> */
		{ "3年B組金八先生", "xn--3B-ww4c5e180e575a65lsy2b" },
	};
	static const struct {
		const char *in, *why;
	} bad[] = {
		{ "b\xfc" "cher.example", "is not valid UTF-8 (byte 2)" },     /* Latin-1, not UTF-8 */
		{ "a\xc0\xaf.example", "is not valid UTF-8 (byte 2)" },    /* overlong '/' */
		{ "\xed\xa0\x80.example", "is not valid UTF-8 (byte 1)" }, /* a surrogate */
		{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.example",
		  "is longer than 63 characters" },
		{ "üüüüüüüüüüüüüüüüüüüüüüüüüüüüüüüüüüüüüüüüüüüüüüüüüüüüüüüüüüüü.example",
		  "longer than 63 characters once encoded for DNS" },
	};
	char out[300];

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		tg_err err = { 0 };
		assert_int_equal(util_idna_to_ascii(ok[i].in, out, sizeof(out), &err), 0);
		/* RFC 3492's sample keeps the case of its ASCII letters; ours
		 * lower-cases them, as DNS names compare. */
		if (strcasecmp(out, ok[i].out) != 0)
			fail_msg("%s: got %s, want %s", ok[i].in, out, ok[i].out);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		tg_err err = { 0 };
		assert_int_equal(util_idna_to_ascii(bad[i].in, out, sizeof(out), &err), -1);
		assert_int_equal(err.cat, TG_ERR_USAGE);
		if (strstr(err.msg, bad[i].why) == NULL)
			fail_msg("%s: message '%s' lacks '%s'", bad[i].in, err.msg, bad[i].why);
	}
	{
		tg_err err = { 0 };
		assert_int_equal(util_idna_to_ascii("bücher.example", out, 10, &err), -1);
		assert_non_null(strstr(err.msg, "too long for a host name"));
	}
	assert_int_equal(util_is_ascii("example.com"), 1);
	assert_int_equal(util_is_ascii("bücher.example"), 0);
}


/* --owner: one meaning (USER, USER:GROUP, :GROUP), and who reads. */
static void
test_owner_parse(void **state)
{
	util_owner o;
	tg_err err = { 0 };

	(void)state;
	if (getpwnam("prosody") == NULL || getpwnam("postgres") == NULL || getgrnam("ssl-cert") == NULL)
		skip(); /* the accounts Debian's prosody and postgresql packages make */
	assert_int_equal(util_owner_parse("prosody", &o, &err), 0);
	assert_int_equal(o.uid, getpwnam("prosody")->pw_uid);
	assert_string_equal(o.reader, "prosody");
	assert_int_equal(util_owner_key_mode(&o), 0600);
	/* :GROUP is root:GROUP, as cert import has always read it */
	assert_int_equal(util_owner_parse(":prosody", &o, &err), 0);
	assert_int_equal(o.uid, 0);
	assert_int_equal(o.gid, getgrnam("prosody")->gr_gid);
	assert_string_equal(o.user, "root");
	assert_string_equal(o.reader, "prosody");
	assert_int_equal(util_owner_key_mode(&o), 0640);
	assert_int_equal(util_owner_parse("root:prosody", &o, &err), 0);
	assert_string_equal(o.reader, "prosody");
	assert_int_equal(o.reader_uid, getpwnam("prosody")->pw_uid);
	/* a group with no account of its name: a member with only that group */
	assert_int_equal(util_owner_parse("root:ssl-cert", &o, &err), 0);
	assert_string_equal(o.reader, "a member of ssl-cert");
	assert_int_equal(o.reader_gid, getgrnam("ssl-cert")->gr_gid);
	/* supplementary groups come along (postgres is in ssl-cert) */
	assert_int_equal(util_owner_parse("postgres", &o, &err), 0);
	assert_int_equal(o.reader_gid, getpwnam("postgres")->pw_gid);
	{
		int found = 0;
		for (int i = 0; i < o.reader_ngroups; i++)
			found |= o.reader_groups[i] == getgrnam("ssl-cert")->gr_gid;
		assert_true(found);
	}
	assert_int_equal(util_owner_parse("", &o, &err), -1);
	assert_non_null(strstr(err.msg, "write USER, USER:GROUP or :GROUP"));
	assert_int_equal(util_owner_parse(":", &o, &err), -1);
	assert_int_equal(util_owner_parse("no-such-user-tg", &o, &err), -1);
	assert_non_null(strstr(err.msg, "no user 'no-such-user-tg'"));
	assert_int_equal(util_owner_parse("prosody:no-such-group-tg", &o, &err), -1);
	assert_non_null(strstr(err.msg, "no group 'no-such-group-tg'"));
}

/* Who can read a key: a table of owners, modes and directory modes, each
 * answered by the kernel (a child that became the reader, as root) and by
 * the computation from the modes; both must say what the case says. */
static void
test_owner_can_read(void **state)
{
	static const struct {
		const char *spec;     /* --owner */
		const char *file_own; /* chown of the key */
		mode_t mode, dir_mode;
		const char *dir_own;
		int want;
	} cases[] = {
		{ "root:prosody", "root:root", 0600, 0755, "root:root", 0 },
		{ "root:prosody", "root:prosody", 0640, 0755, "root:root", 1 },
		{ "prosody", "root:root", 0644, 0755, "root:root", 1 },
		{ "prosody", "root:prosody", 0604, 0755, "root:root", 0 }, /* group bits apply, not other */
		{ "prosody", "prosody:prosody", 0600, 0755, "root:root", 1 },
		{ "prosody", "prosody:prosody", 0060, 0755, "root:root", 0 }, /* owner bits apply */
		{ "root:prosody", "root:prosody", 0640, 0700, "root:root", 0 }, /* the dir stops it */
		{ "root:prosody", "root:prosody", 0640, 0710, "root:prosody", 1 },
		{ "postgres", "root:ssl-cert", 0640, 0755, "root:root", 1 }, /* supplementary group */
		{ ":ssl-cert", "root:ssl-cert", 0640, 0750, "root:ssl-cert", 1 },
		{ "root", "prosody:prosody", 0000, 0700, "prosody:prosody", 1 },
	};
	char dir[300], key[320], cmd[2048], why[512];

	(void)state;
	if (geteuid() != 0 || getpwnam("prosody") == NULL || getgrnam("ssl-cert") == NULL)
		skip(); /* needs root to set owners, and the service accounts */
	chmod(tmpdir, 0755);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		util_owner o;
		tg_err err = { 0 };

		snprintf(dir, sizeof(dir), "%s/own%zu", tmpdir, i);
		snprintf(key, sizeof(key), "%s/k.key", dir);
		snprintf(cmd, sizeof(cmd), "mkdir -p %s && echo key > %s && chown %s %s && chmod %o %s "
		    "&& chown %s %s && chmod %o %s", dir, key, cases[i].file_own, key,
		    (unsigned)cases[i].mode, key, cases[i].dir_own, dir, (unsigned)cases[i].dir_mode,
		    dir);
		assert_int_equal(system(cmd), 0);
		assert_int_equal(util_owner_parse(cases[i].spec, &o, &err), 0);
		if (util_owner_can_read(&o, key, why, sizeof(why)) != cases[i].want)
			fail_msg("case %zu (%s on %s %04o): the kernel says %s", i, cases[i].spec,
			    cases[i].file_own, (unsigned)cases[i].mode, why);
		if (util_owner_can_read_computed(&o, key, why, sizeof(why)) != cases[i].want)
			fail_msg("case %zu (%s on %s %04o): computed %s", i, cases[i].spec,
			    cases[i].file_own, (unsigned)cases[i].mode, why);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_write_creates_with_mode),
		cmocka_unit_test(test_write_refuses_existing),
		cmocka_unit_test(test_write_refuses_symlink_target),
		cmocka_unit_test(test_write_unwritable_dir),
		cmocka_unit_test(test_no_temp_left_behind),
		cmocka_unit_test(test_read_missing),
		cmocka_unit_test(test_durations),
		cmocka_unit_test(test_uint),
		cmocka_unit_test(test_hostport),
		cmocka_unit_test(test_pass_file),
		cmocka_unit_test(test_open_input_regular_only),
		cmocka_unit_test(test_escape),
		cmocka_unit_test(test_err_prefix),
		cmocka_unit_test(test_idna),
		cmocka_unit_test(test_owner_parse),
		cmocka_unit_test(test_parse_addr),
		cmocka_unit_test(test_owner_can_read),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
