/* Parsing virtio-blk requests: see virtio-blk-request.h. */
#include "devices/virtio-blk-request.h"

#include <endian.h>
#include <string.h>

#define SECTOR     512u
#define HEADER_LEN sizeof(struct virtio_blk_outhdr)               /* 16 */
#define RANGE_LEN  sizeof(struct virtio_blk_discard_write_zeroes) /* 16 */

static void plan_status(struct virtio_blk_plan *plan, uint8_t status)
{
	plan->action = BLK_ACTION_STATUS;
	plan->status = status;
}

/* Is [sector, sector + bytes/512) inside the disk? Overflow-safe. */
static bool range_ok(const struct virtio_blk_limits *lim, uint64_t sector, uint64_t bytes)
{
	uint64_t sectors = bytes / SECTOR;
	return sector <= lim->capacity && sectors <= lim->capacity - sector;
}

/* DISCARD / WRITE_ZEROES: exactly one range segment (max_*_seg = 1). */
static void parse_range(const struct virtio_blk_limits *lim, const struct virtio_request *req,
			struct virtio_blk_plan *plan)
{
	struct virtio_blk_discard_write_zeroes seg;
	uint64_t out_bytes = virtio_request_readable(req), in_bytes = virtio_request_writable(req);
	bool zeroes = plan->type == VIRTIO_BLK_T_WRITE_ZEROES;

	if (!(zeroes ? lim->write_zeroes : lim->discard))
		return plan_status(plan, VIRTIO_BLK_S_UNSUPP);
	if (out_bytes != HEADER_LEN + RANGE_LEN || in_bytes != 1)
		return plan_status(plan, VIRTIO_BLK_S_IOERR);
	if (virtio_request_read(req, HEADER_LEN, &seg, sizeof(seg)) != sizeof(seg))
		return plan_status(plan, VIRTIO_BLK_S_IOERR);
	uint64_t sector = le64toh(seg.sector);
	uint32_t sectors = le32toh(seg.num_sectors), flags = le32toh(seg.flags);
	/* Unknown flags, or unmap on a discard: the spec says UNSUPP. */
	if ((flags & ~(uint32_t)VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP) || (!zeroes && flags))
		return plan_status(plan, VIRTIO_BLK_S_UNSUPP);
	if (sectors == 0 || sectors > VIRTIO_BLK_MAX_DISCARD_SECTORS || lim->readonly ||
	    !range_ok(lim, sector, (uint64_t)sectors * SECTOR))
		return plan_status(plan, VIRTIO_BLK_S_IOERR);
	if ((sector * SECTOR | (uint64_t)sectors * SECTOR) & (lim->block_size - 1))
		return plan_status(plan, VIRTIO_BLK_S_IOERR);
	plan->action = BLK_ACTION_IO;
	plan->op = zeroes ? BLK_OP_WRITE_ZEROES : BLK_OP_DISCARD;
	plan->flags = (flags & VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP) ? BLK_IO_UNMAP : 0;
	plan->offset = sector * SECTOR;
	plan->len = (uint64_t)sectors * SECTOR;
}

/* Do the data bytes [off, off + len) of these buffers keep to size_max
 * and seg_max? Only bytes of data count: a buffer holding the header or
 * the status besides data counts with its data part. Buffers of no data
 * bytes are not segments. Linux never sends more (they are its
 * max_segment_size and max_segments); a guest that does could make one
 * request of 256 overlapping 4 GiB buffers. */
static bool segments_ok(const struct virtio_blk_limits *lim, const struct virtio_request *req, bool writable,
			uint64_t off, uint64_t len)
{
	unsigned count = 0, nbufs = virtio_request_nbufs(req, writable);

	for (unsigned i = 0; i < nbufs && len; i++) {
		uint64_t part = virtio_request_buf_len(req, writable, i);
		if (off >= part) {
			off -= part;
			continue;
		}
		part -= off;
		off = 0;
		if (part > len)
			part = len;
		if (part > lim->size_max || ++count > lim->seg_max)
			return false;
		len -= part;
	}
	return true;
}

/* IN / OUT: whole blocks, inside the disk, within size_max and seg_max. */
static void parse_rw(const struct virtio_blk_limits *lim, const struct virtio_request *req, uint64_t sector,
		     struct virtio_blk_plan *plan)
{
	bool write = plan->type == VIRTIO_BLK_T_OUT;
	uint64_t out_bytes = virtio_request_readable(req), in_bytes = virtio_request_writable(req);
	/* Reads: the header alone is readable; writes: one writable byte, the status. */
	uint64_t data = write ? out_bytes - HEADER_LEN : in_bytes - 1;

	if (write ? in_bytes != 1 : out_bytes != HEADER_LEN)
		return plan_status(plan, VIRTIO_BLK_S_IOERR);
	if (write && lim->readonly)
		return plan_status(plan, VIRTIO_BLK_S_IOERR);
	if (data % lim->block_size || (sector * SECTOR) % lim->block_size || !range_ok(lim, sector, data))
		return plan_status(plan, VIRTIO_BLK_S_IOERR);
	if (write ? !segments_ok(lim, req, false, HEADER_LEN, data) : !segments_ok(lim, req, true, 0, data))
		return plan_status(plan, VIRTIO_BLK_S_IOERR);
	plan->action = BLK_ACTION_IO;
	plan->op = write ? BLK_OP_WRITE : BLK_OP_READ;
	plan->offset = sector * SECTOR;
	plan->len = plan->data_len = data;
	plan->data_off = write ? HEADER_LEN : 0;
}

void virtio_blk_parse(const struct virtio_blk_limits *lim, const struct virtio_request *req, struct virtio_blk_plan *plan)
{
	struct virtio_blk_outhdr hdr;
	uint64_t out_bytes = virtio_request_readable(req), in_bytes = virtio_request_writable(req);

	memset(plan, 0, sizeof(*plan));
	/* The status byte is the last device-writable byte. Without one,
	 * nothing can be answered: a driver bug, not an I/O error. */
	if (in_bytes == 0) {
		plan->action = BLK_ACTION_BROKEN;
		return;
	}
	plan->status_off = in_bytes - 1;
	if (out_bytes < HEADER_LEN || virtio_request_read(req, 0, &hdr, sizeof(hdr)) != sizeof(hdr))
		return plan_status(plan, VIRTIO_BLK_S_IOERR);
	plan->type = le32toh(hdr.type);
	uint64_t sector = le64toh(hdr.sector);

	switch (plan->type) {
	case VIRTIO_BLK_T_IN:
	case VIRTIO_BLK_T_OUT:
		return parse_rw(lim, req, sector, plan);
	case VIRTIO_BLK_T_FLUSH:
		if (out_bytes != HEADER_LEN || in_bytes != 1)
			return plan_status(plan, VIRTIO_BLK_S_IOERR);
		plan->action = BLK_ACTION_IO;
		plan->op = BLK_OP_FLUSH;
		return;
	case VIRTIO_BLK_T_GET_ID:
		if (out_bytes != HEADER_LEN)
			return plan_status(plan, VIRTIO_BLK_S_IOERR);
		plan->action = BLK_ACTION_GET_ID;
		plan->data_len = in_bytes - 1 < VIRTIO_BLK_ID_BYTES ? in_bytes - 1 : VIRTIO_BLK_ID_BYTES;
		return;
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES:
		return parse_range(lim, req, plan);
	default: /* SCSI passthrough, secure erase, zoned, lifetime, unknown */
		return plan_status(plan, VIRTIO_BLK_S_UNSUPP);
	}
}
