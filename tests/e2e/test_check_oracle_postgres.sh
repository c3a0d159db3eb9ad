#!/usr/bin/env bash
# PostgreSQL as the oracle for `tlsgate check --pg-config` (lib/oracle.sh):
# one cluster, restarted on each setup's TLS files, postgresql.conf and
# pg_hba.conf (pg_ctl start as the postgres account, as its service runs),
# then psql with sslmode=verify-full against the CA a client trusts;
# tlsgate check must say error exactly when the server does not start or
# refuses psql.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
ORACLE_SERVICE=postgresql
# shellcheck source=lib/oracle.sh
. "$TLSGATE_SRC/tests/e2e/lib/oracle.sh"

PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -x "$PGBIN/initdb" ] || fail "PostgreSQL not installed (scripts/deps.sh test)"
[ "$(id -u)" -eq 0 ] && id postgres >/dev/null 2>&1 ||
	fail "run as root with a postgres account: the server reads its files as postgres"
as_pg() { runuser -u postgres -- "$@"; }
cd "$WORK"
P=$WORK/pki
oracle_pki "$P"
pki_cert "$P/pguser" "$P/inter" client "/CN=postgres" # verify-full: the CN is the user
cat "$P/pguser.crt" "$P/inter.crt" >"$P/pguser-chain.crt"
openssl pkey -in "$P/leaf.key" -aes256 -passout pass:s3cret -out "$P/leaf-enc.key"
D=$WORK/data
mkdir -p "$WORK/sock" "$D"
chmod 700 "$D"
chown postgres "$WORK/sock" "$D"
as_pg "$PGBIN/initdb" -D "$D" -A trust -U postgres >"$WORK/initdb.log" 2>&1 ||
	fail "initdb: $(tail -n 5 "$WORK/initdb.log")"
cp "$D/pg_hba.conf" "$WORK/pg_hba.trust"
cat >>"$D/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
unix_socket_directories = '$WORK/sock'
include_dir 'conf.d'
EOF
mkdir -p "$D/conf.d"
chown postgres "$D/conf.d"
on_exit as_pg "$PGBIN/pg_ctl" -D "$D" -m immediate stop

# setup NAME [CONF_LINES]: the server's TLS settings for this setup (after
# ssl = on and the default file names), and pg_hba.conf as initdb wrote it.
setup() {
	oracle_dir "$1"
	chown postgres "$S" # the server's log goes here
	rm -f "$D"/server.* "$D"/root.* "$D"/client-ca.crt "$D"/pass
	printf "port = %s\nssl = on\n%s\n" "$PORT" "${2:-}" >"$D/conf.d/tls.conf"
	cp "$WORK/pg_hba.trust" "$D/pg_hba.conf"
	chown postgres "$D/conf.d/tls.conf" "$D/pg_hba.conf"
}

# in_data SRC NAME MODE [OWNER]: a file of the data directory (postgres's
# unless OWNER says otherwise).
in_data() {
	install -m "$3" "$1" "$D/$2"
	chown "${4:-postgres}" "$D/$2"
}

# served NAME KEY KEY_MODE KEY_OWNER CERT...: server.crt from the CERTs (in
# order), server.key from KEY.
served() {
	local name=$1 key=$2 mode=$3 owner=$4
	shift 4
	setup "$name"
	cat "$@" >"$WORK/chain.tmp"
	in_data "$WORK/chain.tmp" server.crt 644
	in_data "$key" server.key "$mode" "$owner"
}

# hba_clientcert: every TCP connection must bring a client certificate.
hba_clientcert() {
	printf 'local all all trust\nhostssl all all 127.0.0.1/32 trust clientcert=verify-full\n' >"$D/pg_hba.conf"
}

# run NAME WHAT [CONNINFO...]: start the server, psql once, stop; then
# tlsgate check; one row of the table.
run() {
	local name=$1 what=$2 service why
	shift 2
	# setsid, no stdin: no terminal to prompt for a passphrase on.
	if ! setsid runuser -u postgres -- "$PGBIN/pg_ctl" -D "$D" -l "$S/pg.log" -w -t 20 start \
		</dev/null >"$S/pg_ctl.log" 2>&1; then
		service=no-start
		why=$(grep -m1 -E 'FATAL|LOG:  (could not|private key)' "$S/pg.log" | sed 's/.*\(FATAL\|LOG\):  //; s|'"$D"'/||g' | cut -c1-90 || true)
	elif PGCONNECT_TIMEOUT=5 psql "host=localhost port=$PORT user=postgres dbname=postgres \
		sslmode=verify-full sslrootcert=$P/root.crt $*" -qAt -c 'select 1' >"$S/psql.log" 2>&1; then
		service=works
		why="psql verify-full: select 1"
	else
		service=refused
		why="psql: $(grep -m1 -v '^$' "$S/psql.log" | sed 's/^psql: error: //; s/connection to server at [^,]*, port [0-9]* failed: //' | cut -c1-80 || true)"
	fi
	as_pg "$PGBIN/pg_ctl" -D "$D" -m fast -w stop >/dev/null 2>&1 || true
	oracle_check "$name" --pg-config "$D/postgresql.conf" "${CHECK_ARGS[@]}"
	oracle_row "$name" "$what" "$service" "$why"
}

CHECK_ARGS=(--ca "$P/root.crt" --no-system-ca --host localhost)
CLIENT="sslcert=$P/pguser-chain.crt sslkey=$P/pguser.key"

served clean "$P/leaf.key" 600 postgres "$P/fullchain.crt"
run clean "leaf + intermediate, key 0600 postgres's"

CHECK_ARGS=(--no-system-ca --host localhost)
served no-root-given "$P/leaf.key" 600 postgres "$P/fullchain.crt"
run no-root-given "leaf + intermediate; the check is not given the private root"
CHECK_ARGS=(--ca "$P/root.crt" --no-system-ca --host localhost)

setup swapped "ssl_cert_file = 'server.key'
ssl_key_file = 'server.crt'"
in_data "$P/fullchain.crt" server.crt 644
in_data "$P/leaf.key" server.key 600
run swapped "ssl_cert_file and ssl_key_file swapped"

served encrypted "$P/leaf-enc.key" 600 postgres "$P/fullchain.crt"
run encrypted "encrypted key, no ssl_passphrase_command"

served encrypted-command "$P/leaf-enc.key" 600 postgres "$P/fullchain.crt"
echo "ssl_passphrase_command = 'echo s3cret'" >>"$D/conf.d/tls.conf"
run encrypted-command "encrypted key, ssl_passphrase_command gives its passphrase"

served encrypted-command-fails "$P/leaf-enc.key" 600 postgres "$P/fullchain.crt"
echo "ssl_passphrase_command = 'exit 3'" >>"$D/conf.d/tls.conf"
run encrypted-command-fails "encrypted key, ssl_passphrase_command exits 3"

served encrypted-command-wrong "$P/leaf-enc.key" 600 postgres "$P/fullchain.crt"
echo "ssl_passphrase_command = 'echo wrong'" >>"$D/conf.d/tls.conf"
run encrypted-command-wrong "encrypted key, ssl_passphrase_command gives a wrong passphrase"

# The command runs as the server's account, in the data directory: a
# passphrase file only root may read fails the start.
served encrypted-command-root-file "$P/leaf-enc.key" 600 postgres "$P/fullchain.crt"
in_data /dev/stdin pass 600 root <<<"s3cret"
echo "ssl_passphrase_command = 'cat pass'" >>"$D/conf.d/tls.conf"
run encrypted-command-root-file "encrypted key, ssl_passphrase_command reads a file only root may read"

served encrypted-command-pass-file "$P/leaf-enc.key" 600 postgres "$P/fullchain.crt"
in_data /dev/stdin pass 600 <<<"s3cret"
echo "ssl_passphrase_command = 'cat pass # %p'" >>"$D/conf.d/tls.conf"
run encrypted-command-pass-file "encrypted key, ssl_passphrase_command reads postgres's 0600 file (%p in a comment)"

served reversed "$P/leaf.key" 600 postgres "$P/inter.crt" "$P/leaf.crt"
run reversed "chain reversed: intermediate first"

served no-intermediate "$P/leaf.key" 600 postgres "$P/leaf.crt"
run no-intermediate "leaf alone, its intermediate missing"

served expired "$P/expired.key" 600 postgres "$P/expired.crt" "$P/inter.crt"
run expired "an expired leaf"

served name "$P/other.key" 600 postgres "$P/other.crt" "$P/inter.crt"
run name "the certificate is for other.example, psql connects to localhost"

served mismatch "$P/other.key" 600 postgres "$P/fullchain.crt"
run mismatch "the key of another certificate"

served key-0640 "$P/leaf.key" 640 postgres "$P/fullchain.crt"
run key-0640 "key 0640 postgres's (group access)"

served key-world "$P/leaf.key" 644 postgres "$P/fullchain.crt"
run key-world "key 0644 postgres's (world access)"

served key-root "$P/leaf.key" 600 root "$P/fullchain.crt"
run key-root "key 0600 root's: postgres cannot open it"

served key-root-group "$P/leaf.key" 640 root:postgres "$P/fullchain.crt"
run key-root-group "key 0640 root:postgres (PostgreSQL's other allowed form)"

served client-certs "$P/leaf.key" 600 postgres "$P/fullchain.crt"
echo "ssl_ca_file = 'client-ca.crt'" >>"$D/conf.d/tls.conf"
in_data "$P/root.crt" client-ca.crt 644
hba_clientcert
run client-certs "pg_hba clientcert=verify-full, ssl_ca_file the root" "$CLIENT"

served leaf-as-ca "$P/leaf.key" 600 postgres "$P/fullchain.crt"
echo "ssl_ca_file = 'client-ca.crt'" >>"$D/conf.d/tls.conf"
in_data "$P/pguser.crt" client-ca.crt 644
hba_clientcert
run leaf-as-ca "ssl_ca_file holds the client's leaf, not its CA" "$CLIENT"

served hba-no-ca "$P/leaf.key" 600 postgres "$P/fullchain.crt"
hba_clientcert
run hba-no-ca "pg_hba clientcert=verify-full, no ssl_ca_file" "$CLIENT"

oracle_finish 12
