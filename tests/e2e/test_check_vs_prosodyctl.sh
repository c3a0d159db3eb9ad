#!/usr/bin/env bash
# tlsgate check against `prosodyctl check certs` on the same broken Prosody
# certs dir (a temp config, never the system one): every host prosodyctl
# flags, tlsgate flags too; and tlsgate finds problems prosodyctl misses.
set -euo pipefail

: "${TLSGATE:?set TLSGATE to the built binary}"
: "${TLSGATE_SRC:?set TLSGATE_SRC to the source root}"
. "$TLSGATE_SRC/tests/e2e/lib/pki.sh"
command -v prosodyctl >/dev/null || { echo "SKIP: prosody not installed (scripts/deps.sh test)"; exit 77; }
id prosody >/dev/null 2>&1 || { echo "SKIP: no prosody user"; exit 77; }

W=$(mktemp -d /tmp/tlsgate-check-prosody.XXXXXX)
chmod 755 "$W"
failed=0
cleanup() {
	local rc=$?
	if [ $rc -ne 0 ] || [ $failed -ne 0 ]; then
		echo "--- prosodyctl ---" >&2
		cat "$W/prosody.txt" >&2 2>/dev/null || true
		echo "--- tlsgate ---" >&2
		cat "$W/tlsgate.txt" >&2 2>/dev/null || true
	fi
	rm -rf "$W"
}
trap cleanup EXIT
fail() { echo "FAIL $*" >&2; failed=$((failed + 1)); }

P=$W/pki
C=$W/certs
mkdir -p "$P" "$C" "$W/data"
pki_cert "$P/root" self root "/CN=prosody Test Root"
pki_cert "$P/inter" "$P/root" inter "/CN=prosody Test Inter"

# install HOST CERT_PREFIX [CHAIN_ORDER]: HOST.crt (leaf + inter) and HOST.key,
# the way `prosodyctl cert import` leaves them (root:prosody 0640).
install() {
	local host=$1 src=$2
	cat "$src.crt" "$P/inter.crt" >"$C/$host.crt"
	cp "$src.key" "$C/$host.key"
	chown root:prosody "$C/$host.key"
	chmod 640 "$C/$host.key"
}
leaf() { pki_cert "$P/$1" "$P/inter" server "/CN=$2" "DNS:$2" "${3:--1 hour}" "${4:-+365 days}"; }

hosts=()
vhost() { hosts+=("$1"); }

leaf good good.example; install good.example "$P/good"; vhost good.example
vhost conference.good.example # no cert of its own: Prosody uses good.example's
leaf expired expired.example "-60 days" "-1 day"; install expired.example "$P/expired"; vhost expired.example
leaf critical critical.example "-10 days" "+12 hours"; install critical.example "$P/critical"; vhost critical.example
leaf soon soon.example "-10 days" "+5 days"; install soon.example "$P/soon"; vhost soon.example
leaf other other.example; install wrongname.example "$P/other"; vhost wrongname.example
leaf mism mismatch.example; install mismatch.example "$P/mism"
cp "$P/good.key" "$C/mismatch.example.key"; vhost mismatch.example
leaf rev reversed.example; install reversed.example "$P/rev"
cat "$P/inter.crt" "$P/rev.crt" >"$C/reversed.example.crt"; vhost reversed.example
leaf enc encrypted.example; install encrypted.example "$P/enc"
openssl pkey -in "$P/enc.key" -aes256 -passout pass:x -out "$C/encrypted.example.key"
chown root:prosody "$C/encrypted.example.key"; chmod 640 "$C/encrypted.example.key"; vhost encrypted.example
leaf locked locked.example; install locked.example "$P/locked"
chown root:root "$C/locked.example.key"; chmod 600 "$C/locked.example.key"; vhost locked.example
leaf der der.example; install der.example "$P/der"
openssl x509 -in "$P/der.crt" -outform DER -out "$C/der.example.crt"; vhost der.example
vhost nocert.example
# What prosodyctl does not look at:
leaf inc incomplete.example; install incomplete.example "$P/inc"
cp "$P/inc.crt" "$C/incomplete.example.crt"; vhost incomplete.example
leaf world world.example; install world.example "$P/world"
chmod 644 "$C/world.example.key"; vhost world.example
leaf cnonly cnonly.example
pki_cert "$P/cnonly" "$P/inter" server "/CN=cnonly.example" ""
install cnonly.example "$P/cnonly"; vhost cnonly.example
chown -R root:prosody "$C"
chmod 750 "$C"

{
	echo "pidfile = \"$W/prosody.pid\""
	echo "data_path = \"$W/data\""
	echo "certificates = \"$C\""
	echo "log = { error = \"$W/prosody.log\" }"
	for h in "${hosts[@]}"; do echo "VirtualHost \"$h\""; done
} >"$W/prosody.cfg.lua"
chown -R prosody "$W/data"
chmod 644 "$W/prosody.cfg.lua"

timeout 120 prosodyctl --config "$W/prosody.cfg.lua" check certs >"$W/prosody.txt" 2>&1 || true
host_args=()
for h in "${hosts[@]}"; do host_args+=(--host "$h"); done
rc=0
"$TLSGATE" check "$C" --owner prosody --ca "$P/root.crt" --no-system-ca "${host_args[@]}" \
	--json >"$W/tlsgate.json" 2>&1 || rc=$?
"$TLSGATE" check "$C" --owner prosody --ca "$P/root.crt" --no-system-ca "${host_args[@]}" \
	>"$W/tlsgate.txt" 2>&1 || true
[ $rc -eq 1 ] || fail "tlsgate exit $rc, want 1"

# Hosts prosodyctl flags: a line after "Checking certificate for H" other
# than the "Certificate: path" line (its certmanager log lines interleave).
prosody_flags() {
	awk -v h="$1" '/^Checking certificate for /{on = ($4 == h); next}
		/^certmanager /{next}
		/^[^ ]/{on = 0} on && /^ / && !/^  Certificate: /{print}' "$W/prosody.txt"
}
# tlsgate's codes for host H: subjects for H's files or with H among hosts.
tlsgate_codes() {
	jq -r --arg h "$1" '.subjects[] | select((.hosts | index($h)) or
		(.files[] | test("/" + ($h | gsub("\\."; "\\.")) + "\\.(crt|key)$")))
		| .findings[] | select(.severity != "info")
		| select(.code != "name-mismatch" or (.message | contains("cover " + $h + ";")))
		| .code' "$W/tlsgate.json" | sort -u | paste -sd' ' -
}

both=0 only_tlsgate=0 only_prosody=0
printf '%-26s %-45s %s\n' HOST "prosodyctl check certs" "tlsgate check" >"$W/table.txt"
for h in "${hosts[@]}"; do
	p=$(prosody_flags "$h" | sed 's/^ *//' | paste -sd';' -)
	t=$(tlsgate_codes "$h")
	printf '%-26s %-45.45s %s\n' "$h" "${p:--}" "${t:--}" >>"$W/table.txt"
	if [ -n "$p" ] && [ -z "$t" ]; then
		fail "$h: prosodyctl flags it ($p), tlsgate does not"
		only_prosody=$((only_prosody + 1))
	elif [ -n "$p" ]; then
		both=$((both + 1))
	elif [ -n "$t" ]; then
		only_tlsgate=$((only_tlsgate + 1))
	fi
done
cat "$W/table.txt"

# The specific mistakes prosodyctl misses and tlsgate must find.
for want in "incomplete.example chain-incomplete" "world.example key-exposed" \
	"cnonly.example cn-only" "good.example" "conference.good.example name-mismatch" \
	"reversed.example chain-order" "mismatch.example key-mismatch" \
	"locked.example key-service-unreadable" "nocert.example host-uncovered"; do
	set -- $want
	t=" $(tlsgate_codes "$1") "
	if [ $# -eq 1 ]; then
		[ "$t" = "  " ] || fail "$1: want no findings, got [$t]"
	else
		case "$t" in *" $2 "*) ;; *) fail "$1: want $2, got [$t]" ;; esac
	fi
done
echo "flagged by both: $both; only by tlsgate: $only_tlsgate; only by prosodyctl: $only_prosody"
[ $failed -eq 0 ]
