/* A 16550A UART: the PC serial port (COM1), skiff's guest console.
 *
 * Eight byte-wide registers at the base port (register on the PIO bus at
 * PORT_COM1 with UART_8250_NR_REGS). Bytes the guest transmits go to an
 * output callback; bytes the host types come in through uart_8250_receive().
 * There is no baud-rate timing: a byte written to THR is sent at once, so
 * the transmitter is always empty.
 *
 * Threads: vCPU threads call the bus_ops, the VMM's input thread calls
 * uart_8250_receive()/uart_8250_can_receive(); a mutex serialises them.
 * The output and irq callbacks run with that mutex held: they must be quick
 * and must not call back into the UART. */
#ifndef SKIFF_UART_8250_H
#define SKIFF_UART_8250_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bus/bus.h"
#include "base/hooks.h"

#define UART_8250_NR_REGS  8
#define UART_8250_FIFO_SIZE 16 /* a 16550A's receive FIFO; Linux can measure it */

/* Where transmitted bytes go (the caller writes them to stdout). */
struct uart_output {
	void (*write)(void *ctx, const uint8_t *buf, size_t n);
	void *ctx;
};

struct uart_8250 {
	pthread_mutex_t lock;
	struct irq_line irq;
	struct uart_output out;
	int irq_level;          /* level last driven on irq, to drive only changes */

	uint8_t ier;            /* interrupt enable (low 4 bits) */
	uint8_t lcr;            /* line control; bit 7 (DLAB) selects the divisor latch */
	uint8_t mcr;            /* modem control (low 5 bits; bit 4 = loopback) */
	uint8_t msr_deltas;     /* MSR bits 0-3: modem lines changed since last MSR read */
	uint8_t scr;            /* scratch */
	uint8_t dll, dlm;       /* divisor latch: stored for the guest, no effect */
	bool fifo_enabled;      /* FCR bit 0 */
	uint8_t rx_trigger;     /* receive FIFO trigger level in bytes (FCR bits 6-7) */
	bool break_at_head;     /* LSR.BI while the FIFO's head byte is unread */
	bool overrun;           /* LSR.OE: a byte was lost; cleared by reading LSR */
	bool thre_pending;      /* the "THR empty" interrupt is waiting to be seen */

	uint8_t rx[UART_8250_FIFO_SIZE]; /* receive FIFO, a ring */
	unsigned rx_head, rx_count;
	uint8_t rbr;            /* last byte read; RBR repeats it when the FIFO is empty */
};

/* Reset state, line low. 0 or a negative errno (mutex creation). */
int uart_8250_init(struct uart_8250 *u, struct irq_line irq, struct uart_output out);
void uart_8250_destroy(struct uart_8250 *u);

/* From the input thread: queue up to n received bytes. Returns how many were
 * taken (fewer when the FIFO is full, 0 in loopback mode, where the chip's
 * input pin is disconnected): the caller keeps the rest and retries later,
 * so host input is never dropped. */
size_t uart_8250_receive(struct uart_8250 *u, const uint8_t *buf, size_t n);
/* A line break, as a terminal's BREAK key sends (a 0 byte with LSR.BI);
 * Linux's serial console reads the next byte as a magic SysRq key.
 * false if the receive FIFO is not empty (try again later). */
bool uart_8250_send_break(struct uart_8250 *u);
/* true if uart_8250_receive() would take at least one byte now. */
bool uart_8250_can_receive(struct uart_8250 *u);

/* opaque = struct uart_8250 * */
extern const struct bus_ops uart_8250_ops;

#endif
