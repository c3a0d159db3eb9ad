#!/usr/bin/env bash
# The inventory's two backends side by side: SQLite (DIR/tlsgate.db) against
# PostgreSQL 15 on the same machine, over TCP (scram-sha-256 with ~/.pgpass,
# as a shared server would run it) and over the unix socket. The server keeps
# its durable defaults (fsync, synchronous_commit on), as SQLite keeps
# synchronous=FULL. Measured per backend:
#   single  one `cert issue` process per certificate, N_SINGLE in a row
#           (connection, schema check, lock, insert, commit each time)
#   batch   one `cert issue --batch` of N_BATCH certificates
#   8 procs 8 processes issuing N_PAR single certificates each at once
#           (writers queue on the CA's lock)
#
# Usage: bench/store_backends.sh [N_SINGLE] [N_BATCH] [N_PAR]
set -euo pipefail
cd "$(dirname "$0")/.."
N_S=${1:-50}
N_B=${2:-2000}
N_P=${3:-25}
scripts/deps.sh build test >/dev/null
scripts/build.sh build-bench -DTLSGATE_TESTS=OFF -DCMAKE_BUILD_TYPE=Release
T=$PWD/build-bench/tlsgate
PGBIN=$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin | sort -V | tail -n 1)
W=$(mktemp -d /var/tmp/tlsgate-bench.XXXXXX)
chmod 0711 "$W"
PORT=$((20000 + RANDOM % 12000))
as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
trap 'as_pg "$PGBIN/pg_ctl" -D "$W/pg/data" -m immediate stop >/dev/null 2>&1 || true; rm -rf "$W"' EXIT
cd "$W"

mkdir -p pg/sock
[ "$(id -u)" -ne 0 ] || chown -R postgres: pg
as_pg "$PGBIN/initdb" -D pg/data -U postgres --auth=trust -E UTF8 --locale=C >/dev/null
cat >>pg/data/postgresql.conf <<EOF
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$W/pg/sock'
EOF
printf 'local all all trust\nhost all all 127.0.0.1/32 scram-sha-256\n' >pg/data/pg_hba.conf
as_pg "$PGBIN/pg_ctl" -D pg/data -l pg/log -w start >/dev/null
psql -X -q -h "$W/pg/sock" -p "$PORT" -U postgres -c "create role tlsgate login password 'bench'" \
	-c "create database pki owner tlsgate"
printf '127.0.0.1:%s:*:tlsgate:bench\n' "$PORT" >pgpass
chmod 600 pgpass
export PGPASSFILE=$W/pgpass

now() { date +%s.%N; }
ms_per() { python3 -c "print(f'{($3-$2)*1000/$1:.1f}')"; }
per_s() { python3 -c "print(f'{$1/($3-$2):.0f}')"; }

# run LABEL [--store URL]
run() {
	local label=$1 d t0 t1 s b p
	shift
	d=ca-$label
	"$T" ca init --dir "$d" "$@" >/dev/null
	t0=$(now)
	for i in $(seq 1 "$N_S"); do "$T" cert issue "s$i" --dir "$d" --client >/dev/null; done
	t1=$(now)
	s=$(ms_per "$N_S" "$t0" "$t1")
	seq -f "b%05g" 1 "$N_B" >names
	t0=$(now)
	"$T" cert issue --batch names --dir "$d" --client --out-dir "$d/batch" >/dev/null
	t1=$(now)
	b=$(per_s "$N_B" "$t0" "$t1")
	t0=$(now)
	for w in 1 2 3 4 5 6 7 8; do
		(for i in $(seq 1 "$N_P"); do
			"$T" cert issue "p$w-$i" --dir "$d" --client --out-dir "$d/par" >/dev/null
		done) &
	done
	wait
	t1=$(now)
	p=$(per_s $((8 * N_P)) "$t0" "$t1")
	echo "| $label | $s | $b | $p |"
}

echo "| backend | single issue, ms each | --batch $N_B, certs/s | 8 procs x $N_P issues, certs/s |"
echo "|---|---:|---:|---:|"
run sqlite
run postgresql-tcp --store "postgresql://tlsgate@127.0.0.1:$PORT/pki?sslmode=disable"
run postgresql-socket --store "postgres:host=$W/pg/sock port=$PORT dbname=pki user=tlsgate"
