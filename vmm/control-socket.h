/* The control socket (--api-sock PATH): a Unix stream socket served by
 * the reactor thread (base/reactor.c), never by a vCPU. Each client sends
 * newline-delimited JSON requests and gets one reply line per request
 * (the protocol is vmm/control-protocol.h).
 *
 * Nothing a client does can stall the VMM or another client: sockets are
 * non-blocking and read once per wake-up; a request longer than
 * CONTROL_MAX_REQUEST gets an error reply and the connection is closed;
 * a client that does not read its replies (the send would block) is
 * disconnected; one that says nothing for idle_timeout_ms is disconnected
 * by a sweep timer; at most CONTROL_MAX_CLIENTS are connected at once
 * (more are accepted and closed at once).
 *
 * A command that finishes later (run() returned CONTROL_LATER: pause)
 * leaves its client waiting: the reactor goes on serving everything else,
 * the client's further requests stay buffered (replies keep their order)
 * and the idle sweep spares it, until control_socket_finish() sends the
 * reply. A waiting client that hangs up is closed.
 *
 * The socket file is created owner-only (0600, under umask 077). A file
 * already at PATH is checked first: a socket someone still listens on
 * (a live skiff) is an error; a socket nobody listens on (a skiff that
 * died) is replaced; anything else is an error and left alone. */
#ifndef SKIFF_CONTROL_SOCKET_H
#define SKIFF_CONTROL_SOCKET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/un.h>

#include "vmm/control-protocol.h"
#include "base/reactor.h"

#define CONTROL_MAX_CLIENTS 16
#define CONTROL_IDLE_TIMEOUT_MS 10000

struct control_socket;

struct control_client {
	struct control_socket *owner;
	bool in_use;
	int fd;
	int source;             /* reactor source id */
	int64_t last_active_ms; /* CLOCK_MONOTONIC of the last byte received */
	int waiting_for;        /* the command whose late reply it waits for, -1 none */
	size_t len;             /* bytes of an unfinished request in buf */
	char buf[CONTROL_MAX_REQUEST];
};

struct control_socket {
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int listen_fd;
	int listen_source, sweep_source; /* reactor sources, -1 = none */
	struct reactor *reactor;
	struct control_ops ops;
	struct control_client *serving; /* whose request ops.run is carrying out */
	unsigned idle_timeout_ms;
	struct control_client clients[CONTROL_MAX_CLIENTS];
};

/* Create, bind and listen on path (before the guest starts: errors are
 * command-line errors). 0, or <0 with one line in err. */
__attribute__((warn_unused_result)) int control_socket_open(struct control_socket *cs, const char *path, char *err,
							    size_t errlen);
/* Serve it on reactor r with ops; idle_timeout_ms 0 = CONTROL_IDLE_TIMEOUT_MS. */
__attribute__((warn_unused_result)) int control_socket_attach(struct control_socket *cs, struct reactor *r,
							      const struct control_ops *ops, unsigned idle_timeout_ms);
/* cmd finished (ret 0, or <0 with one line in err): reply to every client
 * waiting for it and serve what they sent meanwhile. Reactor thread. */
void control_socket_finish(struct control_socket *cs, enum control_command cmd, int ret, const char *err);
/* Disconnect everyone, close the socket and remove its file. Safe on a
 * socket never opened (listen_fd -1) and twice. */
void control_socket_close(struct control_socket *cs);

#endif
