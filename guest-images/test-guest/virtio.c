/* Device initialisation (the status dance) and the virtio-rng test. Ring 0
 * except rng_user_run, which runs in ring 3. */
#include "trap.h"
#include "virtio.h"

#define DMA_POOL_SIZE (1u << 20)
static uint8_t dma_pool[DMA_POOL_SIZE] __attribute__((aligned(4096), section(".user.bss")));
static size_t dma_used;

void *dma_alloc(size_t size, size_t align)
{
	size_t at = (dma_used + align - 1) & ~(align - 1);
	if (at + size > DMA_POOL_SIZE)
		return 0;
	dma_used = at + size;
	memset(dma_pool + at, 0, size);
	return dma_pool + at;
}

size_t dma_mark(void) { return dma_used; }
void dma_release(size_t mark) { if (mark < dma_used) dma_used = mark; }

static void fail_line(struct vdev *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail_line(struct vdev *d, const char *fmt, ...)
{
	va_list ap;
	printf("%s %s %s: FAIL ", d->kind ? d->kind : "virtio-rng", transport_name(d->transport), d->where);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

bool virtio_queues_init(struct vdev *d, uint64_t device_features, unsigned max_size, struct vqueue *rqs, unsigned nq)
{
	const struct vdev_ops *ops = d->ops;

	ops->set_status(d, 0);
	for (unsigned i = 0; ops->get_status(d) != 0; i++) {
		if (i == 1000) {
			fail_line(d, "device does not reset (status 0x%x)", ops->get_status(d));
			return false;
		}
	}
	ops->set_status(d, VIRTIO_STATUS_ACK);
	ops->set_status(d, VIRTIO_STATUS_ACK | VIRTIO_STATUS_DRIVER);

	uint64_t offered = ops->get_features(d), want = 0;
	if (!ops->legacy) {
		if (!(offered & VIRTIO_F_VERSION_1)) {
			fail_line(d, "modern device does not offer VERSION_1 (features 0x%lx)", offered);
			goto failed;
		}
		want |= VIRTIO_F_VERSION_1;
		if (!opt.features_min && opt.ring != RING_SPLIT)
			want |= offered & VIRTIO_F_RING_PACKED;
		if (opt.ring == RING_PACKED && !(offered & VIRTIO_F_RING_PACKED))
			printf("%s %s %s: RING_PACKED not offered: split ring\n", d->kind ? d->kind : "virtio-rng",
			       transport_name(d->transport), d->where);
	}
	if (!opt.features_min)
		want |= offered & (VIRTIO_F_EVENT_IDX | VIRTIO_F_INDIRECT_DESC);
	want |= offered & device_features;
	ops->set_features(d, want);
	uint8_t st = VIRTIO_STATUS_ACK | VIRTIO_STATUS_DRIVER;
	if (!ops->legacy) {
		st |= VIRTIO_STATUS_FEATURES_OK;
		ops->set_status(d, st);
		if (!(ops->get_status(d) & VIRTIO_STATUS_FEATURES_OK)) {
			fail_line(d, "device refused FEATURES_OK (features 0x%lx)", want);
			goto failed;
		}
	}

	unsigned size = 0, max = 0;
	bool packed = want & VIRTIO_F_RING_PACKED;
	for (unsigned qi = 0; qi < nq; qi++) {
		struct vqueue *rq = &rqs[qi];
		max = ops->queue_max(d, qi);
		if (max == 0) {
			fail_line(d, "queue %u unavailable (size 0)", qi);
			goto failed;
		}
		size = ops->queue_size_fixed ? max : (max < max_size ? max : max_size);
		if (size > VRING_MAX_SIZE || (!packed && (size & (size - 1)))) {
			fail_line(d, "queue size %u unusable (power of two <= %u needed)", size, VRING_MAX_SIZE);
			goto failed;
		}

		uint64_t desc, avail, used;
		rq->size = size;
		rq->vqd = 0, rq->vq = 0;
		if (ops->legacy) {
			/* The legacy layout (used ring on the next 4 KiB boundary), which
			 * the shared driver does not lay out: vring.c. */
			size_t avail_off, used_off;
			size_t bytes = vring_legacy_layout((uint16_t)size, 4096, &avail_off, &used_off);
			uint8_t *ring = dma_alloc(bytes, 4096);
			rq->vq = dma_alloc(sizeof(*rq->vq), 64);
			if (!ring || !rq->vq)
				goto oom;
			vring_drv_init(rq->vq, (uint16_t)size, ring, ring + avail_off, ring + used_off,
				       (want & VIRTIO_F_EVENT_IDX) != 0, (want & VIRTIO_F_INDIRECT_DESC) != 0);
			desc = (uint64_t)ring, avail = desc + avail_off, used = desc + used_off;
		} else {
			size_t bytes = vqd_mem_size((uint16_t)size, packed);
			uint8_t *mem = dma_alloc(bytes, 4096);
			rq->vqd = dma_alloc(sizeof(*rq->vqd), 64);
			if (!mem || !rq->vqd)
				goto oom;
			uint64_t f = want & (VIRTIO_F_EVENT_IDX | VIRTIO_F_INDIRECT_DESC);
			int r = packed ? vqd_init_packed(rq->vqd, (uint16_t)size, mem, (uint64_t)mem, f)
				       : vqd_init_split(rq->vqd, (uint16_t)size, mem, (uint64_t)mem, f);
			if (r < 0) {
				fail_line(d, "vqd_init_%s(size %u) failed: %d", packed ? "packed" : "split", size, r);
				goto failed;
			}
			vqd_disable_cb(rq->vqd); /* we poll */
			desc = rq->vqd->desc_gpa, avail = rq->vqd->avail_gpa, used = rq->vqd->used_gpa;
		}
		if (ops->queue_setup(d, qi, (uint16_t)size, desc, avail, used) < 0)
			goto failed;
	}

	st |= VIRTIO_STATUS_DRIVER_OK;
	ops->set_status(d, st);
	uint8_t now = ops->get_status(d);
	if (now & (VIRTIO_STATUS_NEEDS_RESET | VIRTIO_STATUS_FAILED) || !(now & VIRTIO_STATUS_DRIVER_OK)) {
		fail_line(d, "status 0x%x after DRIVER_OK", now);
		goto failed;
	}
	printf("%s %s %s: features offered 0x%lx accepted 0x%lx, %s ring of %u (max %u)\n",
	       d->kind ? d->kind : "virtio-rng", transport_name(d->transport), d->where, offered, want,
	       packed ? "packed" : "split", size, max);
	return true;

oom:
	fail_line(d, "out of DMA memory");
failed:
	ops->set_status(d, ops->get_status(d) | VIRTIO_STATUS_FAILED);
	return false;
}

bool virtio_queue_init(struct vdev *d, uint64_t device_features, unsigned max_size, struct vqueue *rq)
{
	return virtio_queues_init(d, device_features, max_size, rq, 1);
}

bool virtio_rng_test(struct vdev *d)
{
	struct vqueue rq;
	bool ok = false;

	if (!virtio_queue_init(d, 0, 64, &rq))
		goto out;
	bool indirect = rq.vqd ? rq.vqd->indirect : rq.vq->indirect;
	bool event_idx = rq.vqd ? rq.vqd->event_idx : rq.vq->event_idx;

	unsigned nreq = opt.requests < 2 ? 2 : opt.requests > RNG_MAX_REQ ? RNG_MAX_REQ : opt.requests;
	const uint32_t req_len = 64;
	struct rng_job *job = dma_alloc(sizeof(*job), 64);
	uint8_t *bufs = dma_alloc((size_t)nreq * req_len, 64);
	/* vring.c takes indirect tables from the caller; driver.c has its own. */
	struct vring_desc *tables = rq.vq && indirect ? dma_alloc(2 * 64 * sizeof(struct vring_desc), 16) : 0;
	if (!job || !bufs || (rq.vq && indirect && !tables)) {
		fail_line(d, "out of DMA memory");
		goto reset;
	}
	job->vqd = rq.vqd;
	job->vq = rq.vq;
	d->ops->queue_notify(d, 0, &job->notify);
	job->nreq = nreq;
	job->req_len = req_len;
	job->bufs = bufs;
	job->indirect = tables;
	job->timeout_cycles = (uint64_t)opt.timeout_ms * 3000000; /* ~3 GHz TSC: at least timeout_ms */

	long r = user_call(rng_user_run, job);
	if (r == -1) {
		fail_line(d, "request %u of %u: no used buffer within ~%u ms (%u kicks)", job->err_req, nreq,
			  opt.timeout_ms, job->kicks);
		goto reset;
	}
	if (r == -2) {
		fail_line(d, "request %u: the device returned a buffer id that was not outstanding", job->err_req);
		goto reset;
	}
	if (r != 0) {
		fail_line(d, "request %u: ring full (error %ld)", job->err_req, r);
		goto reset;
	}
	for (unsigned i = 0; i < nreq; i++) {
		uint32_t len = job->used_len[i];
		const uint8_t *b = bufs + (size_t)i * req_len;
		if (len == 0 || len > req_len) {
			fail_line(d, "request %u: used length %u (asked for %u)", i, len, req_len);
			goto reset;
		}
		if (len >= 8 && all_zero(b, len)) {
			fail_line(d, "request %u: %u bytes, all zero", i, len);
			goto reset;
		}
		if (!all_zero(b + len, req_len - len)) {
			fail_line(d, "request %u: bytes written past the used length %u", i, len);
			goto reset;
		}
	}
	uint32_t cmp = job->used_len[0] < job->used_len[1] ? job->used_len[0] : job->used_len[1];
	if (cmp >= 8 && memcmp(bufs, bufs + req_len, cmp) == 0) {
		fail_line(d, "requests 0 and 1 returned the same %u bytes", cmp);
		goto reset;
	}
	printf("virtio-rng %s %s: OK ", transport_name(d->transport), d->where);
	for (unsigned i = 0; i < 8 && i < job->used_len[0]; i++)
		printf("%02x", bufs[i]);
	printf(" (%u requests of %u bytes, %s ring%s%s, %u kicks, %lu TSC cycles in ring 3)\n", nreq, req_len,
	       rq.vqd ? (rq.vqd->packed ? "packed" : "split") : "legacy split", indirect ? ", indirect" : "",
	       event_idx ? ", event-idx" : "", job->kicks, job->cycles);
	ok = true;
reset:
	d->ops->set_status(d, 0);
out:
	if (ok)
		result_pass();
	else
		result_fail();
	return ok;
}
