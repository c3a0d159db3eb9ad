/* What the ACME server may issue for: --allow-domain (a name and every name
 * under it), --allow-ip (CIDR), wildcards or not. Checked at newOrder and
 * again at finalize, on the form of each name the server keeps (lower-case
 * A-labels, canonical IP text), so a name cannot pass in one spelling and be
 * issued in another. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acme/srv.h"
#include "tlsgate/pki.h"
#include "tlsgate/util.h"

int
acme_cidr_parse(const char *s, acme_cidr *c, tg_err *err)
{
	char addr[64];
	const char *slash = strchr(s, '/');
	size_t n = slash != NULL ? (size_t)(slash - s) : strlen(s);
	char *end;
	long prefix;

	memset(c, 0, sizeof(*c));
	if (n == 0 || n >= sizeof(addr))
		goto bad;
	memcpy(addr, s, n);
	addr[n] = '\0';
	if (inet_pton(AF_INET, addr, c->addr) == 1)
		c->family = 4;
	else if (inet_pton(AF_INET6, addr, c->addr) == 1)
		c->family = 6;
	else
		goto bad;
	c->prefix = c->family == 4 ? 32 : 128;
	if (slash != NULL) {
		prefix = strtol(slash + 1, &end, 10);
		if (slash[1] == '\0' || *end != '\0' || prefix < 0 || prefix > c->prefix)
			goto bad;
		c->prefix = (int)prefix;
	}
	return 0;
bad:
	return tg_err_set(err, TG_ERR_USAGE,
	    "--allow-ip '%s' is not an address or CIDR range (write 10.0.0.0/8, 192.0.2.7 or "
	    "2001:db8::/32)", s);
}

static int
cidr_has(const acme_cidr *c, int family, const unsigned char *a)
{
	int bits = c->prefix;

	if (c->family != family)
		return 0;
	for (int i = 0; bits > 0; i++, bits -= 8) {
		unsigned char mask = bits >= 8 ? 0xff : (unsigned char)(0xff << (8 - bits));
		if ((a[i] & mask) != (c->addr[i] & mask))
			return 0;
	}
	return 1;
}

/* name is D or ends in ".D". */
static int
under_domain(const char *name, const char *d)
{
	size_t n = strlen(name), m = strlen(d);

	if (m == 0)
		return 0;
	if (n == m)
		return strcmp(name, d) == 0;
	return n > m && name[n - m - 1] == '.' && strcmp(name + n - m, d) == 0;
}

static int
dns_check(const acme_policy *pol, const char *value, char canon[256], acme_problem *p)
{
	pki_san san;
	tg_err err = { 0 };
	int wildcard = strncmp(value, "*.", 2) == 0;
	const char *base;

	if (util_find_control(value, strlen(value)) >= 0)
		return acme_problem_set(p, ACME_P_MALFORMED, "the identifier holds a control character");
	for (const char *c = value; *c; c++)
		if (*c >= 'A' && *c <= 'Z')
			return acme_problem_set(p, ACME_P_MALFORMED,
			    "DNS identifier '%.255s' has capitals; send it in lower case (RFC 8555 7.1.4)",
			    value);
	if (!util_is_ascii(value))
		return acme_problem_set(p, ACME_P_MALFORMED,
		    "DNS identifier '%.255s' is not ASCII; send it as IDNA A-labels (xn--...)", value);
	if (pki_san_parse(value, &san, &err) != 0 || san.type != PKI_SAN_DNS)
		return acme_problem_set(p, ACME_P_REJECTED_IDENTIFIER,
		    "'%.255s' is not a DNS name this CA issues for: %.200s", value,
		    san.type != PKI_SAN_DNS && err.msg[0] == '\0' ? "it reads as another kind of name" :
		    err.msg);
	if (wildcard && pol->no_wildcards)
		return acme_problem_set(p, ACME_P_REJECTED_IDENTIFIER,
		    "'%.255s' is a wildcard, and this server issues for exact names only "
		    "(--no-wildcards)", value);
	if (wildcard && !pol->dns01)
		return acme_problem_set(p, ACME_P_REJECTED_IDENTIFIER,
		    "'%.255s' is a wildcard, which needs the dns-01 challenge (RFC 8555 7.1.3); this "
		    "server validates dns-01 only when started with --dns-resolver, so it issues for "
		    "exact names only", value);
	snprintf(canon, 256, "%s", san.value);
	/* A wildcard is allowed when its base name is (RFC 8555 7.1.3). */
	base = wildcard ? canon + 2 : canon;
	for (size_t i = 0; i < pol->ndomains; i++)
		if (under_domain(base, pol->domains[i]))
			return 0;
	return acme_problem_set(p, ACME_P_REJECTED_IDENTIFIER,
	    "'%.255s' is outside this CA's policy: it issues only for the names allowed with "
	    "--allow-domain%s", value, pol->ndomains == 0 ? " (none are)" : "");
}

static int
ip_check(const acme_policy *pol, const char *value, char canon[256], acme_problem *p)
{
	unsigned char a[16];
	int family = 0;
	char text[INET6_ADDRSTRLEN];

	if (inet_pton(AF_INET, value, a) == 1)
		family = 4;
	else if (inet_pton(AF_INET6, value, a) == 1)
		family = 6;
	else
		return acme_problem_set(p, ACME_P_MALFORMED,
		    "IP identifier '%.100s' is not an IPv4 or IPv6 address (RFC 8738)", value);
	inet_ntop(family == 4 ? AF_INET : AF_INET6, a, text, sizeof(text));
	snprintf(canon, 256, "%s", text);
	for (size_t i = 0; i < pol->nips; i++)
		if (cidr_has(&pol->ips[i], family, a))
			return 0;
	return acme_problem_set(p, ACME_P_REJECTED_IDENTIFIER,
	    "%.100s is outside this CA's policy: it issues only for the addresses allowed with "
	    "--allow-ip%s", text, pol->nips == 0 ? " (none are)" : "");
}

int
acme_ident_check(const acme_policy *pol, const char *type, const char *value, char canon[256],
    acme_problem *p)
{
	if (value == NULL || value[0] == '\0' || strlen(value) > 253)
		return acme_problem_set(p, ACME_P_MALFORMED,
		    "an identifier's value is missing, empty or longer than 253 characters");
	if (strcmp(type, "dns") == 0)
		return dns_check(pol, value, canon, p);
	if (strcmp(type, "ip") == 0)
		return ip_check(pol, value, canon, p);
	return acme_problem_set(p, ACME_P_UNSUPPORTED_IDENTIFIER,
	    "identifier type '%.32s' is not supported; this server issues for \"dns\" and \"ip\"",
	    type);
}
