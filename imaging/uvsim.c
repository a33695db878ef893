/* imaging/uvsim.c — simulated interferometric observations: antenna configurations as CASA's
 * simobserve reads them, earth-rotation synthesis of their (u, v) tracks, model visibilities
 * (ag_dft or ag_nufft) plus seeded thermal noise, as one ag_vis. The formulas are in imaging.h. */
#define _POSIX_C_SOURCE 200809L
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "astrograd/imaging.h"
#include "tensor/layer.h"

#define C_LIGHT 299792458.0
#define DEG (3.14159265358979323846 / 180.0)

void ag_array_config_free(ag_array_config *cfg) {
    if (!cfg) return;
    for (int i = 0; cfg->pad && i < cfg->nant; i++) free(cfg->pad[i]);
    free(cfg->pad), free(cfg->x), free(cfg->y), free(cfg->z), free(cfg->diam);
    free(cfg);
}

static int push_antenna(ag_array_config *c, int *cap, const double f[4], const char *pad) {
    if (c->nant == *cap) {
        int n = *cap ? 2 * *cap : 64;
        double **arr[4] = {&c->x, &c->y, &c->z, &c->diam};
        for (int k = 0; k < 4; k++) {
            double *p = realloc(*arr[k], (size_t)n * sizeof *p);
            if (!p) return -1;
            *arr[k] = p;
        }
        char **p = realloc(c->pad, (size_t)n * sizeof *p);
        if (!p) return -1;
        c->pad = p, *cap = n;
    }
    c->x[c->nant] = f[0], c->y[c->nant] = f[1], c->z[c->nant] = f[2], c->diam[c->nant] = f[3];
    if (!(c->pad[c->nant] = strdup(pad))) return -1;
    c->nant++;
    return 0;
}

/* "coordsys=XYZ" and the like in a comment: 0 when absent, 1 LOC, 2 XYZ, -1 another */
static int coordsys_of(const char *comment) {
    const char *p = strstr(comment, "coordsys");
    if (!p) return 0;
    p += strlen("coordsys");
    while (*p == ' ' || *p == '=' || *p == ':') p++;
    if (!strncmp(p, "LOC", 3)) return 1;
    if (!strncmp(p, "XYZ", 3)) return 2;
    return -1;
}

ag_array_config *ag_array_config_read(const char *path) {
    const char *fn = "ag_array_config_read";
    if (!path) return ag_fail(AG_ERR_INVALID, "%s: path is NULL", fn);
    FILE *fp = fopen(path, "r");
    if (!fp) return ag_fail(AG_ERR_IO, "%s: cannot open %s: %s", fn, path, strerror(errno));
    ag_array_config *c = calloc(1, sizeof *c);
    char line[1024];
    int cap = 0, lineno = 0, sys = 0;
    bool first = true;
    if (!c) { ag_set_error(AG_ERR_NOMEM, "%s: out of memory", fn); goto fail; }
    while (fgets(line, sizeof line, fp)) {
        lineno++;
        if (!strchr(line, '\n') && !feof(fp)) {
            ag_set_error(AG_ERR_FORMAT, "%s: %s line %d: longer than %zu characters", fn, path, lineno, sizeof line - 2);
            goto fail;
        }
        char *hash = strchr(line, '#');
        if (hash) {
            int s = coordsys_of(hash);
            if (s < 0) {
                ag_set_error(AG_ERR_NOTIMPL, "%s: %s line %d: expected coordsys LOC or XYZ, given %s", fn, path, lineno,
                             strstr(hash, "coordsys"));
                goto fail;
            }
            if (s) sys = s;
            *hash = '\0';
        }
        char *tok[6], *save = NULL;
        int nt = 0;
        for (char *t = strtok_r(line, " \t\r\n", &save); t && nt < 6; t = strtok_r(NULL, " \t\r\n", &save)) tok[nt++] = t;
        if (!nt) continue;
        bool header = first && nt == 5 && !strcmp(tok[0], "x") && !strcmp(tok[1], "y") && !strcmp(tok[2], "z");
        first = false;
        if (header) continue;
        double f[4];
        bool ok = nt == 4 || nt == 5;
        for (int k = 0; ok && k < 4; k++) {
            char *end;
            f[k] = strtod(tok[k], &end);
            ok = end != tok[k] && !*end && isfinite(f[k]);
        }
        if (!ok || !(f[3] > 0)) {
            ag_set_error(AG_ERR_FORMAT, "%s: %s line %d: expected \"x y z diam [pad]\" (metres, 4 finite numbers, "
                         "diam > 0), given %d field%s starting \"%s\"", fn, path, lineno, nt, nt == 1 ? "" : "s", tok[0]);
            goto fail;
        }
        char pad[32];
        snprintf(pad, sizeof pad, "A%d", lineno);
        if (push_antenna(c, &cap, f, nt == 5 ? tok[4] : pad)) { ag_set_error(AG_ERR_NOMEM, "%s: out of memory", fn); goto fail; }
    }
    if (ferror(fp)) { ag_set_error(AG_ERR_IO, "%s: reading %s failed", fn, path); goto fail; }
    if (!c->nant) { ag_set_error(AG_ERR_FORMAT, "%s: %s: expected antenna lines, given none", fn, path); goto fail; }
    c->itrf = sys == 2;
    fclose(fp);
    return c;
fail:
    fclose(fp);
    ag_array_config_free(c);
    return NULL;
}

ag_uvsim_opts ag_uvsim_default_opts(void) {
    return (ag_uvsim_opts){.dec_deg = -23.029, .lat_deg = -23.029, .ha_start_h = -1, .ha_end_h = 1, .step_s = 60,
                           .freq_hz = 230e9, .sigma = 0, .seed = 1, .nufft_eps = 0};
}

/* splitmix64 (Steele, Lea & Flood 2014): a small seeded host generator, so the noise does not
 * depend on (or disturb) the global generator's state */
static uint64_t splitmix64(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}
static double uniform01(uint64_t *s) { return ((splitmix64(s) >> 11) + 0.5) * 0x1.0p-53; } /* in (0, 1) */

static int check_opts(const ag_array_config *cfg, const ag_uvsim_opts *o, int64_t *ntimes) {
    const char *fn = "ag_uvsim";
    if (!cfg || !o) return ag_set_error(AG_ERR_INVALID, "%s: %s is NULL", fn, cfg ? "opts" : "cfg");
    if (cfg->nant < 2) return ag_set_error(AG_ERR_INVALID, "%s: expected at least 2 antennas, given %d", fn, cfg->nant);
#define RANGE(ok, what, val) \
    if (!(ok)) return ag_set_error(AG_ERR_INVALID, "%s: expected %s, given %g", fn, what, (double)(val))
    RANGE(fabs(o->dec_deg) <= 90, "dec_deg in [-90, 90]", o->dec_deg);
    RANGE(fabs(o->lat_deg) <= 90, "lat_deg in [-90, 90]", o->lat_deg);
    RANGE(fabs(o->ha_start_h) <= 12, "ha_start_h in [-12, 12]", o->ha_start_h);
    RANGE(fabs(o->ha_end_h) <= 12, "ha_end_h in [-12, 12]", o->ha_end_h);
    RANGE(o->ha_end_h >= o->ha_start_h, "ha_end_h >= ha_start_h", o->ha_end_h);
    RANGE(o->step_s > 0 && isfinite(o->step_s), "step_s > 0 and finite", o->step_s);
    RANGE(o->freq_hz > 0 && isfinite(o->freq_hz), "freq_hz > 0 and finite", o->freq_hz);
    RANGE(o->sigma >= 0 && isfinite(o->sigma), "sigma >= 0 and finite", o->sigma);
    RANGE(o->nufft_eps == 0 || (o->nufft_eps > 0 && o->nufft_eps <= 0.1), "nufft_eps 0 or in (0, 0.1]", o->nufft_eps);
#undef RANGE
    /* the small slack keeps an end that is a whole number of steps despite rounding */
    double nt = floor((o->ha_end_h - o->ha_start_h) * 3600 / o->step_s + 1e-9) + 1;
    double npair = 0.5 * cfg->nant * (cfg->nant - 1.0);
    if (nt * npair > 2147483648.0)
        return ag_set_error(AG_ERR_INVALID, "%s: expected at most 2^31 visibilities, given %.0f baselines x %.0f times", fn,
                            npair, nt);
    *ntimes = (int64_t)nt;
    return 0;
}

/* baselines b = p_j - p_i in the equatorial frame (X, Y, Z) [m], pairs in (0,1), (0,2)... order */
static void equatorial_baselines(const ag_array_config *cfg, double lat, double *B) {
    double slat = sin(lat), clat = cos(lat), rot_c = 1, rot_s = 0;
    if (cfg->itrf) {
        double mx = 0, my = 0;
        for (int i = 0; i < cfg->nant; i++) mx += cfg->x[i], my += cfg->y[i];
        double lon = atan2(my, mx);
        rot_c = cos(lon), rot_s = sin(lon);
    }
    int64_t p = 0;
    for (int i = 0; i < cfg->nant; i++)
        for (int j = i + 1; j < cfg->nant; j++, p++) {
            double dx = cfg->x[j] - cfg->x[i], dy = cfg->y[j] - cfg->y[i], dz = cfg->z[j] - cfg->z[i];
            if (cfg->itrf) { /* to the local meridian: X_loc = cos λ X + sin λ Y, Y_loc = -sin λ X + cos λ Y */
                B[3 * p] = rot_c * dx + rot_s * dy, B[3 * p + 1] = -rot_s * dx + rot_c * dy, B[3 * p + 2] = dz;
            } else { /* (E, N, U) = (dx, dy, dz) */
                B[3 * p] = -slat * dy + clat * dz, B[3 * p + 1] = dx, B[3 * p + 2] = clat * dy + slat * dz;
            }
        }
}

/* the model's visibilities at (u, v) (1, nvis), or zeros for no model */
static ag_tensor *model_vis(ag_tensor *model, ag_tensor *u, ag_tensor *v, const ag_grid_coords *gc, const ag_uvsim_opts *o,
                            int64_t nvis, ag_device dev) {
    const char *fn = "ag_uvsim";
    if (!model) return ag_zeros_on(AG_SHAPE(1, nvis), AG_C128, dev);
    if (!gc) return ag_fail(AG_ERR_INVALID, "%s: gc is NULL (a model needs its grid)", fn);
    if (ag_dtype_of(model) != AG_F64)
        return ag_fail(AG_ERR_DTYPE, "%s: expected an f64 model, given %s", fn, ag_dtype_name(ag_dtype_of(model)));
    int nd = ag_ndim(model);
    const int64_t *s = ag_shape(model);
    if (!((nd == 2 || (nd == 3 && s[0] == 1)) && s[nd - 1] == gc->npix && s[nd - 2] == gc->npix))
        return ag_fail(AG_ERR_SHAPE, "%s: expected a packed model (%lld, %lld) or (1, %lld, %lld), given %s", fn,
                       (long long)gc->npix, (long long)gc->npix, (long long)gc->npix, (long long)gc->npix, AG_SHP(model));
    if (o->nufft_eps == 0) return ag_dft(model, u, v, gc, -1);
    if (ag_grid_check_data_fit(gc, u, v) < 0) { /* the same message, naming the function called */
        char msg[512];
        ag_status code = ag_error_code();
        snprintf(msg, sizeof msg, "%s", ag_last_error());
        ag_clear_error();
        return ag_fail(code, "%s: the NuFFT (nufft_eps > 0) needs every point on the grid (%s)", fn, msg);
    }
    ag_nufft_plan *plan = ag_nufft_plan_new(gc, u, v, o->nufft_eps, -1);
    ag_tensor *r = plan ? ag_nufft(plan, model) : NULL;
    ag_nufft_plan_free(plan);
    return r;
}

ag_vis *ag_uvsim(const ag_array_config *cfg, ag_tensor *model, const ag_grid_coords *gc, const ag_uvsim_opts *o) {
    const char *fn = "ag_uvsim";
    int64_t nt = 0;
    if (check_opts(cfg, o, &nt) < 0) return NULL;
    ag_device dev = model ? ag_device_of(model) : ag_device_default();
    int64_t npair = (int64_t)cfg->nant * (cfg->nant - 1) / 2, n = npair * nt;
    double *B = malloc((size_t)npair * 3 * sizeof *B), *u = malloc((size_t)n * sizeof *u), *v = malloc((size_t)n * sizeof *v);
    double *t = malloc((size_t)n * sizeof *t), *noise = o->sigma > 0 ? malloc((size_t)n * 2 * sizeof *noise) : NULL;
    int64_t *a1 = malloc((size_t)n * sizeof *a1), *a2 = malloc((size_t)n * sizeof *a2);
    ag_vis *vis = NULL;
    if (!B || !u || !v || !t || !a1 || !a2 || (o->sigma > 0 && !noise)) {
        ag_set_error(AG_ERR_NOMEM, "%s: out of memory for %lld visibilities", fn, (long long)n);
        goto done;
    }
    equatorial_baselines(cfg, o->lat_deg * DEG, B);
    double lambda = C_LIGHT / o->freq_hz, sd = sin(o->dec_deg * DEG), cd = cos(o->dec_deg * DEG);
    for (int64_t k = 0, r = 0; k < nt; k++) {
        double hh = o->ha_start_h + k * o->step_s / 3600, sh = sin(hh * 15 * DEG), ch = cos(hh * 15 * DEG);
        for (int i = 0, p = 0; i < cfg->nant; i++)
            for (int j = i + 1; j < cfg->nant; j++, p++, r++) {
                const double *b = B + 3 * p;
                u[r] = (sh * b[0] + ch * b[1]) / lambda;
                v[r] = (-sd * ch * b[0] + sd * sh * b[1] + cd * b[2]) / lambda;
                t[r] = hh * 3600, a1[r] = i, a2[r] = j;
            }
    }
    uint64_t state = o->seed;
    for (int64_t k = 0; noise && k < n; k++) { /* Box-Muller: one pair per visibility, (Re, Im) */
        double rad = o->sigma * sqrt(-2 * log(uniform01(&state))), th = 2 * M_PI * uniform01(&state);
        noise[2 * k] = rad * cos(th), noise[2 * k + 1] = rad * sin(th);
    }

    ag_scope_begin();
    ag_no_grad_begin();
    ag_tensor *tu = ag_from_data_on(u, AG_SHAPE(n), AG_F64, dev), *tv = ag_from_data_on(v, AG_SHAPE(n), AG_F64, dev);
    ag_tensor *data = model_vis(model, tu, tv, gc, o, n, dev);
    if (noise) data = ag_add(data, ag_from_data_on(noise, AG_SHAPE(1, n), AG_C128, dev));
    ag_tensor *w = ag_full_on(AG_SHAPE(1, n), o->sigma > 0 ? 1 / (o->sigma * o->sigma) : 1.0, AG_F64, dev);
    ag_tensor *keep[] = {ag_reshape(tu, AG_SHAPE(1, n)), ag_reshape(tv, AG_SHAPE(1, n)), ag_contiguous(data), w};
    ag_no_grad_end();
    for (int i = 0; i < 4; i++) ag_keep(keep[i]);
    ag_scope_end();
    if (ag_failed()) {
        for (int i = 0; i < 4; i++) ag_release(keep[i]);
        goto done;
    }
    if (!(vis = ag_vis_new(keep[0], keep[1], keep[2], keep[3]))) goto done;
    vis->freq = ag_full_on(AG_SHAPE(1), o->freq_hz, AG_F64, dev);
    vis->time = ag_from_data_on(t, AG_SHAPE(n), AG_F64, dev);
    vis->ant1 = ag_from_data_on(a1, AG_SHAPE(n), AG_I64, dev);
    vis->ant2 = ag_from_data_on(a2, AG_SHAPE(n), AG_I64, dev);
    vis->sigma = o->sigma > 0 ? ag_full_on(AG_SHAPE(1, n), o->sigma, AG_F64, dev) : NULL;
    ag_tensor *own[] = {vis->freq, vis->time, vis->ant1, vis->ant2, vis->sigma};
    for (int i = 0; i < 5; i++) ag__unscope(own[i]);
    vis->ref_freq = o->freq_hz, vis->dec = o->dec_deg, vis->fourier_sign = -1;
    if ((vis->stations = calloc((size_t)cfg->nant, sizeof *vis->stations))) {
        vis->nstations = cfg->nant;
        for (int i = 0; i < cfg->nant; i++)
            if (!(vis->stations[i] = strdup(cfg->pad[i]))) ag_set_error(AG_ERR_NOMEM, "%s: out of memory", fn);
    } else ag_set_error(AG_ERR_NOMEM, "%s: out of memory", fn);
    if (ag_failed()) ag_vis_free(vis), vis = NULL;
done:
    free(B), free(u), free(v), free(t), free(noise), free(a1), free(a2);
    return vis;
}
