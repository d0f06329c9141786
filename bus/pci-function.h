/* One PCI function's configuration space: the type-0 header, BARs as
 * declared before the function is placed, the capability list, and the
 * write masks that filter the guest's writes (pci-function.c). What a
 * write changes on the host is pci.c's business. See pci.h. */
#ifndef SKIFF_PCI_FUNCTION_H
#define SKIFF_PCI_FUNCTION_H

#include "bus/pci-config.h"

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
/* For pci.c, with host->lock held (or before the function is placed):
 * read len (1..4) bytes of config space, and write them through the
 * write and write-1-to-clear masks. The caller checks the range. */
uint32_t pci_config_load(const struct pci_device *dev, unsigned offset, unsigned len);
void pci_config_store(struct pci_device *dev, unsigned offset, unsigned len, uint32_t value);

#endif
