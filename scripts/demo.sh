#!/usr/bin/env bash
# Runs the main demo on data shipped with the project (for now the gradient-descent tutorial).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
./build/examples/gradient_descent
