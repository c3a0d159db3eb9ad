#!/usr/bin/env bash
# --watch: a revocation published by `tlsgate crl` reaches the gateway with
# no signal sent (inotify on the CRL's directory). A new connection of the
# revoked client is refused within 5 s (the time taken is logged), its open stream is closed by the reload's
# re-check, and another client's long transfer goes on. A garbage CRL, a
# CRL from another CA and one from a CA of the same name, written over the
# file (also a garbled CRL after a good one), are refused, logged and
# counted; the CRL in force stays.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

cd "$WORK"
tg ca init --dir pki --name "Watch CA" >/dev/null
tg cert issue localhost --dir pki --san 127.0.0.1 >/dev/null
for who in alice carol dave; do tg cert issue "$who" --dir pki --client >/dev/null; done
tg crl --dir pki >/dev/null
tg ca init --dir other --name "Other CA" >/dev/null
tg crl --dir other >/dev/null
# Another CA under the same name: its CRL names our CA but is not signed by it.
tg ca init --dir twin --name "Watch CA" >/dev/null
tg crl --dir twin >/dev/null

BP=$(free_port); G=$(free_port); S=$(free_port)
start_bg backend python3 -u "$TLSGATE_SRC/tests/e2e/stream_backend.py" "$BP"
wait_port "$BP"
start_bg gw timeout 120 "$TLSGATE" serve --listen 127.0.0.1:$G --target 127.0.0.1:$BP \
	--cert pki/issued/localhost.crt --key pki/issued/localhost.key --client-ca pki/root.crt \
	--verify require --crl pki/crl.pem --status 127.0.0.1:$S --workers 2 --watch yes
wait_port "$G"; wait_port "$S"
wait_log gw.log "ready: .*watching .*(inotify)"

once() { python3 "$TLSGATE_SRC/tests/e2e/stream_client.py" "$G" pki/root.crt \
	"pki/issued/$1.crt" "pki/issued/$1.key" once; }
stream() { # NAME: a long transfer in the background, until the file stop-NAME exists
	start_bg "$1-stream" python3 -u "$TLSGATE_SRC/tests/e2e/stream_client.py" "$G" pki/root.crt \
		"pki/issued/$1.crt" "pki/issued/$1.key" stream "stop-$1"
	wait_log "$WORK/$1-stream.log" "^lines 20"
}
lines() { sed -n 's/^lines //p' "$WORK/$1-stream.log" | tail -n1; }
metric() { curl -s --max-time 5 "http://127.0.0.1:$S/metrics" | grep -F "$1" || true; }

assert_eq ok "$(once carol)" "carol gets in before the revocation"
stream alice
stream carol
pass "alice and carol stream through the gateway"

# Revoke carol; `tlsgate crl` replaces the file by rename. No signal.
tg cert revoke --cert pki/issued/carol.crt --dir pki --reason keyCompromise >/dev/null
tg crl --dir pki >/dev/null
t0=$EPOCHREALTIME
res=ok
while ((SECONDS - ${t0%.*} < 5)); do
	res=$(once carol)
	[ "$res" = ok ] || break
	sleep 0.1
done
assert_contains "$res" "refused" "carol is refused within 5 s of the new CRL (no signal sent)"
ms=$(python3 -c "import sys; print(round((float(sys.argv[2]) - float(sys.argv[1])) * 1000))" "$t0" "$EPOCHREALTIME")
wait_log gw.log "reload ok: generation 1"
# The gateway's own part: from the file's mtime to the new generation.
own=$(python3 - "$(stat -c %.6Y pki/crl.pem)" "$(grep -m1 'reload ok: generation 1' gw.log | cut -d' ' -f1)" <<'PY'
import datetime, sys
t = datetime.datetime.strptime(sys.argv[2], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc)
print(round((t.timestamp() - float(sys.argv[1])) * 1000))
PY
)
pass "carol refused ${ms} ms after the CRL was published (bound: 5 s; the new CRL in force ${own} ms after it was written)"
wait_log gw.log "watch: pki/crl.pem (listener default, crl) changed"
wait_log gw.log "cn=carol .*certificate revoked"
wait_log carol-stream.log "^closed after" 10
wait_log gw.log 'cn=carol .*close="revoked after reload: certificate revoked"'
pass "carol's open stream was closed by the re-check"
before=$(lines alice)
sleep 1.5
after=$(lines alice)
[ "$after" -gt "$before" ] || fail "alice's transfer stopped at $before lines"
assert_not_contains "$(cat alice-stream.log)" "closed" "alice's transfer was not cut"
assert_eq ok "$(once alice)" "alice still gets in"
assert_contains "$(metric 'tlsgate_reloads_total{result="ok"}')" " 1" "one reload, by the watch"
pass "alice's transfer goes on ($before -> $after lines), a new alice connection works"

# A garbage CRL, then a CRL from another CA, each put in place by rename.
bad_crl() { # FILE WHY COUNT
	cp "$1" crl.tmp && mv crl.tmp pki/crl.pem
	wait_metric "http://127.0.0.1:$S/metrics" "tlsgate_reloads_total{result=\"failed\"} $3" 10
	wait_log gw.log "reload failed, still serving the previous configuration: .*pki/crl.pem.*$2"
	assert_contains "$(metric tlsgate_last_reload_success)" "tlsgate_last_reload_success 0" \
		"/metrics shows the failed reload"
	assert_contains "$(once carol)" "refused" "the CRL in force still refuses carol"
	assert_eq ok "$(once dave)" "dave still gets in"
}
cp pki/crl.pem good.crl
head -c 300 /dev/urandom | base64 | sed '1i -----BEGIN X509 CRL-----' | sed '$a -----END X509 CRL-----' >garbage.crl
bad_crl garbage.crl "does not parse" 1
# A garbled CRL after the good one: the good one alone used to be taken.
cat good.crl garbage.crl >good-garbled.crl
bad_crl good-garbled.crl "CRL 2 of the file (counted from the top, after 1 that parse) does not parse" 2
pass "a garbage CRL, alone or after a good one, is refused and logged; the CRL in force stays"
printf 'this is not a CRL\n' >text.crl
bad_crl text.crl "is not a CRL (it holds binary data" 3
bad_crl other/crl.pem "issued by .*Other CA.*which is not a CA of --client-ca pki/root.crt" 4
bad_crl twin/crl.pem "its signature does not verify with the key of CN=Watch CA in --client-ca pki/root.crt" 5
pass "a CRL from another CA is refused and logged; the CRL in force stays"

# The good CRL back: the next reload works.
cp good.crl crl.tmp && mv crl.tmp pki/crl.pem
wait_metric "http://127.0.0.1:$S/metrics" 'tlsgate_reloads_total{result="ok"} 2' 10
assert_contains "$(metric tlsgate_last_reload_success)" "tlsgate_last_reload_success 1" "reload ok again"
touch stop-alice
wait_log alice-stream.log "^stopped after"
pass "alice's transfer lasted through every reload: $(tail -n1 alice-stream.log)"
