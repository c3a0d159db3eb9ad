/* libFuzzer target for the http request filter: any bytes, cut at points the
 * input chooses, must never write past the space given, and a rewritten head
 * must fit the size the filter announced. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/gw.h"

#define OUT_CAP (64 * 1024)
#define EXTRA "X-Client-Verify: NONE\r\n"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char out[OUT_CAP];
	gw_http *h;
	size_t off = 1, step;

	if (size < 1)
		return 0;
	step = (size_t)data[0] % 64 + 1; /* the first byte picks the cut size */
	if ((h = gw_http_new()) == NULL)
		return 0;
	while (off < size) {
		size_t end = off + step < size ? off + step : size, used = 0, n = 0;
		size_t space = (size_t)data[off] % 512; /* and the room downstream */
		enum gw_http_ev ev = gw_http_feed(h, (const char *)data + off, end - off, &used,
		    out, space, &n);

		if (n > space || used > end - off)
			abort();
		if (ev == GW_HTTP_HEAD) {
			size_t need = gw_http_head_size(h, strlen(EXTRA));
			if (need > OUT_CAP || gw_http_head_write(h, out, EXTRA, strlen(EXTRA)) > need)
				abort();
		} else if (ev != GW_HTTP_MORE) {
			break;
		}
		off += used ? used : (end - off == 0 ? 1 : 0);
		if (used == 0 && n == 0 && ev == GW_HTTP_MORE)
			off = end; /* stalled on zero room: skip ahead like a drained buffer */
	}
	gw_http_free(h);
	return 0;
}
