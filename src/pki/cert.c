/* Building certificates and CSRs from profiles. Every extension is set here,
 * in one place, so each profile's contents can be read off in one screen. */
#include "tlsgate/pki.h"
#include "tlsgate/util.h"

#include <arpa/inet.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include <string.h>
#include <time.h>

int
pki_serial_random(unsigned char serial[PKI_SERIAL_LEN], tg_err *err)
{
	if (RAND_bytes(serial, PKI_SERIAL_LEN) != 1)
		return tg_err_ossl(err, TG_ERR_INTERNAL, "cannot draw a random serial");
	/* Positive (top bit clear) and no leading zero byte, so every serial
	 * encodes in exactly 16 octets. */
	serial[0] &= 0x7f;
	if (serial[0] == 0)
		serial[0] = 0x01;
	return 0;
}

static int
is_ca(pki_profile_kind k)
{
	return k == PKI_PROFILE_ROOT || k == PKI_PROFILE_INTERMEDIATE;
}

static int
add_ext(X509 *cert, X509V3_CTX *ctx, int nid, const char *value)
{
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, ctx, nid, value);
	int ok;

	if (ext == NULL)
		return -1;
	ok = X509_add_ext(cert, ext, -1);
	X509_EXTENSION_free(ext);
	return ok == 1 ? 0 : -1;
}

static GENERAL_NAMES *
sans_to_names(const pki_profile *p)
{
	GENERAL_NAMES *names = GENERAL_NAMES_new();

	if (names == NULL)
		return NULL;
	for (size_t i = 0; i < p->nsans; i++) {
		const pki_san *s = &p->sans[i];
		GENERAL_NAME *gn = GENERAL_NAME_new();
		ASN1_STRING *str = NULL;
		int type = 0;

		if (gn == NULL)
			goto fail;
		switch (s->type) {
		case PKI_SAN_DNS: type = GEN_DNS; str = ASN1_IA5STRING_new(); break;
		case PKI_SAN_EMAIL: type = GEN_EMAIL; str = ASN1_IA5STRING_new(); break;
		case PKI_SAN_URI: type = GEN_URI; str = ASN1_IA5STRING_new(); break;
		case PKI_SAN_IP: type = GEN_IPADD; str = ASN1_OCTET_STRING_new(); break;
		}
		if (str == NULL ||
		    (s->type == PKI_SAN_IP ?
			ASN1_OCTET_STRING_set(str, s->ip, s->iplen) :
			ASN1_STRING_set(str, s->value, (int)strlen(s->value))) != 1) {
			ASN1_STRING_free(str);
			GENERAL_NAME_free(gn);
			goto fail;
		}
		GENERAL_NAME_set0_value(gn, type, str);
		if (sk_GENERAL_NAME_push(names, gn) <= 0) {
			GENERAL_NAME_free(gn);
			goto fail;
		}
	}
	return names;
fail:
	GENERAL_NAMES_free(names);
	return NULL;
}

static X509_NAME *
profile_subject(const pki_profile *p)
{
	X509_NAME *name = X509_NAME_new();

	if (name == NULL)
		return NULL;
	if ((p->org[0] != '\0' &&
		X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
		    (const unsigned char *)p->org, -1, -1, 0) != 1) ||
	    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
		(const unsigned char *)p->cn, -1, -1, 0) != 1) {
		X509_NAME_free(name);
		return NULL;
	}
	return name;
}

/* The extensions of each profile. */
/* One distribution point whose full name lists every URL (the same CRL in
 * several places), as RFC 5280 4.2.1.13 allows. */
static int
add_crl_points(X509 *cert, const pki_profile *p)
{
	CRL_DIST_POINTS *cdp;
	DIST_POINT *dp = NULL;
	int ok = 0;

	if (p->ncrl_urls == 0)
		return 0;
	if ((cdp = sk_DIST_POINT_new_null()) == NULL || (dp = DIST_POINT_new()) == NULL ||
	    (dp->distpoint = DIST_POINT_NAME_new()) == NULL ||
	    (dp->distpoint->name.fullname = GENERAL_NAMES_new()) == NULL)
		goto out;
	dp->distpoint->type = 0; /* fullName */
	for (size_t i = 0; i < p->ncrl_urls; i++) {
		GENERAL_NAME *gn = GENERAL_NAME_new();
		ASN1_IA5STRING *uri = ASN1_IA5STRING_new();
		if (gn == NULL || uri == NULL ||
		    ASN1_STRING_set(uri, p->crl_urls[i], (int)strlen(p->crl_urls[i])) != 1) {
			GENERAL_NAME_free(gn);
			ASN1_IA5STRING_free(uri);
			goto out;
		}
		GENERAL_NAME_set0_value(gn, GEN_URI, uri);
		if (!sk_GENERAL_NAME_push(dp->distpoint->name.fullname, gn)) {
			GENERAL_NAME_free(gn);
			goto out;
		}
	}
	if (!sk_DIST_POINT_push(cdp, dp))
		goto out;
	dp = NULL; /* ownership to cdp */
	ok = X509_add1_ext_i2d(cert, NID_crl_distribution_points, cdp, 0, X509V3_ADD_DEFAULT) == 1;
out:
	DIST_POINT_free(dp);
	CRL_DIST_POINTS_free(cdp);
	return ok ? 0 : -1;
}

static int
add_profile_exts(X509 *cert, X509V3_CTX *ctx, const pki_profile *p, EVP_PKEY *key)
{
	int rsa = EVP_PKEY_get_base_id(key) == EVP_PKEY_RSA;
	const char *eku = NULL;
	GENERAL_NAMES *names;
	int ok;

	switch (p->kind) {
	case PKI_PROFILE_ROOT:
		if (add_ext(cert, ctx, NID_basic_constraints, "critical,CA:TRUE") != 0 ||
		    add_ext(cert, ctx, NID_key_usage, "critical,keyCertSign,cRLSign") != 0)
			return -1;
		break;
	case PKI_PROFILE_INTERMEDIATE:
		if (add_ext(cert, ctx, NID_basic_constraints, "critical,CA:TRUE,pathlen:0") != 0 ||
		    add_ext(cert, ctx, NID_key_usage, "critical,keyCertSign,cRLSign") != 0)
			return -1;
		break;
	case PKI_PROFILE_SERVER:
	case PKI_PROFILE_SELFSIGNED:
		eku = "serverAuth";
		break;
	case PKI_PROFILE_CLIENT:
		eku = "clientAuth";
		break;
	case PKI_PROFILE_BOTH:
		eku = "serverAuth,clientAuth";
		break;
	}
	if (!is_ca(p->kind)) {
		if (add_ext(cert, ctx, NID_basic_constraints, "critical,CA:FALSE") != 0 ||
		    add_ext(cert, ctx, NID_key_usage,
			rsa ? "critical,digitalSignature,keyEncipherment" :
			      "critical,digitalSignature") != 0 ||
		    add_ext(cert, ctx, NID_ext_key_usage, eku) != 0)
			return -1;
	}
	if (add_ext(cert, ctx, NID_subject_key_identifier, "hash") != 0)
		return -1;
	/* A self-signed root's AKI would only repeat its SKI; leave it out. */
	if (p->kind != PKI_PROFILE_ROOT &&
	    add_ext(cert, ctx, NID_authority_key_identifier, "keyid:always") != 0)
		return -1;
	if (p->nsans > 0) {
		if ((names = sans_to_names(p)) == NULL)
			return -1;
		ok = X509_add1_ext_i2d(cert, NID_subject_alt_name, names, 0, X509V3_ADD_DEFAULT);
		GENERAL_NAMES_free(names);
		if (ok != 1)
			return -1;
	}
	return add_crl_points(cert, p);
}

/* Ed25519 signs without a separate digest. */
static const EVP_MD *
sign_md(EVP_PKEY *key)
{
	return EVP_PKEY_get_base_id(key) == EVP_PKEY_ED25519 ? NULL : EVP_sha256();
}

X509 *
pki_cert_build(const pki_profile *p, EVP_PKEY *subject_key, X509 *issuer,
    EVP_PKEY *issuer_key, const unsigned char *serial, size_t serial_len, tg_err *err)
{
	X509 *cert = NULL;
	X509_NAME *subject = NULL;
	ASN1_INTEGER *sn = NULL;
	BIGNUM *bn = NULL;
	X509V3_CTX ctx;
	time_t now = time(NULL);
	int64_t not_after = (int64_t)now + p->valid_secs;

	if (issuer != NULL) {
		int64_t issuer_end = pki_asn1_time_unix(X509_get0_notAfter(issuer));
		char cn[PKI_NAME_MAX], when[32];
		if (issuer_end <= (int64_t)now) {
			pki_cert_cn(issuer, cn, sizeof(cn));
			pki_time_format(issuer_end, when, sizeof(when));
			tg_err_set(err, TG_ERR_VERIFY,
			    "the issuing CA '%s' expired on %s; certificates it signs would never "
			    "verify; create a new CA with `tlsgate ca init`", cn, when);
			return NULL;
		}
		/* A leaf outliving its issuer fails verification after that date. */
		if (not_after > issuer_end)
			not_after = issuer_end;
	}
	if (p->valid_secs <= 0) {
		tg_err_set(err, TG_ERR_USAGE, "validity must be positive");
		return NULL;
	}
	if ((cert = X509_new()) == NULL || (subject = profile_subject(p)) == NULL ||
	    (bn = BN_bin2bn(serial, (int)serial_len, NULL)) == NULL ||
	    (sn = BN_to_ASN1_INTEGER(bn, NULL)) == NULL)
		goto fail;
	if (X509_set_version(cert, X509_VERSION_3) != 1 ||
	    X509_set_serialNumber(cert, sn) != 1 ||
	    X509_set_subject_name(cert, subject) != 1 ||
	    X509_set_issuer_name(cert, issuer ? X509_get_subject_name(issuer) : subject) != 1 ||
	    X509_time_adj_ex(X509_getm_notBefore(cert), 0, -PKI_BACKDATE_SECS, &now) == NULL ||
	    X509_time_adj_ex(X509_getm_notAfter(cert), 0, (long)(not_after - now), &now) == NULL ||
	    X509_set_pubkey(cert, subject_key) != 1)
		goto fail;
	X509V3_set_ctx(&ctx, issuer ? issuer : cert, cert, NULL, NULL, 0);
	if (add_profile_exts(cert, &ctx, p, subject_key) != 0)
		goto fail;
	if (X509_sign(cert, issuer_key, sign_md(issuer_key)) <= 0)
		goto fail;
	X509_NAME_free(subject);
	ASN1_INTEGER_free(sn);
	BN_free(bn);
	return cert;
fail:
	tg_err_ossl(err, TG_ERR_INTERNAL, "cannot build the certificate for '%s'", p->cn);
	X509_free(cert);
	X509_NAME_free(subject);
	ASN1_INTEGER_free(sn);
	BN_free(bn);
	return NULL;
}

X509_REQ *
pki_csr_build(const pki_profile *p, EVP_PKEY *key, tg_err *err)
{
	X509_REQ *req = X509_REQ_new();
	X509_NAME *subject = profile_subject(p);
	STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
	GENERAL_NAMES *names = NULL;
	X509_EXTENSION *ext;

	if (req == NULL || subject == NULL || exts == NULL)
		goto fail;
	if (X509_REQ_set_version(req, X509_REQ_VERSION_1) != 1 ||
	    X509_REQ_set_subject_name(req, subject) != 1 ||
	    X509_REQ_set_pubkey(req, key) != 1)
		goto fail;
	if (p->nsans > 0) {
		if ((names = sans_to_names(p)) == NULL ||
		    (ext = X509V3_EXT_i2d(NID_subject_alt_name, 0, names)) == NULL)
			goto fail;
		if (sk_X509_EXTENSION_push(exts, ext) <= 0) {
			X509_EXTENSION_free(ext);
			goto fail;
		}
		if (X509_REQ_add_extensions(req, exts) != 1)
			goto fail;
	}
	if (X509_REQ_sign(req, key, sign_md(key)) <= 0)
		goto fail;
	GENERAL_NAMES_free(names);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	X509_NAME_free(subject);
	return req;
fail:
	tg_err_ossl(err, TG_ERR_INTERNAL, "cannot build the certificate request for '%s'", p->cn);
	GENERAL_NAMES_free(names);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	X509_NAME_free(subject);
	X509_REQ_free(req);
	return NULL;
}

static int
csr_sans(X509_REQ *csr, pki_profile *p, const char *path, tg_err *err)
{
	STACK_OF(X509_EXTENSION) *exts = X509_REQ_get_extensions(csr);
	GENERAL_NAMES *names = NULL;
	int rc = -1;

	if (exts != NULL)
		names = X509V3_get_d2i(exts, NID_subject_alt_name, NULL, NULL);
	for (int i = 0; names != NULL && i < sk_GENERAL_NAME_num(names); i++) {
		GENERAL_NAME *gn = sk_GENERAL_NAME_value(names, i);
		char text[PKI_NAME_MAX + 8];
		pki_san san;
		int type;
		ASN1_STRING *s = GENERAL_NAME_get0_value(gn, &type);
		const unsigned char *d = ASN1_STRING_get0_data(s);
		int len = ASN1_STRING_length(s);

		if (type == GEN_IPADD) {
			memset(&san, 0, sizeof(san));
			if (len != 4 && len != 16) {
				tg_err_set(err, TG_ERR_CONFIG, "%s: IP SAN of bad length %d", path, len);
				goto out;
			}
			memcpy(san.ip, d, (size_t)len);
			san.iplen = len;
			san.type = PKI_SAN_IP;
			inet_ntop(len == 4 ? AF_INET : AF_INET6, d, san.value, sizeof(san.value));
		} else {
			const char *prefix = type == GEN_DNS ? "DNS:" : type == GEN_EMAIL ? "email:" :
			    type == GEN_URI ? "URI:" : NULL;
			if (prefix == NULL)
				continue; /* other name forms are not carried over */
			if (len <= 0 || (size_t)len >= PKI_NAME_MAX || memchr(d, 0, (size_t)len)) {
				tg_err_set(err, TG_ERR_CONFIG, "%s: malformed SAN in the request", path);
				goto out;
			}
			snprintf(text, sizeof(text), "%s%.*s", prefix, len, (const char *)d);
			if (pki_san_parse(text, &san, err) != 0) {
				/* The file is at fault, not the command line. */
				if (err != NULL)
					err->cat = TG_ERR_CONFIG;
				tg_err_prefix(err, "%s", path);
				goto out;
			}
		}
		if (pki_profile_add_san(p, &san, err) != 0)
			goto out;
	}
	rc = 0;
out:
	GENERAL_NAMES_free(names);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	return rc;
}

/* The request's subject, each field read as UTF-8. A control character in
 * any field is refused (a NUL cut "alice<NUL>.evil" to alice; CR/LF rewrite
 * terminals and logs), and so is more than one CN (services disagree on
 * which is the name). The one CN goes into p->cn. */
static int
csr_subject(X509_REQ *csr, const char *path, pki_profile *p, tg_err *err)
{
	X509_NAME *subject = X509_REQ_get_subject_name(csr);
	int ncn = 0;

	for (int i = 0; i < X509_NAME_entry_count(subject); i++) {
		X509_NAME_ENTRY *e = X509_NAME_get_entry(subject, i);
		int nid = OBJ_obj2nid(X509_NAME_ENTRY_get_object(e));
		unsigned char *utf8 = NULL;
		int len = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(e));
		char field[64];
		long at;

		if (nid != NID_undef)
			snprintf(field, sizeof(field), "%s", OBJ_nid2sn(nid));
		else if (OBJ_obj2txt(field, sizeof(field), X509_NAME_ENTRY_get_object(e), 1) <= 0)
			snprintf(field, sizeof(field), "field %d", i + 1);
		if (len < 0)
			return tg_err_ossl(err, TG_ERR_CONFIG, "%s: the subject's %s does not decode "
			    "as text; ask the requester for a new CSR", path, field);
		if ((at = util_find_control(utf8, (size_t)len)) >= 0) {
			unsigned byte = utf8[at];
			OPENSSL_free(utf8);
			return tg_err_set(err, TG_ERR_CONFIG, "%s: the subject's %s holds a control "
			    "character (byte 0x%02X at offset %ld), which no name may; refused: ask "
			    "the requester for a new CSR", path, field, byte, at);
		}
		if (nid == NID_commonName && ++ncn == 1) {
			if ((size_t)len >= sizeof(p->cn)) {
				OPENSSL_free(utf8);
				return tg_err_set(err, TG_ERR_CONFIG, "%s: the subject's CN is longer "
				    "than %zu bytes", path, sizeof(p->cn) - 1);
			}
			memcpy(p->cn, utf8, (size_t)len);
			p->cn[len] = '\0';
		}
		OPENSSL_free(utf8);
	}
	if (ncn > 1)
		return tg_err_set(err, TG_ERR_CONFIG, "%s: the subject holds %d CNs; a certificate "
		    "names one (which one a service takes differs), so the request is refused: "
		    "ask for a CSR with one CN and the other names as SANs", path, ncn);
	return 0;
}

int
pki_csr_to_profile(X509_REQ *csr, const char *path, pki_profile_kind kind,
    int64_t valid_secs, pki_profile *p, tg_err *err)
{
	EVP_PKEY *pub = X509_REQ_get0_pubkey(csr);
	pki_san san;

	memset(p, 0, sizeof(*p));
	p->kind = kind;
	p->valid_secs = valid_secs;
	if (pub == NULL || X509_REQ_verify(csr, pub) != 1)
		return tg_err_ossl(err, TG_ERR_VERIFY,
		    "%s: the request's signature does not verify, so it was altered or is "
		    "corrupt; ask the requester for a new CSR", path);
	if (csr_subject(csr, path, p, err) != 0 || csr_sans(csr, p, path, err) != 0)
		return -1;
	if (p->cn[0] == '\0' && p->nsans == 0)
		return tg_err_set(err, TG_ERR_CONFIG,
		    "%s: the request names nobody (no CN, no SAN); create it with "
		    "`tlsgate cert request HOST --new-key`", path);
	if (p->cn[0] == '\0')
		snprintf(p->cn, sizeof(p->cn), "%s", p->sans[0].value);
	/* A server cert always carries its CN as a SAN. */
	if ((kind == PKI_PROFILE_SERVER || kind == PKI_PROFILE_BOTH) &&
	    pki_san_parse(p->cn, &san, NULL) == 0 && pki_profile_add_san(p, &san, err) != 0)
		return -1;
	return 0;
}
