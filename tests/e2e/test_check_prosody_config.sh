#!/usr/bin/env bash
# `tlsgate check --prosody-config` against `prosodyctl --config FILE check
# certs` on the same Debian-style Prosody config (prosody.cfg.lua with
# comments in both styles, three VirtualHosts, one of them disabled, two
# Components, an Include of conf.d/*.cfg.lua): both check the same hosts,
# flag the same ones, and tlsgate gives the expected code for each host,
# naming the config line the host comes from. Then the `certificates`
# option, an Include that matches nothing, and every refusal with its exact
# message.
. "$(dirname "$0")/lib.sh"
. "$TLSGATE_SRC/tests/e2e/lib/pki.sh"
command -v prosodyctl >/dev/null || { echo "SKIP: prosody not installed (scripts/deps.sh test)"; exit 77; }
id prosody >/dev/null 2>&1 || { echo "SKIP: no prosody user"; exit 77; }
cd "$WORK"

E=$WORK/etc # stands for /etc/prosody
P=$WORK/pki
mkdir -p "$E/certs" "$E/conf.d" "$P" "$WORK/data"
chown prosody "$WORK/data"
pki_cert "$P/root" self root "/CN=prosody e2e Root"
pki_cert "$P/inter" "$P/root" inter "/CN=prosody e2e Inter"
pki_cert "$P/good" "$P/inter" server "/CN=good.example" "DNS:good.example"
pki_cert "$P/other" "$P/inter" server "/CN=other.example" "DNS:other.example"

# install HOST CERT: HOST.crt (leaf + intermediate) and HOST.key as
# `prosodyctl cert import` leaves them (root:prosody 0640).
install() {
	cat "$P/$2.crt" "$P/inter.crt" >"$E/certs/$1.crt"
	cp "$P/$2.key" "$E/certs/$1.key"
	chown root:prosody "$E/certs/$1.key"
	chmod 640 "$E/certs/$1.key"
}
install good.example good
install wrong.example other # the certificate of another name

cat >"$E/prosody.cfg.lua" <<EOF
-- Prosody config, Debian layout: certs/ and conf.d/ next to this file.
pidfile = "$WORK/prosody.pid"
data_path = '$WORK/data'
admins = { }

--[[ The old server, kept for reference:
VirtualHost "old.example"
Component "conference.old.example" "muc"
]]
-- VirtualHost "commented.example"

VirtualHost "Good.example" -- nameprep lower-cases it

VirtualHost('disabled.example')
    enabled = false -- its certificate is not installed yet

Component "conference.good.example" "muc"
    modules_enabled = { "muc_mam" }; name = "--[[ not a comment ]]"

Include "conf.d/*.cfg.lua"
EOF
cat >"$E/conf.d/wrong.example.cfg.lua" <<'EOF'
VirtualHost ( "wrong.example" )
EOF
cat >"$E/conf.d/upload.cfg.lua" <<'EOF'
--[==[ file sharing
]] still the comment ]=]
]==]
Component 'upload.example' "http_file_share" {
    http_file_share_size_limit = 10 * 1024 * 1024;
}
EOF
printf 'VirtualHost "hidden.example"\n' >"$E/conf.d/.hidden.cfg.lua"
printf 'VirtualHost "old.example"\n' >"$E/conf.d/old.cfg.lua.dpkg-old"

# prosody_check CONFIG OUT: prosodyctl's own verdict on that config.
prosody_check() {
	timeout 120 prosodyctl --config "$1" check certs >"$2" 2>&1 || true
}
# The hosts prosodyctl checked, sorted.
prosody_hosts() {
	awk '/^Checking certificate for /{print $4}' "$1" | sort | paste -sd' ' -
}
# What prosodyctl says about host H: the lines under "Checking certificate
# for H" but the "Certificate: path" line (its certmanager log lines
# interleave).
prosody_flags() {
	awk -v h="$2" '/^Checking certificate for /{on = ($4 == h); next}
		/^certmanager /{next}
		/^[^ ]/{on = 0} on && /^ / && !/^  Certificate: /{sub(/^ +/, ""); print}' "$1" |
		paste -sd';' -
}
# tlsgate's codes for host H, from its JSON: findings of the subjects that
# serve H, a name-mismatch only when it is about H.
tlsgate_codes() {
	jq -r --arg h "$2" '.subjects[] | select(.hosts | index($h))
		| .findings[] | select(.severity != "info")
		| select(.code != "name-mismatch" or (.message | contains("does not cover " + $h + " (")))
		| .code' "$1" | sort -u | paste -sd' ' -
}
tlsgate_hosts() {
	jq -r '[.hosts[] | select(.checked) | .name] | sort | join(" ")' "$1"
}

# --- the same config through both ---
prosody_check "$E/prosody.cfg.lua" prosodyctl.out
rc=0
tg check --prosody-config "$E/prosody.cfg.lua" --owner prosody --ca "$P/root.crt" --no-system-ca \
	--json >check.json 2>check.err || rc=$?
assert_eq 1 "$rc" "tlsgate exit on the broken hosts ($(cat check.err))"
assert_eq "conference.good.example good.example upload.example wrong.example" \
	"$(prosody_hosts prosodyctl.out)" "the hosts prosodyctl checks"
assert_eq "$(prosody_hosts prosodyctl.out)" "$(tlsgate_hosts check.json)" \
	"tlsgate checks the hosts prosodyctl checks"
pass "both check the same hosts: comments, .hidden and .dpkg-old files and the disabled host left out"

# HOST | what prosodyctl must say (a substring) | tlsgate's codes
expect=(
	"good.example||"
	"conference.good.example|Not valid for server-to-server connections to conference.good.example.|name-mismatch"
	"wrong.example|Not valid for client connections to wrong.example.|name-mismatch"
	"upload.example|No 'certificate' found for upload.example|host-uncovered"
)
printf '%-26s %-62s %s\n' HOST "prosodyctl check certs" "tlsgate check" >table.txt
for row in "${expect[@]}"; do
	IFS='|' read -r h want_p want_t <<<"$row"
	p=$(prosody_flags prosodyctl.out "$h")
	t=$(tlsgate_codes check.json "$h")
	printf '%-26s %-62.62s %s\n' "$h" "${p:--}" "${t:--}" >>table.txt
	assert_contains "$p" "$want_p" "prosodyctl on $h"
	assert_eq "$want_t" "$t" "tlsgate's codes for $h"
	if { [ -z "$p" ] && [ -n "$t" ]; } || { [ -n "$p" ] && [ -z "$t" ]; }; then
		fail "$h: prosodyctl says [$p], tlsgate [$t]: they must flag the same hosts"
	fi
done
cat table.txt
pass "tlsgate flags exactly the hosts prosodyctl flags, with the expected code for each"

# Where each host came from: its file and line.
assert_eq "$E/prosody.cfg.lua:12 VirtualHost -
$E/prosody.cfg.lua:17 Component muc
$E/conf.d/upload.cfg.lua:4 Component http_file_share
$E/conf.d/wrong.example.cfg.lua:1 VirtualHost -
$E/prosody.cfg.lua:14 VirtualHost - disabled" \
	"$(jq -r '.hosts[] | "\(.file):\(.line) \(.kind) \(.module // "-")\(if .checked then "" else " disabled" end)"' check.json)" \
	"hosts with their origin"
assert_eq "$E/certs default true 3" \
	"$(jq -r '.prosody_config | "\(.certs_dir) \(.certs_dir_from) \(.certs_dir_checked) \(.files | length)"' check.json)" \
	"prosody_config in the JSON"
msg=$(jq -r '.subjects[] | select(.subject == "host upload.example") | .findings[0].message' check.json)
assert_eq "no certificate in sight is for upload.example (Component at $E/conf.d/upload.cfg.lua:4): no upload.example.crt or upload.example/fullchain.pem, none for its parent domain, and no other certificate covers it" \
	"$msg" "host-uncovered names the config line"
msg=$(jq -r '.subjects[].findings[] | select(.code == "name-mismatch") | .message' check.json | grep conference)
assert_eq "$E/certs/good.example.crt (CN=good.example) does not cover conference.good.example (Component at $E/prosody.cfg.lua:17); it covers DNS:good.example" \
	"$msg" "name-mismatch names the config line"
out=$(tg check --prosody-config "$E/prosody.cfg.lua" --owner prosody --ca "$P/root.crt" --no-system-ca) || true
assert_contains "$out" "Prosody config $E/prosody.cfg.lua (and 2 included files): hosts good.example, conference.good.example, upload.example, wrong.example; not checked (disabled, or certificate files tlsgate cannot tell): disabled.example; certs dir $E/certs" \
	"the text report says where the hosts came from"
pass "the report names the config file and line of every host"

# DIR after the config replaces the certs dir: the same findings.
tg check --prosody-config "$E/prosody.cfg.lua" "$E/certs/" --owner prosody --ca "$P/root.crt" \
	--no-system-ca --json >dir.json || true
assert_eq "$(jq -c '[.subjects[].findings[].code]' check.json)" \
	"$(jq -c '[.subjects[].findings[].code]' dir.json)" "findings with DIR given"
assert_eq false "$(jq -r '.prosody_config.certs_dir_checked' dir.json)" "DIR given: certs dir not read"
pass "a DIR after the config is checked instead of the config's certs dir"

# --- certificates = "dir" (relative to the config's dir), and a conf.d
# Include that matches nothing: prosodyctl loads it, tlsgate warns ---
mkdir -p "$E/tls" "$E/extra.d"
cp -a "$E/certs/good.example.crt" "$E/certs/good.example.key" "$E/tls/"
cat >"$E/tls.cfg.lua" <<EOF
data_path = "$WORK/data"
certificates = "tls"
VirtualHost "good.example"
Include "extra.d/*.cfg.lua"
EOF
prosody_check "$E/tls.cfg.lua" tls.out
assert_contains "$(cat tls.out)" "Certificate: $E/tls/good.example.crt" "prosodyctl follows certificates"
assert_eq "" "$(prosody_flags tls.out good.example)" "prosodyctl: nothing wrong"
rc=0
tg check --prosody-config "$E/tls.cfg.lua" --owner prosody --ca "$P/root.crt" --no-system-ca \
	--json >tls.json || rc=$?
assert_eq 0 "$rc" "a warning only: exit 0"
assert_eq "$E/tls $E/tls.cfg.lua:2" \
	"$(jq -r '.prosody_config | "\(.certs_dir) \(.certs_dir_from)"' tls.json)" "certs dir from the option"
assert_eq "$E/tls.cfg.lua warning prosody-include-empty $E/tls.cfg.lua:4: Include \"extra.d/*.cfg.lua\" matches no file in $E/extra.d: hosts meant to be there are not defined" \
	"$(jq -r '.subjects[] | .subject as $s | .findings[] | "\($s) \(.severity) \(.code) \(.message)"' tls.json)" \
	"the only finding: the empty Include"
pass "certificates = \"tls\" is followed; an empty Include is a warning"

# --- ssl options: a host served the files its ssl table names (relative
# to the config's dir), a subdomain taking its parent's table, a table
# naming another name's certificate, one with no key, and one tlsgate
# cannot read. prosodyctl checks the same files. ---
mkdir -p "$E/ssl"
pki_cert "$P/own" "$P/inter" server "/CN=own.example" "DNS:own.example"
for n in own other; do
	cat "$P/$n.crt" "$P/inter.crt" >"$E/ssl/$n.crt"
	cp "$P/$n.key" "$E/ssl/$n.key"
	chown root:prosody "$E/ssl/$n.key"
	chmod 640 "$E/ssl/$n.key"
done
cat >"$E/ssl.cfg.lua" <<EOF
data_path = "$WORK/data"
certificates = "tls"
VirtualHost "good.example"
VirtualHost "own.example"
    ssl = { certificate = "ssl/own.crt"; key = "ssl/own.key" }
Component "conference.own.example" "muc"
VirtualHost "mis.example"
    ssl = {
        key = "$E/ssl/other.key";
        certificate = "$E/ssl/other.crt";
    }
VirtualHost "nokey.example"
    ssl = { certificate = "ssl/own.crt" }
VirtualHost "lua.example"
    ssl = { certificate = CERT_PATH; key = "ssl/own.key" }
EOF
prosody_check "$E/ssl.cfg.lua" ssl.out
assert_contains "$(cat ssl.out)" "Certificate: $E/ssl/own.crt" "prosodyctl serves own.example its ssl table's file"
rc=0
tg check --prosody-config "$E/ssl.cfg.lua" --owner prosody --ca "$P/root.crt" --no-system-ca \
	--json >ssl.json || rc=$?
assert_eq 1 "$rc" "tlsgate exit with a mismatched name and a missing key"
# HOST | what prosodyctl must say (a substring) | tlsgate's codes
expect=(
	"good.example||"
	"own.example||"
	"conference.own.example|Not valid for server-to-server connections to conference.own.example.|name-mismatch"
	"mis.example|Not valid for client connections to mis.example.|name-mismatch"
)
for row in "${expect[@]}"; do
	IFS='|' read -r h want_p want_t <<<"$row"
	p=$(prosody_flags ssl.out "$h")
	assert_contains "$p" "$want_p" "prosodyctl on $h"
	[ -n "$want_p" ] || assert_eq "" "$p" "prosodyctl finds nothing wrong with $h"
	assert_eq "$want_t" "$(tlsgate_codes ssl.json "$h")" "tlsgate's codes for $h"
done
assert_contains "$(prosody_flags ssl.out nokey.example)" \
	"No key present in SSL/TLS configuration for nokey.example" "prosodyctl refuses nokey.example"
notes=$(jq -r --arg f "$E/ssl.cfg.lua" '.subjects[] | select(.subject == $f) | .findings[]
	| "\(.severity) \(.code) \(.message)"' ssl.json)
assert_eq "error prosody-ssl-no-key $E/ssl.cfg.lua:13: VirtualHost \"nokey.example\" is served certificate = \"$E/ssl/own.crt\" with no key: Prosody refuses it (\"No key present in SSL/TLS configuration for nokey.example\")
warning prosody-unread $E/ssl.cfg.lua:15: the ssl option of VirtualHost \"lua.example\" is not a table of literal paths tlsgate reads: which certificate Prosody serves it is unknown, so the host is left out" \
	"$notes" "the config's own findings: no key (in Prosody's words), a table tlsgate cannot read"
assert_eq "good.example true - -,own.example true $E/ssl/own.crt $E/ssl/own.key,conference.own.example true $E/ssl/own.crt $E/ssl/own.key,mis.example true $E/ssl/other.crt $E/ssl/other.key,nokey.example false $E/ssl/own.crt -,lua.example false - -" \
	"$(jq -r '[.hosts[] | "\(.name) \(.checked) \(.ssl_certificate // "-") \(.ssl_key // "-")"] | join(",")' ssl.json)" \
	"which files serve each host"
assert_eq "$E/ssl/other.crt:mis.example $E/ssl/own.crt:conference.own.example,own.example $E/tls/good.example.crt:good.example" \
	"$(jq -r '[.subjects[] | select((.hosts // []) | length > 0) | "\(.subject):\(.hosts | sort | join(","))"] | sort | join(" ")' ssl.json)" \
	"each host is checked against the certificate its ssl option names, and only that one"
pass "ssl options: each host is checked against the files Prosody serves it; tlsgate flags what prosodyctl flags"

# --- refusals: exit 2, the file and line, and what to do ---
# refuse WANT ARGS...: tlsgate check ARGS must exit 2 saying exactly WANT.
refuse() {
	local want=$1
	shift
	expect_fail 2 "$TLSGATE" check "$@"
	assert_eq "$want" "$OUT" "tlsgate check $*"
}
refuse "tlsgate: could not check: cannot read the Prosody config: $WORK/nope.cfg.lua: no such file; give the file Prosody runs with (Debian: /etc/prosody/prosody.cfg.lua)" \
	--prosody-config "$WORK/nope.cfg.lua"
refuse "tlsgate: could not check: cannot read the Prosody config: $E is a directory, expected a file; give the file Prosody runs with (Debian: /etc/prosody/prosody.cfg.lua)" \
	--prosody-config "$E"
pass "an unreadable config is refused"

# Configs Prosody refuses too: prosodyctl says so, tlsgate names the line.
printf 'VirtualHost "good.example"\n\nInclude "missing.cfg.lua"\n' >"$E/r1.cfg.lua"
prosody_check "$E/r1.cfg.lua" r1.out
assert_contains "$(cat r1.out)" "Error loading included $E/missing.cfg.lua" "prosodyctl refuses the missing Include"
refuse "tlsgate: could not check: $E/r1.cfg.lua:3: Include \"missing.cfg.lua\": cannot read $E/missing.cfg.lua: no such file (Prosody refuses to start with this config too); fix the path or remove the Include" \
	--prosody-config "$E/r1.cfg.lua"
printf 'VirtualHost "good.example"\nInclude "nodir/*.cfg.lua"\n' >"$E/r2.cfg.lua"
prosody_check "$E/r2.cfg.lua" r2.out
assert_contains "$(cat r2.out)" "cannot open $E/nodir" "prosodyctl refuses a glob in a missing dir"
refuse "tlsgate: could not check: $E/r2.cfg.lua:2: Include \"nodir/*.cfg.lua\": cannot open the directory $E/nodir: No such file or directory (Prosody stops there too); create it or fix the Include" \
	--prosody-config "$E/r2.cfg.lua"
printf 'VirtualHost "good.example"\n  motd = "unfinished\n' >"$E/conf.d/zz-broken.cfg.lua"
prosody_check "$E/prosody.cfg.lua" r3.out
assert_contains "$(cat r3.out)" "unfinished string" "prosodyctl refuses the broken string"
refuse "tlsgate: could not check: $E/conf.d/zz-broken.cfg.lua:2: string not closed: add the closing \" (Prosody cannot load this file either)" \
	--prosody-config "$E/prosody.cfg.lua"
rm "$E/conf.d/zz-broken.cfg.lua"
pass "configs Prosody refuses are refused with the file and line"

# Configs only running Lua would tell, or that leave nothing to check.
printf 'local domain = "example.com"\nVirtualHost("xmpp." .. domain)\n' >"$E/r4.cfg.lua"
refuse "tlsgate: could not check: $E/r4.cfg.lua:2: VirtualHost must be followed by a quoted name, as in VirtualHost \"example.com\": tlsgate reads the config without running it, so it cannot work out a name computed in Lua; write the name as a string, or give the hosts with --host" \
	--prosody-config "$E/r4.cfg.lua"
printf 'certificates = ENV_CERTS\nVirtualHost "good.example"\n' >"$E/r5.cfg.lua"
refuse "tlsgate: could not check: $E/r5.cfg.lua:1: certificates = ... is an expression tlsgate does not evaluate; give the certs dir after the config: tlsgate check --prosody-config $E/r5.cfg.lua DIR" \
	--prosody-config "$E/r5.cfg.lua"
out=$(tg check --prosody-config "$E/r5.cfg.lua" "$E/tls" --ca "$P/root.crt" --no-system-ca)
assert_contains "$out" "All checks passed" "with DIR the expression does not matter"
printf 'certificates = "/nonexistent/certs"\nVirtualHost "good.example"\n' >"$E/r6.cfg.lua"
refuse "tlsgate: could not check: cannot read the certs dir /nonexistent/certs (certificates at $E/r6.cfg.lua:1): No such file or directory; create it, fix \`certificates\` in the config, or give the dir after the config: tlsgate check --prosody-config $E/r6.cfg.lua DIR" \
	--prosody-config "$E/r6.cfg.lua"
printf 'VirtualHost "good.example"\n  enabled = false\n' >"$E/r7.cfg.lua"
refuse "tlsgate: could not check: $E/r7.cfg.lua defines no enabled VirtualHost or Component (1 disabled or left out): there is nothing to check the certificates against; enable one or give names with --host" \
	--prosody-config "$E/r7.cfg.lua"
pass "Lua tlsgate would have to run, a missing certs dir and no hosts are refused"

refuse "tlsgate: usage error: --prosody-config given twice; check one Prosody config at a time
Run \`tlsgate help check\` for the options." \
	--prosody-config "$E/prosody.cfg.lua" --prosody-config "$E/tls.cfg.lua"
refuse "tlsgate: usage error: --prosody-config does not go with check endpoint (each host may be served its own certificate); give the name with --sni
Run \`tlsgate help check\` for the options." \
	endpoint 127.0.0.1:5222 --prosody-config "$E/prosody.cfg.lua"
pass "usage errors"
