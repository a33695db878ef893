/* tests/ops_view.c — op-table rows for views and copies (fixtures: fixturegen/view.py).
 * The PyTorch side multiplies by 1.0 so the output is a fresh tensor; ours are views, which
 * the comparison reads through their strides. */
#include "op_table.h"

OPFN(reshape, ag_reshape(x[0], AG_SHAPE(5, 12)))
OPFN(reshape_noncontig, ag_reshape(ag_transpose(x[0], D(0), D(2)), AG_SHAPE(20, 3)))
/* (2, 0, 1) of the row's own dims, after any leading dims of the highest-rank check */
static ag_tensor *f_permute(ag_tensor *const *x, int n, void *ud) {
    (void)n, (void)ud;
    int p[AG_MAX_DIMS];
    for (int d = 0; d < op_lead; d++) p[d] = d;
    p[op_lead] = D(2), p[op_lead + 1] = D(0), p[op_lead + 2] = D(1);
    return ag_permute(x[0], p, op_lead + 3);
}
OPFN(transpose, ag_transpose(x[0], D(0), D(1)))
OPFN(squeeze, ag_squeeze(x[0], D(1)))
OPFN(unsqueeze, ag_unsqueeze(x[0], D(1)))
OPFN(slice_step, ag_slice(ag_slice(x[0], D(1), 1, 4, 2), D(2), 0, 5, 3))
OPFN(slice_squared, ag_square(ag_slice(ag_slice(x[0], D(1), 1, 4, 2), D(2), 0, 5, 3)))
OPFN(slice_neg, ag_slice(ag_slice(x[0], D(0), -2, 3, 1), D(2), 1, -1, 1))
OPFN(select, ag_select(x[0], D(1), 2))
OPFN(expand, ag_expand(x[0], AG_SHAPE(2, 3, 4, 5)))
OPFN(real, ag_real(x[0]))
OPFN(imag, ag_imag(x[0]))
OPFN(view_as_real, ag_view_as_real(x[0]))
OPFN(view_as_real_sq, ag_square(ag_view_as_real(x[0])))
/* contiguous first: the op table's strided copies have a last dim of stride > 1 (refused, as PyTorch) */
OPFN(view_as_complex, ag_view_as_complex(ag_contiguous(x[0])))
OPFN(view_as_complex_sq, ag_square(ag_view_as_complex(ag_contiguous(x[0]))))
OPFN(to_c128, ag_to_dtype(x[0], AG_C128))
OPFN(to_f64, ag_to_dtype(x[0], AG_F64))
OPFN(clone, ag_clone(x[0]))
/* ag_to records only between two devices: through the test device when the build has it */
static ag_tensor *f_to_device_and_back(ag_tensor *const *x, int n, void *ud) {
    (void)n;
    (void)ud;
    ag_device dev = ag_device_of(x[0]), other = AG_TEST_DEVICE;
    if (!ag_device_available(other) || ag_device_eq(dev, other)) other = AG_CPU;
    if (ag_device_eq(dev, other)) return ag_clone(x[0]);
    return ag_to(ag_to(x[0], other), dev);
}

#define ROW(nm, dts) {.name = #nm, .fn = f_##nm, .n_in = 1, .dtypes = dts}
const op_row ops_view[] = {
    ROW(reshape, DT_FLOAT), ROW(reshape_noncontig, DT_FLOAT), ROW(permute, DT_FLOAT), ROW(transpose, DT_FLOAT),
    ROW(squeeze, DT_FLOAT), ROW(unsqueeze, DT_FLOAT), ROW(slice_step, DT_FLOAT), ROW(slice_squared, DT_FLOAT), ROW(slice_neg, DT_FLOAT),
    ROW(select, DT_FLOAT), ROW(expand, DT_FLOAT), ROW(real, DT_CPLX), ROW(imag, DT_CPLX),
    ROW(view_as_real, DT_CPLX), ROW(view_as_real_sq, DT_CPLX), ROW(view_as_complex, DT_REAL),
    ROW(view_as_complex_sq, DT_REAL),
    ROW(to_c128, DT_REAL), ROW(to_f64, DT(AG_F32)), ROW(clone, DT_FLOAT), ROW(to_device_and_back, DT_FLOAT),
    {0},
};
