/* tests/ops_reduce.c — op-table rows for reductions (fixtures: fixturegen/reduce.py). */
#include <math.h>

#include "op_table.h"

OPFN(sum_all, ag_sum(x[0], AG_ALL_DIMS, false))
OPFN(sum_d1, ag_sum(x[0], AG_DIMS(D(1)), false))
OPFN(sum_d02_keep, ag_sum(x[0], AG_DIMS(D(0), D(2)), true))
OPFN(sum_i64, ag_sum(x[0], AG_DIMS(D(0)), false))
OPFN(mean_d2, ag_mean(x[0], AG_DIMS(D(2)), false))
OPFN(mean_all, ag_mean(x[0], AG_ALL_DIMS, false))
OPFN(prod_d1, ag_prod(x[0], AG_DIMS(D(1)), false))
OPFN(prod_all, ag_prod(x[0], AG_ALL_DIMS, false))
OPFN(var_d1, ag_var(x[0], AG_DIMS(D(1)), 1, false))
OPFN(var_all_c0, ag_var(x[0], AG_ALL_DIMS, 0, false))
OPFN(std_d02, ag_std(x[0], AG_DIMS(D(0), D(2)), 1, false))
OPFN(norm2_all, ag_norm(x[0], 2, AG_ALL_DIMS, false))
OPFN(norm1_d1, ag_norm(x[0], 1, AG_DIMS(D(1)), false))
OPFN(norminf_d2, ag_norm(x[0], INFINITY, AG_DIMS(D(2)), false))
OPFN(norm3_d0_keep, ag_norm(x[0], 3, AG_DIMS(D(0)), true))
OPFN(logsumexp_d1, ag_logsumexp(x[0], AG_DIMS(D(1)), false))
OPFN(logsumexp_all, ag_logsumexp(x[0], AG_DIMS(D(0), D(1), D(2)), false))
OPFN(amax_d1, ag_amax(x[0], AG_DIMS(D(1)), false))
OPFN(amin_d02, ag_amin(x[0], AG_DIMS(D(0), D(2)), false))
OPFN(max_d2, ag_max_dim(x[0], D(2), false, NULL))
OPFN(min_d0_keep, ag_min_dim(x[0], D(0), true, NULL))
OPFN(argmax_d1, ag_argmax(x[0], D(1), false))
OPFN(argmin_d2, ag_argmin(x[0], D(2), false))
OPFN(sort_d1, ag_sort(x[0], D(1), false, NULL))
OPFN(sort_desc_d0, ag_sort(x[0], D(0), true, NULL))
static ag_tensor *f_sort_idx_d2(ag_tensor *const *x, int n, void *ctx) {
    (void)n, (void)ctx;
    ag_tensor *ix = NULL, *v = ag_sort(x[0], -1, false, &ix);
    ag_release(v);
    return ix;
}
OPFN(sort_i64_ties, ag_argsort(x[0], D(1), false))
OPFN(sort_desc_i64_ties, ag_argsort(x[0], D(0), true))
OPFN(argsort_desc_d1, ag_argsort(x[0], D(1), true))
OPFN(topk_k2_d1, ag_topk(x[0], 2, D(1), true, true, NULL))
OPFN(topk_small_k3_d2, ag_topk(x[0], 3, D(2), false, true, NULL))
static ag_tensor *f_topk_idx_d0(ag_tensor *const *x, int n, void *ctx) {
    (void)n, (void)ctx;
    ag_tensor *ix = NULL, *v = ag_topk(x[0], 2, D(0), true, true, &ix);
    ag_release(v);
    return ix;
}
OPFN(median_all, ag_median(x[0]))
OPFN(median_odd, ag_median(x[0]))
OPFN(median_d1, ag_median_dim(x[0], D(1), false, NULL))
OPFN(median_d2_keep, ag_median_dim(x[0], D(2), true, NULL))
static ag_tensor *f_median_idx_d0(ag_tensor *const *x, int n, void *ctx) {
    (void)n, (void)ctx;
    ag_tensor *ix = NULL, *v = ag_median_dim(x[0], D(0), false, &ix);
    ag_release(v);
    return ix;
}
OPFN(quantile_all, ag_quantile(x[0], 0.3, AG_ALL_DIMS, false))
OPFN(quantile_d1, ag_quantile(x[0], 0.25, AG_DIMS(D(1)), false))
OPFN(quantile_d2_keep, ag_quantile(x[0], 0.8, AG_DIMS(D(2)), true))
OPFN(quantile_all_keep, ag_quantile(x[0], 0.55, AG_ALL_DIMS, true))
OPFN(quantile_q1_d0, ag_quantile(x[0], 1.0, AG_DIMS(D(0)), false))

OPFN(any_all, ag_any(x[0], AG_ALL_DIMS, false))
OPFN(all_all, ag_all(x[0], AG_ALL_DIMS, false))
OPFN(any_d2, ag_any(x[0], AG_DIMS(D(2)), false))
OPFN(all_d1_keep, ag_all(x[0], AG_DIMS(D(1)), true))
OPFN(any_d02, ag_any(x[0], AG_DIMS(D(0), D(2)), false))
OPFN(all_d02_keep, ag_all(x[0], AG_DIMS(-1, D(0)), true))
OPFN(any_empty, ag_any(x[0], AG_DIMS(D(0)), false))
OPFN(all_empty, ag_all(x[0], AG_DIMS(D(0)), false))

#define DT_ANY (DT_FLOAT | DT(AG_I64) | DT(AG_BOOL))
#define ROW(nm, dts, ...) {.name = #nm, .fn = f_##nm, .n_in = 1, .dtypes = dts, __VA_ARGS__}
const op_row ops_reduce[] = {
    ROW(sum_all, DT_FLOAT), ROW(sum_d1, DT_FLOAT), ROW(sum_d02_keep, DT_FLOAT), ROW(sum_i64, DT(AG_I64)),
    ROW(mean_d2, DT_FLOAT), ROW(mean_all, DT_FLOAT), ROW(prod_d1, DT_FLOAT, TOL(1e-11, 1e-4), NOGC),
    ROW(prod_all, DT_FLOAT, TOL(1e-11, 1e-4)),
    ROW(var_d1, DT_FLOAT, TOL(1e-11, 1e-4)), ROW(var_all_c0, DT_FLOAT, TOL(1e-11, 1e-4)), ROW(std_d02, DT_FLOAT, TOL(1e-11, 1e-4)),
    ROW(norm2_all, DT_FLOAT, TOL(1e-11, 1e-4)), ROW(norm1_d1, DT_FLOAT, TOL(1e-11, 1e-4)), ROW(norminf_d2, DT_FLOAT, TOL(1e-11, 1e-4)),
    ROW(norm3_d0_keep, DT_FLOAT, TOL(1e-11, 1e-4)), ROW(logsumexp_d1, DT_REAL, TOL(1e-11, 1e-4)),
    ROW(logsumexp_all, DT_REAL, TOL(1e-11, 1e-4)), ROW(amax_d1, DT_REAL), ROW(amin_d02, DT_REAL),
    ROW(max_d2, DT_REAL), ROW(min_d0_keep, DT_REAL), ROW(argmax_d1, DT_REAL), ROW(argmin_d2, DT_REAL),
    ROW(sort_d1, DT_REAL), ROW(sort_desc_d0, DT_REAL), ROW(sort_idx_d2, DT_REAL),
    ROW(sort_i64_ties, DT(AG_I64)), ROW(sort_desc_i64_ties, DT(AG_I64)), ROW(argsort_desc_d1, DT_REAL),
    ROW(topk_k2_d1, DT_REAL), ROW(topk_small_k3_d2, DT_REAL), ROW(topk_idx_d0, DT_REAL),
    ROW(median_all, DT_REAL), ROW(median_odd, DT_REAL), ROW(median_d1, DT_REAL), ROW(median_d2_keep, DT_REAL),
    ROW(median_idx_d0, DT_REAL),
    ROW(quantile_all, DT_REAL), ROW(quantile_d1, DT_REAL), ROW(quantile_d2_keep, DT_REAL),
    ROW(quantile_all_keep, DT_REAL), ROW(quantile_q1_d0, DT_REAL),
    ROW(any_all, DT_ANY), ROW(all_all, DT_ANY), ROW(any_d2, DT_ANY), ROW(all_d1_keep, DT_ANY),
    ROW(any_d02, DT(AG_BOOL)), ROW(all_d02_keep, DT(AG_BOOL)), ROW(any_empty, DT_REAL), ROW(all_empty, DT_REAL),
    {0},
};
