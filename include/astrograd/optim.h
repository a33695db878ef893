/* astrograd/optim.h — optimizers, gradient clipping and learning-rate schedulers.
 *
 * The update rules reproduce PyTorch's single-tensor implementations (foreach=False) operation
 * by operation, so trajectories agree with torch.optim to rounding. Complex parameters are
 * treated as their real view (torch.view_as_real): every update is elementwise on (re, im).
 *
 * Options structs: a zero field means PyTorch's default where one exists (noted per field);
 * fields without a default (momentum, weight_decay, ...) are 0 = off, as in PyTorch. Booleans
 * default to false. Where 0 means a non-zero default (betas, alpha, AdamW's weight_decay, the
 * tolerances, the plateau threshold) pass AG_EXPLICIT_ZERO to get an actual zero.
 *
 * An optimizer retains the parameter tensors it is given (the ag_params list itself is copied,
 * names included), and updates them in place under no-grad, bumping their storage version.
 * Parameters must be floating-point leaves with requires_grad; a parameter whose .grad is NULL
 * at step time is skipped (as PyTorch).
 *
 * State enumeration (checkpoints): the optimizer's per-parameter state is a flat list of named
 * tensors "<param index>.<key>", e.g. "0.step", "0.exp_avg", "1.momentum_buffer", in parameter
 * order then key order. State is created lazily by the first step, so a fresh optimizer has
 * no state entries; ag_optim_load_state_at on a fresh optimizer therefore fails — call
 * ag_optim_init_state first (it creates the zero state a first step would create, without
 * stepping), then load each entry. "step" entries are 0-d f64 tensors (as PyTorch's
 * float32 step tensor, but f64 so counts are exact).
 */
#ifndef ASTROGRAD_OPTIM_H
#define ASTROGRAD_OPTIM_H

#include "tensor.h"
#include "autograd.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ag_optim ag_optim;

/* Negative zero: compares equal to 0 but tells an options field "really zero, not the default". */
#define AG_EXPLICIT_ZERO (-0.0)

typedef struct ag_sgd_opts {
    double lr;            /* learning rate; 0 = 1e-3 (PyTorch 2's default); must be >= 0 */
    double momentum;      /* 0 = none */
    double dampening;     /* 0 = none */
    bool nesterov;        /* needs momentum > 0 and dampening == 0 */
    double weight_decay;  /* L2 penalty added to the gradient; 0 = none */
    bool maximize;        /* ascend instead of descend */
} ag_sgd_opts;

typedef struct ag_adam_opts {
    double lr;            /* 0 = 1e-3 */
    double beta1, beta2;  /* 0 = 0.9 and 0.999; each must be in [0, 1) */
    double eps;           /* 0 = 1e-8 */
    double weight_decay;  /* Adam: L2 added to the gradient; AdamW: decoupled decay.
                             Adam: 0 = none. AdamW: 0 = 1e-2 (PyTorch's default);
                             AG_EXPLICIT_ZERO for none. Must be >= 0. */
    bool amsgrad;
    bool maximize;
} ag_adam_opts;

typedef struct ag_rmsprop_opts {
    double lr;            /* 0 = 1e-2 */
    double alpha;         /* smoothing constant; 0 = 0.99; must be in [0, 1] */
    double eps;           /* 0 = 1e-8 */
    double weight_decay;  /* 0 = none */
    double momentum;      /* 0 = none */
    bool centered;        /* normalise by the estimated variance of the gradient */
    bool maximize;
} ag_rmsprop_opts;

typedef enum ag_line_search { AG_LINE_SEARCH_NONE = 0, AG_LINE_SEARCH_STRONG_WOLFE = 1 } ag_line_search;

typedef struct ag_lbfgs_opts {
    double lr;               /* 0 = 1 */
    int max_iter;            /* iterations per ag_optim_step_closure; 0 = 20 */
    int max_eval;            /* function evaluations per step; 0 = max_iter * 5 / 4 */
    double tolerance_grad;   /* first-order optimality tolerance; 0 = 1e-7 */
    double tolerance_change; /* function/parameter change tolerance; 0 = 1e-9 */
    int history_size;        /* 0 = 100 */
    ag_line_search line_search;
} ag_lbfgs_opts;

/* Constructors: NULL (error set) on bad options or parameters. */
AG_API ag_optim *ag_sgd(ag_params params, ag_sgd_opts opts);
AG_API ag_optim *ag_adam(ag_params params, ag_adam_opts opts);
AG_API ag_optim *ag_adamw(ag_params params, ag_adam_opts opts);
AG_API ag_optim *ag_rmsprop(ag_params params, ag_rmsprop_opts opts);
AG_API ag_optim *ag_lbfgs(ag_params params, ag_lbfgs_opts opts);
AG_API void ag_optim_free(ag_optim *o);  /* NULL is a no-op */

/* One update from the current .grad of each parameter. 0 or a negative ag_status.
 * L-BFGS needs a closure: it fails with AG_ERR_INVALID here. */
AG_API int ag_optim_step(ag_optim *o);

/* closure: zero the grads, compute the loss, backward, and return the loss (a new reference
 * to a real scalar tensor; the optimizer releases it), or NULL on error (the step then fails).
 * For L-BFGS the closure may be called several times per step. For the other optimizers it is
 * called once, before the update, as in PyTorch. Each call runs inside its own scope, so the
 * tensors it makes (in scopes) are released when it returns; keep what must outlive it with
 * ag_keep. */
typedef ag_tensor *(*ag_closure_fn)(void *user_data);
AG_API int ag_optim_step_closure(ag_optim *o, ag_closure_fn closure, void *user_data);
/* The loss the closure returned first in the last ag_optim_step_closure (what PyTorch's
 * step(closure) returns); NAN before any. */
AG_API double ag_optim_last_loss(const ag_optim *o);

AG_API void ag_optim_zero_grad(ag_optim *o);  /* drops each .grad (set_to_none) */
AG_API double ag_optim_get_lr(const ag_optim *o);
AG_API int ag_optim_set_lr(ag_optim *o, double lr);  /* lr >= 0 */
AG_API const char *ag_optim_name(const ag_optim *o); /* "sgd", "adam", ... */
AG_API ag_params ag_optim_params(const ag_optim *o); /* borrowed */

/* ---- state enumeration (for checkpoints) ---- */
AG_API int ag_optim_num_state(const ag_optim *o);
/* The i-th state tensor (borrowed; NULL + error when i is out of range); *name (optional) gets
 * its name, valid while the optimizer lives. */
AG_API ag_tensor *ag_optim_state_at(ag_optim *o, int i, const char **name);
/* Copy value into the i-th state tensor: dtype and shape must match exactly. */
AG_API int ag_optim_load_state_at(ag_optim *o, int i, ag_tensor *value);
/* Index of the state entry named `name`, or -1 (no error recorded). */
AG_API int ag_optim_find_state(const ag_optim *o, const char *name);
/* Create every parameter's state as a first step would (zeros; step = 0) so that a saved
 * state can be loaded before stepping. Does nothing for parameters that already have state. */
AG_API int ag_optim_init_state(ag_optim *o);

/* ---- gradient clipping (torch.nn.utils) ---- */
/* Scales all grads by max_norm / (total + 1e-6) when that is < 1; returns the total norm of all
 * grads taken together (norm_type = INFINITY for the max norm), or NAN with the error set.
 * Parameters without a grad are skipped. */
AG_API double ag_clip_grad_norm(ag_params params, double max_norm, double norm_type);
/* Clamps each grad element to [-v, v] (complex: real and imaginary parts separately). */
AG_API int ag_clip_grad_value(ag_params params, double v);

/* ---- learning-rate schedulers (torch.optim.lr_scheduler) ---- */
typedef struct ag_sched ag_sched;
/* The scheduler borrows the optimizer (free the scheduler first or together). Constructing one
 * records the optimizer's current lr as base lr, as PyTorch's initial_lr. */
AG_API ag_sched *ag_sched_step_lr(ag_optim *o, int step_size, double gamma);      /* StepLR */
AG_API ag_sched *ag_sched_exponential(ag_optim *o, double gamma);                 /* ExponentialLR */
AG_API ag_sched *ag_sched_cosine(ag_optim *o, int T_max, double eta_min);         /* CosineAnnealingLR */
typedef struct ag_plateau_opts {
    double factor;       /* 0 = 0.1; must be < 1 */
    int patience;        /* 0 = 10; negative = an explicit 0 */
    double threshold;    /* relative threshold (threshold_mode 'rel'); 0 = 1e-4 */
    int cooldown;        /* 0 = 0 */
    double min_lr;       /* 0 = 0 */
    double eps;          /* minimal lr change; 0 = 1e-8 */
    bool maximize;       /* mode 'max' instead of 'min' */
} ag_plateau_opts;
AG_API ag_sched *ag_sched_plateau(ag_optim *o, ag_plateau_opts opts);             /* ReduceLROnPlateau */
AG_API int ag_sched_step(ag_sched *s);                       /* epoch-based schedulers */
AG_API int ag_sched_step_metric(ag_sched *s, double metric); /* ReduceLROnPlateau */
AG_API double ag_sched_get_lr(const ag_sched *s);            /* the optimizer's current lr */
AG_API void ag_sched_free(ag_sched *s);

/* ---- Sampling: Hamiltonian Monte Carlo and NUTS (optim/sample.c) ---- */
/* Draws from the density exp(logp(theta)) over the parameters theta (any number of floating
 * leaves with requires_grad, f32/f64/c64/c128 on any device; complex ones as their real view
 * (re, im)), with gradients from autograd. Algorithms as Stan 2.x: the leapfrog integrator with
 * a diagonal inverse metric, static HMC with a fixed number of leapfrog steps, or NUTS with
 * multinomial sampling over the trajectory and the generalized no-U-turn criterion (Hoffman &
 * Gelman 2014; Betancourt 2017). Warm-up adapts the step size by dual averaging (gamma 0.05,
 * t0 10, kappa 0.75, mu = log(10 step_size)) and, unless fixed_metric, the inverse metric as
 * the variance of the draws in Stan's windows (75 / 25 doubling / 50 iterations; with fewer
 * than 150 warm-up iterations 15% / 75% / 10% of them; no metric adaptation below 20),
 * regularised as Stan: (n / (n + 5)) var + 1e-3 (5 / (n + 5)). That floor makes a parameter
 * whose posterior sd is well below 0.03 mix more slowly than one of order 1: rescale such
 * parameters. After each window Stan's step-size search runs (double or halve until one
 * leapfrog step's acceptance crosses 0.8). A transition whose energy error exceeds 1000 (or is
 * NaN; logp NaN or +inf at a point after the initial one counts as infinite energy) is
 * divergent: NUTS stops building the tree there, HMC rejects it.
 *
 * The sampler keeps the position, momentum and gradient on the host in f64 and writes each
 * position into the parameters (converted to their dtype and device) before calling logp, so
 * f32 parameters see the position rounded to f32. Its random numbers come from its own
 * generator seeded by opts.seed (the global ag_manual_seed stream is untouched): the same seed,
 * options and logp give the same draws on the same machine and build, on every device (a
 * trajectory is chaotic, so libm or BLAS rounding that differs elsewhere soon changes them).
 * On return the parameters hold the last draw (on error, whichever point was evaluated last);
 * their .grad is not touched. */
typedef enum ag_sampler { AG_SAMPLER_NUTS = 0, AG_SAMPLER_HMC = 1 } ag_sampler;

typedef struct ag_sample_opts {
    ag_sampler algorithm; /* 0 = NUTS */
    int n_samples;        /* draws kept; must be >= 1 (no default) */
    int n_warmup;         /* adaptation iterations before them (discarded); 0 = none: no adaptation,
                             step_size used as given */
    uint64_t seed;
    double step_size;     /* initial step size; 0 = 1 (Stan's); must be finite and > 0 */
    double target_accept; /* dual-averaging target acceptance statistic; 0 = 0.8; must be in (0, 1) */
    int n_leapfrog;       /* HMC: leapfrog steps per transition; 0 = 10 */
    double step_jitter;   /* each transition's step size is the adapted one times a uniform factor
                             in [1 - step_jitter, 1 + step_jitter] (Stan's stepsize_jitter); 0 = none;
                             must be in [0, 1]. With a fixed number of steps it breaks the resonance
                             of a path length near a period of the posterior (HMC mixes badly there) */
    int max_depth;        /* NUTS: maximum tree depth (at most 2^max_depth - 1 steps); 0 = 10;
                             at most 30 */
    bool fixed_metric;    /* keep the unit metric (no mass-matrix adaptation) */
} ag_sample_opts;

/* Returns the log density (up to a constant) at the parameters' current values: a new
 * reference to a real one-element tensor computed from them with astrograd ops, or NULL with
 * the error set (ag_sample then fails with it). It is called inside a scope that ag_sample
 * ends after taking the gradient, with grad mode on. */
typedef ag_tensor *(*ag_logp_fn)(void *user_data);

typedef struct ag_sample_result {
    ag_tensor *samples;    /* [n_samples, D] f64 on the CPU; D = the real numel of all parameters,
                              flattened row-major in parameter order */
    ag_tensor *logp;       /* [n_samples] f64: logp at each draw */
    ag_tensor *tree_depth; /* [n_samples] i64: NUTS tree depth of each draw; NULL for HMC */
    ag_tensor *inv_metric; /* [D] f64: the diagonal inverse metric after adaptation */
    double accept_rate;    /* mean acceptance statistic over the kept draws (HMC: min(1, e^-dH);
                              NUTS: Stan's mean over the trajectory) */
    int n_divergent;       /* divergent transitions among the kept draws */
    int n_divergent_warmup;
    double step_size;      /* the step size after adaptation (every kept draw's, or the centre of
                              their jitter) */
    int64_t n_grad_evals;  /* logp + gradient evaluations in all, warm-up included */
    double wall_s;         /* wall-clock seconds of the whole run */
} ag_sample_result;

/* Runs warm-up then n_samples transitions from the parameters' current values. Returns 0 and
 * fills *out (its tensors are the caller's: free them with ag_sample_result_free; they belong
 * to no scope), or a negative ag_status with *out zeroed: bad options, an empty or invalid
 * parameter list, a call inside a no-grad region, logp not a real one-element tensor, logp
 * not finite (NaN, -inf, +inf) or its gradient not finite at the initial point, a step-size
 * search that passes 1e7 or reaches 0 (an improper density), or the error of a logp call
 * that failed (returned NULL), which is kept as it was. */
AG_API int ag_sample(ag_params params, ag_logp_fn logp, void *user_data, ag_sample_opts opts,
                     ag_sample_result *out);
AG_API void ag_sample_result_free(ag_sample_result *r); /* releases the tensors, zeroes *r; NULL ok */

/* Effective sample size of each column of the draws samples [n, D] (one chain; any real float
 * dtype and device): n / tau with tau from the autocovariances by Geyer's initial monotone
 * sequence estimator, as Stan's compute_effective_sample_size for one chain (tau bounded below
 * by 1 / log10(n), so the ESS is at most n log10(n), as Stan). Returns a new [D] f64 tensor on
 * samples' device; a constant column gives NaN. Fails for n < 4, a shape other than [n, D], or
 * a complex or integer dtype. */
AG_API ag_tensor *ag_ess(ag_tensor *samples);

#ifdef __cplusplus
}
#endif
#endif
