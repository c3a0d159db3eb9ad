/* What the files of src/acme share among themselves (not the server). */
#ifndef TLSGATE_ACME_INT_H
#define TLSGATE_ACME_INT_H

#include "acme/acme_proto.h"

/* The key types a JWS may carry, one per signature algorithm. */
typedef enum {
	ACME_KEY_NONE = 0,
	ACME_KEY_P256,
	ACME_KEY_P384,
	ACME_KEY_RSA,
	ACME_KEY_ED25519,
} acme_keykind;

acme_keykind acme_key_kind(EVP_PKEY *key);
/* The key type a JWS alg of ACME_JWS_ALGS needs; ACME_KEY_NONE for any other. */
acme_keykind acme_alg_kind(const char *alg);
/* "P-256", "RSA"... for messages. */
const char *acme_key_kind_name(acme_keykind kind);

/* A flattened JWS (RFC 7515 7.2.2) as a JSON object, split into its decoded
 * parts: exactly "protected", "payload" and "signature", all base64url, the
 * protected header a JSON object without duplicate members, the payload
 * empty (POST-as-GET: payload NULL) or a JSON object. what names the JWS in
 * problems ("request", "externalAccountBinding"...). */
typedef struct acme_jws_parts {
	json_t *header;
	json_t *payload;
	char *signing_input;
	size_t signing_input_len;
	unsigned char *sig;
	size_t sig_len;
} acme_jws_parts;

int acme_jws_split(const json_t *jws, const char *what, acme_jws_parts *out, acme_problem *p);
void acme_jws_parts_clear(acme_jws_parts *parts);

/* The header's string member name, or NULL when absent; -1 (with a
 * malformed problem) when it is present but no string, or longer than
 * max - 1 bytes. */
int acme_header_str(const json_t *header, const char *name, size_t max, const char *what,
    const char **out, acme_problem *p);

/* How to pick the alg, for messages. */
#define ACME_ALG_FIT "sign with the alg that fits the key (ES256 for P-256, ES384 for P-384, " \
	"RS256 for RSA, EdDSA for Ed25519)"

/* A signed JWS's alg: present, not none nor a MAC (RFC 8555 6.2: badSignatureAlgorithm),
 * one of ACME_JWS_ALGS. */
int acme_jws_check_alg(const char *alg, const char *what, acme_problem *p);
/* No "crit" (we understand no extension) and no "b64": false (RFC 7797). */
int acme_jws_check_ext(const json_t *header, const char *what, acme_problem *p);

/* An inner JWS's url (EAB, key change) must be the outer request's. */
int acme_same_url(const char *url, const char *outer_url, const char *what, const char *endpoint,
    const char *rfc, acme_problem *p);

/* Signature checks shared by the outer JWS and a key change's inner one. */
int acme_sig_verify(const char *alg, EVP_PKEY *key, const unsigned char *msg, size_t msglen,
    const unsigned char *sig, size_t siglen, const char *what, acme_problem *p);

/* ---- what the validators share (validate.c) ---- */

#include <sys/socket.h>

#define ACME_VAL_TIMEOUT_MS 10000 /* when acme_vopts.timeout_ms is 0 */
#define ACME_VAL_MAX_ADDRS 8
#define ACME_VAL_SHOW 64          /* bytes of an answer quoted in a problem */

typedef struct acme_addr {
	struct sockaddr_storage ss;
	socklen_t len;
	char text[64]; /* "192.0.2.1:80", "[2001:db8::1]:443" */
} acme_addr;

/* An IP literal with port into a (text not filled); -1 when s is none. */
int acme_addr_literal(const char *s, int port, acme_addr *a);
/* a->text from a->ss: "192.0.2.1:80", "[2001:db8::1]:443". */
void acme_addr_text(acme_addr *a);
/* Milliseconds on a clock that does not jump. */
int64_t acme_now_ms(void);
/* The addresses of host (an IP literal when is_ip; else --resolve entries,
 * then the system resolver), with port. what names the check in problems. */
int acme_lookup(const char *host, int is_ip, int port, const acme_vopts *o, acme_addr *out,
    size_t *n, const char *what, acme_problem *p);
/* A non-blocking TCP connection to a, made before deadline; -1 with
 * why ("connection refused", "timed out") on failure. */
int acme_connect(const acme_addr *a, int64_t deadline, char *why, size_t whylen);
/* Connects to the first of addrs that answers before deadline (*which
 * is its index); when none does, a connection problem naming each address
 * and why it failed. */
int acme_connect_any(const acme_addr *addrs, size_t n, int64_t deadline, const char *host,
    size_t *which, const char *what, acme_problem *p);
/* Waits for fd to be readable (events POLLIN) or writable (POLLOUT) until
 * deadline: 1 ready, 0 timed out, -1 error. */
int acme_wait(int fd, short events, int64_t deadline);
/* len bytes quoted for a problem: printable ASCII kept, others \xNN, at
 * most ACME_VAL_SHOW bytes then "...". */
void acme_quote(const unsigned char *in, size_t len, char *out, size_t outlen);

/* ---- http-01 (validate.c) ---- */

#define ACME_HTTP01_HOST_MAX 256

/* Where one hop goes: http://host/path, connected to port. */
typedef struct acme_http01_target {
	char host[ACME_HTTP01_HOST_MAX];
	int is_ip;
	int port;
	char path[ACME_URL_MAX];
} acme_http01_target;

/* One hop of http-01 over fd, connected to t's host at addr (as
 * "192.0.2.1:80", for messages): the GET for t->path, the answer read and
 * judged. 0: the body is key_authz; 1: a redirect, which t now holds (hop:
 * redirects followed before this one); -1: p says what was wrong.
 * acme_validate_http01 runs it per hop; the fuzz target on any bytes. */
int acme_http01_hop(int fd, const char *addr, acme_http01_target *t, int hop,
    const char *key_authz, const acme_vopts *o, int64_t deadline, acme_problem *p);

/* tls-alpn-01 (tlsalpn.c): what the certificate the host presented says.
 * NULL when it holds exactly one SAN, the identifier, and one critical
 * acmeIdentifier extension with SHA-256(key_authz); else what is wrong. */
#include <openssl/x509.h>
const char *acme_tlsalpn_cert_check(X509 *cert, const char *id, int is_ip,
    const char *key_authz);

/* ---- dns-01 (dns01.c) ---- */

#include <stdint.h>

#define ACME_DNS_TXTS 4           /* TXT values kept from one answer, for messages */
#define ACME_DNS_TXT_MAX 256      /* bytes kept of one (longer ones cannot match) */

/* --dns-resolver ADDR[:PORT]: 192.0.2.53, 192.0.2.53:5353, 2001:db8::53,
 * [2001:db8::53]:5353; port 53 when none. -1 when s is none of these. */
int acme_dns_server_parse(const char *s, acme_addr *out);

/* The stub resolver's setup: the one resolver's address, parsed once.
 * Each query still takes a socket of its own (a random source port per
 * query is half of what an off-path forger must guess). */
typedef struct acme_dns {
	acme_addr server;          /* text filled: "127.0.0.1:53" */
} acme_dns;

/* From --dns-resolver's ADDR[:PORT]; -1 when it is none. */
int acme_dns_init(acme_dns *d, const char *resolver);

/* 1 when the datagram r answers the query q: its ID, QR set, a standard
 * query, and the question echoed (the name without regard to case). A
 * reply that is not is dropped unread, and the wait for ours goes on. */
int acme_dns_reply_is_ours(const unsigned char *r, size_t n, const unsigned char *q, size_t qlen);

typedef struct acme_dns_answer {
	int truncated;             /* TC: ask again over TCP */
	int rcode;                 /* 3: NXDOMAIN (an answer, no records) */
	int cnames;                /* CNAME hops followed */
	char name[1025];           /* where the chain ended (NS_MAXDNAME) */
	size_t ntxt;               /* TXT records at name (may exceed ACME_DNS_TXTS) */
	int matched;               /* one of them is want */
	char txt[ACME_DNS_TXTS][ACME_DNS_TXT_MAX]; /* each record's strings joined, cut, NUL after */
	size_t txt_len[ACME_DNS_TXTS];             /* the full joined length */
	char why[160];             /* on -1: what is wrong */
} acme_dns_answer;

/* The bytes kept in txt[i] of a value txt_len[i] long. */
static inline size_t
acme_dns_kept(size_t len)
{
	return len < ACME_DNS_TXT_MAX ? len : ACME_DNS_TXT_MAX - 1;
}

/* Reads a DNS message answering our query (id, TXT IN qname): the ID,
 * QR, opcode and question must match; then the CNAME chain from qname and
 * the TXT records at its end, each compared with want (NULL: none). -1 with
 * a->why when the message is malformed, not ours or an error other than
 * NXDOMAIN. Wire data: bounded throughout. */
int acme_dns_txt_answer(const unsigned char *msg, size_t len, uint16_t id, const char *qname,
    const char *want, acme_dns_answer *a);

#endif
