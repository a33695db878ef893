"""neurosynchro-style column transforms (nn/surrogate.c), written out from their definitions:
z = (map(x) - offset) / scale with offset, scale fitted on x (min and max - min, or mean and the
population std)."""
import numpy as np
import torch

FAMILY = "surrogate"

MAPS = {
    "identity": lambda x: x,
    "log10": np.log10,
    "logit": lambda x: np.log(x) - np.log1p(-x),
    # sign(x) log10(1 + |x| / c), c = the smallest non-zero |x|: invertible, unlike sign(x) log10(|x|)
    "signlog": lambda x: np.sign(x) * np.log1p(np.abs(x) / np.abs(x[x != 0]).min()) / np.log(10.0),
}


def inputs():
    rng = np.random.default_rng(17)
    return {
        "identity": rng.normal(3.0, 2.0, 40),
        "log10": 10.0 ** rng.uniform(-30, 30, 40),               # 60 decades
        "logit": 1.0 / (1.0 + np.exp(-rng.uniform(-30, 30, 40))),  # down to 1e-13 from 0 and 1
        "signlog": rng.choice([-1.0, 1.0], 40) * 10.0 ** rng.uniform(-20, 20, 40),
    }


def make():
    out = []
    for name, x in inputs().items():
        m = MAPS[name](x)
        out.append(("x_" + name, torch.tensor(x)))
        for norm, (off, sc) in {"none": (0.0, 1.0), "minmax": (m.min(), m.max() - m.min()),
                                "standard": (m.mean(), m.std())}.items():
            out.append(("fit_%s_%s" % (name, norm), torch.tensor([off, sc])))
            out.append(("z_%s_%s" % (name, norm), torch.tensor((m - off) / sc)))
    return out
