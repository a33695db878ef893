/* benchmarks/astrograd_bench.c — astrograd-bench, the one benchmark driver: runs named suites
 * of the benchmark programs (each times its cases and its PyTorch / MPoL / torchkbnufft peer in
 * the same invocation, bench.h), gathers their rows with the machine they ran on, prints a table,
 * writes results.json and one PNG per suite; --compare prints two runs side by side.
 *
 *     astrograd-bench [--quick | --tiny] [--suites ops,autograd,rml,nufft,nn,eht] [--threads N] [--out DIR]
 *     astrograd-bench --compare a.json b.json
 *
 * The programs are found next to this executable (the build tree) or in ../libexec/astrograd
 * (installed); the peer scripts in $AG_BENCH_PEERS, else ../share/astrograd/peers, else the
 * source tree this was built from. Run from the repository root: the eht suite reads
 * data/eht/. Exit status: 0; 1 when a suite failed or an output could not be written (the rest
 * still runs and is written); 2 for bad arguments. */
#include <cblas.h>
#include <fftw3.h>
#include <libgen.h>
#include <sys/types.h>

#include <astrograd.h>

#include "bench.h"
#include "results_json.h"
#include "results_plot.h"

#ifndef AG_BENCH_SOURCE_PEERS
#define AG_BENCH_SOURCE_PEERS "benchmarks/peers"
#endif

typedef enum { FULL, QUICK, TINY } mode;

/* one benchmark program of a suite; args[mode] is what follows "threads json" on its command line
 * (bench_eht_m87: its first word is the reps, before the json); --tiny is one small size per
 * program, --quick the default sizes less the largest, with fewer repetitions (AG_BENCH_QUICK) */
typedef struct prog {
    const char *suite, *exe, *dtype; /* dtype: rows whose name names none */
    const char *args[3];             /* by mode; NULL: none */
    bool json_before_threads;        /* bench_eht_m87: [threads] [reps] [json] */
} prog;

static const prog progs[] = {
    {"ops", "bench_core", "f64", {NULL, NULL, "65536 256 128"}, false},
    {"ops", "bench_index", "f32", {NULL, NULL, "100 1000"}, false},
    {"ops", "bench_fft", "c128", {NULL, "1024", "256"}, false},
    {"ops", "bench_conv", "f32", {NULL, NULL, NULL}, false},
    {"autograd", "bench_autograd", "f64", {NULL, NULL, NULL}, false},
    {"rml", "bench_rml", "f64", {NULL, "256:1:f64 512:1:f64 256:16:f64 256:1:f32 512:1:f32", "64:1:f64 64:1:f32"}, false},
    {"nufft", "bench_nufft", "f64", {NULL, "256", "64"}, false}, /* torchkbnufft type 1: seconds a call */
    {"nn", "bench_train", "f32", {NULL, "10", "2"}, false},
    {"eht", "bench_eht_m87", "f64", {"3", "1 lo", "1 lo"}, true}, /* the peer: minutes per band */
};
enum { NPROGS = sizeof progs / sizeof *progs };
static const char *suites[] = {"ops", "autograd", "rml", "nufft", "nn", "eht"};
enum { NSUITES = sizeof suites / sizeof *suites };

typedef struct row {
    char suite[16], name[96], series[96], device[16], dtype[8], peer[32], status[224];
    double size, ms, q1, q3, peer_ms, peer_q1, peer_q3;
} row;

typedef struct rows { row *r; int n, cap; } rows;

static row *rows_add(rows *rs) {
    if (rs->n == rs->cap) {
        int cap = rs->cap ? 2 * rs->cap : 64;
        row *nr = realloc(rs->r, (size_t)cap * sizeof *nr);
        if (!nr) return NULL;
        rs->r = nr, rs->cap = cap;
    }
    row *r = &rs->r[rs->n++];
    memset(r, 0, sizeof *r);
    r->size = r->ms = r->q1 = r->q3 = r->peer_ms = r->peer_q1 = r->peer_q3 = NAN;
    return r;
}

static bool is_dtype(const char *t) {
    return !strcmp(t, "f32") || !strcmp(t, "f64") || !strcmp(t, "c64") || !strcmp(t, "c128");
}

/* "1024" -> 1024, "4M" -> 4 * 2^20, "10M" -> 10^7 (as bench_index means it), "64x64" -> 4096; NAN: not a size */
static double parse_size(const char *t) {
    double v = 1;
    bool any = false;
    while (*t) {
        if (*t < '0' || *t > '9') return NAN;
        char *end;
        double f = strtod(t, &end);
        if (*end == 'M') f *= !strcmp(t, "10M") ? 1e6 : 1048576.0, end++;
        else if (*end == 'K' || *end == 'k') f *= 1024, end++;
        v *= f, any = true;
        if (*end == 'x') end++;
        else if (*end) return NAN;
        t = end;
    }
    return any ? v : NAN;
}

/* Splits a program's row name into the dtype, the first size token and the series (the rest):
 * "rml_step_256_c1_f64" -> f64, 256, "rml_step_c1"; "conv2d_fwd_f32_b8_c32_64x64_k3" -> f32,
 * 4096, "conv2d_fwd_b8_c32_k3". */
static void classify(row *r, const char *fallback_dtype) {
    char buf[96], series[96] = "";
    snprintf(buf, sizeof buf, "%s", r->name);
    snprintf(r->dtype, sizeof r->dtype, "%s", fallback_dtype);
    char *save = NULL;
    bool typed = false; /* the first dtype token: a later "c64" is 64 channels (bench_conv) */
    for (char *t = strtok_r(buf, "_", &save); t; t = strtok_r(NULL, "_", &save)) {
        double sz = isnan(r->size) ? parse_size(t) : NAN;
        if (!typed && is_dtype(t)) snprintf(r->dtype, sizeof r->dtype, "%s", t), typed = true;
        else if (!isnan(sz)) r->size = sz;
        else {
            size_t l = strlen(series);
            snprintf(series + l, sizeof series - l, "%s%s", l ? "_" : "", t);
        }
    }
    size_t l = strlen(series);
    if (l > 5 && !strcmp(series + l - 5, "_mpol")) series[l - 5] = '\0'; /* the peer column says mpol */
    snprintf(r->series, sizeof r->series, "%s", series);
}

static double num_or_nan(const bj *v) { return v && v->type == BJ_NUM ? v->num : NAN; }

static const char *str_or(const bj *v, const char *dflt) { return v && v->type == BJ_STR ? v->str : dflt; }

/* Appends the rows of one program's JSON; -1 with the reason in err */
static int read_program_rows(const char *path, const prog *pg, rows *rs, char *err, size_t nerr) {
    bj *a = bj_parse_file(path, err, nerr);
    if (!a) return -1;
    int got = 0;
    if (a->type != BJ_ARR) snprintf(err, nerr, "%s: not a JSON array", path), got = -1;
    for (int i = 0; got >= 0 && i < a->n; i++) {
        const bj *o = &a->items[i];
        const char *name = str_or(bj_get(o, "name"), NULL);
        if (!name || !isfinite(num_or_nan(bj_get(o, "astrograd_ms")))) {
            snprintf(err, nerr, "%s: row %d has no name or astrograd_ms", path, i);
            got = -1;
            break;
        }
        row *r = rows_add(rs);
        if (!r) { snprintf(err, nerr, "out of memory"); got = -1; break; }
        snprintf(r->suite, sizeof r->suite, "%s", pg->suite);
        snprintf(r->name, sizeof r->name, "%s", name);
        snprintf(r->device, sizeof r->device, "cpu");
        r->ms = num_or_nan(bj_get(o, "astrograd_ms"));
        r->q1 = num_or_nan(bj_get(o, "astrograd_q1_ms"));
        r->q3 = num_or_nan(bj_get(o, "astrograd_q3_ms"));
        snprintf(r->peer, sizeof r->peer, "%s", str_or(bj_get(o, "peer"), ""));
        r->peer_ms = num_or_nan(bj_get(o, "peer_ms"));
        r->peer_q1 = num_or_nan(bj_get(o, "peer_q1_ms"));
        r->peer_q3 = num_or_nan(bj_get(o, "peer_q3_ms"));
        snprintf(r->status, sizeof r->status, "%s", str_or(bj_get(o, "peer_status"), "ok"));
        classify(r, pg->dtype);
        got++;
    }
    bj_free(a);
    return got;
}

/* ---- where things are ---- */

static char exe_dir[1024];

static void find_exe_dir(const char *argv0) {
    char self[1024];
    ssize_t l = readlink("/proc/self/exe", self, sizeof self - 1);
    if (l > 0) self[l] = '\0';
    else snprintf(self, sizeof self, "%s", argv0);
    snprintf(exe_dir, sizeof exe_dir, "%s", dirname(self));
}

/* the program's path into out; false when neither place has it */
static bool find_program(const char *exe, char *out, size_t n) {
    snprintf(out, n, "%s/%s", exe_dir, exe);
    if (access(out, X_OK) == 0) return true;
    snprintf(out, n, "%s/../libexec/astrograd/%s", exe_dir, exe);
    return access(out, X_OK) == 0;
}

static void set_peer_dir(void) {
    const char *env = getenv("AG_BENCH_PEERS");
    if (env && *env) return;
    char d[1100];
    snprintf(d, sizeof d, "%s/../share/astrograd/peers/peer_common.py", exe_dir);
    if (access(d, R_OK) == 0) d[strlen(d) - strlen("/peer_common.py")] = '\0';
    else snprintf(d, sizeof d, "%s", AG_BENCH_SOURCE_PEERS);
    setenv("AG_BENCH_PEERS", d, 1);
}

/* ---- running a program ---- */

/* Runs path with argv, its stdout and stderr into log; returns its exit status, or -1. */
static int run_program(char *const argv[], const char *log) {
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        FILE *f = freopen(log, "w", stdout);
        if (!f || dup2(fileno(stdout), 2) < 0) _exit(126);
        execv(argv[0], argv);
        fprintf(stderr, "astrograd-bench: cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR) return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* ---- the machine ---- */

typedef struct machine { char cpu[128], torch[64], python[256]; int cores, threads; } machine;

static void cpu_model(char *out, size_t n) {
    snprintf(out, n, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        char *c = strchr(line, ':');
        if (!c || strncmp(line, "model name", 10)) continue;
        c++;
        while (*c == ' ' || *c == '\t') c++;
        c[strcspn(c, "\n")] = '\0';
        snprintf(out, n, "%s", c);
        break;
    }
    fclose(f);
}

/* torch's version as the peers' interpreter reports it ("" when it cannot import torch) */
static void torch_version(machine *m) {
    const char *env = getenv("AG_BENCH_PYTHON");
    snprintf(m->python, sizeof m->python, "%s", env && *env ? env : "/usr/bin/python3");
    m->torch[0] = '\0';
    if (access(m->python, X_OK) != 0) return;
    char cmd[400];
    snprintf(cmd, sizeof cmd, "%s -c 'import torch; print(torch.__version__)' 2>/dev/null", m->python);
    FILE *p = popen(cmd, "r");
    if (!p) return;
    if (fgets(m->torch, sizeof m->torch, p)) m->torch[strcspn(m->torch, "\n")] = '\0';
    if (pclose(p) != 0) m->torch[0] = '\0';
}

static void json_machine(FILE *f, const machine *m) {
    fprintf(f, "{\"cpu\": ");
    bench_json_str(f, m->cpu);
    fprintf(f, ", \"cores\": %d, \"threads\": %d, \"gpu\": \"none\", \"astrograd\": ", m->cores, m->threads);
    bench_json_str(f, ag_version());
    fprintf(f, ", \"fftw\": ");
    bench_json_str(f, fftw_version);
    fprintf(f, ", \"openblas\": ");
    bench_json_str(f, openblas_get_config());
    fprintf(f, ", \"torch\": ");
    if (m->torch[0]) bench_json_str(f, m->torch);
    else fputs("null", f);
    fprintf(f, "}");
}

/* ---- output ---- */

static void print_table(const rows *rs) {
    printf("\n%-9s %-44s %-5s %12s %12s %12s %8s  %s\n", "suite", "case", "dtype", "size", "astrograd ms", "peer ms",
           "ratio", "peer");
    for (int i = 0; i < rs->n; i++) {
        const row *r = &rs->r[i];
        char sz[24] = "-", pm[24] = "-", ratio[16] = "-";
        if (!isnan(r->size)) snprintf(sz, sizeof sz, "%.0f", r->size);
        if (!isnan(r->peer_ms)) {
            snprintf(pm, sizeof pm, "%.4f", r->peer_ms);
            snprintf(ratio, sizeof ratio, "%.2f", r->peer_ms / r->ms);
        }
        printf("%-9s %-44s %-5s %12s %12.4f %12s %8s  %s%s%s\n", r->suite, r->name, r->dtype, sz, r->ms, pm, ratio,
               r->peer, isnan(r->peer_ms) ? " " : "", isnan(r->peer_ms) ? r->status : "");
    }
    printf("(ms: median; ratio = peer / astrograd: > 1 means astrograd is faster)\n");
}

static int write_json(const char *path, const rows *rs, const machine *m) {
    char tmp[1200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) { fprintf(stderr, "astrograd-bench: cannot write %s: %s\n", path, strerror(errno)); return 1; }
    fprintf(f, "[\n");
    for (int i = 0; i < rs->n; i++) {
        const row *r = &rs->r[i];
        fprintf(f, "  {\"suite\": ");
        bench_json_str(f, r->suite);
        fprintf(f, ", \"name\": ");
        bench_json_str(f, r->name);
        fprintf(f, ", \"device\": ");
        bench_json_str(f, r->device);
        fprintf(f, ", \"dtype\": ");
        bench_json_str(f, r->dtype);
        fprintf(f, ", \"size\": ");
        bench_json_num(f, r->size);
        fprintf(f, ", \"astrograd_ms\": ");
        bench_json_num(f, r->ms);
        fprintf(f, ", \"astrograd_q1_ms\": ");
        bench_json_num(f, r->q1);
        fprintf(f, ", \"astrograd_q3_ms\": ");
        bench_json_num(f, r->q3);
        fprintf(f, ", \"peer\": ");
        bench_json_str(f, r->peer);
        fprintf(f, ", \"peer_ms\": ");
        bench_json_num(f, r->peer_ms);
        fprintf(f, ", \"peer_q1_ms\": ");
        bench_json_num(f, r->peer_q1);
        fprintf(f, ", \"peer_q3_ms\": ");
        bench_json_num(f, r->peer_q3);
        fprintf(f, ", \"peer_status\": ");
        bench_json_str(f, isnan(r->peer_ms) ? r->status : "ok");
        fprintf(f, ", \"machine\": ");
        json_machine(f, m);
        fprintf(f, i + 1 < rs->n ? "},\n" : "}\n");
    }
    fprintf(f, "]\n");
    bool bad = fflush(f) != 0 || ferror(f);
    int e = errno;
    if (fclose(f) != 0 && !bad) bad = true, e = errno;
    if (!bad && rename(tmp, path) != 0) bad = true, e = errno;
    if (bad) {
        remove(tmp);
        fprintf(stderr, "astrograd-bench: cannot write %s: %s\n", path, strerror(e));
        return 1;
    }
    return 0;
}

/* the series of key in s (added, with label, color and style, when new); NULL when full */
static bp_series *series_for(bp_series *s, char (*keys)[200], int *ns, int max, const char *key, const char *label,
                             int color, int peer) {
    for (int k = 0; k < *ns; k++)
        if (!strcmp(keys[k], key)) return &s[k];
    if (*ns == max) return NULL;
    bp_series *t = &s[*ns];
    memset(t, 0, sizeof *t);
    snprintf(keys[*ns], sizeof keys[*ns], "%s", key);
    snprintf(t->label, sizeof t->label, "%s", label);
    t->color = color, t->peer = peer;
    (*ns)++;
    return t;
}

/* x once per series: rows sharing one astrograd time (bench_rml's _mpol rows) add it once */
static void add_point(bp_series *t, double x, double y, double lo, double hi) {
    if (!t || t->n == BP_MAX_POINTS) return;
    for (int j = 0; j < t->n; j++)
        if (t->x[j] == x) return;
    t->x[t->n] = x, t->y[t->n] = y, t->lo[t->n] = lo, t->hi[t->n] = hi;
    t->n++;
}

/* One figure for a suite. Where its rows have sizes: a series for astrograd and one per peer of
 * each case family (the name without its size), dtype and device, over the sizes; else one
 * series for astrograd and one per peer over the named cases. */
static int plot_suite(const char *dir, const char *suite, const rows *rs, const machine *m) {
    enum { MAXS = 96 };
    static bp_series s[MAXS];
    static char keys[MAXS][200], fams[MAXS][100];
    static const char *cats[BP_MAX_POINTS];
    int ns = 0, nfam = 0, ncats = 0;
    bool sized = false;
    for (int i = 0; i < rs->n; i++)
        if (!strcmp(rs->r[i].suite, suite) && !isnan(rs->r[i].size)) sized = true;
    for (int i = 0; i < rs->n; i++) {
        const row *r = &rs->r[i];
        if (strcmp(r->suite, suite) || (sized && isnan(r->size))) continue;
        char fam[100], key[200], label[128];
        if (sized) snprintf(fam, sizeof fam, "%.80s %s", r->series, r->dtype);
        else snprintf(fam, sizeof fam, "all");
        int f = 0;
        while (f < nfam && strcmp(fams[f], fam)) f++;
        if (f == nfam) {
            if (nfam == MAXS) continue;
            snprintf(fams[nfam++], sizeof fams[0], "%s", fam);
        }
        const char *prefix = sized ? fam : "";
        const char *sep = sized ? ":" : "";
        double x = r->size;
        if (!sized) {
            if (ncats == BP_MAX_POINTS) continue;
            cats[ncats] = r->name;
            x = ncats++;
        }
        snprintf(key, sizeof key, "%s|%s|astrograd", fam, r->device);
        snprintf(label, sizeof label, "%.88s%s astrograd-%s", prefix, sep, r->device);
        add_point(series_for(s, keys, &ns, MAXS, key, label, f, 0), x, r->ms, r->q1, r->q3);
        snprintf(key, sizeof key, "%s|%s|%s", fam, r->device, r->peer);
        snprintf(label, sizeof label, "%.88s%s %s", prefix, sep, r->peer);
        int style = strcmp(r->peer, "mpol") ? 1 : 2;
        add_point(series_for(s, keys, &ns, MAXS, key, label, f, style), x, r->peer_ms, r->peer_q1, r->peer_q3);
    }
    for (int k = 0; k < ns; k++) { /* a peer that never ran stays in the legend, marked */
        bool any = false;
        for (int j = 0; j < s[k].n; j++) any = any || isfinite(s[k].y[j]);
        size_t l = strlen(s[k].label);
        if (!any) snprintf(s[k].label + l, sizeof s[k].label - l, " (missing)");
    }
    if (!ns) return 0;
    char path[1100], title[300], err[1300];
    snprintf(path, sizeof path, "%s/%s.png", dir, suite);
    snprintf(title, sizeof title, "%s: %.100s, %d threads", suite, m->cpu, m->threads);
    const char *xlabel = !strcmp(suite, "rml") || !strcmp(suite, "nufft") ? "npix (image side)" : "size (elements)";
    if (bp_write_png(path, title, xlabel, sized ? NULL : cats, ncats, s, ns, err, sizeof err) < 0) {
        fprintf(stderr, "astrograd-bench: %s\n", err);
        return 1;
    }
    return 0;
}

/* ---- --compare ---- */

static int load_run(const char *path, rows *rs) {
    char err[1300];
    bj *a = bj_parse_file(path, err, sizeof err);
    if (!a) { fprintf(stderr, "astrograd-bench --compare: %s\n", err); return -1; }
    int ok = a->type == BJ_ARR ? 0 : -1;
    if (ok < 0) fprintf(stderr, "astrograd-bench --compare: %s: expected a JSON array of rows\n", path);
    for (int i = 0; ok == 0 && i < a->n; i++) {
        const bj *o = &a->items[i];
        const char *keys[] = {"suite", "name", "device", "dtype"};
        row *r = rows_add(rs);
        if (!r) { ok = -1; break; }
        char *dst[] = {r->suite, r->name, r->device, r->dtype};
        size_t cap[] = {sizeof r->suite, sizeof r->name, sizeof r->device, sizeof r->dtype};
        for (int k = 0; k < 4 && ok == 0; k++) {
            const char *v = str_or(bj_get(o, keys[k]), NULL);
            if (!v) {
                fprintf(stderr, "astrograd-bench --compare: %s: row %d has no string \"%s\" (not an astrograd-bench "
                        "results file?)\n", path, i, keys[k]);
                ok = -1;
            } else snprintf(dst[k], cap[k], "%s", v);
        }
        const bj *sz = bj_get(o, "size");
        r->size = num_or_nan(sz);
        r->ms = num_or_nan(bj_get(o, "astrograd_ms"));
        if (ok == 0 && (!sz || (sz->type != BJ_NUM && sz->type != BJ_NULL) || !isfinite(r->ms))) {
            fprintf(stderr, "astrograd-bench --compare: %s: row %d needs a number \"astrograd_ms\" and a number or null "
                    "\"size\"\n", path, i);
            ok = -1;
        }
        snprintf(r->peer, sizeof r->peer, "%s", str_or(bj_get(o, "peer"), ""));
        r->peer_ms = num_or_nan(bj_get(o, "peer_ms"));
    }
    bj_free(a);
    return ok;
}

static bool same_case(const row *a, const row *b) {
    return !strcmp(a->suite, b->suite) && !strcmp(a->name, b->name) && !strcmp(a->device, b->device) &&
           !strcmp(a->dtype, b->dtype) && ((isnan(a->size) && isnan(b->size)) || a->size == b->size);
}

static int compare(const char *pa, const char *pb) {
    rows a = {0}, b = {0};
    int st = load_run(pa, &a) < 0 || load_run(pb, &b) < 0 ? 1 : 0;
    if (!st) {
        printf("A: %s\nB: %s\n%-9s %-44s %-6s %-5s %12s %12s %8s\n", pa, pb, "suite", "case", "device", "dtype", "A ms",
               "B ms", "B/A");
        bool *used = calloc((size_t)b.n + 1, 1);
        for (int i = 0; i < a.n; i++) {
            const row *x = &a.r[i], *y = NULL;
            for (int j = 0; j < b.n && !y; j++)
                if (!used[j] && same_case(x, &b.r[j])) y = &b.r[j], used[j] = true;
            char bm[24] = "-", ratio[16] = "-";
            if (y) snprintf(bm, sizeof bm, "%.4f", y->ms), snprintf(ratio, sizeof ratio, "%.2f", y->ms / x->ms);
            printf("%-9s %-44s %-6s %-5s %12.4f %12s %8s\n", x->suite, x->name, x->device, x->dtype, x->ms, bm, ratio);
        }
        for (int j = 0; j < b.n; j++)
            if (!used[j])
                printf("%-9s %-44s %-6s %-5s %12s %12.4f %8s\n", b.r[j].suite, b.r[j].name, b.r[j].device, b.r[j].dtype,
                       "-", b.r[j].ms, "-");
        printf("(rows matched by suite, name, device, dtype and size; B/A < 1: B is faster)\n");
        free(used);
    }
    free(a.r);
    free(b.r);
    return st;
}

/* ---- main ---- */

static int usage(const char *why) {
    fprintf(stderr, "astrograd-bench: %s\nusage: astrograd-bench [--quick | --tiny] [--suites LIST] [--threads N] "
            "[--out DIR]\n       astrograd-bench --compare A.json B.json\nsuites: ops autograd rml nufft nn eht\n", why);
    return 2;
}

int main(int argc, char **argv) {
    mode md = FULL;
    int threads = 0;
    const char *out = "benchmarks/results", *only = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--compare")) {
            if (argc != i + 3) return usage("--compare needs exactly two JSON files");
            return compare(argv[i + 1], argv[i + 2]);
        } else if (!strcmp(a, "--quick")) md = QUICK;
        else if (!strcmp(a, "--tiny")) md = TINY;
        else if (!strcmp(a, "--out") && i + 1 < argc) out = argv[++i];
        else if (!strcmp(a, "--suites") && i + 1 < argc) only = argv[++i];
        else if (!strcmp(a, "--threads") && i + 1 < argc) {
            char *end;
            long t = strtol(argv[++i], &end, 10);
            if (*end || t < 0 || t > 1024) return usage("--threads needs a count from 0 (all cores) to 1024");
            threads = (int)t;
        } else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage("benchmark suites, JSON and PNG plots (see the README's Benchmarks section)");
            return 0;
        }
        else {
            char why[300];
            snprintf(why, sizeof why, "unknown argument '%.200s'", a);
            return usage(why);
        }
    }
    bool want[NSUITES];
    for (int s = 0; s < NSUITES; s++) want[s] = !only;
    if (only) {
        char buf[256];
        snprintf(buf, sizeof buf, "%s", only);
        char *save = NULL;
        for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
            int s = 0;
            while (s < NSUITES && strcmp(suites[s], t)) s++;
            if (s == NSUITES) {
                char why[300];
                snprintf(why, sizeof why, "unknown suite '%.100s'", t);
                return usage(why);
            }
            want[s] = true;
        }
    }
    find_exe_dir(argv[0]);
    set_peer_dir();
    if (md != FULL) setenv("AG_BENCH_QUICK", md == TINY ? "tiny" : "1", 1);
    char probe[1100];
    snprintf(probe, sizeof probe, "%s/logs/x", out);
    if (bench_mkdir_parents(probe) != 0) {
        fprintf(stderr, "astrograd-bench: cannot create %s/logs: %s\n", out, strerror(errno));
        return 1;
    }
    ag_set_num_threads(threads);
    machine m = {.cores = (int)sysconf(_SC_NPROCESSORS_ONLN), .threads = ag_get_num_threads()};
    cpu_model(m.cpu, sizeof m.cpu);
    torch_version(&m);
    printf("astrograd-bench %s: %s, %d cores, %d threads, torch %s (%s), peers from %s\n", ag_version(), m.cpu, m.cores,
           m.threads, m.torch[0] ? m.torch : "not importable", m.python, getenv("AG_BENCH_PEERS"));
    rows rs = {0};
    int status = 0, total = 0, done = 0;
    for (int p = 0; p < NPROGS; p++)
        for (int s = 0; s < NSUITES; s++) total += want[s] && !strcmp(progs[p].suite, suites[s]);
    for (int s = 0; s < NSUITES; s++) {
        if (!want[s]) continue;
        for (int p = 0; p < NPROGS; p++) {
            const prog *pg = &progs[p];
            if (strcmp(pg->suite, suites[s])) continue;
            char exe[1100], json[1100], log[1100], th[16], args[400] = "";
            snprintf(json, sizeof json, "%s/logs/%s.json", out, pg->exe);
            snprintf(log, sizeof log, "%s/logs/%s.log", out, pg->exe);
            snprintf(th, sizeof th, "%d", m.threads);
            printf("[%d/%d] %-8s %-16s ", ++done, total, pg->suite, pg->exe);
            fflush(stdout);
            if (!find_program(pg->exe, exe, sizeof exe)) {
                printf("FAILED: not found next to %s nor in its ../libexec/astrograd\n", exe_dir);
                status = 1;
                continue;
            }
            char *av[40];
            int ac = 0;
            av[ac++] = exe;
            av[ac++] = th;
            if (pg->args[md]) snprintf(args, sizeof args, "%s", pg->args[md]);
            char *save = NULL, *first = strtok_r(args, " ", &save);
            char *rest = first;
            if (pg->json_before_threads) { /* [threads] [reps] [json] [cases] */
                av[ac++] = first ? first : "3";
                rest = first ? strtok_r(NULL, " ", &save) : NULL;
            }
            av[ac++] = json;
            for (char *t = rest; t && ac < 38; t = strtok_r(NULL, " ", &save)) av[ac++] = t;
            av[ac] = NULL;
            remove(json);
            double t0 = bench_now_ms();
            int rc = run_program(av, log);
            double secs = (bench_now_ms() - t0) / 1e3;
            char err[1300] = "";
            int got = rc == 0 ? read_program_rows(json, pg, &rs, err, sizeof err) : -1;
            if (got >= 0) printf("%3d rows  %7.1f s\n", got, secs);
            else {
                char last[400];
                bench_last_line(log, last, sizeof last);
                printf("FAILED after %.1f s (exit %d): %s (log %s)\n", secs, rc, err[0] ? err : last, log);
                status = 1;
            }
            fflush(stdout);
        }
    }
    print_table(&rs);
    char path[1100];
    snprintf(path, sizeof path, "%s/results.json", out);
    status |= write_json(path, &rs, &m);
    for (int s = 0; s < NSUITES; s++)
        if (want[s]) status |= plot_suite(out, suites[s], &rs, &m);
    printf("wrote %s and %s/<suite>.png\n", path, out);
    free(rs.r);
    return status;
}
