/* tests/test_optim.c — optimizers, clipping and schedulers against PyTorch
 * (tests/gen_optim_fixtures.py writes tests/fixtures/optim.agfx).
 *
 * The objectives are computed here with the same operations, in the same order, as in the
 * generator; trajectories of 100 steps must agree to 1e-12 (f64). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <astrograd.h>

#include "fixture.h"

#define STEPS 100
static fx_file *FX;
/* the device the tests run on: AG_DEVICE ("cpu", "test", "cuda"), the CPU when unset */
static ag_device DEV;
/* t moved to DEV (t released) */
static ag_tensor *on_dev(ag_tensor *t) {
    ag_tensor *r = ag_to(t, DEV);
    ag_release(t);
    return r;
}

static const double W0[6] = {-1.2, 0.5, 0.8, 1.0, -0.3, 0.2};
static const double B0[3] = {0.1, -0.2, 0.3};
static const double CC[3] = {1.0, 2.0, -1.0};
static const double Z0[6] = {0.5, 0.2, -0.3, 0.8, 1.1, -0.4};
static const double CZ[6] = {1, -1, 0.5, 0.5, -0.2, 0.3};
static const double X0[2] = {-1.5, 2.0};

typedef enum { OBJ_REAL, OBJ_NEG, OBJ_COMPLEX, OBJ_ROSEN } obj_kind;

typedef struct problem {
    obj_kind kind;
    int n;
    ag_tensor *p[2];
} problem;

static problem problem_new(obj_kind kind) {
    problem pr = {.kind = kind};
    switch (kind) {
    case OBJ_REAL: case OBJ_NEG:
        pr.n = 2;
        pr.p[0] = ag_from_data_on(W0, AG_SHAPE(2, 3), AG_F64, DEV);
        pr.p[1] = ag_from_data_on(B0, AG_SHAPE(3), AG_F64, DEV);
        break;
    case OBJ_COMPLEX:
        pr.n = 2;
        pr.p[0] = ag_from_data_on(Z0, AG_SHAPE(3), AG_C128, DEV);
        pr.p[1] = ag_from_data_on(B0, AG_SHAPE(3), AG_F64, DEV);
        break;
    case OBJ_ROSEN:
        pr.n = 1;
        pr.p[0] = ag_from_data_on(X0, AG_SHAPE(2), AG_F64, DEV);
        break;
    }
    for (int i = 0; i < pr.n; i++) ag_set_requires_grad(pr.p[i], true);
    return pr;
}
static void problem_free(problem *pr) {
    for (int i = 0; i < pr->n; i++) ag_release(pr->p[i]);
}
static ag_params problem_params(problem *pr) { return (ag_params){pr->p, NULL, pr->n}; }

static ag_tensor *objective(problem *pr) {
    ag_scope_begin();
    ag_tensor *L = NULL;
    ag_tensor *c = ag_from_data_on(CC, AG_SHAPE(3), AG_F64, DEV);
    if (pr->kind == OBJ_REAL || pr->kind == OBJ_NEG) {
        ag_tensor *W = pr->p[0], *b = pr->p[1];
        ag_tensor *r0 = ag_select(W, 0, 0), *r1 = ag_select(W, 0, 1);
        ag_tensor *t1 = ag_square(ag_rsub_s(1, r0));
        ag_tensor *t2 = ag_mul_s(ag_square(ag_sub(r1, ag_square(r0))), 10);
        ag_tensor *t3 = ag_mul_s(ag_square(ag_sub(b, c)), 0.5);
        ag_tensor *t4 = ag_mul_s(ag_mul(r1, b), 0.1);
        L = ag_sum(ag_add(ag_add(ag_add(t1, t2), t3), t4), AG_ALL_DIMS, false);
        if (pr->kind == OBJ_NEG) L = ag_neg(L);
    } else if (pr->kind == OBJ_COMPLEX) {
        ag_tensor *z = pr->p[0], *b = pr->p[1];
        ag_tensor *cz = ag_from_data_on(CZ, AG_SHAPE(3), AG_C128, DEV);
        ag_tensor *t1 = ag_sum(ag_square(ag_abs(ag_sub(z, cz))), AG_ALL_DIMS, false);
        ag_tensor *t2 = ag_sum(ag_mul_s(ag_square(ag_square(ag_abs(z))), 0.1), AG_ALL_DIMS, false);
        ag_tensor *t3 = ag_sum(ag_mul_s(ag_square(ag_sub(b, c)), 0.5), AG_ALL_DIMS, false);
        L = ag_add(ag_add(t1, t2), t3);
    } else {
        ag_tensor *x = pr->p[0];
        ag_tensor *x0 = ag_select(x, 0, 0), *x1 = ag_select(x, 0, 1);
        L = ag_add(ag_square(ag_rsub_s(1, x0)), ag_mul_s(ag_square(ag_sub(x1, ag_square(x0))), 100));
    }
    ag_keep(L);
    ag_scope_end();
    return L;
}

static int flat_len(problem *pr) {
    int n = 0;
    for (int i = 0; i < pr->n; i++)
        n += (int)ag_numel(pr->p[i]) * (ag_dtype_is_complex(ag_dtype_of(pr->p[i])) ? 2 : 1);
    return n;
}
static void flatten(problem *pr, double *out) {
    for (int i = 0; i < pr->n; i++) {
        bool c = ag_dtype_is_complex(ag_dtype_of(pr->p[i]));
        assert_int_equal(ag_copy_to_buffer(pr->p[i], out, c ? AG_C128 : AG_F64), 0);
        out += ag_numel(pr->p[i]) * (c ? 2 : 1);
    }
}

/* closure for L-BFGS and step_closure */
static ag_tensor *closure(void *ud) {
    problem *pr = ud;
    for (int i = 0; i < pr->n; i++) ag_zero_grad(pr->p[i]);
    ag_tensor *L = objective(pr);
    if (ag_backward(L)) { ag_release(L); return NULL; }
    return L;
}

static double one_step(problem *pr, ag_optim *o) {
    ag_optim_zero_grad(o);
    ag_tensor *L = objective(pr);
    double l = ag_item(L);
    if (ag_backward(L)) fail_msg("backward: %s", ag_last_error());
    ag_release(L);
    int rc = ag_optim_step(o);
    if (rc) fail_msg("step: %s", ag_last_error());
    return l;
}

static void expect_close(const char *what, const double *got, int64_t rows, int64_t cols, const char *fxname, double tol) {
    ag_tensor *ref = fx_get(FX, "%s", fxname);
    if (!ref) fail_msg("fixture %s missing", fxname);
    ag_tensor *g = cols ? ag_from_data(got, AG_SHAPE(rows, cols), AG_F64) : ag_from_data(got, AG_SHAPE(rows), AG_F64); /* KEEPCPU: vs the fixture */
    double r = fx_close_ratio(g, ref, tol, tol);
    if (!(r <= 1)) {
        print_error("%s vs %s: close ratio %g\n", what, fxname, r);
        const double *rd = ag_data(ref);
        for (int64_t i = 0; i < ag_numel(ref); i++)
            if (fabs(rd[i] - got[i]) > tol * (1 + fabs(rd[i])))
                print_error("  [%lld] got %.17g want %.17g\n", (long long)i, got[i], rd[i]);
        fail();
    }
    ag_release(g);
    ag_release(ref);
}

/* ---- first-order optimizers -------------------------------------------------------------- */
typedef enum { O_SGD, O_ADAM, O_ADAMW, O_RMS } opt_kind;
typedef struct cfg {
    const char *name;
    obj_kind obj;
    opt_kind kind;
    ag_sgd_opts sgd;
    ag_adam_opts adam;
    ag_rmsprop_opts rms;
} cfg;

static const cfg CONFIGS[] = {
    {"sgd", OBJ_REAL, O_SGD, .sgd = {.lr = 1e-3}},
    {"sgd_nesterov", OBJ_REAL, O_SGD, .sgd = {.lr = 1e-3, .momentum = 0.9, .nesterov = true}},
    {"sgd_damp_wd", OBJ_REAL, O_SGD, .sgd = {.lr = 1e-3, .momentum = 0.8, .dampening = 0.1, .weight_decay = 0.01}},
    {"sgd_maximize", OBJ_NEG, O_SGD, .sgd = {.lr = 1e-3, .momentum = 0.5, .maximize = true}},
    {"sgd_complex", OBJ_COMPLEX, O_SGD, .sgd = {.lr = 1e-2, .momentum = 0.9, .weight_decay = 0.01}},
    {"adam", OBJ_REAL, O_ADAM, .adam = {.lr = 1e-2}},
    {"adam_wd_amsgrad", OBJ_REAL, O_ADAM, .adam = {.lr = 1e-2, .weight_decay = 0.1, .amsgrad = true}},
    {"adam_maximize", OBJ_NEG, O_ADAM, .adam = {.lr = 1e-2, .beta1 = 0.8, .beta2 = 0.99, .eps = 1e-6, .maximize = true}},
    {"adam_complex", OBJ_COMPLEX, O_ADAM, .adam = {.lr = 1e-2, .weight_decay = 0.01}},
    {"adamw", OBJ_REAL, O_ADAMW, .adam = {.lr = 1e-2}},
    {"adamw_amsgrad", OBJ_REAL, O_ADAMW, .adam = {.lr = 1e-2, .weight_decay = 0.1, .amsgrad = true}},
    {"adamw_complex", OBJ_COMPLEX, O_ADAMW, .adam = {.lr = 1e-2}},
    {"rmsprop", OBJ_REAL, O_RMS, .rms = {.lr = 1e-3}},
    {"rmsprop_centered", OBJ_REAL, O_RMS,
     .rms = {.lr = 1e-3, .alpha = 0.9, .centered = true, .momentum = 0.9, .weight_decay = 0.01}},
    {"rmsprop_maximize", OBJ_NEG, O_RMS, .rms = {.lr = 1e-3, .momentum = 0.5, .maximize = true}},
    {"rmsprop_complex", OBJ_COMPLEX, O_RMS, .rms = {.lr = 1e-3, .centered = true}},
};

static ag_optim *make_opt(const cfg *c, ag_params ps) {
    switch (c->kind) {
    case O_SGD: return ag_sgd(ps, c->sgd);
    case O_ADAM: return ag_adam(ps, c->adam);
    case O_ADAMW: return ag_adamw(ps, c->adam);
    case O_RMS: return ag_rmsprop(ps, c->rms);
    }
    return NULL;
}

static void test_trajectories(void **state) {
    (void)state;
    int64_t live = ag_live_tensors();
    for (size_t ci = 0; ci < sizeof CONFIGS / sizeof *CONFIGS; ci++) {
        const cfg *c = &CONFIGS[ci];
        problem pr = problem_new(c->obj);
        ag_optim *o = make_opt(c, problem_params(&pr));
        if (!o) fail_msg("%s: %s", c->name, ag_last_error());
        int P = flat_len(&pr);
        double *traj = malloc(sizeof(double) * STEPS * P), loss[STEPS];
        for (int k = 0; k < STEPS; k++) {
            loss[k] = one_step(&pr, o);
            flatten(&pr, traj + (size_t)k * P);
        }
        char nm[96];
        snprintf(nm, sizeof nm, "%s.traj", c->name);
        expect_close(c->name, traj, STEPS, P, nm, 1e-12);
        snprintf(nm, sizeof nm, "%s.loss", c->name);
        expect_close(c->name, loss, STEPS, 0, nm, 1e-12);
        free(traj);
        ag_optim_free(o);
        problem_free(&pr);
    }
    assert_int_equal(ag_live_tensors(), live);
    assert_false(ag_failed());
}

/* step_closure on a first-order optimizer: same as zero_grad + backward + step */
static void test_step_closure_first_order(void **state) {
    (void)state;
    int64_t live = ag_live_tensors();
    problem pr = problem_new(OBJ_REAL);
    ag_optim *o = ag_adam(problem_params(&pr), (ag_adam_opts){.lr = 1e-2});
    double traj[STEPS * 9], loss[STEPS];
    for (int k = 0; k < STEPS; k++) {
        assert_int_equal(ag_optim_step_closure(o, closure, &pr), 0);
        loss[k] = ag_optim_last_loss(o);
        flatten(&pr, traj + k * 9);
    }
    expect_close("adam closure", traj, STEPS, 9, "adam.traj", 1e-12);
    expect_close("adam closure", loss, STEPS, 0, "adam.loss", 1e-12);
    ag_optim_free(o);
    problem_free(&pr);
    assert_int_equal(ag_live_tensors(), live);
}

/* ---- L-BFGS -------------------------------------------------------------------------------- */
typedef struct lcfg { const char *name; obj_kind obj; int nsteps; ag_lbfgs_opts o; } lcfg;
static const lcfg LCONFIGS[] = {
    {"rosen_wolfe", OBJ_ROSEN, 10, {.line_search = AG_LINE_SEARCH_STRONG_WOLFE}},
    {"rosen_wolfe_h3", OBJ_ROSEN, 10, {.line_search = AG_LINE_SEARCH_STRONG_WOLFE, .history_size = 3, .max_iter = 5}},
    {"real_wolfe", OBJ_REAL, 5, {.line_search = AG_LINE_SEARCH_STRONG_WOLFE, .history_size = 5}},
    {"real_plain", OBJ_REAL, 5, {.lr = 0.05, .max_iter = 10}},
};

static void test_lbfgs(void **state) {
    (void)state;
    int64_t live = ag_live_tensors();
    for (size_t ci = 0; ci < sizeof LCONFIGS / sizeof *LCONFIGS; ci++) {
        const lcfg *c = &LCONFIGS[ci];
        problem pr = problem_new(c->obj);
        ag_optim *o = ag_lbfgs(problem_params(&pr), c->o);
        assert_non_null(o);
        int P = flat_len(&pr);
        double traj[10 * 9], loss[10], evals[10];
        for (int k = 0; k < c->nsteps; k++) {
            if (ag_optim_step_closure(o, closure, &pr)) fail_msg("%s: %s", c->name, ag_last_error());
            loss[k] = ag_optim_last_loss(o);
            flatten(&pr, traj + k * P);
            evals[k] = ag_item(ag_optim_state_at(o, ag_optim_find_state(o, "0.func_evals"), NULL));
        }
        char nm[96];
        snprintf(nm, sizeof nm, "lbfgs_%s.traj", c->name);
        expect_close(c->name, traj, c->nsteps, P, nm, 1e-10);
        snprintf(nm, sizeof nm, "lbfgs_%s.loss", c->name);
        expect_close(c->name, loss, c->nsteps, 0, nm, 1e-10);
        snprintf(nm, sizeof nm, "lbfgs_%s.evals", c->name);
        expect_close(c->name, evals, c->nsteps, 0, nm, 0);
        ag_optim_free(o);
        problem_free(&pr);
    }
    assert_int_equal(ag_live_tensors(), live);
    assert_false(ag_failed());
}

/* ---- state enumeration round trip ---------------------------------------------------------- */
static void copy_params(problem *dst, problem *src) {
    ag_no_grad_begin();
    for (int i = 0; i < src->n; i++) assert_int_equal(ag_copy_(dst->p[i], src->p[i]), 0);
    ag_no_grad_end();
}

static void roundtrip(ag_optim *(*make)(ag_params, const void *), const void *opts, obj_kind obj, bool lbfgs,
                      int expect_state) {
    problem a = problem_new(obj), b = problem_new(obj);
    ag_optim *oa = make(problem_params(&a), opts);
    assert_non_null(oa);
    assert_int_equal(ag_optim_num_state(oa), 0);
    int nsteps = lbfgs ? 2 : 30;
    for (int k = 0; k < nsteps; k++) {
        if (lbfgs) assert_int_equal(ag_optim_step_closure(oa, closure, &a), 0);
        else one_step(&a, oa);
    }
    assert_int_equal(ag_optim_num_state(oa), expect_state);
    ag_optim *ob = make(problem_params(&b), opts);
    copy_params(&b, &a);
    assert_int_equal(ag_optim_init_state(ob), 0);
    assert_int_equal(ag_optim_num_state(ob), ag_optim_num_state(oa));
    for (int i = 0; i < ag_optim_num_state(oa); i++) {
        const char *name;
        ag_tensor *t = ag_optim_state_at(oa, i, &name);
        assert_non_null(t);
        int j = ag_optim_find_state(ob, name);
        assert_true(j >= 0);
        if (ag_optim_load_state_at(ob, j, t)) fail_msg("load %s: %s", name, ag_last_error());
    }
    for (int k = 0; k < nsteps; k++) {
        if (lbfgs) {
            assert_int_equal(ag_optim_step_closure(oa, closure, &a), 0);
            assert_int_equal(ag_optim_step_closure(ob, closure, &b), 0);
        } else {
            one_step(&a, oa);
            one_step(&b, ob);
        }
    }
    double fa[9], fb[9];
    flatten(&a, fa);
    flatten(&b, fb);
    assert_memory_equal(fa, fb, sizeof(double) * flat_len(&a));
    ag_optim_free(oa);
    ag_optim_free(ob);
    problem_free(&a);
    problem_free(&b);
}
static ag_optim *mk_adam(ag_params p, const void *o) { return ag_adam(p, *(const ag_adam_opts *)o); }
static ag_optim *mk_sgd(ag_params p, const void *o) { return ag_sgd(p, *(const ag_sgd_opts *)o); }
static ag_optim *mk_rms(ag_params p, const void *o) { return ag_rmsprop(p, *(const ag_rmsprop_opts *)o); }
static ag_optim *mk_lbfgs(ag_params p, const void *o) { return ag_lbfgs(p, *(const ag_lbfgs_opts *)o); }

static void test_state_roundtrip(void **state) {
    (void)state;
    int64_t live = ag_live_tensors();
    roundtrip(mk_adam, &(ag_adam_opts){.lr = 1e-2, .amsgrad = true}, OBJ_REAL, false, 8);
    roundtrip(mk_adam, &(ag_adam_opts){.lr = 1e-2}, OBJ_COMPLEX, false, 6);
    roundtrip(mk_sgd, &(ag_sgd_opts){.lr = 1e-3, .momentum = 0.9}, OBJ_REAL, false, 2);
    roundtrip(mk_rms, &(ag_rmsprop_opts){.lr = 1e-3, .momentum = 0.9, .centered = true}, OBJ_REAL, false, 8);
    roundtrip(mk_lbfgs, &(ag_lbfgs_opts){.line_search = AG_LINE_SEARCH_STRONG_WOLFE, .max_iter = 4}, OBJ_REAL, true, 10);

    /* names and bad loads */
    problem pr = problem_new(OBJ_REAL);
    ag_optim *o = ag_adam(problem_params(&pr), (ag_adam_opts){0});
    one_step(&pr, o);
    const char *name;
    ag_tensor *t = ag_optim_state_at(o, 1, &name);
    assert_string_equal(name, "0.exp_avg");
    assert_non_null(ag_optim_state_at(o, 0, &name));
    assert_string_equal(name, "0.step");
    assert_true(ag_item(ag_optim_state_at(o, 0, NULL)) == 1.0);
    assert_int_equal(ag_optim_find_state(o, "1.exp_avg_sq"), 5);
    ag_tensor *bad = ag_zeros_on(AG_SHAPE(3, 2), AG_F64, DEV);
    assert_int_equal(ag_optim_load_state_at(o, 1, bad), AG_ERR_SHAPE);
    assert_non_null(strstr(ag_last_error(), "shape"));
    ag_clear_error();
    ag_release(bad);
    bad = ag_zeros_on(AG_SHAPE(2, 3), AG_F32, DEV);
    assert_int_equal(ag_optim_load_state_at(o, 1, bad), AG_ERR_DTYPE);
    assert_non_null(strstr(ag_last_error(), "dtype"));
    ag_clear_error();
    ag_release(bad);
    assert_null(ag_optim_state_at(o, 6, NULL));
    assert_int_equal(ag_error_code(), AG_ERR_INDEX);
    ag_clear_error();
    (void)t;
    ag_optim_free(o);
    problem_free(&pr);
    assert_int_equal(ag_live_tensors(), live);
}

/* ---- schedulers ---------------------------------------------------------------------------- */
static void test_schedulers(void **state) {
    (void)state;
    int64_t live = ag_live_tensors();
    ag_tensor *p = ag_set_requires_grad(ag_zeros_on(AG_SHAPE(1), AG_F64, DEV), true);
    ag_params ps = {&p, NULL, 1};
    ag_tensor *metric = fx_get(FX, "sched_plateau.metric");
    assert_non_null(metric);
    const double *m = ag_data(metric);
    for (int which = 0; which < 4; which++) {
        ag_optim *o = ag_sgd(ps, (ag_sgd_opts){.lr = 0.1});
        ag_sched *s = which == 0   ? ag_sched_step_lr(o, 7, 0.5)
                      : which == 1 ? ag_sched_exponential(o, 0.95)
                      : which == 2 ? ag_sched_cosine(o, 10, 0.001)
                                   : ag_sched_plateau(o, (ag_plateau_opts){.factor = 0.5, .patience = 3, .threshold = 1e-2,
                                                                           .cooldown = 2, .min_lr = 0.01});
        assert_non_null(s);
        double lrs[50];
        for (int k = 0; k < 50; k++) {
            assert_int_equal(which == 3 ? ag_sched_step_metric(s, m[k]) : ag_sched_step(s), 0);
            lrs[k] = ag_optim_get_lr(o);
            assert_true(ag_sched_get_lr(s) == lrs[k]);
        }
        static const char *names[] = {"sched_step.lr", "sched_exp.lr", "sched_cosine.lr", "sched_plateau.lr"};
        expect_close(names[which], lrs, 50, 0, names[which], 1e-13);
        ag_sched_free(s);
        ag_optim_free(o);
    }
    ag_release(metric);
    ag_release(p);
    assert_int_equal(ag_live_tensors(), live);
}

/* ---- clipping ------------------------------------------------------------------------------- */
static void set_grads(ag_tensor **ps, int n) {
    ag_scope_begin();
    ag_tensor *L = NULL;
    for (int i = 0; i < n; i++) {
        ag_tensor *g = on_dev(fx_get(FX, "clip_in.g%d", i));
        ag_tensor *term = ag_dtype_is_complex(ag_dtype_of(g)) ? ag_sum(ag_real(ag_mul(ps[i], ag_conj(g))), AG_ALL_DIMS, false)
                                                               : ag_sum(ag_mul(ps[i], g), AG_ALL_DIMS, false);
        L = L ? ag_add(L, term) : term;
        ag_release(g);
    }
    assert_int_equal(ag_backward(L), 0);
    ag_scope_end();
}

static void test_clip(void **state) {
    (void)state;
    int64_t live = ag_live_tensors();
    static const char *tags[] = {"2", "1", "inf", "3"};
    static const double types[] = {2, 1, INFINITY, 3};
    for (int v = 0; v <= 4; v++) {
        ag_tensor *ps[3];
        for (int i = 0; i < 3; i++) {
            ag_tensor *g = on_dev(fx_get(FX, "clip_in.g%d", i));
            ps[i] = ag_set_requires_grad(ag_zeros_like(g), true);
            ag_release(g);
        }
        set_grads(ps, 3);
        ag_params pp = {ps, NULL, 3};
        if (v < 4) {
            double total = ag_clip_grad_norm(pp, 1.5, types[v]);
            ag_tensor *ref = fx_get(FX, "clip_%s.total", tags[v]);
            assert_true(fabs(total - ag_item(ref)) <= 1e-13 * fabs(ag_item(ref)));
            ag_release(ref);
        } else {
            assert_int_equal(ag_clip_grad_value(pp, 0.3), 0);
        }
        for (int i = 0; i < 3; i++) {
            ag_tensor *ref = v < 4 ? fx_get(FX, "clip_%s.g%d", tags[v], i) : fx_get(FX, "clipv.g%d", i);
            double r = fx_close_ratio(ag_grad_of(ps[i]), ref, 1e-13, 1e-15);
            if (!(r <= 1)) fail_msg("clip %d grad %d: ratio %g", v, i, r);
            ag_release(ref);
            ag_release(ps[i]);
        }
    }
    assert_false(ag_failed());
    assert_int_equal(ag_live_tensors(), live);
}

/* ---- bad inputs ----------------------------------------------------------------------------- */
static void expect_error(const char *needle) {
    assert_true(ag_failed());
    if (!strstr(ag_last_error(), needle)) fail_msg("expected '%s' in '%s'", needle, ag_last_error());
    ag_clear_error();
}

static void test_bad_inputs(void **state) {
    (void)state;
    int64_t live = ag_live_tensors();
    problem pr = problem_new(OBJ_REAL);
    ag_params ps = problem_params(&pr);
    assert_null(ag_sgd(ps, (ag_sgd_opts){.lr = -0.1}));
    expect_error("invalid learning rate -0.1");
    assert_null(ag_adam(ps, (ag_adam_opts){.beta1 = 1.0}));
    expect_error("invalid beta1 1");
    assert_null(ag_adamw(ps, (ag_adam_opts){.beta2 = 1.5}));
    expect_error("invalid beta2 1.5");
    assert_null(ag_adam(ps, (ag_adam_opts){.beta1 = -0.5}));
    expect_error("beta1");
    assert_null(ag_rmsprop(ps, (ag_rmsprop_opts){.momentum = -1}));
    expect_error("momentum");
    assert_null(ag_sgd(ps, (ag_sgd_opts){.lr = 0.1, .nesterov = true}));
    expect_error("nesterov");
    assert_null(ag_sgd((ag_params){NULL, NULL, 0}, (ag_sgd_opts){0}));
    expect_error("empty parameter list");
    ag_tensor *nog = ag_zeros_on(AG_SHAPE(3), AG_F64, DEV);
    ag_tensor *mixed[2] = {pr.p[0], nog};
    assert_null(ag_adam((ag_params){mixed, (const char *[]){"w", "frozen"}, 2}, (ag_adam_opts){0}));
    expect_error("parameter 1 frozen does not require grad");
    ag_tensor *it = ag_zeros_on(AG_SHAPE(3), AG_I64, DEV);
    assert_null(ag_sgd((ag_params){&it, NULL, 1}, (ag_sgd_opts){0}));
    expect_error("dtype i64");
    ag_release(it);
    ag_release(nog);
    assert_null(ag_sched_plateau(NULL, (ag_plateau_opts){0}));
    expect_error("NULL optimizer");

    ag_optim *o = ag_lbfgs(ps, (ag_lbfgs_opts){0});
    assert_int_equal(ag_optim_step(o), AG_ERR_INVALID);
    expect_error("closure");
    assert_int_equal(ag_optim_step_closure(o, NULL, NULL), AG_ERR_INVALID);
    expect_error("closure");
    assert_int_equal(ag_optim_load_state_at(o, 0, pr.p[1]), AG_ERR_INDEX);
    expect_error("ag_optim_init_state");
    assert_int_equal(ag_optim_set_lr(o, -1), AG_ERR_INVALID);
    expect_error("learning rate");
    ag_optim_free(o);
    o = ag_sgd(ps, (ag_sgd_opts){.lr = 0.1});
    assert_int_equal(ag_optim_step(o), 0);   /* no grads: nothing to do */
    assert_true(ag_clip_grad_norm(ps, 1, 2) == 0);
    ag_sched *s = ag_sched_plateau(o, (ag_plateau_opts){0});
    assert_int_equal(ag_sched_step(s), AG_ERR_INVALID);
    expect_error("metric");
    ag_sched_free(s);
    assert_null(ag_sched_cosine(o, 0, 0));
    expect_error("T_max");
    ag_optim_free(o);
    problem_free(&pr);
    assert_int_equal(ag_live_tensors(), live);
}

/* A strided parameter is updated through a contiguous copy and gets exactly the values of the
 * same parameter stored contiguously; in anomaly mode a non-finite update names the update. */
static void test_strided_and_anomaly(void **state) {
    (void)state;
    int64_t live = ag_live_tensors();
    static const double G[6] = {0.5, -1, 2, 0.25, -0.75, 1.5};
    ag_tensor *base = ag_from_data_on(W0, AG_SHAPE(3, 2), AG_F64, DEV);
    ag_scope_begin();
    ag_tensor *pt = ag_keep(ag_set_requires_grad(ag_contiguous(ag_transpose(base, 0, 1)), true)); /* [2,3] contiguous */
    ag_tensor *ps = ag_keep(ag_set_requires_grad(ag_detach(ag_transpose(base, 0, 1)), true));     /* [2,3] strided view */
    ag_scope_end();
    assert_false(ag_is_contiguous(ps));
    ag_tensor *gt = ag_from_data_on(G, AG_SHAPE(2, 3), AG_F64, DEV);
    for (int which = 0; which < 3; which++) {
        ag_tensor *pp[2] = {pt, ps};
        ag_optim *o[2];
        for (int j = 0; j < 2; j++) {
            ag_params one = {&pp[j], NULL, 1};
            o[j] = which == 0   ? ag_sgd(one, (ag_sgd_opts){.lr = 0.1, .momentum = 0.9})
                   : which == 1 ? ag_adam(one, (ag_adam_opts){.lr = 0.1, .amsgrad = true})
                                : ag_rmsprop(one, (ag_rmsprop_opts){.lr = 0.1, .centered = true, .momentum = 0.5});
            assert_non_null(o[j]);
        }
        for (int k = 0; k < 3; k++) {
            for (int j = 0; j < 2; j++) {
                ag_scope_begin();
                ag_optim_zero_grad(o[j]);
                assert_int_equal(ag_backward(ag_sum(ag_mul(pp[j], gt), AG_ALL_DIMS, false)), 0);
                if (ag_optim_step(o[j])) fail_msg("step: %s", ag_last_error());
                ag_scope_end();
            }
            double a[6], b[6];
            assert_int_equal(ag_copy_to_buffer(pt, a, AG_F64), 0);
            assert_int_equal(ag_copy_to_buffer(ps, b, AG_F64), 0);
            assert_memory_equal(a, b, sizeof a);
        }
        ag_optim_free(o[0]);
        ag_optim_free(o[1]);
    }

    /* an Inf gradient makes an Inf parameter: anomaly mode reports it and names the update */
    ag_tensor *p = ag_set_requires_grad(ag_from_data_on(B0, AG_SHAPE(3), AG_F64, DEV), true);
    ag_optim *o = ag_sgd((ag_params){&p, NULL, 1}, (ag_sgd_opts){.lr = 0.1});
    ag_tensor *ginf = ag_from_data_on((const double[]){1, INFINITY, 1}, AG_SHAPE(3), AG_F64, DEV);
    ag_scope_begin();
    assert_int_equal(ag_backward(ag_sum(ag_mul(p, ginf), AG_ALL_DIMS, false)), 0);
    ag_scope_end();
    ag_set_anomaly(true);
    int rc = ag_optim_step(o);
    ag_set_anomaly(false);
    assert_int_equal(rc, AG_ERR_NUMERIC);
    expect_error("Inf at element 1 of the optimizer update");
    ag_optim_free(o);
    ag_release(ginf);
    ag_release(p);
    ag_release(gt);
    ag_release(pt);
    ag_release(ps);
    ag_release(base);
    assert_int_equal(ag_live_tensors(), live);
}

/* defaults, lr get/set, version bump, zero_grad */
/* a closure written without its own scope: its temporaries belong to whatever scope is current */
static ag_tensor *leaky_closure(void *ud) {
    ag_tensor *x = ud;
    ag_zero_grad(x);
    ag_tensor *L = ag_sum(ag_square(ag_sub_s(ag_mul_s(x, 2.0), 3.0)), AG_ALL_DIMS, false);
    if (!L || ag_backward(L)) return NULL;
    return ag_retain(L);
}

/* each closure call runs in its own scope, so the caller's scope does not grow per evaluation */
static void test_closure_scope(void **state) {
    (void)state;
    ag_tensor *x = ag_zeros(AG_SHAPE(5), AG_F64);
    ag_set_requires_grad(x, true);
    ag_params ps = {&x, NULL, 1};
    ag_optim *opts[2] = {ag_lbfgs(ps, (ag_lbfgs_opts){.max_iter = 20}), ag_adam(ps, (ag_adam_opts){0})};
    for (int k = 0; k < 2; k++) {
        ag_scope_begin();
        assert_int_equal(ag_optim_step_closure(opts[k], leaky_closure, x), 0);
        int64_t live = ag_live_tensors();
        for (int i = 0; i < 5; i++) assert_int_equal(ag_optim_step_closure(opts[k], leaky_closure, x), 0);
        assert_true(ag_live_tensors() <= live);
        ag_scope_end();
        ag_optim_free(opts[k]);
    }
    ag_zero_grad(x);
    ag_release(x);
}

static void test_misc(void **state) {
    (void)state;
    int64_t live = ag_live_tensors();
    problem pr = problem_new(OBJ_REAL);
    ag_optim *o = ag_adamw(problem_params(&pr), (ag_adam_opts){0});
    assert_true(ag_optim_get_lr(o) == 1e-3);
    assert_string_equal(ag_optim_name(o), "adamw");
    assert_int_equal(ag_optim_set_lr(o, 0.5), 0);
    assert_true(ag_optim_get_lr(o) == 0.5);
    one_step(&pr, o);
    assert_non_null(ag_grad_of(pr.p[0]));
    ag_optim_zero_grad(o);
    assert_null(ag_grad_of(pr.p[0]));
    assert_int_equal(ag_optim_params(o).n, 2);
    ag_optim_free(o);
    /* a parameter saved by a pending graph cannot be updated silently: backward sees the bump */
    o = ag_sgd(problem_params(&pr), (ag_sgd_opts){.lr = 0.1});
    ag_tensor *L = objective(&pr);
    ag_tensor *L2 = objective(&pr);
    assert_int_equal(ag_backward(L), 0);
    assert_int_equal(ag_optim_step(o), 0);
    assert_true(ag_backward(L2) != 0);
    ag_clear_error();
    ag_release(L);
    ag_release(L2);
    ag_optim_free(o);
    problem_free(&pr);
    assert_int_equal(ag_live_tensors(), live);
}

int main(void) {
    DEV = ag_device_default();
    FX = fx_open("optim");
    if (!FX) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_trajectories),
        cmocka_unit_test(test_step_closure_first_order),
        cmocka_unit_test(test_lbfgs),
        cmocka_unit_test(test_state_roundtrip),
        cmocka_unit_test(test_schedulers),
        cmocka_unit_test(test_clip),
        cmocka_unit_test(test_bad_inputs),
        cmocka_unit_test(test_misc),
        cmocka_unit_test(test_closure_scope),
        cmocka_unit_test(test_strided_and_anomaly),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    fx_close(FX);
    return rc;
}
