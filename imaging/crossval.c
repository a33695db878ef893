/* imaging/crossval.c — MPoL's Dartboard, its k-fold splits of a gridded dataset (random cells,
 * dartboard cells) and the cross-validation loop. The splits are made once on the host from the
 * dataset's mask (MPoL does it in NumPy/torch on the CPU); each fold's train and test sets are
 * ag_gridded_dataset_masked copies, so they live on the dataset's device. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "imaging/gridding.h"
#include "tensor/layer.h"

int ag_loglinspace(double start, double end, int n_log, int m_linear, double *out) {
    const char *fn = "ag_loglinspace";
    if (!out) return ag_set_error(AG_ERR_INVALID, "%s: out is NULL", fn);
    if (n_log < 1 || m_linear < 2)
        return ag_set_error(AG_ERR_INVALID, "%s: expected n_log >= 1 and m_linear >= 2, given %d and %d", fn, n_log,
                            m_linear);
    if (!isfinite(start) || !isfinite(end) || !(end > 0))
        return ag_set_error(AG_ERR_INVALID, "%s: expected finite start and end > 0, given %g and %g", fn, start, end);
    /* MPoL's utils.loglinspace, operation for operation */
    double a = end / pow(10.0, n_log * log10((double)m_linear / (m_linear - 1)));
    double delta = a / (m_linear - 1), Delta = log10(end / a) / n_log;
    for (int i = 0; i < m_linear; i++) out[i] = start + delta * i;
    for (int j = 1; j <= n_log; j++) out[m_linear - 1 + j] = pow(10.0, log10(a) + Delta * j);
    return 0;
}

/* q and φ of the packed grid cells (host, f64), from ag_grid_centers_2d */
static int grid_q_phi(const char *fn, const ag_grid_coords *gc, double *q, double *phi) {
    ag_scope_begin();
    ag_tensor *tq = ag_grid_centers_2d(gc, AG_GRID_Q, AG_LAYOUT_PACKED);
    ag_tensor *tp = ag_grid_centers_2d(gc, AG_GRID_PHI, AG_LAYOUT_PACKED);
    int rc = tq && tp ? 0 : AG_ERR_INVALID;
    if (!rc) rc = ag_copy_to_buffer(tq, q, AG_F64);
    if (!rc) rc = ag_copy_to_buffer(tp, phi, AG_F64);
    ag_scope_end();
    if (rc < 0 && !ag_failed()) ag_set_error(rc, "%s: cannot make the grid's q and phi", fn);
    return rc < 0 ? rc : 0;
}

int ag_dartboard_init(ag_dartboard *db, const ag_grid_coords *gc) {
    const char *fn = "ag_dartboard_init";
    if (!db) return ag_set_error(AG_ERR_INVALID, "%s: db is NULL", fn);
    if (!ag__grid_valid(fn, gc)) return AG_ERR_INVALID;
    int64_t n2 = gc->npix * gc->npix;
    double *q = malloc((size_t)n2 * sizeof *q), *phi = malloc((size_t)n2 * sizeof *phi);
    int rc = q && phi ? grid_q_phi(fn, gc, q, phi) : ag_set_error(AG_ERR_NOMEM, "%s: out of memory", fn);
    if (!rc) {
        double qmax = 0;
        for (int64_t i = 0; i < n2; i++) qmax = fabs(q[i]) > qmax ? fabs(q[i]) : qmax;
        ag_dartboard d = { .coords = *gc };
        rc = ag_loglinspace(0.0, qmax + sqrt(2.0) * gc->du, 8, 5, d.q_edges); /* MPoL's q_max */
        for (int i = 0; i < AG_DARTBOARD_NPHI; i++) d.phi_edges[i] = i * (M_PI / AG_DARTBOARD_NPHI); /* np.linspace */
        d.phi_edges[AG_DARTBOARD_NPHI] = M_PI;
        if (!rc) *db = d;
    }
    free(q), free(phi);
    return rc;
}

static bool db_valid(const char *fn, const ag_dartboard *db) {
    if (!db) return ag_set_error(AG_ERR_INVALID, "%s: dartboard is NULL", fn), false;
    if (!ag__grid_valid(fn, &db->coords) || !(db->q_edges[AG_DARTBOARD_NQ] > 0))
        return ag_set_error(AG_ERR_INVALID, "%s: dartboard not initialised (use ag_dartboard_init)", fn), false;
    return true;
}

/* MPoL's build_grid_mask_from_cells rule: q in [q_i, q_i+1), φ in (φ_j, φ_j+1] or, for the
 * Hermitian half, in (φ_j - π, φ_j+1 - π]; -1 when no cell holds (q, φ) */
static int64_t db_cell(const ag_dartboard *db, double q, double phi) {
    int iq = -1, ip = -1;
    for (int i = 0; i < AG_DARTBOARD_NQ; i++)
        if (q >= db->q_edges[i] && q < db->q_edges[i + 1]) { iq = i; break; }
    for (int j = 0; j < AG_DARTBOARD_NPHI; j++) {
        const double *e = db->phi_edges + j;
        if ((phi > e[0] && phi <= e[1]) || (phi > e[0] - M_PI && phi <= e[1] - M_PI)) { ip = j; break; }
    }
    return iq < 0 || ip < 0 ? -1 : (int64_t)iq * AG_DARTBOARD_NPHI + ip;
}

/* map[npix²] of each packed grid cell's flat dartboard cell (or -1) */
static int db_map(const char *fn, const ag_dartboard *db, int64_t *map) {
    int64_t n2 = db->coords.npix * db->coords.npix;
    double *q = malloc((size_t)n2 * sizeof *q), *phi = malloc((size_t)n2 * sizeof *phi);
    int rc = q && phi ? grid_q_phi(fn, &db->coords, q, phi) : ag_set_error(AG_ERR_NOMEM, "%s: out of memory", fn);
    for (int64_t i = 0; !rc && i < n2; i++) map[i] = db_cell(db, q[i], phi[i]);
    free(q), free(phi);
    return rc;
}

ag_tensor *ag_dartboard_cell_map(const ag_dartboard *db) {
    const char *fn = "ag_dartboard_cell_map";
    if (!db_valid(fn, db)) return NULL;
    int64_t n = db->coords.npix, *map = malloc((size_t)(n * n) * sizeof *map);
    if (!map) return ag_fail(AG_ERR_NOMEM, "%s: out of memory", fn);
    ag_tensor *r = db_map(fn, db, map) ? NULL : ag_from_data_on(map, AG_SHAPE(n, n), AG_I64, AG_CPU); /* host */
    free(map);
    return r;
}

/* The packed cells (npix²) holding data in any channel of ds, read once on the host. */
static bool *stacked_mask(const char *fn, const ag_gridded_dataset *ds) {
    int64_t n2 = ds->coords.npix * ds->coords.npix, nc = ds->nchan;
    bool *all = malloc((size_t)(nc * n2) * sizeof *all), *m = calloc((size_t)n2, sizeof *m);
    if (!all || !m) { free(all), free(m); return ag_fail(AG_ERR_NOMEM, "%s: out of memory", fn); }
    if (ag_copy_to_buffer(ds->mask, all, AG_BOOL) < 0) { free(all), free(m); return NULL; }
    for (int64_t c = 0; c < nc; c++)
        for (int64_t i = 0; i < n2; i++) m[i] |= all[c * n2 + i];
    free(all);
    return m;
}

static bool ds_valid(const char *fn, const ag_gridded_dataset *ds) {
    if (!ds) return ag_set_error(AG_ERR_INVALID, "%s: dataset is NULL", fn), false;
    if (!ds->mask) return ag_set_error(AG_ERR_INVALID, "%s: dataset has no mask", fn), false;
    return ag__grid_valid(fn, &ds->coords);
}

/* Per packed cell of ds: its flat dartboard cell when it holds data, else -1; occupied[] (sorted,
 * *nocc of them) the distinct cells. */
static int db_assign(const char *fn, const ag_dartboard *db, const ag_gridded_dataset *ds, int64_t *cell,
                     int64_t *occupied, int64_t *nocc) {
    if (db->coords.npix != ds->coords.npix || db->coords.cell_size != ds->coords.cell_size)
        return ag_set_error(AG_ERR_INVALID, "%s: dartboard of npix %lld, cell %g arcsec, dataset of npix %lld, cell %g",
                            fn, (long long)db->coords.npix, db->coords.cell_size, (long long)ds->coords.npix,
                            ds->coords.cell_size);
    int64_t n2 = ds->coords.npix * ds->coords.npix;
    bool *m = stacked_mask(fn, ds);
    if (!m) return ag_error_code();
    int rc = db_map(fn, db, cell);
    bool used[AG_DARTBOARD_NQ * AG_DARTBOARD_NPHI] = { false };
    for (int64_t i = 0; !rc && i < n2; i++) {
        if (!m[i]) { cell[i] = -1; continue; }
        if (cell[i] < 0) /* not for a grid from ag_dartboard_init: q_max lies beyond every cell */
            rc = ag_set_error(AG_ERR_INVALID, "%s: packed cell %lld holds data outside the dartboard", fn, (long long)i);
        else
            used[cell[i]] = true;
    }
    free(m);
    *nocc = 0;
    for (int64_t c = 0; !rc && c < AG_DARTBOARD_NQ * AG_DARTBOARD_NPHI; c++)
        if (used[c]) occupied[(*nocc)++] = c;
    return rc;
}

int ag_dartboard_cells(const ag_dartboard *db, const ag_gridded_dataset *ds, ag_tensor **cells, ag_tensor **occupied) {
    const char *fn = "ag_dartboard_cells";
    if (cells) *cells = NULL;
    if (occupied) *occupied = NULL;
    if (!db_valid(fn, db) || !ds_valid(fn, ds)) return ag_error_code();
    int64_t n2 = ds->coords.npix * ds->coords.npix, nocc = 0, occ[AG_DARTBOARD_NQ * AG_DARTBOARD_NPHI];
    int64_t *cell = malloc((size_t)n2 * sizeof *cell), *rows = malloc((size_t)n2 * 3 * sizeof *rows);
    int rc = cell && rows ? db_assign(fn, db, ds, cell, occ, &nocc) : ag_set_error(AG_ERR_NOMEM, "%s: out of memory", fn);
    if (!rc) {
        int64_t nr = 0, pairs[AG_DARTBOARD_NQ * AG_DARTBOARD_NPHI * 2];
        for (int64_t i = 0; i < n2; i++)
            if (cell[i] >= 0) {
                rows[3 * nr] = i, rows[3 * nr + 1] = cell[i] / AG_DARTBOARD_NPHI, rows[3 * nr + 2] = cell[i] % AG_DARTBOARD_NPHI;
                nr++;
            }
        for (int64_t j = 0; j < nocc; j++) pairs[2 * j] = occ[j] / AG_DARTBOARD_NPHI, pairs[2 * j + 1] = occ[j] % AG_DARTBOARD_NPHI;
        ag_tensor *tc = cells ? ag_from_data_on(rows, AG_SHAPE(nr, 3), AG_I64, AG_CPU) : NULL; /* host */
        ag_tensor *to = occupied ? ag_from_data_on(pairs, AG_SHAPE(nocc, 2), AG_I64, AG_CPU) : NULL; /* host */
        if ((cells && !tc) || (occupied && !to)) {
            if (tc) ag_release(tc);
            if (to) ag_release(to);
            rc = ag_error_code();
        } else {
            if (cells) *cells = tc;
            if (occupied) *occupied = to;
        }
    }
    free(cell), free(rows);
    return rc;
}

/* ---- k-fold splits ---- */

struct ag_cv_split {
    const ag_gridded_dataset *ds;  /* borrowed */
    int k;
    int64_t npix;
    int64_t *fold;                 /* npix²: the fold whose test set holds each packed cell, -1 for none */
};

/* splitmix64 (Steele, Lea, Flood 2014): a small, well-mixed generator fixed by the seed alone */
static uint64_t splitmix64(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Fisher-Yates shuffle of units[n], then cut into k folds as numpy's array_split (the first
 * n % k folds one longer): fold_of_value[u] receives the fold of the unit whose value is u. */
static void shuffle_split(int64_t *units, int64_t n, int k, uint64_t seed, int64_t *fold_of_value) {
    uint64_t s = seed;
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)(((unsigned __int128)splitmix64(&s) * (uint64_t)(i + 1)) >> 64);
        int64_t t = units[i];
        units[i] = units[j], units[j] = t;
    }
    int64_t base = n / k, extra = n % k, p = 0;
    for (int f = 0; f < k; f++)
        for (int64_t c = 0; c < base + (f < extra); c++) fold_of_value[units[p++]] = f;
}

ag_cv_split *ag_cv_split_new(const ag_gridded_dataset *ds, ag_cv_method method, int k, uint64_t seed) {
    const char *fn = "ag_cv_split_new";
    if (!ds_valid(fn, ds)) return NULL;
    if (method != AG_CV_RANDOM_CELL && method != AG_CV_DARTBOARD)
        return ag_fail(AG_ERR_INVALID, "%s: unknown method %d (AG_CV_RANDOM_CELL or AG_CV_DARTBOARD)", fn, (int)method);
    int64_t n2 = ds->coords.npix * ds->coords.npix;
    ag_cv_split *s = calloc(1, sizeof *s);
    int64_t *units = malloc((size_t)n2 * sizeof *units), *cell = malloc((size_t)n2 * sizeof *cell);
    if (s) s->fold = malloc((size_t)n2 * sizeof *s->fold);
    bool *m = NULL;
    int64_t nunits = 0;
    if (!s || !s->fold || !units || !cell) { ag_set_error(AG_ERR_NOMEM, "%s: out of memory", fn); goto fail; }
    s->ds = ds, s->k = k, s->npix = ds->coords.npix;
    for (int64_t i = 0; i < n2; i++) s->fold[i] = -1;
    if (method == AG_CV_RANDOM_CELL) {
        if (!(m = stacked_mask(fn, ds))) goto fail;
        for (int64_t i = 0; i < n2; i++)
            if (m[i]) units[nunits++] = i;
    } else {
        ag_dartboard db;
        int64_t occ[AG_DARTBOARD_NQ * AG_DARTBOARD_NPHI];
        if (ag_dartboard_init(&db, &ds->coords) < 0 || db_assign(fn, &db, ds, cell, occ, &nunits) < 0) goto fail;
        memcpy(units, occ, (size_t)nunits * sizeof *units);
    }
    const char *what = method == AG_CV_RANDOM_CELL ? "packed cells holding data" : "occupied dartboard cells";
    if (k < 2 || k > nunits) {
        ag_set_error(AG_ERR_INVALID, "%s: expected k in [2, %lld] (the number of %s), given %d", fn, (long long)nunits,
                     what, k);
        goto fail;
    }
    if (method == AG_CV_RANDOM_CELL) {
        shuffle_split(units, nunits, k, seed, s->fold);
    } else {
        int64_t fold_of_cell[AG_DARTBOARD_NQ * AG_DARTBOARD_NPHI];
        shuffle_split(units, nunits, k, seed, fold_of_cell);
        for (int64_t i = 0; i < n2; i++) s->fold[i] = cell[i] >= 0 ? fold_of_cell[cell[i]] : -1;
    }
    free(units), free(cell), free(m);
    return s;
fail:
    free(units), free(cell), free(m);
    ag_cv_split_free(s);
    return NULL;
}

void ag_cv_split_free(ag_cv_split *s) {
    if (!s) return;
    free(s->fold);
    free(s);
}

int ag_cv_split_k(const ag_cv_split *s) { return s ? s->k : 0; }

ag_tensor *ag_cv_split_folds(const ag_cv_split *s) {
    if (!s) return ag_failed() ? NULL : ag_fail(AG_ERR_INVALID, "ag_cv_split_folds: split is NULL");
    return ag_from_data_on(s->fold, AG_SHAPE(s->npix, s->npix), AG_I64, AG_CPU); /* host */
}

int ag_cv_split_fold(const ag_cv_split *s, int fold, ag_gridded_dataset **train, ag_gridded_dataset **test) {
    const char *fn = "ag_cv_split_fold";
    if (train) *train = NULL;
    if (test) *test = NULL;
    if (!s) return ag_set_error(AG_ERR_INVALID, "%s: split is NULL", fn);
    if (!train || !test) return ag_set_error(AG_ERR_INVALID, "%s: train or test is NULL", fn);
    if (fold < 0 || fold >= s->k)
        return ag_set_error(AG_ERR_INDEX, "%s: expected fold in [0, %d), given %d", fn, s->k, fold);
    int64_t n2 = s->npix * s->npix;
    bool *mtr = malloc((size_t)n2 * sizeof *mtr), *mte = malloc((size_t)n2 * sizeof *mte);
    if (!mtr || !mte) { free(mtr), free(mte); return ag_set_error(AG_ERR_NOMEM, "%s: out of memory", fn); }
    for (int64_t i = 0; i < n2; i++) mte[i] = s->fold[i] == fold, mtr[i] = s->fold[i] >= 0 && s->fold[i] != fold;
    ag_device dev = ag_device_of(s->ds->mask);
    ag_scope_begin();
    ag_tensor *ttr = ag_from_data_on(mtr, AG_SHAPE(s->npix, s->npix), AG_BOOL, dev);
    ag_tensor *tte = ag_from_data_on(mte, AG_SHAPE(s->npix, s->npix), AG_BOOL, dev);
    ag_gridded_dataset *a = ttr && tte ? ag_gridded_dataset_masked(s->ds, ttr) : NULL;
    ag_gridded_dataset *b = a ? ag_gridded_dataset_masked(s->ds, tte) : NULL;
    ag_scope_end();
    free(mtr), free(mte);
    if (!b) {
        ag_gridded_dataset_free(a);
        return ag_failed() ? ag_error_code() : ag_set_error(AG_ERR_INVALID, "%s: cannot make fold %d", fn, fold);
    }
    *train = a, *test = b;
    return 0;
}

int ag_cross_validate(const ag_cv_split *s, ag_crossval_fn fn_user, void *user, double *scores, double *mean) {
    const char *fn = "ag_cross_validate";
    if (!s) return ag_set_error(AG_ERR_INVALID, "%s: split is NULL", fn);
    if (!fn_user) return ag_set_error(AG_ERR_INVALID, "%s: fn is NULL", fn);
    double sum = 0;
    for (int f = 0; f < s->k; f++) {
        ag_gridded_dataset *train, *test;
        if (ag_cv_split_fold(s, f, &train, &test) < 0) return ag_error_code();
        double score = NAN;
        int rc = fn_user(train, test, f, user, &score);
        ag_gridded_dataset_free(train), ag_gridded_dataset_free(test);
        if (rc < 0 || ag_failed()) {
            /* the first error sticks: re-set it with the fold in front */
            char msg[512];
            ag_status code = ag_failed() ? ag_error_code() : (rc < 0 ? (ag_status)rc : AG_ERR_INVALID);
            snprintf(msg, sizeof msg, "%s", ag_failed() ? ag_last_error() : "no error message");
            ag_clear_error();
            return ag_set_error(code, "%s: fold %d of %d: %s", fn, f, s->k, msg);
        }
        if (!isfinite(score))
            return ag_set_error(AG_ERR_NUMERIC, "%s: fold %d of %d: the score is %g, expected a finite number", fn, f,
                                s->k, score);
        if (scores) scores[f] = score;
        sum += score;
    }
    if (mean) *mean = sum / s->k;
    return 0;
}
