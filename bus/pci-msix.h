/* MSI-X: a function's vector table and pending bits, the message
 * control word's enable and function mask, and sending a vector
 * (pci-msix.c). See pci.h for the locking. */
#ifndef SKIFF_PCI_MSIX_H
#define SKIFF_PCI_MSIX_H

#include "bus/pci-config.h"
#include "bus/pci-pending.h"

/* Add an MSI-X capability with nr_vectors (1..64) in BAR bar at table/pba
 * offsets (8-byte aligned). All vectors start masked. 0 or -EINVAL/-ENOSPC;
 * the capability's offset is in msix->cap_offset. The BAR's ops must pass
 * accesses to the table and PBA on to pci_msix_bar_read/write. */
int pci_msix_init(struct pci_device *dev, struct pci_msix *msix, unsigned nr_vectors, unsigned bar,
		  uint32_t table_offset, uint32_t pba_offset);

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

/* For pci.c, with host->lock held. The message control word, and whether
 * MSI-X is enabled (function mask aside). */
uint16_t pci_msix_control(const struct pci_device *dev);
bool pci_msix_on(const struct pci_device *dev);
/* The guest wrote the message control word (it was `old`): queue the
 * routing updates and the pending vectors that may now go out. True if
 * the enable bit changed (INTx must follow: MSI-X on silences it). */
bool pci_msix_control_written(struct pci_device *dev, uint16_t old, struct pci_pending *p);

#endif
