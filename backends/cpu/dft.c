/* backends/cpu/dft.c — the direct (non-uniform) DFT between a packed image cube and
 * visibilities at arbitrary (u, v): the dft entry of backends/kernels.h.
 *
 * The phase separates, e^{iθ(u l + v m)} = e^{iθ u l} e^{iθ v m}, so each visibility needs two
 * tables of npix phases, made once, and the npix² pass is multiply-adds only. A power w^n with
 * n = 16b + r is W_b t_r, W_b from cos/sin and t_r from a 15-step recurrence, so the rounding
 * error stays within ~20 ulp for any npix (a plain recurrence grows with n) at npix/16 + 2
 * cos/sin pairs per table.
 *
 * The forward does the rows first (acc[i] = Σ_j P[j, i] e^{iθ v m_j}, elementwise over i, so it
 * vectorizes without reassociating a reduction), then one dot product with the l phases. All
 * sums run in double, also for f32/c64 views (10^4 visibilities of 256² terms each). The forward
 * splits visibilities over threads, the adjoint pixel rows; every output element is summed by one
 * thread in a fixed order, so results do not depend on the thread count. */
#include <math.h>
#include <string.h>

#include "backends/cpu/cpu.h"

#define BLK 16
#define TWO_PI 6.28318530717958647692

/* re/im[i] = e^{iθ n_i} for packed index i of npix: n_i = i for i < npix/2, i - npix after */
static void phases(double th, int64_t npix, double *re, double *im) {
    double tr[BLK], ti[BLK], c = cos(th), s = sin(th);
    tr[0] = 1, ti[0] = 0;
    for (int r = 1; r < BLK; r++) {
        tr[r] = tr[r - 1] * c - ti[r - 1] * s;
        ti[r] = tr[r - 1] * s + ti[r - 1] * c;
    }
    int64_t h = npix / 2;
    for (int64_t b = 0; b * BLK <= h; b++) {
        double a = th * (double)(b * BLK), wr = cos(a), wi = sin(a);
        for (int r = 0; r < BLK && b * BLK + r <= h; r++) {
            int64_t n = b * BLK + r;
            double er = wr * tr[r] - wi * ti[r], ei = wr * ti[r] + wi * tr[r];
            if (n < h) re[n] = er, im[n] = ei;
            if (n > 0) re[npix - n] = er, im[npix - n] = -ei; /* n_i = -n: the conjugate */
        }
    }
}

static inline double ld(const ag_kview *t, int64_t off) {
    return t->dtype == AG_F32 ? (double)((const float *)t->data)[off] : ((const double *)t->data)[off];
}

/* acc[i] += P[j, i] (yr + i yi) over the rows j of one channel's image (row stride s1, column
 * stride s2, in elements) */
#define ROWS_FN(NAME, T, CPLX)                                                                         \
    AG_CPU_CLONES static void NAME(const T *P, int64_t s1, int64_t s2, int64_t npix, const double *yr,     \
                                   const double *yi, double *ar, double *ai) {                         \
        for (int64_t j = 0; j < npix; j++) {                                                           \
            const T *row = P + (CPLX ? 2 : 1) * j * s1;                                                \
            const double cr = yr[j], ci = yi[j];                                                       \
            for (int64_t i = 0; i < npix; i++) {                                                       \
                double pr = (double)row[(CPLX ? 2 : 1) * i * s2];                                      \
                double pi = CPLX ? (double)row[(CPLX ? 2 : 1) * i * s2 + (CPLX ? 1 : 0)] : 0.0;        \
                ar[i] += pr * cr - pi * ci;                                                            \
                ai[i] += pr * ci + pi * cr;                                                            \
            }                                                                                          \
        }                                                                                              \
    }
ROWS_FN(rows_f32, float, 0)
ROWS_FN(rows_f64, double, 0)
ROWS_FN(rows_c64, float, 1)
ROWS_FN(rows_c128, double, 1)

static void rows(const ag_kview *in, int64_t c, int64_t npix, const double *yr, const double *yi, double *ar,
                 double *ai) {
    int64_t s0 = in->strides[0], s1 = in->strides[1], s2 = in->strides[2];
    switch (in->dtype) {
    case AG_F32: rows_f32((const float *)in->data + c * s0, s1, s2, npix, yr, yi, ar, ai); break;
    case AG_F64: rows_f64((const double *)in->data + c * s0, s1, s2, npix, yr, yi, ar, ai); break;
    case AG_C64: rows_c64((const float *)in->data + 2 * c * s0, s1, s2, npix, yr, yi, ar, ai); break;
    default: rows_c128((const double *)in->data + 2 * c * s0, s1, s2, npix, yr, yi, ar, ai); break;
    }
}

static void store(const ag_kview *out, int64_t off, double re, double im) {
    if (out->dtype == AG_C64) ((float *)out->data)[2 * off] = (float)re, ((float *)out->data)[2 * off + 1] = (float)im;
    else ((double *)out->data)[2 * off] = re, ((double *)out->data)[2 * off + 1] = im;
}

/* out (nchan, nvis) <- scale Σ_{j,i} in[c, j, i] e^{iθ_k n_i} e^{iψ_k n_j} */
static int forward(const ag_kview *out, const ag_kview *in, const ag_kview *u, const ag_kview *v, double dl,
                   double scale, int sign) {
    const int64_t nchan = out->shape[0], nvis = out->shape[1], npix = in->shape[1];
    const bool shared = u->strides[0] == 0 && v->strides[0] == 0;
    const int nt = ag_cpu_max_threads();
    const size_t per = (size_t)6 * (size_t)npix, nbytes = (size_t)nt * per * sizeof(double);
    double *ws = ag_cpu_alloc(nbytes);
    if (!ws) return ag_set_error(AG_ERR_NOMEM, "dft: out of memory for %zu bytes of phase tables", nbytes);
    const double f = sign * TWO_PI * dl;
#pragma omp parallel num_threads(nt) if (nt > 1 && nvis * nchan * npix * npix >= AG_CPU_PAR_MIN)
    {
        double *xr = ws + (size_t)ag_cpu_thread_num() * per, *xi = xr + npix, *yr = xi + npix, *yi = yr + npix,
               *ar = yi + npix, *ai = ar + npix;
        int64_t kb, ke;
        ag_cpu_thread_slice(nvis, &kb, &ke);
        for (int64_t k = kb; k < ke; k++)
            for (int64_t c = 0; c < nchan; c++) {
                if (c == 0 || !shared) {
                    phases(f * ld(u, c * u->strides[0] + k * u->strides[1]), npix, xr, xi);
                    phases(f * ld(v, c * v->strides[0] + k * v->strides[1]), npix, yr, yi);
                }
                memset(ar, 0, (size_t)npix * sizeof *ar);
                memset(ai, 0, (size_t)npix * sizeof *ai);
                rows(in, c, npix, yr, yi, ar, ai);
                double sr = 0, si = 0;
                for (int64_t i = 0; i < npix; i++) {
                    sr += ar[i] * xr[i] - ai[i] * xi[i];
                    si += ar[i] * xi[i] + ai[i] * xr[i];
                }
                store(out, c * out->strides[0] + k * out->strides[1], scale * sr, scale * si);
            }
    }
    ag_cpu_free(ws, nbytes);
    return 0;
}

/* acc[j, i] += Σ_k (gr + i gi)_k conj(e^{iψ_k n_j}) conj(e^{iθ_k n_i}) over one block of
 * visibilities (phase tables x, y: nb rows of npix), for rows [jb, je) */
AG_CPU_CLONES static void adj_block(int64_t nb, int64_t npix, int64_t jb, int64_t je, const double *gr, const double *gi,
                                    const double *xr, const double *xi, const double *yr, const double *yi, double *accr,
                                    double *acci) {
    for (int64_t j = jb; j < je; j++) {
        double *rr = accr + j * npix, *ri = acci + j * npix;
        for (int64_t b = 0; b < nb; b++) {
            const double *br = xr + b * npix, *bi = xi + b * npix;
            double y_r = yr[b * npix + j], y_i = -yi[b * npix + j];
            double cr = gr[b] * y_r - gi[b] * y_i, ci = gr[b] * y_i + gi[b] * y_r;
            for (int64_t i = 0; i < npix; i++) { /* (cr + i ci)(br - i bi) */
                rr[i] += cr * br[i] + ci * bi[i];
                ri[i] += ci * br[i] - cr * bi[i];
            }
        }
    }
}

#define KB 16 /* visibilities per block of phase tables in the adjoint */

/* out (nchan, npix, npix) <- scale Σ_k in[c, k] e^{-iθ_k n_i} e^{-iψ_k n_j} */
static int adjoint(const ag_kview *out, const ag_kview *in, const ag_kview *u, const ag_kview *v, double dl,
                   double scale, int sign) {
    const int64_t nchan = in->shape[0], nvis = in->shape[1], npix = out->shape[1];
    const int nt = ag_cpu_max_threads();
    const size_t per = (size_t)KB * (4 * (size_t)npix + 2), acc = (size_t)2 * (size_t)npix * (size_t)npix;
    const size_t nbytes = ((size_t)nt * per + acc) * sizeof(double);
    double *ws = ag_cpu_alloc(nbytes);
    if (!ws) return ag_set_error(AG_ERR_NOMEM, "dft: out of memory for %zu bytes of phase tables", nbytes);
    double *accr = ws + (size_t)nt * per, *acci = accr + (size_t)npix * (size_t)npix;
    const double f = sign * TWO_PI * dl;
    const bool cf = in->dtype == AG_C64;
    for (int64_t c = 0; c < nchan; c++) {
        memset(accr, 0, acc * sizeof(double));
#pragma omp parallel num_threads(nt) if (nt > 1 && nvis * npix * npix >= AG_CPU_PAR_MIN)
        {
            double *xr = ws + (size_t)ag_cpu_thread_num() * per, *xi = xr + KB * npix, *yr = xi + KB * npix,
                   *yi = yr + KB * npix, *gr = yi + KB * npix, *gi = gr + KB;
            int64_t jb, je;
            ag_cpu_thread_slice(npix, &jb, &je);
            for (int64_t k0 = 0; k0 < nvis && jb < je; k0 += KB) {
                int64_t nb = nvis - k0 < KB ? nvis - k0 : KB;
                for (int64_t b = 0; b < nb; b++) {
                    int64_t k = k0 + b, o = 2 * (c * in->strides[0] + k * in->strides[1]);
                    phases(f * ld(u, c * u->strides[0] + k * u->strides[1]), npix, xr + b * npix, xi + b * npix);
                    phases(f * ld(v, c * v->strides[0] + k * v->strides[1]), npix, yr + b * npix, yi + b * npix);
                    gr[b] = cf ? ((const float *)in->data)[o] : ((const double *)in->data)[o];
                    gi[b] = cf ? ((const float *)in->data)[o + 1] : ((const double *)in->data)[o + 1];
                }
                adj_block(nb, npix, jb, je, gr, gi, xr, xi, yr, yi, accr, acci);
            }
        }
        for (int64_t j = 0; j < npix; j++)
            for (int64_t i = 0; i < npix; i++)
                store(out, c * out->strides[0] + j * out->strides[1] + i * out->strides[2], scale * accr[j * npix + i],
                      scale * acci[j * npix + i]);
    }
    ag_cpu_free(ws, nbytes);
    return 0;
}

int ag_cpu_dft(const ag_kview *out, const ag_kview *in, const ag_kview *u, const ag_kview *v, double dl, double scale,
               int sign, bool adjoint_) {
    const ag_kview *img = adjoint_ ? out : in, *vis = adjoint_ ? in : out;
    bool real_ok = (u->dtype == AG_F32 || u->dtype == AG_F64) && v->dtype == u->dtype;
    if (img->ndim != 3 || vis->ndim != 2 || u->ndim != 2 || v->ndim != 2 || img->shape[1] != img->shape[2] ||
        img->shape[1] % 2 || img->shape[0] != vis->shape[0] || u->shape[0] != vis->shape[0] ||
        v->shape[0] != vis->shape[0] || u->shape[1] != vis->shape[1] || v->shape[1] != vis->shape[1] || !real_ok ||
        !ag_dtype_is_complex(vis->dtype) || (adjoint_ && !ag_dtype_is_complex(img->dtype)))
        return ag_set_error(AG_ERR_INVALID, "dft: expected an image (nchan, npix, npix), npix even, visibilities and "
                            "real u, v (nchan, nvis)");
    if (!vis->shape[0] || !vis->shape[1] || !img->shape[1]) {
        if (adjoint_) /* no visibilities: a zero image */
            for (int64_t c = 0; c < out->shape[0]; c++)
                for (int64_t j = 0; j < out->shape[1]; j++)
                    for (int64_t i = 0; i < out->shape[2]; i++)
                        store(out, c * out->strides[0] + j * out->strides[1] + i * out->strides[2], 0, 0);
        return 0;
    }
    return adjoint_ ? adjoint(out, in, u, v, dl, scale, sign) : forward(out, in, u, v, dl, scale, sign);
}
