/* virtio-mmio, version 2 (modern) and version 1 (legacy: GuestPageSize,
 * QueueAlign, QueuePFN). Ring 0. Where to look: opt.mmio_addr (from
 * mmio= or virtio_mmio.device= on the command line), else skiff's slots
 * (0xd0000000 + n * 0x1000, n < 32) and QEMU microvm's (0xfeb00000 +
 * n * 0x200, n < 32). */
#include "virtio.h"

#define MMIO_MAGIC 0x000
#define MMIO_VERSION 0x004
#define MMIO_DEVICE_ID 0x008
#define MMIO_VENDOR_ID 0x00c
#define MMIO_DEVICE_FEATURES 0x010
#define MMIO_DEVICE_FEATURES_SEL 0x014
#define MMIO_DRIVER_FEATURES 0x020
#define MMIO_DRIVER_FEATURES_SEL 0x024
#define MMIO_GUEST_PAGE_SIZE 0x028 /* v1 */
#define MMIO_QUEUE_SEL 0x030
#define MMIO_QUEUE_NUM_MAX 0x034
#define MMIO_QUEUE_NUM 0x038
#define MMIO_QUEUE_ALIGN 0x03c /* v1 */
#define MMIO_QUEUE_PFN 0x040   /* v1 */
#define MMIO_QUEUE_READY 0x044 /* v2 */
#define MMIO_QUEUE_NOTIFY 0x050
#define MMIO_INTERRUPT_STATUS 0x060
#define MMIO_INTERRUPT_ACK 0x064
#define MMIO_STATUS 0x070
#define MMIO_QUEUE_DESC_LOW 0x080
#define MMIO_QUEUE_DESC_HIGH 0x084
#define MMIO_QUEUE_DRIVER_LOW 0x090
#define MMIO_QUEUE_DRIVER_HIGH 0x094
#define MMIO_QUEUE_DEVICE_LOW 0x0a0
#define MMIO_QUEUE_DEVICE_HIGH 0x0a4

#define VIRTIO_MMIO_MAGIC 0x74726976 /* "virt" */

#define SKIFF_VIRTIO_MMIO 0xd0000000ull /* kvm/x86/layout.h LAYOUT_VIRTIO_MMIO */
#define SKIFF_VIRTIO_MMIO_SLOT 0x1000
#define MICROVM_VIRTIO_MMIO 0xfeb00000ull
#define MICROVM_VIRTIO_MMIO_SLOT 0x200

static uint32_t rd(struct vdev *d, unsigned off) { return mmio_read32(d->mmio + off); }
static void wr(struct vdev *d, unsigned off, uint32_t v) { mmio_write32(d->mmio + off, v); }

static uint8_t get_status(struct vdev *d) { return (uint8_t)rd(d, MMIO_STATUS); }
static void set_status(struct vdev *d, uint8_t s) { wr(d, MMIO_STATUS, s); }

static uint64_t get_features(struct vdev *d)
{
	wr(d, MMIO_DEVICE_FEATURES_SEL, 0);
	uint64_t lo = rd(d, MMIO_DEVICE_FEATURES);
	if (d->ops->legacy)
		return lo;
	wr(d, MMIO_DEVICE_FEATURES_SEL, 1);
	return lo | (uint64_t)rd(d, MMIO_DEVICE_FEATURES) << 32;
}

static void set_features(struct vdev *d, uint64_t f)
{
	wr(d, MMIO_DRIVER_FEATURES_SEL, 0);
	wr(d, MMIO_DRIVER_FEATURES, (uint32_t)f);
	wr(d, MMIO_DRIVER_FEATURES_SEL, 1);
	wr(d, MMIO_DRIVER_FEATURES, (uint32_t)(f >> 32));
}

static unsigned queue_max(struct vdev *d, unsigned q)
{
	wr(d, MMIO_QUEUE_SEL, q);
	if (rd(d, d->ops->legacy ? MMIO_QUEUE_PFN : MMIO_QUEUE_READY) != 0)
		return 0; /* already in use */
	return rd(d, MMIO_QUEUE_NUM_MAX);
}

static int queue_setup_v2(struct vdev *d, unsigned q, uint16_t size, uint64_t desc, uint64_t avail, uint64_t used)
{
	wr(d, MMIO_QUEUE_SEL, q);
	wr(d, MMIO_QUEUE_NUM, size);
	wr(d, MMIO_QUEUE_DESC_LOW, (uint32_t)desc);
	wr(d, MMIO_QUEUE_DESC_HIGH, (uint32_t)(desc >> 32));
	wr(d, MMIO_QUEUE_DRIVER_LOW, (uint32_t)avail);
	wr(d, MMIO_QUEUE_DRIVER_HIGH, (uint32_t)(avail >> 32));
	wr(d, MMIO_QUEUE_DEVICE_LOW, (uint32_t)used);
	wr(d, MMIO_QUEUE_DEVICE_HIGH, (uint32_t)(used >> 32));
	wr(d, MMIO_QUEUE_READY, 1);
	if (rd(d, MMIO_QUEUE_READY) != 1) {
		printf("virtio-rng mmio %s: FAIL QueueReady reads back 0\n", d->where);
		return -1;
	}
	return 0;
}

static int queue_setup_v1(struct vdev *d, unsigned q, uint16_t size, uint64_t desc, uint64_t avail, uint64_t used)
{
	(void)avail, (void)used; /* implied by desc, size and the alignment */
	wr(d, MMIO_GUEST_PAGE_SIZE, 4096);
	wr(d, MMIO_QUEUE_SEL, q);
	wr(d, MMIO_QUEUE_NUM, size);
	wr(d, MMIO_QUEUE_ALIGN, 4096);
	wr(d, MMIO_QUEUE_PFN, (uint32_t)(desc >> 12));
	if (rd(d, MMIO_QUEUE_PFN) != (uint32_t)(desc >> 12)) {
		printf("virtio-rng mmio-legacy %s: FAIL QueuePFN reads back 0x%x\n", d->where, rd(d, MMIO_QUEUE_PFN));
		return -1;
	}
	return 0;
}

static void queue_notify(struct vdev *d, unsigned q, struct vnotify *n)
{
	n->kind = NOTIFY_MMIO32;
	n->addr = d->mmio + MMIO_QUEUE_NOTIFY;
	n->value = q;
}

static const struct vdev_ops mmio_v2_ops = {
	.legacy = false,
	.get_status = get_status,
	.set_status = set_status,
	.get_features = get_features,
	.set_features = set_features,
	.queue_max = queue_max,
	.queue_setup = queue_setup_v2,
	.queue_notify = queue_notify,
};

static const struct vdev_ops mmio_v1_ops = {
	.legacy = true,
	.get_status = get_status,
	.set_status = set_status,
	.get_features = get_features,
	.set_features = set_features,
	.queue_max = queue_max,
	.queue_setup = queue_setup_v1,
	.queue_notify = queue_notify,
};

static void where_addr(struct vdev *d, uint64_t a)
{
	static const char hex[] = "0123456789abcdef";
	char *w = d->where;
	*w++ = '0', *w++ = 'x';
	for (int s = 28; s >= 0; s -= 4)
		*w++ = hex[(a >> s) & 15];
	*w = 0;
}

/* One slot: returns true if a virtio-mmio device (even a placeholder) is there. */
static bool probe_one(uint64_t addr, unsigned *found, unsigned *passed, unsigned *placeholders)
{
	if (mmio_read32(addr + MMIO_MAGIC) != VIRTIO_MMIO_MAGIC)
		return false;
	uint32_t version = mmio_read32(addr + MMIO_VERSION);
	uint32_t id = mmio_read32(addr + MMIO_DEVICE_ID);
	uint32_t vendor = mmio_read32(addr + MMIO_VENDOR_ID);
	if (id == 0) {
		(*placeholders)++; /* QEMU's empty transports */
		return true;
	}
	printf("virtio-mmio 0x%lx: version %u device id %u vendor 0x%x\n", addr, version, id, vendor);
	if (id == VIRTIO_ID_BLOCK && opt.bench_ms && version == 2) {
		struct vdev d = { .ops = &mmio_v2_ops, .transport = TRANSPORT_MMIO, .mmio = addr, .kind = "virtio-blk" };
		where_addr(&d, addr);
		virtio_blk_bench(&d);
		return true;
	}
	if (id != VIRTIO_ID_RNG)
		return true;
	if (version != 1 && version != 2) {
		printf("virtio-rng mmio 0x%lx: FAIL unknown version %u\n", addr, version);
		result_fail();
		return true;
	}
	struct vdev d = { .ops = version == 2 ? &mmio_v2_ops : &mmio_v1_ops,
			  .transport = version == 2 ? TRANSPORT_MMIO : TRANSPORT_MMIO_LEGACY, .mmio = addr };
	where_addr(&d, addr);
	*found |= d.transport;
	if (virtio_rng_test(&d))
		*passed |= d.transport;
	/* Clear any interrupt the device raised despite NO_INTERRUPT. */
	wr(&d, MMIO_INTERRUPT_ACK, rd(&d, MMIO_INTERRUPT_STATUS));
	return true;
}

void virtio_mmio_probe(unsigned *found, unsigned *passed)
{
	unsigned devices = 0, placeholders = 0;

	if (opt.mmio_given) {
		for (unsigned i = 0; i < opt.nr_mmio; i++)
			devices += probe_one(opt.mmio_addr[i], found, passed, &placeholders);
	} else {
		for (unsigned n = 0; n < 32; n++)
			devices += probe_one(SKIFF_VIRTIO_MMIO + n * SKIFF_VIRTIO_MMIO_SLOT, found, passed, &placeholders);
		for (unsigned n = 0; n < 32; n++)
			devices += probe_one(MICROVM_VIRTIO_MMIO + n * MICROVM_VIRTIO_MMIO_SLOT, found, passed,
					     &placeholders);
	}
	printf("virtio-mmio: %u device%s (%u empty slots) at %s\n", devices - placeholders,
	       devices - placeholders == 1 ? "" : "s", placeholders,
	       opt.mmio_given ? "the command line's addresses" : "0xd0000000+n*0x1000 and 0xfeb00000+n*0x200");
}

bool virtio_mmio_interface(uint64_t addr, struct vdev *d, uint32_t *id)
{
	if (mmio_read32(addr + MMIO_MAGIC) != VIRTIO_MMIO_MAGIC)
		return false;
	uint32_t version = mmio_read32(addr + MMIO_VERSION);
	*id = mmio_read32(addr + MMIO_DEVICE_ID);
	if (version != 1 && version != 2)
		return false;
	*d = (struct vdev){ .ops = version == 2 ? &mmio_v2_ops : &mmio_v1_ops, .mmio = addr,
			    .transport = version == 2 ? TRANSPORT_MMIO : TRANSPORT_MMIO_LEGACY };
	where_addr(d, addr);
	return true;
}
