#!/usr/bin/env bash
# test-all.sh - set up, then build and run every test: gcc with ASan and
# UBSan, clang, and the formatting check. VUC_WERROR=ON turns warnings into
# errors (CI sets it). Exits non-zero on the first failure.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh

werror=${VUC_WERROR:-OFF}
jobs=${JOBS:-$(nproc)}

build() { # build DIR CC [cmake options...]
	local dir=$1 cc=$2
	shift 2
	echo "== build $dir ($cc)"
	CC=$cc cmake -S . -B "$dir" -DVUC_WERROR="$werror" "$@" >/dev/null
	cmake --build "$dir" -j "$jobs"
}

build build-test-gcc gcc -DVUC_SANITIZE="address;undefined"
# Tests labelled "slow" (real peers, suite sweeps over every seeded bug) run
# once, in the clang build below, not under the sanitizers.
echo "== ctest build-test-gcc (ASan + UBSan; slow tests run in the clang build)"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	ctest --test-dir build-test-gcc --output-on-failure -j "$jobs" -LE slow

build build-test-clang clang
# The suites against the real daemons (label "peers": virtiofsd,
# qemu-storage-daemon, DPDK testpmd, each with its baseline; under a
# minute each) run here; VUC_PEERS=0 leaves them out.
peers=()
[ "${VUC_PEERS:-1}" = 0 ] && peers=(-LE peers)
echo "== ctest build-test-clang (slow tests too; peers: ${VUC_PEERS:-1})"
ctest --test-dir build-test-clang --output-on-failure -j "$jobs" "${peers[@]}"

# Every fuzz target under libFuzzer with ASan + UBSan for a short while;
# any finding fails the run (the crash input is left in build-test-fuzz/).
fuzz_secs=${VUC_FUZZ_SECONDS:-20}
build build-test-fuzz clang -DVUC_FUZZ=ON -DVUC_SANITIZE="address;undefined"
for t in build-test-fuzz/fuzz/fuzz_*; do
	name=${t##*/fuzz_}
	echo "== fuzz $name for ${fuzz_secs}s (libFuzzer, ASan + UBSan)"
	work=build-test-fuzz/fuzz-run/$name
	rm -rf "$work" && mkdir -p "$work/corpus"
	cp -r "corpus/$name/." "$work/corpus/" 2>/dev/null || true
	(cd "$work" && "../../fuzz/fuzz_$name" -max_total_time="$fuzz_secs" \
		-print_final_stats=1 corpus >log 2>&1) || {
		tail -40 "$work/log"
		echo "fuzz $name: FINDING (input and log in $work)" >&2
		exit 1
	}
	grep -E 'stat::number_of_executed_units|stat::average_exec_per_sec' \
		"$work/log" | tr '\n' ' '
	echo
done

echo "== clang-format check"
files=$(git ls-files --cached --others --exclude-standard '*.c' '*.h' \
	2>/dev/null || find harness tests fuzz bench -name '*.[ch]')
[ -n "$files" ] || { echo "clang-format: no C files found" >&2; exit 1; }
# shellcheck disable=SC2086
clang-format --dry-run --Werror $files
echo "clang-format: $(echo "$files" | wc -w) files formatted"
