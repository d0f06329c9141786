/* The control socket's protocol, without the socket: one JSON request in,
 * one JSON reply out. Pure (no KVM, no file descriptors), so the unit
 * tests and the fuzz target call it directly; vmm/control-socket.c does
 * the I/O and vmm/machine-control.c carries the commands out.
 *
 * Wire format: newline-delimited JSON, one request per line, one reply
 * line per request, in order.
 *
 *   request  {"command": "NAME"[, ARG: VALUE]}
 *   reply    {"ok": true, "command": "NAME", ...command's fields}
 *            {"ok": false, "error": "one line for people"}
 *
 * Commands and their arguments (all numbers are whole, non-negative):
 *   status, pause, resume, kill, balloon-stats, stats   (none)
 *   shutdown        "timeout": seconds to wait for the guest (optional,
 *                   default CONTROL_DEFAULT_SHUTDOWN_TIMEOUT)
 *   balloon-set     "mib": the balloon's target size (required)
 *   trace           "filter": "off", or what to trace as for --trace
 *                   ("all", "virtio-blk0,irq"); a string (required)
 *
 * JSON is parsed and written by jansson (libjansson-dev), chosen over
 * json-c because it refuses invalid UTF-8, NUL bytes in strings and
 * nesting deeper than its parser limit on its own, and its pack/unpack
 * API keeps the validation code short. A request longer than
 * CONTROL_MAX_REQUEST bytes is refused before it is parsed. */
#ifndef SKIFF_CONTROL_PROTOCOL_H
#define SKIFF_CONTROL_PROTOCOL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CONTROL_MAX_REQUEST 4096              /* bytes in one request line, newline included */
#define CONTROL_DEFAULT_SHUTDOWN_TIMEOUT 30   /* seconds */
#define CONTROL_MAX_SHUTDOWN_TIMEOUT 3600

enum control_command {
	CONTROL_STATUS,
	CONTROL_PAUSE,
	CONTROL_RESUME,
	CONTROL_SHUTDOWN,
	CONTROL_KILL,
	CONTROL_BALLOON_SET,
	CONTROL_BALLOON_STATS,
	CONTROL_STATS,
	CONTROL_TRACE,
};

#define CONTROL_MAX_TEXT_ARG 255 /* bytes in a string argument */

/* run() returns this for a command that finishes later (pause waits for
 * the vCPUs to stop): control_handle_request() then returns an empty line
 * and the reply is sent when the command is done, by
 * control_socket_finish() (vmm/control-socket.h). */
#define CONTROL_LATER 1

/* What carries the commands out. run() gets the command's argument in
 * arg (a number) or text (a string: printable ASCII, at most
 * CONTROL_MAX_TEXT_ARG bytes; NULL for the other commands), adds the
 * command's fields to reply and returns 0, or returns <0 with one line in
 * err (the reply then becomes an error reply), or CONTROL_LATER. */
struct control_ops {
	int (*run)(void *ctx, enum control_command cmd, uint64_t arg, const char *text, json_t *reply, char *err,
		   size_t errlen);
	void *ctx;
};

/* Serve one request (len bytes, without the newline). Returns the reply,
 * newline-terminated and NUL-terminated, to be freed with free(); "" when
 * run() returned CONTROL_LATER; NULL only when out of memory. */
char *control_handle_request(const struct control_ops *ops, const char *request, size_t len);
/* The reply of a command that finished later: ok (ret 0, no fields) or
 * err. Freed with free(); NULL only when out of memory. */
char *control_late_reply(enum control_command cmd, int ret, const char *err);
/* An error reply line (for the socket side: "request too long"). */
char *control_error_reply(const char *message);

/* Command names, for the client and its help. NULL when out of range. */
const char *control_command_name(enum control_command cmd);
/* The argument a command takes ("mib", "timeout") or NULL. */
const char *control_command_arg(enum control_command cmd);
/* true if that argument is a string ("filter"), not a number. */
bool control_command_arg_is_text(enum control_command cmd);
/* -1 if unknown. */
int control_command_find(const char *name);

#endif
