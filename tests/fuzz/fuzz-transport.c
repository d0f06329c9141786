/* libFuzzer target for the virtio transports: virtio/virtio-mmio.c (versions
 * 1 and 2) and virtio/virtio-pci.c (modern, transitional, legacy), with
 * virtio/virtio-device.c and the virtqueue engine under them and a real
 * device behind them.
 *
 * Each input is a hostile guest driver: a 4-byte header choosing the
 * transport and the device, a program of 8-byte steps (register writes
 * and reads, kicks, writes into guest RAM, and device-side events such as
 * completing a held request), then the initial contents of guest RAM.
 * The devices hold requests in flight across whatever the program does
 * to the queues: enable, disable, resize, PFN writes, resets, feature
 * renegotiation, split and packed rings. That is how issue 17's write
 * past guest RAM was reached (a held request completed into a queue
 * restarted smaller).
 *
 * Guest RAM is two regions, each followed by 2 MiB of PROT_NONE host
 * memory: any access past RAM faults (a ring index times 16 reaches at
 * most 1 MiB). After every step the target also checks the engine's
 * ring invariants and the in-flight count; at the end the driver resets
 * the device, which must leave nothing in flight.
 * Build and run: see tests/fuzz/README. Not part of "make check". */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>

#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_mmio.h>

#include "bus/bus.h"
#include "bus/pci.h"
#include "virtio/virtio-mmio.h"
#include "virtio/virtio-pci.h"
#include "devices/virtio-balloon.h"
#include "virtio/virtio-device.h"
#include "devices/virtio-rng.h"
#include "tests/fuzz/fuzz-transport.h"
#include "base/log.h"

#define GUARD_SIZE (2u << 20)
#define MMIO_BASE  0xd0000000ull
#define MMIO_GSI   5

/* ---- guest RAM with guards ---- */

static uint8_t *ram0, *ram1;

/* Hosts filled in by ram_map(). */
static struct guest_mem mem = {
	.region = { { .gpa = FT_RAM0_GPA, .size = FT_RAM0_SIZE },
		    { .gpa = FT_RAM1_GPA, .size = FT_RAM1_SIZE } },
	.nr_regions = 2,
};

/* [guard][region 0][guard][region 1][guard], reserved once: only the
 * regions are readable and writable. */
static void ram_map(void)
{
	size_t total = 3 * (size_t)GUARD_SIZE + FT_RAM0_SIZE + FT_RAM1_SIZE;
	uint8_t *base = mmap(NULL, total, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	if (base == MAP_FAILED)
		abort();
	ram0 = base + GUARD_SIZE;
	ram1 = ram0 + FT_RAM0_SIZE + GUARD_SIZE;
	mem.region[0].host = ram0;
	mem.region[1].host = ram1;
	if (mprotect(ram0, FT_RAM0_SIZE, PROT_READ | PROT_WRITE) < 0 ||
	    mprotect(ram1, FT_RAM1_SIZE, PROT_READ | PROT_WRITE) < 0)
		abort();
}

/* ---- a platform without ioeventfds: every kick exits to the transport ---- */

static int plat_notify_add(void *ctx, bool pio, uint64_t addr, unsigned len, bool datamatch, uint64_t data,
			   struct virtio_device *dev, unsigned q)
{
	return -ENOSYS;
}

static void plat_set_irq(void *ctx, unsigned gsi, int level)
{
}

static int plat_msi_route_set(void *ctx, int route, uint64_t address, uint32_t data)
{
	static int next_route;

	return route >= 0 ? route : next_route++ & 0xffff;
}

static void plat_msi_route_fire(void *ctx, int route)
{
	if (route < 0)
		abort(); /* a message sent on a route never set */
}

static const struct virtio_platform plat = {
	.notify_add = plat_notify_add,
	.set_irq = plat_set_irq,
	.msi_route_set = plat_msi_route_set,
	.msi_route_fire = plat_msi_route_fire,
};

/* ---- a device double that keeps what it pops until the program
 * completes it, in any order, alone or as a batch (as blk, scsi and net
 * do from their threads) ---- */

#define HOLDER_QUEUES 3
#define HOLDER_QSIZE  256
#define HELD_MAX      64

struct held {
	struct virtio_request req;
	unsigned group;               /* popped in the same queue_notify */
};

struct holder {
	struct virtio_device vdev;
	uint8_t config[8];
	unsigned nheld, groups;
	struct held held[HELD_MAX];
	unsigned pop_limit;           /* per notify; 0 = as many as fit */
	bool unpop_last;              /* give the last one of each notify back */
};

static uint64_t holder_features(struct virtio_device *dev)
{
	return VIRTIO_FEATURE(0) | VIRTIO_FEATURE(5);
}

static void holder_config_read(struct virtio_device *dev, size_t offset, void *data, size_t len)
{
	struct holder *h = dev->priv;

	memcpy(data, h->config + offset, len);
}

static void holder_config_write(struct virtio_device *dev, size_t offset, const void *data, size_t len)
{
	struct holder *h = dev->priv;

	memcpy(h->config + offset, data, len);
}

static bool holder_queue_notify(struct virtio_device *dev, unsigned q, unsigned budget)
{
	struct holder *h = dev->priv;
	unsigned popped = 0, group = h->groups++;

	while (h->nheld < HELD_MAX && popped < budget && (!h->pop_limit || popped < h->pop_limit)) {
		struct held *slot = &h->held[h->nheld];

		if (virtio_request_pop(dev, q, &slot->req) != 1)
			break;
		slot->group = group;
		h->nheld++;
		popped++;
	}
	if (popped && h->unpop_last) {
		virtio_request_unpop(&h->held[--h->nheld].req);
		return false; /* like a device out of resources: wait for the next kick */
	}
	return popped == budget;
}

/* What a device thread does when it finishes: write the reply into the
 * request's buffers (they were checked when popped and stay guest RAM,
 * whatever the driver did to the queue since). */
static uint32_t holder_fill(const struct virtio_request *req, uint32_t want)
{
	struct iovec iov[VQ_MAX_SEGS];
	int n = virtio_request_iov(req, true, iov, VQ_MAX_SEGS);
	uint32_t done = 0;

	for (int i = 0; i < n && done < want; i++) {
		size_t len = iov[i].iov_len < want - done ? iov[i].iov_len : want - done;

		memset(iov[i].iov_base, 0xd5, len);
		done += (uint32_t)len;
	}
	return done;
}

static void holder_forget(struct holder *h, unsigned k)
{
	memmove(&h->held[k], &h->held[k + 1], (h->nheld - k - 1) * sizeof(h->held[0]));
	h->nheld--;
}

static void holder_complete_one(struct holder *h, unsigned k, uint32_t written)
{
	struct virtio_request *req = &h->held[k].req;

	virtio_request_complete_locked(req, holder_fill(req, written));
	holder_forget(h, k);
}

/* Complete held[k] with every other request of its queue popped in the
 * same notify, as one batch (virtio-net's receive path). */
static void holder_complete_group(struct holder *h, unsigned k, uint32_t written)
{
	struct virtio_request batch[VIRTIO_REQUEST_BATCH_MAX];
	uint32_t lens[VIRTIO_REQUEST_BATCH_MAX];
	unsigned group = h->held[k].group, q = h->held[k].req.q, n = 0;

	for (unsigned i = 0; i < h->nheld;) {
		if (h->held[i].group == group && h->held[i].req.q == q && n < VIRTIO_REQUEST_BATCH_MAX) {
			batch[n] = h->held[i].req;
			lens[n] = holder_fill(&batch[n], written);
			n++;
			holder_forget(h, i);
		} else {
			i++;
		}
	}
	virtio_request_complete_batch_locked(batch, lens, n);
}

static void holder_reset(struct virtio_device *dev)
{
	struct holder *h = dev->priv;

	while (h->nheld)
		holder_complete_one(h, h->nheld - 1, 0);
}

static const struct virtio_device_ops holder_ops = {
	.type = "holder",
	.device_id = VIRTIO_ID_BLOCK, /* has a transitional PCI ID */
	.nr_queues = HOLDER_QUEUES,
	.queue_max_size = HOLDER_QSIZE,
	.config_size = sizeof(((struct holder *)0)->config),
	.features = holder_features,
	.config_read = holder_config_read,
	.config_write = holder_config_write,
	.queue_notify = holder_queue_notify,
	.reset = holder_reset,
};

/* ---- the machine for one input ---- */

struct world {
	struct bus pio, mmio;
	struct pci_host host;
	enum ft_transport transport;
	enum ft_device device;
	struct virtio_device *dev;
	struct virtio_pci vp;
	struct virtio_mmio vm;
	struct holder holder;
	struct virtio_balloon balloon;
	struct virtio_rng rng;
};

static uint64_t fake_ns;

static uint64_t fake_clock(void)
{
	return fake_ns;
}

static int world_create(struct world *w, const struct ft_header *hdr)
{
	static const enum virtio_pci_mode pci_mode[] = {
		[FT_PCI_MODERN] = VIRTIO_PCI_MODERN,
		[FT_PCI_TRANSITIONAL] = VIRTIO_PCI_TRANSITIONAL,
		[FT_PCI_LEGACY] = VIRTIO_PCI_LEGACY,
	};

	w->transport = hdr->transport % FT_NR_TRANSPORTS;
	w->device = hdr->device % FT_NR_DEVICES;
	bus_init(&w->pio, "pio");
	bus_init(&w->mmio, "mmio");
	switch (w->device) {
	case FT_HOLDER:
		virtio_device_init(&w->holder.vdev, &holder_ops, &w->holder, "holder0", &mem);
		w->holder.pop_limit = hdr->flags & 7;
		w->holder.unpop_last = hdr->flags & 8;
		w->dev = &w->holder.vdev;
		break;
	case FT_BALLOON: {
		struct balloon_options opts = { .deflate_on_oom = hdr->flags & 1, .free_page_reporting = hdr->flags & 2 };

		virtio_balloon_init(&w->balloon, "balloon0", &mem, &opts);
		w->dev = &w->balloon.vdev;
		break;
	}
	default: /* FT_RNG */
		virtio_rng_init(&w->rng, "rng0", &mem, 64ull * hdr->flags); /* 0: unlimited */
		w->rng.clock_ns = fake_clock;
		w->rng.last_refill_ns = fake_ns;
		w->dev = &w->rng.vdev;
		break;
	}
	if (w->transport == FT_MMIO_V1 || w->transport == FT_MMIO_V2)
		return virtio_mmio_create(&w->vm, w->dev, w->transport == FT_MMIO_V1 ? 1 : 2, MMIO_BASE, MMIO_GSI,
					  &w->mmio, &plat);
	if (pci_host_init(&w->host, &w->pio, &w->mmio, plat_set_irq, NULL) < 0)
		return -1;
	return virtio_pci_create(&w->vp, w->dev, pci_mode[w->transport], &w->host, &plat);
}

/* ---- register accesses ---- */

/* Where a step's (region, offset) lands: a BAR and an offset in it. */
static const struct pci_bar *pci_target(struct world *w, unsigned region, uint16_t off, uint64_t *offset)
{
	static const struct {
		unsigned bar;
		uint64_t base, span;
	} map[] = {
		{ VIRTIO_PCI_MODERN_BAR, VIRTIO_PCI_COMMON_OFFSET, 0x40 },
		{ VIRTIO_PCI_MODERN_BAR, VIRTIO_PCI_ISR_OFFSET, 4 },
		{ VIRTIO_PCI_MODERN_BAR, VIRTIO_PCI_DEVICE_OFFSET, 0x100 },
		{ VIRTIO_PCI_MODERN_BAR, VIRTIO_PCI_NOTIFY_OFFSET, VIRTIO_PCI_NOTIFY_MULTIPLIER * 8 },
		{ VIRTIO_PCI_LEGACY_BAR, 0, 0 },  /* the whole BAR */
		{ VIRTIO_PCI_MSIX_BAR, 0, 0 },
		{ VIRTIO_PCI_MODERN_BAR, 0, 0 },
	};
	const struct pci_bar *bar = &w->vp.pci.bar[map[region % 7].bar];
	uint64_t span = map[region % 7].span ? map[region % 7].span : bar->size;

	if (!bar->ops || !span)
		return NULL; /* not in this personality */
	*offset = map[region % 7].base + off % span;
	return bar;
}

/* sel: bits 0-1 width (1, 2, 4, 8 bytes), bits 2-4 region, bit 5
 * unaligned. MMIO regions: registers, config space. */
static void reg_access(struct world *w, const struct ft_step *s, bool write)
{
	unsigned len = 1u << (s->sel & 3), region = (s->sel >> 2) & 7;
	uint64_t offset;
	uint8_t data[8];

	bus_store_le(data, 8, s->value);
	if (w->transport == FT_MMIO_V1 || w->transport == FT_MMIO_V2) {
		offset = (region & 1 ? VIRTIO_MMIO_CONFIG : 0) + s->off % 0x100;
		if (!(s->sel & 0x20))
			offset &= ~(uint64_t)(len - 1);
		bus_dispatch(&w->mmio, MMIO_BASE + offset, data, len, write);
		return;
	}
	const struct pci_bar *bar = pci_target(w, region, s->off, &offset);
	if (!bar)
		return;
	if (!(s->sel & 0x20))
		offset &= ~(uint64_t)(len - 1);
	if (offset + len > bar->size)
		return; /* the bus would not route it here */
	if (write)
		bar->ops->write(bar->opaque, offset, data, len);
	else
		bar->ops->read(bar->opaque, offset, data, len);
}

static void pci_config_access(struct world *w, const struct ft_step *s)
{
	unsigned len = 1u << (s->sel & 3);
	unsigned offset = s->sel & 0x10 ? w->vp.msix.cap_offset + s->off % 12u : s->off % PCI_CONFIG_SIZE;

	if (w->transport == FT_MMIO_V1 || w->transport == FT_MMIO_V2 || len > 4)
		return;
	pci_config_write(&w->vp.pci, offset & ~(len - 1), len, s->value);
}

/* ---- device-side events ---- */

static void device_event(struct world *w, const struct ft_step *s)
{
	struct virtio_device *dev = w->dev;

	switch (w->device) {
	case FT_HOLDER: {
		struct holder *h = &w->holder;

		struct virtio_request req;
		bool from_thread = false;

		pthread_mutex_lock(&dev->lock);
		if (h->nheld) {
			unsigned k = s->off % h->nheld;

			if (s->sel & 1) {
				holder_complete_group(h, k, s->value);
			} else if (s->sel & 2) {
				req = h->held[k].req; /* a device thread's: completed without dev->lock */
				holder_forget(h, k);
				from_thread = true;
			} else {
				holder_complete_one(h, k, s->value);
			}
		}
		pthread_mutex_unlock(&dev->lock);
		if (from_thread)
			virtio_request_complete(&req, holder_fill(&req, s->value));
		break;
	}
	case FT_BALLOON:
		if (s->sel & 1)
			virtio_balloon_set_target(&w->balloon, s->value % (FT_RAM0_SIZE / VIRTIO_BALLOON_PAGE_SIZE + 2));
		else
			virtio_balloon_request_stats(&w->balloon);
		break;
	default: /* FT_RNG */
		fake_ns += (uint64_t)s->value * 1000; /* microseconds pass */
		virtio_rng_poll(&w->rng);
		break;
	}
}

/* ---- invariants ---- */

static unsigned device_holds(const struct world *w)
{
	switch (w->device) {
	case FT_HOLDER:
		return w->holder.nheld;
	case FT_BALLOON:
		return w->balloon.stats_held;
	default:
		return 0; /* rng completes or gives back at once */
	}
}

static void check_invariants(const struct world *w)
{
	const struct virtio_device *dev = w->dev;

	if (dev->inflight != device_holds(w))
		abort();
	for (unsigned q = 0; q < dev->ops->nr_queues; q++) {
		const struct virtqueue *vq = &dev->vqs[q];

		if (!vq->ready || vq->broken)
			continue;
		if (vq->slots_out > vq->ring_size)
			abort();
		if (vq->packed && (vq->used_idx >= vq->ring_size || vq->last_avail >= vq->ring_size))
			abort();
	}
}

/* FT_TRACE=1 in the environment: one line per step (for writing seeds). */
static bool trace;

static void trace_step(const struct world *w, size_t i, const struct ft_step *s)
{
	const struct virtio_device *dev = w->dev;

	fprintf(stderr, "step %zu: op %u sel %#x off %#x value %#x: status %#x features %#llx inflight %u", i,
		s->op % FT_NR_OPS, s->sel, s->off, s->value, dev->status, (unsigned long long)dev->features,
		dev->inflight);
	for (unsigned q = 0; q < dev->ops->nr_queues; q++)
		if (dev->vqs[q].ready)
			fprintf(stderr, " q%u:%s%u@%#llx used %u", q, dev->vqs[q].packed ? "packed" : "split",
				dev->vqs[q].ring_size, (unsigned long long)dev->vqs[q].desc_addr, dev->vqs[q].used_idx);
	fprintf(stderr, "\n");
}

static void run_step(struct world *w, const struct ft_step *s)
{
	switch (s->op % FT_NR_OPS) {
	case FT_OP_WRITE:
		reg_access(w, s, true);
		break;
	case FT_OP_READ:
		reg_access(w, s, false);
		break;
	case FT_OP_KICK:
		virtio_device_kick(w->dev, s->value % (w->dev->ops->nr_queues + 1));
		break;
	case FT_OP_DEVICE:
		device_event(w, s);
		break;
	case FT_OP_POKE: {
		uint8_t *ram = s->sel & 1 ? ram1 : ram0;
		size_t size = s->sel & 1 ? FT_RAM1_SIZE : FT_RAM0_SIZE;
		size_t at = s->off % (size - 3);

		memcpy(ram + at, &s->value, 4);
		break;
	}
	case FT_OP_PCI_CONFIG:
		pci_config_access(w, s);
		break;
	}
	check_invariants(w);
}

/* The driver resets the device: nothing may stay in flight. */
static void world_reset(struct world *w)
{
	pthread_mutex_lock(&w->dev->lock);
	virtio_device_reset(w->dev);
	pthread_mutex_unlock(&w->dev->lock);
	if (w->dev->inflight || device_holds(w))
		abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	trace = getenv("FT_TRACE");
	/* Guest errors are logged at debug or warning level. */
	log_threshold = trace ? LOG_DEBUG : LOG_ERROR;
	ram_map();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct world world;
	struct world *w = &world;
	struct ft_header hdr;
	size_t nsteps, ram_bytes;

	if (size < sizeof(hdr))
		return -1;
	memcpy(&hdr, data, sizeof(hdr));
	data += sizeof(hdr);
	size -= sizeof(hdr);
	nsteps = hdr.nsteps * sizeof(struct ft_step) <= size ? hdr.nsteps : size / sizeof(struct ft_step);

	/* RAM: what follows the program, then zeros. */
	ram_bytes = size - nsteps * sizeof(struct ft_step);
	memset(ram0, 0, FT_RAM0_SIZE);
	memset(ram1, 0, FT_RAM1_SIZE);
	memcpy(ram0, data + nsteps * sizeof(struct ft_step), ram_bytes < FT_RAM0_SIZE ? ram_bytes : FT_RAM0_SIZE);
	if (ram_bytes > FT_RAM0_SIZE)
		memcpy(ram1, data + nsteps * sizeof(struct ft_step) + FT_RAM0_SIZE,
		       ram_bytes - FT_RAM0_SIZE < FT_RAM1_SIZE ? ram_bytes - FT_RAM0_SIZE : FT_RAM1_SIZE);

	/* One machine, cleared per input: a fresh allocation this size
	 * costs ASan several system calls each time. */
	memset(w, 0, sizeof(*w));
	if (world_create(w, &hdr) < 0)
		abort(); /* every transport takes every device here */
	for (size_t i = 0; i < nsteps; i++) {
		struct ft_step s;

		memcpy(&s, data + i * sizeof(s), sizeof(s));
		run_step(w, &s);
		if (trace)
			trace_step(w, i, &s);
	}
	world_reset(w);
	if (w->transport == FT_MMIO_V1 || w->transport == FT_MMIO_V2)
		virtio_mmio_destroy(&w->vm);
	else
		virtio_pci_destroy(&w->vp);
	return 0;
}
