/* dns-01 (RFC 8555 8.4): the TXT record at _acme-challenge.NAME, asked of
 * the one resolver --dns-resolver names, must hold base64url(SHA-256(key
 * authorization)). A small DNS client (a stub resolver) of our own: the
 * query built here, sent over UDP from a random source port with a random
 * ID (the answer must echo both and the question), again over TCP when the
 * answer is truncated. Set up once (acme_dns_init, at start), shared by the
 * validator threads; every query its own socket, ID and source port.
 * Off-path forgery: the UDP socket is connected, so the kernel drops
 * datagrams from any other address or port; a datagram from the resolver's
 * that does not echo our ID and question is dropped and the wait goes on
 * (a forger that guessed the port must not end the validation either).
 * The answer is read with libresolv's parser (ns_initparse, ns_parserr,
 * ns_name_uncompress: names, compression pointers); only the TXT strings'
 * lengths are read here. CNAMEs are followed as a recursive resolver does:
 * within the answer, and with a new query when the answer stops at one. */
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "acme/acme_int.h"

#define DNS_QUERY_MAX 300      /* header, a name of at most 255 bytes, type, class */
#define DNS_UDP_MAX 4096
#define DNS_TCP_MAX 65535
#define DNS_CNAME_MAX 8        /* CNAME hops, as resolvers bound them */
#define DNS_TRY_MS 2000        /* a UDP query is sent again after this */
#define DNS_TYPE_TXT 16
#define DNS_TYPE_CNAME 5

int
acme_dns_server_parse(const char *s, acme_addr *out)
{
	char host[INET6_ADDRSTRLEN + 2];
	const char *port_s = NULL, *colon;
	size_t hl;
	long port = 53;
	char *end;

	if (s == NULL || s[0] == '\0')
		return -1;
	if (s[0] == '[') {
		const char *close = strchr(s, ']');
		if (close == NULL || (close[1] != '\0' && close[1] != ':'))
			return -1;
		hl = (size_t)(close - s - 1);
		if (hl == 0 || hl >= sizeof(host))
			return -1;
		memcpy(host, s + 1, hl);
		host[hl] = '\0';
		if (strchr(host, ':') == NULL)
			return -1;
		if (close[1] == ':')
			port_s = close + 2;
	} else {
		colon = strchr(s, ':');
		/* One colon: IPv4:PORT; more: a bare IPv6 address. */
		if (colon != NULL && strchr(colon + 1, ':') == NULL) {
			hl = (size_t)(colon - s);
			port_s = colon + 1;
		} else {
			hl = strlen(s);
		}
		if (hl == 0 || hl >= sizeof(host))
			return -1;
		memcpy(host, s, hl);
		host[hl] = '\0';
	}
	if (port_s != NULL) {
		if (port_s[0] < '0' || port_s[0] > '9')
			return -1;
		errno = 0;
		port = strtol(port_s, &end, 10);
		if (errno != 0 || *end != '\0' || port < 1 || port > 65535)
			return -1;
	}
	return acme_addr_literal(host, (int)port, out);
}

int
acme_dns_init(acme_dns *d, const char *resolver)
{
	memset(d, 0, sizeof(*d));
	if (acme_dns_server_parse(resolver, &d->server) != 0)
		return -1;
	acme_addr_text(&d->server);
	return 0;
}

static unsigned char
fold(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c - 'A' + 'a') : c;
}

int
acme_dns_reply_is_ours(const unsigned char *r, size_t n, const unsigned char *q, size_t qlen)
{
	/* The question is the first name in a message: no compression
	 * pointer can stand there, so it is compared byte for byte (length
	 * bytes are under 64, never letters, so folding leaves them). */
	if (qlen < 12 || n < qlen || r[0] != q[0] || r[1] != q[1] || !(r[2] & 0x80) ||
	    (r[2] & 0x78) != 0 || r[4] != q[4] || r[5] != q[5])
		return 0;
	for (size_t i = 12; i < qlen; i++)
		if (fold(r[i]) != fold(q[i]))
			return 0;
	return 1;
}

/* The query for name (a host name, no trailing dot), type TXT, class IN,
 * recursion desired. */
static int
build_query(const char *name, uint16_t id, unsigned char *q, size_t *qlen)
{
	size_t n = 12, i = 0;

	memset(q, 0, 12);
	q[0] = (unsigned char)(id >> 8);
	q[1] = (unsigned char)id;
	q[2] = 0x01; /* RD */
	q[5] = 1;    /* QDCOUNT */
	while (name[i] != '\0') {
		size_t l = strcspn(name + i, ".");
		if (l == 0 || l > 63 || n + 1 + l + 5 > DNS_QUERY_MAX)
			return -1;
		q[n++] = (unsigned char)l;
		memcpy(q + n, name + i, l);
		n += l;
		i += l;
		if (name[i] == '.')
			i++;
	}
	q[n++] = 0;
	q[n++] = 0;
	q[n++] = DNS_TYPE_TXT;
	q[n++] = 0;
	q[n++] = 1;
	*qlen = n;
	return 0;
}

static const char *const rcode_text[16] = {
	[1] = "FORMERR (the resolver could not read the query)",
	[2] = "SERVFAIL (the resolver could not get an answer)",
	[3] = "NXDOMAIN (the name does not exist)",
	[4] = "NOTIMP",
	[5] = "REFUSED (the resolver refuses to answer us)",
};

/* A TXT record's character-strings, joined (RFC 7208 3.3 reads long TXT
 * values so, and so do ACME clients' providers). */
static int
txt_join(const unsigned char *rd, size_t rdlen, char *out, size_t cap, size_t *outlen)
{
	size_t i = 0, used = 0, total = 0;

	while (i < rdlen) {
		size_t l = rd[i++], keep;
		if (l > rdlen - i)
			return -1;
		/* A longer value is kept cut, for the message; its length says it differs. */
		keep = used + l < cap ? l : cap - 1 - used;
		memcpy(out + used, rd + i, keep);
		used += keep;
		total += l;
		i += l;
	}
	out[used] = '\0';
	*outlen = total;
	return 0;
}

int
acme_dns_txt_answer(const unsigned char *msg, size_t len, uint16_t id, const char *qname,
    const char *want, acme_dns_answer *a)
{
	ns_msg m;
	ns_rr rr;
	char cur[NS_MAXDNAME], target[NS_MAXDNAME];
	int count, rcode, hops = 0, changed;

	memset(a, 0, sizeof(*a));
	if (len < 12 || len > DNS_TCP_MAX || ns_initparse(msg, (int)len, &m) != 0) {
		snprintf(a->why, sizeof(a->why), "an answer that is not a DNS message");
		return -1;
	}
	if (ns_msg_id(m) != id || !ns_msg_getflag(m, ns_f_qr) || ns_msg_getflag(m, ns_f_opcode) != 0 ||
	    ns_msg_count(m, ns_s_qd) != 1 || ns_parserr(&m, ns_s_qd, 0, &rr) != 0 ||
	    strcasecmp(ns_rr_name(rr), qname) != 0 || ns_rr_type(rr) != DNS_TYPE_TXT ||
	    ns_rr_class(rr) != ns_c_in) {
		snprintf(a->why, sizeof(a->why), "an answer that is not for our query (ID or question "
		    "not echoed)");
		return -1;
	}
	if (ns_msg_getflag(m, ns_f_tc)) {
		a->truncated = 1;
		return 0;
	}
	rcode = ns_msg_getflag(m, ns_f_rcode);
	if (rcode != 0) {
		/* NXDOMAIN is an answer (no such name); the others are failures. */
		a->rcode = rcode;
		snprintf(a->why, sizeof(a->why), "RCODE %d, %s", rcode,
		    rcode < 16 && rcode_text[rcode] != NULL ? rcode_text[rcode] : "an error");
		return rcode == 3 ? 0 : -1;
	}
	count = ns_msg_count(m, ns_s_an);
	snprintf(cur, sizeof(cur), "%s", qname);
	/* The CNAME chain from qname within the answer, in any record order. */
	do {
		changed = 0;
		for (int i = 0; i < count; i++) {
			if (ns_parserr(&m, ns_s_an, i, &rr) != 0) {
				snprintf(a->why, sizeof(a->why), "a malformed answer record");
				return -1;
			}
			if (ns_rr_type(rr) != DNS_TYPE_CNAME || ns_rr_class(rr) != ns_c_in ||
			    strcasecmp(ns_rr_name(rr), cur) != 0)
				continue;
			if (ns_name_uncompress(ns_msg_base(m), ns_msg_end(m), ns_rr_rdata(rr), target,
			        sizeof(target)) < 0) {
				snprintf(a->why, sizeof(a->why), "a malformed CNAME record");
				return -1;
			}
			if (++hops > DNS_CNAME_MAX) {
				snprintf(a->why, sizeof(a->why), "more than %d CNAMEs (a loop?)",
				    DNS_CNAME_MAX);
				return -1;
			}
			snprintf(cur, sizeof(cur), "%s", target);
			changed = 1;
			break;
		}
	} while (changed);
	a->cnames = hops;
	snprintf(a->name, sizeof(a->name), "%s", cur);
	for (int i = 0; i < count; i++) {
		char v[ACME_DNS_TXT_MAX];
		size_t vlen;
		if (ns_parserr(&m, ns_s_an, i, &rr) != 0) {
			snprintf(a->why, sizeof(a->why), "a malformed answer record");
			return -1;
		}
		if (ns_rr_type(rr) != DNS_TYPE_TXT || ns_rr_class(rr) != ns_c_in ||
		    strcasecmp(ns_rr_name(rr), cur) != 0)
			continue;
		if (txt_join(ns_rr_rdata(rr), ns_rr_rdlen(rr), v, sizeof(v), &vlen) != 0) {
			snprintf(a->why, sizeof(a->why), "a malformed TXT record");
			return -1;
		}
		if (want != NULL && vlen == strlen(want) && memcmp(v, want, vlen) == 0)
			a->matched = 1;
		if (a->ntxt < ACME_DNS_TXTS) {
			/* Bytes kept: NULs inside a value are data (quoted as \x00). */
			memcpy(a->txt[a->ntxt], v, acme_dns_kept(vlen) + 1);
			a->txt_len[a->ntxt] = vlen;
		}
		a->ntxt++;
	}
	return 0;
}

/* The first datagram from the resolver that answers our query (ID and
 * question), sent again every DNS_TRY_MS until the deadline. */
static const char *
over_udp(const acme_addr *srv, const unsigned char *q, size_t qlen, unsigned char *buf,
    size_t *len, int64_t deadline)
{
	int fd = socket(srv->ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), rc;
	const char *why = "timed out (no answer over UDP)";
	ssize_t got;

	if (fd < 0)
		return "no UDP socket";
	/* Connected: the kernel picks a random source port and drops
	 * datagrams from any other address. */
	if (connect(fd, (const struct sockaddr *)&srv->ss, srv->len) != 0) {
		why = "cannot reach the address over UDP";
		goto out;
	}
	while (acme_now_ms() < deadline) {
		int64_t try_end = acme_now_ms() + DNS_TRY_MS;
		if (send(fd, q, qlen, 0) < 0 && errno != EAGAIN && errno != EINTR) {
			why = errno == ECONNREFUSED ? "connection refused (no DNS server at that port)" :
			    "the query could not be sent";
			goto out;
		}
		while ((rc = acme_wait(fd, POLLIN, try_end < deadline ? try_end : deadline)) == 1) {
			got = recv(fd, buf, DNS_UDP_MAX, 0);
			if (got < 0 && errno == ECONNREFUSED) {
				why = "connection refused (no DNS server at that port)";
				goto out;
			}
			/* Anything else is a late answer to an earlier try, or forged. */
			if (got > 0 && acme_dns_reply_is_ours(buf, (size_t)got, q, qlen)) {
				*len = (size_t)got;
				why = NULL;
				goto out;
			}
		}
		if (rc < 0) {
			why = "error waiting for the answer";
			goto out;
		}
	}
out:
	close(fd);
	return why;
}

static const char *
full_io(int fd, unsigned char *b, size_t n, int sending, int64_t deadline)
{
	size_t done = 0;
	ssize_t got;
	int rc;

	while (done < n) {
		if ((rc = acme_wait(fd, sending ? POLLOUT : POLLIN, deadline)) != 1)
			return rc == 0 ? "timed out over TCP" : "error waiting over TCP";
		got = sending ? send(fd, b + done, n - done, MSG_NOSIGNAL) : recv(fd, b + done, n - done, 0);
		if (got == 0)
			return "the resolver closed the TCP connection early";
		if (got < 0 && errno != EAGAIN && errno != EINTR)
			return "the TCP connection broke";
		if (got > 0)
			done += (size_t)got;
	}
	return NULL;
}

/* The same over TCP (RFC 1035 4.2.2: each message after its 2-byte length). */
static int
over_tcp(const acme_addr *srv, const unsigned char *q, size_t qlen, unsigned char *buf,
    size_t *len, int64_t deadline, char *why, size_t whylen)
{
	unsigned char out[DNS_QUERY_MAX + 2], l2[2];
	const char *bad;
	char cwhy[100];
	int fd = acme_connect(srv, deadline, cwhy, sizeof(cwhy));

	if (fd < 0) {
		snprintf(why, whylen, "the UDP answer was truncated and TCP failed: %s", cwhy);
		return -1;
	}
	out[0] = (unsigned char)(qlen >> 8);
	out[1] = (unsigned char)qlen;
	memcpy(out + 2, q, qlen);
	if ((bad = full_io(fd, out, qlen + 2, 1, deadline)) == NULL &&
	    (bad = full_io(fd, l2, 2, 0, deadline)) == NULL) {
		*len = (size_t)l2[0] << 8 | l2[1];
		bad = *len < 12 ? "a TCP answer shorter than a DNS header" :
		    full_io(fd, buf, *len, 0, deadline);
	}
	close(fd);
	if (bad != NULL)
		snprintf(why, whylen, "%s", bad);
	return bad != NULL ? -1 : 0;
}

/* TXT at qname from the resolver, following CNAMEs, compared with want. -1 with a->why when
 * no answer came or it was unusable. */
static int
lookup_txt(const acme_addr *srv, const char *qname, const char *want, int64_t deadline,
    acme_dns_answer *a)
{
	unsigned char q[DNS_QUERY_MAX], *buf = malloc(DNS_TCP_MAX);
	char name[NS_MAXDNAME];
	const char *bad;
	size_t qlen, len = 0;
	int hops = 0, rc = -1;
	uint16_t id;

	memset(a, 0, sizeof(*a));
	snprintf(name, sizeof(name), "%s", qname);
	if (buf == NULL) {
		snprintf(a->why, sizeof(a->why), "out of memory");
		return -1;
	}
	for (;;) {
		if (RAND_bytes((unsigned char *)&id, sizeof(id)) != 1 ||
		    build_query(name, id, q, &qlen) != 0) {
			snprintf(a->why, sizeof(a->why), "cannot build a query for %.100s", name);
			goto out;
		}
		id = (uint16_t)(q[0] << 8 | q[1]);
		if ((bad = over_udp(srv, q, qlen, buf, &len, deadline)) != NULL) {
			snprintf(a->why, sizeof(a->why), "%s", bad);
			goto out;
		}
		if (acme_dns_txt_answer(buf, len, id, name, want, a) != 0)
			goto out;
		if (a->truncated) {
			if (over_tcp(srv, q, qlen, buf, &len, deadline, a->why, sizeof(a->why)) != 0)
				goto out;
			if (acme_dns_txt_answer(buf, len, id, name, want, a) != 0)
				goto out;
			if (a->truncated) {
				snprintf(a->why, sizeof(a->why), "a truncated answer over TCP");
				goto out;
			}
		}
		/* The resolver stopped at a CNAME: ask for its target, as it would. */
		hops += a->cnames;
		if (a->ntxt > 0 || a->rcode != 0 || a->cnames == 0)
			break;
		if (hops > DNS_CNAME_MAX) {
			snprintf(a->why, sizeof(a->why), "more than %d CNAMEs (a loop?)", DNS_CNAME_MAX);
			goto out;
		}
		snprintf(name, sizeof(name), "%s", a->name);
	}
	a->cnames = hops;
	rc = 0;
out:
	free(buf);
	return rc;
}

int
acme_validate_dns01(const char *identifier, const char *key_authz, const acme_vopts *o,
    acme_problem *p)
{
	unsigned char md[32];
	unsigned int mdlen = 0;
	char qname[300], what[300], shown[2][ACME_VAL_SHOW * 4 + 8], via[NS_MAXDNAME + 16] = "";
	char *want = NULL;
	acme_dns_answer *a = NULL;
	const acme_addr *srv;
	int64_t deadline = acme_now_ms() +
	    (o != NULL && o->timeout_ms > 0 ? o->timeout_ms : ACME_VAL_TIMEOUT_MS);
	int rc = -1;

	/* A wildcard's TXT record is at its base name's (RFC 8555 8.4). */
	if (identifier != NULL && strncmp(identifier, "*.", 2) == 0)
		identifier += 2;
	if (identifier == NULL || strlen(identifier) > 253 || key_authz == NULL)
		return acme_problem_set(p, ACME_P_SERVER_INTERNAL, "dns-01: identifier unusable");
	snprintf(what, sizeof(what), "dns-01 for %s", identifier);
	if (o == NULL || o->dns == NULL)
		return acme_problem_set(p, ACME_P_SERVER_INTERNAL,
		    "%s: this server has no --dns-resolver to ask", what);
	srv = &o->dns->server;
	snprintf(qname, sizeof(qname), "_acme-challenge.%s", identifier);
	if (EVP_Digest(key_authz, strlen(key_authz), md, &mdlen, EVP_sha256(), NULL) != 1 ||
	    (want = acme_b64u_encode(md, mdlen)) == NULL || (a = malloc(sizeof(*a))) == NULL) {
		acme_problem_set(p, ACME_P_SERVER_INTERNAL, "%s: out of memory", what);
		goto out;
	}
	if (lookup_txt(srv, qname, want, deadline, a) != 0) {
		acme_problem_set(p, ACME_P_DNS, "%s: asking the resolver %s (--dns-resolver) for TXT "
		    "%s failed: %s", what, srv->text, qname, a->why);
		goto out;
	}
	if (a->cnames > 0)
		snprintf(via, sizeof(via), " (via CNAME %.255s)", a->name);
	if (a->rcode != 0 || a->ntxt == 0) {
		acme_problem_set(p, ACME_P_DNS, "%s: the resolver %s has no TXT record for %s%s%s%s; "
		    "publish the key authorization's digest there", what, srv->text, qname, via,
		    a->rcode != 0 ? ": " : "", a->rcode != 0 ? a->why : "");
		goto out;
	}
	if (a->matched) {
		rc = 0;
		goto out;
	}
	acme_quote((const unsigned char *)a->txt[0], acme_dns_kept(a->txt_len[0]), shown[0],
	    sizeof(shown[0]));
	shown[1][0] = '\0';
	if (a->ntxt > 1)
		acme_quote((const unsigned char *)a->txt[1], acme_dns_kept(a->txt_len[1]), shown[1],
		    sizeof(shown[1]));
	acme_problem_set(p, ACME_P_INCORRECT_RESPONSE,
	    "%s: the resolver %s gave %zu TXT record(s) for %s%s (\"%s\"%s%s%s%s), none of them "
	    "base64url(SHA-256(key authorization)) for this challenge", what, srv->text, a->ntxt,
	    qname, via, shown[0], a->ntxt > 1 ? ", \"" : "", shown[1], a->ntxt > 1 ? "\"" : "",
	    a->ntxt > 2 ? ", ..." : "");
out:
	free(a);
	free(want);
	return rc;
}
