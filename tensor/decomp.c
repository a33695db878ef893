/* tensor/decomp.c — matrix decompositions through the backend's qr, eigh and svd entries, and
 * least squares composed from QR.
 *
 * Each decomposition returns several tensors; each output gets its own node (the backward
 * formulas are linear in the output gradients, so the engine's sum of the per-output rules is
 * the joint rule). The nodes save history-free aliases of all the factors, so second
 * derivatives are not supported (the op-table rows say NOGG). Rules are PyTorch's
 * (FunctionsManual.cpp, torch 1.13), written with ag ops; ^H is the conjugate transpose (^T for
 * real dtypes):
 *   qr (m >= n)  gA = [gQ + Q syminvadj(triu(gR R^H - Q^H gQ))] R^-H,
 *                syminvadj(X) = X + X^H with the real part of the diagonal halved
 *   eigh         gA = V (skew(V^H gV) / E + diag(gL)) V^H,  E_ij = L_j - L_i, skew(X) = (X - X^H)/2
 *   svd          gA = U [(skew(U^H gU) S + S skew(V^H gV)) / E + diag(gS) + i Im(diag(U^H gU)) / S] V^H
 *                     + (I - U U^H) gU S^-1 V^H (m > k) + U S^-1 gV^H (I - V V^H) (n > k),
 *                E_ij = S_j^2 - S_i^2, skew(X) = X - X^H.
 * Complex eigenvectors and singular vectors are defined up to a phase per column; a loss that
 * depends on that phase has no gradient, and the rules give the one of the phase-invariant part
 * (the diagonals of the skew terms, which only such a loss makes non-zero, are dropped). */
#include <math.h>
#include <string.h>

#include "tensor/internal.h"

static bool check_mat(const char *op, const ag_tensor *A) {
    if (!ag_dtype_is_float(A->dtype)) {
        ag_set_error(AG_ERR_DTYPE, "%s: expected A of dtype f32, f64, c64 or c128, given %s", op,
                     ag_dtype_name(A->dtype));
        return false;
    }
    if (A->ndim < 2) {
        ag_set_error(AG_ERR_SHAPE, "%s: expected A to be a matrix or a batch of them [..., m, n], given %s", op,
                     AG_SHP(A));
        return false;
    }
    return true;
}

static ag_tensor *new_tail(const ag_tensor *A, const int64_t *tail, int nt, ag_dtype dt, const char *op) {
    int64_t shp[AG_MAX_DIMS];
    int nb = A->ndim - 2;
    memcpy(shp, A->shape, (size_t)nb * sizeof *shp);
    if (nt) memcpy(shp + nb, tail, (size_t)nt * sizeof *shp);
    return ag__new(shp, nb + nt, dt, A->storage->dev, op);
}

/* Fail on the first non-zero LAPACK info (convergence failures). */
static bool check_conv(const char *op, ag_tensor *info) {
    ag_scope_begin();
    ag_tensor *nz = ag_sum(ag_to_dtype(ag_ne(info, ag_scalar_like(info, 0)), AG_I64), AG_ALL_DIMS, false);
    double nbad = nz ? ag_item(nz) : NAN;
    ag_scope_end();
    if (isnan(nbad)) return false;
    if (nbad == 0) return true;
    ag_set_error(AG_ERR_NUMERIC, "%s: the LAPACK iteration did not converge for %.0f matri%s of the batch", op, nbad,
                 nbad == 1 ? "x" : "ces");
    return false;
}

/* Record one node per output (outs[i] with rule defs[i]), all saving aliases of every output.
 * On failure the outputs are left as they are; returns 0 or a negative status. */
static int record_all(const char *op, ag_tensor *A, ag_tensor **outs, const ag_opdef *const *defs, int n) {
    if (!ag__needs_grad(AG_IN(A))) return 0;
    ag_tensor *sv[3] = {0};
    int rc = 0;
    for (int i = 0; i < n && !rc; i++)
        if (!(sv[i] = ag__alias(outs[i]))) rc = ag_error_code();
    for (int i = 0; i < n && !rc; i++) rc = ag__record(outs[i], op, defs[i], AG_IN(A), sv, n, NULL);
    for (int i = 0; i < n; i++) ag__drop(sv[i]);
    return rc;
}

static ag_tensor *mT(ag_tensor *t) { return ag_transpose(t, -1, -2); }
static ag_tensor *mH(ag_tensor *t) { return ag_conj(mT(t)); } /* ag_conj of a real tensor is itself */
static ag_tensor *eye_of(ag_tensor *like, int64_t n) {
    return ag_eye_on(n, n, ag_dtype_to_real(ag_dtype_of(like)), ag_device_of(like));
}
static ag_tensor *diag_embed(ag_tensor *v) { return ag_mul(ag_unsqueeze(v, -1), eye_of(v, ag_size(v, -1))); }
static ag_tensor *diag_of(ag_tensor *X) { return ag_sum(ag_mul(X, eye_of(X, ag_size(X, -1))), AG_DIMS(-1), false); }
static ag_tensor *offdiag(ag_tensor *X) {
    ag_tensor *I = eye_of(X, ag_size(X, -1));
    return ag_mul(X, ag_rsub_s(1, I)); /* X (1 - I) */
}
/* diag_embed(i Im(diag X)): zero for real X */
static ag_tensor *i_imag_diag(ag_tensor *X) {
    if (!ag_dtype_is_complex(ag_dtype_of(X))) return ag_zeros_like(X);
    ag_tensor *im = ag_imag(diag_of(X));
    return diag_embed(ag_complex(ag_zeros_like(im), im));
}

/* 0/1 mask [n, n] (like's dtype and device) keeping j - i >= k */
static ag_tensor *triu_mask(ag_tensor *like, int64_t n, int k) {
    ag_dtype dt = ag_dtype_to_real(ag_dtype_of(like));
    ag_device dev = ag_device_of(like);
    ag_tensor *ar = ag_arange_on(0, (double)n, 1, dt, dev);
    ag_tensor *d = ag_sub(ag_unsqueeze(ar, 0), ag_unsqueeze(ar, 1));
    return ag_to_dtype(ag_ge(d, ag_scalar_on(k, dt, dev)), dt);
}

/* ---- qr ------------------------------------------------------------------------------- */

/* Q syminvadj(triu(M)) R^-T, then + gQ when given */
static ag_tensor *qr_tail(ag_tensor *Q, ag_tensor *R, ag_tensor *M, ag_tensor *gQ) {
    int64_t n = ag_size(M, -1);
    ag_tensor *T = ag_mul(M, triu_mask(M, n, 0));
    /* triu(M) + strict_triu(M)^H, less i Im of the diagonal */
    ag_tensor *S = ag_sub(ag_add(T, mH(ag_mul(T, triu_mask(M, n, 1)))), i_imag_diag(M));
    ag_tensor *gA = ag_matmul(Q, S);
    if (gQ) gA = ag_add(gA, gQ);
    return ag_solve_triangular(mH(R), gA, false, false, false); /* gA R^-H */
}

int ag__bw_qr_q(ag_node *n, ag_tensor *g, ag_tensor **gin) {
    ag_tensor *Q = n->saved[0], *R = n->saved[1];
    gin[0] = qr_tail(Q, R, ag_neg(ag_matmul(mH(Q), g)), g);
    return gin[0] ? 0 : ag_error_code();
}

int ag__bw_qr_r(ag_node *n, ag_tensor *g, ag_tensor **gin) {
    ag_tensor *Q = n->saved[0], *R = n->saved[1];
    gin[0] = qr_tail(Q, R, ag_matmul(g, mH(R)), NULL);
    return gin[0] ? 0 : ag_error_code();
}

int ag_linalg_qr(ag_tensor *A, ag_tensor **Q, ag_tensor **R) {
    const char *op = "ag_linalg_qr";
    if (Q) *Q = NULL;
    if (R) *R = NULL;
    if (!AG_NONNULL(op, A, Q, R)) return ag_error_code();
    if (!check_mat(op, A)) return ag_error_code();
    const ag_kernels *k = ag__kernels(A);
    if (!ag__kernels_with(op, A, (const void *)k->qr, "qr")) return ag_error_code();
    int64_t m = A->shape[A->ndim - 2], nc = A->shape[A->ndim - 1], kk = m < nc ? m : nc;
    if (m < nc && ag__needs_grad(AG_IN(A)))
        return ag_set_error(AG_ERR_NOTIMPL, "%s: the gradient needs m >= n (A is %s); detach A or use no-grad", op,
                            AG_SHP(A));
    ag_tensor *q = new_tail(A, (int64_t[]){m, kk}, 2, A->dtype, op);
    ag_tensor *r = new_tail(A, (int64_t[]){kk, nc}, 2, A->dtype, op);
    bool ok = q && r;
    if (ok) {
        ag_kview vq = ag__view(q), vr = ag__view(r), va = ag__view(A);
        ok = k->qr(&vq, &vr, &va) == 0;
    }
    ag_tensor *outs[2] = {q, r};
    if (ok) ok = record_all(op, A, outs, (const ag_opdef *const[]){AG_OP(QR_Q), AG_OP(QR_R)}, 2) == 0;
    if (!ok) {
        ag__drop(q);
        ag__drop(r);
        return ag_error_code();
    }
    *Q = ag__ret(q);
    *R = ag__ret(r);
    return 0;
}

/* ---- eigh ----------------------------------------------------------------------------- */

int ag__bw_eigh_l(ag_node *n, ag_tensor *g, ag_tensor **gin) {
    ag_tensor *V = n->saved[1];
    gin[0] = ag_matmul(ag_matmul(V, ag_to_dtype(diag_embed(g), ag_dtype_of(V))), mH(V));
    return gin[0] ? 0 : ag_error_code();
}

int ag__bw_eigh_v(ag_node *n, ag_tensor *g, ag_tensor **gin) {
    ag_tensor *L = n->saved[0], *V = n->saved[1];
    int64_t sz = ag_size(L, -1);
    ag_tensor *X = ag_matmul(mH(V), g);
    ag_tensor *sk = offdiag(ag_mul_s(ag_sub(X, mH(X)), 0.5));
    ag_tensor *E = ag_add(ag_sub(ag_unsqueeze(L, -2), ag_unsqueeze(L, -1)), eye_of(L, sz));
    gin[0] = ag_matmul(ag_matmul(V, ag_div(sk, E)), mH(V));
    return gin[0] ? 0 : ag_error_code();
}

int ag_linalg_eigh(ag_tensor *A, ag_tensor **eigenvalues, ag_tensor **eigenvectors) {
    const char *op = "ag_linalg_eigh";
    if (eigenvalues) *eigenvalues = NULL;
    if (eigenvectors) *eigenvectors = NULL;
    if (!AG_NONNULL(op, A, eigenvalues, eigenvectors)) return ag_error_code();
    if (!check_mat(op, A)) return ag_error_code();
    int64_t nn = A->shape[A->ndim - 1];
    if (A->shape[A->ndim - 2] != nn)
        return ag_set_error(AG_ERR_SHAPE, "%s: expected A to be a square matrix or a batch of them [..., n, n], given %s",
                            op, AG_SHP(A));
    const ag_kernels *k = ag__kernels(A);
    if (!ag__kernels_with(op, A, (const void *)k->eigh, "eigh")) return ag_error_code();
    ag_tensor *w = new_tail(A, (int64_t[]){nn}, 1, ag_dtype_to_real(A->dtype), op);
    ag_tensor *v = new_tail(A, (int64_t[]){nn, nn}, 2, A->dtype, op);
    ag_tensor *info = new_tail(A, NULL, 0, AG_I64, op);
    bool ok = w && v && info;
    if (ok) {
        ag_kview vw = ag__view(w), vv = ag__view(v), vi = ag__view(info), va = ag__view(A);
        ok = k->eigh(&vw, &vv, &vi, &va) == 0 && check_conv(op, info);
    }
    ag__drop(info);
    ag_tensor *outs[2] = {w, v};
    if (ok) ok = record_all(op, A, outs, (const ag_opdef *const[]){AG_OP(EIGH_L), AG_OP(EIGH_V)}, 2) == 0;
    if (!ok) {
        ag__drop(w);
        ag__drop(v);
        return ag_error_code();
    }
    *eigenvalues = ag__ret(w);
    *eigenvectors = ag__ret(v);
    return 0;
}

/* ---- svd ------------------------------------------------------------------------------ */

static ag_tensor *svd_E(ag_tensor *S) {
    ag_tensor *S2 = ag_mul(S, S);
    return ag_add(ag_sub(ag_unsqueeze(S2, -2), ag_unsqueeze(S2, -1)), eye_of(S, ag_size(S, -1)));
}

int ag__bw_svd_u(ag_node *n, ag_tensor *g, ag_tensor **gin) {
    ag_tensor *U = n->saved[0], *S = n->saved[1], *Vh = n->saved[2];
    ag_tensor *X = ag_matmul(mH(U), g);
    ag_tensor *inner = ag_div(offdiag(ag_mul(ag_sub(X, mH(X)), ag_unsqueeze(S, -2))), svd_E(S));
    inner = ag_add(inner, ag_div(i_imag_diag(X), ag_unsqueeze(S, -2))); /* i Im(diag(U^H gU)) / S */
    ag_tensor *gA = ag_matmul(U, inner);
    if (ag_size(U, -2) > ag_size(U, -1)) { /* + (I - U U^H) gU S^-1 */
        ag_tensor *gs = ag_div(g, ag_unsqueeze(S, -2));
        gA = ag_add(gA, ag_sub(gs, ag_matmul(U, ag_matmul(mH(U), gs))));
    }
    gin[0] = ag_matmul(gA, Vh);
    return gin[0] ? 0 : ag_error_code();
}

int ag__bw_svd_s(ag_node *n, ag_tensor *g, ag_tensor **gin) {
    ag_tensor *U = n->saved[0], *Vh = n->saved[2];
    gin[0] = ag_matmul(ag_matmul(U, ag_to_dtype(diag_embed(g), ag_dtype_of(U))), Vh);
    return gin[0] ? 0 : ag_error_code();
}

int ag__bw_svd_vh(ag_node *n, ag_tensor *g, ag_tensor **gin) {
    ag_tensor *U = n->saved[0], *S = n->saved[1], *Vh = n->saved[2];
    ag_tensor *Y = ag_matmul(Vh, mH(g)); /* V^H gV with V = Vh^H, gV = g^H */
    ag_tensor *inner = ag_div(offdiag(ag_mul(ag_unsqueeze(S, -1), ag_sub(Y, mH(Y)))), svd_E(S));
    ag_tensor *gA = ag_matmul(inner, Vh);
    if (ag_size(Vh, -1) > ag_size(Vh, -2)) { /* + S^-1 gV^H (I - V V^H) */
        ag_tensor *gs = ag_div(g, ag_unsqueeze(S, -1));
        gA = ag_add(gA, ag_sub(gs, ag_matmul(ag_matmul(gs, mH(Vh)), Vh)));
    }
    gin[0] = ag_matmul(U, gA);
    return gin[0] ? 0 : ag_error_code();
}

int ag_linalg_svd(ag_tensor *A, bool full_matrices, ag_tensor **U, ag_tensor **S, ag_tensor **Vh) {
    const char *op = "ag_linalg_svd";
    if (U) *U = NULL;
    if (S) *S = NULL;
    if (Vh) *Vh = NULL;
    if (!AG_NONNULL_FROM(op, 1, A)) return ag_error_code();
    if (!AG_NONNULL_FROM(op, 3, U, S, Vh)) return ag_error_code();
    if (full_matrices)
        return ag_set_error(AG_ERR_NOTIMPL, "%s: full_matrices = true is not supported (only the reduced SVD)", op);
    if (!check_mat(op, A)) return ag_error_code();
    const ag_kernels *k = ag__kernels(A);
    if (!ag__kernels_with(op, A, (const void *)k->svd, "svd")) return ag_error_code();
    int64_t m = A->shape[A->ndim - 2], nc = A->shape[A->ndim - 1], kk = m < nc ? m : nc;
    ag_tensor *u = new_tail(A, (int64_t[]){m, kk}, 2, A->dtype, op);
    ag_tensor *s = new_tail(A, (int64_t[]){kk}, 1, ag_dtype_to_real(A->dtype), op);
    ag_tensor *vh = new_tail(A, (int64_t[]){kk, nc}, 2, A->dtype, op);
    ag_tensor *info = new_tail(A, NULL, 0, AG_I64, op);
    bool ok = u && s && vh && info;
    if (ok) {
        ag_kview vu = ag__view(u), vs = ag__view(s), vv = ag__view(vh), vi = ag__view(info), va = ag__view(A);
        ok = k->svd(&vu, &vs, &vv, &vi, &va) == 0 && check_conv(op, info);
    }
    ag__drop(info);
    ag_tensor *outs[3] = {u, s, vh};
    if (ok) ok = record_all(op, A, outs, (const ag_opdef *const[]){AG_OP(SVD_U), AG_OP(SVD_S), AG_OP(SVD_VH)}, 3) == 0;
    if (!ok) {
        ag__drop(u);
        ag__drop(s);
        ag__drop(vh);
        return ag_error_code();
    }
    *U = ag__ret(u);
    *S = ag__ret(s);
    *Vh = ag__ret(vh);
    return 0;
}

/* ---- lstsq ---------------------------------------------------------------------------- */

ag_tensor *ag_linalg_lstsq(ag_tensor *A, ag_tensor *B) {
    const char *op = "ag_linalg_lstsq";
    if (!AG_NONNULL(op, A, B)) return NULL;
    if (!check_mat(op, A)) return NULL;
    if (!ag__same_device(op, A, B)) return NULL;
    if (A->dtype != B->dtype)
        return ag_fail(AG_ERR_DTYPE, "%s: A and B must have the same dtype, given %s and %s", op,
                       ag_dtype_name(A->dtype), ag_dtype_name(B->dtype));
    int64_t m = A->shape[A->ndim - 2], nc = A->shape[A->ndim - 1];
    if (m < nc)
        return ag_fail(AG_ERR_SHAPE, "%s: expected A [..., m, n] with m >= n (full column rank), given %s", op, AG_SHP(A));
    if (B->ndim < 2 || B->shape[B->ndim - 2] != m)
        return ag_fail(AG_ERR_SHAPE, "%s: expected B [..., %lld, k] for A %s, given %s", op, (long long)m, AG_SHP(A),
                       AG_SHP(B));
    ag_scope_begin();
    ag_tensor *Q = NULL, *R = NULL, *X = NULL;
    if (ag_linalg_qr(A, &Q, &R) == 0) X = ag_solve_triangular(R, ag_matmul(mH(Q), B), true, true, false);
    ag_keep(X);
    ag_scope_end();
    return X;
}
