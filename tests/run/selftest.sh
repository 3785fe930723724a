#!/bin/bash
# SPDX-License-Identifier: MIT
#
# selftest.sh SCENARIO - run vu-conform against tests/run/fake_target in
# one of its misbehaving modes and check the exit status, the TAP, the
# --json report, the messages, and that nothing is left behind (no
# process, no socket, no directory).
#
# Environment (set by tests/run/CMakeLists.txt): VUC (vu-conform), FAKE
# (fake_target), CASES (tests/run/cases), BAD_CASES (tests/run/bad-cases).
set -u

work=$(mktemp -d "${TMPDIR:-/tmp}/vuc-selftest-XXXXXX") || exit 1
# Our own copy of the fake target, so that "is any left running?" only
# sees this test's processes; the targets' directories go to $work/tmp.
mkdir "$work/tmp" "$work/bin"
cp "$FAKE" "$work/bin/fake" || exit 1
fake="$work/bin/fake"
export TMPDIR="$work/tmp"
export ASAN_OPTIONS="${ASAN_OPTIONS:-}${ASAN_OPTIONS:+:}detect_leaks=1"

cleanup() {
	local p

	# only this test's copy of the fake target (its path is unique)
	for p in $(pgrep -f "^$fake"); do
		kill -KILL "$p" 2>/dev/null
	done
	rm -rf "$work"
}
trap cleanup EXIT

fail() {
	echo "FAIL: $*" >&2
	for f in out err; do
		[ -f "$work/$f" ] && { echo "--- $f:" >&2; cat "$work/$f" >&2; }
	done
	exit 1
}

# run EXPECTED-STATUS ARGS...: vu-conform, stdout to out, stderr to err
run() {
	local want=$1 got
	shift
	(cd "$work" && "$VUC" "$@" >"$work/out" 2>"$work/err")
	got=$?
	[ "$got" = "$want" ] || fail "exit status $got, expected $want: $*"
}

has() { grep -q -- "$2" "$work/$1" || fail "$1 lacks \"$2\""; }
hasnt() { ! grep -q -- "$2" "$work/$1" || fail "$1 has \"$2\""; }

# json PYTHON-EXPRESSION: true for the report d (loaded from $work/r.json)
json() {
	python3 - "$work/r.json" "$1" <<'EOF' || fail "json check: $1"
import json, sys
d = json.load(open(sys.argv[1]))
v = {c["id"]: c for c in d["cases"]}
ok = eval("(" + sys.argv[2] + ")")
if not ok:
    print(json.dumps(d, indent=1)[:3000], file=sys.stderr)
sys.exit(0 if ok else 1)
EOF
}

# nothing left: no fake target running, nothing in the targets' TMPDIR
left_behind() {
	sleep 0.1
	if pgrep -f "^$fake" >/dev/null; then
		pgrep -af "^$fake" >&2
		fail "a target process was left running"
	fi
	if [ -n "$(ls -A "$work/tmp")" ]; then
		ls -laR "$work/tmp" >&2
		fail "files were left in TMPDIR"
	fi
}

common=(--cases "$CASES" --timeout 500 --json r.json --trace-dir traces)

case "$1" in
crash)
	run 1 --target "$fake --mode=crash" --filter selftest/get-features \
		"${common[@]}"
	has out "^not ok 1 - selftest/get-features"
	has out "# FAIL: target killed by SIGSEGV"
	has out "# rerun: .*--filter selftest/get-features"
	has out "# reproducer: .*selftest__get-features.lua"
	json 'v["selftest/get-features"]["verdict"] == "FAIL" and
	      "SIGSEGV" in v["selftest/get-features"]["reason"] and
	      v["selftest/get-features"]["watchdog"]["signal"] == 11'
	[ -s "$work/traces/selftest__get-features.lua" ] ||
		fail "no reproducer written"
	[ -s "$work/traces/selftest__get-features.trace" ] ||
		fail "no trace written"
	;;
hang)
	start=$(date +%s%N)
	run 1 --target "$fake --mode=hang" "${common[@]}" \
		--filter selftest/get-features --filter selftest/many-messages
	ms=$((($(date +%s%N) - start) / 1000000))
	# two cases, each one 500 ms reply deadline, and the stop
	[ "$ms" -lt 8000 ] || fail "the run took $ms ms"
	json 'all(c["verdict"] == "FAIL" for c in d["cases"]) and
	      d["summary"]["fail"] == 2'
	json '"no reply within 500 ms" in v["selftest/get-features"]["reason"]'
	;;
leak-fd)
	run 1 --target "$fake --mode=leak-fd" --filter selftest/many-messages \
		"${common[@]}"
	has out "# FAIL: leaked 2[0-9] fds"
	json 'v["selftest/many-messages"]["verdict"] == "FAIL" and
	      v["selftest/many-messages"]["watchdog"]["fd_end"] >
	      v["selftest/many-messages"]["watchdog"]["fd_start"] + 15'
	;;
asan)
	run 1 --target "$fake --mode=asan" --filter selftest/get-features \
		"${common[@]}"
	has out "AddressSanitizer: heap-use-after-free"
	json 'v["selftest/get-features"]["verdict"] == "FAIL" and
	      "heap-use-after-free" in v["selftest/get-features"]["reason"] and
	      "AddressSanitizer" in v["selftest/get-features"]["stderr_tail"]'
	;;
unsolicited)
	run 1 --target "$fake --mode=unsolicited" \
		--filter selftest/get-features "${common[@]}"
	has out "unsolicited message"
	;;
not-executable)
	cp "$fake" "$work/bin/noexec"
	chmod a-x "$work/bin/noexec"
	run 2 --target "$work/bin/noexec" "${common[@]}"
	has err "^vu-conform: cannot start .*noexec: the program is not executable"
	has out "^Bail out!"
	json 'd["summary"]["error"] == len(d["cases"]) > 0'
	;;
skip)
	run 0 --target "$fake" --filter selftest/needs-reply-ack "${common[@]}"
	has out "^ok 1 - selftest/needs-reply-ack # SKIP .*REPLY_ACK"
	json 'v["selftest/needs-reply-ack"]["verdict"] == "SKIP"'
	# needs.profile: SKIP unless --profile names it
	run 0 --target "$fake" --filter selftest/needs-profile "${common[@]}"
	has out "^ok 1 - selftest/needs-profile # SKIP profile selftest-profile not selected"
	run 0 --target "$fake" --filter selftest/needs-profile \
		--profile other --profile selftest-profile "${common[@]}"
	has out "^ok 1 - selftest/needs-profile$"
	run 2 --target "$fake" --profile "no,commas" "${common[@]}"
	has err "^vu-conform: --profile wants a name"
	;;
connect-skips-fresh)
	"$fake" --socket-path="$work/daemon.sock" --reconnect &
	for _ in $(seq 100); do [ -S "$work/daemon.sock" ] && break; sleep 0.02; done
	run 0 --connect "$work/daemon.sock" "${common[@]}" \
		--filter selftest/fresh-process --filter selftest/get-features
	has out "ok .* - selftest/fresh-process # SKIP needs a fresh target process"
	has out "^ok .* - selftest/get-features$"
	kill %1
	wait
	rm -f "$work/daemon.sock"
	;;
should)
	# GET_QUEUE_NUM is not answered by a hanging target: a SHOULD FAIL
	run 0 --target "$fake --mode=hang" --filter selftest/should-level \
		"${common[@]}"
	has out "^not ok 1 - selftest/should-level # TODO SHOULD"
	run 1 --target "$fake --mode=hang" --filter selftest/should-level \
		--strict "${common[@]}"
	;;
baseline)
	cat >"$work/base.txt" <<EOF
# reviewed
selftest/many-messages FAIL leaks an fd per message (bug 12)
selftest/get-features FAIL was broken before
EOF
	run 1 --target "$fake --mode=leak-fd" --baseline base.txt \
		--filter selftest/many-messages --filter selftest/get-features \
		--write-baseline new.txt --junit j.xml "${common[@]}"
	json 'v["selftest/many-messages"]["verdict"] == "XFAIL" and
	      v["selftest/get-features"]["verdict"] == "XPASS" and
	      d["summary"]["xfail"] == 1 and d["summary"]["xpass"] == 1'
	has out "TODO expected failure (baseline: leaks an fd per message"
	has new.txt "^selftest/get-features PASS$"
	has new.txt "^selftest/many-messages FAIL leaks an fd per message"
	python3 -c 'import sys, xml.etree.ElementTree as E
r = E.parse(sys.argv[1]).getroot()
assert r.tag == "testsuites" and r.get("tests") == "2", r.attrib' \
		"$work/j.xml" || fail "junit"
	# the written baseline matches the run: nothing differs
	run 0 --target "$fake --mode=leak-fd" --baseline new.txt \
		--filter selftest/many-messages --filter selftest/get-features \
		"${common[@]}"
	json 'v["selftest/many-messages"]["verdict"] == "XFAIL"'
	;;
jobs)
	run 1 --target "$fake --mode=leak-fd" "${common[@]}" -j 1
	mv "$work/r.json" "$work/j1.json"
	run 1 --target "$fake --mode=leak-fd" "${common[@]}" -j 2
	python3 - "$work/j1.json" "$work/r.json" <<'EOF' || fail "-j 2 differs"
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
va = [(c["id"], c["verdict"]) for c in a["cases"]]
vb = [(c["id"], c["verdict"]) for c in b["cases"]]
print(va, vb)
sys.exit(0 if va == vb and a["summary"] == b["summary"] else 1)
EOF
	;;
reuse)
	run 0 --target "$fake --reconnect" --reuse "${common[@]}"
	json 'd["target"]["mode"] == "reuse" and d["summary"]["pass"] >= 3'
	;;
fd-arg)
	run 0 --target "$fake --fd={fd}" --filter selftest/get-features \
		"${common[@]}"
	;;
run-script)
	# one user script; options may follow it; the rerun line keeps it
	run 1 --target "$fake --mode=crash" run "$CASES/selftest.lua" \
		--filter selftest/get-features --timeout 500 --json r.json \
		--trace-dir traces
	has out "^not ok 1 - selftest/get-features"
	has out "# rerun: .* --filter selftest/get-features run .*selftest.lua$"
	;;
list)
	run 0 --list --cases "$CASES" --level must
	has out "^selftest/get-features	MUST	vhost-user#"
	hasnt out "selftest/should-level"
	;;
help)
	run 0 --help
	has out "^Usage: vu-conform"
	has out "--baseline FILE"
	run 0 --version
	has out "^vu-conform [0-9]"
	;;
bad-option)
	run 2 --frobnicate
	has err "^vu-conform: unknown option --frobnicate"
	run 2 --cases "$CASES"
	has err "^vu-conform: no target"
	run 2 --target "$fake" -j 0
	has err "^vu-conform: -j wants a number"
	;;
missing-target)
	run 2 --target "$work/bin/no-such-daemon --x" "${common[@]}"
	has err "^vu-conform: cannot start .*no-such-daemon: the program was not found"
	;;
exit-at-start)
	run 2 --target "$fake --mode=exit" "${common[@]}"
	has err "^vu-conform: the target did not start: it exited at start with status 3"
	has err "refusing to start"
	;;
long-socket-path)
	long="$work/tmp/$(printf 'd%.0s' $(seq 100))"
	mkdir -p "$long"
	TMPDIR="$long" run 2 --target "$fake" "${common[@]}"
	has err "sun_path"
	[ -z "$(ls -A "$long")" ] || fail "left files in $long"
	rmdir "$long"
	;;
syntax-error)
	run 2 --target "$fake" --cases "$BAD_CASES" --json r.json
	has err "^vu-conform: .*b-syntax-error.lua:5:"
	has out "^ok 1 - selftest/still-runs"
	;;
bad-baseline)
	run 2 --target "$fake" --baseline "$work/no-such-baseline.txt" \
		"${common[@]}"
	has err "^vu-conform: baseline .*no-such-baseline.txt: No such file"
	printf 'selftest/get-features MAYBE\n' >"$work/bad.txt"
	run 2 --target "$fake" --baseline bad.txt "${common[@]}"
	has err "bad.txt:1: verdict \"MAYBE\""
	;;
interrupt)
	# Ctrl-C in the middle of a hanging case: ends at once, cleans up
	(cd "$work" && exec "$VUC" --target "$fake --mode=hang" \
		--cases "$CASES" --timeout 20000 --case-timeout 30000 \
		>"$work/out" 2>"$work/err") &
	pid=$!
	sleep 1
	kill -INT "$pid"
	start=$(date +%s%N)
	wait "$pid"
	status=$?
	ms=$((($(date +%s%N) - start) / 1000000))
	[ "$status" = 2 ] || fail "exit status $status after SIGINT"
	[ "$ms" -lt 5000 ] || fail "took $ms ms to stop"
	has err "vu-conform: interrupted"
	;;
*)
	echo "unknown scenario $1" >&2
	exit 2
	;;
esac
left_behind
exit 0
