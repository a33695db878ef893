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

/* ---- Gridding, dirty imaging, cross-validation (imaging/gridding.c, dirty.c, crossval.c) -- */

/* Gridded visibilities (MPoL's GriddedDataset): cubes of shape (nchan, npix, npix) in the PACKED
 * layout, vis_gridded complex [Jy], weight_gridded real [1/Jy²] (the summed weight of each cell),
 * mask bool (cells holding data); the masked cells, in C order over (channel, packed row, packed
 * column), are pre-indexed once: index (nmask) i64 flat positions into the cube, vis_indexed and
 * weight_indexed (nmask). All tensors on one device, in one precision (c128/f64 or c64/f32).
 * The dataset owns its tensors; read them, never replace them. */
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
 * finite. Each failure: NULL and an error naming ag_gridded_dataset_new. */
AG_API ag_gridded_dataset *ag_gridded_dataset_new(const ag_grid_coords *gc, ag_tensor *vis_gridded,
                                                  ag_tensor *weight_gridded, ag_tensor *mask);
AG_API void ag_gridded_dataset_free(ag_gridded_dataset *ds);   /* NULL is a no-op */
/* Moves every tensor of ds to dev (in place; on failure ds is unchanged). 0 or a negative ag_status. */
AG_API int ag_gridded_dataset_to(ag_gridded_dataset *ds, ag_device dev);
/* model_vis[mask] (MPoL's GriddedDataset.forward): model_vis complex (nchan, npix, npix), packed
 * (FourierCube's output), on ds's device and of its precision; returns (nmask) complex, one gather
 * with the stored index (no mask search per call). Differentiable w.r.t. model_vis. */
AG_API ag_tensor *ag_gridded_dataset_forward(const ag_gridded_dataset *ds, ag_tensor *model_vis);
/* MPoL's nll_gridded: Σ w |V - M|² / (2 nmask) over the masked cells, 0-d real; differentiable
 * w.r.t. model_vis (as ag_gridded_dataset_forward). The held-out score of ag_crossval_run. */
AG_API ag_tensor *ag_gridded_dataset_nll(const ag_gridded_dataset *ds, ag_tensor *model_vis);
/* A new dataset restricted to mask2d (MPoL's add_mask on a copy): mask2d bool (npix, npix), packed,
 * on ds's device, broadcast over channels and and-ed with ds->mask; the gridded vis and weights
 * are zeroed outside the new mask. ds is unchanged. */
AG_API ag_gridded_dataset *ag_gridded_dataset_masked(const ag_gridded_dataset *ds, ag_tensor *mask2d);

/* MPoL's DataAverager.to_pytorch_dataset: loose visibilities -> gridded dataset. Per packed cell
 * of each channel: weight_gridded = Σ w, vis_gridded = Σ w V / Σ w (the weighted mean), mask =
 * Σ w > 0. A point's cell is MPoL's histogram bin over u_edges, v_edges (fast_histogram: a
 * point on the upper outer edge u = u_bin_max or v = v_bin_max falls outside and is dropped).
 * Errors (NULL, nothing made): points beyond the grid (ag_grid_check_data_fit's message, naming
 * the cell size that would fit), Hermitian pairs in the input (MPoL's check: the first min(5, nvis)
 * points of channel 0 searched for a (-u, -v) point with conjugate data). The computation runs on
 * the host in f64; the dataset is made on vis's device in vis's precision. MPoL's visibility
 * scatter check (check_visibility_scatter) is not done. */
AG_API ag_gridded_dataset *ag_data_average(const ag_grid_coords *gc, const ag_vis *vis);

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
                                q in λ (the visibilities of an image Gaussian of this FWHM); 0: none */
    ag_image_unit unit;      /* Jy/arcsec² divides by the beam area */
    int ntheta;              /* azimuthal wedges of the beam-area null search; 0: 24 */
    bool area_per_channel;   /* false (MPoL's single_channel_estimate): channel 0's nulled region for all */
} ag_dirty_opts;
/* Dirty image and beam of loose visibilities, as MPoL: the points and their Hermitian conjugates
 * (-u, -v, conj V) gridded with taper · density · weight, density 1 (natural), 1/W_k (uniform, W_k
 * the cell's Σ w) or 1/(1 + W_k f²) with f² = (5·10^-R)² / (Σ_k W_k² / Σ_i w_i) per channel (briggs);
 * C = 1 / Σ taper · density · w; image = npix² · ifft2(C · gridded) shifted to the SKY layout, real,
 * (nchan, npix, npix) in Jy/beam (peak of the beam 1) or Jy/arcsec²; beam likewise from the weights
 * alone; beam_area (nchan) [arcsec²] = cell_size² · Σ of the beam out to its first null (MPoL's
 * get_dirty_beam_area). Outputs in vis's precision on vis's device; any of image, beam, beam_area
 * may be NULL (not wanted). A Jy/arcsec² image is what a BaseCube's initial sky image is given in.
 * Errors (negative ag_status, no output written): those of ag_data_average, robust outside [-2, 2],
 * an unknown weighting or unit, a negative or non-finite taper, a beam with no negative pixel in a
 * wedge (no first null: grid too small for the beam), imaginary parts >= 1e-10 (MPoL's check).
 * opts NULL: the defaults. Computed on the host in f64, as MPoL (NumPy). */
AG_API int ag_dirty_image(const ag_grid_coords *gc, const ag_vis *vis, const ag_dirty_opts *opts, ag_tensor **image,
                          ag_tensor **beam, ag_tensor **beam_area);

/* Cross-validation: k-fold splits of a gridded dataset's cells (MPoL 0.2's crossval.py). A split
 * holds one label per packed cell (npix²) and borrows ds, which must outlive it. */
typedef struct ag_crossval_splits {
    const ag_gridded_dataset *ds;
    int k;
    int32_t *fold;           /* npix² packed cells: test fold 0..k-1; -1 in every training set
                                (random-cell's top 1%); -2 in no set (no data) */
} ag_crossval_splits;
/* MPoL's RandomCellSplitGridded: the masked cells of `channel` with the nn = floor(0.01 nmask)
 * largest gridded weights (nmask over all channels, as MPoL; none when nn = 0, where MPoL would take
 * them all) join every training set; the rest are shuffled (Fisher-Yates with a private generator
 * seeded by seed, so the global ag_manual_seed stream is untouched) and cut into k near-equal
 * folds as torch.tensor_split. Masks are 2-d (from that channel), applied to every channel.
 * k >= 2 and at most the number of cells to split; errors NULL. */
AG_API ag_crossval_splits *ag_crossval_random_cell(const ag_gridded_dataset *ds, int k, uint64_t seed, int channel);
/* MPoL's DartboardSplitGridded: cells with data in any channel are labelled by their polar cell
 * (q in [q_i, q_i+1), φ folded to (0, π] by adding π to φ <= 0, in (φ_j, φ_j+1]: the rule of
 * MPoL's build_grid_mask_from_cells, so every cell falls in exactly one fold); the polar cells
 * holding data, in (q, φ) order, are shuffled as above and cut into k folds (np.array_split).
 * q_edges NULL: MPoL's loglinspace(0, q_max, 8, 5) [λ], q_max = √2 du (npix/2 + 1); phi_edges
 * NULL: linspace(0, π, 9). Edges strictly increasing, φ within [0, π]. k >= 2 and at most the
 * number of polar cells with data. */
AG_API ag_crossval_splits *ag_crossval_dartboard(const ag_gridded_dataset *ds, int k, uint64_t seed, const double *q_edges,
                                                 int nq_edges, const double *phi_edges, int nphi_edges);
/* The default dartboard edges (nq = 13: loglinspace(0, q_max, 8, 5); nphi = 9) into q[13], phi[9]. */
AG_API int ag_dartboard_default_edges(const ag_grid_coords *gc, double q[13], double phi[9]);
AG_API void ag_crossval_splits_free(ag_crossval_splits *s);   /* NULL is a no-op */
/* Fold i's (train, test) datasets (ag_gridded_dataset_masked of s->ds), new; 0 or a negative ag_status. */
AG_API int ag_crossval_fold(const ag_crossval_splits *s, int i, ag_gridded_dataset **train, ag_gridded_dataset **test);
/* The driver (MPoL's CrossValidate.run_crossval with the model left to the caller): for each
 * fold, train(train set, fold, ctx) returns the trained model visibility cube (complex, packed,
 * a new reference), or NULL with the error set; the fold's score is score(model, test set, ctx)
 * (score NULL: ag_gridded_dataset_nll, as MPoL's TrainTest.test), written to scores[i]
 * (s->k doubles). mean and std (population, np.std) of the scores to *mean, *std (either may be
 * NULL). Runs each fold in a scope. A failing callback stops the run: its error is returned. */
typedef ag_tensor *(*ag_crossval_train_fn)(const ag_gridded_dataset *train, int fold, void *ctx);
typedef ag_tensor *(*ag_crossval_score_fn)(const ag_gridded_dataset *test, ag_tensor *model_vis, void *ctx);
AG_API int ag_crossval_run(const ag_crossval_splits *s, ag_crossval_train_fn train, ag_crossval_score_fn score, void *ctx,
                           double *scores, double *mean, double *std);

/* ---- Files and figures (imaging/io.c, uvsim.c, fits.c, figure.c) ------------------------ */

/* ---- NuFFT and direct DFT (tensor/nufft_ops.c, imaging/nufft.c) ------------------------ */

#ifdef __cplusplus
}
#endif

#endif
