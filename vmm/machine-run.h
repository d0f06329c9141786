/* Running a built machine (machine-run.c): start its threads, serve the
 * console, the signals and the exec watch on the main thread until a stop
 * request, then say why it stopped and turn that into skiff's exit status. */
#ifndef SKIFF_MACHINE_RUN_H
#define SKIFF_MACHINE_RUN_H

#include <stdint.h>

#include "vmm/machine-state.h"

/* Ask the machine to stop (any thread; the first request wins). */
void machine_stop(void *machine, enum stop_reason why, int status);


/* Start the vCPUs, run the console until the guest stops; returns skiff's exit status. */
int machine_run(struct machine *m);

#endif
