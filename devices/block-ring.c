/* See block-ring.h. */
#include "devices/block-ring.h"

#include <errno.h>
#include <sys/syscall.h>
#include <unistd.h>

static const struct io_uring_restriction block_ring_restrictions[] = {
	{.opcode = IORING_RESTRICTION_SQE_OP, .sqe_op = IORING_OP_READV},
	{.opcode = IORING_RESTRICTION_SQE_OP, .sqe_op = IORING_OP_WRITEV},
	{.opcode = IORING_RESTRICTION_SQE_OP, .sqe_op = IORING_OP_FSYNC},
	{.opcode = IORING_RESTRICTION_SQE_OP, .sqe_op = IORING_OP_NOP},
	/* No IOSQE_* flag: no linked chains, no fixed files, no buffer selection. */
	{.opcode = IORING_RESTRICTION_SQE_FLAGS_ALLOWED, .sqe_flags = 0},
};

/* The system call itself: liburing 2.3 (Debian 12) declares
 * io_uring_register_restrictions() and io_uring_enable_rings() but its
 * shared library does not export them. */
static int ring_register(struct io_uring *ring, unsigned opcode, const void *arg, unsigned nr_args)
{
	return syscall(__NR_io_uring_register, ring->ring_fd, opcode, arg, nr_args) < 0 ? -errno : 0;
}

int block_ring_init(struct io_uring *ring, unsigned entries)
{
	int ret = io_uring_queue_init(entries, ring, IORING_SETUP_R_DISABLED);

	if (ret < 0)
		return ret;
	ret = ring_register(ring, IORING_REGISTER_RESTRICTIONS, block_ring_restrictions,
			    sizeof(block_ring_restrictions) / sizeof(block_ring_restrictions[0]));
	if (ret == 0)
		ret = ring_register(ring, IORING_REGISTER_ENABLE_RINGS, NULL, 0);
	if (ret < 0)
		io_uring_queue_exit(ring);
	return ret;
}

int block_ring_wait(struct io_uring *ring)
{
	return syscall(__NR_io_uring_enter, ring->ring_fd, 0, 1, IORING_ENTER_GETEVENTS, NULL, 0) < 0 ? -errno : 0;
}

bool block_ring_has_completions(const struct io_uring *ring)
{
	return __atomic_load_n(ring->cq.ktail, __ATOMIC_ACQUIRE) != __atomic_load_n(ring->cq.khead, __ATOMIC_RELAXED);
}
