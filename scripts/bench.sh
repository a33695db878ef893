#!/usr/bin/env bash
# Runs every benchmark program with its PyTorch peer in the same invocation, as README's
# Benchmarks section describes: installs the peers (Debian's python3-torch and python3-astropy, only if missing;
# sudo only when not root), builds (scripts/setup.sh), runs each program from the repository
# root (the programs find benchmarks/peers/ and write benchmarks/results/*.json relative to
# it) and exits non-zero if any program fails.
#
#   ./scripts/bench.sh            # README's thread counts (2; bench_autograd 1)
#   ./scripts/bench.sh 4          # every program at 4 threads
set -euo pipefail
cd "$(dirname "$0")/.."

if ! dpkg-query -W -f='${Status}' python3-torch python3-astropy 2>/dev/null | grep -c "ok installed" | grep -q 2; then
    echo "bench: installing python3-torch and python3-astropy (the PyTorch peers; astropy reads the EHT UVFITS)"
    sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends python3-torch python3-astropy >/dev/null
fi

./scripts/setup.sh

# one program per benchmarks/bench_*.c, so a new program is not forgotten here
failed=()
for src in benchmarks/bench_*.c; do
    name=$(basename "$src" .c)
    threads=${1:-2}
    [ -z "${1:-}" ] && [ "$name" = bench_autograd ] && threads=1  # per-op overhead: one thread
    echo "== $name $threads"
    if [ ! -x "build/benchmarks/$name" ]; then
        echo "bench: build/benchmarks/$name was not built" >&2
        failed+=("$name")
        continue
    fi
    "build/benchmarks/$name" "$threads" || failed+=("$name")
done

if [ ${#failed[@]} -gt 0 ]; then
    echo "bench: failed: ${failed[*]}" >&2
    exit 1
fi
echo "bench: all programs ran; JSON in benchmarks/results/"
