/* tests/ops_imaging_losses.c — op-table rows for the fused visibility losses and image
 * regularizers (tensor/imaging_ops.c; fixtures: fixturegen/imaging_losses.py, MPoL 0.2's
 * formulas composed in torch). Losses: complex models (c64/c128) with real weights, gradients in
 * the model and the weights (the data are constants); regularizers: f32/f64 images, the entropy
 * also in its prior. The fused backward kernels give no second derivatives (rows say NOGG);
 * tests/test_imaging_losses.c checks that create_graph fails with AG_ERR_NOTIMPL and compares
 * every op with the formula composed from primitive ops. */
#include "astrograd/imaging.h"
#include "op_table.h"

OPFN(chi_squared, ag_chi_squared(x[0], x[1], x[2]))
OPFN(chi_squared_cube, ag_chi_squared(x[0], x[1], x[2]))
OPFN(r_chi_squared, ag_r_chi_squared(x[0], x[1], x[2]))
OPFN(log_likelihood, ag_log_likelihood(x[0], x[1], x[2]))
OPFN(neg_log_likelihood_avg, ag_neg_log_likelihood_avg(x[0], x[1], x[2]))
OPFN(chi_squared_masked, ag_chi_squared_masked(x[0], x[1], x[2], x[3]))
OPFN(neg_log_likelihood_avg_masked, ag_neg_log_likelihood_avg_masked(x[0], x[1], x[2], x[3]))
OPFN(entropy, ag_entropy(x[0], x[1], 10.0))
OPFN(entropy_bcast, ag_entropy(x[0], x[1], 2.5))
OPFN(entropy_s, ag_entropy_s(x[0], 0.7, 3.0))
OPFN(sparsity, ag_sparsity(x[0], NULL))
OPFN(sparsity_masked, ag_sparsity(x[0], x[1]))
OPFN(tv_image, ag_tv_image(x[0], 1e-10))
OPFN(tv_image_2d_eps, ag_tv_image(x[0], 0.3))
OPFN(tsv, ag_tsv(x[0]))
OPFN(tsv_2d, ag_tsv(x[0]))
OPFN(tv_channel, ag_tv_channel(x[0], 1e-10))
OPFN(tv_channel_eps, ag_tv_channel(x[0], 0.5))
OPFN(edge_clamp, ag_edge_clamp(x[0]))
OPFN(edge_clamp_thin, ag_edge_clamp(x[0]))
OPFN(image_priors, ag_image_priors(x[0], &(ag_prior_weights){.entropy = 0.3, .prior_intensity = 0.2, .tot_flux = 7,
                                                              .sparsity = 0.5, .tv = 2, .tv_epsilon = 1e-10, .tsv = 0.7}))
OPFN(uv_sparsity, ag_uv_sparsity(x[0], x[1], 1.0))
OPFN(psd, ag_psd(x[0], x[1], 2e4))
OPFN(image_priors_2d, ag_image_priors(x[0], &(ag_prior_weights){.sparsity = 1, .tv = 0.5, .tv_epsilon = 0.2, .tsv = 3}))

#define FUSED NOGG("fused backward kernel: no second derivatives (create_graph gives AG_ERR_NOTIMPL)")
#define ROW(nm, n, dt) {.name = #nm, .fn = f_##nm, .n_in = (n), .dtypes = (dt), FUSED}
const op_row ops_imaging_losses[] = {
    ROW(chi_squared, 3, DT_CPLX), ROW(chi_squared_cube, 3, DT_CPLX), ROW(r_chi_squared, 3, DT_CPLX),
    ROW(log_likelihood, 3, DT_CPLX), ROW(neg_log_likelihood_avg, 3, DT_CPLX),
    ROW(chi_squared_masked, 4, DT_CPLX), ROW(neg_log_likelihood_avg_masked, 4, DT_CPLX),
    ROW(entropy, 2, DT_REAL), ROW(entropy_bcast, 2, DT_REAL), ROW(entropy_s, 1, DT_REAL),
    ROW(sparsity, 1, DT_REAL), 
    {.name = "sparsity_masked", .fn = f_sparsity_masked, .n_in = 2, .dtypes = DT_REAL, FUSED, .optional = 2},
    ROW(tv_image, 1, DT_REAL), ROW(tv_image_2d_eps, 1, DT_REAL), ROW(tsv, 1, DT_REAL), ROW(tsv_2d, 1, DT_REAL),
    ROW(tv_channel, 1, DT_REAL), ROW(tv_channel_eps, 1, DT_REAL), ROW(edge_clamp, 1, DT_REAL),
    ROW(edge_clamp_thin, 1, DT_REAL), ROW(image_priors, 1, DT_REAL), ROW(image_priors_2d, 1, DT_REAL),
    /* composed from primitive ops: second derivatives too */
    {.name = "uv_sparsity", .fn = f_uv_sparsity, .n_in = 2, .dtypes = DT_CPLX},
    {.name = "psd", .fn = f_psd, .n_in = 2, .dtypes = DT_REAL},
    {0},
};
