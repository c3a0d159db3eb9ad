/* The worker process of one generation runs N worker threads. Each thread
 * has one libev loop and the connections it accepted. The listening
 * sockets are the master's, one per listener and without SO_REUSEPORT, so
 * no other process (another tlsgate of the same user included) can bind
 * the address while tlsgate holds it. Every thread's loop watches the same
 * socket: whichever thread wakes first accepts, the others find EAGAIN, and
 * a busy thread, slower to wake, takes fewer. The threads share the
 * runtime, and with it each listener's TLS context and its session cache,
 * so a client resumes on whichever thread accepts it. Counters live in
 * shared memory so the master can serve /metrics. */
#ifndef TLSGATE_GW_WORKER_H
#define TLSGATE_GW_WORKER_H

#include <ev.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/types.h>

#include "gateway/gw.h"

enum gw_hs {
	GW_HS_OK,
	GW_HS_NO_CERT,     /* a required client certificate was not sent */
	GW_HS_BAD_CERT,    /* sent, but not valid (CA, time, CRL) */
	GW_HS_DENIED,      /* valid, but not on the allow list */
	GW_HS_FAILED,      /* any other TLS failure */
	GW_HS_TIMEOUT,
	GW_HS_N
};

extern const char *const gw_hs_names[GW_HS_N];

/* One per worker thread, in memory shared with the master. Only the thread
 * writes its slot. */
struct gw_mslot {
	_Atomic uint64_t conns_total, conns_active, resumed;
	_Atomic uint64_t bytes_in, bytes_out, backend_errors;
	_Atomic uint64_t hs[GW_HS_N];
	_Atomic uint64_t accepting; /* 1 while the worker takes new connections */
	_Atomic uint64_t refused_unauth; /* over max-unauth-conns or -per-addr */
};

/* A generation's worker process takes a block of GW_MAX_WORKERS slots; up to
 * GW_GENERATIONS processes (the current one and older ones still finishing
 * their connections) run at once. */
#define GW_GENERATIONS 4
#define GW_MSLOTS (GW_GENERATIONS * GW_MAX_WORKERS)

struct gw_metrics {
	struct gw_mslot slot[GW_MSLOTS];
};

#define GW_BUF_SIZE (16 * 1024)

/* A backend connection that has streamed GW_BULK_RUN bytes to a client that
 * never pushed back gets a receive buffer of GW_BULK_RCVBUF (or the
 * system's net.core.rmem_max, if smaller): see backend_read() in conn.c. */
#define GW_BULK_RUN (1u << 20)
#define GW_BULK_RCVBUF (4 << 20)

/* The value a reload's SIGUSR1 carries (sigqueue): drain, and re-check the
 * open connections against the new configuration. A plain SIGUSR1 (a
 * graceful stop) only drains. */
#define GW_DRAIN_RELOAD 1

struct conn;
struct gw_worker_shared;

struct gw_worker {
	struct ev_loop *loop;
	struct gw_runtime *rt;  /* shared with the other threads: read only */
	struct gw_mslot *m;
	struct gw_worker_shared *sh; /* the process's listening sockets */
	unsigned long *lconns;  /* per listener: this thread's connections on it */
	ev_io *accept_w;        /* one per listener */
	ev_timer backoff;       /* accept pause after EMFILE */
	ev_async drain_w, quit_w; /* from the process's signal thread */
	unsigned long nconns;
	int bulk_rcvbuf;        /* SO_RCVBUF for bulk backends; 0: leave the kernel's */
	int draining;
	void *pool;             /* free GW_BUF_SIZE buffers */
	size_t npool;
	size_t pool_low;        /* fewest buffers in the pool since the last tick */
	ev_timer tick;          /* gives memory back when the worker goes quiet */
	unsigned long accepted; /* connections accepted since the last tick */
	int churned;            /* connections came or went since the last trim */
	struct gw_idents idents; /* this thread's http identity lines, one per certificate */
	struct conn *conns;     /* this thread's connections (conn.c) */
	struct gw_recheck *recheck; /* after a reload: the new rules (one reference) */
	_Atomic(struct gw_recheck *) recheck_next; /* newer ones, from the signal thread */
};

/* Takes ownership of fd, a freshly accepted non-blocking socket. */
void gw_conn_start(struct gw_worker *w, struct gw_listener_rt *l, int fd,
    const struct sockaddr_storage *peer);

/* A new connection was refused for being over the limit named by what;
 * logged through the listener's limiter (gw_log_limited): a line at most
 * every GW_LOG_EVERY seconds, the next one counting the refusals between. */
void gw_worker_refused(struct gw_worker *w, struct gw_listener_rt *l, const char *what);

/* Gives back a place under the listener's max-conns, taken before
 * accept(), for a connection refused at once (gw_conn_start). */
void gw_conn_place_put(struct gw_listener_rt *l);

/* Called by a connection as it ends. */
void gw_worker_conn_done(struct gw_worker *w, struct gw_listener_rt *l);

/* Judges every connection of the thread against w->recheck (conn.c). */
void gw_conns_recheck(struct gw_worker *w);

/* Runs nworkers threads on already-bound listening sockets, fds[i] for
 * listener i, shared by all threads; thread j writes metrics slot slots[j].
 * The calling thread handles the master's signals (SIGUSR1: drain, with
 * GW_DRAIN_RELOAD also a re-check against the configuration cfg came from;
 * SIGQUIT: stop). Returns when every thread is done; the caller exits. */
int gw_worker_run(struct gw_runtime *rt, const gw_config *cfg, struct gw_mslot *slots,
    unsigned long nworkers, const int *fds);

char *gw_buf_get(struct gw_worker *w);
void gw_buf_put(struct gw_worker *w, char *p);

#endif
