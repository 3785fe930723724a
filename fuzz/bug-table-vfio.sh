#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bug-table-vfio.sh - prove the in-process vfio_server target finds the
# seeded bugs of vuc-ref-vfio: for every bug, run fuzz_vfio_server with
# that bug switched on (VUC_FUZZ_BUG) for up to SECONDS, from
# corpus/vfio_server, and print one Markdown row: bug, found, seconds,
# what fired.
#
#   fuzz/bug-table-vfio.sh BUILD_DIR [SECONDS] [BUG...]
#
# BUILD_DIR is a VUC_FUZZ=ON build (libFuzzer, ideally ASan + UBSan).
# The bugs are those of BUILD_DIR/bin/vuc-ref-vfio --list-bugs (else of
# reference-backend/vfio/bugs.c). One bug at a time, under nice. "seed" in
# the found column: a seed input already trips an oracle (the corpus
# replay, before any mutation). VUC_FUZZ_STRICT=1 in the environment
# switches the SHOULD-level oracles on (fuzz/vfio_server.c).
set -euo pipefail
cd "$(dirname "$0")/.."
. fuzz/bug-table-lib.sh
build=${1:?usage: bug-table-vfio.sh BUILD_DIR [SECONDS] [BUG...]}
secs=${2:-60}
shift $(($# < 2 ? $# : 2))
bin=$(realpath "$build/fuzz/fuzz_vfio_server")
[ -x "$bin" ] || { echo "no $bin (build with -DVUC_FUZZ=ON)" >&2; exit 2; }
if [ $# -eq 0 ]; then
	if [ -x "$build/bin/vuc-ref-vfio" ]; then
		set -- $("$build/bin/vuc-ref-vfio" --list-bugs |
			awk '/^[a-z]/ { print $1 }')
	else
		set -- $(sed -n 's/^\t{ BUG_[A-Z_]*, "\([a-z-]*\)",.*/\1/p' \
			reference-backend/vfio/bugs.c)
	fi
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/vuc-bugtable-vfio.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM

one() { # one BUG
	local bug=$1 dir=$work/$1 t0 t1 found what rc
	mkdir -p "$dir/corpus"
	cp corpus/vfio_server/* "$dir/corpus/"
	t0=$(date +%s.%N)
	rc=0
	(cd "$dir" && VUC_FUZZ_BUG=$bug timeout $((secs + 60)) \
		nice "$bin" -max_total_time="$secs" -timeout=10 \
		-rss_limit_mb=2560 -max_len=2048 -print_final_stats=1 \
		corpus >log 2>&1) || rc=$?
	t1=$(date +%s.%N)
	bt_verdict "$dir" 140
	if [ -n "$found" ]; then
		printf '| %s | %s | %.1f s | %s |\n' "$bug" "$found" \
			"$(echo "$t1 - $t0" | bc)" "$what"
	elif [ "$rc" -gt 128 ] && [ "$rc" -ne 137 ]; then
		printf '| %s | yes | %.1f s | killed by signal %d (no input saved) |\n' \
			"$bug" "$(echo "$t1 - $t0" | bc)" $((rc - 128))
	else
		printf '| %s | no | %s s | - |\n' "$bug" "$secs"
	fi
	rm -rf "$dir"
}

echo "| bug | found | time | what fired |"
echo "|---|---|---|---|"
for b in "$@"; do
	one "$b"
done
