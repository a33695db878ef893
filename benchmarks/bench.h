/* benchmarks/bench.h — shared timing, peer and report helpers for the benchmark programs.
 * Each program times its cases (median of repeats after warm-up), runs the peer script
 * (benchmarks/peers/<name>.py, PyTorch etc.) in the same invocation, prints a table and writes
 * JSON: [{"name":..., "astrograd_ms":..., "astrograd_q1_ms":..., "astrograd_q3_ms":..., "peer":"torch-cpu",
 * "peer_ms":..., "peer_q1_ms":..., "peer_q3_ms":..., "peer_status":"ok"}, ...] (ms: the median; q1, q3: the
 * quartiles of the timed runs, the spread; null where not measured); a peer that could not run has
 * "peer_ms": null and "peer_status": "missing: <reason>".
 * $AG_BENCH_QUICK=1 caps every case at 1 warm-up and 5 timed runs, =tiny at 0 and 1 (astrograd-bench
 * --quick / --tiny; the peers' peer_common.py reads the same variable); unset, the runs are as written. */
#ifndef AG_BENCH_H
#define AG_BENCH_H

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static inline double bench_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

static int bench_cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* warm-up and timed runs as $AG_BENCH_QUICK caps them (see the top of this file) */
static inline void bench_quick_caps(int *warm, int *reps) {
    const char *q = getenv("AG_BENCH_QUICK");
    if (!q || !*q || !strcmp(q, "0")) return;
    int w = strcmp(q, "tiny") ? 1 : 0, r = strcmp(q, "tiny") ? 5 : 1;
    if (*warm > w) *warm = w;
    if (*reps > r) *reps = r;
}

/* Sorts the n >= 1 times t and stores their median and quartiles (nearest rank) in q[0..2]. */
static inline void bench_stats(double *t, int n, double q[3]) {
    qsort(t, (size_t)n, sizeof *t, bench_cmp);
    q[0] = t[(n - 1) / 4];
    q[1] = t[n / 2];
    q[2] = t[(3 * n) / 4]; /* ceil(0.75 (n - 1)) */
}

/* median wall time in ms of fn(ctx) over `reps` runs after `warm` warm-up runs; q (may be NULL)
 * receives the first quartile, the median and the third quartile */
static inline double bench_time_q(void (*fn)(void *), void *ctx, int warm, int reps, double q[3]) {
    double t[256], qq[3];
    bench_quick_caps(&warm, &reps);
    if (reps > 256) reps = 256;
    if (reps < 1) reps = 1;
    for (int i = 0; i < warm; i++) fn(ctx);
    for (int i = 0; i < reps; i++) {
        double t0 = bench_now_ms();
        fn(ctx);
        t[i] = bench_now_ms() - t0;
    }
    bench_stats(t, reps, q ? q : qq);
    return (q ? q : qq)[1];
}

static inline double bench_time(void (*fn)(void *), void *ctx, int warm, int reps) {
    return bench_time_q(fn, ctx, warm, reps, NULL);
}

/* peer_status: "" while the peer time is valid (or not yet run), else "missing: <reason>" */
typedef struct bench_row {
    char name[96];
    double ms, q1, q3; /* median, quartiles */
    char peer[32];
    double peer_ms, peer_q1, peer_q3;
    char peer_status[224];
} bench_row;

/* Times fn into r (median and quartiles, see bench_time_q); returns the median. */
static inline double bench_time_row(bench_row *r, void (*fn)(void *), void *ctx, int warm, int reps) {
    double q[3];
    bench_time_q(fn, ctx, warm, reps, q);
    r->q1 = q[0], r->ms = q[1], r->q3 = q[2];
    return r->ms;
}

/* r's time from n >= 1 measurements t made by the caller (sorted in place) */
static inline void bench_sample_row(bench_row *r, double *t, int n) {
    double q[3];
    bench_stats(t, n, q);
    r->q1 = q[0], r->ms = q[1], r->q3 = q[2];
}

/* The row's reference is a time measured in this program (direct BLAS/FFTW, astrograd's own
 * op), not a peer script. */
static inline void bench_set_ref(bench_row *r, const char *peer, double ms) {
    snprintf(r->peer, sizeof r->peer, "%s", peer);
    r->peer_ms = ms;
    r->peer_q1 = r->peer_q3 = NAN;
    r->peer_status[0] = '\0';
}

/* last non-empty line of the file at path, trimmed, into out ("" when none) */
static inline void bench_last_line(const char *path, char *out, size_t n) {
    out[0] = '\0';
    FILE *f = fopen(path, "r");
    if (!f) return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        size_t l = strlen(line);
        while (l && (line[l - 1] == '\n' || line[l - 1] == '\r' || line[l - 1] == ' ')) line[--l] = '\0';
        if (l) snprintf(out, n, "%s", line);
    }
    fclose(f);
}

/* One run of `py script args`; fills matching rows. Returns rows matched, -1 when the peer
 * failed (its reason in why). */
static inline int bench_peer_once(const char *py, const char *script, const char *args, bench_row *rows, int n,
                                  char *why, size_t nwhy) {
    char errpath[] = "/tmp/ag_bench_peer_XXXXXX";
    int fd = mkstemp(errpath);
    if (fd < 0) { snprintf(why, nwhy, "cannot create a temporary file: %s", strerror(errno)); return -1; }
    close(fd);
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "%s %s %s 2>%s", py, script, args, errpath);
    FILE *p = popen(cmd, "r");
    if (!p) {
        snprintf(why, nwhy, "cannot run %s: %s", py, strerror(errno));
        remove(errpath);
        return -1;
    }
    char line[256], name[128];
    double ms, q1, q3;
    int matched = 0;
    while (fgets(line, sizeof line, p)) { /* "name median [q1 q3]" */
        int got = sscanf(line, "%127s %lf %lf %lf", name, &ms, &q1, &q3);
        if (got < 2) continue;
        if (got < 4) q1 = q3 = NAN;
        for (int i = 0; i < n; i++)
            if (!strcmp(rows[i].name, name)) {
                rows[i].peer_ms = ms, rows[i].peer_q1 = q1, rows[i].peer_q3 = q3;
                rows[i].peer_status[0] = '\0';
                matched++;
            }
    }
    int st = pclose(p);
    char last[400];
    bench_last_line(errpath, last, sizeof last);
    remove(errpath);
    if (st == 0) return matched;
    if (last[0]) snprintf(why, nwhy, "%s: %s", py, last);
    else if (st != -1 && WIFEXITED(st)) snprintf(why, nwhy, "%s %.120s exited with status %d", py, script, WEXITSTATUS(st));
    else snprintf(why, nwhy, "%s %.120s did not finish", py, script);
    return matched ? matched : -1;
}

/* Runs the peer script (e.g. "benchmarks/peers/torch_core.py", path from the repository root, or
 * the file of that name in $AG_BENCH_PEERS when set: astrograd-bench sets it; printing "name ms
 * [q1 q3]" lines) and fills peer_ms (and the quartiles) of matching rows. The interpreter is
 * $AG_BENCH_PYTHON, else Debian's /usr/bin/python3 (where python3-torch installs), then the
 * python3 on PATH. Rows it gives no time get peer_ms = NAN and peer_status "missing: <reason>".
 * Returns the number of rows matched. */
static inline int bench_run_peer(const char *script, const char *args, const char *peer, bench_row *rows, int n) {
    char where[512];
    const char *dir = getenv("AG_BENCH_PEERS"), *base = strrchr(script, '/');
    if (dir && *dir) {
        snprintf(where, sizeof where, "%s/%s", dir, base ? base + 1 : script);
        script = where;
    }
    for (int i = 0; i < n; i++) {
        rows[i].peer_ms = rows[i].peer_q1 = rows[i].peer_q3 = NAN;
        snprintf(rows[i].peer, sizeof rows[i].peer, "%s", peer);
        snprintf(rows[i].peer_status, sizeof rows[i].peer_status, "missing: not run");
    }
    char why[200] = "";
    int matched = 0;
    if (access(script, R_OK) != 0) {
        snprintf(why, sizeof why, "%.120s not found (run from the repository root, or set AG_BENCH_PEERS)", script);
    } else {
        const char *env = getenv("AG_BENCH_PYTHON");
        const char *pys[2] = {env && *env ? env : "/usr/bin/python3", env && *env ? NULL : "python3"};
        for (int k = 0; k < 2 && pys[k] && matched <= 0; k++) {
            char w[200] = "";
            matched = bench_peer_once(pys[k], script, args, rows, n, w, sizeof w);
            if (w[0] && !why[0]) snprintf(why, sizeof why, "%s", w);
        }
        if (matched < 0) matched = 0;
        if (!why[0]) snprintf(why, sizeof why, "%.120s printed no time for this case", script);
    }
    for (int i = 0; i < n; i++)
        if (isnan(rows[i].peer_ms)) snprintf(rows[i].peer_status, sizeof rows[i].peer_status, "missing: %s", why);
    return matched;
}

/* x as a JSON number, null when not finite */
static inline void bench_json_num(FILE *f, double x) {
    if (isfinite(x)) fprintf(f, "%.6f", x);
    else fputs("null", f);
}

/* s as a JSON string literal */
static inline void bench_json_str(FILE *f, const char *s) {
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
        else if (c < 0x20) fprintf(f, "\\u%04x", c);
        else fputc(c, f);
    }
    fputc('"', f);
}

/* mkdir -p of the folder that will hold path; 0 or -1 with errno set */
static inline int bench_mkdir_parents(const char *path) {
    char buf[1024];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf) { errno = ENAMETOOLONG; return -1; }
    for (char *q = buf + 1; *q; q++) {
        if (*q != '/') continue;
        *q = '\0';
        if (mkdir(buf, 0777) != 0 && errno != EEXIST) return -1;
        *q = '/';
    }
    return 0;
}

/* Prints the table and writes JSON to path (if not NULL), creating its folder; the file is
 * replaced whole or not at all (written next to it, then renamed). Returns 0, or 1 after a
 * message on stderr when the JSON could not be written: main returns that as its status. */
static inline int bench_report(const char *title, const bench_row *rows, int n, const char *path) {
    printf("\n%s\n%-40s %12s %12s %10s  %s\n", title, "case", "astrograd ms", "peer ms", "ratio", "peer");
    for (int i = 0; i < n; i++) {
        if (rows[i].peer_status[0] || isnan(rows[i].peer_ms))
            printf("%-40s %12.4f %12s %10s  %s %s\n", rows[i].name, rows[i].ms, "-", "-", rows[i].peer,
                   rows[i].peer_status[0] ? rows[i].peer_status : "missing");
        else
            printf("%-40s %12.4f %12.4f %10.2f  %s\n", rows[i].name, rows[i].ms, rows[i].peer_ms,
                   rows[i].peer_ms / rows[i].ms, rows[i].peer);
    }
    printf("(ratio = peer / astrograd: > 1 means astrograd is faster)\n");
    if (!path) return 0;
    char tmp[1100];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = NULL;
    if (bench_mkdir_parents(path) != 0 || !(f = fopen(tmp, "w"))) {
        fprintf(stderr, "cannot write %s: %s\n", path, strerror(errno));
        return 1;
    }
    fprintf(f, "[\n");
    for (int i = 0; i < n; i++) {
        bool ok = !rows[i].peer_status[0] && !isnan(rows[i].peer_ms);
        fprintf(f, "  {\"name\": ");
        bench_json_str(f, rows[i].name);
        fprintf(f, ", \"astrograd_ms\": %.6f, \"astrograd_q1_ms\": ", rows[i].ms);
        bench_json_num(f, rows[i].q1);
        fprintf(f, ", \"astrograd_q3_ms\": ");
        bench_json_num(f, rows[i].q3);
        fprintf(f, ", \"peer\": ");
        bench_json_str(f, rows[i].peer);
        if (ok) {
            fprintf(f, ", \"peer_ms\": %.6f, \"peer_q1_ms\": ", rows[i].peer_ms);
            bench_json_num(f, rows[i].peer_q1);
            fprintf(f, ", \"peer_q3_ms\": ");
            bench_json_num(f, rows[i].peer_q3);
            fprintf(f, ", \"peer_status\": \"ok\"}");
        } else {
            fprintf(f, ", \"peer_ms\": null, \"peer_q1_ms\": null, \"peer_q3_ms\": null, \"peer_status\": ");
            bench_json_str(f, rows[i].peer_status[0] ? rows[i].peer_status : "missing");
            fprintf(f, "}");
        }
        fprintf(f, i + 1 < n ? ",\n" : "\n");
    }
    fprintf(f, "]\n");
    bool bad = fflush(f) != 0 || ferror(f);
    int err = errno;
    if (fclose(f) != 0 && !bad) { bad = true; err = errno; }
    if (!bad && rename(tmp, path) != 0) { bad = true; err = errno; }
    if (bad) {
        remove(tmp);
        fprintf(stderr, "cannot write %s: %s\n", path, strerror(err));
        return 1;
    }
    return 0;
}

#endif
