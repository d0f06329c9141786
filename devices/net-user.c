/* backend=user: user-mode networking through libslirp, for people without
 * root. The guest sees a private network (10.0.2.0/24 unless net=): the
 * host at .2 (connections to it reach the host's loopback), DNS at .3,
 * DHCP handing out .15. Outbound TCP and UDP become ordinary sockets of
 * this process; hostfwd rules listen on the host and connect into the
 * guest.
 *
 * libslirp is not thread-safe and wants a poll loop. This backend runs
 * that loop on a thread of its own ("slirp"), with one lock around every
 * slirp call; the device's tx path (reactor thread) calls slirp_input()
 * under the same lock. Frames slirp emits for the guest wait in a bounded
 * queue; an eventfd stays readable while it is non-empty, which is what
 * the device watches on the reactor. While the queue is long the loop
 * stops reading slirp's sockets, so a slow guest slows the peers down
 * (TCP windows) instead of losing frames. Lock order: the device's lock,
 * then this one; this backend never takes the device's lock.
 */
#include "devices/net-backend.h"
#include "base/monotonic.h"
#include "base/io-thread.h"
#include "base/thread-role.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <netinet/in.h>

#include "base/log.h"
#include "devices/slirp-lib.h"

#define USER_QUEUE_MAX  1024 /* frames waiting for the guest; beyond: dropped */
#define USER_QUEUE_SLOW 64   /* from here on, slirp's sockets are not read */
#define USER_MAX_POLL   1024
#define USER_MAX_TIMERS 16

struct user_timer {
	bool in_use, armed;
	int64_t expire_ms;
	SlirpTimerCb cb;
	void *cb_opaque;
};

struct net_user {
	struct net_backend be;
	char name[32];
	const struct slirp_lib *lib; /* libslirp, loaded on first use */
	Slirp *slirp;
	pthread_mutex_t lock;       /* slirp, the queue, the timers, the poll set */
	pthread_t thread;
	bool started, stopping;
	int wake_fd;                /* eventfd: look at the poll set again */
	int rx_fd;                  /* eventfd: readable while queue is non-empty */

	/* Frames for the guest, header first. */
	struct user_frame {
		size_t len;
		uint8_t *data;
	} queue[USER_QUEUE_MAX];
	unsigned head, count;
	uint64_t dropped;

	struct user_timer timers[USER_MAX_TIMERS];
	struct pollfd pfd[USER_MAX_POLL];
	unsigned npfd;
	struct log_limit log_timers; /* the guest's traffic drives slirp */
};

#define USER(be) ((struct net_user *)(be))

static void eventfd_signal(int fd)
{
	uint64_t one = 1;

	(void)!write(fd, &one, sizeof(one));
}

static void eventfd_clear(int fd)
{
	uint64_t count;

	(void)!read(fd, &count, sizeof(count));
}

/* ---- slirp's callbacks (called with u->lock held) ---- */

static ssize_t user_send_packet(const void *buf, size_t len, void *opaque)
{
	struct net_user *u = opaque;
	struct user_frame *f;

	if (u->count == USER_QUEUE_MAX || len > NET_MAX_FRAME) {
		u->dropped++; /* only when the guest ignores its ring for long */
		return (ssize_t)len;
	}
	f = &u->queue[(u->head + u->count) % USER_QUEUE_MAX];
	f->data = malloc(NET_BACKEND_HDR_LEN + len);
	if (!f->data) {
		u->dropped++;
		return (ssize_t)len;
	}
	memset(f->data, 0, NET_BACKEND_HDR_LEN); /* slirp computes every checksum itself */
	memcpy(f->data + NET_BACKEND_HDR_LEN, buf, len);
	f->len = NET_BACKEND_HDR_LEN + len;
	if (u->count++ == 0)
		eventfd_signal(u->rx_fd);
	return (ssize_t)len;
}

static void user_guest_error(const char *msg, void *opaque)
{
	struct net_user *u = opaque;

	log_debug(u->name, "slirp: guest error: %s", msg);
}

static int64_t user_clock_get_ns(void *opaque)
{
	return monotonic_ns();
}

static void *user_timer_new(SlirpTimerCb cb, void *cb_opaque, void *opaque)
{
	struct net_user *u = opaque;

	for (unsigned i = 0; i < USER_MAX_TIMERS; i++) {
		struct user_timer *t = &u->timers[i];

		if (!t->in_use) {
			*t = (struct user_timer){ .in_use = true, .cb = cb, .cb_opaque = cb_opaque };
			return t;
		}
	}
	log_limited(&u->log_timers, LOG_WARN, u->name, "slirp wants more than %d timers", USER_MAX_TIMERS);
	return NULL;
}

static void user_timer_free(void *timer, void *opaque)
{
	if (timer)
		((struct user_timer *)timer)->in_use = false;
}

static void user_timer_mod(void *timer, int64_t expire_ms, void *opaque)
{
	struct user_timer *t = timer;

	if (t) {
		t->expire_ms = expire_ms;
		t->armed = true;
	}
}

static void user_register_poll_fd(int fd, void *opaque)
{
}

static void user_unregister_poll_fd(int fd, void *opaque)
{
}

static void user_notify(void *opaque)
{
	eventfd_signal(((struct net_user *)opaque)->wake_fd);
}

static const SlirpCb user_callbacks = {
	.send_packet = user_send_packet,
	.guest_error = user_guest_error,
	.clock_get_ns = user_clock_get_ns,
	.timer_new = user_timer_new,
	.timer_free = user_timer_free,
	.timer_mod = user_timer_mod,
	.register_poll_fd = user_register_poll_fd,
	.unregister_poll_fd = user_unregister_poll_fd,
	.notify = user_notify,
};

/* ---- the poll loop ---- */

static int user_add_poll(int fd, int events, void *opaque)
{
	struct net_user *u = opaque;
	short ev = 0;

	if (u->npfd == USER_MAX_POLL)
		return -1;
	/* A long queue means the guest is behind: leave the sockets' data in
	 * the kernel, where TCP flow control holds the peer back. */
	if ((events & SLIRP_POLL_IN) && u->count < USER_QUEUE_SLOW)
		ev |= POLLIN;
	if (events & SLIRP_POLL_OUT)
		ev |= POLLOUT;
	if (events & SLIRP_POLL_PRI)
		ev |= POLLPRI;
	u->pfd[u->npfd] = (struct pollfd){ .fd = fd, .events = ev };
	return (int)u->npfd++;
}

static int user_get_revents(int idx, void *opaque)
{
	struct net_user *u = opaque;
	short re;
	int events = 0;

	if (idx < 1 || (unsigned)idx >= u->npfd)
		return 0;
	re = u->pfd[idx].revents;
	events |= re & POLLIN ? SLIRP_POLL_IN : 0;
	events |= re & POLLOUT ? SLIRP_POLL_OUT : 0;
	events |= re & POLLPRI ? SLIRP_POLL_PRI : 0;
	events |= re & POLLERR ? SLIRP_POLL_ERR : 0;
	events |= re & POLLHUP ? SLIRP_POLL_HUP : 0;
	return events;
}

/* Run expired timers; return ms until the next one (or -1). */
static int user_run_timers(struct net_user *u)
{
	int64_t now = monotonic_ms(), next = -1;

	for (unsigned i = 0; i < USER_MAX_TIMERS; i++) {
		struct user_timer *t = &u->timers[i];

		if (!t->in_use || !t->armed)
			continue;
		if (t->expire_ms <= now) {
			t->armed = false;
			t->cb(t->cb_opaque);
		} else if (next < 0 || t->expire_ms - now < next) {
			next = t->expire_ms - now;
		}
	}
	return next > INT32_MAX ? INT32_MAX : (int)next;
}

static void *user_thread(void *arg)
{
	struct net_user *u = arg;

	pthread_setname_np(pthread_self(), "slirp");
	thread_role_enter(THREAD_ROLE_NET_USER);
	pthread_mutex_lock(&u->lock);
	while (!u->stopping) {
		uint32_t timeout = UINT32_MAX;
		int timer_ms = user_run_timers(u), n;

		/* Index 0 is our wake-up eventfd; slirp's sockets follow. */
		u->pfd[0] = (struct pollfd){ .fd = u->wake_fd, .events = POLLIN };
		u->npfd = 1;
		u->lib->slirp_pollfds_fill(u->slirp, &timeout, user_add_poll, u);
		if (timer_ms >= 0 && (uint32_t)timer_ms < timeout)
			timeout = (uint32_t)timer_ms;
		pthread_mutex_unlock(&u->lock);

		n = poll(u->pfd, u->npfd, timeout > INT32_MAX ? -1 : (int)timeout);

		pthread_mutex_lock(&u->lock);
		if (n > 0 && (u->pfd[0].revents & POLLIN))
			eventfd_clear(u->wake_fd);
		u->lib->slirp_pollfds_poll(u->slirp, n < 0, user_get_revents, u);
	}
	pthread_mutex_unlock(&u->lock);
	return NULL;
}

/* ---- the backend interface ---- */

static ssize_t user_recv(struct net_backend *be, unsigned q, void *buf, size_t len)
{
	struct net_user *u = USER(be);
	ssize_t ret;

	pthread_mutex_lock(&u->lock);
	if (q != 0 || u->count == 0) {
		pthread_mutex_unlock(&u->lock);
		return -EAGAIN;
	}
	struct user_frame *f = &u->queue[u->head];
	if (f->len <= len) {
		memcpy(buf, f->data, f->len);
		ret = (ssize_t)f->len;
	} else {
		ret = -EMSGSIZE;
	}
	free(f->data);
	u->head = (u->head + 1) % USER_QUEUE_MAX;
	if (--u->count == 0)
		eventfd_clear(u->rx_fd);
	if (u->count == USER_QUEUE_SLOW - 1)
		eventfd_signal(u->wake_fd); /* read the sockets again */
	pthread_mutex_unlock(&u->lock);
	return ret;
}

static int user_send(struct net_backend *be, unsigned q, const void *frame, size_t len)
{
	struct net_user *u = USER(be);

	if (len <= NET_BACKEND_HDR_LEN)
		return -EINVAL;
	pthread_mutex_lock(&u->lock);
	u->lib->slirp_input(u->slirp, (const uint8_t *)frame + NET_BACKEND_HDR_LEN, (int)(len - NET_BACKEND_HDR_LEN));
	pthread_mutex_unlock(&u->lock);
	/* slirp may have opened a socket or armed a timer: re-poll. */
	eventfd_signal(u->wake_fd);
	return 0;
}

static int user_rx_fd(struct net_backend *be, unsigned q)
{
	return q == 0 ? USER(be)->rx_fd : -1; /* one slirp stack feeds queue pair 0 */
}

static void user_set_offloads(struct net_backend *be, unsigned offloads)
{
}

static void user_set_queue_pairs(struct net_backend *be, unsigned pairs)
{
}

static int user_start(struct net_backend *be)
{
	struct net_user *u = USER(be);
	int ret = thread_create(&u->thread, user_thread, u);

	u->started = ret == 0;
	return -ret;
}

static void user_destroy(struct net_backend *be)
{
	struct net_user *u = USER(be);

	if (u->started) {
		pthread_mutex_lock(&u->lock);
		u->stopping = true;
		pthread_mutex_unlock(&u->lock);
		eventfd_signal(u->wake_fd);
		pthread_join(u->thread, NULL);
	}
	if (u->dropped)
		log_info(u->name, "user network: %llu frames dropped (guest not reading)",
			 (unsigned long long)u->dropped);
	if (u->slirp)
		u->lib->slirp_cleanup(u->slirp);
	for (; u->count; u->count--, u->head = (u->head + 1) % USER_QUEUE_MAX)
		free(u->queue[u->head].data);
	if (u->wake_fd >= 0)
		close(u->wake_fd);
	if (u->rx_fd >= 0)
		close(u->rx_fd);
	free(u);
}

static const struct net_backend_ops user_ops = {
	.recv = user_recv,
	.send = user_send,
	.rx_fd = user_rx_fd,
	.set_offloads = user_set_offloads,
	.set_queue_pairs = user_set_queue_pairs,
	.start = user_start,
	.destroy = user_destroy,
};

/* Guests ping through unprivileged ICMP sockets; say once if the host
 * forbids them (net.ipv4.ping_group_range) rather than let pings vanish. */
static void user_check_icmp(const char *name)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, IPPROTO_ICMP);

	if (fd >= 0) {
		close(fd);
		return;
	}
	log_warn(name, "backend=user: the guest's pings beyond the gateway will get no reply: this host does not "
		       "allow unprivileged ping sockets (%s; see sysctl net.ipv4.ping_group_range)",
		 strerror(errno));
}

static void user_addr_name(uint32_t addr, char *buf, size_t len)
{
	struct in_addr a = { .s_addr = addr };

	inet_ntop(AF_INET, &a, buf, (socklen_t)len);
}

/* ---- hostfwd with host port 0 ----
 * libslirp binds the listening socket but does not say which port the
 * kernel picked. It is the one socket u->lib->slirp_add_hostfwd() opened: compare
 * this process's sockets (fd and inode) before and after the call. */

struct fd_ident {
	int fd;
	ino_t ino;
};

/* This process's sockets, into a malloc'd array (*out); the count or -errno. */
static int list_sockets(struct fd_ident **out)
{
	DIR *d = opendir("/proc/self/fd");
	struct fd_ident *list = NULL;
	size_t n = 0, cap = 0;
	struct dirent *e;

	if (!d)
		return -errno;
	while ((e = readdir(d))) {
		struct stat st;
		int fd = atoi(e->d_name);
		if (e->d_name[0] == '.' || fd == dirfd(d) || fstat(fd, &st) < 0 || !S_ISSOCK(st.st_mode))
			continue;
		if (n == cap) {
			struct fd_ident *grown = realloc(list, (cap = cap ? cap * 2 : 64) * sizeof(*list));
			if (!grown) {
				free(list);
				closedir(d);
				return -ENOMEM;
			}
			list = grown;
		}
		list[n++] = (struct fd_ident){fd, st.st_ino};
	}
	closedir(d);
	*out = list;
	return (int)n;
}

/* The port of the one new socket bound the way rule h asks; 0 if none. */
static uint16_t new_socket_port(const struct net_hostfwd *h, const struct fd_ident *before, int nr_before)
{
	struct fd_ident *after = NULL;
	int nr_after = list_sockets(&after);
	uint16_t port = 0;

	for (int i = 0; i < nr_after && !port; i++) {
		bool old = false;
		for (int j = 0; j < nr_before && !old; j++)
			old = before[j].fd == after[i].fd && before[j].ino == after[i].ino;
		struct sockaddr_in sa;
		socklen_t len = sizeof(sa);
		int type = 0;
		socklen_t tlen = sizeof(type);
		if (old || getsockname(after[i].fd, (struct sockaddr *)&sa, &len) < 0 || sa.sin_family != AF_INET ||
		    sa.sin_addr.s_addr != h->host_addr ||
		    getsockopt(after[i].fd, SOL_SOCKET, SO_TYPE, &type, &tlen) < 0 ||
		    type != (h->udp ? SOCK_DGRAM : SOCK_STREAM))
			continue;
		port = ntohs(sa.sin_port);
	}
	free(after);
	return port;
}

/* Add rule h; with host port 0, learn the port the kernel picked (*port). */
static int user_add_hostfwd(struct net_user *u, const struct net_hostfwd *h, uint16_t *port)
{
	struct in_addr host = { h->host_addr }, guest = { h->guest_addr };
	struct fd_ident *before = NULL;
	int nr_before = 0;

	*port = h->host_port;
	if (h->host_port == 0 && (nr_before = list_sockets(&before)) < 0)
		return nr_before;
	errno = 0;
	int ret = u->lib->slirp_add_hostfwd(u->slirp, h->udp, host, h->host_port, guest, h->guest_port);
	if (ret < 0)
		ret = errno ? -errno : -EPROTO; /* slirp said no more */
	else if (h->host_port == 0 && !(*port = new_socket_port(h, before, nr_before)))
		ret = -ENOENT;
	free(before);
	return ret;
}

struct net_backend *net_user_open(const struct net_backend_config *c, unsigned pairs, const char *name, char *err,
				  size_t errlen)
{
	struct net_user *u = calloc(1, sizeof(*u));
	uint32_t net = c->net_prefix ? ntohl(c->net_addr) : 0x0a000200; /* 10.0.2.0 */
	uint32_t prefix = c->net_prefix ? c->net_prefix : 24;
	uint32_t mask = prefix ? ~0u << (32 - prefix) : 0;

	if (!u) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	u->be.ops = &user_ops;
	u->be.queue_pairs = pairs;
	u->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	u->rx_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	snprintf(u->name, sizeof(u->name), "%s", name);
	pthread_mutex_init(&u->lock, NULL);
	if (u->wake_fd < 0 || u->rx_fd < 0) {
		snprintf(err, errlen, "backend=user: eventfd: %s", strerror(errno));
		goto fail;
	}

	if (!(u->lib = slirp_lib_open(err, errlen)))
		goto fail;

	SlirpConfig cfg = {
		.version = 3,
		.in_enabled = true,
		.vnetwork = { htonl(net & mask) },
		.vnetmask = { htonl(mask) },
		.vhost = { htonl((net & mask) | 2) },
		.vdhcp_start = { htonl((net & mask) | 15) },
		.vnameserver = { htonl((net & mask) | 3) },
		.vhostname = "skiff",
		.if_mtu = 1500,
		.if_mru = 1500,
	};
	u->slirp = u->lib->slirp_new(&cfg, &user_callbacks, u);
	if (!u->slirp) {
		snprintf(err, errlen, "backend=user: libslirp refused the network configuration");
		goto fail;
	}
	for (unsigned i = 0; i < c->nr_hostfwd; i++) {
		const struct net_hostfwd *h = &c->hostfwd[i];
		char haddr[INET_ADDRSTRLEN], gaddr[INET_ADDRSTRLEN];
		uint16_t port;
		int ret = user_add_hostfwd(u, h, &port);

		user_addr_name(h->host_addr, haddr, sizeof(haddr));
		if (ret == -ENOENT) {
			snprintf(err, errlen, "backend=user: hostfwd=%s:%s:0-:%u: cannot find the port the host picked",
				 h->udp ? "udp" : "tcp", haddr, h->guest_port);
			goto fail;
		}
		if (ret < 0) {
			snprintf(err, errlen, "backend=user: hostfwd=%s:%s:%u-:%u: cannot listen on the host: %s",
				 h->udp ? "udp" : "tcp", haddr, h->host_port, h->guest_port,
				 ret == -EPROTO ? "address in use or not local" : strerror(-ret));
			goto fail;
		}
		if (h->host_port == 0) {
			/* One stable line for scripts; the guest address 0 is the DHCP one (.15). */
			user_addr_name(h->guest_addr ? h->guest_addr : htonl((net & mask) | 15), gaddr, sizeof(gaddr));
			fprintf(stderr, "skiff: %s: hostfwd %s %s:%u -> %s:%u\n", name, h->udp ? "udp" : "tcp", haddr,
				port, gaddr, h->guest_port);
		}
	}
	user_check_icmp(name);
	if (pairs > 1)
		log_info(name, "backend=user: one network stack; all received frames arrive on queue pair 0");
	return &u->be;
fail:
	user_destroy(&u->be);
	return NULL;
}
