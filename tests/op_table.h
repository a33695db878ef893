/* tests/op_table.h — the op table: one row per op, shared by the forward-reference check
 * (PyTorch fixtures), gradcheck, strided-input and NULL-propagation checks, and later the
 * CPU-vs-CUDA comparison. Adding an op = a row here (tests/ops_<family>.c) plus a Row of the
 * same name in tests/fixturegen/<family>.py. */
#ifndef AG_TESTS_OP_TABLE_H
#define AG_TESTS_OP_TABLE_H

#include <astrograd.h>

typedef ag_tensor *(*op_fn)(ag_tensor *const *in, int n, void *ud);

#define DT(x) (1u << (x))
#define DT_REAL (DT(AG_F32) | DT(AG_F64))
#define DT_CPLX (DT(AG_C64) | DT(AG_C128))
#define DT_FLOAT (DT_REAL | DT_CPLX)

typedef struct op_row {
    const char *name;   /* fixture key: "<name>.<dtype>.in0", ".out", ".w", ".grad0" */
    op_fn fn;
    int n_in;
    unsigned dtypes;    /* dtypes the fixture has */
    double rtol64;      /* forward/grad tolerance in f64/c128 (0: 1e-12) */
    double rtol32;      /* in f32/c64 (0: 1e-5) */
    unsigned no_gradcheck; /* skip gradcheck (non-smooth at the sample, or not differentiable) */
    const char *no_gradgradcheck; /* why the second derivatives are not checked (NULL: they are) */
    unsigned optional;  /* bit i: NULL input i means "absent" (a bias), skipped by the NULL-input check */
} op_row;

/* The highest-rank check runs every row again with its inputs given leading dims up to 8 dims
 * (test_op_table.c lists the rows it cannot lift, and why). Wrappers name non-negative dims
 * through D() so that they mean the same dims there; negative dims need nothing. */
extern int op_lead;
#define D(k) ((k) + op_lead)

/* one line per family: X(name) declares ops_<name>[] (terminated by a row with name NULL) */
#define AG_OP_FAMILIES(X) X(elementwise) X(reduce) X(linalg) X(view) X(fft) X(index) X(conv) X(solve) X(complex_ag) X(nn) X(imaging_layout) X(dft) X(imaging_losses)

#define X(f) extern const op_row ops_##f[];
AG_OP_FAMILIES(X)
#undef X

/* row options, as designated initializers */
#define TOL(r64, r32) .rtol64 = (r64), .rtol32 = (r32)
#define NOGC .no_gradcheck = 1
#define NOGG(why) .no_gradgradcheck = (why)

/* define a one-line op wrapper: OPFN(add, ag_add(x[0], x[1])) */
#define OPFN(name, expr) \
    static ag_tensor *f_##name(ag_tensor *const *x, int n, void *ud) { (void)n; (void)ud; (void)x; return (expr); }

#endif
