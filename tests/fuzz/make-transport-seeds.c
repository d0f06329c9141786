/* Writes seeds for fuzz-transport into a directory: a driver's whole
 * conversation with each transport (reset, feature negotiation, queue
 * set-up, DRIVER_OK, kicks) with requests held by the device across a
 * queue stop and restart, which is issue 17's path to a write past guest
 * RAM on each way in (MMIO v2 QueueReady=0, MMIO v1 PFN=0, legacy PCI
 * PFN=0 after a packed ring was negotiated the modern way), plus plain
 * traffic on the other transports and devices. Rings are laid out by the
 * driver side (virtqueue/driver.c). Usage: see README. */
#include <stdio.h>
#include <string.h>

#include <linux/pci_regs.h>
#include <linux/virtio_balloon.h>
#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>
#include <linux/virtio_pci.h>
#include <linux/virtio_ring.h>

#include "tests/fuzz/fuzz-transport.h"
#include "virtqueue/driver.h"

#define F(bit)    (1ull << (bit))
#define RING_OFF  0x1000u  /* rings: one page into region 0 (legacy 256-entry rings end at 0x3806) */
#define BUF_OFF   0x3900u  /* buffers, up to 0x3f00 */
#define TAIL      (FT_RAM0_GPA + FT_RAM0_SIZE - 16) /* a one-slot packed ring in RAM's last 16 bytes */

struct seed {
	uint8_t ram[FT_RAM0_SIZE] __attribute__((aligned(4096))); /* rings need their alignment */
	struct ft_header h;
	struct ft_step step[255];
};

static struct seed s;
static struct vqd q;
/* The driver's queue memory at RING_OFF: vqd reserves room for indirect
 * tables too, more than RAM has. Only the rings are copied into s.ram. */
static uint8_t drv[128 << 10] __attribute__((aligned(4096)));
static size_t drv_used;

static void begin(enum ft_transport t, enum ft_device d, uint8_t flags)
{
	memset(&s, 0, sizeof(s));
	drv_used = 0;
	s.h = (struct ft_header){ .transport = t, .device = d, .flags = flags };
}

static void step(enum ft_op op, uint8_t sel, uint16_t off, uint32_t value)
{
	if (s.h.nsteps < 255)
		s.step[s.h.nsteps++] = (struct ft_step){ .op = op, .sel = sel, .off = off, .value = value };
}

static int save(const char *dir, const char *name)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f)
		return -1;
	memcpy(s.ram + RING_OFF, drv, drv_used);
	fwrite(&s.h, sizeof(s.h), 1, f);
	fwrite(s.step, sizeof(s.step[0]), s.h.nsteps, f);
	fwrite(s.ram, 1, sizeof(s.ram), f);
	return fclose(f);
}

/* ---- register writes, by transport ---- */

static void mmio(uint16_t reg, uint32_t value)
{
	step(FT_OP_WRITE, FT_SEL(2, 0), reg, value);
}

/* Modern PCI common config: each field has its own width. */
static void common(uint16_t off, unsigned width_log2, uint32_t value)
{
	step(FT_OP_WRITE, FT_SEL(width_log2, 0), off, value);
}

static void legacy(uint16_t off, unsigned width_log2, uint32_t value)
{
	step(FT_OP_WRITE, FT_SEL(width_log2, 4), off, value);
}

static void kick(unsigned queue)
{
	step(FT_OP_KICK, 0, 0, queue);
}

/* ---- the driver's side of negotiation and queue set-up ---- */

static const uint8_t S_ACK = VIRTIO_CONFIG_S_ACKNOWLEDGE, S_DRV = VIRTIO_CONFIG_S_DRIVER,
		     S_FOK = VIRTIO_CONFIG_S_FEATURES_OK, S_OK = VIRTIO_CONFIG_S_DRIVER_OK;

static void mmio_negotiate(uint64_t features, bool v2)
{
	mmio(VIRTIO_MMIO_STATUS, 0);
	mmio(VIRTIO_MMIO_STATUS, S_ACK);
	mmio(VIRTIO_MMIO_STATUS, S_ACK | S_DRV);
	mmio(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	mmio(VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)features);
	mmio(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	mmio(VIRTIO_MMIO_DRIVER_FEATURES, features >> 32);
	if (v2)
		mmio(VIRTIO_MMIO_STATUS, S_ACK | S_DRV | S_FOK);
}

static void mmio_v2_queue(unsigned queue, uint16_t size, uint64_t desc, uint64_t avail, uint64_t used)
{
	mmio(VIRTIO_MMIO_QUEUE_SEL, queue);
	mmio(VIRTIO_MMIO_QUEUE_NUM, size);
	mmio(VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)desc);
	mmio(VIRTIO_MMIO_QUEUE_AVAIL_LOW, (uint32_t)avail);
	mmio(VIRTIO_MMIO_QUEUE_USED_LOW, (uint32_t)used);
	mmio(VIRTIO_MMIO_QUEUE_READY, 1);
}

static void pci_negotiate(uint64_t features)
{
	common(VIRTIO_PCI_COMMON_STATUS, 0, 0);
	common(VIRTIO_PCI_COMMON_STATUS, 0, S_ACK);
	common(VIRTIO_PCI_COMMON_STATUS, 0, S_ACK | S_DRV);
	common(VIRTIO_PCI_COMMON_GFSELECT, 2, 0);
	common(VIRTIO_PCI_COMMON_GF, 2, (uint32_t)features);
	common(VIRTIO_PCI_COMMON_GFSELECT, 2, 1);
	common(VIRTIO_PCI_COMMON_GF, 2, features >> 32);
	common(VIRTIO_PCI_COMMON_STATUS, 0, S_ACK | S_DRV | S_FOK);
}

static void pci_queue(unsigned queue, uint16_t size, uint64_t desc, uint64_t avail, uint64_t used)
{
	common(VIRTIO_PCI_COMMON_Q_SELECT, 1, queue);
	common(VIRTIO_PCI_COMMON_Q_SIZE, 1, size);
	common(VIRTIO_PCI_COMMON_Q_DESCLO, 2, (uint32_t)desc);
	common(VIRTIO_PCI_COMMON_Q_AVAILLO, 2, (uint32_t)avail);
	common(VIRTIO_PCI_COMMON_Q_USEDLO, 2, (uint32_t)used);
	common(VIRTIO_PCI_COMMON_Q_ENABLE, 1, 1);
}

/* ---- rings ---- */

static void ring(uint16_t size, bool packed, uint64_t features)
{
	if ((packed ? vqd_init_packed : vqd_init_split)(&q, size, drv, FT_RAM0_GPA + RING_OFF, features) < 0)
		fprintf(stderr, "ring of %u refused\n", size);
	/* The event areas (packed) or used ring (split) come last. */
	drv_used = q.used_gpa - q.desc_gpa + (packed ? 4 : 6 + 8u * size);
}

/* Legacy layouts put the used ring at the next `align` boundary. */
static void ring_legacy_layout(uint16_t size, unsigned align)
{
	size_t used = (16u * size + 6 + 2u * size + align - 1) & ~(size_t)(align - 1);

	ring(size, false, 0);
	q.used = drv + used;
	q.used_gpa = FT_RAM0_GPA + RING_OFF + used;
	drv_used = used + 6 + 8u * size;
}

/* A chain of n device-readable buffers of len bytes, then one writable. */
static void add(unsigned n, uint32_t len, bool in)
{
	struct vqd_buf out[16], inbuf = { FT_RAM0_GPA + BUF_OFF + 0x100, 64 };
	static uintptr_t token;

	for (unsigned i = 0; i < n && i < 16; i++)
		out[i] = (struct vqd_buf){ FT_RAM0_GPA + BUF_OFF + 16 * i, len };
	if (vqd_add(&q, out, n, &inbuf, in, (void *)++token, false) < 0)
		fprintf(stderr, "vqd_add of %u+%u failed\n", n, in);
}

/* The device's move: complete held request k, under dev->lock (ALONE),
 * with the rest of its batch (BATCH) or from a device thread (THREAD). */
enum { ALONE, BATCH, THREAD };

static void complete(uint16_t k, uint8_t how, uint32_t written)
{
	step(FT_OP_DEVICE, how == BATCH ? 1 : how == THREAD ? 2 : 0, k, written);
}

/* A one-slot packed ring's descriptor, written by the driver after the
 * restart: a 64-byte buffer, first lap (AVAIL set, USED clear). */
static void poke_tail_desc(bool writable)
{
	const uint32_t words[4] = { FT_RAM0_GPA + BUF_OFF + 0x180, 0, 64,
				    (uint32_t)((writable ? VRING_DESC_F_WRITE : 0) | 1u << VRING_PACKED_DESC_F_AVAIL) << 16 };

	for (unsigned i = 0; i < 4; i++)
		step(FT_OP_POKE, 0, (uint16_t)(TAIL - FT_RAM0_GPA + 4 * i), words[i]);
}

/* Issue 17 on MMIO v2: a 15-descriptor chain held on a packed queue of
 * 16, the queue stopped (QueueReady=0) and restarted as one slot at the
 * end of RAM, the old request completed, a new one served. */
static void held_across_ready(enum ft_device dev, unsigned queue, uint64_t dev_features)
{
	begin(FT_MMIO_V2, dev, 0);
	mmio_negotiate(F(VIRTIO_F_VERSION_1) | F(VIRTIO_F_RING_PACKED) | dev_features, true);
	ring(16, true, 0);
	add(15, 10, false);
	mmio_v2_queue(queue, 16, q.desc_gpa, q.avail_gpa, q.used_gpa);
	mmio(VIRTIO_MMIO_STATUS, S_ACK | S_DRV | S_FOK | S_OK);
	kick(queue);
	mmio(VIRTIO_MMIO_QUEUE_READY, 0);
	mmio(VIRTIO_MMIO_QUEUE_NUM, 1);
	mmio(VIRTIO_MMIO_QUEUE_DESC_LOW, TAIL);
	mmio(VIRTIO_MMIO_QUEUE_READY, 1);
	complete(0, ALONE, 0); /* balloon: the stats request */
	poke_tail_desc(dev != FT_BALLOON);
	kick(queue);
	complete(0, ALONE, 64);
}

/* MMIO v1: two requests held on a split queue of 16, PFN=0, the queue
 * restarted with 4 entries at the same place, the old ones completed,
 * the ring served again. */
static void held_across_pfn(void)
{
	begin(FT_MMIO_V1, FT_HOLDER, 0);
	mmio_negotiate(F(VIRTIO_RING_F_EVENT_IDX), false);
	mmio(VIRTIO_MMIO_GUEST_PAGE_SIZE, 4096);
	mmio(VIRTIO_MMIO_QUEUE_SEL, 0);
	mmio(VIRTIO_MMIO_QUEUE_NUM, 16);
	mmio(VIRTIO_MMIO_QUEUE_ALIGN, 4096);
	ring_legacy_layout(16, 4096);
	add(3, 16, true);
	add(1, 16, true);
	mmio(VIRTIO_MMIO_QUEUE_PFN, RING_OFF / 4096);
	mmio(VIRTIO_MMIO_STATUS, S_ACK | S_DRV | S_OK);
	kick(0);
	mmio(VIRTIO_MMIO_QUEUE_PFN, 0);
	mmio(VIRTIO_MMIO_QUEUE_NUM, 4);
	mmio(VIRTIO_MMIO_QUEUE_PFN, RING_OFF / 4096);
	complete(1, THREAD, 64);
	complete(0, BATCH, 64);
	kick(0);
	complete(0, BATCH, 64);
	complete(0, ALONE, 8);
}

/* Transitional PCI: a packed ring negotiated through the modern
 * registers, then stopped through the legacy PFN register, resized and
 * enabled again the modern way while a request is held. */
static void held_across_legacy_pfn(void)
{
	begin(FT_PCI_TRANSITIONAL, FT_HOLDER, 0);
	pci_negotiate(F(VIRTIO_F_VERSION_1) | F(VIRTIO_F_RING_PACKED) | F(VIRTIO_RING_F_EVENT_IDX));
	ring(16, true, VQD_F_EVENT_IDX);
	add(15, 10, false);
	pci_queue(0, 16, q.desc_gpa, q.avail_gpa, q.used_gpa);
	common(VIRTIO_PCI_COMMON_STATUS, 0, S_ACK | S_DRV | S_FOK | S_OK);
	kick(0);
	legacy(VIRTIO_PCI_QUEUE_SEL, 1, 0);
	legacy(VIRTIO_PCI_QUEUE_PFN, 2, 0);
	common(VIRTIO_PCI_COMMON_Q_SIZE, 1, 1);
	common(VIRTIO_PCI_COMMON_Q_DESCLO, 2, TAIL);
	common(VIRTIO_PCI_COMMON_Q_ENABLE, 1, 1);
	complete(0, THREAD, 0);
	poke_tail_desc(true);
	kick(0);
	complete(0, THREAD, 64);
}

/* Modern PCI with MSI-X on: split traffic, batches, a reset in flight. */
static void modern_msix(void)
{
	begin(FT_PCI_MODERN, FT_HOLDER, 2);
	step(FT_OP_PCI_CONFIG, FT_SEL(1, 0) | 0x10, PCI_MSIX_FLAGS, PCI_MSIX_FLAGS_ENABLE);
	step(FT_OP_PCI_CONFIG, FT_SEL(1, 0), PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	step(FT_OP_WRITE, FT_SEL(2, 5), 0, 0xfee00000);  /* MSI-X table entry 0 */
	step(FT_OP_WRITE, FT_SEL(2, 5), 8, 0x41);
	step(FT_OP_WRITE, FT_SEL(2, 5), 12, 0);
	pci_negotiate(F(VIRTIO_F_VERSION_1) | F(VIRTIO_RING_F_EVENT_IDX) | F(VIRTIO_RING_F_INDIRECT_DESC));
	common(VIRTIO_PCI_COMMON_MSIX, 1, 0);
	ring(8, false, VQD_F_EVENT_IDX | VQD_F_INDIRECT_DESC);
	for (unsigned i = 0; i < 3; i++)
		add(1 + i % 2, 16, true);
	common(VIRTIO_PCI_COMMON_Q_SELECT, 1, 0);
	common(VIRTIO_PCI_COMMON_Q_MSIX, 1, 0);
	pci_queue(0, 8, q.desc_gpa, q.avail_gpa, q.used_gpa);
	common(VIRTIO_PCI_COMMON_STATUS, 0, S_ACK | S_DRV | S_FOK | S_OK);
	step(FT_OP_WRITE, FT_SEL(1, 3), 0, 0); /* notify queue 0 */
	complete(1, BATCH, 32);
	complete(0, ALONE, 64);
	kick(0);
	step(FT_OP_READ, FT_SEL(0, 1), 0, 0);  /* ISR */
	common(VIRTIO_PCI_COMMON_STATUS, 0, 0); /* reset with requests held */
}

/* Legacy PCI, rate-limited rng: requests given back until time passes. */
static void legacy_rng(void)
{
	begin(FT_PCI_LEGACY, FT_RNG, 1);
	legacy(VIRTIO_PCI_STATUS, 0, S_ACK | S_DRV);
	legacy(VIRTIO_PCI_GUEST_FEATURES, 2, F(VIRTIO_RING_F_EVENT_IDX));
	legacy(VIRTIO_PCI_QUEUE_SEL, 1, 0);
	ring_legacy_layout(256, 4096);
	for (unsigned i = 0; i < 4; i++) {
		struct vqd_buf in = { FT_RAM0_GPA + BUF_OFF + 0x200 + 0x100 * i, 0x100 };
		vqd_add(&q, NULL, 0, &in, 1, (void *)(uintptr_t)(i + 1), false);
	}
	legacy(VIRTIO_PCI_QUEUE_PFN, 2, RING_OFF >> VIRTIO_PCI_QUEUE_ADDR_SHIFT);
	legacy(VIRTIO_PCI_STATUS, 0, S_ACK | S_DRV | S_OK);
	legacy(VIRTIO_PCI_QUEUE_NOTIFY, 1, 0);
	step(FT_OP_DEVICE, 0, 0, 500000);
	legacy(VIRTIO_PCI_QUEUE_PFN, 2, 0);
	step(FT_OP_DEVICE, 0, 0, 500000);
	legacy(VIRTIO_PCI_QUEUE_PFN, 2, RING_OFF >> VIRTIO_PCI_QUEUE_ADDR_SHIFT);
	step(FT_OP_DEVICE, 0, 0, 4000000);
}

/* The balloon on modern PCI: inflate and deflate PFNs, stats, a target. */
static void balloon_pci(void)
{
	/* A page of region 0 that holds no ring, one of region 1, one outside RAM. */
	uint32_t pfns[3] = { 0, FT_RAM1_GPA >> VIRTIO_BALLOON_PFN_SHIFT, 0x200 };

	begin(FT_PCI_MODERN, FT_BALLOON, 3);
	pci_negotiate(F(VIRTIO_F_VERSION_1) | F(VIRTIO_BALLOON_F_STATS_VQ) | F(VIRTIO_BALLOON_F_DEFLATE_ON_OOM));
	memcpy(s.ram + BUF_OFF, pfns, sizeof(pfns));
	ring(8, false, 0);
	add(1, sizeof(pfns), false);
	pci_queue(0, 8, q.desc_gpa, q.avail_gpa, q.used_gpa);
	common(VIRTIO_PCI_COMMON_STATUS, 0, S_ACK | S_DRV | S_FOK | S_OK);
	step(FT_OP_DEVICE, 1, 0, 3);
	kick(0);
	step(FT_OP_READ, FT_SEL(2, 2), 0, 0); /* config: num_pages */
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : ".";
	int bad = 0;

	held_across_ready(FT_HOLDER, 0, 0);
	bad |= save(dir, "mmio2-holder-packed-restart");
	held_across_ready(FT_BALLOON, 2, F(VIRTIO_BALLOON_F_STATS_VQ));
	bad |= save(dir, "mmio2-balloon-stats-restart");
	held_across_pfn();
	bad |= save(dir, "mmio1-holder-pfn-restart");
	held_across_legacy_pfn();
	bad |= save(dir, "pci-transitional-legacy-pfn-restart");
	modern_msix();
	bad |= save(dir, "pci-modern-msix-batch");
	legacy_rng();
	bad |= save(dir, "pci-legacy-rng");
	balloon_pci();
	bad |= save(dir, "pci-modern-balloon");
	if (bad) {
		perror(dir);
		return 1;
	}
	printf("7 seeds in %s\n", dir);
	return 0;
}
