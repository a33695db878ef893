/* tensor/print.c — readable printing, NumPy/PyTorch style: nested brackets, one format for
 * all elements, "..." for the middle of dims when there are more than 1000 elements. */
#include <math.h>
#include <stdlib.h>

#include "tensor/internal.h"

#define EDGE 3

typedef struct pctx {
    FILE *f;
    const ag_tensor *t;
    const double *v; /* c128 pairs when complex, else doubles */
    const int64_t *iv; /* i64 and bool values, exactly */
    bool cplx, ints, bools, sci, summarize;
    int width;
} pctx;

static void put_value(const pctx *c, int64_t i) {
    if (c->cplx) {
        double re = c->v[2 * i], im = c->v[2 * i + 1];
        if (c->sci) fprintf(c->f, "%.4e%+.4ej", re, im);
        else fprintf(c->f, "%*.4f%+.4fj", c->width, re, im);
    } else if (c->bools) {
        fprintf(c->f, "%*s", c->width, c->iv[i] ? "True" : "False");
    } else if (c->ints) {
        fprintf(c->f, "%*lld", c->width, (long long)c->iv[i]);
    } else if (c->sci) {
        fprintf(c->f, "%*.4e", c->width, c->v[i]);
    } else {
        fprintf(c->f, "%*.4f", c->width, c->v[i]);
    }
}

static void rec(const pctx *c, int dim, int64_t base, int indent) {
    const ag_tensor *t = c->t;
    if (dim == t->ndim) { put_value(c, base); return; }
    int64_t n = t->shape[dim], stride = 1;
    for (int d = dim + 1; d < t->ndim; d++) stride *= t->shape[d];
    fputc('[', c->f);
    for (int64_t i = 0; i < n; i++) {
        if (c->summarize && n > 2 * EDGE && i == EDGE) {
            fprintf(c->f, dim == t->ndim - 1 ? "..., " : "...,\n%*s", dim == t->ndim - 1 ? 0 : indent + 1, "");
            i = n - EDGE;
        }
        rec(c, dim + 1, base + i * stride, indent + 1);
        if (i < n - 1) {
            if (dim == t->ndim - 1) fputs(", ", c->f);
            else {
                fputc(',', c->f);
                for (int k = dim; k < t->ndim - 1; k++) fputc('\n', c->f);
                fprintf(c->f, "%*s", indent + 1, "");
            }
        }
    }
    fputc(']', c->f);
}

int ag_fprint(FILE *f, const ag_tensor *t) {
    if (!f) return ag_set_error(AG_ERR_INVALID, "ag_fprint: FILE is NULL");
    if (!t) return ag_failed() ? ag_error_code() : ag_set_error(AG_ERR_INVALID, "ag_fprint: tensor is NULL");
    int64_t n = ag_numel(t);
    pctx c = {.f = f, .t = t, .cplx = ag_dtype_is_complex(t->dtype), .bools = t->dtype == AG_BOOL,
              .ints = !ag_dtype_is_float(t->dtype), .summarize = n > 1000};
    /* integers are read as i64 (a double would round those beyond 2^53) */
    void *v = malloc((size_t)(n ? n : 1) * (c.cplx ? 16 : 8));
    if (!v) return ag_set_error(AG_ERR_NOMEM, "ag_fprint: out of memory");
    int rc = ag_copy_to_buffer(t, v, c.cplx ? AG_C128 : c.ints ? AG_I64 : AG_F64);
    if (rc) { free(v); return rc; }
    c.v = v;
    c.iv = v;
    double amax = 0, amin = INFINITY;
    int iwidth = 1;
    for (int64_t i = 0; !c.ints && i < n * (c.cplx ? 2 : 1); i++) {
        double a = fabs(c.v[i]);
        if (!isfinite(a)) continue;
        if (a > amax) amax = a;
        if (a > 0 && a < amin) amin = a;
    }
    for (int64_t i = 0; c.ints && i < n; i++) {
        int w = snprintf(NULL, 0, "%lld", (long long)c.iv[i]);
        if (w > iwidth) iwidth = w;
    }
    c.sci = !c.ints && (amax >= 1e8 || (amin < 1e-4 && amax > 0));
    if (c.bools) c.width = 5;
    else if (c.ints) c.width = iwidth + 1;
    else c.width = c.sci ? 11 : (int)snprintf(NULL, 0, "%.4f", amax) + 1;
    if (t->ndim == 0) c.width = 0; /* one value: no column to align */
    fputs("tensor(", f);
    rec(&c, 0, 0, 7);
    fprintf(f, ", dtype=%s, shape=%s)\n", ag_dtype_name(t->dtype), AG_SHP(t));
    free(v);
    return 0;
}

int ag_print(const ag_tensor *t) { return ag_fprint(stdout, t); }
