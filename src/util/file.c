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

/* "cannot write PATH: REASON", where a full disk says so and what to do. */
static int
write_fail(tg_err *err, const char *verb, const char *path, int e)
{
	if (e == ENOSPC || e == EDQUOT)
		return tg_err_set(err, TG_ERR_IO,
		    "cannot %s %s: disk full (%s); free space on the file system holding it and retry",
		    verb, path, strerror(e));
	return tg_err_set(err, TG_ERR_IO, "cannot %s %s: %s", verb, path, strerror(e));
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
		return write_fail(err, "sync", path, saved);
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
util_staged_name(const char *path, long pid, const char *tag, char *out, size_t len,
    tg_err *err)
{
	char dir[PATH_MAX];
	int n;

	dir_of(path, dir, sizeof(dir));
	n = snprintf(out, len, "%s/" TMP_PREFIX "%ld-%s", dir, pid, tag);
	if (n < 0 || (size_t)n >= len)
		return tg_err_set(err, TG_ERR_USAGE, "path too long: %s", path);
	return 0;
}

static int
stage_as(const char *path, const char *tag, const void *data, size_t len, mode_t mode,
    int flags, char *tmp, size_t tmplen, tg_err *err)
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
		if (tag != NULL) {
			if (util_staged_name(path, (long)getpid(), tag, tmp, tmplen, err) != 0)
				return -1;
			attempt = 16; /* a tagged name is exact: no second draw */
		} else {
			unsigned long r = (unsigned long)random();
			snprintf(tmp, tmplen, "%s/" TMP_PREFIX "%ld-%lx", dir, (long)getpid(), r);
		}
		fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
		if (fd < 0 && errno != EEXIST)
			break;
	}
	if (fd < 0) {
		saved = errno;
		tmp[0] = '\0';
		if (saved == ENOSPC || saved == EDQUOT)
			return write_fail(err, "write", path, saved);
		return tg_err_set(err, TG_ERR_IO,
		    "cannot write %s: %s (check that %s exists and is writable)", path,
		    strerror(saved), dir);
	}
	/* umask may have narrowed the mode; set exactly what was asked. */
	if (fchmod(fd, mode) != 0 || write_all(fd, data, len) != 0 ||
	    (!(flags & UTIL_WRITE_NOSYNC) && fsync(fd) != 0)) {
		write_fail(err, "write", path, errno);
		goto out;
	}
	rc = 0;
out:
	if (close(fd) != 0 && rc == 0) {
		write_fail(err, "write", path, errno);
		rc = -1;
	}
	if (rc != 0) {
		unlink(tmp);
		tmp[0] = '\0';
	}
	return rc;
}

int
util_stage_file(const char *path, const void *data, size_t len, mode_t mode, int flags,
    char *tmp, size_t tmplen, tg_err *err)
{
	return stage_as(path, NULL, data, len, mode, flags, tmp, tmplen, err);
}

int
util_same_file(const char *a, const char *b)
{
	struct stat sa, sb;

	return lstat(a, &sa) == 0 && lstat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
	    sa.st_ino == sb.st_ino;
}

int
util_publish_file(const char *tmp, const char *path, int flags, tg_err *err)
{
	int saved;

	if (flags & UTIL_WRITE_FORCE) {
		if (rename(tmp, path) != 0) {
			saved = errno;
			unlink(tmp);
			return write_fail(err, "move into place", path, saved);
		}
		/* rename() between two links of one file leaves both: a run
		 * finishing what a killed one began may meet that. */
		(void)unlink(tmp);
	} else {
		/* link() refuses an existing target atomically, unlike rename(). */
		if (link(tmp, path) != 0) {
			saved = errno;
			if (saved == EEXIST && util_same_file(tmp, path)) {
				unlink(tmp); /* published before a crash; only the name was left */
				return 0;
			}
			unlink(tmp);
			if (saved == EEXIST)
				return util_may_write(path, 0, err);
			return write_fail(err, "create", path, saved);
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

/* --- Files that appear together --- */

struct util_staged {
	char tmp[PATH_MAX + 64];
	char bak[PATH_MAX + 64]; /* the file a forced publish replaced, kept until done */
	char *path;
	int flags;
	int published;
};

int
util_fileset_stage(util_fileset *fs, const char *path, const char *tag, const void *data,
    size_t len, mode_t mode, int flags, tg_err *err)
{
	struct util_staged *f;

	if (fs->n == fs->cap) {
		size_t ncap = fs->cap ? fs->cap * 2 : 16;
		struct util_staged *nf = realloc(fs->files, ncap * sizeof(*nf));
		if (nf == NULL)
			return tg_err_set(err, TG_ERR_INTERNAL, "out of memory");
		fs->files = nf;
		fs->cap = ncap;
	}
	f = &fs->files[fs->n];
	memset(f, 0, sizeof(*f));
	if ((f->path = strdup(path)) == NULL)
		return tg_err_set(err, TG_ERR_INTERNAL, "out of memory");
	if (stage_as(path, tag, data, len, mode, flags, f->tmp, sizeof(f->tmp), err) != 0) {
		free(f->path);
		return -1;
	}
	f->flags = flags;
	fs->n++;
	return 0;
}

const char *
util_fileset_tmp(const util_fileset *fs, size_t i)
{
	return i < fs->n ? fs->files[i].tmp : NULL;
}

/* A second name for the file at path, so that a forced publish can be taken
 * back. No file there: nothing to keep. */
static int
keep_old(struct util_staged *f, tg_err *err)
{
	char dir[PATH_MAX];

	if (!util_exists(f->path))
		return 0;
	dir_of(f->path, dir, sizeof(dir));
	for (int attempt = 0; attempt < 16; attempt++) {
		snprintf(f->bak, sizeof(f->bak), "%s/" TMP_PREFIX "%ld-%lx", dir, (long)getpid(),
		    (unsigned long)random());
		if (link(f->path, f->bak) == 0)
			return 0;
		if (errno != EEXIST)
			break;
	}
	f->bak[0] = '\0';
	return write_fail(err, "keep a copy of", f->path, errno);
}

/* The staged name stays until util_fileset_done, so a run that finds the
 * work half-done after a crash can tell what was published (the final name
 * is the same file as the staged one) from what was not. */
int
util_fileset_publish(util_fileset *fs, size_t i, tg_err *err)
{
	struct util_staged *f = &fs->files[i];
	char second[sizeof(f->tmp) + 1];
	int saved;

	if (!(f->flags & UTIL_WRITE_FORCE)) {
		/* link() refuses an existing target atomically, unlike rename(). */
		if (link(f->tmp, f->path) != 0) {
			saved = errno;
			if (saved == EEXIST)
				return util_may_write(f->path, 0, err);
			return write_fail(err, "create", f->path, saved);
		}
	} else {
		/* rename() takes a name away: it gets a second one to take. */
		if (keep_old(f, err) != 0)
			return -1;
		snprintf(second, sizeof(second), "%s-", f->tmp);
		if (link(f->tmp, second) != 0)
			return write_fail(err, "create", f->path, errno);
		if (rename(second, f->path) != 0) {
			saved = errno;
			unlink(second);
			return write_fail(err, "move into place", f->path, saved);
		}
	}
	f->published = 1;
	if (!(f->flags & UTIL_WRITE_NOSYNC))
		(void)fsync_parent(f->path);
	return 0;
}

int
util_fileset_publish_all(util_fileset *fs, tg_err *err)
{
	for (size_t i = 0; i < fs->n; i++)
		if (util_fileset_publish(fs, i, err) != 0)
			return -1;
	return 0;
}

/* Taking back goes final name first, staged name second: a crash between
 * leaves a staged file whose final name is not it, which reads as "not
 * published". */
void
util_fileset_done(util_fileset *fs, int undo)
{
	for (size_t i = fs->n; i-- > 0;) {
		struct util_staged *f = &fs->files[i];
		if (undo && f->published && f->bak[0] != '\0')
			(void)rename(f->bak, f->path);
		else if (undo && f->published)
			unlink(f->path);
		if (f->tmp[0] != '\0')
			unlink(f->tmp);
		if (f->bak[0] != '\0' && !(undo && f->published))
			unlink(f->bak);
		free(f->path);
	}
	free(fs->files);
	memset(fs, 0, sizeof(*fs));
}

/* $TLSGATE_CRASH_AT, parsed once: the step's name and which passage. */
void
util_crash_point(const char *name)
{
	static int parsed;
	static char want[64];
	static unsigned long nth = 1, seen;
	const char *env;
	size_t n;

	if (!parsed) {
		parsed = 1;
		if ((env = getenv("TLSGATE_CRASH_AT")) != NULL) {
			const char *colon = strchr(env, ':');
			n = colon ? (size_t)(colon - env) : strlen(env);
			if (n < sizeof(want)) {
				memcpy(want, env, n);
				want[n] = '\0';
			}
			if (colon != NULL)
				nth = strtoul(colon + 1, NULL, 10);
		}
	}
	if (want[0] == '\0' || strcmp(want, name) != 0 || ++seen < nth)
		return;
	raise(SIGKILL); /* unflushed output is lost, as in a real crash */
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

static const char *
file_kind(mode_t m)
{
	if (S_ISDIR(m))
		return "a directory";
	if (S_ISFIFO(m))
		return "a FIFO (named pipe)";
	if (S_ISSOCK(m))
		return "a socket";
	if (S_ISCHR(m))
		return "a character device";
	if (S_ISBLK(m))
		return "a block device";
	return "not a regular file";
}

int
util_open_input(const char *path, struct stat *st, tg_err *err)
{
	struct stat local;
	int fd, saved, fl;

	if (st == NULL)
		st = &local;
	/* O_NONBLOCK: opening a FIFO with no writer would wait forever. */
	fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0) {
		saved = errno;
		if (saved == ENOENT)
			tg_err_set(err, TG_ERR_IO, "%s: no such file", path);
		else if (saved == EACCES)
			tg_err_set(err, TG_ERR_IO,
			    "%s: permission denied (run as a user that can read it, or fix its mode/owner)",
			    path);
		else
			tg_err_set(err, TG_ERR_IO, "cannot open %s: %s", path, strerror(saved));
		errno = saved;
		return -1;
	}
	if (fstat(fd, st) != 0) {
		saved = errno;
		tg_err_set(err, TG_ERR_IO, "cannot read %s: %s", path, strerror(saved));
		goto fail;
	}
	if (!S_ISREG(st->st_mode)) {
		saved = S_ISDIR(st->st_mode) ? EISDIR : EINVAL;
		if (S_ISDIR(st->st_mode))
			tg_err_set(err, TG_ERR_IO, "%s is a directory, expected a file", path);
		else
			tg_err_set(err, TG_ERR_IO,
			    "%s is %s, not a regular file; tlsgate reads certificates, keys, "
			    "passphrases and configs only from regular files (save the data to a "
			    "file first; a passphrase may come from standard input with -)",
			    path, file_kind(st->st_mode));
		goto fail;
	}
	if ((fl = fcntl(fd, F_GETFL)) < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) != 0) {
		saved = errno;
		tg_err_set(err, TG_ERR_IO, "cannot read %s: %s", path, strerror(saved));
		goto fail;
	}
	return fd;
fail:
	close(fd);
	errno = saved;
	return -1;
}

int
util_read_file(const char *path, unsigned char **data, size_t *len, tg_err *err)
{
	unsigned char *buf = NULL;
	size_t cap = 0, used = 0;
	int fd, rc = -1;

	*data = NULL;
	*len = 0;
	if ((fd = util_open_input(path, NULL, err)) < 0)
		return -1;
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
