/* Identity allow rules, matched against plain certificate facts so they can
 * be tested without a TLS stack. A rule matches exactly (names are compared
 * case-insensitively for DNS and email, exactly for CN, OU and URI; IP
 * addresses in the text pki_san_parse and the certificate's SANs both give:
 * 2001:db8::1, whatever the rule's spelling). */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gateway/gw.h"
#include "tlsgate/pki.h"

struct gw_acl {
	struct gw_strlist cn, san, ou;
};

static int
copy_list(struct gw_strlist *dst, const struct gw_strlist *src)
{
	if (src == NULL || src->n == 0)
		return 0;
	if ((dst->v = calloc(src->n, sizeof(char *))) == NULL)
		return -1;
	for (size_t i = 0; i < src->n; i++) {
		if ((dst->v[i] = strdup(src->v[i])) == NULL)
			return -1;
		dst->n++;
	}
	return 0;
}

static void
free_list(struct gw_strlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
}

/* A SAN rule is "TYPE:value" or a bare value that matches any type. */
static int
san_rule_valid(const char *r)
{
	static const char *const types[] = { "DNS:", "URI:", "email:", "IP:" };
	const char *colon = strchr(r, ':');

	if (colon == NULL)
		return 1;
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (strncasecmp(r, types[i], strlen(types[i])) == 0)
			return r[strlen(types[i])] != '\0';
	return 1; /* a bare value that holds a colon, e.g. an IPv6 address */
}

/* An address rule ("IP:2001:DB8:0::1", or a bare address) in the one text
 * form certificates' addresses are shown in; an "IP:" rule that is no
 * address is refused (it could never match). Other rules are kept. */
static int
normalise_san_rule(char **rule, tg_err *err)
{
	int typed = strncasecmp(*rule, "IP:", 3) == 0;
	unsigned char bin[16];
	const char *v = *rule + (typed ? 3 : 0);
	char text[PKI_NAME_MAX + 8], *dup;
	pki_san san;

	if (!typed && inet_pton(AF_INET, v, bin) != 1 && inet_pton(AF_INET6, v, bin) != 1)
		return 0;
	if (pki_san_parse(typed ? *rule : v, &san, err) != 0 || san.type != PKI_SAN_IP)
		return tg_err_set(err, TG_ERR_USAGE,
		    "--allow-san '%s': '%s' is not an IPv4 or IPv6 address; write IP:10.0.0.5 or "
		    "IP:2001:db8::5", *rule, v);
	snprintf(text, sizeof(text), "%s%s", typed ? "IP:" : "", san.value);
	if ((dup = strdup(text)) == NULL)
		return tg_err_set(err, TG_ERR_INTERNAL, "out of memory");
	free(*rule);
	*rule = dup;
	return 0;
}

gw_acl *
gw_acl_new(const struct gw_strlist *cn, const struct gw_strlist *san,
    const struct gw_strlist *ou, tg_err *err)
{
	gw_acl *acl = calloc(1, sizeof(*acl));

	if (acl == NULL)
		goto oom;
	for (size_t i = 0; san != NULL && i < san->n; i++) {
		if (!san_rule_valid(san->v[i])) {
			tg_err_set(err, TG_ERR_USAGE,
			    "--allow-san '%s' has an empty value; write DNS:host, URI:spiffe://..., email:a@b or IP:10.0.0.1",
			    san->v[i]);
			gw_acl_free(acl);
			return NULL;
		}
	}
	if (copy_list(&acl->cn, cn) != 0 || copy_list(&acl->san, san) != 0 ||
	    copy_list(&acl->ou, ou) != 0)
		goto oom;
	for (size_t i = 0; i < acl->san.n; i++) {
		if (normalise_san_rule(&acl->san.v[i], err) != 0) {
			gw_acl_free(acl);
			return NULL;
		}
	}
	return acl;
oom:
	gw_acl_free(acl);
	tg_err_set(err, TG_ERR_INTERNAL, "out of memory");
	return NULL;
}

int
gw_acl_check(const struct gw_strlist *cn, const struct gw_strlist *san,
    const struct gw_strlist *ou, tg_err *err)
{
	gw_acl *acl = gw_acl_new(cn, san, ou, err);
	int rc = acl != NULL ? 0 : -1;

	gw_acl_free(acl);
	return rc;
}

void
gw_acl_free(gw_acl *acl)
{
	if (acl == NULL)
		return;
	free_list(&acl->cn);
	free_list(&acl->san);
	free_list(&acl->ou);
	free(acl);
}

int
gw_acl_empty(const gw_acl *acl)
{
	return acl == NULL || acl->cn.n + acl->san.n + acl->ou.n == 0;
}

static int
san_matches(const char *rule, const char *san)
{
	const char *sv = strchr(san, ':') + 1; /* sans always carry a type prefix */
	size_t tlen = (size_t)(sv - san);
	int caseless = strncmp(san, "DNS:", 4) == 0 || strncmp(san, "email:", 6) == 0;

	if (strncasecmp(rule, san, tlen) == 0)
		rule += tlen; /* typed rule: the types agree, compare the values */
	else if (strncasecmp(rule, "DNS:", 4) == 0 || strncasecmp(rule, "URI:", 4) == 0 ||
	    strncasecmp(rule, "email:", 6) == 0 || strncasecmp(rule, "IP:", 3) == 0)
		return 0; /* typed rule of another type */
	return caseless ? strcasecmp(rule, sv) == 0 : strcmp(rule, sv) == 0;
}

int
gw_acl_allows(const gw_acl *acl, const struct gw_peer *p)
{
	if (acl == NULL || p == NULL || !p->present)
		return 0;
	for (size_t i = 0; i < acl->cn.n; i++)
		if (p->cn[0] != '\0' && strcmp(acl->cn.v[i], p->cn) == 0)
			return 1;
	for (size_t i = 0; i < acl->san.n; i++)
		for (size_t j = 0; j < p->nsans; j++)
			if (strchr(p->sans[j], ':') != NULL && san_matches(acl->san.v[i], p->sans[j]))
				return 1;
	for (size_t i = 0; i < acl->ou.n; i++)
		for (size_t j = 0; j < p->nous; j++)
			if (strcmp(acl->ou.v[i], p->ous[j]) == 0)
				return 1;
	return 0;
}

void
gw_peer_clear(struct gw_peer *p)
{
	if (p == NULL)
		return;
	for (size_t i = 0; i < p->nsans; i++)
		free(p->sans[i]);
	for (size_t i = 0; i < p->nous; i++)
		free(p->ous[i]);
	free(p->sans);
	free(p->ous);
	free(p->subject);
	free(p->issuer);
	free(p->serial);
	free(p->fingerprint);
	free(p->pem);
	memset(p, 0, sizeof(*p));
}
