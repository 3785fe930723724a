#!/bin/bash
# SPDX-License-Identifier: MIT
#
# bug_sweep.sh VU_CONFORM VUC_REF_VFIO CASES_DIR - run the whole
# vfio-user suite against every seeded bug of the reference server (read
# from --list-bugs at run time) and fail if a bug survives, i.e. no case
# FAILs against it. Prints, per bug, the ids of the cases that FAILed
# (from --json).
#
# Each bug gets two runs: the whole suite with a fresh server per case,
# and the disconnect cases once more with --reuse against a server that
# serves the next client (--reconnect): what a server keeps of a client
# that left (seeded bug irq-fd-leak-disconnect) is only visible to the
# next client of the same process.
#
# Environment: SWEEP_JOBS (default 2), SWEEP_BUGS (a space-separated
# subset, for debugging), SWEEP_KEEP=1 keeps the work directory.
set -u

usage="usage: bug_sweep.sh VU_CONFORM VUC_REF_VFIO CASES_DIR"
vuc=${1:?$usage}
ref=${2:?$usage}
cases=${3:?$usage}
jobs=${SWEEP_JOBS:-2}

work=$(mktemp -d "${TMPDIR:-/tmp}/vuc-vfio-sweep-XXXXXX") || exit 1
mkdir "$work/tmp"
export TMPDIR="$work/tmp"
cleanup() {
	[ "${SWEEP_KEEP:-0}" = 1 ] && { echo "work directory: $work"; return; }
	rm -rf "$work"
}
trap cleanup EXIT

# --list-bugs: "NAME  what" lines, each followed by an indented
# "caught by: ..." line
bugs=${SWEEP_BUGS:-$("$ref" --list-bugs | awk '/^[^ \t]/ { print $1 }')}
[ -n "$bugs" ] || { echo "bug_sweep: $ref --list-bugs lists nothing" >&2; exit 1; }

# fails JSON... -> the ids of the FAIL cases, one a line (SHOULD-level
# failures included: they are FAIL verdicts, lenient only for the exit
# status)
fails() {
	python3 - "$@" <<'PY'
import json, sys
seen = set()
for path in sys.argv[1:]:
    try:
        report = json.load(open(path))
    except (OSError, ValueError):
        continue
    for c in report.get("cases", []):
        if c.get("verdict") == "FAIL" and c["id"] not in seen:
            seen.add(c["id"])
            print(c["id"])
PY
}

# run NAME ARGS... - one vu-conform run; exit status 1 is expected (cases
# fail), 2 is a setup error and is reported
run() {
	local name=$1 rc
	shift
	# --max-fail: a few catching cases are proof enough; the rest of a
	# run that already failed would only cost time.
	"$vuc" --protocol vfio-user --device pci --cases "$cases" -j "$jobs" \
		--max-fail "${SWEEP_MAX_FAIL:-3}" \
		--json "$work/$name.json" --trace-dir "$work/trace" "$@" \
		>"$work/$name.tap" 2>"$work/$name.err"
	rc=$?
	if [ "$rc" -ge 2 ]; then
		echo "bug_sweep: $name: vu-conform exited $rc:" >&2
		tail -5 "$work/$name.err" >&2
	fi
}

survivors=()
start=$SECONDS
for bug in $bugs; do
	run "$bug" --target "$ref --bug $bug"
	run "$bug-reuse" --reuse --filter 'vfio-user/disconnect' \
		--target "$ref --reconnect --bug $bug"
	ids=$(fails "$work/$bug.json" "$work/$bug-reuse.json")
	if [ -n "$ids" ]; then
		echo "CAUGHT $bug: $(echo "$ids" | wc -l) case(s)"
		echo "$ids" | sed 's/^/    /'
	else
		echo "SURVIVED $bug: no case FAILs"
		survivors+=("$bug")
	fi
done

echo "# sweep of $(echo "$bugs" | wc -w) seeded bugs in $((SECONDS - start)) s"
if [ ${#survivors[@]} -gt 0 ]; then
	echo "# surviving seeded bugs: ${survivors[*]}"
	exit 1
fi
echo "# every seeded bug is caught"
exit 0
