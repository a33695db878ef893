/* benchmarks/bench_imaging_losses.c — the fused regularizers and visibility loss
 * (tensor/imaging_ops.c) against the same formulas composed from primitive astrograd ops and
 * against PyTorch's composed version (MPoL 0.2's losses.py, benchmarks/peers/torch_imaging_losses.py),
 * forward + backward with respect to the image or the model, same invocation and thread count:
 * TV (ε 1e-10), TSV, entropy (prior 0.01, ζ 10) and sparsity of a 1024² f64 image (1 channel),
 * MPoL's nll (χ²/(2N)) of 10⁶ c128 visibilities. Rows "<case>" time the fused op,
 * "<case>_composed" the primitive-op formula; both are compared with the same torch time.
 *
 *     build/benchmarks/bench_imaging_losses [threads] [results.json] */
#include <astrograd.h>

#include "bench.h"

typedef enum { TV, TSV, ENTROPY, SPARSITY, NLL } which;
typedef struct ctx { which w; bool fused; ag_tensor *x, *d, *wt; } ctx;

static ag_tensor *sl(ag_tensor *t, int dim, int64_t b, int64_t e) { return ag_slice(t, dim, b, e, 1); }
static ag_tensor *all(ag_tensor *t) { return ag_sum(t, NULL, 0, false); }

static ag_tensor *composed(const ctx *c) {
    ag_tensor *s = c->x;
    if (c->w == NLL) return ag_div_s(all(ag_mul(c->wt, ag_square(ag_abs(ag_sub(c->d, s))))), 2.0 * (double)ag_numel(s));
    if (c->w == ENTROPY) return ag_mul_s(all(ag_mul(s, ag_log(ag_div_s(s, 0.01)))), 0.1);
    if (c->w == SPARSITY) return all(ag_abs(s));
    int64_t H = ag_shape(s)[1], W = ag_shape(s)[2];
    ag_tensor *base = sl(sl(s, 1, 0, H - 1), 2, 0, W - 1);
    ag_tensor *dl = ag_sub(sl(sl(s, 1, 0, H - 1), 2, 1, W), base), *dm = ag_sub(sl(sl(s, 1, 1, H), 2, 0, W - 1), base);
    ag_tensor *sq = ag_add(ag_square(dl), ag_square(dm));
    return c->w == TSV ? all(sq) : all(ag_sqrt(ag_add_s(sq, 1e-10)));
}
static ag_tensor *fused(const ctx *c) {
    switch (c->w) {
    case TV: return ag_tv_image(c->x, 1e-10);
    case TSV: return ag_tsv(c->x);
    case ENTROPY: return ag_entropy_s(c->x, 0.01, 10.0);
    case SPARSITY: return ag_sparsity(c->x, NULL);
    case NLL: return ag_r_chi_squared(c->x, c->d, c->wt);
    }
    return NULL;
}

static void run(void *p) {
    ctx *c = p;
    ag_scope_begin();
    ag_tensor *loss = c->fused ? fused(c) : composed(c);
    if (!loss || ag_backward(loss) < 0) {
        fprintf(stderr, "bench_imaging_losses: %s\n", ag_last_error());
        exit(1);
    }
    ag_zero_grad(c->x);
    ag_scope_end();
}

int main(int argc, char **argv) {
    int threads = argc > 1 ? atoi(argv[1]) : 0;
    const char *json = argc > 2 ? argv[2] : "benchmarks/results/imaging_losses.json";
    ag_set_num_threads(threads);
    threads = ag_get_num_threads();
    ag_manual_seed(1);
    const int64_t npix = 1024, nvis = 1000000;
    static const char *names[] = {"tv_image_1024_f64", "tsv_1024_f64", "entropy_1024_f64", "sparsity_1024_f64",
                                  "nll_1e6_c128"};
    bench_row rows[10];
    int n = 0;
    for (int w = TV; w <= NLL; w++) {
        ctx c = {.w = (which)w};
        if (w == NLL) {
            c.x = ag_randn(AG_SHAPE(nvis), AG_C128);
            c.d = ag_randn(AG_SHAPE(nvis), AG_C128);
            c.wt = ag_add_s(ag_rand(AG_SHAPE(nvis), AG_F64), 0.5);
        } else {
            c.x = ag_add_s(ag_rand(AG_SHAPE(1, npix, npix), AG_F64), 0.01); /* > 0 for the entropy */
        }
        ag_tensor *leaf = ag_detach(c.x);
        ag_release(c.x);
        c.x = leaf;
        ag_set_requires_grad(c.x, true);
        for (int f = 1; f >= 0; f--) {
            c.fused = f;
            snprintf(rows[n].name, sizeof rows[n].name, "%s%s", names[w], f ? "" : "_composed");
            bench_time_row(&rows[n++], run, &c, 2, 11);
        }
        ag_release(c.x), ag_release(c.d), ag_release(c.wt);
    }
    char args[32];
    snprintf(args, sizeof args, "%d", threads);
    int matched = bench_run_peer("benchmarks/peers/torch_imaging_losses.py", args, "torch-cpu", rows, n);
    char title[200];
    snprintf(title, sizeof title, "fused losses/regularizers vs composed, forward + backward, f64, %d threads "
             "(torch rows matched: %d)", threads, matched);
    return bench_report(title, rows, n, json);
}
