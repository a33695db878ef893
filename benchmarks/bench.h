/* benchmarks/bench.h — shared timing, peer and report helpers for the benchmark programs.
 * Each program times its cases (median of repeats after warm-up), runs the peer script
 * (benchmarks/peers/<name>.py, PyTorch etc.) in the same invocation, prints a table and writes
 * JSON: [{"name":..., "astrograd_ms":..., "peer":"torch-cpu", "peer_ms":...}, ...]. */
#ifndef AG_BENCH_H
#define AG_BENCH_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static inline double bench_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

static int bench_cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* median wall time in ms of fn(ctx) over `reps` runs after `warm` warm-up runs */
static inline double bench_time(void (*fn)(void *), void *ctx, int warm, int reps) {
    double t[256];
    if (reps > 256) reps = 256;
    for (int i = 0; i < warm; i++) fn(ctx);
    for (int i = 0; i < reps; i++) {
        double t0 = bench_now_ms();
        fn(ctx);
        t[i] = bench_now_ms() - t0;
    }
    qsort(t, (size_t)reps, sizeof *t, bench_cmp);
    return t[reps / 2];
}

typedef struct bench_row { char name[96]; double ms; char peer[32]; double peer_ms; } bench_row;

/* Runs `cmd` (a peer script printing "name ms" lines) and fills peer_ms of matching rows.
 * Returns the number of rows matched; a missing peer leaves peer_ms = NAN. */
static inline int bench_run_peer(const char *cmd, const char *peer, bench_row *rows, int n) {
    for (int i = 0; i < n; i++) { rows[i].peer_ms = NAN; snprintf(rows[i].peer, sizeof rows[i].peer, "%s", peer); }
    FILE *p = popen(cmd, "r");
    if (!p) return 0;
    char line[256], name[128];
    double ms;
    int matched = 0;
    while (fgets(line, sizeof line, p)) {
        if (sscanf(line, "%127s %lf", name, &ms) != 2) continue;
        for (int i = 0; i < n; i++)
            if (!strcmp(rows[i].name, name)) { rows[i].peer_ms = ms; matched++; }
    }
    pclose(p);
    return matched;
}

/* prints the table and writes JSON to path (if not NULL) */
static inline void bench_report(const char *title, const bench_row *rows, int n, const char *path) {
    printf("\n%s\n%-40s %12s %12s %10s  %s\n", title, "case", "astrograd ms", "peer ms", "ratio", "peer");
    for (int i = 0; i < n; i++)
        printf("%-40s %12.4f %12.4f %10.2f  %s\n", rows[i].name, rows[i].ms, rows[i].peer_ms,
               rows[i].peer_ms / rows[i].ms, rows[i].peer);
    printf("(ratio = peer / astrograd: > 1 means astrograd is faster)\n");
    if (!path) return;
    FILE *f = fopen(path, "w");
    if (!f) { fprintf(stderr, "cannot write %s\n", path); return; }
    fprintf(f, "[\n");
    for (int i = 0; i < n; i++) {
        fprintf(f, "  {\"name\": \"%s\", \"astrograd_ms\": %.6f, \"peer\": \"%s\", \"peer_ms\": ", rows[i].name,
                rows[i].ms, rows[i].peer);
        if (isnan(rows[i].peer_ms)) fprintf(f, "null}"); else fprintf(f, "%.6f}", rows[i].peer_ms);
        fprintf(f, i + 1 < n ? ",\n" : "\n");
    }
    fprintf(f, "]\n");
    fclose(f);
}

#endif
