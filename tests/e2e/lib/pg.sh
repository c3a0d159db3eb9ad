# shellcheck shell=bash
# A throw-away PostgreSQL for the inventory tests, sourced after lib.sh:
#   start_postgres   initdb in $WORK/pg, start it on a free port (passwords over
#                    TCP, trust on the socket), create role tlsgate (password in
#                    a 0600 pgpass) and database pki; stopped at cleanup.
#   admin_sql SQL [DB], pki_sql SQL   run SQL as postgres (tab-free, unaligned)
#   ca_id DIR        the id tlsgate files a CA's rows under
# Sets PG, DATA, SOCK, PORT, DBPASS and URL (tlsgate's store URL over TCP).

PGBIN=${PGBIN:-$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin 2>/dev/null | sort -V | tail -n 1)}
[ -x "$PGBIN/postgres" ] || fail "no PostgreSQL server binaries (apt-get install postgresql)"
command -v psql >/dev/null || fail "no psql (apt-get install postgresql-client)"
command -v jq >/dev/null || fail "no jq (apt-get install jq)"

PG="$WORK/pg"
DATA="$PG/data"
SOCK="$PG/sock"
PORT=$(free_port)
DBPASS=e2e-Secret-42
URL="postgresql://tlsgate@127.0.0.1:$PORT/pki?sslmode=disable"

# The server refuses to run as root: run it as `postgres` when we are root.
as_pg() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

pg_ctl_do() {
	as_pg timeout 60 "$PGBIN/pg_ctl" -D "$DATA" -l "$PG/postgres.log" -w -t 30 "$@" >/dev/null
}

# Passwords over TCP (as a shared server would have it), trust on the socket.
start_postgres() {
	chmod 0711 "$WORK"
	mkdir -p "$PG" "$SOCK"
	[ "$(id -u)" -ne 0 ] || chown -R postgres: "$PG"
	as_pg timeout 120 "$PGBIN/initdb" -D "$DATA" -U postgres --auth=trust --no-sync \
		-E UTF8 --locale=C >"$PG/initdb.log" 2>&1 || fail "initdb failed"
	cat >>"$DATA/postgresql.conf" <<-EOF
		listen_addresses = '127.0.0.1'
		port = $PORT
		unix_socket_directories = '$SOCK'
		fsync = off
		max_connections = 50
	EOF
	cat >"$DATA/pg_hba.conf" <<-EOF
		local all all trust
		host all all 127.0.0.1/32 scram-sha-256
	EOF
	on_exit as_pg "$PGBIN/pg_ctl" -D "$DATA" -m immediate -t 20 stop
	pg_ctl_do start || fail "PostgreSQL did not start"
	wait_port "$PORT" 10
	admin_sql "create role tlsgate login password '$DBPASS'" >/dev/null
	admin_sql "create database pki owner tlsgate" >/dev/null
	# The password reaches libpq the way the docs tell users: a 0600 pgpass file.
	printf '127.0.0.1:%s:*:tlsgate:%s\n' "$PORT" "$DBPASS" >"$WORK/pgpass"
	chmod 600 "$WORK/pgpass"
	export PGPASSFILE="$WORK/pgpass"
}

admin_sql() {
	timeout 30 psql -X -q -h "$SOCK" -p "$PORT" -U postgres -d "${2:-postgres}" \
		-v ON_ERROR_STOP=1 -tAc "$1"
}

pki_sql() { admin_sql "$1" pki; }

# The CA id tlsgate files rows under: SHA-256 of the root's public key.
ca_id() {
	openssl x509 -in "$1/root.crt" -noout -pubkey | openssl pkey -pubin -outform DER |
		sha256sum | cut -d' ' -f1
}

