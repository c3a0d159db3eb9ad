#!/usr/bin/env bash
# A real PostgreSQL (manual chapter 18.9, seeds/004) with tlsgate's server cert
# and CA: `psql sslmode=verify-full` with a tlsgate client cert CN=alice logs in
# as alice under `hostssl ... cert clientcert=verify-full`; mallory's cert is
# refused for user alice; once ssl_crl_file holds tlsgate's CRL and the server
# reloads, alice's revoked cert is refused while bob's still works.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

PGBIN=${PGBIN:-$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin 2>/dev/null | sort -V | tail -n 1)}
[ -x "$PGBIN/postgres" ] || fail "no PostgreSQL server binaries (apt-get install postgresql)"
command -v psql >/dev/null || fail "no psql (apt-get install postgresql-client)"

PG="$WORK/pg"
DATA="$PG/data"
SOCK="$PG/sock"
CA="$WORK/ca"
PORT=$(free_port)

# The server refuses to run as root: run it as `postgres` when we are root, in
# a tree that user owns (the work dir must be traversable for that).
as_pg() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

# install_pg_file SRC NAME MODE: into the data dir, owned by the server user
# (PostgreSQL refuses a key not 0600 and owned by itself).
install_pg_file() {
	cp "$1" "$DATA/$2"
	chmod "$3" "$DATA/$2"
	[ "$(id -u)" -ne 0 ] || chown postgres: "$DATA/$2"
}

make_pki() {
	# With an intermediate: the harder case (chains sent by both sides, and
	# PostgreSQL checks CRLs for every CA of the chain).
	tg ca init --dir "$CA" --name "e2e postgres CA" --intermediate >/dev/null
	tg cert issue localhost --dir "$CA" --san 127.0.0.1 >/dev/null
	local user
	for user in alice bob mallory; do
		tg cert issue "$user" --dir "$CA" --client >/dev/null
	done
}

start_postgres() {
	chmod 0711 "$WORK"
	mkdir -p "$PG" "$SOCK"
	[ "$(id -u)" -ne 0 ] || chown -R postgres: "$PG"
	as_pg timeout 120 "$PGBIN/initdb" -D "$DATA" -U postgres --auth=trust --no-sync \
		-E UTF8 --locale=C >"$PG/initdb.log" 2>&1 || fail "initdb failed"

	install_pg_file "$CA/issued/localhost.crt" server.crt 0644
	install_pg_file "$CA/issued/localhost.key" server.key 0600
	install_pg_file "$CA/root.crt" root.crt 0644
	cat >>"$DATA/postgresql.conf" <<-EOF
		listen_addresses = '127.0.0.1'
		port = $PORT
		unix_socket_directories = '$SOCK'
		ssl = on
		ssl_cert_file = 'server.crt'
		ssl_key_file = 'server.key'
		ssl_ca_file = 'root.crt'
		fsync = off
		log_connections = on
	EOF
	# Local socket for the admin; TCP only with a verified client cert whose
	# CN is the user name. Nothing else gets in.
	cat >"$DATA/pg_hba.conf" <<-EOF
		local all postgres trust
		hostssl all all 127.0.0.1/32 cert clientcert=verify-full
	EOF

	on_exit as_pg "$PGBIN/pg_ctl" -D "$DATA" -m immediate -t 20 stop
	as_pg timeout 60 "$PGBIN/pg_ctl" -D "$DATA" -l "$PG/postgres.log" -w -t 30 start >/dev/null ||
		fail "PostgreSQL did not start"
	wait_port "$PORT" 10
}

admin_sql() {
	timeout 30 psql -X -q -h "$SOCK" -p "$PORT" -U postgres -d postgres -v ON_ERROR_STOP=1 -tAc "$1"
}

# psql_as CERTNAME DBUSER SQL: connect over TCP+TLS the way the guide says,
# verifying the server's name (127.0.0.1 must be in its SANs) and presenting
# CERTNAME's cert. Prints psql's output and errors; returns psql's status.
psql_as() {
	local cert=$1 user=$2 sql=$3
	PGCONNECT_TIMEOUT=10 timeout 30 psql -X -tA -c "$sql" \
		"host=127.0.0.1 port=$PORT dbname=postgres user=$user sslmode=verify-full sslrootcert=$CA/root.crt sslcert=$CA/issued/$cert.crt sslkey=$CA/issued/$cert.key" 2>&1
}

expect_login() { # expect_login CERTNAME DBUSER
	local out
	out=$(psql_as "$1" "$2" 'select current_user') || fail "$1's cert as $2 refused: $out"
	assert_eq "$2" "$out" "current_user with $1's cert"
}

expect_refused() { # expect_refused CERTNAME DBUSER REASON
	local out
	if out=$(psql_as "$1" "$2" 'select current_user'); then
		fail "$1's cert as user $2 was let in: $out"
	fi
	assert_contains "$out" "$3" "refusal of $1's cert as $2"
}

check_logins() {
	local out
	expect_login alice alice
	expect_login bob bob
	# The session really is TLS with alice's cert, not some fallback.
	out=$(psql_as alice alice 'select ssl, client_dn from pg_stat_ssl where pid = pg_backend_pid()')
	assert_eq "t|/CN=alice" "$out" "pg_stat_ssl for alice"

	# verify-full: CN must equal the user name.
	expect_refused mallory alice 'certificate authentication failed for user "alice"'
	grep -q 'provided user name (alice) and authenticated user name (mallory) do not match' \
		"$PG/postgres.log" || fail "server log does not say why mallory was refused"
}

# A certificate from another CA is no good either.
check_foreign_ca() {
	local other="$WORK/other" out
	tg ca init --dir "$other" --name "someone else's CA" >/dev/null
	tg cert issue alice --dir "$other" --client >/dev/null
	if out=$(PGCONNECT_TIMEOUT=10 timeout 30 psql -X -tA -c 'select 1' \
		"host=127.0.0.1 port=$PORT dbname=postgres user=alice sslmode=verify-full sslrootcert=$CA/root.crt sslcert=$other/issued/alice.crt sslkey=$other/issued/alice.key" 2>&1); then
		fail "alice with a cert from a foreign CA was let in: $out"
	fi
	assert_contains "$out" "unknown ca" "refusal of a foreign-CA cert"
}

revoke_alice() {
	tg cert revoke --cert "$CA/issued/alice.crt" --dir "$CA" --reason keyCompromise >/dev/null
	tg crl --dir "$CA" >/dev/null
	install_pg_file "$CA/crl.pem" root.crl 0644
	echo "ssl_crl_file = 'root.crl'" >>"$DATA/postgresql.conf"
	as_pg timeout 30 "$PGBIN/pg_ctl" -D "$DATA" reload >/dev/null
	# The postmaster applies SIGHUP asynchronously: wait (bounded) for the setting.
	local i
	for ((i = 0; i < 50; i++)); do
		[ "$(admin_sql 'show ssl_crl_file')" = root.crl ] && return 0
		sleep 0.2
	done
	fail "PostgreSQL did not pick up ssl_crl_file after reload"
}

check_revoked() {
	# An error at reload keeps the old SSL config, so a refusal here proves the
	# CRL was loaded and understood, not just that the file exists.
	grep -qi 'could not load SSL certificate revocation list' "$PG/postgres.log" &&
		fail "PostgreSQL could not load tlsgate's CRL"
	expect_refused alice alice "certificate revoked"
	expect_login bob bob
}

make_pki
start_postgres
admin_sql 'create role alice login; create role bob login' >/dev/null
check_logins
check_foreign_ca
revoke_alice
check_revoked
