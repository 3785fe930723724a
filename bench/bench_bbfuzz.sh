#!/bin/sh
# SPDX-License-Identifier: MIT
# bench_bbfuzz.sh - throughput of `vu-conform fuzz` (black-box fuzzing over
# the socket) against the reference back-end: sessions/s and messages/s.
#
#   bench/bench_bbfuzz.sh BUILD_DIR [SECONDS]
#
# Runs, one after the other, each for SECONDS (default 20) with a fixed
# seed: net and blk reused (vuc-ref-vhost --reconnect, --reuse: one
# process, a new connection per session), and net with a process per
# session; and vuc-ref-vfio reused (--protocol vfio-user). Prints a
# Markdown table and the machine's load (uptime) before and after: figures
# measured on a loaded machine are low.
set -eu

build=${1:?usage: bench_bbfuzz.sh BUILD_DIR [SECONDS]}
secs=${2:-20}
bin="$build/bin"
work=$(mktemp -d "${TMPDIR:-/tmp}/vuc-bench-bbfuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM

echo "load before: $(uptime | sed 's/.*load average/load average/')"
echo
echo "| target | lifecycle | sessions/s | messages/s | sessions | signatures | findings |"
echo "|---|---|---|---|---|---|---|"
run() {
	name=$1
	life=$2
	shift 2
	set +e
	"$bin/vu-conform" fuzz --quiet --seed 1 --duration "$secs" \
		--minimize-ms 0 --out "$work/out-$name-$life" "$@" \
		>/dev/null 2>"$work/err"
	set -e
	line=$(grep 'done:' "$work/err" | tail -1)
	ses=$(echo "$line" | sed -n 's/.* s, \([0-9]*\) sessions.*/\1/p')
	sps=$(echo "$line" | sed -n 's/.*sessions (\([0-9]*\)\/s).*/\1/p')
	mps=$(echo "$line" | sed -n 's/.*messages (\([0-9]*\)\/s).*/\1/p')
	sig=$(echo "$line" | sed -n 's/.* \([0-9]*\) signatures.*/\1/p')
	fnd=$(echo "$line" | sed -n 's/.* \([0-9]*\) findings\{0,1\},.*/\1/p')
	echo "| $name | $life | ${sps:-?} | ${mps:-?} | ${ses:-?} | ${sig:-?} | ${fnd:-?} |"
}
run "vuc-ref-vhost --device net" reuse --reuse \
	--target "$bin/vuc-ref-vhost --reconnect --device net"
# (a small disk: the reference zeroes its disk on every connection, 16 MiB
# by default, which then costs more than the session)
run "vuc-ref-vhost --device blk --size 64K" reuse --reuse \
	--target "$bin/vuc-ref-vhost --reconnect --device blk --size 64K"
run "vuc-ref-vhost --device net" spawn \
	--target "$bin/vuc-ref-vhost --device net"
run "vuc-ref-vfio (vfio-user)" reuse --reuse --protocol vfio-user \
	--target "$bin/vuc-ref-vfio --reconnect"
echo
echo "load after: $(uptime | sed 's/.*load average/load average/')"
