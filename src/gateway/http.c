/* http mode's filter, both ways. Requests: each head is parsed strictly
 * (h1.c) and rebuilt (client-sent identity headers, framing and hop-by-hop
 * fields dropped; our identity headers, our own framing line and the
 * Connection options we keep added); Content-Length bodies are copied,
 * chunked bodies re-framed from the parsed chunks (extensions and trailers
 * dropped), so the backend only ever sees framing the gateway wrote.
 * Responses pass unchanged but are scanned for their boundaries and matched
 * in order to the requests sent: that is how the filter knows when a request
 * that asked to upgrade (or a CONNECT) was answered, and with what. Until
 * then the client's next bytes are held; a 101 to that request (a 2xx to a
 * CONNECT) turns the connection into a tunnel, anything else lets the next
 * request be filtered like the first. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/gw.h"
#include "gateway/h1.h"

enum rq {
	RQ_IDLE,    /* between requests */
	RQ_HEAD,    /* reading a head */
	RQ_READY,   /* a head is parsed; waiting for gw_http_head_write */
	RQ_LENGTH,  /* copying a Content-Length body */
	RQ_CHUNKED, /* re-framing a chunked body */
	RQ_HOLD,    /* the last request waits for its answer: client bytes stay put */
	RQ_RAW,     /* a tunnel: bytes pass both ways unparsed */
	RQ_REFUSED, /* the request is refused; nothing more is read */
};

/* What the last request sent waits for before the next may be read. */
enum { AWAIT_NONE, AWAIT_UPGRADE, AWAIT_CONNECT };

/* The head's memory exists only while a head is being parsed, so an idle
 * keep-alive connection costs the state below alone. */
struct head {
	char buf[H1_HEAD_MAX];
	struct h1_request req;
};

struct gw_http {
	struct head *hd;
	const char *why;       /* what was wrong: the refusal, or the backend's error */
	uint64_t left;         /* Content-Length body bytes still to copy */
	uint64_t head_bits;    /* bit i: request i of the ring was HEAD (no response body) */
	size_t keep;           /* bytes of gw_http_response's input before the response being read */
	struct h1_chunk ck;    /* the request's chunked body */
	struct h1_response rs; /* the response being read */
	uint16_t alen, status;
	uint8_t st, scan, flags, too_big;
	uint8_t first, nout;   /* ring of requests sent without a final response */
	uint8_t await;
	uint8_t owed;          /* refused: responses the client gets before the refusal */
	uint8_t close_next;    /* the next head asks the backend to close */
	uint8_t clean;         /* the response being read began in this gw_http_response call */
	uint8_t pend_off, pend_len;
	char pend[24];         /* framing we wrote that did not fit the output yet */
};

gw_http *
gw_http_new(unsigned flags)
{
	gw_http *h = calloc(1, sizeof(*h));

	if (h == NULL)
		return NULL;
	h->flags = (uint8_t)flags;
	h1_response_init(&h->rs);
	return h;
}

static void
head_free(gw_http *h)
{
	free(h->hd);
	h->hd = NULL;
	h->alen = 0;
	h->scan = 0;
}

void
gw_http_free(gw_http *h)
{
	if (h == NULL)
		return;
	head_free(h);
	free(h);
}

static size_t
min_sz(size_t a, size_t b)
{
	return a < b ? a : b;
}

/* From now on no request is read. The requests forwarded whole are still
 * owed their responses; one whose body was cut by the refusal is not. */
static void
stop(gw_http *h)
{
	h->owed = (uint8_t)(h->nout - (h->st == RQ_CHUNKED || h->st == RQ_LENGTH));
	h->st = RQ_REFUSED;
}

static enum gw_http_ev
refuse(gw_http *h, int status, int too_big, const char *why)
{
	stop(h);
	h->status = (uint16_t)status;
	h->too_big = (uint8_t)too_big;
	h->why = why;
	head_free(h);
	return GW_HTTP_REFUSE;
}

unsigned
gw_http_stop(gw_http *h)
{
	if (h->st != RQ_REFUSED)
		stop(h);
	head_free(h);
	return h->owed;
}

unsigned
gw_http_owed(const gw_http *h)
{
	return h->st == RQ_REFUSED ? h->owed : 0;
}

void
gw_http_close_next(gw_http *h)
{
	h->close_next = 1;
}

int
gw_http_refusal(const gw_http *h, const char **reason, const char **why)
{
	*reason = h->too_big ? "Request Header Or Cookie Too Large" : NULL;
	*why = h->why;
	return h->status;
}

/* Framing lines we write go out before anything else. 1: some are left. */
static int
pend_flush(gw_http *h, char *out, size_t room, size_t *outlen)
{
	size_t n = min_sz(h->pend_len - h->pend_off, room - *outlen);

	memcpy(out + *outlen, h->pend + h->pend_off, n);
	*outlen += n;
	h->pend_off = (uint8_t)(h->pend_off + n);
	if (h->pend_off < h->pend_len)
		return 1;
	h->pend_off = h->pend_len = 0;
	return 0;
}

static void
pend_set(gw_http *h, const char *s, size_t n)
{
	memcpy(h->pend, s, n);
	h->pend_off = 0;
	h->pend_len = (uint8_t)n;
}

static void
body_done(gw_http *h)
{
	h->st = h->await != AWAIT_NONE ? RQ_HOLD : RQ_IDLE;
}

static enum gw_http_ev
head_read(gw_http *h, const char *p, size_t avail, size_t *used)
{
	int done;
	size_t n = h1_head_end(&h->scan, p, avail, &done);
	struct h1_request *r = &h->hd->req;

	if (n > (size_t)H1_HEAD_MAX - h->alen)
		return refuse(h, 400, 1, "request head over 16 KB");
	memcpy(h->hd->buf + h->alen, p, n);
	h->alen = (uint16_t)(h->alen + n);
	*used += n;
	if (!done)
		return GW_HTTP_MORE;
	if (h1_request_parse(h->hd->buf, h->alen, r) != 0)
		return refuse(h, r->status, r->too_big, r->why);
	if (r->connect && !(h->flags & GW_HTTP_ALLOW_CONNECT))
		return refuse(h, 405, 0, "CONNECT is not allowed (listener option allow-connect)");
	h->st = RQ_READY;
	return GW_HTTP_HEAD;
}

static enum gw_http_ev
chunk_read(gw_http *h, const char *p, size_t avail, size_t *used, char *out, size_t *outlen)
{
	const char *why = NULL;
	char line[24];
	size_t n;
	int len;

	switch (h1_chunk_feed(&h->ck, p, avail, &n, &why)) {
	case H1_CK_SIZE:
		len = snprintf(line, sizeof(line), "%llx\r\n", (unsigned long long)h->ck.left);
		pend_set(h, line, (size_t)len);
		break;
	case H1_CK_DATA:
		memcpy(out + *outlen, p, n);
		*outlen += n;
		break;
	case H1_CK_DATA_END:
		pend_set(h, "\r\n", 2);
		break;
	case H1_CK_LAST:
		pend_set(h, "0\r\n\r\n", 5); /* trailers are dropped */
		body_done(h);
		break;
	case H1_CK_BAD:
		return refuse(h, 400, 0, why);
	case H1_CK_TOO_BIG:
		return refuse(h, 400, 1, "trailer section over 16 KB");
	case H1_CK_MORE:
		break;
	}
	*used += n;
	return GW_HTTP_MORE;
}

enum gw_http_ev
gw_http_feed(gw_http *h, const char *in, size_t len, size_t *used, char *out,
    size_t outspace, size_t *outlen)
{
	*used = *outlen = 0;
	for (;;) {
		const char *p = in + *used;
		size_t avail = len - *used, n;
		enum gw_http_ev ev;

		if (pend_flush(h, out, outspace, outlen))
			return GW_HTTP_MORE;
		switch (h->st) {
		case RQ_READY:
			return GW_HTTP_HEAD;
		case RQ_REFUSED:
			return GW_HTTP_REFUSE;
		case RQ_HOLD:
			return GW_HTTP_MORE;
		case RQ_RAW:
			n = min_sz(avail, outspace - *outlen);
			memcpy(out + *outlen, p, n);
			*used += n;
			*outlen += n;
			return GW_HTTP_MORE;
		case RQ_IDLE:
			if (avail == 0 || h->nout == GW_HTTP_PIPELINE)
				return GW_HTTP_MORE;
			if (*p == '\r' || *p == '\n') { /* empty lines before a request: ignored */
				(*used)++;
				continue;
			}
			/* Not a method: not HTTP (TLS inside TLS, a stray binary
			 * protocol); no need to wait for a whole head. */
			if (!h1_tchar((unsigned char)*p))
				return refuse(h, 400, 0, "malformed request line: the method is not a token");
			if ((h->hd = malloc(sizeof(*h->hd))) == NULL)
				return refuse(h, 503, 0, "out of memory for a request head");
			h->st = RQ_HEAD;
			continue;
		case RQ_HEAD:
			if (avail == 0)
				return GW_HTTP_MORE;
			if ((ev = head_read(h, p, avail, used)) != GW_HTTP_MORE)
				return ev;
			continue;
		case RQ_LENGTH:
			n = min_sz(min_sz(avail, outspace - *outlen), h->left > SIZE_MAX ? SIZE_MAX : (size_t)h->left);
			if (n == 0)
				return GW_HTTP_MORE;
			memcpy(out + *outlen, p, n);
			*used += n;
			*outlen += n;
			if ((h->left -= n) == 0)
				body_done(h);
			continue;
		case RQ_CHUNKED:
			if (h1_chunk_in_data(&h->ck))
				avail = min_sz(avail, outspace - *outlen);
			if (avail == 0)
				return GW_HTTP_MORE;
			if ((ev = chunk_read(h, p, avail, used, out, outlen)) != GW_HTTP_MORE)
				return ev;
			continue;
		}
	}
}

enum gw_http_phase
gw_http_phase(const gw_http *h)
{
	switch (h->st) {
	case RQ_IDLE:
		return GW_HTTP_IDLE;
	case RQ_HEAD:
	case RQ_READY:
		return GW_HTTP_IN_HEAD;
	case RQ_LENGTH:
	case RQ_CHUNKED:
		return GW_HTTP_IN_BODY;
	default:
		return GW_HTTP_OTHER;
	}
}

unsigned
gw_http_outstanding(const gw_http *h)
{
	return h->nout;
}

int
gw_http_pending(const gw_http *h)
{
	return h->pend_len > h->pend_off || h->st == RQ_READY;
}

int
gw_http_header_reserved(const char *name, size_t len)
{
	static const struct {
		const char *word;
		int prefix;
	} reserved[] = {
		{ "x-client-", 1 }, { "x-forwarded-", 1 }, { "x-real-ip", 0 }, { "forwarded", 0 },
		{ "script-name", 0 }, /* gunicorn's mount point, taken from a trusted proxy */
	};

	for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++)
		if (h1_name_is(name, len, reserved[i].word, reserved[i].prefix))
			return 1;
	return 0;
}

size_t
gw_http_head_size(const gw_http *h, size_t extra_len)
{
	const struct h1_request *r = &h->hd->req;
	/* Request line's spaces and version, our framing and Connection lines,
	 * the final CRLF. */
	size_t n = 128 + r->method.len + r->target.len + extra_len;

	for (size_t i = 0; i < r->nfields; i++)
		n += r->f[i].name.len + r->f[i].value.len + 4;
	return n;
}

static char *
put(char *o, const void *s, size_t n)
{
	memcpy(o, s, n);
	return o + n;
}

/* Framing and hop-by-hop fields are the gateway's to write; h2c's upgrade
 * is not forwarded (the request goes on as HTTP/1.1). */
static int
field_dropped(const struct h1_request *r, const char *buf, const struct h1_field *f)
{
	switch (f->kind) {
	case H1_F_CONTENT_LENGTH:
	case H1_F_TRANSFER_ENCODING:
	case H1_F_CONNECTION:
	case H1_F_HTTP2_SETTINGS:
		return 1;
	case H1_F_UPGRADE:
		return r->h2c;
	default:
		return gw_http_header_reserved(buf + f->name.off, f->name.len);
	}
}

static char *
put_connection(char *o, uint8_t conn)
{
	static const struct {
		uint8_t flag;
		const char *name;
	} opts[] = { { H1_CONN_CLOSE, "close" }, { H1_CONN_KEEP_ALIVE, "keep-alive" },
		{ H1_CONN_UPGRADE, "upgrade" } };
	const char *sep = "Connection: ";

	for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
		if (!(conn & opts[i].flag))
			continue;
		o = put(o, sep, strlen(sep));
		o = put(o, opts[i].name, strlen(opts[i].name));
		sep = ", ";
	}
	return conn ? put(o, "\r\n", 2) : o;
}

/* The request is on its way: its response will be matched to it. */
static void
request_sent(gw_http *h, const struct h1_request *r)
{
	unsigned idx = (h->first + h->nout) % GW_HTTP_PIPELINE;

	if (r->head)
		h->head_bits |= (uint64_t)1 << idx;
	else
		h->head_bits &= ~((uint64_t)1 << idx);
	h->nout++;
	h->await = r->connect ? AWAIT_CONNECT : r->upgrade && !r->h2c ? AWAIT_UPGRADE : AWAIT_NONE;
	memset(&h->ck, 0, sizeof(h->ck));
	h->left = r->length;
	if (r->body == H1_BODY_CHUNKED)
		h->st = RQ_CHUNKED;
	else if (r->body == H1_BODY_LENGTH && r->length > 0)
		h->st = RQ_LENGTH;
	else
		body_done(h);
}

size_t
gw_http_head_write(gw_http *h, char *out, const struct gw_text *extra, size_t n)
{
	const struct h1_request *r = &h->hd->req;
	const char *b = h->hd->buf;
	uint8_t conn = r->conn;
	char line[48];
	char *o = out;
	int len;

	o = put(o, b + r->method.off, r->method.len);
	o = put(o, " ", 1);
	o = put(o, b + r->target.off, r->target.len);
	o = put(o, r->minor ? " HTTP/1.1\r\n" : " HTTP/1.0\r\n", 11);
	for (size_t i = 0; i < r->nfields; i++) {
		const struct h1_field *f = &r->f[i];
		if (field_dropped(r, b, f))
			continue;
		o = put(o, b + f->name.off, f->name.len);
		o = put(o, ": ", 2);
		o = put(o, b + f->value.off, f->value.len);
		o = put(o, "\r\n", 2);
	}
	if (r->body == H1_BODY_CHUNKED) {
		o = put(o, "Transfer-Encoding: chunked\r\n", 28);
	} else if (r->body == H1_BODY_LENGTH) {
		len = snprintf(line, sizeof(line), "Content-Length: %llu\r\n", (unsigned long long)r->length);
		o = put(o, line, (size_t)len);
	}
	if (!r->upgrade || r->h2c)
		conn &= (uint8_t)~H1_CONN_UPGRADE;
	if (h->close_next) /* the one Connection line says close, not keep-alive too */
		conn = (uint8_t)((conn | H1_CONN_CLOSE) & ~H1_CONN_KEEP_ALIVE);
	o = put_connection(o, conn);
	for (size_t i = 0; i < n; i++)
		o = put(o, extra[i].p, extra[i].len);
	o = put(o, "\r\n", 2);
	request_sent(h, r);
	/* Idle keep-alive connections should not hold a head buffer. */
	head_free(h);
	return (size_t)(o - out);
}

/* --- Responses --- */

static void
tunnel(gw_http *h)
{
	h1_response_raw(&h->rs);
	head_free(h);
	h->st = RQ_RAW;
	h->await = AWAIT_NONE;
	h->nout = 0;
}

static void
response_done(gw_http *h)
{
	h->head_bits &= ~((uint64_t)1 << h->first);
	h->first = (uint8_t)((h->first + 1) % GW_HTTP_PIPELINE);
	h->nout--;
	if (h->st == RQ_REFUSED && h->owed > 0)
		h->owed--;
	if (h->nout == 0 && h->await != AWAIT_NONE) {
		/* The upgrade (or CONNECT) was declined: back to requests. */
		h->await = AWAIT_NONE;
		if (h->st == RQ_HOLD)
			h->st = RQ_IDLE;
	}
}

static int
response_head(gw_http *h)
{
	unsigned status = h->rs.status;
	int head = (int)(h->head_bits >> h->first) & 1;
	int last = h->nout == 1;

	if (status == 101) {
		if (!last || h->await != AWAIT_UPGRADE) {
			h->why = "101 Switching Protocols to a request that did not ask to upgrade";
			return -1;
		}
		tunnel(h);
		return 0;
	}
	if (status < 100) {
		h->why = "status code below 100";
		return -1;
	}
	if (status < 200) { /* interim (100 Continue): the final response follows */
		(void)h1_response_body(&h->rs, 1);
		return 0;
	}
	if (last && h->await == AWAIT_CONNECT && status < 300) {
		tunnel(h);
		return 0;
	}
	if (h1_response_body(&h->rs, head || status == 204 || status == 304))
		response_done(h);
	return 0;
}

int
gw_http_response(gw_http *h, const char *p, size_t n)
{
	size_t off = 0, k;

	h->keep = 0;
	h->clean = (uint8_t)h1_response_at_start(&h->rs);
	while (off < n && h->st != RQ_RAW) {
		enum h1_rs_ev ev;
		unsigned before = h->nout;

		if (h->st == RQ_REFUSED && h->owed == 0)
			return 1; /* the rest is not for the client */
		if (h->nout == 0) {
			h->why = "a response to no request";
			return -1;
		}
		ev = h1_response_feed(&h->rs, p + off, n - off, &k, &h->why);
		off += k;
		if (ev == H1_RS_BAD || (ev == H1_RS_HEAD && response_head(h) != 0))
			return -1;
		if (ev == H1_RS_DONE)
			response_done(h);
		if (h->nout < before || (ev == H1_RS_HEAD && h1_response_at_start(&h->rs))) {
			/* a response (or an interim one) ended here */
			h->keep = off;
			h->clean = 1;
		}
	}
	if (h->st == RQ_REFUSED && h->owed == 0) {
		h->keep = off;
		return 1;
	}
	return 0;
}

size_t
gw_http_response_keep(const gw_http *h, int *clean)
{
	*clean = h->clean;
	return h->keep;
}

const char *
gw_http_response_error(const gw_http *h)
{
	return h->why;
}

/* --- Error pages --- */

static const struct {
	int status;
	const char *text;
} status_texts[] = {
	{ 400, "Bad Request" }, { 403, "Forbidden" }, { 405, "Not Allowed" },
	{ 408, "Request Time-out" }, { 501, "Not Implemented" }, { 502, "Bad Gateway" },
	{ 503, "Service Unavailable" }, { 504, "Gateway Timeout" },
	{ 505, "HTTP Version Not Supported" },
};

static const char *
status_text(int status)
{
	for (size_t i = 0; i < sizeof(status_texts) / sizeof(status_texts[0]); i++)
		if (status_texts[i].status == status)
			return status_texts[i].text;
	return "Error";
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
