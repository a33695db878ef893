#!/usr/bin/env python3
"""Writes tests/fixtures/<family>.agfx: PyTorch reference values for the op table.

Each module in tests/fixturegen/ defines ROWS, a list of fixturegen.common.Row, and FAMILY.
For every row and dtype this stores the inputs, the output, an upstream gradient w and the
gradients of the differentiable inputs (torch.autograd.grad(out, inputs, w)).

    python3 tests/gen_fixtures.py            # all families
    python3 tests/gen_fixtures.py reduce     # one family

Needs torch (Debian: python3-torch); the C tests only read the files.
"""
import importlib
import os
import pkgutil
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from fixturegen.common import write_family  # noqa: E402
import fixturegen  # noqa: E402


def main(argv):
    wanted = set(argv[1:])
    out_dir = os.path.join(HERE, "fixtures")
    os.makedirs(out_dir, exist_ok=True)
    for m in pkgutil.iter_modules(fixturegen.__path__):
        if m.name == "common":
            continue
        mod = importlib.import_module("fixturegen." + m.name)
        if wanted and mod.FAMILY not in wanted:
            continue
        n = write_family(os.path.join(out_dir, mod.FAMILY + ".agfx"), mod)
        print(f"{mod.FAMILY}: {n} tensors")


if __name__ == "__main__":
    main(sys.argv)
