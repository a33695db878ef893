/* backends/testdev/testdev.c — the test device: a second device kind that runs on machines
 * without a GPU, so that every front end is exercised the way a GPU would see it.
 *
 * Its memory is an arena of its own (one mmap'd reservation), kept PROT_NONE while none of its
 * kernels runs: a front end that reads or writes a device tensor's storage on the host faults
 * at once (the SIGSEGV handler names the address as test-device memory), and a kernel given a
 * pointer outside the arena (a CPU tensor that reached it) fails with AG_ERR_DEVICE naming the
 * entry and the argument. The kernels themselves are the CPU ones, generated for every entry of
 * AG_KERNEL_ENTRIES, so results equal the CPU's bit for bit and "not implemented" never
 * happens here: any failure on this device is a host assumption in the code above it.
 *
 * Built only with meson's -Dtest_device=true (scripts/test.sh turns it on for the sanitizer
 * build); never part of an installed library. */
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "backends/cpu/cpu.h"
#include "backends/cpu/conv.h"

#define ARENA_MAX ((size_t)64 << 30) /* address space only: PROT_NONE pages cost nothing */
#define ARENA_MIN ((size_t)1 << 30)
#define MIN_CLASS 6                     /* 64-byte blocks, the CPU allocator's alignment */
#define NCLASS 40

/* free blocks are listed outside the arena, so that allocation never opens its pages */
typedef struct block { void *p; struct block *next; } block;

static char *base;
static size_t arena_bytes; /* the reservation's size, set once with base */
static size_t top;       /* bytes handed out by the bump pointer */
static size_t mapped;    /* page-rounded prefix whose protection this file manages */
static int active;       /* kernels running now (all threads) */
static block *free_list[NCLASS];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static struct sigaction old_segv;
static size_t page;

static void on_segv(int sig, siginfo_t *si, void *uc) {
    char *a = si->si_addr;
    if (base && a >= base && a < base + arena_bytes) {
        static const char msg[] = "astrograd test device: the host touched test-device memory outside a "
                                  "kernel (a front end read or wrote a device tensor's storage directly)\n";
        ssize_t w = write(2, msg, sizeof msg - 1);
        (void)w;
    }
    /* hand the fault on: the previous handler (a sanitizer's report) or the default crash */
    if (old_segv.sa_flags & SA_SIGINFO) {
        if (old_segv.sa_sigaction) { old_segv.sa_sigaction(sig, si, uc); return; }
    } else if (old_segv.sa_handler != SIG_DFL && old_segv.sa_handler != SIG_IGN) {
        old_segv.sa_handler(sig);
        return;
    }
    signal(SIGSEGV, SIG_DFL);
    raise(SIGSEGV);
}

static void init(void) {
    page = (size_t)sysconf(_SC_PAGESIZE);
    /* where address space is capped (valgrind takes no 64 GiB mapping, nor does a small
     * ulimit -v) a smaller arena still gives a working device, instead of one that reports
     * itself available and then fails every allocation */
    void *p = MAP_FAILED;
    size_t n = ARENA_MAX;
    for (; n >= ARENA_MIN; n /= 2) {
        p = mmap(NULL, n, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (p != MAP_FAILED) break;
    }
    if (p == MAP_FAILED) return;
    base = p, arena_bytes = n;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_segv;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, &old_segv);
}

static int set_prot(size_t from, size_t to, int prot) {
    return to > from ? mprotect(base + from, to - from, prot) : 0;
}

static void *td_alloc(size_t n) {
    pthread_once(&once, init);
    if (!base || n > arena_bytes / 2) return NULL;
    int c = MIN_CLASS;
    while (((size_t)1 << c) < n) c++;
    size_t sz = (size_t)1 << c;
    pthread_mutex_lock(&lock);
    void *p = NULL;
    block *b = free_list[c];
    if (b) {
        free_list[c] = b->next;
        p = b->p;
    } else {
        size_t align = sz < page ? sz : page;
        size_t at = (top + align - 1) & ~(align - 1);
        if (at + sz <= arena_bytes) {
            p = base + at;
            top = at + sz;
            size_t want = (top + page - 1) & ~(page - 1);
            if (want > mapped) {
                if (active) set_prot(mapped, want, PROT_READ | PROT_WRITE);
                mapped = want;
            }
        }
    }
    pthread_mutex_unlock(&lock);
    free(b);
    return p;
}

static void td_free(void *p, size_t n) {
    if (!p) return;
    int c = MIN_CLASS;
    while (((size_t)1 << c) < n) c++;
    block *b = malloc(sizeof *b);
    if (!b) return; /* the block is lost to reuse, nothing worse */
    b->p = p;
    pthread_mutex_lock(&lock);
    b->next = free_list[c];
    free_list[c] = b;
    pthread_mutex_unlock(&lock);
}

static void enter(void) {
    pthread_mutex_lock(&lock);
    if (active++ == 0) set_prot(0, mapped, PROT_READ | PROT_WRITE);
    pthread_mutex_unlock(&lock);
}

static void leave(void) {
    pthread_mutex_lock(&lock);
    if (--active == 0) set_prot(0, mapped, PROT_NONE);
    pthread_mutex_unlock(&lock);
}

/* the whole reservation is ours, so no other allocation can lie in it: no need to read `top`
 * (which another thread may be moving) */
static bool in_arena(const void *p) {
    return base && (const char *)p >= base && (const char *)p < base + arena_bytes;
}

/* Every view argument must point into the arena (views with data == NULL are unused state). */
static int check_views(const char *entry, const ag_kview *const *v, int n) {
    for (int i = 1; i < n; i++)
        if (v[i] && v[i]->data && !in_arena(v[i]->data))
            return ag_set_error(AG_ERR_DEVICE, "test device: kernel %s given a view (argument %d of its views) "
                                "that is not in test-device memory: a host or cpu pointer reached a device kernel",
                                entry, i);
    return 0;
}

#define TD_UNPAREN(...) __VA_ARGS__
#define TD_ENTRY(name, params, args, views) \
    static int td_##name params { \
        const ag_kview *const vs_[] = {NULL, TD_UNPAREN views}; \
        int rc_ = check_views(#name, vs_, (int)(sizeof vs_ / sizeof *vs_)); \
        if (rc_) return rc_; \
        enter(); \
        rc_ = ag_cpu_##name args; \
        leave(); \
        return rc_; \
    }
AG_KERNEL_ENTRIES(TD_ENTRY)
#undef TD_ENTRY

static int td_transfer(void *dst, const void *src, size_t nbytes, bool to_host) {
    const void *dev = to_host ? src : dst;
    if (nbytes && !in_arena(dev))
        return ag_set_error(AG_ERR_DEVICE, "test device: transfer given a device pointer that is not in "
                            "test-device memory");
    enter();
    memcpy(dst, src, nbytes);
    leave();
    return 0;
}

static char *td_fft_wisdom_export(void) { return ag_cpu_fft_wisdom_export(); }

static ag_kplan *td_fft_plan(ag_fft_kind kind, const ag_kview *out, const ag_kview *in, const int *dims, int ndims) {
    const ag_kview *const vs[] = {NULL, out, in};
    if (check_views("fft_plan", vs, 3)) return NULL;
    enter(); /* a measuring planner may run transforms on the views' memory */
    ag_kplan *p = ag_cpu_fft_plan(kind, out, in, dims, ndims);
    leave();
    return p;
}

const ag_kernels ag_testdev_kernels = {
    .name = "test",
    .alloc = td_alloc,
    .free = td_free,
    .transfer = td_transfer,
    .fft_wisdom_export = td_fft_wisdom_export,
    .fft_plan = td_fft_plan,
    .plan_retain = ag_cpu_plan_retain, /* handles live in host memory */
    .plan_release = ag_cpu_plan_release,
#define TD_TABLE(name, params, args, views) .name = td_##name,
    AG_KERNEL_ENTRIES(TD_TABLE)
#undef TD_TABLE
};

/* LeakSanitizer and valgrind would count the idle list nodes as leaks */
__attribute__((destructor)) static void release_lists(void) {
    for (int c = 0; c < NCLASS; c++)
        for (block *b = free_list[c], *nx; b; b = nx) { nx = b->next; free(b); }
}
