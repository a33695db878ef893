/* benchmarks/bench_conv.c — conv2d forward and forward+backward (gradients of input, weight and
 * bias) against PyTorch CPU (benchmarks/peers/torch_conv.py) in the same run, same thread count.
 *
 *     build/benchmarks/bench_conv [threads] [results.json]
 *
 * Case: batch 8, 32 -> 32 channels, 64x64, 3x3 kernel, padding 1, bias, f32 (PyTorch uses
 * oneDNN for this when built with it; astrograd uses im2col + OpenBLAS gemm). */
#include <astrograd.h>

#include "bench.h"

typedef struct ctx { ag_tensor *x, *w, *b, *gy; bool backward; } ctx;

static void run(void *p) {
    ctx *c = p;
    ag_scope_begin();
    ag_tensor *y = ag_conv2d(c->x, c->w, c->b, &(ag_conv_opts){.padding = {1, 1}});
    if (c->backward) {
        ag_tensor *g[3], *in[3] = {c->x, c->w, c->b};
        if (ag_grad(&y, 1, in, 3, &c->gy, false, g)) { fprintf(stderr, "%s\n", ag_last_error()); exit(1); }
        for (int i = 0; i < 3; i++) ag_release(g[i]);
    }
    if (!y) { fprintf(stderr, "%s\n", ag_last_error()); exit(1); }
    ag_scope_end();
}

int main(int argc, char **argv) {
    int threads = argc > 1 ? atoi(argv[1]) : 0;
    const char *json = argc > 2 ? argv[2] : "benchmarks/results/conv.json";
    ag_set_num_threads(threads);
    threads = ag_get_num_threads();
    ag_manual_seed(1);
    bench_row rows[4];
    int n = 0;
    ctx c = {ag_randn(AG_SHAPE(8, 32, 64, 64), AG_F32), ag_randn(AG_SHAPE(32, 32, 3, 3), AG_F32),
             ag_randn(AG_SHAPE(32), AG_F32), ag_randn(AG_SHAPE(8, 32, 64, 64), AG_F32), false};
    ag_set_requires_grad(c.x, true);
    ag_set_requires_grad(c.w, true);
    ag_set_requires_grad(c.b, true);
    snprintf(rows[n].name, 96, "conv2d_fwd_f32_b8_c32_64x64_k3");
    rows[n++].ms = bench_time(run, &c, 3, 15);
    c.backward = true;
    snprintf(rows[n].name, 96, "conv2d_fwdbwd_f32_b8_c32_64x64_k3");
    rows[n++].ms = bench_time(run, &c, 2, 11);

    char cmd[512];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 benchmarks/peers/torch_conv.py %d 2>/dev/null || "
             "python3 benchmarks/peers/torch_conv.py %d 2>/dev/null", threads, threads);
    int matched = bench_run_peer(cmd, "torch-cpu", rows, n);
    char title[128];
    snprintf(title, sizeof title, "conv2d, %d threads (peer rows matched: %d)", threads, matched);
    bench_report(title, rows, n, json);
    ag_release(c.x);
    ag_release(c.w);
    ag_release(c.b);
    ag_release(c.gy);
    return 0;
}
