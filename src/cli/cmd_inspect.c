#define _GNU_SOURCE
#include <jansson.h>
#include <openssl/err.h>
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
"(issuer, number, dates, revoked serials), a private key (type, encrypted or not;\n"
"plain or encrypted PKCS#8 in DER too, opened with --pass-file when given)\n"
"or a PKCS#12 bundle (opened with the password from --pass-file, else empty;\n"
"--pass-file - reads it from standard input).\n"
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

/* Every string in the JSON comes from the file: a missing one is "". */
static json_t *
jstr(const char *s)
{
	return json_string(s != NULL ? s : "");
}

static const char *
sval(json_t *o, const char *key)
{
	const char *v = json_string_value(json_object_get(o, key));

	return v != NULL ? v : "";
}

static json_t *
cert_json(X509 *x)
{
	char subject[1024], issuer[1024], serial[64], fp[65], nb[32], na[32], key[64];
	char sans[4096], ku[256], eku[256], bc[128], crl[2048];
	const char *sig = OBJ_nid2ln(X509_get_signature_nid(x));
	json_t *o = json_object();

	pki_name_oneline(X509_get_subject_name(x), subject, sizeof(subject));
	pki_name_oneline(X509_get_issuer_name(x), issuer, sizeof(issuer));
	pki_cert_serial_hex(x, serial, sizeof(serial));
	pki_cert_fingerprint(x, fp);
	pki_time_format(pki_asn1_time_unix(X509_get0_notBefore(x)), nb, sizeof(nb));
	pki_time_format(pki_asn1_time_unix(X509_get0_notAfter(x)), na, sizeof(na));
	/* NULL when the public key does not decode: described as unreadable. */
	pki_key_describe(X509_get0_pubkey(x), key, sizeof(key));
	pki_cert_sans(x, sans, sizeof(sans));
	pki_cert_crl_urls(x, crl, sizeof(crl));
	json_object_set_new(o, "subject", jstr(subject));
	json_object_set_new(o, "issuer", jstr(issuer));
	json_object_set_new(o, "serial", jstr(serial));
	json_object_set_new(o, "not_before", jstr(nb));
	json_object_set_new(o, "not_after", jstr(na));
	json_object_set_new(o, "key", jstr(key));
	json_object_set_new(o, "signature", jstr(sig != NULL ? sig : "unknown"));
	json_object_set_new(o, "sans", jstr(sans));
	json_object_set_new(o, "key_usage", jstr(ext_text(x, NID_key_usage, ku, sizeof(ku))));
	json_object_set_new(o, "extended_key_usage",
	    jstr(ext_text(x, NID_ext_key_usage, eku, sizeof(eku))));
	json_object_set_new(o, "basic_constraints",
	    jstr(ext_text(x, NID_basic_constraints, bc, sizeof(bc))));
	json_object_set_new(o, "crl_distribution_points", jstr(crl));
	json_object_set_new(o, "fingerprint_sha256", jstr(fp));
	json_object_set_new(o, "self_signed", json_boolean(X509_check_issued(x, x) == X509_V_OK));
	return o;
}

static void
print_cert(json_t *c, int i, int n)
{
	static const char *const fields[][2] = {
		{ "subject", "Subject" }, { "issuer", "Issuer" }, { "serial", "Serial" },
		{ "not_before", "Not before" }, { "not_after", "Not after" }, { "key", "Key" },
		{ "signature", "Signature" }, { "sans", "SANs" }, { "key_usage", "Key usage" },
		{ "extended_key_usage", "Ext. key usage" }, { "basic_constraints", "Basic constr." },
		{ "crl_distribution_points", "CRL at" }, { "fingerprint_sha256", "SHA-256" },
	};

	if (n > 1)
		printf("Certificate %d of %d%s\n", i + 1, n, i == 0 ? " (leaf)" : "");
	else
		printf("Certificate\n");
	for (size_t f = 0; f < sizeof(fields) / sizeof(fields[0]); f++) {
		const char *v = sval(c, fields[f][0]);
		if (*v != '\0')
			printf("  %-15s %s\n", fields[f][1], cli_safe(0, v));
	}
}

static json_t *
inspect_certs(STACK_OF(X509) *certs)
{
	json_t *arr = json_array();

	for (int i = 0; i < sk_X509_num(certs); i++)
		if (sk_X509_value(certs, i) != NULL)
			json_array_append_new(arr, cert_json(sk_X509_value(certs, i)));
	return arr;
}

static json_t *
crl_json(X509_CRL *crl)
{
	char issuer[1024], last[32], next[32], serial[64];
	STACK_OF(X509_REVOKED) *rev = X509_CRL_get_REVOKED(crl);
	ASN1_INTEGER *num = X509_CRL_get_ext_d2i(crl, NID_crl_number, NULL, NULL);
	const ASN1_TIME *nu = X509_CRL_get0_nextUpdate(crl);
	json_t *serials = json_array(), *o = json_object();
	long number = num ? ASN1_INTEGER_get(num) : -1;

	ASN1_INTEGER_free(num);
	pki_name_oneline(X509_CRL_get_issuer(crl), issuer, sizeof(issuer));
	pki_time_format(pki_asn1_time_unix(X509_CRL_get0_lastUpdate(crl)), last, sizeof(last));
	/* nextUpdate is optional in a CRL. */
	if (nu != NULL)
		pki_time_format(pki_asn1_time_unix(nu), next, sizeof(next));
	else
		snprintf(next, sizeof(next), "none");
	for (int i = 0; i < sk_X509_REVOKED_num(rev); i++) {
		X509_REVOKED *r = sk_X509_REVOKED_value(rev, i);
		BIGNUM *bn = r ? ASN1_INTEGER_to_BN(X509_REVOKED_get0_serialNumber(r), NULL) : NULL;
		char *hex = bn ? BN_bn2hex(bn) : NULL;
		snprintf(serial, sizeof(serial), "%s", hex ? hex : "?");
		json_array_append_new(serials, jstr(serial));
		OPENSSL_free(hex);
		BN_free(bn);
	}
	json_object_set_new(o, "issuer", jstr(issuer));
	json_object_set_new(o, "crl_number", json_integer((json_int_t)number));
	json_object_set_new(o, "last_update", jstr(last));
	json_object_set_new(o, "next_update", jstr(next));
	json_object_set_new(o, "revoked", serials);
	return o;
}

/* What one kind of file adds to the JSON; 0/-1. */
struct inspect_in {
	const char *path;
	const unsigned char *data;
	size_t len;
	pki_pass *pass;
	json_t *out;
	STACK_OF(X509) *certs;
};

static int
inspect_key(struct inspect_in *in, tg_err *err)
{
	int enc = pki_key_file_encrypted(in->path);
	char desc[64];

	json_object_set_new(in->out, "type", jstr("key"));
	json_object_set_new(in->out, "encrypted", json_boolean(enc));
	if (!enc || pki_pass_available(in->pass)) {
		EVP_PKEY *key = pki_load_key_pass(in->path, in->pass, err);
		if (key == NULL)
			return -1;
		pki_key_describe(key, desc, sizeof(desc));
		json_object_set_new(in->out, "key", jstr(desc));
		EVP_PKEY_free(key);
	}
	return 0;
}

static int
inspect_csr(struct inspect_in *in, tg_err *err)
{
	X509_REQ *csr = pki_load_csr(in->path, err);
	pki_profile *p = calloc(1, sizeof(*p));
	json_t *sans;
	char desc[64];
	int rc = -1;

	if (csr == NULL || p == NULL ||
	    pki_csr_to_profile(csr, in->path, PKI_PROFILE_CLIENT, 1, p, err) != 0)
		goto out;
	sans = json_array();
	for (size_t i = 0; i < p->nsans; i++) {
		char s[PKI_NAME_MAX + 8];
		pki_san_format(&p->sans[i], s, sizeof(s));
		json_array_append_new(sans, jstr(s));
	}
	pki_key_describe(X509_REQ_get0_pubkey(csr), desc, sizeof(desc));
	json_object_set_new(in->out, "type", jstr("csr"));
	json_object_set_new(in->out, "cn", jstr(p->cn));
	json_object_set_new(in->out, "sans", sans);
	json_object_set_new(in->out, "key", jstr(desc));
	json_object_set_new(in->out, "signature_valid", json_true());
	rc = 0;
out:
	X509_REQ_free(csr);
	free(p);
	return rc;
}

static int
inspect_crl(struct inspect_in *in, tg_err *err)
{
	X509_CRL *crl = pki_load_crl(in->path, err);

	if (crl == NULL)
		return -1;
	json_object_set_new(in->out, "type", jstr("crl"));
	json_object_set_new(in->out, "crl", crl_json(crl));
	X509_CRL_free(crl);
	return 0;
}

static int
inspect_chain(struct inspect_in *in, tg_err *err)
{
	if (in->certs == NULL && pki_load_certs(in->path, &in->certs, err) != 0)
		return -1;
	json_object_set_new(in->out, "type", jstr("certificates"));
	json_object_set_new(in->out, "certificates", inspect_certs(in->certs));
	return 0;
}

static int
inspect_p12(struct inspect_in *in, tg_err *err)
{
	const unsigned char *p = in->data;
	PKCS12 *p12 = d2i_PKCS12(NULL, &p, (long)in->len);
	EVP_PKEY *key = NULL;
	X509 *leaf = NULL;
	STACK_OF(X509) *ca = NULL;
	char desc[64];
	pki_key_status st;
	int rc = -1;

	if (p12 == NULL)
		return tg_err_set(err, TG_ERR_CONFIG,
		    "%s is not a certificate, chain, CSR, CRL, key or PKCS#12 file", in->path);
	PKCS12_free(p12);
	if (in->pass->file != NULL && pki_pass_get(in->pass, in->path, 0, err) != 0)
		goto out;
	/* src/pki checks every iteration count before the password. */
	st = pki_p12_open(in->data, in->len, in->pass->value, in->path, &key, &leaf, &ca, NULL,
	    err);
	if (st == PKI_KEY_TOO_COSTLY)
		goto out;
	if (st != PKI_KEY_OK) {
		tg_err_set(err, TG_ERR_CONFIG, "cannot open PKCS#12 %s: wrong password? give it "
		    "with --%s FILE", in->path, in->pass->option);
		goto out;
	}
	if ((in->certs = sk_X509_new_null()) == NULL)
		goto out;
	/* A bundle may hold no certificate, or no key. */
	if (leaf != NULL)
		sk_X509_push(in->certs, leaf);
	leaf = NULL;
	while (ca != NULL && sk_X509_num(ca) > 0)
		sk_X509_push(in->certs, sk_X509_shift(ca));
	pki_key_describe(key, desc, sizeof(desc));
	json_object_set_new(in->out, "type", jstr("pkcs12"));
	json_object_set_new(in->out, "key", jstr(key != NULL ? desc : "none"));
	json_object_set_new(in->out, "key_matches",
	    json_boolean(pki_key_matches_cert(key, sk_X509_value(in->certs, 0))));
	json_object_set_new(in->out, "certificates", inspect_certs(in->certs));
	rc = 0;
out:
	X509_free(leaf);
	sk_X509_pop_free(ca, X509_free);
	EVP_PKEY_free(key);
	return rc;
}

/* DER carries no marker: the first decoder that takes the whole file wins. */
static int (*der_kind(const unsigned char *data, size_t len))(struct inspect_in *, tg_err *)
{
	const unsigned char *p;
	void *obj;

	p = data;
	if ((obj = d2i_X509_REQ(NULL, &p, (long)len)) != NULL) {
		X509_REQ_free(obj);
		if (p == data + len)
			return inspect_csr;
	}
	p = data;
	if ((obj = d2i_X509_CRL(NULL, &p, (long)len)) != NULL) {
		X509_CRL_free(obj);
		if (p == data + len)
			return inspect_crl;
	}
	ERR_clear_error();
	return NULL;
}

/* The labels of a PEM file's blocks, as src/pki's splitter reads them. */
enum { HAS_KEY = 1, HAS_CSR = 2, HAS_CRL = 4 };

static int
label_cb(const pki_pem_block *b, void *arg)
{
	unsigned *has = arg;
	size_t n = strlen(b->label);

	if (n >= 11 && strcmp(b->label + n - 11, "PRIVATE KEY") == 0)
		*has |= HAS_KEY;
	else if (n >= 19 && strcmp(b->label + n - 19, "CERTIFICATE REQUEST") == 0)
		*has |= HAS_CSR;
	else if (strcmp(b->label, "X509 CRL") == 0)
		*has |= HAS_CRL;
	return 0;
}

static int
inspect_file(struct inspect_in *in, tg_err *err)
{
	static const struct {
		unsigned has;
		int (*fn)(struct inspect_in *, tg_err *);
	} pem[] = {
		{ HAS_KEY, inspect_key },
		{ HAS_CSR, inspect_csr },
		{ HAS_CRL, inspect_crl },
	};
	int (*fn)(struct inspect_in *, tg_err *);
	unsigned has = 0;

	if (pki_pem_is(in->data, in->len)) {
		(void)pki_pem_split(in->data, in->len, label_cb, &has, NULL);
		for (size_t i = 0; i < sizeof(pem) / sizeof(pem[0]); i++)
			if (has & pem[i].has)
				return pem[i].fn(in, err);
		/* PEM that is none of the above must be certificates: say what is wrong. */
		return inspect_chain(in, err);
	}
	if (pki_load_certs(in->path, &in->certs, NULL) == 0)
		return inspect_chain(in, err);
	if ((fn = der_kind(in->data, in->len)) != NULL)
		return fn(in, err);
	/* A DER key, plain or encrypted PKCS#8, as src/pki tells it. */
	if (pki_file_kinds(in->path) & PKI_FILE_KEY)
		return inspect_key(in, err);
	return inspect_p12(in, err);
}

static void
print_text(const char *path, json_t *out)
{
	json_t *arr = json_object_get(out, "certificates");
	const char *type = sval(out, "type");

	printf("%s: %s\n", cli_safe(0, path), type);
	if (strcmp(type, "key") == 0) {
		printf("  %s private key, %s\n",
		    json_object_get(out, "key") ? cli_safe(0, sval(out, "key")) : "passphrase-protected",
		    json_is_true(json_object_get(out, "encrypted")) ? "passphrase-protected" :
		    "not encrypted");
	} else if (strcmp(type, "csr") == 0) {
		json_t *sans = json_object_get(out, "sans");
		printf("  CN %s, key %s, signature valid\n  SANs", cli_safe(0, sval(out, "cn")),
		    cli_safe(1, sval(out, "key")));
		for (size_t i = 0; i < json_array_size(sans); i++)
			printf(" %s", cli_safe(0, json_string_value(json_array_get(sans, i))));
		putchar('\n');
	} else if (strcmp(type, "crl") == 0) {
		json_t *crl = json_object_get(out, "crl");
		printf("  Issuer %s\n  Number %lld\n  Last update %s\n  Next update %s\n"
		       "  Revoked %zu\n", cli_safe(0, sval(crl, "issuer")),
		    (long long)json_integer_value(json_object_get(crl, "crl_number")),
		    sval(crl, "last_update"), sval(crl, "next_update"),
		    json_array_size(json_object_get(crl, "revoked")));
	}
	for (size_t i = 0; i < json_array_size(arr); i++)
		print_cert(json_array_get(arr, i), (int)i, (int)json_array_size(arr));
}

static int
inspect_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "pass-file", required_argument, NULL, 'p' },
		{ NULL, 0, NULL, 0 },
	};
	struct inspect_in in = { 0 };
	unsigned char *data = NULL;
	pki_pass pass;
	size_t len = 0;
	int c, rc = 1, json = 0;
	tg_err err = { 0 };

	cli_pass_init(&pass, opts, 'p', 0);
	while ((c = cli_getopt(argc, argv, opts, "inspect")) != -1) {
		switch (c) {
		case 'j': json = 1; break;
		case 'p': pass.file = optarg; break;
		default: return 2;
		}
	}
	if (optind + 1 != argc)
		return cli_usage("inspect", "give one FILE");
	in.path = argv[optind];
	in.pass = &pass;
	if (util_read_file(in.path, &data, &len, &err) != 0)
		goto fail;
	in.data = data;
	in.len = len;
	if ((in.out = json_object()) == NULL) {
		tg_err_set(&err, TG_ERR_INTERNAL, "out of memory");
		goto fail;
	}
	json_object_set_new(in.out, "file", jstr(in.path));
	if (inspect_file(&in, &err) != 0)
		goto fail;
	if (json) {
		json_dumpf(in.out, stdout, JSON_INDENT(2));
		putchar('\n');
	} else {
		print_text(in.path, in.out);
	}
	rc = 0;
	goto out;
fail:
	rc = cli_fail(&err);
out:
	json_decref(in.out);
	sk_X509_pop_free(in.certs, X509_free);
	if (data != NULL)
		OPENSSL_clear_free(data, len);
	pki_pass_clear(&pass);
	return rc;
}

const struct cli_cmd cli_inspect_cmd = { "inspect", "show what a file holds", inspect_help,
	inspect_run, NULL };
