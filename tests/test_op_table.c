/* tests/test_op_table.c — runs every op-table row for every dtype its fixture has:
 *  1. forward value vs PyTorch;  2. vector-Jacobian product vs PyTorch (upstream w);
 *  3. the same forward on non-contiguous copies of the inputs, and at 8 dims (inputs with
 *  leading dims);  4. a NULL input gives NULL,
 *  with an error naming the op when none was pending, keeping the pending one otherwise;
 *  5. gradcheck in f64/c128, and gradgradcheck (second derivatives through the backward rules)
 *  unless the row says why not;  6. no tensor outlives the case.
 * Last, the registry check: every differentiable op of the registry (astrograd/op.h) must have
 * been recorded by some row and gradchecked by some row.
 * AG_OP_TABLE_FILTER=dft/\* runs only the matching cases (cmocka's pattern; the registry check
 * then is skipped), e.g. to run one family under valgrind. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "op_cases.h"


/* same values, different strides: transpose-copy-transpose (>= 2-d) or a strided column (1-d) */
static ag_tensor *noncontig(ag_tensor *x) {
    int nd = ag_ndim(x);
    if (nd >= 2) {
        ag_tensor *t = ag_contiguous(ag_transpose(x, -1, -2));
        return ag_transpose(t, -1, -2);
    }
    if (nd == 1) {
        ag_tensor *buf = ag_zeros((int64_t[]){ag_shape(x)[0], 2}, 2, ag_dtype_of(x));
        ag_tensor *col = ag_select(buf, 1, 1);
        ag_copy_(col, x);
        return col;
    }
    return ag_clone(x);
}

typedef struct gc_ctx { const op_row *row; ag_tensor **all; int *map; int nd; } gc_ctx;

static ag_tensor *gc_fn(ag_tensor *const *in, int n, void *ud) {
    gc_ctx *c = ud;
    ag_tensor *x[8];
    for (int i = 0; i < c->row->n_in; i++) x[i] = c->all[i];
    for (int k = 0; k < n; k++) x[c->map[k]] = in[k];
    return c->row->fn(x, c->row->n_in, NULL);
}

/* Rows (family/name prefixes) whose inputs cannot take leading dims, and why. */
static const struct { const char *prefix, *why; } unliftable[] = {
    {"conv/", "conv, pooling and upsampling take inputs of fixed rank ([N,] C, H, W)"},
    {"linalg/matmul_1d", "a 1-d operand of matmul is a vector, a lifted one a batch of rows"},
    {"linalg/matmul_3d_1d", "a 1-d operand of matmul is a vector, a lifted one a batch of rows"},
    {"linalg/bmm", "fixed rank (3-d operands)"}, {"linalg/mv", "fixed rank (matrix, vector)"},
    {"linalg/dot", "fixed rank (1-d operands)"}, {"linalg/outer", "fixed rank (1-d operands)"},
    {"linalg/einsum", "the subscripts fix each operand's rank"},
    {"index/diag", "fixed rank (1-d or 2-d)"}, {"index/trace", "fixed rank (2-d)"},
    {"index/meshgrid", "fixed rank (1-d inputs)"}, {"index/index_select", "the index is 1-d"}, {"index/index_add", "the index is 1-d"},
    {"index/index_put", "the index tensors' dims join the result's"},
    {"index/mask_assign", "the values are laid out by the mask's selection"},
    {"index/nonzero", "the result lists the coordinates of every dim"},
    {"index/stack", "the result gains a dim"}, {"index/one_hot", "the result gains a dim"},
    {"index/repeat", "the repeats are given per dim of the row's input"},
    {"index/tile", "the repeats are given per dim of the row's input"},
    {"view/unsqueeze", "the result gains a dim"}, {"view/view_as_real", "the result gains a dim"},
    {"view/expand", "the target shape is the row's"},
    {"solve/solve_vec", "a 1-d right-hand side is a vector, a lifted one a batch of rows"},
    {"solve/solve_batch_vec", "a 1-d right-hand side is a vector, a lifted one a batch of rows"},
    {"nn/linear", "the weight is 2-d"}, {"nn/embedding", "the weight is 2-d"},
    {"nn/batch_norm", "the running statistics are per channel (dim 1)"},
    {"nn/bn_module", "BatchNorm2d takes (N, C, H, W)"}, {"nn/group_norm", "the channels are dim 1"},
    {"nn/layer_norm", "the weight has the normalised shape"},
    {"nn/gaussian_nll_var_lastdim", "var's shape is given relative to the input's"},
    {"nn/cross_entropy", "dim 0 is the batch and dim 1 the class"}, {"nn/nll", "dim 0 is the batch and dim 1 the class"},
    {"nn/kl_div", "batchmean divides by the size of dim 0"},
    {"imaging_losses/tv_", "an image (nchan, npix, npix) or (npix, npix); TV_channel: 3-d only"},
    {"imaging_losses/tsv", "an image (nchan, npix, npix) or (npix, npix)"},
    {"imaging_losses/edge_clamp", "a cube (nchan, npix, npix) only"},
    {"imaging_losses/image_priors", "an image (nchan, npix, npix) or (npix, npix)"},
    {"dft/", "the cube is (nchan, npix, npix) or (npix, npix) and u, v are (nvis) or (nchan, nvis)"},
};

static const char *why_unliftable(const tcase *tc) {
    char key[128];
    snprintf(key, sizeof key, "%s/%s", tc->family, tc->row->name);
    for (size_t i = 0; i < sizeof unliftable / sizeof *unliftable; i++)
        if (!strncmp(key, unliftable[i].prefix, strlen(unliftable[i].prefix))) return unliftable[i].why;
    return NULL;
}

static void run_case(void **state) {
    tcase *tc = *state;
    const op_row *row = tc->row;
    const char *dn = ag_dtype_name(tc->dt);
    fx_file *f = op_family_file(tc->family);
    assert_non_null(f);
    int64_t live0 = ag_live_tensors();
    ag_clear_error();
    double rtol, atol;
    op_case_tolerances(tc, &rtol, &atol);

    ag_scope_begin();
    ag_tensor *x[8] = {0};
    int diff[8], nd = 0;
    for (int i = 0; i < row->n_in; i++) {
        x[i] = fx_get(f, "%s.%s.in%d", row->name, dn, i);
        if (!x[i]) fail_msg("%s: fixture entry %s.%s.in%d missing: re-run tests/gen_fixtures.py", tc->name, row->name, dn, i);
        if (fx_has(f, "%s.%s.grad%d", row->name, dn, i)) {
            ag_set_requires_grad(x[i], true);
            diff[nd++] = i;
        }
    }
    ag_tensor *expect = fx_get(f, "%s.%s.out", row->name, dn);
    assert_non_null(expect);

    /* 1. forward */
    ag_tensor *out = row->fn(x, row->n_in, NULL);
    if (!out) fail_msg("%s: forward failed: %s", tc->name, ag_last_error());
    assert_int_equal(ag_dtype_of(out), ag_dtype_of(expect));
    double r = fx_close_ratio(out, expect, rtol, atol);
    if (r > 1) fail_msg("%s: forward differs from PyTorch (error ratio %.3g at rtol %.1g)", tc->name, r, rtol);

    /* 2. vector-Jacobian product */
    ag_tensor *w = fx_get(f, "%s.%s.w", row->name, dn);
    if (w && nd) {
        ag_tensor *ins[8], *g[8];
        for (int k = 0; k < nd; k++) ins[k] = x[diff[k]];
        int rc = ag_grad(&out, 1, ins, nd, &w, false, g);
        if (rc) fail_msg("%s: backward failed: %s", tc->name, ag_last_error());
        for (int k = 0; k < nd; k++) {
            ag_tensor *ge = fx_get(f, "%s.%s.grad%d", row->name, dn, diff[k]);
            double rg = fx_close_ratio(g[k], ge, rtol * 10, atol * 10);
            if (rg > 1) fail_msg("%s: gradient of input %d differs from PyTorch (error ratio %.3g)", tc->name, diff[k], rg);
        }
    }

    /* 3. strided inputs */
    ag_tensor *xs[8];
    ag_no_grad_begin();
    for (int i = 0; i < row->n_in; i++) xs[i] = noncontig(x[i]);
    ag_tensor *outs = row->fn(xs, row->n_in, NULL);
    ag_no_grad_end();
    if (!outs) fail_msg("%s: forward on strided inputs failed: %s", tc->name, ag_last_error());
    r = fx_close_ratio(outs, expect, rtol, atol);
    if (r > 1) fail_msg("%s: forward on strided inputs differs (error ratio %.3g)", tc->name, r);

    /* 3b. every row at the highest rank: the inputs get leading dims up to 8 dims in all (the
     * elementwise rows: sizes 2, 1, 2, ... by stride-0 expansion, and every copy of the result
     * must be the reference; other rows: size 1, wrappers shifting their dims by D()) */
    int maxnd = 0;
    for (int i = 0; i < row->n_in; i++) maxnd = ag_ndim(x[i]) > maxnd ? ag_ndim(x[i]) : maxnd;
    int lead = AG_MAX_DIMS - maxnd;
    bool elementwise = !strcmp(tc->family, "elementwise");
    if (lead > 0 && !why_unliftable(tc)) {
        ag_tensor *x8[8];
        ag_no_grad_begin();
        for (int i = 0; i < row->n_in; i++) {
            int ni = ag_ndim(x[i]);
            int64_t s1[AG_MAX_DIMS], s8[AG_MAX_DIMS];
            for (int d = 0; d < AG_MAX_DIMS; d++) s1[d] = s8[d] = 1;
            for (int d = 0; d < ni; d++) s1[lead + maxnd - ni + d] = s8[lead + maxnd - ni + d] = ag_shape(x[i])[d];
            for (int d = 0; d < lead; d++) s8[d] = elementwise && d % 2 == 0 ? 2 : 1;
            x8[i] = ni ? ag_expand(ag_reshape(x[i], s1, lead + maxnd), s8, lead + maxnd) : x[i];
        }
        op_lead = lead;
        ag_tensor *o8 = row->fn(x8, row->n_in, NULL);
        op_lead = 0;
        ag_no_grad_end();
        if (!o8) fail_msg("%s: forward at 8 dims failed: %s", tc->name, ag_last_error());
        int extra = ag_ndim(o8) - ag_ndim(expect);
        if (extra == lead) {
            for (int copy = 0; copy < (elementwise ? 2 : 1); copy++) {
                ag_tensor *o = o8;
                for (int d = 0; d < lead; d++) o = ag_select(o, 0, elementwise && d % 2 == 0 ? copy : 0);
                r = fx_close_ratio(o, expect, rtol, atol);
                if (r > 1) fail_msg("%s: forward at 8 dims differs (copy %d, error ratio %.3g)", tc->name, copy, r);
            }
        } else if (extra == 0 && !elementwise) { /* a full reduction */
            r = fx_close_ratio(o8, expect, rtol, atol);
            if (r > 1) fail_msg("%s: forward at 8 dims differs (error ratio %.3g)", tc->name, r);
        } else if (!(elementwise && extra == 0)) { /* allclose's bool is 0-d at any rank */
            fail_msg("%s: forward at 8 dims has %d dims, expected %d", tc->name, ag_ndim(o8), ag_ndim(expect) + lead);
        }
    }

    /* 4. NULL inputs: with no error pending, the NULL is the caller's bug and must be reported
     * naming the op; after an earlier failure it is that failure's result, which must stay the
     * error reported (one check per expression) */
    for (int i = 0; i < row->n_in; i++) {
        if (row->optional >> i & 1) continue;
        ag_tensor *xn[8];
        memcpy(xn, x, sizeof xn);
        xn[i] = NULL;
        ag_tensor *o = row->fn(xn, row->n_in, NULL);
        if (o) fail_msg("%s: NULL input %d did not give NULL", tc->name, i);
        const char *msg = ag_last_error();
        if (ag_error_code() != AG_ERR_INVALID || strncmp(msg, "ag_", 3) || !strstr(msg, ": argument ") ||
            !strstr(msg, "is NULL"))
            fail_msg("%s: NULL input %d without a pending error: expected \"ag_<op>: argument <i> (<name>) is NULL\", "
                     "given code %d, \"%s\"", tc->name, i, (int)ag_error_code(), msg);
        ag_clear_error();
        assert_null(ag_scalar(0, (ag_dtype)-1)); /* an earlier failure */
        char before[512];
        snprintf(before, sizeof before, "%s", ag_last_error());
        o = row->fn(xn, row->n_in, NULL);
        if (o) fail_msg("%s: NULL input %d after a failure did not give NULL", tc->name, i);
        if (ag_error_code() != AG_ERR_DTYPE || strcmp(ag_last_error(), before))
            fail_msg("%s: NULL input %d replaced the pending error with: %s", tc->name, i, ag_last_error());
        ag_clear_error();
    }

    /* 5. gradcheck */
    if ((tc->dt == AG_F64 || tc->dt == AG_C128) && nd && !row->no_gradcheck) {
        gc_ctx c = {row, x, diff, nd};
        ag_tensor *ins[8];
        for (int k = 0; k < nd; k++) ins[k] = x[diff[k]];
        ag_gradcheck_report rep;
        int ok = ag_gradcheck(gc_fn, &c, ins, nd, &(ag_gradcheck_opts){1e-6, 1e-6, 1e-4, false}, &rep);
        if (ok != 1) fail_msg("%s: gradcheck failed (%d): %s %s", tc->name, ok, rep.message, ag_last_error());
        /* 5b. second derivatives through the backward rules (create_graph) */
        if (!row->no_gradgradcheck) {
            ok = ag_gradgradcheck(gc_fn, &c, ins, nd, &(ag_gradcheck_opts){1e-6, 1e-5, 1e-3, false}, &rep);
            if (ok != 1) fail_msg("%s: gradgradcheck failed (%d): %s %s", tc->name, ok, rep.message, ag_last_error());
        }
    }
    ag_scope_end();

    /* 6. nothing leaked */
    assert_int_equal(ag_live_tensors(), live0);
    assert_false(ag_failed());
}

/* Runs after every row (cmocka runs a group in order, in this thread). */
static void registry_coverage(void **state) {
    (void)state;
    int missing = 0;
    for (int i = 0; i < ag_op_count(); i++) {
        const ag_opdef *d = ag_op_at(i);
        int64_t rec = 0, gc = 0;
        assert_int_equal(ag_op_counts(i, &rec, &gc), 0);
        if (!d->diff) continue;
        /* recorded only where the op table cannot reach yet, said in the output */
        const char *why = NULL;
        if (!strcmp(d->name, "ag_to") && !ag_device_available((ag_device){AG_DEV_TEST, 0}))
            why = "needs a second device kind (build with -Dtest_device=true)";
        if (why && rec == 0) { print_message("registry: %s not exercised: %s\n", d->name, why); continue; }
        if (rec == 0) print_message("registry: %s has no op-table row\n", d->name), missing++;
        else if (gc == 0) print_message("registry: %s has no gradcheck in the op table\n", d->name), missing++;
    }
    if (missing) fail_msg("%d registered differentiable ops are not covered by the op table", missing);
}

int main(void) {
    static tcase cases[4096];
    static struct CMUnitTest tests[4097];
    int n = op_cases(cases, tests, 4096, run_case);
    tests[n++] = (struct CMUnitTest){"registry_coverage", registry_coverage, NULL, NULL, NULL};
    ag_op_counting(true);
    const char *filter = getenv("AG_OP_TABLE_FILTER");
    if (filter && *filter) cmocka_set_test_filter(filter);
    int rc = _cmocka_run_group_tests("op_table", tests, (size_t)n, NULL, NULL);
    op_close_family_files();
    return rc;
}
