/* tests/test_footprint.c — the CUDA backend and the Measurement Set reader's casacore half are
 * modules opened at their first use (backends/backend.c, imaging/ms.c): a program that uses
 * neither maps none of their libraries and stays small, and the first CUDA query loads the
 * module (in a build with CUDA) or explains why not. Suite 'footprint' (not run under valgrind
 * or the sanitizers, whose own memory would swamp the RSS bound). With AG_CUDA_BACKEND and
 * AG_MS_MODULE naming missing files, the reasons must name them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <astrograd.h>

#include "ag_config.h"

static int failures;
#define CHECK(cond, ...)                                   \
    do {                                                   \
        if (!(cond)) {                                     \
            fprintf(stderr, "test_footprint: " __VA_ARGS__); \
            fputc('\n', stderr);                           \
            failures++;                                    \
        }                                                  \
    } while (0)

/* mappings of the CUDA libraries or the module, and VmRSS [kB] */
static int cuda_maps(void) {
    FILE *f = fopen("/proc/self/maps", "r");
    char line[1024];
    int n = 0;
    while (f && fgets(line, sizeof line, f))
        n += strstr(line, "libcudart") || strstr(line, "libcublas") || strstr(line, "libcufft") ||
             strstr(line, "libastrograd_cuda");
    if (f) fclose(f);
    return n;
}
static int casacore_maps(void) {
    FILE *f = fopen("/proc/self/maps", "r");
    char line[1024];
    int n = 0;
    while (f && fgets(line, sizeof line, f)) n += strstr(line, "libcasa_") || strstr(line, "libastrograd_ms");
    if (f) fclose(f);
    return n;
}
static long rss_kb(void) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "VmRSS:", 6)) kb = atol(line + 6);
    if (f) fclose(f);
    return kb;
}

int main(void) {
    const char *env = getenv("AG_CUDA_BACKEND");
    bool missing_module = env && *env;
    (void)missing_module; /* read only in CUDA builds */
    /* a CPU program: tensors, an op, no CUDA */
    ag_tensor *x = ag_ones(AG_SHAPE(1000), AG_F64);
    ag_tensor *y = ag_sum(ag_mul_s(x, 2.0), AG_ALL_DIMS, false);
    CHECK(y && ag_item(y) == 2000.0, "a CPU op failed: %s", ag_last_error());
    long kb = rss_kb();
    printf("before any CUDA query: RSS %ld kB, %d CUDA mappings\n", kb, cuda_maps());
    CHECK(cuda_maps() == 0, "CUDA libraries are mapped before any CUDA query");
    CHECK(casacore_maps() == 0, "casacore is mapped before any ag_read_ms");
    CHECK(kb > 0 && kb < 20 * 1024, "RSS %ld kB, expected < 20 MB for a program that uses no CUDA", kb);

    bool avail = ag_cuda_available();
    int maps = cuda_maps();
    printf("ag_cuda_available: %d, %d CUDA mappings after the query\n", avail, maps);
#ifdef AG_HAVE_CUDA
    if (missing_module) CHECK(maps == 0, "a missing AG_CUDA_BACKEND module still mapped CUDA libraries");
    else CHECK(maps > 0, "the first CUDA query did not load libastrograd_cuda.so (built here)");
#else
    CHECK(maps == 0, "CUDA libraries mapped in a build without CUDA");
#endif
    if (!avail) { /* no GPU here (or no module): a clear error naming why */
        ag_tensor *z = ag_to(x, AG_CUDA(0));
        CHECK(!z && ag_error_code() == AG_ERR_DEVICE, "ag_to(cuda) without a GPU: expected AG_ERR_DEVICE");
        const char *msg = ag_last_error();
        printf("ag_to(cuda:0): %s\n", msg);
        CHECK(strstr(msg, "ag_to") && strstr(msg, "cuda:0"), "the message does not name ag_to and cuda:0: %s", msg);
#ifdef AG_HAVE_CUDA
        if (missing_module) CHECK(strstr(msg, env) != NULL, "the message does not name the missing module %s: %s", env, msg);
        else CHECK(strstr(msg, "no CUDA driver or GPU") != NULL, "the message does not say why: %s", msg);
#else
        CHECK(strstr(msg, "no CUDA backend") != NULL, "the message does not say the build lacks CUDA: %s", msg);
#endif
        ag_clear_error();
        ag_cuda_memory_stats st;
        int rc = ag_cuda_memory_stats_get(&st);
#ifdef AG_HAVE_CUDA
        bool loaded = !missing_module;
#else
        bool loaded = false;
#endif
        /* with the module (and no GPU): zero stats; without it: AG_ERR_DEVICE saying why */
        CHECK(loaded ? rc == 0 && st.n_alloc == 0 : rc == AG_ERR_DEVICE, "ag_cuda_memory_stats_get gave %d", rc);
        ag_clear_error();
    }
#ifdef AG_HAVE_CASACORE
    /* the first ag_read_ms opens the module (or says why it cannot) */
    const char *ms_env = getenv("AG_MS_MODULE");
    ag_vis *vis = ag_read_ms("/nonexistent.ms", NULL);
    CHECK(!vis, "ag_read_ms of a missing path succeeded");
    printf("ag_read_ms: %s; %d casacore mappings\n", ag_last_error(), casacore_maps());
    if (ms_env && *ms_env) CHECK(ag_error_code() == AG_ERR_NOTIMPL && strstr(ag_last_error(), ms_env),
                                 "a missing module: expected AG_ERR_NOTIMPL naming %s, given %s", ms_env, ag_last_error());
    else CHECK(ag_error_code() == AG_ERR_IO && casacore_maps() > 0,
               "expected the module loaded and AG_ERR_IO for a missing path, given %s", ag_last_error());
    ag_clear_error();
#endif
    ag_release(y);
    ag_release(x);
    return failures ? 1 : 0;
}
