/* astrograd/imaging.h — imaging layers for radio interferometry: MPoL's RML toolkit in C.
 *
 * Units and layouts (MPoL's, exactly; read once):
 *  - Images are in Jy/arcsec², cell sizes in arcsec, u and v in wavelengths (λ; MPoL 0.2 used kλ).
 *    A cube has shape (nchan, npix, npix), npix even.
 *  - PACKED cube: what BaseCube holds and the FFT consumes; l = m = 0 at [0, 0] (fftshifted).
 *    FLIP cube F = fftshift(P): l and m increase with index, origin at [npix/2, npix/2].
 *    SKY cube S = flip(F, last axis): rows m increasing (north up), columns l decreasing (east
 *    left): the sky origin is at row npix/2, column npix/2 - 1. l is the RA offset, positive east.
 *  - Packed visibilities: cell [0, 0] is u = v = 0 (FFT order); ground = fftshift(packed): u
 *    increasing with column, v with row, no flip.
 *  - Fourier sign: MPoL's V = Σ I e^{-2πi(ul+vm)} is the default; VLBI data (EHT UVFITS from
 *    HOPS/AIPS) follow e^{+2πi(ul+vm)}: the Fourier layers take the sign as an option.
 *
 * Errors and lifetimes follow tensor.h and nn.h: functions returning pointers give NULL with
 * ag_last_error() set, functions returning int give a negative ag_status; modules own their
 * parameters; every returned tensor is a new reference.
 */
#ifndef ASTROGRAD_IMAGING_H
#define ASTROGRAD_IMAGING_H

#include "tensor.h"
#include "autograd.h"
#include "nn.h"

#ifdef __cplusplus
extern "C" {
#endif

#define AG_ARCSEC (3.14159265358979323846 / (180.0 * 3600.0)) /* radians per arcsec */

/* ---- GridCoords (imaging/coords.c) ---------------------------------------------------- */

/* The image grid and the Fourier grid it implies (MPoL's GridCoords). A plain value: copy it
 * freely. The 1-d and 2-d coordinate arrays are made on request (ag_grid_*). */
typedef struct ag_grid_coords {
    double cell_size;          /* arcsec */
    int64_t npix;              /* even */
    double dl, dm;             /* rad: cell_size · π/(180·3600) */
    double du, dv;             /* λ: 1/(npix · dl) */
    double u_bin_min, u_bin_max, v_bin_min, v_bin_max; /* λ: outer cell edges, -du(npix/2 + 1/2) … du(npix/2 - 1/2) */
    double max_uv_grid_value;  /* λ: du(npix/2 - 1/2), the largest |u|, |v| check_data_fit accepts */
    double img_ext[4];         /* arcsec: (left, right, bottom, top) of the sky image, origin lower */
    double vis_ext[4];         /* λ: (u_bin_min, u_bin_max, v_bin_min, v_bin_max) */
} ag_grid_coords;

/* Grid of npix × npix cells of cell_size arcsec. npix odd or < 2, cell_size not positive and
 * finite: AG_ERR_INVALID, and *out is untouched. Returns 0 or a negative ag_status. */
AG_API int ag_grid_coords_init(ag_grid_coords *out, double cell_size, int64_t npix);
/* 0 when every |u|, |v| (any shape, real) fits the grid; otherwise AG_ERR_INVALID naming the
 * largest |u| and |v| and the largest cell size that would fit this npix. */
AG_API int ag_grid_check_data_fit(const ag_grid_coords *gc, ag_tensor *u, ag_tensor *v);

/* Coordinate arrays (f64, CPU; ag_to moves them). 1-d, length npix (edges npix + 1):
 * l/m centres [rad], u/v centres and edges [λ], in increasing (ground) order. */
typedef enum ag_grid_axis {
    AG_GRID_L_CENTERS, AG_GRID_M_CENTERS, AG_GRID_U_CENTERS, AG_GRID_V_CENTERS,
    AG_GRID_U_EDGES, AG_GRID_V_EDGES
} ag_grid_axis;
AG_API ag_tensor *ag_grid_axis_values(const ag_grid_coords *gc, ag_grid_axis axis);
/* 2-d arrays (npix, npix) as MPoL's *_centers_2D: x, y [arcsec] in the packed or sky layout;
 * u, v [λ], q = √(u² + v²) [λ], φ = atan2(v, u) in the packed or ground layout. */
typedef enum ag_grid_field {
    AG_GRID_X, AG_GRID_Y,      /* arcsec */
    AG_GRID_U, AG_GRID_V, AG_GRID_Q, AG_GRID_PHI
} ag_grid_field;
typedef enum ag_grid_layout { AG_LAYOUT_PACKED, AG_LAYOUT_SKY } ag_grid_layout; /* for u, v, q, φ: SKY = ground */
AG_API ag_tensor *ag_grid_centers_2d(const ag_grid_coords *gc, ag_grid_field field, ag_grid_layout layout);

/* ---- Visibility sets (imaging/vis.c) --------------------------------------------------- */

/* Loose visibilities, as MPoL's (uu, vv, data, weight): tensors of shape (nchan, nvis) on one
 * device, u and v real [λ], data complex [Jy], weight real (1/σ²) [1/Jy²], same dtype
 * family (f64 with c128, f32 with c64). The optional fields are NULL (or 0) when a reader has
 * none. An ag_vis owns its tensors and strings; ag_vis_free frees them all. */
typedef struct ag_vis {
    int64_t nchan, nvis;
    ag_tensor *u, *v, *data, *weight;
    ag_tensor *freq;           /* (nchan) Hz, or NULL */
    ag_tensor *time;           /* (nvis) seconds (MJD·86400 for UVFITS), or NULL */
    ag_tensor *ant1, *ant2;    /* (nvis) i64 station indices into stations[], or NULL */
    char **stations;           /* nstations names, or NULL */
    int nstations;
} ag_vis;
/* New set taking over the references to u, v, data and weight (also on failure, and also from
 * a scope). 1-d tensors are taken as one channel. Checks: all present, one shape, one device,
 * u/v/weight real and data complex of the matching precision, weights finite and > 0, data
 * finite; each failure a clear error naming ag_vis_new and the offending tensor. */
AG_API ag_vis *ag_vis_new(ag_tensor *u, ag_tensor *v, ag_tensor *data, ag_tensor *weight);
AG_API void ag_vis_free(ag_vis *vis);   /* NULL is a no-op */

/* ---- Layouts, cubes and Fourier layers (imaging/cube.c) --------------------------------- */

/* ---- Visibility losses and regularizers: fused ops (tensor/imaging_ops.c) -------------- */

/* MPoL's losses.py as fused ops: one forward and one backward pass each, on any device whose
 * backend has the kernels (CPU and the test device; CUDA: AG_ERR_NOTIMPL for now). Results are
 * 0-d tensors of the real dtype, new references. Sums are deterministic (the same bits for any
 * thread count). Second derivatives are not implemented: under create_graph the backward fails
 * with AG_ERR_NOTIMPL (compose the formula from primitive ops if you need them).
 *
 * Visibility losses: model m and data d complex (c64 or c128, one dtype), weight w real of the
 * matching precision (1/σ² [1/Jy²]), all three of one shape (any); N = their number of elements
 * (of the selected ones with a mask).
 *   ag_chi_squared            χ² = Σ w|d − m|²                       (weights ≥ 0)
 *   ag_r_chi_squared          χ²/(2N)                               (MPoL's nll)
 *   ag_log_likelihood         −N ln 2π + Σ ln w − χ²/2               (weights > 0)
 *   ag_neg_log_likelihood_avg −log_likelihood/(2N), may be negative  (weights > 0)
 * The log likelihood: MPoL 0.2's log_likelihood subtracts Σ 1/w instead of adding
 * Σ ln w (its docstring and code disagree); we follow −N ln 2π + Σ ln w − χ²/2.
 * Differentiable in m (PyTorch's convention: dL/dRe m + i dL/dIm m) and in w; d is treated as a
 * constant. Errors (NULL, message naming the function): a real model, d or w of another dtype,
 * shapes that differ, mixed devices, a NaN or negative weight (zero too where its logarithm is
 * taken), no element for the losses that divide by N. */
AG_API ag_tensor *ag_chi_squared(ag_tensor *model, ag_tensor *data, ag_tensor *weight);
AG_API ag_tensor *ag_r_chi_squared(ag_tensor *model, ag_tensor *data, ag_tensor *weight);
AG_API ag_tensor *ag_log_likelihood(ag_tensor *model, ag_tensor *data, ag_tensor *weight);
AG_API ag_tensor *ag_neg_log_likelihood_avg(ag_tensor *model, ag_tensor *data, ag_tensor *weight);
/* The same over the elements where mask (bool, the model's shape) is true; the others are not
 * read for the loss and get zero gradient. For the gridded forms (masked cubes). */
AG_API ag_tensor *ag_chi_squared_masked(ag_tensor *model, ag_tensor *data, ag_tensor *weight, ag_tensor *mask);
AG_API ag_tensor *ag_neg_log_likelihood_avg_masked(ag_tensor *model, ag_tensor *data, ag_tensor *weight,
                                                   ag_tensor *mask);

/* Regularizers of an image (f32 or f64) in Jy/arcsec², as MPoL 0.2:
 *   ag_entropy(I, p, ζ)     (1/ζ) Σ I ln(I/p); p (I's dtype) broadcasts to I (a 0-d tensor for a
 *                           scalar; ag_entropy_s takes a double), ζ the flux normaliser (MPoL's
 *                           tot_flux, default 10), finite > 0. Any shape. Differentiable in I and p.
 *                           A pixel < 0 or NaN, or a prior ≤ 0: error naming the element.
 *                           A pixel exactly 0 gives NaN, as torch does (0 · ln 0).
 *   ag_sparsity(I, mask)    Σ |I| over mask (bool, I's shape; NULL: all pixels). Any shape.
 *                           Gradient sign(I) (0 at 0, as torch).
 *   ag_tv_image(S, ε)       Σ_c Σ_{j,k < npix−1} √((S[c,j,k+1]−S[c,j,k])² + (S[c,j+1,k]−S[c,j,k])² + ε)
 *                           of the SKY cube S (nchan, ny, nx) or image (ny, nx); ε ≥ 0 (MPoL: 1e-10).
 *   ag_tsv(S)               the same sum of squares, without root and ε.
 *   ag_tv_channel(I, ε)     Σ √((I[c+1]−I[c])² + ε) over c < nchan−1 and all pixels; 3-d only.
 *   ag_edge_clamp(I)        Σ I² over rows 0 and ny−1 plus columns 0 and nx−1 (corners counted
 *                           twice, as MPoL's); 3-d only.
 * Errors: a complex or integer image, TV/TSV of fewer than 2 or more than 3 dims, TV_channel and
 * edge_clamp of other than 3 dims, a bad ε or ζ, a mask or prior that does not fit. PSD and
 * UV_sparsity are not implemented yet. */
AG_API ag_tensor *ag_entropy(ag_tensor *cube, ag_tensor *prior_intensity, double tot_flux);
AG_API ag_tensor *ag_entropy_s(ag_tensor *cube, double prior_intensity, double tot_flux);
AG_API ag_tensor *ag_sparsity(ag_tensor *cube, ag_tensor *mask);
AG_API ag_tensor *ag_tv_image(ag_tensor *sky_cube, double epsilon);
AG_API ag_tensor *ag_tsv(ag_tensor *sky_cube);
AG_API ag_tensor *ag_tv_channel(ag_tensor *cube, double epsilon);
AG_API ag_tensor *ag_edge_clamp(ag_tensor *cube);

/* ---- Gridding, dirty imaging, cross-validation (imaging/gridding.c, dirty.c, crossval.c) -- */

/* ---- Files and figures (imaging/io.c, uvsim.c, fits.c, figure.c) ------------------------ */

/* ---- NuFFT and direct DFT (tensor/nufft_ops.c, imaging/nufft.c) ------------------------ */

#ifdef __cplusplus
}
#endif

#endif
