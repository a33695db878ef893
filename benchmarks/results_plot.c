/* benchmarks/results_plot.c — see results_plot.h. */
#include "results_plot.h"

#include <cairo.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#define W 820   /* plot area + margins, without the legend */
#define H 560
#define ML 80   /* margins of the plot area */
#define MR 20
#define MT 50
#define MB 120  /* room for slanted case names */
#define LEGEND_W 420
#define LINE_H 16

static const double palette[10][3] = {{0.12, 0.47, 0.71}, {1.00, 0.50, 0.05}, {0.17, 0.63, 0.17}, {0.84, 0.15, 0.16},
                                      {0.58, 0.40, 0.74}, {0.55, 0.34, 0.29}, {0.89, 0.47, 0.76}, {0.50, 0.50, 0.50},
                                      {0.74, 0.74, 0.13}, {0.09, 0.75, 0.81}};

typedef struct axis { double lo, hi; bool log; double p0, p1; } axis; /* data range -> pixels p0..p1 */

static double to_px(const axis *a, double v) {
    double t = a->log ? (log10(v) - a->lo) / (a->hi - a->lo) : (v - a->lo) / (a->hi - a->lo);
    return a->p0 + t * (a->p1 - a->p0);
}

/* whole decades around [mn, mx] (both > 0), at least one, with the points off the frame */
static void decades(double mn, double mx, axis *a) {
    a->log = true;
    a->lo = floor(log10(mn) - 0.05);
    a->hi = ceil(log10(mx) + 0.05);
    if (a->hi <= a->lo) a->hi = a->lo + 1;
}

static void decade_label(char *buf, size_t n, int k) {
    if (k >= -3 && k <= 3) snprintf(buf, n, "%g", pow(10, k));
    else snprintf(buf, n, "1e%d", k);
}

static void text_at(cairo_t *cr, double x, double y, const char *s, double ax, double ay) {
    cairo_text_extents_t e;
    cairo_text_extents(cr, s, &e);
    cairo_move_to(cr, x - ax * e.width - e.x_bearing, y + ay * e.height);
    cairo_show_text(cr, s);
}

static void marker(cairo_t *cr, double x, double y, int peer) {
    if (peer) {
        if (peer == 1) cairo_rectangle(cr, x - 4, y - 4, 8, 8);
        else cairo_move_to(cr, x, y - 5), cairo_line_to(cr, x + 5, y + 4), cairo_line_to(cr, x - 5, y + 4), cairo_close_path(cr);
        cairo_save(cr);
        cairo_set_source_rgb(cr, 1, 1, 1);
        cairo_fill_preserve(cr);
        cairo_restore(cr);
        cairo_stroke(cr);
    } else {
        cairo_arc(cr, x, y, 4, 0, 2 * M_PI);
        cairo_fill(cr);
    }
}

static void set_style(cairo_t *cr, const bp_series *s) {
    const double *c = palette[((s->color % 10) + 10) % 10];
    cairo_set_source_rgb(cr, c[0], c[1], c[2]);
    cairo_set_line_width(cr, 1.6);
    double dash[2] = {6, 4};
    cairo_set_dash(cr, dash, s->peer ? 2 : 0, 0);
}

static bool ok_y(double y) { return isfinite(y) && y > 0; }

int bp_write_png(const char *path, const char *title, const char *xlabel, const char *const *cats, int ncats,
                 const bp_series *s, int ns, char *err, size_t nerr) {
    double xmn = INFINITY, xmx = -INFINITY, ymn = INFINITY, ymx = -INFINITY;
    for (int i = 0; i < ns; i++)
        for (int j = 0; j < s[i].n; j++) {
            if (!ok_y(s[i].y[j]) || (!cats && !(s[i].x[j] > 0))) continue;
            xmn = fmin(xmn, s[i].x[j]), xmx = fmax(xmx, s[i].x[j]);
            ymn = fmin(ymn, s[i].y[j]), ymx = fmax(ymx, s[i].y[j]);
            if (ok_y(s[i].lo[j])) ymn = fmin(ymn, s[i].lo[j]);
            if (ok_y(s[i].hi[j])) ymx = fmax(ymx, s[i].hi[j]);
        }
    if (!isfinite(ymn)) { snprintf(err, nerr, "%s: no time to plot", path); return -1; }
    int legend_h = MT + LINE_H * (ns + 2);
    int height = legend_h > H ? legend_h : H;
    axis ax, ay;
    decades(ymn, ymx, &ay);
    ay.p0 = height - MB, ay.p1 = MT;
    if (cats) ax = (axis){-0.5, ncats - 0.5, false, ML, W - MR};
    else {
        decades(xmn, xmx, &ax);
        ax.p0 = ML, ax.p1 = W - MR;
    }
    cairo_surface_t *surf = cairo_image_surface_create(CAIRO_FORMAT_RGB24, W + LEGEND_W, height);
    cairo_t *cr = cairo_create(surf);
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_paint(cr);
    cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);

    /* grid and ticks: decades (labelled) and 2 … 9 within them on log axes */
    cairo_set_line_width(cr, 1);
    cairo_set_font_size(cr, 12);
    for (int k = (int)ay.lo; k <= (int)ay.hi; k++)
        for (int m = 1; m <= (k < (int)ay.hi ? 9 : 1); m++) {
            double py = to_px(&ay, m * pow(10, k));
            cairo_set_source_rgb(cr, m == 1 ? 0.82 : 0.93, m == 1 ? 0.82 : 0.93, m == 1 ? 0.82 : 0.93);
            cairo_move_to(cr, ML, py), cairo_line_to(cr, W - MR, py), cairo_stroke(cr);
            cairo_set_source_rgb(cr, 0, 0, 0);
            cairo_move_to(cr, ML - (m == 1 ? 7 : 4), py), cairo_line_to(cr, ML, py), cairo_stroke(cr);
            if (m == 1) {
                char b[32];
                decade_label(b, sizeof b, k);
                text_at(cr, ML - 10, py, b, 1.0, 0.5);
            }
        }
    if (cats) {
        for (int i = 0; i < ncats; i++) {
            double px = to_px(&ax, i);
            cairo_set_source_rgb(cr, 0, 0, 0);
            cairo_move_to(cr, px, ay.p0), cairo_line_to(cr, px, ay.p0 + 6), cairo_stroke(cr);
            cairo_save(cr);
            cairo_translate(cr, px, ay.p0 + 10);
            cairo_rotate(cr, M_PI / 6);
            cairo_set_font_size(cr, 10);
            text_at(cr, 0, 0, cats[i], 0, 0.8);
            cairo_restore(cr);
        }
    } else {
        for (int k = (int)ax.lo; k <= (int)ax.hi; k++)
            for (int m = 1; m <= (k < (int)ax.hi ? 9 : 1); m++) {
                double px = to_px(&ax, m * pow(10, k));
                cairo_set_source_rgb(cr, m == 1 ? 0.82 : 0.93, m == 1 ? 0.82 : 0.93, m == 1 ? 0.82 : 0.93);
                cairo_move_to(cr, px, MT), cairo_line_to(cr, px, ay.p0), cairo_stroke(cr);
                cairo_set_source_rgb(cr, 0, 0, 0);
                cairo_move_to(cr, px, ay.p0), cairo_line_to(cr, px, ay.p0 + (m == 1 ? 7 : 4)), cairo_stroke(cr);
                if (m == 1) {
                    char b[32];
                    decade_label(b, sizeof b, k);
                    text_at(cr, px, ay.p0 + 12, b, 0.5, 1.0);
                }
            }
        cairo_set_font_size(cr, 13);
        text_at(cr, (ML + W - MR) / 2.0, ay.p0 + 40, xlabel, 0.5, 1.0);
    }
    cairo_set_source_rgb(cr, 0, 0, 0);
    cairo_rectangle(cr, ML, MT, W - MR - ML, ay.p0 - MT);
    cairo_stroke(cr);
    cairo_set_font_size(cr, 13);
    cairo_save(cr);
    cairo_translate(cr, 22, (MT + ay.p0) / 2);
    cairo_rotate(cr, -M_PI / 2);
    text_at(cr, 0, 0, "time per call (ms, median; bars: quartiles)", 0.5, 0.5);
    cairo_restore(cr);
    cairo_set_font_size(cr, 15);
    text_at(cr, (ML + W - MR) / 2.0, 20, title, 0.5, 1.0);

    /* the series, clipped to the plot area */
    cairo_save(cr);
    cairo_rectangle(cr, ML, MT, W - MR - ML, ay.p0 - MT);
    cairo_clip(cr);
    for (int i = 0; i < ns; i++) {
        set_style(cr, &s[i]);
        bool pen = false;
        for (int j = 0; j < s[i].n; j++) {
            if (!ok_y(s[i].y[j]) || (!cats && !(s[i].x[j] > 0))) continue;
            double px = to_px(&ax, s[i].x[j]), py = to_px(&ay, s[i].y[j]);
            if (pen && !cats) cairo_line_to(cr, px, py);
            else cairo_move_to(cr, px, py);
            pen = true;
        }
        cairo_stroke(cr);
        cairo_set_dash(cr, NULL, 0, 0);
        for (int j = 0; j < s[i].n; j++) {
            if (!ok_y(s[i].y[j]) || (!cats && !(s[i].x[j] > 0))) continue;
            double px = to_px(&ax, s[i].x[j]), py = to_px(&ay, s[i].y[j]);
            if (ok_y(s[i].lo[j]) && ok_y(s[i].hi[j])) {
                cairo_move_to(cr, px, to_px(&ay, s[i].lo[j])), cairo_line_to(cr, px, to_px(&ay, s[i].hi[j]));
                cairo_stroke(cr);
            }
            marker(cr, px, py, s[i].peer);
        }
    }
    cairo_restore(cr);

    cairo_set_font_size(cr, 11);
    for (int i = 0; i < ns; i++) {
        double y = MT + LINE_H * (i + 0.5);
        set_style(cr, &s[i]);
        cairo_move_to(cr, W + 4, y), cairo_line_to(cr, W + 34, y), cairo_stroke(cr);
        cairo_set_dash(cr, NULL, 0, 0);
        marker(cr, W + 19, y, s[i].peer);
        cairo_set_source_rgb(cr, 0, 0, 0);
        text_at(cr, W + 42, y, s[i].label, 0, 0.5);
    }
    cairo_destroy(cr);

    char tmp[1100];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    cairo_status_t st = cairo_surface_write_to_png(surf, tmp);
    cairo_surface_destroy(surf);
    if (st != CAIRO_STATUS_SUCCESS) {
        remove(tmp);
        snprintf(err, nerr, "cannot write %s: cairo: %s", path, cairo_status_to_string(st));
        return -1;
    }
    if (rename(tmp, path) != 0) {
        snprintf(err, nerr, "cannot write %s: %s", path, strerror(errno));
        remove(tmp);
        return -1;
    }
    return 0;
}
