/* The PC's CMOS memory and real-time clock (Motorola MC146818).
 *
 * Two ports (register on the PIO bus at PORT_CMOS with CMOS_RTC_NR_PORTS):
 * 0x70 selects a register (bit 7 is the NMI mask, which we ignore) and
 * 0x71 reads or writes it. Linux reads the time from here at boot, and
 * would spin on the "update in progress" bit if nothing answered.
 *
 *   0x00-0x09  clock: seconds, (alarm), minutes, (alarm), hours, (alarm),
 *              weekday, day, month, year; read from the host's UTC clock
 *              every time. Alarms are plain storage; writes to the clock
 *              are dropped: the host clock is the only clock.
 *   0x0a-0x0d  status A (UIP always 0), B (format: 24-hour BCD by default,
 *              honoured if the guest changes it), C (no interrupt flags,
 *              we never raise IRQ 8), D (0x80: battery good).
 *   0x32       century, computed like the clock (the IBM PC location; the
 *              ACPI FADT "century" field can point here).
 *   other      plain RAM, 128 bytes in all (the index is taken & 0x7f).
 */
#ifndef SKIFF_CMOS_RTC_H
#define SKIFF_CMOS_RTC_H

#include <pthread.h>
#include <stdint.h>
#include <time.h>

#include "bus/bus.h"

#define CMOS_RTC_NR_PORTS  2
#define CMOS_RTC_CENTURY   0x32 /* register index holding the century */

/* Returns the current time (seconds since the epoch, UTC). */
typedef time_t (*cmos_rtc_clock_fn)(void *ctx);

struct cmos_rtc {
	pthread_mutex_t lock;
	cmos_rtc_clock_fn clock; /* NULL: time(NULL); tests pass a fixed time */
	void *clock_ctx;
	uint8_t index;          /* last byte written to 0x70, NMI bit included */
	uint8_t ram[128];       /* also holds status A and B and the alarms */
};

/* 0 or a negative errno. */
int cmos_rtc_init(struct cmos_rtc *rtc, cmos_rtc_clock_fn clock, void *clock_ctx);
void cmos_rtc_destroy(struct cmos_rtc *rtc);

extern const struct bus_ops cmos_rtc_ops; /* opaque = struct cmos_rtc * */

#endif
