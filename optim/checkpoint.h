/* optim/checkpoint.h — the optimizer's part of a checkpoint, for nn/checkpoint.c (which writes
 * and reads the file and the module's part). Private to the library.
 *
 * Layout: group /<group> (the checkpoint uses /optim) with one dataset per state entry, named
 * as ag_optim_state_at names it ("0.exp_avg", ...), and attributes optimizer (ag_optim_name)
 * and lr. Reading is staged so that a checkpoint changes nothing unless all of it is good:
 * ag__optim_h5_read reads and checks everything, then the caller either commits or discards. */
#ifndef AG_OPTIM_CHECKPOINT_H
#define AG_OPTIM_CHECKPOINT_H

#include "astrograd/optim.h"
#include "tensor/h5.h"

#ifdef AG_HAVE_HDF5

/* Write o's state and attributes into a new group `group` of f. Call under ag__h5_enter. */
int ag__optim_h5_write(ag_optim *o, hid_t f, const char *group, const char *fn, const char *path);

typedef struct ag_optim_h5_read ag_optim_h5_read;
/* Read and check o's part of f (call under ag__h5_enter). On success *out holds what was read;
 * o is unchanged except that a fresh optimizer gets its initial state (as a first step would
 * make it) to load into, which ag__optim_h5_discard takes back. */
int ag__optim_h5_read(ag_optim *o, hid_t f, const char *group, const char *fn, const char *path, ag_optim_h5_read **out);
/* Load what was read into o (state entries, then lr), and free r. */
int ag__optim_h5_commit(ag_optim *o, ag_optim_h5_read *r);
/* Forget what was read (undoing the initial state a fresh optimizer got), and free r. NULL: no-op. */
void ag__optim_h5_discard(ag_optim *o, ag_optim_h5_read *r);

#endif
#endif
