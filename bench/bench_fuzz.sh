#!/usr/bin/env bash
# bench_fuzz.sh - execs per second of each in-process fuzz target, on two
# cores: two libFuzzer processes per target at once, each from its own
# copy of corpus/<target>/, for SECONDS; the figure is their sum.
#
#   bench/bench_fuzz.sh BUILD_DIR [SECONDS] [TARGET[:MAX_LEN]...]
#
# BUILD_DIR: a VUC_FUZZ=ON build (the figures in fuzz/README.md are ASan +
# UBSan: -DVUC_SANITIZE="address;undefined"). Default targets: every
# fuzz_* in BUILD_DIR/fuzz, at the max_len of fuzz/<target>.options, plus
# vhost_backend:128 (short sequences). Prints a Markdown table.
#
# CPU_RUNS=N adds a column that load does not distort: the CPU time (user
# + system) per exec of one process over exactly N runs, -seed=1, from the
# same corpus (libFuzzer's start-up and seed replay included).
set -euo pipefail
cd "$(dirname "$0")/.."
build=$(realpath "${1:?usage: bench_fuzz.sh BUILD_DIR [SECONDS] [TARGET[:MAX_LEN]...]}")
secs=${2:-30}
shift $(($# < 2 ? $# : 2))
if [ $# -eq 0 ]; then
	for b in "$build"/fuzz/fuzz_*; do
		set -- "$@" "${b##*/fuzz_}"
	done
	set -- "$@" vhost_backend:128
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/vuc-benchfuzz.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

cpu_runs=${CPU_RUNS:-0}
if [ "$cpu_runs" -gt 0 ]; then
	echo "| target | max_len | execs/s (2 processes) | per process | CPU ms/exec ($cpu_runs runs, seed 1) |"
	echo "|---|---|---|---|---|"
else
	echo "| target | max_len | execs/s (2 processes) | per process |"
	echo "|---|---|---|---|"
fi

# cpu_per_exec TARGET MAX_LEN: ms of CPU per exec over $cpu_runs runs
cpu_per_exec() {
	local d=$tmp/$1-$2-cpu t
	mkdir -p "$d/corpus"
	cp corpus/"$1"/* "$d/corpus/" 2>/dev/null || true
	t=$(cd "$d" && TIMEFORMAT='%U %S' && {
		time ASAN_OPTIONS=detect_leaks=1 "$build/fuzz/fuzz_$1" \
			-runs="$cpu_runs" -seed=1 -max_len="$2" -timeout=10 \
			corpus >log 2>&1
	} 2>&1) || { echo "failed"; return; }
	awk -v t="$t" -v n="$cpu_runs" \
		'BEGIN { split(t, a, " "); printf "%.3f", (a[1] + a[2]) * 1000 / n }'
}
for spec in "$@"; do
	t=${spec%%:*}
	len=${spec#*:}
	if [ "$len" = "$spec" ]; then
		len=$(sed -n 's/^max_len *= *//p' "fuzz/$t.options" 2>/dev/null)
		len=${len:-4096}
	fi
	pids=()
	for w in 0 1; do
		d=$tmp/$t-$len-$w
		mkdir -p "$d/corpus"
		cp corpus/"$t"/* "$d/corpus/" 2>/dev/null || true
		(cd "$d" && ASAN_OPTIONS=detect_leaks=1 "$build/fuzz/fuzz_$t" \
			-max_total_time="$secs" -max_len="$len" -timeout=10 \
			-print_final_stats=1 -seed=$((w + 1)) corpus \
			>log 2>&1) &
		pids+=($!)
	done
	wait "${pids[@]}" || true
	a=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$tmp/$t-$len-0/log")
	b=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$tmp/$t-$len-1/log")
	if [ -z "$a" ] || [ -z "$b" ]; then
		echo "| $t | $len | finding or failure: see below | |"
		tail -5 "$tmp/$t-$len-0/log" "$tmp/$t-$len-1/log" >&2
		continue
	fi
	if [ "$cpu_runs" -gt 0 ]; then
		echo "| $t | $len | $((a + b)) | $a, $b | $(cpu_per_exec "$t" "$len") |"
	else
		echo "| $t | $len | $((a + b)) | $a, $b |"
	fi
done
