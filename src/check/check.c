/* The checker context: options in, findings out. */
#include <dirent.h>
#include <openssl/err.h>
#include <stdarg.h>
#include <errno.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include "check/chk_int.h"
#include "tlsgate/util.h"

chk_ctx *
chk_new(tg_err *err)
{
	chk_ctx *c = calloc(1, sizeof(*c));

	if (c == NULL) {
		tg_err_set(err, TG_ERR_INTERNAL, "out of memory");
		return NULL;
	}
	c->purpose = CHK_PURPOSE_SERVER;
	c->warn_days = CHK_WARN_DAYS_DEFAULT;
	c->now = (int64_t)time(NULL);
	c->system_store = 1;
	c->pg_unit = -1;
	return c;
}

static void
free_list(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void
chk_free(chk_ctx *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < c->nfiles; i++)
		chk_file_free(c->files[i]);
	free(c->files);
	for (size_t i = 0; i < c->nanchors; i++)
		chk_cert_clear(&c->anchors[i]);
	free(c->anchors);
	free_list(c->inputs, c->ninputs);
	for (size_t i = 0; i < c->npairs; i++) {
		free(c->pair_cert[i]);
		free(c->pair_key[i]);
	}
	free(c->pair_cert);
	free(c->pair_key);
	for (size_t i = 0; i < c->nunits; i++) {
		for (size_t j = 0; j < c->units[i].nhosts; j++)
			free(c->units[i].hosts[j]);
		free(c->units[i].hosts);
	}
	for (size_t i = 0; i < c->nunits; i++)
		if (c->units[i].endpoint) {
			for (size_t j = 0; j < c->units[i].ncerts; j++)
				chk_cert_clear(&c->units[i].certs[j]);
			free(c->units[i].certs);
		}
	free(c->units);
	for (size_t i = 0; c->hosts != NULL && i < c->nhosts; i++)
		free(c->hosts[i].pin);
	free_list(c->ca_inputs, c->nca_inputs);
	free_list(c->ca_roles, c->nca_roles);
	free_list(c->chain_cert, c->nchain_cert);
	free_list(c->chain_src, c->nchain_src);
	free_list(c->chain_why, c->nchain_why);
	free(c->cfg_notes);
	free(c->cfg_note_unit);
	free(c->hosts);
	chk_pcfg_free(c->prosody);
	free(c->note_unit);
	for (size_t i = 0; i < c->nfindings; i++) {
		free(c->findings[i].file);
		free(c->findings[i].message);
		free(c->findings[i].fix);
	}
	free(c->findings);
	free(c->cas);
	free(c->by_spki);
	X509_STORE_free(c->sys_store);
	OSSL_DECODER_CTX_free(c->key_decoder);
	chk_cache_free(c);
	EVP_PKEY_free(c->decoded_key);
	if (c->pass != NULL)
		OPENSSL_clear_free(c->pass, strlen(c->pass));
	for (size_t i = 0; i < c->nkeypasses; i++) {
		for (size_t j = 0; j < c->keypasses[i].npasses; j++)
			util_free_secret(c->keypasses[i].passes[j]);
		free(c->keypasses[i].passes);
		free(c->keypasses[i].key);
	}
	free(c->keypasses);
	free(c->client_cert);
	free(c->client_key);
	free(c);
}

/* Hosts are kept as certificates carry them: an internationalised name as
 * its A-labels (bücher.example -> xn--bcher-kva.example). */
static int
host_add(chk_ctx *c, const char *given, const struct chk_phost *from, const char *pin,
    tg_err *err)
{
	char name[CHK_NAME_MAX];
	struct chk_host *h;

	if (util_idna_to_ascii(given, name, sizeof(name), err) != 0)
		return tg_err_prefix(err, "host '%s'", given);

	for (size_t i = 0; i < c->nhosts; i++)
		if (strcasecmp(c->hosts[i].name, name) == 0)
			return 0;
	if (c->nhosts == CHK_MAX_HOSTS)
		return tg_err_set(err, TG_ERR_USAGE, "more than %d host names", CHK_MAX_HOSTS);
	if ((h = realloc(c->hosts, (c->nhosts + 1) * sizeof(*h))) == NULL)
		return tg_err_set(err, TG_ERR_INTERNAL, "out of memory");
	c->hosts = h;
	h = &c->hosts[c->nhosts++];
	snprintf(h->name, sizeof(h->name), "%s", name);
	h->from = from;
	h->pin = NULL;
	if (pin != NULL && (h->pin = strdup(pin)) == NULL) {
		c->nhosts--;
		return tg_err_set(err, TG_ERR_INTERNAL, "out of memory");
	}
	return 0;
}

int
chk_path_under(const char *dir, const char *path, char *out, tg_err *err)
{
	if (path[0] == '/') {
		if ((size_t)snprintf(out, PATH_MAX, "%s", path) >= PATH_MAX)
			return tg_err_set(err, TG_ERR_USAGE, "path too long: %.200s...", path);
		return 0;
	}
	return util_path_join(out, PATH_MAX, dir, path, err);
}

int
chk_each_conf(const char *dir, int skip_hidden, int (*fn)(const char *path, void *arg),
    void *arg, tg_err *err)
{
	struct dirent **names = NULL;
	int n = scandir(dir, &names, NULL, alphasort), rc = 0;

	if (n < 0)
		return -1;
	for (int i = 0; i < n; i++) {
		const char *nm = names[i]->d_name;
		size_t l = strlen(nm);
		char path[PATH_MAX];
		if (rc == 0 && !(skip_hidden && nm[0] == '.') && l > 5 &&
		    strcmp(nm + l - 5, ".conf") == 0) {
			if (util_path_join(path, sizeof(path), dir, nm, err) != 0)
				rc = 1;
			else
				rc = fn(path, arg) != 0;
		}
		free(names[i]);
	}
	free(names);
	return rc;
}

int
chk_cfg_note(chk_ctx *c, const char *code, const char *file, unsigned line, const char *fix,
    const char *fmt, ...)
{
	struct chk_cfgnote *n = realloc(c->cfg_notes, (c->ncfg_notes + 1) * sizeof(*n));
	va_list ap;

	if (n == NULL)
		return -1;
	c->cfg_notes = n;
	n = &c->cfg_notes[c->ncfg_notes++];
	n->code = code;
	snprintf(n->file, sizeof(n->file), "%s", file);
	n->line = line;
	snprintf(n->fix, sizeof(n->fix), "%s", fix);
	va_start(ap, fmt);
	vsnprintf(n->message, sizeof(n->message), fmt, ap);
	va_end(ap);
	return 0;
}

/* Appends a copy of s to a list of strings. */
static int
push_copy(char ***list, size_t *n, const char *s, tg_err *err)
{
	char **nv = realloc(*list, (*n + 1) * sizeof(*nv));

	if (nv == NULL)
		return tg_err_set(err, TG_ERR_INTERNAL, "out of memory");
	*list = nv;
	if ((nv[*n] = strdup(s)) == NULL)
		return tg_err_set(err, TG_ERR_INTERNAL, "out of memory");
	(*n)++;
	return 0;
}

int
chk_add_ca_input(chk_ctx *c, const char *path, const char *role, tg_err *err)
{
	if (push_copy(&c->ca_inputs, &c->nca_inputs, path, err) != 0 ||
	    push_copy(&c->ca_roles, &c->nca_roles, role != NULL ? role : "", err) != 0)
		return -1;
	return chk_add_path(c, path, err);
}

int
chk_add_chain_source(chk_ctx *c, const char *cert, const char *src, const char *why,
    tg_err *err)
{
	if (push_copy(&c->chain_cert, &c->nchain_cert, cert, err) != 0 ||
	    push_copy(&c->chain_src, &c->nchain_src, src, err) != 0 ||
	    push_copy(&c->chain_why, &c->nchain_why, why, err) != 0)
		return -1;
	return 0;
}

const char *
chk_chain_source(const chk_ctx *c, const char *cert, const char *src)
{
	for (size_t i = 0; i < c->nchain_why; i++)
		if (strcmp(c->chain_cert[i], cert) == 0 && strcmp(c->chain_src[i], src) == 0)
			return c->chain_why[i];
	return NULL;
}

const char *
chk_ca_role(const chk_ctx *c, const char *path)
{
	for (size_t i = 0; i < c->nca_roles; i++)
		if (strcmp(c->ca_inputs[i], path) == 0 && c->ca_roles[i][0] != '\0')
			return c->ca_roles[i];
	return NULL;
}

int
chk_add_pinned_host(chk_ctx *c, const char *name, const char *cert, tg_err *err)
{
	return host_add(c, name, NULL, cert, err);
}

int
chk_add_host(chk_ctx *c, const char *name, tg_err *err)
{
	if (name[0] == '\0' || strlen(name) >= CHK_NAME_MAX)
		return tg_err_set(err, TG_ERR_USAGE, "--host '%s' is not a host name", name);
	return host_add(c, name, NULL, NULL, err);
}

void
chk_host_origin(const chk_ctx *c, const char *host, char *buf, size_t len)
{
	buf[0] = '\0';
	for (size_t i = 0; i < c->nhosts; i++) {
		const struct chk_phost *h = c->hosts[i].from;
		if (h != NULL && strcasecmp(c->hosts[i].name, host) == 0) {
			snprintf(buf, len, " (%s at %s:%u)", chk_phost_kind_name(h->kind), h->file,
			    h->line);
			return;
		}
	}
}

/* The certs dir the config names, checked to exist: a missing one would
 * turn every host into host-uncovered for a reason the report could not
 * name. */
static int
add_prosody_certs(chk_ctx *c, const char *config, tg_err *err)
{
	const struct chk_pcfg *p = c->prosody;
	char origin[PATH_MAX + 64];
	struct stat st;

	if (p->certs_unknown)
		return tg_err_set(err, TG_ERR_USAGE, "%s:%u: certificates = ... is an expression "
		    "tlsgate does not evaluate; give the certs dir after the config: tlsgate check "
		    "--prosody-config %s DIR", p->certs_file, p->certs_line, config);
	if (p->certs_file != NULL)
		snprintf(origin, sizeof(origin), "certificates at %s:%u", p->certs_file, p->certs_line);
	else
		snprintf(origin, sizeof(origin), "Prosody's default: certs next to %s", config);
	if (stat(p->certs, &st) != 0)
		return tg_err_set(err, TG_ERR_USAGE, "cannot read the certs dir %s (%s): %s; create "
		    "it, fix `certificates` in the config, or give the dir after the config: tlsgate "
		    "check --prosody-config %s DIR", p->certs, origin, strerror(errno), config);
	if (!S_ISDIR(st.st_mode))
		return tg_err_set(err, TG_ERR_USAGE, "the certs dir %s (%s) is not a directory; fix "
		    "`certificates` in the config, or give the dir after the config: tlsgate check "
		    "--prosody-config %s DIR", p->certs, origin, config);
	c->prosody_certs = 1;
	return chk_add_path(c, p->certs, err);
}

/* A service's own certificate (https_certificate): checked as a pair;
 * when nothing is found where it points, Prosody serves that port no
 * certificate, which the missing file says. */
static int
prosody_service_cert(chk_ctx *c, const struct chk_psvc *svc, tg_err *err)
{
	char cert[PATH_MAX], key[PATH_MAX], served[PATH_MAX], port[32] = "";
	int found = chk_psvc_files(svc, cert, key) == 0;
	struct stat st;

	/* Prosody 0.12's find_service_cert looks in its certs dir's index
	 * first: any certificate there is served on the port, and the file
	 * named here is never opened. */
	if (chk_pcfg_index_cert(c->prosody, c->now, found ? cert : NULL, served,
	    sizeof(served)) == 1) {
		if (svc->port > 0)
			snprintf(port, sizeof(port), " (port %ld)", svc->port);
		return chk_pcfg_note(c->prosody, svc->file, svc->line, "prosody-service-cert-unused",
		    "remove the option, or, to serve this certificate there, keep the certs dir "
		    "free of other certificates (name the hosts' files in ssl tables outside it)",
		    err, "%s_certificate%s names %s, which Prosody may not use: while its certs dir "
		    "%s holds another certificate (%s), it serves the %s port one from there, "
		    "whatever its names",
		    svc->service, port, svc->path, c->prosody->certs, served, svc->service);
	}
	if (!found) {
		/* A dir with none of its files: the first Prosody looks for. */
		if (stat(cert, &st) == 0 && S_ISDIR(st.st_mode) &&
		    util_path_join(key, sizeof(key), cert, svc->service, err) == 0 &&
		    (size_t)snprintf(cert, sizeof(cert), "%s.crt", key) >= sizeof(cert))
			return tg_err_set(err, TG_ERR_USAGE, "%s_certificate: path too long", svc->service);
		return chk_add_path(c, cert, err);
	}
	return chk_has_pair(c, cert) ? 0 : chk_add_pair(c, cert, key, err);
}

/* The ssl table's `password`: Prosody opens the key with it. */
static int
prosody_key_pass(chk_ctx *c, const struct chk_phost *h, const char *key, tg_err *err)
{
	char at[PATH_MAX + 16], origin[PATH_MAX + 96];
	const char *pass;
	int r = chk_phost_ssl_password(c->prosody, h, &pass, at, sizeof(at));

	if (r == 0 || chk_key_pass(c, key) != NULL)
		return 0;
	snprintf(origin, sizeof(origin), "Prosody's ssl password (%.3000s%s)", at, r < 0 ?
	    ", not a literal tlsgate reads" : "");
	return chk_add_key_pass(c, key, r > 0 ? (char *const *)&pass : NULL, r > 0, origin, err);
}

/* Prosody runs as its own account (Debian's unit: User=prosody;
 * prosodyctl start switches to `prosody_user`, default prosody): that
 * account must read the keys. */
static int
prosody_owner(chk_ctx *c, tg_err *err)
{
	const struct chk_pcfg *p = c->prosody;
	const char *user = p->user[0] != '\0' ? p->user : "prosody";
	char from[PATH_MAX + 64];

	if (strcmp(user, "root") == 0 || getpwnam(user) == NULL)
		return 0; /* not installed here: nothing to try as */
	if (p->user[0] != '\0')
		snprintf(from, sizeof(from), "`prosody_user = \"%s\"` at %.3000s:%u: Prosody runs as it",
		    user, p->user_file, p->user_line);
	else
		snprintf(from, sizeof(from), "Prosody's account: its service runs it as prosody");
	return chk_default_owner(c, user, from, err);
}

int
chk_add_prosody_config(chk_ctx *c, const char *path, int certs_dir, tg_err *err)
{
	int need_dir = 0;

	if (c->prosody != NULL)
		return tg_err_set(err, TG_ERR_USAGE, "one Prosody config per check");
	if ((c->prosody = chk_pcfg_load(path, err)) == NULL)
		return -1;
	for (size_t i = 0; i < c->prosody->nhosts; i++) {
		const struct chk_phost *h = &c->prosody->hosts[i];
		const char *cert = NULL, *key = NULL;

		if (!chk_phost_checked(c->prosody, h))
			continue;
		/* Served the files its ssl option names, or the certs dir's. */
		if (chk_phost_ssl(c->prosody, h, &cert, &key) == 1) {
			if (!chk_has_pair(c, cert) && (chk_add_pair(c, cert, key, err) != 0 ||
			    prosody_key_pass(c, h, key, err) != 0))
				return -1;
		} else {
			need_dir = 1;
		}
		if (host_add(c, h->name, h, cert, err) != 0)
			return -1;
	}
	for (size_t i = 0; i < c->prosody->nsvcs; i++)
		if (prosody_service_cert(c, &c->prosody->svcs[i], err) != 0)
			return -1;
	if (prosody_owner(c, err) != 0)
		return -1;
	if (c->nhosts == 0)
		return tg_err_set(err, TG_ERR_USAGE, "%s defines no enabled VirtualHost or Component "
		    "(%zu disabled or left out): there is nothing to check the certificates "
		    "against; enable one or give names with --host", path, c->prosody->nhosts);
	return certs_dir && need_dir ? add_prosody_certs(c, path, err) : 0;
}

int
chk_set_ca_file(chk_ctx *c, const char *path, tg_err *err)
{
	struct chk_file *f = chk_file_new(path, 1);
	int rc = -1;

	if (f == NULL)
		return tg_err_set(err, TG_ERR_INTERNAL, "out of memory");
	if (chk_file_load(c, f) != 0) {
		tg_err_set(err, TG_ERR_INTERNAL, "out of memory");
		goto out;
	}
	if (f->read_errno != 0) {
		tg_err_set(err, TG_ERR_IO, "--ca %s: %s", path, strerror(f->read_errno));
		goto out;
	}
	if (f->ncerts == 0) {
		tg_err_set(err, TG_ERR_USAGE, "--ca %s holds no certificate; pass the CA's PEM file "
		    "(e.g. ./pki/root.crt)", path);
		goto out;
	}
	for (size_t i = 0; i < f->ncerts; i++) {
		struct chk_cert *n = realloc(c->anchors, (c->nanchors + 1) * sizeof(*n));
		if (n == NULL) {
			tg_err_set(err, TG_ERR_INTERNAL, "out of memory");
			goto out;
		}
		c->anchors = n;
		/* Ownership of the X509 moves from the file to the anchor list. */
		c->anchors[c->nanchors] = f->certs[i];
		c->anchors[c->nanchors].file = NULL;
		c->nanchors++;
		f->certs[i].x = NULL;
	}
	rc = 0;
out:
	chk_file_free(f);
	return rc;
}

void
chk_use_system_store(chk_ctx *c, int on)
{
	c->system_store = on;
}

void
chk_set_purpose(chk_ctx *c, chk_purpose p)
{
	c->purpose = p;
	c->purpose_set = 1;
}

int
chk_set_owner(chk_ctx *c, const char *spec, tg_err *err)
{
	if (util_owner_parse(spec, &c->owner, err) != 0)
		return -1;
	c->have_owner = 1;
	c->owner_from[0] = '\0';
	return 0;
}

int
chk_default_owner(chk_ctx *c, const char *user, const char *from, tg_err *err)
{
	if (c->have_owner)
		return 0; /* --owner says otherwise */
	if (chk_set_owner(c, user, err) != 0)
		return -1;
	snprintf(c->owner_from, sizeof(c->owner_from), "%s", from);
	return 0;
}

void
chk_set_warn_days(chk_ctx *c, unsigned days)
{
	c->warn_days = days;
}

int
chk_set_passphrase(chk_ctx *c, const char *pass, tg_err *err)
{
	if (c->pass != NULL)
		OPENSSL_clear_free(c->pass, strlen(c->pass));
	if ((c->pass = strdup(pass)) == NULL)
		return tg_err_set(err, TG_ERR_INTERNAL, "out of memory");
	return 0;
}

int
chk_add_key_pass(chk_ctx *c, const char *key, char *const *passes, size_t npasses,
    const char *origin, tg_err *err)
{
	struct chk_keypass *n = realloc(c->keypasses, (c->nkeypasses + 1) * sizeof(*n));

	if (n == NULL)
		return tg_err_set(err, TG_ERR_INTERNAL, "out of memory");
	c->keypasses = n;
	n = &c->keypasses[c->nkeypasses];
	memset(n, 0, sizeof(*n));
	snprintf(n->origin, sizeof(n->origin), "%s", origin);
	if ((n->key = strdup(key)) == NULL ||
	    (npasses > 0 && (n->passes = calloc(npasses, sizeof(*n->passes))) == NULL))
		goto nomem;
	c->nkeypasses++; /* from here on chk_free wipes what was copied */
	for (; n->npasses < npasses; n->npasses++)
		if ((n->passes[n->npasses] = strdup(passes[n->npasses])) == NULL)
			return tg_err_set(err, TG_ERR_INTERNAL, "out of memory");
	return 0;
nomem:
	free(n->key);
	return tg_err_set(err, TG_ERR_INTERNAL, "out of memory");
}

const struct chk_keypass *
chk_key_pass(const chk_ctx *c, const char *key)
{
	for (size_t i = 0; i < c->nkeypasses; i++)
		if (strcmp(c->keypasses[i].key, key) == 0)
			return &c->keypasses[i];
	return NULL;
}

int
chk_set_client_cert(chk_ctx *c, const char *cert, const char *key, tg_err *err)
{
	free(c->client_cert);
	free(c->client_key);
	c->client_cert = strdup(cert);
	c->client_key = strdup(key);
	if (c->client_cert == NULL || c->client_key == NULL)
		return tg_err_set(err, TG_ERR_INTERNAL, "out of memory");
	return 0;
}

void
chk_set_time(chk_ctx *c, int64_t now)
{
	c->now = now;
}

int
chk_add_path(chk_ctx *c, const char *path, tg_err *err)
{
	return push_copy(&c->inputs, &c->ninputs, path, err);
}

int
chk_has_pair(const chk_ctx *c, const char *path)
{
	for (size_t i = 0; i < c->npairs; i++)
		if (strcmp(c->pair_cert[i], path) == 0 || strcmp(c->pair_key[i], path) == 0)
			return 1;
	return 0;
}

int
chk_add_pair(chk_ctx *c, const char *cert, const char *key, tg_err *err)
{
	char **pc, **pk;

	if (chk_add_path(c, cert, err) != 0 || chk_add_path(c, key, err) != 0)
		return -1;
	pc = realloc(c->pair_cert, (c->npairs + 1) * sizeof(*pc));
	if (pc != NULL)
		c->pair_cert = pc;
	pk = realloc(c->pair_key, (c->npairs + 1) * sizeof(*pk));
	if (pk != NULL)
		c->pair_key = pk;
	if (pc == NULL || pk == NULL)
		return tg_err_set(err, TG_ERR_INTERNAL, "out of memory");
	c->pair_cert[c->npairs] = strdup(cert);
	c->pair_key[c->npairs] = strdup(key);
	if (c->pair_cert[c->npairs] == NULL || c->pair_key[c->npairs] == NULL) {
		free(c->pair_cert[c->npairs]);
		free(c->pair_key[c->npairs]);
		return tg_err_set(err, TG_ERR_INTERNAL, "out of memory");
	}
	c->npairs++;
	return 0;
}

int
chk_run(chk_ctx *c, tg_err *err)
{
	/* A PostgreSQL config with ssl off has its finding and no files. */
	int pg_off = c->pg_conf[0] != '\0' && c->ninputs == 0;

	if (c->ninputs == 0 && !pg_off)
		return tg_err_set(err, TG_ERR_USAGE, "nothing to check: give files or directories");
	if (chk_scan_inputs(c, err) != 0 || chk_build_units(c, err) != 0)
		return -1;
	if (c->nfiles == 0 && !pg_off)
		return tg_err_set(err, TG_ERR_USAGE,
		    "no certificate, key or CRL files found in %s%s (looked for *.crt, *.pem, *.key, "
		    "*.crl, *.p12)", c->inputs[0], c->ninputs > 1 ? " and the other paths" : "");
	chk_rules_run(c);
	return 0;
}

/* --- Findings --- */

void
chk_emit(chk_ctx *c, const struct chk_rule *r, size_t unit, const char *file,
    const char *fix, const char *fmt, ...)
{
	struct chk_finding *f;
	char msg[2048];
	va_list ap;

	if (c->nfindings == c->capfindings) {
		size_t ncap = c->capfindings ? c->capfindings * 2 : 64;
		struct chk_finding *n = realloc(c->findings, ncap * sizeof(*n));
		if (n == NULL)
			return; /* out of memory: the finding is lost, the run goes on */
		c->findings = n;
		c->capfindings = ncap;
	}
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	f = &c->findings[c->nfindings];
	f->sev = r->sev;
	f->code = r->code;
	f->unit = unit;
	f->file = file ? strdup(file) : NULL;
	f->message = strdup(msg);
	f->fix = fix ? strdup(fix) : NULL;
	if (f->message == NULL) {
		free(f->file);
		free(f->fix);
		return;
	}
	c->nfindings++;
}

size_t
chk_count(const chk_ctx *c, chk_severity sev)
{
	size_t n = 0;

	for (size_t i = 0; i < c->nfindings; i++)
		n += c->findings[i].sev == sev;
	return n;
}

size_t
chk_finding_count(const chk_ctx *c)
{
	return c->nfindings;
}

const char *
chk_finding_code(const chk_ctx *c, size_t i)
{
	return i < c->nfindings ? c->findings[i].code : NULL;
}

chk_severity
chk_finding_severity(const chk_ctx *c, size_t i)
{
	return i < c->nfindings ? c->findings[i].sev : CHK_INFO;
}

const char *
chk_finding_subject(const chk_ctx *c, size_t i)
{
	return i < c->nfindings ? c->units[c->findings[i].unit].name : NULL;
}

const char *
chk_finding_message(const chk_ctx *c, size_t i)
{
	return i < c->nfindings ? c->findings[i].message : NULL;
}

const char *
chk_finding_fix(const chk_ctx *c, size_t i)
{
	return i < c->nfindings ? c->findings[i].fix : NULL;
}

int
chk_exit_code(const chk_ctx *c)
{
	return chk_count(c, CHK_ERROR) > 0 ? 1 : 0;
}

/* --- Catalogue --- */

size_t
chk_rule_count(void)
{
	return chk_nrules;
}

const char *
chk_rule_code(size_t i)
{
	return i < chk_nrules ? chk_rules[i].code : NULL;
}

chk_severity
chk_rule_severity(size_t i)
{
	return i < chk_nrules ? chk_rules[i].sev : CHK_INFO;
}

const char *
chk_rule_summary(size_t i)
{
	return i < chk_nrules ? chk_rules[i].summary : NULL;
}

const char *
chk_severity_name(chk_severity s)
{
	static const char *const names[] = { "info", "warning", "error" };

	return (unsigned)s < 3 ? names[s] : "?";
}
