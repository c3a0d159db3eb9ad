/* libFuzzer target for the status port's request reader: any bytes, read
 * as the master reads them (growing, cut where the input says), get a
 * route without reading past them, and every route has a response. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/status.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct gw_metrics m;
	struct gw_status_view v = { &m, NULL, 2, 1, 0, 0, "" };
	enum gw_status_route r = GW_STATUS_MORE;
	size_t step, len = 0;
	char *req, *out;

	if (size < 1)
		return 0;
	step = (size_t)data[0] % 64 + 1; /* the first byte picks the read size */
	data++;
	size--;
	if (size > GW_STATUS_REQ_MAX)
		size = GW_STATUS_REQ_MAX; /* the master reads no more */
	while (r == GW_STATUS_MORE && len < size) {
		len = len + step < size ? len + step : size;
		/* A copy of exactly the bytes read so far: ASan sees overreads. */
		req = malloc(len);
		memcpy(req, data, len);
		r = gw_status_route(req, len);
		free(req);
		if (r >= GW_STATUS_N || (r == GW_STATUS_MORE && len >= GW_STATUS_REQ_MAX))
			abort();
	}
	if (r != GW_STATUS_MORE) {
		size_t n;
		if (gw_status_response(&v, r, &out, &n) != 0)
			return 0;
		if (n != strlen(out) || strncmp(out, "HTTP/1.1 ", 9) != 0)
			abort();
		free(out);
	}
	return 0;
}
