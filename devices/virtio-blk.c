/* virtio-blk: requests parsed from the guest's chains, served by the
 * block backend. See virtio-blk.h. */
#include "devices/virtio-blk.h"

#include <endian.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <linux/virtio_ids.h>

#include "base/log.h"
#include "devices/disk-options.h"

#define SECTOR 512u

/* One request in flight: the chain, the backend request, and the iovecs
 * into guest RAM. Slots are reused (blk->free), so their memory grows to
 * the deepest queue the guest ever kept, not to the ring size. */
struct blk_request {
	struct virtio_request vreq;
	struct blk_io io;
	struct virtio_blk *blk;
	uint64_t written;          /* every device-writable byte, status included (a chain may hold more than 4 GiB) */
	uint64_t status_off;
	bool discard;              /* a failed discard is not an error: it is only a hint */
	bool flush_after;          /* write-through: flush before completing the write */
	struct blk_request *next;  /* free list / done list */
	struct iovec iov[VIRTIO_REQUEST_MAX_BUFS];
};

/* ---- request slots ---- */

static struct blk_request *slot_get(struct virtio_blk *blk)
{
	struct blk_request *r = blk->free;

	if (r) {
		blk->free = r->next;
		return r;
	}
	r = malloc(sizeof(*r));
	if (r)
		r->blk = blk;
	return r;
}

static void slot_put(struct virtio_blk *blk, struct blk_request *r)
{
	r->next = blk->free;
	blk->free = r;
}

/* ---- completion ---- */

static void write_status(struct blk_request *r, uint8_t status)
{
	virtio_request_write(&r->vreq, r->status_off, &status, 1);
}

/* A backend thread: the I/O finished. Write the status into the guest's
 * buffer now; publish the used entry with the rest of the batch. */
static void io_done(struct blk_io *io, int result)
{
	struct blk_request *r = io->opaque;
	struct virtio_blk *blk = r->blk;

	if (result == 0 && r->flush_after) {
		/* Write-through: the write is complete once it is stable. */
		r->flush_after = false;
		io->op = BLK_OP_FLUSH;
		if (blk_backend_submit(blk->backend, io) == 0)
			return;
		result = -EIO;
	}
	if (result < 0 && r->discard && result == -EOPNOTSUPP)
		result = 0; /* the image cannot deallocate: discard is a hint */
	if (result < 0)
		log_debug(blk->vdev.name, "%s at %llu failed: %s", io->op == BLK_OP_READ ? "read" : "I/O",
			  (unsigned long long)io->offset, strerror(-result));
	write_status(r, result == 0 ? VIRTIO_BLK_S_OK : VIRTIO_BLK_S_IOERR);

	pthread_mutex_lock(&blk->done_lock);
	r->next = blk->done_head;
	blk->done_head = r;
	pthread_mutex_unlock(&blk->done_lock);
}

/* The used ring's len is 32 bits; a longer chain (its buffers may
 * overlap) says "all of it" as the most len can. Truncating instead
 * would tell the driver that almost nothing was written. */
static uint32_t used_len(const struct blk_request *r)
{
	return r->written > UINT32_MAX ? UINT32_MAX : (uint32_t)r->written;
}

/* The finished requests collected so far (oldest last). */
static struct blk_request *take_done(struct virtio_blk *blk)
{
	pthread_mutex_lock(&blk->done_lock);
	struct blk_request *list = blk->done_head;
	blk->done_head = NULL;
	pthread_mutex_unlock(&blk->done_lock);
	return list;
}

/* Return them as used (dev->lock held); mark the queues they were on. */
static void push_done_locked(struct virtio_blk *blk, struct blk_request *list, bool *touched)
{
	while (list) {
		struct blk_request *r = list;
		list = r->next;
		if (touched)
			touched[r->vreq.q] = true;
		virtio_request_push_locked(&r->vreq, used_len(r));
		slot_put(blk, r);
	}
}

/* End of a backend batch: return every finished request as used, then
 * interrupt each queue that got some (once, if EVENT_IDX lets us). */
static void publish_done(void *opaque)
{
	struct virtio_blk *blk = opaque;
	struct virtio_device *dev = &blk->vdev;
	bool touched[VIRTIO_BLK_MAX_QUEUES] = {false};
	struct blk_request *list = take_done(blk);

	if (!list)
		return;
	pthread_mutex_lock(&dev->lock);
	push_done_locked(blk, list, touched);
	for (unsigned q = 0; q < blk->queues; q++)
		if (touched[q])
			virtio_device_notify_used(dev, q);
	pthread_mutex_unlock(&dev->lock);
}

/* ---- serving a queue ---- */

/* The data part of the chain as iovecs: plan->data_len bytes from
 * plan->data_off in the out (write) or in (read) segments. */
static int data_iov(const struct virtio_request *vreq, const struct virtio_blk_plan *plan, struct iovec *iov)
{
	bool writable = plan->op == BLK_OP_READ;
	int n = virtio_request_iov(vreq, writable, iov, VIRTIO_REQUEST_MAX_BUFS);
	uint64_t skip = plan->data_off, want = plan->data_len;
	unsigned out = 0;

	for (int i = 0; i < n && want; i++) {
		uint8_t *base = iov[i].iov_base;
		uint64_t len = iov[i].iov_len;
		if (skip >= len) {
			skip -= len;
			continue;
		}
		base += skip;
		len -= skip;
		skip = 0;
		if (len > want)
			len = want;
		iov[out++] = (struct iovec){.iov_base = base, .iov_len = (size_t)len};
		want -= len;
	}
	return want ? -EINVAL : (int)out;
}

/* Fill GET_ID's buffer: the serial, zero-padded (not terminated when it
 * has all 20 bytes, as the spec allows). */
static void answer_get_id(struct virtio_blk *blk, struct blk_request *r, const struct virtio_blk_plan *plan)
{
	char id[VIRTIO_BLK_ID_BYTES] = {0};

	memcpy(id, blk->serial, strnlen(blk->serial, sizeof(id)));
	virtio_request_write(&r->vreq, 0, id, (size_t)plan->data_len);
}

/* Start one request (dev->lock held). */
static void serve(struct virtio_blk *blk, struct blk_request *r)
{
	struct virtio_device *dev = &blk->vdev;
	struct virtio_blk_plan plan;

	virtio_blk_parse(&blk->limits, &r->vreq, &plan);
	r->status_off = plan.status_off;
	r->written = virtio_request_writable(&r->vreq);
	r->discard = plan.op == BLK_OP_DISCARD;
	r->flush_after = false;

	switch (plan.action) {
	case BLK_ACTION_BROKEN:
		log_debug(dev->name, "request without a status byte");
		virtio_request_complete_locked(&r->vreq, 0);
		slot_put(blk, r);
		virtio_device_needs_reset(dev);
		return;
	case BLK_ACTION_GET_ID:
		answer_get_id(blk, r, &plan);
		plan.status = VIRTIO_BLK_S_OK;
		break;
	case BLK_ACTION_STATUS:
		log_debug(dev->name, "request type %u refused with status %u", plan.type, plan.status);
		break;
	case BLK_ACTION_IO: {
		int n = 0;
		if (plan.op == BLK_OP_READ || plan.op == BLK_OP_WRITE)
			n = data_iov(&r->vreq, &plan, r->iov);
		r->io = (struct blk_io){.op = plan.op, .flags = plan.flags, .offset = plan.offset, .len = plan.len,
					.iov = r->iov, .iovcnt = n < 0 ? 0 : (unsigned)n, .done = io_done,
					.opaque = r};
		r->flush_after = plan.op == BLK_OP_WRITE && !blk->writeback;
		if (n >= 0 && blk_backend_queue(blk->backend, &r->io) == 0)
			return; /* started by blk_queue_served(); io_done() and publish_done() finish it */
		plan.status = VIRTIO_BLK_S_IOERR;
		break;
	}
	}
	write_status(r, plan.status);
	virtio_request_complete_locked(&r->vreq, used_len(r));
	slot_put(blk, r);
}

static bool blk_queue_notify(struct virtio_device *dev, unsigned q, unsigned budget)
{
	struct virtio_blk *blk = dev->priv;
	unsigned served = 0;

	while (served < budget) {
		struct blk_request *r = slot_get(blk);
		if (!r)
			return true; /* out of memory for now: the reactor calls again */
		if (virtio_request_pop(dev, q, &r->vreq) != 1) {
			slot_put(blk, r);
			return false;
		}
		serve(blk, r);
		served++;
	}
	return true;
}

/* dev->lock released: start the requests just served, in one system
 * call. Those the kernel finishes inside it (reads the page cache holds)
 * complete and interrupt from here, without waking the backend's reaper. */
static void blk_queue_served(struct virtio_device *dev, unsigned q)
{
	struct virtio_blk *blk = dev->priv;
	blk_backend_unplug(blk->backend);
}

/* Every queue is a request queue: the reactor may poll them all. */
static bool blk_queue_polled(const struct virtio_device *dev, unsigned q)
{
	(void)dev;
	(void)q;
	return true;
}

/* ---- config space ---- */

static uint64_t blk_features(struct virtio_device *dev)
{
	struct virtio_blk *blk = dev->priv;
	uint64_t f = VIRTIO_FEATURE(VIRTIO_BLK_F_SIZE_MAX) | VIRTIO_FEATURE(VIRTIO_BLK_F_SEG_MAX) |
		     VIRTIO_FEATURE(VIRTIO_BLK_F_BLK_SIZE) | VIRTIO_FEATURE(VIRTIO_BLK_F_FLUSH) |
		     VIRTIO_FEATURE(VIRTIO_BLK_F_TOPOLOGY) | VIRTIO_FEATURE(VIRTIO_BLK_F_CONFIG_WCE);

	if (blk->limits.readonly)
		f |= VIRTIO_FEATURE(VIRTIO_BLK_F_RO);
	if (blk->queues > 1)
		f |= VIRTIO_FEATURE(VIRTIO_BLK_F_MQ);
	if (blk->limits.discard)
		f |= VIRTIO_FEATURE(VIRTIO_BLK_F_DISCARD);
	if (blk->limits.write_zeroes)
		f |= VIRTIO_FEATURE(VIRTIO_BLK_F_WRITE_ZEROES);
	return f;
}

static void blk_config_read(struct virtio_device *dev, size_t offset, void *data, size_t len)
{
	struct virtio_blk *blk = dev->priv;

	blk->config.wce = blk->writeback;
	memcpy(data, (const uint8_t *)&blk->config + offset, len);
}

/* The only writable field: wce (CONFIG_WCE), writeback (1) or write-through (0). */
static void blk_config_write(struct virtio_device *dev, size_t offset, const void *data, size_t len)
{
	struct virtio_blk *blk = dev->priv;
	const size_t wce = offsetof(struct virtio_blk_config, wce);

	if (offset <= wce && offset + len > wce)
		blk->writeback = ((const uint8_t *)data)[wce - offset] != 0;
}

static void blk_reset(struct virtio_device *dev)
{
	struct virtio_blk *blk = dev->priv;

	/* In-flight I/O finishes on its own (file I/O cannot be cancelled,
	 * but it ends) and the reset waits for it; finished requests waiting
	 * for their batch to end are void now: out of the way at once. */
	push_done_locked(blk, take_done(blk), NULL);
	blk->writeback = true;
}

static unsigned log2u(unsigned v)
{
	unsigned r = 0;
	while (v > 1) {
		v >>= 1;
		r++;
	}
	return r;
}

static void build_config(struct virtio_blk *blk)
{
	struct virtio_blk_config *c = &blk->config;
	unsigned bs = blk_backend_block_size(blk->backend);
	unsigned pbs = blk_backend_physical_block_size(blk->backend);

	if (pbs < bs)
		pbs = bs;
	memset(c, 0, sizeof(*c));
	c->capacity = htole64(blk->limits.capacity);
	c->size_max = htole32(blk->limits.size_max);
	c->seg_max = htole32(blk->limits.seg_max);
	c->blk_size = htole32(bs);
	c->physical_block_exp = (uint8_t)log2u(pbs / bs);
	c->alignment_offset = 0;
	c->min_io_size = htole16((uint16_t)(pbs / bs));
	c->opt_io_size = htole32(0);
	c->num_queues = htole16((uint16_t)blk->queues);
	c->max_discard_sectors = htole32(VIRTIO_BLK_MAX_DISCARD_SECTORS);
	c->max_discard_seg = htole32(1);
	c->discard_sector_alignment = htole32(pbs / SECTOR);
	c->max_write_zeroes_sectors = htole32(VIRTIO_BLK_MAX_DISCARD_SECTORS);
	c->max_write_zeroes_seg = htole32(1);
	c->write_zeroes_may_unmap = 1;
}

static const struct virtio_device_ops blk_ops_template = {
	.type = "blk",
	.device_id = VIRTIO_ID_BLOCK,
	.nr_queues = 1,
	.queue_max_size = VIRTIO_BLK_QUEUE_SIZE,
	/* Up to write_zeroes_may_unmap and its padding: no secure erase. */
	.config_size = offsetof(struct virtio_blk_config, max_secure_erase_sectors),
	.features = blk_features,
	.config_read = blk_config_read,
	.config_write = blk_config_write,
	.queue_notify = blk_queue_notify,
	.queue_served = blk_queue_served,
	.queue_polled = blk_queue_polled,
	.reset = blk_reset,
};

int virtio_blk_init(struct virtio_blk *blk, const struct virtio_blk_config_opts *opts, const char *name,
		    const struct guest_mem *mem, enum blk_engine engine, struct reactor *reactor, char *err,
		    size_t errlen)
{
	struct blk_backend_options bo = {.path = opts->path, .readonly = opts->readonly, .snapshot = opts->snapshot,
					 .cache = opts->cache, .engine = engine, .reactor = reactor,
					 .batch_end = publish_done, .batch_opaque = blk};
	int ret;

	memset(blk, 0, sizeof(*blk));
	pthread_mutex_init(&blk->done_lock, NULL);
	if ((ret = blk_backend_open(&blk->backend, &bo, err, errlen)) < 0)
		return ret;
	blk->queues = opts->queues ? opts->queues : 1;
	blk->ops = blk_ops_template;
	blk->ops.nr_queues = blk->queues;
	blk->writeback = true;
	snprintf(blk->serial, sizeof(blk->serial), "%s", opts->serial);
	blk->limits = (struct virtio_blk_limits){
		.capacity = blk_backend_size(blk->backend) / SECTOR,
		.block_size = blk_backend_block_size(blk->backend),
		.size_max = VIRTIO_BLK_SIZE_MAX,
		.seg_max = VIRTIO_BLK_SEG_MAX,
		.readonly = opts->readonly,
		.discard = opts->discard,
		.write_zeroes = opts->write_zeroes,
	};
	build_config(blk);
	virtio_device_init(&blk->vdev, &blk->ops, blk, name, mem);
	for (unsigned q = 0; q < blk->queues; q++)
		virtio_device_set_max_chain(&blk->vdev, q, VIRTIO_BLK_SEG_MAX + 2);
	log_debug(name, "%s: %llu sectors, %s, cache %d, %u queue(s)", opts->path,
		  (unsigned long long)blk->limits.capacity, blk_backend_engine_name(blk->backend), (int)opts->cache,
		  blk->queues);
	return 0;
}

void virtio_blk_destroy(struct virtio_blk *blk)
{
	/* The transport is gone already: I/O still finishing must not
	 * interrupt through it. */
	pthread_mutex_lock(&blk->vdev.lock);
	blk->vdev.transport = NULL;
	pthread_mutex_unlock(&blk->vdev.lock);
	blk_backend_close(blk->backend); /* waits for in-flight I/O */
	blk->backend = NULL;
	publish_done(blk);
	while (blk->free) {
		struct blk_request *r = blk->free;
		blk->free = r->next;
		free(r);
	}
	pthread_mutex_destroy(&blk->done_lock);
}

/* ---- the device-type table entry ---- */

static int parse_path(void *config, const char *value, char *err, size_t errlen)
{
	struct virtio_blk_config_opts *c = config;

	return disk_parse_path(&c->path, value, err, errlen);
}

static void blk_free_config(void *config)
{
	struct virtio_blk_config_opts *c = config;

	free(c->path);
}

static int parse_readonly(void *config, const char *value, char *err, size_t errlen)
{
	struct virtio_blk_config_opts *c = config;

	return device_parse_on_off("readonly", value, &c->readonly, err, errlen);
}

static int parse_snapshot(void *config, const char *value, char *err, size_t errlen)
{
	struct virtio_blk_config_opts *c = config;

	return device_parse_on_off("snapshot", value, &c->snapshot, err, errlen);
}

static int parse_discard(void *config, const char *value, char *err, size_t errlen)
{
	struct virtio_blk_config_opts *c = config;

	return device_parse_on_off("discard", value, &c->discard, err, errlen);
}

static int parse_write_zeroes(void *config, const char *value, char *err, size_t errlen)
{
	struct virtio_blk_config_opts *c = config;

	return device_parse_on_off("write-zeroes", value, &c->write_zeroes, err, errlen);
}

static int parse_serial(void *config, const char *value, char *err, size_t errlen)
{
	struct virtio_blk_config_opts *c = config;
	int ret = disk_check_serial(value, VIRTIO_BLK_SERIAL_MAX, false, err, errlen);

	if (ret == 0)
		snprintf(c->serial, sizeof(c->serial), "%s", value);
	return ret;
}

static int parse_cache(void *config, const char *value, char *err, size_t errlen)
{
	struct virtio_blk_config_opts *c = config;

	return disk_parse_cache(value, &c->cache, err, errlen);
}

static int parse_aio(void *config, const char *value, char *err, size_t errlen)
{
	struct virtio_blk_config_opts *c = config;
	static const char *const names[] = {[BLK_ENGINE_AUTO] = "auto", [BLK_ENGINE_IO_URING] = "io_uring",
					    [BLK_ENGINE_THREADS] = "threads"};

	for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(value, names[i]) == 0) {
			c->engine = (enum blk_engine)i;
			return 0;
		}
	snprintf(err, errlen, "aio '%s' must be auto, io_uring or threads", value);
	return -EINVAL;
}

static int parse_queues(void *config, const char *value, char *err, size_t errlen)
{
	struct virtio_blk_config_opts *c = config;
	uint64_t n;

	if (!device_parse_positive(value, &n) || n > VIRTIO_BLK_MAX_QUEUES) {
		snprintf(err, errlen, "queues '%s' must be a number from 1 to %d", value, VIRTIO_BLK_MAX_QUEUES);
		return -EINVAL;
	}
	c->queues = (unsigned)n;
	return 0;
}

static const struct device_key blk_keys[] = {
	{"path", "FILE", "disk image: raw file or block device (required)", parse_path},
	{"readonly", "on|off", "read-only disk (shared image lock) (default off)", parse_readonly},
	{"snapshot", "on|off", "writes go to a private overlay in $TMPDIR, the image is never written (default off)",
	 parse_snapshot},
	{"serial", "STRING", "serial number, up to 20 bytes (/sys/block/vdX/serial)", parse_serial},
	{"cache", "MODE", "writeback (default), none (O_DIRECT), unsafe (flush ignored)", parse_cache},
	{"discard", "on|off", "pass discards to the image: punch holes (default off)", parse_discard},
	{"write-zeroes", "on|off", "offer WRITE_ZEROES (default off)", parse_write_zeroes},
	{"queues", "N", "request queues, 1-16 (default 1)", parse_queues},
	{"aio", "auto|io_uring|threads", "I/O engine (default auto: io_uring if the kernel allows it)", parse_aio},
	{NULL},
};

static int blk_check(const void *config, char *err, size_t errlen)
{
	const struct virtio_blk_config_opts *c = config;

	if (!c->path) {
		snprintf(err, errlen, "path=FILE is required");
		return -EINVAL;
	}
	return disk_check_path(c->path, err, errlen);
}

static struct virtio_device *blk_create(void *state, const void *config, const char *name, const struct guest_mem *mem,
				      struct reactor *reactor, char *err, size_t errlen)
{
	struct virtio_blk *blk = state;
	const struct virtio_blk_config_opts *c = config;

	/* The reactor serves the queues and reaps the image's io_uring. */
	if (virtio_blk_init(blk, c, name, mem, c->engine, reactor, err, errlen) < 0)
		return NULL;
	return &blk->vdev;
}

static void blk_destroy(void *state)
{
	virtio_blk_destroy(state);
}

const struct device_type virtio_blk_type = {
	.name = "blk",
	.help = "virtio block device on a raw image or block device (--disk FILE is short for path=FILE)",
	.keys = blk_keys,
	.config_size = sizeof(struct virtio_blk_config_opts),
	.state_size = sizeof(struct virtio_blk),
	.check = blk_check,
	.free_config = blk_free_config,
	.disk_key = "path",
	.create = blk_create,
	.destroy = blk_destroy,
};
