/* The header every ACPI table but the RSDP and FACS starts with; see
 * acpi-table.h. Kept apart so that acpi.c and acpi-dsdt.c both build on it
 * and neither has to call back into the other. */
#include "kvm/x86/acpi-table.h"

#include <string.h>

uint8_t acpi_checksum(const void *data, size_t len)
{
	const uint8_t *p = data;
	uint8_t sum = 0;

	for (size_t i = 0; i < len; i++)
		sum += p[i];
	return (uint8_t)-sum;
}

void acpi_fill_header(void *table, const char *signature, uint32_t length, uint8_t revision)
{
	struct acpi_header h = {
		.length = length,
		.revision = revision,
		.oem_revision = 1,
		.creator_revision = 1,
	};

	memcpy(h.signature, signature, 4);
	memcpy(h.oem_id, ACPI_OEM_ID, 6);
	memcpy(h.oem_table_id, ACPI_OEM_TABLE_ID, 8);
	memcpy(h.creator_id, ACPI_CREATOR_ID, 4);
	memcpy(table, &h, sizeof(h));
}

/* Call last, when the table's bytes are final. */
void acpi_set_checksum(void *table)
{
	struct acpi_header *h = table;

	h->checksum = 0;
	h->checksum = acpi_checksum(table, h->length);
}
