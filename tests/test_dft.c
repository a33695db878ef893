/* tests/test_dft.c — the direct DFT (ag_dft, ag_dft_adjoint; tensor/nufft_ops.c) against
 * independent references: FourierCube's FFT at the grid's cell centres, the analytic
 * visibilities of a point source, the same sum composed from primitive ops (values and
 * gradients), the adjoint identity, and bad inputs. The op table (tests/ops_dft.c) holds the
 * PyTorch-fixture rows, gradcheck and gradgradcheck. Everything but the bad inputs runs again
 * on the device AG_DEVICE names (meson's device_dft sets "test"). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <cmocka.h>

#include "fixture.h"
#include "test_util.h"

/* unset AG_DEVICE: the CPU only, so valgrind (which cannot map the test device's arena) runs */
static ag_device DEV;

static int ndevs(ag_device devs[2]) {
    devs[0] = AG_CPU;
    if (ag_device_eq(DEV, AG_CPU)) return 1;
    devs[1] = DEV;
    return 2;
}

/* max_k |a_k - b_k| / |b_k| over host copies of a, b (complex) */
static double max_rel(ag_tensor *a, ag_tensor *b) {
    assert_non_null(a), assert_non_null(b);
    assert_int_equal(ag_numel(a), ag_numel(b));
    double complex *x = tu_cvalues(a), *y = tu_cvalues(b);
    double m = 0;
    for (int64_t k = 0; k < ag_numel(a); k++) m = fmax(m, cabs(x[k] - y[k]) / cabs(y[k]));
    free(x), free(y);
    return m;
}

/* At every packed Fourier cell centre ((u, v) from the grid's own packed arrays, which include
 * the negative cells and the unpaired edge -du·npix/2), ag_dft equals FourierCube's FFT:
 * real and complex cubes, both signs, points shared by the channels and per channel. */
static void dft_matches_fourier_cube(void **state) {
    (void)state;
    const int64_t npix = 16, nchan = 2, nvis = npix * npix;
    ag_grid_coords gc;
    assert_int_equal(ag_grid_coords_init(&gc, 0.0071, npix), 0);
    ag_manual_seed(21);
    ag_device devs[2];
    double worst = 0;
    for (int d = 0; d < ndevs(devs); d++)
        for (int s = -1; s <= 1; s += 2) {
            ag_scope_begin();
            ag_module *fc = ag_fourier_cube(&gc, (ag_fourier_opts){.sign = s});
            ag_tensor *u = ag_to(ag_flatten(ag_grid_centers_2d(&gc, AG_GRID_U, AG_LAYOUT_PACKED)), devs[d]);
            ag_tensor *v = ag_to(ag_flatten(ag_grid_centers_2d(&gc, AG_GRID_V, AG_LAYOUT_PACKED)), devs[d]);
            assert_float_equal(ag_item(ag_amin(u, NULL, 0, false)), -gc.du * (double)npix / 2, 1e-9 * gc.du);
            assert_float_equal(ag_item(ag_amax(u, NULL, 0, false)), gc.du * (double)(npix / 2 - 1), 1e-9 * gc.du);
            /* channel 1 sees the cells in reverse order in the per-channel case */
            ag_tensor *u2 = ag_stack((ag_tensor *[]){u, ag_flip(u, (int[]){0}, 1)}, 2, 0);
            ag_tensor *v2 = ag_stack((ag_tensor *[]){v, ag_flip(v, (int[]){0}, 1)}, 2, 0);
            ag_tensor *cubes[2] = {ag_to(ag_randn(AG_SHAPE(nchan, npix, npix), AG_F64), devs[d]),
                                   ag_to(ag_randn(AG_SHAPE(nchan, npix, npix), AG_C128), devs[d])};
            for (int c = 0; c < 2; c++) {
                ag_tensor *want = ag_reshape(ag_forward(fc, cubes[c]), AG_SHAPE(nchan, nvis));
                ag_tensor *got = ag_dft(cubes[c], u, v, &gc, s);
                assert_shape(got, nchan, nvis);
                assert_int_equal(ag_dtype_of(got), AG_C128);
                double e = max_rel(got, want);
                if (e > 1e-10) fail_msg("sign %d, %s cube, device %d: max relative error %.3g", s, c ? "c128" : "f64", d, e);
                worst = fmax(worst, e);
                ag_tensor *want2 = ag_stack((ag_tensor *[]){ag_select(want, 0, 0), ag_flip(ag_select(want, 0, 1), (int[]){0}, 1)}, 2, 0);
                e = max_rel(ag_dft(cubes[c], u2, v2, &gc, s), want2);
                if (e > 1e-10) fail_msg("per channel, sign %d, device %d: max relative error %.3g", s, d, e);
                worst = fmax(worst, e);
            }
            /* a 2-d cube is one channel */
            double e = max_rel(ag_dft(ag_select(cubes[0], 0, 1), u, v, &gc, s), ag_select(ag_reshape(ag_forward(fc, cubes[0]), AG_SHAPE(nchan, nvis)), 0, 1));
            if (e > 1e-10) fail_msg("2-d cube, sign %d: max relative error %.3g", s, e);
            ag_scope_end();
            ag_module_free(fc);
        }
    print_message("dft vs FourierCube at %lld cell centres: max relative error %.2e\n", (long long)nvis, worst);
}

/* A point source of F Jy at packed pixel (j, i), i.e. at (l0, m0) from the grid's packed x/y
 * arrays: V = F e^{sign 2πi(u l0 + v m0)} at arbitrary (u, v) off the grid, both signs. */
static void dft_point_source(void **state) {
    (void)state;
    const int64_t npix = 16, nvis = 50;
    const int j = 13, i = 3; /* m0 = -3 dm, l0 = +3 dl */
    const double F = 2.5;
    ag_grid_coords gc;
    assert_int_equal(ag_grid_coords_init(&gc, 0.01, npix), 0);
    ag_device devs[2];
    double worst_amp = 0, worst_ph = 0;
    for (int d = 0; d < ndevs(devs); d++) {
        ag_scope_begin();
        ag_tensor *px = ag_grid_centers_2d(&gc, AG_GRID_X, AG_LAYOUT_PACKED), *py = ag_grid_centers_2d(&gc, AG_GRID_Y, AG_LAYOUT_PACKED);
        double l0 = ag_item(ag_narrow(ag_narrow(px, 0, j, 1), 1, i, 1)) * AG_ARCSEC;
        double m0 = ag_item(ag_narrow(ag_narrow(py, 0, j, 1), 1, i, 1)) * AG_ARCSEC;
        assert_float_equal(l0, 3 * gc.dl, 1e-12 * gc.dl);
        assert_float_equal(m0, -3 * gc.dm, 1e-12 * gc.dm);
        double *img = calloc((size_t)(npix * npix), sizeof *img);
        assert_non_null(img);
        img[j * npix + i] = F / (gc.cell_size * gc.cell_size); /* Jy/arcsec² */
        ag_tensor *cube = ag_from_data_on(img, AG_SHAPE(1, npix, npix), AG_F64, devs[d]);
        free(img);
        ag_manual_seed(4);
        /* up to ±8 du: well off the cell centres and past the grid's edge */
        ag_tensor *u = ag_to(ag_mul_s(ag_sub_s(ag_rand(AG_SHAPE(nvis), AG_F64), 0.5), 16 * gc.du), devs[d]);
        ag_tensor *v = ag_to(ag_mul_s(ag_sub_s(ag_rand(AG_SHAPE(nvis), AG_F64), 0.5), 16 * gc.du), devs[d]);
        double *uh = tu_values(u), *vh = tu_values(v);
        for (int s = -1; s <= 1; s += 2) {
            ag_tensor *vis = ag_dft(cube, u, v, &gc, s);
            assert_shape(vis, 1, nvis);
            double complex *V = tu_cvalues(vis);
            for (int k = 0; k < nvis; k++) {
                double ph = s * 2 * M_PI * (uh[k] * l0 + vh[k] * m0);
                double ea = fabs(cabs(V[k]) - F) / F, ep = fabs(carg(V[k] * cexp(-I * ph)));
                if (ea > 1e-12 || ep > 1e-12)
                    fail_msg("sign %d, (u, v) = (%g, %g): V = %.17g%+.17gi, expected amplitude %g, phase %.17g "
                             "(errors %.2g, %.2g rad)", s, uh[k], vh[k], creal(V[k]), cimag(V[k]), F, ph, ea, ep);
                worst_amp = fmax(worst_amp, ea), worst_ph = fmax(worst_ph, ep);
            }
            free(V);
        }
        free(uh), free(vh);
        ag_scope_end();
    }
    print_message("dft point source: max amplitude error %.2e (relative), phase error %.2e rad\n", worst_amp, worst_ph);
}

/* e^{s 2πi p_k x_n} (nvis, npix) for the packed coordinates x of the grid's x (axis 0) or y
 * (axis 1) array [arcsec -> rad] */
static ag_tensor *phase_table(ag_tensor *p, const ag_grid_coords *gc, ag_grid_field axis, int s) {
    ag_tensor *xy = ag_grid_centers_2d(gc, axis, AG_LAYOUT_PACKED);
    ag_tensor *x = ag_mul_s(ag_to(axis == AG_GRID_X ? ag_select(xy, 0, 0) : ag_select(xy, 1, 0), ag_device_of(p)), AG_ARCSEC);
    ag_tensor *th = ag_mul_s(ag_outer(p, x), s * 2 * M_PI);
    return ag_polar(ag_ones_like(th), th);
}

/* the direct sum from primitive ops: cell² Σ_{j,i} P[c,j,i] e^{s 2πi u_k l_i} e^{s 2πi v_k m_j} */
static ag_tensor *composed(ag_tensor *P, ag_tensor *u, ag_tensor *v, const ag_grid_coords *gc, int s) {
    ag_tensor *ops[] = {ag_to_dtype(P, AG_C128), phase_table(u, gc, AG_GRID_X, s), phase_table(v, gc, AG_GRID_Y, s)};
    return ag_mul_s(ag_einsum("cji,ki,kj->ck", ops, 3), gc->cell_size * gc->cell_size);
}
/* and its conjugate transpose */
static ag_tensor *composed_adjoint(ag_tensor *V, ag_tensor *u, ag_tensor *v, const ag_grid_coords *gc, int s) {
    ag_tensor *ops[] = {V, phase_table(u, gc, AG_GRID_X, -s), phase_table(v, gc, AG_GRID_Y, -s)};
    return ag_mul_s(ag_einsum("ck,ki,kj->cji", ops, 3), gc->cell_size * gc->cell_size);
}

/* ag_dft, fused, against composed(): the values and the gradient of a real loss of them with
 * respect to a real and a complex cube; the adjoint against the composition's conjugate
 * transpose. */
static void dft_matches_composition(void **state) {
    (void)state;
    const int64_t npix = 12, nchan = 2, nvis = 31;
    ag_grid_coords gc;
    assert_int_equal(ag_grid_coords_init(&gc, 0.02, npix), 0);
    ag_device devs[2];
    double worst = 0;
    for (int d = 0; d < ndevs(devs); d++)
        for (int s = -1; s <= 1; s += 2)
            for (int cplx = 0; cplx < 2; cplx++) {
                ag_scope_begin();
                ag_manual_seed(7 + s + cplx);
                ag_tensor *u = ag_to(ag_mul_s(ag_randn(AG_SHAPE(nvis), AG_F64), 3 * gc.du), devs[d]);
                ag_tensor *v = ag_to(ag_mul_s(ag_randn(AG_SHAPE(nvis), AG_F64), 3 * gc.du), devs[d]);
                ag_tensor *w = ag_to(ag_randn(AG_SHAPE(nchan, nvis), AG_C128), devs[d]);
                ag_tensor *P = ag_to(ag_randn(AG_SHAPE(nchan, npix, npix), cplx ? AG_C128 : AG_F64), devs[d]);
                ag_tensor *grads[2];
                for (int f = 0; f < 2; f++) {
                    ag_tensor *x = ag_set_requires_grad(ag_detach(P), true);
                    ag_tensor *vis = f ? composed(x, u, v, &gc, s) : ag_dft(x, u, v, &gc, s);
                    ag_tensor *loss = ag_sum(ag_real(ag_mul(ag_mul(vis, ag_conj(vis)), w)), NULL, 0, false);
                    assert_int_equal(ag_backward(loss), 0);
                    grads[f] = ag_grad_of(x);
                    assert_non_null(grads[f]);
                    if (f) {
                        double e = fx_close_ratio(ag_dft(P, u, v, &gc, s), vis, 1e-12, 1e-12 * ag_item(ag_amax(ag_abs(vis), NULL, 0, false)));
                        if (e > 1) fail_msg("values, sign %d, %s, device %d: ratio %.3g", s, cplx ? "c128" : "f64", d, e);
                    }
                }
                double gmax = ag_item(ag_amax(ag_abs(grads[1]), NULL, 0, false));
                double e = fx_close_ratio(grads[0], grads[1], 1e-12, 1e-12 * gmax);
                if (e > 1) fail_msg("gradient, sign %d, %s, device %d: ratio %.3g", s, cplx ? "c128" : "f64", d, e);
                worst = fmax(worst, e);
                ag_tensor *got = ag_dft_adjoint(w, u, v, &gc, s), *want = composed_adjoint(w, u, v, &gc, s);
                e = fx_close_ratio(got, want, 1e-12, 1e-12 * ag_item(ag_amax(ag_abs(want), NULL, 0, false)));
                if (e > 1) fail_msg("adjoint, sign %d, device %d: ratio %.3g", s, d, e);
                ag_scope_end();
            }
    print_message("dft vs composed primitives: gradient ratio %.2e of the 1e-12 tolerance\n", worst);
}

/* Σ a_k conj(b_k) over host copies */
static double complex inner(ag_tensor *a, ag_tensor *b) {
    assert_non_null(a), assert_non_null(b);
    assert_int_equal(ag_numel(a), ag_numel(b));
    double complex *x = tu_cvalues(a), *y = tu_cvalues(b), z = 0;
    for (int64_t k = 0; k < ag_numel(a); k++) z += x[k] * conj(y[k]);
    free(x), free(y);
    return z;
}

/* <A x, y> = <x, A^H y> for random complex x (cube) and y (visibilities), shared and
 * per-channel points, both signs, an odd number of points spread over ±10 du */
static void dft_adjoint_identity(void **state) {
    (void)state;
    const int64_t npix = 20, nchan = 3, nvis = 101;
    ag_grid_coords gc;
    assert_int_equal(ag_grid_coords_init(&gc, 0.013, npix), 0);
    ag_device devs[2];
    double worst = 0;
    for (int d = 0; d < ndevs(devs); d++)
        for (int s = -1; s <= 1; s += 2)
            for (int per = 0; per < 2; per++) {
                ag_scope_begin();
                ag_manual_seed(30 + s + per);
                const int64_t both[] = {nchan, nvis}, *shp = per ? both : both + 1;
                int nd = per ? 2 : 1;
                ag_tensor *u = ag_to(ag_mul_s(ag_randn(shp, nd, AG_F64), 10 * gc.du), devs[d]);
                ag_tensor *v = ag_to(ag_mul_s(ag_randn(shp, nd, AG_F64), 10 * gc.du), devs[d]);
                ag_tensor *x = ag_to(ag_randn(AG_SHAPE(nchan, npix, npix), AG_C128), devs[d]);
                ag_tensor *y = ag_to(ag_randn(AG_SHAPE(nchan, nvis), AG_C128), devs[d]);
                double complex lhs = inner(ag_dft(x, u, v, &gc, s), y), rhs = inner(x, ag_dft_adjoint(y, u, v, &gc, s));
                double e = cabs(lhs - rhs) / cabs(lhs);
                if (e > 1e-12) fail_msg("sign %d, %s points, device %d: <Ax, y> = %.17g%+.17gi, <x, A^H y> = %.17g%+.17gi",
                                        s, per ? "per-channel" : "shared", d, creal(lhs), cimag(lhs), creal(rhs), cimag(rhs));
                worst = fmax(worst, e);
                ag_scope_end();
            }
    print_message("dft adjoint identity: max |<Ax,y> - <x,A^H y>| / |<Ax,y>| = %.2e\n", worst);
}

/* no visibilities: an empty result forward, a zero image back; u, v that require grad get
 * none (the header's "differentiable in cube only") */
static void dft_edge_cases(void **state) {
    (void)state;
    ag_grid_coords gc;
    assert_int_equal(ag_grid_coords_init(&gc, 0.01, 6), 0);
    ag_scope_begin();
    ag_tensor *P = ag_set_requires_grad(ag_randn(AG_SHAPE(2, 6, 6), AG_F64), true), *e = ag_zeros(AG_SHAPE(0), AG_F64);
    ag_tensor *V0 = ag_dft(P, e, e, &gc, -1);
    assert_shape(V0, 2, 0);
    ag_tensor *A0 = ag_dft_adjoint(ag_zeros(AG_SHAPE(2, 0), AG_C128), e, e, &gc, +1);
    assert_shape(A0, 2, 6, 6);
    assert_true(ag_item(ag_sum(ag_abs(A0), NULL, 0, false)) == 0);
    ag_tensor *u = ag_set_requires_grad(ag_randn(AG_SHAPE(4), AG_F64), true), *v = ag_set_requires_grad(ag_randn(AG_SHAPE(4), AG_F64), true);
    ag_tensor *V = ag_dft(P, ag_mul_s(u, 1e6), ag_mul_s(v, 1e6), &gc, +1);
    assert_int_equal(ag_backward(ag_sum(ag_real(V), NULL, 0, false)), 0);
    assert_non_null(ag_grad_of(P));
    assert_shape(ag_grad_of(P), 2, 6, 6);
    assert_int_equal(ag_dtype_of(ag_grad_of(P)), AG_F64);
    assert_null(ag_grad_of(u)), assert_null(ag_grad_of(v));
    ag_scope_end();
}

static void dft_bad_input(void **state) {
    (void)state;
    ag_grid_coords gc, bad = {0};
    assert_int_equal(ag_grid_coords_init(&gc, 0.01, 8), 0);
    ag_scope_begin();
    ag_tensor *P = ag_randn(AG_SHAPE(2, 8, 8), AG_F64), *u = ag_randn(AG_SHAPE(5), AG_F64), *v = ag_randn(AG_SHAPE(5), AG_F64);
    ag_tensor *V = ag_randn(AG_SHAPE(2, 5), AG_C128);

    assert_null(ag_dft(NULL, u, v, &gc, -1));
    assert_error(AG_ERR_INVALID, "ag_dft: argument 1 (cube) is NULL");
    assert_null(ag_dft(P, u, NULL, &gc, -1));
    assert_error(AG_ERR_INVALID, "ag_dft: argument 3 (v) is NULL");
    assert_null(ag_dft(P, u, v, NULL, -1));
    assert_error(AG_ERR_INVALID, "ag_dft", "grid coordinates", "given NULL");
    assert_null(ag_dft(P, u, v, &bad, -1));
    assert_error(AG_ERR_INVALID, "ag_dft", "even npix", "given npix 0");
    assert_null(ag_dft_adjoint(NULL, u, v, &gc, -1));
    assert_error(AG_ERR_INVALID, "ag_dft_adjoint: argument 1 (vis) is NULL");
    assert_null(ag_dft_adjoint(V, NULL, v, &gc, -1));
    assert_error(AG_ERR_INVALID, "ag_dft_adjoint: argument 2 (u) is NULL");
    /* an error already pending: a NULL input adds none */
    assert_null(ag_dft(P, u, v, &gc, 3));
    assert_null(ag_dft(NULL, u, v, &gc, -1));
    assert_error(AG_ERR_INVALID, "ag_dft", "given 3");

    assert_null(ag_dft(P, u, v, &gc, 2));
    assert_error(AG_ERR_INVALID, "ag_dft", "sign -1", "+1", "given 2");
    assert_null(ag_dft_adjoint(V, u, v, &gc, -2));
    assert_error(AG_ERR_INVALID, "ag_dft_adjoint", "sign -1", "given -2");

    assert_null(ag_dft(ag_ones(AG_SHAPE(8, 8), AG_I64), u, v, &gc, -1));
    assert_error(AG_ERR_DTYPE, "ag_dft", "f32, f64, c64 or c128 cube", "given i64");
    assert_null(ag_dft(P, ag_to_dtype(u, AG_F32), v, &gc, -1));
    assert_error(AG_ERR_DTYPE, "ag_dft", "real u and v", "(f64)", "given f32 and f64");
    assert_null(ag_dft(ag_to_dtype(P, AG_F32), u, v, &gc, -1)); /* f64 points for an f32 cube */
    assert_error(AG_ERR_DTYPE, "ag_dft", "(f32)", "given f64 and f64");
    assert_null(ag_dft(P, u, ag_to_dtype(v, AG_C128), &gc, -1));
    assert_error(AG_ERR_DTYPE, "ag_dft", "given f64 and c128");
    assert_null(ag_dft_adjoint(ag_real(V), u, v, &gc, -1));
    assert_error(AG_ERR_DTYPE, "ag_dft_adjoint", "complex visibilities", "given f64");

    assert_null(ag_dft(ag_randn(AG_SHAPE(8), AG_F64), u, v, &gc, -1));
    assert_error(AG_ERR_SHAPE, "ag_dft", "packed cube (nchan, npix, npix) or (npix, npix)", "npix = 8", "given shape [8]");
    assert_null(ag_dft(ag_randn(AG_SHAPE(1, 2, 8, 8), AG_F64), u, v, &gc, -1));
    assert_error(AG_ERR_SHAPE, "ag_dft", "packed cube", "given shape [1,2,8,8]");
    assert_null(ag_dft(ag_randn(AG_SHAPE(2, 8, 6), AG_F64), u, v, &gc, -1));
    assert_error(AG_ERR_SHAPE, "ag_dft", "npix = 8", "given shape [2,8,6]");
    assert_null(ag_dft(ag_randn(AG_SHAPE(2, 10, 10), AG_F64), u, v, &gc, -1));
    assert_error(AG_ERR_SHAPE, "ag_dft", "npix = 8", "given shape [2,10,10]");
    assert_null(ag_dft(P, u, ag_randn(AG_SHAPE(4), AG_F64), &gc, -1));
    assert_error(AG_ERR_SHAPE, "ag_dft", "u and v of one shape", "given u [5] and v [4]");
    assert_null(ag_dft(P, ag_randn(AG_SHAPE(3, 5), AG_F64), ag_randn(AG_SHAPE(3, 5), AG_F64), &gc, -1));
    assert_error(AG_ERR_SHAPE, "ag_dft", "(nchan, nvis) with nchan = 2", "given u [3,5] and v [3,5]");
    assert_null(ag_dft(P, ag_randn(AG_SHAPE(1, 2, 5), AG_F64), ag_randn(AG_SHAPE(1, 2, 5), AG_F64), &gc, -1));
    assert_error(AG_ERR_SHAPE, "ag_dft", "(nvis) or (nchan, nvis)", "given u [1,2,5]");
    assert_null(ag_dft_adjoint(ag_randn(AG_SHAPE(1, 2, 5), AG_C128), u, v, &gc, -1));
    assert_error(AG_ERR_SHAPE, "ag_dft_adjoint", "visibilities (nvis) or (nchan, nvis)", "given shape [1,2,5]");
    assert_null(ag_dft_adjoint(V, ag_randn(AG_SHAPE(4), AG_F64), ag_randn(AG_SHAPE(4), AG_F64), &gc, -1));
    assert_error(AG_ERR_SHAPE, "ag_dft_adjoint", "visibilities' nvis", "given u [4] and v [4]");
    assert_null(ag_dft_adjoint(V, ag_randn(AG_SHAPE(3, 5), AG_F64), ag_randn(AG_SHAPE(3, 5), AG_F64), &gc, -1));
    assert_error(AG_ERR_SHAPE, "ag_dft_adjoint", "nchan = 2", "given u [3,5]");

    if (!ag_device_eq(DEV, AG_CPU)) {
        assert_null(ag_dft(ag_to(P, DEV), u, v, &gc, -1));
        assert_error(AG_ERR_DEVICE, "ag_dft", "one device");
        assert_null(ag_dft_adjoint(V, u, ag_to(v, DEV), &gc, -1));
        assert_error(AG_ERR_DEVICE, "ag_dft_adjoint", "one device");
    }
    ag_scope_end();
}

int main(void) {
    DEV = ag_device_default();
    if (ag_failed()) return fprintf(stderr, "%s\n", ag_last_error()), 1;
    const struct CMUnitTest tests[] = {
        TEST(dft_matches_fourier_cube), TEST(dft_point_source), TEST(dft_matches_composition),
        TEST(dft_adjoint_identity), TEST(dft_edge_cases), TEST(dft_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
