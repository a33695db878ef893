/* tests/ops_fft.c — op-table rows for fft ops (fixtures: fixturegen/fft.py). */
#include "op_table.h"

const op_row ops_fft[] = {
    {0},
};
