/* examples/gradient_descent.c — tutorial: minimise y = x^2 by gradient descent with autograd.
 *
 * Starting from x = -4 we take steps x <- x - lr * dy/dx with three step sizes (learning rates):
 *   lr = 0.1  converges smoothly   (each step multiplies x by 1 - 2 lr =  0.8)
 *   lr = 0.6  converges, zig-zag   (each step multiplies x by 1 - 2 lr = -0.2)
 *   lr = 1.5  diverges             (each step multiplies x by 1 - 2 lr = -2)
 * The gradient dy/dx = 2x is not written anywhere below: autograd computes it.
 *
 * Build and run (from a meson build directory):  ninja && ./examples/gradient_descent
 * The program exits non-zero if lr = 0.1 does not reach |x| < 1e-3 or lr = 1.5 does not diverge,
 * so it doubles as a test (meson test example_gradient_descent).
 *
 * The pattern to copy into your own code is in descend():
 *   1. a leaf tensor with requires_grad set holds the parameter;
 *   2. each iteration opens a scope, so every temporary the iteration makes is freed at its end;
 *   3. forward: compute the loss from the parameter with ag ops (this records the graph);
 *   4. ag_backward(loss) fills the parameter's .grad (ag_grad_of) and frees the graph;
 *   5. the update runs with gradient recording off (ag_no_grad_begin/end), writing the new value
 *      into the parameter in place with ag_copy_, so the parameter stays the same leaf;
 *   6. ag_zero_grad drops .grad, otherwise the next backward would add to it. */
#include <math.h>
#include <stdio.h>

#include <astrograd.h>

/* the device to run on: AG_DEVICE ("cpu", "cuda", "test"), the CPU when unset */
static ag_device DEV;

enum { MAX_ITERS = 40 };
#define CONVERGED 1e-3 /* |x| below this: close enough to the minimum at 0, stop */
#define DIVERGED 1e6   /* |x| beyond this: stop, the iteration is running away */

/* Runs gradient descent from x0 with step size lr; returns the final x (NAN on error) and
 * stores the number of steps taken in *steps. */
static double descend(double x0, double lr, int *steps) {
    /* 1. the parameter: a 0-d f64 tensor that requires grad (a leaf of the graph) */
    ag_tensor *x = ag_set_requires_grad(ag_scalar_on(x0, AG_F64, DEV), true);
    if (!x) return NAN;

    printf("\nstep size %.1f\n%5s %14s %14s\n", lr, "iter", "x", "y = x^2");
    printf("%5d %14.6g %14.6g\n", 0, x0, x0 * x0);
    int it;
    for (it = 1; it <= MAX_ITERS; it++) {
        ag_scope_begin(); /* 2. everything made until ag_scope_end is released there */

        ag_tensor *y = ag_square(x); /* 3. forward: y = x^2 */

        if (ag_backward(y) != 0) { /* 4. dy/dx, into x's .grad */
            fprintf(stderr, "backward failed: %s\n", ag_last_error());
            ag_scope_end();
            ag_release(x);
            return NAN;
        }

        ag_no_grad_begin(); /* 5. the update is not part of any graph */
        ag_tensor *grad = ag_grad_of(x);            /* borrowed: do not release */
        ag_tensor *step = ag_mul_s(grad, lr);       /* lr * dy/dx */
        ag_copy_(x, ag_sub(x, step));               /* x <- x - lr * dy/dx, in place */
        ag_no_grad_end();

        ag_zero_grad(x); /* 6. fresh gradient next time */
        ag_scope_end();

        if (ag_failed()) { /* errors stick: one check per iteration is enough */
            fprintf(stderr, "iteration %d failed: %s\n", it, ag_last_error());
            ag_release(x);
            return NAN;
        }
        double xv = ag_item(x);
        printf("%5d %14.6g %14.6g\n", it, xv, xv * xv);
        if (fabs(xv) < CONVERGED || fabs(xv) > DIVERGED) break;
    }
    *steps = it > MAX_ITERS ? MAX_ITERS : it;
    double result = ag_item(x);
    ag_release(x); /* the parameter was ours (made outside any scope) */
    return result;
}

int main(void) {
    DEV = ag_device_default();
    const double x0 = -4.0;
    const double rates[] = {0.1, 0.6, 1.5};
    double final_x[3];
    int steps[3] = {0, 0, 0};

    printf("Minimising y = x^2 from x = %g by gradient descent (dy/dx from autograd)\n", x0);
    for (int i = 0; i < 3; i++) {
        final_x[i] = descend(x0, rates[i], &steps[i]);
        if (isnan(final_x[i])) return 2;
        double r = 1 - 2 * rates[i];
        if (fabs(final_x[i]) < CONVERGED)
            printf("-> step size %.1f converged: x = %.3g after %d steps (x is multiplied by %.1f each step)\n",
                   rates[i], final_x[i], steps[i], r);
        else if (fabs(final_x[i]) > fabs(x0))
            printf("-> step size %.1f DIVERGED: |x| grew to %.3g after %d steps (x is multiplied by %.1f "
                   "each step, |%.1f| > 1: the step overshoots the minimum by more than it corrects)\n",
                   rates[i], fabs(final_x[i]), steps[i], r, r);
        else
            printf("-> step size %.1f has not converged yet: x = %.3g after %d steps\n", rates[i], final_x[i],
                   steps[i]);
    }

    int ok = 1;
    if (!(fabs(final_x[0]) < CONVERGED)) { fprintf(stderr, "FAIL: step size 0.1 did not converge to |x| < 1e-3\n"); ok = 0; }
    if (!(fabs(final_x[2]) > DIVERGED)) { fprintf(stderr, "FAIL: step size 1.5 did not diverge\n"); ok = 0; }
    if (ag_live_tensors() != 0) { fprintf(stderr, "FAIL: %lld tensors leaked\n", (long long)ag_live_tensors()); ok = 0; }
    return ok ? 0 : 1;
}
