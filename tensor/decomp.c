/* tensor/decomp.c — matrix decompositions through the backend's qr, eigh and svd entries, and
 * least squares composed from QR.
 *
 * Each decomposition returns several tensors. When A needs a gradient they are packed along a
 * last dim into one tensor P [..., total] (real eigen/singular values in P's dtype), P gets the
 * one node with the joint rule, and the factors handed out are differentiable slices of P. The
 * rule reads the factors as slices of its own saved output, which under create_graph is P with
 * its history: second derivatives follow (no node saves another node's output, so no cycle).
 * Rules are PyTorch's
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

/* factor i of a packing: its trailing shape (nt dims) and whether it is real-valued */
typedef struct factor { int nt; int64_t tail[2]; bool real; } factor;

static int64_t tail_len(const factor *f) { return f->nt == 1 ? f->tail[0] : f->tail[0] * f->tail[1]; }

/* factor i of the packed X [..., total] (P, or its gradient) as a differentiable view/copy */
static ag_tensor *unpack(ag_tensor *X, const factor *fs, int i) {
    int64_t off = 0, shp[AG_MAX_DIMS];
    for (int j = 0; j < i; j++) off += tail_len(&fs[j]);
    int nb = ag_ndim(X) - 1;
    memcpy(shp, ag_shape(X), (size_t)nb * sizeof *shp);
    memcpy(shp + nb, fs[i].tail, (size_t)fs[i].nt * sizeof *shp);
    ag_tensor *r = ag_reshape(ag_narrow(X, -1, off, tail_len(&fs[i])), shp, nb + fs[i].nt);
    return fs[i].real && ag_dtype_is_complex(ag_dtype_of(X)) ? ag_real(r) : r;
}

/* When A needs a gradient: pack the n factors outs[] into P, record P's node (rule def, saving P
 * itself) and replace outs[] by slices of P. Returns 0 or a negative status (outs[] unchanged). */
static int record_joint(const char *op, ag_tensor *A, ag_tensor **outs, const factor *fs, int n,
                        const ag_opdef *def) {
    if (!ag__needs_grad(AG_IN(A))) return 0;
    ag_tensor *P = NULL, *views[3] = {0};
    ag_scope_begin();
    ag_no_grad_begin();
    ag_tensor *flat[3];
    for (int i = 0; i < n; i++) {
        int nb = outs[i]->ndim - fs[i].nt;
        int64_t shp[AG_MAX_DIMS];
        memcpy(shp, outs[i]->shape, (size_t)nb * sizeof *shp);
        shp[nb] = tail_len(&fs[i]);
        flat[i] = ag_to_dtype(ag_reshape(outs[i], shp, nb + 1), A->dtype);
    }
    P = ag_retain(ag_cat(flat, n, -1));
    ag_no_grad_end();
    ag_scope_end();
    int rc = P ? ag__record(P, op, def, AG_IN(A), &P, 1, NULL) : ag_error_code();
    if (rc == 0) {
        ag_scope_begin();
        for (int i = 0; i < n && rc == 0; i++)
            if (!(views[i] = ag_keep(unpack(P, fs, i)))) rc = ag_error_code();
        ag_scope_end();
    }
    ag__drop(P);
    if (rc) {
        for (int i = 0; i < n; i++) ag_release(views[i]);
        return rc;
    }
    for (int i = 0; i < n; i++) {
        ag__drop(outs[i]);
        outs[i] = views[i];
    }
    return 0;
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
/* diag_embed(i Im(diag X)), for complex X only (it is zero for real X) */
static ag_tensor *i_imag_diag(ag_tensor *X) {
    ag_tensor *im = ag_imag(diag_of(X));
    return diag_embed(ag_complex(ag_zeros_like(im), im));
}

/* ---- qr ------------------------------------------------------------------------------- */

/* (Q syminvadj(triu(M)) + gQ) R^-H, gQ when given */
static ag_tensor *qr_tail(ag_tensor *Q, ag_tensor *R, ag_tensor *M, ag_tensor *gQ) {
    /* triu(M) + strict_triu(M)^H, less i Im of the diagonal */
    ag_tensor *S = ag_add(ag_triu(M, 0), mH(ag_triu(M, 1)));
    if (ag_dtype_is_complex(ag_dtype_of(M))) S = ag_sub(S, i_imag_diag(M));
    ag_tensor *gA = ag_matmul(Q, S);
    if (gQ) gA = ag_add(gA, gQ);
    return ag_solve_triangular(mH(R), gA, false, false, false); /* gA R^-H */
}

static void qr_factors(const ag_node *n, factor *fs) {
    int64_t shp[AG_MAX_DIMS];
    int nd = ag_node_input_shape(n, 0, shp);
    int64_t m = shp[nd - 2], nc = shp[nd - 1], k = m < nc ? m : nc;
    fs[0] = (factor){2, {m, k}, false};
    fs[1] = (factor){2, {k, nc}, false};
}

int ag__bw_qr(ag_node *n, ag_tensor *g, ag_tensor **gin) {
    factor fs[2];
    qr_factors(n, fs);
    ag_tensor *P = n->saved[0];
    ag_tensor *Q = unpack(P, fs, 0), *R = unpack(P, fs, 1), *gQ = unpack(g, fs, 0), *gR = unpack(g, fs, 1);
    ag_tensor *M = ag_sub(ag_matmul(gR, mH(R)), ag_matmul(mH(Q), gQ));
    gin[0] = qr_tail(Q, R, M, gQ);
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
    factor fs[2] = {{2, {m, kk}, false}, {2, {kk, nc}, false}};
    if (ok) ok = record_joint(op, A, outs, fs, 2, AG_OP(QR)) == 0;
    if (!ok) {
        ag__drop(q);
        ag__drop(r);
        return ag_error_code();
    }
    *Q = ag__ret(outs[0]);
    *R = ag__ret(outs[1]);
    return 0;
}

/* ---- eigh ----------------------------------------------------------------------------- */

int ag__bw_eigh(ag_node *n, ag_tensor *g, ag_tensor **gin) {
    int64_t shp[AG_MAX_DIMS];
    int nd = ag_node_input_shape(n, 0, shp);
    int64_t sz = shp[nd - 1];
    factor fs[2] = {{1, {sz}, true}, {2, {sz, sz}, false}};
    ag_tensor *P = n->saved[0];
    ag_tensor *L = unpack(P, fs, 0), *V = unpack(P, fs, 1), *gL = unpack(g, fs, 0), *gV = unpack(g, fs, 1);
    ag_tensor *X = ag_matmul(mH(V), gV);
    ag_tensor *sk = offdiag(ag_mul_s(ag_sub(X, mH(X)), 0.5));
    ag_tensor *E = ag_add(ag_sub(ag_unsqueeze(L, -2), ag_unsqueeze(L, -1)), eye_of(L, sz));
    ag_tensor *inner = ag_add(ag_div(sk, E), diag_embed(gL));
    gin[0] = ag_matmul(ag_matmul(V, inner), mH(V));
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
    factor fs[2] = {{1, {nn}, true}, {2, {nn, nn}, false}};
    if (ok) ok = record_joint(op, A, outs, fs, 2, AG_OP(EIGH)) == 0;
    if (!ok) {
        ag__drop(w);
        ag__drop(v);
        return ag_error_code();
    }
    *eigenvalues = ag__ret(outs[0]);
    *eigenvectors = ag__ret(outs[1]);
    return 0;
}

/* ---- svd ------------------------------------------------------------------------------ */

static ag_tensor *svd_E(ag_tensor *S) {
    ag_tensor *S2 = ag_mul(S, S);
    return ag_add(ag_sub(ag_unsqueeze(S2, -2), ag_unsqueeze(S2, -1)), eye_of(S, ag_size(S, -1)));
}

int ag__bw_svd(ag_node *n, ag_tensor *g, ag_tensor **gin) {
    int64_t shp[AG_MAX_DIMS];
    int nd = ag_node_input_shape(n, 0, shp);
    int64_t m = shp[nd - 2], nc = shp[nd - 1], k = m < nc ? m : nc;
    factor fs[3] = {{2, {m, k}, false}, {1, {k}, true}, {2, {k, nc}, false}};
    ag_tensor *P = n->saved[0];
    ag_tensor *U = unpack(P, fs, 0), *S = unpack(P, fs, 1), *Vh = unpack(P, fs, 2);
    ag_tensor *gU = unpack(g, fs, 0), *gS = unpack(g, fs, 1), *gVh = unpack(g, fs, 2);
    ag_tensor *X = ag_matmul(mH(U), gU);
    ag_tensor *Y = ag_matmul(Vh, mH(gVh)); /* V^H gV with V = Vh^H, gV = gVh^H */
    ag_tensor *Srow = ag_unsqueeze(S, -2), *Scol = ag_unsqueeze(S, -1);
    ag_tensor *sk = ag_add(ag_mul(ag_sub(X, mH(X)), Srow), ag_mul(Scol, ag_sub(Y, mH(Y))));
    ag_tensor *inner = ag_add(ag_div(offdiag(sk), svd_E(S)), diag_embed(gS));
    if (ag_dtype_is_complex(ag_dtype_of(X))) inner = ag_add(inner, ag_div(i_imag_diag(X), Srow)); /* i Im(diag(U^H gU)) / S */
    ag_tensor *gA = ag_matmul(ag_matmul(U, inner), Vh);
    if (m > k) { /* + (I - U U^H) gU S^-1 Vh */
        ag_tensor *gs = ag_div(gU, Srow);
        gA = ag_add(gA, ag_matmul(ag_sub(gs, ag_matmul(U, ag_matmul(mH(U), gs))), Vh));
    }
    if (nc > k) { /* + U S^-1 gVh (I - Vh^H Vh) */
        ag_tensor *gs = ag_div(gVh, Scol);
        gA = ag_add(gA, ag_matmul(U, ag_sub(gs, ag_matmul(ag_matmul(gs, mH(Vh)), Vh))));
    }
    gin[0] = gA;
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
    factor fs[3] = {{2, {m, kk}, false}, {1, {kk}, true}, {2, {kk, nc}, false}};
    if (ok) ok = record_joint(op, A, outs, fs, 3, AG_OP(SVD)) == 0;
    if (!ok) {
        ag__drop(u);
        ag__drop(s);
        ag__drop(vh);
        return ag_error_code();
    }
    *U = ag__ret(outs[0]);
    *S = ag__ret(outs[1]);
    *Vh = ag__ret(outs[2]);
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
