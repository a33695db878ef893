/* tests/op_cases.c — see op_cases.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "op_cases.h"

static fx_file *files[16];
static const char *file_names[16];
static int n_files;

int op_lead;

fx_file *op_family_file(const char *fam) {
    for (int i = 0; i < n_files; i++)
        if (!strcmp(file_names[i], fam)) return files[i];
    if (n_files == (int)(sizeof files / sizeof *files)) {
        fprintf(stderr, "op_family_file: more than %d families\n", n_files);
        exit(1);
    }
    fx_file *f = fx_open(fam);
    file_names[n_files] = fam;
    files[n_files++] = f;
    return f;
}

void op_close_family_files(void) {
    for (int i = 0; i < n_files; i++) fx_close(files[i]);
    n_files = 0;
}

int op_cases(tcase *cases, struct CMUnitTest *tests, int cap, CMUnitTestFunction run) {
    int n = 0;
    const struct { const char *fam; const op_row *rows; } fams[] = {
#define X(f) {#f, ops_##f},
        AG_OP_FAMILIES(X)
#undef X
    };
    for (size_t fi = 0; fi < sizeof fams / sizeof *fams; fi++)
        for (const op_row *r = fams[fi].rows; r->name; r++)
            for (int dt = 0; dt < AG_NUM_DTYPES; dt++) {
                if (!(r->dtypes & DT(dt))) continue;
                if (n == cap) {
                    fprintf(stderr, "op_cases: more than %d cases\n", cap);
                    exit(1);
                }
                tcase *c = &cases[n];
                c->row = r;
                c->family = fams[fi].fam;
                c->dt = (ag_dtype)dt;
                snprintf(c->name, sizeof c->name, "%s/%s/%s", fams[fi].fam, r->name, ag_dtype_name(c->dt));
                tests[n] = (struct CMUnitTest){c->name, run, NULL, NULL, c};
                n++;
            }
    return n;
}

void op_case_tolerances(const tcase *tc, double *rtol, double *atol) {
    bool lowp = tc->dt == AG_F32 || tc->dt == AG_C64;
    const op_row *row = tc->row;
    *rtol = lowp ? (row->rtol32 > 0 ? row->rtol32 : 1e-5) : (row->rtol64 > 0 ? row->rtol64 : 1e-12);
    *atol = lowp ? *rtol : *rtol * 1e-2;
}
