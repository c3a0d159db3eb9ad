/* tlsgate cert import: what `prosodyctl cert import` does, for any service. */
#include <arpa/inet.h>
#include <errno.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <openssl/crypto.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "tlsgate/pki.h"
#include "tlsgate/util.h"

#define DEFAULT_CERTS_DIR "/etc/tlsgate/certs"

const char cli_import_help[] =
"Usage: tlsgate cert import HOST SRC... [--certs-dir D] [--owner USER[:GROUP]]\n"
"                           [--reload CMD] [--key-pass-file F] [--ca FILE] [--force]\n"
"       tlsgate cert import [--certs-dir D] ...   (as a certbot deploy hook)\n"
"\n"
"Installs the certificate (full chain, leaf first) and key for HOST into a\n"
"service's certs directory, the way Prosody finds them: D/HOST.crt and D/HOST.key,\n"
"then runs the reload command. SRC may be a certbot live directory\n"
"(fullchain.pem + privkey.pem), a directory holding HOST.crt + HOST.key or\n"
"HOST/fullchain.pem + HOST/privkey.pem, or the certificate and key files\n"
"themselves (told apart by content). SRC may also be one PKCS#12 file (.p12/.pfx,\n"
"as Windows, macOS, keytool and `openssl pkcs12 -export` write it, told by\n"
"content) holding the key, its certificate and the chain. A chain given out of\n"
"order is put in order; a key that does not match the certificate is refused and\n"
"nothing is changed. A PKCS#12 file is refused, naming it, when its passphrase\n"
"is wrong, its MAC fails (altered after export), it holds no key, several keys\n"
"(a keystore of several entries) or not the key's certificate.\n"
"\n"
"Also refused, because the service would start but its clients would not\n"
"connect: a certificate that has expired or is not yet valid, a leaf whose\n"
"issuer is neither in SRC nor a root in the system store or --ca (the\n"
"intermediate is missing: use fullchain.pem, not cert.pem), and a HOST the\n"
"certificate does not name. --force installs it anyway, with a warning.\n"
"\n"
"Ownership: --owner USER gives the key to USER, mode 0600 (PostgreSQL's rule);\n"
"--owner root:GROUP or :GROUP gives it to root with group GROUP, mode 0640, so a\n"
"service in GROUP can read it (Prosody: root:prosody). Certificates are 0644.\n"
"\n"
"As a certbot deploy hook (no HOST, no SRC) it reads $RENEWED_LINEAGE and\n"
"imports it for each name in $RENEWED_DOMAINS:\n"
"  certbot renew --deploy-hook 'tlsgate cert import --certs-dir /etc/prosody/certs\n"
"      --owner root:prosody --reload \"prosodyctl reload\"'\n"
"\n"
"Options:\n"
"  --certs-dir D       destination (default $TLSGATE_CERTS_DIR or " DEFAULT_CERTS_DIR ")\n"
"  --reload CMD        run through /bin/sh after the files are in place\n"
"  --key-pass-file F   passphrase of an encrypted source key or PKCS#12 file (the\n"
"                      key is written decrypted); - reads it from standard input;\n"
"                      asked for on a terminal (a PKCS#12 file: when the empty\n"
"                      passphrase does not open it)\n"
"  --ca FILE           your private root CA(s): a leaf it signed directly needs no\n"
"                      intermediate (the system store's roots count already)\n"
"  --force             install despite an expired or not yet valid certificate, a\n"
"                      missing intermediate or a HOST it does not cover\n"
"\n"
"Examples:\n"
"  tlsgate cert import example.com /etc/letsencrypt/live/example.com \\\n"
"      --certs-dir /etc/prosody/certs --owner root:prosody --reload 'prosodyctl reload'\n"
"  tlsgate cert import example.com example.pfx --key-pass-file pw.txt\n";

static int
is_dir(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Finds the cert and key files among SRC arguments for HOST. */
static int
locate(const char *host, char **srcs, int nsrc, char *crt, char *key, tg_err *err)
{
	/* DIR/[HOST]TAIL for the layouts services and certbot use. */
	static const struct {
		int with_host;
		const char *crt, *key;
	} layouts[] = {
		{ 0, "fullchain.pem", "privkey.pem" },   /* certbot live dir */
		{ 1, ".crt", ".key" },                   /* Prosody certs dir */
		{ 1, "/fullchain.pem", "/privkey.pem" }, /* Prosody, per-host dir */
		{ 1, ".pem", ".key" },
	};

	crt[0] = key[0] = '\0';
	if (nsrc == 1 && is_dir(srcs[0])) {
		for (size_t i = 0; i < sizeof(layouts) / sizeof(layouts[0]); i++) {
			const char *h = layouts[i].with_host ? host : "";
			char c[PATH_MAX], k[PATH_MAX];
			int a1 = snprintf(c, sizeof(c), "%s/%s%s", srcs[0], h, layouts[i].crt);
			int a2 = snprintf(k, sizeof(k), "%s/%s%s", srcs[0], h, layouts[i].key);
			if (a1 < 0 || a2 < 0 || (size_t)a1 >= sizeof(c) || (size_t)a2 >= sizeof(k))
				continue;
			if (util_exists(c) && util_exists(k)) {
				snprintf(crt, PATH_MAX, "%s", c);
				snprintf(key, PATH_MAX, "%s", k);
				return 0;
			}
		}
		return tg_err_set(err, TG_ERR_USAGE,
		    "%s holds no certificate and key for %s (looked for fullchain.pem + privkey.pem, "
		    "%s.crt + %s.key, %s/fullchain.pem + %s/privkey.pem)", srcs[0], host, host, host,
		    host, host);
	}
	/* Files: the key is the one holding a private key (src/pki reads it). */
	for (int i = 0; i < nsrc; i++) {
		unsigned char *data;
		size_t len;
		if (util_read_file(srcs[i], &data, &len, err) != 0)
			return -1;
		OPENSSL_clear_free(data, len);
		snprintf(pki_file_kinds(srcs[i]) & PKI_FILE_KEY ? key : crt, PATH_MAX, "%s", srcs[i]);
	}
	if (crt[0] == '\0' || key[0] == '\0')
		return tg_err_set(err, TG_ERR_USAGE,
		    "give both the certificate and the key for %s (or a directory holding them)", host);
	return 0;
}

/* Orders certs leaf (the one matching key) first, then each one's issuer. */
static int
order_chain(STACK_OF(X509) *in, EVP_PKEY *key, STACK_OF(X509) **out, int *reordered,
    const char *crt, tg_err *err)
{
	STACK_OF(X509) *rest = sk_X509_dup(in), *res = sk_X509_new_null();
	X509 *cur = NULL;
	int leaf_at = -1;

	*reordered = 0;
	for (int i = 0; i < sk_X509_num(rest); i++)
		if (pki_key_matches_cert(key, sk_X509_value(rest, i)))
			leaf_at = i;
	if (leaf_at < 0) {
		char cn[PKI_NAME_MAX];
		pki_cert_cn(sk_X509_value(in, 0), cn, sizeof(cn));
		sk_X509_free(rest);
		sk_X509_free(res);
		return tg_err_set(err, TG_ERR_VERIFY,
		    "the key does not match any certificate in %s (the first is CN=%s); the service "
		    "would fail with \"no shared cipher\" or \"key values mismatch\"; give the key "
		    "created with this certificate", crt, cn);
	}
	*reordered = leaf_at != 0;
	cur = sk_X509_delete(rest, leaf_at);
	sk_X509_push(res, cur);
	while (sk_X509_num(rest) > 0) {
		int next = -1;
		for (int i = 0; i < sk_X509_num(rest); i++)
			if (X509_check_issued(sk_X509_value(rest, i), cur) == X509_V_OK)
				next = i;
		if (next < 0)
			break;
		if (next != 0)
			*reordered = 1;
		cur = sk_X509_delete(rest, next);
		sk_X509_push(res, cur);
	}
	/* Whatever does not link stays, in its order, after the chain. */
	while (sk_X509_num(rest) > 0)
		sk_X509_push(res, sk_X509_shift(rest));
	sk_X509_free(rest);
	*out = res;
	return 0;
}

typedef struct {
	STACK_OF(X509) *roots; /* --ca */
	int force;
	pki_pass *key_pass;
} import_opts;

/* What SRC holds: a PKCS#12 file alone (told by content), or the
 * certificate and key files locate finds. crt gets the file the
 * certificates came from, for messages; *certs the leaf and its chain as
 * found, for order_chain. */
static int
load_source(const char *host, char **srcs, int nsrc, const import_opts *io, char *crt,
    STACK_OF(X509) **certs, EVP_PKEY **key, tg_err *err)
{
	char key_path[PATH_MAX];
	pki_pair pair;

	for (int i = 0; i < nsrc; i++) {
		if (is_dir(srcs[i]) || !(pki_file_kinds(srcs[i]) & PKI_FILE_P12))
			continue;
		if (nsrc > 1)
			return tg_err_set(err, TG_ERR_USAGE, "%s is a PKCS#12 file, which holds the "
			    "certificate and key both: give it alone as SRC", srcs[i]);
		snprintf(crt, PATH_MAX, "%s", srcs[i]);
		if (pki_load_p12(srcs[i], io->key_pass, &pair, err) != 0)
			return -1;
		if (sk_X509_unshift(pair.chain, pair.leaf) <= 0) {
			pki_pair_clear(&pair);
			return tg_err_set(err, TG_ERR_INTERNAL, "out of memory");
		}
		*certs = pair.chain; /* ownership to the caller, the leaf in it */
		*key = pair.key;
		return 0;
	}
	if (locate(host, srcs, nsrc, crt, key_path, err) != 0 ||
	    pki_load_certs(crt, certs, err) != 0 ||
	    (*key = pki_load_key_pass(key_path, io->key_pass, err)) == NULL)
		return -1;
	return 0;
}

static void
add_problem(char *buf, size_t len, const char *fmt, ...) TG_PRINTF(3, 4);

static void
add_problem(char *buf, size_t len, const char *fmt, ...)
{
	size_t used = strlen(buf);
	va_list ap;

	if (used + 3 >= len)
		return;
	if (used > 0) {
		memcpy(buf + used, "; ", 3);
		used += 2;
	}
	va_start(ap, fmt);
	vsnprintf(buf + used, len - used, fmt, ap);
	va_end(ap);
}

/* 1 if leaf's issuer is a root clients have: one in the system trust store
 * or in --ca. */
static int
issuer_is_known_root(X509 *leaf, STACK_OF(X509) *roots)
{
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	X509 *issuer = NULL;
	int found = 0;

	if (store == NULL || ctx == NULL)
		goto out;
	(void)X509_STORE_set_default_paths(store);
	for (int i = 0; i < sk_X509_num(roots); i++)
		(void)X509_STORE_add_cert(store, sk_X509_value(roots, i));
	if (X509_STORE_CTX_init(ctx, store, leaf, NULL) == 1 &&
	    X509_STORE_CTX_get1_issuer(&issuer, ctx, leaf) == 1)
		found = X509_self_signed(issuer, 0) == 1;
out:
	ERR_clear_error();
	X509_free(issuer);
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	return found;
}

static int
covers_host(X509 *leaf, const char *host)
{
	unsigned char ip[16];
	char ascii[PKI_NAME_MAX];

	if (inet_pton(AF_INET, host, ip) == 1 || inet_pton(AF_INET6, host, ip) == 1)
		return X509_check_ip_asc(leaf, host, 0) == 1;
	if (util_idna_to_ascii(host, ascii, sizeof(ascii), NULL) != 0)
		return 0;
	return X509_check_host(leaf, ascii, 0, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS, NULL) == 1;
}

/* What would let the service start but turn its clients away. */
static void
import_problems(const char *host, STACK_OF(X509) *chain, const char *crt,
    const import_opts *io, char *buf, size_t len)
{
	X509 *leaf = sk_X509_value(chain, 0);
	int64_t now = (int64_t)time(NULL);
	char when[32], cn[PKI_NAME_MAX], sans[1024], issuer[512];

	buf[0] = '\0';
	for (int i = 0; i < sk_X509_num(chain); i++) {
		X509 *x = sk_X509_value(chain, i);
		int64_t nb = pki_asn1_time_unix(X509_get0_notBefore(x));
		int64_t na = pki_asn1_time_unix(X509_get0_notAfter(x));
		pki_cert_cn(x, cn, sizeof(cn));
		if (na < now) {
			pki_time_format(na, when, sizeof(when));
			add_problem(buf, len, "%s CN=%s expired on %s (renew it: certbot renew, "
			    "`tlsgate cert renew`, or ask its CA)", i == 0 ? "the certificate" :
			    "the chain's", cn, when);
		} else if (nb > now) {
			pki_time_format(nb, when, sizeof(when));
			add_problem(buf, len, "%s CN=%s is not valid until %s (check the clock here "
			    "and where it was issued)", i == 0 ? "the certificate" : "the chain's",
			    cn, when);
		}
	}
	/* The leaf's issuer follows it when the file has it (order_chain). A
	 * self-signed leaf (`cert selfsigned`) is its own issuer; it need not
	 * be allowed to sign certificates, so X509_check_issued would say no. */
	if (X509_self_signed(leaf, 1) != 1 &&
	    (sk_X509_num(chain) < 2 || X509_check_issued(sk_X509_value(chain, 1), leaf) !=
		X509_V_OK) && !issuer_is_known_root(leaf, io->roots)) {
		pki_name_oneline(X509_get_issuer_name(leaf), issuer, sizeof(issuer));
		add_problem(buf, len, "%s holds no certificate of the leaf's issuer %s, which is "
		    "not a root in the system store either: clients cannot build the chain; append "
		    "the intermediate (certbot: fullchain.pem, not cert.pem), or, when %s is your "
		    "own root CA, name it with --ca ROOT.crt", crt, issuer, issuer);
	}
	if (!covers_host(leaf, host)) {
		pki_cert_sans(leaf, sans, sizeof(sans));
		add_problem(buf, len, "the certificate does not cover %s (it names %s): import it "
		    "under one of those names, or get one that covers %s", host,
		    sans[0] ? sans : "no subjectAltName", host);
	}
}

static int
import_one(const char *host, char **srcs, int nsrc, const char *certs_dir, const cli_owner *o,
    const import_opts *io, tg_err *err)
{
	char problems[2048];
	char crt[PATH_MAX], dst_crt[PATH_MAX], dst_key[PATH_MAX];
	STACK_OF(X509) *certs = NULL, *ordered = NULL;
	EVP_PKEY *key = NULL;
	util_fileset fs = { 0 };
	char *cpem = NULL, *kpem = NULL;
	size_t clen = 0, klen = 0;
	int rc = -1, reordered;

	if (strchr(host, '/') != NULL || host[0] == '.' || host[0] == '\0')
		return tg_err_set(err, TG_ERR_USAGE, "'%s' is not a host name", host);
	if (load_source(host, srcs, nsrc, io, crt, &certs, &key, err) != 0 ||
	    order_chain(certs, key, &ordered, &reordered, crt, err) != 0)
		goto out;
	import_problems(host, ordered, crt, io, problems, sizeof(problems));
	if (problems[0] != '\0' && !io->force) {
		tg_err_set(err, TG_ERR_VERIFY, "not installing %s for %s: %s; nothing was changed "
		    "(--force installs it anyway)", crt, host, problems);
		goto out;
	}
	if (problems[0] != '\0')
		fprintf(stderr, "tlsgate: warning: installing %s for %s anyway (--force): %s\n", crt,
		    host, cli_safe(0, problems));
	{
		X509 *arr[16];
		int n = sk_X509_num(ordered) < 16 ? sk_X509_num(ordered) : 16;
		for (int i = 0; i < n; i++)
			arr[i] = sk_X509_value(ordered, i);
		if (pki_certs_to_pem(arr, (size_t)n, &cpem, &clen, err) != 0 ||
		    pki_key_to_pem(key, NULL, &kpem, &klen, err) != 0)
			goto out;
	}
	if (util_mkdir_p(certs_dir, 0755, err) != 0 ||
	    util_path_join(dst_crt, sizeof(dst_crt), certs_dir, host, err) != 0 ||
	    util_path_join(dst_key, sizeof(dst_key), certs_dir, host, err) != 0)
		goto out;
	strncat(dst_crt, ".crt", sizeof(dst_crt) - strlen(dst_crt) - 1);
	strncat(dst_key, ".key", sizeof(dst_key) - strlen(dst_key) - 1);
	/* Key first: a new cert must never be served with the old key. A
	 * failure takes back what was published and restores what it replaced. */
	if (cli_stage_owned(&fs, dst_key, kpem, klen, o->key_mode, UTIL_WRITE_FORCE, o, err) != 0 ||
	    cli_stage_owned(&fs, dst_crt, cpem, clen, 0644, UTIL_WRITE_FORCE, o, err) != 0 ||
	    util_fileset_publish_all(&fs, err) != 0)
		goto out;
	printf("Imported %s: %s and %s (key mode %04o)%s\n", host, dst_crt, dst_key,
	    (unsigned)o->key_mode, reordered ? "; the chain was put in order, leaf first" : "");
	rc = 0;
out:
	util_fileset_done(&fs, rc != 0);
	free(cpem);
	if (kpem != NULL)
		OPENSSL_clear_free(kpem, klen);
	sk_X509_pop_free(certs, X509_free);
	sk_X509_free(ordered);
	EVP_PKEY_free(key);
	return rc;
}

int
cli_cert_import(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "certs-dir", required_argument, NULL, 'd' },
		{ "owner", required_argument, NULL, 'o' },
		{ "reload", required_argument, NULL, 'r' },
		{ "key-pass-file", required_argument, NULL, 'k' },
		{ "ca", required_argument, NULL, 'C' },
		{ "force", no_argument, NULL, 'f' },
		{ NULL, 0, NULL, 0 },
	};
	const char *certs_dir = getenv("TLSGATE_CERTS_DIR"), *reload = NULL, *owner = NULL;
	const char *ca_path = NULL;
	cli_owner own = { .key_mode = 0600 };
	pki_pass key_pass;
	import_opts io = { .key_pass = &key_pass };
	tg_err err = { 0 };
	int c, rc = 1;

	cli_pass_init(&key_pass, opts, 'k', 1);
	while ((c = cli_getopt(argc, argv, opts, "cert import")) != -1) {
		switch (c) {
		case 'd': certs_dir = optarg; break;
		case 'o': owner = optarg; break;
		case 'r': reload = optarg; break;
		case 'k': key_pass.file = optarg; break;
		case 'C': ca_path = optarg; break;
		case 'f': io.force = 1; break;
		default: return 2;
		}
	}
	if (certs_dir == NULL || *certs_dir == '\0')
		certs_dir = DEFAULT_CERTS_DIR;
	if (owner != NULL && cli_owner_parse(owner, &own, &err) != 0)
		return cli_fail(&err);
	if (ca_path != NULL && pki_load_certs(ca_path, &io.roots, &err) != 0)
		return cli_fail(&err);
	if (argc - optind >= 2) {
		if (import_one(argv[optind], argv + optind + 1, argc - optind - 1, certs_dir, &own,
			&io, &err) != 0)
			goto fail;
	} else if (argc == optind && getenv("RENEWED_LINEAGE") && getenv("RENEWED_DOMAINS")) {
		char *lineage = getenv("RENEWED_LINEAGE"), *domains = strdup(getenv("RENEWED_DOMAINS"));
		char *save = NULL, *d;
		int any = 0;
		if (domains == NULL) {
			tg_err_set(&err, TG_ERR_INTERNAL, "out of memory");
			goto fail;
		}
		for (d = strtok_r(domains, " ", &save); d; d = strtok_r(NULL, " ", &save)) {
			any = 1;
			if (import_one(d, &lineage, 1, certs_dir, &own, &io, &err) != 0) {
				free(domains);
				goto fail;
			}
		}
		free(domains);
		if (!any) {
			tg_err_set(&err, TG_ERR_USAGE, "$RENEWED_DOMAINS is empty");
			goto fail;
		}
	} else {
		pki_pass_clear(&key_pass);
		sk_X509_pop_free(io.roots, X509_free);
		return cli_usage("cert import", "give HOST and SRC (or run as a certbot deploy hook "
		    "with $RENEWED_LINEAGE and $RENEWED_DOMAINS set)");
	}
	if (reload != NULL) {
		int st;
		fflush(stdout);
		if ((st = system(reload)) != 0) {
			tg_err_set(&err, TG_ERR_IO, "the files are in place, but the reload command "
			    "`%s` failed (status %d)", reload, st);
			goto fail;
		}
		printf("Reloaded: %s\n", reload);
	}
	rc = 0;
	goto out;
fail:
	rc = cli_fail(&err);
out:
	pki_pass_clear(&key_pass);
	sk_X509_pop_free(io.roots, X509_free);
	return rc;
}
