"""Reductions over dims with keepdim, and the extremes with indices."""
import torch

from .common import Row

FAMILY = "reduce"
ALL = ("f32", "f64", "c64", "c128")
REAL = ("f32", "f64")
X = ((3, 4, 5), "n")

ROWS = [
    Row("sum_all", lambda x: torch.sum(x), [X], ALL),
    Row("sum_d1", lambda x: torch.sum(x, 1), [X], ALL),
    Row("sum_d02_keep", lambda x: torch.sum(x, (0, 2), keepdim=True), [X], ALL),
    Row("sum_i64", lambda x: torch.sum(x, 0), [((4, 3), "i")], ("i64",), grad=[]),
    Row("mean_d2", lambda x: torch.mean(x, 2), [X], ALL),
    Row("mean_all", lambda x: torch.mean(x), [X], ALL),
    Row("prod_d1", lambda x: torch.prod(x, 1), [((3, 4, 5), "z")], ALL),
    Row("prod_all", lambda x: torch.prod(x), [((2, 3), "p")], ALL),
    Row("var_d1", lambda x: torch.var(x, 1), [X], ALL),
    Row("var_all_c0", lambda x: torch.var(x, unbiased=False), [X], ALL),
    Row("std_d02", lambda x: torch.std(x, (0, 2)), [X], ALL),
    Row("norm2_all", lambda x: torch.linalg.vector_norm(x), [X], ALL),
    Row("norm1_d1", lambda x: torch.linalg.vector_norm(x, 1, dim=1), [X], ALL),
    Row("norminf_d2", lambda x: torch.linalg.vector_norm(x, float("inf"), dim=2), [X], ALL),
    Row("norm3_d0_keep", lambda x: torch.linalg.vector_norm(x, 3, dim=0, keepdim=True), [X], ALL),
    Row("logsumexp_d1", lambda x: torch.logsumexp(x, 1), [X], REAL),
    Row("logsumexp_all", lambda x: torch.logsumexp(x, (0, 1, 2)), [X], REAL),
    Row("amax_d1", lambda x: torch.amax(x, 1), [X], REAL),
    Row("amin_d02", lambda x: torch.amin(x, (0, 2)), [X], REAL),
    Row("max_d2", lambda x: torch.max(x, 2).values, [X], REAL),
    Row("min_d0_keep", lambda x: torch.min(x, 0, keepdim=True).values, [X], REAL),
    Row("argmax_d1", lambda x: torch.argmax(x, 1), [X], REAL, grad=[]),
    Row("argmin_d2", lambda x: torch.argmin(x, 2), [X], REAL, grad=[]),
    # sorting and order statistics (tensor/sort.c): stable sorts; normal inputs have no ties
    Row("sort_d1", lambda x: torch.sort(x, dim=1, stable=True).values, [X], REAL),
    Row("sort_desc_d0", lambda x: torch.sort(x, dim=0, descending=True, stable=True).values, [X], REAL),
    Row("sort_idx_d2", lambda x: torch.sort(x, dim=2, stable=True).indices, [X], REAL, grad=[]),
    Row("sort_i64_ties", lambda x: torch.sort(x, dim=1, stable=True).indices, [((4, 9), "i")], ("i64",), grad=[]),
    Row("sort_desc_i64_ties", lambda x: torch.sort(x, dim=0, descending=True, stable=True).indices, [((9, 3), "i")],
        ("i64",), grad=[]),
    Row("argsort_desc_d1", lambda x: torch.sort(x, dim=1, descending=True, stable=True).indices, [X], REAL,
        grad=[]),
    Row("topk_k2_d1", lambda x: torch.topk(x, 2, dim=1).values, [X], REAL),
    Row("topk_small_k3_d2", lambda x: torch.topk(x, 3, dim=2, largest=False).values, [X], REAL),
    Row("topk_idx_d0", lambda x: torch.topk(x, 2, dim=0).indices, [X], REAL, grad=[]),
    Row("median_all", lambda x: torch.median(x), [X], REAL),
    Row("median_odd", lambda x: torch.median(x), [((3, 5), "n")], REAL),
    Row("median_d1", lambda x: torch.median(x, 1).values, [X], REAL),
    Row("median_d2_keep", lambda x: torch.median(x, 2, keepdim=True).values, [X], REAL),
    Row("median_idx_d0", lambda x: torch.median(x, 0).indices, [X], REAL, grad=[]),
    Row("quantile_all", lambda x: torch.quantile(x, 0.3), [X], REAL),
    Row("quantile_d1", lambda x: torch.quantile(x, 0.25, dim=1), [X], REAL),
    Row("quantile_d2_keep", lambda x: torch.quantile(x, 0.8, dim=2, keepdim=True), [X], REAL),
    Row("quantile_all_keep", lambda x: torch.quantile(x, 0.55, keepdim=True), [X], REAL),
    Row("quantile_q1_d0", lambda x: torch.quantile(x, 1.0, dim=0), [X], REAL),
    # any/all -> bool (nonzero = true); 1.13 reduces one dim at a time
    # (complex: torch 1.13's any/all look at the real part only; astrograd's and later PyTorch's at
    # both, as x != 0 does)
    Row("any_all", lambda x: torch.any(x != 0), [((4, 6, 2), "z")], ALL + ("i64", "bool"), grad=[]),
    Row("all_all", lambda x: torch.all(x != 0), [((4, 6, 2), "z")], ALL + ("i64", "bool"), grad=[]),
    Row("any_d2", lambda x: torch.any(x != 0, 2), [((4, 6, 2), "z")], ALL + ("i64", "bool"), grad=[]),
    Row("all_d1_keep", lambda x: torch.all(x != 0, 1, keepdim=True), [((4, 2, 6), "z")], ALL + ("i64", "bool"),
        grad=[]),
    Row("any_d02", lambda x: torch.any(torch.any(x, 2), 0), [((3, 4, 2), "b")], ("bool",), grad=[]),
    Row("all_d02_keep", lambda x: torch.all(torch.all(x, 2, keepdim=True), 0, keepdim=True), [((2, 4, 2), "b")],
        ("bool",), grad=[]),
    Row("any_empty", lambda x: torch.any(x, 0), [((0, 3), "n")], REAL, grad=[]),
    Row("all_empty", lambda x: torch.all(x, 0), [((0, 3), "n")], REAL, grad=[]),
]
