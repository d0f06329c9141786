/* The constants and small helpers that pci.c (the host bridge),
 * pci-msix.c and pci-function.c share, and nothing outside bus/
 * includes. See pci.h for the locking. */
#ifndef SKIFF_PCI_SHARED_H
#define SKIFF_PCI_SHARED_H

#include <linux/pci_regs.h>
#include <string.h>

#include "bus/pci-config.h"

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

static inline uint16_t cfg16(const struct pci_device *dev, unsigned offset)
{
	return (uint16_t)bus_load_le(&dev->config[offset], 2);
}

/* Does [offset, offset+len) touch [start, start+size)? */
static inline bool overlaps(uint64_t offset, uint64_t len, uint64_t start, uint64_t size)
{
	return offset < start + size && start < offset + len;
}

/* Is [offset, offset+len) wholly inside [start, start+size)? Overflow-safe. */
static inline bool inside(uint64_t offset, uint64_t len, uint64_t start, uint64_t size)
{
	return offset >= start && len <= size && offset - start <= size - len;
}

static inline uint32_t all_ones(unsigned len)
{
	return len >= 4 ? 0xffffffffu : (1u << (8 * len)) - 1;
}

static inline void lock_dev(const struct pci_device *dev)
{
	if (dev->host)
		pthread_mutex_lock(&dev->host->lock);
}

static inline void unlock_dev(const struct pci_device *dev)
{
	if (dev->host)
		pthread_mutex_unlock(&dev->host->lock);
}

#endif
