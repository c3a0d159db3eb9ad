#!/usr/bin/env bash
# Far more connections than a shell's default open files limit: started
# with a soft limit of 1024 and --max-conns 2000, the server raises the
# limit (the hard one allows it) and says so; 1500 kept-alive connections
# that say nothing are all taken and parked, and a real client (lego,
# http-01) still gets a certificate while they are open.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=lib/acme.sh
. "$TLSGATE_SRC/tests/e2e/lib/acme.sh"
command -v lego >/dev/null || { echo "SKIP: lego not installed (scripts/deps.sh test)"; exit 77; }
hard=$(ulimit -Hn)
[ "$hard" = unlimited ] || [ "$hard" -ge 4000 ] || { echo "SKIP: the hard open files limit ($hard) is under 4000"; exit 77; }
cd "$WORK"

acme_ca
HTTP01=$(free_port)
ulimit -Sn 1024
start_acme acme --max-conns 2000 --max-conns-per-ip 0 --http01-port "$HTTP01" \
	--resolve h.example.test=127.0.0.1
ulimit -Sn "$hard"
wait_log acme.log "raised the open files limit from 1024 to [0-9]* (--max-conns 2000 needs about"
assert_eq "$hard" "$(awk '/^Max open files/ {print $4}' "/proc/$(child_of "$ACME_PID")/limits")" \
	"the server's soft open files limit"

hold idle "$ACME_PORT" req 1500 127.0.0.2 120
active=$(curl -sS --max-time 8 --cacert pki/root.crt "https://localhost:$ACME_PORT/metrics" |
	sed -n 's/^tlsgate_acme_connections_active //p')
[ "$active" -ge 1500 ] || fail "connections open on /metrics: $active, expected 1500 and more"

export LEGO_CA_CERTIFICATES=$WORK/pki/root.crt
timeout 120 lego --server "$ACME_DIR" --accept-tos --email ops@example.test --path "$WORK/lego" \
	-d h.example.test --http --http.port "127.0.0.1:$HTTP01" run >lego.log 2>&1 ||
	fail "lego run with 1500 connections open: $(tail -5 lego.log)"
out=$(openssl verify -CAfile pki/root.crt -untrusted lego/certificates/h.example.test.issuer.crt \
	-verify_hostname h.example.test lego/certificates/h.example.test.crt 2>&1) ||
	fail "openssl verify: $out"
! grep -q "accept: " acme.log || fail "the server ran out of descriptors: $(grep "accept: " acme.log | head -1)"
pass "1500 idle connections under --max-conns 2000 from a soft limit of 1024, and an order completed"
