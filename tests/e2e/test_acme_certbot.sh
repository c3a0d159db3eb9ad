#!/usr/bin/env bash
# certbot (the Debian package) against `tlsgate acme serve`: certonly
# --standalone and --webroot on loopback, then renew --force-renewal with a
# deploy hook that runs `tlsgate cert import` into a Prosody certs dir;
# `prosodyctl check certs` passes and a real Prosody serves the renewed
# certificate. Each issuance is in the inventory with the account that got
# it (`acme orders`), and the chain verifies against the CA's root.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=lib/acme.sh
. "$TLSGATE_SRC/tests/e2e/lib/acme.sh"
command -v certbot >/dev/null || { echo "SKIP: certbot not installed (scripts/deps.sh test)"; exit 77; }
cd "$WORK"

acme_ca
HTTP01=$(free_port)
start_acme acme --http01-port "$HTTP01" --resolve web.example.test=127.0.0.1 \
	--resolve www.example.test=127.0.0.1
export REQUESTS_CA_BUNDLE=$WORK/pki/root.crt
CB=(--server "$ACME_DIR" --config-dir "$WORK/cb/conf" --work-dir "$WORK/cb/work"
	--logs-dir "$WORK/cb/logs" --non-interactive --agree-tos -m admin@example.test)
# certbot's own log, for the failure dump.
on_exit cp -f "$WORK/cb/logs/letsencrypt.log" "$WORK/certbot.log"

serial_of() { openssl x509 -in "$1" -noout -serial | cut -d= -f2; }
fp_of() { openssl x509 -in "$1" -noout -fingerprint -sha256 | cut -d= -f2; }

# verify LIVE HOST: the full chain verifies for HOST against the root alone.
verify_live() {
	local out
	out=$(openssl verify -CAfile pki/root.crt -untrusted "$1/chain.pem" -verify_hostname "$2" \
		-purpose sslserver "$1/cert.pem" 2>&1) || fail "openssl verify $1: $out"
}

# --- certonly --standalone: certbot answers http-01 on its own port ---
timeout 180 certbot certonly "${CB[@]}" --standalone --http-01-port "$HTTP01" \
	-d web.example.test >certbot-standalone.log 2>&1 || fail "certbot --standalone failed: $(tail -5 certbot-standalone.log)"
LIVE=$WORK/cb/conf/live/web.example.test
verify_live "$LIVE" web.example.test
S1=$(serial_of "$LIVE/cert.pem")
orders=$(tg acme orders --dir pki --json)
assert_eq "valid" "$(jq -r --arg s "$S1" '.[] | select(.serial == $s) | .status' <<<"$orders")" \
	"the order of $S1"
acct=$(jq -r --arg s "$S1" '.[] | select(.serial == $s) | .account' <<<"$orders")
assert_eq "$acct" "$(tg acme accounts --dir pki --json | jq -r '.[0].id')" "account that got $S1"
assert_eq "valid server DNS:web.example.test" \
	"$(tg cert list --dir pki --json | jq -r --arg s "$S1" '.[] | select(.serial == $s) | "\(.status) \(.profile) \(.sans | join(","))"')" \
	"inventory row of $S1"
wait_log "$WORK/acme.log" "issued $S1 to account $acct"
pass "certbot --standalone: issued $S1, recorded with account $acct, chain verifies"

# --- certonly --webroot: the challenge file served by python's http.server ---
mkdir -p webroot
start_bg webroot python3 -m http.server "$HTTP01" --bind 127.0.0.1 --directory "$WORK/webroot"
WEBROOT_PID=$BG_PID
wait_port "$HTTP01"
timeout 180 certbot certonly "${CB[@]}" --webroot -w "$WORK/webroot" -d www.example.test \
	>certbot-webroot.log 2>&1 || fail "certbot --webroot failed: $(tail -5 certbot-webroot.log)"
verify_live "$WORK/cb/conf/live/www.example.test" www.example.test
grep -q "GET /.well-known/acme-challenge/" "$WORK/webroot.log" ||
	fail "the server never fetched the challenge from the webroot"
kill "$WEBROOT_PID"
wait "$WEBROOT_PID" 2>/dev/null || true
pass "certbot --webroot: the challenge fetched from the webroot, certificate verifies"

# --- renew --force-renewal with a deploy hook into a Prosody certs dir ---
command -v prosodyctl >/dev/null && id prosody >/dev/null 2>&1 ||
	{ echo "SKIP: prosody not installed: renewal into Prosody not checked"; exit 77; }
mkdir -p certs data
chown prosody data
HOOK="$TLSGATE cert import --certs-dir $WORK/certs --owner root:prosody --ca $WORK/pki/root.crt"
timeout 180 certbot renew "${CB[@]}" --cert-name web.example.test --force-renewal \
	--no-random-sleep-on-renew --deploy-hook "$HOOK" >certbot-renew.log 2>&1 || fail "certbot renew failed: $(tail -5 certbot-renew.log)"
S2=$(serial_of "$LIVE/cert.pem")
[ "$S2" != "$S1" ] || fail "renew kept the old certificate $S1"
assert_eq "$(fp_of "$LIVE/cert.pem")" "$(fp_of certs/web.example.test.crt)" \
	"the deploy hook put the renewed certificate into certs/"
assert_eq "root:prosody 640" "$(stat -c '%U:%G %a' certs/web.example.test.key)" "key owner and mode"
assert_eq "2" "$(tg acme orders --dir pki --json | jq --arg a "$acct" '[.[] | select(.account == $a and .status == "valid" and .identifiers[0].value == "web.example.test")] | length')" \
	"orders of web.example.test by $acct"

C2S=$(free_port)
cat >prosody.cfg.lua <<CFG
pidfile = "$WORK/data/prosody.pid"
data_path = "$WORK/data"
daemonize = false
log = { info = "$WORK/data/prosody.log" }
interfaces = { "127.0.0.1" }
c2s_ports = { $C2S }
c2s_direct_tls_ports = { }
s2s_ports = { }
s2s_direct_tls_ports = { }
http_ports = { }
https_ports = { }
modules_enabled = { "tls", "saslauth", "disco" }
certificates = "certs"
VirtualHost "web.example.test"
CFG
out=$(timeout 120 prosodyctl --config "$WORK/prosody.cfg.lua" check certs 2>&1) ||
	fail "prosodyctl check certs: $out"
assert_not_contains "$out" "not valid" "prosodyctl check certs"
assert_contains "$out" "All checks passed" "prosodyctl check certs"
assert_contains "$out" "Certificate: $WORK/certs/web.example.test.crt" "prosodyctl found the imported certificate"
start_bg prosody timeout 120 runuser -u prosody -- prosody --config "$WORK/prosody.cfg.lua"
wait_port "$C2S" 20
served=$(echo | timeout 10 openssl s_client -connect "127.0.0.1:$C2S" -starttls xmpp \
	-xmpphost web.example.test -CAfile pki/root.crt 2>&1 || true)
assert_contains "$served" "Verify return code: 0 (ok)" "Prosody's chain verifies against the root"
assert_eq "$(fp_of "$LIVE/cert.pem")" \
	"$(sed -n '/-----BEGIN CERTIFICATE-----/,/-----END CERTIFICATE-----/p' <<<"$served" | fp_of /dev/stdin)" \
	"Prosody serves the renewed certificate"
pass "certbot renew --force-renewal: $S2 imported by the deploy hook, prosodyctl check certs passes, Prosody serves it"
