#!/bin/bash -eu
# ClusterFuzzLite build: the same in-tree script as OSS-Fuzz.
exec "$SRC/vu-conform/fuzz/oss-fuzz-build.sh"
