/* tests/ops_fft.c — op-table rows for fft ops (fixtures: fixturegen/fft.py). */
#include "op_table.h"

#define NB AG_NORM_BACKWARD
#define NO AG_NORM_ORTHO
#define NF AG_NORM_FORWARD

OPFN(fft, ag_fft(x[0], -1, -1, NB))
OPFN(fft_odd_dim0, ag_fft(x[0], -1, D(0), NB))
OPFN(fft_pad, ag_fft(x[0], 10, -1, NB))
OPFN(fft_trunc, ag_fft(x[0], 5, D(1), NB))
OPFN(fft_ortho, ag_fft(x[0], -1, -1, NO))
OPFN(fft_forward, ag_fft(x[0], -1, -1, NF))
OPFN(ifft, ag_ifft(x[0], -1, -1, NB))
OPFN(ifft_odd, ag_ifft(x[0], -1, D(0), NB))
OPFN(ifft_n, ag_ifft(x[0], 9, -1, NB))
OPFN(ifft_ortho, ag_ifft(x[0], -1, -1, NO))
OPFN(ifft_forward, ag_ifft(x[0], -1, -1, NF))
OPFN(fft2, ag_fft2(x[0], NB))
OPFN(fft2_ortho, ag_fft2(x[0], NO))
OPFN(ifft2, ag_ifft2(x[0], NB))
OPFN(ifft2_forward, ag_ifft2(x[0], NF))
OPFN(fftn_02, ag_fftn(x[0], AG_DIMS(D(0), D(2)), NB))
OPFN(fftn_all, ag_fftn(x[0], AG_ALL_DIMS, NB))
OPFN(ifftn_10_forward, ag_ifftn(x[0], AG_DIMS(D(1), D(0)), NF))
OPFN(rfft, ag_rfft(x[0], -1, -1, NB))
OPFN(rfft_odd, ag_rfft(x[0], -1, -1, NB))
OPFN(rfft_pad, ag_rfft(x[0], 12, -1, NB))
OPFN(rfft_trunc, ag_rfft(x[0], 5, D(0), NB))
OPFN(rfft_ortho, ag_rfft(x[0], -1, -1, NO))
OPFN(rfft_forward, ag_rfft(x[0], -1, -1, NF))
OPFN(rfftn, ag_rfftn(x[0], AG_DIMS(D(0), D(1)), NB))
OPFN(rfftn_all_odd, ag_rfftn(x[0], AG_ALL_DIMS, NO))
OPFN(irfft, ag_irfft(x[0], -1, -1, NB))
OPFN(irfft_odd, ag_irfft(x[0], 9, -1, NB))
OPFN(irfft_pad, ag_irfft(x[0], 14, -1, NB))
OPFN(irfft_trunc, ag_irfft(x[0], 6, D(0), NB))
OPFN(irfft_ortho, ag_irfft(x[0], -1, -1, NO))
OPFN(irfft_forward, ag_irfft(x[0], 7, -1, NF))
OPFN(irfftn, ag_irfftn(x[0], AG_DIMS(D(0), D(1)), -1, NB))
OPFN(irfftn_odd, ag_irfftn(x[0], AG_DIMS(D(0), D(1)), 5, NO))
OPFN(fftshift, ag_fftshift(x[0], AG_ALL_DIMS))
OPFN(fftshift_dim, ag_fftshift(x[0], AG_DIMS(D(1))))
OPFN(ifftshift, ag_ifftshift(x[0], AG_ALL_DIMS))
OPFN(ifftshift_dim0, ag_ifftshift(x[0], AG_DIMS(D(0))))
OPFN(fftshift_3d, ag_fftshift(x[0], AG_DIMS(D(0), D(2))))

#define ROW(nm, n, dts, ...) {.name = #nm, .fn = f_##nm, .n_in = n, .dtypes = dts, __VA_ARGS__}
const op_row ops_fft[] = {
    ROW(fft, 1, DT_FLOAT), ROW(fft_odd_dim0, 1, DT_FLOAT), ROW(fft_pad, 1, DT_FLOAT), ROW(fft_trunc, 1, DT_FLOAT),
    ROW(fft_ortho, 1, DT_FLOAT), ROW(fft_forward, 1, DT_FLOAT),
    ROW(ifft, 1, DT_FLOAT), ROW(ifft_odd, 1, DT_FLOAT), ROW(ifft_n, 1, DT_FLOAT), ROW(ifft_ortho, 1, DT_FLOAT),
    ROW(ifft_forward, 1, DT_FLOAT),
    ROW(fft2, 1, DT_FLOAT), ROW(fft2_ortho, 1, DT_FLOAT), ROW(ifft2, 1, DT_FLOAT), ROW(ifft2_forward, 1, DT_FLOAT),
    ROW(fftn_02, 1, DT_FLOAT), ROW(fftn_all, 1, DT_FLOAT), ROW(ifftn_10_forward, 1, DT_FLOAT),
    ROW(rfft, 1, DT_REAL), ROW(rfft_odd, 1, DT_REAL), ROW(rfft_pad, 1, DT_REAL), ROW(rfft_trunc, 1, DT_REAL),
    ROW(rfft_ortho, 1, DT_REAL), ROW(rfft_forward, 1, DT_REAL), ROW(rfftn, 1, DT_REAL), ROW(rfftn_all_odd, 1, DT_REAL),
    ROW(irfft, 1, DT_CPLX), ROW(irfft_odd, 1, DT_CPLX), ROW(irfft_pad, 1, DT_CPLX), ROW(irfft_trunc, 1, DT_CPLX),
    ROW(irfft_ortho, 1, DT_CPLX), ROW(irfft_forward, 1, DT_CPLX), ROW(irfftn, 1, DT_CPLX), ROW(irfftn_odd, 1, DT_CPLX),
    ROW(fftshift, 1, DT_FLOAT), ROW(fftshift_dim, 1, DT_FLOAT), ROW(ifftshift, 1, DT_FLOAT),
    ROW(ifftshift_dim0, 1, DT_FLOAT), ROW(fftshift_3d, 1, DT_FLOAT),
    {0},
};
