/* imaging/gridding.h — what gridding.c and dirty.c share: loose visibilities read to
 * the host in f64, MPoL's cell assignment and the packed/ground index maps. Private. */
#ifndef AG_IMAGING_GRIDDING_H
#define AG_IMAGING_GRIDDING_H

#include <complex.h>

#include "astrograd/imaging.h"

/* one channel after another, nvis points each */
typedef struct ag__loose {
    int64_t nchan, nvis;
    double *u, *v, *w;
    double complex *d;
} ag__loose;

/* Reads vis to the host after the checks every gridder makes (gc initialised, vis's tensors
 * (nchan, nvis), finite, weights > 0, the data fit the grid, no Hermitian pairs); fn names the
 * public function. 0 or a negative ag_status (out is then empty). */
int ag__loose_read(const char *fn, const ag_grid_coords *gc, const ag_vis *vis, ag__loose *out);
void ag__loose_free(ag__loose *l);

/* The ground-layout flat cell (row v, column u) of a point, or -1 outside the grid, as MPoL's
 * histogram (fast_histogram: bin = (x - lo) / (hi - lo) · n truncated, x in [lo, hi)). */
int64_t ag__grid_cell(const ag_grid_coords *gc, double u, double v);
/* ground flat cell -> packed flat cell (fftshift of an even npix is its own inverse) */
static inline int64_t ag__ground_to_packed(int64_t npix, int64_t cell) {
    int64_t h = npix / 2, r = cell / npix, c = cell % npix;
    return ((r + h) % npix) * npix + (c + h) % npix;
}
/* false (error set, naming fn) unless gc is an initialised grid */
bool ag__grid_valid(const char *fn, const ag_grid_coords *gc);

#endif
