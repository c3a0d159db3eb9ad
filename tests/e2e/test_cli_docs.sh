#!/usr/bin/env bash
# The manual pages and the bash completion come from the command tables
# (`tlsgate __man`, `tlsgate __complete`), so they cannot miss a command or an
# option; this checks the other direction: every option a command accepts is
# explained in its help text (and so in its manual page), the pages render
# without groff warnings, and the completion offers commands, subcommands,
# options and the values it lists itself (each of which the help mentions).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

# Options that are deliberately undocumented, with the reason.
hidden=(
	"check --now" # tests only: judge expiry as at a given Unix time
)

# Every command path: "serve", "cert issue", ...
paths=()
for c in $(tg __complete | grep -vx help); do
	subs=$(tg __complete "$c")
	if grep -q '^--' <<<"$subs"; then
		paths+=("$c")
	else
		for s in $subs; do paths+=("$c $s"); done
	fi
done
[ "${#paths[@]}" -ge 17 ] || fail "only ${#paths[@]} commands listed: ${paths[*]}"

mkdir "$WORK/man"
tg __man "$WORK/man"
missing=()
for p in "${paths[@]}"; do
	# shellcheck disable=SC2086
	help=$(tg help $p)
	page=$(MANWIDTH=200 LC_ALL=C.UTF-8 man -l -P cat "$WORK/man/tlsgate-${p%% *}.1" 2>/dev/null)
	# shellcheck disable=SC2086
	for o in $(tg __complete $p); do
		o=${o%=}
		[ "$o" = --help ] && continue
		[[ " ${hidden[*]} " == *" $p $o "* ]] && continue
		grep -qE -- "$o([^a-z-]|$)" <<<"$help" || missing+=("$p: $o not in its help")
		grep -qE -- "$o([^a-z-]|$)" <<<"$page" || missing+=("$p: $o not in man tlsgate-${p%% *}")
	done
done
assert_eq "" "${missing[*]}" "options without a word of explanation"
pass "every option of ${#paths[@]} commands is in its help text and manual page"

for f in "$WORK"/man/*.1; do
	warn=$(LC_ALL=C.UTF-8 MANROFFSEQ='' man --warnings -E UTF-8 -l -Tutf8 -Z "$f" 2>&1 >/dev/null)
	assert_eq "" "$warn" "groff warnings in $(basename "$f")"
done
assert_eq "$(tg __complete | grep -vcx help)" "$(find "$WORK/man" -name 'tlsgate-*.1' | wc -l)" \
	"a manual page per command"
for c in $(tg __complete | grep -vx help); do
	grep -q "^\.BR tlsgate\\\\-$c (1)" "$TLSGATE_SRC/docs/tlsgate.1" || fail "tlsgate.1's SEE ALSO misses tlsgate-$c(1)"
done
pass "tlsgate __man: a page per command, no groff warnings, each named in tlsgate(1)"

# complete WORDS...: what <TAB> after WORDS offers (the last word is the one
# being completed; "" for a new word).
[ -f /usr/share/bash-completion/bash_completion ] || fail "bash-completion is not installed (scripts/deps.sh package)"
complete_words() {
	bash -c 'source /usr/share/bash-completion/bash_completion
		source "$1/dist/bash-completion/tlsgate"
		shift
		COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
		COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
		_tlsgate "$1" "${@: -1}" "${@: -2:1}"
		printf "%s\n" "${COMPREPLY[@]}" | sort | tr "\n" " "' _ "$TLSGATE_SRC" "$TLSGATE" "$@"
}
assert_eq "serve " "$(complete_words se)" "a command"
assert_eq "acme ca cert check connect crl help inspect key serve verify " "$(complete_words "")" "every command"
assert_eq "renew request revoke " "$(complete_words cert re)" "subcommands"
assert_eq "renew request revoke " "$(complete_words help cert re)" "help's subcommands"
assert_eq "--client-ca " "$(complete_words serve --client)" "an option"
assert_eq "none optional require verify-full " "$(complete_words serve --target 1:2 --verify "")" "--verify's values"
assert_eq "ec-p256 ec-p384 " "$(complete_words cert issue alice --dir pki --key ec)" "--key's values"
assert_contains "$(complete_words cert issue alice --dir pki --j)" "--json" "an option after a value"
mkdir "$WORK/files" && touch "$WORK/files/ca.crt"
assert_eq "$WORK/files/ca.crt " "$(complete_words verify x --ca "$WORK/files/c")" "a file for --ca"
pass "bash completion: commands, subcommands, options, values and files"

# The values the completion lists itself must be ones the program takes:
# each is in the help of a command with that option.
values_of() { bash -c 'source "$1/dist/bash-completion/tlsgate"; _tlsgate_values "$2"' _ "$TLSGATE_SRC" "$1"; }
listed=$(grep -oE '^\s+--[a-z-]+( \| --[a-z-]+)*\)' "$TLSGATE_SRC/dist/bash-completion/tlsgate" | tr -d ' \t)' | tr '|' '\n')
for opt in $listed; do
	case $opt in
	--key | --key-type) cmd="cert issue" ;;
	--verify | --mode | --min-tls | --proxy-protocol | --strict-sni | --cert-header) cmd=serve ;;
	--purpose) cmd=verify ;;
	--starttls) cmd=check ;;
	--reason) cmd="cert revoke" ;;
	*) fail "the completion lists values of $opt: add the command that takes it here" ;;
	esac
	# shellcheck disable=SC2086
	help=$(tg help $cmd)
	[ "$opt" = --key-type ] && help=$(tg help cert request)
	for v in $(values_of "$opt"); do
		grep -qw -- "$v" <<<"$help" || fail "completion offers $opt $v, which tlsgate help $cmd does not mention"
	done
done
pass "the completion's value lists are in the help texts"
