#!/bin/bash
# SPDX-License-Identifier: MIT
#
# peer.sh VU_CONFORM TARGET_FILE BASELINE CASES_DIR [vu-conform options...]
# - run the vhost-user suite against a real back-end described by
# TARGET_FILE, judged against BASELINE (its known deviations). More case
# directories (cases/virtio) and -j go in the options. Exits 77 (skip)
# when the back-end's program is not installed, else vu-conform's status:
# 0 when every verdict matches the baseline.
set -u

vuc=${1:?usage: peer.sh VU_CONFORM TARGET_FILE BASELINE CASES_DIR [opts]}
tfile=${2:?usage: peer.sh VU_CONFORM TARGET_FILE BASELINE CASES_DIR [opts]}
baseline=${3:?usage: peer.sh VU_CONFORM TARGET_FILE BASELINE CASES_DIR [opts]}
cases=${4:?usage: peer.sh VU_CONFORM TARGET_FILE BASELINE CASES_DIR [opts]}
shift 4

# The program is the first word of the launch line, or what a comment
# line "# program: NAME" says (a launch line that starts with sh -c).
prog=$(sed -n 's/^# *program: *\([^ ]*\).*/\1/p' "$tfile" | head -1)
[ -n "$prog" ] ||
	prog=$(sed -n 's/^launch *= *\([^ ]*\).*/\1/p' "$tfile" | head -1)
case $prog in
/*) [ -x "$prog" ] || { echo "SKIP: $prog is not installed"; exit 77; } ;;
*) command -v "$prog" >/dev/null || { echo "SKIP: $prog is not installed"; exit 77; } ;;
esac

work=$(mktemp -d "${TMPDIR:-/tmp}/vuc-peer-XXXXXX") || exit 1
mkdir "$work/tmp"
export TMPDIR="$work/tmp"
trap 'rm -rf "$work"' EXIT

"$vuc" --target-file "$tfile" --baseline "$baseline" --cases "$cases" \
	-j 2 --json "$work/report.json" --trace-dir "$work/trace" "$@" \
	>"$work/out.tap"
rc=$?
# the cases that differ from the baseline, and the summary
grep -E '^not ok|^# (FAIL|ERROR|baseline):' "$work/out.tap" |
	grep -v '# TODO' | head -200
tail -2 "$work/out.tap"
exit $rc
