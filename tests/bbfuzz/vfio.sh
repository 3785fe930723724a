#!/bin/sh
# SPDX-License-Identifier: MIT
# vfio.sh - tests of `vu-conform fuzz --protocol vfio-user` against the
# reference server vuc-ref-vfio.
#
#   BIN=build/bin tests/bbfuzz/vfio.sh SCENARIO
#
# Scenarios:
#   clean      3000 sessions (fixed seed) against the clean server reused,
#              200 with a process per session (the target file): exit 0,
#              no finding written
#   crash-bug  --bug region-index-crash: exit 1, a crash finding with its
#              .bin, .txt and .lua; the reproducer FAILs with the bug and
#              PASSes without it
#   fd-bug     --bug stray-fds-kept: an fd-leak finding whose reproducer
#              (--reuse) FAILs with the bug and PASSes without it
#   interrupt  SIGINT during a run: it stops within seconds, exit 0
#   stall      the server stopped (SIGSTOP) for 3 s once: the hang it
#              looks like does not recur, so it is not a finding
#   long       (slow) 40000 sessions against the clean server: no finding
# Every scenario checks that nothing is left behind: no process started
# from a private directory of this test, no socket, no directory.
set -u
. "$(dirname "$0")/common.sh"

BIN=${BIN:?BIN must name the directory holding vu-conform}
SRC=$(cd "$(dirname "$0")/../.." && pwd)
VUC="$BIN/vu-conform"
REF="$BIN/vuc-ref-vfio"
scenario=${1:?usage: vfio.sh SCENARIO}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/vuc-bbvfio.XXXXXX")
mkdir "$tmp/t"
export TMPDIR="$tmp/t" # the targets' private directories go here
fail=0

die() {
	echo "FAIL: $*" >&2
	fail=1
}

# fuzz ARGS...: vu-conform fuzz --protocol vfio-user; status in $rc
fuzz() {
	"$VUC" fuzz --protocol vfio-user --quiet "$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
}

# repro SCRIPT TARGET: the reproducer against TARGET reused; status in $rc
repro() {
	(cd "$tmp" && "$VUC" run "$1" --protocol vfio-user --reuse \
		--target "$2" >"$tmp/repro.out" 2>&1)
	rc=$?
}

# found BUG GLOB...: fuzz against BUG, one finding matching a GLOB whose
# reproducer FAILs with the bug and PASSes without it
found() {
	# (a long reply deadline: on a loaded machine a slow ASan server must
	# not make the first finding a hang)
	fuzz --target "$REF --reconnect --bug $1" --reuse --seed 1 \
		--duration 30 --max-findings 1 --minimize-ms 5000 \
		--timeout 5000 --out "$tmp/f"
	[ "$rc" = 1 ] || die "$1: exit $rc, want 1: $(cat "$tmp/err")"
	bug=$1
	shift
	lua=
	for g in "$@"; do
		[ -n "$lua" ] || lua=$(ls "$tmp/f"/$g.lua 2>/dev/null | head -1)
	done
	if [ -z "$lua" ]; then
		die "$bug: no $* finding: $(ls "$tmp/f")"
		return
	fi
	[ -s "${lua%.lua}.bin" ] || die "no ${lua%.lua}.bin"
	[ -s "${lua%.lua}.txt" ] || die "no ${lua%.lua}.txt"
	repro "$lua" "$REF --reconnect --bug $bug"
	[ "$rc" = 1 ] || die "$bug: reproducer with the bug: exit $rc, want 1 (FAIL): $(cat "$tmp/repro.out")"
	repro "$lua" "$REF --reconnect"
	[ "$rc" = 0 ] || die "$bug: reproducer without the bug: exit $rc, want 0 (PASS): $(cat "$tmp/repro.out")"
}

case $scenario in
clean)
	fuzz --target "$REF --reconnect" --reuse --seed 7 --runs 3000 \
		--out "$tmp/f1"
	[ "$rc" = 0 ] || die "reused: exit $rc, want 0: $(cat "$tmp/err")"
	grep -q '3000 sessions' "$tmp/err" || die "not 3000 sessions: $(cat "$tmp/err")"
	[ -z "$(ls "$tmp/f1")" ] || die "reused: findings written"
	# the target file: a process per session, --protocol from the file
	"$VUC" fuzz --quiet --target-file "$SRC/targets/vuc-ref-vfio.target" \
		--seed 7 --runs 200 --out "$tmp/f2" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	[ "$rc" = 0 ] || die "spawned: exit $rc, want 0: $(cat "$tmp/err")"
	[ -z "$(ls "$tmp/f2")" ] || die "spawned: findings written"
	;;
crash-bug)
	# a plain build dies of SIGSEGV, an ASan build with a report
	found region-index-crash 'crash-*' 'sanitizer*'
	grep -Eq 'killed by SIGSEGV|sanitizer report' "${lua%.lua}.txt" ||
		die "no SIGSEGV in the .txt: $(cat "${lua%.lua}.txt")"
	;;
fd-bug)
	found stray-fds-kept 'fd-leak*'
	;;
interrupt)
	interrupt_run --protocol vfio-user
	;;
stall)
	stall_run --protocol vfio-user
	;;
long)
	fuzz --target "$REF --reconnect" --reuse --seed 11 --runs 40000 \
		--out "$tmp/f"
	[ "$rc" = 0 ] || die "exit $rc: $(cat "$tmp/out" "$tmp/err")"
	;;
*)
	die "unknown scenario $scenario"
	;;
esac

# nothing left behind
if pgrep -f "$tmp/t" >/dev/null 2>&1; then
	die "processes left behind: $(pgrep -af "$tmp/t")"
	for p in $(pgrep -f "$tmp/t"); do
		kill -KILL "$p" 2>/dev/null
	done
fi
[ -z "$(ls -A "$tmp/t")" ] || die "left in TMPDIR: $(ls -A "$tmp/t")"
rm -rf "$tmp"
exit $fail
