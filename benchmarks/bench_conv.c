/* benchmarks/bench_conv.c — conv2d forward and forward+backward against PyTorch CPU
 * (benchmarks/peers/torch_conv.py) in the same run, same thread count.
 *
 *     build/benchmarks/bench_conv [threads] [results.json]
 *
 * Cases (f32 unless named f64; stride 1 unless named s2):
 *   b8_c32_64x64_k3   batch 8, 32 -> 32 channels, 64x64, 3x3, padding 1, bias (issue 4's case);
 *                     backward = gradients of input, weight and bias
 *   b1_c32_64x64_k3   the same with batch 1 (one image per step)
 *   b8_c32to64_64x64_k3_s2  batch 8, 32 -> 64 channels, stride 2 (a downsampling layer)
 *   b32_c64_8x8_k3    batch 32, 64 -> 64 channels on 8x8 (a deep layer of a small CNN)
 *   c1_512x512_k15    one 512x512 image, one 15x15 kernel, padding 7 (PyTorchDIA's kernel fit);
 *                     backward = gradient of the kernel only
 *   f64 b8_c32_64x64_k3  issue 4's case in f64 (MPoL and most fitting code run in f64)
 * astrograd runs these with its AVX-512 kernels where the CPU has them (backends/cpu/
 * conv_direct.c); AG_CPU_CONV=im2col times the im2col + OpenBLAS path instead. PyTorch uses
 * oneDNN when built with it. */
#include <astrograd.h>

#include "bench.h"

typedef struct ctx {
    ag_tensor *x, *w, *b, *gy;
    int pad, stride;
    bool backward, x_grad;
} ctx;

static void run(void *p) {
    ctx *c = p;
    ag_scope_begin();
    ag_tensor *y = ag_conv2d(c->x, c->w, c->b,
                             &(ag_conv_opts){.padding = {c->pad, c->pad}, .stride = {c->stride, c->stride}});
    if (!y) { fprintf(stderr, "%s\n", ag_last_error()); exit(1); }
    if (c->backward) {
        ag_tensor *g[3], *in[3] = {c->w, c->x, c->b};
        int n = c->x_grad ? 3 : 1;
        if (ag_grad(&y, 1, in, n, &c->gy, false, g)) { fprintf(stderr, "%s\n", ag_last_error()); exit(1); }
        for (int i = 0; i < n; i++) ag_release(g[i]);
    }
    ag_scope_end();
}

static void add_case(bench_row *rows, int *n, const char *name, ag_dtype dt, int64_t N, int64_t C, int64_t O,
                     int64_t S, int64_t K, int stride, bool bias, bool x_grad) {
    int64_t pad = K / 2, SO = (S + 2 * pad - K) / stride + 1;
    ctx c = {ag_randn(AG_SHAPE(N, C, S, S), dt), ag_randn(AG_SHAPE(O, C, K, K), dt),
             bias ? ag_randn(AG_SHAPE(O), dt) : NULL, ag_randn(AG_SHAPE(N, O, SO, SO), dt), (int)pad, stride,
             false, x_grad};
    ag_set_requires_grad(c.w, true);
    if (x_grad) {
        ag_set_requires_grad(c.x, true);
        if (c.b) ag_set_requires_grad(c.b, true);
    }
    snprintf(rows[*n].name, 96, "conv2d_fwd_%s_%s", ag_dtype_name(dt), name);
    bench_time_row(&rows[(*n)++], run, &c, 3, 15);
    c.backward = true;
    snprintf(rows[*n].name, 96, "conv2d_fwdbwd_%s_%s", ag_dtype_name(dt), name);
    bench_time_row(&rows[(*n)++], run, &c, 2, 11);
    ag_release(c.x);
    ag_release(c.w);
    ag_release(c.b);
    ag_release(c.gy);
}

int main(int argc, char **argv) {
    int threads = argc > 1 ? atoi(argv[1]) : 0;
    const char *json = argc > 2 ? argv[2] : "benchmarks/results/conv.json";
    ag_set_num_threads(threads);
    threads = ag_get_num_threads();
    ag_manual_seed(1);
    bench_row rows[14];
    int n = 0;
    add_case(rows, &n, "b8_c32_64x64_k3", AG_F32, 8, 32, 32, 64, 3, 1, true, true);
    add_case(rows, &n, "b1_c32_64x64_k3", AG_F32, 1, 32, 32, 64, 3, 1, true, true);
    add_case(rows, &n, "b8_c32to64_64x64_k3_s2", AG_F32, 8, 32, 64, 64, 3, 2, true, true);
    add_case(rows, &n, "b32_c64_8x8_k3", AG_F32, 32, 64, 64, 8, 3, 1, true, true);
    add_case(rows, &n, "c1_512x512_k15", AG_F32, 1, 1, 1, 512, 15, 1, false, false);
    add_case(rows, &n, "b8_c32_64x64_k3", AG_F64, 8, 32, 32, 64, 3, 1, true, true);

    char args[32];
    snprintf(args, sizeof args, "%d", threads);
    int matched = bench_run_peer("benchmarks/peers/torch_conv.py", args, "torch-cpu", rows, n);
    char title[128];
    const char *algo = getenv("AG_CPU_CONV");
    snprintf(title, sizeof title, "conv2d, %d threads, AG_CPU_CONV=%s (peer rows matched: %d)", threads,
             algo ? algo : "auto", matched);
    return bench_report(title, rows, n, json);
}
