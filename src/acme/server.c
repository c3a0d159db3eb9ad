/* The ACME server's HTTPS front end: a fixed pool of worker threads serving
 * requests with blocking-style I/O on non-blocking sockets (poll with
 * deadlines), through the gateway's TLS engine and strict HTTP/1.1 head
 * parser, so every request is a straight line of code. A worker holds a
 * connection only while bytes are there for it: one poller thread accepts
 * and keeps every connection that waits (for its handshake's next flight,
 * its first request, its next kept-alive request) in one epoll set, and
 * queues the readable ones for the workers, who give them back when their
 * buffer is empty. Silent or idle clients so cost a slot, not a thread, and
 * nothing the poller does per wake grows with the connections it holds.
 * Limits: the handshake within 10 s of accept, the first request 10 s after
 * it, a head within 10 s of its first byte (16 KB; 2 s while others wait
 * for a worker), a body within 10 s, ACME_BODY_MAX bytes (413 before
 * reading it), 30 s idle keep-alive; --max-conns open connections (the
 * longest idle one closed for a new one), --max-conns-per-ip from one
 * address. */
#define _GNU_SOURCE /* accept4, pipe2 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "acme/acme_int.h"
#include "acme/srv.h"
#include "gateway/gw.h"
#include "gateway/h1.h"
#include "gateway/tls_engine.h"
#include "tlsgate/pki.h"
#include "tlsgate/util.h"

#define HANDSHAKE_MS 10000
#define HEAD_MS 10000
#define BODY_MS 10000
#define IDLE_MS 30000
#define WRITE_MS 10000
#define HURRY_MS 2000   /* a head's time when others wait for a worker */
#define ACCEPT_BURST 64
#define MAX_CONNS 1024
#define POLL_EVENTS 256     /* events taken from epoll per wake */
#define ACCEPT_PAUSE_MS 100 /* out of descriptors: accepts wait so long */
#define CONN_BUF (H1_HEAD_MAX + ACME_BODY_MAX)
#define SERVER_CERT_DAYS 90

/* Where a connection waits between a worker's turns. */
enum cstate {
	C_HANDSHAKE, /* accepted; its TLS handshake not done */
	C_FIRST,     /* handshake done; no request yet */
	C_IDLE,      /* kept alive after a response; reclaimable at --max-conns */
};

/* A connection as the poller keeps it; a worker takes it while it reads and
 * answers, and gives it back (or, done, for the poller to close). */
typedef struct pconn {
	int fd;
	gw_tls *tls;
	enum cstate state;
	int64_t deadline;          /* closed when parked past it */
	int parked;                /* in the poller's epoll set and a deadline heap */
	int done;                  /* the worker is through with it: close */
	size_t slot;               /* index in front.live */
	size_t heap_at;            /* index in its heap while parked */
	int family;
	unsigned char addr[16];
	acme_addr_key key; /* what --max-conns-per-ip counts by */
	char peer[INET6_ADDRSTRLEN];
	struct pconn *next;        /* the ready queue or the give-back list */
	struct pconn *same, **same_prev; /* the address table's chain */
} pconn;

typedef struct pheap {
	pconn **a;
	size_t n;
} pheap;

typedef struct front {
	acme_srv *srv;
	gw_tls_ctx *tls;
	int lfd;
	int wake[2];               /* workers -> poller: a connection given back */
	pthread_mutex_t mu;        /* guards ready, back */
	pthread_cond_t cv;         /* a connection is ready, or stop */
	pconn *ready, *ready_tail; /* readable, for the next free worker */
	pconn *back;               /* given back by workers */
	atomic_uint nready;
	atomic_int failed;         /* the poller stopped on an error */
	/* The poller's own: every open connection, wherever it is; the parked
	 * ones by deadline; all by peer address. */
	int ep;
	struct epoll_event *ev;
	pconn **live;
	size_t nlive, max_conns;
	pheap waiting, idle;
	pconn **bucket;
	size_t mask;
	uint64_t hkey[3];
	int64_t accept_resume;     /* accepts paused until then (0: not paused) */
	int64_t accept_logged;
} front;

/* A worker's own: its store connection and its buffer. */
typedef struct wstate {
	front *f;
	acme_thr t;
	char *buf;                 /* CONN_BUF bytes */
} wstate;

static int64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int64_t
now_ms(void)
{
	return now_us() / 1000;
}

/* ---- threads' store connections -------------------------------------- */

int
acme_thr_open(acme_thr *t, acme_srv *srv, tg_err *err)
{
	memset(t, 0, sizeof(*t));
	t->srv = srv;
	if ((t->ca = tg_ca_open(srv->ca_dir, NULL, 0, err)) == NULL)
		return -1;
	t->db = tg_ca_store(t->ca);
	/* Requests' state (nonces used, orders, challenges) need not wait for
	 * the disk; issuing goes through srv->ca, which does. */
	if (store_sql_relaxed(t->db, err) != 0) {
		acme_thr_close(t);
		return -1;
	}
	return 0;
}

void
acme_thr_close(acme_thr *t)
{
	for (size_t i = 0; i < ACME_KEY_CACHE; i++)
		EVP_PKEY_free(t->keys[i].key);
	memset(t->keys, 0, sizeof(t->keys));
	tg_ca_free(t->ca);
	t->ca = NULL;
	t->db = NULL;
}

/* ---- connection I/O with deadlines ------------------------------------- */

typedef struct conn {
	front *f;
	acme_thr *t;
	int fd;
	gw_tls *tls;
	char *buf;                 /* CONN_BUF bytes, the thread's */
	size_t len;
	int linger;                /* a refusal left the client's bytes unread */
	int64_t hurry_at;          /* 0, or when to give up if others wait */
	const char *peer;
} conn;

/* Waits for events on fd until deadline, or until *stop is set (the server
 * is stopping: a kept-alive connection must not hold it up for its idle
 * timeout), or, with f, past hurry_at while connections wait for a worker
 * (a slow sender must not keep a thread from them). */
static int
wait_fd(int fd, short events, int64_t deadline, atomic_int *stop, front *f, int64_t hurry_at)
{
	struct pollfd p = { fd, events, 0 };
	int64_t left;
	int r;

	for (;;) {
		if ((left = deadline - now_ms()) <= 0 || (stop != NULL && atomic_load(stop)))
			return -1;
		if (f != NULL && hurry_at > 0 && now_ms() >= hurry_at && atomic_load(&f->nready) > 0)
			return -1;
		r = poll(&p, 1, left > 250 ? 250 : (int)left);
		if (r > 0)
			return 0;
		if (r < 0 && errno != EINTR)
			return -1;
	}
}

static int
io_wait(conn *c, enum gw_io io, int64_t deadline)
{
	if (io == GW_IO_WANT_READ)
		return wait_fd(c->fd, POLLIN, deadline, &c->f->srv->stop, c->f, c->hurry_at);
	if (io == GW_IO_WANT_WRITE)
		return wait_fd(c->fd, POLLOUT, deadline, &c->f->srv->stop, c->f, c->hurry_at);
	return -1;
}

/* Reads what comes into buf[len..cap); 0, or -1 on close, error or deadline. */
static int
read_some(conn *c, size_t cap, int64_t deadline)
{
	for (;;) {
		size_t n = 0;
		enum gw_io io = gw_tls_read(c->tls, c->buf + c->len, cap - c->len, &n);
		if (io == GW_IO_OK) {
			c->len += n;
			return 0;
		}
		if (io_wait(c, io, deadline) != 0)
			return -1;
	}
}

static int
write_all(conn *c, const char *p, size_t len)
{
	int64_t deadline = now_ms() + WRITE_MS;

	while (len > 0) {
		size_t n = 0;
		enum gw_io io = gw_tls_write(c->tls, p, len, &n);
		if (io == GW_IO_OK) {
			p += n;
			len -= n;
		} else if (io_wait(c, io, deadline) != 0) {
			return -1;
		}
	}
	return 0;
}

static const char *
reason_phrase(int status)
{
	static const struct {
		int status;
		const char *text;
	} t[] = {
		{ 200, "OK" }, { 201, "Created" }, { 204, "No Content" }, { 400, "Bad Request" },
		{ 403, "Forbidden" }, { 404, "Not Found" }, { 405, "Method Not Allowed" },
		{ 408, "Request Timeout" }, { 409, "Conflict" }, { 411, "Length Required" },
		{ 413, "Content Too Large" }, { 415, "Unsupported Media Type" },
		{ 429, "Too Many Requests" }, { 431, "Request Header Fields Too Large" },
		{ 500, "Internal Server Error" }, { 503, "Service Unavailable" },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (t[i].status == status)
			return t[i].text;
	return "Unknown";
}

static int
send_resp(conn *c, const acme_resp *r, int head_only, int keep)
{
	acme_srv *srv = c->f->srv;
	char head[ACME_RESP_HDRS + 1024], nonce[ACME_NONCE_MAX], one[16384];
	int n;

	nonce[0] = '\0';
	if (r->nonce)
		acme_nonce_make(srv->nonce_key, time(NULL), nonce);
	n = snprintf(head, sizeof(head),
	    "HTTP/1.1 %d %s\r\n"
	    "%s%s%s"
	    "Content-Length: %zu\r\n"
	    "%s%s%s"
	    "Link: <%s/directory>;rel=\"index\"\r\n"
	    "%.*s"
	    "%s"
	    "\r\n",
	    r->status, reason_phrase(r->status),
	    r->ctype ? "Content-Type: " : "", r->ctype ? r->ctype : "", r->ctype ? "\r\n" : "",
	    r->body_len,
	    nonce[0] ? "Replay-Nonce: " : "", nonce, nonce[0] ? "\r\n" : "",
	    srv->base, (int)r->hlen, r->hdrs, keep ? "" : "Connection: close\r\n");
	if (n < 0 || (size_t)n >= sizeof(head))
		return -1;
	if (head_only || r->body_len == 0)
		return write_all(c, head, (size_t)n);
	/* Head and body in one TLS record and one write when they fit (every
	 * answer but a long chain): half the records and system calls. */
	if (r->body_len <= sizeof(one) - (size_t)n) {
		memcpy(one, head, (size_t)n);
		memcpy(one + n, r->body, r->body_len);
		return write_all(c, one, (size_t)n + r->body_len);
	}
	if (write_all(c, head, (size_t)n) != 0)
		return -1;
	return write_all(c, r->body, r->body_len);
}

static void
log_request(conn *c, const char *method, const char *path, const acme_resp *r, int64_t t0)
{
	gw_log("acme: %s %s %s %d account=%s problem=%s ms=%.1f", c->peer, method, path,
	    r->status, r->account[0] ? r->account : "-",
	    r->problem != ACME_P_NONE ? acme_problem_urn(r->problem) : "-",
	    t0 > 0 ? (double)(now_us() - t0) / 1000.0 : 0.0);
}

/* A refusal the front end makes before any handler runs; the connection
 * closes after it. */
static void
refuse(conn *c, acme_ptype type, int status, const char *method, const char *path,
    const char *detail)
{
	acme_problem p = { type, "" };
	acme_resp r = { 0 };

	snprintf(p.detail, sizeof(p.detail), "%s", detail);
	acme_resp_problem(c->f->srv, &r, &p);
	if (status != 0)
		r.status = status;
	atomic_fetch_add_explicit(&c->f->srv->m.problems, 1, memory_order_relaxed);
	log_request(c, method, path, &r, 0);
	(void)send_resp(c, &r, 0, 0);
	acme_resp_clear(&r);
	c->linger = 1;
}

#define LINGER_MS 2000
#define LINGER_BYTES (1024 * 1024)

/* After a refusal the client may still be sending (a body over the limit):
 * closing with its bytes unread would reset the connection and could lose
 * our answer before it reads it. Read and drop them for a while, as
 * nginx's lingering close does. */
static void
linger_close(conn *c)
{
	int64_t deadline = now_ms() + LINGER_MS;
	size_t dropped = 0;
	char sink[4096];

	shutdown(c->fd, SHUT_WR);
	while (dropped < LINGER_BYTES && wait_fd(c->fd, POLLIN, deadline, NULL, NULL, 0) == 0) {
		ssize_t n = read(c->fd, sink, sizeof(sink));
		if (n <= 0 && !(n < 0 && (errno == EAGAIN || errno == EINTR)))
			break;
		if (n > 0)
			dropped += (size_t)n;
	}
}

/* A field's value as text (bounded), or "" when absent. */
static void
field(const char *buf, const struct h1_request *q, const char *name, char *out, size_t cap)
{
	out[0] = '\0';
	for (size_t i = 0; i < q->nfields; i++) {
		const struct h1_field *f = &q->f[i];
		if (!h1_word(buf + f->name.off, f->name.len, name))
			continue;
		snprintf(out, cap, "%.*s", (int)f->value.len, buf + f->value.off);
		return;
	}
}

/* "application/jose+json; charset=..." -> "application/jose+json". */
static void
media_type(char *ct)
{
	char *semi = strchr(ct, ';');

	if (semi != NULL)
		*semi = '\0';
	for (size_t n = strlen(ct); n > 0 && (ct[n - 1] == ' ' || ct[n - 1] == '\t'); n--)
		ct[n - 1] = '\0';
	for (char *p = ct; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
}

/* Serves one request, whose first bytes are in c->buf; 1 to keep the
 * connection, 0 to close it. */
static int
serve_request(conn *c)
{
	struct h1_request *q = NULL;
	uint8_t st = 0;
	size_t head = 0, scanned = 0;
	int done = 0, keep = 0;
	int64_t deadline = now_ms() + HEAD_MS, t0;
	char method[16], path[ACME_URL_MAX], ctype[128];
	acme_req req;
	acme_resp r = { 0 };

	c->hurry_at = now_ms() + HURRY_MS;

	/* The head: from what is buffered, then from the socket. */
	for (;;) {
		size_t n = h1_head_end(&st, c->buf + scanned, c->len - scanned, &done);
		scanned += n;
		if (done) {
			head = scanned;
			c->hurry_at = 0; /* the body has its own 10 s */
			break;
		}
		if (c->len >= H1_HEAD_MAX) {
			refuse(c, ACME_P_MALFORMED, 431, "-", "-", "the request head is over 16 KB");
			return 0;
		}
		if (read_some(c, H1_HEAD_MAX, deadline) != 0) {
			if (c->len > 0)
				refuse(c, ACME_P_MALFORMED, 408, "-", "-",
				    "no complete request head in time");
			return 0;
		}
	}
	if ((q = malloc(sizeof(*q))) == NULL)
		return 0;
	if (h1_request_parse(c->buf, head, q) != 0) {
		char why[256];
		snprintf(why, sizeof(why), "the request is not valid HTTP/1.1: %s", q->why);
		refuse(c, ACME_P_MALFORMED, q->status, "-", "-", why);
		goto out;
	}
	snprintf(method, sizeof(method), "%.*s", (int)q->method.len, c->buf + q->method.off);
	if (q->target.len >= sizeof(path) || c->buf[q->target.off] != '/') {
		refuse(c, ACME_P_MALFORMED, 400, method, "-",
		    "the request target must be a path under 1 KB");
		goto out;
	}
	snprintf(path, sizeof(path), "%.*s", (int)q->target.len, c->buf + q->target.off);
	if (q->body == H1_BODY_CHUNKED) {
		refuse(c, ACME_P_MALFORMED, 411, method, path,
		    "send the body with a Content-Length (chunked bodies are not taken)");
		goto out;
	}
	if (q->body == H1_BODY_LENGTH && q->length > ACME_BODY_MAX) {
		refuse(c, ACME_P_TOO_LARGE, 413, method, path,
		    "the body is over the limit of 64 KB; ACME requests are small");
		goto out;
	}
	deadline = now_ms() + BODY_MS;
	while (q->body == H1_BODY_LENGTH && c->len < head + q->length)
		if (read_some(c, head + q->length, deadline) != 0)
			goto out;
	field(c->buf, q, "content-type", ctype, sizeof(ctype));
	media_type(ctype);
	req.method = method;
	req.path = path;
	req.content_type = ctype;
	req.body = c->buf + head;
	req.body_len = q->body == H1_BODY_LENGTH ? (size_t)q->length : 0;
	t0 = now_us();
	acme_handle(c->t, &req, &r);
	keep = q->minor == 1 ? !(q->conn & H1_CONN_CLOSE) : !!(q->conn & H1_CONN_KEEP_ALIVE);
	keep = keep && !atomic_load(&c->f->srv->stop);
	log_request(c, method, path, &r, t0);
	if (send_resp(c, &r, strcmp(method, "HEAD") == 0, keep) != 0)
		keep = 0;
	/* Pipelined bytes stay for the next request. */
	memmove(c->buf, c->buf + head + req.body_len, c->len - head - req.body_len);
	c->len -= head + req.body_len;
out:
	c->hurry_at = 0;
	acme_resp_clear(&r);
	free(q);
	return keep;
}

/* What a worker takes from the socket without waiting: 1 with bytes in
 * c->buf, 0 when none came yet (the connection waits parked), -1 on close
 * or error. */
static int
read_now(conn *c)
{
	int64_t deadline = now_ms() + WRITE_MS;

	for (;;) {
		size_t n = 0;
		enum gw_io io = gw_tls_read(c->tls, c->buf, H1_HEAD_MAX, &n);
		if (io == GW_IO_OK) {
			c->len = n;
			return 1;
		}
		if (io == GW_IO_WANT_READ)
			return 0;
		if (io != GW_IO_WANT_WRITE || io_wait(c, io, deadline) != 0)
			return -1;
	}
}

/* A worker's turn with a readable connection: the handshake's next steps,
 * then requests for as long as their bytes are there. Leaves p to park
 * (state and deadline set) or done. */
static void
serve_conn(front *f, acme_thr *t, char *buf, pconn *p)
{
	conn c = { .f = f, .t = t, .fd = p->fd, .tls = p->tls, .buf = buf, .peer = p->peer };
	enum gw_io io;
	int r = -1;

	while (p->state == C_HANDSHAKE && (io = gw_tls_handshake(p->tls)) != GW_IO_OK) {
		if (io == GW_IO_WANT_READ)
			return; /* the rest of the client's flight, parked */
		if (io_wait(&c, io, p->deadline) != 0)
			goto done;
	}
	if (p->state == C_HANDSHAKE) {
		p->state = C_FIRST;
		p->deadline = now_ms() + HEAD_MS;
	}
	/* Pipelined bytes are served on; an empty buffer parks. */
	while (c.len > 0 || (r = read_now(&c)) == 1) {
		if (!serve_request(&c))
			goto done;
		p->state = C_IDLE;
		p->deadline = now_ms() + IDLE_MS;
	}
	if (r == 0 && !atomic_load(&f->srv->stop))
		return;
done:
	(void)gw_tls_shutdown(c.tls);
	if (c.linger)
		linger_close(&c);
	p->done = 1;
}

/* ---- the poller and the workers ------------------------------------------ */

static void
ready_push(front *f, pconn *p)
{
	pthread_mutex_lock(&f->mu);
	p->next = NULL;
	if (f->ready_tail != NULL)
		f->ready_tail->next = p;
	else
		f->ready = p;
	f->ready_tail = p;
	atomic_fetch_add(&f->nready, 1);
	pthread_cond_signal(&f->cv);
	pthread_mutex_unlock(&f->mu);
}

/* The next readable connection, or NULL when the server stops. */
static pconn *
ready_pop(front *f)
{
	pconn *p;

	pthread_mutex_lock(&f->mu);
	while (f->ready == NULL && !atomic_load(&f->srv->stop))
		pthread_cond_wait(&f->cv, &f->mu);
	if ((p = f->ready) != NULL) {
		f->ready = p->next;
		if (f->ready == NULL)
			f->ready_tail = NULL;
		atomic_fetch_sub(&f->nready, 1);
	}
	pthread_mutex_unlock(&f->mu);
	return p;
}

static void
give_back(front *f, pconn *p)
{
	pthread_mutex_lock(&f->mu);
	p->next = f->back;
	f->back = p;
	pthread_mutex_unlock(&f->mu);
	(void)!write(f->wake[1], "", 1);
}

static void *
worker(void *arg)
{
	wstate *w = arg;
	pconn *p;

	while ((p = ready_pop(w->f)) != NULL) {
		serve_conn(w->f, &w->t, w->buf, p);
		give_back(w->f, p);
	}
	return NULL;
}

/* Parked connections by deadline: a binary min-heap in which each
 * connection knows its place, so one that wakes leaves in O(log n) and the
 * next deadline is the top. */
static void
heap_set(pheap *h, size_t i, pconn *p)
{
	h->a[i] = p;
	p->heap_at = i;
}

static void
heap_up(pheap *h, size_t i)
{
	pconn *p = h->a[i];

	while (i > 0 && h->a[(i - 1) / 2]->deadline > p->deadline) {
		heap_set(h, i, h->a[(i - 1) / 2]);
		i = (i - 1) / 2;
	}
	heap_set(h, i, p);
}

static void
heap_down(pheap *h, size_t i)
{
	pconn *p = h->a[i];

	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= h->n)
			break;
		if (c + 1 < h->n && h->a[c + 1]->deadline < h->a[c]->deadline)
			c++;
		if (p->deadline <= h->a[c]->deadline)
			break;
		heap_set(h, i, h->a[c]);
		i = c;
	}
	heap_set(h, i, p);
}

static void
heap_remove(pheap *h, pconn *p)
{
	size_t i = p->heap_at;
	pconn *last = h->a[--h->n];

	if (i == h->n)
		return;
	heap_set(h, i, last);
	heap_up(h, i);
	heap_down(h, last->heap_at);
}

/* Kept-alive connections wait apart: the top of theirs is the longest
 * idle, the one reclaimed at --max-conns. */
static pheap *
heap_of(front *f, const pconn *p)
{
	return p->state == C_IDLE ? &f->idle : &f->waiting;
}

/* Parks p: its deadline counted, the poller woken by its next byte (once:
 * the worker that takes it reads the socket alone). */
static int
park(front *f, pconn *p, int op)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLONESHOT, .data.ptr = p };
	pheap *h = heap_of(f, p);

	if (epoll_ctl(f->ep, op, p->fd, &ev) != 0)
		return -1;
	h->a[h->n] = p;
	p->heap_at = h->n++;
	heap_up(h, p->heap_at);
	p->parked = 1;
	return 0;
}

static void
unpark(front *f, pconn *p)
{
	heap_remove(heap_of(f, p), p);
	p->parked = 0;
}

/* The address table: connections by peer address, so the per-address
 * count is a walk over one short chain, not over every connection. The
 * hash is keyed at random, so a client cannot pick addresses that share
 * a chain. */
static uint64_t
mix64(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	return h ^ (h >> 33);
}

/* One client's share of --max-conns-per-ip: an IPv4 address (also when it
 * comes as ::ffff:a.b.c.d on a dual-stack socket), or an IPv6 address's
 * /64. A /64 is what one host, or one customer of a provider, is given
 * (RFC 6177), and each of its 2^64 addresses is the holder's to use: counted
 * one by one, a single client would have had a fresh allowance with every
 * source address it picked. */
void
acme_addr_key_of(const struct sockaddr_storage *ss, acme_addr_key *k)
{
	static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	const unsigned char *a6 = ((const struct sockaddr_in6 *)ss)->sin6_addr.s6_addr;

	memset(k, 0, sizeof(*k));
	if (ss->ss_family == AF_INET) {
		k->family = AF_INET;
		memcpy(k->b, &((const struct sockaddr_in *)ss)->sin_addr, 4);
	} else if (memcmp(a6, mapped, sizeof(mapped)) == 0) {
		k->family = AF_INET;
		memcpy(k->b, a6 + 12, 4);
	} else {
		k->family = AF_INET6;
		memcpy(k->b, a6, 8);
	}
}

static pconn **
addr_chain(front *f, const pconn *p)
{
	uint64_t w = 0, h = f->hkey[0] ^ (uint64_t)p->key.family;

	memcpy(&w, p->key.b, sizeof(w));
	h = mix64(h ^ w ^ f->hkey[1]);
	return &f->bucket[h & f->mask];
}

static int
same_addr(const pconn *a, const pconn *b)
{
	return memcmp(&a->key, &b->key, sizeof(a->key)) == 0;
}

static void
addr_add(front *f, pconn *p)
{
	pconn **head = addr_chain(f, p);

	p->same = *head;
	p->same_prev = head;
	if (*head != NULL)
		(*head)->same_prev = &p->same;
	*head = p;
}

static void
addr_remove(pconn *p)
{
	*p->same_prev = p->same;
	if (p->same != NULL)
		p->same->same_prev = p->same_prev;
}

/* Connections open from p's address, counted up to max. */
static unsigned
conns_from(front *f, const pconn *p, unsigned max)
{
	unsigned n = 0;

	for (const pconn *q = *addr_chain(f, p); q != NULL && n < max; q = q->same)
		n += same_addr(q, p);
	return n;
}

/* Closes a connection the poller holds (parked, or given back done). */
static void
conn_drop(front *f, pconn *p)
{
	if (p->parked)
		unpark(f, p);
	addr_remove(p);
	f->live[p->slot] = f->live[--f->nlive];
	f->live[p->slot]->slot = p->slot;
	gw_tls_free(p->tls);
	close(p->fd); /* leaves the epoll set with it */
	free(p);
	atomic_fetch_sub_explicit(&f->srv->m.conns_active, 1, memory_order_relaxed);
}

static void
peer_addr(pconn *p, const struct sockaddr_storage *ss)
{
	p->family = ss->ss_family;
	if (ss->ss_family == AF_INET)
		memcpy(p->addr, &((const struct sockaddr_in *)ss)->sin_addr, 4);
	else
		memcpy(p->addr, &((const struct sockaddr_in6 *)ss)->sin6_addr, 16);
	acme_addr_key_of(ss, &p->key);
	inet_ntop(p->family, p->addr, p->peer, sizeof(p->peer));
}

/* Room for p: 0, or -1 with p refused (logged, counted). At --max-conns the
 * connection kept alive the longest makes room, as nginx reuses idle
 * keep-alive connections. */
static int
admit(front *f, pconn *p)
{
	acme_srv *srv = f->srv;
	unsigned per_ip = srv->o->max_conns_per_ip, n;

	if (per_ip > 0 && (n = conns_from(f, p, per_ip)) >= per_ip) {
		atomic_fetch_add_explicit(&srv->m.refused_per_ip, 1, memory_order_relaxed);
		gw_log("acme: %s: connection refused: %u already open from this %s "
		       "(--max-conns-per-ip %u)", p->peer, n,
		    p->key.family == AF_INET6 ? "address's /64" : "address", per_ip);
		return -1;
	}
	if (f->nlive < f->max_conns)
		return 0;
	if (f->idle.n > 0) {
		atomic_fetch_add_explicit(&srv->m.closed_reclaimed, 1, memory_order_relaxed);
		conn_drop(f, f->idle.a[0]);
		return 0;
	}
	atomic_fetch_add_explicit(&srv->m.refused_full, 1, memory_order_relaxed);
	gw_log("acme: %s: connection refused: %zu connections open, none idle (--max-conns)",
	    p->peer, f->nlive);
	return -1;
}

/* Out of descriptors (or kernel memory) the listening socket stays
 * readable and accept keeps failing: the poller would spin. It stops
 * listening for a moment instead, and says why every 10 s at most. */
static void
pause_accepting(front *f, int e)
{
	struct epoll_event ev = { .events = 0, .data.ptr = &f->lfd };
	int64_t now = now_ms();

	(void)epoll_ctl(f->ep, EPOLL_CTL_MOD, f->lfd, &ev);
	f->accept_resume = now + ACCEPT_PAUSE_MS;
	if (now >= f->accept_logged + 10000) {
		f->accept_logged = now;
		gw_log_warn("acme: accept: %s; pausing accepts for %d ms (%zu connections open; "
		    "raise the open files limit, `ulimit -n` or LimitNOFILE=, or lower --max-conns)",
		    strerror(e), ACCEPT_PAUSE_MS, f->nlive);
	}
}

static void
resume_accepting(front *f)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &f->lfd };

	if (f->accept_resume == 0 || now_ms() < f->accept_resume)
		return;
	f->accept_resume = 0;
	(void)epoll_ctl(f->ep, EPOLL_CTL_MOD, f->lfd, &ev);
}

static void
accept_some(front *f)
{
	for (int i = 0; i < ACCEPT_BURST; i++) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		pconn *p;
		int fd, one = 1;

		if ((fd = accept4(f->lfd, (struct sockaddr *)&ss, &sl,
			 SOCK_NONBLOCK | SOCK_CLOEXEC)) < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
				pause_accepting(f, errno);
			if (errno == EAGAIN || errno == EWOULDBLOCK || f->accept_resume != 0)
				return;
			continue; /* the client gave up before we took it (ECONNABORTED...) */
		}
		atomic_fetch_add_explicit(&f->srv->m.conns, 1, memory_order_relaxed);
		if ((p = calloc(1, sizeof(*p))) == NULL) {
			close(fd);
			continue;
		}
		p->fd = fd;
		peer_addr(p, &ss);
		if (admit(f, p) != 0 || (p->tls = gw_tls_new(f->tls, fd)) == NULL) {
			close(fd);
			free(p);
			continue;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		p->state = C_HANDSHAKE;
		p->deadline = now_ms() + HANDSHAKE_MS;
		p->slot = f->nlive;
		f->live[f->nlive++] = p;
		addr_add(f, p);
		atomic_fetch_add_explicit(&f->srv->m.conns_active, 1, memory_order_relaxed);
		if (park(f, p, EPOLL_CTL_ADD) != 0)
			conn_drop(f, p);
	}
}

/* Connections the workers gave back: parked again, or closed. */
static void
take_back(front *f)
{
	pconn *p, *next;
	char sink[64];

	while (read(f->wake[0], sink, sizeof(sink)) > 0)
		;
	pthread_mutex_lock(&f->mu);
	p = f->back;
	f->back = NULL;
	pthread_mutex_unlock(&f->mu);
	for (; p != NULL; p = next) {
		next = p->next;
		if (p->done || park(f, p, EPOLL_CTL_MOD) != 0)
			conn_drop(f, p);
	}
}

/* Closes the parked connections past their deadline: from the tops of the
 * heaps, so a pass costs what it closes. */
static void
expire(front *f)
{
	int64_t now = now_ms();
	pheap *hs[2] = { &f->waiting, &f->idle };

	for (int i = 0; i < 2; i++)
		while (hs[i]->n > 0 && hs[i]->a[0]->deadline <= now) {
			atomic_fetch_add_explicit(&f->srv->m.closed_idle, 1, memory_order_relaxed);
			conn_drop(f, hs[i]->a[0]);
		}
}

/* Until the next deadline, a paused accept's end, or 250 ms (to see stop). */
static int
wait_ms(const front *f)
{
	int64_t now = now_ms(), next = now + 250;

	if (f->waiting.n > 0 && f->waiting.a[0]->deadline < next)
		next = f->waiting.a[0]->deadline;
	if (f->idle.n > 0 && f->idle.a[0]->deadline < next)
		next = f->idle.a[0]->deadline;
	if (f->accept_resume != 0 && f->accept_resume < next)
		next = f->accept_resume;
	return next > now ? (int)(next - now) : 0;
}

/* One thread owns every connection waiting for bytes (a new one for its
 * handshake, a kept-alive one for its next request) in one epoll set, and
 * hands the readable ones to the workers: a silent or idle client costs a
 * slot here, not a thread, and a wake costs what woke, not what waits. */
static void *
poller(void *arg)
{
	front *f = arg;

	while (!atomic_load(&f->srv->stop)) {
		int n = epoll_wait(f->ep, f->ev, POLL_EVENTS, wait_ms(f)), woke = 0, incoming = 0;

		if (n < 0 && errno != EINTR) {
			gw_log_err("acme: the connection poller failed: epoll_wait: %s; stopping",
			    strerror(errno));
			atomic_store(&f->failed, 1);
			kill(getpid(), SIGTERM);
			break;
		}
		/* Connections first: the give-backs and accepts below may close
		 * some, and this batch must not name a closed one. */
		for (int i = 0; i < n; i++) {
			void *tag = f->ev[i].data.ptr;
			if (tag == &f->lfd) {
				incoming = 1;
			} else if (tag == f->wake) {
				woke = 1;
			} else {
				unpark(f, tag);
				ready_push(f, tag);
			}
		}
		if (woke)
			take_back(f);
		if (incoming)
			accept_some(f);
		expire(f);
		resume_accepting(f);
	}
	return NULL;
}

/* ---- setup ---------------------------------------------------------------- */

static int
is_wildcard_addr(const char *host)
{
	return strcmp(host, "0.0.0.0") == 0 || strcmp(host, "::") == 0 || host[0] == '\0';
}

/* The base of every URL: --external-url, else https://NAME:PORT with the
 * first --name, else the listen host. */
static int
base_url(const acme_serve_opts *o, char *base, size_t len, char *host, size_t hostcap,
    unsigned *port, tg_err *err)
{
	char lhost[256];
	unsigned lport;
	const char *h;

	if (util_parse_hostport(o->listen, "--listen", lhost, sizeof(lhost), &lport, err) != 0)
		return -1;
	*port = lport;
	snprintf(host, hostcap, "%s", lhost);
	if (o->external_url != NULL) {
		const char *rest = o->external_url + 8;
		size_t n = strlen(o->external_url);
		if (strncmp(o->external_url, "https://", 8) != 0 || rest[0] == '\0' ||
		    strchr(rest, '/') != NULL || strchr(rest, '?') != NULL || n >= len)
			return tg_err_set(err, TG_ERR_USAGE, "--external-url '%s' must be https://HOST or "
			    "https://HOST:PORT, no path: ACME requires HTTPS and the server's resources "
			    "live at its root", o->external_url);
		snprintf(base, len, "%s", o->external_url);
		return 0;
	}
	h = o->nnames > 0 ? o->names[0] : lhost;
	if (o->nnames == 0 && is_wildcard_addr(lhost))
		return tg_err_set(err, TG_ERR_USAGE, "--listen %s has no name clients can reach; give "
		    "--name HOST (the name clients use, also put in the server's certificate) or "
		    "--external-url https://HOST:PORT", o->listen);
	snprintf(base, len, strchr(h, ':') != NULL ? "https://[%s]:%u" : "https://%s:%u", h, lport);
	return 0;
}

int
acme_serve_check(const acme_serve_opts *o, tg_err *err)
{
	char base[ACME_URL_MAX], host[256];
	unsigned port;
	acme_cidr c;
	acme_dns dns;
	pki_san san;

	if (base_url(o, base, sizeof(base), host, sizeof(host), &port, err) != 0)
		return -1;
	if (o->n_allow_domains == 0 && o->n_allow_ips == 0)
		return tg_err_set(err, TG_ERR_USAGE, "no --allow-domain or --allow-ip: this server "
		    "would refuse every name, so it does not start; allow what it may issue for, e.g. "
		    "--allow-domain example.internal --allow-ip 10.0.0.0/8");
	for (size_t i = 0; i < o->n_allow_domains; i++)
		if (pki_san_parse(o->allow_domains[i], &san, err) != 0 || san.type != PKI_SAN_DNS ||
		    strchr(o->allow_domains[i], '*') != NULL)
			return tg_err_set(err, TG_ERR_USAGE, "--allow-domain '%s' is not a DNS name (it "
			    "allows the name and every name under it; no wildcard needed)",
			    o->allow_domains[i]);
	for (size_t i = 0; i < o->n_allow_ips; i++)
		if (acme_cidr_parse(o->allow_ips[i], &c, err) != 0)
			return -1;
	if (o->default_validity > o->max_validity)
		return tg_err_set(err, TG_ERR_USAGE, "--default-validity is longer than "
		    "--max-validity; lower it or raise --max-validity");
	if (o->default_validity < 3600)
		return tg_err_set(err, TG_ERR_USAGE, "--default-validity must be at least 1h");
	for (size_t i = 0; i < o->nresolve; i++) {
		const char *eq = strchr(o->resolve[i], '=');
		unsigned char a[16];
		if (eq == NULL || eq == o->resolve[i] || (inet_pton(AF_INET, eq + 1, a) != 1 &&
			inet_pton(AF_INET6, eq + 1, a) != 1))
			return tg_err_set(err, TG_ERR_USAGE, "--resolve '%s' is not NAME=ADDR (an IPv4 "
			    "or IPv6 address), e.g. --resolve host.example.internal=127.0.0.1",
			    o->resolve[i]);
	}
	if (o->dns_resolver != NULL && acme_dns_init(&dns, o->dns_resolver) != 0)
		return tg_err_set(err, TG_ERR_USAGE, "--dns-resolver '%s' is not ADDR[:PORT] (an IPv4 "
		    "or IPv6 address, port 53 when none), e.g. --dns-resolver 127.0.0.1:5353 or "
		    "--dns-resolver [::1]:5353", o->dns_resolver);
	if ((o->cert == NULL) != (o->key == NULL))
		return tg_err_set(err, TG_ERR_USAGE, "give --cert and --key together (or neither: "
		    "the server issues its own certificate from the CA)");
	return 0;
}

static int
lower_dup(const char *s, size_t n, char **out)
{
	if ((*out = strndup(s, n)) == NULL)
		return -1;
	for (char *p = *out; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	return 0;
}

static int
setup_policy(acme_srv *srv, tg_err *err)
{
	const acme_serve_opts *o = srv->o;
	char **domains = calloc(o->n_allow_domains + 1, sizeof(char *));

	srv->pol.ips = calloc(o->n_allow_ips + 1, sizeof(acme_cidr));
	srv->resolve = calloc(o->nresolve + 1, sizeof(acme_resolve));
	if (domains == NULL || srv->pol.ips == NULL || srv->resolve == NULL) {
		free(domains);
		return tg_err_set(err, TG_ERR_INTERNAL, "out of memory");
	}
	for (size_t i = 0; i < o->n_allow_domains; i++) {
		const char *d = o->allow_domains[i];
		if (d[0] == '.')
			d++;
		if (lower_dup(d, strlen(d), &domains[i]) != 0)
			return tg_err_set(err, TG_ERR_INTERNAL, "out of memory");
	}
	srv->pol.domains = (const char *const *)domains;
	srv->pol.ndomains = o->n_allow_domains;
	for (size_t i = 0; i < o->n_allow_ips; i++)
		if (acme_cidr_parse(o->allow_ips[i], &srv->pol.ips[i], err) != 0)
			return -1;
	srv->pol.nips = o->n_allow_ips;
	srv->pol.no_wildcards = o->no_wildcards;
	srv->pol.dns01 = o->dns_resolver != NULL;
	srv->pol.max_validity = o->max_validity;
	srv->pol.default_validity = o->default_validity;
	for (size_t i = 0; i < o->nresolve; i++) {
		const char *eq = strchr(o->resolve[i], '=');
		char *name;
		if (lower_dup(o->resolve[i], (size_t)(eq - o->resolve[i]), &name) != 0)
			return tg_err_set(err, TG_ERR_INTERNAL, "out of memory");
		srv->resolve[i].name = name;
		srv->resolve[i].addr = eq + 1;
	}
	srv->vopts.http_port = o->http01_port ? o->http01_port : 80;
	srv->vopts.tlsalpn_port = o->tlsalpn01_port ? o->tlsalpn01_port : 443;
	srv->vopts.resolve = srv->resolve;
	srv->vopts.n_resolve = o->nresolve;
	srv->vopts.timeout_ms = 10000;
	/* One resolver setup for the server's life, shared by the validators. */
	if (o->dns_resolver != NULL) {
		if ((srv->dns = calloc(1, sizeof(*srv->dns))) == NULL)
			return tg_err_set(err, TG_ERR_INTERNAL, "out of memory");
		if (acme_dns_init(srv->dns, o->dns_resolver) != 0)
			return tg_err_set(err, TG_ERR_USAGE, "--dns-resolver '%s' is not ADDR[:PORT]",
			    o->dns_resolver);
		srv->vopts.dns = srv->dns;
	}
	return 0;
}

static void
free_policy(acme_srv *srv)
{
	for (size_t i = 0; i < srv->pol.ndomains; i++)
		free((char *)srv->pol.domains[i]);
	free((char **)srv->pol.domains);
	free(srv->pol.ips);
	for (size_t i = 0; srv->resolve != NULL && i < srv->o->nresolve; i++)
		free((char *)srv->resolve[i].name);
	free(srv->resolve);
	free(srv->dns);
}

/* ---- the server's own certificate ----------------------------------------- */

struct one_profile {
	pki_profile *p;
	int given;
};

static int
next_profile(void *arg, pki_profile *p, tg_err *err)
{
	struct one_profile *s = arg;

	(void)err;
	if (s->given)
		return 0;
	*p = *s->p;
	s->given = 1;
	return 1;
}

/* 1 if the certificate at path covers every name and has a third of its
 * life left. */
static int
cert_still_good(const char *path, const pki_profile *p)
{
	X509 *cert = util_exists(path) ? pki_load_cert(path, NULL) : NULL;
	int64_t nb, na, now = time(NULL);
	int ok;

	if (cert == NULL)
		return 0;
	nb = pki_asn1_time_unix(X509_get0_notBefore(cert));
	na = pki_asn1_time_unix(X509_get0_notAfter(cert));
	ok = na - now > (na - nb) / 3;
	for (size_t i = 0; ok && i < p->nsans; i++)
		ok = p->sans[i].type == PKI_SAN_IP ?
		    X509_check_ip_asc(cert, p->sans[i].value, 0) == 1 :
		    X509_check_host(cert, p->sans[i].value, 0, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS,
		        NULL) == 1;
	X509_free(cert);
	ERR_clear_error();
	return ok;
}

static int
own_cert(acme_srv *srv, const char *host, char *crt, char *key, size_t len, tg_err *err)
{
	const acme_serve_opts *o = srv->o;
	const char *extra[64];
	size_t nextra = 0;
	char dir[4096], bhost[256] = "", name[300];
	pki_profile *p = calloc(1, sizeof(*p));
	struct one_profile src = { p, 0 };
	tg_issue_opts io = { 0 };
	const char *first;
	int rc = -1;

	if (p == NULL)
		return tg_err_set(err, TG_ERR_INTERNAL, "out of memory");
	/* The base URL's host first: it is the name clients check. */
	sscanf(srv->base + 8, "%255[^:/]", bhost);
	if (bhost[0] == '[')
		sscanf(srv->base + 9, "%255[^]]", bhost);
	first = bhost;
	for (size_t i = 0; i < o->nnames && nextra < 62; i++)
		extra[nextra++] = o->names[i];
	if (!is_wildcard_addr(host))
		extra[nextra++] = host;
	if (pki_profile_leaf(p, PKI_PROFILE_SERVER, first, extra, nextra,
		(int64_t)SERVER_CERT_DAYS * 86400, err) != 0 ||
	    util_path_join(dir, sizeof(dir), srv->ca_dir, "acme", err) != 0 ||
	    util_mkdir_p(dir, 0700, err) != 0)
		goto out;
	snprintf(name, sizeof(name), "%s.crt", first);
	if (util_path_join(crt, len, dir, name, err) != 0)
		goto out;
	snprintf(name, sizeof(name), "%s.key", first);
	if (util_path_join(key, len, dir, name, err) != 0)
		goto out;
	if (cert_still_good(crt, p) && util_exists(key)) {
		rc = 0;
		goto out;
	}
	io.out_dir = dir;
	io.key_type = PKI_KEY_EC_P256;
	io.force = 1;
	if (tg_ca_issue(srv->ca, next_profile, &src, &io, NULL, NULL, err) != 0) {
		tg_err_prefix(err, "issuing the ACME server's own certificate");
		goto out;
	}
	gw_log("acme: issued the server's own certificate %s (%zu names) from the CA", crt,
	    p->nsans);
	rc = 0;
out:
	free(p);
	return rc;
}

static int
listen_on(const char *host, unsigned port, tg_err *err)
{
	struct addrinfo hints = { .ai_flags = AI_PASSIVE | AI_NUMERICSERV,
		.ai_socktype = SOCK_STREAM }, *ai = NULL;
	char ps[8];
	int fd = -1, one = 1, r;

	snprintf(ps, sizeof(ps), "%u", port);
	if ((r = getaddrinfo(is_wildcard_addr(host) && host[0] == '\0' ? NULL : host, ps, &hints,
		 &ai)) != 0)
		return tg_err_set(err, TG_ERR_CONFIG, "--listen: cannot resolve %s: %s", host,
		    gai_strerror(r));
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 512) != 0) {
		tg_err_set(err, TG_ERR_IO, "cannot listen on %s:%u: %s%s", host, port, strerror(errno),
		    errno == EADDRINUSE ? " (another process has it; pick another port)" : "");
		if (fd >= 0)
			close(fd);
		fd = -1;
	}
	freeaddrinfo(ai);
	return fd;
}

static int
chain_pem(acme_srv *srv, tg_err *err)
{
	X509 *issuer = tg_ca_issuer(srv->ca);
	size_t len;

	if (issuer == tg_ca_root(srv->ca) || X509_cmp(issuer, tg_ca_root(srv->ca)) == 0) {
		srv->chain_pem = strdup("");
		return srv->chain_pem != NULL ? 0 : tg_err_set(err, TG_ERR_INTERNAL, "out of memory");
	}
	return pki_certs_to_pem(&issuer, 1, &srv->chain_pem, &len, err);
}

/* ---- the front end's start and end --------------------------------------- */

#define NOFILE_SPARE 32       /* standard streams, listener, pipe, epoll, the CA's store */
#define NOFILE_PER_THREAD 4   /* a store connection (database, journal, shm), a socket */
#define NOFILE_MIN_CONNS 16   /* the default --max-conns shrinks to fit, not below this */

/* Every connection is a descriptor, and each thread holds a few: at a
 * soft limit too low for --max-conns the server would stop accepting
 * halfway. The soft limit is raised to the hard one when that is enough,
 * as servers do; else a --max-conns given stops the start, and the default
 * shrinks to what fits, with a warning. */
static int
nofile_check(front *f, unsigned threads, int given, tg_err *err)
{
	struct rlimit rl;
	rlim_t spare = NOFILE_SPARE + (rlim_t)threads * NOFILE_PER_THREAD;
	rlim_t need = (rlim_t)f->max_conns + spare;
	unsigned long long was;
	long long fits;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return tg_err_set(err, TG_ERR_INTERNAL, "cannot read the open files limit: %s",
		    strerror(errno));
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < need) {
		fits = (long long)rl.rlim_max - (long long)spare;
		if (given || fits < NOFILE_MIN_CONNS)
			return tg_err_set(err, TG_ERR_CONFIG, "--max-conns %zu needs about %llu open "
			    "files (one per connection, %llu for the server's threads and files), and "
			    "the hard limit on open files is %llu (`ulimit -Hn`): raise it (LimitNOFILE= "
			    "in a systemd unit, `ulimit -n N` as root, /etc/security/limits.conf) or "
			    "lower --max-conns%s%lld", f->max_conns, (unsigned long long)need,
			    (unsigned long long)spare, (unsigned long long)rl.rlim_max,
			    fits > 0 ? " to " : "", fits > 0 ? fits : 0LL);
		gw_log_warn("acme: the hard limit on open files (%llu) holds about %lld connections, "
		    "not the default %zu: --max-conns is %lld (raise LimitNOFILE= or `ulimit -Hn` for "
		    "more)", (unsigned long long)rl.rlim_max, fits, f->max_conns, fits);
		f->max_conns = (size_t)fits;
		need = rl.rlim_max;
	}
	if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= need)
		return 0;
	was = (unsigned long long)rl.rlim_cur;
	rl.rlim_cur = rl.rlim_max == RLIM_INFINITY ? need : rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
		return tg_err_set(err, TG_ERR_CONFIG, "--max-conns %zu needs about %llu open files; "
		    "the soft limit is %llu and raising it failed: %s (raise `ulimit -n` or lower "
		    "--max-conns)", f->max_conns, (unsigned long long)need, was, strerror(errno));
	gw_log("acme: raised the open files limit from %llu to %llu (--max-conns %zu needs about "
	       "%llu)", was, (unsigned long long)rl.rlim_cur, f->max_conns, (unsigned long long)need);
	return 0;
}

/* Everything the poller needs, made before the server listens, so a
 * failure is the start's failure. */
static int
front_open(front *f, unsigned threads, int given, tg_err *err)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = f->wake };
	size_t nb = 64;

	if (nofile_check(f, threads, given, err) != 0)
		return -1;
	while (nb < f->max_conns)
		nb <<= 1;
	f->mask = nb - 1;
	if ((f->live = calloc(f->max_conns, sizeof(*f->live))) == NULL ||
	    (f->waiting.a = calloc(f->max_conns, sizeof(*f->waiting.a))) == NULL ||
	    (f->idle.a = calloc(f->max_conns, sizeof(*f->idle.a))) == NULL ||
	    (f->bucket = calloc(nb, sizeof(*f->bucket))) == NULL ||
	    (f->ev = calloc(POLL_EVENTS, sizeof(*f->ev))) == NULL)
		return tg_err_set(err, TG_ERR_INTERNAL, "cannot set up the connection poller for "
		    "--max-conns %zu: out of memory (lower --max-conns)", f->max_conns);
	if (RAND_bytes((unsigned char *)f->hkey, sizeof(f->hkey)) != 1)
		return tg_err_set(err, TG_ERR_INTERNAL, "cannot set up the connection poller: no "
		    "random bytes for its address table");
	if (pipe2(f->wake, O_NONBLOCK | O_CLOEXEC) != 0 ||
	    (f->ep = epoll_create1(EPOLL_CLOEXEC)) < 0 ||
	    epoll_ctl(f->ep, EPOLL_CTL_ADD, f->wake[0], &ev) != 0)
		return tg_err_set(err, TG_ERR_INTERNAL, "cannot set up the connection poller: %s",
		    strerror(errno));
	return 0;
}

static int
front_listen(front *f, const char *host, unsigned port, tg_err *err)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &f->lfd };

	if ((f->lfd = listen_on(host, port, err)) < 0)
		return -1;
	if (epoll_ctl(f->ep, EPOLL_CTL_ADD, f->lfd, &ev) != 0)
		return tg_err_set(err, TG_ERR_INTERNAL, "cannot watch the listening socket: %s",
		    strerror(errno));
	return 0;
}

/* After the threads are gone: every connection still open, and the rest. */
static void
front_close(front *f)
{
	while (f->nlive > 0)
		conn_drop(f, f->live[0]);
	free(f->live);
	free(f->waiting.a);
	free(f->idle.a);
	free(f->bucket);
	free(f->ev);
	for (int i = 0; i < 2; i++)
		if (f->wake[i] >= 0)
			close(f->wake[i]);
	if (f->ep >= 0)
		close(f->ep);
	if (f->lfd >= 0)
		close(f->lfd);
}

static void
workers_close(wstate *w, unsigned n)
{
	for (unsigned i = 0; w != NULL && i < n && w[i].buf != NULL; i++) {
		acme_thr_close(&w[i].t);
		free(w[i].buf);
	}
	free(w);
}

/* The workers' store connections and buffers, opened before any thread
 * starts: a worker that cannot open the store fails the start. */
static wstate *
workers_open(front *f, unsigned n, tg_err *err)
{
	wstate *w = calloc(n, sizeof(*w));

	if (w == NULL) {
		tg_err_set(err, TG_ERR_INTERNAL, "out of memory");
		return NULL;
	}
	for (unsigned i = 0; i < n; i++) {
		w[i].f = f;
		if ((w[i].buf = malloc(CONN_BUF)) == NULL) {
			tg_err_set(err, TG_ERR_INTERNAL, "out of memory for worker %u's buffer", i + 1);
			goto fail;
		}
		if (acme_thr_open(&w[i].t, f->srv, err) != 0) {
			tg_err_prefix(err, "opening the store for worker %u", i + 1);
			free(w[i].buf);
			w[i].buf = NULL;
			goto fail;
		}
	}
	return w;
fail:
	workers_close(w, n);
	return NULL;
}

int
acme_serve(tg_ca *ca, const acme_serve_opts *o, tg_err *err)
{
	acme_srv *srv = calloc(1, sizeof(*srv));
	front f = { .srv = srv, .lfd = -1, .wake = { -1, -1 }, .ep = -1,
		.max_conns = o->max_conns ? o->max_conns : MAX_CONNS };
	char host[256], crt[4096], key[4096];
	struct gw_cert_spec spec = { NULL, crt, key };
	struct gw_tls_opts to = { .listener = "acme", .certs = &spec, .ncerts = 1,
		.session_cache = 10000 };
	unsigned port, nworkers = o->workers ? o->workers : 16;
	unsigned nthreads = nworkers + (o->validators ? o->validators : 4) + 1;
	pthread_t *threads = NULL, poll_thread;
	wstate *ws = NULL;
	size_t started = 0;
	int polling = 0;
	sigset_t sigs;
	int rc = -1, sig;

	if (srv == NULL)
		return tg_err_set(err, TG_ERR_INTERNAL, "out of memory");
	srv->o = o;
	srv->ca = ca;
	srv->started = time(NULL);
	pthread_mutex_init(&srv->sign_lock, NULL);
	acme_groups_init(srv);
	pthread_mutex_init(&f.mu, NULL);
	pthread_cond_init(&f.cv, NULL);
	snprintf(srv->ca_dir, sizeof(srv->ca_dir), "%s", tg_ca_dir(ca));
	if (acme_serve_check(o, err) != 0 ||
	    base_url(o, srv->base, sizeof(srv->base), host, sizeof(host), &port, err) != 0 ||
	    setup_policy(srv, err) != 0 || front_open(&f, nthreads, o->max_conns != 0, err) != 0 ||
	    chain_pem(srv, err) != 0 || acme_db_init(tg_ca_store(ca), err) != 0 ||
	    acme_db_nonce_key(tg_ca_store(ca), srv->nonce_key, err) != 0)
		goto out;
	if (o->cert != NULL) {
		snprintf(crt, sizeof(crt), "%s", o->cert);
		snprintf(key, sizeof(key), "%s", o->key);
	} else if (own_cert(srv, host, crt, key, sizeof(crt), err) != 0) {
		goto out;
	}
	if ((f.tls = gw_tls_ctx_new(&to, err)) == NULL ||
	    (ws = workers_open(&f, nworkers, err)) == NULL ||
	    (threads = calloc(nworkers, sizeof(*threads))) == NULL) {
		if (ws != NULL)
			tg_err_set(err, TG_ERR_INTERNAL, "out of memory");
		goto out;
	}
	/* Signals go to this thread only; the others never see them. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);
	/* Listening comes last: whatever fails before leaves no socket. */
	if (acme_vq_start(srv, err) != 0 || front_listen(&f, host, port, err) != 0)
		goto stop;
	for (; started < nworkers; started++)
		if (pthread_create(&threads[started], NULL, worker, &ws[started]) != 0) {
			tg_err_set(err, TG_ERR_INTERNAL, "cannot start worker threads");
			goto stop;
		}
	if (pthread_create(&poll_thread, NULL, poller, &f) != 0) {
		tg_err_set(err, TG_ERR_INTERNAL, "cannot start the connection poller thread");
		goto stop;
	}
	polling = 1;
	gw_log("acme: serving %s/directory on %s (%u workers, %zu connections, %u per address; "
	       "CA %s; allowed: %zu domains, %zu address ranges%s%s%s%s)", srv->base, o->listen,
	    nworkers, f.max_conns, o->max_conns_per_ip, srv->ca_dir,
	    srv->pol.ndomains, srv->pol.nips, o->eab_required ? "; external account binding "
	    "required" : "", o->no_wildcards ? "; no wildcards" : "",
	    o->dns_resolver != NULL ? "; dns-01 via " : "",
	    o->dns_resolver != NULL ? o->dns_resolver : "");
	while (sigwait(&sigs, &sig) != 0)
		;
	if (atomic_load(&f.failed)) {
		tg_err_set(err, TG_ERR_INTERNAL, "the connection poller failed (see the log above)");
		goto stop;
	}
	gw_log("acme: signal %d, stopping", sig);
	rc = 0;
stop:
	atomic_store(&srv->stop, 1);
	pthread_mutex_lock(&f.mu);
	pthread_cond_broadcast(&f.cv);
	pthread_mutex_unlock(&f.mu);
	if (polling)
		pthread_join(poll_thread, NULL);
	for (size_t i = 0; i < started; i++)
		pthread_join(threads[i], NULL);
	acme_vq_stop(srv);
out:
	front_close(&f);
	workers_close(ws, nworkers);
	free(threads);
	pthread_mutex_destroy(&f.mu);
	pthread_cond_destroy(&f.cv);
	gw_tls_ctx_free(f.tls);
	free_policy(srv);
	free(srv->chain_pem);
	OPENSSL_cleanse(srv->nonce_key, sizeof(srv->nonce_key));
	pthread_mutex_destroy(&srv->sign_lock);
	acme_groups_free(srv);
	free(srv);
	return rc;
}
