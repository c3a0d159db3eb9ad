/* Unit tests for the Prosody config reader (src/check/prosody.c): a table of
 * tricky Lua inputs and the hosts Prosody would define from them, options
 * (enabled, certificates), notes, refusals with their exact messages, and
 * Includes over real files in a temp dir. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check/chk_lua.h"
#include "check/chk_prosody.h"

static char tmpdir[64];

static int
setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/tlsgate-test-prosody.XXXXXX");
	return mkdtemp(tmpdir) != NULL ? 0 : -1;
}

static int
teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

/* The checked hosts, space-separated; disabled ones as "-NAME". */
static void
hosts_of(const struct chk_pcfg *cfg, char *out, size_t len)
{
	out[0] = '\0';
	for (size_t i = 0; i < cfg->nhosts; i++) {
		size_t used = strlen(out);
		snprintf(out + used, len - used, "%s%s%s", used ? " " : "",
		    chk_phost_enabled(cfg, &cfg->hosts[i]) ? "" : "-", cfg->hosts[i].name);
	}
}

static struct chk_pcfg *
parse(const char *text, tg_err *err)
{
	return chk_pcfg_parse("/etc/prosody/prosody.cfg.lua", text, strlen(text), err);
}

/* Parses case i and checks the hosts it defines. */
static struct chk_pcfg *
parse_hosts(size_t i, const char *text, const char *want)
{
	tg_err err = { 0 };
	char got[512];
	struct chk_pcfg *cfg = parse(text, &err);

	if (cfg == NULL)
		fail_msg("case %zu: %s", i, err.msg);
	hosts_of(cfg, got, sizeof(got));
	if (strcmp(got, want) != 0)
		fail_msg("case %zu: want [%s], got [%s]", i, want, got);
	return cfg;
}

/* --- hosts from tricky Lua --- */

static void
test_hosts(void **state)
{
	static const struct {
		const char *text, *want;
	} cases[] = {
		{ "VirtualHost \"a.example\"\n", "a.example" },
		/* quotes, call syntax, whitespace, the aliases */
		{ "VirtualHost 'a.example'\nVirtualHost(\"b.example\")\nVirtualHost  (  'c.example'  )\n"
		  "Host \"d.example\"\nhost\"e.example\"\n\tVirtualHost\t\"f.example\";",
		  "a.example b.example c.example d.example e.example f.example" },
		{ "VirtualHost \"a.example\" VirtualHost \"b.example\"", "a.example b.example" },
		/* nameprep lower-cases; the same host twice is one host */
		{ "VirtualHost \"EXAMPLE.com\"\nVirtualHost \"example.COM\"", "example.com" },
		/* line comments */
		{ "-- VirtualHost \"no.example\"\nVirtualHost \"a.example\" -- VirtualHost \"b.example\"\n",
		  "a.example" },
		{ "--[ not a block\nVirtualHost \"a.example\"", "a.example" },
		{ "---[[\nVirtualHost \"a.example\"\n--]]", "a.example" },
		/* block comments, with levels */
		{ "--[[ VirtualHost \"no.example\" ]] VirtualHost \"a.example\"", "a.example" },
		{ "--[[\nVirtualHost \"no.example\"\n]]\nVirtualHost \"a.example\"", "a.example" },
		{ "--[==[\nVirtualHost \"no.example\"\n]] ]=] still a comment\n]==] VirtualHost \"a.example\"",
		  "a.example" },
		/* comment markers and declarations inside strings are text */
		{ "motd = \"--[[\" VirtualHost \"a.example\" x = \"]]\"", "a.example" },
		{ "motd = 'VirtualHost \"no.example\"'\nVirtualHost \"a.example\"", "a.example" },
		{ "motd = \"say \\\"VirtualHost\\\" \\\\\" VirtualHost \"a.example\"", "a.example" },
		{ "motd = [[\nVirtualHost \"no.example\"\n]]\nVirtualHost [[a.example]]", "a.example" },
		{ "motd = [=[ ]] VirtualHost \"no.example\" ]=] VirtualHost [==[a.example]==]", "a.example" },
		/* escapes */
		{ "VirtualHost \"a\\x2eexample\" VirtualHost \"b\\046example\" VirtualHost \"\\u{63}.example\"",
		  "a.example b.example c.example" },
		{ "VirtualHost \"a.\\z\n      example\"", "a.example" },
		/* locals, fields and assignments are not declarations */
		{ "local VirtualHost = print\nx.VirtualHost = 1\nVirtualHost \"a.example\"", "a.example" },
		{ "host = \"not.a.declaration\"\nVirtualHost \"a.example\"", "a.example" },
		/* components, with and without a module, in every syntax */
		{ "Component \"c.example\" \"muc\"\ncomponent 'd.example'\nComponent(\"e.example\")(\"http_file_share\")\n"
		  "Component \"f.example\" { component_secret = \"x\" }",
		  "c.example d.example e.example f.example" },
		/* CRLF line ends */
		{ "VirtualHost \"a.example\"\r\n  enabled = false\r\nVirtualHost \"b.example\"\r\n",
		  "-a.example b.example" },
		/* enabled: per host, table syntax, global, nil, strings, locals */
		{ "VirtualHost \"a.example\"\n  enabled = false\nVirtualHost \"b.example\"", "-a.example b.example" },
		{ "VirtualHost \"a.example\" { enabled = false }\nenabled = true\nVirtualHost \"b.example\"",
		  "-a.example b.example" },
		{ "Component \"c.example\" \"muc\" { foo = 1; enabled = false, bar = { enabled = true } }",
		  "-c.example" },
		{ "enabled = false\nVirtualHost \"a.example\"\nVirtualHost \"b.example\"\n  enabled = true",
		  "-a.example b.example" },
		{ "VirtualHost \"a.example\"\n  enabled = false\n  enabled = nil", "a.example" },
		{ "VirtualHost \"a.example\"\n  enabled = \"false\"", "a.example" },
		{ "VirtualHost \"a.example\"\n  local enabled = false", "a.example" },
		{ "VirtualHost \"a.example\"\n  ssl = { enabled = false }", "a.example" },
		{ "VirtualHost \"a.example\" { }\nenabled = false", "-a.example" },
		/* a bare-JID host is defined but not checked (prosodyctl skips it) */
		{ "VirtualHost \"user@a.example\"", "user@a.example" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		chk_pcfg_free(parse_hosts(i, cases[i].text, cases[i].want));
}

static void
test_host_details(void **state)
{
	tg_err err = { 0 };
	struct chk_pcfg *cfg = parse("--[[\n\n]]\n\nVirtualHost \"a.example\"\n"
	    "Component \"c.example\" \"muc\"\nComponent 'e.example'\nVirtualHost \"u@a.example\"", &err);

	(void)state;
	assert_non_null(cfg);
	assert_int_equal(cfg->nhosts, 4);
	assert_int_equal(cfg->hosts[0].line, 5);
	assert_int_equal(cfg->hosts[0].kind, CHK_PHOST_VIRTUAL);
	assert_string_equal(cfg->hosts[0].file, "/etc/prosody/prosody.cfg.lua");
	assert_int_equal(cfg->hosts[1].line, 6);
	assert_int_equal(cfg->hosts[1].kind, CHK_PHOST_COMPONENT);
	assert_string_equal(cfg->hosts[1].module, "muc");
	assert_string_equal(cfg->hosts[2].module, "component");
	assert_true(chk_phost_checked(cfg, &cfg->hosts[0]));
	assert_false(chk_phost_checked(cfg, &cfg->hosts[3]));
	assert_int_equal(cfg->nnotes, 0);
	chk_pcfg_free(cfg);
}

/* --- certificates --- */

static void
test_certificates(void **state)
{
	static const struct {
		const char *name, *text, *want;
		unsigned line;
		int unknown;
	} cases[] = {
		{ "/etc/prosody/prosody.cfg.lua", "VirtualHost \"a\"", "/etc/prosody/certs", 0, 0 },
		{ "prosody.cfg.lua", "", "certs", 0, 0 },
		{ "/etc/prosody/prosody.cfg.lua", "certificates = \"/srv/certs\"", "/srv/certs", 1, 0 },
		{ "/etc/prosody/prosody.cfg.lua", "certificates = './tls'", "/etc/prosody/tls", 1, 0 },
		{ "/etc/prosody/prosody.cfg.lua", "\ncertificates = [[x]] certificates = \"y\"",
		  "/etc/prosody/y", 2, 0 },
		/* under a host Prosody ignores it */
		{ "/etc/prosody/prosody.cfg.lua", "VirtualHost \"a\"\ncertificates = \"/no\"",
		  "/etc/prosody/certs", 0, 0 },
		{ "/etc/prosody/prosody.cfg.lua", "VirtualHost \"a\" { certificates = \"/no\" }\n"
		  "certificates = \"/yes\"", "/yes", 2, 0 },
		{ "/etc/prosody/prosody.cfg.lua", "certificates = \"/etc/\" .. \"certs\"", NULL, 1, 1 },
		{ "/etc/prosody/prosody.cfg.lua", "certificates = ENV_CERTS", NULL, 1, 1 },
	};
	tg_err err = { 0 };

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct chk_pcfg *cfg = chk_pcfg_parse(cases[i].name, cases[i].text,
		    strlen(cases[i].text), &err);
		if (cfg == NULL)
			fail_msg("case %zu: %s", i, err.msg);
		if (cfg->certs_unknown != cases[i].unknown)
			fail_msg("case %zu: unknown %d", i, cfg->certs_unknown);
		if (cases[i].want != NULL && strcmp(cfg->certs, cases[i].want) != 0)
			fail_msg("case %zu: want %s, got %s", i, cases[i].want, cfg->certs);
		if (cfg->certs_line != cases[i].line || (cases[i].line == 0) != (cfg->certs_file == NULL))
			fail_msg("case %zu: line %u", i, cfg->certs_line);
		chk_pcfg_free(cfg);
	}
}

/* --- what only running it would tell: notes, not refusals --- */

static void
test_notes(void **state)
{
	static const struct {
		const char *text, *hosts;
		unsigned line;
		const char *message;
	} cases[] = {
		{ "RunScript \"more.lua\"\nVirtualHost \"a.example\"", "a.example", 1,
		  "RunScript runs Lua that tlsgate does not execute: hosts or options it sets are not "
		  "seen" },
		{ "if os.getenv(\"X\") then\n  VirtualHost \"a.example\"\nend", "a.example", 2,
		  "VirtualHost \"a.example\" is inside a Lua block (if, function or loop): tlsgate does "
		  "not run the config and takes it as declared" },
		{ "VirtualHost \"a.example\"\n  enabled = os.getenv(\"A\") ~= nil", "a.example", 2,
		  "enabled = ... is an expression tlsgate does not evaluate; the host is taken as "
		  "enabled" },
		/* ssl options tlsgate cannot read leave their hosts out */
		{ "VirtualHost \"a.example\"\n  ssl = {\n    key = \"a.key\";\n    certificate = CERT;\n  }\n"
		  "VirtualHost \"b.example\"\n  ssl = { protocol = \"tlsv1_2+\" }", "a.example b.example", 2,
		  "the ssl option of VirtualHost \"a.example\" is not a table of literal paths tlsgate "
		  "reads: which certificate Prosody serves it is unknown, so the host is left out" },
		{ "Component \"c.example\" \"muc\" { certificate = \"/etc/ssl/c.pem\" }", "c.example", 1,
		  "Component \"c.example\" sets certificate = ... outside an ssl table: tlsgate does "
		  "not know which files Prosody serves it, so the host is left out" },
		{ "for _, h in ipairs({}) do end\nwhile false do end\nVirtualHost \"a.example\"\n"
		  "do\n  enabled = false\nend", "-a.example", 5,
		  "enabled = ... is inside a Lua block (if, function or loop): tlsgate does not run the "
		  "config and takes it as if it ran" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct chk_pcfg *cfg = parse_hosts(i, cases[i].text, cases[i].hosts);
		assert_int_equal(cfg->nnotes, 1);
		assert_string_equal(cfg->notes[0].code, "prosody-unread");
		assert_int_equal(cfg->notes[0].line, cases[i].line);
		assert_string_equal(cfg->notes[0].message, cases[i].message);
		/* hosts whose certificate files are unknown are left out; an ssl
		 * table without certificate leaves the host to the certs dir */
		assert_int_equal(chk_phost_checked(cfg, &cfg->hosts[0]),
		    chk_phost_enabled(cfg, &cfg->hosts[0]) &&
		    strstr(cases[i].message, "left out") == NULL);
		if (cfg->nhosts > 1)
			assert_true(chk_phost_checked(cfg, &cfg->hosts[1]));
		chk_pcfg_free(cfg);
	}
}

/* --- ssl options: which files Prosody serves each host --- */

static void
test_ssl(void **state)
{
	/* Per host, in order: "NAME=CERT,KEY" (files named by ssl options),
	 * "NAME=dir" (the certs dir), "NAME=?" (unknown), "NAME=CERT,-" (no key). */
	static const struct {
		const char *text, *want, *note_code;
	} cases[] = {
		/* the host's own table, relative paths against the config's dir */
		{ "VirtualHost \"a.example\"\nssl = { certificate = \"certs/a.crt\", key = './certs/a.key' }\n"
		  "VirtualHost \"b.example\"",
		  "a.example=/etc/prosody/certs/a.crt,/etc/prosody/certs/a.key b.example=dir", NULL },
		/* global ssl for everyone; a host's own fields win, the rest is global */
		{ "ssl = { certificate = \"/g.crt\"; key = \"/g.key\" }\nVirtualHost \"a.example\"\n"
		  "VirtualHost \"b.example\"\nssl = { key = \"/b.key\" }",
		  "a.example=/g.crt,/g.key b.example=/g.crt,/b.key", NULL },
		/* a subdomain takes its parent host's table, not a grandparent's */
		{ "VirtualHost \"example.com\" { ssl = { certificate = \"/e.crt\"; key = \"/e.key\" } }\n"
		  "Component \"conference.example.com\" \"muc\"\n"
		  "Component \"x.conference.example.com\" \"muc\"",
		  "example.com=/e.crt,/e.key conference.example.com=/e.crt,/e.key "
		  "x.conference.example.com=dir", NULL },
		/* the last assignment wins */
		{ "VirtualHost \"a.example\"\nssl = { certificate = \"/1.crt\"; key = \"/1.key\" }\n"
		  "ssl = { certificate = \"/2.crt\"; key = \"/2.key\" }", "a.example=/2.crt,/2.key",
		  NULL },
		/* nested tables are not the certificate */
		{ "VirtualHost \"a.example\"\nssl = { options = { certificate = \"/no\" } }",
		  "a.example=dir", NULL },
		/* a certificate with no key anywhere: Prosody refuses the host */
		{ "VirtualHost \"a.example\"\nssl = { certificate = \"/a.crt\" }", "a.example=/a.crt,-",
		  "prosody-ssl-no-key" },
		/* an unreadable global table only matters to hosts that need its fields */
		{ "ssl = SSL\nVirtualHost \"a.example\"\nssl = { certificate = \"/a.crt\"; key = \"/a.key\" }\n"
		  "VirtualHost \"b.example\"", "a.example=/a.crt,/a.key b.example=?", "prosody-unread" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		tg_err err = { 0 };
		struct chk_pcfg *cfg = parse(cases[i].text, &err);
		char got[1024] = "";

		if (cfg == NULL)
			fail_msg("case %zu: %s", i, err.msg);
		for (size_t j = 0; j < cfg->nhosts; j++) {
			const char *cert, *key;
			int r = chk_phost_ssl(cfg, &cfg->hosts[j], &cert, &key);
			size_t used = strlen(got);
			if (r == 1)
				snprintf(got + used, sizeof(got) - used, "%s%s=%s,%s", used ? " " : "",
				    cfg->hosts[j].name, cert, key ? key : "-");
			else
				snprintf(got + used, sizeof(got) - used, "%s%s=%s", used ? " " : "",
				    cfg->hosts[j].name, r == 0 ? "dir" : "?");
			/* checked: the certs dir, or a named cert with a key */
			assert_int_equal(chk_phost_checked(cfg, &cfg->hosts[j]),
			    r == 0 || (r == 1 && key != NULL));
		}
		if (strcmp(got, cases[i].want) != 0)
			fail_msg("case %zu: got '%s', want '%s'", i, got, cases[i].want);
		if (cases[i].note_code == NULL) {
			assert_int_equal(cfg->nnotes, 0);
		} else {
			assert_int_equal(cfg->nnotes, 1);
			assert_string_equal(cfg->notes[0].code, cases[i].note_code);
			if (strcmp(cases[i].note_code, "prosody-ssl-no-key") == 0) {
				assert_string_equal(cfg->notes[0].message, "VirtualHost \"a.example\" is "
				    "served certificate = \"/a.crt\" with no key: Prosody refuses it (\"No key "
				    "present in SSL/TLS configuration for a.example\")");
				assert_int_equal(cfg->notes[0].line, 2);
			}
		}
		chk_pcfg_free(cfg);
	}
}

/* --- refusals: Prosody would not load these either, or tlsgate would have
 * to run Lua to know the hosts --- */

static void
test_refusals(void **state)
{
	static const struct {
		const char *text, *msg;
	} cases[] = {
		{ "VirtualHost \"a.example\"\nmotd = \"no end\nVirtualHost \"b.example\"",
		  "/etc/prosody/prosody.cfg.lua:2: string not closed: add the closing \" (Prosody "
		  "cannot load this file either)" },
		{ "\n--[[ VirtualHost \"a.example\"\n", "/etc/prosody/prosody.cfg.lua:2: the comment -- "
		  "opened here with [[ is never closed; add ]] where it ends (Prosody cannot load this "
		  "file either)" },
		{ "x = [==[ a ]] ]=]", "/etc/prosody/prosody.cfg.lua:1: the long string opened here "
		  "with [==[ is never closed; add ]==] where it ends (Prosody cannot load this file "
		  "either)" },
		{ "VirtualHost \"a\\qb\"", "/etc/prosody/prosody.cfg.lua:1: invalid escape sequence \\q "
		  "in a string (Prosody cannot load this file either); write \\\\ for a backslash" },
		{ "\n\nVirtualHost(ENV_DOMAIN)", "/etc/prosody/prosody.cfg.lua:3: VirtualHost must be "
		  "followed by a quoted name, as in VirtualHost \"example.com\": tlsgate reads the "
		  "config without running it, so it cannot work out a name computed in Lua; write the "
		  "name as a string, or give the hosts with --host" },
		{ "Component(\"a\" .. domain)", "/etc/prosody/prosody.cfg.lua:1: Component must be "
		  "followed by a quoted name, as in Component \"example.com\": tlsgate reads the config "
		  "without running it, so it cannot work out a name computed in Lua; write the name as "
		  "a string, or give the hosts with --host" },
		{ "VirtualHost \"a.example\" \"muc\"", "/etc/prosody/prosody.cfg.lua:1: VirtualHost "
		  "\"a.example\" is given a module name (\"muc\"), which Prosody refuses; for a service "
		  "write Component \"a.example\" \"muc\"" },
		{ "VirtualHost \"a.example\"\nComponent \"A.example\" \"muc\"",
		  "/etc/prosody/prosody.cfg.lua:2: Component \"a.example\" clashes with the VirtualHost "
		  "of the same name at /etc/prosody/prosody.cfg.lua:1 (Prosody refuses this config); "
		  "for a service use a sub-domain, like conference.a.example" },
		{ "VirtualHost \"\"", "/etc/prosody/prosody.cfg.lua:1: VirtualHost \"\" has no name; "
		  "write the host name, as in VirtualHost \"example.com\"" },
		{ "VirtualHost \"a example\"", "/etc/prosody/prosody.cfg.lua:1: VirtualHost \"a "
		  "example\": a host name cannot hold spaces or control characters" },
		{ "Include(path)", "/etc/prosody/prosody.cfg.lua:1: Include must be followed by a "
		  "quoted file name, as in Include \"conf.d/*.cfg.lua\": tlsgate reads the config "
		  "without running it; write the path as a string" },
		{ "Include \"conf.*/x.lua\"", "/etc/prosody/prosody.cfg.lua:1: Include \"conf.*/x.lua\": "
		  "Prosody expands * and ? only in the file name, not in directories; name the "
		  "directory" },
	};
	tg_err err = { 0 };

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct chk_pcfg *cfg = parse(cases[i].text, &err);
		if (cfg != NULL)
			fail_msg("case %zu: parsed", i);
		assert_int_equal(err.cat, TG_ERR_USAGE);
		if (strcmp(err.msg, cases[i].msg) != 0)
			fail_msg("case %zu:\nwant %s\ngot  %s", i, cases[i].msg, err.msg);
	}
}

/* Every prefix of a valid config either parses or is refused: never a crash
 * or a read past the end (the ASan build runs this). */
static void
test_truncations(void **state)
{
	static const char text[] = "--[==[ c ]==] VirtualHost 'a.example' { enabled = false }\n"
	    "Component \"c.example\" \"muc\" x = \"\\x41\\u{42}\\067\\z  \" y = [[\n]] -- end";
	tg_err err = { 0 };

	(void)state;
	for (size_t n = 0; n <= sizeof(text) - 1; n++) {
		char *copy = malloc(n ? n : 1);
		memcpy(copy, text, n);
		chk_pcfg_free(chk_pcfg_parse("t.cfg.lua", copy, n, &err));
		free(copy);
	}
}

/* A NUL inside a long string is one of its bytes, as in Lua: the decoded
 * copy holds all of them (it once stopped at the NUL while slen counted
 * on, so readers of s[0..slen) ran past the copy). */
static void
test_long_string_nul(void **state)
{
	static const char text[] = "x = [[a\0bcdefghijklmnopqrstuvwxyz0123456789]] y = [==[\0]==]";
	struct tok *toks = NULL;
	size_t n = 0;
	tg_err err = { 0 };

	(void)state;
	assert_int_equal(chk_lua_lex("t.lua", text, sizeof(text) - 1, &toks, &n, &err), 0);
	assert_int_equal(n, 7); /* x = STRING y = STRING EOF */
	assert_int_equal(toks[2].type, T_STRING);
	assert_int_equal(toks[2].slen, 37);
	assert_memory_equal(toks[2].s, "a\0bcdefghijklmnopqrstuvwxyz0123456789", 38);
	assert_int_equal(toks[5].type, T_STRING);
	assert_int_equal(toks[5].slen, 1);
	assert_memory_equal(toks[5].s, "\0", 2);
	chk_lua_free(toks, n);
}

/* --- Includes, over real files --- */

static void
put(const char *rel, const char *text)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, rel);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void
sub(const char *rel)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", tmpdir, rel);
	assert_int_equal(mkdir(path, 0755), 0);
}

static struct chk_pcfg *
load(const char *rel, tg_err *err)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", tmpdir, rel);
	return chk_pcfg_load(path, err);
}

static void
test_includes(void **state)
{
	tg_err err = { 0 };
	struct chk_pcfg *cfg;
	char got[512], want[256];

	(void)state;
	sub("inc");
	sub("inc/conf.d");
	sub("inc/conf.d/sub");
	sub("inc/conf.d/dir.cfg.lua");
	put("inc/prosody.cfg.lua", "VirtualHost \"main.example\"\n"
	    "Include \"conf.d/*.cfg.lua\"\n"
	    "  enabled = false -- still main.example's section\n"
	    "Include 'conf.d/none-*.lua'\n"
	    "Include(\"./extra.lua\")\n");
	/* sorted: a before b; a dotfile and other names left out */
	put("inc/conf.d/b.cfg.lua", "VirtualHost \"b.example\"\nInclude \"sub/c.lua\"\n");
	put("inc/conf.d/a.cfg.lua", "Component \"a.example\" \"muc\"\n");
	put("inc/conf.d/.hidden.cfg.lua", "VirtualHost \"hidden.example\"\n");
	put("inc/conf.d/c.cfg.lua.dpkg-old", "VirtualHost \"old.example\"\n");
	put("inc/conf.d/sub/c.lua", "certificates = \"tls\"\nVirtualHost \"c.example\"\n");
	put("inc/extra.lua", "VirtualHost \"d.example\"\n");
	cfg = load("inc/prosody.cfg.lua", &err);
	if (cfg == NULL)
		fail_msg("%s", err.msg);
	hosts_of(cfg, got, sizeof(got));
	assert_string_equal(got, "-main.example a.example b.example c.example d.example");
	assert_int_equal(cfg->nfiles, 5);
	snprintf(want, sizeof(want), "%s/inc/conf.d/sub/c.lua", tmpdir);
	assert_string_equal(cfg->hosts[3].file, want);
	assert_int_equal(cfg->hosts[3].line, 2);
	/* relative to the main config's directory, wherever it is set */
	snprintf(want, sizeof(want), "%s/inc/tls", tmpdir);
	assert_string_equal(cfg->certs, want);
	assert_int_equal(cfg->certs_line, 1);
	assert_int_equal(cfg->nnotes, 1);
	assert_string_equal(cfg->notes[0].code, "prosody-include-empty");
	assert_int_equal(cfg->notes[0].line, 4);
	snprintf(want, sizeof(want), "Include \"conf.d/none-*.lua\" matches no file in "
	    "%s/inc/conf.d: hosts meant to be there are not defined", tmpdir);
	assert_string_equal(cfg->notes[0].message, want);
	chk_pcfg_free(cfg);

	/* A global `enabled = false` in an included file disables every host
	 * without its own `enabled` (Prosody's host sections inherit it). */
	put("inc/off.lua", "enabled = false\n");
	put("inc/g.cfg.lua", "VirtualHost \"a.example\"\nInclude \"off.lua\"\n"
	    "VirtualHost \"b.example\"\n  enabled = true\n");
	cfg = load("inc/g.cfg.lua", &err);
	assert_non_null(cfg);
	hosts_of(cfg, got, sizeof(got));
	assert_string_equal(got, "-a.example b.example");
	chk_pcfg_free(cfg);
}

/* pat with every {D} replaced by the temp dir. */
static void
expand(char *out, size_t len, const char *pat)
{
	size_t n = 0;

	for (const char *p = pat; *p != '\0' && n + 1 < len;) {
		if (strncmp(p, "{D}", 3) == 0) {
			n += (size_t)snprintf(out + n, len - n, "%s", tmpdir);
			p += 3;
		} else {
			out[n++] = *p++;
		}
	}
	out[n < len ? n : len - 1] = '\0';
}

static void
test_include_refusals(void **state)
{
	static const struct {
		const char *file, *text, *msg;
	} cases[] = {
		{ "r1.cfg.lua", "\nInclude \"missing.cfg.lua\"", "{D}/ir/r1.cfg.lua:2: Include "
		  "\"missing.cfg.lua\": cannot read {D}/ir/missing.cfg.lua: no such file (Prosody "
		  "refuses to start with this config too); fix the path or remove the Include" },
		{ "r2.cfg.lua", "Include \"nodir/*.cfg.lua\"", "{D}/ir/r2.cfg.lua:1: Include "
		  "\"nodir/*.cfg.lua\": cannot open the directory {D}/ir/nodir: No such file or "
		  "directory (Prosody stops there too); create it or fix the Include" },
		{ "r3.cfg.lua", "Include \"r3.cfg.lua\"", "{D}/ir/r3.cfg.lua:1: Include "
		  "\"r3.cfg.lua\": includes nest deeper than 16 files; does a file include itself?" },
		{ "r4.cfg.lua", "Include \"bad.lua\"", "{D}/ir/bad.lua:3: string not closed: add the "
		  "closing ' (Prosody cannot load this file either)" },
	};
	tg_err err = { 0 };
	char rel[64], want[1024];

	(void)state;
	sub("ir");
	put("ir/bad.lua", "-- included\n\nVirtualHost 'x\n");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(rel, sizeof(rel), "ir/%s", cases[i].file);
		put(rel, cases[i].text);
		assert_null(load(rel, &err));
		assert_int_equal(err.cat, TG_ERR_USAGE);
		expand(want, sizeof(want), cases[i].msg);
		if (strcmp(err.msg, want) != 0)
			fail_msg("case %zu:\nwant %s\ngot  %s", i, want, err.msg);
	}
	assert_null(load("ir/none.cfg.lua", &err));
	snprintf(want, sizeof(want), "cannot read the Prosody config: %s/ir/none.cfg.lua: no such "
	    "file; give the file Prosody runs with (Debian: /etc/prosody/prosody.cfg.lua)", tmpdir);
	assert_string_equal(err.msg, want);
	chk_pcfg_free(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hosts),
		cmocka_unit_test(test_host_details),
		cmocka_unit_test(test_certificates),
		cmocka_unit_test(test_notes),
		cmocka_unit_test(test_ssl),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_truncations),
		cmocka_unit_test(test_long_string_nul),
		cmocka_unit_test(test_includes),
		cmocka_unit_test(test_include_refusals),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
