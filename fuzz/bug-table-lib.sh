# SPDX-License-Identifier: MIT
# bug-table-lib.sh - what bug-table.sh and bug-table-vfio.sh share.
# Sourced (bash).

# bt_verdict DIR WIDTH: what one libFuzzer run in DIR (its log in DIR/log,
# what it saved in DIR) found. Sets found: "yes" (a mutant), "seed" (the
# seed replay, before libFuzzer said INITED) or "" (nothing saved), and
# what: the first line saying what fired, at most WIDTH characters, with
# "|" escaped for a Markdown table.
bt_verdict() {
	found=""
	what=""
	compgen -G "$1/crash-*" >/dev/null ||
		compgen -G "$1/timeout-*" >/dev/null ||
		compgen -G "$1/leak-*" >/dev/null || return 0
	if grep -q '^#[0-9]*.*INITED' "$1/log"; then
		found=yes
	else
		found=seed
	fi
	what=$(grep -m1 -E 'fuzz oracle:|ERROR: (AddressSanitizer|libFuzzer|LeakSanitizer)|runtime error' \
		"$1/log" | sed -e 's/^==[0-9]*==//' -e 's/|/\\|/g' | cut -c1-"$2")
}
