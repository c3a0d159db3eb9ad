/* Live endpoints: what the server really serves. One full handshake reads
 * the chain, whether a client certificate is requested and which CA names
 * are advertised; two more handshakes, pinned to TLS 1.0 and to TLS 1.1,
 * find deprecated versions. PostgreSQL needs its SSLRequest first, XMPP a
 * stream that asks for STARTTLS. The served chain then goes through the
 * same rules as files. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "check/chk_int.h"
#include "tlsgate/pki.h"
#include "tlsgate/util.h"

#define CHK_CONNECT_TIMEOUT_MS 5000
#define CHK_IO_TIMEOUT_S 10

struct target {
	char host[CHK_NAME_MAX];
	char port[16];
	const char *sni;
	chk_starttls starttls;
};

static int
parse_hostport(const char *s, struct target *t, tg_err *err)
{
	unsigned port;

	if (util_parse_hostport(s, "check endpoint", t->host, sizeof(t->host), &port, err) != 0)
		return -1;
	snprintf(t->port, sizeof(t->port), "%u", port);
	return 0;
}

static int
connect_one(const struct addrinfo *ai)
{
	struct timeval tv = { CHK_IO_TIMEOUT_S, 0 };
	struct pollfd pfd;
	int fd, soerr = 0;
	socklen_t len = sizeof(soerr);

	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
	if (fd < 0)
		return -1;
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0 && errno != EINPROGRESS)
		goto fail;
	pfd.fd = fd;
	pfd.events = POLLOUT;
	if (poll(&pfd, 1, CHK_CONNECT_TIMEOUT_MS) != 1 ||
	    getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) != 0 || soerr != 0) {
		errno = soerr ? soerr : ETIMEDOUT;
		goto fail;
	}
	/* Blocking from here on, with timeouts so a silent server cannot hang us. */
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) != 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) != 0)
		goto fail;
	return fd;
fail:
	soerr = errno;
	close(fd);
	errno = soerr;
	return -1;
}

static int
tcp_connect(const struct target *t, tg_err *err)
{
	struct addrinfo hints = { 0 }, *res = NULL;
	int fd = -1, gai, saved = 0;

	hints.ai_socktype = SOCK_STREAM;
	hints.ai_family = AF_UNSPEC;
	if ((gai = getaddrinfo(t->host, t->port, &hints, &res)) != 0)
		return tg_err_set(err, TG_ERR_IO, "cannot resolve %s: %s", t->host, gai_strerror(gai));
	for (struct addrinfo *ai = res; ai != NULL && fd < 0; ai = ai->ai_next)
		if ((fd = connect_one(ai)) < 0)
			saved = errno;
	freeaddrinfo(res);
	if (fd < 0)
		return tg_err_set(err, TG_ERR_IO, "cannot connect to %s:%s: %s", t->host, t->port,
		    strerror(saved));
	return fd;
}

/* PostgreSQL: Int32 length 8, Int32 80877103; the answer is one byte. */
static int
pg_sslrequest(int fd, char *answer, tg_err *err)
{
	static const unsigned char req[8] = { 0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f };
	ssize_t n;

	if (write(fd, req, sizeof(req)) != (ssize_t)sizeof(req))
		return tg_err_set(err, TG_ERR_IO, "cannot send the PostgreSQL SSLRequest: %s",
		    strerror(errno));
	do
		n = read(fd, answer, 1);
	while (n < 0 && errno == EINTR);
	if (n != 1)
		return tg_err_set(err, TG_ERR_IO, "no answer to the PostgreSQL SSLRequest (%s); is "
		    "this a PostgreSQL server?", n == 0 ? "connection closed" : strerror(errno));
	if (*answer != 'S' && *answer != 'N')
		return tg_err_set(err, TG_ERR_IO, "unexpected answer 0x%02x to the PostgreSQL "
		    "SSLRequest; is this a PostgreSQL server?", (unsigned char)*answer);
	return 0;
}

/* Reads into buf (NUL-terminated) until it holds one of marks; returns its
 * index, or -1 (EOF, timeout, or the buffer full) with why set. */
static int
read_until(int fd, char *buf, size_t cap, size_t *len, const char *const *marks,
    const char **why)
{
	for (;;) {
		ssize_t n;

		for (int i = 0; marks[i] != NULL; i++)
			if (strstr(buf, marks[i]) != NULL)
				return i;
		if (*len + 1 >= cap) {
			*why = "more than 16 KB without the expected element";
			return -1;
		}
		do
			n = read(fd, buf + *len, cap - 1 - *len);
		while (n < 0 && errno == EINTR);
		if (n <= 0) {
			*why = n == 0 ? "the server closed the connection" : strerror(errno);
			return -1;
		}
		*len += (size_t)n;
		buf[*len] = '\0';
	}
}

static int
write_all(int fd, const char *s, tg_err *err)
{
	size_t len = strlen(s), off = 0;

	while (off < len) {
		ssize_t n = write(fd, s + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return tg_err_set(err, TG_ERR_IO, "cannot write to the server: %s",
			    strerror(errno));
		off += (size_t)n;
	}
	return 0;
}

/* The condition of a <stream:error> (host-unknown...) and its text. */
static void
stream_error(const char *buf, char *out, size_t len)
{
	const char *e = strstr(buf, "<stream:error>"), *p, *t;
	size_t n;

	snprintf(out, len, "an unnamed stream error");
	if (e == NULL || (p = strchr(e + 14, '<')) == NULL)
		return;
	n = strcspn(p + 1, " />");
	snprintf(out, len, "%.*s", (int)(n < 64 ? n : 64), p + 1);
	if ((t = strstr(e, "<text")) != NULL && (t = strchr(t, '>')) != NULL) {
		size_t used = strlen(out);
		n = strcspn(t + 1, "<");
		snprintf(out + used, len - used, " (%.*s)", (int)(n < 160 ? n : 160), t + 1);
	}
}

/* XMPP (RFC 6120 5.4.2): opens a stream to the domain, looks for <starttls/>
 * among the stream features, asks for it and waits for <proceed/>. *answer:
 * 'S' to go on with TLS, 'N' when the server offers none or answers
 * <failure/> (why says which). A stream error (an unknown domain) fails. */
static int
xmpp_starttls(int fd, const char *domain, int s2s, char *answer, char *why, size_t whylen,
    tg_err *err)
{
	static const char *const features[] = { "</stream:features>", "<stream:features/>",
		"</stream:error>", "</stream:stream>", NULL };
	static const char *const reply[] = { "<proceed", "<failure", "</stream:error>", NULL };
	char buf[16384] = "", open[512], cond[256];
	const char *fail = NULL;
	size_t len = 0;
	int got;

	snprintf(open, sizeof(open), "<?xml version='1.0'?><stream:stream to='%s' "
	    "xmlns='jabber:%s' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>",
	    domain, s2s ? "server" : "client");
	if (write_all(fd, open, err) != 0)
		return -1;
	got = read_until(fd, buf, sizeof(buf), &len, features, &fail);
	if (got == 2 || got == 3) {
		stream_error(buf, cond, sizeof(cond));
		return tg_err_set(err, TG_ERR_TLS, "the XMPP server ended the stream to %s: %s%s",
		    domain, cond, strncmp(cond, "host-unknown", 12) == 0 ? "; give the domain it "
		    "serves with --sni" : "");
	}
	if (got < 0)
		return tg_err_set(err, TG_ERR_IO, "no XMPP stream features (%s); is this an XMPP "
		    "server's %s port?", fail, s2s ? "server-to-server (5269)" : "client (5222)");
	if (strstr(buf, "urn:ietf:params:xml:ns:xmpp-tls") == NULL) {
		*answer = 'N';
		snprintf(why, whylen, "offers no <starttls/> among its stream features for %s",
		    domain);
		return 0;
	}
	if (write_all(fd, "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>", err) != 0)
		return -1;
	buf[0] = '\0';
	len = 0;
	got = read_until(fd, buf, sizeof(buf), &len, reply, &fail);
	if (got < 0 || got == 2)
		return tg_err_set(err, TG_ERR_IO, "no answer to <starttls/> from the XMPP server "
		    "(%s)", got < 0 ? fail : "a stream error");
	*answer = got == 0 ? 'S' : 'N';
	if (got == 1)
		snprintf(why, whylen, "answered <failure/> to <starttls/> for %s (no certificate "
		    "for the domain?)", domain);
	return 0;
}

int
chk_starttls_prelude(int fd, chk_starttls starttls, const char *domain, char *answer, char *why,
    size_t whylen, tg_err *err)
{
	*answer = 'S';
	if (starttls == CHK_STARTTLS_POSTGRES)
		return pg_sslrequest(fd, answer, err);
	if (starttls == CHK_STARTTLS_XMPP || starttls == CHK_STARTTLS_XMPP_SERVER)
		return xmpp_starttls(fd, domain, starttls == CHK_STARTTLS_XMPP_SERVER, answer, why,
		    whylen, err);
	return 0;
}

/* The identity --cert/--key give, loaded once (the project's loaders). */

/* What a handshake learned. */
struct hs {
	struct chk_unit *u;
	STACK_OF(X509) *chain;
	char version[16];
	char why[160]; /* why the STARTTLS step declined TLS */
	const pki_pair *id;
	int asked;     /* the server asked for a client certificate */
	int ticket;    /* it sent a session ticket: past the client's Finished */
};

static int hs_index = -1;

/* Called whenever the server asks for a client certificate: the request
 * and the CA names it advertises are recorded; with --cert that
 * certificate goes out, else none. */
static int
cert_cb(SSL *ssl, void *arg)
{
	struct hs *h = SSL_get_ex_data(ssl, hs_index);
	const STACK_OF(X509_NAME) *names = SSL_get_client_CA_list(ssl);
	size_t used = 0;

	(void)arg;
	if (h == NULL)
		return 1;
	h->asked = 1;
	if (h->u == NULL)
		return 1;
	h->u->client_cert_requested = 1;
	h->u->ca_names[0] = '\0';
	for (int i = 0; names != NULL && i < sk_X509_NAME_num(names); i++) {
		char name[256];
		X509_NAME_oneline(sk_X509_NAME_value(names, i), name, sizeof(name));
		if (used + 1 < sizeof(h->u->ca_names))
			used += (size_t)snprintf(h->u->ca_names + used, sizeof(h->u->ca_names) - used,
			    "%s%s", used ? "; " : "", name);
	}
	return 1;
}

static int
new_session_cb(SSL *ssl, SSL_SESSION *sess)
{
	struct hs *h = SSL_get_ex_data(ssl, hs_index);

	(void)sess;
	if (h != NULL)
		h->ticket = 1;
	return 0; /* not kept */
}

static int
use_client_id(SSL_CTX *ctx, const pki_pair *id, tg_err *err)
{
	if (SSL_CTX_use_certificate(ctx, id->leaf) != 1 || SSL_CTX_use_PrivateKey(ctx, id->key) != 1)
		return tg_err_ossl(err, TG_ERR_TLS, "cannot use the client certificate");
	for (int i = 0; i < sk_X509_num(id->chain); i++)
		if (SSL_CTX_add1_chain_cert(ctx, sk_X509_value(id->chain, i)) != 1)
			return tg_err_ossl(err, TG_ERR_TLS, "cannot use the client certificate's chain");
	return 0;
}

static SSL_CTX *
client_ctx(int version, const pki_pair *id, tg_err *err)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	if (ctx == NULL) {
		tg_err_ossl(err, TG_ERR_TLS, "cannot create a TLS context");
		return NULL;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL); /* the rules judge the chain */
	SSL_CTX_set_cert_cb(ctx, cert_cb, NULL);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL);
	SSL_CTX_sess_set_new_cb(ctx, new_session_cb);
	if (id != NULL && use_client_id(ctx, id, err) != 0) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	if (version != 0) {
		/* Probing old versions needs what OpenSSL 3 disables by default. */
		SSL_CTX_set_security_level(ctx, 0);
		if (SSL_CTX_set_min_proto_version(ctx, version) != 1 ||
		    SSL_CTX_set_max_proto_version(ctx, version) != 1 ||
		    SSL_CTX_set_cipher_list(ctx, "ALL:@SECLEVEL=0") != 1) {
			SSL_CTX_free(ctx);
			tg_err_ossl(err, TG_ERR_TLS, "cannot configure a TLS 1.0/1.1 probe");
			return NULL;
		}
	}
	return ctx;
}

/* In TLS 1.3 the server judges the client's certificate after the client
 * has finished its handshake: its refusal is an alert that follows, its
 * acceptance a session ticket (or silence, while it waits for the client
 * to speak). Waits CHK_CLIENT_VERDICT_MS at most. */
#define CHK_CLIENT_VERDICT_MS 3000

static void
client_cert_verdict(SSL *ssl, int fd, struct hs *h)
{
	struct pollfd pfd = { fd, POLLIN, 0 };
	char b;

	if (SSL_version(ssl) < TLS1_3_VERSION)
		return; /* TLS 1.2: a refusal would have failed the handshake */
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) != 0)
		return;
	for (;;) {
		int n, e;
		ERR_clear_error();
		n = SSL_peek(ssl, &b, 1);
		e = SSL_get_error(ssl, n);
		if (n > 0 || h->ticket)
			return; /* the server speaks, or is past our Finished */
		if (e == SSL_ERROR_WANT_READ) {
			if (poll(&pfd, 1, CHK_CLIENT_VERDICT_MS) != 1)
				return; /* silence: it waits for us to speak */
			continue;
		}
		if (e == SSL_ERROR_SSL) {
			unsigned long err = ERR_peek_last_error();
			const char *reason = err != 0 ? ERR_reason_error_string(err) : NULL;
			snprintf(h->u->client_cert_refused, sizeof(h->u->client_cert_refused),
			    "%s", reason != NULL ? reason : "a TLS alert");
		} else {
			snprintf(h->u->client_cert_refused, sizeof(h->u->client_cert_refused),
			    "it closed the connection right after the handshake");
		}
		ERR_clear_error();
		return;
	}
}

/* Servers that finish the handshake whatever the client sent, and refuse
 * later (nginx answers 400 "The SSL certificate error"), still list the
 * CAs they accept: a client certificate none of whose issuers is among
 * them is refused. */
static void
client_ca_listed(SSL *ssl, struct hs *h)
{
	const STACK_OF(X509_NAME) *names = SSL_get_client_CA_list(ssl);
	char issuer[256];
	int n = names != NULL ? sk_X509_NAME_num(names) : 0;

	if (n == 0)
		return; /* nothing listed: nothing to go by */
	for (int i = -1; i < sk_X509_num(h->id->chain); i++) {
		X509 *x = i < 0 ? h->id->leaf : sk_X509_value(h->id->chain, i);
		for (int j = 0; j < n; j++)
			if (X509_NAME_cmp(X509_get_issuer_name(x), sk_X509_NAME_value(names, j)) == 0)
				return;
	}
	X509_NAME_oneline(X509_get_issuer_name(h->id->leaf), issuer, sizeof(issuer));
	snprintf(h->u->client_cert_refused, sizeof(h->u->client_cert_refused), "its issuer %s "
	    "is not among the CAs the server accepts (nginx then answers 400 \"The SSL "
	    "certificate error\")", issuer);
}

/* 1 handshake done, 0 refused by the server, -1 could not even try; 'N' in
 * *no when the STARTTLS step declined TLS (why in h->why). */
static int
handshake(const struct target *t, int version, struct hs *h, char *no, tg_err *err)
{
	SSL_CTX *ctx = NULL;
	SSL *ssl = NULL;
	int fd, rc = -1;

	if ((fd = tcp_connect(t, err)) < 0)
		return -1;
	if (chk_starttls_prelude(fd, t->starttls, t->sni, no, h->why, sizeof(h->why), err) != 0)
		goto out;
	if (*no == 'N') {
		rc = 0;
		goto out;
	}
	if ((ctx = client_ctx(version, h->id, err)) == NULL || (ssl = SSL_new(ctx)) == NULL)
		goto out;
	SSL_set_ex_data(ssl, hs_index, h);
	if (t->sni != NULL && SSL_set_tlsext_host_name(ssl, t->sni) != 1)
		goto out;
	SSL_set_fd(ssl, fd);
	ERR_clear_error();
	if (SSL_connect(ssl) != 1) {
		unsigned long e = ERR_peek_last_error();
		const char *reason = e != 0 ? ERR_reason_error_string(e) : NULL;
		snprintf(h->why, sizeof(h->why), "%s", reason != NULL ? reason : "");
		ERR_clear_error();
		rc = 0;
		goto out;
	}
	rc = 1;
	if (h->chain == NULL && SSL_get_peer_cert_chain(ssl) != NULL)
		h->chain = X509_chain_up_ref(SSL_get_peer_cert_chain(ssl));
	snprintf(h->version, sizeof(h->version), "%s", SSL_get_version(ssl));
	if (h->id != NULL && h->asked && h->u != NULL && version == 0) {
		h->u->client_cert_sent = 1;
		client_cert_verdict(ssl, fd, h);
		if (h->u->client_cert_refused[0] == '\0')
			client_ca_listed(ssl, h);
	}
	(void)SSL_shutdown(ssl);
out:
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	close(fd);
	ERR_clear_error();
	return rc;
}

static int
take_chain(struct chk_unit *u, STACK_OF(X509) *chain)
{
	int n = sk_X509_num(chain);

	u->certs = calloc((size_t)n + 1, sizeof(*u->certs));
	if (u->certs == NULL)
		return -1;
	for (int i = 0; i < n; i++) {
		X509 *x = sk_X509_value(chain, i);
		X509_up_ref(x); /* the unit holds its own reference */
		if (chk_cert_init(&u->certs[u->ncerts], x, NULL, i + 1) != 0) {
			X509_free(x);
			return -1;
		}
		u->ncerts++;
	}
	return 0;
}

static void
endpoint_hosts(chk_ctx *c, struct chk_unit *u, const struct target *t)
{
	const char *name = t->sni != NULL ? t->sni : t->host;

	(void)chk_unit_add_host(u, name);
	for (size_t i = 0; i < c->nhosts; i++)
		(void)chk_unit_add_host(u, c->hosts[i].name);
}

/* --cert/--key through src/pki, as every command loads a pair: the key
 * with --pass-file's passphrase (already read), swapped files and a key of
 * another certificate refused with the same words as serve's. */
static int
client_id_load(const chk_ctx *c, pki_pair *id, tg_err *err)
{
	pki_pass pass = { .option = "pass-file", .value = c->pass };

	if (c->client_cert == NULL)
		return 0;
	return pki_load_pair(c->client_cert, c->client_key, "cert", "key", &pass, id, err);
}


int
chk_endpoint(chk_ctx *c, const char *hostport, const char *sni, chk_starttls starttls,
    tg_err *err)
{
	struct target t = { .starttls = starttls };
	struct hs h = { 0 }, probe = { 0 };
	pki_pair id = { 0 };
	struct chk_unit *u;
	char no = 0, sni_ascii[CHK_NAME_MAX];
	int rc = -1, got;

	if (parse_hostport(hostport, &t, err) != 0)
		return -1;
	/* An internationalised name goes on the wire as its A-labels. */
	if (sni != NULL && !util_is_ascii(sni)) {
		if (util_idna_to_ascii(sni, sni_ascii, sizeof(sni_ascii), err) != 0)
			return tg_err_prefix(err, "--sni");
		sni = sni_ascii;
	}
	if (!util_is_ascii(t.host)) {
		if (util_idna_to_ascii(t.host, sni_ascii, sizeof(sni_ascii), err) != 0)
			return tg_err_prefix(err, "%s", hostport);
		snprintf(t.host, sizeof(t.host), "%s", sni_ascii);
	}
	t.sni = sni != NULL ? sni : (chk_host_is_ip(t.host) ? NULL : t.host);
	if ((starttls == CHK_STARTTLS_XMPP || starttls == CHK_STARTTLS_XMPP_SERVER) &&
	    (t.sni == NULL || t.sni[strcspn(t.sni, "'\"<>& \t\r\n")] != '\0'))
		return tg_err_set(err, TG_ERR_USAGE, t.sni == NULL ? "--starttls xmpp opens a stream "
		    "to the XMPP domain: give it with --sni (e.g. --sni example.com)" : "--sni '%s' "
		    "is not a domain an XMPP stream can be opened to", t.sni);
	if (hs_index < 0 && (hs_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL)) < 0)
		return tg_err_ossl(err, TG_ERR_INTERNAL, "SSL_get_ex_new_index");
	if (client_id_load(c, &id, err) != 0)
		goto out;
	if (c->client_cert != NULL)
		h.id = probe.id = &id;
	if (chk_build_units(c, err) != 0) /* indexes over --ca */
		goto out;
	if ((u = chk_unit_add(c, CHK_UNIT_SERVE, hostport)) == NULL) {
		tg_err_set(err, TG_ERR_INTERNAL, "out of memory");
		goto out;
	}
	u->endpoint = 1;
	snprintf(u->label, sizeof(u->label), "%s", hostport);
	h.u = u;
	if ((got = handshake(&t, 0, &h, &no, err)) < 0)
		goto out;
	if (no == 'N') {
		u->no_tls = (int)starttls;
		snprintf(u->no_tls_why, sizeof(u->no_tls_why), "%s", h.why);
	} else if ((got == 0 || h.chain == NULL) && starttls == CHK_STARTTLS_NONE) {
		tg_err_set(err, TG_ERR_TLS, "the TLS handshake with %s failed (%s: no TLS 1.2/1.3 "
		    "server there, or it refused us); for PostgreSQL add --starttls postgres, for XMPP "
		    "(5222, 5269) --starttls xmpp or xmpp-server", hostport,
		    h.why[0] ? h.why : "no reason given");
		goto out;
	} else if (got == 0 || h.chain == NULL) {
		tg_err_set(err, TG_ERR_TLS, "the TLS handshake with %s after STARTTLS failed (%s)%s%s",
		    hostport, h.why[0] ? h.why : "no reason given", starttls == CHK_STARTTLS_POSTGRES ?
		    "" : "; Prosody does this when it has no certificate for ", starttls ==
		    CHK_STARTTLS_POSTGRES ? "" : t.sni);
		goto out;
	} else {
		if (take_chain(u, h.chain) != 0)
			goto nomem;
		snprintf(u->endpoint_ver, sizeof(u->endpoint_ver), "%s", h.version);
		endpoint_hosts(c, u, &t);
		u->tls10 = handshake(&t, TLS1_VERSION, &probe, &no, err) == 1;
		u->tls11 = handshake(&t, TLS1_1_VERSION, &probe, &no, err) == 1;
		tg_err_clear(err);
	}
	chk_rules_run(c);
	rc = 0;
	goto out;
nomem:
	tg_err_set(err, TG_ERR_INTERNAL, "out of memory");
out:
	sk_X509_pop_free(h.chain, X509_free);
	sk_X509_pop_free(probe.chain, X509_free);
	pki_pair_clear(&id);
	return rc;
}
