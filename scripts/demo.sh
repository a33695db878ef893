#!/usr/bin/env bash
# The main demo: the M87 black hole imaged from the EHT's 2017 data shipped in data/eht/
# (examples/eht_m87.c). Extra arguments go to the program: other UVFITS files of the same
# release, several at once to fit the bands together.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
./build/examples/eht_m87 --out build/eht_m87 "$@"
echo "the image: build/eht_m87.fits (open it in ds9 or CARTA)"
