#!/usr/bin/env bash
# main.sh - set up, build, and run the main job: the conformance suite in
# cases/ against the bundled reference back-ends (vuc-ref-vhost as net and
# as blk, vuc-ref-vfio), writing the results to out/.
#
# The report: out/report.html (one self-contained page for all three runs,
# from reports/vuc-report) and out/report.md. Per target: out/<target>.tap
# (what the terminal showed), out/<target>.json (every case with its
# trace), out/<target>.junit.xml, and reproducer scripts for failed cases
# in out/<target>-repro/. Exit status 0 when every run passed, 1 otherwise.
set -uo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh || exit 2
cmake -S . -B build >/dev/null || exit 2
cmake --build build -j "${JOBS:-$(nproc)}" || exit 2
mkdir -p out

status=0
for t in vuc-ref-vhost-net vuc-ref-vhost-blk vuc-ref-vfio; do
	echo "== $t"
	rm -rf "out/$t-repro"
	build/bin/vu-conform --target-file "targets/$t.target" -j 2 \
		--json "out/$t.json" --junit "out/$t.junit.xml" \
		--trace-dir "out/$t-repro" | tee "out/$t.tap" | tail -3
	[ "${PIPESTATUS[0]}" -eq 0 ] || status=1
done
# One self-contained HTML page for the three runs (and Markdown for a PR).
reports/vuc-report -o out/report.html out/vuc-ref-vhost-net.json \
	out/vuc-ref-vhost-blk.json out/vuc-ref-vfio.json || status=1
reports/vuc-report -q -f markdown -o out/report.md out/vuc-ref-vhost-net.json \
	out/vuc-ref-vhost-blk.json out/vuc-ref-vfio.json || status=1
echo "main: report in out/report.html (and out/report.md); raw results in" \
	"out/<target>.json, .junit.xml, .tap"
exit $status
