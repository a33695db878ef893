#!/usr/bin/env bash
# Runs the whole test suite: the CPU tests, the examples, then the same CPU tests under
# valgrind (leaks and memory errors fail the run), then the CPU tests and examples built with
# AddressSanitizer and UndefinedBehaviorSanitizer. valgrind cannot run AVX-512 code, so the
# AVX-512 convolution kernels are memory-checked by the sanitizer build (on CPUs that have
# AVX-512), which also runs the 'device' suite on the test-only second device kind. CUDA tests
# run when a GPU is present and report "skipped" otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}"
# meson runs several tests at once: OpenMP workers that spin after each parallel region (libgomp's
# default) take the cores the other tests need (eht_m87 on the high band under a load of 12:
# 46.5 s spinning, 1.65 s with passive waits)
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-passive}"
meson test -C build --print-errorlogs   # suites cpu, examples, bench, footprint, and cuda (skips without a GPU)
bash scripts/check_install.sh
meson test -C build --print-errorlogs --setup valgrind --suite cpu
bash scripts/check_layers.sh
# The sanitizer build also carries the test-only second device kind (-Dtest_device=true): the
# 'device' suite runs the op table, modules, optimizers, checkpoints and examples on it.
if [ ! -f build-asan/build.ninja ]; then
    meson setup build-asan --buildtype=debugoptimized -Db_sanitize=address,undefined -Dcuda=disabled -Dtest_device=true
else
    meson configure build-asan -Dtest_device=true
fi
ninja -C build-asan
UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 ASAN_OPTIONS=detect_leaks=1 \
LSAN_OPTIONS=suppressions="$PWD/tests/lsan.supp":print_suppressions=0 \
    meson test -C build-asan --print-errorlogs --suite cpu --suite examples --suite device
