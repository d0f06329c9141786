/* PCI host bridge, configuration space, BARs, MSI-X and INTx. See pci.h.
 *
 * Register layout and bit names come from <linux/pci_regs.h> (the PCI
 * Local Bus and PCI Express specifications). */
#include "bus/pci.h"

#include <errno.h>
#include <linux/pci_regs.h>
#include <stdio.h>
#include <string.h>

#include "kvm/x86/acpi.h"
#include "kvm/x86/layout.h"
#include "base/log.h"

#define PCI_LOG "pci"

/* Command bits a guest may change: decoding, bus mastering, INTx disable. */
#define PCI_COMMAND_WRITABLE \
	(PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | PCI_COMMAND_INTX_DISABLE)
/* Status error bits: software clears them by writing 1. */
#define PCI_STATUS_ERRORS                                                                                \
	(PCI_STATUS_PARITY | PCI_STATUS_SIG_TARGET_ABORT | PCI_STATUS_REC_TARGET_ABORT |                   \
	 PCI_STATUS_REC_MASTER_ABORT | PCI_STATUS_SIG_SYSTEM_ERROR | PCI_STATUS_DETECTED_PARITY)
/* 0xCF8: enable, bus, device, function, register; bits 27:24 extend the
 * register number to 4 KiB (AMD's extension, what Linux's conf1 emits for
 * registers above 0xff). Reserved bits 30:28 and 1:0 read as zero. */
#define PCI_CONF1_ENABLE 0x80000000u
#define PCI_CONF1_MASK 0x8ffffffcu
#define PCI_FIRST_CAP 0x40
#define PCI_STD_CONFIG_SIZE 256      /* capabilities live in the first 256 bytes */
#define PCI_MSIX_PBA_SIZE 8          /* up to 64 vectors: one qword of pending bits */

/* ---- little helpers ---- */

static uint16_t cfg16(const struct pci_device *dev, unsigned offset)
{
	return (uint16_t)bus_load_le(&dev->config[offset], 2);
}

/* Does [offset, offset+len) touch [start, start+size)? */
static bool overlaps(uint64_t offset, uint64_t len, uint64_t start, uint64_t size)
{
	return offset < start + size && start < offset + len;
}

/* Is [offset, offset+len) wholly inside [start, start+size)? Overflow-safe. */
static bool inside(uint64_t offset, uint64_t len, uint64_t start, uint64_t size)
{
	return offset >= start && len <= size && offset - start <= size - len;
}

static uint32_t all_ones(unsigned len)
{
	return len >= 4 ? 0xffffffffu : (1u << (8 * len)) - 1;
}

static void lock_dev(const struct pci_device *dev)
{
	if (dev->host)
		pthread_mutex_lock(&dev->host->lock);
}

static void unlock_dev(const struct pci_device *dev)
{
	if (dev->host)
		pthread_mutex_unlock(&dev->host->lock);
}

/* The GSI INTA of a slot raises: exactly what the DSDT's _PRT says. */
static unsigned pci_intx_gsi(unsigned slot)
{
	const struct acpi_pci routing = { .intx_gsi_base = PCI_INTX_GSI_BASE };

	return acpi_pci_intx_gsi(&routing, slot, 0);
}

/* ---- work done after dropping host->lock ----
 *
 * Changes made under the lock record here which callbacks to run; they run
 * once the lock is released, so device code may call back into pci_*. */
struct pci_pending {
	struct pci_device *dev;        /* whose MSI-X callbacks run */
	uint64_t msix_changed;         /* vectors whose routing may have changed */
	uint64_t msix_deliver;         /* vectors to send */
	uint64_t msix_addr[PCI_MSIX_MAX_VECTORS];
	uint32_t msix_data[PCI_MSIX_MAX_VECTORS];
	uint8_t bars_changed[PCI_MAX_SLOTS]; /* a bit per BAR */
	struct pci_device *bar_dev[PCI_MAX_SLOTS];
	struct {
		bool mapped;
		uint64_t addr;
	} bar_state[PCI_MAX_SLOTS][PCI_NR_BARS];
};

static void pending_init(struct pci_pending *p, struct pci_device *dev)
{
	p->dev = dev;
	p->msix_changed = p->msix_deliver = 0;
	memset(p->bars_changed, 0, sizeof(p->bars_changed));
}

static void pending_run(struct pci_pending *p)
{
	for (unsigned s = 0; s < PCI_MAX_SLOTS; s++) {
		struct pci_device *dev = p->bar_dev[s];
		for (unsigned i = 0; i < PCI_NR_BARS; i++) {
			if ((p->bars_changed[s] & (1u << i)) && dev->bar_changed)
				dev->bar_changed(dev, i, p->bar_state[s][i].mapped, p->bar_state[s][i].addr);
		}
	}
	struct pci_msix *msix = p->dev ? p->dev->msix : NULL;
	if (!msix)
		return;
	/* Routing first, so a delivered message finds it up to date. */
	for (unsigned v = 0; v < msix->nr_vectors; v++) {
		if ((p->msix_changed >> v & 1) && msix->changed)
			msix->changed(msix->ctx, v);
	}
	for (unsigned v = 0; v < msix->nr_vectors; v++) {
		if ((p->msix_deliver >> v & 1) && msix->deliver)
			msix->deliver(msix->ctx, v, p->msix_addr[v], p->msix_data[v]);
	}
}

/* ---- INTx (host->lock held) ---- */

static bool msix_on(const struct pci_device *dev);

/* What a device drives onto its GSI: its level unless INTx is disabled,
 * by the command register or by MSI-X being on. */
static bool intx_output(const struct pci_device *dev)
{
	return dev->intx_level && !(cfg16(dev, PCI_COMMAND) & PCI_COMMAND_INTX_DISABLE) && !msix_on(dev);
}

/* Recompute the wired-OR of every slot on this slot's GSI and tell the
 * interrupt controller if it changed. */
static void intx_update(struct pci_host *host, unsigned slot)
{
	unsigned line = slot % 4;
	uint8_t level = 0;

	for (unsigned s = line; s < PCI_MAX_SLOTS; s += 4) {
		if (host->slot[s] && intx_output(host->slot[s]))
			level = 1;
	}
	if (level == host->gsi_level[line])
		return;
	host->gsi_level[line] = level;
	if (host->set_irq)
		host->set_irq(host->irq_ctx, pci_intx_gsi(slot), level);
}

void pci_device_set_intx(struct pci_device *dev, int level)
{
	lock_dev(dev);
	dev->intx_level = !!level;
	uint16_t status = cfg16(dev, PCI_STATUS) & ~PCI_STATUS_INTERRUPT;
	if (dev->intx_level)
		status |= PCI_STATUS_INTERRUPT;
	bus_store_le(&dev->config[PCI_STATUS], 2, status);
	if (dev->host)
		intx_update(dev->host, dev->slot);
	unlock_dev(dev);
}

/* ---- BAR mapping (host->lock held) ---- */

/* The address a BAR register holds (type bits stripped). */
static uint64_t bar_reg_addr(const struct pci_device *dev, unsigned i)
{
	uint32_t reg = bus_load_le(&dev->config[PCI_BASE_ADDRESS_0 + 4 * i], 4);

	return dev->bar[i].io ? (reg & PCI_BASE_ADDRESS_IO_MASK) : (reg & PCI_BASE_ADDRESS_MEM_MASK);
}

static bool bar_decode_enabled(const struct pci_device *dev, unsigned i)
{
	uint16_t cmd = cfg16(dev, PCI_COMMAND);

	return cmd & (dev->bar[i].io ? PCI_COMMAND_IO : PCI_COMMAND_MEMORY);
}

/* Only what lies inside the host bridge's windows reaches a BAR. */
static bool bar_in_window(const struct pci_bar *bar, uint64_t addr)
{
	if (bar->io)
		return inside(addr, bar->size, PCI_IO_WINDOW_BASE, PCI_IO_WINDOW_SIZE);
	return inside(addr, bar->size, LAYOUT_PCI_MMIO, LAYOUT_PCI_MMIO_SIZE);
}

/* The mapped BAR of that space that overlaps [addr, addr+size), if any. */
static const struct pci_device *bar_conflict(const struct pci_host *host, bool io, uint64_t addr, uint64_t size)
{
	for (unsigned s = 0; s < PCI_MAX_SLOTS; s++) {
		const struct pci_device *dev = host->slot[s];
		for (unsigned i = 0; dev && i < PCI_NR_BARS; i++) {
			const struct pci_bar *b = &dev->bar[i];
			if (b->mapped && b->io == io && addr < b->addr + b->size && b->addr < addr + size)
				return dev;
		}
	}
	return NULL;
}

static void bar_note_change(struct pci_pending *p, struct pci_device *dev, unsigned i)
{
	p->bars_changed[dev->slot] |= 1u << i;
	p->bar_dev[dev->slot] = dev;
	p->bar_state[dev->slot][i].mapped = dev->bar[i].mapped;
	p->bar_state[dev->slot][i].addr = dev->bar[i].addr;
}

/* Bring every BAR's mapping in line with its register and the command
 * register. First unmap what moved or lost decoding, then map what wants
 * to be, so a BAR freed by a move lets a waiting one in. "programmed" is
 * the device the guest just wrote (its failures are worth a message). */
static void bars_update(struct pci_host *host, const struct pci_device *programmed, struct pci_pending *p)
{
	for (unsigned s = 0; s < PCI_MAX_SLOTS; s++) {
		struct pci_device *dev = host->slot[s];
		for (unsigned i = 0; dev && i < PCI_NR_BARS; i++) {
			struct pci_bar *b = &dev->bar[i];
			uint64_t addr = bar_reg_addr(dev, i);
			if (!b->size)
				continue;
			if (b->mapped && (addr != b->addr || !bar_decode_enabled(dev, i))) {
				b->mapped = false;
				bar_note_change(p, dev, i);
			}
			b->addr = addr;
		}
	}
	for (unsigned s = 0; s < PCI_MAX_SLOTS; s++) {
		struct pci_device *dev = host->slot[s];
		for (unsigned i = 0; dev && i < PCI_NR_BARS; i++) {
			struct pci_bar *b = &dev->bar[i];
			if (!b->size || b->mapped || !bar_decode_enabled(dev, i))
				continue;
			if (!bar_in_window(b, b->addr)) {
				/* Normal while a guest sizes a BAR with decoding on. */
				if (dev == programmed)
					log_debug(PCI_LOG, "%s: BAR%u at 0x%llx is outside the %s window, not decoded", dev->name,
						  i, (unsigned long long)b->addr, b->io ? "I/O" : "MMIO");
				continue;
			}
			const struct pci_device *other = bar_conflict(host, b->io, b->addr, b->size);
			if (other) {
				if (dev == programmed)
					log_limited(&dev->log_bar_overlap, LOG_WARN, PCI_LOG,
						    "%s: BAR%u at 0x%llx overlaps a BAR of %s, left unmapped", dev->name, i,
						    (unsigned long long)b->addr, other->name);
				continue;
			}
			b->mapped = true;
			bar_note_change(p, dev, i);
		}
	}
}

/* ---- BAR windows: forward accesses to the BAR that decodes them ---- */

static void window_access(struct pci_host *host, bool io, uint64_t addr, uint8_t *data, unsigned len,
			  bool is_write)
{
	const struct bus_ops *ops = NULL;
	void *opaque = NULL;
	uint64_t offset = 0;

	pthread_mutex_lock(&host->lock);
	for (unsigned s = 0; s < PCI_MAX_SLOTS && !ops; s++) {
		struct pci_device *dev = host->slot[s];
		for (unsigned i = 0; dev && i < PCI_NR_BARS; i++) {
			struct pci_bar *b = &dev->bar[i];
			if (b->mapped && b->io == io && inside(addr, len, b->addr, b->size)) {
				ops = b->ops;
				opaque = b->opaque;
				offset = addr - b->addr;
				break;
			}
		}
	}
	pthread_mutex_unlock(&host->lock);

	/* The device runs unlocked: it may call pci_msix_* from here. */
	if (is_write) {
		if (ops && ops->write)
			ops->write(opaque, offset, data, len);
	} else {
		memset(data, 0xff, len);
		if (ops && ops->read)
			ops->read(opaque, offset, data, len);
	}
}

static void mmio_window_read(void *opaque, uint64_t offset, uint8_t *data, unsigned len)
{
	window_access(opaque, false, LAYOUT_PCI_MMIO + offset, data, len, false);
}

static void mmio_window_write(void *opaque, uint64_t offset, const uint8_t *data, unsigned len)
{
	window_access(opaque, false, LAYOUT_PCI_MMIO + offset, (uint8_t *)data, len, true);
}

static void io_window_read(void *opaque, uint64_t offset, uint8_t *data, unsigned len)
{
	window_access(opaque, true, PCI_IO_WINDOW_BASE + offset, data, len, false);
}

static void io_window_write(void *opaque, uint64_t offset, const uint8_t *data, unsigned len)
{
	window_access(opaque, true, PCI_IO_WINDOW_BASE + offset, (uint8_t *)data, len, true);
}

static const struct bus_ops mmio_window_ops = { .read = mmio_window_read, .write = mmio_window_write };
static const struct bus_ops io_window_ops = { .read = io_window_read, .write = io_window_write };

/* ---- MSI-X state (host->lock held) ---- */

static uint16_t msix_control(const struct pci_device *dev)
{
	return cfg16(dev, dev->msix->cap_offset + PCI_MSIX_FLAGS);
}

static bool msix_on(const struct pci_device *dev)
{
	return dev->msix && (msix_control(dev) & PCI_MSIX_FLAGS_ENABLE);
}

static bool msix_can_send(const struct pci_device *dev, unsigned v)
{
	return msix_on(dev) && !(msix_control(dev) & PCI_MSIX_FLAGS_MASKALL) &&
	       !(dev->msix->table[v].ctrl & PCI_MSIX_ENTRY_CTRL_MASKBIT);
}

static uint64_t msix_address(const struct pci_msix_entry *e)
{
	return (uint64_t)e->addr_hi << 32 | e->addr_lo;
}

/* A pending vector that may be sent now goes out (after unlocking). */
static void msix_flush_pending(struct pci_device *dev, unsigned v, struct pci_pending *p)
{
	struct pci_msix *msix = dev->msix;

	if (!(msix->pba >> v & 1) || !msix_can_send(dev, v))
		return;
	msix->pba &= ~(1ull << v);
	p->msix_deliver |= 1ull << v;
	p->msix_addr[v] = msix_address(&msix->table[v]);
	p->msix_data[v] = msix->table[v].data;
}

/* Dword index d of the table: entry d / 4, field d % 4. */
static uint32_t msix_table_get(const struct pci_msix *msix, unsigned d)
{
	const struct pci_msix_entry *e = &msix->table[d / 4];
	const uint32_t field[4] = { e->addr_lo, e->addr_hi, e->data, e->ctrl };

	return field[d % 4];
}

static void msix_table_set(struct pci_device *dev, unsigned d, uint32_t value, struct pci_pending *p)
{
	struct pci_msix *msix = dev->msix;
	unsigned v = d / 4;
	struct pci_msix_entry *e = &msix->table[v];
	struct pci_msix_entry old = *e;

	switch (d % 4) {
	case 0:
		e->addr_lo = value & ~3u;    /* a message address is dword aligned */
		break;
	case 1:
		e->addr_hi = value;
		break;
	case 2:
		e->data = value;
		break;
	default:
		e->ctrl = value & PCI_MSIX_ENTRY_CTRL_MASKBIT; /* the other bits are reserved */
		break;
	}
	if (memcmp(&old, e, sizeof(old)) == 0)
		return;
	p->msix_changed |= 1ull << v;
	msix_flush_pending(dev, v, p); /* unmasking sends what was held back */
}

/* The guest wrote the MSI-X message control word: enable or function mask. */
static void msix_control_written(struct pci_device *dev, uint16_t old, struct pci_pending *p)
{
	const uint16_t bits = PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL;
	struct pci_msix *msix = dev->msix;

	if (((old ^ msix_control(dev)) & bits) == 0)
		return;
	for (unsigned v = 0; v < msix->nr_vectors; v++) {
		p->msix_changed |= 1ull << v;
		msix_flush_pending(dev, v, p);
	}
	if ((old ^ msix_control(dev)) & PCI_MSIX_FLAGS_ENABLE)
		intx_update(dev->host, dev->slot); /* MSI-X on silences INTx */
}

/* ---- config space ---- */

static uint32_t config_read_locked(const struct pci_device *dev, unsigned offset, unsigned len)
{
	return bus_load_le(&dev->config[offset], len);
}

static void config_write_locked(struct pci_device *dev, unsigned offset, unsigned len, uint32_t value,
				struct pci_pending *p)
{
	uint16_t old_cmd = cfg16(dev, PCI_COMMAND);
	uint16_t old_msix = dev->msix ? msix_control(dev) : 0;

	for (unsigned i = 0; i < len; i++) {
		unsigned o = offset + i;
		uint8_t b = (uint8_t)(value >> (8 * i));
		uint8_t v = (dev->config[o] & ~dev->wmask[o]) | (b & dev->wmask[o]);
		dev->config[o] = v & ~(b & dev->w1cmask[o]);
	}

	if (!dev->host)
		return; /* not on a bus yet: nothing is mapped or wired */
	if (overlaps(offset, len, PCI_COMMAND, 2) ||
	    overlaps(offset, len, PCI_BASE_ADDRESS_0, 4 * PCI_NR_BARS))
		bars_update(dev->host, dev, p);
	if ((old_cmd ^ cfg16(dev, PCI_COMMAND)) & PCI_COMMAND_INTX_DISABLE)
		intx_update(dev->host, dev->slot);
	if (dev->msix && overlaps(offset, len, dev->msix->cap_offset + PCI_MSIX_FLAGS, 2))
		msix_control_written(dev, old_msix, p);
}

uint32_t pci_config_read(struct pci_device *dev, unsigned offset, unsigned len)
{
	if (len == 0 || len > 4 || !inside(offset, len, 0, PCI_CONFIG_SIZE))
		return all_ones(len);
	lock_dev(dev);
	uint32_t v = config_read_locked(dev, offset, len);
	unlock_dev(dev);
	return v;
}

void pci_config_write(struct pci_device *dev, unsigned offset, unsigned len, uint32_t value)
{
	struct pci_pending p;

	if (len == 0 || len > 4 || !inside(offset, len, 0, PCI_CONFIG_SIZE))
		return;
	pending_init(&p, dev);
	lock_dev(dev);
	config_write_locked(dev, offset, len, value, &p);
	unlock_dev(dev);
	pending_run(&p);
	if (dev->config_written)
		dev->config_written(dev, offset, len);
}

/* ---- how the guest reaches config space ---- */

/* bus/devfn/reg as both mechanisms decode them; len 1..8. Absent
 * functions read all-ones and ignore writes (a master abort). */
static void config_access(struct pci_host *host, unsigned bus, unsigned devfn, unsigned reg, uint8_t *data,
			  unsigned len, bool is_write)
{
	struct pci_device *dev = NULL;

	if (bus == 0 && (devfn & 7) == 0) {
		pthread_mutex_lock(&host->lock);
		dev = host->slot[devfn >> 3];
		pthread_mutex_unlock(&host->lock);
	}
	if (!dev || !inside(reg, len, 0, PCI_CONFIG_SIZE)) {
		if (!is_write)
			memset(data, 0xff, len);
		return;
	}
	/* An 8-byte access (ECAM) is two dword accesses. */
	for (unsigned done = 0; done < len; done += 4) {
		unsigned n = len - done < 4 ? len - done : 4;
		if (is_write)
			pci_config_write(dev, reg + done, n, bus_load_le(data + done, n));
		else
			bus_store_le(data + done, n, pci_config_read(dev, reg + done, n));
	}
}

/* 0xCF8: mechanism #1 decodes only dword accesses here. The other sizes
 * and 0xCF9-0xCFB belong to other chipset registers (0xCF9 is the reset
 * control on PC chipsets, Linux's type-1 probe writes 0xCFB): ignore them. */
static void conf1_address_read(void *opaque, uint64_t offset, uint8_t *data, unsigned len)
{
	struct pci_host *host = opaque;

	if (offset != 0 || len != 4) {
		memset(data, 0xff, len);
		return;
	}
	pthread_mutex_lock(&host->lock);
	bus_store_le(data, 4, host->config_address);
	pthread_mutex_unlock(&host->lock);
}

static void conf1_address_write(void *opaque, uint64_t offset, const uint8_t *data, unsigned len)
{
	struct pci_host *host = opaque;

	if (offset != 0 || len != 4)
		return;
	pthread_mutex_lock(&host->lock);
	host->config_address = bus_load_le(data, 4) & PCI_CONF1_MASK;
	pthread_mutex_unlock(&host->lock);
}

/* 0xCFC-0xCFF: the dword selected by 0xCF8; byte n of it at 0xCFC + n. */
static void conf1_data_access(struct pci_host *host, uint64_t offset, uint8_t *data, unsigned len, bool is_write)
{
	pthread_mutex_lock(&host->lock);
	uint32_t addr = host->config_address;
	pthread_mutex_unlock(&host->lock);

	if (!(addr & PCI_CONF1_ENABLE)) {
		if (!is_write)
			memset(data, 0xff, len);
		return;
	}
	unsigned reg = (addr & 0xfc) | ((addr >> 16) & 0xf00);
	config_access(host, (addr >> 16) & 0xff, (addr >> 8) & 0xff, reg + (unsigned)offset, data, len, is_write);
}

static void conf1_data_read(void *opaque, uint64_t offset, uint8_t *data, unsigned len)
{
	conf1_data_access(opaque, offset, data, len, false);
}

static void conf1_data_write(void *opaque, uint64_t offset, const uint8_t *data, unsigned len)
{
	conf1_data_access(opaque, offset, (uint8_t *)data, len, true);
}

/* ECAM: 1 MiB per bus, 4 KiB per function. */
static void ecam_access(struct pci_host *host, uint64_t offset, uint8_t *data, unsigned len, bool is_write)
{
	config_access(host, (unsigned)(offset >> 20), (unsigned)(offset >> 12) & 0xff, (unsigned)offset & 0xfff, data,
		      len, is_write);
}

static void ecam_read(void *opaque, uint64_t offset, uint8_t *data, unsigned len)
{
	ecam_access(opaque, offset, data, len, false);
}

static void ecam_write(void *opaque, uint64_t offset, const uint8_t *data, unsigned len)
{
	ecam_access(opaque, offset, (uint8_t *)data, len, true);
}

static const struct bus_ops conf1_address_ops = { .read = conf1_address_read, .write = conf1_address_write };
static const struct bus_ops conf1_data_ops = { .read = conf1_data_read, .write = conf1_data_write };
static const struct bus_ops ecam_ops = { .read = ecam_read, .write = ecam_write };

/* ---- devices ---- */

void pci_device_init(struct pci_device *dev, const char *name, uint16_t vendor, uint16_t device,
		     uint16_t subsys_vendor, uint16_t subsys_id, uint32_t class_code, uint8_t revision)
{
	memset(dev, 0, sizeof(*dev));
	snprintf(dev->name, sizeof(dev->name), "%s", name);
	bus_store_le(&dev->config[PCI_VENDOR_ID], 2, vendor);
	bus_store_le(&dev->config[PCI_DEVICE_ID], 2, device);
	dev->config[PCI_REVISION_ID] = revision;
	bus_store_le(&dev->config[PCI_CLASS_PROG], 3, class_code);
	dev->config[PCI_HEADER_TYPE] = PCI_HEADER_TYPE_NORMAL; /* single function */
	bus_store_le(&dev->config[PCI_SUBSYSTEM_VENDOR_ID], 2, subsys_vendor);
	bus_store_le(&dev->config[PCI_SUBSYSTEM_ID], 2, subsys_id);
	dev->config[PCI_INTERRUPT_PIN] = 1; /* INTA */

	bus_store_le(&dev->wmask[PCI_COMMAND], 2, PCI_COMMAND_WRITABLE);
	bus_store_le(&dev->w1cmask[PCI_STATUS], 2, PCI_STATUS_ERRORS);
	dev->wmask[PCI_CACHE_LINE_SIZE] = 0xff;
	dev->wmask[PCI_INTERRUPT_LINE] = 0xff; /* a scratch byte for the OS */
	dev->next_cap = PCI_FIRST_CAP;
}

int pci_device_set_bar(struct pci_device *dev, unsigned index, uint64_t size, bool io, const struct bus_ops *ops,
		       void *opaque)
{
	if (dev->host)
		return -EBUSY; /* placement happens once, in pci_host_add_device */
	if (index >= PCI_NR_BARS || size == 0 || (size & (size - 1)))
		return -EINVAL;
	if (io ? (size < 4 || size > 256) : (size < 16 || size > LAYOUT_PCI_MMIO_SIZE))
		return -EINVAL;

	struct pci_bar *b = &dev->bar[index];
	*b = (struct pci_bar){ .size = size, .io = io, .ops = ops, .opaque = opaque };
	unsigned reg = PCI_BASE_ADDRESS_0 + 4 * index;
	/* The type bits are read-only; the address bits below the size read
	 * as zero, which is what makes sizing work. */
	uint32_t type = io ? PCI_BASE_ADDRESS_SPACE_IO : PCI_BASE_ADDRESS_MEM_TYPE_32;
	uint32_t mask = (uint32_t)~(size - 1) & (io ? (uint32_t)PCI_BASE_ADDRESS_IO_MASK
						   : (uint32_t)PCI_BASE_ADDRESS_MEM_MASK);
	bus_store_le(&dev->config[reg], 4, type);
	bus_store_le(&dev->wmask[reg], 4, mask);
	return 0;
}

int pci_device_add_capability(struct pci_device *dev, uint8_t id, const void *body, unsigned body_len)
{
	unsigned offset = dev->next_cap;
	unsigned size = (2 + body_len + 3) & ~3u; /* keep the next one dword aligned */

	if (body_len > PCI_STD_CONFIG_SIZE || offset + size > PCI_STD_CONFIG_SIZE)
		return -ENOSPC;
	dev->config[offset] = id;
	dev->config[offset + PCI_CAP_LIST_NEXT] = 0; /* the end of the list */
	if (body_len && body)
		memcpy(&dev->config[offset + 2], body, body_len);
	if (dev->cap_last)
		dev->config[dev->cap_last + PCI_CAP_LIST_NEXT] = (uint8_t)offset;
	else
		dev->config[PCI_CAPABILITY_LIST] = (uint8_t)offset;
	dev->config[PCI_STATUS] |= PCI_STATUS_CAP_LIST;
	dev->cap_last = (uint8_t)offset;
	dev->next_cap = (uint16_t)(offset + size);
	return (int)offset;
}

void pci_device_set_wmask(struct pci_device *dev, unsigned offset, unsigned len, uint32_t mask)
{
	if (len == 0 || len > 4 || !inside(offset, len, 0, PCI_CONFIG_SIZE))
		return;
	bus_store_le(&dev->wmask[offset], len, mask);
}

/* ---- MSI-X ---- */

int pci_msix_init(struct pci_device *dev, struct pci_msix *msix, unsigned nr_vectors, unsigned bar,
		  uint32_t table_offset, uint32_t pba_offset)
{
	uint64_t table_size = (uint64_t)nr_vectors * PCI_MSIX_ENTRY_SIZE;

	if (dev->msix || nr_vectors == 0 || nr_vectors > PCI_MSIX_MAX_VECTORS || bar >= PCI_NR_BARS)
		return -EINVAL;
	if ((table_offset | pba_offset) & PCI_MSIX_TABLE_BIR) /* the BIR shares their low 3 bits */
		return -EINVAL;
	if (overlaps(table_offset, (unsigned)table_size, pba_offset, PCI_MSIX_PBA_SIZE))
		return -EINVAL;

	/* Body after id/next: message control, table offset/BIR, PBA offset/BIR. */
	uint8_t body[10];
	bus_store_le(&body[PCI_MSIX_FLAGS - 2], 2, nr_vectors - 1);
	bus_store_le(&body[PCI_MSIX_TABLE - 2], 4, table_offset | bar);
	bus_store_le(&body[PCI_MSIX_PBA - 2], 4, pba_offset | bar);
	int offset = pci_device_add_capability(dev, PCI_CAP_ID_MSIX, body, sizeof(body));
	if (offset < 0)
		return offset;
	pci_device_set_wmask(dev, (unsigned)offset + PCI_MSIX_FLAGS, 2, PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);

	msix->nr_vectors = nr_vectors;
	msix->bar = bar;
	msix->table_offset = table_offset;
	msix->pba_offset = pba_offset;
	msix->cap_offset = (uint8_t)offset;
	memset(msix->table, 0, sizeof(msix->table));
	for (unsigned v = 0; v < PCI_MSIX_MAX_VECTORS; v++)
		msix->table[v].ctrl = PCI_MSIX_ENTRY_CTRL_MASKBIT; /* masked at reset */
	msix->pba = 0;
	dev->msix = msix;
	return 0;
}

bool pci_msix_enabled(const struct pci_device *dev)
{
	if (!dev->msix)
		return false;
	lock_dev(dev);
	bool on = msix_on(dev) && !(msix_control(dev) & PCI_MSIX_FLAGS_MASKALL);
	unlock_dev(dev);
	return on;
}

bool pci_msix_notify(struct pci_device *dev, unsigned vector)
{
	struct pci_msix *msix = dev->msix;
	uint64_t address = 0;
	uint32_t data = 0;
	bool send = false;

	if (!msix)
		return false;
	lock_dev(dev);
	if (!msix_on(dev)) {
		unlock_dev(dev);
		return false;
	}
	if (vector < msix->nr_vectors) {
		send = msix_can_send(dev, vector);
		if (send) {
			address = msix_address(&msix->table[vector]);
			data = msix->table[vector].data;
		} else {
			msix->pba |= 1ull << vector; /* sent when unmasked */
		}
	}
	unlock_dev(dev);
	if (send && msix->deliver)
		msix->deliver(msix->ctx, vector, address, data);
	return true;
}

bool pci_msix_get_message(struct pci_device *dev, unsigned vector, uint64_t *address, uint32_t *data)
{
	struct pci_msix *msix = dev->msix;
	bool ok;

	if (!msix || vector >= msix->nr_vectors)
		return false;
	lock_dev(dev);
	*address = msix_address(&msix->table[vector]);
	*data = msix->table[vector].data;
	ok = msix_can_send(dev, vector);
	unlock_dev(dev);
	return ok;
}

bool pci_msix_bar_read(struct pci_device *dev, uint64_t offset, uint8_t *data, unsigned len)
{
	struct pci_msix *msix = dev->msix;

	if (!msix || len == 0 || len > 8)
		return false;
	if (inside(offset, len, msix->table_offset, (uint64_t)msix->nr_vectors * PCI_MSIX_ENTRY_SIZE)) {
		unsigned start = (unsigned)(offset - msix->table_offset);
		lock_dev(dev);
		for (unsigned i = 0; i < len; i++) {
			unsigned byte = start + i;
			data[i] = (uint8_t)(msix_table_get(msix, byte / 4) >> (8 * (byte % 4)));
		}
		unlock_dev(dev);
		return true;
	}
	if (inside(offset, len, msix->pba_offset, PCI_MSIX_PBA_SIZE)) {
		unsigned start = (unsigned)(offset - msix->pba_offset);
		lock_dev(dev);
		for (unsigned i = 0; i < len; i++)
			data[i] = (uint8_t)(msix->pba >> (8 * (start + i)));
		unlock_dev(dev);
		return true;
	}
	return false;
}

bool pci_msix_bar_write(struct pci_device *dev, uint64_t offset, const uint8_t *data, unsigned len)
{
	struct pci_msix *msix = dev->msix;
	struct pci_pending p;

	if (!msix || len == 0 || len > 8)
		return false;
	if (inside(offset, len, msix->pba_offset, PCI_MSIX_PBA_SIZE))
		return true; /* the PBA is read-only */
	if (!inside(offset, len, msix->table_offset, (uint64_t)msix->nr_vectors * PCI_MSIX_ENTRY_SIZE))
		return false;

	/* Merge the bytes into each dword they touch: a qword write is two
	 * dword writes, and odd sizes (undefined by the spec) stay harmless. */
	unsigned start = (unsigned)(offset - msix->table_offset);
	pending_init(&p, dev);
	lock_dev(dev);
	for (unsigned d = start / 4; d <= (start + len - 1) / 4; d++) {
		uint32_t v = msix_table_get(msix, d);
		for (unsigned i = 0; i < len; i++) {
			unsigned byte = start + i;
			if (byte / 4 == d) {
				v &= ~(0xffu << (8 * (byte % 4)));
				v |= (uint32_t)data[i] << (8 * (byte % 4));
			}
		}
		msix_table_set(dev, d, v, &p);
	}
	unlock_dev(dev);
	pending_run(&p);
	return true;
}

/* ---- the host ---- */

int pci_host_add_device(struct pci_host *host, struct pci_device *dev)
{
	struct pci_pending p;
	int ret = 0;

	pthread_mutex_lock(&host->lock);
	unsigned slot = 1;
	while (slot < PCI_MAX_SLOTS && host->slot[slot])
		slot++;
	if (slot == PCI_MAX_SLOTS || dev->host) {
		ret = dev->host ? -EINVAL : -ENOSPC;
		goto out;
	}
	if (dev->msix) {
		const struct pci_msix *m = dev->msix;
		uint64_t size = dev->bar[m->bar].io ? 0 : dev->bar[m->bar].size; /* memory BARs only */
		if (!inside(m->table_offset, (uint64_t)m->nr_vectors * PCI_MSIX_ENTRY_SIZE, 0, size) ||
		    !inside(m->pba_offset, PCI_MSIX_PBA_SIZE, 0, size)) {
			log_error(PCI_LOG, "%s: MSI-X table or PBA outside BAR%u", dev->name, m->bar);
			ret = -EINVAL;
			goto out;
		}
	}

	/* Place the BARs, naturally aligned, as firmware would. Work on
	 * copies of the cursors so a failure leaves the host unchanged. */
	uint64_t next_mmio = host->next_mmio, next_io = host->next_io;
	uint64_t addr[PCI_NR_BARS] = { 0 };
	uint16_t cmd = 0;
	for (unsigned i = 0; i < PCI_NR_BARS; i++) {
		const struct pci_bar *b = &dev->bar[i];
		if (!b->size)
			continue;
		uint64_t *cursor = b->io ? &next_io : &next_mmio;
		addr[i] = (*cursor + b->size - 1) & ~(b->size - 1);
		if (!bar_in_window(b, addr[i])) {
			log_error(PCI_LOG, "%s: no room for BAR%u (%llu bytes)", dev->name, i, (unsigned long long)b->size);
			ret = -ENOSPC;
			goto out;
		}
		*cursor = addr[i] + b->size;
		cmd |= b->io ? PCI_COMMAND_IO : PCI_COMMAND_MEMORY;
	}
	host->next_mmio = next_mmio;
	host->next_io = next_io;
	for (unsigned i = 0; i < PCI_NR_BARS; i++) {
		unsigned reg = PCI_BASE_ADDRESS_0 + 4 * i;
		if (dev->bar[i].size)
			bus_store_le(&dev->config[reg], 4, bus_load_le(&dev->config[reg], 4) | (uint32_t)addr[i]);
	}
	bus_store_le(&dev->config[PCI_COMMAND], 2, cfg16(dev, PCI_COMMAND) | cmd);
	dev->config[PCI_INTERRUPT_LINE] = (uint8_t)pci_intx_gsi(slot);

	dev->host = host;
	dev->slot = slot;
	host->slot[slot] = dev;
	pending_init(&p, NULL);
	bars_update(host, dev, &p);
	intx_update(host, slot); /* in case it raised INTx before */
out:
	pthread_mutex_unlock(&host->lock);
	if (ret == 0)
		pending_run(&p);
	return ret;
}

int pci_host_init(struct pci_host *host, struct bus *pio, struct bus *mmio,
		  void (*set_irq)(void *ctx, unsigned gsi, int level), void *irq_ctx)
{
	const struct {
		struct bus *bus;
		uint64_t base, len;
		const struct bus_ops *ops;
		const char *name;
	} ranges[] = {
		{ pio, 0xcf8, 4, &conf1_address_ops, "pci-conf1-address" },
		{ pio, 0xcfc, 4, &conf1_data_ops, "pci-conf1-data" },
		{ pio, PCI_IO_WINDOW_BASE, PCI_IO_WINDOW_SIZE, &io_window_ops, "pci-io-window" },
		{ mmio, LAYOUT_PCI_ECAM, LAYOUT_PCI_ECAM_SIZE, &ecam_ops, "pci-ecam" },
		{ mmio, LAYOUT_PCI_MMIO, LAYOUT_PCI_MMIO_SIZE, &mmio_window_ops, "pci-mmio-window" },
	};
	const unsigned nr_ranges = sizeof(ranges) / sizeof(ranges[0]);

	memset(host, 0, sizeof(*host));
	pthread_mutex_init(&host->lock, NULL);
	host->pio = pio;
	host->mmio = mmio;
	host->set_irq = set_irq;
	host->irq_ctx = irq_ctx;
	host->next_mmio = LAYOUT_PCI_MMIO;
	host->next_io = PCI_IO_WINDOW_BASE;

	/* The host bridge: no BARs, no interrupt, nothing the guest may change
	 * but the command register (which decodes nothing). */
	pci_device_init(&host->bridge, "host-bridge", PCI_HOST_BRIDGE_VENDOR, PCI_HOST_BRIDGE_DEVICE,
			PCI_HOST_BRIDGE_VENDOR, PCI_HOST_BRIDGE_DEVICE, PCI_HOST_BRIDGE_CLASS, 0);
	host->bridge.config[PCI_INTERRUPT_PIN] = 0;
	host->bridge.wmask[PCI_INTERRUPT_LINE] = 0;
	host->bridge.host = host;
	host->bridge.slot = 0;
	host->slot[0] = &host->bridge;

	for (unsigned i = 0; i < nr_ranges; i++) {
		int ret = bus_register(ranges[i].bus, ranges[i].base, ranges[i].len, ranges[i].ops, host, ranges[i].name);
		if (ret < 0) {
			log_error(PCI_LOG, "cannot claim %s at 0x%llx: %s", ranges[i].name,
				  (unsigned long long)ranges[i].base, strerror(-ret));
			while (i-- > 0)
				bus_unregister(ranges[i].bus, ranges[i].base);
			pthread_mutex_destroy(&host->lock);
			return ret;
		}
	}
	return 0;
}
