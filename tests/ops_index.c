/* tests/ops_index.c — op-table rows for index ops (fixtures: fixturegen/index.py). */
#include "op_table.h"

OPFN(index_select, ag_index_select(x[0], D(0), x[1]))
OPFN(index_select_d1, ag_index_select(x[0], D(1), x[1]))
OPFN(index_select_last, ag_index_select(x[0], -1, x[1]))
OPFN(gather, ag_gather(x[0], D(1), x[1]))
OPFN(gather_d0, ag_gather(x[0], D(0), x[1]))
OPFN(gather_3d, ag_gather(x[0], D(1), x[1]))
OPFN(scatter_add, ag_scatter_add(x[0], D(0), x[1], x[2]))
OPFN(index_add, ag_index_add(x[0], D(0), x[1], x[2], 1))
OPFN(index_add_d1_alpha, ag_index_add(x[0], D(1), x[1], x[2], 0.5))
OPFN(scatter_add_small, ag_scatter_add(x[0], D(1), x[1], x[2]))
OPFN(scatter, ag_scatter(x[0], D(0), x[1], x[2]))
OPFN(scatter_d1, ag_scatter(x[0], D(1), ag_transpose(x[1], D(0), D(1)), x[2]))
OPFN(scatter_dup, ag_scatter(x[0], D(0), x[1], x[2]))
OPFN(index_put, ag_index_put(x[0], &x[1], 1, x[2], false))
OPFN(index_put_2idx, ag_index_put(x[0], (ag_tensor *const[]){x[1], ag_add_s(x[2], -5)}, 2, x[3], false))
OPFN(index_put_acc, ag_index_put(x[0], &x[1], 1, x[2], true))
OPFN(index_put_acc_2idx, ag_index_put(x[0], &x[1], 2, x[3], true))
OPFN(index_put_dup, ag_index_put(x[0], &x[1], 1, x[2], false))
OPFN(take, ag_take(x[0], x[1]))
OPFN(masked_select, ag_masked_select(x[0], x[1]))
OPFN(masked_select_bcast, ag_masked_select(x[0], x[1]))
OPFN(masked_fill, ag_masked_fill(x[0], x[1], -2.5))
OPFN(masked_fill_bcast, ag_masked_fill(x[0], x[1], 3.0))
static ag_tensor *f_masked_fill_(ag_tensor *const *x, int n, void *ud) {
    (void)n; (void)ud;
    ag_tensor *y = ag_clone(x[0]);
    if (y && ag_masked_fill_(y, x[1], 3.0) != 0) { ag_release(y); return NULL; }
    return y;
}
OPFN(nonzero, ag_nonzero(x[0]))
OPFN(nonzero_bool, ag_nonzero(x[0]))
OPFN(mask_assign_rows, ag_mask_assign(x[0], x[1], x[2]))
OPFN(masked_scatter, ag_masked_scatter(x[0], x[1], x[2]))
OPFN(cat, ag_cat(x, 3, D(0)))
OPFN(cat_neg_dim, ag_cat(x, 2, -1))
OPFN(cat_many, ag_cat(x, 7, D(1)))
OPFN(stack, ag_stack(x, 3, D(1)))
OPFN(stack_many, ag_stack(x, 6, D(0)))
OPFN(flip, ag_flip(x[0], (const int[]){D(0), D(2)}, 2))
OPFN(roll, ag_roll(x[0], (const int64_t[]){1, -2}, (const int[]){D(0), D(1)}, 2))
OPFN(roll_flat, ag_roll(x[0], (const int64_t[]){5}, NULL, 1))
OPFN(diff, ag_diff(x[0], 1, D(1)))
OPFN(diff2, ag_diff(x[0], 2, D(0)))
OPFN(diff3, ag_diff(x[0], 3, -1))
OPFN(cumsum, ag_cumsum(x[0], D(1)))
OPFN(cumsum_d0, ag_cumsum(x[0], D(0)))
OPFN(cumsum_3d, ag_cumsum(x[0], D(1)))
OPFN(cumsum_int, ag_cumsum(x[0], D(0)))
OPFN(cumprod, ag_cumprod(x[0], D(1)))
OPFN(cumprod_zeros, ag_cumprod(x[0], D(1)))
OPFN(cumprod_d0, ag_cumprod(x[0], D(0)))
OPFN(cumprod_3d, ag_cumprod(x[0], -1))
OPFN(cumprod_int, ag_cumprod(x[0], D(0)))
OPFN(tril, ag_tril(x[0], 0))
OPFN(tril_batched, ag_tril(x[0], -1))
OPFN(triu, ag_triu(x[0], 1))
OPFN(triu_neg, ag_triu(x[0], -2))
OPFN(diag_1d, ag_diag(x[0], 0))
OPFN(diag_1d_up, ag_diag(x[0], 2))
OPFN(diag_1d_down, ag_diag(x[0], -1))
OPFN(diag_2d, ag_diag(x[0], 0))
OPFN(diag_2d_up, ag_diag(x[0], 1))
OPFN(diag_2d_down, ag_diag(x[0], -2))
OPFN(diag_2d_far, ag_diag(x[0], 4))
OPFN(trace, ag_trace(x[0]))
OPFN(trace_rect, ag_trace(x[0]))
OPFN(repeat, ag_repeat(x[0], AG_SHAPE(2, 1, 3)))
OPFN(tile, ag_tile(x[0], AG_SHAPE(2)))
OPFN(tile_3d, ag_tile(x[0], AG_SHAPE(3, 1, 2)))
OPFN(one_hot, ag_one_hot(x[0], 6))
OPFN(one_hot_infer, ag_one_hot(x[0], -1))

/* torch.stack(torch.meshgrid(x..., indexing)) */
static ag_tensor *meshgrid_stacked(ag_tensor *const *x, int n, ag_indexing ind) {
    ag_tensor *g[3];
    if (ag_meshgrid(x, n, ind, g) != 0) return NULL;
    ag_tensor *r = ag_stack(g, n, D(0));
    for (int i = 0; i < n; i++) ag_release(g[i]);
    return r;
}
static ag_tensor *f_meshgrid_ij(ag_tensor *const *x, int n, void *ud) { (void)ud; return meshgrid_stacked(x, n, AG_INDEXING_IJ); }
static ag_tensor *f_meshgrid_xy(ag_tensor *const *x, int n, void *ud) { (void)ud; return meshgrid_stacked(x, n, AG_INDEXING_XY); }
static ag_tensor *f_meshgrid_xy2(ag_tensor *const *x, int n, void *ud) { (void)ud; return meshgrid_stacked(x, n, AG_INDEXING_XY); }

/* y = x.clone(); y[mask] = src[:mask.sum()] */
static ag_tensor *f_mask_assign(ag_tensor *const *x, int n, void *ud) {
    (void)n; (void)ud;
    ag_scope_begin();
    ag_no_grad_begin();
    ag_tensor *cnt = ag_sum(x[1], AG_ALL_DIMS, false);
    ag_no_grad_end();
    int64_t nnz = cnt ? (int64_t)ag_item(cnt) : 0;
    ag_tensor *r = ag_keep(ag_mask_assign(x[0], x[1], ag_slice(x[2], D(0), 0, nnz, 1)));
    ag_scope_end();
    return r;
}

/* torch.cat([split(x, 3, 0)[2], split(x, 3, 0)[0]], 0) */
static ag_tensor *f_split(ag_tensor *const *x, int n, void *ud) {
    (void)n; (void)ud;
    ag_tensor *p[4];
    int cnt = 4;
    if (ag_split(x[0], 3, D(0), p, &cnt) < 0) return NULL;
    ag_tensor *r = cnt == 3 ? ag_cat((ag_tensor *const[]){p[2], p[0]}, 2, D(0)) : NULL;
    for (int i = 0; i < cnt; i++) ag_release(p[i]);
    return r;
}

/* torch.cat([chunk(x, 3, 1)[1], chunk(x, 3, 1)[2]], 1) */
static ag_tensor *f_chunk(ag_tensor *const *x, int n, void *ud) {
    (void)n; (void)ud;
    ag_tensor *p[4];
    int cnt = 4;
    if (ag_chunk(x[0], 3, D(1), p, &cnt) < 0) return NULL;
    ag_tensor *r = cnt == 3 ? ag_cat((ag_tensor *const[]){p[1], p[2]}, 2, D(1)) : NULL;
    for (int i = 0; i < cnt; i++) ag_release(p[i]);
    return r;
}

#define ALLF DT_FLOAT
#define ONE DT(AG_F64)
#define ROW(nm, n, dts, ...) {.name = #nm, .fn = f_##nm, .n_in = n, .dtypes = dts, __VA_ARGS__}
const op_row ops_index[] = {
    ROW(index_select, 2, ALLF), ROW(index_select_d1, 2, ALLF), ROW(index_select_last, 2, DT_REAL),
    ROW(gather, 2, ALLF), ROW(gather_d0, 2, ALLF), ROW(gather_3d, 2, DT_REAL),
    ROW(scatter_add, 3, ALLF), ROW(scatter_add_small, 3, DT_REAL), ROW(index_add, 3, ALLF), ROW(index_add_d1_alpha, 3, DT_REAL),
    ROW(scatter, 3, ALLF), ROW(scatter_d1, 3, DT_REAL),
    ROW(scatter_dup, 3, DT_REAL, NOGC), /* torch's gradients for repeated positions: not a derivative */
    ROW(index_put, 3, ALLF), ROW(index_put_2idx, 4, DT_REAL), ROW(index_put_acc, 3, ALLF),
    ROW(index_put_acc_2idx, 4, DT_REAL), ROW(index_put_dup, 3, DT_REAL, NOGC),
    ROW(take, 2, ALLF), ROW(masked_select, 2, ALLF), ROW(masked_select_bcast, 2, DT_REAL),
    ROW(masked_fill, 2, ALLF), ROW(masked_fill_bcast, 2, DT_REAL), ROW(masked_fill_, 2, ALLF),
    ROW(nonzero, 1, DT_REAL), ROW(nonzero_bool, 1, ONE),
    ROW(mask_assign, 3, ALLF), ROW(mask_assign_rows, 3, DT_REAL), ROW(masked_scatter, 3, DT_REAL),
    ROW(cat, 3, ALLF), ROW(cat_neg_dim, 2, ALLF), ROW(cat_many, 7, DT_REAL),
    ROW(stack, 3, ALLF), ROW(stack_many, 6, DT_REAL), ROW(split, 1, ALLF), ROW(chunk, 1, ALLF),
    ROW(flip, 1, ALLF), ROW(roll, 1, ALLF), ROW(roll_flat, 1, DT_REAL),
    ROW(diff, 1, ALLF), ROW(diff2, 1, DT_REAL), ROW(diff3, 1, DT_REAL),
    ROW(cumsum, 1, ALLF, TOL(1e-12, 1e-5)), ROW(cumsum_d0, 1, ALLF), ROW(cumsum_3d, 1, DT_REAL),
    ROW(cumsum_int, 1, ONE),
    ROW(cumprod, 1, ALLF, TOL(1e-12, 1e-5)), ROW(cumprod_zeros, 1, ALLF, TOL(1e-12, 1e-5)),
    ROW(cumprod_d0, 1, DT_REAL, TOL(1e-12, 1e-5)), ROW(cumprod_3d, 1, DT_REAL), ROW(cumprod_int, 1, ONE),
    ROW(tril, 1, ALLF), ROW(tril_batched, 1, DT_REAL), ROW(triu, 1, ALLF), ROW(triu_neg, 1, DT_REAL),
    ROW(diag_1d, 1, ALLF), ROW(diag_1d_up, 1, ALLF), ROW(diag_1d_down, 1, DT_REAL), ROW(diag_2d, 1, ALLF),
    ROW(diag_2d_up, 1, DT_REAL), ROW(diag_2d_down, 1, DT_REAL), ROW(diag_2d_far, 1, DT_REAL),
    ROW(trace, 1, ALLF), ROW(trace_rect, 1, DT_REAL),
    ROW(meshgrid_ij, 3, ALLF), ROW(meshgrid_xy, 3, ALLF), ROW(meshgrid_xy2, 2, DT_REAL),
    ROW(repeat, 1, ALLF), ROW(tile, 1, DT_REAL), ROW(tile_3d, 1, DT_REAL),
    ROW(one_hot, 1, ONE), ROW(one_hot_infer, 1, ONE),
    {0},
};
