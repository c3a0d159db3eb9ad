/* tlsgate-loadgen: a mutual-TLS load generator for the gateway benchmarks.
 * One epoll loop per thread, every socket non-blocking, one small state
 * machine per connection. Connects to 127.0.0.1 only. */
#ifndef LG_H
#define LG_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

enum lg_mode { LG_HANDSHAKE, LG_RESUME, LG_REQUESTS, LG_BULK, LG_IDLE };

/* Latency histogram: 1 us buckets below LG_HIST_FINE us, then 1 ms buckets up
 * to LG_HIST_COARSE ms, then one overflow bucket. */
#define LG_HIST_FINE 100000
#define LG_HIST_COARSE 10000

struct lg_hist {
	uint32_t fine[LG_HIST_FINE];
	uint32_t coarse[LG_HIST_COARSE];
	uint64_t over;
	uint64_t n;
};

struct lg_opts {
	enum lg_mode mode;
	int port;
	const char *cert, *key, *ca;	/* ca: verify the server when set */
	const char *path;		/* request target */
	const char *groups, *suites;
	const char *ready_file;		/* idle: created once all are up */
	int threads;
	int conns;			/* total concurrent connections */
	int inflight;			/* idle: handshakes in flight per thread */
	double warmup_s, duration_s, hold_s;
	uint64_t max_ops;		/* bound on counted operations */
	int pids[64];			/* server processes whose CPU is sampled */
	int npids;
	int plain;			/* no TLS (a client-mode gateway does it) */
};

/* Counters of one thread; summed at the end. */
struct lg_stats {
	uint64_t ops;		/* completed in the window (handshakes, requests) */
	uint64_t resumed, full;	/* handshakes completed in the window, by kind */
	uint64_t bytes;		/* body bytes read in the window */
	uint64_t errors;	/* TLS/HTTP failures (cert refused, bad status...) */
	uint64_t reconnects;	/* keep-alive connections the server closed */
	uint64_t established;	/* idle: connections up (and one request served) */
	uint64_t dropped;	/* idle: connections the server closed while idle */
	struct lg_hist hist;
};

struct lg_thread;

/* Shared, read-only after start. */
struct lg_run {
	const struct lg_opts *o;
	uint64_t t_measure;	/* ns, monotonic: window opens */
	uint64_t t_end;		/* ns: window closes, threads stop */
	volatile int stop;	/* set by the main thread (idle: after hold) */
};

uint64_t lg_now_ns(void);
SSL_CTX *lg_ctx_new(const struct lg_opts *o, char *err, size_t errlen);
/* Runs one thread's loop; returns 0, or -1 with a message in err. */
int lg_thread_run(const struct lg_run *run, int index, SSL_CTX *ctx, struct lg_stats *st,
		  volatile int *ready, char *err, size_t errlen);

void lg_hist_add(struct lg_hist *h, uint64_t ns);
void lg_hist_merge(struct lg_hist *into, const struct lg_hist *from);
/* Percentile q (0..1) in microseconds; 0 when empty. */
double lg_hist_pct(const struct lg_hist *h, double q);

#endif
