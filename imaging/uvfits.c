/* imaging/uvfits.c — Stokes I visibilities from random-groups UVFITS (AIPS, CASA, HOPS/eht-imaging)
 * through cfitsio, so VLBI data load without a Python detour. */
#include "ag_config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "astrograd/imaging.h"
#include "tensor/layer.h"
#include "imaging/readers.h"

#ifndef AG_HAVE_CFITSIO
ag_vis *ag_read_uvfits(const char *path) {
    (void)path;
    return ag_fail(AG_ERR_NOTIMPL, "ag_read_uvfits: this build has no cfitsio");
}
#else
#include <fitsio.h>

#define FN "ag_read_uvfits"
#define MAXANT 2048

typedef struct { double crval, cdelt, crpix; long n, stride; } axis;

static void *bad(const char *path, const char *what) {
    ag_set_error(AG_ERR_FORMAT, FN ": '%s': %s", path, what);
    return NULL;
}
static void *cfio(const char *path, const char *what, int st) {
    char text[FLEN_STATUS] = "";
    fits_get_errstatus(st, text);
    ag_set_error(AG_ERR_FORMAT, FN ": '%s': %s (cfitsio: %s)", path, what, text);
    return NULL;
}
static double key_num(fitsfile *f, const char *key, double dflt) {
    int st = 0;
    double v = dflt;
    if (fits_read_key(f, TDOUBLE, key, &v, NULL, &st)) v = dflt;
    return v;
}
static char *key_str(fitsfile *f, const char *key) {
    int st = 0;
    char v[FLEN_VALUE] = "";
    if (fits_read_key(f, TSTRING, key, v, NULL, &st)) return NULL;
    for (size_t n = strlen(v); n && v[n - 1] == ' '; n--) v[n - 1] = 0;
    return strdup(v);
}

/* Every HDU's data end within the file (a truncated AN table would otherwise leave the stations
 * unnamed without a word); leaves f on the primary HDU. */
static bool extensions_whole(fitsfile *f, long long fsize) {
    int st = 0, type = 0;
    bool ok = true;
    for (int h = 2; ok; h++) {
        LONGLONG head = 0, dstart = 0, dend = 0;
        if (fits_movabs_hdu(f, h, &type, &st)) {
            ok = st == END_OF_FILE;
            break;
        }
        if (fits_get_hduaddrll(f, &head, &dstart, &dend, &st) || dend > fsize) ok = false;
    }
    st = 0;
    fits_movabs_hdu(f, 1, NULL, &st);
    return ok && !st;
}

/* IF offsets [Hz] from the AIPS FQ table (0 without one); leaves f on the primary HDU */
static int if_offsets(fitsfile *f, long nif, double *off) {
    int st = 0, col = 0, typecode = 0;
    long repeat = 0, width = 0;
    for (long i = 0; i < nif; i++) off[i] = 0;
    if (!fits_movnam_hdu(f, BINARY_TBL, "AIPS FQ", 0, &st) && !fits_get_colnum(f, CASEINSEN, "IF FREQ", &col, &st) &&
        !fits_get_coltype(f, col, &typecode, &repeat, &width, &st) && repeat == nif) {
        int anynul = 0;
        if (fits_read_col(f, TDOUBLE, col, 1, 1, nif, NULL, off, &anynul, &st)) for (long i = 0; i < nif; i++) off[i] = 0;
    }
    st = 0;
    fits_movabs_hdu(f, 1, NULL, &st);
    return st;
}

/* AN table: names[NOSTA] (NULL where none); false without a readable table */
static bool an_table(fitsfile *f, char **names) {
    int st = 0, cn = 0, cs = 0, anynul = 0;
    long rows = 0;
    bool ok = false;
    if (!fits_movnam_hdu(f, BINARY_TBL, "AIPS AN", 0, &st) && !fits_get_colnum(f, CASEINSEN, "ANNAME", &cn, &st) &&
        !fits_get_colnum(f, CASEINSEN, "NOSTA", &cs, &st) && !fits_get_num_rows(f, &rows, &st)) {
        ok = true;
        for (long r = 1; r <= rows && ok; r++) {
            char buf[FLEN_VALUE] = "", *p = buf;
            long nosta = 0;
            if (fits_read_col(f, TSTRING, cn, r, 1, 1, NULL, &p, &anynul, &st) ||
                fits_read_col(f, TLONG, cs, r, 1, 1, NULL, &nosta, &anynul, &st)) { ok = false; break; }
            if (nosta < 1 || nosta >= MAXANT) continue;
            for (size_t n = strlen(buf); n && buf[n - 1] == ' '; n--) buf[n - 1] = 0;
            free(names[nosta]);
            names[nosta] = strdup(buf);
        }
    }
    st = 0;
    fits_movabs_hdu(f, 1, NULL, &st);
    return ok;
}

static ag_vis *read_all(fitsfile *f, const char *path, long long fsize) {
    int st = 0, naxis = 0, bitpix = 0;
    long naxes[16] = {0};
    char groups = 0;
    if (fits_get_img_param(f, 16, &bitpix, &naxis, naxes, &st)) return cfio(path, "reading the primary header", st);
    if (fits_read_key(f, TLOGICAL, "GROUPS", &groups, NULL, &st) || !groups || naxis < 3 || naxis > 16 || naxes[0] != 0)
        return bad(path, "not a random-groups UVFITS file (expected GROUPS = T and NAXIS1 = 0)");
    long pcount = (long)key_num(f, "PCOUNT", -1), gcount = (long)key_num(f, "GCOUNT", -1);
    if (pcount < 3 || pcount > 999 || gcount < 1) return bad(path, "expected PCOUNT >= 3 and GCOUNT >= 1");
    axis cx = {0}, sx = {0}, fx = {0}, ix = {1, 1, 1, 1, 0};
    bool has_c = false, has_s = false, has_f = false;
    long stride = 1;
    double ra = 0, dec = 0;
    for (int i = 2; i <= naxis; i++) {
        char k[FLEN_KEYWORD];
        snprintf(k, sizeof k, "CTYPE%d", i);
        char *ct = key_str(f, k);
        axis a = {0, 1, 1, naxes[i - 1], stride};
        if (a.n < 1) { free(ct); return bad(path, "an axis of length < 1"); }
        snprintf(k, sizeof k, "CRVAL%d", i), a.crval = key_num(f, k, 0);
        snprintf(k, sizeof k, "CDELT%d", i), a.cdelt = key_num(f, k, 1);
        snprintf(k, sizeof k, "CRPIX%d", i), a.crpix = key_num(f, k, 1);
        if (ct && !strcmp(ct, "RA")) ra = a.crval;
        if (ct && !strcmp(ct, "DEC")) dec = a.crval;
        if (ct && !strcmp(ct, "COMPLEX")) cx = a, has_c = true;
        else if (ct && !strcmp(ct, "STOKES")) sx = a, has_s = true;
        else if (ct && !strcmp(ct, "FREQ")) fx = a, has_f = true;
        else if (ct && !strcmp(ct, "IF")) ix = a;
        else if (a.n != 1) { free(ct); return bad(path, "an axis other than COMPLEX, STOKES, FREQ, IF of length > 1"); }
        free(ct);
        if (stride > (1L << 30) / a.n) return bad(path, "a group too large");
        stride *= a.n;
    }
    if (!has_c || cx.n != 3 || cx.stride != 1) return bad(path, "expected the COMPLEX axis (real, imag, weight) first, of length 3");
    if (!has_s || !has_f || !(fx.crval > 0)) return bad(path, "expected STOKES and FREQ axes with CRVAL of FREQ > 0");
    long ns = sx.n, nf = fx.n, nif = ix.n;
    if (ns > 8) return bad(path, "more than 8 correlations");
    /* which correlations make Stokes I */
    int iI = -1, iP = -1, iQ = -1;
    for (long k = 0; k < ns; k++) {
        int code = (int)lround(sx.crval + ((double)k + 1 - sx.crpix) * sx.cdelt);
        if (code == 1) iI = (int)k;
        if (code == -1 || code == -5) iP = (int)k;
        if (code == -2 || code == -6) iQ = (int)k;
    }
    if (iI < 0 && (iP < 0 || iQ < 0)) return bad(path, "expected a STOKES axis with I, RR and LL, or XX and YY");
    /* random parameters */
    int pu = -1, pv = -1, pb = -1, pa1 = -1, pa2 = -1, pd[2] = {-1, -1};
    double pscal[1000], pzero[1000];
    for (int i = 1; i <= pcount; i++) {
        char k[FLEN_KEYWORD];
        snprintf(k, sizeof k, "PTYPE%d", i);
        char *pt = key_str(f, k);
        snprintf(k, sizeof k, "PSCAL%d", i), pscal[i - 1] = key_num(f, k, 1);
        snprintf(k, sizeof k, "PZERO%d", i), pzero[i - 1] = key_num(f, k, 0);
        if (!pt) continue;
        if (!strncmp(pt, "UU", 2)) pu = i - 1;
        else if (!strncmp(pt, "VV", 2)) pv = i - 1;
        else if (!strcmp(pt, "BASELINE")) pb = i - 1;
        else if (!strcmp(pt, "ANTENNA1")) pa1 = i - 1;
        else if (!strcmp(pt, "ANTENNA2")) pa2 = i - 1;
        else if (!strcmp(pt, "DATE")) { if (pd[0] < 0) pd[0] = i - 1; else if (pd[1] < 0) pd[1] = i - 1; }
        free(pt);
    }
    if (pu < 0 || pv < 0 || pd[0] < 0 || (pb < 0 && (pa1 < 0 || pa2 < 0)))
        return bad(path, "expected the random parameters UU, VV, DATE and BASELINE (or ANTENNA1 and ANTENNA2)");
    /* a damaged GCOUNT or axis length must fail here, not as a huge allocation or a read past the end */
    LONGLONG head = 0, dstart = 0, dend = 0;
    if (fits_get_hduaddrll(f, &head, &dstart, &dend, &st)) return cfio(path, "locating the groups", st);
    long long need = (long long)gcount * (pcount + stride) * (abs(bitpix) / 8);
    if (need <= 0 || fsize < 0 || dstart + need > fsize) return bad(path, "truncated: the header announces more groups than the file holds");
    if (!extensions_whole(f, fsize)) return bad(path, "truncated or damaged: an extension (AN, FQ table) ends past the end of the file");
    double ifoff[64];
    if (nif > 64) return bad(path, "more than 64 IFs");
    if (if_offsets(f, nif, ifoff)) return cfio(path, "moving back to the primary HDU", 1);

    long nmax = gcount * nf * nif;
    double *u = malloc(nmax * sizeof *u), *v = malloc(nmax * sizeof *v), *w = malloc(nmax * sizeof *w);
    double *d = malloc(2 * nmax * sizeof *d), *t = malloc(nmax * sizeof *t);
    int64_t *a1 = malloc(nmax * sizeof *a1), *a2 = malloc(nmax * sizeof *a2);
    double *par = malloc(pcount * sizeof *par), *grp = malloc(stride * sizeof *grp);
    char **names = calloc(MAXANT, sizeof *names);
    int idx[MAXANT];
    ag_vis *vis = NULL;
    if (!u || !v || !w || !d || !t || !a1 || !a2 || !par || !grp || !names) { ag_set_error(AG_ERR_NOMEM, FN ": out of memory"); goto done; }
    for (int i = 0; i < MAXANT; i++) idx[i] = -1;
    bool have_an = an_table(f, names);
    long n = 0;
    int nst = 0;
    for (long g = 1; g <= gcount; g++) {
        int anynul = 0;
        if (fits_read_grppar_dbl(f, g, 1, pcount, par, &st) || fits_read_img_dbl(f, g, 1, stride, 0.0, grp, &anynul, &st)) {
            cfio(path, "reading the groups (truncated?)", st);
            goto done;
        }
        /* cfitsio's group-parameter reads return the stored values (the EHT files' UU × PSCAL1 gives
         * seconds only when scaled here), so PSCALn/PZEROn are applied once, here */
        for (int i = 0; i < pcount; i++) par[i] = par[i] * pscal[i] + pzero[i];
        long s1, s2;
        if (pb >= 0) {
            double b = par[pb];
            if (!(b >= 0 && b < 1e8)) { bad(path, "a BASELINE parameter out of range"); goto done; }
            long bl = lround(b);
            if (bl >= 65536) s1 = (bl - 65536) / 2048, s2 = (bl - 65536) % 2048;
            else s1 = bl / 256, s2 = bl % 256;
        } else s1 = lround(par[pa1]), s2 = lround(par[pa2]);
        if (s1 < 1 || s2 < 1 || s1 >= MAXANT || s2 >= MAXANT) { bad(path, "a station number out of range 1..2047"); goto done; }
        if (s1 == s2) continue; /* auto-correlation */
        long ss[2] = {s1, s2};
        for (int j = 0; j < 2; j++)
            if (idx[ss[j]] < 0) {
                if (have_an && !names[ss[j]]) { bad(path, "a station number missing from the AN table"); goto done; }
                idx[ss[j]] = nst++;
            }
        double jd = par[pd[0]] + (pd[1] >= 0 ? par[pd[1]] : 0);
        double us = par[pu], vs = par[pv];
        if (!isfinite(us) || !isfinite(vs) || !isfinite(jd)) continue;
        for (long fi = 0; fi < nif; fi++)
            for (long c = 0; c < nf; c++) {
                double freq = fx.crval + ((double)c + 1 - fx.crpix) * fx.cdelt + ifoff[fi];
                const double *p = grp + fi * ix.stride + c * fx.stride;
                double q[3];
                if (!ag__stokes_i(p + (iI >= 0 ? iI : iP) * sx.stride, iI >= 0 ? NULL : p + iQ * sx.stride, q) ||
                    !(freq > 0))
                    continue;
                u[n] = us * freq, v[n] = vs * freq, w[n] = q[2], d[2 * n] = q[0], d[2 * n + 1] = q[1];
                t[n] = (jd - 2400000.5) * 86400.0, a1[n] = idx[s1], a2[n] = idx[s2];
                n++;
            }
    }
    if (n == 0) { bad(path, "no unflagged cross-correlation visibility"); goto done; }
    char num[MAXANT][8], *st_names[MAXANT];
    for (int s = 1; s < MAXANT; s++) {
        if (idx[s] < 0) continue;
        snprintf(num[idx[s]], sizeof num[0], "%d", s);
        st_names[idx[s]] = names[s] ? names[s] : num[idx[s]];
    }
    if (!(vis = ag__vis_from_samples(FN, n, u, v, d, w, t, a1, a2, st_names, nst, fx.crval))) goto done;
    vis->fourier_sign = +1;
    vis->ra = ra, vis->dec = dec;
    vis->source = key_str(f, "OBJECT"), vis->date_obs = key_str(f, "DATE-OBS");
done:
    free(u), free(v), free(w), free(d), free(t), free(a1), free(a2), free(par), free(grp);
    for (int i = 0; names && i < MAXANT; i++) free(names[i]);
    free(names);
    return vis;
}

ag_vis *ag_read_uvfits(const char *path) {
    if (!path) return ag_failed() ? NULL : ag_fail(AG_ERR_INVALID, FN ": NULL path");
    fitsfile *f = NULL;
    int st = 0;
    /* its size bounds what the header may announce (read_all) */
    FILE *fp = fopen(path, "rb");
    if (!fp) return ag_fail(AG_ERR_IO, FN ": '%s': cannot open it for reading", path);
    long long fsize = fseek(fp, 0, SEEK_END) ? -1 : ftell(fp);
    fclose(fp);
    if (fits_open_diskfile(&f, path, READONLY, &st)) {
        char text[FLEN_STATUS] = "";
        fits_get_errstatus(st, text);
        return ag_fail(AG_ERR_FORMAT, FN ": '%s': not a FITS file or a damaged header (cfitsio: %s)", path, text);
    }
    ag_vis *vis = read_all(f, path, fsize);
    st = 0;
    fits_close_file(f, &st);
    return vis;
}
#endif
