#include "tlsgate/util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int
util_parse_uint(const char *s, const char *what, unsigned long max,
    unsigned long *out, tg_err *err)
{
	char *end;
	unsigned long v;

	if (s == NULL || *s == '\0' || *s == '-' || *s == '+')
		return tg_err_set(err, TG_ERR_USAGE, "%s: '%s' is not a positive number",
		    what, s ? s : "");
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || v == 0 || v > max)
		return tg_err_set(err, TG_ERR_USAGE,
		    "%s: '%s' is not a number between 1 and %lu", what, s, max);
	*out = v;
	return 0;
}

int
util_parse_duration(const char *s, int64_t *seconds, tg_err *err)
{
	static const struct {
		char unit;
		int64_t secs;
	} units[] = {
		{ 's', 1 }, { 'm', 60 }, { 'h', 3600 }, { 'd', 86400 },
		{ 'w', 7 * 86400 }, { 'y', 365 * 86400 },
	};
	char *end;
	long long v;

	if (s == NULL || *s == '\0' || *s == '-' || *s == '+')
		goto bad;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || end == s || v < 0 || v > 1000000000LL)
		goto bad;
	if (*end == '\0') {
		*seconds = v * 86400; /* bare number: days, like openssl -days */
		return 0;
	}
	if (end[1] != '\0')
		goto bad;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (units[i].unit == *end) {
			*seconds = v * units[i].secs;
			return 0;
		}
	}
bad:
	return tg_err_set(err, TG_ERR_USAGE,
	    "'%s' is not a duration; write a number with a unit: 45s, 30m, 12h, 30d, 2w, 1y",
	    s ? s : "");
}
