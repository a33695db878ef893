"""Convolution family: conv1d/conv2d/conv_transpose2d (stride, padding, "same", dilation, groups,
bias), avg/max pooling, F.pad in every mode, nearest/bilinear upsampling. Shapes stay small so
that the f64 gradcheck of the op-table test stays fast."""
import torch.nn.functional as F

from .common import Row

FAMILY = "conv"
REAL = ("f32", "f64")
X = ((2, 3, 6, 6), "n")
B4 = ((4,), "n")

ROWS = [
    Row("conv2d_basic", lambda x, w, b: F.conv2d(x, w, b), [X, ((4, 3, 3, 3), "n"), B4], REAL),
    Row("conv2d_s2p1", lambda x, w, b: F.conv2d(x, w, b, stride=2, padding=1), [X, ((4, 3, 3, 3), "n"), B4], REAL),
    Row("conv2d_same", lambda x, w: F.conv2d(x, w, padding="same"), [X, ((4, 3, 3, 3), "n")], REAL),
    Row("conv2d_same_even", lambda x, w, b: F.conv2d(x, w, b, padding="same", dilation=(1, 2)),
        [X, ((4, 3, 2, 4), "n"), B4], REAL),
    Row("conv2d_dil2", lambda x, w: F.conv2d(x, w, dilation=2, padding=1), [X, ((4, 3, 3, 3), "n")], REAL),
    Row("conv2d_groups2", lambda x, w, b: F.conv2d(x, w, b, padding=1, groups=2),
        [((2, 4, 6, 6), "n"), ((6, 2, 3, 3), "n"), ((6,), "n")], REAL),
    Row("conv2d_depthwise", lambda x, w: F.conv2d(x, w, stride=2, groups=3), [X, ((3, 1, 3, 3), "n")], REAL),
    Row("conv2d_1x1", lambda x, w, b: F.conv2d(x, w, b), [X, ((5, 3, 1, 1), "n"), ((5,), "n")], REAL),
    Row("conv2d_rect", lambda x, w: F.conv2d(x, w, stride=(2, 1), padding=(0, 2), dilation=(1, 2)),
        [((2, 3, 7, 5), "n"), ((4, 3, 3, 2), "n")], REAL),
    Row("conv2d_unbatched", lambda x, w, b: F.conv2d(x, w, b, padding=1), [((3, 5, 5), "n"), ((4, 3, 3, 3), "n"), B4], REAL),
    # rows of 16+ output pixels: the f32 AVX-512 stride-1 kernels (backends/cpu/conv_direct.c)
    Row("conv2d_wide", lambda x, w, b: F.conv2d(x, w, b, padding=1), [((2, 5, 4, 21), "n"), ((6, 5, 3, 3), "n"),
                                                                      ((6,), "n")], REAL),
    Row("conv2d_wide_groups_dil", lambda x, w: F.conv2d(x, w, padding=(2, 1), dilation=(1, 3), groups=2),
        [((1, 4, 3, 40), "n"), ((6, 2, 3, 2), "n")], REAL),
    Row("conv1d_wide", lambda x, w, b: F.conv1d(x, w, b, padding=2), [((3, 7, 70), "n"), ((9, 7, 5), "n"), ((9,), "n")], REAL),
    Row("conv2d_wide_s2", lambda x, w, b: F.conv2d(x, w, b, stride=(2, 2), padding=1),
        [((2, 3, 5, 40), "n"), ((4, 3, 3, 3), "n"), B4], REAL),
    Row("conv_transpose2d_wide", lambda x, w: F.conv_transpose2d(x, w, padding=(0, 1)),
        [((2, 3, 3, 18), "n"), ((3, 5, 3, 3), "n")], REAL),
    Row("conv1d", lambda x, w, b: F.conv1d(x, w, b, stride=2, padding=1), [((2, 3, 10), "n"), ((4, 3, 3), "n"), B4], REAL),
    Row("conv1d_same_dil", lambda x, w: F.conv1d(x, w, padding="same", dilation=2), [((2, 3, 9), "n"), ((4, 3, 3), "n")], REAL),
    Row("conv1d_groups", lambda x, w: F.conv1d(x, w, groups=3), [((2, 6, 8), "n"), ((3, 2, 4), "n")], REAL),
    Row("conv_transpose2d", lambda x, w, b: F.conv_transpose2d(x, w, b), [((2, 3, 4, 4), "n"), ((3, 4, 3, 3), "n"), B4], REAL),
    Row("conv_transpose2d_s2_op1", lambda x, w, b: F.conv_transpose2d(x, w, b, stride=2, padding=1, output_padding=1),
        [((2, 3, 4, 4), "n"), ((3, 4, 3, 3), "n"), B4], REAL),
    Row("conv_transpose2d_groups_dil", lambda x, w: F.conv_transpose2d(x, w, stride=(1, 2), padding=(2, 1), groups=2,
                                                                       dilation=2, output_padding=(1, 0)),
        [((2, 4, 4, 3), "n"), ((4, 3, 3, 2), "n")], REAL),
    Row("avg_pool2d", lambda x: F.avg_pool2d(x, 3, 2, 1), [((2, 3, 7, 7), "n")], REAL),
    # squared: second derivatives through the backward ops (create_graph)
    Row("avg_pool2d_sq", lambda x: F.avg_pool2d(x, 3, 2, 1) ** 2, [((2, 3, 7, 7), "n")], REAL),
    Row("max_pool2d_sq", lambda x: F.max_pool2d(x, 3, 2, 1) ** 2, [((2, 3, 7, 7), "n")], REAL),
    Row("pad_reflect_sq", lambda x: F.pad(x, (2, 4, 3, 1), "reflect") ** 2, [((2, 3, 4, 5), "n")], REAL),
    Row("upsample_bilinear_sq", lambda x: F.interpolate(x, size=(7, 9), mode="bilinear", align_corners=False) ** 2,
        [((2, 3, 4, 5), "n")], REAL),
    Row("avg_pool2d_k2", lambda x: F.avg_pool2d(x, (2, 3)), [X], REAL),
    Row("max_pool2d", lambda x: F.max_pool2d(x, 3, 2, 1), [((2, 3, 7, 7), "n")], REAL),
    Row("max_pool2d_s1", lambda x: F.max_pool2d(x, (2, 3), (1, 2)), [X], REAL),
    Row("max_pool2d_unbatched", lambda x: F.max_pool2d(x, 2), [((3, 6, 6), "n")], REAL),
    Row("pad_constant", lambda x: F.pad(x, (1, 2, 0, 3), "constant", 0.5), [((2, 3, 4, 5), "n")], REAL),
    Row("pad_constant_crop", lambda x: F.pad(x, (-1, 2, 1, -2)), [((2, 3, 4, 5), "n")], REAL),
    Row("pad_constant_3d", lambda x: F.pad(x, (1, 0, 0, 2, 1, 1)), [((2, 3, 4, 5), "n")], REAL),
    Row("pad_reflect", lambda x: F.pad(x, (2, 4, 3, 1), "reflect"), [((2, 3, 4, 5), "n")], REAL),
    Row("pad_reflect1d", lambda x: F.pad(x, (2, 3), "reflect"), [((2, 3, 6), "n")], REAL),
    Row("pad_replicate", lambda x: F.pad(x, (2, 3, 1, 4), "replicate"), [((2, 3, 4, 5), "n")], REAL),
    Row("pad_circular", lambda x: F.pad(x, (2, 1, 3, 4), "circular"), [((2, 3, 4, 5), "n")], REAL),
    Row("upsample_nearest", lambda x: F.interpolate(x, size=(7, 9), mode="nearest"), [((2, 3, 4, 5), "n")], REAL),
    Row("upsample_nearest_x2", lambda x: F.interpolate(x, size=(8, 10), mode="nearest"), [((2, 3, 4, 5), "n")], REAL),
    Row("upsample_nearest_down", lambda x: F.interpolate(x, size=(3, 2), mode="nearest"), [((2, 3, 7, 5), "n")], REAL),
    Row("upsample_bilinear", lambda x: F.interpolate(x, size=(7, 9), mode="bilinear", align_corners=False),
        [((2, 3, 4, 5), "n")], REAL),
    Row("upsample_bilinear_ac", lambda x: F.interpolate(x, size=(7, 9), mode="bilinear", align_corners=True),
        [((2, 3, 4, 5), "n")], REAL),
    Row("upsample_bilinear_down", lambda x: F.interpolate(x, size=(3, 2), mode="bilinear", align_corners=False),
        [((2, 3, 7, 5), "n")], REAL),
]
