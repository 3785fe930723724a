#!/bin/sh
# SPDX-License-Identifier: MIT
# bb-bug-table.sh - run `vu-conform fuzz` (black-box, over the socket)
# once per seeded bug of vuc-ref-vhost and print a Markdown table: bug,
# found?, time to find, sessions, what fired.
#
#   fuzz/bb-bug-table.sh BUILD_DIR [SECONDS] [BUG...]
#
# One bug at a time (one core), each for at most SECONDS (default 60),
# against `vuc-ref-vhost --reconnect --bug NAME` with --reuse, a fixed
# seed, findings minimised for at most 5 s (blk: a 64 KiB disk, which the
# back-end zeroes on every connection). A finding counts for the bug only
# if its reproducer FAILs with the bug and PASSes on the clean back-end
# (`vu-conform run SIG.lua --reuse --strict`); the fuzzer stops at the
# first three findings, and the first that counts is reported. The device
# is net, except for the blk-only bugs. Environment: SEED (default 1),
# DEVICE_BLK (bugs run with --device blk; default: blk-no-bounds,
# inflight-not-marked and state-short-read, which show only on blk),
# KEEP=DIR keeps the findings (default: a temporary directory, removed).
set -eu

build=${1:?usage: bb-bug-table.sh BUILD_DIR [SECONDS] [BUG...]}
secs=${2:-60}
[ $# -ge 2 ] && shift 2 || shift $#
bin=$(realpath "$build")/bin # absolute: reproducers run from a work directory
seed=${SEED:-1}
blk=${DEVICE_BLK:-"blk-no-bounds inflight-not-marked state-short-read"}

if [ ! -x "$bin/vu-conform" ] || [ ! -x "$bin/vuc-ref-vhost" ]; then
	echo "bb-bug-table.sh: $bin/vu-conform or vuc-ref-vhost missing" >&2
	exit 2
fi
bugs=${*:-$("$bin/vuc-ref-vhost" --list-bugs | awk '{ print $1 }')}
work=$(mktemp -d "${TMPDIR:-/tmp}/vuc-bbtable.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM

echo "| bug | found | time to find | sessions run | what fired |"
echo "|---|---|---|---|---|"
for bug in $bugs; do
	dev=net
	for b in $blk; do
		# a small disk: the reference zeroes it on every connection
		[ "$b" = "$bug" ] && dev="blk --size 64K"
	done
	out="$work/$bug"
	set +e
	"$bin/vu-conform" fuzz --quiet --reuse --seed "$seed" \
		--duration "$secs" --max-findings 3 --minimize-ms 5000 \
		--out "$out" \
		--target "$bin/vuc-ref-vhost --reconnect --device $dev --bug $bug" \
		>"$work/$bug.stdout" 2>"$work/$bug.stderr"
	rc=$?
	set -e
	found=no
	what=""
	el=""
	ses=""
	other=""
	if [ "$rc" != 0 ] && [ "$rc" != 1 ]; then
		found=error
		what="exit $rc: $(tail -1 "$work/$bug.stderr" | tr '|' '/')"
	fi
	# each finding in order: "finding SIG after X s, N sessions: WHAT"
	grep 'finding .* after .* sessions' "$work/$bug.stderr" >"$work/$bug.f" || true
	while IFS= read -r line; do
		sig=$(echo "$line" | sed -n 's/.*finding \([^ ]*\) after.*/\1/p')
		[ -f "$out/$sig.lua" ] || continue
		set +e
		# as it was found: one process serving reconnects
		(cd "$work" && "$bin/vu-conform" run "$out/$sig.lua" --reuse \
			--strict \
			--target "$bin/vuc-ref-vhost --reconnect --device $dev --bug $bug" \
			>/dev/null 2>&1)
		with=$?
		(cd "$work" && "$bin/vu-conform" run "$out/$sig.lua" --reuse \
			--strict \
			--target "$bin/vuc-ref-vhost --reconnect --device $dev" \
			>/dev/null 2>&1)
		without=$?
		set -e
		if [ "$with" = 1 ] && [ "$without" = 0 ]; then
			found=yes
			el=$(echo "$line" | sed -n 's/.* after \([0-9.]*\) s.*/\1/p')
			ses=$(echo "$line" | sed -n 's/.* s, \([0-9]*\) sessions.*/\1/p')
			what="\`$sig\`: $(echo "$line" | sed 's/.* sessions: //' |
				cut -c1-90 | tr '|' '/')"
			break
		fi
		other="$other $sig (reproducer: $with with the bug, $without without)"
	done <"$work/$bug.f"
	if [ "$found" = no ]; then
		summary=$(grep 'done:' "$work/$bug.stderr" | tail -1)
		el=$(echo "$summary" | sed -n 's/.*done: \([0-9.]*\) s.*/\1/p')
		ses=$(echo "$summary" | sed -n 's/.*s, \([0-9]*\) sessions.*/\1/p')
		[ -n "$other" ] && what="other findings:$other"
	fi
	echo "| $bug | $found | ${el:-?} s | ${ses:-?} | $what |"
	if [ -n "${KEEP:-}" ]; then
		mkdir -p "$KEEP"
		cp -r "$out" "$KEEP/$bug" 2>/dev/null || true
	fi
done
