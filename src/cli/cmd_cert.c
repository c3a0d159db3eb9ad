/* tlsgate cert issue|request|sign|selfsigned|p12 */
#include <errno.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "tlsgate/ca.h"
#include "tlsgate/util.h"

#define MAX_CLI_SANS PKI_MAX_SANS

static const char issue_help[] =
"Usage: tlsgate cert issue NAME --dir DIR [--server|--client|--both] [--san VALUE]...\n"
"                          [--days N] [--key TYPE] [--key-pass-file F] [--out-dir D]\n"
"                          [--force] [--p12 (--p12-pass-file F | --p12-no-password)\n"
"                          [--legacy-p12]] [--json]\n"
"       tlsgate cert issue --batch NAMES_FILE --dir DIR [same options]\n"
"\n"
"Issues a certificate and a new key from the CA in DIR, and records it in the\n"
"inventory. Writes OUT/NAME.crt (the certificate, then any intermediate: never the\n"
"root) and OUT/NAME.key (mode 0600); OUT defaults to DIR/issued.\n"
"\n"
"Profiles:\n"
"  --server   (default) CN=NAME, NAME is also a SAN (DNS or IP, detected), EKU serverAuth\n"
"  --client   CN=NAME, EKU clientAuth; PostgreSQL's clientcert=verify-full matches the\n"
"             CN to the database user name, so issue `alice` for user alice\n"
"  --both     serverAuth and clientAuth, NAME as a SAN\n"
"\n"
"Options:\n"
"  --san VALUE         another name: DNS:host, IP:addr, email:user@host, URI:uri, or a\n"
"                      bare value whose type is detected (10.0.0.5 is an IP). Repeatable.\n"
"                      An internationalised name goes in as clients send it:\n"
"                      bücher.example becomes DNS:xn--bcher-kva.example\n"
"  --days N            validity (default 397, capped at the CA's own expiry)\n"
"  --key TYPE          " PKI_KEY_TYPES " (default ec-p256)\n"
"  --key-pass-file F   protect the new key with the passphrase on F's first line\n"
"                      (PKCS#8, AES-256, as `openssl pkey -aes256`); - reads it from\n"
"                      standard input, or asks twice on a terminal. Most services\n"
"                      cannot start with such a key: it is for keys kept, not served\n"
"  --out-dir D         write the files to D instead of DIR/issued\n"
"  --p12               also write OUT/NAME.p12 (key + cert + chain) for browsers; modern\n"
"                      AES-256 encryption unless --legacy-p12 (3DES/SHA-1, for old macOS,\n"
"                      Windows and Java). The export password comes from\n"
"                      --p12-pass-file F (- reads standard input) or is asked twice on\n"
"                      a terminal; --p12-no-password writes one anyone can open\n"
"  --batch FILE        one certificate per line of FILE: `NAME [SAN...]`; blank lines and\n"
"                      # comments are skipped. All or nothing: on any error nothing is\n"
"                      written and the inventory is unchanged.\n"
"  --force             replace existing files\n"
"  --ca-pass-file F    passphrase of an encrypted CA key (or $TLSGATE_CA_PASS_FILE;\n"
"                      asked for on a terminal)\n"
"  --json              print what was issued as JSON\n"
"\n"
"Examples:\n"
"  tlsgate cert issue example.com --dir ./pki --san conference.example.com\n"
"  tlsgate cert issue db.internal --dir ./pki --san 10.0.0.5 --san localhost\n"
"  tlsgate cert issue alice --dir ./pki --client --p12 --p12-pass-file alice.pass\n"
"  tlsgate cert issue --batch devices.txt --dir ./pki --client --out-dir ./fleet\n";

struct issue_src {
	pki_profile_kind kind;
	const char *sans[MAX_CLI_SANS];
	size_t nsans;
	int64_t secs;
	const char *name;      /* single NAME */
	tg_ca_batch batch;     /* or one per line (batch.f set) */
};

static int
next_single(void *arg, pki_profile *p, tg_err *err)
{
	struct issue_src *s = arg;

	if (s->name == NULL)
		return 0;
	if (pki_profile_leaf(p, s->kind, s->name, s->sans, s->nsans, s->secs, err) != 0)
		return -1;
	s->name = NULL;
	return 1;
}

static int
next_batch(void *arg, pki_profile *p, tg_err *err)
{
	struct issue_src *s = arg;

	return tg_ca_batch_next(&s->batch, p, err);
}

struct issue_report {
	int json, batch, key_encrypted;
	size_t count;
	json_t *arr;
};

static void
report_issued(const tg_issued *r, void *arg)
{
	struct issue_report *rep = arg;
	char when[32];

	rep->count++;
	if (rep->json) {
		json_array_append_new(rep->arr, json_pack("{s:s, s:s, s:s, s:s, s:s, s:s?}",
		    "name", r->cn, "serial", r->serial, "fingerprint_sha256", r->fingerprint,
		    "cert", r->cert_path, "key", r->key_path, "p12",
		    r->p12_path[0] ? r->p12_path : NULL));
		return;
	}
	if (rep->batch)
		return;
	pki_time_format(r->not_after, when, sizeof(when));
	printf("Issued %s (serial %s, expires %s)\n  certificate: %s\n  key:         %s (0600%s)\n",
	    r->cn, r->serial, when, r->cert_path, r->key_path,
	    rep->key_encrypted ? ", passphrase-protected" : "");
	if (r->p12_path[0])
		printf("  PKCS#12:     %s\n", r->p12_path);
}

static int
profile_opt(int c, pki_profile_kind *kind)
{
	switch (c) {
	case 'S': *kind = PKI_PROFILE_SERVER; return 1;
	case 'C': *kind = PKI_PROFILE_CLIENT; return 1;
	case 'B': *kind = PKI_PROFILE_BOTH; return 1;
	}
	return 0;
}

static int
days_opt(const char *arg, int64_t *secs, tg_err *err)
{
	unsigned long days;

	if (util_parse_uint(arg, "--days", 36500, &days, err) != 0)
		return -1;
	*secs = (int64_t)days * 86400;
	return 0;
}

static int
cert_issue(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "server", no_argument, NULL, 'S' },
		{ "client", no_argument, NULL, 'C' },
		{ "both", no_argument, NULL, 'B' },
		{ "san", required_argument, NULL, 's' },
		{ "days", required_argument, NULL, 'D' },
		{ "key", required_argument, NULL, 'k' },
		{ "out-dir", required_argument, NULL, 'o' },
		{ "p12", no_argument, NULL, 'P' },
		{ "p12-pass-file", required_argument, NULL, 'W' },
		{ "p12-no-password", no_argument, NULL, 'N' },
		{ "legacy-p12", no_argument, NULL, 'L' },
		{ "key-pass-file", required_argument, NULL, 'K' },
		{ "batch", required_argument, NULL, 'b' },
		{ "force", no_argument, NULL, 'f' },
		{ CLI_CA_PASS_OPT, required_argument, NULL, 'c' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	struct issue_src src = { .kind = PKI_PROFILE_SERVER, .secs = (int64_t)PKI_DAYS_LEAF * 86400 };
	struct issue_report rep = { 0 };
	tg_issue_opts o = { .key_type = PKI_KEY_EC_P256 };
	const char *dir_opt = NULL, *ca_pass = NULL;
	pki_pass p12_pass, key_pass;
	tg_ca *ca = NULL;
	tg_err err = { 0 };
	int c, rc = 1, profiles = 0, p12_none = 0, fd;

	cli_pass_init(&p12_pass, opts, 'W', 1);
	cli_pass_init(&key_pass, opts, 'K', 0);
	while ((c = cli_getopt(argc, argv, opts, "cert issue")) != -1) {
		if (profile_opt(c, &src.kind)) {
			profiles++;
			continue;
		}
		switch (c) {
		case 'd': dir_opt = optarg; break;
		case 's':
			if (src.nsans == MAX_CLI_SANS)
				return cli_usage("cert issue", "at most %d --san", MAX_CLI_SANS);
			src.sans[src.nsans++] = optarg;
			break;
		case 'D':
			if (days_opt(optarg, &src.secs, &err) != 0)
				return cli_fail(&err);
			break;
		case 'k':
			if (pki_key_type_parse(optarg, &o.key_type, &err) != 0)
				return cli_fail(&err);
			break;
		case 'o': o.out_dir = optarg; break;
		case 'P': o.p12 = 1; break;
		case 'W': p12_pass.file = optarg; break;
		case 'N': p12_none = 1; break;
		case 'L': o.p12_legacy = 1; break;
		case 'K': key_pass.file = optarg; break;
		case 'b': src.batch.path = optarg; break;
		case 'f': o.force = 1; break;
		case 'c': ca_pass = optarg; break;
		case 'j': rep.json = 1; break;
		default: return 2;
		}
	}
	if (profiles > 1)
		return cli_usage("cert issue", "choose one of --server, --client, --both");
	if (src.batch.path == NULL && optind + 1 != argc)
		return cli_usage("cert issue", optind == argc ? "missing NAME" :
		    "one NAME per command (use --batch FILE for many)");
	if (src.batch.path != NULL && optind != argc)
		return cli_usage("cert issue", "give either NAME or --batch FILE, not both");
	if ((p12_pass.file || p12_none || o.p12_legacy) && !o.p12)
		return cli_usage("cert issue",
		    "--p12-pass-file, --p12-no-password and --legacy-p12 need --p12");
	if (pki_pass_from_stdin(&p12_pass) && pki_pass_from_stdin(&key_pass))
		return cli_usage("cert issue", "--p12-pass-file - and --key-pass-file - cannot both "
		    "read standard input; give one of them as a FILE");
	/* Validate the inputs before touching the CA. */
	if (src.batch.path != NULL) {
		if ((fd = util_open_input(src.batch.path, NULL, &err)) < 0 ||
		    (src.batch.f = fdopen(fd, "r")) == NULL) {
			if (fd >= 0) {
				tg_err_set(&err, TG_ERR_IO, "cannot read batch file %s: %s",
				    src.batch.path, strerror(errno));
				close(fd);
			}
			return cli_fail(&err);
		}
		src.batch.kind = src.kind;
		src.batch.sans = src.sans;
		src.batch.nsans = src.nsans;
		src.batch.secs = src.secs;
		rep.batch = 1;
	} else {
		pki_profile probe;
		src.name = argv[optind];
		if (pki_profile_leaf(&probe, src.kind, src.name, src.sans, src.nsans, src.secs,
			&err) != 0)
			return cli_fail(&err);
	}
	if (o.p12 && cli_export_pass(&p12_pass, p12_none, opts, 'N', "cert issue",
		"the PKCS#12 file", &rc) != 0)
		goto out;
	if (key_pass.file != NULL && pki_pass_get(&key_pass, "the new key", 1, &err) != 0) {
		rc = cli_fail(&err);
		goto out;
	}
	o.p12_pass = p12_pass.value;
	o.key_pass = key_pass.value;
	rep.key_encrypted = key_pass.value != NULL;
	if ((ca = cli_open_ca(dir_opt, ca_pass, TG_CA_NEED_KEY, "cert issue", &rc)) == NULL)
		goto out;
	if (rep.json)
		rep.arr = json_array();
	if (tg_ca_issue(ca, src.batch.f ? next_batch : next_single, &src, &o, report_issued, &rep,
		&err) != 0) {
		rc = cli_fail(&err);
		if (rep.batch)
			fputs("tlsgate: nothing was issued\n", stderr);
		goto out;
	}
	if (rep.json)
		json_dumpf(rep.arr, stdout, JSON_INDENT(2)), putchar('\n');
	else if (rep.batch)
		printf("Issued %zu certificates into %s\n", rep.count,
		    o.out_dir ? o.out_dir : "the CA's issued/ directory");
	rc = 0;
out:
	json_decref(rep.arr);
	if (src.batch.f != NULL)
		fclose(src.batch.f);
	pki_pass_clear(&p12_pass);
	pki_pass_clear(&key_pass);
	tg_ca_free(ca);
	return rc;
}

static const char sign_help[] =
"Usage: tlsgate cert sign CSR --dir DIR [--server|--client|--both] [--days N]\n"
"                         [--out FILE] [--force]\n"
"\n"
"Signs a certificate signing request (from `tlsgate cert request`, `openssl req`,\n"
"`prosodyctl cert request`...) with the CA in DIR and records it in the inventory.\n"
"The request's signature is checked; its CN and SANs are kept (a server profile\n"
"also adds the CN as a SAN). Other subject fields and extensions in the request\n"
"are ignored: the profile decides what the certificate may do.\n"
"Writes the certificate followed by any intermediate to FILE, or to stdout.\n"
"An encrypted CA key's passphrase: --ca-pass-file F (or $TLSGATE_CA_PASS_FILE).\n"
"\n"
"Example:\n"
"  tlsgate cert sign example.com.csr --dir ./pki --out example.com.crt\n";

static int
cert_sign(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "server", no_argument, NULL, 'S' },
		{ "client", no_argument, NULL, 'C' },
		{ "both", no_argument, NULL, 'B' },
		{ "days", required_argument, NULL, 'D' },
		{ "out", required_argument, NULL, 'o' },
		{ "force", no_argument, NULL, 'f' },
		{ CLI_CA_PASS_OPT, required_argument, NULL, 'c' },
		{ NULL, 0, NULL, 0 },
	};
	pki_profile_kind kind = PKI_PROFILE_SERVER;
	int64_t secs = (int64_t)PKI_DAYS_LEAF * 86400;
	const char *dir_opt = NULL, *out = NULL, *ca_pass = NULL, *csr_path;
	X509_REQ *csr = NULL;
	pki_profile *p = NULL;
	tg_issued r;
	tg_ca *ca = NULL;
	tg_err err = { 0 };
	int c, rc = 1, force = 0;

	while ((c = cli_getopt(argc, argv, opts, "cert sign")) != -1) {
		if (profile_opt(c, &kind))
			continue;
		switch (c) {
		case 'd': dir_opt = optarg; break;
		case 'D':
			if (days_opt(optarg, &secs, &err) != 0)
				return cli_fail(&err);
			break;
		case 'o': out = optarg; break;
		case 'f': force = 1; break;
		case 'c': ca_pass = optarg; break;
		default: return 2;
		}
	}
	if (optind + 1 != argc)
		return cli_usage("cert sign", "give exactly one CSR file");
	csr_path = argv[optind];
	if ((p = calloc(1, sizeof(*p))) == NULL) {
		tg_err_set(&err, TG_ERR_INTERNAL, "out of memory");
		return cli_fail(&err);
	}
	if ((csr = pki_load_csr(csr_path, &err)) == NULL ||
	    pki_csr_to_profile(csr, csr_path, kind, secs, p, &err) != 0) {
		rc = cli_fail(&err);
		goto out;
	}
	if ((ca = cli_open_ca(dir_opt, ca_pass, TG_CA_NEED_KEY, "cert sign", &rc)) == NULL)
		goto out;
	if (tg_ca_sign(ca, p, X509_REQ_get0_pubkey(csr), out, force, &r, &err) != 0) {
		rc = cli_fail(&err);
		goto out;
	}
	if (out != NULL)
		printf("Signed %s (serial %s) into %s\n", cli_safe(0, r.cn), r.serial, out);
	rc = 0;
out:
	free(p);
	X509_REQ_free(csr);
	tg_ca_free(ca);
	return rc;
}

/* Writes key to path (0600 from the first byte, or the owner's key mode),
 * encrypted when pass is not NULL; refused if it exists. */
static int
write_key_file(const char *path, EVP_PKEY *key, const char *pass, int force,
    const cli_owner *owner, tg_err *err)
{
	char *pem;
	size_t len;
	int rc;

	if (pki_key_to_pem(key, pass, &pem, &len, err) != 0)
		return -1;
	rc = cli_write_owned(path, pem, len, owner != NULL ? owner->key_mode : 0600,
	    force ? UTIL_WRITE_FORCE : 0, owner, err);
	OPENSSL_clear_free(pem, len);
	return rc;
}

static EVP_PKEY *
new_key_file(const char *path, pki_key_type type, const char *pass, int force, tg_err *err)
{
	EVP_PKEY *key = pki_key_generate(type, err);

	if (key != NULL && write_key_file(path, key, pass, force, NULL, err) != 0) {
		EVP_PKEY_free(key);
		return NULL;
	}
	return key;
}

static int
hosts_profile(pki_profile *p, pki_profile_kind kind, int argc, char **argv, int64_t secs,
    tg_err *err)
{
	if (pki_profile_leaf(p, kind, argv[0], (const char *const *)argv + 1, (size_t)(argc - 1),
		secs, err) != 0)
		return -1;
	return 0;
}

static const char request_help[] =
"Usage: tlsgate cert request HOST... (--key KEY | --new-key [--key-type TYPE])\n"
"                            [--key-pass-file F] [--out FILE] [--force]\n"
"\n"
"Creates a certificate signing request to send to an outside CA (or to\n"
"`tlsgate cert sign`). The first HOST is the CN; every HOST is a SAN, so the\n"
"certificate covers all of them (for XMPP: each VirtualHost and Component).\n"
"\n"
"Options:\n"
"  --key KEY          use an existing private key\n"
"  --new-key          create a new key (written 0600 beside the CSR, as HOST.key)\n"
"  --key-type TYPE    type of the new key: " PKI_KEY_TYPES "\n"
"  --key-pass-file F  the key's passphrase (first line of F; - reads standard\n"
"                     input, or asks on a terminal): opens an encrypted --key, or\n"
"                     protects the --new-key (PKCS#8, AES-256; asked twice)\n"
"  --out FILE         where to write the CSR (default HOST.csr)\n"
"  --force            replace existing files\n"
"\n"
"Example:\n"
"  tlsgate cert request example.com conference.example.com --new-key\n";

static int
cert_request(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "key", required_argument, NULL, 'k' },
		{ "new-key", no_argument, NULL, 'n' },
		{ "key-type", required_argument, NULL, 't' },
		{ "out", required_argument, NULL, 'o' },
		{ "force", no_argument, NULL, 'f' },
		{ "key-pass-file", required_argument, NULL, 'p' },
		{ NULL, 0, NULL, 0 },
	};
	const char *key_path = NULL, *out = NULL;
	char csr_path[PATH_MAX], new_key_path[PATH_MAX], *pem = NULL;
	pki_pass pass;
	pki_key_type type = PKI_KEY_EC_P256;
	pki_profile *p = NULL;
	EVP_PKEY *key = NULL;
	X509_REQ *csr = NULL;
	size_t len;
	tg_err err = { 0 };
	int c, rc = 1, new_key = 0, force = 0;

	cli_pass_init(&pass, opts, 'p', 1);
	while ((c = cli_getopt(argc, argv, opts, "cert request")) != -1) {
		switch (c) {
		case 'k': key_path = optarg; break;
		case 'n': new_key = 1; break;
		case 't':
			if (pki_key_type_parse(optarg, &type, &err) != 0)
				return cli_fail(&err);
			break;
		case 'o': out = optarg; break;
		case 'f': force = 1; break;
		case 'p': pass.file = optarg; break;
		default: return 2;
		}
	}
	if (optind >= argc)
		return cli_usage("cert request", "missing HOST");
	if ((key_path != NULL) == new_key)
		return cli_usage("cert request", "give either --key KEY or --new-key");
	if ((p = calloc(1, sizeof(*p))) == NULL ||
	    hosts_profile(p, PKI_PROFILE_SERVER, argc - optind, argv + optind, 1, &err) != 0) {
		rc = cli_fail(&err);
		goto out;
	}
	if (snprintf(csr_path, sizeof(csr_path), "%s", out ? out : "") < 0 ||
	    (out == NULL && snprintf(csr_path, sizeof(csr_path), "%s.csr", p->cn) < 0))
		goto out;
	if (util_may_write(csr_path, force, &err) != 0) {
		rc = cli_fail(&err);
		goto out;
	}
	if (new_key) {
		size_t n = strlen(csr_path);
		if (n > 4 && strcmp(csr_path + n - 4, ".csr") == 0)
			n -= 4;
		if (n + 5 > sizeof(new_key_path)) {
			tg_err_set(&err, TG_ERR_USAGE, "path too long: %s", csr_path);
			rc = cli_fail(&err);
			goto out;
		}
		memcpy(new_key_path, csr_path, n);
		memcpy(new_key_path + n, ".key", 5);
		if (pass.file == NULL || pki_pass_get(&pass, "the new key", 1, &err) == 0)
			key = new_key_file(new_key_path, type, pass.value, force, &err);
	} else {
		key = pki_load_key_pass(key_path, &pass, &err);
	}
	if (key == NULL || (csr = pki_csr_build(p, key, &err)) == NULL ||
	    pki_csr_to_pem(csr, &pem, &len, &err) != 0 ||
	    util_write_file(csr_path, pem, len, 0644, force ? UTIL_WRITE_FORCE : 0, &err) != 0) {
		if (new_key && key != NULL)
			unlink(new_key_path);
		rc = cli_fail(&err);
		goto out;
	}
	printf("Wrote certificate request %s", csr_path);
	if (new_key)
		printf(" and key %s (0600%s)", new_key_path,
		    pass.value != NULL ? ", passphrase-protected" : "");
	printf("\nSend %s to your CA, or sign it: tlsgate cert sign %s --dir DIR\n", csr_path,
	    csr_path);
	rc = 0;
out:
	pki_pass_clear(&pass);
	free(pem);
	free(p);
	EVP_PKEY_free(key);
	X509_REQ_free(csr);
	return rc;
}

static const char selfsigned_help[] =
"Usage: tlsgate cert selfsigned HOST... [--days N] [--key TYPE] [--out-dir D] [--force]\n"
"                               [--owner USER[:GROUP]]\n"
"\n"
"Creates a self-signed server certificate for HOST (CN and first SAN) and any\n"
"further HOSTs (more SANs), with a new key: D/HOST.crt and D/HOST.key (0600),\n"
"D defaulting to the current directory. Clients must trust the certificate\n"
"itself; for anything beyond a test, prefer a CA: `tlsgate ca init`.\n"
"--owner gives both files to the service as `cert import` does: USER gets the\n"
"key 0600, root:GROUP (or :GROUP) 0640 root-owned with GROUP (Prosody).\n"
"\n"
"Example:\n"
"  tlsgate cert selfsigned example.com conference.example.com --out-dir certs\n"
"  tlsgate cert selfsigned example.com --out-dir /etc/prosody/certs --owner root:prosody\n";

static int
cert_selfsigned(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "days", required_argument, NULL, 'D' },
		{ "key", required_argument, NULL, 'k' },
		{ "out-dir", required_argument, NULL, 'o' },
		{ "force", no_argument, NULL, 'f' },
		{ "owner", required_argument, NULL, 'O' },
		{ NULL, 0, NULL, 0 },
	};
	int64_t secs = (int64_t)PKI_DAYS_LEAF * 86400;
	pki_key_type type = PKI_KEY_EC_P256;
	cli_owner owner = { .key_mode = 0600 };
	const char *dir = ".";
	char crt[PATH_MAX], keyp[PATH_MAX], *pem = NULL;
	unsigned char serial[PKI_SERIAL_LEN];
	pki_profile *p = NULL;
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	size_t len;
	tg_err err = { 0 };
	int c, rc = 1, force = 0;

	while ((c = cli_getopt(argc, argv, opts, "cert selfsigned")) != -1) {
		switch (c) {
		case 'D':
			if (days_opt(optarg, &secs, &err) != 0)
				return cli_fail(&err);
			break;
		case 'k':
			if (pki_key_type_parse(optarg, &type, &err) != 0)
				return cli_fail(&err);
			break;
		case 'o': dir = optarg; break;
		case 'f': force = 1; break;
		case 'O':
			if (cli_owner_parse(optarg, &owner, &err) != 0)
				return cli_fail(&err);
			break;
		default: return 2;
		}
	}
	if (optind >= argc)
		return cli_usage("cert selfsigned", "missing HOST");
	if ((p = calloc(1, sizeof(*p))) == NULL ||
	    hosts_profile(p, PKI_PROFILE_SELFSIGNED, argc - optind, argv + optind, secs, &err) != 0)
		goto fail;
	snprintf(crt, sizeof(crt), "%s/%s.crt", dir, p->cn);
	snprintf(keyp, sizeof(keyp), "%s/%s.key", dir, p->cn);
	if (util_may_write(crt, force, &err) != 0 || util_may_write(keyp, force, &err) != 0)
		goto fail;
	if (util_mkdir_p(dir, 0755, &err) != 0 || pki_serial_random(serial, &err) != 0 ||
	    (key = pki_key_generate(type, &err)) == NULL ||
	    (cert = pki_cert_build(p, key, NULL, key, serial, sizeof(serial), &err)) == NULL ||
	    pki_certs_to_pem(&cert, 1, &pem, &len, &err) != 0)
		goto fail;
	if (write_key_file(keyp, key, NULL, force, &owner, &err) != 0)
		goto fail;
	if (cli_write_owned(crt, pem, len, 0644, force ? UTIL_WRITE_FORCE : 0, &owner, &err) != 0) {
		unlink(keyp);
		goto fail;
	}
	printf("Wrote self-signed certificate %s and key %s (%04o)\n", crt, keyp,
	    (unsigned)owner.key_mode);
	rc = 0;
	goto out;
fail:
	rc = cli_fail(&err);
out:
	free(pem);
	free(p);
	EVP_PKEY_free(key);
	X509_free(cert);
	return rc;
}

static const char p12_help[] =
"Usage: tlsgate cert p12 --cert F --key F --out F [--chain F]\n"
"                        (--pass-file F | --no-password) [--key-pass-file F]\n"
"                        [--name NAME] [--legacy] [--force]\n"
"\n"
"Bundles a certificate, its key and chain into a PKCS#12 (.p12/.pfx) file for\n"
"browsers, Windows, macOS and Java. The key must match the certificate.\n"
"Intermediates are taken from --chain, or from the certificates following the\n"
"first one in --cert.\n"
"\n"
"Options:\n"
"  --pass-file F       export password (first line of F; - reads standard input);\n"
"                      without it the password is asked twice on a terminal\n"
"  --no-password       write a file anyone can open (an empty password)\n"
"  --key-pass-file F   passphrase of an encrypted --key (asked on a terminal)\n"
"  --legacy            PBE-SHA1-3DES and a SHA-1 MAC, for macOS before 14, older\n"
"                      Windows and Java 8; default is AES-256-CBC, PBKDF2, SHA-256 MAC\n"
"  --name NAME         friendly name shown on import (default: the certificate's CN)\n"
"\n"
"Example:\n"
"  tlsgate cert p12 --cert alice.crt --key alice.key --out alice.p12 --pass-file pw\n";

static int
cert_p12(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "cert", required_argument, NULL, 'c' },
		{ "key", required_argument, NULL, 'k' },
		{ "out", required_argument, NULL, 'o' },
		{ "chain", required_argument, NULL, 'C' },
		{ "pass-file", required_argument, NULL, 'p' },
		{ "no-password", no_argument, NULL, 'N' },
		{ "key-pass-file", required_argument, NULL, 'K' },
		{ "name", required_argument, NULL, 'n' },
		{ "legacy", no_argument, NULL, 'L' },
		{ "force", no_argument, NULL, 'f' },
		{ NULL, 0, NULL, 0 },
	};
	const char *cert_path = NULL, *key_path = NULL, *out = NULL, *chain_path = NULL;
	const char *name = NULL;
	char cn[PKI_NAME_MAX];
	pki_pass pass, key_pass;
	STACK_OF(X509) *certs = NULL, *chain = NULL;
	EVP_PKEY *key = NULL;
	X509 *leaf;
	unsigned char *der = NULL;
	size_t len = 0;
	tg_err err = { 0 };
	int c, rc = 1, legacy = 0, force = 0, none = 0;

	cli_pass_init(&pass, opts, 'p', 1);
	cli_pass_init(&key_pass, opts, 'K', 1);
	while ((c = cli_getopt(argc, argv, opts, "cert p12")) != -1) {
		switch (c) {
		case 'c': cert_path = optarg; break;
		case 'k': key_path = optarg; break;
		case 'o': out = optarg; break;
		case 'C': chain_path = optarg; break;
		case 'p': pass.file = optarg; break;
		case 'N': none = 1; break;
		case 'K': key_pass.file = optarg; break;
		case 'n': name = optarg; break;
		case 'L': legacy = 1; break;
		case 'f': force = 1; break;
		default: return 2;
		}
	}
	if (optind != argc)
		return cli_usage("cert p12", "unexpected argument '%s'", argv[optind]);
	if (cert_path == NULL || key_path == NULL || out == NULL)
		return cli_usage("cert p12", "--cert, --key and --out are required");
	if (pki_pass_from_stdin(&pass) && pki_pass_from_stdin(&key_pass))
		return cli_usage("cert p12", "--pass-file - and --key-pass-file - cannot both read "
		    "standard input; give one of them as a FILE");
	if (util_may_write(out, force, &err) != 0)
		return cli_fail(&err);
	if (pki_load_certs(cert_path, &certs, &err) != 0 ||
	    (key = pki_load_key_pass(key_path, &key_pass, &err)) == NULL)
		goto fail;
	leaf = sk_X509_value(certs, 0);
	if (!pki_key_matches_cert(key, leaf)) {
		pki_cert_cn(leaf, cn, sizeof(cn));
		tg_err_set(&err, TG_ERR_VERIFY,
		    "key %s does not match certificate %s (CN=%s); give the key that was created "
		    "with this certificate", key_path, cert_path, cn);
		goto fail;
	}
	if (chain_path != NULL) {
		if (pki_load_certs(chain_path, &chain, &err) != 0)
			goto fail;
	} else {
		/* The certificates after the leaf in --cert are its chain. */
		if ((chain = sk_X509_new_null()) == NULL) {
			tg_err_set(&err, TG_ERR_INTERNAL, "out of memory");
			goto fail;
		}
		for (int i = 1; i < sk_X509_num(certs); i++) {
			X509_up_ref(sk_X509_value(certs, i));
			sk_X509_push(chain, sk_X509_value(certs, i));
		}
	}
	pki_cert_cn(leaf, cn, sizeof(cn));
	if (cli_export_pass(&pass, none, opts, 'N', "cert p12", out, &rc) != 0)
		goto out;
	if (pki_p12_build(leaf, key, chain, name ? name : cn, pass.value ? pass.value : "", legacy,
		&der, &len, &err) != 0 ||
	    util_write_file(out, der, len, 0600, force ? UTIL_WRITE_FORCE : 0, &err) != 0)
		goto fail;
	printf("Wrote %s (%s encryption, mode 0600)\n", out,
	    legacy ? "legacy 3DES/SHA-1" : "AES-256/PBKDF2, SHA-256 MAC");
	rc = 0;
	goto out;
fail:
	rc = cli_fail(&err);
out:
	if (der != NULL)
		OPENSSL_clear_free(der, len);
	pki_pass_clear(&pass);
	pki_pass_clear(&key_pass);
	sk_X509_pop_free(certs, X509_free);
	sk_X509_pop_free(chain, X509_free);
	EVP_PKEY_free(key);
	return rc;
}

const struct cli_cmd cli_cert_cmds[] = {
	{ "issue", "issue a server or client certificate and key from a CA", issue_help,
	  cert_issue, NULL },
	{ "request", "create a CSR (and key) for an outside CA", request_help, cert_request, NULL },
	{ "sign", "sign a CSR with a CA", sign_help, cert_sign, NULL },
	{ "selfsigned", "create a self-signed server certificate", selfsigned_help,
	  cert_selfsigned, NULL },
	{ "import", "install a cert and key into a service's certs dir, then reload it",
	  cli_import_help, cli_cert_import, NULL },
	{ "p12", "bundle cert, key and chain into a PKCS#12 file for browsers", p12_help,
	  cert_p12, NULL },
	{ "revoke", "revoke a certificate (then publish a CRL with `tlsgate crl`)",
	  cli_revoke_help, cli_cert_revoke, NULL },
	{ "list", "list the inventory of a CA", cli_list_help, cli_cert_list, NULL },
	{ "renew", "re-issue certificates that expire soon", cli_renew_help, cli_cert_renew, NULL },
	{ NULL, NULL, NULL, NULL, NULL },
};
