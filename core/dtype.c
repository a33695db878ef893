/* core/dtype.c — dtype facts and PyTorch's promotion rules (bool < int < float < complex). */
#include "core/core.h"

static const char *names[AG_NUM_DTYPES] = {"f32", "f64", "c64", "c128", "i64", "bool", "i32", "u8"};
static const size_t sizes[AG_NUM_DTYPES] = {4, 8, 8, 16, 8, 1, 4, 1};

static bool valid(ag_dtype dt) { return (unsigned)dt < AG_NUM_DTYPES; }
const char *ag_dtype_name(ag_dtype dt) { return valid(dt) ? names[dt] : "invalid"; }
size_t ag_dtype_size(ag_dtype dt) { return valid(dt) ? sizes[dt] : 0; }
bool ag_dtype_is_complex(ag_dtype dt) { return dt == AG_C64 || dt == AG_C128; }
bool ag_dtype_is_float(ag_dtype dt) { return dt == AG_F32 || dt == AG_F64 || ag_dtype_is_complex(dt); }
ag_dtype ag_dtype_to_real(ag_dtype dt) { return dt == AG_C64 ? AG_F32 : dt == AG_C128 ? AG_F64 : dt; }
ag_dtype ag_dtype_to_complex(ag_dtype dt) {
    if (dt == AG_F32 || dt == AG_C64) return AG_C64;
    return AG_C128;
}

static int category(ag_dtype dt) {
    switch (dt) {
    case AG_BOOL: return 0;
    case AG_I64: case AG_I32: case AG_U8: return 1;
    case AG_F32: case AG_F64: return 2;
    default: return 3;
    }
}
/* order within bool and the integers: bool < u8 < i32 < i64 */
static int int_rank(ag_dtype dt) { return dt == AG_BOOL ? 0 : dt == AG_U8 ? 1 : dt == AG_I32 ? 2 : 3; }
static int width(ag_dtype dt) { return dt == AG_F32 || dt == AG_C64 ? 32 : 64; }

ag_dtype ag_promote_types(ag_dtype a, ag_dtype b) {
    if (a == b) return a;
    int ca = category(a), cb = category(b);
    if (ca < 2 && cb < 2) return int_rank(a) > int_rank(b) ? a : b;
    if (ca < 2) return b;
    if (cb < 2) return a;
    int w = width(a) > width(b) ? width(a) : width(b);
    if (ca == 3 || cb == 3) return w == 64 ? AG_C128 : AG_C64;
    return w == 64 ? AG_F64 : AG_F32;
}
