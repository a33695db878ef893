/* imaging/coords.c — GridCoords: the image grid and the Fourier grid it implies (MPoL's). */
#include <math.h>
#include <stdlib.h>

#include "astrograd/imaging.h"
#include "tensor/layer.h"

int ag_grid_coords_init(ag_grid_coords *out, double cell_size, int64_t npix) {
    if (!out) return ag_set_error(AG_ERR_INVALID, "ag_grid_coords_init: argument 1 (out) is NULL");
    if (npix < 2 || npix % 2)
        return ag_set_error(AG_ERR_INVALID, "ag_grid_coords_init: expected an even npix >= 2, given %lld",
                            (long long)npix);
    if (!(cell_size > 0) || !isfinite(cell_size))
        return ag_set_error(AG_ERR_INVALID, "ag_grid_coords_init: expected a positive finite cell_size [arcsec], given %g",
                            cell_size);
    ag_grid_coords g = {.cell_size = cell_size, .npix = npix};
    double h = (double)(npix / 2);
    g.dl = g.dm = cell_size * AG_ARCSEC;
    g.du = 1.0 / ((double)npix * g.dl);
    g.dv = 1.0 / ((double)npix * g.dm);
    g.u_bin_min = -g.du * (h + 0.5);
    g.u_bin_max = g.du * (h - 0.5);
    g.v_bin_min = -g.dv * (h + 0.5);
    g.v_bin_max = g.dv * (h - 0.5);
    g.max_uv_grid_value = g.du * (h - 0.5);
    double lmax = cell_size * (h - 0.5), lmin = -cell_size * (h + 0.5);
    g.img_ext[0] = lmax, g.img_ext[1] = lmin, g.img_ext[2] = lmin, g.img_ext[3] = lmax;
    g.vis_ext[0] = g.u_bin_min, g.vis_ext[1] = g.u_bin_max, g.vis_ext[2] = g.v_bin_min, g.vis_ext[3] = g.v_bin_max;
    *out = g;
    return 0;
}

static bool valid(const char *fn, const ag_grid_coords *gc) {
    if (!gc) return ag_set_error(AG_ERR_INVALID, "%s: argument 1 (gc) is NULL", fn), false;
    if (gc->npix < 2 || gc->npix % 2 || !(gc->dl > 0))
        return ag_set_error(AG_ERR_INVALID, "%s: grid coordinates not initialised (use ag_grid_coords_init)", fn), false;
    return true;
}

/* largest |t| as a double, reduced on t's device */
static int max_abs(const char *fn, const char *name, ag_tensor *t, double *out) {
    if (!t) return ag_failed() ? ag_error_code() : ag_set_error(AG_ERR_INVALID, "%s: %s is NULL", fn, name);
    if (ag_dtype_is_complex(ag_dtype_of(t)) || !ag_dtype_is_float(ag_dtype_of(t)))
        return ag_set_error(AG_ERR_DTYPE, "%s: expected real floating %s, given %s", fn, name, ag_dtype_name(ag_dtype_of(t)));
    if (ag_numel(t) == 0) return *out = 0, 0;
    ag_no_grad_begin();
    ag_tensor *a = ag_abs(t), *m = ag_amax(a, AG_ALL_DIMS, false);
    ag_no_grad_end();
    double v = m ? ag_item(m) : NAN;
    ag_release(a), ag_release(m);
    if (ag_failed()) return ag_error_code();
    *out = v;
    return 0;
}

int ag_grid_check_data_fit(const ag_grid_coords *gc, ag_tensor *u, ag_tensor *v) {
    const char *fn = "ag_grid_check_data_fit";
    if (!valid(fn, gc)) return ag_error_code();
    double mu, mv;
    if (max_abs(fn, "u", u, &mu) < 0 || max_abs(fn, "v", v, &mv) < 0) return ag_error_code();
    if (isnan(mu) || isnan(mv)) return ag_set_error(AG_ERR_INVALID, "%s: u or v contains NaN", fn);
    double m = fmax(mu, mv);
    if (m <= gc->max_uv_grid_value) return 0;
    /* du(npix/2 - 1/2) >= m  <=>  cell <= (npix/2 - 1/2) / (npix m) / arcsec */
    double fit = ((double)(gc->npix / 2) - 0.5) / ((double)gc->npix * m) / AG_ARCSEC;
    return ag_set_error(AG_ERR_INVALID,
                        "%s: visibilities beyond the grid: max |u| = %.6g λ, max |v| = %.6g λ, but cell_size %.6g arcsec with "
                        "npix %lld reaches only %.6g λ; use cell_size <= %.6g arcsec",
                        fn, mu, mv, gc->cell_size, (long long)gc->npix, gc->max_uv_grid_value, fit);
}

ag_tensor *ag_grid_axis_values(const ag_grid_coords *gc, ag_grid_axis axis) {
    const char *fn = "ag_grid_axis_values";
    if (!valid(fn, gc)) return NULL;
    int64_t n = gc->npix, h = n / 2;
    bool edges = axis == AG_GRID_U_EDGES || axis == AG_GRID_V_EDGES;
    double step;
    switch (axis) {
    case AG_GRID_L_CENTERS: step = gc->dl; break;
    case AG_GRID_M_CENTERS: step = gc->dm; break;
    case AG_GRID_U_CENTERS: case AG_GRID_U_EDGES: step = gc->du; break;
    case AG_GRID_V_CENTERS: case AG_GRID_V_EDGES: step = gc->dv; break;
    default: return ag_fail(AG_ERR_INVALID, "%s: unknown axis %d", fn, (int)axis);
    }
    int64_t len = n + (edges ? 1 : 0);
    double *x = malloc((size_t)len * sizeof *x);
    if (!x) return ag_fail(AG_ERR_NOMEM, "%s: out of memory", fn);
    for (int64_t i = 0; i < len; i++) x[i] = step * ((double)(i - h) - (edges ? 0.5 : 0.0));
    ag_tensor *t = ag_from_data(x, &len, 1, AG_F64);
    free(x);
    return t;
}

ag_tensor *ag_grid_centers_2d(const ag_grid_coords *gc, ag_grid_field field, ag_grid_layout layout) {
    const char *fn = "ag_grid_centers_2d";
    if (!valid(fn, gc)) return NULL;
    if (field < AG_GRID_X || field > AG_GRID_PHI) return ag_fail(AG_ERR_INVALID, "%s: unknown field %d", fn, (int)field);
    if (layout != AG_LAYOUT_PACKED && layout != AG_LAYOUT_SKY)
        return ag_fail(AG_ERR_INVALID, "%s: unknown layout %d", fn, (int)layout);
    int64_t n = gc->npix, h = n / 2;
    double *x = malloc((size_t)(n * n) * sizeof *x);
    if (!x) return ag_fail(AG_ERR_NOMEM, "%s: out of memory", fn);
    for (int64_t r = 0; r < n; r++)
        for (int64_t c = 0; c < n; c++) {
            /* integer offsets (from -h) of the ground/flip-layout cell shown at (r, c) */
            int64_t ir, ic;
            if (layout == AG_LAYOUT_PACKED) ir = (r + h) % n - h, ic = (c + h) % n - h; /* fftshift undone */
            else ir = r - h, ic = (field == AG_GRID_X || field == AG_GRID_Y) ? (n - 1 - c) - h : c - h;
            double val;
            if (field == AG_GRID_X) val = gc->cell_size * (double)ic;
            else if (field == AG_GRID_Y) val = gc->cell_size * (double)ir;
            else {
                double uu = gc->du * (double)ic, vv = gc->dv * (double)ir;
                val = field == AG_GRID_U ? uu : field == AG_GRID_V ? vv : field == AG_GRID_Q ? hypot(uu, vv) : atan2(vv, uu);
            }
            x[r * n + c] = val;
        }
    ag_tensor *t = ag_from_data(x, AG_SHAPE(n, n), AG_F64);
    free(x);
    return t;
}
