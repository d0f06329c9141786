/* --device net,...: the keys, their checks, and building the NIC on its
 * backend (the device-type table entry). See virtio-net.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devices/virtio-net.h"

bool virtio_net_parse_mac(const char *s, uint8_t mac[6])
{
	for (int i = 0; i < 6; i++) {
		char *end;
		unsigned long v;

		if (!((s[0] >= '0' && s[0] <= '9') || (s[0] >= 'a' && s[0] <= 'f') || (s[0] >= 'A' && s[0] <= 'F')))
			return false;
		v = strtoul(s, &end, 16);
		if (end - s != 2 || v > 0xff || *end != (i == 5 ? '\0' : ':'))
			return false;
		mac[i] = (uint8_t)v;
		s = end + (i < 5);
	}
	return true;
}

static int parse_backend(void *config, const char *value, char *err, size_t errlen)
{
	struct virtio_net_options *c = config;

	if (strcmp(value, "tap") == 0)
		c->backend.kind = NET_BACKEND_TAP;
	else if (strcmp(value, "user") == 0)
		c->backend.kind = NET_BACKEND_USER;
	else {
		snprintf(err, errlen, "backend '%s' must be tap or user", value);
		return -EINVAL;
	}
	return 0;
}

static int parse_ifname(void *config, const char *value, char *err, size_t errlen)
{
	struct virtio_net_options *c = config;

	if (!*value || strlen(value) >= sizeof(c->backend.ifname) || strchr(value, '/') || strchr(value, ' ')) {
		snprintf(err, errlen, "ifname '%s' is not an interface name (1-15 characters, no '/' or space)", value);
		return -EINVAL;
	}
	snprintf(c->backend.ifname, sizeof(c->backend.ifname), "%s", value);
	return 0;
}

static int parse_fd(void *config, const char *value, char *err, size_t errlen)
{
	struct virtio_net_options *c = config;
	char copy[128], *save = NULL;

	snprintf(copy, sizeof(copy), "%s", value);
	c->backend.nr_fds = 0;
	for (char *tok = strtok_r(copy, ":", &save); tok; tok = strtok_r(NULL, ":", &save)) {
		uint64_t fd;

		if (strcmp(tok, "0") == 0)
			fd = 0;
		else if (!device_parse_positive(tok, &fd) || fd > 65535)
			goto bad;
		if (c->backend.nr_fds == NET_MAX_QUEUE_PAIRS)
			goto bad;
		c->backend.fds[c->backend.nr_fds++] = (int)fd;
	}
	if (c->backend.nr_fds)
		return 0;
bad:
	snprintf(err, errlen, "fd '%s' must be one open TAP file descriptor per queue pair: N or N:N... (at most %d)",
		 value, NET_MAX_QUEUE_PAIRS);
	return -EINVAL;
}

static int parse_mac(void *config, const char *value, char *err, size_t errlen)
{
	struct virtio_net_options *c = config;
	static const uint8_t zero[6];

	if (!virtio_net_parse_mac(value, c->mac)) {
		snprintf(err, errlen, "mac '%s' is not a MAC address like 52:54:00:12:34:56", value);
		return -EINVAL;
	}
	if ((c->mac[0] & 1) || memcmp(c->mac, zero, 6) == 0) {
		snprintf(err, errlen, "mac '%s' is %s, not a unicast address", value,
			 c->mac[0] & 1 ? "a multicast address" : "all zeros");
		return -EINVAL;
	}
	c->has_mac = true;
	return 0;
}

static int parse_mtu(void *config, const char *value, char *err, size_t errlen)
{
	struct virtio_net_options *c = config;
	uint64_t mtu;

	if (!device_parse_positive(value, &mtu) || mtu < 68 || mtu > 65535) {
		snprintf(err, errlen, "mtu '%s' must be a number from 68 to 65535", value);
		return -EINVAL;
	}
	c->mtu = (uint16_t)mtu;
	return 0;
}

static int parse_queues(void *config, const char *value, char *err, size_t errlen)
{
	struct virtio_net_options *c = config;
	uint64_t n;

	if (!device_parse_positive(value, &n) || n > NET_MAX_QUEUE_PAIRS) {
		snprintf(err, errlen, "queues '%s' must be a number of queue pairs from 1 to %d", value,
			 NET_MAX_QUEUE_PAIRS);
		return -EINVAL;
	}
	c->queues = (unsigned)n;
	return 0;
}

static int parse_link(void *config, const char *value, char *err, size_t errlen)
{
	struct virtio_net_options *c = config;

	if (strcmp(value, "up") != 0 && strcmp(value, "down") != 0) {
		snprintf(err, errlen, "link '%s' must be up or down", value);
		return -EINVAL;
	}
	c->link_down = value[0] == 'd';
	return 0;
}

/* "" -> 0 (any), else a dotted IPv4 address in network byte order. */
static bool parse_addr(const char *s, size_t len, uint32_t *addr)
{
	char buf[INET_ADDRSTRLEN];
	struct in_addr a;

	if (len == 0) {
		*addr = 0;
		return true;
	}
	if (len >= sizeof(buf))
		return false;
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (inet_pton(AF_INET, buf, &a) != 1)
		return false;
	*addr = a.s_addr;
	return true;
}

/* A port 1-65535; 0 too where allow_zero (a host port: pick a free one). */
static bool parse_port(const char *s, size_t len, bool allow_zero, uint16_t *port)
{
	char buf[8];
	uint64_t v;

	if (len == 0 || len >= sizeof(buf))
		return false;
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (allow_zero && strcmp(buf, "0") == 0) {
		*port = 0;
		return true;
	}
	if (!device_parse_positive(buf, &v) || v > 65535)
		return false;
	*port = (uint16_t)v;
	return true;
}

/* hostfwd=tcp|udp:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT; HOSTPORT 0:
 * the kernel picks a free port, which net-user.c prints. */
static int parse_hostfwd(void *config, const char *value, char *err, size_t errlen)
{
	struct virtio_net_options *c = config;
	struct net_hostfwd h = { 0 };
	const char *p = value, *colon, *dash;

	if (c->backend.nr_hostfwd == NET_MAX_HOSTFWD) {
		snprintf(err, errlen, "at most %d hostfwd rules", NET_MAX_HOSTFWD);
		return -EINVAL;
	}
	if (strncmp(p, "tcp:", 4) == 0)
		h.udp = 0;
	else if (strncmp(p, "udp:", 4) == 0)
		h.udp = 1;
	else
		goto bad;
	p += 4;
	if (!(colon = strchr(p, ':')) || !parse_addr(p, (size_t)(colon - p), &h.host_addr))
		goto bad;
	p = colon + 1;
	if (!(dash = strchr(p, '-')) || !parse_port(p, (size_t)(dash - p), true, &h.host_port))
		goto bad;
	p = dash + 1;
	if (!(colon = strchr(p, ':')) || !parse_addr(p, (size_t)(colon - p), &h.guest_addr))
		goto bad;
	p = colon + 1;
	if (!parse_port(p, strlen(p), false, &h.guest_port))
		goto bad;
	c->backend.hostfwd[c->backend.nr_hostfwd++] = h;
	return 0;
bad:
	snprintf(err, errlen, "hostfwd '%s' must look like tcp:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT (or udp:...)",
		 value);
	return -EINVAL;
}

/* net=ADDR/PREFIX for backend=user, e.g. 10.0.2.0/24. */
static int parse_net(void *config, const char *value, char *err, size_t errlen)
{
	struct virtio_net_options *c = config;
	const char *slash = strchr(value, '/');
	uint64_t prefix;

	if (!slash || !parse_addr(value, (size_t)(slash - value), &c->backend.net_addr) || !c->backend.net_addr ||
	    !device_parse_positive(slash + 1, &prefix) || prefix < 8 || prefix > 28) {
		snprintf(err, errlen, "net '%s' must be an IPv4 network like 10.0.2.0/24 (prefix 8 to 28)", value);
		return -EINVAL;
	}
	c->backend.net_prefix = (uint32_t)prefix;
	return 0;
}

static const struct device_key net_keys[] = {
	{ "backend", "tap|user", "where frames go: a host TAP device, or user-mode networking (no root)", parse_backend },
	{ "ifname", "NAME", "tap: open (or create) this TAP device", parse_ifname },
	{ "fd", "N[:N...]", "tap: an open TAP fd from the parent, one per queue pair", parse_fd },
	{ "mac", "XX:XX:XX:XX:XX:XX", "MAC address (default: generated, stable per instance)", parse_mac },
	{ "mtu", "BYTES", "MTU the guest should use (the MTU feature)", parse_mtu },
	{ "queues", "N", "queue pairs (multi-queue; tap: a multi_queue TAP), default 1", parse_queues },
	{ "link", "up|down", "link status the guest sees (default up)", parse_link },
	{ "hostfwd", "tcp|udp:[HADDR]:HPORT-[GADDR]:GPORT", "user: forward a host port into the guest (may repeat; HPORT 0 picks a free port, printed on stderr)",
	  parse_hostfwd, true },
	{ "net", "ADDR/PREFIX", "user: the guest network (default 10.0.2.0/24: host .2, DNS .3, guest .15)",
	  parse_net },
	{ NULL },
};

/* Cross-key rules, checked before anything is opened. */
static int check_config(const struct virtio_net_options *c, char *err, size_t errlen)
{
	const struct net_backend_config *b = &c->backend;
	unsigned pairs = c->queues ? c->queues : 1;

	switch (b->kind) {
	case NET_BACKEND_NONE:
		snprintf(err, errlen, "backend= is required: backend=tap,ifname=NAME or backend=user");
		return -EINVAL;
	case NET_BACKEND_TAP:
		if (!b->ifname[0] == !b->nr_fds) {
			snprintf(err, errlen, "backend=tap needs exactly one of ifname= and fd=");
			return -EINVAL;
		}
		if (b->nr_hostfwd || b->net_prefix) {
			snprintf(err, errlen, "hostfwd= and net= are for backend=user");
			return -EINVAL;
		}
		if (b->nr_fds && b->nr_fds != pairs) {
			snprintf(err, errlen, "fd= lists %u fds but queues=%u: one TAP fd per queue pair", b->nr_fds, pairs);
			return -EINVAL;
		}
		return 0;
	case NET_BACKEND_USER:
		if (b->ifname[0] || b->nr_fds) {
			snprintf(err, errlen, "ifname= and fd= are for backend=tap");
			return -EINVAL;
		}
		return 0;
	}
	return -EINVAL;
}

/* A locally administered address that stays the same for the same
 * instance and backend: guests keep their DHCP lease across boots. */
static void generate_mac(const struct virtio_net_options *c, const char *name, uint8_t mac[6])
{
	uint32_t h = 2166136261u; /* FNV-1a */

	for (const char *s = name; *s; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	for (const char *s = c->backend.ifname; *s; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	mac[0] = 0x52; /* locally administered, unicast */
	mac[1] = 0x54;
	mac[2] = (uint8_t)(h >> 24);
	mac[3] = (uint8_t)(h >> 16);
	mac[4] = (uint8_t)(h >> 8);
	mac[5] = (uint8_t)h;
}

static struct virtio_device *net_create(void *state, const void *config, const char *name,
					const struct guest_mem *mem, struct reactor *reactor, char *err, size_t errlen)
{
	struct virtio_net_options c = *(const struct virtio_net_options *)config;
	unsigned pairs = c.queues ? c.queues : 1;
	struct virtio_net *net = state;
	struct net_backend *be;

	if (check_config(&c, err, errlen) < 0)
		return NULL;
	if (!c.has_mac)
		generate_mac(&c, name, c.mac);
	be = c.backend.kind == NET_BACKEND_TAP ? net_tap_open(&c.backend, pairs, name, err, errlen) :
						 net_user_open(&c.backend, pairs, name, err, errlen);
	if (!be)
		return NULL;
	if (virtio_net_init(net, name, mem, &c, be, reactor) < 0) {
		snprintf(err, errlen, "%s: cannot set up its queues", name);
		return NULL;
	}
	return &net->vdev;
}

static int net_start(void *state)
{
	struct virtio_net *net = state;

	return net->be->ops->start ? net->be->ops->start(net->be) : 0;
}

static void net_destroy(void *state)
{
	virtio_net_destroy(state);
}

/* libslirp opens and uses sockets of its own, and looks at
 * /etc/resolv.conf for DNS forwarding. */
static const char *const *net_syscalls(const void *config)
{
	static const char *const user[] = {
		"socket", "connect", "bind", "listen", "accept", "accept4", "setsockopt", "getsockopt",
		"getsockname", "getpeername", "sendto", "recvfrom", "sendmsg", "recvmsg", "shutdown",
		"fcntl", "stat", "statx", NULL,
	};
	const struct virtio_net_options *c = config;

	return c->backend.kind == NET_BACKEND_USER ? user : NULL;
}

static const char *const *net_reads(const void *config)
{
	static const char *const user[] = {"/etc/resolv.conf", NULL};
	const struct virtio_net_options *c = config;

	return c->backend.kind == NET_BACKEND_USER ? user : NULL;
}

const struct device_type virtio_net_type = {
	.name = "net",
	.help = "virtio network card on a TAP device or user-mode networking (libslirp)",
	.keys = net_keys,
	.config_size = sizeof(struct virtio_net_options),
	.state_size = sizeof(struct virtio_net),
	.create = net_create,
	.start = net_start,
	.destroy = net_destroy,
	.syscalls = net_syscalls,
	.reads = net_reads,
};

_Static_assert(sizeof(struct virtio_net_options) <= DEVICE_CONFIG_MAX, "--device net keys must fit the parsed config");
