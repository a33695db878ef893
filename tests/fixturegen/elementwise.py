"""Elementwise ops: arithmetic with broadcasting, math, complex parts, comparisons, where."""
import torch
import torch.nn.functional as F

from .common import Row

FAMILY = "elementwise"
ALL = ("f32", "f64", "c64", "c128")
REAL = ("f32", "f64")
CPLX = ("c64", "c128")
A, B = ((3, 1, 4), "n"), ((5, 4), "n")

ROWS = [
    Row("add", torch.add, [A, B], ALL),
    Row("sub", torch.sub, [A, B], ALL),
    Row("mul", torch.mul, [A, B], ALL),
    Row("div", torch.div, [A, ((5, 4), "p")], ALL),
    Row("pow", torch.pow, [((3, 4), "p"), ((4,), "n")], ALL),
    Row("maximum", torch.maximum, [A, B], REAL),
    Row("minimum", torch.minimum, [A, B], REAL),
    Row("add_s", lambda x: x + 2.5, [A], ALL),
    Row("mul_s", lambda x: x * -1.5, [A], ALL),
    Row("pow_s3", lambda x: x ** 3, [A], ALL),
    Row("pow_s05", lambda x: x ** 0.5, [((3, 4), "p")], ALL),
    Row("rsub_s", lambda x: 2.0 - x, [A], ALL),
    Row("neg", torch.neg, [A], ALL),
    Row("abs", torch.abs, [((4, 5), "z")], ALL),
    Row("sign", lambda x: torch.sgn(x) if x.is_complex() else torch.sign(x),  # 1.13 sgn backward is wrong for real
        [((4, 5), "z")], ALL),
    Row("sign_nonzero", lambda x: torch.sgn(x) if x.is_complex() else torch.sign(x), [A], ALL),  # gradchecked
    Row("square", torch.square, [A], ALL),
    Row("reciprocal", torch.reciprocal, [((3, 4), "p")], ALL),
    Row("exp", torch.exp, [A], ALL),
    Row("log", torch.log, [((3, 4), "p")], ALL),
    Row("log1p", torch.log1p, [((3, 4), "p")], REAL),  # torch 1.13 has no complex log1p
    Row("expm1", torch.expm1, [A], REAL),  # torch 1.13 has no complex expm1
    Row("sqrt", torch.sqrt, [((3, 4), "p")], ALL),
    Row("rsqrt", torch.rsqrt, [((3, 4), "p")], ALL),
    Row("sin", torch.sin, [A], ALL),
    Row("cos", torch.cos, [A], ALL),
    Row("tanh", torch.tanh, [A], ALL),
    Row("sigmoid", torch.sigmoid, [A], ALL),
    Row("softplus", lambda x: F.softplus(x, 1.0, 20.0), [A], REAL),
    Row("softplus_b2_t1", lambda x: F.softplus(x, 2.0, 1.0), [A], REAL),
    Row("erf", torch.erf, [A], REAL),
    Row("clamp", lambda x: torch.clamp(x, -0.5, 0.7), [((4, 5), "u")], REAL),
    Row("complex", torch.complex, [((3, 4), "n"), ((4,), "n")], REAL),
    Row("polar", torch.polar, [((3, 4), "p"), ((3, 4), "n")], REAL),
    Row("conj", lambda z: torch.conj(z).resolve_conj(), [A], CPLX),
    Row("angle", torch.angle, [((4, 5), "z")], ALL),
    Row("where", lambda c, x, y: torch.where(c, x, y), [((3, 1, 4), "b"), ((5, 4), "n"), ((4,), "n")], ALL, grad=[1, 2]),
    Row("eq", torch.eq, [((3, 4), "i"), ((4,), "i")], ("i64",), grad=[]),
    Row("lt", torch.lt, [A, B], REAL, grad=[]),
    Row("ge", torch.ge, [A, B], REAL, grad=[]),
    Row("ne_c", torch.ne, [((3, 4), "i"), ((4,), "i")], ("i64",), grad=[]),
]
