/* The status endpoint's content (the master serves it). */
#ifndef TLSGATE_GW_STATUS_H
#define TLSGATE_GW_STATUS_H

#include "gateway/worker.h"

struct gw_status_view {
	const struct gw_metrics *metrics;
	const struct gw_runtime *rt;
	unsigned long workers, generation, reloads_ok, reloads_failed;
	const char *last_error; /* "" when the last reload worked */
};

/* Both return malloc'd text, NULL when out of memory. */
char *gw_status_metrics(const struct gw_status_view *v);
char *gw_status_health(const struct gw_status_view *v);

/* Requests are small: a request head longer than this is refused. */
#define GW_STATUS_REQ_MAX 2048

enum gw_status_route {
	GW_STATUS_MORE,      /* the head is not complete yet */
	GW_STATUS_METRICS,   /* GET /metrics */
	GW_STATUS_HEALTH,    /* GET /healthz */
	GW_STATUS_NOT_FOUND, /* GET of any other path */
	GW_STATUS_BAD,       /* not a GET request line, or a head too long */
	GW_STATUS_N
};

/* What the request whose first len bytes are req asks for. Wire data: req
 * need not be NUL-terminated and may hold any bytes. */
enum gw_status_route gw_status_route(const char *req, size_t len);

/* The complete HTTP response for a route, malloc'd into *out (its length
 * in *len); -1 when out of memory. */
int gw_status_response(const struct gw_status_view *v, enum gw_status_route r, char **out,
    size_t *len);

#endif
