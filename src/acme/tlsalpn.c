/* tls-alpn-01 (RFC 8737; IP identifiers RFC 8738): a TLS handshake that
 * offers only the "acme-tls/1" protocol, with the identifier as SNI (for an
 * IP address its reverse-DNS name), and a look at the certificate the
 * answer presents: one SAN, the identifier, and the critical
 * acmeIdentifier extension holding SHA-256 of the key authorization. The
 * certificate is self-signed by design, so no chain is verified. */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/sha.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "acme/acme_int.h"

#define ACME_TLS_ALPN "acme-tls/1"
#define OID_ACME_IDENTIFIER "1.3.6.1.5.5.7.1.31"

/* The reverse-DNS name of an IP address (RFC 8738 6): 1.0.0.127.in-addr.arpa,
 * or 32 nibbles then ip6.arpa. */
static int
reverse_name(const char *ip, char *out, size_t len)
{
	unsigned char a[16];
	size_t used = 0;
	int i;

	if (inet_pton(AF_INET, ip, a) == 1) {
		snprintf(out, len, "%u.%u.%u.%u.in-addr.arpa", a[3], a[2], a[1], a[0]);
		return 0;
	}
	if (inet_pton(AF_INET6, ip, a) != 1 || len < 74)
		return -1;
	for (i = 15; i >= 0; i--)
		used += (size_t)snprintf(out + used, len - used, "%x.%x.", a[i] & 15, a[i] >> 4);
	snprintf(out + used, len - used, "ip6.arpa");
	return 0;
}

/* The handshake, driven by poll until the deadline. NULL on success, else
 * what failed. */
static const char *
handshake(SSL *ssl, int fd, int64_t deadline, char *why, size_t whylen)
{
	int rc, err, w;
	unsigned long e;

	for (;;) {
		ERR_clear_error();
		rc = SSL_connect(ssl);
		if (rc == 1)
			return NULL;
		err = SSL_get_error(ssl, rc);
		if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
			w = acme_wait(fd, err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline);
			if (w == 1)
				continue;
			return w == 0 ? "the TLS handshake timed out" : "poll failed";
		}
		e = ERR_peek_last_error();
		if (e != 0)
			ERR_error_string_n(e, why, whylen);
		else
			snprintf(why, whylen, "%s", err == SSL_ERROR_SYSCALL
			    ? "the connection was closed during the handshake" : "handshake failed");
		ERR_clear_error();
		return why;
	}
}

/* The one SAN must be the identifier: a dNSName (compared without case)
 * or, for an IP, an iPAddress of its bytes. */
static const char *
check_san(X509 *cert, const char *id, int is_ip)
{
	GENERAL_NAMES *names;
	const GENERAL_NAME *g;
	unsigned char ip[16];
	const char *bad = NULL;
	int crit = -1, iplen = 0;

	names = X509_get_ext_d2i(cert, NID_subject_alt_name, &crit, NULL);
	if (names == NULL)
		return crit == -2 ? "the certificate has two subjectAltName extensions"
		                  : "the certificate has no subjectAltName";
	if (sk_GENERAL_NAME_num(names) != 1) {
		bad = "the certificate has more than one SAN; RFC 8737 wants exactly one, the "
		      "identifier";
		goto out;
	}
	g = sk_GENERAL_NAME_value(names, 0);
	if (is_ip) {
		iplen = inet_pton(AF_INET, id, ip) == 1 ? 4 : inet_pton(AF_INET6, id, ip) == 1 ? 16 : 0;
		if (g->type != GEN_IPADD || iplen == 0 || ASN1_STRING_length(g->d.iPAddress) != iplen ||
		    memcmp(ASN1_STRING_get0_data(g->d.iPAddress), ip, (size_t)iplen) != 0)
			bad = "the certificate's SAN is not the identifier's IP address";
	} else if (g->type != GEN_DNS || ASN1_STRING_length(g->d.dNSName) != (int)strlen(id) ||
	           strncasecmp((const char *)ASN1_STRING_get0_data(g->d.dNSName), id, strlen(id)) != 0) {
		bad = "the certificate's SAN is not the identifier (a dNSName)";
	}
out:
	GENERAL_NAMES_free(names);
	return bad;
}

/* The acmeIdentifier extension: once, critical, its value the DER of an
 * OCTET STRING of SHA-256(key authorization). */
static const char *
check_acme_ext(X509 *cert, const char *key_authz)
{
	ASN1_OBJECT *oid = OBJ_txt2obj(OID_ACME_IDENTIFIER, 1);
	unsigned char want[2 + SHA256_DIGEST_LENGTH];
	const ASN1_OCTET_STRING *v;
	X509_EXTENSION *ext;
	const char *bad = NULL;
	int idx;

	if (oid == NULL)
		return "cannot make the acmeIdentifier OID";
	idx = X509_get_ext_by_OBJ(cert, oid, -1);
	if (idx < 0) {
		bad = "the certificate has no acmeIdentifier extension (1.3.6.1.5.5.7.1.31)";
		goto out;
	}
	if (X509_get_ext_by_OBJ(cert, oid, idx) >= 0) {
		bad = "the certificate has two acmeIdentifier extensions";
		goto out;
	}
	ext = X509_get_ext(cert, idx);
	if (X509_EXTENSION_get_critical(ext) != 1) {
		bad = "the acmeIdentifier extension is not critical (RFC 8737 3)";
		goto out;
	}
	want[0] = 0x04; /* OCTET STRING */
	want[1] = SHA256_DIGEST_LENGTH;
	SHA256((const unsigned char *)key_authz, strlen(key_authz), want + 2);
	v = X509_EXTENSION_get_data(ext);
	if (ASN1_STRING_length(v) != (int)sizeof(want) ||
	    CRYPTO_memcmp(ASN1_STRING_get0_data(v), want, sizeof(want)) != 0)
		bad = "the acmeIdentifier extension does not hold SHA-256 of the key authorization";
out:
	ASN1_OBJECT_free(oid);
	return bad;
}

const char *
acme_tlsalpn_cert_check(X509 *cert, const char *id, int is_ip, const char *key_authz)
{
	const char *bad = check_san(cert, id, is_ip);

	return bad != NULL ? bad : check_acme_ext(cert, key_authz);
}

/* One connection's TLS part: NULL and *type untouched when it all holds. */
static const char *
try_tls(SSL_CTX *ctx, int fd, const char *sni, const char *id, int is_ip, const char *key_authz,
    int64_t deadline, char *why, size_t whylen, acme_ptype *type)
{
	SSL *ssl = SSL_new(ctx);
	const unsigned char *alpn = NULL;
	unsigned int alpnlen = 0;
	const char *bad = NULL;
	X509 *cert;

	*type = ACME_P_TLS;
	if (ssl == NULL || SSL_set_fd(ssl, fd) != 1 || SSL_set_tlsext_host_name(ssl, sni) != 1) {
		bad = "cannot set up TLS";
		goto out;
	}
	if ((bad = handshake(ssl, fd, deadline, why, whylen)) != NULL)
		goto out;
	SSL_get0_alpn_selected(ssl, &alpn, &alpnlen);
	if (alpnlen != strlen(ACME_TLS_ALPN) || memcmp(alpn, ACME_TLS_ALPN, alpnlen) != 0) {
		bad = "the server did not negotiate ALPN protocol acme-tls/1";
		goto out;
	}
	*type = ACME_P_INCORRECT_RESPONSE;
	if ((cert = SSL_get0_peer_certificate(ssl)) == NULL) {
		bad = "the server presented no certificate";
		goto out;
	}
	bad = acme_tlsalpn_cert_check(cert, id, is_ip, key_authz);
out:
	ERR_clear_error();
	SSL_free(ssl);
	return bad;
}

static SSL_CTX *
client_ctx(void)
{
	static const unsigned char alpn[] = "\x0a" ACME_TLS_ALPN;
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	if (ctx == NULL || SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
	    SSL_CTX_set_alpn_protos(ctx, alpn, sizeof(alpn) - 1) != 0) {
		SSL_CTX_free(ctx);
		ERR_clear_error();
		return NULL;
	}
	/* The certificate is self-signed by design: its content is checked. */
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	return ctx;
}

int
acme_validate_tlsalpn01(const char *identifier, int is_ip, const char *key_authz,
    const acme_vopts *o, acme_problem *p)
{
	acme_addr addrs[ACME_VAL_MAX_ADDRS];
	char what[300], sni[80], why[256];
	int64_t deadline = acme_now_ms() +
	    (o != NULL && o->timeout_ms > 0 ? o->timeout_ms : ACME_VAL_TIMEOUT_MS);
	int port = o != NULL && o->tlsalpn_port > 0 ? o->tlsalpn_port : 443, fd = -1, rc = -1;
	SSL_CTX *ctx = NULL;
	sigset_t pipe, old, pending;
	acme_ptype type;
	const char *bad;
	size_t n, i = 0;

	if (identifier == NULL || strlen(identifier) > 253 || key_authz == NULL)
		return acme_problem_set(p, ACME_P_SERVER_INTERNAL, "tls-alpn-01: identifier unusable");
	snprintf(what, sizeof(what), "tls-alpn-01 for %s", identifier);
	if (is_ip ? reverse_name(identifier, sni, sizeof(sni)) != 0
	          : snprintf(sni, sizeof(sni), "%s", identifier) >= (int)sizeof(sni))
		return acme_problem_set(p, ACME_P_SERVER_INTERNAL, "%s: no SNI name for it", what);
	if (acme_lookup(identifier, is_ip, port, o, addrs, &n, what, p) != 0)
		return -1;
	if ((ctx = client_ctx()) == NULL)
		return acme_problem_set(p, ACME_P_SERVER_INTERNAL, "%s: cannot set up TLS", what);
	/* A peer that closes mid-handshake must not end the process: SIGPIPE
	 * is held back while OpenSSL writes, and one raised here is taken. */
	sigemptyset(&pipe);
	sigaddset(&pipe, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe, &old);
	if ((fd = acme_connect_any(addrs, n, deadline, identifier, &i, what, p)) < 0)
		goto out;
	why[0] = '\0';
	bad = try_tls(ctx, fd, sni, identifier, is_ip, key_authz, deadline, why, sizeof(why), &type);
	if (bad != NULL) {
		acme_problem_set(p, type, "%s: %s (SNI %s, ALPN acme-tls/1): %s", what,
		    addrs[i].text, sni, bad);
		goto out;
	}
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	SSL_CTX_free(ctx);
	if (!sigismember(&old, SIGPIPE)) {
		struct timespec zero = { 0, 0 };
		sigpending(&pending);
		if (sigismember(&pending, SIGPIPE))
			sigtimedwait(&pipe, NULL, &zero);
		pthread_sigmask(SIG_SETMASK, &old, NULL);
	}
	return rc;
}
