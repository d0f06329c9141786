/* The machine's fixed hardware and its wiring (machine-board.c): the legacy
 * devices on the port bus with their interrupt lines and console output,
 * and the vCPUs, whose port and MMIO exits go to the two buses. Both are
 * steps of machine_create(); each fills err with one line on failure. */
#ifndef SKIFF_MACHINE_BOARD_H
#define SKIFF_MACHINE_BOARD_H

#include <stddef.h>

#include "vmm/machine-state.h"

int machine_add_devices(struct machine *m, char *err, size_t errlen);
int machine_create_vcpus(struct machine *m, char *err, size_t errlen);

#endif
