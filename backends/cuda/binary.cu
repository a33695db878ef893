/* backends/cuda/binary.cu — binary maps (broadcast already applied through stride 0) and
 * where(). Same dtype coverage and element formulas as backends/cpu/binary.c. */
#include <type_traits>

#include "backends/cuda/cmath.cuh"

template <class TO, class TI, class F> __global__ void bin_kernel(Iter<3> it, TO *o, const TI *a, const TI *b) {
    F f;
    GRID_STRIDE(i, it.numel) {
        int64_t off[3];
        iter_offsets(it, i, off);
        o[off[0]] = f(a[off[1]], b[off[2]]);
    }
}

#define D __device__ inline
__device__ inline int64_t ipow(int64_t a, int64_t b) {
    if (b < 0) return a == 1 ? 1 : a == -1 ? (b & 1 ? -1 : 1) : 0;
    int64_t r = 1;
    while (b) { if (b & 1) r *= a; a *= a; b >>= 1; }
    return r;
}
struct Add { template <class T> D T operator()(T a, T b) const { return a + b; } D bool operator()(bool a, bool b) const { return a || b; } };
struct Sub { template <class T> D T operator()(T a, T b) const { return a - b; } D bool operator()(bool a, bool b) const { return a != b; } };
struct Mul { template <class T> D T operator()(T a, T b) const { return a * b; } D bool operator()(bool a, bool b) const { return a && b; } };
struct Div {
    template <class T> D T operator()(T a, T b) const { return a / b; }
    D int64_t operator()(int64_t a, int64_t b) const { return b ? a / b : 0; }
    D bool operator()(bool a, bool b) const { return a && b; }
};
struct Pow {
    D float operator()(float a, float b) const { return powf(a, b); }
    D double operator()(double a, double b) const { return pow(a, b); }
    template <class R> D cx<R> operator()(cx<R> a, cx<R> b) const { return c_pow(a, b); }
    D int64_t operator()(int64_t a, int64_t b) const { return ipow(a, b); }
};
/* NaN propagates, as torch.maximum */
struct Max { template <class T> D T operator()(T a, T b) const { return a > b || a != a ? a : b; } };
struct Min { template <class T> D T operator()(T a, T b) const { return a < b || a != a ? a : b; } };
struct Eq { template <class T> D bool operator()(T a, T b) const { return a == b; } };
struct Ne { template <class T> D bool operator()(T a, T b) const { return a != b; } };
struct Lt { template <class T> D bool operator()(T a, T b) const { return a < b; } };
struct Le { template <class T> D bool operator()(T a, T b) const { return a <= b; } };
struct Gt { template <class T> D bool operator()(T a, T b) const { return a > b; } };
struct Ge { template <class T> D bool operator()(T a, T b) const { return a >= b; } };
struct Complex { template <class R> D cx<R> operator()(R a, R b) const { return mk(a, b); } };
struct Polar {
    D c64 operator()(float a, float b) const { return mk(a * cosf(b), a * sinf(b)); }
    D c128 operator()(double a, double b) const { return mk(a * cos(b), a * sin(b)); }
};
struct And { D bool operator()(bool a, bool b) const { return a && b; } };
struct Or { D bool operator()(bool a, bool b) const { return a || b; } };
struct ReluBwd { template <class T> D T operator()(T a, T b) const { return b > 0 ? a : (T)0; } };
struct Atan2 { template <class T> D T operator()(T a, T b) const { return atan2(a, b); } };
#undef D

template <class F, class TO, class TI> static int launch(const Iter<3> &it, const ag_kview *o, const ag_kview *a,
                                                        const ag_kview *b) {
    bin_kernel<TO, TI, F><<<grid_for(it.numel), AG_CUDA_THREADS>>>(it, (TO *)o->data, (const TI *)a->data,
                                                                    (const TI *)b->data);
    AG_CUDA_LAUNCHED("binary");
    return 0;
}

enum { R_ = 1, C_ = 2, I_ = 4, B_ = 8, CMP = 16 /* bool out */ };
template <int COV, class F> static int run(const Iter<3> &it, const ag_kview *o, const ag_kview *a, const ag_kview *b) {
    constexpr bool cmp = (COV & CMP) != 0;
    switch (a->dtype) {
    case AG_F32: if constexpr ((COV & R_) != 0) return launch<F, std::conditional_t<cmp, bool, float>, float>(it, o, a, b); break;
    case AG_F64: if constexpr ((COV & R_) != 0) return launch<F, std::conditional_t<cmp, bool, double>, double>(it, o, a, b); break;
    case AG_C64: if constexpr ((COV & C_) != 0) return launch<F, std::conditional_t<cmp, bool, c64>, c64>(it, o, a, b); break;
    case AG_C128: if constexpr ((COV & C_) != 0) return launch<F, std::conditional_t<cmp, bool, c128>, c128>(it, o, a, b); break;
    case AG_I64: if constexpr ((COV & I_) != 0) return launch<F, std::conditional_t<cmp, bool, int64_t>, int64_t>(it, o, a, b); break;
    case AG_BOOL: if constexpr ((COV & B_) != 0) return launch<F, bool, bool>(it, o, a, b); break;
    default: break;
    }
    return 1;
}

static const char *bin_names[] = {
#define X(n) #n,
    AG_BINARY_OPS(X)
#undef X
};

extern "C" int ag_cuda_binary(ag_binary_op op, const ag_kview *out, const ag_kview *a, const ag_kview *b) {
    const ag_kview *vs[3] = {out, a, b};
    Iter<3> it = iter_init<3>(vs);
    if (it.numel <= 0) return 0;
    int rc = 1;
    const int ALL = R_ | C_ | I_ | B_, ORD = R_ | I_ | B_;
    switch (op) {
    case AG_BIN_ADD: rc = run<ALL, Add>(it, out, a, b); break;
    case AG_BIN_SUB: rc = run<ALL, Sub>(it, out, a, b); break;
    case AG_BIN_MUL: rc = run<ALL, Mul>(it, out, a, b); break;
    case AG_BIN_DIV: rc = run<ALL, Div>(it, out, a, b); break;
    case AG_BIN_POW: rc = run<R_ | C_ | I_, Pow>(it, out, a, b); break;
    case AG_BIN_MAX: rc = run<ORD, Max>(it, out, a, b); break;
    case AG_BIN_MIN: rc = run<ORD, Min>(it, out, a, b); break;
    case AG_BIN_EQ: rc = run<ALL | CMP, Eq>(it, out, a, b); break;
    case AG_BIN_NE: rc = run<ALL | CMP, Ne>(it, out, a, b); break;
    case AG_BIN_LT: rc = run<ORD | CMP, Lt>(it, out, a, b); break;
    case AG_BIN_LE: rc = run<ORD | CMP, Le>(it, out, a, b); break;
    case AG_BIN_GT: rc = run<ORD | CMP, Gt>(it, out, a, b); break;
    case AG_BIN_GE: rc = run<ORD | CMP, Ge>(it, out, a, b); break;
    case AG_BIN_COMPLEX:
        if (a->dtype == AG_F32) rc = launch<Complex, c64, float>(it, out, a, b);
        else if (a->dtype == AG_F64) rc = launch<Complex, c128, double>(it, out, a, b);
        break;
    case AG_BIN_POLAR:
        if (a->dtype == AG_F32) rc = launch<Polar, c64, float>(it, out, a, b);
        else if (a->dtype == AG_F64) rc = launch<Polar, c128, double>(it, out, a, b);
        break;
    case AG_BIN_AND: if (a->dtype == AG_BOOL) rc = launch<And, bool, bool>(it, out, a, b); break;
    case AG_BIN_OR: if (a->dtype == AG_BOOL) rc = launch<Or, bool, bool>(it, out, a, b); break;
    case AG_BIN_RELU_BWD: rc = run<R_, ReluBwd>(it, out, a, b); break;
    case AG_BIN_ATAN2: rc = run<R_, Atan2>(it, out, a, b); break;
    default:
        return ag_set_error(AG_ERR_NOTIMPL, "cuda binary %s: not implemented for cuda",
                            (unsigned)op < AG_BIN_COUNT ? bin_names[op] : "?");
    }
    if (rc > 0)
        return ag_set_error(AG_ERR_DTYPE, "cuda binary %s: dtype %s not supported",
                            (unsigned)op < AG_BIN_COUNT ? bin_names[op] : "?", ag_dtype_name(a->dtype));
    return rc;
}

template <class T> __global__ void where_kernel(Iter<4> it, T *o, const bool *c, const T *a, const T *b) {
    GRID_STRIDE(i, it.numel) {
        int64_t off[4];
        iter_offsets(it, i, off);
        o[off[0]] = c[off[1]] ? a[off[2]] : b[off[3]];
    }
}
template <class T> static int launch_where(const Iter<4> &it, const ag_kview *o, const ag_kview *c, const ag_kview *a,
                                           const ag_kview *b) {
    where_kernel<T><<<grid_for(it.numel), AG_CUDA_THREADS>>>(it, (T *)o->data, (const bool *)c->data,
                                                              (const T *)a->data, (const T *)b->data);
    AG_CUDA_LAUNCHED("where");
    return 0;
}

extern "C" int ag_cuda_where(const ag_kview *out, const ag_kview *cond, const ag_kview *a, const ag_kview *b) {
    const ag_kview *vs[4] = {out, cond, a, b};
    Iter<4> it = iter_init<4>(vs);
    if (it.numel <= 0) return 0;
    switch (out->dtype) {
    case AG_F32: return launch_where<float>(it, out, cond, a, b);
    case AG_F64: return launch_where<double>(it, out, cond, a, b);
    case AG_C64: return launch_where<c64>(it, out, cond, a, b);
    case AG_C128: return launch_where<c128>(it, out, cond, a, b);
    case AG_I64: return launch_where<int64_t>(it, out, cond, a, b);
    case AG_BOOL: return launch_where<bool>(it, out, cond, a, b);
    default: return ag_set_error(AG_ERR_DTYPE, "cuda where: bad dtype %d", (int)out->dtype);
    }
}
