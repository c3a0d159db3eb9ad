/* The identity headers of http mode and their per-certificate sharing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "gateway/gw.h"
#include "gateway/tls_engine.h"

static char *sans[] = { "DNS:a.example.com", "URI:spiffe://x/a\r\nX-Evil: 1" };

static struct gw_peer
peer(void)
{
	struct gw_peer p = {
		.present = 1, .verified = 1, .sans = sans, .nsans = 2,
		.subject = "CN=alice\\, the first", .issuer = "CN=CA", .serial = "0A1B",
		.fingerprint = "ABCD",
		.pem = "-----BEGIN CERTIFICATE-----\nMIIB+w==\n-----END CERTIFICATE-----\n",
	};

	strcpy(p.cn, "alice\r\nX-Evil: 1");
	return p;
}

static void
fp_of(unsigned char *fp, int n)
{
	memset(fp, 0, GW_FP_LEN);
	fp[0] = (unsigned char)n;
	fp[1] = (unsigned char)(n >> 8);
	fp[GW_FP_LEN - 1] = (unsigned char)(n >> 16); /* not in the hash bits */
}

/* CR LF in client-chosen fields must not start headers of their own. */
static void
test_headers(void **state)
{
	static const char want[] =
	    "X-Client-Verify: SUCCESS\r\n"
	    "X-Client-Subject: CN=alice\\, the first\r\n"
	    "X-Client-Issuer: CN=CA\r\n"
	    "X-Client-Serial: 0A1B\r\n"
	    "X-Client-Fingerprint: ABCD\r\n"
	    "X-Client-CN: alice??X-Evil: 1\r\n"
	    "X-Client-SAN: DNS:a.example.com, URI:spiffe://x/a%0D%0AX-Evil: 1\r\n"
	    "X-Client-Cert: -----BEGIN%20CERTIFICATE-----%0AMIIB%2Bw%3D%3D%0A"
	    "-----END%20CERTIFICATE-----%0A\r\n";
	struct gw_idents ic = { 0 };
	struct gw_peer p = peer(), none = { 0 };
	unsigned char fp[GW_FP_LEN];
	gw_ident *id, *nid;
	const char *t;
	size_t len;

	fp_of(fp, 1);
	id = gw_ident_add(&ic, fp, 1, &p);
	assert_non_null(id);
	t = gw_ident_text(id, &len);
	assert_int_equal(len, strlen(want));
	assert_memory_equal(t, want, len);

	memset(fp, 0, sizeof(fp));
	nid = gw_ident_add(&ic, fp, 1, &none);
	assert_non_null(nid);
	t = gw_ident_text(nid, &len);
	assert_int_equal(len, strlen("X-Client-Verify: NONE\r\n"));
	assert_memory_equal(t, "X-Client-Verify: NONE\r\n", len);

	gw_ident_put(&ic, id);
	gw_ident_put(&ic, nid);
	assert_int_equal(ic.n, 0);
	gw_idents_free(&ic);
}

/* One copy per certificate and cert-header setting; the last reference
 * frees it; the table grows and shrinks with the number of certificates. */
static void
test_sharing(void **state)
{
	enum { N = 1000 };
	static gw_ident *held[N];
	struct gw_idents ic = { 0 };
	struct gw_peer p = peer();
	unsigned char fp[GW_FP_LEN];
	gw_ident *a, *b;

	fp_of(fp, 7);
	assert_null(gw_ident_find(&ic, fp, 1));
	a = gw_ident_add(&ic, fp, 1, &p);
	assert_ptr_equal(gw_ident_find(&ic, fp, 1), a);
	assert_null(gw_ident_find(&ic, fp, 0)); /* without X-Client-Cert: another copy */
	p.pem = NULL;
	b = gw_ident_add(&ic, fp, 0, &p);
	assert_ptr_not_equal(a, b);
	assert_int_equal(ic.n, 2);
	gw_ident_put(&ic, a);
	assert_ptr_equal(gw_ident_find(&ic, fp, 1), a); /* still held once */
	gw_ident_put(&ic, a);
	gw_ident_put(&ic, a);
	assert_null(gw_ident_find(&ic, fp, 1));
	assert_int_equal(ic.n, 1);

	for (int i = 0; i < N; i++) {
		fp_of(fp, 1000 + i);
		held[i] = gw_ident_add(&ic, fp, 1, &p);
		assert_non_null(held[i]);
	}
	assert_int_equal(ic.n, N + 1);
	assert_true(ic.nb >= N);
	for (int i = 0; i < N; i++) {
		fp_of(fp, 1000 + i);
		a = gw_ident_find(&ic, fp, 1);
		assert_ptr_equal(a, held[i]);
		gw_ident_put(&ic, a);
	}
	for (int i = 0; i < N; i++)
		gw_ident_put(&ic, held[i]);
	assert_int_equal(ic.n, 1);
	assert_true(ic.nb <= 128);
	gw_ident_put(&ic, b);
	assert_int_equal(ic.n, 0);
	gw_idents_free(&ic);
}

/* A comma inside a SAN must not read as a second name: the URI
 * "spiffe://example.com/m,DNS:alice.example.com" is one name, not a URI and
 * a DNS name; '%' is escaped too, so an escape in the certificate cannot
 * pass for one of ours, and bytes outside printable ASCII are escaped. */
static void
test_san_list_unambiguous(void **state)
{
	static char *tricky[] = { "URI:spiffe://example.com/m,DNS:alice.example.com",
		"URI:spiffe://example.com/100%2C", "DNS:b\xc3\xbc" "cher.example", "IP:2001:db8::1" };
	static const char want[] = "X-Client-SAN: URI:spiffe://example.com/m%2CDNS:alice.example.com, "
	    "URI:spiffe://example.com/100%252C, DNS:b%C3%BCcher.example, IP:2001:db8::1\r\n";
	struct gw_idents ic = { 0 };
	struct gw_peer p = peer();
	unsigned char fp[GW_FP_LEN];
	const char *t, *line;
	gw_ident *id;
	size_t len;

	p.sans = tricky;
	p.nsans = 4;
	p.pem = NULL;
	fp_of(fp, 3);
	id = gw_ident_add(&ic, fp, 0, &p);
	assert_non_null(id);
	t = gw_ident_text(id, &len);
	line = strstr(t, "X-Client-SAN: ");
	assert_non_null(line);
	assert_memory_equal(line, want, strlen(want));
	gw_ident_put(&ic, id);
	gw_idents_free(&ic);
}

static void
test_log_field(void **state)
{
	char small[8], big[64];

	gw_log_field(big, sizeof(big), "a b\"c\r\nd");
	assert_string_equal(big, "a?b?c??d");
	gw_log_field(small, sizeof(small), "0123456789");
	assert_string_equal(small, "0123456");
}

/* A self-signed certificate whose CN is cn (any bytes, as UTF8String). */
static X509 *
cert_with_cn(const char *cn)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	X509 *x = X509_new();
	X509_NAME *n = X509_get_subject_name(x);

	assert_non_null(k);
	assert_non_null(x);
	assert_int_equal(X509_NAME_add_entry_by_NID(n, NID_commonName, MBSTRING_UTF8,
	                     (const unsigned char *)cn, -1, -1, 0), 1);
	assert_int_equal(X509_set_issuer_name(x, n), 1);
	assert_int_equal(ASN1_INTEGER_set(X509_get_serialNumber(x), 7), 1);
	assert_non_null(X509_gmtime_adj(X509_getm_notBefore(x), 0));
	assert_non_null(X509_gmtime_adj(X509_getm_notAfter(x), 3600));
	assert_int_equal(X509_set_pubkey(x, k), 1);
	assert_true(X509_sign(x, k, EVP_sha256()) > 0);
	EVP_PKEY_free(k);
	return x;
}

/* A certificate with a name that is not text is flawed (not verified),
 * yet its identity is complete: the headers built from it (the fuzz
 * target found them reading a NULL subject) carry the names cleaned. */
static void
test_flawed_name_headers(void **state)
{
	static const char want[] =
	    "X-Client-Verify: SUCCESS\r\n"
	    "X-Client-Subject: CN=eve\\0D\\0AX-Evil: 1\r\n";
	struct gw_idents ic = { 0 };
	X509 *x = cert_with_cn("eve\r\nX-Evil: 1");
	unsigned char fp[GW_FP_LEN] = { 3 };
	struct gw_peer p;
	gw_ident *id;
	const char *t;
	size_t len;

	assert_int_equal(gw_peer_from_cert(x, &p, GW_PEER_NAMES | GW_PEER_PEM), 0);
	assert_int_equal(p.present, 1);
	assert_int_equal(p.verified, 0);
	assert_non_null(p.verify_error);
	assert_non_null(p.subject);
	assert_non_null(p.issuer);
	assert_non_null(p.serial);
	assert_non_null(p.fingerprint);
	assert_non_null(p.pem);
	id = gw_ident_add(&ic, fp, 1, &p);
	assert_non_null(id);
	t = gw_ident_text(id, &len);
	assert_true(len > strlen(want));
	assert_memory_equal(t, want, strlen(want));
	for (size_t i = 0; i + 1 < len; i++)
		if (t[i] == '\r' || t[i] == '\n')
			assert_memory_equal(t + i - (t[i] == '\n'), "\r\n", 2);
	gw_ident_put(&ic, id);
	gw_idents_free(&ic);
	gw_peer_clear(&p);
	X509_free(x);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_headers),
		cmocka_unit_test(test_sharing),
		cmocka_unit_test(test_san_list_unambiguous),
		cmocka_unit_test(test_log_field),
		cmocka_unit_test(test_flawed_name_headers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
