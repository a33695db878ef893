/* tensor/einsum.c — ag_einsum, composed from permute, reshape, mul, sum and matmul (no kernel,
 * no node of its own: the gradient flows through those ops).
 *
 * An ellipsis is first rewritten into letters the equation does not use (each operand's "..."
 * stands for its dims not named by letters, aligned from the right as broadcasting aligns
 * them). The equation is then parsed into one subscript list per operand and the output list
 * (explicit after "->", or implicit: the ellipsis dims, then the subscripts that occur once, in
 * ASCII order, as torch). A subscript repeated within one operand takes that operand's diagonal
 * (a strided slice of the two dims flattened together). Two operands contract with one batched
 * matmul: each is permuted to [batch, own, contracted] (subscripts only in that operand and not
 * in the output are summed first), reshaped to 3-d and multiplied. Other counts multiply every
 * operand, permuted and reshaped to the full subscript order (size-1 dims where a subscript is
 * absent), and sum the contracted dims. Sizes must agree, a size of 1 broadcasts. */
#include <string.h>

#include "tensor/internal.h"

#define OP "ag_einsum"
#define NSUB 52

typedef struct term term;
static ag_tensor *einsum_terms(const char *eq, ag_tensor *const *ops, int n, term *terms, term *outp, bool expl);

struct term { int n; char s[AG_MAX_DIMS]; };

static int sub_index(char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return 26 + c - 'a';
    return -1;
}

/* Parse eq into terms[0..*nt) and out (explicit: *explicit_out); false with the error set. */
static bool parse(const char *eq, term *terms, int max_terms, int *nt, term *out, bool *explicit_out) {
    int cur = 0;
    bool arrow = false;
    memset(terms, 0, sizeof *terms * (size_t)max_terms);
    memset(out, 0, sizeof *out);
    for (int i = 0; eq[i]; i++) {
        char c = eq[i];
        if (c == ' ') continue;
        if (c == '.') { /* expand_ellipsis left only a stray '.' */
            ag_set_error(AG_ERR_INVALID, OP ": '.' at position %d of \"%s\" is not part of an ellipsis \"...\"", i, eq);
            return false;
        }
        if (c == ',') {
            if (arrow) {
                ag_set_error(AG_ERR_INVALID, OP ": ',' at position %d of \"%s\" is after \"->\"", i, eq);
                return false;
            }
            if (++cur >= max_terms) {
                ag_set_error(AG_ERR_INVALID, OP ": \"%s\" has more operands than the %d tensors given (position %d)", eq,
                             max_terms, i);
                return false;
            }
            continue;
        }
        if (c == '-') {
            if (eq[i + 1] != '>' || arrow) {
                ag_set_error(AG_ERR_INVALID, OP ": %s at position %d of \"%s\"",
                             arrow ? "a second \"->\"" : "'-' not followed by '>'", i, eq);
                return false;
            }
            arrow = true;
            i++;
            continue;
        }
        if (sub_index(c) < 0) {
            ag_set_error(AG_ERR_INVALID, OP ": unexpected character '%c' at position %d of \"%s\" (subscripts are letters)",
                         c, i, eq);
            return false;
        }
        term *t = arrow ? out : &terms[cur];
        for (int k = 0; arrow && k < t->n; k++)
            if (t->s[k] == c) {
                ag_set_error(AG_ERR_INVALID, OP ": output subscript '%c' repeats at position %d of \"%s\"", c, i, eq);
                return false;
            }
        if (t->n == AG_MAX_DIMS) {
            ag_set_error(AG_ERR_INVALID, OP ": more than %d subscripts in one term at position %d of \"%s\"", AG_MAX_DIMS,
                         i, eq);
            return false;
        }
        t->s[t->n++] = c;
    }
    *nt = cur + 1;
    *explicit_out = arrow;
    return true;
}

/* eq with each "..." replaced by letters unused in eq: operand i's by the last e_i of E letters
 * (e_i its dims not named by letters, E the largest), the output's by all E; an implicit output
 * becomes explicit (ellipsis letters, then the once-occurring subscripts in ASCII order).
 * Writes into buf; false with the error set. */
static bool expand_ellipsis(const char *eq, ag_tensor *const *ops, int n, char *buf, size_t cap) {
    if (!strchr(eq, '.')) {
        if (strlen(eq) >= cap) return ag_set_error(AG_ERR_INVALID, OP ": equation longer than %zu characters", cap - 1), false;
        strcpy(buf, eq);
        return true;
    }
    bool used[NSUB] = {0};
    for (const char *c = eq; *c; c++)
        if (sub_index(*c) >= 0) used[sub_index(*c)] = true;
    const char *arrow = strstr(eq, "->");
    int e[AG_MAX_DIMS * 4 + 1] = {0}, letters = 0, op = 0, E = 0;
    bool has[AG_MAX_DIMS * 4 + 1] = {0};
    for (const char *c = eq;; c++) {
        bool end = !*c || (arrow && c == arrow);
        if (*c == ',' || end) {
            if (op < n) {
                e[op] = ops[op]->ndim - letters;
                if (has[op] && e[op] < 0)
                    return ag_set_error(AG_ERR_SHAPE, OP ": operand %d names %d dims in \"%s\" but has %d %s", op, letters, eq,
                                        ops[op]->ndim, AG_SHP(ops[op])), false;
                if (has[op] && e[op] > E) E = e[op];
            }
            op++, letters = 0;
            if (end) break;
            continue;
        }
        if (sub_index(*c) >= 0) letters++;
        if (*c == '.' && !strncmp(c, "...", 3)) {
            if (op < n && has[op])
                return ag_set_error(AG_ERR_INVALID, OP ": operand %d of \"%s\" has two ellipses", op, eq), false;
            if (op < n) has[op] = true;
            c += 2;
        }
    }
    char el[AG_MAX_DIMS];
    for (int s = 0, k = 0; k < E && s < NSUB; s++)
        if (!used[s]) el[k++] = (char)(s < 26 ? 'A' + s : 'a' + s - 26), used[s] = true;
    size_t w = 0;
    op = 0;
    bool out_side = false, out_ellipsis = false;
#define PUT(ch) do { if (w + 1 >= cap) return ag_set_error(AG_ERR_INVALID, OP ": equation too long"), false; buf[w++] = (ch); } while (0)
    for (const char *c = eq; *c; c++) {
        if (arrow && c == arrow) out_side = true;
        if (*c == ',' && !out_side) op++;
        if (*c == '.' && !strncmp(c, "...", 3)) {
            int k0 = out_side ? 0 : E - (op < n ? e[op] : 0);
            if (out_side) out_ellipsis = true;
            for (int k = k0; k < E; k++) PUT(el[k]);
            c += 2;
            continue;
        }
        PUT(*c);
    }
    if (!arrow) { /* implicit output: ellipsis dims first, then the subscripts that occur once */
        int count[NSUB] = {0};
        for (size_t i = 0; i < w; i++)
            if (sub_index(buf[i]) >= 0) count[sub_index(buf[i])]++;
        PUT('-');
        PUT('>');
        for (int k = 0; k < E; k++) PUT(el[k]);
        for (int s = 0; s < NSUB; s++) {
            bool is_el = memchr(el, s < 26 ? 'A' + s : 'a' + s - 26, (size_t)E) != NULL;
            if (count[s] == 1 && !is_el) PUT((char)(s < 26 ? 'A' + s : 'a' + s - 26));
        }
    }
    (void)out_ellipsis; /* an explicit output without "..." sums the ellipsis dims, as torch */
#undef PUT
    buf[w] = '\0';
    return true;
}

/* x with every subscript repeated in t replaced by the diagonal of its dims (t updated);
 * a new reference (x itself when nothing repeats), NULL with the error set */
static ag_tensor *take_diagonals(ag_tensor *x, term *t, int op, const char *eq) {
    ag_tensor *cur = ag_retain(x);
    for (;;) {
        int a = -1, b = -1;
        for (int i = 0; i < t->n && a < 0; i++)
            for (int j = i + 1; j < t->n; j++)
                if (t->s[i] == t->s[j]) { a = i, b = j; break; }
        if (a < 0) return cur;
        int64_t na = cur->shape[a], nb = cur->shape[b];
        if (na != nb) {
            ag_set_error(AG_ERR_SHAPE, OP ": subscript '%c' repeats in operand %d of \"%s\" over dims of sizes %lld and %lld "
                         "(a diagonal needs equal sizes)", t->s[a], op, eq, (long long)na, (long long)nb);
            ag__drop(cur);
            return NULL;
        }
        int perm[AG_MAX_DIMS], np = 0;
        int64_t shp[AG_MAX_DIMS];
        term nt = {0};
        for (int i = 0; i < t->n; i++)
            if (i != a && i != b) perm[np] = i, shp[np++] = cur->shape[i], nt.s[nt.n++] = t->s[i];
        perm[np] = a, perm[np + 1] = b;
        shp[np] = na * na;
        nt.s[nt.n++] = t->s[a];
        ag_scope_begin();
        ag_tensor *f = ag_reshape(ag_permute(cur, perm, np + 2), shp, np + 1);
        ag_tensor *d = ag_keep(f ? ag_slice(f, np, 0, na * na, na + 1) : NULL);
        ag_scope_end();
        ag__drop(cur);
        if (!d) return NULL;
        ag__unscope(d);
        cur = d;
        *t = nt;
    }
}

ag_tensor *ag_einsum(const char *eq, ag_tensor *const *ops, int n) {
    if (!AG_NONNULL(OP, eq, ops)) return NULL;
    if (n < 1) return ag_fail(AG_ERR_INVALID, OP ": expected at least one operand, given %d", n);
    for (int i = 0; i < n; i++)
        if (!ops[i]) {
            if (!ag_failed()) ag_set_error(AG_ERR_INVALID, OP ": argument 2 (ops[%d]) is NULL", i);
            return NULL;
        }
    term terms[AG_MAX_DIMS * 4], out;
    int nt;
    bool expl;
    if (n > (int)(sizeof terms / sizeof *terms))
        return ag_fail(AG_ERR_INVALID, OP ": at most %d operands, given %d", (int)(sizeof terms / sizeof *terms), n);
    for (int i = 1; i < n; i++)
        if (!ag__same_device(OP, ops[0], ops[i])) return NULL;
    char xeq[512];
    if (!expand_ellipsis(eq, ops, n, xeq, sizeof xeq)) return NULL;
    if (!parse(xeq, terms, n, &nt, &out, &expl)) return NULL;
    if (nt != n) return ag_fail(AG_ERR_INVALID, OP ": \"%s\" has %d operand%s, given %d tensors", eq, nt, nt == 1 ? "" : "s", n);
    for (int i = 0; i < n; i++)
        if (terms[i].n != ops[i]->ndim)
            return ag_fail(AG_ERR_SHAPE, OP ": operand %d has %d subscript%s in \"%s\" but %d dims %s", i, terms[i].n,
                           terms[i].n == 1 ? "" : "s", eq, ops[i]->ndim, AG_SHP(ops[i]));
    ag_tensor *dg[AG_MAX_DIMS * 4];
    for (int i = 0; i < n; i++) {
        dg[i] = take_diagonals(ops[i], &terms[i], i, eq);
        if (!dg[i]) {
            while (i--) ag__drop(dg[i]);
            return NULL;
        }
    }
    ag_tensor *r = einsum_terms(eq, dg, n, terms, &out, expl);
    for (int i = 0; i < n; i++) ag__drop(dg[i]);
    return r;
}

/* the einsum of operands whose terms name each dim once */
static ag_tensor *einsum_terms(const char *eq, ag_tensor *const *ops, int n, term *terms, term *outp, bool expl) {
    term out = *outp;

    /* sizes and counts per subscript */
    int64_t size[NSUB];
    int count[NSUB] = {0}, first_op[NSUB];
    for (int i = 0; i < n; i++) {
        const term *t = &terms[i];
        if (t->n != ops[i]->ndim)
            return ag_fail(AG_ERR_SHAPE, OP ": operand %d has %d subscript%s in \"%s\" but %d dims %s", i, t->n,
                           t->n == 1 ? "" : "s", eq, ops[i]->ndim, AG_SHP(ops[i]));
        for (int k = 0; k < t->n; k++) {
            int s = sub_index(t->s[k]);
            int64_t d = ops[i]->shape[k];
            if (!count[s]++) {
                size[s] = d;
                first_op[s] = i;
            } else if (d != size[s]) {
                if (size[s] != 1 && d != 1)
                    return ag_fail(AG_ERR_SHAPE, OP ": subscript '%c' has size %lld in operand %d but %lld in operand %d",
                                   t->s[k], (long long)size[s], first_op[s], (long long)d, i);
                if (size[s] == 1) size[s] = d;
            }
        }
    }
    if (expl) {
        for (int k = 0; k < out.n; k++)
            if (!count[sub_index(out.s[k])])
                return ag_fail(AG_ERR_INVALID, OP ": output subscript '%c' of \"%s\" is in no operand", out.s[k], eq);
    } else {
        for (int s = 0; s < NSUB; s++)
            if (count[s] == 1) {
                if (out.n == AG_MAX_DIMS)
                    return ag_fail(AG_ERR_SHAPE, OP ": the output of \"%s\" would have more than %d dims", eq, AG_MAX_DIMS);
                out.s[out.n++] = (char)(s < 26 ? 'A' + s : 'a' + s - 26);
            }
    }
    /* the full order: output subscripts, then the contracted ones by first appearance */
    char all[NSUB];
    int nall = 0;
    bool in_out[NSUB] = {0}, placed[NSUB] = {0};
    for (int k = 0; k < out.n; k++) {
        int s = sub_index(out.s[k]);
        in_out[s] = placed[s] = true;
        all[nall++] = out.s[k];
    }
    for (int i = 0; i < n; i++)
        for (int k = 0; k < terms[i].n; k++) {
            int s = sub_index(terms[i].s[k]);
            if (!placed[s]) placed[s] = true, all[nall++] = terms[i].s[k];
        }

    ag_scope_begin();
    ag_tensor *r = NULL;
    if (n == 2) {
        /* per operand: sum the subscripts that are nowhere else, then classify:
         * batch (both, kept), own (this one only, kept), contracted (both, not kept) */
        ag_tensor *x[2];
        term tt[2];
        for (int i = 0; i < 2; i++) {
            int sd[AG_MAX_DIMS], nsd = 0;
            tt[i].n = 0;
            for (int k = 0; k < terms[i].n; k++) {
                int s = sub_index(terms[i].s[k]);
                if (!in_out[s] && count[s] == 1) sd[nsd++] = k;
                else tt[i].s[tt[i].n++] = terms[i].s[k];
            }
            x[i] = nsd ? ag_sum(ops[i], sd, nsd, false) : ops[i];
        }
        char bat[AG_MAX_DIMS], own[2][AG_MAX_DIMS], con[AG_MAX_DIMS];
        int nbat = 0, nown[2] = {0, 0}, ncon = 0;
        for (int a = 0; a < nall; a++) {
            char c = all[a];
            bool h0 = memchr(tt[0].s, c, (size_t)tt[0].n) != NULL, h1 = memchr(tt[1].s, c, (size_t)tt[1].n) != NULL;
            int s = sub_index(c);
            if (h0 && h1) {
                if (in_out[s]) bat[nbat++] = c;
                else con[ncon++] = c;
            } else if (h0) own[0][nown[0]++] = c;
            else if (h1) own[1][nown[1]++] = c;
        }
        /* x0 -> [batch, own0, con] (sizes from the operand: 1 broadcasts), x1 -> [batch, con, own1] */
        int64_t B = 1, M = 1, N = 1, K = 1, bshape[AG_MAX_DIMS];
        for (int j = 0; j < nbat; j++) bshape[j] = size[sub_index(bat[j])];
        for (int j = 0; j < nbat; j++) B *= bshape[j];
        for (int j = 0; j < nown[0]; j++) M *= size[sub_index(own[0][j])];
        for (int j = 0; j < nown[1]; j++) N *= size[sub_index(own[1][j])];
        for (int j = 0; j < ncon; j++) K *= size[sub_index(con[j])];
        ag_tensor *y[2];
        for (int i = 0; i < 2; i++) {
            char order[AG_MAX_DIMS];
            int no = 0;
            memcpy(order + no, bat, (size_t)nbat), no += nbat;
            if (i == 0) memcpy(order + no, own[0], (size_t)nown[0]), no += nown[0];
            memcpy(order + no, con, (size_t)ncon), no += ncon;
            if (i == 1) memcpy(order + no, own[1], (size_t)nown[1]), no += nown[1];
            int perm[AG_MAX_DIMS];
            int64_t full[AG_MAX_DIMS];
            for (int j = 0; j < no; j++) {
                perm[j] = (int)((const char *)memchr(tt[i].s, order[j], (size_t)tt[i].n) - tt[i].s);
                full[j] = size[sub_index(order[j])];
            }
            ag_tensor *p = x[i] && no > 0 ? ag_permute(x[i], perm, no) : x[i];
            if (p && no > 0) p = ag_expand(p, full, no); /* size-1 dims broadcast */
            int64_t sh3[3] = {B, i == 0 ? M : K, i == 0 ? K : N};
            y[i] = p ? ag_reshape(p, sh3, 3) : NULL;
        }
        ag_tensor *z = y[0] && y[1] ? ag_matmul(y[0], y[1]) : NULL; /* [B, M, N] */
        /* [batch, own0, own1] -> output order */
        char zo[AG_MAX_DIMS];
        int64_t zs[AG_MAX_DIMS];
        int nz = 0;
        memcpy(zo + nz, bat, (size_t)nbat), nz += nbat;
        memcpy(zo + nz, own[0], (size_t)nown[0]), nz += nown[0];
        memcpy(zo + nz, own[1], (size_t)nown[1]), nz += nown[1];
        for (int j = 0; j < nz; j++) zs[j] = size[sub_index(zo[j])];
        ag_tensor *zr = z ? ag_reshape(z, zs, nz) : NULL;
        int perm[AG_MAX_DIMS];
        for (int k = 0; k < out.n; k++) perm[k] = (int)((const char *)memchr(zo, out.s[k], (size_t)nz) - zo);
        r = zr && out.n > 0 ? ag_permute(zr, perm, out.n) : zr;
    } else {
        for (int i = 0; i < n; i++) {
            int perm[AG_MAX_DIMS], np = 0;
            int64_t shp[NSUB];
            for (int a = 0; a < nall; a++) {
                const char *at = memchr(terms[i].s, all[a], (size_t)terms[i].n);
                if (at) {
                    perm[np++] = (int)(at - terms[i].s);
                    shp[a] = ops[i]->shape[at - terms[i].s];
                } else {
                    shp[a] = 1;
                }
            }
            if (nall > AG_MAX_DIMS) {
                ag_set_error(AG_ERR_SHAPE, OP ": \"%s\" has %d distinct subscripts: at most %d with %d operands", eq,
                             nall, AG_MAX_DIMS, n);
                r = NULL;
                break;
            }
            ag_tensor *p = np > 0 ? ag_permute(ops[i], perm, np) : ops[i];
            p = p ? ag_reshape(p, shp, nall) : NULL;
            r = i == 0 ? p : (r && p ? ag_mul(r, p) : NULL);
            if (!r) break;
        }
        if (r && nall > out.n) {
            int sd[NSUB], nsd = 0;
            for (int a = out.n; a < nall; a++) sd[nsd++] = a;
            r = ag_sum(r, sd, nsd, false);
        }
        if (r && nall == out.n && n == 1) r = ag_contiguous(r); /* a permutation: its own tensor */
    }
    if (r && r == ops[0]) r = ag__identity(r, OP);
    ag_keep(r);
    ag_scope_end();
    return r;
}
