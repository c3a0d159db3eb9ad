/* Latency histogram: exact to the microsecond below 100 ms, to the
 * millisecond below 10 s. */
#include "lg.h"

void lg_hist_add(struct lg_hist *h, uint64_t ns)
{
	uint64_t us = ns / 1000u;
	h->n++;
	if (us < LG_HIST_FINE)
		h->fine[us]++;
	else if (us / 1000u < LG_HIST_COARSE)
		h->coarse[us / 1000u]++;
	else
		h->over++;
}

void lg_hist_merge(struct lg_hist *into, const struct lg_hist *from)
{
	for (int i = 0; i < LG_HIST_FINE; i++)
		into->fine[i] += from->fine[i];
	for (int i = 0; i < LG_HIST_COARSE; i++)
		into->coarse[i] += from->coarse[i];
	into->over += from->over;
	into->n += from->n;
}

double lg_hist_pct(const struct lg_hist *h, double q)
{
	uint64_t want, seen = 0;
	if (h->n == 0)
		return 0;
	want = (uint64_t)(q * (double)h->n);
	if (want >= h->n)
		want = h->n - 1;
	for (int i = 0; i < LG_HIST_FINE; i++) {
		seen += h->fine[i];
		if (seen > want)
			return i;
	}
	for (int i = 0; i < LG_HIST_COARSE; i++) {
		seen += h->coarse[i];
		if (seen > want)
			return (double)i * 1000.0;
	}
	return (double)LG_HIST_COARSE * 1000.0;
}
