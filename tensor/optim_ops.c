/* tensor/optim_ops.c — the fused optimizer updates as tensor-level in-place ops.
 *
 * optim/ keeps the optimizer's bookkeeping (state creation, step counters, the contiguous copy
 * of a strided parameter); the checks that make a kernel call safe and the kernel call itself
 * live here, so optim/ never builds a kernel view. The kernels take 1-d contiguous views of one
 * real dtype: complex tensors are passed as their real view (2n reals), which is exactly
 * torch.view_as_real, and the formulas are elementwise, so no other layout work is needed. */
#include <string.h>

#include "tensor/internal.h"
#include "tensor/ops_internal.h"

typedef struct upd_arg {
    const char *role;  /* for messages: "grad", "exp_avg", ... */
    ag_tensor *t;
    bool used;         /* the options need this tensor */
} upd_arg;

static int check_update(const char *op, ag_tensor *param, upd_arg *a, int n, const double *hyper) {
    /* a NULL param or grad after an earlier failure propagates that failure, as every op */
    if (!param || !a[0].t)
        return ag_failed() ? ag_error_code()
                           : ag_set_error(AG_ERR_INVALID, "%s: expected a parameter and its gradient, given NULL %s", op,
                                          param ? "gradient" : "parameter");
    if (!hyper) return ag_set_error(AG_ERR_INVALID, "%s: expected hyper-parameters, given NULL", op);
    if (!ag_dtype_is_float(param->dtype))
        return ag_set_error(AG_ERR_DTYPE, "%s: expected a f32, f64, c64 or c128 parameter, given %s", op,
                            ag_dtype_name(param->dtype));
    if (param->requires_grad && ag__grad_enabled())
        return ag_set_error(AG_ERR_AUTOGRAD, "%s: in-place update of a tensor that requires grad with grad mode on; "
                            "wrap it in ag_no_grad_begin/end", op);
    if (!ag_is_contiguous(param))
        return ag_set_error(AG_ERR_INVALID, "%s: expected a contiguous parameter, given shape %s with strides that are not "
                            "row-major (update a contiguous copy and copy it back)", op, AG_SHP(param));
    for (int i = 0; i < n; i++) {
        ag_tensor *t = a[i].t;
        if (a[i].used && !t)
            return ag_set_error(AG_ERR_INVALID, "%s: the options need %s, given NULL", op, a[i].role);
        if (!a[i].used && t)
            return ag_set_error(AG_ERR_INVALID, "%s: %s given, but the options do not use it (pass NULL)", op, a[i].role);
        if (!t) continue;
        if (t->dtype != param->dtype)
            return ag_set_error(AG_ERR_DTYPE, "%s: expected %s of the parameter's dtype %s, given %s", op, a[i].role,
                                ag_dtype_name(param->dtype), ag_dtype_name(t->dtype));
        if (t->ndim != param->ndim || memcmp(t->shape, param->shape, (size_t)param->ndim * sizeof(int64_t)))
            return ag_set_error(AG_ERR_SHAPE, "%s: expected %s of the parameter's shape %s, given %s", op, a[i].role,
                                AG_SHP(param), AG_SHP(t));
        if (!ag__same_device(op, param, t)) return ag_error_code();
        if (!ag_is_contiguous(t))
            return ag_set_error(AG_ERR_INVALID, "%s: expected a contiguous %s, given strides that are not row-major", op,
                                a[i].role);
        /* the kernels read and write element i of every view in one pass: a shared buffer would
         * silently mix the recurrences */
        if (t->storage == param->storage)
            return ag_set_error(AG_ERR_INVALID, "%s: %s shares storage with the parameter", op, a[i].role);
        for (int j = 0; j < i; j++)
            if (a[j].t && a[j].t->storage == t->storage)
                return ag_set_error(AG_ERR_INVALID, "%s: %s shares storage with %s", op, a[i].role, a[j].role);
    }
    return 0;
}

/* Real 1-d view of a contiguous tensor (complex -> 2n reals); an unused state gets data NULL. */
static ag_kview flat_real(const ag_tensor *t) {
    if (!t) return (ag_kview){0};
    ag_kview v = ag__view(t);
    bool c = ag_dtype_is_complex(t->dtype);
    v.dtype = ag_dtype_to_real(t->dtype);
    v.ndim = 1;
    v.shape[0] = ag__numel(t->shape, t->ndim) * (c ? 2 : 1);
    v.strides[0] = 1;
    return v;
}

static int finish_update(const char *op, int rc, ag_tensor *param, upd_arg *a, int n) {
    /* bump even after a kernel failure: it may have written part of the tensors, and a saved
     * copy must not pass for unchanged */
    ag__bump_version(param);
    for (int i = 1; i < n; i++) /* a[0] is the gradient, only read */
        if (a[i].t) ag__bump_version(a[i].t);
    if (!rc && ag__anomaly()) ag__check_anomaly(op, param, "optimizer update");
    return rc ? rc : (ag_failed() ? ag_error_code() : 0);
}

int ag__sgd_update_(ag_tensor *param, ag_tensor *grad, ag_tensor *momentum_buf, const double *hyper) {
    const char *op = "ag__sgd_update_";
    upd_arg a[] = {{"grad", grad, true}, {"momentum_buf", momentum_buf, hyper && hyper[1] != 0}};
    int rc = check_update(op, param, a, 2, hyper);
    if (rc) return rc;
    const ag_kernels *k = ag__kernels(param);
    if (!k->sgd_step) return ag_set_error(AG_ERR_NOTIMPL, "%s: no sgd_step kernel on the %s backend", op, k->name);
    ag_kview pv = flat_real(param), gv = flat_real(grad), bv = flat_real(momentum_buf);
    return finish_update(op, k->sgd_step(&pv, &gv, &bv, hyper), param, a, 2);
}

int ag__adam_update_(ag_tensor *param, ag_tensor *grad, ag_tensor *exp_avg, ag_tensor *exp_avg_sq,
                     ag_tensor *max_sq, const double *hyper) {
    const char *op = "ag__adam_update_";
    upd_arg a[] = {{"grad", grad, true}, {"exp_avg", exp_avg, true}, {"exp_avg_sq", exp_avg_sq, true},
                   {"max_sq", max_sq, hyper && hyper[6] != 0}};
    int rc = check_update(op, param, a, 4, hyper);
    if (rc) return rc;
    if (!(hyper[5] >= 1))
        return ag_set_error(AG_ERR_INVALID, "%s: expected a step count >= 1 (this update included), given %g", op, hyper[5]);
    const ag_kernels *k = ag__kernels(param);
    if (!k->adam_step) return ag_set_error(AG_ERR_NOTIMPL, "%s: no adam_step kernel on the %s backend", op, k->name);
    ag_kview pv = flat_real(param), gv = flat_real(grad), m = flat_real(exp_avg), v = flat_real(exp_avg_sq),
             mx = flat_real(max_sq);
    return finish_update(op, k->adam_step(&pv, &gv, &m, &v, &mx, hyper), param, a, 4);
}

int ag__rmsprop_update_(ag_tensor *param, ag_tensor *grad, ag_tensor *square_avg, ag_tensor *grad_avg,
                        ag_tensor *momentum_buf, const double *hyper) {
    const char *op = "ag__rmsprop_update_";
    upd_arg a[] = {{"grad", grad, true}, {"square_avg", square_avg, true}, {"grad_avg", grad_avg, hyper && hyper[5] != 0},
                   {"momentum_buf", momentum_buf, hyper && hyper[4] > 0}};
    int rc = check_update(op, param, a, 4, hyper);
    if (rc) return rc;
    const ag_kernels *k = ag__kernels(param);
    if (!k->rmsprop_step) return ag_set_error(AG_ERR_NOTIMPL, "%s: no rmsprop_step kernel on the %s backend", op, k->name);
    ag_kview pv = flat_real(param), gv = flat_real(grad), sq = flat_real(square_avg), ga = flat_real(grad_avg),
             mb = flat_real(momentum_buf);
    return finish_update(op, k->rmsprop_step(&pv, &gv, &sq, &ga, &mb, hyper), param, a, 4);
}
