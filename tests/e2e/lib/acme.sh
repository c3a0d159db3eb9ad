# shellcheck shell=bash
# The ACME server for the e2e tests, sourced after lib.sh:
#   acme_ca [ca init options]   a CA with an intermediate in $WORK/pki
#   start_acme NAME [acme serve options]   `tlsgate acme serve` on a free port
#                  (or on $ACME_PORT_WANT)
#                  (name localhost, example.test allowed), log in $WORK/NAME.log;
#                  sets ACME_PORT, ACME_DIR (the directory URL), ACME_PID
#   start_acme_pair NAME...   two servers for the refusal tests, acme-a and
#                  acme-b (--eab-required), one http-01 port, NAME.example.test
#                  resolved to loopback; sets HTTP01, A_PORT, B_PORT
#   assert_eab_bound KID   the account EAB key KID bound is the account that
#                  names it
#   need_pyacme    sets PY to the Debian python3 with python3-acme (the one
#                  first in PATH may lack it), or skips the test
#   acme_state     accounts, orders and certificates as JSON, for "nothing changed"
#   hold NAME PORT MODE N SRC [WAIT]   acme_hold.py's N silent connections
#                  (MODE tcp, tls, req, part) from SRC in the background,
#                  checked all opened (within WAIT s, default 15)
#   closed NAME    how many of them the server closed (waits for the holder)
# The server trusts nothing but its own CA; clients are pointed at
# $WORK/pki/root.crt (REQUESTS_CA_BUNDLE, LEGO_CA_CERTIFICATES, acme_ca_root).

acme_ca() {
	tg ca init --dir "$WORK/pki" --name "ACME e2e Root" --intermediate "$@" >/dev/null
}

start_acme() {
	local name=$1
	shift
	ACME_PORT=${ACME_PORT_WANT:-$(free_port)}
	start_bg "$name" timeout 600 "$TLSGATE" acme serve --dir "$WORK/pki" \
		--listen "127.0.0.1:$ACME_PORT" --name localhost --allow-domain example.test "$@"
	ACME_PID=$BG_PID
	wait_port "$ACME_PORT" 20
	ACME_DIR="https://localhost:$ACME_PORT/directory"
	curl -sS --max-time 5 --cacert "$WORK/pki/root.crt" "$ACME_DIR" >/dev/null ||
		fail "the ACME directory $ACME_DIR does not answer over TLS with the CA's root"
}

start_acme_pair() {
	local n resolve=()
	HTTP01=$(free_port)
	for n in "$@"; do
		resolve+=(--resolve "$n.example.test=127.0.0.1")
	done
	start_acme acme-a --http01-port "$HTTP01" "${resolve[@]}"
	A_PORT=$ACME_PORT
	start_acme acme-b --http01-port "$HTTP01" --eab-required "${resolve[@]}"
	B_PORT=$ACME_PORT
}

assert_eab_bound() {
	local bound
	bound=$(tg acme eab list --dir "$WORK/pki" --json | jq -r --arg k "$1" '.[] | select(.kid == $k) | .account')
	assert_eq "$bound" "$(tg acme accounts --dir "$WORK/pki" --json | jq -r --arg k "$1" '.[] | select(.eab_kid == $k) | .id')" \
		"the account EAB key $1 bound"
}

need_pyacme() {
	PY=/usr/bin/python3
	"$PY" -c 'import acme.client, josepy' 2>/dev/null ||
		{ echo "SKIP: python3-acme not installed (scripts/deps.sh test)"; exit 77; }
}

acme_state() {
	tg acme accounts --dir "$WORK/pki" --json
	tg acme orders --dir "$WORK/pki" --json
	tg cert list --dir "$WORK/pki" --json
}

hold() {
	local name=$1 port=$2 mode=$3 n=$4 src=$5 wait=${6:-15}
	rm -f "$WORK/$name.status"
	start_bg "$name" python3 "$TLSGATE_SRC/tests/e2e/acme_hold.py" "$port" "$mode" "$n" "$src" \
		"$WORK/pki/root.crt" $((wait + 10)) "$WORK/$name.status"
	wait_log "$WORK/$name.status" "^opened" "$wait"
	assert_eq "opened $n" "$(head -n1 "$WORK/$name.status")" "$name: connections opened"
}

closed() {
	wait_log "$WORK/$1.status" "^closed" 40
	sed -n 's/^closed //p' "$WORK/$1.status"
}
