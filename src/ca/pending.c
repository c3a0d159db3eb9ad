/* Settling what an interrupted issue left pending. An issue records its
 * rows "pending" and stages each certificate's files under names that carry
 * the writer's pid and the serial; it publishes them (key, p12, certificate)
 * and only then makes the rows "valid", keeping the staged names until
 * then. So for a pending row, a staged file whose final name is the same
 * file was published, and one whose final name is not was not. A writer
 * that holds the lock and finds a pending row knows its writer is gone, and
 * settles it: anything published means the certificate may have been handed
 * out, so the rest is published too and the row is valid; nothing
 * published means it never left the staging area, so the staged files are
 * removed and the row is void. Both are idempotent: a crash while settling
 * is settled by the next run. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ca_int.h"

#define NOTE_NAMES 3 /* names listed in a note; the rest are counted */

typedef struct {
	char serial[STORE_SERIAL_MAX];
	char fingerprint[65];
	char *cn, *pem, *cert_path, *key_path, *writer;
	const char *outcome; /* STORE_VALID or STORE_VOID once settled, NULL: not ours */
} pending_row;

typedef struct {
	pending_row *rows;
	size_t n, cap;
	int oom;
} pending_acc;

void
ca_writer_id(char *buf, size_t len)
{
	char host[256] = "";

	if (gethostname(host, sizeof(host) - 1) != 0 || host[0] == '\0')
		snprintf(host, sizeof(host), "localhost");
	snprintf(buf, len, "%s:%ld", host, (long)getpid());
}

static char *
dup_or_null(const char *s, int *oom)
{
	char *d = s != NULL ? strdup(s) : NULL;

	if (s != NULL && d == NULL)
		*oom = 1;
	return d;
}

static int
collect_pending(const store_cert *c, void *arg)
{
	pending_acc *acc = arg;
	pending_row *r;

	if (acc->n == acc->cap) {
		size_t ncap = acc->cap ? acc->cap * 2 : 16;
		pending_row *nr = realloc(acc->rows, ncap * sizeof(*nr));
		if (nr == NULL) {
			acc->oom = 1;
			return 1;
		}
		acc->rows = nr;
		acc->cap = ncap;
	}
	r = &acc->rows[acc->n++];
	memset(r, 0, sizeof(*r));
	snprintf(r->serial, sizeof(r->serial), "%s", c->serial);
	snprintf(r->fingerprint, sizeof(r->fingerprint), "%s", c->fingerprint);
	r->cn = dup_or_null(c->cn ? c->cn : "", &acc->oom);
	r->pem = dup_or_null(c->pem, &acc->oom);
	r->cert_path = dup_or_null(c->cert_path, &acc->oom);
	r->key_path = dup_or_null(c->key_path, &acc->oom);
	r->writer = dup_or_null(c->writer, &acc->oom);
	return acc->oom;
}

static void
pending_free(pending_acc *acc)
{
	for (size_t i = 0; i < acc->n; i++) {
		pending_row *r = &acc->rows[i];
		free(r->cn);
		free(r->pem);
		free(r->cert_path);
		free(r->key_path);
		free(r->writer);
	}
	free(acc->rows);
}

/* 1 if the row's files were written on this machine (*pid: by which
 * process); 0 if on another, which alone can see them. */
static int
written_here(const char *writer, long *pid)
{
	char me[300];
	const char *colon = writer != NULL ? strrchr(writer, ':') : NULL;
	size_t n;

	*pid = 0;
	if (colon == NULL)
		return 1;
	ca_writer_id(me, sizeof(me));
	n = (size_t)(colon - writer);
	if (strncmp(me, writer, n) != 0 || me[n] != ':')
		return 0;
	*pid = strtol(colon + 1, NULL, 10);
	return 1;
}

/* One file of a pending certificate: where it goes, and its staged name if
 * that is still there. */
typedef struct {
	char path[PATH_MAX];
	char staged[PATH_MAX + 64];
	int force, present, published;
} pending_file;

static void
find_staged(pending_file *f, const char *serial, long pid, const char *ext)
{
	char tag[STORE_SERIAL_MAX + 16];

	for (int force = 0; force <= 1 && !f->present; force++) {
		snprintf(tag, sizeof(tag), "%s%s.%s", serial, force ? "-force" : "", ext);
		if (util_staged_name(f->path, pid, tag, f->staged, sizeof(f->staged), NULL) != 0)
			return;
		f->present = util_exists(f->staged);
		f->force = force;
	}
	f->published = f->present && util_same_file(f->staged, f->path);
}

/* NAME.crt -> NAME.p12, where an issue with --p12 put it. */
static int
p12_path_of(const char *cert_path, char *out, size_t len)
{
	size_t n = strlen(cert_path);

	if (n < 4 || n >= len || strcmp(cert_path + n - 4, ".crt") != 0)
		return -1;
	memcpy(out, cert_path, n - 4);
	memcpy(out + n - 4, ".p12", 5);
	return 0;
}

/* The certificate file at the row's path is this certificate. */
static int
cert_file_is(const char *path, const char *fingerprint)
{
	char fp[65];
	X509 *cert;

	if (!util_exists(path) || (cert = pki_load_cert(path, NULL)) == NULL)
		return 0;
	pki_cert_fingerprint(cert, fp);
	X509_free(cert);
	return strcmp(fp, fingerprint) == 0;
}

/* Rewrites the certificate file from the inventory's copy of the leaf and
 * the CA's chain (the staged file is gone but the key was published). */
static int
write_cert_from_row(tg_ca *ca, const pending_row *r, tg_err *err)
{
	X509 *chain[CA_CHAIN_MAX];
	char *tail = NULL, *all = NULL;
	size_t tlen = 0, plen = r->pem != NULL ? strlen(r->pem) : 0;
	int n = 0, rc = -1;

	for (int i = 0; i < sk_X509_num(ca->chain) && n < CA_CHAIN_MAX; i++)
		chain[n++] = sk_X509_value(ca->chain, i);
	if (plen == 0)
		return tg_err_set(err, TG_ERR_INTERNAL, "the inventory holds no copy of %s", r->serial);
	if (n > 0 && pki_certs_to_pem(chain, (size_t)n, &tail, &tlen, err) != 0)
		return -1;
	if ((all = malloc(plen + tlen + 1)) == NULL) {
		tg_err_set(err, TG_ERR_INTERNAL, "out of memory");
		goto out;
	}
	memcpy(all, r->pem, plen);
	if (tlen > 0)
		memcpy(all + plen, tail, tlen);
	rc = util_write_file(r->cert_path, all, plen + tlen, 0644, 0, err);
out:
	free(all);
	free(tail);
	return rc;
}

/* Settles one row's files; sets r->outcome. A file that cannot be put in
 * place is named in a note: the certificate was handed out all the same. */
static void
settle_files(tg_ca *ca, pending_row *r, long pid)
{
	pending_file files[3];
	const char *exts[3] = { "key", "p12", "crt" };
	int any = 0;

	memset(files, 0, sizeof(files));
	if (r->key_path != NULL)
		snprintf(files[0].path, sizeof(files[0].path), "%s", r->key_path);
	if (r->key_path != NULL && r->cert_path != NULL)
		(void)p12_path_of(r->cert_path, files[1].path, sizeof(files[1].path));
	if (r->cert_path != NULL)
		snprintf(files[2].path, sizeof(files[2].path), "%s", r->cert_path);
	for (int i = 0; i < 3; i++) {
		if (files[i].path[0] == '\0')
			continue;
		find_staged(&files[i], r->serial, pid, exts[i]);
		any |= files[i].published;
	}
	if (!files[2].present && r->cert_path != NULL && cert_file_is(r->cert_path, r->fingerprint))
		any = files[2].published = 1;
	for (int i = 0; i < 3; i++) {
		tg_err err = { 0 };
		if (!files[i].present)
			continue;
		if (any && !files[i].published &&
		    util_publish_file(files[i].staged, files[i].path,
			files[i].force ? UTIL_WRITE_FORCE : 0, &err) != 0)
			ca_note(ca, "could not finish publishing %s (serial %s): %s", r->cn, r->serial,
			    err.msg);
		unlink(files[i].staged);
	}
	/* The key was out but the certificate's staged file is gone. */
	if (any && r->cert_path != NULL && !files[2].present && !files[2].published) {
		tg_err err = { 0 };
		if (write_cert_from_row(ca, r, &err) != 0)
			ca_note(ca, "could not write %s (serial %s): %s", r->cert_path, r->serial, err.msg);
	}
	r->outcome = any ? STORE_VALID : STORE_VOID;
}

/* One note per outcome: how many, and the first few names. */
static void
note_outcome(tg_ca *ca, const pending_acc *acc, const char *outcome, const char *what)
{
	char names[1024] = "";
	size_t count = 0, used = 0;

	for (size_t i = 0; i < acc->n; i++) {
		const pending_row *r = &acc->rows[i];
		if (r->outcome != outcome)
			continue;
		if (count++ < NOTE_NAMES && used < sizeof(names)) {
			int n = snprintf(names + used, sizeof(names) - used, "%s%s (serial %s%s%s)",
			    used ? ", " : "", r->cn, r->serial, r->cert_path ? ", " : "",
			    r->cert_path ? r->cert_path : "");
			used += n > 0 ? (size_t)n : 0;
		}
	}
	if (count == 0)
		return;
	if (count > NOTE_NAMES)
		snprintf(names + (used < sizeof(names) ? used : sizeof(names) - 1),
		    sizeof(names) - (used < sizeof(names) ? used : sizeof(names) - 1),
		    " and %zu more", count - NOTE_NAMES);
	ca_note(ca, "an interrupted run left %zu certificate%s %s: %s", count,
	    count == 1 ? "" : "s", what, names);
}

static int
record_outcomes(tg_ca *ca, const pending_acc *acc, tg_err *err)
{
	if (store_begin(ca->db, err) != 0)
		return -1;
	for (size_t i = 0; i < acc->n; i++) {
		const pending_row *r = &acc->rows[i];
		if (r->outcome != NULL &&
		    store_set_status(ca->db, r->serial, STORE_PENDING, r->outcome, err) != 0) {
			store_rollback(ca->db);
			return -1;
		}
	}
	if (store_commit(ca->db, err) != 0) {
		store_rollback(ca->db);
		return -1;
	}
	return 0;
}

int
ca_reconcile(tg_ca *ca, tg_err *err)
{
	store_filter f = { .status = STORE_PENDING };
	pending_acc acc = { 0 };
	char synced[PATH_MAX] = "", dir[PATH_MAX];
	size_t elsewhere = 0, ours = 0;
	const char *other = NULL;
	int rc = -1;

	if (store_list(ca->db, &f, collect_pending, &acc, err) != 0)
		goto out;
	if (acc.oom) {
		tg_err_set(err, TG_ERR_INTERNAL, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < acc.n; i++) {
		pending_row *r = &acc.rows[i];
		long pid;
		if (!written_here(r->writer, &pid)) {
			other = r->writer;
			elsewhere++;
			continue;
		}
		settle_files(ca, r, pid);
		ours++;
		/* Durable before the rows say so; one sync per directory in a row. */
		if (r->cert_path != NULL) {
			char *slash;
			snprintf(dir, sizeof(dir), "%s", r->cert_path);
			if ((slash = strrchr(dir, '/')) != NULL)
				*slash = '\0';
			if (strcmp(dir, synced) != 0 && util_sync_dir(slash ? dir : ".", err) != 0)
				goto out;
			snprintf(synced, sizeof(synced), "%s", dir);
		}
	}
	if (ours > 0) {
		util_crash_point("reconcile-files");
		if (record_outcomes(ca, &acc, err) != 0) {
			tg_err_prefix(err, "settling what an interrupted run left");
			goto out;
		}
		note_outcome(ca, &acc, STORE_VALID,
		    "(partly) published; finished publishing them and recorded them as valid");
		note_outcome(ca, &acc, STORE_VOID,
		    "signed but never handed out; removed their staged files and marked them void");
	}
	if (elsewhere > 0)
		ca_note(ca, "%zu certificate%s pending from a run on another machine (%s); a "
		    "tlsgate command that writes to this CA there settles them", elsewhere,
		    elsewhere == 1 ? " is" : "s are", other);
	rc = 0;
out:
	pending_free(&acc);
	return rc;
}
