/* The block backend's io_uring engine (block-engine-uring.c). */
#ifndef SKIFF_BLOCK_ENGINE_URING_H
#define SKIFF_BLOCK_ENGINE_URING_H

#include <stdbool.h>

#include "devices/block-io.h"

struct blk_backend;

struct reactor;

/* Make the ring; its completions are reaped on the reactor, if one is
 * given (and takes the ring's fd), else by a reaper thread started here.
 * 0 with b->has_ring set; 0 with it clear if the reaper thread could not
 * start (the pool takes over); or -errno if the kernel gives no
 * (restricted) ring. */
int blk_ring_start(struct blk_backend *b, unsigned depth, struct reactor *reactor);
/* For close(), before it waits: take the ring off the reactor (which may
 * have stopped) and reap on the calling thread until nothing is left on
 * it. Nothing to do with a reaper thread. */
void blk_ring_detach(struct blk_backend *b);
/* Stop the reaper, if there is one (with a NULL nop after every
 * request), and free the ring. */
void blk_ring_stop(struct blk_backend *b);
/* Put a read, write or flush on the ring: 0, or -EAGAIN if it is full.
 * now: submit it at once, and (without a reactor) make sure the reaper
 * waits for it; else it waits for blk_ring_unplug() (see
 * blk_backend_queue()). */
int blk_ring_submit(struct blk_backend *b, struct blk_io *io, bool now);
/* See blk_backend_unplug(). */
void blk_ring_unplug(struct blk_backend *b);

#endif
