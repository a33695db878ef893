/* tests/ops_solve.c — op-table rows for solve ops (fixtures: fixturegen/solve.py). */
#include "op_table.h"

const op_row ops_solve[] = {
    {0},
};
