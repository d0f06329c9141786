/* ACPI PM1a event and control registers. Bit positions from the ACPI spec
 * (4.8.3 "PM1 Event Grouping", "PM1 Control Grouping"); the guest side is
 * ACPICA's acpi_hw_legacy_sleep() in drivers/acpi/acpica/hwsleep.c, which
 * writes SLP_TYP first and then SLP_TYP | SLP_EN. */
#include "devices/acpi-pm.h"

#include <errno.h>
#include <string.h>

#include "base/log.h"

#define LOG_NAME "acpi-pm"

#define STS_WAK      0x8000 /* PM1_STS: the system woke up */

#define CNT_SCI_EN   0x0001 /* ACPI mode (vs legacy SMI mode) */
#define CNT_BM_RLD   0x0002
#define CNT_GBL_RLS  0x0004 /* write-only: would signal the BIOS */
#define CNT_SLP_TYP  0x1c00 /* bits 10-12: which sleep state */
#define CNT_SLP_EN   0x2000 /* write-only: enter it now */
#define SLP_TYP_SHIFT 10

/* Both blocks are made of 16-bit registers, but a guest may touch them a
 * byte at a time; accesses are handled byte lane by byte lane. */

static void acpi_pm_evt_read(void *opaque, uint64_t offset, uint8_t *data, unsigned len)
{
	struct acpi_pm *pm = opaque;
	uint32_t block;

	pthread_mutex_lock(&pm->lock);
	block = pm->sts | (uint32_t)pm->en << 16;
	pthread_mutex_unlock(&pm->lock);
	for (unsigned i = 0; i < len; i++) {
		uint64_t b = offset + i;

		data[i] = b < ACPI_PM_EVT_LEN ? (uint8_t)(block >> (8 * b)) : 0xff;
	}
}

/* The SCI follows (STS & EN) (pm->lock held). */
static void update_sci(struct acpi_pm *pm)
{
	int level = (pm->sts & pm->en & ACPI_PM_STS_PWRBTN) != 0;

	if (level != pm->sci_level) {
		pm->sci_level = level;
		irq_line_set(&pm->sci, level);
	}
}

static void acpi_pm_evt_write(void *opaque, uint64_t offset, const uint8_t *data, unsigned len)
{
	struct acpi_pm *pm = opaque;

	pthread_mutex_lock(&pm->lock);
	for (unsigned i = 0; i < len; i++) {
		uint64_t b = offset + i;

		if (b < 2) /* PM1_STS: each 1 written clears that status bit */
			pm->sts &= (uint16_t)~(data[i] << (8 * b));
		else if (b < 4) /* PM1_EN: plain read/write */
			pm->en = (uint16_t)((pm->en & ~(0xff << (8 * (b - 2)))) | data[i] << (8 * (b - 2)));
	}
	update_sci(pm);
	pthread_mutex_unlock(&pm->lock);
}

static void acpi_pm_cnt_read(void *opaque, uint64_t offset, uint8_t *data, unsigned len)
{
	struct acpi_pm *pm = opaque;
	uint16_t cnt;

	pthread_mutex_lock(&pm->lock);
	cnt = pm->cnt;
	pthread_mutex_unlock(&pm->lock);
	for (unsigned i = 0; i < len; i++) {
		uint64_t b = offset + i;

		data[i] = b < ACPI_PM_CNT_LEN ? (uint8_t)(cnt >> (8 * b)) : 0xff;
	}
}

static void acpi_pm_cnt_write(void *opaque, uint64_t offset, const uint8_t *data, unsigned len)
{
	struct acpi_pm *pm = opaque;
	uint16_t val;
	bool sleep, poweroff = false;
	unsigned slp_typ;

	pthread_mutex_lock(&pm->lock);
	/* The new register value: written lanes replaced, others kept. The
	 * stored value never has SLP_EN, so it is set only if written now. */
	val = pm->cnt;
	for (unsigned i = 0; i < len; i++) {
		uint64_t b = offset + i;

		if (b < ACPI_PM_CNT_LEN)
			val = (uint16_t)((val & ~(0xff << (8 * b))) | data[i] << (8 * b));
	}
	sleep = val & CNT_SLP_EN;
	slp_typ = (val & CNT_SLP_TYP) >> SLP_TYP_SHIFT;
	/* Keep what reads back; SCI_EN is stuck at 1. */
	pm->cnt = (val & (CNT_SLP_TYP | CNT_BM_RLD)) | CNT_SCI_EN;

	if (sleep && slp_typ == ACPI_PM_SLP_TYP_S5) {
		poweroff = true;
	} else if (sleep) {
		/* Pretend we slept and woke at once: ACPICA spins on WAK_STS. */
		log_limited(&pm->log_sleep, LOG_WARN, LOG_NAME,
			    "guest asked for sleep type %u; only S5 (type %u, power off) is supported, ignored",
			    slp_typ, ACPI_PM_SLP_TYP_S5);
		pm->sts |= STS_WAK;
	}
	pthread_mutex_unlock(&pm->lock);
	/* Outside the lock: the machine may do anything in its stop hook. */
	if (poweroff)
		stop_hook_fire(&pm->stop, STOP_POWEROFF, 0);
}

const struct bus_ops acpi_pm_evt_ops = {
	.read = acpi_pm_evt_read,
	.write = acpi_pm_evt_write,
};

const struct bus_ops acpi_pm_cnt_ops = {
	.read = acpi_pm_cnt_read,
	.write = acpi_pm_cnt_write,
};

int acpi_pm_init(struct acpi_pm *pm, struct stop_hook stop)
{
	int err;

	memset(pm, 0, sizeof(*pm));
	err = pthread_mutex_init(&pm->lock, NULL);
	if (err)
		return -err;
	pm->stop = stop;
	pm->cnt = CNT_SCI_EN;
	return 0;
}

void acpi_pm_set_sci(struct acpi_pm *pm, struct irq_line sci)
{
	pthread_mutex_lock(&pm->lock);
	pm->sci = sci;
	pthread_mutex_unlock(&pm->lock);
}

void acpi_pm_press_power_button(struct acpi_pm *pm)
{
	pthread_mutex_lock(&pm->lock);
	pm->sts |= ACPI_PM_STS_PWRBTN;
	update_sci(pm);
	pthread_mutex_unlock(&pm->lock);
}

void acpi_pm_destroy(struct acpi_pm *pm)
{
	pthread_mutex_destroy(&pm->lock);
}
