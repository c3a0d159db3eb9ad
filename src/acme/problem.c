/* RFC 7807 problem documents with RFC 8555 6.7's error types: one table row
 * per type, its URN and the HTTP status it is answered with. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acme/acme_proto.h"
#include "tlsgate/util.h"

#define URN "urn:ietf:params:acme:error:"

static const struct {
	acme_ptype type;
	const char *urn;
	int status;
} problems[] = {
	{ ACME_P_MALFORMED, URN "malformed", 400 },
	{ ACME_P_BAD_NONCE, URN "badNonce", 400 },
	{ ACME_P_BAD_SIG_ALG, URN "badSignatureAlgorithm", 400 },
	{ ACME_P_BAD_PUBLIC_KEY, URN "badPublicKey", 400 },
	{ ACME_P_BAD_CSR, URN "badCSR", 400 },
	{ ACME_P_BAD_REVOCATION_REASON, URN "badRevocationReason", 400 },
	{ ACME_P_UNAUTHORIZED, URN "unauthorized", 403 },
	{ ACME_P_ACCOUNT_DOES_NOT_EXIST, URN "accountDoesNotExist", 400 },
	{ ACME_P_EAB_REQUIRED, URN "externalAccountRequired", 403 },
	{ ACME_P_REJECTED_IDENTIFIER, URN "rejectedIdentifier", 400 },
	{ ACME_P_UNSUPPORTED_IDENTIFIER, URN "unsupportedIdentifier", 400 },
	{ ACME_P_ORDER_NOT_READY, URN "orderNotReady", 403 },
	{ ACME_P_ALREADY_REVOKED, URN "alreadyRevoked", 400 },
	{ ACME_P_UNSUPPORTED_CONTACT, URN "unsupportedContact", 400 },
	{ ACME_P_INVALID_CONTACT, URN "invalidContact", 400 },
	{ ACME_P_CONNECTION, URN "connection", 400 },
	{ ACME_P_INCORRECT_RESPONSE, URN "incorrectResponse", 400 },
	{ ACME_P_TLS, URN "tls", 400 },
	{ ACME_P_DNS, URN "dns", 400 },
	{ ACME_P_RATE_LIMITED, URN "rateLimited", 429 },
	{ ACME_P_SERVER_INTERNAL, URN "serverInternal", 500 },
	/* HTTP-level refusals have no ACME type of their own. */
	{ ACME_P_NOT_FOUND, URN "malformed", 404 },
	{ ACME_P_METHOD, URN "malformed", 405 },
	{ ACME_P_TOO_LARGE, URN "malformed", 413 },
	{ ACME_P_UNSUPPORTED_MEDIA, URN "malformed", 415 },
};

/* ACME_P_NONE and values outside the enum answer as serverInternal: a
 * problem the code forgot to classify is ours, not the client's. */
static size_t
row(acme_ptype type)
{
	size_t i;

	for (i = 0; i < sizeof(problems) / sizeof(problems[0]); i++)
		if (problems[i].type == type)
			return i;
	for (i = 0; i < sizeof(problems) / sizeof(problems[0]); i++)
		if (problems[i].type == ACME_P_SERVER_INTERNAL)
			break;
	return i;
}

int
acme_problem_set(acme_problem *p, acme_ptype type, const char *fmt, ...)
{
	va_list ap;

	if (p == NULL)
		return -1;
	p->type = type;
	va_start(ap, fmt);
	vsnprintf(p->detail, sizeof(p->detail), fmt, ap);
	va_end(ap);
	return -1;
}

const char *
acme_problem_urn(acme_ptype type)
{
	return problems[row(type)].urn;
}

int
acme_problem_status(acme_ptype type)
{
	return problems[row(type)].status;
}

char *
acme_problem_json(const acme_problem *p)
{
	char detail[ACME_DETAIL_MAX * 4];
	json_t *o, *algs = NULL;
	char *out = NULL, *save = NULL, *tok;
	char list[] = ACME_JWS_ALGS;

	if (p == NULL)
		return NULL;
	/* The detail may quote what a client or a challenge server sent:
	 * escaped, so the document is valid UTF-8 without control characters. */
	util_escape(p->detail, detail, sizeof(detail));
	o = json_pack("{s:s, s:s, s:i}", "type", acme_problem_urn(p->type), "detail", detail,
	    "status", acme_problem_status(p->type));
	if (o == NULL)
		return NULL;
	if (p->type == ACME_P_BAD_SIG_ALG) {
		algs = json_array();
		for (tok = strtok_r(list, " ", &save); tok != NULL; tok = strtok_r(NULL, " ", &save))
			if (algs == NULL || json_array_append_new(algs, json_string(tok)) != 0)
				goto out;
		/* Handed over to o, on failure too (jansson frees it). */
		if (json_object_set_new(o, "algorithms", algs) != 0) {
			algs = NULL;
			goto out;
		}
		algs = NULL;
	}
	out = json_dumps(o, JSON_COMPACT);
out:
	json_decref(algs);
	json_decref(o);
	return out;
}
