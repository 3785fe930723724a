#!/usr/bin/env bash
# afl-build.sh SRC_DIR - fuzz/build-afl.sh builds every target with
# afl-clang-fast (persistent mode through AFL++'s libFuzzer driver), each
# runs its seeds, and afl-fuzz fuzzes one for a few seconds in persistent
# mode. Exit 77 without AFL++.
set -euo pipefail
src=$(cd "$1" && pwd)
command -v afl-clang-fast >/dev/null && command -v afl-fuzz >/dev/null ||
	{ echo "SKIP: AFL++ not installed (apt install afl++)"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
WORK=$tmp/work "$src/fuzz/build-afl.sh" "$tmp/out" >"$tmp/build.log" 2>&1 ||
	{ tail -50 "$tmp/build.log"; echo "FAIL: build-afl.sh failed"; exit 1; }
targets=$(sed -n 's/^vuc_fuzz_target(\([a-z_]*\) .*/\1/p' \
	"$src/fuzz/CMakeLists.txt")
for t in $targets; do
	[ -x "$tmp/out/$t" ] || { echo "FAIL: no $t"; exit 1; }
	# the AFL++ driver runs files named on the command line one by one
	find "$src/corpus/$t" -type f | sed -n 1,20p |
		xargs "$tmp/out/$t" >"$tmp/$t.log" 2>&1 ||
		{ grep -v '^Reading\|^Execution' "$tmp/$t.log" | tail -20
		  echo "FAIL: $t seeds (run them again with AFL_DEBUG=1)"
		  exit 1; }
	echo "ok: $t"
done
mkdir -p "$tmp/in"
cp "$src"/corpus/vhost_wire/* "$tmp/in/"
AFL_SKIP_CPUFREQ=1 AFL_NO_UI=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 \
	timeout 120 afl-fuzz -i "$tmp/in" -o "$tmp/findings" -V 5 \
	-x "$tmp/out/vhost_wire.dict" -- "$tmp/out/vhost_wire" \
	>"$tmp/afl.log" 2>&1 || { tail -30 "$tmp/afl.log"; echo "FAIL: afl-fuzz"; exit 1; }
stats=$tmp/findings/default/fuzzer_stats
grep -q 'persistent' "$stats" ||
	{ cat "$stats"; echo "FAIL: not in persistent mode"; exit 1; }
[ -z "$(ls -A "$tmp/findings/default/crashes" 2>/dev/null | grep -v README)" ] ||
	{ echo "FAIL: afl-fuzz found a crash"; exit 1; }
grep -E 'execs_per_sec|execs_done|target_mode' "$stats"
