#!/usr/bin/env bash
# mosquitto as the oracle for `tlsgate check --mosquitto-config`
# (lib/oracle.sh): clean and broken setups, each started for real
# (mosquitto -c, as root, so it becomes its `user` mosquitto before it reads
# the files, as its service does) and tried with mosquitto_pub against the
# CA a client trusts; tlsgate check must say error exactly when the broker
# does not start or refuses the client.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
ORACLE_SERVICE=mosquitto
# shellcheck source=lib/oracle.sh
. "$TLSGATE_SRC/tests/e2e/lib/oracle.sh"

MOSQ=${MOSQ:-$(command -v mosquitto || echo /usr/sbin/mosquitto)}
[ -x "$MOSQ" ] || fail "mosquitto not installed (scripts/deps.sh test)"
command -v mosquitto_pub >/dev/null || fail "mosquitto_pub not installed (mosquitto-clients)"
[ "$(id -u)" -eq 0 ] && id mosquitto >/dev/null 2>&1 ||
	fail "run as root with a mosquitto account: the broker's drop to it is part of what is tested"
cd "$WORK"
P=$WORK/pki
oracle_pki "$P"
openssl pkey -in "$P/leaf.key" -aes256 -passout pass:s3cret -out "$P/leaf-enc.key"

# setup NAME [EXTRA_LINES]: a fresh dir $S with a mosquitto.conf whose TLS
# listener on $PORT serves cert.crt and key.key, trusts ca.crt and requires
# client certificates (unless EXTRA_LINES say otherwise; later lines win).
setup() {
	oracle_dir "$1"
	cat >"$S/mosquitto.conf" <<EOF
persistence false
allow_anonymous true
log_dest stderr
listener $PORT 127.0.0.1
certfile $S/cert.crt
keyfile $S/key.key
cafile $S/ca.crt
require_certificate true
${2:-}
EOF
	put "$P/root.crt" ca.crt
}

# served NAME KEY KEY_MODE KEY_OWNER CERT...: the CERTs (in order) with KEY.
served() {
	local name=$1 key=$2 mode=$3 owner=$4
	shift 4
	setup "$name"
	cat "$@" >"$S/cert.crt"
	put "$key" key.key "$mode" "$owner"
}

# run NAME WHAT [MOSQUITTO_PUB_ARGS...]: start the broker, publish once as
# a client to localhost, stop; then tlsgate check; one row of the table.
run() {
	local name=$1 what=$2 service why
	shift 2
	oracle_start broker "$MOSQ" -c "$S/mosquitto.conf"
	if [ "$ORACLE_UP" = 0 ]; then
		service=no-start
		why=$(grep -m1 'Error' "$S/broker.log" | sed "s/^[0-9]*: //; s|$S/||g" | cut -c1-90 || true)
	elif timeout 10 mosquitto_pub -h localhost -p "$PORT" --cafile "$P/root.crt" "$@" \
		-t oracle -m hello >"$S/pub.log" 2>&1; then
		service=works
		why="mosquitto_pub publishes"
	else
		service=refused
		why="mosquitto_pub: $(grep -m1 -v '^$' "$S/pub.log" | cut -c1-80 || true)"
	fi
	oracle_stop
	oracle_check "$name" --mosquitto-config "$S/mosquitto.conf" "${CHECK_ARGS[@]}"
	oracle_row "$name" "$what" "$service" "$why"
}

# What a client brings: its certificate (with its intermediate) and key.
CLIENT=(--cert "$P/client-chain.crt" --key "$P/client.key")
# The name clients connect to (mosquitto's config names none): --host.
CHECK_ARGS=(--ca "$P/root.crt" --no-system-ca --host localhost)
MQ=mosquitto

served clean "$P/leaf.key" 600 $MQ "$P/fullchain.crt"
run clean "leaf + intermediate, key 0600 the broker's user's" "${CLIENT[@]}"

setup swapped
put "$P/fullchain.crt" key.key 600 $MQ
put "$P/leaf.key" cert.crt 600 $MQ
run swapped "certfile and keyfile swapped" "${CLIENT[@]}"

served leaf-as-ca "$P/leaf.key" 600 $MQ "$P/fullchain.crt"
put "$P/client.crt" ca.crt
run leaf-as-ca "cafile holds the client's leaf, not its CA" "${CLIENT[@]}"

served encrypted "$P/leaf-enc.key" 600 $MQ "$P/fullchain.crt"
run encrypted "encrypted key (mosquitto has no passphrase setting)" "${CLIENT[@]}"

CHECK_ARGS=(--no-system-ca --host localhost)
served no-root-given "$P/leaf.key" 600 $MQ "$P/fullchain.crt"
run no-root-given "leaf + intermediate; the check is not given the root" "${CLIENT[@]}"
CHECK_ARGS=(--ca "$P/root.crt" --no-system-ca --host localhost)

served reversed "$P/leaf.key" 600 $MQ "$P/inter.crt" "$P/leaf.crt"
run reversed "chain reversed: intermediate first" "${CLIENT[@]}"

served no-intermediate "$P/leaf.key" 600 $MQ "$P/leaf.crt"
run no-intermediate "leaf alone, its intermediate nowhere" "${CLIENT[@]}"

served inter-in-cafile "$P/leaf.key" 600 $MQ "$P/leaf.crt"
cat "$P/root.crt" "$P/inter.crt" >"$S/ca.crt"
run inter-in-cafile "leaf alone, the intermediate in cafile (OpenSSL completes the chain)" \
	"${CLIENT[@]}"

served direct "$P/direct.key" 600 $MQ "$P/direct.crt"
run direct "a leaf the root signs itself, served alone" "${CLIENT[@]}"

served root-included "$P/leaf.key" 600 $MQ "$P/leaf.crt" "$P/inter.crt" "$P/root.crt"
run root-included "leaf + intermediate + root" "${CLIENT[@]}"

served expired "$P/expired.key" 600 $MQ "$P/expired.crt" "$P/inter.crt"
run expired "an expired leaf" "${CLIENT[@]}"

served name "$P/other.key" 600 $MQ "$P/other.crt" "$P/inter.crt"
run name "the certificate is for other.example, clients connect to localhost" "${CLIENT[@]}"

served mismatch "$P/other.key" 600 $MQ "$P/fullchain.crt"
run mismatch "the key of another certificate" "${CLIENT[@]}"

served key-root "$P/leaf.key" 600 root "$P/fullchain.crt"
run key-root "key 0600 root's: the broker, now user mosquitto, cannot read it" "${CLIENT[@]}"

served key-world "$P/leaf.key" 644 root "$P/fullchain.crt"
run key-world "key 0644 root's (anyone, mosquitto too, may read it)" "${CLIENT[@]}"

served cert-optional "$P/leaf.key" 600 $MQ "$P/fullchain.crt"
echo "require_certificate false" >>"$S/mosquitto.conf"
run cert-optional "cafile without require_certificate: a client without one"

oracle_finish 12
