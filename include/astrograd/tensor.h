/* astrograd/tensor.h — tensors, dtypes, devices, errors, memory and the op front-ends.
 *
 * Conventions (read once, they hold everywhere):
 *  - Every function returning ag_tensor* returns a NEW reference, or NULL on error.
 *  - A NULL input makes an op return NULL without recording a new error, so a whole
 *    expression can be checked once: the first error in a thread sticks (ag_last_error)
 *    until ag_clear_error().
 *  - Inside ag_scope_begin()/ag_scope_end() every tensor an op returns belongs to the
 *    scope and is released at its end (ag_keep moves one outward). Outside any scope the
 *    caller owns the reference and releases it with ag_release. Releasing a scoped
 *    tensor early is allowed.
 *  - Shapes are outermost-first (as PyTorch); strides are in elements.
 *  - Thread safety: errors, scopes and grad mode are per thread; a tensor must not be
 *    used by two threads at once without the user's own locking.
 */
#ifndef ASTROGRAD_TENSOR_H
#define ASTROGRAD_TENSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#define AG_API
#elif defined(AG_BUILDING)
#define AG_API __attribute__((visibility("default")))
#else
#define AG_API
#endif

#define AG_MAX_DIMS 8

/* AG_SHAPE(3, 4) expands to the (pointer, count) pair that shape arguments take. */
#define AG_SHAPE(...) ((const int64_t[]){__VA_ARGS__}), \
    ((int)(sizeof((const int64_t[]){__VA_ARGS__}) / sizeof(int64_t)))
/* AG_DIMS(0, 2) is the (pointer, count) pair that reductions take; AG_ALL_DIMS reduces all. */
#define AG_DIMS(...) ((const int[]){__VA_ARGS__}), \
    ((int)(sizeof((const int[]){__VA_ARGS__}) / sizeof(int)))
#define AG_ALL_DIMS NULL, 0

typedef enum ag_dtype {
    AG_F32, AG_F64, AG_C64, AG_C128, AG_I64, AG_BOOL, AG_NUM_DTYPES
} ag_dtype;

typedef enum ag_device_kind { AG_DEV_CPU = 0, AG_DEV_CUDA = 1 } ag_device_kind;
typedef struct ag_device { ag_device_kind kind; int index; } ag_device;
#define AG_CPU ((ag_device){AG_DEV_CPU, 0})

typedef enum ag_status {
    AG_OK = 0,
    AG_ERR_INVALID = -1,    /* bad argument: NULL where not allowed, bad enum, bad dim */
    AG_ERR_SHAPE = -2,      /* shapes do not fit */
    AG_ERR_DTYPE = -3,      /* dtype not supported by the op */
    AG_ERR_DEVICE = -4,     /* mixed devices or device not available */
    AG_ERR_NOMEM = -5,      /* allocation failed */
    AG_ERR_INDEX = -6,      /* index out of range */
    AG_ERR_NOTIMPL = -7,    /* kernel missing for this backend/dtype */
    AG_ERR_AUTOGRAD = -8,   /* graph misuse: freed graph, in-place edit of a saved tensor */
    AG_ERR_IO = -9,         /* file could not be read or written */
    AG_ERR_FORMAT = -10,    /* file malformed */
    AG_ERR_NUMERIC = -11,   /* NaN/Inf caught by anomaly mode, singular matrix */
    AG_ERR_BACKEND = -12    /* failure reported by BLAS/FFTW/CUDA */
} ag_status;

typedef struct ag_tensor ag_tensor;

/* ---- errors and logging -------------------------------------------------------- */
AG_API const char *ag_last_error(void);       /* "" when none */
AG_API ag_status ag_error_code(void);
AG_API bool ag_failed(void);
AG_API void ag_clear_error(void);
AG_API const char *ag_status_str(ag_status s);
typedef void (*ag_log_fn)(int level, const char *msg, void *user_data);
AG_API void ag_log_set(ag_log_fn fn, void *user_data); /* errors are also sent here (level 3) */

/* ---- library settings -------------------------------------------------------------- */
AG_API const char *ag_version(void);
AG_API void ag_set_num_threads(int n); /* OpenMP, OpenBLAS and FFTW threads; <=0 = all cores */
AG_API int ag_get_num_threads(void);
AG_API void ag_set_default_dtype(ag_dtype dt); /* f32 or f64; f64 by default, as MPoL */
AG_API ag_dtype ag_get_default_dtype(void);

/* ---- dtypes ------------------------------------------------------------------------- */
AG_API const char *ag_dtype_name(ag_dtype dt);  /* "f32", "c128", ... */
AG_API size_t ag_dtype_size(ag_dtype dt);
AG_API bool ag_dtype_is_complex(ag_dtype dt);
AG_API bool ag_dtype_is_float(ag_dtype dt);     /* f32, f64, c64, c128 */
AG_API ag_dtype ag_dtype_to_real(ag_dtype dt);  /* c64 -> f32, c128 -> f64, others unchanged */
AG_API ag_dtype ag_dtype_to_complex(ag_dtype dt); /* f32 -> c64, f64 -> c128 */
AG_API ag_dtype ag_promote_types(ag_dtype a, ag_dtype b); /* torch.promote_types */

/* ---- memory, scopes, introspection ------------------------------------------------ */
AG_API ag_tensor *ag_retain(ag_tensor *t);
AG_API void ag_release(ag_tensor *t);           /* NULL is a no-op */
AG_API void ag_scope_begin(void);
AG_API void ag_scope_end(void);
AG_API ag_tensor *ag_keep(ag_tensor *t);        /* move out of the current scope; returns t */
AG_API int ag_scope_depth(void);
AG_API int64_t ag_live_tensors(void);           /* tensor structs alive, all threads */
AG_API int64_t ag_live_bytes(ag_device dev);    /* storage bytes in use on a device */

AG_API int ag_ndim(const ag_tensor *t);
AG_API const int64_t *ag_shape(const ag_tensor *t);
AG_API int64_t ag_size(const ag_tensor *t, int dim); /* negative dims count from the end */
AG_API const int64_t *ag_strides(const ag_tensor *t);
AG_API int64_t ag_offset(const ag_tensor *t);
AG_API int64_t ag_numel(const ag_tensor *t);
AG_API ag_dtype ag_dtype_of(const ag_tensor *t);
AG_API ag_device ag_device_of(const ag_tensor *t);
AG_API bool ag_is_contiguous(const ag_tensor *t);
AG_API bool ag_shares_storage(const ag_tensor *a, const ag_tensor *b);
AG_API void *ag_data(ag_tensor *t);             /* CPU pointer to element 0 (offset applied) */
AG_API double ag_item(const ag_tensor *t);      /* one-element tensor -> double (real part) */
AG_API int ag_item_complex(const ag_tensor *t, double *re, double *im);
/* Copy all elements, in logical (row-major) order, converted to `dt`, into out[numel]. */
AG_API int ag_copy_to_buffer(const ag_tensor *t, void *out, ag_dtype dt);

/* ---- autograd flags (the engine is in astrograd/autograd.h) ------------------------ */
AG_API ag_tensor *ag_set_requires_grad(ag_tensor *t, bool on); /* leaves only; returns t */
AG_API bool ag_requires_grad(const ag_tensor *t);
AG_API bool ag_is_leaf(const ag_tensor *t);
AG_API ag_tensor *ag_grad_of(const ag_tensor *t); /* borrowed .grad of a leaf, or NULL */

/* ---- creation ------------------------------------------------------------------------ */
AG_API ag_tensor *ag_empty(const int64_t *shape, int ndim, ag_dtype dt);
AG_API ag_tensor *ag_zeros(const int64_t *shape, int ndim, ag_dtype dt);
AG_API ag_tensor *ag_ones(const int64_t *shape, int ndim, ag_dtype dt);
AG_API ag_tensor *ag_full(const int64_t *shape, int ndim, double value, ag_dtype dt);
AG_API ag_tensor *ag_full_complex(const int64_t *shape, int ndim, double re, double im, ag_dtype dt);
AG_API ag_tensor *ag_scalar(double value, ag_dtype dt);          /* 0-d tensor */
AG_API ag_tensor *ag_empty_like(const ag_tensor *t);
AG_API ag_tensor *ag_zeros_like(const ag_tensor *t);
AG_API ag_tensor *ag_ones_like(const ag_tensor *t);
AG_API ag_tensor *ag_full_like(const ag_tensor *t, double value);
/* [start, end) with step, as torch.arange (length ceil((end-start)/step)). */
AG_API ag_tensor *ag_arange(double start, double end, double step, ag_dtype dt);
AG_API ag_tensor *ag_linspace(double start, double end, int64_t steps, ag_dtype dt);
AG_API ag_tensor *ag_eye(int64_t n, int64_t m, ag_dtype dt);
/* Copies numel elements of `dt` from a C array laid out row-major. */
AG_API ag_tensor *ag_from_data(const void *data, const int64_t *shape, int ndim, ag_dtype dt);

/* Random numbers: Philox4x32-10 (Salmon et al. 2011), key = seed, counter = offset.
 * Each call draws numel values and advances the generator's offset, so a sequence depends
 * only on the seed and the calls made, not on threads or device launch shape.
 * rand: uniform [0,1) from 24 (f32) or 53 (f64) random bits; randn: Box-Muller on pairs;
 * randint: uniform integers in [low, high). Complex dtypes draw re and im independently,
 * randn of complex has variance 1 in total (1/2 each part), as PyTorch. */
AG_API void ag_manual_seed(uint64_t seed);
AG_API uint64_t ag_rng_offset(void);
AG_API ag_tensor *ag_rand(const int64_t *shape, int ndim, ag_dtype dt);
AG_API ag_tensor *ag_randn(const int64_t *shape, int ndim, ag_dtype dt);
AG_API ag_tensor *ag_randint(int64_t low, int64_t high, const int64_t *shape, int ndim);

/* ---- copies, casts, devices ------------------------------------------------------ */
AG_API ag_tensor *ag_clone(const ag_tensor *t);          /* contiguous copy, differentiable */
AG_API ag_tensor *ag_contiguous(ag_tensor *t);           /* t itself (new ref) when contiguous */
AG_API ag_tensor *ag_to_dtype(ag_tensor *t, ag_dtype dt); /* cast (differentiable for floats) */
AG_API ag_tensor *ag_to(ag_tensor *t, ag_device dev);
AG_API int ag_copy_(ag_tensor *dst, const ag_tensor *src); /* in place, src broadcast to dst */
AG_API int ag_fill_(ag_tensor *t, double value);
AG_API int ag_zero_(ag_tensor *t);

/* ---- views (share storage; differentiable) -------------------------------------- */
AG_API ag_tensor *ag_view(ag_tensor *t, const int64_t *shape, int ndim);    /* error if not viewable */
AG_API ag_tensor *ag_reshape(ag_tensor *t, const int64_t *shape, int ndim); /* view or copy; -1 allowed */
AG_API ag_tensor *ag_flatten(ag_tensor *t);
AG_API ag_tensor *ag_permute(ag_tensor *t, const int *dims, int ndim);
AG_API ag_tensor *ag_transpose(ag_tensor *t, int d0, int d1);
AG_API ag_tensor *ag_squeeze(ag_tensor *t, int dim);   /* size-1 dim; AG_SQUEEZE_ALL for all */
#define AG_SQUEEZE_ALL (-1000)
AG_API ag_tensor *ag_unsqueeze(ag_tensor *t, int dim);
AG_API ag_tensor *ag_slice(ag_tensor *t, int dim, int64_t start, int64_t end, int64_t step); /* python slicing, clamped */
AG_API ag_tensor *ag_narrow(ag_tensor *t, int dim, int64_t start, int64_t length);
AG_API ag_tensor *ag_select(ag_tensor *t, int dim, int64_t index); /* removes dim */
AG_API ag_tensor *ag_expand(ag_tensor *t, const int64_t *shape, int ndim); /* -1 keeps a size */
AG_API ag_tensor *ag_real(ag_tensor *t); /* view for complex; t itself for real */
AG_API ag_tensor *ag_imag(ag_tensor *t); /* view; error for real */

/* ---- elementwise (NumPy broadcasting, PyTorch type promotion) ------------------- */
AG_API ag_tensor *ag_add(ag_tensor *a, ag_tensor *b);
AG_API ag_tensor *ag_sub(ag_tensor *a, ag_tensor *b);
AG_API ag_tensor *ag_mul(ag_tensor *a, ag_tensor *b);
AG_API ag_tensor *ag_div(ag_tensor *a, ag_tensor *b);   /* true division: ints -> default float */
AG_API ag_tensor *ag_pow(ag_tensor *a, ag_tensor *b);
AG_API ag_tensor *ag_maximum(ag_tensor *a, ag_tensor *b);
AG_API ag_tensor *ag_minimum(ag_tensor *a, ag_tensor *b);
/* tensor-scalar forms keep the tensor's dtype (ints become the default float for non-integral s) */
AG_API ag_tensor *ag_add_s(ag_tensor *a, double s);
AG_API ag_tensor *ag_mul_s(ag_tensor *a, double s);
AG_API ag_tensor *ag_pow_s(ag_tensor *a, double p);
AG_API ag_tensor *ag_rsub_s(double s, ag_tensor *a);   /* s - a */

AG_API ag_tensor *ag_neg(ag_tensor *t);
AG_API ag_tensor *ag_abs(ag_tensor *t);       /* complex -> real modulus */
AG_API ag_tensor *ag_sign(ag_tensor *t);      /* complex: z/|z| (torch.sgn), 0 at 0 */
AG_API ag_tensor *ag_square(ag_tensor *t);
AG_API ag_tensor *ag_reciprocal(ag_tensor *t);
AG_API ag_tensor *ag_exp(ag_tensor *t);
AG_API ag_tensor *ag_log(ag_tensor *t);
AG_API ag_tensor *ag_log1p(ag_tensor *t);
AG_API ag_tensor *ag_expm1(ag_tensor *t);
AG_API ag_tensor *ag_sqrt(ag_tensor *t);
AG_API ag_tensor *ag_rsqrt(ag_tensor *t);
AG_API ag_tensor *ag_sin(ag_tensor *t);
AG_API ag_tensor *ag_cos(ag_tensor *t);
AG_API ag_tensor *ag_tanh(ag_tensor *t);
AG_API ag_tensor *ag_sigmoid(ag_tensor *t);
/* softplus(x) = log(1 + exp(beta x)) / beta, and x itself where beta x > threshold (PyTorch). */
AG_API ag_tensor *ag_softplus(ag_tensor *t, double beta, double threshold);
AG_API ag_tensor *ag_erf(ag_tensor *t);
AG_API ag_tensor *ag_clamp(ag_tensor *t, double min, double max); /* -INFINITY/INFINITY: no bound */

/* complex */
AG_API ag_tensor *ag_complex(ag_tensor *re, ag_tensor *im); /* f32,f32 -> c64; f64,f64 -> c128 */
AG_API ag_tensor *ag_polar(ag_tensor *abs, ag_tensor *angle);
AG_API ag_tensor *ag_conj(ag_tensor *t);     /* copy; real input returns t (new ref) */
AG_API ag_tensor *ag_angle(ag_tensor *t);    /* complex -> real; real: 0 or pi */

/* comparisons -> bool (not differentiable) and selection */
AG_API ag_tensor *ag_eq(ag_tensor *a, ag_tensor *b);
AG_API ag_tensor *ag_ne(ag_tensor *a, ag_tensor *b);
AG_API ag_tensor *ag_lt(ag_tensor *a, ag_tensor *b);
AG_API ag_tensor *ag_le(ag_tensor *a, ag_tensor *b);
AG_API ag_tensor *ag_gt(ag_tensor *a, ag_tensor *b);
AG_API ag_tensor *ag_ge(ag_tensor *a, ag_tensor *b);
AG_API ag_tensor *ag_where(ag_tensor *cond, ag_tensor *a, ag_tensor *b);

/* ---- reductions: dims as AG_DIMS(...) or AG_ALL_DIMS; negative dims allowed ---------- */
AG_API ag_tensor *ag_sum(ag_tensor *t, const int *dims, int ndims, bool keepdim);
AG_API ag_tensor *ag_mean(ag_tensor *t, const int *dims, int ndims, bool keepdim);
AG_API ag_tensor *ag_prod(ag_tensor *t, const int *dims, int ndims, bool keepdim);
/* correction = 1 is the unbiased estimator (PyTorch's default), 0 the population one */
AG_API ag_tensor *ag_var(ag_tensor *t, const int *dims, int ndims, int correction, bool keepdim);
AG_API ag_tensor *ag_std(ag_tensor *t, const int *dims, int ndims, int correction, bool keepdim);
/* p-norm (p = 1, 2, INFINITY, any p > 0) of |t|, over dims */
AG_API ag_tensor *ag_norm(ag_tensor *t, double p, const int *dims, int ndims, bool keepdim);
AG_API ag_tensor *ag_logsumexp(ag_tensor *t, const int *dims, int ndims, bool keepdim);
AG_API ag_tensor *ag_amax(ag_tensor *t, const int *dims, int ndims, bool keepdim);
AG_API ag_tensor *ag_amin(ag_tensor *t, const int *dims, int ndims, bool keepdim);
/* max/min along one dim; *indices (i64, first occurrence) is optional (may be NULL) */
AG_API ag_tensor *ag_max_dim(ag_tensor *t, int dim, bool keepdim, ag_tensor **indices);
AG_API ag_tensor *ag_min_dim(ag_tensor *t, int dim, bool keepdim, ag_tensor **indices);
AG_API ag_tensor *ag_argmax(ag_tensor *t, int dim, bool keepdim);
AG_API ag_tensor *ag_argmin(ag_tensor *t, int dim, bool keepdim);

/* ---- linear algebra (OpenBLAS; real and complex) ------------------------------------- */
AG_API ag_tensor *ag_matmul(ag_tensor *a, ag_tensor *b); /* torch.matmul, batch dims broadcast */
AG_API ag_tensor *ag_bmm(ag_tensor *a, ag_tensor *b);    /* [B,n,k] @ [B,k,m] */
AG_API ag_tensor *ag_mv(ag_tensor *a, ag_tensor *x);     /* [n,k] @ [k] */
AG_API ag_tensor *ag_dot(ag_tensor *a, ag_tensor *b);    /* 1-D, no conjugation (torch.dot) */

/* ---- fft (FFTW on the cpu) ----------------------------------------------------------- */

/* ---- indexing, joining, reordering --------------------------------------------------- */

/* ---- convolution, pooling, padding, resampling --------------------------------------- */

/* ---- solvers (LAPACK) and iterative methods --------------------------------------------- */

/* ---- printing ------------------------------------------------------------------------ */
AG_API int ag_fprint(FILE *f, const ag_tensor *t); /* shape, dtype and values, numpy-like */
AG_API int ag_print(const ag_tensor *t);

#ifdef __cplusplus
}
#endif
#endif
