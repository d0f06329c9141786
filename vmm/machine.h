/* A skiff machine: one VM with its RAM, buses, legacy devices and vCPUs,
 * built from the command-line options, run until it stops. What it holds
 * is in machine-state.h, how it runs in machine-run.h. */
#ifndef SKIFF_MACHINE_H
#define SKIFF_MACHINE_H

#include <stddef.h>

#include "vmm/machine-run.h"
#include "vmm/machine-state.h"
#include "vmm/options.h"

/* Build everything up to (not including) starting the vCPUs, in a machine
 * that is zero-filled (a static one, or calloc's) and used once. On failure
 * err holds one line for the user and the machine is torn down. */
__attribute__((warn_unused_result)) int machine_create(struct machine *m, const struct options *opts, char *err,
						       size_t errlen);
/* Take apart what machine_create built (after machine_run, or instead of it). */
void machine_destroy(struct machine *m);

#endif
