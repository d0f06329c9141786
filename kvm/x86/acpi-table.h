/* What every ACPI table builder (acpi.c, acpi-dsdt.c) shares: the common
 * table header, the area of guest memory being filled, and the checksum. */
#ifndef SKIFF_ACPI_TABLE_H
#define SKIFF_ACPI_TABLE_H

#include <stddef.h>
#include <stdint.h>

/* skiff's IDs, in every table header and the RSDP. */
#define ACPI_OEM_ID        "SKIFF "     /* 6 characters */
#define ACPI_OEM_TABLE_ID  "SKIFFVM "   /* 8 characters */
#define ACPI_CREATOR_ID    "SKIF"       /* 4 characters */

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

/* The common header with skiff's IDs; the checksum, called last,
 * when the table's bytes are final. */
void acpi_fill_header(void *table, const char *signature, uint32_t length, uint8_t revision);
void acpi_set_checksum(void *table);
/* Value that makes the bytes of [data, data+len) sum to 0 (mod 256). */
uint8_t acpi_checksum(const void *data, size_t len);

#endif
