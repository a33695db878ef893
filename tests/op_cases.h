/* tests/op_cases.h — the cases of the op table (every row x every dtype it lists), shared by
 * test_op_table.c (CPU vs PyTorch) and test_cuda.c (CUDA vs CPU). Include after cmocka.h. */
#ifndef AG_TESTS_OP_CASES_H
#define AG_TESTS_OP_CASES_H

#include "fixture.h"
#include "op_table.h"

typedef struct tcase { const op_row *row; const char *family; ag_dtype dt; char name[96]; } tcase;

/* the fixture file of a family, opened on first use (NULL when it cannot be read) */
fx_file *op_family_file(const char *fam);
void op_close_family_files(void);
/* one cmocka test per (family, row, dtype), named "family/row/dtype", running run with its
 * tcase as state; returns how many (at most cap: more is a harness error and exits) */
int op_cases(tcase *cases, struct CMUnitTest *tests, int cap, CMUnitTestFunction run);
/* the case's forward tolerances: the row's own, else 1e-5 (f32/c64) or 1e-12 relative, with an
 * absolute floor of rtol (f32/c64) or rtol/100 */
void op_case_tolerances(const tcase *tc, double *rtol, double *atol);

#endif
