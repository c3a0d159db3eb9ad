/* What the CA's files share inside src/ca: the CA handle and the writer
 * lock that every operation changing the inventory takes. */
#ifndef TLSGATE_CA_INT_H
#define TLSGATE_CA_INT_H

#include "tlsgate/ca.h"
#include "tlsgate/util.h"

#define CA_CHAIN_MAX 8 /* a leaf and the intermediates after it */

/* DIR/ca.conf (settings.c). */
struct ca_url_list {
	char url[PKI_MAX_CRL_URLS][PKI_URL_MAX];
	const char *ptr[PKI_MAX_CRL_URLS]; /* url[i], as pki_profile takes them */
	size_t n;
};
struct ca_settings {
	struct ca_url_list leaf; /* crl-url: the issuing CA's CRL, in what it issues */
	struct ca_url_list root; /* root-crl-url: the root's CRL, in the intermediate */
};
#define CA_SETTINGS_TEXT_MAX (2 * PKI_MAX_CRL_URLS * (PKI_URL_MAX + 16) + 256)

/* Adds a checked URL (a duplicate is dropped); what names it in messages. */
int ca_url_list_add(struct ca_url_list *l, const char *url, const char *what,
    tg_err *err) TG_MUST_CHECK;
int ca_settings_path(const char *dir, char *path, size_t len, tg_err *err) TG_MUST_CHECK;
/* Empty settings when DIR/ca.conf does not exist. */
int ca_settings_read(const char *dir, struct ca_settings *s, tg_err *err) TG_MUST_CHECK;
/* The text of a ca.conf (path names it in messages); a line it does not
 * know, a URL it would not put in a certificate or a NUL byte is refused. */
int ca_settings_parse(const char *path, const char *data, size_t len, struct ca_settings *s,
    tg_err *err) TG_MUST_CHECK;
/* The file's text into buf; its length, or -1. */
int ca_settings_text(const struct ca_settings *s, char *buf, size_t len, tg_err *err);

struct tg_ca {
	char dir[PATH_MAX];
	X509 *root;
	X509 *issuer;             /* root, or the intermediate when there is one */
	EVP_PKEY *issuer_key;
	EVP_PKEY *root_key;       /* with an intermediate: for the root's CRL, if online */
	STACK_OF(X509) *chain;    /* what follows a leaf: the intermediate, if any */
	store *db;
	tg_ca_notify_fn notify;
	void *notify_arg;
	struct ca_settings settings;
};

/* certs = leaf, then the intermediates (never the root); returns how many. */
int ca_leaf_chain(tg_ca *ca, X509 *leaf, X509 **certs, size_t max);

/* "HOST:PID" of this process: who writes the files of a pending row. */
void ca_writer_id(char *buf, size_t len);

/* Tells the user something the command did unasked (via tg_ca_set_notify). */
void ca_note(tg_ca *ca, const char *fmt, ...) TG_PRINTF(2, 3);

/* Takes the inventory's writer lock for a whole operation, then settles
 * what interrupted runs left pending (ca_reconcile). store_unlock ends it. */
int ca_lock(tg_ca *ca, tg_err *err) TG_MUST_CHECK;

/* Settles every pending certificate written on this machine: one whose
 * files reached a final name is published completely and becomes valid;
 * one with nothing published has its staged files removed and becomes
 * void. Needs the writer lock: a pending row seen under it has no live
 * writer. */
int ca_reconcile(tg_ca *ca, tg_err *err) TG_MUST_CHECK;

/* The files of a new CA, and the tags under which tg_ca_init stages them
 * (NULL: not staged, the embedded inventory). */
enum {
	CA_INIT_ROOT_CRT, CA_INIT_ROOT_KEY, CA_INIT_INT_CRT, CA_INIT_INT_KEY, CA_INIT_BUNDLE,
	CA_INIT_CONF, CA_INIT_SETTINGS, CA_INIT_DB, CA_INIT_NFILES
};
struct ca_init_file {
	char path[PATH_MAX];
	const char *tag;
};

int ca_init_paths(const char *dir, struct ca_init_file f[CA_INIT_NFILES], tg_err *err) TG_MUST_CHECK;
/* Settles what a killed tg_ca_init left in o->dir: 1 = it had recorded its
 * CA and is now finished, 0 = nothing left (or cleared: go on), -1 = err
 * (another init is running, a damaged CA, an unreachable inventory). */
int ca_init_recover(const tg_ca_init_opts *o, struct ca_init_file f[CA_INIT_NFILES],
    tg_err *err) TG_MUST_CHECK;
/* Removes an embedded inventory and its side files. */
void ca_remove_db(const char *dbpath);
/* DIR/store.conf (store_conf.c): the text `ca init --store` writes for url
 * (its length, or -1 when too long), and the reader: exactly one `url =
 * URL` line besides blank lines and # comments, else TG_ERR_CONFIG naming
 * the file (name) and line. */
int ca_store_conf_text(char *buf, size_t len, const char *url, tg_err *err);
int ca_store_conf_parse(const char *name, const char *text, size_t tlen, char *url, size_t len,
    tg_err *err) TG_MUST_CHECK;
int ca_store_conf_read(const char *path, char *url, size_t len, tg_err *err) TG_MUST_CHECK;

#endif
