/* The versions tlsgate runs with: a distribution may update a library
 * without rebuilding tlsgate, and the one loaded is the one that matters. */
#include "tlsgate/util.h"

#include <libpq-fe.h>
#include <openssl/crypto.h>
#include <sqlite3.h>
#include <stdio.h>

void
util_runtime_versions(char *out, size_t len)
{
	int pq = PQlibVersion(); /* e.g. 150005: 15.5; before 10: 90624 is 9.6.24 */

	if (pq >= 100000)
		snprintf(out, len, "%s\nSQLite %s\nlibpq %d.%d\n", OpenSSL_version(OPENSSL_VERSION),
		    sqlite3_libversion(), pq / 10000, pq % 10000);
	else
		snprintf(out, len, "%s\nSQLite %s\nlibpq %d.%d.%d\n", OpenSSL_version(OPENSSL_VERSION),
		    sqlite3_libversion(), pq / 10000, pq / 100 % 100, pq % 100);
}
