/* The PC keyboard controller (Intel 8042), reduced to what a Linux guest
 * needs: the reset line (command 0xFE, how Linux reboots when ACPI reset is
 * not available), and quick, sane answers to the commands Linux's i8042
 * driver probes with.
 *
 * The model is a controller with a keyboard channel but nothing plugged in,
 * and no AUX (mouse) channel. If Linux probes it, the probe succeeds at
 * once, the keyboard port is registered (the keyboard itself never answers,
 * so atkbd gives up quietly in the background), and the AUX check fails
 * straight away instead of after Linux's 0.5 s timeouts. With ACPI, Linux
 * only probes if the FADT sets the "8042 present" boot flag; leaving it clear
 * skips the probe entirely, and the reset command still works.
 *
 * Two ports: data at PORT_I8042_DATA (0x60) and status/command at
 * PORT_I8042_CMD (0x64), one byte each; register i8042_data_ops and
 * i8042_cmd_ops there with the same opaque. Port 0x61 is not ours. */
#ifndef SKIFF_I8042_H
#define SKIFF_I8042_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "bus/bus.h"
#include "base/hooks.h"

struct i8042 {
	pthread_mutex_t lock;
	struct stop_hook stop;   /* fired with STOP_RESET on a reset pulse */
	uint8_t ctr;             /* controller configuration byte (Linux: "CTR") */
	uint8_t output_port;     /* bit 0 = reset line (active low), bit 1 = A20 */
	uint8_t out;             /* output buffer: a reply for the guest to read at 0x60 */
	bool out_full;           /* status OBF */
	uint8_t pending_cmd;     /* command waiting for its data byte at 0x60, or 0 */
	bool last_was_cmd;       /* status bit 3: last write went to 0x64 */
};

/* 0 or a negative errno. */
int i8042_init(struct i8042 *k, struct stop_hook stop);
void i8042_destroy(struct i8042 *k);

extern const struct bus_ops i8042_data_ops; /* port 0x60, opaque = struct i8042 * */
extern const struct bus_ops i8042_cmd_ops;  /* port 0x64, opaque = struct i8042 * */

#endif
