"""Earth-rotation synthesis of ALMA C43-7 (data/alma/alma.cycle7.7.cfg), written out in NumPy
from Thompson, Moran & Swenson (2017), eq. 4.1 and 4.4, as rotation matrices:
ENU -> equatorial (X, Y, Z) at latitude phi, then (X, Y, Z) -> (u, v, w) at hour angle H and
declination dec; u, v in wavelengths (c = 299792458 m/s). Pairs i < j, b = p_j - p_i, time-major."""
import os

import numpy as np
import torch

FAMILY = "uvsim"
CFG = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "data", "alma", "alma.cycle7.7.cfg")
C = 299792458.0

# name: (dec deg, lat deg, ha start h, ha end h, step s, freq Hz)
CASES = {
    "c7_dec-35": (-35.0, -23.029, -1.0, 1.0, 1800.0, 230e9),
    "c7_dec+10": (10.0, -23.029, 2.0, 3.0, 1800.0, 345e9),
}


def read_cfg(path):
    rows = []
    for line in open(path):
        line = line.split("#")[0].split()
        if not line or line[0] == "x":
            continue
        rows.append([float(t) for t in line[:3]])
    return np.array(rows)


def uv(enu, dec, lat, ha_hours, freq):
    d, p = np.radians(dec), np.radians(lat)
    enu_to_xyz = np.array([[0, -np.sin(p), np.cos(p)], [1, 0, 0], [0, np.cos(p), np.sin(p)]])
    i, j = np.triu_indices(len(enu), k=1)          # (0,1), (0,2), ... as the C code orders pairs
    b = (enu[j] - enu[i]) @ enu_to_xyz.T           # (npair, 3) X, Y, Z in metres
    us, vs = [], []
    for h in np.radians(15.0 * np.asarray(ha_hours)):
        rot = np.array([[np.sin(h), np.cos(h), 0],
                        [-np.sin(d) * np.cos(h), np.sin(d) * np.sin(h), np.cos(d)]])
        uvw = b @ rot.T / (C / freq)
        us.append(uvw[:, 0]), vs.append(uvw[:, 1])
    return np.concatenate(us), np.concatenate(vs)


def uv_altaz(enu, dec, lat, ha_hours, freq):
    """The same by another route, as a self-check: the source's altitude and azimuth (spherical
    astronomy), its unit vector s in ENU, the v axis along the pole's direction projected
    perpendicular to s, the u axis = v axis x s (east on the sky)."""
    d, p = np.radians(dec), np.radians(lat)
    i, j = np.triu_indices(len(enu), k=1)
    b = enu[j] - enu[i]
    pole = np.array([0.0, np.cos(p), np.sin(p)])
    us, vs = [], []
    for h in np.radians(15.0 * np.asarray(ha_hours)):
        alt = np.arcsin(np.sin(d) * np.sin(p) + np.cos(d) * np.cos(p) * np.cos(h))
        az = np.arctan2(-np.cos(d) * np.sin(h), np.sin(d) * np.cos(p) - np.cos(d) * np.sin(p) * np.cos(h))
        s = np.array([np.cos(alt) * np.sin(az), np.cos(alt) * np.cos(az), np.sin(alt)])
        ev = pole - (pole @ s) * s
        ev /= np.linalg.norm(ev)
        eu = np.cross(ev, s)
        us.append(b @ eu / (C / freq)), vs.append(b @ ev / (C / freq))
    return np.concatenate(us), np.concatenate(vs)


def make():
    enu = read_cfg(CFG)
    out = []
    for name, (dec, lat, h0, h1, step, freq) in CASES.items():
        n = int(np.floor((h1 - h0) * 3600 / step + 1e-9)) + 1
        u, v = uv(enu, dec, lat, h0 + np.arange(n) * step / 3600, freq)
        u2, v2 = uv_altaz(enu, dec, lat, h0 + np.arange(n) * step / 3600, freq)
        assert np.allclose(u, u2, rtol=0, atol=1e-6) and np.allclose(v, v2, rtol=0, atol=1e-6), name
        out.append((name + ".u", torch.tensor(u)))
        out.append((name + ".v", torch.tensor(v)))
    return out
