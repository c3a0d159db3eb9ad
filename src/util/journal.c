/* stderr as the systemd journal: a stream socket systemd connected to
 * stderr, announced in $JOURNAL_STREAM as "DEVICE:INODE" of that socket
 * (systemd.exec(5)). Comparing with fstat(2) of fd 2 tells a service's own
 * stderr from one a child redirected elsewhere (a terminal, a file). */
#include "tlsgate/util.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static pthread_once_t journal_once = PTHREAD_ONCE_INIT;
static int journal;

static void
journal_detect(void)
{
	const char *env = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;
	char end;

	if (env == NULL || sscanf(env, "%llu:%llu%c", &dev, &ino, &end) != 2)
		return;
	if (fstat(STDERR_FILENO, &st) != 0)
		return;
	journal = (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

int
util_stderr_is_journal(void)
{
	pthread_once(&journal_once, journal_detect);
	return journal;
}

const char *
util_log_prefix(int prio)
{
	static const char *const prefixes[8] = {
		"<0>", "<1>", "<2>", "<3>", "<4>", "<5>", "<6>", "<7>",
	};

	if (!util_stderr_is_journal())
		return "";
	return prefixes[prio < 0 || prio > 7 ? UTIL_LOG_INFO : prio];
}
