/* virtio console (VIRTIO 1.2 section 5.3): device ID 3.
 *
 * Two ways to have one:
 *   --console virtio    one port (port 0), the guest's hvc0, on this
 *                       terminal: raw mode, Ctrl-A x quits, the terminal
 *                       size (VIRTIO_CONSOLE_F_SIZE) follows SIGWINCH
 *                       through the config space. No MULTIPORT.
 *   --device console,port=NAME:file=PATH,port=NAME:socket=PATH,...
 *                       MULTIPORT: named ports 1..N, each the guest's
 *                       /dev/vportXpN with /sys/class/virtio-ports/vportXpN/name
 *                       = NAME (udev makes /dev/virtio-ports/NAME from it):
 *                       file=   guest output appended to PATH (no input)
 *                       socket= a Unix socket skiff listens on; one client
 *                               at a time, both directions
 *                       fd=     a descriptor skiff inherited (or skiff exec
 *                               made): guest output written to it, and if
 *                               it is a socket, its input read back
 *
 * Queues: port 0 receive/transmit (0, 1), then with MULTIPORT the control
 * receive/transmit queues (2, 3) and port N's pair at 2N + 2, 2N + 3.
 * "Receive" is host-to-guest.
 *
 * The control queue (MULTIPORT): the driver says DEVICE_READY, we announce
 * every port (PORT_ADD); for each PORT_READY we send its name (PORT_NAME)
 * and whether the host side is connected (PORT_OPEN: files always,
 * sockets while a client is connected); the driver's PORT_OPEN tells
 * whether a guest program has the port open.
 *
 * Nothing is lost: guest output is taken from the transmit queue only as
 * fast as the host side accepts it (a socket without a client takes
 * nothing; the guest's writes then block); host input is read only while
 * the guest has receive buffers to put it in, delivered in order, and on
 * a named port held until a guest program has the port open (Linux drops
 * what arrives on a closed port).
 *
 * Threads: the rings are served on the reactor (queue_notify) only as far
 * as the control queue goes; moving data runs on the device's own I/O
 * thread (poll on the host fds and an eventfd the reactor signals), which
 * takes vdev.lock to pop and complete chains.
 */
#ifndef SKIFF_VIRTIO_CONSOLE_H
#define SKIFF_VIRTIO_CONSOLE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <linux/virtio_console.h>

#include "devices/device-types.h"
#include "base/hooks.h"
#include "virtio/virtio-device.h"
#include "base/log.h"
#include "base/terminal.h"

#define VIRTIO_CONSOLE_MAX_PORTS   8    /* port 0 + 7 named ports */
#define VIRTIO_CONSOLE_QUEUE_SIZE  64
#define VIRTIO_CONSOLE_NAME_MAX    63
#define VIRTIO_CONSOLE_BUF         4096 /* bytes in flight per port and direction */
#define VIRTIO_CONSOLE_CTRL_QUEUE  64   /* control messages waiting for the driver */

enum console_port_kind { CONSOLE_PORT_NONE = 0, CONSOLE_PORT_STDIO, CONSOLE_PORT_FILE, CONSOLE_PORT_SOCKET, CONSOLE_PORT_FD };

/* One port= key, parsed. */
struct console_port_spec {
	enum console_port_kind kind;
	char name[VIRTIO_CONSOLE_NAME_MAX + 1];
	char *path;
	int fd;                     /* CONSOLE_PORT_FD */
};

/* --device console keys (and --console virtio), parsed. */
struct virtio_console_config_opts {
	bool stdio;                 /* port 0 is this terminal (--console virtio) */
	unsigned nports;            /* named ports */
	struct console_port_spec *ports[VIRTIO_CONSOLE_MAX_PORTS - 1];
};

/* A host-to-guest control message waiting for a control receive buffer. */
struct console_ctrl_msg {
	struct virtio_console_control c;
	uint8_t extra[VIRTIO_CONSOLE_NAME_MAX + 1]; /* PORT_NAME: the name; RESIZE: cols, rows */
	uint8_t extra_len;
};

struct console_port {
	enum console_port_kind kind; /* NONE: no port with this id */
	char name[VIRTIO_CONSOLE_NAME_MAX + 1];
	int in_fd, out_fd;          /* host side; -1 when absent (a socket without client) */
	int listen_fd;              /* socket ports */
	char *socket_path;          /* unlinked at destroy */
	bool input_eof;             /* stdin closed: no more input */
	/* Guarded by vdev.lock: */
	bool ready, guest_open;
	/* I/O thread only: */
	struct virtio_request tx_req; /* guest output being taken */
	bool tx_held;
	uint64_t tx_off;
	uint8_t out_buf[VIRTIO_CONSOLE_BUF];
	size_t out_len, out_off;
	uint8_t in_buf[VIRTIO_CONSOLE_BUF];
	size_t in_len, in_off;
	bool rx_starved;            /* input waits for the guest to post buffers */
};

struct virtio_console {
	struct virtio_device vdev;  /* hand &vdev to a transport */
	struct virtio_device_ops ops;
	bool multiport;
	unsigned nports;            /* port ids 0..nports-1 */
	struct console_port port[VIRTIO_CONSOLE_MAX_PORTS];
	struct virtio_console_config config;

	/* Guarded by vdev.lock: control messages to the driver. */
	struct console_ctrl_msg ctrl[VIRTIO_CONSOLE_CTRL_QUEUE];
	unsigned ctrl_head, ctrl_count;
	bool size_announced;

	/* The I/O thread. */
	int wake_fd;                /* eventfd: the reactor saw a kick */
	int winch_fd;               /* signalfd for SIGWINCH (stdio port), or -1 */
	pthread_t thread;
	bool thread_started;
	volatile bool stopping;
	struct terminal_escape esc;
	struct stop_hook stop;      /* Ctrl-A x on the stdio port (guarded by vdev.lock) */

	/* Lines the guest can repeat at will, rate-limited. */
	struct log_limit log_ctrl_full, log_driver_failed, log_write_failed;
};

extern const struct device_type virtio_console_type;

/* Build the device `name` with the ports of opts (sockets are bound and
 * listening, files open for appending). 0, or -errno with one line in err. */
int virtio_console_init(struct virtio_console *con, const struct virtio_console_config_opts *opts, const char *name,
			const struct guest_mem *mem, char *err, size_t errlen);
/* Start the I/O thread (after the transport exists). */
int virtio_console_start(struct virtio_console *con);
void virtio_console_destroy(struct virtio_console *con);

/* Queue index of port p's receive (host-to-guest) queue; transmit is +1. */
static inline unsigned virtio_console_rx_queue(unsigned p)
{
	return p == 0 ? 0 : 2 * p + 2;
}

/* Handle the driver's control messages waiting in the control transmit
 * queue and answer into the control receive queue (vdev.lock held).
 * Exposed for the unit tests and the fuzz target. */
void virtio_console_control(struct virtio_console *con);

#endif
