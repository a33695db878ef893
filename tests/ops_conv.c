/* tests/ops_conv.c — op-table rows for conv ops (fixtures: fixturegen/conv.py). */
#include "op_table.h"

const op_row ops_conv[] = {
    {0},
};
