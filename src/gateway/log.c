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

void
gw_logp(int prio, const char *fmt, ...)
{
	char line[1024];
	struct timeval tv;
	struct tm tm;
	va_list ap;
	size_t n;

	if (util_stderr_is_journal()) {
		n = (size_t)snprintf(line, sizeof(line), "%s", util_log_prefix(prio));
	} else {
		gettimeofday(&tv, NULL);
		gmtime_r(&tv.tv_sec, &tm);
		n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
		n += (size_t)snprintf(line + n, sizeof(line) - n, ".%03ldZ tlsgate[%ld]: ",
		    (long)(tv.tv_usec / 1000), (long)getpid());
	}
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	va_end(ap);
	n = strnlen(line, sizeof(line) - 2);
	line[n++] = '\n';
	(void)!write(STDERR_FILENO, line, n);
}
