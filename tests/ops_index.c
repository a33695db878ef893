/* tests/ops_index.c — op-table rows for index ops (fixtures: fixturegen/index.py). */
#include "op_table.h"

const op_row ops_index[] = {
    {0},
};
