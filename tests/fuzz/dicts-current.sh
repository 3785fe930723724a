#!/usr/bin/env bash
# dicts-current.sh GEN FUZZ_DIR - the .dict files in FUZZ_DIR are what GEN
# (gen_fuzz_dicts) writes from the rule tables now.
set -euo pipefail
gen=$1 dir=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$gen" "$tmp"
n=0
for f in "$tmp"/*.dict; do
	if ! diff -u "$dir/${f##*/}" "$f"; then
		echo "fuzz/${f##*/} is stale: run $gen fuzz/" >&2
		exit 1
	fi
	n=$((n + 1))
done
[ "$n" -ge 5 ] || { echo "only $n dictionaries written" >&2; exit 1; }
echo "dicts-current: $n dictionaries match the rule tables"
