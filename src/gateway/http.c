/* The request side of http mode. http_parser finds the boundaries; heads are
 * rebuilt (client-sent identity headers dropped, ours added) and bodies pass
 * through byte for byte, chunked framing included, so the backend sees the
 * request the client sent. Responses are not parsed at all.
 *
 * Positions come from pausing the parser: a pause in on_headers_complete
 * leaves the head's last LF unconsumed (it is fed again on resume, so it is
 * skipped, not copied), and a pause in on_message_begin has consumed the
 * first byte of the next request line (dropped: heads are rebuilt). */
#include <http_parser.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gateway/gw.h"

enum hstate { H_HEAD, H_HEAD_READY, H_BODY, H_RAW };
enum hevent { EV_NONE, EV_BEGIN, EV_HEAD };

struct hdr {
	uint32_t no, nl, vo, vl;
};

struct gw_http {
	http_parser p;
	enum hstate st;
	enum hevent ev;
	size_t skip;       /* leading bytes that belong to the previous head */
	char *arena;       /* the head being parsed; NULL between heads */
	struct hdr *h;     /* GW_HTTP_HEADERS_MAX entries, after the arena */
	size_t alen;
	size_t url_off, url_len;
	size_t nh;
	int in_value, too_big;
};

/* The head's memory exists only while a head is being parsed, so an idle
 * keep-alive connection costs the parser state alone. */
static int
arena_get(gw_http *h)
{
	if (h->arena != NULL)
		return 0;
	h->arena = malloc(GW_HTTP_HEAD_MAX + GW_HTTP_HEADERS_MAX * sizeof(struct hdr));
	if (h->arena == NULL)
		return -1;
	h->h = (struct hdr *)(void *)(h->arena + GW_HTTP_HEAD_MAX);
	return 0;
}

static int
arena_add(gw_http *h, const char *at, size_t len)
{
	if (arena_get(h) != 0) {
		h->too_big = 1;
		return -1;
	}
	if (len > GW_HTTP_HEAD_MAX - h->alen) {
		h->too_big = 1;
		return -1;
	}
	memcpy(h->arena + h->alen, at, len);
	h->alen += len;
	return 0;
}

static int
on_begin(http_parser *p)
{
	gw_http *h = p->data;

	h->alen = h->url_off = h->url_len = h->nh = 0;
	h->in_value = 0;
	h->ev = EV_BEGIN;
	http_parser_pause(p, 1);
	return 0;
}

static int
on_url(http_parser *p, const char *at, size_t len)
{
	gw_http *h = p->data;

	if (h->url_len == 0)
		h->url_off = h->alen;
	h->url_len += len;
	return arena_add(h, at, len) ? 1 : 0;
}

static int
on_field(http_parser *p, const char *at, size_t len)
{
	gw_http *h = p->data;

	if (arena_get(h) != 0)
		return 1;
	if (h->nh == 0 || h->in_value) {
		if (h->nh == GW_HTTP_HEADERS_MAX) {
			h->too_big = 1;
			return 1;
		}
		h->h[h->nh].no = (uint32_t)h->alen;
		h->h[h->nh].nl = h->h[h->nh].vo = h->h[h->nh].vl = 0;
		h->nh++;
		h->in_value = 0;
	}
	h->h[h->nh - 1].nl += (uint32_t)len;
	return arena_add(h, at, len) ? 1 : 0;
}

static int
on_value(http_parser *p, const char *at, size_t len)
{
	gw_http *h = p->data;

	if (h->nh == 0)
		return 1;
	if (!h->in_value) {
		h->h[h->nh - 1].vo = (uint32_t)h->alen;
		h->in_value = 1;
	}
	h->h[h->nh - 1].vl += (uint32_t)len;
	return arena_add(h, at, len) ? 1 : 0;
}

static int
on_head(http_parser *p)
{
	gw_http *h = p->data;

	h->ev = EV_HEAD;
	http_parser_pause(p, 1);
	return 0;
}

static const http_parser_settings settings = {
	.on_message_begin = on_begin,
	.on_url = on_url,
	.on_header_field = on_field,
	.on_header_value = on_value,
	.on_headers_complete = on_head,
};

gw_http *
gw_http_new(void)
{
	gw_http *h = calloc(1, sizeof(*h));

	if (h == NULL)
		return NULL;
	http_parser_init(&h->p, HTTP_REQUEST);
	h->p.data = h;
	return h;
}

void
gw_http_free(gw_http *h)
{
	if (h == NULL)
		return;
	free(h->arena);
	free(h);
}

static size_t
min_sz(size_t a, size_t b)
{
	return a < b ? a : b;
}

/* After an upgrade (WebSocket, CONNECT) the connection is a byte tunnel. */
static enum gw_http_ev
feed_raw(gw_http *h, const char *in, size_t len, size_t *used, char *out,
    size_t outspace, size_t *outlen)
{
	size_t sk = min_sz(h->skip, len), n;

	h->skip -= sk;
	n = min_sz(len - sk, outspace);
	memcpy(out, in + sk, n);
	*used = sk + n;
	*outlen = n;
	return GW_HTTP_MORE;
}

enum gw_http_ev
gw_http_feed(gw_http *h, const char *in, size_t len, size_t *used, char *out,
    size_t outspace, size_t *outlen)
{
	*used = *outlen = 0;
	if (h->st == H_HEAD_READY)
		return GW_HTTP_HEAD;
	if (h->st == H_RAW)
		return feed_raw(h, in, len, used, out, outspace, outlen);
	while (*used < len) {
		const char *p = in + *used;
		size_t avail = len - *used, n, sk, copy;
		enum http_errno e;

		if (h->st == H_BODY)
			avail = min_sz(avail, outspace - *outlen + h->skip);
		if (avail == 0)
			break;
		h->ev = EV_NONE;
		n = http_parser_execute(&h->p, &settings, p, avail);
		e = HTTP_PARSER_ERRNO(&h->p);
		sk = min_sz(h->skip, n);
		h->skip -= sk;
		if (h->st == H_BODY) {
			copy = n - sk - (h->ev == EV_BEGIN && n > sk ? 1 : 0);
			memcpy(out + *outlen, p + sk, copy);
			*outlen += copy;
		}
		*used += n;
		if (e == HPE_PAUSED) {
			http_parser_pause(&h->p, 0);
			if (h->ev == EV_HEAD) {
				h->st = H_HEAD_READY;
				h->skip = 1;
				return GW_HTTP_HEAD;
			}
			h->st = H_HEAD;
			continue;
		}
		if (e != HPE_OK)
			return h->too_big ? GW_HTTP_TOO_BIG : GW_HTTP_BAD;
		if (n < avail)
			break;
	}
	return GW_HTTP_MORE;
}

int
gw_http_header_reserved(const char *name, size_t len)
{
	static const char *const exact[] = { "x-forwarded-for", "x-forwarded-proto" };
	static const char prefix[] = "x-client-";
	char low[32];

	if (len >= sizeof(low))
		return 0;
	for (size_t i = 0; i < len; i++) {
		char c = name[i];
		low[i] = c == '_' ? '-' : (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
	}
	low[len] = '\0';
	if (len >= sizeof(prefix) - 1 && memcmp(low, prefix, sizeof(prefix) - 1) == 0)
		return 1;
	for (size_t i = 0; i < sizeof(exact) / sizeof(exact[0]); i++)
		if (strcmp(low, exact[i]) == 0)
			return 1;
	return 0;
}

size_t
gw_http_head_size(const gw_http *h, size_t extra_len)
{
	size_t n = 32 + h->url_len + extra_len; /* method, version, CRLFs */

	for (size_t i = 0; i < h->nh; i++)
		n += h->h[i].nl + h->h[i].vl + 4;
	return n;
}

static char *
put(char *o, const void *s, size_t n)
{
	memcpy(o, s, n);
	return o + n;
}

size_t
gw_http_head_write(gw_http *h, char *out, const struct gw_text *extra, size_t n)
{
	const char *method = http_method_str((enum http_method)h->p.method);
	char ver[16];
	char *o = out;

	o = put(o, method, strlen(method));
	o = put(o, " ", 1);
	o = put(o, h->arena + h->url_off, h->url_len);
	snprintf(ver, sizeof(ver), " HTTP/%u.%u\r\n", h->p.http_major % 10, h->p.http_minor % 10);
	o = put(o, ver, strlen(ver));
	for (size_t i = 0; i < h->nh; i++) {
		const struct hdr *d = &h->h[i];
		if (gw_http_header_reserved(h->arena + d->no, d->nl))
			continue;
		o = put(o, h->arena + d->no, d->nl);
		o = put(o, ": ", 2);
		o = put(o, h->arena + d->vo, d->vl);
		o = put(o, "\r\n", 2);
	}
	for (size_t i = 0; i < n; i++)
		o = put(o, extra[i].p, extra[i].len);
	o = put(o, "\r\n", 2);
	h->st = h->p.upgrade ? H_RAW : H_BODY;
	/* Idle keep-alive connections should not hold a head buffer. */
	free(h->arena);
	h->arena = NULL;
	h->h = NULL;
	h->alen = h->url_len = h->nh = 0;
	return (size_t)(o - out);
}

static const char *
status_text(int status)
{
	switch (status) {
	case 400: return "Bad Request";
	case 403: return "Forbidden";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	default: return "Error";
	}
}

int
gw_http_error(int status, const char *reason, char *out, size_t cap)
{
	char body[512];
	const char *text = status_text(status);
	int blen, n;

	if (reason != NULL)
		blen = snprintf(body, sizeof(body),
		    "<html>\r\n<head><title>%d %s</title></head>\r\n<body>\r\n"
		    "<center><h1>%d %s</h1></center>\r\n<center>%s</center>\r\n"
		    "<hr><center>tlsgate</center>\r\n</body>\r\n</html>\r\n",
		    status, reason, status, text, reason);
	else
		blen = snprintf(body, sizeof(body),
		    "<html>\r\n<head><title>%d %s</title></head>\r\n<body>\r\n"
		    "<center><h1>%d %s</h1></center>\r\n"
		    "<hr><center>tlsgate</center>\r\n</body>\r\n</html>\r\n",
		    status, text, status, text);
	if (blen < 0 || (size_t)blen >= sizeof(body))
		return -1;
	n = snprintf(out, cap,
	    "HTTP/1.1 %d %s\r\nServer: tlsgate\r\nContent-Type: text/html\r\n"
	    "Content-Length: %d\r\nConnection: close\r\n\r\n%s",
	    status, text, blen, body);
	if (n < 0 || (size_t)n >= cap)
		return -1;
	return n;
}
