/* tests/ops_imaging_layout.c — op-table rows for the imaging layouts (tensor/layout.c;
 * fixtures: fixturegen/imaging_layout.py). The _odd rows check the inverse maps where
 * fftshift != ifftshift; sky_roundtrip_t feeds a transposed (strided) view back in. */
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
OPFN(sky_roundtrip_t, ag_sky_to_packed(ag_transpose(ag_packed_to_sky(x[0]), -1, -2)))

#define ROW(nm) {.name = #nm, .fn = f_##nm, .n_in = 1, .dtypes = DT_FLOAT}
const op_row ops_imaging_layout[] = {
    ROW(packed_to_sky), ROW(packed_to_sky_odd), ROW(sky_to_packed), ROW(sky_to_packed_odd),
    ROW(packed_to_ground), ROW(packed_to_ground_odd), ROW(ground_to_packed), ROW(ground_to_packed_odd),
    ROW(sky_roundtrip_t),
    {0},
};
