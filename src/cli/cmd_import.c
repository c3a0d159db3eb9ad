/* tlsgate cert import: what `prosodyctl cert import` does, for any service. */
#include <errno.h>
#include <openssl/x509v3.h>
#include <grp.h>
#include <openssl/crypto.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "tlsgate/pki.h"
#include "tlsgate/util.h"

#define DEFAULT_CERTS_DIR "/etc/tlsgate/certs"

const char cli_import_help[] =
"Usage: tlsgate cert import HOST SRC... [--certs-dir D] [--owner USER[:GROUP]]\n"
"                           [--reload CMD] [--key-pass-file F]\n"
"       tlsgate cert import [--certs-dir D] ...   (as a certbot deploy hook)\n"
"\n"
"Installs the certificate (full chain, leaf first) and key for HOST into a\n"
"service's certs directory, the way Prosody finds them: D/HOST.crt and D/HOST.key,\n"
"then runs the reload command. SRC may be a certbot live directory\n"
"(fullchain.pem + privkey.pem), a directory holding HOST.crt + HOST.key or\n"
"HOST/fullchain.pem + HOST/privkey.pem, or the certificate and key files\n"
"themselves (told apart by content). A chain given out of order is put in order;\n"
"a key that does not match the certificate is refused and nothing is changed.\n"
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
"  --key-pass-file F   passphrase of an encrypted source key (written decrypted)\n"
"\n"
"Example:\n"
"  tlsgate cert import example.com /etc/letsencrypt/live/example.com \\\n"
"      --certs-dir /etc/prosody/certs --owner root:prosody --reload 'prosodyctl reload'\n";

typedef struct {
	uid_t uid;
	gid_t gid;
	mode_t key_mode;
	int chown;
} ownership;

/* --owner as every command reads it (util_owner_parse): USER gets the key,
 * 0600; root's key shared with GROUP (root:GROUP or :GROUP) is 0640. */
static int
parse_owner(const char *spec, ownership *o, tg_err *err)
{
	util_owner u;

	if (util_owner_parse(spec, &u, err) != 0)
		return -1;
	o->uid = u.uid;
	o->gid = u.gid;
	o->key_mode = util_owner_key_mode(&u);
	o->chown = 1;
	return 0;
}

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
	/* Files: the key is the one that says PRIVATE KEY. */
	for (int i = 0; i < nsrc; i++) {
		unsigned char *data;
		size_t len;
		int is_key;
		if (util_read_file(srcs[i], &data, &len, err) != 0)
			return -1;
		is_key = strstr((char *)data, "PRIVATE KEY-----") != NULL;
		OPENSSL_clear_free(data, len);
		snprintf(is_key ? key : crt, PATH_MAX, "%s", srcs[i]);
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

/* Stages a file with its final owner and mode; nothing reaches its final
 * name until every file of the import is staged (publish_all). */
static int
stage_owned(util_fileset *fs, const char *path, const void *data, size_t len, mode_t mode,
    const ownership *o, tg_err *err)
{
	const char *tmp;

	if (util_fileset_stage(fs, path, NULL, data, len, o->chown ? 0600 : mode, UTIL_WRITE_FORCE,
		err) != 0)
		return -1;
	if (!o->chown)
		return 0;
	tmp = util_fileset_tmp(fs, fs->n - 1);
	/* Hand over ownership while still 0600, then open up to the final mode. */
	if (chown(tmp, o->uid, o->gid) != 0 || chmod(tmp, mode) != 0)
		return tg_err_set(err, TG_ERR_IO, "cannot set owner/mode of %s: %s (run as root to "
		    "use --owner); nothing was changed", path, strerror(errno));
	return 0;
}

static int
import_one(const char *host, char **srcs, int nsrc, const char *certs_dir, const ownership *o,
    const char *key_pass, tg_err *err)
{
	char crt[PATH_MAX], key_path[PATH_MAX], dst_crt[PATH_MAX], dst_key[PATH_MAX];
	STACK_OF(X509) *certs = NULL, *ordered = NULL;
	EVP_PKEY *key = NULL;
	util_fileset fs = { 0 };
	char *cpem = NULL, *kpem = NULL;
	size_t clen = 0, klen = 0;
	int rc = -1, reordered;

	if (strchr(host, '/') != NULL || host[0] == '.' || host[0] == '\0')
		return tg_err_set(err, TG_ERR_USAGE, "'%s' is not a host name", host);
	if (locate(host, srcs, nsrc, crt, key_path, err) != 0 ||
	    pki_load_certs(crt, &certs, err) != 0 ||
	    (key = pki_load_key(key_path, key_pass, err)) == NULL ||
	    order_chain(certs, key, &ordered, &reordered, crt, err) != 0)
		goto out;
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
	if (stage_owned(&fs, dst_key, kpem, klen, o->key_mode, o, err) != 0 ||
	    stage_owned(&fs, dst_crt, cpem, clen, 0644, o, err) != 0 ||
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
		{ NULL, 0, NULL, 0 },
	};
	const char *certs_dir = getenv("TLSGATE_CERTS_DIR"), *reload = NULL, *owner = NULL;
	const char *key_pass_file = NULL;
	ownership own = { .key_mode = 0600 };
	char *key_pass = NULL;
	tg_err err = { 0 };
	int c, rc = 1;

	while ((c = cli_getopt(argc, argv, opts, "cert import")) != -1) {
		switch (c) {
		case 'd': certs_dir = optarg; break;
		case 'o': owner = optarg; break;
		case 'r': reload = optarg; break;
		case 'k': key_pass_file = optarg; break;
		default: return 2;
		}
	}
	if (certs_dir == NULL || *certs_dir == '\0')
		certs_dir = DEFAULT_CERTS_DIR;
	if (owner != NULL && parse_owner(owner, &own, &err) != 0)
		return cli_fail(&err);
	if (cli_read_pass(key_pass_file, &key_pass, &err) != 0)
		return cli_fail(&err);
	if (argc - optind >= 2) {
		if (import_one(argv[optind], argv + optind + 1, argc - optind - 1, certs_dir, &own,
			key_pass, &err) != 0)
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
			if (import_one(d, &lineage, 1, certs_dir, &own, key_pass, &err) != 0) {
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
		util_free_secret(key_pass);
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
	util_free_secret(key_pass);
	return rc;
}
