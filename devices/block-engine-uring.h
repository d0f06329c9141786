/* The block backend's io_uring engine (block-engine-uring.c). */
#ifndef SKIFF_BLOCK_ENGINE_URING_H
#define SKIFF_BLOCK_ENGINE_URING_H

#include <stdbool.h>

#include "devices/block-io.h"

struct blk_backend;

/* Make the ring and start its reaper: 0 with b->has_ring set; 0 with it
 * clear if the reaper thread could not start (the pool takes over); or
 * -errno if the kernel gives no (restricted) ring. */
int blk_ring_start(struct blk_backend *b, unsigned depth);
/* Stop the reaper (with a NULL nop after every request) and free the ring. */
void blk_ring_stop(struct blk_backend *b);
/* Put a read, write or flush on the ring: 0, or -EAGAIN if it is full.
 * now: submit it at once, and make sure the reaper waits for it; else it
 * waits for blk_ring_unplug() (see blk_backend_queue()). */
int blk_ring_submit(struct blk_backend *b, struct blk_io *io, bool now);
/* See blk_backend_unplug(). */
void blk_ring_unplug(struct blk_backend *b);

#endif
