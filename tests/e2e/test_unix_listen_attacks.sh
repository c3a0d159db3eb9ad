#!/usr/bin/env bash
# A unix listening socket against other users of the machine:
# - the socket swapped for a symlink between bind and chmod (an LD_PRELOAD
#   shim does the swap, as a user able to write the directory could): the
#   listener refuses, and the file the symlink points to keeps its mode and
#   owner (it used to get the socket's);
# - a directory owned by another user, or writable by all or by its group
#   without the sticky bit: refused, nothing created; a sticky one (like
#   /tmp) is fine;
# - a symlink planted at the path (to a socket or a file): refused, both
#   left as they were;
# - owner= naming no user, and a --target unix: path too long for
#   sun_path: a clear error.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib/pki.sh"

pki_gateway "Unix CA"
cl=(--target localhost:1 --ca "$WORK/ca/ca.crt" --workers 1)
mkdir -m 700 "$WORK/run"

# The swap between bind and chmod.
cc -shared -fPIC -o "$WORK/bind_swap.so" "$TLSGATE_SRC/tests/e2e/lib/bind_swap.c" -ldl
echo "secret" >"$WORK/victim"
chmod 600 "$WORK/victim"
before=$(stat -c '%a %U:%G' "$WORK/victim")
rc=0
OUT=$(TG_SWAP_PATH="$WORK/run/swap.sock" TG_SWAP_VICTIM="$WORK/victim" LD_PRELOAD="$WORK/bind_swap.so" \
	timeout 60 "$TLSGATE" connect --listen "unix:$WORK/run/swap.sock,mode=0666,owner=nobody:nogroup" \
	"${cl[@]}" 2>&1) || rc=$?
[ "$rc" != 0 ] || fail "the listener started on a swapped socket: $OUT"
assert_eq "$before" "$(stat -c '%a %U:%G' "$WORK/victim")" "the symlink's target after the refusal"
assert_contains "$OUT" "$WORK/run/swap.sock is no longer the socket just bound (replaced by another user?); left as it is" \
	"the reason"
[ -L "$WORK/run/swap.sock" ] || fail "the planted symlink was removed"
pass "a socket swapped for a symlink before chmod: refused, its target keeps mode and owner ($before)"

# Directories other users can change.
mkdir "$WORK/theirs" && chown nobody "$WORK/theirs"
expect_fail 1 tg connect --listen "unix:$WORK/theirs/app.sock" "${cl[@]}"
assert_contains "$OUT" "directory $WORK/theirs belongs to another user (uid $(id -u nobody)), who could replace the socket" \
	"another user's directory"
[ -z "$(ls -A "$WORK/theirs")" ] || fail "something was created in $WORK/theirs"
mkdir "$WORK/open" && chmod 0777 "$WORK/open"
expect_fail 1 tg connect --listen "unix:$WORK/open/app.sock" "${cl[@]}"
assert_contains "$OUT" "directory $WORK/open is writable by all users (mode 0777, no sticky bit)" "world-writable"
[ -z "$(ls -A "$WORK/open")" ] || fail "something was created in $WORK/open"
# Writable by its group (nogroup): any of its members could swap the socket too.
mkdir "$WORK/group" && chown root:nogroup "$WORK/group" && chmod 0775 "$WORK/group"
expect_fail 1 tg connect --listen "unix:$WORK/group/app.sock" "${cl[@]}"
assert_contains "$OUT" "directory $WORK/group is writable by its group (mode 0775, no sticky bit), who could replace the socket" \
	"group-writable"
assert_contains "$OUT" "chmod go-w $WORK/group: clients need no write access to it), or set its sticky bit (chmod +t $WORK/group)" \
	"group-writable: the fix"
[ -z "$(ls -A "$WORK/group")" ] || fail "something was created in $WORK/group"
pass "a directory of another user, writable by all, or writable by its group: refused, nothing created"

mkdir "$WORK/sticky" && chmod 1777 "$WORK/sticky"
start_bg sticky timeout 60 "$TLSGATE" connect --listen "unix:$WORK/sticky/app.sock,mode=0600" "${cl[@]}"
wait_log "$WORK/sticky.log" "ready:"
assert_eq "socket 600" "$(stat -c '%F %a' "$WORK/sticky/app.sock")" "the socket in the sticky directory"
mkdir "$WORK/gsticky" && chown root:nogroup "$WORK/gsticky" && chmod 1775 "$WORK/gsticky"
start_bg gsticky timeout 60 "$TLSGATE" connect --listen "unix:$WORK/gsticky/app.sock,mode=0600" "${cl[@]}"
wait_log "$WORK/gsticky.log" "ready:"
assert_eq "socket 600" "$(stat -c '%F %a' "$WORK/gsticky/app.sock")" "the socket in the group's sticky directory"
pass "a sticky directory writable by all (like /tmp) or by its group is fine"

# Symlinks planted at the path.
python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])' "$WORK/stale.sock"
ln -s "$WORK/stale.sock" "$WORK/run/link.sock"
ln -s "$WORK/victim" "$WORK/run/link2.sock"
before=$(snapshot "$WORK/run"; stat -c '%a %F' "$WORK/stale.sock" "$WORK/victim")
expect_fail 1 tg connect --listen "unix:$WORK/run/link.sock" "${cl[@]}"
assert_contains "$OUT" "$WORK/run/link.sock exists and is not a socket (another kind of file); tlsgate does not remove it" \
	"symlink to a stale socket"
expect_fail 1 tg connect --listen "unix:$WORK/run/link2.sock" "${cl[@]}"
assert_contains "$OUT" "$WORK/run/link2.sock exists and is not a socket (another kind of file)" "symlink to a file"
assert_eq "$before" "$(snapshot "$WORK/run"; stat -c '%a %F' "$WORK/stale.sock" "$WORK/victim")" \
	"the symlinks and their targets after the refusals"
pass "a symlink at the path (to a stale socket, to a file): refused, all left as it was"

# Bad names.
expect_fail 2 tg connect --listen "unix:$WORK/run/x.sock,owner=no-such-user-tg" "${cl[@]}"
assert_contains "$OUT" "no-such-user-tg" "owner= naming no user"
[ ! -e "$WORK/run/x.sock" ] || fail "a socket was made for an unknown owner"
long=/tmp/$(printf 'd%.0s' $(seq 120)).sock
expect_fail 2 tg connect --listen 127.0.0.1:1 --target "unix:$long" --ca "$WORK/ca/ca.crt" --verify-name localhost
assert_contains "$OUT" "107 bytes" "a --target unix: path too long"
pass "owner= of no user and a unix target past sun_path: clear errors ($(echo "$OUT" | head -n1))"
