/* Unit tests of backend=user's hostfwd with host port 0 (devices/net-user.c):
 * the kernel picks a free port, skiff prints it in one stable line on
 * stderr, and that port is really the forward's listener. */
#include <arpa/inet.h>
#include <check.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "devices/net-backend.h"
#include "tests/unit/check-run.h"

/* Open a user backend with `rules`, its stderr caught into `out`. */
static struct net_backend *open_catching_stderr(const struct net_hostfwd *rules, unsigned n, char *out, size_t outlen)
{
	struct net_backend_config c = {.kind = NET_BACKEND_USER, .nr_hostfwd = n};
	char path[] = "/var/tmp/skiff-netuser-XXXXXX", err[256] = "";
	int fd = mkstemp(path), saved = dup(2);

	memcpy(c.hostfwd, rules, n * sizeof(*rules));
	ck_assert_int_ge(fd, 0);
	unlink(path);
	fflush(stderr);
	dup2(fd, 2);
	struct net_backend *be = net_user_open(&c, 1, "net0", err, sizeof(err));
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	ssize_t got = pread(fd, out, outlen - 1, 0);
	out[got > 0 ? got : 0] = '\0';
	close(fd);
	ck_assert_msg(be, "net_user_open: %s", err);
	return be;
}

/* The port in "skiff: net0: hostfwd PROTO 127.0.0.1:PORT -> GUEST:GPORT". */
static unsigned printed_port(const char *text, const char *proto, const char *guest)
{
	char want[64];
	unsigned port = 0, n = snprintf(want, sizeof(want), "skiff: net0: hostfwd %s 127.0.0.1:", proto);
	const char *line = strstr(text, want);
	char rest[64];

	ck_assert_msg(line, "no hostfwd line for %s in: %s", proto, text);
	ck_assert_int_eq(sscanf(line + n, "%u -> %63s", &port, rest), 2);
	ck_assert_str_eq(rest, guest);
	return port;
}

START_TEST(port_zero_picks_prints_and_listens)
{
	const struct net_hostfwd rules[] = {
		{.host_addr = htonl(INADDR_LOOPBACK), .host_port = 0, .guest_port = 22},
		{.host_addr = htonl(INADDR_LOOPBACK), .host_port = 0, .guest_port = 80},
		{.udp = 1, .host_addr = htonl(INADDR_LOOPBACK), .host_port = 0, .guest_port = 53},
	};
	char text[1024];
	struct net_backend *be = open_catching_stderr(rules, 3, text, sizeof(text));

	unsigned ssh = printed_port(text, "tcp", "10.0.2.15:22");
	unsigned web = printed_port(strstr(text, "10.0.2.15:22") + 1, "tcp", "10.0.2.15:80");
	unsigned dns = printed_port(text, "udp", "10.0.2.15:53");
	ck_assert_uint_ne(ssh, 0);
	ck_assert_uint_ne(web, 0);
	ck_assert_uint_ne(ssh, web);
	ck_assert_uint_ne(dns, 0);
	/* One line per rule. */
	unsigned lines = 0;
	for (const char *p = text; (p = strstr(p, ": hostfwd ")); p++)
		lines++;
	ck_assert_uint_eq(lines, 3);

	/* The printed TCP port is the listener: the kernel completes the
	 * handshake from its backlog. The UDP one is bound: a second bind fails. */
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)ssh),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	ck_assert_int_eq(connect(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(s);
	s = socket(AF_INET, SOCK_DGRAM, 0);
	sa.sin_port = htons((uint16_t)dns);
	ck_assert_int_ne(bind(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(s);
	be->ops->destroy(be);
}
END_TEST

/* A fixed port says nothing (the user knows it). */
START_TEST(fixed_port_prints_nothing)
{
	int probe = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sa);
	ck_assert_int_eq(bind(probe, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(getsockname(probe, (struct sockaddr *)&sa, &len), 0);
	close(probe); /* a port that was free a moment ago */
	const struct net_hostfwd rule = {.host_addr = htonl(INADDR_LOOPBACK), .host_port = ntohs(sa.sin_port),
					 .guest_port = 22};
	char text[256];
	struct net_backend *be = open_catching_stderr(&rule, 1, text, sizeof(text));
	ck_assert_ptr_null(strstr(text, "hostfwd"));
	be->ops->destroy(be);
}
END_TEST

static Suite *net_user_suite(void)
{
	Suite *s = suite_create("net-user");
	TCase *tc = tcase_create("hostfwd");

	tcase_add_test(tc, port_zero_picks_prints_and_listens);
	tcase_add_test(tc, fixed_port_prints_nothing);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return check_run_suite(net_user_suite());
}
