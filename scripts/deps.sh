#!/usr/bin/env bash
# Installs the Debian 12 packages tlsgate needs. `deps.sh build` for building,
# `deps.sh demo` adds the two clients the demo runs (curl, python3),
# `deps.sh test` adds the real servers and clients the end-to-end tests use,
# `deps.sh bench` adds the peers the benchmarks compare against,
# `deps.sh package` what scripts/package.sh builds and checks the .deb with,
# `deps.sh fuzz` clang and its libFuzzer runtime for the fuzz targets,
# `deps.sh audit` testssl.sh for scripts/testssl.sh.
# Installs only what is missing, so a second run is quick.
set -euo pipefail

build=(pkg-config libssl-dev libsqlite3-dev libpq-dev libjansson-dev libev-dev
       openssl sqlite3)
test=(libcmocka-dev postgresql postgresql-client nginx-light libnss3-tools curl
      python3 python3-requests python3-cryptography faketime mosquitto mosquitto-clients prosody procps iproute2
      jq util-linux gdb python3-flask gunicorn certbot lego caddy python3-acme)
demo=(curl python3 ca-certificates)
package=(cmake debhelper dpkg-dev fakeroot lintian man-db bash-completion systemd adduser procps)
bench=(easy-rsa haproxy hitch stunnel4 nginx-light hyperfine bc time pebble)
fuzz=(clang libclang-rt-14-dev)
audit=(testssl.sh python3)

want=("${build[@]}")
for what in "$@"; do
	case "$what" in
	build) ;;
	demo) want+=("${demo[@]}") ;;
	test) want+=("${test[@]}") ;;
	bench) want+=("${test[@]}" "${bench[@]}") ;;
	package) want+=("${package[@]}") ;;
	fuzz) want+=("${fuzz[@]}") ;;
	audit) want+=("${audit[@]}") ;;
	*) echo "deps.sh: unknown set '$what' (build, demo, test, bench, package, fuzz, audit)" >&2; exit 2 ;;
	esac
done

missing=()
for p in "${want[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "deps.sh: installing ${missing[*]}" >&2
$sudo apt-get update -qq
# Services from packages must not start on their own: tests start their own.
if [ ! -e /usr/sbin/policy-rc.d ]; then
	printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d >/dev/null
	$sudo chmod 755 /usr/sbin/policy-rc.d
	trap '$sudo rm -f /usr/sbin/policy-rc.d' EXIT
fi
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
