#!/usr/bin/env python3
"""Writes tests/fixtures/imaging_<area>.agfx: reference values for the imaging tests.

Each module in tests/imaginggen/ defines FAMILY and make() -> list of (name, torch tensor),
computing MPoL's formulas (written out in PyTorch/NumPy from their definitions, f64) on
inputs it builds itself with fixed seeds.

    /usr/bin/python3 tests/gen_imaging_fixtures.py            # all families
    /usr/bin/python3 tests/gen_imaging_fixtures.py coords     # one family (imaging_coords)

Needs torch and numpy (Debian: python3-torch); the C tests only read the files.
"""
import importlib
import os
import pkgutil
import struct
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from fixturegen.common import CODES  # noqa: E402
import imaginggen  # noqa: E402

torch.set_default_dtype(torch.float64)


def write_agfx(path, entries):
    """entries: (name, tensor or ndarray) in the AGFX0001 format of tests/fixture.h, atomically."""
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(b"AGFX0001")
        f.write(struct.pack("<I", len(entries)))
        for name, t in entries:
            t = torch.as_tensor(t).contiguous()
            if t.dtype == torch.int32:
                t = t.to(torch.int64)
            nb = name.encode()
            f.write(struct.pack("<H", len(nb)) + nb)
            f.write(struct.pack("<BB", CODES[t.dtype], t.dim()))
            for s in t.shape:
                f.write(struct.pack("<q", s))
            arr = t.resolve_conj().numpy() if t.is_complex() else t.numpy()
            f.write(np.ascontiguousarray(arr).astype(arr.dtype.newbyteorder("<")).tobytes())
    os.replace(tmp, path)
    return len(entries)


def main(argv):
    wanted = set(argv[1:])
    out_dir = os.path.join(HERE, "fixtures")
    for m in pkgutil.iter_modules(imaginggen.__path__):
        mod = importlib.import_module("imaginggen." + m.name)
        if wanted and mod.FAMILY not in wanted:
            continue
        n = write_agfx(os.path.join(out_dir, "imaging_" + mod.FAMILY + ".agfx"), mod.make())
        print(f"imaging_{mod.FAMILY}: {n} tensors")


if __name__ == "__main__":
    main(sys.argv)
