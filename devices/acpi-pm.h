/* ACPI power management registers, fixed-hardware "PM1a" blocks, as the
 * FADT describes them to the guest:
 *
 *   PM1a_EVT_BLK  ACPI_PM_EVT_LEN bytes at PORT_ACPI_PM1A_EVT (0xb000):
 *                 PM1_STS (16 bits, write 1 to clear), then PM1_EN (16 bits)
 *   PM1a_CNT_BLK  ACPI_PM_CNT_LEN bytes at PORT_ACPI_PM1A_CNT (0xb004):
 *                 PM1_CNT (16 bits)
 *
 * Two bus_ops, one per block, registered separately with the same opaque:
 * they are two independent blocks in the FADT, so the code mirrors that.
 *
 * The guest powers off by writing SLP_TYP = ACPI_PM_SLP_TYP_S5 together with
 * SLP_EN to PM1_CNT; we then stop the VM with STOP_POWEROFF. Other sleep
 * states are not supported: the request is logged and the guest "wakes"
 * at once (WAK_STS set), so it does not wait forever. SCI_EN always reads 1:
 * the machine is always in ACPI mode (the FADT has no SMI command port).
 *
 * One event is modelled: the fixed-feature power button (the FADT leaves
 * PWR_BUTTON clear, so Linux's ACPI button driver registers it as
 * LNXPWRBN). acpi_pm_press_power_button() sets PWRBTN_STS; the SCI
 * (level-triggered, IRQ_ACPI_SCI) is asserted while any status bit is set
 * whose enable bit is set too, and drops when the guest clears it. */
#ifndef SKIFF_ACPI_PM_H
#define SKIFF_ACPI_PM_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "bus/bus.h"
#include "base/hooks.h"
#include "base/log.h"

#define ACPI_PM_STS_PWRBTN  0x0100 /* PM1_STS/PM1_EN bit 8: power button */

#define ACPI_PM_EVT_LEN     4
#define ACPI_PM_CNT_LEN     2
#define ACPI_PM_SLP_TYP_S5  5 /* the DSDT's \_S5 package must give this value */

struct acpi_pm {
	pthread_mutex_t lock;
	struct stop_hook stop;
	uint16_t sts;           /* PM1_STS */
	uint16_t en;            /* PM1_EN */
	uint16_t cnt;           /* PM1_CNT as it reads back */
	struct log_limit log_sleep; /* a guest can ask to sleep again and again */
	struct irq_line sci;    /* the SCI; no line = never raised */
	int sci_level;
};

/* 0 or a negative errno. */
int acpi_pm_init(struct acpi_pm *pm, struct stop_hook stop);
void acpi_pm_destroy(struct acpi_pm *pm);
/* Wire the SCI (before the guest runs). */
void acpi_pm_set_sci(struct acpi_pm *pm, struct irq_line sci);
/* Press the power button: PWRBTN_STS, and the SCI if the guest enabled it. */
void acpi_pm_press_power_button(struct acpi_pm *pm);

extern const struct bus_ops acpi_pm_evt_ops; /* opaque = struct acpi_pm * */
extern const struct bus_ops acpi_pm_cnt_ops; /* opaque = struct acpi_pm * */

#endif
