/* tlsgate error convention: every fallible call returns 0 on success and -1 on
 * failure, with the category and a human message (what failed, why, the fix)
 * stored in a caller-supplied tg_err. The CLI maps categories to exit codes. */
#ifndef TLSGATE_ERR_H
#define TLSGATE_ERR_H

#include <stddef.h>

#if defined(__GNUC__)
#define TG_MUST_CHECK __attribute__((warn_unused_result))
#define TG_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define TG_MUST_CHECK
#define TG_PRINTF(a, b)
#endif

typedef enum {
	TG_OK = 0,
	TG_ERR_USAGE,    /* bad arguments: exit 2 */
	TG_ERR_CONFIG,   /* bad configuration or input file content */
	TG_ERR_IO,       /* file system, network */
	TG_ERR_VERIFY,   /* a certificate, key or signature failed a check */
	TG_ERR_TLS,      /* TLS engine */
	TG_ERR_EXISTS,   /* refusing to overwrite */
	TG_ERR_INTERNAL, /* out of memory, library failure */
} tg_errcat;

#define TG_ERR_MSG_MAX 2048

typedef struct tg_err {
	tg_errcat cat;
	char msg[TG_ERR_MSG_MAX];
} tg_err;

/* Records the error (if e is not NULL) and returns -1, so callers can write
 * `return tg_err_set(e, TG_ERR_IO, "...")`. */
int tg_err_set(tg_err *e, tg_errcat cat, const char *fmt, ...) TG_PRINTF(3, 4);

/* Like tg_err_set, then appends the reason from OpenSSL's error queue (and
 * drains it). */
int tg_err_ossl(tg_err *e, tg_errcat cat, const char *fmt, ...) TG_PRINTF(3, 4);

/* Prefixes the stored message with more context: "context: old message". */
int tg_err_prefix(tg_err *e, const char *fmt, ...) TG_PRINTF(2, 3);

void tg_err_clear(tg_err *e);

/* The process exit code for a category: 0 ok, 2 usage, 1 anything else. */
int tg_err_exit_code(const tg_err *e);

#endif
