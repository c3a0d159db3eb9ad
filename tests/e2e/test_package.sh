#!/usr/bin/env bash
# The Debian package, on this machine: scripts/package.sh builds it (out of
# the source tree), lintian finds no error or warning, dpkg -i installs it
# (tlsgate user, /var/lib/tlsgate 0750, conffiles), the installed program
# prints its library versions, its manual pages and bash completion are
# found, systemd-analyze verifies the units and rates the gateway's exposure
# under 2.0; a gateway runs from /etc/tlsgate with the unit's command line as
# the tlsgate user (a CA made in /var/lib/tlsgate as that user, the demo's
# certificates) and serves a client with a certificate, telling a
# NOTIFY_SOCKET it is ready and writing journal-style lines; the renewal
# unit's command with renew.conf renews a certificate and its default hook
# reloads that gateway. Purge removes what the package added and keeps the
# CA and its owner; a purge with no CA removes the user too.
# Other tests use $TLSGATE, never the installed /usr/bin/tlsgate; everything
# this test adds to the machine is removed when it ends, or, if it was
# killed first, when it next starts (recorded in /var/tmp/tlsgate-test_package).
if ! command -v dpkg >/dev/null 2>&1 || ! command -v dpkg-deb >/dev/null 2>&1; then
	echo "SKIP: test_package: dpkg is not available: not a Debian system"
	exit 0
fi
set -euo pipefail
# The package is built from the source tree, not from $TLSGATE: in the
# sanitizer build's run it would build and check the very same package
# again (about 5 minutes), so it runs with the normal build only.
if [ -n "${TLSGATE:-}" ] && ldd "$TLSGATE" 2>/dev/null | grep -q libasan; then
	echo "SKIP: test_package: the package does not use the sanitizer build's binary; it runs in the normal build"
	exit 0
fi
source "$(dirname "$0")/lib.sh"

# What this test adds to the machine is recorded in STATE before it is
# added, so a run killed before its cleanup (CTest's timeout kills with
# SIGKILL; the gateway runs orphaned, as under systemd) is cleaned up by
# the next run; a tlsgate that is not recorded there is not this test's
# and is left alone.
STATE=/var/tmp/tlsgate-test_package
# The gateways this test starts run as tlsgate from /etc/tlsgate/pkgtest*.ini;
# userdel refuses a user with processes.
stop_gateways() {
	local pid i left
	for ((i = 0; i < 50; i++)); do
		left=$(ps -u tlsgate -o pid=,args= 2>/dev/null |
			awk '$2 == "/usr/bin/tlsgate" && $3 == "serve" && $5 ~ "^/etc/tlsgate/pkgtest" { print $1 }')
		[ -n "$left" ] || return 0
		for pid in $left; do kill "-$([ "$i" -lt 30 ] && echo TERM || echo KILL)" "$pid" 2>/dev/null || true; done
		sleep 0.1
	done
}
uninstall() {
	[ -d "$STATE" ] || return 0
	stop_gateways
	dpkg --purge tlsgate >/dev/null 2>&1 || true
	rm -f /etc/tlsgate/pkgtest*.ini
	rm -rf /var/lib/tlsgate /etc/tlsgate
	deluser --system tlsgate >/dev/null 2>&1 || true
	delgroup --system tlsgate >/dev/null 2>&1 || true
	rm -rf "$STATE"
}
if [ -d "$STATE" ]; then
	echo "$TEST_NAME: removing what a killed earlier run left ($(cat "$STATE/run" 2>/dev/null || echo '?'))"
	uninstall
fi
# A tlsgate already on this machine would be removed by the cleanup.
if dpkg-query -W -f='${Status}' tlsgate 2>/dev/null | grep -q "ok installed\|config-files" ||
	getent passwd tlsgate >/dev/null || [ -e /var/lib/tlsgate ] || [ -e /etc/tlsgate ]; then
	fail "tlsgate (package, user, /var/lib/tlsgate or /etc/tlsgate) is already on this machine; this test installs and purges its own: remove it first (dpkg --purge tlsgate; rm -r /var/lib/tlsgate /etc/tlsgate; deluser --system tlsgate)"
fi
mkdir -p "$STATE"
echo "pid $$, started $(date -u +%FT%TZ), work dir $WORK" >"$STATE/run"
on_exit uninstall
as_tlsgate() { (cd / && setpriv --reuid=tlsgate --regid=tlsgate --init-groups env HOME=/var/lib/tlsgate "$@"); }

# --- Build: nothing lands in the source tree ---
touch "$WORK/before-build"
sleep 1
deb=$("$TLSGATE_SRC/scripts/package.sh" "$WORK/deb" 2>"$WORK/package.log" | tail -n 1) ||
	fail "scripts/package.sh failed: $(tail -n 30 "$WORK/package.log")"
[ -f "$deb" ] || fail "scripts/package.sh made no .deb (see package.log)"
case $(basename "$deb") in tlsgate_*_*.deb) ;; *) fail "unexpected package name $deb" ;; esac
new=$(cd "$TLSGATE_SRC" && find . \( -path './build*' -o -path ./.git -o -path ./demo-out \) -prune -o \
	-newer "$WORK/before-build" -print)
assert_eq "" "$new" "files the package build left in the source tree"
pass "scripts/package.sh built $(basename "$deb") out of the source tree"

# package.sh fails on any lintian error or warning; its verdict is in the log.
assert_contains "$(cat "$WORK/package.log")" "lintian: no errors or warnings" "package.sh ran lintian"
assert_eq "" "$(grep -E '^[EW]: ' "$WORK/package.log" || true)" "lintian errors and warnings"
pass "lintian: no errors, no warnings"

# --- Install ---
dpkg -i "$deb" >"$WORK/dpkg-install.log" 2>&1 || fail "dpkg -i: $(cat "$WORK/dpkg-install.log")"
IFS=: read -r _ _ uid _ _ home shell < <(getent passwd tlsgate) || fail "no tlsgate user after install"
[ "$uid" -lt 1000 ] || fail "tlsgate is not a system user (uid $uid)"
assert_eq "/var/lib/tlsgate /usr/sbin/nologin" "$home $shell" "the tlsgate user's home and shell"
getent group tlsgate >/dev/null || fail "no tlsgate group"
assert_eq "tlsgate:tlsgate 750" "$(stat -c '%U:%G %a' /var/lib/tlsgate)" "/var/lib/tlsgate"
conf=$(dpkg-query -W -f='${Conffiles}' tlsgate)
assert_contains "$conf" "/etc/tlsgate/example.ini" "conffiles"
assert_contains "$conf" "/etc/tlsgate/renew.conf" "conffiles"
pass "installed: tlsgate system user and group, /var/lib/tlsgate 0750, conffiles in /etc/tlsgate"

ver=$(/usr/bin/tlsgate --version)
assert_eq "tlsgate $(dpkg-query -W -f='${Version}' tlsgate | sed 's/-[^-]*$//')" "$(sed -n 1p <<<"$ver")" "--version"
for lib in "OpenSSL 3" "SQLite 3" "libpq "; do
	assert_contains "$ver" "$lib" "--version names the libraries it runs with"
done
pass "tlsgate --version: $(tr '\n' ';' <<<"$ver")"

export LC_ALL=C.UTF-8 MANWIDTH=200
assert_contains "$(man -P cat tlsgate 2>&1)" "tlsgate - private CA" "man tlsgate"
assert_contains "$(man -P cat tlsgate-serve 2>&1)" "--max-unauth-per-addr N" "man tlsgate-serve"
for c in $(/usr/bin/tlsgate __complete | grep -vx help); do
	man -w "tlsgate-$c" >/dev/null 2>&1 || fail "no manual page tlsgate-$c"
done
pass "man tlsgate, man tlsgate-serve, and a page for every command"

got=$(bash -c 'source /usr/share/bash-completion/bash_completion
	_completion_loader tlsgate
	COMP_WORDS=(tlsgate cert re); COMP_CWORD=2; COMP_LINE="tlsgate cert re"; COMP_POINT=${#COMP_LINE}
	_tlsgate tlsgate re cert; echo "${COMPREPLY[*]}"')
assert_eq "request revoke renew" "$got" "bash completion of 'tlsgate cert re'"
pass "bash completion from /usr/share/bash-completion/completions"

# --- The units ---
name=pkgtest$$
( cd /lib/systemd/system && systemd-analyze verify "tlsgate@$name.service" tlsgate-renew.service \
	tlsgate-renew.timer ) >"$WORK/verify.log" 2>&1 || fail "systemd-analyze verify: $(cat "$WORK/verify.log")"
assert_eq "" "$(cat "$WORK/verify.log")" "systemd-analyze verify's complaints"
for unit in "tlsgate@$name.service" tlsgate-renew.service; do
	score=$(cd /lib/systemd/system && systemd-analyze security --offline=yes "$unit" 2>&1 |
		sed -n 's/.*Overall exposure level for .*: \([0-9.]*\) .*/\1/p')
	[ -n "$score" ] || fail "no exposure score for $unit"
	awk -v s="$score" 'BEGIN { exit !(s < 2.0) }' || fail "$unit: exposure $score, not under 2.0"
	pass "systemd-analyze security --offline: $unit exposure $score"
done
pass "systemd-analyze verify: the units are clean"

# --- A gateway from /etc/tlsgate, as the unit runs it ---
as_tlsgate tlsgate ca init --dir /var/lib/tlsgate/ca --name "Package Test CA" --intermediate >"$WORK/ca.log"
as_tlsgate tlsgate cert issue localhost --dir /var/lib/tlsgate/ca --san 127.0.0.1 >>"$WORK/ca.log"
as_tlsgate tlsgate cert issue alice --dir /var/lib/tlsgate/ca --client >>"$WORK/ca.log"
BP=$(free_port); GP=$(free_port)
start_echo_backend "$BP"
cat >"/etc/tlsgate/$name.ini" <<INI
[global]
workers = 1
[listener web]
listen = 127.0.0.1:$GP
target = 127.0.0.1:$BP
mode = http
cert = /var/lib/tlsgate/ca/issued/localhost.crt
key = /var/lib/tlsgate/ca/issued/localhost.key
client-ca = /var/lib/tlsgate/ca/ca-bundle.crt
verify = require
INI
assert_contains "$(as_tlsgate tlsgate serve --config "/etc/tlsgate/$name.ini" --test)" "configuration ok" \
	"the config checks as the tlsgate user"

exec_start=$(sed -n 's/^ExecStart=//p' /lib/systemd/system/tlsgate@.service)
assert_eq "/usr/bin/tlsgate serve --config /etc/tlsgate/%i.ini" "$exec_start" "the unit's ExecStart"
read -ra cmd <<<"${exec_start//%i/$name}"
start_bg notify python3 -u "$TLSGATE_SRC/tests/e2e/notify_listener.py" "$WORK/notify.sock" "$GP"
wait_log "$WORK/notify.log" listening
# Orphaned (parent: PID 1), as under systemd; stderr as the journal.
: >"$WORK/gw.log"
NOTIFY_SOCKET=$WORK/notify.sock JOURNAL_STREAM=$(stat -c '%d:%i' "$WORK/gw.log") \
	setsid -f sh -c 'echo $$ >"$0"; cd / && exec setpriv --reuid=tlsgate --regid=tlsgate --init-groups "$@"' \
	"$WORK/gw.pid" "${cmd[@]}" >>"$WORK/gw.log" 2>&1
for _ in $(seq 50); do [ -s "$WORK/gw.pid" ] && break; sleep 0.1; done
GW=$(cat "$WORK/gw.pid")
track "$GW"
wait_log "$WORK/notify.log" 'READY=1'
assert_contains "$(grep READY=1 "$WORK/notify.log")" "port=open" "READY=1 once the listener accepts"
assert_eq tlsgate "$(ps -o user= -p "$GW")" "the gateway's user"
body=$(curl -sS --max-time 10 --cacert /var/lib/tlsgate/ca/root.crt \
	--cert /var/lib/tlsgate/ca/issued/alice.crt --key /var/lib/tlsgate/ca/issued/alice.key \
	"https://localhost:$GP/")
assert_contains "$body" '["X-Client-CN", "alice"]' "the backend learns the client's name"
code=$(curl -sS -o /dev/null -w '%{http_code}' --max-time 10 --cacert /var/lib/tlsgate/ca/root.crt \
	"https://localhost:$GP/")
assert_eq 400 "$code" "no client certificate"
pass "the unit's command line as tlsgate serves alice (and refuses a client without a certificate)"

# tlsgate-renew.service's command, with renew.conf read as systemd reads an
# EnvironmentFile: a certificate expiring soon is renewed, and the default
# hook reloads the gateway (RELOADING=1, READY=1).
as_tlsgate tlsgate cert issue soon.example --dir /var/lib/tlsgate/ca --days 10 >>"$WORK/ca.log"
renew_start=$(sed -n 's/^ExecStart=//p' /lib/systemd/system/tlsgate-renew.service)
assert_eq '/usr/bin/tlsgate cert renew --within ${TLSGATE_RENEW_WITHIN} --exec ${TLSGATE_RENEW_EXEC}' \
	"$renew_start" "the renewal unit's ExecStart"
mapfile -t renew_env < <(python3 - <<'PY'
import re
for line in open("/etc/tlsgate/renew.conf"):
    line = line.strip()
    if not line or line[0] in "#;":
        continue
    k, v = line.split("=", 1)
    if len(v) >= 2 and v[0] == v[-1] == '"':
        v = re.sub(r'\\(.)', r'\1', v[1:-1])
    print(f"{k}={v}")
PY
)
declare -A E
for kv in "${renew_env[@]}"; do E[${kv%%=*}]=${kv#*=}; done
assert_eq /var/lib/tlsgate/ca "${E[TLSGATE_DIR]}" "renew.conf's CA"
as_tlsgate env TLSGATE_DIR="${E[TLSGATE_DIR]}" /usr/bin/tlsgate cert renew \
	--within "${E[TLSGATE_RENEW_WITHIN]}" --exec "${E[TLSGATE_RENEW_EXEC]}" >"$WORK/renew.log" 2>&1 ||
	fail "the renewal failed: $(cat "$WORK/renew.log")"
assert_contains "$(cat "$WORK/renew.log")" "Renewed soon.example" "renewal"
assert_not_contains "$(cat "$WORK/renew.log")" "Renewed alice" "renewal of a certificate far from expiry"
wait_log "$WORK/notify.log" 'STATUS=serving, reloaded'
tail -n 2 "$WORK/notify.log" >"$WORK/reload.txt"
assert_contains "$(sed -n 1p "$WORK/reload.txt")" "RELOADING=1" "the hook's reload starts with RELOADING=1"
assert_contains "$(sed -n 2p "$WORK/reload.txt")" "READY=1" "the hook's reload ends with READY=1"
kill -0 "$GW" || fail "the gateway did not survive the renewal hook"
pass "the renewal unit's command renews what expires soon; its default hook reloads the gateway"

kill -TERM "$GW"
wait_log "$WORK/notify.log" STOPPING=1
for _ in $(seq 50); do kill -0 "$GW" 2>/dev/null || break; sleep 0.1; done
assert_eq "" "$(grep -v '^<[346]>' "$WORK/gw.log" || true)" "journal-style lines (a priority, no timestamp)"
assert_contains "$(cat "$WORK/gw.log")" "<6>ready: 1 worker thread" "the ready line at <6>"
pass "STOPPING=1 on SIGTERM; every line journal-style"

# --- Purge ---
rm "/etc/tlsgate/$name.ini"
dpkg --purge tlsgate >"$WORK/purge.log" 2>&1 || fail "dpkg --purge: $(cat "$WORK/purge.log")"
for f in /usr/bin/tlsgate /lib/systemd/system/tlsgate@.service /lib/systemd/system/tlsgate-renew.service \
	/lib/systemd/system/tlsgate-renew.timer /etc/tlsgate /usr/share/man/man1/tlsgate.1.gz \
	/usr/share/man/man1/tlsgate-serve.1.gz /usr/share/bash-completion/completions/tlsgate \
	/usr/share/doc/tlsgate; do
	[ ! -e "$f" ] || fail "purge left $f"
done
[ -f /var/lib/tlsgate/ca/root.crt ] || fail "purge removed the CA"
getent passwd tlsgate >/dev/null || fail "purge removed the user that owns the kept CA"
assert_contains "$(cat "$WORK/purge.log")" "kept /var/lib/tlsgate" "purge says what it kept"
pass "purge removes the package's files and /etc/tlsgate, keeps the CA in /var/lib/tlsgate and its owner"

# With no CA, a purge removes the directory and the user as well.
rm -r /var/lib/tlsgate/ca
dpkg -i "$deb" >"$WORK/dpkg-install2.log" 2>&1 || fail "dpkg -i again: $(cat "$WORK/dpkg-install2.log")"
assert_eq "tlsgate:tlsgate 750" "$(stat -c '%U:%G %a' /var/lib/tlsgate)" "/var/lib/tlsgate kept on reinstall"
dpkg --purge tlsgate >"$WORK/purge2.log" 2>&1 || fail "dpkg --purge: $(cat "$WORK/purge2.log")"
[ ! -e /var/lib/tlsgate ] || fail "purge left an empty /var/lib/tlsgate"
! getent passwd tlsgate >/dev/null || fail "purge left the tlsgate user with nothing to own"
! getent group tlsgate >/dev/null || fail "purge left the tlsgate group"
pass "purge with no CA: /var/lib/tlsgate and the tlsgate user and group are gone too"
