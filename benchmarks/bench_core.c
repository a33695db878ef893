/* benchmarks/bench_core.c — core ops against PyTorch CPU (same machine, same run) and GEMM
 * against OpenBLAS called directly (the physical anchor for matmul).
 *
 *     build/benchmarks/bench_core [threads] [results.json] [n side matmul_n]
 *
 * n: the 1-d length (default 2^22, "4M" in the names), side: the 2-d reductions' square
 * (2048), matmul_n: the GEMM's (1024).
 *
 * Elementwise ops write into a fresh result each call, as torch does without out=; both sides
 * therefore include allocation (astrograd reuses freed buffers through its caching allocator). */
#include <cblas.h>

#include <astrograd.h>

#include "bench.h"

typedef struct ctx { ag_tensor *a, *b, *c; int kind; } ctx;

enum { ADD, MUL_BCAST, EXP, SUM_ALL, SUM_ROWS, SUM_COLS, MATMUL, GEMM_DIRECT, SOFTPLUS, ABS_C };

static void run(void *p) {
    ctx *c = p;
    ag_scope_begin();
    switch (c->kind) {
    case ADD: ag_add(c->a, c->b); break;
    case MUL_BCAST: ag_mul(c->a, c->c); break;
    case EXP: ag_exp(c->a); break;
    case SUM_ALL: ag_sum(c->a, AG_ALL_DIMS, false); break;
    case SUM_ROWS: ag_sum(c->a, AG_DIMS(1), false); break;
    case SUM_COLS: ag_sum(c->a, AG_DIMS(0), false); break;
    case MATMUL: ag_matmul(c->a, c->b); break;
    case SOFTPLUS: ag_softplus(c->a, 1.0, 20.0); break;
    case ABS_C: ag_abs(c->a); break;
    case GEMM_DIRECT: {
        int64_t n = ag_shape(c->a)[0];
        if (ag_dtype_of(c->a) == AG_F32)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)n, (int)n, 1.0f, ag_data(c->a), (int)n,
                        ag_data(c->b), (int)n, 0.0f, ag_data(c->c), (int)n);
        else
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)n, (int)n, 1.0, ag_data(c->a), (int)n,
                        ag_data(c->b), (int)n, 0.0, ag_data(c->c), (int)n);
        break;
    }
    }
    ag_scope_end();
}

int main(int argc, char **argv) {
    int threads = argc > 1 ? atoi(argv[1]) : 0;
    const char *json = argc > 2 ? argv[2] : "benchmarks/results/core.json";
    ag_set_num_threads(threads);
    threads = ag_get_num_threads();
    ag_manual_seed(1);
    bench_row rows[32];
    int n = 0;
    const int64_t N = argc > 5 ? atoll(argv[3]) : 1 << 22, S = argc > 5 ? atoll(argv[4]) : 2048,
                  MM = argc > 5 ? atoll(argv[5]) : 1024;
    if (N < 1 || S < 1 || MM < 1) return fprintf(stderr, "bench_core: n, side and matmul_n must be positive\n"), 2;
    char n1[32];
    if (N == 1 << 22) snprintf(n1, sizeof n1, "4M");
    else snprintf(n1, sizeof n1, "%lld", (long long)N);
    for (int d = 0; d < 2; d++) {
        ag_dtype dt = d ? AG_F64 : AG_F32;
        const char *dn = ag_dtype_name(dt);
        ctx c = {ag_randn(&N, 1, dt), ag_randn(&N, 1, dt), NULL, 0};
        c.kind = ADD;
        snprintf(rows[n].name, 96, "add_%s_%s", dn, n1);
        bench_time_row(&rows[n++], run, &c, 3, 21);
        c.kind = EXP;
        snprintf(rows[n].name, 96, "exp_%s_%s", dn, n1);
        bench_time_row(&rows[n++], run, &c, 3, 21);
        c.kind = SOFTPLUS;
        snprintf(rows[n].name, 96, "softplus_%s_%s", dn, n1);
        bench_time_row(&rows[n++], run, &c, 3, 21);
        c.kind = SUM_ALL;
        snprintf(rows[n].name, 96, "sum_all_%s_%s", dn, n1);
        bench_time_row(&rows[n++], run, &c, 3, 21);
        ag_release(c.a);
        ag_release(c.b);
        c.a = ag_randn(AG_SHAPE(S, S), dt);
        c.c = ag_randn(AG_SHAPE(S), dt);
        c.kind = MUL_BCAST;
        snprintf(rows[n].name, 96, "mul_bcast_row_%s_%lldx%lld", dn, (long long)S, (long long)S);
        bench_time_row(&rows[n++], run, &c, 3, 21);
        c.kind = SUM_ROWS;
        snprintf(rows[n].name, 96, "sum_dim1_%s_%lldx%lld", dn, (long long)S, (long long)S);
        bench_time_row(&rows[n++], run, &c, 3, 21);
        c.kind = SUM_COLS;
        snprintf(rows[n].name, 96, "sum_dim0_%s_%lldx%lld", dn, (long long)S, (long long)S);
        bench_time_row(&rows[n++], run, &c, 3, 21);
        ag_release(c.a);
        ag_release(c.c);
        c.a = ag_randn(AG_SHAPE(MM, MM), dt);
        c.b = ag_randn(AG_SHAPE(MM, MM), dt);
        c.c = ag_empty(AG_SHAPE(MM, MM), dt);
        c.kind = MATMUL;
        snprintf(rows[n].name, 96, "matmul_%s_%lld", dn, (long long)MM);
        bench_time_row(&rows[n++], run, &c, 2, 11);
        c.kind = GEMM_DIRECT;
        snprintf(rows[n].name, 96, "openblas_gemm_%s_%lld", dn, (long long)MM);
        bench_time_row(&rows[n++], run, &c, 2, 11);
        ag_release(c.a);
        ag_release(c.b);
        ag_release(c.c);
    }
    {
        ctx c = {ag_randn(&N, 1, AG_C128), NULL, NULL, ABS_C};
        snprintf(rows[n].name, 96, "abs_c128_%s", n1);
        bench_time_row(&rows[n++], run, &c, 3, 21);
        ag_release(c.a);
    }
    char args[100];
    snprintf(args, sizeof args, "%d %lld %lld %lld", threads, (long long)N, (long long)S, (long long)MM);
    int matched = bench_run_peer("benchmarks/peers/torch_core.py", args, "torch-cpu", rows, n);
    for (int i = 0; i < n; i++)
        if (!strncmp(rows[i].name, "openblas_gemm", 13)) /* anchor: compare matmul with direct BLAS */
            bench_set_ref(&rows[i], "astrograd-matmul", rows[i - 1].ms);
    char title[128];
    snprintf(title, sizeof title, "core ops, %d threads (peer rows matched: %d)", threads, matched);
    return bench_report(title, rows, n, json);
}
