/* backends/cpu/iter.c — strided N-d iteration shared by all CPU maps.
 * Dims of size 1 are dropped and adjacent dims merged where every operand is dense across
 * them, so most maps become one long inner loop that the compiler vectorizes. Work is split
 * into equal contiguous ranges of the linear index, one per thread. */
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "backends/cpu/cpu.h"

void ag_cpu_iter_init(ag_cpu_iter *it, int nops, const ag_kview *const *views) {
    memset(it, 0, sizeof *it);
    it->nops = nops;
    int nd = 0;
    int64_t numel = 1;
    const ag_kview *v0 = views[0];
    for (int d = 0; d < v0->ndim; d++) {
        numel *= v0->shape[d];
        if (v0->shape[d] == 1) continue;
        it->shape[nd] = v0->shape[d];
        for (int k = 0; k < nops; k++)
            it->bstrides[k][nd] = views[k]->strides[d] * (int64_t)ag_dtype_size(views[k]->dtype);
        nd++;
    }
    for (int k = 0; k < nops; k++) it->data[k] = views[k]->data;
    it->numel = numel;
    if (nd == 0) { /* a single element */
        it->ndim = 1;
        it->shape[0] = 1;
        return;
    }
    /* merge dim i-1 into i when, for all operands, stride[i-1] == stride[i] * shape[i] */
    int out = 0;
    for (int d = 1; d < nd; d++) {
        bool merge = true;
        for (int k = 0; k < nops; k++)
            if (it->bstrides[k][out] != it->bstrides[k][d] * it->shape[d]) { merge = false; break; }
        if (merge) {
            it->shape[out] *= it->shape[d];
            for (int k = 0; k < nops; k++) it->bstrides[k][out] = it->bstrides[k][d];
        } else {
            out++;
            it->shape[out] = it->shape[d];
            for (int k = 0; k < nops; k++) it->bstrides[k][out] = it->bstrides[k][d];
        }
    }
    it->ndim = out + 1;
}

/* run [begin, end) of the linear index */
static void run_range(const ag_cpu_iter *it, ag_cpu_loop loop, void *ctx, int64_t begin, int64_t end) {
    int nd = it->ndim, nops = it->nops;
    int64_t inner = it->shape[nd - 1];
    int64_t idx[AG_MAX_DIMS];
    int64_t rem = begin;
    for (int d = nd - 1; d >= 0; d--) {
        idx[d] = rem % it->shape[d];
        rem /= it->shape[d];
    }
    char *ptrs[AG_CPU_MAX_OPS];
    int64_t inner_bs[AG_CPU_MAX_OPS];
    for (int k = 0; k < nops; k++) inner_bs[k] = it->bstrides[k][nd - 1];
    int64_t pos = begin;
    while (pos < end) {
        for (int k = 0; k < nops; k++) {
            char *p = it->data[k];
            for (int d = 0; d < nd; d++) p += idx[d] * it->bstrides[k][d];
            ptrs[k] = p;
        }
        int64_t n = inner - idx[nd - 1];
        if (n > end - pos) n = end - pos;
        loop(ctx, ptrs, inner_bs, n);
        pos += n;
        idx[nd - 1] += n;
        for (int d = nd - 1; d > 0 && idx[d] >= it->shape[d]; d--) {
            idx[d] = 0;
            idx[d - 1]++;
        }
    }
}

void ag_cpu_iter_run(const ag_cpu_iter *it, ag_cpu_loop loop, void *ctx) {
    int64_t total = it->numel;
    if (total <= 0) return;
#ifdef _OPENMP
    if (total >= AG_CPU_PAR_MIN && omp_get_max_threads() > 1 && !omp_in_parallel()) {
#pragma omp parallel
        {
            int nt = omp_get_num_threads(), t = omp_get_thread_num();
            int64_t chunk = (total + nt - 1) / nt;
            int64_t b = (int64_t)t * chunk, e = b + chunk < total ? b + chunk : total;
            if (b < e) run_range(it, loop, ctx, b, e);
        }
        return;
    }
#endif
    run_range(it, loop, ctx, 0, total);
}
