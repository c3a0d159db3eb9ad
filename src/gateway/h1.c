/* Strict HTTP/1.1 syntax. A request head is checked whole, against what
 * RFC 9112 tells an intermediary to reject: a field name that is not a token
 * or has whitespace before its colon, obs-fold, control characters in values,
 * a request target that is not visible ASCII, a bare CR, Content-Length that
 * is not digits or comes twice with different values, Transfer-Encoding with
 * Content-Length or in HTTP/1.0, a final coding other than chunked, an
 * HTTP/1.1 request without exactly one Host. A line may end with a bare LF
 * (RFC 9112 section 2.2 allows it; the gateway writes CRLF).
 *
 * Chunked bodies and response heads are scanned byte by byte with a few
 * bytes of state, so that nothing has to be buffered: the request's chunks
 * are re-framed by the caller from the events, and responses only need their
 * boundaries. */
#include <string.h>

#include "gateway/h1.h"

int
h1_tchar(unsigned char c)
{
	static const char extra[] = "!#$%&'*+-.^_`|~";

	if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
		return 1;
	return c != '\0' && memchr(extra, c, sizeof(extra) - 1) != NULL;
}

static unsigned char
lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c;
}

static int
is_ws(unsigned char c)
{
	return c == ' ' || c == '\t';
}

/* A field value may hold HTAB, SP, visible ASCII and obs-text; no other
 * control character. */
static int
is_ctl(unsigned char c)
{
	return (c < 0x20 && c != '\t') || c == 0x7f;
}

int
h1_name_is(const char *name, size_t len, const char *word, int prefix)
{
	size_t i;

	for (i = 0; i < len && word[i] != '\0'; i++) {
		unsigned char c = (unsigned char)name[i];
		c = c == '_' ? '-' : lower(c);
		if (c != (unsigned char)word[i])
			return 0;
	}
	return word[i] == '\0' && (prefix || i == len);
}

int
h1_word(const char *s, size_t n, const char *word)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (word[i] == '\0' || lower((unsigned char)s[i]) != (unsigned char)word[i])
			return 0;
	return word[i] == '\0';
}

size_t
h1_head_end(uint8_t *st, const char *p, size_t n, int *done)
{
	*done = 0;
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '\n') {
			if (*st == 1) {
				*done = 1;
				return i + 1;
			}
			*st = 1; /* at the start of a line */
		} else if (p[i] != '\r') {
			*st = 0; /* a CR is checked by the parser: only before LF */
		}
	}
	return n;
}

/* --- Request heads --- */

static int
refuse(struct h1_request *r, int status, const char *why)
{
	r->status = status;
	r->why = why;
	return -1;
}

static struct h1_span
span(size_t s, size_t e)
{
	struct h1_span sp = { (uint16_t)s, (uint16_t)(e - s) };
	return sp;
}

/* The next line [*s, *e) without its CRLF or LF; -1 on a CR elsewhere. */
static int
next_line(const unsigned char *b, size_t len, size_t *pos, size_t *s, size_t *e)
{
	const unsigned char *lf = memchr(b + *pos, '\n', len - *pos);

	if (lf == NULL)
		return -1;
	*s = *pos;
	*e = (size_t)(lf - b);
	*pos = *e + 1;
	if (*e > *s && b[*e - 1] == '\r')
		(*e)--;
	return memchr(b + *s, '\r', *e - *s) == NULL ? 0 : -1;
}

static int
request_line(const unsigned char *b, size_t s, size_t e, struct h1_request *r)
{
	size_t i = s;

	while (i < e && h1_tchar(b[i]))
		i++;
	if (i == s || i == e || b[i] != ' ')
		return refuse(r, 400, "malformed request line: the method is not a token");
	r->method = span(s, i);
	s = ++i;
	while (i < e && b[i] > 0x20 && b[i] < 0x7f)
		i++;
	if (i == s || i == e || b[i] != ' ')
		return refuse(r, 400, "malformed request line: the target is not visible ASCII");
	r->target = span(s, i);
	i++;
	if (e - i != 8 || memcmp(b + i, "HTTP/", 5) != 0 || b[i + 5] < '0' || b[i + 5] > '9' ||
	    b[i + 6] != '.' || b[i + 7] < '0' || b[i + 7] > '9')
		return refuse(r, 400, "malformed request line: no HTTP version");
	if (b[i + 5] != '1')
		return refuse(r, 505, "HTTP version other than 1.x");
	r->minor = b[i + 7] == '0' ? 0 : 1;
	return 0;
}

static const struct {
	const char *name;
	uint8_t kind;
} known_fields[] = {
	{ "host", H1_F_HOST },
	{ "content-length", H1_F_CONTENT_LENGTH },
	{ "transfer-encoding", H1_F_TRANSFER_ENCODING },
	{ "connection", H1_F_CONNECTION },
	{ "upgrade", H1_F_UPGRADE },
	{ "http2-settings", H1_F_HTTP2_SETTINGS },
};

static int
field_line(const unsigned char *b, size_t s, size_t e, struct h1_request *r)
{
	struct h1_field *f;
	size_t i = s, vs, ve;

	if (is_ws(b[s]))
		return refuse(r, 400, "obs-fold: a header line starts with whitespace");
	while (i < e && h1_tchar(b[i]))
		i++;
	if (i == s || i == e || b[i] != ':')
		return refuse(r, 400, "malformed header: the name is not a token followed by a colon");
	if (r->nfields == H1_FIELDS_MAX) {
		r->too_big = 1;
		return refuse(r, 400, "more than 128 header fields");
	}
	vs = i + 1;
	ve = e;
	while (vs < ve && is_ws(b[vs]))
		vs++;
	while (ve > vs && is_ws(b[ve - 1]))
		ve--;
	for (size_t k = vs; k < ve; k++)
		if (is_ctl(b[k]))
			return refuse(r, 400, "control character in a header value");
	f = &r->f[r->nfields++];
	f->name = span(s, i);
	f->value = span(vs, ve);
	f->kind = H1_F_OTHER;
	for (size_t k = 0; k < sizeof(known_fields) / sizeof(known_fields[0]); k++) {
		if (!h1_name_is((const char *)b + s, i - s, known_fields[k].name, 0))
			continue;
		/* WSGI and CGI servers name fields with '_' for '-', and some
		 * (werkzeug's before 2.3) then read Content_Length as the body's
		 * length and Transfer_Encoding: chunked as its framing: a body
		 * the gateway never framed. */
		if (memchr(b + s, '_', i - s) != NULL)
			return refuse(r, 400, "a framing header spelt with '_' (Content_Length, "
			    "Transfer_Encoding): WSGI and CGI backends read it as the real one");
		f->kind = known_fields[k].kind;
	}
	return 0;
}

/* The next element [*ts, *te) of a comma-separated list; empty elements
 * are skipped. 0 at the end of the list. */
static int
list_next(const unsigned char *b, size_t *i, size_t e, size_t *ts, size_t *te)
{
	while (*i < e && (is_ws(b[*i]) || b[*i] == ','))
		(*i)++;
	if (*i == e)
		return 0;
	*ts = *i;
	while (*i < e && b[*i] != ',')
		(*i)++;
	*te = *i;
	while (*te > *ts && is_ws(b[*te - 1]))
		(*te)--;
	return 1;
}

static int
is_token(const unsigned char *b, size_t s, size_t e)
{
	if (s == e)
		return 0;
	for (; s < e; s++)
		if (!h1_tchar(b[s]))
			return 0;
	return 1;
}

/* What the framing fields said, gathered over all of them. */
struct framing {
	unsigned hosts, cl, te, chunked_last, other_coding;
};

static int
content_length(const unsigned char *b, const struct h1_field *f, struct h1_request *r,
    struct framing *fr)
{
	uint64_t n = 0;

	if (f->value.len == 0 || f->value.len > 18)
		return refuse(r, 400, "Content-Length is not a number of at most 18 digits");
	for (size_t i = f->value.off; i < (size_t)f->value.off + f->value.len; i++) {
		if (b[i] < '0' || b[i] > '9')
			return refuse(r, 400, "Content-Length is not a number of at most 18 digits");
		n = n * 10 + (uint64_t)(b[i] - '0');
	}
	if (fr->cl && n != r->length)
		return refuse(r, 400, "two different Content-Length values");
	fr->cl = 1;
	r->length = n;
	return 0;
}

/* Codings accumulate over all Transfer-Encoding lines, in order. */
static int
transfer_encoding(const unsigned char *b, const struct h1_field *f, struct h1_request *r,
    struct framing *fr)
{
	size_t i = f->value.off, e = i + f->value.len, ts, te;

	fr->te = 1;
	while (list_next(b, &i, e, &ts, &te)) {
		if (fr->chunked_last)
			return refuse(r, 400, "a transfer coding after chunked");
		if (h1_word((const char *)b + ts, te - ts, "chunked"))
			fr->chunked_last = 1;
		else if (is_token(b, ts, te))
			fr->other_coding = 1;
		else
			return refuse(r, 400, "Transfer-Encoding is not a list of codings");
	}
	return 0;
}

static int
connection(const unsigned char *b, const struct h1_field *f, struct h1_request *r)
{
	static const struct {
		const char *name;
		uint8_t flag;
	} opts[] = { { "close", H1_CONN_CLOSE }, { "keep-alive", H1_CONN_KEEP_ALIVE },
		{ "upgrade", H1_CONN_UPGRADE } };
	size_t i = f->value.off, e = i + f->value.len, ts, te;

	while (list_next(b, &i, e, &ts, &te)) {
		if (!is_token(b, ts, te))
			return refuse(r, 400, "Connection is not a list of tokens");
		for (size_t k = 0; k < sizeof(opts) / sizeof(opts[0]); k++)
			if (h1_word((const char *)b + ts, te - ts, opts[k].name))
				r->conn |= opts[k].flag;
	}
	return 0;
}

/* Upgrade: any protocol makes the request wait for the backend's answer;
 * h2c ("protocol/version" or bare) is noted for the caller to strip. */
static void
upgrade(const unsigned char *b, const struct h1_field *f, struct h1_request *r)
{
	size_t i = f->value.off, e = i + f->value.len, ts, te;

	r->upgrade = 1;
	while (list_next(b, &i, e, &ts, &te)) {
		const unsigned char *slash = memchr(b + ts, '/', te - ts);
		if (h1_word((const char *)b + ts, slash ? (size_t)(slash - b) - ts : te - ts, "h2c"))
			r->h2c = 1;
	}
}

static int
framing_check(const struct framing *fr, struct h1_request *r)
{
	if (fr->te && r->minor == 0)
		return refuse(r, 400, "Transfer-Encoding in an HTTP/1.0 request");
	if (fr->te && fr->cl)
		return refuse(r, 400, "Transfer-Encoding with Content-Length");
	if (fr->te && !fr->chunked_last)
		return refuse(r, 400, "the final transfer coding is not chunked");
	if (fr->other_coding)
		return refuse(r, 501, "a transfer coding other than chunked");
	if (fr->hosts > 1)
		return refuse(r, 400, "more than one Host field");
	if (fr->hosts == 0 && r->minor == 1)
		return refuse(r, 400, "HTTP/1.1 request without Host");
	r->body = fr->te ? H1_BODY_CHUNKED : fr->cl ? H1_BODY_LENGTH : H1_BODY_NONE;
	return 0;
}

int
h1_request_parse(const char *buf, size_t len, struct h1_request *r)
{
	const unsigned char *b = (const unsigned char *)buf;
	struct framing fr = { 0 };
	size_t pos = 0, s, e;

	memset(r, 0, offsetof(struct h1_request, f));
	r->status = 0;
	r->too_big = 0;
	r->why = NULL;
	if (next_line(b, len, &pos, &s, &e) != 0)
		return refuse(r, 400, "bare CR in the request line");
	if (request_line(b, s, e, r) != 0)
		return -1;
	for (;;) {
		if (next_line(b, len, &pos, &s, &e) != 0)
			return refuse(r, 400, "bare CR in a header line");
		if (s == e)
			break;
		if (field_line(b, s, e, r) != 0)
			return -1;
	}
	for (size_t i = 0; i < r->nfields; i++) {
		const struct h1_field *f = &r->f[i];
		int rc = 0;

		switch (f->kind) {
		case H1_F_HOST: fr.hosts++; break;
		case H1_F_CONTENT_LENGTH: rc = content_length(b, f, r, &fr); break;
		case H1_F_TRANSFER_ENCODING: rc = transfer_encoding(b, f, r, &fr); break;
		case H1_F_CONNECTION: rc = connection(b, f, r); break;
		case H1_F_UPGRADE: upgrade(b, f, r); break;
		default: break;
		}
		if (rc != 0)
			return -1;
	}
	if (framing_check(&fr, r) != 0)
		return -1;
	/* Methods are case-sensitive. */
	r->connect = r->method.len == 7 && memcmp(buf + r->method.off, "CONNECT", 7) == 0;
	r->head = r->method.len == 4 && memcmp(buf + r->method.off, "HEAD", 4) == 0;
	return 0;
}

/* --- Chunked bodies --- */

enum {
	CK_SIZE0, CK_SIZE, CK_EXT, CK_SIZE_LF, CK_DATA, CK_DATA_CR, CK_DATA_LF,
	CK_TR_START, CK_TR_NAME, CK_TR_VALUE, CK_TR_LF, CK_TR_END_LF,
};

static int
hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = lower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

int
h1_chunk_in_data(const struct h1_chunk *ck)
{
	return ck->st == CK_DATA;
}

/* One byte of a chunk-size line: the next state, or -1 with *why. */
static int
chunk_size_byte(struct h1_chunk *ck, unsigned char c, const char **why)
{
	int v = hexval(c);

	switch (ck->st) {
	case CK_SIZE0:
	case CK_SIZE:
		if (v >= 0) {
			if (ck->digits == 15) {
				*why = "chunk size of more than 15 hex digits";
				return -1;
			}
			ck->left = ck->left << 4 | (uint64_t)v;
			ck->digits++;
			return CK_SIZE;
		}
		if (ck->st == CK_SIZE && (c == ';' || is_ws(c)))
			return CK_EXT;
		if (ck->st == CK_SIZE && (c == '\r' || c == '\n'))
			return c == '\r' ? CK_SIZE_LF : CK_DATA; /* CK_DATA: the line ended */
		*why = "chunk size is not hexadecimal";
		return -1;
	case CK_EXT:
		if (++ck->line > H1_CHUNK_LINE_MAX) {
			*why = "chunk extension too long";
			return -1;
		}
		if (c == '\r' || c == '\n')
			return c == '\r' ? CK_SIZE_LF : CK_DATA;
		if (is_ctl(c)) {
			*why = "control character in a chunk extension";
			return -1;
		}
		return CK_EXT;
	default: /* CK_SIZE_LF */
		if (c != '\n') {
			*why = "bare CR in a chunk-size line";
			return -1;
		}
		return CK_DATA;
	}
}

/* One byte of the trailer section: the next state, CK_SIZE0 when the
 * section (and the body) ended, or -1 with *why. */
static int
trailer_byte(unsigned char c, int st, const char **why)
{
	switch (st) {
	case CK_TR_START:
		if (c == '\r' || c == '\n')
			return c == '\r' ? CK_TR_END_LF : CK_SIZE0;
		if (h1_tchar(c))
			return CK_TR_NAME;
		*why = is_ws(c) ? "obs-fold in the trailer section" : "malformed trailer field name";
		return -1;
	case CK_TR_NAME:
		if (h1_tchar(c) || c == ':')
			return c == ':' ? CK_TR_VALUE : CK_TR_NAME;
		*why = "malformed trailer field name";
		return -1;
	case CK_TR_VALUE:
		if (c == '\r' || c == '\n')
			return c == '\r' ? CK_TR_LF : CK_TR_START;
		if (is_ctl(c)) {
			*why = "control character in a trailer field";
			return -1;
		}
		return CK_TR_VALUE;
	case CK_TR_LF:
	case CK_TR_END_LF:
		if (c != '\n') {
			*why = "bare CR in the trailer section";
			return -1;
		}
		return st == CK_TR_LF ? CK_TR_START : CK_SIZE0;
	default:
		*why = "internal: bad trailer state";
		return -1;
	}
}

enum h1_ck_ev
h1_chunk_feed(struct h1_chunk *ck, const char *p, size_t n, size_t *used, const char **why)
{
	const unsigned char *u = (const unsigned char *)p;

	*used = 0;
	if (ck->st == CK_DATA) {
		size_t k = (uint64_t)n < ck->left ? n : (size_t)ck->left;
		if (k == 0)
			return H1_CK_MORE;
		ck->left -= k;
		if (ck->left == 0)
			ck->st = CK_DATA_CR;
		*used = k;
		return H1_CK_DATA;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char c = u[i];
		int next;

		*used = i + 1;
		if (ck->st == CK_DATA_CR || ck->st == CK_DATA_LF) {
			if (c == '\r' && ck->st == CK_DATA_CR) {
				ck->st = CK_DATA_LF;
				continue;
			}
			if (c != '\n') {
				*why = "chunk data not followed by CRLF";
				return H1_CK_BAD;
			}
			memset(ck, 0, sizeof(*ck));
			return H1_CK_DATA_END;
		}
		if (ck->st >= CK_TR_START) {
			if (++ck->line > H1_HEAD_MAX)
				return H1_CK_TOO_BIG;
			if ((next = trailer_byte(c, ck->st, why)) < 0)
				return H1_CK_BAD;
			if (next == CK_SIZE0) {
				memset(ck, 0, sizeof(*ck));
				return H1_CK_LAST;
			}
			ck->st = (uint8_t)next;
			continue;
		}
		if ((next = chunk_size_byte(ck, c, why)) < 0)
			return H1_CK_BAD;
		ck->st = (uint8_t)next;
		if (next != CK_DATA)
			continue;
		ck->line = 0;
		if (ck->left > 0)
			return H1_CK_SIZE;
		ck->st = CK_TR_START; /* the last chunk: trailers follow */
	}
	return H1_CK_MORE;
}

/* --- Responses --- */

enum { RS_STATUS, RS_REASON, RS_REASON_LF, RS_LINE, RS_NAME, RS_VALUE, RS_VALUE_LF, RS_END_LF,
	RS_LENGTH, RS_CHUNKED, RS_CLOSE, RS_RAW };

#define RF_CL 1          /* a Content-Length came */
#define RF_TE 2          /* a Transfer-Encoding came */
#define RF_CHUNKED 4     /* ... and its last coding so far is chunked */
#define RF_TE_BAD 8      /* the coding being read is not "chunked" */
#define RF_NUM 16        /* digits of the Content-Length being read came */
#define RF_NUM_END 32    /* ... and whitespace after them */

#define F_CL 1
#define F_TE 2

static const char cl_name[] = "content-length", te_name[] = "transfer-encoding";

void
h1_response_init(struct h1_response *r)
{
	memset(r, 0, sizeof(*r));
}

static void
head_reset(struct h1_response *r)
{
	r->st = RS_STATUS;
	r->pos = r->cand = r->te_pos = r->flags = 0;
	r->status = 0;
	r->cl = r->num = 0;
}

static int
rs_bad(const char **why, const char *msg)
{
	*why = msg;
	return H1_RS_BAD;
}

static int
status_byte(struct h1_response *r, unsigned char c, const char **why)
{
	static const char tpl[] = "HTTP/1.";

	if (r->pos < 7 ? c != (unsigned char)tpl[r->pos] :
	    r->pos == 8 ? c != ' ' : (c < '0' || c > '9'))
		return rs_bad(why, "malformed status line");
	if (r->pos >= 9)
		r->status = (uint16_t)(r->status * 10 + (c - '0'));
	if (++r->pos == 12)
		r->st = RS_REASON;
	return H1_RS_MORE;
}

/* The reason phrase: after a space, HTAB, SP, visible ASCII and obs-text
 * up to the line's end (a client must not read another status code or a
 * line break where the gateway read none). */
static int
reason_byte(struct h1_response *r, unsigned char c, const char **why)
{
	int first = r->pos == 12;

	r->pos = 13;
	if (c == '\r' || c == '\n') {
		r->st = c == '\r' ? RS_REASON_LF : RS_LINE;
		return H1_RS_MORE;
	}
	if ((first && c != ' ') || is_ctl(c))
		return rs_bad(why, "malformed status line");
	return H1_RS_MORE;
}

/* The coding just read ends (at a comma or the end of the line). */
static void
te_coding_end(struct h1_response *r)
{
	if (r->te_pos == 0 && !(r->flags & RF_TE_BAD))
		return; /* an empty list element */
	if (r->te_pos == 7 && !(r->flags & RF_TE_BAD))
		r->flags |= RF_CHUNKED;
	else
		r->flags &= (uint8_t)~RF_CHUNKED;
	r->te_pos = 0;
	r->flags &= (uint8_t)~RF_TE_BAD;
}

static int
value_byte(struct h1_response *r, unsigned char c, const char **why)
{
	if (r->cand == F_CL) {
		if (is_ws(c)) {
			if (r->flags & RF_NUM)
				r->flags |= RF_NUM_END;
			return H1_RS_MORE;
		}
		if (c < '0' || c > '9' || (r->flags & RF_NUM_END) || r->num > UINT64_MAX / 10 - 1)
			return rs_bad(why, "Content-Length of a response is not a number");
		r->num = r->num * 10 + (uint64_t)(c - '0');
		r->flags |= RF_NUM;
	} else if (r->cand == F_TE) {
		if (c == ',')
			te_coding_end(r);
		else if (!is_ws(c) && r->te_pos < 7 && lower(c) == (unsigned char)"chunked"[r->te_pos])
			r->te_pos++;
		else if (!is_ws(c))
			r->flags |= RF_TE_BAD;
	}
	return H1_RS_MORE;
}

static int
field_end(struct h1_response *r, const char **why)
{
	if (r->cand == F_CL) {
		if (!(r->flags & RF_NUM))
			return rs_bad(why, "Content-Length of a response is not a number");
		if ((r->flags & RF_CL) && r->cl != r->num)
			return rs_bad(why, "two different Content-Length values in a response");
		r->cl = r->num;
		r->flags |= RF_CL;
	} else if (r->cand == F_TE) {
		te_coding_end(r);
	}
	r->st = RS_LINE;
	return H1_RS_MORE;
}

static int
name_byte(struct h1_response *r, unsigned char c, const char **why)
{
	if (c == ':') {
		r->cand = (r->cand & F_CL) && r->pos == sizeof(cl_name) - 1 ? F_CL :
		    (r->cand & F_TE) && r->pos == sizeof(te_name) - 1 ? F_TE : 0;
		r->num = 0;
		r->te_pos = 0;
		r->flags &= (uint8_t)~(RF_NUM | RF_NUM_END | RF_TE_BAD);
		if (r->cand == F_TE)
			r->flags |= RF_TE;
		r->st = RS_VALUE;
		return H1_RS_MORE;
	}
	if (!h1_tchar(c))
		return rs_bad(why, "malformed header name in a response");
	if (r->pos >= sizeof(cl_name) - 1 || lower(c) != (unsigned char)cl_name[r->pos])
		r->cand &= (uint8_t)~F_CL;
	if (r->pos >= sizeof(te_name) - 1 || lower(c) != (unsigned char)te_name[r->pos])
		r->cand &= (uint8_t)~F_TE;
	if (r->pos < UINT8_MAX)
		r->pos++;
	return H1_RS_MORE;
}

/* The empty line: the head is complete. RFC 9112 section 6.3: a response
 * with both framings may be forwarded only with Content-Length removed, and
 * the gateway forwards heads unchanged, so it is refused. */
static int
head_end(struct h1_response *r, const char **why)
{
	if ((r->flags & RF_CL) && (r->flags & RF_TE))
		return rs_bad(why, "Transfer-Encoding with Content-Length in a response");
	return H1_RS_HEAD;
}

static int
head_byte(struct h1_response *r, unsigned char c, const char **why)
{
	switch (r->st) {
	case RS_STATUS:
		return status_byte(r, c, why);
	case RS_REASON:
		return reason_byte(r, c, why);
	case RS_LINE:
		if (c == '\r' || c == '\n') {
			r->st = RS_END_LF;
			return c == '\n' ? head_end(r, why) : H1_RS_MORE;
		}
		if (is_ws(c))
			return rs_bad(why, "obs-fold in a response head");
		r->st = RS_NAME;
		r->cand = F_CL | F_TE;
		r->pos = 0;
		return name_byte(r, c, why);
	case RS_NAME:
		return name_byte(r, c, why);
	case RS_VALUE:
		if (c == '\r') {
			r->st = RS_VALUE_LF;
			return H1_RS_MORE;
		}
		if (c == '\n')
			return field_end(r, why);
		if (is_ctl(c))
			return rs_bad(why, "control character in a response header");
		return value_byte(r, c, why);
	case RS_REASON_LF:
	case RS_VALUE_LF:
		if (c != '\n')
			return rs_bad(why, "bare CR in a response head");
		if (r->st == RS_VALUE_LF)
			return field_end(r, why);
		r->st = RS_LINE;
		return H1_RS_MORE;
	default: /* RS_END_LF */
		return c == '\n' ? head_end(r, why) : rs_bad(why, "bare CR in a response head");
	}
}

int
h1_response_body(struct h1_response *r, int no_body)
{
	uint8_t flags = r->flags;
	uint64_t cl = r->cl;

	head_reset(r);
	if (no_body)
		return 1;
	if (flags & RF_TE) {
		memset(&r->ck, 0, sizeof(r->ck));
		r->st = (flags & RF_CHUNKED) ? RS_CHUNKED : RS_CLOSE;
		return 0;
	}
	if (flags & RF_CL) {
		if (cl == 0)
			return 1;
		r->left = cl;
		r->st = RS_LENGTH;
		return 0;
	}
	r->st = RS_CLOSE; /* the body ends when the backend closes */
	return 0;
}

int
h1_response_at_start(const struct h1_response *r)
{
	return r->st == RS_STATUS && r->pos == 0;
}

void
h1_response_raw(struct h1_response *r)
{
	r->st = RS_RAW;
}

enum h1_rs_ev
h1_response_feed(struct h1_response *r, const char *p, size_t n, size_t *used, const char **why)
{
	const unsigned char *u = (const unsigned char *)p;
	size_t off = 0, k;

	*used = 0;
	switch (r->st) {
	case RS_RAW:
	case RS_CLOSE:
		*used = n;
		return H1_RS_MORE;
	case RS_LENGTH:
		k = (uint64_t)n < r->left ? n : (size_t)r->left;
		r->left -= k;
		*used = k;
		if (r->left > 0)
			return H1_RS_MORE;
		head_reset(r);
		return H1_RS_DONE;
	case RS_CHUNKED:
		while (off < n) {
			enum h1_ck_ev ev = h1_chunk_feed(&r->ck, p + off, n - off, &k, why);
			off += k;
			*used = off;
			if (ev == H1_CK_LAST) {
				head_reset(r);
				return H1_RS_DONE;
			}
			if (ev == H1_CK_TOO_BIG)
				*why = "trailer section of a response too large";
			if (ev == H1_CK_BAD || ev == H1_CK_TOO_BIG)
				return H1_RS_BAD;
		}
		return H1_RS_MORE;
	default:
		for (size_t i = 0; i < n; i++) {
			int ev = head_byte(r, u[i], why);
			if (ev != H1_RS_MORE) {
				*used = i + 1;
				return (enum h1_rs_ev)ev;
			}
		}
		*used = n;
		return H1_RS_MORE;
	}
}
