#define _GNU_SOURCE
/* A worker process: accepts on its own SO_REUSEPORT sockets and runs its
 * connections on one libev loop. Only the master steers it: SIGUSR1 drains
 * (stop accepting, finish the connections: how old workers retire after a
 * reload), SIGQUIT stops at once. SIGTERM/SIGINT sent to the whole process
 * group (Ctrl-C, timeout(1)) are left to the master. */
#include <errno.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gateway/worker.h"

#define ACCEPT_BATCH 64
#define POOL_MAX 256
#define BACKOFF_SECS 0.1
#define TICK_SECS 1.0

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

static unsigned long
limit_for(const struct gw_worker *w, const struct gw_listener_rt *l)
{
	return (l->max_conns + w->max_per_listener_div - 1) / w->max_per_listener_div;
}

static void
accept_all(struct gw_worker *w, int on)
{
	for (size_t i = 0; i < w->rt->nl; i++) {
		struct gw_listener_rt *l = &w->rt->l[i];
		if (l->fd < 0)
			continue;
		if (on && l->nconns < limit_for(w, l))
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
 * pool stays in use, and a busy accept loop skips the trim. */
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
}

static void
on_accept(struct ev_loop *loop, ev_io *io, int revents)
{
	struct gw_worker *w = io->data;
	struct gw_listener_rt *l = &w->rt->l[io - w->accept_w];

	for (int i = 0; i < ACCEPT_BATCH; i++) {
		struct sockaddr_storage peer;
		socklen_t len = sizeof(peer);
		int fd;

		if (l->nconns >= limit_for(w, l)) {
			ev_io_stop(loop, io); /* resumed when a connection ends */
			return;
		}
		fd = accept4(l->fd, (struct sockaddr *)&peer, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
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
			gw_log("accept on %s: %s; pausing accepts for %.1fs (raise `ulimit -n` or lower --max-conns)",
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
	w->nconns--;
	l->nconns--;
	w->churned = 1;
	if (w->draining) {
		if (w->nconns == 0)
			ev_break(w->loop, EVBREAK_ALL);
		return;
	}
	if (l->fd >= 0 && !ev_is_active(&w->backoff) && l->nconns < limit_for(w, l))
		ev_io_start(w->loop, &w->accept_w[l - w->rt->l]);
}

static void
on_drain(struct ev_loop *loop, ev_signal *s, int revents)
{
	struct gw_worker *w = s->data;

	w->draining = 1;
	accept_all(w, 0);
	/* Tells the master this worker takes no new connections any more. */
	atomic_store(&w->m->accepting, 0);
	ev_timer_stop(loop, &w->backoff);
	for (size_t i = 0; i < w->rt->nl; i++) {
		if (w->rt->l[i].fd >= 0)
			close(w->rt->l[i].fd);
		w->rt->l[i].fd = -1;
	}
	if (w->nconns == 0)
		ev_break(loop, EVBREAK_ALL);
}

static void
on_sigquit(struct ev_loop *loop, ev_signal *s, int revents)
{
	ev_break(loop, EVBREAK_ALL);
}

int
gw_worker_run(struct gw_runtime *rt, struct gw_mslot *slot, unsigned long nworkers)
{
	struct gw_worker w;

	memset(&w, 0, sizeof(w));
	w.loop = EV_DEFAULT;
	w.rt = rt;
	w.m = slot;
	w.max_per_listener_div = nworkers ? nworkers : 1;
	if ((w.accept_w = calloc(rt->nl, sizeof(*w.accept_w))) == NULL)
		return -1;
	for (size_t i = 0; i < rt->nl; i++) {
		ev_io_init(&w.accept_w[i], on_accept, rt->l[i].fd, EV_READ);
		w.accept_w[i].data = &w;
	}
	ev_init(&w.backoff, on_backoff);
	w.backoff.data = &w;
	ev_timer_init(&w.tick, on_tick, TICK_SECS, TICK_SECS);
	w.tick.data = &w;
	ev_timer_start(w.loop, &w.tick);
	ev_signal_init(&w.sigdrain, on_drain, SIGUSR1);
	w.sigdrain.data = &w;
	ev_signal_start(w.loop, &w.sigdrain);
	ev_signal_init(&w.sigquit, on_sigquit, SIGQUIT);
	ev_signal_start(w.loop, &w.sigquit);
	accept_all(&w, 1);
	atomic_store(&w.m->accepting, 1);
	ev_run(w.loop, 0);
	atomic_store(&w.m->accepting, 0);
	while (w.pool != NULL)
		free(gw_buf_get(&w));
	free(w.accept_w);
	return 0;
}
