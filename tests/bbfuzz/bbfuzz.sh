#!/bin/sh
# SPDX-License-Identifier: MIT
# bbfuzz.sh - tests of `vu-conform fuzz` (black-box fuzzing) against the
# reference back-end.
#
#   BIN=build/bin tests/bbfuzz/bbfuzz.sh SCENARIO
#
# Scenarios:
#   clean      a short run (fixed seed, a fixed number of sessions) against
#              the clean vuc-ref-vhost, reused and a process per session:
#              exit 0, no finding written
#   crash-bug  against --bug vring-index-unchecked: exit 1, a finding with
#              its .bin, .txt and .lua; the reproducer FAILs with the bug
#              and PASSes without it
#   fd-bug     against --bug fd-leak-no-fd-msg: exit 1, an fd-leak finding
#              whose reproducer (run with --reuse) FAILs with the bug and
#              PASSes without it
#   interrupt  SIGINT during a run: it stops within seconds, exit 0
#   stall      the daemon stopped (SIGSTOP) for 3 s once, as a loaded
#              machine may: the hang it looks like does not recur, so it
#              is not a finding (exit 0, no .lua), its input kept as
#              unconfirmed-*.bin
#   hang-bug   against --bug ring-loop-hang: a hang that recurs is a
#              finding; the reproducer FAILs with the bug, PASSes without
#   long       (slow) 25000 sessions each against clean net and blk (about
#              20 s each): no finding
# Every scenario checks that nothing is left behind: no process started
# from a private directory of this test, no socket, no directory.
set -u
. "$(dirname "$0")/common.sh"

BIN=${BIN:?BIN must name the directory holding vu-conform}
VUC="$BIN/vu-conform"
REF="$BIN/vuc-ref-vhost"
scenario=${1:?usage: bbfuzz.sh SCENARIO}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/vuc-bbfuzz.XXXXXX")
mkdir "$tmp/t"
# the targets' private directories (and so their sockets) go here
export TMPDIR="$tmp/t"
fail=0

cleanup() {
	# processes launched from here carry $tmp/t in their --socket-path
	if pgrep -f "$tmp/t" >/dev/null 2>&1; then
		echo "FAIL: processes left behind:" >&2
		pgrep -af "$tmp/t" >&2
		pkill -KILL -f "$tmp/t" 2>/dev/null
		fail=1
	fi
	if [ -n "$(ls -A "$tmp/t")" ]; then
		echo "FAIL: left in TMPDIR: $(ls -A "$tmp/t")" >&2
		fail=1
	fi
	rm -rf "$tmp"
}

die() {
	echo "FAIL: $*" >&2
	fail=1
}

# fuzz ARGS...: run vu-conform fuzz, status in $rc, output in $tmp/out
fuzz() {
	"$VUC" fuzz --quiet "$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
}

# repro SCRIPT TARGET [OPTION...]: vu-conform run SCRIPT --target TARGET;
# status in $rc
repro() {
	script=$1
	target=$2
	shift 2
	(cd "$tmp" && "$VUC" run "$script" --target "$target" "$@" \
		>"$tmp/repro.out" 2>&1)
	rc=$?
}

findings() {
	ls "$1" 2>/dev/null | grep -c '\.lua$'
}

case $scenario in
clean)
	fuzz --target "$REF --reconnect" --reuse --seed 7 --runs 3000 \
		--out "$tmp/f1"
	[ "$rc" = 0 ] || die "clean, reused: exit $rc, want 0: $(cat "$tmp/out" "$tmp/err")"
	[ "$(findings "$tmp/f1")" = 0 ] || die "clean, reused: findings written"
	grep -q '3000 sessions' "$tmp/err" || die "clean, reused: not 3000 sessions: $(cat "$tmp/err")"
	fuzz --target "$REF --device blk" --seed 7 --runs 60 --out "$tmp/f2"
	[ "$rc" = 0 ] || die "clean, blk, spawned: exit $rc, want 0: $(cat "$tmp/out" "$tmp/err")"
	[ "$(findings "$tmp/f2")" = 0 ] || die "clean, spawned: findings written"
	;;
crash-bug)
	# (--timeout: on a loaded machine a slow ASan back-end must not
	# make the first finding a hang)
	fuzz --target "$REF --reconnect --bug vring-index-unchecked" --reuse \
		--seed 1 --duration 30 --max-findings 1 --minimize-ms 5000 \
		--timeout 5000 --out "$tmp/f"
	[ "$rc" = 1 ] || die "exit $rc, want 1: $(cat "$tmp/err")"
	# a plain build dies of SIGSEGV, an ASan build with a report
	lua=$(ls "$tmp/f"/crash-*.lua "$tmp/f"/sanitizer-*.lua 2>/dev/null |
		head -1)
	if [ -z "$lua" ]; then
		die "no crash finding: $(ls "$tmp/f")"
	else
		base=${lua%.lua}
		[ -s "$base.bin" ] || die "no $base.bin"
		grep -Eq 'killed by SIGSEGV|sanitizer report' "$base.txt" ||
			die "$base.txt: $(cat "$base.txt")"
		repro "$lua" "$REF --bug vring-index-unchecked"
		[ "$rc" = 1 ] || die "reproducer with the bug: exit $rc, want 1 (FAIL): $(cat "$tmp/repro.out")"
		repro "$lua" "$REF"
		[ "$rc" = 0 ] || die "reproducer without the bug: exit $rc, want 0 (PASS): $(cat "$tmp/repro.out")"
	fi
	;;
fd-bug)
	# (--timeout: on a loaded machine a slow ASan back-end must not
	# make the first finding a hang)
	fuzz --target "$REF --reconnect --bug fd-leak-no-fd-msg" --reuse \
		--seed 1 --duration 30 --max-findings 1 --minimize-ms 5000 \
		--timeout 5000 --out "$tmp/f"
	[ "$rc" = 1 ] || die "exit $rc, want 1: $(cat "$tmp/err")"
	lua=$(ls "$tmp/f"/fd-leak*.lua 2>/dev/null | head -1)
	if [ -z "$lua" ]; then
		die "no fd-leak finding: $(ls "$tmp/f")"
	else
		# the session ends with the daemon's hang-up: the reproducer
		# compares fd counts across a reconnect to the same process
		repro "$lua" "$REF --reconnect --bug fd-leak-no-fd-msg" --reuse
		[ "$rc" = 1 ] || die "reproducer with the bug: exit $rc, want 1 (FAIL): $(cat "$tmp/repro.out")"
		repro "$lua" "$REF --reconnect" --reuse
		[ "$rc" = 0 ] || die "reproducer without the bug: exit $rc, want 0 (PASS): $(cat "$tmp/repro.out")"
	fi
	;;
interrupt)
	interrupt_run
	;;
stall)
	stall_run
	;;
hang-bug)
	fuzz --target "$REF --reconnect --bug ring-loop-hang" --reuse \
		--seed 1 --duration 60 --max-findings 1 --minimize-ms 5000 \
		--out "$tmp/f"
	[ "$rc" = 1 ] || die "exit $rc, want 1: $(cat "$tmp/err")"
	lua=$(ls "$tmp/f"/hang-*.lua 2>/dev/null | head -1)
	if [ -z "$lua" ]; then
		die "no hang finding: $(ls "$tmp/f") $(cat "$tmp/err")"
	else
		repro "$lua" "$REF --bug ring-loop-hang"
		[ "$rc" = 1 ] || die "reproducer with the bug: exit $rc, want 1 (FAIL): $(cat "$tmp/repro.out")"
		repro "$lua" "$REF"
		[ "$rc" = 0 ] || die "reproducer without the bug: exit $rc, want 0 (PASS): $(cat "$tmp/repro.out")"
	fi
	;;
long)
	for dev in net "blk --size 64K"; do
		# a fixed number of sessions: the same inputs every time
		fuzz --target "$REF --reconnect --device $dev" \
			--reuse --seed 11 --runs 25000 --out "$tmp/f"
		[ "$rc" = 0 ] || die "clean $dev: exit $rc: $(cat "$tmp/out" "$tmp/err")"
	done
	;;
*)
	echo "unknown scenario $scenario" >&2
	fail=1
	;;
esac
cleanup
exit $fail
