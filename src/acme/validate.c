/* Challenge validation over the network: name resolution (--resolve
 * first), connections with a deadline, and http-01 (RFC 8555 8.3) with an
 * HTTP/1.1 client of our own: one GET per hop with Connection: close,
 * a strict reader for the status line and header fields, bodies bounded,
 * at most 10 redirects to http on port 80 (https is not followed). Every
 * byte read comes from whoever answers at the identifier's address. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "acme/acme_int.h"

#define HTTP_HEAD_MAX 8192
#define HTTP_BODY_MAX 8192
#define HTTP_REDIRECTS_MAX 10 /* RFC 8555 8.3 allows following redirects; LE stops at 10 */
#define HOST_MAX ACME_HTTP01_HOST_MAX

int64_t
acme_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
acme_quote(const unsigned char *in, size_t len, char *out, size_t outlen)
{
	size_t i, used = 0;

	if (outlen == 0)
		return;
	for (i = 0; i < len && i < ACME_VAL_SHOW; i++) {
		if (in[i] >= 0x20 && in[i] < 0x7f && in[i] != '\\') {
			if (used + 2 > outlen)
				break;
			out[used++] = (char)in[i];
		} else {
			if (used + 5 > outlen)
				break;
			snprintf(out + used, 5, "\\x%02X", in[i]);
			used += 4;
		}
	}
	if (i < len && used + 4 <= outlen) {
		memcpy(out + used, "...", 3);
		used += 3;
	}
	out[used] = '\0';
}

int
acme_addr_literal(const char *s, int port, acme_addr *a)
{
	struct sockaddr_in *v4 = (struct sockaddr_in *)&a->ss;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&a->ss;

	memset(a, 0, sizeof(*a));
	if (inet_pton(AF_INET, s, &v4->sin_addr) == 1) {
		v4->sin_family = AF_INET;
		v4->sin_port = htons((uint16_t)port);
		a->len = sizeof(*v4);
	} else if (inet_pton(AF_INET6, s, &v6->sin6_addr) == 1) {
		v6->sin6_family = AF_INET6;
		v6->sin6_port = htons((uint16_t)port);
		a->len = sizeof(*v6);
	} else {
		return -1;
	}
	return 0;
}

void
acme_addr_text(acme_addr *a)
{
	char ip[INET6_ADDRSTRLEN] = "?";
	int v6 = a->ss.ss_family == AF_INET6;
	const void *raw = v6 ? (const void *)&((struct sockaddr_in6 *)&a->ss)->sin6_addr
	                     : (const void *)&((struct sockaddr_in *)&a->ss)->sin_addr;
	unsigned port = ntohs(v6 ? ((struct sockaddr_in6 *)&a->ss)->sin6_port
	                         : ((struct sockaddr_in *)&a->ss)->sin_port);

	inet_ntop(a->ss.ss_family, raw, ip, sizeof(ip));
	snprintf(a->text, sizeof(a->text), v6 ? "[%s]:%u" : "%s:%u", ip, port);
}

int
acme_lookup(const char *host, int is_ip, int port, const acme_vopts *o, acme_addr *out,
    size_t *n, const char *what, acme_problem *p)
{
	struct addrinfo hints, *res = NULL, *ai;
	size_t i;
	int rc;

	*n = 0;
	if (is_ip) {
		if (acme_addr_literal(host, port, &out[0]) != 0)
			return acme_problem_set(p, ACME_P_DNS, "%s: %s is not an IP address", what, host);
		acme_addr_text(&out[0]);
		*n = 1;
		return 0;
	}
	for (i = 0; o != NULL && i < o->n_resolve && *n < ACME_VAL_MAX_ADDRS; i++) {
		if (o->resolve[i].name == NULL || strcasecmp(o->resolve[i].name, host) != 0)
			continue;
		if (acme_addr_literal(o->resolve[i].addr, port, &out[*n]) != 0)
			return acme_problem_set(p, ACME_P_DNS, "%s: --resolve %s=%s is not an IP address",
			    what, host, o->resolve[i].addr);
		acme_addr_text(&out[(*n)++]);
	}
	if (*n > 0)
		return 0;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_protocol = IPPROTO_TCP;
	if ((rc = getaddrinfo(host, NULL, &hints, &res)) != 0)
		return acme_problem_set(p, ACME_P_DNS, "%s: no address found for %s (%s)", what, host,
		    gai_strerror(rc));
	for (ai = res; ai != NULL && *n < ACME_VAL_MAX_ADDRS; ai = ai->ai_next) {
		if ((ai->ai_family != AF_INET && ai->ai_family != AF_INET6) ||
		    ai->ai_addrlen > sizeof(out[*n].ss))
			continue;
		memset(&out[*n], 0, sizeof(out[*n]));
		memcpy(&out[*n].ss, ai->ai_addr, ai->ai_addrlen);
		out[*n].len = ai->ai_addrlen;
		if (ai->ai_family == AF_INET)
			((struct sockaddr_in *)&out[*n].ss)->sin_port = htons((uint16_t)port);
		else
			((struct sockaddr_in6 *)&out[*n].ss)->sin6_port = htons((uint16_t)port);
		acme_addr_text(&out[(*n)++]);
	}
	freeaddrinfo(res);
	if (*n == 0)
		return acme_problem_set(p, ACME_P_DNS, "%s: no IPv4 or IPv6 address found for %s",
		    what, host);
	return 0;
}

int
acme_wait(int fd, short events, int64_t deadline)
{
	struct pollfd pfd = { .fd = fd, .events = events };
	int64_t left;
	int rc;

	for (;;) {
		left = deadline - acme_now_ms();
		if (left <= 0)
			return 0;
		rc = poll(&pfd, 1, left > 60000 ? 60000 : (int)left);
		if (rc > 0)
			return 1;
		if (rc < 0 && errno != EINTR)
			return -1;
	}
}

int
acme_connect(const acme_addr *a, int64_t deadline, char *why, size_t whylen)
{
	int fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), err = 0, rc;
	socklen_t elen = sizeof(err);

	if (fd < 0) {
		snprintf(why, whylen, "%s", strerror(errno));
		return -1;
	}
	if (connect(fd, (const struct sockaddr *)&a->ss, a->len) == 0)
		return fd;
	if (errno != EINPROGRESS) {
		snprintf(why, whylen, "%s", strerror(errno));
		close(fd);
		return -1;
	}
	rc = acme_wait(fd, POLLOUT, deadline);
	if (rc == 1 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) == 0 && err == 0)
		return fd;
	snprintf(why, whylen, "%s", rc == 0 ? "timed out" : strerror(err != 0 ? err : errno));
	close(fd);
	return -1;
}

int
acme_connect_any(const acme_addr *addrs, size_t n, int64_t deadline, const char *host,
    size_t *which, const char *what, acme_problem *p)
{
	char why[128], tried[ACME_DETAIL_MAX / 2] = "";
	size_t i, used = 0;
	int fd;

	for (i = 0; i < n; i++) {
		if ((fd = acme_connect(&addrs[i], deadline, why, sizeof(why))) >= 0) {
			*which = i;
			return fd;
		}
		if (used < sizeof(tried))
			used += (size_t)snprintf(tried + used, sizeof(tried) - used, "%s%s: %s",
			    used > 0 ? "; " : "", addrs[i].text, why);
	}
	return acme_problem_set(p, ACME_P_CONNECTION, "%s: could not connect to %s (%s)", what, host,
	    tried);
}

/* ---- http-01 ------------------------------------------------------------- */

typedef acme_http01_target target;

typedef struct http_resp {
	int status;
	char location[ACME_URL_MAX];
	unsigned char buf[HTTP_HEAD_MAX + HTTP_BODY_MAX + 1];
	size_t len;        /* bytes in buf */
	size_t head_len;   /* the head, with its blank line */
	const unsigned char *body;
	size_t body_len;
	char addr[64];     /* the address that answered */
} http_resp;

static int
tchar(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* One header field line (without CRLF); the fields we read are kept. */
static const char *
header_field(const unsigned char *l, size_t n, long long *clen, int *chunked, http_resp *r)
{
	size_t i = 0, vs, ve;

	while (i < n && tchar(l[i]))
		i++;
	if (i == 0 || i >= n || l[i] != ':')
		return "a header line that is not NAME: VALUE";
	vs = i + 1;
	while (vs < n && (l[vs] == ' ' || l[vs] == '\t'))
		vs++;
	ve = n;
	while (ve > vs && (l[ve - 1] == ' ' || l[ve - 1] == '\t'))
		ve--;
	for (size_t k = vs; k < ve; k++)
		if ((l[k] < 0x20 && l[k] != '\t') || l[k] == 0x7f)
			return "a control character in a header value";
	if (i == 14 && strncasecmp((const char *)l, "Content-Length", 14) == 0) {
		long long v = 0;
		if (ve == vs || ve - vs > 12)
			return "a bad Content-Length";
		for (size_t k = vs; k < ve; k++) {
			if (l[k] < '0' || l[k] > '9')
				return "a bad Content-Length";
			v = v * 10 + (l[k] - '0');
		}
		if (*clen >= 0 && *clen != v)
			return "two different Content-Lengths";
		*clen = v;
	} else if (i == 17 && strncasecmp((const char *)l, "Transfer-Encoding", 17) == 0) {
		if (ve - vs != 7 || strncasecmp((const char *)l + vs, "chunked", 7) != 0 || *chunked)
			return "a Transfer-Encoding other than chunked";
		*chunked = 1;
	} else if (i == 8 && strncasecmp((const char *)l, "Location", 8) == 0) {
		if (ve - vs >= sizeof(r->location) || r->location[0] != '\0')
			return "a Location field too long or given twice";
		memcpy(r->location, l + vs, ve - vs);
		r->location[ve - vs] = '\0';
	}
	return NULL;
}

/* The status line and fields of a head ending in CRLF CRLF. NULL when
 * well formed, else what is wrong. */
static const char *
parse_head(http_resp *r, long long *clen, int *chunked)
{
	const unsigned char *s = r->buf, *end = r->buf + r->head_len - 2, *eol;
	const char *bad;

	*clen = -1;
	*chunked = 0;
	r->location[0] = '\0';
	eol = memchr(s, '\r', (size_t)(end - s));
	if (eol == NULL || eol[1] != '\n' || eol - s < 12 || memcmp(s, "HTTP/1.", 7) != 0 ||
	    (s[7] != '0' && s[7] != '1') || s[8] != ' ' || s[9] < '1' || s[9] > '5' ||
	    s[10] < '0' || s[10] > '9' || s[11] < '0' || s[11] > '9' ||
	    (eol - s > 12 && s[12] != ' '))
		return "no HTTP/1.x status line";
	for (const unsigned char *c = s + 12; c < eol; c++)
		if ((*c < 0x20 && *c != '\t') || *c == 0x7f)
			return "a control character in the status line";
	r->status = (s[9] - '0') * 100 + (s[10] - '0') * 10 + (s[11] - '0');
	for (s = eol + 2; s < end; s = eol + 2) {
		eol = memchr(s, '\r', (size_t)(end - s));
		if (eol == NULL || eol[1] != '\n')
			return "a header line not ended by CRLF";
		if (*s == ' ' || *s == '\t')
			return "a folded header line (obs-fold)";
		if (memchr(s, '\n', (size_t)(eol - s)) != NULL)
			return "a bare LF in the head";
		if ((bad = header_field(s, (size_t)(eol - s), clen, chunked, r)) != NULL)
			return bad;
	}
	if (*clen >= 0 && *chunked)
		return "both Content-Length and Transfer-Encoding";
	return NULL;
}

static int
hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
		return (c | 0x20) - 'a' + 10;
	return -1;
}

/* Reads a chunked body from in[0..len): 1 complete, 0 more bytes needed,
 * -1 broken framing, -2 over the limit. With write, the data of the chunks
 * is moved to the front (only once complete: a partial body is read again
 * from the start when more bytes come) and *outlen is its length. */
static int
dechunk(unsigned char *in, size_t len, int write, size_t *outlen)
{
	size_t i = 0, out = 0, size;
	int digits;

	for (;;) {
		size = 0;
		digits = 0;
		while (i < len && hexval(in[i]) >= 0) {
			if (++digits > 8)
				return -1;
			size = size * 16 + (size_t)hexval(in[i++]);
		}
		if (i >= len)
			return 0;
		if (digits == 0)
			return -1;
		/* Chunk extensions are skipped up to the line's end. */
		while (i < len && in[i] != '\r') {
			if (in[i] == '\n')
				return -1;
			i++;
		}
		if (i + 1 >= len)
			return 0;
		if (in[i + 1] != '\n')
			return -1;
		i += 2;
		if (size == 0)
			break;
		if (out + size > HTTP_BODY_MAX)
			return -2;
		if (len - i < size + 2)
			return 0;
		if (write)
			memmove(in + out, in + i, size);
		out += size;
		i += size;
		if (in[i] != '\r' || in[i + 1] != '\n')
			return -1;
		i += 2;
	}
	/* Trailer fields, then the empty line. */
	for (;;) {
		const unsigned char *eol = i < len ? memchr(in + i, '\n', len - i) : NULL;
		if (eol == NULL)
			return 0;
		if (eol == in + i || eol[-1] != '\r')
			return -1;
		if (eol == in + i + 1) {
			*outlen = out;
			return 1;
		}
		i = (size_t)(eol - in) + 1;
	}
}

/* Sends the GET and reads the answer until its end, the peer's close, a
 * limit or the deadline. NULL on success, else what went wrong (with
 * *type the problem type). */
static const char *
exchange(int fd, const target *t, int64_t deadline, http_resp *r, acme_ptype *type)
{
	char req[ACME_URL_MAX + HOST_MAX + 160];
	long long clen = -1;
	int chunked = 0, n, rc;
	size_t sent = 0, scanned = 3;
	ssize_t got;
	const unsigned char *hend;
	const char *bad;

	*type = ACME_P_CONNECTION;
	n = snprintf(req, sizeof(req),
	    "GET %s HTTP/1.1\r\nHost: %s%s%s\r\nUser-Agent: tlsgate-acme\r\nAccept: */*\r\n"
	    "Connection: close\r\n\r\n",
	    t->path, strchr(t->host, ':') != NULL ? "[" : "", t->host,
	    strchr(t->host, ':') != NULL ? "]" : "");
	while (sent < (size_t)n) {
		if ((rc = acme_wait(fd, POLLOUT, deadline)) != 1)
			return rc == 0 ? "timed out sending the request" : "error sending the request";
		got = send(fd, req + sent, (size_t)n - sent, MSG_NOSIGNAL);
		if (got < 0 && errno != EAGAIN && errno != EINTR)
			return "the connection broke while sending the request";
		if (got > 0)
			sent += (size_t)got;
	}
	r->len = r->head_len = 0;
	for (;;) {
		if (r->head_len == 0) {
			hend = NULL;
			for (; scanned < r->len && hend == NULL; scanned++)
				if (memcmp(r->buf + scanned - 3, "\r\n\r\n", 4) == 0)
					hend = r->buf + scanned + 1;
			if (hend != NULL) {
				r->head_len = (size_t)(hend - r->buf);
				*type = ACME_P_INCORRECT_RESPONSE;
				if ((bad = parse_head(r, &clen, &chunked)) != NULL)
					return bad;
				/* Only a 200's body is read; a redirect's is of no use. */
				if (r->status != 200)
					return NULL;
				if (clen > HTTP_BODY_MAX)
					return "a body over 8192 bytes (Content-Length)";
			} else if (r->len > HTTP_HEAD_MAX) {
				*type = ACME_P_INCORRECT_RESPONSE;
				return "a response head over 8192 bytes";
			}
		}
		if (r->head_len > 0) {
			size_t blen = r->len - r->head_len;
			if (clen >= 0 && blen >= (size_t)clen) {
				r->body = r->buf + r->head_len;
				r->body_len = (size_t)clen;
				return NULL;
			}
			if (chunked) {
				size_t out = 0;
				rc = dechunk(r->buf + r->head_len, blen, 0, &out);
				if (rc == 1) {
					dechunk(r->buf + r->head_len, blen, 1, &out);
					r->body = r->buf + r->head_len;
					r->body_len = out;
					return NULL;
				}
				if (rc < 0)
					return rc == -2 ? "a chunked body over 8192 bytes" : "broken chunked framing";
			} else if (clen < 0 && blen > HTTP_BODY_MAX) {
				return "a body over 8192 bytes";
			}
		}
		if (r->len >= sizeof(r->buf))
			return "a response over the size limit";
		if ((rc = acme_wait(fd, POLLIN, deadline)) != 1) {
			*type = ACME_P_CONNECTION;
			return rc == 0 ? "timed out waiting for the response" : "error reading the response";
		}
		got = recv(fd, r->buf + r->len, sizeof(r->buf) - r->len, 0);
		if (got < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (got < 0) {
			*type = ACME_P_CONNECTION;
			return "the connection broke while reading the response";
		}
		if (got == 0) {
			/* Close-delimited bodies end here; anything else is cut short. */
			if (r->head_len > 0 && clen < 0 && !chunked) {
				r->body = r->buf + r->head_len;
				r->body_len = r->len - r->head_len;
				return NULL;
			}
			*type = r->len == 0 ? ACME_P_CONNECTION : ACME_P_INCORRECT_RESPONSE;
			if (r->len == 0)
				return "the connection was closed without a response";
			return r->head_len == 0 ? "a response head not ended by an empty line (CRLF CRLF)"
			                        : "the response was cut short";
		}
		r->len += (size_t)got;
	}
}

/* One hop's answer read from fd (r->addr names the address); 0, or -1
 * with p saying what was wrong. */
static int
answer(int fd, const target *t, int64_t deadline, http_resp *r, const char *what,
    acme_problem *p)
{
	char shown[ACME_VAL_SHOW * 4 + 8];
	acme_ptype type;
	const char *bad = exchange(fd, t, deadline, r, &type);

	if (bad == NULL)
		return 0;
	acme_quote(r->buf, r->len, shown, sizeof(shown));
	return acme_problem_set(p, type, "%s: %s answered GET http://%s%s with %s%s%s%s", what,
	    r->addr, t->host, t->path, bad, r->len > 0 ? ": \"" : "", shown, r->len > 0 ? "\"" : "");
}

/* One hop: every address in turn until one connects; its answer counts. */
static int
fetch(const target *t, const acme_vopts *o, int64_t deadline, http_resp *r, const char *what,
    acme_problem *p)
{
	acme_addr addrs[ACME_VAL_MAX_ADDRS];
	size_t n, i;
	int fd, rc;

	if (acme_lookup(t->host, t->is_ip, t->port, o, addrs, &n, what, p) != 0 ||
	    (fd = acme_connect_any(addrs, n, deadline, t->host, &i, what, p)) < 0)
		return -1;
	snprintf(r->addr, sizeof(r->addr), "%s", addrs[i].text);
	rc = answer(fd, t, deadline, r, what, p);
	close(fd);
	return rc;
}

/* Where a redirect goes. The Location is an absolute http(s) URL or an
 * absolute path on the same host; RFC 8555 8.3 allows ports 80 and 443
 * only. Port 80 stands for the configured http-01 port, so tests and
 * --http01-port setups follow redirects to the same place the first
 * request went. */
static int
follow(target *t, const char *loc, const acme_vopts *o, const char *what, const http_resp *r,
    acme_problem *p)
{
	const char *rest = loc, *hs, *he, *ps;
	int https = 0, port;
	size_t hl;
	char host[HOST_MAX];

	for (const unsigned char *c = (const unsigned char *)loc; *c != '\0'; c++)
		if (*c <= 0x20 || *c >= 0x7f)
			return acme_problem_set(p, ACME_P_INCORRECT_RESPONSE,
			    "%s: %s redirected to a Location with spaces or control characters", what,
			    r->addr);
	if (loc[0] == '/' && loc[1] != '/') {
		if (strlen(loc) >= sizeof(t->path))
			goto unusable;
		memcpy(t->path, loc, strlen(loc) + 1);
		goto strip;
	}
	if (strncasecmp(loc, "http://", 7) == 0)
		rest = loc + 7;
	else if (strncasecmp(loc, "https://", 8) == 0)
		rest = loc + 8, https = 1;
	else
		goto unusable;
	hs = rest;
	ps = rest + strcspn(rest, "/?#");
	if (memchr(hs, '@', (size_t)(ps - hs)) != NULL)
		goto unusable;
	if (*hs == '[') {
		he = memchr(hs, ']', (size_t)(ps - hs));
		if (he == NULL)
			goto unusable;
		hl = (size_t)(he - hs - 1);
		hs++;
		he++;
	} else {
		he = memchr(hs, ':', (size_t)(ps - hs));
		if (he == NULL)
			he = ps;
		hl = (size_t)(he - hs);
	}
	port = https ? 443 : 80;
	if (he < ps) {
		if (*he != ':' || ps - he < 2 || ps - he > 6)
			goto unusable;
		port = 0;
		for (const char *c = he + 1; c < ps; c++) {
			if (*c < '0' || *c > '9')
				goto unusable;
			port = port * 10 + (*c - '0');
		}
	}
	if (hl == 0 || hl >= sizeof(host))
		goto unusable;
	memcpy(host, hs, hl);
	host[hl] = '\0';
	if (port != 80 && port != 443)
		return acme_problem_set(p, ACME_P_INCORRECT_RESPONSE,
		    "%s: %s redirected to %s, on port %d; RFC 8555 8.3 allows redirects to ports 80 "
		    "and 443 only", what, r->addr, loc, port);
	if (https || port == 443)
		return acme_problem_set(p, ACME_P_CONNECTION,
		    "%s: %s redirected to %s; this server follows http-01 redirects over http only "
		    "(serve the key authorization over http on port 80)", what, r->addr, loc);
	if (strlen(ps) + 1 >= sizeof(t->path))
		goto unusable;
	snprintf(t->path, sizeof(t->path), "%s%s", *ps == '/' ? "" : "/", ps);
	memcpy(t->host, host, hl + 1);
	{
		acme_addr probe;
		t->is_ip = acme_addr_literal(host, 0, &probe) == 0;
	}
	t->port = o != NULL && o->http_port > 0 ? o->http_port : 80;
strip:
	/* The fragment is not sent. */
	t->path[strcspn(t->path, "#")] = '\0';
	return 0;
unusable:
	return acme_problem_set(p, ACME_P_INCORRECT_RESPONSE,
	    "%s: %s redirected to a Location this server does not follow (an absolute http URL "
	    "or a path is needed): \"%.200s\"", what, r->addr, loc);
}

static int
b64u_token(const char *s)
{
	size_t n = 0;

	for (; s[n] != '\0'; n++)
		if (!((s[n] >= 'A' && s[n] <= 'Z') || (s[n] >= 'a' && s[n] <= 'z') ||
		        (s[n] >= '0' && s[n] <= '9') || s[n] == '-' || s[n] == '_'))
			return 0;
	return n > 0 && n < 256;
}

/* What an answer means: 0 the key authorization came back (trailing
 * whitespace allowed, RFC 8555 8.3), 1 a redirect that t now holds (hop:
 * redirects followed before), -1 a problem. */
static int
judge(const http_resp *r, target *t, int hop, const char *key_authz, const acme_vopts *o,
    const char *what, acme_problem *p)
{
	char shown[ACME_VAL_SHOW * 4 + 8];
	size_t blen;

	if (r->status != 200) {
		if (r->status != 301 && r->status != 302 && r->status != 303 && r->status != 307 &&
		    r->status != 308) {
			acme_quote(r->buf, r->len, shown, sizeof(shown));
			return acme_problem_set(p, ACME_P_INCORRECT_RESPONSE,
			    "%s: %s answered GET http://%s%s with status %d, not 200: \"%s\"", what,
			    r->addr, t->host, t->path, r->status, shown);
		}
		if (r->location[0] == '\0')
			return acme_problem_set(p, ACME_P_INCORRECT_RESPONSE,
			    "%s: %s answered %d without a Location", what, r->addr, r->status);
		if (hop >= HTTP_REDIRECTS_MAX)
			return acme_problem_set(p, ACME_P_INCORRECT_RESPONSE,
			    "%s: more than %d redirects (a loop?), the last from %s to %.200s", what,
			    HTTP_REDIRECTS_MAX, r->addr, r->location);
		return follow(t, r->location, o, what, r, p) != 0 ? -1 : 1;
	}
	blen = r->body_len;
	while (blen > 0 && (r->body[blen - 1] == ' ' || r->body[blen - 1] == '\t' ||
	                       r->body[blen - 1] == '\r' || r->body[blen - 1] == '\n'))
		blen--;
	if (blen != strlen(key_authz) || memcmp(r->body, key_authz, blen) != 0) {
		acme_quote(r->body, r->body_len, shown, sizeof(shown));
		return acme_problem_set(p, ACME_P_INCORRECT_RESPONSE,
		    "%s: %s answered GET http://%s%s with \"%s\", not the key authorization "
		    "(token.thumbprint of the account key)", what, r->addr, t->host, t->path, shown);
	}
	return 0;
}

int
acme_http01_hop(int fd, const char *addr, acme_http01_target *t, int hop, const char *key_authz,
    const acme_vopts *o, int64_t deadline, acme_problem *p)
{
	char what[HOST_MAX + 32];
	http_resp *r = calloc(1, sizeof(*r));
	int rc;

	snprintf(what, sizeof(what), "http-01 for %s", t->host);
	if (r == NULL)
		return acme_problem_set(p, ACME_P_SERVER_INTERNAL, "%s: out of memory", what);
	snprintf(r->addr, sizeof(r->addr), "%s", addr);
	rc = answer(fd, t, deadline, r, what, p);
	if (rc == 0)
		rc = judge(r, t, hop, key_authz, o, what, p);
	free(r);
	return rc;
}

int
acme_validate_http01(const char *identifier, int is_ip, const char *token, const char *key_authz,
    const acme_vopts *o, acme_problem *p)
{
	char what[HOST_MAX + 32];
	http_resp *r = NULL;
	target t;
	int64_t deadline = acme_now_ms() +
	    (o != NULL && o->timeout_ms > 0 ? o->timeout_ms : ACME_VAL_TIMEOUT_MS);
	int hop, rc = -1;

	if (identifier == NULL || strlen(identifier) >= sizeof(t.host) || token == NULL ||
	    !b64u_token(token) || key_authz == NULL)
		return acme_problem_set(p, ACME_P_SERVER_INTERNAL,
		    "http-01: identifier or token unusable for a request");
	snprintf(what, sizeof(what), "http-01 for %s", identifier);
	memset(&t, 0, sizeof(t));
	memcpy(t.host, identifier, strlen(identifier) + 1);
	t.is_ip = is_ip;
	t.port = o != NULL && o->http_port > 0 ? o->http_port : 80;
	snprintf(t.path, sizeof(t.path), "/.well-known/acme-challenge/%s", token);
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return acme_problem_set(p, ACME_P_SERVER_INTERNAL, "%s: out of memory", what);
	for (hop = 0; (rc = fetch(&t, o, deadline, r, what, p)) == 0 &&
	     (rc = judge(r, &t, hop, key_authz, o, what, p)) == 1;
	     hop++)
		;
	free(r);
	return rc;
}

char *
acme_key_authz(const char *token, EVP_PKEY *account_key)
{
	char tp[44], *out;
	size_t n;

	if (token == NULL || acme_jwk_thumbprint(account_key, tp) != 0)
		return NULL;
	n = strlen(token) + 1 + strlen(tp) + 1;
	if ((out = malloc(n)) != NULL)
		snprintf(out, n, "%s.%s", token, tp);
	return out;
}
