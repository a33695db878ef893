#!/usr/bin/env bash
# Installs build/ into a temporary root and builds a consumer with pkg-config against it.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
meson install -C build --destdir "$root" --quiet
pc=$(dirname "$(find "$root" -name astrograd.pc | head -n1)")
flags=$(PKG_CONFIG_PATH="$pc" pkg-config --define-prefix --cflags --libs astrograd)
cc -std=c11 -Wall -Wextra -Werror tests/install_consumer.c $flags -o "$root/consumer"
libdir=$(PKG_CONFIG_PATH="$pc" pkg-config --define-prefix --variable=libdir astrograd)
LD_LIBRARY_PATH="$libdir" "$root/consumer"
