#define _GNU_SOURCE
/* A worker process: N threads, all watching the process's listening
 * sockets (one per listener, shared), each running the connections it
 * accepted on one libev loop. Only the master
 * steers the process: SIGUSR1 drains (stop accepting, finish the
 * connections: how old workers retire after a reload), SIGQUIT stops at
 * once. The signals are blocked in every thread and taken by the process's
 * first thread with sigwaitinfo(), which passes them on to the loops as
 * ev_async wake-ups. SIGTERM/SIGINT sent to the whole process group (Ctrl-C,
 * timeout(1)) are left to the master. */
#include <errno.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "gateway/tls_engine.h"
#include "gateway/worker.h"

#define ACCEPT_BATCH 64
#define POOL_MAX 256
#define BACKOFF_SECS 0.1
#define TICK_SECS 1.0

/* What the threads of the process share besides the runtime. */
struct gw_worker_shared {
	const int *lfd;          /* per listener */
	size_t nl;
	atomic_ulong undrained;  /* threads still watching lfd */
	atomic_int closed;       /* lfd closed (the last thread to drain does it) */
};

const char *const gw_hs_names[GW_HS_N] = {
	"ok", "no_cert", "bad_cert", "denied", "failed", "timeout",
};

/* Freed buffers are chained through their first bytes. */
char *
gw_buf_get(struct gw_worker *w)
{
	char *p = w->pool;

	if (p == NULL)
		return malloc(GW_BUF_SIZE);
	memcpy(&w->pool, p, sizeof(void *));
	if (--w->npool < w->pool_low)
		w->pool_low = w->npool;
	return p;
}

void
gw_buf_put(struct gw_worker *w, char *p)
{
	if (w->npool >= POOL_MAX) {
		free(p);
		return;
	}
	memcpy(p, &w->pool, sizeof(void *));
	w->pool = p;
	w->npool++;
}

/* max-conns counts the connections of all threads: each takes a place
 * before accept() and gives it back when the connection ends (it used to
 * be max-conns / threads per thread, rounded up: 2 with max-conns 1). */
static int
listener_full(const struct gw_listener_rt *l)
{
	return atomic_load_explicit(&l->conns, memory_order_relaxed) >= l->max_conns;
}

/* Taken first and given back when over, so threads racing for the last
 * place cannot both get it. */
static int
conn_place_take(struct gw_listener_rt *l)
{
	if (atomic_fetch_add_explicit(&l->conns, 1, memory_order_relaxed) < l->max_conns)
		return 0;
	gw_conn_place_put(l);
	return -1;
}

void
gw_conn_place_put(struct gw_listener_rt *l)
{
	atomic_fetch_sub_explicit(&l->conns, 1, memory_order_relaxed);
}

/* The process's copies of the listening sockets; the master keeps its own,
 * so a socket lives on for the next generation. */
static void
close_listeners(struct gw_worker_shared *sh)
{
	if (atomic_exchange(&sh->closed, 1))
		return;
	for (size_t i = 0; i < sh->nl; i++)
		close(sh->lfd[i]);
}

static void
accept_all(struct gw_worker *w, int on)
{
	for (size_t i = 0; i < w->rt->nl; i++) {
		struct gw_listener_rt *l = &w->rt->l[i];
		if (on && w->draining)
			continue;
		if (on && !listener_full(l))
			ev_io_start(w->loop, &w->accept_w[i]);
		else if (!on)
			ev_io_stop(w->loop, &w->accept_w[i]);
	}
}

static void
on_backoff(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct gw_worker *w = t->data;

	if (!w->draining)
		accept_all(w, 1);
}

/* Once a second: buffers that sat in the pool the whole second are surplus
 * (a burst is over) and go back to malloc; and when connections came or
 * went but none arrived in the last second, the heap's free pages (holes
 * left by handshake and record buffers between long-lived connection
 * objects) go back to the kernel. Under steady load neither happens: the
 * pool stays in use, and a busy accept loop skips the trim. Expired
 * sessions leave the listeners' caches (one thread does it, every
 * GW_TLS_EXPIRE_SECS). */
static void
on_tick(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct gw_worker *w = t->data;
	size_t surplus = w->pool_low;

	for (; surplus > 0 && w->pool != NULL; surplus--)
		free(gw_buf_get(w));
	w->pool_low = w->npool;
	if (w->accepted == 0 && w->churned) {
#ifdef __GLIBC__
		malloc_trim(0);
#endif
		w->churned = 0;
	}
	w->accepted = 0;
	for (size_t i = 0; i < w->rt->nl; i++)
		if (w->rt->l[i].tls != NULL)
			gw_tls_ctx_expire_sessions(w->rt->l[i].tls, time(NULL));
	/* A thread that stopped accepting at max-conns and has no connection
	 * of its own to end takes part again once there is room. */
	if (!w->draining && !ev_is_active(&w->backoff))
		accept_all(w, 1);
}

void
gw_worker_refused(struct gw_worker *w, struct gw_listener_rt *l, const char *what)
{
	gw_log_limited(&l->refused_log,
	    "listener %s: refused 1 connection over %s (limits: %lu unfinished handshakes, %lu per "
	    "address; raise them if these are legitimate clients)", l->name, what, l->max_unauth,
	    l->max_unauth_per_addr);
}

static void
on_accept(struct ev_loop *loop, ev_io *io, int revents)
{
	struct gw_worker *w = io->data;
	size_t li = (size_t)(io - w->accept_w);
	struct gw_listener_rt *l = &w->rt->l[li];

	for (int i = 0; i < ACCEPT_BATCH; i++) {
		struct sockaddr_storage peer;
		socklen_t len = sizeof(peer);
		int fd;

		if (conn_place_take(l) != 0) {
			/* resumed when a connection of this thread ends, or at
			 * the next tick for a thread without one */
			ev_io_stop(loop, io);
			gw_log_limited(&l->full_log,
			    "listener %s: max-conns %lu reached; new clients wait in the listen "
			    "queue until a connection ends (raise --max-conns if this is normal load)",
			    l->name, l->max_conns);
			return;
		}
		fd = accept4(w->sh->lfd[li], (struct sockaddr *)&peer, &len,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			gw_conn_place_put(l);
		if (fd >= 0) {
			w->accepted++;
			w->churned = 1;
			gw_conn_start(w, l, fd, &peer);
			continue;
		}
		if (errno == EINTR || errno == ECONNABORTED)
			continue;
		if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
			/* Out of descriptors: pause instead of spinning on a
			 * readable socket we cannot accept from. */
			gw_log_limited(&l->accept_log,
			    "accept on %s: %s; pausing accepts for %.1fs (raise `ulimit -n` or lower --max-conns)",
			    l->listen_str, strerror(errno), BACKOFF_SECS);
			accept_all(w, 0);
			ev_timer_set(&w->backoff, BACKOFF_SECS, 0.);
			ev_timer_start(loop, &w->backoff);
		}
		return;
	}
}

void
gw_worker_conn_done(struct gw_worker *w, struct gw_listener_rt *l)
{
	size_t li = (size_t)(l - w->rt->l);

	w->nconns--;
	w->lconns[li]--;
	gw_conn_place_put(l);
	w->churned = 1;
	if (w->draining) {
		if (w->nconns == 0)
			ev_break(w->loop, EVBREAK_ALL);
		return;
	}
	if (!ev_is_active(&w->backoff) && !listener_full(l))
		ev_io_start(w->loop, &w->accept_w[li]);
}

static void
on_drain(struct ev_loop *loop, ev_async *a, int revents)
{
	struct gw_worker *w = a->data;
	struct gw_recheck *r = atomic_exchange(&w->recheck_next, NULL);

	if (!w->draining) {
		w->draining = 1;
		accept_all(w, 0);
		/* Tells the master this worker takes no new connections any more. */
		atomic_store(&w->m->accepting, 0);
		ev_timer_stop(loop, &w->backoff);
		if (atomic_fetch_sub(&w->sh->undrained, 1) == 1)
			close_listeners(w->sh);
	}
	if (r != NULL) {
		gw_recheck_put(w->recheck);
		w->recheck = r;
		gw_conns_recheck(w);
	}
	if (w->nconns == 0)
		ev_break(loop, EVBREAK_ALL);
}

static void
on_quit(struct ev_loop *loop, ev_async *a, int revents)
{
	ev_break(loop, EVBREAK_ALL);
}

/* Frees what worker_init made, also after a partial init. */
static void
worker_fini(struct gw_worker *w)
{
	while (w->pool != NULL)
		free(gw_buf_get(w));
	gw_idents_free(&w->idents);
	gw_recheck_put(w->recheck);
	gw_recheck_put(atomic_exchange(&w->recheck_next, NULL));
	if (w->loop != NULL)
		ev_loop_destroy(w->loop);
	free(w->accept_w);
	free(w->lconns);
}

/* The receive buffer a bulk backend connection asks for: GW_BULK_RCVBUF,
 * capped by net.core.rmem_max as the kernel would cap it (0 when that is
 * unreadable: the kernel's autotuning is then left alone). */
static int
bulk_rcvbuf(void)
{
	FILE *f = fopen("/proc/sys/net/core/rmem_max", "r");
	long max = 0;

	if (f == NULL)
		return 0;
	if (fscanf(f, "%ld", &max) != 1)
		max = 0;
	fclose(f);
	return max <= 0 ? 0 : max < GW_BULK_RCVBUF ? (int)max : GW_BULK_RCVBUF;
}

/* Everything a thread needs before its loop runs; on failure nothing of it
 * is left allocated. */
static int
worker_init(struct gw_worker *w, struct gw_runtime *rt, struct gw_mslot *slot,
    struct gw_worker_shared *sh)
{
	memset(w, 0, sizeof(*w));
	w->rt = rt;
	w->m = slot;
	w->sh = sh;
	w->bulk_rcvbuf = bulk_rcvbuf();
	w->loop = ev_loop_new(EVFLAG_AUTO);
	w->accept_w = calloc(rt->nl ? rt->nl : 1, sizeof(*w->accept_w));
	w->lconns = calloc(rt->nl ? rt->nl : 1, sizeof(*w->lconns));
	if (w->loop == NULL || w->accept_w == NULL || w->lconns == NULL) {
		worker_fini(w);
		return -1;
	}
	for (size_t i = 0; i < rt->nl; i++) {
		ev_io_init(&w->accept_w[i], on_accept, sh->lfd[i], EV_READ);
		w->accept_w[i].data = w;
	}
	ev_init(&w->backoff, on_backoff);
	w->backoff.data = w;
	ev_timer_init(&w->tick, on_tick, TICK_SECS, TICK_SECS);
	w->tick.data = w;
	ev_timer_start(w->loop, &w->tick);
	ev_async_init(&w->drain_w, on_drain);
	w->drain_w.data = w;
	ev_async_start(w->loop, &w->drain_w);
	ev_async_init(&w->quit_w, on_quit);
	ev_async_start(w->loop, &w->quit_w);
	return 0;
}


struct wthread {
	struct gw_worker w;
	pthread_t id;
	pthread_t signal_thread; /* told when this thread is done */
	atomic_ulong *running;
};

/* A reload replaced this generation: the new configuration's rules, built
 * once for the process and handed to every thread with its drain. Without
 * them (out of memory) nothing can be judged: the threads stop, closing
 * every connection. */
static void
drain_for_reload(struct wthread *t, unsigned long n, struct gw_runtime *rt, const gw_config *cfg)
{
	struct gw_recheck *r = gw_recheck_build(rt, cfg);

	if (r == NULL) {
		gw_log_err("reload: cannot build the new rules to re-check open connections (out of "
		    "memory); closing them all");
		for (unsigned long j = 0; j < n; j++)
			ev_async_send(t[j].w.loop, &t[j].w.quit_w);
		return;
	}
	for (size_t i = 0; i < r->nl; i++)
		if (r->l[i].closed != NULL)
			gw_log("reload: listener %s: closing the connections of the previous "
			    "configuration: %s", rt->l[i].name, r->l[i].closed);
	atomic_fetch_add(&r->refs, n);
	for (unsigned long j = 0; j < n; j++) {
		gw_recheck_put(atomic_exchange(&t[j].w.recheck_next, r));
		ev_async_send(t[j].w.loop, &t[j].w.drain_w);
	}
	gw_recheck_put(r);
}

static void *
worker_main(void *arg)
{
	struct wthread *t = arg;

	accept_all(&t->w, 1);
	atomic_store(&t->w.m->accepting, 1);
	ev_run(t->w.loop, 0);
	atomic_store(&t->w.m->accepting, 0);
	/* Wakes the signal thread to look at the count; SIGUSR2 means nothing
	 * else. */
	atomic_fetch_sub(t->running, 1);
	pthread_kill(t->signal_thread, SIGUSR2);
	return NULL;
}

int
gw_worker_run(struct gw_runtime *rt, const gw_config *cfg, struct gw_mslot *slots,
    unsigned long nworkers, const int *fds)
{
	struct wthread *t = calloc(nworkers, sizeof(*t));
	struct gw_worker_shared sh = { fds, rt->nl, 0, 0 };
	sigset_t set;
	unsigned long started = 0;
	atomic_ulong running = 0;
	int rc = 0;

	if (t == NULL)
		return -1;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	sigaddset(&set, SIGQUIT);
	/* Blocked before the threads exist, so they inherit the mask and the
	 * master's signals reach only sigwaitinfo() below. */
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	for (; started < nworkers; started++) {
		t[started].signal_thread = pthread_self();
		t[started].running = &running;
		if (worker_init(&t[started].w, rt, &slots[started], &sh) != 0)
			break;
		atomic_fetch_add(&running, 1);
		if (pthread_create(&t[started].id, NULL, worker_main, &t[started]) != 0) {
			atomic_fetch_sub(&running, 1);
			worker_fini(&t[started].w);
			break;
		}
	}
	if (started < nworkers) {
		gw_log_err("worker: cannot start thread %lu of %lu: out of memory or threads", started + 1,
		    nworkers);
		rc = -1;
		for (unsigned long j = 0; j < started; j++)
			ev_async_send(t[j].w.loop, &t[j].w.quit_w);
	}
	/* Drains arrive only through the loop below, so this count is set
	 * before any thread can take one off. */
	atomic_store(&sh.undrained, started);
	while (atomic_load(&running) > 0) {
		siginfo_t si;
		int sig = sigwaitinfo(&set, &si);

		if (sig < 0)
			continue;
		if (sig == SIGUSR1 && si.si_code == SI_QUEUE && si.si_value.sival_int == GW_DRAIN_RELOAD) {
			drain_for_reload(t, started, rt, cfg);
			continue;
		}
		for (unsigned long j = 0; j < started; j++)
			if (sig == SIGUSR1)
				ev_async_send(t[j].w.loop, &t[j].w.drain_w);
			else if (sig == SIGQUIT)
				ev_async_send(t[j].w.loop, &t[j].w.quit_w);
	}
	for (unsigned long j = 0; j < started; j++) {
		pthread_join(t[j].id, NULL);
		worker_fini(&t[j].w);
	}
	close_listeners(&sh);
	free(t);
	return rc;
}
