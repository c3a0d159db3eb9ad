/* One client connection and its backend connection.
 *
 *   HANDSHAKE --ok--> (http: checks, maybe DENY; else OPEN until the first
 *   request head) --> CONNECTING --> OPEN --> closed
 *
 * In OPEN, pump() moves bytes both ways until nothing moves, then arms the
 * watchers for exactly what it waits for (backpressure: a full buffer stops
 * reading its source). Each direction has one buffer, taken from the
 * worker's pool when data arrives and given back when drained, so an idle
 * connection holds no buffers at all. Half-close travels both ways: client
 * close_notify -> shutdown(SHUT_WR) to the backend; backend EOF ->
 * close_notify to the client. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gateway/gw.h"
#include "gateway/pgstart.h"
#include "gateway/tls_client.h"
#include "gateway/tls_engine.h"
#include "gateway/worker.h"

/* C_UPSTREAM: client mode, the TLS handshake with the target (after the
 * PostgreSQL SSLRequest, with --starttls postgres). */
enum cstate { C_HANDSHAKE, C_CONNECTING, C_UPSTREAM, C_OPEN };

/* Which clock the timer keeps. IDLE: any byte moved restarts it. HEAD: a
 * deadline for a whole request head, which activity does not move. BODY:
 * like IDLE, with the body timeout. */
enum tkind { T_IDLE, T_HEAD, T_BODY };

struct buf {
	char *p;
	uint32_t off, len, cap;
};

/* The client's address, kept as the kernel gave it: its text (for the log
 * and X-Forwarded-For) is made when needed rather than carried by every
 * idle connection. */
union peer_addr {
	struct sockaddr sa;
	struct sockaddr_in in;
	struct sockaddr_in6 in6;
};

/* Thousands of these sit idle at once, so what is needed only when the
 * connection ends (why it ended) is allocated then, and text that exists
 * elsewhere (the verify verdict, the address) is not copied here. */
struct conn {
	struct gw_worker *w;
	struct gw_listener_rt *l;
	struct conn *prev, *next; /* the worker thread's connections */
	int cfd, bfd;
	ev_io cio, bio;
	ev_timer timer;
	gw_tls *tls;
	gw_http *http;
	enum cstate st;
	struct buf c2b, b2c, hin; /* hin: client plaintext before the http filter */
	unsigned cl_rd_ready : 1, cl_wr_ready : 1, be_rd_ready : 1, be_wr_ready : 1;
	unsigned cl_eof : 1, be_eof : 1, cl_shut : 1, be_shut : 1;
	unsigned no_backend : 1, replying : 1, resumed : 1, corked : 1;
	unsigned lazy : 1; /* http: the backend is connected at the first request */
	unsigned bulk : 1; /* the backend's receive buffer was raised (backend_read) */
	unsigned expired : 1, last_head : 1; /* http: past max-conn-lifetime (on_deadline) */
	unsigned refusing : 1; /* http: a refusal waits for the responses owed before it */
	unsigned tkind : 2; /* enum tkind */
	unsigned sslreq : 1; /* client mode: waiting for the answer to an SSLRequest */
	unsigned pg_local : 1; /* client mode, postgres: the client's first bytes not yet seen */
	unsigned be_cut : 1; /* client mode: the target's TLS stream ended without a
	                      * close_notify or broke: the client gets a reset, not an EOF */
	uint32_t run; /* bytes from the backend since the client last pushed back */
	unsigned pump_writes; /* records written to the client in this pump */
	char first_eof; /* 'c' or 'b': who ended first, for the log */
	uint16_t lowat; /* SO_RCVLOWAT set while the first record arrives */
	uint16_t addr_slot; /* its address's count of unfinished handshakes */
	unsigned unauth : 1; /* counted as not done with its handshake */
	int tls_rd_need, tls_wr_need;
	int be_rd_need, be_wr_need; /* the same for the backend (TLS in client mode) */
	int cev, bev;
	int deny_status;
	const char *deny_reason;
	int refuse_status; /* while refusing: the answer (0: none, only the close) */
	const char *refuse_reason;
	gw_ident *ident; /* http: the X-Client-* lines, shared (ident.c) */
	ev_tstamp started, last_activity, timeout;
	ev_tstamp deadline; /* 0, or when it ends whatever its activity (on_deadline) */
	uint64_t bytes_in, bytes_out;
	enum gw_hs hs;
	union peer_addr peer;
	unsigned long heads; /* request heads sent to the backend */
	char cn[64];
	const char *verify; /* "none", "ok", "failed"; NULL before the handshake */
	const char *verr;   /* why the certificate failed (a static string) */
	char *why;          /* why the connection ends, when known before it does */
};

static void pump(struct conn *c);
static void do_handshake(struct conn *c);
static void drop_backend(struct conn *c);
static void close_unanswered(struct conn *c, const char *what);

/* --- Buffers --- */

static int
buf_take(struct conn *c, struct buf *b)
{
	if (b->p != NULL)
		return 0;
	if ((b->p = gw_buf_get(c->w)) == NULL)
		return -1;
	b->cap = GW_BUF_SIZE;
	b->off = b->len = 0;
	return 0;
}

static void
buf_give(struct conn *c, struct buf *b)
{
	if (b->p == NULL)
		return;
	if (b->cap == GW_BUF_SIZE)
		gw_buf_put(c->w, b->p);
	else
		free(b->p);
	b->p = NULL;
	b->off = b->len = b->cap = 0;
}

static uint32_t
buf_data(const struct buf *b)
{
	return b->len - b->off;
}

/* Free room at the tail, compacting only when the tail is full. */
static uint32_t
buf_room(struct buf *b)
{
	if (b->p == NULL)
		return GW_BUF_SIZE;
	if (b->off == b->len)
		b->off = b->len = 0;
	if (b->len == b->cap && b->off > 0) {
		memmove(b->p, b->p + b->off, b->len - b->off);
		b->len -= b->off;
		b->off = 0;
	}
	return b->cap - b->len;
}

/* Grows a buffer past the pool size (a rewritten head with a client cert). */
static int
buf_reserve(struct conn *c, struct buf *b, size_t need)
{
	char *p;

	if (buf_take(c, b) != 0)
		return -1;
	if (buf_room(b) >= need)
		return 0;
	if (buf_data(b) != 0)
		return 1; /* wait until it drains */
	if ((p = malloc(need)) == NULL)
		return -1;
	buf_give(c, b);
	b->p = p;
	b->cap = (uint32_t)need;
	return 0;
}

/* --- The two sides --- */

/* The TLS connection is the client's in a server listener and the
 * target's in a client listener (role = client); the other side is a plain
 * socket. The pump reads and writes both through these, so it moves bytes
 * the same way in either direction. */
static gw_tls *
cl_tls(const struct conn *c)
{
	return c->l->client ? NULL : c->tls;
}

static gw_tls *
be_tls(const struct conn *c)
{
	return c->l->client ? c->tls : NULL;
}

/* *drained: the socket is empty now (a read would only want an event). */
static enum gw_io
side_read(gw_tls *t, int fd, void *buf, size_t len, size_t *n, int *drained)
{
	enum gw_io r;
	ssize_t got;

	if (t != NULL) {
		r = gw_tls_read(t, buf, len, n);
		*drained = r == GW_IO_OK && gw_tls_drained(t);
		return r;
	}
	*n = 0;
	got = recv(fd, buf, len, 0);
	if (got > 0) {
		*n = (size_t)got;
		*drained = (size_t)got < len;
		return GW_IO_OK;
	}
	if (got == 0)
		return GW_IO_EOF;
	return errno == EAGAIN || errno == EINTR ? GW_IO_WANT_READ : GW_IO_ERROR;
}

static enum gw_io
side_write(gw_tls *t, int fd, const void *buf, size_t len, size_t *n)
{
	ssize_t sent;

	if (t != NULL)
		return gw_tls_write(t, buf, len, n);
	*n = 0;
	if ((sent = send(fd, buf, len, MSG_NOSIGNAL)) >= 0) {
		*n = (size_t)sent;
		return GW_IO_OK;
	}
	return errno == EAGAIN || errno == EINTR ? GW_IO_WANT_WRITE : GW_IO_ERROR;
}

/* Why the last side_read/side_write failed: call it right after. */
static const char *
side_error(gw_tls *t)
{
	return t != NULL ? gw_tls_error(t) : strerror(errno);
}

/* TLS: close_notify (reading may go on); plain: FIN. */
static void
side_shutdown(gw_tls *t, int fd)
{
	if (t != NULL)
		(void)gw_tls_shutdown(t);
	else
		shutdown(fd, SHUT_WR);
}

/* --- Closing and logging --- */

/* The address as text: "host:port" ("[host]:port" for IPv6) for the log, or
 * the host alone for X-Forwarded-For. */
static void
format_peer(const union peer_addr *a, char *out, size_t len, int with_port)
{
	char host[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;

	if (a->sa.sa_family == AF_INET) {
		inet_ntop(AF_INET, &a->in.sin_addr, host, sizeof(host));
		port = ntohs(a->in.sin_port);
	} else if (a->sa.sa_family == AF_INET6) {
		inet_ntop(AF_INET6, &a->in6.sin6_addr, host, sizeof(host));
		port = ntohs(a->in6.sin6_port);
	} else if (a->sa.sa_family == AF_UNIX) {
		snprintf(host, sizeof(host), "unix"); /* a unix socket's peer has no address */
	}
	if (!with_port)
		snprintf(out, len, "%s", host);
	else if (a->sa.sa_family == AF_INET)
		snprintf(out, len, "%s:%u", host, port);
	else if (a->sa.sa_family == AF_INET6)
		snprintf(out, len, "[%s]:%u", host, port);
	else
		snprintf(out, len, "unix");
}

/* Records why the connection will end, for its log line (the arguments may
 * include the reason recorded so far). */
static void set_why(struct conn *c, const char *fmt, ...) TG_PRINTF(2, 3);

static void
set_why(struct conn *c, const char *fmt, ...)
{
	char buf[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	free(c->why);
	c->why = strdup(buf); /* NULL: the log falls back to the closing reason */
}

/* --- Connections that have not finished their handshake --- */

/* Where an address counts: IPv4 by address, IPv6 by its /64 (what one
 * host or customer is usually given). FNV-1a. */
static uint16_t
addr_slot(const union peer_addr *a)
{
	const unsigned char *p = NULL;
	size_t n = 0;
	uint32_t h = 2166136261u;

	if (a->sa.sa_family == AF_INET) {
		p = (const unsigned char *)&a->in.sin_addr;
		n = 4;
	} else if (a->sa.sa_family == AF_INET6) {
		p = (const unsigned char *)&a->in6.sin6_addr;
		n = 8;
	}
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 16777619u;
	return (uint16_t)(h % GW_UNAUTH_SLOTS);
}

static void
unauth_put(struct gw_listener_rt *l, uint16_t slot)
{
	atomic_fetch_sub_explicit(&l->unauth_addr[slot], 1, memory_order_relaxed);
	atomic_fetch_sub_explicit(&l->unauth, 1, memory_order_relaxed);
}

/* Counts a new connection as not done with its handshake, or says which
 * limit it is over (the connection is then refused). */
static const char *
unauth_take(struct gw_listener_rt *l, uint16_t slot)
{
	/* Taken first and given back when over, so threads racing for the
	 * last place cannot both get it. */
	if (atomic_fetch_add_explicit(&l->unauth_addr[slot], 1, memory_order_relaxed) >=
	    l->max_unauth_per_addr) {
		atomic_fetch_sub_explicit(&l->unauth_addr[slot], 1, memory_order_relaxed);
		return "max-unauth-per-addr";
	}
	if (atomic_fetch_add_explicit(&l->unauth, 1, memory_order_relaxed) >= l->max_unauth) {
		unauth_put(l, slot);
		return "max-unauth-conns";
	}
	return NULL;
}

/* The handshake ended (done, failed or cut): the connection no longer
 * counts against the limits. */
static void
unauth_done(struct conn *c)
{
	if (!c->unauth)
		return;
	unauth_put(c->l, c->addr_slot);
	c->unauth = 0;
}

static void
conn_close(struct conn *c, const char *why)
{
	struct gw_mslot *m = c->w->m;
	const char *sni = c->tls ? gw_tls_sni(c->tls) : NULL;
	char sni_log[80] = "-", peer[80];

	format_peer(&c->peer, peer, sizeof(peer), 1);
	if (sni != NULL) /* the client chose it: no control characters into the log */
		gw_log_field(sni_log, sizeof(sni_log), sni);
	gw_log("conn listener=%s peer=%s tls=%s sni=%s cn=%s verify=%s resumed=%d in=%llu out=%llu dur=%.3fs close=\"%s\"",
	    c->l->name, peer, c->st != C_HANDSHAKE && c->st != C_UPSTREAM && c->tls ?
	    gw_tls_version(c->tls) : "-",
	    sni_log, c->cn[0] ? c->cn : "-", c->verify ? c->verify : "-", c->resumed,
	    (unsigned long long)c->bytes_in, (unsigned long long)c->bytes_out,
	    ev_now(c->w->loop) - c->started, c->why ? c->why : why);
	atomic_fetch_sub_explicit(&m->conns_active, 1, memory_order_relaxed);
	unauth_done(c);
	ev_io_stop(c->w->loop, &c->cio);
	ev_io_stop(c->w->loop, &c->bio);
	ev_timer_stop(c->w->loop, &c->timer);
	gw_tls_free(c->tls);
	gw_http_free(c->http);
	close(c->cfd);
	if (c->bfd >= 0)
		close(c->bfd);
	buf_give(c, &c->c2b);
	buf_give(c, &c->b2c);
	buf_give(c, &c->hin);
	gw_ident_put(&c->w->idents, c->ident);
	free(c->why);
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		c->w->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	gw_worker_conn_done(c->w, c->l);
	free(c);
}

static void
set_events(struct conn *c, ev_io *io, int *cur, int want)
{
	if (*cur == want)
		return;
	ev_io_stop(c->w->loop, io);
	*cur = want;
	if (want != 0) {
		ev_io_modify(io, want);
		ev_io_start(c->w->loop, io);
	}
}

static void
touch(struct conn *c)
{
	if (c->tkind != T_HEAD) /* a head's deadline does not move */
		c->last_activity = ev_now(c->w->loop);
}

/* secs, or less if the deadline comes first. */
static ev_tstamp
timer_wait(struct conn *c, ev_tstamp secs)
{
	ev_tstamp until_deadline = c->deadline - ev_now(c->w->loop);

	return c->deadline > 0 && until_deadline < secs ? until_deadline : secs;
}

static void
arm_kind(struct conn *c, enum tkind kind, double secs)
{
	c->tkind = kind;
	c->timeout = secs;
	c->last_activity = ev_now(c->w->loop);
	ev_timer_stop(c->w->loop, &c->timer);
	ev_timer_set(&c->timer, timer_wait(c, secs), 0.);
	ev_timer_start(c->w->loop, &c->timer);
}

static void
arm_timer(struct conn *c, double secs)
{
	arm_kind(c, T_IDLE, secs);
}

/* The connection's deadline came: max-conn-lifetime, or the time a
 * connection refused after a reload had to send its next request. tcp
 * closes; http closes unless a request may still be on its way: then the
 * next request head goes to the backend with "Connection: close" (the
 * backend closes after its answer, and the connection with it) and a
 * request after that one closes the connection. Returns -1 when c is
 * gone. */
static int
on_deadline(struct conn *c)
{
	char why[96];

	c->deadline = 0;
	if (c->replying || c->refusing)
		return 0; /* the answer is the last thing sent already, or queued */
	if (c->deny_status != 0) {
		close_unanswered(c, "no request before the timeout");
		return -1;
	}
	snprintf(why, sizeof(why), "max-conn-lifetime reached (%.0fs)", c->l->max_conn_lifetime);
	if (c->l->mode == GW_MODE_HTTP && c->st == C_OPEN && c->heads > 0) {
		c->expired = 1;
		set_why(c, "%s: the next request is sent with Connection: close", why);
		return 0;
	}
	conn_close(c, why);
	return -1;
}

/* http mode: the clock follows the client's place in its request. A head
 * must be complete within the head timeout, counted from its first byte, or
 * from the handshake for the first request, or from the end of the previous
 * response when the head came while that was still going; a body may pause
 * for the body timeout; otherwise the idle timeout applies. */
static void
http_timer(struct conn *c)
{
	enum gw_http_phase ph;

	if (c->http == NULL || c->st != C_OPEN || c->replying || c->deny_status != 0)
		return;
	ph = gw_http_phase(c->http);
	if (ph == GW_HTTP_IN_BODY) {
		if (c->tkind != T_BODY)
			arm_kind(c, T_BODY, c->l->body_timeout);
	} else if ((ph == GW_HTTP_IN_HEAD || (ph == GW_HTTP_IDLE && c->heads == 0)) &&
	    gw_http_outstanding(c->http) == 0) {
		if (c->tkind != T_HEAD)
			arm_kind(c, T_HEAD, c->l->head_timeout);
	} else if (c->tkind != T_IDLE) {
		arm_kind(c, T_IDLE, c->l->idle_timeout);
	}
}

static int reply_error(struct conn *c, int status, const char *reason);

/* libev's cheap-timeout idiom: activity only stamps a time; the timer
 * re-arms itself for the remainder instead of being reset per read. */
static void
on_timer(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct conn *c = t->data;
	ev_tstamp left;

	if (c->deadline > 0 && c->deadline - ev_now(loop) <= 0.001 && on_deadline(c) != 0)
		return;
	left = c->last_activity + c->timeout - ev_now(loop);
	if (left > 0.001) {
		ev_timer_set(t, timer_wait(c, left), 0.);
		ev_timer_start(loop, t);
		return;
	}
	if (c->st == C_HANDSHAKE) {
		atomic_fetch_add_explicit(&c->w->m->hs[GW_HS_TIMEOUT], 1, memory_order_relaxed);
		conn_close(c, "handshake timeout");
	} else if (c->st == C_CONNECTING) {
		atomic_fetch_add_explicit(&c->w->m->backend_errors, 1, memory_order_relaxed);
		conn_close(c, "backend connect timeout");
	} else if (c->st == C_UPSTREAM) {
		atomic_fetch_add_explicit(&c->w->m->hs[GW_HS_TIMEOUT], 1, memory_order_relaxed);
		conn_close(c, c->sslreq ? "no answer to the PostgreSQL SSLRequest before the timeout" :
		    "TLS handshake with the target timed out");
	} else if (c->deny_status != 0 && !c->replying && !c->refusing) {
		close_unanswered(c, "no request before the timeout");
	} else if (c->tkind == T_HEAD && !c->replying) {
		set_why(c, "no complete request head within %gs (head-timeout)", c->timeout);
		if (reply_error(c, 408, NULL) == 0) {
			arm_timer(c, c->l->handshake_timeout); /* for the reply to go out */
			pump(c);
		}
	} else if (c->tkind == T_BODY && !c->replying) {
		set_why(c, "no request body byte for %gs (body-timeout)", c->timeout);
		conn_close(c, "body timeout");
	} else {
		conn_close(c, "idle timeout");
	}
}

/* --- http mode: refusals and identity --- */

/* The log's close reason for a refusal, "PRE STATUS REASON DETAIL POST":
 * the detail is the certificate's verify error, or the backend failure that
 * c->why already holds. */
static void
refusal_why(struct conn *c, const char *pre, int status, const char *reason, const char *post)
{
	char detail[160] = "";

	if (c->verr != NULL)
		snprintf(detail, sizeof(detail), " (%s)", c->verr);
	else if (c->why != NULL)
		snprintf(detail, sizeof(detail), ": %.150s", c->why);
	set_why(c, "%s %d%s%s%s%s", pre, status, reason ? " " : "", reason ? reason : "", detail,
	    post);
}

/* Waiting for a request to refuse (deny_status), the client ended or sent
 * none in time: nobody would read an answer, so close now and log what it
 * would have been. */
static void
close_unanswered(struct conn *c, const char *what)
{
	char pre[64];

	snprintf(pre, sizeof(pre), "%s (would have replied", what);
	refusal_why(c, pre, c->deny_status, c->deny_reason, ")");
	conn_close(c, what); /* the log shows c->why */
}

/* Nothing more is read from either side; what is queued for the client
 * goes out, then the connection closes. */
static void
end_after_flush(struct conn *c)
{
	c->replying = 1;
	c->refusing = 0;
	c->lazy = 0; /* a head that came before the refusal does not connect */
	c->st = C_OPEN;
	c->cl_eof = 1;
	c->be_eof = 1;
	drop_backend(c);
}

/* Queues an error page and stops reading: the reply is the last thing sent.
 * Returns -1 when it had to close the connection instead (c is gone). */
static int
reply_error(struct conn *c, int status, const char *reason)
{
	char page[1024];
	int n = gw_http_error(status, reason, page, sizeof(page));

	refusal_why(c, "replied", status, reason, "");
	if (n < 0 || buf_reserve(c, &c->b2c, (size_t)n) != 0) {
		conn_close(c, "cannot queue error reply");
		return -1;
	}
	memcpy(c->b2c.p + c->b2c.len, page, (size_t)n);
	c->b2c.len += (uint32_t)n;
	end_after_flush(c);
	return 0;
}

/* The identity lines for the client's certificate: the worker's shared copy,
 * built from the full identity the first time the certificate comes. */
static int
attach_ident(struct conn *c, int present)
{
	struct gw_idents *ic = &c->w->idents;
	unsigned char fp[GW_FP_LEN] = { 0 }; /* all zero: no certificate */
	struct gw_peer full;
	int cert_header = c->l->cert_header;

	if (present && gw_tls_peer_fingerprint(c->tls, fp) != 0)
		return -1;
	if ((c->ident = gw_ident_find(ic, fp, cert_header)) != NULL)
		return 0;
	if (gw_tls_peer(c->tls, &full, GW_PEER_NAMES | (cert_header ? GW_PEER_PEM : 0)) == 0)
		c->ident = gw_ident_add(ic, fp, cert_header, &full);
	gw_peer_clear(&full);
	return c->ident != NULL ? 0 : -1;
}

/* nginx's rules: no cert when one is required, or a bad cert: 400; a valid
 * cert that the rules do not allow: 403. */
static const struct {
	int status;
	const char *reason;
	enum gw_hs hs;
} refusals[] = {
	[GW_VERDICT_NO_CERT] = { 400, "No required SSL certificate was sent", GW_HS_NO_CERT },
	[GW_VERDICT_BAD_CERT] = { 400, "The SSL certificate error", GW_HS_BAD_CERT },
	[GW_VERDICT_DENIED] = { 403, NULL, GW_HS_DENIED },
};

static void
refuse(struct conn *c, enum gw_verdict vd)
{
	c->deny_status = refusals[vd].status;
	c->deny_reason = refusals[vd].reason;
	c->hs = refusals[vd].hs;
}

static void
http_check(struct conn *c, const struct gw_peer *p)
{
	if (c->l->verify == GW_VERIFY_NONE)
		return;
	if (!p->present) {
		if (c->l->verify >= GW_VERIFY_REQUIRE)
			refuse(c, GW_VERDICT_NO_CERT);
		return;
	}
	if (!p->verified) {
		refuse(c, GW_VERDICT_BAD_CERT);
		return;
	}
	if (!gw_acl_empty(c->l->acl) && !gw_acl_allows(c->l->acl, p))
		refuse(c, GW_VERDICT_DENIED);
}

/* After a reload the connection answers to the new configuration's rules
 * for its listener (w->recheck). A refused tcp connection is closed; a
 * refused http one answers its next request 400/403 and closes, and must
 * send it within the handshake timeout (a stream or a tunnel that never
 * reaches a request is closed then). Returns -1 when c is gone. */
static int
recheck(struct conn *c)
{
	const struct gw_recheck_l *r = &c->w->recheck->l[c->l - c->w->rt->l];
	const char *why;
	enum gw_verdict vd;
	ev_tstamp grace;

	if (c->replying || c->refusing || c->deny_status != 0)
		return 0; /* refused already */
	if (r->closed != NULL) {
		set_why(c, "closed after reload: %s", r->closed);
		conn_close(c, "closed after reload");
		return -1;
	}
	if (c->l->client)
		return 0; /* no client certificate to judge: ours goes out */
	if ((vd = gw_tls_recheck(c->tls, r->verifier, &why)) == GW_VERDICT_OK)
		return 0;
	set_why(c, "revoked after reload: %s", why);
	if (c->l->mode != GW_MODE_HTTP) {
		conn_close(c, "revoked after reload");
		return -1;
	}
	refuse(c, vd);
	c->verr = NULL; /* the reason is c->why's */
	if (c->lazy) { /* no request yet: none will reach a backend */
		c->lazy = 0;
		c->no_backend = 1;
	}
	grace = ev_now(c->w->loop) + c->l->handshake_timeout;
	if (c->deadline == 0 || grace < c->deadline)
		c->deadline = grace;
	if (c->st != C_HANDSHAKE) { /* the timer waits for the new deadline too */
		ev_timer_stop(c->w->loop, &c->timer);
		ev_timer_set(&c->timer, timer_wait(c, c->last_activity + c->timeout -
		    ev_now(c->w->loop)), 0.);
		ev_timer_start(c->w->loop, &c->timer);
	}
	return 0;
}

void
gw_conns_recheck(struct gw_worker *w)
{
	struct conn *c = w->conns, *next;

	for (; c != NULL; c = next) {
		next = c->next; /* c may be freed */
		if (c->st != C_HANDSHAKE) /* those are checked as they finish */
			(void)recheck(c);
	}
}

/* --- Backend --- */

static void on_backend(struct ev_loop *loop, ev_io *io, int revents);
static void upstream_start(struct conn *c);
static void upstream_step(struct conn *c);

static void
drop_backend(struct conn *c)
{
	if (c->bfd >= 0) {
		ev_io_stop(c->w->loop, &c->bio);
		c->bev = 0;
		close(c->bfd);
		c->bfd = -1;
	}
	c->no_backend = 1;
}

/* tcp mode closes; http mode answers 502, after the request has arrived so
 * the client is reading when the answer comes. */
static void
backend_failed(struct conn *c, const char *what, int e)
{
	char why[400];

	atomic_fetch_add_explicit(&c->w->m->backend_errors, 1, memory_order_relaxed);
	snprintf(why, sizeof(why), "backend %s %s: %s", c->l->target_str, what, strerror(e));
	if (c->l->mode != GW_MODE_HTTP || c->replying) {
		conn_close(c, why);
		return;
	}
	drop_backend(c);
	c->st = C_OPEN;
	arm_timer(c, c->l->handshake_timeout);
	/* The failure stays the cause in the log, whatever ends the connection. */
	set_why(c, "%s", why);
	c->deny_status = 502;
	c->deny_reason = NULL;
	if (c->heads > 0 && reply_error(c, 502, NULL) != 0)
		return;
	pump(c);
}

static void
backend_connect(struct conn *c)
{
	int one = 1;

	c->bfd = socket(c->l->target_addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->bfd < 0) {
		backend_failed(c, "socket", errno);
		return;
	}
	setsockopt(c->bfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	ev_io_init(&c->bio, on_backend, c->bfd, 0);
	c->bio.data = c;
	c->st = C_CONNECTING;
	arm_timer(c, c->l->connect_timeout);
	if (connect(c->bfd, (struct sockaddr *)&c->l->target_addr, c->l->target_len) != 0 &&
	    errno != EINPROGRESS) {
		backend_failed(c, "connect", errno);
		return;
	}
	set_events(c, &c->bio, &c->bev, EV_WRITE);
	pump(c);
}

static void
backend_connected(struct conn *c)
{
	int e = 0;
	socklen_t len = sizeof(e);

	if (getsockopt(c->bfd, SOL_SOCKET, SO_ERROR, &e, &len) != 0)
		e = errno;
	if (e != 0) {
		backend_failed(c, "connect", e);
		return;
	}
	if (c->l->client) {
		upstream_start(c);
		return;
	}
	c->st = C_OPEN;
	c->be_rd_ready = c->be_wr_ready = 1;
	arm_timer(c, c->l->idle_timeout);
	pump(c);
}

static void
on_backend(struct ev_loop *loop, ev_io *io, int revents)
{
	struct conn *c = io->data;

	if (c->st == C_CONNECTING) {
		backend_connected(c);
		return;
	}
	if (c->st == C_UPSTREAM) {
		upstream_step(c);
		return;
	}
	if (revents & c->be_rd_need)
		c->be_rd_ready = 1;
	if (revents & c->be_wr_need)
		c->be_wr_ready = 1;
	pump(c);
}

/* --- Client mode: TLS to the target --- */

/* The handshake with the target ended; c->tls holds the outcome. */
static void
upstream_done(struct conn *c)
{
	struct gw_peer p;

	c->resumed = gw_tls_resumed(c->tls) ? 1 : 0;
	if (gw_tls_peer(c->tls, &p, 0) != 0) {
		gw_peer_clear(&p);
		conn_close(c, "out of memory reading the server certificate");
		return;
	}
	gw_log_field(c->cn, sizeof(c->cn), p.cn);
	gw_peer_clear(&p);
	c->verify = c->l->insecure ? "insecure" : "ok";
	if (c->l->insecure)
		gw_log_limited(&c->l->insecure_log, "WARNING: listener %s: connected to %s without "
		    "verifying its certificate (--insecure)", c->l->name, c->l->target_str);
	atomic_fetch_add_explicit(&c->w->m->hs[GW_HS_OK], 1, memory_order_relaxed);
	if (c->resumed)
		atomic_fetch_add_explicit(&c->w->m->resumed, 1, memory_order_relaxed);
	c->st = C_OPEN;
	c->pg_local = c->l->starttls == GW_STARTTLS_POSTGRES;
	c->cl_rd_ready = c->cl_wr_ready = 1;
	c->be_rd_ready = c->be_wr_ready = 1;
	c->tls_rd_need = EV_READ;
	c->tls_wr_need = EV_WRITE;
	arm_timer(c, c->l->idle_timeout);
	pump(c);
}

static void
upstream_handshake(struct conn *c)
{
	enum gw_io r = gw_tls_handshake(c->tls);
	char why[512];

	switch (r) {
	case GW_IO_OK:
		upstream_done(c);
		return;
	case GW_IO_WANT_READ:
		set_events(c, &c->bio, &c->bev, EV_READ);
		return;
	case GW_IO_WANT_WRITE:
		set_events(c, &c->bio, &c->bev, EV_WRITE);
		return;
	default: {
		const char *e = r == GW_IO_EOF ? "the server closed the connection" :
		    gw_tls_error(c->tls);
		/* After an 'S', a record that is not TLS: bytes slipped in before
		 * the handshake (CVE-2021-23222's injection), or not PostgreSQL. */
		int injected = c->l->starttls == GW_STARTTLS_POSTGRES && r != GW_IO_EOF &&
		    strstr(e, "wrong version number") != NULL;
		atomic_fetch_add_explicit(&c->w->m->hs[GW_HS_FAILED], 1, memory_order_relaxed);
		snprintf(why, sizeof(why), "TLS to %s failed: %s%s", c->l->target_str, e,
		    injected ? " (after its 'S' the server sent something that is not TLS: "
		    "bytes slipped in before the handshake by the server or a man in the "
		    "middle; none reached the client)" : "");
		conn_close(c, why);
	}
	}
}

/* The answer to the SSLRequest: one byte, read alone, so that whatever
 * follows it belongs to the TLS handshake (bytes a server or a man in the
 * middle slipped in before it then fail the handshake instead of reaching
 * the client as plaintext). */
static void
upstream_sslreq_answer(struct conn *c)
{
	unsigned char ch = 0;
	ssize_t n = recv(c->bfd, &ch, 1, 0);
	char why[300];

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (gw_pg_server_answer(n, ch, errno, c->l->target_str, why, sizeof(why)) == 0) {
		c->sslreq = 0;
		upstream_step(c);
		return;
	}
	atomic_fetch_add_explicit(&c->w->m->backend_errors, 1, memory_order_relaxed);
	set_why(c, "%s", why);
	conn_close(c, "starttls failed");
}

/* Connected to the target: the SSLRequest first with --starttls postgres,
 * then the TLS handshake. The client's bytes wait (in its socket or the
 * buffer) until the tunnel is up. */
static void
upstream_start(struct conn *c)
{
	c->st = C_UPSTREAM;
	set_events(c, &c->cio, &c->cev, 0);
	arm_timer(c, c->l->handshake_timeout);
	if (c->l->starttls == GW_STARTTLS_POSTGRES) {
		/* 8 bytes into a socket just connected: they fit. */
		if (send(c->bfd, gw_pg_sslrequest, sizeof(gw_pg_sslrequest), MSG_NOSIGNAL) !=
		    (ssize_t)sizeof(gw_pg_sslrequest)) {
			set_why(c, "cannot send the PostgreSQL SSLRequest to %s: %s", c->l->target_str,
			    strerror(errno));
			conn_close(c, "starttls failed");
			return;
		}
		c->sslreq = 1;
		set_events(c, &c->bio, &c->bev, EV_READ);
		return;
	}
	upstream_step(c);
}

static void
upstream_step(struct conn *c)
{
	if (c->sslreq) {
		upstream_sslreq_answer(c);
		return;
	}
	if (c->tls == NULL && (c->tls = gw_tls_client_conn(c->l->upstream, c->bfd)) == NULL) {
		conn_close(c, "cannot create a TLS session");
		return;
	}
	upstream_handshake(c);
}

/* --- Handshake --- */

static int
queue_proxy_header(struct conn *c, const struct gw_peer *p)
{
	struct sockaddr_storage local, peer;
	socklen_t llen = sizeof(local), plen = sizeof(peer);
	struct gw_proxy_info pi;
	int n;

	if (getsockname(c->cfd, (struct sockaddr *)&local, &llen) != 0 ||
	    getpeername(c->cfd, (struct sockaddr *)&peer, &plen) != 0 ||
	    buf_take(c, &c->c2b) != 0)
		return -1;
	memset(&pi, 0, sizeof(pi));
	pi.src = &peer;
	pi.dst = &local;
	pi.tls = 1;
	pi.cert_conn = p->present;
	pi.cert_verified = p->verified;
	pi.version = gw_tls_version(c->tls);
	pi.cipher = gw_tls_cipher(c->tls);
	pi.cn = p->cn;
	pi.sni = gw_tls_sni(c->tls);
	n = gw_proxy_v2_build(&pi, (unsigned char *)c->c2b.p + c->c2b.len, buf_room(&c->c2b));
	if (n < 0)
		return -1;
	c->c2b.len += (uint32_t)n;
	return 0;
}

static void
handshake_done(struct conn *c)
{
	struct gw_peer p;
	int http = c->l->mode == GW_MODE_HTTP;

	unauth_done(c);
	c->resumed = gw_tls_resumed(c->tls) ? 1 : 0;
	c->hs = GW_HS_OK;
	if (gw_tls_peer(c->tls, &p, 0) != 0) {
		gw_peer_clear(&p);
		conn_close(c, "out of memory reading the client certificate");
		return;
	}
	gw_log_field(c->cn, sizeof(c->cn), p.cn);
	if (p.present && !p.verified)
		c->verr = p.verify_error;
	c->verify = !p.present ? "none" : p.verified ? "ok" : "failed";
	if (http) {
		http_check(c, &p);
		if ((c->http = gw_http_new(c->l->allow_connect ? GW_HTTP_ALLOW_CONNECT : 0)) == NULL ||
		    (c->deny_status == 0 && attach_ident(c, p.present) != 0)) {
			gw_peer_clear(&p);
			conn_close(c, "out of memory");
			return;
		}
	} else if (c->l->proxy_v2 && queue_proxy_header(c, &p) != 0) {
		gw_peer_clear(&p);
		conn_close(c, "cannot build the PROXY header");
		return;
	}
	gw_peer_clear(&p);
	if (c->w->recheck != NULL && recheck(c) != 0)
		return;
	atomic_fetch_add_explicit(&c->w->m->hs[c->hs], 1, memory_order_relaxed);
	if (c->resumed)
		atomic_fetch_add_explicit(&c->w->m->resumed, 1, memory_order_relaxed);
	c->cl_rd_ready = c->cl_wr_ready = 1;
	c->tls_rd_need = EV_READ;
	c->tls_wr_need = EV_WRITE;
	if (c->deny_status != 0) {
		/* Wait for the request so the client reads our answer, like nginx. */
		c->no_backend = 1;
		c->st = C_OPEN;
		arm_timer(c, c->l->handshake_timeout);
		pump(c);
		return;
	}
	if (http) {
		/* Like nginx, connect when the first request arrives: a client
		 * that only handshakes (a probe, a health check) costs the
		 * backend nothing. tcp mode connects now: there the backend
		 * may speak first. */
		c->lazy = 1;
		c->st = C_OPEN;
		arm_timer(c, c->l->idle_timeout);
		pump(c);
		return;
	}
	backend_connect(c);
}

/* Waits, reading nothing, until the client's first TLS record is complete
 * in the socket: SO_RCVLOWAT makes the socket readable only once that many
 * bytes are there, so a slow ClientHello wakes the loop once, not per
 * byte. Then the TLS state is made and the handshake starts. A wake-up
 * that does not bring the bytes asked for (the kernel caps the mark) goes
 * on to the handshake rather than wait again. */
static void
first_record(struct conn *c)
{
	long need = gw_tls_first_record(c->cfd);
	int one = 1;

	if (need < 0) {
		conn_close(c, "closed before the handshake");
		return;
	}
	if (need > 0 && need > c->lowat) {
		int mark = (int)need;
		if (setsockopt(c->cfd, SOL_SOCKET, SO_RCVLOWAT, &mark, sizeof(mark)) == 0) {
			c->lowat = (uint16_t)need;
			return;
		}
	}
	if (c->lowat > 0)
		setsockopt(c->cfd, SOL_SOCKET, SO_RCVLOWAT, &one, sizeof(one));
	if ((c->tls = gw_tls_new(c->l->tls, c->cfd)) == NULL) {
		conn_close(c, "cannot create a TLS session");
		return;
	}
	do_handshake(c);
}

static enum gw_hs
classify_failure(const char *why)
{
	if (strstr(why, "no client certificate") != NULL)
		return GW_HS_NO_CERT;
	if (strstr(why, "allow list") != NULL)
		return GW_HS_DENIED;
	if (strncmp(why, "client certificate", 18) == 0)
		return GW_HS_BAD_CERT;
	return GW_HS_FAILED;
}

static void
do_handshake(struct conn *c)
{
	enum gw_io r = gw_tls_handshake(c->tls);

	switch (r) {
	case GW_IO_OK:
		handshake_done(c);
		return;
	case GW_IO_WANT_READ:
		set_events(c, &c->cio, &c->cev, EV_READ);
		return;
	case GW_IO_WANT_WRITE:
		set_events(c, &c->cio, &c->cev, EV_WRITE);
		return;
	default: {
		char why[200];
		enum gw_hs hs = classify_failure(gw_tls_error(c->tls));
		if (r == GW_IO_EOF && !gw_tls_started(c->tls)) {
			conn_close(c, "closed before the handshake");
			return;
		}
		atomic_fetch_add_explicit(&c->w->m->hs[hs], 1, memory_order_relaxed);
		snprintf(why, sizeof(why), "handshake failed: %s",
		    r == GW_IO_EOF ? "client closed" : gw_tls_error(c->tls));
		conn_close(c, why);
	}
	}
}

/* --- The pump --- */

enum { STEP_NONE = 0, STEP_MOVED = 1, STEP_CLOSED = 2 };

static int
client_read(struct conn *c)
{
	struct buf *b = c->http ? &c->hin : &c->c2b;
	enum gw_io r;
	size_t n = 0;
	int drained = 0;

	if (!c->cl_rd_ready || c->cl_eof || c->refusing || buf_room(b) == 0)
		return STEP_NONE;
	if (buf_take(c, b) != 0) {
		conn_close(c, "out of memory");
		return STEP_CLOSED;
	}
	r = side_read(cl_tls(c), c->cfd, b->p + b->len, buf_room(b), &n, &drained);
	switch (r) {
	case GW_IO_OK:
		b->len += (uint32_t)n;
		c->bytes_in += n;
		/* Live counters: this worker's own slot, so uncontended. */
		atomic_fetch_add_explicit(&c->w->m->bytes_in, n, memory_order_relaxed);
		/* Nothing left to read until the socket says so (level-triggered:
		 * bytes that come meanwhile still wake us). */
		if (drained) {
			c->cl_rd_ready = 0;
			c->tls_rd_need = EV_READ;
		}
		return STEP_MOVED;
	case GW_IO_WANT_READ:
	case GW_IO_WANT_WRITE:
		c->cl_rd_ready = 0;
		c->tls_rd_need = r == GW_IO_WANT_READ ? EV_READ : EV_WRITE;
		if (buf_data(b) == 0)
			buf_give(c, b);
		return STEP_NONE;
	case GW_IO_EOF:
		c->cl_eof = 1;
		if (c->first_eof == 0)
			c->first_eof = 'c';
		return STEP_MOVED;
	default:
		if (buf_data(b) == 0)
			buf_give(c, b);
		if (c->replying) {
			c->cl_eof = 1;
			return STEP_MOVED;
		}
		{
			char why[200];
			snprintf(why, sizeof(why), "client: %s", side_error(cl_tls(c)));
			conn_close(c, why);
		}
		return STEP_CLOSED;
	}
}

/* The client's address for the backend, as nginx users configure it
 * (X-Forwarded-For, X-Real-IP, X-Forwarded-Proto) and as RFC 7239 writes it
 * (Forwarded; an IPv6 address quoted in brackets). The client's own fields
 * of these names were dropped by the filter. */
static void
forwarded_lines(struct conn *c, struct gw_out *o)
{
	char host[INET6_ADDRSTRLEN];
	int v6 = c->peer.sa.sa_family == AF_INET6;

	format_peer(&c->peer, host, sizeof(host), 0);
	gw_out_header(o, "X-Forwarded-For", host, 0);
	gw_out_header(o, "X-Real-IP", host, 0);
	gw_out_header(o, "X-Forwarded-Proto", "https", 0);
	gw_out_str(o, v6 ? "Forwarded: for=\"[" : "Forwarded: for=");
	/* RFC 7239's word for a peer without an address */
	gw_out_str(o, c->peer.sa.sa_family == AF_UNIX ? "unknown" : host);
	gw_out_str(o, v6 ? "]\";proto=https\r\n" : ";proto=https\r\n");
}

/* The answer to a refused request (status 0: the close alone), now. */
static int
refusal_now(struct conn *c, int status, const char *reason)
{
	if (status == 0) {
		end_after_flush(c);
		return STEP_MOVED;
	}
	return reply_error(c, status, reason) != 0 ? STEP_CLOSED : STEP_MOVED;
}

/* A refused request is answered after the responses owed to the requests
 * forwarded before it, so that a pipeline keeps its order (they used to be
 * cut off by the refusal); meanwhile the client is not read and the backend
 * gets nothing new (gw_http_response says when they are complete). */
static int
refuse_request(struct conn *c, int status, const char *reason)
{
	if (gw_http_owed(c->http) == 0)
		return refusal_now(c, status, reason);
	c->refusing = 1;
	c->refuse_status = status;
	c->refuse_reason = reason;
	/* Waiting for the backend is idle time; a head's clock (a head that
	 * came while the refusal was pending) no longer runs. */
	arm_timer(c, c->l->idle_timeout);
	return STEP_MOVED;
}

static int
http_head(struct conn *c)
{
	char fwd[256];
	struct gw_out o = { fwd, 0, sizeof(fwd), 0 };
	struct gw_text extra[2];
	size_t need;
	int rc;

	if (c->deny_status != 0) {
		(void)gw_http_stop(c->http);
		return refuse_request(c, c->deny_status, c->deny_reason);
	}
	/* The deadline may be due in this very loop iteration. */
	if (!c->expired && c->deadline > 0 && c->deadline <= ev_now(c->w->loop) &&
	    on_deadline(c) != 0)
		return STEP_CLOSED;
	if (c->last_head) { /* the backend kept the connection after "close" */
		(void)gw_http_stop(c->http);
		return refuse_request(c, 0, NULL);
	}
	/* The certificate's lines are shared; the address is this connection's. */
	extra[0].p = gw_ident_text(c->ident, &extra[0].len);
	forwarded_lines(c, &o);
	extra[1].p = fwd;
	extra[1].len = o.len;
	if (c->expired) /* past max-conn-lifetime: the last request */
		gw_http_close_next(c->http);
	need = gw_http_head_size(c->http, extra[0].len + extra[1].len);
	if ((rc = buf_reserve(c, &c->c2b, need)) < 0) {
		conn_close(c, "out of memory");
		return STEP_CLOSED;
	}
	if (rc > 0)
		return STEP_NONE; /* the previous request is still going out */
	c->c2b.len += (uint32_t)gw_http_head_write(c->http, c->c2b.p + c->c2b.len, extra, 2);
	c->heads++;
	c->last_head = c->expired;
	return STEP_MOVED;
}

static int
http_filter(struct conn *c)
{
	size_t used = 0, out = 0;
	enum gw_http_ev ev;
	const char *reason, *why;
	int status;

	if (c->http == NULL || c->replying || c->refusing ||
	    (buf_data(&c->hin) == 0 && !gw_http_pending(c->http)))
		return STEP_NONE;
	if (buf_take(c, &c->c2b) != 0) {
		conn_close(c, "out of memory");
		return STEP_CLOSED;
	}
	ev = gw_http_feed(c->http, c->hin.p ? c->hin.p + c->hin.off : "", buf_data(&c->hin), &used,
	    c->c2b.p + c->c2b.len, buf_room(&c->c2b), &out);
	c->hin.off += (uint32_t)used;
	c->c2b.len += (uint32_t)out;
	if (buf_data(&c->hin) == 0)
		buf_give(c, &c->hin);
	if (buf_data(&c->c2b) == 0)
		buf_give(c, &c->c2b);
	switch (ev) {
	case GW_HTTP_HEAD:
		return http_head(c);
	case GW_HTTP_REFUSE:
		status = gw_http_refusal(c->http, &reason, &why);
		set_why(c, "%s", why);
		return refuse_request(c, status, reason);
	default:
		return used || out ? STEP_MOVED : STEP_NONE;
	}
}

/* Client mode with --starttls postgres: the local side is plain and the
 * TLS is the gateway's, so the client's own SSLRequest or GSSENCRequest
 * (libpq sends one with its default sslmode=prefer) is answered 'N' here,
 * as a server without TLS answers, and libpq goes on in plain text to its
 * startup message. Forwarded, it reached PostgreSQL inside the tunnel,
 * which refused it, and psql failed unless told sslmode=disable. Whatever
 * else comes first is the startup message and goes on as it is; until 8
 * bytes tell, nothing is sent. */
static int
pg_local_filter(struct conn *c)
{
	size_t have = buf_data(&c->c2b);
	enum gw_pg_first first;
	int ssl;

	if (!c->pg_local || have == 0)
		return STEP_NONE;
	first = gw_pg_client_first((const unsigned char *)c->c2b.p + c->c2b.off, have, c->cl_eof);
	if (first == GW_PG_WAIT)
		return STEP_NONE;
	if (first == GW_PG_PASS) {
		c->pg_local = 0;
		return STEP_MOVED;
	}
	ssl = first == GW_PG_SSLREQUEST;
	/* Nothing has gone to the client yet (PostgreSQL speaks after the
	 * startup message): one byte into an empty socket buffer. */
	if (buf_data(&c->b2c) != 0 || send(c->cfd, "N", 1, MSG_NOSIGNAL) != 1) {
		set_why(c, "cannot answer the client's %s: %s", ssl ? "SSLRequest" : "GSSENCRequest",
		    buf_data(&c->b2c) != 0 ? "the server spoke first" : strerror(errno));
		conn_close(c, "client error");
		return STEP_CLOSED;
	}
	c->c2b.off += GW_PG_REQUEST_LEN;
	if (buf_data(&c->c2b) == 0)
		buf_give(c, &c->c2b);
	return STEP_MOVED; /* a GSSENCRequest may be followed by an SSLRequest */
}

static int
backend_write(struct conn *c)
{
	enum gw_io r;
	size_t n = 0;

	if (c->st != C_OPEN || c->no_backend || !c->be_wr_ready || buf_data(&c->c2b) == 0 ||
	    c->pg_local)
		return STEP_NONE;
	r = side_write(be_tls(c), c->bfd, c->c2b.p + c->c2b.off, buf_data(&c->c2b), &n);
	if (r == GW_IO_WANT_READ || r == GW_IO_WANT_WRITE) {
		c->be_wr_ready = 0;
		c->be_wr_need = r == GW_IO_WANT_READ ? EV_READ : EV_WRITE;
		return STEP_NONE;
	}
	if (r != GW_IO_OK) {
		char why[200];
		snprintf(why, sizeof(why), "backend write: %s", side_error(be_tls(c)));
		conn_close(c, why);
		return STEP_CLOSED;
	}
	c->c2b.off += (uint32_t)n;
	if (buf_data(&c->c2b) == 0)
		buf_give(c, &c->c2b);
	return STEP_MOVED;
}

/* Raises the backend socket's receive buffer (and with it the window the
 * backend may fill) once the connection proves to be a bulk transfer to a
 * fast client. The kernel grows a receive buffer by how much each read
 * takes, and the 16 KB reads that keep records and buffers small leave it
 * near 1 MB with a window that closes after every read: each read then
 * costs a window update, and the backend's queued data is sent from the
 * gateway's thread. A larger window lets the backend send from its own.
 * A buffer set by hand no longer moves its window clamp along, so the
 * clamp is raised with it.
 *
 * Proof of a fast client: GW_BULK_RUN bytes forwarded without the client
 * pushing back, and more than twice what the client socket's send buffer
 * holds (a slow client's first burst fills that buffer without a push
 * back). Checked once per MB. Like the kernel's autotuning, the buffer only
 * grows. */
static void
backend_bulk(struct conn *c, size_t n)
{
	int want = c->w->bulk_rcvbuf, cur = 0, snd = 0;
	socklen_t len = sizeof(cur), slen = sizeof(snd);
	uint32_t before = c->run;

	if (c->bulk || want == 0)
		return;
	c->run = n >= UINT32_MAX - c->run ? UINT32_MAX : c->run + (uint32_t)n;
	if (c->run < GW_BULK_RUN || before >> 20 == c->run >> 20)
		return;
	if (getsockopt(c->cfd, SOL_SOCKET, SO_SNDBUF, &snd, &slen) != 0 ||
	    c->run / 2 < (uint32_t)snd)
		return;
	c->bulk = 1;
	/* The kernel doubles the value asked for; it reports the doubled one. */
	if (getsockopt(c->bfd, SOL_SOCKET, SO_RCVBUF, &cur, &len) == 0 && cur < 2 * want &&
	    setsockopt(c->bfd, SOL_SOCKET, SO_RCVBUF, &want, sizeof(want)) == 0)
		setsockopt(c->bfd, IPPROTO_TCP, TCP_WINDOW_CLAMP, &want, sizeof(want));
}

/* The backend's bytes past gw_http_response_keep() are not for the client:
 * the responses owed before a refusal are complete (rc 1), or the backend
 * broke HTTP (-1). The responses before go out (they used to be cut off
 * with the connection), then the refusal, or a 502 in place of a broken
 * response of which the client has not had a byte. */
static int
http_response_end(struct conn *c, int rc)
{
	int clean;
	size_t keep = gw_http_response_keep(c->http, &clean);

	c->b2c.len += (uint32_t)keep;
	if (rc > 0)
		return refusal_now(c, c->refuse_status, c->refuse_reason);
	atomic_fetch_add_explicit(&c->w->m->backend_errors, 1, memory_order_relaxed);
	set_why(c, "backend %s: %s", c->l->target_str, gw_http_response_error(c->http));
	if (clean && gw_http_outstanding(c->http) > 0)
		return refusal_now(c, 502, NULL);
	end_after_flush(c);
	return STEP_MOVED;
}

static int
backend_read(struct conn *c)
{
	size_t room, n = 0;
	enum gw_io r;
	int drained = 0, rc;

	if (c->st != C_OPEN || c->no_backend || !c->be_rd_ready || c->be_eof || buf_room(&c->b2c) == 0)
		return STEP_NONE;
	if (buf_take(c, &c->b2c) != 0) {
		conn_close(c, "out of memory");
		return STEP_CLOSED;
	}
	room = buf_room(&c->b2c);
	r = side_read(be_tls(c), c->bfd, c->b2c.p + c->b2c.len, room, &n, &drained);
	if (r == GW_IO_OK) {
		/* http: responses are matched to requests; that decides when an
		 * upgrade turns the connection into a tunnel. */
		if (c->http != NULL && (rc = gw_http_response(c->http, c->b2c.p + c->b2c.len, n)) != 0)
			return http_response_end(c, rc);
		c->b2c.len += (uint32_t)n;
		backend_bulk(c, n);
		/* Less than asked for: the socket is empty, so the next read
		 * would only say EAGAIN. The watcher is level-triggered, so
		 * bytes that come meanwhile still wake us. */
		if (drained)
			c->be_rd_ready = 0;
		return STEP_MOVED;
	}
	if (r == GW_IO_WANT_READ || r == GW_IO_WANT_WRITE) {
		c->be_rd_ready = 0;
		c->be_rd_need = r == GW_IO_WANT_READ ? EV_READ : EV_WRITE;
		if (buf_data(&c->b2c) == 0)
			buf_give(c, &c->b2c);
		return STEP_NONE;
	}
	if (r == GW_IO_ERROR) {
		c->be_cut = be_tls(c) != NULL;
		set_why(c, "backend read: %s%s", side_error(be_tls(c)),
		    c->be_cut ? "; the client is reset, not sent an end" : "");
	}
	c->be_eof = 1;
	if (c->first_eof == 0)
		c->first_eof = 'b';
	return STEP_MOVED;
}

static int
client_write(struct conn *c)
{
	enum gw_io r;
	size_t n = 0;

	if (!c->cl_wr_ready || buf_data(&c->b2c) == 0)
		return STEP_NONE;
	/* A burst of records (a large body) goes out corked: the kernel sends
	 * full-sized segments instead of one per 16 KB record, which halves the
	 * per-packet work on both ends. A single record (a small response) is
	 * never delayed: the cork comes only with the second one, and pump()
	 * lifts it before it waits. */
	if (c->pump_writes == 1 && !c->corked) {
		int one = 1;
		if (setsockopt(c->cfd, IPPROTO_TCP, TCP_CORK, &one, sizeof(one)) == 0)
			c->corked = 1;
	}
	r = side_write(cl_tls(c), c->cfd, c->b2c.p + c->b2c.off, buf_data(&c->b2c), &n);
	switch (r) {
	case GW_IO_OK:
		c->pump_writes++;
		c->b2c.off += (uint32_t)n;
		c->bytes_out += n;
		atomic_fetch_add_explicit(&c->w->m->bytes_out, n, memory_order_relaxed);
		if (buf_data(&c->b2c) == 0)
			buf_give(c, &c->b2c);
		return STEP_MOVED;
	case GW_IO_WANT_READ:
	case GW_IO_WANT_WRITE:
		c->cl_wr_ready = 0;
		c->run = 0;
		c->tls_wr_need = r == GW_IO_WANT_READ ? EV_READ : EV_WRITE;
		return STEP_NONE;
	default: {
		char why[200];
		snprintf(why, sizeof(why), "client write: %s", side_error(cl_tls(c)));
		conn_close(c, why);
		return STEP_CLOSED;
	}
	}
}

/* Client mode, the target's TLS stream cut short (TCP closed without a
 * close_notify, as a man in the middle can do at any byte) or broken: the
 * plain client cannot be told by a FIN, which would look like the server's
 * clean end, so it gets a reset (SO_LINGER 0) once what came before went
 * out to its socket. A unix socket has no reset (AF_UNIX ignores the
 * linger): its client reads an end, and the log line is the only sign. */
static void
reset_client(struct conn *c)
{
	struct linger lg = { 1, 0 };

	(void)setsockopt(c->cfd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	conn_close(c, "the target's TLS stream broke; reset the client");
}

/* Passes EOFs on once the data before them has gone out. Returns 1 when the
 * connection is finished. */
static int
propagate_eof(struct conn *c)
{
	int c2b_done = c->cl_eof && buf_data(&c->c2b) == 0 && buf_data(&c->hin) == 0 &&
	    !(c->http != NULL && gw_http_pending(c->http));
	int b2c_done = c->be_eof && buf_data(&c->b2c) == 0;

	/* No request came, so there is nothing to answer: the refusal (or
	 * the 502) waits for a request only so that the client reads it. */
	if (c2b_done && c->deny_status != 0 && !c->replying && !c->refusing) {
		close_unanswered(c, "client closed before a request");
		return 1;
	}
	if (c2b_done && c->lazy) {
		conn_close(c, "client closed before a request");
		return 1;
	}
	if (c2b_done && !c->be_shut && c->st == C_OPEN) {
		if (!c->no_backend)
			side_shutdown(be_tls(c), c->bfd);
		c->be_shut = 1;
	}
	if (b2c_done && c->be_cut) {
		reset_client(c);
		return 1;
	}
	if (b2c_done && !c->cl_shut) {
		side_shutdown(cl_tls(c), c->cfd);
		c->cl_shut = 1;
	}
	/* http has no half-close worth keeping: a finished response ends it. */
	if (c->cl_shut && (c->be_shut || c->l->mode == GW_MODE_HTTP)) {
		conn_close(c, c->first_eof == 'b' ? "backend closed" :
		    c->first_eof == 'c' ? "client closed" : "done");
		return 1;
	}
	return 0;
}

/* The order matters little for correctness (the loop runs until nothing
 * moves) but reading before writing fills each buffer before it drains. */
static int (*const steps[])(struct conn *) = {
	client_read, http_filter, pg_local_filter, backend_write, backend_read, client_write,
};

static void
pump(struct conn *c)
{
	int moved, rc, in_room, wantc = 0, wantb = 0;

	if (c->st == C_HANDSHAKE || c->st == C_UPSTREAM)
		return;
	c->pump_writes = 0;
	do {
		moved = 0;
		for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
			if ((rc = steps[i](c)) == STEP_CLOSED)
				return;
			moved |= rc;
		}
		if (propagate_eof(c))
			return;
		if (moved)
			touch(c);
	} while (moved);
	if (c->corked) {
		int zero = 0;
		setsockopt(c->cfd, IPPROTO_TCP, TCP_CORK, &zero, sizeof(zero));
		c->corked = 0;
	}
	http_timer(c);
	if (c->lazy && c->heads > 0) {
		c->lazy = 0;
		backend_connect(c); /* pumps again once it has a socket */
		return;
	}
	in_room = buf_room(c->http ? &c->hin : &c->c2b) > 0;
	if (!c->cl_eof && !c->cl_rd_ready && !c->refusing && in_room)
		wantc |= c->tls_rd_need;
	if (buf_data(&c->b2c) > 0 && !c->cl_wr_ready)
		wantc |= c->tls_wr_need;
	set_events(c, &c->cio, &c->cev, wantc);
	if (c->bfd < 0 || c->no_backend)
		return;
	if (c->st == C_CONNECTING) {
		wantb = EV_WRITE;
	} else {
		if (!c->be_eof && !c->be_rd_ready && buf_room(&c->b2c) > 0)
			wantb |= c->be_rd_need;
		if (buf_data(&c->c2b) > 0 && !c->be_wr_ready)
			wantb |= c->be_wr_need;
	}
	set_events(c, &c->bio, &c->bev, wantb);
}

static void
on_client(struct ev_loop *loop, ev_io *io, int revents)
{
	struct conn *c = io->data;

	if (c->st == C_HANDSHAKE) {
		if (c->tls == NULL)
			first_record(c);
		else
			do_handshake(c);
		return;
	}
	if (revents & c->tls_rd_need)
		c->cl_rd_ready = 1;
	if (revents & c->tls_wr_need)
		c->cl_wr_ready = 1;
	pump(c);
}

void
gw_conn_start(struct gw_worker *w, struct gw_listener_rt *l, int fd,
    const struct sockaddr_storage *peer)
{
	union peer_addr pa;
	struct conn *c;
	const char *over;
	uint16_t slot;
	int one = 1;

	memset(&pa, 0, sizeof(pa));
	if (peer->ss_family == AF_INET || peer->ss_family == AF_INET6)
		memcpy(&pa, peer, peer->ss_family == AF_INET ? sizeof(pa.in) : sizeof(pa.in6));
	else
		pa.sa.sa_family = AF_UNIX;
	/* Over a limit on unfinished handshakes: closed before anything is
	 * allocated, and logged as a rate-limited count, not a line each. */
	slot = addr_slot(&pa);
	/* A client listener's clients speak plaintext, and the handshake is
	 * ours: nothing to hold back. */
	if (!l->client && (over = unauth_take(l, slot)) != NULL) {
		close(fd);
		gw_conn_place_put(l);
		atomic_fetch_add_explicit(&w->m->refused_unauth, 1, memory_order_relaxed);
		gw_worker_refused(w, l, over);
		return;
	}
	atomic_fetch_add_explicit(&w->m->conns_total, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&w->m->conns_active, 1, memory_order_relaxed);
	w->nconns++;
	w->lconns[l - w->rt->l]++;
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		close(fd);
		if (!l->client)
			unauth_put(l, slot);
		atomic_fetch_sub_explicit(&w->m->conns_active, 1, memory_order_relaxed);
		gw_worker_conn_done(w, l);
		return;
	}
	c->w = w;
	c->l = l;
	c->next = w->conns;
	if (w->conns != NULL)
		w->conns->prev = c;
	w->conns = c;
	c->cfd = fd;
	c->bfd = -1;
	c->started = ev_now(w->loop);
	c->peer = pa;
	c->addr_slot = slot;
	c->unauth = !l->client;
	c->be_rd_need = EV_READ;
	c->be_wr_need = EV_WRITE;
	if (l->max_conn_lifetime > 0)
		c->deadline = c->started + l->max_conn_lifetime;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	ev_io_init(&c->cio, on_client, fd, 0);
	c->cio.data = c;
	ev_init(&c->timer, on_timer);
	c->timer.data = c;
	ev_io_init(&c->bio, on_backend, -1, 0);
	c->bio.data = c;
	if (l->client) { /* plain in: straight to the target */
		backend_connect(c);
		return;
	}
	/* No TLS state yet: it is made when the ClientHello has arrived
	 * whole (first_record), so a connection that sends nothing, or sends
	 * its ClientHello a byte at a time, holds this struct alone. */
	c->st = C_HANDSHAKE;
	arm_timer(c, l->handshake_timeout);
	set_events(c, &c->cio, &c->cev, EV_READ);
}
