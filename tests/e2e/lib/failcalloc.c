/* LD_PRELOAD shim for start-up failure tests: the FAILCALLOC_NTH-th calloc
 * whose size (count times size) lies in [FAILCALLOC_MIN, FAILCALLOC_MAX]
 * returns NULL, as on a machine out of memory; every other call is glibc's. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>

void *__libc_calloc(size_t n, size_t size);

static size_t
env_size(const char *name)
{
	const char *v = getenv(name);

	return v != NULL ? strtoul(v, NULL, 10) : 0;
}

void *
calloc(size_t n, size_t size)
{
	static atomic_ulong seen;
	size_t total = n * size, nth = env_size("FAILCALLOC_NTH");

	if (nth > 0 && total >= env_size("FAILCALLOC_MIN") && total <= env_size("FAILCALLOC_MAX") &&
	    atomic_fetch_add(&seen, 1) + 1 == nth) {
		errno = ENOMEM;
		return NULL;
	}
	return __libc_calloc(n, size);
}
