#!/usr/bin/env bash
# A full disk (a small tmpfs, filled page by page): `cert issue` fails at
# whichever write meets it first (staging a file, the inventory's commit),
# says "disk full" with the path, never prints "Issued", and leaves nothing at
# a final name and no valid row; revoke on the full disk says "disk full"
# naming the inventory, not "disk I/O error". Once there is room, the next run
# settles what was left and files == inventory.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=lib/inventory.sh
. "$(dirname "$0")/lib/inventory.sh"
[ "$(id -u)" -eq 0 ] || { echo "SKIP: mounting a small tmpfs needs root"; exit 77; }
cd "$WORK"
mkdir small
mount -t tmpfs -o size=1m,mode=0755 tlsgate-e2e-full small || { echo "SKIP: cannot mount tmpfs"; exit 77; }
on_exit umount -l "$WORK/small"

tg ca init --dir small/ca >/dev/null
tg cert issue keep --dir small/ca >/dev/null

# Fill the file system with one-page files; free them one by one later.
fill=0
while dd if=/dev/zero of="small/fill$fill" bs=4k count=1 2>/dev/null; do
	fill=$((fill + 1))
done
rm -f "small/fill$fill"

expect_fail 1 tg cert revoke --cert small/ca/issued/keep.crt --dir small/ca
assert_contains "$OUT" "disk full" "revoke on a full disk"
assert_contains "$OUT" "small/ca/tlsgate.db" "revoke on a full disk names the inventory"
assert_not_contains "$OUT" "disk I/O error" "revoke on a full disk"

# Free a page at a time until the issue goes through; every failure on the
# way must be clean.
commit_failed=0
issued=0
for ((i = 0; i < 40 && !issued; i++)); do
	rm -f "small/fill$i"
	rc=0
	"$TLSGATE" cert issue x --dir small/ca >out.log 2>err.log || rc=$?
	if [ "$rc" -eq 0 ]; then
		issued=1
		assert_contains "$(cat out.log)" "Issued x" "the issue that went through"
		break
	fi
	assert_eq 1 "$rc" "exit code of an issue on a full disk ($(cat err.log))"
	assert_not_contains "$(cat out.log)" "Issued" "stdout of a failed issue (free pages: $((i + 1)))"
	assert_contains "$(cat err.log)" "disk full" "why the issue failed (free pages: $((i + 1)))"
	[ ! -e small/ca/issued/x.crt ] && [ ! -e small/ca/issued/x.key ] ||
		fail "a failed issue left files at their final names (free pages: $((i + 1)))"
	case $(cat err.log) in *"inventory small/ca/tlsgate.db: disk full ("*COMMIT*) commit_failed=1 ;; esac
done
assert_eq 1 "$issued" "the issue went through once there was room"
assert_eq 1 "$commit_failed" "some issue got as far as the inventory's commit before the disk was full"
pass "a full disk: each failed issue said disk full, printed no Issued, left no file"

rm -f small/fill*
tg cert issue y --dir small/ca >/dev/null 2>&1
assert_files_match_inventory small/ca small/ca/issued
assert_eq "valid" "$(sqlite3 small/ca/tlsgate.db "select group_concat(status) from certs where cn = 'x' and status != 'void'")" \
	"x's rows: the one issued, the failed ones void or never written"
tg cert revoke --cert small/ca/issued/keep.crt --dir small/ca >/dev/null
pass "with room again: files == inventory, revoke works"
