/* What the status endpoint says: /healthz as JSON, /metrics in Prometheus'
 * text format, both computed from the workers' shared counters and the
 * master's current runtime. */
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gateway/status.h"
#include "gateway/tls_client.h"
#include "gateway/tls_engine.h"
#include "tlsgate/pki.h"

struct sbuf {
	char *p;
	size_t len, cap;
	int oom;
};

static void
sb_printf(struct sbuf *b, const char *fmt, ...) TG_PRINTF(2, 3);

static void
sb_printf(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		if (b->oom)
			return;
		va_start(ap, fmt);
		n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? b->cap - b->len : 0, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->oom = 1;
			return;
		}
		if (b->p != NULL && (size_t)n < b->cap - b->len) {
			b->len += (size_t)n;
			return;
		}
		{
			size_t ncap = (b->cap ? b->cap * 2 : 4096) + (size_t)n;
			char *np = realloc(b->p, ncap);
			if (np == NULL) {
				b->oom = 1;
				return;
			}
			b->p = np;
			b->cap = ncap;
		}
	}
}

/* Prometheus label values escape backslash, quote and newline. */
static void
label(char *out, size_t cap, const char *s)
{
	size_t n = 0;

	for (; *s && n + 3 < cap; s++) {
		if (*s == '\\' || *s == '"') {
			out[n++] = '\\';
			out[n++] = *s;
		} else if (*s == '\n') {
			out[n++] = '\\';
			out[n++] = 'n';
		} else {
			out[n++] = *s;
		}
	}
	out[n] = '\0';
}

static uint64_t
sum(const struct gw_metrics *m, size_t off)
{
	uint64_t total = 0;

	for (size_t i = 0; i < GW_MSLOTS; i++)
		total += atomic_load_explicit((const _Atomic uint64_t *)((const char *)&m->slot[i] + off),
		    memory_order_relaxed);
	return total;
}

#define SUM(m, field) sum((m), offsetof(struct gw_mslot, field))

static void
counter(struct sbuf *b, const char *name, const char *help, const char *type, uint64_t v)
{
	sb_printf(b, "# HELP %s %s\n# TYPE %s %s\n%s %llu\n", name, help, name, type, name,
	    (unsigned long long)v);
}

/* Thread j of every generation: how the threads share the listening
 * sockets' connections. */
static void
worker_conns(struct sbuf *b, const struct gw_metrics *m, unsigned long workers)
{
	sb_printf(b, "# HELP tlsgate_worker_connections_total Client connections accepted, "
	    "by worker thread.\n# TYPE tlsgate_worker_connections_total counter\n");
	for (unsigned long j = 0; j < workers && j < GW_MAX_WORKERS; j++) {
		uint64_t n = 0;
		for (size_t g = 0; g < GW_GENERATIONS; g++)
			n += atomic_load_explicit(&m->slot[g * GW_MAX_WORKERS + j].conns_total,
			    memory_order_relaxed);
		sb_printf(b, "tlsgate_worker_connections_total{thread=\"%lu\"} %llu\n", j,
		    (unsigned long long)n);
	}
}

static void
cert_expiry(struct sbuf *b, const struct gw_runtime *rt)
{
	time_t now = time(NULL);

	sb_printf(b, "# HELP tlsgate_cert_expiry_seconds Seconds until each loaded certificate expires.\n"
	    "# TYPE tlsgate_cert_expiry_seconds gauge\n");
	for (size_t i = 0; rt != NULL && i < rt->nl; i++) {
		size_t n;
		const struct gw_tls_certinfo *ci = gw_listener_certs(&rt->l[i], &n);
		for (size_t j = 0; j < n; j++) {
			char path[1100], subj[600], lname[300];
			label(lname, sizeof(lname), rt->l[i].name);
			label(path, sizeof(path), ci[j].path);
			label(subj, sizeof(subj), ci[j].subject);
			sb_printf(b, "tlsgate_cert_expiry_seconds{listener=\"%s\",cert=\"%s\",subject=\"%s\"} %lld\n",
			    lname, path, subj, (long long)(ci[j].not_after - now));
		}
	}
}

/* Every loaded CRL: seconds to its nextUpdate (negative once past) and
 * whether it is past, so an alert can fire before clients are refused
 * (--crl-strict) or keep being checked against an old list. */
static void
crl_next_update(struct sbuf *b, const struct gw_runtime *rt)
{
	time_t now = time(NULL);
	static const char *const help[] = {
		"# HELP tlsgate_crl_next_update_seconds Seconds until each loaded CRL's nextUpdate "
		"(negative: past it).\n# TYPE tlsgate_crl_next_update_seconds gauge\n",
		"# HELP tlsgate_crl_expired 1 if a loaded CRL is past its nextUpdate.\n"
		"# TYPE tlsgate_crl_expired gauge\n",
	};

	for (int kind = 0; kind < 2; kind++) {
		sb_printf(b, "%s", help[kind]);
		for (size_t i = 0; rt != NULL && i < rt->nl; i++) {
			size_t n;
			const struct gw_tls_crlinfo *ci = gw_tls_verifier_crls(rt->l[i].verifier, &n);
			for (size_t j = 0; j < n; j++) {
				char lname[300], path[1100], issuer[600];
				if (ci[j].next_update == 0)
					continue;
				label(lname, sizeof(lname), rt->l[i].name);
				label(path, sizeof(path), ci[j].path);
				label(issuer, sizeof(issuer), ci[j].issuer);
				sb_printf(b, "%s{listener=\"%s\",crl=\"%s\",issuer=\"%s\"} %lld\n",
				    kind == 0 ? "tlsgate_crl_next_update_seconds" : "tlsgate_crl_expired",
				    lname, path, issuer, kind == 0 ? (long long)(ci[j].next_update - now) :
				    (long long)(ci[j].next_update <= now));
			}
		}
	}
}

char *
gw_status_metrics(const struct gw_status_view *v)
{
	const struct gw_metrics *m = v->metrics;
	struct sbuf b = { NULL, 0, 0, 0 };

	counter(&b, "tlsgate_connections_total", "Client connections accepted.", "counter",
	    SUM(m, conns_total));
	counter(&b, "tlsgate_connections_active", "Client connections open now.", "gauge",
	    SUM(m, conns_active));
	sb_printf(&b, "# HELP tlsgate_handshakes_total TLS handshakes by outcome.\n"
	    "# TYPE tlsgate_handshakes_total counter\n");
	for (int i = 0; i < GW_HS_N; i++)
		sb_printf(&b, "tlsgate_handshakes_total{outcome=\"%s\"} %llu\n", gw_hs_names[i],
		    (unsigned long long)sum(m, offsetof(struct gw_mslot, hs) + (size_t)i * sizeof(uint64_t)));
	counter(&b, "tlsgate_handshakes_resumed_total", "Handshakes that resumed a session.",
	    "counter", SUM(m, resumed));
	sb_printf(&b, "# HELP tlsgate_bytes_total Application bytes passed, by direction.\n"
	    "# TYPE tlsgate_bytes_total counter\n"
	    "tlsgate_bytes_total{direction=\"client_to_backend\"} %llu\n"
	    "tlsgate_bytes_total{direction=\"backend_to_client\"} %llu\n",
	    (unsigned long long)SUM(m, bytes_in), (unsigned long long)SUM(m, bytes_out));
	counter(&b, "tlsgate_connections_refused_unauth_total",
	    "Connections refused for max-unauth-conns or max-unauth-per-addr.", "counter",
	    SUM(m, refused_unauth));
	counter(&b, "tlsgate_backend_errors_total", "Backend connects that failed or timed out.",
	    "counter", SUM(m, backend_errors));
	sb_printf(&b, "# HELP tlsgate_reloads_total Reloads (SIGHUP) by result.\n"
	    "# TYPE tlsgate_reloads_total counter\n"
	    "tlsgate_reloads_total{result=\"ok\"} %lu\ntlsgate_reloads_total{result=\"failed\"} %lu\n",
	    v->reloads_ok, v->reloads_failed);
	counter(&b, "tlsgate_last_reload_success", "1 unless the last reload failed.", "gauge",
	    v->last_error[0] == '\0');
	counter(&b, "tlsgate_workers", "Worker threads serving the current configuration.",
	    "gauge", v->workers);
	worker_conns(&b, m, v->workers);
	cert_expiry(&b, v->rt);
	crl_next_update(&b, v->rt);
	if (b.oom) {
		free(b.p);
		return NULL;
	}
	return b.p;
}

static json_t *
time_json(int64_t t)
{
	char buf[32];

	if (t == 0)
		return json_null();
	pki_time_format(t, buf, sizeof(buf));
	return json_string(buf);
}

/* Per listener, the CRLs it checks clients against: issuer, crlNumber,
 * thisUpdate and nextUpdate, and whether it is past nextUpdate. */
static json_t *
listeners_json(const struct gw_runtime *rt)
{
	json_t *arr = json_array();
	time_t now = time(NULL);

	for (size_t i = 0; arr != NULL && rt != NULL && i < rt->nl; i++) {
		size_t n;
		const struct gw_tls_crlinfo *ci = gw_tls_verifier_crls(rt->l[i].verifier, &n);
		json_t *crls = json_array();
		for (size_t j = 0; crls != NULL && j < n; j++)
			json_array_append_new(crls, json_pack("{s:s, s:s, s:o, s:o, s:o, s:b, s:b}",
			    "file", ci[j].path, "issuer", ci[j].issuer,
			    "number", ci[j].number >= 0 ? json_integer(ci[j].number) : json_null(),
			    "last_update", time_json(ci[j].last_update),
			    "next_update", time_json(ci[j].next_update),
			    "expired", ci[j].next_update != 0 && ci[j].next_update <= now,
			    "strict", ci[j].strict));
		json_array_append_new(arr, json_pack("{s:s, s:s, s:o}", "name", rt->l[i].name,
		    "listen", rt->l[i].listen_str, "crls", crls ? crls : json_array()));
	}
	return arr;
}

char *
gw_status_health(const struct gw_status_view *v)
{
	json_t *o = json_pack("{s:s, s:I, s:I, s:I, s:I, s:s}",
	    "status", "ok",
	    "workers", (json_int_t)v->workers,
	    "generation", (json_int_t)v->generation,
	    "reloads_ok", (json_int_t)v->reloads_ok,
	    "reloads_failed", (json_int_t)v->reloads_failed,
	    "last_reload", v->reloads_ok + v->reloads_failed == 0 ? "none" :
	    v->last_error[0] ? "failed" : "ok");
	char *s;

	if (o == NULL)
		return NULL;
	if (v->last_error[0] != '\0')
		json_object_set_new(o, "last_reload_error", json_string(v->last_error));
	json_object_set_new(o, "listeners", listeners_json(v->rt));
	s = json_dumps(o, JSON_INDENT(2));
	json_decref(o);
	return s;
}

/* Finds the empty line that ends a head: CRLF CRLF, or bare LF LF. */
static int
head_complete(const char *p, size_t len)
{
	for (size_t i = 0; i + 1 < len; i++) {
		if (p[i] != '\n')
			continue;
		if (p[i + 1] == '\n' || (i + 2 < len && p[i + 1] == '\r' && p[i + 2] == '\n'))
			return 1;
	}
	return 0;
}

/* 1 if the request line's target, starting at p, is exactly path (a query
 * string is allowed) followed by a space. */
static int
target_is(const char *p, size_t len, const char *path)
{
	size_t n = strlen(path);

	if (len < n + 1 || memcmp(p, path, n) != 0)
		return 0;
	if (p[n] == ' ')
		return 1;
	if (p[n] != '?')
		return 0;
	return memchr(p + n, ' ', len - n) != NULL;
}

enum gw_status_route
gw_status_route(const char *req, size_t len)
{
	static const struct {
		const char *path;
		enum gw_status_route route;
	} routes[] = {
		{ "/metrics", GW_STATUS_METRICS },
		{ "/healthz", GW_STATUS_HEALTH },
	};
	const char *eol;
	size_t line;

	if (!head_complete(req, len))
		return len >= GW_STATUS_REQ_MAX ? GW_STATUS_BAD : GW_STATUS_MORE;
	if (len > GW_STATUS_REQ_MAX)
		return GW_STATUS_BAD;
	eol = memchr(req, '\n', len);
	line = (size_t)(eol - req);
	if (line < 4 || memcmp(req, "GET ", 4) != 0 || memchr(req, '\0', line) != NULL)
		return GW_STATUS_BAD;
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
		if (target_is(req + 4, line - 4, routes[i].path))
			return routes[i].route;
	return GW_STATUS_NOT_FOUND;
}

int
gw_status_response(const struct gw_status_view *v, enum gw_status_route r, char **out,
    size_t *len)
{
	static const struct {
		const char *code, *type;
	} kinds[GW_STATUS_N] = {
		[GW_STATUS_MORE] = { "400 Bad Request", "text/plain" },
		[GW_STATUS_METRICS] = { "200 OK", "text/plain; version=0.0.4" },
		[GW_STATUS_HEALTH] = { "200 OK", "application/json" },
		[GW_STATUS_NOT_FOUND] = { "404 Not Found", "text/plain" },
		[GW_STATUS_BAD] = { "400 Bad Request", "text/plain" },
	};
	struct sbuf b = { NULL, 0, 0, 0 };
	char *body = NULL;
	const char *code = kinds[r].code;

	if (r == GW_STATUS_METRICS)
		body = gw_status_metrics(v);
	else if (r == GW_STATUS_HEALTH)
		body = gw_status_health(v);
	else if (r == GW_STATUS_NOT_FOUND)
		body = strdup("not found: try /healthz or /metrics\n");
	else
		body = strdup("bad request: send GET /healthz or GET /metrics\n");
	if (body == NULL)
		code = "500 Internal Server Error";
	sb_printf(&b, "HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
	    "Connection: close\r\n\r\n%s", code, kinds[r].type, body ? strlen(body) : 0,
	    body ? body : "");
	free(body);
	if (b.oom) {
		free(b.p);
		return -1;
	}
	*out = b.p;
	*len = b.len;
	return 0;
}
