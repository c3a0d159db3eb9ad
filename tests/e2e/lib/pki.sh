# Test PKI built with the openssl CLI (`openssl ca`, so any validity dates,
# digests and extensions can be set). Sourced by the e2e scripts.
#
#   pki_cert OUT ISSUER PROFILE SUBJ [SAN] [FROM] [TO] [KEYTYPE] [MD]
#     writes OUT.key and OUT.crt. ISSUER is the prefix of an existing
#     ISSUER.crt/ISSUER.key, or "self". PROFILE: root, inter, server, client,
#     leafca, any. SAN like "DNS:a,IP:1.2.3.4" ("" for none). FROM/TO are
#     `date -d` offsets ("-1 hour", "+365 days"). KEYTYPE: ec (default),
#     rsa1024, rsa2048. MD: sha256 (default), sha1...
#   pki_crl OUT ISSUER [LAST] [NEXT] [REVOKE_CERT...]
#   pki_ts OFFSET   -> YYYYMMDDHHMMSSZ

pki_ts() { date -u -d "$1" +%Y%m%d%H%M%SZ; }

pki_key() {
	case "${2:-ec}" in
	ec) openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null ;;
	rsa*) openssl genpkey -algorithm RSA -pkeyopt "rsa_keygen_bits:${2#rsa}" -out "$1" 2>/dev/null ;;
	esac
	chmod 600 "$1"
}

# One openssl ca state dir per issuer: index.txt and serial live next to it.
_pki_conf() {
	local issuer=$1 state="$1.ca" ext=$2
	mkdir -p "$state/new"
	[ -f "$state/index.txt" ] || : >"$state/index.txt"
	[ -f "$state/serial" ] || openssl rand -hex 16 >"$state/serial"
	cat >"$state/ca.cnf" <<EOF
[ca]
default_ca = tg
[tg]
dir = $state
database = \$dir/index.txt
new_certs_dir = \$dir/new
serial = \$dir/serial
default_md = sha256
policy = pol
unique_subject = no
copy_extensions = none
default_crl_days = 7
[pol]
commonName = optional
organizationName = optional
organizationalUnitName = optional
[ext]
$ext
[crlext]
authorityKeyIdentifier = keyid
EOF
	echo "$state/ca.cnf"
}

_pki_ext() {
	local profile=$1 san=$2 out=""
	case "$profile" in
	root) out="basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash" ;;
	inter) out="basicConstraints = critical,CA:TRUE,pathlen:0
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid" ;;
	server) out="basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth" ;;
	client) out="basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth" ;;
	leafca) out="basicConstraints = CA:TRUE
keyUsage = critical,digitalSignature,keyCertSign
extendedKeyUsage = serverAuth" ;;
	any) out="basicConstraints = CA:FALSE" ;;
	esac
	[ -n "$san" ] && out="$out
subjectAltName = $san"
	echo "$out"
}

pki_cert() {
	local out=$1 issuer=$2 profile=$3 subj=$4 san=${5:-} from=${6:--1 hour} to=${7:-+365 days}
	local kt=${8:-ec} md=${9:-sha256} conf signer
	pki_key "$out.key" "$kt"
	openssl req -new -key "$out.key" -subj "$subj" -out "$out.csr" 2>/dev/null
	if [ "$issuer" = self ]; then
		signer=$out
		conf=$(_pki_conf "$out" "$(_pki_ext "$profile" "$san")")
		openssl ca -batch -config "$conf" -selfsign -keyfile "$out.key" -in "$out.csr" \
			-out "$out.crt" -extensions ext -startdate "$(pki_ts "$from")" \
			-enddate "$(pki_ts "$to")" -md "$md" -notext -preserveDN 2>"$out.err" ||
			{ cat "$out.err" >&2; return 1; }
	else
		conf=$(_pki_conf "$issuer" "$(_pki_ext "$profile" "$san")")
		openssl ca -batch -config "$conf" -cert "$issuer.crt" -keyfile "$issuer.key" \
			-in "$out.csr" -out "$out.crt" -extensions ext -startdate "$(pki_ts "$from")" \
			-enddate "$(pki_ts "$to")" -md "$md" -notext -preserveDN 2>"$out.err" ||
			{ cat "$out.err" >&2; return 1; }
	fi
	rm -f "$out.csr" "$out.err"
}

pki_crl() {
	local out=$1 issuer=$2 last=${3:--1 hour} next=${4:-+7 days} conf
	shift 4 || shift $#
	conf=$(_pki_conf "$issuer" "")
	for c in "$@"; do
		openssl ca -batch -config "$conf" -cert "$issuer.crt" -keyfile "$issuer.key" \
			-revoke "$c" >/dev/null 2>&1
	done
	openssl ca -batch -config "$conf" -cert "$issuer.crt" -keyfile "$issuer.key" -gencrl \
		-crlexts crlext -crl_lastupdate "$(pki_ts "$last")" -crl_nextupdate "$(pki_ts "$next")" \
		-out "$out" 2>/dev/null
}

# pki_gateway CA-CN: a root $WORK/ca/ca and a server cert $WORK/server for
# localhost, what most gateway tests start from.
pki_gateway() {
	mkdir -p "$WORK/ca"
	pki_cert "$WORK/ca"/ca self root "/CN=$1"
	pki_cert "$WORK/server" "$WORK/ca"/ca server "/CN=localhost" "DNS:localhost"
}
