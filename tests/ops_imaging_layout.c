/* tests/ops_imaging_layout.c — op-table rows for the imaging layouts (tensor/layout.c;
 * fixtures: fixturegen/imaging_layout.py). The _odd rows check the inverse maps where
 * fftshift != ifftshift; sky_roundtrip_t feeds a transposed (strided) view back in. The
 * hermitian_fill rows take any complex half plane (odd n, conjugated, scaled) and, _rfft, the
 * rfft2 + fill of FourierCube against torch's full fft2. */
#include "astrograd/imaging.h"
#include "op_table.h"

OPFN(packed_to_sky, ag_packed_to_sky(x[0]))
OPFN(packed_to_sky_odd, ag_packed_to_sky(x[0]))
OPFN(sky_to_packed, ag_sky_to_packed(x[0]))
OPFN(sky_to_packed_odd, ag_sky_to_packed(x[0]))
OPFN(packed_to_ground, ag_packed_to_ground(x[0]))
OPFN(packed_to_ground_odd, ag_packed_to_ground(x[0]))
OPFN(ground_to_packed, ag_ground_to_packed(x[0]))
OPFN(ground_to_packed_odd, ag_ground_to_packed(x[0]))
OPFN(hermitian_fill, ag_hermitian_fill(x[0], 8, 1.0, false))
OPFN(hermitian_fill_odd_conj, ag_hermitian_fill(x[0], 7, 0.3, true))
OPFN(hermitian_fill_rfft, ag_hermitian_fill(ag_rfftn(x[0], AG_DIMS(-2, -1), AG_NORM_BACKWARD), 8, 2.5, false))
OPFN(sky_roundtrip_t, ag_sky_to_packed(ag_transpose(ag_packed_to_sky(x[0]), -1, -2)))

#define ROW(nm) {.name = #nm, .fn = f_##nm, .n_in = 1, .dtypes = DT_FLOAT}
const op_row ops_imaging_layout[] = {
    ROW(packed_to_sky), ROW(packed_to_sky_odd), ROW(sky_to_packed), ROW(sky_to_packed_odd),
    ROW(packed_to_ground), ROW(packed_to_ground_odd), ROW(ground_to_packed), ROW(ground_to_packed_odd),
    ROW(sky_roundtrip_t),
    {.name = "hermitian_fill", .fn = f_hermitian_fill, .n_in = 1, .dtypes = DT_CPLX},
    {.name = "hermitian_fill_odd_conj", .fn = f_hermitian_fill_odd_conj, .n_in = 1, .dtypes = DT_CPLX},
    {.name = "hermitian_fill_rfft", .fn = f_hermitian_fill_rfft, .n_in = 1, .dtypes = DT_REAL},
    {0},
};
