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

/* ",mode=0660" and ",owner=USER[:GROUP]" after a unix socket's path. */
static int
unix_option(const char *opt, size_t len, const char *what, const char *s, util_addr *a,
    tg_err *err)
{
	if (len > 5 && strncmp(opt, "mode=", 5) == 0) {
		unsigned long v = 0;
		size_t i;
		for (i = 5; i < len && opt[i] >= '0' && opt[i] <= '7' && v <= 0777; i++)
			v = v * 8 + (unsigned long)(opt[i] - '0');
		if (i == len && v <= 0777 && a->mode < 0) {
			a->mode = (int)v;
			return 0;
		}
	} else if (len > 6 && strncmp(opt, "owner=", 6) == 0 && len - 6 < sizeof(a->owner) &&
	    a->owner[0] == '\0') {
		memcpy(a->owner, opt + 6, len - 6);
		a->owner[len - 6] = '\0';
		return 0;
	}
	return tg_err_set(err, TG_ERR_USAGE,
	    "%s: '%.*s' in '%s' is not a unix socket option; write unix:/PATH,mode=0660,"
	    "owner=USER[:GROUP] (each at most once; mode in octal, at most 0777)", what,
	    (int)len, opt, s);
}

int
util_parse_addr(const char *s, const char *what, unsigned flags, util_addr *a, tg_err *err)
{
	const char *path, *comma;
	size_t plen;

	memset(a, 0, sizeof(*a));
	a->mode = -1;
	if (strncmp(s, "unix:", 5) != 0) {
		if (s[0] == '/')
			return tg_err_set(err, TG_ERR_USAGE,
			    "%s: '%s': a unix socket is written unix:%s", what, s, s);
		return util_parse_hostport(s, what, a->host, sizeof(a->host), &a->port, err);
	}
	a->is_unix = 1;
	path = s + 5;
	comma = strchr(path, ',');
	plen = comma != NULL ? (size_t)(comma - path) : strlen(path);
	if (plen == 0 || path[0] != '/')
		return tg_err_set(err, TG_ERR_USAGE,
		    "%s: '%s': the socket's path must be absolute, e.g. unix:/run/tlsgate/app.sock",
		    what, s);
	if (plen >= sizeof(a->path))
		return tg_err_set(err, TG_ERR_USAGE,
		    "%s: '%s': a unix socket path holds at most %d bytes; use a shorter one",
		    what, s, UTIL_UNIX_PATH_MAX - 1);
	memcpy(a->path, path, plen);
	a->path[plen] = '\0';
	while (comma != NULL) {
		const char *opt = comma + 1, *next = strchr(opt, ',');
		size_t len = next != NULL ? (size_t)(next - opt) : strlen(opt);
		if (!(flags & UTIL_ADDR_LISTEN))
			return tg_err_set(err, TG_ERR_USAGE,
			    "%s: '%s': mode= and owner= belong to a listening socket, not to %s",
			    what, s, what);
		if (unix_option(opt, len, what, s, a, err) != 0)
			return -1;
		comma = next;
	}
	return 0;
}
