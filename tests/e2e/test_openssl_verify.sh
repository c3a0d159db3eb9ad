#!/usr/bin/env bash
# openssl, the reference every service's TLS stack agrees with, must accept what
# tlsgate issues under -x509_strict, for servers and clients, with and without
# an intermediate CA; and after `cert revoke` + `crl` it must reject exactly the
# revoked certificate. Also checks the certificate profile the workbench issue
# requires (v3, serials, key ids, constraints, usages, SANs, backdating, chain).
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

# ossl_verify PURPOSE CADIR NAME [EXTRA OPENSSL ARGS...]: verify DIR/issued/NAME.crt.
# NAME.crt carries its intermediates, so it doubles as the -untrusted pool: that
# is exactly how a peer would receive the chain.
ossl_verify() {
	local purpose=$1 dir=$2 name=$3
	shift 3
	timeout 20 openssl verify -x509_strict -purpose "$purpose" -CAfile "$dir/root.crt" \
		-untrusted "$dir/issued/$name.crt" "$@" "$dir/issued/$name.crt" 2>&1
}

expect_verify_ok() {
	local out
	out=$(ossl_verify "$@") || fail "openssl verify $* rejected a good certificate: $out"
	assert_contains "$out" ": OK" "openssl verify $*"
}

# expect_verify_error REASON PURPOSE DIR NAME [ARGS...]
expect_verify_error() {
	local reason=$1 out
	shift
	if out=$(ossl_verify "$@"); then
		fail "openssl verify $* accepted a certificate it must reject: $out"
	fi
	assert_contains "$out" "$reason" "openssl verify $* refusal reason"
}

ext() { # ext FILE EXTENSION: the extension as openssl prints it (empty if absent)
	openssl x509 -in "$1" -noout -ext "$2" 2>/dev/null || true
}

epoch_of() { # epoch_of FILE startdate|enddate
	date -u -d "$(openssl x509 -in "$1" -noout "-$2" | cut -d= -f2)" +%s
}

cert_count() {
	grep -c -- '-----BEGIN CERTIFICATE-----' "$1" || true
}

fingerprints() { # SHA-256 fingerprint of every certificate in a PEM file
	local file=$1 tmp
	tmp=$(mktemp -d "$WORK/split.XXXX")
	awk -v d="$tmp" '/-----BEGIN CERTIFICATE-----/ { n++ } n { print > (d "/" n ".pem") }' "$file"
	for f in "$tmp"/*.pem; do
		openssl x509 -in "$f" -noout -fingerprint -sha256
	done
}

check_ca_cert() { # check_ca_cert FILE PATHLEN_EXPECTED(yes|no)
	local file=$1 pathlen=$2 bc
	assert_contains "$(openssl x509 -in "$file" -noout -text)" "Version: 3 (0x2)" "$file version"
	bc=$(ext "$file" basicConstraints)
	assert_contains "$bc" "Basic Constraints: critical" "$file basicConstraints criticality"
	assert_contains "$bc" "CA:TRUE" "$file is a CA"
	if [ "$pathlen" = yes ]; then
		assert_contains "$bc" "pathlen:0" "$file intermediate pathlen"
	else
		assert_not_contains "$bc" "pathlen" "$file root pathlen"
	fi
	assert_contains "$(ext "$file" keyUsage)" "Certificate Sign, CRL Sign" "$file keyUsage"
	assert_contains "$(ext "$file" subjectKeyIdentifier)" "Subject Key Identifier" "$file SKI"
}

# check_leaf FILE ISSUER_CERT EKU_TEXT ISSUED_AT: the profile of an issued leaf.
check_leaf() {
	local file=$1 issuer=$2 eku=$3 issued_at=$4 text serial ski aki nb na bc
	text=$(openssl x509 -in "$file" -noout -text)
	assert_contains "$text" "Version: 3 (0x2)" "$file version"
	assert_contains "$text" "Signature Algorithm: ecdsa-with-SHA256" "$file signature"

	# 128-bit serial: tlsgate keeps the top byte non-zero, so always 32 hex digits.
	serial=$(openssl x509 -in "$file" -noout -serial | cut -d= -f2)
	assert_eq 32 "${#serial}" "$file serial length in hex digits ($serial)"

	bc=$(ext "$file" basicConstraints)
	assert_contains "$bc" "CA:FALSE" "$file basicConstraints"
	assert_contains "$(ext "$file" keyUsage)" "Digital Signature" "$file keyUsage"
	assert_not_contains "$(ext "$file" keyUsage)" "Certificate Sign" "$file keyUsage"
	assert_contains "$(ext "$file" extendedKeyUsage)" "$eku" "$file EKU"

	# AKI must point at the issuer's SKI, or chain building by key id breaks.
	ski=$(ext "$issuer" subjectKeyIdentifier | sed -n 2p | tr -d ' ')
	aki=$(ext "$file" authorityKeyIdentifier | sed -n 2p | tr -d ' ')
	[ -n "$ski" ] || fail "$issuer has no SKI"
	assert_eq "$ski" "${aki#keyid:}" "$file AKI vs issuer SKI"
	assert_contains "$(ext "$file" subjectKeyIdentifier)" "Subject Key Identifier" "$file SKI"

	# notBefore backdated for clock skew, but only slightly (under a day).
	nb=$(epoch_of "$file" startdate)
	((issued_at - nb >= 30 && issued_at - nb <= 86400)) ||
		fail "$file notBefore $nb not backdated 30 s..1 day before issue time $issued_at"
	# Default leaf lifetime: 397 days (allow a day of slack for the backdating).
	na=$(epoch_of "$file" enddate)
	(((na - issued_at) / 86400 >= 396 && (na - issued_at) / 86400 <= 397)) ||
		fail "$file lifetime $(((na - issued_at) / 86400)) days, want 397"
}

# check_chain_file NAME_CRT CADIR: leaf first, then intermediates, never the root.
check_chain_file() {
	local crt=$1 dir=$2 want=1 fps
	[ -f "$dir/intermediate.crt" ] && want=2
	assert_eq "$want" "$(cert_count "$crt")" "certificates in $crt"
	fps=$(fingerprints "$crt")
	assert_not_contains "$fps" "$(openssl x509 -in "$dir/root.crt" -noout -fingerprint -sha256)" \
		"root in $crt"
	if [ "$want" = 2 ]; then
		assert_eq "$(openssl x509 -in "$dir/intermediate.crt" -noout -fingerprint -sha256)" \
			"$(sed -n 2p <<<"$fps")" "second certificate of $crt is the intermediate"
	fi
}

# scenario LABEL [--intermediate]: a CA, a server, two clients and a dual-use cert.
scenario() {
	local label=$1 dir="$WORK/$1" issuer t0 out
	shift
	tg ca init --dir "$dir" --name "e2e $label" "$@" >/dev/null
	issuer="$dir/root.crt"
	if [ "${1:-}" = --intermediate ]; then
		issuer="$dir/intermediate.crt"
		check_ca_cert "$dir/intermediate.crt" yes
	fi
	check_ca_cert "$dir/root.crt" no

	t0=$(date -u +%s)
	tg cert issue localhost --dir "$dir" --san 127.0.0.1 --san DNS:db.example.test >/dev/null
	tg cert issue alice --dir "$dir" --client >/dev/null
	tg cert issue bob --dir "$dir" --client >/dev/null
	tg cert issue both.example.test --dir "$dir" --both >/dev/null

	check_leaf "$dir/issued/localhost.crt" "$issuer" "TLS Web Server Authentication" "$t0"
	check_leaf "$dir/issued/alice.crt" "$issuer" "TLS Web Client Authentication" "$t0"
	check_leaf "$dir/issued/both.example.test.crt" "$issuer" \
		"TLS Web Server Authentication, TLS Web Client Authentication" "$t0"
	assert_not_contains "$(ext "$dir/issued/alice.crt" extendedKeyUsage)" "Server" "alice EKU"
	assert_not_contains "$(ext "$dir/issued/localhost.crt" extendedKeyUsage)" "Client" "server EKU"
	for n in localhost alice bob both.example.test; do
		check_chain_file "$dir/issued/$n.crt" "$dir"
		assert_contains "$(openssl x509 -in "$dir/issued/$n.crt" -noout -subject)" "CN = $n" "$n subject"
		assert_eq 600 "$(stat -c %a "$dir/issued/$n.key")" "$n.key mode"
	done
	# Server profile: the name itself is a SAN (CN alone is ignored by clients),
	# bare IPs become IP SANs, DNS: prefixes are honoured.
	out=$(ext "$dir/issued/localhost.crt" subjectAltName)
	assert_contains "$out" "DNS:localhost" "server SAN"
	assert_contains "$out" "IP Address:127.0.0.1" "server IP SAN"
	assert_contains "$out" "DNS:db.example.test" "server extra SAN"
	assert_contains "$(ext "$dir/issued/both.example.test.crt" subjectAltName)" \
		"DNS:both.example.test" "--both SAN"

	expect_verify_ok sslserver "$dir" localhost
	expect_verify_ok sslclient "$dir" alice
	expect_verify_ok sslclient "$dir" bob
	expect_verify_ok sslserver "$dir" both.example.test
	expect_verify_ok sslclient "$dir" both.example.test
	# The EKUs are enforced, not decoration: a client cert is no server cert.
	expect_verify_error "unsuitable certificate purpose" sslserver "$dir" alice
	expect_verify_error "unsuitable certificate purpose" sslclient "$dir" localhost
	if [ "${1:-}" = --intermediate ]; then
		# Without the chain in NAME.crt, the root alone cannot vouch for the leaf:
		# proves the intermediate really is in the path.
		if out=$(timeout 20 openssl verify -x509_strict -CAfile "$dir/root.crt" "$dir/issued/alice.crt" 2>&1); then
			fail "leaf verified against the root without its intermediate: $out"
		fi
		assert_contains "$out" "unable to get local issuer certificate" "verify without intermediate"
	fi

	revoke_and_check "$dir"
}

revoke_and_check() {
	local dir=$1 crl
	tg cert revoke --cert "$dir/issued/alice.crt" --dir "$dir" --reason keyCompromise >/dev/null
	tg crl --dir "$dir" >/dev/null
	[ -f "$dir/crl.pem" ] || fail "tlsgate crl wrote no $dir/crl.pem"

	crl=$(openssl crl -in "$dir/crl.pem" -noout -text)
	assert_contains "$crl" "X509v3 CRL Number" "CRL number"
	assert_contains "$crl" "Next Update:" "CRL nextUpdate"
	assert_contains "$crl" "Serial Number: $(openssl x509 -in "$dir/issued/alice.crt" -noout -serial | cut -d= -f2)" \
		"revoked serial in CRL"
	assert_contains "$crl" "Key Compromise" "revocation reason in CRL"
	# The issuing CA signs the CRL (the intermediate, when there is one).
	local issuer="$dir/root.crt"
	[ -f "$dir/intermediate.crt" ] && issuer="$dir/intermediate.crt"
	openssl crl -in "$dir/crl.pem" -noout -CAfile "$issuer" 2>&1 | grep -q "verify OK" ||
		fail "CRL signature does not verify with $issuer"

	expect_verify_error "certificate revoked" sslclient "$dir" alice -crl_check -CRLfile "$dir/crl.pem"
	expect_verify_ok sslclient "$dir" bob -crl_check -CRLfile "$dir/crl.pem"
	expect_verify_ok sslserver "$dir" localhost -crl_check -CRLfile "$dir/crl.pem"
	expect_verify_ok sslclient "$dir" both.example.test -crl_check -CRLfile "$dir/crl.pem"

	# tlsgate's own verify must agree with openssl.
	local out
	if out=$(tg verify "$dir/issued/alice.crt" --ca "$dir/root.crt" --crl "$dir/crl.pem" --purpose client 2>&1); then
		fail "tlsgate verify accepted a revoked certificate: $out"
	fi
	assert_contains "$out" "revoked" "tlsgate verify refusal reason"
	tg verify "$dir/issued/bob.crt" --ca "$dir/root.crt" --crl "$dir/crl.pem" --purpose client >/dev/null ||
		fail "tlsgate verify rejected bob, who is not revoked"
}

scenario root-only
scenario with-intermediate --intermediate
