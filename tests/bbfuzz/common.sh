# SPDX-License-Identifier: MIT
# common.sh - scenarios bbfuzz.sh and vfio.sh share. Sourced; they set
# VUC, REF, tmp (targets' private directories under $tmp/t) and die().

# interrupt_run ARGS...: SIGINT 2 s into `vu-conform fuzz ARGS`: it stops
# within 5 s, exit 0, and says it was interrupted
interrupt_run() {
	"$VUC" fuzz --quiet --reuse --seed 3 --target "$REF --reconnect" \
		--duration 60 --out "$tmp/f" "$@" >"$tmp/out" 2>"$tmp/err" &
	pid=$!
	sleep 2
	kill -INT "$pid"
	t0=$(date +%s)
	wait "$pid"
	rc=$?
	[ "$rc" = 0 ] || die "interrupted: exit $rc, want 0: $(cat "$tmp/err")"
	[ $(($(date +%s) - t0)) -le 5 ] ||
		die "took $(($(date +%s) - t0)) s to stop"
	grep -q interrupted "$tmp/err" ||
		die "no 'interrupted': $(cat "$tmp/err")"
}

# stall_run ARGS...: `vu-conform fuzz ARGS` for 10 s with the daemon
# stopped (SIGSTOP) for 3 s once, 2 s in, as a loaded machine may stop it.
# The hang that looks like does not recur, so it is not a finding: exit 0,
# said and counted on stderr, its input kept as unconfirmed-hang-*.bin.
stall_run() {
	"$VUC" fuzz --quiet --reuse --seed 5 --target "$REF --reconnect" \
		--duration 10 --out "$tmp/f" "$@" >"$tmp/out" 2>"$tmp/err" &
	pid=$!
	sleep 2
	pkill -STOP -f "$tmp/t" || die "no daemon to stop"
	sleep 3
	pkill -CONT -f "$tmp/t"
	wait "$pid"
	rc=$?
	[ "$rc" = 0 ] || die "stalled once: exit $rc, want 0: $(cat "$tmp/err")"
	grep -q 'did not recur in 2 replays: not a finding' "$tmp/err" ||
		die "no unconfirmed hang said: $(cat "$tmp/err")"
	grep -Eq ' [0-9]+ unconfirmed$' "$tmp/err" ||
		die "not counted: $(cat "$tmp/err")"
	ls "$tmp/f"/unconfirmed-hang-*.bin >/dev/null 2>&1 ||
		die "no unconfirmed-hang-*.bin: $(ls "$tmp/f" 2>&1)"
	[ "$(ls "$tmp/f" | grep -c '\.lua$')" = 0 ] ||
		die "a finding written: $(ls "$tmp/f")"
}
