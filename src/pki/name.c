/* Subject alternative names and certificate profiles as plain, validated data. */
#include "tlsgate/pki.h"
#include "tlsgate/util.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <string.h>
#include <strings.h>

static const struct {
	pki_san_type type;
	const char *prefix;
} san_prefixes[] = {
	{ PKI_SAN_DNS, "DNS:" },
	{ PKI_SAN_IP, "IP:" },
	{ PKI_SAN_EMAIL, "email:" },
	{ PKI_SAN_URI, "URI:" },
};

/* RFC 1123 host name, optionally with a leading "*." label (one label only). */
static int
valid_dns(const char *s)
{
	size_t len = strlen(s), label = 0;

	if (len == 0 || len > 253)
		return 0;
	if (strncmp(s, "*.", 2) == 0) {
		s += 2;
		if (*s == '\0')
			return 0;
	}
	for (const char *p = s; ; p++) {
		if (*p == '.' || *p == '\0') {
			if (label == 0 || label > 63 || p[-1] == '-')
				return 0;
			if (*p == '\0')
				break;
			label = 0;
			continue;
		}
		if (!(isalnum((unsigned char)*p) || *p == '-' || *p == '_'))
			return 0;
		if (label == 0 && *p == '-')
			return 0;
		label++;
	}
	return 1;
}

static int
parse_ip(const char *s, pki_san *out)
{
	if (inet_pton(AF_INET, s, out->ip) == 1) {
		out->iplen = 4;
		return 1;
	}
	if (inet_pton(AF_INET6, s, out->ip) == 1) {
		out->iplen = 16;
		return 1;
	}
	return 0;
}

static int
valid_email(const char *s)
{
	const char *at = strchr(s, '@');

	return at != NULL && at != s && strchr(at + 1, '@') == NULL && valid_dns(at + 1) &&
	    strpbrk(s, " \t<>") == NULL;
}

static int
valid_uri(const char *s)
{
	const char *colon = strchr(s, ':');

	if (colon == NULL || colon == s || colon[1] == '\0' || strpbrk(s, " \t<>\"") != NULL)
		return 0;
	for (const char *p = s; p < colon; p++)
		if (!(isalnum((unsigned char)*p) || *p == '+' || *p == '-' || *p == '.'))
			return 0;
	return isalpha((unsigned char)*s);
}

static pki_san_type
detect(const char *s, pki_san *scratch)
{
	if (parse_ip(s, scratch))
		return PKI_SAN_IP;
	if (strstr(s, "://") != NULL || strncmp(s, "spiffe:", 7) == 0 || strncmp(s, "urn:", 4) == 0)
		return PKI_SAN_URI;
	if (strchr(s, '@') != NULL)
		return PKI_SAN_EMAIL;
	return PKI_SAN_DNS;
}

int
pki_san_parse(const char *s, pki_san *out, tg_err *err)
{
	const char *value = s;
	int typed = 0;

	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < sizeof(san_prefixes) / sizeof(san_prefixes[0]); i++) {
		size_t n = strlen(san_prefixes[i].prefix);
		if (strncasecmp(s, san_prefixes[i].prefix, n) == 0) {
			out->type = san_prefixes[i].type;
			value = s + n;
			typed = 1;
			break;
		}
	}
	if (!typed)
		out->type = detect(s, out);
	if (*value == '\0' || strlen(value) >= sizeof(out->value))
		return tg_err_set(err, TG_ERR_USAGE,
		    "malformed SAN '%s': empty or too long; write DNS:host, IP:addr, "
		    "email:user@host or URI:scheme:...", s);
	snprintf(out->value, sizeof(out->value), "%s", value);
	switch (out->type) {
	case PKI_SAN_DNS:
		if (parse_ip(value, out))
			return tg_err_set(err, TG_ERR_USAGE,
			    "malformed SAN '%s': %s is an IP address, and clients never match an "
			    "address against a DNS name; write IP:%s", s, value, value);
		/* An internationalised name goes in as its A-labels
		 * (bücher.example -> xn--bcher-kva.example), as clients send
		 * and compare it. */
		if (!util_is_ascii(value)) {
			tg_err sub = { 0 };
			if (util_idna_to_ascii(value, out->value, sizeof(out->value), &sub) != 0)
				return tg_err_set(err, TG_ERR_USAGE, "malformed SAN '%s': %s", s,
				    sub.msg);
		}
		for (char *p = out->value; *p; p++)
			*p = (char)tolower((unsigned char)*p);
		if (!valid_dns(out->value))
			return tg_err_set(err, TG_ERR_USAGE,
			    "malformed SAN '%s': '%s' is not a valid DNS name (letters, digits, "
			    "hyphens, dots; a wildcard only as the whole first label, *.example.com)",
			    s, value);
		break;
	case PKI_SAN_IP:
		if (!parse_ip(value, out))
			return tg_err_set(err, TG_ERR_USAGE,
			    "malformed SAN '%s': '%s' is not an IPv4 or IPv6 address", s, value);
		/* canonical text form */
		inet_ntop(out->iplen == 4 ? AF_INET : AF_INET6, out->ip, out->value,
		    sizeof(out->value));
		break;
	case PKI_SAN_EMAIL:
		if (!valid_email(value))
			return tg_err_set(err, TG_ERR_USAGE,
			    "malformed SAN '%s': '%s' is not an email address (user@host)", s, value);
		break;
	case PKI_SAN_URI:
		if (!valid_uri(value))
			return tg_err_set(err, TG_ERR_USAGE,
			    "malformed SAN '%s': '%s' is not a URI (scheme:rest, e.g. "
			    "spiffe://example.org/service)", s, value);
		break;
	}
	return 0;
}

void
pki_san_format(const pki_san *san, char *buf, size_t len)
{
	snprintf(buf, len, "%s%s", san_prefixes[san->type].prefix, san->value);
}

static const char *profile_names[] = {
	[PKI_PROFILE_ROOT] = "root",
	[PKI_PROFILE_INTERMEDIATE] = "intermediate",
	[PKI_PROFILE_SERVER] = "server",
	[PKI_PROFILE_CLIENT] = "client",
	[PKI_PROFILE_BOTH] = "both",
	[PKI_PROFILE_SELFSIGNED] = "selfsigned",
};

const char *
pki_profile_name(pki_profile_kind k)
{
	return (size_t)k < sizeof(profile_names) / sizeof(profile_names[0]) ?
	    profile_names[k] : "unknown";
}

int
pki_profile_parse(const char *s, pki_profile_kind *out, tg_err *err)
{
	for (size_t i = 0; i < sizeof(profile_names) / sizeof(profile_names[0]); i++) {
		if (strcmp(s, profile_names[i]) == 0) {
			*out = (pki_profile_kind)i;
			return 0;
		}
	}
	return tg_err_set(err, TG_ERR_USAGE,
	    "unknown profile '%s'; use server, client or both", s);
}

int
pki_profile_add_san(pki_profile *p, const pki_san *san, tg_err *err)
{
	for (size_t i = 0; i < p->nsans; i++)
		if (p->sans[i].type == san->type && strcmp(p->sans[i].value, san->value) == 0)
			return 0;
	if (p->nsans == PKI_MAX_SANS)
		return tg_err_set(err, TG_ERR_USAGE, "too many SANs (at most %d)", PKI_MAX_SANS);
	p->sans[p->nsans++] = *san;
	return 0;
}

int
pki_profile_leaf(pki_profile *p, pki_profile_kind kind, const char *name,
    const char *const *extra_sans, size_t nextra, int64_t valid_secs, tg_err *err)
{
	pki_san san;

	memset(p, 0, sizeof(*p));
	p->kind = kind;
	p->valid_secs = valid_secs;
	if (name == NULL || *name == '\0' || strlen(name) >= sizeof(p->cn))
		return tg_err_set(err, TG_ERR_USAGE, "the certificate name must be 1 to %zu characters",
		    sizeof(p->cn) - 1);
	if (strpbrk(name, "/\\\n\r\t") != NULL || name[0] == '.' || name[0] == '-')
		return tg_err_set(err, TG_ERR_USAGE,
		    "'%s' cannot be a certificate name: it is also the file name, so no "
		    "slashes, control characters, or leading dot/hyphen", name);
	snprintf(p->cn, sizeof(p->cn), "%s", name);
	/* Server certs must carry their name as a SAN: modern clients ignore the CN. */
	if (kind == PKI_PROFILE_SERVER || kind == PKI_PROFILE_BOTH || kind == PKI_PROFILE_SELFSIGNED) {
		if (pki_san_parse(name, &san, err) != 0)
			return tg_err_prefix(err, "certificate name '%s'", name);
		if (pki_profile_add_san(p, &san, err) != 0)
			return -1;
	}
	for (size_t i = 0; i < nextra; i++) {
		if (pki_san_parse(extra_sans[i], &san, err) != 0 ||
		    pki_profile_add_san(p, &san, err) != 0)
			return -1;
	}
	return 0;
}
