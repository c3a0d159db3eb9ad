#!/usr/bin/env bash
# Builds every fuzz target (tests/fuzz/fuzz_*.c; clang, libFuzzer, ASan and
# UBSan, the core instrumented for coverage) and runs each for SECONDS
# (default 600). Each target keeps its corpus in build-fuzz/fuzz-corpus/NAME,
# seeded from tests/fuzz/corpus/NAME; crashes land in
# build-fuzz/fuzz-artifacts/. Exits 1 if any target crashed.
#   scripts/fuzz.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-600}
case "$secs" in
'' | *[!0-9]*) echo "fuzz.sh: SECONDS must be a number, not '$secs'" >&2; exit 2 ;;
esac
scripts/deps.sh fuzz
CC=clang cmake -S . -B build-fuzz -DTLSGATE_FUZZ=ON -DTLSGATE_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build build-fuzz -j"$(nproc)" --target fuzz_all >/dev/null
mkdir -p build-fuzz/fuzz-artifacts
failed=()
for src in tests/fuzz/fuzz_*.c; do
	name=$(basename "$src" .c)
	corpus=build-fuzz/fuzz-corpus/$name
	seeds=()
	[ -d "tests/fuzz/corpus/$name" ] && seeds=("tests/fuzz/corpus/$name")
	mkdir -p "$corpus"
	echo "== $name: $secs s"
	if ! build-fuzz/tests/"$name" -max_total_time="$secs" -max_len=8192 -timeout=10 \
		-artifact_prefix="build-fuzz/fuzz-artifacts/$name-" "$corpus" "${seeds[@]}" \
		2>"build-fuzz/$name.log"; then
		failed+=("$name")
		tail -n 40 "build-fuzz/$name.log" >&2
	fi
	# "#RUNS DONE cov: EDGES ... corp: INPUTS/BYTES", then "Done RUNS runs in S second(s)"
	grep -E '^Done|DONE' "build-fuzz/$name.log" | tail -n 2 || true
done
if [ ${#failed[@]} -gt 0 ]; then
	echo "fuzz.sh: crashes in ${failed[*]}; inputs in build-fuzz/fuzz-artifacts/" >&2
	exit 1
fi
echo "fuzz.sh: every target ran $secs s without a crash"
