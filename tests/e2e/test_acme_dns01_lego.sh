#!/usr/bin/env bash
# lego against `tlsgate acme serve --dns-resolver`: dns-01 through a real
# DNS server on loopback (dnsmasq, its TXT records set by lego's exec
# provider), for a wildcard and its base name in one order. The
# certificate holds exactly *.x.example.internal and x.example.internal, is
# in the inventory, and openssl verifies it for a name under the wildcard.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=lib/acme.sh
. "$TLSGATE_SRC/tests/e2e/lib/acme.sh"
# shellcheck source=lib/dnsmasq.sh
. "$TLSGATE_SRC/tests/e2e/lib/dnsmasq.sh"
command -v lego >/dev/null || { echo "SKIP: lego not installed (scripts/deps.sh test)"; exit 77; }
[ -x "$DNSMASQ" ] || { echo "SKIP: dnsmasq not installed (dnsmasq-base)"; exit 77; }
cd "$WORK"

acme_ca
dns_start
start_acme acme --allow-domain example.internal --dns-resolver "127.0.0.1:$DNS_PORT"
cat >dns-hook <<HOOK
#!/usr/bin/env bash
exec bash "$TLSGATE_SRC/tests/e2e/lib/dnsmasq.sh" "$DNS_DIR" "$DNS_PORT" "\$@"
HOOK
chmod +x dns-hook
export LEGO_CA_CERTIFICATES=$WORK/pki/root.crt EXEC_PATH=$WORK/dns-hook
export EXEC_PROPAGATION_TIMEOUT=30 EXEC_POLLING_INTERVAL=1
before=$(tg cert list --dir pki --json | jq length)

timeout 180 lego --server "$ACME_DIR" --accept-tos --email ops@example.test --path "$WORK/lego" \
	--dns exec --dns.resolvers "127.0.0.1:$DNS_PORT" --dns.disable-cp \
	-d '*.x.example.internal' -d x.example.internal run >lego.log 2>&1 ||
	fail "lego dns-01: $(tail -5 lego.log)"
crt=lego/certificates/_.x.example.internal.crt
[ -s "$crt" ] || fail "lego wrote no certificate ($(ls lego/certificates))"
sans=$(openssl x509 -in "$crt" -noout -ext subjectAltName | tail -n +2 | tr -d ' ')
assert_eq "DNS:*.x.example.internal,DNS:x.example.internal" "$sans" "the certificate's names"
out=$(openssl verify -CAfile pki/root.crt -untrusted lego/certificates/_.x.example.internal.issuer.crt \
	-verify_hostname a.x.example.internal -purpose sslserver "$crt" 2>&1) ||
	fail "openssl verify for a.x.example.internal: $out"
serial=$(openssl x509 -in "$crt" -noout -serial | cut -d= -f2)
assert_eq valid "$(tg cert list --dir pki --json | jq -r --arg s "$serial" '.[] | select(.serial == $s) | .status')" \
	"the certificate in the inventory"
assert_eq "$((before + 1))" "$(tg cert list --dir pki --json | jq length)" "certificates issued"
# Two validations, both dns-01 at the one TXT name; the wildcard's
# authorization is for the base name.
assert_eq 2 "$(grep -c 'dns-01 dns:.*x.example.internal for account .*: valid' acme.log)" \
	"dns-01 validations logged"
grep -q 'dns-01 dns:\*.x.example.internal' acme.log || fail "no wildcard validation logged"
grep -q '_acme-challenge.x.example.internal' dns/dnsmasq.log || fail "dnsmasq was not asked"
# lego's cleanup removed its records.
assert_eq "" "$(cat dns/records)" "TXT records after lego's cleanup"
pass "lego dns-01: *.x.example.internal and x.example.internal issued ($serial) through dnsmasq"
