/* The block backend's worker pool (block-engine-pool.c). */
#ifndef SKIFF_BLOCK_ENGINE_POOL_H
#define SKIFF_BLOCK_ENGINE_POOL_H

#include <stddef.h>

#include "devices/block-io.h"

struct blk_backend;

/* Start up to `want` workers; returns how many started. */
unsigned blk_pool_start(struct blk_backend *b, unsigned want);
/* Let the workers drain the queue, join them, free the bounce buffers. */
void blk_pool_stop(struct blk_backend *b);
/* Queue io for a worker; it finishes through blk_io_finish(). */
void blk_pool_queue(struct blk_backend *b, struct blk_io *io);
/* Bytes of bounce buffers held now. */
size_t blk_pool_bounce_bytes(struct blk_backend *b);

#endif
