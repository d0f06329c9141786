/* The PCI host bridge and its devices (bus 0 only).
 *
 * The guest reaches configuration space two ways: configuration mechanism
 * #1 (address at port 0xCF8, data at 0xCFC-0xCFF) and ECAM (memory at
 * LAYOUT_PCI_ECAM, 4 KiB per function). Both end in pci_config_read/write
 * on the device's 4 KiB config array, filtered by a write mask, so a
 * guest can only change what a real device would let it change.
 *
 * BARs: skiff has no firmware, so pci_host_add_device() places each BAR
 * itself (naturally aligned, in LAYOUT_PCI_MMIO or the PCI I/O window) and
 * registers it on the MMIO or PIO bus while the command register enables
 * decoding. Sizing (writing all-ones and reading back the size mask) and
 * moving a BAR work as on hardware: the bus registration follows.
 *
 * MSI-X: a device may own a table and PBA inside one of its BARs
 * (pci_msix_init); the transport delivers vector v with pci_msix_notify(),
 * which honours the function mask and per-vector masks (setting the
 * pending bit instead) and hands unmasked messages to the deliver callback
 * (skiff routes them through KVM GSI routing and an irqfd).
 *
 * INTx: pin A of slot s is wired to IOAPIC GSI acpi_pci_intx_gsi() (the
 * same rule the DSDT's _PRT describes); pci_device_set_intx() drives it.
 */
#ifndef SKIFF_PCI_H
#define SKIFF_PCI_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "bus/bus.h"
#include "devices/hooks.h"

#define PCI_CONFIG_SIZE 4096
#define PCI_MAX_SLOTS 32
#define PCI_NR_BARS 6
#define PCI_IO_WINDOW_BASE 0xc000   /* BARs in I/O space: 0xc000-0xefff */
#define PCI_IO_WINDOW_SIZE 0x3000
#define PCI_INTX_GSI_BASE 16        /* INTA of slot s -> GSI 16 + (s + pin) % 4 */

struct pci_device;

struct pci_bar {
	uint64_t size;                /* power of two; 0 = BAR unused */
	bool io;                      /* I/O space (else 32-bit memory) */
	uint64_t addr;                /* current guest address */
	bool mapped;                  /* registered on a bus right now */
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
	/* deliver(ctx, vector, address, data): send the message. */
	void (*deliver)(void *ctx, unsigned vector, uint64_t address, uint32_t data);
	/* changed(ctx, vector): an entry or the enable/mask bits changed (to update routing). */
	void (*changed)(void *ctx, unsigned vector);
	void *ctx;
};

struct pci_host {
	struct bus *pio, *mmio;
	pthread_mutex_t lock;
	uint32_t config_address;      /* last value written to 0xCF8 */
	struct pci_device *slot[PCI_MAX_SLOTS];
	uint64_t next_mmio, next_io;  /* BAR placement cursors */
	/* INTx: irq(ctx, gsi, level) */
	void (*set_irq)(void *ctx, unsigned gsi, int level);
	void *irq_ctx;
};

struct pci_device {
	char name[32];
	struct pci_host *host;
	unsigned slot;
	uint8_t config[PCI_CONFIG_SIZE];
	uint8_t wmask[PCI_CONFIG_SIZE];   /* bits the guest may write */
	uint8_t w1cmask[PCI_CONFIG_SIZE]; /* write-1-to-clear bits (status) */
	uint8_t next_cap;                 /* where the next capability goes */
	uint8_t *cap_last_next;           /* the previous capability's next pointer */
	struct pci_bar bar[PCI_NR_BARS];
	struct pci_msix *msix;            /* NULL if none */
	int intx_level;
	/* Called after the guest wrote config space [offset, offset+len) (optional). */
	void (*config_written)(struct pci_device *dev, unsigned offset, unsigned len);
	void *opaque;
};

/* Registers 0xCF8-0xCFF and the ECAM window. */
__attribute__((warn_unused_result)) int pci_host_init(struct pci_host *host, struct bus *pio, struct bus *mmio,
						      void (*set_irq)(void *ctx, unsigned gsi, int level), void *irq_ctx);

/* Type-0 header with these IDs; interrupt pin A. */
void pci_device_init(struct pci_device *dev, const char *name, uint16_t vendor, uint16_t device,
		     uint16_t subsys_vendor, uint16_t subsys_id, uint32_t class_code, uint8_t revision);
/* Declare BAR index (before pci_host_add_device). */
int pci_device_set_bar(struct pci_device *dev, unsigned index, uint64_t size, bool io, const struct bus_ops *ops,
		       void *opaque);
/* Append a capability: id, then body (which starts after the id/next bytes).
 * Returns its offset in config space, or -ENOSPC. wmask of the body is 0
 * (the caller opens writable fields with pci_device_set_wmask). */
int pci_device_add_capability(struct pci_device *dev, uint8_t id, const void *body, unsigned body_len);
void pci_device_set_wmask(struct pci_device *dev, unsigned offset, unsigned len, uint32_t mask);
/* Add an MSI-X capability with nr_vectors in BAR bar at table/pba offsets. */
int pci_msix_init(struct pci_device *dev, struct pci_msix *msix, unsigned nr_vectors, unsigned bar,
		  uint32_t table_offset, uint32_t pba_offset);

/* Place the device in the first free slot (or -ENOSPC), place its BARs. */
__attribute__((warn_unused_result)) int pci_host_add_device(struct pci_host *host, struct pci_device *dev);

/* Config space access (both mechanisms end here; exposed for tests). */
uint32_t pci_config_read(struct pci_device *dev, unsigned offset, unsigned len);
void pci_config_write(struct pci_device *dev, unsigned offset, unsigned len, uint32_t value);

/* MSI-X: is it enabled (and not function-masked)? Deliver vector v. */
bool pci_msix_enabled(const struct pci_device *dev);
void pci_msix_notify(struct pci_device *dev, unsigned vector);
/* The table/PBA accessors a BAR handler calls for offsets inside them;
 * return false if offset is not in the table or PBA. */
bool pci_msix_bar_read(struct pci_device *dev, uint64_t offset, uint8_t *data, unsigned len);
bool pci_msix_bar_write(struct pci_device *dev, uint64_t offset, const uint8_t *data, unsigned len);

/* INTx pin A level. */
void pci_device_set_intx(struct pci_device *dev, int level);

#endif
