"""Views and copies: reshape, permute, transpose, squeeze, unsqueeze, slice, select, expand,
real/imag, view_as_real/view_as_complex, casts, clone."""
import torch

from .common import Row

FAMILY = "view"
ALL = ("f32", "f64", "c64", "c128")
CPLX = ("c64", "c128")
REAL = ("f32", "f64")
X = ((3, 4, 5), "n")

ROWS = [
    Row("reshape", lambda x: x.reshape(5, 12) * 1.0, [X], ALL),
    Row("reshape_noncontig", lambda x: x.transpose(0, 2).reshape(20, 3) * 1.0, [X], ALL),
    Row("permute", lambda x: x.permute(2, 0, 1) * 1.0, [X], ALL),
    Row("transpose", lambda x: x.transpose(0, 1) * 1.0, [X], ALL),
    Row("squeeze", lambda x: x.squeeze(1) * 1.0, [((3, 1, 5), "n")], ALL),
    Row("unsqueeze", lambda x: x.unsqueeze(1) * 1.0, [X], ALL),
    Row("slice_step", lambda x: x[:, 1:4:2, ::3] * 1.0, [X], ALL),
    Row("slice_squared", lambda x: x[:, 1:4:2, ::3] ** 2, [X], ALL),  # second derivatives through the slice
    Row("slice_neg", lambda x: x[-2:, :, 1:-1] * 1.0, [X], ALL),
    Row("select", lambda x: x[:, 2] * 1.0, [X], ALL),
    Row("expand", lambda x: x.expand(2, 3, 4, 5) * 1.0, [((3, 1, 5), "n")], ALL),
    Row("real", lambda z: torch.real(z) * 1.0, [X], CPLX),
    Row("imag", lambda z: torch.imag(z) * 1.0, [X], CPLX),
    Row("view_as_real", lambda z: torch.view_as_real(z) * 1.0, [X], CPLX),
    Row("view_as_real_sq", lambda z: torch.view_as_real(z) ** 2, [((3, 4), "n")], CPLX),
    Row("view_as_complex", lambda x: torch.view_as_complex(x) * 1.0, [((3, 4, 2), "n")], REAL),
    Row("view_as_complex_sq", lambda x: torch.view_as_complex(x) ** 2, [((4, 2), "n")], REAL),
    Row("to_c128", lambda x: x.to(torch.complex128), [X], ("f32", "f64")),
    Row("to_f64", lambda x: x.to(torch.float64), [X], ("f32",)),
    Row("clone", lambda x: x.clone(), [X], ALL),
    Row("to_device_and_back", lambda x: x.clone(), [X], ALL),  # ag_to via the test device when built
]
