/* What every ACME fuzz target checks of a refusal: a problem with a type
 * and a detail, whose JSON document parses. */
#ifndef TLSGATE_FUZZ_ACME_H
#define TLSGATE_FUZZ_ACME_H

#include <stdlib.h>

#include "acme/acme_proto.h"

static inline void
check_problem(const acme_problem *p)
{
	char *doc = acme_problem_json(p);
	json_t *o;

	if (p->type == ACME_P_NONE || p->detail[0] == '\0' || doc == NULL)
		abort();
	if ((o = json_loads(doc, 0, NULL)) == NULL)
		abort();
	json_decref(o);
	free(doc);
}

#endif
