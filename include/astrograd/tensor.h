/* astrograd/tensor.h — tensors, dtypes, devices, errors, memory and the op front-ends.
 *
 * Conventions (read once, they hold everywhere):
 *  - Every function returning ag_tensor* returns a NEW reference, or NULL on error.
 *  - A NULL input makes an op return NULL, keeping the error that produced the NULL, so a
 *    whole expression can be checked once: the first error in a thread sticks (ag_last_error)
 *    until ag_clear_error(). A NULL with no error pending is recorded (AG_ERR_INVALID,
 *    "ag_add: argument 2 (b) is NULL"). Accessors, ag_retain/ag_release and the _free
 *    functions accept NULL silently, as free(NULL). NULL for an optional argument (a bias)
 *    means absent.
 *  - Inside ag_scope_begin()/ag_scope_end() every tensor an op returns belongs to the
 *    scope and is released at its end (ag_keep moves one outward). Outside any scope the
 *    caller owns the reference and releases it with ag_release. Releasing a scoped
 *    tensor early is allowed. An extra reference taken with ag_retain inside the scope is
 *    the caller's own: while such extra references exist, ag_release gives one of them
 *    back and the scope still releases the tensor at its end (so a callback may return
 *    ag_retain(t) to a caller that releases it); it outlives the scope if not released.
 *  - Shapes are outermost-first (as PyTorch); strides are in elements.
 *  - Thread safety: errors, scopes and grad mode are per thread; a tensor must not be
 *    used by two threads at once without the user's own locking. Another thread may
 *    ag_release a tensor that a thread's scope owns (the scope's reference is then dropped
 *    when that scope ends, not at once) or ag_keep it (the caller gets a reference of its
 *    own to release; it joins no scope).
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
    AG_F32, AG_F64, AG_C64, AG_C128, AG_I64, AG_BOOL,
    AG_I32, AG_U8, /* FITS images, masks: arithmetic computes through i64 (wrapping as torch); copies,
                    * indexing, scatter, sort and where run natively; gemm and the solvers refuse them */
    AG_NUM_DTYPES
} ag_dtype;

/* AG_DEV_TEST is a test-only device kind (built with meson -Dtest_device=true): CPU kernels
 * over memory of its own that the host cannot touch outside a kernel, so code that assumes the
 * CPU fails there as it would on a GPU. */
typedef enum ag_device_kind { AG_DEV_CPU = 0, AG_DEV_CUDA = 1, AG_DEV_TEST = 2, AG_NUM_DEVICE_KINDS } ag_device_kind;
typedef struct ag_device { ag_device_kind kind; int index; } ag_device;
#define AG_CPU ((ag_device){AG_DEV_CPU, 0})
#define AG_TEST_DEVICE ((ag_device){AG_DEV_TEST, 0})

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

/* ---- devices ------------------------------------------------------------------------ */
AG_API const char *ag_device_kind_name(ag_device_kind k); /* "cpu", "cuda", "test" */
AG_API bool ag_device_available(ag_device dev);           /* built, and present (no error) */
AG_API bool ag_device_eq(ag_device a, ag_device b);
/* "cpu", "cuda", "cuda:0", "test" -> *out; 0, or AG_ERR_INVALID naming the text */
AG_API int ag_device_parse(const char *text, ag_device *out);
/* The device named by the environment variable AG_DEVICE, or the CPU when it is unset. An
 * unknown or unavailable name records an AG_ERR_DEVICE error (and gives the CPU), so the
 * program's first ag_failed() check reports it. */
AG_API ag_device ag_device_default(void);
/* The kernel entries a device's backend lacks (ops that need them fail with AG_ERR_NOTIMPL
 * there): fills names[0..cap) and returns how many in all (-1: device not built). */
AG_API int ag_device_missing_kernels(ag_device dev, const char **names, int cap);
AG_API int ag_device_kernel_count(void); /* entries in the backend table */

/* ---- dtypes ------------------------------------------------------------------------- */
AG_API const char *ag_dtype_name(ag_dtype dt);  /* "f32", "c128", "i32", "u8", ... */
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
/* The host reads below work for tensors on any device (they transfer; the device waits). */
AG_API double ag_item(const ag_tensor *t);      /* one-element tensor -> double (real part) */
AG_API int ag_item_complex(const ag_tensor *t, double *re, double *im);
/* Copy all elements, in logical (row-major) order, converted to `dt`, into host out[numel]. */
AG_API int ag_copy_to_buffer(const ag_tensor *t, void *out, ag_dtype dt);

/* ---- autograd flags (the engine is in astrograd/autograd.h) ------------------------ */
AG_API ag_tensor *ag_set_requires_grad(ag_tensor *t, bool on); /* leaves only; returns t */
AG_API bool ag_requires_grad(const ag_tensor *t);
AG_API bool ag_is_leaf(const ag_tensor *t);
AG_API ag_tensor *ag_grad_of(const ag_tensor *t); /* borrowed .grad of a leaf, or NULL */

/* ---- creation ------------------------------------------------------------------------ */
/* Every creation function has an _on form that creates on a given device; the plain form is
 * the _on form on the CPU. The _like forms take the dtype and device of a tensor. */
AG_API ag_tensor *ag_empty_on(const int64_t *shape, int ndim, ag_dtype dt, ag_device dev);
AG_API ag_tensor *ag_zeros_on(const int64_t *shape, int ndim, ag_dtype dt, ag_device dev);
AG_API ag_tensor *ag_ones_on(const int64_t *shape, int ndim, ag_dtype dt, ag_device dev);
AG_API ag_tensor *ag_full_on(const int64_t *shape, int ndim, double value, ag_dtype dt, ag_device dev);
AG_API ag_tensor *ag_full_complex_on(const int64_t *shape, int ndim, double re, double im, ag_dtype dt,
                                     ag_device dev);
AG_API ag_tensor *ag_scalar_on(double value, ag_dtype dt, ag_device dev);
AG_API ag_tensor *ag_arange_on(double start, double end, double step, ag_dtype dt, ag_device dev);
AG_API ag_tensor *ag_linspace_on(double start, double end, int64_t steps, ag_dtype dt, ag_device dev);
AG_API ag_tensor *ag_eye_on(int64_t n, int64_t m, ag_dtype dt, ag_device dev);
AG_API ag_tensor *ag_from_data_on(const void *data, const int64_t *shape, int ndim, ag_dtype dt, ag_device dev);
AG_API ag_tensor *ag_rand_on(const int64_t *shape, int ndim, ag_dtype dt, ag_device dev);
AG_API ag_tensor *ag_randn_on(const int64_t *shape, int ndim, ag_dtype dt, ag_device dev);
AG_API ag_tensor *ag_randint_on(int64_t low, int64_t high, const int64_t *shape, int ndim, ag_device dev);
/* 0-d tensor of t's dtype and device (the constant a front end combines with t) */
AG_API ag_tensor *ag_scalar_like(const ag_tensor *t, double value);

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
AG_API ag_tensor *ag_eye(int64_t n, int64_t m, ag_dtype dt); /* [n, m] identity; m = -1: square */
/* Copies numel elements of `dt` from a C array laid out row-major. */
AG_API ag_tensor *ag_from_data(const void *data, const int64_t *shape, int ndim, ag_dtype dt);

/* Random numbers: Philox4x32-10 (Salmon et al. 2011), key = seed, counter = offset.
 * Each call draws numel values and advances the generator's offset, so a sequence depends
 * only on the seed and the calls made, not on threads or device launch shape.
 * rand: uniform [0,1) from 24 (f32) or 53 (f64) random bits; randn: Box-Muller on pairs;
 * randint: uniform integers in [low, high), bounds within +-2^53. Complex dtypes draw re and im independently,
 * randn of complex has variance 1 in total (1/2 each part), as PyTorch. */
AG_API void ag_manual_seed(uint64_t seed);
AG_API uint64_t ag_rng_offset(void);
AG_API ag_tensor *ag_rand(const int64_t *shape, int ndim, ag_dtype dt);
AG_API ag_tensor *ag_randn(const int64_t *shape, int ndim, ag_dtype dt);
AG_API ag_tensor *ag_randint(int64_t low, int64_t high, const int64_t *shape, int ndim);
/* i64 random permutation of 0..n-1 (Fisher-Yates on n uniform draws of the global generator,
 * made on the host: the same permutation for a seed on every device) */
AG_API ag_tensor *ag_randperm(int64_t n);
AG_API ag_tensor *ag_randperm_on(int64_t n, ag_device dev);

/* ---- copies, casts, devices ------------------------------------------------------ */
AG_API ag_tensor *ag_clone(const ag_tensor *t);          /* contiguous copy, differentiable */
AG_API ag_tensor *ag_contiguous(ag_tensor *t);           /* t itself (new ref) when contiguous */
AG_API ag_tensor *ag_to_dtype(ag_tensor *t, ag_dtype dt); /* cast (differentiable for floats) */
AG_API ag_tensor *ag_to(ag_tensor *t, ag_device dev);
/* In-place writes are not recorded by autograd. With grad mode on they fail (AG_ERR_AUTOGRAD)
 * when the destination or the source requires grad (a leaf, an op's result, any view of one):
 * build such results out of place (ag_cat, ag_where, ag_masked_scatter, ...) or write under
 * ag_no_grad_begin/end, as optimizers do. An expanded destination fails in every mode. */
AG_API int ag_copy_(ag_tensor *dst, const ag_tensor *src); /* in place, src broadcast to dst */
AG_API int ag_fill_(ag_tensor *t, double value);
AG_API int ag_zero_(ag_tensor *t);
/* In-place arithmetic (torch add_, sub_, mul_, div_): dst op= src, src broadcast to dst; dst keeps
 * its dtype, and a result whose category (bool < integer < float < complex) is above dst's is
 * refused (AG_ERR_DTYPE, as PyTorch: i64 div_ and f64 mul_ c128 fail, f32 add_ f64 is allowed).
 * The same refusals as ag_copy_; each bumps dst's version, so a saved tensor's edit is caught. */
AG_API int ag_add_(ag_tensor *dst, ag_tensor *src);
AG_API int ag_sub_(ag_tensor *dst, ag_tensor *src);
AG_API int ag_mul_(ag_tensor *dst, ag_tensor *src);
AG_API int ag_div_(ag_tensor *dst, ag_tensor *src);
AG_API int ag_clamp_(ag_tensor *t, double min, double max);               /* in-place ag_clamp */
AG_API int ag_masked_fill_(ag_tensor *t, ag_tensor *mask, double value);  /* bool mask broadcast to t */

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
AG_API ag_tensor *ag_view_as_real(ag_tensor *t);    /* complex [...] -> real [..., 2] view */
/* real [..., 2] -> complex [...] view; the last dim's stride must be 1, other strides and the offset even */
AG_API ag_tensor *ag_view_as_complex(ag_tensor *t);

/* ---- elementwise (NumPy broadcasting, PyTorch type promotion) -------------------
 * Tensor-tensor ops (and ag_where) take torch.result_type: categories bool < integer < float
 * < complex; a 0-d tensor raises the dtype only when its category is higher than that of the
 * tensors with dims (f32[3] + 0-d f64 is f32; i64[3] + 0-d f32 is f32; f32[3] + 0-d c128 is
 * c64); between tensors of the same kind, ag_promote_types. */
AG_API ag_tensor *ag_add(ag_tensor *a, ag_tensor *b);
AG_API ag_tensor *ag_sub(ag_tensor *a, ag_tensor *b);
AG_API ag_tensor *ag_mul(ag_tensor *a, ag_tensor *b);
AG_API ag_tensor *ag_div(ag_tensor *a, ag_tensor *b);   /* true division: ints -> default float */
AG_API ag_tensor *ag_pow(ag_tensor *a, ag_tensor *b);
AG_API ag_tensor *ag_maximum(ag_tensor *a, ag_tensor *b);
AG_API ag_tensor *ag_minimum(ag_tensor *a, ag_tensor *b);
/* Tensor-scalar forms. NOTE, a deliberate difference from PyTorch: a C double cannot say
 * whether it was written 2 or 2.0, so the VALUE decides, where PyTorch looks at the Python
 * type. Float and complex tensors keep their dtype (as in PyTorch). An i64 or bool tensor
 * gives i64 when s is integral (ag_add_s(i64 t, 2.0) is i64 here; t + 2.0 is float in
 * PyTorch) and the default float dtype when s is not (2.5, inf, NaN), as does ag_pow_s with
 * a negative p (an error for integers in PyTorch). For PyTorch's float result from an
 * integer tensor, cast first: ag_add_s(ag_to_dtype(t, ag_get_default_dtype()), 2.0). */
AG_API ag_tensor *ag_add_s(ag_tensor *a, double s);
AG_API ag_tensor *ag_mul_s(ag_tensor *a, double s);
AG_API ag_tensor *ag_pow_s(ag_tensor *a, double p);
AG_API ag_tensor *ag_rsub_s(double s, ag_tensor *a);   /* s - a */
AG_API ag_tensor *ag_sub_s(ag_tensor *a, double s);    /* a - s (differentiable) */
AG_API ag_tensor *ag_div_s(ag_tensor *a, double s);    /* a / s; true division: ints -> default float */

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
AG_API ag_tensor *ag_relu(ag_tensor *t);      /* max(t, 0); gradient 0 at 0, as PyTorch */
/* floor, ceil, round: real and i64 (i64 unchanged; complex and bool are errors, as PyTorch);
 * round is half to even (torch.round); the gradient is zero */
AG_API ag_tensor *ag_floor(ag_tensor *t);
AG_API ag_tensor *ag_ceil(ag_tensor *t);
AG_API ag_tensor *ag_round(ag_tensor *t);
AG_API ag_tensor *ag_asin(ag_tensor *t);      /* real and complex (principal branches, as PyTorch) */
AG_API ag_tensor *ag_acos(ag_tensor *t);
AG_API ag_tensor *ag_atan(ag_tensor *t);
AG_API ag_tensor *ag_sinh(ag_tensor *t);
AG_API ag_tensor *ag_cosh(ag_tensor *t);
AG_API ag_tensor *ag_log2(ag_tensor *t);      /* complex: log(z) / log(2) */
AG_API ag_tensor *ag_log10(ag_tensor *t);
AG_API ag_tensor *ag_atan2(ag_tensor *a, ag_tensor *b); /* real only; ints -> default float */

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
/* predicates -> bool, any dtype (complex: either part NaN / either part inf / both finite;
 * integers and bools are never NaN or infinite) */
AG_API ag_tensor *ag_isnan(ag_tensor *t);
AG_API ag_tensor *ag_isinf(ag_tensor *t);
AG_API ag_tensor *ag_isfinite(ag_tensor *t);
/* logical ops -> bool: inputs of any dtype, nonzero = true; broadcasting */
AG_API ag_tensor *ag_logical_not(ag_tensor *t);
AG_API ag_tensor *ag_logical_and(ag_tensor *a, ag_tensor *b);
AG_API ag_tensor *ag_logical_or(ag_tensor *a, ag_tensor *b);
/* torch.isclose -> bool: a == b, or both NaN (equal_nan), or |a - b| <= atol + rtol |b|
 * (finite); a and b of one dtype (as PyTorch), broadcast; rtol, atol >= 0 */
AG_API ag_tensor *ag_isclose(ag_tensor *a, ag_tensor *b, double rtol, double atol, bool equal_nan);
/* torch.allclose: isclose everywhere (one value read to the host); false on an error (recorded) */
AG_API bool ag_allclose(ag_tensor *a, ag_tensor *b, double rtol, double atol, bool equal_nan);

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
/* any/all -> bool, any dtype (nonzero = true); over no elements: false / true */
AG_API ag_tensor *ag_any(ag_tensor *t, const int *dims, int ndims, bool keepdim);
AG_API ag_tensor *ag_all(ag_tensor *t, const int *dims, int ndims, bool keepdim);
/* max/min along one dim; *indices (i64, first occurrence) is optional (may be NULL) */
AG_API ag_tensor *ag_max_dim(ag_tensor *t, int dim, bool keepdim, ag_tensor **indices);
AG_API ag_tensor *ag_min_dim(ag_tensor *t, int dim, bool keepdim, ag_tensor **indices);
AG_API ag_tensor *ag_argmax(ag_tensor *t, int dim, bool keepdim);
AG_API ag_tensor *ag_argmin(ag_tensor *t, int dim, bool keepdim);

/* ---- sorting and order statistics (f32/f64, and i64 where noted; complex refused) ----- */
/* torch.sort(stable=True): equal values keep their order, NaN sorts as the largest value;
 * *indices (i64) is optional (may be NULL). f32/f64/i64. */
AG_API ag_tensor *ag_sort(ag_tensor *t, int dim, bool descending, ag_tensor **indices);
AG_API ag_tensor *ag_argsort(ag_tensor *t, int dim, bool descending); /* ag_sort's indices */
/* the k largest (smallest) along dim, always in sorted order (sorted is accepted for torch's
 * signature); ties keep their order; *indices optional. 0 <= k <= size of dim. */
AG_API ag_tensor *ag_topk(ag_tensor *t, int64_t k, int dim, bool largest, bool sorted, ag_tensor **indices);
/* lower median of all elements (torch.median); NaN if any element is NaN; nonempty. i64 too */
AG_API ag_tensor *ag_median(ag_tensor *t);
/* lower median along dim; *indices (optional) its position (a NaN row: its first NaN). i64 too */
AG_API ag_tensor *ag_median_dim(ag_tensor *t, int dim, bool keepdim, ag_tensor **indices);
/* torch.quantile, linear interpolation, q in [0, 1]; dims: AG_DIMS(d) or AG_ALL_DIMS
 * (all elements); a row holding NaN gives NaN. f32/f64 */
AG_API ag_tensor *ag_quantile(ag_tensor *t, double q, const int *dims, int ndims, bool keepdim);

/* ---- linear algebra (OpenBLAS; real and complex) ------------------------------------- */
AG_API ag_tensor *ag_matmul(ag_tensor *a, ag_tensor *b); /* torch.matmul, batch dims broadcast */
AG_API ag_tensor *ag_bmm(ag_tensor *a, ag_tensor *b);    /* [B,n,k] @ [B,k,m] */
AG_API ag_tensor *ag_mv(ag_tensor *a, ag_tensor *x);     /* [n,k] @ [k] */
AG_API ag_tensor *ag_dot(ag_tensor *a, ag_tensor *b);    /* 1-D, no conjugation (torch.dot) */
AG_API ag_tensor *ag_outer(ag_tensor *a, ag_tensor *b);  /* 1-D [n], [m] -> [n, m], no conjugation */
/* torch.einsum(eq, ops[0..n)): explicit ("ij,jk->ik") or implicit ("ij,jk": the ellipsis dims,
 * then the subscripts that occur once, in ASCII order) output; letters and "...", spaces
 * ignored; sizes of 1 broadcast. "..." stands for the dims an operand does not name, aligned
 * from the right ("...ij,...jk->...ik" is a broadcast batched matmul; an explicit output
 * without "..." sums them). A subscript repeated within one operand takes the diagonal ("ii->i",
 * trace "ii->", "iij->j"). Composed from permute/reshape/slice/mul/sum/matmul. */
AG_API ag_tensor *ag_einsum(const char *eq, ag_tensor *const *ops, int n);

/* ---- fft (FFTW on the cpu) ----------------------------------------------------------- */
/* As torch.fft. norm: BACKWARD scales the inverse by 1/n, ORTHO both ways by 1/sqrt(n), FORWARD
 * the forward by 1/n. n: transform length (zero-pads or truncates the input along dim first;
 * -1 keeps the size; for irfft/irfftn it is the OUTPUT length, default 2*(m-1)). Real inputs of
 * fft/ifft are promoted to complex; rfft needs a real input and irfft a complex one (errors,
 * not promotion); integer and bool tensors are rejected. fftn/rfftn/irfftn: dims as AG_DIMS
 * (AG_ALL_DIMS = all dims); rfftn halves, and irfftn restores, the LAST dim listed.
 * fftshift/ifftshift are rolls by n/2 and -(n/2) (numpy's conventions) over dims (AG_ALL_DIMS:
 * all). fftfreq/rfftfreq: sample frequencies in f32 or f64, as numpy. */
typedef enum ag_fft_norm { AG_NORM_BACKWARD = 0, AG_NORM_ORTHO = 1, AG_NORM_FORWARD = 2 } ag_fft_norm;
AG_API ag_tensor *ag_fft(ag_tensor *t, int64_t n, int dim, ag_fft_norm norm);
AG_API ag_tensor *ag_ifft(ag_tensor *t, int64_t n, int dim, ag_fft_norm norm);
AG_API ag_tensor *ag_fft2(ag_tensor *t, ag_fft_norm norm);   /* last two dims */
AG_API ag_tensor *ag_ifft2(ag_tensor *t, ag_fft_norm norm);
AG_API ag_tensor *ag_fftn(ag_tensor *t, const int *dims, int ndims, ag_fft_norm norm);
AG_API ag_tensor *ag_ifftn(ag_tensor *t, const int *dims, int ndims, ag_fft_norm norm);
AG_API ag_tensor *ag_rfft(ag_tensor *t, int64_t n, int dim, ag_fft_norm norm);
AG_API ag_tensor *ag_irfft(ag_tensor *t, int64_t n, int dim, ag_fft_norm norm);
AG_API ag_tensor *ag_rfftn(ag_tensor *t, const int *dims, int ndims, ag_fft_norm norm);
AG_API ag_tensor *ag_irfftn(ag_tensor *t, const int *dims, int ndims, int64_t n_last, ag_fft_norm norm);
AG_API ag_tensor *ag_fftshift(ag_tensor *t, const int *dims, int ndims);
AG_API ag_tensor *ag_ifftshift(ag_tensor *t, const int *dims, int ndims);
AG_API ag_tensor *ag_fftfreq(int64_t n, double d, ag_dtype dt);
AG_API ag_tensor *ag_rfftfreq(int64_t n, double d, ag_dtype dt);
AG_API ag_tensor *ag_fftfreq_on(int64_t n, double d, ag_dtype dt, ag_device dev);
AG_API ag_tensor *ag_rfftfreq_on(int64_t n, double d, ag_dtype dt, ag_device dev);
/* FFT plan cache of a device's backend (FFTW plans on the cpu, one per transform geometry).
 * ag_fft_plan_cache_stats: 0, or AG_ERR_INVALID (NULL s), AG_ERR_DEVICE (device not in this
 * build) or AG_ERR_NOTIMPL (the backend has no plan cache); s is zeroed on failure.
 * ag_fft_plan_cache_clear drops the cache's plans (FFTW's wisdom stays); a plan still held, by a
 * recorded graph for its backward, lives until that is freed. */
typedef struct ag_fft_cache_stats {
    int64_t plans_created; /* plans the planner made (each cache miss) */
    int64_t cache_hits;    /* plan requests answered from the cache */
    int64_t evictions;     /* plans dropped, least recently used first, to make room */
    int64_t cached;        /* plans the cache holds now */
    int64_t capacity;      /* plans it can hold */
    int64_t held;          /* references to plans held outside the cache now */
} ag_fft_cache_stats;
AG_API int ag_fft_plan_cache_stats(ag_device dev, ag_fft_cache_stats *s);
AG_API int ag_fft_plan_cache_clear(ag_device dev);
/* FFTW's wisdom (its planner's measurements, both precisions): a saved file spares a later run the
 * planning of every shape planned before (seconds per large shape with the default MEASURE
 * planner). Saving is atomic (a temporary file renamed over path). Loading merges into what this
 * process has measured; wisdom from another machine or FFTW version is rejected or merely
 * suboptimal, never wrong. 0, or AG_ERR_IO (file), AG_ERR_FORMAT (not FFTW wisdom). */
AG_API int ag_fft_save_wisdom(const char *path);
AG_API int ag_fft_load_wisdom(const char *path);

/* ---- indexing, joining, reordering --------------------------------------------------- */
/* Indices are i64 tensors; gradients flow to the data inputs, never to indices or masks.
 * Out-of-range indices fail with AG_ERR_INDEX naming the index and its position. */
AG_API ag_tensor *ag_index_select(ag_tensor *t, int dim, ag_tensor *idx);  /* idx 0-d or 1-d, >= 0 */
AG_API ag_tensor *ag_gather(ag_tensor *t, int dim, ag_tensor *idx);        /* torch.gather */
/* torch.scatter_add, out of place: t + the sum of src[p] at (p with p[dim] <- idx[p]).
 * Deterministic (fixed summation order, no atomics). */
AG_API ag_tensor *ag_scatter_add(ag_tensor *t, int dim, ag_tensor *idx, ag_tensor *src);
/* torch.index_add, out of place: t with alpha * src[.., i, ..] added at [.., idx[i], ..] along
 * dim; idx 0-d or 1-d, src of t's shape except dim (idx's length). Repeated indices accumulate,
 * in the deterministic order of scatter_add. Differentiable w.r.t. t and src. */
AG_API ag_tensor *ag_index_add(ag_tensor *t, int dim, ag_tensor *idx, ag_tensor *src, double alpha);
/* torch.scatter (no reduction), out of place: t with src[p] written at (p with p[dim] <- idx[p]).
 * Index positions that repeat along dim: the last one (largest p[dim]) wins on the CPU; the
 * order is unspecified on other devices, as in PyTorch. Gradients: t's is g with the written
 * places zeroed, src's is gather(g) (every duplicate gets its own). */
AG_API ag_tensor *ag_scatter(ag_tensor *t, int dim, ag_tensor *idx, ag_tensor *src);
/* torch.Tensor.index_put, out of place: t[indices[0], ..., indices[n-1]] = values (+= when
 * accumulate), with n i64 index tensors (1 <= n <= ndim, for the leading dims) broadcast together
 * and negatives counted from the end; values broadcast to [broadcast index shape, t.shape[n:]...].
 * accumulate = false with repeated positions: the last write (row-major order of the broadcast
 * indices) wins on the CPU; the order is unspecified on other devices, as in PyTorch.
 * Differentiable w.r.t. t and values. Bool masks: ag_mask_assign. */
AG_API ag_tensor *ag_index_put(ag_tensor *t, ag_tensor *const *indices, int n, ag_tensor *values, bool accumulate);
AG_API ag_tensor *ag_take(ag_tensor *t, ag_tensor *idx); /* flat index, negatives count from the end */
AG_API ag_tensor *ag_masked_select(ag_tensor *t, ag_tensor *mask);        /* bool mask, broadcast; 1-d */
AG_API ag_tensor *ag_masked_fill(ag_tensor *t, ag_tensor *mask, double value); /* out of place */
AG_API ag_tensor *ag_nonzero(ag_tensor *t);                                /* i64 [nnz, ndim] */
/* Out-of-place `t[mask] = values` (PyTorch index_put with one bool mask): mask's shape equals the
 * leading mask-ndim dims of t; values broadcast to [nnz, t.shape[mask.ndim:]...] and fill the
 * selected entries in row-major order. Differentiable w.r.t. t and values. */
AG_API ag_tensor *ag_mask_assign(ag_tensor *t, ag_tensor *mask, ag_tensor *values);
/* torch.masked_scatter, out of place: the first nnz elements of src (row-major) fill the places
 * where mask (broadcast to t) is true. */
AG_API ag_tensor *ag_masked_scatter(ag_tensor *t, ag_tensor *mask, ag_tensor *src);
/* Joining: equal dtypes and shapes except along dim (1-d empty tensors are skipped, as PyTorch).
 * Any number of tensors (the graph is a tree of nodes of at most 4 inputs; one copy forward). */
AG_API ag_tensor *ag_cat(ag_tensor *const *tensors, int n, int dim);
AG_API ag_tensor *ag_stack(ag_tensor *const *tensors, int n, int dim);
/* Views of consecutive pieces of `size` (the last may be smaller) / of `chunks` pieces of
 * ceil(len/chunks) (torch.chunk: maybe fewer). *count: capacity of out on entry, pieces on return;
 * out == NULL only counts. Returns 0 or a negative status (nothing returned on error). */
AG_API int ag_split(ag_tensor *t, int64_t size, int dim, ag_tensor **out, int *count);
AG_API int ag_chunk(ag_tensor *t, int chunks, int dim, ag_tensor **out, int *count);
AG_API ag_tensor *ag_flip(ag_tensor *t, const int *dims, int n);           /* copy */
/* torch.roll; dims == NULL (then n must be 1): roll the flattened tensor and restore the shape */
AG_API ag_tensor *ag_roll(ag_tensor *t, const int64_t *shifts, const int *dims, int n);
AG_API ag_tensor *ag_diff(ag_tensor *t, int n, int dim);                   /* torch.diff, n >= 0 */
AG_API ag_tensor *ag_cumsum(ag_tensor *t, int dim);  /* ints and bools sum in i64 */
/* ints and bools multiply in i64; the gradient is exact at zeros (composed from products) */
AG_API ag_tensor *ag_cumprod(ag_tensor *t, int dim);
AG_API ag_tensor *ag_tril(ag_tensor *t, int64_t k);  /* last two dims; k: diagonal offset */
AG_API ag_tensor *ag_triu(ag_tensor *t, int64_t k);
/* torch.diag: 1-d -> 2-d with t on diagonal k (k > 0 above the main one); 2-d -> the 1-d
 * diagonal k (a copy) */
AG_API ag_tensor *ag_diag(ag_tensor *t, int64_t k);
AG_API ag_tensor *ag_trace(ag_tensor *t);            /* 2-d: sum of the main diagonal */
/* torch.meshgrid: n 0-d or 1-d tensors of one dtype -> out[0..n-1], expanded views of the grid's
 * shape; IJ: out[i] varies along dim i; XY: the first two grid dims swapped (numpy's default).
 * Returns 0 or a negative status (nothing is returned on error). */
typedef enum ag_indexing { AG_INDEXING_IJ = 0, AG_INDEXING_XY = 1 } ag_indexing;
AG_API int ag_meshgrid(ag_tensor *const *tensors, int n, ag_indexing indexing, ag_tensor **out);
AG_API ag_tensor *ag_repeat(ag_tensor *t, const int64_t *repeats, int n);  /* torch.Tensor.repeat, n >= ndim */
AG_API ag_tensor *ag_tile(ag_tensor *t, const int64_t *reps, int n);       /* torch.tile */
/* i64 [..., num_classes]; num_classes < 0: max(idx) + 1 */
AG_API ag_tensor *ag_one_hot(ag_tensor *idx, int64_t num_classes);

/* ---- convolution, pooling, padding, resampling --------------------------------------- */
/* Real floating dtypes only (f32, f64; complex is not supported). Inputs are batched
 * [N,C,(H,)W] or unbatched [C,(H,)W] as in torch.nn.functional; weights as PyTorch lays them out.
 * Options: zero fields mean the defaults (stride 1, padding 0, dilation 1, output_padding 0,
 * groups 1), so a zero-initialised struct (or NULL) is PyTorch's default call. conv1d reads
 * element [0] of each pair. same = padding "same" (stride must be 1; odd total padding puts the
 * extra row/column at the end, as PyTorch).
 * CPU algorithms: convolutions (forward, input and weight gradients) with output rows of 16+
 * pixels, or narrower rows with 16+ channels in and out, run on AVX-512 register-tile kernels
 * where the CPU has AVX-512F; the rest run through im2col + OpenBLAS gemm. The two agree to the dtype's rounding, not bit for bit.
 * Environment AG_CPU_CONV=im2col forces the gemm path; AG_CPU_CONV=direct forces the AVX-512
 * kernels for every convolution and fails (AG_ERR_NOTIMPL) without AVX-512F. */
typedef struct ag_conv_opts {
    int64_t stride[2], padding[2], dilation[2];
    int64_t output_padding[2]; /* conv_transpose2d only; < stride or < dilation */
    int groups;
    bool same;
} ag_conv_opts;
/* x [N,C,L], w [O,C/groups,K], bias [O] or NULL -> [N,O,LO] */
AG_API ag_tensor *ag_conv1d(ag_tensor *x, ag_tensor *w, ag_tensor *bias, const ag_conv_opts *opts);
/* x [N,C,H,W], w [O,C/groups,KH,KW], bias [O] or NULL -> [N,O,HO,WO] */
AG_API ag_tensor *ag_conv2d(ag_tensor *x, ag_tensor *w, ag_tensor *bias, const ag_conv_opts *opts);
/* x [N,C,H,W], w [C,O/groups,KH,KW], bias [O] or NULL -> [N,O,HO,WO] with
 * HO = (H-1)*stride - 2*padding + dilation*(KH-1) + output_padding + 1 (same has no meaning here) */
AG_API ag_tensor *ag_conv_transpose2d(ag_tensor *x, ag_tensor *w, ag_tensor *bias, const ag_conv_opts *opts);
/* Pools over the last two dims of [N,C,H,W] or [C,H,W]: kernel {kh,kw}; stride NULL = kernel;
 * padding NULL = 0 (at most half the kernel). Floor mode, no dilation. avg counts padded zeros
 * (count_include_pad, PyTorch's default); max's gradient goes to the first maximum of a window. */
AG_API ag_tensor *ag_avg_pool2d(ag_tensor *t, const int64_t kernel[2], const int64_t stride[2], const int64_t padding[2]);
AG_API ag_tensor *ag_max_pool2d(ag_tensor *t, const int64_t kernel[2], const int64_t stride[2], const int64_t padding[2]);
/* F.pad: pads = {last dim before, last dim after, second-to-last before, ...}, npads even,
 * npads/2 <= ndim. constant accepts negative pads (crops); reflect needs pads < the dim's size,
 * circular <= the size, replicate a non-empty dim. value is used by constant mode only. */
typedef enum ag_pad_mode { AG_PAD_CONSTANT, AG_PAD_REFLECT, AG_PAD_REPLICATE, AG_PAD_CIRCULAR } ag_pad_mode;
AG_API ag_tensor *ag_pad(ag_tensor *t, const int64_t *pads, int npads, ag_pad_mode mode, double value);
/* F.interpolate(t, size=(out_h, out_w), mode="nearest" | "bilinear") on [N,C,H,W] */
AG_API ag_tensor *ag_upsample_nearest2d(ag_tensor *t, int64_t out_h, int64_t out_w);
AG_API ag_tensor *ag_upsample_bilinear2d(ag_tensor *t, int64_t out_h, int64_t out_w, bool align_corners);

/* ---- solvers (LAPACK) and iterative methods --------------------------------------------- */
/* Dense solvers (LAPACK on the cpu), batched over leading dims (broadcast as torch.linalg),
 * f32/f64/c64/c128; A and B must share a dtype. A singular matrix (exact zero pivot) or one
 * that is not positive definite fails with AG_ERR_NUMERIC naming the pivot/minor and, when
 * batched, the matrix. Gradients follow torch.linalg (they need A invertible). */
/* X with A X = B: A [..., n, n]; B [..., n, k], or [..., n] (a vector: B 1-d, or B's shape is
 * A's without the last dim), as torch.linalg.solve. */
AG_API ag_tensor *ag_solve(ag_tensor *A, ag_tensor *B);
/* L with A = L L^H (upper: U with A = U^H U); reads only that triangle of A. */
AG_API ag_tensor *ag_cholesky(ag_tensor *A, bool upper);
/* X with A X = B (left) or X A = B (!left), A triangular (only the upper/lower triangle is
 * read; unit diagonal assumed when unitriangular). B [..., n, k] (left) or [..., k, n].
 * Unlike PyTorch, a zero on the diagonal is an error rather than Inf/NaN. */
AG_API ag_tensor *ag_solve_triangular(ag_tensor *A, ag_tensor *B, bool upper, bool left, bool unitriangular);
AG_API ag_tensor *ag_inverse(ag_tensor *A);
/* det and logdet [...] via LU; singular A gives det 0 / logdet -inf (its gradient fails). Real
 * logdet is NaN for det < 0 (torch.logdet); complex logdet is log|det| + i arg(det). */
AG_API ag_tensor *ag_det(ag_tensor *A);
AG_API ag_tensor *ag_logdet(ag_tensor *A);
/* log|det A| (real dtype), and *sign (optional, A's dtype: +-1, or det/|det| for complex; 0 when
 * singular), as torch.linalg.slogdet. Both are differentiable (sign only for complex A). */
AG_API ag_tensor *ag_slogdet(ag_tensor *A, ag_tensor **sign);

/* Decompositions (LAPACK on the cpu), batched over leading dims, f32, f64, c64 and c128
 * (integers fail with AG_ERR_DTYPE). Each returns 0 and sets its outputs (new references), or a
 * negative status with the outputs NULL. Gradients are PyTorch's, to any order (create_graph).
 * Eigenvalues and singular values are real (f32/f64) for complex A. */
/* Reduced QR A = Q R (torch.linalg.qr, mode "reduced"): A [..., m, n], k = min(m, n),
 * Q [..., m, k], R [..., k, n]; the signs are LAPACK's (as torch). Gradient for m >= n only. */
AG_API int ag_linalg_qr(ag_tensor *A, ag_tensor **Q, ag_tensor **R);
/* Eigenvalues [..., n] (ascending) and eigenvectors [..., n, n] (columns) of the symmetric (or
 * Hermitian) A, of which only the lower triangle is read (torch.linalg.eigh, UPLO "L"). The
 * gradient needs distinct eigenvalues; it is meaningful for functions of the eigenvectors that
 * do not see their sign (real) or phase (complex: e.g. |V|, V diag(f(L)) V^H). */
AG_API int ag_linalg_eigh(ag_tensor *A, ag_tensor **eigenvalues, ag_tensor **eigenvectors);
/* Reduced SVD A = U diag(S) Vh: U [..., m, k], S [..., k] descending, Vh [..., k, n];
 * full_matrices must be false. The gradient needs distinct non-zero singular values and, for
 * complex A, a loss blind to the common phase of a column of U and the row of Vh. */
AG_API int ag_linalg_svd(ag_tensor *A, bool full_matrices, ag_tensor **U, ag_tensor **S, ag_tensor **Vh);
/* argmin_X ||A X - B|| for A [..., m, n] of full column rank (m >= n; m < n fails), B [..., m, k],
 * batch dims broadcast: X = R^-1 Q^H B from ag_linalg_qr (torch.linalg.lstsq(A, B).solution). */
AG_API ag_tensor *ag_linalg_lstsq(ag_tensor *A, ag_tensor *B);

/* Conjugate gradient for A x = b, A a Hermitian positive-definite linear operator given as a
 * callback. apply(x) must return a NEW tensor of x's shape made with ag ops (each iteration
 * runs inside its own scope, which releases it); precond (optional) applies M^-1 ~ A^-1 the
 * same way. Runs under no-grad. Stops when ||r|| <= max(rtol ||b||, atol).
 * Returns x (also when max_iter is reached: then report->converged is false and
 * report->message says so; no error is recorded), or NULL on an error (bad arguments, a
 * failing callback, or p^H A p <= 0: the operator is not positive definite). */
typedef ag_tensor *(*ag_linop_fn)(ag_tensor *x, void *user_data);
typedef struct ag_cg_opts {
    double rtol;              /* relative residual tolerance; 0 = 1e-6 */
    double atol;              /* absolute residual tolerance; 0 = none */
    int max_iter;             /* 0 = 10 * numel(b) */
    ag_linop_fn precond;      /* NULL = none */
    void *precond_data;
} ag_cg_opts;
typedef struct ag_cg_report {
    int iterations;           /* operator applications after the initial residual */
    double residual;          /* final ||r|| / ||b|| (||r|| when b = 0) */
    bool converged;
    char message[192];        /* why it stopped, in words */
} ag_cg_report;
/* b: any shape (the operator's vector space); x0 NULL = zeros; opts NULL = defaults;
 * report may be NULL. */
AG_API ag_tensor *ag_cg(ag_linop_fn apply, void *user_data, ag_tensor *b, ag_tensor *x0,
                        const ag_cg_opts *opts, ag_cg_report *report);

/* ---- printing ------------------------------------------------------------------------ */
AG_API int ag_fprint(FILE *f, const ag_tensor *t); /* shape, dtype and values, numpy-like */
AG_API int ag_print(const ag_tensor *t);

#ifdef __cplusplus
}
#endif
#endif
