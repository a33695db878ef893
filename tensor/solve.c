/* tensor/solve.c — dense solvers through the backend's LAPACK-style entries (lu_factor,
 * lu_solve, cholesky, triangular_solve) and conjugate gradient over a callback operator.
 *
 * Front ends check shapes and dtypes, broadcast the batch dims (views with stride 0, no copies),
 * call the kernels, turn LAPACK's per-matrix info into a message naming the matrix and the pivot,
 * and record one node. Backward rules are PyTorch's (FunctionsManual.cpp), written with ag ops:
 *   solve            gB = solve(A^H, g),                 gA = -gB X^H
 *   inverse          gA = -X^H g X^H                     (X = A^-1)
 *   det              gA = g conj(det) A^-H
 *   logdet, slogdet  gA = g A^-H;  complex sign: gA = -i Im(conj(g) sign) A^-H
 *   cholesky         gA = sym(L^-H Phi(L^H gL) L^-1),    Phi = lower triangle, halved diagonal
 *   solve_triangular gB = solve_triangular(A^H, g, !upper), gA = -gB X^H (left) or -X^H gB
 *                    (right), restricted to the triangle that was read. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tensor/internal.h"

/* ---- shared checks and helpers ------------------------------------------------------ */

static bool lapack_dtype(ag_dtype dt) { return dt == AG_F32 || dt == AG_F64 || dt == AG_C64 || dt == AG_C128; }

/* A is a floating (real or complex) batch of square matrices */
static bool check_square(const char *op, const ag_tensor *A, const char *what) {
    if (!lapack_dtype(A->dtype)) {
        ag_set_error(AG_ERR_DTYPE, "%s: expected %s of dtype f32, f64, c64 or c128, given %s", op, what,
                     ag_dtype_name(A->dtype));
        return false;
    }
    if (A->ndim < 2 || A->shape[A->ndim - 1] != A->shape[A->ndim - 2]) {
        ag_set_error(AG_ERR_SHAPE, "%s: expected %s to be a square matrix or a batch of them [..., n, n], given %s",
                     op, what, AG_SHP(A));
        return false;
    }
    return true;
}

static bool check_pair(const char *op, const ag_tensor *A, const ag_tensor *B) {
    if (!ag__same_device(op, A, B)) return false;
    if (A->dtype != B->dtype) {
        ag_set_error(AG_ERR_DTYPE, "%s: A and B must have the same dtype, given %s and %s", op,
                     ag_dtype_name(A->dtype), ag_dtype_name(B->dtype));
        return false;
    }
    return true;
}

/* batch shape of the broadcast of A's first na dims and B's first nbd dims */
static bool batch_shape(const char *op, const ag_tensor *A, int na, const ag_tensor *B, int nbd, int64_t *bs,
                        int *nb, int tail) {
    if (!ag__broadcast_shapes(op, A->shape, na, B->shape, nbd, bs, nb)) return false;
    if (*nb + tail > AG_MAX_DIMS) {
        ag_set_error(AG_ERR_SHAPE, "%s: result would have more than %d dims", op, AG_MAX_DIMS);
        return false;
    }
    return true;
}

/* t broadcast to bs + t's last `tail` dims */
static ag_kview bview(const ag_tensor *t, const int64_t *bs, int nb, int tail) {
    int64_t shp[AG_MAX_DIMS];
    memcpy(shp, bs, (size_t)nb * sizeof *shp);
    for (int i = 0; i < tail; i++) shp[nb + i] = t->shape[t->ndim - tail + i];
    return ag__view_bcast(t, shp, nb + tail);
}

static void kv_append1(ag_kview *v) { /* [..., n] -> [..., n, 1] */
    v->shape[v->ndim] = 1;
    v->strides[v->ndim] = 1;
    v->ndim++;
}

static void kv_mT(ag_kview *v) {
    int a = v->ndim - 2, b = v->ndim - 1;
    int64_t s = v->shape[a], st = v->strides[a];
    v->shape[a] = v->shape[b]; v->strides[a] = v->strides[b];
    v->shape[b] = s; v->strides[b] = st;
}

static ag_tensor *new_with(const int64_t *bs, int nb, const int64_t *tail, int nt, ag_dtype dt, ag_device dev,
                           const char *op) {
    int64_t shp[AG_MAX_DIMS];
    if (nb) memcpy(shp, bs, (size_t)nb * sizeof *shp); /* bs may be NULL when there are no batch dims */
    if (nt) memcpy(shp + nb, tail, (size_t)nt * sizeof *shp);
    return ag__new(shp, nb + nt, dt, dev, op);
}

enum info_kind { INFO_LU, INFO_CHOL, INFO_TRI };

/* Turn the first non-zero LAPACK info into the error message; true when all are 0. */
static bool check_info(const char *op, ag_tensor *info, const int64_t *bs, int nb, enum info_kind kind) {
    /* on success one scalar comes to the host: the count of non-zero infos, reduced on info's device */
    ag_scope_begin();
    ag_tensor *nz = ag_sum(ag_to_dtype(ag_ne(info, ag_scalar_like(info, 0)), AG_I64), AG_ALL_DIMS, false);
    double nbad = nz ? ag_item(nz) : NAN;
    ag_scope_end();
    if (isnan(nbad)) return false;
    if (nbad == 0) return true;
    /* a failure: the whole (small) info tensor comes to the host for the message */
    int64_t cnt = ag__numel(bs, nb);
    int64_t *buf = malloc((size_t)cnt * sizeof *buf + 1);
    if (!buf) { ag_set_error(AG_ERR_NOMEM, "%s: out of memory", op); return false; }
    if (ag_copy_to_buffer(info, buf, AG_I64)) { free(buf); return false; }
    int64_t bad = -1, v = 0;
    for (int64_t i = 0; i < cnt; i++)
        if (buf[i] != 0) { bad = i; v = buf[i]; break; }
    free(buf);
    if (bad < 0) return true;
    char where[AG_SHAPE_BUF + 40] = "";
    if (nb > 0) { /* multi-index of the failing matrix */
        int64_t idx[AG_MAX_DIMS], f = bad;
        for (int d = nb - 1; d >= 0; d--) { idx[d] = f % bs[d]; f /= bs[d]; }
        char ib[AG_SHAPE_BUF];
        snprintf(where, sizeof where, " %s of the batch", ag_shape_str(idx, nb, ib, sizeof ib));
    }
    long long p = (long long)v - 1;
    switch (kind) {
    case INFO_LU:
        ag_set_error(AG_ERR_NUMERIC, "%s: matrix%s is singular (U[%lld,%lld] = 0 in the LU factorisation)", op, where, p, p);
        break;
    case INFO_CHOL:
        ag_set_error(AG_ERR_NUMERIC, "%s: matrix%s is not positive definite (leading minor %lld)", op, where, (long long)v);
        break;
    case INFO_TRI:
        ag_set_error(AG_ERR_NUMERIC, "%s: triangular matrix%s is singular (A[%lld,%lld] = 0 on the diagonal)", op, where, p, p);
        break;
    }
    return false;
}

/* LU of A broadcast to batch bs: new (unregistered) lu, piv, info; false with the error set.
 * check: fail on a singular matrix. */
static bool lu_raw(const char *op, ag_tensor *A, const int64_t *bs, int nb, bool check, ag_tensor **lu,
                   ag_tensor **piv, ag_tensor **info) {
    *lu = *piv = *info = NULL;
    const ag_kernels *k = ag__kernels(A);
    if (!ag__kernels_with(op, A, (const void *)k->lu_factor, "lu_factor")) return false;
    int64_t n = A->shape[A->ndim - 1];
    ag_device dev = A->storage->dev;
    *lu = new_with(bs, nb, (int64_t[]){n, n}, 2, A->dtype, dev, op);
    *piv = new_with(bs, nb, (int64_t[]){n}, 1, AG_I64, dev, op);
    *info = new_with(bs, nb, NULL, 0, AG_I64, dev, op);
    bool ok = *lu && *piv && *info;
    if (ok) {
        ag_kview vl = ag__view(*lu), vp = ag__view(*piv), vi = ag__view(*info), va = bview(A, bs, nb, 2);
        ok = k->lu_factor(&vl, &vp, &vi, &va) == 0;
    }
    if (ok && check) ok = check_info(op, *info, bs, nb, INFO_LU);
    if (!ok) {
        ag__drop(*lu); ag__drop(*piv); ag__drop(*info);
        *lu = *piv = *info = NULL;
    }
    return ok;
}

static ag_tensor *mH(ag_tensor *t) { return ag_conj(ag_transpose(t, -1, -2)); }
static ag_tensor *unsq2(ag_tensor *t) { return ag_unsqueeze(ag_unsqueeze(t, -1), -1); } /* [...] -> [..., 1, 1] */

/* real 0/1 mask [n, n] keeping j - i >= k (upper) or j - i <= k (lower), on like's device */
static ag_tensor *tri_mask(ag_tensor *like, int64_t n, bool upper, int k) {
    ag_dtype rdt = ag_dtype_to_real(like->dtype);
    ag_device dev = ag_device_of(like);
    ag_tensor *ar = ag_arange_on(0, (double)n, 1, rdt, dev);
    ag_tensor *d = ag_sub(ag_unsqueeze(ar, 0), ag_unsqueeze(ar, 1)); /* d[i,j] = j - i */
    ag_tensor *kk = ag_scalar_on(k, rdt, dev);
    return ag_to_dtype(upper ? ag_ge(d, kk) : ag_le(d, kk), rdt);
}

/* p.i[] slots */
enum { P_VEC = 0, P_UPPER = 0, P_LEFT = 1, P_UNIT = 2 };

/* ---- solve --------------------------------------------------------------------------- */
static ag_tensor *solve_impl(ag_tensor *A, ag_tensor *B, bool vec);

int ag__bw_solve(ag_node *n, ag_tensor *g, ag_tensor **gin) {
    ag_tensor *A = n->saved[0], *X = n->saved[1];
    bool vec = n->p.i[P_VEC];
    ag_tensor *gB = solve_impl(mH(A), g, vec);
    if (!gB) return ag_error_code();
    if (n->needs[0])
        gin[0] = vec ? ag_neg(ag_matmul(ag_unsqueeze(gB, -1), mH(ag_unsqueeze(X, -1))))
                     : ag_neg(ag_matmul(gB, mH(X)));
    if (n->needs[1]) gin[1] = gB; /* the scope's reference: the engine takes it over */
    return 0;
}

static ag_tensor *solve_impl(ag_tensor *A, ag_tensor *B, bool vec) {
    const char *op = "ag_solve";
    int64_t n = A->shape[A->ndim - 1];
    int brow = vec ? B->ndim - 1 : B->ndim - 2;
    if (B->shape[brow] != n)
        return ag_fail(AG_ERR_SHAPE, "ag_solve: B must have %lld rows to match A, given A %s and B %s%s", (long long)n,
                       AG_SHP(A), AG_SHP(B), vec ? " (a batch of vectors)" : "");
    int64_t bs[AG_MAX_DIMS];
    int nb;
    if (!batch_shape(op, A, A->ndim - 2, B, brow, bs, &nb, 2)) return NULL;
    const ag_kernels *k = ag__kernels(A);
    if (!ag__kernels_with(op, A, (const void *)k->lu_solve, "lu_solve")) return NULL;
    ag_tensor *lu, *piv, *info;
    if (!lu_raw(op, A, bs, nb, true, &lu, &piv, &info)) return NULL;
    int64_t kk = vec ? 1 : B->shape[B->ndim - 1];
    ag_tensor *X = vec ? new_with(bs, nb, (int64_t[]){n}, 1, A->dtype, A->storage->dev, op)
                       : new_with(bs, nb, (int64_t[]){n, kk}, 2, A->dtype, A->storage->dev, op);
    if (X) {
        ag_kview vx = ag__view(X), vb = bview(B, bs, nb, vec ? 1 : 2);
        ag_kview vl = ag__view(lu), vp = ag__view(piv);
        if (vec) { kv_append1(&vx); kv_append1(&vb); }
        if (k->lu_solve(&vx, &vl, &vp, &vb, false) < 0) { ag__drop(X); X = NULL; }
    }
    ag__drop(lu); ag__drop(piv); ag__drop(info);
    ag_op_params p = {.i = {vec}};
    if (X && ag__needs_grad(AG_IN(A, B)) && ag__record(X, op, AG_OP(SOLVE), AG_IN(A, B), AG_IN(A, X), &p) < 0) {
        ag__drop(X);
        return NULL;
    }
    return ag__ret(X);
}

ag_tensor *ag_solve(ag_tensor *A, ag_tensor *B) {
    if (!AG_NONNULL("ag_solve", A, B)) return NULL;
    if (!check_square("ag_solve", A, "A") || !check_pair("ag_solve", A, B)) return NULL;
    if (B->ndim == 0) return ag_fail(AG_ERR_SHAPE, "ag_solve: B must have at least 1 dim, given a 0-d tensor");
    /* torch.linalg.solve: B is a (batch of) vector(s) when 1-d or when its shape is A's minus the last dim */
    bool vec = B->ndim == 1 ||
               (B->ndim == A->ndim - 1 && !memcmp(B->shape, A->shape, (size_t)B->ndim * sizeof *B->shape));
    return solve_impl(A, B, vec);
}

/* ---- inverse ------------------------------------------------------------------------ */
int ag__bw_inverse(ag_node *n, ag_tensor *g, ag_tensor **gin) {
    ag_tensor *Xh = mH(n->saved[0]);
    gin[0] = ag_neg(ag_matmul(ag_matmul(Xh, g), Xh));
    return 0;
}

ag_tensor *ag_inverse(ag_tensor *A) {
    const char *op = "ag_inverse";
    if (!AG_NONNULL(op, A)) return NULL;
    if (!check_square(op, A, "A")) return NULL;
    const ag_kernels *k = ag__kernels(A);
    if (!ag__kernels_with(op, A, (const void *)k->lu_solve, "lu_solve")) return NULL;
    int nb = A->ndim - 2;
    int64_t n = A->shape[nb];
    ag_tensor *lu, *piv, *info;
    if (!lu_raw(op, A, A->shape, nb, true, &lu, &piv, &info)) return NULL;
    ag_tensor *X = ag__new(A->shape, A->ndim, A->dtype, A->storage->dev, op);
    ag_tensor *I = X ? ag_eye_on(n, n, A->dtype, A->storage->dev) : NULL;
    if (I) {
        ag_kview vx = ag__view(X), vl = ag__view(lu), vp = ag__view(piv), vi = bview(I, A->shape, nb, 2);
        if (k->lu_solve(&vx, &vl, &vp, &vi, false) < 0) { ag__drop(X); X = NULL; }
    } else {
        ag__drop(X);
        X = NULL;
    }
    ag_release(I);
    ag__drop(lu); ag__drop(piv); ag__drop(info);
    if (X && ag__needs_grad(AG_IN(A)) && ag__record(X, op, AG_OP(INVERSE), AG_IN(A), AG_IN(X), NULL) < 0) {
        ag__drop(X);
        return NULL;
    }
    return ag__ret(X);
}

/* ---- det, logdet, slogdet ----------------------------------------------------------- */

/* Inside the caller's no-grad scope: diag (view [..., n] of U's diagonal) and the sign of the
 * row permutation (real dtype, [...]). */
static bool lu_diag(const char *op, ag_tensor *A, ag_tensor **diag, ag_tensor **psign) {
    int nb = A->ndim - 2;
    int64_t n = A->shape[nb];
    ag_tensor *lu, *piv, *info;
    if (!lu_raw(op, A, A->shape, nb, false, &lu, &piv, &info)) return false;
    ag__drop(info);
    ag_tensor *d = ag__alias(lu);
    ag__drop(lu);
    if (!d) { ag__drop(piv); return false; }
    d->ndim = nb + 1;
    d->strides[nb] = d->strides[nb] + d->strides[nb + 1];
    *diag = ag__ret(d);
    ag__ret(piv);
    ag_dtype rdt = ag_dtype_to_real(A->dtype);
    ag_tensor *swapped = ag_to_dtype(ag_ne(piv, ag_arange_on(1, (double)n + 1, 1, AG_I64, A->storage->dev)), rdt);
    ag_tensor *cnt = ag_sum(swapped, AG_DIMS(-1), false);
    *psign = ag_pow(ag_scalar_on(-1, rdt, A->storage->dev), cnt);
    return *psign != NULL;
}

static ag_tensor *inv_H(ag_tensor *A) { return mH(ag_inverse(A)); }

int ag__bw_det(ag_node *n, ag_tensor *g, ag_tensor **gin) {
    ag_tensor *A = n->saved[0], *det = n->saved[1];
    gin[0] = ag_mul(unsq2(ag_mul(g, ag_conj(det))), inv_H(A));
    return 0;
}

int ag__bw_logdet(ag_node *n, ag_tensor *g, ag_tensor **gin) {
    gin[0] = ag_mul(unsq2(g), inv_H(n->saved[0]));
    return 0;
}

int ag__bw_slogdet_sign(ag_node *n, ag_tensor *g, ag_tensor **gin) {
    ag_tensor *A = n->saved[0], *sign = n->saved[1];
    ag_tensor *im = ag_imag(ag_mul(ag_conj(g), sign));
    ag_tensor *c = ag_complex(ag_zeros_like(im), ag_neg(im)); /* -i Im(conj(g) sign) */
    gin[0] = ag_mul(unsq2(c), inv_H(A));
    return 0;
}

/* record bw on r (a result already moved to the caller's scope); r on success, NULL after failure */
static ag_tensor *record_on(ag_tensor *r, const char *op, const ag_opdef *bw, ag_tensor *A, ag_tensor *saved2) {
    if (!r) return NULL;
    if (ag__needs_grad(AG_IN(A)) &&
        ag__record(r, op, bw, AG_IN(A), (ag_tensor *const[]){A, saved2}, saved2 ? 2 : 1, NULL) < 0) {
        ag_release(r);
        return NULL;
    }
    return ag__ret(r);
}

ag_tensor *ag_det(ag_tensor *A) {
    const char *op = "ag_det";
    if (!AG_NONNULL(op, A)) return NULL;
    if (!check_square(op, A, "A")) return NULL;
    ag_no_grad_begin();
    ag_scope_begin();
    ag_tensor *diag = NULL, *psign = NULL, *r = NULL;
    if (lu_diag(op, A, &diag, &psign)) r = ag_mul(ag_prod(diag, AG_DIMS(-1), false), psign);
    ag_keep(r);
    ag_scope_end();
    ag_no_grad_end();
    return record_on(r, op, AG_OP(DET), A, r);
}

/* logabsdet and sign (new refs in the caller's scope) */
static bool slogdet_parts(const char *op, ag_tensor *A, ag_tensor **logabs, ag_tensor **sign) {
    ag_no_grad_begin();
    ag_scope_begin();
    ag_tensor *diag = NULL, *psign = NULL, *la = NULL, *sg = NULL;
    if (lu_diag(op, A, &diag, &psign)) {
        la = ag_sum(ag_log(ag_abs(diag)), AG_DIMS(-1), false);
        sg = ag_mul(ag_prod(ag_sign(diag), AG_DIMS(-1), false), psign);
    }
    bool ok = la && sg;
    if (ok) { ag_keep(la); ag_keep(sg); }
    ag_scope_end();
    ag_no_grad_end();
    *logabs = ok ? la : NULL;
    *sign = ok ? sg : NULL;
    return ok;
}

ag_tensor *ag_logdet(ag_tensor *A) {
    const char *op = "ag_logdet";
    if (!AG_NONNULL(op, A)) return NULL;
    if (!check_square(op, A, "A")) return NULL;
    ag_tensor *la, *sg;
    if (!slogdet_parts(op, A, &la, &sg)) return NULL;
    ag_no_grad_begin();
    ag_scope_begin();
    ag_tensor *r;
    if (ag_dtype_is_complex(A->dtype)) /* log|det| + i arg(det) */
        r = ag_complex(la, ag_angle(sg));
    else /* NaN where det < 0 (torch.logdet) */
        r = ag_where(ag_lt(sg, ag_zeros_like(sg)), ag_full_like(la, NAN), la);
    ag_keep(r);
    ag_scope_end();
    ag_no_grad_end();
    ag_release(la);
    ag_release(sg);
    return record_on(r, op, AG_OP(LOGDET), A, NULL);
}

ag_tensor *ag_slogdet(ag_tensor *A, ag_tensor **sign) {
    const char *op = "ag_slogdet";
    if (sign) *sign = NULL;
    if (!AG_NONNULL(op, A)) return NULL;
    if (!check_square(op, A, "A")) return NULL;
    ag_tensor *la, *sg;
    if (!slogdet_parts(op, A, &la, &sg)) return NULL;
    la = record_on(la, op, AG_OP(LOGDET), A, NULL);
    if (ag_dtype_is_complex(A->dtype)) sg = record_on(sg, "ag_slogdet (sign)", AG_OP(SLOGDET_SIGN), A, sg);
    if (!la || !sg) {
        ag_release(la);
        ag_release(sg);
        return NULL;
    }
    if (sign) *sign = sg;
    else ag_release(sg);
    return la;
}

/* ---- cholesky ----------------------------------------------------------------------- */
static ag_tensor *tri_solve(ag_tensor *A, ag_tensor *B, bool upper, bool left, bool unit);

int ag__bw_cholesky(ag_node *n, ag_tensor *g, ag_tensor **gin) {
    ag_tensor *L = n->saved[0], *gL = g;
    if (n->p.i[P_UPPER]) { L = mH(L); gL = mH(gL); }
    int64_t sz = L->shape[L->ndim - 1];
    /* Phi(L^H gL): lower triangle with the diagonal halved */
    ag_tensor *w = ag_add(tri_mask(L, sz, false, -1), ag_mul_s(ag_eye_on(sz, sz, ag_dtype_to_real(L->dtype), ag_device_of(L)), 0.5));
    ag_tensor *phi = ag_mul(ag_matmul(mH(L), gL), w);
    ag_tensor *y = tri_solve(mH(L), phi, true, true, false); /* L^-H phi */
    ag_tensor *gA = tri_solve(L, y, false, false, false);    /* L^-H phi L^-1 */
    gin[0] = ag_mul_s(ag_add(gA, mH(gA)), 0.5);
    return 0;
}

ag_tensor *ag_cholesky(ag_tensor *A, bool upper) {
    const char *op = "ag_cholesky";
    if (!AG_NONNULL(op, A)) return NULL;
    if (!check_square(op, A, "A")) return NULL;
    const ag_kernels *k = ag__kernels(A);
    if (!ag__kernels_with(op, A, (const void *)k->cholesky, "cholesky")) return NULL;
    int nb = A->ndim - 2;
    ag_tensor *L = ag__new(A->shape, A->ndim, A->dtype, A->storage->dev, op);
    ag_tensor *info = new_with(A->shape, nb, NULL, 0, AG_I64, A->storage->dev, op);
    bool ok = L && info;
    if (ok) {
        ag_kview vl = ag__view(L), vi = ag__view(info), va = ag__view(A);
        ok = k->cholesky(&vl, &vi, &va, upper) == 0 && check_info(op, info, A->shape, nb, INFO_CHOL);
    }
    ag__drop(info);
    if (!ok) { ag__drop(L); return NULL; }
    ag_op_params p = {.i = {upper}};
    if (ag__needs_grad(AG_IN(A)) && ag__record(L, op, AG_OP(CHOLESKY), AG_IN(A), AG_IN(L), &p) < 0) {
        ag__drop(L);
        return NULL;
    }
    return ag__ret(L);
}

/* ---- solve_triangular --------------------------------------------------------------- */
int ag__bw_tri(ag_node *n, ag_tensor *g, ag_tensor **gin) {
    ag_tensor *A = n->saved[0], *X = n->saved[1];
    bool upper = n->p.i[P_UPPER], left = n->p.i[P_LEFT], unit = n->p.i[P_UNIT];
    ag_tensor *gB = tri_solve(mH(A), g, !upper, left, unit);
    if (!gB) return ag_error_code();
    if (n->needs[0]) {
        ag_tensor *gA = left ? ag_neg(ag_matmul(gB, mH(X))) : ag_neg(ag_matmul(mH(X), gB));
        int64_t sz = A->shape[A->ndim - 1];
        gin[0] = ag_mul(gA, tri_mask(A, sz, upper, upper ? (unit ? 1 : 0) : (unit ? -1 : 0)));
    }
    if (n->needs[1]) gin[1] = gB; /* the scope's reference: the engine takes it over */
    return 0;
}

static ag_tensor *tri_solve(ag_tensor *A, ag_tensor *B, bool upper, bool left, bool unit) {
    const char *op = "ag_solve_triangular";
    if (!AG_NONNULL(op, A, B)) return NULL;
    int64_t n = A->shape[A->ndim - 1];
    int64_t bn = left ? B->shape[B->ndim - 2] : B->shape[B->ndim - 1];
    if (bn != n)
        return ag_fail(AG_ERR_SHAPE, "ag_solve_triangular: B %s does not fit A %s (expected B [..., %lld, k] %s)",
                       AG_SHP(B), AG_SHP(A), (long long)n, left ? "for left = true" : "transposed, for left = false");
    const ag_kernels *k = ag__kernels(A);
    if (!ag__kernels_with(op, A, (const void *)k->triangular_solve, "triangular_solve")) return NULL;
    int64_t bs[AG_MAX_DIMS];
    int nb;
    if (!batch_shape(op, A, A->ndim - 2, B, B->ndim - 2, bs, &nb, 2)) return NULL;
    ag_tensor *X = new_with(bs, nb, B->shape + B->ndim - 2, 2, A->dtype, A->storage->dev, op);
    ag_tensor *info = new_with(bs, nb, NULL, 0, AG_I64, A->storage->dev, op);
    bool ok = X && info;
    if (ok) {
        ag_kview va = bview(A, bs, nb, 2), vb = bview(B, bs, nb, 2), vx = ag__view(X), vi = ag__view(info);
        bool up = upper;
        if (!left) { /* X A = B  <=>  A^T X^T = B^T */
            kv_mT(&va); kv_mT(&vb); kv_mT(&vx);
            up = !upper;
        }
        ok = k->triangular_solve(&vx, &vi, &va, &vb, up, unit) == 0 && check_info(op, info, bs, nb, INFO_TRI);
    }
    ag__drop(info);
    if (!ok) { ag__drop(X); return NULL; }
    ag_op_params p = {.i = {upper, left, unit}};
    if (ag__needs_grad(AG_IN(A, B)) && ag__record(X, op, AG_OP(TRIANGULAR_SOLVE), AG_IN(A, B), AG_IN(A, X), &p) < 0) {
        ag__drop(X);
        return NULL;
    }
    return ag__ret(X);
}

ag_tensor *ag_solve_triangular(ag_tensor *A, ag_tensor *B, bool upper, bool left, bool unitriangular) {
    const char *op = "ag_solve_triangular";
    if (!AG_NONNULL(op, A, B)) return NULL;
    if (!check_square(op, A, "A") || !check_pair(op, A, B)) return NULL;
    if (B->ndim < 2)
        return ag_fail(AG_ERR_SHAPE, "ag_solve_triangular: B must be a matrix or a batch of them, given %s", AG_SHP(B));
    return tri_solve(A, B, upper, left, unitriangular);
}

/* ---- conjugate gradient -------------------------------------------------------------- */

/* Re <u, v> = Re sum conj(u) v; NaN on failure */
static double rdot(ag_tensor *u, ag_tensor *v) {
    ag_tensor *s = ag_sum(ag_mul(ag_conj(u), v), AG_ALL_DIMS, false);
    return s ? ag_item(s) : NAN;
}

static double norm2(ag_tensor *t) {
    ag_tensor *s = ag_norm(t, 2, AG_ALL_DIMS, false);
    return s ? ag_item(s) : NAN;
}

/* result of a callback: non-NULL, b's shape and dtype */
static bool check_cb(ag_tensor *y, ag_tensor *x, const char *what, int it) {
    if (!y) {
        if (!ag_failed()) ag_set_error(AG_ERR_INVALID, "ag_cg: %s returned NULL at iteration %d", what, it);
        return false;
    }
    if (y->ndim != x->ndim || memcmp(y->shape, x->shape, (size_t)x->ndim * sizeof *x->shape) || y->dtype != x->dtype) {
        ag_set_error(AG_ERR_SHAPE, "ag_cg: %s returned %s %s for x of %s %s (iteration %d)", what, AG_SHP(y),
                     ag_dtype_name(y->dtype), AG_SHP(x), ag_dtype_name(x->dtype), it);
        return false;
    }
    return true;
}

ag_tensor *ag_cg(ag_linop_fn apply, void *user_data, ag_tensor *b, ag_tensor *x0, const ag_cg_opts *opts,
                 ag_cg_report *report) {
    ag_cg_report local;
    if (!report) report = &local;
    memset(report, 0, sizeof *report);
    if (!AG_NONNULL_FROM("ag_cg", 3, b)) return NULL;
    if (!apply) return ag_fail(AG_ERR_INVALID, "ag_cg: apply is NULL");
    if (!lapack_dtype(b->dtype))
        return ag_fail(AG_ERR_DTYPE, "ag_cg: expected b of dtype f32, f64, c64 or c128, given %s", ag_dtype_name(b->dtype));
    if (x0 && (x0->ndim != b->ndim || memcmp(x0->shape, b->shape, (size_t)b->ndim * sizeof *b->shape) ||
               x0->dtype != b->dtype))
        return ag_fail(AG_ERR_SHAPE, "ag_cg: x0 (%s %s) must have b's shape and dtype (%s %s)", AG_SHP(x0),
                       ag_dtype_name(x0->dtype), AG_SHP(b), ag_dtype_name(b->dtype));
    double rtol = opts && opts->rtol > 0 ? opts->rtol : 1e-6;
    double atol = opts && opts->atol > 0 ? opts->atol : 0;
    int64_t ne = ag_numel(b);
    int max_iter = opts && opts->max_iter > 0 ? opts->max_iter : (int)(10 * ne < 1000000000 ? 10 * ne : 1000000000);
    ag_linop_fn pre = opts ? opts->precond : NULL;
    void *pre_ud = opts ? opts->precond_data : NULL;

    ag_no_grad_begin();
    ag_scope_begin();
    bool ok = true;
    int it = 0;
    double bnorm = norm2(b), res = NAN, thresh = 0;
    ag_tensor *x = NULL, *r = NULL, *p = NULL;
    double rz = 0;
    if (isnan(bnorm)) ok = false;
    if (ok) {
        x = x0 ? ag_clone(x0) : ag_zeros_like(b);
        if (x0) {
            ag_tensor *ax = apply(x, user_data);
            ok = check_cb(ax, b, "apply", 0);
            r = ok ? ag_sub(b, ax) : NULL;
        } else {
            r = ag_clone(b);
        }
        ok = ok && x && r;
    }
    if (ok) {
        p = pre ? pre(r, pre_ud) : ag_clone(r);
        ok = pre ? check_cb(p, b, "precond", 0) : p != NULL;
        rz = ok ? rdot(r, p) : NAN;
        res = norm2(r);
        thresh = fmax(rtol * bnorm, atol);
        ok = ok && !isnan(rz) && !isnan(res);
    }
    while (ok && res > thresh && it < max_iter) {
        ag_scope_begin();
        ag_tensor *Ap = apply(p, user_data);
        ag_tensor *xn = NULL, *rn = NULL, *pn = NULL;
        double pAp = NAN, rzn = NAN;
        ok = check_cb(Ap, b, "apply", it + 1);
        if (ok) {
            pAp = rdot(p, Ap);
            if (!(pAp > 0)) {
                if (!ag_failed())
                    ag_set_error(AG_ERR_NUMERIC, "ag_cg: the operator is not positive definite (p^H A p = %g at iteration %d)",
                                 pAp, it + 1);
                ok = false;
            }
        }
        if (ok) {
            double alpha = rz / pAp;
            xn = ag_add(x, ag_mul_s(p, alpha));
            rn = ag_sub(r, ag_mul_s(Ap, alpha));
            ag_tensor *zn = pre ? pre(rn, pre_ud) : rn;
            ok = xn && rn && (!pre || check_cb(zn, b, "precond", it + 1));
            if (ok) {
                rzn = rdot(rn, zn);
                pn = ag_add(zn, ag_mul_s(p, rzn / rz));
                res = norm2(rn);
                ok = pn && !isnan(rzn) && !isnan(res);
            }
        }
        if (ok) { ag_keep(xn); ag_keep(rn); ag_keep(pn); }
        ag_scope_end();
        if (!ok) break;
        ag_release(x); ag_release(r); ag_release(p);
        x = xn; r = rn; p = pn; rz = rzn;
        it++;
    }
    if (ok) ag_keep(x);
    else x = NULL;
    ag_scope_end();
    ag_no_grad_end();

    report->iterations = it;
    report->residual = bnorm > 0 ? res / bnorm : res;
    if (!ok) {
        report->converged = false;
        snprintf(report->message, sizeof report->message, "failed: %s", ag_last_error());
        return NULL;
    }
    report->converged = res <= thresh;
    if (report->converged)
        snprintf(report->message, sizeof report->message,
                 "converged in %d iterations (residual %.3g <= max(rtol %.3g * |b|, atol %.3g))", it, res, rtol, atol);
    else
        snprintf(report->message, sizeof report->message,
                 "not converged: max_iter = %d reached with relative residual %.3g (rtol %.3g, atol %.3g)", max_iter,
                 report->residual, rtol, atol);
    return x;
}
