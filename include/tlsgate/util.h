/* Small, dependable helpers: files written atomically with their final mode
 * from the first byte, bounded reads, durations. */
#ifndef TLSGATE_UTIL_H
#define TLSGATE_UTIL_H

#include <stddef.h>
#include <stdint.h>
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

/* Removes temporary files in dir left by writers that no longer run (a crash
 * or kill -9 mid-write). */
void util_sweep_stale(const char *dir);

/* Reads a whole file (at most UTIL_FILE_MAX bytes) into a NUL-terminated
 * buffer the caller frees with free(). */
int util_read_file(const char *path, unsigned char **data, size_t *len,
    tg_err *err) TG_MUST_CHECK;

/* Reads a passphrase from the first line of a file (trailing CR/LF removed). */
int util_read_pass_file(const char *path, char **pass, tg_err *err) TG_MUST_CHECK;

/* Frees a secret after wiping it. */
void util_free_secret(char *s);

/* mkdir -p with the given mode for every directory it creates. */
int util_mkdir_p(const char *path, mode_t mode, tg_err *err) TG_MUST_CHECK;

int util_exists(const char *path);

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

/* 1 if s is all ASCII. */
int util_is_ascii(const char *s);

/* Hex-encodes len bytes into out (2*len+1 bytes), upper or lower case. */
void util_hex(char *out, const unsigned char *in, size_t len, int upper);

#endif
