"""Elementwise ops: arithmetic with broadcasting (and in place), math, complex parts, comparisons, where."""
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
    Row("sub_s", lambda x: x - 1.5, [A], ALL),
    Row("div_s", lambda x: x / 2.5, [A], ALL),
    Row("div_s_i64", lambda i: i / 2.0, [((3, 4), "si9")], ("f64",), grad=[]),
    # in place (not differentiable): torch's x.clone().op_(y) against ag's clone then op_
    Row("add_", lambda x, y: x.clone().add_(y), [((3, 4), "n"), ((4,), "n")], ALL, grad=[]),
    Row("sub_", lambda x, y: x.clone().sub_(y), [((2, 3, 4), "n"), ((3, 1), "n")], ALL, grad=[]),
    Row("mul_", lambda x, y: x.clone().mul_(y), [((3, 4), "n"), ((3, 4), "n")], ALL, grad=[]),
    Row("div_", lambda x, y: x.clone().div_(y), [((3, 4), "n"), ((1, 4), "p")], ALL, grad=[]),
    Row("mul_i64", lambda x, y: x.clone().mul_(y), [((3, 4), "si9"), ((4,), "si9")], ("f64",), grad=[]),
    Row("clamp_", lambda x: x.clone().clamp_(-0.5, 0.7), [((4, 5), "u")], REAL, grad=[]),
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
    # rounding (real and i64; gradient 0), inverse trig, hyperbolics, log2/log10, atan2
    Row("floor", torch.floor, [((4, 5), "n")], REAL),
    Row("ceil", torch.ceil, [((4, 5), "n")], REAL),
    Row("round", torch.round, [((4, 5), "n")], REAL),
    Row("round_half", lambda x: torch.round(torch.floor(x * 8.0) * 0.5), [((4, 5), "u")], REAL, grad=[]),  # ties
    Row("floor_i64", torch.floor, [((4, 5), "si9")], ("i64",), grad=[]),
    Row("asin", torch.asin, [((3, 4), "u")], ALL),
    Row("acos", torch.acos, [((3, 4), "u")], ALL),
    Row("atan", torch.atan, [A], ALL),
    Row("sinh", torch.sinh, [A], ALL),
    Row("cosh", torch.cosh, [A], ALL),
    Row("log2", torch.log2, [((3, 4), "p")], ALL),
    Row("log10", torch.log10, [((3, 4), "p")], ALL),
    Row("asin_i64", torch.asin, [((3, 4), "si2")], ("i64",), grad=[]),
    Row("atan2", torch.atan2, [A, B], REAL),
    Row("atan2_i64", torch.atan2, [((3, 4), "si3"), ((4,), "si3")], ("i64",), grad=[]),
    # predicates and logical ops -> bool
    Row("isnan", torch.isnan, [((4, 5), "z")], ALL + ("i64", "bool"), grad=[]),
    Row("isinf", torch.isinf, [((4, 5), "z")], ALL + ("i64", "bool"), grad=[]),
    Row("isfinite", torch.isfinite, [((4, 5), "z")], ALL + ("i64", "bool"), grad=[]),
    Row("isnan_log", lambda x: torch.isnan(torch.log(x)), [((4, 5), "z")], REAL, grad=[]),  # nan, -inf, finite
    Row("isinf_log", lambda x: torch.isinf(torch.log(x)), [((4, 5), "z")], REAL, grad=[]),
    Row("isfinite_log", lambda x: torch.isfinite(torch.log(x)), [((4, 5), "z")], REAL, grad=[]),
    Row("isnan_cx", lambda a, b: torch.isnan(torch.complex(torch.log(a), torch.log(b))),
        [((4, 5), "z"), ((4, 5), "z")], REAL, grad=[]),  # complex: componentwise
    Row("isinf_cx", lambda a, b: torch.isinf(torch.complex(torch.log(a), torch.log(b))),
        [((4, 5), "z"), ((4, 5), "z")], REAL, grad=[]),
    Row("isfinite_cx", lambda a, b: torch.isfinite(torch.complex(torch.log(a), torch.log(b))),
        [((4, 5), "z"), ((4, 5), "z")], REAL, grad=[]),
    Row("logical_not", torch.logical_not, [((4, 5), "z")], ALL + ("i64", "bool"), grad=[]),
    Row("logical_and", torch.logical_and, [((3, 1, 4), "z"), ((5, 4), "z")], ALL + ("i64", "bool"), grad=[]),
    Row("logical_or", torch.logical_or, [((3, 1, 4), "z"), ((5, 4), "z")], ALL + ("i64", "bool"), grad=[]),
    Row("logical_and_mixed", lambda a, b: torch.logical_and(a, b.to(torch.int64)), [((3, 1, 4), "z"), ((5, 4), "u")],
        REAL, grad=[]),
    # isclose: b near a (some inside the tolerance, some outside)
    Row("isclose", lambda a, n: torch.isclose(a, a + 0.1 * n, rtol=0.05, atol=0.02), [((3, 1, 4), "n"), ((5, 4), "n")],
        ALL, grad=[]),
    Row("isclose_nan", lambda a, n: torch.isclose(torch.log(a), torch.log(a + 0.01 * n), rtol=1e-2, atol=0.0,
                                                  equal_nan=True), [((4, 5), "z"), ((4, 5), "n")], REAL, grad=[]),
    Row("isclose_nonan", lambda a, n: torch.isclose(torch.log(a), torch.log(a + 0.01 * n), rtol=1e-2, atol=0.0),
        [((4, 5), "z"), ((4, 5), "n")], REAL, grad=[]),
    Row("isclose_cnan", lambda a, b: torch.isclose(a / b, a / b, equal_nan=True), [((4, 5), "z"), ((4, 5), "z")],
        CPLX, grad=[]),
    Row("isclose_exact", lambda a, n: torch.isclose(a, a + (n > 1).to(a.dtype), rtol=0.0, atol=0.0),
        [((4, 5), "n"), ((4, 5), "n")], REAL, grad=[]),
    Row("isclose_i64", lambda a, b: torch.isclose(a, b, rtol=0.5, atol=1.0), [((4, 5), "i"), ((4, 5), "i")],
        ("i64",), grad=[]),
    Row("allclose_t", lambda a, n: torch.tensor(torch.allclose(a, a + 1e-9 * n)), [((3, 4), "n"), ((3, 4), "n")],
        ("f64", "c128"), grad=[]),
    Row("allclose_f", lambda a, n: torch.tensor(torch.allclose(a, a + 1e-3 * n)), [((3, 4), "n"), ((3, 4), "n")],
        ("f64", "c128"), grad=[]),
]
