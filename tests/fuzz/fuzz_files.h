/* For fuzz targets whose parser reads files: one directory per process
 * (mkdtemp under $TMPDIR, removed at exit), and an input cut into files
 * there. An input is pieces separated by a line "%%"; piece i becomes
 * names[i] (subdirectories are made once), "@DIR@" in it becomes the
 * directory, so a seed can name its files by absolute path. Names are fixed
 * and opened O_NOFOLLOW, so nothing is written outside the directory.
 * Every call first removes the files of the previous input: a name without
 * a piece is a missing file. The directory goes at exit, and on a crash. */
#ifndef TLSGATE_FUZZ_FILES_H
#define TLSGATE_FUZZ_FILES_H

#ifndef _GNU_SOURCE
#error "define _GNU_SOURCE before the first #include (memmem)"
#endif
#include <fcntl.h>
#include <limits.h>
#include <sanitizer/common_interface_defs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FUZZ_SEP "\n%%\n"
#define FUZZ_MAX_NAMES 8

static char fuzz_dir_path[PATH_MAX];
static const char *const *fuzz_names;
static size_t fuzz_nnames;

static void
fuzz_path(char *out, const char *name)
{
	snprintf(out, PATH_MAX, "%s/%s", fuzz_dir_path, name);
}

/* Files first, then their subdirectories (deepest first), then the dir. */
static void
fuzz_cleanup(void)
{
	char p[PATH_MAX];

	for (size_t i = 0; i < fuzz_nnames; i++) {
		fuzz_path(p, fuzz_names[i]);
		unlink(p);
	}
	for (size_t i = fuzz_nnames; i-- > 0;) {
		char *slash;
		fuzz_path(p, fuzz_names[i]);
		while ((slash = strrchr(p, '/')) != NULL && strlen(p) > strlen(fuzz_dir_path)) {
			*slash = '\0';
			if (strlen(p) > strlen(fuzz_dir_path))
				rmdir(p);
		}
	}
	rmdir(fuzz_dir_path);
}

/* The directory (made at the first call, with the subdirectories names
 * need). Aborts when it cannot be made: a target without it tests nothing. */
static inline const char *
fuzz_dir(const char *const *names, size_t nnames)
{
	const char *tmp = getenv("TMPDIR");
	char p[PATH_MAX];

	if (fuzz_dir_path[0] != '\0')
		return fuzz_dir_path;
	snprintf(fuzz_dir_path, sizeof(fuzz_dir_path), "%s/tlsgate-fuzz-XXXXXX",
	    tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
	if (mkdtemp(fuzz_dir_path) == NULL)
		abort();
	fuzz_names = names;
	fuzz_nnames = nnames;
	atexit(fuzz_cleanup);
	__sanitizer_set_death_callback(fuzz_cleanup); /* a crash keeps no files either */
	for (size_t i = 0; i < nnames; i++) {
		fuzz_path(p, names[i]);
		for (char *s = p + strlen(fuzz_dir_path) + 1; (s = strchr(s, '/')) != NULL; s++) {
			*s = '\0';
			mkdir(p, 0700);
			*s = '/';
		}
	}
	return fuzz_dir_path;
}

static void
fuzz_write(int fd, const void *p, size_t n)
{
	if (n > 0 && write(fd, p, n) != (ssize_t)n)
		abort();
}

/* Writes data[0..size) to path, "@DIR@" replaced by the directory. */
static inline void
fuzz_write_file(const char *path, const uint8_t *data, size_t size)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	size_t dlen = strlen(fuzz_dir_path);
	const uint8_t *p = data, *end = data + size, *at;

	if (fd < 0)
		abort();
	while ((at = memmem(p, (size_t)(end - p), "@DIR@", 5)) != NULL) {
		fuzz_write(fd, p, (size_t)(at - p));
		fuzz_write(fd, fuzz_dir_path, dlen);
		p = at + 5;
	}
	fuzz_write(fd, p, (size_t)(end - p));
	close(fd);
}

/* Cuts data at each FUZZ_SEP into names[0], names[1], ...; the rest of the
 * names are left missing. Returns the number of files written. */
static inline size_t
fuzz_write_files(const char *const *names, size_t nnames, const uint8_t *data, size_t size)
{
	const uint8_t *p = data, *end = data + size;
	const size_t seplen = sizeof(FUZZ_SEP) - 1;
	char path[PATH_MAX];
	size_t i;

	fuzz_dir(names, nnames);
	for (i = 0; i < nnames; i++) {
		fuzz_path(path, names[i]);
		unlink(path);
	}
	for (i = 0; i < nnames && p <= end; i++) {
		const uint8_t *sep = memmem(p, (size_t)(end - p), FUZZ_SEP, seplen);
		const uint8_t *stop = sep != NULL ? sep : end;
		fuzz_path(path, names[i]);
		fuzz_write_file(path, p, (size_t)(stop - p));
		if (sep == NULL)
			return i + 1;
		p = sep + seplen;
	}
	return i;
}

#endif
