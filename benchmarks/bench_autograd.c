/* benchmarks/bench_autograd.c — per-op autograd overhead: a chain of 10^5 tiny ops
 * (0-d f64 tensors, x = x * c + d), forward with graph recording and backward, against the
 * same chain in PyTorch CPU (benchmarks/peers/torch_autograd.py) in the same invocation.
 *
 *     build/benchmarks/bench_autograd [threads] [results.json]
 *
 * With one-element tensors the arithmetic is nothing: what is timed is what every op pays
 * (argument checks, result allocation, graph node, scope registration; in backward the rule,
 * gradient reduction and accumulation). The table's per-op line divides by the op count.
 * PyTorch's numbers include its Python interpreter loop, which is how PyTorch is used. */
#include <astrograd.h>

#include "bench.h"

enum { N_OPS = 100000 };
enum { SCALAR_FWD_BWD, SCALAR_FWD, TENSOR_FWD_BWD, NOGRAD_FWD };

typedef struct ctx { int kind; ag_tensor *c, *d; double result; } ctx;

static void run(void *p) {
    ctx *k = p;
    ag_scope_begin();
    ag_tensor *x = ag_set_requires_grad(ag_scalar(1.0, AG_F64), true);
    if (k->kind == NOGRAD_FWD) ag_no_grad_begin();
    ag_tensor *y = x;
    for (int i = 0; i < N_OPS / 2; i++) {
        ag_tensor *t;
        if (k->kind == TENSOR_FWD_BWD) {
            t = ag_add(ag_mul(y, k->c), k->d);
        } else {
            t = ag_add_s(ag_mul_s(y, 1.0000001), 1e-9);
        }
        y = t;
    }
    if (k->kind == NOGRAD_FWD) ag_no_grad_end();
    if (k->kind == SCALAR_FWD_BWD || k->kind == TENSOR_FWD_BWD) {
        if (ag_backward(y)) { fprintf(stderr, "backward failed: %s\n", ag_last_error()); exit(1); }
        k->result = ag_item(ag_grad_of(x));
    } else {
        k->result = ag_item(y);
    }
    ag_scope_end();
    if (ag_failed()) { fprintf(stderr, "bench_autograd: %s\n", ag_last_error()); exit(1); }
}

int main(int argc, char **argv) {
    int threads = argc > 1 ? atoi(argv[1]) : 1;
    const char *json = argc > 2 ? argv[2] : "benchmarks/results/autograd.json";
    ag_set_num_threads(threads);
    threads = ag_get_num_threads();
    ctx c = {0, ag_scalar(1.0000001, AG_F64), ag_scalar(1e-9, AG_F64), 0};
    static const struct { const char *name; int kind; } cases[] = {
        {"chain1e5_scalar_fwd_bwd", SCALAR_FWD_BWD},
        {"chain1e5_scalar_fwd", SCALAR_FWD},
        {"chain1e5_tensor_fwd_bwd", TENSOR_FWD_BWD},
        {"chain1e5_nograd_fwd", NOGRAD_FWD},
    };
    enum { NC = sizeof cases / sizeof *cases };
    bench_row rows[NC];
    int64_t live0 = ag_live_tensors();
    for (int i = 0; i < NC; i++) {
        c.kind = cases[i].kind;
        snprintf(rows[i].name, sizeof rows[i].name, "%s", cases[i].name);
        bench_time_row(&rows[i], run, &c, 1, 7);
    }
    if (ag_live_tensors() != live0) { fprintf(stderr, "bench_autograd: tensors leaked\n"); return 1; }
    char args[32];
    snprintf(args, sizeof args, "%d", threads);
    bench_run_peer("benchmarks/peers/torch_autograd.py", args, "torch-cpu", rows, NC);
    char title[128];
    snprintf(title, sizeof title, "autograd overhead: chains of %d ops on 0-d f64 tensors, %d thread(s)", N_OPS, threads);
    int written = bench_report(title, rows, NC, json);
    printf("\nper op (microseconds):\n%-40s %12s %12s %10s\n", "case", "astrograd", "torch", "ratio");
    for (int i = 0; i < NC; i++) {
        if (rows[i].peer_status[0])
            printf("%-40s %12.3f %12s %10s  %s\n", rows[i].name, rows[i].ms * 1e3 / N_OPS, "-", "-", rows[i].peer_status);
        else
            printf("%-40s %12.3f %12.3f %10.2f\n", rows[i].name, rows[i].ms * 1e3 / N_OPS,
                   rows[i].peer_ms * 1e3 / N_OPS, rows[i].peer_ms / rows[i].ms);
    }
    ag_release(c.c);
    ag_release(c.d);
    return written;
}
