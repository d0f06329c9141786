/* The SCSI disk's commands: CDB dispatch, REPORT LUNS and REQUEST SENSE
 * (also for LUNs without a disk), and the media commands on the block
 * backend. What the disk says about itself is in scsi-pages.c; how a
 * command answers (sense, data-in) in scsi-disk.c. */
#include "devices/scsi-disk.h"

#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "devices/scsi-disk-internal.h"

/* ---- iovec helpers for the media commands ---- */

static uint64_t iov_total(const struct iovec *iov, unsigned cnt)
{
	uint64_t n = 0;
	for (unsigned i = 0; i < cnt; i++)
		n += iov[i].iov_len;
	return n;
}


/* Cut an iovec list to exactly len bytes; false if it holds fewer. */
static bool trim_iov(struct iovec *iov, unsigned *cnt, uint64_t len)
{
	unsigned i;

	for (i = 0; i < *cnt && len; i++) {
		if (iov[i].iov_len > len)
			iov[i].iov_len = (size_t)len;
		len -= iov[i].iov_len;
	}
	*cnt = i;
	return len == 0;
}

/* ---- REPORT LUNS, REQUEST SENSE: also for LUNs without a disk ---- */

static bool report_luns(struct scsi_cmd *c)
{
	const uint8_t *cdb = c->cdb;
	uint32_t alloc = get32(cdb + 6);
	uint8_t p[8 + 8 * (SCSI_LUN_MAX + 1)] = {0};
	unsigned n = c->nr_luns <= SCSI_LUN_MAX + 1 ? c->nr_luns : SCSI_LUN_MAX + 1;

	/* SELECT REPORT 0 (all logical units), 1 and 2 (none are well-known) */
	if (cdb[2] > 2 || alloc < 16)
		return scsi_check(c, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
	if (cdb[2] == 1)
		n = 0;
	put32(p, 8 * n);
	for (unsigned i = 0; i < n; i++)
		p[8 + 8 * i + 1] = (uint8_t)c->luns[i]; /* peripheral device addressing, bus 0 */
	return scsi_reply(c, p, 8 + 8 * n, alloc);
}

/* Sense is returned with each CHECK CONDITION (autosense) and nothing is
 * kept for later, so REQUEST SENSE reports NO SENSE (or, on a missing
 * LUN, LOGICAL UNIT NOT SUPPORTED, as SPC-4 asks). */
static bool request_sense(struct scsi_cmd *c, uint8_t key, uint16_t asc)
{
	struct scsi_cmd tmp = {0};

	scsi_set_sense(&tmp, key, asc, c->cdb[1] & 1);
	return scsi_reply(c, tmp.sense, tmp.sense_len, c->cdb[4]);
}

void scsi_no_lun_command(struct scsi_cmd *c)
{
	c->in_written = 0;
	c->overrun = false;
	c->desc_sense = false;
	if (c->cdb_len < 1 || c->cdb_len < scsi_cdb_size(c->cdb[0]) || !scsi_cdb_size(c->cdb[0])) {
		scsi_set_sense(c, SENSE_ILLEGAL_REQUEST, ASC_LUN_NOT_SUPPORTED, false);
		return;
	}
	switch (c->cdb[0]) {
	case 0x12: /* INQUIRY: peripheral qualifier 011b, device type 1Fh */
		if (c->cdb[1] & 1)
			scsi_set_sense(c, SENSE_ILLEGAL_REQUEST, ASC_LUN_NOT_SUPPORTED, false);
		else
			scsi_inquiry_standard(c, 0x7f, get16(c->cdb + 3));
		return;
	case 0xa0:
		report_luns(c);
		return;
	case 0x03:
		request_sense(c, SENSE_ILLEGAL_REQUEST, ASC_LUN_NOT_SUPPORTED);
		return;
	default:
		scsi_set_sense(c, SENSE_ILLEGAL_REQUEST, ASC_LUN_NOT_SUPPORTED, false);
	}
}

/* ---- media commands ---- */

/* Is [lba, lba + n) on the disk? Overflow-safe. */
static bool in_range(const struct scsi_disk *d, uint64_t lba, uint64_t n)
{
	return lba <= d->blocks && n <= d->blocks - lba;
}

static bool io_error(struct scsi_cmd *c, int result, bool write)
{
	if (result == -EROFS)
		return scsi_check(c, SENSE_DATA_PROTECT, ASC_WRITE_PROTECTED);
	if (result == -ENOSPC)
		return scsi_check(c, SENSE_DATA_PROTECT, ASC_SPACE_ALLOC_FAILED);
	return scsi_check(c, SENSE_MEDIUM_ERROR, write ? ASC_WRITE_ERROR : ASC_READ_ERROR);
}

static void io_done(struct blk_io *io, int result);

/* A command's buffer, within the disk's SCSI_DISK_BUFFER_BYTES_MAX. On
 * false the command has its status (TASK SET FULL, or HARDWARE ERROR
 * when memory ran out). */
static bool buffer_get(struct scsi_disk *d, struct scsi_cmd *c, size_t bytes)
{
	bool room;

	pthread_mutex_lock(&d->lock);
	room = bytes <= SCSI_DISK_BUFFER_BYTES_MAX - d->buffer_bytes;
	if (room)
		d->buffer_bytes += bytes;
	pthread_mutex_unlock(&d->lock);
	if (!room) {
		c->status = SCSI_TASK_SET_FULL;
		return false;
	}
	c->bounce = malloc(bytes);
	c->bounce_bytes = c->bounce ? bytes : 0;
	if (c->bounce)
		return true;
	pthread_mutex_lock(&d->lock);
	d->buffer_bytes -= bytes;
	pthread_mutex_unlock(&d->lock);
	scsi_check(c, SENSE_HARDWARE_ERROR, ASC_NONE);
	return false;
}

static void buffer_put(struct scsi_disk *d, struct scsi_cmd *c)
{
	if (!c->bounce)
		return;
	free(c->bounce);
	c->bounce = NULL;
	pthread_mutex_lock(&d->lock);
	d->buffer_bytes -= c->bounce_bytes;
	pthread_mutex_unlock(&d->lock);
	c->bounce_bytes = 0;
}

/* Hand cmd->io to the backend; false = it is in flight. */
static bool submit(struct scsi_disk *d, struct scsi_cmd *c, enum step step)
{
	c->step = step;
	c->io.done = io_done;
	c->io.opaque = c;
	int ret = blk_backend_submit(d->backend, &c->io);
	if (ret == 0)
		return false;
	buffer_put(d, c);
	return io_error(c, ret, c->io.op != BLK_OP_READ);
}

static bool flush(struct scsi_disk *d, struct scsi_cmd *c, uint64_t lba, uint64_t n)
{
	if (!in_range(d, lba, n))
		return scsi_check(c, SENSE_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE);
	c->io = (struct blk_io){.op = BLK_OP_FLUSH};
	return submit(d, c, STEP_IO);
}

static bool read_write(struct scsi_disk *d, struct scsi_cmd *c, bool write, uint64_t lba, uint64_t n, bool fua)
{
	uint64_t bytes = n * d->block_size;

	if (write && d->readonly)
		return scsi_check(c, SENSE_DATA_PROTECT, ASC_WRITE_PROTECTED);
	if (!in_range(d, lba, n))
		return scsi_check(c, SENSE_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE);
	if (n == 0)
		return scsi_good(c);
	if (n > MAX_TRANSFER_BLOCKS)
		return scsi_check(c, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
	struct iovec *iov = write ? c->out : c->in;
	unsigned *cnt = write ? &c->out_cnt : &c->in_cnt;
	if (!trim_iov(iov, cnt, bytes)) {
		c->overrun = true; /* the initiator's buffers are smaller than the transfer */
		return scsi_check(c, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
	}
	pthread_mutex_lock(&d->lock);
	c->fua = write && (fua || !d->wce);
	pthread_mutex_unlock(&d->lock);
	c->io = (struct blk_io){.op = write ? BLK_OP_WRITE : BLK_OP_READ, .offset = lba * d->block_size,
				.iov = iov, .iovcnt = *cnt};
	if (!write)
		c->in_written = bytes;
	return submit(d, c, STEP_IO);
}

static bool is_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

/* The next chunk of a WRITE SAME with a non-zero pattern. */
static bool write_same_next(struct scsi_disk *d, struct scsi_cmd *c)
{
	uint64_t per = PATTERN_BYTES / d->block_size, n = c->blocks < per ? c->blocks : per;

	c->bounce_iov = (struct iovec){.iov_base = c->bounce, .iov_len = (size_t)(n * d->block_size)};
	c->io = (struct blk_io){.op = BLK_OP_WRITE, .offset = c->lba * d->block_size, .iov = &c->bounce_iov,
				.iovcnt = 1};
	c->lba += n;
	c->blocks -= n;
	return submit(d, c, STEP_WRITE_SAME);
}

static bool write_same16(struct scsi_disk *d, struct scsi_cmd *c)
{
	const uint8_t *cdb = c->cdb;
	uint64_t lba = get64(cdb + 2), n = get32(cdb + 10);
	bool unmap = cdb[1] & 0x08;
	uint8_t block[4096];

	if (cdb[1] & 0x07) /* ANCHOR, NDOB (no data-out buffer): not supported */
		return scsi_check(c, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
	if (d->readonly)
		return scsi_check(c, SENSE_DATA_PROTECT, ASC_WRITE_PROTECTED);
	if (!in_range(d, lba, n))
		return scsi_check(c, SENSE_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE);
	if (n > MAX_WRITE_SAME_BLOCKS || d->block_size > sizeof(block))
		return scsi_check(c, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
	if (!scsi_gather(c, block, d->block_size)) {
		c->overrun = true;
		return scsi_check(c, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
	}
	if (n == 0)
		return scsi_good(c); /* SBC: 0 means "to the end"; we report a maximum, so 0 writes nothing */
	if (is_zero(block, d->block_size)) {
		c->io = (struct blk_io){.op = BLK_OP_WRITE_ZEROES, .flags = unmap ? BLK_IO_UNMAP : 0,
					.offset = lba * d->block_size, .len = n * d->block_size};
		return submit(d, c, STEP_IO);
	}
	if (!buffer_get(d, c, PATTERN_BYTES))
		return true;
	for (unsigned off = 0; off < PATTERN_BYTES; off += d->block_size)
		memcpy(c->bounce + off, block, d->block_size);
	c->lba = lba;
	c->blocks = n;
	return write_same_next(d, c);
}

static bool unmap(struct scsi_disk *d, struct scsi_cmd *c)
{
	size_t len = get16(c->cdb + 7);
	uint8_t p[8 + 16];

	if (c->cdb[1] & 0x01) /* ANCHOR */
		return scsi_check(c, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
	if (d->readonly)
		return scsi_check(c, SENSE_DATA_PROTECT, ASC_WRITE_PROTECTED);
	if (len == 0)
		return scsi_good(c);
	if (len < 8)
		return scsi_check(c, SENSE_ILLEGAL_REQUEST, ASC_PARAM_LIST_LENGTH);
	if (!scsi_gather(c, p, len < sizeof(p) ? len : sizeof(p))) {
		c->overrun = true;
		return scsi_check(c, SENSE_ILLEGAL_REQUEST, ASC_PARAM_LIST_LENGTH);
	}
	size_t descs = get16(p + 2);
	if (descs == 0)
		return scsi_good(c);
	/* One descriptor at most (the block limits page says so). */
	if (descs != 16 || len < sizeof(p) || get16(p) < 6 + 16)
		return scsi_check(c, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_PARAMS);
	uint64_t lba = get64(p + 8), n = get32(p + 16);
	if (!in_range(d, lba, n))
		return scsi_check(c, SENSE_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE);
	if (n > MAX_UNMAP_BLOCKS)
		return scsi_check(c, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_PARAMS);
	if (n == 0)
		return scsi_good(c);
	c->io = (struct blk_io){.op = BLK_OP_DISCARD, .offset = lba * d->block_size, .len = n * d->block_size};
	return submit(d, c, STEP_DISCARD);
}

/* VERIFY: BYTCHK=0 checks the range only (the medium has nothing more to
 * check); BYTCHK=1 reads the blocks and compares them with the data-out
 * buffer. */
static bool verify(struct scsi_disk *d, struct scsi_cmd *c, uint64_t lba, uint64_t n)
{
	uint8_t bytchk = (c->cdb[1] >> 1) & 3;
	uint64_t bytes = n * d->block_size;

	if (bytchk > 1)
		return scsi_check(c, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
	if (!in_range(d, lba, n))
		return scsi_check(c, SENSE_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE);
	if (!bytchk || n == 0)
		return scsi_good(c);
	if (bytes > MAX_VERIFY_BYTES)
		return scsi_check(c, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
	if (iov_total(c->out, c->out_cnt) < bytes) {
		c->overrun = true;
		return scsi_check(c, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
	}
	if (!buffer_get(d, c, (size_t)bytes))
		return true;
	c->blocks = n;
	c->bounce_iov = (struct iovec){.iov_base = c->bounce, .iov_len = (size_t)bytes};
	c->io = (struct blk_io){.op = BLK_OP_READ, .offset = lba * d->block_size, .iov = &c->bounce_iov, .iovcnt = 1};
	return submit(d, c, STEP_VERIFY);
}

/* A backend thread: one step of a media command finished. */
static void io_done(struct blk_io *io, int result)
{
	struct scsi_cmd *c = io->opaque;
	struct scsi_disk *d = c->disk;

	if (result == -EOPNOTSUPP && c->step == STEP_DISCARD)
		result = 0; /* the image cannot deallocate: UNMAP is a hint */
	if (result < 0) {
		log_debug("scsi-disk", "%s at %llu failed: %s", io->op == BLK_OP_READ ? "read" : "I/O",
			  (unsigned long long)io->offset, strerror(-result));
		buffer_put(d, c);
		if (io->op == BLK_OP_READ)
			c->in_written = 0;
		io_error(c, result, io->op != BLK_OP_READ);
		c->done(c);
		return;
	}
	switch (c->step) {
	case STEP_IO:
		if (c->fua && io->op == BLK_OP_WRITE) {
			/* FUA or write-through: complete once it is stable. */
			c->io = (struct blk_io){.op = BLK_OP_FLUSH};
			if (!submit(d, c, STEP_FLUSH_AFTER))
				return;
			break;
		}
		scsi_good(c);
		break;
	case STEP_WRITE_SAME:
		if (c->blocks) {
			if (!write_same_next(d, c))
				return;
			break; /* refused: the sense is set and the pattern freed */
		}
		buffer_put(d, c);
		scsi_good(c);
		break;
	case STEP_VERIFY: {
		uint8_t *disk = c->bounce;
		uint64_t left = c->blocks * d->block_size;
		bool same = true;
		for (unsigned i = 0; i < c->out_cnt && left && same; i++) {
			size_t n = c->out[i].iov_len < left ? c->out[i].iov_len : (size_t)left;
			same = memcmp(disk, c->out[i].iov_base, n) == 0;
			disk += n;
			left -= n;
		}
		buffer_put(d, c);
		if (same)
			scsi_good(c);
		else
			scsi_check(c, SENSE_MISCOMPARE, ASC_MISCOMPARE_VERIFY);
		break;
	}
	default: /* STEP_FLUSH_AFTER, STEP_DISCARD */
		scsi_good(c);
	}
	c->done(c);
}

/* ---- dispatch ---- */

bool scsi_disk_command(struct scsi_disk *d, struct scsi_cmd *c)
{
	const uint8_t *cdb = c->cdb;

	c->disk = d;
	c->in_written = 0;
	c->overrun = false;
	c->bounce = NULL;
	c->bounce_bytes = 0;
	c->status = SCSI_GOOD;
	c->sense_len = 0;
	pthread_mutex_lock(&d->lock);
	c->desc_sense = d->d_sense;
	pthread_mutex_unlock(&d->lock);
	if (c->cdb_len < 1)
		return scsi_check(c, SENSE_ILLEGAL_REQUEST, ASC_INVALID_OPCODE);
	unsigned size = scsi_cdb_size(cdb[0]);
	if (!size)
		return scsi_check(c, SENSE_ILLEGAL_REQUEST, ASC_INVALID_OPCODE);
	if (c->cdb_len < size)
		return scsi_check(c, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
	if (cdb[size - 1] & 0x07) /* control byte: NACA and LINK are not supported */
		return scsi_check(c, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);

	switch (cdb[0]) {
	case 0x00: /* TEST UNIT READY */
		return scsi_good(c);
	case 0x03: /* REQUEST SENSE */
		return request_sense(c, SENSE_NO_SENSE, ASC_NONE);
	case 0x12:
		return scsi_inquiry(d, c);
	case 0xa0:
		return report_luns(c);
	case 0x25: /* READ CAPACITY(10) */
		return scsi_read_capacity10(d, c);
	case 0x9e:
		return scsi_service_action_in(d, c);
	case 0x1a: case 0x5a:
		return scsi_mode_sense(d, c);
	case 0x15: case 0x55:
		return scsi_mode_select(d, c);
	case 0x1b: /* START STOP UNIT: nothing to spin; no medium to eject */
		if (cdb[4] & 0x02)
			return scsi_check(c, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
		return scsi_good(c);
	case 0x08: case 0x0a: { /* READ(6), WRITE(6): 21-bit LBA, 0 blocks means 256 */
		uint64_t lba = get24(cdb + 1) & 0x1fffff, n = cdb[4] ? cdb[4] : 256;
		return read_write(d, c, cdb[0] == 0x0a, lba, n, false);
	}
	case 0x28: case 0x2a: /* READ(10), WRITE(10) */
		return read_write(d, c, cdb[0] == 0x2a, get32(cdb + 2), get16(cdb + 7), cdb[1] & 0x08);
	case 0xa8: case 0xaa: /* READ(12), WRITE(12) */
		return read_write(d, c, cdb[0] == 0xaa, get32(cdb + 2), get32(cdb + 6), cdb[1] & 0x08);
	case 0x88: case 0x8a: /* READ(16), WRITE(16) */
		return read_write(d, c, cdb[0] == 0x8a, get64(cdb + 2), get32(cdb + 10), cdb[1] & 0x08);
	case 0x2f: /* VERIFY(10) */
		return verify(d, c, get32(cdb + 2), get16(cdb + 7));
	case 0x8f: /* VERIFY(16) */
		return verify(d, c, get64(cdb + 2), get32(cdb + 10));
	case 0x35: /* SYNCHRONIZE CACHE(10) */
		return flush(d, c, get32(cdb + 2), get16(cdb + 7));
	case 0x91: /* SYNCHRONIZE CACHE(16) */
		return flush(d, c, get64(cdb + 2), get32(cdb + 10));
	case 0x93: /* WRITE SAME(16) */
		if (!d->discard)
			break;
		return write_same16(d, c);
	case 0x42: /* UNMAP */
		if (!d->discard)
			break;
		return unmap(d, c);
	}
	return scsi_check(c, SENSE_ILLEGAL_REQUEST, ASC_INVALID_OPCODE);
}
