#!/usr/bin/env bash
# Installs build/ into a temporary root and builds a consumer with pkg-config against it.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
meson install -C build --destdir "$root" --quiet >/dev/null
pc=$(find "$root" -name astrograd.pc | head -n1)
export PKG_CONFIG_PATH="$(dirname "$pc")" PKG_CONFIG_SYSROOT_DIR="$root"
cc -std=c11 -Wall -Wextra -Werror tests/install_consumer.c $(pkg-config --cflags --libs astrograd) -o "$root/consumer"
# pkg-config already puts libdir under the sysroot
LD_LIBRARY_PATH="$(pkg-config --variable=libdir astrograd)" "$root/consumer"
# the CUDA backend module (built where nvcc is) is installed next to the library, where
# backends/backend.c looks for it first
if [ -f build/libastrograd_cuda.so ]; then
    test -f "$(pkg-config --variable=libdir astrograd)/libastrograd_cuda.so" ||
        { echo "check_install: libastrograd_cuda.so is not installed next to libastrograd" >&2; exit 1; }
fi
