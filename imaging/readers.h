/* imaging/readers.h — what the visibility readers (uvfits.c, ms.cc) share, so that a UVFITS file
 * and a Measurement Set holding the same samples give the same ag_vis: the Stokes I rule and the
 * ag_vis built from plain sample arrays. Private to imaging/; C and C++ (ms.cc). */
#ifndef AG_IMAGING_READERS_H
#define AG_IMAGING_READERS_H

#include <math.h>
#include <stdbool.h>
#include <stdint.h>

#include "astrograd/imaging.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Stokes I of one sample from the I correlation (q2 NULL) or from two parallel hands (RR and
 * LL, or XX and YY): I = (q1 + q2)/2 with weight 4/(1/w1 + 1/w2), the inverse of the mean's
 * variance. Each q is (re, im, weight), a flagged correlation given weight 0. False when the
 * sample is dropped: a hand flagged (weight <= 0 or not finite) or a value not finite. */
static inline bool ag__stokes_i(const double *q1, const double *q2, double out[3]) {
    if (!(q1[2] > 0) || !isfinite(q1[2])) return false;
    if (!q2) out[0] = q1[0], out[1] = q1[1], out[2] = q1[2];
    else {
        if (!(q2[2] > 0) || !isfinite(q2[2])) return false;
        out[0] = (q1[0] + q2[0]) / 2, out[1] = (q1[1] + q2[1]) / 2, out[2] = 4 / (1 / q1[2] + 1 / q2[2]);
    }
    return isfinite(out[0]) && isfinite(out[1]);
}

/* A new one-channel ag_vis of n samples (n >= 1): u, v [λ], d (2n: re, im) [Jy], w [1/Jy²],
 * t [s], a1, a2 indices into the nst stations (copied); freq = (1) ref_freq. Makes host
 * tensors and overwrites w with σ = 1/√w. The caller sets fourier_sign, ra, dec, source and
 * date_obs. NULL with the error set (naming fn) on allocation failure. */
__attribute__((visibility("default"))) /* for the Measurement Set module, libastrograd_ms.so */
ag_vis *ag__vis_from_samples(const char *fn, int64_t n, const double *u, const double *v, const double *d, double *w,
                             const double *t, const int64_t *a1, const int64_t *a2, char *const *stations, int nst,
                             double ref_freq);

#ifdef __cplusplus
}
#endif

#endif
