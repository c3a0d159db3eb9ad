/* The CA on disk: the workbench's flows (init, issue, sign, revoke, CRL) built
 * from pki_* (what goes in a certificate), util_* (how files are written) and
 * store_* (what was issued). */
#include "tlsgate/ca.h"

#include <ctype.h>
#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tlsgate/util.h"

#include "ca_int.h"

#define CA_DB "tlsgate.db"
#define CA_STORE_CONF "store.conf"

#define CA_DEFAULT_NAME "tlsgate Root CA"
#define SERIAL_ATTEMPTS 8


/* The files of one operation (util_fileset): staged under temporary names
 * while the work goes on, published at the end, and taken back if it
 * fails, so a failure never leaves a file at a final name half-done. An
 * issued certificate's files carry its serial in their temporary names
 * (tag "SERIAL.key", "SERIAL-force.crt"), so a run that finds the
 * certificate pending after a crash can find them again. */
typedef util_fileset written;

/* The tag of an issued certificate's file: serial, whether it replaces a
 * file (--force), and what it is. */
static int
file_tag(char *tag, size_t len, const char *serial, const char *ext, int force)
{
	int n = snprintf(tag, len, "%s%s.%s", serial, force ? "-force" : "", ext);

	return n < 0 || (size_t)n >= len ? -1 : 0;
}

static int
write_key(written *w, const char *path, const char *tag, EVP_PKEY *key, const char *pass,
    int flags, tg_err *err)
{
	char *pem;
	size_t len;
	int rc;

	if (pki_key_to_pem(key, pass, &pem, &len, err) != 0)
		return -1;
	rc = util_fileset_stage(w, path, tag, pem, len, 0600, flags, err);
	OPENSSL_clear_free(pem, len);
	return rc;
}

static int
write_certs(written *w, const char *path, const char *tag, X509 *const *certs, size_t n,
    int flags, tg_err *err)
{
	char *pem;
	size_t len;
	int rc;

	if (pki_certs_to_pem(certs, n, &pem, &len, err) != 0)
		return -1;
	rc = util_fileset_stage(w, path, tag, pem, len, 0644, flags, err);
	free(pem);
	return rc;
}

static int
record_cert(store *db, X509 *cert, const char *profile, const char *cert_path,
    const char *key_path, const char *status, tg_err *err)
{
	char writer[300];
	store_cert c;
	char subject[1024], cn[PKI_NAME_MAX], sans[8192];
	char *pem = NULL;
	size_t len;
	int rc;

	memset(&c, 0, sizeof(c));
	pki_cert_serial_hex(cert, c.serial, sizeof(c.serial));
	pki_name_oneline(X509_get_subject_name(cert), subject, sizeof(subject));
	pki_cert_cn(cert, cn, sizeof(cn));
	pki_cert_sans(cert, sans, sizeof(sans));
	pki_cert_fingerprint(cert, c.fingerprint);
	if (pki_certs_to_pem(&cert, 1, &pem, &len, err) != 0)
		return -1;
	c.subject = subject;
	c.cn = cn;
	c.sans = sans;
	c.profile = (char *)profile;
	c.not_before = pki_asn1_time_unix(X509_get0_notBefore(cert));
	c.not_after = pki_asn1_time_unix(X509_get0_notAfter(cert));
	c.pem = pem;
	c.cert_path = (char *)cert_path;
	c.key_path = (char *)key_path;
	c.created_at = (int64_t)time(NULL);
	snprintf(c.status, sizeof(c.status), "%s", status);
	if (strcmp(status, STORE_PENDING) == 0) {
		ca_writer_id(writer, sizeof(writer));
		c.writer = writer;
	}
	rc = store_add(db, &c, err);
	free(pem);
	return rc;
}

static X509 *build_signed(store *db, const pki_profile *p, EVP_PKEY *key, X509 *issuer,
    EVP_PKEY *issuer_key, unsigned char *serial, char *hex, const char *cert_path,
    const char *key_path, const char *status, tg_err *err);

/* Draws serials until one is free in the inventory, then builds and records
 * the certificate. Must run inside a store transaction. */
static X509 *
build_and_record(store *db, const pki_profile *in, const struct ca_url_list *crl,
    EVP_PKEY *key, X509 *issuer, EVP_PKEY *issuer_key, const char *cert_path,
    const char *key_path, const char *status, tg_err *err)
{
	unsigned char serial[PKI_SERIAL_LEN];
	char hex[STORE_SERIAL_MAX];
	/* The issuer's CRL, from the CA's settings, goes into what it signs. */
	pki_profile *p = malloc(sizeof(*p));
	X509 *cert = NULL;

	if (p == NULL) {
		tg_err_set(err, TG_ERR_INTERNAL, "out of memory");
		return NULL;
	}
	*p = *in;
	p->crl_urls = crl != NULL ? crl->ptr : NULL;
	p->ncrl_urls = crl != NULL ? crl->n : 0;
	cert = build_signed(db, p, key, issuer, issuer_key, serial, hex, cert_path, key_path,
	    status, err);
	free(p);
	return cert;
}

static X509 *
build_signed(store *db, const pki_profile *p, EVP_PKEY *key, X509 *issuer,
    EVP_PKEY *issuer_key, unsigned char *serial, char *hex, const char *cert_path,
    const char *key_path, const char *status, tg_err *err)
{

	for (int attempt = 0; attempt < SERIAL_ATTEMPTS; attempt++) {
		X509 *cert;
		int have;

		if (pki_serial_random(serial, err) != 0)
			return NULL;
		util_hex(hex, serial, PKI_SERIAL_LEN, 1);
		if ((have = store_has_serial(db, hex, err)) < 0)
			return NULL;
		if (have)
			continue;
		if ((cert = pki_cert_build(p, key, issuer, issuer_key, serial, PKI_SERIAL_LEN,
			 err)) == NULL)
			return NULL;
		if (record_cert(db, cert, pki_profile_name(p->kind), cert_path, key_path, status,
			err) != 0) {
			X509_free(cert);
			return NULL;
		}
		return cert;
	}
	tg_err_set(err, TG_ERR_INTERNAL, "could not find a free serial in %d draws", SERIAL_ATTEMPTS);
	return NULL;
}


/* Refused before anything is written: a URL that would not survive the
 * one-line file, or that libpq would reject, or that holds a password. */
static int
store_url_check(const char *url, tg_err *err)
{
	if (strlen(url) >= STORE_URL_MAX)
		return tg_err_set(err, TG_ERR_USAGE, "store URL too long (at most %d bytes)",
		    STORE_URL_MAX - 1);
	for (const char *p = url; *p; p++)
		if (iscntrl((unsigned char)*p))
			return tg_err_set(err, TG_ERR_USAGE,
			    "the store URL holds a control character; write it on one line");
	return store_check_url(url, err);
}

/* The URL of the CA's inventory: store.conf's, else sqlite:DIR/tlsgate.db. */
static int
ca_store_url(const char *dir, char *url, size_t len, tg_err *err)
{
	char conf[PATH_MAX], dbpath[PATH_MAX];

	if (util_path_join(conf, sizeof(conf), dir, CA_STORE_CONF, err) != 0 ||
	    util_path_join(dbpath, sizeof(dbpath), dir, CA_DB, err) != 0)
		return -1;
	if (util_exists(conf))
		return ca_store_conf_read(conf, url, len, err);
	if ((size_t)snprintf(url, len, "sqlite:%s", dbpath) >= len)
		return tg_err_set(err, TG_ERR_USAGE, "CA directory path too long: %s", dir);
	return 0;
}

/* The inventory of the CA in dir: store.conf's URL, else DIR/tlsgate.db.
 * Rows belong to the CA named by its root key, which is known before the
 * root certificate exists (the inventory numbers that certificate). */
static store *
ca_store_open(const char *dir, const char *url, EVP_PKEY *root_key, tg_err *err)
{
	char conf[PATH_MAX], buf[STORE_URL_MAX > PATH_MAX + 8 ? STORE_URL_MAX : PATH_MAX + 8];
	char dbpath[PATH_MAX], id[65];
	store *db;

	if (util_path_join(conf, sizeof(conf), dir, CA_STORE_CONF, err) != 0 ||
	    util_path_join(dbpath, sizeof(dbpath), dir, CA_DB, err) != 0 ||
	    pki_key_id(root_key, id, err) != 0)
		return NULL;
	if (url == NULL && util_exists(conf)) {
		if (ca_store_conf_read(conf, buf, sizeof(buf), err) != 0)
			return NULL;
		url = buf;
	} else if (url == NULL) {
		/* The scheme keeps a ':' in DIR from reading as one. */
		snprintf(buf, sizeof(buf), "sqlite:%s", dbpath);
		url = buf;
	}
	if ((db = store_open_ca(url, id, err)) == NULL && url == buf && util_exists(conf))
		tg_err_prefix(err, "inventory of %s (its URL is in %s)", dir, conf);
	return db;
}

static int
ca_paths(const char *dir, const char *name, char *crt, char *key, tg_err *err)
{
	char base[PATH_MAX];

	if (util_path_join(crt, PATH_MAX, dir, name, err) != 0 ||
	    util_path_join(base, sizeof(base), dir, "private", err) != 0 ||
	    util_path_join(key, PATH_MAX, base, name, err) != 0)
		return -1;
	/* name is "root" or "intermediate": add the extensions */
	if (strlen(crt) + 5 > PATH_MAX || strlen(key) + 5 > PATH_MAX)
		return tg_err_set(err, TG_ERR_USAGE, "CA directory path too long: %s", dir);
	strcat(crt, ".crt");
	strcat(key, ".key");
	return 0;
}

/* The first file of a CA found in dir, or NULL: a CA is never overwritten. */
static const char *
existing_ca_file(char *const *paths, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (util_exists(paths[i]))
			return paths[i];
	return NULL;
}

/* Creates DIR, DIR/private and DIR/issued; *made gets a bit for each one
 * that did not exist, so a failed init can take back exactly those. */
static int
init_dirs(const char *const *dirs, int *made, tg_err *err)
{
	static const mode_t modes[] = { 0755, 0700, 0755 };

	for (int i = 0; i < 3; i++) {
		if (!util_exists(dirs[i]))
			*made |= 1 << i;
		if (util_mkdir_p(dirs[i], modes[i], err) != 0)
			return -1;
	}
	/* An existing private/ made by someone else must still be private. */
	if (chmod(dirs[1], 0700) != 0)
		return tg_err_set(err, TG_ERR_IO, "cannot set mode 0700 on %s: %s", dirs[1],
		    strerror(errno));
	return 0;
}

static void
unmake_dirs(const char *const *dirs, int made)
{
	for (int i = 2; i >= 0; i--)
		if (made & (1 << i))
			rmdir(dirs[i]);
}

/* Stages one of a new CA's files under the name a later run can find from
 * its tag alone (ca_init_files), so that a crash after the commit can be
 * finished by running ca init again (init.c). */
static int
stage_init_file(written *w, const struct ca_init_file *files, size_t i, const char *data,
    size_t len, mode_t mode, tg_err *err)
{
	return util_fileset_stage(w, files[i].path, files[i].tag, data, len, mode, 0, err);
}

static int
stage_init_key(written *w, const struct ca_init_file *files, size_t i, EVP_PKEY *key,
    const char *pass, tg_err *err)
{
	return write_key(w, files[i].path, files[i].tag, key, pass, 0, err);
}

static int
stage_init_certs(written *w, const struct ca_init_file *files, size_t i, X509 *const *certs,
    size_t n, tg_err *err)
{
	return write_certs(w, files[i].path, files[i].tag, certs, n, 0, err);
}

/* The CRL URLs of a new CA, checked. */
static int
init_settings(const tg_ca_init_opts *o, struct ca_settings *set, tg_err *err)
{
	memset(set, 0, sizeof(*set));
	if (o->nroot_crl_urls > 0 && !o->intermediate)
		return tg_err_set(err, TG_ERR_USAGE, "--root-crl-url goes into the intermediate, and "
		    "this CA has none: without --intermediate the root issues, so its CRL is "
		    "--crl-url");
	for (size_t i = 0; i < o->ncrl_urls; i++)
		if (ca_url_list_add(&set->leaf, o->crl_urls[i], "--crl-url", err) != 0)
			return -1;
	for (size_t i = 0; i < o->nroot_crl_urls; i++)
		if (ca_url_list_add(&set->root, o->root_crl_urls[i], "--root-crl-url", err) != 0)
			return -1;
	return 0;
}

/* Like an issue: every file is staged, the inventory commits, and only
 * then do the files reach their final names. A crash before the commit
 * leaves staged files and no row; after it, rows and staged files that the
 * next ca init publishes (ca_init_recover). */
int
tg_ca_init(const tg_ca_init_opts *o, tg_err *err)
{
	struct ca_init_file f[CA_INIT_NFILES];
	char priv[PATH_MAX], issued[PATH_MAX], conf_text[STORE_URL_MAX + 256];
	char set_text[CA_SETTINGS_TEXT_MAX];
	struct ca_settings set;
	char *const ca_files[] = { f[CA_INIT_ROOT_CRT].path, f[CA_INIT_ROOT_KEY].path,
		f[CA_INIT_DB].path, f[CA_INIT_CONF].path };
	const char *const dirs[] = { o->dir, priv, issued };
	const char *found;
	EVP_PKEY *rkey = NULL, *ikey = NULL;
	X509 *rcert = NULL, *icert = NULL;
	store *db = NULL;
	pki_profile p;
	written w = { 0 };
	int rc = -1, in_txn = 0, db_created = 0, made = 0, n;

	if (ca_init_paths(o->dir, f, err) != 0 ||
	    util_path_join(priv, sizeof(priv), o->dir, "private", err) != 0 ||
	    util_path_join(issued, sizeof(issued), o->dir, "issued", err) != 0)
		return -1;
	/* What a killed init left: finished (it was recorded) or cleared. */
	if ((n = ca_init_recover(o, f, err)) != 0)
		return n > 0 ? 0 : -1;
	if ((found = existing_ca_file(ca_files, sizeof(ca_files) / sizeof(ca_files[0]))) != NULL)
		return tg_err_set(err, TG_ERR_EXISTS,
		    "%s already holds a CA (%s); a CA is never overwritten: choose another --dir, "
		    "or remove the old one yourself if you really mean to", o->dir, found);
	if (o->store_url != NULL && store_url_check(o->store_url, err) != 0)
		return -1;
	if (init_settings(o, &set, err) != 0)
		return -1;

	memset(&p, 0, sizeof(p));
	p.kind = PKI_PROFILE_ROOT;
	snprintf(p.cn, sizeof(p.cn), "%s", o->name && *o->name ? o->name : CA_DEFAULT_NAME);
	p.valid_secs = o->root_secs ? o->root_secs : (int64_t)PKI_DAYS_ROOT * 86400;
	if ((rkey = pki_key_generate(o->key_type, err)) == NULL)
		goto out;
	/* A remote inventory is reached before anything is created, so an
	 * unreachable server leaves DIR as it was. */
	if (o->store_url != NULL && (db = ca_store_open(o->dir, o->store_url, rkey, err)) == NULL)
		goto out;
	if (init_dirs(dirs, &made, err) != 0)
		goto out;
	if (db == NULL) {
		db_created = 1;
		if ((db = ca_store_open(o->dir, NULL, rkey, err)) == NULL)
			goto out;
	}
	if (store_begin(db, err) != 0)
		goto out;
	in_txn = 1;
	if ((rcert = build_and_record(db, &p, NULL, rkey, NULL, rkey, f[CA_INIT_ROOT_CRT].path,
		 f[CA_INIT_ROOT_KEY].path, STORE_VALID, err)) == NULL)
		goto out;
	if (stage_init_key(&w, f, CA_INIT_ROOT_KEY, rkey, o->pass, err) != 0)
		goto out;
	if (o->intermediate) {
		X509 *both[2];
		p.kind = PKI_PROFILE_INTERMEDIATE;
		snprintf(p.cn, sizeof(p.cn), "%.200s Intermediate",
		    o->name && *o->name ? o->name : "tlsgate");
		p.valid_secs = o->intermediate_secs ? o->intermediate_secs :
		    (int64_t)PKI_DAYS_INTERMEDIATE * 86400;
		if ((ikey = pki_key_generate(o->key_type, err)) == NULL ||
		    (icert = build_and_record(db, &p, &set.root, ikey, rcert, rkey,
			 f[CA_INIT_INT_CRT].path,
			 f[CA_INIT_INT_KEY].path, STORE_VALID, err)) == NULL)
			goto out;
		both[0] = icert;
		both[1] = rcert;
		if (stage_init_key(&w, f, CA_INIT_INT_KEY, ikey, o->pass, err) != 0 ||
		    stage_init_certs(&w, f, CA_INIT_INT_CRT, &icert, 1, err) != 0 ||
		    stage_init_certs(&w, f, CA_INIT_BUNDLE, both, 2, err) != 0)
			goto out;
	}
	/* 0600: the URL names hosts and users, which are nobody else's business. */
	if (o->store_url != NULL &&
	    ((n = ca_store_conf_text(conf_text, sizeof(conf_text), o->store_url, err)) < 0 ||
		stage_init_file(&w, f, CA_INIT_CONF, conf_text, (size_t)n, 0600, err) != 0))
		goto out;
	if (set.leaf.n + set.root.n > 0 &&
	    ((n = ca_settings_text(&set, set_text, sizeof(set_text), err)) < 0 ||
		stage_init_file(&w, f, CA_INIT_SETTINGS, set_text, (size_t)n, 0644, err) != 0))
		goto out;
	/* root.crt is what makes DIR a CA for every other command, so it is
	 * published last: a CA never shows up without its intermediate. */
	if (stage_init_certs(&w, f, CA_INIT_ROOT_CRT, &rcert, 1, err) != 0)
		goto out;
	util_crash_point("init-staged");
	if (util_sync_dir(o->dir, err) != 0 || store_commit(db, err) != 0)
		goto out;
	in_txn = 0;
	util_crash_point("init-recorded");
	for (size_t i = 0; i < w.n; i++) {
		if (util_fileset_publish(&w, i, err) != 0)
			goto out;
		util_crash_point("init-publishing");
	}
	if (util_sync_dir(o->dir, err) != 0)
		goto out;
	util_crash_point("init-published");
	rc = 0;
out:
	if (in_txn)
		store_rollback(db);
	store_close(db);
	/* A failure after the commit (not a crash) takes the files back; the
	 * embedded inventory goes with them, a remote one keeps rows for a
	 * root key that no longer exists (they name no usable CA). */
	if (rc != 0 && db_created)
		ca_remove_db(f[CA_INIT_DB].path);
	util_fileset_done(&w, rc != 0);
	if (rc != 0)
		unmake_dirs(dirs, made);
	EVP_PKEY_free(rkey);
	EVP_PKEY_free(ikey);
	X509_free(rcert);
	X509_free(icert);
	return rc;
}

void
ca_remove_db(const char *dbpath)
{
	static const char *const sides[] = { "-wal", "-shm", "-lock" };
	char side[PATH_MAX + 8];

	unlink(dbpath);
	for (size_t i = 0; i < sizeof(sides) / sizeof(sides[0]); i++) {
		snprintf(side, sizeof(side), "%s%s", dbpath, sides[i]);
		unlink(side);
	}
}

void
tg_ca_free(tg_ca *ca)
{
	if (ca == NULL)
		return;
	X509_free(ca->root);
	X509_free(ca->issuer);
	EVP_PKEY_free(ca->issuer_key);
	EVP_PKEY_free(ca->root_key);
	sk_X509_pop_free(ca->chain, X509_free);
	store_close(ca->db);
	free(ca);
}

tg_ca *
tg_ca_open(const char *dir, pki_pass *pass, int flags, tg_err *err)
{
	char root_crt[PATH_MAX], root_key[PATH_MAX], int_crt[PATH_MAX], int_key[PATH_MAX];
	char dbpath[PATH_MAX], conf[PATH_MAX];
	const char *key_path = root_key;
	tg_ca *ca;
	struct stat st;

	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
		tg_err_set(err, TG_ERR_USAGE,
		    "CA directory %s does not exist; create a CA there with `tlsgate ca init --dir %s`",
		    dir, dir);
		return NULL;
	}
	if (ca_paths(dir, "root", root_crt, root_key, err) != 0 ||
	    ca_paths(dir, "intermediate", int_crt, int_key, err) != 0 ||
	    util_path_join(dbpath, sizeof(dbpath), dir, CA_DB, err) != 0 ||
	    util_path_join(conf, sizeof(conf), dir, CA_STORE_CONF, err) != 0)
		return NULL;
	if (!util_exists(root_crt) && util_exists(dbpath)) {
		tg_err_set(err, TG_ERR_USAGE,
		    "%s is not a tlsgate CA directory (no %s, but an inventory): an interrupted "
		    "`tlsgate ca init` may have left it; run `tlsgate ca init --dir %s` again, which "
		    "finishes that CA or clears what it left", dir, root_crt, dir);
		return NULL;
	}
	if (!util_exists(root_crt) || (!util_exists(dbpath) && !util_exists(conf))) {
		tg_err_set(err, TG_ERR_USAGE,
		    "%s is not a tlsgate CA directory (no %s); create one with `tlsgate ca init --dir %s`",
		    dir, util_exists(root_crt) ? dbpath : root_crt, dir);
		return NULL;
	}
	if ((ca = calloc(1, sizeof(*ca))) == NULL) {
		tg_err_set(err, TG_ERR_INTERNAL, "out of memory");
		return NULL;
	}
	snprintf(ca->dir, sizeof(ca->dir), "%s", dir);
	if (ca_settings_read(dir, &ca->settings, err) != 0)
		goto fail;
	if ((ca->chain = sk_X509_new_null()) == NULL ||
	    (ca->root = pki_load_cert(root_crt, err)) == NULL)
		goto fail;
	if (util_exists(int_crt)) {
		if ((ca->issuer = pki_load_cert(int_crt, err)) == NULL)
			goto fail;
		X509_up_ref(ca->issuer);
		sk_X509_push(ca->chain, ca->issuer);
		key_path = int_key;
	} else {
		X509_up_ref(ca->root);
		ca->issuer = ca->root;
	}
	if (!(flags & TG_CA_NEED_KEY))
		goto open_store;
	if ((ca->issuer_key = pki_load_key_pass(key_path, pass, err)) == NULL)
		goto fail;
	if (!pki_key_matches_cert(ca->issuer_key, ca->issuer)) {
		tg_err_set(err, TG_ERR_VERIFY,
		    "the CA key %s does not belong to the CA certificate in %s; restore the matching "
		    "pair from a backup", key_path, dir);
		goto fail;
	}
	/* The root key may have been moved offline; it is only needed for the
	 * root's CRL over the intermediate. */
	if (key_path != root_key && util_exists(root_key) &&
	    (ca->root_key = pki_load_key_pass(root_key, pass, err)) == NULL)
		goto fail;
open_store:
	if ((ca->db = ca_store_open(dir, NULL, X509_get0_pubkey(ca->root), err)) == NULL)
		goto fail;
	return ca;
fail:
	tg_ca_free(ca);
	return NULL;
}

void
tg_ca_set_notify(tg_ca *ca, tg_ca_notify_fn fn, void *arg)
{
	ca->notify = fn;
	ca->notify_arg = arg;
}

void
ca_note(tg_ca *ca, const char *fmt, ...)
{
	char msg[2048];
	va_list ap;

	if (ca->notify == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ca->notify(msg, ca->notify_arg);
}

int
ca_lock(tg_ca *ca, tg_err *err)
{
	if (store_lock(ca->db, err) != 0)
		return -1;
	if (ca_reconcile(ca, err) != 0) {
		store_unlock(ca->db);
		return -1;
	}
	return 0;
}

const char *tg_ca_dir(const tg_ca *ca) { return ca->dir; }
store *tg_ca_store(tg_ca *ca) { return ca->db; }
X509 *tg_ca_root(tg_ca *ca) { return ca->root; }
X509 *tg_ca_issuer(tg_ca *ca) { return ca->issuer; }

/* Leaf first, then the intermediates; never the root (clients have it). */
int
ca_leaf_chain(tg_ca *ca, X509 *leaf, X509 **certs, size_t max)
{
	size_t n = 0;

	certs[n++] = leaf;
	for (int i = 0; i < sk_X509_num(ca->chain) && n < max; i++)
		certs[n++] = sk_X509_value(ca->chain, i);
	return (int)n;
}

static int
write_leaf_chain(tg_ca *ca, written *w, const char *path, const char *tag, X509 *leaf,
    int flags, tg_err *err)
{
	X509 *certs[CA_CHAIN_MAX];
	int n = ca_leaf_chain(ca, leaf, certs, CA_CHAIN_MAX);

	return write_certs(w, path, tag, certs, (size_t)n, flags, err);
}

static int
leaf_paths(const char *out_dir, const char *name, tg_issued *r, int p12, tg_err *err)
{
	int a = snprintf(r->cert_path, sizeof(r->cert_path), "%s/%s.crt", out_dir, name);
	int b = snprintf(r->key_path, sizeof(r->key_path), "%s/%s.key", out_dir, name);
	int c = snprintf(r->p12_path, sizeof(r->p12_path), "%s/%s.p12", out_dir, name);

	if (a < 0 || b < 0 || c < 0 || (size_t)c >= sizeof(r->p12_path))
		return tg_err_set(err, TG_ERR_USAGE, "output path too long for '%s'", name);
	if (!p12)
		r->p12_path[0] = '\0';
	return 0;
}

static int
refuse_existing(const tg_issued *r, tg_err *err)
{
	const char *paths[] = { r->cert_path, r->key_path, r->p12_path };

	for (size_t i = 0; i < 3; i++)
		if (paths[i][0] != '\0' && util_exists(paths[i]))
			return tg_err_set(err, TG_ERR_EXISTS,
			    "%s already exists; refusing to overwrite it (pass --force to replace it, "
			    "or `tlsgate cert renew` to renew)", paths[i]);
	return 0;
}

/* What the caller is told about one certificate, once it is published and
 * recorded: kept small, as a batch may hold thousands. */
typedef struct {
	char serial[STORE_SERIAL_MAX];
	char fingerprint[65];
	char *cn;
	int64_t not_after;
	size_t files;          /* its files in the fileset: key, [p12,] cert */
} issue_item;

typedef struct {
	issue_item *items;
	size_t n, cap;
} issue_list;

static int
issue_list_add(issue_list *l, X509 *cert, const char *cn, size_t files, tg_err *err)
{
	issue_item *it;

	if (l->n == l->cap) {
		size_t ncap = l->cap ? l->cap * 2 : 16;
		issue_item *ni = realloc(l->items, ncap * sizeof(*ni));
		if (ni == NULL)
			return tg_err_set(err, TG_ERR_INTERNAL, "out of memory");
		l->items = ni;
		l->cap = ncap;
	}
	it = &l->items[l->n];
	memset(it, 0, sizeof(*it));
	if ((it->cn = strdup(cn)) == NULL)
		return tg_err_set(err, TG_ERR_INTERNAL, "out of memory");
	pki_cert_serial_hex(cert, it->serial, sizeof(it->serial));
	pki_cert_fingerprint(cert, it->fingerprint);
	it->not_after = pki_asn1_time_unix(X509_get0_notAfter(cert));
	it->files = files;
	l->n++;
	return 0;
}

static void
issue_list_free(issue_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->items[i].cn);
	free(l->items);
	memset(l, 0, sizeof(*l));
}

/* Signs one certificate, records it "pending" and stages its files: key,
 * p12, then the certificate, the order they are published in. */
static int
issue_one(tg_ca *ca, const pki_profile *p, const tg_issue_opts *o, const char *out_dir,
    int flags, written *w, issue_list *l, tg_err *err)
{
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	unsigned char *der = NULL;
	size_t dlen = 0, first = w->n;
	char serial[STORE_SERIAL_MAX], tag[STORE_SERIAL_MAX + 16];
	int rc = -1, force = (flags & UTIL_WRITE_FORCE) != 0;
	tg_issued r;

	memset(&r, 0, sizeof(r));
	if (leaf_paths(out_dir, p->cn, &r, o->p12, err) != 0)
		return -1;
	if (!o->force && refuse_existing(&r, err) != 0)
		return -1;
	if ((key = pki_key_generate(o->key_type, err)) == NULL)
		goto out;
	if ((cert = build_and_record(ca->db, p, &ca->settings.leaf, key, ca->issuer,
		 ca->issuer_key, r.cert_path,
		 r.key_path, STORE_PENDING, err)) == NULL)
		goto out;
	pki_cert_serial_hex(cert, serial, sizeof(serial));
	if (file_tag(tag, sizeof(tag), serial, "key", force) != 0 ||
	    write_key(w, r.key_path, tag, key, o->key_pass, flags, err) != 0)
		goto out;
	if (o->p12) {
		if (pki_p12_build(cert, key, ca->chain, p->cn, o->p12_pass ? o->p12_pass : "",
			o->p12_legacy, &der, &dlen, err) != 0 ||
		    file_tag(tag, sizeof(tag), serial, "p12", force) != 0 ||
		    util_fileset_stage(w, r.p12_path, tag, der, dlen, 0600, flags, err) != 0)
			goto out;
	}
	if (file_tag(tag, sizeof(tag), serial, "crt", force) != 0 ||
	    write_leaf_chain(ca, w, r.cert_path, tag, cert, flags, err) != 0 ||
	    issue_list_add(l, cert, p->cn, w->n - first, err) != 0)
		goto out;
	rc = 0;
out:
	if (der != NULL)
		OPENSSL_clear_free(der, dlen);
	EVP_PKEY_free(key);
	X509_free(cert);
	return rc;
}

/* Marks the certificates valid (published) or void (taken back), in one
 * transaction. */
static int
settle(tg_ca *ca, const issue_list *l, const char *to, tg_err *err)
{
	if (store_begin(ca->db, err) != 0)
		return -1;
	for (size_t i = 0; i < l->n; i++)
		if (store_set_status(ca->db, l->items[i].serial, STORE_PENDING, to, err) != 0) {
			store_rollback(ca->db);
			return -1;
		}
	return store_commit(ca->db, err) == 0 ? 0 : (store_rollback(ca->db), -1);
}

/* Publishes each certificate's files, the certificate last. */
static int
publish_items(written *w, const issue_list *l, tg_err *err)
{
	size_t f = 0;

	for (size_t i = 0; i < l->n; i++) {
		for (size_t k = 0; k < l->items[i].files; k++, f++)
			if (util_fileset_publish(w, f, err) != 0)
				return -1;
		util_crash_point("issue-publishing");
	}
	return 0;
}

/* The order that keeps files and inventory in step, crash or not:
 *   rows recorded "pending" and files staged -> sync -> COMMIT
 *   -> files published (key, p12, certificate) -> sync -> rows "valid", COMMIT
 * with the writer lock held throughout. No certificate reaches its final
 * name before its row is durable; a run that dies after the first commit
 * leaves pending rows the next writer settles (ca_reconcile). */
int
tg_ca_issue(tg_ca *ca, tg_profile_source next, void *arg, const tg_issue_opts *o,
    void (*done)(const tg_issued *r, void *arg), void *done_arg, tg_err *err)
{
	char out_dir[PATH_MAX];
	pki_profile *p = NULL;
	written w = { 0 };
	issue_list l = { 0 };
	int rc = -1, got, flags, recorded = 0;

	if (o->out_dir != NULL)
		snprintf(out_dir, sizeof(out_dir), "%s", o->out_dir);
	else if (util_path_join(out_dir, sizeof(out_dir), ca->dir, "issued", err) != 0)
		return -1;
	if (util_mkdir_p(out_dir, 0755, err) != 0)
		return -1;
	if ((p = malloc(sizeof(*p))) == NULL)
		return tg_err_set(err, TG_ERR_INTERNAL, "out of memory");
	if (ca_lock(ca, err) != 0)
		goto out_free;
	/* After settling: the dead writers' staged files are no one's now. */
	util_sweep_stale(out_dir);
	if (store_begin(ca->db, err) != 0)
		goto out;
	/* Files are synced once for the whole batch, before the inventory commits. */
	flags = UTIL_WRITE_NOSYNC | (o->force ? UTIL_WRITE_FORCE : 0);
	while ((got = next(arg, p, err)) == 1)
		if (issue_one(ca, p, o, out_dir, flags, &w, &l, err) != 0)
			goto rollback;
	if (got < 0)
		goto rollback;
	if (l.n == 0) {
		tg_err_set(err, TG_ERR_USAGE, "nothing to issue");
		goto rollback;
	}
	util_crash_point("issue-staged");
	if (util_sync_dir(out_dir, err) != 0 || store_commit(ca->db, err) != 0)
		goto rollback;
	recorded = 1;
	util_crash_point("issue-recorded");
	if (publish_items(&w, &l, err) != 0 || util_sync_dir(out_dir, err) != 0)
		goto out;
	util_crash_point("issue-published");
	if (settle(ca, &l, STORE_VALID, err) != 0)
		goto out;
	rc = 0;
	goto out;
rollback:
	store_rollback(ca->db);
out:
	util_fileset_done(&w, rc != 0);
	/* Recorded but not published: the files are taken back, so the rows
	 * become void; if even that fails they stay pending for the next run. */
	if (rc != 0 && recorded)
		(void)settle(ca, &l, STORE_VOID, NULL);
	util_crash_point("issue-done");
	store_unlock(ca->db);
	/* Only now is anything issued: published and recorded. */
	for (size_t i = 0; rc == 0 && done != NULL && i < l.n; i++) {
		tg_issued r;
		memset(&r, 0, sizeof(r));
		snprintf(r.cn, sizeof(r.cn), "%s", l.items[i].cn);
		if (leaf_paths(out_dir, r.cn, &r, o->p12, NULL) != 0)
			continue;
		snprintf(r.serial, sizeof(r.serial), "%s", l.items[i].serial);
		snprintf(r.fingerprint, sizeof(r.fingerprint), "%s", l.items[i].fingerprint);
		r.not_after = l.items[i].not_after;
		done(&r, done_arg);
	}
out_free:
	issue_list_free(&l);
	free(p);
	return rc;
}

/* Builds, records as valid and runs in_txn, inside the caller's
 * transaction; r (and *pem when pem is not NULL) describe the certificate. */
static int
sign_item(tg_ca *ca, const pki_profile *p, EVP_PKEY *pub, tg_ca_txn_fn in_txn, void *arg,
    tg_issued *r, char **pem, size_t *len, tg_err *err)
{
	X509 *cert, *certs[CA_CHAIN_MAX];
	int rc = -1, n;

	memset(r, 0, sizeof(*r));
	snprintf(r->cn, sizeof(r->cn), "%s", p->cn);
	if ((cert = build_and_record(ca->db, p, &ca->settings.leaf, pub, ca->issuer,
		 ca->issuer_key, NULL, NULL, STORE_VALID, err)) == NULL)
		return -1;
	pki_cert_serial_hex(cert, r->serial, sizeof(r->serial));
	pki_cert_fingerprint(cert, r->fingerprint);
	r->not_after = pki_asn1_time_unix(X509_get0_notAfter(cert));
	if (pem != NULL) {
		n = ca_leaf_chain(ca, cert, certs, CA_CHAIN_MAX);
		if (pki_certs_to_pem(certs, (size_t)n, pem, len, err) != 0)
			goto out;
	}
	if (in_txn != NULL && in_txn(ca->db, r, arg, err) != 0)
		goto out;
	rc = 0;
out:
	X509_free(cert);
	if (rc != 0 && pem != NULL) {
		free(*pem);
		*pem = NULL;
	}
	return rc;
}

int
tg_ca_sign_mem(tg_ca *ca, const pki_profile *p, EVP_PKEY *pub, tg_ca_txn_fn in_txn, void *arg,
    tg_issued *r, char **pem, size_t *len, tg_err *err)
{
	int rc = -1;

	memset(r, 0, sizeof(*r));
	*pem = NULL;
	*len = 0;
	if (ca_lock(ca, err) != 0)
		return -1;
	if (store_begin(ca->db, err) != 0)
		goto out;
	if (sign_item(ca, p, pub, in_txn, arg, r, pem, len, err) != 0 ||
	    store_commit(ca->db, err) != 0) {
		store_rollback(ca->db);
		goto out;
	}
	rc = 0;
out:
	store_unlock(ca->db);
	if (rc != 0) {
		free(*pem);
		*pem = NULL;
	}
	return rc;
}

/* A request's savepoint in a group: one name, reused, as each is released
 * or rolled back to before the next is set. */
static const char sp_set[] = "SAVEPOINT tg_sign";
static const char sp_release[] = "RELEASE SAVEPOINT tg_sign";
static const char sp_undo[] = "ROLLBACK TO SAVEPOINT tg_sign";

static int
savepoint(tg_ca *ca, const char *sql, tg_err *err)
{
	return store_sql(ca->db, sql, NULL, 0, NULL, NULL, NULL, err);
}

/* The whole group failed: every request says why. */
static int
group_failed(tg_ca_sign_req *const *reqs, size_t n, const tg_err *why, tg_err *err)
{
	for (size_t i = 0; i < n; i++) {
		reqs[i]->rc = -1;
		if (reqs[i]->err.msg[0] == '\0')
			reqs[i]->err = *why;
	}
	if (err != NULL && err != why)
		*err = *why;
	return -1;
}

/* The group's requests signed in turn, each in its own savepoint, then one
 * commit: the fsync, the writer lock and its settling are paid once for the
 * group instead of once per certificate, and no request is answered before
 * the commit made its row durable. */
int
tg_ca_sign_group(tg_ca *ca, tg_ca_sign_req *const *reqs, size_t n, tg_err *err)
{
	tg_err why = { 0 };

	for (size_t i = 0; i < n; i++) {
		reqs[i]->rc = -1;
		memset(&reqs[i]->err, 0, sizeof(reqs[i]->err));
		memset(&reqs[i]->r, 0, sizeof(reqs[i]->r));
	}
	if (ca_lock(ca, &why) != 0)
		return group_failed(reqs, n, &why, err);
	if (store_begin(ca->db, &why) != 0)
		goto fail;
	for (size_t i = 0; i < n; i++) {
		tg_ca_sign_req *q = reqs[i];
		if (savepoint(ca, sp_set, &why) != 0)
			goto rollback;
		q->rc = sign_item(ca, q->p, q->pub, q->in_txn, q->arg, &q->r, NULL, NULL, &q->err);
		if (savepoint(ca, q->rc == 0 ? sp_release : sp_undo, &why) != 0)
			goto rollback;
		if (q->rc != 0)
			memset(&q->r, 0, sizeof(q->r));
	}
	util_crash_point("sign-group-recorded");
	if (store_commit(ca->db, &why) != 0)
		goto rollback;
	util_crash_point("sign-group-committed");
	store_unlock(ca->db);
	return 0;
rollback:
	store_rollback(ca->db);
fail:
	store_unlock(ca->db);
	for (size_t i = 0; i < n; i++)
		memset(&reqs[i]->err, 0, sizeof(reqs[i]->err));
	return group_failed(reqs, n, &why, err);
}

/* To stdout: recorded first, so nothing the inventory lacks is ever shown. */
static int
sign_to_stdout(tg_ca *ca, const pki_profile *p, EVP_PKEY *pub, tg_issued *r, tg_err *err)
{
	char *pem;
	size_t len;

	if (tg_ca_sign_mem(ca, p, pub, NULL, NULL, r, &pem, &len, err) != 0)
		return -1;
	fwrite(pem, 1, len, stdout);
	free(pem);
	return 0;
}

int
tg_ca_sign(tg_ca *ca, const pki_profile *p, EVP_PKEY *pub, const char *out_path, int force,
    tg_issued *r, tg_err *err)
{
	X509 *cert = NULL;
	written w = { 0 };
	issue_list l = { 0 };
	char tag[STORE_SERIAL_MAX + 16];
	int rc = -1, in_txn = 0, recorded = 0;
	int flags = force ? UTIL_WRITE_FORCE : 0;

	if (out_path == NULL)
		return sign_to_stdout(ca, p, pub, r, err);
	memset(r, 0, sizeof(*r));
	snprintf(r->cn, sizeof(r->cn), "%s", p->cn);
	snprintf(r->cert_path, sizeof(r->cert_path), "%s", out_path);
	if (util_may_write(out_path, force, err) != 0)
		return -1;
	if (ca_lock(ca, err) != 0)
		return -1;
	if (store_begin(ca->db, err) != 0)
		goto out;
	in_txn = 1;
	if ((cert = build_and_record(ca->db, p, &ca->settings.leaf, pub, ca->issuer,
		 ca->issuer_key, out_path, NULL, STORE_PENDING, err)) == NULL)
		goto out;
	pki_cert_serial_hex(cert, r->serial, sizeof(r->serial));
	pki_cert_fingerprint(cert, r->fingerprint);
	r->not_after = pki_asn1_time_unix(X509_get0_notAfter(cert));
	if (file_tag(tag, sizeof(tag), r->serial, "crt", force) != 0 ||
	    write_leaf_chain(ca, &w, out_path, tag, cert, flags, err) != 0 ||
	    issue_list_add(&l, cert, p->cn, 1, err) != 0)
		goto out;
	if (store_commit(ca->db, err) != 0)
		goto out;
	in_txn = 0;
	recorded = 1;
	if (util_fileset_publish_all(&w, err) == 0 && settle(ca, &l, STORE_VALID, err) == 0)
		rc = 0;
out:
	if (in_txn)
		store_rollback(ca->db);
	util_fileset_done(&w, rc != 0);
	if (rc != 0 && recorded)
		(void)settle(ca, &l, STORE_VOID, NULL);
	store_unlock(ca->db);
	issue_list_free(&l);
	X509_free(cert);
	return rc;
}

int
tg_serial_normalize(const char *in, char out[STORE_SERIAL_MAX], tg_err *err)
{
	size_t n = 0, digits = 0;

	if (strncmp(in, "0x", 2) == 0 || strncmp(in, "0X", 2) == 0)
		in += 2;
	while (*in == '0' || *in == ':')
		in++;
	/* Whole octets, as OpenSSL prints them: an odd count gets a leading 0. */
	for (const char *p = in; *p; p++)
		digits += *p != ':';
	if (digits % 2 == 1)
		out[n++] = '0';
	for (const char *p = in; *p; p++) {
		if (*p == ':')
			continue;
		if (!isxdigit((unsigned char)*p) || n + 1 >= STORE_SERIAL_MAX)
			return tg_err_set(err, TG_ERR_USAGE,
			    "'%s' is not a serial number (hex, as `tlsgate cert list` shows it)", in);
		out[n++] = (char)toupper((unsigned char)*p);
	}
	if (n == 0)
		return tg_err_set(err, TG_ERR_USAGE, "empty serial number");
	out[n] = '\0';
	return 0;
}

int
tg_ca_revoke(tg_ca *ca, const char *serial, int reason, tg_err *err)
{
	int rc = -1;

	if (ca_lock(ca, err) != 0)
		return -1;
	if (store_begin(ca->db, err) != 0)
		goto out;
	util_crash_point("revoke-begun");
	if (store_revoke(ca->db, serial, (int64_t)time(NULL), reason, err) != 0 ||
	    store_commit(ca->db, err) != 0) {
		store_rollback(ca->db);
		goto out;
	}
	util_crash_point("revoke-committed");
	rc = 0;
out:
	store_unlock(ca->db);
	return rc;
}

/* What a certificate the inventory lacks was issued as, from what it may do. */
static const char *
guess_profile(X509 *cert)
{
	uint32_t xku = X509_get_extended_key_usage(cert);

	if (X509_check_ca(cert) > 0)
		return pki_profile_name(PKI_PROFILE_INTERMEDIATE);
	if ((xku & XKU_SSL_SERVER) && (xku & XKU_SSL_CLIENT) && xku != UINT32_MAX)
		return pki_profile_name(PKI_PROFILE_BOTH);
	if ((xku & XKU_SSL_CLIENT) && !(xku & XKU_SSL_SERVER))
		return pki_profile_name(PKI_PROFILE_CLIENT);
	return pki_profile_name(PKI_PROFILE_SERVER);
}

/* 1 if this CA's issuing key (or its root's, for an intermediate) signed
 * cert: a signature check, not just matching names. */
static int
signed_by_ca(tg_ca *ca, X509 *cert)
{
	if (X509_check_issued(ca->issuer, cert) == X509_V_OK &&
	    X509_verify(cert, X509_get0_pubkey(ca->issuer)) == 1)
		return 1;
	ERR_clear_error();
	if (ca->issuer != ca->root && X509_check_issued(ca->root, cert) == X509_V_OK &&
	    X509_verify(cert, X509_get0_pubkey(ca->root)) == 1)
		return 1;
	ERR_clear_error();
	return 0;
}

int
tg_ca_revoke_cert(tg_ca *ca, X509 *cert, const char *path, int reason, int *added,
    char serial[STORE_SERIAL_MAX], tg_err *err)
{
	int rc = -1, have;

	*added = 0;
	if (!signed_by_ca(ca, cert))
		return tg_err_set(err, TG_ERR_VERIFY,
		    "%s was not issued by the CA in %s (its signature does not verify with the CA's "
		    "key); revoke it with the CA that issued it", path, ca->dir);
	pki_cert_serial_hex(cert, serial, STORE_SERIAL_MAX);
	if (ca_lock(ca, err) != 0)
		return -1;
	if (store_begin(ca->db, err) != 0)
		goto out;
	/* This CA signed it but has no row for it (written by a tlsgate that
	 * published before it recorded, and crashed): recorded now, so that
	 * it can be revoked. */
	if ((have = store_has_serial(ca->db, serial, err)) < 0 ||
	    (have == 0 && record_cert(ca->db, cert, guess_profile(cert), path, NULL, STORE_VALID,
			       err) != 0) ||
	    store_revoke(ca->db, serial, (int64_t)time(NULL), reason, err) != 0 ||
	    store_commit(ca->db, err) != 0) {
		store_rollback(ca->db);
		goto out;
	}
	*added = have == 0;
	rc = 0;
out:
	store_unlock(ca->db);
	return rc;
}

typedef struct {
	pki_revoked *list;
	size_t n, cap;
	int intermediates; /* collect revoked intermediates (root CRL), else leaves */
	int oom;
} revoked_acc;

static int
is_ca_profile(const char *profile)
{
	return profile != NULL &&
	    (strcmp(profile, "root") == 0 || strcmp(profile, "intermediate") == 0);
}

static int
collect_revoked(const store_cert *c, void *arg)
{
	revoked_acc *acc = arg;
	int want = acc->intermediates ? (c->profile && strcmp(c->profile, "intermediate") == 0) :
	    !is_ca_profile(c->profile);

	if (!want)
		return 0;
	if (acc->n == acc->cap) {
		size_t ncap = acc->cap ? acc->cap * 2 : 64;
		pki_revoked *nl = realloc(acc->list, ncap * sizeof(*nl));
		if (nl == NULL) {
			acc->oom = 1;
			return 1;
		}
		acc->list = nl;
		acc->cap = ncap;
	}
	snprintf(acc->list[acc->n].serial_hex, sizeof(acc->list[acc->n].serial_hex), "%s",
	    c->serial);
	acc->list[acc->n].revoked_at = c->revoked_at;
	acc->list[acc->n].reason = c->reason;
	acc->n++;
	return 0;
}

/* Builds one CRL (of the issuing CA, or of the root over intermediates) and
 * appends its PEM to *pem. */
static int
build_crl_pem(tg_ca *ca, int root, int64_t valid_secs, char **pem, size_t *len,
    uint64_t *number, size_t *nrevoked, tg_err *err)
{
	store_filter f = { .revoked_only = 1 };
	revoked_acc acc = { .intermediates = root };
	X509_CRL *crl = NULL;
	char *one = NULL, *joined;
	size_t olen;
	int rc = -1;

	if (store_list(ca->db, &f, collect_revoked, &acc, err) != 0)
		goto out;
	if (acc.oom) {
		tg_err_set(err, TG_ERR_INTERNAL, "out of memory");
		goto out;
	}
	if (store_next_crl_number(ca->db, root ? "root" : "leaf", number, err) != 0 ||
	    (crl = pki_crl_build(root ? ca->root : ca->issuer, root ? ca->root_key : ca->issuer_key,
		 acc.list, acc.n, *number, valid_secs, err)) == NULL ||
	    pki_crl_to_pem(crl, &one, &olen, err) != 0)
		goto out;
	if ((joined = realloc(*pem, *len + olen + 1)) == NULL) {
		tg_err_set(err, TG_ERR_INTERNAL, "out of memory");
		goto out;
	}
	memcpy(joined + *len, one, olen + 1);
	*pem = joined;
	*len += olen;
	*nrevoked = acc.n;
	rc = 0;
out:
	free(acc.list);
	free(one);
	X509_CRL_free(crl);
	return rc;
}

/* The numbers are committed before the file is written, so no number is
 * ever published twice (RFC 5280: CRL numbers strictly increase), a crash
 * between only skips one. The writer lock, held until the file is in
 * place, keeps a slower run from publishing an older CRL over a newer. */
int
tg_ca_crl(tg_ca *ca, int64_t valid_secs, const char *out_path, int force, tg_crl_result *r,
    tg_err *err)
{
	char path[PATH_MAX], *pem = NULL;
	size_t len = 0;
	int rc = -1, in_txn = 0;

	memset(r, 0, sizeof(*r));
	if (out_path != NULL)
		snprintf(path, sizeof(path), "%s", out_path);
	else if (util_path_join(path, sizeof(path), ca->dir, "crl.pem", err) != 0)
		return -1;
	/* The default CRL is meant to be republished in place. */
	if (out_path == NULL)
		force = 1;
	if (util_may_write(path, force, err) != 0)
		return -1;
	if (ca_lock(ca, err) != 0)
		return -1;
	if (store_begin(ca->db, err) != 0)
		goto out;
	in_txn = 1;
	if (build_crl_pem(ca, 0, valid_secs, &pem, &len, &r->number, &r->revoked, err) != 0)
		goto out;
	/* Services that check CRLs for the whole chain (PostgreSQL, nginx) need
	 * the root's CRL too when an intermediate issues. */
	if (ca->issuer != ca->root && ca->root_key != NULL) {
		if (build_crl_pem(ca, 1, valid_secs, &pem, &len, &r->root_number,
			&r->root_revoked, err) != 0)
			goto out;
		r->with_root = 1;
	}
	r->root_offline = ca->issuer != ca->root && ca->root_key == NULL;
	if (store_commit(ca->db, err) != 0)
		goto out;
	in_txn = 0;
	util_crash_point("crl-reserved");
	if (util_write_file(path, pem, len, 0644, force ? UTIL_WRITE_FORCE : 0, err) != 0)
		goto out;
	util_crash_point("crl-written");
	rc = 0;
out:
	if (in_txn)
		store_rollback(ca->db);
	store_unlock(ca->db);
	free(pem);
	return rc;
}

size_t
tg_ca_crl_urls(const tg_ca *ca, int root, const char *const **urls)
{
	const struct ca_url_list *l = root ? &ca->settings.root : &ca->settings.leaf;

	*urls = l->ptr;
	return l->n;
}

int
tg_ca_set_crl_urls(const char *dir, const char *const *urls, size_t n,
    const char *const *root_urls, size_t nroot, tg_err *err)
{
	struct ca_settings set;
	char path[PATH_MAX], text[CA_SETTINGS_TEXT_MAX];
	tg_ca *ca;
	int len, rc = -1;

	/* Only a CA's settings, read whole (a broken file is refused, not
	 * overwritten: it may hold what this tlsgate does not know yet). */
	if ((ca = tg_ca_open(dir, NULL, 0, err)) == NULL)
		return -1;
	memset(&set, 0, sizeof(set));
	if (nroot > 0 && ca->issuer == ca->root) {
		tg_err_set(err, TG_ERR_USAGE, "--root-crl-url goes into an intermediate, and the CA "
		    "in %s has none: its root issues, so its CRL is --crl-url", dir);
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		if (ca_url_list_add(&set.leaf, urls[i], "--crl-url", err) != 0)
			goto out;
	for (size_t i = 0; i < nroot; i++)
		if (ca_url_list_add(&set.root, root_urls[i], "--root-crl-url", err) != 0)
			goto out;
	if (ca_settings_path(dir, path, sizeof(path), err) != 0)
		goto out;
	if (n + nroot == 0) {
		if (unlink(path) != 0 && errno != ENOENT) {
			tg_err_set(err, TG_ERR_IO, "cannot remove %s: %s", path, strerror(errno));
			goto out;
		}
		rc = 0;
		goto out;
	}
	if ((len = ca_settings_text(&set, text, sizeof(text), err)) < 0 ||
	    util_write_file(path, text, (size_t)len, 0644, UTIL_WRITE_FORCE, err) != 0)
		goto out;
	rc = 0;
out:
	tg_ca_free(ca);
	return rc;
}

int
tg_ca_store_info(const char *dir, char *url, size_t len, tg_err *err)
{
	tg_ca *ca = tg_ca_open(dir, NULL, 0, err);

	if (ca == NULL)
		return -1;
	tg_ca_free(ca);
	return ca_store_url(dir, url, len, err);
}

int
tg_ca_move_store(const char *dir, const char *url, const store_copy_module *mods, size_t nmods,
    tg_ca_move_result *r, tg_err *err)
{
	char conf[PATH_MAX], text[STORE_URL_MAX + 256];
	store *to = NULL;
	tg_ca *ca;
	int n, rc = -1;

	memset(r, 0, sizeof(*r));
	if (store_url_check(url, err) != 0)
		return -1;
	if ((ca = tg_ca_open(dir, NULL, 0, err)) == NULL)
		return -1;
	if (ca_store_url(dir, r->from, sizeof(r->from), err) != 0 ||
	    util_path_join(conf, sizeof(conf), dir, CA_STORE_CONF, err) != 0)
		goto out;
	snprintf(r->to, sizeof(r->to), "%s", url);
	if (strcmp(r->from, url) == 0) {
		tg_err_set(err, TG_ERR_USAGE, "the inventory of %s is already %s", dir, url);
		goto out;
	}
	if ((n = ca_store_conf_text(text, sizeof(text), url, err)) < 0)
		goto out;
	/* Everything is copied and read back before store.conf changes: until
	 * then every command still uses the old inventory. */
	if ((to = ca_store_open(dir, url, X509_get0_pubkey(ca->root), err)) == NULL ||
	    store_copy(ca->db, to, mods, nmods, &r->stats, err) != 0) {
		tg_err_prefix(err, "moving the inventory of %s to %s (nothing changed)", dir, url);
		goto out;
	}
	if (util_write_file(conf, text, (size_t)n, 0600, UTIL_WRITE_FORCE, err) != 0 ||
	    util_sync_dir(dir, err) != 0)
		goto out;
	rc = 0;
out:
	store_close(to);
	tg_ca_free(ca);
	return rc;
}
