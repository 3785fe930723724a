#!/usr/bin/env bash
# oss-fuzz-build.sh - build every fuzz target the way OSS-Fuzz and
# ClusterFuzzLite want them, from the environment they set:
#
#   CC CXX CFLAGS CXXFLAGS	compilers and flags (sanitizers, coverage)
#   LIB_FUZZING_ENGINE		the engine to link (libFuzzer, AFL++'s driver)
#   OUT				where targets, seed zips, dicts, options go
#   WORK			scratch (optional: a temp dir otherwise)
#
# The OSS-Fuzz side is one line: fuzz/oss-fuzz/build.sh runs this. The
# same script makes the AFL++ build (fuzz/build-afl.sh) and is checked by
# the ctest fuzz/oss-fuzz-build (tests/fuzz/oss-fuzz-build.sh).
#
# The libraries are built with CMake and $CC $CFLAGS; each target is
# compiled with $CC $CFLAGS and linked with $CXX $CXXFLAGS
# $LIB_FUZZING_ENGINE (OSS-Fuzz requires $CXX as the linker), json-c
# statically. Per target in $OUT: the binary, <t>_seed_corpus.zip (files
# named by their sha1), <t>.dict, <t>.options.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
: "${CC:?}" "${CXX:?}" "${LIB_FUZZING_ENGINE:?}" "${OUT:?}"
CFLAGS=${CFLAGS:-}
CXXFLAGS=${CXXFLAGS:-$CFLAGS}
work=${WORK:-$(mktemp -d)}/vu-conform
mkdir -p "$work" "$OUT"

# target: the libraries it links, in link order
declare -A libs=(
	[ring_device]="vuc_ring"
	[vhost_wire]="vuc_wire"
	[vfio_wire]="vuc_wire"
	[vhost_backend]="vuc_ref_vhost vuc_fe vuc_transport vuc_ring vuc_wire"
	[vfio_server]="vuc_ref_vfio vuc_fe vuc_transport vuc_ring vuc_wire"
	[fe_replies]="vuc_fe vuc_transport vuc_ring vuc_wire"
	[client_replies]="vuc_fe vuc_transport vuc_ring vuc_wire"
)
targets=(${VUC_FUZZ_TARGETS:-ring_device vhost_wire vfio_wire vhost_backend vfio_server fe_replies client_replies})

echo "== libraries ($CC)"
cmake -S "$src" -B "$work/build" -DCMAKE_C_COMPILER="$CC" \
	-DCMAKE_C_FLAGS="$CFLAGS" -DCMAKE_BUILD_TYPE=Release \
	-DVUC_FUZZ=OFF -DVUC_SANITIZE= >"$work/cmake.log" ||
	{ cat "$work/cmake.log"; exit 1; }
cmake --build "$work/build" -j "$(nproc)" --target vuc_ring vuc_wire \
	vuc_transport vuc_fe vuc_ref_vhost vuc_ref_vfio

# json-c: static, as the runtime image has no build-time libraries
jsonc=$(pkg-config --variable=libdir json-c)/libjson-c.a
[ -f "$jsonc" ] || jsonc=$(pkg-config --libs json-c)

inc=(-I"$src/harness" -I"$src/fuzz")
for t in "${targets[@]}"; do
	[ -f "$src/fuzz/$t.c" ] || continue
	echo "== $t"
	l=()
	i=("${inc[@]}")
	for lib in ${libs[$t]}; do
		l+=("$work/build/lib/lib$lib.a")
	done
	# each reference back-end has its own bugs.h
	case $t in
	vhost_backend) i+=(-I"$src/reference-backend/vhost") ;;
	vfio_server) i+=(-I"$src/reference-backend/vfio") ;;
	esac
	# -UNDEBUG: the oracles are assert()s
	# shellcheck disable=SC2086
	$CC $CFLAGS -std=c11 -D_GNU_SOURCE -UNDEBUG "${i[@]}" \
		-c "$src/fuzz/$t.c" -o "$work/$t.o"
	# shellcheck disable=SC2086
	$CXX $CXXFLAGS "$work/$t.o" -o "$OUT/$t" $LIB_FUZZING_ENGINE \
		"${l[@]}" $jsonc -lpthread
	if [ -d "$src/corpus/$t" ]; then
		rm -rf "$work/seeds-$t" "$OUT/${t}_seed_corpus.zip"
		mkdir -p "$work/seeds-$t"
		for f in "$src/corpus/$t"/*; do
			cp "$f" "$work/seeds-$t/$(sha1sum <"$f" | cut -c1-40)"
		done
		(cd "$work/seeds-$t" && zip -q -r "$OUT/${t}_seed_corpus.zip" .)
	fi
	for ext in dict options; do
		[ -f "$src/fuzz/$t.$ext" ] && cp "$src/fuzz/$t.$ext" "$OUT/"
	done
done
echo "== done: $OUT"
