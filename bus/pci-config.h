/* The PCI data: a function's config space, BARs and MSI-X state, and the
 * host they sit on, with the constants that size them. Data only: every
 * part of bus/'s PCI code and every user of bus/pci.h includes it; the
 * code is in pci.c (the host bridge), pci-msix.c, pci-function.c and
 * pci-pending.c. Locking is described in pci.h. */
#ifndef SKIFF_PCI_CONFIG_H
#define SKIFF_PCI_CONFIG_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "bus/bus.h"
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

#endif
