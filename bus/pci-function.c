/* One PCI function's configuration space: the type-0 header, BARs as
 * declared before the function is placed, the capability list, and
 * writes filtered by the write masks. See pci-function.h. */
#include "bus/pci-function.h"

#include <errno.h>
#include <linux/pci_regs.h>
#include <stdio.h>
#include <string.h>

#include "bus/pci-shared.h"
#include "kvm/x86/layout.h"

/* ---- config space (host->lock held, or not placed yet) ---- */

uint32_t pci_config_load(const struct pci_device *dev, unsigned offset, unsigned len)
{
	return bus_load_le(&dev->config[offset], len);
}

void pci_config_store(struct pci_device *dev, unsigned offset, unsigned len, uint32_t value)
{
	for (unsigned i = 0; i < len; i++) {
		unsigned o = offset + i;
		uint8_t b = (uint8_t)(value >> (8 * i));
		uint8_t v = (dev->config[o] & ~dev->wmask[o]) | (b & dev->wmask[o]);
		dev->config[o] = v & ~(b & dev->w1cmask[o]);
	}
}

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
