/* benchmarks/bench_train.c — one full training step (forward + loss + backward + Adam step +
 * zero_grad) against PyTorch CPU (benchmarks/peers/torch_train.py) in the same run, same thread
 * count, same architectures and shapes (issue 5: training faster than PyTorch CPU).
 *
 *     build/benchmarks/bench_train [threads] [results.json] [steps]
 *
 * Cases (median over `steps` steps, default 50, after 5 warm-up steps — cnn_step_f64: steps/5,
 * at least 5, after 2 warm-up steps, as PyTorch's f64 convolution is slow; each step runs inside
 * ag_scope_begin/ag_scope_end, so its temporaries and graph are freed before the next):
 *   mlp_step_<dt>: the neurosynchro-style MLP 4 -> 64 -> 64 -> 8 (Linear, ReLU, Linear, ReLU,
 *                  Linear), batch 256, MSE loss against fixed random targets.
 *   cnn_step_<dt>: batch 32 of 1x64x64 images, Conv2d 1->16->32->32 (3x3, padding 1, bias, ReLU
 *                  after each), mean over H and W, Linear 32->8, MSE loss vs random targets.
 * Adam with PyTorch's defaults (lr 1e-3); zero_grad drops the grads (set_to_none, as
 * ag_optim_zero_grad) on both sides. The work per step does not depend on the initial values
 * (dense kernels only), so the two sides need not share weights. */
#include <astrograd.h>

#include "bench.h"

typedef struct model {
    ag_module *net;
    ag_optim *opt;
    ag_tensor *x, *target;
} model;

static void die(const char *what) {
    fprintf(stderr, "bench_train: %s: %s\n", what, ag_last_error());
    exit(1);
}

static void step(void *p) {
    model *m = p;
    ag_scope_begin();
    ag_tensor *loss = ag_mse_loss(ag_forward(m->net, m->x), m->target, AG_REDUCE_MEAN);
    if (!loss) die("forward");
    if (ag_backward(loss)) die("backward");
    if (ag_optim_step(m->opt)) die("adam step");
    ag_optim_zero_grad(m->opt);
    ag_scope_end();
}

static model make_mlp(ag_dtype dt) {
    ag_set_default_dtype(dt);
    model m = {0};
    m.net = AG_SEQUENTIAL(ag_nn_linear(4, 64, true), ag_nn_relu(), ag_nn_linear(64, 64, true), ag_nn_relu(),
                           ag_nn_linear(64, 8, true));
    if (!m.net) die("mlp");
    m.opt = ag_adam(ag_module_params(m.net), (ag_adam_opts){0});
    m.x = ag_randn(AG_SHAPE(256, 4), dt);
    m.target = ag_randn(AG_SHAPE(256, 8), dt);
    if (!m.opt || !m.x || !m.target) die("mlp setup");
    return m;
}

/* mean over H and W: [N, C, H, W] -> [N, C] (torch: x.mean((2, 3))) */
static ag_tensor *global_mean_forward(ag_module *m, ag_tensor *x) {
    (void)m;
    return ag_mean(x, AG_DIMS(2, 3), false);
}
static const ag_module_class global_mean_class = {.name = "GlobalMean", .forward = global_mean_forward};

static model make_cnn(ag_dtype dt) {
    ag_set_default_dtype(dt);
    const ag_conv_opts pad1 = {.padding = {1, 1}};
    model m = {0};
    m.net = AG_SEQUENTIAL(ag_nn_conv2d(1, 16, 3, 3, true, &pad1), ag_nn_relu(), ag_nn_conv2d(16, 32, 3, 3, true, &pad1),
                           ag_nn_relu(), ag_nn_conv2d(32, 32, 3, 3, true, &pad1), ag_nn_relu(),
                           ag_module_new(&global_mean_class), ag_nn_linear(32, 8, true));
    if (!m.net) die("cnn");
    m.opt = ag_adam(ag_module_params(m.net), (ag_adam_opts){0});
    m.x = ag_randn(AG_SHAPE(32, 1, 64, 64), dt);
    m.target = ag_randn(AG_SHAPE(32, 8), dt);
    if (!m.opt || !m.x || !m.target) die("cnn setup");
    return m;
}

static void free_model(model *m) {
    ag_optim_free(m->opt);
    ag_module_free(m->net);
    ag_release(m->x);
    ag_release(m->target);
}

int main(int argc, char **argv) {
    int threads = argc > 1 ? atoi(argv[1]) : 0;
    const char *json = argc > 2 ? argv[2] : "benchmarks/results/train.json";
    int steps = argc > 3 ? atoi(argv[3]) : 50;
    if (steps < 1) steps = 1;
    const int warm = 5, steps_f64 = steps / 5 > 5 ? steps / 5 : steps < 5 ? steps : 5;
    ag_set_num_threads(threads);
    threads = ag_get_num_threads();
    ag_manual_seed(1);
    bench_row rows[4];
    int n = 0;
    for (int d = 0; d < 2; d++) {
        ag_dtype dt = d ? AG_F64 : AG_F32;
        model m = make_mlp(dt);
        snprintf(rows[n].name, 96, "mlp_step_%s", ag_dtype_name(dt));
        bench_time_row(&rows[n++], step, &m, warm, steps);
        free_model(&m);
        m = make_cnn(dt);
        snprintf(rows[n].name, 96, "cnn_step_%s", ag_dtype_name(dt));
        /* f64 convolutions are slow in PyTorch (no oneDNN path): fewer steps keep the run short */
        if (d) bench_time_row(&rows[n++], step, &m, 2, steps_f64);
        else bench_time_row(&rows[n++], step, &m, warm, steps);
        free_model(&m);
    }
    char args[64];
    snprintf(args, sizeof args, "%d %d", threads, steps);
    int matched = bench_run_peer("benchmarks/peers/torch_train.py", args, "torch-cpu", rows, n);
    char title[160];
    snprintf(title, sizeof title, "training step (fwd + bwd + Adam + zero_grad), %d threads, median of %d steps "
             "(peer rows matched: %d)", threads, steps, matched);
    return bench_report(title, rows, n, json);
}
