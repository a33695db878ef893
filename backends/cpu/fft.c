/* backends/cpu/fft.c — discrete Fourier transforms through FFTW3 (fftw_ for f64/c128,
 * fftwf_ for f32/c64).
 *
 * One kernel, ag_cpu_fft (contract in backends/kernels.h): c2c forward/inverse, r2c and c2r
 * over any set of dims, batched over the others with FFTW's guru64 interface, so strided views
 * are transformed where they lie (no copy). The exceptions copy the input to an aligned
 * contiguous buffer first: c2r (FFTW's c2r destroys its input), and inputs with a zero or
 * negative stride along a transformed dim.
 *
 * Plans are cached: the key is (kind, precision, transform and batch sizes with both views'
 * strides, alignment of both arrays as fftw_alignment_of reports it, in-place-ness, threads,
 * planner flags), which is exactly what FFTW's new-array execute functions require to be
 * unchanged. A miss plans once (FFTW_MEASURE by default) on scratch arrays of the same extent
 * and alignment, never on the caller's data; hits call fftw_execute_dft*(plan, in, out).
 * The cache holds CACHE_SIZE plans, evicting the least recently used one that no thread is
 * executing. FFTW's planner (and plan destruction) is not thread-safe: both run under one
 * mutex; execution runs outside it.
 *
 * Threads: with fftw3_omp (AG_HAVE_FFTW_OMP) plans use ag_cpu_fft_set_threads' count
 * (ag_set_num_threads), or OpenMP's default before any call. Planner rigour: the environment
 * variable AG_FFTW_PLANNER = estimate | measure (default) | patient | exhaustive.
 * Wisdom (the planner's measurements) can be exported and imported as text, so that
 * ag_fft_save_wisdom / ag_fft_load_wisdom spare a later run the planning.
 * At exit all plans are destroyed and FFTW's memory released (fftw_cleanup), so valgrind
 * reports nothing from here. */
#include <fftw3.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "ag_config.h"
#include "backends/cpu/cpu.h"

#define CACHE_SIZE 64

typedef struct plan_key {
    int kind, f64;           /* ag_fft_kind; 1 = double precision */
    int rank, howmany;       /* transformed dims, then batch dims, in d[] */
    int64_t d[AG_MAX_DIMS][3]; /* n, input stride, output stride (elements of each array) */
    int align_in, align_out, inplace, nthreads, flags;
} plan_key;

typedef struct plan_entry {
    plan_key key;
    void *plan;              /* fftw_plan or fftwf_plan */
    int users;               /* threads executing it now */
    uint64_t last_used;
    bool valid;
} plan_entry;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static plan_entry cache[CACHE_SIZE];
static uint64_t tick;
static int64_t n_created, n_hits;
static int planner_flags = FFTW_MEASURE;
static atomic_int fft_threads;

static void destroy_plan(int f64, void *p) {
    if (f64) fftw_destroy_plan((fftw_plan)p);
    else fftwf_destroy_plan((fftwf_plan)p);
}

static void cleanup(void) {
    pthread_mutex_lock(&mu);
    for (int i = 0; i < CACHE_SIZE; i++)
        if (cache[i].valid) { destroy_plan(cache[i].key.f64, cache[i].plan); cache[i].valid = false; }
#ifdef AG_HAVE_FFTW_OMP
    fftw_cleanup_threads();
    fftwf_cleanup_threads();
#endif
    fftw_cleanup();
    fftwf_cleanup();
    pthread_mutex_unlock(&mu);
}

static void init(void) {
#ifdef AG_HAVE_FFTW_OMP
    fftw_init_threads();
    fftwf_init_threads();
#endif
    const char *e = getenv("AG_FFTW_PLANNER");
    if (e) {
        if (!strcmp(e, "estimate")) planner_flags = FFTW_ESTIMATE;
        else if (!strcmp(e, "patient")) planner_flags = FFTW_PATIENT;
        else if (!strcmp(e, "exhaustive")) planner_flags = FFTW_EXHAUSTIVE;
    }
    atexit(cleanup);
}

void ag_cpu_fft_set_threads(int n) { atomic_store(&fft_threads, n > 0 ? n : 0); }

static int current_threads(void) {
#ifdef AG_HAVE_FFTW_OMP
    int n = atomic_load(&fft_threads);
#ifdef _OPENMP
    if (n <= 0) n = omp_get_max_threads();
#endif
    return n > 0 ? n : 1;
#else
    return 1;
#endif
}

/* Plan-cache statistics (public: tensor.h): plans made, cache hits, plans held now. */
AG_API void ag_fft_plan_cache_stats(int64_t *plans_created, int64_t *cache_hits, int *cached) {
    pthread_mutex_lock(&mu);
    int c = 0;
    for (int i = 0; i < CACHE_SIZE; i++) c += cache[i].valid;
    if (plans_created) *plans_created = n_created;
    if (cache_hits) *cache_hits = n_hits;
    if (cached) *cached = c;
    pthread_mutex_unlock(&mu);
}

/* Drop every cached plan no thread is executing (FFTW's accumulated wisdom stays). */
AG_API void ag_fft_plan_cache_clear(void) {
    pthread_mutex_lock(&mu);
    for (int i = 0; i < CACHE_SIZE; i++)
        if (cache[i].valid && cache[i].users == 0) {
            destroy_plan(cache[i].key.f64, cache[i].plan);
            cache[i].valid = false;
        }
    pthread_mutex_unlock(&mu);
}

/* ---- wisdom ---------------------------------------------------------------------- */

/* fftw's wisdom, then fftwf's: two s-expressions, "(fftw-<version> fftw_wisdom ...)" and
 * "(fftw-<version> fftwf_wisdom ...)", one after the other */
char *ag_cpu_fft_wisdom_export(void) {
    pthread_once(&once, init);
    pthread_mutex_lock(&mu);
    char *d = fftw_export_wisdom_to_string(), *f = fftwf_export_wisdom_to_string();
    pthread_mutex_unlock(&mu);
    char *all = d && f ? malloc(strlen(d) + strlen(f) + 2) : NULL;
    if (all) {
        strcpy(all, d);
        strcat(all, "\n");
        strcat(all, f);
    } else {
        ag_set_error(AG_ERR_NOMEM, "ag_fft_save_wisdom: out of memory exporting FFTW wisdom");
    }
    free(d);
    free(f);
    return all;
}

int ag_cpu_fft_wisdom_import(const char *text) {
    /* split at the second top-level "(fftw-": each part goes to the planner of its precision */
    const char *a = strstr(text, "(fftw-"), *b = a ? strstr(a + 1, "(fftw-") : NULL;
    if (!a) return ag_set_error(AG_ERR_FORMAT, "ag_fft_load_wisdom: no FFTW wisdom in the file");
    /* wisdom of threaded plans names FFTW's threads solvers: FFTW only knows them once its
     * threads are initialised, which init does */
    pthread_once(&once, init);
    int rc = 0;
    const char *parts[2] = {a, b};
    pthread_mutex_lock(&mu);
    for (int i = 0; i < 2 && parts[i] && !rc; i++) {
        size_t len = i == 0 && b ? (size_t)(b - a) : strlen(parts[i]);
        char *one = strndup(parts[i], len);
        if (!one) {
            rc = ag_set_error(AG_ERR_NOMEM, "ag_fft_load_wisdom: out of memory");
            break;
        }
        /* the header names the precision: "fftwf_wisdom" or "fftw_wisdom" */
        const char *nl = strchr(one, '\n');
        size_t hl = nl ? (size_t)(nl - one) : strlen(one);
        bool single = memmem(one, hl, "fftwf_wisdom", 12) != NULL;
        int ok = single ? fftwf_import_wisdom_from_string(one) : fftw_import_wisdom_from_string(one);
        if (!ok)
            rc = ag_set_error(AG_ERR_FORMAT, "ag_fft_load_wisdom: FFTW rejected the %s-precision wisdom (a file "
                                             "from another FFTW version, or damaged)", single ? "single" : "double");
        free(one);
    }
    pthread_mutex_unlock(&mu);
    return rc;
}

/* ---- planning ------------------------------------------------------------------ */
static size_t in_elem(const plan_key *k) {
    size_t r = k->f64 ? sizeof(double) : sizeof(float);
    return k->kind == AG_FFT_R2C ? r : 2 * r;
}
static size_t out_elem(const plan_key *k) {
    size_t r = k->f64 ? sizeof(double) : sizeof(float);
    return k->kind == AG_FFT_C2R ? r : 2 * r;
}

/* logical size n of transform dim i as stored in the array on side `side` (0 in, 1 out) */
static int64_t stored_n(const plan_key *k, int i, int side) {
    int64_t n = k->d[i][0];
    bool half = i == k->rank - 1 && ((k->kind == AG_FFT_R2C && side == 1) || (k->kind == AG_FFT_C2R && side == 0));
    return half ? n / 2 + 1 : n;
}

/* elements spanned by an array (strides are positive here) */
static int64_t extent(const plan_key *k, int side) {
    int64_t e = 1;
    for (int i = 0; i < k->rank + k->howmany; i++) {
        int64_t n = i < k->rank ? stored_n(k, i, side) : k->d[i][0];
        e += (n - 1) * k->d[i][1 + side];
    }
    return e;
}

/* FFTW plan for key k, made on scratch arrays of the same extent and alignment. Under mu. */
static void *make_plan(const plan_key *k) {
    size_t nin = (size_t)extent(k, 0) * in_elem(k), nout = (size_t)extent(k, 1) * out_elem(k);
    if (k->inplace && nout > nin) nin = nout;
    char *bin = fftw_malloc(nin + 64), *bout = k->inplace ? NULL : fftw_malloc(nout + 64);
    if (!bin || (!k->inplace && !bout)) {
        fftw_free(bin);
        fftw_free(bout);
        ag_set_error(AG_ERR_NOMEM, "cpu fft: cannot allocate %zu bytes of planning scratch", nin + nout);
        return NULL;
    }
    char *pin = bin + k->align_in, *pout = k->inplace ? pin : bout + k->align_out;
    int r = k->rank, h = k->howmany;
    int flags = k->flags;
    void *plan = NULL;
#define IODIMS(T, var, off, cnt)                                                         \
    T var[AG_MAX_DIMS];                                                                  \
    for (int i = 0; i < (cnt); i++)                                                      \
        var[i] = (T){(ptrdiff_t)k->d[(off) + i][0], (ptrdiff_t)k->d[(off) + i][1], (ptrdiff_t)k->d[(off) + i][2]};
    if (k->f64) {
#ifdef AG_HAVE_FFTW_OMP
        fftw_plan_with_nthreads(k->nthreads);
#endif
        IODIMS(fftw_iodim64, td, 0, r)
        IODIMS(fftw_iodim64, bd, r, h)
        if (k->kind == AG_FFT_R2C)
            plan = fftw_plan_guru64_dft_r2c(r, td, h, bd, (double *)pin, (fftw_complex *)pout, flags);
        else if (k->kind == AG_FFT_C2R)
            plan = fftw_plan_guru64_dft_c2r(r, td, h, bd, (fftw_complex *)pin, (double *)pout, flags);
        else
            plan = fftw_plan_guru64_dft(r, td, h, bd, (fftw_complex *)pin, (fftw_complex *)pout,
                                        k->kind == AG_FFT_C2C_FWD ? FFTW_FORWARD : FFTW_BACKWARD, flags);
    } else {
#ifdef AG_HAVE_FFTW_OMP
        fftwf_plan_with_nthreads(k->nthreads);
#endif
        IODIMS(fftwf_iodim64, td, 0, r)
        IODIMS(fftwf_iodim64, bd, r, h)
        if (k->kind == AG_FFT_R2C)
            plan = fftwf_plan_guru64_dft_r2c(r, td, h, bd, (float *)pin, (fftwf_complex *)pout, flags);
        else if (k->kind == AG_FFT_C2R)
            plan = fftwf_plan_guru64_dft_c2r(r, td, h, bd, (fftwf_complex *)pin, (float *)pout, flags);
        else
            plan = fftwf_plan_guru64_dft(r, td, h, bd, (fftwf_complex *)pin, (fftwf_complex *)pout,
                                         k->kind == AG_FFT_C2C_FWD ? FFTW_FORWARD : FFTW_BACKWARD, flags);
    }
#undef IODIMS
    fftw_free(bin);
    fftw_free(bout);
    if (!plan) ag_set_error(AG_ERR_BACKEND, "cpu fft: FFTW could not plan a rank-%d transform batched over %d dims", r, h);
    else n_created++;
    return plan;
}

/* Cached plan for k (users counted) in *slot, or an uncached one (*slot = -1) when every
 * slot is busy. NULL with the error set on failure. */
static void *get_plan(const plan_key *k, int *slot) {
    pthread_once(&once, init);
    pthread_mutex_lock(&mu);
    tick++;
    int victim = -1;
    for (int i = 0; i < CACHE_SIZE; i++) {
        plan_entry *e = &cache[i];
        if (e->valid && !memcmp(&e->key, k, sizeof *k)) {
            e->users++;
            e->last_used = tick;
            n_hits++;
            *slot = i;
            pthread_mutex_unlock(&mu);
            return e->plan;
        }
        if (!e->valid) { if (victim < 0 || cache[victim].valid) victim = i; }
        else if (e->users == 0 && (victim < 0 || (cache[victim].valid && e->last_used < cache[victim].last_used)))
            victim = i;
    }
    void *p = make_plan(k);
    *slot = -1;
    if (p && victim >= 0) {
        plan_entry *e = &cache[victim];
        if (e->valid) destroy_plan(e->key.f64, e->plan);
        e->key = *k;
        e->plan = p;
        e->users = 1;
        e->last_used = tick;
        e->valid = true;
        *slot = victim;
    }
    pthread_mutex_unlock(&mu);
    return p;
}

static void put_plan(const plan_key *k, void *p, int slot) {
    pthread_mutex_lock(&mu);
    if (slot >= 0) cache[slot].users--;
    else destroy_plan(k->f64, p);
    pthread_mutex_unlock(&mu);
}

/* ---- the kernel ------------------------------------------------------------------ */
static bool is_real_float(ag_dtype dt) { return dt == AG_F32 || dt == AG_F64; }

int ag_cpu_fft(ag_fft_kind kind, const ag_kview *out, const ag_kview *in, const int *dims, int ndims, double scale) {
    if ((unsigned)kind > AG_FFT_C2R) return ag_set_error(AG_ERR_INVALID, "cpu fft: bad transform kind %d", (int)kind);
    if (in->ndim != out->ndim)
        return ag_set_error(AG_ERR_SHAPE, "cpu fft: input has %d dims, output %d", in->ndim, out->ndim);
    int nd = in->ndim;
    if (ndims < 1 || ndims > nd || !dims)
        return ag_set_error(AG_ERR_INVALID, "cpu fft: expected 1..%d transform dims, given %d", nd, ndims);
    bool is_t[AG_MAX_DIMS] = {0};
    for (int i = 0; i < ndims; i++) {
        if (dims[i] < 0 || dims[i] >= nd || is_t[dims[i]])
            return ag_set_error(AG_ERR_INVALID, "cpu fft: bad or repeated transform dim %d for %d-d views", dims[i], nd);
        is_t[dims[i]] = true;
    }
    /* dtypes */
    bool f64;
    switch (kind) {
    case AG_FFT_C2C_FWD: case AG_FFT_C2C_INV:
        if (!ag_dtype_is_complex(in->dtype) || out->dtype != in->dtype) goto bad_dtype;
        f64 = in->dtype == AG_C128;
        break;
    case AG_FFT_R2C:
        if (!is_real_float(in->dtype) || out->dtype != ag_dtype_to_complex(in->dtype)) goto bad_dtype;
        f64 = in->dtype == AG_F64;
        break;
    default:
        if (!ag_dtype_is_complex(in->dtype) || out->dtype != ag_dtype_to_real(in->dtype)) goto bad_dtype;
        f64 = in->dtype == AG_C128;
        break;
    }
    /* shapes */
    int half = dims[ndims - 1];
    for (int d = 0; d < nd; d++) {
        int64_t want = in->shape[d];
        if (d == half && kind == AG_FFT_R2C) want = in->shape[d] / 2 + 1;
        if (d == half && kind == AG_FFT_C2R) want = out->shape[d] / 2 + 1;
        int64_t have = (d == half && kind == AG_FFT_C2R) ? in->shape[d] : out->shape[d];
        if (have != want)
            return ag_set_error(AG_ERR_SHAPE, "cpu fft: %s size %lld along dim %d does not fit (expected %lld)",
                                kind == AG_FFT_C2R && d == half ? "input" : "output", (long long)have, d, (long long)want);
        if (is_t[d] && (kind == AG_FFT_C2R ? out->shape[d] : in->shape[d]) < 1)
            return ag_set_error(AG_ERR_SHAPE, "cpu fft: transform length along dim %d must be >= 1", d);
    }
    int64_t numel = 1;
    for (int d = 0; d < nd; d++) numel *= out->shape[d];
    if (numel == 0) return 0;
    for (int d = 0; d < nd; d++)
        if (out->shape[d] > 1 && out->strides[d] <= 0)
            return ag_set_error(AG_ERR_INVALID, "cpu fft: output stride %lld along dim %d would overlap",
                                (long long)out->strides[d], d);

    bool inplace = in->data == out->data;
    if (inplace && (kind == AG_FFT_R2C || kind == AG_FFT_C2R || memcmp(in->strides, out->strides, sizeof(int64_t) * nd)))
        return ag_set_error(AG_ERR_INVALID, "cpu fft: in-place transforms need a c2c kind and identical views");

    /* copy the input when FFTW must not or cannot read it where it lies */
    bool copy = kind == AG_FFT_C2R;
    for (int d = 0; d < nd && !copy; d++)
        if (in->shape[d] > 1 && (in->strides[d] < 0 || (is_t[d] && in->strides[d] == 0))) copy = true;
    ag_kview src = *in;
    void *tmp = NULL;
    if (copy && !inplace) {
        int64_t n = 1;
        for (int d = 0; d < nd; d++) n *= in->shape[d];
        tmp = fftw_malloc((size_t)n * ag_dtype_size(in->dtype));
        if (!tmp) return ag_set_error(AG_ERR_NOMEM, "cpu fft: cannot allocate %lld bytes for the input copy",
                                      (long long)(n * (int64_t)ag_dtype_size(in->dtype)));
        src.data = tmp;
        int64_t st = 1;
        for (int d = nd - 1; d >= 0; d--) { src.strides[d] = st; st *= in->shape[d]; }
        int rc = ag_cpu_copy(&src, in);
        if (rc < 0) { fftw_free(tmp); return rc; }
    }

    plan_key k;
    memset(&k, 0, sizeof k);
    k.kind = kind;
    k.f64 = f64;
    k.rank = ndims;
    for (int i = 0; i < ndims; i++) {
        int d = dims[i];
        k.d[i][0] = kind == AG_FFT_C2R ? out->shape[d] : src.shape[d];
        k.d[i][1] = src.strides[d];
        k.d[i][2] = out->strides[d];
    }
    for (int d = 0; d < nd; d++)
        if (!is_t[d] && out->shape[d] > 1) {
            int i = k.rank + k.howmany++;
            k.d[i][0] = out->shape[d];
            k.d[i][1] = src.strides[d];
            k.d[i][2] = out->strides[d];
        }
    /* size-1 transform dims: stride is irrelevant, fix it so equal problems share a plan */
    for (int i = 0; i < ndims; i++)
        if (k.d[i][0] == 1) k.d[i][1] = k.d[i][2] = 1;
    k.inplace = inplace;
    k.align_in = f64 ? fftw_alignment_of((double *)src.data) : fftwf_alignment_of((float *)src.data);
    k.align_out = f64 ? fftw_alignment_of((double *)out->data) : fftwf_alignment_of((float *)out->data);
    k.nthreads = current_threads();
    k.flags = planner_flags | (kind == AG_FFT_C2R ? FFTW_DESTROY_INPUT : inplace ? 0 : FFTW_PRESERVE_INPUT);

    int slot;
    void *p = get_plan(&k, &slot);
    if (!p) { fftw_free(tmp); return ag_error_code() < 0 ? ag_error_code() : AG_ERR_BACKEND; }
    if (f64) {
        if (kind == AG_FFT_R2C) fftw_execute_dft_r2c(p, src.data, out->data);
        else if (kind == AG_FFT_C2R) fftw_execute_dft_c2r(p, src.data, out->data);
        else fftw_execute_dft(p, src.data, out->data);
    } else {
        if (kind == AG_FFT_R2C) fftwf_execute_dft_r2c(p, src.data, out->data);
        else if (kind == AG_FFT_C2R) fftwf_execute_dft_c2r(p, src.data, out->data);
        else fftwf_execute_dft(p, src.data, out->data);
    }
    put_plan(&k, p, slot);
    fftw_free(tmp);
    if (scale != 1.0) return ag_cpu_unary(AG_UN_MUL_S, out, out, (const double[]){scale, 0.0});
    return 0;

bad_dtype:
    return ag_set_error(AG_ERR_DTYPE, "cpu fft: dtypes %s -> %s do not fit transform kind %d", ag_dtype_name(in->dtype),
                        ag_dtype_name(out->dtype), (int)kind);
}
