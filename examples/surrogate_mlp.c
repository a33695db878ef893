/* examples/surrogate_mlp.c — a neural surrogate for a slow physics function (neurosynchro style).
 *
 * The "slow" function is a synchrotron-like emissivity: for a power-law electron population
 * N(gamma) ~ gamma^-p between gamma_min and 10^4, radiating at frequency nu with pitch angle theta,
 * it integrates gamma^-p F(nu / nu_c(gamma)) over log gamma numerically (nu_c = 1.5 gamma^2 sin theta)
 * with the kernels F(x) ~ x^(1/3) e^-x (total) and G(x) ~ x^(1/3) e^-x / (1 + x^(-2/3)) (polarised),
 * at four frequencies: 8 outputs (log10). Thousands of pow/exp calls per point.
 *
 * The program draws a training set, fits an MLP 4 -> 64 -> 64 -> 8 (SiLU) with Adam on
 * standardised outputs, saves it to HDF5, loads it into a fresh network, and reports the held-out
 * accuracy and the speed-up of the network over the slow function. Exit status 1 when the
 * held-out error is too large.
 *
 *     surrogate_mlp [steps=3000] [n_train=4096] [checkpoint=<temporary file>]
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <astrograd.h>

#define N_IN 4
#define N_OUT 8
#define N_GAMMA 1500

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

/* u in [0,1]^4 -> 8 log10 emissivities */
static void slow_function(const float *u, float *out) {
    double sin_theta = 0.2 + 0.8 * u[0];
    double p = 1.5 + 2.0 * u[1];
    double log_nu = 1.0 + 2.0 * u[2];
    double lg_min = 1.0 * u[3], lg_max = 4.0;
    double dl = (lg_max - lg_min) / (N_GAMMA - 1);
    for (int f = 0; f < 4; f++) {
        double nu = pow(10.0, log_nu + 0.3 * f);
        double tot = 0, pol = 0;
        for (int i = 0; i < N_GAMMA; i++) {
            double g = pow(10.0, lg_min + dl * i);
            double nuc = 1.5 * g * g * sin_theta;
            double x = nu / nuc;
            double x13 = cbrt(x);
            double k = x13 * exp(-x);
            double w = (i == 0 || i == N_GAMMA - 1 ? 0.5 : 1.0) * pow(g, 1.0 - p) * dl * M_LN10;
            tot += w * 2.15 * k;
            pol += w * 1.81 * k / (1.0 + 1.0 / (x13 * x13));
        }
        out[2 * f] = (float)log10(tot * sin_theta + 1e-300);
        out[2 * f + 1] = (float)log10(pol * sin_theta + 1e-300);
    }
}

/* the device to run on: AG_DEVICE ("cpu", "cuda", "test"), the CPU when unset */
static ag_device DEV;

static ag_module *make_net(void) {
    ag_module *m = AG_SEQUENTIAL(ag_nn_linear(N_IN, 64, true), ag_nn_silu(), ag_nn_linear(64, 64, true), ag_nn_silu(),
                                 ag_nn_linear(64, N_OUT, true));
    if (m && ag_module_to(m, DEV) < 0) { ag_module_free(m); return NULL; }
    return m;
}

/* n points: inputs mapped to [-1, 1] and slow-function outputs */
static void make_set(int n, float *x, float *y, double *seconds) {
    ag_tensor *u = ag_rand(AG_SHAPE(n, N_IN), AG_F32); /* host data for the slow function */
    const float *ud = ag_data(u);
    double t0 = now();
    for (int i = 0; i < n; i++) slow_function(ud + i * N_IN, y + i * N_OUT);
    if (seconds) *seconds = now() - t0;
    for (int i = 0; i < n * N_IN; i++) x[i] = 2 * ud[i] - 1;
    ag_release(u);
}

static int fail(const char *what) {
    fprintf(stderr, "surrogate_mlp: %s: %s\n", what, ag_last_error());
    return 1;
}

int main(int argc, char **argv) {
    DEV = ag_device_default();
    int steps = argc > 1 ? atoi(argv[1]) : 3000;
    int n_train = argc > 2 ? atoi(argv[2]) : 4096;
    const int n_test = 512, batch = 256;
    char tmpdir[] = "/tmp/surrogate_XXXXXX", ckpt[600];
    if (argc > 3) snprintf(ckpt, sizeof ckpt, "%s", argv[3]);
    else if (mkdtemp(tmpdir)) snprintf(ckpt, sizeof ckpt, "%s/surrogate.h5", tmpdir);
    else { perror("mkdtemp"); return 1; }
    if (steps <= 0 || n_train < batch) { fprintf(stderr, "usage: surrogate_mlp [steps>0] [n_train>=%d] [checkpoint]\n", batch); return 2; }

    ag_set_default_dtype(AG_F32);
    ag_manual_seed(2024);

    /* ---- data ---- */
    float *xtr = malloc(sizeof(float) * n_train * N_IN), *ytr = malloc(sizeof(float) * n_train * N_OUT);
    float *xte = malloc(sizeof(float) * n_test * N_IN), *yte = malloc(sizeof(float) * n_test * N_OUT);
    double t_slow_train, t_slow_test;
    make_set(n_train, xtr, ytr, &t_slow_train);
    make_set(n_test, xte, yte, &t_slow_test);
    printf("training set: %d points in %.2f s (%.1f us per point with the slow function)\n", n_train, t_slow_train,
           1e6 * t_slow_train / n_train);

    /* standardise each output with the training mean and std */
    float mu[N_OUT] = {0}, sd[N_OUT] = {0};
    for (int k = 0; k < N_OUT; k++) {
        double s = 0, s2 = 0;
        for (int i = 0; i < n_train; i++) { s += ytr[i * N_OUT + k]; s2 += ytr[i * N_OUT + k] * (double)ytr[i * N_OUT + k]; }
        mu[k] = (float)(s / n_train);
        sd[k] = (float)sqrt(s2 / n_train - (s / n_train) * (s / n_train));
    }
    for (int i = 0; i < n_train; i++) for (int k = 0; k < N_OUT; k++) ytr[i * N_OUT + k] = (ytr[i * N_OUT + k] - mu[k]) / sd[k];

    ag_tensor *X = ag_from_data_on(xtr, AG_SHAPE(n_train, N_IN), AG_F32, DEV);
    ag_tensor *Y = ag_from_data_on(ytr, AG_SHAPE(n_train, N_OUT), AG_F32, DEV);

    /* ---- train ---- */
    ag_module *net = make_net();
    if (!net) return fail("building the network");
    ag_optim *opt = ag_adam(ag_module_params(net), (ag_adam_opts){.lr = 3e-3});
    ag_sched *sched = ag_sched_cosine(opt, steps, 1e-5);
    if (!opt || !sched) return fail("building the optimizer");
    double t0 = now(), loss = 0;
    int per_epoch = n_train / batch;
    for (int s = 0; s < steps; s++) {
        ag_scope_begin();
        int b = s % per_epoch;
        ag_tensor *xb = ag_narrow(X, 0, (int64_t)b * batch, batch), *yb = ag_narrow(Y, 0, (int64_t)b * batch, batch);
        ag_optim_zero_grad(opt);
        ag_tensor *l = ag_mse_loss(ag_forward(net, xb), yb, AG_REDUCE_MEAN);
        if (!l || ag_backward(l) < 0 || ag_optim_step(opt) < 0 || ag_sched_step(sched) < 0) return fail("training step");
        loss = ag_item(l);
        ag_scope_end();
        if ((s + 1) % (steps / 5 > 0 ? steps / 5 : 1) == 0) printf("step %5d  loss %.3e\n", s + 1, loss);
    }
    printf("trained %d steps in %.2f s\n", steps, now() - t0);

    /* ---- save, and reload into a fresh network ---- */
    if (ag_module_save(net, ckpt, opt) < 0) return fail("saving");
    ag_manual_seed(1);
    ag_module *net2 = make_net();
    if (!net2 || ag_module_load(net2, ckpt, NULL) < 0) return fail("loading");
    printf("saved and reloaded %s (%lld parameters)\n", ckpt, (long long)ag_module_num_params(net2));

    /* ---- held-out accuracy and speed ---- */
    ag_module_eval(net2);
    ag_tensor *Xt = ag_from_data_on(xte, AG_SHAPE(n_test, N_IN), AG_F32, DEV);
    ag_no_grad_begin();
    int reps = 20;
    double t1 = now();
    ag_tensor *pred = NULL;
    for (int r = 0; r < reps; r++) {
        ag_release(pred);
        pred = ag_forward(net2, Xt);
    }
    double t_net = (now() - t1) / reps;
    ag_tensor *pred1 = ag_forward(net, Xt); /* the original network gives the same numbers */
    ag_no_grad_end();
    /* back to the host to read the numbers */
    ag_tensor *pc = ag_to(pred, AG_CPU), *pc1 = ag_to(pred1, AG_CPU);
    ag_release(pred);
    ag_release(pred1);
    pred = pc;
    pred1 = pc1;
    if (!pred || !pred1) return fail("prediction");
    const float *pd = ag_data(pred), *p1 = ag_data(pred1);
    double se = 0, worst = 0, same = 0;
    for (int i = 0; i < n_test; i++)
        for (int k = 0; k < N_OUT; k++) {
            double z = (yte[i * N_OUT + k] - mu[k]) / sd[k];
            double e = pd[i * N_OUT + k] - z;
            se += e * e;
            double dex = fabs(e) * sd[k];
            if (dex > worst) worst = dex;
            same = fmax(same, fabs(pd[i * N_OUT + k] - p1[i * N_OUT + k]));
        }
    double rmse = sqrt(se / (n_test * N_OUT));
    printf("held-out (%d points): rms error %.4f (standardised units), worst %.4f dex\n", n_test, rmse, worst);
    printf("speed: slow function %.1f us/point, network %.3f us/point (batch %d): %.0fx faster\n",
           1e6 * t_slow_test / n_test, 1e6 * t_net / n_test, n_test, t_slow_test / t_net);

    int rc = 0;
    double limit = steps >= 2000 ? 0.05 : 0.3;
    if (same != 0) { fprintf(stderr, "surrogate_mlp: the reloaded network differs from the saved one (%g)\n", same); rc = 1; }
    if (!(rmse < limit)) { fprintf(stderr, "surrogate_mlp: held-out error %.4f above %.2f\n", rmse, limit); rc = 1; }

    ag_release(pred);
    ag_release(pred1);
    ag_release(Xt);
    ag_release(X);
    ag_release(Y);
    ag_sched_free(sched);
    ag_optim_free(opt);
    ag_module_free(net);
    ag_module_free(net2);
    free(xtr); free(ytr); free(xte); free(yte);
    if (argc <= 3) { unlink(ckpt); rmdir(tmpdir); }
    return rc;
}
