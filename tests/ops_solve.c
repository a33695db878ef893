/* tests/ops_solve.c — op-table rows for solve ops (fixtures: fixturegen/solve.py).
 * Inputs are made well conditioned inside each row, as in the fixture: shift(M) = M + s I,
 * spd(M) = M M^H + n I, so gradcheck perturbs M and the matrix stays invertible / SPD. */
#include "op_table.h"

static ag_tensor *eye_like(ag_tensor *m) {
    int64_t n = ag_size(m, -1);
    return ag_eye_on(n, n, ag_dtype_of(m), ag_device_of(m));
}
static ag_tensor *shift_by(ag_tensor *m, double s) { return m ? ag_add(m, ag_mul_s(eye_like(m), s)) : NULL; }
static ag_tensor *shift(ag_tensor *m) { return shift_by(m, 4.0); }
static ag_tensor *spd(ag_tensor *m) {
    if (!m) return NULL;
    ag_tensor *mh = ag_conj(ag_transpose(m, -1, -2));
    return ag_add(ag_matmul(m, mh), ag_mul_s(eye_like(m), (double)ag_size(m, -1)));
}
static ag_tensor *slogdet_sign(ag_tensor *a) {
    ag_tensor *sign = NULL, *la = ag_slogdet(a, &sign);
    ag_release(la);
    return sign;
}

OPFN(solve, ag_solve(shift(x[0]), x[1]))
OPFN(solve_spd, ag_solve(spd(x[0]), x[1]))
OPFN(inverse, ag_inverse(shift(x[0])))
OPFN(det, ag_det(shift(x[0])))
OPFN(det_half, ag_det(shift_by(x[0], 0.5)))
OPFN(logdet_spd, ag_logdet(spd(x[0])))
OPFN(logdet, ag_logdet(shift(x[0])))
OPFN(slogdet_logabs, ag_slogdet(shift_by(x[0], 0.5), NULL))
OPFN(slogdet_sign, slogdet_sign(shift(x[0])))
OPFN(slogdet_sign_real, slogdet_sign(x[0]))
OPFN(cholesky, ag_cholesky(spd(x[0]), false))
OPFN(cholesky_upper, ag_cholesky(spd(x[0]), true))
OPFN(tr_l, ag_solve_triangular(shift(x[0]), x[1], false, true, false))
OPFN(tr_u, ag_solve_triangular(shift(x[0]), x[1], true, true, false))
OPFN(tr_l_right, ag_solve_triangular(shift(x[0]), x[1], false, false, false))
OPFN(tr_u_right_unit, ag_solve_triangular(shift(x[0]), x[1], true, false, true))
OPFN(tr_l_unit, ag_solve_triangular(shift(x[0]), x[1], false, true, true))

/* decompositions: gauge-invariant functions of the factors (see fixturegen/solve.py) */
static ag_tensor *mH(ag_tensor *m) { return ag_conj(ag_transpose(m, -1, -2)); }
static ag_tensor *sym(ag_tensor *m) { return ag_add(m, mH(m)); }
static ag_tensor *qr_part(ag_tensor *a, int which) {
    ag_tensor *q, *r;
    if (ag_linalg_qr(a, &q, &r)) return NULL;
    if (which == 0) return ag_square(q);
    if (which == 1) return ag_square(r);
    if (which == 2) return ag_abs(r);
    ag_tensor *d = ag_sum(ag_mul(r, eye_like(r)), AG_DIMS(-1), false); /* diag(R) */
    return ag_mul(q, ag_unsqueeze(d, -2));
}
static ag_tensor *eigh_part(ag_tensor *m, int which) {
    ag_tensor *l, *v;
    if (ag_linalg_eigh(sym(m), &l, &v)) return NULL;
    if (which == 0) return l;
    if (which == 1) return ag_square(v);
    if (which == 3) return ag_abs(v); /* blind to the free phase of complex eigenvectors */
    ag_tensor *vd = ag_mul(v, ag_unsqueeze(ag_tanh(l), -2)); /* V diag(tanh L) */
    return ag_matmul(vd, mH(v));
}
static ag_tensor *svd_part(ag_tensor *a, int which) {
    ag_tensor *u, *s, *vh;
    if (ag_linalg_svd(a, false, &u, &s, &vh)) return NULL;
    if (which == 0) return s;
    if (which == 1) return ag_matmul(u, vh);
    if (which == 4) return ag_abs(u);
    if (which == 5) return ag_abs(vh);
    return which == 2 ? ag_square(u) : ag_square(vh);
}
OPFN(qr_q2, qr_part(x[0], 0))
OPFN(qr_r2, qr_part(x[0], 1))
OPFN(qr_abs_r, qr_part(x[0], 2))
OPFN(qr_qd, qr_part(x[0], 3))
OPFN(eigh_vals, eigh_part(x[0], 0))
OPFN(eigh_v2, eigh_part(x[0], 1))
OPFN(eigh_fun, eigh_part(x[0], 2))
OPFN(svd_s, svd_part(x[0], 0))
OPFN(svd_uvh, svd_part(x[0], 1))
OPFN(svd_u2, svd_part(x[0], 2))
OPFN(svd_vh2, svd_part(x[0], 3))
OPFN(eigh_vabs, eigh_part(x[0], 3))
OPFN(svd_uabs, svd_part(x[0], 4))
OPFN(svd_vhabs, svd_part(x[0], 5))
OPFN(lstsq, ag_linalg_lstsq(x[0], x[1]))

#define ROW(nm, f, nin, dts) {.name = #nm, .fn = f_##f, .n_in = nin, .dtypes = dts, TOL(1e-10, 2e-4)}
const op_row ops_solve[] = {
    ROW(solve_mat, solve, 2, DT_FLOAT),
    ROW(solve_batch, solve, 2, DT_FLOAT),
    ROW(solve_bcast, solve, 2, DT_FLOAT),
    ROW(solve_bcast_a, solve, 2, DT_FLOAT),
    ROW(solve_vec, solve, 2, DT_FLOAT),
    ROW(solve_batch_vec, solve, 2, DT_FLOAT),
    ROW(solve_spd, solve_spd, 2, DT_FLOAT),
    ROW(inverse, inverse, 1, DT_FLOAT),
    ROW(inverse_batch, inverse, 1, DT_FLOAT),
    ROW(det, det, 1, DT_FLOAT),
    ROW(det_batch, det_half, 1, DT_FLOAT),
    ROW(logdet_spd, logdet_spd, 1, DT_FLOAT),
    ROW(logdet, logdet, 1, DT_CPLX),
    ROW(slogdet_logabs, slogdet_logabs, 1, DT_FLOAT),
    ROW(slogdet_sign, slogdet_sign, 1, DT_CPLX),
    ROW(slogdet_sign_real, slogdet_sign_real, 1, DT_REAL),
    ROW(cholesky, cholesky, 1, DT_FLOAT),
    ROW(cholesky_upper, cholesky_upper, 1, DT_FLOAT),
    ROW(cholesky_batch, cholesky, 1, DT_FLOAT),
    ROW(trsolve_lower, tr_l, 2, DT_FLOAT),
    ROW(trsolve_upper, tr_u, 2, DT_FLOAT),
    ROW(trsolve_lower_right, tr_l_right, 2, DT_FLOAT),
    ROW(trsolve_upper_right_unit, tr_u_right_unit, 2, DT_FLOAT),
    ROW(trsolve_lower_unit, tr_l_unit, 2, DT_FLOAT),
    ROW(trsolve_batch_bcast, tr_u, 2, DT_FLOAT),
#define DROW(nm, f, nin, dts) {.name = #nm, .fn = f_##f, .n_in = nin, .dtypes = dts, TOL(1e-9, 2e-3)}
    DROW(qr_q2, qr_q2, 1, DT_FLOAT),
    DROW(qr_r2, qr_r2, 1, DT_FLOAT),
    DROW(qr_qd_batch, qr_qd, 1, DT_FLOAT),
    DROW(qr_qd_square, qr_qd, 1, DT_FLOAT),
    {.name = "qr_wide", .fn = f_qr_abs_r, .n_in = 1, .dtypes = DT_FLOAT, TOL(1e-9, 2e-3), NOGC},
    DROW(eigh_vals, eigh_vals, 1, DT_FLOAT),
    DROW(eigh_v2, eigh_v2, 1, DT_REAL),
    DROW(eigh_vabs, eigh_vabs, 1, DT_CPLX),
    DROW(eigh_fun_batch, eigh_fun, 1, DT_FLOAT),
    DROW(svd_s, svd_s, 1, DT_FLOAT),
    DROW(svd_s_wide_batch, svd_s, 1, DT_FLOAT),
    DROW(svd_uvh, svd_uvh, 1, DT_FLOAT),
    DROW(svd_u2_tall, svd_u2, 1, DT_REAL),
    DROW(svd_vh2_wide, svd_vh2, 1, DT_REAL),
    DROW(svd_uabs_tall, svd_uabs, 1, DT_CPLX),
    DROW(svd_vhabs_wide, svd_vhabs, 1, DT_CPLX),
    DROW(svd_uvh_batch, svd_uvh, 1, DT_FLOAT),
    DROW(lstsq, lstsq, 2, DT_FLOAT),
    DROW(lstsq_batch, lstsq, 2, DT_FLOAT),
    {0},
};
