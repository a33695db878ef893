/* backends/cpu/conv_direct_impl.h — the AVX-512 convolution kernels of conv_direct.c, written
 * once for an element type and included there for f32 and f64. The includer defines:
 *   T        element type                 V, VIDX_T   vector and index-vector types
 *   L        lanes per vector (16, 8)     MASK, FULLMASK   lane mask type and all-lanes mask
 *   FN(name) name with a type suffix      VLOADU VMASKZ VSTOREU VMSTORE VSET1 VFMA VREDUCE VPERM2
 *   DEINT_E, DEINT_O   index vectors picking even / odd elements of two vectors
 * No include guard: it is meant to be included once per type. */

/* The padded copy: per image and channel a plane of Hp rows; each row holds the s1 column
 * phases of the padded input row one after the other, Wq entries each (row length s1 * Wq). */
typedef struct FN(padded) {
    int64_t Hp, Wq, rowlen, plane, xrs, nimg; /* xrs: offset between output rows; nimg: images per chunk */
    T *buf;
    size_t bytes;
    int64_t *off; /* Cg*KH*KW offsets of the rows k = (c, p, q) */
    size_t obytes;
} FN(padded);

static int FN(padded_init)(FN(padded) *pd, const ag_conv_direct *g, const char *kname) {
    int64_t wfull = (g->WO - 1) * g->s1 + (g->KW - 1) * g->d1 + 1;
    pd->Hp = (g->HO - 1) * g->s0 + (g->KH - 1) * g->d0 + 1;
    pd->Wq = (wfull + g->s1 - 1) / g->s1;
    pd->rowlen = g->s1 * pd->Wq;
    pd->plane = pd->Hp * pd->rowlen;
    pd->xrs = g->s0 * pd->rowlen;
    pd->nimg = chunk_images(g->C * pd->plane * (int64_t)sizeof(T), g->N);
    int64_t K = g->Cg * g->KH * g->KW;
    pd->bytes = (size_t)(pd->nimg * g->C * pd->plane + SLACK) * sizeof(T);
    pd->buf = ag_cpu_alloc(pd->bytes);
    pd->obytes = (size_t)K * sizeof *pd->off;
    pd->off = ag_cpu_alloc(pd->obytes);
    if (!pd->buf || !pd->off) {
        if (pd->buf) ag_cpu_free(pd->buf, pd->bytes);
        if (pd->off) ag_cpu_free(pd->off, pd->obytes);
        return ag_set_error(AG_ERR_NOMEM, "%s: out of memory for a padded copy of %lld images", kname,
                            (long long)pd->nimg);
    }
    memset(pd->buf + pd->nimg * g->C * pd->plane, 0, SLACK * sizeof(T));
    for (int64_t c = 0, k = 0; c < g->Cg; c++)
        for (int64_t p = 0; p < g->KH; p++)
            for (int64_t q = 0; q < g->KW; q++) {
                int64_t col = q * g->d1;
                pd->off[k++] = c * pd->plane + p * g->d0 * pd->rowlen + (col % g->s1) * pd->Wq + col / g->s1;
            }
    return 0;
}

static void FN(padded_free)(FN(padded) *pd) {
    ag_cpu_free(pd->buf, pd->bytes);
    ag_cpu_free(pd->off, pd->obytes);
}

/* e[t] = s[2t], o[t] = s[2t + 1] for t < Wq, zero where the column is outside [c0, c1) */
TARGET static void FN(deinterleave2)(T *e, T *o, const T *s, int64_t c0, int64_t c1, int64_t Wq) {
    const VIDX_T ie = DEINT_E;
    const VIDX_T io = DEINT_O;
#define PAIR(t)                                                                                         \
    (e[t] = 2 * (t) >= c0 && 2 * (t) < c1 ? s[2 * (t)] : (T)0,                                          \
     o[t] = 2 * (t) + 1 >= c0 && 2 * (t) + 1 < c1 ? s[2 * (t) + 1] : (T)0)
    int64_t t = 0;
    for (; t < Wq && 2 * t < c0; t++) PAIR(t); /* the left padding */
    for (; t + L <= Wq && 2 * (t + L) <= c1; t += L) {
        V a = VLOADU(s + 2 * t), b = VLOADU(s + 2 * t + L);
        VSTOREU(e + t, VPERM2(a, ie, b));
        VSTOREU(o + t, VPERM2(a, io, b));
    }
    for (; t < Wq; t++) PAIR(t);
#undef PAIR
}

/* planes of H x W from src into planes of Hp rows of s1 * Wq entries: padded (r, col) =
 * src[r - top][col - left], zero outside src, each row holding the s1 column phases of the
 * padded row; columns past wfull are zero */
TARGET static void FN(pad_planes)(const T *src, int64_t planes, int64_t H, int64_t W, T *dst, int64_t Hp,
                                  int64_t Wq, int64_t s1, int64_t wfull, int64_t top, int64_t left) {
    int64_t rl = s1 * Wq, plane = Hp * rl;
    int64_t c0 = left > 0 ? left : 0, c1 = left + W < wfull ? left + W : wfull; /* valid columns [c0, c1) */
    if (c1 < c0) c1 = c0;
    _Pragma("omp parallel for schedule(static) if (planes * plane >= AG_CPU_PAR_MIN)")
    for (int64_t pl = 0; pl < planes; pl++) {
        const T *sp = src + pl * H * W;
        T *dp = dst + pl * plane;
        for (int64_t r = 0; r < Hp; r++) {
            T *row = dp + r * rl;
            int64_t ih = r - top;
            if (ih < 0 || ih >= H || c1 == c0) {
                memset(row, 0, (size_t)rl * sizeof(T));
                continue;
            }
            const T *s = sp + ih * W - left;
            if (s1 == 1) {
                memset(row, 0, (size_t)c0 * sizeof(T));
                memcpy(row + c0, s + c0, (size_t)(c1 - c0) * sizeof(T));
                memset(row + c1, 0, (size_t)(rl - c1) * sizeof(T));
            } else if (s1 == 2) {
                FN(deinterleave2)(row, row + Wq, s, c0, c1, Wq);
            } else {
                for (int64_t ph = 0; ph < s1; ph++) { /* phase ph holds columns ph, ph + s1, ... */
                    T *d = row + ph * Wq;
                    int64_t t0 = c0 > ph ? (c0 - ph + s1 - 1) / s1 : 0, t1 = c1 > ph ? (c1 - ph + s1 - 1) / s1 : 0;
                    if (t1 < t0) t1 = t0;
                    memset(d, 0, (size_t)t0 * sizeof(T));
                    for (int64_t t = t0; t < t1; t++) d[t] = s[ph + t * s1];
                    memset(d + t1, 0, (size_t)(Wq - t1) * sizeof(T));
                }
            }
        }
    }
}

/* the padded copy of images [n0, n0+nb) of x */
static void FN(padded_fill)(FN(padded) *pd, const ag_conv_direct *g, const T *x, int64_t n0, int64_t nb) {
    int64_t wfull = (g->WO - 1) * g->s1 + (g->KW - 1) * g->d1 + 1;
    FN(pad_planes)(x + n0 * g->C * g->H * g->W, nb * g->C, g->H, g->W, pd->buf, pd->Hp, pd->Wq, g->s1, wfull, g->p0,
               g->p1);
}

/* ---- forward-shaped convolutions ------------------------------------------------------ */

/* One convolution in the shape the output tiles compute, over a padded input: for image n < N,
 * group gi < G, output channel o < orows and output pixel (i, j) < (HO, WO),
 *     out(n, gi, o, i, j) = bias[gi*orows + o] + sum_k wt[gi][o][k] * in(n, gi)[off[k] + i*xrs + j]
 * The forward is one; the input gradient is one per output phase (ag_cpu_conv_direct_input). */
typedef struct FN(fplan) {
    int64_t N, G, orows, HO, WO, K;
    const int64_t *off;
    const T *in;
    int64_t in_img, in_grp, xrs;
    const T *wt;   /* [G][orows][K] */
    const T *bias; /* [G*orows] or NULL */
    T *out;
    int64_t out_img, out_grp, out_ch, out_row;
    T *wp; /* packed weights (plan_pack); narrow plans: then the biases, 2L per channel tile */
    size_t wbytes;
    bool narrow; /* channel-vector tiles (FN(planc_run)) */
} FN(fplan);

/* Output tiles: MR = 4 channels x NV = 4 vectors (16 accumulators); a plan with a single output
 * channel per group uses 1 channel x NV1 = 8 vectors instead of a tile three quarters empty. */
static int FN(tile_rows)(const FN(fplan) *fp) { return fp->orows == 1 ? 1 : MR; }
static int FN(tile_vecs)(int mrt) { return mrt == 1 ? NV1 : NV; }

/* Rows narrower than a vector would leave lanes idle in pixel tiles; with enough output channels
 * the tiles run along channels instead (FN(planc_run)). */
static bool FN(is_narrow)(const FN(fplan) *fp) { return fp->WO < L && fp->orows >= L; }

/* wp[gi][ot][k][cw] = wt[gi][ot*cw + c][k], zero past orows, for tiles of cw output channels
 * (pixel tiles: tile_rows; narrow plans: 2L, followed by the biases as bias[gi][ot][2L]) */
static int FN(plan_pack)(FN(fplan) *fp, const char *kname) {
    fp->narrow = FN(is_narrow)(fp);
    int64_t cw = fp->narrow ? 2 * L : FN(tile_rows)(fp), ot_n = (fp->orows + cw - 1) / cw;
    int64_t nw = fp->G * ot_n * fp->K * cw, nb = fp->narrow ? fp->G * ot_n * cw : 0;
    fp->wbytes = (size_t)(nw + nb) * sizeof(T) + 64;
    fp->wp = ag_cpu_alloc(fp->wbytes);
    if (!fp->wp) return ag_set_error(AG_ERR_NOMEM, "%s: out of memory", kname);
    for (int64_t gi = 0; gi < fp->G; gi++)
        for (int64_t ot = 0; ot < ot_n; ot++)
            for (int64_t c = 0; c < cw; c++) {
                int64_t o = ot * cw + c;
                const T *src = o < fp->orows ? fp->wt + (gi * fp->orows + o) * fp->K : NULL;
                T *dst = fp->wp + (gi * ot_n + ot) * fp->K * cw + c;
                for (int64_t k = 0; k < fp->K; k++) dst[k * cw] = src ? src[k] : (T)0;
                if (nb) fp->wp[nw + (gi * ot_n + ot) * cw + c] = src && fp->bias ? fp->bias[gi * fp->orows + o] : (T)0;
            }
    return 0;
}

/* where a tile's vectors read (bo, from the input at the tile's first pixel), write (yo, from
 * the output at that pixel) and which lanes they keep (mk) */
typedef struct FN(vecs) {
    int64_t bo[NV1], yo[NV1];
    MASK mk[NV1];
} FN(vecs);

/* rows o0..o0+mr of the output for the nv vectors of vs (mrt, nv constant after inlining) */
INLINE TARGET void FN(fwd_tile)(const int mrt, const int nv, const T *xb, const int64_t *off, int64_t K,
                                const T *wp, const T *bias, T *y, int64_t ys, int mr, const FN(vecs) *vs) {
    V acc[MR][NV1];
    int64_t bo[NV1];
    for (int v = 0; v < nv; v++) bo[v] = vs->bo[v];
    for (int r = 0; r < mrt; r++)
        for (int v = 0; v < nv; v++) acc[r][v] = VSET1(bias ? bias[r] : (T)0);
    for (int64_t k = 0; k < K; k++) {
        const T *b = xb + off[k];
        V bv[NV1];
        for (int v = 0; v < nv; v++) bv[v] = VLOADU(b + bo[v]);
        for (int r = 0; r < mrt; r++) {
            V wv = VSET1(wp[k * mrt + r]);
            for (int v = 0; v < nv; v++) acc[r][v] = VFMA(wv, bv[v], acc[r][v]);
        }
    }
    for (int r = 0; r < mr; r++)
        for (int v = 0; v < nv; v++) VMSTORE(y + r * ys + vs->yo[v], vs->mk[v], acc[r][v]);
}

#define FWD_TILE(m, n) FN(fwd_tile)(m, n, xb, fp->off, fp->K, w, bt, y, fp->out_ch, mr, &vs)

/* output rows [i0, i0 + nrows) of image n, group gi: with vpr vectors per row, a tile covers
 * tile_vecs vectors of one row, or whole rows when several fit */
TARGET static void FN(fwd_rows)(const FN(fplan) *fp, int64_t n, int64_t gi, int64_t i0, int64_t nrows) {
    int mrt = FN(tile_rows)(fp), nvt = FN(tile_vecs)(mrt);
    int64_t ot_n = (fp->orows + mrt - 1) / mrt;
    int64_t vpr = (fp->WO + (L - 1)) / L, rem = fp->WO - (vpr - 1) * L;
    MASK tail = (MASK)(rem >= L ? FULLMASK : (1u << rem) - 1);
    const T *xg = fp->in + n * fp->in_img + gi * fp->in_grp;
    const T *bias = fp->bias ? fp->bias + gi * fp->orows : NULL;
    T *yg = fp->out + n * fp->out_img + gi * fp->out_grp;
    T bz[MR];
    for (int64_t ot = 0; ot < ot_n; ot++) {
        int mr = (int)(fp->orows - ot * mrt < mrt ? fp->orows - ot * mrt : mrt);
        const T *bt = NULL;
        if (bias) {
            for (int r = 0; r < mrt; r++) bz[r] = r < mr ? bias[ot * mrt + r] : (T)0;
            bt = bz;
        }
        const T *w = fp->wp + (gi * ot_n + ot) * fp->K * mrt;
        for (int64_t v0 = 0; v0 < nrows * vpr;) {
            /* the next tile: vectors v0.. of the flattened (row, vector) sequence, within one row
             * when rows are wide and over whole rows when they are narrow */
            int64_t i = v0 / vpr, cv = v0 % vpr, nv;
            if (vpr >= nvt) nv = vpr - cv < nvt ? vpr - cv : nvt;
            else nv = (nvt / vpr) * vpr < (nrows - i) * vpr ? (nvt / vpr) * vpr : (nrows - i) * vpr;
            FN(vecs) vs;
            for (int64_t v = 0; v < nv; v++) {
                int64_t ri = (cv + v) / vpr, c = (cv + v) % vpr;
                vs.bo[v] = ri * fp->xrs + (c - cv) * L;
                vs.yo[v] = ri * fp->out_row + (c - cv) * L;
                vs.mk[v] = c == vpr - 1 ? tail : (MASK)FULLMASK;
            }
            const T *xb = xg + (i0 + i) * fp->xrs + cv * L;
            T *y = yg + ot * mrt * fp->out_ch + (i0 + i) * fp->out_row + cv * L;
            if (mrt == MR) {
                switch (nv) {
                case 4: FWD_TILE(MR, 4); break;
                case 3: FWD_TILE(MR, 3); break;
                case 2: FWD_TILE(MR, 2); break;
                default: FWD_TILE(MR, 1); break;
                }
            } else {
                switch (nv) {
                case 8: FWD_TILE(1, 8); break;
                case 7: FWD_TILE(1, 7); break;
                case 6: FWD_TILE(1, 6); break;
                case 5: FWD_TILE(1, 5); break;
                case 4: FWD_TILE(1, 4); break;
                case 3: FWD_TILE(1, 3); break;
                case 2: FWD_TILE(1, 2); break;
                default: FWD_TILE(1, 1); break;
                }
            }
            v0 += nv;
        }
    }
}

/* NPX pixels (input offsets base[p]) x 2 vectors of output channels: out tile tmp[p][2L] =
 * bias + sum_k x[off[k] + base[p]] * wp[k][.] */
TARGET static void FN(fwdc_tile)(const T *xg, const int64_t *basep, const int64_t *off, int64_t K, const T *wp,
                                 const T *bias, T *tmp) {
    V a0[NPX], a1[NPX];
    int64_t base[NPX];
    V b0 = VLOADU(bias), b1 = VLOADU(bias + L);
    for (int p = 0; p < NPX; p++) {
        base[p] = basep[p];
        a0[p] = b0;
        a1[p] = b1;
    }
    for (int64_t k = 0; k < K; k++) {
        V w0 = VLOADU(wp + k * 2 * L), w1 = VLOADU(wp + k * 2 * L + L);
        const T *xk = xg + off[k];
        for (int p = 0; p < NPX; p++) {
            V b = VSET1(xk[base[p]]);
            a0[p] = VFMA(b, w0, a0[p]);
            a1[p] = VFMA(b, w1, a1[p]);
        }
    }
    for (int p = 0; p < NPX; p++) {
        VSTOREU(tmp + p * 2 * L, a0[p]);
        VSTOREU(tmp + p * 2 * L + L, a1[p]);
    }
}

/* a narrow plan: units of NPX consecutive output pixels of one group, counted over all images
 * (so small images fill whole tiles) */
static void FN(planc_run)(const FN(fplan) *fp) {
    int64_t P = fp->HO * fp->WO, NP = fp->N * P, pb_n = (NP + NPX - 1) / NPX, units = fp->G * pb_n;
    int64_t ot_n = (fp->orows + 2 * L - 1) / (2 * L), nw = fp->G * ot_n * fp->K * 2 * L;
    int nt = ag_cpu_max_threads();
    _Pragma("omp parallel for schedule(static) num_threads(nt) if (nt > 1 && units > 1)")
    for (int64_t u = 0; u < units; u++) {
        int64_t pb = u % pb_n, gi = u / pb_n;
        int64_t p0 = pb * NPX, np = NP - p0 < NPX ? NP - p0 : NPX, base[NPX], ypos[NPX];
        for (int64_t p = 0; p < NPX; p++) { /* past np: repeats of the first pixel, not stored */
            int64_t f = p0 + (p < np ? p : 0), n = f / P, pix = f % P, i = pix / fp->WO, j = pix % fp->WO;
            base[p] = n * fp->in_img + i * fp->xrs + j;
            ypos[p] = n * fp->out_img + i * fp->out_row + j;
        }
        const T *xg = fp->in + gi * fp->in_grp;
        T *yg = fp->out + gi * fp->out_grp;
        T tmp[NPX * 2 * L];
        for (int64_t ot = 0; ot < ot_n; ot++) {
            int64_t co = fp->orows - ot * 2 * L < 2 * L ? fp->orows - ot * 2 * L : 2 * L;
            FN(fwdc_tile)(xg, base, fp->off, fp->K, fp->wp + (gi * ot_n + ot) * fp->K * 2 * L,
                          fp->wp + nw + (gi * ot_n + ot) * 2 * L, tmp);
            for (int64_t c = 0; c < co; c++) {
                T *yc = yg + (ot * 2 * L + c) * fp->out_ch;
                for (int64_t p = 0; p < np; p++) yc[ypos[p]] = tmp[p * 2 * L + c];
            }
        }
    }
}

/* all images, groups and rows of a packed plan, split over threads in units of rg rows (one
 * row, or as many narrow rows as one tile holds); narrow plans in units of NPX pixels */
static void FN(plan_run)(const FN(fplan) *fp) {
    if (fp->narrow) {
        FN(planc_run)(fp);
        return;
    }
    int64_t vpr = (fp->WO + (L - 1)) / L, nvt = FN(tile_vecs)(FN(tile_rows)(fp));
    int64_t rg = vpr >= nvt ? 1 : nvt / vpr, rg_n = (fp->HO + rg - 1) / rg, units = fp->N * fp->G * rg_n;
    int nt = ag_cpu_max_threads();
    _Pragma("omp parallel for schedule(static) num_threads(nt) if (nt > 1 && units > 1)")
    for (int64_t u = 0; u < units; u++) {
        int64_t ib = u % rg_n, gi = (u / rg_n) % fp->G, n = u / (rg_n * fp->G);
        int64_t i0 = ib * rg;
        FN(fwd_rows)(fp, n, gi, i0, fp->HO - i0 < rg ? fp->HO - i0 : rg);
    }
}

static int FN(direct_forward)(const ag_conv_direct *g, const T *x, const T *w, const T *bias,
                              T *y, const char *kname) {
    FN(padded) pd;
    if (FN(padded_init)(&pd, g, kname)) return AG_ERR_NOMEM;
    int64_t P = g->HO * g->WO;
    FN(fplan) fp = {.G = g->G, .orows = g->Og, .HO = g->HO, .WO = g->WO, .K = g->Cg * g->KH * g->KW, .off = pd.off,
                    .in = pd.buf, .in_img = g->C * pd.plane, .in_grp = g->Cg * pd.plane, .xrs = pd.xrs, .wt = w,
                    .bias = bias, .out_img = g->O * P, .out_grp = g->Og * P, .out_ch = P, .out_row = g->WO};
    if (FN(plan_pack)(&fp, kname)) {
        FN(padded_free)(&pd);
        return AG_ERR_NOMEM;
    }
    for (int64_t n0 = 0; n0 < g->N; n0 += pd.nimg) {
        fp.N = g->N - n0 < pd.nimg ? g->N - n0 : pd.nimg;
        FN(padded_fill)(&pd, g, x, n0, fp.N);
        fp.out = y + n0 * fp.out_img;
        FN(plan_run)(&fp);
    }
    ag_cpu_free(fp.wp, fp.wbytes);
    FN(padded_free)(&pd);
    return 0;
}

/* ---- input gradient ------------------------------------------------------------------ */

/* dx[h, w] = sum over taps (o, p, q) with h = i*s0 - p0 + p*d0, w = j*s1 - p1 + q*d1 of
 * w[o, c, p, q] * dy[o, i, j]. Split by output phase h = h'*s0 + a, w = w'*s1 + b: tap p
 * reaches phase a iff (a + p0 - p*d0) is a multiple of s0, and then reads dy row h' + e with
 * e = (a + p0 - p*d0) / s0. So each phase is a forward-shaped plan over a padded dy (stride 1,
 * taps at offsets e), written to a scratch plane and interleaved into dx. */
static int FN(direct_input)(const ag_conv_direct *g, const T *dy, const T *w, T *dx,
                            const char *kname) {
    int64_t kk = g->KH > g->KW ? g->KH : g->KW;
    size_t tbbytes = (size_t)(4 * kk) * sizeof(int64_t);
    int64_t *tbuf = ag_cpu_alloc(tbbytes);
    if (!tbuf) return ag_set_error(AG_ERR_NOMEM, "%s: out of memory", kname);
    phase_taps pa = {0, tbuf, tbuf + kk}, pb = {0, tbuf + 2 * kk, tbuf + 3 * kk};
    /* the padded dy: rows [rlo, rhi) and columns [clo, chi) of dy's index space */
    int64_t rlo, rhi, clo, chi;
    phase_extent(g->H, g->HO, g->s0, g->p0, g->d0, g->KH, &pa, &rlo, &rhi);
    phase_extent(g->W, g->WO, g->s1, g->p1, g->d1, g->KW, &pb, &clo, &chi);
    int64_t Hd = rhi - rlo, Wd = chi - clo, plane = Hd * Wd;
    int64_t nimg = chunk_images(g->O * plane * (int64_t)sizeof(T), g->N);
    int64_t Ha0 = (g->H + g->s0 - 1) / g->s0, Wb0 = (g->W + g->s1 - 1) / g->s1; /* largest phase */
    size_t dbytes = (size_t)(nimg * g->O * plane + SLACK) * sizeof(T);
    bool one_phase = g->s0 == 1 && g->s1 == 1; /* the plan writes dx itself: no scratch */
    size_t sbytes = one_phase ? 64 : (size_t)(nimg * g->C * Ha0 * Wb0 + L) * sizeof(T);
    int64_t kmax = g->Og * g->KH * g->KW;
    size_t obytes = (size_t)kmax * sizeof(int64_t), wbytes = (size_t)(g->G * g->Cg * kmax + L) * sizeof(T);
    T *dp = ag_cpu_alloc(dbytes), *scr = ag_cpu_alloc(sbytes), *wt = ag_cpu_alloc(wbytes);
    int64_t *off = ag_cpu_alloc(obytes);
    int rc = 0;
    if (!dp || !scr || !wt || !off) {
        rc = ag_set_error(AG_ERR_NOMEM, "%s: out of memory", kname);
        goto done;
    }
    memset(dp + nimg * g->O * plane, 0, SLACK * sizeof(T));
    for (int64_t n0 = 0; n0 < g->N; n0 += nimg) {
        int64_t nb = g->N - n0 < nimg ? g->N - n0 : nimg;
        FN(pad_planes)(dy + n0 * g->O * g->HO * g->WO, nb * g->O, g->HO, g->WO, dp, Hd, Wd, 1, Wd, -rlo, -clo);
        T *dxb = dx + n0 * g->C * g->H * g->W;
        for (int64_t a = 0; a < g->s0 && rc == 0; a++) {
            int64_t Ha = phase_dim(a, g->H, g->s0, g->p0, g->d0, g->KH, &pa);
            for (int64_t b = 0; b < g->s1 && rc == 0; b++) {
                int64_t Wb = phase_dim(b, g->W, g->s1, g->p1, g->d1, g->KW, &pb);
                if (Ha == 0 || Wb == 0) continue;
                int64_t K = g->Og * pa.n * pb.n, HW = Ha * Wb;
                T *out = one_phase ? dxb : scr;
                if (K == 0) { /* no tap reaches this phase */
                    memset(out, 0, (size_t)(nb * g->C * HW) * sizeof(T));
                } else {
                    for (int64_t o = 0, k = 0; o < g->Og; o++)
                        for (int64_t tp = 0; tp < pa.n; tp++)
                            for (int64_t tq = 0; tq < pb.n; tq++, k++)
                                off[k] = o * plane + (pa.e[tp] - rlo) * Wd + (pb.e[tq] - clo);
                    for (int64_t gi = 0; gi < g->G; gi++)
                        for (int64_t c = 0; c < g->Cg; c++)
                            for (int64_t o = 0, k = 0; o < g->Og; o++)
                                for (int64_t tp = 0; tp < pa.n; tp++)
                                    for (int64_t tq = 0; tq < pb.n; tq++, k++)
                                        wt[(gi * g->Cg + c) * K + k] = w[(((gi * g->Og + o) * g->Cg + c) * g->KH +
                                                                          pa.tap[tp]) * g->KW + pb.tap[tq]];
                    FN(fplan) fp = {.N = nb, .G = g->G, .orows = g->Cg, .HO = Ha, .WO = Wb, .K = K, .off = off,
                                    .in = dp, .in_img = g->O * plane, .in_grp = g->Og * plane, .xrs = Wd, .wt = wt,
                                    .out = out, .out_img = g->C * HW, .out_grp = g->Cg * HW, .out_ch = HW,
                                    .out_row = Wb};
                    if ((rc = FN(plan_pack)(&fp, kname)) != 0) break;
                    FN(plan_run)(&fp);
                    ag_cpu_free(fp.wp, fp.wbytes);
                }
                if (one_phase) continue;
                /* interleave the phase into dx */
                int64_t planes = nb * g->C;
                _Pragma("omp parallel for schedule(static) if (planes * HW >= AG_CPU_PAR_MIN)")
                for (int64_t pl = 0; pl < planes; pl++)
                    for (int64_t i = 0; i < Ha; i++) {
                        const T *src = out + pl * HW + i * Wb;
                        T *dst = dxb + pl * g->H * g->W + (i * g->s0 + a) * g->W + b;
                        if (g->s1 == 1) memcpy(dst, src, (size_t)Wb * sizeof(T));
                        else for (int64_t j = 0; j < Wb; j++) dst[j * g->s1] = src[j];
                    }
            }
        }
        if (rc) break;
    }
done:
    if (dp) ag_cpu_free(dp, dbytes);
    if (scr) ag_cpu_free(scr, sbytes);
    if (wt) ag_cpu_free(wt, wbytes);
    if (off) ag_cpu_free(off, obytes);
    ag_cpu_free(tbuf, tbbytes);
    return rc;
}

/* ---- weight gradient ---------------------------------------------------------------- */

/* acc[r][kk] (L lanes each, at accs + (r*NK + kk)*L) += sum over output rows [i0, i1) and all
 * pixels of dy row r times x at off[kk]. The 24 accumulators are named variables: as an array,
 * GCC kept them in memory and stored each one after every FMA. */
#define WGT_RK(X) X(0, 0) X(0, 1) X(0, 2) X(0, 3) X(0, 4) X(0, 5) X(1, 0) X(1, 1) X(1, 2) X(1, 3) X(1, 4) X(1, 5) \
                  X(2, 0) X(2, 1) X(2, 2) X(2, 3) X(2, 4) X(2, 5) X(3, 0) X(3, 1) X(3, 2) X(3, 3) X(3, 4) X(3, 5)
#define WGT_LOAD(r, k) V a##r##k = VLOADU(accs + (r * NK + k) * L);
#define WGT_STORE(r, k) VSTOREU(accs + (r * NK + k) * L, a##r##k);
#define MASKED(p) VMASKZ(m, p)
#define WGT_STEP(LOAD, k)                                                                               \
    {                                                                                                   \
        V xv = LOAD(xr + off[k] + j);                                                                   \
        a0##k = VFMA(d0, xv, a0##k);                                                                    \
        a1##k = VFMA(d1, xv, a1##k);                                                                    \
        a2##k = VFMA(d2, xv, a2##k);                                                                    \
        a3##k = VFMA(d3, xv, a3##k);                                                                    \
    }
_Static_assert(MO == 4 && NK == 6, "wgt_tile is written out for 4 x 6 accumulators");

TARGET static void FN(wgt_tile)(const T *const *rows, const T *xb, const int64_t *off, int64_t xrs,
                                int64_t WO, int64_t i0, int64_t i1, T *accs) {
    WGT_RK(WGT_LOAD)
    int64_t full = WO / L * L;
    MASK m = (MASK)((1u << (WO - full)) - 1);
    for (int64_t i = i0; i < i1; i++) {
        const T *xr = xb + i * xrs, *r0 = rows[0] + i * WO, *r1 = rows[1] + i * WO, *r2 = rows[2] + i * WO,
                *r3 = rows[3] + i * WO;
        for (int64_t j = 0; j < full; j += L) {
            V d0 = VLOADU(r0 + j), d1 = VLOADU(r1 + j), d2 = VLOADU(r2 + j), d3 = VLOADU(r3 + j);
            WGT_STEP(VLOADU, 0) WGT_STEP(VLOADU, 1) WGT_STEP(VLOADU, 2)
            WGT_STEP(VLOADU, 3) WGT_STEP(VLOADU, 4) WGT_STEP(VLOADU, 5)
        }
        if (full < WO) { /* masked lanes load zeros on both sides: no 0 * inf */
            int64_t j = full;
            V d0 = VMASKZ(m, r0 + j), d1 = VMASKZ(m, r1 + j), d2 = VMASKZ(m, r2 + j), d3 = VMASKZ(m, r3 + j);
            WGT_STEP(MASKED, 0) WGT_STEP(MASKED, 1) WGT_STEP(MASKED, 2)
            WGT_STEP(MASKED, 3) WGT_STEP(MASKED, 4) WGT_STEP(MASKED, 5)
        }
    }
    WGT_RK(WGT_STORE)
}

/* the same for a group with one output channel: 1 dy row x 24 rows k (MO * NK accumulators) */
#define WGT1_K(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11) X(12) X(13) X(14) X(15) \
                  X(16) X(17) X(18) X(19) X(20) X(21) X(22) X(23)
#define WGT1_LOAD(k) V b##k = VLOADU(accs + (k) * L);
#define WGT1_STORE(k) VSTOREU(accs + (k) * L, b##k);
#define WGT1_FULL(k) b##k = VFMA(d, VLOADU(xr + off[k] + j), b##k);
#define WGT1_MASKED(k) b##k = VFMA(d, VMASKZ(m, xr + off[k] + j), b##k);

TARGET static void FN(wgt1_tile)(const T *row, const T *xb, const int64_t *off, int64_t xrs, int64_t WO,
                                 int64_t i0, int64_t i1, T *accs) {
    WGT1_K(WGT1_LOAD)
    int64_t full = WO / L * L;
    MASK m = (MASK)((1u << (WO - full)) - 1);
    for (int64_t i = i0; i < i1; i++) {
        const T *xr = xb + i * xrs, *r0 = row + i * WO;
        for (int64_t j = 0; j < full; j += L) {
            V d = VLOADU(r0 + j);
            WGT1_K(WGT1_FULL)
        }
        if (full < WO) {
            int64_t j = full;
            V d = VMASKZ(m, r0 + j);
            WGT1_K(WGT1_MASKED)
        }
    }
    WGT1_K(WGT1_STORE)
}

TARGET static T FN(hsum)(const T *v) { return VREDUCE(VLOADU(v)); }

/* Narrow rows (under a vector) with L+ output channels: 2 vectors of output channels x NPX rows
 * k, over npix pixels f (image n = f / P, pixel f % P): acc[kk][c] += x[off[kk] + base(f)] *
 * dyT[f][c], with dy transposed pixel-major (dyT: pixel stride ogp, image stride dimg). */
TARGET static void FN(wgtc_tile)(const T *dyt, int64_t ogp, int64_t dimg, const T *xg, int64_t ximg,
                                 const int64_t *offp, int64_t npix, int64_t P, int64_t WO, int64_t xrs, T *accs) {
    V a0[NPX], a1[NPX];
    int64_t off[NPX];
    for (int kk = 0; kk < NPX; kk++) {
        off[kk] = offp[kk];
        a0[kk] = VLOADU(accs + kk * 2 * L);
        a1[kk] = VLOADU(accs + kk * 2 * L + L);
    }
    for (int64_t f = 0, n = 0, pix = 0, i = 0, j = 0; f < npix; f++) {
        const T *d = dyt + n * dimg + pix * ogp, *xp = xg + n * ximg + i * xrs + j;
        V d0 = VLOADU(d), d1 = VLOADU(d + L);
        for (int kk = 0; kk < NPX; kk++) {
            V b = VSET1(xp[off[kk]]);
            a0[kk] = VFMA(b, d0, a0[kk]);
            a1[kk] = VFMA(b, d1, a1[kk]);
        }
        if (++j == WO) { j = 0; i++; }
        if (++pix == P) { pix = 0; i = 0; n++; }
    }
    for (int kk = 0; kk < NPX; kk++) {
        VSTOREU(accs + kk * 2 * L, a0[kk]);
        VSTOREU(accs + kk * 2 * L + L, a1[kk]);
    }
}

static int FN(direct_weight)(const ag_conv_direct *g, const T *dy, const T *x, T *dw,
                             const char *kname) {
    FN(padded) pd;
    if (FN(padded_init)(&pd, g, kname)) return AG_ERR_NOMEM;
    int64_t K = g->Cg * g->KH * g->KW, P = g->HO * g->WO;
    /* tiles of mo output channels x nk rows k: MO * NK vector accumulators either way; narrow rows
     * with L+ output channels: 2L channels (one per lane) x NPX rows k, the same storage */
    bool narrow = g->WO < L && g->Og >= L;
    _Static_assert(NPX * 2 == MO * NK, "narrow weight tiles must fit the accumulator storage");
    int64_t mo = narrow ? 2 * L : g->Og == 1 ? 1 : MO, nk = narrow ? NPX : MO * NK / mo;
    int64_t ot_n = (g->Og + mo - 1) / mo, kt_n = (K + nk - 1) / nk, units = g->G * ot_n * kt_n;
    size_t abytes = (size_t)(units * MO * NK * L) * sizeof(T);
    T *accs = ag_cpu_alloc(abytes);
    size_t obytes = (size_t)(kt_n * nk) * sizeof(int64_t);
    int64_t *offs = ag_cpu_alloc(obytes);
    if (!accs || !offs) {
        if (accs) ag_cpu_free(accs, abytes);
        if (offs) ag_cpu_free(offs, obytes);
        FN(padded_free)(&pd);
        return ag_set_error(AG_ERR_NOMEM, "%s: out of memory", kname);
    }
    memset(accs, 0, abytes);
    /* tiles past K repeat offset 0; their sums are dropped */
    for (int64_t k = 0; k < kt_n * nk; k++) offs[k] = k < K ? pd.off[k] : 0;
    /* rows in blocks small enough that a tile's dy rows stay in L1 across its k tiles */
    int64_t rb = (int64_t)(16384 / ((int64_t)sizeof(T) * mo * (g->WO > 0 ? g->WO : 1)));
    if (rb < 1) rb = 1;
    int nt = ag_cpu_max_threads();
    if (nt > units) nt = (int)units;
    /* narrow: dy of a chunk of images transposed to dyT[n][gi][pixel][ogp], channels zero-padded */
    int64_t ogp = ot_n * mo;
    size_t tbytes = narrow ? (size_t)(pd.nimg * g->G * P * ogp) * sizeof(T) + 64 : 0;
    T *dyT = narrow ? ag_cpu_alloc(tbytes) : NULL;
    if (narrow && !dyT) {
        ag_cpu_free(offs, obytes);
        ag_cpu_free(accs, abytes);
        FN(padded_free)(&pd);
        return ag_set_error(AG_ERR_NOMEM, "%s: out of memory", kname);
    }
    for (int64_t n0 = 0; n0 < g->N; n0 += pd.nimg) {
        int64_t nb = g->N - n0 < pd.nimg ? g->N - n0 : pd.nimg;
        FN(padded_fill)(&pd, g, x, n0, nb);
        if (narrow) {
            _Pragma("omp parallel for schedule(static) num_threads(nt) if (nt > 1)")
            for (int64_t ng = 0; ng < nb * g->G; ng++) {
                const T *src = dy + ((n0 + ng / g->G) * g->O + (ng % g->G) * g->Og) * P;
                T *dst = dyT + ng * P * ogp;
                for (int64_t pix = 0; pix < P; pix++)
                    for (int64_t c = 0; c < ogp; c++) dst[pix * ogp + c] = c < g->Og ? src[c * P + pix] : (T)0;
            }
            _Pragma("omp parallel for schedule(static) num_threads(nt) if (nt > 1)")
            for (int64_t u = 0; u < units; u++) {
                int64_t kt = u % kt_n, ot = (u / kt_n) % ot_n, gi = u / (kt_n * ot_n);
                FN(wgtc_tile)(dyT + gi * P * ogp + ot * mo, ogp, g->G * P * ogp, pd.buf + gi * g->Cg * pd.plane,
                              g->C * pd.plane, offs + kt * nk, nb * P, P, g->WO, pd.xrs, accs + u * MO * NK * L);
            }
            continue;
        }
        _Pragma("omp parallel num_threads(nt) if (nt > 1)")
        {
            int64_t u0, u1;
            ag_cpu_thread_slice(units, &u0, &u1);
            for (int64_t n = 0; n < nb; n++)
                for (int64_t i0 = 0; i0 < g->HO; i0 += rb) {
                    int64_t i1 = i0 + rb < g->HO ? i0 + rb : g->HO;
                    for (int64_t u = u0; u < u1; u++) {
                        int64_t kt = u % kt_n, ot = (u / kt_n) % ot_n, gi = u / (kt_n * ot_n);
                        const T *dyb = dy + ((n0 + n) * g->O + gi * g->Og + ot * mo) * P;
                        const T *xg = pd.buf + (n * g->C + gi * g->Cg) * pd.plane;
                        T *acc = accs + u * MO * NK * L;
                        if (mo == 1) {
                            FN(wgt1_tile)(dyb, xg, offs + kt * nk, pd.xrs, g->WO, i0, i1, acc);
                            continue;
                        }
                        /* rows past Og repeat the tile's first row; their sums are dropped */
                        const T *rows[MO];
                        for (int r = 0; r < MO; r++) rows[r] = ot * MO + r < g->Og ? dyb + r * P : dyb;
                        FN(wgt_tile)(rows, xg, offs + kt * nk, pd.xrs, g->WO, i0, i1, acc);
                    }
                }
        }
    }
    for (int64_t u = 0; u < units; u++) {
        int64_t kt = u % kt_n, ot = (u / kt_n) % ot_n, gi = u / (kt_n * ot_n);
        if (narrow) { /* lane c of row kk is output channel ot*2L + c */
            for (int64_t kk = 0; kk < nk; kk++)
                for (int64_t c = 0; c < mo; c++) {
                    int64_t o = ot * mo + c, k = kt * nk + kk;
                    if (o < g->Og && k < K) dw[(gi * g->Og + o) * K + k] = accs[(u * MO * NK + kk * 2) * L + c];
                }
            continue;
        }
        for (int64_t r = 0; r < mo; r++)
            for (int64_t kk = 0; kk < nk; kk++) {
                int64_t o = ot * mo + r, k = kt * nk + kk;
                if (o < g->Og && k < K) dw[(gi * g->Og + o) * K + k] = FN(hsum)(accs + ((u * mo + r) * nk + kk) * L);
            }
    }
    ag_cpu_free(offs, obytes);
    ag_cpu_free(accs, abytes);
    if (dyT) ag_cpu_free(dyT, tbytes);
    FN(padded_free)(&pd);
    return 0;
}
