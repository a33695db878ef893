/* benchmarks/bench_fourier_cube.c — FourierCube on a real f64 cube: its r2c transform with the
 * half plane filled out by Hermitian symmetry (imaging/cube.c) against promoting the cube to
 * c128 and taking the full fft2 (the path the issue asks to compare), forward alone and
 * forward + backward of sum |vis|², in the same invocation.
 *
 *     build/benchmarks/bench_fourier_cube [threads] [results.json]
 *
 * The "peer" column of each row is the promotion path timed here (ratio > 1: r2c is faster). */
#include <astrograd.h>

#include "bench.h"

typedef struct ctx { ag_module *fc; ag_tensor *x; double cell; bool promote, backward; } ctx;

static void run(void *p) {
    ctx *c = p;
    ag_scope_begin();
    ag_tensor *vis = c->promote ? ag_mul_s(ag_fft2(ag_to_dtype(c->x, AG_C128), AG_NORM_BACKWARD), c->cell * c->cell)
                                : ag_forward(c->fc, c->x);
    if (c->backward && ag_backward(ag_sum(ag_square(ag_abs(vis)), NULL, 0, false)) < 0) {
        fprintf(stderr, "backward: %s\n", ag_last_error());
        exit(1);
    }
    if (!vis) { fprintf(stderr, "forward: %s\n", ag_last_error()); exit(1); }
    ag_scope_end();
}

int main(int argc, char **argv) {
    int threads = argc > 1 ? atoi(argv[1]) : 0;
    const char *json = argc > 2 ? argv[2] : "benchmarks/results/fourier_cube.json";
    ag_set_num_threads(threads);
    threads = ag_get_num_threads();
    ag_manual_seed(1);
    bench_row rows[16];
    int n = 0;
    const int64_t geo[][2] = {{1, 256}, {8, 256}, {1, 1024}}; /* (nchan, npix) */
    for (int g = 0; g < 3; g++) {
        ag_grid_coords gc;
        if (ag_grid_coords_init(&gc, 0.005, geo[g][1]) < 0) return fprintf(stderr, "%s\n", ag_last_error()), 1;
        ctx c = {.fc = ag_fourier_cube(&gc, (ag_fourier_opts){0}),
                 .x = ag_rand(AG_SHAPE(geo[g][0], geo[g][1], geo[g][1]), AG_F64), .cell = gc.cell_size};
        for (int bw = 0; bw < 2; bw++) {
            c.backward = bw;
            ag_set_requires_grad(c.x, bw);
            int warm = 3, reps = geo[g][1] >= 1024 ? 15 : 41;
            c.promote = true;
            double ref = bench_time(run, &c, warm, reps);
            c.promote = false;
            snprintf(rows[n].name, sizeof rows[n].name, "fourier_cube_%s_%lldx%lld", bw ? "fwd_bwd" : "fwd",
                     (long long)geo[g][0], (long long)geo[g][1]);
            rows[n].ms = bench_time(run, &c, warm, reps);
            bench_set_ref(&rows[n++], "promote+fft2", ref);
        }
        ag_release(c.x);
        ag_module_free(c.fc);
    }
    char title[128];
    snprintf(title, sizeof title, "FourierCube, real f64 cube: r2c + Hermitian fill vs promote + fft2, %d threads", threads);
    return bench_report(title, rows, n, json);
}
