/* imaging/figure.c — PNG figures of sky images (cairo): one panel per image with ΔRA/ΔDec axes
 * (RA grows to the left, as the sky layout), a perceptual colour map, a colour bar and optional
 * overlays (a ring, the beam), laid out on a grid of panels as a paper figure. */
#include <cairo.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "astrograd/imaging.h"
#include "tensor/layer.h"

#include "colormaps.h"

/* panel margins in pixels around the square plot area: axis labels left and below, the
 * colour bar and its label right, the title above */
enum { M_LEFT = 74, M_RIGHT = 116, M_TOP = 34, M_BOTTOM = 54, CBAR_GAP = 12, CBAR_W = 16 };

struct ag_figure {
    int ncols, nrows, size;
    cairo_surface_t *surf;
};

static double clip01(double x) { return x < 0 ? 0 : x > 1 ? 1 : x; }

int ag_cmap_rgb(ag_cmap cmap, double x, double rgb[3]) {
    if (!rgb) return ag_set_error(AG_ERR_INVALID, "ag_cmap_rgb: NULL rgb");
    if (cmap != AG_CMAP_INFERNO && cmap != AG_CMAP_VIRIDIS && cmap != AG_CMAP_AFMHOT)
        return ag_set_error(AG_ERR_INVALID, "ag_cmap_rgb: expected AG_CMAP_INFERNO, VIRIDIS or AFMHOT, given %d", (int)cmap);
    x = isnan(x) ? 0 : clip01(x);
    /* matplotlib's lookup into N = 256 entries: entry floor(256 x), 1 taking the last; its
     * afmhot is a table too, sampled from the formula at i / 255 */
    int i = x >= 1 ? 255 : (int)(x * 256);
    if (cmap == AG_CMAP_AFMHOT) {
        double q = i / 255.0;
        rgb[0] = clip01(2 * q), rgb[1] = clip01(2 * q - 0.5), rgb[2] = clip01(2 * q - 1);
        return 0;
    }
    const float(*t)[3] = cmap == AG_CMAP_INFERNO ? cmap_inferno : cmap_viridis;
    for (int k = 0; k < 3; k++) rgb[k] = t[i][k];
    return 0;
}

ag_figure *ag_figure_new(int ncols, int nrows, int panel_px) {
    const char *fn = "ag_figure_new";
    if (ncols < 1 || nrows < 1 || ncols > 16 || nrows > 16 || panel_px < 64 || panel_px > 4096)
        return ag_fail(AG_ERR_INVALID, "%s: expected 1..16 columns and rows and a panel of 64..4096 pixels, given %d x %d, %d",
                       fn, ncols, nrows, panel_px);
    int w = ncols * (M_LEFT + panel_px + M_RIGHT), h = nrows * (M_TOP + panel_px + M_BOTTOM);
    if (w > 32767 || h > 32767) /* cairo's largest image surface */
        return ag_fail(AG_ERR_INVALID, "%s: expected a figure of at most 32767 x 32767 pixels, given %d x %d panels of %d "
                       "pixels (%d x %d)", fn, ncols, nrows, panel_px, w, h);
    ag_figure *f = calloc(1, sizeof *f);
    if (!f) return ag_fail(AG_ERR_NOMEM, "%s: out of memory", fn);
    f->ncols = ncols, f->nrows = nrows, f->size = panel_px;
    f->surf = cairo_image_surface_create(CAIRO_FORMAT_RGB24, w, h);
    if (cairo_surface_status(f->surf) != CAIRO_STATUS_SUCCESS) {
        cairo_surface_destroy(f->surf);
        free(f);
        return ag_fail(AG_ERR_NOMEM, "%s: cairo could not create a %d x %d surface", fn, w, h);
    }
    cairo_t *cr = cairo_create(f->surf);
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_paint(cr);
    cairo_destroy(cr);
    return f;
}

void ag_figure_free(ag_figure *fig) {
    if (!fig) return;
    cairo_surface_destroy(fig->surf);
    free(fig);
}

/* tick step 1, 2 or 5 × 10^k giving about n ticks over span */
static double nice_step(double span, int n) {
    double raw = span / n, p = pow(10, floor(log10(raw))), m = raw / p;
    return p * (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10);
}

/* negative values with a typographic minus (U+2212), as matplotlib's labels */
static void tick_label(char *buf, size_t n, double v, double step) {
    int dec = step >= 1 ? 0 : (int)ceil(-log10(step) - 1e-9);
    if (fabs(v) < step * 1e-6) v = 0;
    snprintf(buf, n, "%s%.*f", v < 0 ? "\xe2\x88\x92" : "", dec, fabs(v));
}

static void text_at(cairo_t *cr, const char *s, double x, double y, double ax, double ay) {
    cairo_text_extents_t e;
    cairo_text_extents(cr, s, &e);
    cairo_move_to(cr, x - e.x_bearing - ax * e.width, y - e.y_bearing - ay * e.height);
    cairo_show_text(cr, s);
}

/* ticks along [a, b] mapped linearly to [p0, p1] pixels; vertical: y axis (labels left, or
 * right of `at` when right). Returns the widest label's width in pixels. */
static double axis_ticks(cairo_t *cr, double a, double b, double p0, double p1, double at, bool vertical, bool right) {
    double lo = fmin(a, b), hi = fmax(a, b), step = nice_step(hi - lo, 5), wmax = 0;
    char buf[64];
    for (double v = ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-9; v += step) {
        double p = p0 + (v - a) / (b - a) * (p1 - p0);
        tick_label(buf, sizeof buf, v, step);
        cairo_text_extents_t e;
        cairo_text_extents(cr, buf, &e);
        wmax = fmax(wmax, e.width);
        if (vertical) {
            double d = right ? 1 : -1;
            cairo_move_to(cr, at, p), cairo_line_to(cr, at + d * 5, p);
            cairo_stroke(cr);
            text_at(cr, buf, at + d * 8, p, right ? 0 : 1, 0.5);
        } else {
            cairo_move_to(cr, p, at), cairo_line_to(cr, p, at + 5);
            cairo_stroke(cr);
            text_at(cr, buf, p, at + 8, 0.5, 0);
        }
    }
    return wmax;
}

int ag_figure_image(ag_figure *fig, int panel, ag_tensor *image, const ag_grid_coords *gc, const ag_figure_image_opts *opts) {
    const char *fn = "ag_figure_image";
    if (!fig || !image || !gc)
        return ag_failed() ? ag_error_code()
                           : ag_set_error(AG_ERR_INVALID, "%s: NULL %s", fn, !fig ? "figure" : !image ? "image" : "grid coords");
    if (panel < 0 || panel >= fig->ncols * fig->nrows)
        return ag_set_error(AG_ERR_INVALID, "%s: expected a panel 0..%d, given %d", fn, fig->ncols * fig->nrows - 1, panel);
    if (gc->npix < 2 || !(gc->cell_size > 0))
        return ag_set_error(AG_ERR_INVALID, "%s: grid coords not initialised (ag_grid_coords_init)", fn);
    ag_dtype dt = ag_dtype_of(image);
    if (dt != AG_F32 && dt != AG_F64)
        return ag_set_error(AG_ERR_DTYPE, "%s: expected a real f32 or f64 image, given %s", fn, ag_dtype_name(dt));
    int64_t n = gc->npix;
    if (ag_ndim(image) != 2 || ag_shape(image)[0] != n || ag_shape(image)[1] != n)
        return ag_set_error(AG_ERR_SHAPE, "%s: expected a sky image of shape (%lld, %lld) for the grid, given %s", fn,
                            (long long)n, (long long)n, AG_SHP(image));
    static const ag_figure_image_opts none = {0};
    const ag_figure_image_opts *o = opts ? opts : &none;
    if (o->cmap != AG_CMAP_INFERNO && o->cmap != AG_CMAP_VIRIDIS && o->cmap != AG_CMAP_AFMHOT)
        return ag_set_error(AG_ERR_INVALID, "%s: expected AG_CMAP_INFERNO, VIRIDIS or AFMHOT, given %d", fn, (int)o->cmap);
    if (o->unit < AG_AXIS_AUTO || o->unit > AG_AXIS_UAS)
        return ag_set_error(AG_ERR_INVALID, "%s: expected an ag_axis_unit, given %d", fn, (int)o->unit);
    if (!isfinite(o->vmin) || !isfinite(o->vmax) || o->vmin > o->vmax || !(o->circle_r >= 0) || !(o->beam_maj >= 0) ||
        !(o->beam_min >= 0) || (o->beam_maj > 0 && o->beam_min > o->beam_maj) || !isfinite(o->circle_x + o->circle_y + o->beam_pa + o->circle_r + o->beam_maj))
        return ag_set_error(AG_ERR_INVALID, "%s: expected finite options with vmin <= vmax, circle_r >= 0, 0 <= beam_min <= beam_maj; "
                            "given vmin %g vmax %g circle_r %g beam %g %g", fn, o->vmin, o->vmax, o->circle_r, o->beam_maj, o->beam_min);
    double *px = malloc((size_t)(n * n) * sizeof *px);
    if (!px) return ag_set_error(AG_ERR_NOMEM, "%s: out of memory for %lld pixels", fn, (long long)(n * n));
    int rc = ag_copy_to_buffer(image, px, AG_F64); /* a figure is a host product: one copy from any device */
    if (rc < 0) { free(px); return rc; }
    double vmin = o->vmin, vmax = o->vmax;
    if (vmin == vmax) { /* auto: the finite min..max */
        vmin = INFINITY, vmax = -INFINITY;
        for (int64_t i = 0; i < n * n; i++)
            if (isfinite(px[i])) vmin = fmin(vmin, px[i]), vmax = fmax(vmax, px[i]);
        if (!(vmin <= vmax)) vmin = 0, vmax = 1;
        if (vmin == vmax) vmin -= 0.5, vmax += 0.5;
    }
    cairo_surface_t *img = cairo_image_surface_create(CAIRO_FORMAT_RGB24, (int)n, (int)n);
    if (cairo_surface_status(img) != CAIRO_STATUS_SUCCESS) {
        free(px);
        cairo_surface_destroy(img);
        return ag_set_error(AG_ERR_NOMEM, "%s: cairo could not create a %lld x %lld surface", fn, (long long)n, (long long)n);
    }
    cairo_surface_flush(img);
    unsigned char *d = cairo_image_surface_get_data(img);
    int stride = cairo_image_surface_get_stride(img);
    for (int64_t r = 0; r < n; r++) /* sky row 0 is south: the bottom of the picture */
        for (int64_t c = 0; c < n; c++) {
            double v = px[r * n + c], rgb[3] = {0.6, 0.6, 0.6};
            if (isfinite(v)) ag_cmap_rgb(o->cmap, (v - vmin) / (vmax - vmin), rgb);
            uint32_t p = (uint32_t)(rgb[0] * 255 + 0.5) << 16 | (uint32_t)(rgb[1] * 255 + 0.5) << 8 | (uint32_t)(rgb[2] * 255 + 0.5);
            memcpy(d + (n - 1 - r) * stride + c * 4, &p, 4);
        }
    free(px);
    cairo_surface_mark_dirty(img);

    double ext = fabs(gc->img_ext[0] - gc->img_ext[1]);
    ag_axis_unit u = o->unit != AG_AXIS_AUTO ? o->unit : ext >= 1 ? AG_AXIS_ARCSEC : ext >= 1e-3 ? AG_AXIS_MAS : AG_AXIS_UAS;
    double scale = u == AG_AXIS_ARCSEC ? 1 : u == AG_AXIS_MAS ? 1e3 : 1e6;
    const char *uname = u == AG_AXIS_ARCSEC ? "arcsec" : u == AG_AXIS_MAS ? "mas" : "\xc2\xb5" "as";
    double S = fig->size, x0 = (panel % fig->ncols) * (M_LEFT + S + M_RIGHT) + M_LEFT;
    double y0 = (panel / fig->ncols) * (M_TOP + S + M_BOTTOM) + M_TOP;
    double l = gc->img_ext[0], rr = gc->img_ext[1], b = gc->img_ext[2], t = gc->img_ext[3]; /* arcsec; l > rr: east left */
    cairo_t *cr = cairo_create(fig->surf);
    cairo_save(cr);
    cairo_translate(cr, x0, y0);
    cairo_scale(cr, S / (double)n, S / (double)n);
    cairo_set_source_surface(cr, img, 0, 0);
    cairo_pattern_set_filter(cairo_get_source(cr), CAIRO_FILTER_NEAREST); /* pixels stay pixels */
    cairo_rectangle(cr, 0, 0, (double)n, (double)n);
    cairo_fill(cr);
    cairo_restore(cr);
    cairo_surface_destroy(img);

    /* sky offsets (arcsec) to figure pixels */
#define SX(a) (x0 + ((a) - l) / (rr - l) * S)
#define SY(a) (y0 + (t - (a)) / (t - b) * S)
    cairo_save(cr);
    cairo_rectangle(cr, x0, y0, S, S);
    cairo_clip(cr);
    if (o->circle_r > 0) {
        cairo_set_source_rgb(cr, 0.3, 0.85, 1.0);
        cairo_set_line_width(cr, 1.6);
        cairo_set_dash(cr, (double[]){6, 4}, 2, 0);
        cairo_arc(cr, SX(o->circle_x), SY(o->circle_y), o->circle_r / (l - rr) * S, 0, 2 * M_PI);
        cairo_stroke(cr);
        cairo_set_dash(cr, NULL, 0, 0);
    }
    if (o->beam_maj > 0) { /* FWHM ellipse in the lower left corner; PA from north through east (left) */
        double a = o->beam_maj / 2 / (l - rr) * S, bb = fmax(o->beam_min, 1e-9 * o->beam_maj) / 2 / (l - rr) * S;
        double pa = o->beam_pa * M_PI / 180, off = fmax(a, 8.0) + 8;
        cairo_save(cr);
        cairo_translate(cr, x0 + off, y0 + S - off);
        cairo_rotate(cr, atan2(-cos(pa), -sin(pa)));
        cairo_scale(cr, a, bb);
        cairo_arc(cr, 0, 0, 1, 0, 2 * M_PI);
        cairo_restore(cr);
        cairo_set_source_rgb(cr, 1, 1, 1);
        cairo_fill_preserve(cr);
        cairo_set_source_rgb(cr, 0, 0, 0);
        cairo_set_line_width(cr, 1);
        cairo_stroke(cr);
    }
    cairo_restore(cr);
#undef SX
#undef SY

    cairo_set_source_rgb(cr, 0, 0, 0);
    cairo_set_line_width(cr, 1);
    cairo_rectangle(cr, x0 + 0.5, y0 + 0.5, S - 1, S - 1);
    cairo_stroke(cr);
    cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, 12);
    axis_ticks(cr, l * scale, rr * scale, x0, x0 + S, y0 + S, false, false);
    axis_ticks(cr, t * scale, b * scale, y0, y0 + S, x0, true, false);
    char lab[96];
    cairo_set_font_size(cr, 14);
    snprintf(lab, sizeof lab, "\xce\x94RA [%s]", uname);
    text_at(cr, lab, x0 + S / 2, y0 + S + 28, 0.5, 0);
    snprintf(lab, sizeof lab, "\xce\x94" "Dec [%s]", uname);
    cairo_save(cr);
    cairo_translate(cr, x0 - 56, y0 + S / 2);
    cairo_rotate(cr, -M_PI / 2);
    text_at(cr, lab, 0, 0, 0.5, 0);
    cairo_restore(cr);
    if (o->title && o->title[0]) {
        cairo_set_font_size(cr, 15);
        cairo_text_extents_t e; /* on a common baseline, whatever the letters' heights */
        cairo_text_extents(cr, o->title, &e);
        cairo_move_to(cr, x0 + S / 2 - e.x_bearing - e.width / 2, y0 - 12);
        cairo_show_text(cr, o->title);
    }

    /* colour bar */
    double cx = x0 + S + CBAR_GAP;
    for (int i = 0; i < (int)S; i++) {
        double rgb[3];
        ag_cmap_rgb(o->cmap, 1 - (i + 0.5) / S, rgb);
        cairo_set_source_rgb(cr, rgb[0], rgb[1], rgb[2]);
        cairo_rectangle(cr, cx, y0 + i, CBAR_W, 1);
        cairo_fill(cr);
    }
    cairo_set_source_rgb(cr, 0, 0, 0);
    cairo_rectangle(cr, cx + 0.5, y0 + 0.5, CBAR_W - 1, S - 1);
    cairo_stroke(cr);
    cairo_set_font_size(cr, 11);
    double wt = axis_ticks(cr, vmax, vmin, y0, y0 + S, cx + CBAR_W, true, true);
    if (o->cbar_label && o->cbar_label[0]) { /* beside the widest tick label, within the margin */
        cairo_set_font_size(cr, 13);
        cairo_save(cr);
        cairo_translate(cr, fmin(cx + CBAR_W + 8 + wt + 8, x0 + S + M_RIGHT - 18), y0 + S / 2);
        cairo_rotate(cr, -M_PI / 2);
        text_at(cr, o->cbar_label, 0, 0, 0.5, 0);
        cairo_restore(cr);
    }
    cairo_status_t st = cairo_status(cr);
    cairo_destroy(cr);
    if (st != CAIRO_STATUS_SUCCESS) return ag_set_error(AG_ERR_IO, "%s: cairo: %s", fn, cairo_status_to_string(st));
    return 0;
}

static int png_fill(void *ctx, const char *tmp) {
    cairo_status_t st = cairo_surface_write_to_png((cairo_surface_t *)ctx, tmp);
    if (st != CAIRO_STATUS_SUCCESS)
        return ag_set_error(AG_ERR_IO, "ag_figure_write_png: '%s': cairo: %s", tmp, cairo_status_to_string(st));
    return 0;
}

int ag_figure_write_png(ag_figure *fig, const char *path) {
    if (!fig || !path) return ag_set_error(AG_ERR_INVALID, "ag_figure_write_png: NULL %s", fig ? "path" : "figure");
    cairo_surface_flush(fig->surf);
    return ag__write_file_atomic("ag_figure_write_png", path, png_fill, fig->surf);
}
