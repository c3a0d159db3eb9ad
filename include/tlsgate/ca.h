/* A certificate authority on disk: DIR/root.crt, DIR/private/root.key,
 * optionally DIR/intermediate.crt + DIR/private/intermediate.key (which then
 * issues), DIR/issued/ for leaves, and the inventory: DIR/tlsgate.db, or the
 * store whose URL DIR/store.conf names (PostgreSQL). */
#ifndef TLSGATE_CA_H
#define TLSGATE_CA_H

#include <limits.h>
#include <stdio.h>

#include "tlsgate/pki.h"
#include "tlsgate/store.h"

typedef struct tg_ca tg_ca;

/* Receives what a command did that its user did not ask for but must know:
 * certificates an interrupted run left half-issued, finished or removed. */
typedef void (*tg_ca_notify_fn)(const char *msg, void *arg);

typedef struct tg_ca_init_opts {
	const char *dir;
	const char *name;          /* CN of the root; default "tlsgate Root CA" */
	int intermediate;          /* also create an intermediate that issues */
	pki_key_type key_type;
	int64_t root_secs;         /* 0: PKI_DAYS_ROOT */
	int64_t intermediate_secs; /* 0: PKI_DAYS_INTERMEDIATE */
	const char *pass;          /* encrypt the CA keys with this, or NULL */
	const char *store_url;     /* NULL: DIR/tlsgate.db; else recorded in DIR/store.conf */
	/* CRL distribution points (recorded in DIR/ca.conf): the issuing CA's
	 * CRL, put into every leaf; the root's, put into the intermediate. */
	const char *const *crl_urls;
	size_t ncrl_urls;
	const char *const *root_crl_urls;
	size_t nroot_crl_urls;
	tg_ca_notify_fn notify;    /* told what an interrupted init left and what was done */
	void *notify_arg;
} tg_ca_init_opts;

/* Creates the CA. The inventory commits before any file reaches its final
 * name. If a killed init left DIR behind, this finishes it when its CA was
 * recorded (publishing its staged files: the CA is the one that init made,
 * and o's names and options are not used), or clears what it left when it
 * was not, then creates the CA; either is told through o->notify. */
int tg_ca_init(const tg_ca_init_opts *o, tg_err *err) TG_MUST_CHECK;

/* Replaces the CRL distribution points of the CA in dir (DIR/ca.conf),
 * for what it signs from now on: urls into leaves, root_urls into an
 * intermediate (only a CA with one). n == 0 and nroot == 0 remove them. */
int tg_ca_set_crl_urls(const char *dir, const char *const *urls, size_t n,
    const char *const *root_urls, size_t nroot, tg_err *err) TG_MUST_CHECK;
/* The CA's CRL URLs: for leaves (root == 0) or for the intermediate. */
size_t tg_ca_crl_urls(const tg_ca *ca, int root, const char *const **urls);

typedef struct tg_ca_move_result {
	char from[STORE_URL_MAX], to[STORE_URL_MAX];
	store_copy_stats stats;
} tg_ca_move_result;

/* The URL of the CA's inventory (sqlite:DIR/tlsgate.db unless DIR/store.conf
 * names another). */
int tg_ca_store_info(const char *dir, char *url, size_t len, tg_err *err) TG_MUST_CHECK;

/* Moves the CA's inventory to the store at url (e.g. from the embedded
 * SQLite to a PostgreSQL shared by several machines): copies every
 * certificate and CRL number, and the tables of the nmods modules that keep
 * their state in the inventory (the ACME server's: acme_move_module), in
 * one transaction on the target, reads it back, and only then records url
 * in DIR/store.conf. The old inventory is left as it was. A failure changes
 * nothing. */
int tg_ca_move_store(const char *dir, const char *url, const store_copy_module *mods,
    size_t nmods, tg_ca_move_result *r, tg_err *err) TG_MUST_CHECK;

enum {
	TG_CA_NEED_KEY = 1 << 0, /* load (and decrypt) the issuing key: to sign */
};

/* Opens a CA directory: loads the issuing certificate, the inventory and,
 * with TG_CA_NEED_KEY, the issuing key (an encrypted one is opened with the
 * passphrase from pass, which may be NULL). */
tg_ca *tg_ca_open(const char *dir, pki_pass *pass, int flags, tg_err *err);
void tg_ca_free(tg_ca *ca);

void tg_ca_set_notify(tg_ca *ca, tg_ca_notify_fn fn, void *arg);

const char *tg_ca_dir(const tg_ca *ca);
store *tg_ca_store(tg_ca *ca);
X509 *tg_ca_root(tg_ca *ca);
X509 *tg_ca_issuer(tg_ca *ca);

typedef struct tg_issue_opts {
	const char *out_dir;   /* NULL: DIR/issued */
	pki_key_type key_type;
	int force;             /* replace existing files */
	int p12;               /* also write NAME.p12 */
	const char *p12_pass;  /* NULL: empty password */
	const char *key_pass;  /* encrypt each new key with it (PKCS#8, AES-256), or NULL */
	int p12_legacy;
} tg_issue_opts;

typedef struct tg_issued {
	char serial[STORE_SERIAL_MAX];
	char cn[PKI_NAME_MAX];
	char cert_path[PATH_MAX];
	char key_path[PATH_MAX];
	char p12_path[PATH_MAX];
	char fingerprint[65];
	int64_t not_after;
} tg_issued;

/* Supplies the next profile to issue: 1 = *p filled, 0 = no more, -1 = error. */
typedef int (*tg_profile_source)(void *arg, pki_profile *p, tg_err *err);

/* Issues certificates with new keys into opts->out_dir as NAME.crt (leaf then
 * intermediates, never the root) and NAME.key (0600), recording each in the
 * inventory before any of its files reaches its final name. All or nothing:
 * on any failure, files written by this call are taken back and the
 * inventory holds no valid row for them. done (may be NULL) is called for
 * each certificate once all are published and recorded. */
int tg_ca_issue(tg_ca *ca, tg_profile_source next, void *arg, const tg_issue_opts *opts,
    void (*done)(const tg_issued *r, void *arg), void *done_arg, tg_err *err) TG_MUST_CHECK;

/* The file of `cert issue --batch`: one certificate per line, `NAME
 * [SAN...]` separated by blanks, `#` to the end of a line a comment, blank
 * lines skipped. The caller opens f and fills in the rest. */
#define TG_CA_BATCH_LINE_MAX 4096
typedef struct tg_ca_batch {
	FILE *f;
	const char *path;        /* for messages */
	pki_profile_kind kind;
	const char *const *sans; /* added to every line's names (--san) */
	size_t nsans;
	int64_t secs;
	unsigned long line;      /* the line last read */
} tg_ca_batch;

/* The next line's profile (pki_profile_leaf): 1 = *p filled, 0 = no more
 * lines, -1 = refused, err naming PATH:LINE (a line longer than
 * TG_CA_BATCH_LINE_MAX - 1 bytes, a NUL byte, a bad name, more than
 * PKI_MAX_SANS names). */
int tg_ca_batch_next(tg_ca_batch *b, pki_profile *p, tg_err *err) TG_MUST_CHECK;

/* Signs a CSR's public key with the given profile; writes the cert (with
 * intermediates) to out_path, or to stdout when out_path is NULL. */
int tg_ca_sign(tg_ca *ca, const pki_profile *p, EVP_PKEY *pub, const char *out_path,
    int force, tg_issued *r, tg_err *err) TG_MUST_CHECK;

/* Signs pub with profile p into memory and records the certificate as valid.
 * in_txn (may be NULL) runs inside the same store transaction, after the row
 * is recorded: what it writes (an ACME order made valid with this serial) is
 * committed with the certificate, or neither is. *pem receives the leaf then
 * the intermediates (malloc'd). */
typedef int (*tg_ca_txn_fn)(store *db, const tg_issued *r, void *arg, tg_err *err);
int tg_ca_sign_mem(tg_ca *ca, const pki_profile *p, EVP_PKEY *pub, tg_ca_txn_fn in_txn,
    void *arg, tg_issued *r, char **pem, size_t *len, tg_err *err) TG_MUST_CHECK;

/* One certificate of a group commit (tg_ca_sign_group): the caller fills
 * the first four, the call the rest. */
typedef struct tg_ca_sign_req {
	const pki_profile *p;
	EVP_PKEY *pub;
	tg_ca_txn_fn in_txn;     /* as tg_ca_sign_mem's, may be NULL */
	void *arg;
	int rc;                  /* 0: issued and durable; -1: not recorded, err says why */
	tg_issued r;
	tg_err err;
} tg_ca_sign_req;

/* Signs and records several certificates as tg_ca_sign_mem does, under one
 * writer lock, in one transaction and one durable commit. Each request runs
 * in a savepoint of its own: one that fails (a build error, its in_txn
 * refusing) is rolled back alone, with its rc and err set, and the others
 * commit. When the commit itself fails, every request fails with its error.
 * Returns 0 when the commit succeeded (some requests may still have failed),
 * -1 when none was recorded. */
int tg_ca_sign_group(tg_ca *ca, tg_ca_sign_req *const *reqs, size_t n, tg_err *err);

int tg_ca_revoke(tg_ca *ca, const char *serial, int reason, tg_err *err) TG_MUST_CHECK;

/* Revokes the certificate cert (read from path): it must verify with this
 * CA's key. One the inventory lacks is recorded first (*added = 1), so that
 * it can be revoked at all. serial receives its serial. */
int tg_ca_revoke_cert(tg_ca *ca, X509 *cert, const char *path, int reason, int *added,
    char serial[STORE_SERIAL_MAX], tg_err *err) TG_MUST_CHECK;

typedef struct tg_crl_result {
	uint64_t number;       /* of the issuing CA's CRL */
	size_t revoked;
	int with_root;         /* the root's CRL (over intermediates) follows it */
	uint64_t root_number;
	size_t root_revoked;
	int root_offline;      /* an intermediate issues but the root key is absent */
} tg_crl_result;

/* Writes the CRL of the issuing CA to out_path (NULL: DIR/crl.pem), valid for
 * valid_secs. With an intermediate, the root's CRL follows in the same file
 * (when the root key is present), so that services checking CRLs for the
 * whole chain accept it. */
int tg_ca_crl(tg_ca *ca, int64_t valid_secs, const char *out_path, int force,
    tg_crl_result *r, tg_err *err) TG_MUST_CHECK;

/* Upper-case hex serial, normalised (leading zeros and 0x removed) or an error. */
int tg_serial_normalize(const char *in, char out[STORE_SERIAL_MAX], tg_err *err) TG_MUST_CHECK;

#endif
