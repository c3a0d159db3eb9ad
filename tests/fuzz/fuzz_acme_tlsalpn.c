/* libFuzzer target for tls-alpn-01's look at the certificate the host
 * being validated presents (acme_tlsalpn_cert_check): the first input
 * byte picks the identifier (a DNS name, an IPv4 or an IPv6 address), the
 * rest is the certificate's DER. An oracle of the target's own, walking
 * the extensions one by one, says whether the certificate holds exactly
 * one subjectAltName extension with exactly one name, the identifier, and
 * exactly one acmeIdentifier extension, critical, whose value is the DER
 * OCTET STRING of SHA-256(key authorization); the check must agree, and
 * say why when it refuses. */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/sha.h>
#include <openssl/x509v3.h>

#include "acme/acme_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define KEY_AUTHZ "tok-1.abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"

static const struct {
	const char *id;
	int is_ip;
} ids[] = { { "example.com", 0 }, { "192.0.2.1", 1 }, { "2001:db8::1", 1 } };

static int
san_is(const X509_EXTENSION *ext, const char *id, int is_ip)
{
	GENERAL_NAMES *names = X509V3_EXT_d2i((X509_EXTENSION *)ext);
	const GENERAL_NAME *g;
	unsigned char ip[16];
	int ok = 0, iplen;

	if (names == NULL || sk_GENERAL_NAME_num(names) != 1)
		goto out;
	g = sk_GENERAL_NAME_value(names, 0);
	if (is_ip) {
		iplen = strchr(id, ':') != NULL ? 16 : 4;
		if (inet_pton(iplen == 16 ? AF_INET6 : AF_INET, id, ip) != 1)
			abort();
		ok = g->type == GEN_IPADD && ASN1_STRING_length(g->d.iPAddress) == iplen &&
		    memcmp(ASN1_STRING_get0_data(g->d.iPAddress), ip, (size_t)iplen) == 0;
	} else {
		ok = g->type == GEN_DNS && ASN1_STRING_length(g->d.dNSName) == (int)strlen(id) &&
		    strncasecmp((const char *)ASN1_STRING_get0_data(g->d.dNSName), id, strlen(id)) == 0;
	}
out:
	GENERAL_NAMES_free(names);
	return ok;
}

static int
oracle(X509 *cert, const char *id, int is_ip)
{
	unsigned char want[2 + SHA256_DIGEST_LENGTH] = { 0x04, SHA256_DIGEST_LENGTH };
	int nsan = 0, nacme = 0, san_ok = 0, acme_ok = 0;
	char oid[80];

	SHA256((const unsigned char *)KEY_AUTHZ, strlen(KEY_AUTHZ), want + 2);
	for (int i = 0; i < X509_get_ext_count(cert); i++) {
		X509_EXTENSION *ext = X509_get_ext(cert, i);
		const ASN1_OCTET_STRING *v = X509_EXTENSION_get_data(ext);
		if (OBJ_obj2nid(X509_EXTENSION_get_object(ext)) == NID_subject_alt_name) {
			nsan++;
			san_ok = san_is(ext, id, is_ip);
			continue;
		}
		if (OBJ_obj2txt(oid, sizeof(oid), X509_EXTENSION_get_object(ext), 1) <= 0 ||
		    strcmp(oid, "1.3.6.1.5.5.7.1.31") != 0)
			continue;
		nacme++;
		acme_ok = X509_EXTENSION_get_critical(ext) == 1 &&
		    ASN1_STRING_length(v) == (int)sizeof(want) &&
		    memcmp(ASN1_STRING_get0_data(v), want, sizeof(want)) == 0;
	}
	ERR_clear_error();
	return nsan == 1 && san_ok && nacme == 1 && acme_ok;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const unsigned char *der;
	const char *bad;
	X509 *cert;
	int which;

	if (size < 1)
		return 0;
	which = data[0] % 3;
	der = data + 1;
	/* The queue is emptied every time: errors left for the next input
	 * free there what this one allocated, and libFuzzer, seeing mallocs
	 * and frees differ, runs the leak check after each input. */
	if ((cert = d2i_X509(NULL, &der, (long)(size - 1))) == NULL) {
		ERR_clear_error();
		return 0;
	}
	bad = acme_tlsalpn_cert_check(cert, ids[which].id, ids[which].is_ip, KEY_AUTHZ);
	if ((bad == NULL) != oracle(cert, ids[which].id, ids[which].is_ip))
		abort();
	if (bad != NULL && bad[0] == '\0')
		abort();
	ERR_clear_error();
	X509_free(cert);
	return 0;
}
