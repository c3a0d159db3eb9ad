/* The ACME server (RFC 8555) over a CA directory: `tlsgate acme serve`, and
 * what its operator needs around it (external account binding keys, the
 * accounts and orders it holds). Its state lives in the CA's inventory
 * (SQLite, or the PostgreSQL several servers share). */
#ifndef TLSGATE_ACME_H
#define TLSGATE_ACME_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "tlsgate/ca.h"

typedef struct acme_serve_opts {
	const char *listen;          /* HOST:PORT */
	const char *cert, *key;      /* the server's own; NULL: issued from the CA */
	const char *const *names;    /* --name: more names for the issued server cert */
	size_t nnames;
	const char *external_url;    /* https://HOST[:PORT], the base of every URL; NULL: from --listen/--name */
	const char *const *allow_domains;
	size_t n_allow_domains;
	const char *const *allow_ips; /* CIDR */
	size_t n_allow_ips;
	int no_wildcards;
	int eab_required;
	int64_t max_validity, default_validity;
	const char *const *resolve;  /* NAME=ADDR */
	size_t nresolve;
	int http01_port, tlsalpn01_port;
	const char *dns_resolver;    /* ADDR[:PORT]: dns-01 (and wildcards) asks it; NULL: none */
	unsigned workers;            /* connections served at once */
	unsigned max_conns;          /* connections open at once; 0: 1024 */
	unsigned max_conns_per_ip;   /* from one peer address; 0: no limit */
	unsigned validators;         /* challenge validations at once */
	unsigned orders_per_minute;  /* per account */
} acme_serve_opts;

/* Checks the options (policy, addresses, ports) without starting anything. */
int acme_serve_check(const acme_serve_opts *o, tg_err *err) TG_MUST_CHECK;
/* Serves until SIGINT/SIGTERM. ca must have been opened with TG_CA_NEED_KEY. */
int acme_serve(tg_ca *ca, const acme_serve_opts *o, tg_err *err) TG_MUST_CHECK;

/* External account binding keys (RFC 8555 7.3.4): kid and the HMAC key as
 * base64url, what a client is given (certbot --eab-kid/--eab-hmac-key). */
typedef struct acme_eab_new {
	char kid[64];
	char hmac[64];
} acme_eab_new;

int acme_eab_add(tg_ca *ca, const char *name, acme_eab_new *out, tg_err *err) TG_MUST_CHECK;
int acme_eab_revoke(tg_ca *ca, const char *kid, tg_err *err) TG_MUST_CHECK;

/* The ACME server's tables (accounts, orders, authorizations, challenges,
 * EAB keys, used nonces and the nonce key) moved with the inventory: a
 * module for tg_ca_move_store, counting into st what it copied (none: the
 * old store had no ACME tables). */
typedef struct acme_move_stats {
	unsigned long accounts, orders, eab_keys, rows;
	int none;
} acme_move_stats;

store_copy_module acme_move_module(acme_move_stats *st);

/* JSON arrays of what the store holds (the HMAC keys are never listed). */
json_t *acme_eab_list(tg_ca *ca, tg_err *err);
json_t *acme_accounts_list(tg_ca *ca, tg_err *err);
json_t *acme_orders_list(tg_ca *ca, tg_err *err);

#endif
