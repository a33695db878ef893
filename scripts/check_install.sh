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
# the optional modules (CUDA where nvcc is, the Measurement Set reader where casacore is) are
# installed next to the library, where core/module.c looks for them first
for m in libastrograd_cuda.so libastrograd_ms.so; do
    if [ -f "build/$m" ]; then
        test -f "$(pkg-config --variable=libdir astrograd)/$m" ||
            { echo "check_install: $m is not installed next to libastrograd" >&2; exit 1; }
    fi
done
