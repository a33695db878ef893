/* tensor/tensor.c — storage and tensor lifetimes, scopes, accessors, library settings. */
#include <stdlib.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "tensor/internal.h"

static atomic_llong live_tensors;
static atomic_llong live_bytes[AG_NUM_DEVICE_KINDS];
static ag_dtype default_dtype = AG_F64;
static int num_threads = 0;

const char *ag_version(void) { return AG_VERSION_STRING; }

void ag_set_default_dtype(ag_dtype dt) {
    if (dt != AG_F32 && dt != AG_F64) {
        ag_set_error(AG_ERR_DTYPE, "ag_set_default_dtype: expected f32 or f64, given %s", ag_dtype_name(dt));
        return;
    }
    default_dtype = dt;
}
ag_dtype ag_get_default_dtype(void) { return default_dtype; }

void ag_backend_set_threads(int n); /* backends/cpu: OpenBLAS and FFTW */
void ag_set_num_threads(int n) {
#ifdef _OPENMP
    if (n <= 0) n = omp_get_num_procs();
    omp_set_num_threads(n);
#else
    n = 1;
#endif
    num_threads = n;
    ag_backend_set_threads(n);
}
int ag_get_num_threads(void) {
#ifdef _OPENMP
    return num_threads > 0 ? num_threads : omp_get_max_threads();
#else
    return 1;
#endif
}

/* ---- scopes ----------------------------------------------------------------------
 * Each thread has its own stack of scopes, and a tensor's scope_depth/scope_slot index the
 * stack of the thread that registered it. Another thread must never index its own stack with
 * them, nor touch the owner's (which the owner reallocates and frees without a lock). So a
 * tensor also records its owner in scope_state (see internal.h), and a call from another
 * thread that gives up the scope's claim (ag_release, ag_keep, ag__unscope) only sets the
 * state's low bit with a compare-and-swap: the slot keeps its reference, the owner's
 * ag_scope_end drops it as it would have anyway, and from then on the tensor counts as
 * unscoped everywhere. The owner's own calls race only with that bit, through the same CAS. */
typedef struct scope { ag_tensor **items; int64_t n, cap; } scope;
/* one thread-local block: a shared library reaches thread-local storage through a call per
 * variable and function, and scope_push runs once per op */
static _Thread_local struct {
    scope *scopes;
    int n_scopes, cap_scopes;
    unsigned long long my_token; /* 0 until this thread registers a tensor */
} ts;
static atomic_ullong next_token = 1;
#define CLAIM_GIVEN 1ull

void ag_scope_begin(void) {
    if (ts.n_scopes == ts.cap_scopes) {
        int nc = ts.cap_scopes ? ts.cap_scopes * 2 : 8;
        scope *s = realloc(ts.scopes, (size_t)nc * sizeof *s);
        if (!s) { ag_set_error(AG_ERR_NOMEM, "ag_scope_begin: out of memory"); return; }
        memset(s + ts.cap_scopes, 0, (size_t)(nc - ts.cap_scopes) * sizeof *s);
        ts.scopes = s;
        ts.cap_scopes = nc;
    }
    ts.scopes[ts.n_scopes++].n = 0;
}

int ag_scope_depth(void) { return ts.n_scopes; }

/* inlined: ag__ret runs it once per op, and one thread-local lookup serves both */
static inline __attribute__((always_inline)) bool scope_push(int depth, ag_tensor *t) {
    scope *s = &ts.scopes[depth - 1];
    if (s->n == s->cap) {
        int64_t nc = s->cap ? s->cap * 2 : 256;
        ag_tensor **it = realloc(s->items, (size_t)nc * sizeof *it);
        if (!it) return false;
        s->items = it;
        s->cap = nc;
    }
    if (!ts.my_token) ts.my_token = atomic_fetch_add(&next_token, 1);
    t->scope_depth = depth;
    t->scope_slot = s->n;
    s->items[s->n++] = t;
    atomic_store_explicit(&t->scope_state, ts.my_token << 1, memory_order_release);
    return true;
}

/* The scope's claim on t, if a scope still has one: its state, else 0. */
static unsigned long long live_claim(ag_tensor *t) {
    unsigned long long st = atomic_load_explicit(&t->scope_state, memory_order_acquire);
    return st & CLAIM_GIVEN ? 0 : st;
}
static bool owned_here(unsigned long long st) { return st && (st >> 1) == ts.my_token; }

/* Owner thread: take t out of its slot. false when another thread gave the claim up first. */
static bool unscope_own(ag_tensor *t, unsigned long long st) {
    if (!atomic_compare_exchange_strong(&t->scope_state, &st, 0)) return false;
    if (t->scope_depth >= 1 && t->scope_depth <= ts.n_scopes) ts.scopes[t->scope_depth - 1].items[t->scope_slot] = NULL;
    t->scope_depth = 0;
    t->scope_extra = 0;
    return true;
}

/* Another thread: give up the owner scope's claim. false when there was none to give up. */
static bool give_up_foreign(ag_tensor *t) {
    unsigned long long st = live_claim(t);
    while (st && !owned_here(st)) {
        if (atomic_compare_exchange_weak(&t->scope_state, &st, st | CLAIM_GIVEN)) return true;
        if (st & CLAIM_GIVEN) return false;
    }
    return false;
}

void ag__unscope(ag_tensor *t) {
    if (!t) return;
    unsigned long long st = live_claim(t);
    if (!st) return;
    if (owned_here(st)) { unscope_own(t, st); return; }
    /* the owner's scope keeps (and later drops) its reference; the caller gets its own,
     * taken first so that the owner's scope ending meanwhile cannot free t under us */
    ag_retain(t);
    if (!give_up_foreign(t) && (atomic_load(&t->scope_state) & CLAIM_GIVEN))
        ag__drop(t); /* someone else gave the claim up first: nothing was ours to take */
}

void ag_scope_end(void) {
    if (ts.n_scopes == 0) {
        ag_set_error(AG_ERR_INVALID, "ag_scope_end: no scope is open");
        return;
    }
    scope *s = &ts.scopes[ts.n_scopes - 1];
    /* release newest first: results before the temporaries they were built from */
    for (int64_t i = s->n - 1; i >= 0; i--) {
        ag_tensor *t = s->items[i];
        if (!t) continue;
        t->scope_depth = 0;
        t->scope_extra = 0;
        /* before the drop: another thread's release that comes later sees an unscoped tensor */
        atomic_store_explicit(&t->scope_state, 0, memory_order_release);
        ag__drop(t);
    }
    s->n = 0;
    ts.n_scopes--;
    if (ts.n_scopes == 0) {
        /* give the memory back once the outermost scope closes */
        for (int i = 0; i < ts.cap_scopes; i++) free(ts.scopes[i].items);
        free(ts.scopes);
        ts.scopes = NULL;
        ts.cap_scopes = 0;
    }
}

ag_tensor *ag_keep(ag_tensor *t) {
    if (!t) return t;
    unsigned long long st = live_claim(t);
    if (!st) return t;
    /* another thread's scope: its stack is not ours to push into, so the caller owns t */
    if (!owned_here(st)) { ag__unscope(t); return t; }
    int d = t->scope_depth, extra = t->scope_extra;
    if (!unscope_own(t, st)) return t;
    if (d > 1) {
        if (!scope_push(d - 1, t)) ag_set_error(AG_ERR_NOMEM, "ag_keep: out of memory");
        else t->scope_extra = extra; /* the caller's extra references stay extra */
    }
    return t;
}

ag_tensor *ag__ret(ag_tensor *t) {
    if (!t || ts.n_scopes == 0 || atomic_load_explicit(&t->scope_state, memory_order_relaxed)) return t;
    if (!scope_push(ts.n_scopes, t)) {
        ag_release(t);
        return ag_fail(AG_ERR_NOMEM, "ag_scope: out of memory registering a result");
    }
    return t;
}

/* ---- storage and tensors ------------------------------------------------------- */
int64_t ag_live_tensors(void) { return atomic_load(&live_tensors); }
int64_t ag_live_bytes(ag_device dev) {
    return (unsigned)dev.kind < AG_NUM_DEVICE_KINDS ? atomic_load(&live_bytes[dev.kind]) : 0;
}

#define AG_INLINE_BYTES 64 /* cpu storages up to this size live inside their struct's block */
_Static_assert(sizeof(ag_storage) <= 64, "ag_storage must fit the 64-byte header of an inline block");

static ag_storage *storage_new(size_t nbytes, ag_device dev, const char *op) {
    const ag_kernels *k = (unsigned)dev.kind < AG_NUM_DEVICE_KINDS && dev.index == 0 ? ag_kernels_for(dev) : NULL;
    if (!k) return ag_fail(AG_ERR_DEVICE, "%s: device %s:%d is not available in this build",
                           op, ag_device_kind_name(dev.kind), dev.index);
    ag_storage *s;
    if (dev.kind == AG_DEV_CPU && nbytes <= AG_INLINE_BYTES) {
        /* tiny cpu tensors (scalars, losses): struct and data in one 64-byte aligned block,
         * one allocation instead of two (per-op overhead of small-op graphs) */
        s = aligned_alloc(64, 64 + AG_INLINE_BYTES);
        if (!s) return ag_fail(AG_ERR_NOMEM, "%s: out of memory", op);
        s->data = (char *)s + 64;
    } else {
        s = malloc(sizeof *s);
        if (!s) return ag_fail(AG_ERR_NOMEM, "%s: out of memory", op);
        s->data = k->alloc(nbytes ? nbytes : 1);
    }
    if (!s->data) {
        free(s);
        return ag_fail(AG_ERR_NOMEM, "%s: cannot allocate %zu bytes on %s (%lld bytes in use)", op,
                       nbytes, k->name, (long long)atomic_load(&live_bytes[dev.kind]));
    }
    atomic_init(&s->rc, 1);
    atomic_init(&s->version, 0);
    s->dev = dev;
    s->nbytes = nbytes;
    s->k = k;
    atomic_fetch_add(&live_bytes[dev.kind], (long long)nbytes);
    return s;
}

static void storage_release(ag_storage *s) {
    if (!s || atomic_fetch_sub(&s->rc, 1) != 1) return;
    if (s->data != (char *)s + 64) s->k->free(s->data, s->nbytes ? s->nbytes : 1);
    atomic_fetch_sub(&live_bytes[s->dev.kind], (long long)s->nbytes);
    free(s);
}

int64_t ag__numel(const int64_t *shape, int ndim) {
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= shape[i];
    return n;
}

void ag__contiguous_strides(const int64_t *shape, int ndim, int64_t *strides) {
    int64_t s = 1;
    for (int i = ndim - 1; i >= 0; i--) {
        strides[i] = s;
        s *= shape[i] > 0 ? shape[i] : 1;
    }
}

static ag_tensor *tensor_struct(const char *op) {
    ag_tensor *t = calloc(1, sizeof *t);
    if (!t) return ag_fail(AG_ERR_NOMEM, "%s: out of memory", op);
    atomic_init(&t->rc, 1);
    atomic_fetch_add(&live_tensors, 1);
    return t;
}

ag_tensor *ag__new(const int64_t *shape, int ndim, ag_dtype dt, ag_device dev, const char *op) {
    if (ndim < 0 || ndim > AG_MAX_DIMS)
        return ag_fail(AG_ERR_SHAPE, "%s: expected 0 to %d dims, given %d", op, AG_MAX_DIMS, ndim);
    if ((unsigned)dt >= AG_NUM_DTYPES)
        return ag_fail(AG_ERR_DTYPE, "%s: invalid dtype %d", op, (int)dt);
    if (ndim > 0 && !shape) return ag_fail(AG_ERR_INVALID, "%s: shape is NULL", op);
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0)
            return ag_fail(AG_ERR_SHAPE, "%s: expected sizes >= 0, given %s", op,
                           ag_shape_str(shape, ndim, (char[AG_SHAPE_BUF]){0}, AG_SHAPE_BUF));
        if (shape[i] && n > INT64_MAX / 16 / shape[i])
            return ag_fail(AG_ERR_NOMEM, "%s: shape %s is too large", op,
                           ag_shape_str(shape, ndim, (char[AG_SHAPE_BUF]){0}, AG_SHAPE_BUF));
        n *= shape[i];
    }
    ag_storage *s = storage_new((size_t)n * ag_dtype_size(dt), dev, op);
    if (!s) return NULL;
    ag_tensor *t = tensor_struct(op);
    if (!t) { storage_release(s); return NULL; }
    t->dtype = dt;
    t->ndim = ndim;
    if (ndim) memcpy(t->shape, shape, (size_t)ndim * sizeof *shape);
    ag__contiguous_strides(t->shape, ndim, t->strides);
    t->storage = s;
    return t;
}

ag_tensor *ag__alias(const ag_tensor *src) {
    ag_tensor *t = tensor_struct("ag__alias");
    if (!t) return NULL;
    t->dtype = src->dtype;
    t->ndim = src->ndim;
    memcpy(t->shape, src->shape, sizeof t->shape);
    memcpy(t->strides, src->strides, sizeof t->strides);
    t->offset = src->offset;
    t->storage = src->storage;
    atomic_fetch_add(&t->storage->rc, 1);
    return t;
}

ag_tensor *ag__retain(ag_tensor *t) {
    if (t) atomic_fetch_add(&t->rc, 1);
    return t;
}

/* (parenthesised: internal.h maps ag_retain to ag__retain for library code) The user's extra
 * reference to a tensor this thread's scope owns is counted, so that ag_release can give it
 * back without taking the scope's claim. Another thread's retain is not counted: its release
 * gives up the claim, as before. */
ag_tensor *(ag_retain)(ag_tensor *t) {
    if (!t) return NULL;
    atomic_fetch_add(&t->rc, 1);
    if (owned_here(live_claim(t))) t->scope_extra++;
    return t;
}

/* Drops one reference that internal code holds (saved tensors, edges, .grad). */
void ag__drop(ag_tensor *t) {
    if (!t || atomic_fetch_sub(&t->rc, 1) != 1) return;
    ag__unscope(t);
    ag__drop(t->grad);
    ag__node_release(t->grad_fn);
    for (struct ag_hook *h = t->hooks, *nx; h; h = nx) { nx = h->next; free(h); }
    storage_release(t->storage);
    atomic_fetch_sub(&live_tensors, 1);
    free(t);
}

/* The user gives back a reference an op returned (or one they retained). For a tensor a
 * scope owns, that is the scope's reference (the scope forgets it) unless the user holds
 * extra ones taken with ag_retain: then it is one of those, and the scope keeps its claim
 * (a closure returning ag_retain(L) to a caller that releases it leaked L otherwise). */
void ag_release(ag_tensor *t) {
    if (!t) return;
    if (owned_here(live_claim(t)) && t->scope_extra > 0 && atomic_load(&t->rc) > 1) { /* owner-only field */
        t->scope_extra--;
        ag__drop(t);
        return;
    }
    /* from another thread, the owner's scope end drops the scope's reference */
    if (give_up_foreign(t)) return;
    ag__unscope(t);
    ag__drop(t);
}

/* ---- accessors ------------------------------------------------------------------- */
int ag_ndim(const ag_tensor *t) { return t ? t->ndim : -1; }
const int64_t *ag_shape(const ag_tensor *t) { return t ? t->shape : NULL; }
const int64_t *ag_strides(const ag_tensor *t) { return t ? t->strides : NULL; }
int64_t ag_offset(const ag_tensor *t) { return t ? t->offset : 0; }
int64_t ag_numel(const ag_tensor *t) { return t ? ag__numel(t->shape, t->ndim) : 0; }
ag_dtype ag_dtype_of(const ag_tensor *t) { return t ? t->dtype : AG_NUM_DTYPES; }
ag_device ag_device_of(const ag_tensor *t) { return t ? t->storage->dev : AG_CPU; }
int64_t ag_size(const ag_tensor *t, int dim) {
    if (!t) return -1;
    int d = ag__normalize_dim("ag_size", dim, t->ndim);
    return d < 0 ? -1 : t->shape[d];
}

bool ag_is_contiguous(const ag_tensor *t) {
    if (!t) return false;
    if (ag__numel(t->shape, t->ndim) == 0) return true; /* no element to misplace (PyTorch) */
    int64_t s = 1;
    for (int i = t->ndim - 1; i >= 0; i--) {
        if (t->shape[i] != 1 && t->strides[i] != s) return false;
        s *= t->shape[i];
    }
    return true;
}

bool ag_shares_storage(const ag_tensor *a, const ag_tensor *b) {
    return a && b && a->storage == b->storage;
}

void *ag_data(ag_tensor *t) {
    if (!t) return NULL;
    if (!ag__is_cpu(t)) return ag_fail(AG_ERR_DEVICE, "ag_data: tensor is on %s; use ag_to(t, AG_CPU) first",
                                      ag_device_kind_name(t->storage->dev.kind));
    return (char *)t->storage->data + t->offset * (int64_t)ag_dtype_size(t->dtype);
}

int ag__normalize_dim(const char *op, int dim, int ndim) {
    int n = ndim == 0 ? 1 : ndim; /* a 0-d tensor accepts dim 0 and -1, as PyTorch */
    if (dim < -n || dim >= n)
        return ag_set_error(AG_ERR_INDEX, "%s: dim %d out of range for a %d-d tensor (expected %d..%d)",
                            op, dim, ndim, -n, n - 1);
    return dim < 0 ? dim + n : dim;
}

ag_kview ag__view(const ag_tensor *t) {
    ag_kview v;
    v.data = (char *)t->storage->data + t->offset * (int64_t)ag_dtype_size(t->dtype);
    v.dtype = t->dtype;
    v.ndim = t->ndim;
    memcpy(v.shape, t->shape, sizeof v.shape);
    memcpy(v.strides, t->strides, sizeof v.strides);
    return v;
}

const ag_kernels *ag__kernels(const ag_tensor *t) { return t->storage->k; }

void ag__bump_version(ag_tensor *t) { atomic_fetch_add(&t->storage->version, 1); }

bool ag__same_device(const char *op, const ag_tensor *a, const ag_tensor *b) {
    ag_device da = a->storage->dev, db = b->storage->dev;
    if (da.kind == db.kind && da.index == db.index) return true;
    ag_set_error(AG_ERR_DEVICE, "%s: expected tensors on one device, given %s:%d and %s:%d", op,
                 ag_device_kind_name(da.kind), da.index, ag_device_kind_name(db.kind), db.index);
    return false;
}

const ag_kernels *ag__kernels_with(const char *op, const ag_tensor *t, const void *entry, const char *name) {
    const ag_kernels *k = ag__kernels(t);
    if (!entry) {
        ag_set_error(AG_ERR_NOTIMPL, "%s: %s is not implemented for %s", op, name, k->name);
        return NULL;
    }
    return k;
}

bool ag__broadcast_shapes(const char *op, const int64_t *a, int na, const int64_t *b, int nb,
                          int64_t *out, int *nout) {
    int n = na > nb ? na : nb;
    for (int i = 0; i < n; i++) {
        int64_t sa = i < n - na ? 1 : a[i - (n - na)];
        int64_t sb = i < n - nb ? 1 : b[i - (n - nb)];
        if (sa != sb && sa != 1 && sb != 1) {
            ag_set_error(AG_ERR_SHAPE, "%s: shapes %s and %s cannot be broadcast (dim %d: %lld vs %lld)",
                         op, ag_shape_str(a, na, (char[AG_SHAPE_BUF]){0}, AG_SHAPE_BUF),
                         ag_shape_str(b, nb, (char[AG_SHAPE_BUF]){0}, AG_SHAPE_BUF), i,
                         (long long)sa, (long long)sb);
            return false;
        }
        out[i] = sa == 1 ? sb : sa;
    }
    *nout = n;
    return true;
}

ag_kview ag__view_bcast(const ag_tensor *t, const int64_t *shape, int ndim) {
    ag_kview v = ag__view(t);
    int lead = ndim - t->ndim;
    for (int i = ndim - 1; i >= 0; i--) {
        int j = i - lead;
        int64_t st = j >= 0 ? t->strides[j] : 0;
        int64_t sz = j >= 0 ? t->shape[j] : 1;
        v.strides[i] = (sz == 1 && shape[i] != 1) ? 0 : st;
        v.shape[i] = shape[i];
    }
    v.ndim = ndim;
    return v;
}

ag_tensor *ag__cast(ag_tensor *t, ag_dtype dt) {
    if (!t) return NULL;
    if (t->dtype == dt) return ag_retain(t);
    ag_tensor *r = ag__new(t->shape, t->ndim, dt, t->storage->dev, "ag_to_dtype");
    if (!r) return NULL;
    ag_kview dv = ag__view(r), sv = ag__view(t);
    if (ag__kernels(t)->copy(&dv, &sv) < 0) { ag_release(r); return NULL; }
    return r;
}

ag_tensor *ag__dense(ag_tensor *t, const char *op) {
    if (!t) return NULL;
    if (ag_is_contiguous(t)) return ag_retain(t);
    ag_tensor *r = ag__new(t->shape, t->ndim, t->dtype, t->storage->dev, op);
    if (!r) return NULL;
    ag_kview dv = ag__view(r), sv = ag__view(t);
    if (ag__kernels(t)->copy(&dv, &sv) < 0) { ag__drop(r); return NULL; }
    return r;
}
