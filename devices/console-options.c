/* virtio-console's --device grammar (its port= keys) and its device-type
 * table entry; the device itself is virtio-console.c. */
#include "devices/virtio-console.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* port=NAME:file=PATH, port=NAME:socket=PATH or port=NAME:fd=N */
static int parse_port(void *config, const char *value, char *err, size_t errlen)
{
	struct virtio_console_config_opts *c = config;
	const char *colon = strchr(value, ':');
	struct console_port_spec s = {0};

	if (c->nports == VIRTIO_CONSOLE_MAX_PORTS - 1) {
		snprintf(err, errlen, "at most %d ports", VIRTIO_CONSOLE_MAX_PORTS - 1);
		return -EINVAL;
	}
	if (!colon || colon == value || (size_t)(colon - value) > VIRTIO_CONSOLE_NAME_MAX) {
		snprintf(err, errlen, "port '%s' must be NAME:file=PATH or NAME:socket=PATH (NAME up to %d bytes)", value,
			 VIRTIO_CONSOLE_NAME_MAX);
		return -EINVAL;
	}
	memcpy(s.name, value, (size_t)(colon - value));
	for (unsigned i = 0; i < c->nports; i++)
		if (strcmp(c->ports[i]->name, s.name) == 0) {
			snprintf(err, errlen, "port name '%s' given twice", s.name);
			return -EINVAL;
		}
	if (strncmp(colon + 1, "file=", 5) == 0 && colon[6]) {
		s.kind = CONSOLE_PORT_FILE;
		s.path = strdup(colon + 6);
	} else if (strncmp(colon + 1, "socket=", 7) == 0 && colon[8]) {
		s.kind = CONSOLE_PORT_SOCKET;
		s.path = strdup(colon + 8);
	} else if (strncmp(colon + 1, "fd=", 3) == 0 && colon[4]) {
		char *end;
		long fd = strtol(colon + 4, &end, 10);
		if (*end || fd < 0 || fd > 65535 || fcntl((int)fd, F_GETFD) < 0) {
			snprintf(err, errlen, "port '%s': fd=%s is not an open descriptor", value, colon + 4);
			return -EINVAL;
		}
		s.kind = CONSOLE_PORT_FD;
		s.fd = (int)fd;
		s.path = strdup(colon + 1); /* kept for messages */
	} else {
		snprintf(err, errlen, "port '%s' must be NAME:file=PATH, NAME:socket=PATH or NAME:fd=N", value);
		return -EINVAL;
	}
	struct console_port_spec *copy = malloc(sizeof(*copy));
	if (!copy || !s.path) {
		free(copy);
		free(s.path);
		return -ENOMEM;
	}
	*copy = s;
	c->ports[c->nports++] = copy;
	return 0;
}

static const struct device_key console_keys[] = {
	{"port", "NAME:file=PATH|NAME:socket=PATH|NAME:fd=N",
	 "a named port (repeatable): guest output appended to PATH, a Unix socket skiff listens on, or descriptor N",
	 parse_port, .repeatable = true},
	{NULL},
};

static void console_free_config(void *config)
{
	struct virtio_console_config_opts *c = config;

	for (unsigned i = 0; i < c->nports; i++) {
		free(c->ports[i]->path);
		free(c->ports[i]);
	}
}

static int console_check(const void *config, char *err, size_t errlen)
{
	const struct virtio_console_config_opts *c = config;

	if (!c->stdio && c->nports == 0) {
		snprintf(err, errlen, "give at least one port=NAME:file=PATH or port=NAME:socket=PATH");
		return -EINVAL;
	}
	return 0;
}

static struct virtio_device *console_create(void *state, const void *config, const char *name,
					  const struct guest_mem *mem, struct reactor *reactor, char *err, size_t errlen)
{
	(void)reactor; /* no fds on the reactor: the device has its own threads */
	struct virtio_console *con = state;

	if (virtio_console_init(con, config, name, mem, err, errlen) < 0)
		return NULL;
	if (virtio_console_start(con) < 0) {
		snprintf(err, errlen, "cannot start the console thread");
		return NULL;
	}
	return &con->vdev;
}

static void console_destroy(void *state)
{
	virtio_console_destroy(state);
}

static void console_set_stop(void *state, struct stop_hook hook)
{
	struct virtio_console *con = state;

	pthread_mutex_lock(&con->vdev.lock);
	con->stop = hook; /* the I/O thread may be reading it */
	pthread_mutex_unlock(&con->vdev.lock);
}

/* --console virtio: port 0 is skiff's terminal (hvc0). */
static void console_terminal(void *config)
{
	struct virtio_console_config_opts *c = config;

	c->stdio = true;
}

const struct device_type virtio_console_type = {
	.name = "console",
	.help = "virtio console with named ports (--console virtio: hvc0 on this terminal)",
	.keys = console_keys,
	.config_size = sizeof(struct virtio_console_config_opts),
	.state_size = sizeof(struct virtio_console),
	.check = console_check,
	.free_config = console_free_config,
	.create = console_create,
	.destroy = console_destroy,
	.set_stop = console_set_stop,
	.terminal = console_terminal,
};
