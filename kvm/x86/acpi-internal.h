/* What acpi.c (the fixed-layout tables) and acpi-dsdt.c (the DSDT's AML)
 * share; nothing else includes it. */
#ifndef SKIFF_ACPI_INTERNAL_H
#define SKIFF_ACPI_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "kvm/x86/acpi.h"
#include "kvm/x86/aml.h"

/* Common header of every table except the RSDP and FACS (5.2.6). */
struct acpi_header {
	char signature[4];
	uint32_t length;                /* whole table, header included */
	uint8_t revision;
	uint8_t checksum;               /* all bytes of the table sum to 0 */
	char oem_id[6];
	char oem_table_id[8];
	uint32_t oem_revision;
	char creator_id[4];
	uint32_t creator_revision;
} __attribute__((packed));

/* The ACPI area of guest memory, filled from the start. */
struct acpi_area {
	uint8_t *host;
	uint64_t gpa;
	size_t size;
	size_t used;
};

/* acpi.c: the common header with skiff's IDs; the checksum, called last,
 * when the table's bytes are final. */
void acpi_fill_header(void *table, const char *signature, uint32_t length, uint8_t revision);
void acpi_set_checksum(void *table);

/* acpi-dsdt.c: the DSDT for cfg (validated already) at the next free
 * 8-byte boundary of the area. 0 or -ENOSPC. */
int acpi_build_dsdt(struct acpi_area *a, const struct acpi_config *cfg, uint64_t *gpa);

#endif
