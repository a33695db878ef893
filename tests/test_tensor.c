/* tests/test_tensor.c — the CPU tensor core beyond the op table: creation, dtypes and
 * promotion, the random number generator, views and storage sharing, broadcasting, integer
 * and bool arithmetic, casts, reduction edge cases and the parallel paths, matmul against a
 * naive product, printing, and memory over long loops. Errors of bad inputs are in
 * test_errors.c. PyTorch references (promotion table, arange, linspace) are in
 * tensor_refs.h, written by gen_tensor_refs.py. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include "test_util.h"
#include "tensor_refs.h"

static const ag_dtype ALL_DT[AG_NUM_DTYPES] = {AG_F32, AG_F64, AG_C64, AG_C128, AG_I64, AG_BOOL, AG_I32, AG_U8};

/* ================================ 1. creation ================================ */

static void test_fill_creators(void **state) {
    (void)state;
    ag_scope_begin();
    ag_tensor *z = ag_zeros(AG_SHAPE(2, 3), AG_F32);
    assert_shape(z, 2, 3);
    assert_int_equal(ag_dtype_of(z), AG_F32);
    assert_true(ag_is_contiguous(z));
    assert_values(z, 0, 0, 0, 0, 0, 0);
    assert_values(ag_ones(AG_SHAPE(3), AG_I64), 1, 1, 1);
    assert_values(ag_ones(AG_SHAPE(2), AG_BOOL), 1, 1);
    assert_values(ag_full(AG_SHAPE(2, 2), 2.5, AG_F64), 2.5, 2.5, 2.5, 2.5);
    assert_values(ag_full(AG_SHAPE(2), -2.75, AG_I64), -2, -2); /* truncation toward zero */
    assert_values(ag_full(AG_SHAPE(2), 0.5, AG_BOOL), 1, 1);    /* nonzero */
    assert_values(ag_full(AG_SHAPE(1), 0.0, AG_BOOL), 0);

    ag_tensor *c = ag_full_complex(AG_SHAPE(2), 1.0, -2.0, AG_C64);
    assert_int_equal(ag_dtype_of(c), AG_C64);
    double complex *cv = tu_cvalues(c);
    assert_true(cv[0] == CMPLX(1, -2) && cv[1] == CMPLX(1, -2));
    free(cv);
    ag_tensor *zc = ag_zeros(AG_SHAPE(1), AG_C128);
    cv = tu_cvalues(zc);
    assert_true(cv[0] == 0);
    free(cv);

    ag_tensor *s = ag_scalar(3.25, AG_F32);
    assert_shape0(s);
    assert_int_equal(ag_numel(s), 1);
    assert_true(ag_item(s) == 3.25);
    assert_true(ag_item(ag_scalar(7, AG_I64)) == 7);

    /* zero-size shapes */
    ag_tensor *e = ag_zeros(AG_SHAPE(3, 0, 2), AG_F64);
    assert_shape(e, 3, 0, 2);
    assert_int_equal(ag_numel(e), 0);
    assert_true(ag_is_contiguous(e));

    /* *_like copy shape and dtype, never strides or values, and give contiguous tensors */
    ag_tensor *t = ag_transpose(ag_full(AG_SHAPE(2, 3), 4, AG_C128), 0, 1);
    assert_false(ag_is_contiguous(t));
    ag_tensor *l[4] = {ag_zeros_like(t), ag_ones_like(t), ag_full_like(t, -1.5), ag_empty_like(t)};
    for (int i = 0; i < 4; i++) {
        assert_shape(l[i], 3, 2);
        assert_int_equal(ag_dtype_of(l[i]), AG_C128);
        assert_true(ag_is_contiguous(l[i]));
        assert_false(ag_shares_storage(l[i], t));
    }
    assert_values(l[0], 0, 0, 0, 0, 0, 0);
    assert_values(l[1], 1, 1, 1, 1, 1, 1);
    assert_values(l[2], -1.5, -1.5, -1.5, -1.5, -1.5, -1.5);
    assert_values(ag_full_like(ag_zeros(AG_SHAPE(2), AG_I64), 3.9), 3, 3);
    ag_scope_end();
}

static void test_arange(void **state) {
    (void)state;
    ag_scope_begin();
    for (size_t i = 0; i < sizeof ref_arange / sizeof *ref_arange; i++) {
        const ref_range *r = &ref_arange[i];
        ag_tensor *t = ag_arange(r->a, r->b, r->c, AG_F64);
        assert_non_null(t);
        assert_shape(t, r->n); /* length = ceil((end - start) / step), as torch */
        const double *v = ag_data(t);
        for (int64_t k = 0; k < r->n; k++)
            if (v[k] != r->v[k])
                fail_msg("arange(%g, %g, %g)[%lld] = %.17g, torch gives %.17g", r->a, r->b, r->c, (long long)k,
                         v[k], r->v[k]);
    }
    assert_values(ag_arange(0, 10, 3, AG_I64), 0, 3, 6, 9);
    assert_values(ag_arange(5, -1, -2, AG_I64), 5, 3, 1);
    assert_values(ag_arange(0.5, 3, 1, AG_I64), 0, 1, 2); /* torch: values truncated */
    ag_tensor *f = ag_arange(0, 1, 0.25, AG_F32);
    assert_int_equal(ag_dtype_of(f), AG_F32);
    assert_values(f, 0, 0.25, 0.5, 0.75);
    ag_scope_end();
}

static void test_linspace(void **state) {
    (void)state;
    ag_scope_begin();
    for (int pass = 0; pass < 2; pass++) {
        const ref_range *tab = pass ? ref_linspace_f32 : ref_linspace_f64;
        size_t n = pass ? sizeof ref_linspace_f32 / sizeof *ref_linspace_f32
                        : sizeof ref_linspace_f64 / sizeof *ref_linspace_f64;
        for (size_t i = 0; i < n; i++) {
            const ref_range *r = &tab[i];
            ag_tensor *t = ag_linspace(r->a, r->b, (int64_t)r->c, pass ? AG_F32 : AG_F64);
            assert_non_null(t);
            assert_shape(t, r->n);
            double *v = tu_values(t);
            for (int64_t k = 0; k < r->n; k++) {
                /* within 2 ulps of the range's magnitude: torch's last bit depends on its vector
                 * width (it extends each chunk of 4 from the chunk's first value) and f32 works
                 * in float, where we round a double once */
                double tol = ldexp(fmax(fabs(r->a), fabs(r->b)), pass ? -22 : -51);
                if (fabs(v[k] - r->v[k]) > tol)
                    fail_msg("linspace(%g, %g, %g) %s [%lld] = %.17g, torch gives %.17g", r->a, r->b, r->c,
                             pass ? "f32" : "f64", (long long)k, v[k], r->v[k]);
            }
            /* symmetric: the last value is end exactly, the first start */
            if (r->n > 1) {
                assert_true(v[r->n - 1] == (pass ? (double)(float)r->b : r->b));
                assert_true(v[0] == (pass ? (double)(float)r->a : r->a));
            }
            free(v);
        }
    }
    assert_values(ag_linspace(0, 10, 4, AG_I64), 0, 3, 6, 10);
    assert_values(ag_linspace(-1, 1, 5, AG_I64), -1, 0, 0, 0, 1);
    assert_shape(ag_linspace(1, 2, 0, AG_F64), 0);
    assert_values(ag_linspace(1, 2, 1, AG_F64), 1);
    ag_scope_end();
}

static void test_eye(void **state) {
    (void)state;
    ag_scope_begin();
    ag_tensor *e = ag_eye(3, -1, AG_F64);
    assert_shape(e, 3, 3);
    assert_values(e, 1, 0, 0, 0, 1, 0, 0, 0, 1);
    assert_values(ag_eye(2, 4, AG_I64), 1, 0, 0, 0, 0, 1, 0, 0);
    assert_values(ag_eye(4, 2, AG_F32), 1, 0, 0, 1, 0, 0, 0, 0);
    assert_values(ag_eye(2, 2, AG_BOOL), 1, 0, 0, 1);
    double complex *cv = tu_cvalues(ag_eye(2, 2, AG_C64));
    assert_true(cv[0] == 1 && cv[1] == 0 && cv[2] == 0 && cv[3] == 1);
    free(cv);
    assert_shape(ag_eye(0, -1, AG_F64), 0, 0);
    assert_shape(ag_eye(3, 0, AG_F64), 3, 0);
    ag_scope_end();
}

static void test_from_data_every_dtype(void **state) {
    (void)state;
    float f32[4] = {1.5f, -2, 3, 4};
    double f64[4] = {1.25, -2, 1e300, 4};
    float complex c64[4] = {CMPLXF(1, 2), CMPLXF(-3, 4), 0, CMPLXF(0, -1)};
    double complex c128[4] = {CMPLX(1, 2), CMPLX(-3, 4), 0, CMPLX(0, -1)};
    int64_t i64[4] = {INT64_MAX, -5, 0, INT64_MIN};
    bool b[4] = {true, false, false, true};
    int32_t i32[4] = {INT32_MAX, -5, 0, INT32_MIN};
    uint8_t u8[4] = {255, 0, 7, 128};
    const void *src[AG_NUM_DTYPES] = {f32, f64, c64, c128, i64, b, i32, u8};
    ag_scope_begin();
    for (int d = 0; d < AG_NUM_DTYPES; d++) {
        ag_tensor *t = ag_from_data(src[d], AG_SHAPE(2, 2), ALL_DT[d]);
        assert_non_null(t);
        assert_shape(t, 2, 2);
        assert_int_equal(ag_dtype_of(t), ALL_DT[d]);
        assert_true(ag_device_of(t).kind == AG_DEV_CPU);
        assert_memory_equal(ag_data(t), src[d], 4 * ag_dtype_size(ALL_DT[d]));
        /* a copy, not a borrow */
        assert_ptr_not_equal(ag_data(t), src[d]);
    }
    /* int64 extremes survive a round trip through the buffer API */
    int64_t back[4];
    assert_int_equal(ag_copy_to_buffer(ag_from_data(i64, AG_SHAPE(4), AG_I64), back, AG_I64), 0);
    assert_memory_equal(back, i64, sizeof back);
    /* NULL data is fine for an empty tensor */
    assert_shape(ag_from_data(NULL, AG_SHAPE(0, 3), AG_F32), 0, 3);
    assert_shape0(ag_from_data(f64, NULL, 0, AG_F64));
    assert_true(ag_item(ag_from_data(f64, NULL, 0, AG_F64)) == 1.25);
    ag_scope_end();
}

static void test_dtype_facts(void **state) {
    (void)state;
    const char *names[] = {"f32", "f64", "c64", "c128", "i64", "bool", "i32", "u8"};
    const size_t sizes[] = {4, 8, 8, 16, 8, 1, 4, 1};
    for (int d = 0; d < AG_NUM_DTYPES; d++) {
        assert_string_equal(ag_dtype_name(ALL_DT[d]), names[d]);
        assert_int_equal(ag_dtype_size(ALL_DT[d]), sizes[d]);
        assert_int_equal(ag_dtype_is_complex(ALL_DT[d]), d == 2 || d == 3);
        assert_int_equal(ag_dtype_is_float(ALL_DT[d]), d < 4);
    }
    assert_string_equal(ag_dtype_name(AG_NUM_DTYPES), "invalid");
    assert_string_equal(ag_dtype_name((ag_dtype)-1), "invalid");
    assert_int_equal(ag_dtype_size(AG_NUM_DTYPES), 0);
    assert_int_equal(ag_dtype_to_real(AG_C64), AG_F32);
    assert_int_equal(ag_dtype_to_real(AG_C128), AG_F64);
    assert_int_equal(ag_dtype_to_real(AG_I64), AG_I64);
    assert_int_equal(ag_dtype_to_complex(AG_F32), AG_C64);
    assert_int_equal(ag_dtype_to_complex(AG_F64), AG_C128);
    assert_int_equal(ag_dtype_to_complex(AG_C64), AG_C64);
    /* each dtype's tensor element size agrees with ag_dtype_size */
    ag_scope_begin();
    for (int d = 0; d < AG_NUM_DTYPES; d++) {
        ag_tensor *t = ag_zeros(AG_SHAPE(5), ALL_DT[d]);
        assert_int_equal((char *)ag_data(ag_select(t, 0, 1)) - (char *)ag_data(t), sizes[d]);
    }
    ag_scope_end();
}

static void test_promote_types(void **state) {
    (void)state;
    ag_scope_begin();
    for (int a = 0; a < AG_NUM_DTYPES; a++)
        for (int b = 0; b < AG_NUM_DTYPES; b++) {
            ag_dtype got = ag_promote_types(ALL_DT[a], ALL_DT[b]);
            if (got != ref_promote[a][b])
                fail_msg("promote(%s, %s) = %s, torch.promote_types gives %s", ag_dtype_name(ALL_DT[a]),
                         ag_dtype_name(ALL_DT[b]), ag_dtype_name(got), ag_dtype_name(ref_promote[a][b]));
            /* binary ops use it: add of two one-element tensors has the promoted dtype
             * (bool + bool stays bool; sub of bools is an error, tested elsewhere) */
            ag_tensor *r = ag_add(ag_ones(AG_SHAPE(1), ALL_DT[a]), ag_ones(AG_SHAPE(1), ALL_DT[b]));
            assert_non_null(r);
            assert_int_equal(ag_dtype_of(r), ref_promote[a][b]);
        }
    ag_scope_end();
}

/* torch.result_type: a 0-d tensor raises the dtype only from a lower category (bool < integer
 * < float < complex), and a complex 0-d keeps a float tensor's width; where follows it too */
static void test_result_type_zero_dim(void **state) {
    (void)state;
    for (int a = 0; a < AG_NUM_DTYPES; a++)
        for (int a0 = 0; a0 < 2; a0++)
            for (int b = 0; b < AG_NUM_DTYPES; b++)
                for (int b0 = 0; b0 < 2; b0++) {
                    ag_scope_begin();
                    ag_dtype want = ref_result_type[a][a0][b][b0];
                    ag_tensor *x = a0 ? ag_scalar(1, ALL_DT[a]) : ag_ones(AG_SHAPE(2), ALL_DT[a]);
                    ag_tensor *y = b0 ? ag_scalar(1, ALL_DT[b]) : ag_ones(AG_SHAPE(2), ALL_DT[b]);
                    ag_tensor *c = ag_ones(AG_SHAPE(2), AG_BOOL);
                    ag_tensor *r[4] = {ag_add(x, y), ag_mul(x, y), ag_where(c, x, y), ag_div(x, y)};
                    ag_dtype div_want = ag_dtype_is_float(want) ? want : AG_F64;
                    for (int k = 0; k < 4; k++) {
                        ag_dtype w = k == 3 ? div_want : want;
                        if (!r[k] || ag_dtype_of(r[k]) != w)
                            fail_msg("op %d of %s%s and %s%s: %s, torch.result_type gives %s", k,
                                     ag_dtype_name(ALL_DT[a]), a0 ? " (0-d)" : "", ag_dtype_name(ALL_DT[b]),
                                     b0 ? " (0-d)" : "", r[k] ? ag_dtype_name(ag_dtype_of(r[k])) : ag_last_error(),
                                     ag_dtype_name(w));
                    }
                    ag_scope_end();
                }
    ag_scope_begin();
    /* the comparison runs in the result type: 0.1 as f32 equals the 0-d f64 0.1 rounded to f32 */
    ag_tensor *x = ag_from_data((float[]){0.1f, 0.2f}, AG_SHAPE(2), AG_F32);
    assert_values(ag_to_dtype(ag_eq(x, ag_scalar(0.1, AG_F64)), AG_F64), 1, 0);
    assert_values(ag_to_dtype(ag_lt(x, ag_scalar(0.2, AG_F64)), AG_F64), 1, 0);
    /* each input's gradient keeps its dtype */
    ag_tensor *xl = ag_set_requires_grad(ag_ones(AG_SHAPE(2), AG_F32), true);
    ag_tensor *s = ag_set_requires_grad(ag_scalar(3, AG_F64), true);
    ag_tensor *y = ag_mul(xl, s);
    assert_int_equal(ag_dtype_of(y), AG_F32);
    assert_int_equal(ag_backward(ag_sum(y, AG_ALL_DIMS, false)), 0);
    assert_int_equal(ag_dtype_of(ag_grad_of(xl)), AG_F32);
    assert_int_equal(ag_dtype_of(ag_grad_of(s)), AG_F64);
    assert_values(ag_grad_of(s), 2);
    /* the scalar forms go by the value (tensor.h): integral keeps i64, where PyTorch's 2.0 gives float */
    ag_tensor *i = ag_ones(AG_SHAPE(2), AG_I64);
    assert_int_equal(ag_dtype_of(ag_add_s(i, 2.0)), AG_I64);
    assert_int_equal(ag_dtype_of(ag_add_s(i, 2.5)), ag_get_default_dtype());
    assert_int_equal(ag_dtype_of(ag_pow_s(i, -1)), ag_get_default_dtype());
    assert_int_equal(ag_dtype_of(ag_mul_s(ag_ones(AG_SHAPE(2), AG_BOOL), 3)), AG_I64);
    ag_scope_end();
}

static void test_default_dtype(void **state) {
    (void)state;
    assert_int_equal(ag_get_default_dtype(), AG_F64);
    ag_scope_begin();
    ag_tensor *a = ag_from_data((int64_t[]){7, -7, 1}, AG_SHAPE(3), AG_I64);
    ag_tensor *b = ag_from_data((int64_t[]){2, 2, 3}, AG_SHAPE(3), AG_I64);
    ag_tensor *q = ag_div(a, b);
    assert_int_equal(ag_dtype_of(q), AG_F64);
    assert_values(q, 3.5, -3.5, 1.0 / 3.0);
    assert_int_equal(ag_dtype_of(ag_exp(a)), AG_F64);
    assert_int_equal(ag_dtype_of(ag_mul_s(a, 0.5)), AG_F64);
    assert_int_equal(ag_dtype_of(ag_mul_s(a, 2)), AG_I64);

    ag_set_default_dtype(AG_F32);
    assert_int_equal(ag_get_default_dtype(), AG_F32);
    ag_tensor *q32 = ag_div(a, b);
    assert_int_equal(ag_dtype_of(q32), AG_F32);
    assert_values(q32, 3.5, -3.5, (double)(1.0f / 3.0f));
    assert_int_equal(ag_dtype_of(ag_div(ag_ones(AG_SHAPE(1), AG_BOOL), ag_ones(AG_SHAPE(1), AG_BOOL))), AG_F32);
    assert_int_equal(ag_dtype_of(ag_sqrt(a)), AG_F32);
    assert_int_equal(ag_dtype_of(ag_add_s(a, 0.5)), AG_F32);
    /* explicit float dtypes are never changed by the default */
    assert_int_equal(ag_dtype_of(ag_div(ag_ones(AG_SHAPE(1), AG_F64), a)), AG_F64);

    /* only f32/f64 can be the default; a bad one leaves it unchanged */
    ag_set_default_dtype(AG_I64);
    assert_error(AG_ERR_DTYPE, "ag_set_default_dtype", "f32 or f64", "i64");
    ag_set_default_dtype(AG_C64);
    assert_error(AG_ERR_DTYPE, "c64");
    assert_int_equal(ag_get_default_dtype(), AG_F32);
    ag_set_default_dtype(AG_F64);
    assert_int_equal(ag_get_default_dtype(), AG_F64);
    ag_scope_end();
}

/* ================================ 2. random numbers ================================ */

static void test_rng_reproducible(void **state) {
    (void)state;
    ag_scope_begin();
    for (int d = 0; d < 4; d++) {
        ag_manual_seed(42);
        assert_int_equal(ag_rng_offset(), 0);
        ag_tensor *a = ag_randn(AG_SHAPE(10, 10), ALL_DT[d]);
        assert_int_equal(ag_rng_offset(), 100);
        ag_tensor *a2 = ag_randn(AG_SHAPE(10, 10), ALL_DT[d]);
        assert_int_equal(ag_rng_offset(), 200);
        ag_manual_seed(42);
        ag_tensor *b = ag_randn(AG_SHAPE(10, 10), ALL_DT[d]);
        size_t nb = 100 * ag_dtype_size(ALL_DT[d]);
        assert_memory_equal(ag_data(a), ag_data(b), nb);
        assert_memory_not_equal(ag_data(a), ag_data(a2), nb); /* the offset moved on */
        ag_manual_seed(43);
        ag_tensor *c = ag_randn(AG_SHAPE(10, 10), ALL_DT[d]);
        assert_memory_not_equal(ag_data(a), ag_data(c), nb);
        /* a draw depends on (seed, offset, i) alone: 2 draws of 50 = 1 draw of 100 */
        ag_manual_seed(42);
        ag_tensor *h1 = ag_randn(AG_SHAPE(50), ALL_DT[d]), *h2 = ag_randn(AG_SHAPE(50), ALL_DT[d]);
        assert_memory_equal(ag_data(a), ag_data(h1), nb / 2);
        assert_memory_equal((char *)ag_data(a) + nb / 2, ag_data(h2), nb / 2);
    }
    ag_manual_seed(7);
    ag_tensor *u = ag_rand(AG_SHAPE(64), AG_F64), *k = ag_randint(0, 1000, AG_SHAPE(64));
    ag_manual_seed(7);
    ag_tensor *u2 = ag_rand(AG_SHAPE(64), AG_F64), *k2 = ag_randint(0, 1000, AG_SHAPE(64));
    assert_memory_equal(ag_data(u), ag_data(u2), 64 * 8);
    assert_memory_equal(ag_data(k), ag_data(k2), 64 * 8);
    ag_scope_end();
}

static void moments(const double *v, int64_t n, int64_t stride, double *mean, double *var) {
    double s = 0, s2 = 0;
    for (int64_t i = 0; i < n; i++) s += v[i * stride];
    *mean = s / (double)n;
    for (int64_t i = 0; i < n; i++) s2 += (v[i * stride] - *mean) * (v[i * stride] - *mean);
    *var = s2 / (double)(n - 1);
}

#define NS 100000

static void test_rng_distributions(void **state) {
    (void)state;
    ag_scope_begin();
    ag_manual_seed(1234);
    /* rand: [0, 1), mean 1/2, variance 1/12; bounds at 5 sigma */
    for (int d = 0; d < 2; d++) {
        double *v = tu_values(ag_rand(AG_SHAPE(NS), ALL_DT[d]));
        double lo = 1, hi = 0, m, var;
        for (int i = 0; i < NS; i++) { lo = fmin(lo, v[i]); hi = fmax(hi, v[i]); }
        assert_true(lo >= 0 && hi < 1);
        assert_true(lo < 1e-3 && hi > 1 - 1e-3);
        moments(v, NS, 1, &m, &var);
        assert_true(fabs(m - 0.5) < 5 * sqrt(1.0 / 12 / NS));
        assert_true(fabs(var - 1.0 / 12) < 5 * sqrt((1.0 / 80 - 1.0 / 144) / NS)); /* 5 sigma */
        free(v);
    }
    /* randn: mean 0, std 1 */
    for (int d = 0; d < 2; d++) {
        double *v = tu_values(ag_randn(AG_SHAPE(NS), ALL_DT[d]));
        double m, var;
        moments(v, NS, 1, &m, &var);
        assert_true(fabs(m) < 5 / sqrt(NS));
        assert_true(fabs(sqrt(var) - 1) < 5 * sqrt(0.5 / NS));
        int64_t beyond3 = 0;
        for (int i = 0; i < NS; i++) beyond3 += fabs(v[i]) > 3;
        assert_true(beyond3 > 190 && beyond3 < 350); /* 0.27 % of 1e5 = 270 +- 5 sigma */
        free(v);
    }
    /* complex randn: each part variance 1/2, independent */
    for (int d = 2; d < 4; d++) {
        double complex *z = tu_cvalues(ag_randn(AG_SHAPE(NS), ALL_DT[d]));
        const double *p = (const double *)z;
        double mr, vr, mi, vi, cov = 0;
        moments(p, NS, 2, &mr, &vr);
        moments(p + 1, NS, 2, &mi, &vi);
        for (int i = 0; i < NS; i++) cov += (p[2 * i] - mr) * (p[2 * i + 1] - mi);
        cov /= NS;
        assert_true(fabs(mr) < 5 * sqrt(0.5 / NS) && fabs(mi) < 5 * sqrt(0.5 / NS));
        assert_true(fabs(vr - 0.5) < 5 * 0.5 * sqrt(2.0 / NS));
        assert_true(fabs(vi - 0.5) < 5 * 0.5 * sqrt(2.0 / NS));
        assert_true(fabs(cov) < 5 * 0.5 / sqrt(NS));
        free(z);
    }
    /* complex rand: both parts uniform in [0, 1) */
    double complex *z = tu_cvalues(ag_rand(AG_SHAPE(1000), AG_C128));
    for (int i = 0; i < 1000; i++)
        assert_true(creal(z[i]) >= 0 && creal(z[i]) < 1 && cimag(z[i]) >= 0 && cimag(z[i]) < 1);
    assert_true(creal(z[0]) != cimag(z[0]));
    free(z);
    /* randint: [low, high), every value reachable, roughly uniform */
    ag_tensor *k = ag_randint(-3, 4, AG_SHAPE(NS));
    assert_int_equal(ag_dtype_of(k), AG_I64);
    const int64_t *kv = ag_data(k);
    int64_t count[7] = {0};
    for (int i = 0; i < NS; i++) {
        assert_true(kv[i] >= -3 && kv[i] < 4);
        count[kv[i] + 3]++;
    }
    for (int j = 0; j < 7; j++) assert_true(fabs((double)count[j] - NS / 7.0) < 5 * sqrt(NS / 7.0));
    /* a range of one value, and a wide range near the int64 limits */
    assert_values(ag_randint(5, 6, AG_SHAPE(3)), 5, 5, 5);
    int64_t lo = -((int64_t)1 << 52), hi = (int64_t)1 << 52;
    const int64_t *w = ag_data(ag_randint(lo, hi, AG_SHAPE(1000)));
    bool neg = false, pos = false;
    for (int i = 0; i < 1000; i++) {
        assert_true(w[i] >= lo && w[i] < hi);
        neg |= w[i] < 0;
        pos |= w[i] > 0;
    }
    assert_true(neg && pos);
    ag_scope_end();
}

static void test_rng_thread_independent(void **state) {
    (void)state;
    int saved = ag_get_num_threads();
    ag_scope_begin();
    ag_tensor *r[2][5];
    for (int pass = 0; pass < 2; pass++) {
        ag_set_num_threads(pass + 1);
        ag_manual_seed(99);
        r[pass][0] = ag_randn(AG_SHAPE(40000), AG_F64);
        r[pass][1] = ag_rand(AG_SHAPE(200, 200), AG_F32);
        r[pass][2] = ag_randn(AG_SHAPE(33000), AG_C64);
        r[pass][3] = ag_randint(-1000, 1000, AG_SHAPE(50000));
        r[pass][4] = ag_rand(AG_SHAPE(35000), AG_C128);
    }
    ag_set_num_threads(saved);
    for (int i = 0; i < 5; i++)
        assert_memory_equal(ag_data(r[0][i]), ag_data(r[1][i]),
                            (size_t)ag_numel(r[0][i]) * ag_dtype_size(ag_dtype_of(r[0][i])));
    ag_scope_end();
}

/* ================================ 3. views ================================ */

static void test_view_storage_and_contiguity(void **state) {
    (void)state;
    ag_scope_begin();
    ag_tensor *t = ag_arange(0, 24, 1, AG_F64);
    ag_tensor *m = ag_reshape(t, AG_SHAPE(2, 3, 4));
    assert_true(ag_shares_storage(t, m));
    assert_true(ag_is_contiguous(m));
    assert_true(ag_shares_storage(m, ag_view(m, AG_SHAPE(6, 4))));
    assert_false(ag_shares_storage(t, ag_clone(t)));
    assert_false(ag_shares_storage(t, NULL));

    ag_tensor *tr = ag_transpose(m, 0, 2);
    assert_shape(tr, 4, 3, 2);
    assert_true(ag_shares_storage(tr, m));
    assert_false(ag_is_contiguous(tr));
    assert_true(ag_is_contiguous(ag_contiguous(tr)));
    assert_false(ag_shares_storage(ag_contiguous(tr), m));
    assert_true(ag_shares_storage(ag_contiguous(m), m)); /* already contiguous: same storage */

    /* reshape: a view when strides allow, a copy otherwise */
    ag_tensor *rv = ag_reshape(ag_transpose(m, 1, 2), AG_SHAPE(2, 4, 3)); /* only the shape is the same */
    assert_true(ag_shares_storage(rv, m));
    ag_tensor *rc = ag_reshape(tr, AG_SHAPE(24));
    assert_false(ag_shares_storage(rc, m));
    assert_values(ag_slice(rc, 0, 0, 6, 1), 0, 12, 4, 16, 8, 20);
    /* merging dims of a sliced (but row-dense) tensor is still a view */
    ag_tensor *sl = ag_slice(m, 1, 1, 3, 1); /* [2,2,4], rows of 4 contiguous */
    assert_false(ag_is_contiguous(sl));
    ag_tensor *sv = ag_reshape(sl, AG_SHAPE(2, 8));
    assert_true(ag_shares_storage(sv, m));
    assert_values(ag_select(sv, 0, 1), 16, 17, 18, 19, 20, 21, 22, 23);
    assert_values(ag_select(sv, 0, 0), 4, 5, 6, 7, 8, 9, 10, 11);
    /* -1 inference */
    assert_shape(ag_reshape(m, AG_SHAPE(-1, 4)), 6, 4);
    assert_shape(ag_reshape(m, AG_SHAPE(2, -1, 2)), 2, 6, 2);
    assert_shape(ag_reshape(m, AG_SHAPE(-1)), 24);
    assert_shape(ag_reshape(ag_zeros(AG_SHAPE(0, 3), AG_F32), AG_SHAPE(-1, 3)), 0, 3);
    assert_shape(ag_flatten(tr), 24);
    assert_shape0(ag_reshape(ag_ones(AG_SHAPE(1, 1), AG_F64), NULL, 0));
    assert_shape(ag_reshape(ag_scalar(1, AG_F64), AG_SHAPE(1, 1, 1)), 1, 1, 1);

    /* contiguity flags: size-1 dims may have any stride */
    ag_tensor *u = ag_unsqueeze(ag_arange(0, 4, 1, AG_F32), 0);
    assert_true(ag_is_contiguous(u));
    assert_true(ag_is_contiguous(ag_transpose(u, 0, 1)));
    assert_false(ag_is_contiguous(ag_slice(t, 0, 0, 24, 2)));
    assert_true(ag_is_contiguous(ag_select(m, 0, 1)));
    assert_false(ag_is_contiguous(ag_select(m, 2, 1)));
    assert_false(ag_is_contiguous(ag_expand(u, AG_SHAPE(3, 4))));
    assert_true(ag_is_contiguous(ag_narrow(m, 0, 1, 1)));

    /* writes through a view reach the base */
    ag_tensor *col = ag_select(ag_reshape(t, AG_SHAPE(6, 4)), 1, 2);
    assert_int_equal(ag_fill_(col, -1), 0);
    assert_values(ag_slice(t, 0, 0, 8, 1), 0, 1, -1, 3, 4, 5, -1, 7);
    ag_scope_end();
}

static void test_view_edge_cases(void **state) {
    (void)state;
    ag_scope_begin();
    ag_tensor *v = ag_arange(0, 10, 1, AG_I64);
    /* slice: python semantics, clamped; empty slices; step > 1 */
    assert_values(ag_slice(v, 0, 1, 8, 3), 1, 4, 7);
    assert_values(ag_slice(v, 0, -3, 10, 1), 7, 8, 9);
    assert_values(ag_slice(v, 0, -3, -1, 1), 7, 8);
    assert_values(ag_slice(v, 0, -100, 2, 1), 0, 1);
    assert_values(ag_slice(v, 0, 8, 100, 1), 8, 9);
    assert_values(ag_slice(v, 0, 0, 10, 4), 0, 4, 8);
    assert_values(ag_slice(v, 0, 9, 10, 5), 9);
    assert_shape(ag_slice(v, 0, 5, 5, 1), 0);
    assert_shape(ag_slice(v, 0, 7, 3, 1), 0);
    assert_shape(ag_slice(v, 0, 20, 30, 2), 0);
    assert_shape(ag_slice(ag_slice(v, 0, 5, 5, 1), 0, 0, 1, 1), 0);
    ag_tensor *s2 = ag_slice(ag_slice(v, 0, 1, 10, 2), 0, 1, 4, 2); /* 1 3 5 7 9 -> 3 7 */
    assert_values(s2, 3, 7);
    assert_int_equal(ag_strides(s2)[0], 4);
    assert_int_equal(ag_offset(s2), 3);
    /* narrow: negative start */
    assert_values(ag_narrow(v, 0, -4, 2), 6, 7);
    assert_shape(ag_narrow(v, 0, 10, 0), 0);
    assert_shape(ag_narrow(v, -1, 3, 0), 0);
    /* select: negative index and dim */
    ag_tensor *m = ag_reshape(v, AG_SHAPE(2, 5));
    assert_values(ag_select(m, 0, -1), 5, 6, 7, 8, 9);
    assert_values(ag_select(m, -1, -5), 0, 5);
    ag_tensor *s0 = ag_select(ag_select(m, 0, 1), 0, 2);
    assert_shape0(s0);
    assert_true(ag_item(s0) == 7);

    /* squeeze / unsqueeze */
    ag_tensor *o = ag_zeros(AG_SHAPE(1, 3, 1, 2), AG_F32);
    assert_shape(ag_squeeze(o, AG_SQUEEZE_ALL), 3, 2);
    assert_shape(ag_squeeze(o, 0), 3, 1, 2);
    assert_shape(ag_squeeze(o, -2), 1, 3, 2);
    assert_shape(ag_squeeze(o, 1), 1, 3, 1, 2); /* not size 1: unchanged, as torch */
    assert_shape0(ag_squeeze(ag_ones(AG_SHAPE(1, 1), AG_F32), AG_SQUEEZE_ALL));
    assert_shape0(ag_squeeze(ag_scalar(2, AG_F32), 0));
    assert_shape(ag_unsqueeze(ag_scalar(2, AG_F32), 0), 1);
    assert_shape(ag_unsqueeze(ag_scalar(2, AG_F32), -1), 1);
    ag_tensor *two = ag_zeros(AG_SHAPE(2, 3), AG_F32);
    assert_shape(ag_unsqueeze(two, -1), 2, 3, 1);
    assert_shape(ag_unsqueeze(two, 2), 2, 3, 1);
    assert_shape(ag_unsqueeze(two, -3), 1, 2, 3);
    assert_shape(ag_unsqueeze(two, 1), 2, 1, 3);
    assert_true(ag_is_contiguous(ag_unsqueeze(two, 1)));
    assert_true(ag_shares_storage(ag_unsqueeze(two, 1), two));
    /* unsqueeze of a non-contiguous tensor keeps the element order */
    assert_values(ag_unsqueeze(ag_transpose(m, 0, 1), 1), 0, 5, 1, 6, 2, 7, 3, 8, 4, 9);

    /* transpose of 0-d and 1-d tensors */
    ag_tensor *sc = ag_scalar(5, AG_F64);
    assert_shape0(ag_transpose(sc, 0, 0));
    assert_shape0(ag_transpose(sc, 0, -1));
    assert_values(ag_transpose(ag_arange(0, 3, 1, AG_F64), 0, -1), 0, 1, 2);
    assert_shape(ag_transpose(ag_arange(0, 3, 1, AG_F64), 0, 0), 3);
    assert_values(ag_permute(m, (const int[]){-1, 0}, 2), 0, 5, 1, 6, 2, 7, 3, 8, 4, 9);

    /* expand: -1 keeps a size, new leading dims, stride 0 */
    ag_tensor *e = ag_expand(ag_from_data((double[]){1, 2, 3}, AG_SHAPE(3, 1), AG_F64), AG_SHAPE(2, -1, 4));
    assert_shape(e, 2, 3, 4);
    assert_int_equal(ag_strides(e)[0], 0);
    assert_int_equal(ag_strides(e)[2], 0);
    assert_values(ag_select(e, 0, 1), 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3);
    assert_shape(ag_expand(ag_zeros(AG_SHAPE(1), AG_F32), AG_SHAPE(0)), 0);
    assert_shape(ag_expand(ag_zeros(AG_SHAPE(0, 1), AG_F32), AG_SHAPE(0, 3)), 0, 3);
    ag_scope_end();
}

static void test_real_imag_views(void **state) {
    (void)state;
    ag_scope_begin();
    for (int d = 2; d < 4; d++) {
        ag_tensor *z = ag_full_complex(AG_SHAPE(2, 3), 1, 2, ALL_DT[d]);
        ag_tensor *re = ag_real(z), *im = ag_imag(z);
        assert_int_equal(ag_dtype_of(re), ag_dtype_to_real(ALL_DT[d]));
        assert_true(ag_shares_storage(re, z) && ag_shares_storage(im, z));
        assert_false(ag_is_contiguous(re));
        assert_values(re, 1, 1, 1, 1, 1, 1);
        assert_values(im, 2, 2, 2, 2, 2, 2);
        /* writes go through: copy into the real part, fill the imaginary part of one row */
        assert_int_equal(ag_copy_(re, ag_arange(0, 3, 1, AG_F64)), 0); /* broadcast [3] -> [2,3] */
        assert_int_equal(ag_fill_(ag_select(im, 0, 1), -7), 0);
        double complex *zv = tu_cvalues(z);
        assert_true(zv[0] == CMPLX(0, 2) && zv[1] == CMPLX(1, 2) && zv[2] == CMPLX(2, 2));
        assert_true(zv[3] == CMPLX(0, -7) && zv[4] == CMPLX(1, -7) && zv[5] == CMPLX(2, -7));
        free(zv);
        /* parts of a non-contiguous, offset view */
        ag_tensor *tz = ag_select(ag_transpose(z, 0, 1), 0, 2); /* column 2: 2+2i, 2-7i */
        assert_values(ag_real(tz), 2, 2);
        assert_values(ag_imag(tz), 2, -7);
        assert_int_equal(ag_fill_(ag_imag(tz), 5), 0);
        zv = tu_cvalues(z);
        assert_true(zv[2] == CMPLX(2, 5) && zv[5] == CMPLX(2, 5) && zv[4] == CMPLX(1, -7));
        free(zv);
        /* real of a real tensor is a new reference to the same data */
        ag_tensor *x = ag_ones(AG_SHAPE(2), AG_F32);
        ag_tensor *rx = ag_real(x);
        assert_ptr_not_equal(rx, x);
        assert_true(ag_shares_storage(rx, x));
    }
    ag_scope_end();
}

/* view_as_real / view_as_complex share storage both ways, from offset and strided views */
static void test_view_as_real_complex(void **state) {
    (void)state;
    ag_scope_begin();
    for (int d = 2; d < 4; d++) {
        ag_tensor *z = ag_full_complex(AG_SHAPE(2, 3), 1, 2, ALL_DT[d]);
        ag_tensor *r = ag_view_as_real(z);
        assert_int_equal(ag_ndim(r), 3);
        assert_int_equal(ag_shape(r)[2], 2);
        assert_int_equal(ag_dtype_of(r), ag_dtype_to_real(ALL_DT[d]));
        assert_true(ag_shares_storage(r, z) && ag_is_contiguous(r));
        assert_int_equal(ag_fill_(ag_select(ag_select(r, 0, 1), 1, 1), -3), 0); /* imag of z[1, :] */
        double complex *zv = tu_cvalues(z);
        assert_true(zv[0] == CMPLX(1, 2) && zv[3] == CMPLX(1, -3) && zv[5] == CMPLX(1, -3));
        free(zv);
        /* a column of the transpose: offset and strides carry over */
        ag_tensor *col = ag_select(ag_transpose(z, 0, 1), 0, 2); /* z[:, 2] */
        assert_values(ag_view_as_real(col), 1, 2, 1, -3);
        /* back to complex: the same storage, the same values */
        ag_tensor *c = ag_view_as_complex(r);
        assert_int_equal(ag_dtype_of(c), ALL_DT[d]);
        assert_true(ag_shares_storage(c, z));
        assert_int_equal(ag_ndim(c), 2);
        ag_tensor *c2 = ag_view_as_complex(ag_select(r, 1, 2)); /* [2, 2] rows of stride 6: z[:, 2] */
        zv = tu_cvalues(c2);
        assert_true(zv[0] == CMPLX(1, 2) && zv[1] == CMPLX(1, -3));
        free(zv);
        /* [2] -> a 0-d complex */
        ag_tensor *p = ag_view_as_complex(ag_from_data((double[]){4, 5}, AG_SHAPE(2), AG_F64));
        assert_int_equal(ag_ndim(p), 0);
        double re, im;
        assert_int_equal(ag_item_complex(p, &re, &im), 0);
        assert_true(re == 4 && im == 5);
        /* a gradient that is not viewable as complex (expanded, from the sum) is copied first */
        ag_tensor *leaf = ag_set_requires_grad(ag_full_complex(AG_SHAPE(3), 1, 2, ALL_DT[d]), true);
        assert_int_equal(ag_backward(ag_sum(ag_view_as_real(leaf), AG_ALL_DIMS, false)), 0);
        zv = tu_cvalues(ag_grad_of(leaf));
        assert_true(zv[0] == CMPLX(1, 1) && zv[2] == CMPLX(1, 1));
        free(zv);
        ag_tensor *rl = ag_set_requires_grad(ag_ones(AG_SHAPE(3, 2), ag_dtype_to_real(ALL_DT[d])), true);
        assert_int_equal(ag_backward(ag_sum(ag_real(ag_view_as_complex(rl)), AG_ALL_DIMS, false)), 0);
        assert_values(ag_grad_of(rl), 1, 0, 1, 0, 1, 0);
    }
    ag_scope_end();
}

/* randperm: a permutation of 0..n-1, reproducible under ag_manual_seed */
static void test_randperm(void **state) {
    (void)state;
    ag_scope_begin();
    int64_t ns[] = {0, 1, 2, 7, 100, 1000};
    for (size_t k = 0; k < sizeof ns / sizeof *ns; k++) {
        int64_t n = ns[k];
        ag_manual_seed(11);
        ag_tensor *p = ag_randperm(n);
        assert_non_null(p);
        assert_int_equal(ag_dtype_of(p), AG_I64);
        assert_int_equal(ag_numel(p), n);
        assert_int_equal(ag_rng_offset(), (uint64_t)n);
        const int64_t *v = ag_data(p);
        char *seen = calloc((size_t)n + 1, 1);
        for (int64_t i = 0; i < n; i++) {
            assert_true(v[i] >= 0 && v[i] < n);
            assert_false(seen[v[i]]);
            seen[v[i]] = 1;
        }
        free(seen);
        ag_manual_seed(11);
        ag_tensor *q = ag_randperm(n);
        if (n) assert_memory_equal(ag_data(p), ag_data(q), (size_t)n * 8);
        if (n >= 100) {
            ag_tensor *r = ag_randperm(n); /* the generator moved on */
            assert_memory_not_equal(ag_data(p), ag_data(r), (size_t)n * 8);
            ag_manual_seed(12);
            ag_tensor *s = ag_randperm(n);
            assert_memory_not_equal(ag_data(p), ag_data(s), (size_t)n * 8);
            /* not the identity */
            int64_t fixed = 0;
            for (int64_t i = 0; i < n; i++) fixed += v[i] == i;
            assert_true(fixed < n / 10);
        }
    }
    ag_scope_end();
}

/* ================================ 4. broadcasting ================================ */

static void test_broadcasting(void **state) {
    (void)state;
    ag_scope_begin();
    ag_tensor *c = ag_from_data((double[]){1, 2, 3}, AG_SHAPE(3, 1), AG_F64);
    ag_tensor *r = ag_from_data((double[]){10, 20, 30, 40}, AG_SHAPE(1, 4), AG_F64);
    ag_tensor *s = ag_add(c, r);
    assert_shape(s, 3, 4);
    assert_values(s, 11, 21, 31, 41, 12, 22, 32, 42, 13, 23, 33, 43);
    assert_values(ag_mul(ag_scalar(2, AG_F64), r), 20, 40, 60, 80);
    assert_shape0(ag_add(ag_scalar(1, AG_F64), ag_scalar(2, AG_F64)));
    assert_shape(ag_add(ag_scalar(1, AG_F64), ag_zeros(AG_SHAPE(2, 0), AG_F64)), 2, 0);
    assert_shape(ag_add(ag_zeros(AG_SHAPE(0, 3), AG_F64), ag_zeros(AG_SHAPE(1, 3), AG_F64)), 0, 3);
    assert_shape(ag_add(ag_zeros(AG_SHAPE(0), AG_F64), ag_zeros(AG_SHAPE(1), AG_F64)), 0);
    assert_shape(ag_sub(ag_zeros(AG_SHAPE(5, 1, 4), AG_F32), ag_zeros(AG_SHAPE(3, 1), AG_F32)), 5, 3, 4);
    assert_shape(ag_add(ag_zeros(AG_SHAPE(2, 0), AG_F64), ag_zeros(AG_SHAPE(2, 1), AG_F64)), 2, 0);
    assert_shape(ag_lt(ag_zeros(AG_SHAPE(4, 1, 1), AG_F32), ag_zeros(AG_SHAPE(2, 1), AG_I64)), 4, 2, 1);
    ag_tensor *w = ag_where(ag_from_data((bool[]){true, false}, AG_SHAPE(2), AG_BOOL), c, ag_scalar(-1, AG_F64));
    assert_shape(w, 3, 2);
    assert_values(w, 1, -1, 2, -1, 3, -1);
    /* broadcast operand given as a non-contiguous view */
    ag_tensor *rt = ag_transpose(ag_from_data((double[]){1, 2, 3, 4, 5, 6}, AG_SHAPE(2, 3), AG_F64), 0, 1);
    assert_values(ag_add(rt, ag_from_data((double[]){100, 200}, AG_SHAPE(2), AG_F64)), 101, 204, 102, 205, 103, 206);
    /* copy_ broadcasts its source */
    ag_tensor *dst = ag_zeros(AG_SHAPE(2, 3), AG_I64);
    assert_int_equal(ag_copy_(dst, ag_from_data((double[]){1.9, -2.9, 3}, AG_SHAPE(3), AG_F64)), 0);
    assert_values(dst, 1, -2, 3, 1, -2, 3);

    /* shapes that do not broadcast: the message names the op and both shapes */
    struct { int64_t a[3], b[3]; int na, nb; const char *sa, *sb; } bad[] = {
        {{3}, {4}, 1, 1, "[3]", "[4]"},
        {{2, 3}, {3, 2}, 2, 2, "[2,3]", "[3,2]"},
        {{0}, {2}, 1, 1, "[0]", "[2]"},
        {{5, 2, 3}, {4, 3}, 3, 2, "[5,2,3]", "[4,3]"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        ag_tensor *x = ag_zeros(bad[i].a, bad[i].na, AG_F64), *y = ag_zeros(bad[i].b, bad[i].nb, AG_F64);
        assert_null(ag_add(x, y));
        assert_error(AG_ERR_SHAPE, "ag_add", bad[i].sa, bad[i].sb, "broadcast");
        assert_null(ag_mul(y, x));
        assert_error(AG_ERR_SHAPE, "ag_mul", bad[i].sa, bad[i].sb);
        assert_null(ag_eq(x, y));
        assert_error(AG_ERR_SHAPE, "ag_eq", bad[i].sa, bad[i].sb);
    }
    assert_null(ag_where(ag_zeros(AG_SHAPE(3), AG_BOOL), ag_zeros(AG_SHAPE(3), AG_F64), ag_zeros(AG_SHAPE(2), AG_F64)));
    assert_error(AG_ERR_SHAPE, "ag_where", "[3]", "[2]");
    /* copy_ cannot grow the destination */
    assert_int_equal(ag_copy_(ag_zeros(AG_SHAPE(3), AG_F64), ag_zeros(AG_SHAPE(2, 3), AG_F64)), AG_ERR_SHAPE);
    assert_error(AG_ERR_SHAPE, "ag_copy_", "[2,3]", "[3]");
    ag_scope_end();
}

/* ================================ 5. dtypes ================================ */

static void test_int_bool_arithmetic(void **state) {
    (void)state;
    ag_scope_begin();
    ag_tensor *a = ag_from_data((int64_t[]){7, -7, 3, 0}, AG_SHAPE(4), AG_I64);
    ag_tensor *b = ag_from_data((int64_t[]){2, 2, -4, 5}, AG_SHAPE(4), AG_I64);
    ag_tensor *r;
    r = ag_add(a, b); assert_int_equal(ag_dtype_of(r), AG_I64); assert_values(r, 9, -5, -1, 5);
    r = ag_sub(a, b); assert_int_equal(ag_dtype_of(r), AG_I64); assert_values(r, 5, -9, 7, -5);
    r = ag_mul(a, b); assert_int_equal(ag_dtype_of(r), AG_I64); assert_values(r, 14, -14, -12, 0);
    r = ag_div(a, b); assert_int_equal(ag_dtype_of(r), AG_F64); assert_values(r, 3.5, -3.5, -0.75, 0);
    r = ag_maximum(a, b); assert_int_equal(ag_dtype_of(r), AG_I64); assert_values(r, 7, 2, 3, 5);
    r = ag_minimum(a, b); assert_values(r, 2, -7, -4, 0);
    r = ag_neg(a); assert_int_equal(ag_dtype_of(r), AG_I64); assert_values(r, -7, 7, -3, 0);
    r = ag_abs(a); assert_int_equal(ag_dtype_of(r), AG_I64); assert_values(r, 7, 7, 3, 0);
    r = ag_sign(a); assert_values(r, 1, -1, 1, 0);
    r = ag_square(a); assert_int_equal(ag_dtype_of(r), AG_I64); assert_values(r, 49, 49, 9, 0);
    /* int pow stays integral and exact beyond 2^53 */
    ag_tensor *base = ag_from_data((int64_t[]){2, -3, 3, 1}, AG_SHAPE(4), AG_I64);
    ag_tensor *ex = ag_from_data((int64_t[]){10, 3, 39, 100}, AG_SHAPE(4), AG_I64);
    r = ag_pow(base, ex);
    assert_int_equal(ag_dtype_of(r), AG_I64);
    const int64_t *pv = ag_data(r);
    assert_true(pv[0] == 1024 && pv[1] == -27 && pv[2] == 4052555153018976267LL && pv[3] == 1);
    r = ag_pow_s(base, 2);
    assert_int_equal(ag_dtype_of(r), AG_I64);
    assert_values(r, 4, 9, 9, 1);
    /* int with float scalar -> default float; integral scalar keeps int */
    r = ag_add_s(a, 1); assert_int_equal(ag_dtype_of(r), AG_I64); assert_values(r, 8, -6, 4, 1);
    r = ag_add_s(a, 0.5); assert_int_equal(ag_dtype_of(r), AG_F64); assert_values(r, 7.5, -6.5, 3.5, 0.5);
    r = ag_rsub_s(10, a); assert_int_equal(ag_dtype_of(r), AG_I64); assert_values(r, 3, 17, 7, 10);
    r = ag_mul_s(a, -2); assert_int_equal(ag_dtype_of(r), AG_I64); assert_values(r, -14, 14, -6, 0);

    /* bool: + is or, * is and, / is true division to the default float (torch) */
    ag_tensor *p = ag_from_data((bool[]){true, true, false, false}, AG_SHAPE(4), AG_BOOL);
    ag_tensor *q = ag_from_data((bool[]){true, false, true, false}, AG_SHAPE(4), AG_BOOL);
    r = ag_add(p, q); assert_int_equal(ag_dtype_of(r), AG_BOOL); assert_values(r, 1, 1, 1, 0);
    r = ag_mul(p, q); assert_int_equal(ag_dtype_of(r), AG_BOOL); assert_values(r, 1, 0, 0, 0);
    r = ag_div(p, q); assert_int_equal(ag_dtype_of(r), AG_F64); assert_values(r, 1, INFINITY, 0, NAN);
    r = ag_maximum(p, q); assert_int_equal(ag_dtype_of(r), AG_BOOL); assert_values(r, 1, 1, 1, 0);
    r = ag_add(p, a); assert_int_equal(ag_dtype_of(r), AG_I64); assert_values(r, 8, -6, 3, 0);
    r = ag_mul_s(p, 3); assert_int_equal(ag_dtype_of(r), AG_I64); assert_values(r, 3, 3, 0, 0);
    r = ag_abs(p); assert_int_equal(ag_dtype_of(r), AG_BOOL);
    r = ag_sum(p, AG_ALL_DIMS, false); assert_int_equal(ag_dtype_of(r), AG_I64); assert_values(r, 2);
    r = ag_sum(a, AG_ALL_DIMS, false); assert_int_equal(ag_dtype_of(r), AG_I64); assert_values(r, 3);
    r = ag_prod(b, AG_ALL_DIMS, false); assert_int_equal(ag_dtype_of(r), AG_I64); assert_values(r, -80);
    r = ag_amax(a, AG_ALL_DIMS, false); assert_int_equal(ag_dtype_of(r), AG_I64); assert_values(r, 7);
    r = ag_amax(q, AG_ALL_DIMS, false); assert_int_equal(ag_dtype_of(r), AG_BOOL); assert_values(r, 1);

    /* comparisons promote across dtypes */
    ag_tensor *i3 = ag_from_data((int64_t[]){1, 2, 3}, AG_SHAPE(3), AG_I64);
    ag_tensor *f3 = ag_full(AG_SHAPE(3), 1.5, AG_F32);
    r = ag_lt(i3, f3); assert_int_equal(ag_dtype_of(r), AG_BOOL); assert_values(r, 1, 0, 0);
    assert_values(ag_ge(f3, i3), 1, 0, 0);
    assert_values(ag_eq(i3, ag_from_data((bool[]){true, false, true}, AG_SHAPE(3), AG_BOOL)), 1, 0, 0);
    assert_values(ag_ne(i3, ag_full_complex(AG_SHAPE(3), 2, 0, AG_C64)), 1, 0, 1);
    assert_values(ag_eq(ag_full_complex(AG_SHAPE(2), 1, 1, AG_C128), ag_full_complex(AG_SHAPE(2), 1, 1, AG_C64)), 1, 1);
    /* large int64 compare exactly (no detour through double) */
    ag_tensor *big = ag_from_data((int64_t[]){INT64_MAX}, AG_SHAPE(1), AG_I64);
    ag_tensor *big1 = ag_from_data((int64_t[]){INT64_MAX - 1}, AG_SHAPE(1), AG_I64);
    assert_values(ag_gt(big, big1), 1);
    assert_values(ag_le(big, big1), 0);
    /* where promotes its branches */
    r = ag_where(ag_from_data((bool[]){true, false}, AG_SHAPE(2), AG_BOOL), ag_ones(AG_SHAPE(2), AG_I64),
                 ag_full(AG_SHAPE(2), 0.5, AG_F32));
    assert_int_equal(ag_dtype_of(r), AG_F32);
    assert_values(r, 1, 0.5);
    ag_scope_end();
}

static void test_casts_all_pairs(void **state) {
    (void)state;
    /* five elements per source: includes a value with only an imaginary part */
    const double re[5] = {0, 1.5, -2.7, 3, 0}, im[5] = {0, -1, 2, 0.5, 1};
    ag_scope_begin();
    for (int s = 0; s < AG_NUM_DTYPES; s++) {
        ag_dtype sd = ALL_DT[s];
        /* the source as that dtype holds: */
        double sre[5], sim[5];
        for (int i = 0; i < 5; i++) {
            switch (sd) {
            case AG_F32: sre[i] = (float)re[i]; sim[i] = 0; break;
            case AG_F64: sre[i] = re[i]; sim[i] = 0; break;
            case AG_C64: sre[i] = (float)re[i]; sim[i] = (float)im[i]; break;
            case AG_C128: sre[i] = re[i]; sim[i] = im[i]; break;
            case AG_I64: case AG_I32: sre[i] = trunc(re[i]); sim[i] = 0; break;
            case AG_U8: sre[i] = (uint8_t)(int64_t)re[i]; sim[i] = 0; break; /* -2.7 -> 254 */
            default: sre[i] = re[i] != 0; sim[i] = 0; break;
            }
        }
        ag_tensor *src;
        if (ag_dtype_is_complex(sd)) {
            double complex z[5];
            for (int i = 0; i < 5; i++) z[i] = CMPLX(re[i], im[i]);
            src = ag_to_dtype(ag_from_data(z, AG_SHAPE(5), AG_C128), sd);
        } else {
            src = ag_to_dtype(ag_from_data(re, AG_SHAPE(5), AG_F64), sd);
        }
        double complex *sv = tu_cvalues(src);
        for (int i = 0; i < 5; i++) assert_true(sv[i] == CMPLX(sre[i], sim[i]));
        free(sv);
        for (int d = 0; d < AG_NUM_DTYPES; d++) {
            ag_dtype dd = ALL_DT[d];
            ag_tensor *c = ag_to_dtype(src, dd);
            assert_non_null(c);
            assert_int_equal(ag_dtype_of(c), dd);
            if (s == d) assert_true(ag_shares_storage(c, src));
            double complex *cv = tu_cvalues(c);
            for (int i = 0; i < 5; i++) {
                double er, ei = 0;
                switch (dd) {
                case AG_F32: er = (float)sre[i]; break;                /* complex -> real part */
                case AG_F64: er = sre[i]; break;
                case AG_C64: er = (float)sre[i]; ei = (float)sim[i]; break;
                case AG_C128: er = sre[i]; ei = sim[i]; break;
                case AG_I64: case AG_I32: er = trunc(sre[i]); break;   /* toward zero */
                case AG_U8: er = (uint8_t)(int64_t)sre[i]; break;      /* via int64, wrapping */
                default: er = sre[i] != 0 || sim[i] != 0; break;        /* nonzero */
                }
                if (cv[i] != CMPLX(er, ei))
                    fail_msg("cast %s -> %s of element %d: got %g%+gi, expected %g%+gi", ag_dtype_name(sd),
                             ag_dtype_name(dd), i, creal(cv[i]), cimag(cv[i]), er, ei);
            }
            free(cv);
            /* copy_ into an existing tensor converts the same way */
            ag_tensor *dst = ag_zeros(AG_SHAPE(5), dd);
            assert_int_equal(ag_copy_(dst, src), 0);
            assert_memory_equal(ag_data(dst), ag_data(ag_contiguous(c)), 5 * ag_dtype_size(dd));
        }
    }
    ag_scope_end();
}

/* i32 and u8 (FITS images, masks): creation, narrowing casts, and arithmetic computed through
 * i64 with PyTorch's result dtypes. Expected values from torch 1.13 (x86):
 *   torch.tensor([-1.5, 255.9, 256, 300.7, -300.2, 1000, -0.5]).to(uint8) = [255, 255, 0, 44, 212, 232, 0]
 *   torch.tensor([-1, 256, 2**31, -2**31-1, 70000, 255]).to(int32) = [-1, 256, -2**31, 2**31-1, 70000, 255]
 *   ... .to(uint8) = [255, 0, 0, 255, 112, 255]
 *   u = uint8 [200, 3, 0, 255]; u + uint8 [100, 5, 0, 1] = [44, 8, 0, 0]; u - that = [100, 254, 0, 254];
 *   u * torch.tensor(2) (0-d i64) = uint8 [144, 6, 0, 254]; u + 5 = uint8 [205, 8, 5, 4]; -u = [56, 253, 0, 1];
 *   u.sum() = int64 458; u.amax() uint8; u > int32 [1, 2, 3, 4] = [T, T, F, T];
 *   where(c, u, int32) int32; int32 [2**31-1] + 1 = [-2**31]; complex(-3.7+2j).to(uint8) = 253 */
static void test_i32_u8(void **state) {
    (void)state;
    ag_scope_begin();
    /* creation */
    ag_tensor *z = ag_zeros(AG_SHAPE(2, 3), AG_U8), *o = ag_ones(AG_SHAPE(3), AG_I32);
    assert_int_equal(ag_dtype_of(z), AG_U8);
    assert_values(z, 0, 0, 0, 0, 0, 0);
    assert_int_equal(ag_dtype_of(o), AG_I32);
    assert_values(o, 1, 1, 1);
    assert_values(ag_full(AG_SHAPE(2), 7, AG_U8), 7, 7);
    assert_values(ag_full(AG_SHAPE(2), -3, AG_I32), -3, -3);
    assert_values(ag_arange(0, 5, 1, AG_U8), 0, 1, 2, 3, 4);
    assert_values(ag_arange(0, 5, 2, AG_I32), 0, 2, 4);
    assert_int_equal(ag_dtype_of(ag_empty(AG_SHAPE(4), AG_U8)), AG_U8);
    assert_true(ag_item(ag_scalar(255, AG_U8)) == 255);
    assert_true(ag_item(ag_scalar(-7, AG_I32)) == -7);
    /* casts: float -> u8 through int64, integer narrowing wraps */
    ag_tensor *f = ag_from_data((double[]){-1.5, 255.9, 256, 300.7, -300.2, 1000, -0.5}, AG_SHAPE(7), AG_F64);
    assert_values(ag_to_dtype(f, AG_U8), 255, 255, 0, 44, 212, 232, 0);
    assert_values(ag_to_dtype(ag_to_dtype(f, AG_F32), AG_U8), 255, 255, 0, 44, 212, 232, 0);
    assert_values(ag_to_dtype(f, AG_I32), -1, 255, 256, 300, -300, 1000, 0);
    ag_tensor *i = ag_from_data((int64_t[]){-1, 256, 2147483648LL, -2147483649LL, 70000, 255}, AG_SHAPE(6), AG_I64);
    assert_values(ag_to_dtype(i, AG_I32), -1, 256, -2147483648.0, 2147483647, 70000, 255);
    assert_values(ag_to_dtype(i, AG_U8), 255, 0, 0, 255, 112, 255);
    assert_values(ag_to_dtype(ag_to_dtype(i, AG_I32), AG_U8), 255, 0, 0, 255, 112, 255);
    assert_values(ag_to_dtype(ag_full_complex(NULL, 0, -3.7, 2, AG_C128), AG_U8), 253);
    assert_values(ag_to_dtype(ag_from_data((uint8_t[]){0, 9}, AG_SHAPE(2), AG_U8), AG_BOOL), 0, 1);
    /* a strided (transposed) source converts in logical order, also into a host buffer */
    ag_tensor *t = ag_transpose(ag_from_data((int32_t[]){1, -2, 3, 300}, AG_SHAPE(2, 2), AG_I32), 0, 1);
    uint8_t ub[4];
    assert_int_equal(ag_copy_to_buffer(t, ub, AG_U8), 0);
    assert_memory_equal(ub, ((uint8_t[]){1, 3, 254, 44}), 4);
    int32_t ib[3];
    assert_int_equal(ag_copy_to_buffer(ag_from_data((double[]){-2.5, 7.9, 0}, AG_SHAPE(3), AG_F64), ib, AG_I32), 0);
    assert_memory_equal(ib, ((int32_t[]){-2, 7, 0}), sizeof ib);
    /* arithmetic, computed in i64 and cast back: wraps as PyTorch */
    ag_tensor *u = ag_from_data((uint8_t[]){200, 3, 0, 255}, AG_SHAPE(4), AG_U8);
    ag_tensor *v = ag_from_data((uint8_t[]){100, 5, 0, 1}, AG_SHAPE(4), AG_U8);
    ag_tensor *w = ag_from_data((int32_t[]){1, 2, 3, 4}, AG_SHAPE(4), AG_I32);
    ag_tensor *r = ag_add(u, v);
    assert_int_equal(ag_dtype_of(r), AG_U8);
    assert_values(r, 44, 8, 0, 0);
    assert_values(ag_sub(u, v), 100, 254, 0, 254);
    r = ag_mul(u, ag_scalar(2, AG_I64)); /* a 0-d integer does not raise the dtype */
    assert_int_equal(ag_dtype_of(r), AG_U8);
    assert_values(r, 144, 6, 0, 254);
    r = ag_add_s(u, 5);
    assert_int_equal(ag_dtype_of(r), AG_U8);
    assert_values(r, 205, 8, 5, 4);
    assert_values(ag_neg(u), 56, 253, 0, 1);
    r = ag_add(u, w);
    assert_int_equal(ag_dtype_of(r), AG_I32);
    assert_values(r, 201, 5, 3, 259);
    assert_int_equal(ag_dtype_of(ag_add(u, ag_ones(AG_SHAPE(4), AG_I64))), AG_I64);
    assert_int_equal(ag_dtype_of(ag_add(u, ag_ones(AG_SHAPE(4), AG_BOOL))), AG_U8);
    assert_int_equal(ag_dtype_of(ag_mul(w, ag_ones(AG_SHAPE(4), AG_F32))), AG_F32);
    assert_int_equal(ag_dtype_of(ag_div(u, v)), ag_get_default_dtype());
    assert_values(ag_add(ag_from_data((int32_t[]){INT32_MAX}, AG_SHAPE(1), AG_I32), ag_ones(AG_SHAPE(1), AG_I32)),
                  -2147483648.0);
    /* reductions: sum gives i64, max keeps the dtype */
    r = ag_sum(u, AG_ALL_DIMS, false);
    assert_int_equal(ag_dtype_of(r), AG_I64);
    assert_values(r, 458);
    assert_int_equal(ag_dtype_of(ag_sum(w, AG_ALL_DIMS, false)), AG_I64);
    r = ag_amax(u, AG_ALL_DIMS, false);
    assert_int_equal(ag_dtype_of(r), AG_U8);
    assert_values(r, 255);
    /* comparisons give bool; where follows result_type */
    r = ag_gt(u, w);
    assert_int_equal(ag_dtype_of(r), AG_BOOL);
    assert_values(r, 1, 1, 0, 1);
    assert_values(ag_eq(u, ag_scalar(255, AG_I64)), 0, 0, 0, 1);
    ag_tensor *c = ag_from_data((bool[]){true, false, true, false}, AG_SHAPE(4), AG_BOOL);
    r = ag_where(c, u, w);
    assert_int_equal(ag_dtype_of(r), AG_I32);
    assert_values(r, 200, 2, 0, 4);
    r = ag_where(c, u, v);
    assert_int_equal(ag_dtype_of(r), AG_U8);
    assert_values(r, 200, 5, 0, 1);
    /* kernels without these dtypes refuse them clearly */
    assert_null(ag_matmul(ag_ones(AG_SHAPE(2, 2), AG_U8), ag_ones(AG_SHAPE(2, 2), AG_U8)));
    assert_int_equal(ag_error_code(), AG_ERR_DTYPE);
    assert_non_null(strstr(ag_last_error(), "u8"));
    ag_clear_error();
    /* indexing, scatter and sort kernels carry them natively (values from torch 1.13) */
    ag_tensor *a = ag_from_data((int32_t[]){-200, 3, 0, 255, 7, -9}, AG_SHAPE(2, 3), AG_I32);
    ag_tensor *b8 = ag_from_data((uint8_t[]){200, 3, 0, 255, 7, 9}, AG_SHAPE(2, 3), AG_U8);
    ag_tensor *sel = ag_from_data((int64_t[]){2, 0}, AG_SHAPE(2), AG_I64);
    ag_tensor *sidx = ag_from_data((int64_t[]){0, 0, 1, 2, 2, 2}, AG_SHAPE(2, 3), AG_I64);
    ag_tensor *gidx = ag_from_data((int64_t[]){2, 1, 0, 0}, AG_SHAPE(2, 2), AG_I64);
    r = ag_index_select(a, 1, sel);
    assert_int_equal(ag_dtype_of(r), AG_I32);
    assert_values(r, 0, -200, -9, 255);
    assert_values(ag_index_select(b8, 1, sel), 0, 200, 9, 255);
    assert_values(ag_nonzero(a), 0, 0, 0, 1, 1, 0, 1, 1, 1, 2);
    assert_values(ag_masked_select(b8, ag_gt(b8, ag_scalar(5, AG_I64))), 200, 255, 7, 9);
    assert_values(ag_gather(a, 1, gidx), 0, 3, 255, 255);
    assert_values(ag_take(b8, ag_from_data((int64_t[]){5, 0}, AG_SHAPE(2), AG_I64)), 9, 200);
    r = ag_scatter_add(ag_zeros_like(b8), 1, sidx, b8); /* 255 + 7 + 9 wraps to 15 */
    assert_int_equal(ag_dtype_of(r), AG_U8);
    assert_values(r, 203, 0, 0, 0, 0, 15);
    assert_values(ag_scatter_add(ag_zeros_like(a), 1, sidx, a), -197, 0, 0, 0, 0, 253);
    assert_values(ag_scatter(ag_zeros_like(a), 1, sidx, a), 3, 0, 0, 0, 0, -9);
    r = ag_sort(a, 1, false, NULL);
    assert_int_equal(ag_dtype_of(r), AG_I32);
    assert_values(r, -200, 0, 3, -9, 7, 255);
    assert_values(ag_sort(b8, 1, false, NULL), 0, 3, 200, 7, 9, 255);
    assert_values(ag_argsort(a, 1, true), 1, 2, 0, 0, 1, 2);
    assert_values(ag_argsort(b8, 1, true), 0, 1, 2, 0, 2, 1);
    assert_values(ag_topk(b8, 2, 1, true, true, NULL), 200, 3, 255, 9);
    assert_values(ag_median(a), 0);
    assert_values(ag_median(b8), 7);
    r = ag_cumsum(b8, 1);
    assert_int_equal(ag_dtype_of(r), AG_I64);
    assert_values(r, 200, 203, 203, 255, 262, 271);
    assert_null(ag_quantile(b8, 0.5, NULL, 0, false));
    assert_error(AG_ERR_DTYPE, "ag_quantile", "u8");
    ag_scope_end();
}

/* ================================ 6. reductions ================================ */

static void test_reduce_empty_and_shapes(void **state) {
    (void)state;
    ag_scope_begin();
    ag_tensor *e = ag_zeros(AG_SHAPE(0), AG_F64);
    ag_tensor *r = ag_sum(e, AG_ALL_DIMS, false);
    assert_shape0(r);
    assert_values(r, 0);
    assert_values(ag_prod(e, AG_ALL_DIMS, false), 1);
    assert_values(ag_mean(e, AG_ALL_DIMS, false), NAN);
    assert_values(ag_sum(ag_zeros(AG_SHAPE(0), AG_I64), AG_ALL_DIMS, false), 0);
    double complex *cv = tu_cvalues(ag_prod(ag_zeros(AG_SHAPE(0), AG_C64), AG_ALL_DIMS, false));
    assert_true(cv[0] == 1);
    free(cv);
    ag_tensor *e2 = ag_zeros(AG_SHAPE(2, 0), AG_F32);
    r = ag_sum(e2, AG_DIMS(1), false);
    assert_shape(r, 2);
    assert_values(r, 0, 0);
    assert_values(ag_prod(e2, AG_DIMS(-1), true), 1, 1);
    assert_shape(ag_prod(e2, AG_DIMS(-1), true), 2, 1);
    assert_shape(ag_sum(e2, AG_DIMS(0), false), 0);
    /* max/min have no identity: an error for an empty reduced dim, fine for an empty kept one */
    assert_null(ag_amax(e, AG_ALL_DIMS, false));
    assert_error(AG_ERR_SHAPE, "ag_amax", "empty", "[0]");
    assert_null(ag_amin(e2, AG_DIMS(1), false));
    assert_error(AG_ERR_SHAPE, "ag_amin", "[2,0]");
    assert_null(ag_amax(ag_zeros(AG_SHAPE(3, 0), AG_F32), AG_DIMS(1), false));
    assert_error(AG_ERR_SHAPE, "ag_amax", "[3,0]");
    assert_null(ag_max_dim(e2, 1, false, NULL));
    assert_error(AG_ERR_SHAPE, "ag_max_dim", "[2,0]");
    assert_null(ag_argmax(e, 0, false));
    assert_error(AG_ERR_SHAPE, "ag_argmax");
    assert_shape(ag_amax(e2, AG_DIMS(0), false), 0);
    assert_shape(ag_argmin(ag_zeros(AG_SHAPE(0, 3), AG_F32), 1, true), 0, 1);

    /* keepdim shapes */
    ag_tensor *x = ag_ones(AG_SHAPE(2, 3, 4), AG_F64);
    assert_shape(ag_sum(x, AG_DIMS(0, 2), true), 1, 3, 1);
    assert_shape(ag_sum(x, AG_DIMS(0, 2), false), 3);
    assert_shape(ag_sum(x, AG_DIMS(-1), false), 2, 3);
    assert_shape0(ag_sum(x, AG_DIMS(2, 0, 1), false));
    assert_shape0(ag_sum(x, AG_ALL_DIMS, false));
    assert_shape(ag_sum(x, AG_ALL_DIMS, true), 1, 1, 1);
    assert_shape(ag_mean(x, AG_DIMS(1), true), 2, 1, 4);
    assert_shape(ag_amax(x, AG_DIMS(-2, -3), true), 1, 1, 4);
    assert_shape(ag_var(x, AG_DIMS(1), 1, true), 2, 1, 4);
    assert_shape(ag_argmax(x, 1, true), 2, 1, 4);
    assert_shape(ag_argmax(x, -1, false), 2, 3);
    assert_values(ag_sum(x, AG_DIMS(0, 2), false), 8, 8, 8);
    /* 0-d input: dim 0 / -1 allowed, the result stays 0-d */
    ag_tensor *s = ag_scalar(4, AG_F64);
    assert_shape0(ag_sum(s, AG_DIMS(0), false));
    assert_shape0(ag_sum(s, AG_DIMS(-1), true));
    assert_values(ag_amax(s, AG_DIMS(0), false), 4);
    assert_values(ag_argmax(s, 0, false), 0);
    /* duplicate and out-of-range dims */
    assert_null(ag_sum(x, AG_DIMS(0, -3), false));
    assert_error(AG_ERR_INVALID, "ag_sum", "more than once");
    assert_null(ag_amax(x, AG_DIMS(1, 1), false));
    assert_error(AG_ERR_INVALID, "ag_amax", "more than once");
    assert_null(ag_sum(x, AG_DIMS(3), false));
    assert_error(AG_ERR_INDEX, "ag_sum", "dim 3 out of range", "3-d");
    assert_null(ag_mean(x, AG_DIMS(-4), false));
    assert_error(AG_ERR_INDEX, "ag_mean", "dim -4");
    assert_null(ag_argmax(x, 5, false));
    assert_error(AG_ERR_INDEX, "ag_argmax", "dim 5");
    assert_null(ag_sum(s, AG_DIMS(1), false));
    assert_error(AG_ERR_INDEX, "ag_sum", "0-d");
    ag_scope_end();
}

static void test_reduce_ties_and_nan(void **state) {
    (void)state;
    ag_scope_begin();
    ag_tensor *t = ag_from_data((double[]){1, 3, 3, 2, 3}, AG_SHAPE(5), AG_F64);
    assert_values(ag_argmax(t, 0, false), 1);
    assert_values(ag_argmin(ag_from_data((double[]){2, 0, 5, 0}, AG_SHAPE(4), AG_F64), 0, false), 1);
    ag_tensor *m = ag_from_data((int64_t[]){4, 1, 4, 7, 4, 7}, AG_SHAPE(3, 2), AG_I64);
    assert_values(ag_argmax(m, 0, false), 0, 1);
    assert_values(ag_argmax(m, 1, false), 0, 1, 1);
    ag_tensor *ix = NULL;
    ag_tensor *mx = ag_max_dim(m, 0, false, &ix);
    assert_values(mx, 4, 7);
    assert_values(ix, 0, 1);
    ag_tensor *mn = ag_min_dim(m, 0, true, &ix);
    assert_shape(mn, 1, 2);
    assert_shape(ix, 1, 2);
    assert_values(mn, 4, 1);
    assert_values(ix, 0, 0);
    /* on a transposed view the index counts along the logical dim */
    assert_values(ag_argmax(ag_transpose(m, 0, 1), 1, false), 0, 1);

    /* NaN propagates through max/min, amax/amin and maximum/minimum (torch) */
    ag_tensor *n = ag_from_data((double[]){1, NAN, 3, NAN, 0, -1}, AG_SHAPE(2, 3), AG_F64);
    assert_values(ag_amax(n, AG_ALL_DIMS, false), NAN);
    assert_values(ag_amin(n, AG_DIMS(1), false), NAN, NAN);
    assert_values(ag_amax(n, AG_DIMS(0), false), NAN, NAN, 3);
    assert_values(ag_max_dim(n, 1, false, &ix), NAN, NAN);
    assert_values(ix, 1, 0); /* the first NaN */
    assert_values(ag_argmin(n, 0, false), 1, 0, 1);
    ag_tensor *n0 = ag_from_data((float[]){NAN, 1, 2}, AG_SHAPE(3), AG_F32);
    assert_values(ag_amax(n0, AG_ALL_DIMS, false), NAN);
    assert_values(ag_argmin(n0, 0, false), 0);
    ag_tensor *a = ag_from_data((double[]){1, NAN, NAN, 5}, AG_SHAPE(4), AG_F64);
    ag_tensor *b = ag_from_data((double[]){NAN, 2, NAN, 4}, AG_SHAPE(4), AG_F64);
    assert_values(ag_maximum(a, b), NAN, NAN, NAN, 5);
    assert_values(ag_minimum(a, b), NAN, NAN, NAN, 4);
    assert_values(ag_sum(a, AG_ALL_DIMS, false), NAN);
    /* inf is an ordinary extreme */
    assert_values(ag_amax(ag_from_data((double[]){-INFINITY, 2, INFINITY}, AG_SHAPE(3), AG_F64), AG_ALL_DIMS, false), INFINITY);
    ag_scope_end();
}

/* sort & co.: stability, NaN as the largest value, strided views, 0-d, k = 0, NaN rows in median
 * and quantile, and many rows (the parallel path) against a per-row check */
static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void test_sort(void **state) {
    (void)state;
    ag_scope_begin();
    ag_tensor *ix = NULL;
    /* stable: equal values keep their order, ascending and descending */
    ag_tensor *t = ag_from_data((double[]){2, 1, 2, 0, 1, 2}, AG_SHAPE(6), AG_F64);
    assert_values(ag_sort(t, 0, false, &ix), 0, 1, 1, 2, 2, 2);
    assert_values(ix, 3, 1, 4, 0, 2, 5);
    assert_values(ag_sort(t, 0, true, &ix), 2, 2, 2, 1, 1, 0);
    assert_values(ix, 0, 2, 5, 1, 4, 3);
    /* NaN sorts as the largest value (first when descending); inf before it */
    ag_tensor *n = ag_from_data((float[]){NAN, 1, INFINITY, -INFINITY, NAN, 0}, AG_SHAPE(6), AG_F32);
    assert_values(ag_sort(n, 0, false, &ix), -INFINITY, 0, 1, INFINITY, NAN, NAN);
    assert_values(ix, 3, 5, 1, 2, 0, 4);
    assert_values(ag_argsort(n, -1, true), 0, 4, 2, 1, 5, 3);
    /* a transposed (strided) view sorts along its logical dim */
    ag_tensor *m = ag_from_data((double[]){3, 1, 2, 0, 5, 4}, AG_SHAPE(2, 3), AG_F64);
    ag_tensor *mt = ag_transpose(m, 0, 1); /* [[3,0],[1,5],[2,4]] */
    assert_values(ag_sort(mt, 0, false, &ix), 1, 0, 2, 4, 3, 5);
    assert_values(ix, 1, 0, 2, 2, 0, 1);
    assert_values(ag_sort(mt, 1, true, NULL), 3, 0, 5, 1, 4, 2);
    /* 0-d: itself, index 0 */
    ag_tensor *s0 = ag_scalar(7, AG_F64);
    ag_tensor *v0 = ag_sort(s0, -1, false, &ix);
    assert_int_equal(ag_ndim(v0), 0);
    assert_values(v0, 7);
    assert_values(ix, 0);
    assert_values(ag_median_dim(s0, 0, false, &ix), 7);
    assert_values(ix, 0);
    assert_values(ag_quantile(s0, 0.3, AG_DIMS(0), false), 7);
    /* topk: ties keep their order; k = 0 gives an empty result */
    assert_values(ag_topk(ag_from_data((double[]){1, 3, 2, 3}, AG_SHAPE(4), AG_F64), 2, 0, true, true, &ix), 3, 3);
    assert_values(ix, 1, 3);
    ag_tensor *k0 = ag_topk(m, 0, 1, true, true, &ix);
    assert_shape(k0, 2, 0);
    assert_shape(ix, 2, 0);
    /* median: the lower one; NaN rows give NaN and the first NaN's index (torch) */
    assert_values(ag_median(ag_from_data((double[]){4, 1, 3, 2}, AG_SHAPE(4), AG_F64)), 2);
    ag_tensor *nm = ag_from_data((double[]){1, NAN, 3, NAN, 0, 5, 4, 3, 2, 1}, AG_SHAPE(2, 5), AG_F64);
    assert_values(ag_median_dim(nm, 1, false, &ix), NAN, 3);
    assert_values(ix, 1, 2);
    assert_values(ag_median(nm), NAN);
    assert_values(ag_median(ag_from_data((int64_t[]){5, 1, 4, 1}, AG_SHAPE(4), AG_I64)), 1);
    /* quantile: linear interpolation, NaN rows NaN */
    assert_values(ag_quantile(nm, 0.3, AG_DIMS(1), false), NAN, 2.2);
    assert_values(ag_quantile(nm, 0.5, AG_ALL_DIMS, false), NAN);
    ag_tensor *qv = ag_from_data((double[]){0, 10, 20, 30}, AG_SHAPE(4), AG_F64);
    assert_values(ag_quantile(qv, 0, AG_ALL_DIMS, false), 0);
    assert_values(ag_quantile(qv, 1, AG_ALL_DIMS, false), 30);
    assert_values(ag_quantile(qv, 0.5, AG_ALL_DIMS, true), 15);
    /* many rows, both thread counts: sorted, a permutation, and the same bits */
    int saved = ag_get_num_threads();
    ag_manual_seed(11);
    const int64_t R = 700, K = 97;
    ag_tensor *x = ag_randn(AG_SHAPE(K, R), AG_F64); /* sorted along dim 0: strided rows */
    ag_set_num_threads(2);
    ag_tensor *i2 = ag_argsort(x, 0, false);
    ag_set_num_threads(1);
    ag_tensor *i1 = ag_argsort(x, 0, false);
    ag_set_num_threads(saved);
    assert_memory_equal(ag_data(i1), ag_data(i2), (size_t)(R * K) * sizeof(int64_t));
    const double *xv = ag_data(x);
    const int64_t *iv = ag_data(i2);
    double *row = malloc((size_t)K * sizeof *row);
    for (int64_t r = 0; r < R; r++) {
        for (int64_t k = 0; k < K; k++) row[k] = xv[k * R + r];
        qsort(row, (size_t)K, sizeof *row, cmp_double);
        for (int64_t k = 0; k < K; k++)
            if (xv[iv[k * R + r] * R + r] != row[k]) fail_msg("row %lld: position %lld out of order", (long long)r, (long long)k);
    }
    free(row);
    ag_scope_end();
}

static double complex citem(const ag_tensor *t) {
    double re = NAN, im = NAN;
    assert_int_equal(ag_item_complex(t, &re, &im), 0);
    return CMPLX(re, im);
}

/* > 32768 elements: the blocked and parallel paths, against a long double reference */
static void test_reduce_large(void **state) {
    (void)state;
    int saved = ag_get_num_threads();
    ag_scope_begin();
    ag_manual_seed(5);
    const int64_t N = 100003; /* several blocks of 32768 and a ragged tail */
    for (int d = 0; d < 4; d++) {
        ag_dtype dt = ALL_DT[d];
        ag_tensor *x = ag_add_s(ag_randn(AG_SHAPE(N), dt), 0.25);
        double complex *v = tu_cvalues(x), ref = 0;
        long double rr = 0, ri = 0;
        for (int64_t i = 0; i < N; i++) { rr += creall(v[i]); ri += cimagl(v[i]); }
        ref = CMPLX((double)rr, (double)ri);
        free(v);
        double tol = (d == 0 || d == 2) ? 1e-5 : 1e-11; /* f32 accumulates in double: only the final rounding */
        ag_set_num_threads(2);
        ag_tensor *s2 = ag_sum(x, AG_ALL_DIMS, false);
        ag_set_num_threads(1);
        ag_tensor *s1 = ag_sum(x, AG_ALL_DIMS, false);
        ag_set_num_threads(saved);
        /* the same bits on any thread count */
        assert_memory_equal(ag_data(s1), ag_data(s2), ag_dtype_size(dt));
        double complex g1 = citem(s1);
        if (cabs(g1 - ref) > tol * fmax(1, cabs(ref)))
            fail_msg("sum of %lld %s: %.17g%+.17gi, reference %.17g%+.17gi", (long long)N, ag_dtype_name(dt),
                     creal(g1), cimag(g1), creal(ref), cimag(ref));
        assert_true(cabs(citem(ag_mean(x, AG_ALL_DIMS, false)) - ref / (double)N) < tol);
        /* along the long dim of a strided view: every 3rd element */
        ag_tensor *xs = ag_slice(x, 0, 0, N, 3);
        v = tu_cvalues(xs);
        rr = ri = 0;
        for (int64_t i = 0; i < ag_numel(xs); i++) { rr += creall(v[i]); ri += cimagl(v[i]); }
        free(v);
        assert_true(cabs(citem(ag_sum(xs, AG_DIMS(0), false)) - CMPLX((double)rr, (double)ri)) < tol * fmax(1, fabs((double)rr)));
    }
    ag_scope_end();
    ag_set_num_threads(saved);
}

static void test_reduce_columns_and_strided(void **state) {
    (void)state;
    int saved = ag_get_num_threads();
    ag_scope_begin();
    ag_manual_seed(11);
    const int R = 1000, C = 37;
    for (int d = 0; d < 2; d++) {
        ag_dtype dt = ALL_DT[d];
        double tol = d == 0 ? 1e-5 : 1e-12;
        ag_tensor *x = ag_randn(AG_SHAPE(R, C), dt);
        double *v = tu_values(x);
        double colsum[37] = {0}, colmax[37], rowsum[1000] = {0}, all = 0;
        int64_t colarg[37] = {0};
        for (int j = 0; j < C; j++) colmax[j] = -INFINITY;
        for (int i = 0; i < R; i++)
            for (int j = 0; j < C; j++) {
                double e = v[i * C + j];
                colsum[j] += e;
                rowsum[i] += e;
                all += e;
                if (e > colmax[j]) { colmax[j] = e; colarg[j] = i; }
            }
        free(v);
        for (int nt = 1; nt <= 2; nt++) {
            ag_set_num_threads(nt);
            /* column reduction (dense kept dim), on the tensor and on its transpose's transpose */
            ag_tensor *xt = ag_transpose(ag_contiguous(ag_transpose(x, 0, 1)), 0, 1); /* same values, column-major */
            assert_false(ag_is_contiguous(xt));
            ag_tensor *inputs[2] = {x, xt};
            for (int k = 0; k < 2; k++) {
                double *cs = tu_values(ag_sum(inputs[k], AG_DIMS(0), false));
                double *rs = tu_values(ag_sum(inputs[k], AG_DIMS(1), false));
                double *cm = tu_values(ag_amax(inputs[k], AG_DIMS(0), false));
                double *ca = tu_values(ag_argmax(inputs[k], 0, false));
                double tot = ag_item(ag_sum(inputs[k], AG_ALL_DIMS, false));
                for (int j = 0; j < C; j++) {
                    if (fabs(cs[j] - colsum[j]) > tol * 40) fail_msg("column %d sum %g vs %g (%s, input %d)", j, cs[j], colsum[j], ag_dtype_name(dt), k);
                    assert_true(cm[j] == colmax[j]);
                    assert_true(ca[j] == (double)colarg[j]);
                }
                for (int i = 0; i < R; i++)
                    if (fabs(rs[i] - rowsum[i]) > tol * 10) fail_msg("row %d sum %g vs %g", i, rs[i], rowsum[i]);
                assert_true(fabs(tot - all) < tol * 1000);
                free(cs); free(rs); free(cm); free(ca);
            }
        }
        ag_set_num_threads(saved);
    }
    /* a 3-d permuted tensor reduced over two non-adjacent dims */
    ag_tensor *a = ag_permute(ag_reshape(ag_arange(0, 120, 1, AG_F64), AG_SHAPE(4, 5, 6)), (const int[]){2, 0, 1}, 3);
    ag_tensor *s = ag_sum(a, AG_DIMS(0, 2), false); /* over 6 and 5: for each of the 4 outer blocks */
    assert_values(s, 435, 1335, 2235, 3135);
    assert_values(ag_amax(a, AG_DIMS(1, 2), false), 114, 115, 116, 117, 118, 119);
    assert_values(ag_prod(ag_slice(ag_arange(1, 11, 1, AG_I64), 0, 0, 10, 3), AG_ALL_DIMS, false), 1 * 4 * 7 * 10);
    ag_scope_end();
}

/* ================================ 7. matmul ================================ */

static void naive_mm(const double complex *a, const double complex *b, double complex *c, int64_t M, int64_t K, int64_t N) {
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < N; j++) {
            double complex s = 0;
            for (int64_t k = 0; k < K; k++) s += a[i * K + k] * b[k * N + j];
            c[i * N + j] = s;
        }
}

static void check_mm(ag_tensor *r, ag_tensor *a, ag_tensor *b, double tol, const char *what) {
    assert_non_null(r);
    int64_t M = ag_shape(a)[0], K = ag_shape(a)[1], N = ag_shape(b)[1];
    assert_shape(r, M, N);
    double complex *av = tu_cvalues(a), *bv = tu_cvalues(b), *rv = tu_cvalues(r);
    double complex *ref = malloc((size_t)(M * N) * sizeof *ref);
    naive_mm(av, bv, ref, M, K, N);
    double worst = 0;
    for (int64_t i = 0; i < M * N; i++) worst = fmax(worst, cabs(rv[i] - ref[i]) / (1 + cabs(ref[i])));
    free(av); free(bv); free(rv); free(ref);
    if (worst > tol) fail_msg("%s (%s): worst relative error %g > %g", what, ag_dtype_name(ag_dtype_of(r)), worst, tol);
}

static void test_matmul_vs_naive(void **state) {
    (void)state;
    ag_scope_begin();
    ag_manual_seed(3);
    for (int d = 0; d < 4; d++) {
        ag_dtype dt = ALL_DT[d];
        double tol = (d == 0 || d == 2) ? 2e-5 : 1e-12;
        ag_tensor *a = ag_randn(AG_SHAPE(130, 70), dt), *b = ag_randn(AG_SHAPE(70, 90), dt);
        check_mm(ag_matmul(a, b), a, b, tol, "plain");
        /* transposed operands: strides (1, ld) go to BLAS as Trans */
        ag_tensor *at = ag_transpose(ag_contiguous(ag_transpose(a, 0, 1)), 0, 1);
        ag_tensor *bt = ag_transpose(ag_contiguous(ag_transpose(b, 0, 1)), 0, 1);
        check_mm(ag_matmul(at, b), at, b, tol, "A^T storage");
        check_mm(ag_matmul(a, bt), a, bt, tol, "B^T storage");
        check_mm(ag_matmul(at, bt), at, bt, tol, "both transposed");
        /* strides BLAS cannot take (every other column): packed */
        ag_tensor *wide = ag_randn(AG_SHAPE(130, 140), dt);
        ag_tensor *as = ag_slice(wide, 1, 0, 140, 2);
        check_mm(ag_matmul(as, b), as, b, tol, "strided A");
        /* row slices with a leading dimension larger than the width */
        ag_tensor *an = ag_narrow(wide, 1, 5, 70);
        check_mm(ag_matmul(an, b), an, b, tol, "narrowed A (ld > cols)");
        /* matrix-vector and vector-matrix */
        ag_tensor *x = ag_randn(AG_SHAPE(70), dt);
        ag_tensor *mv = ag_matmul(a, x);
        assert_shape(mv, 130);
        check_mm(ag_unsqueeze(mv, 1), a, ag_unsqueeze(x, 1), tol, "mv");
        ag_tensor *vm = ag_matmul(x, b);
        assert_shape(vm, 90);
        check_mm(ag_unsqueeze(vm, 0), ag_unsqueeze(x, 0), b, tol, "vm");
        ag_tensor *dot = ag_matmul(x, x);
        assert_shape0(dot);
        check_mm(ag_reshape(dot, AG_SHAPE(1, 1)), ag_unsqueeze(x, 0), ag_unsqueeze(x, 1), tol, "dot");
    }
    /* integers go through the plain loop */
    ag_tensor *ia = ag_randint(-5, 5, AG_SHAPE(13, 7)), *ib = ag_randint(-5, 5, AG_SHAPE(7, 9));
    ag_tensor *ir = ag_matmul(ia, ag_transpose(ag_contiguous(ag_transpose(ib, 0, 1)), 0, 1));
    assert_int_equal(ag_dtype_of(ir), AG_I64);
    check_mm(ir, ia, ib, 0, "i64");
    /* mixed dtypes are refused, as in PyTorch (test_errors.c has the rest) */
    assert_null(ag_matmul(ag_ones(AG_SHAPE(2, 3), AG_F32), ag_ones(AG_SHAPE(3, 2), AG_F64)));
    assert_error(AG_ERR_DTYPE, "ag_matmul", "same dtype", "f32 and f64");
    ag_scope_end();
}

static void test_matmul_batch_and_empty(void **state) {
    (void)state;
    ag_scope_begin();
    ag_manual_seed(8);
    ag_tensor *a = ag_randn(AG_SHAPE(5, 4), AG_F64);
    ag_tensor *b = ag_randn(AG_SHAPE(3, 4, 6), AG_F64);
    /* stride-0 batch: a [1,5,4] and an expanded [3,5,4] against [3,4,6] */
    ag_tensor *ae = ag_expand(a, AG_SHAPE(3, 5, 4));
    assert_int_equal(ag_strides(ae)[0], 0);
    ag_tensor *r1 = ag_matmul(ag_unsqueeze(a, 0), b), *r2 = ag_matmul(ae, b), *r3 = ag_matmul(a, b);
    assert_shape(r1, 3, 5, 6);
    assert_shape(r2, 3, 5, 6);
    assert_shape(r3, 3, 5, 6);
    for (int i = 0; i < 3; i++) {
        check_mm(ag_select(r1, 0, i), a, ag_select(b, 0, i), 1e-12, "broadcast batch a");
        check_mm(ag_select(r2, 0, i), a, ag_select(b, 0, i), 1e-12, "expanded a");
        check_mm(ag_select(r3, 0, i), a, ag_select(b, 0, i), 1e-12, "2-d a with batched b");
    }
    /* batched a with a plain matrix b, and a broadcast b batch */
    ag_tensor *c = ag_randn(AG_SHAPE(2, 3, 5, 4), AG_F64), *m = ag_randn(AG_SHAPE(4, 2), AG_F64);
    ag_tensor *r4 = ag_matmul(c, m);
    assert_shape(r4, 2, 3, 5, 2);
    check_mm(ag_select(ag_select(r4, 0, 1), 0, 2), ag_select(ag_select(c, 0, 1), 0, 2), m, 1e-12, "batched a, plain b");
    ag_tensor *be = ag_expand(ag_unsqueeze(m, 0), AG_SHAPE(3, 4, 2));
    ag_tensor *r5 = ag_matmul(c, be);
    assert_shape(r5, 2, 3, 5, 2);
    check_mm(ag_select(ag_select(r5, 0, 0), 0, 1), ag_select(ag_select(c, 0, 0), 0, 1), m, 1e-12, "expanded b");
    ag_tensor *r6 = ag_matmul(ag_randn(AG_SHAPE(3, 1, 5, 4), AG_F64), ag_randn(AG_SHAPE(2, 4, 6), AG_F64));
    assert_shape(r6, 3, 2, 5, 6);
    /* bmm */
    ag_tensor *bb = ag_bmm(ae, b);
    assert_shape(bb, 3, 5, 6);
    check_mm(ag_select(bb, 0, 2), a, ag_select(b, 0, 2), 1e-12, "bmm");
    /* 1-d with batches */
    assert_shape(ag_matmul(ag_ones(AG_SHAPE(4), AG_F64), b), 3, 6);
    assert_shape(ag_matmul(b, ag_ones(AG_SHAPE(6), AG_F64)), 3, 4);

    /* zero-size dims */
    assert_shape(ag_matmul(ag_ones(AG_SHAPE(0, 4), AG_F64), ag_ones(AG_SHAPE(4, 5), AG_F64)), 0, 5);
    assert_shape(ag_matmul(ag_ones(AG_SHAPE(3, 4), AG_F64), ag_ones(AG_SHAPE(4, 0), AG_F64)), 3, 0);
    for (int d = 0; d < 4; d++) {
        ag_tensor *z = ag_matmul(ag_ones(AG_SHAPE(3, 0), ALL_DT[d]), ag_ones(AG_SHAPE(0, 2), ALL_DT[d]));
        assert_shape(z, 3, 2);
        assert_values(z, 0, 0, 0, 0, 0, 0);
    }
    assert_values(ag_matmul(ag_ones(AG_SHAPE(0), AG_F64), ag_ones(AG_SHAPE(0), AG_F64)), 0);
    assert_shape(ag_matmul(ag_ones(AG_SHAPE(0, 2, 3), AG_F64), ag_ones(AG_SHAPE(3, 4), AG_F64)), 0, 2, 4);
    assert_shape(ag_matmul(ag_ones(AG_SHAPE(0, 2, 3), AG_F64), ag_ones(AG_SHAPE(1, 3, 4), AG_F64)), 0, 2, 4);
    assert_shape(ag_matmul(ag_ones(AG_SHAPE(2, 3), AG_F64), ag_ones(AG_SHAPE(0, 3, 4), AG_F64)), 0, 2, 4);
    assert_shape(ag_matmul(ag_ones(AG_SHAPE(1, 2, 3), AG_F64), ag_ones(AG_SHAPE(0, 3, 4), AG_F64)), 0, 2, 4);
    assert_shape(ag_matmul(ag_ones(AG_SHAPE(3), AG_F64), ag_ones(AG_SHAPE(0, 3, 4), AG_F64)), 0, 4);

    /* bad shapes */
    assert_null(ag_matmul(ag_ones(AG_SHAPE(3, 4), AG_F64), ag_ones(AG_SHAPE(5, 6), AG_F64)));
    assert_error(AG_ERR_SHAPE, "ag_matmul", "inner dimensions differ", "[3,4]", "[5,6]");
    assert_null(ag_matmul(ag_ones(AG_SHAPE(4), AG_F64), ag_ones(AG_SHAPE(3), AG_F64)));
    assert_error(AG_ERR_SHAPE, "inner dimensions differ", "[4]", "[3]");
    assert_null(ag_matmul(ag_ones(AG_SHAPE(2, 3, 4), AG_F64), ag_ones(AG_SHAPE(3, 4, 5), AG_F64)));
    assert_error(AG_ERR_SHAPE, "ag_matmul", "[2]", "[3]");
    assert_null(ag_matmul(ag_scalar(1, AG_F64), ag_ones(AG_SHAPE(3), AG_F64)));
    assert_error(AG_ERR_SHAPE, "ag_matmul", "at least 1 dim");
    assert_null(ag_matmul(ag_ones(AG_SHAPE(2, 2), AG_BOOL), ag_ones(AG_SHAPE(2, 2), AG_BOOL)));
    assert_error(AG_ERR_DTYPE, "bool");
    assert_null(ag_bmm(ag_ones(AG_SHAPE(2, 3, 4), AG_F64), ag_ones(AG_SHAPE(3, 4, 5), AG_F64)));
    assert_error(AG_ERR_SHAPE, "ag_bmm", "[2,3,4]", "[3,4,5]");
    assert_null(ag_mv(ag_ones(AG_SHAPE(2, 3), AG_F64), ag_ones(AG_SHAPE(2, 3), AG_F64)));
    assert_error(AG_ERR_SHAPE, "ag_mv");
    assert_null(ag_dot(ag_ones(AG_SHAPE(3), AG_F64), ag_ones(AG_SHAPE(3), AG_F32)));
    assert_error(AG_ERR_DTYPE, "ag_dot", "f64", "f32");
    ag_scope_end();
}

/* ================================ 9. printing ================================ */

static char *print_to_string(const ag_tensor *t) {
    FILE *f = tmpfile();
    assert_non_null(f);
    assert_int_equal(ag_fprint(f, t), 0);
    long n = ftell(f);
    rewind(f);
    char *s = calloc((size_t)n + 1, 1);
    assert_int_equal(fread(s, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    return s;
}
#define assert_prints(t, text) do { char *s_ = print_to_string(t); \
    if (strcmp(s_, text)) { print_error("printed:\n%s\nexpected:\n%s\n", s_, text); free(s_); fail(); } \
    free(s_); } while (0)

static void test_print(void **state) {
    (void)state;
    ag_scope_begin();
    assert_prints(ag_from_data((double[]){1, 2.5, -3, 4, 5.25, -6}, AG_SHAPE(2, 3), AG_F64),
                  "tensor([[ 1.0000,  2.5000, -3.0000],\n"
                  "        [ 4.0000,  5.2500, -6.0000]], dtype=f64, shape=[2,3])\n");
    assert_prints(ag_from_data((int64_t[]){1, -20, 300, 4}, AG_SHAPE(4), AG_I64),
                  "tensor([   1,  -20,  300,    4], dtype=i64, shape=[4])\n");
    /* int64 beyond 2^53 prints exactly */
    assert_prints(ag_from_data((int64_t[]){9007199254740993LL}, AG_SHAPE(1), AG_I64),
                  "tensor([ 9007199254740993], dtype=i64, shape=[1])\n");
    assert_prints(ag_full_complex(NULL, 0, 1.5, -2, AG_C128), "tensor(1.5000-2.0000j, dtype=c128, shape=[])\n");
    assert_prints(ag_from_data((bool[]){true, false, true}, AG_SHAPE(3), AG_BOOL),
                  "tensor([ True, False,  True], dtype=bool, shape=[3])\n");
    assert_prints(ag_scalar(3.25, AG_F32), "tensor(3.2500, dtype=f32, shape=[])\n");
    assert_prints(ag_scalar(-7, AG_I64), "tensor(-7, dtype=i64, shape=[])\n");
    assert_prints(ag_from_data((int32_t[]){1, -20, 300}, AG_SHAPE(3), AG_I32),
                  "tensor([   1,  -20,  300], dtype=i32, shape=[3])\n");
    assert_prints(ag_from_data((uint8_t[]){0, 255, 7}, AG_SHAPE(3), AG_U8),
                  "tensor([   0,  255,    7], dtype=u8, shape=[3])\n");
    assert_prints(ag_zeros(AG_SHAPE(0), AG_F64), "tensor([], dtype=f64, shape=[0])\n");
    assert_prints(ag_zeros(AG_SHAPE(2, 0), AG_F32), "tensor([[],\n        []], dtype=f32, shape=[2,0])\n");
    assert_prints(ag_from_data((double[]){1e-5, 1, 1e9}, AG_SHAPE(3), AG_F64),
                  "tensor([ 1.0000e-05,  1.0000e+00,  1.0000e+09], dtype=f64, shape=[3])\n");
    assert_prints(ag_from_data((double[]){NAN, INFINITY, -1}, AG_SHAPE(3), AG_F64),
                  "tensor([    nan,     inf, -1.0000], dtype=f64, shape=[3])\n");
    /* a non-contiguous view prints in logical order */
    assert_prints(ag_transpose(ag_from_data((int64_t[]){1, 2, 3, 4}, AG_SHAPE(2, 2), AG_I64), 0, 1),
                  "tensor([[ 1,  3],\n        [ 2,  4]], dtype=i64, shape=[2,2])\n");
    assert_prints(ag_reshape(ag_arange(0, 8, 1, AG_I64), AG_SHAPE(2, 2, 2)),
                  "tensor([[[ 0,  1],\n         [ 2,  3]],\n\n        [[ 4,  5],\n         [ 6,  7]]], dtype=i64, shape=[2,2,2])\n");
    /* more than 1000 elements: the middle of each long dim is summarized */
    assert_prints(ag_arange(0, 1200, 1, AG_I64),
                  "tensor([    0,     1,     2, ...,  1197,  1198,  1199], dtype=i64, shape=[1200])\n");
    char *big = print_to_string(ag_reshape(ag_arange(0, 2000, 1, AG_F64), AG_SHAPE(40, 50)));
    assert_non_null(strstr(big, "...,\n"));
    assert_non_null(strstr(big, "[   50.0000,    51.0000,    52.0000, ...,    97.0000,    98.0000,    99.0000],\n"));
    assert_non_null(strstr(big, "1999.0000]], dtype=f64, shape=[40,50])\n"));
    assert_null(strstr(big, "1000.0000")); /* row 20 is summarized away */
    int lines = 0;
    for (char *p = big; *p; p++) lines += *p == '\n';
    assert_int_equal(lines, 7); /* 3 rows, "...", 3 rows */
    free(big);
    /* exactly 1000 elements: printed in full */
    char *full = print_to_string(ag_arange(0, 1000, 1, AG_I64));
    assert_null(strstr(full, "..."));
    assert_non_null(strstr(full, " 500,"));
    free(full);
    /* errors */
    assert_int_equal(ag_fprint(NULL, ag_scalar(1, AG_F64)), AG_ERR_INVALID);
    assert_error(AG_ERR_INVALID, "ag_fprint", "FILE");
    FILE *f = tmpfile();
    assert_int_equal(ag_fprint(f, NULL), AG_ERR_INVALID);
    assert_error(AG_ERR_INVALID, "ag_fprint", "NULL");
    fclose(f);
    ag_scope_end();
}

/* ================================ 10. memory ================================ */

static void test_memory_loop(void **state) {
    (void)state;
    ag_tensor *w = ag_randn(AG_SHAPE(8, 8), AG_F64);
    ag_set_requires_grad(w, true);
    int64_t t0 = ag_live_tensors(), b0 = ag_live_bytes(AG_CPU);
    for (int it = 0; it < 10000; it++) {
        ag_scope_begin();
        ag_tensor *x = ag_full(AG_SHAPE(4, 8), (double)it, AG_F64);
        ag_tensor *y = ag_tanh(ag_matmul(x, w));
        ag_tensor *s = ag_sum(ag_mul(y, ag_transpose(ag_slice(ag_reshape(x, AG_SHAPE(8, 4)), 0, 0, 8, 1), 0, 1)), AG_DIMS(1), false);
        ag_tensor *m = ag_amax(ag_where(ag_gt(s, ag_zeros_like(s)), s, ag_neg(s)), AG_ALL_DIMS, false);
        ag_tensor *k = ag_to_dtype(ag_add(ag_randint(0, 3, AG_SHAPE(4)), ag_argmax(y, 1, false)), AG_C64);
        if (!m || !k) fail_msg("iteration %d: %s", it, ag_last_error());
        ag_release(ag_keep(ag_clone(m))); /* a kept and released result */
        ag_scope_end();
        if (it == 0 || it == 9999) {
            assert_int_equal(ag_live_tensors(), t0);
            assert_int_equal(ag_live_bytes(AG_CPU), b0);
        }
    }
    assert_int_equal(ag_live_tensors(), t0);
    assert_int_equal(ag_live_bytes(AG_CPU), b0);
    ag_release(w);
}

/* device names parse; AG_DEVICE picks ag_device_default's device, and a bad one is an error
 * that does not wipe an error already pending */
static void test_device_names(void **state) {
    (void)state;
    ag_device d;
    assert_int_equal(ag_device_parse("cuda:0", &d), 0);
    assert_true(d.kind == AG_DEV_CUDA && d.index == 0);
    assert_int_equal(ag_device_parse("test", &d), 0);
    assert_true(ag_device_eq(d, AG_TEST_DEVICE));
    assert_int_equal(ag_device_parse("cpu", &d), 0);
    assert_true(ag_device_eq(d, AG_CPU));
    const char *bad[] = {"gpu", "cuda:", "cuda:x", "cpu0", "cuda:-1", ""};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        ag_clear_error();
        assert_int_equal(ag_device_parse(bad[i], &d), AG_ERR_INVALID);
        assert_non_null(strstr(ag_last_error(), "ag_device_parse: expected cpu, cuda, cuda:N or test"));
    }
    ag_clear_error();
    assert_true(ag_device_available(AG_CPU));
    assert_false(ag_device_available((ag_device){AG_DEV_CPU, 1}));
    assert_string_equal(ag_device_kind_name(AG_DEV_TEST), "test");

    setenv("AG_DEVICE", "cpu", 1);
    assert_true(ag_device_eq(ag_device_default(), AG_CPU));
    assert_false(ag_failed());
    setenv("AG_DEVICE", "tpu", 1);
    assert_true(ag_device_eq(ag_device_default(), AG_CPU));
    assert_int_equal(ag_error_code(), AG_ERR_DEVICE);
    assert_non_null(strstr(ag_last_error(), "AG_DEVICE=\"tpu\" is not a device"));
    ag_clear_error();
    assert_int_equal(ag_device_parse("an earlier error", &d), AG_ERR_INVALID);
    setenv("AG_DEVICE", "tpu", 1);
    ag_device_default();
    assert_int_equal(ag_error_code(), AG_ERR_INVALID);
    assert_non_null(strstr(ag_last_error(), "an earlier error"));
    ag_clear_error();
    unsetenv("AG_DEVICE");
    assert_true(ag_device_eq(ag_device_default(), AG_CPU));
    assert_false(ag_failed());
}

/* ---- every view, index and shape op at AG_MAX_DIMS ---------------------------------------
 * Each op's output at 8 dims against a reference index map written out here, then gradcheck.
 * (8-d permutes once overflowed the node's parameter slots: a wrong shape, garbage reads.) */
#define R8 AG_MAX_DIMS
static const int64_t r8_in[R8] = {2, 1, 2, 3, 1, 2, 1, 2};
static const int r8_perm_rev[R8] = {7, 6, 5, 4, 3, 2, 1, 0}, r8_perm_pairs[R8] = {1, 0, 3, 2, 5, 4, 7, 6};
static const int r8_perm_t07[R8] = {7, 1, 2, 3, 4, 5, 6, 0};
static const int64_t r8_reps[R8] = {1, 2, 1, 1, 3, 1, 2, 1};
static const int64_t r8_lo[R8] = {1, 0, 0, 2, 0, 1, 0, 1}, r8_hi[R8] = {0, 0, 1, 1, 0, 1, 0, 0};
static const int64_t r8_big[R8] = {2, 3, 2, 3, 2, 2, 2, 2};

static int64_t r8_lin(const int64_t *idx, const int64_t *shape, int nd) {
    int64_t k = 0;
    for (int d = 0; d < nd; d++) k = k * shape[d] + idx[d];
    return k;
}

/* pads in ag_pad's order (last dim first, before/after pairs) from r8_lo/r8_hi */
static ag_tensor *r8_pad(ag_tensor *x, ag_pad_mode mode) {
    int64_t pads[2 * R8];
    for (int d = 0; d < R8; d++) {
        pads[2 * (R8 - 1 - d)] = mode == AG_PAD_REFLECT && r8_in[d] == 1 ? 0 : r8_lo[d];
        pads[2 * (R8 - 1 - d) + 1] = mode == AG_PAD_REFLECT && r8_in[d] == 1 ? 0 : r8_hi[d];
    }
    return ag_pad(x, pads, 2 * R8, mode, 0.5);
}

typedef enum { R8_PERM_REV, R8_PERM_PAIRS, R8_TRANSPOSE07, R8_TRANSPOSE01, R8_FLIP, R8_ROLL, R8_REPEAT, R8_TILE,
               R8_PAD_CONST, R8_PAD_REFLECT, R8_PAD_REPLICATE, R8_PAD_CIRCULAR, R8_EXPAND, R8_SLICE, R8_SELECT,
               R8_NARROW, R8_CAT, R8_RESHAPE_T, R8_SQUEEZE, R8_CONTIG, R8_SUM, R8_SUM_KEEP, R8_MEAN, R8_CUMSUM,
               R8_MAX_DIM, R8_NOPS } r8_op;
static const char *r8_names[R8_NOPS] = {"permute reversed", "permute pairs", "transpose(0,7)", "transpose(0,1)", "flip",
    "roll", "repeat", "tile", "pad constant", "pad reflect", "pad replicate", "pad circular", "expand", "slice",
    "select", "narrow", "cat", "reshape of a transpose", "squeeze", "contiguous of a permute", "sum", "sum keepdim",
    "mean", "cumsum", "max_dim"};

static ag_tensor *r8_apply(r8_op op, ag_tensor *x) {
    switch (op) {
    case R8_PERM_REV: return ag_permute(x, r8_perm_rev, R8);
    case R8_PERM_PAIRS: return ag_permute(x, r8_perm_pairs, R8);
    case R8_TRANSPOSE07: return ag_transpose(x, 0, 7);
    case R8_TRANSPOSE01: return ag_transpose(x, 0, 1);
    case R8_FLIP: return ag_flip(x, (const int[]){0, 3, -1}, 3);
    case R8_ROLL: return ag_roll(x, (const int64_t[]){1, -1, 1}, (const int[]){3, 7, 5}, 3);
    case R8_REPEAT: return ag_repeat(x, r8_reps, R8);
    case R8_TILE: return ag_tile(x, r8_reps, R8);
    case R8_PAD_CONST: return r8_pad(x, AG_PAD_CONSTANT);
    case R8_PAD_REFLECT: return r8_pad(x, AG_PAD_REFLECT);
    case R8_PAD_REPLICATE: return r8_pad(x, AG_PAD_REPLICATE);
    case R8_PAD_CIRCULAR: return r8_pad(x, AG_PAD_CIRCULAR);
    case R8_EXPAND: return ag_expand(x, r8_big, R8);
    case R8_SLICE: return ag_slice(ag_slice(x, 3, 1, 3, 1), 7, 1, 2, 1);
    case R8_SELECT: return ag_select(x, 5, 1);
    case R8_NARROW: return ag_narrow(x, 6, 0, 1);
    case R8_CAT: return ag_cat((ag_tensor *[]){x, ag_flip(x, (const int[]){5}, 1)}, 2, 5);
    case R8_RESHAPE_T: return ag_reshape(ag_transpose(x, 0, 7), r8_in, R8);
    case R8_SQUEEZE: return ag_squeeze(x, AG_SQUEEZE_ALL);
    case R8_CONTIG: return ag_contiguous(ag_permute(x, r8_perm_pairs, R8));
    case R8_SUM: return ag_sum(x, AG_DIMS(0, 3, 6, 7), false);
    case R8_SUM_KEEP: return ag_sum(x, AG_DIMS(1, 3, -1), true);
    case R8_MEAN: return ag_mean(x, AG_DIMS(2, 5), true);
    case R8_CUMSUM: return ag_cumsum(x, 3);
    case R8_MAX_DIM: return ag_max_dim(x, 3, true, NULL);
    default: return NULL;
    }
}

static int64_t r8_pad_src(ag_pad_mode mode, int64_t o, int64_t n) {
    if (o >= 0 && o < n) return o;
    switch (mode) {
    case AG_PAD_REFLECT: return o < 0 ? -o : 2 * (n - 1) - o;
    case AG_PAD_REPLICATE: return o < 0 ? 0 : n - 1;
    case AG_PAD_CIRCULAR: return (o % n + n) % n;
    default: return -1;
    }
}

/* the expected output: shape into *nd/shape, values into out (at most cap) */
static int64_t r8_expect(r8_op op, const double *x, int *nd, int64_t *shape, double *out, int64_t cap) {
    int64_t s[R8];
    memcpy(s, r8_in, sizeof s);
    *nd = R8;
    memcpy(shape, s, sizeof s);
    const int *perm = op == R8_PERM_REV ? r8_perm_rev : op == R8_PERM_PAIRS || op == R8_CONTIG ? r8_perm_pairs
                      : op == R8_TRANSPOSE07 ? r8_perm_t07 : NULL;
    int perm01[R8] = {1, 0, 2, 3, 4, 5, 6, 7};
    if (op == R8_TRANSPOSE01) perm = perm01;
    ag_pad_mode pm = op == R8_PAD_REFLECT ? AG_PAD_REFLECT : op == R8_PAD_REPLICATE ? AG_PAD_REPLICATE
                     : op == R8_PAD_CIRCULAR ? AG_PAD_CIRCULAR : AG_PAD_CONSTANT;
    bool pad = op >= R8_PAD_CONST && op <= R8_PAD_CIRCULAR;
    int64_t lo[R8], hi[R8];
    for (int d = 0; d < R8; d++) {
        bool skip = pm == AG_PAD_REFLECT && s[d] == 1;
        lo[d] = skip ? 0 : r8_lo[d];
        hi[d] = skip ? 0 : r8_hi[d];
    }
    /* reductions: accumulate each input element into its output slot */
    if (op == R8_SUM || op == R8_SUM_KEEP || op == R8_MEAN || op == R8_CUMSUM || op == R8_MAX_DIM) {
        bool red[R8] = {0};
        if (op == R8_SUM) red[0] = red[3] = red[6] = red[7] = true;
        if (op == R8_SUM_KEEP) red[1] = red[3] = red[7] = true;
        if (op == R8_MEAN) red[2] = red[5] = true;
        if (op == R8_MAX_DIM) red[3] = true;
        int64_t ks[R8], cnt = 1;
        for (int d = 0; d < R8; d++) { ks[d] = red[d] ? 1 : s[d]; cnt *= red[d] ? s[d] : 1; }
        int64_t n = 1, m = 1;
        for (int d = 0; d < R8; d++) { n *= s[d]; m *= ks[d]; }
        if (op == R8_CUMSUM) m = n;
        assert_true(m <= cap);
        for (int64_t k = 0; k < m; k++) out[k] = op == R8_MAX_DIM ? -INFINITY : 0;
        int64_t idx[R8];
        for (int64_t k = 0; k < n; k++) {
            for (int64_t r = k, d = R8 - 1; d >= 0; d--) { idx[d] = r % s[d]; r /= s[d]; }
            if (op == R8_CUMSUM) { /* every later element along dim 3 gets this one */
                for (int64_t j = idx[3]; j < s[3]; j++) {
                    int64_t o[R8];
                    memcpy(o, idx, sizeof o);
                    o[3] = j;
                    out[r8_lin(o, s, R8)] += x[k];
                }
                continue;
            }
            for (int d = 0; d < R8; d++) if (red[d]) idx[d] = 0;
            double *slot = &out[r8_lin(idx, ks, R8)];
            if (op == R8_MAX_DIM) *slot = fmax(*slot, x[k]);
            else *slot += op == R8_MEAN ? x[k] / (double)cnt : x[k];
        }
        if (op != R8_CUMSUM) {
            *nd = 0;
            for (int d = 0; d < R8; d++)
                if (!red[d] || op != R8_SUM) shape[(*nd)++] = ks[d];
        }
        return m;
    }
    /* everything else: each output element is one input element (or a pad value) */
    switch (op) {
    case R8_REPEAT: case R8_TILE: for (int d = 0; d < R8; d++) shape[d] = s[d] * r8_reps[d]; break;
    case R8_EXPAND: memcpy(shape, r8_big, sizeof r8_big); break;
    case R8_SLICE: shape[3] = 2; shape[7] = 1; break;
    case R8_SELECT: *nd = R8 - 1; for (int d = 5; d < R8 - 1; d++) shape[d] = s[d + 1]; break;
    case R8_CAT: shape[5] = 2 * s[5]; break;
    case R8_SQUEEZE: *nd = 0; for (int d = 0; d < R8; d++) if (s[d] != 1) shape[(*nd)++] = s[d]; break;
    default:
        if (perm) for (int d = 0; d < R8; d++) shape[d] = s[perm[d]];
        if (pad) for (int d = 0; d < R8; d++) shape[d] = s[d] + lo[d] + hi[d];
    }
    int64_t m = 1;
    for (int d = 0; d < *nd; d++) m *= shape[d];
    assert_true(m <= cap);
    for (int64_t k = 0; k < m; k++) {
        int64_t o[R8], i[R8];
        for (int64_t r = k, d = *nd - 1; d >= 0; d--) { o[d] = r % shape[d]; r /= shape[d]; }
        memcpy(i, o, sizeof i);
        bool zero = false;
        switch (op) {
        case R8_FLIP: for (int d = 0; d < R8; d++) if (d == 0 || d == 3 || d == 7) i[d] = s[d] - 1 - o[d]; break;
        case R8_ROLL: i[3] = (o[3] + 2) % 3; i[7] = (o[7] + 1) % 2; i[5] = (o[5] + 1) % 2; break;
        case R8_REPEAT: case R8_TILE: for (int d = 0; d < R8; d++) i[d] = o[d] % s[d]; break;
        case R8_EXPAND: for (int d = 0; d < R8; d++) i[d] = s[d] == 1 ? 0 : o[d]; break;
        case R8_SLICE: i[3] = o[3] + 1; i[7] = o[7] + 1; break;
        case R8_SELECT: for (int d = R8 - 1; d > 5; d--) i[d] = o[d - 1]; i[5] = 1; break;
        case R8_CAT: i[5] = o[5] < s[5] ? o[5] : s[5] - 1 - (o[5] - s[5]); break;
        case R8_RESHAPE_T: { /* row-major order of the transpose, read back into r8_in */
            int64_t ts[R8], ti[R8];
            for (int d = 0; d < R8; d++) ts[d] = s[r8_perm_t07[d]];
            for (int64_t r = r8_lin(o, s, R8), d = R8 - 1; d >= 0; d--) { ti[d] = r % ts[d]; r /= ts[d]; }
            for (int d = 0; d < R8; d++) i[r8_perm_t07[d]] = ti[d];
            break;
        }
        case R8_SQUEEZE:
            for (int d = 0, j = 0; d < R8; d++) i[d] = s[d] == 1 ? 0 : o[j++];
            break;
        default:
            if (perm) for (int d = 0; d < R8; d++) i[perm[d]] = o[d];
            if (pad)
                for (int d = 0; d < R8; d++) {
                    i[d] = r8_pad_src(pm, o[d] - lo[d], s[d]);
                    if (i[d] < 0) zero = true;
                }
        }
        out[k] = zero ? 0.5 : x[r8_lin(i, s, R8)];
    }
    return m;
}

static ag_tensor *r8_gc(ag_tensor *const *in, int n, void *ud) {
    (void)n;
    return r8_apply((r8_op)(intptr_t)ud, in[0]);
}

static void test_ops_at_max_rank(void **state) {
    (void)state;
    int64_t n = 1;
    for (int d = 0; d < R8; d++) n *= r8_in[d];
    double xv[48];
    assert_int_equal(n, 48);
    for (int64_t k = 0; k < n; k++) xv[k] = 0.37 * (double)((k * 29) % 48) - 5.0; /* distinct, no ties */
    static double want[2048];
    for (int op = 0; op < R8_NOPS; op++) {
        ag_scope_begin();
        ag_tensor *x = ag_set_requires_grad(ag_from_data(xv, r8_in, R8, AG_F64), true);
        ag_tensor *y = r8_apply((r8_op)op, x);
        if (!y) fail_msg("%s: %s", r8_names[op], ag_last_error());
        int nd;
        int64_t shape[R8];
        int64_t m = r8_expect((r8_op)op, xv, &nd, shape, want, 2048);
        bool same = ag_ndim(y) == nd;
        for (int d = 0; same && d < nd; d++) same = ag_shape(y)[d] == shape[d];
        if (!same) {
            char buf[160] = "";
            for (int d = 0; d < ag_ndim(y); d++)
                snprintf(buf + strlen(buf), sizeof buf - strlen(buf), "%lld,", (long long)ag_shape(y)[d]);
            fail_msg("%s: shape [%s], expected %d dims", r8_names[op], buf, nd);
        }
        double *v = tu_values(y);
        for (int64_t k = 0; k < m; k++)
            if (!(fabs(v[k] - want[k]) <= 1e-12 * (1 + fabs(want[k])))) {
                double got = v[k];
                free(v);
                fail_msg("%s: element %lld is %.17g, expected %.17g", r8_names[op], (long long)k, got, want[k]);
            }
        free(v);
        ag_gradcheck_report rep;
        int ok = ag_gradcheck(r8_gc, (void *)(intptr_t)op, &x, 1, &(ag_gradcheck_opts){1e-6, 1e-6, 1e-4, false}, &rep);
        if (ok != 1) fail_msg("%s: gradcheck failed (%d): %s %s", r8_names[op], ok, rep.message, ag_last_error());
        ag_scope_end();
        assert_no_error();
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        TEST(test_device_names),
        TEST(test_fill_creators),
        TEST(test_arange),
        TEST(test_linspace),
        TEST(test_eye),
        TEST(test_from_data_every_dtype),
        TEST(test_dtype_facts),
        TEST(test_promote_types),
        TEST(test_result_type_zero_dim),
        TEST(test_default_dtype),
        TEST(test_rng_reproducible),
        TEST(test_rng_distributions),
        TEST(test_rng_thread_independent),
        TEST(test_view_storage_and_contiguity),
        TEST(test_view_edge_cases),
        TEST(test_real_imag_views),
        TEST(test_broadcasting),
        TEST(test_int_bool_arithmetic),
        TEST(test_i32_u8),
        TEST(test_casts_all_pairs),
        TEST(test_reduce_empty_and_shapes),
        TEST(test_reduce_ties_and_nan),
        TEST(test_reduce_large),
        TEST(test_sort),
        TEST(test_reduce_columns_and_strided),
        TEST(test_matmul_vs_naive),
        TEST(test_matmul_batch_and_empty),
        TEST(test_print),
        TEST(test_memory_loop),
        TEST(test_ops_at_max_rank),
        TEST(test_view_as_real_complex),
        TEST(test_randperm),
    };
    return cmocka_run_group_tests_name("tensor", tests, NULL, NULL);
}
