/* LD_PRELOAD shim for test_unix_listen_attacks: right after bind() makes the
 * socket file TG_SWAP_PATH, it is moved aside and a symlink to
 * TG_SWAP_VICTIM put in its place, as another user able to write the
 * directory could do between bind and chmod. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int
bind(int fd, const struct sockaddr *sa, socklen_t len)
{
	int (*real)(int, const struct sockaddr *, socklen_t) =
	    (int (*)(int, const struct sockaddr *, socklen_t))dlsym(RTLD_NEXT, "bind");
	const char *path = getenv("TG_SWAP_PATH"), *victim = getenv("TG_SWAP_VICTIM");
	int rc = real(fd, sa, len);
	char aside[sizeof(((struct sockaddr_un *)0)->sun_path) + 8];

	if (rc == 0 && sa->sa_family == AF_UNIX && path != NULL && victim != NULL &&
	    strcmp(((const struct sockaddr_un *)sa)->sun_path, path) == 0) {
		snprintf(aside, sizeof(aside), "%s.moved", path);
		if (rename(path, aside) != 0 || symlink(victim, path) != 0)
			abort();
	}
	return rc;
}
