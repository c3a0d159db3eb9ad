#!/usr/bin/env bash
# dns-01 and wildcards in `tlsgate acme serve` against a real DNS server
# (dnsmasq on loopback), with the project's python client
# (test_acme_dns01_refusals.py): what is offered, a wildcard issued and its
# CSR held to the wildcard, and the refusals (wrong TXT value, no record,
# the resolver timing out or gone, --no-wildcards, no --dns-resolver), each
# with its problem type and reason and nothing issued. Also: a bad
# --dns-resolver is refused at start.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=lib/acme.sh
. "$TLSGATE_SRC/tests/e2e/lib/acme.sh"
# shellcheck source=lib/dnsmasq.sh
. "$TLSGATE_SRC/tests/e2e/lib/dnsmasq.sh"
[ -x "$DNSMASQ" ] || { echo "SKIP: dnsmasq not installed (dnsmasq-base)"; exit 77; }
cd "$WORK"

acme_ca
before=$(snapshot pki)
for bad in 'dns.example.internal' '127.0.0.1:0' '127.0.0.1:65536' '[::1' '::1]:53' '127.0.0.1:x'; do
	expect_fail 2 tg acme serve --dir pki --allow-domain example.internal --dns-resolver "$bad"
	assert_contains "$OUT" "--dns-resolver '$bad' is not ADDR[:PORT]" "--dns-resolver $bad"
done
assert_eq "$before" "$(snapshot pki)" "the CA after refused starts"
pass "a --dns-resolver that is not ADDR[:PORT] is refused at start"

dns_start
start_acme acme-a --allow-domain example.internal --dns-resolver "127.0.0.1:$DNS_PORT"
A_PORT=$ACME_PORT
start_acme acme-b --allow-domain example.internal --dns-resolver "127.0.0.1:$DNS_PORT" --no-wildcards
B_PORT=$ACME_PORT
start_acme acme-c --allow-domain example.internal
C_PORT=$ACME_PORT
# D asks the same dnsmasq over IPv6 loopback, when the host has it.
D_URL=
if [ "$DNS_LISTEN" != 127.0.0.1 ]; then
	start_acme acme-d --allow-domain example.internal --dns-resolver "[::1]:$DNS_PORT"
	D_URL="https://localhost:$ACME_PORT"
fi
grep -q "dns-01 via 127.0.0.1:$DNS_PORT" acme-a.log || fail "server A does not say it offers dns-01"

TLSGATE=$TLSGATE PKI=$WORK/pki DNS_DIR=$DNS_DIR DNS_PORT=$DNS_PORT \
	ACME_A="https://localhost:$A_PORT" ACME_B="https://localhost:$B_PORT" \
	ACME_C="https://localhost:$C_PORT" ACME_D="$D_URL" \
	timeout 300 python3 "$TLSGATE_SRC/tests/e2e/test_acme_dns01_refusals.py" >dns01.log 2>&1 ||
	fail "test_acme_dns01_refusals.py: $(tail -20 dns01.log)"
cat dns01.log
grep -q "all dns-01 checks passed" dns01.log || fail "the python checks did not finish"
pass "dns-01 offers, a wildcard issued, refusals with their reasons"
