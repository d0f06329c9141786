/* 16550A UART model. Register behaviour follows the National Semiconductor
 * PC16550D data sheet, checked against how Linux's 8250 driver probes and
 * drives the chip (drivers/tty/serial/8250/8250_port.c). */
#include "devices/uart-8250.h"

#include <errno.h>
#include <string.h>

#include "base/log.h"

#define LOG_NAME "serial0"

/* Register offsets from the base port. */
enum {
	REG_DATA = 0, /* read RBR, write THR; DLL while LCR.DLAB is set */
	REG_IER  = 1, /* DLM while LCR.DLAB is set */
	REG_IIR  = 2, /* read IIR, write FCR */
	REG_LCR  = 3,
	REG_MCR  = 4,
	REG_LSR  = 5,
	REG_MSR  = 6,
	REG_SCR  = 7,
};

#define IER_RDI   0x01 /* received data available */
#define IER_THRI  0x02 /* transmit holding register empty */
#define IER_RLSI  0x04 /* receiver line status */
#define IER_MSI   0x08 /* modem status */
#define IER_MASK  0x0f /* the upper bits do not exist on a 16550A */

/* IIR low nibble: which interrupt is pending, highest priority first. */
#define IIR_RLSI       0x06
#define IIR_RDI        0x04
#define IIR_RX_TIMEOUT 0x0c
#define IIR_THRI       0x02
#define IIR_MSI        0x00
#define IIR_NO_INT     0x01
#define IIR_FIFO_ON    0xc0 /* bits 6-7: "FIFOs enabled", how a 16550A says it is one */

#define FCR_ENABLE_FIFO 0x01
#define FCR_CLEAR_RCVR  0x02
#define FCR_TRIGGER(v)  (((v) >> 6) & 3)

#define LCR_DLAB 0x80

#define MCR_DTR  0x01
#define MCR_RTS  0x02
#define MCR_OUT1 0x04
#define MCR_OUT2 0x08
#define MCR_LOOP 0x10
#define MCR_MASK 0x1f

#define LSR_DR   0x01 /* data ready */
#define LSR_OE   0x02 /* overrun error */
#define LSR_BI   0x10 /* break interrupt: the byte at the FIFO's head is a break */
#define LSR_THRE 0x20 /* transmit holding register empty */
#define LSR_TEMT 0x40 /* transmitter empty */

#define MSR_DCTS 0x01
#define MSR_DDSR 0x02
#define MSR_TERI 0x04
#define MSR_DDCD 0x08
#define MSR_CTS  0x10
#define MSR_DSR  0x20
#define MSR_RI   0x40
#define MSR_DCD  0x80

static const uint8_t rx_trigger_levels[4] = { 1, 4, 8, 14 };

/* ---- receive FIFO ---- */

/* Without FIFOs the chip holds a single received byte (16450 mode). */
static unsigned rx_capacity(const struct uart_8250 *u)
{
	return u->fifo_enabled ? UART_8250_FIFO_SIZE : 1;
}

static void rx_clear(struct uart_8250 *u)
{
	u->rx_head = 0;
	u->rx_count = 0;
}

static bool rx_push(struct uart_8250 *u, uint8_t byte)
{
	if (u->rx_count >= rx_capacity(u))
		return false;
	u->rx[(u->rx_head + u->rx_count) % UART_8250_FIFO_SIZE] = byte;
	u->rx_count++;
	return true;
}

static uint8_t rx_pop(struct uart_8250 *u)
{
	if (u->rx_count) {
		u->break_at_head = false;
		u->rbr = u->rx[u->rx_head];
		u->rx_head = (u->rx_head + 1) % UART_8250_FIFO_SIZE;
		u->rx_count--;
	}
	return u->rbr;
}

/* ---- modem lines ---- */

/* MSR bits 4-7. Nothing is plugged in, so we report a ready peer (carrier,
 * DSR, CTS). In loopback the inputs are wired to the MCR outputs instead:
 * RTS->CTS, DTR->DSR, OUT1->RI, OUT2->DCD. Linux's autoconfig relies on it. */
static uint8_t modem_inputs(const struct uart_8250 *u)
{
	uint8_t m = u->mcr;

	if (!(m & MCR_LOOP))
		return MSR_DCD | MSR_DSR | MSR_CTS;
	return (m & MCR_RTS ? MSR_CTS : 0) | (m & MCR_DTR ? MSR_DSR : 0) |
	       (m & MCR_OUT1 ? MSR_RI : 0) | (m & MCR_OUT2 ? MSR_DCD : 0);
}

/* Latch the MSR "delta" bits for every input that changed. RI only counts
 * its trailing edge (on -> off), as on the real chip. */
static void modem_note_change(struct uart_8250 *u, uint8_t before)
{
	uint8_t now = modem_inputs(u), changed = before ^ now;

	if (changed & MSR_CTS)
		u->msr_deltas |= MSR_DCTS;
	if (changed & MSR_DSR)
		u->msr_deltas |= MSR_DDSR;
	if ((before & MSR_RI) && !(now & MSR_RI))
		u->msr_deltas |= MSR_TERI;
	if (changed & MSR_DCD)
		u->msr_deltas |= MSR_DDCD;
}

/* ---- interrupts ---- */

/* The IIR low nibble: the highest-priority enabled source that is pending. */
static uint8_t pending_interrupt(const struct uart_8250 *u)
{
	if ((u->ier & IER_RLSI) && u->overrun)
		return IIR_RLSI;
	if ((u->ier & IER_RDI) && u->rx_count) {
		/* Below the trigger level a real FIFO waits four character
		 * times, then reports a timeout. We have no character clock, so
		 * the timeout is reported at once. */
		if (u->fifo_enabled && u->rx_count < u->rx_trigger)
			return IIR_RX_TIMEOUT;
		return IIR_RDI;
	}
	if ((u->ier & IER_THRI) && u->thre_pending)
		return IIR_THRI;
	if ((u->ier & IER_MSI) && u->msr_deltas)
		return IIR_MSI;
	return IIR_NO_INT;
}

/* Level-triggered: the line is high exactly while an enabled interrupt is
 * pending. (On a PC, MCR.OUT2 gates the line; like QEMU, we do not, which
 * only matters to a guest that enables interrupts with OUT2 clear.) */
static void irq_update(struct uart_8250 *u)
{
	int level = pending_interrupt(u) != IIR_NO_INT;

	if (level != u->irq_level) {
		u->irq_level = level;
		irq_line_set(&u->irq, level);
	}
}

/* ---- register access (lock held) ---- */

static uint8_t uart_read_reg(void *opaque, unsigned reg)
{
	struct uart_8250 *u = opaque;
	uint8_t v;

	switch (reg) {
	case REG_DATA:
		if (u->lcr & LCR_DLAB)
			return u->dll;
		return rx_pop(u);
	case REG_IER:
		if (u->lcr & LCR_DLAB)
			return u->dlm;
		return u->ier;
	case REG_IIR:
		v = pending_interrupt(u) | (u->fifo_enabled ? IIR_FIFO_ON : 0);
		/* Reading IIR while it reports "THR empty" acknowledges that
		 * interrupt; the next THR write (or IER.THRI 0->1) re-arms it. */
		if ((v & 0x0f) == IIR_THRI)
			u->thre_pending = false;
		return v;
	case REG_LCR:
		return u->lcr;
	case REG_MCR:
		return u->mcr;
	case REG_LSR:
		/* The transmitter is always empty: bytes leave as they are written. */
		v = LSR_THRE | LSR_TEMT | (u->rx_count ? LSR_DR : 0) | (u->overrun ? LSR_OE : 0) |
		    (u->rx_count && u->break_at_head ? LSR_BI : 0);
		u->overrun = false; /* error bits clear on read */
		return v;
	case REG_MSR:
		v = modem_inputs(u) | u->msr_deltas;
		u->msr_deltas = 0;
		return v;
	default: /* REG_SCR */
		return u->scr;
	}
}

static void uart_write_fcr(struct uart_8250 *u, uint8_t v)
{
	bool enable = v & FCR_ENABLE_FIFO;

	/* Switching the FIFOs on or off empties them. */
	if (enable != u->fifo_enabled) {
		rx_clear(u);
		u->fifo_enabled = enable;
	}
	/* The other FCR bits are only taken while bit 0 is set. The transmit
	 * FIFO (bit 2) is always empty here, so only the receive side matters. */
	if (enable) {
		if (v & FCR_CLEAR_RCVR)
			rx_clear(u);
		u->rx_trigger = rx_trigger_levels[FCR_TRIGGER(v)];
	}
}

static void uart_write_reg(void *opaque, unsigned reg, uint8_t v)
{
	struct uart_8250 *u = opaque;
	uint8_t before;

	switch (reg) {
	case REG_DATA:
		if (u->lcr & LCR_DLAB) {
			u->dll = v;
			break;
		}
		if (u->mcr & MCR_LOOP) {
			/* Loopback: the byte comes straight back to our receiver. */
			if (!rx_push(u, v)) {
				u->overrun = true;
				log_debug(LOG_NAME, "receive overrun in loopback");
			}
		} else if (u->out.write) {
			u->out.write(u->out.ctx, &v, 1);
		}
		/* Sent at once, so THR is empty again: re-arm that interrupt.
		 * Without this Linux waits forever for room to send more. */
		u->thre_pending = true;
		break;
	case REG_IER:
		if (u->lcr & LCR_DLAB) {
			u->dlm = v;
			break;
		}
		/* Enabling THRI while THR is empty raises it at once (Linux's
		 * start-up test checks this). */
		if (!(u->ier & IER_THRI) && (v & IER_THRI))
			u->thre_pending = true;
		u->ier = v & IER_MASK;
		break;
	case REG_IIR: /* written, it is FCR */
		uart_write_fcr(u, v);
		break;
	case REG_LCR:
		u->lcr = v;
		break;
	case REG_MCR:
		before = modem_inputs(u);
		u->mcr = v & MCR_MASK;
		modem_note_change(u, before);
		break;
	case REG_LSR:
	case REG_MSR:
		break; /* read-only (LSR writes are a factory test mode) */
	default: /* REG_SCR */
		u->scr = v;
		break;
	}
}

/* ---- bus_ops ---- */

/* A wider access to an 8-bit device is split into byte accesses to
 * consecutive ports, the way the ISA bus does it (bus_isa_split_*). */
static void uart_bus_read(void *opaque, uint64_t offset, uint8_t *data, unsigned len)
{
	struct uart_8250 *u = opaque;

	pthread_mutex_lock(&u->lock);
	bus_isa_split_read(offset, data, len, UART_8250_NR_REGS, uart_read_reg, u);
	irq_update(u);
	pthread_mutex_unlock(&u->lock);
}

static void uart_bus_write(void *opaque, uint64_t offset, const uint8_t *data, unsigned len)
{
	struct uart_8250 *u = opaque;

	pthread_mutex_lock(&u->lock);
	bus_isa_split_write(offset, data, len, UART_8250_NR_REGS, uart_write_reg, u);
	irq_update(u);
	pthread_mutex_unlock(&u->lock);
}

const struct bus_ops uart_8250_ops = {
	.read = uart_bus_read,
	.write = uart_bus_write,
};

/* ---- host side ---- */

size_t uart_8250_receive(struct uart_8250 *u, const uint8_t *buf, size_t n)
{
	size_t taken = 0;

	pthread_mutex_lock(&u->lock);
	if (!(u->mcr & MCR_LOOP)) {
		while (taken < n && rx_push(u, buf[taken]))
			taken++;
		irq_update(u);
	}
	pthread_mutex_unlock(&u->lock);
	return taken;
}

bool uart_8250_send_break(struct uart_8250 *u)
{
	bool sent = false;

	pthread_mutex_lock(&u->lock);
	/* Only into an empty FIFO, so the break is the byte at the head. */
	if (!(u->mcr & MCR_LOOP) && u->rx_count == 0) {
		sent = rx_push(u, 0);
		u->break_at_head = sent;
		irq_update(u);
	}
	pthread_mutex_unlock(&u->lock);
	return sent;
}

bool uart_8250_can_receive(struct uart_8250 *u)
{
	bool can;

	pthread_mutex_lock(&u->lock);
	can = !(u->mcr & MCR_LOOP) && u->rx_count < rx_capacity(u);
	pthread_mutex_unlock(&u->lock);
	return can;
}

int uart_8250_init(struct uart_8250 *u, struct irq_line irq, struct uart_output out)
{
	int err;

	memset(u, 0, sizeof(*u));
	err = pthread_mutex_init(&u->lock, NULL);
	if (err)
		return -err;
	u->irq = irq;
	u->out = out;
	u->rx_trigger = rx_trigger_levels[0];
	return 0;
}

void uart_8250_destroy(struct uart_8250 *u)
{
	pthread_mutex_destroy(&u->lock);
}
