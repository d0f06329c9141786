/* What every part of the test guest shares and main.c only fills in: the
 * options (defaults here, parsed from the command line by main.c), the
 * pass/fail tally, and the transports' names. Kept apart from main.c so
 * the probes and benches call down to it, never up into main.c. */
#include "tg.h"

struct options opt = {
	.pci_mode = PCI_MODE_CF8,
	.ecam_base = 0xe0000000,
	.pci_mem_base = 0xc0000000,
	.pci_mem_size = 0x10000000,
	.pci_io_base = 0xc000,
	.pci_io_size = 0x3000,
	.requests = 4,
	.timeout_ms = 2000,
};

unsigned tests_passed, tests_failed;
void result_pass(void) { tests_passed++; }
void result_fail(void) { tests_failed++; }

const char *transport_name(unsigned t)
{
	switch (t) {
	case TRANSPORT_PCI: return "pci";
	case TRANSPORT_PCI_LEGACY: return "pci-legacy";
	case TRANSPORT_MMIO: return "mmio";
	case TRANSPORT_MMIO_LEGACY: return "mmio-legacy";
	}
	return "?";
}
