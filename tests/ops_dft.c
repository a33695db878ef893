/* tests/ops_dft.c — op-table rows for the direct DFT (tensor/nufft_ops.c; fixtures:
 * fixturegen/dft.py): real and complex cubes, both signs, points shared by the channels and per
 * channel, a 2-d cube, and the adjoint. u, v arrive as standard normals and are scaled by 2^21 λ
 * here as in the script; they are not differentiated (the rows list no gradient for them). */
#include "astrograd/imaging.h"
#include "op_table.h"

#define S 2097152.0 /* 2^21 */

static const ag_grid_coords *grid(int64_t npix) {
    static ag_grid_coords g[4];
    ag_grid_coords *p = &g[npix / 2 - 2];
    ag_grid_coords_init(p, 0.01, npix);
    return p;
}

#define UV ag_mul_s(x[1], S), ag_mul_s(x[2], S)
OPFN(dft_shared, ag_dft(x[0], UV, grid(8), -1))
OPFN(dft_shared_vlbi, ag_dft(x[0], UV, grid(6), +1))
OPFN(dft_per_channel, ag_dft(x[0], UV, grid(6), 0))
OPFN(dft_per_channel_vlbi, ag_dft(x[0], UV, grid(8), +1))
OPFN(dft_2d, ag_dft(x[0], UV, grid(4), +1))
OPFN(dft_adjoint, ag_dft_adjoint(x[0], UV, grid(6), -1))
OPFN(dft_adjoint_shared_vlbi, ag_dft_adjoint(x[0], UV, grid(4), +1))
OPFN(dft_adjoint_1d, ag_dft_adjoint(x[0], UV, grid(4), -1))

#define ROW(nm, dt) {.name = #nm, .fn = f_##nm, .n_in = 3, .dtypes = dt, TOL(1e-10, 1e-5)}
const op_row ops_dft[] = {
    ROW(dft_shared, DT_FLOAT), ROW(dft_shared_vlbi, DT_FLOAT), ROW(dft_per_channel, DT_FLOAT),
    ROW(dft_per_channel_vlbi, DT_FLOAT), ROW(dft_2d, DT_FLOAT),
    ROW(dft_adjoint, DT_CPLX), ROW(dft_adjoint_shared_vlbi, DT_CPLX), ROW(dft_adjoint_1d, DT_CPLX),
    {0},
};
