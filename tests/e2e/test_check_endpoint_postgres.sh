#!/usr/bin/env bash
# tlsgate check against a real PostgreSQL: a private cluster (initdb in a temp
# dir, loopback port) with ssl = on. The served chain is read through the
# SSLRequest handshake (--starttls postgres); the data dir passes the file
# check with --owner postgres; with ssl turned off the endpoint says no-tls.
set -euo pipefail

: "${TLSGATE:?set TLSGATE to the built binary}"
: "${TLSGATE_SRC:?set TLSGATE_SRC to the source root}"
. "$TLSGATE_SRC/tests/e2e/lib/pki.sh"

PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -x "$PGBIN/initdb" ] || { echo "SKIP: PostgreSQL not installed (scripts/deps.sh test)"; exit 77; }
PGUSER_OS=postgres
id "$PGUSER_OS" >/dev/null 2>&1 || { echo "SKIP: no postgres user"; exit 77; }

W=$(mktemp -d /tmp/tlsgate-check-pg.XXXXXX)
chmod 755 "$W"
D=$W/data
STARTED=0
failed=0
as_pg() {
	if [ "$(id -u)" -eq 0 ]; then runuser -u "$PGUSER_OS" -- "$@"; else "$@"; fi
}
cleanup() {
	local rc=$?
	[ $STARTED -eq 1 ] && as_pg "$PGBIN/pg_ctl" -D "$D" -m immediate stop >/dev/null 2>&1
	if [ $rc -ne 0 ] || [ $failed -ne 0 ]; then
		echo "--- postgres log ---" >&2
		cat "$W/pg.log" >&2 2>/dev/null || true
		echo "--- last check output ---" >&2
		cat "$W/out.json" >&2 2>/dev/null || true
	fi
	rm -rf "$W"
}
trap cleanup EXIT

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
P=$W/pki
mkdir -p "$P"
pki_cert "$P/root" self root "/CN=pg Test Root"
pki_cert "$P/inter" "$P/root" inter "/CN=pg Test Inter"
pki_cert "$P/server" "$P/inter" server "/CN=db.example.com" "DNS:db.example.com,IP:127.0.0.1"

[ "$(id -u)" -eq 0 ] && chown "$PGUSER_OS" "$W"
as_pg "$PGBIN/initdb" -D "$D" -A trust -U postgres >"$W/initdb.log" 2>&1 ||
	{ cat "$W/initdb.log" >&2; exit 1; }
cat "$P/server.crt" "$P/inter.crt" >"$D/server.crt"
cp "$P/server.key" "$D/server.key"
cp "$P/root.crt" "$D/root.crt"
[ "$(id -u)" -eq 0 ] && chown "$PGUSER_OS" "$D/server.crt" "$D/server.key" "$D/root.crt"
chmod 600 "$D/server.key"
cat >>"$D/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$W'
ssl = on
ssl_cert_file = 'server.crt'
ssl_key_file = 'server.key'
ssl_ca_file = 'root.crt'
EOF
as_pg "$PGBIN/pg_ctl" -D "$D" -l "$W/pg.log" -w -t 30 start >/dev/null
STARTED=1

check_ep() {
	local rc=0
	"$TLSGATE" check endpoint "127.0.0.1:$PORT" --starttls postgres --sni db.example.com \
		--ca "$P/root.crt" --no-system-ca --json "$@" >"$W/out.json" 2>"$W/err.txt" || rc=$?
	echo $rc
}
codes() { jq -r '[.subjects[].findings[].code] | unique | join(" ")' "$W/out.json"; }
fail() { echo "FAIL $*" >&2; failed=$((failed + 1)); }

rc=$(check_ep)
# ssl_ca_file makes PostgreSQL ask for (optional) client certs: reported as info.
[ "$rc" = 0 ] && [ "$(codes)" = "client-cert-requested" ] ||
	fail "ssl on: exit $rc codes [$(codes)] $(cat "$W/err.txt")"
grep -q "pg Test Root" "$W/out.json" || fail "advertised CA name missing"
[ "$(jq '.subjects[0].certificates' "$W/out.json")" = 2 ] || fail "served chain not read whole"
[ "$(jq -r '.subjects[0].leaf' "$W/out.json")" = "CN=db.example.com" ] || fail "wrong leaf"
echo "ok   ssl on: chain of 2 read through SSLRequest"

# Without --starttls the handshake cannot work: could not run, exit 2.
rc=0
"$TLSGATE" check endpoint "127.0.0.1:$PORT" --no-system-ca >/dev/null 2>"$W/err.txt" || rc=$?
{ [ $rc -eq 2 ] && grep -q -- "--starttls postgres" "$W/err.txt"; } || fail "no starttls: exit $rc"
echo "ok   plain TLS to PostgreSQL: exit 2 with a hint"

# The data dir itself, with PostgreSQL's key rule.
rc=0
"$TLSGATE" check "$D" --owner postgres --no-system-ca --json >"$W/out.json" || rc=$?
[ $rc -eq 0 ] && [ "$(codes)" = "" ] || fail "data dir: exit $rc codes [$(codes)]"
chmod 640 "$D/server.key"
rc=0
"$TLSGATE" check "$D" --owner postgres --no-system-ca --json >"$W/out.json" || rc=$?
[ $rc -eq 1 ] && [ "$(codes)" = "key-mode" ] || fail "data dir 0640: exit $rc codes [$(codes)]"
chmod 600 "$D/server.key"
echo "ok   data dir: clean, then key-mode at 0640"

# ssl off (reloadable): the SSLRequest is answered 'N'.
psql -h "$W" -p "$PORT" -U postgres -d postgres -qAt \
	-c "ALTER SYSTEM SET ssl = off" -c "SELECT pg_reload_conf()" >/dev/null
for _ in $(seq 50); do
	[ "$(psql -h "$W" -p "$PORT" -U postgres -d postgres -qAt -c 'SHOW ssl')" = off ] && break
	sleep 0.1
done
rc=$(check_ep)
[ "$rc" = 1 ] && [ "$(codes)" = "no-tls" ] || fail "ssl off: exit $rc codes [$(codes)]"
echo "ok   ssl off: no-tls"

[ $failed -eq 0 ]
