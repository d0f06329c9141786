/* The block backend's io_uring, restricted to the operations the backend
 * submits (readv, writev, fsync, and the nop that stops the reaper). An
 * unrestricted ring lets whoever controls a submission queue entry open
 * files, connect sockets and more, past any seccomp filter: the kernel
 * runs those operations on its own workers. */
#ifndef SKIFF_BLOCK_RING_H
#define SKIFF_BLOCK_RING_H

#include <liburing.h>
#include <stdbool.h>

/* io_uring_queue_init() for the block backend: created disabled, given
 * its restrictions (IORING_REGISTER_RESTRICTIONS: those opcodes, no SQE
 * flags, no later io_uring_register() at all), then enabled. 0, or
 * -errno (kernels before 5.10 lack restrictions: the caller falls back to
 * its worker threads rather than run an unrestricted ring). */
int block_ring_init(struct io_uring *ring, unsigned entries);

/* Sleep in the kernel until the completion queue holds an entry: 0, or
 * -errno (-EINTR: woken by a signal). Unlike io_uring_wait_cqe() it
 * reads nothing of the queue in user space, so a queue with two readers
 * (the backend's reaper and its submitters) is read only under the
 * readers' lock. */
int block_ring_wait(struct io_uring *ring);

/* Does the completion queue hold an entry? Reads its two indices only
 * (atomically: a reader may be advancing the head under its lock), for
 * a reactor polling the ring: a hint, the reaping is done under the lock. */
bool block_ring_has_completions(const struct io_uring *ring);

#endif
