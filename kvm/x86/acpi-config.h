/* What the machine tells acpi_build() about itself (see acpi.h). Apart from
 * acpi.h so that the table builders below acpi.c (acpi-dsdt.c) can read it
 * without reaching back up. */
#ifndef SKIFF_X86_ACPI_CONFIG_H
#define SKIFF_X86_ACPI_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

/* xAPIC IDs are 8 bits and 0xff is broadcast; the IOAPIC takes ID nr_cpus. */
#define ACPI_MAX_CPUS          254
#define ACPI_MAX_VIRTIO_MMIO   32
/* KVM's in-kernel IOAPIC has 24 pins: GSIs 0..23. */
#define ACPI_NR_GSIS           24

/* One virtio-mmio transport. The guest binds it by _HID "LNRO0005". */
struct acpi_virtio_mmio {
	uint64_t base;          /* must lie below 4 GiB (Memory32Fixed) */
	uint32_t size;
	uint32_t gsi;           /* level-triggered, active-high */
};

/* An optional PCI host bridge (bus 0 only). */
struct acpi_pci {
	bool enabled;
	bool ecam;              /* ECAM at LAYOUT_PCI_ECAM: adds the MCFG table */
	uint32_t io_base;       /* I/O port window for BARs, io_size 0 = none */
	uint32_t io_size;
	uint32_t intx_gsi_base; /* INTx routing, see acpi_pci_intx_gsi() */
};

struct acpi_config {
	unsigned nr_cpus;       /* 1..ACPI_MAX_CPUS, APIC IDs 0..nr_cpus-1 */
	bool pcat_compat;       /* there is also a legacy 8259 PIC pair */
	bool com1;              /* describe the 16550 UART at PORT_COM1 */
	bool pvpanic;           /* describe the pvpanic port PORT_PVPANIC */
	unsigned nr_virtio_mmio;
	struct acpi_virtio_mmio virtio_mmio[ACPI_MAX_VIRTIO_MMIO];
	struct acpi_pci pci;
};

/* The GSI that INTx pin (0 = INTA .. 3 = INTD) of a device in slot 0..31
 * raises. The DSDT's _PRT says the same, so the PCI model must use this. */
static inline uint32_t acpi_pci_intx_gsi(const struct acpi_pci *pci, unsigned slot, unsigned pin)
{
	return pci->intx_gsi_base + (slot + pin) % 4;
}

#endif
