#!/usr/bin/env bash
# oss-fuzz-build.sh SRC_DIR - run fuzz/oss-fuzz-build.sh with the OSS-Fuzz
# environment set by hand (clang, ASan + UBSan, libFuzzer as the engine,
# clang++ as the linker as OSS-Fuzz requires) and check that every target,
# its seed corpus zip and its dictionary land in $OUT, and that each
# target runs its seeds. Exit 77 when a tool is missing.
set -euo pipefail
src=$(cd "$1" && pwd)
for tool in clang clang++ cmake zip pkg-config; do
	command -v "$tool" >/dev/null ||
		{ echo "SKIP: $tool not found"; exit 77; }
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export CC=clang CXX=clang++ SRC=$src OUT=$tmp/out WORK=$tmp/work
export CFLAGS="-O1 -fno-omit-frame-pointer -gline-tables-only \
-fsanitize=address,undefined -fsanitize-address-use-after-scope \
-fsanitize=fuzzer-no-link"
export CXXFLAGS=$CFLAGS LIB_FUZZING_ENGINE=-fsanitize=fuzzer
"$src/fuzz/oss-fuzz-build.sh" >"$tmp/build.log" 2>&1 ||
	{ tail -50 "$tmp/build.log"; echo "FAIL: the build script failed"; exit 1; }

targets=$(sed -n 's/^vuc_fuzz_target(\([a-z_]*\) .*/\1/p' \
	"$src/fuzz/CMakeLists.txt")
fail=0
for t in $targets; do
	for f in "$t" "${t}_seed_corpus.zip" "$t.dict" "$t.options"; do
		[ -s "$OUT/$f" ] || { echo "FAIL: \$OUT/$f missing"; fail=1; }
	done
	[ -x "$OUT/$t" ] || { echo "FAIL: \$OUT/$t not executable"; fail=1; }
	# the zip holds the corpus, named by sha1 (python3: no unzip needed)
	n=$(python3 -c 'import sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
print(len([i for i in z.infolist() if not i.is_dir()]))' \
		"$OUT/${t}_seed_corpus.zip" 2>/dev/null || echo 0)
	want=$(find "$src/corpus/$t" -type f | wc -l)
	[ "$n" -eq "$want" ] ||
		{ echo "FAIL: $t seed zip has $n files, corpus/$t $want"; fail=1; }
	# the built target runs its seeds (libFuzzer: each once)
	if ! (cd "$tmp" && "$OUT/$t" -runs=0 -dict="$OUT/$t.dict" \
		"$src/corpus/$t" >"$tmp/$t.log" 2>&1); then
		tail -30 "$tmp/$t.log"
		echo "FAIL: $t does not run its seeds"
		fail=1
	fi
	echo "ok: $t ($n seeds)"
done
[ -n "$targets" ] || { echo "FAIL: no targets"; exit 1; }
exit $fail
