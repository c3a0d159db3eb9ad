/* Strict HTTP/1.1 message syntax (RFC 9112) for http mode: a request head is
 * parsed whole from a bounded buffer and checked against every rule an
 * intermediary must enforce; chunked framing and response heads are scanned
 * as streams with a few bytes of state. Grammar only: what the gateway does
 * with a message is http.c's business. */
#ifndef TLSGATE_GW_H1_H
#define TLSGATE_GW_H1_H

#include <stddef.h>
#include <stdint.h>

#define H1_HEAD_MAX (16 * 1024) /* a request head, or a chunked body's trailers */
#define H1_FIELDS_MAX 128
#define H1_CHUNK_LINE_MAX 1024  /* chunk-size line with its extensions */

/* A piece of the head buffer (H1_HEAD_MAX fits 16 bits). */
struct h1_span {
	uint16_t off, len;
};

/* Fields whose meaning the gateway needs; everything else is OTHER. */
enum h1_fkind {
	H1_F_OTHER, H1_F_HOST, H1_F_CONTENT_LENGTH, H1_F_TRANSFER_ENCODING, H1_F_CONNECTION,
	H1_F_UPGRADE, H1_F_HTTP2_SETTINGS,
};

struct h1_field {
	struct h1_span name, value; /* value without surrounding whitespace */
	uint8_t kind;
};

enum h1_body { H1_BODY_NONE, H1_BODY_LENGTH, H1_BODY_CHUNKED };

/* Connection options the gateway understands (others are dropped). */
#define H1_CONN_CLOSE 1
#define H1_CONN_KEEP_ALIVE 2
#define H1_CONN_UPGRADE 4

struct h1_request {
	struct h1_span method, target;
	uint8_t minor;         /* HTTP/1.minor: 0 or 1 */
	uint8_t conn;          /* H1_CONN_* listed in Connection */
	uint8_t body;          /* enum h1_body */
	unsigned head : 1, connect : 1, upgrade : 1, h2c : 1;
	uint64_t length;       /* Content-Length, for H1_BODY_LENGTH */
	size_t nfields;
	struct h1_field f[H1_FIELDS_MAX];
	/* On refusal: the status to answer, whether it is the size limit, and
	 * what was wrong (a static string, for the log). */
	int status;
	int too_big;
	const char *why;
};

/* Whether the field name name[0..len) is the lower-case word, matched
 * without case and with '_' as '-' (WSGI and CGI backends merge them);
 * prefix: only the word's length has to match. */
int h1_name_is(const char *name, size_t len, const char *word, int prefix);

/* Finds the empty line that ends a head: returns how many of p[0..n) belong
 * to the head, with *done set when the last of them ends it. *st carries the
 * line state between calls (0 at the start of a head). */
size_t h1_head_end(uint8_t *st, const char *p, size_t n, int *done);

/* Parses and checks a complete head buf[0..len) (request line first, ending
 * with its empty line). 0: r describes a request the gateway may forward;
 * -1: r->status, r->too_big and r->why say why not. */
int h1_request_parse(const char *buf, size_t len, struct h1_request *r);

/* --- Chunked bodies (RFC 9112 section 7.1), as a stream --- */

struct h1_chunk {
	uint64_t left;  /* data bytes left in the chunk, or its size being read */
	uint16_t line;  /* bytes of the size line, or of the trailer section */
	uint8_t st;
	uint8_t digits;
};

enum h1_ck_ev {
	H1_CK_MORE,     /* all input consumed, no event */
	H1_CK_SIZE,     /* a chunk-size line of a non-empty chunk: ck->left bytes follow */
	H1_CK_DATA,     /* the consumed bytes are chunk data */
	H1_CK_DATA_END, /* the CRLF after a chunk's data */
	H1_CK_LAST,     /* the last chunk and the trailer section: the body is complete */
	H1_CK_BAD,      /* malformed (*why says how) */
	H1_CK_TOO_BIG,  /* trailer section over H1_HEAD_MAX */
};

/* Consumes p[0..n) up to the next event; *used says how much. Chunk
 * extensions and trailer fields are checked and skipped. */
enum h1_ck_ev h1_chunk_feed(struct h1_chunk *ck, const char *p, size_t n, size_t *used,
    const char **why);
/* 1 while chunk data is expected (the caller limits input to its room). */
int h1_chunk_in_data(const struct h1_chunk *ck);

/* --- Responses, scanned only for their framing (RFC 9112 section 6.3) --- */

struct h1_response {
	uint64_t left;     /* body bytes left (Content-Length framing) */
	uint64_t cl, num;  /* Content-Length seen in this head; the value being read */
	struct h1_chunk ck;
	uint16_t status;
	uint8_t st, pos;
	uint8_t cand;      /* field names still matching, then the field being read */
	uint8_t te_pos;    /* how much of "chunked" the current coding matches */
	uint8_t flags;
};

enum h1_rs_ev {
	H1_RS_MORE,  /* all input consumed */
	H1_RS_HEAD,  /* a response head is complete: r->status; call h1_response_body */
	H1_RS_DONE,  /* the response's body is complete */
	H1_RS_BAD,   /* malformed (*why says how) */
};

void h1_response_init(struct h1_response *r);
enum h1_rs_ev h1_response_feed(struct h1_response *r, const char *p, size_t n, size_t *used,
    const char **why);
/* After H1_RS_HEAD: how the body is framed. no_body: the request was HEAD, or
 * the status is 1xx, 204 or 304. Returns 1 when the response is already
 * complete (no body), else 0. */
int h1_response_body(struct h1_response *r, int no_body);
/* 1 between responses: no byte of the next one has been fed yet. */
int h1_response_at_start(const struct h1_response *r);
/* From now on every byte is opaque (a tunnel). */
void h1_response_raw(struct h1_response *r);

/* 1 if c may appear in a token (RFC 9110 section 5.6.2). */
int h1_tchar(unsigned char c);
/* Case-insensitive comparison of s[0..n) with lower-case word. */
int h1_word(const char *s, size_t n, const char *word);

#endif
