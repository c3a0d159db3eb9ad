#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tlsgate/pki.h"
#include "tlsgate/util.h"

typedef struct {
	EVP_PKEY *root_key, *leaf_key, *other_key;
	X509 *root, *leaf, *other_root;
} fixture;

static X509 *
make(pki_profile_kind kind, const char *name, EVP_PKEY *key, X509 *issuer, EVP_PKEY *ikey,
    int64_t secs)
{
	pki_profile p;
	unsigned char serial[PKI_SERIAL_LEN];
	tg_err err = { 0 };
	X509 *x;

	if (kind == PKI_PROFILE_ROOT) {
		memset(&p, 0, sizeof(p));
		p.kind = kind;
		snprintf(p.cn, sizeof(p.cn), "%s", name);
		p.valid_secs = secs;
	} else {
		assert_int_equal(pki_profile_leaf(&p, kind, name, NULL, 0, secs, &err), 0);
	}
	assert_int_equal(pki_serial_random(serial, &err), 0);
	x = pki_cert_build(&p, key, issuer, ikey, serial, sizeof(serial), &err);
	if (x == NULL)
		fail_msg("%s", err.msg);
	return x;
}

static int
setup(void **state)
{
	fixture *f = calloc(1, sizeof(*f));
	tg_err err = { 0 };

	f->root_key = pki_key_generate(PKI_KEY_EC_P256, &err);
	f->leaf_key = pki_key_generate(PKI_KEY_EC_P256, &err);
	f->other_key = pki_key_generate(PKI_KEY_EC_P256, &err);
	f->root = make(PKI_PROFILE_ROOT, "Unit Root", f->root_key, NULL, f->root_key, 86400 * 10);
	f->other_root = make(PKI_PROFILE_ROOT, "Other Root", f->other_key, NULL, f->other_key, 86400);
	f->leaf = make(PKI_PROFILE_SERVER, "svc.example.com", f->leaf_key, f->root, f->root_key, 86400);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	fixture *f = *state;
	EVP_PKEY_free(f->root_key);
	EVP_PKEY_free(f->leaf_key);
	EVP_PKEY_free(f->other_key);
	X509_free(f->root);
	X509_free(f->leaf);
	X509_free(f->other_root);
	free(f);
	return 0;
}

static void
test_key_types(void **state)
{
	static const char *const names[] = { "ec-p256", "ec-p384", "rsa2048", "ed25519" };
	static const char *const expect[] = { "EC P-256", "EC P-384", "RSA 2048", "Ed25519" };
	tg_err err = { 0 };
	pki_key_type t;
	char desc[64];

	(void)state;
	for (size_t i = 0; i < 4; i++) {
		EVP_PKEY *k;
		assert_int_equal(pki_key_type_parse(names[i], &t, &err), 0);
		assert_non_null(k = pki_key_generate(t, &err));
		pki_key_describe(k, desc, sizeof(desc));
		assert_string_equal(desc, expect[i]);
		EVP_PKEY_free(k);
	}
	assert_int_equal(pki_key_type_parse("dsa1024", &t, &err), -1);
	assert_int_equal(err.cat, TG_ERR_USAGE);
	assert_non_null(strstr(err.msg, "ec-p256"));
}

static void
test_san_parse(void **state)
{
	static const struct {
		const char *in;
		int ok;
		pki_san_type type;
		const char *value;
	} cases[] = {
		{ "example.com", 1, PKI_SAN_DNS, "example.com" },
		{ "DNS:Example.COM", 1, PKI_SAN_DNS, "example.com" },
		{ "*.example.com", 1, PKI_SAN_DNS, "*.example.com" },
		{ "10.0.0.5", 1, PKI_SAN_IP, "10.0.0.5" },
		{ "IP:::1", 1, PKI_SAN_IP, "::1" },
		{ "ip:2001:DB8::1", 1, PKI_SAN_IP, "2001:db8::1" },
		{ "alice@example.com", 1, PKI_SAN_EMAIL, "alice@example.com" },
		{ "spiffe://example.org/web", 1, PKI_SAN_URI, "spiffe://example.org/web" },
		{ "URI:urn:uuid:1234", 1, PKI_SAN_URI, "urn:uuid:1234" },
		{ "bücher.example", 1, PKI_SAN_DNS, "xn--bcher-kva.example" },      /* IDN */
		{ "DNS:*.MÜNCHEN.example", 1, PKI_SAN_DNS, "*.xn--mnchen-3ya.example" },
		{ "DNS:*.münchen.EXAMPLE", 1, PKI_SAN_DNS, "*.xn--mnchen-3ya.example" },
		{ "DNS:b\xfc" "cher.example", 0, 0, NULL },  /* Latin-1, not UTF-8 */
		{ "DNS:10.0.0.5", 0, 0, NULL },           /* IP as DNS SAN */
		{ "IP:999.1.1.1", 0, 0, NULL },
		{ "exa mple.com", 0, 0, NULL },
		{ "foo.*.example.com", 0, 0, NULL },       /* wildcard not first label */
		{ "-bad.example.com", 0, 0, NULL },
		{ "DNS:", 0, 0, NULL },
		{ "email:nobody", 0, 0, NULL },
		{ "URI:no scheme", 0, 0, NULL },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		pki_san san;
		tg_err err = { 0 };
		int rc = pki_san_parse(cases[i].in, &san, &err);
		if (cases[i].ok) {
			if (rc != 0)
				fail_msg("%s: %s", cases[i].in, err.msg);
			assert_int_equal(san.type, cases[i].type);
			assert_string_equal(san.value, cases[i].value);
		} else {
			if (rc == 0)
				fail_msg("%s accepted", cases[i].in);
			assert_int_equal(err.cat, TG_ERR_USAGE);
			assert_non_null(strstr(err.msg, "malformed SAN"));
		}
	}
}

static void
test_leaf_profile_has_name_as_san(void **state)
{
	fixture *f = *state;
	char sans[512];
	pki_profile p;
	tg_err err = { 0 };

	pki_cert_sans(f->leaf, sans, sizeof(sans));
	assert_string_equal(sans, "DNS:svc.example.com");
	/* A client profile keeps CN only: PostgreSQL maps the CN to the user. */
	assert_int_equal(pki_profile_leaf(&p, PKI_PROFILE_CLIENT, "alice", NULL, 0, 60, &err), 0);
	assert_int_equal(p.nsans, 0);
	assert_int_equal(pki_profile_leaf(&p, PKI_PROFILE_SERVER, "../etc", NULL, 0, 60, &err), -1);
}

static void
test_cert_extensions(void **state)
{
	fixture *f = *state;
	uint32_t ku = X509_get_key_usage(f->leaf);
	uint32_t xku = X509_get_extended_key_usage(f->leaf);
	const ASN1_INTEGER *sn = X509_get0_serialNumber(f->leaf);

	assert_int_equal(X509_get_version(f->leaf), X509_VERSION_3);
	assert_true(ku & KU_DIGITAL_SIGNATURE);
	assert_false(ku & KU_KEY_CERT_SIGN);
	assert_true(xku & XKU_SSL_SERVER);
	assert_false(xku & XKU_SSL_CLIENT);
	assert_int_equal(X509_check_ca(f->leaf), 0);
	assert_int_not_equal(X509_check_ca(f->root), 0);
	assert_non_null(X509_get0_subject_key_id(f->leaf));
	assert_non_null(X509_get0_authority_key_id(f->leaf));
	assert_int_equal(ASN1_STRING_length(sn), PKI_SERIAL_LEN);
	/* notBefore is backdated for clock skew */
	assert_true(pki_asn1_time_unix(X509_get0_notBefore(f->leaf)) <= time(NULL) - 60);
}

static void
test_verify_ok_and_failures(void **state)
{
	fixture *f = *state;
	pki_verify_opts o = { .purpose = PKI_PURPOSE_SERVER, .x509_strict = 1 };
	tg_err err = { 0 };

	o.trusted = sk_X509_new_null();
	sk_X509_push(o.trusted, f->root);
	o.host = "svc.example.com";
	assert_int_equal(pki_verify(f->leaf, &o, &err), 0);
	/* wrong host */
	o.host = "other.example.com";
	assert_int_equal(pki_verify(f->leaf, &o, &err), -1);
	assert_non_null(strstr(err.msg, "hostname mismatch"));
	assert_non_null(strstr(err.msg, "--san"));
	/* wrong purpose */
	o.host = NULL;
	o.purpose = PKI_PURPOSE_CLIENT;
	assert_int_equal(pki_verify(f->leaf, &o, &err), -1);
	assert_non_null(strstr(err.msg, "purpose"));
	/* wrong CA */
	o.purpose = PKI_PURPOSE_SERVER;
	sk_X509_set(o.trusted, 0, f->other_root);
	assert_int_equal(pki_verify(f->leaf, &o, &err), -1);
	assert_int_equal(err.cat, TG_ERR_VERIFY);
	sk_X509_free(o.trusted);
}

static void
test_validity_capped_and_expired_issuer(void **state)
{
	fixture *f = *state;
	EVP_PKEY *k = pki_key_generate(PKI_KEY_EC_P256, NULL);
	X509 *shortca = make(PKI_PROFILE_ROOT, "Short", k, NULL, k, 3600);
	X509 *leaf = make(PKI_PROFILE_CLIENT, "c", f->leaf_key, shortca, k, 86400 * 30);
	pki_profile p;
	unsigned char serial[PKI_SERIAL_LEN] = { 1 };
	tg_err err = { 0 };

	assert_true(pki_asn1_time_unix(X509_get0_notAfter(leaf)) <=
	    pki_asn1_time_unix(X509_get0_notAfter(shortca)));
	/* An expired issuer is refused with the reason. */
	X509_gmtime_adj(X509_getm_notAfter(shortca), -10);
	assert_int_equal(pki_profile_leaf(&p, PKI_PROFILE_CLIENT, "d", NULL, 0, 60, &err), 0);
	assert_null(pki_cert_build(&p, f->leaf_key, shortca, k, serial, sizeof(serial), &err));
	assert_non_null(strstr(err.msg, "expired"));
	X509_free(leaf);
	X509_free(shortca);
	EVP_PKEY_free(k);
}

static void
test_key_match(void **state)
{
	fixture *f = *state;
	assert_true(pki_key_matches_cert(f->leaf_key, f->leaf));
	assert_false(pki_key_matches_cert(f->other_key, f->leaf));
}

static void
test_csr_roundtrip_and_tamper(void **state)
{
	fixture *f = *state;
	const char *extra[] = { "conference.example.com", "IP:10.1.2.3" };
	pki_profile p, back;
	X509_REQ *csr;
	tg_err err = { 0 };
	unsigned char *der = NULL, *q;
	const unsigned char *cp;
	int len;

	assert_int_equal(pki_profile_leaf(&p, PKI_PROFILE_SERVER, "example.com", extra, 2, 60, &err), 0);
	assert_non_null(csr = pki_csr_build(&p, f->leaf_key, &err));
	assert_int_equal(pki_csr_to_profile(csr, "t.csr", PKI_PROFILE_SERVER, 60, &back, &err), 0);
	assert_string_equal(back.cn, "example.com");
	assert_int_equal(back.nsans, 3);
	/* Flip a byte of the subject: the signature no longer verifies. */
	len = i2d_X509_REQ(csr, &der);
	for (int i = 0; i + 11 < len; i++) {
		if (memcmp(der + i, "example.com", 11) == 0) {
			der[i] = 'X';
			break;
		}
	}
	X509_REQ_free(csr);
	cp = der;
	assert_non_null(csr = d2i_X509_REQ(NULL, &cp, len));
	assert_int_equal(pki_csr_to_profile(csr, "t.csr", PKI_PROFILE_SERVER, 60, &back, &err), -1);
	assert_non_null(strstr(err.msg, "signature does not verify"));
	q = der;
	OPENSSL_free(q);
	X509_REQ_free(csr);
}

static void
test_crl_revokes(void **state)
{
	fixture *f = *state;
	pki_revoked r = { .revoked_at = time(NULL), .reason = CRL_REASON_KEY_COMPROMISE };
	pki_verify_opts o = { .purpose = PKI_PURPOSE_SERVER };
	X509_CRL *crl, *empty;
	tg_err err = { 0 };

	pki_cert_serial_hex(f->leaf, r.serial_hex, sizeof(r.serial_hex));
	assert_non_null(crl = pki_crl_build(f->root, f->root_key, &r, 1, 7, 86400, &err));
	assert_non_null(empty = pki_crl_build(f->root, f->root_key, NULL, 0, 8, 86400, &err));
	assert_int_equal(X509_CRL_verify(crl, X509_get0_pubkey(f->root)), 1);
	o.trusted = sk_X509_new_null();
	sk_X509_push(o.trusted, f->root);
	o.crls = sk_X509_CRL_new_null();
	sk_X509_CRL_push(o.crls, empty);
	assert_int_equal(pki_verify(f->leaf, &o, &err), 0);
	sk_X509_CRL_set(o.crls, 0, crl);
	assert_int_equal(pki_verify(f->leaf, &o, &err), -1);
	assert_non_null(strstr(err.msg, "revoked"));
	sk_X509_CRL_free(o.crls);
	sk_X509_free(o.trusted);
	X509_CRL_free(crl);
	X509_CRL_free(empty);
}

static void
test_p12_both_flavours(void **state)
{
	fixture *f = *state;
	for (int legacy = 0; legacy <= 1; legacy++) {
		unsigned char *der;
		const unsigned char *p;
		size_t len;
		tg_err err = { 0 };
		PKCS12 *p12;
		EVP_PKEY *k = NULL;
		X509 *c = NULL;

		assert_int_equal(pki_p12_build(f->leaf, f->leaf_key, NULL, "svc", "pw", legacy, &der,
		    &len, &err), 0);
		p = der;
		assert_non_null(p12 = d2i_PKCS12(NULL, &p, (long)len));
		assert_int_equal(PKCS12_verify_mac(p12, "wrong", -1), 0);
		assert_int_equal(PKCS12_parse(p12, "pw", &k, &c, NULL), 1);
		assert_int_equal(X509_cmp(c, f->leaf), 0);
		assert_true(pki_key_matches_cert(k, f->leaf));
		EVP_PKEY_free(k);
		X509_free(c);
		PKCS12_free(p12);
		OPENSSL_free(der);
	}
}

static void
write_tmp(const char *path, const void *data, size_t len)
{
	FILE *fp = fopen(path, "wb");
	assert_non_null(fp);
	assert_int_equal(fwrite(data, 1, len, fp), len);
	fclose(fp);
}

/* A PKCS#12 of keys[] (each in its own shrouded bag) and certs, AES-256 and a
 * SHA-256 MAC under pass: what keytool writes for a keystore of entries. */
static unsigned char *
p12_of(EVP_PKEY *const *keys, int nkeys, X509 *const *certs, int ncerts, const char *pass,
    size_t *len)
{
	STACK_OF(PKCS7) *safes = NULL;
	STACK_OF(PKCS12_SAFEBAG) *kbags = NULL, *cbags = NULL;
	PKCS12 *p12;
	unsigned char *der = NULL;
	int n;

	for (int i = 0; i < nkeys; i++)
		assert_non_null(PKCS12_add_key(&kbags, keys[i], 0, 2048, NID_aes_256_cbc, pass));
	for (int i = 0; i < ncerts; i++)
		assert_non_null(PKCS12_add_cert(&cbags, certs[i]));
	if (cbags != NULL)
		assert_non_null(PKCS12_add_safe(&safes, cbags, NID_aes_256_cbc, 2048, pass));
	if (kbags != NULL)
		assert_non_null(PKCS12_add_safe(&safes, kbags, -1, 0, NULL));
	assert_non_null(p12 = PKCS12_add_safes(safes, 0));
	assert_int_equal(PKCS12_set_mac(p12, pass, -1, NULL, 0, 2048, EVP_sha256()), 1);
	assert_true((n = i2d_PKCS12(p12, &der)) > 0);
	*len = (size_t)n;
	PKCS12_free(p12);
	sk_PKCS7_pop_free(safes, PKCS7_free);
	sk_PKCS12_SAFEBAG_pop_free(kbags, PKCS12_SAFEBAG_free);
	sk_PKCS12_SAFEBAG_pop_free(cbags, PKCS12_SAFEBAG_free);
	return der;
}

/* pki_load_p12: what opens, and each refusal with its own message. */
static void
test_load_p12(void **state)
{
	fixture *f = *state;
	EVP_PKEY *one[] = { f->leaf_key }, *two[] = { f->leaf_key, f->other_key },
		 *other[] = { f->other_key };
	X509 *chain[] = { f->leaf, f->root }, *leafonly[] = { f->leaf };
	const struct {
		const char *name;
		EVP_PKEY *const *keys;
		int nkeys;
		X509 *const *certs;
		int ncerts;
		const char *made_with, *given;
		int alter_mac;
		const char *want; /* NULL: it opens */
	} cases[] = {
		{ "ok", one, 1, chain, 2, "pw", "pw", 0, NULL },
		{ "empty", one, 1, chain, 2, "", NULL, 0, NULL },
		{ "wrong", one, 1, chain, 2, "pw", "no", 0, "wrong passphrase (the one given)" },
		{ "none-given", one, 1, chain, 2, "pw", NULL, 0, "is protected by a passphrase" },
		{ "altered", one, 1, chain, 2, "pw", "pw", 1, "was altered or damaged after it was exported" },
		{ "nokey", NULL, 0, chain, 2, "pw", "pw", 0, "holds no private key (2 certificate(s) only)" },
		{ "twokeys", two, 2, chain, 2, "pw", "pw", 0, "holds 2 private keys" },
		{ "nocert", other, 1, leafonly, 1, "pw", "pw", 0,
		  "not its certificate: the certificates it holds (CN=svc.example.com) belong to other keys" },
		{ "keyonly", one, 1, NULL, 0, "pw", "pw", 0, "holds a private key but no certificate" },
	};
	char dir[] = "/tmp/tlsgate-p12-XXXXXX", path[256];

	assert_non_null(mkdtemp(dir));
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t len;
		unsigned char *der = p12_of(cases[i].keys, cases[i].nkeys, cases[i].certs,
		    cases[i].ncerts, cases[i].made_with, &len);
		pki_pass pass = { .value = (char *)cases[i].given };
		pki_pair pair;
		tg_err err = { 0 };
		int rc;

		if (cases[i].alter_mac)
			der[len - 8] ^= 1; /* a byte of the MAC's salt */
		snprintf(path, sizeof(path), "%s/%s.p12", dir, cases[i].name);
		write_tmp(path, der, len);
		OPENSSL_free(der);
		assert_int_equal(pki_file_kinds(path), PKI_FILE_P12);
		rc = pki_load_p12(path, cases[i].given != NULL ? &pass : NULL, &pair, &err);
		if (cases[i].want == NULL) {
			if (rc != 0)
				fail_msg("%s: %s", cases[i].name, err.msg);
			assert_int_equal(X509_cmp(pair.leaf, f->leaf), 0);
			assert_true(pki_key_matches_cert(pair.key, f->leaf));
			assert_int_equal(sk_X509_num(pair.chain), 1);
			pki_pair_clear(&pair);
			continue;
		}
		assert_int_equal(rc, -1);
		assert_null(pair.key);
		assert_null(pair.leaf);
		if (strstr(err.msg, cases[i].want) == NULL || strstr(err.msg, path) == NULL)
			fail_msg("%s: expected '%s' and the path in: %s", cases[i].name, cases[i].want,
			    err.msg);
	}
	snprintf(path, sizeof(path), "rm -rf '%s'", dir);
	assert_int_equal(system(path), 0);
}

static void
test_load_errors(void **state)
{
	fixture *f = *state;
	char dir[] = "/tmp/tlsgate-pki-XXXXXX", path[256], *pem;
	unsigned char *der = NULL;
	size_t len;
	int dlen;
	tg_err err = { 0 };
	X509 *x;
	EVP_PKEY *k;

	assert_non_null(mkdtemp(dir));
	/* DER is accepted */
	snprintf(path, sizeof(path), "%s/leaf.der", dir);
	dlen = i2d_X509(f->leaf, &der);
	write_tmp(path, der, (size_t)dlen);
	assert_non_null(x = pki_load_cert(path, &err));
	X509_free(x);
	/* truncated DER is refused with the file named */
	write_tmp(path, der, (size_t)dlen / 2);
	assert_null(pki_load_cert(path, &err));
	assert_non_null(strstr(err.msg, path));
	OPENSSL_free(der);
	/* a key where a cert is expected */
	assert_int_equal(pki_key_to_pem(f->leaf_key, NULL, &pem, &len, &err), 0);
	snprintf(path, sizeof(path), "%s/leaf.key", dir);
	write_tmp(path, pem, len);
	OPENSSL_clear_free(pem, len);
	assert_null(pki_load_cert(path, &err));
	assert_non_null(strstr(err.msg, "a private key, not a certificate"));
	/* encrypted key: no passphrase, wrong passphrase, right passphrase */
	assert_int_equal(pki_key_to_pem(f->leaf_key, "right", &pem, &len, &err), 0);
	write_tmp(path, pem, len);
	OPENSSL_clear_free(pem, len);
	assert_null(pki_load_key(path, NULL, &err));
	assert_non_null(strstr(err.msg, "protected by a passphrase"));
	assert_null(pki_load_key(path, "wrong", &err));
	assert_non_null(strstr(err.msg, "wrong passphrase"));
	assert_non_null(k = pki_load_key(path, "right", &err));
	assert_true(pki_key_matches_cert(k, f->leaf));
	EVP_PKEY_free(k);
	/* empty file */
	snprintf(path, sizeof(path), "%s/empty.crt", dir);
	write_tmp(path, "", 0);
	assert_null(pki_load_cert(path, &err));
	assert_non_null(strstr(err.msg, "empty"));
	snprintf(path, sizeof(path), "rm -rf '%s'", dir);
	assert_int_equal(system(path), 0);
}


static void
write_pem_certs(const char *path, X509 *a, X509 *b)
{
	X509 *both[2] = { a, b };
	char *pem;
	size_t len;
	tg_err err = { 0 };

	assert_int_equal(pki_certs_to_pem(both, b != NULL ? 2 : 1, &pem, &len, &err), 0);
	write_tmp(path, pem, len);
	free(pem);
}

static void
write_pem_key(const char *path, EVP_PKEY *key, const char *pass)
{
	char *pem;
	size_t len;
	tg_err err = { 0 };

	assert_int_equal(pki_key_to_pem(key, pass, &pem, &len, &err), 0);
	write_tmp(path, pem, len);
	OPENSSL_clear_free(pem, len);
}

/* pki_load_pair: one table of mix-ups, each with its own words naming the
 * files and the caller's options. */
/* fmt with every '@' replaced by dir. */
static void
subst(char *out, size_t cap, const char *fmt, const char *dir)
{
	size_t n = 0;

	for (; *fmt != '\0' && n + strlen(dir) + 1 < cap; fmt++)
		if (*fmt == '@')
			n += (size_t)snprintf(out + n, cap - n, "%s", dir);
		else
			out[n++] = *fmt;
	out[n] = '\0';
}

static void
test_load_pair(void **state)
{
	fixture *f = *state;
	char dir[] = "/tmp/tlsgate-pair-XXXXXX", crt[300], key[300], enc[300], rev[300],
	    other[300], want[1024];
	pki_pair pair;
	tg_err err = { 0 };
	struct {
		const char *cert, *key, *copt, *kopt;
		pki_pass pass;
		const char *fmt; /* expected message, @ = dir; NULL: loads */
	} cases[] = {
		{ crt, key, "cert", "key", { 0 }, NULL },
		{ rev, key, "cert", "key", { 0 }, "@/rev.crt is in the wrong order: the certificate for key @/leaf.key is number 2" },
		{ key, crt, "cert", "key", { 0 }, "certificate and key are swapped: @/leaf.key holds a private key and @/leaf.crt a certificate; pass --cert @/leaf.crt --key @/leaf.key" },
		{ key, crt, NULL, NULL, { 0 }, "certificate and key are swapped: @/leaf.key holds a private key and @/leaf.crt a certificate; exchange their names" },
		{ crt, crt, "cert", "tls-key", { 0 }, "key @/leaf.crt holds a certificate, not a private key: give --tls-key the key the certificate @/leaf.crt was issued for" },
		{ key, key, "c", "k", { 0 }, "certificate @/leaf.key holds a private key, not a certificate: give --c the certificate (chain) issued for key @/leaf.key" },
		{ crt, other, "cert", "key", { 0 }, "key @/other.key does not match certificate @/leaf.crt: give --key the key this certificate was issued for" },
		{ crt, enc, "cert", "key", { .option = "pass-file" }, "--key: @/enc.key is protected by a passphrase; give --pass-file FILE" },
		{ crt, enc, "cert", "key", { .option = "pass-file", .command = "echo wrong", .command_option = "pass-cmd" }, "--key: cannot decrypt @/enc.key: wrong passphrase (the first line printed by --pass-cmd)" },
		{ crt, enc, "cert", "key", { .option = "pass-file", .command = "echo right; exit 4" }, "--pass-command: the command exited with status 4" },
		{ crt, enc, "cert", "key", { .option = "pass-file", .command = "printf right" }, NULL },
		{ crt, enc, "cert", "key", { .option = "pass-file", .file = "-", .no_stdin = 1 }, "--pass-file -: standard input cannot give the passphrase here" },
	};

	assert_non_null(mkdtemp(dir));
	snprintf(crt, sizeof(crt), "%s/leaf.crt", dir);
	snprintf(key, sizeof(key), "%s/leaf.key", dir);
	snprintf(enc, sizeof(enc), "%s/enc.key", dir);
	snprintf(rev, sizeof(rev), "%s/rev.crt", dir);
	snprintf(other, sizeof(other), "%s/other.key", dir);
	write_pem_certs(crt, f->leaf, f->root);
	write_pem_certs(rev, f->root, f->leaf);
	write_pem_key(key, f->leaf_key, NULL);
	write_pem_key(enc, f->leaf_key, "right");
	write_pem_key(other, f->other_key, NULL);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = pki_load_pair(cases[i].cert, cases[i].key, cases[i].copt, cases[i].kopt,
		    &cases[i].pass, &pair, &err);
		pki_pass_clear(&cases[i].pass);
		if (cases[i].fmt == NULL) {
			if (rc != 0)
				fail_msg("case %zu: %s", i, err.msg);
			assert_true(pki_key_matches_cert(pair.key, pair.leaf));
			assert_int_equal(sk_X509_num(pair.chain), 1);
			pki_pair_clear(&pair);
			continue;
		}
		assert_int_equal(rc, -1);
		assert_null(pair.leaf);
		assert_null(pair.key);
		subst(want, sizeof(want), cases[i].fmt, dir);
		if (strstr(err.msg, want) == NULL)
			fail_msg("case %zu: expected '%s' in '%s'", i, want, err.msg);
		assert_null(strstr(err.msg, "right")); /* no passphrase in a message */
	}
	pki_pair_clear(NULL);
	snprintf(want, sizeof(want), "rm -rf '%s'", dir);
	assert_int_equal(system(want), 0);
}

/* CRL URLs: http(s) with a host, printable ASCII; into the certificate as
 * one distribution point, read back in order. */
static void
test_crl_urls(void **state)
{
	fixture *f = *state;
	static const char *const good[] = { "http://pki.example.com/ca.crl", "https://x/y" };
	static const char *const bad[] = { "ftp://x/ca.crl", "ldap://x", "http://", "http:///a",
		"https://a b/c", "http://a\x01/c", "HTTP", "" };
	char text[512];
	pki_profile p;
	unsigned char serial[PKI_SERIAL_LEN];
	tg_err err = { 0 };
	X509 *x;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_int_equal(pki_crl_url_check(good[i], &err), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(pki_crl_url_check(bad[i], &err), -1);
		assert_int_equal(err.cat, TG_ERR_USAGE);
	}
	assert_int_equal(pki_profile_leaf(&p, PKI_PROFILE_SERVER, "cdp.example", NULL, 0, 86400,
	    &err), 0);
	p.crl_urls = good;
	p.ncrl_urls = 2;
	assert_int_equal(pki_serial_random(serial, &err), 0);
	assert_non_null(x = pki_cert_build(&p, f->leaf_key, f->root, f->root_key, serial,
	    sizeof(serial), &err));
	pki_cert_crl_urls(x, text, sizeof(text));
	assert_string_equal(text, "URI:http://pki.example.com/ca.crl,URI:https://x/y");
	X509_free(x);
	pki_cert_crl_urls(f->leaf, text, sizeof(text));
	assert_string_equal(text, "");
}

/* --- Names of a certificate as text --- */

static void
add_entry(X509 *x, int nid, int type, const char *bytes, size_t len)
{
	X509_NAME_ENTRY *e = X509_NAME_ENTRY_create_by_NID(NULL, nid, type,
	    (const unsigned char *)bytes, (int)len);

	assert_non_null(e);
	assert_int_equal(X509_NAME_add_entry(X509_get_subject_name(x), e, -1, 0), 1);
	X509_NAME_ENTRY_free(e);
}

static void
add_san(GENERAL_NAMES *gens, int type, const char *bytes, size_t len)
{
	GENERAL_NAME *g = GENERAL_NAME_new();
	ASN1_STRING *s = type == GEN_IPADD ? ASN1_OCTET_STRING_new() : ASN1_IA5STRING_new();

	assert_non_null(g);
	assert_int_equal(ASN1_STRING_set(s, bytes, (int)len), 1);
	GENERAL_NAME_set0_value(g, type, s);
	assert_true(sk_GENERAL_NAME_push(gens, g) > 0);
}

static X509 *
with_sans(GENERAL_NAMES *gens)
{
	X509 *x = X509_new();

	assert_non_null(x);
	if (gens != NULL) {
		assert_int_equal(X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 0, 0), 1);
		GENERAL_NAMES_free(gens);
	}
	return x;
}

struct seen {
	char text[8][128];
	const char *bad[8];
	size_t n;
};

static int
see(const pki_name *n, void *arg)
{
	struct seen *s = arg;

	assert_true(s->n < 8);
	snprintf(s->text[s->n], sizeof(s->text[0]), "%s%.*s", n->prefix, (int)n->len, n->value);
	s->bad[s->n++] = n->bad;
	return 0;
}

/* IPv6 addresses read as inspect and the rules write them (not hex bytes);
 * subject attributes come as UTF-8 whatever their ASN.1 type; a comma in a
 * value is escaped in the list inspect prints. */
static void
test_cert_names(void **state)
{
	static const unsigned char v6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };
	static const char bmp_alice[] = { 0, 'a', 0, 'l', 0, 'i', 0, 'c', 0, 'e' };
	static const char uri[] = "spiffe://example.com/m,DNS:alice.example.com";
	GENERAL_NAMES *gens = GENERAL_NAMES_new();
	struct seen sans = { 0 }, cn = { 0 }, ou = { 0 };
	char list[512];
	X509 *x;

	add_san(gens, GEN_DNS, "a.example.com", 13);
	add_san(gens, GEN_IPADD, (const char *)v6, 16);
	add_san(gens, GEN_IPADD, "\x0a\x00\x00\x05", 4);
	add_san(gens, GEN_URI, uri, strlen(uri));
	add_san(gens, GEN_EMAIL, "a@example.com", 13);
	x = with_sans(gens);
	add_entry(x, NID_commonName, V_ASN1_BMPSTRING, bmp_alice, sizeof(bmp_alice));
	add_entry(x, NID_organizationalUnitName, V_ASN1_UTF8STRING, "eng", 3);
	add_entry(x, NID_organizationalUnitName, V_ASN1_UTF8STRING, "M\xc3\xbcnchen", 8);

	assert_int_equal(pki_cert_san_each(x, see, &sans), 0);
	assert_int_equal(sans.n, 5);
	assert_string_equal(sans.text[0], "DNS:a.example.com");
	assert_string_equal(sans.text[1], "IP:2001:db8::1");
	assert_string_equal(sans.text[2], "IP:10.0.0.5");
	assert_string_equal(sans.text[3], "URI:spiffe://example.com/m,DNS:alice.example.com");
	assert_string_equal(sans.text[4], "email:a@example.com");
	for (size_t i = 0; i < sans.n; i++)
		assert_null(sans.bad[i]);
	assert_int_equal(pki_cert_subject_each(x, NID_commonName, see, &cn), 0);
	assert_int_equal(cn.n, 1);
	assert_string_equal(cn.text[0], "alice");
	pki_cert_cn(x, list, sizeof(list));
	assert_string_equal(list, "alice");
	assert_int_equal(pki_cert_subject_each(x, NID_organizationalUnitName, see, &ou), 0);
	assert_int_equal(ou.n, 2);
	assert_string_equal(ou.text[1], "M\xc3\xbcnchen");
	assert_null(ou.bad[1]);

	pki_cert_sans(x, list, sizeof(list));
	assert_string_equal(list, "DNS:a.example.com,IP:2001:db8::1,IP:10.0.0.5,"
	    "URI:spiffe://example.com/m%2CDNS:alice.example.com,email:a@example.com");
	/* Cut at a name, never inside one. */
	pki_cert_sans(x, list, 40);
	assert_string_equal(list, "DNS:a.example.com,IP:2001:db8::1");
	X509_free(x);
}

#define S(lit) lit, sizeof(lit) - 1

/* A value whose C string says another name than the certificate: refused
 * with the reason, for every kind of name. */
static void
test_cert_names_flawed(void **state)
{
	static const struct {
		int san;  /* GEN_* for a SAN, else a subject attribute */
		int nid;
		const char *bytes;
		size_t len;
		const char *why;
	} cases[] = {
		{ 0, NID_commonName, S("alice\0.evil"), "the CN holds a NUL byte" },
		{ 0, NID_commonName, S("alice\r\nX: 1"), "the CN holds a control character" },
		{ 0, NID_commonName, S("alice\x7f"), "the CN holds a control character" },
		{ 0, NID_commonName, S("alice\xc2\x85"), "the CN holds a control character" },
		{ 0, NID_organizationalUnitName, S("eng\0ops"), "an OU holds a NUL byte" },
		{ GEN_DNS, 0, S("alice.example.com\0.evil"), "a DNS SAN holds a NUL byte" },
		{ GEN_URI, 0, S("spiffe://x/a\0b"), "a URI SAN holds a NUL byte" },
		{ GEN_EMAIL, 0, S("a@example.com\t"), "an email SAN holds a control character" },
		{ GEN_IPADD, 0, S("\x0a\x00\x00\x05\x01"), "an IP SAN is not 4 or 16 bytes" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct seen seen = { 0 };
		GENERAL_NAMES *gens = NULL;
		X509 *x;

		if (cases[i].san != 0) {
			gens = GENERAL_NAMES_new();
			add_san(gens, cases[i].san, cases[i].bytes, cases[i].len);
		}
		x = with_sans(gens);
		if (cases[i].san == 0) {
			add_entry(x, cases[i].nid, V_ASN1_UTF8STRING, cases[i].bytes, cases[i].len);
			assert_int_equal(pki_cert_subject_each(x, cases[i].nid, see, &seen), 0);
		} else {
			assert_int_equal(pki_cert_san_each(x, see, &seen), 0);
		}
		assert_int_equal(seen.n, 1);
		assert_non_null(seen.bad[0]);
		assert_string_equal(seen.bad[0], cases[i].why);
		if (i == 0) { /* shown, never as the shorter name it would read as */
			char cn[64];
			pki_cert_cn(x, cn, sizeof(cn));
			assert_string_equal(cn, "alice%00.evil");
		}
		X509_free(x);
	}
}

static void
test_name_escape(void **state)
{
	char out[16];

	assert_int_equal(pki_name_escape(out, sizeof(out), "a,b%c", 5), 9);
	assert_string_equal(out, "a%2Cb%25c");
	assert_int_equal(pki_name_escape(out, sizeof(out), "x\0y\r\xff", 5), 11);
	assert_string_equal(out, "x%00y%0D%FF");
	/* Too small: no half escape, the length of the whole. */
	assert_int_equal(pki_name_escape(out, 4, "ab,cd", 5), 7);
	assert_string_equal(out, "ab");
}

/* A CSR signed by key whose subject holds the given (field, bytes) pairs. */
static X509_REQ *
hostile_csr(EVP_PKEY *key, const char *const *fields, const char *const *values,
    const int *lens, int n)
{
	X509_REQ *req = X509_REQ_new();
	X509_NAME *name = X509_NAME_new();

	for (int i = 0; i < n; i++)
		assert_int_equal(X509_NAME_add_entry_by_txt(name, fields[i], MBSTRING_UTF8,
		    (const unsigned char *)values[i], lens[i], -1, 0), 1);
	assert_int_equal(X509_REQ_set_subject_name(req, name), 1);
	assert_int_equal(X509_REQ_set_pubkey(req, key), 1);
	assert_true(X509_REQ_sign(req, key, EVP_sha256()) > 0);
	X509_NAME_free(name);
	return req;
}

static void
test_csr_hostile_names(void **state)
{
	fixture *f = *state;
	static const struct {
		const char *fields[2], *values[2];
		int lens[2], n;
		const char *why;
	} cases[] = {
		/* A NUL used to cut the CN at "alice". */
		{ { "CN" }, { "alice\0.evil.example" }, { 19 }, 1,
		  "the subject's CN holds a control character (byte 0x00 at offset 5)" },
		{ { "CN" }, { "bob\r\nIssued x" }, { 13 }, 1,
		  "the subject's CN holds a control character (byte 0x0D at offset 3)" },
		{ { "CN", "OU" }, { "carol", "ops\x1b[2J" }, { 5, 7 }, 2,
		  "the subject's OU holds a control character (byte 0x1B at offset 3)" },
		{ { "CN", "O" }, { "dave", "x\x7f" }, { 4, 2 }, 2,
		  "the subject's O holds a control character (byte 0x7F at offset 1)" },
		{ { "CN" }, { "x\xc2\x9b" "31my" }, { 7 }, 1,
		  "the subject's CN holds a control character (byte 0xC2 at offset 1)" },
		/* Two CNs: which is the name depends on the service. */
		{ { "CN", "CN" }, { "alice", "admin" }, { 5, 5 }, 2, "the subject holds 2 CNs" },
	};
	pki_profile *p = calloc(1, sizeof(*p));
	tg_err err = { 0 };

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		X509_REQ *req = hostile_csr(f->leaf_key, cases[i].fields, cases[i].values,
		    cases[i].lens, cases[i].n);
		tg_err_clear(&err);
		assert_int_equal(pki_csr_to_profile(req, "h.csr", PKI_PROFILE_CLIENT, 60, p, &err), -1);
		if (strstr(err.msg, cases[i].why) == NULL)
			fail_msg("case %zu: '%s' not in '%s'", i, cases[i].why, err.msg);
		assert_int_equal(err.cat, TG_ERR_CONFIG);
		X509_REQ_free(req);
	}
	/* UTF-8 beyond ASCII is a name like any other. */
	{
		const char *fields[] = { "CN" }, *values[] = { "m\xc3\xbcller" };
		int lens[] = { 7 };
		X509_REQ *req = hostile_csr(f->leaf_key, fields, values, lens, 1);
		assert_int_equal(pki_csr_to_profile(req, "u.csr", PKI_PROFILE_CLIENT, 60, p, &err), 0);
		assert_string_equal(p->cn, "m\xc3\xbcller");
		X509_REQ_free(req);
	}
	/* Control characters are refused in SANs and names given on the command line. */
	pki_san san;
	assert_int_equal(pki_san_parse("URI:spiffe://a/b\r\nx", &san, &err), -1);
	assert_non_null(strstr(err.msg, "control character"));
	assert_int_equal(pki_san_parse("email:a\x1b@b.example", &san, &err), -1);
	assert_int_equal(pki_profile_leaf(p, PKI_PROFILE_CLIENT, "dev\x1b[2J", NULL, 0, 60, &err), -1);
	assert_non_null(strstr(err.msg, "control characters"));
	free(p);
}

/* A certificate whose public key does not decode (a P-256 point off the
 * curve): X509_get0_pubkey gives NULL, and describing it must not crash. */
static void
test_undecodable_public_key(void **state)
{
	fixture *f = *state;
	unsigned char *der = NULL;
	const unsigned char *cp;
	char desc[64];
	int len = i2d_X509(f->leaf, &der), patched = 0;
	X509 *x;

	for (int i = 0; i + 4 < len; i++) {
		if (memcmp(der + i, "\x03\x42\x00\x04", 4) == 0) {
			der[i + 4] = 0x07;
			patched = 1;
			break;
		}
	}
	assert_true(patched);
	cp = der;
	assert_non_null(x = d2i_X509(NULL, &cp, len));
	assert_null(X509_get0_pubkey(x));
	pki_key_describe(X509_get0_pubkey(x), desc, sizeof(desc));
	assert_string_equal(desc, "unreadable public key");
	assert_false(pki_key_matches_cert(f->leaf_key, x));
	assert_false(pki_key_matches_cert(NULL, x));
	assert_false(pki_key_matches_cert(f->leaf_key, NULL));
	X509_free(x);
	OPENSSL_free(der);
}

/* pki_pass: the file's first line, the option named in every message, and
 * the value read once. */
static void
test_pass_sources(void **state)
{
	fixture *f = *state;
	char dir[] = "/tmp/tlsgate-pass-XXXXXX", path[256], keypath[256], cmd[300], *pem;
	pki_pass p = { .option = "key-pass-file" };
	size_t len;
	tg_err err = { 0 };
	EVP_PKEY *k;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/pass", dir);
	snprintf(keypath, sizeof(keypath), "%s/enc.key", dir);
	assert_int_equal(pki_key_to_pem(f->leaf_key, "s3cret", &pem, &len, &err), 0);
	write_tmp(keypath, pem, len);
	OPENSSL_clear_free(pem, len);

	/* No source: the message names the option given, nothing else. */
	assert_false(pki_pass_available(&p));
	assert_null(pki_load_key_pass(keypath, &p, &err));
	assert_non_null(strstr(err.msg, "is protected by a passphrase; give --key-pass-file FILE"));
	assert_null(strstr(err.msg, "key decrypt"));
	assert_null(strstr(err.msg, " --pass-file"));
	/* A library caller without an option: no option suggested. */
	assert_null(pki_load_key(keypath, NULL, &err));
	assert_non_null(strstr(err.msg, "protected by a passphrase; none was given"));

	/* The first line of a file; CR/LF and later lines ignored. */
	write_tmp(path, "s3cret\r\nnext line\n", 18);
	p.file = path;
	assert_non_null(k = pki_load_key_pass(keypath, &p, &err));
	assert_true(pki_key_matches_cert(k, f->leaf));
	EVP_PKEY_free(k);
	assert_string_equal(p.value, "s3cret");
	pki_pass_clear(&p);
	assert_null(p.value);

	/* A wrong one names where it came from. */
	write_tmp(path, "nope\n", 5);
	assert_null(pki_load_key_pass(keypath, &p, &err));
	assert_non_null(strstr(err.msg, "wrong passphrase (the first line of"));
	assert_non_null(strstr(err.msg, ", --key-pass-file)"));
	pki_pass_clear(&p);

	/* An environment variable naming the file, when the option is absent. */
	p.file = NULL;
	p.env = "TLSGATE_TEST_PASS_FILE";
	write_tmp(path, "s3cret\n", 7);
	setenv("TLSGATE_TEST_PASS_FILE", path, 1);
	assert_non_null(k = pki_load_key_pass(keypath, &p, &err));
	EVP_PKEY_free(k);
	unsetenv("TLSGATE_TEST_PASS_FILE");
	pki_pass_clear(&p);
	pki_pass_fix(&p, cmd, sizeof(cmd));
	assert_non_null(strstr(cmd, "or set $TLSGATE_TEST_PASS_FILE"));

	/* An unencrypted key needs no passphrase and asks for none. */
	assert_int_equal(pki_key_to_pem(f->leaf_key, NULL, &pem, &len, &err), 0);
	write_tmp(keypath, pem, len);
	OPENSSL_clear_free(pem, len);
	p.env = NULL;
	assert_non_null(k = pki_load_key_pass(keypath, &p, &err));
	EVP_PKEY_free(k);
	assert_null(p.value);

	/* A missing file names the option. */
	p.file = "/nonexistent/pass";
	assert_int_equal(pki_pass_get(&p, "x", 0, &err), -1);
	assert_non_null(strstr(err.msg, "--key-pass-file"));
	assert_non_null(strstr(err.msg, "no such file"));
	/* "-": the first line of standard input, once. */
	{
		int fds[2], saved = dup(STDIN_FILENO);
		pki_pass other = { .option = "pass-file", .file = "-" };
		char rest[16] = "";
		assert_int_equal(pipe(fds), 0);
		assert_int_equal(write(fds[1], "from stdin\nrest\n", 16), 16);
		close(fds[1]);
		assert_int_equal(dup2(fds[0], STDIN_FILENO), STDIN_FILENO);
		close(fds[0]);
		p.file = "-";
		assert_int_equal(pki_pass_get(&p, "x", 0, &err), 0);
		assert_string_equal(p.value, "from stdin");
		/* Only the line was read. */
		assert_int_equal(read(STDIN_FILENO, rest, sizeof(rest) - 1), 5);
		assert_string_equal(rest, "rest\n");
		assert_int_equal(pki_pass_get(&other, "y", 0, &err), -1);
		assert_non_null(strstr(err.msg, "standard input already gave the passphrase of "
		    "--key-pass-file"));
		pki_pass_clear(&p);
		dup2(saved, STDIN_FILENO);
		close(saved);
	}
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

/* The PEM splitter: each case's blocks as "LABEL@LINE" with flags (c: cut
 * short, m: END of another label), and the facts around them. */
static int
pem_collect(const pki_pem_block *b, void *arg)
{
	char *out = arg;
	size_t used = strlen(out);

	snprintf(out + used, 256 - used, "%s%d:%s@%zu%s%s", used ? " " : "", b->number, b->label,
	    b->line, b->cut_short ? "c" : "", b->end_mismatch ? "m" : "");
	return 0;
}

static void
test_pem_split(void **state)
{
	static const struct {
		const char *text;
		const char *blocks;
		int crlf, junk;
		size_t junk_line;
	} cases[] = {
		{ "-----BEGIN A-----\nQUJD\n-----END A-----\n", "1:A@1", 0, 0, 0 },
		{ "-----BEGIN A-----\r\nQUJD\r\n-----END A-----\r\n", "1:A@1", 1, 0, 0 },
		{ "text\n-----BEGIN A-----\nQUJD\n-----END A-----\n\nmore\n", "1:A@2", 0, 1, 1 },
		{ "-----BEGIN A-----\nQUJD\n", "1:A@1c", 0, 0, 0 },
		{ "-----BEGIN A-----\nQUJD\n-----END B-----\n", "1:A@1m", 0, 0, 0 },
		{ "-----BEGIN A-----\nQUJD\n-----END A\n", "1:A@1m", 0, 0, 0 },
		{ "-----BEGIN A-----\nQU\n-----BEGIN B-----\nQUJD\n-----END B-----\n",
		  "1:A@1c 2:B@3", 0, 0, 0 },
		/* Trailing blanks are no part of the line; no label, a control
		 * character or 64 bytes make no BEGIN line at all. */
		{ "-----BEGIN A-----  \t\nQUJD\n-----END A----- \n", "1:A@1", 0, 0, 0 },
		{ "-----BEGIN -----\n", "", 0, 1, 1 },
		{ "-----BEGIN A\x01-----\n", "", 0, 1, 1 },
		{ "-----BEGIN AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA-----\n",
		  "", 0, 1, 1 },
		{ "-----END A-----\n", "", 0, 1, 1 },
		{ "-----BEGIN A-----", "1:A@1c", 0, 0, 0 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char got[256] = "";
		pki_pem_info info;
		const unsigned char *t = (const unsigned char *)cases[i].text;

		assert_int_equal(pki_pem_split(t, strlen(cases[i].text), pem_collect, got, &info), 0);
		if (strcmp(got, cases[i].blocks) != 0)
			fail_msg("case %zu: blocks \"%s\", wanted \"%s\"", i, got, cases[i].blocks);
		assert_int_equal(info.crlf, cases[i].crlf);
		assert_int_equal(info.junk, cases[i].junk);
		assert_int_equal(info.junk_line, cases[i].junk_line);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_key_types),
		cmocka_unit_test(test_san_parse),
		cmocka_unit_test(test_leaf_profile_has_name_as_san),
		cmocka_unit_test(test_cert_extensions),
		cmocka_unit_test(test_verify_ok_and_failures),
		cmocka_unit_test(test_validity_capped_and_expired_issuer),
		cmocka_unit_test(test_key_match),
		cmocka_unit_test(test_csr_roundtrip_and_tamper),
		cmocka_unit_test(test_crl_revokes),
		cmocka_unit_test(test_p12_both_flavours),
		cmocka_unit_test(test_load_p12),
		cmocka_unit_test(test_load_errors),
		cmocka_unit_test(test_load_pair),
		cmocka_unit_test(test_crl_urls),
		cmocka_unit_test(test_cert_names),
		cmocka_unit_test(test_cert_names_flawed),
		cmocka_unit_test(test_name_escape),
		cmocka_unit_test(test_csr_hostile_names),
		cmocka_unit_test(test_undecodable_public_key),
		cmocka_unit_test(test_pass_sources),
		cmocka_unit_test(test_pem_split),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
