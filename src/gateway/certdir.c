/* Certificates found by file layout, the way Prosody finds them, and the
 * key-permission rule PostgreSQL enforces. No TLS library here. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gateway/gw.h"
#include "tlsgate/util.h"

static int
is_file(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static int
add_spec(struct gw_cert_spec **specs, size_t *n, const char *host, const char *cert,
    const char *key)
{
	struct gw_cert_spec *nv = realloc(*specs, (*n + 1) * sizeof(*nv));

	if (nv == NULL)
		return -1;
	*specs = nv;
	nv[*n].host = strdup(host);
	nv[*n].cert = strdup(cert);
	nv[*n].key = strdup(key);
	(*n)++;
	if (nv[*n - 1].host == NULL || nv[*n - 1].cert == NULL || nv[*n - 1].key == NULL)
		return -1;
	return 0;
}

/* "example.com.crt" + "example.com.key", or "example.com/fullchain.pem" +
 * "example.com/privkey.pem" (certbot's live/ layout). */
static int
spec_for_entry(const char *dir, const char *name, char *cert, char *key, char *host)
{
	size_t len = strlen(name);
	char sub[PATH_MAX];

	if (name[0] == '.' || len >= 256)
		return 0;
	if (len > 4 && strcmp(name + len - 4, ".crt") == 0) {
		memcpy(host, name, len - 4);
		host[len - 4] = '\0';
		if (util_path_join(cert, PATH_MAX, dir, name, NULL) != 0)
			return 0;
		snprintf(key, PATH_MAX, "%.*s.key", (int)strlen(cert) - 4, cert);
		return is_file(key);
	}
	if (util_path_join(sub, sizeof(sub), dir, name, NULL) != 0)
		return 0;
	if (snprintf(cert, PATH_MAX, "%s/fullchain.pem", sub) >= PATH_MAX ||
	    snprintf(key, PATH_MAX, "%s/privkey.pem", sub) >= PATH_MAX)
		return 0;
	memcpy(host, name, len + 1);
	return is_file(cert) && is_file(key);
}

static int
cmp_spec(const void *a, const void *b)
{
	return strcmp(((const struct gw_cert_spec *)a)->host, ((const struct gw_cert_spec *)b)->host);
}

int
gw_certdir_scan(const char *dir, struct gw_cert_spec **specs, size_t *n, tg_err *err)
{
	char cert[PATH_MAX], key[PATH_MAX], host[256];
	struct dirent *de;
	DIR *d;
	int rc = -1;

	*specs = NULL;
	*n = 0;
	if ((d = opendir(dir)) == NULL)
		return tg_err_set(err, TG_ERR_IO, "cannot open certs dir %s: %s", dir, strerror(errno));
	while ((de = readdir(d)) != NULL) {
		if (!spec_for_entry(dir, de->d_name, cert, key, host))
			continue;
		if (add_spec(specs, n, host, cert, key) != 0) {
			tg_err_set(err, TG_ERR_INTERNAL, "out of memory");
			goto out;
		}
	}
	if (*n == 0) {
		tg_err_set(err, TG_ERR_CONFIG,
		    "certs dir %s holds no certificate: put HOST.crt with HOST.key, or "
		    "HOST/fullchain.pem with HOST/privkey.pem there", dir);
		goto out;
	}
	qsort(*specs, *n, sizeof(**specs), cmp_spec);
	rc = 0;
out:
	closedir(d);
	if (rc != 0) {
		gw_cert_specs_free(*specs, *n);
		*specs = NULL;
		*n = 0;
	}
	return rc;
}

void
gw_cert_specs_free(struct gw_cert_spec *specs, size_t n)
{
	for (size_t i = 0; specs != NULL && i < n; i++) {
		free(specs[i].host);
		free(specs[i].cert);
		free(specs[i].key);
	}
	free(specs);
}

int
gw_key_mode_ok(const char *path, tg_err *err)
{
	struct stat st;
	mode_t perm;

	if (stat(path, &st) != 0)
		return tg_err_set(err, TG_ERR_IO, "key %s: %s", path, strerror(errno));
	perm = st.st_mode & 07777;
	if (st.st_uid == 0 && st.st_uid != geteuid()) {
		if ((perm & 0037) == 0)
			return 0;
		return tg_err_set(err, TG_ERR_VERIFY,
		    "key %s has mode %04o; a root-owned key may be at most 0640 "
		    "(group may read, others nothing): run `chmod 640 %s`",
		    path, (unsigned)perm, path);
	}
	if (st.st_uid != geteuid())
		return tg_err_set(err, TG_ERR_VERIFY,
		    "key %s belongs to uid %u, not to the gateway's user (uid %u) or root: "
		    "run `chown %u %s` or `chown root %s && chmod 640 %s`",
		    path, (unsigned)st.st_uid, (unsigned)geteuid(), (unsigned)geteuid(), path, path, path);
	if ((perm & 0077) == 0)
		return 0;
	if (st.st_uid == 0 && (perm & 0037) == 0)
		return 0; /* root running the gateway with a root-owned 0640 key */
	return tg_err_set(err, TG_ERR_VERIFY,
	    "key %s has mode %04o, so other users can read the private key; "
	    "the key must be 0600 owned by the gateway's user, or 0640 owned by root: "
	    "run `chmod 600 %s`",
	    path, (unsigned)perm, path);
}
