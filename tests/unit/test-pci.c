/* Unit tests for the PCI host (bus/pci.c). The test plays the guest: it
 * reaches config space only through ports 0xCF8/0xCFC and the ECAM window,
 * and BARs only through the PIO and MMIO buses, using real struct bus
 * instances. Fake interrupt controller and MSI sink record what happened. */
#include <check.h>
#include <errno.h>
#include <linux/pci_regs.h>
#include <stdlib.h>
#include <string.h>

#include "bus/bus.h"
#include "bus/pci.h"
#include "kvm/x86/acpi.h"
#include "kvm/x86/layout.h"
#include "tests/unit/log-capture.h"
#include "base/log.h"

/* ---- the machine around the host ---- */

static struct bus pio, mmio;
static struct pci_host host;

struct fake_irq {
	unsigned gsi;
	int level[32];
	int calls;
};
static struct fake_irq irq;

static void fake_set_irq(void *ctx, unsigned gsi, int level)
{
	struct fake_irq *f = ctx;

	f->gsi = gsi;
	if (gsi < 32)
		f->level[gsi] = level;
	f->calls++;
}

/* ---- a test device: BAR0 4 KiB memory (registers, MSI-X table at 0x800,
 * PBA at 0xc00), BAR1 32 bytes of I/O, BAR2 16 KiB memory ---- */

#define TDEV_VENDOR 0x1af4
#define TDEV_DEVICE 0x1041
#define TDEV_CLASS 0x020000
#define TDEV_TABLE 0x800
#define TDEV_PBA 0xc00
#define TDEV_VECTORS 4

struct tdev {
	struct pci_device pci;
	struct pci_msix msix;
	uint8_t regs[PCI_NR_BARS][4096];
	int reads[PCI_NR_BARS], writes[PCI_NR_BARS];
	/* MSI-X sink */
	int delivered;
	unsigned last_vector;
	uint64_t last_address;
	uint32_t last_data;
	int changed;
	/* hooks */
	int config_written;
	unsigned written_offset, written_len;
	int bar_changes;
	unsigned changed_bar;
	bool changed_mapped;
	uint64_t changed_addr;
};

/* Each BAR gets its own opaque: the device plus which BAR. */
struct tbar {
	struct tdev *dev;
	unsigned index;
};

static struct tdev dev1, dev2;
static struct tbar tbars[2][PCI_NR_BARS];

static void tbar_read(void *opaque, uint64_t offset, uint8_t *data, unsigned len)
{
	struct tbar *b = opaque;

	if (b->index == 0 && pci_msix_bar_read(&b->dev->pci, offset, data, len))
		return;
	b->dev->reads[b->index]++;
	if (offset + len <= sizeof(b->dev->regs[0]))
		memcpy(data, &b->dev->regs[b->index][offset], len);
}

static void tbar_write(void *opaque, uint64_t offset, const uint8_t *data, unsigned len)
{
	struct tbar *b = opaque;

	if (b->index == 0 && pci_msix_bar_write(&b->dev->pci, offset, data, len))
		return;
	b->dev->writes[b->index]++;
	if (offset + len <= sizeof(b->dev->regs[0]))
		memcpy(&b->dev->regs[b->index][offset], data, len);
}

static const struct bus_ops tbar_ops = { .read = tbar_read, .write = tbar_write };

static void tdev_deliver(void *ctx, unsigned vector, uint64_t address, uint32_t data)
{
	struct tdev *d = ctx;

	(void)pci_msix_enabled(&d->pci); /* callbacks run unlocked: no deadlock */
	/* Several threads deliver at once in the concurrency test (a device
	 * thread, and a config write that unmasks a pending vector): record
	 * with atomics, as a real irqfd write needs no lock either. */
	__atomic_add_fetch(&d->delivered, 1, __ATOMIC_RELAXED);
	__atomic_store_n(&d->last_vector, vector, __ATOMIC_RELAXED);
	__atomic_store_n(&d->last_address, address, __ATOMIC_RELAXED);
	__atomic_store_n(&d->last_data, data, __ATOMIC_RELAXED);
}

static void tdev_changed(void *ctx, unsigned vector)
{
	struct tdev *d = ctx;
	uint64_t address;
	uint32_t data;

	pci_msix_get_message(&d->pci, vector, &address, &data); /* as a transport would */
	__atomic_add_fetch(&d->changed, 1, __ATOMIC_RELAXED);
}

static void tdev_config_written(struct pci_device *pci, unsigned offset, unsigned len)
{
	struct tdev *d = pci->opaque;

	__atomic_add_fetch(&d->config_written, 1, __ATOMIC_RELAXED);
	d->written_offset = offset;
	d->written_len = len;
}

static void tdev_bar_changed(struct pci_device *pci, unsigned index, bool mapped, uint64_t addr)
{
	struct tdev *d = pci->opaque;

	ck_assert_uint_eq(pci_config_read(pci, PCI_VENDOR_ID, 2), TDEV_VENDOR);
	d->bar_changes++;
	d->changed_bar = index;
	d->changed_mapped = mapped;
	d->changed_addr = addr;
}

static void tdev_init(struct tdev *d, unsigned n)
{
	memset(d, 0, sizeof(*d));
	pci_device_init(&d->pci, n ? "tdev2" : "tdev1", TDEV_VENDOR, TDEV_DEVICE, 0x1af4, 0x0001, TDEV_CLASS, 0x01);
	d->pci.opaque = d;
	d->pci.config_written = tdev_config_written;
	d->pci.bar_changed = tdev_bar_changed;
	for (unsigned i = 0; i < PCI_NR_BARS; i++)
		tbars[n][i] = (struct tbar){ .dev = d, .index = i };
	ck_assert_int_eq(pci_device_set_bar(&d->pci, 0, 4096, false, &tbar_ops, &tbars[n][0]), 0);
	ck_assert_int_eq(pci_device_set_bar(&d->pci, 1, 32, true, &tbar_ops, &tbars[n][1]), 0);
	ck_assert_int_eq(pci_device_set_bar(&d->pci, 2, 16384, false, &tbar_ops, &tbars[n][2]), 0);
	d->msix.deliver = tdev_deliver;
	d->msix.changed = tdev_changed;
	d->msix.ctx = d;
	ck_assert_int_eq(pci_msix_init(&d->pci, &d->msix, TDEV_VECTORS, 0, TDEV_TABLE, TDEV_PBA), 0);
}

static void setup(void)
{
	memset(&irq, 0, sizeof(irq));
	bus_init(&pio, "pio");
	bus_init(&mmio, "mmio");
	ck_assert_int_eq(pci_host_init(&host, &pio, &mmio, fake_set_irq, &irq), 0);
	tdev_init(&dev1, 0);
	ck_assert_int_eq(pci_host_add_device(&host, &dev1.pci), 0);
	dev1.bar_changes = 0;
}

static void teardown(void)
{
	pthread_mutex_destroy(&host.lock);
	pthread_rwlock_destroy(&pio.lock);
	pthread_rwlock_destroy(&mmio.lock);
}

/* ---- the guest's side ---- */

static uint32_t le(const uint8_t *p, unsigned len)
{
	uint32_t v = 0;

	for (unsigned i = 0; i < len; i++)
		v |= (uint32_t)p[i] << (8 * i);
	return v;
}

static void put_le(uint8_t *p, unsigned len, uint64_t v)
{
	for (unsigned i = 0; i < len; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t pio_read(uint16_t port, unsigned len)
{
	uint8_t buf[4];

	bus_dispatch(&pio, port, buf, len, false);
	return le(buf, len);
}

static bool pio_write(uint16_t port, unsigned len, uint32_t value)
{
	uint8_t buf[4];

	put_le(buf, len, value);
	return bus_dispatch(&pio, port, buf, len, true);
}

static uint64_t mmio_read(uint64_t addr, unsigned len)
{
	uint8_t buf[8];
	uint64_t v = 0;

	bus_dispatch(&mmio, addr, buf, len, false);
	for (unsigned i = 0; i < len; i++)
		v |= (uint64_t)buf[i] << (8 * i);
	return v;
}

static void mmio_write(uint64_t addr, unsigned len, uint64_t value)
{
	uint8_t buf[8];

	put_le(buf, len, value);
	bus_dispatch(&mmio, addr, buf, len, true);
}

static uint32_t conf1_addr(unsigned bus, unsigned slot, unsigned reg)
{
	return 0x80000000u | bus << 16 | slot << 11 | (reg & 0xfc);
}

/* Like Linux's pci_conf1_read: dword to 0xCF8, then data at 0xCFC + (reg & 3). */
static uint32_t cfg_read(unsigned slot, unsigned reg, unsigned len)
{
	pio_write(0xcf8, 4, conf1_addr(0, slot, reg));
	return pio_read(0xcfc + (reg & 3), len);
}

static void cfg_write(unsigned slot, unsigned reg, unsigned len, uint32_t value)
{
	pio_write(0xcf8, 4, conf1_addr(0, slot, reg));
	pio_write(0xcfc + (reg & 3), len, value);
}

static uint64_t ecam_addr(unsigned bus, unsigned slot, unsigned func, unsigned reg)
{
	return LAYOUT_PCI_ECAM + ((uint64_t)bus << 20 | slot << 15 | func << 12 | reg);
}

static uint64_t ecam_read(unsigned slot, unsigned reg, unsigned len)
{
	return mmio_read(ecam_addr(0, slot, 0, reg), len);
}

static void ecam_write(unsigned slot, unsigned reg, unsigned len, uint64_t value)
{
	mmio_write(ecam_addr(0, slot, 0, reg), len, value);
}

static uint32_t bar_reg(unsigned slot, unsigned i)
{
	return cfg_read(slot, PCI_BASE_ADDRESS_0 + 4 * i, 4);
}

/* MSI-X table entry v of dev1, through BAR0 as the guest sees it. */
static uint64_t msix_entry_addr(unsigned v, unsigned field)
{
	return (bar_reg(1, 0) & PCI_BASE_ADDRESS_MEM_MASK) + TDEV_TABLE + 16 * v + field;
}

static void msix_program(unsigned v, uint64_t address, uint32_t data, bool masked)
{
	mmio_write(msix_entry_addr(v, PCI_MSIX_ENTRY_LOWER_ADDR), 4, (uint32_t)address);
	mmio_write(msix_entry_addr(v, PCI_MSIX_ENTRY_UPPER_ADDR), 4, address >> 32);
	mmio_write(msix_entry_addr(v, PCI_MSIX_ENTRY_DATA), 4, data);
	mmio_write(msix_entry_addr(v, PCI_MSIX_ENTRY_VECTOR_CTRL), 4, masked);
}

static unsigned msix_cap(void)
{
	return dev1.msix.cap_offset;
}

static void msix_set_control(uint16_t bits)
{
	cfg_write(1, msix_cap() + PCI_MSIX_FLAGS, 2, bits);
}

static uint64_t pba_read(void)
{
	return mmio_read((bar_reg(1, 0) & PCI_BASE_ADDRESS_MEM_MASK) + TDEV_PBA, 8);
}

/* ---- configuration mechanisms ---- */

START_TEST(test_type1_probe)
{
	/* What Linux's pci_check_type1 does. */
	pio_write(0xcfb, 1, 0x01);
	pio_write(0xcf8, 4, 0x80000000);
	ck_assert_uint_eq(pio_read(0xcf8, 4), 0x80000000);
	/* Byte and word accesses to 0xCF8-0xCFB are not the address register. */
	pio_write(0xcf9, 1, 0x06);
	pio_write(0xcfa, 2, 0x1234);
	ck_assert_uint_eq(pio_read(0xcf8, 4), 0x80000000);
	ck_assert_uint_eq(pio_read(0xcf9, 1), 0xff);
	/* Reserved bits read as zero. */
	pio_write(0xcf8, 4, 0xffffffff);
	ck_assert_uint_eq(pio_read(0xcf8, 4), 0x8ffffffc);
}
END_TEST

START_TEST(test_host_bridge)
{
	ck_assert_uint_eq(cfg_read(0, PCI_VENDOR_ID, 2), PCI_HOST_BRIDGE_VENDOR);
	ck_assert_uint_eq(cfg_read(0, PCI_DEVICE_ID, 2), PCI_HOST_BRIDGE_DEVICE);
	ck_assert_uint_eq(cfg_read(0, PCI_CLASS_DEVICE, 2), 0x0600); /* Linux's sanity check */
	ck_assert_uint_eq(cfg_read(0, PCI_CLASS_REVISION, 4) >> 8, 0x060000);
	ck_assert_uint_eq(cfg_read(0, PCI_HEADER_TYPE, 1), PCI_HEADER_TYPE_NORMAL);
	ck_assert_uint_eq(cfg_read(0, PCI_INTERRUPT_PIN, 1), 0);
	ck_assert_uint_eq(cfg_read(0, PCI_STATUS, 2) & PCI_STATUS_CAP_LIST, 0);
	for (unsigned i = 0; i < PCI_NR_BARS; i++) {
		cfg_write(0, PCI_BASE_ADDRESS_0 + 4 * i, 4, 0xffffffff);
		ck_assert_uint_eq(bar_reg(0, i), 0);
	}
	ck_assert_uint_eq(ecam_read(0, PCI_VENDOR_ID, 4),
			  PCI_HOST_BRIDGE_DEVICE << 16 | PCI_HOST_BRIDGE_VENDOR);
}
END_TEST

START_TEST(test_empty_slots_read_all_ones)
{
	for (unsigned slot = 2; slot < PCI_MAX_SLOTS; slot++) {
		ck_assert_uint_eq(cfg_read(slot, PCI_VENDOR_ID, 4), 0xffffffff);
		ck_assert_uint_eq(ecam_read(slot, PCI_VENDOR_ID, 4), 0xffffffff);
	}
	/* Function 1 of a present device, bus 1 via both mechanisms. */
	ck_assert_uint_eq(mmio_read(ecam_addr(0, 1, 1, 0), 4), 0xffffffff);
	pio_write(0xcf8, 4, 0x80000000u | 1 << 8);
	ck_assert_uint_eq(pio_read(0xcfc, 4), 0xffffffff);
	ck_assert_uint_eq(mmio_read(ecam_addr(1, 0, 0, 0), 4), 0xffffffff);
	ck_assert_uint_eq(mmio_read(ecam_addr(255, 31, 7, 0xffc), 4), 0xffffffff);
	pio_write(0xcf8, 4, conf1_addr(1, 0, 0));
	ck_assert_uint_eq(pio_read(0xcfc, 4), 0xffffffff);
	/* Writes there go nowhere. */
	mmio_write(ecam_addr(1, 1, 0, PCI_COMMAND), 2, 0);
	ck_assert_uint_ne(cfg_read(1, PCI_COMMAND, 2) & PCI_COMMAND_MEMORY, 0);
}
END_TEST

START_TEST(test_conf1_enable_bit)
{
	pio_write(0xcf8, 4, conf1_addr(0, 1, 0) & ~0x80000000u);
	ck_assert_uint_eq(pio_read(0xcfc, 4), 0xffffffff);
	pio_write(0xcf8, 4, conf1_addr(0, 1, PCI_COMMAND) & ~0x80000000u);
	pio_write(0xcfc, 2, 0);
	ck_assert_uint_ne(cfg_read(1, PCI_COMMAND, 2), 0);
}
END_TEST

START_TEST(test_device_ids)
{
	ck_assert_uint_eq(cfg_read(1, PCI_VENDOR_ID, 2), TDEV_VENDOR);
	ck_assert_uint_eq(cfg_read(1, PCI_DEVICE_ID, 2), TDEV_DEVICE);
	ck_assert_uint_eq(cfg_read(1, PCI_REVISION_ID, 1), 0x01);
	ck_assert_uint_eq(cfg_read(1, PCI_CLASS_REVISION, 4), TDEV_CLASS << 8 | 0x01);
	ck_assert_uint_eq(cfg_read(1, PCI_HEADER_TYPE, 1), PCI_HEADER_TYPE_NORMAL);
	ck_assert_uint_eq(cfg_read(1, PCI_SUBSYSTEM_VENDOR_ID, 2), 0x1af4);
	ck_assert_uint_eq(cfg_read(1, PCI_SUBSYSTEM_ID, 2), 0x0001);
	ck_assert_uint_eq(cfg_read(1, PCI_INTERRUPT_PIN, 1), 1);
	/* The interrupt line tells the GSI the DSDT's _PRT routes INTA to. */
	struct acpi_pci routing = { .intx_gsi_base = PCI_INTX_GSI_BASE };
	ck_assert_uint_eq(cfg_read(1, PCI_INTERRUPT_LINE, 1), acpi_pci_intx_gsi(&routing, 1, 0));
	ck_assert_uint_eq(dev1.pci.slot, 1);
}
END_TEST

START_TEST(test_ecam_matches_conf1)
{
	for (unsigned slot = 0; slot < 3; slot++)
		for (unsigned reg = 0; reg < 256; reg += 4)
			ck_assert_uint_eq(ecam_read(slot, reg, 4), cfg_read(slot, reg, 4));
	/* A write through one shows through the other. */
	ecam_write(1, PCI_CACHE_LINE_SIZE, 1, 0x10);
	ck_assert_uint_eq(cfg_read(1, PCI_CACHE_LINE_SIZE, 1), 0x10);
}
END_TEST

START_TEST(test_extended_config_space)
{
	/* Beyond 256 bytes: ECAM reaches it, and so does conf1 with the
	 * register bits 27:24 Linux's conf1 emits; it holds nothing writable. */
	ck_assert_uint_eq(ecam_read(1, 0x100, 4), 0);
	ecam_write(1, 0x100, 4, 0xdeadbeef);
	ck_assert_uint_eq(ecam_read(1, 0x100, 4), 0);
	pio_write(0xcf8, 4, conf1_addr(0, 1, 0) | 1u << 24);
	ck_assert_uint_eq(pio_read(0xcfc, 4), 0);
	pio_write(0xcfc, 4, 0x12345678);
	ck_assert_uint_eq(cfg_read(1, PCI_VENDOR_ID, 2), TDEV_VENDOR); /* no aliasing */
	/* An access crossing the 4 KiB end of a function. */
	ck_assert_uint_eq(mmio_read(ecam_addr(0, 1, 0, 0xffc), 8), 0xffffffffffffffffull);
	ck_assert_uint_eq(ecam_read(1, 0xffc, 4), 0);
}
END_TEST

START_TEST(test_odd_size_accesses)
{
	ck_assert_uint_eq(cfg_read(1, PCI_VENDOR_ID, 1), TDEV_VENDOR & 0xff);
	ck_assert_uint_eq(cfg_read(1, PCI_VENDOR_ID + 1, 1), TDEV_VENDOR >> 8);
	ck_assert_uint_eq(cfg_read(1, PCI_DEVICE_ID, 2), TDEV_DEVICE);
	ck_assert_uint_eq(cfg_read(1, PCI_CLASS_REVISION + 3, 1), TDEV_CLASS >> 16);
	/* A word across the vendor and device IDs; a dword at offset 1 via ECAM. */
	pio_write(0xcf8, 4, conf1_addr(0, 1, 0));
	ck_assert_uint_eq(pio_read(0xcfd, 2), (TDEV_DEVICE & 0xff) << 8 | TDEV_VENDOR >> 8);
	ck_assert_uint_eq(ecam_read(1, 1, 4), le(&dev1.pci.config[1], 4));
	/* The byte holding INTx disable (bit 10 of the command register). */
	cfg_write(1, PCI_COMMAND + 1, 1, PCI_COMMAND_INTX_DISABLE >> 8);
	ck_assert_uint_ne(cfg_read(1, PCI_COMMAND, 2) & PCI_COMMAND_INTX_DISABLE, 0);
	ck_assert_uint_ne(cfg_read(1, PCI_COMMAND, 2) & PCI_COMMAND_MEMORY, 0);
	/* An unaligned ECAM word write over command/status. */
	ecam_write(1, PCI_COMMAND + 1, 2, 0);
	ck_assert_uint_eq(cfg_read(1, PCI_COMMAND, 2) & PCI_COMMAND_INTX_DISABLE, 0);
	/* An 8-byte ECAM read is two dwords. */
	ck_assert_uint_eq(ecam_read(1, 0, 8), (uint64_t)cfg_read(1, 4, 4) << 32 | cfg_read(1, 0, 4));
	/* A dword at 0xCFE does not fit the data port: not claimed. */
	pio_write(0xcf8, 4, conf1_addr(0, 1, 0));
	uint8_t buf[4];
	ck_assert(!bus_dispatch(&pio, 0xcfe, buf, 4, false));
	ck_assert_uint_eq(le(buf, 4), 0xffffffff);
}
END_TEST

START_TEST(test_read_only_fields)
{
	uint32_t before[4];

	for (unsigned i = 0; i < 4; i++)
		before[i] = cfg_read(1, 4 * i, 4);
	cfg_write(1, PCI_VENDOR_ID, 4, 0);
	cfg_write(1, PCI_CLASS_REVISION, 4, 0xffffffff);
	cfg_write(1, PCI_HEADER_TYPE, 1, 0x80);
	ecam_write(1, PCI_SUBSYSTEM_VENDOR_ID, 4, 0);
	ecam_write(1, PCI_INTERRUPT_PIN, 1, 4);
	ecam_write(1, PCI_CAPABILITY_LIST, 1, 0x80);
	ck_assert_uint_eq(cfg_read(1, PCI_VENDOR_ID, 4), before[0]);
	ck_assert_uint_eq(cfg_read(1, PCI_CLASS_REVISION, 4), before[2]);
	ck_assert_uint_eq(cfg_read(1, PCI_HEADER_TYPE, 1), PCI_HEADER_TYPE_NORMAL);
	ck_assert_uint_eq(cfg_read(1, PCI_SUBSYSTEM_VENDOR_ID, 2), 0x1af4);
	ck_assert_uint_eq(cfg_read(1, PCI_INTERRUPT_PIN, 1), 1);
	ck_assert_uint_eq(cfg_read(1, PCI_CAPABILITY_LIST, 1), 0x40);
	/* The expansion ROM BAR does not exist. */
	cfg_write(1, PCI_ROM_ADDRESS, 4, 0xffffffff);
	ck_assert_uint_eq(cfg_read(1, PCI_ROM_ADDRESS, 4), 0);
}
END_TEST

START_TEST(test_command_register)
{
	const uint16_t writable = PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | PCI_COMMAND_INTX_DISABLE;

	ck_assert_uint_eq(cfg_read(1, PCI_COMMAND, 2), PCI_COMMAND_IO | PCI_COMMAND_MEMORY); /* as firmware left it */
	cfg_write(1, PCI_COMMAND, 2, 0xffff);
	ck_assert_uint_eq(cfg_read(1, PCI_COMMAND, 2), writable);
	cfg_write(1, PCI_COMMAND, 2, 0);
	ck_assert_uint_eq(cfg_read(1, PCI_COMMAND, 2), 0);
}
END_TEST

START_TEST(test_status_w1c)
{
	const uint16_t errors = PCI_STATUS_DETECTED_PARITY | PCI_STATUS_REC_MASTER_ABORT | PCI_STATUS_SIG_TARGET_ABORT;

	ck_assert_uint_eq(cfg_read(1, PCI_STATUS, 2), PCI_STATUS_CAP_LIST);
	/* The device model raised some errors. */
	dev1.pci.config[PCI_STATUS] |= errors & 0xff;
	dev1.pci.config[PCI_STATUS + 1] |= errors >> 8;
	cfg_write(1, PCI_STATUS, 2, 0); /* zeros leave everything */
	ck_assert_uint_eq(cfg_read(1, PCI_STATUS, 2), PCI_STATUS_CAP_LIST | errors);
	cfg_write(1, PCI_STATUS, 2, PCI_STATUS_REC_MASTER_ABORT | PCI_STATUS_CAP_LIST);
	ck_assert_uint_eq(cfg_read(1, PCI_STATUS, 2),
			  PCI_STATUS_CAP_LIST | PCI_STATUS_DETECTED_PARITY | PCI_STATUS_SIG_TARGET_ABORT);
	/* A dword write to command also writes status: all-ones clears the rest. */
	cfg_write(1, PCI_COMMAND, 4, 0xffff0000 | PCI_COMMAND_MEMORY | PCI_COMMAND_IO);
	ck_assert_uint_eq(cfg_read(1, PCI_STATUS, 2), PCI_STATUS_CAP_LIST);
	ck_assert_uint_eq(cfg_read(1, PCI_COMMAND, 2), PCI_COMMAND_MEMORY | PCI_COMMAND_IO);
}
END_TEST

START_TEST(test_writable_scratch_registers)
{
	cfg_write(1, PCI_CACHE_LINE_SIZE, 1, 0x10);
	ck_assert_uint_eq(cfg_read(1, PCI_CACHE_LINE_SIZE, 1), 0x10);
	cfg_write(1, PCI_INTERRUPT_LINE, 1, 0x0b);
	ck_assert_uint_eq(cfg_read(1, PCI_INTERRUPT_LINE, 1), 0x0b);
	ck_assert_uint_eq(cfg_read(1, PCI_LATENCY_TIMER, 1), 0);
	cfg_write(1, PCI_LATENCY_TIMER, 1, 0x40);
	ck_assert_uint_eq(cfg_read(1, PCI_LATENCY_TIMER, 1), 0);
}
END_TEST

START_TEST(test_config_written_hook)
{
	cfg_write(1, PCI_COMMAND + 1, 1, 0);
	ck_assert_int_eq(dev1.config_written, 1);
	ck_assert_uint_eq(dev1.written_offset, PCI_COMMAND + 1);
	ck_assert_uint_eq(dev1.written_len, 1);
	ecam_write(1, 0x40, 8, 0);
	ck_assert_int_eq(dev1.config_written, 3);
	ck_assert_uint_eq(dev1.written_offset, 0x44);
	cfg_read(1, 0, 4);
	ck_assert_int_eq(dev1.config_written, 3);
}
END_TEST

/* ---- BARs ---- */

START_TEST(test_bar_placement)
{
	ck_assert_uint_eq(bar_reg(1, 0), LAYOUT_PCI_MMIO);
	ck_assert_uint_eq(bar_reg(1, 1), PCI_IO_WINDOW_BASE | PCI_BASE_ADDRESS_SPACE_IO);
	ck_assert_uint_eq(bar_reg(1, 2), LAYOUT_PCI_MMIO + 0x4000); /* naturally aligned */
	for (unsigned i = 3; i < PCI_NR_BARS; i++)
		ck_assert_uint_eq(bar_reg(1, i), 0);
	ck_assert(dev1.pci.bar[0].mapped && dev1.pci.bar[1].mapped && dev1.pci.bar[2].mapped);

	/* A second device goes to the next slot, after the first one's BARs. */
	tdev_init(&dev2, 1);
	ck_assert_int_eq(pci_host_add_device(&host, &dev2.pci), 0);
	ck_assert_uint_eq(dev2.pci.slot, 2);
	ck_assert_uint_eq(bar_reg(2, 0), LAYOUT_PCI_MMIO + 0x8000);
	ck_assert_uint_eq(bar_reg(2, 1), (PCI_IO_WINDOW_BASE + 0x20) | PCI_BASE_ADDRESS_SPACE_IO);
	ck_assert_uint_eq(bar_reg(2, 2), LAYOUT_PCI_MMIO + 0xc000);
	ck_assert_int_eq(dev2.bar_changes, 3); /* told where its BARs are */
}
END_TEST

START_TEST(test_bar_access_reaches_device)
{
	mmio_write(LAYOUT_PCI_MMIO + 0x10, 4, 0xcafef00d);
	ck_assert_int_eq(dev1.writes[0], 1);
	ck_assert_uint_eq(le(&dev1.regs[0][0x10], 4), 0xcafef00d);
	ck_assert_uint_eq(mmio_read(LAYOUT_PCI_MMIO + 0x10, 4), 0xcafef00d);
	pio_write(PCI_IO_WINDOW_BASE + 2, 2, 0xbeef);
	ck_assert_uint_eq(pio_read(PCI_IO_WINDOW_BASE + 2, 2), 0xbeef);
	ck_assert_int_eq(dev1.writes[1], 1);
	mmio_write(LAYOUT_PCI_MMIO + 0x4000 + 0xff8, 8, 0x1122334455667788ull);
	ck_assert_uint_eq(mmio_read(LAYOUT_PCI_MMIO + 0x4ff8, 8), 0x1122334455667788ull);
	/* Between BARs and across a BAR's end: nobody. */
	ck_assert_uint_eq(mmio_read(LAYOUT_PCI_MMIO + 0x2000, 4), 0xffffffff);
	ck_assert_uint_eq(mmio_read(LAYOUT_PCI_MMIO + 0xffe, 4), 0xffffffff);
	ck_assert_uint_eq(pio_read(PCI_IO_WINDOW_BASE + 0x20, 1), 0xff);
	ck_assert_int_eq(dev1.reads[0], 1);
}
END_TEST

START_TEST(test_bar_sizing_memory)
{
	cfg_write(1, PCI_COMMAND, 2, PCI_COMMAND_IO); /* as Linux does while sizing */
	cfg_write(1, PCI_BASE_ADDRESS_0, 4, 0xffffffff);
	ck_assert_uint_eq(bar_reg(1, 0), 0xfffff000);
	cfg_write(1, PCI_BASE_ADDRESS_2, 4, 0xffffffff);
	ck_assert_uint_eq(bar_reg(1, 2), 0xffffc000);
	cfg_write(1, PCI_BASE_ADDRESS_0, 4, LAYOUT_PCI_MMIO);
	cfg_write(1, PCI_BASE_ADDRESS_2, 4, LAYOUT_PCI_MMIO + 0x4000);
	cfg_write(1, PCI_COMMAND, 2, PCI_COMMAND_IO | PCI_COMMAND_MEMORY);
	ck_assert_uint_eq(bar_reg(1, 0), LAYOUT_PCI_MMIO);
	mmio_write(LAYOUT_PCI_MMIO + 4, 4, 7);
	ck_assert_int_eq(dev1.writes[0], 1);
	mmio_write(LAYOUT_PCI_MMIO + 0x4000, 4, 7);
	ck_assert_int_eq(dev1.writes[2], 1);
}
END_TEST

START_TEST(test_bar_sizing_io)
{
	/* Sizing with decoding left on works too: the BAR is just not decoded
	 * while it holds the mask. */
	cfg_write(1, PCI_BASE_ADDRESS_1, 4, 0xffffffff);
	ck_assert_uint_eq(bar_reg(1, 1), 0xffffffe1);
	ck_assert(!dev1.pci.bar[1].mapped);
	pio_write(PCI_IO_WINDOW_BASE, 1, 1);
	ck_assert_int_eq(dev1.writes[1], 0);
	cfg_write(1, PCI_BASE_ADDRESS_1, 4, PCI_IO_WINDOW_BASE);
	ck_assert_uint_eq(bar_reg(1, 1), PCI_IO_WINDOW_BASE | PCI_BASE_ADDRESS_SPACE_IO);
	ck_assert(dev1.pci.bar[1].mapped);
	pio_write(PCI_IO_WINDOW_BASE, 1, 1);
	ck_assert_int_eq(dev1.writes[1], 1);
	/* Type bits stay whatever is written. */
	cfg_write(1, PCI_BASE_ADDRESS_0, 4, LAYOUT_PCI_MMIO | 0xf);
	ck_assert_uint_eq(bar_reg(1, 0), LAYOUT_PCI_MMIO);
}
END_TEST

START_TEST(test_bar_move_memory)
{
	const uint64_t to = LAYOUT_PCI_MMIO + 0x100000;

	cfg_write(1, PCI_BASE_ADDRESS_0, 4, (uint32_t)to);
	ck_assert_uint_eq(bar_reg(1, 0), to);
	ck_assert_uint_eq(dev1.pci.bar[0].addr, to);
	/* The old address reaches nobody, the new one the device. */
	mmio_write(LAYOUT_PCI_MMIO + 8, 4, 1);
	ck_assert_uint_eq(mmio_read(LAYOUT_PCI_MMIO + 8, 4), 0xffffffff);
	ck_assert_int_eq(dev1.writes[0] + dev1.reads[0], 0);
	mmio_write(to + 8, 4, 0x55);
	ck_assert_uint_eq(mmio_read(to + 8, 4), 0x55);
	ck_assert_int_eq(dev1.writes[0], 1);
	/* The owner heard about it, once, with the outcome. */
	ck_assert_int_eq(dev1.bar_changes, 1);
	ck_assert_uint_eq(dev1.changed_bar, 0);
	ck_assert(dev1.changed_mapped);
	ck_assert_uint_eq(dev1.changed_addr, to);
	/* The MSI-X table moved with it. */
	msix_program(0, 0xfee00000, 0x41, false);
	ck_assert_uint_eq(dev1.msix.table[0].data, 0x41);
}
END_TEST

START_TEST(test_bar_move_io)
{
	const uint16_t to = PCI_IO_WINDOW_BASE + 0x1000;

	cfg_write(1, PCI_BASE_ADDRESS_1, 4, to);
	pio_write(PCI_IO_WINDOW_BASE, 1, 0x12);
	ck_assert_int_eq(dev1.writes[1], 0);
	pio_write(to + 1, 1, 0x34);
	ck_assert_int_eq(dev1.writes[1], 1);
	ck_assert_uint_eq(pio_read(to + 1, 1), 0x34);
	ck_assert_uint_eq(pio_read(PCI_IO_WINDOW_BASE + 1, 1), 0xff);
}
END_TEST

START_TEST(test_bar_move_through_ecam)
{
	/* The config write arrives on the MMIO bus itself. */
	ecam_write(1, PCI_BASE_ADDRESS_2, 4, LAYOUT_PCI_MMIO + 0x200000);
	mmio_write(LAYOUT_PCI_MMIO + 0x200000, 4, 9);
	ck_assert_int_eq(dev1.writes[2], 1);
	mmio_write(LAYOUT_PCI_MMIO + 0x4000, 4, 9);
	ck_assert_int_eq(dev1.writes[2], 1);
	/* Byte by byte: in between, the BAR sits wherever the bytes say. */
	for (unsigned i = 0; i < 4; i++)
		ecam_write(1, PCI_BASE_ADDRESS_2 + i, 1, (uint8_t)((LAYOUT_PCI_MMIO + 0x300000) >> (8 * i)));
	mmio_write(LAYOUT_PCI_MMIO + 0x300000, 4, 9);
	ck_assert_int_eq(dev1.writes[2], 2);
}
END_TEST

START_TEST(test_decode_disable_unmaps)
{
	cfg_write(1, PCI_COMMAND, 2, PCI_COMMAND_IO);
	ck_assert(!dev1.pci.bar[0].mapped && !dev1.pci.bar[2].mapped && dev1.pci.bar[1].mapped);
	ck_assert_uint_eq(mmio_read(LAYOUT_PCI_MMIO, 4), 0xffffffff);
	mmio_write(LAYOUT_PCI_MMIO + 0x4000, 4, 1);
	ck_assert_int_eq(dev1.reads[0] + dev1.writes[2], 0);
	pio_write(PCI_IO_WINDOW_BASE, 1, 1);
	ck_assert_int_eq(dev1.writes[1], 1);

	cfg_write(1, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	ck_assert(dev1.pci.bar[0].mapped && dev1.pci.bar[2].mapped && !dev1.pci.bar[1].mapped);
	pio_write(PCI_IO_WINDOW_BASE, 1, 1);
	ck_assert_int_eq(dev1.writes[1], 1);
	mmio_write(LAYOUT_PCI_MMIO + 0x4000, 4, 1);
	ck_assert_int_eq(dev1.writes[2], 1);
	/* The address survived while decoding was off. */
	ck_assert_uint_eq(bar_reg(1, 2), LAYOUT_PCI_MMIO + 0x4000);
}
END_TEST

START_TEST(test_bar_overlap_left_unmapped)
{
	tdev_init(&dev2, 1);
	ck_assert_int_eq(pci_host_add_device(&host, &dev2.pci), 0);
	/* dev2's BAR0 onto dev1's BAR2. */
	cfg_write(2, PCI_BASE_ADDRESS_0, 4, LAYOUT_PCI_MMIO + 0x5000);
	ck_assert(!dev2.pci.bar[0].mapped);
	mmio_write(LAYOUT_PCI_MMIO + 0x5000, 4, 1);
	ck_assert_int_eq(dev1.writes[2], 1);
	ck_assert_int_eq(dev2.writes[0], 0);
	/* Once dev1 moves away, the waiting BAR gets the range. */
	cfg_write(1, PCI_BASE_ADDRESS_2, 4, LAYOUT_PCI_MMIO + 0x400000);
	ck_assert(dev2.pci.bar[0].mapped);
	mmio_write(LAYOUT_PCI_MMIO + 0x5000, 4, 1);
	ck_assert_int_eq(dev2.writes[0], 1);
}
END_TEST

/* A guest rewriting an overlapping BAR, or the command register, again
 * and again: the warning shows once, not once per write. */
START_TEST(test_bar_overlap_warns_once)
{
	tdev_init(&dev2, 1);
	ck_assert_int_eq(pci_host_add_device(&host, &dev2.pci), 0);
	log_capture_start();
	for (unsigned i = 0; i < 500; i++) {
		cfg_write(2, PCI_BASE_ADDRESS_0, 4, LAYOUT_PCI_MMIO + 0x5000);
		cfg_write(2, PCI_COMMAND, 2, i % 2 ? 0 : PCI_COMMAND_MEMORY);
	}
	ck_assert_uint_eq(log_capture_stop("overlaps a BAR"), 1);
	ck_assert(!dev2.pci.bar[0].mapped);
}
END_TEST

START_TEST(test_bar_outside_window)
{
	cfg_write(1, PCI_BASE_ADDRESS_0, 4, 0x80000000);
	ck_assert(!dev1.pci.bar[0].mapped);
	ck_assert(!bus_dispatch(&mmio, 0x80000000, (uint8_t[4]){ 0 }, 4, true));
	ck_assert_int_eq(dev1.writes[0], 0);
	/* The window's last page is fine; straddling its end is not. */
	cfg_write(1, PCI_BASE_ADDRESS_0, 4, LAYOUT_PCI_MMIO + LAYOUT_PCI_MMIO_SIZE - 0x1000);
	ck_assert(dev1.pci.bar[0].mapped);
	cfg_write(1, PCI_BASE_ADDRESS_1, 4, PCI_IO_WINDOW_BASE + PCI_IO_WINDOW_SIZE);
	ck_assert(!dev1.pci.bar[1].mapped);
	cfg_write(1, PCI_BASE_ADDRESS_1, 4, 0x3f8); /* COM1: not ours to take */
	ck_assert(!dev1.pci.bar[1].mapped);
}
END_TEST

/* ---- capabilities ---- */

START_TEST(test_capability_walk)
{
	struct tdev *d = &dev2;
	const uint8_t vendor_body[5] = { 7, 1, 2, 3, 4 };

	memset(d, 0, sizeof(*d));
	pci_device_init(&d->pci, "caps", 0x1234, 0x5678, 0, 0, 0xff0000, 0);
	ck_assert_int_eq(pci_device_add_capability(&d->pci, PCI_CAP_ID_VNDR, vendor_body, sizeof(vendor_body)), 0x40);
	ck_assert_int_eq(pci_msix_init(&d->pci, &d->msix, 2, 0, 0, 0x100), 0);
	ck_assert_uint_eq(d->msix.cap_offset, 0x48);
	ck_assert_int_eq(pci_device_add_capability(&d->pci, PCI_CAP_ID_VNDR, vendor_body, 2), 0x54);
	tbars[1][0] = (struct tbar){ .dev = d, .index = 0 };
	ck_assert_int_eq(pci_device_set_bar(&d->pci, 0, 4096, false, &tbar_ops, &tbars[1][0]), 0);
	ck_assert_int_eq(pci_host_add_device(&host, &d->pci), 0);

	ck_assert_uint_ne(cfg_read(2, PCI_STATUS, 2) & PCI_STATUS_CAP_LIST, 0);
	const uint8_t want_id[] = { PCI_CAP_ID_VNDR, PCI_CAP_ID_MSIX, PCI_CAP_ID_VNDR };
	unsigned pos = cfg_read(2, PCI_CAPABILITY_LIST, 1), n = 0;
	while (pos) {
		ck_assert_uint_lt(n, 3);
		ck_assert_uint_eq(pos % 4, 0);
		ck_assert_uint_ge(pos, 0x40);
		ck_assert_uint_eq(cfg_read(2, pos, 1), want_id[n]);
		n++;
		pos = cfg_read(2, pos + PCI_CAP_LIST_NEXT, 1);
	}
	ck_assert_uint_eq(n, 3);
	ck_assert_uint_eq(ecam_read(2, 0x42, 4), 0x03020107);
	ck_assert_uint_eq(cfg_read(2, 0x46, 1), 4);
}
END_TEST

START_TEST(test_capability_wmask)
{
	struct tdev *d = &dev2;
	const uint8_t body[6] = { 0 };

	memset(d, 0, sizeof(*d));
	pci_device_init(&d->pci, "caps", 0x1234, 0x5678, 0, 0, 0xff0000, 0);
	int off = pci_device_add_capability(&d->pci, PCI_CAP_ID_VNDR, body, sizeof(body));
	ck_assert_int_eq(off, 0x40);
	pci_device_set_wmask(&d->pci, off + 4, 2, 0x0ff0);
	ck_assert_int_eq(pci_host_add_device(&host, &d->pci), 0);

	cfg_write(2, off, 4, 0xffffffff); /* id, next and the read-only body word */
	ck_assert_uint_eq(cfg_read(2, off, 4), PCI_CAP_ID_VNDR);
	cfg_write(2, off + 4, 4, 0xffffffff);
	ck_assert_uint_eq(cfg_read(2, off + 4, 4), 0x0ff0);
	/* Out-of-range wmask requests are ignored. */
	pci_device_set_wmask(&d->pci, PCI_CONFIG_SIZE - 2, 4, 0xffffffff);
	pci_device_set_wmask(&d->pci, 0, 5, 0xffffffff);
	ck_assert_uint_eq(d->pci.wmask[PCI_CONFIG_SIZE - 2], 0);
	ck_assert_uint_eq(d->pci.wmask[0], 0);
}
END_TEST

START_TEST(test_capability_space_runs_out)
{
	struct pci_device *d = &dev2.pci;
	uint8_t body[30] = { 0 };
	int off, last = 0, n = 0;

	pci_device_init(d, "full", 1, 2, 0, 0, 0, 0);
	while ((off = pci_device_add_capability(d, PCI_CAP_ID_VNDR, body, sizeof(body))) >= 0) {
		last = off;
		n++;
	}
	ck_assert_int_eq(off, -ENOSPC);
	ck_assert_int_eq(n, (256 - 0x40) / 32);
	ck_assert_int_le(last + 32, 256);
	/* A body bigger than config space is refused, not wrapped. */
	ck_assert_int_eq(pci_device_add_capability(d, PCI_CAP_ID_VNDR, NULL, 300), -ENOSPC);
	ck_assert_uint_eq(d->config[last + PCI_CAP_LIST_NEXT], 0);
}
END_TEST

/* ---- MSI-X ---- */

START_TEST(test_msix_capability)
{
	unsigned cap = msix_cap();

	ck_assert_uint_eq(cfg_read(1, cap, 1), PCI_CAP_ID_MSIX);
	ck_assert_uint_eq(cfg_read(1, cap + PCI_MSIX_FLAGS, 2), TDEV_VECTORS - 1);
	ck_assert_uint_eq(cfg_read(1, cap + PCI_MSIX_TABLE, 4), TDEV_TABLE | 0);
	ck_assert_uint_eq(cfg_read(1, cap + PCI_MSIX_PBA, 4), TDEV_PBA | 0);
	/* Enable and function mask are writable, the table size is not. */
	msix_set_control(0xffff);
	ck_assert_uint_eq(cfg_read(1, cap + PCI_MSIX_FLAGS, 2),
			  PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL | (TDEV_VECTORS - 1));
	ck_assert(!pci_msix_enabled(&dev1.pci)); /* function-masked */
	msix_set_control(PCI_MSIX_FLAGS_ENABLE);
	ck_assert(pci_msix_enabled(&dev1.pci));
	cfg_write(1, cap + PCI_MSIX_TABLE, 4, 0);
	ck_assert_uint_eq(cfg_read(1, cap + PCI_MSIX_TABLE, 4), TDEV_TABLE);
}
END_TEST

START_TEST(test_msix_table_access)
{
	/* All vectors start masked. */
	for (unsigned v = 0; v < TDEV_VECTORS; v++)
		ck_assert_uint_eq(mmio_read(msix_entry_addr(v, PCI_MSIX_ENTRY_VECTOR_CTRL), 4), 1);
	msix_program(2, 0x1fee01003ull, 0x4049, false);
	ck_assert_uint_eq(mmio_read(msix_entry_addr(2, 0), 4), 0xfee01000); /* dword-aligned address */
	ck_assert_uint_eq(mmio_read(msix_entry_addr(2, 4), 4), 1);
	ck_assert_uint_eq(mmio_read(msix_entry_addr(2, 8), 4), 0x4049);
	ck_assert_uint_eq(mmio_read(msix_entry_addr(2, 12), 4), 0);
	ck_assert_uint_eq(mmio_read(msix_entry_addr(2, 0), 8), 0x1fee01000ull);
	/* A qword write is two dwords; reserved control bits read zero. */
	mmio_write(msix_entry_addr(3, 0), 8, 0x00000000fee02000ull);
	mmio_write(msix_entry_addr(3, 8), 8, 0xfffffffe00000051ull);
	ck_assert_uint_eq(dev1.msix.table[3].addr_lo, 0xfee02000);
	ck_assert_uint_eq(dev1.msix.table[3].data, 0x51);
	ck_assert_uint_eq(mmio_read(msix_entry_addr(3, 12), 4), 0);
	/* Byte accesses are odd but harmless. */
	mmio_write(msix_entry_addr(3, 9), 1, 0x12);
	ck_assert_uint_eq(mmio_read(msix_entry_addr(3, 8), 4), 0x1251);
	ck_assert_uint_eq(mmio_read(msix_entry_addr(3, 9), 2), 0x0012);
	ck_assert_int_eq(dev1.writes[0] + dev1.reads[0], 0); /* all went to the table */
}
END_TEST

START_TEST(test_msix_table_out_of_range)
{
	uint8_t buf[8] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	struct pci_msix_entry beyond = dev1.msix.table[TDEV_VECTORS];

	/* Just past the last entry, and straddling the table's end. */
	ck_assert(!pci_msix_bar_write(&dev1.pci, TDEV_TABLE + 16 * TDEV_VECTORS, buf, 4));
	ck_assert(!pci_msix_bar_write(&dev1.pci, TDEV_TABLE + 16 * TDEV_VECTORS - 4, buf, 8));
	ck_assert(!pci_msix_bar_read(&dev1.pci, TDEV_TABLE - 4, buf, 8));
	ck_assert(!pci_msix_bar_write(&dev1.pci, UINT64_MAX - 2, buf, 4));
	ck_assert(!pci_msix_bar_write(&dev1.pci, TDEV_TABLE, buf, 16));
	ck_assert(!pci_msix_bar_read(&dev1.pci, TDEV_TABLE, buf, 0));
	ck_assert(memcmp(&beyond, &dev1.msix.table[TDEV_VECTORS], sizeof(beyond)) == 0);
	/* Through the BAR, such writes land in the device's own registers. */
	mmio_write(msix_entry_addr(TDEV_VECTORS, 0), 4, 0x1234);
	ck_assert_int_eq(dev1.writes[0], 1);
	ck_assert_int_eq(dev1.changed, 0);
	/* No MSI-X at all. */
	struct pci_device plain;
	pci_device_init(&plain, "plain", 1, 2, 0, 0, 0, 0);
	ck_assert(!pci_msix_bar_read(&plain, 0, buf, 4));
	ck_assert(!pci_msix_notify(&plain, 0));
}
END_TEST

START_TEST(test_msix_disabled_uses_intx)
{
	msix_program(0, 0xfee00000, 0x30, false);
	ck_assert(!pci_msix_notify(&dev1.pci, 0));
	ck_assert_int_eq(dev1.delivered, 0);
	ck_assert_uint_eq(pba_read(), 0);
}
END_TEST

START_TEST(test_msix_deliver)
{
	msix_program(1, 0xfee01000, 0x4031, false);
	msix_set_control(PCI_MSIX_FLAGS_ENABLE);
	ck_assert(pci_msix_notify(&dev1.pci, 1));
	ck_assert_int_eq(dev1.delivered, 1);
	ck_assert_uint_eq(dev1.last_vector, 1);
	ck_assert_uint_eq(dev1.last_address, 0xfee01000);
	ck_assert_uint_eq(dev1.last_data, 0x4031);
	ck_assert_uint_eq(pba_read(), 0);
	/* A vector beyond the table (virtio's NO_VECTOR): nothing, no INTx either. */
	ck_assert(pci_msix_notify(&dev1.pci, 0xffff));
	ck_assert(pci_msix_notify(&dev1.pci, TDEV_VECTORS));
	ck_assert_int_eq(dev1.delivered, 1);
}
END_TEST

START_TEST(test_msix_vector_mask_pending)
{
	msix_program(2, 0xfee00000, 0x22, true);
	msix_set_control(PCI_MSIX_FLAGS_ENABLE);
	ck_assert(pci_msix_notify(&dev1.pci, 2));
	ck_assert_int_eq(dev1.delivered, 0);
	ck_assert_uint_eq(pba_read(), 1u << 2);
	ck_assert_uint_eq(mmio_read((bar_reg(1, 0) & ~0xfu) + TDEV_PBA, 4), 1u << 2);
	/* Unmasking sends it and clears the pending bit. */
	mmio_write(msix_entry_addr(2, PCI_MSIX_ENTRY_VECTOR_CTRL), 4, 0);
	ck_assert_int_eq(dev1.delivered, 1);
	ck_assert_uint_eq(dev1.last_vector, 2);
	ck_assert_uint_eq(dev1.last_data, 0x22);
	ck_assert_uint_eq(pba_read(), 0);
	/* Masking again and unmasking sends nothing more. */
	mmio_write(msix_entry_addr(2, PCI_MSIX_ENTRY_VECTOR_CTRL), 4, 1);
	mmio_write(msix_entry_addr(2, PCI_MSIX_ENTRY_VECTOR_CTRL), 4, 0);
	ck_assert_int_eq(dev1.delivered, 1);
}
END_TEST

START_TEST(test_msix_function_mask)
{
	msix_program(0, 0xfee00000, 0x10, false);
	msix_program(3, 0xfee00000, 0x13, true);
	msix_set_control(PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
	ck_assert(pci_msix_notify(&dev1.pci, 0));
	ck_assert(pci_msix_notify(&dev1.pci, 3));
	ck_assert_int_eq(dev1.delivered, 0);
	ck_assert_uint_eq(pba_read(), 0x9);
	/* Clearing the function mask sends vector 0; vector 3 is still masked. */
	msix_set_control(PCI_MSIX_FLAGS_ENABLE);
	ck_assert_int_eq(dev1.delivered, 1);
	ck_assert_uint_eq(dev1.last_vector, 0);
	ck_assert_uint_eq(pba_read(), 0x8);
	/* Disabling MSI-X keeps the pending bit; re-enabling does not send it
	 * while the vector is masked. */
	msix_set_control(0);
	msix_set_control(PCI_MSIX_FLAGS_ENABLE);
	ck_assert_int_eq(dev1.delivered, 1);
	mmio_write(msix_entry_addr(3, PCI_MSIX_ENTRY_VECTOR_CTRL), 4, 0);
	ck_assert_int_eq(dev1.delivered, 2);
	ck_assert_uint_eq(dev1.last_data, 0x13);
}
END_TEST

START_TEST(test_msix_pba_read_only)
{
	msix_set_control(PCI_MSIX_FLAGS_ENABLE);
	ck_assert(pci_msix_notify(&dev1.pci, 1)); /* masked at reset: pending */
	uint64_t pba = (bar_reg(1, 0) & ~0xfu) + TDEV_PBA;
	mmio_write(pba, 8, 0);
	mmio_write(pba, 4, 0xffffffff);
	ck_assert_uint_eq(pba_read(), 0x2);
	ck_assert_int_eq(dev1.writes[0], 0);
}
END_TEST

START_TEST(test_msix_changed_callback)
{
	mmio_write(msix_entry_addr(1, PCI_MSIX_ENTRY_DATA), 4, 0x99);
	ck_assert_int_eq(dev1.changed, 1);
	mmio_write(msix_entry_addr(1, PCI_MSIX_ENTRY_DATA), 4, 0x99); /* same value */
	ck_assert_int_eq(dev1.changed, 1);
	msix_set_control(PCI_MSIX_FLAGS_ENABLE); /* every vector's routing */
	ck_assert_int_eq(dev1.changed, 1 + TDEV_VECTORS);
	msix_set_control(PCI_MSIX_FLAGS_ENABLE); /* no change */
	ck_assert_int_eq(dev1.changed, 1 + TDEV_VECTORS);
	cfg_write(1, PCI_CACHE_LINE_SIZE, 1, 0x10);
	ck_assert_int_eq(dev1.changed, 1 + TDEV_VECTORS);
}
END_TEST

START_TEST(test_msix_get_message)
{
	uint64_t address;
	uint32_t data;

	msix_program(1, 0xfee03000, 0x77, false);
	ck_assert(!pci_msix_get_message(&dev1.pci, 1, &address, &data)); /* MSI-X off */
	ck_assert_uint_eq(address, 0xfee03000);
	ck_assert_uint_eq(data, 0x77);
	msix_set_control(PCI_MSIX_FLAGS_ENABLE);
	ck_assert(pci_msix_get_message(&dev1.pci, 1, &address, &data));
	ck_assert(!pci_msix_get_message(&dev1.pci, 0, &address, &data)); /* vector masked */
	ck_assert(!pci_msix_get_message(&dev1.pci, TDEV_VECTORS, &address, &data));
}
END_TEST

/* ---- INTx ---- */

START_TEST(test_intx_level)
{
	unsigned gsi = PCI_INTX_GSI_BASE + 1; /* slot 1, INTA */

	pci_device_set_intx(&dev1.pci, 1);
	ck_assert_int_eq(irq.level[gsi], 1);
	ck_assert_uint_eq(irq.gsi, gsi);
	ck_assert_uint_ne(cfg_read(1, PCI_STATUS, 2) & PCI_STATUS_INTERRUPT, 0);
	pci_device_set_intx(&dev1.pci, 1); /* no change, no call */
	ck_assert_int_eq(irq.calls, 1);
	pci_device_set_intx(&dev1.pci, 0);
	ck_assert_int_eq(irq.level[gsi], 0);
	ck_assert_uint_eq(cfg_read(1, PCI_STATUS, 2) & PCI_STATUS_INTERRUPT, 0);
	/* The guest cannot write the interrupt status bit. */
	cfg_write(1, PCI_STATUS, 2, PCI_STATUS_INTERRUPT);
	ck_assert_uint_eq(cfg_read(1, PCI_STATUS, 2) & PCI_STATUS_INTERRUPT, 0);
}
END_TEST

START_TEST(test_intx_disable)
{
	unsigned gsi = PCI_INTX_GSI_BASE + 1;

	cfg_write(1, PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_IO | PCI_COMMAND_INTX_DISABLE);
	pci_device_set_intx(&dev1.pci, 1);
	ck_assert_int_eq(irq.level[gsi], 0);
	ck_assert_int_eq(irq.calls, 0);
	ck_assert_uint_ne(cfg_read(1, PCI_STATUS, 2) & PCI_STATUS_INTERRUPT, 0); /* still shows it */
	cfg_write(1, PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_IO);
	ck_assert_int_eq(irq.level[gsi], 1);
	cfg_write(1, PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_IO | PCI_COMMAND_INTX_DISABLE);
	ck_assert_int_eq(irq.level[gsi], 0);
	/* MSI-X enabled silences INTx as well. */
	cfg_write(1, PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_IO);
	ck_assert_int_eq(irq.level[gsi], 1);
	msix_set_control(PCI_MSIX_FLAGS_ENABLE);
	ck_assert_int_eq(irq.level[gsi], 0);
	msix_set_control(0);
	ck_assert_int_eq(irq.level[gsi], 1);
}
END_TEST

START_TEST(test_intx_shared_line)
{
	/* Slots 1 and 5 share GSI 17 (the _PRT's rule); the line is their OR. */
	static struct tdev more[3];
	struct acpi_pci routing = { .intx_gsi_base = PCI_INTX_GSI_BASE };
	unsigned gsi = acpi_pci_intx_gsi(&routing, 5, 0);

	ck_assert_uint_eq(gsi, PCI_INTX_GSI_BASE + 1);
	tdev_init(&dev2, 1);
	ck_assert_int_eq(pci_host_add_device(&host, &dev2.pci), 0);
	for (unsigned i = 0; i < 3; i++) {
		pci_device_init(&more[i].pci, "more", 1, 2, 0, 0, 0, 0);
		ck_assert_int_eq(pci_host_add_device(&host, &more[i].pci), 0);
	}
	ck_assert_uint_eq(more[2].pci.slot, 5);
	ck_assert_uint_eq(cfg_read(5, PCI_INTERRUPT_LINE, 1), gsi);
	ck_assert_uint_eq(cfg_read(2, PCI_INTERRUPT_LINE, 1), PCI_INTX_GSI_BASE + 2);

	pci_device_set_intx(&dev1.pci, 1);
	pci_device_set_intx(&more[2].pci, 1);
	pci_device_set_intx(&dev1.pci, 0);
	ck_assert_int_eq(irq.level[gsi], 1);
	pci_device_set_intx(&more[2].pci, 0);
	ck_assert_int_eq(irq.level[gsi], 0);
	pci_device_set_intx(&dev2.pci, 1);
	ck_assert_int_eq(irq.level[PCI_INTX_GSI_BASE + 2], 1);
	ck_assert_int_eq(irq.level[gsi], 0);
}
END_TEST

/* ---- set-up errors ---- */

START_TEST(test_set_bar_errors)
{
	struct pci_device *d = &dev2.pci;

	pci_device_init(d, "bad", 1, 2, 0, 0, 0, 0);
	ck_assert_int_eq(pci_device_set_bar(d, PCI_NR_BARS, 4096, false, &tbar_ops, NULL), -EINVAL);
	ck_assert_int_eq(pci_device_set_bar(d, 0, 3000, false, &tbar_ops, NULL), -EINVAL);
	ck_assert_int_eq(pci_device_set_bar(d, 0, 8, false, &tbar_ops, NULL), -EINVAL);
	ck_assert_int_eq(pci_device_set_bar(d, 0, 512, true, &tbar_ops, NULL), -EINVAL);
	ck_assert_int_eq(pci_device_set_bar(d, 0, 0, true, &tbar_ops, NULL), -EINVAL);
	ck_assert_int_eq(pci_device_set_bar(&dev1.pci, 3, 4096, false, &tbar_ops, NULL), -EBUSY); /* placed already */
}
END_TEST

START_TEST(test_msix_init_errors)
{
	struct tdev *d = &dev2;

	memset(d, 0, sizeof(*d));
	pci_device_init(&d->pci, "bad", 1, 2, 0, 0, 0, 0);
	ck_assert_int_eq(pci_msix_init(&d->pci, &d->msix, 0, 0, 0, 0x800), -EINVAL);
	ck_assert_int_eq(pci_msix_init(&d->pci, &d->msix, PCI_MSIX_MAX_VECTORS + 1, 0, 0, 0x800), -EINVAL);
	ck_assert_int_eq(pci_msix_init(&d->pci, &d->msix, 4, 6, 0, 0x800), -EINVAL);
	ck_assert_int_eq(pci_msix_init(&d->pci, &d->msix, 4, 0, 4, 0x800), -EINVAL);
	ck_assert_int_eq(pci_msix_init(&d->pci, &d->msix, 4, 0, 0, 0x30), -EINVAL); /* overlap */
	ck_assert_uint_eq(d->pci.config[PCI_CAPABILITY_LIST], 0);
	/* Table beyond the BAR: refused when the device is added. */
	ck_assert_int_eq(pci_msix_init(&d->pci, &d->msix, 4, 0, 0x1000, 0x800), 0);
	ck_assert_int_eq(pci_msix_init(&d->pci, &d->msix, 4, 0, 0, 0x800), -EINVAL); /* twice */
	ck_assert_int_eq(pci_device_set_bar(&d->pci, 0, 4096, false, &tbar_ops, NULL), 0);
	ck_assert_int_eq(pci_host_add_device(&host, &d->pci), -EINVAL);
	/* Nor may the table live in an I/O BAR. */
	memset(d, 0, sizeof(*d));
	pci_device_init(&d->pci, "bad", 1, 2, 0, 0, 0, 0);
	ck_assert_int_eq(pci_msix_init(&d->pci, &d->msix, 2, 1, 0, 0x20), 0);
	ck_assert_int_eq(pci_device_set_bar(&d->pci, 1, 64, true, &tbar_ops, NULL), 0);
	ck_assert_int_eq(pci_host_add_device(&host, &d->pci), -EINVAL);
	ck_assert_uint_eq(cfg_read(2, PCI_VENDOR_ID, 4), 0xffffffff);
}
END_TEST

START_TEST(test_add_device_runs_out)
{
	static struct pci_device many[PCI_MAX_SLOTS];
	struct pci_device *big = &dev2.pci;
	unsigned added = 0;

	/* A BAR that does not fit in what is left of the window. */
	pci_device_init(big, "big", 1, 2, 0, 0, 0, 0);
	ck_assert_int_eq(pci_device_set_bar(big, 0, LAYOUT_PCI_MMIO_SIZE, false, &tbar_ops, NULL), 0);
	ck_assert_int_eq(pci_host_add_device(&host, big), -ENOSPC);
	ck_assert_uint_eq(host.next_mmio, LAYOUT_PCI_MMIO + 0x8000); /* unchanged */
	ck_assert_int_eq(pci_host_add_device(&host, &dev1.pci), -EINVAL); /* already added */

	for (unsigned i = 0; i < PCI_MAX_SLOTS; i++) {
		pci_device_init(&many[i], "many", 1, 2, 0, 0, 0, 0);
		if (pci_host_add_device(&host, &many[i]) == 0)
			added++;
		else
			break;
	}
	ck_assert_uint_eq(added, PCI_MAX_SLOTS - 2); /* slot 0 is the bridge, 1 is dev1 */
	ck_assert_uint_eq(cfg_read(31, PCI_VENDOR_ID, 2), 1);
}
END_TEST

START_TEST(test_host_init_conflict)
{
	static const struct bus_ops none = { 0 };
	struct bus p2, m2;
	struct pci_host h2;

	bus_init(&p2, "pio");
	bus_init(&m2, "mmio");
	ck_assert_int_eq(bus_register(&m2, LAYOUT_PCI_MMIO + 0x1000, 0x1000, &none, NULL, "squatter"), 0);
	ck_assert_int_eq(pci_host_init(&h2, &p2, &m2, fake_set_irq, &irq), -EEXIST);
	/* Everything it claimed before failing is released. */
	ck_assert_uint_eq(p2.nr_ranges, 0);
	ck_assert_uint_eq(m2.nr_ranges, 1);
	pthread_rwlock_destroy(&p2.lock);
	pthread_rwlock_destroy(&m2.lock);
}
END_TEST

/* ---- a hostile guest ---- */

START_TEST(test_random_config_writes)
{
	static const unsigned sizes[] = { 1, 2, 4, 8 };
	uint8_t ids[3][16];

	tdev_init(&dev2, 1);
	ck_assert_int_eq(pci_host_add_device(&host, &dev2.pci), 0);
	for (unsigned s = 0; s < 3; s++)
		for (unsigned i = 0; i < 16; i += 4)
			put_le(&ids[s][i], 4, cfg_read(s, i, 4));
	srandom(1234);
	for (unsigned n = 0; n < 200; n++) {
		unsigned slot = random() % 4, len = sizes[random() % 4];
		uint32_t reg = random() % PCI_CONFIG_SIZE;
		uint64_t value = (uint64_t)random() << 33 ^ (uint64_t)random() << 7 ^ (uint64_t)random();
		if (n % 2 && len <= 4) {
			pio_write(0xcf8, 4, conf1_addr(0, slot, reg) | (reg & 0xf00) << 16);
			pio_write(0xcfc + (reg & 3), len, (uint32_t)value);
		} else {
			mmio_write(ecam_addr(0, slot, 0, reg), len, value);
		}
		/* And poke whatever the BARs now decode. */
		mmio_write(LAYOUT_PCI_MMIO + (random() % 0x10000), sizes[random() % 4], value);
		pio_write(PCI_IO_WINDOW_BASE + (random() % 0x100), 1 << (random() % 3), (uint32_t)value);
		pci_msix_notify(&dev1.pci, random() % 8);
		pci_device_set_intx(&dev2.pci, random() % 2);
	}
	for (unsigned s = 0; s < 3; s++) {
		ck_assert_uint_eq(cfg_read(s, PCI_VENDOR_ID, 4), le(&ids[s][0], 4));
		ck_assert_uint_eq(cfg_read(s, PCI_CLASS_REVISION, 4), le(&ids[s][8], 4));
		ck_assert_uint_eq(cfg_read(s, PCI_HEADER_TYPE, 1), PCI_HEADER_TYPE_NORMAL);
	}
	ck_assert_uint_eq(cfg_read(1, PCI_SUBSYSTEM_VENDOR_ID, 4), 0x00011af4);
	ck_assert_uint_eq(cfg_read(1, msix_cap(), 1), PCI_CAP_ID_MSIX);
	ck_assert_uint_eq(cfg_read(1, msix_cap() + PCI_MSIX_FLAGS, 2) & PCI_MSIX_FLAGS_QSIZE, TDEV_VECTORS - 1);
	/* Put BAR0 back where the test knows it, out of everyone's way:
	 * everything still works. */
	cfg_write(2, PCI_COMMAND, 2, 0);
	cfg_write(1, PCI_BASE_ADDRESS_2, 4, LAYOUT_PCI_MMIO + 0x800000);
	cfg_write(1, PCI_BASE_ADDRESS_0, 4, LAYOUT_PCI_MMIO);
	cfg_write(1, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	int before = dev1.writes[0];
	mmio_write(LAYOUT_PCI_MMIO + 0x10, 4, 1);
	ck_assert_int_eq(dev1.writes[0], before + 1);
}
END_TEST

/* Two vCPUs and an I/O thread at once: one moves BAR2 around and
 * toggles the function mask through ECAM, one uses the BARs and the MSI-X
 * table, one raises interrupts. Nothing may deadlock. */
static void *guest_config_thread(void *arg)
{
	for (unsigned n = 0; n < 2000; n++) {
		ecam_write(1, PCI_BASE_ADDRESS_2, 4, LAYOUT_PCI_MMIO + 0x100000 * (1 + n % 2));
		cfg_write(1, msix_cap() + PCI_MSIX_FLAGS, 2, PCI_MSIX_FLAGS_ENABLE | (n % 3 ? 0 : PCI_MSIX_FLAGS_MASKALL));
	}
	return arg;
}

static void *guest_bar_thread(void *arg)
{
	for (unsigned n = 0; n < 2000; n++) {
		mmio_write(LAYOUT_PCI_MMIO + 0x100000 * (1 + n % 2), 4, n);
		mmio_write(LAYOUT_PCI_MMIO + TDEV_TABLE + 16 * (n % TDEV_VECTORS) + 12, 4, n % 2);
		pio_read(PCI_IO_WINDOW_BASE, 4);
	}
	return arg;
}

static void *device_irq_thread(void *arg)
{
	for (unsigned n = 0; n < 2000; n++) {
		pci_msix_notify(&dev1.pci, n % TDEV_VECTORS);
		pci_device_set_intx(&dev1.pci, n % 2);
	}
	return arg;
}

START_TEST(test_concurrent_access)
{
	pthread_t t[3];

	msix_program(0, 0xfee00000, 0x30, false);
	ck_assert_int_eq(pthread_create(&t[0], NULL, guest_config_thread, NULL), 0);
	ck_assert_int_eq(pthread_create(&t[1], NULL, guest_bar_thread, NULL), 0);
	ck_assert_int_eq(pthread_create(&t[2], NULL, device_irq_thread, NULL), 0);
	for (unsigned i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
	ck_assert_uint_eq(cfg_read(1, PCI_VENDOR_ID, 2), TDEV_VENDOR);
	ck_assert(dev1.pci.bar[2].mapped);
	/* The last move wins, and the BAR answers there (a race shows under
	 * ./configure --enable-tsan, where this test runs too). */
	ck_assert_uint_eq(dev1.pci.bar[2].addr, LAYOUT_PCI_MMIO + 0x200000);
	ck_assert_uint_eq(cfg_read(1, PCI_BASE_ADDRESS_2, 4) & ~0xfu, LAYOUT_PCI_MMIO + 0x200000);
}
END_TEST

Suite *pci_suite(void)
{
	Suite *s = suite_create("pci");
	TCase *config = tcase_create("config");
	TCase *bars = tcase_create("bars");
	TCase *caps = tcase_create("capabilities");
	TCase *msix = tcase_create("msix");
	TCase *intx = tcase_create("intx");
	TCase *errors = tcase_create("errors");

	tcase_add_checked_fixture(config, setup, teardown);
	tcase_add_test(config, test_type1_probe);
	tcase_add_test(config, test_host_bridge);
	tcase_add_test(config, test_empty_slots_read_all_ones);
	tcase_add_test(config, test_conf1_enable_bit);
	tcase_add_test(config, test_device_ids);
	tcase_add_test(config, test_ecam_matches_conf1);
	tcase_add_test(config, test_extended_config_space);
	tcase_add_test(config, test_odd_size_accesses);
	tcase_add_test(config, test_read_only_fields);
	tcase_add_test(config, test_command_register);
	tcase_add_test(config, test_status_w1c);
	tcase_add_test(config, test_writable_scratch_registers);
	tcase_add_test(config, test_config_written_hook);
	tcase_add_test(config, test_random_config_writes);
	suite_add_tcase(s, config);

	tcase_add_checked_fixture(bars, setup, teardown);
	tcase_add_test(bars, test_bar_placement);
	tcase_add_test(bars, test_bar_access_reaches_device);
	tcase_add_test(bars, test_bar_sizing_memory);
	tcase_add_test(bars, test_bar_sizing_io);
	tcase_add_test(bars, test_bar_move_memory);
	tcase_add_test(bars, test_bar_move_io);
	tcase_add_test(bars, test_bar_move_through_ecam);
	tcase_add_test(bars, test_decode_disable_unmaps);
	tcase_add_test(bars, test_bar_overlap_left_unmapped);
	tcase_add_test(bars, test_bar_overlap_warns_once);
	tcase_add_test(bars, test_bar_outside_window);
	suite_add_tcase(s, bars);

	tcase_add_checked_fixture(caps, setup, teardown);
	tcase_add_test(caps, test_capability_walk);
	tcase_add_test(caps, test_capability_wmask);
	tcase_add_test(caps, test_capability_space_runs_out);
	suite_add_tcase(s, caps);

	tcase_add_checked_fixture(msix, setup, teardown);
	tcase_add_test(msix, test_msix_capability);
	tcase_add_test(msix, test_msix_table_access);
	tcase_add_test(msix, test_msix_table_out_of_range);
	tcase_add_test(msix, test_msix_disabled_uses_intx);
	tcase_add_test(msix, test_msix_deliver);
	tcase_add_test(msix, test_msix_vector_mask_pending);
	tcase_add_test(msix, test_msix_function_mask);
	tcase_add_test(msix, test_msix_pba_read_only);
	tcase_add_test(msix, test_msix_changed_callback);
	tcase_add_test(msix, test_msix_get_message);
	suite_add_tcase(s, msix);

	tcase_add_checked_fixture(intx, setup, teardown);
	tcase_add_test(intx, test_intx_level);
	tcase_add_test(intx, test_intx_disable);
	tcase_add_test(intx, test_intx_shared_line);
	suite_add_tcase(s, intx);

	tcase_add_checked_fixture(errors, setup, teardown);
	tcase_add_test(errors, test_set_bar_errors);
	tcase_add_test(errors, test_msix_init_errors);
	tcase_add_test(errors, test_add_device_runs_out);
	tcase_add_test(errors, test_host_init_conflict);
	tcase_add_test(errors, test_concurrent_access);
	suite_add_tcase(s, errors);
	return s;
}

#ifndef SKIFF_UNIT_NO_MAIN
int main(void)
{
	SRunner *sr = srunner_create(pci_suite());
	int failed;

	log_threshold = LOG_ERROR; /* overlapping BARs and the like warn on purpose */
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
#endif
