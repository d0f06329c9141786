/* PCI configuration access (mechanism #1 at 0xCF8/0xCFC, or ECAM), bus-0
 * enumeration, BAR decoding (and placement when no firmware placed them). */
#ifndef TG_PCI_H
#define TG_PCI_H

#include "tg.h"

#define PCI_MAX_FUNCS 64

struct pci_func {
	uint8_t bus, slot, fn;
	uint16_t vendor, device, subsys_vendor, subsys_id;
	uint32_t class_code; /* class << 16 | subclass << 8 | prog-if */
	uint8_t header_type;
};

uint32_t pci_read32(const struct pci_func *f, unsigned off);
uint16_t pci_read16(const struct pci_func *f, unsigned off);
uint8_t pci_read8(const struct pci_func *f, unsigned off);
void pci_write32(const struct pci_func *f, unsigned off, uint32_t v);
void pci_write16(const struct pci_func *f, unsigned off, uint16_t v);

/* Scan bus 0; prints one line per function; returns how many found. */
unsigned pci_enumerate(struct pci_func *out, unsigned max);

/* BAR i: address (0 if unused or unplaceable), *io set for I/O BARs,
 * *size its size. Places the BAR in the opt.pci_* windows when it reads
 * back as 0 (no firmware). */
uint64_t pci_bar(const struct pci_func *f, unsigned i, bool *io, uint64_t *size);
/* Enable I/O and memory decoding and bus mastering (DMA). */
void pci_enable(const struct pci_func *f);
/* First capability with this id after the one at `start` (0: from the
 * list head); returns its config offset or 0. */
unsigned pci_find_cap(const struct pci_func *f, uint8_t id, unsigned start);

#endif
