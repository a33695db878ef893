/* backends/cuda/unary.cu — unary maps: one grid-stride kernel per (op, dtype), the element
 * function as a functor. Same dtype coverage and element formulas as backends/cpu/unary.c
 * (CUDA's libm-accurate functions, never the fast intrinsics). */
#include <cuda/std/complex>

#include "backends/cuda/cmath.cuh"

struct P { double p[2]; };

template <class TO, class TI, class F> __global__ void un_kernel(Iter<2> it, TO *o, const TI *in, P prm) {
    F f;
    GRID_STRIDE(i, it.numel) {
        int64_t off[2];
        iter_offsets(it, i, off);
        o[off[0]] = f(in[off[1]], prm.p);
    }
}

__device__ inline int64_t ipow(int64_t a, int64_t b) {
    if (b < 0) return a == 1 ? 1 : a == -1 ? (b & 1 ? -1 : 1) : 0;
    int64_t r = 1;
    while (b) { if (b & 1) r *= a; a *= a; b >>= 1; }
    return r;
}
template <class R> __device__ inline R clampv(R x, R lo, R hi) { return x < lo ? lo : x > hi ? hi : x; }

/* functors: operator() per supported input type; Out<T>::type is the output type */
#define D __device__ inline
struct Neg { template <class T> D T operator()(T x, const double *) const { return -x; } };
struct Abs {
    D float operator()(float x, const double *) const { return fabsf(x); }
    D double operator()(double x, const double *) const { return fabs(x); }
    template <class R> D R operator()(cx<R> x, const double *) const { return c_abs(x); }
    D int64_t operator()(int64_t x, const double *) const { return x < 0 ? -x : x; }
    D bool operator()(bool x, const double *) const { return x; }
};
struct Sign {
    template <class T> D T operator()(T x, const double *) const { return (T)((x > 0) - (x < 0)); }
    template <class R> D cx<R> operator()(cx<R> x, const double *) const {
        R a = c_abs(x);
        return a == 0 ? mk((R)0, (R)0) : mk(x.re / a, x.im / a);
    }
};
struct Square { template <class T> D T operator()(T x, const double *) const { return x * x; } };
struct Recip {
    template <class T> D T operator()(T x, const double *) const { return (T)1 / x; }
    template <class R> D cx<R> operator()(cx<R> x, const double *) const { return mk((R)1, (R)0) / x; }
};
#define REAL_CX(NAME, RE, CXE) \
    struct NAME { \
        template <class T> D T operator()(T x, const double *) const { return RE; } \
        template <class R> D cx<R> operator()(cx<R> x, const double *) const { return CXE; } \
    };
REAL_CX(Exp, exp(x), c_exp(x))
REAL_CX(Log, log(x), c_log(x))
REAL_CX(Log1p, log1p(x), c_log(mk((R)1 + x.re, x.im)))
REAL_CX(Expm1, expm1(x), c_exp(x) - mk((R)1, (R)0))
REAL_CX(Sqrt, sqrt(x), c_sqrt(x))
REAL_CX(Rsqrt, (T)1 / sqrt(x), mk((R)1, (R)0) / c_sqrt(x))
REAL_CX(Sin, sin(x), c_sin(x))
REAL_CX(Cos, cos(x), c_cos(x))
REAL_CX(Tanh, tanh(x), c_tanh(x))
REAL_CX(Sigmoid, (T)1 / ((T)1 + exp(-x)), mk((R)1, (R)0) / (mk((R)1, (R)0) + c_exp(-x)))
struct Softplus {
    /* y = x b; y > t ? x : (max(y, 0) + log1p(exp(-|y|))) / b, the log term in f64 (as the CPU) */
    D double operator()(double x, const double *p) const {
        double y = x * p[0], ay = fabs(y), m = y > 0 ? y : 0.0;
        double r = (m + log1p(exp(-ay))) / p[0];
        return y > p[1] ? x : r;
    }
    D float operator()(float x, const double *p) const {
        float b = (float)p[0], y = x * b;
        double yd = y, ay = fabs(yd), m = yd > 0 ? yd : 0.0;
        float r = (float)(m + log1p(exp(-ay))) / b;
        return y > (float)p[1] ? x : r;
    }
};
struct Erf { template <class T> D T operator()(T x, const double *) const { return erf(x); } };
struct Clamp {
    D float operator()(float x, const double *p) const { return clampv(x, (float)p[0], (float)p[1]); }
    D double operator()(double x, const double *p) const { return clampv(x, p[0], p[1]); }
    D int64_t operator()(int64_t x, const double *p) const {
        return x < p[0] ? (int64_t)ceil(p[0]) : x > p[1] ? (int64_t)floor(p[1]) : x;
    }
};
struct Conj { template <class R> D cx<R> operator()(cx<R> x, const double *) const { return mk(x.re, -x.im); } };
struct Angle {
    D float operator()(float x, const double *) const { return x < 0 ? 3.14159265358979323846f : x == x ? 0.0f : x; }
    D double operator()(double x, const double *) const { return x < 0 ? 3.14159265358979323846 : x == x ? 0.0 : x; }
    template <class R> D R operator()(cx<R> x, const double *) const { return c_arg(x); }
};
struct AddS {
    template <class T> D T operator()(T x, const double *p) const { return x + (T)p[0]; }
    template <class R> D cx<R> operator()(cx<R> x, const double *p) const { return x + mk((R)p[0], (R)p[1]); }
};
struct MulS {
    template <class T> D T operator()(T x, const double *p) const { return x * (T)p[0]; }
    template <class R> D cx<R> operator()(cx<R> x, const double *p) const { return x * mk((R)p[0], (R)p[1]); }
};
struct RsubS {
    template <class T> D T operator()(T x, const double *p) const { return (T)p[0] - x; }
    template <class R> D cx<R> operator()(cx<R> x, const double *p) const { return mk((R)p[0], (R)p[1]) - x; }
};
struct PowS {
    D float operator()(float x, const double *p) const { return p[0] == 2 ? x * x : powf(x, (float)p[0]); }
    D double operator()(double x, const double *p) const { return p[0] == 2 ? x * x : pow(x, p[0]); }
    template <class R> D cx<R> operator()(cx<R> x, const double *p) const {
        R e = (R)p[0];
        return e == 2 ? x * x : e == 1 ? x : c_pow(x, mk(e, (R)0));
    }
    D int64_t operator()(int64_t x, const double *p) const { return ipow(x, (int64_t)p[0]); }
};
struct Not { D bool operator()(bool x, const double *) const { return !x; } };
struct Relu { template <class T> D T operator()(T x, const double *) const { return x < 0 ? (T)0 : x; } };
/* rounding: i64 passes unchanged; nearbyint rounds half to even (torch.round) */
#define ROUNDING(NAME, FN) \
    struct NAME { \
        template <class T> D T operator()(T x, const double *) const { return FN(x); } \
        D int64_t operator()(int64_t x, const double *) const { return x; } \
    };
ROUNDING(Floor, floor)
ROUNDING(Ceil, ceil)
ROUNDING(Round, nearbyint)
/* complex inverse trig and hyperbolics through libcu++ (as glibc's, accurate off the axes too) */
template <class R> D cuda::std::complex<R> to_std(cx<R> z) { return cuda::std::complex<R>(z.re, z.im); }
template <class R> D cx<R> from_std(cuda::std::complex<R> z) { return mk(z.real(), z.imag()); }
REAL_CX(Asin, asin(x), from_std(cuda::std::asin(to_std(x))))
REAL_CX(Acos, acos(x), from_std(cuda::std::acos(to_std(x))))
REAL_CX(Atan, atan(x), from_std(cuda::std::atan(to_std(x))))
REAL_CX(Sinh, sinh(x), from_std(cuda::std::sinh(to_std(x))))
REAL_CX(Cosh, cosh(x), from_std(cuda::std::cosh(to_std(x))))
/* complex: log(z) / log(base), as the CPU */
template <class R> D cx<R> c_log_base(cx<R> z, R ln_base) { cx<R> l = c_log(z); return mk(l.re / ln_base, l.im / ln_base); }
REAL_CX(Log2, log2(x), c_log_base(x, (R)0.693147180559945309417))
REAL_CX(Log10, log10(x), c_log_base(x, (R)2.30258509299404568402))
/* predicates -> bool: complex componentwise; integers are never NaN or infinite */
#define PRED(NAME, RE, CXE, INT) \
    struct NAME { \
        template <class T> D bool operator()(T x, const double *) const { return RE; } \
        template <class R> D bool operator()(cx<R> x, const double *) const { return CXE; } \
        D bool operator()(int64_t, const double *) const { return INT; } \
        D bool operator()(bool, const double *) const { return INT; } \
    };
PRED(IsNan, isnan(x), isnan(x.re) || isnan(x.im), false)
PRED(IsInf, isinf(x), isinf(x.re) || isinf(x.im), false)
PRED(IsFinite, isfinite(x), isfinite(x.re) && isfinite(x.im), true)
#undef D

template <class F, class TO, class TI> static int launch(const Iter<2> &it, const ag_kview *out, const ag_kview *in, P prm) {
    un_kernel<TO, TI, F><<<grid_for(it.numel), AG_CUDA_THREADS>>>(it, (TO *)out->data, (const TI *)in->data, prm);
    AG_CUDA_LAUNCHED("unary");
    return 0;
}

/* dtype coverage flags (as the CPU table) */
enum { F_ = 1, C_ = 2, I_ = 4, B_ = 8, CR = 16 /* complex in, real out */ };

template <int COV, class F> static int run(const Iter<2> &it, const ag_kview *out, const ag_kview *in, P prm) {
    switch (in->dtype) {
    case AG_F32: if constexpr ((COV & F_) != 0) return launch<F, float, float>(it, out, in, prm); break;
    case AG_F64: if constexpr ((COV & F_) != 0) return launch<F, double, double>(it, out, in, prm); break;
    case AG_C64:
        if constexpr ((COV & CR) != 0) return launch<F, float, c64>(it, out, in, prm);
        if constexpr ((COV & C_) != 0) return launch<F, c64, c64>(it, out, in, prm);
        break;
    case AG_C128:
        if constexpr ((COV & CR) != 0) return launch<F, double, c128>(it, out, in, prm);
        if constexpr ((COV & C_) != 0) return launch<F, c128, c128>(it, out, in, prm);
        break;
    case AG_I64: if constexpr ((COV & I_) != 0) return launch<F, int64_t, int64_t>(it, out, in, prm); break;
    case AG_BOOL: if constexpr ((COV & B_) != 0) return launch<F, bool, bool>(it, out, in, prm); break;
    default: break;
    }
    return 1; /* not covered */
}

/* real-only ops instantiated for f32/f64 only (erf of complex would not compile) */
template <class F> static int run_real(const Iter<2> &it, const ag_kview *out, const ag_kview *in, P prm) {
    if (in->dtype == AG_F32) return launch<F, float, float>(it, out, in, prm);
    if (in->dtype == AG_F64) return launch<F, double, double>(it, out, in, prm);
    return 1;
}

/* predicates: every dtype in, bool out */
template <class F> static int run_pred(const Iter<2> &it, const ag_kview *out, const ag_kview *in, P prm) {
    switch (in->dtype) {
    case AG_F32: return launch<F, bool, float>(it, out, in, prm);
    case AG_F64: return launch<F, bool, double>(it, out, in, prm);
    case AG_C64: return launch<F, bool, c64>(it, out, in, prm);
    case AG_C128: return launch<F, bool, c128>(it, out, in, prm);
    case AG_I64: return launch<F, bool, int64_t>(it, out, in, prm);
    case AG_BOOL: return launch<F, bool, bool>(it, out, in, prm);
    default: return 1;
    }
}

static const char *un_names[] = {
#define X(n) #n,
    AG_UNARY_OPS(X)
#undef X
};

extern "C" int ag_cuda_unary(ag_unary_op op, const ag_kview *out, const ag_kview *in, const double *params) {
    const ag_kview *vs[2] = {out, in};
    Iter<2> it = iter_init<2>(vs);
    P prm = {{params ? params[0] : 0, params ? params[1] : 0}};
    int rc = 1;
    if (it.numel <= 0) {
        rc = 0;
    } else {
        switch (op) {
        case AG_UN_NEG: rc = run<F_ | C_ | I_, Neg>(it, out, in, prm); break;
        case AG_UN_ABS:
            if (in->dtype == AG_C64) rc = launch<Abs, float, c64>(it, out, in, prm);
            else if (in->dtype == AG_C128) rc = launch<Abs, double, c128>(it, out, in, prm);
            else if (in->dtype == AG_F32) rc = launch<Abs, float, float>(it, out, in, prm);
            else if (in->dtype == AG_F64) rc = launch<Abs, double, double>(it, out, in, prm);
            else if (in->dtype == AG_I64) rc = launch<Abs, int64_t, int64_t>(it, out, in, prm);
            else if (in->dtype == AG_BOOL) rc = launch<Abs, bool, bool>(it, out, in, prm);
            break;
        case AG_UN_SIGN: rc = run<F_ | C_ | I_, Sign>(it, out, in, prm); break;
        case AG_UN_SQUARE: rc = run<F_ | C_ | I_, Square>(it, out, in, prm); break;
        case AG_UN_RECIPROCAL: rc = run<F_ | C_, Recip>(it, out, in, prm); break;
        case AG_UN_EXP: rc = run<F_ | C_, Exp>(it, out, in, prm); break;
        case AG_UN_LOG: rc = run<F_ | C_, Log>(it, out, in, prm); break;
        case AG_UN_LOG1P: rc = run<F_ | C_, Log1p>(it, out, in, prm); break;
        case AG_UN_EXPM1: rc = run<F_ | C_, Expm1>(it, out, in, prm); break;
        case AG_UN_SQRT: rc = run<F_ | C_, Sqrt>(it, out, in, prm); break;
        case AG_UN_RSQRT: rc = run<F_ | C_, Rsqrt>(it, out, in, prm); break;
        case AG_UN_SIN: rc = run<F_ | C_, Sin>(it, out, in, prm); break;
        case AG_UN_COS: rc = run<F_ | C_, Cos>(it, out, in, prm); break;
        case AG_UN_TANH: rc = run<F_ | C_, Tanh>(it, out, in, prm); break;
        case AG_UN_SIGMOID: rc = run<F_ | C_, Sigmoid>(it, out, in, prm); break;
        case AG_UN_SOFTPLUS: rc = run_real<Softplus>(it, out, in, prm); break;
        case AG_UN_ERF: rc = run_real<Erf>(it, out, in, prm); break;
        case AG_UN_CLAMP:
            rc = in->dtype == AG_I64 ? launch<Clamp, int64_t, int64_t>(it, out, in, prm) : run_real<Clamp>(it, out, in, prm);
            break;
        case AG_UN_CONJ:
            if (in->dtype == AG_C64) rc = launch<Conj, c64, c64>(it, out, in, prm);
            else if (in->dtype == AG_C128) rc = launch<Conj, c128, c128>(it, out, in, prm);
            break;
        case AG_UN_ANGLE: rc = run<F_ | CR, Angle>(it, out, in, prm); break;
        case AG_UN_ADD_S: rc = run<F_ | C_ | I_, AddS>(it, out, in, prm); break;
        case AG_UN_MUL_S: rc = run<F_ | C_ | I_, MulS>(it, out, in, prm); break;
        case AG_UN_POW_S: rc = run<F_ | C_ | I_, PowS>(it, out, in, prm); break;
        case AG_UN_RSUB_S: rc = run<F_ | C_ | I_, RsubS>(it, out, in, prm); break;
        case AG_UN_NOT: if (in->dtype == AG_BOOL) rc = launch<Not, bool, bool>(it, out, in, prm); break;
        case AG_UN_RELU: rc = run_real<Relu>(it, out, in, prm); break;
        case AG_UN_FLOOR: rc = run<F_ | I_, Floor>(it, out, in, prm); break;
        case AG_UN_CEIL: rc = run<F_ | I_, Ceil>(it, out, in, prm); break;
        case AG_UN_ROUND: rc = run<F_ | I_, Round>(it, out, in, prm); break;
        case AG_UN_ASIN: rc = run<F_ | C_, Asin>(it, out, in, prm); break;
        case AG_UN_ACOS: rc = run<F_ | C_, Acos>(it, out, in, prm); break;
        case AG_UN_ATAN: rc = run<F_ | C_, Atan>(it, out, in, prm); break;
        case AG_UN_SINH: rc = run<F_ | C_, Sinh>(it, out, in, prm); break;
        case AG_UN_COSH: rc = run<F_ | C_, Cosh>(it, out, in, prm); break;
        case AG_UN_LOG2: rc = run<F_ | C_, Log2>(it, out, in, prm); break;
        case AG_UN_LOG10: rc = run<F_ | C_, Log10>(it, out, in, prm); break;
        case AG_UN_ISNAN: rc = run_pred<IsNan>(it, out, in, prm); break;
        case AG_UN_ISINF: rc = run_pred<IsInf>(it, out, in, prm); break;
        case AG_UN_ISFINITE: rc = run_pred<IsFinite>(it, out, in, prm); break;
        default:
            return ag_set_error(AG_ERR_NOTIMPL, "cuda unary %s: not implemented for cuda",
                                (unsigned)op < AG_UN_COUNT ? un_names[op] : "?");
        }
    }
    if (rc > 0)
        return ag_set_error(AG_ERR_DTYPE, "cuda unary %s: dtype %s not supported",
                            (unsigned)op < AG_UN_COUNT ? un_names[op] : "?", ag_dtype_name(in->dtype));
    return rc;
}
