#!/usr/bin/env bash
# Issuing client certificates in bulk (an MQTT device fleet), side by side:
#   tlsgate cert issue --batch   (one process, one transaction, one sync)
#   the guides' recipe           (openssl genpkey + req + x509 per device)
#   easy-rsa                     (build-client-full NAME nopass per device)
# All use EC P-256 keys, SHA-256, a CA made the same way. Each tool's rate is
# measured on its own sample size (the slow ones would take hours at 10,000)
# and reported as certificates per second and as a ratio to tlsgate.
#
# Usage: bench/issue_batch.sh [N_TLSGATE] [N_OPENSSL] [N_EASYRSA]
set -euo pipefail
cd "$(dirname "$0")/.."
N_T=${1:-10000}
N_O=${2:-500}
N_E=${3:-200}
scripts/deps.sh build bench >/dev/null
scripts/build.sh build-bench -DTLSGATE_TESTS=OFF -DCMAKE_BUILD_TYPE=Release
T=$PWD/build-bench/tlsgate
W=$(mktemp -d /var/tmp/tlsgate-bench.XXXXXX)
trap 'rm -rf "$W"' EXIT
cd "$W"

now() { date +%s.%N; }
rate() { python3 -c "print(f'{$1/($3-$2):.1f}')"; }

# tlsgate
"$T" ca init --dir tg >/dev/null
seq -f "device-%05g" 1 "$N_T" > names
t0=$(now)
"$T" cert issue --batch names --dir tg --client --out-dir tg/fleet >/dev/null
t1=$(now)
r_t=$(rate "$N_T" "$t0" "$t1")
openssl verify -CAfile tg/root.crt tg/fleet/device-$(printf %05d "$N_T").crt >/dev/null

# The guides' recipe: openssl CLI per device, CA made the same way.
mkdir os && cd os
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ca.key 2>/dev/null
openssl req -x509 -new -key ca.key -subj "/CN=Bench CA" -days 3650 -out ca.crt 2>/dev/null
cat > ext.cnf <<'CNF'
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=clientAuth
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid
CNF
t0=$(now)
for i in $(seq -f "%05g" 1 "$N_O"); do
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out d$i.key 2>/dev/null
	openssl req -new -key d$i.key -subj "/CN=device-$i" -out d$i.csr 2>/dev/null
	openssl x509 -req -in d$i.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 397 \
		-sha256 -extfile ext.cnf -out d$i.crt 2>/dev/null
done
t1=$(now)
r_o=$(rate "$N_O" "$t0" "$t1")
cd ..

# easy-rsa
mkdir er && cd er
EASYRSA=/usr/share/easy-rsa/easyrsa
export EASYRSA_BATCH=1 EASYRSA_ALGO=ec EASYRSA_CURVE=prime256v1 EASYRSA_PKI=$PWD/pki
"$EASYRSA" init-pki >/dev/null 2>&1
"$EASYRSA" build-ca nopass >/dev/null 2>&1
t0=$(now)
for i in $(seq -f "%05g" 1 "$N_E"); do
	"$EASYRSA" build-client-full "device-$i" nopass >/dev/null 2>&1
done
t1=$(now)
r_e=$(rate "$N_E" "$t0" "$t1")
cd ..

ratio() { python3 -c "print(f'{$1/$2:.0f}x')"; }
cat <<OUT
| tool | certificates | certs/s | tlsgate is faster by |
|---|---:|---:|---:|
| tlsgate cert issue --batch | $N_T | $r_t | - |
| openssl CLI loop (guides' recipe) | $N_O | $r_o | $(ratio "$r_t" "$r_o") |
| easy-rsa 3.1 build-client-full | $N_E | $r_e | $(ratio "$r_t" "$r_e") |
OUT
