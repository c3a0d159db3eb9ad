#!/usr/bin/env bash
# Used nonces are recorded in groups (requests that arrive while another's
# nonce is being written wait and are written together, in one
# transaction): one nonce sent in 6 requests at once, queued behind a
# request that waits for SQLite's write lock (held by the test), passes
# once; the other 5 get badNonce, as they did one transaction each.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=lib/acme.sh
. "$TLSGATE_SRC/tests/e2e/lib/acme.sh"
cd "$WORK"

acme_ca
start_acme acme --max-conns-per-ip 0
out=$(PYTHONPATH="$TLSGATE_SRC/tests/e2e" timeout 120 python3 "$TLSGATE_SRC/tests/e2e/acme_nonce_group.py" \
	"https://localhost:$ACME_PORT" pki/root.crt pki/tlsgate.db 6 2>client.log) ||
	fail "the client failed: $(tail -5 client.log)"
want="200 valid
200 valid
400 urn:ietf:params:acme:error:badNonce
400 urn:ietf:params:acme:error:badNonce
400 urn:ietf:params:acme:error:badNonce
400 urn:ietf:params:acme:error:badNonce
400 urn:ietf:params:acme:error:badNonce"
assert_eq "$out" "$want" "one nonce in 6 requests at once (and one request with its own)"
assert_contains "$(cat acme.log)" "problem=urn:ietf:params:acme:error:badNonce" "the refusals logged"
pass "a nonce is taken once when its requests meet in one group"
