/* tests/fixture.h — reading reference tensors written by tests/gen_fixtures.py.
 * Format (little-endian): "AGFX0001", u32 count, then per entry: u16 name length, name,
 * u8 dtype (ag_dtype order), u8 ndim, i64 shape[ndim], raw row-major data. */
#ifndef AG_TESTS_FIXTURE_H
#define AG_TESTS_FIXTURE_H

#include <astrograd.h>

typedef struct fx_file fx_file;

/* Opens tests/fixtures/<family>.agfx; NULL (and a message on stderr) if missing or malformed. */
fx_file *fx_open(const char *family);
void fx_close(fx_file *f);
/* New tensor for entry `name` (printf-style), or NULL if absent. */
ag_tensor *fx_get(fx_file *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
bool fx_has(fx_file *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* max over elements of |a - b| / (atol + rtol |b|); <= 1 means close. NaNs must match. */
double fx_close_ratio(ag_tensor *a, ag_tensor *b, double rtol, double atol);
/* Fails the current cmocka test unless got (on any device) is within rtol of want (absolute
 * floor rtol/1000); what names the quantity in the message. */
void fx_expect_close(ag_tensor *got, ag_tensor *want, double rtol, const char *what);

#endif
