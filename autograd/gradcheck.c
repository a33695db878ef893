/* autograd/gradcheck.c — finite-difference check of analytic gradients (f64 and c128).
 * The scalar checked is L = Re sum(conj(w) * out) for a random w (fixed seed), whose gradient
 * the engine computes as a vector-Jacobian product with upstream w; central differences of L
 * in each real and imaginary part of each input element give the numeric gradient
 * dL/dRe + i dL/dIm. full_jacobian repeats this with w = e_j (and i e_j) for every output j. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tensor/internal.h"

static uint64_t splitmix(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* gradgradcheck's function takes a gradient inside, so it must run with grad mode on */
static _Thread_local bool eval_with_grad;

/* L = Re sum conj(w) out, with w as (re, im) pairs */
static int eval_loss(ag_gradcheck_fn fn, void *ud, ag_tensor *const *inputs, int n, const double *w, int64_t m,
                     double *L) {
    ag_scope_begin();
    bool nograd = !eval_with_grad;
    if (nograd) ag_no_grad_begin();
    ag_tensor *out = fn(inputs, n, ud);
    int rc = 0;
    double *buf = out ? malloc((size_t)(m ? m : 1) * 16) : NULL;
    if (!out) rc = ag_failed() ? ag_error_code() : ag_set_error(AG_ERR_INVALID, "ag_gradcheck: fn returned NULL");
    else if (!buf) rc = ag_set_error(AG_ERR_NOMEM, "ag_gradcheck: out of memory");
    else if ((rc = ag_copy_to_buffer(out, buf, AG_C128)) == 0) {
        double s = 0;
        for (int64_t j = 0; j < m; j++) s += w[2 * j] * buf[2 * j] + w[2 * j + 1] * buf[2 * j + 1];
        *L = s;
    }
    free(buf);
    if (nograd) ag_no_grad_end();
    ag_scope_end();
    return rc;
}

static int64_t elem_offset(const ag_tensor *t, int64_t flat) {
    int64_t off = t->offset;
    for (int d = t->ndim - 1; d >= 0; d--) {
        off += (flat % t->shape[d]) * t->strides[d];
        flat /= t->shape[d];
    }
    return off;
}

/* one projection w: compare analytic and numeric gradients, update report; 1 ok, 0 mismatch */
static int check_projection(ag_gradcheck_fn fn, void *ud, ag_tensor *const *inputs, int n, ag_tensor *out,
                            const double *w, const ag_gradcheck_opts *o, ag_gradcheck_report *rep, int *ok) {
    int64_t m = ag_numel(out);
    bool cplx_out = ag_dtype_is_complex(out->dtype);
    ag_tensor *wt = ag__new(out->shape, out->ndim, cplx_out ? AG_C128 : AG_F64, AG_CPU, "ag_gradcheck");
    if (!wt) return ag_error_code();
    double *wd = wt->storage->data;
    for (int64_t j = 0; j < m; j++) {
        if (cplx_out) { wd[2 * j] = w[2 * j]; wd[2 * j + 1] = w[2 * j + 1]; }
        else wd[j] = w[2 * j];
    }
    ag_tensor **grads = calloc((size_t)n, sizeof *grads);
    double *ga = NULL;
    int rc = grads ? 0 : ag_set_error(AG_ERR_NOMEM, "ag_gradcheck: out of memory");
    if (!rc) {
        ag_scope_begin();
        rc = ag_grad(&out, 1, inputs, n, (ag_tensor *const[]){wt}, true, grads);
        for (int i = 0; i < n && !rc; i++) ag_keep(grads[i]);
        ag_scope_end();
    }
    for (int i = 0; i < n && !rc; i++) {
        ag_tensor *x = inputs[i];
        bool cx = ag_dtype_is_complex(x->dtype);
        int64_t nx = ag_numel(x);
        ga = realloc(ga, (size_t)(nx ? nx : 1) * 16);
        if (!ga) { rc = ag_set_error(AG_ERR_NOMEM, "ag_gradcheck: out of memory"); break; }
        if ((rc = ag_copy_to_buffer(grads[i], ga, AG_C128))) break;
        double *base = x->storage->data;
        for (int64_t e = 0; e < nx && !rc; e++) {
            int64_t off = elem_offset(x, e);
            double num[2] = {0, 0};
            for (int part = 0; part < (cx ? 2 : 1) && !rc; part++) {
                double *p = cx ? &base[2 * off + part] : &base[off];
                double keep = *p, lp, lm;
                *p = keep + o->eps;
                rc = eval_loss(fn, ud, inputs, n, w, m, &lp);
                *p = keep - o->eps;
                if (!rc) rc = eval_loss(fn, ud, inputs, n, w, m, &lm);
                *p = keep;
                num[part] = (lp - lm) / (2 * o->eps);
            }
            for (int part = 0; part < (cx ? 2 : 1) && !rc; part++) {
                double a = ga[2 * e + part], nu = num[part];
                double err = fabs(a - nu);
                bool bad = !(err <= o->atol + o->rtol * fabs(nu));
                if (err > rep->max_abs_err || (bad && *ok) || isnan(err)) {
                    rep->max_abs_err = isnan(err) ? INFINITY : err;
                    rep->worst_input = i;
                    rep->worst_index = e;
                    rep->analytic = a;
                    rep->numeric = nu;
                }
                if (bad && *ok) {
                    *ok = 0;
                    snprintf(rep->message, sizeof rep->message,
                             "input %d element %lld (%s part): analytic %.10g, numeric %.10g, |diff| %.3g > "
                             "atol %.1g + rtol %.1g * |numeric|", i, (long long)e, part ? "imag" : "real", a, nu,
                             err, o->atol, o->rtol);
                }
            }
        }
    }
    for (int i = 0; i < n; i++) ag__drop(grads ? grads[i] : NULL);
    free(grads);
    free(ga);
    ag__drop(wt);
    return rc;
}

int ag_gradcheck(ag_gradcheck_fn fn, void *user_data, ag_tensor *const *inputs, int n,
                 const ag_gradcheck_opts *opts, ag_gradcheck_report *report) {
    ag_gradcheck_report local;
    ag_gradcheck_report *rep = report ? report : &local;
    memset(rep, 0, sizeof *rep);
    rep->worst_input = -1;
    if (!fn || !inputs || n <= 0)
        return ag_set_error(AG_ERR_INVALID, "ag_gradcheck: expected a function and n > 0 inputs, given n=%d", n);
    ag_gradcheck_opts o = {1e-6, 1e-5, 1e-3, false};
    if (opts) {
        o = *opts;
        if (o.eps <= 0) o.eps = 1e-6;
        if (o.atol <= 0) o.atol = 1e-5;
        if (o.rtol <= 0) o.rtol = 1e-3;
    }
    for (int i = 0; i < n; i++) {
        ag_tensor *x = inputs[i];
        if (!x) return ag_failed() ? ag_error_code() : ag_set_error(AG_ERR_INVALID, "ag_gradcheck: input %d is NULL", i);
        if (x->dtype != AG_F64 && x->dtype != AG_C128)
            return ag_set_error(AG_ERR_DTYPE, "ag_gradcheck: input %d must be f64 or c128 for finite differences, given %s",
                                i, ag_dtype_name(x->dtype));
        if (!x->requires_grad || x->grad_fn)
            return ag_set_error(AG_ERR_AUTOGRAD, "ag_gradcheck: input %d must be a leaf with requires_grad set", i);
        if (!ag__is_cpu(x)) return ag_set_error(AG_ERR_DEVICE, "ag_gradcheck: input %d must be on the cpu", i);
    }
    ag_scope_begin();
    ag__gradcheck_scope(true); /* the nodes of this evaluation are the ones checked */
    ag_tensor *out = fn(inputs, n, user_data);
    ag__gradcheck_scope(false);
    int rc = 0, ok = 1;
    if (!out) { rc = ag_failed() ? ag_error_code() : ag_set_error(AG_ERR_INVALID, "ag_gradcheck: fn returned NULL"); goto done; }
    if (!out->requires_grad) {
        rc = ag_set_error(AG_ERR_AUTOGRAD, "ag_gradcheck: the output does not depend differentiably on the inputs");
        goto done;
    }
    int64_t m = ag_numel(out);
    double *w = calloc((size_t)(m ? m : 1), 16);
    if (!w) { rc = ag_set_error(AG_ERR_NOMEM, "ag_gradcheck: out of memory"); goto done; }
    bool cplx_out = ag_dtype_is_complex(out->dtype);
    if (!o.full_jacobian) {
        uint64_t s = 12345;
        for (int64_t j = 0; j < m; j++) {
            w[2 * j] = (double)(splitmix(&s) >> 11) / 9007199254740992.0 * 2 - 1;
            w[2 * j + 1] = cplx_out ? (double)(splitmix(&s) >> 11) / 9007199254740992.0 * 2 - 1 : 0;
        }
        rc = check_projection(fn, user_data, inputs, n, out, w, &o, rep, &ok);
    } else {
        for (int64_t j = 0; j < m && !rc; j++) {
            for (int part = 0; part < (cplx_out ? 2 : 1) && !rc; part++) {
                memset(w, 0, (size_t)m * 16);
                w[2 * j + part] = 1;
                rc = check_projection(fn, user_data, inputs, n, out, w, &o, rep, &ok);
            }
        }
    }
    free(w);
done:
    ag_scope_end();
    if (rc) return rc;
    if (ok) snprintf(rep->message, sizeof rep->message, "ok: max |analytic - numeric| = %.3g", rep->max_abs_err);
    return ok;
}

/* ---- gradgradcheck: gradcheck of x -> d<u, fn(x)>/dx, a first gradient taken with
 * create_graph, so the second derivatives (the backward rules' own backward) are checked ---- */
typedef struct gg_ctx { ag_gradcheck_fn fn; void *ud; } gg_ctx;

static ag_tensor *gg_fn(ag_tensor *const *x, int n, void *ud) {
    gg_ctx *c = ud;
    ag_tensor *out = c->fn(x, n, c->ud);
    if (!out) return NULL;
    /* a fixed projection u: the same in every evaluation */
    int64_t m = ag_numel(out);
    bool cplx = ag_dtype_is_complex(out->dtype);
    double *u = malloc((size_t)(m ? m : 1) * 16);
    if (!u) return ag_fail(AG_ERR_NOMEM, "ag_gradgradcheck: out of memory");
    uint64_t st = 777;
    for (int64_t j = 0; j < m * (cplx ? 2 : 1); j++) u[j] = (double)(splitmix(&st) >> 11) / 9007199254740992.0 * 2 - 1;
    ag_tensor *ut = ag_from_data_on(u, out->shape, out->ndim, cplx ? AG_C128 : AG_F64, ag_device_of(out));
    free(u);
    ag_tensor *p = ag_mul(out, ag_conj(ut));
    if (p && cplx) p = ag_real(p);
    p = ag_sum(p, AG_ALL_DIMS, false);
    if (!p) return NULL;
    if (!p->requires_grad) return ag_fail(AG_ERR_AUTOGRAD, "ag_gradgradcheck: the output does not depend "
                                          "differentiably on the inputs");
    ag_tensor *g[16];
    if (n > 16) return ag_fail(AG_ERR_INVALID, "ag_gradgradcheck: at most 16 inputs, given %d", n);
    if (ag_grad_ex(&p, 1, x, n, (ag_grad_opts){.create_graph = true}, g) < 0) return NULL;
    bool any_cplx = false;
    for (int i = 0; i < n; i++) any_cplx |= ag_dtype_is_complex(g[i]->dtype);
    ag_tensor *flat[16];
    for (int i = 0; i < n; i++) {
        flat[i] = ag_reshape(g[i], (int64_t[]){-1}, 1);
        if (any_cplx) flat[i] = ag_to_dtype(flat[i], AG_C128);
    }
    ag_tensor *r = ag_cat(flat, n, 0);
    /* a gradient constant in x (a linear fn) has no history; its derivative, 0, is still checked */
    if (r && !r->requires_grad) r = ag_add(r, ag_mul_s(ag_sum(ag_real(ag_conj(x[0])), AG_ALL_DIMS, false), 0.0));
    return r;
}

int ag_gradgradcheck(ag_gradcheck_fn fn, void *user_data, ag_tensor *const *inputs, int n,
                     const ag_gradcheck_opts *opts, ag_gradcheck_report *report) {
    if (!fn) return ag_set_error(AG_ERR_INVALID, "ag_gradgradcheck: expected a function, given NULL");
    gg_ctx c = {fn, user_data};
    bool was = eval_with_grad;
    eval_with_grad = true;
    int rc = ag_gradcheck(gg_fn, &c, inputs, n, opts, report);
    eval_with_grad = was;
    return rc;
}
