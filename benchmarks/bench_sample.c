/* benchmarks/bench_sample.c — effective samples per second of ag_sample on the 10-D Gaussian of
 * tests/test_sample.c (independent, means 0.5 j - 2, scales log-spaced over 1e-3 .. 1), NUTS and
 * static HMC (10 steps, step_jitter 0.5), f64 parameters, 1000 warm-up + n draws.
 *
 *     build/benchmarks/bench_sample [n_samples] [results.json] [device]
 *
 * ESS/s is the smallest ESS over the 10 dimensions (ag_ess) divided by the wall time of the
 * whole run, warm-up included, the number that decides how long a user waits. There is no
 * peer: no PyTorch-based sampler (Pyro, NumPyro) or Stan is installed on these machines. */
#include <astrograd.h>

#include "bench.h"

#define D 10

typedef struct target { ag_tensor *x, *mu, *w; } target;

static ag_tensor *logp(void *u) {
    target *t = u;
    return ag_mul_s(ag_sum(ag_mul(t->w, ag_square(ag_sub(t->x, t->mu))), NULL, 0, false), -0.5);
}

typedef struct row {
    const char *name;
    double wall_s, min_ess, ess_per_s, us_per_grad, accept, step;
    long long grad_evals;
} row;

static int run(ag_sampler alg, int n, ag_device dev, row *r) {
    double mu[D], w[D], x0[D];
    for (int j = 0; j < D; j++) {
        double s = pow(10.0, -3.0 + 3.0 * j / (D - 1));
        mu[j] = 0.5 * j - 2;
        w[j] = 1 / (s * s);
        x0[j] = mu[j] + 0.5 * s;
    }
    target t = {ag_set_requires_grad(ag_from_data_on(x0, AG_SHAPE(D), AG_F64, dev), true),
                ag_from_data_on(mu, AG_SHAPE(D), AG_F64, dev), ag_from_data_on(w, AG_SHAPE(D), AG_F64, dev)};
    ag_sample_result res;
    int rc = ag_sample((ag_params){&t.x, NULL, 1}, logp, &t,
                       (ag_sample_opts){.algorithm = alg, .n_samples = n, .n_warmup = 1000, .seed = 1,
                                        .step_jitter = alg == AG_SAMPLER_HMC ? 0.5 : 0},
                       &res);
    ag_tensor *ess = rc ? NULL : ag_ess(res.samples);
    if (ess) {
        const double *e = ag_data(ess);
        r->min_ess = INFINITY;
        for (int j = 0; j < D; j++) r->min_ess = fmin(r->min_ess, e[j]);
        r->wall_s = res.wall_s;
        r->grad_evals = (long long)res.n_grad_evals;
        r->ess_per_s = r->min_ess / res.wall_s;
        r->us_per_grad = 1e6 * res.wall_s / (double)res.n_grad_evals;
        r->accept = res.accept_rate;
        r->step = res.step_size;
    }
    ag_release(ess);
    ag_sample_result_free(&res);
    ag_release(t.x); ag_release(t.mu); ag_release(t.w);
    return ag_failed() ? -1 : 0;
}

int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 2000;
    const char *json = argc > 2 ? argv[2] : "benchmarks/results/sample.json";
    ag_device dev = AG_CPU;
    if (argc > 3 && ag_device_parse(argv[3], &dev)) {
        fprintf(stderr, "bench_sample: %s\n", ag_last_error());
        return 1;
    }
    row rows[2] = {{.name = "gauss10_nuts"}, {.name = "gauss10_hmc_L10"}};
    for (int i = 0; i < 2; i++)
        if (run(i ? AG_SAMPLER_HMC : AG_SAMPLER_NUTS, n, dev, &rows[i])) {
            fprintf(stderr, "bench_sample: %s: %s\n", rows[i].name, ag_last_error());
            return 1;
        }
    printf("\nag_sample, 10-D Gaussian (scales 1e-3..1), 1000 warm-up + %d draws on %s\n", n,
           ag_device_kind_name(dev.kind));
    printf("%-18s %8s %10s %8s %9s %10s %7s %7s\n", "case", "wall s", "grad evals", "min ESS", "ESS/s", "us/grad",
           "accept", "step");
    for (int i = 0; i < 2; i++)
        printf("%-18s %8.3f %10lld %8.0f %9.0f %10.1f %7.2f %7.3f\n", rows[i].name, rows[i].wall_s,
               rows[i].grad_evals, rows[i].min_ess, rows[i].ess_per_s, rows[i].us_per_grad, rows[i].accept,
               rows[i].step);
    printf("(no peer: no PyTorch sampler or Stan installed)\n");

    char tmp[1100];
    snprintf(tmp, sizeof tmp, "%s.tmp", json);
    FILE *f = NULL;
    if (bench_mkdir_parents(json) != 0 || !(f = fopen(tmp, "w"))) {
        fprintf(stderr, "cannot write %s: %s\n", json, strerror(errno));
        return 1;
    }
    fprintf(f, "[\n");
    for (int i = 0; i < 2; i++)
        fprintf(f,
                "  {\"name\": \"%s\", \"wall_s\": %.6f, \"grad_evals\": %lld, \"min_ess\": %.3f, \"ess_per_s\": %.3f, "
                "\"us_per_grad\": %.3f, \"peer_status\": \"missing: no sampler peer installed\"}%s\n",
                rows[i].name, rows[i].wall_s, rows[i].grad_evals, rows[i].min_ess, rows[i].ess_per_s,
                rows[i].us_per_grad, i ? "" : ",");
    fprintf(f, "]\n");
    if (fclose(f) != 0 || rename(tmp, json) != 0) {
        fprintf(stderr, "cannot write %s: %s\n", json, strerror(errno));
        remove(tmp);
        return 1;
    }
    return 0;
}
