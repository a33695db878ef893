"""Shared machinery for fixture modules: input generation, running torch, the file format."""
import struct
import zlib

import numpy as np
import torch

torch.set_default_dtype(torch.float64)

DTYPES = {"f32": torch.float32, "f64": torch.float64, "c64": torch.complex64,
          "c128": torch.complex128, "i64": torch.int64, "bool": torch.bool}
CODES = {torch.float32: 0, torch.float64: 1, torch.complex64: 2, torch.complex128: 3,
         torch.int64: 4, torch.bool: 5}


class Row:
    """name: fixture key (matches the C op table row); fn(*tensors) -> tensor;
    inputs: list of (shape, kind); kinds: 'n' normal, 'p' positive in [0.5, 2), 'u' uniform
    in [-1, 1), 'z' normal with some exact zeros, 'i' int64 in [0, 5), 'i<N>' int64 in [0, N),
    'si<N>' int64 in [-N, N), 'pi<N>' int64 in [0, N) distinct along dim 0, 'b' bool, 'r' real
    normal (stays real when the row dtype is complex), 'pr' positive real;
    grad: indices of inputs to differentiate; dtypes: row dtypes."""

    def __init__(self, name, fn, inputs, dtypes=("f32", "f64"), grad=None, seed=None):
        self.name, self.fn, self.inputs, self.dtypes = name, fn, inputs, dtypes
        self.grad = list(range(len(inputs))) if grad is None else list(grad)
        self.seed = zlib.crc32(name.encode()) if seed is None else seed


def make_input(rng, shape, kind, dt):
    tdt = DTYPES[dt]
    cplx = tdt.is_complex
    if kind == "i":
        return torch.from_numpy(rng.integers(0, 5, size=shape)).to(torch.int64)
    if kind[:1] == "i" and kind[1:].isdigit():  # 'i7': int64 index in [0, 7)
        return torch.from_numpy(rng.integers(0, int(kind[1:]), size=shape)).to(torch.int64)
    if kind[:2] == "pi" and kind[2:].isdigit():  # 'pi7': int64 in [0, 7), distinct along dim 0 (no repeats)
        n = int(kind[2:])
        cols = int(np.prod(shape[1:])) if len(shape) > 1 else 1
        a = np.stack([rng.permutation(n)[: shape[0]] for _ in range(cols)], axis=1)
        return torch.from_numpy(a.reshape(shape)).to(torch.int64)
    if kind[:2] == "si" and kind[2:].isdigit():  # 'si7': int64 index in [-7, 7) (negatives count from the end)
        n = int(kind[2:])
        return torch.from_numpy(rng.integers(-n, n, size=shape)).to(torch.int64)
    if kind == "b":
        return torch.from_numpy(rng.random(size=shape) < 0.5)
    if kind in ("r", "pr"):
        tdt = torch.float32 if dt in ("f32", "c64") else torch.float64
        cplx = False
    def draw():
        if kind in ("p", "pr"):
            return rng.uniform(0.5, 2.0, size=shape)
        if kind == "u":
            return rng.uniform(-1.0, 1.0, size=shape)
        x = rng.standard_normal(size=shape)
        if kind == "z":
            x[rng.random(size=shape) < 0.25] = 0.0
        return x
    x = draw()
    if cplx:
        x = x + 1j * draw()
    return torch.tensor(x, dtype=tdt)


def run_row(row, dt):
    rng = np.random.default_rng(row.seed)
    ins = [make_input(rng, s, k, dt) for s, k in row.inputs]
    grads_for = [i for i in row.grad if ins[i].is_floating_point() or ins[i].is_complex()]
    for i in grads_for:
        ins[i].requires_grad_(True)
    out = row.fn(*ins)
    entries = [(f"{row.name}.{dt}.in{i}", x.detach()) for i, x in enumerate(ins)]
    entries.append((f"{row.name}.{dt}.out", out.detach()))
    if grads_for and out.requires_grad:
        w = make_input(rng, tuple(out.shape), "n", {torch.float32: "f32", torch.float64: "f64",
                                                   torch.complex64: "c64", torch.complex128: "c128"}[out.dtype])
        gs = torch.autograd.grad(out, [ins[i] for i in grads_for], w, allow_unused=True)
        entries.append((f"{row.name}.{dt}.w", w))
        for i, g in zip(grads_for, gs):
            if g is None:
                g = torch.zeros_like(ins[i])
            entries.append((f"{row.name}.{dt}.grad{i}", g.detach()))
    return entries


def write_family(path, mod):
    entries = []
    for row in mod.ROWS:
        for dt in row.dtypes:
            entries += run_row(row, dt)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(b"AGFX0001")
        f.write(struct.pack("<I", len(entries)))
        for name, t in entries:
            t = t.contiguous()
            nb = name.encode()
            f.write(struct.pack("<H", len(nb)) + nb)
            f.write(struct.pack("<BB", CODES[t.dtype], t.dim()))
            for s in t.shape:
                f.write(struct.pack("<q", s))
            arr = t.numpy() if not t.is_complex() else t.resolve_conj().numpy()
            f.write(np.ascontiguousarray(arr).astype(arr.dtype.newbyteorder("<")).tobytes())
    import os
    os.replace(tmp, path)
    return len(entries)
