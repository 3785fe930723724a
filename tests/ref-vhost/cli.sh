#!/bin/sh
# cli.sh - vuc-ref-vhost follows the "Backend program conventions":
# --print-capabilities, bad options exit non-zero with a message, SIGTERM
# ends it promptly with status 0 and removes its socket, --fd works, and
# --list-bugs names at least 20 seeded bugs.
set -u
BIN=$1
DIR=$(mktemp -d "${TMPDIR:-/tmp}/vuc-cli.XXXXXX") || exit 1
PID=
cleanup() {
	[ -n "$PID" ] && kill -KILL "$PID" 2>/dev/null
	rm -rf "$DIR"
}
trap cleanup EXIT INT TERM
fail() { echo "FAIL: $*"; exit 1; }

"$BIN" --print-capabilities --device blk --bogus-ignored >"$DIR/caps" ||
	fail "--print-capabilities exit status"
grep -q '"type": "blk"' "$DIR/caps" || fail "capabilities: $(cat "$DIR/caps")"

n=$("$BIN" --list-bugs | grep -c '^[a-z0-9-]*  ')
[ "$n" -ge 20 ] || fail "--list-bugs lists $n bugs"

for bad in "--bogus" "--device=gpu --socket-path=$DIR/x" \
	   "--socket-path=$DIR/a --fd=3" "" "--queues=0 --socket-path=$DIR/x" \
	   "--bug=nope --socket-path=$DIR/x" "--fd=99 --device net"; do
	# shellcheck disable=SC2086
	if "$BIN" $bad >/dev/null 2>"$DIR/err"; then
		fail "'$bad' was accepted"
	fi
	grep -q 'vuc-ref-vhost:' "$DIR/err" || fail "'$bad': no message"
done

"$BIN" --socket-path="$DIR/s" --device blk --size 1M 2>"$DIR/err" &
PID=$!
i=0
while [ ! -S "$DIR/s" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
[ -S "$DIR/s" ] || fail "no socket"
kill -TERM "$PID"
i=0
while kill -0 "$PID" 2>/dev/null && [ $i -lt 40 ]; do
	sleep 0.05
	i=$((i + 1))
done
kill -0 "$PID" 2>/dev/null && fail "still running 2 s after SIGTERM"
wait "$PID"
st=$?
PID=
[ $st -eq 0 ] || fail "SIGTERM exit status $st"
[ -e "$DIR/s" ] && fail "socket left behind"

# --fd with a connected socket: the front-end leaving ends it with 0.
python3 - "$BIN" <<'PY' || fail "--fd session"
import os, socket, struct, subprocess, sys
a, b = socket.socketpair()
p = subprocess.Popen([sys.argv[1], "--fd=%d" % b.fileno()],
                     pass_fds=[b.fileno()])
b.close()
a.sendall(struct.pack("<III", 1, 1, 0))  # GET_FEATURES
hdr = a.recv(12)
req, flags, size = struct.unpack("<III", hdr)
assert req == 1 and flags == 5 and size == 8, (req, flags, size)
assert len(a.recv(8)) == 8
a.close()
assert p.wait(timeout=5) == 0
PY
echo "PASS"
