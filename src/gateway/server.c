#define _GNU_SOURCE
/* The master process: owns the listening sockets, builds runtimes, forks
 * one worker process per generation (its threads are the workers), serves
 * the status endpoint and reloads on SIGHUP.
 *
 * One listening socket per listen address, without SO_REUSEPORT: the
 * address is tlsgate's alone (a second tlsgate, or any program, gets
 * "address in use"), and every worker thread of every generation accepts
 * from the same socket, so a reload keeps it and nothing queued is lost.
 *
 * Reload is build-then-swap: a complete new runtime (and any new sockets)
 * is built first; on any failure the old runtime keeps serving and the
 * error shows on /healthz and /metrics. On success a new generation of
 * workers starts on the new runtime, then the old generation gets SIGUSR1,
 * stops accepting and finishes its connections on the old contexts. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libgen.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "gateway/notify.h"
#include "gateway/status.h"
#include "gateway/tickets.h"
#include "gateway/tls_client.h"
#include "gateway/tls_engine.h"
#include "gateway/worker.h"
#include "tlsgate/pki.h"

#define STATUS_CLIENTS 16
#define STATUS_SECS 5.0     /* to send a request and read the answer */
#define RESPAWN_SECS 1.0
#define TICK_SECS 1.0 /* --watch looks at its files, and CRLs at the clock */
#define WATCH_MAX (GW_MAX_LISTENERS * 8)
/* inotify: a change is read this long after the directory's last event,
 * so a file still being written is not read half done. */
#define WATCH_SETTLE_SECS 0.2

struct lsock {
	char key[256];   /* the listen string, as configured */
	int fd;
	int keep;        /* used by the runtime being committed */
	/* A unix socket's file, removed when the socket closes if it is
	 * still the one we made (same device and inode). */
	char path[UTIL_UNIX_PATH_MAX];
	dev_t dev;
	ino_t ino;
};

/* A generation's worker process; its thread j writes metrics slot
 * block * GW_MAX_WORKERS + j. */
struct wproc {
	pid_t pid;
	int block;
	unsigned long gen;
};

/* A file --watch looks at: what stat says of it (following symlinks, so a
 * link switched to a new target counts), or the errno. A file replaced by
 * rename has a new inode; one rewritten in place a new mtime or size. */
struct wfile {
	char path[512];
	char what[160]; /* "listener web, crl" */
	int err;
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime, ctime;
};

struct sclient {
	ev_io io;
	ev_timer timer;
	int fd;
	ev_tstamp since;
	size_t n;
	char req[GW_STATUS_REQ_MAX];
	char *out;       /* the answer, once the request is read */
	size_t outlen, sent;
};

struct master {
	struct ev_loop *loop;
	const gw_config *cfg;  /* from the command line */
	gw_config *file_cfg;   /* the last good re-read of cfg->path */
	struct gw_runtime *rt;
	unsigned long nworkers, gen;
	struct gw_metrics *metrics;
	struct lsock socks[2 * GW_MAX_LISTENERS];
	size_t nsocks;
	struct wproc procs[GW_GENERATIONS];
	unsigned long reloads_ok, reloads_failed;
	char last_error[TG_ERR_MSG_MAX];
	int status_fd;
	ev_io status_w;
	struct sclient *sclients[STATUS_CLIENTS];
	struct gw_log_limit status_full_log;
	ev_signal sighup, sigterm, sigint, sigquit;
	ev_child child;
	ev_timer respawn;
	ev_timer switch_w;      /* waits for old workers to stop accepting */
	ev_timer tick;          /* every TICK_SECS: --watch, CRLs' nextUpdate */
	ev_timer rotate;        /* --ticket-key-rotate: the process's ticket keys */
	struct wfile *watch;    /* --watch: the files of the configuration serving */
	size_t nwatch;
	int watch_pending;      /* a change seen: reload once a tick sees no more */
	int ino_fd;             /* inotify on the watched files' directories; -1: none */
	int ino_wd[2 * WATCH_MAX];
	size_t nino_wd;
	ev_io ino_w;
	ev_timer settle;        /* WATCH_SETTLE_SECS after the last inotify event */
	int ino_warned;         /* a directory inotify could not watch was logged */
	time_t crl_checked;     /* CRLs that expired up to here were logged */
	ev_tstamp switch_deadline;
	unsigned long switches_pending;
	int stopping;
};

static void sclient_free(struct master *m, struct sclient *c);

/* --- Listening sockets --- */

/* SO_REUSEADDR only lets us bind over connections of an earlier run still
 * in TIME_WAIT; Linux never lets it bind a second listener to an address.
 * SO_REUSEPORT would, for any process of the same user: never set it. */
static int
open_listen(const struct sockaddr_storage *ss, socklen_t len, const char *what, tg_err *err)
{
	int one = 1;
	int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return tg_err_set(err, TG_ERR_IO, "cannot create a socket for %s: %s", what, strerror(errno));
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)ss, len) != 0 || listen(fd, 4096) != 0) {
		int e = errno;
		close(fd);
		if (e == EADDRINUSE)
			return tg_err_set(err, TG_ERR_IO,
			    "cannot listen on %s: address in use: another program (or another tlsgate) "
			    "listens there; stop it or pick another address (`ss -ltnp` shows who)", what);
		return tg_err_set(err, TG_ERR_IO, "cannot listen on %s: %s%s", what, strerror(e),
		    e == EACCES ? " (ports below 1024 need root or CAP_NET_BIND_SERVICE)" : "");
	}
	return fd;
}

/* A socket file left by a gateway that did not exit cleanly is in the
 * way: one nobody answers on (ECONNREFUSED) is removed; one with a
 * listener behind it is "address in use"; anything that is not a socket
 * (a regular file, a directory) is never removed. */
static int
unix_clear_stale(const struct sockaddr_un *un, socklen_t len, const char *what, tg_err *err)
{
	struct stat st;
	int fd, rc, e;

	if (lstat(un->sun_path, &st) != 0)
		return errno == ENOENT ? 0 :
		    tg_err_set(err, TG_ERR_IO, "cannot listen on %s: %s: %s", what, un->sun_path,
		    strerror(errno));
	if (!S_ISSOCK(st.st_mode))
		return tg_err_set(err, TG_ERR_IO,
		    "cannot listen on %s: %s exists and is not a socket (%s); tlsgate does not "
		    "remove it: move it away or pick another path", what, un->sun_path,
		    S_ISREG(st.st_mode) ? "a regular file" : S_ISDIR(st.st_mode) ? "a directory" :
		    "another kind of file");
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return tg_err_set(err, TG_ERR_IO, "cannot create a socket for %s: %s", what,
		    strerror(errno));
	rc = connect(fd, (const struct sockaddr *)un, len);
	e = errno;
	close(fd);
	if (rc == 0)
		return tg_err_set(err, TG_ERR_IO,
		    "cannot listen on %s: address in use: another program (or another tlsgate) "
		    "listens on %s; stop it or pick another path (`ss -lxp` shows who)", what,
		    un->sun_path);
	if (e != ECONNREFUSED)
		return tg_err_set(err, TG_ERR_IO, "cannot listen on %s: cannot tell whether %s is "
		    "in use: %s", what, un->sun_path, strerror(e));
	if (unlink(un->sun_path) != 0)
		return tg_err_set(err, TG_ERR_IO, "cannot listen on %s: cannot remove the stale "
		    "socket %s: %s", what, un->sun_path, strerror(errno));
	gw_log("listen %s: removed a stale socket file nobody listened on", what);
	return 0;
}

/* The directory a socket goes into must be one only root and we can
 * change: whoever can rename entries there can swap the socket for a
 * symlink between bind and chmod, or for a socket of their own later (and
 * read what clients send to it). So refused: a directory owned by another
 * user, or writable by its group or by all without the sticky bit (which
 * keeps others from renaming or removing our socket). Clients need no write
 * access to the directory, only search access and write access to the
 * socket. */
static int
unix_dir_check(const char *path, const char *what, tg_err *err)
{
	static const struct {
		mode_t bit;
		const char *who;
	} writers[] = {
		{ S_IWOTH, "all users" },
		{ S_IWGRP, "its group" },
	};
	char copy[sizeof(((struct sockaddr_un *)0)->sun_path)];
	const char *dir;
	struct stat st;
	int fd, rc;

	snprintf(copy, sizeof(copy), "%s", path);
	dir = dirname(copy);
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return tg_err_set(err, TG_ERR_IO, "cannot listen on %s: directory %s: %s%s", what, dir,
		    strerror(errno), errno == ENOENT ? " (create the directory first)" : "");
	rc = fstat(fd, &st);
	close(fd);
	if (rc != 0)
		return tg_err_set(err, TG_ERR_IO, "cannot listen on %s: directory %s: %s", what, dir,
		    strerror(errno));
	if (st.st_uid != 0 && st.st_uid != geteuid())
		return tg_err_set(err, TG_ERR_CONFIG,
		    "cannot listen on %s: directory %s belongs to another user (uid %u), who could "
		    "replace the socket; put it in a directory of root's or this user's (uid %u)",
		    what, dir, (unsigned)st.st_uid, (unsigned)geteuid());
	for (size_t i = 0; i < sizeof(writers) / sizeof(writers[0]); i++)
		if ((st.st_mode & writers[i].bit) && !(st.st_mode & S_ISVTX))
			return tg_err_set(err, TG_ERR_CONFIG,
			    "cannot listen on %s: directory %s is writable by %s (mode %04o, no "
			    "sticky bit), who could replace the socket; use a directory only its "
			    "owner can write (chmod go-w %s: clients need no write access to it), or "
			    "set its sticky bit (chmod +t %s)", what, dir, writers[i].who,
			    (unsigned)(st.st_mode & 07777), dir, dir);
	return 0;
}

/* Mode and owner given to the file bind made, through a descriptor of it:
 * chmod and chown by path follow a symlink that someone able to write the
 * directory put in its place meanwhile (the socket's mode onto
 * /etc/shadow). Linux has no fchmod for an O_PATH descriptor; its
 * /proc/self/fd link names the inode itself. */
static int
unix_set_perms(const char *path, mode_t mode, uid_t uid, gid_t gid, struct stat *st)
{
	char proc[64];
	int fd = open(path, O_PATH | O_NOFOLLOW | O_CLOEXEC), rc = -1, e;

	if (fd < 0)
		return -1;
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	if (fstat(fd, st) != 0)
		goto out;
	if (!S_ISSOCK(st->st_mode) || st->st_uid != geteuid()) {
		errno = EEXIST; /* not the socket bind made: someone swapped it */
		goto out;
	}
	if (chmod(proc, mode) != 0 ||
	    ((uid != (uid_t)-1 || gid != (gid_t)-1) &&
	    fchownat(fd, "", uid, gid, AT_EMPTY_PATH) != 0) || fstat(fd, st) != 0)
		goto out;
	rc = 0;
out:
	e = errno;
	close(fd);
	errno = e;
	return rc;
}

/* Bound under a umask that leaves the file to its owner alone, then given
 * its mode and owner, and only then listening: no moment in which a wider
 * circle could connect. */
static int
open_listen_unix(const struct gw_listener_rt *l, struct lsock *s, tg_err *err)
{
	const struct sockaddr_un *un = (const struct sockaddr_un *)&l->listen_addr;
	const char *what = l->listen_str;
	mode_t old, mode;
	struct stat st;
	int fd, rc, e;

	if (unix_dir_check(un->sun_path, what, err) != 0 ||
	    unix_clear_stale(un, l->listen_len, what, err) != 0)
		return -1;
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0)
		return tg_err_set(err, TG_ERR_IO, "cannot create a socket for %s: %s", what,
		    strerror(errno));
	old = umask(0177);
	rc = bind(fd, (const struct sockaddr *)un, l->listen_len);
	e = errno;
	umask(old);
	if (rc != 0) {
		close(fd);
		return tg_err_set(err, TG_ERR_IO, "cannot listen on %s: %s%s", what, strerror(e),
		    e == ENOENT ? " (create the directory first)" : "");
	}
	mode = l->unix_mode >= 0 ? (mode_t)l->unix_mode : 0666 & ~old;
	if (unix_set_perms(un->sun_path, mode, l->unix_uid, l->unix_gid, &st) != 0 ||
	    listen(fd, 4096) != 0) {
		e = errno;
		close(fd);
		if (e == EEXIST)
			return tg_err_set(err, TG_ERR_IO, "cannot listen on %s: %s is no longer the "
			    "socket just bound (replaced by another user?); left as it is", what,
			    un->sun_path);
		unlink(un->sun_path);
		return tg_err_set(err, TG_ERR_IO, "cannot listen on %s: setting mode %04o%s: %s%s",
		    what, (unsigned)mode, l->unix_uid != (uid_t)-1 ? " and owner" : "", strerror(e),
		    e == EPERM ? " (giving a socket to another user takes root or CAP_CHOWN)" : "");
	}
	snprintf(s->path, sizeof(s->path), "%s", un->sun_path);
	s->dev = st.st_dev;
	s->ino = st.st_ino;
	return fd;
}

static struct lsock *
find_sock(struct master *m, const char *key)
{
	for (size_t i = 0; i < m->nsocks; i++)
		if (strcmp(m->socks[i].key, key) == 0)
			return &m->socks[i];
	return NULL;
}

static void
close_sock(struct master *m, size_t i)
{
	struct stat st;

	close(m->socks[i].fd);
	if (m->socks[i].path[0] != '\0' && lstat(m->socks[i].path, &st) == 0 &&
	    st.st_dev == m->socks[i].dev && st.st_ino == m->socks[i].ino)
		unlink(m->socks[i].path);
	m->socks[i] = m->socks[--m->nsocks];
}

/* Opens the sockets rt needs that are not open yet. On failure closes only
 * what it opened, so the old runtime's sockets stay untouched. */
static int
open_sockets(struct master *m, const struct gw_runtime *rt, tg_err *err)
{
	size_t first_new = m->nsocks;

	for (size_t i = 0; i < m->nsocks; i++)
		m->socks[i].keep = 0;
	for (size_t i = 0; i < rt->nl; i++) {
		struct lsock *s = find_sock(m, rt->l[i].listen_str);
		if (s != NULL) {
			s->keep = 1;
			continue;
		}
		if (m->nsocks == sizeof(m->socks) / sizeof(m->socks[0])) {
			tg_err_set(err, TG_ERR_CONFIG, "too many listen addresses");
			goto fail;
		}
		s = &m->socks[m->nsocks];
		memset(s, 0, sizeof(*s));
		snprintf(s->key, sizeof(s->key), "%s", rt->l[i].listen_str);
		s->keep = 1;
		s->fd = rt->l[i].listen_addr.ss_family == AF_UNIX ?
		    open_listen_unix(&rt->l[i], s, err) :
		    open_listen(&rt->l[i].listen_addr, rt->l[i].listen_len, s->key, err);
		if (s->fd < 0) {
			tg_err_prefix(err, "listener %s", rt->l[i].name);
			goto fail;
		}
		m->nsocks++;
	}
	return 0;
fail:
	while (m->nsocks > first_new)
		close_sock(m, m->nsocks - 1);
	return -1;
}

static void
close_unused_sockets(struct master *m)
{
	for (size_t i = m->nsocks; i-- > 0;)
		if (!m->socks[i].keep)
			close_sock(m, i);
}

/* --- Workers --- */

static void
child_setup(struct master *m, pid_t master)
{
	ev_loop_fork(m->loop);
	ev_signal_stop(m->loop, &m->sighup);
	ev_signal_stop(m->loop, &m->sigterm);
	ev_signal_stop(m->loop, &m->sigint);
	ev_signal_stop(m->loop, &m->sigquit);
	ev_child_stop(m->loop, &m->child);
	ev_timer_stop(m->loop, &m->respawn);
	ev_timer_stop(m->loop, &m->switch_w);
	ev_timer_stop(m->loop, &m->tick);
	ev_timer_stop(m->loop, &m->rotate);
	ev_timer_stop(m->loop, &m->settle);
	if (m->ino_fd >= 0) {
		ev_io_stop(m->loop, &m->ino_w);
		close(m->ino_fd);
	}
	if (m->status_fd >= 0) {
		ev_io_stop(m->loop, &m->status_w);
		close(m->status_fd);
	}
	for (int i = 0; i < STATUS_CLIENTS; i++)
		if (m->sclients[i] != NULL)
			sclient_free(m, m->sclients[i]);
	/* Ctrl-C and SIGHUP are the master's business; a worker whose master
	 * is gone (even killed) stops too. */
	signal(SIGINT, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	prctl(PR_SET_PDEATHSIG, SIGQUIT);
	/* The master died before the line above: this process was handed to
	 * init or to a subreaper, whichever pid that is. */
	if (getppid() != master)
		_exit(0);
	/* Keep exactly the sockets of this runtime's listeners: a stray copy
	 * of any other would keep a removed listener completing handshakes
	 * into a backlog nobody accepts from. */
	for (size_t i = 0; i < m->nsocks; i++) {
		int used = 0;
		for (size_t k = 0; k < m->rt->nl && !used; k++)
			used = strcmp(m->socks[i].key, m->rt->l[k].listen_str) == 0;
		if (!used)
			close(m->socks[i].fd);
	}
}

/* The socket of listener i, at fds[i]; the worker threads share them. */
static int *
listener_fds(struct master *m)
{
	size_t nl = m->rt->nl;
	int *fds = calloc(nl ? nl : 1, sizeof(*fds));

	for (size_t i = 0; fds != NULL && i < nl; i++)
		fds[i] = find_sock(m, m->rt->l[i].listen_str)->fd;
	return fds;
}

static int
free_block(const struct master *m)
{
	for (int b = 0; b < GW_GENERATIONS; b++) {
		int used = 0;
		for (int i = 0; i < GW_GENERATIONS && !used; i++)
			used = m->procs[i].pid > 0 && m->procs[i].block == b;
		if (!used)
			return b;
	}
	return -1;
}

static struct gw_mslot *
block_slots(struct master *m, int block)
{
	return &m->metrics->slot[block * GW_MAX_WORKERS];
}

static int
spawn(struct master *m)
{
	int block = free_block(m), p;
	pid_t pid, master = getpid();

	for (p = 0; p < GW_GENERATIONS && m->procs[p].pid > 0; p++)
		;
	if (block < 0 || p == GW_GENERATIONS) {
		gw_log_warn("too many worker processes (old ones still draining); not starting another");
		return -1;
	}
	if ((pid = fork()) < 0) {
		gw_log_err("cannot start a worker process: %s", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		int *fds;
		child_setup(m, master);
		if ((fds = listener_fds(m)) == NULL)
			_exit(1);
		_exit(gw_worker_run(m->rt, m->cfg, block_slots(m, block), m->nworkers, fds) == 0 ? 0 : 1);
	}
	m->procs[p] = (struct wproc){ pid, block, m->gen };
	return 0;
}

/* Every older generation, also one still finishing from an earlier reload:
 * each re-checks its connections against the configuration just loaded. */
static void
drain_older_for_reload(struct master *m)
{
	for (int i = 0; i < GW_GENERATIONS; i++)
		if (m->procs[i].pid > 0 && m->procs[i].gen < m->gen)
			sigqueue(m->procs[i].pid, SIGUSR1, (union sigval){ .sival_int = GW_DRAIN_RELOAD });
}

static void
spawn_missing(struct master *m)
{
	int have = 0;

	for (int i = 0; i < GW_GENERATIONS && !have; i++)
		have = m->procs[i].pid > 0 && m->procs[i].gen == m->gen;
	if (!have)
		(void)spawn(m);
}

static void
on_respawn(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct master *m = t->data;

	if (!m->stopping)
		spawn_missing(m);
}

static void
on_child(struct ev_loop *loop, ev_child *w, int revents)
{
	struct master *m = w->data;

	for (int i = 0; i < GW_GENERATIONS; i++) {
		struct wproc *p = &m->procs[i];
		if (p->pid != w->rpid)
			continue;
		/* A crashed worker cannot zero its own gauges. */
		for (int j = 0; j < GW_MAX_WORKERS; j++) {
			atomic_store(&block_slots(m, p->block)[j].conns_active, 0);
			atomic_store(&block_slots(m, p->block)[j].accepting, 0);
		}
		p->pid = 0;
		if (p->gen == m->gen && !m->stopping) {
			gw_log_err("worker process %ld exited (status %d); starting a new one in %.0fs",
			    (long)w->rpid, w->rstatus, RESPAWN_SECS);
			if (!ev_is_active(&m->respawn)) {
				ev_timer_set(&m->respawn, RESPAWN_SECS, 0.);
				ev_timer_start(loop, &m->respawn);
			}
		}
		if (m->stopping) {
			int left = 0;
			for (int j = 0; j < GW_GENERATIONS; j++)
				left += m->procs[j].pid > 0;
			if (left == 0)
				ev_break(loop, EVBREAK_ALL);
		}
		return;
	}
}

/* --- Watching files (--watch) --- */

static void
wfile_stat(struct wfile *w)
{
	struct stat st;

	w->err = stat(w->path, &st) == 0 ? 0 : errno;
	w->dev = w->err ? 0 : st.st_dev;
	w->ino = w->err ? 0 : st.st_ino;
	w->size = w->err ? 0 : st.st_size;
	w->mtime = w->err ? (struct timespec){ 0, 0 } : st.st_mtim;
	w->ctime = w->err ? (struct timespec){ 0, 0 } : st.st_ctim;
}

static int
wfile_same(const struct wfile *a, const struct wfile *b)
{
	return a->err == b->err && a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
	    a->mtime.tv_sec == b->mtime.tv_sec && a->mtime.tv_nsec == b->mtime.tv_nsec &&
	    a->ctime.tv_sec == b->ctime.tv_sec && a->ctime.tv_nsec == b->ctime.tv_nsec;
}

struct watch_list {
	struct wfile *f;
	size_t n;
};

static int
watch_add(const char *listener, const char *option, const char *path, void *arg)
{
	struct watch_list *wl = arg;
	struct wfile *w;

	if (wl->n == WATCH_MAX)
		return 0; /* SIGHUP still reloads the rest */
	w = &wl->f[wl->n++];
	memset(w, 0, sizeof(*w));
	snprintf(w->path, sizeof(w->path), "%s", path);
	snprintf(w->what, sizeof(w->what), "listener %s, %s", listener, option);
	return 0;
}

/* inotify watches the directories of the watched files, not the files: a
 * file replaced by rename (`tlsgate crl`, config management, a switched
 * symlink) is a new inode that a watch on the old one would never report;
 * a certificates directory is watched itself too. An event only says
 * "look now": the files' states decide, as on the tick, so events for
 * other files of a directory cost one stat per watched file. */
static void
ino_add(struct master *m, const char *path, uint32_t only_dir)
{
	const uint32_t mask = IN_CLOSE_WRITE | IN_MODIFY | IN_ATTRIB | IN_CREATE | IN_DELETE |
	    IN_MOVED_FROM | IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF;
	size_t i = 0;
	int wd;

	if (m->nino_wd == sizeof(m->ino_wd) / sizeof(m->ino_wd[0]))
		return;
	if ((wd = inotify_add_watch(m->ino_fd, path, mask | only_dir)) < 0) {
		/* Gone, not a directory, no room (fs.inotify.max_user_watches):
		 * the once-a-second look still covers the file. */
		if (!(only_dir && errno == ENOTDIR) && !m->ino_warned) {
			m->ino_warned = 1;
			gw_log_warn("watch: inotify cannot watch %s: %s; changes there are seen by the "
			    "look every second instead", path, strerror(errno));
		}
		return;
	}
	while (i < m->nino_wd && m->ino_wd[i] != wd)
		i++;
	if (i == m->nino_wd)
		m->ino_wd[m->nino_wd++] = wd;
}

static void
ino_rewatch(struct master *m)
{
	if (m->ino_fd < 0)
		return;
	for (size_t i = 0; i < m->nino_wd; i++)
		(void)inotify_rm_watch(m->ino_fd, m->ino_wd[i]);
	m->nino_wd = 0;
	for (size_t i = 0; i < m->nwatch; i++) {
		char dir[sizeof(m->watch[i].path)];
		snprintf(dir, sizeof(dir), "%s", m->watch[i].path);
		ino_add(m, dirname(dir), 0);
		ino_add(m, m->watch[i].path, IN_ONLYDIR);
	}
}

/* Every event restarts the settle timer: a change is looked at once its
 * directory has been quiet for WATCH_SETTLE_SECS. */
static void
on_ino(struct ev_loop *loop, ev_io *w, int revents)
{
	struct master *m = w->data;
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	int any = 0;
	ssize_t n;

	(void)revents;
	while ((n = read(m->ino_fd, buf, sizeof(buf))) > 0)
		any = 1;
	if (n < 0 && errno != EAGAIN && errno != EINTR) {
		gw_log_warn("watch: reading inotify failed: %s; changes are seen by the look every "
		    "second instead", strerror(errno));
		ev_io_stop(loop, w);
		return;
	}
	if (any)
		ev_timer_again(loop, &m->settle);
}

static void
ino_start(struct master *m)
{
	if ((m->ino_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) < 0) {
		gw_log_warn("watch: inotify unavailable: %s (fs.inotify.max_user_instances?); "
		    "looking at the files every second instead", strerror(errno));
		return;
	}
	ev_io_init(&m->ino_w, on_ino, m->ino_fd, EV_READ);
	m->ino_w.data = m;
	ev_io_start(m->loop, &m->ino_w);
}

/* The files of cfg become the watched set. restat: take every file's state
 * now (a reload is about to read them); else keep the state already known
 * of paths watched before, so a change made while a reload ran is not
 * missed. */
static void
watch_set(struct master *m, const gw_config *cfg, int restat)
{
	struct watch_list wl = { calloc(WATCH_MAX, sizeof(struct wfile)), 0 };

	if (wl.f == NULL)
		return; /* keeps the old set */
	(void)gw_config_files(cfg, watch_add, &wl);
	for (size_t i = 0; i < cfg->nl; i++)
		for (size_t k = 0; k < cfg->l[i]->ticket_keys.n; k++)
			(void)watch_add(cfg->l[i]->name, "ticket-keys", cfg->l[i]->ticket_keys.v[k], &wl);
	for (size_t i = 0; i < wl.n; i++) {
		size_t j = 0;
		while (!restat && j < m->nwatch && strcmp(m->watch[j].path, wl.f[i].path) != 0)
			j++;
		if (restat || j == m->nwatch) {
			wfile_stat(&wl.f[i]);
			continue;
		}
		wl.f[i].err = m->watch[j].err;
		wl.f[i].dev = m->watch[j].dev;
		wl.f[i].ino = m->watch[j].ino;
		wl.f[i].size = m->watch[j].size;
		wl.f[i].mtime = m->watch[j].mtime;
		wl.f[i].ctime = m->watch[j].ctime;
	}
	free(m->watch);
	m->watch = wl.f;
	m->nwatch = wl.n;
	ino_rewatch(m);
}

/* The configuration the master serves: the last good re-read of the file,
 * or the command line's. */
static const gw_config *
serving_cfg(const struct master *m)
{
	return m->file_cfg != NULL ? m->file_cfg : m->cfg;
}

static void reload(struct master *m);

/* Takes every watched file's state; 1 if one changed since last seen (the
 * first change of a quiet spell is logged). */
static int
watch_scan(struct master *m)
{
	int changed = 0;

	for (size_t i = 0; i < m->nwatch; i++) {
		struct wfile now = m->watch[i];
		wfile_stat(&now);
		if (wfile_same(&now, &m->watch[i]))
			continue;
		if (!changed && !m->watch_pending)
			gw_log("watch: %s (%s) %s; reloading once it settles", m->watch[i].path,
			    m->watch[i].what, now.err ? strerror(now.err) : "changed");
		m->watch[i] = now;
		changed = 1;
	}
	return changed;
}

/* The tick: a change is applied once a whole tick passes without another,
 * so a file copied in several writes (or several files replaced one after
 * the other) makes one reload, of the finished state. It catches what
 * inotify does not report (a symlink's target in another directory, a
 * directory it could not watch, a network file system). */
static void
watch_tick(struct master *m)
{
	if (watch_scan(m)) {
		m->watch_pending = 1;
		return;
	}
	if (m->watch_pending)
		reload(m);
}

/* inotify's path: the directories have been quiet for WATCH_SETTLE_SECS. */
static void
on_settle(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct master *m = t->data;

	(void)loop;
	(void)revents;
	if (m->stopping)
		return;
	if (watch_scan(m) || m->watch_pending)
		reload(m);
}

/* A CRL whose nextUpdate passes while it serves is logged once. */
static void
crl_expiry_tick(struct master *m, time_t now)
{
	for (size_t i = 0; i < m->rt->nl; i++) {
		size_t n;
		const struct gw_tls_crlinfo *ci = gw_tls_verifier_crls(m->rt->l[i].verifier, &n);
		for (size_t j = 0; j < n; j++)
			if (ci[j].next_update != 0 && ci[j].next_update <= now &&
			    ci[j].next_update > m->crl_checked)
				gw_tls_crl_warn_expired(&ci[j], m->rt->l[i].name);
	}
	m->crl_checked = now;
}

static void
on_tick(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct master *m = t->data;

	if (m->stopping)
		return;
	crl_expiry_tick(m, time(NULL));
	if (m->cfg->watch)
		watch_tick(m);
}

/* The process's ticket keys: the workers of every generation read them
 * from shared memory, so a reload keeps them and only this timer changes
 * them. */
static void
on_rotate(struct ev_loop *loop, ev_timer *t, int revents)
{
	tg_err err;

	(void)loop;
	(void)revents;
	tg_err_clear(&err);
	if (gw_ticket_ring_rotate(gw_ticket_ring_get(), &err) != 0)
		gw_log_err("ticket keys: %s; the current key stays in use", err.msg);
	else
		gw_log("ticket keys: rotated; the previous key decrypts for %gs more",
		    t->repeat);
}

/* --- Reload --- */

static int
build_next(struct master *m, gw_config **ncfg, struct gw_runtime **nrt, tg_err *err)
{
	const gw_config *use = m->cfg;

	*ncfg = NULL;
	*nrt = NULL;
	if (m->cfg->path != NULL) {
		if ((*ncfg = gw_config_new()) == NULL)
			return tg_err_set(err, TG_ERR_INTERNAL, "out of memory");
		if (gw_config_load(*ncfg, m->cfg->path, err) != 0 ||
		    gw_config_validate(*ncfg, err) != 0)
			return -1;
		if ((*ncfg)->workers != 0 && (*ncfg)->workers != m->nworkers)
			gw_log("reload: the worker count changes only on restart; keeping %lu",
			    m->nworkers);
		if ((*ncfg)->ticket_key_rotate != m->cfg->ticket_key_rotate && m->cfg->ticket_key_rotate > 0)
			gw_log("reload: the ticket-key rotation changes only on restart; keeping %gs",
			    m->cfg->ticket_key_rotate);
		else if ((*ncfg)->ticket_key_rotate != m->cfg->ticket_key_rotate)
			gw_log("reload: the ticket-key rotation changes only on restart; keeping it off "
			    "(sessions in the cache)");
		if (((*ncfg)->status == NULL) != (m->cfg->status == NULL) ||
		    ((*ncfg)->status && strcmp((*ncfg)->status, m->cfg->status) != 0))
			gw_log("reload: the status address changes only on restart; keeping %s",
			    m->cfg->status ? m->cfg->status : "none");
		use = *ncfg;
	}
	if ((*nrt = gw_runtime_build(use, err)) == NULL)
		return -1;
	return open_sockets(m, *nrt, err);
}

/* A reload counts as done once no worker of an older generation accepts:
 * from then on every new handshake meets the new runtime. */
static int
old_generation_accepting(const struct master *m)
{
	for (int i = 0; i < GW_GENERATIONS; i++) {
		const struct wproc *p = &m->procs[i];
		for (int j = 0; p->pid > 0 && p->gen < m->gen && j < GW_MAX_WORKERS; j++)
			if (atomic_load(&m->metrics->slot[p->block * GW_MAX_WORKERS + j].accepting))
				return 1;
	}
	return 0;
}

static void
on_switch(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct master *m = t->data;
	int late = ev_now(loop) > m->switch_deadline;

	if (old_generation_accepting(m) && !late) {
		ev_timer_set(t, 0.01, 0.);
		ev_timer_start(loop, t);
		return;
	}
	if (late)
		gw_log_warn("reload: an old worker did not confirm it stopped accepting within 5s");
	m->reloads_ok += m->switches_pending;
	m->switches_pending = 0;
	gw_log("reload ok: generation %lu serving, older ones finishing their connections", m->gen);
	gw_notify("READY=1\nSTATUS=serving, reloaded (generation %lu)", m->gen);
}

static void
reload(struct master *m)
{
	gw_config *ncfg;
	struct gw_runtime *nrt;
	tg_err err;

	tg_err_clear(&err);
	/* Whatever the trigger, this reload reads the files as they are now. */
	m->watch_pending = 0;
	if (m->cfg->watch)
		watch_set(m, serving_cfg(m), 1);
	gw_log("reload: building the new configuration");
	gw_notify_reloading();
	if (build_next(m, &ncfg, &nrt, &err) != 0) {
		m->reloads_failed++;
		snprintf(m->last_error, sizeof(m->last_error), "%s", err.msg);
		gw_log_err("reload failed, still serving the previous configuration: %s", err.msg);
		gw_notify("READY=1\nSTATUS=reload failed, serving the previous configuration: %s",
		    err.msg);
		gw_runtime_free(nrt);
		gw_config_free(ncfg);
		return;
	}
	/* Commit: new workers first, so the ports never go unserved. */
	gw_runtime_free(m->rt);
	m->rt = nrt;
	m->gen++;
	close_unused_sockets(m); /* the old workers hold their own copies */
	spawn_missing(m);
	drain_older_for_reload(m);
	if (ncfg != NULL) {
		gw_config_free(m->file_cfg);
		m->file_cfg = ncfg;
		if (m->cfg->watch)
			watch_set(m, ncfg, 0);
	}
	m->last_error[0] = '\0';
	m->switches_pending++;
	m->switch_deadline = ev_now(m->loop) + 5.;
	ev_timer_stop(m->loop, &m->switch_w);
	ev_timer_set(&m->switch_w, 0., 0.);
	ev_timer_start(m->loop, &m->switch_w);
}

static void
on_sighup(struct ev_loop *loop, ev_signal *s, int revents)
{
	reload(s->data);
}

/* SIGTERM/SIGINT stop now (workers get SIGQUIT); SIGQUIT stops gracefully,
 * like nginx: workers stop accepting and finish their connections. */
static void
on_stop(struct ev_loop *loop, ev_signal *s, int revents)
{
	struct master *m = s->data;
	int graceful = s->signum == SIGQUIT, left = 0;

	if (m->stopping && graceful)
		return;
	m->stopping = 1;
	gw_notify("STOPPING=1\nSTATUS=stopping");
	gw_log("stopping on signal %d%s", s->signum,
	    graceful ? ": finishing open connections first" : "");
	ev_timer_stop(loop, &m->respawn);
	ev_timer_stop(loop, &m->switch_w);
	ev_timer_stop(loop, &m->tick);
	ev_timer_stop(loop, &m->rotate);
	ev_timer_stop(loop, &m->settle);
	if (m->ino_fd >= 0)
		ev_io_stop(loop, &m->ino_w);
	if (m->status_fd >= 0 && !graceful)
		ev_io_stop(loop, &m->status_w);
	for (int i = 0; i < GW_GENERATIONS; i++) {
		if (m->procs[i].pid > 0) {
			kill(m->procs[i].pid, graceful ? SIGUSR1 : SIGQUIT);
			left++;
		}
	}
	if (left == 0)
		ev_break(loop, EVBREAK_ALL);
}

/* --- Status endpoint --- */

/* A status client is read, answered and closed within STATUS_SECS, and
 * never blocks the loop: its socket is non-blocking, an answer the socket
 * does not take at once waits for it to drain. When all STATUS_CLIENTS
 * slots are taken, the oldest client makes room for the new one, so idle
 * connections cannot lock scrapers out. */
static void
sclient_free(struct master *m, struct sclient *c)
{
	for (int i = 0; i < STATUS_CLIENTS; i++)
		if (m->sclients[i] == c)
			m->sclients[i] = NULL;
	ev_io_stop(m->loop, &c->io);
	ev_timer_stop(m->loop, &c->timer);
	close(c->fd);
	free(c->out);
	free(c);
}

/* Sends what the socket takes; frees the client once all is sent. */
static void
sclient_send(struct master *m, struct sclient *c)
{
	while (c->sent < c->outlen) {
		ssize_t n = send(c->fd, c->out + c->sent, c->outlen - c->sent, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			ev_io_stop(m->loop, &c->io);
			ev_io_set(&c->io, c->fd, EV_WRITE);
			ev_io_start(m->loop, &c->io);
			return;
		}
		if (n <= 0)
			break;
		c->sent += (size_t)n;
	}
	sclient_free(m, c);
}

static void
sclient_respond(struct master *m, struct sclient *c, enum gw_status_route r)
{
	struct gw_status_view v = { m->metrics, m->rt, m->nworkers, m->gen, m->reloads_ok,
		m->reloads_failed, m->last_error };

	if (gw_status_response(&v, r, &c->out, &c->outlen) != 0) {
		sclient_free(m, c);
		return;
	}
	sclient_send(m, c);
}

static void
on_sclient(struct ev_loop *loop, ev_io *io, int revents)
{
	struct sclient *c = io->data;
	struct master *m = ev_userdata(loop);
	enum gw_status_route r;
	ssize_t n;

	if (c->out != NULL) {
		sclient_send(m, c);
		return;
	}
	n = recv(c->fd, c->req + c->n, sizeof(c->req) - c->n, 0);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		sclient_free(m, c);
		return;
	}
	c->n += (size_t)n;
	if ((r = gw_status_route(c->req, c->n)) != GW_STATUS_MORE)
		sclient_respond(m, c, r);
}

static void
on_sclient_timeout(struct ev_loop *loop, ev_timer *t, int revents)
{
	sclient_free(ev_userdata(loop), t->data);
}

static void
on_status_accept(struct ev_loop *loop, ev_io *io, int revents)
{
	struct master *m = io->data;
	struct sclient *c;
	int fd = accept4(m->status_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC), i, oldest = 0;

	if (fd < 0)
		return;
	for (i = 0; i < STATUS_CLIENTS && m->sclients[i] != NULL; i++)
		if (m->sclients[i]->since < m->sclients[oldest]->since)
			oldest = i;
	if (i == STATUS_CLIENTS) {
		gw_log_limited(&m->status_full_log,
		    "status: %d clients open (the most it serves at once); closing the oldest "
		    "to answer a new one", STATUS_CLIENTS);
		sclient_free(m, m->sclients[oldest]);
		i = oldest;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		close(fd);
		return;
	}
	c->fd = fd;
	c->since = ev_now(loop);
	ev_io_init(&c->io, on_sclient, fd, EV_READ);
	c->io.data = c;
	ev_io_start(loop, &c->io);
	ev_timer_init(&c->timer, on_sclient_timeout, STATUS_SECS, 0.);
	c->timer.data = c;
	ev_timer_start(loop, &c->timer);
	m->sclients[i] = c;
}

static int
status_open(struct master *m, tg_err *err)
{
	struct sockaddr_storage ss;
	socklen_t len;

	m->status_fd = -1;
	if (m->cfg->status == NULL)
		return 0;
	if (gw_parse_addr(m->cfg->status, "status", &ss, &len, err) != 0)
		return tg_err_prefix(err, "--status");
	if ((m->status_fd = open_listen(&ss, len, m->cfg->status, err)) < 0)
		return tg_err_prefix(err, "--status");
	ev_io_init(&m->status_w, on_status_accept, m->status_fd, EV_READ);
	m->status_w.data = m;
	ev_io_start(m->loop, &m->status_w);
	return 0;
}

/* --- Entry points --- */

static unsigned long
default_workers(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	if (n < 1)
		return 1;
	return n > GW_MAX_WORKERS ? GW_MAX_WORKERS : (unsigned long)n;
}

static void
master_free(struct master *m)
{
	while (m->nsocks > 0)
		close_sock(m, m->nsocks - 1);
	for (int i = 0; i < STATUS_CLIENTS; i++)
		if (m->sclients[i] != NULL)
			sclient_free(m, m->sclients[i]);
	if (m->status_fd >= 0)
		close(m->status_fd);
	if (m->metrics != NULL)
		munmap(m->metrics, sizeof(*m->metrics));
	gw_runtime_free(m->rt);
	gw_config_free(m->file_cfg);
	free(m->watch);
	if (m->ino_fd >= 0)
		close(m->ino_fd);
	gw_ticket_ring_stop();
}

/* Every connection takes two descriptors; the soft limit a shell gives
 * (often 1024) would cap a gateway at a few hundred, so take the hard one,
 * as HAProxy does. The default max-conns follows from the result. */
static void
raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rlim_t was = rl.rlim_cur;
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
			gw_log_warn("cannot raise the open files limit from %llu: %s",
			    (unsigned long long)was, strerror(errno));
	}
}

static int
master_start(struct master *m, gw_config *cfg, tg_err *err)
{
	m->loop = EV_DEFAULT;
	ev_set_userdata(m->loop, m);
	m->cfg = cfg;
	m->status_fd = -1;
	m->ino_fd = -1;
	m->nworkers = cfg->workers ? cfg->workers : default_workers();
	if (cfg->ticket_key_rotate > 0 && gw_ticket_ring_start(cfg->ticket_key_rotate, err) != 0)
		return -1;
	if ((m->rt = gw_runtime_build(cfg, err)) == NULL)
		return -1;
	m->metrics = mmap(NULL, sizeof(*m->metrics), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (m->metrics == MAP_FAILED) {
		m->metrics = NULL;
		return tg_err_set(err, TG_ERR_INTERNAL, "cannot map shared memory: %s", strerror(errno));
	}
	if (open_sockets(m, m->rt, err) != 0 || status_open(m, err) != 0)
		return -1;
	ev_signal_init(&m->sighup, on_sighup, SIGHUP);
	ev_signal_init(&m->sigterm, on_stop, SIGTERM);
	ev_signal_init(&m->sigint, on_stop, SIGINT);
	ev_signal_init(&m->sigquit, on_stop, SIGQUIT);
	m->sighup.data = m->sigterm.data = m->sigint.data = m->sigquit.data = m;
	ev_signal_start(m->loop, &m->sighup);
	ev_signal_start(m->loop, &m->sigterm);
	ev_signal_start(m->loop, &m->sigint);
	ev_signal_start(m->loop, &m->sigquit);
	ev_child_init(&m->child, on_child, 0, 0);
	m->child.data = m;
	ev_child_start(m->loop, &m->child);
	ev_init(&m->respawn, on_respawn);
	m->respawn.data = m;
	ev_init(&m->switch_w, on_switch);
	m->switch_w.data = m;
	m->crl_checked = time(NULL);
	ev_init(&m->settle, on_settle);
	m->settle.repeat = WATCH_SETTLE_SECS;
	m->settle.data = m;
	if (cfg->watch) {
		ino_start(m);
		watch_set(m, cfg, 1);
	}
	ev_timer_init(&m->tick, on_tick, TICK_SECS, TICK_SECS);
	m->tick.data = m;
	ev_timer_start(m->loop, &m->tick);
	ev_timer_init(&m->rotate, on_rotate, cfg->ticket_key_rotate, cfg->ticket_key_rotate);
	m->rotate.data = m;
	if (cfg->ticket_key_rotate > 0)
		ev_timer_start(m->loop, &m->rotate);
	return 0;
}

/* What a listener does, for the start-up log and --test. */
static void
describe(const struct gw_listener_rt *l, char *out, size_t len)
{
	size_t ncerts = 0;

	if (!l->client) {
		snprintf(out, len, "%s mode, client certs %s", gw_mode_name(l->mode),
		    gw_verify_name(l->verify));
		return;
	}
	(void)gw_listener_certs(l, &ncerts);
	snprintf(out, len, "client mode: TLS to the target, %s%s%s, %s", l->insecure ?
	    "server NOT verified (--insecure)" : "server verified as ", l->verify_name,
	    l->starttls == GW_STARTTLS_POSTGRES ? ", PostgreSQL SSLRequest first" : "",
	    ncerts ? "with a client certificate" : "no client certificate");
}

int
gw_serve(gw_config *cfg, tg_err *err)
{
	struct master m;
	int rc = -1;

	memset(&m, 0, sizeof(m));
	signal(SIGPIPE, SIG_IGN);
	raise_nofile();
	if (master_start(&m, cfg, err) != 0)
		goto out;
	spawn_missing(&m);
	for (size_t i = 0; i < m.rt->nl; i++) {
		char what[400];
		describe(&m.rt->l[i], what, sizeof(what));
		gw_log("listener %s: %s -> %s (%s, max-conns %lu)", m.rt->l[i].name,
		    m.rt->l[i].listen_str, m.rt->l[i].target_str, what, m.rt->l[i].max_conns);
		if (m.rt->l[i].insecure)
			gw_log_warn("WARNING: listener %s: --insecure: the certificate of %s is NOT "
			    "verified; anyone on the way can read and change this traffic. Pass --ca "
			    "with the CA that signed it.", m.rt->l[i].name, m.rt->l[i].target_str);
	}
	gw_log("ready: %lu worker thread%s%s%s%s", m.nworkers, m.nworkers == 1 ? "" : "s",
	    cfg->status ? ", status on " : "",
	    cfg->status ? cfg->status : "",
	    !cfg->watch ? "" : m.ino_fd >= 0 ?
	    ", watching the certificate, key, CA and CRL files (inotify)" :
	    ", watching the certificate, key, CA and CRL files (every second)");
	gw_notify("READY=1\nSTATUS=serving %zu listener%s with %lu worker thread%s", m.rt->nl,
	    m.rt->nl == 1 ? "" : "s", m.nworkers, m.nworkers == 1 ? "" : "s");
	ev_run(m.loop, 0);
	rc = 0;
out:
	master_free(&m);
	return rc;
}

int
gw_config_test(gw_config *cfg, char *report, size_t len, tg_err *err)
{
	struct gw_runtime *rt;
	size_t used = 0;

	report[0] = '\0';
	if (gw_config_validate(cfg, err) != 0 || (rt = gw_runtime_build(cfg, err)) == NULL)
		return -1;
	for (size_t i = 0; i < rt->nl && used < len; i++) {
		size_t n;
		const struct gw_tls_certinfo *ci = gw_listener_certs(&rt->l[i], &n);
		char what[400];
		describe(&rt->l[i], what, sizeof(what));
		used += (size_t)snprintf(report + used, len - used,
		    "listener %s: %s -> %s, %s, %zu certificate%s\n", rt->l[i].name,
		    rt->l[i].listen_str, rt->l[i].target_str, what, n, n == 1 ? "" : "s");
		for (size_t j = 0; j < n && used < len; j++)
			used += (size_t)snprintf(report + used, len - used,
			    "  %s: %s, expires in %lld days\n", ci[j].path, ci[j].subject,
			    (long long)((ci[j].not_after - time(NULL)) / 86400));
		{
			const struct gw_tls_crlinfo *cr = gw_tls_verifier_crls(rt->l[i].verifier, &n);
			for (size_t j = 0; j < n && used < len; j++) {
				char when[32] = "none";
				if (cr[j].next_update != 0)
					pki_time_format(cr[j].next_update, when, sizeof(when));
				used += (size_t)snprintf(report + used, len - used,
				    "  CRL %s: %s, number %ld, next update %s%s\n", cr[j].path,
				    cr[j].issuer, cr[j].number, when,
				    cr[j].next_update != 0 && cr[j].next_update <= time(NULL) ?
				    " (past)" : "");
			}
		}
	}
	gw_runtime_free(rt);
	return 0;
}
