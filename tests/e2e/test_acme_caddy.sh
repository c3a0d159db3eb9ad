#!/usr/bin/env bash
# Caddy (the Debian package) gets its certificate by itself from `tlsgate
# acme serve`: acme_ca and acme_ca_root point at the server and its root,
# Caddy's http and https ports are free ports the server validates on; curl
# then verifies what Caddy serves against the CA's root, and the served leaf
# is the one the inventory and `acme orders` hold.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=lib/acme.sh
. "$TLSGATE_SRC/tests/e2e/lib/acme.sh"
command -v caddy >/dev/null || { echo "SKIP: caddy not installed (scripts/deps.sh test)"; exit 77; }
cd "$WORK"

acme_ca
HTTP=$(free_port)
HTTPS=$(free_port)
ADMIN=$(free_port)
start_acme acme --http01-port "$HTTP" --tlsalpn01-port "$HTTPS" --resolve web.example.test=127.0.0.1
mkdir -p caddy/data caddy/config
cat >Caddyfile <<CFG
{
	acme_ca $ACME_DIR
	acme_ca_root $WORK/pki/root.crt
	email ops@example.test
	http_port $HTTP
	https_port $HTTPS
	default_bind 127.0.0.1
	admin 127.0.0.1:$ADMIN
	storage file_system $WORK/caddy/data
	skip_install_trust
}
web.example.test {
	respond "hello from caddy"
}
CFG
HOME=$WORK/caddy XDG_DATA_HOME=$WORK/caddy/data XDG_CONFIG_HOME=$WORK/caddy/config \
	start_bg caddy timeout 300 caddy run --config "$WORK/Caddyfile" --adapter caddyfile

# Caddy obtains the certificate in the background; curl succeeds once it has.
deadline=$((SECONDS + 90))
until body=$(curl -sS --max-time 5 --cacert pki/root.crt --resolve "web.example.test:$HTTPS:127.0.0.1" \
	"https://web.example.test:$HTTPS/" 2>curl.err); do
	((SECONDS < deadline)) || fail "Caddy did not serve a certificate that verifies: $(cat curl.err)"
	sleep 1
done
assert_eq "hello from caddy" "$body" "what Caddy serves"
served=$(echo | timeout 10 openssl s_client -connect "127.0.0.1:$HTTPS" -servername web.example.test \
	-CAfile pki/root.crt 2>/dev/null | openssl x509 -noout -serial | cut -d= -f2)
[ -n "$served" ] || fail "no certificate read from Caddy"
orders=$(tg acme orders --dir pki --json)
assert_eq "valid web.example.test" \
	"$(jq -r --arg s "$served" '.[] | select(.serial == $s) | "\(.status) \(.identifiers[0].value)"' <<<"$orders")" \
	"the order of the certificate Caddy serves"
assert_eq "valid" "$(tg cert list --dir pki --json | jq -r --arg s "$served" '.[] | select(.serial == $s) | .status')" \
	"the inventory row of $served"
grep -Eq "(http-01|tls-alpn-01) dns:web.example.test for account .*: valid" acme.log ||
	fail "no validation of web.example.test in the server's log"
pass "Caddy obtained $served from acme serve by itself; curl verifies it against the root"
