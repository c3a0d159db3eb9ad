/* The client side of the TLS engine: `tlsgate connect` and listeners with
 * role = client. Secure defaults come from the engine (gw_tls_ssl_defaults);
 * what is a client's own is here: the server's chain checked against --ca
 * and its name against the target (or --verify-name), SNI, ALPN, the
 * client certificate (loaded through src/pki), and the sessions the
 * server gave, kept to resume the next connections.
 *
 * Sessions: the server's NewSessionTicket (TLS 1.3, after the handshake)
 * or session (TLS 1.2) arrives through the new-session callback and goes
 * into a pool shared by the worker threads (a mutex: it is touched once
 * per connection). A TLS 1.3 ticket is taken out when used (RFC 8446 C.4:
 * a client should not reuse one; tlsgate serve, OpenSSL's stateful cache,
 * accepts each once), so the pool holds as many as connections brought; a
 * TLS 1.2 session is reused as it stands. A reload builds a new context
 * with an empty pool: a renewed client certificate is never hidden behind
 * a session of the old one. */
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gateway/tls_client.h"
#include "tlsgate/pki.h"

struct gw_tls_client {
	SSL_CTX *ssl;
	struct gw_tls_certinfo info;
	size_t ninfo;
	char *expect; /* "NAME" the server must hold, for failure messages */
	char *sni;
	pthread_mutex_t mu;
	SSL_SESSION **pool; /* oldest first */
	size_t npool, cap;
};

/* --- Sessions --- */

static int
session_new_cb(SSL *ssl, SSL_SESSION *sess)
{
	gw_tls_client *c = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));

	if (c == NULL || c->cap == 0 || !SSL_SESSION_is_resumable(sess))
		return 0;
	pthread_mutex_lock(&c->mu);
	if (c->npool == c->cap) {
		SSL_SESSION_free(c->pool[0]);
		memmove(c->pool, c->pool + 1, (c->npool - 1) * sizeof(*c->pool));
		c->npool--;
	}
	c->pool[c->npool++] = sess;
	pthread_mutex_unlock(&c->mu);
	return 1; /* the pool keeps the reference */
}

static int
session_live(SSL_SESSION *s, time_t now)
{
	return SSL_SESSION_get_time(s) + SSL_SESSION_get_timeout(s) > now;
}

/* The newest live session, with a reference for the caller: taken out of
 * the pool if it is a TLS 1.3 ticket, shared if TLS 1.2. */
static SSL_SESSION *
session_take(gw_tls_client *c)
{
	SSL_SESSION *s = NULL;
	time_t now = time(NULL);

	pthread_mutex_lock(&c->mu);
	while (c->npool > 0 && s == NULL) {
		SSL_SESSION *top = c->pool[c->npool - 1];
		if (!session_live(top, now)) {
			SSL_SESSION_free(top);
			c->npool--;
		} else if (SSL_SESSION_get_protocol_version(top) >= TLS1_3_VERSION) {
			s = top;
			c->npool--;
		} else if (SSL_SESSION_up_ref(top) == 1) {
			s = top;
		} else {
			break;
		}
	}
	pthread_mutex_unlock(&c->mu);
	return s;
}

/* --- Context --- */

static int
load_identity(gw_tls_client *c, const struct gw_tls_client_opts *o, tg_err *err)
{
	STACK_OF(X509) *certs = NULL;
	EVP_PKEY *key = NULL;
	X509 *leaf;
	int rc = -1;

	if (pki_load_certs(o->cert, &certs, err) != 0)
		return tg_err_prefix(err, "--cert");
	if ((key = pki_load_key_pass(o->key, o->pass, err)) == NULL)
		goto out;
	leaf = sk_X509_shift(certs);
	if (pki_key_matches_cert(key, leaf) != 1) {
		tg_err_set(err, TG_ERR_CONFIG,
		    "key %s does not match certificate %s: pass the key this certificate was issued "
		    "for", o->key, o->cert);
		X509_free(leaf);
		goto out;
	}
	if (SSL_CTX_use_cert_and_key(c->ssl, leaf, key, certs, 1) != 1) {
		tg_err_ossl(err, TG_ERR_CONFIG, "cannot use certificate %s", o->cert);
		X509_free(leaf);
		goto out;
	}
	snprintf(c->info.path, sizeof(c->info.path), "%s", o->cert);
	pki_name_oneline(X509_get_subject_name(leaf), c->info.subject, sizeof(c->info.subject));
	c->info.not_after = pki_asn1_time_unix(X509_get0_notAfter(leaf));
	c->ninfo = 1;
	if (c->info.not_after != 0 && c->info.not_after < (int64_t)time(NULL))
		gw_log_warn("warning: client certificate %s expired; servers will refuse it: renew it",
		    o->cert);
	X509_free(leaf);
	rc = 0;
out:
	EVP_PKEY_free(key);
	sk_X509_pop_free(certs, X509_free);
	return rc;
}

/* The CAs the server's chain must lead to: every certificate of --ca. */
static int
load_ca(gw_tls_client *c, const char *path, tg_err *err)
{
	STACK_OF(X509) *certs = NULL;
	X509_STORE *store = SSL_CTX_get_cert_store(c->ssl);
	int rc = 0;

	if (pki_load_certs(path, &certs, err) != 0)
		return tg_err_prefix(err, "--ca");
	for (int i = 0; rc == 0 && i < sk_X509_num(certs); i++)
		if (X509_STORE_add_cert(store, sk_X509_value(certs, i)) != 1)
			rc = tg_err_ossl(err, TG_ERR_CONFIG, "--ca %s: cannot use certificate %d", path,
			    i + 1);
	sk_X509_pop_free(certs, X509_free);
	return rc;
}

/* The server's certificate must name the target: a host name (DNS SAN,
 * wildcards as RFC 6125) or an IP address (IP SAN). Never the subject's
 * CN: OpenSSL falls back to it when a certificate has no DNS SAN, and a
 * private CA signs client certificates whose CN their holders choose (a
 * user named "db.internal"); RFC 6125 6.4.4 and browsers dropped it too. */
static int
setup_verify(gw_tls_client *c, const struct gw_tls_client_opts *o, tg_err *err)
{
	X509_VERIFY_PARAM *vp = SSL_CTX_get0_param(c->ssl);
	int ok;

	if (o->insecure) {
		SSL_CTX_set_verify(c->ssl, SSL_VERIFY_NONE, NULL);
		return 0;
	}
	if (load_ca(c, o->ca, err) != 0)
		return -1;
	SSL_CTX_set_verify(c->ssl, SSL_VERIFY_PEER, NULL);
	X509_VERIFY_PARAM_set_purpose(vp, X509_PURPOSE_SSL_SERVER);
	X509_VERIFY_PARAM_set_hostflags(vp, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS |
	    X509_CHECK_FLAG_NEVER_CHECK_SUBJECT);
	ok = X509_VERIFY_PARAM_set1_ip_asc(vp, o->verify_name);
	if (ok != 1) {
		ERR_clear_error();
		ok = X509_VERIFY_PARAM_set1_host(vp, o->verify_name, 0);
	}
	if (ok != 1)
		return tg_err_ossl(err, TG_ERR_CONFIG, "cannot verify the server as '%s'",
		    o->verify_name);
	if ((c->expect = strdup(o->verify_name)) == NULL)
		return tg_err_set(err, TG_ERR_INTERNAL, "out of memory");
	return 0;
}

/* "h2,http/1.1" in ALPN's wire form: each name after its length byte. */
static int
alpn_wire(const char *list, unsigned char *out, size_t cap, size_t *len)
{
	size_t n = 0;

	for (const char *p = list; *p != '\0';) {
		size_t l = strcspn(p, ",");
		if (l == 0 || l > 255 || n + 1 + l > cap)
			return -1;
		out[n++] = (unsigned char)l;
		memcpy(out + n, p, l);
		n += l;
		p += l;
		if (*p == ',' && *++p == '\0')
			return -1;
	}
	*len = n;
	return n > 0 ? 0 : -1;
}

int
gw_tls_alpn_ok(const char *list)
{
	unsigned char wire[1024];
	size_t len;

	return alpn_wire(list, wire, sizeof(wire), &len) == 0;
}

gw_tls_client *
gw_tls_client_new(const struct gw_tls_client_opts *o, tg_err *err)
{
	gw_tls_client *c = calloc(1, sizeof(*c));
	unsigned char wire[1024];
	size_t wlen;

	if (c == NULL) {
		tg_err_set(err, TG_ERR_INTERNAL, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&c->mu, NULL);
	c->cap = o->sessions < GW_TLS_CLIENT_SESSIONS_MAX ? o->sessions : GW_TLS_CLIENT_SESSIONS_MAX;
	if ((c->cap > 0 && (c->pool = calloc(c->cap, sizeof(*c->pool))) == NULL) ||
	    (o->sni != NULL && (c->sni = strdup(o->sni)) == NULL)) {
		tg_err_set(err, TG_ERR_INTERNAL, "out of memory");
		goto fail;
	}
	if ((c->ssl = SSL_CTX_new(TLS_client_method())) == NULL) {
		tg_err_ossl(err, TG_ERR_TLS, "cannot create a TLS context");
		goto fail;
	}
	SSL_CTX_set_app_data(c->ssl, c);
	if (gw_tls_ssl_defaults(c->ssl, o->min_tls, o->ciphers, err) != 0)
		goto fail;
	/* The server's TCP FIN without a close_notify is an error here, not an
	 * end: the plain client is reset (conn.c reset_client), never told that
	 * a stream a man in the middle cut short was complete. */
	SSL_CTX_clear_options(c->ssl, SSL_OP_IGNORE_UNEXPECTED_EOF);
	SSL_CTX_set_session_cache_mode(c->ssl, c->cap > 0 ?
	    SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE : SSL_SESS_CACHE_OFF);
	SSL_CTX_sess_set_new_cb(c->ssl, session_new_cb);
	if (o->cert != NULL && load_identity(c, o, err) != 0)
		goto fail;
	if (setup_verify(c, o, err) != 0)
		goto fail;
	if (o->alpn != NULL && (alpn_wire(o->alpn, wire, sizeof(wire), &wlen) != 0 ||
	    SSL_CTX_set_alpn_protos(c->ssl, wire, (unsigned)wlen) != 0)) {
		tg_err_set(err, TG_ERR_CONFIG, "alpn: '%s' is not a list like h2,http/1.1", o->alpn);
		goto fail;
	}
	return c;
fail:
	gw_tls_client_free(c);
	return NULL;
}

void
gw_tls_client_free(gw_tls_client *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < c->npool; i++)
		SSL_SESSION_free(c->pool[i]);
	free(c->pool);
	SSL_CTX_free(c->ssl);
	pthread_mutex_destroy(&c->mu);
	free(c->expect);
	free(c->sni);
	free(c);
}

const struct gw_tls_certinfo *
gw_tls_client_certs(const gw_tls_client *c, size_t *n)
{
	*n = c->ninfo;
	return &c->info;
}

gw_tls *
gw_tls_client_conn(gw_tls_client *c, int fd)
{
	SSL *ssl = SSL_new(c->ssl);
	SSL_SESSION *sess;
	gw_tls *t;

	if (ssl == NULL || (c->sni != NULL && SSL_set_tlsext_host_name(ssl, c->sni) != 1)) {
		SSL_free(ssl);
		ERR_clear_error();
		return NULL;
	}
	if ((sess = session_take(c)) != NULL) {
		(void)SSL_set_session(ssl, sess); /* a session it cannot use: a full handshake */
		SSL_SESSION_free(sess);
	}
	if ((t = gw_tls_wrap(ssl, fd, c->expect != NULL ? c->expect : "")) == NULL)
		return NULL;
	SSL_set_connect_state(ssl);
	ERR_clear_error();
	return t;
}
