#!/usr/bin/env bash
# A bad --ticket-keys file: missing, empty, cut short, one byte too many,
# nginx's 48-byte format, readable by others, the same key twice, a
# directory. At start: exit 1 and a message naming the file and why. At
# reload (SIGHUP): the reload fails with the same message, and the running
# keys stay (a ticket made before still resumes).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

cd "$WORK"
tg ca init --dir pki --name "Bad Keys CA" >/dev/null
tg cert issue localhost --dir pki --san 127.0.0.1 >/dev/null
(umask 077 && openssl rand 80 >good.key && openssl rand 160 >two.key)
(umask 077 && : >empty.key && head -c 79 good.key >short.key && head -c 81 two.key >long.key &&
	head -c 48 two.key >nginx48.key && cat good.key good.key >twice.key && cp good.key open.key)
chmod 644 open.key
mkdir dir.key

BP=$(free_port)
start_echo_backend "$BP"
base=(--target 127.0.0.1:$BP --mode http --cert pki/issued/localhost.crt --key pki/issued/localhost.key
	--workers 1)
variants=(
	"missing.key|ticket keys missing.key: cannot open: No such file or directory"
	"empty.key|ticket keys empty.key: the file is empty; make one with \`openssl rand 80 > FILE && chmod 600 FILE\`"
	"short.key|ticket keys short.key: 79 bytes is not a whole number of 80-byte keys"
	"long.key|ticket keys long.key: 81 bytes is not a whole number of 80-byte keys"
	"nginx48.key|ticket keys nginx48.key: 48 bytes is nginx's older AES-128 key; tlsgate takes 80-byte keys"
	"open.key|ticket keys: key open.key has mode 0644, so other users can read the private key"
	"twice.key|ticket keys twice.key: key 2 has the name of an earlier key (1)"
	"dir.key|ticket keys dir.key: not a regular file"
)
for v in "${variants[@]}"; do
	file=${v%%|*} why=${v#*|}
	P=$(free_port)
	expect_fail 1 timeout 20 "$TLSGATE" serve --listen 127.0.0.1:$P "${base[@]}" --ticket-keys "$file"
	assert_contains "$OUT" "$why" "start with $file"
	if ss -Htln "sport = :$P" | grep -q .; then fail "a gateway listens with $file"; fi
done
expect_fail 1 timeout 20 "$TLSGATE" serve --listen 127.0.0.1:$(free_port) "${base[@]}" \
	--ticket-keys good.key --ticket-keys good.key
assert_contains "$OUT" "ticket keys good.key: key 1 has the name of an earlier key (1)" "the same file twice"
expect_fail 2 timeout 20 "$TLSGATE" serve --listen 127.0.0.1:$(free_port) "${base[@]}" \
	--ticket-keys good.key --session-cache 0
assert_contains "$OUT" "--ticket-keys makes sessions resumable; it cannot go with --session-cache 0" "with --session-cache 0"
pass "every bad file refused at start, naming the file and the cause"

# At reload the running keys stay.
(umask 077 && cp good.key tickets.key)
G=$(free_port); S=$(free_port)
start_bg gw timeout 120 "$TLSGATE" serve --listen 127.0.0.1:$G --status 127.0.0.1:$S "${base[@]}" \
	--ticket-keys tickets.key
M=$(child_of "$BG_PID")
wait_port "$G"; wait_port "$S"
sess() {
	printf 'GET /t HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n' |
		timeout 20 openssl s_client -connect "127.0.0.1:$G" -tls1_3 -servername localhost \
			-CAfile pki/root.crt -ign_eof "$@" 2>/dev/null |
		sed -nE 's/^(New|Reused), .*/\1/p; s/^HTTP\/1.1 ([0-9]+).*/\1/p' | paste -sd' '
}
assert_eq "New 200" "$(sess -sess_out s.pem)" "a session under the running key"
n=0
for v in "${variants[@]}"; do
	file=${v%%|*} why=${v#*|}
	[ "$file" = dir.key ] && continue
	n=$((n + 1))
	rm -rf tickets.key
	if [ -e "$file" ]; then cp -p "$file" tickets.key; fi
	why=${why//$file/tickets.key}
	kill -HUP "$M"
	wait_metric "http://127.0.0.1:$S/metrics" "tlsgate_reloads_total{result=\"failed\"} $n"
	wait_log gw.log "reload failed, still serving the previous configuration: listener default: $(sed 's/[][\.*^$]/\\&/g' <<<"$why")"
	assert_eq "Reused 200" "$(sess -sess_in s.pem)" "after a reload with $file: the running key still resumes"
done
assert_contains "$(http_get "http://127.0.0.1:$S/healthz")" '"last_reload": "failed"' "/healthz shows the failure"
pass "every bad file refused at reload ($n), the running keys kept"
