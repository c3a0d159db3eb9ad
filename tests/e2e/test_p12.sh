#!/usr/bin/env bash
# PKCS#12 for browsers (seeds/003): both flavours tlsgate writes, from
# `cert issue --p12` and from `cert p12`, open with `openssl pkcs12` using the
# password file, use the promised algorithms (modern: AES-256-CBC/PBKDF2 with a
# SHA-256 MAC; legacy: PBE-SHA1-3DES with a SHA-1 MAC, no RC2), carry the key,
# leaf and intermediate, and import into a fresh NSS database (the store
# Chromium and Firefox use) under the expected nickname.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

for tool in openssl certutil pk12util; do
	command -v "$tool" >/dev/null || fail "no $tool (apt-get install openssl libnss3-tools)"
done

CA="$WORK/ca"
PW="$WORK/p12.pass"
OUT="$WORK/out"

make_p12s() {
	tg ca init --dir "$CA" --intermediate --name "e2e p12 CA" >/dev/null
	printf 's3cret pass\n' >"$PW"
	tg cert issue carol --dir "$CA" --client --p12 --p12-pass-file "$PW" >/dev/null
	tg cert issue dave --dir "$CA" --client --p12 --p12-pass-file "$PW" --legacy-p12 >/dev/null
	mkdir -p "$OUT"
	tg cert p12 --cert "$CA/issued/carol.crt" --key "$CA/issued/carol.key" \
		--out "$OUT/carol-modern.p12" --pass-file "$PW" --name "Carol Browser" >/dev/null
	tg cert p12 --cert "$CA/issued/dave.crt" --key "$CA/issued/dave.key" \
		--out "$OUT/dave-legacy.p12" --pass-file "$PW" --legacy >/dev/null
	# An empty password only when asked for by name.
	tg cert issue erin --dir "$CA" --client --p12 --p12-no-password >/dev/null
}

p12_info() { # p12_info FILE PASSIN
	timeout 20 openssl pkcs12 -info -noout -in "$1" -passin "$2" 2>&1
}

check_modern() { # check_modern FILE PASSIN
	local info
	info=$(p12_info "$1" "$2") || fail "openssl cannot open $1: $info"
	assert_contains "$info" "MAC: sha256" "$1 MAC"
	assert_contains "$info" "PKCS7 Encrypted data: PBES2, PBKDF2, AES-256-CBC" "$1 cert encryption"
	assert_contains "$info" "Shrouded Keybag: PBES2, PBKDF2, AES-256-CBC" "$1 key encryption"
	assert_not_contains "$info" "TripleDES" "$1 modern flavour"
}

check_legacy() { # check_legacy FILE PASSIN
	local info
	# No -legacy flag: OpenSSL 3 only needs the legacy provider for RC2, which
	# the legacy flavour must not use (old macOS/Java read 3DES fine).
	info=$(p12_info "$1" "$2") || fail "openssl (no -legacy) cannot open $1: $info"
	assert_contains "$info" "MAC: sha1" "$1 MAC"
	assert_contains "$info" "PKCS7 Encrypted data: pbeWithSHA1And3-KeyTripleDES-CBC" "$1 cert encryption"
	assert_contains "$info" "Shrouded Keybag: pbeWithSHA1And3-KeyTripleDES-CBC" "$1 key encryption"
	assert_not_contains "$info" "RC2" "$1 legacy flavour"
	assert_not_contains "$info" "AES" "$1 legacy flavour"
}

# check_contents FILE PASSIN CERT KEY: leaf + intermediate (no root), and the key
# is the certificate's.
check_contents() {
	local file=$1 passin=$2 crt=$3 key=$4 certs n got want
	certs=$(timeout 20 openssl pkcs12 -in "$file" -passin "$passin" -nokeys 2>/dev/null)
	n=$(grep -c -- '-----BEGIN CERTIFICATE-----' <<<"$certs" || true)
	assert_eq 2 "$n" "certificates in $file"
	got=$(openssl x509 -noout -fingerprint -sha256 <<<"$certs")
	want=$(openssl x509 -in "$crt" -noout -fingerprint -sha256)
	assert_eq "$want" "$got" "first certificate in $file"
	if openssl crl2pkcs7 -nocrl -certfile /dev/stdin <<<"$certs" | openssl pkcs7 -print_certs -noout |
		grep -qx "subject=CN = e2e p12 CA"; then
		fail "$file holds the root: clients must get it out of band"
	fi
	got=$(timeout 20 openssl pkcs12 -in "$file" -passin "$passin" -nocerts -nodes 2>/dev/null |
		openssl pkey -pubout 2>/dev/null)
	want=$(openssl pkey -in "$key" -pubout)
	[ -n "$got" ] || fail "no key in $file"
	assert_eq "$want" "$got" "key in $file"
}

check_wrong_password() { # the MAC really is keyed by the password
	local out
	if out=$(p12_info "$1" pass:wrong); then
		fail "openssl opened $1 with a wrong password"
	fi
	assert_contains "$out" "Mac verify error" "$1 with a wrong password"
}

# nss_import FILE NICKNAME CN PWARGS...: into a fresh NSS db, then the cert is
# listed as a user cert (u,u,u: it has its key) under NICKNAME, subject CN.
nss_import() {
	local file=$1 nick=$2 cn=$3 db out
	shift 3
	db=$(mktemp -d "$WORK/nssdb.XXXX")
	timeout 20 certutil -N --empty-password -d "sql:$db" || fail "certutil -N failed"
	out=$(timeout 30 pk12util -i "$file" -d "sql:$db" "$@" 2>&1) ||
		fail "pk12util cannot import $file: $out"
	assert_contains "$out" "PKCS12 IMPORT SUCCESSFUL" "pk12util import of $file"
	out=$(timeout 20 certutil -L -d "sql:$db")
	grep -Eq "^$nick +u,u,u\$" <<<"$out" || fail "NSS lists no user cert '$nick' from $file:"$'\n'"$out"
	out=$(timeout 20 certutil -L -d "sql:$db" -n "$nick")
	assert_contains "$out" "Subject: \"CN=$cn\"" "NSS subject of $nick"
	out=$(timeout 20 certutil -K -d "sql:$db" 2>&1)
	assert_contains "$out" "$nick" "NSS holds the private key of $nick"
}

make_p12s

check_modern "$CA/issued/carol.p12" "file:$PW"
check_modern "$OUT/carol-modern.p12" "file:$PW"
check_modern "$CA/issued/erin.p12" "pass:"
check_legacy "$CA/issued/dave.p12" "file:$PW"
check_legacy "$OUT/dave-legacy.p12" "file:$PW"

for f in "$CA/issued/carol.p12" "$OUT/carol-modern.p12"; do
	check_contents "$f" "file:$PW" "$CA/issued/carol.crt" "$CA/issued/carol.key"
done
for f in "$CA/issued/dave.p12" "$OUT/dave-legacy.p12"; do
	check_contents "$f" "file:$PW" "$CA/issued/dave.crt" "$CA/issued/dave.key"
done
check_contents "$CA/issued/erin.p12" "pass:" "$CA/issued/erin.crt" "$CA/issued/erin.key"
check_wrong_password "$CA/issued/carol.p12"
check_wrong_password "$CA/issued/dave.p12"
for f in carol dave erin; do
	assert_eq 600 "$(stat -c %a "$CA/issued/$f.p12")" "$f.p12 mode (it holds the key)"
done

# pk12util -w reads the password from a file (first line, newline stripped).
nss_import "$CA/issued/carol.p12" carol carol -w "$PW"
nss_import "$OUT/carol-modern.p12" "Carol Browser" carol -w "$PW"
nss_import "$CA/issued/dave.p12" dave dave -w "$PW"
nss_import "$OUT/dave-legacy.p12" dave dave -w "$PW"
nss_import "$CA/issued/erin.p12" erin erin -W ""
