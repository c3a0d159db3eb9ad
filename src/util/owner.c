/* --owner USER[:GROUP], one meaning in every command, and whether the
 * account it names can read a file: the kernel's answer when we may ask it
 * (as root: open the file as that account in a child), else the same rules
 * computed from the modes along the path. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tlsgate/util.h"

#define NOBODY_UID 65534

static int
add_group(util_owner *o, gid_t g)
{
	for (int i = 0; i < o->reader_ngroups; i++)
		if (o->reader_groups[i] == g)
			return 0;
	if (o->reader_ngroups == UTIL_OWNER_GROUPS_MAX)
		return -1;
	o->reader_groups[o->reader_ngroups++] = g;
	return 0;
}

/* The reader as an account: its uid, primary group and every group it is a
 * member of (getgrouplist, as login and systemd set them). */
static void
reader_from_user(util_owner *o, const struct passwd *pw)
{
	gid_t groups[UTIL_OWNER_GROUPS_MAX];
	int n = UTIL_OWNER_GROUPS_MAX;

	o->reader_uid = pw->pw_uid;
	o->reader_gid = pw->pw_gid;
	snprintf(o->reader, sizeof(o->reader), "%s", pw->pw_name);
	o->reader_ngroups = 0;
	if (getgrouplist(pw->pw_name, pw->pw_gid, groups, &n) < 0)
		n = UTIL_OWNER_GROUPS_MAX; /* more than we keep: the first ones */
	for (int i = 0; i < n; i++)
		(void)add_group(o, groups[i]);
	(void)add_group(o, pw->pw_gid);
}

int
util_owner_parse(const char *spec, util_owner *o, tg_err *err)
{
	const char *colon = strchr(spec, ':');
	size_t ulen = colon ? (size_t)(colon - spec) : strlen(spec);
	const struct passwd *pw;
	const struct group *gr;

	memset(o, 0, sizeof(*o));
	if (ulen >= sizeof(o->user) || (colon != NULL && strlen(colon + 1) >= sizeof(o->group)))
		return tg_err_set(err, TG_ERR_USAGE, "--owner '%.100s': name too long", spec);
	if (ulen == 0 && (colon == NULL || colon[1] == '\0'))
		return tg_err_set(err, TG_ERR_USAGE, "--owner '%s': write USER, USER:GROUP or :GROUP "
		    "(root's, shared with GROUP)", spec);
	snprintf(o->user, sizeof(o->user), "%.*s", (int)ulen, spec);
	if (o->user[0] == '\0')
		snprintf(o->user, sizeof(o->user), "root");
	if ((pw = getpwnam(o->user)) == NULL)
		return tg_err_set(err, TG_ERR_USAGE, "--owner: no user '%s' on this system", o->user);
	o->uid = pw->pw_uid;
	o->gid = pw->pw_gid;
	if (colon != NULL && colon[1] != '\0') {
		if ((gr = getgrnam(colon + 1)) == NULL)
			return tg_err_set(err, TG_ERR_USAGE, "--owner: no group '%s' on this system",
			    colon + 1);
		o->gid = gr->gr_gid;
		o->group_given = 1;
	}
	gr = getgrgid(o->gid);
	snprintf(o->group, sizeof(o->group), "%s", gr != NULL ? gr->gr_name : o->user);
	if (o->uid != 0) {
		/* The service runs as USER (with GROUP as its group when given). */
		reader_from_user(o, pw);
		if (o->group_given) {
			o->reader_gid = o->gid;
			(void)add_group(o, o->gid);
		}
		return 0;
	}
	if (!o->group_given) {
		reader_from_user(o, pw); /* root: reads everything */
		return 0;
	}
	/* root's file shared with GROUP: the service is a member of GROUP, the
	 * account named like the group where there is one (Debian's prosody,
	 * postgres), else an account with nothing but that group. */
	if ((pw = getpwnam(o->group)) != NULL && pw->pw_uid != 0) {
		reader_from_user(o, pw);
	} else {
		o->reader_uid = (pw = getpwnam("nobody")) != NULL ? pw->pw_uid : NOBODY_UID;
		snprintf(o->reader, sizeof(o->reader), "a member of %s", o->group);
		o->reader_ngroups = 0;
	}
	o->reader_gid = o->gid;
	(void)add_group(o, o->gid);
	return 0;
}

mode_t
util_owner_key_mode(const util_owner *o)
{
	return o->uid == 0 && o->group_given ? 0640 : 0600;
}

/* --- Can the reader open it? --- */

static int
in_groups(const util_owner *o, gid_t g)
{
	if (g == o->reader_gid)
		return 1;
	for (int i = 0; i < o->reader_ngroups; i++)
		if (o->reader_groups[i] == g)
			return 1;
	return 0;
}

/* The class bits (owner, group, other) that apply to the reader. */
static int
allowed(const util_owner *o, const struct stat *st, int want_r, int want_x)
{
	mode_t m = st->st_mode;
	int shift = st->st_uid == o->reader_uid ? 6 : in_groups(o, st->st_gid) ? 3 : 0;
	int bits = (int)(m >> shift) & 7;

	return (!want_r || (bits & 4)) && (!want_x || (bits & 1));
}

int
util_owner_can_read_computed(const util_owner *o, const char *path, char *why, size_t len)
{
	char real[PATH_MAX], prefix[PATH_MAX];
	struct stat st;

	if (realpath(path, real) == NULL) {
		snprintf(why, len, "%s", strerror(errno));
		return -1;
	}
	if (o->reader_uid == 0)
		return 1; /* root may read and search anything */
	/* Each directory on the way, "/" first, must let the reader search it. */
	for (size_t i = 0; real[i] != '\0'; i++) {
		if (real[i] != '/')
			continue;
		snprintf(prefix, sizeof(prefix), "%.*s", (int)(i == 0 ? 1 : i), real);
		if (stat(prefix, &st) != 0) {
			snprintf(why, len, "%s: %s", prefix, strerror(errno));
			return -1;
		}
		if (!allowed(o, &st, 0, 1)) {
			snprintf(why, len, "the directory %s (uid %u, gid %u, mode %04o) does not let "
			    "%s through", prefix, (unsigned)st.st_uid, (unsigned)st.st_gid,
			    (unsigned)(st.st_mode & 07777), o->reader);
			return 0;
		}
	}
	if (stat(real, &st) != 0) {
		snprintf(why, len, "%s", strerror(errno));
		return -1;
	}
	if (!allowed(o, &st, 1, 0)) {
		snprintf(why, len, "its mode %04o (uid %u, gid %u) gives %s no read access",
		    (unsigned)(st.st_mode & 07777), (unsigned)st.st_uid, (unsigned)st.st_gid,
		    o->reader);
		return 0;
	}
	return 1;
}

/* As root: the kernel answers, with every rule it applies (ACLs, the x bit
 * of each directory, capabilities), for a child that has become the reader. */
static int
can_read_as(const util_owner *o, const char *path, char *why, size_t len)
{
	pid_t pid;
	int status, fd;

	if ((pid = fork()) < 0) {
		snprintf(why, len, "fork: %s", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		if (setgroups((size_t)o->reader_ngroups, o->reader_groups) != 0 ||
		    setgid(o->reader_gid) != 0 || setuid(o->reader_uid) != 0)
			_exit(255);
		/* O_NONBLOCK: a FIFO must not hold the child. */
		fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
		_exit(fd >= 0 ? 0 : (errno & 0xff));
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR) {
			snprintf(why, len, "waitpid: %s", strerror(errno));
			return -1;
		}
	if (!WIFEXITED(status) || WEXITSTATUS(status) == 255) {
		snprintf(why, len, "could not become uid %u to try", (unsigned)o->reader_uid);
		return -1;
	}
	if (WEXITSTATUS(status) == 0)
		return 1;
	snprintf(why, len, "opening it as %s (uid %u, gid %u) fails: %s", o->reader,
	    (unsigned)o->reader_uid, (unsigned)o->reader_gid, strerror(WEXITSTATUS(status)));
	return WEXITSTATUS(status) == EACCES || WEXITSTATUS(status) == EPERM ? 0 : -1;
}

int
util_owner_can_read(const util_owner *o, const char *path, char *why, size_t len)
{
	why[0] = '\0';
	if (geteuid() == 0)
		return can_read_as(o, path, why, len);
	return util_owner_can_read_computed(o, path, why, len);
}
