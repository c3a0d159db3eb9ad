/* The OpenSSL engine. Everything libssl lives here: contexts with secure
 * defaults set in one place, certificate selection by SNI, client
 * verification (CA, CRL, identity rules), and non-blocking I/O mapped to
 * gw_io. */
#include <errno.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>

#include "gateway/tls_engine.h"
#include "tlsgate/pki.h"
#include "tlsgate/util.h"

#define GW_TLS_ERR_MAX 320
#define GW_TLS_VERIFY_DEPTH 10
/* TLS 1.2 suites unless --ciphers says otherwise: Mozilla's "intermediate"
 * ECDHE suites, AEAD only (AES-GCM, ChaCha20-Poly1305). OpenSSL's default
 * list also offers CBC suites, which testssl.sh flags (LUCKY13). TLS 1.3
 * suites are all AEAD and keep OpenSSL's default. */
#define GW_TLS12_CIPHERS \
	"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:" \
	"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:" \
	"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"
/* How long a session can be resumed: nginx's and HAProxy's 5 minutes. */
#define GW_TLS_SESSION_SECS 300

struct cert_entry {
	X509 *leaf;
	EVP_PKEY *key;
	STACK_OF(X509) *chain;
	char **names; /* layout host name, DNS SANs (wildcards included) */
	size_t nnames;
};

struct gw_tls_verifier {
	X509_STORE *store; /* client CA and CRL; NULL with verify none */
	enum gw_verify verify;
	const gw_acl *acl;
	struct gw_tls_crlinfo *crls;
	size_t ncrls;
};

struct gw_tls_ctx {
	SSL_CTX *ssl;
	struct cert_entry *e;
	size_t ne;
	struct gw_tls_certinfo *info;
	int strict_sni;
	int defer_verify;
	const gw_tls_verifier *verifier;
	struct gw_ticket_keys *tickets; /* --ticket-keys; NULL: the ring's, if any */
	struct gw_ticket_ring *ring;    /* the process's keys (borrowed) */
	_Atomic time_t expired_at;      /* the last gw_tls_ctx_expire_sessions */
};

struct gw_tls {
	SSL *ssl;
	char *err; /* GW_TLS_ERR_MAX bytes, taken at the first failure: most
	            * connections never have one and need not carry the room */
	const char *flaw; /* a client certificate name that is not text (static) */
	int short_read; /* the last read from the socket got less than it asked */
	const char *expect; /* client side: the name the server must hold ("" with
	                     * --insecure); NULL on the server side */
	int done; /* the handshake finished (a fatal error resets libssl's state) */
};

/* --- Loading --- */

static int
add_name(struct cert_entry *e, const char *name, size_t len)
{
	char **nv;

	if (len == 0 || len > 255)
		return 0;
	if ((nv = realloc(e->names, (e->nnames + 1) * sizeof(*nv))) == NULL)
		return -1;
	e->names = nv;
	if ((nv[e->nnames] = strndup(name, len)) == NULL)
		return -1;
	e->nnames++;
	return 0;
}

static int
index_san(const pki_name *n, void *arg)
{
	/* A name that is not text would match another name than it says. */
	if (strcmp(n->prefix, "DNS:") != 0 || n->bad != NULL)
		return 0;
	return add_name(arg, n->value, n->len);
}

static int
index_names(struct cert_entry *e, const char *host)
{
	if (host != NULL && add_name(e, host, strlen(host)) != 0)
		return -1;
	return pki_cert_san_each(e->leaf, index_san, e);
}

/* Through src/pki, as every command loads a pair: the options are named for
 * --cert/--key, not for a pair found in --certs-dir. */
static int
load_entry(gw_tls_ctx *ctx, const struct gw_cert_spec *s, pki_pass *pass, tg_err *err)
{
	struct cert_entry *e = &ctx->e[ctx->ne];
	struct gw_tls_certinfo *ci = &ctx->info[ctx->ne];
	const int given = s->host == NULL;
	pki_pair pair;

	memset(e, 0, sizeof(*e));
	if (pki_load_pair(s->cert, s->key, given ? "cert" : NULL, given ? "key" : NULL, pass,
		&pair, err) != 0)
		return -1;
	e->leaf = pair.leaf; /* ownership to the entry, freed with the context */
	e->chain = pair.chain;
	e->key = pair.key;
	ctx->ne++;
	if (index_names(e, s->host) != 0)
		return tg_err_set(err, TG_ERR_INTERNAL, "out of memory");
	snprintf(ci->path, sizeof(ci->path), "%s", s->cert);
	X509_NAME_oneline(X509_get_subject_name(e->leaf), ci->subject, sizeof(ci->subject));
	ci->not_after = pki_asn1_time_unix(X509_get0_notAfter(e->leaf));
	if (ci->not_after != 0 && ci->not_after < (int64_t)time(NULL))
		gw_log_warn("warning: certificate %s expired; clients will refuse it: renew it", s->cert);
	return 0;
}

/* --- SNI --- */

static int
name_matches(const char *pattern, const char *name)
{
	const char *dot;

	if (strcasecmp(pattern, name) == 0)
		return 1;
	/* "*.example.com" covers exactly one label, as in RFC 6125. */
	if (pattern[0] != '*' || pattern[1] != '.' || (dot = strchr(name, '.')) == NULL)
		return 0;
	return dot != name && strcasecmp(pattern + 1, dot) == 0;
}

static const struct cert_entry *
find_entry(const gw_tls_ctx *ctx, const char *name)
{
	/* Exact names win over wildcards, whatever the file order. */
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < ctx->ne; i++)
			for (size_t j = 0; j < ctx->e[i].nnames; j++) {
				const char *n = ctx->e[i].names[j];
				if (pass == 0 ? strcasecmp(n, name) == 0 :
				    (n[0] == '*' && name_matches(n, name)))
					return &ctx->e[i];
			}
	return NULL;
}

static int
sni_cb(SSL *ssl, int *alert, void *arg)
{
	gw_tls_ctx *ctx = arg;
	const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
	const struct cert_entry *e;

	if (name == NULL)
		return SSL_TLSEXT_ERR_NOACK;
	if ((e = find_entry(ctx, name)) == NULL) {
		if (!ctx->strict_sni)
			return SSL_TLSEXT_ERR_NOACK;
		*alert = SSL_AD_UNRECOGNIZED_NAME;
		return SSL_TLSEXT_ERR_ALERT_FATAL;
	}
	if (e != &ctx->e[0] &&
	    SSL_use_cert_and_key(ssl, e->leaf, e->key, e->chain, 1) != 1) {
		ERR_clear_error();
		*alert = SSL_AD_INTERNAL_ERROR;
		return SSL_TLSEXT_ERR_ALERT_FATAL;
	}
	return SSL_TLSEXT_ERR_OK;
}

/* --- Client verification --- */

/* A CRL past its nextUpdate still revokes what it lists, unless
 * --crl-strict: then OpenSSL's "CRL has expired" refuses every client, as
 * PostgreSQL and nginx do. The first error stops a verification, so none
 * came before this one. */
static int
crl_lenient_cb(int ok, X509_STORE_CTX *x)
{
	if (!ok && X509_STORE_CTX_get_error(x) == X509_V_ERR_CRL_HAS_EXPIRED) {
		X509_STORE_CTX_set_error(x, X509_V_OK);
		return 1;
	}
	return ok;
}

static int peer_from_x509(X509 *cert, struct gw_peer *p, int full);
static enum gw_verdict cert_verdict(const gw_tls_verifier *v, X509 *leaf, STACK_OF(X509) *chain,
    const gw_acl *acl, const char **why);

/* The verdict on a certificate whose chain X509_verify_cert has just judged
 * in x: its chain (x's error), then names that say what they mean, then the
 * identity rules (acl; NULL: not here). A refusal is recorded as x's error,
 * which SSL_get_verify_result reports. Handshakes and re-checks both come
 * here. */
static enum gw_verdict
judge(X509_STORE_CTX *x, const gw_acl *acl, const char **why)
{
	int vr = X509_STORE_CTX_get_error(x), rc;
	enum gw_verdict vd = GW_VERDICT_OK;
	struct gw_peer p;

	*why = NULL;
	if (vr != X509_V_OK) {
		*why = X509_verify_cert_error_string(vr);
		return GW_VERDICT_BAD_CERT;
	}
	memset(&p, 0, sizeof(p));
	rc = peer_from_x509(X509_STORE_CTX_get0_cert(x), &p, 0);
	if (rc != 0) {
		*why = rc < 0 ? "out of memory reading the client certificate" : p.verify_error;
		X509_STORE_CTX_set_error(x, rc < 0 ? X509_V_ERR_OUT_OF_MEM :
		    X509_V_ERR_UNSUPPORTED_NAME_SYNTAX);
		vd = GW_VERDICT_BAD_CERT;
	} else if (!gw_acl_empty(acl) && !gw_acl_allows(acl, &p)) {
		*why = "not on the allow list";
		X509_STORE_CTX_set_error(x, X509_V_ERR_APPLICATION_VERIFICATION);
		vd = GW_VERDICT_DENIED;
	}
	gw_peer_clear(&p);
	return vd;
}

/* Chain, time and CRL first, then names and (tcp mode) the identity rules,
 * all inside the handshake so a refused tcp client gets an alert, not a
 * silent close. http mode (defer_verify) finishes every handshake and
 * answers 400/403 from the verdict SSL_get_verify_result keeps. */
static int
verify_app_cb(X509_STORE_CTX *x, void *arg)
{
	gw_tls_ctx *ctx = arg;
	SSL *ssl = X509_STORE_CTX_get_ex_data(x, SSL_get_ex_data_X509_STORE_CTX_idx());
	gw_tls *t = ssl != NULL ? SSL_get_app_data(ssl) : NULL;
	const char *why;
	int ok = X509_verify_cert(x);

	if (ok < 0)
		return ok;
	if (judge(x, ctx->defer_verify ? NULL : ctx->verifier->acl, &why) != GW_VERDICT_OK &&
	    X509_STORE_CTX_get_error(x) == X509_V_ERR_UNSUPPORTED_NAME_SYNTAX && t != NULL)
		t->flaw = why;
	return ctx->defer_verify ? 1 : X509_STORE_CTX_get_error(x) == X509_V_OK;
}

/* 1 if every CA of the client-CA bundle has published a CRL into the store:
 * then every link of a chain can be checked, a revoked intermediate too. */
static int
crls_cover_every_ca(X509_STORE *store)
{
	STACK_OF(X509_OBJECT) *objs = X509_STORE_get0_objects(store);

	for (int i = 0; i < sk_X509_OBJECT_num(objs); i++) {
		X509 *ca = X509_OBJECT_get0_X509(sk_X509_OBJECT_value(objs, i));
		int covered = 0;
		if (ca == NULL || X509_check_ca(ca) == 0)
			continue;
		for (int j = 0; j < sk_X509_OBJECT_num(objs) && !covered; j++) {
			X509_CRL *crl = X509_OBJECT_get0_X509_CRL(sk_X509_OBJECT_value(objs, j));
			covered = crl != NULL &&
			    X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_subject_name(ca)) == 0;
		}
		if (!covered)
			return 0;
	}
	return 1;
}

/* A CRL must come from a CA of the client-CA bundle and carry its
 * signature: a CRL from another CA (a file mixed up, another fleet's CA)
 * would otherwise be taken, and every client then fails for want of its
 * own CA's CRL. */
static int
crl_from_bundle(X509_STORE *store, X509_CRL *crl, const struct gw_tls_verify_opts *o, int idx,
    tg_err *err)
{
	STACK_OF(X509_OBJECT) *objs = X509_STORE_get0_objects(store);
	char issuer[256];
	int named = 0;

	for (int i = 0; i < sk_X509_OBJECT_num(objs); i++) {
		X509 *ca = X509_OBJECT_get0_X509(sk_X509_OBJECT_value(objs, i));
		if (ca == NULL || X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_subject_name(ca)) != 0)
			continue;
		named = 1;
		if (X509_CRL_verify(crl, X509_get0_pubkey(ca)) == 1)
			return 0;
	}
	ERR_clear_error();
	pki_name_oneline(X509_CRL_get_issuer(crl), issuer, sizeof(issuer));
	if (named)
		return tg_err_set(err, TG_ERR_CONFIG,
		    "CRL %s (CRL %d in the file): its signature does not verify with the key of %s "
		    "in --client-ca %s: another CA of that name signed it, or it was altered; "
		    "publish it again from the CA that issues the client certificates "
		    "(`tlsgate crl --dir DIR`)", o->crl, idx, issuer, o->client_ca);
	return tg_err_set(err, TG_ERR_CONFIG,
	    "CRL %s (CRL %d in the file): issued by %s, which is not a CA of --client-ca %s; "
	    "a CRL from another CA would refuse every client: give the CRL of the CA that "
	    "issues the client certificates, or add that CA to the bundle", o->crl, idx, issuer,
	    o->client_ca);
}

static int
crl_record(gw_tls_verifier *v, X509_CRL *crl, const struct gw_tls_verify_opts *o, tg_err *err)
{
	struct gw_tls_crlinfo *ci, *grown = realloc(v->crls, (v->ncrls + 1) * sizeof(*grown));
	ASN1_INTEGER *num;
	const ASN1_TIME *next = X509_CRL_get0_nextUpdate(crl);

	if (grown == NULL)
		return tg_err_set(err, TG_ERR_INTERNAL, "out of memory");
	v->crls = grown;
	ci = &v->crls[v->ncrls++];
	memset(ci, 0, sizeof(*ci));
	snprintf(ci->path, sizeof(ci->path), "%s", o->crl);
	ci->strict = o->crl_strict;
	pki_name_oneline(X509_CRL_get_issuer(crl), ci->issuer, sizeof(ci->issuer));
	num = X509_CRL_get_ext_d2i(crl, NID_crl_number, NULL, NULL);
	ci->number = num != NULL ? ASN1_INTEGER_get(num) : -1;
	ASN1_INTEGER_free(num);
	ci->last_update = pki_asn1_time_unix(X509_CRL_get0_lastUpdate(crl));
	ci->next_update = next != NULL ? pki_asn1_time_unix(next) : 0;
	ERR_clear_error();
	return 0;
}

void
gw_tls_crl_warn_expired(const struct gw_tls_crlinfo *ci, const char *listener)
{
	char when[32];

	pki_time_format(ci->next_update, when, sizeof(when));
	gw_log_warn("warning: %s%s%sCRL %s (%s) is past its next update (%s): %s",
	    listener ? "listener " : "", listener ? listener : "", listener ? ": " : "", ci->path,
	    ci->issuer, when,
	    ci->strict ? "--crl-strict refuses every client until a fresh one is published" :
	    "clients are still checked against it (--crl-strict would refuse them); publish "
	    "a fresh one (`tlsgate crl --dir DIR`)");
}

static int
load_crl(gw_tls_verifier *v, const struct gw_tls_verify_opts *o, tg_err *err)
{
	STACK_OF(X509_CRL) *crls = sk_X509_CRL_new_null();
	int rc = 0;

	if (crls == NULL)
		return tg_err_set(err, TG_ERR_INTERNAL, "out of memory");
	if (pki_load_crls(o->crl, crls, err) != 0) {
		sk_X509_CRL_pop_free(crls, X509_CRL_free);
		return tg_err_prefix(err, "--crl");
	}
	for (int i = 0; rc == 0 && i < sk_X509_CRL_num(crls); i++) {
		X509_CRL *crl = sk_X509_CRL_value(crls, i);
		const struct gw_tls_crlinfo *ci;
		if (crl_from_bundle(v->store, crl, o, i + 1, err) != 0 ||
		    crl_record(v, crl, o, err) != 0) {
			rc = -1;
			break;
		}
		ci = &v->crls[v->ncrls - 1];
		if (ci->next_update != 0 && ci->next_update < (int64_t)time(NULL))
			gw_tls_crl_warn_expired(ci, NULL);
		if (X509_STORE_add_crl(v->store, crl) != 1)
			rc = tg_err_ossl(err, TG_ERR_CONFIG, "cannot use CRL %s", o->crl);
	}
	sk_X509_CRL_pop_free(crls, X509_CRL_free);
	if (rc != 0)
		return -1;
	if (!o->crl_strict)
		X509_STORE_set_verify_cb(v->store, crl_lenient_cb);
	/* The leaf is always checked. The CAs above it only when the file holds
	 * a CRL for each of them: demanding them otherwise would refuse every
	 * client ("unable to get certificate CRL"). */
	if (crls_cover_every_ca(v->store))
		X509_STORE_set_flags(v->store, X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL);
	else
		X509_STORE_set_flags(v->store, X509_V_FLAG_CRL_CHECK);
	return 0;
}

/* Every certificate of a client CA file must be a CA: a client's own
 * certificate there (a common mix-up) passed --test before; refuse it,
 * naming it. */
static int
client_ca_only_cas(const char *path, tg_err *err)
{
	STACK_OF(X509) *certs = NULL;
	int rc = 0;

	if (pki_load_certs(path, &certs, err) != 0)
		return tg_err_prefix(err, "client CA");
	for (int i = 0; rc == 0 && i < sk_X509_num(certs); i++) {
		X509 *x = sk_X509_value(certs, i);
		char subject[256];
		if (X509_check_ca(x) != 0)
			continue;
		pki_name_oneline(X509_get_subject_name(x), subject, sizeof(subject));
		rc = tg_err_set(err, TG_ERR_CONFIG,
		    "client CA %s: certificate %d (%s) is not a CA certificate (no basicConstraints "
		    "CA:TRUE): --client-ca takes the CA that issued the client certificates (e.g. "
		    "ca.crt), not a client's own certificate", path, i + 1, subject);
	}
	sk_X509_pop_free(certs, X509_free);
	return rc;
}

gw_tls_verifier *
gw_tls_verifier_new(const struct gw_tls_verify_opts *o, tg_err *err)
{
	gw_tls_verifier *v = calloc(1, sizeof(*v));

	if (v == NULL) {
		tg_err_set(err, TG_ERR_INTERNAL, "out of memory");
		return NULL;
	}
	v->verify = o->verify;
	v->acl = o->acl;
	if (o->verify == GW_VERIFY_NONE)
		return v;
	if (client_ca_only_cas(o->client_ca, err) != 0)
		goto fail;
	if ((v->store = X509_STORE_new()) == NULL) {
		tg_err_ossl(err, TG_ERR_INTERNAL, "cannot create a certificate store");
		goto fail;
	}
	if (X509_STORE_load_file(v->store, o->client_ca) != 1) {
		tg_err_ossl(err, TG_ERR_CONFIG,
		    "cannot load client CA %s: it must hold PEM CA certificates", o->client_ca);
		goto fail;
	}
	if (o->crl != NULL && load_crl(v, o, err) != 0)
		goto fail;
	return v;
fail:
	gw_tls_verifier_free(v);
	return NULL;
}

void
gw_tls_verifier_free(gw_tls_verifier *v)
{
	if (v == NULL)
		return;
	X509_STORE_free(v->store);
	free(v->crls);
	free(v);
}

const struct gw_tls_crlinfo *
gw_tls_verifier_crls(const gw_tls_verifier *v, size_t *n)
{
	*n = v != NULL ? v->ncrls : 0;
	return v != NULL ? v->crls : NULL;
}

/* The names of the client CAs, as the CertificateRequest advertises them. */
static STACK_OF(X509_NAME) *
ca_names(X509_STORE *store)
{
	STACK_OF(X509_OBJECT) *objs = X509_STORE_get0_objects(store);
	STACK_OF(X509_NAME) *names = sk_X509_NAME_new_null();

	for (int i = 0; names != NULL && i < sk_X509_OBJECT_num(objs); i++) {
		X509 *ca = X509_OBJECT_get0_X509(sk_X509_OBJECT_value(objs, i));
		X509_NAME *n;
		if (ca == NULL)
			continue;
		if ((n = X509_NAME_dup(X509_get_subject_name(ca))) == NULL || !sk_X509_NAME_push(names, n)) {
			X509_NAME_free(n);
			sk_X509_NAME_pop_free(names, X509_NAME_free);
			return NULL;
		}
	}
	return names;
}

static int
setup_verify(gw_tls_ctx *ctx, const struct gw_tls_opts *o, tg_err *err)
{
	const gw_tls_verifier *v = o->verifier;
	STACK_OF(X509_NAME) *names;
	int mode = SSL_VERIFY_PEER;

	ctx->verifier = v;
	if (v == NULL || v->verify == GW_VERIFY_NONE) {
		SSL_CTX_set_verify(ctx->ssl, SSL_VERIFY_NONE, NULL);
		return 0;
	}
	SSL_CTX_set1_cert_store(ctx->ssl, v->store);
	if ((names = ca_names(v->store)) == NULL || sk_X509_NAME_num(names) == 0) {
		sk_X509_NAME_free(names);
		return tg_err_ossl(err, TG_ERR_CONFIG, "the client CA bundle holds no certificate");
	}
	SSL_CTX_set_client_CA_list(ctx->ssl, names);
	if (!o->defer_verify && v->verify >= GW_VERIFY_REQUIRE)
		mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
	/* No SSL verify callback: the store's (crl_lenient_cb) applies, and
	 * http mode finishes the handshake anyway (verify_app_cb returns 1),
	 * answering 400/403 from the verdict SSL_get_verify_result keeps. */
	SSL_CTX_set_verify(ctx->ssl, mode, NULL);
	SSL_CTX_set_cert_verify_callback(ctx->ssl, verify_app_cb, ctx);
	SSL_CTX_set_verify_depth(ctx->ssl, GW_TLS_VERIFY_DEPTH);
	return 0;
}

/* --- Session tickets --- */

/* The key that encrypts (name NULL) or the one named: from --ticket-keys,
 * else from the process's ring. Returns its index, -1 if none. */
static int
ticket_key_get(const gw_tls_ctx *ctx, const unsigned char *name, struct gw_ticket_key *key)
{
	if (ctx->tickets != NULL)
		return gw_ticket_keys_find(ctx->tickets, name, key);
	return gw_ticket_ring_find(ctx->ring, name, key);
}

/* nginx's ssl_session_ticket_key: AES-256-CBC and HMAC-SHA256 with the
 * key's 16-byte name in the ticket. New tickets under the first key; a
 * ticket under a later key is accepted and renewed (2), so clients move to
 * the new key while the old one is still listed; an unknown name is a full
 * handshake (0). */
static int
ticket_key_cb(SSL *ssl, unsigned char name[16], unsigned char *iv, EVP_CIPHER_CTX *cipher,
    EVP_MAC_CTX *mac, int enc)
{
	const gw_tls_ctx *ctx = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
	struct gw_ticket_key key;
	char digest[] = "SHA256";
	OSSL_PARAM params[2];
	int i, rc = -1;

	/* No key (an unknown name, or a ring the stopping master emptied):
	 * 0 is a full handshake, or no ticket, not an error. */
	if ((i = ticket_key_get(ctx, enc ? NULL : name, &key)) < 0)
		return 0;
	if (enc) {
		memcpy(name, key.name, GW_TICKET_NAME_LEN);
		if (RAND_bytes(iv, EVP_CIPHER_get_iv_length(EVP_aes_256_cbc())) != 1)
			goto out;
	}
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0);
	params[1] = OSSL_PARAM_construct_end();
	if (EVP_MAC_init(mac, key.hmac, sizeof(key.hmac), params) != 1)
		goto out;
	if ((enc ? EVP_EncryptInit_ex(cipher, EVP_aes_256_cbc(), NULL, key.aes, iv) :
	    EVP_DecryptInit_ex(cipher, EVP_aes_256_cbc(), NULL, key.aes, iv)) != 1)
		goto out;
	rc = enc || i == 0 ? 1 : 2;
out:
	OPENSSL_cleanse(&key, sizeof(key));
	return rc;
}

/* A ticket outlives reloads and may come from another gateway of the fleet,
 * so the client certificate it holds is judged by this context's CA, CRL
 * and (tcp mode) rules before it is used: one that no longer passes (or a
 * ticket without a certificate where one is required) means a full
 * handshake, which verifies and refuses as usual. */
static SSL_TICKET_RETURN
ticket_judge_cb(SSL *ssl, SSL_SESSION *ss, const unsigned char *keyname, size_t keyname_len,
    SSL_TICKET_STATUS status, void *arg)
{
	const gw_tls_ctx *ctx = arg;
	const gw_tls_verifier *v = ctx->verifier;
	const char *why;

	(void)ssl;
	(void)keyname;
	(void)keyname_len;
	if (status == SSL_TICKET_FATAL_ERR_MALLOC || status == SSL_TICKET_FATAL_ERR_OTHER)
		return SSL_TICKET_RETURN_ABORT;
	if (status != SSL_TICKET_SUCCESS && status != SSL_TICKET_SUCCESS_RENEW)
		return SSL_TICKET_RETURN_IGNORE_RENEW;
	if (cert_verdict(v, SSL_SESSION_get0_peer(ss), NULL,
	    ctx->defer_verify || v == NULL ? NULL : v->acl, &why) != GW_VERDICT_OK)
		return SSL_TICKET_RETURN_IGNORE_RENEW;
	/* TLS 1.3: a new ticket on every resumption, as OpenSSL does with no
	 * callback (RETURN_USE would send none: a client that keeps only its
	 * newest ticket, or uses each once as RFC 8446 C.4 advises, then
	 * resumed every other connection). TLS 1.2: a new ticket only when
	 * this one is under an older key. */
	if (status == SSL_TICKET_SUCCESS_RENEW ||
	    SSL_SESSION_get_protocol_version(ss) >= TLS1_3_VERSION)
		return SSL_TICKET_RETURN_USE_RENEW;
	return SSL_TICKET_RETURN_USE;
}

static int
setup_tickets(gw_tls_ctx *ctx, const struct gw_tls_opts *o, tg_err *err)
{
	if (o->session_cache == 0 || (o->tickets == NULL && o->ring == NULL)) {
		SSL_CTX_set_options(ctx->ssl, SSL_OP_NO_TICKET);
		return 0;
	}
	if (o->tickets != NULL) {
		if ((ctx->tickets = malloc(sizeof(*ctx->tickets))) == NULL)
			return tg_err_set(err, TG_ERR_INTERNAL, "out of memory");
		memcpy(ctx->tickets, o->tickets, sizeof(*ctx->tickets));
	} else {
		/* A ticket of the ring lives one to two periods: its lifetime
		 * hint says no more than that. */
		double two = 2 * gw_ticket_ring_period(o->ring);
		ctx->ring = o->ring;
		if (two < GW_TLS_SESSION_SECS)
			SSL_CTX_set_timeout(ctx->ssl, two < 1 ? 1 : (long)two);
	}
	SSL_CTX_set_app_data(ctx->ssl, ctx);
	if (SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx->ssl, ticket_key_cb) != 1 ||
	    SSL_CTX_set_session_ticket_cb(ctx->ssl, NULL, ticket_judge_cb, ctx) != 1)
		return tg_err_ossl(err, TG_ERR_INTERNAL, "cannot set the session ticket keys");
	return 0;
}

/* --- Context --- */

/* What every context gets, server or client (tls_client.c). */
int
gw_tls_ssl_defaults(SSL_CTX *ssl, int min_tls, const char *ciphers, tg_err *err)
{
	SSL_CTX_set_min_proto_version(ssl, min_tls == 13 ? TLS1_3_VERSION : TLS1_2_VERSION);
	SSL_CTX_set_options(ssl, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
	    SSL_OP_IGNORE_UNEXPECTED_EOF);
	/* Idle connections give their 34 KB of record buffers back. */
	SSL_CTX_set_mode(ssl, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	/* One read(2) per buffer of records instead of two per record; the
	 * pump keeps reading until WANT_READ, so nothing waits unseen. */
	SSL_CTX_set_read_ahead(ssl, 1);
	if (SSL_CTX_set_cipher_list(ssl, GW_TLS12_CIPHERS) != 1)
		return tg_err_ossl(err, TG_ERR_INTERNAL, "cannot set the default TLS 1.2 ciphers");
	if (ciphers != NULL) {
		int ok = strncmp(ciphers, "TLS_", 4) == 0 ?
		    SSL_CTX_set_ciphersuites(ssl, ciphers) :
		    SSL_CTX_set_cipher_list(ssl, ciphers);
		if (ok != 1)
			return tg_err_ossl(err, TG_ERR_CONFIG,
			    "--ciphers '%s' selects no cipher: use OpenSSL names, e.g. "
			    "ECDHE+AESGCM:ECDHE+CHACHA20 (TLS 1.2) or TLS_AES_128_GCM_SHA256 (TLS 1.3)",
			    ciphers);
	}
	return 0;
}

static int
setup_defaults(gw_tls_ctx *ctx, const struct gw_tls_opts *o, tg_err *err)
{
	unsigned char sid[SSL_MAX_SID_CTX_LENGTH];
	unsigned int sidlen = 0;

	if (gw_tls_ssl_defaults(ctx->ssl, o->min_tls, o->ciphers, err) != 0)
		return -1;
	SSL_CTX_set_options(ctx->ssl, SSL_OP_CIPHER_SERVER_PREFERENCE);
	/* Sessions stay in the cache, shared by the worker threads, unless
	 * setup_tickets turns on stateless tickets (--ticket-keys, or the
	 * process's keys with --ticket-key-rotate): with SSL_OP_NO_TICKET a
	 * TLS 1.3 ticket is only the 32-byte ID of a cached session, and TLS
	 * 1.2 resumes by session ID. Resuming from the cache costs no ticket
	 * decryption and, in OpenSSL 3.0, above all no second decode of the
	 * client certificate stored in the session (a provider decoder context
	 * for its key, whose locks the threads contend for): about 40% of the
	 * server's CPU per resumed mutual-TLS handshake (docs/PERF.md). The
	 * cache is per context, so a reload (new contexts, a new worker
	 * process) starts empty and no session outlives the CA, CRL and rules
	 * it was judged by. A cached mutual-TLS session holds the decoded
	 * client certificate (drop_handshake_keys clears its key): about 3 KiB,
	 * so the count is bounded (the oldest go first), and sessions live 5
	 * minutes (freed within GW_TLS_EXPIRE_SECS after, by the workers'
	 * tick). */
	SSL_CTX_set_session_cache_mode(ctx->ssl, o->session_cache > 0 ? SSL_SESS_CACHE_SERVER :
	    SSL_SESS_CACHE_OFF);
	SSL_CTX_sess_set_cache_size(ctx->ssl, (long)o->session_cache);
	SSL_CTX_set_timeout(ctx->ssl, GW_TLS_SESSION_SECS);
	SSL_CTX_set_num_tickets(ctx->ssl, o->session_cache > 0 ? 1 : 0);
	if (EVP_Digest(o->listener, strlen(o->listener), sid, &sidlen, EVP_sha256(), NULL) != 1 ||
	    SSL_CTX_set_session_id_context(ctx->ssl, sid, SSL_MAX_SID_CTX_LENGTH) != 1)
		return tg_err_ossl(err, TG_ERR_INTERNAL, "cannot set the session context");
	return 0;
}

gw_tls_ctx *
gw_tls_ctx_new(const struct gw_tls_opts *o, tg_err *err)
{
	gw_tls_ctx *ctx = calloc(1, sizeof(*ctx));

	if (ctx == NULL || (ctx->e = calloc(o->ncerts, sizeof(*ctx->e))) == NULL ||
	    (ctx->info = calloc(o->ncerts, sizeof(*ctx->info))) == NULL) {
		tg_err_set(err, TG_ERR_INTERNAL, "out of memory");
		goto fail;
	}
	ctx->strict_sni = o->strict_sni;
	ctx->defer_verify = o->defer_verify;
	if ((ctx->ssl = SSL_CTX_new(TLS_server_method())) == NULL) {
		tg_err_ossl(err, TG_ERR_TLS, "cannot create a TLS context");
		goto fail;
	}
	if (setup_defaults(ctx, o, err) != 0 || setup_tickets(ctx, o, err) != 0)
		goto fail;
	for (size_t i = 0; i < o->ncerts; i++)
		if (load_entry(ctx, &o->certs[i], o->pass, err) != 0)
			goto fail;
	if (SSL_CTX_use_cert_and_key(ctx->ssl, ctx->e[0].leaf, ctx->e[0].key, ctx->e[0].chain, 1) != 1) {
		tg_err_ossl(err, TG_ERR_CONFIG, "cannot use certificate %s", o->certs[0].cert);
		goto fail;
	}
	if (o->ncerts > 1 || o->strict_sni) {
		SSL_CTX_set_tlsext_servername_callback(ctx->ssl, sni_cb);
		SSL_CTX_set_tlsext_servername_arg(ctx->ssl, ctx);
	}
	if (setup_verify(ctx, o, err) != 0)
		goto fail;
	return ctx;
fail:
	gw_tls_ctx_free(ctx);
	return NULL;
}

void
gw_tls_ctx_free(gw_tls_ctx *ctx)
{
	if (ctx == NULL)
		return;
	for (size_t i = 0; i < ctx->ne; i++) {
		X509_free(ctx->e[i].leaf);
		EVP_PKEY_free(ctx->e[i].key);
		sk_X509_pop_free(ctx->e[i].chain, X509_free);
		for (size_t j = 0; j < ctx->e[i].nnames; j++)
			free(ctx->e[i].names[j]);
		free(ctx->e[i].names);
	}
	free(ctx->e);
	free(ctx->info);
	SSL_CTX_free(ctx->ssl);
	if (ctx->tickets != NULL)
		OPENSSL_cleanse(ctx->tickets, sizeof(*ctx->tickets));
	free(ctx->tickets);
	free(ctx);
}

void
gw_tls_ctx_expire_sessions(gw_tls_ctx *ctx, time_t now)
{
	time_t last = atomic_load(&ctx->expired_at);

	if (now - last < GW_TLS_EXPIRE_SECS ||
	    !atomic_compare_exchange_strong(&ctx->expired_at, &last, now))
		return;
	SSL_CTX_flush_sessions(ctx->ssl, (long)now);
}

const struct gw_tls_certinfo *
gw_tls_ctx_certs(const gw_tls_ctx *ctx, size_t *n)
{
	*n = ctx->ne;
	return ctx->info;
}

/* --- Connections --- */

/* Watches the socket reads OpenSSL makes, to tell when the socket is empty
 * (see gw_tls_drained). */
static long
socket_read_seen(BIO *b, int oper, const char *argp, size_t len, int argi, long argl, int ret,
    size_t *processed)
{
	gw_tls *t = (gw_tls *)BIO_get_callback_arg(b);

	(void)argp;
	(void)argi;
	(void)argl;
	if (oper == (BIO_CB_READ | BIO_CB_RETURN))
		t->short_read = ret <= 0 || processed == NULL || *processed < len;
	return ret;
}

/* A TLS record header: content type 22 (handshake), version 3.x, length.
 * A ClientHello is at most one plaintext record of 2^14 bytes in practice;
 * anything larger or stranger goes to OpenSSL at once, to be refused. */
#define TLS_REC_HDR 5
#define TLS_REC_MAX (16384 + 2048)

long
gw_tls_first_record(int fd)
{
	unsigned char h[TLS_REC_HDR];
	ssize_t n = recv(fd, h, sizeof(h), MSG_PEEK | MSG_DONTWAIT);
	size_t len;

	if (n == 0)
		return -1;
	if (n < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? TLS_REC_HDR : -1;
	if (h[0] != 22 || (n >= 2 && h[1] != 3))
		return 0;
	if (n < TLS_REC_HDR)
		return TLS_REC_HDR;
	len = ((size_t)h[3] << 8 | h[4]) + TLS_REC_HDR;
	if (len > TLS_REC_MAX)
		return 0;
	{
		int avail = 0;
		if (ioctl(fd, FIONREAD, &avail) != 0 || avail < 0 || (size_t)avail >= len)
			return 0;
	}
	return (long)len;
}

gw_tls *
gw_tls_wrap(SSL *ssl, int fd, const char *expect)
{
	gw_tls *t = ssl != NULL ? calloc(1, sizeof(*t)) : NULL;

	if (t == NULL) {
		SSL_free(ssl);
		ERR_clear_error();
		return NULL;
	}
	t->ssl = ssl;
	t->expect = expect;
	if (SSL_set_fd(t->ssl, fd) != 1) {
		ERR_clear_error();
		gw_tls_free(t);
		return NULL;
	}
	BIO_set_callback_ex(SSL_get_rbio(t->ssl), socket_read_seen);
	BIO_set_callback_arg(SSL_get_rbio(t->ssl), (char *)t);
	SSL_set_app_data(t->ssl, t); /* for verify_app_cb */
	return t;
}

gw_tls *
gw_tls_new(gw_tls_ctx *ctx, int fd)
{
	gw_tls *t = gw_tls_wrap(SSL_new(ctx->ssl), fd, NULL);

	if (t != NULL)
		SSL_set_accept_state(t->ssl);
	return t;
}

void
gw_tls_free(gw_tls *t)
{
	if (t == NULL)
		return;
	/* SSL_free drops the session from the cache unless a shutdown was
	 * recorded, so a client that just closes its socket (most do), or an
	 * idle timeout, would lose its resumption. Like nginx, record a quiet
	 * one: nothing is sent. A fatal TLS error has dropped the session
	 * already. */
	if (SSL_is_init_finished(t->ssl)) {
		SSL_set_quiet_shutdown(t->ssl, 1);
		(void)SSL_shutdown(t->ssl);
		ERR_clear_error();
	}
	SSL_free(t->ssl);
	free(t->err);
	free(t);
}

/* A server certificate with no DNS or IP subjectAltName: its name is only
 * in the CN, which the client side never checks (tls_client.c). */
static int
server_names_only_cn(SSL *ssl)
{
	STACK_OF(X509) *chain = SSL_get_peer_cert_chain(ssl);
	GENERAL_NAMES *sans;
	int found = 0;

	if (chain == NULL || sk_X509_num(chain) == 0)
		return 0;
	sans = X509_get_ext_d2i(sk_X509_value(chain, 0), NID_subject_alt_name, NULL, NULL);
	for (int i = 0; i < sk_GENERAL_NAME_num(sans); i++) {
		int type = sk_GENERAL_NAME_value(sans, i)->type;
		found |= type == GEN_DNS || type == GEN_IPADD;
	}
	GENERAL_NAMES_free(sans);
	ERR_clear_error();
	return !found;
}

static void
record_error(gw_tls *t)
{
	long vr = SSL_get_verify_result(t->ssl);
	unsigned long code = 0, last;

	while ((last = ERR_get_error()) != 0)
		code = last;
	if (t->err == NULL && (t->err = malloc(GW_TLS_ERR_MAX)) == NULL)
		return; /* gw_tls_error says "-" */
	if (t->expect != NULL && vr == X509_V_ERR_HOSTNAME_MISMATCH &&
	    server_names_only_cn(t->ssl))
		snprintf(t->err, GW_TLS_ERR_MAX, "server certificate: hostname mismatch (expected name "
		    "%s): it has no DNS or IP subjectAltName, and a name only in the subject CN is not "
		    "accepted; re-issue it with subjectAltName DNS:%s", t->expect, t->expect);
	else if (t->expect != NULL && vr != X509_V_OK)
		snprintf(t->err, GW_TLS_ERR_MAX, "server certificate: %s (expected name %s)",
		    X509_verify_cert_error_string(vr), t->expect);
	else if (t->expect != NULL && ERR_GET_REASON(code) == SSL_R_UNEXPECTED_EOF_WHILE_READING)
		snprintf(t->err, GW_TLS_ERR_MAX, "%s", t->done ?
		    "the server closed TCP without a TLS close_notify: what came may be cut short" :
		    "the server closed the connection");
	else if (vr == X509_V_ERR_APPLICATION_VERIFICATION)
		snprintf(t->err, GW_TLS_ERR_MAX, "client certificate not on the allow list");
	else if (vr == X509_V_ERR_UNSUPPORTED_NAME_SYNTAX && t->flaw != NULL)
		snprintf(t->err, GW_TLS_ERR_MAX, "client certificate: %s", t->flaw);
	else if (vr != X509_V_OK)
		snprintf(t->err, GW_TLS_ERR_MAX, "client certificate: %s",
		    X509_verify_cert_error_string(vr));
	else if (ERR_GET_REASON(code) == SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE)
		snprintf(t->err, GW_TLS_ERR_MAX, "no client certificate sent");
	else if (code != 0)
		ERR_error_string_n(code, t->err, GW_TLS_ERR_MAX);
	else
		snprintf(t->err, GW_TLS_ERR_MAX, "connection reset");
}

static enum gw_io
map(gw_tls *t, int ret)
{
	switch (SSL_get_error(t->ssl, ret)) {
	case SSL_ERROR_WANT_READ:
		return GW_IO_WANT_READ;
	case SSL_ERROR_WANT_WRITE:
		return GW_IO_WANT_WRITE;
	case SSL_ERROR_ZERO_RETURN:
		return GW_IO_EOF;
	default:
		record_error(t);
		return GW_IO_ERROR;
	}
}

/* Public keys that nothing reads once the handshake is done, yet that stay
 * with the connection until SSL_free; with P-256 each holds its own copy of
 * the curve (about 1.5-2 KB), so together they were a third of an idle
 * connection:
 * - TLS 1.3 keeps both ECDHE key shares, ours and the client's (TLS 1.2
 *   frees them itself after the key exchange). Clearing ours also erases
 *   the ephemeral secret as soon as it has served, which forward secrecy
 *   asks for anyway.
 * - The client certificate keeps its decoded public key, used only to check
 *   the CertificateVerify signature of a full handshake. The certificate
 *   itself stays whole: its DER (fingerprint, PEM, the session) is kept
 *   apart from the decoded key, and its names are what gw_tls_peer reads;
 *   renegotiation is off and post-handshake authentication is never asked
 *   for, so the key is not needed again. Only a full handshake clears it,
 *   on the certificate it has just decoded: a resumed connection shares its
 *   certificate through the session cache with other threads, and the full
 *   handshake that stored the session has cleared it already (which also
 *   makes the cached sessions smaller).
 * Clearing a key leaves an empty one that libssl frees with the connection
 * and that any later use would refuse (EVP_PKEY_NONE has no methods: hence
 * the 0 and the error that is dropped). Only the leaf is touched: the CA
 * certificates of the verified chain are the store's, shared by every
 * connection. */
static void
clear_key(EVP_PKEY *key)
{
	if (key != NULL)
		(void)EVP_PKEY_set_type(key, EVP_PKEY_NONE);
}

static void
drop_handshake_keys(SSL *ssl)
{
	EVP_PKEY *ours = NULL, *theirs = NULL;
	X509 *cert = SSL_get0_peer_certificate(ssl);

	if (SSL_get_tmp_key(ssl, &ours) == 1)
		clear_key(ours);
	if (SSL_get_peer_tmp_key(ssl, &theirs) == 1)
		clear_key(theirs);
	if (cert != NULL && !SSL_session_reused(ssl))
		clear_key(X509_get0_pubkey(cert));
	EVP_PKEY_free(ours);
	EVP_PKEY_free(theirs);
	ERR_clear_error();
}

enum gw_io
gw_tls_handshake(gw_tls *t)
{
	int r;

	ERR_clear_error();
	r = SSL_do_handshake(t->ssl);
	if (r != 1)
		return map(t, r);
	drop_handshake_keys(t->ssl);
	t->done = 1;
	return GW_IO_OK;
}

enum gw_io
gw_tls_read(gw_tls *t, void *buf, size_t len, size_t *n)
{
	int r;

	ERR_clear_error();
	r = SSL_read_ex(t->ssl, buf, len, n);
	return r == 1 ? GW_IO_OK : map(t, r);
}

enum gw_io
gw_tls_write(gw_tls *t, const void *buf, size_t len, size_t *n)
{
	int r;

	ERR_clear_error();
	r = SSL_write_ex(t->ssl, buf, len, n);
	return r == 1 ? GW_IO_OK : map(t, r);
}

enum gw_io
gw_tls_shutdown(gw_tls *t)
{
	int r;

	ERR_clear_error();
	r = SSL_shutdown(t->ssl);
	if (r >= 0)
		return GW_IO_OK; /* 0: our close_notify is out; we keep reading */
	return map(t, r);
}

int
gw_tls_pending(gw_tls *t)
{
	return SSL_pending(t->ssl) > 0;
}

int
gw_tls_drained(gw_tls *t)
{
	return t->short_read && !SSL_has_pending(t->ssl);
}

const char *
gw_tls_error(const gw_tls *t)
{
	return t->err != NULL ? t->err : "-";
}

int
gw_tls_started(gw_tls *t)
{
	return BIO_number_read(SSL_get_rbio(t->ssl)) > 0;
}

const char *
gw_tls_version(gw_tls *t)
{
	return SSL_get_version(t->ssl);
}

const char *
gw_tls_cipher(gw_tls *t)
{
	return SSL_get_cipher_name(t->ssl);
}

const char *
gw_tls_sni(gw_tls *t)
{
	return SSL_get_servername(t->ssl, TLSEXT_NAMETYPE_host_name);
}

int
gw_tls_resumed(gw_tls *t)
{
	return SSL_session_reused(t->ssl);
}

/* --- Identity --- */

static char *
bio_string(BIO *b)
{
	char *data, *s;
	long n = BIO_get_mem_data(b, &data);

	if (n < 0 || (s = malloc((size_t)n + 1)) == NULL)
		return NULL;
	memcpy(s, data, (size_t)n);
	s[n] = '\0';
	return s;
}

static char *
name_rfc2253(const X509_NAME *name)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *s = NULL;

	if (b != NULL && X509_NAME_print_ex(b, name, 0, XN_FLAG_RFC2253) >= 0)
		s = bio_string(b);
	BIO_free(b);
	return s;
}

static int
push_str(char ***v, size_t *n, const char *prefix, const char *s, size_t len)
{
	size_t plen = strlen(prefix);
	char **nv, *str;

	if (*n >= 64)
		return 0; /* enough to decide; bounded work on hostile certs */
	if ((nv = realloc(*v, (*n + 1) * sizeof(*nv))) == NULL)
		return -1;
	*v = nv;
	if ((str = malloc(plen + len + 1)) == NULL)
		return -1;
	memcpy(str, prefix, plen);
	memcpy(str + plen, s, len);
	str[plen + len] = '\0';
	nv[(*n)++] = str;
	return 0;
}

/* A name that is not text (a NUL, a control character) would say another
 * name than the certificate does ("alice\0.evil" reads as "alice"): such a
 * certificate is refused, whatever the rules. */
static int
flawed(struct gw_peer *p, const pki_name *n)
{
	p->verified = 0;
	p->verify_error = n->bad;
	return 1;
}

static int
take_san(const pki_name *n, void *arg)
{
	struct gw_peer *p = arg;

	if (n->bad != NULL)
		return flawed(p, n);
	return push_str(&p->sans, &p->nsans, n->prefix, n->value, n->len);
}

static int
take_ou(const pki_name *n, void *arg)
{
	struct gw_peer *p = arg;

	if (n->bad != NULL)
		return flawed(p, n);
	return push_str(&p->ous, &p->nous, "", n->value, n->len);
}

/* The first CN is the identity; every CN must be text. */
static int
take_cn(const pki_name *n, void *arg)
{
	struct gw_peer *p = arg;
	static const pki_name too_long = { "", "", 0, "the CN is longer than 255 bytes" };

	if (n->bad != NULL)
		return flawed(p, n);
	if (n->len >= sizeof(p->cn))
		return flawed(p, &too_long); /* cut, it could match a shorter rule */
	if (p->cn[0] == '\0') {
		memcpy(p->cn, n->value, n->len);
		p->cn[n->len] = '\0';
	}
	return 0;
}

static int
collect_full(X509 *cert, struct gw_peer *p, int with_pem)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL);
	char *hex = bn ? BN_bn2hex(bn) : NULL;
	BIO *b = BIO_new(BIO_s_mem());

	p->subject = name_rfc2253(X509_get_subject_name(cert));
	p->issuer = name_rfc2253(X509_get_issuer_name(cert));
	p->serial = hex ? strdup(hex) : NULL;
	if (X509_digest(cert, EVP_sha256(), md, &mdlen) == 1 && (p->fingerprint = malloc(2 * mdlen + 1)))
		util_hex(p->fingerprint, md, mdlen, 0);
	if (with_pem && b != NULL && PEM_write_bio_X509(b, cert) == 1)
		p->pem = bio_string(b);
	BIO_free(b);
	OPENSSL_free(hex);
	BN_free(bn);
	ERR_clear_error();
	return p->subject && p->issuer && p->serial && p->fingerprint &&
	    (p->pem || !with_pem) ? 0 : -1;
}

/* 0, -1 when out of memory, 1 when a name is not text (p->verify_error
 * says which). The fields full asks for are filled in either case: a
 * caller that gets 0 from gw_tls_peer builds headers from them (after a
 * flawed name they were left NULL, and strlen met them). */
static int
peer_from_x509(X509 *cert, struct gw_peer *p, int full)
{
	int rc;

	p->present = 1;
	if ((rc = pki_cert_subject_each(cert, NID_commonName, take_cn, p)) == 0 &&
	    (rc = pki_cert_subject_each(cert, NID_organizationalUnitName, take_ou, p)) == 0)
		rc = pki_cert_san_each(cert, take_san, p);
	if (rc < 0)
		return rc;
	return full && collect_full(cert, p, full & GW_PEER_PEM) != 0 ? -1 : rc;
}

int
gw_peer_from_cert(X509 *cert, struct gw_peer *p, int full)
{
	memset(p, 0, sizeof(*p));
	if (cert == NULL)
		return 0;
	return peer_from_x509(cert, p, full) < 0 ? -1 : 0;
}

int
gw_tls_peer_fingerprint(gw_tls *t, unsigned char fp[GW_FP_LEN])
{
	X509 *cert = SSL_get0_peer_certificate(t->ssl);
	unsigned int len = 0;

	if (cert == NULL || X509_digest(cert, EVP_sha256(), fp, &len) != 1 || len != GW_FP_LEN) {
		ERR_clear_error();
		return -1;
	}
	return 0;
}

int
gw_tls_peer(gw_tls *t, struct gw_peer *p, int full)
{
	X509 *cert = SSL_get0_peer_certificate(t->ssl);
	long vr;

	memset(p, 0, sizeof(*p));
	if (cert == NULL)
		return 0;
	vr = SSL_get_verify_result(t->ssl);
	p->verified = vr == X509_V_OK;
	if (!p->verified)
		p->verify_error = X509_verify_cert_error_string(vr);
	/* A resumed session or a deferred verdict: the names are judged here
	 * again, so a flawed one is refused whatever the verify result says. */
	return peer_from_x509(cert, p, full) < 0 ? -1 : 0;
}

/* The verdict v gives a client certificate (leaf with the chain the client
 * sent; a leaf from a ticket has none) as a handshake would: chain to v's
 * CA, time, v's CRL, names, then acl (NULL: not judged here). */
static enum gw_verdict
cert_verdict(const gw_tls_verifier *v, X509 *leaf, STACK_OF(X509) *chain, const gw_acl *acl,
    const char **why)
{
	X509_STORE_CTX *x = NULL;
	enum gw_verdict vd = GW_VERDICT_BAD_CERT;

	*why = NULL;
	if (v == NULL || v->verify == GW_VERIFY_NONE)
		return GW_VERDICT_OK;
	if (leaf == NULL) {
		if (v->verify < GW_VERIFY_REQUIRE)
			return GW_VERDICT_OK;
		*why = "no client certificate sent";
		return GW_VERDICT_NO_CERT;
	}
	/* The store context a handshake would make: purpose TLS client, the
	 * same depth. */
	if ((x = X509_STORE_CTX_new()) == NULL ||
	    X509_STORE_CTX_init(x, v->store, leaf, chain) != 1 ||
	    X509_STORE_CTX_set_default(x, "ssl_client") != 1) {
		*why = "out of memory re-checking the client certificate";
		goto out;
	}
	X509_STORE_CTX_set_depth(x, GW_TLS_VERIFY_DEPTH);
	if (X509_verify_cert(x) < 0 && X509_STORE_CTX_get_error(x) == X509_V_OK) {
		*why = "the certificate could not be checked";
		goto out;
	}
	vd = judge(x, acl, why);
out:
	X509_STORE_CTX_free(x);
	ERR_clear_error();
	return vd;
}

enum gw_verdict
gw_tls_recheck(gw_tls *t, const gw_tls_verifier *v, const char **why)
{
	return cert_verdict(v, SSL_get0_peer_certificate(t->ssl), SSL_get_peer_cert_chain(t->ssl),
	    v->acl, why);
}
