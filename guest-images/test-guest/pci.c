/* PCI on bus 0. See pci.h. Ring 0 (config space is never opened to ring 3). */
#include "pci.h"

#define PCI_CONFIG_ADDRESS 0xcf8
#define PCI_CONFIG_DATA 0xcfc

static uint64_t ecam_addr(const struct pci_func *f, unsigned off)
{
	return opt.ecam_base + ((uint64_t)f->bus << 20 | (uint64_t)f->slot << 15 | (uint64_t)f->fn << 12 | off);
}

static uint32_t cf8_addr(const struct pci_func *f, unsigned off)
{
	return 0x80000000u | (uint32_t)f->bus << 16 | (uint32_t)f->slot << 11 | (uint32_t)f->fn << 8 | (off & 0xfc);
}

uint32_t pci_read32(const struct pci_func *f, unsigned off)
{
	if (opt.pci_mode == PCI_MODE_ECAM)
		return mmio_read32(ecam_addr(f, off & ~3u));
	outl(PCI_CONFIG_ADDRESS, cf8_addr(f, off));
	return inl(PCI_CONFIG_DATA);
}

uint16_t pci_read16(const struct pci_func *f, unsigned off)
{
	return (uint16_t)(pci_read32(f, off) >> ((off & 2) * 8));
}

uint8_t pci_read8(const struct pci_func *f, unsigned off)
{
	return (uint8_t)(pci_read32(f, off) >> ((off & 3) * 8));
}

void pci_write32(const struct pci_func *f, unsigned off, uint32_t v)
{
	if (opt.pci_mode == PCI_MODE_ECAM) {
		mmio_write32(ecam_addr(f, off & ~3u), v);
		return;
	}
	outl(PCI_CONFIG_ADDRESS, cf8_addr(f, off));
	outl(PCI_CONFIG_DATA, v);
}

void pci_write16(const struct pci_func *f, unsigned off, uint16_t v)
{
	if (opt.pci_mode == PCI_MODE_ECAM) {
		mmio_write16(ecam_addr(f, off & ~1u), v);
		return;
	}
	outl(PCI_CONFIG_ADDRESS, cf8_addr(f, off));
	outw((uint16_t)(PCI_CONFIG_DATA + (off & 2)), v);
}

static const char *virtio_type_name(unsigned id)
{
	static const char *const names[] = { [1] = "net", [2] = "blk", [3] = "console", [4] = "rng",
					     [5] = "balloon", [8] = "scsi", [9] = "9p", [16] = "gpu",
					     [18] = "input", [19] = "vsock", [26] = "fs" };
	return id < sizeof(names) / sizeof(names[0]) && names[id] ? names[id] : "?";
}

static void describe(const struct pci_func *f)
{
	printf("pci %02x:%02x.%x %04x:%04x class %06x", f->bus, f->slot, f->fn, f->vendor, f->device, f->class_code);
	if (f->vendor == 0x1af4 && f->device >= 0x1000 && f->device <= 0x107f) {
		if (f->device >= 0x1040)
			printf(" virtio-%s (modern)", virtio_type_name(f->device - 0x1040u));
		else
			printf(" virtio-%s (transitional/legacy)", virtio_type_name(f->subsys_id));
	}
	printf("\n");
}

unsigned pci_enumerate(struct pci_func *out, unsigned max)
{
	unsigned n = 0;

	if (opt.pci_mode == PCI_MODE_OFF) {
		printf("pci: not probed (pci=off)\n");
		return 0;
	}
	for (unsigned slot = 0; slot < 32; slot++) {
		for (unsigned fn = 0; fn < 8; fn++) {
			struct pci_func f = { .bus = 0, .slot = (uint8_t)slot, .fn = (uint8_t)fn };
			uint32_t id = pci_read32(&f, 0);
			if ((id & 0xffff) == 0xffff || (id & 0xffff) == 0) {
				if (fn == 0)
					break; /* no device in this slot */
				continue;
			}
			f.vendor = (uint16_t)id;
			f.device = (uint16_t)(id >> 16);
			f.class_code = pci_read32(&f, 8) >> 8;
			f.header_type = pci_read8(&f, 0x0e);
			uint32_t ss = pci_read32(&f, 0x2c);
			f.subsys_vendor = (uint16_t)ss;
			f.subsys_id = (uint16_t)(ss >> 16);
			describe(&f);
			if (n < max)
				out[n++] = f;
			if (fn == 0 && !(f.header_type & 0x80))
				break; /* single-function device */
		}
	}
	printf("pci: %u function%s on bus 0 (%s)\n", n, n == 1 ? "" : "s",
	       opt.pci_mode == PCI_MODE_ECAM ? "ECAM" : "0xcf8/0xcfc");
	return n;
}

void pci_enable(const struct pci_func *f)
{
	uint16_t cmd = pci_read16(f, 4);
	pci_write16(f, 4, (uint16_t)(cmd | 0x7)); /* I/O, memory, bus master */
}

static uint64_t next_mem, next_io;

uint64_t pci_bar(const struct pci_func *f, unsigned i, bool *io, uint64_t *size)
{
	unsigned off = 0x10 + 4 * i;
	uint32_t lo = pci_read32(f, off);
	bool is64 = false;

	*io = lo & 1;
	*size = 0;
	if (!*io)
		is64 = ((lo >> 1) & 3) == 2;
	uint32_t hi = is64 && i < 5 ? pci_read32(f, off + 4) : 0;

	/* Size it: write all ones, read the mask back, restore. Decoding is
	 * switched off meanwhile, as firmware does. */
	uint16_t cmd = pci_read16(f, 4);
	pci_write16(f, 4, (uint16_t)(cmd & ~3u));
	pci_write32(f, off, 0xffffffff);
	uint32_t mask = pci_read32(f, off);
	pci_write32(f, off, lo);
	uint64_t mask64 = mask;
	if (is64) {
		pci_write32(f, off + 4, 0xffffffff);
		mask64 |= (uint64_t)pci_read32(f, off + 4) << 32;
		pci_write32(f, off + 4, hi);
	} else if (!*io) {
		mask64 |= 0xffffffff00000000ull;
	} else {
		mask64 |= 0xffffffffffff0000ull;
	}
	pci_write16(f, 4, cmd);
	mask64 &= *io ? ~3ull : ~15ull;
	if ((mask64 & 0xffffffff) == 0)
		return 0; /* unused BAR */
	*size = ~mask64 + 1;

	uint64_t addr = (*io ? (lo & ~3u) : (lo & ~15u)) | (uint64_t)hi << 32;
	if (addr != 0)
		return addr;

	/* Unplaced (no firmware, e.g. QEMU microvm with pcie=on): put it in
	 * our window, naturally aligned. */
	uint64_t *cursor = *io ? &next_io : &next_mem;
	uint64_t base = *io ? opt.pci_io_base : opt.pci_mem_base;
	uint64_t limit = base + (*io ? opt.pci_io_size : opt.pci_mem_size);
	if (*cursor < base)
		*cursor = base;
	addr = (*cursor + *size - 1) & ~(*size - 1);
	if (base == 0 || addr + *size > limit) {
		printf("pci %02x:%02x.%x: BAR%u (%s, %lu bytes) unassigned and no room in the window\n", f->bus, f->slot,
		       f->fn, i, *io ? "I/O" : "memory", *size);
		return 0;
	}
	*cursor = addr + *size;
	pci_write16(f, 4, (uint16_t)(cmd & ~3u));
	pci_write32(f, off, (uint32_t)addr | (lo & (*io ? 3u : 15u)));
	if (is64)
		pci_write32(f, off + 4, (uint32_t)(addr >> 32));
	pci_write16(f, 4, cmd);
	printf("pci %02x:%02x.%x: BAR%u placed at 0x%lx (%lu bytes)\n", f->bus, f->slot, f->fn, i, addr, *size);
	return addr;
}

unsigned pci_find_cap(const struct pci_func *f, uint8_t id, unsigned start)
{
	if (!(pci_read16(f, 6) & 0x10))
		return 0; /* no capability list */
	unsigned off = start ? pci_read8(f, start + 1) : pci_read8(f, 0x34);
	for (unsigned guard = 0; off >= 0x40 && off < 256 && guard < 48; guard++) {
		off &= ~3u;
		if (pci_read8(f, off) == id)
			return off;
		off = pci_read8(f, off + 1);
	}
	return 0;
}
