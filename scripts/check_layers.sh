#!/usr/bin/env bash
# The layering rules that a grep can hold (DESIGN.md, CONTRIBUTING.md), checked by
# scripts/test.sh. Prints each violation and exits 1 if there is any.
set -uo pipefail
cd "$(dirname "$0")/.."
bad=0
report() { echo "check_layers: $1"; echo "$2" | sed 's/^/    /'; bad=1; }

# backends/ sit below tensor/: they include only core/, backends/ and public headers.
hits=$(grep -rnE '#include "(tensor|autograd|nn|optim|imaging)/' backends/ || true)
[ -n "$hits" ] && report "backends/ must not include the layers above them" "$hits"

# Higher layers never include backend headers directly.
hits=$(grep -rnE '#include "backends/' nn/ optim/ autograd/ imaging/ 2>/dev/null || true)
[ -n "$hits" ] && report "nn/, optim/, autograd/, imaging/ must not include backends/" "$hits"

# A line marked /* host */ keeps a value on the host by design (a step counter read by the
# optimizer's arithmetic on the host), and the plain creation functions are the _on forms on
# the CPU.
# Device-clean: no CPU-only creation or CPU test inside an op. Allowed: creation functions,
# device queries, host I/O (files, printing, host pointers), gradcheck (a host tool) and
# L-BFGS, whose history and line-search algebra live on the host by design (one transfer of the
# flattened parameters and gradient per evaluation).
exempt='/\* host \*/|^[^:]*:[0-9]+:ag_tensor \*ag_[a-z_]+\(.*return ag_[a-z_]+_on\(.*AG_CPU\); \}$'
allowed='^(tensor/(create|random|device|tensor|io|h5|print)\.c|tensor/internal\.h|autograd/gradcheck\.c|optim/lbfgs\.c|nn/checkpoint\.c|optim/checkpoint\.c):'
hits=$(grep -rnE '\bAG_CPU\b|ag__is_cpu' tensor/ autograd/ nn/ optim/ imaging/ 2>/dev/null | grep -vE "$allowed" | grep -vE "$exempt" || true)
[ -n "$hits" ] && report "CPU-only code in an op (create on the inputs' device instead)" "$hits"

# ... nor a plain (CPU) creation call: inside ops, constants come from the _on/_like forms.
# Module constructors (nn/layers.c) build on the CPU as PyTorch does; ag_module_to moves them.
plain='\bag_(zeros|ones|full|full_complex|scalar|empty|arange|linspace|eye|from_data|rand|randn|randint)\('
hits=$(grep -rnE "$plain" tensor/ autograd/ nn/ optim/ imaging/ 2>/dev/null | grep -vE "$allowed" | grep -vE "$exempt" \
       | grep -vE '^nn/layers\.c:' || true)
[ -n "$hits" ] && report "CPU creation inside an op (use the _on or _like forms)" "$hits"

[ $bad -eq 0 ] && echo "check_layers: ok"
exit $bad
