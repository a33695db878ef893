/* tests/test_bench.c — astrograd-bench end to end: one --tiny run of every suite without peers
 * (AG_BENCH_PYTHON=/nonexistent: the peers report missing, the JSON still has every field), its
 * results.json fields and one PNG per suite; --compare of two runs, and the refusals of bad
 * arguments, a missing file and malformed JSON (message, non-zero exit).
 *
 *     test_bench DRIVER OUTDIR      (meson passes both; run from the repository root) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test_util.h"
#include "../benchmarks/results_json.h"

static const char *driver, *outdir;
static const char *suites[] = {"ops", "autograd", "rml", "nufft", "nn", "eht"};
enum { NSUITES = 6 };

/* Runs the driver with args (NULL-terminated), stdout and stderr into outdir/<tag>.out and .err;
 * returns the exit status (-1: did not exit). */
static int run_driver(const char *tag, const char *const *args) {
    char out[1024], err[1024];
    snprintf(out, sizeof out, "%s/%s.out", outdir, tag);
    snprintf(err, sizeof err, "%s/%s.err", outdir, tag);
    pid_t pid = fork();
    if (pid == 0) {
        const char *av[16] = {driver};
        for (int i = 0; args[i] && i < 14; i++) av[i + 1] = args[i];
        if (!freopen(out, "w", stdout) || !freopen(err, "w", stderr)) _exit(126);
        setenv("AG_BENCH_PYTHON", "/nonexistent", 1);
        execv(driver, (char *const *)av);
        _exit(127);
    }
    int st;
    assert_true(pid > 0 && waitpid(pid, &st, 0) == pid);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static bool file_has(const char *path, const char *needle) {
    FILE *f = fopen(path, "r");
    if (!f) return false;
    char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    return strstr(buf, needle) != NULL;
}

static void expect_str(const bj *o, const char *key) {
    const bj *v = bj_get(o, key);
    if (!v || v->type != BJ_STR || !v->str[0]) fail_msg("row field \"%s\" is not a non-empty string", key);
}

static void expect_num(const bj *o, const char *key, bool nullable) {
    const bj *v = bj_get(o, key);
    if (!v || !(v->type == BJ_NUM || (nullable && v->type == BJ_NULL)))
        fail_msg("row field \"%s\" is not a number%s", key, nullable ? " or null" : "");
}

static char results[1100];

static int tiny_run(void **state) {
    (void)state;
    snprintf(results, sizeof results, "%s/tiny/results.json", outdir);
    char dir[1100];
    snprintf(dir, sizeof dir, "%s/tiny", outdir);
    const char *args[] = {"--tiny", "--out", dir, NULL};
    int rc = run_driver("tiny", args);
    if (rc != 0) {
        print_error("astrograd-bench --tiny exited with %d (see %s/tiny.out)\n", rc, outdir);
        return -1;
    }
    return 0;
}

static void tiny_json_fields(void **state) {
    (void)state;
    char err[1400];
    bj *a = bj_parse_file(results, err, sizeof err);
    if (!a) fail_msg("%s", err);
    assert_int_equal(a->type, BJ_ARR);
    int per_suite[NSUITES] = {0};
    for (int i = 0; i < a->n; i++) {
        const bj *o = &a->items[i];
        assert_int_equal(o->type, BJ_OBJ);
        expect_str(o, "suite"), expect_str(o, "name"), expect_str(o, "device"), expect_str(o, "dtype");
        expect_str(o, "peer"), expect_str(o, "peer_status");
        expect_num(o, "size", true), expect_num(o, "astrograd_ms", false);
        expect_num(o, "astrograd_q1_ms", true), expect_num(o, "astrograd_q3_ms", true);
        expect_num(o, "peer_ms", true);
        assert_true(bj_get(o, "astrograd_ms")->num > 0);
        assert_string_equal(bj_get(o, "device")->str, "cpu");
        const char *dt = bj_get(o, "dtype")->str;
        assert_true(!strcmp(dt, "f32") || !strcmp(dt, "f64") || !strcmp(dt, "c64") || !strcmp(dt, "c128"));
        /* no interpreter: a peer row has no time and says why; the anchors (direct BLAS / FFTW
         * against astrograd's own op) are measured in the program and keep theirs */
        const char *peer = bj_get(o, "peer")->str;
        if (strncmp(peer, "astrograd-", 10)) {
            assert_int_equal(bj_get(o, "peer_ms")->type, BJ_NULL);
            assert_non_null(strstr(bj_get(o, "peer_status")->str, "missing"));
        }
        const bj *m = bj_get(o, "machine");
        assert_non_null(m);
        assert_int_equal(m->type, BJ_OBJ);
        expect_str(m, "cpu"), expect_str(m, "gpu"), expect_str(m, "astrograd"), expect_str(m, "fftw");
        expect_str(m, "openblas"), expect_num(m, "cores", false), expect_num(m, "threads", false);
        assert_non_null(bj_get(m, "torch")); /* null here: the interpreter does not exist */
        assert_string_equal(bj_get(m, "astrograd")->str, ag_version());
        for (int s = 0; s < NSUITES; s++) per_suite[s] += !strcmp(bj_get(o, "suite")->str, suites[s]);
    }
    for (int s = 0; s < NSUITES; s++)
        if (!per_suite[s]) fail_msg("suite %s has no row", suites[s]);
    /* the size is the case's size token: rml at npix 64, bench_core's 1-d length, conv's image */
    bool rml64 = false, core = false, conv = false;
    for (int i = 0; i < a->n; i++) {
        const bj *o = &a->items[i];
        const bj *sz = bj_get(o, "size");
        if (!strcmp(bj_get(o, "name")->str, "rml_step_64_c1_f64")) rml64 = sz->type == BJ_NUM && sz->num == 64;
        if (!strcmp(bj_get(o, "name")->str, "add_f32_65536")) core = sz->type == BJ_NUM && sz->num == 65536;
        if (!strcmp(bj_get(o, "name")->str, "conv2d_fwd_f32_b32_c64_8x8_k3"))
            conv = sz->type == BJ_NUM && sz->num == 64 && !strcmp(bj_get(o, "dtype")->str, "f32");
    }
    assert_true(rml64 && core && conv);
    bj_free(a);
}

static void tiny_pngs(void **state) {
    (void)state;
    for (int s = 0; s < NSUITES; s++) {
        char path[1200];
        snprintf(path, sizeof path, "%s/tiny/%s.png", outdir, suites[s]);
        FILE *f = fopen(path, "rb");
        if (!f) fail_msg("no figure %s", path);
        unsigned char sig[8] = {0};
        size_t n = fread(sig, 1, 8, f);
        fseek(f, 0, SEEK_END);
        long len = ftell(f);
        fclose(f);
        assert_int_equal(n, 8);
        assert_memory_equal(sig, "\x89PNG\r\n\x1a\n", 8);
        assert_true(len > 2000); /* axes, labels and a legend, not an empty frame */
    }
    char out[1100];
    snprintf(out, sizeof out, "%s/tiny.out", outdir);
    assert_true(file_has(out, "[1/9] ops") && file_has(out, "[9/9] eht")); /* the progress lines */
}

static void compare_runs(void **state) {
    (void)state;
    /* a second run: the same rows from the results of a subset, written elsewhere */
    char dir[1100], second[1200];
    snprintf(dir, sizeof dir, "%s/tiny_nn", outdir);
    const char *args[] = {"--tiny", "--suites", "nn", "--out", dir, NULL};
    assert_int_equal(run_driver("tiny_nn", args), 0);
    snprintf(second, sizeof second, "%s/results.json", dir);
    const char *cmp[] = {"--compare", results, second, NULL};
    assert_int_equal(run_driver("compare", cmp), 0);
    char out[1100];
    snprintf(out, sizeof out, "%s/compare.out", outdir);
    assert_true(file_has(out, "B/A"));
    assert_true(file_has(out, "mlp_step_f32"));
    /* the ops rows are only in A: their B column is "-" */
    assert_true(file_has(out, "add_f32_65536"));
    const char *self[] = {"--compare", second, second, NULL};
    assert_int_equal(run_driver("compare_self", self), 0);
    snprintf(out, sizeof out, "%s/compare_self.out", outdir);
    assert_true(file_has(out, "1.00"));
}

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void expect_refusal(const char *tag, const char *const *args, int code, const char *msg) {
    assert_int_equal(run_driver(tag, args), code);
    char err[1100];
    snprintf(err, sizeof err, "%s/%s.err", outdir, tag);
    if (!file_has(err, msg)) fail_msg("%s: stderr lacks \"%s\"", tag, msg);
}

static void compare_bad_inputs(void **state) {
    (void)state;
    char bad[1100], missing[1100], notrows[1100], prog[1100];
    snprintf(bad, sizeof bad, "%s/malformed.json", outdir);
    snprintf(missing, sizeof missing, "%s/no_such_file.json", outdir);
    snprintf(notrows, sizeof notrows, "%s/object.json", outdir);
    snprintf(prog, sizeof prog, "%s/tiny/logs/bench_train.json", outdir); /* a program's rows: no suite */
    write_text(bad, "[{\"suite\": \"ops\", \"name\": \"x\"");
    write_text(notrows, "{\"suite\": \"ops\"}");
    const char *a1[] = {"--compare", missing, results, NULL};
    expect_refusal("bad_missing", a1, 1, "cannot read");
    const char *a2[] = {"--compare", results, bad, NULL};
    expect_refusal("bad_malformed", a2, 1, "malformed JSON");
    const char *a3[] = {"--compare", notrows, results, NULL};
    expect_refusal("bad_object", a3, 1, "expected a JSON array");
    const char *a4[] = {"--compare", prog, results, NULL};
    expect_refusal("bad_rows", a4, 1, "has no string \"suite\"");
    const char *a5[] = {"--compare", results, NULL};
    expect_refusal("bad_argc", a5, 2, "exactly two");
    const char *a6[] = {"--suites", "ops,gpu_magic", NULL};
    expect_refusal("bad_suite", a6, 2, "unknown suite 'gpu_magic'");
    const char *a7[] = {"--threads", "-3", NULL};
    expect_refusal("bad_threads", a7, 2, "--threads");
    const char *a8[] = {"--fast", NULL};
    expect_refusal("bad_flag", a8, 2, "unknown argument '--fast'");
}

/* the JSON reader on its own: nesting, escapes, and where it stops */
static void json_reader(void **state) {
    (void)state;
    char err[200];
    bj *v = bj_parse(" {\"a\": [1, -2.5e3, null, true], \"s\": \"x\\\"\\u0041\\n\"} ", err, sizeof err);
    assert_non_null(v);
    assert_int_equal(bj_get(v, "a")->n, 4);
    assert_true(bj_get(v, "a")->items[1].num == -2500);
    assert_int_equal(bj_get(v, "a")->items[2].type, BJ_NULL);
    assert_string_equal(bj_get(v, "s")->str, "x\"A\n");
    assert_null(bj_get(v, "missing"));
    bj_free(v);
    const char *bad[] = {"", "[1,]", "{\"a\" 1}", "[1] 2", "\"open", "[nul]", "{\"a\": [1, {\"b\": }]}"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        err[0] = '\0';
        assert_null(bj_parse(bad[i], err, sizeof err));
        assert_non_null(strstr(err, "at byte"));
    }
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: test_bench DRIVER OUTDIR\n");
        return 2;
    }
    driver = argv[1], outdir = argv[2];
    mkdir(outdir, 0777);
    const struct CMUnitTest tests[] = {
        TEST(json_reader),
        TEST(tiny_json_fields),
        TEST(tiny_pngs),
        TEST(compare_runs),
        TEST(compare_bad_inputs),
    };
    return cmocka_run_group_tests(tests, tiny_run, NULL);
}
