/* The control socket's I/O on the reactor. See control-socket.h. */
#include "vmm/control-socket.h"
#include "base/monotonic.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"

#define LOG_NAME "api-sock"

static void sockaddr_for(struct sockaddr_un *sa, const char *path)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	memcpy(sa->sun_path, path, strlen(path) + 1);
}

/* A file already at path: a socket with a listener (a live skiff) is an
 * error, a socket without one is left over from a skiff that died and is
 * removed, anything else is not ours to remove. */
static int handle_existing(const char *path, const struct sockaddr_un *sa, char *err, size_t errlen)
{
	struct stat st;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : (snprintf(err, errlen, "--api-sock %s: %s", path, strerror(errno)), -errno);
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(err, errlen, "--api-sock %s: file exists and is not a socket", path);
		return -EEXIST;
	}
	int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (probe < 0) {
		snprintf(err, errlen, "--api-sock %s: %s", path, strerror(errno));
		return -errno;
	}
	int ret = connect(probe, (const struct sockaddr *)sa, sizeof(*sa));
	int saved = errno;
	close(probe);
	if (ret == 0) {
		snprintf(err, errlen, "--api-sock %s: in use (a running skiff is listening on it)", path);
		return -EADDRINUSE;
	}
	if (saved != ECONNREFUSED) {
		snprintf(err, errlen, "--api-sock %s: %s", path, strerror(saved));
		return -saved;
	}
	log_info(LOG_NAME, "%s: replacing a stale socket nobody listens on", path);
	if (unlink(path) < 0 && errno != ENOENT) {
		snprintf(err, errlen, "--api-sock %s: cannot remove the stale socket: %s", path, strerror(errno));
		return -errno;
	}
	return 0;
}

int control_socket_open(struct control_socket *cs, const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sa;
	int ret;

	memset(cs, 0, sizeof(*cs));
	cs->listen_fd = cs->listen_source = cs->sweep_source = -1;
	for (unsigned i = 0; i < CONTROL_MAX_CLIENTS; i++)
		cs->clients[i].fd = cs->clients[i].source = cs->clients[i].waiting_for = -1;
	if (!*path || strlen(path) >= sizeof(cs->path)) {
		if (*path)
			snprintf(err, errlen, "--api-sock: path too long for a Unix socket (%zu bytes, at most %zu)",
				 strlen(path), sizeof(cs->path) - 1);
		else
			snprintf(err, errlen, "--api-sock: empty path");
		return -EINVAL;
	}
	/* jansson seeds its hash tables from /dev/urandom on first use: do it
	 * now, before the seccomp filter (no open() later) is in place. */
	json_object_seed(0);
	sockaddr_for(&sa, path);
	if ((ret = handle_existing(path, &sa, err, errlen)) < 0)
		return ret;
	cs->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (cs->listen_fd < 0) {
		snprintf(err, errlen, "--api-sock %s: %s", path, strerror(errno));
		return -errno;
	}
	/* Owner-only (0600) from the moment it exists: bind() applies the umask. */
	mode_t old = umask(0177);
	ret = bind(cs->listen_fd, (const struct sockaddr *)&sa, sizeof(sa));
	int saved = errno;
	umask(old);
	if (ret < 0) {
		if (saved == ENOENT)
			snprintf(err, errlen, "--api-sock %s: the directory does not exist", path);
		else
			snprintf(err, errlen, "--api-sock %s: %s", path, strerror(saved));
		close(cs->listen_fd);
		cs->listen_fd = -1;
		return -saved;
	}
	memcpy(cs->path, path, strlen(path) + 1);
	if (listen(cs->listen_fd, CONTROL_MAX_CLIENTS) < 0) {
		saved = errno;
		snprintf(err, errlen, "--api-sock %s: %s", path, strerror(saved));
		control_socket_close(cs);
		return -saved;
	}
	return 0;
}

static void client_close(struct control_socket *cs, struct control_client *c)
{
	if (!c->in_use)
		return;
	reactor_remove(cs->reactor, c->source);
	close(c->fd);
	c->fd = c->source = c->waiting_for = -1;
	c->len = 0;
	c->in_use = false;
}

/* Send a whole reply or give up on the client: replies are small, and a
 * client that lets its receive buffer fill up must not make the reactor
 * wait. */
static bool client_send(struct control_client *c, const char *line)
{
	size_t len = strlen(line), off = 0;

	while (off < len) {
		ssize_t n = send(c->fd, line + off, len - off, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		off += (size_t)n;
	}
	return true;
}

/* ops.run for control_handle_request: notes which client a command that
 * finishes later leaves waiting. */
static int run_for_client(void *socket, enum control_command cmd, uint64_t arg, const char *text, json_t *reply,
			  char *err, size_t errlen)
{
	struct control_socket *cs = socket;
	int ret = cs->ops.run(cs->ops.ctx, cmd, arg, text, reply, err, errlen);

	if (ret == CONTROL_LATER)
		cs->serving->waiting_for = (int)cmd;
	return ret;
}

/* Serve every complete line in the buffer, up to one whose reply comes
 * later. False: close the client. */
static bool client_serve_lines(struct control_socket *cs, struct control_client *c)
{
	const struct control_ops via = { .run = run_for_client, .ctx = cs };
	char *start = c->buf, *end = c->buf + c->len, *nl;

	while (c->waiting_for < 0 && (nl = memchr(start, '\n', (size_t)(end - start)))) {
		cs->serving = c;
		char *reply = control_handle_request(&via, start, (size_t)(nl - start));
		cs->serving = NULL;
		bool sent = reply && (!reply[0] || client_send(c, reply));

		free(reply);
		if (!sent)
			return false;
		start = nl + 1;
	}
	c->len = (size_t)(end - start);
	memmove(c->buf, start, c->len);
	if (c->waiting_for >= 0) {
		/* Read nothing more until the reply is out; a hang-up still shows. */
		return reactor_set_events(cs->reactor, c->source, 0) == 0;
	}
	if (c->len == sizeof(c->buf)) {
		/* No newline within the cap: say why, then hang up (the rest of
		 * an oversized request cannot be told from the next one). */
		char *reply = control_error_reply("request too long");
		if (reply)
			client_send(c, reply);
		free(reply);
		return false;
	}
	return true;
}

static enum reactor_result client_ready(void *opaque, uint32_t events, unsigned budget)
{
	struct control_client *c = opaque;
	struct control_socket *cs = c->owner;
	(void)budget;

	if (c->waiting_for >= 0) {
		if (events & (EPOLLHUP | EPOLLERR))
			client_close(cs, c);
		return REACTOR_DONE;
	}
	ssize_t n = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return REACTOR_DONE;
	if (n <= 0) {
		client_close(cs, c);
		return REACTOR_DONE;
	}
	c->len += (size_t)n;
	c->last_active_ms = monotonic_ms();
	if (!client_serve_lines(cs, c))
		client_close(cs, c);
	return REACTOR_DONE;
}

static enum reactor_result listener_ready(void *opaque, uint32_t events, unsigned budget)
{
	struct control_socket *cs = opaque;
	(void)events;

	for (unsigned accepted = 0; accepted < budget; accepted++) {
		int fd = accept4(cs->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return REACTOR_DONE; /* EAGAIN, or the client already left */
		struct control_client *c = NULL;
		for (unsigned i = 0; i < CONTROL_MAX_CLIENTS && !c; i++)
			if (!cs->clients[i].in_use)
				c = &cs->clients[i];
		if (!c) {
			char *reply = control_error_reply("too many clients");
			if (reply)
				(void)!send(fd, reply, strlen(reply), MSG_DONTWAIT | MSG_NOSIGNAL);
			free(reply);
			close(fd);
			continue;
		}
		c->owner = cs;
		c->fd = fd;
		c->len = 0;
		c->waiting_for = -1;
		c->last_active_ms = monotonic_ms();
		c->in_use = true;
		c->source = reactor_add(cs->reactor, fd, EPOLLIN, 0, client_ready, c, 1);
		if (c->source < 0) {
			close(fd);
			c->fd = c->source = -1;
			c->in_use = false;
		}
	}
	return REACTOR_MORE;
}

/* Hang up on clients that have said nothing for too long. */
static enum reactor_result sweep_idle(void *opaque, uint32_t events, unsigned budget)
{
	struct control_socket *cs = opaque;
	int64_t now = monotonic_ms();
	(void)events;
	(void)budget;

	for (unsigned i = 0; i < CONTROL_MAX_CLIENTS; i++) {
		struct control_client *c = &cs->clients[i];
		if (c->in_use && c->waiting_for < 0 && now - c->last_active_ms >= (int64_t)cs->idle_timeout_ms) {
			log_debug(LOG_NAME, "closing a client idle for %lld ms", (long long)(now - c->last_active_ms));
			client_close(cs, c);
		}
	}
	return REACTOR_DONE;
}

int control_socket_attach(struct control_socket *cs, struct reactor *r, const struct control_ops *ops,
			  unsigned idle_timeout_ms)
{
	cs->reactor = r;
	cs->ops = *ops;
	cs->idle_timeout_ms = idle_timeout_ms ? idle_timeout_ms : CONTROL_IDLE_TIMEOUT_MS;
	cs->listen_source = reactor_add(r, cs->listen_fd, EPOLLIN, 0, listener_ready, cs, 4);
	if (cs->listen_source < 0)
		return cs->listen_source;
	unsigned period = cs->idle_timeout_ms / 4 ? cs->idle_timeout_ms / 4 : 1;
	cs->sweep_source = reactor_add_timer(r, period, sweep_idle, cs);
	return cs->sweep_source < 0 ? cs->sweep_source : 0;
}

void control_socket_finish(struct control_socket *cs, enum control_command cmd, int ret, const char *err)
{
	for (unsigned i = 0; i < CONTROL_MAX_CLIENTS; i++) {
		struct control_client *c = &cs->clients[i];
		if (!c->in_use || c->waiting_for != (int)cmd)
			continue;
		char *reply = control_late_reply(cmd, ret, err);
		bool sent = reply && client_send(c, reply);
		free(reply);
		c->waiting_for = -1;
		c->last_active_ms = monotonic_ms();
		if (!sent || reactor_set_events(cs->reactor, c->source, EPOLLIN) < 0 || !client_serve_lines(cs, c))
			client_close(cs, c);
	}
}

void control_socket_close(struct control_socket *cs)
{
	if (cs->reactor) {
		for (unsigned i = 0; i < CONTROL_MAX_CLIENTS; i++)
			client_close(cs, &cs->clients[i]);
		if (cs->listen_source >= 0)
			reactor_remove(cs->reactor, cs->listen_source);
		if (cs->sweep_source >= 0)
			reactor_remove(cs->reactor, cs->sweep_source);
	}
	cs->listen_source = cs->sweep_source = -1;
	if (cs->listen_fd >= 0) {
		close(cs->listen_fd);
		unlink(cs->path);
	}
	cs->listen_fd = -1;
}
