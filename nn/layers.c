/* nn/layers.c — the built-in layers, written against the public module API (the same way a
 * user writes a module): a class with a forward, the hyper-parameters in ag_module_self, the
 * tensors registered by name. Initialisation follows PyTorch's reset_parameters, drawn from
 * the global generator (ag_manual_seed makes it reproducible). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "astrograd/nn.h"
#include "tensor/layer.h"

/* finish a constructor: when any step failed (rc < 0) free the half-built module */
static ag_module *done(ag_module *m, int rc) {
    if (m && rc < 0) { ag_module_free(m); return NULL; }
    return m;
}

/* U(-bound, bound) of the given shape in the default dtype */
static ag_tensor *uniform(const int64_t *shape, int ndim, double bound) {
    ag_scope_begin();
    ag_tensor *r = ag_keep(ag_add_s(ag_mul_s(ag_rand(shape, ndim, ag_get_default_dtype()), 2.0 * bound), -bound));
    ag_scope_end();
    return r;
}

/* ---- Linear ------------------------------------------------------------------------------------ */
typedef struct linear_self { int64_t in, out; bool bias; } linear_self;

static ag_tensor *linear_forward(ag_module *m, ag_tensor *x) {
    linear_self *s = ag_module_self(m);
    return ag_linear(x, ag_module_param(m, "weight"), s->bias ? ag_module_param(m, "bias") : NULL);
}
static const ag_module_class linear_class = {"Linear", linear_forward, NULL, sizeof(linear_self)};

ag_module *ag_nn_linear(int64_t in, int64_t out, bool bias) {
    if (in <= 0 || out <= 0)
        return ag_fail(AG_ERR_INVALID, "ag_nn_linear: expected positive sizes, given in_features=%lld out_features=%lld",
                       (long long)in, (long long)out);
    ag_module *m = ag_module_new(&linear_class);
    if (!m) return NULL;
    *(linear_self *)ag_module_self(m) = (linear_self){in, out, bias};
    /* kaiming_uniform_(a = sqrt 5): gain sqrt(2 / (1 + 5)), bound = gain sqrt(3 / fan_in) = 1/sqrt(fan_in) */
    double bound = 1.0 / sqrt((double)in);
    int rc = ag_module_add_param(m, "weight", uniform(AG_SHAPE(out, in), bound));
    if (bias && !rc) rc = ag_module_add_param(m, "bias", uniform(AG_SHAPE(out), bound));
    if (!rc) rc = ag_module_set_extra_repr(m, "in_features=%lld, out_features=%lld, bias=%s", (long long)in,
                                           (long long)out, bias ? "true" : "false");
    return done(m, rc);
}

/* ---- Sequential -------------------------------------------------------------------------------- */
static ag_tensor *sequential_forward(ag_module *m, ag_tensor *x) {
    int n = ag_module_num_children(m);
    ag_tensor *y = x;
    for (int i = 0; i < n && y; i++) y = ag_forward(ag_module_child_at(m, i), y);
    /* an empty Sequential returns its input, as PyTorch */
    return n ? y : ag__identity(x, "Sequential");
}
static const ag_module_class sequential_class = {"Sequential", sequential_forward, NULL, 0};

int ag_nn_sequential_append(ag_module *seq, ag_module *m) {
    if (seq && ag_module_type(seq) != sequential_class.name) {
        ag_module_free(m);
        return ag_set_error(AG_ERR_INVALID, "ag_nn_sequential_append: expected a Sequential, given a %s", ag_module_type(seq));
    }
    char name[24];
    snprintf(name, sizeof name, "%d", ag_module_num_children(seq));
    return ag_module_add(seq, name, m);
}

ag_module *ag_nn_sequential(ag_module *const *mods, int n) {
    if (n < 0 || (!mods && n > 0))
        return ag_fail(AG_ERR_INVALID, "ag_nn_sequential: expected an array of n >= 0 modules, given n=%d", n);
    ag_module *m = ag_module_new(&sequential_class);
    int rc = m ? 0 : ag_error_code();
    for (int i = 0; i < n; i++) {
        if (!rc) rc = ag_nn_sequential_append(m, mods[i]); /* a NULL module passes its error on */
        else ag_module_free(mods[i]);
    }
    return done(m, rc);
}

/* ---- stateless layers -------------------------------------------------------------------------- */
typedef struct act_self { double a, b; int k; } act_self;
#define SELF ((act_self *)ag_module_self(m))

static ag_tensor *identity_forward(ag_module *m, ag_tensor *x) { (void)m; return x ? ag__identity(x, "Identity") : NULL; }
static ag_tensor *relu_forward(ag_module *m, ag_tensor *x) { (void)m; return ag_relu(x); }
static ag_tensor *leaky_forward(ag_module *m, ag_tensor *x) { return ag_leaky_relu(x, SELF->a); }
static ag_tensor *elu_forward(ag_module *m, ag_tensor *x) { return ag_elu(x, SELF->a); }
static ag_tensor *gelu_forward(ag_module *m, ag_tensor *x) { return ag_gelu(x, (ag_gelu_approx)SELF->k); }
static ag_tensor *silu_forward(ag_module *m, ag_tensor *x) { (void)m; return ag_silu(x); }
static ag_tensor *softplus_forward(ag_module *m, ag_tensor *x) { return ag_softplus(x, SELF->a, SELF->b); }
static ag_tensor *sigmoid_forward(ag_module *m, ag_tensor *x) { (void)m; return ag_sigmoid(x); }
static ag_tensor *tanh_forward(ag_module *m, ag_tensor *x) { (void)m; return ag_tanh(x); }
static ag_tensor *dropout_forward(ag_module *m, ag_tensor *x) { return ag_dropout(x, SELF->a, ag_module_is_training(m)); }
static ag_tensor *flatten_forward(ag_module *m, ag_tensor *x) {
    if (!AG_NONNULL_FROM("ag_forward", 2, x)) return NULL;
    int nd = ag_ndim(x);
    int s = (int)SELF->a, e = (int)SELF->b;
    int s0 = ag__normalize_dim("Flatten", s, nd), e0 = s0 >= 0 ? ag__normalize_dim("Flatten", e, nd) : -1;
    if (s0 < 0 || e0 < 0) return NULL;
    if (nd == 0) return ag_reshape(x, AG_SHAPE(1));
    if (s0 > e0) return ag_fail(AG_ERR_INVALID, "Flatten: start_dim %d comes after end_dim %d", s, e);
    int64_t shp[AG_MAX_DIMS];
    int k = 0;
    for (int i = 0; i < s0; i++) shp[k++] = ag_shape(x)[i];
    int64_t p = 1;
    for (int i = s0; i <= e0; i++) p *= ag_shape(x)[i];
    shp[k++] = p;
    for (int i = e0 + 1; i < nd; i++) shp[k++] = ag_shape(x)[i];
    return ag_reshape(x, shp, k);
}

static const ag_module_class identity_class = {"Identity", identity_forward, NULL, 0};
static const ag_module_class relu_class = {"ReLU", relu_forward, NULL, 0};
static const ag_module_class leaky_class = {"LeakyReLU", leaky_forward, NULL, sizeof(act_self)};
static const ag_module_class elu_class = {"ELU", elu_forward, NULL, sizeof(act_self)};
static const ag_module_class gelu_class = {"GELU", gelu_forward, NULL, sizeof(act_self)};
static const ag_module_class silu_class = {"SiLU", silu_forward, NULL, 0};
static const ag_module_class softplus_class = {"Softplus", softplus_forward, NULL, sizeof(act_self)};
static const ag_module_class sigmoid_class = {"Sigmoid", sigmoid_forward, NULL, 0};
static const ag_module_class tanh_class = {"Tanh", tanh_forward, NULL, 0};
static const ag_module_class dropout_class = {"Dropout", dropout_forward, NULL, sizeof(act_self)};
static const ag_module_class flatten_class = {"Flatten", flatten_forward, NULL, sizeof(act_self)};

static ag_module *act(const ag_module_class *c, double a, double b, int k) {
    ag_module *m = ag_module_new(c);
    if (m && ag_module_self(m)) *SELF = (act_self){a, b, k};
    return m;
}
/* an activation with an extra repr */
#define ACT_REPR(c, a, b, k, ...) do { \
        ag_module *m_ = act(c, a, b, k); \
        return done(m_, m_ ? ag_module_set_extra_repr(m_, __VA_ARGS__) : -1); \
    } while (0)

ag_module *ag_nn_identity(void) { return act(&identity_class, 0, 0, 0); }
ag_module *ag_nn_relu(void) { return act(&relu_class, 0, 0, 0); }
ag_module *ag_nn_silu(void) { return act(&silu_class, 0, 0, 0); }
ag_module *ag_nn_sigmoid(void) { return act(&sigmoid_class, 0, 0, 0); }
ag_module *ag_nn_tanh(void) { return act(&tanh_class, 0, 0, 0); }
ag_module *ag_nn_leaky_relu(double slope) {
    ACT_REPR(&leaky_class, slope, 0, 0, "negative_slope=%g", slope);
}
ag_module *ag_nn_elu(double alpha) {
    ACT_REPR(&elu_class, alpha, 0, 0, "alpha=%g", alpha);
}
ag_module *ag_nn_gelu(ag_gelu_approx approx) {
    if (approx != AG_GELU_EXACT && approx != AG_GELU_TANH)
        return ag_fail(AG_ERR_INVALID, "ag_nn_gelu: expected AG_GELU_EXACT or AG_GELU_TANH, given %d", (int)approx);
    ACT_REPR(&gelu_class, 0, 0, approx, "approximate='%s'", approx == AG_GELU_TANH ? "tanh" : "none");
}
ag_module *ag_nn_softplus(double beta, double threshold) {
    if (!(beta != 0 && isfinite(beta)))
        return ag_fail(AG_ERR_INVALID, "ag_nn_softplus: expected a finite non-zero beta, given %g", beta);
    ACT_REPR(&softplus_class, beta, threshold, 0, "beta=%g, threshold=%g", beta, threshold);
}
ag_module *ag_nn_dropout(double p) {
    if (!(p >= 0 && p <= 1)) return ag_fail(AG_ERR_INVALID, "ag_nn_dropout: expected 0 <= p <= 1, given %g", p);
    ACT_REPR(&dropout_class, p, 0, 0, "p=%g", p);
}
ag_module *ag_nn_flatten(int start_dim, int end_dim) {
    ACT_REPR(&flatten_class, start_dim, end_dim, 0, "start_dim=%d, end_dim=%d", start_dim, end_dim);
}

/* ---- Embedding ----------------------------------------------------------------------------------- */
typedef struct embedding_self { int64_t num, dim, pad; bool has_pad; } embedding_self;

static ag_tensor *embedding_forward(ag_module *m, ag_tensor *x) {
    embedding_self *s = ag_module_self(m);
    ag_tensor *w = ag_module_param(m, "weight");
    if (!s->has_pad) return ag_embedding(w, x);
    if (!AG_NONNULL_FROM("ag_forward", 2, x)) return NULL;
    ag_scope_begin();
    ag_tensor *y = ag_embedding(w, x);
    /* the places that read the padding row take its value without history: no gradient reaches it */
    ag_tensor *hit = y ? ag_unsqueeze(ag_eq(x, ag_scalar_on((double)s->pad, AG_I64, ag_device_of(x))), -1) : NULL;
    ag_tensor *r = hit ? ag_keep(ag_where(hit, ag_detach(y), y)) : NULL;
    ag_scope_end();
    return r;
}
static const ag_module_class embedding_class = {"Embedding", embedding_forward, NULL, sizeof(embedding_self)};

ag_module *ag_nn_embedding(int64_t num, int64_t dim, int64_t padding_idx) {
    if (num <= 0 || dim <= 0)
        return ag_fail(AG_ERR_INVALID, "ag_nn_embedding: expected positive sizes, given num_embeddings=%lld embedding_dim=%lld",
                       (long long)num, (long long)dim);
    bool has_pad = padding_idx != AG_NO_PADDING_IDX;
    if (has_pad && (padding_idx < -num || padding_idx >= num))
        return ag_fail(AG_ERR_INVALID, "ag_nn_embedding: padding_idx %lld is out of range for %lld embeddings",
                       (long long)padding_idx, (long long)num);
    if (has_pad && padding_idx < 0) padding_idx += num;
    ag_module *m = ag_module_new(&embedding_class);
    if (!m) return NULL;
    *(embedding_self *)ag_module_self(m) = (embedding_self){num, dim, padding_idx, has_pad};
    ag_scope_begin();
    ag_tensor *w = ag_randn(AG_SHAPE(num, dim), ag_get_default_dtype());
    if (has_pad && w) { /* torch's _fill_padding_idx_with_zero */
        ag_tensor *rows = ag_reshape(ag_arange(0, (double)num, 1, AG_I64), AG_SHAPE(num, 1));
        w = ag_where(ag_eq(rows, ag_scalar((double)padding_idx, AG_I64)), ag_scalar_like(w, 0), w);
    }
    ag_keep(w);
    ag_scope_end();
    int rc = ag_module_add_param(m, "weight", w);
    if (!rc && has_pad)
        rc = ag_module_set_extra_repr(m, "%lld, %lld, padding_idx=%lld", (long long)num, (long long)dim, (long long)padding_idx);
    else if (!rc)
        rc = ag_module_set_extra_repr(m, "%lld, %lld", (long long)num, (long long)dim);
    return done(m, rc);
}

/* ---- normalisation layers ------------------------------------------------------------------------ */
typedef struct norm_self {
    double eps, momentum;
    bool affine, track;
    int64_t groups;
    int ndim;
    int64_t shape[AG_MAX_DIMS];
} norm_self;

static norm_self norm_defaults(ag_norm_opts o) {
    norm_self s = {0};
    s.eps = o.eps > 0 ? o.eps : 1e-5;
    s.momentum = o.momentum > 0 ? o.momentum : o.momentum < 0 ? 0.0 : 0.1;
    s.affine = !o.no_affine;
    s.track = !o.no_running_stats;
    return s;
}

static ag_tensor *opt_param(ag_module *m, bool on, const char *name) { return on ? ag_module_param(m, name) : NULL; }

static ag_tensor *batchnorm_forward(ag_module *m, ag_tensor *x) {
    norm_self *s = ag_module_self(m);
    if (x && ag_ndim(x) != 4)
        return ag_fail(AG_ERR_SHAPE, "BatchNorm2d: expected an input [N, C, H, W], given %s", AG_SHP(x));
    bool training = ag_module_is_training(m) || !s->track;
    ag_tensor *rm = s->track ? ag_module_buffer(m, "running_mean") : NULL;
    ag_tensor *rv = s->track ? ag_module_buffer(m, "running_var") : NULL;
    ag_tensor *y = ag_batch_norm(x, rm, rv, opt_param(m, s->affine, "weight"), opt_param(m, s->affine, "bias"),
                                 training, s->momentum, s->eps);
    if (y && s->track && ag_module_is_training(m)) {
        /* += 1 in place, on the buffer's device */
        ag_tensor *nb = ag_module_buffer(m, "num_batches_tracked");
        ag_no_grad_begin();
        ag_tensor *inc = ag_add_s(nb, 1);
        int rc = inc ? ag_copy_(nb, inc) : ag_error_code();
        ag_no_grad_end();
        ag_release(inc);
        if (rc) { ag_release(y); return NULL; }
    }
    return y;
}
static const ag_module_class batchnorm_class = {"BatchNorm2d", batchnorm_forward, NULL, sizeof(norm_self)};

ag_module *ag_nn_batchnorm2d(int64_t C, ag_norm_opts opts) {
    if (C <= 0) return ag_fail(AG_ERR_INVALID, "ag_nn_batchnorm2d: expected num_features > 0, given %lld", (long long)C);
    ag_module *m = ag_module_new(&batchnorm_class);
    if (!m) return NULL;
    norm_self *s = ag_module_self(m);
    *s = norm_defaults(opts);
    ag_dtype dt = ag_get_default_dtype();
    int rc = 0;
    if (s->affine) {
        if (!rc) rc = ag_module_add_param(m, "weight", ag_ones(AG_SHAPE(C), dt));
        if (!rc) rc = ag_module_add_param(m, "bias", ag_zeros(AG_SHAPE(C), dt));
    }
    if (s->track) {
        if (!rc) rc = ag_module_add_buffer(m, "running_mean", ag_zeros(AG_SHAPE(C), dt));
        if (!rc) rc = ag_module_add_buffer(m, "running_var", ag_ones(AG_SHAPE(C), dt));
        if (!rc) rc = ag_module_add_buffer(m, "num_batches_tracked", ag_zeros(NULL, 0, AG_I64));
    }
    if (!rc) rc = ag_module_set_extra_repr(m, "%lld, eps=%g, momentum=%g, affine=%s, track_running_stats=%s",
                                           (long long)C, s->eps, s->momentum, s->affine ? "true" : "false",
                                           s->track ? "true" : "false");
    return done(m, rc);
}

static ag_tensor *groupnorm_forward(ag_module *m, ag_tensor *x) {
    norm_self *s = ag_module_self(m);
    return ag_group_norm(x, s->groups, opt_param(m, s->affine, "weight"), opt_param(m, s->affine, "bias"), s->eps);
}
static const ag_module_class groupnorm_class = {"GroupNorm", groupnorm_forward, NULL, sizeof(norm_self)};

ag_module *ag_nn_groupnorm(int64_t G, int64_t C, ag_norm_opts opts) {
    if (G <= 0 || C <= 0 || C % G)
        return ag_fail(AG_ERR_INVALID, "ag_nn_groupnorm: expected num_channels (%lld) divisible by num_groups (%lld) > 0",
                       (long long)C, (long long)G);
    ag_module *m = ag_module_new(&groupnorm_class);
    if (!m) return NULL;
    norm_self *s = ag_module_self(m);
    *s = norm_defaults(opts);
    s->groups = G;
    ag_dtype dt = ag_get_default_dtype();
    int rc = 0;
    if (s->affine) {
        if (!rc) rc = ag_module_add_param(m, "weight", ag_ones(AG_SHAPE(C), dt));
        if (!rc) rc = ag_module_add_param(m, "bias", ag_zeros(AG_SHAPE(C), dt));
    }
    if (!rc) rc = ag_module_set_extra_repr(m, "%lld, %lld, eps=%g, affine=%s", (long long)G, (long long)C, s->eps,
                                           s->affine ? "true" : "false");
    return done(m, rc);
}

static ag_tensor *layernorm_forward(ag_module *m, ag_tensor *x) {
    norm_self *s = ag_module_self(m);
    return ag_layer_norm(x, s->shape, s->ndim, opt_param(m, s->affine, "weight"), opt_param(m, s->affine, "bias"), s->eps);
}
static const ag_module_class layernorm_class = {"LayerNorm", layernorm_forward, NULL, sizeof(norm_self)};

ag_module *ag_nn_layernorm(const int64_t *shape, int ndim, ag_norm_opts opts) {
    if (!shape || ndim < 1 || ndim > AG_MAX_DIMS)
        return ag_fail(AG_ERR_INVALID, "ag_nn_layernorm: expected a normalized shape of 1..%d dims, given %d", AG_MAX_DIMS, ndim);
    for (int i = 0; i < ndim; i++)
        if (shape[i] <= 0) return ag_fail(AG_ERR_INVALID, "ag_nn_layernorm: expected positive sizes, given %lld", (long long)shape[i]);
    ag_module *m = ag_module_new(&layernorm_class);
    if (!m) return NULL;
    norm_self *s = ag_module_self(m);
    *s = norm_defaults(opts);
    s->ndim = ndim;
    memcpy(s->shape, shape, (size_t)ndim * sizeof *shape);
    ag_dtype dt = ag_get_default_dtype();
    int rc = 0;
    if (s->affine) {
        if (!rc) rc = ag_module_add_param(m, "weight", ag_ones(shape, ndim, dt));
        if (!rc) rc = ag_module_add_param(m, "bias", ag_zeros(shape, ndim, dt));
    }
    char buf[AG_SHAPE_BUF];
    if (!rc) rc = ag_module_set_extra_repr(m, "%s, eps=%g, elementwise_affine=%s", ag_shape_str(shape, ndim, buf, sizeof buf),
                                           s->eps, s->affine ? "true" : "false");
    return done(m, rc);
}

/* ---- convolutions ------------------------------------------------------------------------------ */
typedef struct conv_self { ag_conv_opts o; bool bias; bool transposed; } conv_self;

static ag_tensor *conv_forward(ag_module *m, ag_tensor *x) {
    conv_self *s = ag_module_self(m);
    ag_tensor *b = s->bias ? ag_module_param(m, "bias") : NULL;
    ag_tensor *w = ag_module_param(m, "weight");
    return s->transposed ? ag_conv_transpose2d(x, w, b, &s->o) : ag_conv2d(x, w, b, &s->o);
}
static const ag_module_class conv_class = {"Conv2d", conv_forward, NULL, sizeof(conv_self)};
static const ag_module_class convt_class = {"ConvTranspose2d", conv_forward, NULL, sizeof(conv_self)};

static ag_module *make_conv(const char *fn, bool transposed, int64_t in, int64_t out, int64_t kh, int64_t kw, bool bias,
                            const ag_conv_opts *opts) {
    ag_conv_opts o = opts ? *opts : (ag_conv_opts){0};
    int64_t g = o.groups > 0 ? o.groups : 1;
    if (in <= 0 || out <= 0 || kh <= 0 || kw <= 0)
        return ag_fail(AG_ERR_INVALID, "%s: expected positive sizes, given in_channels=%lld out_channels=%lld kernel=%lldx%lld",
                       fn, (long long)in, (long long)out, (long long)kh, (long long)kw);
    if (o.groups < 0 || in % g || out % g)
        return ag_fail(AG_ERR_INVALID, "%s: in_channels (%lld) and out_channels (%lld) must be divisible by groups (%d)", fn,
                       (long long)in, (long long)out, o.groups);
    ag_module *m = ag_module_new(transposed ? &convt_class : &conv_class);
    if (!m) return NULL;
    *(conv_self *)ag_module_self(m) = (conv_self){o, bias, transposed};
    int64_t wshape[4] = {transposed ? in : out, (transposed ? out : in) / g, kh, kw};
    double bound = 1.0 / sqrt((double)(wshape[1] * kh * kw));
    int rc = ag_module_add_param(m, "weight", uniform(wshape, 4, bound));
    if (bias && !rc) rc = ag_module_add_param(m, "bias", uniform(AG_SHAPE(out), bound));
    int64_t st[2] = {o.stride[0] ? o.stride[0] : 1, o.stride[1] ? o.stride[1] : 1};
    if (!rc) rc = ag_module_set_extra_repr(m, "%lld, %lld, kernel_size=(%lld, %lld), stride=(%lld, %lld), padding=%s(%lld, %lld), "
                                           "groups=%lld, bias=%s", (long long)in, (long long)out, (long long)kh, (long long)kw,
                                           (long long)st[0], (long long)st[1], o.same ? "same " : "",
                                           (long long)o.padding[0], (long long)o.padding[1], (long long)g, bias ? "true" : "false");
    return done(m, rc);
}

ag_module *ag_nn_conv2d(int64_t in, int64_t out, int64_t kh, int64_t kw, bool bias, const ag_conv_opts *opts) {
    return make_conv("ag_nn_conv2d", false, in, out, kh, kw, bias, opts);
}
ag_module *ag_nn_conv_transpose2d(int64_t in, int64_t out, int64_t kh, int64_t kw, bool bias, const ag_conv_opts *opts) {
    return make_conv("ag_nn_conv_transpose2d", true, in, out, kh, kw, bias, opts);
}
