#!/usr/bin/env bash
# test_acme_group_commit on a PostgreSQL inventory: the finalizes queue
# while the test holds the CA's advisory lock (psql), then 8 are signed in
# one transaction, each in a savepoint (PostgreSQL aborts a transaction at a
# failed statement; the savepoint is what lets the others commit), the
# second finalize of order 0 refused alone.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=lib/pg.sh
. "$(dirname "$0")/lib/pg.sh"
# shellcheck source=lib/acme.sh
. "$TLSGATE_SRC/tests/e2e/lib/acme.sh"
# shellcheck source=lib/acme_group.sh
. "$TLSGATE_SRC/tests/e2e/lib/acme_group.sh"
cd "$WORK"

start_postgres
acme_ca --store "$URL"
GROUP_LOCK="pg:-h $SOCK -p $PORT -U postgres -d pki:$(ca_id pki)"
# A connection per thread: 8 + 2 + 1, under the test server's 50.
group_commit_checks --workers 12 --validators 2
pass "group commit on PostgreSQL: $GROUP_N finalizes, one refused alone, rows == certificates"
