#!/usr/bin/env bash
# bug-table.sh - prove the in-process sequence target finds the seeded bugs
# of vuc-ref-vhost: for every bug, run fuzz_vhost_backend with that bug
# switched on (VUC_FUZZ_BUG) for up to SECONDS, from corpus/vhost_backend,
# and print one Markdown row: bug, found, seconds, execs, what fired.
#
#   fuzz/bug-table.sh BUILD_DIR [SECONDS] [JOBS] [BUG...]
#
# BUILD_DIR is a VUC_FUZZ=ON build (libFuzzer, ideally ASan + UBSan).
# SEEDS=none starts from one empty session instead of the trace seeds.
# "seed" in the found column: a seed input already triggers it (the
# corpus replay, before any mutation). Runs JOBS bugs at a time (default
# 2); the rows come out in the order they finish.
set -euo pipefail
cd "$(dirname "$0")/.."
. fuzz/bug-table-lib.sh
build=${1:?usage: bug-table.sh BUILD_DIR [SECONDS] [JOBS] [BUG...]}
secs=${2:-60}
jobs=${3:-2}
shift $(($# < 3 ? $# : 3))
bin=$(realpath "$build/fuzz/fuzz_vhost_backend")
[ -x "$bin" ] || { echo "no $bin (build with -DVUC_FUZZ=ON)" >&2; exit 2; }
if [ $# -eq 0 ]; then
	set -- $(sed -n 's/^\t\[BUG_[A-Z_]*\] = { "\([a-z-]*\)".*/\1/p' \
		reference-backend/vhost/bugs.c)
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/vuc-bugtable.XXXXXX")
trap 'rm -rf "$work"' EXIT

one() { # one BUG
	local bug=$1 dir=$work/$1 t0 t1 found execs what
	mkdir -p "$dir/corpus"
	if [ "${SEEDS:-}" = none ]; then
		printf '\0' >"$dir/corpus/empty"
	else
		cp corpus/vhost_backend/* "$dir/corpus/"
	fi
	t0=$(date +%s.%N)
	(cd "$dir" && VUC_FUZZ_BUG=$bug timeout $((secs + 60)) \
		"$bin" -max_total_time="$secs" -timeout=5 \
		-rss_limit_mb=4096 -max_len=2048 -print_final_stats=1 \
		corpus >log 2>&1; echo $? >rc) || true
	t1=$(date +%s.%N)
	bt_verdict "$dir" 110
	if [ -n "$found" ]; then
		execs=$(grep -o '^#[0-9]*' "$dir/log" | tail -1 | tr -d '#')
		printf '| %s | %s | %.1f | %s | %s |\n' "$bug" "$found" \
			"$(echo "$t1 - $t0" | bc)" "${execs:-?}" "$what"
	elif [ "$(cat "$dir/rc")" -gt 128 ] && [ "$(cat "$dir/rc")" -ne 137 ]; then
		# killed by a signal libFuzzer does not catch (a seeded bug
		# that resets SIGPIPE to SIG_DFL): found, but no input saved
		printf '| %s | yes | %.1f | ? | killed by signal %d (no input saved) |\n' \
			"$bug" "$(echo "$t1 - $t0" | bc)" \
			$(($(cat "$dir/rc") - 128))
	else
		execs=$(sed -n 's/^stat::number_of_executed_units: *//p' \
			"$dir/log")
		printf '| %s | no | %s | %s | - |\n' "$bug" "$secs" \
			"${execs:-?}"
	fi
	rm -rf "$dir"
}
export -f one bt_verdict
export work secs bin SEEDS

echo "| bug | found | seconds | execs | what fired |"
echo "|---|---|---|---|---|"
printf '%s\n' "$@" | xargs -P "$jobs" -I{} bash -c 'one {}'
