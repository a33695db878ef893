/* benchmarks/bench_dft.c — the direct DFT (ag_dft; its backward is ag_dft_adjoint) on an
 * EHT-sized problem: a 64×64 f64 image, one channel, M = 2000 and 20000 visibilities at random
 * (u, v) within the grid; forward alone, and forward + backward of sum |V|² with respect to
 * the image. Peer: PyTorch's direct DFT written the way a user would, from the separable phase
 * tables e^{s 2πi u l}, e^{s 2πi v m} and an einsum (benchmarks/peers/torch_dft.py), both
 * phase tables remade every call as ag_dft does.
 *
 *     build/benchmarks/bench_dft [threads] [results.json] */
#include <astrograd.h>

#include "bench.h"

typedef struct ctx { ag_tensor *x, *u, *v; ag_grid_coords gc; bool backward; } ctx;

static void run(void *p) {
    ctx *c = p;
    ag_scope_begin();
    ag_tensor *vis = ag_dft(c->x, c->u, c->v, &c->gc, -1);
    if (!vis) { fprintf(stderr, "forward: %s\n", ag_last_error()); exit(1); }
    if (c->backward && ag_backward(ag_sum(ag_square(ag_abs(vis)), NULL, 0, false)) < 0) {
        fprintf(stderr, "backward: %s\n", ag_last_error());
        exit(1);
    }
    ag_scope_end();
}

int main(int argc, char **argv) {
    int threads = argc > 1 ? atoi(argv[1]) : 0;
    const char *json = argc > 2 ? argv[2] : "benchmarks/results/dft.json";
    ag_set_num_threads(threads);
    threads = ag_get_num_threads();
    ag_manual_seed(1);
    const int64_t npix = 64, nvis[] = {2000, 20000};
    bench_row rows[4];
    int n = 0;
    for (int g = 0; g < 2; g++) {
        ctx c;
        /* 20 µas cells: the EHT M87 scale, |u|, |v| up to 0.8 of the grid's 5.2 Gλ */
        if (ag_grid_coords_init(&c.gc, 2e-5, npix) < 0) return fprintf(stderr, "%s\n", ag_last_error()), 1;
        double umax = 0.8 * c.gc.max_uv_grid_value;
        c.x = ag_rand(AG_SHAPE(1, npix, npix), AG_F64);
        c.u = ag_mul_s(ag_sub_s(ag_rand(AG_SHAPE(nvis[g]), AG_F64), 0.5), 2 * umax);
        c.v = ag_mul_s(ag_sub_s(ag_rand(AG_SHAPE(nvis[g]), AG_F64), 0.5), 2 * umax);
        for (int bw = 0; bw < 2; bw++) {
            c.backward = bw;
            ag_set_requires_grad(c.x, bw);
            snprintf(rows[n].name, sizeof rows[n].name, "dft_%s_64x64_m%lld", bw ? "fwd_bwd" : "fwd", (long long)nvis[g]);
            bench_time_row(&rows[n++], run, &c, 3, g ? 11 : 31);
        }
        ag_release(c.x), ag_release(c.u), ag_release(c.v);
    }
    char args[32];
    snprintf(args, sizeof args, "%d", threads);
    int matched = bench_run_peer("benchmarks/peers/torch_dft.py", args, "torch-cpu", rows, n);
    char title[128];
    snprintf(title, sizeof title, "direct DFT, 64x64 f64 image, 1 channel, %d threads (torch rows matched: %d)", threads,
             matched);
    return bench_report(title, rows, n, json);
}
