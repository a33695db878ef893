/* benchmarks/results_plot.h — PNG figures of benchmark times for astrograd-bench (cairo; internal
 * to benchmarks/): time (ms, log axis) against size (log axis), or against named cases where a
 * suite's rows have no size, one line per series, quartile bars, a legend. */
#ifndef AG_RESULTS_PLOT_H
#define AG_RESULTS_PLOT_H

#include <stdbool.h>
#include <stddef.h>

#define BP_MAX_POINTS 64

typedef struct bp_series {
    char label[128];
    int color;  /* palette index: a case's astrograd and peer series share it */
    int peer;   /* 0: astrograd (solid line, filled circles); 1, 2: peers (dashed, open squares / triangles) */
    int n;
    double x[BP_MAX_POINTS], y[BP_MAX_POINTS]; /* x: size, or the case's index in cats; y: ms > 0 */
    double lo[BP_MAX_POINTS], hi[BP_MAX_POINTS]; /* quartiles, NAN when not measured */
} bp_series;

/* Draws the series and writes the PNG at path (written next to it, then renamed). cats == NULL:
 * x is a log size axis labelled xlabel; else x is the index 0 … ncats-1 into cats, the tick
 * labels, and points are not joined. Points with y <= 0 or not finite are left out. Returns 0, or -1 with the reason in err. */
int bp_write_png(const char *path, const char *title, const char *xlabel, const char *const *cats, int ncats,
                 const bp_series *s, int ns, char *err, size_t nerr);

#endif
