#!/bin/bash -eu
# OSS-Fuzz build: everything is in the tree (fuzz/oss-fuzz-build.sh).
exec "$SRC/vu-conform/fuzz/oss-fuzz-build.sh"
