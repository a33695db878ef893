/* tensor/random.c — the global generator (seed + offset) and rand/randn/randint. */
#include <stdlib.h>

#include "tensor/internal.h"

static uint64_t rng_seed = 0x5eed;
static atomic_ullong rng_offset;

void ag_manual_seed(uint64_t seed) {
    rng_seed = seed;
    atomic_store(&rng_offset, 0);
}
uint64_t ag_rng_offset(void) { return atomic_load(&rng_offset); }

static ag_tensor *draw(const char *op, ag_rng_dist dist, const int64_t *shape, int ndim, ag_dtype dt, double p0,
                       double p1, ag_device dev) {
    ag_tensor *t = ag__new(shape, ndim, dt, dev, op);
    if (!t) return NULL;
    uint64_t off = atomic_fetch_add(&rng_offset, (unsigned long long)ag_numel(t));
    ag_kview v = ag__view(t);
    if (!ag__kernels(t)->rng) {
        ag__drop(t);
        return ag_fail(AG_ERR_NOTIMPL, "%s: random numbers are not implemented for %s", op, ag__kernels(t)->name);
    }
    if (ag__kernels(t)->rng(dist, &v, rng_seed, off, p0, p1) < 0) { ag__drop(t); return NULL; }
    return ag__ret(t);
}

ag_tensor *ag_rand_on(const int64_t *shape, int ndim, ag_dtype dt, ag_device dev) {
    if (!ag_dtype_is_float(dt)) return ag_fail(AG_ERR_DTYPE, "ag_rand: expected a float or complex dtype, given %s", ag_dtype_name(dt));
    return draw("ag_rand", AG_RNG_UNIFORM, shape, ndim, dt, 0, 1, dev);
}
ag_tensor *ag_randn_on(const int64_t *shape, int ndim, ag_dtype dt, ag_device dev) {
    if (!ag_dtype_is_float(dt)) return ag_fail(AG_ERR_DTYPE, "ag_randn: expected a float or complex dtype, given %s", ag_dtype_name(dt));
    return draw("ag_randn", AG_RNG_NORMAL, shape, ndim, dt, 0, 1, dev);
}
ag_tensor *ag_randint_on(int64_t low, int64_t high, const int64_t *shape, int ndim, ag_device dev) {
    if (high <= low)
        return ag_fail(AG_ERR_INVALID, "ag_randint: expected low < high, given low=%lld high=%lld", (long long)low, (long long)high);
    /* the kernel receives the bounds as doubles: they must convert exactly */
    const int64_t lim = (int64_t)1 << 53;
    if (low < -lim || low > lim || high < -lim || high > lim)
        return ag_fail(AG_ERR_INVALID, "ag_randint: expected bounds within +-2^53, given low=%lld high=%lld",
                       (long long)low, (long long)high);
    return draw("ag_randint", AG_RNG_RANDINT, shape, ndim, AG_I64, (double)low, (double)high, dev);
}
ag_tensor *ag_rand(const int64_t *shape, int ndim, ag_dtype dt) { return ag_rand_on(shape, ndim, dt, AG_CPU); }
ag_tensor *ag_randn(const int64_t *shape, int ndim, ag_dtype dt) { return ag_randn_on(shape, ndim, dt, AG_CPU); }
ag_tensor *ag_randint(int64_t low, int64_t high, const int64_t *shape, int ndim) {
    return ag_randint_on(low, high, shape, ndim, AG_CPU);
}

/* Fisher-Yates on the host with one uniform f64 draw per element from the global generator
 * (drawn on the CPU, so a seed gives the same permutation on every device), then uploaded. */
ag_tensor *ag_randperm_on(int64_t n, ag_device dev) {
    const int64_t lim = (int64_t)1 << 53;
    if (n < 0 || n > lim)
        return ag_fail(AG_ERR_INVALID, "ag_randperm: expected 0 <= n <= 2^53, given %lld", (long long)n);
    int64_t *perm = malloc((size_t)(n ? n : 1) * sizeof *perm);
    if (!perm) return ag_fail(AG_ERR_NOMEM, "ag_randperm: out of memory");
    ag_scope_begin();
    ag_tensor *u = ag_rand_on(&n, 1, AG_F64, AG_CPU), *r = NULL;
    if (u) {
        const double *ud = ag_data(u);
        for (int64_t i = 0; i < n; i++) perm[i] = i;
        for (int64_t i = n - 1; i > 0; i--) {
            int64_t j = (int64_t)(ud[i] * (double)(i + 1));
            if (j > i) j = i;
            int64_t tmp = perm[i]; perm[i] = perm[j]; perm[j] = tmp;
        }
        r = ag_keep(ag_from_data_on(perm, &n, 1, AG_I64, dev));
    }
    ag_scope_end();
    free(perm);
    return r ? ag__ret(r) : NULL;
}
ag_tensor *ag_randperm(int64_t n) { return ag_randperm_on(n, AG_CPU); }
