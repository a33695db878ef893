/* astrograd/nn.h — modules (layers with named parameters and buffers), activations, losses,
 * constrained parameters with priors, and HDF5 checkpoints.
 *
 * Lifetimes (read once):
 *  - An ag_module owns its parameters, buffers and children. ag_module_free(m) frees the whole
 *    tree; a child added to a parent belongs to the parent from then on (do not free it).
 *  - ag_module_add_param/add_buffer/add take over the reference they are given (also from a
 *    scope), on success and on failure: `ag_module_add_param(m, "w", ag_zeros(...))` never leaks.
 *  - ag_module_param / ag_module_buffer / ag_module_child return BORROWED pointers, valid until
 *    the module is changed (ag_module_to*, ag_module_load keep the same tensors where they can)
 *    or freed. ag_module_value and ag_forward return NEW references, as every op.
 *  - ag_params lists (ag_module_params, ag_module_buffers) are borrowed from the module and stay
 *    valid until the tree's structure changes (adding, moving to another device/dtype) or it is
 *    freed; optimizers copy the list.
 *  - Layers are created in the default dtype (ag_get_default_dtype(), f64 unless changed) on the
 *    CPU; ag_module_to_dtype converts a whole tree.
 *  - Errors follow tensor.h: functions returning pointers give NULL, functions returning int give
 *    a negative ag_status; ag_last_error() says what went wrong. A NULL module/tensor argument
 *    whose error is already recorded (e.g. a failed constructor nested in a call) just passes it on.
 *
 * Writing a module (the scarlet2 Source of the README):
 *
 *     static ag_tensor *source_forward(ag_module *m, ag_tensor *x) {
 *         (void)x;
 *         ag_tensor *s = ag_module_value(m, "spectrum");              // [C]
 *         ag_tensor *mo = ag_module_value(m, "morphology");           // [H, W]
 *         return ag_mul(ag_reshape(s, AG_SHAPE(-1, 1, 1)), ag_unsqueeze(mo, 0));
 *     }
 *     static const ag_module_class source_class = {.name = "Source", .forward = source_forward};
 *
 *     ag_module *source_new(int64_t C, int64_t H, int64_t W) {
 *         ag_module *m = ag_module_new(&source_class);
 *         if (ag_module_add_param_constrained(m, "spectrum", ag_ones(AG_SHAPE(C), AG_F64), AG_POSITIVE) < 0 ||
 *             ag_module_add_param(m, "morphology", ag_full(AG_SHAPE(H, W), 0.1, AG_F64)) < 0) {
 *             ag_module_free(m);
 *             return NULL;
 *         }
 *         return m;
 *     }
 *
 * (tests/test_nn_custom.c is this module, fitted with plain gradient steps.)
 *
 * ag_forward runs forward inside a scope, so temporaries made there are released on return.
 */
#ifndef ASTROGRAD_NN_H
#define ASTROGRAD_NN_H

#include "tensor.h"
#include "autograd.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ag_module ag_module;
typedef struct ag_optim ag_optim; /* astrograd/optim.h */

/* ---- modules -------------------------------------------------------------------------- */

typedef struct ag_module_class {
    const char *name;                                   /* type name: "Linear" */
    ag_tensor *(*forward)(ag_module *m, ag_tensor *x);  /* new reference or NULL (error set) */
    void (*free)(ag_module *m);   /* optional: release what ag_module_self(m) holds (not params) */
    size_t self_size;             /* bytes of zeroed private state reachable by ag_module_self */
} ag_module_class;

/* A module of class cls (borrowed: must outlive the module), in training mode. */
AG_API ag_module *ag_module_new(const ag_module_class *cls);
AG_API void ag_module_free(ag_module *m);               /* frees children too; NULL is a no-op */
AG_API void *ag_module_self(ag_module *m);             /* the class's private state, or NULL */
AG_API const char *ag_module_type(const ag_module *m); /* cls->name */

/* Forward pass: m's forward inside its own scope; new reference or NULL. x may be NULL for
 * modules that take no input (their forward decides). */
AG_API ag_tensor *ag_forward(ag_module *m, ag_tensor *x);

/* Registration. Names: non-empty, no '.', unique within the module (params, buffers and
 * children share one namespace). A parameter must be a floating-point leaf; it is set to
 * require grad. Buffers are state that is saved but not trained (running statistics). */
AG_API int ag_module_add_param(ag_module *m, const char *name, ag_tensor *t);
AG_API int ag_module_add_buffer(ag_module *m, const char *name, ag_tensor *t);
AG_API int ag_module_add(ag_module *parent, const char *name, ag_module *child);

/* Look-ups by name, dotted for descendants ("encoder.0.weight"). Borrowed; NULL with an error
 * ("ag_module_param: no parameter 'x' in Linear") when absent. ag_module_param gives the stored
 * (unconstrained) leaf, which the optimizer updates. */
AG_API ag_tensor *ag_module_param(ag_module *m, const char *name);
AG_API ag_tensor *ag_module_buffer(ag_module *m, const char *name);
AG_API ag_module *ag_module_child(ag_module *m, const char *name);
AG_API int ag_module_num_children(const ag_module *m);
AG_API ag_module *ag_module_child_at(ag_module *m, int i); /* borrowed; NULL when out of range */

/* The value forward should use: the constrained value of a constrained parameter, the
 * parameter itself (an alias) otherwise. New reference; differentiable. */
AG_API ag_tensor *ag_module_value(ag_module *m, const char *name);

/* All parameters (recursively, in registration order, children after the module's own) with
 * their dotted names, as an optimizer takes them. Borrowed, see the lifetimes above. An empty
 * list (n = 0) is valid; on error n = 0 and the error is set. */
AG_API ag_params ag_module_params(ag_module *m);
AG_API ag_params ag_module_buffers(ag_module *m);
AG_API int64_t ag_module_num_params(ag_module *m); /* total number of parameter elements */

AG_API void ag_module_train(ag_module *m, bool on); /* recursive; modules start in training mode */
AG_API void ag_module_eval(ag_module *m);           /* ag_module_train(m, false) */
AG_API bool ag_module_is_training(const ag_module *m);
AG_API void ag_module_zero_grad(ag_module *m);      /* drops every parameter's .grad */
/* Move every parameter and buffer (all or none: the module is unchanged on error). */
AG_API int ag_module_to(ag_module *m, ag_device dev);
/* Convert floating-point parameters and buffers to dt (f32/f64); integer buffers stay. */
AG_API int ag_module_to_dtype(ag_module *m, ag_dtype dt);

/* The tree, PyTorch style: "Sequential(\n  (0): Linear(in_features=4, ...)\n ...)". The text
 * after the type name comes from ag_module_set_extra_repr (printf-style). */
AG_API int ag_module_fprint(FILE *f, const ag_module *m);
AG_API int ag_module_print(const ag_module *m);
AG_API int ag_module_set_extra_repr(ag_module *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- constrained parameters and priors (scarlet2 style) -------------------------------- */

typedef enum ag_transform_kind {
    AG_TRANSFORM_NONE = 0,
    AG_TRANSFORM_SOFTPLUS,   /* positive: softplus(u) */
    AG_TRANSFORM_EXP,        /* positive: exp(u) */
    AG_TRANSFORM_INTERVAL,   /* (a, b): a + (b - a) sigmoid(u) */
    AG_TRANSFORM_SOFTMAX,    /* simplex along the last dim: softmax(u, -1) */
    AG_TRANSFORM_NORMALIZE   /* sums to 1 over all elements: u / sum(u) */
} ag_transform_kind;
typedef struct ag_transform { ag_transform_kind kind; double a, b; } ag_transform;
#define AG_UNCONSTRAINED ((ag_transform){AG_TRANSFORM_NONE, 0, 0})
#define AG_POSITIVE ((ag_transform){AG_TRANSFORM_SOFTPLUS, 0, 0})
#define AG_POSITIVE_EXP ((ag_transform){AG_TRANSFORM_EXP, 0, 0})
#define AG_INTERVAL(lo, hi) ((ag_transform){AG_TRANSFORM_INTERVAL, (lo), (hi)})
#define AG_SIMPLEX ((ag_transform){AG_TRANSFORM_SOFTMAX, 0, 0})
#define AG_NORMALIZED ((ag_transform){AG_TRANSFORM_NORMALIZE, 0, 0})

/* Register a parameter from its constrained initial value (which must satisfy the constraint:
 * > 0, inside (a, b), > 0 for the simplex, non-zero sum for normalized). The module stores the
 * unconstrained u (the leaf the optimizer sees); ag_module_value gives the constrained value. */
AG_API int ag_module_add_param_constrained(ag_module *m, const char *name, ag_tensor *value, ag_transform tr);
/* Apply a transform to u / invert it (new references; the inverse is not differentiated). */
AG_API ag_tensor *ag_transform_forward(ag_transform tr, ag_tensor *u);
AG_API ag_tensor *ag_transform_inverse(ag_transform tr, ag_tensor *x);

typedef enum ag_prior_kind { AG_PRIOR_KIND_NORMAL = 1, AG_PRIOR_KIND_UNIFORM, AG_PRIOR_KIND_LOGNORMAL } ag_prior_kind;
typedef struct ag_prior { ag_prior_kind kind; double a, b; } ag_prior;
#define AG_PRIOR_NORMAL(mu, sigma) ((ag_prior){AG_PRIOR_KIND_NORMAL, (mu), (sigma)})
#define AG_PRIOR_UNIFORM(lo, hi) ((ag_prior){AG_PRIOR_KIND_UNIFORM, (lo), (hi)})   /* -inf outside */
#define AG_PRIOR_LOGNORMAL(mu, sigma) ((ag_prior){AG_PRIOR_KIND_LOGNORMAL, (mu), (sigma)}) /* of log x */

/* Elementwise log density of x under p (torch.distributions' log_prob). */
AG_API ag_tensor *ag_prior_log_prob(ag_prior p, ag_tensor *x);
/* Attach a prior to parameter `name` (dotted allowed); it applies to the constrained value.
 * One prior per parameter (a second call replaces the first). */
AG_API int ag_module_set_prior(ag_module *m, const char *name, ag_prior p);
/* Sum of the log priors of every parameter in the tree that has one: a 0-d differentiable
 * tensor to add to (or subtract from) the loss; 0 when there are none. */
AG_API ag_tensor *ag_module_log_prior(ag_module *m);

/* ---- functional forms (the layers below call these) --------------------------------- */
AG_API ag_tensor *ag_leaky_relu(ag_tensor *x, double negative_slope);
AG_API ag_tensor *ag_elu(ag_tensor *x, double alpha);
typedef enum ag_gelu_approx { AG_GELU_EXACT = 0, AG_GELU_TANH = 1 } ag_gelu_approx;
AG_API ag_tensor *ag_gelu(ag_tensor *x, ag_gelu_approx approx); /* exact: x Phi(x) via erf */
AG_API ag_tensor *ag_silu(ag_tensor *x);                        /* x sigmoid(x) */
AG_API ag_tensor *ag_softmax(ag_tensor *x, int dim);
AG_API ag_tensor *ag_log_softmax(ag_tensor *x, int dim);
/* x [..., in] @ weight[out, in]^T + bias[out]; bias may be NULL. */
AG_API ag_tensor *ag_linear(ag_tensor *x, ag_tensor *weight, ag_tensor *bias);
/* x [N, C, ...]. training: normalise with the batch statistics (biased variance) and, when
 * running_mean/var are given, update them in place: r = (1 - momentum) r + momentum stat
 * (unbiased variance), as PyTorch. Not training: use running_mean/var (required).
 * weight/bias [C] may be NULL. */
AG_API ag_tensor *ag_batch_norm(ag_tensor *x, ag_tensor *running_mean, ag_tensor *running_var,
                                ag_tensor *weight, ag_tensor *bias, bool training, double momentum, double eps);
/* x [N, C, ...] with C divisible by groups; weight/bias [C] may be NULL. */
AG_API ag_tensor *ag_group_norm(ag_tensor *x, int64_t groups, ag_tensor *weight, ag_tensor *bias, double eps);
/* Normalise over the last ndim dims, which must equal shape; weight/bias of that shape or NULL. */
AG_API ag_tensor *ag_layer_norm(ag_tensor *x, const int64_t *shape, int ndim, ag_tensor *weight,
                                ag_tensor *bias, double eps);
/* torch.nn.functional.embedding: rows of weight [num, dim] picked by an i64 index of any shape
 * (each in [0, num)); the result is [idx shape..., dim]. */
AG_API ag_tensor *ag_embedding(ag_tensor *weight, ag_tensor *idx);
/* Zeroes each element with probability p (drawn from the global generator, ag_manual_seed)
 * and scales the rest by 1/(1-p) when training; x itself (an alias) otherwise. */
AG_API ag_tensor *ag_dropout(ag_tensor *x, double p, bool training);

/* ---- layers (PyTorch's default initialisation, drawn with ag_rand) ----------------------- */
/* weight [out, in] ~ kaiming_uniform(a = sqrt 5) = U(-1/sqrt(in), 1/sqrt(in)), bias the same. */
AG_API ag_module *ag_nn_linear(int64_t in_features, int64_t out_features, bool bias);
/* Takes over the n modules (also on failure); children are named "0", "1", ... */
AG_API ag_module *ag_nn_sequential(ag_module *const *mods, int n);
#define AG_SEQUENTIAL(...) ag_nn_sequential((ag_module *const[]){__VA_ARGS__}, \
    (int)(sizeof((ag_module *const[]){__VA_ARGS__}) / sizeof(ag_module *)))
AG_API int ag_nn_sequential_append(ag_module *seq, ag_module *m); /* takes over m */
AG_API ag_module *ag_nn_identity(void);
AG_API ag_module *ag_nn_flatten(int start_dim, int end_dim);     /* PyTorch's default: 1, -1 */
AG_API ag_module *ag_nn_relu(void);
AG_API ag_module *ag_nn_leaky_relu(double negative_slope);      /* PyTorch's default: 0.01 */
AG_API ag_module *ag_nn_elu(double alpha);                      /* 1.0 */
AG_API ag_module *ag_nn_gelu(ag_gelu_approx approx);
AG_API ag_module *ag_nn_silu(void);
AG_API ag_module *ag_nn_softplus(double beta, double threshold); /* 1, 20 */
AG_API ag_module *ag_nn_sigmoid(void);
AG_API ag_module *ag_nn_tanh(void);
AG_API ag_module *ag_nn_dropout(double p);                       /* 0.5; identity in eval mode */
/* torch.nn.Embedding: parameter weight [num_embeddings, embedding_dim] ~ N(0, 1); forward takes
 * an i64 index tensor of any shape (ag_embedding). padding_idx in [-num, num) (negatives count from
 * the end): that row starts at zero and gets no gradient; AG_NO_PADDING_IDX for none. */
#define AG_NO_PADDING_IDX INT64_MIN
AG_API ag_module *ag_nn_embedding(int64_t num_embeddings, int64_t embedding_dim, int64_t padding_idx);

/* Convolutions (ag_conv2d / ag_conv_transpose2d; opts NULL = stride 1, no padding, groups 1,
 * copied). Conv2d: weight [out, in/groups, kh, kw]; ConvTranspose2d: weight [in, out/groups, kh, kw];
 * bias [out]. Init as PyTorch: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with fan_in = weight's
 * size(1) * kh * kw, for weight and bias. */
AG_API ag_module *ag_nn_conv2d(int64_t in_channels, int64_t out_channels, int64_t kh, int64_t kw, bool bias,
                               const ag_conv_opts *opts);
AG_API ag_module *ag_nn_conv_transpose2d(int64_t in_channels, int64_t out_channels, int64_t kh, int64_t kw,
                                         bool bias, const ag_conv_opts *opts);

typedef struct ag_norm_opts {
    double eps;             /* 0 = 1e-5 */
    double momentum;        /* BatchNorm running statistics; 0 = 0.1; negative = 0 (frozen) */
    bool no_affine;         /* no learnable weight (ones) and bias (zeros) */
    bool no_running_stats;  /* BatchNorm: no buffers, batch statistics in eval mode too */
} ag_norm_opts;
/* Parameters weight [C], bias [C]; buffers running_mean [C], running_var [C],
 * num_batches_tracked (0-d i64). Input [N, C, H, W]. */
AG_API ag_module *ag_nn_batchnorm2d(int64_t num_features, ag_norm_opts opts);
AG_API ag_module *ag_nn_groupnorm(int64_t num_groups, int64_t num_channels, ag_norm_opts opts);
AG_API ag_module *ag_nn_layernorm(const int64_t *shape, int ndim, ag_norm_opts opts);

/* ---- losses: input and target broadcast; the result is 0-d unless AG_REDUCE_NONE --------- */
/* AG_REDUCE_BATCHMEAN (the sum divided by the input's size(0)) is for ag_kl_div only */
typedef enum ag_reduction { AG_REDUCE_MEAN = 0, AG_REDUCE_SUM = 1, AG_REDUCE_NONE = 2, AG_REDUCE_BATCHMEAN = 3 } ag_reduction;
AG_API ag_tensor *ag_mse_loss(ag_tensor *input, ag_tensor *target, ag_reduction red);
AG_API ag_tensor *ag_l1_loss(ag_tensor *input, ag_tensor *target, ag_reduction red);
/* 0.5 r^2 where |r| < delta, delta (|r| - delta/2) elsewhere (torch.nn.HuberLoss) */
AG_API ag_tensor *ag_huber_loss(ag_tensor *input, ag_tensor *target, double delta, ag_reduction red);
/* huber / beta (torch.nn.SmoothL1Loss); beta = 0 is the L1 loss */
AG_API ag_tensor *ag_smooth_l1_loss(ag_tensor *input, ag_tensor *target, double beta, ag_reduction red);
/* Cauchy (Lorentzian) robust loss: log(1 + (r/c)^2) */
AG_API ag_tensor *ag_cauchy_loss(ag_tensor *input, ag_tensor *target, double c, ag_reduction red);
/* log(cosh(r)), computed without overflow */
AG_API ag_tensor *ag_log_cosh_loss(ag_tensor *input, ag_tensor *target, ag_reduction red);
/* torch.nn.GaussianNLLLoss: 0.5 (log max(var, eps) + r^2 / max(var, eps)) [+ 0.5 log 2 pi if
 * full]. var has input's shape, or one dim less, or a last dim of 1; must be >= 0. eps: 0 = 1e-6. */
AG_API ag_tensor *ag_gaussian_nll_loss(ag_tensor *input, ag_tensor *target, ag_tensor *var, bool full,
                                       double eps, ag_reduction red);
/* logits [N, C] or [N, C, d...]; target i64 class indices [N] / [N, d...] in [0, C), or class
 * probabilities of the logits' shape (float). No class weights, ignore_index or smoothing. */
AG_API ag_tensor *ag_cross_entropy(ag_tensor *logits, ag_tensor *target, ag_reduction red);
/* torch.nn.BCELoss: -weight (t log p + (1 - t) log(1 - p)), logs clamped at -100; p in [0, 1]
 * (not checked: outside it the loss is NaN), target of p's shape, weight NULL or broadcasting to it.
 * Where a log is clamped (p within e^-100 of 0 or 1) its gradient is 0 (PyTorch divides by
 * max(p (1 - p), 1e-12) there). */
AG_API ag_tensor *ag_binary_cross_entropy(ag_tensor *p, ag_tensor *target, ag_tensor *weight, ag_reduction red);
/* torch.nn.BCEWithLogitsLoss, in its stable form: weight ((1 - t) x + (1 + (pos_weight - 1) t)
 * softplus(-x)); weight and pos_weight ([C], broadcast against the target) may be NULL. */
AG_API ag_tensor *ag_binary_cross_entropy_with_logits(ag_tensor *x, ag_tensor *target, ag_tensor *weight,
                                                      ag_tensor *pos_weight, ag_reduction red);
/* torch.nn.NLLLoss: -weight[t] logp[n, t, d...]; logp [N, C] / [N, C, d...] / [C], target i64
 * [N] / [N, d...] / 0-d in [0, C) or equal to ignore_index (those count 0 and are left out of
 * the mean: sum / sum of weight[t] over the counted targets). weight [C] or NULL. */
AG_API ag_tensor *ag_nll_loss(ag_tensor *logp, ag_tensor *target, ag_tensor *weight, int64_t ignore_index,
                              ag_reduction red);
/* torch.nn.KLDivLoss: target (log t - input) elementwise, 0 where t = 0 (log_target: exp(t) (t -
 * input)); input holds log-probabilities. red also AG_REDUCE_BATCHMEAN (PyTorch's recommended one;
 * AG_REDUCE_MEAN averages over every element, as PyTorch). */
AG_API ag_tensor *ag_kl_div(ag_tensor *input, ag_tensor *target, ag_reduction red, bool log_target);

/* ---- checkpoints (HDF5; AG_ERR_NOTIMPL in builds without it) ----------------------------- */
/* Writes /params/<dotted.name>, /buffers/<dotted.name>, /optim/<state name> (when optim is not
 * NULL, with attributes optimizer and lr) and /meta attributes (astrograd_version,
 * schema_version = 2, module: the tree as ag_module_fprint prints it). Atomic: a temporary file
 * in the same directory, flushed, fsync'ed and renamed over path. Checksummed: the file uses the
 * HDF5 1.10 format (checksums on all metadata; h5py with HDF5 >= 1.10 reads it), tensor data is
 * chunked with the Fletcher32 filter, and 0-d and empty tensors are stored compact (inside
 * their checksummed object header). */
AG_API int ag_module_save(ag_module *m, const char *path, ag_optim *optim);
/* Reads a checkpoint into m (and optim, when not NULL: its state and lr). Every expected
 * dataset is checked (present, dtype, shape; no unexpected ones; stored under a checksum) and
 * read before anything is changed: on any error m and optim are left as they were. A corrupt
 * or truncated file fails with AG_ERR_FORMAT naming the file (and the dataset, when the data of
 * one fails its checksum). Files of schema 1 (no checksums) are refused. */
AG_API int ag_module_load(ag_module *m, const char *path, ag_optim *optim);


/* ---- surrogates (neurosynchro): column transforms, tables, a trained MLP in one file ----------
 * A surrogate replaces a slow function of n_in numbers to n_out numbers by an MLP trained on a
 * table the slow code wrote. Each column goes through a map chosen for it, then a normalisation
 * fitted on the training table; outputs are inverted the same way. All on host doubles: the
 * transforms are data preparation, not part of any graph. */
typedef enum ag_col_map {
    AG_MAP_IDENTITY = 0,
    AG_MAP_LOG10,    /* log10(x), x > 0: positive coefficients spanning many decades */
    AG_MAP_LOGIT,    /* log(x / (1 - x)), x in (0, 1): fractions */
    /* sign(x) log10(1 + |x| / linthresh): both signs and many decades (matplotlib's symlog).
     * Not neurosynchro's sign(x) log10(|x|), which folds |x| < 1 onto |x| > 1 and so has no
     * inverse; for |x| >> linthresh the two differ by the constant log10(linthresh). */
    AG_MAP_SIGNLOG
} ag_col_map;
typedef enum ag_col_norm {
    AG_NORM_NONE = 0,
    AG_NORM_MINMAX,  /* (m - min) / (max - min): the training set onto [0, 1] */
    AG_NORM_STANDARD /* (m - mean) / std (population std) */
} ag_col_norm;
/* z = (map(x) - offset) / scale. ag_col_fit sets offset and scale (0 and 1 for AG_NORM_NONE) and,
 * for AG_MAP_SIGNLOG when it is not > 0, linthresh (the linear range: |x| below it is compressed). */
typedef struct ag_col_transform { ag_col_map map; ag_col_norm norm; double offset, scale, linthresh; } ag_col_transform;

/* Fit t's offset and scale on x[0..n) (n >= 1; t->map and t->norm chosen by the caller, and
 * linthresh when > 0; otherwise it becomes the smallest non-zero |x|, 1 when all are 0). Fails
 * (AG_ERR_INVALID, naming the element) when a value is outside the map's domain or not finite,
 * or when the mapped column is constant under a normalisation (its scale would be 0). */
AG_API int ag_col_fit(ag_col_transform *t, const double *x, int64_t n);
/* z[i] = transform of x[i] (z may be x); AG_ERR_INVALID on a value outside the domain, or on a
 * transform without usable coefficients (scale 0 or not finite; sign-log: linthresh <= 0). */
AG_API int ag_col_apply(const ag_col_transform *t, const double *x, double *z, int64_t n);
/* x[i] = the inverse of z[i] (x may be z), exact to rounding; logit saturates at 0 and 1. The
 * same refusals of t as ag_col_apply. */
AG_API int ag_col_invert(const ag_col_transform *t, const double *z, double *x, int64_t n);

/* A table of named f64 columns, each col[j][0..nrows) (column-major). Owned by the caller;
 * ag_table_free frees it. path: the file it was read from ("" otherwise), for messages. */
typedef struct ag_table {
    int ncols;
    int64_t nrows;
    char **names;
    double **col;
    char *path;
} ag_table;
/* ncols columns named names[j] (non-empty, no whitespace, ',' or '#', unique), zeroed. */
AG_API ag_table *ag_table_new(int ncols, const char *const *names, int64_t nrows);
AG_API void ag_table_free(ag_table *t); /* NULL is a no-op */
/* Index of column name, or AG_ERR_INVALID (negative): "ag_table_col: no column 'x' in '<path>' (columns: ...)". */
AG_API int ag_table_col(const ag_table *t, const char *name);
/* Text tables: lines starting with '#' and blank lines are skipped; the first other line names
 * the columns; each further line holds one number per column, separated by whitespace and/or
 * one comma. Errors (AG_ERR_FORMAT) name the file, line and column: an empty file (no header),
 * a field that is not a number, a row with too few or too many fields, a repeated name. */
AG_API ag_table *ag_table_read_text(const char *path);
/* Writes the header and rows (%.17g: doubles round-trip exactly), separated by spaces. Atomic. */
AG_API int ag_table_write_text(const ag_table *t, const char *path);
/* HDF5 tables (AG_ERR_NOTIMPL without HDF5), either layout:
 *  - one 1-d dataset (float or integer) per column at the root, all of one length (column order:
 *    by name);
 *  - one 2-d dataset [nrows, ncols] at the root with an attribute "names": an array of
 *    ncols strings (h5py: ds.attrs["names"] = ["a", "b"]) or one string of names separated by
 *    spaces or commas.
 * A corrupt or truncated file fails with AG_ERR_FORMAT naming it. */
AG_API ag_table *ag_table_read_h5(const char *path);
AG_API int ag_table_write_h5(const ag_table *t, const char *path); /* the first layout; atomic */

typedef struct ag_surrogate ag_surrogate;
typedef struct ag_surrogate_opts {
    int hidden;         /* 0 = 64: width of each hidden layer */
    int layers;         /* 0 = 2: hidden layers (Linear + SiLU each) */
    int steps;          /* 0 = 2000: Adam steps, lr cosine-annealed to 1e-5 */
    int batch;          /* 0 = min(256, nrows) */
    double lr;          /* 0 = 3e-3 */
    ag_dtype dtype;     /* the network's: 0 = AG_F32 */
    ag_device device;   /* where it trains and answers ({0} = the CPU) */
} ag_surrogate_opts;
/* Train a surrogate on table t (>= 2 rows): inputs are the columns named in_names[0..n_in),
 * outputs out_names[0..n_out); their transforms' map and norm (and sign-log linthresh) are given
 * in in_tr / out_tr, the rest is fitted on t here (ag_col_fit; in_tr and out_tr are not changed).
 * The MLP is n_in -> hidden (SiLU) x layers -> n_out of ag_nn_linear layers, trained with Adam
 * on batches taken in turn from the rows. Rows are shuffled once with the global generator (ag_manual_seed)
 * and the MLP is drawn from it too, so a seed gives the same surrogate. The mean squared error
 * of the transformed outputs is minimised. NULL with the error set (a missing column names the
 * table's file). */
AG_API ag_surrogate *ag_surrogate_train(const ag_table *t, int n_in, const char *const *in_names,
                                        const ag_col_transform *in_tr, int n_out, const char *const *out_names,
                                        const ag_col_transform *out_tr, ag_surrogate_opts opts);
AG_API void ag_surrogate_free(ag_surrogate *s); /* NULL is a no-op */
/* x: n rows of n_in raw inputs (row-major), y: n rows of n_out raw outputs. The inputs are
 * checked against their maps' domains (AG_ERR_INVALID naming row and column). */
AG_API int ag_surrogate_query(ag_surrogate *s, const double *x, int64_t n, double *y);
AG_API int ag_surrogate_num_inputs(const ag_surrogate *s);
AG_API int ag_surrogate_num_outputs(const ag_surrogate *s);
AG_API const char *ag_surrogate_input_name(const ag_surrogate *s, int i);  /* borrowed; NULL out of range */
AG_API const char *ag_surrogate_output_name(const ag_surrogate *s, int i);
/* Borrowed: the MLP, mapping transformed inputs [n, n_in] to transformed outputs [n, n_out] in
 * the surrogate's dtype on its device (valid until ag_surrogate_free). */
AG_API ag_module *ag_surrogate_net(ag_surrogate *s);
/* One HDF5 file (atomic write): /params (the MLP, as ag_module_save), /surrogate with the
 * layer widths, dtype, column names and transforms, /meta schema. ag_surrogate_load rebuilds
 * the surrogate on dev; its queries equal the saved one's bit for bit (same device kind).
 * A file that is not one, or corrupt or truncated, fails with AG_ERR_FORMAT naming it; one that
 * cannot be opened with AG_ERR_IO. The loaded surrogate is the caller's (ag_surrogate_free). */
AG_API int ag_surrogate_save(const ag_surrogate *s, const char *path);
AG_API ag_surrogate *ag_surrogate_load(const char *path, ag_device dev);

#ifdef __cplusplus
}
#endif
#endif
