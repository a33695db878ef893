/* benchmarks/bench_index.c — gather, index_select and scatter_add on 10^7 elements against PyTorch
 * CPU (same machine, same run), forward, and backward for gather (a scatter_add into zeros).
 *
 *     build/benchmarks/bench_index [threads] [results.json] [rows cols]     (default 1000 10000)
 *
 * Every call allocates its result, as torch does without out=. Indices are uniform random, so
 * the gathers and scatters are dominated by cache misses; scatter_add is deterministic here
 * (ordered per output, no atomics), as torch's CPU kernel. */
#include <astrograd.h>

#include "bench.h"

typedef struct ctx { ag_tensor *x, *idx, *src, *out, *w; int dim; int kind; } ctx;

enum { GATHER, INDEX_SELECT, SCATTER_ADD, GATHER_BACKWARD };

static void run(void *p) {
    ctx *c = p;
    ag_scope_begin();
    switch (c->kind) {
    case GATHER: ag_gather(c->x, c->dim, c->idx); break;
    case INDEX_SELECT: ag_index_select(c->x, c->dim, c->idx); break;
    case SCATTER_ADD: ag_scatter_add(c->x, c->dim, c->idx, c->src); break;
    case GATHER_BACKWARD: {
        ag_tensor *g;
        if (ag_grad(&c->out, 1, &c->x, 1, &c->w, true, &g) == 0) ag_release(g);
        break;
    }
    }
    ag_scope_end();
    if (ag_failed()) { fprintf(stderr, "bench_index: %s\n", ag_last_error()); exit(1); }
}

static void add_row(bench_row *rows, int *n, const char *name, ctx *c, int kind) {
    c->kind = kind;
    snprintf(rows[*n].name, sizeof rows[*n].name, "%s", name);
    bench_time_row(&rows[(*n)++], run, c, 2, 9);
}

int main(int argc, char **argv) {
    int threads = argc > 1 ? atoi(argv[1]) : 0;
    const char *json = argc > 2 ? argv[2] : "benchmarks/results/index.json";
    ag_set_num_threads(threads);
    threads = ag_get_num_threads();
    ag_manual_seed(1);
    bench_row rows[16];
    int n = 0;
    const int64_t R = argc > 4 ? atoll(argv[3]) : 1000, C = argc > 4 ? atoll(argv[4]) : 10000, N = R * C;
    if (R < 1 || C < 1) return fprintf(stderr, "bench_index: rows and cols must be positive\n"), 2;
    char n1[32], rc[48], cr[48]; /* the sizes in the case names: 10M, 1000x10000 by default */
    if (N == 10000000) snprintf(n1, sizeof n1, "10M");
    else snprintf(n1, sizeof n1, "%lld", (long long)N);
    snprintf(rc, sizeof rc, "%lldx%lld", (long long)R, (long long)C);
    snprintf(cr, sizeof cr, "%lldx%lld", (long long)C, (long long)R);
    char name[96];
#define NAME(fmt, sz) (snprintf(name, sizeof name, fmt, sz), name)
    {   /* 1-d: 10^7 reads/writes at random positions of a 10^7 tensor */
        ctx c = {ag_randn(&N, 1, AG_F32), ag_randint(0, N, &N, 1), NULL, NULL, NULL, 0, 0};
        add_row(rows, &n, NAME("gather_1d_f32_%s", n1), &c, GATHER);
        c.src = ag_randn(&N, 1, AG_F32);
        add_row(rows, &n, NAME("scatter_add_1d_f32_%s", n1), &c, SCATTER_ADD);
        ag_release(c.x); ag_release(c.idx); ag_release(c.src);
    }
    {   /* 2-d along the last dim: [1000, 10000], random columns per row */
        ctx c = {ag_randn(AG_SHAPE(R, C), AG_F32), ag_randint(0, C, AG_SHAPE(R, C)), NULL, NULL, NULL, 1, 0};
        add_row(rows, &n, NAME("gather_dim1_f32_%s", rc), &c, GATHER);
        c.src = ag_randn(AG_SHAPE(R, C), AG_F32);
        add_row(rows, &n, NAME("scatter_add_dim1_f32_%s", rc), &c, SCATTER_ADD);
        ag_release(c.src);
        ag_set_requires_grad(c.x, true);
        c.out = ag_gather(c.x, 1, c.idx);
        c.w = ag_randn(AG_SHAPE(R, C), AG_F32);
        add_row(rows, &n, NAME("gather_dim1_backward_f32_%s", rc), &c, GATHER_BACKWARD);
        ag_release(c.out); ag_release(c.w); ag_release(c.x); ag_release(c.idx);
    }
    {   /* 2-d along dim 0: rows picked at random */
        ctx c = {ag_randn(AG_SHAPE(C, R), AG_F32), ag_randint(0, C, AG_SHAPE(C, R)), NULL, NULL, NULL, 0, 0};
        add_row(rows, &n, NAME("gather_dim0_f32_%s", cr), &c, GATHER);
        c.src = ag_randn(AG_SHAPE(C, R), AG_F32);
        add_row(rows, &n, NAME("scatter_add_dim0_f32_%s", cr), &c, SCATTER_ADD);
        ag_release(c.src); ag_release(c.idx);
        c.idx = ag_randint(0, C, AG_SHAPE(C));
        add_row(rows, &n, NAME("index_select_rows_f32_%s", cr), &c, INDEX_SELECT);
        ag_release(c.idx); ag_release(c.x);
    }
    {
        ctx c = {ag_randn(AG_SHAPE(R, C), AG_F32), ag_randint(0, C, AG_SHAPE(C)), NULL, NULL, NULL, 1, 0};
        add_row(rows, &n, NAME("index_select_cols_f32_%s", rc), &c, INDEX_SELECT);
        ag_release(c.idx); ag_release(c.x);
    }
    char args[80];
    snprintf(args, sizeof args, "%d %lld %lld", threads, (long long)R, (long long)C);
    int matched = bench_run_peer("benchmarks/peers/torch_index.py", args, "torch-cpu", rows, n);
    char title[128];
    snprintf(title, sizeof title, "indexing, %d threads (peer rows matched: %d)", threads, matched);
    return bench_report(title, rows, n, json);
}
