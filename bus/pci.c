/* The PCI host bridge: how the guest reaches config space (0xCF8/0xCFC
 * and ECAM) and what a config write changes on the host, where BARs sit
 * and which one decodes an access, and INTx wiring. Below it: pci-msix.c
 * (a function's MSI-X table), pci-function.c (its config space) and
 * pci-pending.c (callbacks run after host->lock is dropped). See pci.h.
 *
 * Register layout and bit names come from <linux/pci_regs.h> (the PCI
 * Local Bus and PCI Express specifications). */
#include "bus/pci.h"

#include <errno.h>
#include <linux/pci_regs.h>
#include <stdio.h>
#include <string.h>

#include "bus/pci-shared.h"
#include "kvm/x86/acpi.h"
#include "kvm/x86/layout.h"
#include "base/log.h"

/* The GSI INTA of a slot raises: exactly what the DSDT's _PRT says. */
static unsigned pci_intx_gsi(unsigned slot)
{
	const struct acpi_pci routing = { .intx_gsi_base = PCI_INTX_GSI_BASE };

	return acpi_pci_intx_gsi(&routing, slot, 0);
}

/* ---- INTx (host->lock held) ---- */

/* What a device drives onto its GSI: its level unless INTx is disabled,
 * by the command register or by MSI-X being on. */
static bool intx_output(const struct pci_device *dev)
{
	return dev->intx_level && !(cfg16(dev, PCI_COMMAND) & PCI_COMMAND_INTX_DISABLE) && !pci_msix_on(dev);
}

/* Recompute the wired-OR of every slot on this slot's GSI and tell the
 * interrupt controller if it changed. */
static void pci_intx_update(struct pci_host *host, unsigned slot)
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
		pci_intx_update(dev->host, dev->slot);
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
static void pci_bars_update(struct pci_host *host, const struct pci_device *programmed, struct pci_pending *p)
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

/* ---- config space: the entry both mechanisms (and tests) use ---- */

/* A config write, with host->lock held: through the function's masks,
 * then whatever it changed on the host (BAR decoding, INTx disable,
 * MSI-X enable or mask). */
static void config_write_locked(struct pci_device *dev, unsigned offset, unsigned len, uint32_t value,
				struct pci_pending *p)
{
	uint16_t old_cmd = cfg16(dev, PCI_COMMAND);
	uint16_t old_msix = dev->msix ? pci_msix_control(dev) : 0;
	bool msix_toggled = false;

	pci_config_store(dev, offset, len, value);
	if (!dev->host)
		return; /* not on a bus yet: nothing is mapped or wired */
	if (overlaps(offset, len, PCI_COMMAND, 2) ||
	    overlaps(offset, len, PCI_BASE_ADDRESS_0, 4 * PCI_NR_BARS))
		pci_bars_update(dev->host, dev, p);
	if (dev->msix && overlaps(offset, len, dev->msix->cap_offset + PCI_MSIX_FLAGS, 2))
		msix_toggled = pci_msix_control_written(dev, old_msix, p);
	/* MSI-X on silences INTx, as does the command register's disable bit. */
	if (msix_toggled || ((old_cmd ^ cfg16(dev, PCI_COMMAND)) & PCI_COMMAND_INTX_DISABLE))
		pci_intx_update(dev->host, dev->slot);
}

uint32_t pci_config_read(struct pci_device *dev, unsigned offset, unsigned len)
{
	if (len == 0 || len > 4 || !inside(offset, len, 0, PCI_CONFIG_SIZE))
		return all_ones(len);
	lock_dev(dev);
	uint32_t v = pci_config_load(dev, offset, len);
	unlock_dev(dev);
	return v;
}

void pci_config_write(struct pci_device *dev, unsigned offset, unsigned len, uint32_t value)
{
	struct pci_pending p;

	if (len == 0 || len > 4 || !inside(offset, len, 0, PCI_CONFIG_SIZE))
		return;
	pci_pending_init(&p, dev);
	lock_dev(dev);
	config_write_locked(dev, offset, len, value, &p);
	unlock_dev(dev);
	pci_pending_run(&p);
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
	pci_pending_init(&p, NULL);
	pci_bars_update(host, dev, &p);
	pci_intx_update(host, slot); /* in case it raised INTx before */
out:
	pthread_mutex_unlock(&host->lock);
	if (ret == 0)
		pci_pending_run(&p);
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
