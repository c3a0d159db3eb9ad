/* The command-line front end. Each command is a row in a table; each leaf has
 * a run function and a help text that teaches by example. The CLI uses only
 * the public API in include/tlsgate/. */
#ifndef TLSGATE_CLI_H
#define TLSGATE_CLI_H

#include <getopt.h>
#include <stdio.h>

#include "tlsgate/err.h"

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

/* Reports a usage error for cmd (with a pointer to its help) and returns 2. */
int cli_usage(const char *cmd, const char *fmt, ...) TG_PRINTF(2, 3);

/* Runs getopt_long over argv with the given options; on an unknown option or
 * a missing argument prints a usage error. Returns the option char, -1 at the
 * end, or '?' on error. --help/-h is handled by the caller's table (opt 'h'). */
int cli_getopt(int argc, char **argv, const struct option *opts, const char *cmd);

/* Prints the help for a command when argv holds -h/--help; returns 1 if so. */
int cli_wants_help(int argc, char **argv, const char *help);

/* The CA directory: --dir if given, else $TLSGATE_DIR; NULL with a usage
 * error when neither is set. */
const char *cli_ca_dir(const char *dir_opt, const char *cmd);

/* Opens the CA of --dir/$TLSGATE_DIR, reading the CA key's passphrase from
 * pass_file (or $TLSGATE_CA_PASS_FILE) when given. Prints the error. */
struct tg_ca;
struct tg_ca *cli_open_ca(const char *dir_opt, const char *pass_file, int flags,
    const char *cmd, int *exit_code);

/* Reads an optional passphrase file; NULL path gives a NULL passphrase. */
int cli_read_pass(const char *path, char **pass, tg_err *err);

#endif
