#!/bin/bash
# SPDX-License-Identifier: MIT
#
# ref_suite.sh VU_CONFORM VUC_REF_VFIO CASES_DIR TARGET_FILE - the whole
# vfio-user suite against the clean reference server:
#
#  1. the cases load, at least 180 of them, each with a spec anchor that
#     ends in a checklist id (vfio-user#anchor/VU-...);
#  2. a run against TARGET_FILE (a fresh server per case) with --strict:
#     zero FAIL (SHOULD-level too), zero ERROR;
#  3. the disconnect cases with --reuse against a server that serves the
#     next client (vuc-ref-vfio --reconnect): the same, and none of them
#     skipped for want of a server to reconnect to;
#  4. the de-facto cases: skipped without --profile, run (whatever their
#     verdict: the reference server is neither libvfio-user nor QEMU) with
#     --profile NAME.
#
# Prints the suite's timing. Environment: SUITE_JOBS (default 2).
set -u

usage="usage: ref_suite.sh VU_CONFORM VUC_REF_VFIO CASES_DIR TARGET_FILE"
vuc=${1:?$usage}
ref=${2:?$usage}
cases=${3:?$usage}
tfile=${4:?$usage}
jobs=${SUITE_JOBS:-2}

work=$(mktemp -d "${TMPDIR:-/tmp}/vuc-vfio-suite-XXXXXX") || exit 1
mkdir "$work/tmp"
export TMPDIR="$work/tmp"
trap 'rm -rf "$work"' EXIT
status=0
fail() {
	echo "ref_suite: $*" >&2
	status=1
}

common=(--protocol vfio-user --device pci --cases "$cases"
	--trace-dir "$work/trace")

# 1. loading, count, anchors
if ! "$vuc" "${common[@]}" --list >"$work/list" 2>"$work/list.err"; then
	fail "--list failed: $(head -5 "$work/list.err")"
fi
if [ -s "$work/list.err" ]; then
	fail "case files reported problems:"
	head -20 "$work/list.err" >&2
fi
n=$(grep -c '^vfio-user/' "$work/list")
[ "$n" -ge 180 ] || fail "$n vfio-user cases, fewer than 180"
dups=$(cut -f1 "$work/list" | sort | uniq -d)
[ -z "$dups" ] || fail "duplicate ids: $dups"
bad=$(awk -F'\t' '/^vfio-user\// && $3 !~ /^vfio-user#[a-z0-9-]+\/VU-[A-Z]+(-[A-Z]+)*-[0-9]+$/ { print $1 " (" $3 ")" }' "$work/list")
[ -z "$bad" ] || fail "cases without a vfio-user#anchor/VU-... spec:
$bad"
echo "# $n vfio-user cases"

# 2. the whole suite, a fresh server per case
t0=$SECONDS
"$vuc" "${common[@]}" --target-file "$tfile" --strict -j "$jobs" \
	>"$work/suite.tap" 2>"$work/suite.err"
rc=$?
tail -1 "$work/suite.tap" | grep -q PASSED ||
	fail "the suite against $tfile did not pass (exit $rc)"
grep -E '^not ok' -A3 "$work/suite.tap" >&2
grep -E '^# [0-9]+ cases' "$work/suite.tap"
echo "# suite against $tfile: $((SECONDS - t0)) s with -j $jobs"

# 3. the disconnect cases against a server that serves the next client
"$vuc" "${common[@]}" --reuse --target "$ref --reconnect" --strict \
	-j "$jobs" --filter 'vfio-user/disconnect' \
	>"$work/reuse.tap" 2>"$work/reuse.err"
rc=$?
tail -1 "$work/reuse.tap" | grep -q PASSED ||
	fail "the disconnect cases with --reuse did not pass (exit $rc)"
grep -E '^not ok' -A3 "$work/reuse.tap" >&2
if grep -E '# SKIP .*(reconnect|new server process)' "$work/reuse.tap" >&2
then
	fail "disconnect cases skipped although the server stays"
fi
grep -E '^# [0-9]+ cases' "$work/reuse.tap"

# 4. profiles: every case skipped for a profile runs with it
for p in $(sed -n 's/.* # SKIP profile \([^ ]*\) not selected$/\1/p' \
		"$work/suite.tap" | sort -u); do
	filters=()
	for id in $(sed -n "s/^ok [0-9]* - \\([^ ]*\\) # SKIP profile $p not selected\$/\\1/p" \
			"$work/suite.tap"); do
		filters+=(--filter "$id")
	done
	"$vuc" "${common[@]}" --target-file "$tfile" --profile "$p" \
		-j "$jobs" "${filters[@]}" >"$work/profile-$p.tap" \
		2>"$work/profile-$p.err"
	if grep -q "# SKIP profile $p not selected" "$work/profile-$p.tap"; then
		fail "--profile $p did not select its cases"
	fi
	echo "# profile $p: $((${#filters[@]} / 2)) case(s) run," \
		"$(grep -c '^not ok' "$work/profile-$p.tap") differ from it"
done

exit $status
