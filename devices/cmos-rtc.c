/* MC146818 CMOS RTC. Register layout and bits as in Linux's
 * include/linux/mc146818rtc.h; Linux reads it in mc146818_get_time(). */
#include "devices/cmos-rtc.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "base/log.h"

#define LOG_NAME "cmos"

enum {
	RTC_SECONDS = 0x00, RTC_SECONDS_ALARM = 0x01,
	RTC_MINUTES = 0x02, RTC_MINUTES_ALARM = 0x03,
	RTC_HOURS   = 0x04, RTC_HOURS_ALARM   = 0x05,
	RTC_WEEKDAY = 0x06, RTC_DAY = 0x07, RTC_MONTH = 0x08, RTC_YEAR = 0x09,
	RTC_REG_A = 0x0a, RTC_REG_B = 0x0b, RTC_REG_C = 0x0c, RTC_REG_D = 0x0d,
};

#define INDEX_MASK 0x7f /* bit 7 of the index port masks NMIs */

#define REG_A_UIP     0x80 /* update in progress: we update atomically, never set */
#define REG_A_DEFAULT 0x26 /* 32.768 kHz time base, 1024 Hz periodic rate */
#define REG_B_24H     0x02
#define REG_B_BINARY  0x04 /* clear: BCD */
#define REG_B_DEFAULT REG_B_24H
#define REG_D_VRT     0x80 /* valid RAM and time: the battery is fine */
#define HOURS_PM      0x80 /* in 12-hour mode */

static uint8_t bin_to_bcd(unsigned v)
{
	return (uint8_t)(((v / 10) % 10) << 4 | (v % 10));
}

/* A clock field in the format register B asks for. */
static uint8_t rtc_encode(const struct cmos_rtc *rtc, unsigned v)
{
	return rtc->ram[RTC_REG_B] & REG_B_BINARY ? (uint8_t)v : bin_to_bcd(v);
}

static uint8_t rtc_encode_hours(const struct cmos_rtc *rtc, unsigned h)
{
	bool pm = h >= 12;

	if (rtc->ram[RTC_REG_B] & REG_B_24H)
		return rtc_encode(rtc, h);
	h %= 12;
	return rtc_encode(rtc, h ? h : 12) | (pm ? HOURS_PM : 0);
}

/* Register idx of the clock, read from the time source just now. Each read
 * looks at the clock again; Linux copes with a second ticking over in
 * between by re-reading the seconds until they agree. */
static uint8_t rtc_read_clock(const struct cmos_rtc *rtc, unsigned idx)
{
	time_t now = rtc->clock ? rtc->clock(rtc->clock_ctx) : time(NULL);
	struct tm tm;

	if (!gmtime_r(&now, &tm))
		memset(&tm, 0, sizeof(tm)); /* absurd time from the source */
	switch (idx) {
	case RTC_SECONDS:
		return rtc_encode(rtc, (unsigned)tm.tm_sec);
	case RTC_MINUTES:
		return rtc_encode(rtc, (unsigned)tm.tm_min);
	case RTC_HOURS:
		return rtc_encode_hours(rtc, (unsigned)tm.tm_hour);
	case RTC_WEEKDAY:
		return rtc_encode(rtc, (unsigned)tm.tm_wday + 1); /* Sunday = 1 */
	case RTC_DAY:
		return rtc_encode(rtc, (unsigned)tm.tm_mday);
	case RTC_MONTH:
		return rtc_encode(rtc, (unsigned)tm.tm_mon + 1);
	case RTC_YEAR:
		return rtc_encode(rtc, (unsigned)(tm.tm_year + 1900) % 100);
	default: /* CMOS_RTC_CENTURY */
		return rtc_encode(rtc, (unsigned)(tm.tm_year + 1900) / 100);
	}
}

static bool rtc_is_clock(unsigned idx)
{
	switch (idx) {
	case RTC_SECONDS: case RTC_MINUTES: case RTC_HOURS: case RTC_WEEKDAY:
	case RTC_DAY: case RTC_MONTH: case RTC_YEAR: case CMOS_RTC_CENTURY:
		return true;
	default:
		return false;
	}
}

static uint8_t rtc_read_reg(const struct cmos_rtc *rtc, unsigned idx)
{
	if (rtc_is_clock(idx))
		return rtc_read_clock(rtc, idx);
	switch (idx) {
	case RTC_REG_A:
		return rtc->ram[RTC_REG_A] & ~REG_A_UIP;
	case RTC_REG_C:
		return 0; /* no interrupt flags: we raise no RTC interrupts */
	case RTC_REG_D:
		return REG_D_VRT;
	default:
		return rtc->ram[idx];
	}
}

static void rtc_write_reg(struct cmos_rtc *rtc, unsigned idx, uint8_t v)
{
	if (rtc_is_clock(idx)) {
		log_debug(LOG_NAME, "write 0x%02x to clock register 0x%02x dropped", v, idx);
		return;
	}
	switch (idx) {
	case RTC_REG_A:
		rtc->ram[RTC_REG_A] = v & ~REG_A_UIP; /* UIP is read-only */
		break;
	case RTC_REG_C:
	case RTC_REG_D:
		break; /* read-only */
	default:
		rtc->ram[idx] = v;
		break;
	}
}

/* Port 0x70 (offset 0) selects a register, port 0x71 (offset 1) reads or
 * writes it (rtc->lock held). */
static uint8_t cmos_port_read(void *opaque, unsigned port)
{
	struct cmos_rtc *rtc = opaque;

	return port == 0 ? rtc->index : rtc_read_reg(rtc, rtc->index & INDEX_MASK);
}

static void cmos_port_write(void *opaque, unsigned port, uint8_t v)
{
	struct cmos_rtc *rtc = opaque;

	if (port == 0)
		rtc->index = v;
	else
		rtc_write_reg(rtc, rtc->index & INDEX_MASK, v);
}

/* Port 0x70 is offset 0, port 0x71 offset 1. A wider access is split into
 * byte accesses to consecutive ports, as on the ISA bus (so a 16-bit write
 * to 0x70 selects a register and writes it). */
static void cmos_rtc_read(void *opaque, uint64_t offset, uint8_t *data, unsigned len)
{
	struct cmos_rtc *rtc = opaque;

	pthread_mutex_lock(&rtc->lock);
	bus_isa_split_read(offset, data, len, 2, cmos_port_read, rtc);
	pthread_mutex_unlock(&rtc->lock);
}

static void cmos_rtc_write(void *opaque, uint64_t offset, const uint8_t *data, unsigned len)
{
	struct cmos_rtc *rtc = opaque;

	pthread_mutex_lock(&rtc->lock);
	bus_isa_split_write(offset, data, len, 2, cmos_port_write, rtc);
	pthread_mutex_unlock(&rtc->lock);
}

const struct bus_ops cmos_rtc_ops = {
	.read = cmos_rtc_read,
	.write = cmos_rtc_write,
};

int cmos_rtc_init(struct cmos_rtc *rtc, cmos_rtc_clock_fn clock, void *clock_ctx)
{
	int err;

	memset(rtc, 0, sizeof(*rtc));
	err = pthread_mutex_init(&rtc->lock, NULL);
	if (err)
		return -err;
	rtc->clock = clock;
	rtc->clock_ctx = clock_ctx;
	rtc->ram[RTC_REG_A] = REG_A_DEFAULT;
	rtc->ram[RTC_REG_B] = REG_B_DEFAULT;
	return 0;
}

void cmos_rtc_destroy(struct cmos_rtc *rtc)
{
	pthread_mutex_destroy(&rtc->lock);
}
