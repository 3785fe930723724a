#!/bin/sh
# SPDX-License-Identifier: MIT
# bb-vfio-bug-table.sh - run `vu-conform fuzz --protocol vfio-user`
# (black-box, over the socket) once per seeded bug of vuc-ref-vfio and
# print a Markdown table: bug, found?, time to find, sessions, what fired.
#
#   fuzz/bb-vfio-bug-table.sh BUILD_DIR [SECONDS] [BUG...]
#
# One bug at a time (one core), each for at most SECONDS (default 60),
# against `vuc-ref-vfio --reconnect --bug NAME` reused, a fixed seed,
# findings minimised for at most 5 s. A finding counts only if its
# reproducer FAILs with the bug and PASSes on the clean server
# (`vu-conform run SIG.lua --protocol vfio-user --reuse --strict`); the
# fuzzer stops after three findings and the first that counts is
# reported. Environment: SEED (default 1), KEEP=DIR keeps the findings.
set -eu

build=${1:?usage: bb-vfio-bug-table.sh BUILD_DIR [SECONDS] [BUG...]}
secs=${2:-60}
[ $# -ge 2 ] && shift 2 || shift $#
bin=$(realpath "$build")/bin # absolute: reproducers run from a work dir
seed=${SEED:-1}
ref="$bin/vuc-ref-vfio --reconnect"

if [ ! -x "$bin/vu-conform" ] || [ ! -x "$bin/vuc-ref-vfio" ]; then
	echo "bb-vfio-bug-table.sh: $bin/vu-conform or vuc-ref-vfio missing" >&2
	exit 2
fi
bugs=${*:-$("$bin/vuc-ref-vfio" --list-bugs | awk '/^[a-z]/ { print $1 }')}
work=$(mktemp -d "${TMPDIR:-/tmp}/vuc-bbvtable.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM

# field LINE SED-EXPR: one field of a progress or finding line
field() {
	echo "$1" | sed -n "$2"
}

# judge SIG BUG: does SIG's reproducer FAIL with BUG and PASS without?
judge() {
	for t in "$ref --bug $2" "$ref"; do
		set +e
		(cd "$work" && "$bin/vu-conform" run "$out/$1.lua" \
			--protocol vfio-user --reuse --strict --target "$t" \
			>/dev/null 2>&1)
		echo $?
		set -e
	done | tr '\n' ' '
}

echo "| bug | found | time to find | sessions run | what fired |"
echo "|---|---|---|---|---|"
for bug in $bugs; do
	out="$work/$bug"
	set +e
	"$bin/vu-conform" fuzz --protocol vfio-user --quiet --reuse \
		--seed "$seed" --duration "$secs" --max-findings 3 \
		--minimize-ms 5000 --out "$out" --target "$ref --bug $bug" \
		>"$work/$bug.stdout" 2>"$work/$bug.stderr"
	rc=$?
	set -e
	found=no
	what=""
	el=""
	ses=""
	[ "$rc" -le 1 ] || what="exit $rc: $(tail -1 "$work/$bug.stderr")"
	grep 'finding .* after .* sessions' "$work/$bug.stderr" \
		>"$work/$bug.f" || true
	while IFS= read -r line; do
		sig=$(field "$line" 's/.*finding \([^ ]*\) after.*/\1/p')
		[ -f "$out/$sig.lua" ] || continue
		verdicts=$(judge "$sig" "$bug")
		if [ "$verdicts" = "1 0 " ]; then
			found=yes
			el=$(field "$line" 's/.* after \([0-9.]*\) s.*/\1/p')
			ses=$(field "$line" 's/.* s, \([0-9]*\) sessions.*/\1/p')
			what="\`$sig\`: $(echo "$line" | sed 's/.* sessions: //' |
				cut -c1-90)"
			break
		fi
		what="$what $sig (reproducer: $verdicts)"
	done <"$work/$bug.f"
	if [ "$found" = no ]; then
		line=$(grep 'done:' "$work/$bug.stderr" | tail -1)
		el=$(field "$line" 's/.*done: \([0-9.]*\) s.*/\1/p')
		ses=$(field "$line" 's/.*s, \([0-9]*\) sessions.*/\1/p')
	fi
	echo "| $bug | $found | ${el:-?} s | ${ses:-?} | $(echo "$what" |
		tr '|' '/') |"
	if [ -n "${KEEP:-}" ]; then
		mkdir -p "$KEEP"
		cp -r "$out" "$KEEP/$bug" 2>/dev/null || true
	fi
done
