# shellcheck shell=bash
# Sending raw bytes through an http-mode gateway to raw_backend.py and
# reading what came of them; source after lib.sh. The caller sets PORT[GW]
# (the gateway's port) and REC[GW] (the backend's record directory), and
# the gateway GW logs to $WORK/GW.log. The clients carry no certificate
# unless a test passes one.

# Gateways by name: their ports and their backends' record directories.
declare -A PORT=() REC=()

# What the gateway adds to every request of a client without a certificate.
FWD='X-Client-Verify: NONE\r\nX-Forwarded-For: 127.0.0.1\r\nX-Real-IP: 127.0.0.1\r\nX-Forwarded-Proto: https\r\nForwarded: for=127.0.0.1;proto=https\r\n'

be_conns() { find "${REC[$1]}" -name 'conn-*.bin' | wc -l; }

# raw_send PORT LOG N PAYLOAD [CERT KEY]: sends PAYLOAD (printf escapes) to
# the gateway on PORT, which logs to LOG, and reads up to N responses
# (the bytes into $WORK/got). Sets STATUSES, LINE and CLOSE as attack does.
raw_send() {
	local port=$1 log=$2 n=$3 payload=$4 deadline cport
	shift 4
	printf "$payload" >"$WORK/payload"
	read -r cport STATUSES < <(python3 "$TLSGATE_SRC/tests/e2e/tls_raw_client.py" "$port" \
		"$WORK/ca/ca.crt" "$n" "$WORK/got" "$@" <"$WORK/payload")
	# The connection's log line, found by the client's port.
	deadline=$((SECONDS + 10))
	until LINE=$(grep " conn listener=.* peer=127.0.0.1:$cport " "$log"); do
		((SECONDS < deadline)) || fail "$log: no connection logged for: $payload"
		sleep 0.05
	done
	CLOSE=$(sed -n 's/.* close="\(.*\)"$/\1/p' <<<"$LINE")
}

# attack GW N PAYLOAD [CERT KEY]: sends PAYLOAD (printf escapes) through
# gateway GW and reads up to N responses. Sets STATUSES (the client's),
# CLOSE (the gateway's log reason for the connection), LINE (its log line)
# and SEEN (the file of bytes the backend got, or "" if the gateway never
# connected to it).
attack() {
	local gw=$1 n=$2 payload=$3 be_before
	shift 3
	be_before=$(be_conns "$gw")
	raw_send "${PORT[$gw]}" "$WORK/$gw.log" "$n" "$payload" "$@"
	SEEN=""
	if (($(be_conns "$gw") > be_before)); then
		SEEN=${REC[$gw]}/conn-$((be_before + 1)).bin
		wait_log "${REC[$gw]}/requests.log" "conn=$((be_before + 1)) closed"
	fi
}

# seen_exactly WHAT EXPECTED(printf escapes): the backend got these bytes.
seen_exactly() {
	[ -n "$SEEN" ] || fail "$1: the backend got no connection"
	printf "$2" >"$WORK/want"
	cmp -s "$WORK/want" "$SEEN" || fail "$1: the backend got"$'\n'"$(cat -A "$SEEN")"$'\n'"expected"$'\n'"$(cat -A "$WORK/want")"
}

# refused WHAT STATUS WHY: the client got STATUS alone, the backend got
# nothing at all, and the log says why.
refused() {
	assert_eq "$2" "$STATUSES" "$1: the client's answer"
	[ -z "$SEEN" ] || fail "$1: the backend was reached; it got"$'\n'"$(cat -A "$SEEN")"
	assert_contains "$CLOSE" "replied $2" "$1: log line"
	assert_contains "$CLOSE" "$3" "$1: log line"
}

# attack_setup GW [SERVE OPTIONS...]: a CA and a server certificate under
# $WORK, raw_backend.py (answering upgrades with 200) recording into
# $WORK/rec, and gateway GW in http mode with client certificates optional
# in front of it, with the options given, logging to $WORK/GW.log. Sets B
# (the backend's port), PORT[GW] and REC[GW].
attack_setup() {
	local gw=$1 g
	shift
	mkdir -p "$WORK/ca" "$WORK/rec"
	pki_cert "$WORK/ca"/ca self root "/CN=Attack CA"
	pki_cert "$WORK/server" "$WORK/ca"/ca server "/CN=localhost" "DNS:localhost"
	B=$(free_port); g=$(free_port)
	start_bg backend python3 -u "$TLSGATE_SRC/tests/e2e/raw_backend.py" "$B" "$WORK/rec" --upgrade 200
	wait_port "$B"
	# wait_port's probes are connections too: start counting after them.
	wait_log "$WORK/rec/requests.log" "conn=1 closed"
	start_bg "$gw" timeout 300 "$TLSGATE" serve --listen 127.0.0.1:$g --target 127.0.0.1:$B --mode http \
		--cert "$WORK/server.crt" --key "$WORK/server.key" --client-ca "$WORK/ca/ca.crt" \
		--verify optional --idle-timeout 30 "$@"
	wait_port "$g"
	wait_log "$WORK/$gw.log" 'close="closed before the handshake"'
	PORT[$gw]=$g
	REC[$gw]=$WORK/rec
}
