/* Reports: findings grouped per subject, errors first, then a summary line;
 * or the same as JSON (schema in docs/check-json.md, versioned by "schema"). */
#include <jansson.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "check/chk_int.h"

#define CHK_JSON_SCHEMA "tlsgate.check/1"

static const chk_ctx *sort_ctx; /* qsort has no user pointer in C11 */

static int
cmp_finding(const void *a, const void *b)
{
	size_t i = *(const size_t *)a, j = *(const size_t *)b;
	const struct chk_finding *x = &sort_ctx->findings[i], *y = &sort_ctx->findings[j];

	if (x->unit != y->unit)
		return x->unit < y->unit ? -1 : 1;
	if (x->sev != y->sev)
		return x->sev > y->sev ? -1 : 1;
	return i < j ? -1 : (i > j);
}

/* Finding indexes ordered by subject, then severity, then emission. */
static size_t *
sorted_findings(const chk_ctx *c)
{
	size_t *idx = malloc((c->nfindings + 1) * sizeof(*idx));

	if (idx == NULL)
		return NULL;
	for (size_t i = 0; i < c->nfindings; i++)
		idx[i] = i;
	sort_ctx = c;
	qsort(idx, c->nfindings, sizeof(*idx), cmp_finding);
	sort_ctx = NULL;
	return idx;
}

static const char *
kind_name(const struct chk_unit *u)
{
	static const char *const names[] = { "served", "ca", "key", "crl", "other" };

	if (u->endpoint)
		return "endpoint";
	return (unsigned)u->kind < 5 ? names[u->kind] : "other";
}

static void
print_header(const chk_ctx *c, const struct chk_unit *u, FILE *out)
{
	fprintf(out, "%s", u->endpoint ? u->label : u->name);
	if (u->endpoint && u->endpoint_ver[0] != '\0')
		fprintf(out, "  (%s)", u->endpoint_ver);
	if (u->key != NULL && u->key != u->chain)
		fprintf(out, "  (key: %s)", u->key->path);
	if (u->nhosts > 0 && !u->endpoint) {
		fprintf(out, "  [for");
		for (size_t i = 0; i < u->nhosts; i++)
			fprintf(out, " %s", u->hosts[i]);
		fprintf(out, "]");
	}
	fputc('\n', out);
}

static void
print_summary(const chk_ctx *c, FILE *out)
{
	size_t e = chk_count(c, CHK_ERROR), w = chk_count(c, CHK_WARNING), n = chk_count(c, CHK_INFO);
	char what[128];

	size_t endpoints = 0;

	for (size_t i = 0; i < c->nunits; i++)
		endpoints += c->units[i].endpoint != 0;
	/* An endpoint run reads no files; a config with TLS off has a subject
	 * (the config) and no files either. */
	if (endpoints > 0)
		snprintf(what, sizeof(what), "%zu endpoint%s", endpoints, endpoints == 1 ? "" : "s");
	else
		snprintf(what, sizeof(what), "%zu subject%s, %zu file%s", c->nunits,
		    c->nunits == 1 ? "" : "s", c->nfiles, c->nfiles == 1 ? "" : "s");
	if (e == 0 && w == 0)
		fprintf(out, "All checks passed: %s", what);
	else
		fprintf(out, "%zu error%s, %zu warning%s: %s checked", e, e == 1 ? "" : "s", w,
		    w == 1 ? "" : "s", what);
	if (n > 0)
		fprintf(out, " (%zu note%s)", n, n == 1 ? "" : "s");
	fputc('\n', out);
}

#define CHK_TEXT_HOSTS_MAX 20

static void
print_hosts(FILE *out, const char *what, const chk_ctx *c, int checked)
{
	const struct chk_pcfg *p = c->prosody;
	size_t n = 0;

	for (size_t i = 0; i < p->nhosts; i++) {
		if (chk_phost_checked(p, &p->hosts[i]) != checked)
			continue;
		if (n < CHK_TEXT_HOSTS_MAX)
			fprintf(out, "%s%s", n == 0 ? what : ", ", p->hosts[i].name);
		n++;
	}
	if (n > CHK_TEXT_HOSTS_MAX)
		fprintf(out, " and %zu more", n - CHK_TEXT_HOSTS_MAX);
}

/* Where the hosts came from: one line above the summary. */
static void
print_prosody(const chk_ctx *c, FILE *out)
{
	const struct chk_pcfg *p = c->prosody;

	if (p == NULL)
		return;
	fprintf(out, "Prosody config %s", p->files[0]);
	if (p->nfiles > 1)
		fprintf(out, " (and %zu included file%s)", p->nfiles - 1, p->nfiles == 2 ? "" : "s");
	print_hosts(out, ": hosts ", c, 1);
	print_hosts(out, "; not checked (disabled, or certificate files tlsgate cannot tell): ", c, 0);
	if (c->prosody_certs)
		fprintf(out, "; certs dir %s", p->certs);
	fputc('\n', out);
}

int
chk_report_text(const chk_ctx *c, FILE *out, tg_err *err)
{
	size_t *idx = sorted_findings(c), last = (size_t)-1;

	if (idx == NULL)
		return tg_err_set(err, TG_ERR_INTERNAL, "out of memory");
	for (size_t k = 0; k < c->nfindings; k++) {
		const struct chk_finding *f = &c->findings[idx[k]];
		if (f->unit != last) {
			if (last != (size_t)-1)
				fputc('\n', out);
			print_header(c, &c->units[f->unit], out);
			last = f->unit;
		}
		fprintf(out, "  %-7s %s: %s\n", chk_severity_name(f->sev), f->code, f->message);
		if (f->fix != NULL)
			fprintf(out, "          fix: %s\n", f->fix);
	}
	if (c->nfindings > 0)
		fputc('\n', out);
	print_prosody(c, out);
	print_summary(c, out);
	free(idx);
	return ferror(out) ? tg_err_set(err, TG_ERR_IO, "cannot write the report") : 0;
}

/* --- JSON --- */

static json_t *
jstr_or_null(const char *s)
{
	return s != NULL ? json_string(s) : json_null();
}

static json_t *
unit_json(const struct chk_unit *u)
{
	json_t *o = json_object(), *files = json_array(), *hosts = json_array();
	char label[256];

	json_object_set_new(o, "subject", json_string(u->endpoint ? u->label : u->name));
	json_object_set_new(o, "kind", json_string(kind_name(u)));
	if (u->chain != NULL)
		json_array_append_new(files, json_string(u->chain->path));
	if (u->key != NULL && u->key != u->chain)
		json_array_append_new(files, json_string(u->key->path));
	json_object_set_new(o, "files", files);
	for (size_t i = 0; i < u->nhosts; i++)
		json_array_append_new(hosts, json_string(u->hosts[i]));
	json_object_set_new(o, "hosts", hosts);
	if (u->ncerts > 0) {
		chk_cert_label(u->certs[u->leaf].x, label, sizeof(label));
		json_object_set_new(o, "leaf", json_string(label));
	} else {
		json_object_set_new(o, "leaf", json_null());
	}
	json_object_set_new(o, "certificates", json_integer((json_int_t)u->ncerts));
	if (u->endpoint) {
		json_t *e = json_object();
		json_object_set_new(e, "tls", json_boolean(!u->no_tls));
		json_object_set_new(e, "version", json_string(u->endpoint_ver));
		json_object_set_new(e, "tls1_0", json_boolean(u->tls10));
		json_object_set_new(e, "tls1_1", json_boolean(u->tls11));
		json_object_set_new(e, "client_cert_requested", json_boolean(u->client_cert_requested));
		json_object_set_new(e, "ca_names", json_string(u->ca_names));
		json_object_set_new(o, "endpoint", e);
	}
	json_object_set_new(o, "findings", json_array());
	return o;
}

static json_t *
finding_json(const struct chk_finding *f)
{
	json_t *o = json_object();

	json_object_set_new(o, "severity", json_string(chk_severity_name(f->sev)));
	json_object_set_new(o, "code", json_string(f->code));
	json_object_set_new(o, "message", json_string(f->message));
	json_object_set_new(o, "fix", jstr_or_null(f->fix));
	json_object_set_new(o, "file", jstr_or_null(f->file));
	return o;
}

static json_t *
summary_json(const chk_ctx *c)
{
	json_t *o = json_object();

	json_object_set_new(o, "errors", json_integer((json_int_t)chk_count(c, CHK_ERROR)));
	json_object_set_new(o, "warnings", json_integer((json_int_t)chk_count(c, CHK_WARNING)));
	json_object_set_new(o, "info", json_integer((json_int_t)chk_count(c, CHK_INFO)));
	json_object_set_new(o, "subjects", json_integer((json_int_t)c->nunits));
	json_object_set_new(o, "files", json_integer((json_int_t)c->nfiles));
	return o;
}

static json_t *
jint_or_null(int have, json_int_t v)
{
	return have ? json_integer(v) : json_null();
}

/* One host the check was asked about, and where: --host, or its
 * declaration in the Prosody config. */
static json_t *
host_json(const chk_ctx *c, const char *name, const struct chk_phost *h)
{
	json_t *o = json_object();
	int checked = h == NULL || chk_phost_checked(c->prosody, h);

	json_object_set_new(o, "name", json_string(name));
	json_object_set_new(o, "source", json_string(h ? "prosody-config" : "--host"));
	json_object_set_new(o, "file", jstr_or_null(h ? h->file : NULL));
	json_object_set_new(o, "line", jint_or_null(h != NULL, h ? (json_int_t)h->line : 0));
	json_object_set_new(o, "kind", jstr_or_null(h ? chk_phost_kind_name(h->kind) : NULL));
	json_object_set_new(o, "module", jstr_or_null(h && h->kind == CHK_PHOST_COMPONENT ?
	    h->module : NULL));
	json_object_set_new(o, "enabled", json_boolean(h == NULL || chk_phost_enabled(c->prosody, h)));
	json_object_set_new(o, "checked", json_boolean(checked));
	if (h != NULL) {
		const char *cert = NULL, *key = NULL;
		int named = chk_phost_ssl(c->prosody, h, &cert, &key) == 1;
		json_object_set_new(o, "ssl_certificate", jstr_or_null(named ? cert : NULL));
		json_object_set_new(o, "ssl_key", jstr_or_null(named ? key : NULL));
	}
	return o;
}

/* Every host checked, then the Prosody hosts left out (enabled = false). */
static json_t *
hosts_json(const chk_ctx *c)
{
	json_t *a = json_array();
	const struct chk_pcfg *p = c->prosody;

	for (size_t i = 0; i < c->nhosts; i++)
		json_array_append_new(a, host_json(c, c->hosts[i].name, c->hosts[i].from));
	for (size_t i = 0; p != NULL && i < p->nhosts; i++)
		if (!chk_phost_checked(p, &p->hosts[i]))
			json_array_append_new(a, host_json(c, p->hosts[i].name, &p->hosts[i]));
	return a;
}

static json_t *
prosody_json(const chk_ctx *c)
{
	const struct chk_pcfg *p = c->prosody;
	json_t *o = json_object(), *files = json_array();
	char from[PATH_MAX + 16];

	for (size_t i = 0; i < p->nfiles; i++)
		json_array_append_new(files, json_string(p->files[i]));
	if (p->certs_file != NULL)
		snprintf(from, sizeof(from), "%s:%u", p->certs_file, p->certs_line);
	json_object_set_new(o, "file", json_string(p->files[0]));
	json_object_set_new(o, "files", files);
	json_object_set_new(o, "certs_dir", jstr_or_null(p->certs_unknown ? NULL : p->certs));
	json_object_set_new(o, "certs_dir_from", json_string(p->certs_file ? from : "default"));
	json_object_set_new(o, "certs_dir_checked", json_boolean(c->prosody_certs));
	return o;
}

int
chk_report_json(const chk_ctx *c, FILE *out, tg_err *err)
{
	json_t *root = json_object(), *subjects = json_array(), **units;
	size_t *idx = sorted_findings(c);
	int rc = -1;

	units = calloc(c->nunits + 1, sizeof(*units));
	if (root == NULL || subjects == NULL || idx == NULL || units == NULL) {
		tg_err_set(err, TG_ERR_INTERNAL, "out of memory");
		goto out;
	}
	json_object_set_new(root, "schema", json_string(CHK_JSON_SCHEMA));
	json_object_set_new(root, "result", json_string(chk_exit_code(c) ? "errors" : "ok"));
	json_object_set_new(root, "summary", summary_json(c));
	json_object_set_new(root, "hosts", hosts_json(c));
	if (c->prosody != NULL)
		json_object_set_new(root, "prosody_config", prosody_json(c));
	for (size_t u = 0; u < c->nunits; u++) {
		units[u] = unit_json(&c->units[u]);
		json_array_append_new(subjects, units[u]); /* the array owns it */
	}
	for (size_t k = 0; k < c->nfindings; k++) {
		const struct chk_finding *f = &c->findings[idx[k]];
		json_array_append_new(json_object_get(units[f->unit], "findings"), finding_json(f));
	}
	json_object_set(root, "subjects", subjects);
	if (json_dumpf(root, out, JSON_INDENT(2) | JSON_PRESERVE_ORDER) != 0 || fputc('\n', out) == EOF) {
		tg_err_set(err, TG_ERR_IO, "cannot write the JSON report");
		goto out;
	}
	rc = 0;
out:
	json_decref(subjects);
	json_decref(root);
	free(units);
	free(idx);
	return rc;
}
