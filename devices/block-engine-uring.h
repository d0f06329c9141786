/* The block backend's io_uring engine (block-engine-uring.c). */
#ifndef SKIFF_BLOCK_ENGINE_URING_H
#define SKIFF_BLOCK_ENGINE_URING_H

#include "devices/block-io.h"

struct blk_backend;

/* Make the ring and start its reaper: 0 with b->has_ring set; 0 with it
 * clear if the reaper thread could not start (the pool takes over); or
 * -errno if the kernel gives no (restricted) ring. */
int blk_ring_start(struct blk_backend *b, unsigned depth);
/* Stop the reaper (with a NULL nop after every request) and free the ring. */
void blk_ring_stop(struct blk_backend *b);
/* Put a read, write or flush on the ring: 0, or -EAGAIN if it is full. */
int blk_ring_submit(struct blk_backend *b, struct blk_io *io);
/* See blk_backend_reap(). */
void blk_ring_reap(struct blk_backend *b);

#endif
