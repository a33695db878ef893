/* tensor/linalg.c — matmul (torch.matmul semantics), bmm, mv, dot, outer. One primitive, a batched
 * product of 3-d views, carries the graph; the 1-d and broadcast cases are views around it. */
#include <string.h>

#include "tensor/internal.h"

static ag_tensor *bmm3(const char *op, ag_tensor *a, ag_tensor *b);

/* PyTorch refuses to promote inside a matrix product (a silent f32 -> f64 of a layer's input
 * hides a model of the wrong dtype) */
static bool same_dtype(const char *op, const ag_tensor *a, const ag_tensor *b) {
    if (a->dtype == b->dtype) return true;
    ag_set_error(AG_ERR_DTYPE, "%s: expected both operands to have the same dtype, given %s and %s", op,
                 ag_dtype_name(a->dtype), ag_dtype_name(b->dtype));
    return false;
}

int ag__bw_bmm(ag_node *n, ag_tensor *g, ag_tensor **gin) {
    ag_tensor *a = n->saved[0], *b = n->saved[1];
    if (n->needs[0]) gin[0] = bmm3("ag_bmm", g, ag_conj(ag_transpose(b, 1, 2)));
    if (n->needs[1]) gin[1] = bmm3("ag_bmm", ag_conj(ag_transpose(a, 1, 2)), g);
    return 0;
}

/* [B,M,K] @ [B,K,N]; B may be broadcast (stride 0) on either side */
static ag_tensor *bmm3(const char *op, ag_tensor *a, ag_tensor *b) {
    if (!ag__same_device(op, a, b)) return NULL;
    ag_dtype dt = ag_promote_types(a->dtype, b->dtype);
    if (dt == AG_BOOL) return ag_fail(AG_ERR_DTYPE, "%s: bool matrices are not supported", op);
    int64_t B = a->shape[0] == 1 ? b->shape[0] : a->shape[0]; /* a batch of 1 broadcasts, also to 0 */
    const ag_kernels *k = ag__kernels(a);
    if (!k->gemm) return ag_fail(AG_ERR_NOTIMPL, "%s: not implemented for %s", op, k->name);
    ag_tensor *ca = ag__cast(a, dt), *cb = ag__cast(b, dt);
    ag_tensor *r = ca && cb ? ag__new((int64_t[]){B, a->shape[1], b->shape[2]}, 3, dt, a->storage->dev, op) : NULL;
    if (r) {
        ag_kview vo = ag__view(r), va = ag__view(ca), vb = ag__view(cb);
        va.shape[0] = vb.shape[0] = B;
        if (ca->shape[0] == 1) va.strides[0] = 0;
        if (cb->shape[0] == 1) vb.strides[0] = 0;
        if (k->gemm(&vo, &va, &vb, false, false) < 0) { ag__drop(r); r = NULL; }
    }
    ag__drop(ca);
    ag__drop(cb);
    if (r && ag__needs_grad(AG_IN(a, b)) && ag__record(r, op, AG_OP(MATMUL), AG_IN(a, b), AG_IN(a, b), NULL) < 0) {
        ag__drop(r);
        return NULL;
    }
    return ag__ret(r);
}

ag_tensor *ag_bmm(ag_tensor *a, ag_tensor *b) {
    if (!AG_NONNULL("ag_bmm", a, b)) return NULL;
    if (a->ndim != 3 || b->ndim != 3)
        return ag_fail(AG_ERR_SHAPE, "ag_bmm: expected two 3-d tensors, given %s and %s", AG_SHP(a), AG_SHP(b));
    if (a->shape[0] != b->shape[0] || a->shape[2] != b->shape[1])
        return ag_fail(AG_ERR_SHAPE, "ag_bmm: shapes do not fit: %s @ %s (expected [B,n,k] @ [B,k,m])",
                       AG_SHP(a), AG_SHP(b));
    if (!same_dtype("ag_bmm", a, b)) return NULL;
    return bmm3("ag_bmm", a, b);
}

ag_tensor *ag_matmul(ag_tensor *a, ag_tensor *b) {
    if (!AG_NONNULL("ag_matmul", a, b)) return NULL;
    if (a->ndim == 0 || b->ndim == 0)
        return ag_fail(AG_ERR_SHAPE, "ag_matmul: both arguments need at least 1 dim, given %s and %s", AG_SHP(a), AG_SHP(b));
    int64_t ka = a->shape[a->ndim - 1], kb = b->ndim == 1 ? b->shape[0] : b->shape[b->ndim - 2];
    if (ka != kb)
        return ag_fail(AG_ERR_SHAPE, "ag_matmul: inner dimensions differ: %s @ %s", AG_SHP(a), AG_SHP(b));
    if (!same_dtype("ag_matmul", a, b)) return NULL;
    ag_scope_begin();
    /* promote 1-d operands to matrices; remember which dims to drop from the result */
    ag_tensor *A = a->ndim == 1 ? ag_unsqueeze(a, 0) : a;
    ag_tensor *Bm = b->ndim == 1 ? ag_unsqueeze(b, 1) : b;
    int64_t M = A->shape[A->ndim - 2], K = ka, N = Bm->shape[Bm->ndim - 1];
    /* broadcast batch dims */
    int64_t batch[AG_MAX_DIMS];
    int nb = 0;
    bool ok = ag__broadcast_shapes("ag_matmul", A->shape, A->ndim - 2, Bm->shape, Bm->ndim - 2, batch, &nb);
    ag_tensor *r = NULL;
    if (ok && nb + 2 <= AG_MAX_DIMS) {
        int64_t Bn = ag__numel(batch, nb);
        ag_tensor *A3, *B3;
        if (Bm->ndim == 2 && A->ndim > 2) {
            /* fold the batch into rows: [..., M, K] @ [K, N] as one [1, prod*M, K] product */
            A3 = ag_reshape(A, (int64_t[]){1, Bn * M, K}, 3);
            B3 = ag_unsqueeze(Bm, 0);
            r = bmm3("ag_matmul", A3, B3);
        } else {
            int64_t sa[AG_MAX_DIMS], sb[AG_MAX_DIMS];
            memcpy(sa, batch, (size_t)nb * sizeof *sa);
            memcpy(sb, batch, (size_t)nb * sizeof *sb);
            sa[nb] = M; sa[nb + 1] = K;
            sb[nb] = K; sb[nb + 1] = N;
            bool a_bcast = A->ndim - 2 < nb || ag__numel(A->shape, A->ndim - 2) != Bn;
            bool b_bcast = Bm->ndim - 2 < nb || ag__numel(Bm->shape, Bm->ndim - 2) != Bn;
            /* an operand with no batch dims of its own keeps B = 1 and stride 0 in the kernel */
            A3 = (A->ndim == 2) ? ag_unsqueeze(A, 0)
                 : ag_reshape(a_bcast ? ag_expand(A, sa, nb + 2) : A, (int64_t[]){Bn, M, K}, 3);
            B3 = (Bm->ndim == 2) ? ag_unsqueeze(Bm, 0)
                 : ag_reshape(b_bcast ? ag_expand(Bm, sb, nb + 2) : Bm, (int64_t[]){Bn, K, N}, 3);
            r = bmm3("ag_matmul", A3, B3);
        }
        int64_t rs[AG_MAX_DIMS];
        int nr = 0;
        for (int i = 0; i < nb; i++) rs[nr++] = batch[i];
        if (a->ndim > 1) rs[nr++] = M;
        if (b->ndim > 1) rs[nr++] = N;
        r = ag_reshape(r, rs, nr);
    } else if (ok) {
        ag_set_error(AG_ERR_SHAPE, "ag_matmul: result would have more than %d dims", AG_MAX_DIMS);
    }
    ag_keep(r);
    ag_scope_end();
    return r;
}

ag_tensor *ag_mv(ag_tensor *a, ag_tensor *x) {
    if (!AG_NONNULL("ag_mv", a, x)) return NULL;
    if (a->ndim != 2 || x->ndim != 1)
        return ag_fail(AG_ERR_SHAPE, "ag_mv: expected a 2-d matrix and a 1-d vector, given %s and %s", AG_SHP(a), AG_SHP(x));
    if (!same_dtype("ag_mv", a, x)) return NULL;
    return ag_matmul(a, x);
}

ag_tensor *ag_dot(ag_tensor *a, ag_tensor *b) {
    if (!AG_NONNULL("ag_dot", a, b)) return NULL;
    if (a->ndim != 1 || b->ndim != 1 || a->shape[0] != b->shape[0])
        return ag_fail(AG_ERR_SHAPE, "ag_dot: expected two 1-d tensors of equal length, given %s and %s", AG_SHP(a), AG_SHP(b));
    if (a->dtype != b->dtype)
        return ag_fail(AG_ERR_DTYPE, "ag_dot: expected equal dtypes, given %s and %s", ag_dtype_name(a->dtype), ag_dtype_name(b->dtype));
    return ag_matmul(a, b);
}

/* torch.outer: a[:, None] * b[None, :] (no conjugation; dtypes promote as ag_mul) */
ag_tensor *ag_outer(ag_tensor *a, ag_tensor *b) {
    if (!AG_NONNULL("ag_outer", a, b)) return NULL;
    if (a->ndim != 1 || b->ndim != 1)
        return ag_fail(AG_ERR_SHAPE, "ag_outer: expected two 1-d tensors, given %s and %s", AG_SHP(a), AG_SHP(b));
    ag_scope_begin();
    ag_tensor *r = ag_keep(ag_mul(ag_unsqueeze(a, 1), ag_unsqueeze(b, 0)));
    ag_scope_end();
    return ag__ret(r);
}
