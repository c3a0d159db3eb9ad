#!/usr/bin/env bash
# Builds tlsgate optimised (it must compile warning-free), then runs every
# test twice: a normal build, then an
# AddressSanitizer + UndefinedBehaviorSanitizer build; then builds every fuzz
# target with clang and runs each for a short time (a target that no longer
# builds, or finds a crash, fails). Installs what the tests need (real
# PostgreSQL, nginx, NSS tools, mosquitto, clang; debhelper and lintian for
# the package test...) first.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh build test package

run_suite() { # build-dir label cmake-args...
	local dir=$1 label=$2
	shift 2
	echo "== $label: building in $dir"
	cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Debug -DTLSGATE_TESTS_REQUIRED=ON "$@" >/dev/null
	cmake --build "$dir" -j"$(nproc)" >/dev/null
	echo "== $label: running the tests"
	(cd "$dir" && ctest --output-on-failure --timeout 900)
}

# The optimiser sees more (inlined format bounds, for one): an optimised
# build must compile warning-free too, as the benchmarks build it.
echo "== Release build: compiling with optimisations in build-release"
cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build-release -j"$(nproc)" >/dev/null

run_suite build-test "normal build"
# detect_leaks stays on: every test must free what it allocates.
ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1} \
UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
	run_suite build-asan "ASan+UBSan build" -DTLSGATE_SANITIZE=ON

# Fuzz targets: clang with libFuzzer, the core instrumented for coverage.
scripts/deps.sh fuzz
echo "== fuzz targets: building with clang in build-fuzz"
CC=clang cmake -S . -B build-fuzz -DTLSGATE_FUZZ=ON -DTLSGATE_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug \
	-DTLSGATE_FUZZ_SECONDS="${TLSGATE_FUZZ_SECONDS:-20}" >/dev/null
cmake --build build-fuzz -j"$(nproc)" --target fuzz_all >/dev/null
echo "== fuzz targets: running each for ${TLSGATE_FUZZ_SECONDS:-20} s"
(cd build-fuzz && ctest -L fuzz --output-on-failure)
echo "== all tests passed in both builds, fuzz targets clean"
