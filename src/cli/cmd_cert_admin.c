/* tlsgate cert revoke|list|renew: the inventory side of the workbench. */
#include <jansson.h>
#include <openssl/x509v3.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "tlsgate/ca.h"
#include "tlsgate/util.h"

const char cli_revoke_help[] =
"Usage: tlsgate cert revoke (SERIAL | --cert FILE) --dir DIR [--reason REASON]\n"
"\n"
"Marks a certificate of the CA in DIR as revoked in the inventory. Peers learn of\n"
"it from the CRL: publish one afterwards with `tlsgate crl --dir DIR` and hand it\n"
"to the services (ssl_crl_file, --crl).\n"
"\n"
"  SERIAL          hex serial as `tlsgate cert list` or `openssl x509 -serial` shows it\n"
"  --cert FILE     revoke the certificate in FILE (its signature must verify with\n"
"                  this CA's key); one the inventory lacks is recorded first, with\n"
"                  a warning\n"
"  --reason R      unspecified (default), keyCompromise, CACompromise,\n"
"                  affiliationChanged, superseded, cessationOfOperation,\n"
"                  certificateHold, privilegeWithdrawn\n"
"\n"
"Example:\n"
"  tlsgate cert revoke --cert pki/issued/mallory.crt --dir pki --reason keyCompromise\n"
"  tlsgate crl --dir pki\n";

int
cli_cert_revoke(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "cert", required_argument, NULL, 'c' },
		{ "reason", required_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 },
	};
	const char *dir_opt = NULL, *cert_path = NULL;
	char serial[STORE_SERIAL_MAX];
	int reason = 0, c, rc;
	X509 *cert = NULL;
	tg_ca *ca;
	tg_err err = { 0 };

	while ((c = cli_getopt(argc, argv, opts, "cert revoke")) != -1) {
		switch (c) {
		case 'd': dir_opt = optarg; break;
		case 'c': cert_path = optarg; break;
		case 'r':
			if (pki_reason_parse(optarg, &reason, &err) != 0)
				return cli_fail(&err);
			break;
		default: return 2;
		}
	}
	if ((cert_path != NULL) == (optind < argc) || argc - optind > 1)
		return cli_usage("cert revoke", "give either one SERIAL or --cert FILE");
	if ((ca = cli_open_ca(dir_opt, NULL, 0, "cert revoke", &rc)) == NULL)
		return rc;
	if (cert_path != NULL) {
		int added;
		if ((cert = pki_load_cert(cert_path, &err)) == NULL ||
		    tg_ca_revoke_cert(ca, cert, cert_path, reason, &added, serial, &err) != 0)
			goto fail;
		if (added)
			fprintf(stderr, "tlsgate: warning: %s (serial %s) was signed by this CA but "
			    "missing from its inventory; it is recorded now, then revoked\n", cert_path,
			    serial);
	} else if (tg_serial_normalize(argv[optind], serial, &err) != 0 ||
	    tg_ca_revoke(ca, serial, reason, &err) != 0) {
		goto fail;
	}
	printf("Revoked %s (%s). Publish the CRL now: tlsgate crl --dir %s\n", serial,
	    pki_reason_name(reason), tg_ca_dir(ca));
	rc = 0;
	goto out;
fail:
	rc = cli_fail(&err);
out:
	X509_free(cert);
	tg_ca_free(ca);
	return rc;
}

const char cli_list_help[] =
"Usage: tlsgate cert list --dir DIR [--expiring DURATION] [--revoked] [--json]\n"
"\n"
"Lists everything the CA in DIR has issued, oldest first: serial, status, expiry,\n"
"profile, name and SANs. STATUS is valid, expired, not-yet-valid (by the clock now),\n"
"revoked, pending (recorded by a run that was interrupted before its files were in\n"
"place; the next issue, sign, revoke or crl settles it) or void (signed but never\n"
"handed out: an interrupted run's leftovers, removed).\n"
"\n"
"  --expiring D    only unrevoked certificates that expire within D (30d, 12h, 2w),\n"
"                  including those already expired (shown as expired)\n"
"  --revoked       only revoked certificates\n"
"  --json          a JSON array of objects: serial, status, profile, cn, subject,\n"
"                  sans (array), not_before, not_after (RFC 3339), fingerprint_sha256,\n"
"                  cert_path, key_path, revoked_at, reason\n"
"\n"
"Example:\n"
"  tlsgate cert list --dir pki --expiring 30d\n";

struct list_out {
	int json;
	json_t *arr;
	size_t n;
};

static json_t *
sans_array(const char *sans)
{
	json_t *a = json_array();
	const char *p = sans;

	while (p != NULL && *p != '\0') {
		const char *comma = strchr(p, ',');
		size_t n = comma ? (size_t)(comma - p) : strlen(p);
		json_array_append_new(a, json_stringn(p, n));
		p = comma ? comma + 1 : NULL;
	}
	return a;
}

/* A valid row says what the clock says of it now. */
static const char *
shown_status(const store_cert *c)
{
	int64_t now = (int64_t)time(NULL);

	if (strcmp(c->status, STORE_VALID) != 0)
		return c->status;
	if (now > c->not_after)
		return "expired";
	if (now < c->not_before)
		return "not-yet-valid";
	return STORE_VALID;
}

static int
print_row(const store_cert *c, void *arg)
{
	struct list_out *o = arg;
	const char *status = shown_status(c);
	char nb[32], na[32], ra[32];

	o->n++;
	pki_time_format(c->not_before, nb, sizeof(nb));
	pki_time_format(c->not_after, na, sizeof(na));
	if (o->json) {
		json_t *obj = json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:s, s:s, s:s}",
		    "serial", c->serial, "status", status, "profile", c->profile ? c->profile : "",
		    "cn", c->cn ? c->cn : "", "subject", c->subject ? c->subject : "",
		    "sans", sans_array(c->sans), "not_before", nb, "not_after", na,
		    "fingerprint_sha256", c->fingerprint);
		json_object_set_new(obj, "cert_path", c->cert_path ? json_string(c->cert_path) : json_null());
		json_object_set_new(obj, "key_path", c->key_path ? json_string(c->key_path) : json_null());
		if (strcmp(c->status, "revoked") == 0) {
			pki_time_format(c->revoked_at, ra, sizeof(ra));
			json_object_set_new(obj, "revoked_at", json_string(ra));
			json_object_set_new(obj, "reason", json_string(pki_reason_name(c->reason)));
		} else {
			json_object_set_new(obj, "revoked_at", json_null());
			json_object_set_new(obj, "reason", json_null());
		}
		json_array_append_new(o->arr, obj);
		return 0;
	}
	if (o->n == 1)
		printf("%-32s  %-13s  %-20s  %-12s  %s\n", "SERIAL", "STATUS", "NOT AFTER", "PROFILE",
		    "NAME [SANS]");
	printf("%-32s  %-13s  %-20s  %-12s  %s%s%s%s\n", c->serial, status, na,
	    c->profile ? c->profile : "", c->cn ? c->cn : "", c->sans && *c->sans ? " [" : "",
	    c->sans ? c->sans : "", c->sans && *c->sans ? "]" : "");
	return 0;
}

int
cli_cert_list(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "expiring", required_argument, NULL, 'e' },
		{ "revoked", no_argument, NULL, 'r' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	store_filter f = { 0 };
	struct list_out o = { 0 };
	const char *dir_opt = NULL;
	int64_t within;
	tg_ca *ca;
	tg_err err = { 0 };
	int c, rc;

	while ((c = cli_getopt(argc, argv, opts, "cert list")) != -1) {
		switch (c) {
		case 'd': dir_opt = optarg; break;
		case 'e':
			if (util_parse_duration(optarg, &within, &err) != 0)
				return cli_fail(&err);
			f.expiring_before = (int64_t)time(NULL) + within;
			f.valid_only = 1;
			break;
		case 'r': f.revoked_only = 1; break;
		case 'j': o.json = 1; break;
		default: return 2;
		}
	}
	if (optind != argc)
		return cli_usage("cert list", "unexpected argument '%s'", argv[optind]);
	if ((ca = cli_open_ca(dir_opt, NULL, 0, "cert list", &rc)) == NULL)
		return rc;
	if (o.json)
		o.arr = json_array();
	if (store_list(tg_ca_store(ca), &f, print_row, &o, &err) != 0) {
		rc = cli_fail(&err);
	} else {
		if (o.json) {
			json_dumpf(o.arr, stdout, JSON_INDENT(2));
			putchar('\n');
		} else if (o.n == 0) {
			printf("No certificates match.\n");
		}
		rc = 0;
	}
	json_decref(o.arr);
	tg_ca_free(ca);
	return rc;
}

const char cli_renew_help[] =
"Usage: tlsgate cert renew --dir DIR [--within DURATION] [--days N] [--key TYPE]\n"
"                          [--exec CMD] [--dry-run]\n"
"\n"
"Re-issues every valid leaf certificate of the CA in DIR that expires within\n"
"DURATION (default 30d), with a new key, the same name, SANs and profile, in place\n"
"of the old files (each replaced atomically). Then runs CMD once through /bin/sh\n"
"if anything was renewed, with TLSGATE_RENEWED set to the renewed names, e.g. to\n"
"reload the services. Meant for cron or a systemd timer (the package's\n"
"tlsgate-renew.timer reads /etc/tlsgate/renew.conf). --dry-run lists what would\n"
"be renewed. An encrypted CA key's passphrase: --ca-pass-file F (or\n"
"$TLSGATE_CA_PASS_FILE).\n"
"\n"
"Example:\n"
"  tlsgate cert renew --dir /etc/tlsgate/ca --within 30d --exec 'systemctl reload nginx'\n";

typedef struct {
	char *cn, *sans, *profile, *cert_path;
	int64_t not_after;
} renewal;

struct renew_acc {
	renewal *items;
	size_t n, cap;
	int64_t before;
	int oom;
};

/* Keeps the newest certificate per file; only those are renewal candidates. */
static int
collect_renewal(const store_cert *c, void *arg)
{
	struct renew_acc *acc = arg;
	renewal *r = NULL;

	if (c->cert_path == NULL || c->key_path == NULL || c->profile == NULL ||
	    strcmp(c->profile, "root") == 0 || strcmp(c->profile, "intermediate") == 0)
		return 0;
	for (size_t i = 0; i < acc->n; i++)
		if (strcmp(acc->items[i].cert_path, c->cert_path) == 0)
			r = &acc->items[i];
	if (r == NULL) {
		if (acc->n == acc->cap) {
			size_t ncap = acc->cap ? acc->cap * 2 : 32;
			renewal *ni = realloc(acc->items, ncap * sizeof(*ni));
			if (ni == NULL) {
				acc->oom = 1;
				return 1;
			}
			acc->items = ni;
			acc->cap = ncap;
		}
		r = &acc->items[acc->n++];
		memset(r, 0, sizeof(*r));
	}
	free(r->cn);
	free(r->sans);
	free(r->profile);
	free(r->cert_path);
	r->cn = strdup(c->cn);
	r->sans = strdup(c->sans ? c->sans : "");
	r->profile = strdup(c->profile);
	r->cert_path = strdup(c->cert_path);
	r->not_after = c->not_after;
	if (!r->cn || !r->sans || !r->profile || !r->cert_path) {
		acc->oom = 1;
		return 1;
	}
	return 0;
}

struct renew_src {
	const renewal *r;
	int64_t secs;
	int done;
};

static int
next_renewal(void *arg, pki_profile *p, tg_err *err)
{
	struct renew_src *s = arg;
	pki_profile_kind kind;
	char sans[8192], *save = NULL, *tok;
	pki_san san;

	if (s->done)
		return 0;
	s->done = 1;
	if (pki_profile_parse(s->r->profile, &kind, err) != 0 ||
	    pki_profile_leaf(p, kind, s->r->cn, NULL, 0, s->secs, err) != 0)
		return -1;
	snprintf(sans, sizeof(sans), "%s", s->r->sans);
	for (tok = strtok_r(sans, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
		if (pki_san_parse(tok, &san, err) != 0 || pki_profile_add_san(p, &san, err) != 0)
			return -1;
	return 1;
}

int
cli_cert_renew(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "within", required_argument, NULL, 'w' },
		{ "days", required_argument, NULL, 'D' },
		{ "key", required_argument, NULL, 'k' },
		{ "exec", required_argument, NULL, 'x' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ CLI_CA_PASS_OPT, required_argument, NULL, 'c' },
		{ NULL, 0, NULL, 0 },
	};
	const char *dir_opt = NULL, *exec_cmd = NULL, *ca_pass = NULL;
	int64_t within = 30 * 86400, secs = (int64_t)PKI_DAYS_LEAF * 86400;
	tg_issue_opts o = { .key_type = PKI_KEY_EC_P256, .force = 1 };
	store_filter f = { .valid_only = 1 };
	struct renew_acc acc = { 0 };
	char names[8192] = "";
	size_t used = 0, renewed = 0;
	unsigned long days;
	int c, rc, dry = 0;
	tg_ca *ca;
	tg_err err = { 0 };

	while ((c = cli_getopt(argc, argv, opts, "cert renew")) != -1) {
		switch (c) {
		case 'd': dir_opt = optarg; break;
		case 'w':
			if (util_parse_duration(optarg, &within, &err) != 0)
				return cli_fail(&err);
			break;
		case 'D':
			if (util_parse_uint(optarg, "--days", 36500, &days, &err) != 0)
				return cli_fail(&err);
			secs = (int64_t)days * 86400;
			break;
		case 'k':
			if (pki_key_type_parse(optarg, &o.key_type, &err) != 0)
				return cli_fail(&err);
			break;
		case 'x': exec_cmd = optarg; break;
		case 'n': dry = 1; break;
		case 'c': ca_pass = optarg; break;
		default: return 2;
		}
	}
	if (optind != argc)
		return cli_usage("cert renew", "unexpected argument '%s'", argv[optind]);
	if ((ca = cli_open_ca(dir_opt, ca_pass, dry ? 0 : TG_CA_NEED_KEY, "cert renew", &rc)) == NULL)
		return rc;
	rc = 1;
	if (store_list(tg_ca_store(ca), &f, collect_renewal, &acc, &err) != 0)
		goto fail;
	if (acc.oom) {
		tg_err_set(&err, TG_ERR_INTERNAL, "out of memory");
		goto fail;
	}
	for (size_t i = 0; i < acc.n; i++) {
		renewal *r = &acc.items[i];
		struct renew_src src = { .r = r, .secs = secs };
		char dirbuf[PATH_MAX];

		if (r->not_after > (int64_t)time(NULL) + within)
			continue;
		if (dry) {
			printf("would renew %s (%s)\n", r->cn, r->cert_path);
			continue;
		}
		snprintf(dirbuf, sizeof(dirbuf), "%s", r->cert_path);
		o.out_dir = dirname(dirbuf);
		if (tg_ca_issue(ca, next_renewal, &src, &o, NULL, NULL, &err) != 0)
			goto fail;
		printf("Renewed %s (%s)\n", r->cn, r->cert_path);
		renewed++;
		used += (size_t)snprintf(names + used, used < sizeof(names) ? sizeof(names) - used : 0,
		    "%s%s", used ? " " : "", r->cn);
		if (used >= sizeof(names))
			used = sizeof(names) - 1;
	}
	if (renewed == 0 && !dry)
		printf("Nothing expires within the window; nothing renewed.\n");
	if (renewed > 0 && exec_cmd != NULL) {
		int st;
		setenv("TLSGATE_RENEWED", names, 1);
		fflush(stdout);
		st = system(exec_cmd);
		if (st != 0) {
			tg_err_set(&err, TG_ERR_IO,
			    "certificates were renewed, but `%s` failed (status %d); run it by hand",
			    exec_cmd, st);
			goto fail;
		}
	}
	rc = 0;
	goto out;
fail:
	rc = cli_fail(&err);
out:
	for (size_t i = 0; i < acc.n; i++) {
		free(acc.items[i].cn);
		free(acc.items[i].sans);
		free(acc.items[i].profile);
		free(acc.items[i].cert_path);
	}
	free(acc.items);
	tg_ca_free(ca);
	return rc;
}
