/* benchmarks/bench_fft.c — fft2 of n x n complex arrays (n = 1024, 4096; c64 and c128):
 * astrograd (ag_fft2: plan-cache lookup, FFTW new-array execute, fresh output each call)
 * against PyTorch CPU (torch.fft.fft2, same thread count, same run) and against FFTW called
 * directly, the physical anchor: one plan made up front with the same flags astrograd uses
 * (FFTW_MEASURE, or AG_FFTW_PLANNER's choice, | FFTW_PRESERVE_INPUT, out of place, same threads), executed in the loop into
 * a fixed output.
 *
 *     build/benchmarks/bench_fft [threads] [results.json] [max_n]   (max_n < 1024: that size alone)
 *
 * Rows "fftw_direct_*" hold the direct-FFTW time with astrograd's time as their "peer", so
 * their ratio column reads astrograd / direct (1.0 = no overhead over FFTW). */
#include <fftw3.h>

#include <astrograd.h>

#include "ag_config.h"
#include "bench.h"

typedef struct ctx { ag_tensor *x; void *plan; void *in, *out; bool f64; } ctx;

static void run_ag(void *p) {
    ctx *c = p;
    ag_scope_begin();
    ag_fft2(c->x, AG_NORM_BACKWARD);
    ag_scope_end();
}

static void run_direct(void *p) {
    ctx *c = p;
    if (c->f64) fftw_execute_dft(c->plan, c->in, c->out);
    else fftwf_execute_dft(c->plan, c->in, c->out);
}

int main(int argc, char **argv) {
    int threads = argc > 1 ? atoi(argv[1]) : 0;
    const char *json = argc > 2 ? argv[2] : "benchmarks/results/fft.json";
    int max_n = argc > 3 ? atoi(argv[3]) : 4096;
    ag_set_num_threads(threads);
    threads = ag_get_num_threads();
    ag_manual_seed(1);
    bench_row rows[16];
    int n = 0;
    int sizes[] = {1024, 4096}, nsizes = 2;
    if (max_n > 0 && max_n < 1024) sizes[0] = max_n, nsizes = 1; /* astrograd-bench --tiny */
    for (int si = 0; si < nsizes; si++) {
        int64_t sz = sizes[si];
        if (sz > max_n) continue;
        int warm = sz <= 1024 ? 2 : 1, reps = sz <= 1024 ? 11 : 5;
        for (int d = 0; d < 2; d++) {
            ag_dtype dt = d ? AG_C128 : AG_C64;
            const char *dn = ag_dtype_name(dt);
            ctx c = {ag_randn(AG_SHAPE(sz, sz), dt), NULL, NULL, NULL, d == 1};
            double t0 = bench_now_ms();
            run_ag(&c); /* first call plans (FFTW_MEASURE) */
            fprintf(stderr, "fft2 %s %lld: first call (planning) %.1f ms\n", dn, (long long)sz, bench_now_ms() - t0);
            snprintf(rows[n].name, sizeof rows[n].name, "fft2_%s_%lld", dn, (long long)sz);
            double ag_ms = bench_time_row(&rows[n++], run_ag, &c, warm, reps);

            /* direct FFTW: plan once on its own arrays, then fill them */
            size_t bytes = (size_t)(sz * sz) * ag_dtype_size(dt);
            c.in = d ? (void *)fftw_malloc(bytes) : (void *)fftwf_malloc(bytes);
            c.out = d ? (void *)fftw_malloc(bytes) : (void *)fftwf_malloc(bytes);
            const char *pl = getenv("AG_FFTW_PLANNER"); /* the same rigour as astrograd's planner */
            int flags = FFTW_PRESERVE_INPUT | (!pl ? FFTW_MEASURE : !strcmp(pl, "estimate") ? FFTW_ESTIMATE
                                               : !strcmp(pl, "patient") ? FFTW_PATIENT
                                               : !strcmp(pl, "exhaustive") ? FFTW_EXHAUSTIVE : FFTW_MEASURE);
            if (d) {
#ifdef AG_HAVE_FFTW_OMP
                fftw_plan_with_nthreads(threads);
#endif
                c.plan = fftw_plan_dft_2d((int)sz, (int)sz, c.in, c.out, FFTW_FORWARD, flags);
            } else {
#ifdef AG_HAVE_FFTW_OMP
                fftwf_plan_with_nthreads(threads);
#endif
                c.plan = fftwf_plan_dft_2d((int)sz, (int)sz, c.in, c.out, FFTW_FORWARD, flags);
            }
            ag_copy_to_buffer(c.x, c.in, dt);
            snprintf(rows[n].name, sizeof rows[n].name, "fftw_direct_fft2_%s_%lld", dn, (long long)sz);
            bench_time_row(&rows[n], run_direct, &c, warm, reps);
            rows[n].peer_ms = ag_ms; /* restored after the peer run below */
            n++;
            if (d) { fftw_destroy_plan(c.plan); fftw_free(c.in); fftw_free(c.out); }
            else { fftwf_destroy_plan(c.plan); fftwf_free(c.in); fftwf_free(c.out); }
            ag_release(c.x);
            ag_fft_plan_cache_clear(AG_CPU);
        }
    }
    char args[64];
    snprintf(args, sizeof args, "%d %d", threads, max_n);
    double direct[16];
    for (int i = 0; i < n; i++) direct[i] = rows[i].peer_ms;
    int matched = bench_run_peer("benchmarks/peers/torch_fft.py", args, "torch-cpu", rows, n);
    for (int i = 0; i < n; i++)
        if (!strncmp(rows[i].name, "fftw_direct", 11)) bench_set_ref(&rows[i], "astrograd-fft2", direct[i]);
    char title[128];
    snprintf(title, sizeof title, "fft2, %d threads (torch rows matched: %d)", threads, matched);
    return bench_report(title, rows, n, json);
}
