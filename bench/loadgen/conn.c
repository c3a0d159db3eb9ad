/* One thread's event loop and the per-connection state machine.
 *
 * handshake/resume: connect, handshake, send close_notify, read until the
 * server closes. Waiting for the server's close (rather than dropping the
 * socket after our Finished) makes the count one of handshakes the server
 * completed, including its check of our certificate: a refused certificate
 * arrives as an alert and counts as an error.
 * resume: with the slot's newest ticket, resume, one GET with Connection:
 * close, close. The request is what a resuming client does; in our runs
 * nginx 1.22 resumed no ticket from a connection closed before any request.
 * requests/bulk: one GET at a time per keep-alive connection.
 * idle: handshake, one GET, then hold the connection without traffic. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>

#include "lg.h"

#define HEAD_MAX 8192 /* response head bound */
#define READ_BUF 65536

enum conn_state { ST_FREE, ST_CONNECTING, ST_HANDSHAKE, ST_SHUTDOWN, ST_DRAIN, ST_SEND, ST_RECV, ST_IDLE };

struct conn;

struct thr {
	const struct lg_run *run;
	const struct lg_opts *o;
	SSL_CTX *ctx;
	struct lg_stats *st;
	int ep;
	struct conn *conns;
	int nconns;
	int opened;		/* idle: slots opened so far */
	int pending;		/* idle: handshakes in flight */
	uint64_t fails;		/* idle: set-up failures, to give up on a broken server */
	uint64_t max_ops;	/* this thread's share of the bound */
	char req[512];
	size_t reqlen;
	unsigned char buf[READ_BUF];
	char *err;
	size_t errlen;
};

struct conn {
	struct thr *t;
	int fd;
	SSL *ssl;
	enum conn_state state;
	uint32_t ev;		/* epoll interest now registered, 0 = none */
	uint64_t t_op;		/* start of the operation being timed */
	SSL_SESSION *sess;	/* resume: the newest ticket for this slot */
	int served;		/* responses on this connection */
	/* response parsing */
	char head[HEAD_MAX];
	size_t hlen;
	int in_body;
	int status;
	int close_after;
	uint64_t left;
};

uint64_t lg_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int new_session_cb(SSL *ssl, SSL_SESSION *sess)
{
	struct conn *c = SSL_get_app_data(ssl);
	if (c == NULL)
		return 0;
	SSL_SESSION_free(c->sess);
	c->sess = sess; /* ownership: the slot keeps the reference we return 1 for */
	return 1;
}

SSL_CTX *lg_ctx_new(const struct lg_opts *o, char *err, size_t errlen)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	const char *what = "SSL_CTX_new";
	if (ctx == NULL)
		goto fail;
	what = "TLS 1.3 only";
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) != 1 ||
	    SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) != 1)
		goto fail;
	what = "--suites";
	if (SSL_CTX_set_ciphersuites(ctx, o->suites) != 1)
		goto fail;
	what = "--groups";
	if (SSL_CTX_set1_groups_list(ctx, o->groups) != 1)
		goto fail;
	if (o->cert != NULL) {
		what = o->cert;
		if (SSL_CTX_use_certificate_chain_file(ctx, o->cert) != 1)
			goto fail;
		what = o->key;
		if (SSL_CTX_use_PrivateKey_file(ctx, o->key, SSL_FILETYPE_PEM) != 1 ||
		    SSL_CTX_check_private_key(ctx) != 1)
			goto fail;
	}
	if (o->ca != NULL) {
		what = o->ca;
		if (SSL_CTX_load_verify_locations(ctx, o->ca, NULL) != 1)
			goto fail;
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	} else {
		SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	}
	/* A server that closes without close_notify is a clean end here. */
	SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
	if (o->mode == LG_RESUME) {
		SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
		SSL_CTX_sess_set_new_cb(ctx, new_session_cb);
	} else {
		SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	}
	return ctx;
fail:
	{
		const char *why = ERR_reason_error_string(ERR_peek_last_error());
		snprintf(err, errlen, "TLS setup failed at %s: %s", what, why != NULL ? why : "unknown error");
	}
	SSL_CTX_free(ctx);
	return NULL;
}

static int in_window(const struct thr *t, uint64_t now)
{
	return now >= t->run->t_measure && now < t->run->t_end;
}

static int done(const struct thr *t, uint64_t now)
{
	if (t->run->stop)
		return 1;
	if (t->o->mode == LG_IDLE)
		return 0;
	return now >= t->run->t_end || (t->max_ops > 0 && t->st->ops >= t->max_ops);
}

static int want(struct conn *c, uint32_t ev)
{
	struct epoll_event e = {.events = ev, .data.ptr = c};
	if (c->ev == ev)
		return 0;
	if (epoll_ctl(c->t->ep, c->ev == 0 ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, c->fd, &e) != 0)
		return -1;
	c->ev = ev;
	return 0;
}

/* Map the result of an SSL call: 1 = wait (interest set), 0 = clean end
 * (close_notify or EOF), -1 = failure. */
static int ssl_wait(struct conn *c, int r)
{
	int e = SSL_get_error(c->ssl, r);
	switch (e) {
	case SSL_ERROR_WANT_READ:
		return want(c, EPOLLIN) == 0 ? 1 : -1;
	case SSL_ERROR_WANT_WRITE:
		return want(c, EPOLLOUT) == 0 ? 1 : -1;
	case SSL_ERROR_ZERO_RETURN:
		return 0;
	case SSL_ERROR_SYSCALL:
		return errno == 0 ? 0 : -1;
	default:
		return -1;
	}
}

/* --plain: a read or write on the bare socket, returning as SSL_read and
 * SSL_write do, and its wait (ev: the event to wait for on EAGAIN). */
static int io_read(struct conn *c, void *buf, int len)
{
	ssize_t n;
	if (c->ssl != NULL)
		return SSL_read(c->ssl, buf, len);
	n = recv(c->fd, buf, (size_t)len, 0);
	return n > 0 ? (int)n : (n == 0 ? 0 : -1);
}

static int io_write(struct conn *c, const void *buf, int len)
{
	ssize_t n;
	if (c->ssl != NULL)
		return SSL_write(c->ssl, buf, len);
	n = send(c->fd, buf, (size_t)len, MSG_NOSIGNAL);
	return n > 0 ? (int)n : -1;
}

static int io_wait(struct conn *c, int r, uint32_t ev)
{
	if (c->ssl != NULL)
		return ssl_wait(c, r);
	if (r == 0)
		return 0;
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
		return want(c, ev) == 0 ? 1 : -1;
	return -1;
}

static void conn_open(struct conn *c);

static void conn_reset(struct conn *c, int abortive)
{
	if (c->ssl != NULL) {
		/* A clean end sends close_notify (best effort): OpenSSL marks the
		 * session of an SSL freed without it not resumable. */
		if (!abortive && SSL_is_init_finished(c->ssl) && !(SSL_get_shutdown(c->ssl) & SSL_SENT_SHUTDOWN))
			SSL_shutdown(c->ssl);
		SSL_set_app_data(c->ssl, NULL);
		SSL_free(c->ssl);
		c->ssl = NULL;
	}
	if (c->fd >= 0) {
		if (abortive) {
			/* RST: leaves no TIME_WAIT behind on our side. */
			struct linger l = {.l_onoff = 1, .l_linger = 0};
			setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
		}
		close(c->fd);
		c->fd = -1;
	}
	c->ev = 0;
	c->state = ST_FREE;
	ERR_clear_error();
}

/* The connection ended; open the next one where the mode wants it. */
static void conn_end(struct conn *c, int failed)
{
	struct thr *t = c->t;
	uint64_t now = lg_now_ns();
	enum lg_mode m = t->o->mode;
	int was_idle = c->state == ST_IDLE;
	int was_served = c->served > 0;
	conn_reset(c, failed);
	if (failed && in_window(t, now))
		t->st->errors++;
	if (m == LG_IDLE) {
		if (was_idle) {
			t->st->dropped++;
			return;
		}
		if (failed)
			t->fails++;
		if (t->fails > 100 + (uint64_t)t->nconns) {
			t->pending--; /* the server refuses us: give up on this slot */
			return;
		}
		conn_open(c); /* the same slot again: still pending */
		return;
	}
	if (done(t, now))
		return;
	if ((m == LG_REQUESTS || m == LG_BULK) && was_served && !failed && in_window(t, now))
		t->st->reconnects++;
	conn_open(c);
}

static void conn_step(struct conn *c);

static void conn_open(struct conn *c)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)c->t->o->port)};
	int one = 1;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK); /* 127.0.0.1 only, by design */
	c->t_op = lg_now_ns();
	c->served = 0;
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		snprintf(c->t->err, c->t->errlen, "socket: %s", strerror(errno));
		c->t->st->errors++;
		if (c->t->o->mode == LG_IDLE)
			c->t->pending--;
		return;
	}
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	c->state = ST_CONNECTING;
	if (connect(c->fd, (struct sockaddr *)&sa, sizeof sa) != 0 && errno != EINPROGRESS) {
		conn_end(c, 1);
		return;
	}
	if (want(c, EPOLLOUT) != 0)
		conn_end(c, 1);
}

static int start_tls(struct conn *c)
{
	int soerr = 0;
	socklen_t len = sizeof soerr;
	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) != 0 || soerr != 0)
		return -1;
	c->ssl = SSL_new(c->t->ctx);
	if (c->ssl == NULL || SSL_set_fd(c->ssl, c->fd) != 1)
		return -1;
	SSL_set_app_data(c->ssl, c);
	SSL_set_connect_state(c->ssl);
	SSL_set_tlsext_host_name(c->ssl, "localhost");
	if (c->t->o->mode == LG_RESUME && c->sess != NULL && SSL_set_session(c->ssl, c->sess) != 1)
		return -1;
	c->state = ST_HANDSHAKE;
	return 0;
}

static void start_request(struct conn *c)
{
	c->state = ST_SEND;
	if (c->t->o->mode != LG_RESUME)
		c->t_op = lg_now_ns(); /* resume times the whole connection */
	c->hlen = 0;
	c->in_body = 0;
	c->status = 0;
	c->close_after = 0;
	c->left = 0;
}

static void count_handshake(struct conn *c)
{
	struct thr *t = c->t;
	uint64_t now = lg_now_ns();
	if (!in_window(t, now))
		return;
	t->st->ops++;
	if (c->ssl == NULL)
		; /* --plain: a connection; the gateway's handshake is its own */
	else if (SSL_session_reused(c->ssl))
		t->st->resumed++;
	else
		t->st->full++;
	lg_hist_add(&t->st->hist, now - c->t_op);
}

/* Case-insensitive search for a header name at a line start; returns the
 * value or NULL. Only looks inside head[0..len). */
static const char *header(const char *head, size_t len, const char *name)
{
	size_t n = strlen(name);
	for (size_t i = 0; i + n + 1 < len; i++) {
		if (i > 0 && head[i - 1] != '\n')
			continue;
		if (strncasecmp(head + i, name, n) == 0 && head[i + n] == ':') {
			const char *v = head + i + n + 1;
			while (v < head + len && (*v == ' ' || *v == '\t'))
				v++;
			return v;
		}
	}
	return NULL;
}

/* Parses the response head; 0 ok, -1 malformed or unsupported. */
static int parse_head(struct conn *c, size_t len)
{
	const char *v;
	if (len < 12 || memcmp(c->head, "HTTP/1.", 7) != 0)
		return -1;
	c->status = atoi(c->head + 9);
	c->close_after = memcmp(c->head, "HTTP/1.0", 8) == 0;
	v = header(c->head, len, "Connection");
	if (v != NULL)
		c->close_after = strncasecmp(v, "close", 5) == 0 ? 1 : (strncasecmp(v, "keep-alive", 10) == 0 ? 0 : c->close_after);
	v = header(c->head, len, "Transfer-Encoding");
	if (v != NULL && strncasecmp(v, "chunked", 7) == 0) {
		snprintf(c->t->err, c->t->errlen, "chunked responses are not supported; serve a Content-Length");
		return -1;
	}
	v = header(c->head, len, "Content-Length");
	if (v == NULL)
		return -1;
	c->left = strtoull(v, NULL, 10);
	return 0;
}

/* Feeds response bytes; returns 1 when the response is complete, 0 for more,
 * -1 on a malformed response. */
static int feed(struct conn *c, const unsigned char *p, size_t n)
{
	struct thr *t = c->t;
	if (!c->in_body) {
		size_t room = HEAD_MAX - c->hlen, take = n < room ? n : room;
		char *end;
		memcpy(c->head + c->hlen, p, take);
		c->hlen += take;
		end = memmem(c->head, c->hlen, "\r\n\r\n", 4);
		if (end == NULL)
			return c->hlen == HEAD_MAX ? -1 : 0;
		size_t hl = (size_t)(end - c->head) + 4;
		if (parse_head(c, hl) != 0)
			return -1;
		c->in_body = 1;
		/* bytes of this read past the head are body */
		size_t used = take - (c->hlen - hl);
		p += used;
		n -= used;
	}
	if (n > c->left)
		return -1; /* more than announced: we never pipeline */
	c->left -= n;
	if (in_window(t, lg_now_ns()))
		t->st->bytes += n;
	return c->left == 0;
}

static void response_done(struct conn *c)
{
	struct thr *t = c->t;
	uint64_t now = lg_now_ns();
	c->served++;
	if (c->status != 200) {
		snprintf(t->err, t->errlen, "server answered status %d", c->status);
		conn_end(c, 1);
		return;
	}
	if (t->o->mode == LG_IDLE) {
		t->st->established++;
		t->pending--;
		c->state = ST_IDLE;
		if (want(c, EPOLLIN) != 0)
			conn_end(c, 1);
		return;
	}
	if (t->o->mode == LG_RESUME) {
		count_handshake(c);
		conn_end(c, 0);
		return;
	}
	if (in_window(t, now)) {
		t->st->ops++;
		lg_hist_add(&t->st->hist, now - c->t_op);
	}
	if (c->close_after || done(t, now)) {
		conn_end(c, 0);
		return;
	}
	start_request(c);
}

/* Runs the machine until it must wait. */
static void conn_step(struct conn *c)
{
	struct thr *t = c->t;
	for (;;) {
		int r;
		ERR_clear_error();
		errno = 0;
		switch (c->state) {
		case ST_FREE:
			return;
		case ST_CONNECTING:
			if (t->o->plain) {
				int soerr = 0;
				socklen_t len = sizeof soerr;
				if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) != 0 || soerr != 0) {
					conn_end(c, 1);
					return;
				}
				start_request(c);
				break;
			}
			if (start_tls(c) != 0) {
				conn_end(c, 1);
				return;
			}
			break;
		case ST_HANDSHAKE:
			r = SSL_do_handshake(c->ssl);
			if (r != 1) {
				r = ssl_wait(c, r);
				if (r != 1)
					conn_end(c, 1);
				return;
			}
			if (t->o->mode == LG_HANDSHAKE)
				c->state = ST_SHUTDOWN;
			else
				start_request(c);
			break;
		case ST_SHUTDOWN:
			r = SSL_shutdown(c->ssl);
			if (r < 0) {
				r = ssl_wait(c, r);
				if (r != 1)
					conn_end(c, 1);
				return;
			}
			c->state = ST_DRAIN;
			break;
		case ST_DRAIN:
			r = SSL_read(c->ssl, t->buf, sizeof t->buf);
			if (r > 0)
				break; /* nothing is expected; ignore it */
			r = ssl_wait(c, r);
			if (r == 1)
				return;
			if (r == 0)
				count_handshake(c);
			conn_end(c, r != 0);
			return;
		case ST_SEND:
			r = io_write(c, t->req, (int)t->reqlen);
			if (r <= 0) {
				r = io_wait(c, r, EPOLLOUT);
				if (r != 1)
					conn_end(c, 1);
				return;
			}
			c->state = ST_RECV;
			break;
		case ST_RECV:
			r = io_read(c, t->buf, sizeof t->buf);
			if (r > 0) {
				int f = feed(c, t->buf, (size_t)r);
				if (f < 0) {
					conn_end(c, 1);
					return;
				}
				if (f == 1)
					response_done(c);
				if (c->state != ST_RECV && c->state != ST_SEND)
					return;
				break;
			}
			r = io_wait(c, r, EPOLLIN);
			if (r == 1)
				return;
			/* closed: fine between responses on a reused connection */
			conn_end(c, !(r == 0 && c->hlen == 0 && c->served > 0));
			return;
		case ST_IDLE:
			r = io_read(c, t->buf, sizeof t->buf);
			if (r > 0)
				break; /* e.g. a late session ticket */
			r = io_wait(c, r, EPOLLIN);
			if (r != 1)
				conn_end(c, 0);
			return;
		}
	}
}

/* idle: open slots while fewer than `inflight` handshakes are under way. */
static void idle_fill(struct thr *t)
{
	while (t->opened < t->nconns && t->pending < t->o->inflight) {
		struct conn *c = &t->conns[t->opened++];
		t->pending++;
		conn_open(c);
	}
}

int lg_thread_run(const struct lg_run *run, int index, SSL_CTX *ctx, struct lg_stats *st,
		  volatile int *ready, char *err, size_t errlen)
{
	const struct lg_opts *o = run->o;
	struct thr *t = calloc(1, sizeof *t);
	struct epoll_event evs[256];
	int rc = -1;
	if (t == NULL)
		return -1;
	t->run = run;
	t->o = o;
	t->ctx = ctx;
	t->st = st;
	t->err = err;
	t->errlen = errlen;
	t->nconns = o->conns / o->threads + (index < o->conns % o->threads);
	if (o->max_ops > 0)
		t->max_ops = o->max_ops / (uint64_t)o->threads + 1;
	t->reqlen = (size_t)snprintf(t->req, sizeof t->req, "GET %s HTTP/1.1\r\nHost: localhost\r\n%s\r\n", o->path,
				     o->mode == LG_RESUME ? "Connection: close\r\n" : "");
	t->ep = epoll_create1(EPOLL_CLOEXEC);
	t->conns = calloc((size_t)(t->nconns > 0 ? t->nconns : 1), sizeof *t->conns);
	if (t->ep < 0 || t->conns == NULL) {
		snprintf(err, errlen, "out of memory or epoll: %s", strerror(errno));
		goto out;
	}
	for (int i = 0; i < t->nconns; i++) {
		t->conns[i].t = t;
		t->conns[i].fd = -1;
	}
	if (o->mode == LG_IDLE)
		idle_fill(t);
	else
		for (int i = 0; i < t->nconns; i++)
			conn_open(&t->conns[i]);
	for (;;) {
		uint64_t now = lg_now_ns();
		if (done(t, now))
			break;
		if (o->mode == LG_IDLE) {
			idle_fill(t);
			if (t->opened == t->nconns && t->pending <= 0)
				*ready = 1;
		}
		int n = epoll_wait(t->ep, evs, 256, 50);
		if (n < 0 && errno != EINTR) {
			snprintf(err, errlen, "epoll_wait: %s", strerror(errno));
			goto out;
		}
		for (int i = 0; i < n; i++)
			conn_step(evs[i].data.ptr);
	}
	rc = 0;
out:
	if (t->conns != NULL)
		for (int i = 0; i < t->nconns; i++) {
			conn_reset(&t->conns[i], 1);
			SSL_SESSION_free(t->conns[i].sess);
		}
	*ready = 1;
	free(t->conns);
	if (t->ep >= 0)
		close(t->ep);
	free(t);
	return rc;
}
