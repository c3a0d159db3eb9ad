#!/usr/bin/env bash
# Ports are 1-65535 everywhere: --listen/--target/--status, a config file's
# listen, and `check endpoint` refuse 99999 naming the option and the range
# (it used to wrap: 99999 bound port 34463 while the log said 99999), and
# nothing listens on the wrapped port. A unix socket target is named as not
# supported instead of failing to resolve "unix".
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib/pki.sh"

pki_gateway "Port CA"
cert=(--cert "$WORK/server.crt" --key "$WORK/server.key")
P=$(free_port)
wrapped() { echo $(($1 % 65536)); }

refused() { # WHAT EXPECTED-MESSAGE CMD...
	local what=$1 msg=$2
	shift 2
	expect_fail 2 timeout 10 "$@"
	assert_contains "$OUT" "$msg" "$what"
}
refused "--listen :99999" "--listen: port '99999' is not a port number: ports are 1-65535" \
	"$TLSGATE" serve --listen 127.0.0.1:99999 --target 127.0.0.1:$P "${cert[@]}"
if ss -Hltn "sport = :$(wrapped 99999)" | grep -q .; then fail "something listens on the wrapped port $(wrapped 99999)"; fi
refused "--target :70000" "--target: port '70000' is not a port number: ports are 1-65535" \
	"$TLSGATE" serve --listen 127.0.0.1:$P --target 127.0.0.1:70000 "${cert[@]}"
refused "--status :65536" "--status: port '65536' is not a port number: ports are 1-65535" \
	"$TLSGATE" serve --listen 127.0.0.1:$P --target 127.0.0.1:1 "${cert[@]}" --status 127.0.0.1:65536
refused "--listen :0" "ports are 1-65535" \
	"$TLSGATE" serve --listen 127.0.0.1:0 --target 127.0.0.1:1 "${cert[@]}"
refused "--target /path" "--target: '/run/app.sock': a unix socket is written unix:/run/app.sock" \
	"$TLSGATE" serve --listen 127.0.0.1:$P --target /run/app.sock "${cert[@]}"
pass "serve refuses ports outside 1-65535 and a bare socket path, naming the option"

printf '[listener web]\nlisten = 127.0.0.1:99999\ntarget = 127.0.0.1:1\ncert = %s\nkey = %s\n' \
	"$WORK/server.crt" "$WORK/server.key" >"$WORK/gw.ini"
expect_fail 1 "$TLSGATE" serve --config "$WORK/gw.ini" --test
assert_contains "$OUT" "$WORK/gw.ini:2: [listener web]: listen: port '99999' is not a port number: ports are 1-65535" "config file listen = :99999"
pass "a config file's port is checked with its line"

refused "check endpoint :99999" "port '99999' is not a port number: ports are 1-65535" \
	"$TLSGATE" check endpoint 127.0.0.1:99999
pass "check endpoint refuses port 99999"
