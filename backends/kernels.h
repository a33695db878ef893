/* backends/kernels.h — the backend interface: one table of primitive kernels per device kind.
 *
 * tensor/ calls kernels only through ag_kernels_for(device). cpu/ fills the table now; cuda/
 * fills the same table later. A NULL entry means "not implemented on this backend" and the
 * front end reports it (never a silent fallback to another device).
 *
 * The entries are one list (AG_KERNEL_ENTRIES below): adding an entry there adds it to the
 * table, the prototypes and the test device at once; a backend then implements it or leaves it
 * NULL. Kernels take explicit views (data pointer at element 0, shape, strides in elements), never
 * allocate memory that outlives the call, and return 0 or a negative ag_status; on failure they
 * record the error with ag_set_error (naming the kernel).
 */
#ifndef AG_BACKENDS_KERNELS_H
#define AG_BACKENDS_KERNELS_H

#include "astrograd/tensor.h"
#include "core/core.h"

/* Helpers shared by the CPU and CUDA kernels (backends/philox.h, backends/reduce_plan.h) are
 * host+device inline functions under nvcc and static inline C elsewhere. */
#ifdef __CUDACC__
#define AG_HD __host__ __device__ inline
#else
#define AG_HD static inline
#endif

typedef struct ag_kview {
    void *data;          /* element 0 */
    ag_dtype dtype;
    int ndim;
    int64_t shape[AG_MAX_DIMS];
    int64_t strides[AG_MAX_DIMS]; /* elements; 0 = broadcast */
} ag_kview;

/* Unary maps. out and in have the same shape. Unless noted, out dtype == in dtype.
 * ABS, ANGLE of complex give the real dtype; ISNAN, ISINF, ISFINITE give bool. params[] as noted. */
#define AG_UNARY_OPS(X) \
    X(NEG) X(ABS) X(SIGN) X(SQUARE) X(RECIPROCAL) X(EXP) X(LOG) X(LOG1P) X(EXPM1) \
    X(SQRT) X(RSQRT) X(SIN) X(COS) X(TANH) X(SIGMOID) \
    X(SOFTPLUS)  /* params: beta, threshold */ \
    X(ERF) \
    X(CLAMP)     /* params: lo, hi */ \
    X(CONJ) X(ANGLE) \
    X(ADD_S)     /* params: re, im: out = in + s */ \
    X(MUL_S)     /* params: re, im: out = in * s */ \
    X(POW_S)     /* params: p: out = in^p */ \
    X(RSUB_S)    /* params: re, im: out = s - in */ \
    X(NOT)       /* bool -> bool */ \
    X(RELU)      /* real: max(x, 0), NaN stays NaN */ \
    X(FLOOR) X(CEIL) /* real and i64 (i64: unchanged) */ \
    X(ROUND)     /* real and i64: half to even (torch.round) */ \
    X(ASIN) X(ACOS) X(ATAN) X(SINH) X(COSH) X(LOG2) X(LOG10) \
    X(ISNAN) X(ISINF) X(ISFINITE) /* any dtype -> bool; complex: either part NaN/inf, both finite */
typedef enum ag_unary_op {
#define X(n) AG_UN_##n,
    AG_UNARY_OPS(X)
#undef X
    AG_UN_COUNT
} ag_unary_op;

/* Binary maps with broadcasting already applied (broadcast dims have stride 0).
 * a, b and out share one dtype, except: comparisons give bool; COMPLEX and POLAR take two
 * real inputs and give the complex dtype. */
#define AG_BINARY_OPS(X) \
    X(ADD) X(SUB) X(MUL) X(DIV) X(POW) X(MAX) X(MIN) \
    X(EQ) X(NE) X(LT) X(LE) X(GT) X(GE) \
    X(COMPLEX) X(POLAR) X(AND) X(OR) \
    X(RELU_BWD)  /* real: out = b > 0 ? a : 0 (a: gradient, b: ReLU input) */ \
    X(ATAN2)     /* real: atan2(a, b) */
typedef enum ag_binary_op {
#define X(n) AG_BIN_##n,
    AG_BINARY_OPS(X)
#undef X
    AG_BIN_COUNT
} ag_binary_op;

/* Reductions: out has in's ndim with size 1 along each reduced dim. idx (i64, same shape as
 * out) receives the index along the single reduced dim for MAX/MIN when not NULL.
 * Summation order is fixed (does not depend on the thread count). */
typedef enum ag_reduce_op { AG_RED_SUM, AG_RED_PROD, AG_RED_MAX, AG_RED_MIN } ag_reduce_op;

typedef enum ag_rng_dist { AG_RNG_UNIFORM, AG_RNG_NORMAL, AG_RNG_RANDINT } ag_rng_dist;

/* FFT kinds (the fft entry): c2c with sign -1 (forward) or +1 (inverse), real -> half complex,
 * half complex -> real. */
typedef enum ag_fft_kind { AG_FFT_C2C_FWD, AG_FFT_C2C_INV, AG_FFT_R2C, AG_FFT_C2R } ag_fft_kind;

/* -- convolution: parameters of the conv/pool kernels (2-d; 1-d ops use height 1) -- */
typedef struct ag_conv_params {
    int64_t stride[2], pad[2], dilation[2]; /* pad: zeros before the first row/column */
    int64_t groups;
} ag_conv_params;
typedef enum ag_pool_op { AG_POOL_MAX, AG_POOL_AVG } ag_pool_op;
typedef struct ag_pool_params { int64_t kernel[2], stride[2], pad[2]; } ag_pool_params;

/* -- imaging: fused visibility losses and image regularizers (tensor/imaging_ops.c) -- */
typedef enum ag_vis_loss_op { AG_VL_CHI2, AG_VL_RCHI2, AG_VL_LOGLIK, AG_VL_NLL_AVG } ag_vis_loss_op;
typedef enum ag_prior_op {
    AG_PRIOR_TV_IMAGE, AG_PRIOR_TSV, AG_PRIOR_TV_CHANNEL, AG_PRIOR_ENTROPY, AG_PRIOR_SPARSITY, AG_PRIOR_EDGE_CLAMP,
    AG_PRIOR_SUM  /* ag_image_priors: entropy + sparsity + TV + TSV, weighted, in one pass */
} ag_prior_op;
typedef enum ag_upsample_mode { AG_UPSAMPLE_NEAREST, AG_UPSAMPLE_BILINEAR } ag_upsample_mode;

/* -- plans -- a backend's plan handle (its own struct ag_kplan; opaque to everyone else) */
typedef struct ag_kplan ag_kplan;
typedef struct ag_fft_cache_stats ag_fft_cache_stats;

/* The entries, each written once here: X(name, parameters, arguments, views). This list
 * generates the table struct below, the backends' prototypes (ag_<backend>_<name>) and tables,
 * the test device's checking wrappers (views: the ag_kview arguments, NULL allowed) and the
 * report of what a backend lacks (ag_kernels_missing). Every entry returns 0 or a negative
 * ag_status after ag_set_error. What each does:
 *
 * copy: dst <- src (same shape; src may broadcast), converting dtypes.
 * fill: every element of dst <- re (+ i im).
 * unary, binary: the maps above; where: out = cond ? a : b (cond bool, a/b/out one dtype, all
 *   already broadcast).
 * unary_backward: gin <- g f'(x) for the unary map op (f32/f64, one dtype, one shape, any
 *   strides). SOFTPLUS only (params: beta, threshold; f' = 1 where x beta > threshold, else
 *   sigmoid(x beta), as torch): other ops AG_ERR_NOTIMPL. A backend without the entry leaves the
 *   front end to compose the same derivative from maps.
 * reduce: as ag_reduce_op above.
 * gemm: out[b] = op(a[b]) @ op(b[b]) for 3-d views [B,M,K] x [B,K,N] -> [B,M,N]; any strides
 *   (the kernel copies when BLAS cannot take them). conj_a/conj_b conjugate.
 * rng: Philox4x32-10 draws for elements [0, numel) of contiguous out, starting at counter offset.
 *
 * -- optimizers --
 * Fused in-place updates, one per optimizer, reproducing PyTorch's single-tensor
 * (foreach=False) formulas operation by operation. All views are contiguous 1-d of one real
 * dtype (f32 or f64) and the same length; complex tensors come as their real view (2n).
 * A state view that the options do not use may have data == NULL. hyper[] as listed.
 * sgd_step hyper: lr, momentum, dampening, weight_decay, nesterov, maximize, first (buf <- d).
 * adam_step hyper: lr, beta1, beta2, eps, weight_decay, step (after increment), amsgrad,
 *   maximize, decoupled (1: AdamW's param *= 1 - lr wd; 0: Adam's grad += wd param).
 * rmsprop_step hyper: lr, alpha, eps, weight_decay, momentum, centered, maximize.
 *
 * -- fft --
 * fft: unnormalised DFT over dims[0..ndims) (distinct, 0 <= d < ndim; in and out have one
 *   ndim), batched over the other dims, then multiplied by `scale`.
 *   C2C_FWD/INV: in complex, out the same dtype and shape.
 *   R2C: in f32/f64 of shape S, out c64/c128 of shape S except S[h]/2+1 along h = dims[ndims-1].
 *   C2R: in complex, out real of the logical shape S; in has S[h]/2+1 along h = dims[ndims-1]
 *        (the imaginary parts Hermitian symmetry makes redundant are ignored). in is untouched.
 *   Any input strides. out must not overlap in, except in == out exactly (c2c only, in place).
 * fft_wisdom_import: merge the planner's measurements exported by fft_wisdom_export
 *   (AG_ERR_FORMAT when the FFT library rejects the text).
 * fft_exec: runs a plan handle (see fft_plan in the struct) on views of the geometry it was
 *   made for (AG_ERR_INVALID otherwise) with any data, alignment or in-place-ness, then scales;
 *   thread-safe. fft_cache_stats fills the counters (astrograd/tensor.h); fft_cache_clear drops
 *   the cache's references (held handles stay valid).
 *
 * -- indexing --
 * gather: out[p] = in[p with coordinate dim replaced by idx[p]]. out and idx (i64) have one
 *   shape (idx may have stride 0 where broadcast: index_select); in has out's ndim and at least
 *   out's sizes on the dims != dim. Indices lie in [0, in.shape[dim]), or in [-size, size) when
 *   allow_neg (counted from the end); otherwise AG_ERR_INDEX naming `op`, the first bad index (in
 *   row-major order) and its position.
 * scatter_add: out[p with coordinate dim replaced by idx[p]] += src[p] for every p of idx's
 *   shape (src viewed with idx's shape; out at least idx's sizes on dims != dim). f32/f64/c64/
 *   c128/i64. Deterministic: each out element receives its terms in increasing order of p[dim],
 *   whatever the thread count (no atomics). Index rules and errors as gather.
 * scatter: as scatter_add with assignment (out[...] = src[p]): where several p reach one output
 *   element, the one with the largest p[dim] (the last in row-major order) wins, whatever the
 *   thread count. f32/f64/c64/c128/i64.
 * nonzero: out (i64 [nnz, ndim(in)], contiguous) <- coordinates of in's nonzero elements,
 *   row-major order; nnz must be the exact count.
 * cumsum: out <- inclusive cumulative sum of in along dim (reverse: from the end); same shape
 *   and dtype (f32/f64/c64/c128/i64); f32 accumulates in f64.
 * roll2d: over the last two dims (H, W) of two views of one shape and dtype (any dtype, any
 *   strides, out not overlapping in): out[..., i, j] = in[..., (i + s0) % H, c'] with
 *   c = (j + s1) % W and c' = flip ? W - 1 - c : c; 0 <= s0 < H, 0 <= s1 < W. The imaging
 *   layouts (fftshift and the sky flip of include/astrograd/imaging.h) in one pass.
 * hermitian_fill: over the last two dims of complex views (c64/c128, one dtype), H rows, n the
 *   full length of the last dim, c(z) = conj z when conjugate, else z. adjoint false: out (..., H, n)
 *   <- scale c(F(in)) for in (..., H, n/2 + 1), F(in)[i, j] = in[i, j] for j <= n/2 and
 *   conj in[(H - i) % H, n - j] beyond (a real signal's spectrum from its rfft half plane).
 *   adjoint true: out (..., H, n/2 + 1) <- scale c(Fᵀ(in)) for in (..., H, n), Fᵀ(in)[i, j] =
 *   in[i, j] + (1 <= j <= (n - 1)/2 ? conj in[(H - i) % H, n - j] : 0), F's real adjoint.
 * sort: idx (i64, in's shape) <- for each row along dim, the positions of in's elements in
 *   stably sorted order (ascending, or descending; NaN counts as the largest value, as torch;
 *   equal values keep their order). f32/f64/i64; any strides.
 *
 * -- convolution --
 * Cross-correlation (PyTorch's conv) on contiguous 4-d views, f32/f64:
 * x [N,C,H,W], w [O,C/groups,KH,KW], y [N,O,HO,WO] (HO, WO taken from y: any size, positions
 * reading outside x read zeros, so asymmetric "same" padding is just a bigger HO):
 *   y[n,o,i,j] = bias[o] + sum_{c,p,q} w[o,c,p,q] x[n, (o/(O/groups))*(C/groups)+c,
 *                                                   i*s0 - pad0 + p*d0, j*s1 - pad1 + q*d1]
 * conv2d writes y (bias: [O] or NULL); conv2d_backward_input writes the x-shaped adjoint
 * dx = d<y,dy>/dx (conv_transpose2d); conv2d_backward_weight writes dw = d<y,dy>/dw.
 * pool2d: over the last two dims of contiguous 4-d views [N,C,H,W] -> [N,C,HO,WO] (implicit
 *   padding: -inf for max, zeros counted in the divisor kh*kw for avg). MAX writes idx (i64,
 *   flat h*W+w of the first maximum; NaN wins); pool2d_backward overwrites gin: max scatters
 *   gout to idx, avg spreads gout/(kh*kw) over each window.
 * pad: contiguous views of equal ndim: out index o along dim d reads in index o - lo[d], mapped
 *   back into range by `mode` (constant: `value` outside). pad_backward overwrites gin with the
 *   sum of gout over the out elements that read each in element.
 * upsample2d: resampling of the last two dims of contiguous 4-d views, as F.interpolate (sizes
 *   given, no scale factors); upsample2d_backward overwrites gin with the adjoint.
 *
 * -- solvers --
 * Batched dense factorisations and solves. Matrix views are [..., rows, cols]; the batch dims
 * ("...") are the same on every view of a call (inputs may broadcast with stride 0; any
 * strides). info (i64, batch shape) receives LAPACK's status per matrix: 0 = success, i > 0
 * = the 1-based index of the zero pivot / failing minor; the front end words the error.
 * lu_factor: lu <- L and U of P a = L U packed (unit L strictly below the diagonal, U on
 *   and above), piv (i64 [..., n]) <- the 1-based row interchanges, as LAPACK's getrf.
 * lu_solve: x [..., n, k] <- A^-1 b (adjoint: A^-H b) from lu_factor's lu and piv.
 * cholesky: l <- L with a = L L^H (upper: U with a = U^H U), the other triangle zeroed; reads
 *   only that triangle of a. info i > 0: the leading minor of order i is not positive definite.
 * triangular_solve: x [..., n, k] <- A^-1 b, A the upper or lower triangle of a (unit diagonal
 *   assumed when unitriangular). info i > 0: A[i-1, i-1] == 0 (x not written). Right-sided and
 *   transposed solves are this one on transposed views.
 * qr: reduced QR of a [..., m, n] (k = min(m, n)): q [..., m, k] (orthonormal columns),
 *   r [..., k, n] upper triangular (zeros below), as LAPACK geqrf + orgqr. Real f32/f64 only.
 * eigh: w [..., n] <- the eigenvalues (ascending) and v [..., n, n] the orthonormal eigenvectors
 *   (columns) of the symmetric matrix whose lower triangle is a's (syevd). info i > 0: did not
 *   converge. Real f32/f64 only.
 * svd: reduced SVD a = u diag(s) vh, u [..., m, k], s [..., k] descending, vh [..., k, n]
 *   (gesdd). info i > 0: did not converge. Real f32/f64 only.
 *
 * -- imaging --
 * Sums are deterministic: fixed blocks of rows (independent of the thread count), then an
 * ordered reduction; f32 accumulates in f64.
 * vis_loss: the loss `kind` (ag_vis_loss_op) of contiguous 1-d views m, d (complex, one dtype),
 *   w (its real dtype) and mask (bool, or data NULL: all) into out (0-d, real): with
 *   chi2 = sum w|d - m|^2 and N the number of selected elements, CHI2 = chi2, RCHI2 = chi2/(2N),
 *   LOGLIK = -N ln 2pi + sum ln w - chi2/2, NLL_AVG = -LOGLIK/(2N). aux (1 element, f64) <- N for
 *   the backward. A selected weight that is NaN or negative (zero too for LOGLIK/NLL_AVG), or no
 *   selected element for RCHI2/LOGLIK/NLL_AVG: AG_ERR_INVALID naming `op` and the first such
 *   element.
 * vis_loss_backward: gm <- g dL/dRe m + i g dL/dIm m (PyTorch's convention; g a 1-element view
 *   of the upstream gradient, aux the forward's); gw (data NULL: not wanted) <- g dL/dw;
 *   zero where the mask is false.
 * image_prior: the regularizer `kind` (ag_prior_op) of s (3-d [C, H, W], any strides) into
 *   out (0-d): TV_IMAGE sum_{c, j<H-1, k<W-1} sqrt((s[c,j,k+1]-s[c,j,k])^2 + (s[c,j+1,k]-s[c,j,k])^2
 *   + param); TSV the same without the root and param; TV_CHANNEL sum_{c<C-1} sqrt((s[c+1]-s[c])^2
 *   + param); ENTROPY (1/param) sum s ln(s/p) (p: s's shape, any strides: s < 0 or p <= 0 is
 *   AG_ERR_INVALID naming `op` and the flat index); SPARSITY sum |s| where mask (bool, s's shape;
 *   data NULL: everywhere); EDGE_CLAMP sum of s^2 over rows 0 and H-1 plus columns 0 and W-1
 *   (corners twice, as MPoL's edge_clamp). param[0] is the kind's parameter, except for SUM:
 *   param[0] c_e sum s ln(s/p) + param[1] sum |s| + param[2] TV_IMAGE(ε = param[3]) + param[4] TSV,
 *   s contiguous, p a single value (strides 0; data NULL when param[0] is 0), no mask; the
 *   entropy's checks as ENTROPY's when param[0] != 0.
 * image_prior_backward: gs (contiguous, s's shape) <- g d(prior)/ds; gp (ENTROPY only, data
 *   NULL: not wanted; contiguous, s's shape) <- g d(prior)/dp before broadcasting is undone.
 * dft: the direct DFT of a packed image (include/astrograd/imaging.h, ag_dft). Image views are
 *   [C, npix, npix] (npix even, packed order: index i <-> n_i = i for i < npix/2, i - npix after),
 *   visibility views [C, nvis] complex, u and v [C, nvis] real f32/f64 (stride 0 along C when
 *   shared), θ = sign 2π dl. adjoint false: out (visibilities) <- scale Σ_{j,i} in[c, j, i]
 *   e^{iθ(u_ck n_i + v_ck n_j)}, in real or complex. adjoint true: out (complex image) <- scale
 *   Σ_k in[c, k] e^{-iθ(u_ck n_i + v_ck n_j)}. Sums in double; deterministic (no atomics).
 * nufft_interp, nufft_spread: the NuFFT's kernel steps (imaging/nufft.c) on a contiguous complex
 *   fine grid [C, n, n] (c64/c128) and points pts [C, M, 2] f64 (x, y) in fine cells in [0, n)
 *   (x along the last dim), sorted by bin, with perm [C, M] i64 their original indices (pts, perm,
 *   bins: stride 0 along C when shared). A point's weights along one axis: x0 = ceil(x - w/2),
 *   z = 2(x - x0 - w/2 + 1) - 1 in (-1, 1], weight j (cell x0 + j, mod n) = Σ_d coef[d, j]
 *   z^(D-1-d) (coef [D, w] f64, Horner order), 2 <= w <= 16, n >= w + 2. interp: out [C, M]
 *   (the grid's dtype, any strides) <- out[c, perm[k]] = Σ_ab wy_a wx_b grid[c, y0 + a, x0 + b].
 *   spread: grid <- its adjoint, Σ over points of vis[c, perm[k]] wy_a wx_b (vis [C, M], any
 *   strides). bins [C, ntile² + 1] i64: offsets into the sorted points of bin ty·ntile + tx, the
 *   points with floor(y) in [ty n/ntile, (ty+1) n/ntile) and floor(x) likewise (integer
 *   division); ntile 1, or even with tiles of at least w + 2 cells. Deterministic: the same bits
 *   whatever the thread count (no atomics). */
#define AG_KERNEL_ENTRIES(X) \
    X(copy, (const ag_kview *dst, const ag_kview *src), (dst, src), (dst, src)) \
    X(fill, (const ag_kview *dst, double re, double im), (dst, re, im), (dst)) \
    X(unary, (ag_unary_op op, const ag_kview *out, const ag_kview *in, const double *params), \
      (op, out, in, params), (out, in)) \
    X(unary_backward, (ag_unary_op op, const ag_kview *gin, const ag_kview *g, const ag_kview *x, const double *params), \
      (op, gin, g, x, params), (gin, g, x)) \
    X(binary, (ag_binary_op op, const ag_kview *out, const ag_kview *a, const ag_kview *b), \
      (op, out, a, b), (out, a, b)) \
    X(where, (const ag_kview *out, const ag_kview *cond, const ag_kview *a, const ag_kview *b), \
      (out, cond, a, b), (out, cond, a, b)) \
    X(reduce, (ag_reduce_op op, const ag_kview *out, const ag_kview *idx, const ag_kview *in), \
      (op, out, idx, in), (out, idx, in)) \
    X(gemm, (const ag_kview *out, const ag_kview *a, const ag_kview *b, bool conj_a, bool conj_b), \
      (out, a, b, conj_a, conj_b), (out, a, b)) \
    X(rng, (ag_rng_dist dist, const ag_kview *out, uint64_t seed, uint64_t offset, double p0, double p1), \
      (dist, out, seed, offset, p0, p1), (out)) \
    X(sgd_step, (const ag_kview *param, const ag_kview *grad, const ag_kview *buf, const double *hyper), \
      (param, grad, buf, hyper), (param, grad, buf)) \
    X(adam_step, (const ag_kview *param, const ag_kview *grad, const ag_kview *exp_avg, \
                  const ag_kview *exp_avg_sq, const ag_kview *max_sq, const double *hyper), \
      (param, grad, exp_avg, exp_avg_sq, max_sq, hyper), (param, grad, exp_avg, exp_avg_sq, max_sq)) \
    X(rmsprop_step, (const ag_kview *param, const ag_kview *grad, const ag_kview *square_avg, \
                     const ag_kview *grad_avg, const ag_kview *momentum_buf, const double *hyper), \
      (param, grad, square_avg, grad_avg, momentum_buf, hyper), (param, grad, square_avg, grad_avg, momentum_buf)) \
    X(fft, (ag_fft_kind kind, const ag_kview *out, const ag_kview *in, const int *dims, int ndims, double scale), \
      (kind, out, in, dims, ndims, scale), (out, in)) \
    X(fft_wisdom_import, (const char *text), (text), ()) \
    X(fft_exec, (ag_kplan *plan, const ag_kview *out, const ag_kview *in, double scale), (plan, out, in, scale), \
      (out, in)) \
    X(fft_cache_stats, (ag_fft_cache_stats *s), (s), ()) \
    X(fft_cache_clear, (void), (), ()) \
    X(gather, (const char *op, const ag_kview *out, const ag_kview *in, const ag_kview *idx, int dim, \
               bool allow_neg), (op, out, in, idx, dim, allow_neg), (out, in, idx)) \
    X(scatter_add, (const char *op, const ag_kview *out, const ag_kview *idx, const ag_kview *src, int dim, \
                    bool allow_neg), (op, out, idx, src, dim, allow_neg), (out, idx, src)) \
    X(scatter, (const char *op, const ag_kview *out, const ag_kview *idx, const ag_kview *src, int dim, \
                bool allow_neg), (op, out, idx, src, dim, allow_neg), (out, idx, src)) \
    X(nonzero, (const ag_kview *out, const ag_kview *in), (out, in), (out, in)) \
    X(cumsum, (const ag_kview *out, const ag_kview *in, int dim, bool reverse), (out, in, dim, reverse), (out, in)) \
    X(sort, (const ag_kview *idx, const ag_kview *in, int dim, bool descending), (idx, in, dim, descending), \
      (idx, in)) \
    X(roll2d, (const ag_kview *out, const ag_kview *in, int64_t s0, int64_t s1, bool flip), (out, in, s0, s1, flip), \
      (out, in)) \
    X(hermitian_fill, (const ag_kview *out, const ag_kview *in, int64_t n, double scale, bool conjugate, bool adjoint), \
      (out, in, n, scale, conjugate, adjoint), (out, in)) \
    X(conv2d, (const ag_kview *y, const ag_kview *x, const ag_kview *w, const ag_kview *bias, \
               const ag_conv_params *p), (y, x, w, bias, p), (y, x, w, bias)) \
    X(conv2d_backward_input, (const ag_kview *dx, const ag_kview *dy, const ag_kview *w, \
                              const ag_conv_params *p), (dx, dy, w, p), (dx, dy, w)) \
    X(conv2d_backward_weight, (const ag_kview *dw, const ag_kview *dy, const ag_kview *x, \
                               const ag_conv_params *p), (dw, dy, x, p), (dw, dy, x)) \
    X(pool2d, (ag_pool_op op, const ag_kview *out, const ag_kview *idx, const ag_kview *in, \
               const ag_pool_params *p), (op, out, idx, in, p), (out, idx, in)) \
    X(pool2d_backward, (ag_pool_op op, const ag_kview *gin, const ag_kview *gout, const ag_kview *idx, \
                        const ag_pool_params *p), (op, gin, gout, idx, p), (gin, gout, idx)) \
    X(pad, (const ag_kview *out, const ag_kview *in, ag_pad_mode mode, const int64_t *lo, double value), \
      (out, in, mode, lo, value), (out, in)) \
    X(pad_backward, (const ag_kview *gin, const ag_kview *gout, ag_pad_mode mode, const int64_t *lo), \
      (gin, gout, mode, lo), (gin, gout)) \
    X(upsample2d, (ag_upsample_mode mode, const ag_kview *out, const ag_kview *in, bool align_corners), \
      (mode, out, in, align_corners), (out, in)) \
    X(upsample2d_backward, (ag_upsample_mode mode, const ag_kview *gin, const ag_kview *gout, \
                            bool align_corners), (mode, gin, gout, align_corners), (gin, gout)) \
    X(lu_factor, (const ag_kview *lu, const ag_kview *piv, const ag_kview *info, const ag_kview *a), \
      (lu, piv, info, a), (lu, piv, info, a)) \
    X(lu_solve, (const ag_kview *x, const ag_kview *lu, const ag_kview *piv, const ag_kview *b, bool adjoint), \
      (x, lu, piv, b, adjoint), (x, lu, piv, b)) \
    X(cholesky, (const ag_kview *l, const ag_kview *info, const ag_kview *a, bool upper), \
      (l, info, a, upper), (l, info, a)) \
    X(triangular_solve, (const ag_kview *x, const ag_kview *info, const ag_kview *a, const ag_kview *b, \
                         bool upper, bool unitriangular), (x, info, a, b, upper, unitriangular), (x, info, a, b)) \
    X(qr, (const ag_kview *q, const ag_kview *r, const ag_kview *a), (q, r, a), (q, r, a)) \
    X(eigh, (const ag_kview *w, const ag_kview *v, const ag_kview *info, const ag_kview *a), \
      (w, v, info, a), (w, v, info, a)) \
    X(svd, (const ag_kview *u, const ag_kview *s, const ag_kview *vh, const ag_kview *info, const ag_kview *a), \
      (u, s, vh, info, a), (u, s, vh, info, a)) \
    X(vis_loss, (const char *op, ag_vis_loss_op kind, const ag_kview *out, const ag_kview *aux, const ag_kview *m, \
                 const ag_kview *d, const ag_kview *w, const ag_kview *mask), (op, kind, out, aux, m, d, w, mask), \
      (out, aux, m, d, w, mask)) \
    X(vis_loss_backward, (ag_vis_loss_op kind, const ag_kview *gm, const ag_kview *gw, const ag_kview *g, \
                          const ag_kview *aux, const ag_kview *m, const ag_kview *d, const ag_kview *w, \
                          const ag_kview *mask), (kind, gm, gw, g, aux, m, d, w, mask), (gm, gw, g, aux, m, d, w, mask)) \
    X(image_prior, (const char *op, ag_prior_op kind, const ag_kview *out, const ag_kview *s, const ag_kview *p, \
                    const ag_kview *mask, const double *param), (op, kind, out, s, p, mask, param), (out, s, p, mask)) \
    X(image_prior_backward, (ag_prior_op kind, const ag_kview *gs, const ag_kview *gp, const ag_kview *g, \
                             const ag_kview *s, const ag_kview *p, const ag_kview *mask, const double *param), \
      (kind, gs, gp, g, s, p, mask, param), (gs, gp, g, s, p, mask)) \
    X(dft, (const ag_kview *out, const ag_kview *in, const ag_kview *u, const ag_kview *v, double dl, \
            double scale, int sign, bool adjoint), (out, in, u, v, dl, scale, sign, adjoint), (out, in, u, v)) \
    X(nufft_interp, (const ag_kview *out, const ag_kview *grid, const ag_kview *pts, const ag_kview *perm, \
                     const ag_kview *coef, int w), (out, grid, pts, perm, coef, w), (out, grid, pts, perm, coef)) \
    X(nufft_spread, (const ag_kview *grid, const ag_kview *vis, const ag_kview *pts, const ag_kview *perm, \
                     const ag_kview *bins, const ag_kview *coef, int w, int ntile), \
      (grid, vis, pts, perm, bins, coef, w, ntile), (grid, vis, pts, perm, bins, coef))

typedef struct ag_kernels {
    const char *name;
    /* -- memory: the backend's caching allocator and host transfers -- */
    void *(*alloc)(size_t nbytes);             /* NULL on failure, no error recorded */
    void (*free)(void *p, size_t nbytes);
    /* nbytes between host memory and this backend's memory (to_host: dst is host memory),
     * complete on return. NULL for the CPU (memcpy). */
    int (*transfer)(void *dst, const void *src, size_t nbytes, bool to_host);
    /* The FFT planner's accumulated measurements (FFTW wisdom, both precisions) as text:
     * malloc'd, NULL with the error set on failure; NULL entry where the backend has none. */
    char *(*fft_wisdom_export)(void);
    /* -- plans -- FFT plans, made once per geometry and cached by the backend (FFTW_MEASURE
     * plans on the CPU cost far more to make than to run). fft_plan: a handle for the transform
     * `fft` would run on views of this geometry (kind, both views' shapes, strides and dtypes,
     * dims; same checks and errors as fft), from the cache or made now; NULL with the error set
     * on failure. The views' data pointers only give the alignment to plan for (they may be
     * NULL). A handle is refcounted: fft_plan and plan_retain each give the caller one
     * reference, plan_release (NULL: no-op) drops one; the cache holds its own, so a held handle
     * stays valid across calls, evictions and fft_cache_clear until its last release. The handle
     * runs through the fft_exec entry. */
    ag_kplan *(*fft_plan)(ag_fft_kind kind, const ag_kview *out, const ag_kview *in, const int *dims, int ndims);
    ag_kplan *(*plan_retain)(ag_kplan *plan);
    void (*plan_release)(ag_kplan *plan);
#define AG_KERNEL_MEMBER(name, params, args, views) int (*name) params;
    AG_KERNEL_ENTRIES(AG_KERNEL_MEMBER)
#undef AG_KERNEL_MEMBER
} ag_kernels;


const ag_kernels *ag_kernels_for(ag_device dev);  /* NULL if the device kind is not built */
/* why CUDA cannot be used ("" when it can): no backend in this build, the module did not load
 * (the loader's message), or no driver or GPU */
const char *ag_cuda_unavailable_reason(void);
extern const ag_kernels ag_cpu_kernels;

/* Names of the entries of k that are NULL (not implemented on that backend), in list order:
 * fills names[0..cap) and returns how many are missing in all. */
int ag_kernels_missing(const ag_kernels *k, const char **names, int cap);
/* Number of generated entries, and the name of entry i (NULL when out of range). */
int ag_kernels_count(void);
const char *ag_kernels_entry_name(int i);

#endif
