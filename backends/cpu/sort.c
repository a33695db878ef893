/* backends/cpu/sort.c — the sort kernel: stable sort permutations along one dim.
 *
 * Each row (the elements along dim at one position of the other dims) is sorted on its own:
 * the row's keys are copied into thread-local scratch, then a bottom-up merge sort orders the
 * positions 0..K-1 by key (stable: on equal keys the left run wins), NaN counting as the largest
 * value. Rows are split over OpenMP threads; the result never depends on the thread count. */
#include <math.h>
#include <string.h>

#include "backends/cpu/cpu.h"

typedef struct splan {
    int nd;                                      /* other dims, in order */
    int64_t shape[AG_MAX_DIMS], si[AG_MAX_DIMS], so[AG_MAX_DIMS];
    int64_t K, ki, ko, M;
    const char *in;
    int64_t *out;
    bool desc;
} splan;

/* before(a, b): a sorts strictly before b. Ascending: a < b, NaN last; descending: a > b, NaN
 * first (NaN is the largest value either way). */
#define KEY_BEFORE_FLOAT(a, b, desc) \
    ((desc) ? (!isnan(b) && (isnan(a) || (a) > (b))) : (!isnan(a) && (isnan(b) || (a) < (b))))
#define KEY_BEFORE_INT(a, b, desc) ((desc) ? (a) > (b) : (a) < (b))

#define SORT_ROWS(T, BEFORE)                                                                       \
    static void sort_rows_##T(const splan *p, int64_t m0, int64_t m1, T *key, int64_t *a, int64_t *b) { \
        const T *in = (const T *)p->in;                                                            \
        int64_t K = p->K;                                                                          \
        for (int64_t m = m0; m < m1; m++) {                                                        \
            int64_t r = m, oi = 0, oo = 0;                                                         \
            for (int d = p->nd - 1; d >= 0; d--) {                                                 \
                int64_t c = r % p->shape[d];                                                       \
                r /= p->shape[d];                                                                  \
                oi += c * p->si[d];                                                                \
                oo += c * p->so[d];                                                                \
            }                                                                                      \
            for (int64_t k = 0; k < K; k++) { key[k] = in[oi + k * p->ki]; a[k] = k; }             \
            int64_t *src = a, *dst = b;                                                            \
            for (int64_t w = 1; w < K; w *= 2) {                                                   \
                for (int64_t lo = 0; lo < K; lo += 2 * w) {                                        \
                    int64_t mid = lo + w < K ? lo + w : K, hi = lo + 2 * w < K ? lo + 2 * w : K;   \
                    int64_t i = lo, j = mid, o = lo;                                               \
                    while (i < mid && j < hi) {                                                    \
                        T x = key[src[j]], y = key[src[i]];                                        \
                        dst[o++] = BEFORE(x, y, p->desc) ? src[j++] : src[i++];                    \
                    }                                                                              \
                    while (i < mid) dst[o++] = src[i++];                                           \
                    while (j < hi) dst[o++] = src[j++];                                            \
                }                                                                                  \
                int64_t *t = src; src = dst; dst = t;                                              \
            }                                                                                      \
            for (int64_t k = 0; k < K; k++) p->out[oo + k * p->ko] = src[k];                       \
        }                                                                                          \
    }
SORT_ROWS(float, KEY_BEFORE_FLOAT)
SORT_ROWS(double, KEY_BEFORE_FLOAT)
SORT_ROWS(int64_t, KEY_BEFORE_INT)
SORT_ROWS(int32_t, KEY_BEFORE_INT)
SORT_ROWS(uint8_t, KEY_BEFORE_INT)

#define RUN_SORT(T, p, m0, m1, ok)                                                                 \
    do {                                                                                           \
        size_t kb = (size_t)(p)->K * sizeof(T), ib = (size_t)(p)->K * sizeof(int64_t);             \
        char *s = ag_cpu_alloc(kb + 2 * ib + 64);                                                  \
        if (!s) { ok = false; break; }                                                             \
        size_t ka = (kb + 63) / 64 * 64;                                                           \
        sort_rows_##T(p, m0, m1, (T *)s, (int64_t *)(s + ka), (int64_t *)(s + ka) + (p)->K);       \
        ag_cpu_free(s, kb + 2 * ib + 64);                                                          \
    } while (0)

static bool sort_range(const splan *p, ag_dtype dt, int64_t m0, int64_t m1) {
    bool ok = true;
    if (m0 >= m1) return true;
    switch (dt) {
    case AG_F32: RUN_SORT(float, p, m0, m1, ok); break;
    case AG_F64: RUN_SORT(double, p, m0, m1, ok); break;
    case AG_I32: RUN_SORT(int32_t, p, m0, m1, ok); break;
    case AG_U8: RUN_SORT(uint8_t, p, m0, m1, ok); break;
    default: RUN_SORT(int64_t, p, m0, m1, ok); break;
    }
    return ok;
}

int ag_cpu_sort(const ag_kview *idx, const ag_kview *in, int dim, bool descending) {
    if (in->dtype != AG_F32 && in->dtype != AG_F64 && in->dtype != AG_I64 && in->dtype != AG_I32 &&
        in->dtype != AG_U8)
        return ag_set_error(AG_ERR_DTYPE, "cpu sort: %s not supported", ag_dtype_name(in->dtype));
    if (idx->dtype != AG_I64 || idx->ndim != in->ndim || (in->ndim && (dim < 0 || dim >= in->ndim)))
        return ag_set_error(AG_ERR_INVALID, "cpu sort: mismatched views");
    splan p;
    memset(&p, 0, sizeof p);
    p.K = 1;
    p.M = 1;
    for (int d = 0; d < in->ndim; d++) {
        if (idx->shape[d] != in->shape[d]) return ag_set_error(AG_ERR_INVALID, "cpu sort: mismatched views");
        if (d == dim) {
            p.K = in->shape[d];
            p.ki = in->strides[d];
            p.ko = idx->strides[d];
            continue;
        }
        p.shape[p.nd] = in->shape[d];
        p.si[p.nd] = in->strides[d];
        p.so[p.nd] = idx->strides[d];
        p.M *= in->shape[d];
        p.nd++;
    }
    p.in = in->data;
    p.out = idx->data;
    p.desc = descending;
    if (p.M == 0 || p.K == 0) return 0;
    bool ok = true;
    int nt = p.M * p.K >= AG_CPU_PAR_MIN && p.M > 1 ? ag_cpu_max_threads() : 1;
    if (nt > 1) {
#ifdef _OPENMP
#pragma omp parallel num_threads(nt) reduction(&& : ok)
        {
            int64_t b, e;
            ag_cpu_thread_slice(p.M, &b, &e);
            ok = sort_range(&p, in->dtype, b, e);
        }
#endif
    } else {
        ok = sort_range(&p, in->dtype, 0, p.M);
    }
    if (!ok) return ag_set_error(AG_ERR_NOMEM, "cpu sort: out of memory for %lld keys", (long long)p.K);
    return 0;
}
