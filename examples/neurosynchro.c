/* examples/neurosynchro.c — neurosynchro's full loop: a slow code writes a training table, a
 * surrogate is trained on it with per-column transforms and saved as one file, and another
 * program (examples/surrogate_query.c) loads that file to answer queries.
 *
 * The slow code is a synchrotron-like calculation (as examples/surrogate_mlp.c): a power-law
 * electron population gamma^-p between gamma_min and 10^4 at pitch angle theta, integrated over
 * log gamma with 1500 points per frequency, giving at frequency nu
 *     j_I      total emissivity                 (> 0, ~20 decades)        -> log10
 *     alpha_I  absorption coefficient           (> 0, ~25 decades)        -> log10
 *     pol_frac linear polarisation fraction     (in (0, 1))              -> logit
 *     j_V      circular emissivity, sign of cos theta (both signs, decades) -> sign-log
 * from nu (10 to 10^4: log10), theta (0.2 to pi - 0.2), p (1.5 to 3.5) and gamma_min (1 to 10:
 * log10). The transforms are chosen from the table's columns the way a user would read them:
 * a column in (0, 1) gets logit, a positive one spanning more than two decades log10, a signed
 * one spanning more than two decades in |x| sign-log, the rest identity; inputs are then
 * normalised to [0, 1] (min/max), outputs standardised (mean/std).
 *
 *     neurosynchro [--n-train N] [--steps S] [--h5] [--out DIR] [--check] [--small]
 *
 * --h5 writes and reads the table as HDF5 instead of text. The surrogate goes to
 * DIR/surrogate.h5 (a temporary directory, removed at the end, without --out). --check exits 3
 * unless the held-out errors are under the bounds it prints; --small is the test's size.
 * DIR/heldout.txt holds the held-out inputs, true outputs and predictions (columns <name>_pred),
 * to plot. Then: surrogate_query DIR/surrogate.h5 nu theta p gamma_min. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <astrograd.h>

#define N_IN 4
#define N_OUT 4
#define N_GAMMA 1500

static const char *IN_NAMES[N_IN] = {"nu", "theta", "p", "gamma_min"};
static const char *OUT_NAMES[N_OUT] = {"j_I", "alpha_I", "pol_frac", "j_V"};

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

/* the slow code: in = {nu, theta, p, gamma_min} -> out = {j_I, alpha_I, pol_frac, j_V} */
static void slow_code(const double *in, double *out) {
    double nu = in[0], sin_t = sin(in[1]), p = in[2];
    double lg_min = log10(in[3]), lg_max = 4.0, dl = (lg_max - lg_min) / (N_GAMMA - 1);
    double tot = 0, pol = 0, abs_ = 0;
    for (int i = 0; i < N_GAMMA; i++) {
        double g = pow(10.0, lg_min + dl * i);
        double x = nu / (1.5 * g * g * sin_t), x13 = cbrt(x), k = x13 * exp(-x);
        double w = (i == 0 || i == N_GAMMA - 1 ? 0.5 : 1.0) * pow(g, 1.0 - p) * dl * M_LN10;
        tot += w * 2.15 * k;
        pol += w * 1.81 * k / (1.0 + 1.0 / (x13 * x13));
        abs_ += w * (p + 2) / g * k;
    }
    out[0] = 1e-20 * tot * sin_t;
    out[1] = 1e-20 * abs_ * sin_t / (nu * nu);
    out[2] = pol / tot;
    out[3] = out[0] * cos(in[1]) * 2 / sqrt(nu);
}

/* n points drawn uniformly in the parameters (log-uniformly in nu and gamma_min): rows of
 * N_IN inputs and N_OUT outputs; returns the slow code's seconds */
static double draw(int n, double *in, double *out) {
    ag_tensor *u = ag_rand(AG_SHAPE(n, N_IN), AG_F64);
    if (!u) return -1;
    const double *ud = ag_data(u);
    for (int i = 0; i < n; i++) {
        const double *r = ud + i * N_IN;
        double *x = in + i * N_IN;
        x[0] = pow(10.0, 1 + 3 * r[0]);
        x[1] = 0.2 + (M_PI - 0.4) * r[1];
        x[2] = 1.5 + 2 * r[2];
        x[3] = pow(10.0, r[3]);
    }
    ag_release(u);
    double t0 = now();
    for (int i = 0; i < n; i++) slow_code(in + i * N_IN, out + i * N_OUT);
    return now() - t0;
}

/* the map a column's values call for (see the top) */
static ag_col_map choose_map(const double *x, int64_t n) {
    double lo = INFINITY, hi = -INFINITY, amin = INFINITY, amax = 0;
    for (int64_t i = 0; i < n; i++) {
        lo = fmin(lo, x[i]), hi = fmax(hi, x[i]);
        if (x[i] != 0) amin = fmin(amin, fabs(x[i])), amax = fmax(amax, fabs(x[i]));
    }
    if (lo > 0 && hi / lo > 100) return AG_MAP_LOG10; /* decades first: 1e-20 is in (0, 1) too */
    if (lo > 0 && hi < 1) return AG_MAP_LOGIT;
    if (lo < 0 && hi > 0 && amax / amin > 100) return AG_MAP_SIGNLOG;
    return AG_MAP_IDENTITY;
}

static const char *map_str(ag_col_map m) {
    return m == AG_MAP_LOG10 ? "log10" : m == AG_MAP_LOGIT ? "logit" : m == AG_MAP_SIGNLOG ? "sign-log" : "identity";
}

static int fail(const char *what) {
    fprintf(stderr, "neurosynchro: %s: %s\n", what, ag_last_error());
    return 1;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    int n_train = 8192, steps = 12000, n_test = 1024;
    bool h5 = false, check = false;
    const char *out_dir = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--n-train") && i + 1 < argc) n_train = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--steps") && i + 1 < argc) steps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--out") && i + 1 < argc) out_dir = argv[++i];
        else if (!strcmp(argv[i], "--h5")) h5 = true;
        else if (!strcmp(argv[i], "--check")) check = true;
        else if (!strcmp(argv[i], "--small")) n_train = 2048, steps = 3000, n_test = 512;
        else {
            fprintf(stderr, "usage: neurosynchro [--n-train N>=64] [--steps S>0] [--h5] [--out DIR] [--check] [--small]\n");
            return 2;
        }
    }
    if (n_train < 64 || steps < 1) { fprintf(stderr, "neurosynchro: need --n-train >= 64 and --steps >= 1\n"); return 2; }
    char tmpdir[] = "/tmp/neurosynchro_XXXXXX", dir[512], table_path[600], sur_path[600];
    if (out_dir) {
        snprintf(dir, sizeof dir, "%s", out_dir);
        mkdir(dir, 0777); /* may exist */
    } else if (mkdtemp(tmpdir)) {
        snprintf(dir, sizeof dir, "%s", tmpdir);
    } else {
        perror("mkdtemp");
        return 1;
    }
    snprintf(table_path, sizeof table_path, "%s/train.%s", dir, h5 ? "h5" : "txt");
    snprintf(sur_path, sizeof sur_path, "%s/surrogate.h5", dir);
    ag_device dev = ag_device_default();
    ag_manual_seed(2026);

    /* ---- the slow code writes its training table ---- */
    double *xin = malloc(sizeof(double) * n_train * N_IN), *yout = malloc(sizeof(double) * n_train * N_OUT);
    double *xte = malloc(sizeof(double) * n_test * N_IN), *yte = malloc(sizeof(double) * n_test * N_OUT);
    double *ypred = malloc(sizeof(double) * n_test * N_OUT), *ypred0 = malloc(sizeof(double) * n_test * N_OUT);
    if (!xin || !yout || !xte || !yte || !ypred || !ypred0) { fprintf(stderr, "neurosynchro: out of memory\n"); return 1; }
    double t_train = draw(n_train, xin, yout), t_test = draw(n_test, xte, yte);
    if (t_train < 0 || t_test < 0) return fail("drawing the points");
    const char *names[N_IN + N_OUT];
    for (int j = 0; j < N_IN; j++) names[j] = IN_NAMES[j];
    for (int j = 0; j < N_OUT; j++) names[N_IN + j] = OUT_NAMES[j];
    ag_table *w = ag_table_new(N_IN + N_OUT, names, n_train);
    if (!w) return fail("making the table");
    for (int i = 0; i < n_train; i++) {
        for (int j = 0; j < N_IN; j++) w->col[j][i] = xin[i * N_IN + j];
        for (int j = 0; j < N_OUT; j++) w->col[N_IN + j][i] = yout[i * N_OUT + j];
    }
    if ((h5 ? ag_table_write_h5(w, table_path) : ag_table_write_text(w, table_path)) < 0) return fail("writing the table");
    ag_table_free(w);
    printf("slow code: %d training points in %.2f s (%.1f us per point), written to %s\n", n_train, t_train,
           1e6 * t_train / n_train, table_path);

    /* ---- read it back, choose the transforms, train, save ---- */
    ag_table *t = h5 ? ag_table_read_h5(table_path) : ag_table_read_text(table_path);
    if (!t) return fail("reading the table");
    ag_col_transform in_tr[N_IN], out_tr[N_OUT];
    printf("transforms:");
    for (int k = 0; k < N_IN + N_OUT; k++) {
        int c = ag_table_col(t, names[k]);
        if (c < 0) return fail("finding a column");
        ag_col_map m = choose_map(t->col[c], t->nrows);
        if (k < N_IN) in_tr[k] = (ag_col_transform){.map = m, .norm = AG_NORM_MINMAX};
        else out_tr[k - N_IN] = (ag_col_transform){.map = m, .norm = AG_NORM_STANDARD};
        printf(" %s: %s%s", names[k], map_str(m), k + 1 < N_IN + N_OUT ? "," : "\n");
    }
    double t0 = now();
    ag_surrogate *s = ag_surrogate_train(t, N_IN, IN_NAMES, in_tr, N_OUT, OUT_NAMES, out_tr,
                                         (ag_surrogate_opts){.steps = steps, .device = dev});
    if (!s) return fail("training");
    printf("trained a %d -> 64 -> 64 -> %d MLP for %d steps in %.1f s\n", N_IN, N_OUT, steps, now() - t0);
    ag_table_free(t);
    if (ag_surrogate_query(s, xte, n_test, ypred0) < 0) return fail("querying the trained surrogate");
    if (ag_surrogate_save(s, sur_path) < 0) return fail("saving");
    ag_surrogate_free(s);

    /* ---- what another program does: load and answer queries ---- */
    ag_surrogate *q = ag_surrogate_load(sur_path, dev);
    if (!q) return fail("loading");
    int reps = 10;
    t0 = now();
    for (int r = 0; r < reps; r++)
        if (ag_surrogate_query(q, xte, n_test, ypred) < 0) return fail("querying");
    double t_net = (now() - t0) / reps;
    ag_surrogate_free(q);
    struct stat sb;
    long fsize = stat(sur_path, &sb) == 0 ? (long)sb.st_size : -1;
    printf("saved and reloaded %s (%ld bytes): the reloaded surrogate answers %s\n", sur_path, fsize,
           memcmp(ypred, ypred0, sizeof(double) * n_test * N_OUT) ? "DIFFERENTLY" : "bit for bit the same");

    /* ---- held-out accuracy in the raw units ---- */
    /* relative errors |pred / true - 1| (absolute for the fraction), median and 95th percentile */
    /* the bounds of the full run, and looser ones for anything smaller (--small included) */
    bool full = n_train >= 8192 && steps >= 12000;
    const double *bound_med = full ? (const double[]){0.03, 0.05, 0.002, 0.1} : (const double[]){0.12, 0.15, 0.005, 0.3};
    const double *bound_95 = full ? (const double[]){0.12, 0.15, 0.01, 0.4} : (const double[]){0.35, 0.45, 0.025, 1.5};
    int rc = memcmp(ypred, ypred0, sizeof(double) * n_test * N_OUT) ? 3 : 0;
    double *e = malloc(sizeof(double) * n_test);
    printf("held-out (%d points)           median     95%%      bounds\n", n_test);
    for (int k = 0; k < N_OUT && e; k++) {
        for (int i = 0; i < n_test; i++) {
            double p = ypred[i * N_OUT + k], y = yte[i * N_OUT + k];
            /* j_V crosses zero with cos theta: its error is relative to its |cos theta| = 1 value */
            double ref = k == 3 ? yte[i * N_OUT] * 2 / sqrt(xte[i * N_IN]) : y;
            e[i] = k == 2 ? fabs(p - y) : fabs((p - y) / ref);
        }
        qsort(e, n_test, sizeof *e, cmp_double);
        double med = e[n_test / 2], p95 = e[(int)(0.95 * n_test)];
        printf("  %-8s %-19s %9.2e %9.2e  %.3g %.3g\n", OUT_NAMES[k], k == 2 ? "absolute error" : k == 3 ? "error / |j_V(cos=1)|" : "relative error", med, p95,
               bound_med[k], bound_95[k]);
        if (!(med < bound_med[k] && p95 < bound_95[k])) rc = 3;
    }
    free(e);
    /* the held-out points, truth and prediction side by side, to plot */
    char held_path[600];
    snprintf(held_path, sizeof held_path, "%s/heldout.txt", dir);
    const char *hnames[N_IN + 2 * N_OUT];
    char pnames[N_OUT][32];
    for (int j = 0; j < N_IN + N_OUT; j++) hnames[j] = names[j];
    for (int j = 0; j < N_OUT; j++) snprintf(pnames[j], sizeof pnames[j], "%s_pred", OUT_NAMES[j]), hnames[N_IN + N_OUT + j] = pnames[j];
    ag_table *ht = ag_table_new(N_IN + 2 * N_OUT, hnames, n_test);
    if (!ht) return fail("making the held-out table");
    for (int i = 0; i < n_test; i++) {
        for (int j = 0; j < N_IN; j++) ht->col[j][i] = xte[i * N_IN + j];
        for (int j = 0; j < N_OUT; j++) ht->col[N_IN + j][i] = yte[i * N_OUT + j], ht->col[N_IN + N_OUT + j][i] = ypred[i * N_OUT + j];
    }
    if (ag_table_write_text(ht, held_path) < 0) return fail("writing the held-out table");
    ag_table_free(ht);
    printf("speed: slow code %.1f us/point, surrogate %.2f us/point (batches of %d): %.0fx faster\n", 1e6 * t_test / n_test,
           1e6 * t_net / n_test, n_test, t_test / t_net);
    printf("query it: surrogate_query %s <nu> <theta> <p> <gamma_min>\n", sur_path);
    if (out_dir) printf("held-out truth and predictions: %s\n", held_path);
    else unlink(table_path), unlink(sur_path), unlink(held_path), rmdir(dir);
    free(xin), free(yout), free(xte), free(yte), free(ypred), free(ypred0);
    if (check && rc) fprintf(stderr, "neurosynchro: held-out errors above the bounds (or the reload differs)\n");
    return check ? rc : 0;
}
