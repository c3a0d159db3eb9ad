# shellcheck shell=bash
# A real DNS server on loopback for dns-01: dnsmasq on 127.0.0.1 and
# [::1] (when the host has IPv6 loopback), port $DNS_PORT,
# answering TXT records kept one per line ("NAME VALUE") in
# $DNS_DIR/records, and CNAMEs ("NAME TARGET") in $DNS_DIR/cnames. dnsmasq
# reads them only at start, so each change restarts it. Under
# example.internal it answers alone (--local): other names are NXDOMAIN.
# Sourced after lib.sh:
#   dns_start      starts it (sets DNS_PORT, DNS_DIR); cleanup stops it
#   dns_set NAME VALUE / dns_unset NAME VALUE   add or remove a record
#   dns_cname NAME TARGET                       add a CNAME
# Run as a program (an ACME client's hook, e.g. lego's exec provider):
#   dnsmasq.sh DIR PORT present|cleanup|cname FQDN VALUE
DNSMASQ=${DNSMASQ:-/usr/sbin/dnsmasq}

_dns_stop() {
	local pid i
	pid=$(cat "$DNS_DIR/pid" 2>/dev/null) || return 0
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < 50; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	rm -f "$DNS_DIR/pid"
}

# Restarts dnsmasq with the records of the file; waits until it listens.
_dns_restart() {
	local args=() name value i
	_dns_stop
	while read -r name value; do
		[ -n "$name" ] && args+=("--txt-record=$name,$value")
	done <"$DNS_DIR/records"
	while read -r name value; do
		[ -n "$name" ] && args+=("--cname=$name,$value")
	done <"$DNS_DIR/cnames"
	"$DNSMASQ" --no-resolv --no-hosts --port="$DNS_PORT" --listen-address="$DNS_LISTEN" \
		--bind-interfaces --conf-file=/dev/null --local=/example.internal/ --pid-file="$DNS_DIR/pid" \
		--log-facility="$DNS_DIR/dnsmasq.log" --log-queries "${args[@]}" ||
		{ echo "dnsmasq did not start (port $DNS_PORT)" >&2; return 1; }
	for ((i = 0; i < 50; i++)); do
		(exec 3<>"/dev/tcp/127.0.0.1/$DNS_PORT") 2>/dev/null && return 0
		sleep 0.1
	done
	echo "dnsmasq does not listen on 127.0.0.1:$DNS_PORT" >&2
	return 1
}

dns_set() {
	echo "${1%.} $2" >>"$DNS_DIR/records"
	_dns_restart
}

dns_unset() {
	grep -vxF "${1%.} $2" "$DNS_DIR/records" >"$DNS_DIR/records.new" || true
	mv "$DNS_DIR/records.new" "$DNS_DIR/records"
	_dns_restart
}

dns_cname() {
	echo "${1%.} ${2%.}" >>"$DNS_DIR/cnames"
	_dns_restart
}

dns_start() {
	DNS_DIR=$WORK/dns
	DNS_PORT=$(free_port)
	DNS_LISTEN=127.0.0.1
	ip -6 addr show dev lo 2>/dev/null | grep -q 'inet6 ::1/' && DNS_LISTEN=127.0.0.1,::1
	mkdir -p "$DNS_DIR"
	: >"$DNS_DIR/records"
	echo "$DNS_LISTEN" >"$DNS_DIR/listen"
	: >"$DNS_DIR/cnames"
	on_exit _dns_stop
	_dns_restart || fail "dnsmasq did not start"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	set -euo pipefail
	DNS_DIR=$1 DNS_PORT=$2 DNS_LISTEN=$(cat "$1/listen")
	# Two hooks at once would race on the file and the restart.
	exec 9>"$DNS_DIR/lock"
	flock 9
	case $3 in
	present) dns_set "$4" "$5" ;;
	cleanup) dns_unset "$4" "$5" ;;
	cname) dns_cname "$4" "$5" ;;
	*) echo "dnsmasq.sh: $3? (present, cleanup or cname)" >&2; exit 2 ;;
	esac
fi
