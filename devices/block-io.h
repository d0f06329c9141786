/* The block backend's vocabulary: one request (struct blk_io), the
 * options an image is opened with, and the bounce-buffer bounds. Apart
 * from block-backend.h so the backend's own parts (block-engine*.c,
 * block-open.c) can use them without including the face they serve.
 * Read block-backend.h for how it all fits. */
#ifndef SKIFF_BLOCK_IO_H
#define SKIFF_BLOCK_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

struct reactor;

enum blk_cache { BLK_CACHE_WRITEBACK = 0, BLK_CACHE_NONE, BLK_CACHE_UNSAFE };

enum blk_engine {
	BLK_ENGINE_AUTO = 0, /* io_uring if the kernel allows it, else threads */
	BLK_ENGINE_IO_URING, /* io_uring or fail */
	BLK_ENGINE_THREADS,  /* the worker pool only */
};

struct blk_backend_options {
	const char *path;   /* raw image file or block device */
	bool readonly;      /* O_RDONLY, shared lock; writes fail with -EROFS */
	bool snapshot;      /* the image is a read-only base (shared lock); writes go to a
			     * private copy-on-write overlay (block-overlay.h), lost at close.
			     * Runs on the worker threads; refuses cache=none and io_uring. */
	enum blk_cache cache;
	enum blk_engine engine;
	unsigned queue_depth; /* io_uring entries (0 = 256) */
	struct reactor *reactor; /* optional: io_uring completions are reaped on it, no reaper thread */
	void (*batch_end)(void *opaque); /* optional, see "Batching" above */
	void *batch_opaque;
};

enum blk_op {
	BLK_OP_READ,         /* iov <- [offset, offset + iov total) */
	BLK_OP_WRITE,        /* iov -> [offset, ...) */
	BLK_OP_FLUSH,        /* completed writes reach stable storage (fdatasync) */
	BLK_OP_DISCARD,      /* [offset, offset + len) may be deallocated; reads after it are undefined */
	BLK_OP_WRITE_ZEROES, /* [offset, offset + len) reads back as zeroes; BLK_IO_UNMAP lets it deallocate */
};

#define BLK_IO_UNMAP 1u /* WRITE_ZEROES: deallocating is allowed (punch a hole) */

/* One request. The caller owns it (and iov) until done() is called. */
struct blk_io {
	enum blk_op op;
	unsigned flags;       /* BLK_IO_UNMAP */
	uint64_t offset;      /* bytes from the start of the image */
	uint64_t len;         /* DISCARD / WRITE_ZEROES: bytes; READ / WRITE: set by submit to the iov total */
	struct iovec *iov;    /* READ / WRITE; the backend may modify the entries (short transfers) */
	unsigned iovcnt;
	/* Called exactly once per accepted request, on a backend thread,
	 * with 0 or -errno (-EIO, -ENOSPC, -EOPNOTSUPP for a discard the
	 * image cannot do, ...). */
	void (*done)(struct blk_io *io, int result);
	void *opaque;         /* for the caller */

	/* Backend-private. */
	struct blk_io *next;  /* the worker pool's queue */
	bool bounced;         /* cache=none, unaligned memory: copied through a pool thread's bounce buffer */
	uint64_t transferred; /* bytes done so far (io_uring short transfers) */
};

/* cache=none: guest memory that O_DIRECT cannot take (not aligned) is
 * copied through an aligned buffer of BLK_BOUNCE_CHUNK bytes, a chunk at
 * a time, on a pool thread; each of the (at most 4) pool threads keeps one.
 * The guest decides how large its requests are (virtio-blk 254 MiB, SCSI
 * 65,536 blocks) and how many are in flight (up to 256 per queue, 16
 * queues): a bounce buffer per request would let it make the host
 * allocate gigabytes. This way a disk holds at most BLK_BOUNCE_MAX_BYTES
 * whatever the guest sends; a request larger than a chunk is split. */
#define BLK_BOUNCE_CHUNK     (1u << 20)
#define BLK_BOUNCE_MAX_BYTES (4u * BLK_BOUNCE_CHUNK)

#endif
