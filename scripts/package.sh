#!/usr/bin/env bash
# Builds the Debian package tlsgate_VERSION_ARCH.deb into OUT (default:
# build-deb/), installing what the build needs first (deps.sh build package).
# The build runs on a copy of the tree in a temporary directory, so the
# source tree gets nothing but OUT. Fails when lintian finds an error or a
# warning in the package.
#   scripts/package.sh [OUT]
set -euo pipefail
cd "$(dirname "$0")/.."
src=$PWD
out=${1:-build-deb}
mkdir -p "$out"
out=$(cd "$out" && pwd)

scripts/deps.sh build package

tmp=$(mktemp -d "${TMPDIR:-/tmp}/tlsgate-package.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/tlsgate"
# The files of the checkout (committed or not, never ignored ones such as
# build directories), or the whole tree when it is not a git checkout.
if git -C "$src" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	git -C "$src" ls-files -z --cached --others --exclude-standard |
		while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
		tar --null -T - -cf - | tar -xf - -C "$tmp/tlsgate"
else
	tar --exclude='./build*' --exclude=./demo-out --exclude=./.git -cf - . | tar -xf - -C "$tmp/tlsgate"
fi

echo "package.sh: building in $tmp (log: build.log there on failure)" >&2
if ! (cd "$tmp/tlsgate" && dpkg-buildpackage -b -us -uc -j"$(nproc)") >"$tmp/build.log" 2>&1; then
	tail -n 60 "$tmp/build.log" >&2
	echo "package.sh: dpkg-buildpackage failed" >&2
	exit 1
fi
debs=("$tmp"/tlsgate_*.deb)
cp "${debs[@]}" "$out/"
for d in "${debs[@]}"; do
	echo "$out/$(basename "$d")"
done
# Errors and warnings fail the build; informational tags are shown.
if ! lintian --info --fail-on error,warning "${debs[@]}" >&2; then
	echo "package.sh: lintian found errors or warnings (above)" >&2
	exit 1
fi
echo "package.sh: lintian: no errors or warnings" >&2
