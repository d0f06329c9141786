/* Unit tests of pause over the control socket, without KVM: a machine
 * with one vCPU that is never started (so it never parks on its own) and
 * its control socket on a real reactor. They prove that a pending pause
 * does not hold up the reactor (another client's status is answered while
 * the pause waits), that the pause is answered once the vCPU parks, that a
 * pause the vCPUs never finish is answered with an error when its timer
 * fires, that resume and kill end a pending pause, and that a client's
 * requests sent behind a pending pause are answered in order. */
#include <check.h>
#include "tests/unit/check-run.h"
#include "tests/unit/unix-client.h"
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "vmm/control-socket.h"
#include "vmm/machine.h"
#include "vmm/machine-control.h"

#define PAUSE_TIMEOUT_MS 400

static struct machine m; /* large (every vCPU slot): static */
static struct options opts = { .mem_bytes = 64 << 20 };
static char dir[64], path[128];

static int64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void setup(void)
{
	char err[256];

	memset(&m, 0, sizeof(m));
	m.opts = &opts;
	m.vm.vm_fd = -1; /* no KVM: the kvmclock is not saved */
	m.shutdown_timer = m.pause_parked_source = m.pause_timer = m.stop_eventfd = -1;
	m.nr_vcpus_created = 1; /* never started: a kick does nothing */
	m.pause_timeout_ms = PAUSE_TIMEOUT_MS;
	ck_assert_int_eq(vcpu_pause_init(&m.pause), 0);
	snprintf(dir, sizeof(dir), "/tmp/skiff-pause-test.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/api.sock", dir);
	ck_assert_int_eq(reactor_init(&m.reactor), 0);
	ck_assert_int_eq(control_socket_open(&m.control, path, err, sizeof(err)), 0);
	m.control_open = true;
	const struct control_ops ops = { .run = machine_control_run, .ctx = &m };
	ck_assert_int_eq(control_socket_attach(&m.control, &m.reactor, &ops, 0), 0);
	ck_assert_int_eq(reactor_start(&m.reactor), 0);
}

static void teardown(void)
{
	reactor_stop(&m.reactor);
	control_socket_close(&m.control);
	reactor_destroy(&m.reactor);
	vcpu_pause_destroy(&m.pause);
	rmdir(dir);
}

static int client(void)
{
	return unix_client(path);
}

static void send_line(int fd, const char *req)
{
	ck_assert_int_eq(write(fd, req, strlen(req)), (ssize_t)strlen(req));
}

/* One reply line, or NULL if none came within timeout_ms. */
static char *reply_within(int fd, int timeout_ms)
{
	static char buf[4096];
	size_t len = 0;

	while (len < sizeof(buf) - 1) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		if (poll(&p, 1, timeout_ms) != 1 || read(fd, buf + len, 1) != 1)
			return NULL;
		if (buf[len++] == '\n')
			break;
	}
	buf[len] = 0;
	return buf;
}

static void expect_reply(int fd, int timeout_ms, const char *fragment)
{
	char *r = reply_within(fd, timeout_ms);
	ck_assert_msg(r, "no reply within %d ms (wanted '%s')", timeout_ms, fragment);
	ck_assert_msg(strstr(r, fragment), "reply '%s' lacks '%s'", r, fragment);
}

/* Another client's status while a pause waits for the vCPU: answered
 * (with state "pausing", so before the pause settled). Prints how long
 * it took. */
static void status_while_pausing(void)
{
	int other = client();
	int64_t t0 = now_us();
	send_line(other, "{\"command\":\"status\"}\n");
	expect_reply(other, PAUSE_TIMEOUT_MS / 2, "\"state\":\"pausing\"");
	printf("status answered in %lld us while a pause was pending\n", (long long)(now_us() - t0));
	close(other);
}

/* Whether the vCPUs are asked to park (read under the lock: the reactor
 * thread writes it). */
static bool vcpus_asked_to_park(void)
{
	pthread_mutex_lock(&m.pause.lock);
	bool asked = m.pause.paused;
	pthread_mutex_unlock(&m.pause.lock);
	return asked;
}

/* What a vCPU does when it parks (kvm/vcpu.c vcpu_park), done by hand. */
static void vcpu_parks(void)
{
	uint64_t one = 1;

	pthread_mutex_lock(&m.pause.lock);
	m.pause.nr_parked++;
	pthread_mutex_unlock(&m.pause.lock);
	ck_assert_int_eq(write(m.pause.parked_fd, &one, sizeof(one)), (ssize_t)sizeof(one));
}

START_TEST(pause_pending_does_not_block_the_reactor)
{
	int fd = client();

	send_line(fd, "{\"command\":\"pause\"}\n");
	ck_assert_ptr_null(reply_within(fd, 50)); /* waits for the vCPU */
	status_while_pausing();
	vcpu_parks();
	expect_reply(fd, 1000, "\"ok\":true");
	send_line(fd, "{\"command\":\"status\"}\n");
	expect_reply(fd, 1000, "\"state\":\"paused\"");
	send_line(fd, "{\"command\":\"pause\"}\n"); /* already paused: at once */
	expect_reply(fd, 1000, "\"ok\":true");
	send_line(fd, "{\"command\":\"resume\"}\n");
	expect_reply(fd, 1000, "\"ok\":true");
	ck_assert(!vcpus_asked_to_park()); /* the vCPU may go on */
	send_line(fd, "{\"command\":\"status\"}\n");
	expect_reply(fd, 1000, "\"state\":\"running\"");
	close(fd);
}
END_TEST

START_TEST(pause_that_cannot_finish_times_out)
{
	int fd = client(), second = client();

	int64_t t0 = now_us();
	/* Pipelined: the status behind the pause is answered after it. */
	send_line(fd, "{\"command\":\"pause\"}\n{\"command\":\"status\"}\n");
	send_line(second, "{\"command\":\"pause\"}\n"); /* joins the pending pause */
	status_while_pausing();
	expect_reply(fd, PAUSE_TIMEOUT_MS * 3, "did not stop in time");
	int64_t waited = now_us() - t0;
	printf("pause answered its timeout error after %lld ms (timeout %d ms)\n", (long long)(waited / 1000),
	       PAUSE_TIMEOUT_MS);
	ck_assert_int_ge(waited, (int64_t)PAUSE_TIMEOUT_MS * 1000 * 9 / 10);
	expect_reply(fd, 1000, "\"state\":\"running\"");
	expect_reply(second, 1000, "did not stop in time");
	ck_assert(!vcpus_asked_to_park()); /* the vCPU is not left asked to park */
	close(fd);
	close(second);
}
END_TEST

/* A pause waits on one client; another sends request: the pause gets
 * its error (error_fragment), the vCPU is no longer asked to park. */
static void other_client_ends_pause(const char *request, const char *error_fragment)
{
	int fd = client(), other = client();

	send_line(fd, "{\"command\":\"pause\"}\n");
	ck_assert_ptr_null(reply_within(fd, 50));
	send_line(other, request);
	expect_reply(other, 1000, "\"ok\":true");
	expect_reply(fd, 1000, error_fragment);
	ck_assert(!vcpus_asked_to_park());
	close(other);
	send_line(fd, "{\"command\":\"status\"}\n");
	expect_reply(fd, 1000, "\"state\":\"running\"");
	close(fd);
}

START_TEST(resume_cancels_a_pending_pause)
{
	other_client_ends_pause("{\"command\":\"resume\"}\n", "resumed before the vCPUs stopped");
}
END_TEST

START_TEST(kill_answers_a_pending_pause)
{
	other_client_ends_pause("{\"command\":\"kill\"}\n", "the guest is being killed");
	ck_assert(atomic_load(&m.stopping)); /* the vCPU sees it and leaves */
}
END_TEST

START_TEST(waiting_client_that_hangs_up)
{
	int fd = client();

	send_line(fd, "{\"command\":\"pause\"}\n");
	ck_assert_ptr_null(reply_within(fd, 50));
	close(fd);
	status_while_pausing(); /* the reactor is not spinning on the hang-up */
	vcpu_parks();
	int again = client();
	send_line(again, "{\"command\":\"status\"}\n");
	expect_reply(again, 1000, "\"state\":\"paused\"");
	close(again);
}
END_TEST

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	Suite *s = suite_create("pause");
	TCase *tc = tcase_create("pause");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, pause_pending_does_not_block_the_reactor);
	tcase_add_test(tc, pause_that_cannot_finish_times_out);
	tcase_add_test(tc, resume_cancels_a_pending_pause);
	tcase_add_test(tc, kill_answers_a_pending_pause);
	tcase_add_test(tc, waiting_client_that_hangs_up);
	suite_add_tcase(s, tc);
	return check_run_suite(s);
}
