/* One line per event on stderr, written with a single write() so lines from
 * the worker threads and processes never interleave. On a terminal or in a
 * file a line starts with its UTC time and the process; when stderr is the
 * systemd journal, which stamps lines itself, it starts with its syslog
 * priority instead ("<4>"), which journald strips and records. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "gateway/gw.h"
#include "tlsgate/util.h"

#define LOG_LINE_MAX 1024

static void
log_write(int prio, const char *msg)
{
	char line[LOG_LINE_MAX];
	struct timeval tv;
	struct tm tm;
	size_t n;

	if (util_stderr_is_journal()) {
		snprintf(line, sizeof(line), "%s%s", util_log_prefix(prio), msg);
	} else {
		gettimeofday(&tv, NULL);
		gmtime_r(&tv.tv_sec, &tm);
		n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
		snprintf(line + n, sizeof(line) - n, ".%03ldZ tlsgate[%ld]: %s",
		    (long)(tv.tv_usec / 1000), (long)getpid(), msg);
	}
	n = strnlen(line, sizeof(line) - 2);
	line[n++] = '\n';
	(void)!write(STDERR_FILENO, line, n);
}

void
gw_logp(int prio, const char *fmt, ...)
{
	char msg[LOG_LINE_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_write(prio, msg);
}

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Rate-limited lines are warnings: each says a limit was reached. */
void
gw_log_limited(struct gw_log_limit *lim, const char *fmt, ...)
{
	char msg[LOG_LINE_MAX];
	int64_t now = now_ms(), next = atomic_load(&lim->next_ms);
	uint64_t held;
	va_list ap;
	size_t n;

	/* One thread wins the slot; the others count themselves held back. */
	if (now < next || !atomic_compare_exchange_strong(&lim->next_ms, &next,
	    now + GW_LOG_EVERY * 1000)) {
		atomic_fetch_add(&lim->held, 1);
		return;
	}
	held = atomic_exchange(&lim->held, 0);
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	n = strlen(msg);
	if (held > 0 && n < sizeof(msg))
		snprintf(msg + n, sizeof(msg) - n, " (%llu more since the previous such line; this one is logged "
		    "at most every %d s)", (unsigned long long)held, GW_LOG_EVERY);
	log_write(UTIL_LOG_WARN, msg);
}
