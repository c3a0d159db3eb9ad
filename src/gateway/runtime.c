/* Builds the runtime from a validated plain config: addresses resolved,
 * keys checked and loaded, TLS contexts and identity rules built. Either
 * everything is built or nothing is (the caller keeps its old runtime). */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stddef.h>
#include <sys/resource.h>
#include <sys/un.h>
#include <unistd.h>

#include "gateway/gw.h"
#include "gateway/tls_client.h"
#include "gateway/tls_engine.h"
#include "tlsgate/pki.h"
#include "tlsgate/util.h"

/* The status port stays TCP (scrapers and load balancers reach it there);
 * listeners and targets may be unix sockets. */
static int
addr_parse(const char *s, const char *what, util_addr *a, tg_err *err)
{
	unsigned flags = strcmp(what, "listen") == 0 ? UTIL_ADDR_LISTEN : 0;

	if (util_parse_addr(s, what, flags, a, err) != 0)
		return -1;
	if (a->is_unix && strcmp(what, "status") == 0)
		return tg_err_set(err, TG_ERR_USAGE,
		    "status: '%s': the status port is TCP; give HOST:PORT, e.g. 127.0.0.1:9100", s);
	return 0;
}

int
gw_addr_check(const char *s, const char *what, tg_err *err)
{
	util_addr a;

	return addr_parse(s, what, &a, err);
}

int
gw_parse_addr(const char *s, const char *what, struct sockaddr_storage *ss, socklen_t *len,
    tg_err *err)
{
	char port_s[8];
	struct addrinfo hints, *res = NULL;
	util_addr a;
	int rc;

	if (addr_parse(s, what, &a, err) != 0)
		return -1;
	memset(ss, 0, sizeof(*ss));
	if (a.is_unix) {
		struct sockaddr_un *un = (struct sockaddr_un *)ss;
		un->sun_family = AF_UNIX;
		memcpy(un->sun_path, a.path, strlen(a.path) + 1);
		*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(a.path) + 1);
		return 0;
	}
	snprintf(port_s, sizeof(port_s), "%u", a.port);
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	if ((rc = getaddrinfo(a.host, port_s, &hints, &res)) != 0)
		return tg_err_set(err, TG_ERR_CONFIG, "%s: cannot resolve '%s': %s", what, s,
		    gai_strerror(rc));
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

/* A unix listening socket's mode= and owner= (the user must exist now). */
static int
unix_listen_opts(struct gw_listener_rt *rt, const char *listen, tg_err *err)
{
	util_addr a;
	util_owner o;

	rt->unix_mode = -1;
	rt->unix_uid = (uid_t)-1;
	rt->unix_gid = (gid_t)-1;
	if (util_parse_addr(listen, "listen", UTIL_ADDR_LISTEN, &a, err) != 0 || !a.is_unix)
		return a.is_unix ? -1 : 0;
	rt->unix_mode = a.mode;
	if (a.owner[0] == '\0')
		return 0;
	if (util_owner_parse(a.owner, &o, err) != 0)
		return tg_err_prefix(err, "listen: owner= in '%s'", listen);
	rt->unix_uid = o.uid;
	rt->unix_gid = o.gid;
	return 0;
}

/* The key's passphrase source, read (or run) only for an encrypted key,
 * again at every reload: so never standard input, which a daemon no
 * longer has. */
static pki_pass
listener_pass(const struct gw_listener_cfg *l)
{
	pki_pass p = {
		.option = "pass-file", .file = l->pass_file,
		.command_option = "pass-command", .command = l->pass_command, .no_stdin = 1,
	};
	return p;
}

static int
collect_certs(const struct gw_listener_cfg *l, struct gw_cert_spec **specs, size_t *n, tg_err *err)
{
	struct gw_cert_spec *dir = NULL, *all;
	size_t ndir = 0, k = 0;

	*specs = NULL;
	*n = 0;
	if (l->certs_dir != NULL && gw_certdir_scan(l->certs_dir, &dir, &ndir, err) != 0)
		return -1;
	if ((all = calloc(ndir + 1, sizeof(*all))) == NULL) {
		gw_cert_specs_free(dir, ndir);
		return tg_err_set(err, TG_ERR_INTERNAL, "out of memory");
	}
	/* An explicit --cert is the default; else "default.crt" if the dir has
	 * one; else the first host in name order. */
	if (l->cert != NULL) {
		all[k].cert = strdup(l->cert);
		all[k].key = strdup(l->key);
		k++;
	}
	for (size_t i = 0; i < ndir; i++)
		if (k == 0 && strcmp(dir[i].host, "default") == 0)
			all[k++] = dir[i], dir[i].host = dir[i].cert = dir[i].key = NULL;
	for (size_t i = 0; i < ndir; i++)
		if (dir[i].cert != NULL)
			all[k++] = dir[i], dir[i].host = dir[i].cert = dir[i].key = NULL;
	gw_cert_specs_free(dir, ndir);
	*specs = all;
	*n = k;
	for (size_t i = 0; i < k; i++)
		if (all[i].cert == NULL || all[i].key == NULL)
			return tg_err_set(err, TG_ERR_INTERNAL, "out of memory");
	return 0;
}

static int
build_tls(struct gw_listener_rt *rt, const struct gw_listener_cfg *l, tg_err *err)
{
	struct gw_cert_spec *specs = NULL;
	struct gw_tls_opts o;
	struct gw_ticket_keys *tickets = NULL;
	pki_pass pass = listener_pass(l);
	size_t n = 0;
	int rc = -1;

	if (collect_certs(l, &specs, &n, err) != 0)
		goto out;
	/* Judged by content before the key's mode is checked: a certificate
	 * given as the key would otherwise be "chmod 600", then the key as the
	 * certificate "convert DER". */
	for (size_t i = 0; i < n; i++) {
		const int given = specs[i].host == NULL;
		if (pki_pair_kinds_check(specs[i].cert, specs[i].key, given ? "cert" : NULL,
			given ? "key" : NULL, err) != 0 || gw_key_mode_ok(specs[i].key, err) != 0)
			goto out;
	}
	if (l->ticket_keys.n > 0 && gw_ticket_keys_load(&l->ticket_keys, &tickets, err) != 0)
		goto out;
	memset(&o, 0, sizeof(o));
	o.listener = l->name;
	o.certs = specs;
	o.ncerts = n;
	o.strict_sni = l->strict_sni;
	o.verifier = rt->verifier;
	o.defer_verify = l->mode == GW_MODE_HTTP;
	o.pass = &pass;
	o.ciphers = l->ciphers;
	o.min_tls = l->min_tls;
	o.session_cache = l->session_cache;
	o.tickets = tickets;
	o.ring = gw_ticket_ring_get();
	if ((rt->tls = gw_tls_ctx_new(&o, err)) == NULL)
		goto out;
	rc = 0;
out:
	pki_pass_clear(&pass);
	gw_ticket_keys_free(tickets);
	gw_cert_specs_free(specs, n);
	return rc;
}

/* Client mode: the context that connects to the target. The server must
 * hold --verify-name, else the target's host (a name or an IP address);
 * SNI is --sni, else that name unless it is an IP address (RFC 6066 sends
 * no addresses). */
static int
build_client(struct gw_listener_rt *rt, const struct gw_listener_cfg *l, tg_err *err)
{
	struct gw_tls_client_opts o;
	struct in6_addr ip;
	pki_pass pass = listener_pass(l);
	util_addr a;
	int rc = -1;

	memset(&o, 0, sizeof(o));
	if (util_parse_addr(l->target, "target", 0, &a, err) != 0)
		return -1;
	o.verify_name = l->verify_name != NULL ? l->verify_name : a.is_unix ? NULL : a.host;
	o.sni = l->sni;
	if (o.sni == NULL && o.verify_name != NULL && inet_pton(AF_INET, o.verify_name, &ip) != 1 &&
	    inet_pton(AF_INET6, o.verify_name, &ip) != 1)
		o.sni = o.verify_name;
	if (l->cert != NULL && (pki_pair_kinds_check(l->cert, l->key, "cert", "key", err) != 0 ||
	    gw_key_mode_ok(l->key, err) != 0))
		goto out;
	o.listener = l->name;
	o.cert = l->cert;
	o.key = l->key;
	o.pass = &pass;
	o.ca = l->ca;
	o.alpn = l->alpn;
	o.insecure = l->insecure;
	o.ciphers = l->ciphers;
	o.min_tls = l->min_tls;
	o.sessions = l->session_cache;
	if ((rt->upstream = gw_tls_client_new(&o, err)) == NULL)
		goto out;
	snprintf(rt->verify_name, sizeof(rt->verify_name), "%s", o.verify_name ? o.verify_name : "");
	rc = 0;
out:
	pki_pass_clear(&pass);
	return rc;
}

/* A listener's client verification: identity rules, then CA and CRL. The
 * one place both a runtime and an old generation's re-check build it. */
static int
build_verify(const struct gw_listener_cfg *l, gw_acl **acl, gw_tls_verifier **v, tg_err *err)
{
	struct gw_tls_verify_opts o = { l->client_ca, l->crl, l->verify, NULL, l->crl_strict };

	if ((*acl = gw_acl_new(&l->allow_cn, &l->allow_san, &l->allow_ou, err)) == NULL)
		return -1;
	o.acl = *acl;
	return (*v = gw_tls_verifier_new(&o, err)) != NULL ? 0 : -1;
}

static int
build_listener(struct gw_listener_rt *rt, const struct gw_listener_cfg *l, tg_err *err)
{
	if ((rt->name = strdup(l->name)) == NULL)
		return tg_err_set(err, TG_ERR_INTERNAL, "out of memory");
	snprintf(rt->listen_str, sizeof(rt->listen_str), "%s", l->listen);
	snprintf(rt->target_str, sizeof(rt->target_str), "%s", l->target);
	if (gw_parse_addr(l->listen, "listen", &rt->listen_addr, &rt->listen_len, err) != 0 ||
	    unix_listen_opts(rt, l->listen, err) != 0 ||
	    gw_parse_addr(l->target, "target", &rt->target_addr, &rt->target_len, err) != 0)
		return -1;
	rt->mode = l->mode;
	rt->verify = l->verify;
	rt->proxy_v2 = l->proxy_v2;
	rt->cert_header = l->cert_header;
	rt->handshake_timeout = l->handshake_timeout;
	rt->connect_timeout = l->connect_timeout;
	rt->idle_timeout = l->idle_timeout;
	rt->max_conn_lifetime = l->max_conn_lifetime;
	rt->head_timeout = l->head_timeout;
	rt->body_timeout = l->body_timeout;
	rt->allow_connect = l->allow_connect;
	rt->max_conns = l->max_conns ? l->max_conns : gw_default_max_conns();
	rt->max_unauth = l->max_unauth;
	rt->max_unauth_per_addr = l->max_unauth_per_addr;
	if ((rt->unauth_addr = calloc(GW_UNAUTH_SLOTS, sizeof(*rt->unauth_addr))) == NULL)
		return tg_err_set(err, TG_ERR_INTERNAL, "out of memory");
	if (build_verify(l, &rt->acl, &rt->verifier, err) != 0)
		return -1;
	rt->client = l->client;
	rt->starttls = l->starttls;
	rt->insecure = l->insecure;
	return l->client ? build_client(rt, l, err) : build_tls(rt, l, err);
}

const struct gw_tls_certinfo *
gw_listener_certs(const struct gw_listener_rt *l, size_t *n)
{
	return l->client ? gw_tls_client_certs(l->upstream, n) : gw_tls_ctx_certs(l->tls, n);
}

unsigned long
gw_default_max_conns(void)
{
	long pages = sysconf(_SC_PHYS_PAGES), psize = sysconf(_SC_PAGESIZE);
	unsigned long n = 100000;
	struct rlimit rl;

	if (pages > 0 && psize > 0) {
		unsigned long by_mem = (unsigned long)pages / 2 * (unsigned long)psize / (64 * 1024);
		if (by_mem < n)
			n = by_mem;
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    (rl.rlim_cur - 64) / 2 < n)
		n = rl.rlim_cur > 64 + 2 ? (unsigned long)(rl.rlim_cur - 64) / 2 : 1;
	return n > 0 ? n : 1;
}

struct gw_runtime *
gw_runtime_build(const struct gw_config *cfg, tg_err *err)
{
	struct gw_runtime *rt = calloc(1, sizeof(*rt));

	if (rt == NULL || (rt->l = calloc(cfg->nl, sizeof(*rt->l))) == NULL) {
		tg_err_set(err, TG_ERR_INTERNAL, "out of memory");
		goto fail;
	}
	for (size_t i = 0; i < cfg->nl; i++) {
		rt->nl++;
		if (build_listener(&rt->l[i], cfg->l[i], err) != 0) {
			tg_err_prefix(err, "listener %s", cfg->l[i]->name);
			goto fail;
		}
	}
	return rt;
fail:
	gw_runtime_free(rt);
	return NULL;
}

void
gw_runtime_free(struct gw_runtime *rt)
{
	if (rt == NULL)
		return;
	for (size_t i = 0; i < rt->nl; i++) {
		free(rt->l[i].name);
		gw_tls_ctx_free(rt->l[i].tls);
		gw_tls_client_free(rt->l[i].upstream);
		gw_tls_verifier_free(rt->l[i].verifier);
		gw_acl_free(rt->l[i].acl);
		free((void *)rt->l[i].unauth_addr);
	}
	free(rt->l);
	free(rt);
}

/* --- Re-checks after a reload --- */

static const struct gw_listener_cfg *
cfg_listener(const struct gw_config *cfg, const char *name)
{
	for (size_t i = 0; cfg != NULL && i < cfg->nl; i++)
		if (strcmp(cfg->l[i]->name, name) == 0)
			return cfg->l[i];
	return NULL;
}

/* The configuration as the master read it for the reload: the INI file
 * again, or the flags (which a reload does not change). NULL with err. */
static const struct gw_config *
recheck_source(const struct gw_config *src, gw_config **loaded, tg_err *err)
{
	*loaded = NULL;
	if (src->path == NULL)
		return src;
	if ((*loaded = gw_config_new()) == NULL) {
		tg_err_set(err, TG_ERR_INTERNAL, "out of memory");
		return NULL;
	}
	if (gw_config_load(*loaded, src->path, err) != 0 || gw_config_validate(*loaded, err) != 0)
		return NULL;
	return *loaded;
}

struct gw_recheck *
gw_recheck_build(const struct gw_runtime *old, const struct gw_config *src)
{
	struct gw_recheck *r = calloc(1, sizeof(*r) + old->nl * sizeof(r->l[0]));
	gw_config *loaded;
	const struct gw_config *cfg;
	tg_err err;

	if (r == NULL)
		return NULL;
	atomic_init(&r->refs, 1);
	r->nl = old->nl;
	tg_err_clear(&err);
	cfg = recheck_source(src, &loaded, &err);
	for (size_t i = 0; i < old->nl; i++) {
		const struct gw_listener_cfg *l = cfg_listener(cfg, old->l[i].name);
		tg_err lerr;
		char why[TG_ERR_MSG_MAX + 64];

		tg_err_clear(&lerr);
		if (cfg == NULL)
			snprintf(why, sizeof(why), "the new configuration does not load: %s", err.msg);
		else if (l == NULL)
			snprintf(why, sizeof(why), "listener %s is not in the new configuration",
			    old->l[i].name);
		else if (build_verify(l, &r->l[i].acl, &r->l[i].verifier, &lerr) != 0)
			snprintf(why, sizeof(why), "the new rules do not build: %s", lerr.msg);
		else
			continue;
		if ((r->l[i].closed = strdup(why)) == NULL) {
			r->nl = i + 1; /* what was built is freed */
			gw_recheck_put(r);
			r = NULL;
			break;
		}
	}
	gw_config_free(loaded);
	return r;
}

void
gw_recheck_put(struct gw_recheck *r)
{
	if (r == NULL || atomic_fetch_sub(&r->refs, 1) != 1)
		return;
	for (size_t i = 0; i < r->nl; i++) {
		gw_tls_verifier_free(r->l[i].verifier);
		gw_acl_free(r->l[i].acl);
		free(r->l[i].closed);
	}
	free(r);
}
