/* The DSDT: the guest's devices described in AML (COM1, pvpanic,
 * virtio-mmio devices, the PCI host bridge and its interrupt routing, the
 * ECAM reservation, \_S5). The fixed-layout tables are in acpi.c; see
 * acpi.h. */
#include "kvm/x86/acpi-dsdt.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "kvm/x86/layout.h"

/* ---- DSDT contents (AML) ---- */

/* Name(_CRS, ResourceTemplate() { ... }) is opened here; the caller adds
 * descriptors and calls aml_resource_end(). */
static void crs_begin(struct aml_buf *b)
{
	aml_name(b, "_CRS");
	aml_resource_begin(b);
}

/* Device(COM1): the 16550 UART, so the guest's 8250 driver finds it via PnP. */
static void dsdt_com1(struct aml_buf *b)
{
	aml_device_begin(b, "COM1");
	aml_name(b, "_HID");
	aml_eisaid_integer(b, "PNP0501");
	aml_name(b, "_UID");
	aml_integer(b, 1);
	crs_begin(b);
	aml_io(b, PORT_COM1, PORT_COM1, 1, 8);
	aml_irq_noflags(b, IRQ_COM1);
	aml_resource_end(b);
	aml_end(b);
}

/* Device(PEVT): QEMU's pvpanic port; the guest writes it when it panics.
 * _STA 0x0b: present, enabled, functioning, but not shown in UIs. */
static void dsdt_pvpanic(struct aml_buf *b)
{
	aml_device_begin(b, "PEVT");
	aml_name(b, "_HID");
	aml_string(b, "QEMU0001");
	crs_begin(b);
	aml_io(b, PORT_PVPANIC, PORT_PVPANIC, 1, 1);
	aml_resource_end(b);
	aml_method_begin(b, "_STA", 0, false);
	aml_return(b);
	aml_integer(b, 0x0b);
	aml_end(b);
	aml_end(b);
}

/* Device(VRnn): a virtio-mmio transport; Linux's virtio_mmio driver binds
 * to _HID LNRO0005 and takes its registers and IRQ from _CRS. */
static void dsdt_virtio_mmio(struct aml_buf *b, unsigned index, const struct acpi_virtio_mmio *dev)
{
	char name[5];

	snprintf(name, sizeof(name), "VR%02X", index);
	aml_device_begin(b, name);
	aml_name(b, "_HID");
	aml_string(b, "LNRO0005");
	aml_name(b, "_UID");
	aml_integer(b, index);
	crs_begin(b);
	aml_memory32_fixed(b, (uint32_t)dev->base, dev->size, true);
	aml_interrupt(b, dev->gsi, 0);      /* level, active-high, exclusive */
	aml_resource_end(b);
	aml_end(b);
}

/* Name(_PRT, Package() { Package() { address, pin, source, index }, ... }):
 * which GSI each slot's INTA..INTD raises. Source Zero means "index is a
 * GSI" (no interrupt link device). */
static void dsdt_pci_prt(struct aml_buf *b, const struct acpi_pci *pci)
{
	aml_name(b, "_PRT");
	aml_package_begin(b, 32 * 4);
	for (unsigned slot = 0; slot < 32; slot++) {
		for (unsigned pin = 0; pin < 4; pin++) {
			aml_package_begin(b, 4);
			aml_integer(b, (uint64_t)slot << 16 | 0xffff);  /* any function */
			aml_integer(b, pin);
			aml_integer(b, 0);
			aml_integer(b, acpi_pci_intx_gsi(pci, slot, pin));
			aml_end(b);
		}
	}
	aml_end(b);
}

/* Device(PCI0): the PCI Express host bridge of bus 0 and the address
 * windows it forwards to devices' BARs. */
static void dsdt_pci(struct aml_buf *b, const struct acpi_pci *pci)
{
	aml_device_begin(b, "PCI0");
	aml_name(b, "_HID");
	aml_eisaid_integer(b, "PNP0A08");
	aml_name(b, "_CID");
	aml_eisaid_integer(b, "PNP0A03");
	aml_name(b, "_SEG");
	aml_integer(b, 0);
	aml_name(b, "_BBN");
	aml_integer(b, 0);
	aml_name(b, "_UID");
	aml_integer(b, 0);
	crs_begin(b);
	aml_word_bus_number(b, 0, LAYOUT_PCI_LAST_BUS);
	aml_io(b, 0x0cf8, 0x0cf8, 1, 8);    /* config address/data ports */
	if (pci->io_size)
		aml_word_io(b, (uint16_t)pci->io_base, (uint16_t)(pci->io_base + pci->io_size - 1));
	aml_dword_memory(b, (uint32_t)LAYOUT_PCI_MMIO,
			 (uint32_t)(LAYOUT_PCI_MMIO + LAYOUT_PCI_MMIO_SIZE - 1), false);
	aml_resource_end(b);
	dsdt_pci_prt(b, pci);
	aml_end(b);
}

/* Device(MRES): motherboard resources. Linux uses MCFG's ECAM only if it
 * is claimed here (or reserved in e820). */
static void dsdt_ecam_reservation(struct aml_buf *b)
{
	aml_device_begin(b, "MRES");
	aml_name(b, "_HID");
	aml_eisaid_integer(b, "PNP0C02");
	aml_name(b, "_UID");
	aml_integer(b, 0);
	crs_begin(b);
	aml_memory32_fixed(b, (uint32_t)LAYOUT_PCI_ECAM, (uint32_t)LAYOUT_PCI_ECAM_SIZE, true);
	aml_resource_end(b);
	aml_end(b);
}

static void dsdt_body(struct aml_buf *b, const struct acpi_config *cfg)
{
	/* Name(\_S5, Package(4) {5, 5, 0, 0}): the SLP_TYP values the guest
	 * writes to PM1a/PM1b control, with SLP_EN, to power off. */
	aml_name(b, "\\_S5");
	aml_package_begin(b, 4);
	aml_integer(b, 5);
	aml_integer(b, 5);
	aml_integer(b, 0);
	aml_integer(b, 0);
	aml_end(b);

	aml_scope_begin(b, "\\_SB");
	if (cfg->com1)
		dsdt_com1(b);
	if (cfg->pvpanic)
		dsdt_pvpanic(b);
	for (unsigned i = 0; i < cfg->nr_virtio_mmio; i++)
		dsdt_virtio_mmio(b, i, &cfg->virtio_mmio[i]);
	if (cfg->pci.enabled)
		dsdt_pci(b, &cfg->pci);
	if (cfg->pci.enabled && cfg->pci.ecam)
		dsdt_ecam_reservation(b);
	aml_end(b);
}

/* DSDT: header, then AML written straight into the rest of the area. */
int acpi_build_dsdt(struct acpi_area *a, const struct acpi_config *cfg, uint64_t *gpa)
{
	size_t start = (a->used + 7) & ~(size_t)7;
	size_t hdr = sizeof(struct acpi_header);
	struct aml_buf b;
	uint8_t *table;

	if (start > a->size || a->size - start < hdr)
		return -ENOSPC;
	table = a->host + start;
	aml_init(&b, table + hdr, a->size - start - hdr);
	dsdt_body(&b, cfg);
	if (!aml_ok(&b))
		return -ENOSPC;     /* the configuration was validated already */

	/* Revision 2: integers are 64 bits wide. */
	acpi_fill_header(table, "DSDT", (uint32_t)(hdr + b.len), 2);
	acpi_set_checksum(table);
	a->used = start + hdr + b.len;
	*gpa = a->gpa + start;
	return 0;
}
