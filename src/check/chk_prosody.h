/* Reading a Prosody config without running it: the hosts (VirtualHost,
 * Component, their `enabled`), the Includes, and the global `certificates`
 * option, the way Prosody's configmanager would see them. The file is Lua;
 * it is tokenised (comments, both quote styles, long brackets, escapes) and
 * only the few statements that matter are interpreted. Anything that would
 * need the config to run says so: an error when hosts would be guessed, a
 * note when the rest can still be checked. */
#ifndef TLSGATE_CHK_PROSODY_H
#define TLSGATE_CHK_PROSODY_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "tlsgate/err.h"

#define CHK_PCFG_FILE_MAX (1024u * 1024)  /* one config file */
#define CHK_PCFG_MAX_FILES 256            /* files read through Include */
#define CHK_PCFG_MAX_DEPTH 16             /* Include nesting (a loop ends here) */
#define CHK_PCFG_MAX_HOSTS 4096
#define CHK_PCFG_NAME_MAX 256             /* = CHK_NAME_MAX */
#define CHK_PCFG_MODULE_MAX 64

enum chk_phost_kind { CHK_PHOST_VIRTUAL, CHK_PHOST_COMPONENT };

/* An option's value as far as tlsgate can tell without running Lua. */
enum chk_pval { CHK_PVAL_UNSET = -1, CHK_PVAL_FALSE = 0, CHK_PVAL_OTHER = 1 };

/* An `ssl = { certificate = "..."; key = "..." }` option as far as tlsgate
 * reads it: literal paths, resolved against the main config's directory the
 * way Prosody's certmanager resolves them. The last assignment wins. */
struct chk_pssl {
	int set;          /* the section assigns ssl */
	int unknown;      /* ...something tlsgate does not read (a variable, a call) */
	char *cert, *key; /* NULL: the table names none */
	char *password;   /* a literal `password` (the key's passphrase), or NULL */
	int password_set; /* the table sets password (literal or not) */
	const char *file; /* where it is assigned (in cfg->files) */
	unsigned line;
};

struct chk_phost {
	char name[CHK_PCFG_NAME_MAX];     /* lower-cased, as Prosody's nameprep */
	enum chk_phost_kind kind;
	char module[CHK_PCFG_MODULE_MAX]; /* Component module ("component": external) */
	const char *file;                 /* where it is declared (in cfg->files) */
	unsigned line;
	enum chk_pval enabled;            /* its own `enabled`, last assignment wins */
	unsigned own_cert_line;           /* a bare `certificate = ...` (not read): 0 none */
	struct chk_pssl ssl;              /* its own ssl option */
};

/* Something tlsgate read past without understanding; the check goes on. */
struct chk_pnote {
	const char *code;   /* a rule code: prosody-include-empty, prosody-unread */
	const char *file;   /* in cfg->files */
	unsigned line;
	char message[640];
	char fix[512];
};

/* A service's own certificate, `<service>_certificate` in the global
 * section (https_certificate = "certs/https.crt", or per port: {
 * [5281] = "...", default = "..." }): a file, or a directory Prosody
 * searches for SERVICE.crt, SERVICE/fullchain.pem, SERVICE.pem. */
struct chk_psvc {
	char service[64];   /* "https" */
	long port;          /* 0: the value for every port (or `default`) */
	char *path;         /* resolved against the main config's directory */
	const char *file;   /* where it is set (in cfg->files) */
	unsigned line;
};

struct chk_pcfg {
	char **files;                /* every file read, the main one first */
	size_t nfiles;
	struct chk_phost *hosts;     /* in the order Prosody defines them */
	size_t nhosts;
	enum chk_pval global_enabled;
	/* The certs dir: `certificates` in the global section, resolved against
	 * the main config's directory (default: "certs" there). */
	char certs[PATH_MAX];
	const char *certs_file;      /* where it was set; NULL: the default */
	unsigned certs_line;
	int certs_unknown;           /* set to an expression tlsgate cannot evaluate */
	struct chk_pssl ssl;         /* the global ssl option, under every host's own */
	struct chk_psvc *svcs;       /* services' own certificates */
	size_t nsvcs;
	struct chk_pnote *notes;
	size_t nnotes;
	/* `prosody_user` in the global section: the account prosodyctl start
	 * runs it as ("": not set, the default prosody). */
	char user[64];
	const char *user_file;
	unsigned user_line;
};

/* Reads path and every file it includes. Fails (TG_ERR_USAGE) when the
 * config cannot be read or would not load in Prosody either, naming the
 * file and line and saying what to change. */
struct chk_pcfg *chk_pcfg_load(const char *path, tg_err *err);

/* The same over text already in memory, as if it were the file `name`
 * (Includes are resolved against name's directory). */
struct chk_pcfg *chk_pcfg_parse(const char *name, const char *text, size_t len, tg_err *err);

void chk_pcfg_free(struct chk_pcfg *cfg);

/* A note found after reading (code: a rule code, a static string). */
int chk_pcfg_note(struct chk_pcfg *cfg, const char *file, unsigned line, const char *code,
    const char *fix, tg_err *err, const char *fmt, ...) TG_PRINTF(7, 8);

/* Whether certmanager's index of the certs dir (index_certs) holds a
 * certificate other than `except` (a path, or NULL): a file named *.crt or
 * *fullchain* down to two levels of subdirs, starting with a certificate's
 * BEGIN line, with its key beside it, valid at `now` and naming a host.
 * Prosody 0.12 serves a service's port (https) such a certificate before
 * it looks at SERVICE_certificate. 1 with *found set, else 0. */
int chk_pcfg_index_cert(const struct chk_pcfg *cfg, int64_t now, const char *except,
    char *found, size_t len);

/* Whether Prosody serves the host: its own `enabled`, else the global one,
 * is not false. */
int chk_phost_enabled(const struct chk_pcfg *cfg, const struct chk_phost *h);

/* The files Prosody serves the host from, when its config names them: the
 * host's ssl option, else its parent domain's (conference.example.com takes
 * example.com's), each field over the global ssl option's. Sets *cert and
 * *key (either may be NULL) and returns 1 when a certificate is named, 0
 * when Prosody looks in the certs dir, -1 when an ssl option in the way is
 * one tlsgate does not read. */
int chk_phost_ssl(const struct chk_pcfg *cfg, const struct chk_phost *h, const char **cert,
    const char **key);

/* The passphrase Prosody gives the host's key: `password` in the ssl table
 * that names it, by the same precedence as chk_phost_ssl. 1 with *pass and
 * *at (FILE:LINE) when a literal, -1 when set to something tlsgate does not
 * evaluate (*at set), 0 when none. */
int chk_phost_ssl_password(const struct chk_pcfg *cfg, const struct chk_phost *h,
    const char **pass, char *at, size_t atlen);

/* The certificate and key Prosody serves a service's port from (its
 * certmanager's find_cert over svc->path). 0 with cert and key (PATH_MAX
 * each) set, -1 when none is found there (cert says what was looked for). */
int chk_psvc_files(const struct chk_psvc *svc, char *cert, char *key);

/* Whether tlsgate checks its certificate: enabled, not a bare-JID host
 * (user@host, skipped by prosodyctl check certs too), and served from files
 * tlsgate can tell: the certs dir's, or a certificate and key its ssl
 * option names (see chk_phost_ssl). */
int chk_phost_checked(const struct chk_pcfg *cfg, const struct chk_phost *h);

const char *chk_phost_kind_name(enum chk_phost_kind k);

#endif
