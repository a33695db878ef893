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

#endif
