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

int
util_parse_port(const char *s, const char *what, unsigned *port, tg_err *err)
{
	unsigned long v = 0;
	size_t i;

	for (i = 0; s[i] >= '0' && s[i] <= '9' && v <= 65535; i++)
		v = v * 10 + (unsigned long)(s[i] - '0');
	if (i == 0 || s[i] != '\0' || v < 1 || v > 65535)
		return tg_err_set(err, TG_ERR_USAGE,
		    "%s: port '%s' is not a port number: ports are 1-65535", what, s);
	*port = (unsigned)v;
	return 0;
}

int
util_parse_hostport(const char *s, const char *what, char *host, size_t hostcap,
    unsigned *port, tg_err *err)
{
	const char *h = s, *colon;
	size_t hlen;

	if (s[0] == '[') {
		const char *close = strchr(s, ']');
		if (close == NULL || close[1] != ':')
			goto bad;
		h = s + 1;
		hlen = (size_t)(close - h);
		colon = close + 1;
	} else {
		if ((colon = strrchr(s, ':')) == NULL)
			goto bad;
		hlen = (size_t)(colon - s);
	}
	if (hlen == 0 || colon[1] == '\0')
		goto bad;
	if (hlen >= hostcap)
		return tg_err_set(err, TG_ERR_USAGE, "%s: the host in '%s' is longer than %zu bytes",
		    what, s, hostcap - 1);
	if (util_parse_port(colon + 1, what, port, err) != 0)
		return -1;
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	return 0;
bad:
	return tg_err_set(err, TG_ERR_USAGE,
	    "%s: '%s' is not HOST:PORT; write e.g. 127.0.0.1:8443, [::1]:8443 or localhost:8443",
	    what, s);
}
