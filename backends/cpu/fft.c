/* backends/cpu/fft.c — discrete Fourier transforms through FFTW3 (fftw_ for f64/c128,
 * fftwf_ for f32/c64).
 *
 * Entries (contracts in backends/kernels.h): fft_plan / fft_exec / plan_release, and the
 * one-shot fft made of the three. c2c forward/inverse, r2c and c2r over any set of dims,
 * batched over the others with FFTW's guru64 interface, so strided views are transformed
 * where they lie (no copy). The exceptions copy the input to a contiguous buffer of the
 * caching allocator first: c2r (FFTW's c2r destroys its input), and inputs with a zero or
 * negative stride along a transformed dim.
 *
 * Plans are cached: the key is (kind, precision, transform and batch sizes with both views'
 * strides, alignment of both arrays as fftw_alignment_of reports it, in-place-ness, threads,
 * planner flags), which is exactly what FFTW's new-array execute functions require to be
 * unchanged. A miss plans once (FFTW_MEASURE by default) on scratch arrays of the same extent
 * and alignment, never on the caller's data; execution calls fftw_execute_dft*(plan, in, out).
 * The first part of the key (sizes, strides, kind, precision) is a plan's geometry, what a
 * handle promises; the rest is its variant: fft_exec on arrays of another alignment, in place,
 * or after the thread count changed, runs the cached plan of that variant (made on first use),
 * so a handle held across calls (on a graph node, for backward) is valid for any data.
 * A handle (struct ag_kplan) is one cache entry, refcounted: the cache holds one reference,
 * each fft_plan/plan_retain one more. The cache keeps CACHE_SIZE entries, dropping its
 * reference to the least recently used one when full; a plan is destroyed with its last
 * reference. FFTW's planner and plan destruction are not thread-safe: both run under one
 * mutex; execution runs outside it.
 *
 * Threads: with fftw3_omp (AG_HAVE_FFTW_OMP) plans use ag_cpu_fft_set_threads' count
 * (ag_set_num_threads), or OpenMP's default before any call. Planner rigour: the environment
 * variable AG_FFTW_PLANNER = estimate | measure (default) | patient | exhaustive.
 * Wisdom (the planner's measurements) can be exported and imported as text, so that
 * ag_fft_save_wisdom / ag_fft_load_wisdom spare a later run the planning.
 * At exit the cache's plans are destroyed and, unless a handle is still held, FFTW's memory
 * released (fftw_cleanup), so valgrind reports nothing from here. */
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

/* what FFTW computes: a handle runs views of exactly this */
typedef struct plan_geom {
    int kind, f64;             /* ag_fft_kind; 1 = double precision */
    int rank, howmany;         /* transformed dims, then batch dims, in d[] */
    int empty;                 /* no elements: nothing to plan or run */
    int64_t d[AG_MAX_DIMS][3]; /* n, input stride, output stride (elements of each array) */
} plan_geom;

typedef struct plan_key {
    plan_geom g;
    int align_in, align_out, inplace, nthreads, flags;
    /* the views' rank and transform dims: equal geometries of other ranks (size-1 dims are not
     * in g) must not share a handle, since exec reads the views through the handle's dims */
    int view_ndim, dims[AG_MAX_DIMS];
} plan_key;

struct ag_kplan {
    plan_key key;
    void *plan;               /* fftw_plan or fftwf_plan; NULL when key.g.empty */
    atomic_int refs;
    uint64_t last_used;       /* under mu */
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static ag_kplan *cache[CACHE_SIZE];
static uint64_t tick;
static int64_t n_created, n_hits, n_evicted;
static atomic_llong n_held; /* references handed out and not yet released */
static int planner_flags = FFTW_MEASURE;
static atomic_int fft_threads;

static void destroy_plan(int f64, void *p) {
    if (!p) return;
    if (f64) fftw_destroy_plan((fftw_plan)p);
    else fftwf_destroy_plan((fftwf_plan)p);
}

/* drop one reference, mu held */
static void unref_locked(ag_kplan *p) {
    if (atomic_fetch_sub_explicit(&p->refs, 1, memory_order_acq_rel) == 1) {
        destroy_plan(p->key.g.f64, p->plan);
        free(p);
    }
}

static void cleanup(void) {
    pthread_mutex_lock(&mu);
    for (int i = 0; i < CACHE_SIZE; i++)
        if (cache[i]) { unref_locked(cache[i]); cache[i] = NULL; }
    /* a handle still held (a graph never freed) keeps its plan; FFTW's memory must outlive it */
    if (atomic_load(&n_held) == 0) {
#ifdef AG_HAVE_FFTW_OMP
        fftw_cleanup_threads();
        fftwf_cleanup_threads();
#endif
        fftw_cleanup();
        fftwf_cleanup();
    }
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

int ag_cpu_fft_cache_stats(ag_fft_cache_stats *s) {
    if (!s) return ag_set_error(AG_ERR_INVALID, "cpu fft_cache_stats: NULL stats");
    memset(s, 0, sizeof *s);
    pthread_mutex_lock(&mu);
    for (int i = 0; i < CACHE_SIZE; i++) s->cached += cache[i] != NULL;
    s->plans_created = n_created;
    s->cache_hits = n_hits;
    s->evictions = n_evicted;
    s->capacity = CACHE_SIZE;
    pthread_mutex_unlock(&mu);
    s->held = atomic_load(&n_held);
    return 0;
}

/* Drop the cache's references (FFTW's accumulated wisdom stays); held handles live on. */
int ag_cpu_fft_cache_clear(void) {
    pthread_mutex_lock(&mu);
    for (int i = 0; i < CACHE_SIZE; i++)
        if (cache[i]) { unref_locked(cache[i]); cache[i] = NULL; }
    pthread_mutex_unlock(&mu);
    return 0;
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
        char *one = ag_cpu_alloc(len + 1);
        if (!one) {
            rc = ag_set_error(AG_ERR_NOMEM, "ag_fft_load_wisdom: out of memory");
            break;
        }
        memcpy(one, parts[i], len);
        one[len] = 0;
        /* the header names the precision: "fftwf_wisdom" or "fftw_wisdom" */
        const char *nl = strchr(one, '\n');
        size_t hl = nl ? (size_t)(nl - one) : strlen(one);
        bool single = memmem(one, hl, "fftwf_wisdom", 12) != NULL;
        int ok = single ? fftwf_import_wisdom_from_string(one) : fftw_import_wisdom_from_string(one);
        if (!ok)
            rc = ag_set_error(AG_ERR_FORMAT, "ag_fft_load_wisdom: FFTW rejected the %s-precision wisdom (a file "
                                             "from another FFTW version, or damaged)", single ? "single" : "double");
        ag_cpu_free(one, len + 1);
    }
    pthread_mutex_unlock(&mu);
    return rc;
}

/* ---- planning ------------------------------------------------------------------ */
static size_t in_elem(const plan_key *k) {
    size_t r = k->g.f64 ? sizeof(double) : sizeof(float);
    return k->g.kind == AG_FFT_R2C ? r : 2 * r;
}
static size_t out_elem(const plan_key *k) {
    size_t r = k->g.f64 ? sizeof(double) : sizeof(float);
    return k->g.kind == AG_FFT_C2R ? r : 2 * r;
}

/* logical size n of transform dim i as stored in the array on side `side` (0 in, 1 out) */
static int64_t stored_n(const plan_key *k, int i, int side) {
    int64_t n = k->g.d[i][0];
    bool half = i == k->g.rank - 1 &&
                ((k->g.kind == AG_FFT_R2C && side == 1) || (k->g.kind == AG_FFT_C2R && side == 0));
    return half ? n / 2 + 1 : n;
}

/* elements spanned by an array (strides are positive here) */
static int64_t extent(const plan_key *k, int side) {
    int64_t e = 1;
    for (int i = 0; i < k->g.rank + k->g.howmany; i++) {
        int64_t n = i < k->g.rank ? stored_n(k, i, side) : k->g.d[i][0];
        e += (n - 1) * k->g.d[i][1 + side];
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
    int r = k->g.rank, h = k->g.howmany, kind = k->g.kind;
    int flags = k->flags;
    void *plan = NULL;
#define IODIMS(T, var, off, cnt)                                                         \
    T var[AG_MAX_DIMS];                                                                  \
    for (int i = 0; i < (cnt); i++)                                                      \
        var[i] = (T){(ptrdiff_t)k->g.d[(off) + i][0], (ptrdiff_t)k->g.d[(off) + i][1],   \
                     (ptrdiff_t)k->g.d[(off) + i][2]};
    if (k->g.f64) {
#ifdef AG_HAVE_FFTW_OMP
        fftw_plan_with_nthreads(k->nthreads);
#endif
        IODIMS(fftw_iodim64, td, 0, r)
        IODIMS(fftw_iodim64, bd, r, h)
        if (kind == AG_FFT_R2C)
            plan = fftw_plan_guru64_dft_r2c(r, td, h, bd, (double *)pin, (fftw_complex *)pout, flags);
        else if (kind == AG_FFT_C2R)
            plan = fftw_plan_guru64_dft_c2r(r, td, h, bd, (fftw_complex *)pin, (double *)pout, flags);
        else
            plan = fftw_plan_guru64_dft(r, td, h, bd, (fftw_complex *)pin, (fftw_complex *)pout,
                                        kind == AG_FFT_C2C_FWD ? FFTW_FORWARD : FFTW_BACKWARD, flags);
    } else {
#ifdef AG_HAVE_FFTW_OMP
        fftwf_plan_with_nthreads(k->nthreads);
#endif
        IODIMS(fftwf_iodim64, td, 0, r)
        IODIMS(fftwf_iodim64, bd, r, h)
        if (kind == AG_FFT_R2C)
            plan = fftwf_plan_guru64_dft_r2c(r, td, h, bd, (float *)pin, (fftwf_complex *)pout, flags);
        else if (kind == AG_FFT_C2R)
            plan = fftwf_plan_guru64_dft_c2r(r, td, h, bd, (fftwf_complex *)pin, (float *)pout, flags);
        else
            plan = fftwf_plan_guru64_dft(r, td, h, bd, (fftwf_complex *)pin, (fftwf_complex *)pout,
                                         kind == AG_FFT_C2C_FWD ? FFTW_FORWARD : FFTW_BACKWARD, flags);
    }
#undef IODIMS
    fftw_free(bin);
    fftw_free(bout);
    if (!plan) ag_set_error(AG_ERR_BACKEND, "cpu fft: FFTW could not plan a rank-%d transform batched over %d dims", r, h);
    else n_created++;
    return plan;
}

/* A new reference to the cached handle for k, made (and cached) on a miss. NULL with the error
 * set on failure. */
static ag_kplan *get_plan(const plan_key *k) {
    pthread_once(&once, init);
    pthread_mutex_lock(&mu);
    tick++;
    int victim = -1;
    for (int i = 0; i < CACHE_SIZE; i++) {
        ag_kplan *e = cache[i];
        if (e && !memcmp(&e->key, k, sizeof *k)) {
            atomic_fetch_add_explicit(&e->refs, 1, memory_order_relaxed);
            e->last_used = tick;
            n_hits++;
            pthread_mutex_unlock(&mu);
            atomic_fetch_add(&n_held, 1);
            return e;
        }
        if (!e) { if (victim < 0 || cache[victim]) victim = i; }
        else if (victim < 0 || (cache[victim] && e->last_used < cache[victim]->last_used)) victim = i;
    }
    ag_kplan *p = malloc(sizeof *p); /* once per plan made, not per call */
    if (!p) {
        pthread_mutex_unlock(&mu);
        ag_set_error(AG_ERR_NOMEM, "cpu fft: out of memory for a plan");
        return NULL;
    }
    memset(p, 0, sizeof *p);
    memcpy(&p->key, k, sizeof *k); /* padding included: keys are compared with memcmp */
    p->plan = k->g.empty ? NULL : make_plan(k);
    if (!k->g.empty && !p->plan) {
        pthread_mutex_unlock(&mu);
        free(p);
        return NULL;
    }
    atomic_init(&p->refs, 2); /* the cache's and the caller's */
    p->last_used = tick;
    if (cache[victim]) { unref_locked(cache[victim]); n_evicted++; }
    cache[victim] = p;
    pthread_mutex_unlock(&mu);
    atomic_fetch_add(&n_held, 1);
    return p;
}

ag_kplan *ag_cpu_plan_retain(ag_kplan *p) {
    if (p) {
        atomic_fetch_add_explicit(&p->refs, 1, memory_order_relaxed);
        atomic_fetch_add(&n_held, 1);
    }
    return p;
}

void ag_cpu_plan_release(ag_kplan *p) {
    if (!p) return;
    atomic_fetch_sub(&n_held, 1);
    /* the common case (the cache still holds it) takes no lock */
    int r = atomic_load_explicit(&p->refs, memory_order_relaxed);
    while (r > 1)
        if (atomic_compare_exchange_weak_explicit(&p->refs, &r, r - 1, memory_order_acq_rel, memory_order_relaxed))
            return;
    pthread_mutex_lock(&mu);
    unref_locked(p);
    pthread_mutex_unlock(&mu);
}

/* ---- views -> problem ------------------------------------------------------------ */
static bool is_real_float(ag_dtype dt) { return dt == AG_F32 || dt == AG_F64; }

typedef struct prob {
    bool f64, empty, inplace, copy;
    bool is_t[AG_MAX_DIMS];
} prob;

/* checks the views against the entry's contract; kname names the entry in errors */
static int analyse(const char *kname, ag_fft_kind kind, const ag_kview *out, const ag_kview *in, const int *dims,
                   int ndims, prob *pr) {
    memset(pr, 0, sizeof *pr);
    if ((unsigned)kind > AG_FFT_C2R) return ag_set_error(AG_ERR_INVALID, "%s: bad transform kind %d", kname, (int)kind);
    if (in->ndim != out->ndim)
        return ag_set_error(AG_ERR_SHAPE, "%s: input has %d dims, output %d", kname, in->ndim, out->ndim);
    int nd = in->ndim;
    if (ndims < 1 || ndims > nd || !dims)
        return ag_set_error(AG_ERR_INVALID, "%s: expected 1..%d transform dims, given %d", kname, nd, ndims);
    for (int i = 0; i < ndims; i++) {
        if (dims[i] < 0 || dims[i] >= nd || pr->is_t[dims[i]])
            return ag_set_error(AG_ERR_INVALID, "%s: bad or repeated transform dim %d for %d-d views", kname, dims[i], nd);
        pr->is_t[dims[i]] = true;
    }
    switch (kind) {
    case AG_FFT_C2C_FWD: case AG_FFT_C2C_INV:
        if (!ag_dtype_is_complex(in->dtype) || out->dtype != in->dtype) goto bad_dtype;
        pr->f64 = in->dtype == AG_C128;
        break;
    case AG_FFT_R2C:
        if (!is_real_float(in->dtype) || out->dtype != ag_dtype_to_complex(in->dtype)) goto bad_dtype;
        pr->f64 = in->dtype == AG_F64;
        break;
    default:
        if (!ag_dtype_is_complex(in->dtype) || out->dtype != ag_dtype_to_real(in->dtype)) goto bad_dtype;
        pr->f64 = in->dtype == AG_C128;
        break;
    }
    int half = dims[ndims - 1];
    for (int d = 0; d < nd; d++) {
        int64_t want = in->shape[d];
        if (d == half && kind == AG_FFT_R2C) want = in->shape[d] / 2 + 1;
        if (d == half && kind == AG_FFT_C2R) want = out->shape[d] / 2 + 1;
        int64_t have = (d == half && kind == AG_FFT_C2R) ? in->shape[d] : out->shape[d];
        if (have != want)
            return ag_set_error(AG_ERR_SHAPE, "%s: %s size %lld along dim %d does not fit (expected %lld)", kname,
                                kind == AG_FFT_C2R && d == half ? "input" : "output", (long long)have, d, (long long)want);
        if (pr->is_t[d] && (kind == AG_FFT_C2R ? out->shape[d] : in->shape[d]) < 1)
            return ag_set_error(AG_ERR_SHAPE, "%s: transform length along dim %d must be >= 1", kname, d);
    }
    int64_t numel = 1;
    for (int d = 0; d < nd; d++) numel *= out->shape[d];
    if (numel == 0) { pr->empty = true; return 0; }
    for (int d = 0; d < nd; d++)
        if (out->shape[d] > 1 && out->strides[d] <= 0)
            return ag_set_error(AG_ERR_INVALID, "%s: output stride %lld along dim %d would overlap", kname,
                                (long long)out->strides[d], d);
    pr->inplace = in->data && in->data == out->data;
    if (pr->inplace &&
        (kind == AG_FFT_R2C || kind == AG_FFT_C2R || memcmp(in->strides, out->strides, sizeof(int64_t) * nd)))
        return ag_set_error(AG_ERR_INVALID, "%s: in-place transforms need a c2c kind and identical views", kname);
    /* FFTW must not (c2r destroys its input) or cannot (zero or negative strides) read it in place */
    pr->copy = !pr->inplace && kind == AG_FFT_C2R;
    for (int d = 0; d < nd && !pr->copy && !pr->inplace; d++)
        if (in->shape[d] > 1 && (in->strides[d] < 0 || (pr->is_t[d] && in->strides[d] == 0))) pr->copy = true;
    return 0;

bad_dtype:
    return ag_set_error(AG_ERR_DTYPE, "%s: dtypes %s -> %s do not fit transform kind %d", kname,
                        ag_dtype_name(in->dtype), ag_dtype_name(out->dtype), (int)kind);
}

/* the row-major contiguous view of in's shape (where a copied input goes) */
static ag_kview packed_like(const ag_kview *in, void *data) {
    ag_kview v = *in;
    v.data = data;
    int64_t st = 1;
    for (int d = in->ndim - 1; d >= 0; d--) { v.strides[d] = st; st *= in->shape[d]; }
    return v;
}

static size_t view_bytes(const ag_kview *v) {
    int64_t n = 1;
    for (int d = 0; d < v->ndim; d++) n *= v->shape[d];
    return (size_t)n * ag_dtype_size(v->dtype);
}

/* key of the problem (out <- src); src is the array FFTW reads (the copy when there is one). The
 * alignment of a copy is the caching allocator's 64 bytes, wherever it is taken. */
static void make_key(plan_key *k, ag_fft_kind kind, const prob *pr, const ag_kview *out, const ag_kview *src,
                     const int *dims, int ndims) {
    memset(k, 0, sizeof *k);
    k->g.kind = kind;
    k->g.f64 = pr->f64;
    k->g.rank = ndims;
    k->view_ndim = out->ndim;
    memcpy(k->dims, dims, sizeof(int) * (size_t)ndims);
    if (pr->empty) { k->g.empty = 1; return; }
    for (int i = 0; i < ndims; i++) {
        int d = dims[i];
        k->g.d[i][0] = kind == AG_FFT_C2R ? out->shape[d] : src->shape[d];
        k->g.d[i][1] = src->strides[d];
        k->g.d[i][2] = out->strides[d];
    }
    for (int d = 0; d < out->ndim; d++)
        if (!pr->is_t[d] && out->shape[d] > 1) {
            int i = k->g.rank + k->g.howmany++;
            k->g.d[i][0] = out->shape[d];
            k->g.d[i][1] = src->strides[d];
            k->g.d[i][2] = out->strides[d];
        }
    /* size-1 transform dims: stride is irrelevant, fix it so equal problems share a plan */
    for (int i = 0; i < ndims; i++)
        if (k->g.d[i][0] == 1) k->g.d[i][1] = k->g.d[i][2] = 1;
    k->inplace = pr->inplace;
    k->align_in = pr->copy ? 0 : pr->f64 ? fftw_alignment_of((double *)src->data) : fftwf_alignment_of((float *)src->data);
    k->align_out = pr->f64 ? fftw_alignment_of((double *)out->data) : fftwf_alignment_of((float *)out->data);
    k->nthreads = current_threads();
    k->flags = planner_flags | (kind == AG_FFT_C2R ? FFTW_DESTROY_INPUT : pr->inplace ? 0 : FFTW_PRESERVE_INPUT);
}

/* ---- the entries ------------------------------------------------------------------ */

ag_kplan *ag_cpu_fft_plan(ag_fft_kind kind, const ag_kview *out, const ag_kview *in, const int *dims, int ndims) {
    prob pr;
    if (analyse("cpu fft", kind, out, in, dims, ndims, &pr)) return NULL;
    pthread_once(&once, init); /* planner_flags */
    ag_kview src = pr.copy ? packed_like(in, NULL) : *in;
    plan_key k;
    make_key(&k, kind, &pr, out, &src, dims, ndims);
    return get_plan(&k);
}

int ag_cpu_fft_exec(ag_kplan *p, const ag_kview *out, const ag_kview *in, double scale) {
    if (!p) return ag_set_error(AG_ERR_INVALID, "cpu fft_exec: NULL plan");
    ag_fft_kind kind = (ag_fft_kind)p->key.g.kind;
    prob pr;
    const int *dims = p->key.dims, ndims = p->key.g.rank;
    int rc = analyse("cpu fft_exec", kind, out, in, dims, ndims, &pr);
    if (rc) return rc;
    ag_kview src = pr.copy ? packed_like(in, NULL) : *in;
    plan_key k;
    make_key(&k, kind, &pr, out, &src, dims, ndims);
    if (memcmp(&k.g, &p->key.g, sizeof k.g))
        return ag_set_error(AG_ERR_INVALID, "cpu fft_exec: the views' shapes, strides or dtypes differ from the plan's");
    if (pr.empty) return 0;
    /* another alignment, in-place-ness or thread count: that variant's plan from the cache */
    ag_kplan *run = p;
    if (memcmp(&k, &p->key, sizeof k) && !(run = get_plan(&k)))
        return ag_error_code() < 0 ? ag_error_code() : AG_ERR_BACKEND;
    size_t tbytes = pr.copy ? view_bytes(in) : 0;
    if (pr.copy) {
        src.data = ag_cpu_alloc(tbytes);
        if (!src.data) rc = ag_set_error(AG_ERR_NOMEM, "cpu fft: cannot allocate %zu bytes for the input copy", tbytes);
        else rc = ag_cpu_copy(&src, in);
    }
    if (!rc) {
        void *pl = run->plan;
        if (pr.f64) {
            if (kind == AG_FFT_R2C) fftw_execute_dft_r2c(pl, src.data, out->data);
            else if (kind == AG_FFT_C2R) fftw_execute_dft_c2r(pl, src.data, out->data);
            else fftw_execute_dft(pl, src.data, out->data);
        } else {
            if (kind == AG_FFT_R2C) fftwf_execute_dft_r2c(pl, src.data, out->data);
            else if (kind == AG_FFT_C2R) fftwf_execute_dft_c2r(pl, src.data, out->data);
            else fftwf_execute_dft(pl, src.data, out->data);
        }
    }
    if (pr.copy && src.data) ag_cpu_free(src.data, tbytes);
    if (run != p) ag_cpu_plan_release(run);
    if (rc) return rc;
    if (scale != 1.0) return ag_cpu_unary(AG_UN_MUL_S, out, out, (const double[]){scale, 0.0});
    return 0;
}

int ag_cpu_fft(ag_fft_kind kind, const ag_kview *out, const ag_kview *in, const int *dims, int ndims, double scale) {
    ag_kplan *p = ag_cpu_fft_plan(kind, out, in, dims, ndims);
    if (!p) return ag_error_code() < 0 ? ag_error_code() : AG_ERR_BACKEND;
    int rc = ag_cpu_fft_exec(p, out, in, scale);
    ag_cpu_plan_release(p);
    return rc;
}
