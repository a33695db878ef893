#!/usr/bin/env bash
# Runs the whole test suite: the CPU tests, the examples, then the same CPU tests under
# valgrind (leaks and memory errors fail the run). CUDA tests run when a GPU is present
# and report "skipped" otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}"
meson test -C build --print-errorlogs   # suites cpu, examples, and cuda (skips without a GPU)
bash scripts/check_install.sh
meson test -C build --print-errorlogs --setup valgrind --suite cpu
