/* tests/test_util.h — small helpers shared by the cmocka unit tests: reading values back, error
 * assertions, the per-test leak check, file bytes for corruption tests. Include after <cmocka.h>. */
#ifndef AG_TESTS_TEST_UTIL_H
#define AG_TESTS_TEST_UTIL_H

#include <complex.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <astrograd.h>

/* Per-test setup/teardown: no error may be pending at either end, and no tensor may outlive
 * the test (ag_live_tensors() before == after). Register tests with TEST(fn). */
static int64_t tu_live0;
static inline int tu_setup(void **state) {
    (void)state;
    ag_clear_error();
    tu_live0 = ag_live_tensors();
    return 0;
}
static inline int tu_teardown(void **state) {
    (void)state;
    if (ag_failed()) {
        print_error("unexpected pending error: %s\n", ag_last_error());
        ag_clear_error();
        return -1;
    }
    if (ag_scope_depth() != 0) {
        print_error("scope left open (depth %d)\n", ag_scope_depth());
        while (ag_scope_depth()) ag_scope_end();
        return -1;
    }
    if (ag_live_tensors() != tu_live0) {
        print_error("leak: %lld tensors alive before, %lld after\n", (long long)tu_live0,
                    (long long)ag_live_tensors());
        return -1;
    }
    return 0;
}
#define TEST(fn) cmocka_unit_test_setup_teardown(fn, tu_setup, tu_teardown)

/* Assert an error is pending whose message contains every given substring, that the code is
 * `code`, then clear it. */
#define assert_error(code, ...) tu_assert_error(__FILE__, __LINE__, (code), (const char *[]){__VA_ARGS__, NULL})
static inline void tu_assert_error(const char *file, int line, ag_status code, const char **parts) {
    if (!ag_failed()) {
        print_error("%s:%d: expected an error, none is pending\n", file, line);
        _fail(file, line);
    }
    const char *msg = ag_last_error();
    for (int i = 0; parts[i]; i++)
        if (!strstr(msg, parts[i])) {
            print_error("%s:%d: error message \"%s\" lacks \"%s\"\n", file, line, msg, parts[i]);
            _fail(file, line);
        }
    if (ag_error_code() != code) {
        print_error("%s:%d: error code %d (%s), expected %d; message: %s\n", file, line, (int)ag_error_code(),
                    ag_status_str(ag_error_code()), (int)code, msg);
        _fail(file, line);
    }
    ag_clear_error();
}
#define assert_no_error() do { if (ag_failed()) fail_msg("unexpected error: %s", ag_last_error()); } while (0)

/* Values of t in row-major order as doubles (real part) / complex doubles: malloc'd. */
static inline double *tu_values(const ag_tensor *t) {
    int64_t n = ag_numel(t);
    double *v = malloc((size_t)(n ? n : 1) * sizeof *v);
    assert_non_null(v);
    assert_int_equal(ag_copy_to_buffer(t, v, AG_F64), 0);
    return v;
}
static inline double complex *tu_cvalues(const ag_tensor *t) {
    int64_t n = ag_numel(t);
    double complex *v = malloc((size_t)(n ? n : 1) * sizeof *v);
    assert_non_null(v);
    assert_int_equal(ag_copy_to_buffer(t, v, AG_C128), 0);
    return v;
}

/* t holds exactly vals[n] (as doubles; NaN matches NaN) */
#define assert_values(t, ...) tu_assert_values(__FILE__, __LINE__, (t), (const double[]){__VA_ARGS__}, \
    (int64_t)(sizeof((const double[]){__VA_ARGS__}) / sizeof(double)))
static inline void tu_assert_values(const char *file, int line, const ag_tensor *t, const double *want, int64_t n) {
    if (!t) { print_error("%s:%d: tensor is NULL (%s)\n", file, line, ag_last_error()); _fail(file, line); }
    if (ag_numel(t) != n) {
        print_error("%s:%d: %lld elements, expected %lld\n", file, line, (long long)ag_numel(t), (long long)n);
        _fail(file, line);
    }
    double *v = tu_values(t);
    for (int64_t i = 0; i < n; i++)
        if (!(v[i] == want[i] || (isnan(v[i]) && isnan(want[i])))) {
            print_error("%s:%d: element %lld is %.17g, expected %.17g\n", file, line, (long long)i, v[i], want[i]);
            free(v);
            _fail(file, line);
        }
    free(v);
}

/* t has this shape */
#define assert_shape(t, ...) tu_assert_shape(__FILE__, __LINE__, (t), (const int64_t[]){__VA_ARGS__}, \
    (int)(sizeof((const int64_t[]){__VA_ARGS__}) / sizeof(int64_t)))
#define assert_shape0(t) tu_assert_shape(__FILE__, __LINE__, (t), NULL, 0)
static inline void tu_assert_shape(const char *file, int line, const ag_tensor *t, const int64_t *s, int nd) {
    if (!t) { print_error("%s:%d: tensor is NULL (%s)\n", file, line, ag_last_error()); _fail(file, line); }
    bool ok = ag_ndim(t) == nd;
    for (int i = 0; ok && i < nd; i++) ok = ag_shape(t)[i] == s[i];
    if (!ok) {
        print_error("%s:%d: shape has %d dims [", file, line, ag_ndim(t));
        for (int i = 0; i < ag_ndim(t); i++) print_error("%s%lld", i ? "," : "", (long long)ag_shape(t)[i]);
        print_error("], expected %d dims\n", nd);
        _fail(file, line);
    }
}

/* For corruption tests: a whole file's bytes (malloc'd; *size its length), the bytes back to a
 * file, and a xorshift64 step for reproducible damage. */
static inline unsigned char *tu_read_file(const char *path, long *size) {
    FILE *in = fopen(path, "rb");
    assert_non_null(in);
    fseek(in, 0, SEEK_END);
    *size = ftell(in);
    fseek(in, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)(*size ? *size : 1));
    assert_int_equal(fread(b, 1, (size_t)*size, in), (size_t)*size);
    fclose(in);
    return b;
}
static inline void tu_write_file(const char *path, const unsigned char *b, long n) {
    FILE *out = fopen(path, "wb");
    assert_non_null(out);
    assert_int_equal(fwrite(b, 1, (size_t)n, out), (size_t)n);
    fclose(out);
}
static inline uint64_t tu_xorshift(uint64_t *s) {
    *s ^= *s << 13, *s ^= *s >> 7, *s ^= *s << 17;
    return *s;
}

#endif
