#!/usr/bin/env bash
# tlsgate check over a corpus of broken setups generated here, one per rule:
# each must produce exactly its code (and the right exit status); clean
# setups in every supported layout must pass with exit 0.
set -euo pipefail

: "${TLSGATE:?set TLSGATE to the built binary}"
: "${TLSGATE_SRC:?set TLSGATE_SRC to the source root}"
. "$TLSGATE_SRC/tests/e2e/lib/pki.sh"

W=$(mktemp -d /tmp/tlsgate-check-corpus.XXXXXX)
# The service accounts (--owner) must get through to the keys.
chmod 755 "$W"
LOG=$W/log
failed=0
cleanup() {
	local rc=$?
	if [ $rc -ne 0 ] || [ $failed -ne 0 ]; then
		echo "--- log ($LOG) ---" >&2
		tail -n 80 "$LOG" >&2 || true
	fi
	rm -rf "$W"
}
trap cleanup EXIT
: >"$LOG"

P=$W/pki
mkdir -p "$P"
pki_cert "$P/root" self root "/CN=Corpus Root"
pki_cert "$P/inter" "$P/root" inter "/CN=Corpus Inter"
pki_cert "$P/leaf" "$P/inter" server "/CN=example.com" "DNS:example.com"
pki_cert "$P/direct" "$P/root" server "/CN=direct.example.com" "DNS:direct.example.com"
pki_cert "$P/other" "$P/inter" server "/CN=other.example.com" "DNS:other.example.com"

n=0
# expect NAME EXIT "CODE..." -- tlsgate check arguments
expect() {
	local name=$1 want_rc=$2 want_codes=$3 rc=0 got
	shift 4
	n=$((n + 1))
	"$TLSGATE" check --json --no-system-ca "$@" >"$W/out.json" 2>>"$LOG" || rc=$?
	got=$(jq -r '[.subjects[].findings[].code] | unique | join(" ")' "$W/out.json" 2>>"$LOG" || echo "(no json)")
	want_codes=$(tr ' ' '\n' <<<"$want_codes" | sed '/^$/d' | sort -u | paste -sd' ' -)
	{ echo "== $name: exit $rc, codes [$got]"; cat "$W/out.json"; } >>"$LOG"
	if [ "$rc" != "$want_rc" ] || [ "$got" != "$want_codes" ]; then
		echo "FAIL $name: want exit $want_rc codes [$want_codes], got exit $rc codes [$got]" >&2
		failed=$((failed + 1))
	else
		echo "ok   $name: [$got]"
	fi
}

# A Prosody certs dir for example.com: CHAIN is what goes into HOST.crt.
prosody() {
	local d=$W/c/$1
	shift
	mkdir -p "$d"
	cat "$@" >"$d/example.com.crt"
	cp "$P/leaf.key" "$d/example.com.key"
	chmod 600 "$d/example.com.key"
	echo "$d"
}
CA=(--ca "$P/root.crt")

# --- clean setups ---
d=$(prosody clean "$P/leaf.crt" "$P/inter.crt")
expect clean-prosody 0 "" -- "$d" "${CA[@]}" --host example.com
d=$W/c/clean-prosody-subdir/example.com
mkdir -p "$d"
cat "$P/leaf.crt" "$P/inter.crt" >"$d/fullchain.pem"
cp "$P/leaf.key" "$d/privkey.pem"
expect clean-prosody-subdir 0 "" -- "$W/c/clean-prosody-subdir" "${CA[@]}"
d=$W/c/letsencrypt
mkdir -p "$d/live/example.com" "$d/archive/example.com" "$d/renewal"
cp "$P/leaf.crt" "$d/archive/example.com/cert1.pem"
cp "$P/inter.crt" "$d/archive/example.com/chain1.pem"
cat "$P/leaf.crt" "$P/inter.crt" >"$d/archive/example.com/fullchain1.pem"
cp "$P/leaf.key" "$d/archive/example.com/privkey1.pem"
chmod 600 "$d/archive/example.com/privkey1.pem"
for f in cert chain fullchain privkey; do
	ln -s "../../archive/example.com/${f}1.pem" "$d/live/example.com/$f.pem"
done
echo "# certbot README" >"$d/live/README"
expect clean-certbot-root 0 "" -- "$d" "${CA[@]}"
expect clean-certbot-live 0 "" -- "$d/live/example.com" "${CA[@]}"
d=$W/c/pgdata
mkdir -p "$d"
cat "$P/leaf.crt" "$P/inter.crt" >"$d/server.crt"
cp "$P/leaf.key" "$d/server.key"
cp "$P/root.crt" "$d/root.crt"
pki_crl "$d/root.crl" "$P/root" "-1 hour" "+30 days"
chown postgres "$d/server.key"
chmod 600 "$d/server.key"
expect clean-pgdata-owner 0 "" -- "$d" --owner postgres
chown root:postgres "$d/server.key"
chmod 640 "$d/server.key"
expect clean-pgdata-root-group 0 "" -- "$d" --owner postgres
expect clean-files 0 "" -- "$W/c/clean/example.com.crt" "$W/c/clean/example.com.key" "${CA[@]}" --host example.com

# A tlsgate CA dir made by the workbench, with a server, a client p12 and a CRL.
d=$W/c/tlsgate-ca
"$TLSGATE" ca init --dir "$d" --name "Corpus tlsgate CA" --intermediate >>"$LOG" 2>&1
"$TLSGATE" cert issue example.com --dir "$d" --san www.example.com >>"$LOG" 2>&1
"$TLSGATE" cert issue alice --dir "$d" --client --p12 --p12-no-password >>"$LOG" 2>&1
"$TLSGATE" crl --dir "$d" >>"$LOG" 2>&1
expect clean-tlsgate-ca 0 "" -- "$d"

# --- files ---
expect unreadable 1 "unreadable" -- "$W/c/nowhere/example.com.crt"
d=$W/c/dangling
mkdir -p "$d"
ln -s /nonexistent/fullchain.pem "$d/example.com.crt"
expect unreadable-dangling 1 "unreadable" -- "$d"

d=$W/c/csr
mkdir -p "$d"
openssl req -new -key "$P/leaf.key" -subj /CN=example.com -out "$d/example.com.pem" 2>/dev/null
expect not-certificate 1 "not-certificate" -- "$d/example.com.pem"

d=$W/c/der
mkdir -p "$d"
openssl x509 -in "$P/direct.crt" -outform DER -out "$d/direct.example.com.crt"
cp "$P/direct.key" "$d/direct.example.com.key"
expect der-not-pem 1 "der-not-pem" -- "$d" "${CA[@]}"

d=$W/c/nostart
mkdir -p "$d"
sed '/-----/d' "$P/direct.crt" >"$d/direct.example.com.crt"
expect no-start-line 1 "no-start-line" -- "$d/direct.example.com.crt"
: >"$d/empty.crt"
expect no-start-line-empty 1 "no-start-line" -- "$d/empty.crt"

d=$(prosody crlf "$P/leaf.crt" "$P/inter.crt")
sed -i 's/$/\r/' "$d/example.com.crt"
expect pem-crlf 0 "pem-crlf" -- "$d" "${CA[@]}"

d=$(prosody junk "$P/leaf.crt" "$P/inter.crt")
{ openssl x509 -in "$P/leaf.crt" -text -noout; cat "$P/leaf.crt" "$P/inter.crt"; } >"$d/example.com.crt"
expect pem-junk 0 "pem-junk" -- "$d" "${CA[@]}"

d=$(prosody corrupt "$P/leaf.crt" "$P/inter.crt")
head -n 8 "$P/inter.crt" >"$d/cut.pem"
cat "$P/leaf.crt" "$P/inter.crt" "$d/cut.pem" >"$d/example.com.crt"
rm "$d/cut.pem"
expect pem-corrupt 1 "pem-corrupt" -- "$d" "${CA[@]}"

d=$(prosody encrypted "$P/leaf.crt" "$P/inter.crt")
openssl pkey -in "$P/leaf.key" -aes256 -passout pass:s3cret -out "$d/example.com.key"
chmod 600 "$d/example.com.key"
expect key-encrypted 1 "key-encrypted" -- "$d" "${CA[@]}"
echo wrong >"$W/wrong.pass"
expect key-encrypted-badpass 1 "key-encrypted" -- "$d" "${CA[@]}" --pass-file "$W/wrong.pass"
echo s3cret >"$W/good.pass"
expect key-encrypted-pass 0 "" -- "$d" "${CA[@]}" --pass-file "$W/good.pass"

d=$(prosody world "$P/leaf.crt" "$P/inter.crt")
chmod 644 "$d/example.com.key"
# A leak, not a failure: the service still loads it (a warning); PostgreSQL
# refuses it (an error).
expect key-exposed 0 "key-exposed" -- "$d" "${CA[@]}"
echo 15 >"$d/PG_VERSION"
expect key-world-readable 1 "key-world-readable" -- "$d" "${CA[@]}"

# PostgreSQL's key rule holds in a data directory (PG_VERSION next to the key).
d=$(prosody owner "$P/leaf.crt" "$P/inter.crt")
echo 15 >"$d/PG_VERSION"
chown nobody "$d/example.com.key"
# (postgres cannot open nobody's 0600 key either)
expect key-owner 1 "key-owner key-service-unreadable" -- "$d" "${CA[@]}" --owner postgres
chown postgres "$d/example.com.key"
chmod 640 "$d/example.com.key"
expect key-mode 1 "key-mode" -- "$d" "${CA[@]}" --owner postgres
chown root:root "$d/example.com.key"
chmod 600 "$d/example.com.key"
expect key-service-unreadable 1 "key-service-unreadable" -- "$d" "${CA[@]}" --owner postgres
chown root:prosody "$d/example.com.key"
chmod 640 "$d/example.com.key"
expect key-owner-prosody-ok 0 "" -- "$d" "${CA[@]}" --owner prosody

d=$W/c/p12
mkdir -p "$d"
openssl pkcs12 -export -in "$P/leaf.crt" -inkey "$P/leaf.key" -certfile "$P/inter.crt" \
	-keypbe PBE-SHA1-3DES -certpbe PBE-SHA1-3DES -macalg sha1 -passout pass:s3cret \
	-out "$d/example.p12"
expect p12-legacy 0 "p12-legacy" -- "$d" "${CA[@]}" --pass-file "$W/good.pass"

# --- pairing ---
d=$(prosody mismatch "$P/leaf.crt" "$P/inter.crt")
cp "$P/other.key" "$d/example.com.key"
cat "$P/other.crt" "$P/inter.crt" >"$d/other.example.com.crt"
expect key-mismatch 1 "key-mismatch" -- "$d" "${CA[@]}"
grep -q "belongs to CN=other.example.com" "$W/out.json" || { echo "FAIL key-mismatch: owner not named" >&2; failed=$((failed + 1)); }
rm "$d/other.example.com.crt"
expect key-mismatch-only 1 "key-mismatch" -- "$d" "${CA[@]}"

d=$(prosody keymissing "$P/leaf.crt" "$P/inter.crt")
rm "$d/example.com.key"
expect key-missing 0 "key-missing" -- "$d" "${CA[@]}"

# --- chain ---
d=$(prosody order "$P/inter.crt" "$P/leaf.crt")
expect chain-order 1 "chain-order" -- "$d" "${CA[@]}"
grep -q "no shared cipher" "$W/out.json" || { echo "FAIL chain-order: symptom not explained" >&2; failed=$((failed + 1)); }
# The fix it prints must work.
eval "$(jq -r '.subjects[0].findings[0].fix' "$W/out.json")"
expect chain-order-fixed 0 "" -- "$d" "${CA[@]}"

d=$(prosody incomplete "$P/leaf.crt")
expect chain-incomplete 1 "chain-incomplete" -- "$d" "${CA[@]}"

d=$(prosody rootincl "$P/leaf.crt" "$P/inter.crt" "$P/root.crt")
expect chain-root-included 0 "chain-root-included" -- "$d" "${CA[@]}"

mkdir -p "$P/rekeyed"
pki_cert "$P/rekeyed/inter" "$P/root" inter "/CN=Corpus Inter"
d=$(prosody badsig "$P/leaf.crt" "$P/rekeyed/inter.crt")
expect chain-bad-signature 1 "chain-bad-signature" -- "$d" "${CA[@]}"

d=$(prosody dup "$P/leaf.crt" "$P/inter.crt" "$P/inter.crt")
expect chain-duplicate 0 "chain-duplicate" -- "$d" "${CA[@]}"

d=$(prosody unrelated "$P/leaf.crt" "$P/inter.crt" "$P/direct.crt")
expect chain-unrelated 0 "chain-unrelated" -- "$d" "${CA[@]}"

# --- validity ---
cert_case() { # NAME PROFILE SAN FROM TO [KEYTYPE] [MD] [ISSUER]
	local d=$W/c/$1
	mkdir -p "$d"
	pki_cert "$d/example.com" "${8:-$P/inter}" "$2" "/CN=example.com" "$3" "$4" "$5" "${6:-ec}" "${7:-sha256}"
	rm -rf "$d/example.com.ca"
	if [ "${8:-$P/inter}" = "$P/inter" ]; then cat "$P/inter.crt" >>"$d/example.com.crt"; fi
	echo "$d"
}
d=$(cert_case expired server DNS:example.com "-30 days" "-1 day")
expect expired 1 "expired" -- "$d" "${CA[@]}"
d=$(cert_case notyet server DNS:example.com "+2 days" "+300 days")
expect not-yet-valid 1 "not-yet-valid" -- "$d" "${CA[@]}"
d=$(cert_case critical server DNS:example.com "-10 days" "+12 hours")
expect expiring-critical 1 "expiring-critical" -- "$d" "${CA[@]}"
d=$(cert_case soon server DNS:example.com "-10 days" "+10 days")
expect expiring-soon 0 "expiring-soon" -- "$d" "${CA[@]}"
expect expiring-soon-threshold 0 "" -- "$d" "${CA[@]}" --warn-days 5

# --- names and profile ---
d=$(prosody names "$P/leaf.crt" "$P/inter.crt")
expect name-mismatch 1 "name-mismatch" -- "$d" "${CA[@]}" --host conference.example.com
d=$(cert_case wild server "DNS:*.example.com,DNS:example.com" "-1 hour" "+90 days")
expect wildcard-one-label 0 "" -- "$d" "${CA[@]}" --host conference.example.com
expect wildcard-two-labels 1 "host-uncovered" -- "$d" "${CA[@]}" --host a.b.example.com
mv "$d/example.com.crt" "$d/cert.pem"
mv "$d/example.com.key" "$d/privkey.pem"
expect wildcard-two-labels-file 1 "name-mismatch" -- "$d/cert.pem" "$d/privkey.pem" "${CA[@]}" --host a.b.example.com
d=$(cert_case cnonly server "" "-1 hour" "+90 days")
expect cn-only 1 "cn-only" -- "$d" "${CA[@]}"
d=$(cert_case ipdns server "DNS:example.com,DNS:10.0.0.5" "-1 hour" "+90 days")
expect ip-as-dns 1 "ip-as-dns" -- "$d" "${CA[@]}"
d=$(cert_case eku client DNS:example.com "-1 hour" "+90 days")
expect eku-mismatch 1 "eku-mismatch" -- "$d" "${CA[@]}" --purpose server
expect eku-client-inferred 0 "" -- "$d" "${CA[@]}"
d=$(cert_case leafca leafca DNS:example.com "-1 hour" "+90 days" ec sha256 "$P/root")
expect leaf-is-ca 1 "leaf-is-ca" -- "$d" "${CA[@]}"
d=$(cert_case weakkey server DNS:example.com "-1 hour" "+90 days" rsa1024)
expect weak-key 1 "weak-key" -- "$d" "${CA[@]}"
d=$(cert_case sha1 server DNS:example.com "-1 hour" "+90 days" ec sha1)
expect weak-signature 1 "weak-signature" -- "$d" "${CA[@]}"
d=$(cert_case self server DNS:example.com "-1 hour" "+90 days" ec sha256 self)
expect self-signed 0 "self-signed" -- "$d"

# --- CRLs ---
d=$W/c/crl-expired
mkdir -p "$d"
pki_crl "$d/crl.pem" "$P/inter" "-10 days" "-1 day"
expect crl-expired 1 "crl-expired" -- "$d/crl.pem" "${CA[@]}" --ca "$P/inter.crt"
pki_crl "$d/crl.pem" "$P/inter" "-7 days" "+12 hours"
expect crl-expiring 0 "crl-expiring" -- "$d/crl.pem" "${CA[@]}" --ca "$P/inter.crt"
mkdir -p "$P/impostor"
pki_cert "$P/impostor/inter" self root "/CN=Corpus Inter"
pki_crl "$d/crl.pem" "$P/impostor/inter" "-1 hour" "+7 days"
expect crl-bad-signature 1 "crl-bad-signature" -- "$d/crl.pem" "${CA[@]}" --ca "$P/inter.crt"
pki_cert "$P/revokedleaf" "$P/inter" server "/CN=example.com" "DNS:example.com"
d=$W/c/revoked
mkdir -p "$d"
cat "$P/revokedleaf.crt" "$P/inter.crt" >"$d/example.com.crt"
cp "$P/revokedleaf.key" "$d/example.com.key"
pki_crl "$d/crl.pem" "$P/inter" "-1 hour" "+7 days" "$P/revokedleaf.crt"
expect revoked 1 "revoked" -- "$d" "${CA[@]}"

# --- Prosody config (--prosody-config): hosts from the config, what it
# could not follow under the config file. The corpus's keys are root's
# 0600 (Prosody's own account could not read them): --owner root. ---
CA=(--ca "$P/root.crt" --owner root)
d=$W/c/prosody-config
mkdir -p "$d/conf.d"
printf 'VirtualHost "example.com"\nInclude "conf.d/*.cfg.lua"\n' >"$d/prosody.cfg.lua"
mkdir -p "$d/certs"
cp -a "$W/c/clean/." "$d/certs/"
expect clean-prosody-config 0 "prosody-include-empty" -- --prosody-config "$d/prosody.cfg.lua" "${CA[@]}"
printf 'VirtualHost "example.com"\nRunScript "hosts.lua"\n' >"$d/conf.d/run.cfg.lua"
printf 'VirtualHost "example.com"\nInclude "conf.d/*.cfg.lua"\nVirtualHost "other.example"\n' >"$d/prosody.cfg.lua"
expect prosody-unread 1 "prosody-unread host-uncovered" -- --prosody-config "$d/prosody.cfg.lua" "${CA[@]}"
printf 'VirtualHost "example.com"\nVirtualHost "nokey.example"\nssl = { certificate = "certs/example.com.crt" }\n' >"$d/nokey.cfg.lua"
expect prosody-ssl-no-key 1 "prosody-ssl-no-key" -- --prosody-config "$d/nokey.cfg.lua" "${CA[@]}"
# A password that is Lua: not evaluated, so whether it opens the key is not known.
mkdir -p "$d/tls"
cp "$W/c/clean/example.com.crt" "$d/tls/"
openssl pkey -in "$P/leaf.key" -aes256 -passout pass:s3cret -out "$d/tls/example.com.key"
printf 'VirtualHost "example.com"\nssl = { certificate = "tls/example.com.crt"; key = "tls/example.com.key"; password = os.getenv("PASS") }\n' >"$d/env.cfg.lua"
expect key-passphrase-external 0 "key-passphrase-external" -- --prosody-config "$d/env.cfg.lua" "${CA[@]}"
# https_certificate while the certs dir holds a certificate: Prosody serves
# that one, and never opens the (encrypted) key named.
printf 'https_certificate = "tls/example.com.crt"\nVirtualHost "example.com"\n' >"$d/https.cfg.lua"
expect prosody-service-cert-unused 0 "prosody-service-cert-unused" -- --prosody-config "$d/https.cfg.lua" "${CA[@]}"
CA=(--ca "$P/root.crt")

# --- PostgreSQL config (--pg-config): ssl off by default; on, with its files ---
d=$W/c/pg-config
mkdir -p "$d"
printf "# nothing about TLS: PostgreSQL's default is ssl = off\nport = 5432\n" >"$d/postgresql.conf"
expect pg-ssl-off 1 "pg-ssl-off" -- --pg-config "$d/postgresql.conf"
cp "$W/c/clean/example.com.crt" "$d/server.crt"
cp "$W/c/clean/example.com.key" "$d/server.key"
chmod 600 "$d/server.key"
printf "ssl = on\n" >>"$d/postgresql.conf"
expect clean-pg-config 0 "" -- --pg-config "$d/postgresql.conf" "${CA[@]}"
printf 'hostssl all all 127.0.0.1/32 cert\n' >"$d/pg_hba.conf"
expect pg-hba-client-cert-no-ca 1 "pg-hba-client-cert-no-ca" -- --pg-config "$d/postgresql.conf" "${CA[@]}"
rm "$d/pg_hba.conf"
openssl pkey -in "$P/leaf.key" -aes256 -passout pass:s3cret -out "$d/server.key"
# ssl_passphrase_command runs as the server would run it: its answer opens
# the key, or its failure is the server's failure to start. As root it runs
# as the data directory's owner, never as root: the server's account here.
[ "$(id -u)" -ne 0 ] || chown -R nobody "$d"
printf "ssl_passphrase_command = 'echo s3cret'\n" >>"$d/postgresql.conf"
expect pg-passphrase-command 0 "" -- --pg-config "$d/postgresql.conf" "${CA[@]}"
# Without --ca, a chain ending at an intermediate: the private root not given.
expect chain-root-unknown 0 "chain-root-unknown" -- --pg-config "$d/postgresql.conf"
printf "ssl_passphrase_command = 'cat /nonexistent/secret'\n" >>"$d/postgresql.conf"
expect pg-passphrase-command-fails 1 "key-encrypted" -- --pg-config "$d/postgresql.conf" "${CA[@]}"

# --- mosquitto config (--mosquitto-config): client certificates asked for or not ---
d=$W/c/mosquitto-config
mkdir -p "$d"
# The broker reads its key as its `user` (mosquitto) once started as root.
install -m 600 "$W/c/clean/example.com.key" "$d/example.com.key"
if id mosquitto >/dev/null 2>&1; then chown mosquitto "$d/example.com.key"; fi
printf 'listener 8883\ncertfile %s\nkeyfile %s\ncafile %s\n' "$W/c/clean/example.com.crt" \
	"$d/example.com.key" "$P/root.crt" >"$d/mosquitto.conf"
expect mqtt-client-cert-optional 0 "mqtt-client-cert-optional" -- --mosquitto-config "$d/mosquitto.conf" "${CA[@]}"
printf 'require_certificate true\n' >>"$d/mosquitto.conf"
expect clean-mosquitto-config 0 "" -- --mosquitto-config "$d/mosquitto.conf" "${CA[@]}"
mq() { # CERTFILE KEYFILE CAFILE: a listener requiring client certificates
	printf 'listener 8883\ncertfile %s\nkeyfile %s\ncafile %s\nrequire_certificate true\n' "$@" \
		>"$d/mosquitto.conf"
}
mq "$d/example.com.key" "$W/c/clean/example.com.crt" "$P/root.crt"
expect wrong-file-kind 1 "wrong-file-kind" -- --mosquitto-config "$d/mosquitto.conf" \
	"${CA[@]}" --host example.com
mq "$W/c/clean/example.com.crt" "$d/example.com.key" "$P/direct.crt"
expect ca-file-not-ca 1 "ca-file-not-ca" -- --mosquitto-config "$d/mosquitto.conf" "${CA[@]}"
cp "$P/leaf.crt" "$d/leaf.crt"
cat "$P/root.crt" "$P/inter.crt" >"$d/ca.crt"
mq "$d/leaf.crt" "$d/example.com.key" "$d/ca.crt"
expect chain-completed-by-server 0 "chain-completed-by-server" -- --mosquitto-config "$d/mosquitto.conf" "${CA[@]}"

# --- text output, exit 2 ---
"$TLSGATE" check --no-system-ca "$W/c/clean" "${CA[@]}" >"$W/out.txt"
grep -q "^All checks passed" "$W/out.txt" || { echo "FAIL text: no 'All checks passed'" >&2; failed=$((failed + 1)); }
rc=0
"$TLSGATE" check --no-system-ca "$W/c/incomplete" "${CA[@]}" >"$W/out.txt" || rc=$?
{ [ $rc -eq 1 ] && grep -q "^  error   chain-incomplete: " "$W/out.txt" &&
	grep -q "^1 error, 0 warnings" "$W/out.txt"; } ||
	{ echo "FAIL text report (rc $rc):" >&2; cat "$W/out.txt" >&2; failed=$((failed + 1)); }
rc=0
"$TLSGATE" check --bogus >/dev/null 2>&1 || rc=$?
[ $rc -eq 2 ] || { echo "FAIL usage exit $rc" >&2; failed=$((failed + 1)); }
rc=0
mkdir -p "$W/c/emptydir"
"$TLSGATE" check "$W/c/emptydir" >/dev/null 2>&1 || rc=$?
[ $rc -eq 2 ] || { echo "FAIL empty dir exit $rc" >&2; failed=$((failed + 1)); }

# Every rule of the table that applies to files was exercised above.
for code in $("$TLSGATE" check --rules | awk '{print $1}'); do
	case "$code" in
	tls-old-version | client-cert-requested | client-cert-refused | endpoint-root-sent | no-tls)
		continue ;; # endpoints': test_check_endpoint_*
	esac
	grep -q "\"code\": \"$code\"" "$LOG" || { echo "FAIL rule $code never produced" >&2; failed=$((failed + 1)); }
done

echo "$n cases, $failed failed"
[ $failed -eq 0 ]
