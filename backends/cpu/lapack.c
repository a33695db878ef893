/* backends/cpu/lapack.c — dense factorisations and solves through LAPACKE (s/d/c/z):
 * LU (getrf), LU solve (getrs), Cholesky (potrf), triangular solve (trtrs), QR (geqrf + orgqr/ungqr),
 * the symmetric/Hermitian eigendecomposition (syevd/heevd) and the SVD (gesdd).
 *
 * Every matrix of the batch is copied into a column-major workspace (LAPACK's own layout, so
 * the *_work entry points run with no hidden transposition), factorised or solved there and
 * copied out through the output view. The copies are O(n^2) against the O(n^3) work and let
 * the views have any strides (0 included: a matrix broadcast across the batch).
 * LAPACK's status (info > 0: a zero pivot, a non-positive leading minor) goes to the info view;
 * the front end turns it into the message. */
#include <complex.h>
#include <stdlib.h>
#include <string.h>

#include "ag_config.h"
#include "backends/cpu/cpu.h"

#ifdef AG_HAVE_LAPACKE
#include <lapacke.h>

/* element offset of batch entry b (flat, row-major over the first nb dims of v) */
static int64_t boff(const ag_kview *v, int nb, int64_t b) {
    int64_t off = 0;
    for (int d = nb - 1; d >= 0; d--) {
        int64_t s = v->shape[d];
        off += (b % s) * v->strides[d];
        b /= s;
    }
    return off;
}

static int64_t nbatch(const ag_kview *v, int nb) {
    int64_t n = 1;
    for (int d = 0; d < nb; d++) n *= v->shape[d];
    return n;
}

/* rows x cols matrix of v (batch entry b) <-> column-major workspace w (leading dim ld) */
static void gather(char *w, int64_t ld, const ag_kview *v, int nb, int64_t b, size_t es) {
    int64_t rows = v->shape[nb], cols = v->shape[nb + 1];
    int64_t sr = v->strides[nb], sc = v->strides[nb + 1];
    const char *base = (const char *)v->data + boff(v, nb, b) * (int64_t)es;
    for (int64_t j = 0; j < cols; j++)
        for (int64_t i = 0; i < rows; i++)
            memcpy(w + (i + j * ld) * (int64_t)es, base + (i * sr + j * sc) * (int64_t)es, es);
}

static void scatter(const ag_kview *v, int nb, int64_t b, const char *w, int64_t ld, size_t es) {
    int64_t rows = v->shape[nb], cols = v->shape[nb + 1];
    int64_t sr = v->strides[nb], sc = v->strides[nb + 1];
    char *base = (char *)v->data + boff(v, nb, b) * (int64_t)es;
    for (int64_t j = 0; j < cols; j++)
        for (int64_t i = 0; i < rows; i++)
            memcpy(base + (i * sr + j * sc) * (int64_t)es, w + (i + j * ld) * (int64_t)es, es);
}

static void put_info(const ag_kview *info, int nb, int64_t b, lapack_int v) {
    ((int64_t *)info->data)[boff(info, nb, b)] = (int64_t)v;
}

static bool lapack_dtype(ag_dtype dt) { return dt == AG_F32 || dt == AG_F64 || dt == AG_C64 || dt == AG_C128; }

static int bad_dtype(const char *k, ag_dtype dt) {
    return ag_set_error(AG_ERR_DTYPE, "cpu %s: expected f32, f64, c64 or c128, given %s", k, ag_dtype_name(dt));
}

/* The workspaces of one call (matrix, right-hand sides, pivots), carved from one block of the
 * caching allocator in 64-byte aligned parts: a fresh block would be faulted in on every call. */
typedef struct work { char *base, *part[3]; size_t bytes; } work;

static int work_get(work *w, const char *k, int64_t n, int64_t m, size_t s0, size_t s1, size_t s2) {
    size_t sz[3] = {s0, s1, s2}, off = 0;
    for (int i = 0; i < 3; i++) off += (sz[i] + 63) & ~(size_t)63;
    w->bytes = off ? off : 64;
    w->base = ag_cpu_alloc(w->bytes);
    if (!w->base)
        return ag_set_error(AG_ERR_NOMEM, "cpu %s: out of memory for a %lldx%lld workspace", k, (long long)n, (long long)m);
    off = 0;
    for (int i = 0; i < 3; i++) {
        w->part[i] = w->base + off;
        off += (sz[i] + 63) & ~(size_t)63;
    }
    return 0;
}

static void work_put(work *w) { ag_cpu_free(w->base, w->bytes); }

/* a negative info is a bad argument: a bug on our side, reported as such */
static int lapack_arg_error(const char *k, const char *routine, lapack_int info) {
    return ag_set_error(AG_ERR_BACKEND, "cpu %s: LAPACK %s rejected argument %d", k, routine, (int)-info);
}

/* zero the triangle of the n x n column-major w that potrf leaves untouched */
static void zero_other_triangle(char *w, int64_t n, size_t es, bool upper) {
    for (int64_t j = 0; j < n; j++)
        for (int64_t i = 0; i < n; i++)
            if (upper ? i > j : i < j) memset(w + (i + j * n) * (int64_t)es, 0, es);
}

int ag_cpu_lu_factor(const ag_kview *lu, const ag_kview *piv, const ag_kview *info, const ag_kview *a) {
    ag_dtype dt = a->dtype;
    if (!lapack_dtype(dt)) return bad_dtype("lu_factor", dt);
    int nb = a->ndim - 2;
    int64_t n = a->shape[nb], B = nbatch(a, nb), ld = n > 1 ? n : 1;
    size_t es = ag_dtype_size(dt);
    work ws;
    if (work_get(&ws, "lu_factor", n, n, (size_t)(n * n) * es, (size_t)n * sizeof(lapack_int), 0)) return AG_ERR_NOMEM;
    char *w = ws.part[0];
    lapack_int *ip = (lapack_int *)ws.part[1];
    int rc = 0;
    for (int64_t b = 0; b < B && !rc; b++) {
        gather(w, ld, a, nb, b, es);
        lapack_int st = 0;
        switch (dt) {
        case AG_F32: st = LAPACKE_sgetrf_work(LAPACK_COL_MAJOR, (lapack_int)n, (lapack_int)n, (float *)w, (lapack_int)ld, ip); break;
        case AG_F64: st = LAPACKE_dgetrf_work(LAPACK_COL_MAJOR, (lapack_int)n, (lapack_int)n, (double *)w, (lapack_int)ld, ip); break;
        case AG_C64: st = LAPACKE_cgetrf_work(LAPACK_COL_MAJOR, (lapack_int)n, (lapack_int)n, (lapack_complex_float *)w, (lapack_int)ld, ip); break;
        default: st = LAPACKE_zgetrf_work(LAPACK_COL_MAJOR, (lapack_int)n, (lapack_int)n, (lapack_complex_double *)w, (lapack_int)ld, ip); break;
        }
        if (st < 0) { rc = lapack_arg_error("lu_factor", "getrf", st); break; }
        scatter(lu, nb, b, w, ld, es);
        int64_t *pp = (int64_t *)piv->data + boff(piv, nb, b);
        for (int64_t i = 0; i < n; i++) pp[i * piv->strides[nb]] = ip[i];
        put_info(info, nb, b, st);
    }
    work_put(&ws);
    return rc;
}

int ag_cpu_lu_solve(const ag_kview *x, const ag_kview *lu, const ag_kview *piv, const ag_kview *bv, bool adjoint) {
    ag_dtype dt = lu->dtype;
    if (!lapack_dtype(dt)) return bad_dtype("lu_solve", dt);
    int nb = lu->ndim - 2;
    int64_t n = lu->shape[nb], k = bv->shape[nb + 1], B = nbatch(x, nb), ld = n > 1 ? n : 1;
    size_t es = ag_dtype_size(dt);
    char tr = adjoint ? (ag_dtype_is_complex(dt) ? 'C' : 'T') : 'N';
    work ws;
    if (work_get(&ws, "lu_solve", n, k, (size_t)(n * n) * es, (size_t)(n * k) * es, (size_t)n * sizeof(lapack_int)))
        return AG_ERR_NOMEM;
    char *w = ws.part[0], *wb = ws.part[1];
    lapack_int *ip = (lapack_int *)ws.part[2];
    int rc = 0;
    for (int64_t b = 0; b < B && n > 0 && k > 0; b++) {
        gather(w, ld, lu, nb, b, es);
        gather(wb, ld, bv, nb, b, es);
        const int64_t *pp = (const int64_t *)piv->data + boff(piv, nb, b);
        for (int64_t i = 0; i < n; i++) ip[i] = (lapack_int)pp[i * piv->strides[nb]];
        lapack_int st, N = (lapack_int)n, K = (lapack_int)k, L = (lapack_int)ld;
        switch (dt) {
        case AG_F32: st = LAPACKE_sgetrs_work(LAPACK_COL_MAJOR, tr, N, K, (float *)w, L, ip, (float *)wb, L); break;
        case AG_F64: st = LAPACKE_dgetrs_work(LAPACK_COL_MAJOR, tr, N, K, (double *)w, L, ip, (double *)wb, L); break;
        case AG_C64: st = LAPACKE_cgetrs_work(LAPACK_COL_MAJOR, tr, N, K, (lapack_complex_float *)w, L, ip, (lapack_complex_float *)wb, L); break;
        default: st = LAPACKE_zgetrs_work(LAPACK_COL_MAJOR, tr, N, K, (lapack_complex_double *)w, L, ip, (lapack_complex_double *)wb, L); break;
        }
        if (st < 0) { rc = lapack_arg_error("lu_solve", "getrs", st); break; }
        scatter(x, nb, b, wb, ld, es);
    }
    work_put(&ws);
    return rc;
}

int ag_cpu_cholesky(const ag_kview *l, const ag_kview *info, const ag_kview *a, bool upper) {
    ag_dtype dt = a->dtype;
    if (!lapack_dtype(dt)) return bad_dtype("cholesky", dt);
    int nb = a->ndim - 2;
    int64_t n = a->shape[nb], B = nbatch(a, nb), ld = n > 1 ? n : 1;
    size_t es = ag_dtype_size(dt);
    work ws;
    if (work_get(&ws, "cholesky", n, n, (size_t)(n * n) * es, 0, 0)) return AG_ERR_NOMEM;
    char *w = ws.part[0];
    char uplo = upper ? 'U' : 'L';
    int rc = 0;
    for (int64_t b = 0; b < B; b++) {
        gather(w, ld, a, nb, b, es);
        lapack_int st, N = (lapack_int)n, L = (lapack_int)ld;
        switch (dt) {
        case AG_F32: st = LAPACKE_spotrf_work(LAPACK_COL_MAJOR, uplo, N, (float *)w, L); break;
        case AG_F64: st = LAPACKE_dpotrf_work(LAPACK_COL_MAJOR, uplo, N, (double *)w, L); break;
        case AG_C64: st = LAPACKE_cpotrf_work(LAPACK_COL_MAJOR, uplo, N, (lapack_complex_float *)w, L); break;
        default: st = LAPACKE_zpotrf_work(LAPACK_COL_MAJOR, uplo, N, (lapack_complex_double *)w, L); break;
        }
        if (st < 0) { rc = lapack_arg_error("cholesky", "potrf", st); break; }
        zero_other_triangle(w, n, es, upper);
        scatter(l, nb, b, w, ld, es);
        put_info(info, nb, b, st);
    }
    work_put(&ws);
    return rc;
}

int ag_cpu_triangular_solve(const ag_kview *x, const ag_kview *info, const ag_kview *a, const ag_kview *bv,
                            bool upper, bool unitriangular) {
    ag_dtype dt = a->dtype;
    if (!lapack_dtype(dt)) return bad_dtype("triangular_solve", dt);
    int nb = a->ndim - 2;
    int64_t n = a->shape[nb], k = bv->shape[nb + 1], B = nbatch(x, nb), ld = n > 1 ? n : 1;
    size_t es = ag_dtype_size(dt);
    work ws;
    if (work_get(&ws, "triangular_solve", n, k, (size_t)(n * n) * es, (size_t)(n * k) * es, 0)) return AG_ERR_NOMEM;
    char *w = ws.part[0], *wb = ws.part[1];
    char uplo = upper ? 'U' : 'L', diag = unitriangular ? 'U' : 'N';
    int rc = 0;
    for (int64_t b = 0; b < B; b++) {
        lapack_int st = 0, N = (lapack_int)n, K = (lapack_int)k, L = (lapack_int)ld;
        if (n > 0 && k > 0) {
            gather(w, ld, a, nb, b, es);
            gather(wb, ld, bv, nb, b, es);
            switch (dt) {
            case AG_F32: st = LAPACKE_strtrs_work(LAPACK_COL_MAJOR, uplo, 'N', diag, N, K, (float *)w, L, (float *)wb, L); break;
            case AG_F64: st = LAPACKE_dtrtrs_work(LAPACK_COL_MAJOR, uplo, 'N', diag, N, K, (double *)w, L, (double *)wb, L); break;
            case AG_C64: st = LAPACKE_ctrtrs_work(LAPACK_COL_MAJOR, uplo, 'N', diag, N, K, (lapack_complex_float *)w, L, (lapack_complex_float *)wb, L); break;
            default: st = LAPACKE_ztrtrs_work(LAPACK_COL_MAJOR, uplo, 'N', diag, N, K, (lapack_complex_double *)w, L, (lapack_complex_double *)wb, L); break;
            }
            if (st < 0) { rc = lapack_arg_error("triangular_solve", "trtrs", st); break; }
            scatter(x, nb, b, wb, ld, es);
        }
        put_info(info, nb, b, st);
    }
    work_put(&ws);
    return rc;
}

/* ---- decompositions (real f32/f64): qr, eigh, svd ------------------------------------- */

/* one LAPACKE routine in its s/d/c/z forms, chosen by dt; the workspaces are untyped (void *
 * converts to each form's pointer type), so the four twins are one call site */
#define LAPACK_SDCZ(dt, s, d, c, z, ...)                                                           \
    ((dt) == AG_F32 ? LAPACKE_##s(__VA_ARGS__) : (dt) == AG_F64 ? LAPACKE_##d(__VA_ARGS__)        \
     : (dt) == AG_C64 ? LAPACKE_##c(__VA_ARGS__) : LAPACKE_##z(__VA_ARGS__))

/* length-k vector of v (batch entry b, last dim) <- the k contiguous elements of w */
static void scatter_vec(const ag_kview *v, int nb, int64_t b, const char *w, int64_t k, size_t es) {
    char *base = (char *)v->data + boff(v, nb, b) * (int64_t)es;
    for (int64_t i = 0; i < k; i++) memcpy(base + i * v->strides[nb] * (int64_t)es, w + i * (int64_t)es, es);
}

/* one zeroed block of the given element counts, 64-byte aligned parts; NULL with the error set */
static char *parts_get(const char *k, size_t es, int np, const int64_t *cnt, char **part, size_t *bytes) {
    size_t off = 0;
    for (int i = 0; i < np; i++) off += ((size_t)(cnt[i] > 0 ? cnt[i] : 1) * es + 63) & ~(size_t)63;
    char *base = ag_cpu_alloc(off);
    if (!base) {
        ag_set_error(AG_ERR_NOMEM, "cpu %s: out of memory for a %zu-byte workspace", k, off);
        return NULL;
    }
    memset(base, 0, off);
    *bytes = off;
    off = 0;
    for (int i = 0; i < np; i++) {
        part[i] = base + off;
        off += ((size_t)(cnt[i] > 0 ? cnt[i] : 1) * es + 63) & ~(size_t)63;
    }
    return base;
}

int ag_cpu_qr(const ag_kview *q, const ag_kview *r, const ag_kview *a) {
    ag_dtype dt = a->dtype;
    if (!lapack_dtype(dt)) return bad_dtype("qr", dt);
    int nb = a->ndim - 2;
    int64_t m = a->shape[nb], n = a->shape[nb + 1], kk = m < n ? m : n, B = nbatch(a, nb);
    int64_t ld = m > 1 ? m : 1, ldr = kk > 1 ? kk : 1;
    size_t es = ag_dtype_size(dt), bytes;
    char *part[3];
    char *base = parts_get("qr", es, 3, (int64_t[]){m * n, kk * n, kk}, part, &bytes);
    if (!base) return AG_ERR_NOMEM;
    char *w = part[0], *wr = part[1], *tau = part[2];
    int rc = 0;
    for (int64_t b = 0; b < B && kk > 0; b++) {
        gather(w, ld, a, nb, b, es);
        lapack_int M = (lapack_int)m, N = (lapack_int)n, K = (lapack_int)kk, L = (lapack_int)ld, st;
        void *vw = w, *vt = tau;
        st = LAPACK_SDCZ(dt, sgeqrf, dgeqrf, cgeqrf, zgeqrf, LAPACK_COL_MAJOR, M, N, vw, L, vt);
        if (st < 0) { rc = lapack_arg_error("qr", "geqrf", st); break; }
        for (int64_t j = 0; j < n; j++) /* R: the upper triangle of the top k rows */
            for (int64_t i = 0; i < kk; i++) {
                char *d = wr + (i + j * ldr) * (int64_t)es;
                if (i <= j) memcpy(d, w + (i + j * ld) * (int64_t)es, es);
                else memset(d, 0, es);
            }
        scatter(r, nb, b, wr, ldr, es);
        st = LAPACK_SDCZ(dt, sorgqr, dorgqr, cungqr, zungqr, LAPACK_COL_MAJOR, M, K, K, vw, L, vt);
        if (st < 0) { rc = lapack_arg_error("qr", "orgqr/ungqr", st); break; }
        scatter(q, nb, b, w, ld, es); /* the first k columns */
    }
    ag_cpu_free(base, bytes);
    return rc;
}

int ag_cpu_eigh(const ag_kview *wv, const ag_kview *v, const ag_kview *info, const ag_kview *a) {
    ag_dtype dt = a->dtype;
    if (!lapack_dtype(dt)) return bad_dtype("eigh", dt);
    int nb = a->ndim - 2;
    int64_t n = a->shape[nb], B = nbatch(a, nb), ld = n > 1 ? n : 1;
    size_t es = ag_dtype_size(dt), bytes;
    char *part[2];
    char *base = parts_get("eigh", es, 2, (int64_t[]){n * n, n}, part, &bytes);
    if (!base) return AG_ERR_NOMEM;
    char *w = part[0], *ev = part[1];
    int rc = 0;
    for (int64_t b = 0; b < B; b++) {
        lapack_int st = 0;
        if (n > 0) {
            gather(w, ld, a, nb, b, es);
            lapack_int N = (lapack_int)n, L = (lapack_int)ld;
            void *vw = w, *vev = ev; /* eigenvalues are real in every form */
            st = LAPACK_SDCZ(dt, ssyevd, dsyevd, cheevd, zheevd, LAPACK_COL_MAJOR, 'V', 'L', N, vw, L, vev);
            if (st < 0) { rc = lapack_arg_error("eigh", "syevd/heevd", st); break; }
            scatter(v, nb, b, w, ld, es);
            scatter_vec(wv, nb, b, ev, n, ag_dtype_size(ag_dtype_to_real(dt)));
        }
        put_info(info, nb, b, st);
    }
    ag_cpu_free(base, bytes);
    return rc;
}

int ag_cpu_svd(const ag_kview *u, const ag_kview *s, const ag_kview *vh, const ag_kview *info, const ag_kview *a) {
    ag_dtype dt = a->dtype;
    if (!lapack_dtype(dt)) return bad_dtype("svd", dt);
    int nb = a->ndim - 2;
    int64_t m = a->shape[nb], n = a->shape[nb + 1], kk = m < n ? m : n, B = nbatch(a, nb);
    int64_t ld = m > 1 ? m : 1, ldv = kk > 1 ? kk : 1;
    size_t es = ag_dtype_size(dt), bytes;
    char *part[4];
    char *base = parts_get("svd", es, 4, (int64_t[]){m * n, m * kk, kk * n, kk}, part, &bytes);
    if (!base) return AG_ERR_NOMEM;
    char *w = part[0], *wu = part[1], *wvt = part[2], *ws = part[3];
    int rc = 0;
    for (int64_t b = 0; b < B; b++) {
        lapack_int st = 0;
        if (kk > 0) {
            gather(w, ld, a, nb, b, es);
            lapack_int M = (lapack_int)m, N = (lapack_int)n, L = (lapack_int)ld, LV = (lapack_int)ldv;
            void *vw = w, *vs = ws, *vu = wu, *vvt = wvt; /* singular values are real in every form */
            st = LAPACK_SDCZ(dt, sgesdd, dgesdd, cgesdd, zgesdd, LAPACK_COL_MAJOR, 'S', M, N, vw, L, vs, vu, L, vvt, LV);
            if (st < 0) { rc = lapack_arg_error("svd", "gesdd", st); break; }
            scatter(u, nb, b, wu, ld, es);
            scatter(vh, nb, b, wvt, ldv, es);
            scatter_vec(s, nb, b, ws, kk, ag_dtype_size(ag_dtype_to_real(dt)));
        }
        put_info(info, nb, b, st);
    }
    ag_cpu_free(base, bytes);
    return rc;
}

#else /* built without LAPACKE: the entries exist and say so */

static int no_lapacke(const char *k) {
    return ag_set_error(AG_ERR_NOTIMPL, "cpu %s: astrograd was built without LAPACKE (install liblapacke-dev and reconfigure)", k);
}
int ag_cpu_lu_factor(const ag_kview *lu, const ag_kview *piv, const ag_kview *info, const ag_kview *a) {
    return no_lapacke("lu_factor");
}
int ag_cpu_lu_solve(const ag_kview *x, const ag_kview *lu, const ag_kview *piv, const ag_kview *bv, bool adjoint) {
    return no_lapacke("lu_solve");
}
int ag_cpu_cholesky(const ag_kview *l, const ag_kview *info, const ag_kview *a, bool upper) {
    return no_lapacke("cholesky");
}
int ag_cpu_triangular_solve(const ag_kview *x, const ag_kview *info, const ag_kview *a, const ag_kview *bv,
                            bool upper, bool unitriangular) {
    return no_lapacke("triangular_solve");
}
int ag_cpu_qr(const ag_kview *q, const ag_kview *r, const ag_kview *a) { return no_lapacke("qr"); }
int ag_cpu_eigh(const ag_kview *w, const ag_kview *v, const ag_kview *info, const ag_kview *a) {
    return no_lapacke("eigh");
}
int ag_cpu_svd(const ag_kview *u, const ag_kview *s, const ag_kview *vh, const ag_kview *info, const ag_kview *a) {
    return no_lapacke("svd");
}

#endif
