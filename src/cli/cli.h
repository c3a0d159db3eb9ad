/* The command-line front end. Each command is a row in a table; each leaf has
 * a run function and a help text that teaches by example. The CLI uses only
 * the public API in include/tlsgate/. */
#ifndef TLSGATE_CLI_H
#define TLSGATE_CLI_H

#include <getopt.h>
#include <stdio.h>
#include <sys/types.h>

#include "tlsgate/err.h"
#include "tlsgate/pki.h"

struct cli_cmd {
	const char *name;
	const char *summary;
	const char *help;                 /* full text for `tlsgate help CMD` */
	int (*run)(int argc, char **argv); /* argv[0] is the command name */
	const struct cli_cmd *subs;       /* NULL-name terminated, or NULL */
};

/* Command tables, one per file. */
extern const struct cli_cmd cli_ca_cmds[];
extern const struct cli_cmd cli_cert_cmds[];
extern const struct cli_cmd cli_key_cmds[];
extern const struct cli_cmd cli_crl_cmd;
extern const struct cli_cmd cli_inspect_cmd;
extern const struct cli_cmd cli_verify_cmd;
extern const struct cli_cmd cli_check_cmd;
extern const struct cli_cmd cli_serve_cmd;
extern const struct cli_cmd cli_connect_cmd;
extern const struct cli_cmd cli_acme_cmds[];

/* cert subcommands that live in their own files */
extern const char cli_import_help[], cli_revoke_help[], cli_list_help[], cli_renew_help[];
int cli_cert_import(int argc, char **argv);
int cli_cert_revoke(int argc, char **argv);
int cli_cert_list(int argc, char **argv);
int cli_cert_renew(int argc, char **argv);

/* The row named name in a command table (a leaf's own row for the top-level
 * commands that live in their own files), or NULL. */
const struct cli_cmd *cli_find(const struct cli_cmd *table, const char *name);

/* Hidden commands for packaging (doc.c): `tlsgate __complete [CMD [SUB]]`
 * lists commands, subcommands or options for shell completion; `tlsgate
 * __man DIR` writes a manual page per command from its help text. */
int cli_doc_complete(int argc, char **argv, const struct cli_cmd *top);
int cli_doc_man(int argc, char **argv, const struct cli_cmd *top);
/* In __complete's listing mode prints opts and returns 1 (cli_getopt then
 * stops the command); otherwise returns 0. */
int cli_doc_options(const struct option *opts);

/* Prints "tlsgate: error: MSG" and returns the exit code for its category. */
int cli_fail(const tg_err *e);

/* The longest option name cli_getopt compares for suggestions. */
#define CLI_OPT_NAME_MAX 48

/* Reports a usage error for cmd (with a pointer to its help) and returns 2. */
int cli_usage(const char *cmd, const char *fmt, ...) TG_PRINTF(2, 3);

/* Runs getopt_long over argv with the given options; on an unknown option or
 * a missing argument prints a usage error. Long options match by their exact
 * name only (no abbreviations); an unknown one is refused naming the nearest
 * real option. Returns the option char, -1 at the end, or '?' on error.
 * --help/-h is handled by the caller's table (opt 'h'). */
int cli_getopt(int argc, char **argv, const struct option *opts, const char *cmd);

/* The name (without "--") of the option whose val is val, or NULL. */
const char *cli_opt_name(const struct option *opts, int val);

/* Prints the help for a command when argv holds -h/--help; returns 1 if so. */
int cli_wants_help(int argc, char **argv, const char *help);

/* The CA directory: --dir if given, else $TLSGATE_DIR; NULL with a usage
 * error when neither is set. */
const char *cli_ca_dir(const char *dir_opt, const char *cmd);

/* Every command that opens a CA's key names its passphrase option so. */
#define CLI_CA_PASS_OPT "ca-pass-file"

/* Opens the CA of --dir/$TLSGATE_DIR. An encrypted CA key is opened with the
 * passphrase from pass_file (--ca-pass-file), $TLSGATE_CA_PASS_FILE, or
 * asked for on a terminal. Prints the error. */
struct tg_ca;
struct tg_ca *cli_open_ca(const char *dir_opt, const char *pass_file, int flags,
    const char *cmd, int *exit_code);

/* A passphrase source for the option of opts whose val is val: messages name
 * that option. ask: with no file, ask on a terminal. */
void cli_pass_init(pki_pass *p, const struct option *opts, int val, int ask);

/* The export password of a PKCS#12 file: from p (its file, or typed twice
 * on a terminal), or none when no_password (the option whose val is
 * none_val) is set. Without either, a usage error naming both options.
 * Returns 0, or -1 with the exit code in *exit_code. */
int cli_export_pass(pki_pass *p, int no_password, const struct option *opts, int none_val,
    const char *cmd, const char *what, int *exit_code);

/* --owner USER[:GROUP] as every command reads it (util_owner_parse): who
 * gets the files a command writes, and the key's mode: USER gets 0600
 * (PostgreSQL's rule); root's key shared with GROUP (root:GROUP or :GROUP)
 * gets 0640, so a service in GROUP reads it (Prosody). */
typedef struct cli_owner {
	uid_t uid;
	gid_t gid;
	mode_t key_mode;
	int chown;
} cli_owner;

int cli_owner_parse(const char *spec, cli_owner *o, tg_err *err) TG_MUST_CHECK;

/* Stages path in fs (see util_fileset) owned per o (may be NULL): staged
 * 0600, handed over and set to mode before it is published. */
struct util_fileset;
int cli_stage_owned(struct util_fileset *fs, const char *path, const void *data, size_t len,
    mode_t mode, int flags, const cli_owner *o, tg_err *err) TG_MUST_CHECK;

/* Writes one file so: staged, owned, then published (util_write_file's
 * refusal of an existing file without UTIL_WRITE_FORCE included). */
int cli_write_owned(const char *path, const void *data, size_t len, mode_t mode, int flags,
    const cli_owner *o, tg_err *err) TG_MUST_CHECK;

/* Text from outside (names from certificates and CSRs) for the terminal:
 * control characters escaped. Returns a buffer of its own, valid until the
 * next call with the same slot (0..3). */
const char *cli_safe(int slot, const char *text);

/* A tg_ca_notify_fn: what the CA did unasked, on stderr as a note. */
void cli_note(const char *msg, void *arg);

/* URLs given with a repeatable option (--crl-url), checked as they come. */
struct cli_urls {
	const char *v[PKI_MAX_CRL_URLS];
	size_t n;
};
/* 0, or a usage error printed (exit 2). */
int cli_urls_add(struct cli_urls *u, const char *url, const char *cmd, const char *opt);

#endif
