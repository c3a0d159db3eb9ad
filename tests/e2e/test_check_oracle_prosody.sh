#!/usr/bin/env bash
# Prosody as the oracle for `tlsgate check --prosody-config` (lib/oracle.sh):
# clean and broken setups, each started for real (prosody -F as the
# prosody account, as its systemd unit runs it, on loopback with a data dir
# of its own) and tried with `openssl s_client -starttls xmpp` on the
# client port, verifying the chain and the domain against the CA a client
# trusts, and with curl on the https port where the setup has one;
# tlsgate check must say error exactly when Prosody fails to serve them.
# What `prosodyctl check certs` says about the same config is recorded
# beside it.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
ORACLE_SERVICE=prosody
# shellcheck source=lib/oracle.sh
. "$TLSGATE_SRC/tests/e2e/lib/oracle.sh"

command -v prosody >/dev/null || fail "prosody not installed (scripts/deps.sh test)"
[ "$(id -u)" -eq 0 ] && id prosody >/dev/null 2>&1 ||
	fail "run as root with a prosody account: what that account may read is part of what is tested"
cd "$WORK"
P=$WORK/pki
oracle_pki "$P"
openssl pkey -in "$P/leaf.key" -aes256 -passout pass:s3cret -out "$P/leaf-enc.key"
DOMAIN=a.example
# Prosody may take a while to load its modules on a busy machine.
ORACLE_WAIT=400

# setup NAME [GLOBAL_LINES] [HOST_LINES]: a fresh dir $S with a Prosody
# config serving $DOMAIN on the client port $PORT (STARTTLS required, as
# Prosody's default), the certs dir $S/certs, files named by ssl tables in
# $S/tls, and an https port (mod_bosh's) when GLOBAL_LINES name @HTTPS@,
# which becomes its number, $HTTPS.
setup() {
	oracle_dir "$1"
	mkdir -p "$S/certs" "$S/tls" "$S/data"
	chown prosody "$S/data"
	local global=${2:-} mods='"tls", "saslauth", "disco"'
	HTTPS=
	case "$global" in *@HTTPS@*)
		HTTPS=$(free_port)
		global=${global//@HTTPS@/$HTTPS}
		mods="$mods, \"bosh\""
		;;
	esac
	cat >"$S/prosody.cfg.lua" <<EOF
pidfile = "$S/data/prosody.pid"
data_path = "$S/data"
log = { info = "$S/data/xmpp.log" }
interfaces = { "127.0.0.1" }
https_interfaces = { "127.0.0.1" }
c2s_ports = { $PORT }
c2s_direct_tls_ports = { }
s2s_ports = { }
s2s_direct_tls_ports = { }
http_ports = { }
https_ports = { $HTTPS }
modules_enabled = { $mods }
certificates = "certs"
$global
VirtualHost "$DOMAIN"
${3:-}
EOF
}

# in_certs SRC NAME MODE [OWNER]: a file of the certs dir, root:prosody as
# `prosodyctl cert import` leaves it unless OWNER says otherwise; in_tls
# the same in $S/tls.
in_certs() { install -m "$3" -o "${4%%:*}" -g "${4#*:}" "$1" "$S/certs/$2"; }
in_tls() { install -m "$3" -o "${4%%:*}" -g "${4#*:}" "$1" "$S/tls/$2"; }

# served NAME KEY KEY_MODE KEY_OWNER CERT...: certs/$DOMAIN.crt from the
# CERTs (in order), certs/$DOMAIN.key from KEY.
served() {
	local name=$1 key=$2 mode=$3 owner=$4
	shift 4
	setup "$name"
	cat "$@" >"$WORK/chain.tmp"
	in_certs "$WORK/chain.tmp" "$DOMAIN.crt" 644 root:root
	in_certs "$key" "$DOMAIN.key" "$mode" "$owner"
}

# xmpp_client: STARTTLS on the client port, the chain verified to the root
# and the certificate to $DOMAIN.
xmpp_client() {
	echo | timeout 20 openssl s_client -connect "127.0.0.1:$PORT" -starttls xmpp \
		-xmpphost "$DOMAIN" -CAfile "$P/root.crt" -verify_hostname "$DOMAIN" \
		-verify_return_error >"$S/s_client.log" 2>&1 &&
		grep -q 'Verify return code: 0 (ok)' "$S/s_client.log"
}

# https_client: curl to the https port by address (no SNI: the port's own
# certificate, https_certificate, is what it meets).
https_client() {
	timeout 20 curl -sS -o /dev/null --cacert "$P/root.crt" "https://127.0.0.1:$HTTPS/" \
		>"$S/curl.log" 2>&1
}

# What went wrong, in a line: s_client's verify error, else that no
# handshake happened, and the error Prosody logged.
client_why() {
	local line
	line=$(grep -m1 -E 'verify error' "$S/s_client.log" || echo "no handshake")
	echo "s_client: ${line#verify error:}"
}

prosody_why() {
	grep -m1 -P '\terror\t' "$S/data/xmpp.log" | sed -E 's/^.*\terror\t//; s|'"$S"'/||g' | cut -c1-90 || true
}

# prosodyctl check certs on the same config: "ok" or its first complaint.
prosodyctl_says() {
	timeout 120 prosodyctl --config "$S/prosody.cfg.lua" check certs >"$S/prosodyctl.log" 2>&1 || true
	if grep -q 'All checks passed' "$S/prosodyctl.log"; then
		echo ok
	else
		awk '/^Checking certificate for /{on = 1; next} on && /^  / && !/^  Certificate: /' \
			"$S/prosodyctl.log" | head -n 1 | sed 's/^ *//; s|'"$S"'/||g' | cut -c1-60
	fi
}

# run NAME WHAT: start Prosody as its account, try the clients, stop it;
# then tlsgate check on the same config; one row of the table.
run() {
	local name=$1 what=$2 service why
	chmod 644 "$S/prosody.cfg.lua"
	oracle_start prosody runuser -u prosody -- prosody -F --config "$S/prosody.cfg.lua"
	if [ "$ORACLE_UP" = 0 ]; then
		service=no-start
		why=$(prosody_why)
	elif ! xmpp_client; then
		service=refused
		why="$(client_why)$(w=$(prosody_why) && [ -n "$w" ] && echo "; prosody: $w" || true)"
	elif [ -n "$HTTPS" ] && ! https_client; then
		service=refused
		why="curl https: $(grep -m1 . "$S/curl.log" | sed 's/^curl: ([0-9]*) //; s/port [0-9]*/the https port/' | cut -c1-70)"
	else
		service=works
		why="s_client verifies $DOMAIN${HTTPS:+, curl gets through on https}"
	fi
	oracle_stop
	why="$why; prosodyctl: $(prosodyctl_says)"
	oracle_check "$name" --prosody-config "$S/prosody.cfg.lua" "${CHECK_ARGS[@]}"
	oracle_row "$name" "$what" "$service" "$why"
}

CHECK_ARGS=(--ca "$P/root.crt" --no-system-ca)
RP=root:prosody # how `prosodyctl cert import` leaves a key: 0640 root:prosody

served clean "$P/leaf.key" 640 $RP "$P/fullchain.crt"
run clean "certs/$DOMAIN.crt leaf + intermediate, key 0640 root:prosody"

CHECK_ARGS=(--no-system-ca)
served no-root-given "$P/leaf.key" 640 $RP "$P/fullchain.crt"
run no-root-given "leaf + intermediate; the check is not given the private root"

served no-intermediate-no-root-given "$P/leaf.key" 640 $RP "$P/leaf.crt"
run no-intermediate-no-root-given "leaf alone; the check is not given the root either"
CHECK_ARGS=(--ca "$P/root.crt" --no-system-ca)

served no-intermediate "$P/leaf.key" 640 $RP "$P/leaf.crt"
run no-intermediate "leaf alone, its intermediate missing"

setup swapped "" "ssl = { certificate = \"tls/leaf.key\"; key = \"tls/leaf.crt\" }"
in_tls "$P/fullchain.crt" leaf.crt 644 root:root
in_tls "$P/leaf.key" leaf.key 640 $RP
run swapped "ssl table with certificate and key swapped"

setup password "" "ssl = { certificate = \"tls/leaf.crt\"; key = \"tls/leaf.key\"; password = \"s3cret\" }"
in_tls "$P/fullchain.crt" leaf.crt 644 root:root
in_tls "$P/leaf-enc.key" leaf.key 640 $RP
run password "encrypted key, its passphrase in the ssl table's password"

setup password-wrong "" "ssl = { certificate = \"tls/leaf.crt\"; key = \"tls/leaf.key\"; password = \"wrong\" }"
in_tls "$P/fullchain.crt" leaf.crt 644 root:root
in_tls "$P/leaf-enc.key" leaf.key 640 $RP
run password-wrong "encrypted key, a wrong password in the ssl table"

served encrypted "$P/leaf-enc.key" 640 $RP "$P/fullchain.crt"
run encrypted "encrypted key, no ssl password"

served reversed "$P/leaf.key" 640 $RP "$P/inter.crt" "$P/leaf.crt"
run reversed "chain reversed: intermediate first"

served expired "$P/expired.key" 640 $RP "$P/expired.crt" "$P/inter.crt"
run expired "an expired leaf"

served name "$P/other.key" 640 $RP "$P/other.crt" "$P/inter.crt"
run name "certs/$DOMAIN.crt is for other.example"

served mismatch "$P/other.key" 640 $RP "$P/fullchain.crt"
run mismatch "the key of another certificate"

served key-root "$P/leaf.key" 600 root:root "$P/fullchain.crt"
run key-root "key 0600 root's: the prosody account cannot read it"

served key-world "$P/leaf.key" 644 root:root "$P/fullchain.crt"
run key-world "key 0644 root's (anyone, prosody too, may read it)"

served key-prosody "$P/leaf.key" 600 prosody:prosody "$P/fullchain.crt"
run key-prosody "key 0600 prosody's own"

# The https port's own certificate, per port. Prosody 0.12 uses it only
# when its certs dir holds no certificate (find_service_cert looks there
# first), so the host's files are named by an ssl table here.
# https_setup NAME CERT KEY
https_setup() {
	setup "$1" "https_certificate = { [@HTTPS@] = \"tls/https.crt\" }" \
		"ssl = { certificate = \"tls/leaf.crt\"; key = \"tls/leaf.key\" }"
	in_tls "$P/fullchain.crt" leaf.crt 644 root:root
	in_tls "$P/leaf.key" leaf.key 640 $RP
	cat "$2" "$P/inter.crt" >"$WORK/chain.tmp"
	in_tls "$WORK/chain.tmp" https.crt 644 root:root
	in_tls "$3" https.key 640 $RP
}

https_setup https-port "$P/leaf.crt" "$P/leaf.key"
run https-port "https_certificate for the https port: leaf + intermediate"

https_setup https-port-expired "$P/expired.crt" "$P/expired.key"
run https-port-expired "https_certificate for the https port: an expired leaf"

https_setup https-port-mismatch "$P/leaf.crt" "$P/other.key"
run https-port-mismatch "https_certificate for the https port: the key of another certificate"

# With a certificate in the certs dir, Prosody serves that on the https
# port and never opens the one https_certificate names.
https_setup https-port-shadowed "$P/expired.crt" "$P/expired.key"
cat "$P/leaf.crt" "$P/inter.crt" >"$WORK/chain.tmp"
in_certs "$WORK/chain.tmp" "$DOMAIN.crt" 644 root:root
in_certs "$P/leaf.key" "$DOMAIN.key" 640 $RP
run https-port-shadowed "https_certificate names an expired leaf; the certs dir holds a good one"

oracle_finish 12
