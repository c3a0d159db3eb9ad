# shellcheck shell=bash
# The real service as the oracle for `tlsgate check` (sourced after lib.sh).
# A test builds one setup after another; for each it starts the real
# service, records whether it starts and whether a real client gets
# through, runs `tlsgate check` on the same config, and calls oracle_row.
# An `error` from the checker must mean the service fails or refuses its
# clients; a clean check must mean it works. oracle_finish prints the table,
# counts false errors and missed failures (the test fails unless both are
# 0), and with ORACLE_DOC_DIR set leaves the table there as SERVICE.tsv for
# scripts/check_oracle_doc.sh, which writes docs/check-oracle.md.
#
#   oracle_pki DIR      root, inter, leaf (a.example + localhost), direct
#                       (a leaf the root signs), expired, other.example,
#                       client (clientAuth), each DIR/NAME.crt + .key;
#                       DIR/fullchain.crt = leaf + inter
#   oracle_check NAME ARGS...   tlsgate check --json ARGS; sets CHECK_RC,
#                       CHECK_CODES (e:, w:, i: codes), CHECK_VERDICT
#   oracle_row NAME WHAT SERVICE_VERDICT WHY
#                       SERVICE_VERDICT: works | no-start | refused

# shellcheck source=pki.sh
. "$TLSGATE_SRC/tests/e2e/lib/pki.sh"

ORACLE_SERVICE=${ORACLE_SERVICE:?set ORACLE_SERVICE before sourcing oracle.sh}
ORACLE_TSV=$WORK/oracle.tsv
printf 'setup\twhat\tservice\twhy\tchecker\tcodes\tagree\n' >"$ORACLE_TSV"
ORACLE_FALSE_ERRORS=0
ORACLE_MISSED=0
ORACLE_ROWS=0

# oracle_dir NAME: a fresh setup dir $S (reachable by the service's
# account) and a port $PORT for it.
oracle_dir() {
	S=$WORK/s/$1
	PORT=$(free_port)
	mkdir -p "$S"
	chmod 755 "$WORK/s" "$S"
}

# put SRC NAME [MODE] [OWNER]: a file of the setup.
put() {
	install -m "${3:-644}" "$1" "$S/$2"
	[ -z "${4:-}" ] || chown "$4" "$S/$2"
}

# oracle_start NAME CMD...: starts the service (setsid, no stdin: no
# terminal to prompt for a passphrase on) with its output in $S/NAME.log;
# ORACLE_PID is its pid, ORACLE_UP 1 once it listens on $PORT, 0 when it
# exits (or does not listen within 5 s; ORACLE_WAIT sets how many 50 ms
# steps for a service that is slower to come up).
oracle_start() {
	local log=$S/$1.log i
	shift
	setsid "$@" </dev/null >"$log" 2>&1 &
	ORACLE_PID=$!
	track "$ORACLE_PID"
	ORACLE_UP=0
	for ((i = 0; i < ${ORACLE_WAIT:-100}; i++)); do
		ss -Hltn "sport = :$PORT" | grep -q . && { ORACLE_UP=1; return 0; }
		kill -0 "$ORACLE_PID" 2>/dev/null || return 0
		sleep 0.05
	done
}

oracle_stop() {
	kill "$ORACLE_PID" 2>/dev/null || true
	wait "$ORACLE_PID" 2>/dev/null || true
}

oracle_pki() {
	local d=$1
	mkdir -p "$d"
	pki_cert "$d/root" self root "/CN=Oracle Root"
	pki_cert "$d/inter" "$d/root" inter "/CN=Oracle Inter"
	pki_cert "$d/leaf" "$d/inter" server "/CN=a.example" "DNS:a.example,DNS:localhost,IP:127.0.0.1"
	pki_cert "$d/direct" "$d/root" server "/CN=a.example" "DNS:a.example,DNS:localhost,IP:127.0.0.1"
	pki_cert "$d/expired" "$d/inter" server "/CN=a.example" "DNS:a.example,DNS:localhost,IP:127.0.0.1" \
		"-400 days" "-1 day"
	pki_cert "$d/other" "$d/inter" server "/CN=other.example" "DNS:other.example"
	pki_cert "$d/client" "$d/inter" client "/CN=sensor"
	cat "$d/leaf.crt" "$d/inter.crt" >"$d/fullchain.crt"
	cat "$d/client.crt" "$d/inter.crt" >"$d/client-chain.crt"
	chmod 755 "$d"
}

# The checker's verdict: error (exit 1, or 2: it refuses the config) or
# clean (exit 0, warnings allowed).
oracle_check() {
	local name=$1
	shift
	CHECK_RC=0
	"$TLSGATE" check --json "$@" >"$WORK/check-$name.json" 2>"$WORK/check-$name.err" || CHECK_RC=$?
	case "$CHECK_RC" in
	0) CHECK_VERDICT=clean ;;
	1) CHECK_VERDICT=error ;;
	2) CHECK_VERDICT=error ;;
	*) fail "$name: tlsgate check exited $CHECK_RC: $(cat "$WORK/check-$name.err")" ;;
	esac
	if [ "$CHECK_RC" = 2 ]; then
		CHECK_CODES="refused: $(head -c 160 "$WORK/check-$name.err" | tr '\n\t' '  ')"
	else
		CHECK_CODES=$(jq -r '[.subjects[].findings[] | "\(.severity[0:1]):\(.code)"] |
			unique | join(" ")' "$WORK/check-$name.json")
	fi
}

oracle_row() {
	local name=$1 what=$2 service=$3 why=$4 agree=yes
	ORACLE_ROWS=$((ORACLE_ROWS + 1))
	if [ "$CHECK_VERDICT" = error ] && [ "$service" = works ]; then
		agree="FALSE ERROR"
		ORACLE_FALSE_ERRORS=$((ORACLE_FALSE_ERRORS + 1))
	elif [ "$CHECK_VERDICT" = clean ] && [ "$service" != works ]; then
		agree="MISSED"
		ORACLE_MISSED=$((ORACLE_MISSED + 1))
	fi
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$what" "$service" "$why" "$CHECK_VERDICT" \
		"${CHECK_CODES:--}" "$agree" >>"$ORACLE_TSV"
	echo "$name: service $service ($why); checker $CHECK_VERDICT [${CHECK_CODES}]: $agree"
}

oracle_finish() {
	local min=$1
	column -t -s $'\t' "$ORACLE_TSV" || cat "$ORACLE_TSV"
	echo "$ORACLE_SERVICE: $ORACLE_ROWS setups; false errors: $ORACLE_FALSE_ERRORS; missed failures: $ORACLE_MISSED"
	if [ -n "${ORACLE_DOC_DIR:-}" ]; then
		cp "$ORACLE_TSV" "$ORACLE_DOC_DIR/$ORACLE_SERVICE.tsv"
	fi
	[ "$ORACLE_ROWS" -ge "$min" ] || fail "only $ORACLE_ROWS setups, want at least $min"
	[ "$ORACLE_FALSE_ERRORS" = 0 ] || fail "$ORACLE_FALSE_ERRORS false error(s): the checker says error, the service works"
	[ "$ORACLE_MISSED" = 0 ] || fail "$ORACLE_MISSED missed failure(s): the checker is clean, the service fails"
}
