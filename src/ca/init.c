/* What a killed `ca init` leaves, settled by the next one. tg_ca_init stages
 * every file under a tagged name (.tlsgate-tmp-PID-ca-init-root.crt ...),
 * commits the inventory, then links the files to their final names. So a
 * dead init's staged files mean: if the inventory holds its root, the CA
 * exists and only its files are missing (they are published now); if not,
 * nothing was recorded and the files are removed. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ca_int.h"

#define CA_DB "tlsgate.db"
#define TMP_PREFIX ".tlsgate-tmp-"
#define INIT_TAG "-ca-init-"

int
ca_init_paths(const char *dir, struct ca_init_file f[CA_INIT_NFILES], tg_err *err)
{
	static const struct {
		const char *sub, *name, *tag;
	} files[CA_INIT_NFILES] = {
		[CA_INIT_ROOT_CRT] = { NULL, "root.crt", "ca-init-root.crt" },
		[CA_INIT_ROOT_KEY] = { "private", "root.key", "ca-init-root.key" },
		[CA_INIT_INT_CRT] = { NULL, "intermediate.crt", "ca-init-intermediate.crt" },
		[CA_INIT_INT_KEY] = { "private", "intermediate.key", "ca-init-intermediate.key" },
		[CA_INIT_BUNDLE] = { NULL, "ca-bundle.crt", "ca-init-ca-bundle.crt" },
		[CA_INIT_CONF] = { NULL, "store.conf", "ca-init-store.conf" },
		[CA_INIT_SETTINGS] = { NULL, "ca.conf", "ca-init-ca.conf" },
		[CA_INIT_DB] = { NULL, CA_DB, NULL },
	};
	char base[PATH_MAX];

	for (size_t i = 0; i < CA_INIT_NFILES; i++) {
		f[i].tag = files[i].tag;
		if (files[i].sub == NULL)
			snprintf(base, sizeof(base), "%s", dir);
		else if (util_path_join(base, sizeof(base), dir, files[i].sub, err) != 0)
			return -1;
		if (util_path_join(f[i].path, sizeof(f[i].path), base, files[i].name, err) != 0)
			return -1;
	}
	return 0;
}

static void
note(const tg_ca_init_opts *o, const char *fmt, ...)
{
	char msg[2048];
	va_list ap;

	if (o->notify == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	o->notify(msg, o->notify_arg);
}

/* The pid of an init whose staged files are in dir: 0 if none. A live one
 * is refused (it is creating this CA right now). */
static long
find_init_writer(const char *dir, const char *cadir, tg_err *err)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	long found = 0;

	if (d == NULL)
		return 0;
	while (found == 0 && (e = readdir(d)) != NULL) {
		char *end;
		long pid;
		if (strncmp(e->d_name, TMP_PREFIX, strlen(TMP_PREFIX)) != 0)
			continue;
		pid = strtol(e->d_name + strlen(TMP_PREFIX), &end, 10);
		if (pid <= 0 || strncmp(end, INIT_TAG, strlen(INIT_TAG)) != 0)
			continue;
		if (kill((pid_t)pid, 0) == 0 || errno != ESRCH) {
			closedir(d);
			return tg_err_set(err, TG_ERR_EXISTS, "another `tlsgate ca init` (pid %ld) is "
			    "creating a CA in %s; wait for it to finish", pid, cadir);
		}
		found = pid;
	}
	closedir(d);
	return found;
}

/* 1 if the inventory the dead init wrote to holds its root, 0 if not (it
 * died before its commit), -1 if that cannot be told. */
static int
init_was_recorded(struct ca_init_file *f, char staged[][PATH_MAX], tg_err *err)
{
	const char *crt = util_exists(staged[CA_INIT_ROOT_CRT]) ? staged[CA_INIT_ROOT_CRT] :
	    f[CA_INIT_ROOT_CRT].path;
	char url[STORE_URL_MAX + PATH_MAX], id[65], serial[STORE_SERIAL_MAX];
	X509 *root = NULL;
	store *db = NULL;
	tg_err ignored = { 0 };
	int rc = -1;

	/* Staged files are complete before the commit: a root that does not
	 * load was cut short, so nothing was committed. */
	if ((root = pki_load_cert(crt, &ignored)) == NULL)
		return 0;
	if (util_exists(staged[CA_INIT_CONF])) {
		if (ca_store_conf_read(staged[CA_INIT_CONF], url, sizeof(url), err) != 0)
			goto out;
	} else if (util_exists(f[CA_INIT_CONF].path)) {
		if (ca_store_conf_read(f[CA_INIT_CONF].path, url, sizeof(url), err) != 0)
			goto out;
	} else if (util_exists(f[CA_INIT_DB].path)) {
		snprintf(url, sizeof(url), "sqlite:%s", f[CA_INIT_DB].path);
	} else {
		rc = 0;
		goto out;
	}
	pki_cert_serial_hex(root, serial, sizeof(serial));
	if (pki_key_id(X509_get0_pubkey(root), id, err) != 0 ||
	    (db = store_open_ca(url, id, err)) == NULL)
		goto out;
	rc = store_has_serial(db, serial, err);
out:
	if (rc < 0)
		tg_err_prefix(err, "cannot tell whether the interrupted `ca init` recorded its CA");
	store_close(db);
	X509_free(root);
	return rc;
}

/* A staged file to its final name (link: an existing file is never
 * replaced), or dropped where that name is already it. */
static int
publish_staged(const char *staged, const char *path, int *published, tg_err *err)
{
	if (!util_exists(staged))
		return 0;
	if (!util_exists(path)) {
		if (link(staged, path) != 0)
			return tg_err_set(err, TG_ERR_IO, "cannot publish %s as %s: %s", staged, path,
			    strerror(errno));
		++*published;
	}
	unlink(staged);
	return 0;
}

static int
count_row(const store_cert *c, void *arg)
{
	(void)c;
	++*(size_t *)arg;
	return 0;
}

/* An embedded inventory without the CA's files: the one a killed init
 * created before its commit, when it is empty (removed); otherwise a damaged
 * CA, which is never touched. */
static int
clear_empty_db(const tg_ca_init_opts *o, struct ca_init_file *f, tg_err *err)
{
	char url[PATH_MAX + 8];
	store_filter all = { 0 };
	size_t n = 0;
	store *db;
	int rc;

	if (!util_exists(f[CA_INIT_DB].path) || util_exists(f[CA_INIT_ROOT_CRT].path) ||
	    util_exists(f[CA_INIT_CONF].path))
		return 0;
	snprintf(url, sizeof(url), "sqlite:%s", f[CA_INIT_DB].path);
	if ((db = store_open(url, err)) == NULL)
		return -1;
	rc = store_list(db, &all, count_row, &n, err);
	store_close(db);
	if (rc != 0)
		return -1;
	if (n > 0)
		return tg_err_set(err, TG_ERR_EXISTS,
		    "%s records %zu certificate%s but %s is missing: this is a damaged CA, not an "
		    "interrupted init; restore root.crt and private/root.key from a backup, or "
		    "choose another --dir", f[CA_INIT_DB].path, n, n == 1 ? "" : "s",
		    f[CA_INIT_ROOT_CRT].path);
	ca_remove_db(f[CA_INIT_DB].path);
	note(o, "removed the empty inventory %s that an interrupted `ca init` left (it had "
	    "recorded nothing)", f[CA_INIT_DB].path);
	return 0;
}

int
ca_init_recover(const tg_ca_init_opts *o, struct ca_init_file f[CA_INIT_NFILES], tg_err *err)
{
	char priv[PATH_MAX], staged[CA_INIT_NFILES][PATH_MAX];
	long pid;
	int recorded, published = 0;

	if (util_path_join(priv, sizeof(priv), o->dir, "private", err) != 0)
		return -1;
	if ((pid = find_init_writer(o->dir, o->dir, err)) == 0)
		pid = find_init_writer(priv, o->dir, err);
	if (pid < 0)
		return -1;
	if (pid == 0)
		return clear_empty_db(o, f, err);
	for (size_t i = 0; i < CA_INIT_NFILES; i++) {
		staged[i][0] = '\0';
		if (f[i].tag != NULL &&
		    util_staged_name(f[i].path, pid, f[i].tag, staged[i], PATH_MAX, err) != 0)
			return -1;
	}
	if ((recorded = init_was_recorded(f, staged, err)) < 0)
		return -1;
	/* root.crt last, as tg_ca_init publishes: it makes DIR a CA. */
	static const int order[] = { CA_INIT_ROOT_KEY, CA_INIT_INT_KEY, CA_INIT_INT_CRT,
		CA_INIT_BUNDLE, CA_INIT_CONF, CA_INIT_SETTINGS, CA_INIT_ROOT_CRT };
	for (size_t k = 0; k < sizeof(order) / sizeof(order[0]); k++) {
		int i = order[k];
		if (staged[i][0] == '\0')
			continue;
		if (!recorded)
			unlink(staged[i]);
		else if (publish_staged(staged[i], f[i].path, &published, err) != 0)
			return -1;
	}
	if (!recorded) {
		note(o, "an interrupted `ca init` (pid %ld) had recorded nothing; removed its "
		    "staged files", pid);
		return clear_empty_db(o, f, err);
	}
	if (util_sync_dir(o->dir, err) != 0)
		return -1;
	if (published == 0)
		note(o, "an interrupted `ca init` (pid %ld) had created its CA completely; removed "
		    "its leftover staged files", pid);
	else
		note(o, "an interrupted `ca init` (pid %ld) had recorded its CA but not published "
		    "all its files; finished publishing them: this is the CA that run created (its "
		    "name, key type and options, not this run's)", pid);
	return 1;
}
