/* MSI-X: a function's vector table and pending bits, the message
 * control word's enable and function mask, and sending a vector. See
 * pci.h. */
#include "bus/pci-msix.h"

#include <errno.h>
#include <linux/pci_regs.h>
#include <string.h>

#include "bus/pci-function.h" /* the capability and its write mask */
#include "bus/pci-shared.h"

/* ---- MSI-X state (host->lock held) ---- */

uint16_t pci_msix_control(const struct pci_device *dev)
{
	return cfg16(dev, dev->msix->cap_offset + PCI_MSIX_FLAGS);
}

bool pci_msix_on(const struct pci_device *dev)
{
	return dev->msix && (pci_msix_control(dev) & PCI_MSIX_FLAGS_ENABLE);
}

static bool msix_can_send(const struct pci_device *dev, unsigned v)
{
	return pci_msix_on(dev) && !(pci_msix_control(dev) & PCI_MSIX_FLAGS_MASKALL) &&
	       !(dev->msix->table[v].ctrl & PCI_MSIX_ENTRY_CTRL_MASKBIT);
}

static uint64_t msix_address(const struct pci_msix_entry *e)
{
	return (uint64_t)e->addr_hi << 32 | e->addr_lo;
}

/* A pending vector that may be sent now goes out (after unlocking). */
static void msix_flush_pending(struct pci_device *dev, unsigned v, struct pci_pending *p)
{
	struct pci_msix *msix = dev->msix;

	if (!(msix->pba >> v & 1) || !msix_can_send(dev, v))
		return;
	msix->pba &= ~(1ull << v);
	p->msix_deliver |= 1ull << v;
	p->msix_addr[v] = msix_address(&msix->table[v]);
	p->msix_data[v] = msix->table[v].data;
}

/* Dword index d of the table: entry d / 4, field d % 4. */
static uint32_t msix_table_get(const struct pci_msix *msix, unsigned d)
{
	const struct pci_msix_entry *e = &msix->table[d / 4];
	const uint32_t field[4] = { e->addr_lo, e->addr_hi, e->data, e->ctrl };

	return field[d % 4];
}

static void msix_table_set(struct pci_device *dev, unsigned d, uint32_t value, struct pci_pending *p)
{
	struct pci_msix *msix = dev->msix;
	unsigned v = d / 4;
	struct pci_msix_entry *e = &msix->table[v];
	struct pci_msix_entry old = *e;

	switch (d % 4) {
	case 0:
		e->addr_lo = value & ~3u;    /* a message address is dword aligned */
		break;
	case 1:
		e->addr_hi = value;
		break;
	case 2:
		e->data = value;
		break;
	default:
		e->ctrl = value & PCI_MSIX_ENTRY_CTRL_MASKBIT; /* the other bits are reserved */
		break;
	}
	if (memcmp(&old, e, sizeof(old)) == 0)
		return;
	p->msix_changed |= 1ull << v;
	msix_flush_pending(dev, v, p); /* unmasking sends what was held back */
}

/* The guest wrote the MSI-X message control word: enable or function mask. */
bool pci_msix_control_written(struct pci_device *dev, uint16_t old, struct pci_pending *p)
{
	const uint16_t bits = PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL;
	struct pci_msix *msix = dev->msix;

	if (((old ^ pci_msix_control(dev)) & bits) == 0)
		return false;
	for (unsigned v = 0; v < msix->nr_vectors; v++) {
		p->msix_changed |= 1ull << v;
		msix_flush_pending(dev, v, p);
	}
	return (old ^ pci_msix_control(dev)) & PCI_MSIX_FLAGS_ENABLE;
}

/* ---- MSI-X ---- */

int pci_msix_init(struct pci_device *dev, struct pci_msix *msix, unsigned nr_vectors, unsigned bar,
		  uint32_t table_offset, uint32_t pba_offset)
{
	uint64_t table_size = (uint64_t)nr_vectors * PCI_MSIX_ENTRY_SIZE;

	if (dev->msix || nr_vectors == 0 || nr_vectors > PCI_MSIX_MAX_VECTORS || bar >= PCI_NR_BARS)
		return -EINVAL;
	if ((table_offset | pba_offset) & PCI_MSIX_TABLE_BIR) /* the BIR shares their low 3 bits */
		return -EINVAL;
	if (overlaps(table_offset, (unsigned)table_size, pba_offset, PCI_MSIX_PBA_SIZE))
		return -EINVAL;

	/* Body after id/next: message control, table offset/BIR, PBA offset/BIR. */
	uint8_t body[10];
	bus_store_le(&body[PCI_MSIX_FLAGS - 2], 2, nr_vectors - 1);
	bus_store_le(&body[PCI_MSIX_TABLE - 2], 4, table_offset | bar);
	bus_store_le(&body[PCI_MSIX_PBA - 2], 4, pba_offset | bar);
	int offset = pci_device_add_capability(dev, PCI_CAP_ID_MSIX, body, sizeof(body));
	if (offset < 0)
		return offset;
	pci_device_set_wmask(dev, (unsigned)offset + PCI_MSIX_FLAGS, 2, PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);

	msix->nr_vectors = nr_vectors;
	msix->bar = bar;
	msix->table_offset = table_offset;
	msix->pba_offset = pba_offset;
	msix->cap_offset = (uint8_t)offset;
	memset(msix->table, 0, sizeof(msix->table));
	for (unsigned v = 0; v < PCI_MSIX_MAX_VECTORS; v++)
		msix->table[v].ctrl = PCI_MSIX_ENTRY_CTRL_MASKBIT; /* masked at reset */
	msix->pba = 0;
	dev->msix = msix;
	return 0;
}

bool pci_msix_enabled(const struct pci_device *dev)
{
	if (!dev->msix)
		return false;
	lock_dev(dev);
	bool on = pci_msix_on(dev) && !(pci_msix_control(dev) & PCI_MSIX_FLAGS_MASKALL);
	unlock_dev(dev);
	return on;
}

bool pci_msix_notify(struct pci_device *dev, unsigned vector)
{
	struct pci_msix *msix = dev->msix;
	uint64_t address = 0;
	uint32_t data = 0;
	bool send = false;

	if (!msix)
		return false;
	lock_dev(dev);
	if (!pci_msix_on(dev)) {
		unlock_dev(dev);
		return false;
	}
	if (vector < msix->nr_vectors) {
		send = msix_can_send(dev, vector);
		if (send) {
			address = msix_address(&msix->table[vector]);
			data = msix->table[vector].data;
		} else {
			msix->pba |= 1ull << vector; /* sent when unmasked */
		}
	}
	unlock_dev(dev);
	if (send && msix->deliver)
		msix->deliver(msix->ctx, vector, address, data);
	return true;
}

bool pci_msix_get_message(struct pci_device *dev, unsigned vector, uint64_t *address, uint32_t *data)
{
	struct pci_msix *msix = dev->msix;
	bool ok;

	if (!msix || vector >= msix->nr_vectors)
		return false;
	lock_dev(dev);
	*address = msix_address(&msix->table[vector]);
	*data = msix->table[vector].data;
	ok = msix_can_send(dev, vector);
	unlock_dev(dev);
	return ok;
}

bool pci_msix_bar_read(struct pci_device *dev, uint64_t offset, uint8_t *data, unsigned len)
{
	struct pci_msix *msix = dev->msix;

	if (!msix || len == 0 || len > 8)
		return false;
	if (inside(offset, len, msix->table_offset, (uint64_t)msix->nr_vectors * PCI_MSIX_ENTRY_SIZE)) {
		unsigned start = (unsigned)(offset - msix->table_offset);
		lock_dev(dev);
		for (unsigned i = 0; i < len; i++) {
			unsigned byte = start + i;
			data[i] = (uint8_t)(msix_table_get(msix, byte / 4) >> (8 * (byte % 4)));
		}
		unlock_dev(dev);
		return true;
	}
	if (inside(offset, len, msix->pba_offset, PCI_MSIX_PBA_SIZE)) {
		unsigned start = (unsigned)(offset - msix->pba_offset);
		lock_dev(dev);
		for (unsigned i = 0; i < len; i++)
			data[i] = (uint8_t)(msix->pba >> (8 * (start + i)));
		unlock_dev(dev);
		return true;
	}
	return false;
}

bool pci_msix_bar_write(struct pci_device *dev, uint64_t offset, const uint8_t *data, unsigned len)
{
	struct pci_msix *msix = dev->msix;
	struct pci_pending p;

	if (!msix || len == 0 || len > 8)
		return false;
	if (inside(offset, len, msix->pba_offset, PCI_MSIX_PBA_SIZE))
		return true; /* the PBA is read-only */
	if (!inside(offset, len, msix->table_offset, (uint64_t)msix->nr_vectors * PCI_MSIX_ENTRY_SIZE))
		return false;

	/* Merge the bytes into each dword they touch: a qword write is two
	 * dword writes, and odd sizes (undefined by the spec) stay harmless. */
	unsigned start = (unsigned)(offset - msix->table_offset);
	pci_pending_init(&p, dev);
	lock_dev(dev);
	for (unsigned d = start / 4; d <= (start + len - 1) / 4; d++) {
		uint32_t v = msix_table_get(msix, d);
		for (unsigned i = 0; i < len; i++) {
			unsigned byte = start + i;
			if (byte / 4 == d) {
				v &= ~(0xffu << (8 * (byte % 4)));
				v |= (uint32_t)data[i] << (8 * (byte % 4));
			}
		}
		msix_table_set(dev, d, v, &p);
	}
	unlock_dev(dev);
	pci_pending_run(&p);
	return true;
}

