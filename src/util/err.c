#include "tlsgate/err.h"

#include <openssl/err.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static void
vset(tg_err *e, tg_errcat cat, const char *fmt, va_list ap)
{
	e->cat = cat;
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
}

int
tg_err_set(tg_err *e, tg_errcat cat, const char *fmt, ...)
{
	va_list ap;

	if (e == NULL)
		return -1;
	va_start(ap, fmt);
	vset(e, cat, fmt, ap);
	va_end(ap);
	return -1;
}

/* The most specific reason is the last one queued; earlier entries are usually
 * generic wrappers ("PEM routines::bad decrypt" beats "decoder routines"). */
static void
append_ossl_reason(tg_err *e)
{
	unsigned long code, last = 0;
	char reason[256];
	size_t len;

	while ((code = ERR_get_error()) != 0)
		last = code;
	if (last == 0)
		return;
	ERR_error_string_n(last, reason, sizeof(reason));
	len = strlen(e->msg);
	snprintf(e->msg + len, sizeof(e->msg) - len, " (openssl: %s)", reason);
}

int
tg_err_ossl(tg_err *e, tg_errcat cat, const char *fmt, ...)
{
	va_list ap;

	if (e == NULL) {
		ERR_clear_error();
		return -1;
	}
	va_start(ap, fmt);
	vset(e, cat, fmt, ap);
	va_end(ap);
	append_ossl_reason(e);
	return -1;
}

int
tg_err_prefix(tg_err *e, const char *fmt, ...)
{
	char prefix[512], old[TG_ERR_MSG_MAX];
	va_list ap;

	if (e == NULL)
		return -1;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	memcpy(old, e->msg, sizeof(old));
	/* Truncation is acceptable: the message stays NUL-terminated. */
	size_t n = strlen(prefix);
	if (n > sizeof(e->msg) - 3)
		n = sizeof(e->msg) - 3;
	memcpy(e->msg, prefix, n);
	memcpy(e->msg + n, ": ", 2);
	size_t rest = sizeof(e->msg) - n - 3;
	size_t olen = strnlen(old, rest);
	memcpy(e->msg + n + 2, old, olen);
	e->msg[n + 2 + olen] = '\0';
	return -1;
}

void
tg_err_clear(tg_err *e)
{
	if (e == NULL)
		return;
	e->cat = TG_OK;
	e->msg[0] = '\0';
}

int
tg_err_exit_code(const tg_err *e)
{
	if (e == NULL || e->cat == TG_OK)
		return 0;
	return e->cat == TG_ERR_USAGE ? 2 : 1;
}
