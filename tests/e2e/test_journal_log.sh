#!/usr/bin/env bash
# When stderr is the systemd journal ($JOURNAL_STREAM names stderr's device
# and inode), log lines carry no timestamp of their own and start with their
# syslog priority: <6> info, <4> warnings, <3> errors. Anywhere else (a file,
# a terminal, or a JOURNAL_STREAM that names another file) they are as always.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib/pki.sh"

mkdir -p "$WORK/ca"
pki_cert "$WORK/ca"/ca self root "/CN=Journal CA"
# Expired: loading it logs a warning, and the gateway still serves.
pki_cert "$WORK/server" "$WORK/ca"/ca server "/CN=localhost" "DNS:localhost" "-30 days" "-1 day"
BP=$(free_port)
start_echo_backend "$BP"
gw_ini() { # PORT
	cat >"$WORK/gw-$1.ini" <<INI
[global]
workers = 1
[listener web]
listen = 127.0.0.1:$1
target = 127.0.0.1:$BP
cert = $WORK/server.crt
key = $WORK/server.key
INI
}
stream_of() { stat -c '%d:%i' "$1"; }

# stderr is the journal.
GP=$(free_port); gw_ini "$GP"
: >"$WORK/journal.log"
JOURNAL_STREAM=$(stream_of "$WORK/journal.log") timeout 60 "$TLSGATE" serve --config "$WORK/gw-$GP.ini" \
	2>>"$WORK/journal.log" &
GW=$!
track "$GW"
wait_log "$WORK/journal.log" "ready: 1 worker thread"
echo "verify = sometimes" >>"$WORK/gw-$GP.ini"
kill -HUP "$GW"
wait_log "$WORK/journal.log" "reload failed"
kill -TERM "$GW"; wait "$GW" 2>/dev/null || true
log=$(cat "$WORK/journal.log")
assert_contains "$log" $'\n<6>ready: 1 worker thread' "info at <6>, no timestamp"
assert_contains "$log" "<4>warning: certificate $WORK/server.crt expired" "a warning at <4>"
assert_contains "$log" "<3>reload failed, still serving the previous configuration: " "an error at <3>"
assert_not_contains "$log" "Z tlsgate[" "no timestamp or process name of its own"
bad=$(grep -v '^<[346]>' "$WORK/journal.log" || true)
assert_eq "" "$bad" "every line starts with a priority"
pass "stderr as the journal: priorities <6>, <4>, <3>, no timestamps"

# A command that fails at once: its error at <3> too.
: >"$WORK/fail.log"
rc=0
JOURNAL_STREAM=$(stream_of "$WORK/fail.log") "$TLSGATE" serve --config "$WORK/gw-$GP.ini" \
	2>>"$WORK/fail.log" || rc=$?
assert_eq 1 "$rc" "a broken config at start"
assert_contains "$(cat "$WORK/fail.log")" "<3>tlsgate: error: " "the startup error at <3>"
assert_contains "$(cat "$WORK/fail.log")" "sometimes" "the startup error names the bad value"
pass "a startup error under the journal: <3>"

# A plain file, and a JOURNAL_STREAM naming another file (stderr redirected
# away from the journal): lines as always.
for how in none other; do
	GP=$(free_port); gw_ini "$GP"
	: >"$WORK/plain-$how.log"
	env=(-u JOURNAL_STREAM)
	[ "$how" = other ] && env=(JOURNAL_STREAM="$(stream_of "$WORK/journal.log")")
	env "${env[@]}" timeout 60 "$TLSGATE" serve --config "$WORK/gw-$GP.ini" 2>>"$WORK/plain-$how.log" &
	GW=$!
	track "$GW"
	wait_log "$WORK/plain-$how.log" "ready: 1 worker thread"
	kill -TERM "$GW"; wait "$GW" 2>/dev/null || true
	log=$(cat "$WORK/plain-$how.log")
	assert_not_contains "$log" "<6>" "JOURNAL_STREAM=$how: no priorities"
	bad=$(grep -Ev '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]{12}Z tlsgate\[[0-9]+\]: ' "$WORK/plain-$how.log" || true)
	assert_eq "" "$bad" "JOURNAL_STREAM=$how: every line starts with its time and process"
	assert_contains "$log" "]: warning: certificate $WORK/server.crt expired" "JOURNAL_STREAM=$how: the warning"
done
pass "in a file, or with JOURNAL_STREAM naming another file: lines unchanged"
