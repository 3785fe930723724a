#!/bin/bash
# SPDX-License-Identifier: MIT
#
# bug_sweep.sh VU_CONFORM VUC_REF_VHOST CASES_DIR [MORE_DIRS...] - run the
# whole vhost-user suite (and the data-plane cases of MORE_DIRS) against
# every seeded bug of the reference back-end
# (read from --list-bugs at run time) and fail if a bug survives, i.e. no
# case FAILs against it. Each bug runs with --device net first and, if
# nothing catches it there, with --device blk (some bugs live in one
# device only). Prints, per bug, the device that caught it and the ids of
# the cases that FAILed (from --json).
#
# Environment: SWEEP_JOBS (default 2), SWEEP_BUGS (a space-separated
# subset, for debugging), SWEEP_KEEP=1 keeps the work directory.
set -u

vuc=${1:?usage: bug_sweep.sh VU_CONFORM VUC_REF_VHOST CASES_DIR}
ref=${2:?usage: bug_sweep.sh VU_CONFORM VUC_REF_VHOST CASES_DIR}
cases=${3:?usage: bug_sweep.sh VU_CONFORM VUC_REF_VHOST CASES_DIR}
jobs=${SWEEP_JOBS:-2}
shift 3
more=()
for d in "$@"; do more+=(--cases "$d"); done

work=$(mktemp -d "${TMPDIR:-/tmp}/vuc-sweep-XXXXXX") || exit 1
mkdir "$work/tmp"
export TMPDIR="$work/tmp"
cleanup() {
	[ "${SWEEP_KEEP:-0}" = 1 ] && { echo "work directory: $work"; return; }
	rm -rf "$work"
}
trap cleanup EXIT

bugs=${SWEEP_BUGS:-$("$ref" --list-bugs | awk '{ print $1 }')}
[ -n "$bugs" ] || { echo "bug_sweep: $ref --list-bugs lists nothing" >&2; exit 1; }

# fails JSON -> the ids of the FAIL cases, one a line
fails() {
	python3 - "$1" <<'PY'
import json, sys
try:
    report = json.load(open(sys.argv[1]))
except (OSError, ValueError):
    sys.exit(0)
for c in report.get("cases", []):
    if c.get("verdict") == "FAIL":
        print(c["id"])
PY
}

survivors=()
start=$SECONDS
for bug in $bugs; do
	caught=""
	for dev in net blk; do
		json="$work/$bug-$dev.json"
		# exit status 1 is expected (cases fail); 2 is a setup error
		# --max-fail: a few catching cases are proof enough.
		"$vuc" --target "$ref --device $dev --bug $bug" --device "$dev" \
			--cases "$cases" ${more[@]+"${more[@]}"} -j "$jobs" --json "$json" \
			--max-fail "${SWEEP_MAX_FAIL:-3}" \
			--trace-dir "$work/trace" >"$work/$bug-$dev.tap" 2>"$work/$bug-$dev.err"
		rc=$?
		if [ "$rc" -ge 2 ]; then
			echo "bug_sweep: $bug ($dev): vu-conform exited $rc:" >&2
			tail -5 "$work/$bug-$dev.err" >&2
		fi
		ids=$(fails "$json")
		if [ -n "$ids" ]; then
			caught=$dev
			break
		fi
	done
	if [ -n "$caught" ]; then
		n=$(echo "$ids" | wc -l)
		echo "CAUGHT $bug ($caught): $n case(s)"
		echo "$ids" | sed 's/^/    /'
	else
		echo "SURVIVED $bug: no case FAILs with --device net or blk"
		survivors+=("$bug")
	fi
done

echo "# sweep of $(echo $bugs | wc -w) seeded bugs in $((SECONDS - start)) s"
if [ ${#survivors[@]} -gt 0 ]; then
	echo "# surviving seeded bugs: ${survivors[*]}"
	exit 1
fi
echo "# every seeded bug is caught"
exit 0
