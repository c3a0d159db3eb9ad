#!/usr/bin/env bash
# Finalize's group commit: 8 orders (8 accounts, python client) finalize at
# once while the test holds the CA's writer lock, with a second finalize of
# order 0 among them and a CSR with an extra name for another order. The
# first waits for the lock alone; the other 8 queue and are signed in one
# transaction once it is released: 7 recorded, and the second finalize of
# order 0 (whichever came second) refused alone, orderNotReady, its row
# rolled back. Every order gets a distinct certificate for its name that
# verifies against the root, with its row in the inventory; the bad CSR is
# refused (badCSR) without waiting and changes nothing.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=lib/acme.sh
. "$TLSGATE_SRC/tests/e2e/lib/acme.sh"
# shellcheck source=lib/acme_group.sh
. "$TLSGATE_SRC/tests/e2e/lib/acme_group.sh"
cd "$WORK"

acme_ca
group_commit_checks
pass "group commit: $GROUP_N finalizes, one refused alone, rows == certificates"
