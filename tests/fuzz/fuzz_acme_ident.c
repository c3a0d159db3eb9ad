/* libFuzzer target for the identifiers of a newOrder (acme_ident_check, the
 * syntax and policy check every identifier a client sends goes through).
 * The first input byte picks the type ("dns", "ip" or another) and the
 * policy's wildcard settings; the rest, up to a NUL, is the value. Checked:
 * a refusal is a problem of the types RFC 8555 names for it with a valid
 * JSON document; an accepted identifier's canonical form is accepted again
 * and is its own canonical form (a name cannot pass in one spelling and be
 * kept in another), holds no capital, space or control character, and is
 * under an allowed domain (a DNS name) or parses as an address (an IP). */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "acme/srv.h"
#include "fuzz_acme.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const domains[] = { "example.test", "xn--bcher-kva.example" };

static void
check_canon(const acme_policy *pol, const char *type, const char *canon)
{
	char again[256];
	acme_problem p = { 0 };
	unsigned char a[16];

	if (acme_ident_check(pol, type, canon, again, &p) != 0 || strcmp(again, canon) != 0)
		abort();
	for (const unsigned char *c = (const unsigned char *)canon; *c != '\0'; c++)
		if (*c <= 0x20 || *c >= 0x7f || (*c >= 'A' && *c <= 'Z'))
			abort();
	if (strcmp(type, "ip") == 0) {
		if (inet_pton(AF_INET, canon, a) != 1 && inet_pton(AF_INET6, canon, a) != 1)
			abort();
		return;
	}
	for (size_t i = 0; i < sizeof(domains) / sizeof(domains[0]); i++) {
		size_t n = strlen(canon), m = strlen(domains[i]);
		if (n >= m && strcmp(canon + n - m, domains[i]) == 0 &&
		    (n == m || canon[n - m - 1] == '.'))
			return;
	}
	abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const types[] = { "dns", "ip", "email" };
	static acme_cidr ips[2];
	static int ready;
	acme_policy pol = { .domains = domains, .ndomains = 2, .ips = ips, .nips = 2 };
	acme_problem p = { 0 };
	char canon[256], *value;
	const char *type;
	tg_err err = { 0 };

	if (!ready) {
		if (acme_cidr_parse("10.0.0.0/8", &ips[0], &err) != 0 ||
		    acme_cidr_parse("2001:db8::/32", &ips[1], &err) != 0)
			abort();
		ready = 1;
	}
	if (size < 1)
		return 0;
	type = types[data[0] % 3];
	pol.no_wildcards = (data[0] >> 2) & 1;
	pol.dns01 = (data[0] >> 3) & 1;
	if ((value = strndup((const char *)data + 1, size - 1)) == NULL)
		return 0;
	if (acme_ident_check(&pol, type, value, canon, &p) == 0) {
		if (strcmp(type, "email") == 0)
			abort();
		check_canon(&pol, type, canon);
		if (strncmp(canon, "*.", 2) == 0 && (pol.no_wildcards || !pol.dns01))
			abort(); /* a wildcard without dns-01 */
	} else {
		if (p.type != ACME_P_MALFORMED && p.type != ACME_P_REJECTED_IDENTIFIER &&
		    p.type != ACME_P_UNSUPPORTED_IDENTIFIER)
			abort();
		check_problem(&p);
	}
	free(value);
	return 0;
}
