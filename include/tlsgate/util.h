/* Small, dependable helpers: files written atomically with their final mode
 * from the first byte, bounded reads, durations. */
#ifndef TLSGATE_UTIL_H
#define TLSGATE_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "tlsgate/err.h"

/* Largest file tlsgate reads whole (certs, keys, CRLs, configs, CSRs). */
#define UTIL_FILE_MAX (64u * 1024 * 1024)

enum {
	UTIL_WRITE_FORCE = 1 << 0,   /* replace an existing file */
	UTIL_WRITE_NOSYNC = 1 << 1,  /* caller syncs the file system later (batches) */
};

/* Writes data to path atomically: a temporary file in the same directory,
 * created with `mode` (O_EXCL|O_NOFOLLOW, so never looser even for a moment),
 * fsync'd, then moved into place. Without UTIL_WRITE_FORCE an existing path is
 * refused (TG_ERR_EXISTS) and left untouched. */
int util_write_file(const char *path, const void *data, size_t len, mode_t mode,
    int flags, tg_err *err) TG_MUST_CHECK;

/* The two halves of util_write_file, for writing many files that appear
 * together: stage writes the temporary file (tmp receives its name, at least
 * PATH_MAX bytes), publish moves it into place (or removes it on failure). */
int util_stage_file(const char *path, const void *data, size_t len, mode_t mode,
    int flags, char *tmp, size_t tmplen, tg_err *err) TG_MUST_CHECK;
int util_publish_file(const char *tmp, const char *path, int flags, tg_err *err) TG_MUST_CHECK;

/* The temporary name util_fileset_stage gives path when staged by process
 * pid with tag (a name a later run can find again from the tag alone). */
int util_staged_name(const char *path, long pid, const char *tag, char *out, size_t len,
    tg_err *err) TG_MUST_CHECK;

/* Files that appear together: each staged under a temporary name, then
 * published one by one, and either kept (util_fileset_done(fs, 0)) or taken
 * back (util_fileset_done(fs, 1)): staged files removed, published ones
 * removed or, where they replaced a file (UTIL_WRITE_FORCE), the old file
 * put back. Initialise with { 0 }. */
typedef struct util_fileset {
	struct util_staged *files;
	size_t n, cap;
} util_fileset;

/* tag NULL: a random temporary name; else util_staged_name's. */
int util_fileset_stage(util_fileset *fs, const char *path, const char *tag, const void *data,
    size_t len, mode_t mode, int flags, tg_err *err) TG_MUST_CHECK;
/* The temporary name of file i (e.g. to chown it before it is published). */
const char *util_fileset_tmp(const util_fileset *fs, size_t i);
int util_fileset_publish(util_fileset *fs, size_t i, tg_err *err) TG_MUST_CHECK;
int util_fileset_publish_all(util_fileset *fs, tg_err *err) TG_MUST_CHECK;
void util_fileset_done(util_fileset *fs, int undo);

/* A named step of a multi-step write where a test may crash the process:
 * when $TLSGATE_CRASH_AT is NAME, or NAME:N for the Nth time the step is
 * reached, the process kills itself with SIGKILL there, as kill -9 or a
 * power cut would stop it. Only the environment turns it on. */
void util_crash_point(const char *name);

/* Removes temporary files in dir left by writers that no longer run (a crash
 * or kill -9 mid-write). */
void util_sweep_stale(const char *dir);

/* Opens an input file for reading, the one way tlsgate opens what it is
 * given: a regular file only, opened without blocking, so a FIFO, device or
 * socket is refused at once (TG_ERR_IO naming what it is) instead of waiting
 * for a writer. Returns the descriptor (blocking again), or -1 with errno
 * kept (EISDIR, EINVAL for other non-regular files). st (may be NULL)
 * receives the file's status. */
int util_open_input(const char *path, struct stat *st, tg_err *err);

/* Reads a whole regular file (at most UTIL_FILE_MAX bytes, opened with
 * util_open_input) into a NUL-terminated buffer the caller frees with free(). */
int util_read_file(const char *path, unsigned char **data, size_t *len,
    tg_err *err) TG_MUST_CHECK;

/* Reads a passphrase from the first line of a file (trailing CR/LF removed). */
int util_read_pass_file(const char *path, char **pass, tg_err *err) TG_MUST_CHECK;

/* Frees a secret after wiping it. */
void util_free_secret(char *s);

/* mkdir -p with the given mode for every directory it creates. */
int util_mkdir_p(const char *path, mode_t mode, tg_err *err) TG_MUST_CHECK;

int util_exists(const char *path);

/* 1 if a and b are names of one file (same device and inode). */
int util_same_file(const char *a, const char *b);

/* 0 when path may be written: it does not exist, or force is set; else
 * TG_ERR_EXISTS with the message every command uses. */
int util_may_write(const char *path, int force, tg_err *err) TG_MUST_CHECK;

/* Flushes the file system holding path (after a batch of UTIL_WRITE_NOSYNC). */
int util_sync_dir(const char *path, tg_err *err) TG_MUST_CHECK;

/* Parses "90d", "12h", "30m", "45s", "2w", "1y" or a bare number of days
 * into seconds. */
int util_parse_duration(const char *s, int64_t *seconds, tg_err *err) TG_MUST_CHECK;

/* Parses a positive integer no larger than max. */
int util_parse_uint(const char *s, const char *what, unsigned long max,
    unsigned long *out, tg_err *err) TG_MUST_CHECK;

/* A TCP port: digits only, 1-65535 (no silent wrap above). what names the
 * option or argument in the message. */
int util_parse_port(const char *s, const char *what, unsigned *port, tg_err *err) TG_MUST_CHECK;

/* Splits "HOST:PORT" or "[IPV6]:PORT" into host (NUL-terminated, at most
 * hostcap - 1 bytes, brackets removed) and a port checked as above. The
 * one parser of HOST:PORT for every command. */
int util_parse_hostport(const char *s, const char *what, char *host, size_t hostcap,
    unsigned *port, tg_err *err) TG_MUST_CHECK;

/* An address: HOST:PORT (as util_parse_hostport) or a unix socket,
 * "unix:/abs/path", which a listening address may follow with
 * ",mode=0660" (octal, at most 0777) and ",owner=USER[:GROUP]" (checked by
 * util_owner_parse where it is used). The one parser of every address the
 * gateway takes. */
#define UTIL_UNIX_PATH_MAX 108 /* sun_path, its NUL included */

typedef struct util_addr {
	int is_unix;
	char host[256];
	unsigned port;
	char path[UTIL_UNIX_PATH_MAX];
	int mode;       /* -1: not given */
	char owner[128]; /* "": not given */
} util_addr;

#define UTIL_ADDR_LISTEN 1 /* mode= and owner= are allowed */

int util_parse_addr(const char *s, const char *what, unsigned flags, util_addr *a,
    tg_err *err) TG_MUST_CHECK;

/* path = dir + "/" + name, bounded; fails (TG_ERR_USAGE) when too long. */
int util_path_join(char *out, size_t outlen, const char *dir, const char *name,
    tg_err *err) TG_MUST_CHECK;

/* A host name as certificates and SNI carry it: each label holding a
 * character beyond ASCII becomes its IDNA A-label ("bücher" ->
 * "xn--bcher-kva", Punycode, RFC 3492), after lower-casing the letters of
 * ASCII, Latin-1, Latin Extended-A, Greek and Cyrillic (MÜNCHEN ->
 * münchen, as lookups map them); other scripts are taken as written. The
 * rest is left for the caller to validate. Fails (TG_ERR_USAGE) on bad
 * UTF-8 or a label over 63 characters. */
int util_idna_to_ascii(const char *name, char *out, size_t len, tg_err *err) TG_MUST_CHECK;

/* Copies text from outside (names from certificates and CSRs, file
 * contents in messages) into out, at most outlen bytes with the NUL, with
 * every control character (C0, DEL, C1) and every byte that is not UTF-8
 * written as \xNN, so it cannot move the cursor or rewrite the terminal.
 * Well-formed UTF-8 is kept. Returns out. */
const char *util_escape(const char *in, char *out, size_t outlen);

/* The offset of the first control character (C0 including NUL, DEL, and C1
 * as UTF-8: 0xC2 0x80-0x9F) in the len bytes at s, or -1 when there is none. */
long util_find_control(const void *s, size_t len);

/* 1 if s is all ASCII. */
int util_is_ascii(const char *s);

/* --owner USER[:GROUP], one meaning in every command: the ownership a key
 * should have. USER owns it (root when left out: ":GROUP" is root's file
 * shared with GROUP); GROUP is its group (USER's primary group when left
 * out). The reader is the account that must open it: USER with every group
 * it is in (and GROUP as its group when given); for root's file shared
 * with GROUP, the account named like the group where one exists (Debian's
 * prosody, postgres), else nobody with only that group; root alone reads
 * anything. */
#define UTIL_OWNER_GROUPS_MAX 64

typedef struct util_owner {
	uid_t uid;
	gid_t gid;
	char user[64], group[64];
	int group_given;
	uid_t reader_uid;
	gid_t reader_gid;
	gid_t reader_groups[UTIL_OWNER_GROUPS_MAX];
	int reader_ngroups;
	char reader[80]; /* "prosody", or "a member of ssl-cert" */
} util_owner;

/* Fails (TG_ERR_USAGE) on an empty spec, an unknown user or group. */
int util_owner_parse(const char *spec, util_owner *o, tg_err *err) TG_MUST_CHECK;
/* 0640 for root's file shared with a group, else 0600. */
mode_t util_owner_key_mode(const util_owner *o);
/* Whether the reader can open path for reading: 1 yes, 0 no (why says what
 * stops it), -1 could not tell (why says why). As root the kernel answers
 * (a child becomes the reader and opens it: modes, ACLs, the x bit of each
 * directory on the path); otherwise util_owner_can_read_computed. */
int util_owner_can_read(const util_owner *o, const char *path, char *why, size_t len);
/* The same answer computed from owner, group and mode bits of the file and
 * of each directory on its resolved path (ACLs are not seen). */
int util_owner_can_read_computed(const util_owner *o, const char *path, char *why, size_t len);

/* Hex-encodes len bytes into out (2*len+1 bytes), upper or lower case. */
void util_hex(char *out, const unsigned char *in, size_t len, int upper);

/* Syslog priorities of stderr lines (sd-daemon.h's SD_ERR, SD_WARNING, SD_INFO). */
enum { UTIL_LOG_ERR = 3, UTIL_LOG_WARN = 4, UTIL_LOG_INFO = 6 };

/* 1 when stderr is connected to the systemd journal: $JOURNAL_STREAM names
 * stderr's device and inode (systemd.exec(5)). Then a line carries no
 * timestamp of its own (the journal stamps it) and starts with "<N>", its
 * priority. Decided once per process. */
int util_stderr_is_journal(void);

/* "<N>" for priority prio when stderr is the journal, else "". */
const char *util_log_prefix(int prio);

/* The versions of the libraries tlsgate runs with (not those it was built
 * against): "OpenSSL 3.0.x ..., SQLite 3.x, libpq 15.x", one per line. */
void util_runtime_versions(char *out, size_t len);

#endif
