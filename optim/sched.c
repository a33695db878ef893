/* optim/sched.c — learning-rate schedulers, as torch.optim.lr_scheduler (the chainable,
 * recursive forms that step() uses): StepLR, ExponentialLR, CosineAnnealingLR and
 * ReduceLROnPlateau (threshold_mode 'rel'). Constructing one corresponds to PyTorch's
 * constructor (last_epoch = 0, the lr unchanged); each ag_sched_step is one scheduler.step(). */
#include <math.h>
#include <stdlib.h>

#include "optim/optim_internal.h"

typedef enum { S_STEP, S_EXP, S_COS, S_PLATEAU } sched_kind;

struct ag_sched {
    sched_kind kind;
    ag_optim *o;
    int last_epoch;
    double base_lr;
    int step_size;
    double gamma;
    int T_max;
    double eta_min;
    ag_plateau_opts p;
    double best;
    int num_bad_epochs, cooldown_counter;
};

static ag_sched *sched_new(ag_optim *o, sched_kind k, const char *f) {
    if (!o) return ag_fail(AG_ERR_INVALID, "%s: NULL optimizer", f);
    ag_sched *s = calloc(1, sizeof *s);
    if (!s) return ag_fail(AG_ERR_NOMEM, "%s: out of memory", f);
    s->kind = k;
    s->o = o;
    s->base_lr = o->lr;
    return s;
}

ag_sched *ag_sched_step_lr(ag_optim *o, int step_size, double gamma) {
    if (step_size <= 0) return ag_fail(AG_ERR_INVALID, "ag_sched_step_lr: step_size must be > 0, given %d", step_size);
    if (!(gamma >= 0) || isinf(gamma)) return ag_fail(AG_ERR_INVALID, "ag_sched_step_lr: invalid gamma %g", gamma);
    ag_sched *s = sched_new(o, S_STEP, "ag_sched_step_lr");
    if (s) { s->step_size = step_size; s->gamma = gamma; }
    return s;
}

ag_sched *ag_sched_exponential(ag_optim *o, double gamma) {
    if (!(gamma >= 0) || isinf(gamma)) return ag_fail(AG_ERR_INVALID, "ag_sched_exponential: invalid gamma %g", gamma);
    ag_sched *s = sched_new(o, S_EXP, "ag_sched_exponential");
    if (s) s->gamma = gamma;
    return s;
}

ag_sched *ag_sched_cosine(ag_optim *o, int T_max, double eta_min) {
    if (T_max <= 0) return ag_fail(AG_ERR_INVALID, "ag_sched_cosine: T_max must be > 0, given %d", T_max);
    if (!(eta_min >= 0) || isinf(eta_min)) return ag_fail(AG_ERR_INVALID, "ag_sched_cosine: invalid eta_min %g", eta_min);
    ag_sched *s = sched_new(o, S_COS, "ag_sched_cosine");
    if (s) { s->T_max = T_max; s->eta_min = eta_min; }
    return s;
}

ag_sched *ag_sched_plateau(ag_optim *o, ag_plateau_opts p) {
    const char *f = "ag_sched_plateau";
    if (p.factor == 0) p.factor = 0.1;
    if (p.patience == 0) p.patience = 10;
    else if (p.patience < 0) p.patience = 0;
    if (p.threshold == 0 && !signbit(p.threshold)) p.threshold = 1e-4;
    if (p.eps == 0 && !signbit(p.eps)) p.eps = 1e-8;
    if (!(p.factor > 0 && p.factor < 1)) return ag_fail(AG_ERR_INVALID, "%s: factor must be in (0, 1), given %g", f, p.factor);
    if (!(p.threshold >= 0)) return ag_fail(AG_ERR_INVALID, "%s: threshold must be >= 0, given %g", f, p.threshold);
    if (p.cooldown < 0) return ag_fail(AG_ERR_INVALID, "%s: cooldown must be >= 0, given %d", f, p.cooldown);
    if (!(p.min_lr >= 0)) return ag_fail(AG_ERR_INVALID, "%s: min_lr must be >= 0, given %g", f, p.min_lr);
    ag_sched *s = sched_new(o, S_PLATEAU, f);
    if (!s) return NULL;
    s->p = p;
    s->best = p.maximize ? -INFINITY : INFINITY;
    return s;
}

void ag_sched_free(ag_sched *s) { free(s); }
double ag_sched_get_lr(const ag_sched *s) { return s ? s->o->lr : NAN; }

int ag_sched_step(ag_sched *s) {
    if (!s) return ag_set_error(AG_ERR_INVALID, "ag_sched_step: NULL scheduler");
    if (s->kind == S_PLATEAU)
        return ag_set_error(AG_ERR_INVALID, "ag_sched_step: ReduceLROnPlateau needs the metric; use ag_sched_step_metric");
    s->last_epoch++;
    const int e = s->last_epoch;
    double lr = s->o->lr;
    switch (s->kind) {
    case S_STEP:
        if (e != 0 && e % s->step_size == 0) lr = lr * s->gamma;
        break;
    case S_EXP:
        lr = lr * s->gamma;
        break;
    case S_COS: {
        const int T = s->T_max;
        const double pi = 3.141592653589793; /* math.pi */
        int r = (e - 1 - T) % (2 * T);
        if (r < 0) r += 2 * T;   /* Python's modulo */
        if (r == 0) lr = lr + (s->base_lr - s->eta_min) * (1 - cos(pi / T)) / 2;
        else lr = (1 + cos(pi * e / T)) / (1 + cos(pi * (e - 1) / T)) * (lr - s->eta_min) + s->eta_min;
        break;
    }
    default: break;
    }
    s->o->lr = lr;
    return 0;
}

int ag_sched_step_metric(ag_sched *s, double current) {
    if (!s) return ag_set_error(AG_ERR_INVALID, "ag_sched_step_metric: NULL scheduler");
    if (s->kind != S_PLATEAU) return ag_sched_step(s);
    s->last_epoch++;
    const ag_plateau_opts *p = &s->p;
    bool better = p->maximize ? current > s->best * (p->threshold + 1) : current < s->best * (1. - p->threshold);
    if (better) { s->best = current; s->num_bad_epochs = 0; }
    else s->num_bad_epochs++;
    if (s->cooldown_counter > 0) { s->cooldown_counter--; s->num_bad_epochs = 0; }
    if (s->num_bad_epochs > p->patience) {
        double old_lr = s->o->lr, new_lr = old_lr * p->factor;
        if (p->min_lr > new_lr) new_lr = p->min_lr;   /* Python max(old*factor, min_lr) */
        if (old_lr - new_lr > p->eps) s->o->lr = new_lr;
        s->cooldown_counter = p->cooldown;
        s->num_bad_epochs = 0;
    }
    return 0;
}
