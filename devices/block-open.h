/* Opening and locking a block image (block-open.c). */
#ifndef SKIFF_BLOCK_OPEN_H
#define SKIFF_BLOCK_OPEN_H

#include <stddef.h>

#include "devices/block-io.h"

struct blk_backend;

/* Open opt->path into b (fd, lock, geometry; the overlay for snapshot=on).
 * 0, or -errno with one line in err. On failure the caller closes b. */
int blk_open(struct blk_backend *b, const struct blk_backend_options *opt, char *err, size_t errlen);

#endif
