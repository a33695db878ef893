"""Indexing, joining and reordering: index_select, gather, scatter_add, scatter, index_put, take, masked ops
(masked_fill_ in place), nonzero, mask assignment, cat/stack/split/chunk, flip, roll, diff, cumsum, cumprod, tril/triu,
diag/trace, meshgrid, repeat/tile, one_hot.
Index inputs use kinds 'i<N>' (in [0, N)) and 'si<N>' (in [-N, N)); masks use 'b'."""
import torch
import torch.nn.functional as F

from .common import Row

FAMILY = "index"
ALL = ("f32", "f64", "c64", "c128")
REAL = ("f32", "f64")
ONE = ("f64",)  # rows without float inputs: one fixture entry


def mask_assign(x, mask, src):
    y = x.clone()
    y[mask] = src[: int(mask.sum())]
    return y


def mask_assign_rows(x, mask, v):
    y = x.clone()
    y[mask] = v
    return y


ROWS = [
    Row("index_select", lambda x, i: torch.index_select(x, 0, i), [((4, 5), "n"), ((6,), "i4")], ALL, grad=[0]),
    Row("index_select_d1", lambda x, i: torch.index_select(x, 1, i), [((3, 5, 4), "n"), ((7,), "i5")], ALL, grad=[0]),
    Row("index_select_last", lambda x, i: torch.index_select(x, -1, i), [((3, 6), "n"), ((8,), "i6")], REAL, grad=[0]),
    Row("gather", lambda x, i: torch.gather(x, 1, i), [((4, 5), "n"), ((4, 3), "i5")], ALL, grad=[0]),
    Row("gather_d0", lambda x, i: torch.gather(x, 0, i), [((4, 5), "n"), ((6, 5), "i4")], ALL, grad=[0]),
    Row("gather_3d", lambda x, i: torch.gather(x, 1, i), [((3, 4, 5), "n"), ((2, 4, 3), "i4")], REAL, grad=[0]),
    Row("scatter_add", lambda t, i, s: torch.scatter_add(t, 0, i, s),
        [((4, 5), "n"), ((3, 5), "i4"), ((3, 5), "n")], ALL, grad=[0, 2]),
    Row("scatter_add_small", lambda t, i, s: torch.scatter_add(t, 1, i, s),
        [((4, 5), "n"), ((2, 3), "i5"), ((2, 3), "n")], REAL, grad=[0, 2]),
    Row("index_add", lambda t, i, s: torch.index_add(t, 0, i, s),
        [((4, 5), "n"), ((6,), "i4"), ((6, 5), "n")], ALL, grad=[0, 2]),
    Row("index_add_d1_alpha", lambda t, i, s: torch.index_add(t, 1, i, s, alpha=0.5),
        [((3, 4, 5), "n"), ((6,), "i4"), ((3, 6, 5), "n")], REAL, grad=[0, 2]),
    Row("scatter", lambda t, i, s: torch.scatter(t, 0, i, s),
        [((4, 5), "n"), ((3, 5), "pi4"), ((3, 5), "n")], ALL, grad=[0, 2]),
    Row("scatter_d1", lambda t, i, s: torch.scatter(t, 1, i.t(), s),
        [((3, 6), "n"), ((4, 2), "pi6"), ((2, 4), "n")], REAL, grad=[0, 2]),
    # repeated positions: the last write wins on the CPU (as torch's CPU kernel); gradients as
    # torch's (every duplicate gets gather(g)), so not a true derivative: no gradcheck
    Row("scatter_dup", lambda t, i, s: torch.scatter(t, 0, i, s),
        [((3, 5), "n"), ((4, 5), "i3"), ((4, 5), "n")], REAL, grad=[0, 2]),
    Row("index_put", lambda t, i, v: t.index_put((i,), v), [((5, 4), "n"), ((3,), "pi5"), ((3, 4), "n")], ALL,
        grad=[0, 2]),
    Row("index_put_2idx", lambda t, i, j, v: t.index_put((i, j - 5), v),
        [((4, 5, 3), "n"), ((3, 1), "pi4"), ((2,), "pi5"), ((2, 3), "n")], REAL, grad=[0, 3]),
    Row("index_put_acc", lambda t, i, v: t.index_put((i,), v, accumulate=True),
        [((5, 3), "n"), ((7,), "si5"), ((7, 3), "n")], ALL, grad=[0, 2]),
    Row("index_put_acc_2idx", lambda t, i, j, v: t.index_put((i, j), v, accumulate=True),
        [((3, 4), "n"), ((2, 3), "i3"), ((3,), "i4"), ((1,), "n")], REAL, grad=[0, 3]),
    Row("index_put_dup", lambda t, i, v: t.index_put((i,), v), [((4,), "n"), ((6,), "i4"), ((6,), "n")], REAL,
        grad=[0, 2]),
    Row("take", lambda x, i: torch.take(x, i), [((3, 4), "n"), ((2, 5), "si12")], ALL, grad=[0]),
    Row("masked_select", lambda x, m: torch.masked_select(x, m), [((3, 4), "n"), ((3, 4), "b")], ALL, grad=[0]),
    Row("masked_select_bcast", lambda x, m: torch.masked_select(x, m), [((3, 4), "n"), ((4,), "b")], REAL, grad=[0]),
    Row("masked_fill", lambda x, m: x.masked_fill(m, -2.5), [((3, 4), "n"), ((3, 4), "b")], ALL, grad=[0]),
    Row("masked_fill_bcast", lambda x, m: x.masked_fill(m, 3.0), [((2, 3, 4), "n"), ((3, 1), "b")], REAL, grad=[0]),
    Row("masked_fill_", lambda x, m: x.clone().masked_fill_(m, 3.0), [((2, 3, 4), "n"), ((3, 1), "b")], ALL, grad=[]),
    Row("nonzero", lambda x: torch.nonzero(x), [((4, 5), "z")], REAL, grad=[]),
    Row("nonzero_bool", lambda m: torch.nonzero(m), [((3, 2, 4), "b")], ONE, grad=[]),
    Row("mask_assign", mask_assign, [((3, 4), "n"), ((3, 4), "b"), ((12,), "n")], ALL, grad=[0, 2]),
    Row("mask_assign_rows", mask_assign_rows, [((4, 3), "n"), ((4,), "b"), ((1, 3), "n")], REAL, grad=[0, 2]),
    Row("masked_scatter", lambda x, m, s: x.masked_scatter(m, s), [((3, 4), "n"), ((4,), "b"), ((13,), "n")],
        REAL, grad=[0, 2]),
    Row("cat", lambda a, b, c: torch.cat([a, b, c], 0), [((2, 3), "n"), ((4, 3), "n"), ((1, 3), "n")], ALL),
    Row("cat_neg_dim", lambda a, b: torch.cat([a, b], -1), [((2, 3, 2), "n"), ((2, 3, 4), "n")], ALL),
    Row("cat_many", lambda *xs: torch.cat(xs, 1),
        [((2, 1), "n"), ((2, 2), "n"), ((2, 3), "n"), ((2, 1), "n"), ((2, 2), "n"), ((2, 1), "n"), ((2, 2), "n")],
        REAL),
    Row("stack", lambda a, b, c: torch.stack([a, b, c], 1), [((3, 4), "n")] * 3, ALL),
    Row("stack_many", lambda *xs: torch.stack(xs, 0), [((2, 3), "n")] * 6, REAL),
    Row("split", lambda x: torch.cat([torch.split(x, 3, 0)[2], torch.split(x, 3, 0)[0]], 0), [((7, 3), "n")], ALL),
    Row("chunk", lambda x: torch.cat([torch.chunk(x, 3, 1)[1], torch.chunk(x, 3, 1)[2]], 1), [((3, 7), "n")], ALL),
    Row("flip", lambda x: torch.flip(x, (0, 2)), [((3, 4, 5), "n")], ALL),
    Row("roll", lambda x: torch.roll(x, (1, -2), (0, 1)), [((3, 4), "n")], ALL),
    Row("roll_flat", lambda x: torch.roll(x, 5), [((3, 4), "n")], REAL),
    Row("diff", lambda x: torch.diff(x, 1, 1), [((4, 6), "n")], ALL),
    Row("diff2", lambda x: torch.diff(x, 2, 0), [((5, 3), "n")], REAL),
    Row("diff3", lambda x: torch.diff(x, 3, -1), [((2, 4), "n")], REAL),
    Row("cumsum", lambda x: torch.cumsum(x, 1), [((4, 5), "n")], ALL),
    Row("cumsum_d0", lambda x: torch.cumsum(x, 0), [((6, 4), "n")], ALL),
    Row("cumsum_3d", lambda x: torch.cumsum(x, 1), [((3, 4, 5), "n")], REAL),
    Row("cumsum_int", lambda i: torch.cumsum(i, 0), [((7,), "si9")], ONE, grad=[]),
    Row("cumprod", lambda x: torch.cumprod(x, 1), [((4, 5), "n")], ALL),
    Row("cumprod_zeros", lambda x: torch.cumprod(x, 1), [((4, 7), "z")], ALL),  # gradient exact at zeros
    Row("cumprod_d0", lambda x: torch.cumprod(x, 0), [((9, 2), "n")], REAL),
    Row("cumprod_3d", lambda x: torch.cumprod(x, -1), [((2, 3, 5), "n")], REAL),
    Row("cumprod_int", lambda i: torch.cumprod(i, 0), [((7,), "si4")], ONE, grad=[]),
    Row("tril", lambda x: torch.tril(x), [((4, 5), "n")], ALL),
    Row("tril_batched", lambda x: torch.tril(x, -1), [((2, 4, 5), "n")], REAL),
    Row("triu", lambda x: torch.triu(x, 1), [((4, 5), "n")], ALL),
    Row("triu_neg", lambda x: torch.triu(x, -2), [((5, 3), "n")], REAL),
    Row("diag_1d", lambda v: torch.diag(v), [((4,), "n")], ALL),
    Row("diag_1d_up", lambda v: torch.diag(v, 2), [((3,), "n")], ALL),
    Row("diag_1d_down", lambda v: torch.diag(v, -1), [((3,), "n")], REAL),
    Row("diag_2d", lambda x: torch.diag(x), [((4, 5), "n")], ALL),
    Row("diag_2d_up", lambda x: torch.diag(x, 1), [((3, 5), "n")], REAL),
    Row("diag_2d_down", lambda x: torch.diag(x, -2), [((5, 3), "n")], REAL),
    Row("diag_2d_far", lambda x: torch.diag(x, 4), [((3, 4), "n")], REAL),  # empty (torch 1.13 fails beyond)
    Row("trace", torch.trace, [((4, 4), "n")], ALL),
    Row("trace_rect", torch.trace, [((3, 5), "n")], REAL),
    Row("meshgrid_ij", lambda a, b, c: torch.stack(torch.meshgrid(a, b, c, indexing="ij")),
        [((2,), "n"), ((3,), "n"), ((4,), "n")], ALL),
    Row("meshgrid_xy", lambda a, b, c: torch.stack(torch.meshgrid(a, b, c, indexing="xy")),
        [((2,), "n"), ((3,), "n"), ((4,), "n")], ALL),
    Row("meshgrid_xy2", lambda a, b: torch.stack(torch.meshgrid(a, b, indexing="xy")), [((3,), "n"), ((), "n")], REAL),
    Row("repeat", lambda x: x.repeat(2, 1, 3), [((2, 3), "n")], ALL),
    Row("tile", lambda x: torch.tile(x, (2,)), [((2, 3), "n")], REAL),
    Row("tile_3d", lambda x: torch.tile(x, (3, 1, 2)), [((2, 3), "n")], REAL),
    Row("one_hot", lambda i: F.one_hot(i, 6), [((3, 4), "i5")], ONE, grad=[]),
    Row("one_hot_infer", lambda i: F.one_hot(i), [((7,), "i5")], ONE, grad=[]),
]
