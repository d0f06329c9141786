/* Work done after dropping host->lock: changes made under the lock
 * record here which device callbacks to run (BAR moves, MSI-X routing
 * updates and deliveries); pci_pending_run() runs them once the lock is
 * released, so device code may call back into pci_* (pci-pending.c). */
#ifndef SKIFF_PCI_PENDING_H
#define SKIFF_PCI_PENDING_H

#include "bus/pci-config.h"

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

void pci_pending_init(struct pci_pending *p, struct pci_device *dev);
void pci_pending_run(struct pci_pending *p);

#endif
