/* Unit tests for the checker: RFC 6125 name matching, file classification
 * (through the public API over temp files), the rule table's invariants and
 * the JSON report. The e2e corpus covers every rule end to end. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check/chk_int.h"
#include "tlsgate/check.h"

static EVP_PKEY *test_key;
static char tmpdir[64];

static X509 *
make_cert(const char *cn, const char *san, int ca)
{
	X509 *x = X509_new();
	X509V3_CTX v3;
	X509_EXTENSION *ext;

	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400L * 90);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
	    (const unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(x));
	X509_set_pubkey(x, test_key);
	X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
	if (san != NULL) {
		ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, san);
		X509_add_ext(x, ext, -1);
		X509_EXTENSION_free(ext);
	}
	ext = X509V3_EXT_conf_nid(NULL, &v3, NID_basic_constraints, ca ? "critical,CA:TRUE" : "CA:FALSE");
	X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	X509_sign(x, test_key, EVP_sha256());
	return x;
}

static int
setup(void **state)
{
	(void)state;
	test_key = EVP_EC_gen("P-256");
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/tlsgate-test-check.XXXXXX");
	return test_key != NULL && mkdtemp(tmpdir) != NULL ? 0 : -1;
}

static int
teardown(void **state)
{
	char cmd[128];

	(void)state;
	EVP_PKEY_free(test_key);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

/* --- names --- */

static void
test_names(void **state)
{
	static const struct {
		const char *san, *host;
		int want;
	} cases[] = {
		{ "DNS:example.com", "example.com", 1 },
		{ "DNS:example.com", "EXAMPLE.com", 1 },
		{ "DNS:example.com", "example.com.", 1 },
		{ "DNS:example.com", "www.example.com", 0 },
		{ "DNS:*.example.com", "www.example.com", 1 },
		{ "DNS:*.example.com", "a.b.example.com", 0 },   /* one label only */
		{ "DNS:*.example.com", "example.com", 0 },
		{ "DNS:*.com", "example.com", 0 },               /* no wildcard over a TLD */
		{ "DNS:w*.example.com", "www.example.com", 0 },  /* no partial wildcards */
		{ "IP:10.0.0.5", "10.0.0.5", 1 },
		{ "IP:10.0.0.5", "10.0.0.6", 0 },
		{ "DNS:10.0.0.5", "10.0.0.5", 0 },               /* an IP only matches IP SANs */
		{ "IP:::1", "::1", 1 },
		{ "DNS:other.example.com", "example.com", 0 },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		X509 *x = make_cert("example.com", cases[i].san, 0);
		if (chk_name_matches(x, cases[i].host) != cases[i].want)
			fail_msg("%s vs %s: want %d", cases[i].san, cases[i].host, cases[i].want);
		X509_free(x);
	}
}

static void
test_cn_fallback_only_without_san(void **state)
{
	X509 *cnonly = make_cert("example.com", NULL, 0);
	X509 *withsan = make_cert("example.com", "DNS:other.example.com", 0);

	(void)state;
	assert_int_equal(chk_name_matches(cnonly, "example.com"), 1);
	assert_int_equal(chk_name_matches(withsan, "example.com"), 0);
	assert_int_equal(chk_name_matches(cnonly, "127.0.0.1"), 0);
	X509_free(cnonly);
	X509_free(withsan);
}

/* --- files, through the public API --- */

static void
write_file(const char *name, const void *data, size_t len, mode_t mode, char *path)
{
	FILE *f;

	snprintf(path, 256, "%s/%s", tmpdir, name);
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	fclose(f);
	chmod(path, mode);
}

/* Runs the checker over one path (with --owner unless NULL); returns the
 * codes found, space-separated. */
static void
codes_for(const char *path, const char *owner, char *out, size_t len)
{
	tg_err err = { 0 };
	chk_ctx *c = chk_new(&err);

	assert_non_null(c);
	chk_use_system_store(c, 0);
	if (owner != NULL && chk_set_owner(c, owner, &err) != 0)
		fail_msg("--owner %s: %s", owner, err.msg);
	assert_int_equal(chk_add_path(c, path, &err), 0);
	assert_int_equal(chk_run(c, &err), 0);
	out[0] = '\0';
	for (size_t i = 0; i < chk_finding_count(c); i++) {
		size_t used = strlen(out);
		snprintf(out + used, len - used, "%s%s", used ? " " : "", chk_finding_code(c, i));
	}
	chk_free(c);
}

static char *
cert_pem(X509 *x, size_t *len)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *p, *out;
	long n;

	PEM_write_bio_X509(b, x);
	n = BIO_get_mem_data(b, &p);
	out = malloc((size_t)n + 1);
	memcpy(out, p, (size_t)n);
	out[n] = '\0';
	*len = (size_t)n;
	BIO_free(b);
	return out;
}

static void
test_file_classification(void **state)
{
	X509 *x = make_cert("example.com", "DNS:example.com", 0);
	char path[256], codes[512], *pem, *crlf;
	unsigned char *der = NULL;
	size_t len, j = 0;
	int dlen;

	(void)state;
	pem = cert_pem(x, &len);
	/* A self-signed leaf alone: only the self-signed warning. */
	write_file("good.pem", pem, len, 0644, path);
	codes_for(path, NULL, codes, sizeof(codes));
	assert_string_equal(codes, "self-signed");

	write_file("empty.crt", "", 0, 0644, path);
	codes_for(path, NULL, codes, sizeof(codes));
	assert_string_equal(codes, "no-start-line");

	dlen = i2d_X509(x, &der);
	write_file("der.crt", der, (size_t)dlen, 0644, path);
	codes_for(path, NULL, codes, sizeof(codes));
	assert_string_equal(codes, "der-not-pem self-signed");

	crlf = malloc(2 * len + 1);
	for (size_t i = 0; i < len; i++) {
		if (pem[i] == '\n')
			crlf[j++] = '\r';
		crlf[j++] = pem[i];
	}
	write_file("crlf.crt", crlf, j, 0644, path);
	codes_for(path, NULL, codes, sizeof(codes));
	assert_string_equal(codes, "pem-crlf self-signed");

	/* Truncated: BEGIN and half the base64, no END line. */
	write_file("cut.crt", pem, len / 2, 0644, path);
	codes_for(path, NULL, codes, sizeof(codes));
	assert_string_equal(codes, "pem-corrupt");

	write_file("html.crt", "<html>not found</html>\n", 23, 0644, path);
	codes_for(path, NULL, codes, sizeof(codes));
	assert_string_equal(codes, "not-certificate");

	snprintf(path, sizeof(path), "%s/missing.crt", tmpdir);
	codes_for(path, NULL, codes, sizeof(codes));
	assert_string_equal(codes, "unreadable");

	free(crlf);
	free(pem);
	OPENSSL_free(der);
	X509_free(x);
}

/* --- the table --- */

static void
test_rule_table(void **state)
{
	(void)state;
	assert_true(chk_rule_count() >= 40);
	for (size_t i = 0; i < chk_rule_count(); i++) {
		const char *code = chk_rule_code(i);
		assert_non_null(code);
		assert_non_null(chk_rule_summary(i));
		/* lower-case-with-dashes, unique */
		assert_int_equal(strspn(code, "abcdefghijklmnopqrstuvwxyz0123456789-"), strlen(code));
		for (size_t j = i + 1; j < chk_rule_count(); j++)
			if (strcmp(code, chk_rule_code(j)) == 0)
				fail_msg("duplicate rule code %s", code);
		assert_true(chk_rules[i].file_fn != NULL || chk_rules[i].unit_fn != NULL);
	}
	assert_null(chk_rule_code(chk_rule_count()));
}

static void
test_usage_errors(void **state)
{
	tg_err err = { 0 };
	chk_ctx *c = chk_new(&err);

	(void)state;
	assert_int_equal(chk_run(c, &err), -1); /* nothing to check */
	assert_int_equal(err.cat, TG_ERR_USAGE);
	assert_int_equal(chk_set_owner(c, "no-such-user-tlsgate", &err), -1);
	assert_int_equal(chk_set_owner(c, ":x", &err), -1);
	assert_int_equal(chk_endpoint(c, "no-port", NULL, CHK_STARTTLS_NONE, &err), -1);
	assert_int_equal(err.cat, TG_ERR_USAGE);
	chk_free(c);
	chk_free(NULL);
}

static void
test_json_report(void **state)
{
	X509 *x = make_cert("example.com", "DNS:example.com", 0);
	char path[256], *pem, *buf = NULL;
	size_t len, blen = 0;
	tg_err err = { 0 };
	chk_ctx *c = chk_new(&err);
	FILE *out;

	(void)state;
	pem = cert_pem(x, &len);
	write_file("json.pem", pem, len, 0644, path);
	chk_use_system_store(c, 0);
	assert_int_equal(chk_add_path(c, path, &err), 0);
	assert_int_equal(chk_run(c, &err), 0);
	out = open_memstream(&buf, &blen);
	assert_int_equal(chk_report_json(c, out, &err), 0);
	fclose(out);
	assert_non_null(strstr(buf, "\"schema\": \"tlsgate.check/1\""));
	assert_non_null(strstr(buf, "\"code\": \"self-signed\""));
	assert_non_null(strstr(buf, "\"result\": \"ok\""));
	assert_int_equal(chk_exit_code(c), 0);
	free(buf);
	free(pem);
	chk_free(c);
	X509_free(x);
}

/* postgresql.conf as the server reads it: a table of configs (written to a
 * temp dir as postgresql.conf, with conf.d/ and postgresql.auto.conf where
 * a case needs them) and what chk_add_pg_config makes of them. */
static void
put_file(const char *name, const char *text)
{
	char path[300];
	FILE *f;

	snprintf(path, sizeof(path), "%s/pg/%s", tmpdir, name);
	assert_non_null(f = fopen(path, "w"));
	fputs(text, f);
	fclose(f);
}

static void
test_pg_config(void **state)
{
	static const struct {
		const char *conf, *confd, *autoconf;
		/* ssl off at this line (0: by default); or the pair and CA read;
		 * or the error */
		int off;
		unsigned off_line;
		const char *cert, *key, *ca, *error;
	} cases[] = {
		{ "port = 5432\n", NULL, NULL, 1, 0, NULL, NULL, NULL, NULL },
		{ "ssl = off\n", NULL, NULL, 1, 1, NULL, NULL, NULL, NULL },
		{ "SSL = 'of'  # a prefix, as PostgreSQL takes it\n", NULL, NULL, 1, 1, NULL, NULL,
		  NULL, NULL },
		{ "ssl on\n", NULL, NULL, 0, 0, "server.crt", "server.key", NULL, NULL },
		{ "ssl = tr\nssl_cert_file = '/etc/ssl/db.crt'\nssl_key_file = 'keys/db.key'\n"
		  "ssl_ca_file = 'root.crt'\n", NULL, NULL, 0, 0, "/etc/ssl/db.crt", "keys/db.key",
		  "root.crt", NULL },
		/* quotes: '' and backslash escapes */
		{ "ssl = yes\nssl_cert_file = 'it''s.crt'\nssl_key_file = 'a\\'b.key'\n", NULL, NULL,
		  0, 0, "it's.crt", "a'b.key", NULL, NULL },
		/* include_dir, last one wins; then postgresql.auto.conf wins */
		{ "ssl = on\nssl_cert_file = 'one.crt'\ninclude_dir 'conf.d'\n",
		  "ssl_cert_file = 'two.crt'\n", NULL, 0, 0, "two.crt", "server.key", NULL, NULL },
		{ "ssl = on\n", NULL, "ssl = 'off'\n", 1, 1, NULL, NULL, NULL, NULL },
		{ "include_if_exists 'missing.conf'\nssl = 1\n", NULL, NULL, 0, 0, "server.crt",
		  "server.key", NULL, NULL },
		/* refused, as PostgreSQL refuses them */
		{ "ssl = 'on\n", NULL, NULL, 0, 0, NULL, NULL, NULL,
		  "postgresql.conf:1: ssl: the quoted value is not closed" },
		{ "ssl = maybe\n", NULL, NULL, 0, 0, NULL, NULL, NULL,
		  "postgresql.conf:1: ssl = 'maybe' is not a boolean: write on or off" },
		{ "include 'nope.conf'\n", NULL, NULL, 0, 0, NULL, NULL, NULL,
		  "cannot read the PostgreSQL config" },
		{ "= 1\n", NULL, NULL, 0, 0, NULL, NULL, NULL,
		  "postgresql.conf:1: expected NAME = VALUE" },
	};
	char dir[200], path[300], want[600];

	(void)state;
	snprintf(dir, sizeof(dir), "%s/pg", tmpdir);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		tg_err err = { 0 };
		chk_ctx *c = chk_new(&err);
		char cmd[700];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s' && mkdir -p '%s/conf.d'", dir, dir);
		assert_int_equal(system(cmd), 0);
		put_file("postgresql.conf", cases[i].conf);
		if (cases[i].confd != NULL)
			put_file("conf.d/10-tls.conf", cases[i].confd);
		if (cases[i].autoconf != NULL)
			put_file("postgresql.auto.conf", cases[i].autoconf);
		snprintf(path, sizeof(path), "%s/postgresql.conf", dir);
		if (cases[i].error != NULL) {
			assert_int_equal(chk_add_pg_config(c, path, &err), -1);
			if (strstr(err.msg, cases[i].error) == NULL)
				fail_msg("case %zu: '%s' lacks '%s'", i, err.msg, cases[i].error);
			chk_free(c);
			continue;
		}
		if (chk_add_pg_config(c, path, &err) != 0)
			fail_msg("case %zu: %s", i, err.msg);
		if (cases[i].off) {
			assert_string_not_equal(c->pg_ssl_off_file, "");
			assert_int_equal(c->pg_ssl_off_line, cases[i].off_line);
			assert_int_equal(c->npairs, 0);
		} else {
			assert_string_equal(c->pg_ssl_off_file, "");
			assert_int_equal(c->npairs, 1);
			snprintf(want, sizeof(want), "%s%s%s", cases[i].cert[0] == '/' ? "" : dir,
			    cases[i].cert[0] == '/' ? "" : "/", cases[i].cert);
			assert_string_equal(c->pair_cert[0], want);
			snprintf(want, sizeof(want), "%s/%s", dir, cases[i].key);
			assert_string_equal(c->pair_key[0], want);
			/* cert, key, and the CA file if any */
			assert_int_equal(c->ninputs, cases[i].ca ? 3 : 2);
		}
		chk_free(c);
	}
}


/* A NUL byte ends its line's text, not the file: the lines after it are
 * read (PostgreSQL reads on too). The reader once stopped there, so an
 * `ssl = on` below went unseen and the check said ssl was off. */
static void
test_conf_nul_byte(void **state)
{
	static const char conf[] = "port = 5432\n# a stray \0 byte\nssl = on\n";
	char path[256], dir[200], want[300];
	tg_err err = { 0 };
	chk_ctx *c = chk_new(&err);

	(void)state;
	snprintf(dir, sizeof(dir), "%s/pgnul", tmpdir);
	assert_int_equal(mkdir(dir, 0700), 0);
	write_file("pgnul/postgresql.conf", conf, sizeof(conf) - 1, 0600, path);
	assert_int_equal(chk_add_pg_config(c, path, &err), 0);
	assert_string_equal(c->pg_ssl_off_file, "");
	assert_int_equal(c->npairs, 1);
	snprintf(want, sizeof(want), "%s/server.crt", dir);
	assert_string_equal(c->pair_cert[0], want);
	chk_free(c);
}

/* --owner: what the kernel lets the service's account do with the key. */
static void
test_owner_rules(void **state)
{
	BIO *b = BIO_new(BIO_s_mem());
	char path[256], codes[512], *pem;
	long n;

	(void)state;
	if (geteuid() != 0 || getpwnam("prosody") == NULL)
		skip();
	PEM_write_bio_PrivateKey(b, test_key, NULL, NULL, 0, NULL, NULL);
	n = BIO_get_mem_data(b, &pem);
	chmod(tmpdir, 0755);
	write_file("owned.key", pem, (size_t)n, 0600, path);
	assert_int_equal(chown(path, 0, 0), 0);
	/* root:root 0600: prosody cannot read it, whatever root may */
	codes_for(path, "root:prosody", codes, sizeof(codes));
	assert_string_equal(codes, "key-service-unreadable");
	codes_for(path, ":prosody", codes, sizeof(codes));
	assert_string_equal(codes, "key-service-unreadable");
	/* 0644: everyone reads it, prosody too; a leak, not a failure */
	chmod(path, 0644);
	codes_for(path, "prosody", codes, sizeof(codes));
	assert_string_equal(codes, "key-exposed");
	/* root:prosody 0640: as import --owner root:prosody writes it */
	chmod(path, 0640);
	assert_int_equal(chown(path, 0, getgrnam("prosody")->gr_gid), 0);
	codes_for(path, ":prosody", codes, sizeof(codes));
	assert_string_equal(codes, "");
	BIO_free(b);
}

/* Service configs through their includes: nesting, cycles and includes
 * that multiply end with an error naming the file and line, in bounded
 * time; a snippet included by two servers is read for both. */
static void
write_text(const char *name, const char *text)
{
	char path[256];

	write_file(name, text, strlen(text), 0644, path);
}

/* PREFIXk_i.conf for k < depth, i < fanout, each including every
 * PREFIX(k+1)_j.conf (PostgreSQL's include syntax, or nginx's). */
static void
write_fanout(const char *prefix, int fanout, int depth, int pg)
{
	char buf[1024], name[64];

	for (int k = 0; k < depth; k++)
		for (int i = 0; i < fanout; i++) {
			size_t used = 0;
			buf[0] = '\0';
			for (int j = 0; k + 1 < depth && j < fanout; j++)
				used += (size_t)snprintf(buf + used, sizeof(buf) - used, pg ?
				    "include '%s%d_%d.conf'\n" : "include %s%d_%d.conf;\n", prefix, k + 1, j);
			snprintf(name, sizeof(name), "%s%d_%d.conf", prefix, k, i);
			write_text(name, buf);
		}
}

typedef int (*add_config_fn)(chk_ctx *c, const char *path, tg_err *err);

static void
config_refused(add_config_fn add, const char *name, const char *want)
{
	tg_err err = { 0 };
	chk_ctx *c = chk_new(&err);
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	assert_int_equal(add(c, path, &err), -1);
	if (strstr(err.msg, want) == NULL)
		fail_msg("%s: '%s' lacks '%s'", name, err.msg, want);
	chk_free(c);
}

static void
test_config_includes_bounded(void **state)
{
	char buf[8192], want[512], path[256];
	size_t used;
	tg_err err = { 0 };
	chk_ctx *c;

	(void)state;
	/* 400 nested blocks in 1.2 KB: a stack overflow before. */
	used = (size_t)snprintf(buf, sizeof(buf), "events {}\nhttp {\n");
	for (int i = 0; i < 400; i++)
		used += (size_t)snprintf(buf + used, sizeof(buf) - used, "a { ");
	for (int i = 0; i < 400; i++)
		used += (size_t)snprintf(buf + used, sizeof(buf) - used, "} ");
	snprintf(buf + used, sizeof(buf) - used, "}\n");
	write_text("ng-deep.conf", buf);
	snprintf(want, sizeof(want), "%s/ng-deep.conf:3: blocks nested more than 64 deep", tmpdir);
	config_refused(chk_add_nginx_config, "ng-deep.conf", want);

	/* A file that includes itself, and two that include each other. */
	write_text("ng-self.conf", "events {}\nhttp {\n include ng-self.conf;\n}\n");
	snprintf(want, sizeof(want), "%s/ng-self.conf:3: include cycle: %s/ng-self.conf -> %s/"
	    "ng-self.conf", tmpdir, tmpdir, tmpdir);
	config_refused(chk_add_nginx_config, "ng-self.conf", want);
	write_text("ng-a.conf", "http { include ng-b.conf; }\n");
	write_text("ng-b.conf", "server { include ng-a.conf; }\n");
	snprintf(want, sizeof(want), "%s/ng-b.conf:1: include cycle: %s/ng-a.conf -> %s/ng-b.conf "
	    "-> %s/ng-a.conf", tmpdir, tmpdir, tmpdir, tmpdir);
	config_refused(chk_add_nginx_config, "ng-a.conf", want);

	/* Three files each including the next three, 14 deep: 3^14 walks. */
	write_fanout("m", 3, 14, 0);
	write_text("ng-mult.conf", "events {}\nhttp {\n include m0_*.conf;\n}\n");
	config_refused(chk_add_nginx_config, "ng-mult.conf", "the includes expand to more than "
	    "4096 files read");

	/* PostgreSQL: four files each including the next four, ten deep; and
	 * itself. */
	write_fanout("p", 4, 10, 1);
	write_text("pg-mult.conf", "include 'p0_0.conf'\nssl = on\n");
	config_refused(chk_add_pg_config, "pg-mult.conf", "the includes expand to more than 4096 "
	    "files read");
	write_text("pg-self.conf", "ssl = on\ninclude 'pg-self.conf'\n");
	snprintf(want, sizeof(want), "%s/pg-self.conf:2: include cycle", tmpdir);
	config_refused(chk_add_pg_config, "pg-self.conf", want);

	/* mosquitto: include_dir of the directory holding the file. */
	snprintf(buf, sizeof(buf), "listener 8883\ninclude_dir %s/mq\n", tmpdir);
	snprintf(path, sizeof(path), "%s/mq", tmpdir);
	assert_int_equal(mkdir(path, 0755) == 0 || errno == EEXIST, 1);
	write_text("mq/loop.conf", buf);
	snprintf(want, sizeof(want), "%s/mq/loop.conf:2: include cycle", tmpdir);
	config_refused(chk_add_mosquitto_config, "mq/loop.conf", want);

	/* One snippet in two servers: read for each, the pairs of both. */
	write_text("snip.conf", "ssl_certificate_key shared.key;\n");
	write_text("ng-snip.conf", "events {}\nhttp {\n"
	    " server { listen 1 ssl; ssl_certificate a.crt; include snip.conf; }\n"
	    " server { listen 2 ssl; ssl_certificate b.crt; include snip.conf; }\n}\n");
	c = chk_new(&err);
	snprintf(path, sizeof(path), "%s/ng-snip.conf", tmpdir);
	assert_int_equal(chk_add_nginx_config(c, path, &err), 0);
	assert_int_equal(c->npairs, 2);
	snprintf(want, sizeof(want), "%s/shared.key", tmpdir);
	assert_string_equal(c->pair_key[0], want);
	assert_string_equal(c->pair_key[1], want);
	chk_free(c);
}

/* A config with TLS off is one subject and no file, not an endpoint. */
static void
test_summary_without_files(void **state)
{
	char path[256], *buf = NULL;
	size_t blen = 0;
	tg_err err = { 0 };
	chk_ctx *c = chk_new(&err);
	FILE *out;

	(void)state;
	snprintf(path, sizeof(path), "%s/off", tmpdir);
	assert_int_equal(mkdir(path, 0755) == 0 || errno == EEXIST, 1);
	write_text("off/postgresql.conf", "ssl = off\n");
	snprintf(path, sizeof(path), "%s/off/postgresql.conf", tmpdir);
	assert_int_equal(chk_add_pg_config(c, path, &err), 0);
	assert_int_equal(chk_run(c, &err), 0);
	out = open_memstream(&buf, &blen);
	assert_int_equal(chk_report_text(c, out, &err), 0);
	fclose(out);
	if (strstr(buf, "1 error, 0 warnings: 1 subject, 0 files checked") == NULL)
		fail_msg("summary: %s", buf);
	free(buf);
	chk_free(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_cn_fallback_only_without_san),
		cmocka_unit_test(test_file_classification),
		cmocka_unit_test(test_rule_table),
		cmocka_unit_test(test_usage_errors),
		cmocka_unit_test(test_json_report),
		cmocka_unit_test(test_pg_config),
		cmocka_unit_test(test_conf_nul_byte),
		cmocka_unit_test(test_config_includes_bounded),
		cmocka_unit_test(test_owner_rules),
		cmocka_unit_test(test_summary_without_files),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
