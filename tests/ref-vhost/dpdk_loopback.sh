#!/bin/sh
# dpdk_loopback.sh - a real front-end against the reference back-end.
#
# DPDK's virtio-user PMD (dpdk-testpmd, io forwarding, a first burst sent
# with --tx-first) drives vuc-ref-vhost --device net through the whole
# vhost-user handshake; frames go out on TX, come back on RX and are
# forwarded again. The counters must show packets both ways. The same run
# against DPDK's own vhost PMD is the control: if it fails too, the host
# (not the back-end) is at fault.
#
# Exit 77 (ctest SKIP) when dpdk-testpmd is not installed (Debian packages
# dpdk and dpdk-dev).
set -u
BIN=$1
TESTPMD=$(command -v dpdk-testpmd) || { echo "SKIP: no dpdk-testpmd"; exit 77; }
RUN_S=${VUC_DPDK_SECONDS:-5}

DIR=$(mktemp -d "${TMPDIR:-/tmp}/vuc-dpdk.XXXXXX") || exit 1
PREFIX=vuc-ref-$$
PIDS=
cleanup() {
	for p in $PIDS; do kill -KILL "$p" 2>/dev/null; done
	exec 3>&- 2>/dev/null
	rm -rf "$DIR" "/var/run/dpdk/$PREFIX-a" "/var/run/dpdk/$PREFIX-b" \
		"${XDG_RUNTIME_DIR:-/tmp}/dpdk/$PREFIX-a" \
		"${XDG_RUNTIME_DIR:-/tmp}/dpdk/$PREFIX-b"
}
trap cleanup EXIT INT TERM
fail() {
	echo "FAIL: $*"
	for f in "$DIR"/*.out "$DIR"/*.err; do
		[ -f "$f" ] && { echo "--- $f"; tail -25 "$f"; }
	done
	exit 1
}

# testpmd exits when its stdin closes: hold a FIFO open for it.
mkfifo "$DIR/stdin" && exec 3<>"$DIR/stdin" || exit 1

wait_socket() {
	i=0
	while [ ! -S "$1" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
	[ -S "$1" ]
}

# testpmd [prefix-suffix] [seconds] [vdev] [extra args] > out
testpmd() {
	timeout -s INT "$2" "$TESTPMD" -l 0-1 --no-huge -m 256 --no-pci \
		--file-prefix="$PREFIX-$1" --single-file-segments --vdev "$3" \
		-- --forward-mode=io --nb-cores=1 --total-num-mbufs=4096 \
		--stats-period 1 $4 <&3
}

# The last "RX-packets" / "TX-packets" of a testpmd log (its summary).
counter() {
	grep -o "$1-packets: *[0-9]*" "$2" | tail -1 | grep -o '[0-9]*$'
}

check_counters() {
	rx=$(counter RX "$1")
	tx=$(counter TX "$1")
	echo "$2: RX-packets ${rx:-none}, TX-packets ${tx:-none}"
	[ "${rx:-0}" -gt 0 ] && [ "${tx:-0}" -gt 0 ] ||
		fail "$2: packets did not cross both ways"
}

# 1. virtio-user against vuc-ref-vhost.
"$BIN" --socket-path="$DIR/ref.sock" --device net 2>"$DIR/ref.err" &
REF=$!
PIDS="$REF"
wait_socket "$DIR/ref.sock" || fail "vuc-ref-vhost did not listen"
testpmd a "$RUN_S" "net_virtio_user0,path=$DIR/ref.sock" --tx-first \
	>"$DIR/ref.out" 2>&1
check_counters "$DIR/ref.out" "virtio-user -> vuc-ref-vhost"
# The front-end left: the back-end ends by itself, with status 0.
i=0
while kill -0 "$REF" 2>/dev/null && [ $i -lt 100 ]; do
	sleep 0.05
	i=$((i + 1))
done
kill -0 "$REF" 2>/dev/null && fail "vuc-ref-vhost still running"
wait "$REF"
st=$?
PIDS=
[ $st -eq 0 ] || fail "vuc-ref-vhost exit status $st"
grep -q 'refused' "$DIR/ref.err" && fail "vuc-ref-vhost refused a request"

# 2. Control: virtio-user against DPDK's vhost PMD.
testpmd b $((RUN_S + 4)) "net_vhost0,iface=$DIR/pmd.sock" "" \
	>"$DIR/pmd.out" 2>&1 &
PMD=$!
PIDS="$PMD"
wait_socket "$DIR/pmd.sock" || fail "the vhost PMD did not listen"
testpmd a "$RUN_S" "net_virtio_user0,path=$DIR/pmd.sock" --tx-first \
	>"$DIR/ctl.out" 2>&1
wait "$PMD"
PIDS=
check_counters "$DIR/ctl.out" "control: virtio-user -> DPDK vhost PMD"
echo "PASS"
