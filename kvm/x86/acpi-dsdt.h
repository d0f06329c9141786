/* acpi-dsdt.c's entry point for acpi.c; nothing else includes it. What both
 * build on is in acpi-table.h. */
#ifndef SKIFF_ACPI_DSDT_H
#define SKIFF_ACPI_DSDT_H

#include <stddef.h>
#include <stdint.h>

#include "kvm/x86/acpi-config.h"
#include "kvm/x86/acpi-table.h"
#include "kvm/x86/aml.h"

/* acpi-dsdt.c: the DSDT for cfg (validated already) at the next free
 * 8-byte boundary of the area. 0 or -ENOSPC. */
int acpi_build_dsdt(struct acpi_area *a, const struct acpi_config *cfg, uint64_t *gpa);

#endif
