/* tests/test_solve.c — solvers on bad inputs (clear errors, NULL results, no leaks), det/slogdet
 * of singular matrices, and conjugate gradient (ag_cg) on a dense SPD operator, a Hermitian
 * complex one and a convolution-like one (a x + Laplacian x), with and without a preconditioner,
 * against ag_solve; max_iter, a non-PD operator and a misbehaving callback. */
#include <complex.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <astrograd.h>

#include "alloc_probe.h"

static int64_t live0;

static int setup(void **state) {
    (void)state;
    ag_clear_error();
    live0 = ag_live_tensors();
    return 0;
}

static int teardown(void **state) {
    (void)state;
    assert_int_equal(ag_live_tensors(), live0);
    ag_clear_error();
    return 0;
}

#define ASSERT_ERR(r, code, substr) do { \
        ag_tensor *r_ = (r); \
        assert_null(r_); \
        assert_int_equal(ag_error_code(), (code)); \
        if (!strstr(ag_last_error(), (substr))) fail_msg("message \"%s\" lacks \"%s\"", ag_last_error(), (substr)); \
        ag_clear_error(); \
    } while (0)

static ag_tensor *mat(const double *v, int64_t r, int64_t c) { return ag_from_data(v, (int64_t[]){r, c}, 2, AG_F64); }

/* max |a - b| over elements (complex: modulus of the difference) */
static double maxdiff(ag_tensor *a, ag_tensor *b) {
    assert_int_equal(ag_numel(a), ag_numel(b));
    int64_t n = ag_numel(a);
    double *x = calloc((size_t)(2 * n + 1), sizeof *x), *y = calloc((size_t)(2 * n + 1), sizeof *y);
    assert_int_equal(ag_copy_to_buffer(a, x, AG_C128), 0);
    assert_int_equal(ag_copy_to_buffer(b, y, AG_C128), 0);
    double m = 0;
    for (int64_t i = 0; i < n; i++) m = fmax(m, hypot(x[2 * i] - y[2 * i], x[2 * i + 1] - y[2 * i + 1]));
    free(x);
    free(y);
    return m;
}

/* ---- errors ------------------------------------------------------------------------ */

static void test_solve_singular(void **state) {
    (void)state;
    ag_scope_begin();
    ag_tensor *A = mat((double[]){1, 2, 2, 4}, 2, 2), *B = mat((double[]){1, 1}, 2, 1);
    ASSERT_ERR(ag_solve(A, B), AG_ERR_NUMERIC, "ag_solve: matrix is singular (U[1,1] = 0 in the LU factorisation)");
    ASSERT_ERR(ag_inverse(A), AG_ERR_NUMERIC, "ag_inverse: matrix is singular (U[1,1] = 0");
    /* the second matrix of a batch */
    ag_tensor *Ab = ag_from_data((double[]){2, 0, 0, 2, 1, 2, 2, 4, 1, 0, 0, 1}, (int64_t[]){3, 2, 2}, 3, AG_F64);
    ASSERT_ERR(ag_solve(Ab, ag_ones((int64_t[]){3, 2}, 2, AG_F64)), AG_ERR_NUMERIC,
               "ag_solve: matrix [1] of the batch is singular (U[1,1] = 0");
    /* 3x3 with a zero pivot at the end: rank 2 */
    ag_tensor *A3 = mat((double[]){1, 2, 3, 4, 5, 6, 7, 8, 9}, 3, 3);
    ASSERT_ERR(ag_solve(A3, ag_ones((int64_t[]){3}, 1, AG_F64)), AG_ERR_NUMERIC, "U[2,2] = 0");
    ag_scope_end();
}

static void test_cholesky_not_pd(void **state) {
    (void)state;
    ag_scope_begin();
    ag_tensor *A = mat((double[]){4, 1, 0, 1, 3, 0, 0, 0, -1}, 3, 3);
    ASSERT_ERR(ag_cholesky(A, false), AG_ERR_NUMERIC, "ag_cholesky: matrix is not positive definite (leading minor 3)");
    ASSERT_ERR(ag_cholesky(A, true), AG_ERR_NUMERIC, "(leading minor 3)");
    ag_tensor *Ab = ag_from_data((double[]){1, 0, 0, 1, 1, 2, 2, 1}, (int64_t[]){2, 2, 2}, 3, AG_F64);
    ASSERT_ERR(ag_cholesky(Ab, false), AG_ERR_NUMERIC, "matrix [1] of the batch is not positive definite (leading minor 2)");
    ag_scope_end();
}

static void test_triangular_singular(void **state) {
    (void)state;
    ag_scope_begin();
    ag_tensor *A = mat((double[]){1, 0, 3, 0}, 2, 2), *B = mat((double[]){1, 2}, 2, 1);
    ASSERT_ERR(ag_solve_triangular(A, B, false, true, false), AG_ERR_NUMERIC,
               "ag_solve_triangular: triangular matrix is singular (A[1,1] = 0 on the diagonal)");
    /* unitriangular ignores the diagonal */
    ag_tensor *X = ag_solve_triangular(A, B, false, true, true);
    assert_non_null(X);
    assert_true(maxdiff(X, mat((double[]){1, -1}, 2, 1)) < 1e-15);
    ag_scope_end();
}

static void test_bad_shapes_and_dtypes(void **state) {
    (void)state;
    ag_scope_begin();
    ag_tensor *A23 = ag_ones((int64_t[]){2, 3}, 2, AG_F64), *B2 = ag_ones((int64_t[]){2, 1}, 2, AG_F64);
    ASSERT_ERR(ag_solve(A23, B2), AG_ERR_SHAPE, "ag_solve: expected A to be a square matrix or a batch of them [..., n, n], given [2,3]");
    ASSERT_ERR(ag_cholesky(A23, false), AG_ERR_SHAPE, "ag_cholesky: expected A to be a square matrix");
    ASSERT_ERR(ag_inverse(A23), AG_ERR_SHAPE, "square");
    ASSERT_ERR(ag_det(A23), AG_ERR_SHAPE, "square");
    ASSERT_ERR(ag_logdet(ag_ones((int64_t[]){3}, 1, AG_F64)), AG_ERR_SHAPE, "square");
    ASSERT_ERR(ag_solve_triangular(A23, B2, false, true, false), AG_ERR_SHAPE, "square");

    ag_tensor *A = ag_add(ag_eye(3, 3, AG_F64), ag_zeros((int64_t[]){2, 3, 3}, 3, AG_F64));
    ASSERT_ERR(ag_solve(A, ag_ones((int64_t[]){4, 3, 2}, 3, AG_F64)), AG_ERR_SHAPE, "ag_solve");
    ASSERT_ERR(ag_solve(A, ag_ones((int64_t[]){2, 4, 2}, 3, AG_F64)), AG_ERR_SHAPE, "ag_solve: B must have 3 rows");
    ASSERT_ERR(ag_solve(A, ag_scalar(1, AG_F64)), AG_ERR_SHAPE, "at least 1 dim");
    ASSERT_ERR(ag_solve_triangular(A, ag_ones((int64_t[]){4, 3, 2}, 3, AG_F64), true, true, false), AG_ERR_SHAPE,
               "ag_solve_triangular");
    ASSERT_ERR(ag_solve_triangular(A, ag_ones((int64_t[]){2, 3, 2}, 3, AG_F64), true, false, false), AG_ERR_SHAPE,
               "does not fit");
    ASSERT_ERR(ag_solve_triangular(A, ag_ones((int64_t[]){3}, 1, AG_F64), true, true, false), AG_ERR_SHAPE,
               "B must be a matrix");

    ASSERT_ERR(ag_solve(A, ag_ones((int64_t[]){2, 3, 2}, 3, AG_F32)), AG_ERR_DTYPE,
               "ag_solve: A and B must have the same dtype, given f64 and f32");
    ASSERT_ERR(ag_solve_triangular(A, ag_ones((int64_t[]){2, 3, 2}, 3, AG_C128), true, true, false), AG_ERR_DTYPE,
               "same dtype");
    ag_tensor *Ai = ag_ones((int64_t[]){3, 3}, 2, AG_I64);
    ASSERT_ERR(ag_solve(Ai, Ai), AG_ERR_DTYPE, "ag_solve: expected A of dtype f32, f64, c64 or c128, given i64");
    ASSERT_ERR(ag_cholesky(Ai, false), AG_ERR_DTYPE, "given i64");
    ASSERT_ERR(ag_det(Ai), AG_ERR_DTYPE, "given i64");
    ASSERT_ERR(ag_slogdet(ag_ones((int64_t[]){2, 2}, 2, AG_BOOL), NULL), AG_ERR_DTYPE, "given bool");
    /* a NULL input with no error pending is reported, naming the op and the argument */
    ASSERT_ERR(ag_solve(NULL, A), AG_ERR_INVALID, "ag_solve: argument 1 (A) is NULL");
    ASSERT_ERR(ag_cholesky(NULL, false), AG_ERR_INVALID, "ag_cholesky: argument 1 (A) is NULL");
    ASSERT_ERR(ag_cg(NULL, NULL, NULL, NULL, NULL, NULL), AG_ERR_INVALID, "ag_cg: argument 3 (b) is NULL");
    ag_scope_end();
}

static void test_det_singular(void **state) {
    (void)state;
    ag_scope_begin();
    ag_tensor *A = mat((double[]){1, 2, 3, 4, 5, 6, 7, 8, 9}, 3, 3);
    assert_true(fabs(ag_item(ag_det(A))) < 1e-12);
    ag_tensor *S = mat((double[]){1, 2, 2, 4}, 2, 2);
    assert_true(ag_item(ag_det(S)) == 0);
    assert_true(isinf(ag_item(ag_logdet(S))) && ag_item(ag_logdet(S)) < 0);
    ag_tensor *sign = NULL, *la = ag_slogdet(S, &sign);
    assert_true(isinf(ag_item(la)));
    assert_true(ag_item(sign) == 0);
    ag_release(sign); /* releasing a scoped result early is allowed */
    /* negative determinant: logdet NaN (torch.logdet), slogdet sign -1 */
    ag_tensor *N = mat((double[]){0, 1, 1, 0}, 2, 2);
    assert_true(isnan(ag_item(ag_logdet(N))));
    la = ag_slogdet(N, &sign);
    assert_true(ag_item(sign) == -1 && fabs(ag_item(la)) < 1e-15);
    assert_true(fabs(ag_item(ag_det(N)) + 1) < 1e-15);
    assert_false(ag_failed());
    ag_scope_end();
}

/* gradients of solve reach A and B and free the graph */
static void test_solve_backward_no_leak(void **state) {
    (void)state;
    ag_manual_seed(3);
    ag_scope_begin();
    ag_tensor *A = ag_keep(ag_add(ag_randn((int64_t[]){3, 3}, 2, AG_F64), ag_mul_s(ag_eye(3, 3, AG_F64), 4)));
    ag_scope_end();
    ag_tensor *B = ag_randn((int64_t[]){3, 2}, 2, AG_F64);
    ag_set_requires_grad(A, true);
    ag_set_requires_grad(B, true);
    ag_scope_begin();
    ag_tensor *loss = ag_sum(ag_square(ag_solve(A, B)), AG_ALL_DIMS, false);
    loss = ag_add(loss, ag_logdet(ag_matmul(A, ag_transpose(A, 0, 1))));
    assert_int_equal(ag_backward(loss), 0);
    ag_scope_end();
    assert_non_null(ag_grad_of(A));
    assert_non_null(ag_grad_of(B));
    ag_release(A);
    ag_release(B);
}

/* ---- conjugate gradient -------------------------------------------------------------- */

static ag_tensor *apply_mat(ag_tensor *x, void *ud) { return ag_mv((ag_tensor *)ud, x); }

static ag_tensor *random_spd(int64_t n, ag_dtype dt) {
    ag_scope_begin();
    ag_tensor *M = ag_randn((int64_t[]){n, n}, 2, dt);
    ag_tensor *A = ag_add(ag_matmul(M, ag_conj(ag_transpose(M, 0, 1))), ag_mul_s(ag_eye(n, n, dt), 0.5));
    ag_keep(A);
    ag_scope_end();
    return A;
}

static void check_cg_matrix(ag_dtype dt) {
    ag_manual_seed(11);
    ag_scope_begin();
    int64_t n = 30;
    ag_tensor *A = random_spd(n, dt), *b = ag_randn((int64_t[]){n}, 1, dt);
    ag_cg_report rep;
    ag_tensor *x = ag_cg(apply_mat, A, b, NULL, &(ag_cg_opts){.rtol = 1e-12, .max_iter = 500}, &rep);
    if (!x) fail_msg("ag_cg failed: %s", ag_last_error());
    assert_true(rep.converged);
    assert_true(rep.iterations > 0 && rep.iterations <= 500);
    assert_true(rep.residual <= 1e-12);
    ag_tensor *xs = ag_solve(A, b);
    double d = maxdiff(x, xs) / sqrt(ag_item(ag_sum(ag_abs(ag_mul(xs, ag_conj(xs))), AG_ALL_DIMS, false)));
    if (d > 1e-9) fail_msg("cg differs from solve by %g (relative)", d);
    assert_false(ag_requires_grad(x));
    /* warm start from the solution: converged at once */
    ag_tensor *x2 = ag_cg(apply_mat, A, b, xs, &(ag_cg_opts){.rtol = 1e-8}, &rep);
    assert_non_null(x2);
    assert_true(rep.converged);
    assert_int_equal(rep.iterations, 0);
    ag_scope_end();
}

static void test_cg_spd_matrix(void **state) { (void)state; check_cg_matrix(AG_F64); }
static void test_cg_hermitian_c128(void **state) { (void)state; check_cg_matrix(AG_C128); }

/* the scope machinery frees every iteration's temporaries: the live count does not grow */
static int64_t live_peak;
static ag_tensor *apply_mat_watch(ag_tensor *x, void *ud) {
    int64_t l = ag_live_tensors();
    if (l > live_peak) live_peak = l;
    return ag_mv((ag_tensor *)ud, x);
}

static void test_cg_frees_temporaries(void **state) {
    (void)state;
    ag_manual_seed(5);
    ag_tensor *A = random_spd(40, AG_F64), *b = ag_randn((int64_t[]){40}, 1, AG_F64);
    live_peak = 0;
    ag_cg_report rep;
    ag_tensor *x = ag_cg(apply_mat_watch, A, b, NULL, &(ag_cg_opts){.rtol = 1e-10, .max_iter = 5}, &rep);
    int64_t peak5 = live_peak;
    ag_release(x);
    live_peak = 0;
    x = ag_cg(apply_mat_watch, A, b, NULL, &(ag_cg_opts){.rtol = 1e-10, .max_iter = 60}, &rep);
    assert_true(rep.iterations > 5);
    assert_int_equal(live_peak, peak5);
    ag_release(x);
    ag_release(A);
    ag_release(b);
}

/* x -> a x + (-Laplacian x) on an H x W grid with zero (Dirichlet) boundaries: SPD, the shape of
 * a convolution system (PyTorchDIA) */
typedef struct conv_op { double a; int64_t h, w; } conv_op;

static ag_tensor *apply_conv(ag_tensor *x, void *ud) {
    conv_op *c = ud;
    int64_t h = c->h, w = c->w;
    ag_tensor *P = ag_zeros((int64_t[]){h + 2, w + 2}, 2, ag_dtype_of(x));
    ag_copy_(ag_slice(ag_slice(P, 0, 1, h + 1, 1), 1, 1, w + 1, 1), x);
    ag_tensor *up = ag_slice(ag_slice(P, 0, 0, h, 1), 1, 1, w + 1, 1);
    ag_tensor *down = ag_slice(ag_slice(P, 0, 2, h + 2, 1), 1, 1, w + 1, 1);
    ag_tensor *left = ag_slice(ag_slice(P, 0, 1, h + 1, 1), 1, 0, w, 1);
    ag_tensor *right = ag_slice(ag_slice(P, 0, 1, h + 1, 1), 1, 2, w + 2, 1);
    ag_tensor *nb = ag_add(ag_add(up, down), ag_add(left, right));
    return ag_sub(ag_mul_s(x, c->a + 4.0), nb);
}

static ag_tensor *jacobi(ag_tensor *r, void *ud) {
    conv_op *c = ud;
    return ag_mul_s(r, 1.0 / (c->a + 4.0));
}

static void test_cg_conv_operator(void **state) {
    (void)state;
    ag_manual_seed(7);
    ag_scope_begin();
    conv_op c = {0.05, 6, 7};
    int64_t N = c.h * c.w;
    ag_tensor *b = ag_randn((int64_t[]){c.h, c.w}, 2, AG_F64);
    /* dense matrix of the operator, column by column */
    ag_tensor *M = ag_zeros((int64_t[]){N, N}, 2, AG_F64);
    for (int64_t i = 0; i < N; i++) {
        ag_tensor *e = ag_zeros((int64_t[]){N}, 1, AG_F64);
        ag_fill_(ag_narrow(e, 0, i, 1), 1.0);
        ag_copy_(ag_select(M, 1, i), ag_flatten(apply_conv(ag_reshape(e, (int64_t[]){c.h, c.w}, 2), &c)));
    }
    ag_tensor *xs = ag_reshape(ag_solve(M, ag_flatten(b)), (int64_t[]){c.h, c.w}, 2);
    ag_cg_report rep, rep_pc;
    ag_tensor *x = ag_cg(apply_conv, &c, b, NULL, &(ag_cg_opts){.rtol = 1e-11}, &rep);
    if (!x) fail_msg("ag_cg failed: %s", ag_last_error());
    assert_true(rep.converged);
    if (maxdiff(x, xs) > 1e-8) fail_msg("cg (conv operator) differs from solve by %g", maxdiff(x, xs));
    ag_tensor *xp = ag_cg(apply_conv, &c, b, NULL, &(ag_cg_opts){.rtol = 1e-11, .precond = jacobi, .precond_data = &c}, &rep_pc);
    assert_non_null(xp);
    assert_true(rep_pc.converged);
    assert_true(rep_pc.iterations <= rep.iterations + 1);
    assert_true(maxdiff(xp, xs) < 1e-8);
    assert_non_null(strstr(rep.message, "converged in"));
    /* f32 works too */
    ag_tensor *x32 = ag_cg(apply_conv, &c, ag_to_dtype(b, AG_F32), NULL, &(ag_cg_opts){.rtol = 1e-5}, &rep);
    assert_non_null(x32);
    assert_int_equal(ag_dtype_of(x32), AG_F32);
    assert_true(rep.converged);
    assert_true(maxdiff(x32, xs) < 1e-3);
    ag_scope_end();
}

static void test_cg_max_iter(void **state) {
    (void)state;
    ag_manual_seed(13);
    ag_scope_begin();
    conv_op c = {0.01, 10, 10};
    ag_tensor *b = ag_randn((int64_t[]){10, 10}, 2, AG_F64);
    ag_cg_report rep;
    ag_tensor *x = ag_cg(apply_conv, &c, b, NULL, &(ag_cg_opts){.rtol = 1e-12, .max_iter = 3}, &rep);
    assert_non_null(x); /* the last iterate comes back */
    assert_false(rep.converged);
    assert_int_equal(rep.iterations, 3);
    assert_true(rep.residual > 1e-12 && rep.residual < 1);
    if (!strstr(rep.message, "not converged: max_iter = 3 reached")) fail_msg("report: %s", rep.message);
    assert_false(ag_failed()); /* not an error */
    ag_scope_end();
}

static ag_tensor *apply_neg(ag_tensor *x, void *ud) { (void)ud; return ag_neg(x); }
static ag_tensor *apply_bad_shape(ag_tensor *x, void *ud) { (void)ud; return ag_sum(x, AG_ALL_DIMS, false); }
static ag_tensor *apply_null(ag_tensor *x, void *ud) { (void)x; (void)ud; return NULL; }

static void test_cg_errors(void **state) {
    (void)state;
    ag_scope_begin();
    ag_tensor *b = ag_ones((int64_t[]){5}, 1, AG_F64);
    ag_cg_report rep;
    ASSERT_ERR(ag_cg(apply_neg, NULL, b, NULL, NULL, &rep), AG_ERR_NUMERIC, "ag_cg: the operator is not positive definite");
    assert_false(rep.converged);
    assert_non_null(strstr(rep.message, "failed: ag_cg: the operator is not positive definite"));
    ASSERT_ERR(ag_cg(apply_bad_shape, NULL, b, NULL, NULL, &rep), AG_ERR_SHAPE, "ag_cg: apply returned [] f64 for x of [5] f64");
    ASSERT_ERR(ag_cg(apply_null, NULL, b, NULL, NULL, NULL), AG_ERR_INVALID, "ag_cg: apply returned NULL at iteration 1");
    ASSERT_ERR(ag_cg(NULL, NULL, b, NULL, NULL, NULL), AG_ERR_INVALID, "ag_cg: apply is NULL");
    ASSERT_ERR(ag_cg(apply_neg, NULL, b, ag_ones((int64_t[]){4}, 1, AG_F64), NULL, NULL), AG_ERR_SHAPE,
               "ag_cg: x0 ([4] f64) must have b's shape and dtype ([5] f64)");
    ASSERT_ERR(ag_cg(apply_neg, NULL, ag_ones((int64_t[]){5}, 1, AG_I64), NULL, NULL, NULL), AG_ERR_DTYPE,
               "ag_cg: expected b of dtype f32, f64, c64 or c128, given i64");
    /* b = 0: x = 0 at once */
    ag_tensor *x = ag_cg(apply_neg, NULL, ag_zeros((int64_t[]){5}, 1, AG_F64), NULL, NULL, &rep);
    assert_non_null(x);
    assert_true(rep.converged);
    assert_int_equal(rep.iterations, 0);
    ag_scope_end();
}

/* Warm gemm (packed operands) and LAPACK kernels allocate nothing: no malloc in the library and
 * no fresh block of the caching allocator (each call copies every matrix to a workspace). */
static void test_kernels_no_malloc_when_warm(void **state) {
    (void)state;
    const ag_kernels *k = ag_cpu_kernel_table();
    enum { B = 3, M = 40, KK = 30, N = 20, NN = 48, R = 3 };
    double complex *a = malloc(sizeof *a * B * M * 2 * KK), *b = malloc(sizeof *b * B * KK * N);
    double complex *c = malloc(sizeof *c * B * M * N);
    double *s = malloc(sizeof *s * 2 * NN * NN), *lu = malloc(sizeof *lu * 2 * NN * NN);
    double *rhs = malloc(sizeof *rhs * 2 * NN * R), *x = malloc(sizeof *x * 2 * NN * R);
    int64_t *piv = malloc(sizeof *piv * 2 * NN), info[2];
    assert_true(a && b && c && s && lu && rhs && x && piv);
    for (int64_t i = 0; i < B * M * 2 * KK; i++) a[i] = sin(0.3 * (double)i) + I * cos(0.7 * (double)i);
    for (int64_t i = 0; i < B * KK * N; i++) b[i] = cos(0.2 * (double)i) - I * sin(0.1 * (double)i);
    /* s: two symmetric positive definite matrices */
    for (int m = 0; m < 2; m++)
        for (int i = 0; i < NN; i++)
            for (int j = 0; j < NN; j++) s[(m * NN + i) * NN + j] = (i == j ? NN + m : 0) + 1.0 / (1 + i + j);
    for (int64_t i = 0; i < 2 * NN * R; i++) rhs[i] = sin((double)i);
    /* a: every other column (no unit stride: packed), conjugated */
    ag_kview va = ap_view(a, AG_C128, 3, (const int64_t[]){B, M, KK});
    va.strides[0] = M * 2 * KK;
    va.strides[1] = 2 * KK;
    va.strides[2] = 2;
    ag_kview vb = ap_view(b, AG_C128, 3, (const int64_t[]){B, KK, N}), vc = ap_view(c, AG_C128, 3, (const int64_t[]){B, M, N});
    ag_kview vs = ap_view(s, AG_F64, 3, (const int64_t[]){2, NN, NN}), vlu = ap_view(lu, AG_F64, 3, (const int64_t[]){2, NN, NN});
    ag_kview vr = ap_view(rhs, AG_F64, 3, (const int64_t[]){2, NN, R}), vx = ap_view(x, AG_F64, 3, (const int64_t[]){2, NN, R});
    ag_kview vp = ap_view(piv, AG_I64, 2, (const int64_t[]){2, NN}), vi = ap_view(info, AG_I64, 1, (const int64_t[]){2});
    for (int round = 0; round < 4; round++) {
        uint64_t f0 = ap_fresh();
        if (round) ap_begin();
        assert_int_equal(k->gemm(&vc, &va, &vb, true, true), 0);
        assert_int_equal(k->lu_factor(&vlu, &vp, &vi, &vs), 0);
        assert_int_equal(k->lu_solve(&vx, &vlu, &vp, &vr, false), 0);
        assert_int_equal(k->lu_solve(&vx, &vlu, &vp, &vr, true), 0);
        assert_int_equal(k->cholesky(&vlu, &vi, &vs, false), 0);
        assert_int_equal(k->triangular_solve(&vx, &vi, &vlu, &vr, false, false), 0);
        if (round) {
            long n = ap_end();
            if (n) fail_msg("round %d: the library made %ld heap allocations", round, n);
            assert_int_equal(ap_fresh(), f0);
        }
    }
    /* the packed, conjugated product is right: c[1, 2, 3] */
    double complex want = 0;
    for (int q = 0; q < KK; q++) want += conj(a[(1 * M + 2) * 2 * KK + 2 * q]) * conj(b[(1 * KK + q) * N + 3]);
    assert_true(cabs(c[(1 * M + 2) * N + 3] - want) < 1e-12);
    assert_true(info[0] == 0 && info[1] == 0);
    free(a);
    free(b);
    free(c);
    free(s);
    free(lu);
    free(rhs);
    free(x);
    free(piv);
}


/* ---- decompositions and einsum: reconstruction, and bad inputs ---------------------- */

static ag_tensor *mTt(ag_tensor *t) { return ag_transpose(t, -1, -2); }

static double md(ag_tensor *a, ag_tensor *b) { return maxdiff(ag_to_dtype(a, AG_F64), ag_to_dtype(b, AG_F64)); }

static void test_decomp_reconstruct(void **state) {
    (void)state;
    ag_scope_begin();
    ag_manual_seed(7);
    for (int dti = 0; dti < 2; dti++) {
        ag_dtype dt = dti ? AG_F64 : AG_F32;
        double tol = dti ? 1e-12 : 1e-4;
        /* [2, 5, 3] read through a transposed (strided) view of [2, 3, 5] */
        ag_tensor *A = mTt(ag_randn((int64_t[]){2, 3, 5}, 3, dt));
        ag_tensor *Q, *R, *U, *S, *Vh, *L, *V;
        assert_int_equal(ag_linalg_qr(A, &Q, &R), 0);
        assert_true(md(ag_matmul(Q, R), A) < tol * 10);
        ag_tensor *QtQ = ag_matmul(mTt(Q), Q);
        assert_true(md(QtQ, ag_add(ag_zeros_like(QtQ), ag_eye_on(3, 3, dt, ag_device_of(A)))) < tol * 10);
        assert_true(md(ag_tril(R, -1), ag_zeros_like(R)) == 0);
        assert_int_equal(ag_linalg_svd(A, false, &U, &S, &Vh), 0);
        assert_true(md(ag_matmul(ag_mul(U, ag_unsqueeze(S, -2)), Vh), A) < tol * 10);
        assert_int_equal(ag_size(U, -1), 3);
        assert_int_equal(ag_size(Vh, -2), 3);
        ag_tensor *M = ag_randn((int64_t[]){3, 4, 4}, 3, dt);
        ag_tensor *Sym = ag_add(M, mTt(M));
        assert_int_equal(ag_linalg_eigh(Sym, &L, &V), 0);
        assert_true(md(ag_matmul(ag_mul(V, ag_unsqueeze(L, -2)), mTt(V)), Sym) < tol * 10);
        /* ascending */
        ag_tensor *dl = ag_sub(ag_slice(L, -1, 1, 4, 1), ag_slice(L, -1, 0, 3, 1));
        assert_true(ag_item(ag_amin(dl, AG_ALL_DIMS, false)) >= 0);
        /* only the lower triangle is read */
        ag_tensor *L2, *V2;
        assert_int_equal(ag_linalg_eigh(ag_tril(Sym, 0), &L2, &V2), 0);
        assert_true(md(L2, L) < tol * 10);
        /* lstsq of a square system is the solve */
        ag_tensor *Sq = ag_add(ag_randn((int64_t[]){4, 4}, 2, dt), ag_mul_s(ag_eye_on(4, 4, dt, ag_device_of(A)), 4));
        ag_tensor *B = ag_randn((int64_t[]){4, 2}, 2, dt);
        assert_true(md(ag_linalg_lstsq(Sq, B), ag_solve(Sq, B)) < tol * 100);
    }
    ag_scope_end();
}

#define ASSERT_RC(call, code, substr) do { \
        assert_int_equal((call), (code)); \
        assert_int_equal(ag_error_code(), (code)); \
        if (!strstr(ag_last_error(), (substr))) fail_msg("message \"%s\" lacks \"%s\"", ag_last_error(), (substr)); \
        ag_clear_error(); \
    } while (0)

static void test_decomp_errors(void **state) {
    (void)state;
    ag_tensor *Q = (ag_tensor *)1, *R = (ag_tensor *)1, *U, *S, *Vh;
    ag_tensor *v = ag_zeros((int64_t[]){3}, 1, AG_F64);
    ag_tensor *w = ag_randn((int64_t[]){2, 4}, 2, AG_F64);
    ag_tensor *i = ag_zeros((int64_t[]){3, 3}, 2, AG_I64);
    ASSERT_RC(ag_linalg_qr(i, &Q, &R), AG_ERR_DTYPE, "ag_linalg_qr: expected A of dtype f32, f64, c64 or c128, given i64");
    assert_null(Q);
    assert_null(R);
    ASSERT_RC(ag_linalg_qr(v, &Q, &R), AG_ERR_SHAPE, "ag_linalg_qr: expected A to be a matrix or a batch of them [..., m, n], given [3]");
    ASSERT_RC(ag_linalg_qr(w, NULL, &R), AG_ERR_INVALID, "ag_linalg_qr: argument 2 (Q) is NULL");
    ag_set_requires_grad(w, true);
    ASSERT_RC(ag_linalg_qr(w, &Q, &R), AG_ERR_NOTIMPL, "ag_linalg_qr: the gradient needs m >= n (A is [2,4])");
    ag_set_requires_grad(w, false);
    ASSERT_RC(ag_linalg_eigh(w, &Q, &R), AG_ERR_SHAPE, "ag_linalg_eigh: expected A to be a square matrix");
    ASSERT_RC(ag_linalg_eigh(i, &Q, &R), AG_ERR_DTYPE, "ag_linalg_eigh: expected A of dtype f32, f64, c64 or c128");
    ASSERT_RC(ag_linalg_svd(w, true, &U, &S, &Vh), AG_ERR_NOTIMPL, "ag_linalg_svd: full_matrices = true is not supported");
    ASSERT_RC(ag_linalg_svd(i, false, &U, &S, &Vh), AG_ERR_DTYPE, "ag_linalg_svd: expected A of dtype f32, f64, c64 or c128");
    ASSERT_RC(ag_linalg_svd(w, false, &U, NULL, &Vh), AG_ERR_INVALID, "ag_linalg_svd: argument 4 (S) is NULL");
    ag_tensor *b2 = ag_zeros((int64_t[]){2, 1}, 2, AG_F64);
    ASSERT_ERR(ag_linalg_lstsq(w, b2), AG_ERR_SHAPE,
               "ag_linalg_lstsq: expected A [..., m, n] with m >= n (full column rank), given [2,4]");
    ag_tensor *t = mTt(w), *b = ag_zeros((int64_t[]){3, 1}, 2, AG_F64);
    ASSERT_ERR(ag_linalg_lstsq(t, b), AG_ERR_SHAPE, "ag_linalg_lstsq: expected B [..., 4, k] for A [4,2], given [3,1]");
    ag_tensor *bf = ag_zeros((int64_t[]){4, 1}, 2, AG_F32);
    ASSERT_ERR(ag_linalg_lstsq(t, bf), AG_ERR_DTYPE, "ag_linalg_lstsq: A and B must have the same dtype, given f64 and f32");
    ag_release(v); ag_release(w); ag_release(i); ag_release(t); ag_release(b); ag_release(bf); ag_release(b2);
}

static void test_einsum_errors(void **state) {
    (void)state;
    ag_tensor *a = ag_zeros((int64_t[]){3, 3}, 2, AG_F64), *b = ag_zeros((int64_t[]){3, 4}, 2, AG_F64);
    ag_tensor *ab[2] = {a, b}, *aa[1] = {a};
    ASSERT_ERR(ag_einsum("ii->", &b, 1), AG_ERR_SHAPE,
               "ag_einsum: subscript 'i' repeats in operand 0 of \"ii->\" over dims of sizes 3 and 4 (a diagonal needs equal sizes)");
    ASSERT_ERR(ag_einsum("...i...->i", aa, 1), AG_ERR_INVALID, "ag_einsum: operand 0 of \"...i...->i\" has two ellipses");
    ASSERT_ERR(ag_einsum("i.j->i", aa, 1), AG_ERR_INVALID, "ag_einsum: '.' at position 1 of \"i.j->i\" is not part of an ellipsis");
    ASSERT_ERR(ag_einsum("...ijk->i", aa, 1), AG_ERR_SHAPE, "ag_einsum: operand 0 names 3 dims in \"...ijk->i\" but has 2 [3,3]");
    ASSERT_ERR(ag_einsum("ij,j1->i", ab, 2), AG_ERR_INVALID,
               "ag_einsum: unexpected character '1' at position 4 of \"ij,j1->i\" (subscripts are letters)");
    ASSERT_ERR(ag_einsum("ij-k", aa, 1), AG_ERR_INVALID, "ag_einsum: '-' not followed by '>' at position 2 of \"ij-k\"");
    ASSERT_ERR(ag_einsum("ij->i->j", aa, 1), AG_ERR_INVALID, "ag_einsum: a second \"->\" at position 5");
    ASSERT_ERR(ag_einsum("ij->i,j", aa, 1), AG_ERR_INVALID, "ag_einsum: ',' at position 5 of \"ij->i,j\" is after \"->\"");
    ASSERT_ERR(ag_einsum("ij->ii", aa, 1), AG_ERR_INVALID, "ag_einsum: output subscript 'i' repeats at position 5");
    ASSERT_ERR(ag_einsum("ij->k", aa, 1), AG_ERR_INVALID, "ag_einsum: output subscript 'k' of \"ij->k\" is in no operand");
    ASSERT_ERR(ag_einsum("ij,jk->ik", aa, 1), AG_ERR_INVALID, "ag_einsum: \"ij,jk->ik\" has more operands than the 1 tensors given (position 2)");
    ASSERT_ERR(ag_einsum("ij->ij", ab, 2), AG_ERR_INVALID, "ag_einsum: \"ij->ij\" has 1 operand, given 2 tensors");
    ASSERT_ERR(ag_einsum("ijk->i", aa, 1), AG_ERR_SHAPE, "ag_einsum: operand 0 has 3 subscripts in \"ijk->i\" but 2 dims [3,3]");
    ASSERT_ERR(ag_einsum("ij,ij->i", ab, 2), AG_ERR_SHAPE, "ag_einsum: subscript 'j' has size 3 in operand 0 but 4 in operand 1");
    ASSERT_ERR(ag_einsum("ij", ab, 0), AG_ERR_INVALID, "ag_einsum: expected at least one operand, given 0");
    ag_tensor *an[2] = {a, NULL};
    ASSERT_ERR(ag_einsum("ij,jk", an, 2), AG_ERR_INVALID, "ag_einsum: argument 2 (ops[1]) is NULL");
    ASSERT_ERR(ag_einsum(NULL, aa, 1), AG_ERR_INVALID, "ag_einsum: argument 1 (eq) is NULL");
    ag_release(a);
    ag_release(b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_solve_singular, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cholesky_not_pd, setup, teardown),
        cmocka_unit_test_setup_teardown(test_triangular_singular, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_shapes_and_dtypes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_det_singular, setup, teardown),
        cmocka_unit_test_setup_teardown(test_solve_backward_no_leak, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cg_spd_matrix, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cg_hermitian_c128, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cg_frees_temporaries, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cg_conv_operator, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cg_max_iter, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cg_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kernels_no_malloc_when_warm, setup, teardown),
        cmocka_unit_test_setup_teardown(test_decomp_reconstruct, setup, teardown),
        cmocka_unit_test_setup_teardown(test_decomp_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_einsum_errors, setup, teardown),
    };
    return cmocka_run_group_tests_name("solve", tests, NULL, NULL);
}
