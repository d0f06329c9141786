/* The block backend: a disk image (raw file or block device) that serves
 * asynchronous reads, writes, flushes, discards and write-zeroes. It knows
 * nothing about virtio: virtio-blk and virtio-scsi both sit on it, so file
 * I/O, locking and cache modes live here once.
 *
 * Using it:
 *     struct blk_backend_options opt = { .path = "disk.img", .cache = BLK_CACHE_WRITEBACK };
 *     struct blk_backend *b;
 *     if (blk_backend_open(&b, &opt, err, sizeof(err)) < 0) -> one error line in err
 *     io->op = BLK_OP_READ; io->offset = ...; io->iov = ...; io->done = my_done;
 *     if (blk_backend_submit(b, io) < 0) -> failed at once, done() is not called
 *     ... my_done(io, 0 or -errno) runs later on a backend thread ...
 *     blk_backend_close(b);   (waits for every submitted request's done())
 *
 * Threads: requests go to io_uring (liburing) when the kernel allows it,
 * else to a pool of worker threads doing preadv/pwritev. io_uring
 * completions are reaped on opt.reactor (block-io.h) if the caller gives
 * one, else by a thread of the backend, and by the submitter itself
 * through blk_backend_unplug() (below). Discards and
 * write-zeroes (fallocate, BLKDISCARD) always run on the pool: io_uring
 * has no portable form of them and they are rare. done() is never called
 * from inside blk_backend_submit(), so a caller may submit while holding a
 * lock that its done() takes. Requests complete in any order.
 *
 * Batching: after a run of done() calls the completing thread calls
 * opt.batch_end(opt.batch_opaque) once, so a device can collect finished
 * requests in done() and publish them (and interrupt) once per batch.
 *
 * Locking of the image: an open file description lock (F_OFD_SETLK) on
 * the whole image, exclusive when writable, shared when read-only, so two
 * VMMs cannot write one disk at once. The lock dies with the descriptor,
 * so a killed skiff leaves none behind.
 *
 * Cache modes:
 *   writeback  the host page cache; FLUSH = fdatasync (the default)
 *   none       O_DIRECT: no host cache. Offsets and lengths must be
 *              multiples of blk_backend_block_size() (the device reports
 *              that size to the guest so its requests are aligned);
 *              unaligned guest memory goes through aligned bounce
 *              buffers of bounded size (see BLK_BOUNCE_CHUNK). FLUSH = fdatasync (the drive's cache).
 *   unsafe     the host page cache and FLUSH does nothing: fast, and a
 *              host crash loses data the guest believed safe.
 */
#ifndef SKIFF_BLOCK_BACKEND_H
#define SKIFF_BLOCK_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "devices/block-io.h"

struct blk_backend;

/* Open and lock the image. 0, or -errno with one line in err naming the
 * path and the cause ("... is locked by another process (pid 1234)", "is
 * a directory", ...). */
int blk_backend_open(struct blk_backend **out, const struct blk_backend_options *opt, char *err, size_t errlen);
/* Wait for every submitted request to complete, then close (drops the
 * lock). With a reactor, it need not run any more: close() takes the ring
 * off it and reaps what is left itself. */
void blk_backend_close(struct blk_backend *b);

/* Queue one request. 0 = accepted (done() follows, never from inside this
 * call); <0 = refused at once, done() is not called: -EROFS (write to a
 * read-only image), -EINVAL (a range past the end, overflowing, or not
 * aligned for cache=none), -ENOMEM. */
int blk_backend_submit(struct blk_backend *b, struct blk_io *io);

/* Plugging, for a device that serves a run of requests at once (one
 * virtqueue kick): blk_backend_queue() accepts a request as
 * blk_backend_submit() does, but may hold it back. blk_backend_unplug()
 * then hands every held request to the kernel in one system call,
 * finishes on the calling thread those the kernel finished inside it (a
 * read the page cache holds): done() for each, then batch_end() once,
 * and leaves only the rest to the reactor or the reaper. So a cached read costs
 * one system call and wakes no other thread on its way to the
 * interrupt. Every run of blk_backend_queue() must end in
 * blk_backend_unplug(), called holding no lock that done() or
 * batch_end() take; until then the held requests do not start. */
int blk_backend_queue(struct blk_backend *b, struct blk_io *io);
void blk_backend_unplug(struct blk_backend *b);

/* Facts about the image, fixed while it is open. */
uint64_t blk_backend_size(const struct blk_backend *b);          /* bytes */
unsigned blk_backend_block_size(const struct blk_backend *b);    /* logical block: 512, or the O_DIRECT alignment */
unsigned blk_backend_physical_block_size(const struct blk_backend *b);
bool blk_backend_readonly(const struct blk_backend *b);
/* snapshot=on: the overlay, for its figures (NULL otherwise). */
struct blk_overlay *blk_backend_overlay(const struct blk_backend *b);
bool blk_backend_is_device(const struct blk_backend *b);         /* a block device, not a file */
enum blk_cache blk_backend_cache(const struct blk_backend *b);
/* "io_uring" or "threads": the engine in use now (a failed ring leaves the threads). */
const char *blk_backend_engine_name(const struct blk_backend *b);
/* Bytes of bounce buffers held now (cache=none), <= BLK_BOUNCE_MAX_BYTES. */
size_t blk_backend_bounce_bytes(struct blk_backend *b);

/* "writeback" / "none" / "unsafe" -> mode; false if unknown. */
bool blk_cache_parse(const char *s, enum blk_cache *out);

#endif
