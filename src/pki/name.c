/* Subject alternative names and certificate profiles as plain, validated data. */
#include "tlsgate/pki.h"
#include "tlsgate/util.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
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
	if (util_find_control(s, strlen(s)) >= 0)
		return tg_err_set(err, TG_ERR_USAGE, "malformed SAN '%s': it holds a control "
		    "character, which no name may", s);
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
	if (strchr(name, '/') != NULL || strchr(name, '\\') != NULL ||
	    util_find_control(name, strlen(name)) >= 0 || name[0] == '.' || name[0] == '-')
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

/* --- Names of a certificate as text --- */

enum name_field { F_CN, F_OU, F_ATTR, F_DNS, F_IP, F_EMAIL, F_URI };
enum name_flaw { FLAW_NUL, FLAW_CTRL, FLAW_TEXT };

/* Whole sentences, so that callers may keep the pointer (static). */
static const char *const flaw_text[][3] = {
	[F_CN] = { "the CN holds a NUL byte", "the CN holds a control character",
		"the CN does not decode as text" },
	[F_OU] = { "an OU holds a NUL byte", "an OU holds a control character",
		"an OU does not decode as text" },
	[F_ATTR] = { "a subject attribute holds a NUL byte",
		"a subject attribute holds a control character",
		"a subject attribute does not decode as text" },
	[F_DNS] = { "a DNS SAN holds a NUL byte", "a DNS SAN holds a control character",
		"a DNS SAN does not decode as text" },
	[F_IP] = { "an IP SAN is not 4 or 16 bytes", "an IP SAN is not 4 or 16 bytes",
		"an IP SAN is not 4 or 16 bytes" },
	[F_EMAIL] = { "an email SAN holds a NUL byte", "an email SAN holds a control character",
		"an email SAN does not decode as text" },
	[F_URI] = { "a URI SAN holds a NUL byte", "a URI SAN holds a control character",
		"a URI SAN does not decode as text" },
};

/* Why s[0..len) (ASCII or UTF-8) cannot be a name, or NULL: a NUL, a C0
 * control, DEL, or a C1 control (U+0080-U+009F). */
static const char *
text_flaw(enum name_field f, const unsigned char *s, size_t len)
{
	if (memchr(s, 0, len) != NULL)
		return flaw_text[f][FLAW_NUL]; /* the worst: a C string ends here */
	return util_find_control(s, len) >= 0 ? flaw_text[f][FLAW_CTRL] : NULL;
}

static const struct {
	int type;
	enum name_field field;
	const char *prefix;
} san_kinds[] = {
	{ GEN_DNS, F_DNS, "DNS:" },
	{ GEN_IPADD, F_IP, "IP:" },
	{ GEN_EMAIL, F_EMAIL, "email:" },
	{ GEN_URI, F_URI, "URI:" },
};

int
pki_cert_san_each(X509 *cert, int (*fn)(const pki_name *n, void *arg), void *arg)
{
	GENERAL_NAMES *gens = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
	int rc = 0;

	for (int i = 0; rc == 0 && i < sk_GENERAL_NAME_num(gens); i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
		int type;
		const ASN1_STRING *s = GENERAL_NAME_get0_value(g, &type);
		const unsigned char *d = ASN1_STRING_get0_data(s);
		size_t len = (size_t)ASN1_STRING_length(s), k;
		char ip[64];
		pki_name n;

		for (k = 0; k < sizeof(san_kinds) / sizeof(san_kinds[0]); k++)
			if (san_kinds[k].type == type)
				break;
		if (k == sizeof(san_kinds) / sizeof(san_kinds[0]))
			continue; /* otherName, directoryName...: not shown */
		n.prefix = san_kinds[k].prefix;
		n.value = (const char *)d;
		n.len = len;
		if (type != GEN_IPADD) {
			n.bad = text_flaw(san_kinds[k].field, d, len);
		} else if ((len == 4 || len == 16) &&
		    inet_ntop(len == 4 ? AF_INET : AF_INET6, d, ip, sizeof(ip)) != NULL) {
			n.value = ip;
			n.len = strlen(ip);
			n.bad = NULL;
		} else {
			util_hex(ip, d, len < 31 ? len : 31, 0);
			n.value = ip;
			n.len = strlen(ip);
			n.bad = flaw_text[F_IP][0];
		}
		rc = fn(&n, arg);
	}
	GENERAL_NAMES_free(gens);
	return rc;
}

int
pki_cert_subject_each(X509 *cert, int nid, int (*fn)(const pki_name *n, void *arg), void *arg)
{
	const X509_NAME *subj = X509_get_subject_name(cert);
	enum name_field f = nid == NID_commonName ? F_CN :
	    nid == NID_organizationalUnitName ? F_OU : F_ATTR;
	int rc = 0;

	for (int i = -1; rc == 0 && (i = X509_NAME_get_index_by_NID(subj, nid, i)) >= 0;) {
		const ASN1_STRING *a = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subj, i));
		unsigned char *utf8 = NULL;
		/* BMPString, T61String...: compared and shown as UTF-8. */
		int len = ASN1_STRING_to_UTF8(&utf8, a);
		pki_name n = { "", "", 0, flaw_text[f][FLAW_TEXT] };

		if (len < 0 && ERR_GET_REASON(ERR_peek_last_error()) == ERR_R_MALLOC_FAILURE) {
			ERR_clear_error();
			return -1;
		}
		ERR_clear_error();
		if (len >= 0) {
			n.value = (const char *)utf8;
			n.len = (size_t)len;
			n.bad = text_flaw(f, utf8, (size_t)len);
		}
		rc = fn(&n, arg);
		OPENSSL_free(utf8);
	}
	return rc;
}

size_t
pki_name_escape(char *out, size_t cap, const char *s, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];
		char e[3] = { (char)ch, 0, 0 };
		size_t w = 1;

		if (ch == '%' || ch == ',' || ch < 0x20 || ch > 0x7e) {
			e[0] = '%';
			e[1] = hex[ch >> 4];
			e[2] = hex[ch & 15];
			w = 3;
		}
		if (n + w < cap)
			memcpy(out + n, e, w);
		else if (n < cap)
			cap = n + 1; /* nothing after a piece that did not fit */
		n += w;
	}
	if (cap > 0)
		out[n < cap ? n : cap - 1] = '\0';
	return n;
}

struct san_join {
	char *buf;
	size_t cap, used;
};

static int
join_san(const pki_name *n, void *arg)
{
	struct san_join *j = arg;
	size_t plen = strlen(n->prefix), need;

	if (j->used + (j->used ? 1 : 0) + plen >= j->cap)
		return 1;
	if (j->used)
		j->buf[j->used++] = ',';
	memcpy(j->buf + j->used, n->prefix, plen);
	j->used += plen;
	need = pki_name_escape(j->buf + j->used, j->cap - j->used, n->value, n->len);
	if (j->used + need >= j->cap) {
		j->buf[j->used - plen - (j->used > plen ? 1 : 0)] = '\0'; /* no half name */
		return 1;
	}
	j->used += need;
	return 0;
}

static void
join_names(X509 *cert, int (*each)(X509 *, int (*)(const pki_name *, void *), void *),
    char *buf, size_t len)
{
	struct san_join j = { buf, len, 0 };

	if (len == 0)
		return;
	buf[0] = '\0';
	(void)each(cert, join_san, &j);
}

void
pki_cert_sans(X509 *cert, char *buf, size_t len)
{
	join_names(cert, pki_cert_san_each, buf, len);
}

void
pki_cert_crl_urls(X509 *cert, char *buf, size_t len)
{
	join_names(cert, pki_cert_crl_urls_each, buf, len);
}

int
pki_cert_crl_urls_each(X509 *cert, int (*fn)(const pki_name *n, void *arg), void *arg)
{
	CRL_DIST_POINTS *cdp = X509_get_ext_d2i(cert, NID_crl_distribution_points, NULL, NULL);
	int rc = 0;

	for (int i = 0; rc == 0 && i < sk_DIST_POINT_num(cdp); i++) {
		const DIST_POINT *dp = sk_DIST_POINT_value(cdp, i);
		if (dp->distpoint == NULL || dp->distpoint->type != 0)
			continue; /* a name relative to the issuer: no URL */
		for (int j = 0; rc == 0 && j < sk_GENERAL_NAME_num(dp->distpoint->name.fullname); j++) {
			const GENERAL_NAME *g = sk_GENERAL_NAME_value(dp->distpoint->name.fullname, j);
			int type;
			const ASN1_STRING *s = GENERAL_NAME_get0_value(g, &type);
			pki_name n;
			if (type != GEN_URI)
				continue;
			n.prefix = "URI:";
			n.value = (const char *)ASN1_STRING_get0_data(s);
			n.len = (size_t)ASN1_STRING_length(s);
			n.bad = text_flaw(F_URI, ASN1_STRING_get0_data(s), n.len);
			rc = fn(&n, arg);
		}
	}
	CRL_DIST_POINTS_free(cdp);
	return rc;
}

int
pki_crl_url_check(const char *url, tg_err *err)
{
	static const char *const schemes[] = { "http://", "https://" };
	const char *host = NULL;

	for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++)
		if (strncmp(url, schemes[i], strlen(schemes[i])) == 0)
			host = url + strlen(schemes[i]);
	if (host == NULL)
		return tg_err_set(err, TG_ERR_USAGE, "CRL URL '%s': give an http:// or https:// URL "
		    "(what clients fetch a CRL from, e.g. http://pki.example.com/ca.crl)", url);
	if (strlen(url) >= PKI_URL_MAX)
		return tg_err_set(err, TG_ERR_USAGE, "CRL URL too long (at most %d bytes)",
		    PKI_URL_MAX - 1);
	if (*host == '\0' || *host == '/' || *host == ':')
		return tg_err_set(err, TG_ERR_USAGE, "CRL URL '%s' names no host", url);
	for (const char *p = url; *p; p++)
		if (*p <= ' ' || *p >= 0x7f)
			return tg_err_set(err, TG_ERR_USAGE, "CRL URL: a space or a byte outside "
			    "printable ASCII at offset %zu; percent-encode it (%%20)", (size_t)(p - url));
	return 0;
}
