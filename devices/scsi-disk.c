/* The emulated SCSI disk: what every command uses to answer (status,
 * sense data in fixed or descriptor format, data-in and data-out
 * buffers) and the disk's life cycle. The commands are in
 * scsi-commands.c (dispatch, REPORT LUNS, media commands on the block
 * backend) and scsi-pages.c (INQUIRY and VPD pages, READ CAPACITY, mode
 * pages); both stand on this file. See scsi-disk.h. */
#include "devices/scsi-disk.h"

#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "devices/scsi-disk-internal.h"

/* ---- results ---- */

void scsi_set_sense(struct scsi_cmd *c, uint8_t key, uint16_t asc, bool desc)
{
	c->status = SCSI_CHECK_CONDITION;
	memset(c->sense, 0, sizeof(c->sense));
	if (desc) { /* descriptor format, no descriptors */
		c->sense[0] = 0x72;
		c->sense[1] = key;
		c->sense[2] = (uint8_t)(asc >> 8);
		c->sense[3] = (uint8_t)asc;
		c->sense_len = 8;
	} else { /* fixed format */
		c->sense[0] = 0x70;
		c->sense[2] = key;
		c->sense[7] = 10; /* additional sense length */
		c->sense[12] = (uint8_t)(asc >> 8);
		c->sense[13] = (uint8_t)asc;
		c->sense_len = 18;
	}
}

bool scsi_check(struct scsi_cmd *c, uint8_t key, uint16_t asc)
{
	scsi_set_sense(c, key, asc, c->desc_sense);
	return true;
}

bool scsi_good(struct scsi_cmd *c)
{
	c->status = SCSI_GOOD;
	c->sense_len = 0;
	return true;
}

bool scsi_sense_decode(const uint8_t *sense, unsigned len, uint8_t *key, uint16_t *asc)
{
	if (len >= 4 && (sense[0] & 0x7f) >= 0x72) {
		*key = sense[1] & 0xf;
		*asc = get16(sense + 2);
		return true;
	}
	if (len >= 14 && (sense[0] & 0x7f) >= 0x70) {
		*key = sense[2] & 0xf;
		*asc = get16(sense + 12);
		return true;
	}
	return false;
}

/* Copy up to len bytes of emulated data into the data-in buffers (the
 * allocation length and the buffers' size cut it short). */
bool scsi_reply(struct scsi_cmd *c, const void *data, size_t len, size_t alloc_len)
{
	const uint8_t *src = data;
	size_t left = len < alloc_len ? len : alloc_len;

	c->in_written = 0;
	for (unsigned i = 0; i < c->in_cnt && left; i++) {
		size_t n = c->in[i].iov_len < left ? c->in[i].iov_len : left;
		memcpy(c->in[i].iov_base, src, n);
		src += n;
		left -= n;
		c->in_written += n;
	}
	return scsi_good(c);
}

/* Gather the first len bytes of the data-out buffers (false if short). */
bool scsi_gather(const struct scsi_cmd *c, void *buf, size_t len)
{
	uint8_t *dst = buf;

	for (unsigned i = 0; i < c->out_cnt && len; i++) {
		size_t n = c->out[i].iov_len < len ? c->out[i].iov_len : len;
		memcpy(dst, c->out[i].iov_base, n);
		dst += n;
		len -= n;
	}
	return len == 0;
}


unsigned scsi_cdb_size(uint8_t opcode)
{
	static const unsigned by_group[8] = {6, 10, 10, 0, 16, 12, 0, 0};
	return by_group[opcode >> 5];
}

/* ---- life cycle ---- */

/* FNV-1a over the path, target and LUN: a stable identifier per disk. */
static uint64_t make_naa(const struct scsi_disk_options *opt)
{
	uint64_t h = 0xcbf29ce484222325ull;
	char key[512];

	snprintf(key, sizeof(key), "%s:%s:%u:%u", opt->path, opt->serial ? opt->serial : "", opt->target, opt->lun);
	for (const char *c = key; *c; c++)
		h = (h ^ (uint8_t)*c) * 0x100000001b3ull;
	return 0x3ull << 60 | (h & 0x0fffffffffffffffull); /* NAA 3: locally assigned */
}

int scsi_disk_open(struct scsi_disk **out, const struct scsi_disk_options *opt, char *err, size_t errlen)
{
	struct blk_backend_options bo = {.path = opt->path, .readonly = opt->readonly, .snapshot = opt->snapshot,
					 .cache = opt->cache,
					 .engine = opt->engine, .reactor = opt->reactor, .batch_end = opt->batch_end,
					 .batch_opaque = opt->batch_opaque};
	struct scsi_disk *d = calloc(1, sizeof(*d));
	int ret;

	if (!d)
		return -ENOMEM;
	if ((ret = blk_backend_open(&d->backend, &bo, err, errlen)) < 0) {
		free(d);
		return ret;
	}
	d->block_size = blk_backend_block_size(d->backend);
	d->blocks = blk_backend_size(d->backend) / d->block_size;
	if (d->blocks == 0) {
		snprintf(err, errlen, "%s is smaller than one %u-byte block", opt->path, d->block_size);
		blk_backend_close(d->backend);
		free(d);
		return -EINVAL;
	}
	unsigned pbs = blk_backend_physical_block_size(d->backend);
	d->phys_exp = pbs > d->block_size ? (unsigned)__builtin_ctz(pbs / d->block_size) : 0; /* powers of two */
	d->readonly = opt->readonly;
	d->discard = opt->discard;
	snprintf(d->serial, sizeof(d->serial), "%s", opt->serial ? opt->serial : "");
	d->naa = make_naa(opt);
	d->wce = true;
	pthread_mutex_init(&d->lock, NULL);
	*out = d;
	return 0;
}

void scsi_disk_reset(struct scsi_disk *d)
{
	pthread_mutex_lock(&d->lock);
	d->wce = true;
	d->d_sense = false;
	pthread_mutex_unlock(&d->lock);
}

void scsi_disk_close(struct scsi_disk *d)
{
	if (!d)
		return;
	blk_backend_close(d->backend);
	pthread_mutex_destroy(&d->lock);
	free(d);
}

uint64_t scsi_disk_blocks(const struct scsi_disk *d) { return d->blocks; }
unsigned scsi_disk_block_size(const struct scsi_disk *d) { return d->block_size; }
