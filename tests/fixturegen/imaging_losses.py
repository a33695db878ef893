"""Visibility losses and image regularizers (include/astrograd/imaging.h, tensor/imaging_ops.c),
written from MPoL 0.2's losses.py formulas in torch (composed, unfused):
chi2 = Σ w|d - m|², nll = chi2/(2N), and the issue's log likelihood -N ln 2π + Σ ln w - chi2/2
(MPoL 0.2's code subtracts Σ 1/w instead), neg_log_likelihood_avg = -log_likelihood/(2N); masked
forms over masked_select; entropy (1/ζ) Σ I ln(I/p); sparsity Σ|I| (masked); TV_image, TSV,
TV_channel and edge_clamp as MPoL's (2-d images as one channel). Models and data are complex
(c64/c128), weights real positive ('pr'); images real (f32/f64), positive for the entropy."""
import math

import torch

from .common import Row

FAMILY = "imaging_losses"
CPLX, REAL = ("c64", "c128"), ("f32", "f64")
# PSD: a correlation length of 2e4 arcsec, so that q ~ 1 [λ] (the 'pr' inputs) gives P(q) of order one
L_RAD = 2e4 * math.pi / (180 * 3600)


def chi2(m, d, w):
    return torch.sum(w * torch.abs(d - m) ** 2)


def r_chi2(m, d, w):
    return chi2(m, d, w) / (2 * d.numel())


def loglik(m, d, w):
    n = d.numel()
    return -n * math.log(2 * math.pi) + torch.sum(torch.log(w)) - 0.5 * chi2(m, d, w)


def nll_avg(m, d, w):
    return -loglik(m, d, w) / (2 * d.numel())


def masked(f):
    return lambda m, d, w, k: f(m.masked_select(k), d.masked_select(k), w.masked_select(k))


def entropy(cube, prior, tot_flux):
    return (1 / tot_flux) * torch.sum(cube * torch.log(cube / prior))


def as3(s):
    return s if s.dim() == 3 else s[None]


def tv_image(s, eps):
    s = as3(s)
    dl = s[:, 0:-1, 1:] - s[:, 0:-1, 0:-1]
    dm = s[:, 1:, 0:-1] - s[:, 0:-1, 0:-1]
    return torch.sum(torch.sqrt(dl ** 2 + dm ** 2 + eps))


def tsv(s):
    s = as3(s)
    dl = s[:, 0:-1, 1:] - s[:, 0:-1, 0:-1]
    dm = s[:, 1:, 0:-1] - s[:, 0:-1, 0:-1]
    return torch.sum(dl ** 2 + dm ** 2)


def tv_channel(c, eps):
    return torch.sum(torch.sqrt((c[1:] - c[0:-1]) ** 2 + eps))


def edge_clamp(c):
    return torch.sum(c[:, (0, -1)] ** 2) + torch.sum(c[:, :, (0, -1)] ** 2)


def vis(shape):
    return [(shape, "n"), (shape, "n"), (shape, "pr")]


ROWS = [
    Row("chi_squared", chi2, vis((7,)), CPLX, grad=[0, 2]),
    Row("chi_squared_cube", chi2, vis((2, 3, 4)), CPLX, grad=[0, 2]),
    Row("r_chi_squared", r_chi2, vis((2, 5)), CPLX, grad=[0, 2]),
    Row("log_likelihood", loglik, vis((6,)), CPLX, grad=[0, 2]),
    Row("neg_log_likelihood_avg", nll_avg, vis((3, 4)), CPLX, grad=[0, 2]),
    Row("chi_squared_masked", masked(chi2), vis((2, 3, 4)) + [((2, 3, 4), "b")], CPLX, grad=[0, 2]),
    Row("neg_log_likelihood_avg_masked", masked(nll_avg), vis((2, 6)) + [((2, 6), "b")], CPLX, grad=[0, 2]),
    Row("entropy", lambda c, p: entropy(c, p, 10.0), [((2, 4, 5), "p"), ((2, 4, 5), "p")], REAL),
    Row("entropy_bcast", lambda c, p: entropy(c, p, 2.5), [((2, 4, 5), "p"), ((5,), "p")], REAL),
    Row("entropy_s", lambda c: entropy(c, 0.7, 3.0), [((3, 6), "p")], REAL),
    Row("sparsity", lambda c: torch.sum(torch.abs(c)), [((2, 4, 5), "n")], REAL),
    Row("sparsity_masked", lambda c, k: torch.sum(torch.abs(c.masked_select(k))), [((2, 4, 5), "n"), ((2, 4, 5), "b")],
        REAL, grad=[0]),
    Row("tv_image", lambda s: tv_image(s, 1e-10), [((2, 5, 6), "n")], REAL),
    Row("tv_image_2d_eps", lambda s: tv_image(s, 0.3), [((5, 4), "n")], REAL),
    Row("tsv", tsv, [((2, 5, 6), "n")], REAL),
    Row("tsv_2d", tsv, [((4, 7), "n")], REAL),
    Row("tv_channel", lambda c: tv_channel(c, 1e-10), [((3, 4, 5), "n")], REAL),
    Row("tv_channel_eps", lambda c: tv_channel(c, 0.5), [((4, 3, 2), "n")], REAL),
    Row("edge_clamp", edge_clamp, [((2, 4, 5), "n")], REAL),
    Row("edge_clamp_thin", edge_clamp, [((1, 1, 3), "n")], REAL),
    Row("image_priors", lambda s: 0.3 * entropy(s, 0.2, 7.0) + 0.5 * torch.sum(torch.abs(s)) + 2.0 * tv_image(s, 1e-10)
        + 0.7 * tsv(s), [((2, 5, 6), "p")], REAL),
    Row("uv_sparsity", lambda v, q: torch.sum(torch.abs(v.real) * (q > 1.0)) + torch.sum(torch.abs(v.imag) * (q > 1.0)),
        [((2, 4, 5), "n"), ((4, 5), "pr")], CPLX, grad=[0]),
    Row("psd", lambda q, p: torch.sum(p / (2 * math.pi * L_RAD ** 2 * torch.exp(-2 * math.pi ** 2 * L_RAD ** 2 * q ** 2))),
        [((4, 5), "pr"), ((2, 4, 5), "pr")], REAL),
    Row("image_priors_2d", lambda s: torch.sum(torch.abs(s)) + 3.0 * tsv(s) + 0.5 * tv_image(s, 0.2), [((6, 5), "n")],
        REAL),
]
