#!/usr/bin/env bash
# `cert list` says what the clock says: a certificate that expired a year ago
# is expired, one whose validity starts next month is not-yet-valid, a
# revoked one revoked, the rest valid; --json says the same; --expiring
# lists the expired one with that status and leaves the others out.
# Certificates with past and future dates come from faketime.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
command -v faketime >/dev/null || fail "no faketime (apt-get install faketime)"
command -v jq >/dev/null || fail "no jq (apt-get install jq)"
cd "$WORK"

faketime -f '-800d' "$TLSGATE" ca init --dir ca >/dev/null
faketime -f '-800d' "$TLSGATE" cert issue old.example --dir ca --days 365 >/dev/null
faketime -f '+30d' "$TLSGATE" cert issue future.example --dir ca >/dev/null
tg cert issue now.example --dir ca >/dev/null
tg cert issue gone.example --dir ca >/dev/null
tg cert revoke --cert ca/issued/gone.example.crt --dir ca >/dev/null
# The certificates are what their names say (openssl's clock is the real one).
openssl x509 -in ca/issued/old.example.crt -noout -checkend 0 >/dev/null && fail "old.example is not expired"

status_in_table() { # NAME: the STATUS column of NAME's row
	tg cert list --dir ca "${@:2}" | awk -v n="$1" '$NF == n || $(NF-1) == n { print $2 }'
}

assert_eq expired "$(status_in_table old.example)" "table: old.example"
assert_eq not-yet-valid "$(status_in_table future.example)" "table: future.example"
assert_eq valid "$(status_in_table now.example)" "table: now.example"
assert_eq revoked "$(status_in_table gone.example)" "table: gone.example"
assert_eq "valid expired not-yet-valid valid revoked" \
	"$(tg cert list --dir ca --json | jq -r 'map(.status) | join(" ")')" "--json statuses"
pass "cert list and --json: expired, not-yet-valid, valid, revoked"

out=$(tg cert list --dir ca --expiring 30d)
assert_contains "$out" "expired" "--expiring 30d"
assert_contains "$out" "old.example" "--expiring 30d lists the expired certificate"
assert_not_contains "$out" "now.example" "--expiring 30d"
assert_not_contains "$out" "gone.example" "--expiring 30d"
assert_not_contains "$out" " valid " "--expiring 30d calls nothing valid"
assert_eq "old.example expired" \
	"$(tg cert list --dir ca --expiring 30d --json | jq -r '.[] | .cn + " " + .status')" "--expiring --json"
pass "--expiring agrees: the expired certificate, shown as expired"
