#!/usr/bin/env bash
# tlsgate check endpoint --starttls xmpp against a real Prosody on loopback:
# the XMPP stream, STARTTLS and the certificate Prosody serves each domain,
# compared with what `openssl s_client -starttls xmpp` reads. A domain
# served another name's certificate is a name-mismatch; a domain with no
# certificate fails the handshake after STARTTLS; without mod_tls, and
# encryption not required, no STARTTLS is offered (no-tls); a domain Prosody
# does not serve, or a stream it ends, is refused with its stream error.
. "$(dirname "$0")/lib.sh"
. "$TLSGATE_SRC/tests/e2e/lib/pki.sh"
command -v prosody >/dev/null || { echo "SKIP: prosody not installed (scripts/deps.sh test)"; exit 77; }
id prosody >/dev/null 2>&1 || { echo "SKIP: no prosody user"; exit 77; }
cd "$WORK"

P=$WORK/pki
C=$WORK/certs
mkdir -p "$P" "$C" "$WORK/data"
chown prosody "$WORK/data"
pki_cert "$P/root" self root "/CN=xmpp e2e Root"
pki_cert "$P/inter" "$P/root" inter "/CN=xmpp e2e Inter"
pki_cert "$P/good" "$P/inter" server "/CN=good.example" "DNS:good.example"
pki_cert "$P/other" "$P/inter" server "/CN=other.example" "DNS:other.example"
# install HOST CERT: HOST.crt (leaf + intermediate) and HOST.key, root:prosody 0640
install() {
	cat "$P/$2.crt" "$P/inter.crt" >"$C/$1.crt"
	cp "$P/$2.key" "$C/$1.key"
	chown root:prosody "$C/$1.key"
	chmod 640 "$C/$1.key"
}
install good.example good
install mis.example other # Prosody serves mis.example the certificate of other.example

PORT=$(free_port)
S2S=$(free_port)
cat >"$WORK/prosody.cfg.lua" <<EOF
pidfile = "$WORK/data/prosody.pid"
data_path = "$WORK/data"
daemonize = false
log = { info = "$WORK/data/prosody.log" }
interfaces = { "127.0.0.1" }
c2s_ports = { $PORT }
c2s_direct_tls_ports = { }
s2s_ports = { $S2S }
s2s_direct_tls_ports = { }
http_ports = { }
https_ports = { }
modules_enabled = { "tls", "saslauth", "disco" }
certificates = "certs"
VirtualHost "good.example"
VirtualHost "mis.example"
VirtualHost "nocert.example"
EOF
# Prosody refuses to run as root; it runs as its own user, as packaged.
start_bg prosody timeout 120 runuser -u prosody -- prosody --config "$WORK/prosody.cfg.lua"
wait_port "$PORT" 20

# check DOMAIN: tlsgate's JSON for the domain on Prosody's client port.
check() {
	local rc=0
	"$TLSGATE" check endpoint "127.0.0.1:$PORT" --starttls xmpp --sni "$1" --ca "$P/root.crt" \
		--no-system-ca --json >"$1.json" 2>"$1.err" || rc=$?
	echo "$rc"
}
codes() { jq -r '[.subjects[].findings[] | select(.severity != "info") | .code] | unique | join(" ")' "$1.json"; }

# --- good.example: its own certificate, verified; openssl reads the same ---
assert_eq 0 "$(check good.example)" "good.example exit ($(cat good.example.err))"
assert_eq "" "$(codes good.example)" "good.example findings"
assert_eq "true TLSv1.3 2 CN=good.example good.example" \
	"$(jq -r '.subjects[0] | "\(.endpoint.tls) \(.endpoint.version) \(.certificates) \(.leaf) \(.hosts | join(","))"' good.example.json)" \
	"what tlsgate read from good.example"
ossl=$(echo | timeout 10 openssl s_client -connect "127.0.0.1:$PORT" -starttls xmpp \
	-xmpphost good.example -CAfile "$P/root.crt" -showcerts 2>&1 || true)
assert_contains "$ossl" "Verify return code: 0 (ok)" "openssl verifies what Prosody serves good.example"
assert_eq "$(openssl x509 -in "$C/good.example.crt" -noout -fingerprint -sha256 | cut -d= -f2 | tr -d :)" \
	"$(sed -n '/-----BEGIN CERTIFICATE-----/,/-----END CERTIFICATE-----/p' <<<"$ossl" |
		openssl x509 -noout -fingerprint -sha256 | cut -d= -f2 | tr -d :)" \
	"openssl reads the leaf Prosody has in certs/good.example.crt"
pass "good.example: STARTTLS over a real XMPP stream, the served chain verified, the same leaf openssl reads"

# The server-to-server port: a jabber:server stream, the same certificate.
wait_port "$S2S" 20
rc=0
"$TLSGATE" check endpoint "127.0.0.1:$S2S" --starttls xmpp-server --sni good.example \
	--ca "$P/root.crt" --no-system-ca --json >s2s.json 2>s2s.err || rc=$?
assert_eq 0 "$rc" "good.example on the s2s port ($(cat s2s.err))"
assert_eq "$(jq -r '.subjects[0].leaf' good.example.json) $(jq -r '.subjects[0].certificates' good.example.json)" \
	"$(jq -r '.subjects[0].leaf' s2s.json) $(jq -r '.subjects[0].certificates' s2s.json)" \
	"the s2s port serves the chain the client port serves"
pass "xmpp-server: STARTTLS on Prosody's server-to-server port"

# --- mis.example: served other.example's certificate ---
assert_eq 1 "$(check mis.example)" "mis.example exit"
assert_eq "name-mismatch" "$(codes mis.example)" "mis.example findings"
assert_contains "$(jq -r '.subjects[0].findings[] | select(.code == "name-mismatch") | .message' mis.example.json)" \
	"does not cover mis.example" "the mismatch names the domain"
assert_contains "$(echo | timeout 10 openssl s_client -connect "127.0.0.1:$PORT" -starttls xmpp \
	-xmpphost mis.example -CAfile "$P/root.crt" -verify_hostname mis.example 2>&1 || true)" \
	"Verify return code: 62 (hostname mismatch)" "openssl agrees: hostname mismatch"
pass "mis.example: another name's certificate is a name-mismatch, as openssl says"

# --- nocert.example: Prosody offers STARTTLS, then fails the handshake ---
expect_fail 2 "$TLSGATE" check endpoint "127.0.0.1:$PORT" --starttls xmpp --sni nocert.example \
	--ca "$P/root.crt" --no-system-ca
assert_eq "tlsgate: could not check 127.0.0.1:$PORT: the TLS handshake with 127.0.0.1:$PORT after STARTTLS failed (sslv3 alert handshake failure); Prosody does this when it has no certificate for nocert.example" \
	"$OUT" "nocert.example"
assert_contains "$(echo | timeout 10 openssl s_client -connect "127.0.0.1:$PORT" -starttls xmpp \
	-xmpphost nocert.example 2>&1 || true)" "alert handshake failure" "openssl meets the same alert"
pass "nocert.example: the failed handshake is reported with its alert, as openssl meets it"

# restart_prosody: after a config change.
restart_prosody() {
	kill "$(cat "$WORK/data/prosody.pid")"
	for _ in $(seq 50); do ss -Hltn "sport = :$PORT" | grep -q . || break; sleep 0.1; done
	start_bg "prosody$1" timeout 120 runuser -u prosody -- prosody --config "$WORK/prosody.cfg.lua"
	wait_port "$PORT" 20
}

# --- without mod_tls Prosody (requiring encryption, its default) ends the
# stream; told not to require it, it offers no STARTTLS: no-tls ---
sed -i 's/modules_enabled = { "tls", /modules_enabled = { /' "$WORK/prosody.cfg.lua"
restart_prosody 2
expect_fail 2 "$TLSGATE" check endpoint "127.0.0.1:$PORT" --starttls xmpp --sni good.example \
	--ca "$P/root.crt" --no-system-ca
assert_eq "tlsgate: could not check 127.0.0.1:$PORT: the XMPP server ended the stream to good.example: undefined-condition (No stream features to proceed with)" \
	"$OUT" "Prosody ends the stream it cannot encrypt"
# (a global option: before the first VirtualHost)
sed -i '0,/^VirtualHost/s//c2s_require_encryption = false\nVirtualHost/' "$WORK/prosody.cfg.lua"
grep -q '^c2s_require_encryption = false' "$WORK/prosody.cfg.lua" ||
	fail "c2s_require_encryption did not land in the global section"
restart_prosody 3
assert_eq 1 "$(check good.example)" "good.example without mod_tls: exit ($(cat good.example.err))"
assert_eq "no-tls" "$(codes good.example)" "good.example without mod_tls: findings"
assert_eq "127.0.0.1:$PORT offers no <starttls/> among its stream features for good.example: XMPP there stays unencrypted" \
	"$(jq -r '.subjects[0].findings[0].message' good.example.json)" "the no-tls message"
assert_eq false "$(jq -r '.subjects[0].endpoint.tls' good.example.json)" "endpoint.tls"
# What Prosody sent, read raw: its features hold SASL but no starttls.
features=$(python3 - "$PORT" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
s.sendall(b"<?xml version='1.0'?><stream:stream to='good.example' xmlns='jabber:client' "
          b"xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>")
got = b""
while b"</stream:features>" not in got:
    d = s.recv(4096)
    if not d:
        break
    got += d
print(got.decode(errors="replace"))
PY
)
assert_contains "$features" "urn:ietf:params:xml:ns:xmpp-sasl" "Prosody's features (SASL offered)"
assert_not_contains "$features" "xmpp-tls" "Prosody's features (no STARTTLS)"
pass "without mod_tls: no STARTTLS among the stream features is no-tls"

# --- refusals, exit 2 with the reason ---
expect_fail 2 "$TLSGATE" check endpoint "127.0.0.1:$PORT" --starttls xmpp --sni unknown.example \
	--ca "$P/root.crt" --no-system-ca
assert_eq "tlsgate: could not check 127.0.0.1:$PORT: the XMPP server ended the stream to unknown.example: host-unknown (This server does not serve unknown.example); give the domain it serves with --sni" \
	"$OUT" "a domain Prosody does not serve"
expect_fail 2 "$TLSGATE" check endpoint "127.0.0.1:$PORT" --starttls xmpp --no-system-ca
assert_eq "tlsgate: could not check 127.0.0.1:$PORT: --starttls xmpp opens a stream to the XMPP domain: give it with --sni (e.g. --sni example.com)" \
	"$OUT" "an address without --sni"
expect_fail 2 "$TLSGATE" check endpoint "127.0.0.1:$PORT" --no-system-ca
assert_contains "$OUT" "for XMPP (5222, 5269) --starttls xmpp or xmpp-server" "plain TLS to an XMPP port says what to add"
expect_fail 2 "$TLSGATE" check endpoint "127.0.0.1:$PORT" --starttls smtp
assert_contains "$OUT" "--starttls 'smtp': give postgres, xmpp (client port 5222) or xmpp-server (port 5269)" \
	"an unknown protocol"
pass "an unknown domain, a missing --sni, plain TLS and an unknown protocol are refused with the reason"
