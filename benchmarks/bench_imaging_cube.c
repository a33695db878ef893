/* benchmarks/bench_imaging_cube.c — two choices of imaging/cube.c, each against the plain
 * alternative timed in the same invocation (the "peer" column; ratio > 1: ours is faster):
 *  - FourierCube on a real f64 cube: r2c with the half plane filled out by Hermitian symmetry
 *    in one fused pass (ag_hermitian_fill) against promoting the cube to c128 and taking the
 *    full fft2, forward alone and forward + backward of sum |vis|²;
 *  - ag_packed_to_sky (one roll2d gather pass) against flip(fftshift(P)), two copies.
 *
 *     build/benchmarks/bench_imaging_cube [threads] [results.json] */
#include <astrograd.h>

#include "bench.h"

typedef struct ctx { ag_module *fc; ag_tensor *x; double cell; bool promote, backward; } ctx;

static void run_layout(void *p) {
    ctx *c = p;
    ag_scope_begin();
    if (!(c->promote ? ag_flip(ag_fftshift(c->x, AG_DIMS(1, 2)), AG_DIMS(2)) : ag_packed_to_sky(c->x))) {
        fprintf(stderr, "layout: %s\n", ag_last_error());
        exit(1);
    }
    ag_scope_end();
}

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
    const char *json = argc > 2 ? argv[2] : "benchmarks/results/imaging_cube.json";
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
            bench_time_row(&rows[n], run, &c, warm, reps);
            bench_set_ref(&rows[n++], "promote+fft2", ref);
        }
        ag_release(c.x);
        ag_module_free(c.fc);
    }
    ctx c = {.x = ag_rand(AG_SHAPE(8, 1024, 1024), AG_F64)};
    c.promote = true;
    double ref = bench_time(run_layout, &c, 3, 15);
    c.promote = false;
    snprintf(rows[n].name, sizeof rows[n].name, "packed_to_sky_8x1024");
    bench_time_row(&rows[n], run_layout, &c, 3, 15);
    bench_set_ref(&rows[n++], "fftshift+flip", ref);
    ag_release(c.x);
    char title[160];
    snprintf(title, sizeof title, "imaging cubes (f64): FourierCube r2c + fill vs promote + fft2; packed_to_sky vs "
             "fftshift + flip; %d threads", threads);
    return bench_report(title, rows, n, json);
}
