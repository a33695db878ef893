#!/usr/bin/env bash
# Installs the Debian packages astrograd needs (only those missing; sudo only when not root),
# then configures and builds into build/. Called by scripts/test.sh and scripts/demo.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

pkgs=(meson ninja-build pkg-config gcc libopenblas-openmp-dev liblapacke-dev libfftw3-dev
      libhdf5-dev libcmocka-dev libcfitsio-dev libpng-dev libcairo2-dev zlib1g-dev valgrind
      g++ casacore-dev) # g++ and casacore-dev: the Measurement Set reader (imaging/ms.cc)
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing ${missing[*]}"
    sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ ! -f build/build.ninja ]; then
    meson setup build --buildtype=release
fi
ninja -C build
