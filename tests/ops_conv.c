/* tests/ops_conv.c — op-table rows for conv ops (fixtures: fixturegen/conv.py). */
#include "op_table.h"

#define CO(...) (&(ag_conv_opts){__VA_ARGS__})
#define P2(a, b) ((const int64_t[]){a, b})
/* A NULL bias means "no bias": the runner's NULL-input check skips it */
#define BIAS .optional = 1u << 2

OPFN(conv2d_basic, ag_conv2d(x[0], x[1], x[2], NULL))
OPFN(conv2d_s2p1, ag_conv2d(x[0], x[1], x[2], CO(.stride = {2, 2}, .padding = {1, 1})))
OPFN(conv2d_same, ag_conv2d(x[0], x[1], NULL, CO(.same = true)))
OPFN(conv2d_same_even, ag_conv2d(x[0], x[1], x[2], CO(.same = true, .dilation = {1, 2})))
OPFN(conv2d_dil2, ag_conv2d(x[0], x[1], NULL, CO(.dilation = {2, 2}, .padding = {1, 1})))
OPFN(conv2d_groups2, ag_conv2d(x[0], x[1], x[2], CO(.padding = {1, 1}, .groups = 2)))
OPFN(conv2d_depthwise, ag_conv2d(x[0], x[1], NULL, CO(.stride = {2, 2}, .groups = 3)))
OPFN(conv2d_1x1, ag_conv2d(x[0], x[1], x[2], NULL))
OPFN(conv2d_rect, ag_conv2d(x[0], x[1], NULL, CO(.stride = {2, 1}, .padding = {0, 2}, .dilation = {1, 2})))
OPFN(conv2d_unbatched, ag_conv2d(x[0], x[1], x[2], CO(.padding = {1, 1})))
OPFN(conv2d_wide, ag_conv2d(x[0], x[1], x[2], CO(.padding = {1, 1})))
OPFN(conv2d_wide_groups_dil, ag_conv2d(x[0], x[1], NULL, CO(.padding = {2, 1}, .dilation = {1, 3}, .groups = 2)))
OPFN(conv1d_wide, ag_conv1d(x[0], x[1], x[2], CO(.padding = {2})))
OPFN(conv2d_wide_s2, ag_conv2d(x[0], x[1], x[2], CO(.stride = {2, 2}, .padding = {1, 1})))
OPFN(conv_transpose2d_wide, ag_conv_transpose2d(x[0], x[1], NULL, CO(.padding = {0, 1})))
OPFN(conv1d, ag_conv1d(x[0], x[1], x[2], CO(.stride = {2}, .padding = {1})))
OPFN(conv1d_same_dil, ag_conv1d(x[0], x[1], NULL, CO(.same = true, .dilation = {2})))
OPFN(conv1d_groups, ag_conv1d(x[0], x[1], NULL, CO(.groups = 3)))
OPFN(conv_transpose2d, ag_conv_transpose2d(x[0], x[1], x[2], NULL))
OPFN(conv_transpose2d_s2_op1,
     ag_conv_transpose2d(x[0], x[1], x[2], CO(.stride = {2, 2}, .padding = {1, 1}, .output_padding = {1, 1})))
OPFN(conv_transpose2d_groups_dil,
     ag_conv_transpose2d(x[0], x[1], NULL, CO(.stride = {1, 2}, .padding = {2, 1}, .groups = 2, .dilation = {2, 2},
                                              .output_padding = {1, 0})))
OPFN(avg_pool2d, ag_avg_pool2d(x[0], P2(3, 3), P2(2, 2), P2(1, 1)))
OPFN(avg_pool2d_sq, ag_square(ag_avg_pool2d(x[0], P2(3, 3), P2(2, 2), P2(1, 1))))
OPFN(max_pool2d_sq, ag_square(ag_max_pool2d(x[0], P2(3, 3), P2(2, 2), P2(1, 1))))
OPFN(pad_reflect_sq, ag_square(ag_pad(x[0], (const int64_t[]){2, 4, 3, 1}, 4, AG_PAD_REFLECT, 0)))
OPFN(upsample_bilinear_sq, ag_square(ag_upsample_bilinear2d(x[0], 7, 9, false)))
OPFN(avg_pool2d_k2, ag_avg_pool2d(x[0], P2(2, 3), NULL, NULL))
OPFN(max_pool2d, ag_max_pool2d(x[0], P2(3, 3), P2(2, 2), P2(1, 1)))
OPFN(max_pool2d_s1, ag_max_pool2d(x[0], P2(2, 3), P2(1, 2), NULL))
OPFN(max_pool2d_unbatched, ag_max_pool2d(x[0], P2(2, 2), NULL, NULL))
OPFN(pad_constant, ag_pad(x[0], (const int64_t[]){1, 2, 0, 3}, 4, AG_PAD_CONSTANT, 0.5))
OPFN(pad_constant_crop, ag_pad(x[0], (const int64_t[]){-1, 2, 1, -2}, 4, AG_PAD_CONSTANT, 0))
OPFN(pad_constant_3d, ag_pad(x[0], (const int64_t[]){1, 0, 0, 2, 1, 1}, 6, AG_PAD_CONSTANT, 0))
OPFN(pad_reflect, ag_pad(x[0], (const int64_t[]){2, 4, 3, 1}, 4, AG_PAD_REFLECT, 0))
OPFN(pad_reflect1d, ag_pad(x[0], (const int64_t[]){2, 3}, 2, AG_PAD_REFLECT, 0))
OPFN(pad_replicate, ag_pad(x[0], (const int64_t[]){2, 3, 1, 4}, 4, AG_PAD_REPLICATE, 0))
OPFN(pad_circular, ag_pad(x[0], (const int64_t[]){2, 1, 3, 4}, 4, AG_PAD_CIRCULAR, 0))
OPFN(upsample_nearest, ag_upsample_nearest2d(x[0], 7, 9))
OPFN(upsample_nearest_x2, ag_upsample_nearest2d(x[0], 8, 10))
OPFN(upsample_nearest_down, ag_upsample_nearest2d(x[0], 3, 2))
OPFN(upsample_bilinear, ag_upsample_bilinear2d(x[0], 7, 9, false))
OPFN(upsample_bilinear_ac, ag_upsample_bilinear2d(x[0], 7, 9, true))
OPFN(upsample_bilinear_down, ag_upsample_bilinear2d(x[0], 3, 2, false))

#define ROW(nm, n, ...) {.name = #nm, .fn = f_##nm, .n_in = n, .dtypes = DT_REAL, __VA_ARGS__}
#define CTOL TOL(1e-10, 1e-4) /* sums of products: BLAS and oneDNN round differently */
const op_row ops_conv[] = {
    ROW(conv2d_basic, 3, CTOL, BIAS), ROW(conv2d_s2p1, 3, CTOL, BIAS), ROW(conv2d_same, 2, CTOL),
    ROW(conv2d_same_even, 3, CTOL, BIAS), ROW(conv2d_dil2, 2, CTOL), ROW(conv2d_groups2, 3, CTOL, BIAS),
    ROW(conv2d_depthwise, 2, CTOL), ROW(conv2d_1x1, 3, CTOL, BIAS), ROW(conv2d_rect, 2, CTOL),
    ROW(conv2d_unbatched, 3, CTOL, BIAS), ROW(conv2d_wide, 3, CTOL, BIAS), ROW(conv2d_wide_groups_dil, 2, CTOL),
    ROW(conv1d_wide, 3, CTOL, BIAS), ROW(conv2d_wide_s2, 3, CTOL, BIAS), ROW(conv_transpose2d_wide, 2, CTOL), ROW(conv1d, 3, CTOL, BIAS), ROW(conv1d_same_dil, 2, CTOL),
    ROW(conv1d_groups, 2, CTOL), ROW(conv_transpose2d, 3, CTOL, BIAS), ROW(conv_transpose2d_s2_op1, 3, CTOL, BIAS),
    ROW(conv_transpose2d_groups_dil, 2, CTOL),
    ROW(avg_pool2d, 1, CTOL), ROW(avg_pool2d_sq, 1, CTOL), ROW(max_pool2d_sq, 1), ROW(pad_reflect_sq, 1),
    ROW(upsample_bilinear_sq, 1, CTOL), ROW(avg_pool2d_k2, 1, CTOL), ROW(max_pool2d, 1), ROW(max_pool2d_s1, 1),
    ROW(max_pool2d_unbatched, 1),
    ROW(pad_constant, 1), ROW(pad_constant_crop, 1), ROW(pad_constant_3d, 1), ROW(pad_reflect, 1),
    ROW(pad_reflect1d, 1), ROW(pad_replicate, 1), ROW(pad_circular, 1),
    ROW(upsample_nearest, 1), ROW(upsample_nearest_x2, 1), ROW(upsample_nearest_down, 1),
    ROW(upsample_bilinear, 1, CTOL), ROW(upsample_bilinear_ac, 1, CTOL), ROW(upsample_bilinear_down, 1, CTOL),
    {0},
};
