/* virtio memory balloon (VIRTIO 1.x section 5.5): device ID 5.
 *
 * The host sets a target (config num_pages, in 4 KiB pages: the control
 * socket's balloon-set); the guest driver inflates towards it by handing
 * pages over on the inflate queue, and deflates by taking them back on the
 * deflate queue. It writes how many it holds to config `actual`.
 *
 * Guest RAM is anonymous private memory (kvm/kvm.c: MAP_PRIVATE |
 * MAP_ANONYMOUS | MAP_NORESERVE), so an inflated page goes back to the
 * host with madvise(MADV_DONTNEED): the host frees it at once and KVM's
 * MMU notifier drops the guest's mapping. A deflated page needs nothing:
 * the guest's next touch faults in a fresh zero page. Every PFN is
 * checked against guest RAM (guest_mem_ptr: inside one RAM region, never
 * in a hole or beyond the end); a bad one is counted as an error and
 * skipped. Releasing a page twice is harmless.
 *
 * Queues, in this order, each only if its feature was negotiated (the
 * driver numbers the ones it uses consecutively, so the index of the
 * reporting queue depends on STATS_VQ):
 *   inflate, deflate                 always
 *   stats       VIRTIO_BALLOON_F_STATS_VQ (always offered): the driver
 *               keeps one buffer of (tag, value) pairs with the device; the
 *               device hands it back every stats-interval seconds (and on
 *               balloon-stats) and the driver returns it refilled
 *   reporting   VIRTIO_BALLOON_F_REPORTING (free-page-reporting=on): free
 *               guest pages (large blocks) to release like inflated ones,
 *               without taking them out of the guest
 * DEFLATE_ON_OOM (deflate-on-oom=on) lets the guest deflate under memory
 * pressure without being asked; the deflate queue serves it as usual. */
#ifndef SKIFF_VIRTIO_BALLOON_H
#define SKIFF_VIRTIO_BALLOON_H

#include <stdbool.h>
#include <stdint.h>

#include <linux/virtio_balloon.h>

#include "devices/device-types.h"
#include "virtio/virtio-device.h"
#include "base/log.h"

#define VIRTIO_BALLOON_QUEUE_SIZE 128
#define VIRTIO_BALLOON_MAX_QUEUES 4     /* inflate, deflate, stats, reporting */
#define VIRTIO_BALLOON_STATS_TAGS 16    /* tags kept (Linux 6.1 sends 10) */
#define VIRTIO_BALLOON_PAGE_SIZE  (1u << VIRTIO_BALLOON_PFN_SHIFT)

enum balloon_queue_role {
	BALLOON_Q_INFLATE,
	BALLOON_Q_DEFLATE,
	BALLOON_Q_STATS,
	BALLOON_Q_REPORTING,
	BALLOON_Q_NONE,
};

/* --device balloon keys, parsed. */
struct balloon_options {
	bool deflate_on_oom;
	bool free_page_reporting;
	uint32_t stats_interval_s; /* 0: only when balloon-stats asks */
};

struct virtio_balloon {
	struct virtio_device vdev;
	struct balloon_options cfg;
	/* Guarded by vdev.lock: */
	uint32_t num_pages;         /* target, as the driver reads it */
	uint32_t actual;            /* what the driver says it holds */
	uint64_t pages_released;    /* inflate PFNs given back to the host */
	uint64_t pages_deflated;    /* deflate PFNs */
	uint64_t bytes_reported;    /* free page reporting, released */
	uint64_t bad_pfns;          /* PFNs outside guest RAM, ignored */
	struct log_limit log_bad_pfn;
	/* Statistics: the driver's last numbers, and its buffer, held until
	 * the device wants new ones. */
	uint16_t stat_tag[VIRTIO_BALLOON_STATS_TAGS];
	uint64_t stat_val[VIRTIO_BALLOON_STATS_TAGS];
	unsigned nr_stats;
	uint64_t stats_updated_ns;  /* CLOCK_MONOTONIC; 0 = never */
	bool stats_held;
	struct virtio_request stats_req;
};

/* What `status` and `balloon-stats` show. */
struct virtio_balloon_info {
	uint32_t target_pages, actual_pages;
	uint64_t pages_released, pages_deflated, bytes_reported, bad_pfns;
	unsigned nr_stats;
	uint16_t stat_tag[VIRTIO_BALLOON_STATS_TAGS];
	uint64_t stat_val[VIRTIO_BALLOON_STATS_TAGS];
	int64_t stats_age_ms;       /* -1: no statistics yet */
};

extern const struct device_type virtio_balloon_type;

void virtio_balloon_init(struct virtio_balloon *b, const char *name, const struct guest_mem *mem,
			 const struct balloon_options *cfg);
/* Ask the guest to hold `pages` 4 KiB pages (config change interrupt). */
void virtio_balloon_set_target(struct virtio_balloon *b, uint32_t pages);
/* Hand the held statistics buffer back so the driver refills it. */
void virtio_balloon_request_stats(struct virtio_balloon *b);
void virtio_balloon_get_info(struct virtio_balloon *b, struct virtio_balloon_info *info);
/* Which queue index does what, given the negotiated features. */
enum balloon_queue_role virtio_balloon_queue_role(uint64_t features, unsigned q);
/* Name of a statistics tag ("free-memory"), or NULL if unknown. */
const char *virtio_balloon_stat_name(uint16_t tag);

#endif
