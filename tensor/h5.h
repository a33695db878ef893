/* tensor/h5.h — tensors as HDF5 datasets, for the checkpoint code of nn/ and optim/ (which
 * must not include each other). Private to the library.
 *
 * HDF5 is not thread-safe (Debian builds the serial library): every call into it happens
 * between ag__h5_enter and ag__h5_leave, which hold one global mutex and keep HDF5's own error
 * printing off (our messages say what went wrong). Messages name `fn`, the public function the
 * user called, and `path`, the file. */
#ifndef AG_TENSOR_H5_H
#define AG_TENSOR_H5_H

#include "ag_config.h"
#include "astrograd/tensor.h"

#ifdef AG_HAVE_HDF5
#include <hdf5.h>

void ag__h5_enter(void);
void ag__h5_leave(void);

/* Create (truncate) tmp as a checkpoint file. <0 with the error set. */
hid_t ag__h5_create(const char *fn, const char *tmp);
/* Open path read-only. <0 with the error set (not HDF5, corrupt). */
hid_t ag__h5_open(const char *fn, const char *path);
/* Close a file and everything still open in it. */
void ag__h5_close(hid_t f);

/* Write t (any device, any strides) as dataset `name` of group g ("/group/name" in messages). */
int ag__h5_write_tensor(hid_t g, const char *group, const char *name, ag_tensor *t, const char *fn, const char *path);

/* Another shape a reader accepts for a dataset besides like's (NULL: only like's). */
typedef bool (*ag_h5_shape_ok)(void *ud, const int64_t *shape, int ndim);
/* Read dataset `name` of group g into a new CPU tensor with like's dtype and shape (or one
 * `ok` accepts). NULL with the error set: missing, wrong dtype or shape, unreadable. */
ag_tensor *ag__h5_read_tensor(hid_t g, const char *group, const char *name, const ag_tensor *like,
                              ag_h5_shape_ok ok, void *ud, const char *fn, const char *path);

/* Every link in group g must be one of names[0..n): else AG_ERR_FORMAT naming the entry, where
 * `what` is what the entry would be ("parameter", ...). */
int ag__h5_check_entries(hid_t g, const char *group, const char *const *names, int n, const char *what,
                         const char *fn, const char *path);

/* Scalar attributes of an object. 0 or -1 (no error set: the caller's message says which). */
int ag__h5_write_str_attr(hid_t obj, const char *name, const char *value);
int ag__h5_write_num_attr(hid_t obj, const char *name, hid_t type, const void *value);
/* value: at least cap bytes, NUL-terminated on success; -1 when absent, unreadable or longer */
int ag__h5_read_str_attr(hid_t obj, const char *objname, const char *name, char *value, size_t cap);
int ag__h5_read_num_attr(hid_t obj, const char *objname, const char *name, hid_t type, void *value);

#endif
#endif
