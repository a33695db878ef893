/* benchmarks/bench_eht_m87.c — the M87 demo (examples/eht_m87: preparation and the 4-cycle
 * L-BFGS fit, its "seconds=" figure) against the same recipe in PyTorch
 * (benchmarks/peers/torch_eht_m87.py, a DFT matrix built once, torch.optim.LBFGS), on the low
 * band, the high band and both; the median of reps runs each, run here one after the other.
 *
 *     build/benchmarks/bench_eht_m87 [threads] [reps] [results.json] [lo|hi|lo_hi ...]     (from the repository root)
 *
 * The bands default to all three.
 *
 * The demo's program is found next to this one (../examples/eht_m87). */
#include <libgen.h>

#include "bench.h"

#define LO "data/eht/SR1_M87_2017_095_lo_hops_netcal_StokesI.uvfits"
#define HI "data/eht/SR1_M87_2017_095_hi_hops_netcal_StokesI.uvfits"

/* the demo's seconds= in ms, or NAN (the reason on stderr) */
static double run_demo(const char *exe, int threads, const char *files) {
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "OMP_NUM_THREADS=%d %s --out /tmp/ag_bench_eht_m87 %s", threads, exe, files);
    FILE *p = popen(cmd, "r");
    if (!p) return NAN;
    char line[512];
    double s = NAN;
    while (fgets(line, sizeof line, p)) {
        const char *q = strstr(line, "seconds=");
        if (q && strstr(line, "diameter_uas=")) s = atof(q + 8) * 1e3;
    }
    if (pclose(p) != 0) {
        fprintf(stderr, "bench_eht_m87: '%s' failed\n", cmd);
        return NAN;
    }
    return s;
}

int main(int argc, char **argv) {
    int threads = argc > 1 && atoi(argv[1]) > 0 ? atoi(argv[1]) : 2;
    int reps = argc > 2 && atoi(argv[2]) > 0 ? atoi(argv[2]) : 3;
    const char *json = argc > 3 ? argv[3] : "benchmarks/results/eht_m87.json";
    char self[1024], exe[1100];
    snprintf(self, sizeof self, "%s", argv[0]);
    snprintf(exe, sizeof exe, "%s/../examples/eht_m87", dirname(self));
    if (access(exe, X_OK) != 0) return fprintf(stderr, "bench_eht_m87: %s not found\n", exe), 1;
    if (access(LO, R_OK) != 0) return fprintf(stderr, "bench_eht_m87: run from the repository root (%s)\n", LO), 1;
    const char *names[3] = {"eht_m87_lo", "eht_m87_hi", "eht_m87_lo_hi"};
    const char *files[3] = {LO, HI, LO " " HI};
    bench_row rows[3];
    int pick[3] = {0, 1, 2}, ncases = argc > 4 ? argc - 4 : 3;
    if (ncases > 3) return fprintf(stderr, "bench_eht_m87: at most 3 bands\n"), 2;
    for (int i = 0; argc > 4 && i < ncases; i++) {
        pick[i] = !strcmp(argv[4 + i], "lo") ? 0 : !strcmp(argv[4 + i], "hi") ? 1 : !strcmp(argv[4 + i], "lo_hi") ? 2 : -1;
        if (pick[i] < 0) return fprintf(stderr, "bench_eht_m87: band '%s' is not lo, hi or lo_hi\n", argv[4 + i]), 2;
    }
    for (int i = 0; i < ncases; i++) {
        int c = pick[i];
        double t[16];
        int n = 0;
        for (int r = 0; r < reps && r < 16; r++) {
            t[n] = run_demo(exe, threads, files[c]);
            if (isnan(t[n])) return 1;
            n++;
        }
        snprintf(rows[i].name, sizeof rows[i].name, "%s", names[c]);
        bench_sample_row(&rows[i], t, n);
        char args[600];
        snprintf(args, sizeof args, "%s --threads %d --bench %s --reps %d", files[c], threads, names[c], reps);
        bench_run_peer("benchmarks/peers/torch_eht_m87.py", args, "torch-cpu", &rows[i], 1);
    }
    char title[160];
    snprintf(title, sizeof title, "EHT M87 recipe (prepare + 4 x L-BFGS 200), f64, %d threads, median of %d", threads, reps);
    return bench_report(title, rows, ncases, json);
}
