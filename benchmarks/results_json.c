/* benchmarks/results_json.c — see results_json.h. Strict JSON (RFC 8259) except that \u escapes
 * outside ASCII are kept as '?': the benchmark files carry ASCII names only. */
#include "results_json.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct parser { const char *s, *p; char *err; size_t nerr; int depth; } parser;

static bool fail_at(parser *ps, const char *what) {
    if (!ps->err[0]) snprintf(ps->err, ps->nerr, "%s at byte %ld", what, (long)(ps->p - ps->s));
    return false;
}

static void skip_ws(parser *ps) {
    while (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r') ps->p++;
}

static bool parse_value(parser *ps, bj *v);

static bool parse_string(parser *ps, char **out) {
    if (*ps->p != '"') return fail_at(ps, "expected a string");
    ps->p++;
    size_t cap = 16, len = 0;
    char *b = malloc(cap);
    if (!b) return fail_at(ps, "out of memory");
    for (;;) {
        char c = *ps->p++;
        if (c == '"') break;
        if (c == '\0' || (unsigned char)c < 0x20) { free(b); ps->p--; return fail_at(ps, "unterminated string"); }
        if (c == '\\') {
            char e = *ps->p++;
            const char *from = "\"\\/bfnrt", *to = "\"\\/\b\f\n\r\t", *k = e ? strchr(from, e) : NULL;
            if (k) c = to[k - from];
            else if (e == 'u') {
                unsigned cp = 0;
                for (int i = 0; i < 4; i++) {
                    char h = *ps->p++;
                    int d = h >= '0' && h <= '9' ? h - '0' : h >= 'a' && h <= 'f' ? h - 'a' + 10 : h >= 'A' && h <= 'F' ? h - 'A' + 10 : -1;
                    if (d < 0) { free(b); ps->p--; return fail_at(ps, "bad \\u escape"); }
                    cp = cp * 16 + (unsigned)d;
                }
                c = cp < 0x80 ? (char)cp : '?';
            } else { free(b); ps->p--; return fail_at(ps, "bad escape"); }
        }
        if (len + 2 > cap) {
            char *nb = realloc(b, cap *= 2);
            if (!nb) { free(b); return fail_at(ps, "out of memory"); }
            b = nb;
        }
        b[len++] = c;
    }
    b[len] = '\0';
    *out = b;
    return true;
}

/* items of an array or object; obj adds the keys */
static bool parse_list(parser *ps, bj *v, bool obj) {
    char close = obj ? '}' : ']';
    ps->p++;
    int cap = 0;
    skip_ws(ps);
    if (*ps->p == close) { ps->p++; return true; }
    for (;;) {
        if (v->n == cap) {
            cap = cap ? 2 * cap : 8;
            bj *ni = realloc(v->items, (size_t)cap * sizeof *ni);
            if (!ni) return fail_at(ps, "out of memory");
            v->items = ni;
            if (obj) {
                char **nk = realloc(v->keys, (size_t)cap * sizeof *nk);
                if (!nk) return fail_at(ps, "out of memory");
                v->keys = nk;
            }
        }
        skip_ws(ps);
        if (obj) {
            if (!parse_string(ps, &v->keys[v->n])) return false;
            skip_ws(ps);
            if (*ps->p != ':') { free(v->keys[v->n]); return fail_at(ps, "expected ':'"); }
            ps->p++;
        }
        memset(&v->items[v->n], 0, sizeof *v->items);
        bool ok = parse_value(ps, &v->items[v->n]);
        v->n++; /* counted even when it failed, so that bj_free frees its part */
        if (!ok) return false;
        skip_ws(ps);
        if (*ps->p == ',') { ps->p++; continue; }
        if (*ps->p == close) { ps->p++; return true; }
        return fail_at(ps, obj ? "expected ',' or '}'" : "expected ',' or ']'");
    }
}

static bool parse_value(parser *ps, bj *v) {
    skip_ws(ps);
    if (++ps->depth > 64) return fail_at(ps, "nested too deeply");
    bool ok;
    char c = *ps->p;
    if (c == '{') v->type = BJ_OBJ, ok = parse_list(ps, v, true);
    else if (c == '[') v->type = BJ_ARR, ok = parse_list(ps, v, false);
    else if (c == '"') v->type = BJ_STR, ok = parse_string(ps, &v->str);
    else if (!strncmp(ps->p, "null", 4)) v->type = BJ_NULL, ps->p += 4, ok = true;
    else if (!strncmp(ps->p, "true", 4)) v->type = BJ_BOOL, v->num = 1, ps->p += 4, ok = true;
    else if (!strncmp(ps->p, "false", 5)) v->type = BJ_BOOL, ps->p += 5, ok = true;
    else if (c == '-' || (c >= '0' && c <= '9')) {
        char *end;
        errno = 0;
        v->type = BJ_NUM;
        v->num = strtod(ps->p, &end);
        ok = end != ps->p && errno != ERANGE;
        if (ok) ps->p = end;
        else fail_at(ps, "bad number");
    } else ok = fail_at(ps, c ? "unexpected character" : "unexpected end of text");
    ps->depth--;
    return ok;
}

/* frees what v holds, not v: children live inline in their parent's items */
static void bj_clear(bj *v) {
    for (int i = 0; i < v->n; i++) {
        if (v->keys) free(v->keys[i]);
        bj_clear(&v->items[i]);
    }
    free(v->items);
    free(v->keys);
    free(v->str);
}

void bj_free(bj *v) {
    if (!v) return;
    bj_clear(v);
    free(v);
}

bj *bj_parse(const char *text, char *err, size_t nerr) {
    err[0] = '\0';
    parser ps = {text, text, err, nerr, 0};
    bj *v = calloc(1, sizeof *v);
    if (!v) { snprintf(err, nerr, "out of memory"); return NULL; }
    bool ok = parse_value(&ps, v);
    if (ok) {
        skip_ws(&ps);
        if (*ps.p) ok = fail_at(&ps, "text after the value");
    }
    if (!ok) { bj_free(v); return NULL; }
    return v;
}

bj *bj_parse_file(const char *path, char *err, size_t nerr) {
    FILE *f = fopen(path, "rb");
    if (!f) { snprintf(err, nerr, "cannot read %s: %s", path, strerror(errno)); return NULL; }
    size_t cap = 1 << 16, len = 0;
    char *b = malloc(cap);
    for (size_t got; b && (got = fread(b + len, 1, cap - len - 1, f)) > 0;) {
        len += got;
        if (len + 1 == cap) {
            char *nb = realloc(b, cap *= 2);
            if (!nb) { free(b); b = NULL; }
            else b = nb;
        }
    }
    bool bad = ferror(f);
    fclose(f);
    if (!b || bad) { free(b); snprintf(err, nerr, "cannot read %s", path); return NULL; }
    b[len] = '\0';
    if (strlen(b) != len) { free(b); snprintf(err, nerr, "%s: not JSON (a NUL byte)", path); return NULL; }
    char why[200];
    bj *v = bj_parse(b, why, sizeof why);
    free(b);
    if (!v) snprintf(err, nerr, "%s: malformed JSON: %s", path, why);
    return v;
}

const bj *bj_get(const bj *o, const char *key) {
    if (!o || o->type != BJ_OBJ) return NULL;
    for (int i = 0; i < o->n; i++)
        if (!strcmp(o->keys[i], key)) return &o->items[i];
    return NULL;
}
