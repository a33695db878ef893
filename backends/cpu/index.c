/* backends/cpu/index.c — indexing primitives: gather, scatter_add, nonzero, cumsum.
 *
 * gather: out[p] = in[p with p[dim] <- idx[p]]. Threads split the linear index of out; rows along
 *   the last dim are the inner loop (a row copy when the index is constant along it, as for
 *   index_select). Indices are checked inline; on a bad one the index tensor is rescanned in
 *   row-major order so the error always names the first bad index, whatever the threads.
 * scatter_add: out[p with p[dim] <- idx[p]] += src[p] (scatter: = src[p], the same walks). No atomics, and deterministic: two terms
 *   can only collide when they share m (the coordinates other than dim), and every output element
 *   receives its terms in increasing order of p[dim] (k), independent of the thread count:
 *   - many slices (M = number of m positions >= SLICES_PER_THREAD * threads): threads split the m
 *     range (disjoint outputs) and walk k = 0..K-1 over it;
 *   - few slices (e.g. 1-d): threads split the output range [0, size) of dim; each scans every
 *     index entry in order and applies those landing in its own part (owner computes).
 *   The m positions are processed in blocks of BLK whose offsets are precomputed, so the k loop
 *   walks memory along rows when dim is an outer dim; when dim is the innermost dim of src the
 *   block is a single fiber, walked along dim.
 *   - large outputs added one element at a time (a walk along dim reaching 8 MB or more of
 *     outputs): the (target, value) pairs are sorted into cache-sized buckets first, in the same
 *     order, and each bucket is then added while its outputs are in cache (scatter_binned).
 * cumsum: the same blocked walk, accumulating in f64 for f32 (c128 for c64) as PyTorch's CPU
 *   kernel, in increasing (or, reverse, decreasing) order along dim.
 * nonzero: counts per thread chunk, then writes coordinates at prefix offsets (row-major order). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "backends/cpu/cpu.h"

#define BLK 256
#define SLICES_PER_THREAD 16

static int threads_for(int64_t work) {
#ifdef _OPENMP
    if (work < AG_CPU_PAR_MIN || omp_in_parallel()) return 1;
    int n = omp_get_max_threads();
    return n < 1 ? 1 : n;
#else
    (void)work;
    return 1;
#endif
}

static inline bool fix_index(int64_t *v, int64_t size, bool allow_neg) {
    if ((uint64_t)*v < (uint64_t)size) return true;
    if (allow_neg && *v < 0 && *v >= -size) { *v += size; return true; }
    return false;
}

static inline void unravel(const int64_t *shape, int nd, int64_t i, int64_t *c) {
    for (int d = nd - 1; d >= 0; d--) {
        c[d] = shape[d] ? i % shape[d] : 0;
        i = shape[d] ? i / shape[d] : 0;
    }
}

/* Rescan idx in row-major order for the first out-of-range value and record the error. The
 * position lists the coordinates along the dims where the index tensor really varies (stride != 0):
 * for index_select, whose 1-d index is broadcast, that is its position in the 1-d index. */
static int index_error(const char *op, const ag_kview *idx, int dim, int64_t size, bool allow_neg) {
    int nd = idx->ndim;
    int64_t n = 1, c[AG_MAX_DIMS] = {0};
    for (int d = 0; d < nd; d++) n *= idx->shape[d];
    const int64_t *x = idx->data;
    for (int64_t i = 0; i < n; i++) {
        unravel(idx->shape, nd, i, c);
        int64_t off = 0;
        for (int d = 0; d < nd; d++) off += c[d] * idx->strides[d];
        int64_t v = x[off];
        if (fix_index(&v, size, allow_neg)) continue;
        char pos[160] = "[";
        size_t len = 1;
        bool first = true;
        for (int d = 0; d < nd && len < sizeof pos - 24; d++) {
            if (idx->strides[d] == 0 && idx->shape[d] > 1) continue;
            len += (size_t)snprintf(pos + len, sizeof pos - len, "%s%lld", first ? "" : ", ", (long long)c[d]);
            first = false;
        }
        snprintf(pos + len, sizeof pos - len, "]");
        return ag_set_error(AG_ERR_INDEX, "%s: index %lld out of range for dim %d of size %lld%s (at position %s of the index)",
                            op, (long long)x[off], dim, (long long)size,
                            allow_neg ? " (negative indices count from the end)" : "", pos);
    }
    return ag_set_error(AG_ERR_INDEX, "%s: index out of range for dim %d of size %lld", op, dim, (long long)size);
}

/* ---- gather ------------------------------------------------------------------------ */
typedef struct gplan {
    int nd;
    int64_t size, sd;
    int64_t shape[AG_MAX_DIMS], so[AG_MAX_DIMS], sx[AG_MAX_DIMS], si[AG_MAX_DIMS];
    char *out;
    const char *in;
    const int64_t *idx;
    bool allow_neg;
} gplan;

/* Returns -1, or a position in [b, e) holding a bad index. */
#define GATHER_RANGE(T, _)                                                                       \
    static int64_t gather_##T(const gplan *p, int64_t b, int64_t e) {                             \
        const int L = p->nd - 1;                                                                  \
        int64_t c[AG_MAX_DIMS];                                                                   \
        unravel(p->shape, p->nd, b, c);                                                           \
        T *out = (T *)p->out;                                                                     \
        const T *in = (const T *)p->in;                                                           \
        const int64_t soL = p->so[L], sxL = p->sx[L], siL = p->si[L], sd = p->sd, size = p->size; \
        const bool neg = p->allow_neg;                                                            \
        for (int64_t pos = b; pos < e;) {                                                         \
            int64_t oo = 0, ox = 0, oi = 0;                                                       \
            for (int d = 0; d < p->nd; d++) {                                                     \
                oo += c[d] * p->so[d];                                                            \
                ox += c[d] * p->sx[d];                                                            \
                oi += c[d] * p->si[d];                                                            \
            }                                                                                     \
            int64_t n = p->shape[L] - c[L];                                                       \
            if (n > e - pos) n = e - pos;                                                         \
            T *o = out + oo;                                                                      \
            const int64_t *x = p->idx + ox;                                                       \
            const T *s = in + oi;                                                                 \
            if (sxL == 0) { /* one index for the whole row: a row copy */                         \
                int64_t v = x[0];                                                                 \
                if (!fix_index(&v, size, neg)) return pos;                                        \
                const T *r = s + v * sd;                                                          \
                if (soL == 1 && siL == 1) memcpy(o, r, (size_t)n * sizeof(T));                    \
                else for (int64_t j = 0; j < n; j++) o[j * soL] = r[j * siL];                     \
            } else if (soL == 1 && sxL == 1 && siL == 0) { /* along the last dim, dense */        \
                for (int64_t j = 0; j < n; j++) {                                                 \
                    int64_t v = x[j];                                                             \
                    if (!fix_index(&v, size, neg)) return pos + j;                                \
                    o[j] = s[v * sd];                                                             \
                }                                                                                 \
            } else {                                                                              \
                for (int64_t j = 0; j < n; j++) {                                                 \
                    int64_t v = x[j * sxL];                                                       \
                    if (!fix_index(&v, size, neg)) return pos + j;                                \
                    o[j * soL] = s[j * siL + v * sd];                                             \
                }                                                                                 \
            }                                                                                     \
            pos += n;                                                                             \
            c[L] += n;                                                                            \
            for (int d = L; d > 0 && c[d] >= p->shape[d]; d--) { c[d] = 0; c[d - 1]++; }          \
        }                                                                                         \
        return -1;                                                                                \
    }
GATHER_RANGE(float, 0)
GATHER_RANGE(double, 0)
GATHER_RANGE(cf32, 0)
GATHER_RANGE(cf64, 0)
GATHER_RANGE(int64_t, 0)
GATHER_RANGE(bool, 0)
GATHER_RANGE(int32_t, 0)
GATHER_RANGE(uint8_t, 0)

typedef int64_t (*gather_fn)(const gplan *, int64_t, int64_t);
#define PICK_GATHER(T, _) fn = gather_##T;

int ag_cpu_gather(const char *op, const ag_kview *out, const ag_kview *in, const ag_kview *idx, int dim,
                  bool allow_neg) {
    if (idx->dtype != AG_I64)
        return ag_set_error(AG_ERR_DTYPE, "%s: expected an i64 index, given %s", op, ag_dtype_name(idx->dtype));
    if (out->dtype != in->dtype || out->ndim != idx->ndim || out->ndim != in->ndim)
        return ag_set_error(AG_ERR_INVALID, "%s: cpu gather: mismatched views", op);
    gather_fn fn = NULL;
    AG_CPU_SWITCH_ALL(out->dtype, PICK_GATHER,
                      return ag_set_error(AG_ERR_DTYPE, "%s: %s tensors are not supported (cast to i64 first)", op,
                                          ag_dtype_name(out->dtype)), 0)
    gplan p;
    memset(&p, 0, sizeof p);
    p.out = out->data;
    p.in = in->data;
    p.idx = idx->data;
    p.allow_neg = allow_neg;
    if (out->ndim == 0) { /* a single element: a 1-d view of one */
        p.nd = 1;
        p.shape[0] = 1;
        p.size = 1;
    } else {
        p.nd = out->ndim;
        for (int d = 0; d < p.nd; d++) {
            p.shape[d] = out->shape[d];
            p.so[d] = out->strides[d];
            p.sx[d] = idx->strides[d];
            p.si[d] = d == dim ? 0 : in->strides[d];
        }
        p.size = in->shape[dim];
        p.sd = in->strides[dim];
    }
    int64_t total = 1;
    for (int d = 0; d < p.nd; d++) total *= p.shape[d];
    if (total == 0) return 0;
    int64_t bad = -1;
    int nt = threads_for(total);
    if (nt > 1) {
#ifdef _OPENMP
#pragma omp parallel num_threads(nt)
        {
            int t = omp_get_thread_num(), n = omp_get_num_threads();
            int64_t chunk = (total + n - 1) / n, b = (int64_t)t * chunk, e = b + chunk < total ? b + chunk : total;
            int64_t r = b < e ? fn(&p, b, e) : -1;
            if (r >= 0) {
#pragma omp critical(ag_cpu_gather_bad)
                if (bad < 0 || r < bad) bad = r;
            }
        }
#endif
    } else {
        bad = fn(&p, 0, total);
    }
    if (bad >= 0) return index_error(op, idx, dim, p.size, allow_neg);
    return 0;
}

/* ---- blocked walk over the m positions (coordinates other than dim) ------------------ */
typedef struct mdims {
    int n;                          /* >= 1 */
    int64_t shape[AG_MAX_DIMS];
    int64_t st[3][AG_MAX_DIMS];     /* per operand */
    int64_t M;
} mdims;

static void mdims_init(mdims *md, const int64_t *shape, int nd, int dim, const ag_kview *const *ops, int nops) {
    memset(md, 0, sizeof *md);
    md->M = 1;
    for (int d = 0; d < nd; d++) {
        if (d == dim) continue;
        md->shape[md->n] = shape[d];
        for (int q = 0; q < nops; q++) md->st[q][md->n] = ops[q]->strides[d];
        md->M *= shape[d];
        md->n++;
    }
    if (md->n == 0) { md->n = 1; md->shape[0] = 1; }
}

/* offsets of m positions [m0, m0 + cnt) for each operand */
static void block_offsets(const mdims *md, int nops, int64_t m0, int64_t cnt, int64_t off[][BLK]) {
    int64_t c[AG_MAX_DIMS];
    unravel(md->shape, md->n, m0, c);
    for (int64_t j = 0; j < cnt; j++) {
        for (int q = 0; q < nops; q++) {
            int64_t o = 0;
            for (int d = 0; d < md->n; d++) o += c[d] * md->st[q][d];
            off[q][j] = o;
        }
        for (int d = md->n - 1; d >= 0; d--) {
            if (++c[d] < md->shape[d]) break;
            c[d] = 0;
        }
    }
}

/* ---- scatter_add ----------------------------------------------------------------------- */
typedef struct splan {
    mdims md;                       /* operands: 0 idx, 1 src, 2 out */
    int64_t K, size, kx, ks, ko;
    int64_t blk;
    char *out;
    const char *src;
    const int64_t *idx;
    bool allow_neg;
    bool assign; /* scatter: = instead of += (the walks keep increasing k per output: last wins) */
} splan;

/* m range [m0, m1), applying only outputs with index value in [vlo, vhi). false on a bad index. */
#define SCATTER_RANGE(T, _)                                                                       \
    static bool scatter_##T(const splan *p, int64_t m0, int64_t m1, int64_t vlo, int64_t vhi) {   \
        int64_t off[3][BLK];                                                                      \
        T *out = (T *)p->out;                                                                     \
        const T *src = (const T *)p->src;                                                         \
        const int64_t K = p->K, kx = p->kx, ks = p->ks, ko = p->ko, size = p->size;              \
        const bool neg = p->allow_neg;                                                            \
        for (int64_t mb = m0; mb < m1; mb += p->blk) {                                            \
            int64_t cnt = m1 - mb < p->blk ? m1 - mb : p->blk;                                    \
            block_offsets(&p->md, 3, mb, cnt, off);                                               \
            for (int64_t k = 0; k < K; k++) {                                                     \
                const int64_t *x = p->idx + k * kx;                                               \
                const T *s = src + k * ks;                                                        \
                for (int64_t j = 0; j < cnt; j++) {                                               \
                    int64_t v = x[off[0][j]];                                                     \
                    if (!fix_index(&v, size, neg)) return false;                                  \
                    if (v < vlo || v >= vhi) continue;                                            \
                    if (p->assign) out[off[2][j] + v * ko] = s[off[1][j]];                        \
                    else out[off[2][j] + v * ko] += s[off[1][j]];                                 \
                }                                                                                 \
            }                                                                                     \
        }                                                                                         \
        return true;                                                                              \
    }
SCATTER_RANGE(float, 0)
SCATTER_RANGE(double, 0)
SCATTER_RANGE(cf32, 0)
SCATTER_RANGE(cf64, 0)
SCATTER_RANGE(int64_t, 0)
SCATTER_RANGE(int32_t, 0)
SCATTER_RANGE(uint8_t, 0)

/* Scatters into outputs much larger than the caches: every add above is a cache miss, and in
 * the few-slices case each thread also reads every index. Instead the (target, value) pairs are
 * first partitioned by target bucket (SB_BUCKET_BYTES of output each), then each bucket's pairs
 * are added while its outputs sit in cache. Rows r = (m block, k) are split into one part per
 * thread, in order, and each bucket holds part 0's pairs, then part 1's, ..., so every output element
 * still receives its terms in the sequential order: the result is bit for bit that of the
 * direct path, for any thread count. */
#define SB_BUCKET_BYTES (256 << 10)
#define SB_MIN_OUT_BYTES (8 << 20)

/* the rows [r0, r1) of the sequential walk: row r is block r / K (of p->blk m positions) at
 * k = r % K; the body (the variadic part) sees j, the offsets off[][j], the index value v
 * (checked) and k */
#define SB_WALK(p, r0, r1, ...)                                                                   \
    do {                                                                                          \
        int64_t off[3][BLK], r = (r0), bi = r / (p)->K, k = r % (p)->K;                           \
        while (r < (r1)) {                                                                        \
            int64_t mb = bi * (p)->blk, cnt = (p)->md.M - mb < (p)->blk ? (p)->md.M - mb : (p)->blk; \
            block_offsets(&(p)->md, 3, mb, cnt, off);                                             \
            int64_t kend = (p)->K - k < (r1) - r ? (p)->K : k + ((r1) - r);                       \
            for (; k < kend; k++, r++) {                                                          \
                const int64_t *x = (p)->idx + k * (p)->kx;                                        \
                for (int64_t j = 0; j < cnt; j++) {                                               \
                    int64_t v = x[off[0][j]];                                                     \
                    if (!fix_index(&v, (p)->size, (p)->allow_neg)) return false;                  \
                    __VA_ARGS__                                                                   \
                }                                                                                 \
            }                                                                                     \
            k = 0;                                                                                \
            bi++;                                                                                 \
        }                                                                                         \
    } while (0)

/* count pairs per bucket of rows [r0, r1); false on a bad index */
static bool sb_count(const splan *p, int64_t r0, int64_t r1, int shift, int64_t *cnt_b) {
    SB_WALK(p, r0, r1, { cnt_b[(off[2][j] + v * p->ko) >> shift]++; });
    return true;
}

#define SB_KERNELS(T, _)                                                                          \
    static bool sb_fill_##T(const splan *p, int64_t r0, int64_t r1, int shift, int64_t *pos,      \
                            uint32_t *loc, T *val) {                                              \
        const T *src = (const T *)p->src;                                                         \
        const int64_t mask = ((int64_t)1 << shift) - 1;                                           \
        SB_WALK(p, r0, r1, {                                                                      \
            int64_t t = off[2][j] + v * p->ko, q = pos[t >> shift]++;                             \
            loc[q] = (uint32_t)(t & mask);                                                        \
            val[q] = src[off[1][j] + k * p->ks];                                                  \
        });                                                                                       \
        return true;                                                                              \
    }                                                                                             \
    static void sb_apply_##T(char *out, const uint32_t *loc, const void *val, int64_t n) {        \
        T *o = (T *)out;                                                                          \
        const T *v = val;                                                                         \
        for (int64_t i = 0; i < n; i++) o[loc[i]] += v[i];                                        \
    }
SB_KERNELS(float, 0)
SB_KERNELS(double, 0)
SB_KERNELS(cf32, 0)
SB_KERNELS(cf64, 0)
SB_KERNELS(int64_t, 0)
SB_KERNELS(int32_t, 0)
SB_KERNELS(uint8_t, 0)

typedef bool (*sb_fill_fn)(const splan *, int64_t, int64_t, int, int64_t *, uint32_t *, void *);
typedef void (*sb_apply_fn)(char *, const uint32_t *, const void *, int64_t);

/* 1: done, 0: not applicable (use the direct path), < 0: error set */
static int scatter_binned(const char *op, const splan *p, const ag_kview *out, const ag_kview *idx, int dim,
                          int nt) {
    size_t es = ag_dtype_size(out->dtype);
    int64_t span = 1; /* output elements the targets can reach (non-negative strides only) */
    for (int d = 0; d < out->ndim; d++) {
        if (out->strides[d] < 0) return 0;
        span += (out->shape[d] - 1) * out->strides[d];
    }
    int64_t rows = (p->md.M + p->blk - 1) / p->blk * p->K, total = p->md.M * p->K;
    /* only walks that add one element at a time (blk 1: along dim) over a large range of outputs;
     * blocks of m positions add contiguous runs, which the caches serve well */
    int64_t reach = p->size * (p->ko < 0 ? -p->ko : p->ko);
    if (p->blk != 1 || (uint64_t)reach * es < SB_MIN_OUT_BYTES || total < (1 << 20)) return 0;
    sb_fill_fn fill;
    sb_apply_fn apply;
    switch (out->dtype) {
    case AG_F32: fill = (sb_fill_fn)sb_fill_float; apply = sb_apply_float; break;
    case AG_F64: fill = (sb_fill_fn)sb_fill_double; apply = sb_apply_double; break;
    case AG_C64: fill = (sb_fill_fn)sb_fill_cf32; apply = sb_apply_cf32; break;
    case AG_C128: fill = (sb_fill_fn)sb_fill_cf64; apply = sb_apply_cf64; break;
    case AG_I64: fill = (sb_fill_fn)sb_fill_int64_t; apply = sb_apply_int64_t; break;
    case AG_I32: fill = (sb_fill_fn)sb_fill_int32_t; apply = sb_apply_int32_t; break;
    case AG_U8: fill = (sb_fill_fn)sb_fill_uint8_t; apply = sb_apply_uint8_t; break;
    default: return 0;
    }
    int shift = 0;
    while (((size_t)1 << (shift + 1)) * es <= SB_BUCKET_BYTES) shift++;
    int64_t nbk = ((span - 1) >> shift) + 1;
    /* the caching allocator: fresh pages would cost a fault per 4 KiB on every call */
    size_t cbytes = (size_t)(nt * nbk + nbk + 1) * sizeof(int64_t);
    size_t lbytes = (size_t)total * sizeof(uint32_t), vbytes = (size_t)total * es;
    int64_t *cnt = ag_cpu_alloc(cbytes), *base = cnt ? cnt + nt * nbk : NULL;
    uint32_t *loc = ag_cpu_alloc(lbytes);
    void *val = ag_cpu_alloc(vbytes);
    if (cnt) memset(cnt, 0, cbytes);
    if (!cnt || !loc || !val) {
        if (cnt) ag_cpu_free(cnt, cbytes);
        if (loc) ag_cpu_free(loc, lbytes);
        if (val) ag_cpu_free(val, vbytes);
        return 0; /* no room for the pairs: the direct path needs none */
    }
    /* nt fixed parts of the rows, counted then filled part by part: the two passes must agree on
     * the parts whatever team sizes OpenMP grants them */
    bool ok = true;
    _Pragma("omp parallel for num_threads(nt) schedule(static) reduction(&& : ok)")
    for (int t = 0; t < nt; t++)
        if (!sb_count(p, rows * t / nt, rows * (t + 1) / nt, shift, cnt + t * nbk)) ok = false;
    if (!ok) {
        ag_cpu_free(cnt, cbytes);
        ag_cpu_free(loc, lbytes);
        ag_cpu_free(val, vbytes);
        return index_error(op, idx, dim, p->size, p->allow_neg);
    }
    /* bucket b starts at base[b]; within it part t's pairs start after parts 0..t-1's */
    for (int64_t b = 0, acc = 0; b < nbk; b++) {
        base[b] = acc;
        for (int t = 0; t < nt; t++) {
            int64_t c = cnt[t * nbk + b];
            cnt[t * nbk + b] = acc;
            acc += c;
        }
    }
    base[nbk] = total;
    _Pragma("omp parallel for num_threads(nt) schedule(static)")
    for (int t = 0; t < nt; t++) fill(p, rows * t / nt, rows * (t + 1) / nt, shift, cnt + t * nbk, loc, val);
    _Pragma("omp parallel for num_threads(nt) schedule(dynamic, 4)")
    for (int64_t b = 0; b < nbk; b++)
        apply(p->out + ((size_t)b << shift) * es, loc + base[b], (const char *)val + (size_t)base[b] * es,
              base[b + 1] - base[b]);
    ag_cpu_free(cnt, cbytes);
    ag_cpu_free(loc, lbytes);
    ag_cpu_free(val, vbytes);
    return 1;
}

typedef bool (*scatter_fn)(const splan *, int64_t, int64_t, int64_t, int64_t);

static int64_t iabs64(int64_t x) { return x < 0 ? -x : x; }

static int scatter_impl(const char *op, const ag_kview *out, const ag_kview *idx, const ag_kview *src, int dim,
                        bool allow_neg, bool assign) {
    if (idx->dtype != AG_I64)
        return ag_set_error(AG_ERR_DTYPE, "%s: expected an i64 index, given %s", op, ag_dtype_name(idx->dtype));
    scatter_fn fn;
    switch (out->dtype) {
    case AG_F32: fn = scatter_float; break;
    case AG_F64: fn = scatter_double; break;
    case AG_C64: fn = scatter_cf32; break;
    case AG_C128: fn = scatter_cf64; break;
    case AG_I64: fn = scatter_int64_t; break;
    case AG_I32: fn = scatter_int32_t; break;
    case AG_U8: fn = scatter_uint8_t; break;
    default: return ag_set_error(AG_ERR_DTYPE, "%s: %s does not support %s", op, assign ? "scatter" : "scatter_add", ag_dtype_name(out->dtype));
    }
    if (src->dtype != out->dtype || idx->ndim != src->ndim || idx->ndim != out->ndim)
        return ag_set_error(AG_ERR_INVALID, "%s: cpu scatter_add: mismatched views", op);
    splan p;
    memset(&p, 0, sizeof p);
    int nd = idx->ndim;
    const ag_kview *ops[3] = {idx, src, out};
    if (nd == 0) {
        mdims_init(&p.md, NULL, 0, 0, ops, 3);
        p.K = 1;
        p.size = 1;
    } else {
        mdims_init(&p.md, idx->shape, nd, dim, ops, 3);
        p.K = idx->shape[dim];
        p.kx = idx->strides[dim];
        p.ks = src->strides[dim];
        p.ko = out->strides[dim];
        p.size = out->shape[dim];
    }
    p.out = out->data;
    p.src = src->data;
    p.idx = idx->data;
    p.allow_neg = allow_neg;
    p.assign = assign;
    int64_t M = p.md.M, total = M * p.K;
    if (total == 0) return 0;
    /* dim innermost in src: walk one fiber at a time along it; otherwise rows of BLK */
    int L = p.md.n - 1;
    bool dim_inner = nd == 0 || p.md.shape[L] == 1 || iabs64(p.ks) <= iabs64(p.md.st[1][L]);
    p.blk = dim_inner ? 1 : BLK;
    bool ok = true;
    int nt = threads_for(total);
    int binned = assign ? 0 : scatter_binned(op, &p, out, idx, dim, nt);
    if (binned) return binned < 0 ? binned : 0;
    if (nt > 1) {
#ifdef _OPENMP
        bool by_slices = M >= (int64_t)SLICES_PER_THREAD * nt;
#pragma omp parallel num_threads(nt) reduction(&& : ok)
        {
            int t = omp_get_thread_num(), n = omp_get_num_threads();
            if (by_slices) {
                int64_t chunk = (M + n - 1) / n, b = (int64_t)t * chunk, e = b + chunk < M ? b + chunk : M;
                if (b < e) ok = fn(&p, b, e, 0, p.size);
            } else {
                int64_t chunk = (p.size + n - 1) / n, lo = (int64_t)t * chunk, hi = lo + chunk;
                if (lo < p.size) ok = fn(&p, 0, M, lo, hi);
            }
        }
#endif
    } else {
        ok = fn(&p, 0, M, 0, p.size);
    }
    if (!ok) return index_error(op, idx, dim, p.size, allow_neg);
    return 0;
}

int ag_cpu_scatter_add(const char *op, const ag_kview *out, const ag_kview *idx, const ag_kview *src, int dim,
                       bool allow_neg) {
    return scatter_impl(op, out, idx, src, dim, allow_neg, false);
}

int ag_cpu_scatter(const char *op, const ag_kview *out, const ag_kview *idx, const ag_kview *src, int dim,
                   bool allow_neg) {
    return scatter_impl(op, out, idx, src, dim, allow_neg, true);
}

/* ---- cumsum ------------------------------------------------------------------------------ */
typedef struct cplan {
    mdims md;                       /* operands: 0 in, 1 out */
    int64_t K, ki, ko, blk;
    const char *in;
    char *out;
    bool reverse;
} cplan;

#define CUMSUM_RANGE(T, A)                                                                        \
    static void cumsum_##T(const cplan *p, int64_t m0, int64_t m1) {                              \
        int64_t off[2][BLK];                                                                      \
        A acc[BLK];                                                                               \
        const T *in = (const T *)p->in;                                                           \
        T *out = (T *)p->out;                                                                     \
        for (int64_t mb = m0; mb < m1; mb += p->blk) {                                            \
            int64_t cnt = m1 - mb < p->blk ? m1 - mb : p->blk;                                    \
            block_offsets(&p->md, 2, mb, cnt, off);                                               \
            for (int64_t j = 0; j < cnt; j++) acc[j] = 0;                                         \
            for (int64_t s = 0; s < p->K; s++) {                                                  \
                int64_t k = p->reverse ? p->K - 1 - s : s;                                        \
                const T *x = in + k * p->ki;                                                      \
                T *o = out + k * p->ko;                                                           \
                for (int64_t j = 0; j < cnt; j++) {                                               \
                    acc[j] += (A)x[off[0][j]];                                                    \
                    o[off[1][j]] = (T)acc[j];                                                     \
                }                                                                                 \
            }                                                                                     \
        }                                                                                         \
    }
CUMSUM_RANGE(float, double)
CUMSUM_RANGE(double, double)
CUMSUM_RANGE(cf32, cf64)
CUMSUM_RANGE(cf64, cf64)
CUMSUM_RANGE(int64_t, int64_t)

typedef void (*cumsum_fn)(const cplan *, int64_t, int64_t);

int ag_cpu_cumsum(const ag_kview *out, const ag_kview *in, int dim, bool reverse) {
    cumsum_fn fn;
    switch (out->dtype) {
    case AG_F32: fn = cumsum_float; break;
    case AG_F64: fn = cumsum_double; break;
    case AG_C64: fn = cumsum_cf32; break;
    case AG_C128: fn = cumsum_cf64; break;
    case AG_I64: fn = cumsum_int64_t; break;
    default: return ag_set_error(AG_ERR_DTYPE, "cpu cumsum: %s not supported", ag_dtype_name(out->dtype));
    }
    if (in->dtype != out->dtype || in->ndim != out->ndim)
        return ag_set_error(AG_ERR_INVALID, "cpu cumsum: mismatched views");
    cplan p;
    memset(&p, 0, sizeof p);
    const ag_kview *ops[2] = {in, out};
    if (in->ndim == 0) {
        mdims_init(&p.md, NULL, 0, 0, ops, 2);
        p.K = 1;
    } else {
        mdims_init(&p.md, in->shape, in->ndim, dim, ops, 2);
        p.K = in->shape[dim];
        p.ki = in->strides[dim];
        p.ko = out->strides[dim];
    }
    p.in = in->data;
    p.out = out->data;
    p.reverse = reverse;
    int64_t M = p.md.M, total = M * p.K;
    if (total == 0) return 0;
    int L = p.md.n - 1;
    bool dim_inner = in->ndim == 0 || p.md.shape[L] == 1 || iabs64(p.ki) <= iabs64(p.md.st[0][L]);
    p.blk = dim_inner ? 1 : BLK;
    int nt = threads_for(total);
    if (nt > 1 && M > 1) {
#ifdef _OPENMP
#pragma omp parallel num_threads(nt)
        {
            int t = omp_get_thread_num(), n = omp_get_num_threads();
            int64_t chunk = (M + n - 1) / n, b = (int64_t)t * chunk, e = b + chunk < M ? b + chunk : M;
            if (b < e) fn(&p, b, e);
        }
#endif
    } else {
        fn(&p, 0, M);
    }
    return 0;
}

/* ---- nonzero ----------------------------------------------------------------------------- */
/* Count (out == NULL) or write the coordinates of nonzero elements in [b, e) of in's linear index. */
#define NZ_RANGE(T, _)                                                                            \
    static int64_t nz_##T(const ag_kview *in, int64_t b, int64_t e, int64_t *out) {               \
        int nd = in->ndim;                                                                        \
        int64_t c[AG_MAX_DIMS] = {0}, cnt = 0;                                                    \
        unravel(in->shape, nd, b, c);                                                             \
        const T *x = in->data;                                                                    \
        for (int64_t i = b; i < e; i++) {                                                         \
            int64_t off = 0;                                                                      \
            for (int d = 0; d < nd; d++) off += c[d] * in->strides[d];                            \
            if (x[off] != 0) {                                                                    \
                if (out) for (int d = 0; d < nd; d++) out[cnt * nd + d] = c[d];                   \
                cnt++;                                                                            \
            }                                                                                     \
            for (int d = nd - 1; d >= 0; d--) {                                                   \
                if (++c[d] < in->shape[d]) break;                                                 \
                c[d] = 0;                                                                         \
            }                                                                                     \
        }                                                                                         \
        return cnt;                                                                               \
    }
NZ_RANGE(float, 0)
NZ_RANGE(double, 0)
NZ_RANGE(cf32, 0)
NZ_RANGE(cf64, 0)
NZ_RANGE(int64_t, 0)
NZ_RANGE(bool, 0)
NZ_RANGE(int32_t, 0)
NZ_RANGE(uint8_t, 0)

typedef int64_t (*nz_fn)(const ag_kview *, int64_t, int64_t, int64_t *);
#define PICK_NZ(T, _) fn = nz_##T;
#define NZ_MAX_THREADS 256

int ag_cpu_nonzero(const ag_kview *out, const ag_kview *in) {
    nz_fn fn = NULL;
    AG_CPU_SWITCH_ALL(in->dtype, PICK_NZ,
                      return ag_set_error(AG_ERR_DTYPE, "cpu nonzero: %s tensors are not supported (cast to i64 or bool "
                                          "first)", ag_dtype_name(in->dtype)), 0)
    if (out->dtype != AG_I64 || out->ndim != 2 || out->shape[1] != in->ndim)
        return ag_set_error(AG_ERR_INVALID, "cpu nonzero: expected an i64 [nnz, %d] output", in->ndim);
    int64_t total = 1;
    for (int d = 0; d < in->ndim; d++) total *= in->shape[d];
    int64_t nnz = out->shape[0], *o = out->data;
    int nt = threads_for(total);
    if (nt > NZ_MAX_THREADS) nt = NZ_MAX_THREADS;
    int64_t counts[NZ_MAX_THREADS + 1] = {0}, written = 0;
    if (nt > 1) {
#ifdef _OPENMP
#pragma omp parallel num_threads(nt)
        {
            int t = omp_get_thread_num(), n = omp_get_num_threads();
            int64_t chunk = (total + n - 1) / n, b = (int64_t)t * chunk, e = b + chunk < total ? b + chunk : total;
            if (b < e) counts[t + 1] = fn(in, b, e, NULL);
#pragma omp barrier
#pragma omp single
            {
                for (int i = 0; i < n; i++) counts[i + 1] += counts[i];
                written = counts[n];
            } /* implicit barrier */
            if (b < e && written == nnz) fn(in, b, e, o + counts[t] * in->ndim);
        }
#endif
    } else {
        written = fn(in, 0, total, NULL);
        if (written == nnz) fn(in, 0, total, o);
    }
    if (written != nnz)
        return ag_set_error(AG_ERR_INVALID, "cpu nonzero: expected %lld nonzero elements, found %lld",
                            (long long)nnz, (long long)written);
    return 0;
}
