/* tests/fixture.c — see fixture.h. */
#include "fixture.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <setjmp.h>
#include <stddef.h>
#include <cmocka.h>

typedef struct entry { char *name; ag_dtype dt; int ndim; int64_t shape[AG_MAX_DIMS]; long data_off; } entry;
struct fx_file { FILE *f; entry *e; uint32_t n; };

fx_file *fx_open(const char *family) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s.agfx", AG_TEST_FIXTURE_DIR, family);
    FILE *f = fopen(path, "rb");
    if (!f) { fprintf(stderr, "fixture %s missing: re-run tests/gen_fixtures.py\n", path); return NULL; }
    char magic[8];
    uint32_t n;
    if (fread(magic, 1, 8, f) != 8 || memcmp(magic, "AGFX0001", 8) || fread(&n, 4, 1, f) != 1) {
        fprintf(stderr, "fixture %s malformed: re-run tests/gen_fixtures.py\n", path);
        fclose(f);
        return NULL;
    }
    fx_file *x = calloc(1, sizeof *x);
    x->f = f;
    x->e = calloc(n, sizeof *x->e);
    x->n = n;
    for (uint32_t i = 0; i < n; i++) {
        uint16_t len;
        uint8_t dt, nd;
        entry *e = &x->e[i];
        if (fread(&len, 2, 1, f) != 1) goto bad;
        e->name = calloc(len + 1u, 1);
        if (fread(e->name, 1, len, f) != len || fread(&dt, 1, 1, f) != 1 || fread(&nd, 1, 1, f) != 1 || nd > AG_MAX_DIMS) goto bad;
        e->dt = (ag_dtype)dt;
        e->ndim = nd;
        if (nd && fread(e->shape, 8, nd, f) != nd) goto bad;
        e->data_off = ftell(f);
        int64_t cnt = 1;
        for (int d = 0; d < nd; d++) cnt *= e->shape[d];
        if (fseek(f, (long)(cnt * (int64_t)ag_dtype_size(e->dt)), SEEK_CUR)) goto bad;
    }
    return x;
bad:
    fprintf(stderr, "fixture %s truncated: re-run tests/gen_fixtures.py\n", path);
    fx_close(x);
    return NULL;
}

void fx_close(fx_file *x) {
    if (!x) return;
    for (uint32_t i = 0; i < x->n; i++) free(x->e[i].name);
    free(x->e);
    fclose(x->f);
    free(x);
}

static entry *find(fx_file *x, const char *fmt, va_list ap) {
    char name[256];
    vsnprintf(name, sizeof name, fmt, ap);
    for (uint32_t i = 0; x && i < x->n; i++)
        if (!strcmp(x->e[i].name, name)) return &x->e[i];
    return NULL;
}

bool fx_has(fx_file *x, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    entry *e = find(x, fmt, ap);
    va_end(ap);
    return e != NULL;
}

ag_tensor *fx_get(fx_file *x, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    entry *e = find(x, fmt, ap);
    va_end(ap);
    if (!e) return NULL;
    ag_tensor *t = ag_empty(e->shape, e->ndim, e->dt);
    if (!t) return NULL;
    size_t nb = (size_t)ag_numel(t) * ag_dtype_size(e->dt);
    if (fseek(x->f, e->data_off, SEEK_SET) || (nb && fread(ag_data(t), 1, nb, x->f) != nb)) {
        ag_release(t);
        return NULL;
    }
    return t;
}

double fx_close_ratio(ag_tensor *a, ag_tensor *b, double rtol, double atol) {
    if (!a || !b) return INFINITY;
    if (ag_ndim(a) != ag_ndim(b) || memcmp(ag_shape(a), ag_shape(b), (size_t)ag_ndim(a) * sizeof(int64_t))) return INFINITY;
    int64_t n = ag_numel(a);
    bool cx = ag_dtype_is_complex(ag_dtype_of(a)) || ag_dtype_is_complex(ag_dtype_of(b));
    double *x = malloc((size_t)(n ? n : 1) * 16), *y = malloc((size_t)(n ? n : 1) * 16);
    ag_copy_to_buffer(a, x, AG_C128);
    ag_copy_to_buffer(b, y, AG_C128);
    double worst = 0;
    for (int64_t i = 0; i < n * 2; i++) {
        if (!cx && (i & 1)) continue;
        double u = x[i], v = y[i];
        if (isnan(u) || isnan(v)) { if (isnan(u) != isnan(v)) worst = INFINITY; continue; }
        if (isinf(u) || isinf(v)) { if (u != v) worst = INFINITY; continue; }
        double r = fabs(u - v) / (atol + rtol * fabs(v));
        if (r > worst) worst = r;
    }
    free(x);
    free(y);
    return worst;
}

void fx_expect_close(ag_tensor *got, ag_tensor *want, double rtol, const char *what) {
    if (!got || !want) fail_msg("%s: missing (%s)", what, ag_last_error());
    ag_tensor *g = ag_to(got, AG_CPU);
    double r = fx_close_ratio(g, want, rtol, rtol * 1e-3);
    ag_release(g);
    if (!(r <= 1)) fail_msg("%s: off by %g of the tolerance", what, r);
}
