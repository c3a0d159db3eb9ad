#define _GNU_SOURCE
#include "tlsgate/util.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int
write_all(int fd, const unsigned char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static void
dir_of(const char *path, char *out, size_t outlen)
{
	char tmp[PATH_MAX];

	snprintf(tmp, sizeof(tmp), "%s", path);
	snprintf(out, outlen, "%s", dirname(tmp));
}

int
util_sync_dir(const char *path, tg_err *err)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return tg_err_set(err, TG_ERR_IO, "cannot open directory %s: %s",
		    path, strerror(errno));
	if (syncfs(fd) != 0 && errno != EINVAL) {
		int saved = errno;
		close(fd);
		return tg_err_set(err, TG_ERR_IO, "cannot sync %s: %s", path,
		    strerror(saved));
	}
	close(fd);
	return 0;
}

static int
fsync_parent(const char *path)
{
	char dir[PATH_MAX];
	int fd, rc;

	dir_of(path, dir, sizeof(dir));
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

/* Temp files carry the writer's pid, so a later run can tell a crashed
 * writer's leftovers from a live writer's work in progress. */
#define TMP_PREFIX ".tlsgate-tmp-"

int
util_stage_file(const char *path, const void *data, size_t len, mode_t mode, int flags,
    char *tmp, size_t tmplen, tg_err *err)
{
	char dir[PATH_MAX];
	int fd = -1, saved, rc = -1;

	tmp[0] = '\0';
	if (strlen(path) >= PATH_MAX - 64 || tmplen < PATH_MAX)
		return tg_err_set(err, TG_ERR_USAGE, "path too long: %s", path);
	if (util_may_write(path, flags & UTIL_WRITE_FORCE, err) != 0)
		return -1;
	dir_of(path, dir, sizeof(dir));
	for (int attempt = 0; attempt < 16 && fd < 0; attempt++) {
		unsigned long r = (unsigned long)random();
		snprintf(tmp, tmplen, "%s/" TMP_PREFIX "%ld-%lx", dir, (long)getpid(), r);
		fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
		if (fd < 0 && errno != EEXIST)
			break;
	}
	if (fd < 0) {
		saved = errno;
		tmp[0] = '\0';
		return tg_err_set(err, TG_ERR_IO,
		    "cannot write %s: %s (check that %s exists and is writable)", path,
		    strerror(saved), dir);
	}
	/* umask may have narrowed the mode; set exactly what was asked. */
	if (fchmod(fd, mode) != 0 || write_all(fd, data, len) != 0 ||
	    (!(flags & UTIL_WRITE_NOSYNC) && fsync(fd) != 0)) {
		saved = errno;
		tg_err_set(err, TG_ERR_IO, "cannot write %s: %s", path, strerror(saved));
		goto out;
	}
	rc = 0;
out:
	if (close(fd) != 0 && rc == 0) {
		tg_err_set(err, TG_ERR_IO, "cannot write %s: %s", path, strerror(errno));
		rc = -1;
	}
	if (rc != 0) {
		unlink(tmp);
		tmp[0] = '\0';
	}
	return rc;
}

int
util_publish_file(const char *tmp, const char *path, int flags, tg_err *err)
{
	int saved;

	if (flags & UTIL_WRITE_FORCE) {
		if (rename(tmp, path) != 0) {
			saved = errno;
			unlink(tmp);
			return tg_err_set(err, TG_ERR_IO, "cannot move %s into place: %s", path,
			    strerror(saved));
		}
	} else {
		/* link() refuses an existing target atomically, unlike rename(). */
		if (link(tmp, path) != 0) {
			saved = errno;
			unlink(tmp);
			if (saved == EEXIST)
				return util_may_write(path, 0, err);
			return tg_err_set(err, TG_ERR_IO, "cannot create %s: %s", path,
			    strerror(saved));
		}
		unlink(tmp);
	}
	if (!(flags & UTIL_WRITE_NOSYNC))
		(void)fsync_parent(path);
	return 0;
}

int
util_write_file(const char *path, const void *data, size_t len, mode_t mode, int flags,
    tg_err *err)
{
	char tmp[PATH_MAX + 64];

	if (util_stage_file(path, data, len, mode, flags, tmp, sizeof(tmp), err) != 0)
		return -1;
	return util_publish_file(tmp, path, flags, err);
}

void
util_sweep_stale(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char path[PATH_MAX];

	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		long pid;
		if (strncmp(e->d_name, TMP_PREFIX, strlen(TMP_PREFIX)) != 0)
			continue;
		pid = strtol(e->d_name + strlen(TMP_PREFIX), NULL, 10);
		if (pid <= 0 || (kill((pid_t)pid, 0) != 0 && errno == ESRCH)) {
			if (snprintf(path, sizeof(path), "%s/%s", dir, e->d_name) < (int)sizeof(path))
				unlink(path);
		}
	}
	closedir(d);
}

int
util_read_file(const char *path, unsigned char **data, size_t *len, tg_err *err)
{
	unsigned char *buf = NULL;
	size_t cap = 0, used = 0;
	int fd, rc = -1;
	struct stat st;

	*data = NULL;
	*len = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int saved = errno;
		if (saved == ENOENT)
			return tg_err_set(err, TG_ERR_IO, "%s: no such file", path);
		if (saved == EACCES)
			return tg_err_set(err, TG_ERR_IO,
			    "%s: permission denied (run as a user that can read it, or fix its mode/owner)",
			    path);
		return tg_err_set(err, TG_ERR_IO, "cannot open %s: %s", path, strerror(saved));
	}
	if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
		tg_err_set(err, TG_ERR_IO, "%s is a directory, expected a file", path);
		goto out;
	}
	for (;;) {
		ssize_t n;
		if (used + 1 >= cap) {
			size_t ncap = cap ? cap * 2 : 8192;
			unsigned char *nbuf;
			if (ncap > UTIL_FILE_MAX + 1)
				ncap = UTIL_FILE_MAX + 1;
			if (used + 1 >= ncap) {
				tg_err_set(err, TG_ERR_CONFIG, "%s is larger than %u bytes; not a certificate, key or config",
				    path, UTIL_FILE_MAX);
				goto out;
			}
			nbuf = realloc(buf, ncap);
			if (nbuf == NULL) {
				tg_err_set(err, TG_ERR_INTERNAL, "out of memory reading %s", path);
				goto out;
			}
			buf = nbuf;
			cap = ncap;
		}
		n = read(fd, buf + used, cap - used - 1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			tg_err_set(err, TG_ERR_IO, "cannot read %s: %s", path, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		used += (size_t)n;
	}
	if (buf == NULL && (buf = malloc(1)) == NULL) {
		tg_err_set(err, TG_ERR_INTERNAL, "out of memory");
		goto out;
	}
	buf[used] = '\0';
	*data = buf;
	*len = used;
	buf = NULL;
	rc = 0;
out:
	if (buf != NULL)
		OPENSSL_clear_free(buf, cap);
	close(fd);
	return rc;
}

void
util_free_secret(char *s)
{
	if (s != NULL)
		OPENSSL_clear_free(s, strlen(s));
}

int
util_read_pass_file(const char *path, char **pass, tg_err *err)
{
	unsigned char *data;
	size_t len, n;

	*pass = NULL;
	if (util_read_file(path, &data, &len, err) != 0)
		return tg_err_prefix(err, "passphrase file");
	n = strcspn((char *)data, "\r\n");
	data[n] = '\0';
	if (n == 0) {
		OPENSSL_clear_free(data, len + 1);
		return tg_err_set(err, TG_ERR_CONFIG,
		    "passphrase file %s is empty; put the passphrase on its first line", path);
	}
	if (n != len)
		OPENSSL_cleanse(data + n, len - n);
	*pass = (char *)data;
	return 0;
}

int
util_mkdir_p(const char *path, mode_t mode, tg_err *err)
{
	char buf[PATH_MAX];
	size_t len = strlen(path);

	if (len == 0 || len >= sizeof(buf))
		return tg_err_set(err, TG_ERR_USAGE, "bad directory path '%s'", path);
	memcpy(buf, path, len + 1);
	for (char *p = buf + 1; ; p++) {
		if (*p == '/' || *p == '\0') {
			char c = *p;
			*p = '\0';
			if (mkdir(buf, mode) != 0 && errno != EEXIST)
				return tg_err_set(err, TG_ERR_IO, "cannot create directory %s: %s",
				    buf, strerror(errno));
			*p = c;
			if (c == '\0')
				break;
		}
	}
	return 0;
}

int
util_may_write(const char *path, int force, tg_err *err)
{
	if (force || !util_exists(path))
		return 0;
	return tg_err_set(err, TG_ERR_EXISTS,
	    "%s already exists; refusing to overwrite it (pass --force to replace it)", path);
}

int
util_exists(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0;
}

int
util_path_join(char *out, size_t outlen, const char *dir, const char *name, tg_err *err)
{
	int n = snprintf(out, outlen, "%s/%s", dir, name);
	if (n < 0 || (size_t)n >= outlen)
		return tg_err_set(err, TG_ERR_USAGE, "path too long: %s/%s", dir, name);
	return 0;
}

void
util_hex(char *out, const unsigned char *in, size_t len, int upper)
{
	const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";

	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * len] = '\0';
}
