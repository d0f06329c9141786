/* Guest console output (the serial port) to stdout, without ever
 * blocking the vCPU that writes it.
 *
 * The UART calls console_out_write() with its lock held, from a vCPU
 * thread; a blocking write() there would let a stalled stdout (a pipe
 * nobody reads, a terminal stopped with Ctrl-S) stop the vCPU and,
 * through the lock, the thread feeding guest input. So the bytes go to a
 * non-blocking description of stdout; what it cannot take waits in a
 * bounded buffer that the reactor drains when stdout has room again (an
 * edge-triggered EPOLLOUT: the vCPU makes no epoll calls), and what does
 * not fit there is dropped and counted (reported once at the
 * end, and rate-limited while it happens).
 *
 * The non-blocking description is a new open of /proc/self/fd/1, so the
 * shell's own stdout is left blocking. A regular file (which never
 * stalls, and whose offset a new open would not share) is written
 * directly. An stdout that cannot be reopened (a socket, or no /proc) is
 * made non-blocking itself, unless it is a terminal.
 *
 * Firecracker and Cloud Hypervisor do the same (a non-blocking stdout, a
 * bounded buffer flushed on EPOLLOUT, drops past it); QEMU instead keeps
 * the UART's transmitter busy, which a Linux console waits on for 10 ms
 * a byte: a stalled reader would stall the guest. */
#ifndef SKIFF_VMM_CONSOLE_OUT_H
#define SKIFF_VMM_CONSOLE_OUT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/log.h"
#include "base/reactor.h"

/* Bytes held while stdout is stalled: more than a whole Linux boot log,
 * so a test harness that reads late loses nothing. Past it output is
 * dropped rather than held: the guest decides how much it prints, and a
 * stalled reader must not grow our memory. (Its own mapping, so pages of
 * it are touched only when used.) */
#define CONSOLE_OUT_BUFFER (1u << 20)
/* At the end, how long a slow reader gets for the rest. */
#define CONSOLE_OUT_FINAL_FLUSH_MS 2000

struct console_out {
	int fd;                  /* where bytes go */
	bool own_fd;             /* fd is our non-blocking reopen */
	bool nonblocking;        /* fd is the caller's, made non-blocking */
	struct reactor *reactor; /* drains the buffer on EPOLLOUT; NULL = none yet */
	int source;              /* reactor source id, or -1 */

	pthread_mutex_t lock;    /* the buffer and counters */
	uint8_t *buf;            /* CONSOLE_OUT_BUFFER bytes, a mapping of its own */
	size_t head, len;        /* a ring */
	uint64_t dropped;        /* bytes lost to a full buffer */
	struct log_limit log_dropped;
};

/* Write to fd (normally STDOUT_FILENO), reopened non-blocking when it is
 * a terminal or a pipe. 0 or -errno. */
int console_out_init(struct console_out *c, int fd);
/* Let the reactor drain what stdout could not take at once. 0 or -errno. */
int console_out_attach(struct console_out *c, struct reactor *r);
/* Never blocks: written now, buffered, or dropped and counted. */
void console_out_write(struct console_out *c, const uint8_t *buf, size_t n);
/* Bytes dropped so far. */
uint64_t console_out_dropped(struct console_out *c);
/* Detach from the reactor (before it goes), write what stdout takes
 * now, report drops, close the reopened fd. */
void console_out_destroy(struct console_out *c);

#endif
