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

#endif
