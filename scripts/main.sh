#!/usr/bin/env bash
# main.sh - set up, build, and run the main job.
#
# Until the vu-conform runner lands (issue 4), the main job is the wire
# demo: a decoded vhost-user and vfio-user message exchange over a
# socketpair, built from the wire and transport layers, with its trace
# written to out/demo-trace.txt.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
cmake -S . -B build >/dev/null
cmake --build build -j "${JOBS:-$(nproc)}"
mkdir -p out
build/bin/vuc-wire-demo | tee out/demo-trace.txt
echo "main: trace written to out/demo-trace.txt"
