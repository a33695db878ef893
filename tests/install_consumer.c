/* tests/install_consumer.c — compiled by scripts/check_install.sh against an installed
 * astrograd through pkg-config, to prove the installed headers, library and .pc file work. */
#include <astrograd.h>
#include <stdio.h>

int main(void) {
    ag_tensor *x = ag_set_requires_grad(ag_full(AG_SHAPE(3), 2.0, AG_F64), true);
    ag_tensor *y = ag_sum(ag_square(x), AG_ALL_DIMS, false);
    if (!y || ag_backward(y)) { fprintf(stderr, "%s\n", ag_last_error()); return 1; }
    double g = ag_item(ag_sum(ag_grad_of(x), AG_ALL_DIMS, false));
    printf("astrograd %s installed: d/dx sum(x^2) at x=2 summed over 3 = %g\n", ag_version(), g);
    return g == 12.0 ? 0 : 1;
}
