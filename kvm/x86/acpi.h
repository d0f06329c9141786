/* ACPI tables that describe a skiff machine to the guest: its CPUs and
 * interrupt controllers (MADT), its fixed power-management hardware (FADT,
 * FACS), the devices the guest cannot discover on its own (DSDT: serial
 * port, pvpanic, virtio-mmio, PCI host bridge) and PCI ECAM (MCFG).
 *
 * Everything is written into [LAYOUT_ACPI, LAYOUT_ACPI + LAYOUT_ACPI_SIZE),
 * the RSDP first, where Linux also finds it by scanning 0xe0000..0xfffff. */
#ifndef SKIFF_X86_ACPI_H
#define SKIFF_X86_ACPI_H

#include <stdint.h>

#include "base/guest-mem.h"
#include "kvm/x86/acpi-config.h"

/* Write all tables into guest memory. On success returns 0 and sets
 * *rsdp_addr to the guest physical address of the RSDP (for
 * boot_params.acpi_rsdp_addr). Returns -EINVAL for a bad configuration,
 * -EFAULT if the ACPI area is not guest RAM, -ENOSPC if the tables do not
 * fit in it. */
int acpi_build(struct guest_mem *mem, const struct acpi_config *cfg, uint64_t *rsdp_addr);

#endif
