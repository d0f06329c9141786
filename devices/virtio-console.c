/* virtio-console: ports on host files, sockets and this terminal. See
 * virtio-console.h. */
#include "devices/virtio-console.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <linux/virtio_ids.h>

#include "base/io-thread.h"
#include "base/log.h"

#define CTRL_RX 2 /* control queues (MULTIPORT) */
#define CTRL_TX 3

static void wake(struct virtio_console *con);

/* ---- control messages ---- */

/* Queue a message for the driver (vdev.lock held). The queue is sized for
 * every message a full set of ports needs; a driver that never posts
 * control buffers loses nothing it has not asked for again. */
static void ctrl_queue(struct virtio_console *con, uint32_t id, uint16_t event, uint16_t value, const void *extra,
		       size_t extra_len)
{
	if (con->ctrl_count == VIRTIO_CONSOLE_CTRL_QUEUE) {
		log_limited(&con->log_ctrl_full, LOG_WARN, con->vdev.name,
			    "control queue full: driver not taking control messages");
		return;
	}
	struct console_ctrl_msg *m = &con->ctrl[(con->ctrl_head + con->ctrl_count++) % VIRTIO_CONSOLE_CTRL_QUEUE];
	m->c = (struct virtio_console_control){.id = htole32(id), .event = htole16(event), .value = htole16(value)};
	m->extra_len = (uint8_t)(extra_len < sizeof(m->extra) ? extra_len : sizeof(m->extra));
	if (extra_len)
		memcpy(m->extra, extra, m->extra_len);
}

/* Move queued control messages into the driver's control receive buffers
 * (vdev.lock held). A message that does not fit a buffer is dropped with
 * a warning: Linux posts page-sized ones. */
static void ctrl_flush(struct virtio_console *con)
{
	struct virtio_device *dev = &con->vdev;
	struct virtio_request req;

	while (con->ctrl_count && virtio_device_queue_live(dev, CTRL_RX) && virtio_request_pop(dev, CTRL_RX, &req) == 1) {
		struct console_ctrl_msg *m = &con->ctrl[con->ctrl_head];
		size_t len = sizeof(m->c) + m->extra_len;
		uint8_t buf[sizeof(m->c) + sizeof(m->extra)];
		uint32_t written = 0;

		memcpy(buf, &m->c, sizeof(m->c));
		memcpy(buf + sizeof(m->c), m->extra, m->extra_len);
		if (virtio_request_writable(&req) >= len)
			written = (uint32_t)virtio_request_write(&req, 0, buf, len);
		else
			log_debug(dev->name, "control buffer of %llu bytes too small",
				  (unsigned long long)virtio_request_writable(&req));
		virtio_request_complete_locked(&req, written);
		con->ctrl_head = (con->ctrl_head + 1) % VIRTIO_CONSOLE_CTRL_QUEUE;
		con->ctrl_count--;
	}
}

static bool port_host_open(const struct console_port *p)
{
	return p->out_fd >= 0;
}

/* The driver set up port id: tell it what the port is. */
static void port_announce(struct virtio_console *con, unsigned id)
{
	struct console_port *p = &con->port[id];

	if (p->kind == CONSOLE_PORT_STDIO)
		ctrl_queue(con, id, VIRTIO_CONSOLE_CONSOLE_PORT, 1, NULL, 0);
	if (p->name[0])
		ctrl_queue(con, id, VIRTIO_CONSOLE_PORT_NAME, 0, p->name, strlen(p->name));
	if (port_host_open(p))
		ctrl_queue(con, id, VIRTIO_CONSOLE_PORT_OPEN, 1, NULL, 0);
}

/* One message from the driver. Ids and events come from the guest: each
 * is checked before it indexes anything. */
static void ctrl_handle(struct virtio_console *con, const struct virtio_console_control *c)
{
	uint32_t id = le32toh(c->id);
	uint16_t event = le16toh(c->event), value = le16toh(c->value);
	bool known = id < con->nports && con->port[id].kind != CONSOLE_PORT_NONE;

	switch (event) {
	case VIRTIO_CONSOLE_DEVICE_READY:
		if (value != 1) {
			log_limited(&con->log_driver_failed, LOG_WARN, con->vdev.name, "driver failed to initialize");
			return;
		}
		for (unsigned i = 0; i < con->nports; i++)
			if (con->port[i].kind != CONSOLE_PORT_NONE)
				ctrl_queue(con, i, VIRTIO_CONSOLE_PORT_ADD, 0, NULL, 0);
		return;
	case VIRTIO_CONSOLE_PORT_READY:
		if (!known)
			break;
		con->port[id].ready = value == 1;
		if (value == 1)
			port_announce(con, id);
		return;
	case VIRTIO_CONSOLE_PORT_OPEN:
		if (!known)
			break;
		con->port[id].guest_open = value != 0;
		if (value)
			wake(con); /* input held for this port may go now */
		return;
	default:
		break;
	}
	log_debug(con->vdev.name, "control message %u for port %u ignored", event, id);
}

void virtio_console_control(struct virtio_console *con)
{
	struct virtio_device *dev = &con->vdev;
	struct virtio_request req;

	while (virtio_request_pop(dev, CTRL_TX, &req) == 1) {
		struct virtio_console_control c;
		if (virtio_request_read(&req, 0, &c, sizeof(c)) == sizeof(c))
			ctrl_handle(con, &c);
		else
			log_debug(dev->name, "short control message (%llu bytes)",
				  (unsigned long long)virtio_request_readable(&req));
		virtio_request_complete_locked(&req, 0);
	}
	ctrl_flush(con);
}

/* ---- the terminal size ---- */

static void read_winsize(struct virtio_console *con)
{
	struct winsize ws;

	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col && ws.ws_row) {
		con->config.cols = htole16(ws.ws_col);
		con->config.rows = htole16(ws.ws_row);
	}
}

/* SIGWINCH, or the console's first output (its tty exists by then): tell
 * the driver the size through the config space (vdev.lock held). */
static void announce_size(struct virtio_console *con)
{
	read_winsize(con);
	con->size_announced = true;
	if (con->vdev.status & VIRTIO_CONFIG_S_DRIVER_OK)
		virtio_device_notify_config(&con->vdev);
}

/* ---- moving data (the I/O thread) ---- */

static void wake(struct virtio_console *con)
{
	uint64_t one = 1;
	(void)!write(con->wake_fd, &one, sizeof(one));
}

/* Guest output: fill port p's out_buf from its transmit queue, a chain at
 * a time, completing a chain once all of it is in the buffer. Only while
 * the host side is there and the buffer is empty: back-pressure. */
static void take_output(struct virtio_console *con, unsigned id)
{
	struct console_port *p = &con->port[id];
	struct virtio_device *dev = &con->vdev;
	unsigned q = virtio_console_rx_queue(id) + 1;

	if (p->out_len || !port_host_open(p))
		return;
	pthread_mutex_lock(&dev->lock);
	if (!p->tx_held && virtio_device_queue_live(dev, q) && virtio_request_pop(dev, q, &p->tx_req) == 1) {
		p->tx_held = true;
		p->tx_off = 0;
		if (p->kind == CONSOLE_PORT_STDIO && !con->size_announced && !con->multiport)
			announce_size(con);
	}
	if (p->tx_held) {
		size_t n = virtio_request_read(&p->tx_req, p->tx_off, p->out_buf, sizeof(p->out_buf));
		p->out_len = n;
		p->out_off = 0;
		p->tx_off += n;
		if (p->tx_off >= virtio_request_readable(&p->tx_req) || n == 0) {
			virtio_request_complete_locked(&p->tx_req, 0);
			p->tx_held = false;
		}
	}
	pthread_mutex_unlock(&dev->lock);
}

/* The host side of a socket port went away: no more output is taken until
 * the next client; the driver hears PORT_OPEN 0. */
static void client_gone(struct virtio_console *con, unsigned id)
{
	struct console_port *p = &con->port[id];

	close(p->in_fd);
	p->in_fd = p->out_fd = -1;
	p->in_len = p->in_off = 0;
	p->out_len = p->out_off = 0; /* the client is gone: nobody to read it */
	pthread_mutex_lock(&con->vdev.lock);
	if (p->ready)
		ctrl_queue(con, id, VIRTIO_CONSOLE_PORT_OPEN, 0, NULL, 0);
	ctrl_flush(con);
	pthread_mutex_unlock(&con->vdev.lock);
}

/* Write out_buf to the host. Sockets are non-blocking (POLLOUT brings us
 * back); the terminal and files may block this thread, which only delays. */
static void push_output(struct virtio_console *con, unsigned id)
{
	struct console_port *p = &con->port[id];

	while (p->out_len) {
		ssize_t n = write(p->out_fd, p->out_buf + p->out_off, p->out_len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			if (p->kind == CONSOLE_PORT_SOCKET) {
				client_gone(con, id);
			} else {
				log_limited(&con->log_write_failed, LOG_WARN, con->vdev.name,
					    "port %u: cannot write: %s; output dropped", id, strerror(errno));
				p->out_len = 0;
			}
			return;
		}
		p->out_off += (size_t)n;
		p->out_len -= (size_t)n;
	}
}

/* Host input: deliver in_buf into the guest's receive buffers, in order.
 * Whatever does not fit waits for the guest to post more. */
static void deliver_input(struct virtio_console *con, unsigned id)
{
	struct console_port *p = &con->port[id];
	struct virtio_device *dev = &con->vdev;
	unsigned q = virtio_console_rx_queue(id);
	struct virtio_request req;

	if (!p->in_len)
		return;
	pthread_mutex_lock(&dev->lock);
	/* Linux throws away what arrives on a port no guest program has
	 * open: hold it until one opens the port (PORT_OPEN wakes us). */
	bool closed = con->multiport && !p->guest_open;
	while (!closed && p->in_len && virtio_device_queue_live(dev, q) && virtio_request_pop(dev, q, &req) == 1) {
		size_t n = virtio_request_write(&req, 0, p->in_buf + p->in_off, p->in_len);
		virtio_request_complete_locked(&req, (uint32_t)n);
		p->in_off += n;
		p->in_len -= n;
		if (n == 0)
			break; /* a receive chain without writable bytes */
	}
	p->rx_starved = p->in_len != 0;
	if (!p->in_len)
		p->in_off = 0;
	pthread_mutex_unlock(&dev->lock);
}

static void read_input(struct virtio_console *con, unsigned id)
{
	struct console_port *p = &con->port[id];
	unsigned char raw[VIRTIO_CONSOLE_BUF - 1];
	ssize_t n = read(p->in_fd, raw, sizeof(raw));

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		if (p->kind == CONSOLE_PORT_SOCKET)
			client_gone(con, id);
		else
			p->input_eof = true;
		return;
	}
	if (p->kind == CONSOLE_PORT_STDIO && isatty(p->in_fd)) {
		bool quit = false;
		p->in_len = terminal_filter_input(&con->esc, raw, (unsigned)n, p->in_buf, &quit);
		if (quit) {
			pthread_mutex_lock(&con->vdev.lock);
			struct stop_hook stop = con->stop;
			pthread_mutex_unlock(&con->vdev.lock);
			stop_hook_fire(&stop, STOP_SIGNAL, 0);
		}
	} else {
		memcpy(p->in_buf, raw, (size_t)n);
		p->in_len = (size_t)n;
	}
	p->in_off = 0;
	deliver_input(con, id);
}

static void accept_client(struct virtio_console *con, unsigned id)
{
	struct console_port *p = &con->port[id];
	int fd = accept4(p->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (fd < 0)
		return;
	p->in_fd = p->out_fd = fd;
	pthread_mutex_lock(&con->vdev.lock);
	if (p->ready)
		ctrl_queue(con, id, VIRTIO_CONSOLE_PORT_OPEN, 1, NULL, 0);
	ctrl_flush(con);
	pthread_mutex_unlock(&con->vdev.lock);
}

/* Poll entries: what each port waits for now. */
static unsigned build_poll(struct virtio_console *con, struct pollfd *fds, unsigned *owner)
{
	unsigned n = 0;

	fds[n] = (struct pollfd){.fd = con->wake_fd, .events = POLLIN};
	owner[n++] = ~0u;
	if (con->winch_fd >= 0) {
		fds[n] = (struct pollfd){.fd = con->winch_fd, .events = POLLIN};
		owner[n++] = ~0u;
	}
	for (unsigned i = 0; i < con->nports; i++) {
		struct console_port *p = &con->port[i];
		short ev = 0;
		if (p->kind == CONSOLE_PORT_SOCKET && p->in_fd < 0) {
			fds[n] = (struct pollfd){.fd = p->listen_fd, .events = POLLIN};
			owner[n++] = i;
			continue;
		}
		if (p->in_fd >= 0 && !p->input_eof && !p->in_len)
			ev |= POLLIN;
		if (p->out_len && p->kind == CONSOLE_PORT_SOCKET)
			ev |= POLLOUT;
		if (ev && p->in_fd >= 0) {
			fds[n] = (struct pollfd){.fd = p->in_fd, .events = ev};
			owner[n++] = i;
		}
	}
	return n;
}

static void *console_thread(void *arg)
{
	struct virtio_console *con = arg;
	struct pollfd fds[2 + VIRTIO_CONSOLE_MAX_PORTS];
	unsigned owner[2 + VIRTIO_CONSOLE_MAX_PORTS];

	thread_role_enter(THREAD_ROLE_CONSOLE_IO);
	while (!con->stopping) {
		/* Move what can move without waiting. */
		for (unsigned i = 0; i < con->nports; i++) {
			if (con->port[i].kind == CONSOLE_PORT_NONE)
				continue;
			for (int round = 0; round < 64; round++) {
				take_output(con, i);
				if (!con->port[i].out_len)
					break;
				push_output(con, i);
				if (con->port[i].out_len)
					break; /* the socket is full: wait for POLLOUT */
			}
			deliver_input(con, i);
		}
		unsigned n = build_poll(con, fds, owner);
		if (poll(fds, n, -1) < 0 && errno != EINTR)
			break;
		for (unsigned k = 0; k < n; k++) {
			if (!fds[k].revents)
				continue;
			if (fds[k].fd == con->wake_fd) {
				uint64_t v;
				(void)!read(con->wake_fd, &v, sizeof(v));
			} else if (fds[k].fd == con->winch_fd) {
				struct signalfd_siginfo si;
				(void)!read(con->winch_fd, &si, sizeof(si));
				pthread_mutex_lock(&con->vdev.lock);
				announce_size(con);
				pthread_mutex_unlock(&con->vdev.lock);
			} else if (owner[k] < con->nports) {
				unsigned id = owner[k];
				struct console_port *p = &con->port[id];
				if (fds[k].fd == p->listen_fd)
					accept_client(con, id);
				else if (fds[k].revents & (POLLIN | POLLHUP | POLLERR))
					read_input(con, id);
				if (p->out_len && p->out_fd >= 0 && (fds[k].revents & POLLOUT))
					push_output(con, id);
			}
		}
	}
	return NULL;
}

/* ---- the device model ---- */

static bool console_queue_notify(struct virtio_device *dev, unsigned q, unsigned budget)
{
	struct virtio_console *con = dev->priv;

	if (con->multiport && q == CTRL_TX)
		virtio_console_control(con);
	else if (con->multiport && q == CTRL_RX)
		ctrl_flush(con);
	else
		wake(con); /* data queues: the I/O thread moves the bytes */
	return false;
}

static uint64_t console_features(struct virtio_device *dev)
{
	struct virtio_console *con = dev->priv;
	return con->multiport ? VIRTIO_FEATURE(VIRTIO_CONSOLE_F_MULTIPORT) : VIRTIO_FEATURE(VIRTIO_CONSOLE_F_SIZE);
}

static void console_config_read(struct virtio_device *dev, size_t offset, void *data, size_t len)
{
	struct virtio_console *con = dev->priv;
	memcpy(data, (const uint8_t *)&con->config + offset, len);
}

/* The driver is gone: forget what it knew; held output chains are void. */
static void console_reset(struct virtio_device *dev)
{
	struct virtio_console *con = dev->priv;

	con->ctrl_count = 0;
	con->size_announced = false;
	for (unsigned i = 0; i < con->nports; i++) {
		struct console_port *p = &con->port[i];
		p->ready = p->guest_open = false;
		if (p->tx_held) {
			virtio_request_complete_locked(&p->tx_req, 0); /* dropped: a reset voids it */
			p->tx_held = false;
		}
	}
	wake(con);
}

static const struct virtio_device_ops console_ops_template = {
	.type = "console",
	.device_id = VIRTIO_ID_CONSOLE,
	.queue_max_size = VIRTIO_CONSOLE_QUEUE_SIZE,
	.config_size = sizeof(struct virtio_console_config),
	.features = console_features,
	.config_read = console_config_read,
	.queue_notify = console_queue_notify,
	.reset = console_reset,
};

/* ---- building ---- */

/* A socket file left by an earlier skiff (one killed before its clean-up):
 * nobody answers on it, so replace it. One somebody
 * listens on is in use: -EADDRINUSE. Anything else is left to bind(). */
static int remove_stale_socket(const struct sockaddr_un *sa)
{
	struct stat st;

	if (stat(sa->sun_path, &st) < 0 || !S_ISSOCK(st.st_mode))
		return 0;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 0;
	int ret = connect(fd, (const struct sockaddr *)sa, sizeof(*sa));
	close(fd);
	if (ret == 0)
		return -EADDRINUSE;
	if (errno == ECONNREFUSED)
		unlink(sa->sun_path);
	return 0;
}

static int open_port(struct console_port *p, const struct console_port_spec *spec, char *err, size_t errlen)
{
	p->in_fd = p->out_fd = p->listen_fd = -1;
	p->kind = spec->kind;
	snprintf(p->name, sizeof(p->name), "%s", spec->name);
	switch (spec->kind) {
	case CONSOLE_PORT_FILE:
		p->out_fd = open(spec->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
		if (p->out_fd < 0) {
			err_printf(err, errlen, "port %s: cannot open %s: %s", spec->name, spec->path, strerror(errno));
			return -errno;
		}
		return 0;
	case CONSOLE_PORT_SOCKET: {
		struct sockaddr_un sa = {.sun_family = AF_UNIX};
		if (strlen(spec->path) >= sizeof(sa.sun_path)) {
			err_printf(err, errlen, "port %s: socket path %s is too long", spec->name, spec->path);
			return -ENAMETOOLONG;
		}
		strcpy(sa.sun_path, spec->path);
		if (remove_stale_socket(&sa) < 0) {
			err_printf(err, errlen, "port %s: %s is in use (another process listens on it)", spec->name,
				   spec->path);
			return -EADDRINUSE;
		}
		p->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (p->listen_fd < 0 || bind(p->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
		    listen(p->listen_fd, 1) < 0) {
			err_printf(err, errlen, "port %s: cannot listen on %s: %s", spec->name, spec->path, strerror(errno));
			return -errno;
		}
		p->socket_path = strdup(spec->path);
		return 0;
	}
	case CONSOLE_PORT_FD: {
		/* Our own copy, so destroy closes it and never the caller's fd 1. */
		p->out_fd = fcntl(spec->fd, F_DUPFD_CLOEXEC, 3);
		if (p->out_fd < 0) {
			err_printf(err, errlen, "port %s: fd %d: %s", spec->name, spec->fd, strerror(errno));
			return -errno;
		}
		struct stat st;
		if (fstat(p->out_fd, &st) == 0 && S_ISSOCK(st.st_mode))
			p->in_fd = p->out_fd;
		return 0;
	}
	case CONSOLE_PORT_STDIO:
		p->in_fd = STDIN_FILENO;
		p->out_fd = STDOUT_FILENO;
		return 0;
	default:
		return -EINVAL;
	}
}

int virtio_console_init(struct virtio_console *con, const struct virtio_console_config_opts *opts, const char *name,
			const struct guest_mem *mem, char *err, size_t errlen)
{
	int ret;

	memset(con, 0, sizeof(*con));
	con->wake_fd = con->winch_fd = -1;
	for (unsigned i = 0; i < VIRTIO_CONSOLE_MAX_PORTS; i++)
		con->port[i].in_fd = con->port[i].out_fd = con->port[i].listen_fd = -1;
	con->multiport = opts->nports > 0;
	con->nports = opts->nports + 1; /* port 0, then the named ones */
	if (opts->stdio) {
		struct console_port_spec s = {.kind = CONSOLE_PORT_STDIO};
		open_port(&con->port[0], &s, err, errlen);
	}
	for (unsigned i = 0; i < opts->nports; i++)
		if ((ret = open_port(&con->port[i + 1], opts->ports[i], err, errlen)) < 0)
			return ret;
	con->ops = console_ops_template;
	con->ops.nr_queues = con->multiport ? 2 * con->nports + 2 : 2;
	con->config.max_nr_ports = htole32(con->nports);
	if (opts->stdio)
		read_winsize(con);
	con->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (con->wake_fd < 0) {
		err_printf(err, errlen, "cannot create an eventfd: %s", strerror(errno));
		return -errno;
	}
	if (opts->stdio && isatty(STDOUT_FILENO)) {
		/* SIGWINCH reaches this device's thread only: every thread
		 * created from here on inherits the blocked mask. */
		sigset_t winch;
		sigemptyset(&winch);
		sigaddset(&winch, SIGWINCH);
		pthread_sigmask(SIG_BLOCK, &winch, NULL);
		con->winch_fd = signalfd(-1, &winch, SFD_CLOEXEC | SFD_NONBLOCK);
	}
	virtio_device_init(&con->vdev, &con->ops, con, name, mem);
	return 0;
}

int virtio_console_start(struct virtio_console *con)
{
	int ret = io_thread_create(&con->thread, console_thread, con);

	con->thread_started = ret == 0;
	return -ret;
}

void virtio_console_destroy(struct virtio_console *con)
{
	if (con->thread_started) {
		/* The transport is gone already: the thread must not interrupt through it. */
		pthread_mutex_lock(&con->vdev.lock);
		con->vdev.transport = NULL;
		pthread_mutex_unlock(&con->vdev.lock);
		con->stopping = true;
		wake(con);
		pthread_join(con->thread, NULL);
	}
	for (unsigned i = 0; i < VIRTIO_CONSOLE_MAX_PORTS; i++) {
		struct console_port *p = &con->port[i];
		if (p->kind == CONSOLE_PORT_STDIO)
			continue;
		if (p->in_fd >= 0)
			close(p->in_fd);
		else if (p->out_fd >= 0)
			close(p->out_fd);
		if (p->listen_fd >= 0)
			close(p->listen_fd);
		if (p->socket_path)
			unlink(p->socket_path);
		free(p->socket_path);
		p->socket_path = NULL;
	}
	if (con->wake_fd >= 0)
		close(con->wake_fd);
	if (con->winch_fd >= 0)
		close(con->winch_fd);
}
