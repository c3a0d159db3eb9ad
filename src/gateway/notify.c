/* sd_notify(3) without libsystemd. The protocol is one datagram of
 * newline-separated KEY=VALUE lines to the AF_UNIX socket named in
 * $NOTIFY_SOCKET (a path, or "@name" in the abstract namespace), and is a
 * documented, stable interface. Speaking it ourselves keeps libsystemd and
 * the compression and crypto libraries it pulls in (lz4, zstd, lzma,
 * gcrypt) out of a process that holds TLS keys, and the build needs no
 * further package. Messages are best effort: the gateway serves the same
 * whether or not anyone listens. */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "gateway/notify.h"

static void
notify_send(const char *msg, size_t len)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t plen;
	int fd;

	if (path == NULL || (path[0] != '/' && path[0] != '@'))
		return; /* unset, or a kind of address this version does not speak (vsock:) */
	plen = strlen(path);
	if (plen >= sizeof(sa.sun_path))
		return;
	memcpy(sa.sun_path, path, plen);
	if (sa.sun_path[0] == '@')
		sa.sun_path[0] = '\0';
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
		return;
	(void)!sendto(fd, msg, len, MSG_NOSIGNAL, (const struct sockaddr *)&sa,
	    (socklen_t)(offsetof(struct sockaddr_un, sun_path) + plen));
	close(fd);
}

void
gw_notify(const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	int n;

	if (getenv("NOTIFY_SOCKET") == NULL)
		return;
	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n > 0)
		notify_send(msg, (size_t)n < sizeof(msg) ? (size_t)n : sizeof(msg) - 1);
}

void
gw_notify_reloading(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	gw_notify("RELOADING=1\nMONOTONIC_USEC=%llu\nSTATUS=reloading the configuration",
	    (unsigned long long)ts.tv_sec * 1000000ULL + (unsigned long long)ts.tv_nsec / 1000);
}
