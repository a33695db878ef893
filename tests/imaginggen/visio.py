"""Loose visibility files for imaging/visio.c: small .npz archives written by numpy itself
(np.savez: stored members; np.savez_compressed: deflate) into tests/fixtures/visio/vis_*.npz, and the
values they hold (imaging_visio.agfx) for the C test to compare with. Also the bad archives the
reader must refuse, each with one thing wrong (bad_*.npz). make() writes the .npz files as a side
effect; numpy stamps the zip entries with the current time, so their bytes change on every run
while their contents do not."""
import os

import numpy as np
import torch

FAMILY = "visio"
HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "fixtures", "visio")


def arrays(nchan=2, nvis=6, seed=5):
    rng = np.random.default_rng(seed)
    uu = rng.uniform(-2e5, 2e5, size=(nchan, nvis))
    vv = rng.uniform(-2e5, 2e5, size=(nchan, nvis))
    data = rng.normal(size=(nchan, nvis)) + 1j * rng.normal(size=(nchan, nvis))
    weight = rng.uniform(0.5, 4.0, size=(nchan, nvis))
    freq = np.array([230.0e9, 230.5e9][:nchan])
    return dict(uu=uu, vv=vv, data=data, weight=weight, freq=freq)


def save(name, compressed=False, **a):
    (np.savez_compressed if compressed else np.savez)(os.path.join(OUT, name), **a)


def make():
    a = arrays()
    save("vis_ok.npz", **a)
    save("vis_ok_z.npz", compressed=True, **a)
    b = arrays(nchan=1, nvis=7, seed=6)
    b1 = dict(uu=b["uu"][0].astype(np.float32), vv=b["vv"][0].astype(np.float32), data=b["data"][0].astype(np.complex64),
              weight=b["weight"][0].astype(np.float32), notes=np.array([1, 2, 3]))
    save("vis_f32_1d.npz", compressed=True, **b1)
    no_w = {k: v for k, v in a.items() if k != "weight"}
    save("bad_missing.npz", **no_w)
    save("bad_dtype.npz", **dict(a, weight=np.ones((2, 6), dtype=np.int64)))
    save("bad_len.npz", **dict(a, vv=a["vv"][:, :5]))
    w0 = a["weight"].copy()
    w0[1, 3] = 0.0
    save("bad_weight.npz", **dict(a, weight=w0))
    dn = a["data"].copy()
    dn[0, 2] = np.nan
    save("bad_nan.npz", **dict(a, data=dn))
    save("bad_fortran.npz", **dict(a, uu=np.asfortranarray(a["uu"])))
    save("bad_endian.npz", **dict(a, weight=a["weight"].astype(">f8")))
    save("bad_freq.npz", **dict(a, freq=np.array([230.0e9])))
    return [("uu", torch.tensor(a["uu"])), ("vv", torch.tensor(a["vv"])), ("data", torch.tensor(a["data"])),
            ("weight", torch.tensor(a["weight"])), ("freq", torch.tensor(a["freq"])),
            ("f32_uu", torch.tensor(b1["uu"].astype(np.float64))), ("f32_vv", torch.tensor(b1["vv"].astype(np.float64))),
            ("f32_data", torch.tensor(b1["data"].astype(np.complex128))),
            ("f32_weight", torch.tensor(b1["weight"].astype(np.float64)))]
