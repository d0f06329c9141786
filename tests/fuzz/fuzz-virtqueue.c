/* libFuzzer target for the virtqueue engine (virtqueue/virtqueue.c, virtqueue/chain.c).
 *
 * The input is a hostile guest: its first bytes choose the queue
 * (size, split or packed, features, where the rings are), the rest is
 * copied into a small fake guest RAM holding the rings, descriptors and
 * data. The target then plays device: vq_pop / vq_chain_read /
 * vq_chain_write / vq_push until the ring is empty or broken, and checks
 * that every segment the engine hands out really is guest RAM.
 * Build and run: see tests/fuzz/README. Not part of "make check". */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "virtqueue/virtqueue.h"
#include "base/log.h"

#define RAM_GPA   0x10000ull
#define RAM_SIZE  (16u << 10)
#define RAM2_GPA  0x100000ull   /* a second, smaller region */
#define RAM2_SIZE (4u << 10)
#define MAX_ROUNDS 512

static uint8_t ram[RAM_SIZE] __attribute__((aligned(4096)));
static uint8_t ram2[RAM2_SIZE] __attribute__((aligned(4096)));
static uint8_t scratch[4096];

/* Input header. */
struct config {
	uint8_t size;     /* split: 1 << (size % 8); packed: 1 + size % 128 */
	uint8_t flags;    /* see F_* */
	uint16_t desc, avail, used; /* ring offsets in RAM unless F_FIXED_LAYOUT */
} __attribute__((packed));

#define F_PACKED       0x01
#define F_EVENT_IDX    0x02
#define F_INDIRECT     0x04
#define F_UNPOP        0x08
#define F_FIXED_LAYOUT 0x10
#define F_POLL         0x20 /* toggle vq_enable_notify */

static void check_segs(const struct guest_mem *mem, const struct vq_seg *segs, unsigned n, uint64_t total)
{
	uint64_t sum = 0;

	if (n > VQ_MAX_SEGS)
		abort();
	for (unsigned i = 0; i < n; i++) {
		if (segs[i].len == 0 || !guest_mem_ptr(mem, segs[i].addr, segs[i].len))
			abort();
		sum += segs[i].len;
	}
	if (sum != total)
		abort();
}

/* Read all out bytes and fill all in bytes, in scratch-sized pieces. */
static uint32_t serve(const struct virtqueue *vq, const struct vq_chain *c)
{
	size_t off;

	for (off = 0; off < c->out_bytes; off += sizeof(scratch))
		if (vq_chain_read(vq, c, off, scratch, sizeof(scratch)) == 0)
			abort();
	memset(scratch, 0xee, sizeof(scratch));
	for (off = 0; off < c->in_bytes; off += sizeof(scratch))
		if (vq_chain_write(vq, c, off, scratch, sizeof(scratch)) == 0)
			abort();
	/* Claim a little less than written, or (when that underflows) far
	 * more, which vq_push() must clamp. */
	return (uint32_t)(c->in_bytes ? c->in_bytes - c->id % 3 : 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct guest_mem mem;
	static struct virtqueue vq;
	static struct vq_chain chain;
	struct config cfg;
	size_t n;

	if (size < sizeof(cfg))
		return 0;
	log_threshold = LOG_ERROR; /* breaking the queue is the common case here */
	memcpy(&cfg, data, sizeof(cfg));
	data += sizeof(cfg);
	size -= sizeof(cfg);

	memset(ram, 0, sizeof(ram));
	memset(ram2, 0, sizeof(ram2));
	n = size < RAM_SIZE ? size : RAM_SIZE;
	memcpy(ram, data, n);
	if (size > n)
		memcpy(ram2, data + n, size - n < RAM2_SIZE ? size - n : RAM2_SIZE);
	mem.region[0] = (struct guest_region){ .gpa = RAM_GPA, .size = RAM_SIZE, .host = ram };
	mem.region[1] = (struct guest_region){ .gpa = RAM2_GPA, .size = RAM2_SIZE, .host = ram2 };
	mem.nr_regions = 2;

	memset(&vq, 0, sizeof(vq));
	vq.mem = &mem;
	vq.name = "fuzz.q0";
	vq.packed = cfg.flags & F_PACKED;
	vq.event_idx = cfg.flags & F_EVENT_IDX;
	vq.indirect = cfg.flags & F_INDIRECT;
	vq.size = vq.packed ? 1 + cfg.size % 128 : 1u << (cfg.size % 8);
	if (cfg.flags & F_FIXED_LAYOUT) {
		vq.desc_addr = RAM_GPA;
		vq.avail_addr = RAM_GPA + 16ull * vq.size;
		vq.used_addr = (vq.avail_addr + 6 + 2ull * vq.size + 3) & ~3ull;
	} else {
		vq.desc_addr = RAM_GPA + cfg.desc;
		vq.avail_addr = RAM_GPA + cfg.avail;
		vq.used_addr = RAM_GPA + cfg.used;
	}
	if (vq_enable(&vq) < 0) {
		if (vq_pop(&vq, &chain) != -EIO)
			abort();
		return 0;
	}

	for (unsigned round = 0; round < MAX_ROUNDS; round++) {
		int ret = vq_pop(&vq, &chain);

		if (ret < 0) {
			if (!vq.broken || vq_pop(&vq, &chain) != -EIO)
				abort();
			break;
		}
		if (ret == 0) {
			if (!(cfg.flags & F_POLL) || !vq_enable_notify(&vq, round & 1))
				break;
			continue;
		}
		check_segs(&mem, chain.out, chain.nout, chain.out_bytes);
		check_segs(&mem, chain.in, chain.nin, chain.in_bytes);
		if (chain.ndesc == 0 || chain.ndesc > vq.size || chain.id >= vq.size)
			abort();
		if ((cfg.flags & F_UNPOP) && (round & 1)) {
			uint16_t id = chain.id;

			vq_unpop(&vq, &chain);
			if (vq_pop(&vq, &chain) != 1 || chain.id != id)
				abort(); /* the same chain again: RAM did not change */
		}
		vq_push(&vq, &chain, serve(&vq, &chain));
		if (round % 4 == 3)
			vq_needs_interrupt(&vq);
	}
	vq_needs_interrupt(&vq);
	return 0;
}
