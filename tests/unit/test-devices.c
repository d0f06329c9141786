/* Unit tests for the legacy devices: 16550A UART, i8042, CMOS RTC,
 * debug-exit, ACPI PM1a registers, pvpanic. Every device is driven only
 * through its bus_ops, as a guest would, with fake irq lines, stop hooks and
 * output that record what happened. */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "devices/acpi-pm.h"
#include "devices/cmos-rtc.h"
#include "devices/debug-exit.h"
#include "devices/i8042.h"
#include "devices/pvpanic.h"
#include "devices/uart-8250.h"
#include "tests/unit/log-capture.h"
#include "base/log.h"

/* ---- fakes ---- */

struct fake_irq {
	int level;
	int raises, lowers;
};

static void fake_irq_set(void *ctx, int level)
{
	struct fake_irq *f = ctx;

	f->level = level;
	if (level)
		f->raises++;
	else
		f->lowers++;
}

struct fake_stop {
	int count;
	enum stop_reason why;
	int status;
};

static void fake_stop_fire(void *ctx, enum stop_reason why, int status)
{
	struct fake_stop *f = ctx;

	f->count++;
	f->why = why;
	f->status = status;
}

struct fake_output {
	uint8_t buf[256];
	size_t n;
};

static void fake_output_write(void *ctx, const uint8_t *buf, size_t n)
{
	struct fake_output *f = ctx;

	for (size_t i = 0; i < n; i++)
		if (f->n < sizeof(f->buf))
			f->buf[f->n++] = buf[i];
}

/* A guest access of len bytes, little-endian. */
static void io_write(const struct bus_ops *ops, void *opaque, uint64_t off, uint64_t val, unsigned len)
{
	uint8_t data[8];

	for (unsigned i = 0; i < len; i++)
		data[i] = (uint8_t)(val >> (8 * i));
	ops->write(opaque, off, data, len);
}

static uint64_t io_read(const struct bus_ops *ops, void *opaque, uint64_t off, unsigned len)
{
	uint8_t data[8];
	uint64_t val = 0;

	memset(data, 0xff, sizeof(data)); /* as the bus pre-fills */
	ops->read(opaque, off, data, len);
	for (unsigned i = 0; i < len; i++)
		val |= (uint64_t)data[i] << (8 * i);
	return val;
}

/* ---- UART ---- */

enum { RBR = 0, THR = 0, DLL = 0, IER = 1, DLM = 1, IIR = 2, FCR = 2, LCR = 3,
       MCR = 4, LSR = 5, MSR = 6, SCR = 7 };

static struct uart_8250 uart;
static struct fake_irq uart_irq;
static struct fake_output uart_out;

static void uart_setup(void)
{
	memset(&uart_irq, 0, sizeof(uart_irq));
	memset(&uart_out, 0, sizeof(uart_out));
	ck_assert_int_eq(uart_8250_init(&uart, (struct irq_line){ fake_irq_set, &uart_irq },
					(struct uart_output){ fake_output_write, &uart_out }), 0);
}

static void uart_teardown(void)
{
	uart_8250_destroy(&uart);
}

static uint8_t uin(unsigned reg)
{
	return (uint8_t)io_read(&uart_8250_ops, &uart, reg, 1);
}

static void uout(unsigned reg, uint8_t v)
{
	io_write(&uart_8250_ops, &uart, reg, v, 1);
}

static size_t urecv(const char *s)
{
	return uart_8250_receive(&uart, (const uint8_t *)s, strlen(s));
}

START_TEST(uart_reset_values)
{
	ck_assert_uint_eq(uin(IER), 0x00);
	ck_assert_uint_eq(uin(IIR), 0x01);
	ck_assert_uint_eq(uin(LCR), 0x00);
	ck_assert_uint_eq(uin(MCR), 0x00);
	ck_assert_uint_eq(uin(LSR), 0x60);
	ck_assert_uint_eq(uin(MSR), 0xb0);
	ck_assert_uint_eq(uin(SCR), 0x00);
	ck_assert_int_eq(uart_irq.level, 0);
	ck_assert_int_eq(uart_irq.raises, 0);
}
END_TEST

START_TEST(uart_scratch_register)
{
	uout(SCR, 0x55);
	ck_assert_uint_eq(uin(SCR), 0x55);
	uout(SCR, 0xaa);
	ck_assert_uint_eq(uin(SCR), 0xaa);
	ck_assert_uint_eq(uin(LCR), 0x00); /* neighbours untouched */
}
END_TEST

/* Linux's existence test: IER keeps exactly its low 4 bits. */
START_TEST(uart_ier_probe)
{
	uout(IER, 0);
	ck_assert_uint_eq(uin(IER) & 0x0f, 0x00);
	uout(IER, 0x0f);
	ck_assert_uint_eq(uin(IER) & 0x0f, 0x0f);
	uout(IER, 0xff);
	ck_assert_uint_eq(uin(IER), 0x0f); /* no UUE bit: not an XScale */
}
END_TEST

START_TEST(uart_divisor_latch)
{
	uout(IER, 0x05);
	uout(LCR, 0x80);
	uout(DLL, 0x0c);
	uout(DLM, 0x01);
	ck_assert_uint_eq(uin(DLL), 0x0c);
	ck_assert_uint_eq(uin(DLM), 0x01);
	ck_assert_uint_eq(uart_out.n, 0); /* a DLL write is not a THR write */
	uout(LCR, 0x03);
	ck_assert_uint_eq(uin(LCR), 0x03);
	ck_assert_uint_eq(uin(IER), 0x05); /* IER was not overwritten */
	uout(LCR, 0x83);
	ck_assert_uint_eq(uin(DLL), 0x0c); /* the latch kept its value */
}
END_TEST

/* autoconfig(): MCR = LOOP | 0x0A, MSR & 0xF0 must read 0x90. */
START_TEST(uart_autoconfig_loop_test)
{
	uint8_t save_mcr = uin(MCR);

	uout(MCR, 0x10 | 0x0a);
	ck_assert_uint_eq(uin(MSR) & 0xf0, 0x90);
	uout(MCR, save_mcr);
	ck_assert_uint_eq(uin(MSR) & 0xf0, 0xb0);
}
END_TEST

/* autoconfig(): EFR write with LCR 0xBF, then FCR = ENABLE_FIFO, IIR >> 6 == 3
 * makes it a 16550A; the 16750 check wants IIR bit 5 clear. */
START_TEST(uart_autoconfig_fifo_detection)
{
	uout(LCR, 0xbf);
	uout(2, 0); /* EFR on chips that have one */
	uout(LCR, 0);
	uout(FCR, 0x01);
	ck_assert_uint_eq(uin(IIR) >> 6, 3);
	uout(FCR, 0x21); /* 64-byte FIFO enable, only on a 16750 */
	ck_assert_uint_eq((uin(IIR) >> 5) & 1, 0);
	uout(LCR, 0x80);
	uout(FCR, 0x21);
	ck_assert_uint_eq(uin(IIR) >> 5, 6);
	uout(LCR, 0);
	uout(FCR, 0);
	ck_assert_uint_eq(uin(IIR), 0x01);
}
END_TEST

START_TEST(uart_thr_reaches_output)
{
	uout(THR, 'h');
	uout(THR, 'i');
	ck_assert_uint_eq(uart_out.n, 2);
	ck_assert_mem_eq(uart_out.buf, "hi", 2);
	ck_assert_uint_eq(uin(LSR) & 0x60, 0x60);
	ck_assert_int_eq(uart_irq.raises, 0); /* IER is 0 */
}
END_TEST

START_TEST(uart_thre_interrupt)
{
	uout(IER, 0x02);
	ck_assert_int_eq(uart_irq.level, 1);
	ck_assert_uint_eq(uin(IIR), 0x02);
	ck_assert_int_eq(uart_irq.level, 0); /* reading IIR acknowledged it */
	ck_assert_uint_eq(uin(IIR), 0x01);
	uout(THR, 'x');
	ck_assert_uint_eq(uart_out.n, 1);
	ck_assert_int_eq(uart_irq.level, 1); /* THR empty again */
	ck_assert_uint_eq(uin(IIR), 0x02);
	ck_assert_int_eq(uart_irq.level, 0);
}
END_TEST

/* More than a FIFO's worth of output, one THRE interrupt per burst: the
 * line must come back every time (the "stall after 16 characters" bug). */
START_TEST(uart_thre_keeps_coming)
{
	uout(FCR, 0x07);
	uout(IER, 0x02);
	for (int burst = 0; burst < 5; burst++) {
		ck_assert_int_eq(uart_irq.level, 1);
		ck_assert_uint_eq(uin(IIR), 0xc2);
		ck_assert_int_eq(uart_irq.level, 0);
		for (int i = 0; i < 16; i++)
			uout(THR, (uint8_t)('a' + i));
	}
	ck_assert_uint_eq(uart_out.n, 80);
	ck_assert_int_eq(uart_irq.raises, 6); /* IER, then one per burst */
}
END_TEST

/* serial8250_do_startup()'s test: THRE must re-assert after IER 0 -> THRI. */
START_TEST(uart_thre_reasserts_on_ier)
{
	uout(IER, 0x02);
	ck_assert_uint_eq(uin(IIR) & 0x01, 0);
	uout(IER, 0);
	ck_assert_int_eq(uart_irq.level, 0);
	uout(IER, 0x02);
	ck_assert_uint_eq(uin(IIR), 0x02);
	uout(IER, 0);
}
END_TEST

START_TEST(uart_ier_off_lowers_line)
{
	uout(IER, 0x02);
	ck_assert_int_eq(uart_irq.level, 1);
	uout(IER, 0x00);
	ck_assert_int_eq(uart_irq.level, 0);
	ck_assert_uint_eq(uin(IIR), 0x01);
}
END_TEST

START_TEST(uart_receive_data)
{
	uout(FCR, 0x01);
	uout(IER, 0x01);
	ck_assert_uint_eq(urecv("ok"), 2);
	ck_assert_int_eq(uart_irq.level, 1);
	ck_assert_uint_eq(uin(LSR) & 0x01, 0x01);
	ck_assert_uint_eq(uin(IIR), 0xc4); /* trigger level 1: data available */
	ck_assert_uint_eq(uin(RBR), 'o');
	ck_assert_uint_eq(uin(RBR), 'k');
	ck_assert_uint_eq(uin(LSR) & 0x01, 0);
	ck_assert_int_eq(uart_irq.level, 0);
	ck_assert_uint_eq(uin(IIR), 0xc1);
}
END_TEST

START_TEST(uart_receive_without_fifo_holds_one_byte)
{
	ck_assert(uart_8250_can_receive(&uart));
	ck_assert_uint_eq(urecv("abc"), 1);
	ck_assert(!uart_8250_can_receive(&uart));
	ck_assert_uint_eq(uin(RBR), 'a');
	ck_assert(uart_8250_can_receive(&uart));
}
END_TEST

START_TEST(uart_receive_fifo_fills)
{
	const char *s = "0123456789abcdefghij";

	uout(FCR, 0x01);
	ck_assert_uint_eq(urecv(s), UART_8250_FIFO_SIZE);
	ck_assert(!uart_8250_can_receive(&uart));
	ck_assert_uint_eq(urecv("z"), 0);
	ck_assert_uint_eq(uin(LSR) & 0x02, 0); /* host input waits, it is not lost */
	for (int i = 0; i < UART_8250_FIFO_SIZE; i++)
		ck_assert_uint_eq(uin(RBR), (uint8_t)s[i]);
	ck_assert_uint_eq(uin(LSR) & 0x01, 0);
	ck_assert(uart_8250_can_receive(&uart));
}
END_TEST

/* Loopback writes beyond a full FIFO are lost and flag OE until LSR is read. */
START_TEST(uart_overrun_sets_oe)
{
	uout(FCR, 0x01);
	uout(MCR, 0x10);
	for (int i = 0; i < UART_8250_FIFO_SIZE + 1; i++)
		uout(THR, (uint8_t)i);
	ck_assert_uint_eq(uin(LSR) & 0x03, 0x03);
	ck_assert_uint_eq(uin(LSR) & 0x02, 0); /* cleared by the read */
	for (int i = 0; i < UART_8250_FIFO_SIZE; i++)
		ck_assert_uint_eq(uin(RBR), (uint8_t)i);
	ck_assert_uint_eq(uin(LSR) & 0x01, 0);
	ck_assert_uint_eq(uart_out.n, 0); /* nothing left the chip */
}
END_TEST

START_TEST(uart_line_status_interrupt_first)
{
	uout(FCR, 0x01);
	uout(MCR, 0x10);
	uout(IER, 0x07);
	for (int i = 0; i < UART_8250_FIFO_SIZE + 1; i++)
		uout(THR, 'x');
	ck_assert_int_eq(uart_irq.level, 1);
	ck_assert_uint_eq(uin(IIR), 0xc6);
	ck_assert_uint_eq(uin(LSR) & 0x02, 0x02);
	ck_assert_uint_eq(uin(IIR), 0xc4); /* next: the data */
}
END_TEST

START_TEST(uart_rda_beats_thre)
{
	uout(IER, 0x03);
	ck_assert_uint_eq(urecv("r"), 1);
	ck_assert_uint_eq(uin(IIR), 0x04);
	ck_assert_uint_eq(uin(IIR), 0x04); /* does not acknowledge THRE */
	ck_assert_uint_eq(uin(RBR), 'r');
	ck_assert_int_eq(uart_irq.level, 1);
	ck_assert_uint_eq(uin(IIR), 0x02);
	ck_assert_int_eq(uart_irq.level, 0);
}
END_TEST

START_TEST(uart_rx_trigger_and_timeout)
{
	uout(FCR, 0x81); /* trigger at 8 bytes, Linux's choice for a 16550A */
	uout(IER, 0x01);
	ck_assert_uint_eq(urecv("abc"), 3);
	ck_assert_uint_eq(uin(IIR), 0xcc); /* below trigger: character timeout */
	ck_assert_uint_eq(urecv("defgh"), 5);
	ck_assert_uint_eq(uin(IIR), 0xc4);
}
END_TEST

START_TEST(uart_fcr_clears_receiver)
{
	uout(FCR, 0x01);
	ck_assert_uint_eq(urecv("abcd"), 4);
	uout(FCR, 0x03);
	ck_assert_uint_eq(uin(LSR) & 0x01, 0);
	ck_assert_uint_eq(urecv("e"), 1);
	uout(FCR, 0x00); /* FIFOs off: emptied too */
	ck_assert_uint_eq(uin(LSR) & 0x01, 0);
}
END_TEST

START_TEST(uart_loopback_round_trip)
{
	uout(MCR, 0x10);
	uout(THR, 'L');
	ck_assert_uint_eq(uart_out.n, 0);
	ck_assert_uint_eq(uin(LSR) & 0x01, 0x01);
	ck_assert_uint_eq(uin(RBR), 'L');
	/* in loopback the receive pin is disconnected from the host */
	ck_assert(!uart_8250_can_receive(&uart));
	ck_assert_uint_eq(urecv("h"), 0);
	uout(MCR, 0x00);
	uout(THR, 'o');
	ck_assert_uint_eq(uart_out.n, 1);
	ck_assert_uint_eq(uart_out.buf[0], 'o');
	ck_assert_uint_eq(uin(LSR) & 0x01, 0);
}
END_TEST

START_TEST(uart_modem_status_interrupt)
{
	uout(IER, 0x08);
	ck_assert_int_eq(uart_irq.level, 0);
	uout(MCR, 0x10 | 0x02); /* loop: RTS drives CTS; DSR and DCD drop */
	ck_assert_int_eq(uart_irq.level, 1);
	ck_assert_uint_eq(uin(IIR), 0x00);
	ck_assert_uint_eq(uin(MSR), 0x10 | 0x08 | 0x02); /* CTS, DDCD, DDSR */
	ck_assert_int_eq(uart_irq.level, 0);
	ck_assert_uint_eq(uin(MSR), 0x10);
	uout(MCR, 0x10 | 0x04); /* OUT1 -> RI on */
	ck_assert_uint_eq(uin(MSR), 0x40 | 0x01);
	uout(MCR, 0x10); /* RI trailing edge */
	ck_assert_uint_eq(uin(MSR), 0x04);
}
END_TEST

/* A 16-bit access is two byte accesses to consecutive registers. */
START_TEST(uart_wide_access_splits)
{
	io_write(&uart_8250_ops, &uart, LCR, 0x0b03, 2); /* LCR = 3, MCR = 0x0b */
	ck_assert_uint_eq(uin(LCR), 0x03);
	ck_assert_uint_eq(uin(MCR), 0x0b);
	ck_assert_uint_eq(io_read(&uart_8250_ops, &uart, LCR, 2), 0x0b03);
	io_write(&uart_8250_ops, &uart, SCR, 0x4242, 2); /* second byte is past the chip */
	ck_assert_uint_eq(uin(SCR), 0x42);
	ck_assert_uint_eq(io_read(&uart_8250_ops, &uart, SCR, 4), 0xffffff42);
	ck_assert_uint_eq(io_read(&uart_8250_ops, &uart, 64, 1), 0xff);
}
END_TEST

START_TEST(uart_random_accesses)
{
	static const unsigned lens[] = { 1, 2, 4, 8 };
	unsigned seed = 20261125;

	for (int i = 0; i < 100; i++) {
		unsigned off = (unsigned)rand_r(&seed) % 10;
		unsigned len = lens[rand_r(&seed) % 4];
		uint64_t val = ((uint64_t)rand_r(&seed) << 32) | (unsigned)rand_r(&seed);
		uint8_t in = (uint8_t)rand_r(&seed);
		int level;
		uint8_t iir;

		if (rand_r(&seed) & 1)
			io_write(&uart_8250_ops, &uart, off, val, len);
		else
			io_read(&uart_8250_ops, &uart, off, len);
		uart_8250_receive(&uart, &in, 1);

		/* The line is high exactly while IIR reports an interrupt. */
		level = uart_irq.level;
		iir = (uint8_t)io_read(&uart_8250_ops, &uart, IIR, 1);
		ck_assert_int_eq(level, !(iir & 0x01));
		ck_assert_uint_eq(iir & 0x30, 0);
	}
}
END_TEST

/* The input thread and a vCPU at the same time: every byte arrives once, in order. */
#define STRESS_BYTES 3000

static void *uart_stress_input(void *arg)
{
	for (int i = 0; i < STRESS_BYTES;) {
		uint8_t b = (uint8_t)i;

		if (uart_8250_receive(&uart, &b, 1))
			i++;
		else
			sched_yield();
	}
	return arg;
}

START_TEST(uart_receive_concurrent)
{
	pthread_t t;
	int got = 0;

	uout(FCR, 0x01);
	uout(IER, 0x01);
	ck_assert_int_eq(pthread_create(&t, NULL, uart_stress_input, NULL), 0);
	while (got < STRESS_BYTES) {
		if (uin(LSR) & 0x01) {
			ck_assert_uint_eq(uin(RBR), (uint8_t)got);
			got++;
		} else {
			sched_yield();
		}
	}
	pthread_join(t, NULL);
	ck_assert_uint_eq(uin(LSR) & 0x03, 0);
	ck_assert_int_eq(uart_irq.level, 0);
}
END_TEST

/* ---- i8042 ---- */

static struct i8042 kbc;
static struct fake_stop kbc_stop;

static void kbc_setup(void)
{
	memset(&kbc_stop, 0, sizeof(kbc_stop));
	ck_assert_int_eq(i8042_init(&kbc, (struct stop_hook){ fake_stop_fire, &kbc_stop }), 0);
}

static void kbc_teardown(void)
{
	i8042_destroy(&kbc);
}

static uint8_t kbc_status(void)
{
	return (uint8_t)io_read(&i8042_cmd_ops, &kbc, 0, 1);
}

static void kbc_command(uint8_t cmd)
{
	io_write(&i8042_cmd_ops, &kbc, 0, cmd, 1);
}

static void kbc_data_out(uint8_t v)
{
	io_write(&i8042_data_ops, &kbc, 0, v, 1);
}

/* Like Linux's i8042_wait_read(): the reply must be there at once. */
static uint8_t kbc_reply(void)
{
	ck_assert_uint_eq(kbc_status() & 0x01, 0x01);
	return (uint8_t)io_read(&i8042_data_ops, &kbc, 0, 1);
}

START_TEST(i8042_status_idle)
{
	uint8_t st = kbc_status();

	ck_assert_uint_eq(st & 0x03, 0); /* OBF and IBF clear */
	ck_assert_uint_eq(st & 0x10, 0x10); /* not inhibited: no "Keylock" warning */
}
END_TEST

START_TEST(i8042_reset_pulse)
{
	kbc_command(0xff); /* pulse nothing */
	kbc_command(0xfd); /* pulse output bit 1 (A20), not the reset line */
	ck_assert_int_eq(kbc_stop.count, 0);
	kbc_command(0xf0); /* pulse bits 0-3, reset included */
	ck_assert_int_eq(kbc_stop.count, 1);
	kbc_command(0xfe);
	ck_assert_int_eq(kbc_stop.count, 2);
	ck_assert_int_eq(kbc_stop.why, STOP_RESET);
	ck_assert_int_eq(kbc_stop.status, 0);
}
END_TEST

START_TEST(i8042_self_test)
{
	kbc_command(0xaa);
	ck_assert_uint_eq(kbc_reply(), 0x55);
	ck_assert_uint_eq(kbc_status() & 0x01, 0); /* read empties the buffer */
	kbc_command(0xab);
	ck_assert_uint_eq(kbc_reply(), 0x00);
	ck_assert_int_eq(kbc_stop.count, 0);
}
END_TEST

START_TEST(i8042_command_byte)
{
	uint8_t ctr;

	kbc_command(0x20);
	ctr = kbc_reply();
	kbc_command(0x60);
	ck_assert_uint_eq(kbc_status() & 0x08, 0x08); /* last write was a command */
	kbc_data_out(0x47);
	kbc_command(0x20);
	ck_assert_uint_eq(kbc_reply(), 0x47);
	kbc_command(0x60);
	kbc_data_out(ctr);
	kbc_command(0x20);
	ck_assert_uint_eq(kbc_reply(), ctr);
}
END_TEST

START_TEST(i8042_port_enable_bits)
{
	kbc_command(0xad);
	kbc_command(0x20);
	ck_assert_uint_eq(kbc_reply() & 0x10, 0x10);
	kbc_command(0xae);
	kbc_command(0x20);
	ck_assert_uint_eq(kbc_reply() & 0x10, 0);
	kbc_command(0xa8);
	kbc_command(0x20);
	ck_assert_uint_eq(kbc_reply() & 0x20, 0);
	kbc_command(0xa7);
	kbc_command(0x20);
	ck_assert_uint_eq(kbc_reply() & 0x20, 0x20);
}
END_TEST

/* i8042_check_aux(): the AUX loop must fail at once (byte back without the
 * AUX-data status bit), then the AUX test must report a dead port. */
START_TEST(i8042_no_aux_port)
{
	kbc_command(0xd3);
	kbc_data_out(0x5a);
	ck_assert_uint_eq(kbc_status() & 0x21, 0x01);
	kbc_command(0xa9);
	uint8_t r = kbc_reply();
	ck_assert(r != 0x00 && r != 0xfa && r != 0xff);
}
END_TEST

START_TEST(i8042_output_port_reset)
{
	kbc_command(0xd0);
	ck_assert_uint_eq(kbc_reply() & 0x01, 0x01);
	kbc_command(0xd1);
	kbc_data_out(0x03);
	ck_assert_int_eq(kbc_stop.count, 0);
	kbc_command(0xd1);
	kbc_data_out(0x02); /* reset line low */
	ck_assert_int_eq(kbc_stop.count, 1);
	ck_assert_int_eq(kbc_stop.why, STOP_RESET);
}
END_TEST

START_TEST(i8042_keyboard_bytes_dropped)
{
	kbc_data_out(0xf2); /* atkbd's GETID, to a keyboard that is not there */
	ck_assert_uint_eq(kbc_status() & 0x03, 0);
	ck_assert_int_eq(kbc_stop.count, 0);
}
END_TEST

/* ---- CMOS RTC ---- */

static struct cmos_rtc rtc;
static time_t rtc_now;

static time_t rtc_fixed_clock(void *ctx)
{
	return *(time_t *)ctx;
}

static void rtc_setup(void)
{
	rtc_now = 1795592348; /* 2026-11-25 07:39:08 UTC, a Wednesday */
	ck_assert_int_eq(cmos_rtc_init(&rtc, rtc_fixed_clock, &rtc_now), 0);
}

static void rtc_teardown(void)
{
	cmos_rtc_destroy(&rtc);
}

static uint8_t cmos_get(uint8_t index)
{
	io_write(&cmos_rtc_ops, &rtc, 0, index, 1);
	return (uint8_t)io_read(&cmos_rtc_ops, &rtc, 1, 1);
}

static void cmos_set(uint8_t index, uint8_t v)
{
	io_write(&cmos_rtc_ops, &rtc, 0, index, 1);
	io_write(&cmos_rtc_ops, &rtc, 1, v, 1);
}

START_TEST(cmos_time_bcd)
{
	ck_assert_uint_eq(cmos_get(0x00), 0x08);
	ck_assert_uint_eq(cmos_get(0x02), 0x39);
	ck_assert_uint_eq(cmos_get(0x04), 0x07);
	ck_assert_uint_eq(cmos_get(0x06), 0x04); /* Wednesday, Sunday = 1 */
	ck_assert_uint_eq(cmos_get(0x07), 0x25);
	ck_assert_uint_eq(cmos_get(0x08), 0x11);
	ck_assert_uint_eq(cmos_get(0x09), 0x26);
	ck_assert_uint_eq(cmos_get(CMOS_RTC_CENTURY), 0x20);
}
END_TEST

START_TEST(cmos_time_follows_clock)
{
	ck_assert_uint_eq(cmos_get(0x00), 0x08);
	rtc_now += 60 * 60 * 24 * 37 + 3; /* 2027-01-01 07:39:11 */
	ck_assert_uint_eq(cmos_get(0x00), 0x11);
	ck_assert_uint_eq(cmos_get(0x07), 0x01);
	ck_assert_uint_eq(cmos_get(0x08), 0x01);
	ck_assert_uint_eq(cmos_get(0x09), 0x27);
}
END_TEST

START_TEST(cmos_status_registers)
{
	ck_assert_uint_eq(cmos_get(0x0a), 0x26); /* UIP clear */
	ck_assert_uint_eq(cmos_get(0x0b), 0x02); /* 24-hour, BCD */
	ck_assert_uint_eq(cmos_get(0x0c), 0x00);
	ck_assert_uint_eq(cmos_get(0x0d), 0x80);
	cmos_set(0x0a, 0xa6); /* UIP is read-only */
	ck_assert_uint_eq(cmos_get(0x0a) & 0x80, 0);
	cmos_set(0x0d, 0x00);
	ck_assert_uint_eq(cmos_get(0x0d), 0x80);
}
END_TEST

START_TEST(cmos_nmi_bit_masked)
{
	io_write(&cmos_rtc_ops, &rtc, 0, 0x80 | 0x04, 1);
	ck_assert_uint_eq(io_read(&cmos_rtc_ops, &rtc, 1, 1), 0x07);
	ck_assert_uint_eq(io_read(&cmos_rtc_ops, &rtc, 0, 1), 0x84); /* last index */
	ck_assert_uint_eq(cmos_get(0x80 | 0x0d), 0x80);
}
END_TEST

START_TEST(cmos_ram)
{
	cmos_set(0x40, 0xab);
	cmos_set(0x7f, 0xcd);
	ck_assert_uint_eq(cmos_get(0x40), 0xab);
	ck_assert_uint_eq(cmos_get(0xc0), 0xab); /* index & 0x7f */
	ck_assert_uint_eq(cmos_get(0x7f), 0xcd);
	cmos_set(0x01, 0x30); /* seconds alarm: storage */
	ck_assert_uint_eq(cmos_get(0x01), 0x30);
	cmos_set(0x00, 0x59); /* the clock ignores writes */
	ck_assert_uint_eq(cmos_get(0x00), 0x08);
	/* one 16-bit write: index then data */
	io_write(&cmos_rtc_ops, &rtc, 0, 0x5541, 2);
	ck_assert_uint_eq(cmos_get(0x41), 0x55);
}
END_TEST

START_TEST(cmos_binary_and_12_hour)
{
	rtc_now += 12 * 60 * 60; /* 19:39:08 */
	cmos_set(0x0b, 0x06); /* binary, 24-hour */
	ck_assert_uint_eq(cmos_get(0x04), 19);
	ck_assert_uint_eq(cmos_get(0x02), 39);
	cmos_set(0x0b, 0x00); /* BCD, 12-hour */
	ck_assert_uint_eq(cmos_get(0x04), 0x80 | 0x07);
	rtc_now -= 19 * 60 * 60; /* 00:39:08 is 12 AM */
	ck_assert_uint_eq(cmos_get(0x04), 0x12);
}
END_TEST

START_TEST(cmos_host_clock_default)
{
	struct cmos_rtc host;

	ck_assert_int_eq(cmos_rtc_init(&host, NULL, NULL), 0);
	io_write(&cmos_rtc_ops, &host, 0, CMOS_RTC_CENTURY, 1);
	ck_assert_uint_eq(io_read(&cmos_rtc_ops, &host, 1, 1), 0x20); /* until 2100 */
	cmos_rtc_destroy(&host);
}
END_TEST

/* ---- debug-exit ---- */

static struct debug_exit dbg;
static struct fake_stop dbg_stop;

static void dbg_setup(void)
{
	memset(&dbg_stop, 0, sizeof(dbg_stop));
	ck_assert_int_eq(debug_exit_init(&dbg, 1, (struct stop_hook){ fake_stop_fire, &dbg_stop }), 0);
}

START_TEST(debug_exit_values)
{
	static const struct { uint8_t value; int status; } cases[] = {
		{ 0x00, 0x01 }, { 0x01, 0x03 }, { 0x10, 0x21 }, { 0x7f, 0xff }, { 0x80, 0x01 },
	};

	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		io_write(&debug_exit_ops, &dbg, 0, cases[i].value, 1);
		ck_assert_int_eq(dbg_stop.count, (int)i + 1);
		ck_assert_int_eq(dbg_stop.why, STOP_DEBUG_EXIT);
		ck_assert_int_eq(dbg_stop.status, cases[i].status);
	}
}
END_TEST

START_TEST(debug_exit_wide_writes)
{
	ck_assert_int_eq(debug_exit_init(&dbg, 4, (struct stop_hook){ fake_stop_fire, &dbg_stop }), 0);
	io_write(&debug_exit_ops, &dbg, 0, 0x12345621, 4);
	ck_assert_int_eq(dbg_stop.count, 1);
	ck_assert_int_eq(dbg_stop.status, 0x43); /* ((0x12345621 << 1) | 1) & 0xff */
	io_write(&debug_exit_ops, &dbg, 0, 0x0102, 2);
	ck_assert_int_eq(dbg_stop.status, 0x05);
	ck_assert_int_eq(debug_exit_status(0xffffffffu), 0xff);
}
END_TEST

START_TEST(debug_exit_reads_and_widths)
{
	ck_assert_uint_eq(io_read(&debug_exit_ops, &dbg, 0, 4), 0xffffffffu);
	ck_assert_int_eq(dbg_stop.count, 0);
	ck_assert_int_eq(debug_exit_init(&dbg, 3, (struct stop_hook){ fake_stop_fire, &dbg_stop }), -EINVAL);
	ck_assert_int_eq(debug_exit_init(&dbg, 8, (struct stop_hook){ fake_stop_fire, &dbg_stop }), -EINVAL);
	ck_assert_int_eq(debug_exit_init(&dbg, 2, (struct stop_hook){ fake_stop_fire, &dbg_stop }), 0);
}
END_TEST

/* ---- ACPI PM ---- */

#define PM1_STS 0
#define PM1_EN  2
#define SLP_EN  0x2000
#define SLP_TYP(t) ((t) << 10)

static struct acpi_pm pm;
static struct fake_stop pm_stop;

static void pm_setup(void)
{
	memset(&pm_stop, 0, sizeof(pm_stop));
	ck_assert_int_eq(acpi_pm_init(&pm, (struct stop_hook){ fake_stop_fire, &pm_stop }), 0);
}

static void pm_teardown(void)
{
	acpi_pm_destroy(&pm);
}

static void pm_cnt_write(uint16_t v)
{
	io_write(&acpi_pm_cnt_ops, &pm, 0, v, 2);
}

START_TEST(acpi_pm_s5_poweroff)
{
	/* ACPICA: SLP_TYP first, then SLP_TYP | SLP_EN */
	pm_cnt_write(SLP_TYP(ACPI_PM_SLP_TYP_S5) | 1);
	ck_assert_int_eq(pm_stop.count, 0);
	pm_cnt_write(SLP_TYP(ACPI_PM_SLP_TYP_S5) | SLP_EN | 1);
	ck_assert_int_eq(pm_stop.count, 1);
	ck_assert_int_eq(pm_stop.why, STOP_POWEROFF);
	ck_assert_int_eq(pm_stop.status, 0);
}
END_TEST

START_TEST(acpi_pm_s5_byte_write)
{
	/* The high byte alone holds SLP_TYP and SLP_EN. */
	io_write(&acpi_pm_cnt_ops, &pm, 1, (SLP_TYP(5) | SLP_EN) >> 8, 1);
	ck_assert_int_eq(pm_stop.count, 1);
	ck_assert_int_eq(pm_stop.why, STOP_POWEROFF);
}
END_TEST

START_TEST(acpi_pm_other_sleep_ignored)
{
	log_capture_start();
	pm_cnt_write(SLP_TYP(1) | SLP_EN); /* S1 */
	for (int i = 0; i < 100; i++)
		pm_cnt_write(SLP_TYP(3) | SLP_EN);
	pm_cnt_write(SLP_TYP(0) | SLP_EN);
	ck_assert_uint_eq(log_capture_stop("sleep type"), 1); /* a guest repeating it does not flood the log */
	ck_assert_int_eq(pm_stop.count, 0);
	/* "woke up at once", so the guest's WAK_STS loop ends */
	ck_assert_uint_eq(io_read(&acpi_pm_evt_ops, &pm, PM1_STS, 2) & 0x8000, 0x8000);
	/* S5 without SLP_EN does nothing either */
	pm_cnt_write(SLP_TYP(5));
	ck_assert_int_eq(pm_stop.count, 0);
}
END_TEST

START_TEST(acpi_pm_control_readback)
{
	ck_assert_uint_eq(io_read(&acpi_pm_cnt_ops, &pm, 0, 2), 0x0001); /* SCI_EN */
	pm_cnt_write(SLP_TYP(3) | SLP_EN); /* write-only SLP_EN reads 0 */
	ck_assert_uint_eq(io_read(&acpi_pm_cnt_ops, &pm, 0, 2), SLP_TYP(3) | 1);
	pm_cnt_write(0); /* SCI_EN cannot be cleared */
	ck_assert_uint_eq(io_read(&acpi_pm_cnt_ops, &pm, 0, 2), 0x0001);
	ck_assert_uint_eq(io_read(&acpi_pm_cnt_ops, &pm, 1, 2), 0xff00);
}
END_TEST

START_TEST(acpi_pm_status_write_one_to_clear)
{
	pm_cnt_write(SLP_TYP(1) | SLP_EN); /* sets WAK_STS */
	ck_assert_uint_eq(io_read(&acpi_pm_evt_ops, &pm, PM1_STS, 2), 0x8000);
	io_write(&acpi_pm_evt_ops, &pm, PM1_STS, 0x0000, 2); /* writing 0 keeps it */
	ck_assert_uint_eq(io_read(&acpi_pm_evt_ops, &pm, PM1_STS, 2), 0x8000);
	io_write(&acpi_pm_evt_ops, &pm, PM1_STS, 0x7fff, 2);
	ck_assert_uint_eq(io_read(&acpi_pm_evt_ops, &pm, PM1_STS, 2), 0x8000);
	io_write(&acpi_pm_evt_ops, &pm, PM1_STS, 0x8000, 2);
	ck_assert_uint_eq(io_read(&acpi_pm_evt_ops, &pm, PM1_STS, 2), 0x0000);
}
END_TEST

static int sci_level = -1, sci_changes;
static void fake_sci(void *ctx, int level)
{
	(void)ctx;
	sci_level = level;
	sci_changes++;
}

/* The power button: PWRBTN_STS, and the SCI only while it is enabled and
 * not yet cleared by the guest (ACPICA's fixed-event handling). */
START_TEST(acpi_pm_power_button_raises_sci)
{
	sci_level = -1;
	sci_changes = 0;
	acpi_pm_set_sci(&pm, (struct irq_line){ fake_sci, NULL });
	acpi_pm_press_power_button(&pm); /* not enabled yet: status only */
	ck_assert_uint_eq(io_read(&acpi_pm_evt_ops, &pm, PM1_STS, 2), ACPI_PM_STS_PWRBTN);
	ck_assert_int_eq(sci_changes, 0);
	io_write(&acpi_pm_evt_ops, &pm, PM1_STS, ACPI_PM_STS_PWRBTN, 2); /* guest clears it */
	io_write(&acpi_pm_evt_ops, &pm, PM1_EN, ACPI_PM_STS_PWRBTN, 2);  /* and enables the event */
	ck_assert_int_eq(sci_changes, 0);
	acpi_pm_press_power_button(&pm);
	ck_assert_int_eq(sci_level, 1);
	acpi_pm_press_power_button(&pm); /* still pending: no new edge */
	ck_assert_int_eq(sci_changes, 1);
	io_write(&acpi_pm_evt_ops, &pm, PM1_STS + 1, ACPI_PM_STS_PWRBTN >> 8, 1); /* byte write clears */
	ck_assert_int_eq(sci_level, 0);
	ck_assert_uint_eq(io_read(&acpi_pm_evt_ops, &pm, PM1_STS, 2), 0);
	acpi_pm_press_power_button(&pm);
	ck_assert_int_eq(sci_level, 1);
	io_write(&acpi_pm_evt_ops, &pm, PM1_EN, 0, 2); /* disabling drops it too */
	ck_assert_int_eq(sci_level, 0);
	ck_assert_int_eq(pm_stop.count, 0); /* the guest decides to power off */
}
END_TEST

START_TEST(acpi_pm_enable_register)
{
	io_write(&acpi_pm_evt_ops, &pm, PM1_EN, 0x0121, 2);
	ck_assert_uint_eq(io_read(&acpi_pm_evt_ops, &pm, PM1_EN, 2), 0x0121);
	ck_assert_uint_eq(io_read(&acpi_pm_evt_ops, &pm, 0, 4), 0x01210000);
	io_write(&acpi_pm_evt_ops, &pm, PM1_EN + 1, 0x00, 1);
	ck_assert_uint_eq(io_read(&acpi_pm_evt_ops, &pm, PM1_EN, 2), 0x0021);
	/* a 32-bit write of both halves: clears status, sets enable */
	io_write(&acpi_pm_evt_ops, &pm, 0, 0x0100ffff, 4);
	ck_assert_uint_eq(io_read(&acpi_pm_evt_ops, &pm, 0, 4), 0x01000000);
}
END_TEST

/* ---- pvpanic ---- */

static struct pvpanic pvp;
static struct fake_stop pvp_stop;

static void pvp_setup(void)
{
	memset(&pvp_stop, 0, sizeof(pvp_stop));
	pvpanic_init(&pvp, (struct stop_hook){ fake_stop_fire, &pvp_stop });
}

START_TEST(pvpanic_read_features)
{
	ck_assert_uint_eq(io_read(&pvpanic_ops, &pvp, 0, 1), 0x03);
	ck_assert_uint_eq(io_read(&pvpanic_ops, &pvp, 0, 2), 0xff03);
}
END_TEST

START_TEST(pvpanic_panic_stops)
{
	io_write(&pvpanic_ops, &pvp, 0, 0x01, 1);
	ck_assert_int_eq(pvp_stop.count, 1);
	ck_assert_int_eq(pvp_stop.why, STOP_PANIC);
	ck_assert_int_eq(pvp_stop.status, 0);
	io_write(&pvpanic_ops, &pvp, 0, 0x03, 1);
	ck_assert_int_eq(pvp_stop.count, 2);
}
END_TEST

START_TEST(pvpanic_crash_loaded_ignored)
{
	log_capture_start();
	for (int i = 0; i < 100; i++)
		io_write(&pvpanic_ops, &pvp, 0, 0x02, 1);
	io_write(&pvpanic_ops, &pvp, 0, 0x00, 1);
	ck_assert_uint_eq(log_capture_stop("crash kernel"), 1);
	ck_assert_int_eq(pvp_stop.count, 0);
}
END_TEST

/* ---- all devices: garbage in, nothing breaks ---- */

START_TEST(all_devices_random_accesses)
{
	static const unsigned lens[] = { 1, 2, 4, 8 };
	struct fake_stop stop = { 0 };
	struct stop_hook hook = { fake_stop_fire, &stop };
	struct i8042 k;
	struct cmos_rtc c;
	struct debug_exit d;
	struct acpi_pm a;
	struct pvpanic p;
	struct { const struct bus_ops *ops; void *opaque; } dev[] = {
		{ &i8042_data_ops, &k }, { &i8042_cmd_ops, &k }, { &cmos_rtc_ops, &c },
		{ &debug_exit_ops, &d }, { &acpi_pm_evt_ops, &a }, { &acpi_pm_cnt_ops, &a },
		{ &pvpanic_ops, &p },
	};
	unsigned seed = 42;

	ck_assert_int_eq(i8042_init(&k, hook), 0);
	ck_assert_int_eq(cmos_rtc_init(&c, NULL, NULL), 0);
	ck_assert_int_eq(debug_exit_init(&d, 4, hook), 0);
	ck_assert_int_eq(acpi_pm_init(&a, hook), 0);
	pvpanic_init(&p, hook);
	for (int i = 0; i < 700; i++) {
		unsigned n = (unsigned)rand_r(&seed) % (sizeof(dev) / sizeof(dev[0]));
		unsigned off = (unsigned)rand_r(&seed) % 8;
		unsigned len = lens[rand_r(&seed) % 4];
		uint64_t val = ((uint64_t)rand_r(&seed) << 32) | (unsigned)rand_r(&seed);

		if (rand_r(&seed) & 1)
			io_write(dev[n].ops, dev[n].opaque, off, val, len);
		else
			io_read(dev[n].ops, dev[n].opaque, off, len);
	}
	/* still answering sanely */
	io_write(&cmos_rtc_ops, &c, 0, 0x0d, 1);
	ck_assert_uint_eq(io_read(&cmos_rtc_ops, &c, 1, 1), 0x80);
	ck_assert_uint_eq(io_read(&acpi_pm_cnt_ops, &a, 0, 1) & 1, 1);
	io_write(&i8042_cmd_ops, &k, 0, 0xaa, 1);
	ck_assert_uint_eq(io_read(&i8042_data_ops, &k, 0, 1), 0x55);
	i8042_destroy(&k);
	cmos_rtc_destroy(&c);
	acpi_pm_destroy(&a);
}
END_TEST

Suite *devices_suite(void)
{
	Suite *s = suite_create("devices");
	TCase *tc;

	tc = tcase_create("uart-8250");
	tcase_add_checked_fixture(tc, uart_setup, uart_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, uart_reset_values);
	tcase_add_test(tc, uart_scratch_register);
	tcase_add_test(tc, uart_ier_probe);
	tcase_add_test(tc, uart_divisor_latch);
	tcase_add_test(tc, uart_autoconfig_loop_test);
	tcase_add_test(tc, uart_autoconfig_fifo_detection);
	tcase_add_test(tc, uart_thr_reaches_output);
	tcase_add_test(tc, uart_thre_interrupt);
	tcase_add_test(tc, uart_thre_keeps_coming);
	tcase_add_test(tc, uart_thre_reasserts_on_ier);
	tcase_add_test(tc, uart_ier_off_lowers_line);
	tcase_add_test(tc, uart_receive_data);
	tcase_add_test(tc, uart_receive_without_fifo_holds_one_byte);
	tcase_add_test(tc, uart_receive_fifo_fills);
	tcase_add_test(tc, uart_overrun_sets_oe);
	tcase_add_test(tc, uart_line_status_interrupt_first);
	tcase_add_test(tc, uart_rda_beats_thre);
	tcase_add_test(tc, uart_rx_trigger_and_timeout);
	tcase_add_test(tc, uart_fcr_clears_receiver);
	tcase_add_test(tc, uart_loopback_round_trip);
	tcase_add_test(tc, uart_modem_status_interrupt);
	tcase_add_test(tc, uart_wide_access_splits);
	tcase_add_test(tc, uart_random_accesses);
	tcase_add_test(tc, uart_receive_concurrent);
	suite_add_tcase(s, tc);

	tc = tcase_create("i8042");
	tcase_add_checked_fixture(tc, kbc_setup, kbc_teardown);
	tcase_add_test(tc, i8042_status_idle);
	tcase_add_test(tc, i8042_reset_pulse);
	tcase_add_test(tc, i8042_self_test);
	tcase_add_test(tc, i8042_command_byte);
	tcase_add_test(tc, i8042_port_enable_bits);
	tcase_add_test(tc, i8042_no_aux_port);
	tcase_add_test(tc, i8042_output_port_reset);
	tcase_add_test(tc, i8042_keyboard_bytes_dropped);
	suite_add_tcase(s, tc);

	tc = tcase_create("cmos-rtc");
	tcase_add_checked_fixture(tc, rtc_setup, rtc_teardown);
	tcase_add_test(tc, cmos_time_bcd);
	tcase_add_test(tc, cmos_time_follows_clock);
	tcase_add_test(tc, cmos_status_registers);
	tcase_add_test(tc, cmos_nmi_bit_masked);
	tcase_add_test(tc, cmos_ram);
	tcase_add_test(tc, cmos_binary_and_12_hour);
	tcase_add_test(tc, cmos_host_clock_default);
	suite_add_tcase(s, tc);

	tc = tcase_create("debug-exit");
	tcase_add_checked_fixture(tc, dbg_setup, NULL);
	tcase_add_test(tc, debug_exit_values);
	tcase_add_test(tc, debug_exit_wide_writes);
	tcase_add_test(tc, debug_exit_reads_and_widths);
	suite_add_tcase(s, tc);

	tc = tcase_create("acpi-pm");
	tcase_add_checked_fixture(tc, pm_setup, pm_teardown);
	tcase_add_test(tc, acpi_pm_s5_poweroff);
	tcase_add_test(tc, acpi_pm_s5_byte_write);
	tcase_add_test(tc, acpi_pm_other_sleep_ignored);
	tcase_add_test(tc, acpi_pm_control_readback);
	tcase_add_test(tc, acpi_pm_status_write_one_to_clear);
	tcase_add_test(tc, acpi_pm_enable_register);
	tcase_add_test(tc, acpi_pm_power_button_raises_sci);
	suite_add_tcase(s, tc);

	tc = tcase_create("pvpanic");
	tcase_add_checked_fixture(tc, pvp_setup, NULL);
	tcase_add_test(tc, pvpanic_read_features);
	tcase_add_test(tc, pvpanic_panic_stops);
	tcase_add_test(tc, pvpanic_crash_loaded_ignored);
	suite_add_tcase(s, tc);

	tc = tcase_create("robustness");
	tcase_add_test(tc, all_devices_random_accesses);
	suite_add_tcase(s, tc);

	return s;
}

#ifndef SKIFF_UNIT_NO_MAIN
int main(void)
{
	SRunner *sr = srunner_create(devices_suite());
	int failed;

	log_threshold = LOG_ERROR; /* the devices' warnings are expected here */
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
#endif
