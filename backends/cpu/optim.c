/* backends/cpu/optim.c — fused optimizer updates (SGD, Adam/AdamW, RMSprop).
 *
 * Each element goes through exactly the operations of PyTorch's single-tensor implementation
 * (torch/optim/{sgd,adam,adamw,rmsprop}.py, foreach=False), in the same order and the same
 * dtype, with no contraction into FMAs (the library builds as ISO C11, -ffp-contract=off), so
 * f64 trajectories agree with PyTorch bit for bit. Hyper-parameters arrive as doubles and are
 * rounded to the tensor's dtype where PyTorch rounds a Python scalar to it. PyTorch's CPU kernels
 * (AVX2 builds, i.e. any x86-64 with FMA; checked against Debian's torch 1.13) fuse add-with-alpha
 * and addcmul into one fused multiply-add, in the scalar and the vector loops alike; we call
 * fma() for exactly those operations (glibc uses the FMA instruction when the CPU has it):
 *   t.mul_(s)                 -> t * (T)s
 *   t.add_(u, alpha=a)        -> fma((T)a, u, t)
 *   t.addcmul_(u, v, value=c) -> fma((T)c * u, v, t)
 *   t.addcdiv_(u, v, value=c) -> t + (T)c * u / v
 * Views are contiguous, 1-d, one real dtype; complex parameters arrive as their real view. */
/* Vectorizing sqrt needs errno semantics off; values are unchanged (IEEE sqrt either way). */
#pragma GCC optimize("no-math-errno", "no-trapping-math", "fp-contract=off")

#include <math.h>
#include <string.h>

#include "backends/cpu/cpu.h"

#define MAXN(a, b) ((a) > (b) || (a) != (a) ? (a) : (b))   /* torch.maximum: NaN propagates */

static int check_views(const char *k, const ag_kview *p, const ag_kview *const *o, int n) {
    if (!p || !p->data || (p->dtype != AG_F32 && p->dtype != AG_F64) || p->ndim != 1 || p->strides[0] != 1)
        return ag_set_error(AG_ERR_INVALID, "%s: parameter must be a contiguous 1-d f32/f64 view", k);
    for (int i = 0; i < n; i++) {
        if (!o[i] || !o[i]->data) continue;
        if (o[i]->dtype != p->dtype || o[i]->ndim != 1 || o[i]->shape[0] != p->shape[0] || o[i]->strides[0] != 1)
            return ag_set_error(AG_ERR_INVALID, "%s: state/grad view %d does not match the parameter view", k, i);
    }
    return 0;
}

/* ---- SGD ---------------------------------------------------------------------------------- */
#define SGD_BODY(T, FMA)                                                                          \
    do {                                                                                     \
        T *P = (T *)param->data, *B = buf && buf->data ? (T *)buf->data : NULL;              \
        const T *G = (const T *)grad->data;                                                  \
        const T lr_n = (T)(-lr), mom = (T)momentum, damp1 = (T)(1 - dampening), wd = (T)wdv; \
        _Pragma("omp parallel for if (n >= AG_CPU_PAR_MIN)")                                                \
        for (int64_t i = 0; i < n; i++) {                                                    \
            T d = maximize ? -G[i] : G[i];                                                   \
            if (wdv != 0) d = FMA(wd, P[i], d);                                              \
            if (momentum != 0) {                                                             \
                T b;                                                                         \
                if (first) b = d;                                                            \
                else { b = B[i] * mom; b = FMA(damp1, d, b); }                               \
                B[i] = b;                                                                    \
                if (nesterov) d = FMA(mom, b, d);                                            \
                else d = b;                                                                  \
            }                                                                                \
            P[i] = FMA(lr_n, d, P[i]);                                                       \
        }                                                                                    \
    } while (0)

int ag_cpu_sgd_step(const ag_kview *param, const ag_kview *grad, const ag_kview *buf, const double *hyper) {
    const ag_kview *o[] = {grad, buf};
    int rc = check_views("sgd_step", param, o, 2);
    if (rc) return rc;
    if (!grad || !grad->data) return ag_set_error(AG_ERR_INVALID, "sgd_step: missing gradient");
    const double lr = hyper[0], momentum = hyper[1], dampening = hyper[2], wdv = hyper[3];
    const bool nesterov = hyper[4] != 0, maximize = hyper[5] != 0, first = hyper[6] != 0;
    if (momentum != 0 && !(buf && buf->data))
        return ag_set_error(AG_ERR_INVALID, "sgd_step: momentum needs a buffer");
    const int64_t n = param->shape[0];
    if (param->dtype == AG_F64) SGD_BODY(double, fma);
    else SGD_BODY(float, fmaf);
    return 0;
}

/* ---- Adam / AdamW ------------------------------------------------------------------------- */
/* one thread's range [i0, i1) of the update, compiled with FMA where the CPU has it */
#define ADAM_RANGE(T, SQRT, FMA)                                                                          \
    AG_CPU_CLONES_FMA static void adam_range_##T(T *P, T *M, T *V, T *MX, const T *G, const T *c, bool maximize, \
                                                 bool decoupled, bool wd_on, bool amsgrad, int64_t i0, int64_t i1) { \
        const T b1 = c[0], b2 = c[1], omb1 = c[2], omb2 = c[3], wd = c[4], decay = c[5], bc2s = c[6], e = c[7];   \
        const T nstep = c[8];                                                                              \
        for (int64_t i = i0; i < i1; i++) {                                                                \
            T g = maximize ? -G[i] : G[i];                                                                 \
            T p = P[i];                                                                                    \
            if (decoupled) p = p * decay;                                                                  \
            else if (wd_on) g = FMA(wd, p, g);                                                             \
            T m = M[i] * b1; m = FMA(omb1, g, m);                                                          \
            T v = V[i] * b2; v = FMA(omb2 * g, g, v);                                                      \
            M[i] = m; V[i] = v;                                                                            \
            T den;                                                                                         \
            if (amsgrad) { T mx = MAXN(MX[i], v); MX[i] = mx; den = SQRT(mx) / bc2s + e; }                 \
            else den = SQRT(v) / bc2s + e;                                                                 \
            P[i] = p + nstep * m / den;                                                                    \
        }                                                                                                  \
    }
ADAM_RANGE(double, sqrt, fma)
ADAM_RANGE(float, sqrtf, fmaf)

#define ADAM_BODY(T)                                                                                       \
    do {                                                                                                   \
        T *P = (T *)param->data, *M = (T *)exp_avg->data, *V = (T *)exp_avg_sq->data;                      \
        T *MX = amsgrad ? (T *)max_sq->data : NULL;                                                        \
        const T c[9] = {(T)beta1, (T)beta2, (T)(1 - beta1), (T)(1 - beta2), (T)wdv, (T)(1 - lr * wdv),       \
                        (T)bias_correction2_sqrt, (T)eps, (T)(-step_size)};                                \
        int nt = n >= AG_CPU_PAR_MIN ? ag_cpu_max_threads() : 1;                                           \
        _Pragma("omp parallel num_threads(nt)")                                                            \
        {                                                                                                  \
            int64_t i0, i1;                                                                                \
            ag_cpu_thread_slice(n, &i0, &i1);                                                              \
            adam_range_##T(P, M, V, MX, (const T *)grad->data, c, maximize, decoupled, wdv != 0, amsgrad, i0, i1); \
        }                                                                                                  \
    } while (0)

int ag_cpu_adam_step(const ag_kview *param, const ag_kview *grad, const ag_kview *exp_avg,
                     const ag_kview *exp_avg_sq, const ag_kview *max_sq, const double *hyper) {
    const ag_kview *o[] = {grad, exp_avg, exp_avg_sq, max_sq};
    int rc = check_views("adam_step", param, o, 4);
    if (rc) return rc;
    const double lr = hyper[0], beta1 = hyper[1], beta2 = hyper[2], eps = hyper[3], wdv = hyper[4];
    const double step = hyper[5];
    const bool amsgrad = hyper[6] != 0, maximize = hyper[7] != 0, decoupled = hyper[8] != 0;
    if (!grad || !grad->data || !exp_avg || !exp_avg->data || !exp_avg_sq || !exp_avg_sq->data ||
        (amsgrad && !(max_sq && max_sq->data)))
        return ag_set_error(AG_ERR_INVALID, "adam_step: missing gradient or state");
    /* Python-float scalars, as torch computes them */
    const double bias_correction1 = 1 - pow(beta1, step);
    const double bias_correction2 = 1 - pow(beta2, step);
    const double step_size = lr / bias_correction1;
    const double bias_correction2_sqrt = sqrt(bias_correction2);
    const int64_t n = param->shape[0];
    if (param->dtype == AG_F64) ADAM_BODY(double);
    else ADAM_BODY(float);
    return 0;
}

/* ---- RMSprop ------------------------------------------------------------------------------ */
#define RMS_BODY(T, SQRT, FMA)                                                                          \
    do {                                                                                     \
        T *P = (T *)param->data, *S = (T *)square_avg->data;                                 \
        T *GA = centered ? (T *)grad_avg->data : NULL, *B = mom ? (T *)momentum_buf->data : NULL; \
        const T *G = (const T *)grad->data;                                                  \
        const T a = (T)alpha, oma = (T)(1 - alpha), wd = (T)wdv, e = (T)eps, m = (T)momentum; \
        const T lr_n = (T)(-lr), one = (T)1, mone = (T)-1;                                   \
        _Pragma("omp parallel for if (n >= AG_CPU_PAR_MIN)")                                                \
        for (int64_t i = 0; i < n; i++) {                                                    \
            T g = maximize ? -G[i] : G[i];                                                   \
            if (wdv != 0) g = FMA(wd, P[i], g);                                              \
            T s = S[i] * a; s = FMA(oma * g, g, s); S[i] = s;                                \
            T avg;                                                                           \
            if (centered) {                                                                  \
                T ga = GA[i] * a; ga = FMA(oma, g, ga); GA[i] = ga;                          \
                avg = SQRT(FMA(mone * ga, ga, s));                                           \
            } else avg = SQRT(s);                                                            \
            avg = avg + e;                                                                   \
            if (mom) {                                                                       \
                T b = B[i] * m; b = b + one * g / avg; B[i] = b;                             \
                P[i] = FMA(lr_n, b, P[i]);                                                   \
            } else P[i] = P[i] + lr_n * g / avg;                                             \
        }                                                                                    \
    } while (0)

int ag_cpu_rmsprop_step(const ag_kview *param, const ag_kview *grad, const ag_kview *square_avg,
                        const ag_kview *grad_avg, const ag_kview *momentum_buf, const double *hyper) {
    const ag_kview *o[] = {grad, square_avg, grad_avg, momentum_buf};
    int rc = check_views("rmsprop_step", param, o, 4);
    if (rc) return rc;
    const double lr = hyper[0], alpha = hyper[1], eps = hyper[2], wdv = hyper[3], momentum = hyper[4];
    const bool centered = hyper[5] != 0, maximize = hyper[6] != 0, mom = momentum > 0;
    if (!grad || !grad->data || !square_avg || !square_avg->data || (centered && !(grad_avg && grad_avg->data)) ||
        (mom && !(momentum_buf && momentum_buf->data)))
        return ag_set_error(AG_ERR_INVALID, "rmsprop_step: missing gradient or state");
    const int64_t n = param->shape[0];
    if (param->dtype == AG_F64) RMS_BODY(double, sqrt, fma);
    else RMS_BODY(float, sqrtf, fmaf);
    return 0;
}
