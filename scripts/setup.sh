#!/usr/bin/env bash
# setup.sh - install what vu-conform needs on Debian 12, and nothing when all
# of it is there already. Needs root (or sudo) only when something is missing.
set -euo pipefail

# Build and unit-test dependencies (DESIGN section 13).
pkgs=(
	cmake make gcc clang pkg-config
	check libjson-c-dev liblua5.4-dev
	libclang-rt-14-dev libfuzzer-14-dev
	clang-format python3
	# Real peers (DESIGN section 12): dpdk-testpmd (vhost PMD and
	# virtio-user), qemu-storage-daemon and virtiofsd.
	dpdk-dev qemu-system-common
	# The report's browser test.
	chromium
	# AFL++ builds of the fuzz targets; seed corpus zips (OSS-Fuzz layout).
	afl++ zip
)

missing=()
for p in "${pkgs[@]}"; do
	st=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
	[ "$st" = installed ] || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
	echo "setup: all ${#pkgs[@]} packages present"
	exit 0
fi

echo "setup: installing ${missing[*]}"
sudo=""
if [ "$(id -u)" -ne 0 ]; then
	command -v sudo >/dev/null || {
		echo "setup: not root and no sudo; install: ${missing[*]}" >&2
		exit 2
	}
	sudo=sudo
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "setup: done"
