/* virtio-balloon: give guest pages back to the host on request. See
 * virtio-balloon.h. */
#include "devices/virtio-balloon.h"
#include "base/monotonic.h"

#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <linux/virtio_ids.h>

#include "base/log.h"

#define PAGE_MASK ((uint64_t)VIRTIO_BALLOON_PAGE_SIZE - 1)
#define STAT_ENTRY_SIZE 10 /* struct virtio_balloon_stat: le16 tag, le64 value, packed */

static const char *const stat_names[] = VIRTIO_BALLOON_S_NAMES;

const char *virtio_balloon_stat_name(uint16_t tag)
{
	return tag < sizeof(stat_names) / sizeof(stat_names[0]) ? stat_names[tag] : NULL;
}

enum balloon_queue_role virtio_balloon_queue_role(uint64_t features, unsigned q)
{
	bool stats = features & VIRTIO_FEATURE(VIRTIO_BALLOON_F_STATS_VQ);
	bool reporting = features & VIRTIO_FEATURE(VIRTIO_BALLOON_F_REPORTING);

	if (q == 0)
		return BALLOON_Q_INFLATE;
	if (q == 1)
		return BALLOON_Q_DEFLATE;
	if (q == 2 && stats)
		return BALLOON_Q_STATS;
	if (reporting && q == (stats ? 3u : 2u))
		return BALLOON_Q_REPORTING;
	return BALLOON_Q_NONE;
}

/* Give [host, host+len) back to the host; page-aligned, inside guest RAM.
 * The guest inflates as often as it likes: a failure is logged rate-limited
 * (one balloon per machine, so one limit for the process). */
static void release(void *host, size_t len)
{
	static struct log_limit limit;

	if (madvise(host, len, MADV_DONTNEED) < 0)
		log_limited(&limit, LOG_WARN, "virtio-balloon", "madvise(MADV_DONTNEED) of %zu bytes: %s", len,
			    strerror(errno));
}

static int pfn_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* Release a batch of PFNs, sorted so that runs of consecutive pages go
 * in one madvise() each. Batching matters: every madvise() makes KVM
 * invalidate the guest's mappings of that range (MMU notifier), which on
 * a software-KVM host costs the guest dearly; Linux hands pages over in
 * descending order, which unsorted would be one call per page. */
static void release_pfns(struct virtio_balloon *b, uint32_t *pfns, size_t n)
{
	uint8_t *run = NULL;
	size_t run_len = 0;

	qsort(pfns, n, sizeof(pfns[0]), pfn_cmp);
	for (size_t i = 0; i < n; i++) {
		uint8_t *host = guest_mem_ptr(b->vdev.mem, (uint64_t)pfns[i] << VIRTIO_BALLOON_PFN_SHIFT,
					      VIRTIO_BALLOON_PAGE_SIZE);
		if (i > 0 && pfns[i] == pfns[i - 1])
			continue; /* a duplicate: released already */
		if (run && host == run + run_len) {
			run_len += VIRTIO_BALLOON_PAGE_SIZE;
			continue;
		}
		if (run)
			release(run, run_len);
		run = host;
		run_len = VIRTIO_BALLOON_PAGE_SIZE;
	}
	if (run)
		release(run, run_len);
}

#define PFN_BATCH 1024 /* Linux sends at most 256 per buffer */

/* One inflate or deflate buffer: an array of 32-bit PFNs (little-endian;
 * legacy drivers use the guest's byte order, the same on x86). Each is
 * checked against guest RAM first; only good ones are released. */
static void serve_pfns(struct virtio_balloon *b, const struct virtio_request *req, bool inflate)
{
	struct iovec iov[VIRTIO_REQUEST_MAX_BUFS];
	int n = virtio_request_iov(req, false, iov, VIRTIO_REQUEST_MAX_BUFS);
	uint32_t batch[PFN_BATCH];
	size_t nr = 0;

	for (int i = 0; i < n; i++) {
		const uint8_t *p = iov[i].iov_base;
		/* A PFN split across two buffers is not something Linux does: whole
		 * entries per buffer only, a trailing fragment is ignored. */
		for (size_t off = 0; off + 4 <= iov[i].iov_len; off += 4) {
			uint32_t pfn;

			memcpy(&pfn, p + off, 4);
			pfn = le32toh(pfn);
			if (!guest_mem_ptr(b->vdev.mem, (uint64_t)pfn << VIRTIO_BALLOON_PFN_SHIFT,
					   VIRTIO_BALLOON_PAGE_SIZE)) {
				b->bad_pfns++;
				log_limited(&b->log_bad_pfn, LOG_WARN, b->vdev.name, "PFN %#x is not guest RAM, ignored",
					    pfn);
				b->vdev.stats.errors++;
				continue;
			}
			if (!inflate) {
				b->pages_deflated++; /* comes back when the guest touches it */
				continue;
			}
			b->pages_released++;
			batch[nr++] = pfn;
			if (nr == PFN_BATCH) {
				release_pfns(b, batch, nr);
				nr = 0;
			}
		}
	}
	if (nr)
		release_pfns(b, batch, nr);
}

/* Free page reporting: each device-writable buffer is a block of free
 * guest memory (already checked to lie in guest RAM by the engine). The
 * guest does not expect its contents back. */
static void serve_report(struct virtio_balloon *b, const struct virtio_request *req)
{
	struct iovec iov[VIRTIO_REQUEST_MAX_BUFS];
	int n = virtio_request_iov(req, true, iov, VIRTIO_REQUEST_MAX_BUFS);

	for (int i = 0; i < n; i++) {
		uintptr_t start = ((uintptr_t)iov[i].iov_base + PAGE_MASK) & ~(uintptr_t)PAGE_MASK;
		uintptr_t end = ((uintptr_t)iov[i].iov_base + iov[i].iov_len) & ~(uintptr_t)PAGE_MASK;

		if (end > start) {
			release((void *)start, end - start);
			b->bytes_reported += end - start;
		}
	}
}

/* Keep the driver's statistics; hold its buffer until we want more. */
static void take_stats(struct virtio_balloon *b, struct virtio_request *req)
{
	struct iovec iov[VIRTIO_REQUEST_MAX_BUFS];
	int n = virtio_request_iov(req, false, iov, VIRTIO_REQUEST_MAX_BUFS);
	uint8_t entry[STAT_ENTRY_SIZE];
	size_t have = 0;

	if (b->stats_held) /* a driver that sent a second buffer gets the first back */
		virtio_request_complete_locked(&b->stats_req, 0);
	b->nr_stats = 0;
	for (int i = 0; i < n; i++) {
		const uint8_t *p = iov[i].iov_base;
		for (size_t off = 0; off < iov[i].iov_len; off++) {
			entry[have++] = p[off];
			if (have < STAT_ENTRY_SIZE)
				continue;
			have = 0;
			uint16_t tag;
			uint64_t val;
			memcpy(&tag, entry, 2);
			memcpy(&val, entry + 2, 8);
			tag = le16toh(tag);
			val = le64toh(val);
			unsigned k;
			for (k = 0; k < b->nr_stats && b->stat_tag[k] != tag; k++)
				;
			if (k == VIRTIO_BALLOON_STATS_TAGS)
				continue; /* more distinct tags than we keep */
			b->stat_tag[k] = tag;
			b->stat_val[k] = val;
			if (k == b->nr_stats)
				b->nr_stats++;
		}
	}
	b->stats_updated_ns = monotonic_ns();
	b->stats_req = *req;
	b->stats_held = true;
}

static bool balloon_queue_notify(struct virtio_device *dev, unsigned q, unsigned budget)
{
	struct virtio_balloon *b = dev->priv;
	enum balloon_queue_role role = virtio_balloon_queue_role(dev->features, q);
	struct virtio_request req;
	unsigned served = 0;

	if (role == BALLOON_Q_NONE)
		return false;
	while (served < budget && virtio_request_pop(dev, q, &req) == 1) {
		served++;
		switch (role) {
		case BALLOON_Q_INFLATE:
		case BALLOON_Q_DEFLATE:
			serve_pfns(b, &req, role == BALLOON_Q_INFLATE);
			virtio_request_complete_locked(&req, 0);
			break;
		case BALLOON_Q_STATS:
			take_stats(b, &req);
			break;
		case BALLOON_Q_REPORTING:
			serve_report(b, &req);
			virtio_request_complete_locked(&req, 0);
			break;
		case BALLOON_Q_NONE:
			break;
		}
	}
	return served == budget;
}

static uint64_t balloon_features(struct virtio_device *dev)
{
	const struct virtio_balloon *b = dev->priv;
	uint64_t f = VIRTIO_FEATURE(VIRTIO_BALLOON_F_STATS_VQ);

	if (b->cfg.deflate_on_oom)
		f |= VIRTIO_FEATURE(VIRTIO_BALLOON_F_DEFLATE_ON_OOM);
	if (b->cfg.free_page_reporting)
		f |= VIRTIO_FEATURE(VIRTIO_BALLOON_F_REPORTING);
	return f;
}

static void balloon_config_read(struct virtio_device *dev, size_t offset, void *data, size_t len)
{
	const struct virtio_balloon *b = dev->priv;
	struct virtio_balloon_config_le {
		uint32_t num_pages, actual, free_page_hint_cmd_id, poison_val;
	} cfg = { htole32(b->num_pages), htole32(b->actual), 0, 0 };

	memcpy(data, (const uint8_t *)&cfg + offset, len);
}

/* Only `actual` is the driver's to write. */
static void balloon_config_write(struct virtio_device *dev, size_t offset, const void *data, size_t len)
{
	struct virtio_balloon *b = dev->priv;
	uint32_t actual = htole32(b->actual);

	for (size_t i = 0; i < len; i++)
		if (offset + i >= 4 && offset + i < 8)
			((uint8_t *)&actual)[offset + i - 4] = ((const uint8_t *)data)[i];
	actual = le32toh(actual);
	if (actual != b->actual)
		log_debug(dev->name, "guest balloon now %u pages (target %u)", actual, b->num_pages);
	b->actual = actual;
}

/* DRIVER_OK. Linux queues its first statistics buffer and kicks before it
 * sets DRIVER_OK (virtballoon_probe: init_vqs, then virtio_device_ready),
 * a kick the core ignores while the queue is not live. Kick once more now,
 * through the queue's eventfd, so the reactor serves it (this runs on a
 * vCPU). Without an eventfd (unit tests) serve it here. */
static int balloon_activate(struct virtio_device *dev)
{
	uint64_t one = 1;

	for (unsigned q = 0; q < VIRTIO_BALLOON_MAX_QUEUES; q++) {
		if (virtio_balloon_queue_role(dev->features, q) != BALLOON_Q_STATS)
			continue;
		if (dev->kick_fd[q] >= 0)
			(void)!write(dev->kick_fd[q], &one, sizeof(one));
		else if (virtio_device_queue_live(dev, q))
			balloon_queue_notify(dev, q, VIRTIO_BALLOON_QUEUE_SIZE);
	}
	return 0;
}

static void balloon_reset(struct virtio_device *dev)
{
	struct virtio_balloon *b = dev->priv;

	/* The held statistics buffer belongs to the old rings: let it go (the
	 * core drops it, its epoch is over). The target is host policy and
	 * stays; the guest's balloon is empty after a reset. */
	if (b->stats_held)
		virtio_request_complete_locked(&b->stats_req, 0);
	b->stats_held = false;
	b->actual = 0;
}

static const struct virtio_device_ops balloon_ops = {
	.type = "balloon",
	.device_id = VIRTIO_ID_BALLOON,
	.nr_queues = VIRTIO_BALLOON_MAX_QUEUES,
	.queue_max_size = VIRTIO_BALLOON_QUEUE_SIZE,
	.config_size = 16, /* struct balloon_options */
	.features = balloon_features,
	.config_read = balloon_config_read,
	.config_write = balloon_config_write,
	.activate = balloon_activate,
	.queue_notify = balloon_queue_notify,
	.reset = balloon_reset,
};

void virtio_balloon_init(struct virtio_balloon *b, const char *name, const struct guest_mem *mem,
			 const struct balloon_options *cfg)
{
	memset(b, 0, sizeof(*b));
	virtio_device_init(&b->vdev, &balloon_ops, b, name, mem);
	b->cfg = *cfg;
}

void virtio_balloon_set_target(struct virtio_balloon *b, uint32_t pages)
{
	pthread_mutex_lock(&b->vdev.lock);
	b->num_pages = pages;
	virtio_device_notify_config(&b->vdev);
	pthread_mutex_unlock(&b->vdev.lock);
}

void virtio_balloon_request_stats(struct virtio_balloon *b)
{
	pthread_mutex_lock(&b->vdev.lock);
	if (b->stats_held) {
		b->stats_held = false;
		virtio_request_complete_locked(&b->stats_req, 0);
	}
	pthread_mutex_unlock(&b->vdev.lock);
}

void virtio_balloon_get_info(struct virtio_balloon *b, struct virtio_balloon_info *info)
{
	pthread_mutex_lock(&b->vdev.lock);
	*info = (struct virtio_balloon_info){
		.target_pages = b->num_pages,
		.actual_pages = b->actual,
		.pages_released = b->pages_released,
		.pages_deflated = b->pages_deflated,
		.bytes_reported = b->bytes_reported,
		.bad_pfns = b->bad_pfns,
		.nr_stats = b->nr_stats,
		.stats_age_ms = b->stats_updated_ns ? (int64_t)(monotonic_ns() - b->stats_updated_ns) / 1000000 : -1,
	};
	memcpy(info->stat_tag, b->stat_tag, sizeof(info->stat_tag));
	memcpy(info->stat_val, b->stat_val, sizeof(info->stat_val));
	pthread_mutex_unlock(&b->vdev.lock);
}

/* ---- the device-type table entry ---- */

static int parse_on_off(bool *out, const char *value, const char *key, char *err, size_t errlen)
{
	if (strcmp(value, "on") == 0 || strcmp(value, "off") == 0) {
		*out = strcmp(value, "on") == 0;
		return 0;
	}
	snprintf(err, errlen, "%s '%s' must be 'on' or 'off'", key, value);
	return -EINVAL;
}

static int parse_deflate_on_oom(void *config, const char *value, char *err, size_t errlen)
{
	return parse_on_off(&((struct balloon_options *)config)->deflate_on_oom, value, "deflate-on-oom", err,
			    errlen);
}

static int parse_free_page_reporting(void *config, const char *value, char *err, size_t errlen)
{
	return parse_on_off(&((struct balloon_options *)config)->free_page_reporting, value,
			    "free-page-reporting", err, errlen);
}

static int parse_stats_interval(void *config, const char *value, char *err, size_t errlen)
{
	uint64_t s;

	if (!device_parse_positive(value, &s) || s > 3600) {
		snprintf(err, errlen, "stats-interval '%s' must be a whole number of seconds from 1 to 3600", value);
		return -EINVAL;
	}
	((struct balloon_options *)config)->stats_interval_s = (uint32_t)s;
	return 0;
}

static const struct device_key balloon_keys[] = {
	{ "deflate-on-oom", "on|off", "guest may deflate under memory pressure (default off)", parse_deflate_on_oom },
	{ "free-page-reporting", "on|off", "guest reports free pages, released on the host (default off)",
	  parse_free_page_reporting },
	{ "stats-interval", "SECONDS", "poll the guest's memory statistics (default: on balloon-stats only)",
	  parse_stats_interval },
	{ NULL },
};

static struct virtio_device *balloon_create(void *state, const void *config, const char *name,
					    const struct guest_mem *mem, struct reactor *reactor, char *err, size_t errlen)
{
	struct virtio_balloon *b = state;

	(void)reactor; /* the stats timer comes through the type's timer hook */
	(void)err;
	(void)errlen;

	virtio_balloon_init(b, name, mem, config);
	return &b->vdev;
}

static unsigned balloon_timer_ms(const void *config)
{
	return ((const struct balloon_options *)config)->stats_interval_s * 1000u;
}

static void balloon_timer(void *state)
{
	virtio_balloon_request_stats(state);
}

const struct device_type virtio_balloon_type = {
	.name = "balloon",
	.help = "virtio memory balloon (balloon-set/balloon-stats on --api-sock)",
	.keys = balloon_keys,
	.config_size = sizeof(struct balloon_options),
	.state_size = sizeof(struct virtio_balloon),
	.create = balloon_create,
	.timer_ms = balloon_timer_ms,
	.timer = balloon_timer,
};
