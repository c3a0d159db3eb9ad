/* HTTP/1.1 over one keep-alive TLS connection per worker (blocking, with
 * socket timeouts), and the http-01 responder. Responses are read through
 * a fixed buffer: lines are bounded, Content-Length and chunk sizes are
 * checked against AL_BODY_MAX before anything is allocated. */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <openssl/err.h>

#include "al.h"

#define IO_TIMEOUT_S 30
#define LINE_MAX_ 8192

static int fail(al_conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(al_conn *c, const char *fmt, ...)
{
	va_list ap;
	unsigned long e = ERR_get_error();
	size_t n;

	va_start(ap, fmt);
	vsnprintf(c->err, sizeof(c->err), fmt, ap);
	va_end(ap);
	n = strlen(c->err);
	if (e && n + 3 < sizeof(c->err)) {
		snprintf(c->err + n, sizeof(c->err) - n, ": ");
		ERR_error_string_n(e, c->err + n + 2, sizeof(c->err) - n - 2);
	}
	ERR_clear_error();
	return -1;
}

SSL_CTX *al_tls_ctx(const char *ca_file)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	if (!ctx)
		return NULL;
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
	    SSL_CTX_load_verify_locations(ctx, ca_file, NULL) != 1) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	return ctx;
}

int al_conn_init(al_conn *c, SSL_CTX *ctx, const char *host, int port)
{
	memset(c, 0, sizeof(*c));
	c->ctx = ctx;
	c->fd = -1;
	c->port = port;
	if (strlen(host) >= sizeof(c->host))
		return fail(c, "host name too long");
	strcpy(c->host, host);
	return 0;
}

void al_conn_close(al_conn *c)
{
	if (c->ssl) {
		SSL_shutdown(c->ssl);
		SSL_free(c->ssl);
		c->ssl = NULL;
	}
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->rpos = c->rlen = 0;
	c->reused = 0;
}

static int conn_open(al_conn *c)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai = NULL, *a;
	struct timeval tv = {.tv_sec = IO_TIMEOUT_S};
	char port[16];
	int one = 1;

	snprintf(port, sizeof(port), "%d", c->port);
	if (getaddrinfo(c->host, port, &hints, &ai) != 0)
		return fail(c, "cannot resolve %s", c->host);
	for (a = ai; a; a = a->ai_next) {
		c->fd = socket(a->ai_family, a->ai_socktype, a->ai_protocol);
		if (c->fd < 0)
			continue;
		if (connect(c->fd, a->ai_addr, a->ai_addrlen) == 0)
			break;
		close(c->fd);
		c->fd = -1;
	}
	freeaddrinfo(ai);
	if (c->fd < 0)
		return fail(c, "cannot connect to %s:%d: %s", c->host, c->port, strerror(errno));
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	c->ssl = SSL_new(c->ctx);
	if (!c->ssl || SSL_set_fd(c->ssl, c->fd) != 1 ||
	    SSL_set_tlsext_host_name(c->ssl, c->host) != 1 || SSL_set1_host(c->ssl, c->host) != 1)
		goto bad;
	ERR_clear_error();
	if (SSL_connect(c->ssl) != 1)
		goto bad;
	c->connects++;
	return 0;
bad:
	fail(c, "TLS handshake with %s:%d failed (verify result %ld)", c->host, c->port,
	     c->ssl ? SSL_get_verify_result(c->ssl) : 0L);
	al_conn_close(c);
	return -1;
}

/* More bytes into rbuf; 1 read, 0 end of stream, -1 error. */
static int fill(al_conn *c)
{
	int n;

	if (c->rpos == c->rlen)
		c->rpos = c->rlen = 0;
	if (c->rlen == sizeof(c->rbuf)) {
		memmove(c->rbuf, c->rbuf + c->rpos, c->rlen - c->rpos);
		c->rlen -= c->rpos;
		c->rpos = 0;
	}
	ERR_clear_error();
	n = SSL_read(c->ssl, c->rbuf + c->rlen, (int)(sizeof(c->rbuf) - c->rlen));
	if (n > 0) {
		c->rlen += (size_t)n;
		return 1;
	}
	if (SSL_get_error(c->ssl, n) == SSL_ERROR_ZERO_RETURN)
		return 0;
	if (SSL_get_error(c->ssl, n) == SSL_ERROR_SYSCALL && ERR_peek_error() == 0)
		return 0; /* closed without close_notify */
	return -1;
}

/* One line without its CRLF; -1 on a line longer than cap-1, end of
 * stream or an error. */
static int read_line(al_conn *c, char *out, size_t cap)
{
	size_t o = 0;

	for (;;) {
		while (c->rpos < c->rlen) {
			char ch = c->rbuf[c->rpos++];
			if (ch == '\n') {
				if (o && out[o - 1] == '\r')
					o--;
				out[o] = '\0';
				return 0;
			}
			if (o + 1 >= cap)
				return fail(c, "a response line is longer than %zu bytes", cap - 1);
			out[o++] = ch;
		}
		if (fill(c) != 1)
			return fail(c, "the connection ended inside a response head");
	}
}

static int read_n(al_conn *c, char *dst, size_t n)
{
	while (n) {
		size_t k;
		if (c->rpos == c->rlen && fill(c) != 1)
			return fail(c, "the connection ended inside a response body");
		k = c->rlen - c->rpos < n ? c->rlen - c->rpos : n;
		memcpy(dst, c->rbuf + c->rpos, k);
		c->rpos += k;
		dst += k;
		n -= k;
	}
	return 0;
}

static int body_grow(al_conn *c, al_resp *r, size_t add)
{
	char *b;

	if (add > AL_BODY_MAX || r->body_len + add > AL_BODY_MAX)
		return fail(c, "a response body is larger than %d bytes", AL_BODY_MAX);
	b = realloc(r->body, r->body_len + add + 1);
	if (!b)
		return fail(c, "out of memory");
	r->body = b;
	return 0;
}

static int read_chunked(al_conn *c, al_resp *r)
{
	char line[LINE_MAX_];

	for (;;) {
		char *end;
		unsigned long n;

		if (read_line(c, line, sizeof(line)) != 0)
			return -1;
		errno = 0;
		n = strtoul(line, &end, 16);
		if (end == line || errno || (*end && *end != ';'))
			return fail(c, "bad chunk size line");
		if (n == 0)
			break;
		if (body_grow(c, r, n) != 0 || read_n(c, r->body + r->body_len, n) != 0)
			return -1;
		r->body_len += n;
		if (read_line(c, line, sizeof(line)) != 0 || line[0])
			return fail(c, "a chunk does not end with CRLF");
	}
	do { /* trailers, up to the empty line */
		if (read_line(c, line, sizeof(line)) != 0)
			return -1;
	} while (line[0]);
	return 0;
}

static void copy_value(char *dst, size_t cap, const char *v)
{
	size_t n = strlen(v);

	if (n >= cap)
		n = 0; /* too long: treated as absent */
	memcpy(dst, v, n);
	dst[n] = '\0';
}

/* The response head; *clen -1 when there is no Content-Length. */
static int read_head(al_conn *c, al_resp *r, long *clen, int *chunked, int *close_after)
{
	char line[LINE_MAX_];
	int minor, lines = 0;

	if (read_line(c, line, sizeof(line)) != 0)
		return -1;
	if (sscanf(line, "HTTP/1.%d %3d", &minor, &r->status) != 2 || r->status < 100 ||
	    r->status > 599)
		return fail(c, "not an HTTP/1.x status line");
	*close_after = minor == 0;
	for (;;) {
		char *colon, *v;
		if (read_line(c, line, sizeof(line)) != 0)
			return -1;
		if (!line[0])
			return 0;
		if (++lines > 100)
			return fail(c, "more than 100 response headers");
		colon = strchr(line, ':');
		if (!colon)
			return fail(c, "a header line without ':'");
		*colon = '\0';
		for (v = colon + 1; *v == ' ' || *v == '\t'; v++)
			;
		if (!strcasecmp(line, "Content-Length")) {
			char *end;
			errno = 0;
			*clen = strtol(v, &end, 10);
			if (errno || end == v || *end || *clen < 0 || *clen > AL_BODY_MAX)
				return fail(c, "Content-Length %.40s is not a number up to %d", v,
				            AL_BODY_MAX);
		} else if (!strcasecmp(line, "Transfer-Encoding")) {
			*chunked = strcasestr(v, "chunked") != NULL;
		} else if (!strcasecmp(line, "Connection")) {
			*close_after = strcasestr(v, "close") != NULL;
		} else if (!strcasecmp(line, "Replay-Nonce")) {
			copy_value(r->nonce, sizeof(r->nonce), v);
		} else if (!strcasecmp(line, "Location")) {
			copy_value(r->location, sizeof(r->location), v);
		} else if (!strcasecmp(line, "Content-Type")) {
			copy_value(r->ctype, sizeof(r->ctype), v);
		}
	}
}

static int read_resp(al_conn *c, const char *method, al_resp *r)
{
	long clen = -1;
	int chunked = 0, close_after = 0;

	if (read_head(c, r, &clen, &chunked, &close_after) != 0)
		return -1;
	if (!strcmp(method, "HEAD") || r->status == 204 || r->status == 304 || r->status < 200) {
		clen = 0;
		chunked = 0;
	}
	if (chunked) {
		if (read_chunked(c, r) != 0)
			return -1;
	} else if (clen >= 0) {
		if (body_grow(c, r, (size_t)clen) != 0 ||
		    read_n(c, r->body, (size_t)clen) != 0)
			return -1;
		r->body_len = (size_t)clen;
	} else { /* to the end of the stream */
		int f;
		close_after = 1;
		for (;;) {
			size_t k = c->rlen - c->rpos;
			if (body_grow(c, r, k) != 0)
				return -1;
			memcpy(r->body + r->body_len, c->rbuf + c->rpos, k);
			r->body_len += k;
			c->rpos = c->rlen;
			f = fill(c);
			if (f == 0)
				break;
			if (f < 0)
				return fail(c, "reading a response body failed");
		}
	}
	if (body_grow(c, r, 0) != 0)
		return -1;
	r->body[r->body_len] = '\0';
	if (close_after)
		al_conn_close(c);
	else
		c->reused = 1;
	return 0;
}

void al_resp_clear(al_resp *r)
{
	free(r->body);
	memset(r, 0, sizeof(*r));
}

static int send_all(al_conn *c, const char *buf, size_t len)
{
	while (len) {
		int n;
		ERR_clear_error();
		n = SSL_write(c->ssl, buf, len > 1 << 30 ? 1 << 30 : (int)len);
		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

int al_request(al_conn *c, const char *method, const char *path, const char *body,
               al_resp *r)
{
	size_t blen = body ? strlen(body) : 0, cap = blen + 512 + strlen(path);
	char *req = malloc(cap);
	int n, attempt, rc = -1;

	memset(r, 0, sizeof(*r));
	if (!req)
		return fail(c, "out of memory");
	n = snprintf(req, cap,
	             "%s %s HTTP/1.1\r\nHost: %s:%d\r\nUser-Agent: tlsgate-acmeload\r\n"
	             "%s%sContent-Length: %zu\r\n\r\n",
	             method, path, c->host, c->port,
	             body ? "Content-Type: application/jose+json\r\n" : "", "", blen);
	if (n < 0 || (size_t)n + blen >= cap)
		goto out;
	memcpy(req + n, body ? body : "", blen);
	/* A reused connection the server closed while idle fails on the first
	 * read or write without an answer: one retry on a fresh connection. */
	for (attempt = 0; attempt < 2; attempt++) {
		int was_reused;
		if (!c->ssl && conn_open(c) != 0)
			goto out;
		was_reused = c->reused;
		c->requests++;
		if (send_all(c, req, (size_t)n + blen) == 0 && c->rpos == c->rlen) {
			int f = fill(c);
			if (f == 1) {
				rc = read_resp(c, method, r);
				if (rc != 0) {
					char why[AL_ERR_MAX];
					memcpy(why, c->err, sizeof(why));
					al_conn_close(c);
					al_resp_clear(r);
					fail(c, "%s %s: %s", method, path, why);
				}
				goto out;
			}
		}
		al_conn_close(c);
		if (!was_reused)
			break;
	}
	fail(c, "%s %s: the server closed the connection without an answer", method, path);
out:
	free(req);
	return rc;
}

int al_url_path(const al_conn *c, const char *url, char *out, size_t cap)
{
	char authority[AL_HOST_MAX + 16];
	size_t alen, ulen;

	if (!url)
		return -1;
	ulen = strlen(url);
	snprintf(authority, sizeof(authority), "https://%s:%d/", c->host, c->port);
	alen = strlen(authority) - 1;
	if (ulen <= alen || strncasecmp(url, authority, alen) || url[alen] != '/' ||
	    ulen - alen >= cap)
		return -1;
	memcpy(out, url + alen, ulen - alen + 1);
	return 0;
}

/* ---- the http-01 responder ---------------------------------------------- */

struct slot {
	char token[AL_TOKEN_MAX];
	char keyauthz[AL_KEYAUTHZ_MAX];
};

struct al_http01 {
	int fd;
	_Atomic int stopping;
	pthread_mutex_t mu;
	struct slot *slots;
	size_t n_slots;
	pthread_t *threads;
	int n_threads;
};

#define CHALLENGE_PREFIX "/.well-known/acme-challenge/"

static void http01_answer(al_http01 *h, int fd)
{
	char req[4096], body[AL_KEYAUTHZ_MAX], resp[AL_KEYAUTHZ_MAX + 256];
	size_t got = 0, i, plen = strlen(CHALLENGE_PREFIX);
	char *tok, *end;
	int n, found = 0;

	while (got + 1 < sizeof(req)) {
		ssize_t k = read(fd, req + got, sizeof(req) - 1 - got);
		if (k <= 0)
			return;
		got += (size_t)k;
		req[got] = '\0';
		if (strstr(req, "\r\n\r\n"))
			break;
	}
	req[got] = '\0';
	if (strncmp(req, "GET " CHALLENGE_PREFIX, 4 + plen) == 0) {
		tok = req + 4 + plen;
		end = strchr(tok, ' ');
		if (end && (size_t)(end - tok) < AL_TOKEN_MAX && end > tok) {
			*end = '\0';
			pthread_mutex_lock(&h->mu);
			for (i = 0; i < h->n_slots && !found; i++) {
				if (!strcmp(h->slots[i].token, tok)) {
					snprintf(body, sizeof(body), "%s", h->slots[i].keyauthz);
					found = 1;
				}
			}
			pthread_mutex_unlock(&h->mu);
		}
	}
	if (!found)
		body[0] = '\0';
	n = snprintf(resp, sizeof(resp),
	             "HTTP/1.1 %s\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n"
	             "Connection: close\r\n\r\n%s",
	             found ? "200 OK" : "404 Not Found", strlen(body), body);
	if (n > 0 && (size_t)n < sizeof(resp) && write(fd, resp, (size_t)n) < 0)
		return;
}

static void *http01_loop(void *arg)
{
	al_http01 *h = arg;
	struct timeval tv = {.tv_sec = 5};

	while (!h->stopping) {
		int fd = accept(h->fd, NULL, NULL);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			break;
		}
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		http01_answer(h, fd);
		close(fd);
	}
	return NULL;
}

al_http01 *al_http01_start(int port, size_t slots, int threads, char *err, size_t errlen)
{
	al_http01 *h = calloc(1, sizeof(*h));
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	int one = 1, i;

	if (!h)
		return NULL;
	h->fd = -1;
	pthread_mutex_init(&h->mu, NULL);
	h->slots = calloc(slots, sizeof(*h->slots));
	h->threads = calloc((size_t)threads, sizeof(*h->threads));
	h->n_slots = slots;
	if (!h->slots || !h->threads)
		goto bad;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	h->fd = socket(AF_INET, SOCK_STREAM, 0);
	if (h->fd < 0 || setsockopt(h->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    bind(h->fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(h->fd, 512) != 0) {
		snprintf(err, errlen, "cannot listen on 127.0.0.1:%d for http-01: %s (pick a free "
		         "--http01-port)", port, strerror(errno));
		goto bad;
	}
	for (i = 0; i < threads; i++) {
		if (pthread_create(&h->threads[i], NULL, http01_loop, h) != 0) {
			snprintf(err, errlen, "cannot start an http-01 thread");
			al_http01_stop(h);
			return NULL;
		}
		h->n_threads++;
	}
	return h;
bad:
	al_http01_stop(h);
	return NULL;
}

void al_http01_set(al_http01 *h, size_t slot, const char *token, const char *keyauthz)
{
	if (slot >= h->n_slots)
		return;
	pthread_mutex_lock(&h->mu);
	snprintf(h->slots[slot].token, sizeof(h->slots[slot].token), "%s", token);
	snprintf(h->slots[slot].keyauthz, sizeof(h->slots[slot].keyauthz), "%s", keyauthz);
	pthread_mutex_unlock(&h->mu);
}

void al_http01_stop(al_http01 *h)
{
	int i;

	if (!h)
		return;
	h->stopping = 1;
	if (h->fd >= 0)
		shutdown(h->fd, SHUT_RDWR); /* wakes the threads blocked in accept */
	for (i = 0; i < h->n_threads; i++)
		pthread_join(h->threads[i], NULL);
	if (h->fd >= 0)
		close(h->fd);
	pthread_mutex_destroy(&h->mu);
	free(h->slots);
	free(h->threads);
	free(h);
}
