/* From inputs to subjects: directories are walked the way services lay out
 * their files (Prosody HOST.crt/HOST.key and HOST/fullchain.pem, certbot
 * live/NAME, PostgreSQL server.crt/server.key/root.crt/root.crl, a tlsgate CA
 * dir), every file is loaded, and keys are paired with certs: first by the
 * name the layout gives the key, then by public key. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <openssl/err.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "check/chk_int.h"
#include "tlsgate/util.h"

static const char *const cert_exts[] = {
	".crt", ".cer", ".pem", ".key", ".crl", ".p12", ".pfx", ".der", ".ca-bundle", NULL,
};

/* certbot's bookkeeping next to live/: old versions and CSRs, not served. */
static const char *const certbot_skip[] = {
	"archive", "csr", "keys", "accounts", "renewal", "renewal-hooks", NULL,
};

const char *
chk_basename(const char *path)
{
	const char *s = strrchr(path, '/');

	return s ? s + 1 : path;
}

static int
in_list(const char *name, const char *const *list)
{
	for (size_t i = 0; list[i] != NULL; i++)
		if (strcmp(name, list[i]) == 0)
			return 1;
	return 0;
}

static int
has_cert_ext(const char *name)
{
	const char *dot = strrchr(name, '.');

	for (size_t i = 0; dot != NULL && cert_exts[i] != NULL; i++)
		if (strcasecmp(dot, cert_exts[i]) == 0)
			return 1;
	return 0;
}

static int
add_file(chk_ctx *c, const char *path, int explicit_input)
{
	struct chk_file *f;

	if (c->nfiles == c->capfiles) {
		size_t ncap = c->capfiles ? c->capfiles * 2 : 64;
		struct chk_file **n = realloc(c->files, ncap * sizeof(*n));
		if (n == NULL)
			return -1;
		c->files = n;
		c->capfiles = ncap;
	}
	if ((f = chk_file_new(path, explicit_input)) == NULL)
		return -1;
	f->idx = c->nfiles;
	c->files[c->nfiles++] = f;
	return 0;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int scan_dir(chk_ctx *c, const char *dir, int depth, tg_err *err);

static int
scan_entry(chk_ctx *c, const char *dir, const char *name, int certbot_root, int depth,
    tg_err *err)
{
	char path[PATH_MAX];
	struct stat st;

	if (util_path_join(path, sizeof(path), dir, name, err) != 0)
		return -1;
	/* A file also named as a pair (a Prosody ssl option pointing into the
	 * certs dir) is checked once, as the pair. */
	if (c->npairs > 0 && chk_has_pair(c, path))
		return 0;
	if (stat(path, &st) != 0)
		return lstat(path, &st) == 0 && has_cert_ext(name) ? add_file(c, path, 0) : 0;
	if (S_ISDIR(st.st_mode)) {
		if (certbot_root && in_list(name, certbot_skip))
			return 0;
		return depth < CHK_SCAN_DEPTH ? scan_dir(c, path, depth + 1, err) : 0;
	}
	if (!S_ISREG(st.st_mode) || !has_cert_ext(name))
		return 0;
	return add_file(c, path, 0);
}

static int
scan_dir(chk_ctx *c, const char *dir, int depth, tg_err *err)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char **names = NULL, *live;
	size_t n = 0, cap = 0;
	int rc = -1, certbot_root;

	if (d == NULL)
		return tg_err_set(err, TG_ERR_IO, "cannot read directory %s: %s", dir, strerror(errno));
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (n == cap) {
			char **nn = realloc(names, (cap = cap ? cap * 2 : 64) * sizeof(*nn));
			if (nn == NULL)
				goto nomem;
			names = nn;
		}
		if ((names[n] = strdup(de->d_name)) == NULL)
			goto nomem;
		n++;
	}
	/* Sorted, so the report does not depend on the file system's order. */
	if (n == 0) {
		rc = 0;
		goto out;
	}
	qsort(names, n, sizeof(*names), cmp_str);
	live = bsearch(&(const char *){ "live" }, names, n, sizeof(*names), cmp_str);
	certbot_root = live != NULL;
	for (size_t i = 0; i < n; i++)
		if (scan_entry(c, dir, names[i], certbot_root, depth, err) != 0)
			goto out;
	rc = 0;
	goto out;
nomem:
	tg_err_set(err, TG_ERR_INTERNAL, "out of memory reading %s", dir);
out:
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	closedir(d);
	return rc;
}

int
chk_scan_inputs(chk_ctx *c, tg_err *err)
{
	for (size_t i = 0; i < c->ninputs; i++) {
		struct stat st;
		const char *p = c->inputs[i];

		if (stat(p, &st) == 0 && S_ISDIR(st.st_mode)) {
			if (scan_dir(c, p, 0, err) != 0)
				return -1;
		} else if (add_file(c, p, 1) != 0) {
			return tg_err_set(err, TG_ERR_INTERNAL, "out of memory");
		}
	}
	for (size_t i = 0; i < c->nfiles; i++)
		if (chk_file_load(c, c->files[i]) != 0)
			return tg_err_set(err, TG_ERR_INTERNAL, "out of memory loading %s",
			    c->files[i]->path);
	return 0;
}

/* --- Layout names --- */

static int
looks_like_host(const char *s, size_t n)
{
	int dot = 0;

	if (n == 9 && strncmp(s, "localhost", 9) == 0)
		return 1;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];
		if (ch == '.')
			dot = 1;
		else if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' || ch == '*' ||
		    (unsigned char)ch >= 0x80)) /* UTF-8: an internationalised name */
			return 0;
	}
	return dot && n > 2 && s[0] != '.' && s[n - 1] != '.';
}

/* The host a file's name gives, as certificates carry it (A-labels for an
 * internationalised name: bücher.example.crt is for xn--bcher-kva.example). */
static void
set_hint(struct chk_file *f, const char *s, size_t n)
{
	char given[CHK_NAME_MAX];
	tg_err ignored;

	snprintf(given, sizeof(given), "%.*s", (int)n, s);
	if (util_idna_to_ascii(given, f->host_hint, sizeof(f->host_hint), &ignored) != 0)
		f->host_hint[0] = '\0';
}

void
chk_dir_of(const char *path, char *out, size_t len)
{
	const char *s = strrchr(path, '/');

	if (s == NULL)
		snprintf(out, len, ".");
	else
		snprintf(out, len, "%.*s", (int)(s - path), path);
}

/* The key file the layout names for a cert file, and the host it is for:
 * HOST.crt -> HOST.key; DIR/fullchain.pem, DIR/cert.pem -> DIR/privkey.pem
 * (Prosody HOST/ and certbot live/NAME/); server.crt -> server.key. */
static int
layout_key_path(struct chk_file *f, char *key, size_t len)
{
	char dir[PATH_MAX];
	const char *base = chk_basename(f->path), *dot = strrchr(base, '.');
	size_t stem = dot ? (size_t)(dot - base) : strlen(base);
	int n;

	chk_dir_of(f->path, dir, sizeof(dir));
	if (strcmp(base, "fullchain.pem") == 0 || strcmp(base, "cert.pem") == 0) {
		const char *d = chk_basename(dir);
		if (looks_like_host(d, strlen(d)))
			set_hint(f, d, strlen(d));
		n = snprintf(key, len, "%s/privkey.pem", dir);
	} else if (dot != NULL && (strcasecmp(dot, ".crt") == 0 || strcasecmp(dot, ".cer") == 0 ||
	    strcasecmp(dot, ".pem") == 0)) {
		if (looks_like_host(base, stem))
			set_hint(f, base, stem);
		n = snprintf(key, len, "%s/%.*s.key", dir, (int)stem, base);
	} else {
		return 0;
	}
	return n > 0 && (size_t)n < len;
}

/* --- Indexes --- */

static int
cmp_spki(const void *a, const void *b)
{
	const struct chk_cert *x = *(const struct chk_cert *const *)a;
	const struct chk_cert *y = *(const struct chk_cert *const *)b;

	return memcmp(x->spki, y->spki, CHK_HASH_LEN);
}

static int
cmp_file_path(const void *a, const void *b)
{
	const char *key = a;
	const struct chk_file *f = *(const struct chk_file *const *)b;

	return strcmp(key, f->path);
}

static int
build_indexes(chk_ctx *c)
{
	size_t total = c->nanchors;

	for (size_t i = 0; i < c->nfiles; i++)
		total += c->files[i]->ncerts;
	c->cas = calloc(total + 1, sizeof(*c->cas));
	c->by_spki = calloc(total + 1, sizeof(*c->by_spki));
	if (c->cas == NULL || c->by_spki == NULL)
		return -1;
	for (size_t i = 0; i < c->nanchors; i++)
		c->cas[c->ncas++] = &c->anchors[i];
	for (size_t i = 0; i < c->nfiles; i++) {
		for (size_t j = 0; j < c->files[i]->ncerts; j++) {
			const struct chk_cert *cc = &c->files[i]->certs[j];
			c->by_spki[c->nspki++] = cc;
			if (cc->is_ca || cc->self_signed)
				c->cas[c->ncas++] = cc;
		}
	}
	qsort(c->by_spki, c->nspki, sizeof(*c->by_spki), cmp_spki);
	return 0;
}

/* Keys sorted by path for the layout lookup and scanned for the public key
 * lookup; both stay O(n log n) over 10,000 pairs. */
struct key_index {
	struct chk_file **by_path;
	struct chk_file **by_spki;
	size_t n;
};

static int
cmp_key_spki(const void *a, const void *b)
{
	const struct chk_file *x = *(const struct chk_file *const *)a;
	const struct chk_file *y = *(const struct chk_file *const *)b;

	return memcmp(x->key_spki, y->key_spki, CHK_HASH_LEN);
}

static int
cmp_files_path(const void *a, const void *b)
{
	return strcmp((*(const struct chk_file *const *)a)->path,
	    (*(const struct chk_file *const *)b)->path);
}

static struct chk_file *
find_key(struct key_index *ki, const unsigned char *spki)
{
	size_t lo = 0, hi = ki->n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int r = memcmp(ki->by_spki[mid]->key_spki, spki, CHK_HASH_LEN);
		if (r == 0)
			return ki->by_spki[mid];
		if (r < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static int
key_index_build(chk_ctx *c, struct key_index *ki)
{
	size_t n = 0;

	ki->by_path = calloc(c->nfiles + 1, sizeof(*ki->by_path));
	ki->by_spki = calloc(c->nfiles + 1, sizeof(*ki->by_spki));
	if (ki->by_path == NULL || ki->by_spki == NULL)
		return -1;
	for (size_t i = 0; i < c->nfiles; i++)
		ki->by_path[i] = c->files[i];
	qsort(ki->by_path, c->nfiles, sizeof(*ki->by_path), cmp_files_path);
	for (size_t i = 0; i < c->nfiles; i++)
		if (c->files[i]->key != NULL && c->files[i]->ncerts == 0)
			ki->by_spki[n++] = c->files[i];
	qsort(ki->by_spki, n, sizeof(*ki->by_spki), cmp_key_spki);
	ki->n = n;
	return 0;
}

static struct chk_file *
file_by_path(chk_ctx *c, struct key_index *ki, const char *path)
{
	struct chk_file **f = bsearch(path, ki->by_path, c->nfiles, sizeof(*ki->by_path),
	    cmp_file_path);

	return f ? *f : NULL;
}

/* --- Units --- */

struct chk_unit *
chk_unit_add(chk_ctx *c, enum chk_unit_kind kind, const char *name)
{
	struct chk_unit *u;

	if (c->nunits == c->capunits) {
		size_t ncap = c->capunits ? c->capunits * 2 : 64;
		struct chk_unit *n = realloc(c->units, ncap * sizeof(*n));
		if (n == NULL)
			return NULL;
		c->units = n;
		c->capunits = ncap;
	}
	u = &c->units[c->nunits++];
	memset(u, 0, sizeof(*u));
	u->kind = kind;
	/* A name longer than the room is cut (a path: the report shows its start). */
	snprintf(u->name, sizeof(u->name), "%.*s", (int)sizeof(u->name) - 1, name);
	return u;
}

int
chk_unit_add_host(struct chk_unit *u, const char *h)
{
	char **n;

	for (size_t i = 0; i < u->nhosts; i++)
		if (strcasecmp(u->hosts[i], h) == 0)
			return 0;
	if (u->nhosts == CHK_MAX_HOSTS)
		return 0;
	if ((n = realloc(u->hosts, (u->nhosts + 1) * sizeof(*n))) == NULL)
		return -1;
	u->hosts = n;
	if ((u->hosts[u->nhosts] = strdup(h)) == NULL)
		return -1;
	u->nhosts++;
	return 0;
}

static void
add_host(struct chk_unit *u, const char *h)
{
	(void)chk_unit_add_host(u, h); /* out of memory: one name less to check */
}

/* The leaf: the cert the key belongs to, else the first non-CA cert, else
 * the first. Not simply the first: a reversed chain must still be checked
 * against the right cert. */
static size_t
pick_leaf(const struct chk_file *f, const struct chk_file *key)
{
	size_t first_leaf = f->ncerts;

	for (size_t i = 0; i < f->ncerts && first_leaf == f->ncerts; i++)
		if (!f->certs[i].is_ca)
			first_leaf = i;
	/* A key matching a CA cert while a non-CA cert is present is a mixed-up
	 * key (key-mismatch), not a reason to call the CA the leaf. */
	if (key != NULL && key->key != NULL)
		for (size_t i = 0; i < f->ncerts; i++)
			if (memcmp(f->certs[i].spki, key->key_spki, CHK_HASH_LEN) == 0 &&
			    (!f->certs[i].is_ca || first_leaf == f->ncerts))
				return i;
	return first_leaf < f->ncerts ? first_leaf : 0;
}

static int
file_has_cert(const struct chk_file *g, const unsigned char *fp)
{
	for (size_t b = 0; b < g->ncerts; b++)
		if (memcmp(g->certs[b].fp, fp, CHK_HASH_LEN) == 0)
			return 1;
	return 0;
}

static int
same_dir(const char *a, const char *b)
{
	const char *sa = strrchr(a, '/'), *sb = strrchr(b, '/');
	size_t la = sa ? (size_t)(sa - a) : 0, lb = sb ? (size_t)(sb - b) : 0;

	return la == lb && strncmp(a, b, la) == 0;
}

/* g holds every cert of f, and is bigger (or identical and listed first). */
static int
covers(const struct chk_file *g, const struct chk_file *f)
{
	if (g == f || g->ncerts < f->ncerts || !same_dir(f->path, g->path))
		return 0;
	if (g->ncerts == f->ncerts && g->idx > f->idx)
		return 0;
	for (size_t a = 0; a < f->ncerts; a++)
		if (!file_has_cert(g, f->certs[a].fp))
			return 0;
	return 1;
}

/* Every cert of f is also in another file in the same directory: certbot's
 * cert.pem and chain.pem next to fullchain.pem. Candidates come from the
 * public key index, so this stays cheap over thousands of files. */
static int
is_covered(chk_ctx *c, const struct chk_file *f)
{
	const unsigned char *spki = f->certs[0].spki;
	size_t lo = 0, hi = c->nspki;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (memcmp(c->by_spki[mid]->spki, spki, CHK_HASH_LEN) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < c->nspki && memcmp(c->by_spki[lo]->spki, spki, CHK_HASH_LEN) == 0; lo++) {
		const struct chk_file *g = c->by_spki[lo]->file;
		if (g != NULL && covers(g, f))
			return 1;
	}
	return 0;
}

static int
serve_or_ca(chk_ctx *c, struct chk_file *f, const struct chk_file *key)
{
	for (size_t i = 0; key == NULL && i < c->nca_inputs; i++)
		if (strcmp(c->ca_inputs[i], f->path) == 0)
			return CHK_UNIT_CA;
	if (f->expects_key && (key != NULL || f->host_hint[0] != '\0' ||
	    strcmp(chk_basename(f->path), "server.crt") == 0 ||
	    strcmp(chk_basename(f->path), "fullchain.pem") == 0))
		return CHK_UNIT_SERVE;
	if (f->explicit_input && c->nhosts > 0)
		return CHK_UNIT_SERVE;
	for (size_t i = 0; i < f->ncerts; i++)
		if (!f->certs[i].is_ca)
			return CHK_UNIT_SERVE;
	return CHK_UNIT_CA;
}

/* The key the user paired with this cert file, if any. */
static const char *
named_key(chk_ctx *c, const struct chk_file *f)
{
	for (size_t i = 0; i < c->npairs; i++)
		if (strcmp(c->pair_cert[i], f->path) == 0)
			return c->pair_key[i];
	return NULL;
}

/* `tlsgate check CERT KEY`: exactly one cert file and one key file named on
 * the command line belong together. */
static int
pair_explicit_two(chk_ctx *c)
{
	struct chk_file *cert = NULL, *key = NULL;
	size_t n = 0;

	if (c->npairs > 0)
		return 0;
	for (size_t i = 0; i < c->nfiles; i++) {
		struct chk_file *f = c->files[i];
		if (!f->explicit_input || f->crl != NULL)
			continue;
		n++;
		if (f->ncerts > 0 && f->key == NULL && !f->key_encrypted)
			cert = f;
		else if (f->ncerts == 0 && (f->key != NULL || f->key_encrypted))
			key = f;
	}
	if (n != 2 || cert == NULL || key == NULL)
		return 0;
	if ((c->pair_cert = malloc(sizeof(char *))) == NULL ||
	    (c->pair_key = malloc(sizeof(char *))) == NULL)
		return -1;
	c->pair_cert[0] = strdup(cert->path);
	c->pair_key[0] = strdup(key->path);
	if (c->pair_cert[0] == NULL || c->pair_key[0] == NULL) {
		free(c->pair_cert[0]);
		free(c->pair_key[0]);
		return -1;
	}
	c->npairs = 1;
	return 0;
}

static int
unit_for_certs(chk_ctx *c, struct key_index *ki, struct chk_file *f)
{
	char keypath[PATH_MAX];
	const char *named;
	struct chk_file *key = NULL;
	struct chk_unit *u;
	int kind;

	if (f->key != NULL || f->key_encrypted) {
		key = f; /* combined cert+key file (HAProxy style, p12) */
	} else if ((named = named_key(c, f)) != NULL) {
		key = file_by_path(c, ki, named);
		f->expects_key = 1;
	} else if (layout_key_path(f, keypath, sizeof(keypath))) {
		key = file_by_path(c, ki, keypath);
		f->expects_key = strcmp(chk_basename(f->path), "server.crt") == 0 ||
		    f->host_hint[0] != '\0' || key != NULL;
	}
	if (key == NULL)
		key = find_key(ki, f->certs[pick_leaf(f, NULL)].spki);
	for (size_t i = 0; key == NULL && i < f->ncerts; i++)
		key = find_key(ki, f->certs[i].spki);
	kind = serve_or_ca(c, f, key);
	if ((u = chk_unit_add(c, (enum chk_unit_kind)kind, f->path)) == NULL)
		return -1;
	u->chain = f;
	u->key = key;
	if (key != NULL)
		key->paired = 1;
	f->paired = 1;
	u->certs = f->certs;
	u->ncerts = f->ncerts;
	u->leaf = pick_leaf(f, key);
	if (kind == CHK_UNIT_SERVE && f->host_hint[0] != '\0')
		add_host(u, f->host_hint);
	return 0;
}

static int
hint_is(const struct chk_unit *u, const char *host)
{
	return u->kind == CHK_UNIT_SERVE && !u->endpoint && u->chain != NULL &&
	    strcasecmp(u->chain->host_hint, host) == 0;
}

static int
leaf_covers(const struct chk_unit *u, const char *host)
{
	return u->kind == CHK_UNIT_SERVE && !u->endpoint && u->ncerts > 0 &&
	    chk_name_matches(u->certs[u->leaf].x, host);
}

/* Gives each --host to the units that serve it, the way Prosody picks a
 * cert: the one its ssl option names, and only that; else HOST's own
 * files, else the parent domain's (conference.example.com uses
 * example.com.crt); else any cert that covers it (a certbot lineage with
 * many names); else every served cert without a host in its name (cert.pem,
 * server.crt). A cert an ssl option names is not in the certs dir's index,
 * so it serves no other host. Returns 0 when no unit takes it. */
static int
assign_host(chk_ctx *c, const struct chk_host *h)
{
	const char *host = h->name, *parent = strchr(host, '.');
	int taken = 0;

	for (size_t i = 0; h->pin != NULL && i < c->nunits; i++) {
		struct chk_unit *u = &c->units[i];
		if (u->kind == CHK_UNIT_SERVE && !u->endpoint && u->chain != NULL &&
		    strcmp(u->chain->path, h->pin) == 0) {
			add_host(u, host);
			taken = 1;
		}
	}
	for (int pass = 0; h->pin == NULL && pass < 4 && !taken; pass++) {
		for (size_t i = 0; i < c->nunits; i++) {
			struct chk_unit *u = &c->units[i];
			int hit;
			switch (pass) {
			case 0: hit = hint_is(u, host); break;
			case 1: hit = parent != NULL && hint_is(u, parent + 1); break;
			case 2: hit = leaf_covers(u, host); break;
			default:
				hit = u->kind == CHK_UNIT_SERVE && !u->endpoint &&
				    (u->chain == NULL || u->chain->host_hint[0] == '\0');
			}
			if (hit && !(u->chain != NULL && u->chain->pinned)) {
				add_host(u, host);
				taken = 1;
			}
		}
	}
	return taken;
}

/* A --host no cert is there for gets a subject of its own: the rule
 * host-uncovered reports it. */
static int
assign_hosts(chk_ctx *c)
{
	for (size_t i = 0; i < c->nhosts; i++)
		for (size_t j = 0; c->hosts[i].pin != NULL && j < c->nfiles; j++)
			if (strcmp(c->files[j]->path, c->hosts[i].pin) == 0)
				c->files[j]->pinned = 1;
	for (size_t i = 0; i < c->nhosts; i++) {
		struct chk_unit *u;
		char name[CHK_NAME_MAX + 16];

		if (assign_host(c, &c->hosts[i]))
			continue;
		snprintf(name, sizeof(name), "host %s", c->hosts[i].name);
		if ((u = chk_unit_add(c, CHK_UNIT_OTHER, name)) == NULL)
			return -1;
		u->uncovered = 1;
		add_host(u, c->hosts[i].name);
	}
	return 0;
}

/* What the Prosody config reader could not follow is reported under the
 * config file it is in: one subject per file with notes. */
static int
note_units(chk_ctx *c)
{
	const struct chk_pcfg *p = c->prosody;

	if (p == NULL || p->nnotes == 0)
		return 0;
	if ((c->note_unit = calloc(p->nnotes, sizeof(*c->note_unit))) == NULL)
		return -1;
	for (size_t i = 0; i < p->nnotes; i++) {
		size_t j;
		for (j = 0; j < i && p->notes[j].file != p->notes[i].file; j++)
			;
		if (j < i) {
			c->note_unit[i] = c->note_unit[j];
			continue;
		}
		if (chk_unit_add(c, CHK_UNIT_OTHER, p->notes[i].file) == NULL)
			return -1;
		c->note_unit[i] = c->nunits - 1;
	}
	return 0;
}

int
chk_build_units(chk_ctx *c, tg_err *err)
{
	struct key_index ki = { 0 };
	int rc = -1;

	if (build_indexes(c) != 0 || key_index_build(c, &ki) != 0 || pair_explicit_two(c) != 0)
		goto nomem;
	for (size_t i = 0; i < c->nfiles; i++) {
		struct chk_file *f = c->files[i];
		if (f->ncerts == 0)
			continue;
		if (!f->explicit_input && is_covered(c, f)) {
			f->covered = 1;
			continue;
		}
		if (unit_for_certs(c, &ki, f) != 0)
			goto nomem;
	}
	if (assign_hosts(c) != 0 || note_units(c) != 0)
		goto nomem;
	/* A config's own findings: one subject per file. */
	if (c->ncfg_notes > 0 &&
	    (c->cfg_note_unit = calloc(c->ncfg_notes, sizeof(*c->cfg_note_unit))) == NULL)
		goto nomem;
	for (size_t i = 0; i < c->ncfg_notes; i++) {
		size_t j;
		for (j = 0; j < i && strcmp(c->cfg_notes[j].file, c->cfg_notes[i].file) != 0; j++)
			;
		if (j < i) {
			c->cfg_note_unit[i] = c->cfg_note_unit[j];
			continue;
		}
		if (chk_unit_add(c, CHK_UNIT_OTHER, c->cfg_notes[i].file) == NULL)
			goto nomem;
		c->cfg_note_unit[i] = c->nunits - 1;
	}
	/* A PostgreSQL config's own finding (ssl off) has the file as subject. */
	c->pg_unit = -1;
	if (c->pg_conf[0] != '\0' && c->pg_ssl_off_file[0] != '\0') {
		if (chk_unit_add(c, CHK_UNIT_OTHER, c->pg_ssl_off_file) == NULL)
			goto nomem;
		c->pg_unit = (long)c->nunits - 1;
	}
	/* What is left: CRLs, lone keys, covered copies and unusable files. */
	for (size_t i = 0; i < c->nfiles; i++) {
		struct chk_file *f = c->files[i];
		enum chk_unit_kind kind = CHK_UNIT_OTHER;
		struct chk_unit *u;

		if (f->paired)
			continue;
		if (f->crl != NULL)
			kind = CHK_UNIT_CRL;
		else if (f->key != NULL || f->key_encrypted)
			kind = CHK_UNIT_KEY;
		if ((u = chk_unit_add(c, kind, f->path)) == NULL)
			goto nomem;
		u->chain = kind == CHK_UNIT_KEY ? NULL : f;
		u->key = kind == CHK_UNIT_KEY ? f : NULL;
		f->paired = 1;
	}
	rc = 0;
	goto out;
nomem:
	tg_err_set(err, TG_ERR_INTERNAL, "out of memory pairing keys with certificates");
out:
	free(ki.by_path);
	free(ki.by_spki);
	return rc;
}

/* --- Issuer lookup --- */

static const struct chk_cert *find_issuer(chk_ctx *c, const struct chk_cert *cc, int *from_system);

int
chk_issued_by(X509 *child, X509 *parent)
{
	EVP_PKEY *pub;
	int ok;

	if (X509_NAME_cmp(X509_get_issuer_name(child), X509_get_subject_name(parent)) != 0)
		return 0;
	pub = X509_get0_pubkey(parent);
	ok = pub != NULL && X509_verify(child, pub) == 1;
	ERR_clear_error();
	return ok;
}

static int
load_system_store(chk_ctx *c)
{
	c->sys_store_tried = 1;
	if (!c->system_store || (c->sys_store = X509_STORE_new()) == NULL)
		return -1;
	if (X509_STORE_set_default_paths(c->sys_store) != 1) {
		X509_STORE_free(c->sys_store);
		c->sys_store = NULL;
		ERR_clear_error();
		return -1;
	}
	return 0;
}

static int
in_system_store(chk_ctx *c, X509 *x)
{
	X509_STORE_CTX *sc;
	X509 *issuer = NULL;
	int found = 0;

	if (!c->sys_store_tried)
		(void)load_system_store(c);
	if (c->sys_store == NULL || (sc = X509_STORE_CTX_new()) == NULL)
		return 0;
	if (X509_STORE_CTX_init(sc, c->sys_store, x, NULL) == 1 &&
	    X509_STORE_CTX_get1_issuer(&issuer, sc, x) == 1)
		found = 1;
	X509_free(issuer);
	X509_STORE_CTX_free(sc);
	ERR_clear_error();
	return found;
}

const struct chk_cert *
chk_find_issuer(chk_ctx *c, const struct chk_cert *cc, int *from_system)
{
	const struct chk_cert *found;

	/* One-entry memo: thousands of chains end in the same (shared, see the
	 * decode cache) intermediate, and each lookup costs a signature check. */
	if (c->memo_x != NULL && c->memo_x == cc->x) {
		*from_system = c->memo_system;
		return c->memo_issuer;
	}
	found = find_issuer(c, cc, from_system);
	c->memo_x = cc->x;
	c->memo_issuer = found;
	c->memo_system = *from_system;
	return found;
}

static const struct chk_cert *
find_issuer(chk_ctx *c, const struct chk_cert *cc, int *from_system)
{
	*from_system = 0;
	for (size_t i = 0; i < c->ncas; i++) {
		const struct chk_cert *ca = c->cas[i];
		if (ca == cc || memcmp(ca->fp, cc->fp, CHK_HASH_LEN) == 0)
			continue;
		if (chk_issued_by(cc->x, ca->x))
			return ca;
	}
	if (in_system_store(c, cc->x))
		*from_system = 1;
	return NULL;
}
