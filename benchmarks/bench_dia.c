/* benchmarks/bench_dia.c — the difference-imaging example (examples/dia: the CG least-squares
 * kernel fit and the Cauchy L-BFGS fit, their "ms=" figures) against the same fits in PyTorch
 * (benchmarks/peers/torch_dia.py) on the images the example saved, with the CG iteration count
 * the example reported, the same L-BFGS settings, f64 and the same thread count.
 *
 *     build/benchmarks/bench_dia [threads] [reps] [size] [cg_iters] [lbfgs_iters] [results.json]
 *     (from the repository root)
 *
 * Defaults: 2 threads, 3 runs each (the median is reported), a 256² target, at most 100 CG
 * iterations and L-BFGS max_iter 100 (the example's 512² and 500/500 take PyTorch's f64 conv2d
 * tens of minutes on 2 cores; the time per iteration is what is compared). The example's program
 * is found next to this one (../examples/dia). */
#include <libgen.h>

#include "bench.h"

#define SAVE "/tmp/ag_bench_dia"

/* one run of the example: the two fits' ms and the CG iterations; -1 (reason on stderr) on failure */
static int run_example(const char *exe, int threads, int size, int max_cg, int lbfgs_iters, double ms[2], int *cg_iters) {
    char cmd[1400];
    snprintf(cmd, sizeof cmd, "OMP_NUM_THREADS=%d %s --size %d --cg-iters %d --lbfgs-iters %d --save %s --out %s", threads, exe,
             size, max_cg, lbfgs_iters, SAVE, SAVE);
    FILE *p = popen(cmd, "r");
    if (!p) return -1;
    char line[512];
    int found = 0;
    while (fgets(line, sizeof line, p)) {
        const char *q = strstr(line, " ms="), *it = strstr(line, " iters=");
        if (!q || !it) continue;
        if (!strncmp(line, "fit=cg ", 7)) ms[0] = atof(q + 4), *cg_iters = atoi(it + 7), found |= 1;
        else if (!strncmp(line, "fit=cauchy_lbfgs ", 17)) ms[1] = atof(q + 4), found |= 2;
    }
    if (pclose(p) != 0 || found != 3) {
        fprintf(stderr, "bench_dia: '%s' failed\n", cmd);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv) {
    int threads = argc > 1 && atoi(argv[1]) > 0 ? atoi(argv[1]) : 2;
    int reps = argc > 2 && atoi(argv[2]) > 0 ? atoi(argv[2]) : 3;
    int size = argc > 3 && atoi(argv[3]) > 0 ? atoi(argv[3]) : 256;
    int max_cg = argc > 4 && atoi(argv[4]) > 0 ? atoi(argv[4]) : 100;
    int lbfgs_iters = argc > 5 && atoi(argv[5]) > 0 ? atoi(argv[5]) : 100;
    const char *json = argc > 6 ? argv[6] : "benchmarks/results/dia.json";
    if (reps > 16) reps = 16;
    char self[1024], exe[1100];
    snprintf(self, sizeof self, "%s", argv[0]);
    snprintf(exe, sizeof exe, "%s/../examples/dia", dirname(self));
    if (access(exe, X_OK) != 0) return fprintf(stderr, "bench_dia: %s not found\n", exe), 1;
    double t[2][16];
    int cg_iters = 0;
    for (int r = 0; r < reps; r++) {
        double ms[2] = {NAN, NAN};
        if (run_example(exe, threads, size, max_cg, lbfgs_iters, ms, &cg_iters)) return 1;
        t[0][r] = ms[0], t[1][r] = ms[1];
    }
    bench_row rows[2];
    const char *names[2] = {"dia_cg", "dia_cauchy_lbfgs"};
    for (int c = 0; c < 2; c++) {
        qsort(t[c], (size_t)reps, sizeof t[c][0], bench_cmp);
        snprintf(rows[c].name, sizeof rows[c].name, "%s_%d", names[c], size);
        rows[c].ms = t[c][reps / 2];
    }
    char args[400];
    snprintf(args, sizeof args, "%s --size %d --threads %d --cg-iters %d --lbfgs-iters %d --reps %d", SAVE, size, threads, cg_iters,
             lbfgs_iters, reps);
    bench_run_peer("benchmarks/peers/torch_dia.py", args, "torch-cpu", rows, 2);
    char title[200];
    snprintf(title, sizeof title, "difference imaging %d², 19x19 kernel: CG (%d iterations), Cauchy L-BFGS (max_iter %d), f64, %d threads, median of %d",
             size, cg_iters, lbfgs_iters, threads, reps);
    return bench_report(title, rows, 2, json);
}
