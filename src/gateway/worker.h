/* A worker process: one libev loop, its own listening sockets (SO_REUSEPORT,
 * one per worker, so the kernel spreads connections without a shared lock),
 * and the connections it accepted. Counters live in shared memory so the
 * master can serve /metrics. */
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

/* One per worker process, in memory shared with the master. Only the worker
 * writes its slot. */
struct gw_mslot {
	_Atomic uint64_t conns_total, conns_active, resumed;
	_Atomic uint64_t bytes_in, bytes_out, backend_errors;
	_Atomic uint64_t hs[GW_HS_N];
	_Atomic uint64_t accepting; /* 1 while the worker takes new connections */
};

#define GW_MSLOTS (4 * GW_MAX_WORKERS)

struct gw_metrics {
	struct gw_mslot slot[GW_MSLOTS];
};

#define GW_BUF_SIZE (16 * 1024)

struct gw_worker {
	struct ev_loop *loop;
	struct gw_runtime *rt;
	struct gw_mslot *m;
	ev_io *accept_w;        /* one per listener */
	ev_timer backoff;       /* accept pause after EMFILE */
	ev_signal sigdrain, sigquit;
	unsigned long nconns;
	unsigned long max_per_listener_div; /* workers, to share max-conns */
	int draining;
	void *pool;             /* free GW_BUF_SIZE buffers */
	size_t npool;
	size_t pool_low;        /* fewest buffers in the pool since the last tick */
	ev_timer tick;          /* gives memory back when the worker goes quiet */
	unsigned long accepted; /* connections accepted since the last tick */
	int churned;            /* connections came or went since the last trim */
};

/* Takes ownership of fd, a freshly accepted non-blocking socket. */
void gw_conn_start(struct gw_worker *w, struct gw_listener_rt *l, int fd,
    const struct sockaddr_storage *peer);

/* Called by a connection as it ends. */
void gw_worker_conn_done(struct gw_worker *w, struct gw_listener_rt *l);

/* Runs a worker on already-bound listening sockets (l->fd). Returns when
 * done; the caller exits. */
int gw_worker_run(struct gw_runtime *rt, struct gw_mslot *slot, unsigned long nworkers);

char *gw_buf_get(struct gw_worker *w);
void gw_buf_put(struct gw_worker *w, char *p);

#endif
