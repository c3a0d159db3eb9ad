/* The rules. Each rule is a small function and a row in chk_rules[]: a
 * stable code, a fixed severity, a one-line summary. File rules look at one
 * file's bytes and metadata; unit rules look at a served chain with its key
 * (or a CA, a CRL, an endpoint). Each finding names the file, says what is
 * wrong and why it matters, and gives a concrete fix. */
#define _GNU_SOURCE
#include <errno.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check/chk_int.h"
#include "tlsgate/pki.h"

#define DAY 86400

static void TG_PRINTF(3, 4)
fixf(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, len, fmt, ap);
	va_end(ap);
}

static int
is_key_file(const struct chk_file *f)
{
	return f->key != NULL || f->key_encrypted;
}

static struct chk_unit *
U(chk_ctx *c, size_t unit)
{
	return &c->units[unit];
}

/* The unit's leaf, for rules about served certificates. */
static const struct chk_cert *
serve_leaf(chk_ctx *c, size_t unit)
{
	struct chk_unit *u = U(c, unit);

	if (u->kind != CHK_UNIT_SERVE || u->ncerts == 0)
		return NULL;
	return &u->certs[u->leaf];
}

static const char *
unit_file(chk_ctx *c, size_t unit)
{
	struct chk_unit *u = U(c, unit);

	return u->chain ? u->chain->path : (u->endpoint ? u->label : NULL);
}

static void
fmt_time(int64_t t, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	strftime(buf, len, "%Y-%m-%d %H:%M UTC", &tm);
}

/* A shell command printing cert #n of a PEM file (awk counts BEGIN lines). */
static size_t
cmd_cert_n(char *buf, size_t len, const char *path, int n)
{
	int w = snprintf(buf, len, "awk -v n=%d '/-----BEGIN CERTIFICATE-----/{i++} i==n' %s",
	    n, path);
	return w > 0 ? (size_t)w : 0;
}

/* ================= File rules ================= */

static void
r_unreadable(chk_ctx *c, const struct chk_rule *r, size_t unit, struct chk_file *f)
{
	char fix[512];

	if (f->read_errno == 0)
		return;
	switch (f->read_errno) {
	case ENOENT:
		fixf(fix, sizeof(fix), "check the path; if it is a symlink, point it at an existing "
		    "file (ls -l %s)", f->path);
		chk_emit(c, r, unit, f->path, fix, "%s does not exist%s", f->path,
		    f->explicit_input ? "" : " (a dangling symlink)");
		break;
	case EACCES:
		fixf(fix, sizeof(fix), "run the check as a user that may read it (sudo tlsgate check "
		    "...), or fix the mode/owner: ls -l %s", f->path);
		chk_emit(c, r, unit, f->path, fix, "%s cannot be read: permission denied for uid %u",
		    f->path, (unsigned)geteuid());
		break;
	case EINVAL: /* util_open_input: a FIFO, device or socket */
		fixf(fix, sizeof(fix), "point the service at a regular certificate/key file");
		chk_emit(c, r, unit, f->path, fix, "%s is not a regular file (a FIFO, device or "
		    "socket); it was not read", f->path);
		break;
	default:
		fixf(fix, sizeof(fix), "point the service at a regular certificate/key file");
		chk_emit(c, r, unit, f->path, fix, "%s cannot be read: %s", f->path,
		    strerror(f->read_errno));
	}
}

static void
r_not_certificate(chk_ctx *c, const struct chk_rule *r, size_t unit, struct chk_file *f)
{
	char fix[512];

	if (f->read_errno || f->empty || f->bare_base64 || f->ncerts || is_key_file(f) ||
	    f->crl || f->p12 || f->corrupt)
		return;
	fixf(fix, sizeof(fix), "replace %s with the PEM certificate (-----BEGIN CERTIFICATE-----) "
	    "or key the service expects; `openssl storeutl -noout -text %s` shows what it holds",
	    f->path, f->path);
	if (f->other[0] != '\0')
		chk_emit(c, r, unit, f->path, fix, "%s holds %s", f->path, f->other);
	else if (f->fmt == CHK_FMT_BINARY)
		chk_emit(c, r, unit, f->path, fix, "%s is binary data that is neither a DER "
		    "certificate, key or CRL nor a PKCS#12 file", f->path);
	else
		chk_emit(c, r, unit, f->path, fix, "%s is text without any PEM block: not a "
		    "certificate, key or CRL", f->path);
}

static void
r_der_not_pem(chk_ctx *c, const struct chk_rule *r, size_t unit, struct chk_file *f)
{
	const char *tool = f->ncerts ? "x509" : (f->crl ? "crl" : "pkey");
	char fix[512];

	if (f->fmt != CHK_FMT_DER)
		return;
	fixf(fix, sizeof(fix), "openssl %s -inform DER -in %s -out %s.pem && mv %s.pem %s",
	    tool, f->path, f->path, f->path, f->path);
	chk_emit(c, r, unit, f->path, fix, "%s is DER (binary), but services (Prosody, "
	    "PostgreSQL, nginx) read PEM: they fail with \"no start line\"", f->path);
}

static void
r_no_start_line(chk_ctx *c, const struct chk_rule *r, size_t unit, struct chk_file *f)
{
	char fix[512];

	if (f->read_errno || (!f->empty && !f->bare_base64))
		return;
	if (f->empty) {
		fixf(fix, sizeof(fix), "copy the certificate or key into %s again (the copy or "
		    "download that made it failed)", f->path);
		chk_emit(c, r, unit, f->path, fix, "%s is empty; OpenSSL reports this as \"no start "
		    "line\"", f->path);
		return;
	}
	fixf(fix, sizeof(fix), "restore the -----BEGIN CERTIFICATE----- / -----END CERTIFICATE----- "
	    "lines (or BEGIN/END PRIVATE KEY for a key) around the base64 text in %s", f->path);
	chk_emit(c, r, unit, f->path, fix, "%s is base64 without a -----BEGIN ...----- line "
	    "(lost in copy and paste); OpenSSL reports this as \"no start line\"", f->path);
}

static void
r_pem_crlf(chk_ctx *c, const struct chk_rule *r, size_t unit, struct chk_file *f)
{
	char fix[512];

	if (!f->crlf)
		return;
	fixf(fix, sizeof(fix), "sed -i 's/\\r$//' %s", f->path);
	chk_emit(c, r, unit, f->path, fix, "%s has Windows (CRLF) line endings; OpenSSL copes, "
	    "but some TLS stacks and tools reject or mangle them", f->path);
}

static void
r_pem_junk(chk_ctx *c, const struct chk_rule *r, size_t unit, struct chk_file *f)
{
	char fix[1024];

	if (!f->junk || f->fmt != CHK_FMT_PEM)
		return;
	fixf(fix, sizeof(fix), "sed -n '/^-----BEGIN /,/^-----END /p' %s > %s.clean && "
	    "mv %s.clean %s", f->path, f->path, f->path, f->path);
	chk_emit(c, r, unit, f->path, fix, "%s has text outside its PEM blocks (e.g. the dump of "
	    "`openssl x509 -text`); stricter readers (Java, Go, some appliances) refuse it",
	    f->path);
}

static void
r_pem_corrupt(chk_ctx *c, const struct chk_rule *r, size_t unit, struct chk_file *f)
{
	char fix[512];

	if (!f->corrupt)
		return;
	fixf(fix, sizeof(fix), "copy %s again from its source; a truncated or edited block cannot "
	    "be repaired", f->path);
	chk_emit(c, r, unit, f->path, fix, "%s: %d PEM block(s) (%s) do not decode: truncated, "
	    "missing the END line, or damaged base64; the first: %s", f->path, f->corrupt,
	    f->corrupt_label, f->corrupt_where);
}

static void
r_key_encrypted(chk_ctx *c, const struct chk_rule *r, size_t unit, struct chk_file *f)
{
	char fix[1024];

	if (f->key_refused != NULL) {
		/* src/pki's message says which parameter and how to re-encrypt. */
		fixf(fix, sizeof(fix), "encrypt the key again with default settings (`openssl pkcs8 "
		    "-topk8 -v2 aes-256-cbc`, `openssl pkcs12 -export`), or ask its sender to");
		chk_emit(c, r, unit, f->path, fix, "%s", f->key_refused);
		return;
	}
	if (!f->key_encrypted || (f->keypass != NULL && f->keypass->npasses == 0 &&
	    f->keypass->failed[0] == '\0'))
		return; /* the service gets its passphrase itself: key-passphrase-external */
	fixf(fix, sizeof(fix), "mv %s %s.orig && tlsgate key decrypt %s.orig --out %s --pass-file "
	    "PASSFILE (or tell the service the passphrase; check with tlsgate check --pass-file "
	    "PASSFILE)", f->path, f->path, f->path, f->path);
	if (f->keypass != NULL && f->keypass->failed[0] != '\0')
		chk_emit(c, r, unit, f->path, fix, "%s is passphrase-protected and %s, which gives "
		    "the service its passphrase, %s: the service fails to load it", f->path,
		    f->keypass->origin, f->keypass->failed);
	else if (f->keypass != NULL)
		chk_emit(c, r, unit, f->path, fix, "%s is passphrase-protected and the passphrase%s "
		    "from %s do%s not decrypt it: the service fails to load it", f->path,
		    f->keypass->npasses > 1 ? "s" : "", f->keypass->origin,
		    f->keypass->npasses > 1 ? "" : "es");
	else if (f->key_bad_pass)
		chk_emit(c, r, unit, f->path, fix, "%s is passphrase-protected and the passphrase "
		    "given does not decrypt it", f->path);
	else
		chk_emit(c, r, unit, f->path, fix, "%s is passphrase-protected and no passphrase was "
		    "given: a service started unattended cannot read it (nginx needs "
		    "ssl_password_file, PostgreSQL ssl_passphrase_command, Prosody `password` in its "
		    "ssl table)", f->path);
}

/* The service's config gets the passphrase by running something tlsgate
 * did not run or that did not answer in time: whether it opens the key is
 * not known here. */
static void
r_key_passphrase_external(chk_ctx *c, const struct chk_rule *r, size_t unit, struct chk_file *f)
{
	char fix[512];

	if (!f->key_encrypted || f->keypass == NULL || f->keypass->npasses > 0 ||
	    f->keypass->failed[0] != '\0')
		return;
	fixf(fix, sizeof(fix), "to check it opens the key: run that command yourself into a file, "
	    "then tlsgate check %s --pass-file FILE", f->path);
	chk_emit(c, r, unit, f->path, fix, "%s is passphrase-protected; %s gives the service its "
	    "passphrase, which tlsgate did not run (or which did not answer in time): that it "
	    "opens the key was not checked",
	    f->path, f->keypass->origin);
}

/* Whether PostgreSQL's key rule (be-secure-common.c, check_ssl_key_file)
 * holds for a key: the one a PostgreSQL config names, or one in a data
 * directory (PG_VERSION next to it). */
static int
pg_context(const chk_ctx *c, const struct chk_file *f)
{
	char dir[PATH_MAX], marker[PATH_MAX + 16];

	if (c->pg_keys)
		return 1;
	chk_dir_of(f->path, dir, sizeof(dir));
	snprintf(marker, sizeof(marker), "%s/PG_VERSION", dir);
	return access(marker, F_OK) == 0;
}

static int
pg_key_rule(const chk_ctx *c, const struct chk_file *f)
{
	return c->have_owner && is_key_file(f) && !f->read_errno && pg_context(c, f);
}

static int
world_readable(const struct chk_file *f)
{
	return is_key_file(f) && !f->read_errno && (f->st.st_mode & S_IROTH);
}

static void
key_world_fix(const chk_ctx *c, const struct chk_file *f, char *fix, size_t len)
{
	if (c->have_owner)
		fixf(fix, len, "chown %s:%s %s && chmod %o %s", c->owner.user, c->owner.group,
		    f->path, (unsigned)util_owner_key_mode(&c->owner), f->path);
	else
		fixf(fix, len, "chmod o-rwx %s", f->path);
}

/* PostgreSQL refuses a server key anyone may read. */
static void
r_key_world_readable(chk_ctx *c, const struct chk_rule *r, size_t unit, struct chk_file *f)
{
	char fix[512];

	if (!world_readable(f) || !pg_context(c, f))
		return;
	key_world_fix(c, f, fix, sizeof(fix));
	chk_emit(c, r, unit, f->path, fix, "private key %s is readable by every user (mode %04o): "
	    "PostgreSQL refuses it (\"has group or world access\")", f->path,
	    (unsigned)(f->st.st_mode & 07777));
}

/* Elsewhere the service still loads it: a leak waiting to happen. */
static void
r_key_exposed(chk_ctx *c, const struct chk_rule *r, size_t unit, struct chk_file *f)
{
	char fix[512];

	if (!world_readable(f) || pg_context(c, f))
		return;
	key_world_fix(c, f, fix, sizeof(fix));
	chk_emit(c, r, unit, f->path, fix, "private key %s is readable by every user (mode %04o): "
	    "`sudo -u nobody cat %s` succeeds; the service loads it, and so can anyone on this "
	    "machine", f->path, (unsigned)(f->st.st_mode & 07777), f->path);
}

/* PostgreSQL's rule for the server's key: owned by the server's user or by
 * root. */
static void
r_key_owner(chk_ctx *c, const struct chk_rule *r, size_t unit, struct chk_file *f)
{
	char fix[512];

	if (!pg_key_rule(c, f) || f->st.st_uid == c->owner.uid || f->st.st_uid == 0)
		return;
	fixf(fix, sizeof(fix), "chown %s %s && chmod 600 %s   (or: chown root:%s %s && chmod 640 %s)",
	    c->owner.user, f->path, f->path, c->owner.group, f->path, f->path);
	chk_emit(c, r, unit, f->path, fix, "private key %s is owned by uid %u, neither %s nor root: "
	    "PostgreSQL refuses to start with it", f->path, (unsigned)f->st.st_uid, c->owner.user);
}

/* The same rule's modes: the server's own key without group or other
 * access; root's with at most group read. */
static void
r_key_mode(chk_ctx *c, const struct chk_rule *r, size_t unit, struct chk_file *f)
{
	mode_t m = f->st.st_mode & 07777;
	char fix[512];

	if (!pg_key_rule(c, f) || (m & S_IROTH))
		return; /* world-readable has its own rule */
	if (f->st.st_uid == c->owner.uid && c->owner.uid != 0 && (m & (S_IRWXG | S_IRWXO))) {
		fixf(fix, sizeof(fix), "chmod 600 %s", f->path);
		chk_emit(c, r, unit, f->path, fix, "private key %s is owned by %s with mode %04o: "
		    "PostgreSQL refuses it (\"has group or world access\"); it wants 0600",
		    f->path, c->owner.user, (unsigned)m);
	} else if (f->st.st_uid == 0 && (m & (S_IWGRP | S_IXGRP | S_IRWXO))) {
		fixf(fix, sizeof(fix), "chmod 640 %s", f->path);
		chk_emit(c, r, unit, f->path, fix, "private key %s is owned by root with mode %04o: "
		    "PostgreSQL refuses it (\"has group or world access\"); at most 0640",
		    f->path, (unsigned)m);
	}
}

/* What the kernel answers when the service's account opens the key. */
static void
r_key_service_unreadable(chk_ctx *c, const struct chk_rule *r, size_t unit, struct chk_file *f)
{
	char fix[512], why[512], from[PATH_MAX + 160] = "";

	if (!c->have_owner || c->owner.reader_uid == 0 || !is_key_file(f) || f->read_errno ||
	    util_owner_can_read(&c->owner, f->path, why, sizeof(why)) != 0)
		return;
	if (c->owner_from[0] != '\0')
		snprintf(from, sizeof(from), " (%s; give --owner when it runs as another "
		    "account)", c->owner_from);
	fixf(fix, sizeof(fix), "chown %s:%s %s && chmod %o %s, and let %s through every directory "
	    "above it (chmod o+x, or the group's x)", c->owner.user, c->owner.group, f->path,
	    (unsigned)util_owner_key_mode(&c->owner), f->path, c->owner.reader);
	chk_emit(c, r, unit, f->path, fix, "private key %s cannot be read by %s%s: %s; the "
	    "service fails to load it", f->path, c->owner.reader, from, why);
}

/* The pair a service's config names path in: 'c' as its certificate, 'k'
 * as its key (0: none); *other is the other file of the pair. */
static int
pair_role(const chk_ctx *c, const char *path, const char **other)
{
	for (size_t i = 0; i < c->npairs; i++) {
		if (strcmp(c->pair_cert[i], path) == 0) {
			*other = c->pair_key[i];
			return 'c';
		}
		if (strcmp(c->pair_key[i], path) == 0) {
			*other = c->pair_cert[i];
			return 'k';
		}
	}
	return 0;
}

static const struct chk_file *
file_named(const chk_ctx *c, const char *path)
{
	for (size_t i = 0; i < c->nfiles; i++)
		if (strcmp(c->files[i]->path, path) == 0)
			return c->files[i];
	return NULL;
}

/* A file named as a certificate that holds only a key, or as a key that
 * holds only certificates: the service cannot load it (nginx "no start
 * line", mosquitto "Unable to load server certificate"). */
static void
r_wrong_file_kind(chk_ctx *c, const struct chk_rule *r, size_t unit, struct chk_file *f)
{
	const struct chk_file *o;
	const char *other = NULL;
	int role = pair_role(c, f->path, &other);
	char fix[1024];

	if (role == 'c' && (f->ncerts > 0 || !is_key_file(f)))
		return;
	if (role == 'k' && (is_key_file(f) || f->ncerts == 0))
		return;
	if (role == 0)
		return;
	o = file_named(c, other);
	if (o != NULL && (role == 'c' ? o->ncerts > 0 && !is_key_file(o) : is_key_file(o) &&
	    o->ncerts == 0)) {
		if (role == 'k')
			return; /* said once, under the certificate's name */
		fixf(fix, sizeof(fix), "swap the two in the config: the certificate file is %s, "
		    "the key file %s", other, f->path);
		chk_emit(c, r, unit, f->path, fix, "the certificate and key are swapped: %s, named "
		    "as the certificate, holds a private key, and %s, named as its key, holds the "
		    "certificate; the service cannot load either and does not start", f->path,
		    other);
		return;
	}
	fixf(fix, sizeof(fix), "name the %s file there (`openssl storeutl -noout -text %s` shows "
	    "what it holds)", role == 'c' ? "certificate" : "private key", f->path);
	chk_emit(c, r, unit, f->path, fix, "%s is named as the %s of %s but holds %s: the service "
	    "cannot load it and does not start", f->path, role == 'c' ? "certificate" : "key",
	    other, role == 'c' ? "only a private key" : "certificates and no private key");
}

static void
r_p12_legacy(chk_ctx *c, const struct chk_rule *r, size_t unit, struct chk_file *f)
{
	char fix[512];

	if (!f->p12 || !f->p12_legacy)
		return;
	fixf(fix, sizeof(fix), "keep it only for clients that need it (old macOS, Windows 7, "
	    "Java 8); for others: openssl pkcs12 -in %s -nodes | openssl pkcs12 -export "
	    "-out modern.p12", f->path);
	chk_emit(c, r, unit, f->path, fix, "%s uses legacy PKCS#12 encryption (%s): OpenSSL 3 "
	    "reads it only with the legacy provider%s", f->path, f->p12_alg,
	    f->p12_locked ? "; its contents were not checked (pass --pass-file)" : "");
}

/* ================= Chain rules ================= */

/* The certification path inside the served list, from the leaf: path[k] is
 * the index of the k-th cert. Links follow names (a wrong signature is its
 * own finding, not a break); duplicates are skipped. */
struct path {
	size_t idx[32];
	size_t n;
	int on_path[32];
	int dup[32];
};

static void
build_path(const struct chk_unit *u, struct path *p)
{
	size_t n = u->ncerts < 32 ? u->ncerts : 32;

	memset(p, 0, sizeof(*p));
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < i; j++)
			if (memcmp(u->certs[i].fp, u->certs[j].fp, CHK_HASH_LEN) == 0)
				p->dup[i] = 1;
	p->idx[p->n++] = u->leaf;
	p->on_path[u->leaf] = 1;
	for (;;) {
		const struct chk_cert *cur = &u->certs[p->idx[p->n - 1]];
		size_t next = n;

		if (cur->self_issued)
			break;
		for (size_t j = 0; j < n; j++) {
			if (p->on_path[j] || p->dup[j] ||
			    X509_NAME_cmp(X509_get_issuer_name(cur->x),
			    X509_get_subject_name(u->certs[j].x)) != 0)
				continue;
			if (next == n || chk_issued_by(cur->x, u->certs[j].x))
				next = j;
		}
		if (next == n || p->n == 32)
			break;
		p->idx[p->n++] = next;
		p->on_path[next] = 1;
	}
}

static int
chain_unit(chk_ctx *c, size_t unit, struct path *p)
{
	struct chk_unit *u = U(c, unit);

	if (u->kind != CHK_UNIT_SERVE || u->ncerts == 0)
		return 0;
	build_path(u, p);
	return 1;
}

static void
r_chain_order(chk_ctx *c, const struct chk_rule *r, size_t unit)
{
	struct chk_unit *u = U(c, unit);
	char fix[2048], label[256];
	size_t pos = 0, used = 0;
	struct path p;

	if (!chain_unit(c, unit, &p))
		return;
	/* The file order with strays and duplicates removed must be the path. */
	for (size_t i = 0; i < u->ncerts && i < 32; i++) {
		if (!p.on_path[i])
			continue;
		if (p.idx[pos] != i)
			break;
		pos++;
	}
	if (pos == p.n && u->leaf == 0)
		return;
	if (u->endpoint) {
		fixf(fix, sizeof(fix), "reorder the file the server sends (nginx ssl_certificate, "
		    "PostgreSQL ssl_cert_file): leaf first, then each issuer");
	} else {
		used = (size_t)snprintf(fix, sizeof(fix), "{ ");
		for (size_t k = 0; k < p.n && used < sizeof(fix); k++) {
			used += cmd_cert_n(fix + used, sizeof(fix) - used, u->chain->path,
			    (int)p.idx[k] + 1);
			if (used < sizeof(fix))
				used += (size_t)snprintf(fix + used, sizeof(fix) - used, "; ");
		}
		if (used < sizeof(fix))
			snprintf(fix + used, sizeof(fix) - used, "} > %s.new && mv %s.new %s",
			    u->chain->path, u->chain->path, u->chain->path);
	}
	chk_cert_label(u->certs[u->leaf].x, label, sizeof(label));
	if (u->leaf != 0)
		chk_emit(c, r, unit, unit_file(c, unit), fix, "the chain is out of order: the leaf "
		    "(%s) is certificate #%zu, not #1; servers send the first certificate as "
		    "their own, so clients fail (\"no shared cipher\" in Prosody, \"key values "
		    "mismatch\" in nginx)", label, u->leaf + 1);
	else
		chk_emit(c, r, unit, unit_file(c, unit), fix, "the chain is out of order: "
		    "certificate #%zu is not the issuer of the one before it; the order must be "
		    "leaf, then each issuer", p.idx[pos] + 1);
}

/* The served path ends below a root: at top, whose issuer is not in it.
 * 1 when that issuer is not trusted either (*issuer: the intermediate in
 * another file, or NULL when nowhere in sight); 0 when the chain is whole. */
static int
open_top(chk_ctx *c, size_t unit, struct path *p, const struct chk_cert **top,
    const struct chk_cert **issuer)
{
	struct chk_unit *u = U(c, unit);
	int from_system;

	if (!chain_unit(c, unit, p))
		return 0;
	*top = &u->certs[p->idx[p->n - 1]];
	if ((*top)->self_issued)
		return 0;
	*issuer = chk_find_issuer(c, *top, &from_system);
	return !(from_system || (*issuer != NULL && (*issuer)->self_signed));
}

/* The service sends the intermediate itself, from its CA file (mosquitto:
 * OpenSSL completes a chain from the verify store), and that intermediate
 * leads to a trusted root: the chain clients get is whole. Returns the
 * setting that does it, or NULL. */
static const char *
completed_by_server(chk_ctx *c, const struct chk_unit *u, const struct chk_cert *issuer)
{
	const struct chk_cert *up;
	const char *why;
	int from_system;

	if (u->endpoint || u->chain == NULL || issuer == NULL || issuer->file == NULL ||
	    (why = chk_chain_source(c, u->chain->path, issuer->file->path)) == NULL)
		return NULL;
	up = chk_find_issuer(c, issuer, &from_system);
	return from_system || (up != NULL && up->self_signed) ? why : NULL;
}

static void
r_chain_completed_by_server(chk_ctx *c, const struct chk_rule *r, size_t unit)
{
	struct chk_unit *u = U(c, unit);
	const struct chk_cert *top, *issuer;
	char fix[1024], label[256];
	const char *why;
	struct path p;

	if (!open_top(c, unit, &p, &top, &issuer) ||
	    (why = completed_by_server(c, u, issuer)) == NULL)
		return;
	chk_cert_label(issuer->x, label, sizeof(label));
	fixf(fix, sizeof(fix), "to serve it from the certificate file itself: cat %s %s > "
	    "FULLCHAIN.crt and name that file instead", u->chain->path, issuer->file->path);
	chk_emit(c, r, unit, unit_file(c, unit), fix, "%s does not hold the intermediate %s; the "
	    "server adds it from %s %s (OpenSSL completes the chain from the CAs it trusts), so "
	    "clients get the whole chain", u->chain->path, label, why, issuer->file->path);
}

/* The chain reaches an intermediate whose issuer is nowhere, and no --ca was
 * given: most likely the private root, which clients have and servers do not
 * send. That is not a gap the check can see; it says how to close the
 * question instead (chain-root-unknown). */
static int
root_not_given(const chk_ctx *c, const struct path *p, const struct chk_cert *top,
    const struct chk_cert *issuer)
{
	return issuer == NULL && c->nanchors == 0 && top->is_ca && p->n >= 2;
}

static void
r_chain_root_unknown(chk_ctx *c, const struct chk_rule *r, size_t unit)
{
	const struct chk_cert *top, *issuer;
	char fix[512], label[256], ilabel[256];
	struct path p;

	if (!open_top(c, unit, &p, &top, &issuer) || !root_not_given(c, &p, top, issuer))
		return;
	chk_cert_label(top->x, label, sizeof(label));
	X509_NAME_oneline(X509_get_issuer_name(top->x), ilabel, sizeof(ilabel));
	fixf(fix, sizeof(fix), "give the root clients trust: tlsgate check ... --ca ROOT.crt "
	    "(a tlsgate CA: --ca ./pki/root.crt); if %s is another intermediate, append it to the "
	    "served file", ilabel);
	chk_emit(c, r, unit, unit_file(c, unit), fix, "the served chain ends at the intermediate "
	    "%s, issued by %s, which was not given and is not in the system store: when that is "
	    "your private root, clients that trust it get through (servers do not send roots)",
	    label, ilabel);
}

static void
r_chain_incomplete(chk_ctx *c, const struct chk_rule *r, size_t unit)
{
	struct chk_unit *u = U(c, unit);
	const struct chk_cert *top, *issuer;
	char fix[1024], label[256], ilabel[256];
	struct path p;
	X509_NAME *iname;

	if (!open_top(c, unit, &p, &top, &issuer) || root_not_given(c, &p, top, issuer) ||
	    completed_by_server(c, u, issuer) != NULL)
		return;
	chk_cert_label(top->x, label, sizeof(label));
	iname = X509_get_issuer_name(top->x);
	X509_NAME_oneline(iname, ilabel, sizeof(ilabel));
	if (issuer != NULL && issuer->file != NULL) {
		char cmd[512];
		cmd_cert_n(cmd, sizeof(cmd), issuer->file->path, issuer->index);
		if (u->endpoint)
			fixf(fix, sizeof(fix), "append the intermediate (cert #%d of %s) to the "
			    "server's certificate file", issuer->index, issuer->file->path);
		else
			fixf(fix, sizeof(fix), "{ cat %s; %s; } > %s.new && mv %s.new %s",
			    u->chain->path, cmd, u->chain->path, u->chain->path, u->chain->path);
	} else if (u->endpoint) {
		fixf(fix, sizeof(fix), "serve the full chain: leaf then intermediates (certbot: "
		    "fullchain.pem, not cert.pem); if %s is a private root, pass --ca ROOT.crt", ilabel);
	} else {
		fixf(fix, sizeof(fix), "append the intermediate that issued it: cat %s "
		    "INTERMEDIATE.crt > %s.new && mv %s.new %s (certbot: use fullchain.pem, not "
		    "cert.pem); if %s is your private root, pass --ca ROOT.crt", u->chain->path,
		    u->chain->path, u->chain->path, u->chain->path, ilabel);
	}
	chk_emit(c, r, unit, unit_file(c, unit), fix, "the chain is incomplete: the issuer of %s "
	    "(%s) is not in it%s; clients fail with \"unable to verify the first certificate\"",
	    label, ilabel, issuer != NULL ? " (it is in sight, in another file)" :
	    " and is not a trusted root");
}

static void
r_chain_root_included(chk_ctx *c, const struct chk_rule *r, size_t unit)
{
	struct chk_unit *u = U(c, unit);
	const struct chk_cert *top;
	char fix[1024], label[256];
	struct path p;

	if (u->endpoint || !chain_unit(c, unit, &p) || p.n < 2)
		return; /* an endpoint's: endpoint-root-sent */
	top = &u->certs[p.idx[p.n - 1]];
	if (!top->self_signed)
		return;
	chk_cert_label(top->x, label, sizeof(label));
	fixf(fix, sizeof(fix), "drop certificate #%zu: awk -v n=%zu '/-----BEGIN "
	    "CERTIFICATE-----/{i++} i!=n' %s > %s.new && mv %s.new %s", p.idx[p.n - 1] + 1,
	    p.idx[p.n - 1] + 1, u->chain->path, u->chain->path, u->chain->path, u->chain->path);
	chk_emit(c, r, unit, unit_file(c, unit), fix, "the served chain includes the root (%s, "
	    "certificate #%zu): clients must already have it, so it only costs bytes on every "
	    "handshake", label, p.idx[p.n - 1] + 1);
}

/* What a server sent, root included. Not a file's finding: the certificate
 * file may hold the leaf alone and the server add the rest from the CAs it
 * trusts (mosquitto with cafile: OpenSSL completes the chain, root and
 * all). */
static void
r_endpoint_root_sent(chk_ctx *c, const struct chk_rule *r, size_t unit)
{
	struct chk_unit *u = U(c, unit);
	char fix[512], sent[1024], label[256];
	size_t used = 0;
	struct path p;

	if (!u->endpoint || !chain_unit(c, unit, &p) || p.n < 2 ||
	    !u->certs[p.idx[p.n - 1]].self_signed)
		return;
	for (size_t i = 0; i < u->ncerts && used < sizeof(sent); i++) {
		chk_cert_label(u->certs[i].x, label, sizeof(label));
		used += (size_t)snprintf(sent + used, sizeof(sent) - used, "%s#%zu %s%s",
		    i ? ", " : "", i + 1, label, u->certs[i].self_signed ? " (the root)" : "");
	}
	fixf(fix, sizeof(fix), "nothing breaks; to save the bytes: if the server's certificate "
	    "file holds the root, drop it there; if it holds less, the server adds the chain from "
	    "the CAs it trusts (mosquitto: cafile; OpenSSL's automatic chain building)");
	chk_emit(c, r, unit, u->label, fix, "%s sent %zu certificates: %s; clients have the root "
	    "already, so sending it only costs bytes on every handshake", u->label, u->ncerts, sent);
}

static void
r_chain_bad_signature(chk_ctx *c, const struct chk_rule *r, size_t unit)
{
	struct chk_unit *u = U(c, unit);
	char fix[512], a[256], b[256];
	struct path p;

	if (!chain_unit(c, unit, &p))
		return;
	for (size_t k = 0; k + 1 < p.n; k++) {
		const struct chk_cert *child = &u->certs[p.idx[k]], *parent = &u->certs[p.idx[k + 1]];
		if (chk_issued_by(child->x, parent->x))
			continue;
		chk_cert_label(child->x, a, sizeof(a));
		chk_cert_label(parent->x, b, sizeof(b));
		fixf(fix, sizeof(fix), "replace certificate #%zu with the intermediate that really "
		    "issued #%zu (same name, different key: the CA was re-keyed or the files were "
		    "mixed up); re-download the chain from the CA", p.idx[k + 1] + 1, p.idx[k] + 1);
		chk_emit(c, r, unit, unit_file(c, unit), fix, "certificate #%zu (%s) names %s as its "
		    "issuer, but #%zu's key did not sign it", p.idx[k] + 1, a, b, p.idx[k + 1] + 1);
	}
}

static void
r_chain_duplicate(chk_ctx *c, const struct chk_rule *r, size_t unit)
{
	struct chk_unit *u = U(c, unit);
	char fix[512], label[256];
	struct path p;

	if (!chain_unit(c, unit, &p))
		return;
	for (size_t i = 0; i < u->ncerts && i < 32; i++) {
		if (!p.dup[i])
			continue;
		chk_cert_label(u->certs[i].x, label, sizeof(label));
		fixf(fix, sizeof(fix), "awk -v n=%zu '/-----BEGIN CERTIFICATE-----/{i++} i!=n' %s > "
		    "%s.new && mv %s.new %s", i + 1, unit_file(c, unit), unit_file(c, unit),
		    unit_file(c, unit), unit_file(c, unit));
		chk_emit(c, r, unit, unit_file(c, unit), fix, "certificate #%zu (%s) is a duplicate "
		    "of an earlier one", i + 1, label);
	}
}

static void
r_chain_unrelated(chk_ctx *c, const struct chk_rule *r, size_t unit)
{
	struct chk_unit *u = U(c, unit);
	char fix[512], label[256];
	struct path p;

	if (!chain_unit(c, unit, &p))
		return;
	for (size_t i = 0; i < u->ncerts && i < 32; i++) {
		if (p.on_path[i] || p.dup[i])
			continue;
		chk_cert_label(u->certs[i].x, label, sizeof(label));
		fixf(fix, sizeof(fix), "awk -v n=%zu '/-----BEGIN CERTIFICATE-----/{i++} i!=n' %s > "
		    "%s.new && mv %s.new %s", i + 1, unit_file(c, unit), unit_file(c, unit),
		    unit_file(c, unit), unit_file(c, unit));
		chk_emit(c, r, unit, unit_file(c, unit), fix, "certificate #%zu (%s) is not part of "
		    "the leaf's chain", i + 1, label);
	}
}

/* A file clients' certificates must chain to, holding no CA: no client
 * certificate can (OpenSSL does not take a leaf as a trust anchor), so
 * every client presenting one is refused. */
static void
r_ca_file_not_ca(chk_ctx *c, const struct chk_rule *r, size_t unit)
{
	struct chk_unit *u = U(c, unit);
	const char *role;
	char fix[512], label[256];

	if (u->kind != CHK_UNIT_CA || u->chain == NULL || u->ncerts == 0 ||
	    (role = chk_ca_role(c, u->chain->path)) == NULL)
		return;
	for (size_t i = 0; i < u->ncerts; i++)
		if (u->certs[i].is_ca || u->certs[i].self_signed)
			return;
	chk_cert_label(u->certs[0].x, label, sizeof(label));
	fixf(fix, sizeof(fix), "put the CA that issues the client certificates there (its "
	    "root; tlsgate: cp ./pki/root.crt %s)", u->chain->path);
	chk_emit(c, r, unit, u->chain->path, fix, "%s holds no CA certificate (#1 is %s, a leaf: "
	    "basicConstraints CA:FALSE), but it is %s: every client presenting a certificate is "
	    "refused (\"unable to get local issuer certificate\")", u->chain->path, label, role);
}

/* ================= Key pairing ================= */

static void
r_key_mismatch(chk_ctx *c, const struct chk_rule *r, size_t unit)
{
	struct chk_unit *u = U(c, unit);
	const struct chk_cert *leaf;
	char fix[1024], label[256], owner[512] = "no certificate in sight";
	size_t lo = 0, hi = c->nspki;

	if ((u->kind != CHK_UNIT_SERVE && u->kind != CHK_UNIT_CA) || u->key == NULL ||
	    u->key->key == NULL || u->ncerts == 0)
		return;
	leaf = &u->certs[u->leaf];
	if (memcmp(leaf->spki, u->key->key_spki, CHK_HASH_LEN) == 0)
		return;
	while (lo < hi) { /* which cert does this key belong to? */
		size_t mid = (lo + hi) / 2;
		if (memcmp(c->by_spki[mid]->spki, u->key->key_spki, CHK_HASH_LEN) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < c->nspki && memcmp(c->by_spki[lo]->spki, u->key->key_spki, CHK_HASH_LEN) == 0) {
		const struct chk_cert *o = c->by_spki[lo];
		chk_cert_label(o->x, label, sizeof(label));
		snprintf(owner, sizeof(owner), "it belongs to %s (certificate #%d of %s)", label,
		    o->index, o->file ? o->file->path : "--ca");
	}
	chk_cert_label(leaf->x, label, sizeof(label));
	fixf(fix, sizeof(fix), "install the key %s was issued with (tlsgate cert import HOST CERT "
	    "KEY refuses a mismatched pair), or issue a new pair: tlsgate cert issue %s --dir ./pki",
	    u->chain->path, label + (strncmp(label, "CN=", 3) == 0 ? 3 : 0));
	chk_emit(c, r, unit, u->key->path, fix, "key %s does not match certificate %s (%s): %s; "
	    "TLS servers then fail with \"no shared cipher\" or \"key values mismatch\"",
	    u->key->path, u->chain->path, label, owner);
}

static void
r_key_missing(chk_ctx *c, const struct chk_rule *r, size_t unit)
{
	struct chk_unit *u = U(c, unit);
	char fix[512];

	if (u->kind != CHK_UNIT_SERVE || u->key != NULL || u->chain == NULL || !u->chain->expects_key)
		return;
	fixf(fix, sizeof(fix), "put the private key next to it under the name the service "
	    "looks for (Prosody: HOST.key or HOST/privkey.pem; PostgreSQL: server.key)");
	chk_emit(c, r, unit, u->chain->path, fix, "no private key for %s: the file the layout "
	    "names is missing and no key in sight matches", u->chain->path);
}

/* ================= Validity ================= */

static void
each_cert_time(chk_ctx *c, const struct chk_rule *r, size_t unit,
    int (*test)(chk_ctx *, const struct chk_cert *, char *, size_t))
{
	struct chk_unit *u = U(c, unit);
	char msg[512], fix[512], label[256];

	if ((u->kind != CHK_UNIT_SERVE && u->kind != CHK_UNIT_CA) || u->ncerts == 0)
		return;
	for (size_t i = 0; i < u->ncerts; i++) {
		if (!test(c, &u->certs[i], msg, sizeof(msg)))
			continue;
		chk_cert_label(u->certs[i].x, label, sizeof(label));
		if (u->certs[i].is_ca)
			fixf(fix, sizeof(fix), "the CA itself: create a new one (tlsgate ca init --dir "
			    "./pki-new) and re-issue what it signed, or fetch the CA's current chain");
		else
			fixf(fix, sizeof(fix), "renew it: tlsgate cert renew --dir ./pki --within %ud "
			    "(certbot: certbot renew), then install it: tlsgate cert import HOST NEW.crt "
			    "NEW.key --certs-dir DIR", c->warn_days);
		chk_emit(c, r, unit, unit_file(c, unit), fix, "certificate #%zu (%s) %s", i + 1,
		    label, msg);
	}
}

static int
t_expired(chk_ctx *c, const struct chk_cert *cc, char *msg, size_t len)
{
	int64_t na = pki_asn1_time_unix(X509_get0_notAfter(cc->x));
	char when[64];

	if (na >= c->now)
		return 0;
	fmt_time(na, when, sizeof(when));
	snprintf(msg, len, "expired on %s (%lld days ago)", when,
	    (long long)((c->now - na) / DAY));
	return 1;
}

static int
t_not_yet_valid(chk_ctx *c, const struct chk_cert *cc, char *msg, size_t len)
{
	int64_t nb = pki_asn1_time_unix(X509_get0_notBefore(cc->x));
	char when[64];

	if (nb <= c->now)
		return 0;
	fmt_time(nb, when, sizeof(when));
	snprintf(msg, len, "is not valid before %s (check the clock of the machine that issued "
	    "it, or of this one)", when);
	return 1;
}

static int
t_expiring_critical(chk_ctx *c, const struct chk_cert *cc, char *msg, size_t len)
{
	int64_t na = pki_asn1_time_unix(X509_get0_notAfter(cc->x));
	char when[64];

	if (na < c->now || na - c->now >= DAY)
		return 0;
	fmt_time(na, when, sizeof(when));
	snprintf(msg, len, "expires within a day, on %s", when);
	return 1;
}

static int
t_expiring_soon(chk_ctx *c, const struct chk_cert *cc, char *msg, size_t len)
{
	int64_t na = pki_asn1_time_unix(X509_get0_notAfter(cc->x));
	char when[64];

	if (na - c->now < DAY || na - c->now >= (int64_t)c->warn_days * DAY)
		return 0;
	fmt_time(na, when, sizeof(when));
	snprintf(msg, len, "expires in %lld days, on %s (warning threshold: %u days)",
	    (long long)((na - c->now) / DAY), when, c->warn_days);
	return 1;
}

static void
r_expired(chk_ctx *c, const struct chk_rule *r, size_t unit)
{
	each_cert_time(c, r, unit, t_expired);
}

static void
r_not_yet_valid(chk_ctx *c, const struct chk_rule *r, size_t unit)
{
	each_cert_time(c, r, unit, t_not_yet_valid);
}

static void
r_expiring_critical(chk_ctx *c, const struct chk_rule *r, size_t unit)
{
	each_cert_time(c, r, unit, t_expiring_critical);
}

static void
r_expiring_soon(chk_ctx *c, const struct chk_rule *r, size_t unit)
{
	each_cert_time(c, r, unit, t_expiring_soon);
}

/* ================= Names and profile ================= */

static int
unit_purpose(chk_ctx *c, const struct chk_cert *leaf)
{
	uint32_t xku;

	if (c->purpose_set)
		return c->purpose;
	if (!(X509_get_extension_flags(leaf->x) & EXFLAG_XKUSAGE))
		return CHK_PURPOSE_SERVER;
	xku = X509_get_extended_key_usage(leaf->x);
	/* A client-only EKU says what the cert is for: no server rules on it. */
	if ((xku & XKU_SSL_CLIENT) && !(xku & XKU_SSL_SERVER))
		return CHK_PURPOSE_CLIENT;
	return CHK_PURPOSE_SERVER;
}

static void
r_name_mismatch(chk_ctx *c, const struct chk_rule *r, size_t unit)
{
	struct chk_unit *u = U(c, unit);
	const struct chk_cert *leaf = serve_leaf(c, unit);
	char fix[1024], sans[512], label[256], origin[512];

	if (leaf == NULL)
		return;
	for (size_t i = 0; i < u->nhosts; i++) {
		if (chk_name_matches(leaf->x, u->hosts[i]))
			continue;
		pki_cert_sans(leaf->x, sans, sizeof(sans));
		chk_cert_label(leaf->x, label, sizeof(label));
		chk_host_origin(c, u->hosts[i], origin, sizeof(origin));
		fixf(fix, sizeof(fix), "issue a certificate that covers it: tlsgate cert issue %s "
		    "--dir ./pki (certbot: certbot certonly -d %s ...; one -d for every name the "
		    "service answers to: each server_name, VirtualHost and Component)", u->hosts[i],
		    u->hosts[i]);
		chk_emit(c, r, unit, unit_file(c, unit), fix, "%s (%s) does not cover %s%s; it "
		    "covers %s", unit_file(c, unit), label, u->hosts[i], origin,
		    sans[0] ? sans : "no SAN at all");
	}
}

static void
r_host_uncovered(chk_ctx *c, const struct chk_rule *r, size_t unit)
{
	struct chk_unit *u = U(c, unit);
	char fix[512], origin[512];

	if (!u->uncovered)
		return;
	chk_host_origin(c, u->hosts[0], origin, sizeof(origin));
	/* A host a service's config gives its own certificate file. */
	for (size_t i = 0; i < c->nhosts; i++) {
		if (c->hosts[i].pin == NULL || strcasecmp(c->hosts[i].name, u->hosts[0]) != 0)
			continue;
		fixf(fix, sizeof(fix), "put the certificate for %s at %s, where the config names "
		    "it (tlsgate cert issue %s --dir ./pki writes one)", u->hosts[0],
		    c->hosts[i].pin, u->hosts[0]);
		chk_emit(c, r, unit, NULL, fix, "no certificate in sight is for %s: its config "
		    "names %s, which could not be used (see that file's findings)", u->hosts[0],
		    c->hosts[i].pin);
		return;
	}
	fixf(fix, sizeof(fix), "install a certificate for it: tlsgate cert import %s CERT KEY "
	    "--certs-dir DIR (Prosody looks for %s.crt + %s.key, %s/fullchain.pem + "
	    "%s/privkey.pem, then the parent domain's)", u->hosts[0], u->hosts[0], u->hosts[0],
	    u->hosts[0], u->hosts[0]);
	chk_emit(c, r, unit, NULL, fix, "no certificate in sight is for %s%s: no %s.crt or "
	    "%s/fullchain.pem, none for its parent domain, and no other certificate covers it",
	    u->hosts[0], origin, u->hosts[0], u->hosts[0]);
}

/* What the Prosody config reader noted under this config file. */
static void
r_prosody_note(chk_ctx *c, const struct chk_rule *r, size_t unit)
{
	const struct chk_pcfg *p = c->prosody;

	for (size_t i = 0; p != NULL && c->note_unit != NULL && i < p->nnotes; i++) {
		const struct chk_pnote *n = &p->notes[i];
		if (c->note_unit[i] == unit && strcmp(n->code, r->code) == 0)
			chk_emit(c, r, unit, n->file, n->fix, "%s:%u: %s", n->file, n->line, n->message);
	}
}

static void
r_cn_only(chk_ctx *c, const struct chk_rule *r, size_t unit)
{
	const struct chk_cert *leaf = serve_leaf(c, unit);
	char fix[512], label[256];

	if (leaf == NULL || unit_purpose(c, leaf) != CHK_PURPOSE_SERVER ||
	    X509_get_ext_by_NID(leaf->x, NID_subject_alt_name, -1) >= 0)
		return;
	chk_cert_label(leaf->x, label, sizeof(label));
	fixf(fix, sizeof(fix), "re-issue with the name as a SAN: tlsgate cert issue %s --dir ./pki",
	    label + (strncmp(label, "CN=", 3) == 0 ? 3 : 0));
	chk_emit(c, r, unit, unit_file(c, unit), fix, "%s (%s) names its host only in the CN and "
	    "has no subjectAltName: browsers, Go and Python clients reject it", unit_file(c, unit),
	    label);
}

static void
r_ip_as_dns(chk_ctx *c, const struct chk_rule *r, size_t unit)
{
	const struct chk_cert *leaf = serve_leaf(c, unit);
	GENERAL_NAMES *sans;
	char fix[512], name[256];

	if (leaf == NULL || (sans = X509_get_ext_d2i(leaf->x, NID_subject_alt_name, NULL, NULL)) == NULL)
		return;
	for (int i = 0; i < sk_GENERAL_NAME_num(sans); i++) {
		const GENERAL_NAME *gn = sk_GENERAL_NAME_value(sans, i);
		if (gn->type != GEN_DNS)
			continue;
		snprintf(name, sizeof(name), "%.*s", ASN1_STRING_length(gn->d.dNSName),
		    (const char *)ASN1_STRING_get0_data(gn->d.dNSName));
		if (!chk_host_is_ip(name))
			continue;
		fixf(fix, sizeof(fix), "re-issue with the address as an IP SAN: tlsgate cert issue "
		    "NAME --san %s --dir ./pki (openssl: subjectAltName = IP:%s)", name, name);
		chk_emit(c, r, unit, unit_file(c, unit), fix, "the address %s is a DNS SAN; clients "
		    "match addresses only against IP SANs, so https://%s/ fails", name, name);
	}
	GENERAL_NAMES_free(sans);
}

static void
r_eku_mismatch(chk_ctx *c, const struct chk_rule *r, size_t unit)
{
	const struct chk_cert *leaf = serve_leaf(c, unit);
	uint32_t xku, want;
	char fix[512];
	int purpose;

	if (leaf == NULL || !(X509_get_extension_flags(leaf->x) & EXFLAG_XKUSAGE))
		return;
	xku = X509_get_extended_key_usage(leaf->x);
	if (xku & XKU_ANYEKU)
		return;
	purpose = unit_purpose(c, leaf);
	want = purpose == CHK_PURPOSE_CLIENT ? XKU_SSL_CLIENT : XKU_SSL_SERVER;
	if (!c->purpose_set)
		want = XKU_SSL_CLIENT | XKU_SSL_SERVER; /* inferred: any TLS use will do */
	if (xku & want)
		return;
	fixf(fix, sizeof(fix), "re-issue with extendedKeyUsage = %s: tlsgate cert issue NAME %s "
	    "--dir ./pki", purpose == CHK_PURPOSE_CLIENT ? "clientAuth" : "serverAuth",
	    purpose == CHK_PURPOSE_CLIENT ? "--client" : "--server");
	chk_emit(c, r, unit, unit_file(c, unit), fix, "the extendedKeyUsage of %s lacks %s: TLS "
	    "peers refuse it for this purpose", unit_file(c, unit),
	    purpose == CHK_PURPOSE_CLIENT ? "clientAuth" : "serverAuth");
}

static void
r_leaf_is_ca(chk_ctx *c, const struct chk_rule *r, size_t unit)
{
	const struct chk_cert *leaf = serve_leaf(c, unit);
	char fix[512], label[256];

	if (leaf == NULL || !leaf->is_ca)
		return;
	chk_cert_label(leaf->x, label, sizeof(label));
	fixf(fix, sizeof(fix), "re-issue it as a leaf (basicConstraints CA:FALSE): tlsgate cert "
	    "issue %s --dir ./pki", label + (strncmp(label, "CN=", 3) == 0 ? 3 : 0));
	chk_emit(c, r, unit, unit_file(c, unit), fix, "the leaf %s has basicConstraints CA:TRUE: "
	    "it could sign other certificates, and Firefox rejects a CA certificate used as a "
	    "server certificate", label);
}

static void
r_weak_key(chk_ctx *c, const struct chk_rule *r, size_t unit)
{
	struct chk_unit *u = U(c, unit);
	char fix[512], label[256];

	if (u->kind != CHK_UNIT_SERVE && u->kind != CHK_UNIT_CA)
		return;
	for (size_t i = 0; i < u->ncerts; i++) {
		EVP_PKEY *k = X509_get0_pubkey(u->certs[i].x);
		int id, bits;
		if (k == NULL)
			continue;
		id = EVP_PKEY_get_base_id(k);
		bits = EVP_PKEY_get_bits(k);
		if (!(((id == EVP_PKEY_RSA || id == EVP_PKEY_DSA) && bits < 2048) ||
		    (id == EVP_PKEY_EC && bits < 224)))
			continue;
		chk_cert_label(u->certs[i].x, label, sizeof(label));
		fixf(fix, sizeof(fix), "re-issue with a new key: tlsgate cert issue %s --dir ./pki "
		    "--key ec-p256 (or rsa2048 or stronger)", label + (strncmp(label, "CN=", 3) == 0 ? 3 : 0));
		chk_emit(c, r, unit, unit_file(c, unit), fix, "certificate #%zu (%s) has a %d-bit %s "
		    "key: below the 2048-bit minimum that OpenSSL 3 (security level 2) and browsers "
		    "enforce", i + 1, label, bits, id == EVP_PKEY_EC ? "EC" : (id == EVP_PKEY_DSA ?
		    "DSA" : "RSA"));
	}
}

static void
r_weak_signature(chk_ctx *c, const struct chk_rule *r, size_t unit)
{
	struct chk_unit *u = U(c, unit);
	char fix[512], label[256];

	if (u->kind != CHK_UNIT_SERVE && u->kind != CHK_UNIT_CA)
		return;
	for (size_t i = 0; i < u->ncerts; i++) {
		int mdnid = NID_undef, pknid;
		if (u->certs[i].self_signed)
			continue; /* a root's self-signature is never checked by clients */
		if (X509_get_signature_info(u->certs[i].x, &mdnid, &pknid, NULL, NULL) != 1)
			continue;
		if (mdnid != NID_sha1 && mdnid != NID_md5 && mdnid != NID_md4 && mdnid != NID_md2)
			continue;
		chk_cert_label(u->certs[i].x, label, sizeof(label));
		fixf(fix, sizeof(fix), "re-issue it (tlsgate signs with SHA-256 or better): tlsgate "
		    "cert issue NAME --dir ./pki");
		chk_emit(c, r, unit, unit_file(c, unit), fix, "certificate #%zu (%s) is signed with "
		    "%s, which clients reject", i + 1, label, OBJ_nid2sn(mdnid));
	}
	ERR_clear_error();
}

static void
r_self_signed(chk_ctx *c, const struct chk_rule *r, size_t unit)
{
	const struct chk_cert *leaf = serve_leaf(c, unit);
	char fix[512], label[256];

	if (leaf == NULL || !leaf->self_signed)
		return;
	chk_cert_label(leaf->x, label, sizeof(label));
	fixf(fix, sizeof(fix), "fine for tests (clients must trust this very cert); otherwise use a "
	    "CA: tlsgate ca init --dir ./pki && tlsgate cert issue %s --dir ./pki, or Let's Encrypt",
	    label + (strncmp(label, "CN=", 3) == 0 ? 3 : 0));
	chk_emit(c, r, unit, unit_file(c, unit), fix, "%s is self-signed: every client must be "
	    "told to trust this very certificate", label);
}

/* ================= CRLs ================= */

/* The CRL file of a CRL unit: each of its CRLs is checked. */
static struct chk_file *
unit_crl_file(chk_ctx *c, size_t unit)
{
	struct chk_unit *u = U(c, unit);

	return u->kind == CHK_UNIT_CRL && u->chain != NULL ? u->chain : NULL;
}

static void
crl_label(X509_CRL *crl, char *buf, size_t len)
{
	char iname[256];

	X509_NAME_oneline(X509_CRL_get_issuer(crl), iname, sizeof(iname));
	snprintf(buf, len, "%s", iname);
}

static void
r_crl_expired(chk_ctx *c, const struct chk_rule *r, size_t unit)
{
	struct chk_file *f = unit_crl_file(c, unit);
	char fix[512], when[64], issuer[256];
	int64_t nu;

	for (size_t i = 0; f != NULL && i < f->ncrls; i++) {
		X509_CRL *crl = f->crls[i];
		if (X509_CRL_get0_nextUpdate(crl) == NULL)
			continue;
		nu = pki_asn1_time_unix(X509_CRL_get0_nextUpdate(crl));
		if (nu >= c->now)
			continue;
		fmt_time(nu, when, sizeof(when));
		crl_label(crl, issuer, sizeof(issuer));
		fixf(fix, sizeof(fix), "publish a fresh CRL: tlsgate crl --dir ./pki --out %s, and "
		    "schedule it (cron/systemd timer) well before nextUpdate", f->path);
		chk_emit(c, r, unit, f->path, fix, "the CRL %s (issuer %s) expired (nextUpdate %s): "
		    "services that check it (PostgreSQL ssl_crl_file, nginx ssl_crl) now reject every "
		    "client certificate", f->path, issuer, when);
	}
}

static void
r_crl_expiring(chk_ctx *c, const struct chk_rule *r, size_t unit)
{
	struct chk_file *f = unit_crl_file(c, unit);
	char fix[512], when[64], issuer[256];
	int64_t nu, lu, margin;

	for (size_t i = 0; f != NULL && i < f->ncrls; i++) {
		X509_CRL *crl = f->crls[i];
		if (X509_CRL_get0_nextUpdate(crl) == NULL)
			continue;
		nu = pki_asn1_time_unix(X509_CRL_get0_nextUpdate(crl));
		lu = pki_asn1_time_unix(X509_CRL_get0_lastUpdate(crl));
		/* Near: within a quarter of its own period, and at least a day ahead. */
		margin = (nu - lu) / 4 > DAY ? (nu - lu) / 4 : DAY;
		if (nu < c->now || nu - c->now >= margin)
			continue;
		fmt_time(nu, when, sizeof(when));
		crl_label(crl, issuer, sizeof(issuer));
		fixf(fix, sizeof(fix), "publish a fresh CRL now: tlsgate crl --dir ./pki --out %s",
		    f->path);
		chk_emit(c, r, unit, f->path, fix, "the CRL %s (issuer %s) reaches its nextUpdate "
		    "soon (%s); when it passes, services reject every client", f->path, issuer, when);
	}
}

static void
r_crl_bad_signature(chk_ctx *c, const struct chk_rule *r, size_t unit)
{
	struct chk_file *f = unit_crl_file(c, unit);
	char fix[512], iname[256];

	for (size_t k = 0; f != NULL && k < f->ncrls; k++) {
		X509_CRL *crl = f->crls[k];
		int named = 0, good = 0;

		for (size_t i = 0; i < c->ncas && !good; i++) {
			X509 *ca = c->cas[i]->x;
			if (X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_subject_name(ca)) != 0)
				continue;
			named = 1;
			good = X509_CRL_verify(crl, X509_get0_pubkey(ca)) == 1;
		}
		ERR_clear_error();
		if (good || (!named && c->nanchors == 0))
			continue; /* verified, or no CA in sight to check against */
		crl_label(crl, iname, sizeof(iname));
		fixf(fix, sizeof(fix), "publish the CRL with the CA that issued the certificates: "
		    "tlsgate crl --dir ./pki --out %s", f->path);
		chk_emit(c, r, unit, f->path, fix, "the CRL %s (issuer %s) is not signed by "
		    "%s: services refuse it", f->path, iname,
		    named ? "the CA of that name in sight (different key)" : "any CA given or in sight");
	}
}

/* Reports the certs of a served chain that crl revokes. */
static void
revoked_by(chk_ctx *c, const struct chk_rule *r, size_t unit, X509_CRL *crl, const char *path)
{
	struct chk_unit *u = U(c, unit);
	char fix[512], label[256];

	for (size_t i = 0; i < u->ncerts; i++) {
		X509_REVOKED *rev = NULL;
		if (X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_issuer_name(u->certs[i].x)) != 0 ||
		    X509_CRL_get0_by_cert(crl, &rev, u->certs[i].x) != 1)
			continue;
		chk_cert_label(u->certs[i].x, label, sizeof(label));
		fixf(fix, sizeof(fix), "issue a new certificate and install it: tlsgate cert "
		    "issue %s --dir ./pki", label + (strncmp(label, "CN=", 3) == 0 ? 3 : 0));
		chk_emit(c, r, unit, unit_file(c, unit), fix, "certificate #%zu (%s) is revoked "
		    "by the CRL %s", i + 1, label, path);
	}
}

static void
r_revoked(chk_ctx *c, const struct chk_rule *r, size_t unit)
{
	if (U(c, unit)->kind != CHK_UNIT_SERVE)
		return;
	for (size_t f = 0; f < c->nfiles; f++)
		for (size_t k = 0; k < c->files[f]->ncrls; k++)
			revoked_by(c, r, unit, c->files[f]->crls[k], c->files[f]->path);
}

/* ================= Endpoints ================= */

static void
r_tls_old_version(chk_ctx *c, const struct chk_rule *r, size_t unit)
{
	struct chk_unit *u = U(c, unit);
	char fix[512];

	if (!u->endpoint || (!u->tls10 && !u->tls11))
		return;
	fixf(fix, sizeof(fix), "allow TLS 1.2 and 1.3 only (nginx: ssl_protocols TLSv1.2 TLSv1.3; "
	    "PostgreSQL: ssl_min_protocol_version = 'TLSv1.2')");
	chk_emit(c, r, unit, u->label, fix, "%s accepts %s%s%s, deprecated by RFC 8996", u->label,
	    u->tls10 ? "TLS 1.0" : "", u->tls10 && u->tls11 ? " and " : "", u->tls11 ? "TLS 1.1" : "");
}

static void
r_client_cert_requested(chk_ctx *c, const struct chk_rule *r, size_t unit)
{
	struct chk_unit *u = U(c, unit);

	if (!u->endpoint || !u->client_cert_requested)
		return;
	chk_emit(c, r, unit, u->label, NULL, "%s requests a client certificate; CA names it "
	    "advertises: %s%s", u->label, u->ca_names[0] ? u->ca_names : "(none)",
	    !u->client_cert_sent ? "" : u->client_cert_refused[0] ? "; the one given was refused" :
	    "; the one given (--cert) was accepted");
}

static void
r_client_cert_refused(chk_ctx *c, const struct chk_rule *r, size_t unit)
{
	struct chk_unit *u = U(c, unit);
	char fix[512];

	if (!u->endpoint || !u->client_cert_sent || u->client_cert_refused[0] == '\0')
		return;
	fixf(fix, sizeof(fix), "issue the client a certificate from a CA the server trusts (CA "
	    "names it advertises: %s), or add its CA to the server's client CA file",
	    u->ca_names[0] ? u->ca_names : "none");
	chk_emit(c, r, unit, u->label, fix, "%s refused the client certificate %s: %s",
	    u->label, c->client_cert, u->client_cert_refused);
}

static void
r_no_tls(chk_ctx *c, const struct chk_rule *r, size_t unit)
{
	struct chk_unit *u = U(c, unit);
	char fix[256];

	if (!u->endpoint || !u->no_tls)
		return;
	if (u->no_tls == CHK_STARTTLS_POSTGRES) {
		fixf(fix, sizeof(fix), "set ssl = on in postgresql.conf, with ssl_cert_file and "
		    "ssl_key_file, then reload");
		chk_emit(c, r, unit, u->label, fix, "%s answered the SSLRequest with 'N': the "
		    "server does not offer TLS", u->label);
		return;
	}
	fixf(fix, sizeof(fix), "enable \"tls\" in Prosody's modules_enabled and give the host a "
	    "certificate (tlsgate check --prosody-config /etc/prosody/prosody.cfg.lua), then "
	    "reload");
	chk_emit(c, r, unit, u->label, fix, "%s %s: XMPP there stays unencrypted", u->label,
	    u->no_tls_why);
}

static void
r_cfg_note(chk_ctx *c, const struct chk_rule *r, size_t unit)
{
	for (size_t i = 0; c->cfg_note_unit != NULL && i < c->ncfg_notes; i++) {
		const struct chk_cfgnote *n = &c->cfg_notes[i];
		if (c->cfg_note_unit[i] == unit && strcmp(n->code, r->code) == 0)
			chk_emit(c, r, unit, n->file, n->fix, "%s:%u: %s", n->file, n->line, n->message);
	}
}

static void
r_pg_ssl_off(chk_ctx *c, const struct chk_rule *r, size_t unit)
{
	char where[PATH_MAX + 128];

	if (c->pg_unit < 0 || (size_t)c->pg_unit != unit)
		return;
	if (c->pg_ssl_off_line != 0)
		snprintf(where, sizeof(where), "%s:%u sets ssl off", c->pg_ssl_off_file,
		    c->pg_ssl_off_line);
	else
		snprintf(where, sizeof(where), "%s has no ssl line, and off is PostgreSQL's "
		    "default", c->pg_ssl_off_file);
	chk_emit(c, r, unit, c->pg_ssl_off_file, "set ssl = on, with ssl_cert_file and "
	    "ssl_key_file (tlsgate cert issue db.example.com --dir ./pki makes them), then "
	    "reload: pg_ctl reload or SELECT pg_reload_conf()", "%s: the server offers no TLS, so "
	    "passwords and data cross the network in the clear", where);
}

/* ================= The table ================= */

#define E CHK_ERROR
#define W CHK_WARNING
#define I CHK_INFO

const struct chk_rule chk_rules[] = {
	/* files */
	{ "unreadable", E, "file missing or not readable (says which)", r_unreadable, NULL },
	{ "not-certificate", E, "file holds no certificate, key, CRL or PKCS#12 (e.g. a CSR)", r_not_certificate, NULL },
	{ "der-not-pem", E, "DER where services expect PEM", r_der_not_pem, NULL },
	{ "no-start-line", E, "empty, or base64 without a BEGIN line (\"no start line\")", r_no_start_line, NULL },
	{ "pem-crlf", W, "CRLF line endings", r_pem_crlf, NULL },
	{ "pem-junk", W, "text around the PEM blocks", r_pem_junk, NULL },
	{ "pem-corrupt", E, "a PEM block that does not decode", r_pem_corrupt, NULL },
	{ "key-encrypted", E, "passphrase-protected key and no (working) passphrase", r_key_encrypted, NULL },
	{ "key-passphrase-external", I, "encrypted key whose passphrase the service gets by something tlsgate does not run, or that did not answer", r_key_passphrase_external, NULL },
	{ "key-world-readable", E, "PostgreSQL's key readable by every user: the server refuses it", r_key_world_readable, NULL },
	{ "key-exposed", W, "private key readable by every user (the service loads it; so can anyone)", r_key_exposed, NULL },
	{ "key-owner", E, "PostgreSQL's key: owned by neither the server's user nor root", r_key_owner, NULL },
	{ "key-mode", E, "PostgreSQL's key: mode too open (0600 user-owned, 0640 root-owned)", r_key_mode, NULL },
	{ "key-service-unreadable", E, "the service's account (--owner, or its config's) cannot open the key", r_key_service_unreadable, NULL },
	{ "wrong-file-kind", E, "a config names a key file as the certificate or a certificate as the key (swapped?)", r_wrong_file_kind, NULL },
	{ "p12-legacy", I, "PKCS#12 with legacy (SHA-1/3DES/RC2) encryption", r_p12_legacy, NULL },
	/* key pairing */
	{ "key-mismatch", E, "key does not belong to the certificate (and which one it does)", NULL, r_key_mismatch },
	{ "key-missing", W, "a served certificate with no key where the layout expects one", NULL, r_key_missing },
	/* chain */
	{ "ca-file-not-ca", E, "the file client certificates must chain to holds no CA (a leaf)", NULL, r_ca_file_not_ca },
	{ "chain-order", E, "chain not leaf-first, issuer after issued", NULL, r_chain_order },
	{ "chain-incomplete", E, "intermediate missing from the served chain", NULL, r_chain_incomplete },
	{ "chain-completed-by-server", I, "the server adds the missing intermediate from its CA file (mosquitto's cafile)", NULL, r_chain_completed_by_server },
	{ "chain-root-unknown", I, "the chain ends at an intermediate whose root was not given (--ca)", NULL, r_chain_root_unknown },
	{ "chain-root-included", W, "the root is in the served chain file", NULL, r_chain_root_included },
	{ "endpoint-root-sent", I, "the endpoint sends the root (its file, or a server completing the chain)", NULL, r_endpoint_root_sent },
	{ "chain-bad-signature", E, "issuer named but its key did not sign", NULL, r_chain_bad_signature },
	{ "chain-duplicate", W, "the same certificate twice in the chain", NULL, r_chain_duplicate },
	{ "chain-unrelated", W, "a certificate that is not part of the leaf's chain", NULL, r_chain_unrelated },
	/* validity */
	{ "expired", E, "certificate past notAfter", NULL, r_expired },
	{ "not-yet-valid", E, "certificate before notBefore", NULL, r_not_yet_valid },
	{ "expiring-critical", E, "certificate expires within 1 day", NULL, r_expiring_critical },
	{ "expiring-soon", W, "certificate expires within --warn-days (default 30)", NULL, r_expiring_soon },
	/* names and profile */
	{ "name-mismatch", E, "a host (--host, Prosody config or layout) the leaf does not cover (RFC 6125)", NULL, r_name_mismatch },
	{ "host-uncovered", E, "a host (--host, Prosody config) with no certificate for it in the layout", NULL, r_host_uncovered },
	{ "cn-only", E, "server certificate without subjectAltName", NULL, r_cn_only },
	{ "ip-as-dns", E, "an IP address written as a DNS SAN", NULL, r_ip_as_dns },
	{ "eku-mismatch", E, "extendedKeyUsage lacks serverAuth/clientAuth for the purpose", NULL, r_eku_mismatch },
	{ "leaf-is-ca", E, "leaf with basicConstraints CA:TRUE", NULL, r_leaf_is_ca },
	{ "weak-key", E, "RSA/DSA key under 2048 bits, EC under 224", NULL, r_weak_key },
	{ "weak-signature", E, "SHA-1 or MD5 signature", NULL, r_weak_signature },
	{ "self-signed", W, "self-signed leaf", NULL, r_self_signed },
	/* CRLs */
	{ "crl-expired", E, "CRL past nextUpdate", NULL, r_crl_expired },
	{ "crl-expiring", W, "CRL near nextUpdate (last quarter of its period, or < 1 day)", NULL, r_crl_expiring },
	{ "crl-bad-signature", E, "CRL not signed by the CA", NULL, r_crl_bad_signature },
	{ "revoked", E, "certificate revoked by a CRL in sight", NULL, r_revoked },
	/* Prosody config (--prosody-config) */
	{ "prosody-include-empty", W, "a Prosody Include that matches no file", NULL, r_prosody_note },
	{ "prosody-unread", W, "Prosody config tlsgate does not follow (RunScript, Lua blocks, expressions, an ssl option it cannot read)", NULL, r_prosody_note },
	{ "prosody-service-cert-unused", W, "a Prosody SERVICE_certificate its certs dir's certificates take the place of", NULL, r_prosody_note },
	{ "prosody-ssl-no-key", E, "a Prosody ssl option names a certificate but no key (Prosody refuses the host)", NULL, r_prosody_note },
	/* endpoints */
	{ "tls-old-version", W, "endpoint accepts TLS 1.0 or 1.1", NULL, r_tls_old_version },
	{ "client-cert-refused", E, "endpoint refuses the client certificate given with --cert", NULL, r_client_cert_refused },
	{ "client-cert-requested", I, "endpoint requests a client certificate (CA names listed)", NULL, r_client_cert_requested },
	{ "mqtt-client-cert-optional", W, "a mosquitto TLS listener checks client certificates but does not require one", NULL, r_cfg_note },
	{ "pg-hba-client-cert-no-ca", E, "pg_hba.conf asks for client certificates but no ssl_ca_file is set", NULL, r_cfg_note },
	{ "pg-ssl-off", E, "PostgreSQL config with ssl off (its default): no TLS", NULL, r_pg_ssl_off },
	{ "no-tls", E, "endpoint refuses TLS (PostgreSQL SSLRequest answered 'N', or no XMPP STARTTLS)", NULL, r_no_tls },
};

const size_t chk_nrules = sizeof(chk_rules) / sizeof(chk_rules[0]);

static void
file_rules(chk_ctx *c, size_t unit, struct chk_file *f)
{
	if (f == NULL || f->rules_done)
		return;
	f->rules_done = 1;
	for (size_t i = 0; i < chk_nrules; i++)
		if (chk_rules[i].file_fn != NULL)
			chk_rules[i].file_fn(c, &chk_rules[i], unit, f);
}

void
chk_rules_run(chk_ctx *c)
{
	size_t start = c->nunits_checked;

	for (size_t u = start; u < c->nunits; u++) {
		file_rules(c, u, c->units[u].chain);
		file_rules(c, u, c->units[u].key);
		for (size_t i = 0; i < chk_nrules; i++)
			if (chk_rules[i].unit_fn != NULL)
				chk_rules[i].unit_fn(c, &chk_rules[i], u);
	}
	c->nunits_checked = c->nunits;
}
