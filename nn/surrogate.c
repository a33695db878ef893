/* nn/surrogate.c — neurosynchro's loop: per-column transforms, tables from text or HDF5, an MLP
 * trained on the transformed columns, and the network with its transforms in one HDF5 file.
 *
 * Transforms and tables live on host doubles: they prepare data once, before any tensor exists,
 * and a query maps a few raw rows, so there is nothing to differentiate or to run on a device
 * there. Only the MLP touches tensors (on the surrogate's device). */
#include "ag_config.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "astrograd/nn.h"
#include "astrograd/optim.h"
#include "tensor/layer.h"
#ifdef AG_HAVE_HDF5
#include "tensor/h5.h"
#endif

/* ---- column transforms ------------------------------------------------------------------------ */

static const char *map_name(ag_col_map m) {
    switch (m) {
    case AG_MAP_IDENTITY: return "identity";
    case AG_MAP_LOG10: return "log10";
    case AG_MAP_LOGIT: return "logit";
    case AG_MAP_SIGNLOG: return "signlog";
    }
    return "?";
}

static bool valid_kinds(const ag_col_transform *t) {
    return t->map >= AG_MAP_IDENTITY && t->map <= AG_MAP_SIGNLOG && t->norm >= AG_NORM_NONE && t->norm <= AG_NORM_STANDARD;
}

static bool in_domain(ag_col_map m, double x) {
    if (!isfinite(x)) return false;
    if (m == AG_MAP_LOG10) return x > 0;
    if (m == AG_MAP_LOGIT) return x > 0 && x < 1;
    return true;
}

static const char *domain_str(ag_col_map m) {
    return m == AG_MAP_LOG10 ? "finite and > 0" : m == AG_MAP_LOGIT ? "in (0, 1)" : "finite";
}

static double map_fwd(const ag_col_transform *t, double x) {
    switch (t->map) {
    case AG_MAP_LOG10: return log10(x);
    case AG_MAP_LOGIT: return log(x) - log1p(-x);
    case AG_MAP_SIGNLOG: return copysign(log1p(fabs(x) / t->linthresh) / M_LN10, x);
    default: return x;
    }
}

static double map_inv(const ag_col_transform *t, double y) {
    switch (t->map) {
    case AG_MAP_LOG10: return pow(10.0, y);
    /* the two branches keep the small side exact: 1/(1+e^-y) loses x ~ 1e-20 for y << 0 */
    case AG_MAP_LOGIT: return y >= 0 ? 1 / (1 + exp(-y)) : exp(y) / (1 + exp(y));
    case AG_MAP_SIGNLOG: return copysign(expm1(fabs(y) * M_LN10) * t->linthresh, y);
    default: return y;
    }
}

/* a transform apply/invert can use: fitted (or set by hand) coefficients */
static int check_usable(const char *fn, const ag_col_transform *t) {
    if (!valid_kinds(t)) return ag_set_error(AG_ERR_INVALID, "%s: unknown map %d or normalisation %d", fn, (int)t->map, (int)t->norm);
    if (!isfinite(t->offset) || !isfinite(t->scale) || t->scale == 0 ||
        (t->map == AG_MAP_SIGNLOG && !(t->linthresh > 0 && isfinite(t->linthresh))))
        return ag_set_error(AG_ERR_INVALID, "%s: the %s transform has offset %g, scale %g, linthresh %g: expected finite, a non-zero "
                            "scale and (sign-log) linthresh > 0 (ag_col_fit sets them)", fn, map_name(t->map), t->offset, t->scale,
                            t->linthresh);
    return 0;
}

/* what: "" or " of column 'x' in 'file'" (the messages' subject); rows count from first */
static int check_values(const char *fn, const ag_col_transform *t, const double *x, int64_t n, const char *what, int64_t first) {
    if (!t || (!x && n)) return ag_set_error(AG_ERR_INVALID, "%s: NULL %s", fn, t ? "data" : "transform");
    if (!valid_kinds(t)) return ag_set_error(AG_ERR_INVALID, "%s: unknown map %d or normalisation %d", fn, (int)t->map, (int)t->norm);
    for (int64_t i = 0; i < n; i++)
        if (!in_domain(t->map, x[i]))
            return ag_set_error(AG_ERR_INVALID, "%s: %s %lld%s is %g, expected %s for the %s map", fn, first ? "row" : "element",
                                (long long)(i + first), what, x[i], domain_str(t->map), map_name(t->map));
    return 0;
}

static int col_fit(const char *fn, ag_col_transform *t, const double *x, int64_t n, const char *what, int64_t first) {
    if (n < 1) return ag_set_error(AG_ERR_INVALID, "%s: expected at least one value%s, given %lld", fn, what, (long long)n);
    int rc = check_values(fn, t, x, n, what, first);
    if (rc) return rc;
    if (t->map == AG_MAP_SIGNLOG && !(t->linthresh > 0 && isfinite(t->linthresh))) {
        /* the smallest non-zero |x|: every decade the column spans above it stays a decade */
        double c = INFINITY;
        for (int64_t i = 0; i < n; i++)
            if (x[i] != 0) c = fmin(c, fabs(x[i]));
        t->linthresh = isfinite(c) ? c : 1;
    }
    double lo = INFINITY, hi = -INFINITY, s = 0, s2 = 0;
    for (int64_t i = 0; i < n; i++) {
        double m = map_fwd(t, x[i]);
        lo = fmin(lo, m), hi = fmax(hi, m), s += m;
    }
    double mean = s / n;
    for (int64_t i = 0; i < n; i++) {
        double d = map_fwd(t, x[i]) - mean; /* two passes: no cancellation in the variance */
        s2 += d * d;
    }
    t->offset = 0, t->scale = 1;
    if (t->norm == AG_NORM_NONE) return 0;
    double off = t->norm == AG_NORM_MINMAX ? lo : mean, sc = t->norm == AG_NORM_MINMAX ? hi - lo : sqrt(s2 / n);
    if (!(sc > 0) || !isfinite(sc))
        return ag_set_error(AG_ERR_INVALID, "%s: the %s-mapped values%s are constant (%g) over all %lld: they cannot be "
                            "normalised (use AG_NORM_NONE or drop the column)", fn, map_name(t->map), what, lo, (long long)n);
    t->offset = off, t->scale = sc;
    return 0;
}

int ag_col_fit(ag_col_transform *t, const double *x, int64_t n) { return col_fit("ag_col_fit", t, x, n, "", 0); }

int ag_col_apply(const ag_col_transform *t, const double *x, double *z, int64_t n) {
    int rc = check_values("ag_col_apply", t, x, n, "", 0);
    if (!rc) rc = check_usable("ag_col_apply", t);
    if (rc) return rc;
    if (!z && n) return ag_set_error(AG_ERR_INVALID, "ag_col_apply: NULL output");
    for (int64_t i = 0; i < n; i++) z[i] = (map_fwd(t, x[i]) - t->offset) / t->scale;
    return 0;
}

int ag_col_invert(const ag_col_transform *t, const double *z, double *x, int64_t n) {
    const char *fn = "ag_col_invert";
    if (!t || ((!z || !x) && n)) return ag_set_error(AG_ERR_INVALID, "%s: NULL %s", fn, t ? "data" : "transform");
    int rc = check_usable(fn, t);
    if (rc) return rc;
    for (int64_t i = 0; i < n; i++) x[i] = map_inv(t, z[i] * t->scale + t->offset);
    return 0;
}

/* ---- tables ----------------------------------------------------------------------------------- */

static bool good_name(const char *s) {
    if (!s || !*s) return false;
    for (; *s; s++)
        if (isspace((unsigned char)*s) || *s == ',' || *s == '#') return false;
    return true;
}

static ag_table *table_alloc(const char *fn, int ncols, int64_t nrows, const char *path) {
    ag_table *t = calloc(1, sizeof *t);
    if (t) {
        t->ncols = ncols, t->nrows = nrows;
        t->names = calloc((size_t)ncols + 1, sizeof *t->names);
        t->col = calloc((size_t)ncols + 1, sizeof *t->col);
        t->path = strdup(path ? path : "");
    }
    bool ok = t && t->names && t->col && t->path;
    for (int j = 0; ok && j < ncols; j++) ok = (t->col[j] = calloc((size_t)nrows + 1, sizeof(double))) != NULL;
    if (!ok) {
        ag_table_free(t);
        ag_set_error(AG_ERR_NOMEM, "%s: out of memory for %d columns of %lld rows", fn, ncols, (long long)nrows);
        return NULL;
    }
    return t;
}

void ag_table_free(ag_table *t) {
    if (!t) return;
    for (int j = 0; j < t->ncols; j++) {
        if (t->names) free(t->names[j]);
        if (t->col) free(t->col[j]);
    }
    free(t->names), free(t->col), free(t->path), free(t);
}

/* names[j] checked and copied into t; error naming `where` otherwise */
static int set_names(const char *fn, ag_table *t, const char *const *names, const char *where, ag_status code) {
    for (int j = 0; j < t->ncols; j++) {
        if (!good_name(names[j]))
            return ag_set_error(code, "%s: %scolumn %d's name '%s' is empty or holds whitespace, ',' or '#'", fn, where,
                                j + 1, names[j] ? names[j] : "(null)");
        for (int k = 0; k < j; k++)
            if (!strcmp(names[k], names[j]))
                return ag_set_error(AG_ERR_FORMAT, "%s: %scolumns %d and %d are both named '%s'", fn, where, k + 1, j + 1, names[j]);
        if (!(t->names[j] = strdup(names[j]))) return ag_set_error(AG_ERR_NOMEM, "%s: out of memory", fn);
    }
    return 0;
}

ag_table *ag_table_new(int ncols, const char *const *names, int64_t nrows) {
    const char *fn = "ag_table_new";
    if (ncols < 1 || nrows < 0 || !names)
        return ag_fail(AG_ERR_INVALID, "%s: expected ncols >= 1, nrows >= 0 and names, given ncols %d, nrows %lld%s", fn, ncols,
                       (long long)nrows, names ? "" : ", names NULL");
    ag_table *t = table_alloc(fn, ncols, nrows, "");
    if (t && set_names(fn, t, names, "", AG_ERR_INVALID) < 0) { ag_table_free(t); return NULL; }
    return t;
}

static int find_col(const char *fn, const ag_table *t, const char *name) {
    if (!t || !name) return ag_set_error(AG_ERR_INVALID, "%s: NULL %s", fn, t ? "name" : "table");
    for (int j = 0; j < t->ncols; j++)
        if (!strcmp(t->names[j], name)) return j;
    char list[512] = "";
    size_t len = 0;
    for (int j = 0; j < t->ncols && len + 2 < sizeof list; j++)
        len += (size_t)snprintf(list + len, sizeof list - len, "%s%s", j ? ", " : "", t->names[j]);
    return ag_set_error(AG_ERR_INVALID, "%s: no column '%s' in %s%s%s (columns: %s)", fn, name, *t->path ? "'" : "the table",
                        t->path, *t->path ? "'" : "", list);
}

int ag_table_col(const ag_table *t, const char *name) { return find_col("ag_table_col", t, name); }

/* Splits line in place into fields separated by whitespace holding at most one comma ("1, 2",
 * "1 2", "1,2"); each extra comma is an empty field (which then is not a number). Returns the
 * number of fields (up to cap stored), with each field's 1-based column. */
static int split(char *line, char **f, int *colno, int cap) {
    int n = 0;
    char *p = line;
    while (*p == ' ' || *p == '\t') p++;
    if (!*p || *p == '\n' || *p == '\r') return 0;
    for (;;) {
        char *s = p;
        while (*p && *p != ',' && !isspace((unsigned char)*p)) p++;
        if (n < cap) f[n] = s, colno[n] = (int)(s - line) + 1;
        n++;
        char *sep = p;
        int commas = 0;
        for (; *p == ',' || isspace((unsigned char)*p); p++) commas += *p == ',';
        bool end = !*p;
        *sep = 0;
        for (int k = 0; k < commas - (end ? 0 : 1); k++, n++)
            if (n < cap) f[n] = sep, colno[n] = (int)(sep - line) + 1;
        if (end) break;
    }
    return n;
}

static bool skip_line(const char *s) {
    while (*s == ' ' || *s == '\t' || *s == '\r') s++;
    return !*s || *s == '\n' || *s == '#';
}

ag_table *ag_table_read_text(const char *path) {
    const char *fn = "ag_table_read_text";
    if (!path) return ag_fail(AG_ERR_INVALID, "%s: NULL path", fn);
    FILE *f = fopen(path, "r");
    if (!f) return ag_fail(AG_ERR_IO, "%s: cannot open '%s': %s", fn, path, strerror(errno));
    char *line = NULL;
    size_t lcap = 0;
    ssize_t len;
    long lineno = 0;
    ag_table *t = NULL;
    int ncols = 0;
    char **fld = NULL;
    int *cno = NULL;
    int64_t cap = 0;
    while ((len = getline(&line, &lcap, f)) >= 0) {
        lineno++;
        if (skip_line(line)) continue;
        if (!t) {
            /* the header: count, then split again into storage */
            char *copy = strdup(line);
            int maxf = (int)len + 2;
            fld = calloc((size_t)maxf, sizeof *fld), cno = calloc((size_t)maxf, sizeof *cno);
            if (!copy || !fld || !cno) { free(copy); ag_set_error(AG_ERR_NOMEM, "%s: out of memory", fn); goto fail; }
            ncols = split(copy, fld, cno, maxf);
            cap = 1024;
            t = table_alloc(fn, ncols, cap, path);
            if (t) {
                t->nrows = 0;
                char where[600];
                snprintf(where, sizeof where, "'%s' line %ld: ", path, lineno);
                if (set_names(fn, t, (const char *const *)fld, where, AG_ERR_FORMAT) < 0) {
                    free(copy);
                    goto fail;
                }
            }
            free(copy);
            if (!t) goto fail;
            continue;
        }
        int n = split(line, fld, cno, ncols);
        if (n != ncols) {
            ag_set_error(AG_ERR_FORMAT, "%s: '%s' line %ld has %d field%s, expected %d (one per column of the header)", fn, path,
                         lineno, n, n == 1 ? "" : "s", ncols);
            goto fail;
        }
        if (t->nrows == cap) {
            cap *= 2;
            for (int j = 0; j < ncols; j++) {
                double *c = realloc(t->col[j], (size_t)cap * sizeof(double));
                if (!c) { ag_set_error(AG_ERR_NOMEM, "%s: out of memory at line %ld of '%s'", fn, lineno, path); goto fail; }
                t->col[j] = c;
            }
        }
        for (int j = 0; j < ncols; j++) {
            char *end;
            errno = 0;
            double v = strtod(fld[j], &end);
            if (end == fld[j] || *end) {
                ag_set_error(AG_ERR_FORMAT, "%s: '%s' line %ld column %d (%s): '%s' is not a number", fn, path, lineno, cno[j],
                             t->names[j], fld[j]);
                goto fail;
            }
            t->col[j][t->nrows] = v;
        }
        t->nrows++;
    }
    if (ferror(f)) { ag_set_error(AG_ERR_IO, "%s: reading '%s' failed: %s", fn, path, strerror(errno)); goto fail; }
    if (!t) { ag_set_error(AG_ERR_FORMAT, "%s: '%s' is empty: expected a header line naming the columns", fn, path); goto fail; }
    if (t->nrows == 0) { ag_set_error(AG_ERR_FORMAT, "%s: '%s' has a header but no rows", fn, path); goto fail; }
    free(line), free(fld), free(cno);
    fclose(f);
    return t;
fail:
    free(line), free(fld), free(cno);
    fclose(f);
    ag_table_free(t);
    return NULL;
}

static int check_table(const char *fn, const ag_table *t, const char *path) {
    if (!t || !path) return ag_set_error(AG_ERR_INVALID, "%s: NULL %s", fn, t ? "path" : "table");
    if (t->ncols < 1 || t->nrows < 0 || !t->names || !t->col)
        return ag_set_error(AG_ERR_INVALID, "%s: the table has %d columns and %lld rows, expected >= 1 and >= 0", fn, t->ncols,
                            (long long)t->nrows);
    for (int j = 0; j < t->ncols; j++)
        if (!good_name(t->names[j]) || (!t->col[j] && t->nrows))
            return ag_set_error(AG_ERR_INVALID, "%s: column %d has a bad name or no data", fn, j + 1);
    return 0;
}

static int write_text_fill(void *ctx, const char *tmp) {
    const ag_table *t = ctx;
    FILE *f = fopen(tmp, "w");
    if (!f) return ag_set_error(AG_ERR_IO, "ag_table_write_text: cannot create '%s': %s", tmp, strerror(errno));
    for (int j = 0; j < t->ncols; j++) fprintf(f, "%s%s", j ? " " : "", t->names[j]);
    fputc('\n', f);
    for (int64_t i = 0; i < t->nrows; i++)
        for (int j = 0; j < t->ncols; j++) fprintf(f, "%.17g%c", t->col[j][i], j + 1 < t->ncols ? ' ' : '\n');
    int bad = ferror(f);
    if (fclose(f) != 0 || bad) return ag_set_error(AG_ERR_IO, "ag_table_write_text: writing '%s' failed", tmp);
    return 0;
}

int ag_table_write_text(const ag_table *t, const char *path) {
    int rc = check_table("ag_table_write_text", t, path);
    return rc ? rc : ag__write_file_atomic("ag_table_write_text", path, write_text_fill, (void *)t);
}

#ifndef AG_HAVE_HDF5

ag_table *ag_table_read_h5(const char *path) {
    (void)path;
    return ag_fail(AG_ERR_NOTIMPL, "ag_table_read_h5: this build of astrograd has no HDF5 support (reconfigure with -Dhdf5=enabled)");
}
int ag_table_write_h5(const ag_table *t, const char *path) {
    (void)t, (void)path;
    return ag_set_error(AG_ERR_NOTIMPL, "ag_table_write_h5: this build of astrograd has no HDF5 support (reconfigure with -Dhdf5=enabled)");
}

#else

typedef struct h5_links { int n, cap; char **name; } h5_links;

static herr_t collect(hid_t g, const char *name, const H5L_info_t *info, void *ud) {
    (void)g, (void)info;
    h5_links *l = ud;
    if (l->n == l->cap) {
        int cap = l->cap ? 2 * l->cap : 16;
        char **nn = realloc(l->name, (size_t)cap * sizeof *nn);
        if (!nn) return -1;
        l->name = nn, l->cap = cap;
    }
    return (l->name[l->n] = strdup(name)) ? (l->n++, 0) : -1;
}

/* a float dataset's dims (ndim <= 2); -1 with the error set */
static int ds_dims(const char *fn, const char *path, hid_t d, const char *name, hsize_t *dims) {
    hid_t ty = H5Dget_type(d), sp = H5Dget_space(d);
    int nd = sp >= 0 ? H5Sget_simple_extent_ndims(sp) : -1;
    bool flt = ty >= 0 && (H5Tget_class(ty) == H5T_FLOAT || H5Tget_class(ty) == H5T_INTEGER);
    if (nd >= 1 && nd <= 2) H5Sget_simple_extent_dims(sp, dims, NULL);
    if (ty >= 0) H5Tclose(ty);
    if (sp >= 0) H5Sclose(sp);
    if (nd < 0) return ag_set_error(AG_ERR_FORMAT, "%s: '%s': cannot read dataset '%s': the file is corrupt or truncated", fn, path, name);
    if (!flt || nd < 1 || nd > 2)
        return ag_set_error(AG_ERR_FORMAT, "%s: '%s': dataset '%s' is not a 1-d or 2-d array of numbers", fn, path, name);
    return nd;
}

static int read_doubles(const char *fn, const char *path, hid_t d, const char *name, double *out) {
    if (H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, out) < 0)
        return ag_set_error(AG_ERR_FORMAT, "%s: '%s': reading dataset '%s' failed: the file is corrupt or truncated", fn, path, name);
    return 0;
}

/* the "names" attribute of a 2-d table: an array of strings or one separated string; n names
 * into out (strdup'ed); -1 with the error set */
static int read_names(const char *fn, const char *path, hid_t d, const char *dname, int ncols, char **out) {
    if (H5Aexists(d, "names") <= 0)
        return ag_set_error(AG_ERR_FORMAT, "%s: '%s': the 2-d dataset '%s' has no \"names\" attribute naming its %d columns", fn,
                            path, dname, ncols);
    hid_t a = H5Aopen(d, "names", H5P_DEFAULT), ty = a >= 0 ? H5Aget_type(a) : -1, sp = a >= 0 ? H5Aget_space(a) : -1;
    int rc = 0;
    hssize_t n = sp >= 0 ? H5Sget_simple_extent_npoints(sp) : -1;
    if (ty < 0 || H5Tget_class(ty) != H5T_STRING || n < 1 || n > 1000000) {
        rc = ag_set_error(AG_ERR_FORMAT, "%s: '%s': attribute names of '%s' is not a string or an array of strings", fn, path, dname);
        goto out;
    }
    hid_t mt = H5Tcopy(H5T_C_S1);
    bool vl = H5Tis_variable_str(ty) > 0;
    size_t sz = vl ? sizeof(char *) : H5Tget_size(ty) + 1;
    H5Tset_size(mt, vl ? H5T_VARIABLE : sz);
    H5Tset_cset(mt, H5Tget_cset(ty));
    char *buf = calloc((size_t)n, sz);
    if (!buf || H5Aread(a, mt, buf) < 0) {
        rc = ag_set_error(AG_ERR_FORMAT, "%s: '%s': cannot read attribute names of '%s'", fn, path, dname);
    } else {
        int got = 0;
        for (hssize_t k = 0; k < n && !rc; k++) {
            char *s = vl ? ((char **)buf)[k] : buf + k * sz;
            char *tmp = strdup(s ? s : ""), *save = NULL;
            for (char *tok = tmp ? strtok_r(tmp, " \t,", &save) : NULL; tok && !rc; tok = strtok_r(NULL, " \t,", &save)) {
                if (got < ncols) out[got] = strdup(tok);
                got++;
            }
            free(tmp);
        }
        if (got != ncols)
            rc = ag_set_error(AG_ERR_FORMAT, "%s: '%s': attribute names of '%s' holds %d names, expected %d (one per column)", fn, path,
                              dname, got, ncols);
        if (vl) H5Dvlen_reclaim(mt, sp, H5P_DEFAULT, buf);
    }
    free(buf);
    H5Tclose(mt);
out:
    if (ty >= 0) H5Tclose(ty);
    if (sp >= 0) H5Sclose(sp);
    if (a >= 0) H5Aclose(a);
    return rc;
}

static ag_table *read_h5_locked(const char *fn, const char *path) {
    hid_t f = ag__h5_open(fn, path);
    if (f < 0) return NULL;
    h5_links l = {0};
    ag_table *t = NULL;
    char **names = NULL;
    int nnames = 0;
    hid_t d = -1;
    if (H5Literate(f, H5_INDEX_NAME, H5_ITER_INC, NULL, collect, &l) < 0) {
        ag_set_error(AG_ERR_FORMAT, "%s: '%s': cannot list its datasets: the file is corrupt or truncated", fn, path);
        goto fail;
    }
    if (l.n == 0) { ag_set_error(AG_ERR_FORMAT, "%s: '%s' holds no datasets: expected a table", fn, path); goto fail; }
    hsize_t dims[2];
    for (int k = 0; k < l.n; k++) {
        d = H5Dopen2(f, l.name[k], H5P_DEFAULT);
        if (d < 0) { ag_set_error(AG_ERR_FORMAT, "%s: '%s': '%s' is not a readable dataset", fn, path, l.name[k]); goto fail; }
        int nd = ds_dims(fn, path, d, l.name[k], dims);
        if (nd < 0) goto fail;
        if (nd == 2) {
            if (l.n != 1) {
                ag_set_error(AG_ERR_FORMAT, "%s: '%s': the 2-d dataset '%s' must be the file's only dataset (it has %d)", fn, path,
                             l.name[k], l.n);
                goto fail;
            }
            int nc = (int)dims[1];
            if (dims[1] < 1 || dims[1] > 100000 || dims[0] < 1) {
                ag_set_error(AG_ERR_FORMAT, "%s: '%s': the dataset '%s' is [%llu, %llu], expected [nrows >= 1, ncols >= 1]", fn, path,
                             l.name[k], (unsigned long long)dims[0], (unsigned long long)dims[1]);
                goto fail;
            }
            names = calloc((size_t)nc, sizeof *names);
            nnames = nc;
            double *all = malloc(sizeof(double) * dims[0] * dims[1]);
            if (!names || !all) { free(all); ag_set_error(AG_ERR_NOMEM, "%s: out of memory", fn); goto fail; }
            if (read_names(fn, path, d, l.name[k], nc, names) < 0 || read_doubles(fn, path, d, l.name[k], all) < 0 ||
                !(t = table_alloc(fn, nc, (int64_t)dims[0], path))) {
                free(all);
                goto fail;
            }
            for (hsize_t i = 0; i < dims[0]; i++)
                for (int j = 0; j < nc; j++) t->col[j][i] = all[i * (hsize_t)nc + j];
            free(all);
            char where[600];
            snprintf(where, sizeof where, "'%s' attribute names: ", path);
            if (set_names(fn, t, (const char *const *)names, where, AG_ERR_FORMAT) < 0) goto fail;
            goto out;
        }
        if (!t && !(t = table_alloc(fn, l.n, (int64_t)dims[0], path))) goto fail;
        if ((int64_t)dims[0] != t->nrows) {
            ag_set_error(AG_ERR_FORMAT, "%s: '%s': dataset '%s' has %llu rows, '%s' has %lld: every column must have the same length", fn,
                         path, l.name[k], (unsigned long long)dims[0], l.name[0], (long long)t->nrows);
            goto fail;
        }
        if (read_doubles(fn, path, d, l.name[k], t->col[k]) < 0) goto fail;
        H5Dclose(d), d = -1;
    }
    if (t->nrows == 0) { ag_set_error(AG_ERR_FORMAT, "%s: '%s': the table has no rows", fn, path); goto fail; }
    if (set_names(fn, t, (const char *const *)l.name, "", AG_ERR_FORMAT) < 0) goto fail;
    goto out;
fail:
    ag_table_free(t), t = NULL;
out:
    if (d >= 0) H5Dclose(d);
    for (int k = 0; k < l.n; k++) free(l.name[k]);
    for (int j = 0; names && j < nnames; j++) free(names[j]);
    free(l.name), free(names);
    ag__h5_close(f);
    return t;
}

ag_table *ag_table_read_h5(const char *path) {
    const char *fn = "ag_table_read_h5";
    if (!path) return ag_fail(AG_ERR_INVALID, "%s: NULL path", fn);
    FILE *probe = fopen(path, "rb");
    if (!probe) return ag_fail(AG_ERR_IO, "%s: cannot open '%s': %s", fn, path, strerror(errno));
    fclose(probe);
    ag__h5_enter();
    ag_table *t = read_h5_locked(fn, path);
    ag__h5_leave();
    return t;
}

static int write_h5_locked(const ag_table *t, const char *tmp) {
    const char *fn = "ag_table_write_h5";
    hid_t f = ag__h5_create(fn, tmp);
    if (f < 0) return ag_error_code();
    int rc = 0;
    hsize_t n = (hsize_t)t->nrows;
    for (int j = 0; j < t->ncols && !rc; j++) {
        hid_t sp = H5Screate_simple(1, &n, NULL);
        hid_t d = sp >= 0 ? H5Dcreate2(f, t->names[j], H5T_IEEE_F64LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT) : -1;
        if (d < 0 || (n && H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, t->col[j]) < 0))
            rc = ag_set_error(AG_ERR_IO, "%s: writing column '%s' to '%s' failed", fn, t->names[j], tmp);
        if (d >= 0) H5Dclose(d);
        if (sp >= 0) H5Sclose(sp);
    }
    if (!rc && H5Fflush(f, H5F_SCOPE_GLOBAL) < 0) rc = ag_set_error(AG_ERR_IO, "%s: flushing '%s' failed", fn, tmp);
    if (H5Fclose(f) < 0 && !rc) rc = ag_set_error(AG_ERR_IO, "%s: closing '%s' failed", fn, tmp);
    return rc;
}

static int write_h5_fill(void *ctx, const char *tmp) {
    ag__h5_enter();
    int rc = write_h5_locked(ctx, tmp);
    ag__h5_leave();
    return rc;
}

int ag_table_write_h5(const ag_table *t, const char *path) {
    int rc = check_table("ag_table_write_h5", t, path);
    return rc ? rc : ag__write_file_atomic("ag_table_write_h5", path, write_h5_fill, (void *)t);
}

#endif

/* ---- surrogates ------------------------------------------------------------------------------- */

struct ag_surrogate {
    int n_in, n_out, hidden, layers;
    ag_dtype dtype;
    ag_device dev;
    char **in_names, **out_names;
    ag_col_transform *in_tr, *out_tr;
    ag_module *net;
};

void ag_surrogate_free(ag_surrogate *s) {
    if (!s) return;
    for (int j = 0; s->in_names && j < s->n_in; j++) free(s->in_names[j]);
    for (int j = 0; s->out_names && j < s->n_out; j++) free(s->out_names[j]);
    free(s->in_names), free(s->out_names), free(s->in_tr), free(s->out_tr);
    ag_module_free(s->net);
    free(s);
}

/* the shell: names copied (each checked), transforms copied, no network yet */
static ag_surrogate *surrogate_alloc(const char *fn, int n_in, const char *const *in_names, const ag_col_transform *in_tr,
                                     int n_out, const char *const *out_names, const ag_col_transform *out_tr) {
    ag_surrogate *s = calloc(1, sizeof *s);
    if (!s || !(s->in_names = calloc((size_t)n_in, sizeof(char *))) || !(s->out_names = calloc((size_t)n_out, sizeof(char *))) ||
        !(s->in_tr = calloc((size_t)n_in, sizeof *s->in_tr)) || !(s->out_tr = calloc((size_t)n_out, sizeof *s->out_tr))) {
        ag_surrogate_free(s);
        return ag_fail(AG_ERR_NOMEM, "%s: out of memory", fn);
    }
    s->n_in = n_in, s->n_out = n_out;
    for (int k = 0; k < n_in + n_out; k++) {
        bool in = k < n_in;
        int j = in ? k : k - n_in;
        const char *nm = in ? in_names[j] : out_names[j];
        const ag_col_transform *tr = in ? &in_tr[j] : &out_tr[j];
        if (!good_name(nm) || !valid_kinds(tr)) {
            ag_surrogate_free(s);
            return ag_fail(AG_ERR_INVALID, "%s: %s %d: expected a column name (no whitespace, ',' or '#') and a known map and "
                           "normalisation, given '%s', map %d, normalisation %d", fn, in ? "input" : "output", j, nm ? nm : "(null)",
                           (int)tr->map, (int)tr->norm);
        }
        if (!((in ? s->in_names : s->out_names)[j] = strdup(nm))) {
            ag_surrogate_free(s);
            return ag_fail(AG_ERR_NOMEM, "%s: out of memory", fn);
        }
        (in ? s->in_tr : s->out_tr)[j] = *tr;
    }
    return s;
}

static ag_module *make_mlp(int n_in, int hidden, int layers, int n_out, ag_dtype dt, ag_device dev) {
    ag_module *m = ag_nn_sequential(NULL, 0);
    for (int l = 0; m && l <= layers; l++) {
        int64_t a = l == 0 ? n_in : hidden, b = l == layers ? n_out : hidden;
        if (ag_nn_sequential_append(m, ag_nn_linear(a, b, true)) < 0 || (l < layers && ag_nn_sequential_append(m, ag_nn_silu()) < 0)) {
            ag_module_free(m);
            return NULL;
        }
    }
    if (m && (ag_module_to_dtype(m, dt) < 0 || ag_module_to(m, dev) < 0)) { ag_module_free(m); return NULL; }
    return m;
}

/* n rows of raw x (row-major, ncol columns) through the transforms, in place */
static int transform_rows(const char *fn, const ag_col_transform *tr, const char *const *names, int ncol, double *x, int64_t n,
                          bool inverse) {
    for (int64_t i = 0; i < n; i++)
        for (int j = 0; j < ncol; j++) {
            double *v = &x[i * ncol + j];
            if (inverse) {
                *v = map_inv(&tr[j], *v * tr[j].scale + tr[j].offset);
            } else {
                if (!in_domain(tr[j].map, *v))
                    return ag_set_error(AG_ERR_INVALID, "%s: row %lld, input '%s' is %g, expected %s (its %s map)", fn, (long long)i,
                                        names[j], *v, domain_str(tr[j].map), map_name(tr[j].map));
                *v = (map_fwd(&tr[j], *v) - tr[j].offset) / tr[j].scale;
            }
        }
    return 0;
}

/* host rows -> a tensor [n, ncol] of the network's dtype on its device */
static ag_tensor *rows_tensor(const ag_surrogate *s, const double *x, int64_t n, int ncol) {
    ag_tensor *t = ag_from_data_on(x, AG_SHAPE(n, ncol), AG_F64, s->dev);
    if (!t || s->dtype == AG_F64) return t;
    ag_tensor *c = ag_to_dtype(t, s->dtype);
    ag_release(t);
    return c;
}

ag_surrogate *ag_surrogate_train(const ag_table *t, int n_in, const char *const *in_names, const ag_col_transform *in_tr,
                                 int n_out, const char *const *out_names, const ag_col_transform *out_tr, ag_surrogate_opts o) {
    const char *fn = "ag_surrogate_train";
    if (!t || !in_names || !in_tr || !out_names || !out_tr || n_in < 1 || n_out < 1)
        return ag_fail(AG_ERR_INVALID, "%s: expected a table, n_in >= 1 and n_out >= 1 with their names and transforms, given %s, "
                       "n_in %d, n_out %d", fn, t ? "a table" : "NULL table", n_in, n_out);
    if (o.hidden < 0 || o.layers < 0 || o.steps < 0 || o.batch < 0 || !(o.lr >= 0) ||
        (o.dtype && o.dtype != AG_F32 && o.dtype != AG_F64))
        return ag_fail(AG_ERR_INVALID, "%s: opts: expected hidden, layers, steps, batch, lr >= 0 and dtype 0, f32 or f64, given "
                       "%d, %d, %d, %d, %g, dtype %d", fn, o.hidden, o.layers, o.steps, o.batch, o.lr, (int)o.dtype);
    int64_t n = t->nrows;
    if (n < 2) return ag_fail(AG_ERR_INVALID, "%s: expected a table of at least 2 rows, given %lld", fn, (long long)n);
    int hidden = o.hidden ? o.hidden : 64, layers = o.layers ? o.layers : 2, steps = o.steps ? o.steps : 2000;
    int64_t batch = o.batch ? o.batch : 256;
    if (batch > n) batch = n;
    double lr = o.lr > 0 ? o.lr : 3e-3;
    int ncol = n_in + n_out;
    int *cols = calloc((size_t)ncol, sizeof *cols);
    double *buf = malloc(sizeof(double) * (size_t)n * (size_t)ncol), *X = NULL, *Y = NULL;
    ag_surrogate *s = NULL;
    ag_tensor *perm = NULL, *Xt = NULL, *Yt = NULL;
    ag_optim *opt = NULL;
    ag_sched *sch = NULL;
    if (!cols || !buf) { ag_set_error(AG_ERR_NOMEM, "%s: out of memory for %lld rows", fn, (long long)n); goto fail; }
    if (!(s = surrogate_alloc(fn, n_in, in_names, in_tr, n_out, out_names, out_tr))) goto fail;
    s->hidden = hidden, s->layers = layers, s->dtype = o.dtype ? o.dtype : AG_F32, s->dev = o.device;
    for (int k = 0; k < ncol; k++) {
        const char *nm = k < n_in ? in_names[k] : out_names[k - n_in];
        ag_col_transform *tr = k < n_in ? &s->in_tr[k] : &s->out_tr[k - n_in];
        if ((cols[k] = find_col(fn, t, nm)) < 0) goto fail;
        char what[700];
        snprintf(what, sizeof what, " of column '%s'%s%s%s", nm, *t->path ? " in '" : "", t->path, *t->path ? "'" : "");
        if (col_fit(fn, tr, t->col[cols[k]], n, what, 1) < 0) goto fail;
    }
    /* rows in a random order (one shuffle: a table written in parameter order would otherwise
     * give batches that each cover a corner of the domain) */
    if (!(perm = ag_randperm(n))) goto fail;
    const int64_t *pi = ag_data(perm);
    X = buf, Y = buf + n * n_in;
    for (int64_t i = 0; i < n; i++) {
        for (int k = 0; k < n_in; k++) X[i * n_in + k] = t->col[cols[k]][pi[i]];
        for (int k = 0; k < n_out; k++) Y[i * n_out + k] = t->col[cols[n_in + k]][pi[i]];
    }
    if (transform_rows(fn, s->in_tr, (const char *const *)s->in_names, n_in, X, n, false) < 0) goto fail;
    for (int64_t i = 0; i < n; i++)
        for (int k = 0; k < n_out; k++) {
            double *v = &Y[i * n_out + k];
            *v = (map_fwd(&s->out_tr[k], *v) - s->out_tr[k].offset) / s->out_tr[k].scale;
        }
    if (!(s->net = make_mlp(n_in, hidden, layers, n_out, s->dtype, s->dev))) goto fail;
    Xt = rows_tensor(s, X, n, n_in), Yt = rows_tensor(s, Y, n, n_out);
    if (!Xt || !Yt) goto fail;
    ag__unscope(Xt), ag__unscope(Yt);
    opt = ag_adam(ag_module_params(s->net), (ag_adam_opts){.lr = lr});
    sch = opt ? ag_sched_cosine(opt, steps, 1e-5) : NULL;
    if (!sch) goto fail;
    int64_t per_epoch = (n + batch - 1) / batch;
    for (int st = 0; st < steps; st++) {
        ag_scope_begin();
        int64_t b0 = (st % per_epoch) * batch, len = n - b0 < batch ? n - b0 : batch;
        ag_optim_zero_grad(opt);
        ag_tensor *l = ag_mse_loss(ag_forward(s->net, ag_narrow(Xt, 0, b0, len)), ag_narrow(Yt, 0, b0, len), AG_REDUCE_MEAN);
        int rc = !l || ag_backward(l) < 0 || ag_optim_step(opt) < 0 || ag_sched_step(sch) < 0 ? -1 : 0;
        ag_scope_end();
        if (rc) goto fail;
    }
    goto out;
fail:
    ag_surrogate_free(s), s = NULL;
out:
    ag_sched_free(sch);
    ag_optim_free(opt);
    ag__drop(Xt), ag__drop(Yt);
    ag_release(perm);
    free(cols), free(buf);
    return s;
}

int ag_surrogate_query(ag_surrogate *s, const double *x, int64_t n, double *y) {
    const char *fn = "ag_surrogate_query";
    if (!s || (n && (!x || !y)) || n < 0)
        return ag_set_error(AG_ERR_INVALID, "%s: expected a surrogate, n >= 0 and input and output rows, given %s, n %lld", fn,
                            s ? "a surrogate" : "NULL", (long long)n);
    if (n == 0) return 0;
    double *z = malloc(sizeof(double) * (size_t)n * (size_t)s->n_in);
    if (!z) return ag_set_error(AG_ERR_NOMEM, "%s: out of memory for %lld rows", fn, (long long)n);
    memcpy(z, x, sizeof(double) * (size_t)n * (size_t)s->n_in);
    int rc = transform_rows(fn, s->in_tr, (const char *const *)s->in_names, s->n_in, z, n, false);
    if (!rc) {
        ag_scope_begin();
        ag_no_grad_begin();
        ag_tensor *out = ag_forward(s->net, rows_tensor(s, z, n, s->n_in));
        ag_no_grad_end();
        ag_tensor *h = ag_contiguous(ag_to_dtype(ag_to(out, AG_CPU), AG_F64)); /* host */
        if (!h) rc = ag_error_code() ? ag_error_code() : ag_set_error(AG_ERR_INVALID, "%s: the network failed", fn);
        else memcpy(y, ag_data(h), sizeof(double) * (size_t)n * (size_t)s->n_out);
        ag_scope_end();
    }
    free(z);
    if (!rc) transform_rows(fn, s->out_tr, (const char *const *)s->out_names, s->n_out, y, n, true);
    return rc;
}

int ag_surrogate_num_inputs(const ag_surrogate *s) { return s ? s->n_in : 0; }
int ag_surrogate_num_outputs(const ag_surrogate *s) { return s ? s->n_out : 0; }
const char *ag_surrogate_input_name(const ag_surrogate *s, int i) { return s && i >= 0 && i < s->n_in ? s->in_names[i] : NULL; }
const char *ag_surrogate_output_name(const ag_surrogate *s, int i) { return s && i >= 0 && i < s->n_out ? s->out_names[i] : NULL; }
ag_module *ag_surrogate_net(ag_surrogate *s) { return s ? s->net : NULL; }

/* ---- the surrogate file ----------------------------------------------------------------------- */

#ifndef AG_HAVE_HDF5

int ag_surrogate_save(const ag_surrogate *s, const char *path) {
    (void)s, (void)path;
    return ag_set_error(AG_ERR_NOTIMPL, "ag_surrogate_save: this build of astrograd has no HDF5 support (reconfigure with -Dhdf5=enabled)");
}
ag_surrogate *ag_surrogate_load(const char *path, ag_device dev) {
    (void)path, (void)dev;
    return ag_fail(AG_ERR_NOTIMPL, "ag_surrogate_load: this build of astrograd has no HDF5 support (reconfigure with -Dhdf5=enabled)");
}

#else

/* Layout (schema 1):
 *   /params/<dotted.name>   the MLP's parameters (as ag_module_save writes them)
 *   /surrogate              attributes n_in, n_out, hidden, layers, dtype ("f32"/"f64"), inputs and
 *                           outputs (names joined by '\n'); datasets {in,out}_{map,norm} (i64) and
 *                           {in,out}_{offset,scale,linthresh} (f64), one entry per column
 *   /meta                   attributes kind = "astrograd surrogate", schema_version, astrograd_version */
#define SURROGATE_SCHEMA 1
#define NAMES_CAP 65536

static char *join_names(char *const *names, int n) {
    size_t len = 1;
    for (int j = 0; j < n; j++) len += strlen(names[j]) + 1;
    char *s = calloc(1, len);
    for (int j = 0; s && j < n; j++) strcat(strcat(s, j ? "\n" : ""), names[j]);
    return s;
}

static int write_cols(hid_t g, const ag_col_transform *tr, int n, const char *pre, const char *path) {
    const char *fn = "ag_surrogate_save";
    int64_t *mp = calloc((size_t)n, sizeof *mp), *nm = calloc((size_t)n, sizeof *nm);
    double *off = calloc((size_t)n, sizeof *off), *sc = calloc((size_t)n, sizeof *sc), *lt = calloc((size_t)n, sizeof *lt);
    int rc = mp && nm && off && sc && lt ? 0 : ag_set_error(AG_ERR_NOMEM, "%s: out of memory", fn);
    for (int j = 0; !rc && j < n; j++)
        mp[j] = tr[j].map, nm[j] = tr[j].norm, off[j] = tr[j].offset, sc[j] = tr[j].scale, lt[j] = tr[j].linthresh;
    const void *data[5] = {mp, nm, off, sc, lt};
    const char *what[5] = {"map", "norm", "offset", "scale", "linthresh"};
    for (int k = 0; k < 5 && !rc; k++) {
        char name[32];
        snprintf(name, sizeof name, "%s_%s", pre, what[k]);
        ag_tensor *t = ag_from_data(data[k], AG_SHAPE(n), k < 2 ? AG_I64 : AG_F64); /* host */
        rc = t ? ag__h5_write_tensor(g, "surrogate", name, t, fn, path) : ag_error_code();
        ag_release(t);
    }
    free(mp), free(nm), free(off), free(sc), free(lt);
    return rc;
}

typedef struct sur_ctx { const ag_surrogate *s; const char *path; } sur_ctx;

static int save_locked(const ag_surrogate *s, const char *path, const char *tmp) {
    const char *fn = "ag_surrogate_save";
    hid_t f = ag__h5_create(fn, tmp);
    if (f < 0) return ag_error_code();
    int rc = 0;
    ag_params p = ag_module_params(s->net);
    hid_t g = H5Gcreate2(f, "params", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (g < 0) rc = ag_set_error(AG_ERR_IO, "%s: cannot create /params in '%s'", fn, path);
    for (int i = 0; i < p.n && !rc; i++) rc = ag__h5_write_tensor(g, "params", p.names[i], p.t[i], fn, path);
    if (g >= 0) H5Gclose(g);
    if (!rc) {
        g = H5Gcreate2(f, "surrogate", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        char *in = join_names(s->in_names, s->n_in), *out = join_names(s->out_names, s->n_out);
        if (g < 0 || !in || !out || ag__h5_write_num_attr(g, "n_in", H5T_NATIVE_INT, &s->n_in) < 0 ||
            ag__h5_write_num_attr(g, "n_out", H5T_NATIVE_INT, &s->n_out) < 0 ||
            ag__h5_write_num_attr(g, "hidden", H5T_NATIVE_INT, &s->hidden) < 0 ||
            ag__h5_write_num_attr(g, "layers", H5T_NATIVE_INT, &s->layers) < 0 ||
            ag__h5_write_str_attr(g, "dtype", s->dtype == AG_F64 ? "f64" : "f32") < 0 || ag__h5_write_str_attr(g, "inputs", in) < 0 ||
            ag__h5_write_str_attr(g, "outputs", out) < 0)
            rc = ag_set_error(AG_ERR_IO, "%s: writing /surrogate to '%s' failed", fn, path);
        free(in), free(out);
        if (!rc) rc = write_cols(g, s->in_tr, s->n_in, "in", path);
        if (!rc) rc = write_cols(g, s->out_tr, s->n_out, "out", path);
        if (g >= 0) H5Gclose(g);
    }
    if (!rc) {
        g = H5Gcreate2(f, "meta", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        int schema = SURROGATE_SCHEMA;
        if (g < 0 || ag__h5_write_str_attr(g, "kind", "astrograd surrogate") < 0 ||
            ag__h5_write_num_attr(g, "schema_version", H5T_NATIVE_INT, &schema) < 0 ||
            ag__h5_write_str_attr(g, "astrograd_version", ag_version()) < 0)
            rc = ag_set_error(AG_ERR_IO, "%s: writing /meta to '%s' failed", fn, path);
        if (g >= 0) H5Gclose(g);
    }
    if (!rc && H5Fflush(f, H5F_SCOPE_GLOBAL) < 0) rc = ag_set_error(AG_ERR_IO, "%s: flushing '%s' failed", fn, tmp);
    if (H5Fclose(f) < 0 && !rc) rc = ag_set_error(AG_ERR_IO, "%s: closing '%s' failed", fn, tmp);
    return rc;
}

static int save_fill(void *p, const char *tmp) {
    sur_ctx *c = p;
    ag__h5_enter();
    int rc = save_locked(c->s, c->path, tmp);
    ag__h5_leave();
    return rc;
}

int ag_surrogate_save(const ag_surrogate *s, const char *path) {
    const char *fn = "ag_surrogate_save";
    if (!s || !path) return ag_set_error(AG_ERR_INVALID, "%s: NULL %s", fn, s ? "path" : "surrogate");
    sur_ctx c = {s, path};
    return ag__write_file_atomic(fn, path, save_fill, &c);
}

/* split a '\n'-joined list into n names (strdup'ed into out); -1 when the count differs */
static int split_names(char *joined, int n, char **out) {
    int got = 0;
    char *save = NULL;
    for (char *tok = strtok_r(joined, "\n", &save); tok; tok = strtok_r(NULL, "\n", &save)) {
        if (got < n && !(out[got] = strdup(tok))) return -1;
        got++;
    }
    return got == n ? 0 : -1;
}

static int read_cols(hid_t g, ag_col_transform *tr, int n, const char *pre, const char *path) {
    const char *fn = "ag_surrogate_load";
    const char *what[5] = {"map", "norm", "offset", "scale", "linthresh"};
    ag_tensor *v[5] = {0};
    int rc = 0;
    for (int k = 0; k < 5 && !rc; k++) {
        char name[32];
        snprintf(name, sizeof name, "%s_%s", pre, what[k]);
        ag_tensor *like = ag_zeros(AG_SHAPE(n), k < 2 ? AG_I64 : AG_F64); /* host */
        v[k] = like ? ag__h5_read_tensor(g, "surrogate", name, like, NULL, NULL, fn, path) : NULL;
        ag_release(like);
        if (!v[k]) rc = ag_error_code();
    }
    for (int j = 0; !rc && j < n; j++) {
        tr[j] = (ag_col_transform){(ag_col_map)((int64_t *)ag_data(v[0]))[j], (ag_col_norm)((int64_t *)ag_data(v[1]))[j],
                                   ((double *)ag_data(v[2]))[j], ((double *)ag_data(v[3]))[j], ((double *)ag_data(v[4]))[j]};
        if (!valid_kinds(&tr[j]) || !isfinite(tr[j].offset) || !(fabs(tr[j].scale) > 0) || !isfinite(tr[j].scale) ||
            (tr[j].map == AG_MAP_SIGNLOG && !(tr[j].linthresh > 0 && isfinite(tr[j].linthresh))))
            rc = ag_set_error(AG_ERR_FORMAT, "%s: '%s': /surrogate/%s_* entry %d is not a valid transform", fn, path, pre, j);
    }
    for (int k = 0; k < 5; k++) ag__drop(v[k]);
    return rc;
}

static ag_surrogate *load_locked(const char *path) {
    const char *fn = "ag_surrogate_load";
    hid_t f = ag__h5_open(fn, path);
    if (f < 0) return NULL;
    ag_surrogate *s = NULL;
    char *buf = calloc(1, NAMES_CAP), *buf2 = calloc(1, NAMES_CAP);
    int schema = -1, n_in = 0, n_out = 0, hidden = 0, layers = -1;
    char dt[8] = "";
    if (!buf || !buf2) { ag_set_error(AG_ERR_NOMEM, "%s: out of memory", fn); goto out; }
    if (ag__h5_read_str_attr(f, "meta", "kind", buf, NAMES_CAP) < 0 || strcmp(buf, "astrograd surrogate") ||
        ag__h5_read_num_attr(f, "meta", "schema_version", H5T_NATIVE_INT, &schema) < 0) {
        ag_set_error(AG_ERR_FORMAT, "%s: '%s' is an HDF5 file but not an astrograd surrogate (no /meta kind and schema_version), "
                     "or it is corrupt", fn, path);
        goto out;
    }
    if (schema != SURROGATE_SCHEMA) {
        ag_set_error(AG_ERR_FORMAT, "%s: '%s' has surrogate schema %d; this astrograd (%s) reads schema %d", fn, path, schema,
                     ag_version(), SURROGATE_SCHEMA);
        goto out;
    }
    if (ag__h5_read_num_attr(f, "surrogate", "n_in", H5T_NATIVE_INT, &n_in) < 0 ||
        ag__h5_read_num_attr(f, "surrogate", "n_out", H5T_NATIVE_INT, &n_out) < 0 ||
        ag__h5_read_num_attr(f, "surrogate", "hidden", H5T_NATIVE_INT, &hidden) < 0 ||
        ag__h5_read_num_attr(f, "surrogate", "layers", H5T_NATIVE_INT, &layers) < 0 ||
        ag__h5_read_str_attr(f, "surrogate", "dtype", dt, sizeof dt) < 0 || (strcmp(dt, "f32") && strcmp(dt, "f64")) ||
        ag__h5_read_str_attr(f, "surrogate", "inputs", buf, NAMES_CAP) < 0 ||
        ag__h5_read_str_attr(f, "surrogate", "outputs", buf2, NAMES_CAP) < 0 || n_in < 1 || n_out < 1 || hidden < 1 ||
        layers < 0 || n_in > 100000 || n_out > 100000 || hidden > 1000000 || layers > 1000) {
        ag_set_error(AG_ERR_FORMAT, "%s: '%s': the /surrogate attributes are missing or invalid (corrupt or truncated file?)", fn, path);
        goto out;
    }
    if (!(s = calloc(1, sizeof *s)) || !(s->in_names = calloc((size_t)n_in, sizeof(char *))) ||
        !(s->out_names = calloc((size_t)n_out, sizeof(char *))) || !(s->in_tr = calloc((size_t)n_in, sizeof *s->in_tr)) ||
        !(s->out_tr = calloc((size_t)n_out, sizeof *s->out_tr))) {
        ag_set_error(AG_ERR_NOMEM, "%s: out of memory", fn);
        goto fail;
    }
    s->n_in = n_in, s->n_out = n_out, s->hidden = hidden, s->layers = layers, s->dtype = dt[2] == '4' ? AG_F64 : AG_F32;
    s->dev = AG_CPU; /* host */
    if (split_names(buf, n_in, s->in_names) < 0 || split_names(buf2, n_out, s->out_names) < 0) {
        ag_set_error(AG_ERR_FORMAT, "%s: '%s': /surrogate inputs or outputs do not hold n_in = %d and n_out = %d names", fn, path,
                     n_in, n_out);
        goto fail;
    }
    hid_t g = H5Gopen2(f, "surrogate", H5P_DEFAULT);
    int rc = g < 0 ? ag_set_error(AG_ERR_FORMAT, "%s: cannot open /surrogate in '%s'", fn, path) : 0;
    if (!rc) rc = read_cols(g, s->in_tr, n_in, "in", path);
    if (!rc) rc = read_cols(g, s->out_tr, n_out, "out", path);
    if (g >= 0) H5Gclose(g);
    if (rc) goto fail;
    if (!(s->net = make_mlp(n_in, hidden, layers, n_out, s->dtype, AG_CPU))) goto fail; /* host */
    ag_params p = ag_module_params(s->net);
    g = H5Lexists(f, "params", H5P_DEFAULT) > 0 ? H5Gopen2(f, "params", H5P_DEFAULT) : -1;
    if (g < 0) { ag_set_error(AG_ERR_FORMAT, "%s: '%s' has no /params group (corrupt or truncated?)", fn, path); goto fail; }
    for (int i = 0; i < p.n && !rc; i++) {
        ag_tensor *v = ag__h5_read_tensor(g, "params", p.names[i], p.t[i], NULL, NULL, fn, path);
        if (!v) { rc = ag_error_code(); break; }
        ag_no_grad_begin();
        rc = ag_copy_(p.t[i], v);
        ag_no_grad_end();
        ag__drop(v);
    }
    if (!rc) rc = ag__h5_check_entries(g, "params", p.names, p.n, "parameter", fn, path);
    H5Gclose(g);
    if (rc) goto fail;
    goto out;
fail:
    ag_surrogate_free(s), s = NULL;
out:
    free(buf), free(buf2);
    ag__h5_close(f);
    return s;
}

ag_surrogate *ag_surrogate_load(const char *path, ag_device dev) {
    const char *fn = "ag_surrogate_load";
    if (!path) return ag_fail(AG_ERR_INVALID, "%s: NULL path", fn);
    FILE *probe = fopen(path, "rb");
    if (!probe) return ag_fail(AG_ERR_IO, "%s: cannot open '%s': %s", fn, path, strerror(errno));
    fclose(probe);
    ag__h5_enter();
    ag_surrogate *s = load_locked(path);
    ag__h5_leave();
    if (s && ag_module_to(s->net, dev) < 0) ag_surrogate_free(s), s = NULL;
    if (s) s->dev = dev;
    return s;
}

#endif
