/* backends/reduce_plan.h — how a reduction walks its input, shared by the CPU and CUDA
 * kernels so both split dims the same way. Dims of size 1 are dropped; the rest are split
 * into kept (K, the outputs) and reduced (R) groups, and each group is coalesced where its
 * strides allow, so most reductions become a short loop nest. */
#ifndef AG_BACKENDS_REDUCE_PLAN_H
#define AG_BACKENDS_REDUCE_PLAN_H

#include <stddef.h>
#include <string.h>

#include "backends/kernels.h"

typedef struct ag_red_plan {
    int nk, nr;
    int64_t kshape[AG_MAX_DIMS], kin[AG_MAX_DIMS], kout[AG_MAX_DIMS], kidx[AG_MAX_DIMS];
    int64_t rshape[AG_MAX_DIMS], rin[AG_MAX_DIMS];
    int64_t K, R;
} ag_red_plan;

/* merge dim d into the previous kept dim where every stride array is dense across them */
static inline int ag_red_coalesce(int n, int64_t *shape, int64_t *s1, int64_t *s2, int64_t *s3) {
    if (n == 0) return 0;
    int o = 0;
    for (int d = 1; d < n; d++) {
        bool m = s1[o] == s1[d] * shape[d] && (!s2 || s2[o] == s2[d] * shape[d]) && (!s3 || s3[o] == s3[d] * shape[d]);
        if (m) shape[o] *= shape[d];
        else shape[++o] = shape[d];
        s1[o] = s1[d];
        if (s2) s2[o] = s2[d];
        if (s3) s3[o] = s3[d];
    }
    return o + 1;
}

/* out has in's ndim with size 1 along each reduced dim; idx (may be NULL) has out's shape */
static inline void ag_red_plan_make(ag_red_plan *p, const ag_kview *out, const ag_kview *idx, const ag_kview *in) {
    memset(p, 0, sizeof *p);
    p->K = p->R = 1;
    for (int d = 0; d < in->ndim; d++) {
        if (in->shape[d] == 1) continue;
        if (out->shape[d] == 1) {
            p->rshape[p->nr] = in->shape[d];
            p->rin[p->nr++] = in->strides[d];
            p->R *= in->shape[d];
        } else {
            p->kshape[p->nk] = in->shape[d];
            p->kin[p->nk] = in->strides[d];
            p->kout[p->nk] = out->strides[d];
            p->kidx[p->nk++] = idx ? idx->strides[d] : 0;
            p->K *= in->shape[d];
        }
    }
    p->nk = ag_red_coalesce(p->nk, p->kshape, p->kin, p->kout, p->kidx);
    p->nr = ag_red_coalesce(p->nr, p->rshape, p->rin, NULL, NULL);
}

/* element offsets of output k in the input, the output and the index */
AG_HD void ag_red_k_offsets(const ag_red_plan *p, int64_t k, int64_t *oin, int64_t *oout, int64_t *oidx) {
    int64_t a = 0, b = 0, c = 0;
    for (int d = p->nk - 1; d >= 0; d--) {
        int64_t i = k % p->kshape[d];
        k /= p->kshape[d];
        a += i * p->kin[d];
        b += i * p->kout[d];
        c += i * p->kidx[d];
    }
    *oin = a; *oout = b; *oidx = c;
}

/* element offset of the r-th reduced element (in row-major order of the reduced dims) */
AG_HD int64_t ag_red_r_offset(const ag_red_plan *p, int64_t r) {
    if (p->nr == 1) return r * p->rin[0];
    int64_t a = 0;
    for (int d = p->nr - 1; d >= 0; d--) {
        a += (r % p->rshape[d]) * p->rin[d];
        r /= p->rshape[d];
    }
    return a;
}

#endif
