/* The PCI host bridge and its devices (bus 0 only).
 *
 * The guest reaches configuration space two ways: configuration mechanism
 * #1 (address at port 0xCF8, data at 0xCFC-0xCFF) and ECAM (memory at
 * LAYOUT_PCI_ECAM, 4 KiB per function). Both end in pci_config_read/write
 * on the device's 4 KiB config array, filtered by a write mask, so a
 * guest can only change what a real device would let it change. Slot 0
 * holds the host bridge itself; only function 0 of each slot exists.
 *
 * BARs: skiff has no firmware, so pci_host_add_device() places each BAR
 * itself (naturally aligned, in LAYOUT_PCI_MMIO or the PCI I/O window) and
 * sets the command register's decode bits. Sizing (writing all-ones and
 * reading back the size mask) and moving a BAR work as on hardware.
 *
 * How BAR accesses reach a device: pci_host_init() registers the whole
 * MMIO window and the whole I/O window on the buses once, and forwards
 * each access to the BAR that currently decodes it (a BAR is "mapped"
 * while its space is enabled in the command register, it lies inside the
 * window and it overlaps no other mapped BAR). Registering each BAR on the
 * bus itself cannot work: a BAR moves on a guest config write, which runs
 * inside bus_dispatch() with the bus lock held, and bus_register() on that
 * same bus would deadlock. Like a real host bridge, addresses outside the
 * windows never reach a BAR.
 *
 * MSI-X: a device may own a table and PBA inside one of its BARs
 * (pci_msix_init); the transport delivers vector v with pci_msix_notify(),
 * which honours the function mask and per-vector masks (setting the
 * pending bit instead) and hands unmasked messages to the deliver callback
 * (skiff routes them through KVM GSI routing and an irqfd).
 *
 * INTx: pin A of slot s is wired to IOAPIC GSI acpi_pci_intx_gsi() (the
 * same rule the DSDT's _PRT describes); pci_device_set_intx() drives it.
 * Slots sharing a GSI are OR-ed, as on a wired-OR level-triggered line.
 *
 * Locking: one lock, host->lock, guards the config spaces, BAR state and
 * MSI-X state of every device on the host. Every pci_* function a running
 * machine uses takes it itself, so never call them with it held (the
 * set-up calls before pci_host_add_device need no lock). Callbacks into device code --
 * bar ops, msix->deliver, msix->changed, dev->config_written,
 * dev->bar_changed -- run WITHOUT host->lock, so they may call any pci_*
 * function. The one exception is host->set_irq (INTx), which runs with
 * host->lock held so that level changes reach the interrupt controller in
 * order; it must not call back into pci_*.
 */
#ifndef SKIFF_PCI_H
#define SKIFF_PCI_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "bus/bus.h"
#include "base/hooks.h"
#include "base/log.h"

#define PCI_CONFIG_SIZE 4096
#define PCI_MAX_SLOTS 32
#define PCI_NR_BARS 6
#define PCI_IO_WINDOW_BASE 0xc000   /* BARs in I/O space: 0xc000-0xefff */
#define PCI_IO_WINDOW_SIZE 0x3000
#define PCI_INTX_GSI_BASE 16        /* INTA of slot s -> GSI 16 + (s + pin) % 4 */

/* The host bridge in slot 0. The IDs are those of QEMU's generic PCIe host
 * bridge: no Linux driver or quirk binds to them, unlike real chipsets'. */
#define PCI_HOST_BRIDGE_VENDOR 0x1b36
#define PCI_HOST_BRIDGE_DEVICE 0x0008
#define PCI_HOST_BRIDGE_CLASS  0x060000  /* bridge, host */

struct pci_device;
struct pci_host;

struct pci_bar {
	uint64_t size;                /* power of two; 0 = BAR unused */
	bool io;                      /* I/O space (else 32-bit memory) */
	uint64_t addr;                /* address in the BAR register */
	bool mapped;                  /* reachable at addr right now */
	const struct bus_ops *ops;    /* accesses, offset relative to the BAR */
	void *opaque;
};

struct pci_msix_entry {
	uint32_t addr_lo, addr_hi, data, ctrl; /* ctrl bit 0 = masked */
};

#define PCI_MSIX_MAX_VECTORS 64

struct pci_msix {
	unsigned nr_vectors;
	unsigned bar;                 /* BAR holding table and PBA */
	uint32_t table_offset, pba_offset;
	uint8_t cap_offset;           /* of the MSI-X capability in config space */
	struct pci_msix_entry table[PCI_MSIX_MAX_VECTORS];
	uint64_t pba;                 /* pending bits */
	/* The owner's (pci_msix_init leaves them alone). Both run without host->lock. */
	/* deliver(ctx, vector, address, data): send the message. */
	void (*deliver)(void *ctx, unsigned vector, uint64_t address, uint32_t data);
	/* changed(ctx, vector): the entry or the enable/function-mask bits
	 * changed (to update routing); pci_msix_get_message() tells the new state. */
	void (*changed)(void *ctx, unsigned vector);
	void *ctx;
};

struct pci_device {
	char name[32];
	struct pci_host *host;            /* set by pci_host_add_device */
	unsigned slot;
	uint8_t config[PCI_CONFIG_SIZE];
	uint8_t wmask[PCI_CONFIG_SIZE];   /* bits the guest may write */
	uint8_t w1cmask[PCI_CONFIG_SIZE]; /* write-1-to-clear bits (status) */
	uint16_t next_cap;                /* where the next capability goes */
	uint8_t cap_last;                 /* offset of the last capability, 0 = none */
	struct pci_bar bar[PCI_NR_BARS];
	struct pci_msix *msix;            /* NULL if none */
	int intx_level;                   /* what the device drives on INTA */
	/* Optional, set after pci_device_init; both run without host->lock. */
	/* After the guest wrote config space [offset, offset+len). */
	void (*config_written)(struct pci_device *dev, unsigned offset, unsigned len);
	/* BAR index became reachable at addr (mapped) or stopped being
	 * reachable, e.g. to move ioeventfds. One call per change with its
	 * outcome (a move is one call: mapped at the new addr), so the owner
	 * remembers where it had put things. Also called by pci_host_add_device. */
	void (*bar_changed)(struct pci_device *dev, unsigned index, bool mapped, uint64_t addr);
	void *opaque;
	struct log_limit log_bar_overlap; /* the guest may place BARs badly on every write */
};

struct pci_host {
	struct bus *pio, *mmio;
	pthread_mutex_t lock;
	uint32_t config_address;      /* last value written to 0xCF8 */
	struct pci_device *slot[PCI_MAX_SLOTS];
	struct pci_device bridge;     /* the host bridge, slot 0 */
	uint64_t next_mmio, next_io;  /* BAR placement cursors */
	uint8_t gsi_level[4];         /* level driven on GSI PCI_INTX_GSI_BASE + i */
	/* INTx: irq(ctx, gsi, level); called with host->lock held. */
	void (*set_irq)(void *ctx, unsigned gsi, int level);
	void *irq_ctx;
};

/* Registers 0xCF8-0xCFF, the ECAM window and the BAR windows (MMIO and
 * I/O) and puts the host bridge in slot 0. 0 or -errno from bus_register. */
__attribute__((warn_unused_result)) int pci_host_init(struct pci_host *host, struct bus *pio, struct bus *mmio,
						      void (*set_irq)(void *ctx, unsigned gsi, int level), void *irq_ctx);

/* Type-0 header with these IDs; interrupt pin A. Clears *dev first, so set
 * opaque and the hooks afterwards. class_code is 24 bits: base class,
 * subclass, programming interface (e.g. 0x020000 Ethernet). */
void pci_device_init(struct pci_device *dev, const char *name, uint16_t vendor, uint16_t device,
		     uint16_t subsys_vendor, uint16_t subsys_id, uint32_t class_code, uint8_t revision);
/* Declare BAR index (before pci_host_add_device): size a power of two,
 * 16 bytes..256 MiB for memory, 4..256 bytes for I/O. 0 or -EINVAL/-EBUSY. */
int pci_device_set_bar(struct pci_device *dev, unsigned index, uint64_t size, bool io, const struct bus_ops *ops,
		       void *opaque);
/* Append a capability: id, then body (which starts after the id/next bytes).
 * Returns its offset in config space, or -ENOSPC. wmask of the body is 0
 * (the caller opens writable fields with pci_device_set_wmask). */
int pci_device_add_capability(struct pci_device *dev, uint8_t id, const void *body, unsigned body_len);
/* Let the guest write the bits set in mask of the len (1..4) bytes at offset. */
void pci_device_set_wmask(struct pci_device *dev, unsigned offset, unsigned len, uint32_t mask);
/* Add an MSI-X capability with nr_vectors (1..64) in BAR bar at table/pba
 * offsets (8-byte aligned). All vectors start masked. 0 or -EINVAL/-ENOSPC;
 * the capability's offset is in msix->cap_offset. The BAR's ops must pass
 * accesses to the table and PBA on to pci_msix_bar_read/write. */
int pci_msix_init(struct pci_device *dev, struct pci_msix *msix, unsigned nr_vectors, unsigned bar,
		  uint32_t table_offset, uint32_t pba_offset);

/* Place the device in the first free slot, place its BARs, enable their
 * decoding and wire INTA. 0, -ENOSPC (no slot or window space), -EINVAL
 * (MSI-X table or PBA outside its BAR). */
__attribute__((warn_unused_result)) int pci_host_add_device(struct pci_host *host, struct pci_device *dev);

/* Config space access (both mechanisms end here; exposed for tests).
 * len 1..4 at any offset; accesses beyond 4 KiB read all-ones / are dropped. */
uint32_t pci_config_read(struct pci_device *dev, unsigned offset, unsigned len);
void pci_config_write(struct pci_device *dev, unsigned offset, unsigned len, uint32_t value);

/* MSI-X: is it enabled and not function-masked? */
bool pci_msix_enabled(const struct pci_device *dev);
/* Deliver vector v: sends it, or sets its pending bit while it (or the
 * function) is masked. Returns false when MSI-X is disabled (the device
 * should use INTx instead); true otherwise, also when v is beyond the table
 * (e.g. VIRTIO_MSI_NO_VECTOR), which sends nothing. */
bool pci_msix_notify(struct pci_device *dev, unsigned vector);
/* The message of vector v; true if sending it now would deliver it
 * (MSI-X enabled, neither function nor vector masked). */
bool pci_msix_get_message(struct pci_device *dev, unsigned vector, uint64_t *address, uint32_t *data);
/* The table/PBA accessors a BAR handler calls for offsets inside them;
 * return false if [offset, offset+len) is not wholly in the table or PBA.
 * Any len 1..8 works; the PBA is read-only. */
bool pci_msix_bar_read(struct pci_device *dev, uint64_t offset, uint8_t *data, unsigned len);
bool pci_msix_bar_write(struct pci_device *dev, uint64_t offset, const uint8_t *data, unsigned len);

/* INTx pin A level. The line stays low while the command register's INTx
 * disable bit is set or MSI-X is enabled; status bit 3 shows the level. */
void pci_device_set_intx(struct pci_device *dev, int level);

#endif
