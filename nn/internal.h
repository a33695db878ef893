/* nn/internal.h — helpers shared by the nn/ sources; private to the library. */
#ifndef AG_NN_INTERNAL_H
#define AG_NN_INTERNAL_H

#include "astrograd/nn.h"

/* The module tree as ag_module_fprint prints it, without the final newline; malloc'ed
 * (free it), NULL when out of memory. */
char *ag__module_repr(const ag_module *m);

#endif
