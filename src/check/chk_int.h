/* Checker internals: loaded files, subjects (units), the rule table and the
 * findings list. Flow: inputs -> chk_file (bytes parsed into objects plus
 * format diagnostics) -> chk_unit (a served chain with its key, or a CA, a
 * CRL, a lone key) -> every rule -> chk_finding -> report. */
#ifndef TLSGATE_CHK_INT_H
#define TLSGATE_CHK_INT_H

#include <openssl/decoder.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "check/chk_prosody.h"
#include "tlsgate/check.h"
#include "tlsgate/util.h"

#define CHK_HASH_LEN 32
#define CHK_MAX_HOSTS CHK_PCFG_MAX_HOSTS
#define CHK_NAME_MAX 256
#define CHK_SCAN_DEPTH 4

enum chk_format { CHK_FMT_NONE, CHK_FMT_PEM, CHK_FMT_DER, CHK_FMT_P12, CHK_FMT_TEXT, CHK_FMT_BINARY };

/* One certificate as the rules see it: the object plus facts computed once. */
struct chk_cert {
	X509 *x;
	unsigned char spki[CHK_HASH_LEN]; /* SHA-256 of SubjectPublicKeyInfo */
	unsigned char fp[CHK_HASH_LEN];   /* SHA-256 of the DER cert */
	int is_ca;                        /* basicConstraints CA:TRUE */
	int self_issued;                  /* subject == issuer */
	int self_signed;                  /* self-issued and verifies with its own key */
	const struct chk_file *file;      /* where it was read (NULL: wire, --ca) */
	int index;                        /* 1-based position in that file */
};

struct chk_xcache {
	unsigned char fp[CHK_HASH_LEN];
	X509 *x;
};

#define CHK_CRLS_MAX 8

/* How a service gets the passphrase of one key: from passes tried in turn
 * (nginx ssl_password_file, Prosody's ssl `password`), or, with npasses 0,
 * by a means tlsgate does not run (PostgreSQL ssl_passphrase_command). */
struct chk_keypass {
	char *key;
	char **passes;
	size_t npasses;
	char origin[512]; /* "ssl_password_file /etc/nginx/pass (nginx.conf:12)" */
	char failed[256]; /* the source gave none: "exited with status 1 (run as postgres)" */
};

struct chk_file {
	char *path;
	size_t idx;              /* position in the context's file list */
	int explicit_input;     /* named on the command line, not found by a scan */
	int read_errno;         /* 0 when read */
	struct stat st;
	enum chk_format fmt;
	/* Format diagnostics. */
	int crlf, junk, corrupt;
	char corrupt_label[64];
	char corrupt_where[256]; /* the first: "PEM block 2 (CERTIFICATE, line 23) has no END line..." */
	int empty, bare_base64;
	char other[96];         /* what the file holds when not usable ("a CSR") */
	/* Objects. */
	struct chk_cert *certs;
	size_t ncerts;
	EVP_PKEY *key;
	unsigned char key_spki[CHK_HASH_LEN];
	int key_encrypted;      /* passphrase-protected and not decrypted */
	int key_bad_pass;       /* a passphrase was given and did not work */
	char *key_refused;      /* its key derivation is above src/pki's caps: why (not tried) */
	const struct chk_keypass *keypass; /* the service's own passphrase source */
	X509_CRL *crl;          /* the first CRL; NULL when the file holds none */
	X509_CRL *crls[CHK_CRLS_MAX]; /* all of them (tlsgate writes intermediate + root) */
	size_t ncrls;
	int p12, p12_legacy, p12_locked;
	char p12_alg[64];
	/* Pairing. */
	int paired;
	int covered;            /* its certs all appear in a bigger file next to it */
	int rules_done;         /* file rules ran (a key may serve two units) */
	int expects_key;        /* layout names a key for this cert (HOST.key...) */
	char host_hint[CHK_NAME_MAX]; /* the host the layout names this file for */
	int pinned;             /* a Prosody ssl option names it: it serves only those hosts */
};

enum chk_unit_kind { CHK_UNIT_SERVE, CHK_UNIT_CA, CHK_UNIT_KEY, CHK_UNIT_CRL, CHK_UNIT_OTHER };

/* A subject: what findings are grouped under. */
struct chk_unit {
	enum chk_unit_kind kind;
	char name[CHK_NAME_MAX + 32];
	struct chk_file *chain;   /* the served chain (or CA/CRL/other file) */
	struct chk_file *key;
	/* The served chain: chain->certs, or the certs read off the wire. */
	struct chk_cert *certs;
	size_t ncerts;
	size_t leaf;              /* index into certs */
	char **hosts;             /* names the leaf must cover (few; allocated) */
	size_t nhosts;
	/* Endpoint facts. */
	int uncovered;            /* a --host no cert in sight is for */
	int endpoint, tls10, tls11, client_cert_requested;
	int client_cert_sent;     /* --cert given and the server asked for it */
	char client_cert_refused[512]; /* why the server refused it ("" : it did not) */
	int no_tls;             /* endpoint: the chk_starttls whose answer was "no TLS" */
	char no_tls_why[160];   /* ...and what the server said (XMPP) */
	char endpoint_ver[16];
	char ca_names[512];
	char label[CHK_NAME_MAX]; /* HOST:PORT for endpoints */
};

struct chk_finding {
	chk_severity sev;
	const char *code;
	size_t unit;
	char *file;
	char *message;
	char *fix;
};

/* A name the served certs must cover, and where it was asked for. */
struct chk_host {
	char name[CHK_NAME_MAX];
	const struct chk_phost *from; /* its line in the Prosody config; NULL: --host */
	char *pin; /* the cert file a service's config names for it: only it serves the host */
};

struct chk_ctx {
	/* Options. */
	struct chk_host *hosts;
	size_t nhosts;
	/* --prosody-config: the hosts' source, and its notes' subjects. */
	struct chk_pcfg *prosody;
	int prosody_certs;          /* its certs dir is an input */
	size_t *note_unit;          /* per prosody->notes[i]: the unit it is reported under */
	/* --pg-config: the file, the data directory, and where ssl is off. */
	char pg_conf[PATH_MAX], pg_datadir[PATH_MAX], pg_ssl_off_file[PATH_MAX];
	unsigned pg_ssl_off_line;   /* 0: off by default (no ssl line) */
	long pg_unit;               /* the config's own subject, -1 none */
	/* Findings about a service's config itself (mosquitto), with the
	 * subject each is reported under. */
	struct chk_cfgnote *cfg_notes;
	size_t ncfg_notes;
	size_t *cfg_note_unit;
	chk_purpose purpose;
	int purpose_set;        /* --purpose given; else inferred per leaf */
	int have_owner;
	util_owner owner;       /* --owner, or the account a service config runs as */
	char owner_from[PATH_MAX + 64]; /* where a default owner came from ("" : --owner) */
	int pg_keys;            /* PostgreSQL's key ownership rule applies (--pg-config) */
	unsigned warn_days;
	char *pass;
	char *client_cert, *client_key; /* endpoint --cert/--key (loaded at the handshake) */
	struct chk_keypass *keypasses;
	size_t nkeypasses;
	int64_t now;
	int system_store;
	/* Trust: --ca certs and self-signed CAs in sight; system store lazily. */
	struct chk_cert *anchors;
	size_t nanchors;
	/* Indexes over everything in sight, built once per run. */
	const struct chk_cert **cas;     /* CA certs: issuer lookups */
	size_t ncas;
	const struct chk_cert **by_spki; /* sorted by public key hash */
	size_t nspki;
	X509_STORE *sys_store;
	OSSL_DECODER_CTX *key_decoder; /* reused for every unencrypted key */
	EVP_PKEY *decoded_key;          /* its output slot */
	struct chk_xcache *xcache;      /* decoded certs by DER hash */
	size_t xcache_cap, xcache_n;
	int sys_store_tried;
	X509 *memo_x;                   /* last chk_find_issuer question... */
	const struct chk_cert *memo_issuer; /* ...and its answer */
	int memo_system;
	/* Inputs and what came of them. */
	char **inputs;
	int *input_explicit;
	size_t ninputs;
	/* Cert files whose key the user named (a gateway listener's cert + key,
	 * or `check CERT KEY`): paired whatever the layout says. */
	char **pair_cert, **pair_key;
	char **chain_cert, **chain_src; /* the service completes cert's chain from src */
	char **chain_why;
	size_t nchain_cert, nchain_src, nchain_why;
	char **ca_inputs;          /* inputs a service's config names as trusted CAs */
	char **ca_roles;           /* ...what it trusts them for ("" : nothing clients meet) */
	size_t nca_inputs, nca_roles;
	size_t npairs;
	struct chk_file **files;
	size_t nfiles, capfiles;
	struct chk_unit *units;
	size_t nunits, capunits;
	size_t nunits_checked;  /* rules ran on units below this */
	struct chk_finding *findings;
	size_t nfindings, capfindings;
};

/* --- The rule table --- */

struct chk_rule {
	const char *code;
	chk_severity sev;
	const char *summary;
	void (*file_fn)(chk_ctx *c, const struct chk_rule *r, size_t unit, struct chk_file *f);
	void (*unit_fn)(chk_ctx *c, const struct chk_rule *r, size_t unit);
};

extern const struct chk_rule chk_rules[];
extern const size_t chk_nrules;

/* Records a finding under unit (file may be NULL). fix may be NULL. */
void chk_emit(chk_ctx *c, const struct chk_rule *r, size_t unit, const char *file,
    const char *fix, const char *fmt, ...) TG_PRINTF(6, 7);

/* Runs every rule over every unit. */
void chk_rules_run(chk_ctx *c);

/* --- Loading (load.c) --- */

/* A path a service's config gives: as is when absolute, else under dir
 * (PATH_MAX bytes at out). */
int chk_path_under(const char *dir, const char *path, char *out, tg_err *err);

/* Calls fn with each DIR/NAME.conf in name order (hidden ones skipped when
 * asked), as PostgreSQL's and mosquitto's include_dir read them. Returns
 * -1 when DIR cannot be read (errno says why), 1 when fn failed or a path
 * was too long (err set), 0 after the last. */
int chk_each_conf(const char *dir, int skip_hidden, int (*fn)(const char *path, void *arg),
    void *arg, tg_err *err);

/* --- Service configs through their includes (confread.c) --- */

#define CHK_CONF_MAX_DEPTH 16   /* include nesting, at most (each reader may ask less) */
#define CHK_CONF_MAX_WALKS 4096 /* files walked per config, counting repeats */

struct chk_conf;

/* service names who refuses the same ("nginx -t"); max_depth the nesting
 * its service allows (capped at CHK_CONF_MAX_DEPTH). */
struct chk_conf *chk_conf_new(const char *service, unsigned max_depth);
void chk_conf_free(struct chk_conf *r);
/* Enters path, included at from:line (the main file: from = path, line 0):
 * its bytes (read once per run, by device and inode; shared, read-only,
 * NUL-terminated) in *data. Fails naming from:line on a cycle (with the
 * chain), on nesting past max_depth, and past CHK_CONF_MAX_WALKS files.
 * Each successful enter is paired with chk_conf_leave. */
int chk_conf_enter(struct chk_conf *r, const char *path, const char *from, unsigned line,
    const unsigned char **data, size_t *len, tg_err *err) TG_MUST_CHECK;
void chk_conf_leave(struct chk_conf *r);
/* Enters path (as chk_conf_enter), calls fn with each line (1-based, its
 * newline cut, the text writable), stops at the first fn that fails, and
 * leaves. Returns 0, -1 when path could not be entered, 1 when fn failed
 * (err set either way). */
int chk_conf_each_line(struct chk_conf *r, const char *path, const char *from, unsigned from_line,
    int (*fn)(void *arg, const char *path, unsigned line, char *text), void *arg,
    tg_err *err) TG_MUST_CHECK;

struct chk_cfgnote {
	const char *code; /* a rule code */
	char file[PATH_MAX];
	unsigned line;
	char message[512];
	char fix[256];
};

/* Records a finding about a service's config (reported under file). */
int chk_cfg_note(chk_ctx *c, const char *code, const char *file, unsigned line, const char *fix,
    const char *fmt, ...) TG_PRINTF(6, 7);

/* The account a service's config runs as (from says where that comes
 * from: "the data directory's owner"), unless --owner was given. */
int chk_default_owner(chk_ctx *c, const char *user, const char *from, tg_err *err);

/* A file a service's config names as its trusted CAs (client CA, CA bundle):
 * an input checked as a CA, never as a served certificate. role says whom
 * it decides about ("nginx ssl_client_certificate: client certificates
 * must chain to it"), NULL when no client depends on it (nginx
 * ssl_trusted_certificate): then a leaf in it is no error. */
int chk_add_ca_input(chk_ctx *c, const char *path, const char *role, tg_err *err);

/* The passphrases a service's config gives the key at path, tried in turn
 * (npasses 0: it gets one by a means tlsgate does not run); origin names
 * the setting. Copied; wiped on free. */
int chk_add_key_pass(chk_ctx *c, const char *key, char *const *passes, size_t npasses,
    const char *origin, tg_err *err);
const struct chk_keypass *chk_key_pass(const chk_ctx *c, const char *key);

/* The service completes the chain it serves with cert from the CAs in src
 * (OpenSSL's automatic chain building from the verify store: mosquitto's
 * cafile); why names the setting. */
int chk_add_chain_source(chk_ctx *c, const char *cert, const char *src, const char *why,
    tg_err *err);
/* The setting that completes cert's chain from src, or NULL. */
const char *chk_chain_source(const chk_ctx *c, const char *cert, const char *src);

/* The role a service's config gives a CA file (NULL: none clients meet). */
const char *chk_ca_role(const chk_ctx *c, const char *path);

/* A host only the cert at cert serves (a service's config pins it). */
int chk_add_pinned_host(chk_ctx *c, const char *name, const char *cert, tg_err *err);

/* Whether path is a cert or key of a pair named for the check (chk_add_pair). */
int chk_has_pair(const chk_ctx *c, const char *path);
struct chk_file *chk_file_new(const char *path, int explicit_input);
void chk_file_free(struct chk_file *f);
/* Reads and parses; never fails: what went wrong is kept on the file for the
 * rules. Returns -1 only when out of memory. */
int chk_file_load(chk_ctx *c, struct chk_file *f);
/* The same over bytes already read (data need not be NUL-terminated): what
 * chk_file_load does after reading f->path. */
int chk_file_parse(chk_ctx *c, struct chk_file *f, const unsigned char *data, size_t len);
int chk_cert_init(struct chk_cert *cc, X509 *x, const struct chk_file *f, int index);
void chk_cert_clear(struct chk_cert *cc);
void chk_cache_free(chk_ctx *c);
int chk_key_spki(EVP_PKEY *key, unsigned char out[CHK_HASH_LEN]);

/* --- Endpoints (endpoint.c) --- */

/* What an endpoint needs before its TLS handshake, on the connected fd:
 * PostgreSQL's SSLRequest, or an XMPP stream to domain asking for STARTTLS
 * (the server's bytes read into bounded buffers). 0 with *answer 'S' (go on
 * with TLS) or 'N' (the server declines; why says how, for XMPP); -1 with
 * err when the server is not what was asked for or ends the stream. */
int chk_starttls_prelude(int fd, chk_starttls starttls, const char *domain, char *answer,
    char *why, size_t whylen, tg_err *err) TG_MUST_CHECK;

/* --- Scanning and pairing (scan.c) --- */

int chk_scan_inputs(chk_ctx *c, tg_err *err);
int chk_build_units(chk_ctx *c, tg_err *err);
struct chk_unit *chk_unit_add(chk_ctx *c, enum chk_unit_kind kind, const char *name);
/* Adds a host to the unit unless already there (case-insensitive). */
int chk_unit_add_host(struct chk_unit *u, const char *h);
/* The trust anchor or in-sight CA cert that issued cc (NULL when none). */
const struct chk_cert *chk_find_issuer(chk_ctx *c, const struct chk_cert *cc, int *from_system);

/* --- Helpers shared by rules --- */

/* " (VirtualHost at FILE:LINE)" for a host from the Prosody config, else "". */
void chk_host_origin(const chk_ctx *c, const char *host, char *buf, size_t len);

/* RFC 6125 match of host against the cert's SANs (CN only when no SAN). */
int chk_name_matches(X509 *x, const char *host);
int chk_host_is_ip(const char *host);
void chk_cert_label(X509 *x, char *buf, size_t len);
int chk_issued_by(X509 *child, X509 *parent);
const char *chk_basename(const char *path);
/* The directory part of path ("." when it has none). */
void chk_dir_of(const char *path, char *out, size_t len);

#endif
