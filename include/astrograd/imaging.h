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
    /* Added for the VLBI readers (ag_read_uvfits); ag_vis_new leaves them NULL / 0. */
    ag_tensor *sigma;          /* (nchan, nvis) Jy, 1/√weight, or NULL */
    int fourier_sign;          /* +1: V = Σ I e^{+2πi(ul+vm)} (AIPS/HOPS/eht-imaging), -1: MPoL's, 0: unknown */
    double ref_freq;           /* Hz, the frequency u and v were scaled with when one (UVFITS: CRVAL of FREQ), or 0 */
    double ra, dec;            /* deg, pointing centre (UVFITS: CRVAL of RA and DEC), or 0 */
    char *source;              /* OBJECT, or NULL */
    char *date_obs;            /* DATE-OBS as written in the file, or NULL */
} ag_vis;
/* New set taking over the references to u, v, data and weight (also on failure, and also from
 * a scope). 1-d tensors are taken as one channel. Checks: all present, one shape, one device,
 * u/v/weight real and data complex of the matching precision, weights finite and > 0, data
 * finite; each failure a clear error naming ag_vis_new and the offending tensor. */
AG_API ag_vis *ag_vis_new(ag_tensor *u, ag_tensor *v, ag_tensor *data, ag_tensor *weight);
AG_API void ag_vis_free(ag_vis *vis);   /* NULL is a no-op */

/* ---- Layouts, cubes and Fourier layers (imaging/cube.c) --------------------------------- */

/* Layout conversions over the last two dims (rows, columns) of a tensor of any leading dims,
 * f32/f64/c64/c128, on any device; one gather pass each (tensor/layout.c), differentiable
 * (the backward is the inverse permutation). New reference; NULL input, fewer than 2 dims or a
 * non-float dtype: NULL with the error set. Cubes have even npix, where fftshift = ifftshift;
 * for odd sizes these are numpy's fftshift (packed -> sky/ground) and ifftshift (the way back).
 *  - ag_packed_to_sky: S = flip(fftshift(P), last axis); ag_sky_to_packed its inverse.
 *  - ag_packed_to_ground: fftshift over the last two dims (visibilities, no flip);
 *    ag_ground_to_packed its inverse. */
AG_API ag_tensor *ag_packed_to_sky(ag_tensor *cube);
AG_API ag_tensor *ag_sky_to_packed(ag_tensor *cube);
AG_API ag_tensor *ag_packed_to_ground(ag_tensor *vis);
AG_API ag_tensor *ag_ground_to_packed(ag_tensor *vis);
/* The full 2-d spectrum of real data from its rfft half plane, fused in one pass (tensor/layout.c,
 * differentiable, any device with the kernel): half (..., H, n/2 + 1) c64/c128, as ag_rfftn over
 * the last two dims gives for a last dim of n; returns (..., H, n) of half's dtype:
 * scale · F or, when conjugate, scale · conj(F), with F[..., i, j] = half[..., i, j] for
 * j <= n/2 and conj(half[..., (H - i) % H, n - j]) beyond (V(-u, -v) = conj V(u, v)). Any
 * complex half is taken as it is (no check that columns 0 and n/2 are Hermitian themselves).
 * NULL with the error set: a real or integer half, fewer than 2 dims, n < 1 or a last dim other
 * than n/2 + 1. */
AG_API ag_tensor *ag_hermitian_fill(ag_tensor *half, int64_t n, double scale, bool conjugate);

/* Modules (imaging/cube.c): made in the default dtype (f64) on the CPU, ag_module_to /
 * ag_module_to_dtype move them; gc is copied. Constructors fail (NULL, error set) on a NULL or
 * invalid gc (npix odd or < 2) or nchan < 1; forwards fail on a cube that is not
 * (nchan, npix, npix) of a float dtype. */

/* BaseCube: parameter "base_cube" b (nchan, npix, npix), packed layout; forward(NULL) gives
 * the packed image I = map(b) [Jy/arcsec²]. map: AG_PIXEL_SOFTPLUS (softplus, beta 1,
 * threshold 20), AG_PIXEL_IDENTITY, or AG_PIXEL_USER (user_fn(b, ctx), a new reference; ctx
 * borrowed and must outlive the module). init NULL: b = -3 everywhere; else the initial b
 * (taken over, also on failure and from a scope; shape (nchan, npix, npix), f32 or f64).
 * Forward takes no input: a non-NULL x is AG_ERR_INVALID. */
typedef enum ag_pixel_map { AG_PIXEL_SOFTPLUS, AG_PIXEL_IDENTITY, AG_PIXEL_USER } ag_pixel_map;
AG_API ag_module *ag_base_cube(const ag_grid_coords *gc, int64_t nchan, ag_pixel_map map,
                               ag_tensor *(*user_fn)(ag_tensor *b, void *ctx), void *ctx, ag_tensor *init);

/* ImageCube (passthrough): forward(cube) returns the packed cube (an alias, differentiable) and
 * keeps a reference to it until the next forward or ag_module_free. After a forward:
 * ag_image_cube_sky gives the sky cube (ag_packed_to_sky of it), ag_image_cube_flux the
 * per-channel flux cell_size² Σ_{rows, columns} P [Jy], shape (nchan); both differentiable new
 * references, NULL with an error before any forward. */
AG_API ag_module *ag_image_cube(const ag_grid_coords *gc, int64_t nchan);
AG_API ag_tensor *ag_image_cube_sky(ag_module *m);
AG_API ag_tensor *ag_image_cube_flux(ag_module *m);

/* FourierCube: forward(packed cube (nchan, npix, npix)) gives the packed visibility cube
 * vis = cell_size² Σ_{l,m} P e^{sign 2πi(ul + vm)} [Jy], (nchan, npix, npix) complex (c128 for
 * f64/c128 input, c64 for f32/c64). sign -1 (MPoL, the default; 0 means -1) is the FFT; +1 (VLBI)
 * the inverse FFT times npix². A real cube takes the r2c transform and the half plane is filled
 * out by Hermitian symmetry (V(-u,-v) = conj V(u,v)); no promotion to complex. */
typedef struct ag_fourier_opts { int sign; } ag_fourier_opts;
AG_API ag_module *ag_fourier_cube(const ag_grid_coords *gc, ag_fourier_opts opts);
/* MPoL's FourierCube.ground_vis: the last forward's visibilities in the ground layout
 * (ag_packed_to_ground; MPoL's ground_amp / ground_phase are ag_abs / ag_angle of it). The module
 * keeps a reference to its last output until the next forward or ag_module_free.
 * Differentiable new reference; NULL with an error before any forward or for another module. */
AG_API ag_tensor *ag_fourier_cube_ground_vis(ag_module *m);

/* Convolution layers (MPoL's; real f32/f64 cubes of the module's dtype, nchan as made; other
 * shapes or dtypes: AG_ERR_SHAPE / AG_ERR_DTYPE naming the forward). Trainable kernels are the
 * parameters "weight" (nchan, 1, k, k) and "bias" (nchan, zero); otherwise they are buffers of
 * those names, so ag_module_to / ag_module_to_dtype move them either way.
 *  - HannConvCube (MPoL 0.2): forward(packed cube (nchan, rows, columns)) convolves its sky
 *    cube with the 3 × 3 kernel [.25 .5 .25]ᵀ[.25 .5 .25] (zero padding, same size) and gives
 *    the result packed again. nchan < 1: NULL with AG_ERR_INVALID.
 *  - GaussConvImage (MPoL after 0.2): forward(SKY cube (nchan, npix, npix)) gives the sky cube
 *    convolved ("same" zero padding) with MPoL's normalized elliptical Gaussian: FWHM_maj along
 *    north-south at Omega = 0, Omega [deg] east of north, σ = FWHM / (2 √(2 ln 2)) [arcsec],
 *    sampled on k = 1 + 2 ceil(3 σ_maj / cell_size) points of linspace(-3 σ_maj, 3 σ_maj) per
 *    axis, as MPoL (a spacing at most one cell) and summing to 1. FWHMs not finite and > 0, or
 *    a kernel wider than 4 npix + 1 (a bound of ours): NULL with AG_ERR_INVALID.
 *  - GaussConvFourier (MPoL after 0.2): forward(packed cube (nchan, npix, npix), any nchan)
 *    gives Re ifft2(fft2(P) · T), T = exp(-2π²(σ_l² u'² + σ_m² v'²)) on the packed u, v centres
 *    [λ], u' = u cos Ω - v sin Ω, v' = u sin Ω + v cos Ω, σ_l from FWHM_maj, σ_m from FWHM_min
 *    [rad] (MPoL's uv_gaussian_taper: its major axis is east-west at Ω = 0, unlike
 *    GaussConvImage's). Buffers "taper_2D" (T, npix × npix, packed) and "taper_rfft" (the rfft2
 *    half plane of T's part even on the grid, which the forward applies: one rfft2 and one
 *    irfft2, real throughout). Same errors as GaussConvImage's FWHM checks. */
AG_API ag_module *ag_hann_conv_cube(int64_t nchan, bool requires_grad);
AG_API ag_module *ag_gauss_conv_image(const ag_grid_coords *gc, int64_t nchan, double fwhm_maj, double fwhm_min,
                                      double omega, bool requires_grad);
AG_API ag_module *ag_gauss_conv_fourier(const ag_grid_coords *gc, double fwhm_maj, double fwhm_min, double omega);

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
 *                           A pixel < 0 or NaN, or a prior ≤ 0 or NaN: AG_ERR_INVALID naming the
 *                           first one's flat index.
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
 * UV_sparsity: ag_psd, ag_uv_sparsity below. */
AG_API ag_tensor *ag_entropy(ag_tensor *cube, ag_tensor *prior_intensity, double tot_flux);
AG_API ag_tensor *ag_entropy_s(ag_tensor *cube, double prior_intensity, double tot_flux);
AG_API ag_tensor *ag_sparsity(ag_tensor *cube, ag_tensor *mask);
AG_API ag_tensor *ag_tv_image(ag_tensor *sky_cube, double epsilon);
AG_API ag_tensor *ag_tsv(ag_tensor *sky_cube);
AG_API ag_tensor *ag_tv_channel(ag_tensor *cube, double epsilon);
AG_API ag_tensor *ag_edge_clamp(ag_tensor *cube);

/* The usual RML regularizers of a sky cube S (nchan, npix, npix) or image (npix, npix), f32 or
 * f64, as one fused op (one pass forward, one backward, instead of four of each plus the sums of
 * their gradients):
 *   entropy · ag_entropy_s(S, prior_intensity, tot_flux) + sparsity · ag_sparsity(S, NULL)
 *   + tv · ag_tv_image(S, tv_epsilon) + tsv · ag_tsv(S)
 * A weight of 0 drops its term (and, for the entropy, its checks and its prior and flux, which
 * may then be 0). Same values and gradients as the four ops summed (to rounding), the same
 * errors (pixels < 0 or NaN when entropy ≠ 0, naming the first flat index), and weights not
 * finite: AG_ERR_INVALID naming ag_image_priors. Differentiable in S (no second derivatives). */
typedef struct ag_prior_weights {
    double entropy, prior_intensity, tot_flux; /* MPoL's default tot_flux: 10 */
    double sparsity;
    double tv, tv_epsilon;                     /* MPoL: tv_epsilon 1e-10 */
    double tsv;
} ag_prior_weights;
AG_API ag_tensor *ag_image_priors(ag_tensor *sky_cube, const ag_prior_weights *w);

/* MPoL's visibility-plane regularizers (imaging/priors.c, composed from primitive ops, so
 * differentiable to any order and on every device):
 *   ag_uv_sparsity(V, q, q_max)  Σ_{q > q_max} |Re V| + |Im V|: V complex, q real [λ] broadcasting
 *                                to V (e.g. ag_grid_centers_2d(gc, AG_GRID_Q, AG_LAYOUT_PACKED)
 *                                for FourierCube's output). MPoL 0.2 takes the rfft half plane; pass
 *                                that half and its q for its number (the full plane counts each
 *                                Hermitian pair twice).
 *   ag_psd(q, psd, l)            Σ psd / P(q), P(q) = 2π l² exp(−2π² l² q²) (a Gaussian process of
 *                                correlation length l [arcsec], here in radians): q [λ] (MPoL's kλ
 *                                × 1e3) and psd real, broadcasting to each other.
 * Errors: NULL arguments, a real V, complex q or psd (AG_ERR_DTYPE), shapes that do not broadcast,
 * q_max < 0 or not finite, l ≤ 0 or not finite (AG_ERR_INVALID), each naming the function. */
AG_API ag_tensor *ag_uv_sparsity(ag_tensor *vis, ag_tensor *q, double q_max);
AG_API ag_tensor *ag_psd(ag_tensor *q, ag_tensor *psd, double l);

/* ---- Gridding, dirty imaging, cross-validation (imaging/gridding.c, dirty.c, crossval.c) --- */

/* Gridded visibilities (MPoL's GriddedDataset): cubes of shape (nchan, npix, npix) in the PACKED
 * layout (cell [0, 0] is u = v = 0; MPoL's "ground" cube is ag_packed_to_ground of it),
 * vis_gridded complex [Jy], weight_gridded real [1/Jy²] (the summed weight Σ w of each cell: the
 * averaged visibility's uncertainty is σ = 1/√weight_gridded), mask bool (cells holding data);
 * the masked cells, in C order over (channel, packed row, packed column) as torch's boolean
 * indexing, are pre-indexed once: index (nmask) i64 flat positions into the cube, vis_indexed
 * and weight_indexed (nmask) the data and weights there (MPoL's vis_indexed, weight_indexed).
 * All tensors on one device, in one precision (c128/f64 or c64/f32). The dataset owns its
 * tensors; read them, never replace them. */
typedef struct ag_gridded_dataset {
    ag_grid_coords coords;
    int64_t nchan, nmask;
    ag_tensor *vis_gridded, *weight_gridded, *mask;  /* (nchan, npix, npix), packed */
    ag_tensor *index;                                /* (nmask) i64 */
    ag_tensor *vis_indexed, *weight_indexed;         /* (nmask) */
} ag_gridded_dataset;

/* New dataset taking over the three references (also on failure, and also from a scope).
 * Checks: gc initialised; vis_gridded complex of shape (nchan, npix, npix) (a 2-d (npix, npix)
 * cube is one channel) with gc's npix; weight_gridded real of the matching precision and mask
 * bool of that shape; one device; weights finite and >= 0, > 0 in every masked cell; data
 * finite. Each failure: NULL and an error naming ag_gridded_dataset_new. The tensors are read
 * once on the host to build the index (not in any op). */
AG_API ag_gridded_dataset *ag_gridded_dataset_new(const ag_grid_coords *gc, ag_tensor *vis_gridded,
                                                  ag_tensor *weight_gridded, ag_tensor *mask);
AG_API void ag_gridded_dataset_free(ag_gridded_dataset *ds);   /* NULL is a no-op */
/* Moves every tensor of ds to dev (in place; on failure ds is unchanged). 0 or a negative ag_status. */
AG_API int ag_gridded_dataset_to(ag_gridded_dataset *ds, ag_device dev);
/* model_vis[mask] (MPoL's GriddedDataset.forward): model_vis complex (nchan, npix, npix), packed
 * (FourierCube's output), on ds's device and of its dtype; returns a new (nmask) complex tensor in
 * the order of ds->vis_indexed and ds->weight_indexed: one gather (ag_take) with the stored index,
 * no mask search per call, no host reads. Differentiable w.r.t. model_vis (the gradient is
 * scattered back to the masked cells). Errors (NULL, naming the function): ds or model_vis NULL,
 * another shape (AG_ERR_SHAPE), dtype (AG_ERR_DTYPE) or device. */
AG_API ag_tensor *ag_gridded_dataset_forward(const ag_gridded_dataset *ds, ag_tensor *model_vis);
/* MPoL's nll_gridded: Σ w |V - M|² / (2 nmask) over the masked cells, a new 0-d real tensor
 * (composed of ag ops; |V - M|² as re² + im²); differentiable w.r.t. model_vis; errors as
 * ag_gridded_dataset_forward, and AG_ERR_INVALID for a dataset without masked cells. */
AG_API ag_tensor *ag_gridded_dataset_nll(const ag_gridded_dataset *ds, ag_tensor *model_vis);
/* A new dataset restricted to mask2d (MPoL's GriddedDataset.add_mask, on a copy: ds is
 * unchanged): mask2d bool (npix, npix), packed, on ds's device, borrowed; broadcast over the
 * channels and and-ed with ds->mask; the gridded vis and weights are zeroed outside the new mask
 * and the indexed values rebuilt. NULL with the error set (naming ag_gridded_dataset_masked) for
 * NULL arguments, another dtype (AG_ERR_DTYPE), shape (AG_ERR_SHAPE) or device. */
AG_API ag_gridded_dataset *ag_gridded_dataset_masked(const ag_gridded_dataset *ds, ag_tensor *mask2d);

/* MPoL's DataAverager.to_pytorch_dataset: loose visibilities -> gridded dataset. Per packed cell
 * of each channel: weight_gridded = Σ w, vis_gridded = Σ w V / Σ w (the weighted mean), mask =
 * Σ w > 0. Cells are MPoL's (ground index iu from u, iv from v; packed = fftshift), binned by
 * fast_histogram's rule over [u_bin_min, u_bin_max) × [v_bin_min, v_bin_max) (lower edges
 * closed, upper open: a point on u = u_bin_max or v = v_bin_max is dropped). One difference from
 * MPoL 0.2, on purpose: MPoL looks up the weight W a point's value is divided by with
 * np.digitize, which for a point exactly on an interior cell edge can pick the neighbouring cell
 * (rounding) and then gives NaN or a wrong mean; here every sum and lookup uses the one
 * fast_histogram cell (identical to MPoL for every point off the edges).
 * add_conjugates false: MPoL 0.2's DataAverager (the points only, so a Hermitian model is
 * compared at each baseline once). true: every point also enters at (-u, -v) with conj V and
 * its weight, so the mask is point-symmetric (what the gridding issue asked for; for a Hermitian
 * model the nll is then the same up to the cells where a point and a conjugate share a cell,
 * such as u = v = 0).
 * Errors (NULL, nothing made, naming ag_data_average): gc or vis NULL or gc uninitialised
 * (AG_ERR_INVALID), vis tensors not (nchan, nvis) (AG_ERR_SHAPE), non-finite values or weights
 * <= 0, points beyond the grid (the largest |u| and |v| [λ], the grid's reach and the cell size
 * that would fit, as ag_grid_check_data_fit), Hermitian pairs in the input (MPoL's check: the
 * first min(5, nvis) points of channel 0 searched for a point at exactly (-u, -v) with exactly
 * conjugate data; MPoL compares u and v separately, we ask for both). The averaging runs once on
 * the host in f64; the dataset is made on vis->data's device in vis's precision. MPoL's
 * visibility scatter check (check_visibility_scatter) is not done. */
AG_API ag_gridded_dataset *ag_data_average(const ag_grid_coords *gc, const ag_vis *vis, bool add_conjugates);

/* Dirty imaging (MPoL's DirtyImager.get_dirty_image). */
typedef enum ag_weighting {
    AG_WEIGHT_UNIFORM = 0,   /* MPoL's default */
    AG_WEIGHT_NATURAL, AG_WEIGHT_BRIGGS
} ag_weighting;
typedef enum ag_image_unit { AG_UNIT_JY_BEAM = 0, AG_UNIT_JY_ARCSEC2 } ag_image_unit;
typedef struct ag_dirty_opts {  /* zero-initialised: MPoL's defaults (uniform, no taper, Jy/beam) */
    ag_weighting weighting;
    double robust;           /* briggs only: in [-2, 2] (CASA's; -2 ~ uniform, 2 ~ natural) */
    double taper_fwhm;       /* arcsec; > 0: Gaussian uv taper exp(-(π θ q)² / (4 ln 2)), θ in rad,
                                q = √(u² + v²) in λ (the visibilities of an image Gaussian of this
                                FWHM; MPoL takes a taper function, this is the one users write); 0: none */
    ag_image_unit unit;      /* Jy/arcsec² divides by the beam area */
    int ntheta;              /* azimuthal wedges of the beam-area null search; 0: 24 */
    bool area_per_channel;   /* false (MPoL's single_channel_estimate): channel 0's nulled region for all */
} ag_dirty_opts;
/* Dirty image and beam of loose visibilities, as MPoL: the points and their Hermitian conjugates
 * (-u, -v, conj V, same weight) gridded (cells, and W_k looked up, as ag_data_average) with
 * taper · density · weight, density 1 (natural), 1/W_k (uniform, W_k the cell's Σ w over points and conjugates) or
 * 1/(1 + W_k f²) with f² = (5·10^-R)² / (Σ_k W_k² / Σ_i w_i) per channel, i over points and
 * conjugates (briggs); C = 1 / Σ_i taper · density · w; image = npix² · ifft2(C · gridded vis)
 * in the SKY layout (ag_packed_to_sky), real, (nchan, npix, npix) in Jy/beam (the beam's peak is
 * 1) or Jy/arcsec²; beam likewise from taper · density · w alone; beam_area (nchan) [arcsec²] =
 * cell_size² · Σ of the beam out to its first null (MPoL's get_dirty_beam_area with ntheta
 * wedges, its (l, m) meshgrid taken as MPoL takes it). Outputs are new tensors in vis's
 * precision on vis->data's device; any of image, beam, beam_area may be NULL (not wanted; the
 * area is then only computed for a Jy/arcsec² image). A Jy/arcsec² image is what a BaseCube's
 * initial sky image is given in.
 * Errors (negative ag_status naming ag_dirty_image, no output written): those of
 * ag_data_average, robust outside [-2, 2] for briggs, an unknown weighting or unit, a negative
 * or non-finite taper, ntheta < 0, a beam with no negative pixel in a wedge (no first null: grid
 * too small for the beam), imaginary parts >= 1e-10 (MPoL's check). opts NULL: the defaults.
 * Computed on the host in f64, as MPoL (NumPy). Not done: MPoL's visibility scatter warning. */
AG_API int ag_dirty_image(const ag_grid_coords *gc, const ag_vis *vis, const ag_dirty_opts *opts, ag_tensor **image,
                          ag_tensor **beam, ag_tensor **beam_area);

/* -- Cross-validation (imaging/crossval.c): MPoL's Dartboard, RandomCellSplitGridded,
 * DartboardSplitGridded and CrossValidate's loop. Splits are made once on the host from the
 * dataset's mask; every fold's train and test sets are ag_gridded_dataset_masked copies of it, on
 * its device. Cells are 2-d packed cells: a cell holds data when any channel's mask does, and
 * goes with all its channels (MPoL's 2-d add_mask). -- */

/* MPoL's utils.loglinspace, the same operations: m_linear + n_log cell walls into out (so
 * m_linear + n_log - 1 cells): start + i·a/(m_linear - 1) for i < m_linear, then
 * 10^(log10 a + j·log10(end/a)/n_log) for j = 1..n_log, a = end / 10^(n_log·log10(m_linear/(m_linear - 1))).
 * 0, or AG_ERR_INVALID for out NULL, n_log < 1, m_linear < 2, start not finite or end not finite
 * and > 0. */
AG_API int ag_loglinspace(double start, double end, int n_log, int m_linear, double *out);

/* MPoL's Dartboard with its default edges, q in λ (MPoL: kλ): q_edges = loglinspace(0, q_max,
 * 8, 5) (12 cells), q_max = max packed q + √2 du (MPoL's GridCoords.q_max), phi_edges =
 * linspace(0, π, 9) [rad]. A packed grid cell (q, φ from ag_grid_centers_2d) lies in dartboard
 * cell (iq, iφ), flat number iq·AG_DARTBOARD_NPHI + iφ, when q_edges[iq] <= q < q_edges[iq+1] and
 * φ_edges[iφ] < φ <= φ_edges[iφ+1] or, the Hermitian half, φ_edges[iφ] - π < φ <= φ_edges[iφ+1] - π
 * (MPoL's build_grid_mask_from_cells rule): a cell and its Hermitian partner share a dartboard
 * cell, and every cell of the grid has one. A plain value (custom edges are not supported). */
#define AG_DARTBOARD_NQ 12
#define AG_DARTBOARD_NPHI 8
typedef struct ag_dartboard {
    ag_grid_coords coords;
    double q_edges[AG_DARTBOARD_NQ + 1];     /* λ */
    double phi_edges[AG_DARTBOARD_NPHI + 1]; /* rad, 0 .. π */
} ag_dartboard;
/* 0, or AG_ERR_INVALID (db NULL, gc NULL or not initialised; *db untouched). */
AG_API int ag_dartboard_init(ag_dartboard *db, const ag_grid_coords *gc);
/* New (npix, npix) i64 CPU tensor: the flat dartboard cell of every packed grid cell (-1 for
 * none; none for a dartboard from ag_dartboard_init). NULL with the error set for an
 * uninitialised db. */
AG_API ag_tensor *ag_dartboard_cell_map(const ag_dartboard *db);
/* For the packed cells of ds holding data (any channel), in C order: *cells, a new (n, 3) i64 CPU
 * tensor of rows (flat packed position row·npix + column, iq, iφ); *occupied, a new (m, 2) i64
 * CPU tensor of the distinct (iq, iφ) among them in lexicographic order (MPoL's
 * get_nonzero_cell_indices, but see below). Either pointer may be NULL (not wanted). Reads ds's
 * mask on the host. 0, or a negative ag_status (both outputs NULL): db or ds NULL or not
 * initialised, a dartboard of another grid (AG_ERR_INVALID).
 * Unlike MPoL 0.2, the occupied cells follow the same rule as the cell assignment: MPoL finds
 * them with np.histogram2d over φ in [0, π] only, bins closed below, so a cell exactly on a φ edge
 * (u = 0, u = ±v, v = 0) is counted in the neighbouring dartboard cell and cells whose data lie
 * only at φ < 0 are not counted: some dartboard cells it lists hold no data and some data fall
 * in no fold. */
AG_API int ag_dartboard_cells(const ag_dartboard *db, const ag_gridded_dataset *ds, ag_tensor **cells,
                              ag_tensor **occupied);

/* k-fold splits. The units (packed cells holding data for AG_CV_RANDOM_CELL, occupied
 * dartboard cells of ag_dartboard_init(ds->coords) for AG_CV_DARTBOARD), in C / lexicographic
 * order, are shuffled (Fisher-Yates driven by splitmix64 from seed: the same folds for the same
 * seed on every run and machine, but not MPoL's torch/numpy permutations, which cannot be matched
 * bit for bit) and cut into k folds as numpy's array_split (the first n mod k folds one unit
 * longer). Fold f's test set is the cells of its units, its train set the cells of all the other
 * folds: test and train are disjoint, and the k test sets partition the cells holding data. With
 * AG_CV_DARTBOARD a cell goes with its dartboard cell, so Hermitian partners stay together
 * (AG_CV_RANDOM_CELL does not keep them together, as MPoL's RandomCellSplitGridded).
 * Differences from MPoL 0.2, on purpose (the issue's): random-cell splits every cell with data
 * in any channel (MPoL: channel 0's) and does not keep the top 1% weight cells in every train
 * set (with under 100 cells MPoL 0.2's top 1% rounds to none, np.partition(w, -0) then picks the
 * smallest weight and every cell is kept in train: all its test sets are empty); the dartboard's
 * occupied cells as ag_dartboard_cells.
 * ag_cv_split_new: ds borrowed (it must outlive the split, and may be moved between devices in
 * between). NULL with the error set: ds NULL or uninitialised, an unknown method
 * (AG_ERR_INVALID), k < 2 or more than the number of units (AG_ERR_INVALID naming both). */
typedef enum ag_cv_method { AG_CV_RANDOM_CELL, AG_CV_DARTBOARD } ag_cv_method;
typedef struct ag_cv_split ag_cv_split;
AG_API ag_cv_split *ag_cv_split_new(const ag_gridded_dataset *ds, ag_cv_method method, int k, uint64_t seed);
AG_API void ag_cv_split_free(ag_cv_split *split);   /* NULL is a no-op */
AG_API int ag_cv_split_k(const ag_cv_split *split); /* k; 0 for NULL */
/* New (npix, npix) i64 CPU tensor: the fold whose test set holds each packed cell, -1 for cells
 * without data. NULL with the error set for a NULL split. */
AG_API ag_tensor *ag_cv_split_folds(const ag_cv_split *split);
/* Fold fold's *train and *test: new datasets (ag_gridded_dataset_masked of the split's ds; free
 * them with ag_gridded_dataset_free). 0, or a negative ag_status with both NULL: NULL arguments
 * (AG_ERR_INVALID), fold outside [0, k) (AG_ERR_INDEX). */
AG_API int ag_cv_split_fold(const ag_cv_split *split, int fold, ag_gridded_dataset **train, ag_gridded_dataset **test);

/* The cross-validation loop (MPoL's CrossValidate.run_crossval without its built-in model): for
 * each fold f in order, fn(train, test, f, user, &score) trains a fresh model on train and scores
 * it on test (e.g. ag_gridded_dataset_nll; lower is better, as MPoL); train and test are borrowed
 * for the call and freed after it. fn returns 0, or a negative ag_status after setting the error.
 * Fills scores[f] (k doubles, may be NULL) and *mean (may be NULL) with the mean score.
 * Returns 0, or a negative ag_status: split or fn NULL (AG_ERR_INVALID); an error from fn
 * (a negative return, or an error left pending) with its code, the message prefixed by
 * "ag_cross_validate: fold f of k: "; a score that is not finite (AG_ERR_NUMERIC); the scores
 * of the folds before the failing one are filled, *mean is not. */
typedef int (*ag_crossval_fn)(const ag_gridded_dataset *train, const ag_gridded_dataset *test, int fold, void *user,
                              double *score);
AG_API int ag_cross_validate(const ag_cv_split *split, ag_crossval_fn fn, void *user, double *scores, double *mean);

/* ---- Files and figures (imaging/fits.c, figure.c) ---------------------------------------- */

/* FITS images (imaging/fits.c; AG_ERR_NOTIMPL in builds without cfitsio). What ds9 and CARTA
 * need to show RA/Dec: CTYPE1 'RA---SIN' with CDELT1 = -cell/3600 (RA grows to the left, as
 * the sky layout's columns), CTYPE2 'DEC--SIN' with CDELT2 = +cell/3600, CRPIX1/2 =
 * (npix/2, npix/2 + 1) (1-based: the sky origin, row npix/2, column npix/2 - 1 zero-based),
 * CRVAL1/2 the phase centre, CUNIT 'deg', EQUINOX 2000, RADESYS 'ICRS'. FITS stores the first
 * axis fastest and rows from the bottom: exactly the sky layout's memory order (row 0 south). */
typedef struct ag_fits_meta {
    double ra_deg, dec_deg;    /* phase centre (CRVAL1, CRVAL2), deg; dec in [-90, 90] */
    double freq_hz;            /* channel 0 (CRVAL3), Hz; 0: no FREQ axis for a 2-d image */
    double dfreq_hz;           /* channel width (CDELT3), Hz; 0 is written as 1 Hz for one channel */
    double bmaj, bmin, bpa;    /* restoring beam: FWHM arcsec (written as deg), PA deg; bmaj = 0: none */
    char date_obs[72];         /* DATE-OBS, e.g. "2017-04-11"; "" to leave out */
    char object[72];           /* OBJECT; "" to leave out */
    char bunit[72];            /* BUNIT: "JY/PIXEL", "JY/BEAM", "Jy/arcsec2"...; "" to leave out */
} ag_fits_meta;
/* Writes image, real f32 or f64 (BITPIX -32 / -64), of shape (npix, npix) or (nchan, npix,
 * npix) in the SKY layout, on any device, with gc's npix, to path atomically (a temporary file
 * renamed over path; nothing is written on failure). A 3-d image, or a 2-d one with
 * meta->freq_hz > 0, gets a FREQ axis (NAXIS3 = nchan or 1). meta may be NULL (phase centre
 * 0, 0; no optional keywords). Returns 0 or a negative ag_status (INVALID, SHAPE, DTYPE, IO). */
AG_API int ag_image_write_fits(ag_tensor *image, const ag_grid_coords *gc, const ag_fits_meta *meta, const char *path);
/* Reads the primary image of a FITS file written as above (or by another tool with the same
 * conventions) into a new f64 CPU tensor of shape (npix, npix), or (nchan, npix, npix) when
 * NAXIS = 3 (also for NAXIS3 = 1); *gc (required) receives the grid, *meta (may be NULL) the
 * keywords (absent ones 0 or ""). AG_ERR_IO when the file cannot be opened, AG_ERR_FORMAT
 * naming the file and the keyword when it is not a square RA---SIN/DEC--SIN image with
 * CDELT1 = -CDELT2 and the CRPIX above (no resampling is done). */
AG_API ag_tensor *ag_image_read_fits(const char *path, ag_grid_coords *gc, ag_fits_meta *meta);

/* PNG figures (imaging/figure.c, cairo): a grid of ncols × nrows panels, each a sky image with
 * ΔRA / ΔDec axes (RA grows to the left, values decrease to the right, as the sky layout), a
 * colour bar, a title and optional overlays. Colour maps as matplotlib draws them (N = 256
 * entries, x in [0, 1] picks entry floor(256 x), x = 1 the last): its inferno and viridis
 * tables, and afmhot's formula r = clip(2q), g = clip(2q - 0.5), b = clip(2q - 1) at q = entry / 255.
 * Tick labels use the minus sign U+2212; text goes through cairo's toy font API (fontconfig's
 * "sans-serif"). */
typedef struct ag_figure ag_figure;
typedef enum ag_cmap { AG_CMAP_INFERNO, AG_CMAP_VIRIDIS, AG_CMAP_AFMHOT } ag_cmap;
typedef enum ag_axis_unit { AG_AXIS_AUTO, AG_AXIS_ARCSEC, AG_AXIS_MAS, AG_AXIS_UAS } ag_axis_unit;
typedef struct ag_figure_image_opts {
    const char *title;          /* above the panel; NULL or "": none */
    ag_cmap cmap;               /* 0: inferno */
    double vmin, vmax;          /* colour range in the image's units; vmin == vmax: the finite min..max */
    const char *cbar_label;     /* beside the colour bar, e.g. "Jy/arcsec²"; NULL: none */
    ag_axis_unit unit;          /* AUTO: arcsec for an extent >= 1", mas for >= 1 mas, else µas */
    double circle_x, circle_y;  /* arcsec (ΔRA, ΔDec) centre of a dashed ring overlay */
    double circle_r;            /* arcsec radius; 0: no ring */
    double beam_maj, beam_min;  /* arcsec FWHM of the beam ellipse drawn lower left; beam_maj 0: none */
    double beam_pa;             /* deg, east of north */
} ag_figure_image_opts;
/* A white figure of ncols × nrows panels (1..16 each) whose plot areas are panel_px (64..4096)
 * pixels square, plus margins for axes and colour bar (74 + panel_px + 116 by 34 + panel_px + 54
 * pixels per panel; at most 32767 in all each way, cairo's limit). NULL on bad sizes
 * (AG_ERR_INVALID) or AG_ERR_NOMEM. Free with ag_figure_free (NULL is fine). */
AG_API ag_figure *ag_figure_new(int ncols, int nrows, int panel_px);
AG_API void ag_figure_free(ag_figure *fig);
/* Draws image (real f32/f64 (npix, npix), SKY layout, any device; copied to the host once, not
 * kept) into panel (row-major, 0..ncols·nrows-1), pixel edges from gc->img_ext. Non-finite
 * pixels are grey and ignored by the auto range. opts may be NULL (inferno, auto range and unit).
 * Returns 0 or a negative ag_status: AG_ERR_INVALID (panel, options, NULL argument),
 * AG_ERR_DTYPE, AG_ERR_SHAPE, AG_ERR_NOMEM, AG_ERR_IO (cairo failed); the panel may then be
 * partly drawn. */
AG_API int ag_figure_image(ag_figure *fig, int panel, ag_tensor *image, const ag_grid_coords *gc,
                           const ag_figure_image_opts *opts);
/* Writes the figure as PNG (RGB) to path atomically (a temporary file renamed over path):
 * 0, or a negative ag_status (AG_ERR_INVALID for NULL arguments, AG_ERR_IO) with nothing written. */
AG_API int ag_figure_write_png(ag_figure *fig, const char *path);
/* rgb[0..2] in [0, 1] of colour map cmap at x (clipped to [0, 1]; NaN as 0). 0, or
 * AG_ERR_INVALID (negative) for an unknown cmap or a NULL rgb. */
AG_API int ag_cmap_rgb(ag_cmap cmap, double x, double rgb[3]);

/* ---- NuFFT and direct DFT (tensor/nufft_ops.c, imaging/nufft.c) ------------------------ */

/* Direct (non-uniform) DFT of a packed image cube at arbitrary (u, v), the exact sum that
 * FourierCube evaluates on its grid and a NuFFT approximates (a fused op, tensor/nufft_ops.c;
 * kernel: the dft entry, backends/cpu/dft.c, also run by the test device; no CUDA one yet):
 *     V[c, k] = cell_size² Σ_{rows j, columns i} P[c, j, i] e^{sign 2πi(u[c, k] l_i + v[c, k] m_j)}  [Jy]
 * with the packed cell coordinates (l along columns, m along rows, FFT order): l_i = i·dl for
 * i < npix/2, (i - npix)·dl after, and the same for m_j with dm (gc->dl, gc->dm [rad]). At the
 * packed Fourier cell centres (u, v multiples of gc->du) it equals ag_fourier_cube's output.
 *  - cube: packed (nchan, npix, npix) [Jy/arcsec²], or (npix, npix) for one channel; f32, f64,
 *    c64 or c128; npix must be gc->npix (even). Any strides.
 *  - u, v: [λ], one shape, real of the cube's precision (f64 for f64/c128, f32 for f32/c64):
 *    (nvis), the same points for every channel, or (nchan, nvis), per channel. Points need not
 *    lie on the grid or within it (no check_data_fit: the direct sum has no aliasing).
 *  - sign: -1 (MPoL; 0 means -1) or +1 (VLBI/EHT).
 * Returns a new (nchan, nvis) tensor, c128 for f64/c128 cubes, c64 for f32/c64 (one channel for a
 * 2-d cube: (1, nvis)), on the cube's device. All sums run in double, with no atomics: the result
 * does not depend on the thread count. Cost: one npix² multiply-add pass per visibility and
 * channel (the phases separate into l and m tables made once per visibility).
 * Differentiable in cube only: its gradient is the adjoint (ag_dft_adjoint; the real part for a
 * real cube, PyTorch's convention); no gradient reaches u or v, even when they require grad.
 * Errors (NULL, message naming ag_dft): a NULL tensor or gc, an invalid gc, a cube that is not
 * (…, npix, npix) with gc's npix (AG_ERR_SHAPE), integer dtypes or u, v of another precision
 * (AG_ERR_DTYPE), u and v of different shapes or not (nvis) / (nchan, nvis) (AG_ERR_SHAPE),
 * tensors on different devices, a sign other than -1, 0, +1 (AG_ERR_INVALID), a backend
 * without the dft kernel (AG_ERR_NOTIMPL: CUDA so far). */
AG_API ag_tensor *ag_dft(ag_tensor *cube, ag_tensor *u, ag_tensor *v, const ag_grid_coords *gc, int sign);
/* The adjoint of ag_dft (points -> grid, the direct "type 1" sum; a dirty image before
 * normalisation): A[c, j, i] = cell_size² Σ_k vis[c, k] e^{-sign 2πi(u[c, k] l_i + v[c, k] m_j)}.
 * vis: (nvis) or (nchan, nvis), c64 or c128; u, v: (nvis) or (nchan, nvis), real of vis'
 * precision. Returns a new (nchan, npix, npix) complex tensor of vis' dtype (nchan = 1 for a
 * 1-d vis). Differentiable in vis (its gradient is ag_dft of the incoming gradient); errors as
 * ag_dft, naming ag_dft_adjoint (a real vis: AG_ERR_DTYPE). */
AG_API ag_tensor *ag_dft_adjoint(ag_tensor *vis, ag_tensor *u, ag_tensor *v, const ag_grid_coords *gc, int sign);

/* NuFFT (imaging/nufft.c): the same sums as ag_dft / ag_dft_adjoint to a tolerance ε, in
 * O(N² log N + M w²) instead of O(N² M), for points fixed over many evaluations (an RML fit).
 * A plan is made once for the points: the exponential-of-semicircle kernel of FINUFFT, w =
 * ⌈log10(10/ε)⌉ cells wide on a 2× upsampled grid, fitted by one polynomial per cell of its
 * support, the points sorted into bins of about 32 × 32 fine cells, and the deconvolution;
 * about 24 bytes per point and point set, on the points' device. Scaling, padding and the FFT
 * are tensor ops; interpolation (type 2) and spreading (type 1) are fused kernels whose
 * backward is each other, so the transforms run on any device with those kernels and are
 * differentiable in the cube (ag_nufft) or the visibilities (ag_nufft_adjoint) through
 * autograd (to any order: each backward is the other recorded op); no gradient reaches u, v.
 * Results are the same bits whatever the thread count. nvis may be 0 (a zero adjoint image).
 *  - ag_nufft_plan_new: gc from ag_grid_coords_init; u, v [λ] of one shape, (nvis) shared by
 *    every channel or (nchan, nvis) per channel, both f64 (ε in [1e-14, 0.1]) or both f32
 *    (ε in [1e-6, 0.1]), on one device, every point inside the grid (ag_grid_check_data_fit);
 *    sign -1 (MPoL; 0 means -1) or +1 (VLBI). NULL with the error set otherwise. Reads u and v
 *    on the host once. ag_nufft_plan_free(NULL) is a no-op.
 *  - ag_nufft(plan, cube): cube packed (nchan, npix, npix) or (npix, npix) [Jy/arcsec²], real
 *    or complex of the points' precision, on the plan's device -> new (nchan, nvis) complex [Jy],
 *    as ag_dft (with its sign) to a relative error of about ε.
 *  - ag_nufft_adjoint(plan, vis): vis (nchan, nvis) or (nvis), complex of the points'
 *    precision -> new (nchan, npix, npix) complex, as ag_dft_adjoint.
 * Errors name the function: a dtype of another precision (AG_ERR_DTYPE), shapes that do not
 * fit the plan (AG_ERR_SHAPE), another device (AG_ERR_DEVICE), NULL (AG_ERR_INVALID).
 * Speed (benchmarks/bench_nufft): at 512², 10^5 points, ε = 1e-6 type 2 takes about half the
 * CPU time of the composed index_select/index_add version, type 1 about 0.6×; the oversampled FFT
 * and the pad/shift copies
 * now dominate. Not yet: an upsampling σ < 2, CUDA kernels (AG_ERR_NOTIMPL on CUDA tensors). */
typedef struct ag_nufft_plan ag_nufft_plan;
AG_API ag_nufft_plan *ag_nufft_plan_new(const ag_grid_coords *gc, ag_tensor *u, ag_tensor *v, double eps, int sign);
AG_API void ag_nufft_plan_free(ag_nufft_plan *plan);
AG_API int ag_nufft_plan_width(const ag_nufft_plan *plan); /* the kernel width w in fine cells */
AG_API ag_tensor *ag_nufft(const ag_nufft_plan *plan, ag_tensor *cube);
AG_API ag_tensor *ag_nufft_adjoint(const ag_nufft_plan *plan, ag_tensor *vis);

/* ---- NuFFT layer (imaging/nufft_layer.c) ------------------------------------------------ */

/* The NuFFT as an op differentiable in the image AND in (u, v), and MPoL's NuFFT layer.
 * V[c, k] is ag_dft's sum (MPoL's normalisation: cell_size² Σ P e^{sign 2πi(ul + vm)} [Jy]) to
 * a relative error of about eps. Gradients: the image's through the adjoint (ag_nufft_adjoint;
 * the real part for a real cube); u's and v's from ∂V_k/∂u_k = sign 2πi · (type 2 of l·P)_k
 * and the same with the packed m for v (one more NuFFT each, only when u or v requires grad).
 * Second derivatives: those through the image are exact; those in u or v are not implemented
 * (a backward under create_graph with u or v requiring grad fails with AG_ERR_NOTIMPL).
 * eps 0 means 1e-6; eps in [1e-14, 0.1]; f32 points use max(eps, 1e-6). sign -1 (MPoL; 0 means
 * -1) or +1 (VLBI/EHT). */
typedef struct ag_nufft_opts { double eps; int sign; } ag_nufft_opts;
/* For points that move (calibration models where u, v depend on parameters): builds a NuFFT
 * plan for the current (u, v) on every call (the plan is O(nvis w²) host work; the node keeps
 * it for the backward, so nothing is to free), then V = NuFFT(cube). cube packed
 * (nchan, npix, npix) or (npix, npix) [Jy/arcsec²], f32/f64/c64/c128, npix = gc->npix; u, v [λ]
 * real of the cube's precision, one shape: (nvis) shared by every channel or (nchan, nvis) per
 * channel; all on one device (any with the kernels ag_nufft uses). Returns a new (nchan, nvis)
 * complex tensor (c128 for f64/c128, c64 for f32/c64; nchan 1 for a 2-d cube). Errors (NULL,
 * naming ag_nufft_vis): NULL arguments (AG_ERR_INVALID), u/v of another precision (AG_ERR_DTYPE),
 * u and v of different shapes or per-channel points whose nchan is not the cube's
 * (AG_ERR_SHAPE), mixed devices, eps or sign out of range (AG_ERR_INVALID), points beyond the
 * grid (ag_grid_check_data_fit's message), and ag_nufft's. */
AG_API ag_tensor *ag_nufft_vis(const ag_grid_coords *gc, ag_tensor *cube, ag_tensor *u, ag_tensor *v, ag_nufft_opts opts);
/* MPoL's NuFFT layer for fixed points: a module (type "NuFFT") whose forward(packed cube
 * (nchan, npix, npix) or (npix, npix) [Jy/arcsec²], f32/f64/c64/c128) gives the complex
 * visibilities (nchan, nvis) [Jy] as ag_nufft_vis, differentiable in the cube. u, v [λ]: (nvis),
 * shared by every channel (any nchan), or (nchan, nvis), per channel (the cube must then have
 * that nchan); f64 or f32. They are taken over (also on failure, and from a scope) and held as
 * the buffers "uu" and "vv", so ag_module_to / ag_module_to_dtype move them. The plan is built
 * once, in the constructor, on u's device in u's precision, and reused by every forward and
 * backward; a cube on another device or of another precision makes the module build (once)
 * and keep a plan for those instead (graphs already recorded keep theirs; u, v are then copied
 * there on every forward, which ag_module_to / ag_module_to_dtype of the module avoid). The points are
 * fixed: for moving points build a new module or use ag_nufft_vis. Constructor errors (NULL,
 * naming ag_nufft_module): NULL arguments, u, v not both f64 or both f32, of different shapes
 * or not 1-d / 2-d, on different devices, eps or sign out of range, points beyond the grid
 * (ag_grid_check_data_fit's message). Forward errors (naming ag_nufft_module (forward)): a cube
 * that is not a float (nchan, npix, npix) / (npix, npix) with gc's npix, or another nchan than
 * per-channel points have (AG_ERR_SHAPE). */
AG_API ag_module *ag_nufft_module(const ag_grid_coords *gc, ag_tensor *u, ag_tensor *v, ag_nufft_opts opts);

/* ---- VLBI: UVFITS and closure quantities (imaging/uvfits.c, imaging/closure.c) ----------- */

/* -- UVFITS (imaging/uvfits.c; AG_ERR_NOTIMPL in builds without cfitsio) -- */

/* Reads the Stokes I visibilities of a random-groups UVFITS file (AIPS, CASA exportuvfits,
 * eht-imaging/HOPS) into a new ag_vis, one channel: every (group, IF, channel) sample that is
 * kept becomes one visibility, so vis->nchan == 1 and vis->freq is (1) = ref_freq.
 *  - u, v: the UU/VV random parameters (seconds, PSCAL/PZERO applied) times the sample's own
 *    frequency (FREQ axis CRVAL + (k+1-CRPIX)·CDELT, plus the AIPS FQ table's IF FREQ), in λ; f64.
 *  - data c128 Jy, weight f64 1/Jy², sigma = 1/√weight. Stokes I is the I correlation when the
 *    STOKES axis has it, else (RR+LL)/2 or (XX+YY)/2 with weight 4/(1/w₁+1/w₂); a sample with
 *    either hand flagged (weight <= 0, or not finite) is dropped, as are auto-correlations.
 *  - time (nvis) f64: seconds, MJD·86400, from the DATE parameter(s) (Julian dates, summed).
 *  - ant1, ant2 (nvis) i64 indices into stations[]: BASELINE = 256·a1 + a2, or
 *    65536 + 2048·a1 + a2 (or ANTENNA1/ANTENNA2 parameters); a1, a2 are the AIPS AN table's
 *    NOSTA, stations[] its ANNAME (without an AN table the names are the numbers), in the order
 *    the stations first appear in the file.
 *  - fourier_sign = +1 (the AIPS convention, opposite to MPoL's), ref_freq, ra, dec, source,
 *    date_obs from the primary header.
 * Tensors are on the CPU (ag_to moves them). Returns NULL with an error naming ag_read_uvfits
 * and the file: AG_ERR_IO when it cannot be opened; AG_ERR_FORMAT when it is not random-groups
 * FITS, lacks UU/VV/BASELINE/DATE, a COMPLEX axis of 3 or a STOKES axis with I, RR+LL or XX+YY,
 * is truncated or inconsistent, or keeps no visibility. */
AG_API ag_vis *ag_read_uvfits(const char *path);

/* ---- Measurement Set reader (imaging/ms.c, imaging/ms.cc; AG_ERR_NOTIMPL in builds without casacore) ---- */

/* Options of ag_read_ms; all zero (or opts NULL) reads DATA, every channel. */
typedef struct ag_ms_opts {
    bool corrected;          /* read CORRECTED_DATA instead of DATA */
    int64_t first_chan;      /* first channel read, 0-based, in every spectral window */
    int64_t nchan;           /* channels read from first_chan; 0: all to the window's end */
} ag_ms_opts;
/* Reads the Stokes I visibilities of a CASA Measurement Set (ALMA, VLA; the directory) into a new
 * ag_vis laid out as ag_read_uvfits': one channel, every kept (row, selected channel) sample one
 * visibility, rows in table order and channels within a row, so vis->nchan == 1.
 *  - u, v: the main table's UVW [m] times the sample's CHAN_FREQ (SPECTRAL_WINDOW of the row's
 *    DATA_DESC_ID) over c = 299792458 m/s, in λ; f64.
 *  - data c128 [Jy] from DATA (or CORRECTED_DATA), weight f64 [1/Jy²], sigma = 1/√weight. The
 *    correlation weights are WEIGHT_SPECTRUM where the column exists and the cell is defined,
 *    else 1/SIGMA_SPECTRUM², else WEIGHT (per correlation), else 1/SIGMA². Stokes I as
 *    ag_read_uvfits: the I correlation (POLARIZATION CORR_TYPE 1) when present, else
 *    (RR+LL)/2 (5, 8) or (XX+YY)/2 (9, 12) with weight 4/(1/w₁+1/w₂). A sample is dropped when
 *    either hand is flagged (FLAG, or weight <= 0 or not finite), a row when FLAG_ROW is set,
 *    UVW or TIME is not finite, or ANTENNA1 == ANTENNA2 (auto-correlations).
 *  - time (nvis) f64: TIME, which the MS stores in MJD seconds (UTC) already.
 *  - ant1, ant2 (nvis) i64 indices into stations[] (the ANTENNA table's NAME), in the order the
 *    antennas first appear in the kept rows (as ag_read_uvfits numbers its stations).
 *  - freq (1) = ref_freq = CHAN_FREQ[first_chan] of the first kept row's spectral window;
 *    ra, dec [deg] and source from that row's FIELD (PHASE_DIR, NAME), 0 / NULL without a FIELD
 *    table; date_obs NULL.
 *  - fourier_sign = -1: the MS definition (CASA, casacore's measurement equation) is
 *    V = ∫ I e^{−2πi(ul+vm)}, MPoL's. ag_read_uvfits records +1 for AIPS/HOPS files. casacore's
 *    importuvfits copies UVW and the visibilities of a UVFITS file unchanged, so an MS made from
 *    an EHT/HOPS UVFITS holds the file's numbers, and ag_read_ms gives exactly what
 *    ag_read_uvfits gives for those rows except this label: set vis->fourier_sign = +1 yourself
 *    for such an MS (tests/test_ms.c reads one made that way).
 * opts is read, not kept. Tensors are on the CPU (ag_to moves them); the tables are opened
 * read-only, without read locks. Returns NULL with an error naming ag_read_ms and the path:
 * AG_ERR_INVALID for a NULL path, a negative first_chan or nchan; AG_ERR_IO when the
 * path does not exist; AG_ERR_FORMAT when it is not a casacore table, lacks the data column
 * asked for (DATA, or CORRECTED_DATA with opts->corrected), UVW, ANTENNA1, ANTENNA2, TIME, FLAG,
 * every weight column, or the DATA_DESCRIPTION, SPECTRAL_WINDOW, POLARIZATION or ANTENNA table,
 * has no I, RR+LL or XX+YY correlation, a cell of another shape than its window and
 * polarization say, a channel selection beyond a window's channels, an antenna number outside
 * the ANTENNA table, or keeps no visibility; any other casacore exception is reported the same
 * way with casacore's message. AG_ERR_NOTIMPL when the library was built without casacore. */
AG_API ag_vis *ag_read_ms(const char *path, const ag_ms_opts *opts);

/* -- Closure quantities (imaging/closure.c) -- */

/* Gain-invariant products of a VLBI visibility set, selected once (ag_closure_set_new) and
 * evaluated on models (below). The selection, per channel (bands never mix) and per time stamp
 * in ascending order; "simultaneous" means exactly equal vis->time (scan-average first):
 *  - baselines: rows with ant1 != ant2 and √(u² + v²) > min_baseline_lambda in that channel;
 *    of several rows of one station pair at one time only the first is used;
 *  - reference station: the largest Σ |V|/σ over its baselines (the lowest index on ties);
 *  - closure phases ψ = arg(V_ab V_bc V_ca) (a baseline stored as (b, a) enters conjugated):
 *    candidates (ref, b, c) with b < c, then triangles without ref in lexicographic order, each
 *    kept when its three baselines exist and its ±1 baseline vector is linearly independent of
 *    those kept: (n-1)(n-2)/2 per time for n stations with every baseline, fewer otherwise;
 *  - log closure amplitudes ln(|V_pq| |V_rs| / (|V_pr| |V_qs|)): for each 4-subset a<b<c<d of
 *    stations the candidates (a,b,c,d), (a,b,d,c), (a,c,d,b), all ordered by σ_lca ascending
 *    (stable), each kept when its four baselines exist and it is linearly independent of those
 *    kept: n(n-3)/2 per time with every baseline.
 * σ propagated from vis->sigma: σ_cp = √Σ(σ_k/|V_k|)² [rad], σ_lca = √Σ(σ_k/|V_k|)².
 * The set's tensors are made on vis->data's device; the functions below move them to the
 * model's device (and real dtype) when it differs. */
typedef struct ag_closure_opts {
    double min_baseline_lambda;  /* λ, >= 0; the default (opts NULL) is 1e8 (0.1 Gλ) */
} ag_closure_opts;
typedef struct ag_closure_set {
    int64_t nchan, nvis;         /* of the ag_vis it was built from */
    int64_t ncp, nlca;           /* numbers of closure phases and log closure amplitudes */
    /* positions into the flattened (nchan · nvis) visibilities (i64, (ncp, 3) / (nlca, 4)),
     * their signs (f64: ±1; cp: -1 = conjugated, lca: +1 numerator, -1 denominator), the
     * stations (i64 (ncp, 3) = (a, b, c), (nlca, 4) = (p, q, r, s)) and the observed values and
     * σ (f64 (ncp) rad / (nlca)), channel by channel, time by time, in the order chosen. */
    ag_tensor *cp_index, *cp_sign, *cp_stations, *cp_obs, *cp_sigma;
    ag_tensor *lca_index, *lca_sign, *lca_stations, *lca_obs, *lca_sigma;
} ag_closure_set;
/* Builds the set (reading vis on the host; vis is not kept). NULL with the error set: vis NULL
 * or without time, ant1, ant2 or sigma (AG_ERR_INVALID), those of the wrong size
 * (AG_ERR_SHAPE), a station index negative or >= nstations, σ not finite and > 0, or
 * min_baseline_lambda negative or not finite (AG_ERR_INVALID). A set may hold no closures. */
AG_API ag_closure_set *ag_closure_set_new(const ag_vis *vis, const ag_closure_opts *opts);
AG_API void ag_closure_set_free(ag_closure_set *set); /* NULL is a no-op */
/* Differentiable in the model: model (nchan, nvis), or (nvis) for one channel, c128 or c64, on
 * any device, gives new real tensors of its precision on its device:
 *  - ag_closure_phases: ψ (ncp) rad in (-π, π];
 *  - ag_log_closure_amps: ln CA (nlca);
 *  - ag_chi2_cp: 0-d (2/N) Σ (1 - cos(ψ_obs - ψ_model))/σ_cp², N = ncp;
 *  - ag_chi2_lca: 0-d (1/N) Σ ((ln CA_obs - ln CA_model)/σ_lca)², N = nlca;
 *  - ag_chi2_amp: 0-d (1/N) Σ ((|V_obs| - |V_model|)/σ)² over all nchan · nvis visibilities of
 *    vis (every baseline, no cut; vis->sigma required; vis on the model's device).
 * NULL with the error set: model or set NULL (AG_ERR_INVALID), a real model (AG_ERR_DTYPE),
 * another shape (AG_ERR_SHAPE), a χ² over no closures (AG_ERR_INVALID). */
AG_API ag_tensor *ag_closure_phases(ag_tensor *model, const ag_closure_set *set);
AG_API ag_tensor *ag_log_closure_amps(ag_tensor *model, const ag_closure_set *set);
AG_API ag_tensor *ag_chi2_cp(ag_tensor *model, const ag_closure_set *set);
AG_API ag_tensor *ag_chi2_lca(ag_tensor *model, const ag_closure_set *set);
AG_API ag_tensor *ag_chi2_amp(ag_tensor *model, const ag_vis *vis);
/* Coherent scan average (on the host; not differentiable): a scan ends where consecutive
 * distinct time stamps are more than gap_s seconds apart (EHT: 60); the rows of one ordered
 * (ant1, ant2) pair within a scan are averaged per channel with weights w = vis->weight:
 * data and u, v the w-weighted means, weight Σ w, sigma 1/√Σ w, time the mean time of all
 * the scan's rows (so every baseline of a scan is simultaneous for ag_closure_set_new). Rows
 * in order of scan, then ant1, then ant2; a pair stored both ways stays two rows. Metadata
 * (stations, freq, sign, source...) copied; tensors on vis's device and in its dtypes. NULL
 * with the error set: vis NULL or without time, ant1 or ant2, gap_s negative or not finite. */
AG_API ag_vis *ag_vis_scan_average(const ag_vis *vis, double gap_s);

/* ---- Visibility files (imaging/visio.c) ------------------------------------------------- */

/* Loose visibilities (MPoL's uu, vv, data, weight) from files into a new ag_vis of CPU tensors
 * (ag_to moves them): u, v f64 [λ], data c128 [Jy], weight f64 [1/Jy²], shape (nchan, nvis) (a
 * file's 1-d arrays are one channel), vis->freq (nchan) f64 [Hz] when the file has one; every
 * other optional field NULL / 0. Stored f32 / c64 values are widened to f64 / c128 (ag_to_dtype
 * narrows them back). The file is read whole on the host; nothing is kept open.
 * Errors (NULL, the message naming the function and the file): AG_ERR_IO when it cannot be
 * opened or read; AG_ERR_FORMAT for a file that is not of the format, is truncated or corrupt,
 * or lacks one of the four arrays (its name given); AG_ERR_DTYPE for an array of another dtype;
 * AG_ERR_SHAPE for arrays of different shapes or more than 2 dims, freq not (nchan);
 * AG_ERR_INVALID for values ag_vis_new refuses, naming the first one and its index: u, v, data,
 * weight NaN or Inf, a weight <= 0 (flagged visibilities must be dropped before saving), a freq
 * not finite and > 0.
 *
 * .npz (np.savez: stored members, np.savez_compressed: deflate, read with zlib; zip64 records
 * as numpy writes them are understood): arrays uu, vv, data, weight, optionally freq; any other
 * member is ignored. Each a C-ordered .npy array of dtype '<f8' or '<f4' (uu, vv, weight, freq)
 * or '<c16' or '<c8' (data); Fortran order, big-endian and other dtypes are refused. Every member
 * read is CRC-checked. unit: what uu, vv are in: AG_UV_LAMBDA (λ, as astrograd) or
 * AG_UV_KILOLAMBDA (kλ, as MPoL's own .npz files and mpol 0.2; multiplied by 1000 on reading). */
typedef enum ag_uv_unit { AG_UV_LAMBDA = 0, AG_UV_KILOLAMBDA } ag_uv_unit;
AG_API ag_vis *ag_read_vis_npz(const char *path, ag_uv_unit unit);
/* HDF5 (AG_ERR_NOTIMPL in builds without HDF5). The layout, in the root group:
 *   /u, /v      float (f32 or f64), (nchan, nvis) or (nvis)            [uv_unit]
 *   /data       complex: a compound {r, i} of two floats (h5py's way of storing numpy complex
 *               arrays; f32 or f64 members), of u's shape              [Jy]
 *   /weight     float, of u's shape                                     [1/Jy²]
 *   /freq       optional float (nchan)                                  [Hz]
 *   attribute uv_unit (optional string): "lambda" (the default when absent) or "klambda"
 * Any storage layout is read (contiguous, chunked, compressed: as h5py writes them); other
 * entries are ignored. Written by h5py as
 *   f["u"] = u; f["v"] = v; f["data"] = data; f["weight"] = weight; f.attrs["uv_unit"] = "lambda" */
AG_API ag_vis *ag_read_vis_h5(const char *path);
/* Writes vis's u, v, data, weight and freq (when present; any device, their own dtypes) in the
 * layout above (u, v in λ; attributes uv_unit "lambda", format "astrograd-vis 1" and
 * astrograd_version; datasets chunked with Fletcher32 checksums, as checkpoints), atomically: a
 * temporary file renamed over path, nothing written on failure. The other fields of vis (time,
 * stations, sigma...) are not stored. 0, or a negative ag_status: vis or path NULL or vis
 * without its four tensors (AG_ERR_INVALID), AG_ERR_IO, AG_ERR_NOTIMPL without HDF5. */
AG_API int ag_write_vis_h5(const ag_vis *vis, const char *path);


/* ---- Simulated observations (imaging/uvsim.c) ------------------------------------------- */

/* An antenna configuration as CASA's simobserve reads it (its alma.cycle7.N.cfg files): lines
 * "x y z diam pad" (metres, metres, metres, dish diameter in metres, pad name; the pad may be
 * left out and is then "A<line>"); '#' starts a comment; a first line "x y z diam pad" is a
 * column header. The comment "coordsys=LOC" (the default when none is given) means x, y, z are
 * local east, north, up offsets from the array centre; "coordsys=XYZ" geocentric ITRF
 * coordinates. Other systems (UTM) are AG_ERR_NOTIMPL. The arrays are malloc'd, nant long;
 * ag_array_config_free frees them (NULL is a no-op). */
typedef struct ag_array_config {
    int nant;
    bool itrf;                 /* false: x, y, z local ENU; true: ITRF */
    double *x, *y, *z, *diam;  /* m */
    char **pad;
} ag_array_config;
/* Reads path. NULL with an error naming ag_array_config_read and the file: AG_ERR_IO when it
 * cannot be opened; AG_ERR_FORMAT naming the line for a line that is not 4 or 5 fields with
 * 4 finite numbers and a dish diameter > 0, or a file without antennas; AG_ERR_NOTIMPL for a
 * coordsys other than LOC or XYZ. */
AG_API ag_array_config *ag_array_config_read(const char *path);
AG_API void ag_array_config_free(ag_array_config *cfg);

/* Earth-rotation synthesis (Thompson, Moran & Swenson eq. 4.1-4.4): each pair i < j has the
 * baseline b = p_j - p_i; local ENU turns into the equatorial frame (X to the meridian at
 * H = 0, Y to H = -6 h (east), Z to the pole) at latitude φ by
 *     X = -sin φ N + cos φ U,   Y = E,   Z = cos φ N + sin φ U
 * (ITRF baselines are rotated about Z by the array's longitude, atan2 of the mean position's
 * y and x, and φ is not used; an error δλ in that longitude shifts every H by δλ), and at hour
 * angle H, declination δ
 *     u = ( sin H X + cos H Y) / λ
 *     v = (-sin δ cos H X + sin δ sin H Y + cos δ Z) / λ      [λ = c / freq_hz; c = 299792458 m/s].
 * Hour angles H_k = ha_start + k·step for k = 0 … ⌊(ha_end - ha_start)/step⌋ (hours of hour
 * angle, 15° each; step in seconds of hour angle). No elevation limit, shadowing or w term. */
typedef struct ag_uvsim_opts {
    double dec_deg;            /* source declination, deg, in [-90, 90] */
    double lat_deg;            /* array latitude, deg, in [-90, 90]; ALMA: -23.029 */
    double ha_start_h, ha_end_h; /* hour-angle range, hours, ha_end >= ha_start, |H| <= 12 */
    double step_s;             /* integration step, seconds of hour angle, > 0 */
    double freq_hz;            /* observing frequency, Hz, > 0 (230 GHz: 230e9) */
    double sigma;              /* Jy, thermal noise of each of Re and Im of every visibility, >= 0 */
    uint64_t seed;             /* of the noise (a host generator of its own: splitmix64 + Box-Muller;
                                  the global ag_manual_seed generator is not touched) */
    double nufft_eps;          /* 0: model visibilities by the exact ag_dft; in (0, 0.1]: by ag_nufft to
                                  this tolerance (the points must fit gc: ag_grid_check_data_fit) */
} ag_uvsim_opts;
/* The defaults: dec -23.029 (transit at the zenith), ALMA's latitude -23.029, hour angles
 * -1 h … +1 h, step 60 s, 230 GHz, no noise, seed 1, the exact DFT. */
AG_API ag_uvsim_opts ag_uvsim_default_opts(void);
/* Simulated observation of model (a PACKED image cube (npix, npix) or (1, npix, npix), f64,
 * in Jy/arcsec², on any device, borrowed; or NULL for zero sky) on gc (with model's npix; may
 * be NULL when model is): a new ag_vis of one channel, nvis = nant(nant-1)/2 · ntimes, ordered time
 * by time, each time the pairs (0,1), (0,2) … (1,2) …; on model's device (ag_device_default()
 * for NULL):
 *  - u, v (1, nvis) f64 [λ] as above; data (1, nvis) c128 [Jy] = ag_dft (or ag_nufft) of model
 *    at (u, v) with MPoL's sign (-1) plus noise n = σ (g₁ + i g₂), g standard normal;
 *  - weight 1/σ² (1 where σ = 0), sigma (1, nvis) σ (NULL where σ = 0), time (nvis) H·3600 [s
 *    of hour angle, not MJD], ant1/ant2 (nvis) i64, stations the pad names, freq (1) and
 *    ref_freq freq_hz, dec dec_deg, ra 0, fourier_sign -1.
 * NULL with an error naming ag_uvsim: cfg or opts NULL, fewer than 2 antennas, an option out of
 * its range above (AG_ERR_INVALID, naming it and the value), more than 2^31 visibilities,
 * a model that is not f64 (AG_ERR_DTYPE) or (npix, npix)/(1, npix, npix) with gc's npix
 * (AG_ERR_SHAPE), with nufft_eps > 0 points beyond gc (AG_ERR_INVALID, ag_grid_check_data_fit's
 * message), and those of ag_dft / ag_nufft. */
AG_API ag_vis *ag_uvsim(const ag_array_config *cfg, ag_tensor *model, const ag_grid_coords *gc,
                        const ag_uvsim_opts *opts);

#ifdef __cplusplus
}
#endif

#endif
