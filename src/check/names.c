/* Host name matching as clients do it (RFC 6125): SANs only when there are
 * any, the CN only when there are none; case-insensitive; a wildcard only as
 * the whole left-most label, matching exactly one label; addresses only
 * against IP SANs. */
#include <arpa/inet.h>
#include <openssl/x509v3.h>
#include <string.h>
#include <strings.h>

#include "check/chk_int.h"

int
chk_host_is_ip(const char *host)
{
	unsigned char buf[16];

	return inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1;
}

static int
ip_matches(const ASN1_OCTET_STRING *ip, const char *host)
{
	unsigned char buf[16];
	int len = 0;

	if (inet_pton(AF_INET, host, buf) == 1)
		len = 4;
	else if (inet_pton(AF_INET6, host, buf) == 1)
		len = 16;
	return len > 0 && ASN1_STRING_length(ip) == len &&
	    memcmp(ASN1_STRING_get0_data(ip), buf, (size_t)len) == 0;
}

/* pattern is a DNS SAN or CN, not NUL-terminated. */
static int
dns_matches(const char *pat, size_t plen, const char *host)
{
	size_t hlen = strlen(host);
	const char *hdot;

	if (plen > 0 && pat[plen - 1] == '.')
		plen--;
	if (hlen > 0 && host[hlen - 1] == '.')
		hlen--;
	if (plen >= 2 && pat[0] == '*' && pat[1] == '.') {
		/* "*.example.com": the host's first label is replaced, and the
		 * rest must have at least two labels (no "*.com"). */
		if (memchr(pat + 2, '.', plen - 2) == NULL)
			return 0;
		if ((hdot = memchr(host, '.', hlen)) == NULL || hdot == host)
			return 0;
		return (size_t)(host + hlen - hdot) == plen - 1 &&
		    strncasecmp(hdot, pat + 1, plen - 1) == 0;
	}
	if (memchr(pat, '*', plen) != NULL)
		return 0; /* partial wildcards ("w*.example.com") are not honoured */
	return plen == hlen && strncasecmp(pat, host, hlen) == 0;
}

static int
cn_matches(X509 *x, const char *host)
{
	X509_NAME *name = X509_get_subject_name(x);
	int i = -1;

	while ((i = X509_NAME_get_index_by_NID(name, NID_commonName, i)) >= 0) {
		ASN1_STRING *s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i));
		if (dns_matches((const char *)ASN1_STRING_get0_data(s),
		    (size_t)ASN1_STRING_length(s), host))
			return 1;
	}
	return 0;
}

int
chk_name_matches(X509 *x, const char *host)
{
	GENERAL_NAMES *sans = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	int is_ip = chk_host_is_ip(host), found = 0;

	if (sans == NULL)
		return !is_ip && cn_matches(x, host);
	for (int i = 0; i < sk_GENERAL_NAME_num(sans) && !found; i++) {
		const GENERAL_NAME *gn = sk_GENERAL_NAME_value(sans, i);
		if (gn->type == GEN_IPADD && is_ip)
			found = ip_matches(gn->d.iPAddress, host);
		else if (gn->type == GEN_DNS && !is_ip)
			found = dns_matches((const char *)ASN1_STRING_get0_data(gn->d.dNSName),
			    (size_t)ASN1_STRING_length(gn->d.dNSName), host);
	}
	GENERAL_NAMES_free(sans);
	return found;
}

void
chk_cert_label(X509 *x, char *buf, size_t len)
{
	X509_NAME *name = X509_get_subject_name(x);
	int i = X509_NAME_get_index_by_NID(name, NID_commonName, -1);

	if (i >= 0) {
		ASN1_STRING *s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i));
		snprintf(buf, len, "CN=%.*s", ASN1_STRING_length(s),
		    (const char *)ASN1_STRING_get0_data(s));
		return;
	}
	X509_NAME_oneline(name, buf, (int)len);
}
