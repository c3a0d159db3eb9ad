#define _GNU_SOURCE
#include <jansson.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "tlsgate/pki.h"
#include "tlsgate/util.h"

static const char inspect_help[] =
"Usage: tlsgate inspect FILE [--json] [--pass-file F]\n"
"\n"
"Shows what FILE holds: each certificate of a chain (subject, issuer, serial,\n"
"validity, key, SANs, key usages, CA flag, SHA-256 fingerprint), a CSR, a CRL\n"
"(issuer, number, dates, revoked serials), a private key (type, encrypted or not)\n"
"or a PKCS#12 bundle (opened with the password from --pass-file, else empty).\n"
"PEM and DER are both read. --json gives the same as a JSON object:\n"
"{\"file\", \"type\": certificates|csr|crl|key|pkcs12, \"certificates\": [...], ...}\n"
"\n"
"Example:\n"
"  tlsgate inspect /etc/ssl/private/fullchain.pem\n";

static const char *
ext_text(X509 *x, int nid, char *buf, size_t len)
{
	int idx = X509_get_ext_by_NID(x, nid, -1);
	BIO *bio;
	BUF_MEM *mem;

	buf[0] = '\0';
	if (idx < 0 || (bio = BIO_new(BIO_s_mem())) == NULL)
		return buf;
	if (X509V3_EXT_print(bio, X509_get_ext(x, idx), 0, 0) == 1) {
		BIO_get_mem_ptr(bio, &mem);
		snprintf(buf, len, "%.*s", (int)mem->length, mem->data);
	}
	BIO_free(bio);
	return buf;
}

static json_t *
cert_json(X509 *x)
{
	char subject[1024], issuer[1024], serial[64], fp[65], nb[32], na[32], key[64];
	char sans[4096], ku[256], eku[256], bc[128];
	int sig_nid = X509_get_signature_nid(x);

	pki_name_oneline(X509_get_subject_name(x), subject, sizeof(subject));
	pki_name_oneline(X509_get_issuer_name(x), issuer, sizeof(issuer));
	pki_cert_serial_hex(x, serial, sizeof(serial));
	pki_cert_fingerprint(x, fp);
	pki_time_format(pki_asn1_time_unix(X509_get0_notBefore(x)), nb, sizeof(nb));
	pki_time_format(pki_asn1_time_unix(X509_get0_notAfter(x)), na, sizeof(na));
	pki_key_describe(X509_get0_pubkey(x), key, sizeof(key));
	pki_cert_sans(x, sans, sizeof(sans));
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:b}",
	    "subject", subject, "issuer", issuer, "serial", serial, "not_before", nb,
	    "not_after", na, "key", key, "signature", OBJ_nid2ln(sig_nid), "sans", sans,
	    "key_usage", ext_text(x, NID_key_usage, ku, sizeof(ku)),
	    "extended_key_usage", ext_text(x, NID_ext_key_usage, eku, sizeof(eku)),
	    "basic_constraints", ext_text(x, NID_basic_constraints, bc, sizeof(bc)),
	    "fingerprint_sha256", fp, "self_signed", X509_check_issued(x, x) == X509_V_OK);
}

static void
print_cert(json_t *c, int i, int n)
{
	static const char *const fields[][2] = {
		{ "subject", "Subject" }, { "issuer", "Issuer" }, { "serial", "Serial" },
		{ "not_before", "Not before" }, { "not_after", "Not after" }, { "key", "Key" },
		{ "signature", "Signature" }, { "sans", "SANs" }, { "key_usage", "Key usage" },
		{ "extended_key_usage", "Ext. key usage" }, { "basic_constraints", "Basic constr." },
		{ "fingerprint_sha256", "SHA-256" },
	};

	if (n > 1)
		printf("Certificate %d of %d%s\n", i + 1, n, i == 0 ? " (leaf)" : "");
	else
		printf("Certificate\n");
	for (size_t f = 0; f < sizeof(fields) / sizeof(fields[0]); f++) {
		const char *v = json_string_value(json_object_get(c, fields[f][0]));
		if (v != NULL && *v != '\0')
			printf("  %-15s %s\n", fields[f][1], v);
	}
}

static json_t *
inspect_certs(STACK_OF(X509) *certs)
{
	json_t *arr = json_array();

	for (int i = 0; i < sk_X509_num(certs); i++)
		json_array_append_new(arr, cert_json(sk_X509_value(certs, i)));
	return arr;
}

static json_t *
inspect_crl(X509_CRL *crl)
{
	char issuer[1024], last[32], next[32], serial[64];
	STACK_OF(X509_REVOKED) *rev = X509_CRL_get_REVOKED(crl);
	ASN1_INTEGER *num = X509_CRL_get_ext_d2i(crl, NID_crl_number, NULL, NULL);
	json_t *serials = json_array();
	long number = num ? ASN1_INTEGER_get(num) : -1;

	ASN1_INTEGER_free(num);
	pki_name_oneline(X509_CRL_get_issuer(crl), issuer, sizeof(issuer));
	pki_time_format(pki_asn1_time_unix(X509_CRL_get0_lastUpdate(crl)), last, sizeof(last));
	pki_time_format(pki_asn1_time_unix(X509_CRL_get0_nextUpdate(crl)), next, sizeof(next));
	for (int i = 0; i < sk_X509_REVOKED_num(rev); i++) {
		BIGNUM *bn = ASN1_INTEGER_to_BN(X509_REVOKED_get0_serialNumber(
		    sk_X509_REVOKED_value(rev, i)), NULL);
		char *hex = bn ? BN_bn2hex(bn) : NULL;
		snprintf(serial, sizeof(serial), "%s", hex ? hex : "?");
		json_array_append_new(serials, json_string(serial));
		OPENSSL_free(hex);
		BN_free(bn);
	}
	return json_pack("{s:s, s:I, s:s, s:s, s:o}", "issuer", issuer, "crl_number",
	    (json_int_t)number, "last_update", last, "next_update", next, "revoked", serials);
}

static int
inspect_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "pass-file", required_argument, NULL, 'p' },
		{ NULL, 0, NULL, 0 },
	};
	const char *pass_file = NULL, *path;
	char *pass = NULL, desc[64];
	unsigned char *data = NULL;
	size_t len = 0;
	json_t *out = NULL;
	STACK_OF(X509) *certs = NULL;
	int c, rc = 1, json = 0;
	tg_err err = { 0 };

	while ((c = cli_getopt(argc, argv, opts, "inspect")) != -1) {
		switch (c) {
		case 'j': json = 1; break;
		case 'p': pass_file = optarg; break;
		default: return 2;
		}
	}
	if (optind + 1 != argc)
		return cli_usage("inspect", "give one FILE");
	path = argv[optind];
	if (cli_read_pass(pass_file, &pass, &err) != 0 || util_read_file(path, &data, &len, &err) != 0)
		goto fail;
	out = json_pack("{s:s}", "file", path);
	if (memmem(data, len, "PRIVATE KEY-----", 16) != NULL) {
		int enc = pki_key_file_encrypted(path);
		json_object_set_new(out, "type", json_string("key"));
		json_object_set_new(out, "encrypted", json_boolean(enc));
		if (!enc || pass != NULL) {
			EVP_PKEY *key = pki_load_key(path, pass, &err);
			if (key == NULL)
				goto fail;
			pki_key_describe(key, desc, sizeof(desc));
			json_object_set_new(out, "key", json_string(desc));
			EVP_PKEY_free(key);
		}
	} else if (memmem(data, len, "CERTIFICATE REQUEST-----", 24) != NULL) {
		X509_REQ *csr = pki_load_csr(path, &err);
		pki_profile *p = calloc(1, sizeof(*p));
		if (csr == NULL || p == NULL ||
		    pki_csr_to_profile(csr, path, PKI_PROFILE_CLIENT, 1, p, &err) != 0) {
			X509_REQ_free(csr);
			free(p);
			goto fail;
		}
		json_t *sans = json_array();
		for (size_t i = 0; i < p->nsans; i++) {
			char s[PKI_NAME_MAX + 8];
			pki_san_format(&p->sans[i], s, sizeof(s));
			json_array_append_new(sans, json_string(s));
		}
		pki_key_describe(X509_REQ_get0_pubkey(csr), desc, sizeof(desc));
		json_object_set_new(out, "type", json_string("csr"));
		json_object_set_new(out, "cn", json_string(p->cn));
		json_object_set_new(out, "sans", sans);
		json_object_set_new(out, "key", json_string(desc));
		json_object_set_new(out, "signature_valid", json_true());
		X509_REQ_free(csr);
		free(p);
	} else if (memmem(data, len, "X509 CRL-----", 13) != NULL) {
		X509_CRL *crl = pki_load_crl(path, &err);
		if (crl == NULL)
			goto fail;
		json_object_set_new(out, "type", json_string("crl"));
		json_object_set_new(out, "crl", inspect_crl(crl));
		X509_CRL_free(crl);
	} else if (memmem(data, len, "-----BEGIN", 10) != NULL ||
	    pki_load_certs(path, &certs, NULL) == 0) {
		/* PEM that is none of the above must be certificates: say what is wrong. */
		if (certs == NULL && pki_load_certs(path, &certs, &err) != 0)
			goto fail;
		json_object_set_new(out, "type", json_string("certificates"));
		json_object_set_new(out, "certificates", inspect_certs(certs));
	} else {
		const unsigned char *p = data;
		PKCS12 *p12 = d2i_PKCS12(NULL, &p, (long)len);
		EVP_PKEY *key = NULL;
		X509 *leaf = NULL;
		STACK_OF(X509) *ca = NULL;
		if (p12 == NULL) {
			tg_err_set(&err, TG_ERR_CONFIG,
			    "%s is not a certificate, chain, CSR, CRL, key or PKCS#12 file", path);
			goto fail;
		}
		if (PKCS12_parse(p12, pass ? pass : "", &key, &leaf, &ca) != 1) {
			PKCS12_free(p12);
			tg_err_ossl(&err, TG_ERR_CONFIG,
			    "cannot open PKCS#12 %s: wrong password? pass it with --pass-file", path);
			goto fail;
		}
		certs = sk_X509_new_null();
		sk_X509_push(certs, leaf);
		while (ca != NULL && sk_X509_num(ca) > 0)
			sk_X509_push(certs, sk_X509_shift(ca));
		sk_X509_free(ca);
		pki_key_describe(key, desc, sizeof(desc));
		json_object_set_new(out, "type", json_string("pkcs12"));
		json_object_set_new(out, "key", json_string(desc));
		json_object_set_new(out, "key_matches", json_boolean(pki_key_matches_cert(key, leaf)));
		json_object_set_new(out, "certificates", inspect_certs(certs));
		EVP_PKEY_free(key);
		PKCS12_free(p12);
	}
	if (json) {
		json_dumpf(out, stdout, JSON_INDENT(2));
		putchar('\n');
	} else {
		json_t *arr = json_object_get(out, "certificates");
		const char *type = json_string_value(json_object_get(out, "type"));
		printf("%s: %s\n", path, type);
		if (strcmp(type, "key") == 0)
			printf("  %s private key, %s\n",
			    json_string_value(json_object_get(out, "key")) ?
			    json_string_value(json_object_get(out, "key")) : "passphrase-protected",
			    json_is_true(json_object_get(out, "encrypted")) ? "passphrase-protected" :
			    "not encrypted");
		else if (strcmp(type, "csr") == 0) {
			json_t *sans = json_object_get(out, "sans");
			printf("  CN %s, key %s, signature valid\n  SANs", json_string_value(
			    json_object_get(out, "cn")), json_string_value(json_object_get(out, "key")));
			for (size_t i = 0; i < json_array_size(sans); i++)
				printf(" %s", json_string_value(json_array_get(sans, i)));
			putchar('\n');
		} else if (strcmp(type, "crl") == 0) {
			json_t *crl = json_object_get(out, "crl");
			printf("  Issuer %s\n  Number %lld\n  Last update %s\n  Next update %s\n"
			       "  Revoked %zu\n", json_string_value(json_object_get(crl, "issuer")),
			    (long long)json_integer_value(json_object_get(crl, "crl_number")),
			    json_string_value(json_object_get(crl, "last_update")),
			    json_string_value(json_object_get(crl, "next_update")),
			    json_array_size(json_object_get(crl, "revoked")));
		}
		for (size_t i = 0; i < json_array_size(arr); i++)
			print_cert(json_array_get(arr, i), (int)i, (int)json_array_size(arr));
	}
	rc = 0;
	goto out;
fail:
	rc = cli_fail(&err);
out:
	json_decref(out);
	sk_X509_pop_free(certs, X509_free);
	if (data != NULL)
		OPENSSL_clear_free(data, len);
	util_free_secret(pass);
	return rc;
}

const struct cli_cmd cli_inspect_cmd = { "inspect", "show what a file holds", inspect_help,
	inspect_run, NULL };
