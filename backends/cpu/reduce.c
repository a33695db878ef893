/* backends/cpu/reduce.c — sum/prod/max/min over any set of dims.
 *
 * Dims are split into kept (K) and reduced (R) groups and each group is coalesced. Every
 * output is accumulated in a fixed order: R is cut into blocks of BLOCK elements, each block
 * is summed with 32 interleaved accumulators (combined by a fixed pairwise tree), and block
 * results are combined in order. That
 * order depends only on the shapes, never on the thread count, so results are reproducible.
 * Threads split the outputs, or, for few outputs (a full reduction), the blocks.
 * When the input's contiguous dim is kept (a column reduction), outputs are accumulated a
 * row at a time instead, so the inner loop runs along memory (each output still sums its terms
 * in increasing order; the tile width only decides which outputs a thread owns). f32
 * accumulates in f64 (dense f32 sums add element pairs in f32 first). The lane count keeps enough independent add chains in flight for the
 * vector units; the dense loops are compiled for AVX2/AVX-512 too (same order, same bits). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "backends/cpu/cpu.h"
#include "backends/reduce_plan.h"

#define BLOCK 32768
#define LANES 32
#define COL_TILE 2048 /* widest column tile (outputs accumulated per row pass) */

static int nthreads(void) {
#ifdef _OPENMP
    return omp_in_parallel() ? 1 : omp_get_max_threads();
#else
    return 1;
#endif
}

/* ---- sum / prod ---------------------------------------------------------------- */
#define ARITH_FNS(T, ACC, SFX)                                                                   \
    /* dense lanes: lane[l] accumulates q[i + l] over the whole LANES-chunks of q[0, n) */         \
    static inline __attribute__((always_inline)) int64_t lanes_body_##SFX(ACC *restrict lane, const T *restrict q, \
                                                                       int64_t n, bool prod) {     \
        ACC v[LANES];                                                                            \
        for (int l = 0; l < LANES; l++) v[l] = lane[l];                                          \
        int64_t i = 0;                                                                           \
        /* f32 sums: pairs are added in f32 first (one rounding, 2^-24 relative), halving the \
         * f32 -> f64 conversions that otherwise bound the loop */                           \
        if (!prod && sizeof(T) == 4)                                                             \
            for (; i + 2 * LANES <= n; i += 2 * LANES)                                           \
                for (int l = 0; l < LANES; l++) v[l] += (ACC)(T)(q[i + l] + q[i + LANES + l]);   \
        if (prod) for (; i + LANES <= n; i += LANES) for (int l = 0; l < LANES; l++) v[l] *= (ACC)q[i + l]; \
        else for (; i + LANES <= n; i += LANES) for (int l = 0; l < LANES; l++) v[l] += (ACC)q[i + l]; \
        for (int l = 0; l < LANES; l++) lane[l] = v[l];                                          \
        return i;                                                                                \
    }                                                                                            \
    AG_CPU_CLONES static int64_t lanes_##SFX(ACC *restrict lane, const T *restrict q, int64_t n, bool prod) { \
        return lanes_body_##SFX(lane, q, n, prod);                                               \
    }                                                                                            \
    /* sums of rows [k0, k1) of a dense [K, n] block (n <= BLOCK): the same lanes and tree as     \
     * block_ below, with the per-row call of the ISA-dispatched loop hoisted out of the rows */   \
    AG_CPU_CLONES static void rowsums_##SFX(T *out, int64_t so, const T *in, int64_t si, int64_t n, \
                                            int64_t k0, int64_t k1) {                           \
        for (int64_t k = k0; k < k1; k++) {                                                      \
            ACC lane[LANES];                                                                     \
            for (int l = 0; l < LANES; l++) lane[l] = 0;                                         \
            const T *q = in + k * si;                                                            \
            int64_t i = lanes_body_##SFX(lane, q, n, false);                                     \
            for (; i < n; i++) lane[0] += (ACC)q[i];                                             \
            for (int w = LANES / 2; w > 0; w /= 2)                                               \
                for (int l = 0; l < w; l++) lane[l] += lane[l + w];                              \
            ACC acc = 0;                                                                         \
            acc += lane[0];                                                                      \
            out[k * so] = (T)acc;                                                                \
        }                                                                                        \
    }                                                                                            \
    /* acc[j] (op)= x[j], j < n: one row of a column reduction */                                \
    AG_CPU_CLONES static void row_##SFX(ACC *restrict acc, const T *restrict x, int64_t n, bool prod) { \
        if (prod) for (int64_t j = 0; j < n; j++) acc[j] *= (ACC)x[j];                           \
        else for (int64_t j = 0; j < n; j++) acc[j] += (ACC)x[j];                                \
    }                                                                                            \
    /* partial over r in [r0, r1) of the output whose input base is x */                        \
    static ACC block_##SFX(const ag_red_plan *p, const T *x, int64_t r0, int64_t r1, bool prod) {      \
        ACC lane[LANES];                                                                         \
        for (int l = 0; l < LANES; l++) lane[l] = prod ? 1 : 0;                                  \
        int64_t r = r0;                                                                          \
        if (p->nr == 1) {                                                                        \
            int64_t s = p->rin[0];                                                               \
            const T *q = x + r0 * s;                                                             \
            int64_t n = r1 - r0, i = 0;                                                          \
            if (s == 1) {                                                                        \
                i = lanes_##SFX(lane, q, n, prod);                                               \
            } else {                                                                             \
                if (prod) for (; i + LANES <= n; i += LANES) for (int l = 0; l < LANES; l++) lane[l] *= (ACC)q[(i + l) * s]; \
                else for (; i + LANES <= n; i += LANES) for (int l = 0; l < LANES; l++) lane[l] += (ACC)q[(i + l) * s]; \
            }                                                                                    \
            for (; i < n; i++) { if (prod) lane[0] *= (ACC)q[i * s]; else lane[0] += (ACC)q[i * s]; } \
        } else {                                                                                 \
            for (; r < r1; r++) {                                                                \
                ACC v = (ACC)x[ag_red_r_offset(p, r)];                                                  \
                if (prod) lane[(r - r0) % LANES] *= v; else lane[(r - r0) % LANES] += v;         \
            }                                                                                    \
        }                                                                                        \
        /* lanes combined pairwise (a fixed tree: short dependency chain for short rows) */     \
        for (int w = LANES / 2; w > 0; w /= 2)                                                   \
            for (int l = 0; l < w; l++) { if (prod) lane[l] *= lane[l + w]; else lane[l] += lane[l + w]; } \
        ACC acc = prod ? 1 : 0;                                                                  \
        if (prod) acc *= lane[0]; else acc += lane[0];                                           \
        return acc;                                                                              \
    }                                                                                            \
    static ACC full_##SFX(const ag_red_plan *p, const T *x, bool prod) {                                \
        ACC acc = prod ? 1 : 0;                                                                  \
        for (int64_t b = 0; b < p->R; b += BLOCK) {                                              \
            ACC v = block_##SFX(p, x, b, b + BLOCK < p->R ? b + BLOCK : p->R, prod);             \
            if (prod) acc *= v; else acc += v;                                                   \
        }                                                                                        \
        return acc;                                                                              \
    }                                                                                            \
    static void arith_##SFX(const ag_red_plan *p, T *out, const T *in, bool prod) {                     \
        int nt = nthreads();                                                                     \
        int64_t nblocks = (p->R + BLOCK - 1) / BLOCK;                                            \
        if (p->K == 1 && nblocks > 1 && nt > 1) {                                                \
            size_t pbytes = (size_t)nblocks * sizeof(ACC);                                       \
            ACC *part = ag_cpu_alloc(pbytes);                                                    \
            if (part) {                                                                          \
                _Pragma("omp parallel for schedule(static)")                                     \
                for (int64_t b = 0; b < nblocks; b++)                                            \
                    part[b] = block_##SFX(p, in, b * BLOCK, (b + 1) * BLOCK < p->R ? (b + 1) * BLOCK : p->R, prod); \
                ACC acc = prod ? 1 : 0;                                                          \
                for (int64_t b = 0; b < nblocks; b++) { if (prod) acc *= part[b]; else acc += part[b]; } \
                out[0] = (T)acc;                                                                 \
                ag_cpu_free(part, pbytes);                                                       \
                return;                                                                          \
            }                                                                                    \
        }                                                                                        \
        bool par = nt > 1 && p->K > 1 && p->K * p->R >= AG_CPU_PAR_MIN;                          \
        if (!prod && p->nk == 1 && p->nr == 1 && p->rin[0] == 1 && p->R <= BLOCK) {              \
            /* many short dense rows: one dispatched call per thread, not per row */             \
            int chunks = par ? nt : 1;                                                           \
            _Pragma("omp parallel for schedule(static) if(par)")                                 \
            for (int c = 0; c < chunks; c++)                                                     \
                rowsums_##SFX(out, p->kout[0], in, p->kin[0], p->R, p->K * c / chunks,           \
                              p->K * (c + 1) / chunks);                                          \
            return;                                                                              \
        }                                                                                        \
        _Pragma("omp parallel for schedule(static) if(par)")                                     \
        for (int64_t k = 0; k < p->K; k++) {                                                     \
            int64_t oi, oo, ox;                                                                  \
            ag_red_k_offsets(p, k, &oi, &oo, &ox);                                                      \
            out[oo] = (T)full_##SFX(p, in + oi, prod);                                           \
        }                                                                                        \
    }                                                                                            \
    /* column reduction: the kept innermost dim is dense in the input */                         \
    static void cols_##SFX(const ag_red_plan *p, T *out, const T *in, bool prod) {                      \
        int64_t L = p->kshape[p->nk - 1], outer = p->K / L;                                       \
        int nt = nthreads();                                                                     \
        bool par = nt > 1 && p->K * p->R >= AG_CPU_PAR_MIN;                                      \
        /* widest tile that still gives every thread work (any width gives the same sums) */     \
        int64_t tw = COL_TILE;                                                                   \
        if (par && outer * ((L + tw - 1) / tw) < nt) {                                           \
            int64_t per = (outer * L + nt - 1) / nt;                                             \
            tw = per < 256 ? 256 : (per + 63) / 64 * 64;                                         \
        }                                                                                        \
        int64_t tiles = (L + tw - 1) / tw;                                                       \
        _Pragma("omp parallel for schedule(static) if(par)")                                     \
        for (int64_t t = 0; t < outer * tiles; t++) {                                            \
            int64_t o = t / tiles, j0 = (t % tiles) * tw, n = L - j0 < tw ? L - j0 : tw;         \
            int64_t oi, oo, ox;                                                                  \
            ag_red_k_offsets(p, o * L + j0, &oi, &oo, &ox);                                             \
            ACC acc[COL_TILE];                                                                   \
            for (int64_t j = 0; j < n; j++) acc[j] = prod ? 1 : 0;                               \
            for (int64_t r = 0; r < p->R; r++) row_##SFX(acc, in + oi + ag_red_r_offset(p, r), n, prod); \
            int64_t so = p->kout[p->nk - 1];                                                     \
            for (int64_t j = 0; j < n; j++) out[oo + j * so] = (T)acc[j];                        \
        }                                                                                        \
    }
ARITH_FNS(float, double, f32)
ARITH_FNS(double, double, f64)
ARITH_FNS(cf32, cf64, c64)
ARITH_FNS(cf64, cf64, c128)
ARITH_FNS(int64_t, int64_t, i64)

/* ---- max / min (NaN propagates; first index of the extreme wins) ------------------ */
#define BETTER(v, best, ismax) ((v) != (v) ? (best) == (best) : ((ismax) ? (v) > (best) : (v) < (best)))
#define EXT_FNS(T, SFX)                                                                          \
    static void ext_##SFX(const ag_red_plan *p, T *out, int64_t *idx, const T *in, bool ismax) {        \
        bool par = nthreads() > 1 && p->K > 1 && p->K * p->R >= AG_CPU_PAR_MIN;                  \
        _Pragma("omp parallel for schedule(static) if(par)")                                     \
        for (int64_t k = 0; k < p->K; k++) {                                                     \
            int64_t oi, oo, ox;                                                                  \
            ag_red_k_offsets(p, k, &oi, &oo, &ox);                                                      \
            const T *x = in + oi;                                                                \
            T best = x[0];                                                                       \
            int64_t bi = 0;                                                                      \
            if (p->nr == 1) {                                                                    \
                int64_t s = p->rin[0];                                                           \
                for (int64_t r = 1; r < p->R; r++) {                                             \
                    T v = x[r * s];                                                              \
                    if (BETTER(v, best, ismax)) { best = v; bi = r; }                            \
                }                                                                                \
            } else {                                                                             \
                for (int64_t r = 1; r < p->R; r++) {                                             \
                    T v = x[ag_red_r_offset(p, r)];                                                     \
                    if (BETTER(v, best, ismax)) { best = v; bi = r; }                            \
                }                                                                                \
            }                                                                                    \
            out[oo] = best;                                                                      \
            if (idx) idx[ox] = bi;                                                               \
        }                                                                                        \
    }
EXT_FNS(float, f32)
EXT_FNS(double, f64)
EXT_FNS(int64_t, i64)
EXT_FNS(bool, b)

int ag_cpu_reduce(ag_reduce_op op, const ag_kview *out, const ag_kview *idx, const ag_kview *in) {
    ag_red_plan p;
    ag_red_plan_make(&p, out, idx, in);
    if (p.K == 0) return 0;
    bool ext = op == AG_RED_MAX || op == AG_RED_MIN;
    if (p.R == 0) {
        if (ext) return ag_set_error(AG_ERR_SHAPE, "cpu reduce: max/min over an empty dim");
        return ag_cpu_fill(out, op == AG_RED_PROD ? 1 : 0, 0);
    }
    bool prod = op == AG_RED_PROD;
    /* column path when the kept innermost dim is dense and reduced dims have larger strides */
    bool cols = !ext && p.nk >= 1 && p.kin[p.nk - 1] == 1 && p.nr >= 1 && p.rin[p.nr - 1] != 1;
    if (ext) {
        int64_t *ix = idx ? (int64_t *)idx->data : NULL;
        switch (in->dtype) {
        case AG_F32: ext_f32(&p, out->data, ix, in->data, op == AG_RED_MAX); return 0;
        case AG_F64: ext_f64(&p, out->data, ix, in->data, op == AG_RED_MAX); return 0;
        case AG_I64: ext_i64(&p, out->data, ix, in->data, op == AG_RED_MAX); return 0;
        case AG_BOOL: ext_b(&p, out->data, ix, in->data, op == AG_RED_MAX); return 0;
        default: return ag_set_error(AG_ERR_DTYPE, "cpu reduce: max/min of %s is not supported", ag_dtype_name(in->dtype));
        }
    }
#define RUN(SFX, T) { if (cols) cols_##SFX(&p, (T *)out->data, (const T *)in->data, prod); \
                      else arith_##SFX(&p, (T *)out->data, (const T *)in->data, prod); } return 0;
    switch (in->dtype) {
    case AG_F32: RUN(f32, float)
    case AG_F64: RUN(f64, double)
    case AG_C64: RUN(c64, cf32)
    case AG_C128: RUN(c128, cf64)
    case AG_I64: RUN(i64, int64_t)
    default: return ag_set_error(AG_ERR_DTYPE, "cpu reduce: sum/prod of %s is not supported", ag_dtype_name(in->dtype));
    }
#undef RUN
}
