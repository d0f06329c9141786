/* libFuzzer target for the virtio-blk request parser
 * (devices/virtio-blk-request.c).
 *
 * The input is a hostile driver: its first bytes choose the disk (size,
 * block size, read-only, discard, write-zeroes) and the chain's shape (how
 * many device-readable and device-writable segments, each one's length
 * and place), the rest is copied into a small fake guest RAM that holds
 * the header, range segment and data. The chain is built as the engine
 * would hand it out (every segment inside guest RAM); the target then
 * parses it and aborts if the plan would make the device touch anything
 * outside the disk or outside the chain, or answer without a status byte.
 * Build and run: see tests/fuzz/README. Not part of "make check". */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "devices/virtio-blk-request.h"
#include "virtio/virtio-device.h"

#define RAM_GPA  0x10000ull
#define RAM_SIZE (8u << 10)
#define MAX_SEGS 8

static uint8_t ram[RAM_SIZE] __attribute__((aligned(4096)));

/* Input header. */
struct shape {
	uint8_t disk;       /* capacity: 1 << (disk % 40) sectors, or 0 when disk == 255 */
	uint8_t flags;      /* bit 0 read-only, 1 discard, 2 write-zeroes, 3 4 KiB blocks,
			     * 4-5 seg_max - 1, 6-7 size_max = 512 << n */
	uint8_t nout, nin;  /* segments: % (MAX_SEGS + 1) */
	uint16_t seg[2 * MAX_SEGS][2]; /* offset and length in RAM of each segment */
} __attribute__((packed));

static void add_segs(struct vq_seg *segs, unsigned *n, uint64_t *bytes, const uint16_t (*src)[2], unsigned count)
{
	for (unsigned i = 0; i < count; i++) {
		uint32_t off = src[i][0] % RAM_SIZE, len = src[i][1] % (RAM_SIZE - off);
		if (len == 0)
			continue; /* the engine never hands out empty segments */
		segs[*n] = (struct vq_seg){.addr = RAM_GPA + off, .len = len};
		(*n)++;
		*bytes += len;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct guest_mem mem;
	static struct virtio_device dev;
	static struct virtio_request req = {.dev = &dev};
	struct vq_chain *chain = &req.chain;
	struct virtio_blk_plan plan;
	struct shape s;

	if (size < sizeof(s))
		return 0;
	memcpy(&s, data, sizeof(s));
	memset(ram, 0, sizeof(ram));
	memcpy(ram, data + sizeof(s), size - sizeof(s) < RAM_SIZE ? size - sizeof(s) : RAM_SIZE);
	mem = (struct guest_mem){.region = {{.gpa = RAM_GPA, .size = RAM_SIZE, .host = ram}}, .nr_regions = 1};
	dev.vqs[0] = (struct virtqueue){.mem = &mem, .name = "fuzz"};

	struct virtio_blk_limits lim = {
		.capacity = s.disk == 255 ? 0 : 1ull << (s.disk % 40),
		.block_size = (s.flags & 8) ? 4096 : 512,
		.seg_max = 1 + ((s.flags >> 4) & 3),
		.size_max = 512u << ((s.flags >> 6) & 3),
		.readonly = s.flags & 1,
		.discard = s.flags & 2,
		.write_zeroes = s.flags & 4,
	};
	memset(chain, 0, sizeof(*chain));
	add_segs(chain->out, &chain->nout, &chain->out_bytes, s.seg, s.nout % (MAX_SEGS + 1));
	add_segs(chain->in, &chain->nin, &chain->in_bytes, s.seg + MAX_SEGS, s.nin % (MAX_SEGS + 1));

	virtio_blk_parse(&lim, &req, &plan);

	uint64_t disk_bytes = lim.capacity * 512;
	if ((plan.action == BLK_ACTION_BROKEN) != (chain->in_bytes == 0))
		abort(); /* answered without a status byte, or refused one it had */
	if (plan.action == BLK_ACTION_BROKEN)
		return 0;
	if (plan.status_off != chain->in_bytes - 1)
		abort();
	switch (plan.action) {
	case BLK_ACTION_IO:
		if (plan.op != BLK_OP_FLUSH && (plan.len > disk_bytes || plan.offset > disk_bytes - plan.len))
			abort(); /* outside the disk */
		if ((plan.op == BLK_OP_READ || plan.op == BLK_OP_WRITE) &&
		    (plan.len % lim.block_size || plan.offset % lim.block_size || plan.data_len != plan.len))
			abort();
		if ((plan.op == BLK_OP_READ || plan.op == BLK_OP_WRITE) &&
		    plan.len > (uint64_t)lim.seg_max * lim.size_max)
			abort(); /* past the advertised seg_max x size_max */
		if (plan.op == BLK_OP_READ && plan.data_off + plan.data_len > chain->in_bytes - 1)
			abort(); /* data would overwrite the status byte */
		if (plan.op == BLK_OP_WRITE && plan.data_off + plan.data_len > chain->out_bytes)
			abort();
		if (plan.op != BLK_OP_READ && plan.op != BLK_OP_FLUSH && lim.readonly)
			abort(); /* a write to a read-only disk */
		if ((plan.op == BLK_OP_DISCARD && !lim.discard) || (plan.op == BLK_OP_WRITE_ZEROES && !lim.write_zeroes))
			abort(); /* a command that was not offered */
		break;
	case BLK_ACTION_GET_ID:
		if (plan.data_len > 20 || plan.data_len > chain->in_bytes - 1)
			abort();
		break;
	case BLK_ACTION_STATUS:
		if (plan.status != 1 && plan.status != 2) /* IOERR, UNSUPP */
			abort();
		break;
	default:
		abort();
	}
	return 0;
}
