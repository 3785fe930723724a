#!/usr/bin/env bash
# build-afl.sh - the AFL++ build of every fuzz target: afl-clang-fast,
# persistent mode and shared-memory test cases through AFL++'s libFuzzer
# driver (-fsanitize=fuzzer), ASan + UBSan (AFL_USE_ASAN / AFL_USE_UBSAN).
#
#   fuzz/build-afl.sh OUTDIR
#   afl-fuzz -i corpus/vhost_backend -o findings -x OUTDIR/vhost_backend.dict \
#	-- OUTDIR/vhost_backend
set -euo pipefail
out=$(realpath -m "${1:?usage: build-afl.sh OUTDIR}")
command -v afl-clang-fast >/dev/null ||
	{ echo "build-afl.sh: afl-clang-fast not found (apt install afl++)" >&2;
	  exit 77; }
export AFL_QUIET=1 AFL_USE_ASAN=1 AFL_USE_UBSAN=1
export CC=afl-clang-fast CXX=afl-clang-fast++
export CFLAGS="-O1 -g -fno-omit-frame-pointer" CXXFLAGS="-O1 -g"
export LIB_FUZZING_ENGINE=-fsanitize=fuzzer OUT=$out
exec "$(dirname "$0")/oss-fuzz-build.sh"
