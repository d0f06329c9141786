/* What the emulated SCSI disk says about itself: INQUIRY and its VPD
 * pages, READ CAPACITY and GET LBA STATUS, MODE SENSE and MODE SELECT
 * (caching and control pages). CDB dispatch and media commands are in
 * scsi-commands.c. See scsi-disk.h. */
#include "devices/scsi-disk.h"

#include <stdio.h>
#include <string.h>

#include "devices/scsi-disk-internal.h"

/* ---- INQUIRY ---- */

bool scsi_inquiry_standard(struct scsi_cmd *c, uint8_t qualifier_type, size_t alloc)
{
	uint8_t d[36] = {0};

	d[0] = qualifier_type;
	d[2] = 0x06;            /* SPC-4 */
	d[3] = 0x12;            /* HISUP, response data format 2 */
	d[4] = sizeof(d) - 5;   /* additional length */
	d[7] = 0x02;            /* CMDQUE: tagged queueing */
	memcpy(d + 8, VENDOR, 8);
	memcpy(d + 16, PRODUCT, 16);
	memcpy(d + 32, REVISION, 4);
	return scsi_reply(c, d, sizeof(d), alloc);
}

static size_t vpd_supported(const struct scsi_disk *d, uint8_t *p)
{
	size_t n = 4;

	p[n++] = 0x00;
	if (d->serial[0])
		p[n++] = 0x80;
	p[n++] = 0x83;
	p[n++] = 0xb0;
	p[n++] = 0xb1;
	p[n++] = 0xb2;
	return n;
}

static size_t vpd_serial(const struct scsi_disk *d, uint8_t *p)
{
	size_t len = strlen(d->serial);
	memcpy(p + 4, d->serial, len);
	return 4 + len;
}

/* Device identification: an NAA locally assigned identifier, and a T10
 * vendor ID (vendor + serial, or the NAA in hex without a serial). */
static size_t vpd_device_id(const struct scsi_disk *d, uint8_t *p)
{
	size_t n = 4;

	p[n++] = 0x01; /* binary code set, association LU */
	p[n++] = 0x03; /* NAA */
	p[n++] = 0;
	p[n++] = 8;
	put64(p + n, d->naa);
	n += 8;

	char id[8 + SCSI_SERIAL_MAX + 1];
	if (d->serial[0])
		snprintf(id, sizeof(id), "%s%s", VENDOR, d->serial);
	else
		snprintf(id, sizeof(id), "%s%016llx", VENDOR, (unsigned long long)d->naa);
	size_t len = strlen(id);
	p[n++] = 0x02; /* ASCII */
	p[n++] = 0x01; /* T10 vendor ID */
	p[n++] = 0;
	p[n++] = (uint8_t)len;
	memcpy(p + n, id, len);
	return n + len;
}

static size_t vpd_block_limits(const struct scsi_disk *d, uint8_t *p)
{
	unsigned phys = 1u << d->phys_exp;

	put16(p + 6, (uint16_t)phys);      /* optimal transfer length granularity */
	put32(p + 8, MAX_TRANSFER_BLOCKS); /* maximum transfer length */
	put32(p + 12, MAX_TRANSFER_BLOCKS / 4); /* optimal transfer length */
	if (d->discard) {
		put32(p + 20, MAX_UNMAP_BLOCKS); /* maximum unmap LBA count */
		put32(p + 24, 1);                /* maximum unmap block descriptor count */
		put32(p + 28, phys);             /* optimal unmap granularity */
		put64(p + 36, MAX_WRITE_SAME_BLOCKS);
	}
	return 64;
}

static size_t vpd_characteristics(const struct scsi_disk *d, uint8_t *p)
{
	put16(p + 4, 1); /* medium rotation rate: non-rotating */
	p[8] = 0;        /* form factor not reported */
	return 64;
}

static size_t vpd_provisioning(const struct scsi_disk *d, uint8_t *p)
{
	if (d->discard) {
		p[5] = 0x80 | 0x40; /* LBPU: UNMAP, LBPWS: WRITE SAME(16) with UNMAP */
		p[6] = 0x02;        /* thin provisioned */
	}
	return 8;
}

bool scsi_inquiry(struct scsi_disk *d, struct scsi_cmd *c)
{
	const uint8_t *cdb = c->cdb;
	size_t alloc = get16(cdb + 3);
	uint8_t p[256] = {0};
	size_t len;

	if (!(cdb[1] & 1)) {
		if (cdb[2])
			return scsi_check(c, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
		return scsi_inquiry_standard(c, 0x00, alloc); /* connected, direct access block device */
	}
	switch (cdb[2]) {
	case 0x00: len = vpd_supported(d, p); break;
	case 0x80: len = d->serial[0] ? vpd_serial(d, p) : 0; break;
	case 0x83: len = vpd_device_id(d, p); break;
	case 0xb0: len = vpd_block_limits(d, p); break;
	case 0xb1: len = vpd_characteristics(d, p); break;
	case 0xb2: len = vpd_provisioning(d, p); break;
	default: len = 0;
	}
	if (!len)
		return scsi_check(c, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
	p[1] = cdb[2];
	put16(p + 2, (uint16_t)(len - 4));
	return scsi_reply(c, p, len, alloc);
}


/* ---- READ CAPACITY, GET LBA STATUS ---- */

bool scsi_read_capacity10(struct scsi_disk *d, struct scsi_cmd *c)
{
	uint8_t p[8];
	uint64_t last = d->blocks - 1;

	put32(p, last > 0xffffffffu ? 0xffffffffu : (uint32_t)last); /* FFFFFFFFh: ask READ CAPACITY(16) */
	put32(p + 4, d->block_size);
	return scsi_reply(c, p, sizeof(p), sizeof(p));
}

static bool read_capacity16(struct scsi_disk *d, struct scsi_cmd *c)
{
	uint8_t p[32] = {0};

	put64(p, d->blocks - 1);
	put32(p + 8, d->block_size);
	p[13] = (uint8_t)d->phys_exp;
	if (d->discard)
		p[14] = 0x80; /* LBPME: logical block provisioning management enabled */
	return scsi_reply(c, p, sizeof(p), get32(c->cdb + 10));
}

/* One descriptor: everything from the LBA on is "mapped or unknown" --
 * the backend does not say which ranges are holes, and that answer is
 * always true. */
static bool get_lba_status(struct scsi_disk *d, struct scsi_cmd *c)
{
	uint64_t lba = get64(c->cdb + 2);
	uint8_t p[24] = {0};

	if (lba >= d->blocks)
		return scsi_check(c, SENSE_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE);
	put32(p, 20);
	put64(p + 8, lba);
	uint64_t n = d->blocks - lba;
	put32(p + 16, n > 0xffffffffu ? 0xffffffffu : (uint32_t)n);
	p[20] = 0; /* mapped or unknown */
	return scsi_reply(c, p, sizeof(p), get32(c->cdb + 10));
}

bool scsi_service_action_in(struct scsi_disk *d, struct scsi_cmd *c)
{
	switch (c->cdb[1] & 0x1f) {
	case 0x10: return read_capacity16(d, c);
	case 0x12: return get_lba_status(d, c);
	default: return scsi_check(c, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
	}
}

/* ---- MODE SENSE / MODE SELECT ---- */

enum page_control { PC_CURRENT, PC_CHANGEABLE, PC_DEFAULT, PC_SAVED };

/* Append mode page `page` as page control pc asks; 0 if unknown. */
static size_t mode_page(struct scsi_disk *d, uint8_t page, enum page_control pc, uint8_t *p)
{
	pthread_mutex_lock(&d->lock);
	bool wce = pc == PC_DEFAULT ? true : d->wce, dsense = pc == PC_DEFAULT ? false : d->d_sense;
	pthread_mutex_unlock(&d->lock);
	size_t len;

	switch (page) {
	case 0x01: /* read-write error recovery: AWRE, ARRE; nothing changeable */
		len = 12;
		memset(p, 0, len);
		if (pc != PC_CHANGEABLE)
			p[2] = 0xc0;
		break;
	case 0x08: /* caching: WCE changeable */
		len = 20;
		memset(p, 0, len);
		if (pc == PC_CHANGEABLE)
			p[2] = 0x04;
		else
			p[2] = wce ? 0x04 : 0;
		break;
	case 0x0a: /* control: D_SENSE changeable; TST 0, QERR 0 */
		len = 12;
		memset(p, 0, len);
		if (pc == PC_CHANGEABLE)
			p[2] = 0x04;
		else {
			p[2] = dsense ? 0x04 : 0;
			p[3] = 0x10; /* unrestricted reordering allowed */
			put16(p + 8, 0xffff); /* busy timeout period: unlimited */
		}
		break;
	default:
		return 0;
	}
	p[0] = page;
	p[1] = (uint8_t)(len - 2);
	return len;
}

bool scsi_mode_sense(struct scsi_disk *d, struct scsi_cmd *c)
{
	const uint8_t *cdb = c->cdb;
	bool ten = cdb[0] == 0x5a, dbd = cdb[1] & 0x08, llbaa = ten && (cdb[1] & 0x10);
	enum page_control pc = cdb[2] >> 6;
	uint8_t page = cdb[2] & 0x3f, subpage = cdb[3];
	size_t alloc = ten ? get16(cdb + 7) : cdb[4];
	size_t hdr = ten ? 8 : 4, n;
	uint8_t p[256] = {0};

	if (pc == PC_SAVED)
		return scsi_check(c, SENSE_ILLEGAL_REQUEST, ASC_SAVING_NOT_SUPPORTED);
	if (subpage && !(subpage == 0xff && page == 0x3f))
		return scsi_check(c, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
	n = hdr;
	if (!dbd) { /* one short block descriptor: capacity (capped) and block length */
		if (llbaa) {
			put64(p + n, d->blocks);
			put32(p + n + 12, d->block_size);
			n += 16;
		} else {
			put32(p + n, d->blocks > 0xffffffffu ? 0xffffffffu : (uint32_t)d->blocks);
			put32(p + n + 4, d->block_size & 0xffffff);
			n += 8;
		}
	}
	size_t bdl = n - hdr;
	if (page == 0x3f) {
		static const uint8_t all[] = {0x01, 0x08, 0x0a};
		for (unsigned i = 0; i < sizeof(all); i++)
			n += mode_page(d, all[i], pc, p + n);
	} else {
		size_t len = mode_page(d, page, pc, p + n);
		if (!len)
			return scsi_check(c, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
		n += len;
	}
	uint8_t specific = 0x10 | (d->readonly ? 0x80 : 0); /* DPOFUA, WP */
	if (ten) {
		put16(p, (uint16_t)(n - 2));
		p[3] = specific;
		p[4] = llbaa && !dbd ? 1 : 0;
		put16(p + 6, (uint16_t)bdl);
	} else {
		p[0] = (uint8_t)(n - 1);
		p[2] = specific;
		p[3] = (uint8_t)bdl;
	}
	return scsi_reply(c, p, n, alloc);
}

/* MODE SELECT: a header, block descriptors (ignored, but the block length
 * must be ours), then pages. Only WCE and D_SENSE may change; other
 * fields must hold their current values. */
bool scsi_mode_select(struct scsi_disk *d, struct scsi_cmd *c)
{
	const uint8_t *cdb = c->cdb;
	bool ten = cdb[0] == 0x55;
	size_t len = ten ? get16(cdb + 7) : cdb[4], hdr = ten ? 8 : 4;
	uint8_t p[PARAM_MAX];

	if (cdb[1] & 0x01) /* SP: we cannot save */
		return scsi_check(c, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
	if (!(cdb[1] & 0x10)) /* PF=0: vendor-specific pages */
		return scsi_check(c, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
	if (len == 0)
		return scsi_good(c);
	if (len > sizeof(p) || len < hdr)
		return scsi_check(c, SENSE_ILLEGAL_REQUEST, ASC_PARAM_LIST_LENGTH);
	if (!scsi_gather(c, p, len)) {
		c->overrun = true;
		return scsi_check(c, SENSE_ILLEGAL_REQUEST, ASC_PARAM_LIST_LENGTH);
	}
	size_t bdl = ten ? get16(p + 6) : p[3], off = hdr + bdl;
	if (off > len || (bdl && bdl != 8 && bdl != 16))
		return scsi_check(c, SENSE_ILLEGAL_REQUEST, ASC_PARAM_LIST_LENGTH);
	if (bdl && (bdl == 8 ? get24(p + hdr + 5) : get32(p + hdr + 12)) != d->block_size)
		return scsi_check(c, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_PARAMS);

	bool wce, dsense;
	pthread_mutex_lock(&d->lock);
	wce = d->wce;
	dsense = d->d_sense;
	pthread_mutex_unlock(&d->lock);
	while (off < len) {
		uint8_t cur[32], mask[32];
		if (off + 2 > len || (p[off] & 0x40)) /* SPF: no subpages */
			return scsi_check(c, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_PARAMS);
		uint8_t page = p[off] & 0x3f;
		size_t plen = (size_t)p[off + 1] + 2;
		size_t want = mode_page(d, page, PC_CURRENT, cur);
		mode_page(d, page, PC_CHANGEABLE, mask);
		if (!want || plen != want || off + plen > len)
			return scsi_check(c, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_PARAMS);
		for (size_t i = 2; i < plen; i++)
			if ((p[off + i] ^ cur[i]) & ~mask[i])
				return scsi_check(c, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_PARAMS);
		if (page == 0x08)
			wce = p[off + 2] & 0x04;
		if (page == 0x0a)
			dsense = p[off + 2] & 0x04;
		off += plen;
	}
	pthread_mutex_lock(&d->lock);
	d->wce = wce;
	d->d_sense = dsense;
	pthread_mutex_unlock(&d->lock);
	return scsi_good(c);
}

