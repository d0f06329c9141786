/* skiff exec's status protocol, on the virtio-console port skiff.status.
 *
 * Guest (vmm/exec-init.c) to host, one line each:
 *   "hello"        the init runs (the guest reached userspace)
 *   "exit N"       CMD exited with status N (0-255)
 *   "signal N"     CMD was killed by signal N (1-127)
 * Host to guest: "ack\n" after exit/signal; the init powers off only
 * then, so the status cannot race shutdown.
 *
 * The parser takes bytes as they come; a line longer than
 * EXEC_STATUS_LINE_MAX or not one of the above is EXEC_MSG_BAD (the
 * guest is not trusted). */
#ifndef SKIFF_EXEC_STATUS_H
#define SKIFF_EXEC_STATUS_H

#include <stddef.h>

#define EXEC_STATUS_LINE_MAX 32
#define EXEC_STATUS_ACK "ack\n"

enum exec_msg { EXEC_MSG_NONE, EXEC_MSG_HELLO, EXEC_MSG_EXIT, EXEC_MSG_SIGNAL, EXEC_MSG_BAD };

struct exec_status_parser {
	char line[EXEC_STATUS_LINE_MAX + 1];
	size_t len;
	int overlong; /* the current line passed the limit */
};

/* Feed one byte; at a newline returns the message (value: N), else NONE. */
enum exec_msg exec_status_byte(struct exec_status_parser *p, char c, int *value);

#endif
