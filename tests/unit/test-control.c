/* Unit tests of the control socket: the protocol (every command, bad
 * requests of every kind) through control_handle_request() with a fake
 * machine, and the socket on a real reactor: idle, oversized and
 * non-reading clients do not stall the others, stale and live socket
 * files, permissions. */
#include <check.h>
#include "tests/unit/check-run.h"
#include "tests/unit/unix-client.h"
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "vmm/control-client.h"
#include "vmm/control-protocol.h"
#include "vmm/control-socket.h"
#include "vmm/machine.h"
#include "vmm/machine-control.h"
#include "base/reactor.h"
#include "base/trace.h"
#include "tests/unit/log-capture.h"

/* ---- a fake machine ---- */

static int last_cmd = -1;
static uint64_t last_arg;
static unsigned nr_runs;

static char last_text[CONTROL_MAX_TEXT_ARG + 1];

static int fake_run(void *ctx, enum control_command cmd, uint64_t arg, const char *text, json_t *reply, char *err,
		    size_t errlen)
{
	(void)ctx;
	last_cmd = (int)cmd;
	last_arg = arg;
	snprintf(last_text, sizeof(last_text), "%s", text ? text : "(null)");
	nr_runs++;
	if (cmd == CONTROL_BALLOON_SET && arg > 512) {
		snprintf(err, errlen, "too big");
		return -EINVAL;
	}
	json_object_set_new(reply, "fake", json_integer(42));
	if (text)
		json_object_set_new(reply, "text", json_string(text));
	return 0;
}

static const struct control_ops fake_ops = { .run = fake_run };

static char *handle(const char *req)
{
	return control_handle_request(&fake_ops, req, strlen(req));
}

/* The reply must be one line of JSON: parse it. */
static json_t *reply_of(const char *req)
{
	char *text = handle(req);
	ck_assert_ptr_nonnull(text);
	size_t len = strlen(text);
	ck_assert_uint_gt(len, 1);
	ck_assert_int_eq(text[len - 1], '\n');
	ck_assert_ptr_null(memchr(text, '\n', len - 1));
	json_error_t e;
	json_t *j = json_loads(text, 0, &e);
	ck_assert_msg(j != NULL, "reply not JSON: %s", text);
	free(text);
	return j;
}

static void expect_error(const char *req, const char *fragment)
{
	unsigned runs = nr_runs;
	json_t *j = reply_of(req);
	ck_assert(json_is_false(json_object_get(j, "ok")));
	const char *msg = json_string_value(json_object_get(j, "error"));
	ck_assert_ptr_nonnull(msg);
	ck_assert_msg(strstr(msg, fragment), "error '%s' lacks '%s'", msg, fragment);
	ck_assert_uint_eq(nr_runs, runs); /* refused before reaching the machine */
	json_decref(j);
}

static void expect_ok(const char *req, enum control_command cmd, uint64_t arg)
{
	json_t *j = reply_of(req);
	ck_assert(json_is_true(json_object_get(j, "ok")));
	ck_assert_str_eq(json_string_value(json_object_get(j, "command")), control_command_name(cmd));
	ck_assert_int_eq(json_integer_value(json_object_get(j, "fake")), 42);
	ck_assert_int_eq(last_cmd, (int)cmd);
	ck_assert_uint_eq(last_arg, arg);
	json_decref(j);
}

START_TEST(every_command)
{
	expect_ok("{\"command\":\"status\"}", CONTROL_STATUS, 0);
	expect_ok("{\"command\":\"pause\"}", CONTROL_PAUSE, 0);
	expect_ok("{\"command\":\"resume\"}", CONTROL_RESUME, 0);
	expect_ok("{\"command\":\"shutdown\"}", CONTROL_SHUTDOWN, CONTROL_DEFAULT_SHUTDOWN_TIMEOUT);
	expect_ok("{\"command\":\"shutdown\",\"timeout\":5}", CONTROL_SHUTDOWN, 5);
	expect_ok("{\"command\":\"kill\"}", CONTROL_KILL, 0);
	expect_ok(" {\"mib\": 256, \"command\": \"balloon-set\"} ", CONTROL_BALLOON_SET, 256);
	expect_ok("{\"command\":\"balloon-stats\"}", CONTROL_BALLOON_STATS, 0);
	expect_ok("{\"command\":\"stats\"}", CONTROL_STATS, 0);
	expect_ok("{\"command\":\"trace\",\"filter\":\"virtio-blk0,irq\"}", CONTROL_TRACE, 0);
	ck_assert_str_eq(last_text, "virtio-blk0,irq");
	expect_ok("{\"command\":\"status\"}", CONTROL_STATUS, 0);
	ck_assert_str_eq(last_text, "(null)"); /* text only for text arguments */
	/* The machine refusing becomes an error reply with its reason. */
	json_t *j = reply_of("{\"command\":\"balloon-set\",\"mib\":9999}");
	ck_assert(json_is_false(json_object_get(j, "ok")));
	ck_assert_str_eq(json_string_value(json_object_get(j, "error")), "too big");
	json_decref(j);
}
END_TEST

START_TEST(bad_requests)
{
	expect_error("", "bad JSON");
	expect_error("{\"command\":\"sta", "bad JSON");                /* truncated */
	expect_error("{\"command\":\"status\"", "bad JSON");
	expect_error("{\"command\":\"st\xff\xfe\"}", "bad JSON");      /* not UTF-8 */
	expect_error("{\"command\":\"\xc0\xaf\"}", "bad JSON");        /* overlong UTF-8 */
	expect_error("[\"status\"]", "must be a JSON object");
	expect_error("\"status\"", "bad JSON");                        /* jansson: no bare scalars */
	expect_error("{}", "missing \"command\"");
	expect_error("{\"command\":7}", "missing \"command\"");
	expect_error("{\"command\":\"reboot\"}", "unknown command \"reboot\"");
	expect_error("{\"command\":\"status\",\"x\":1}", "unexpected argument");
	expect_error("{\"command\":\"balloon-set\"}", "missing \"mib\"");
	expect_error("{\"command\":\"balloon-set\",\"mib\":-1}", "whole number");
	expect_error("{\"command\":\"balloon-set\",\"mib\":1.5}", "whole number");
	expect_error("{\"command\":\"balloon-set\",\"mib\":\"256\"}", "whole number");
	expect_error("{\"command\":\"balloon-set\",\"mib\":99999999999}", "whole number");
	expect_error("{\"command\":\"shutdown\",\"timeout\":100000}", "whole number");
	expect_error("{\"command\":\"trace\"}", "missing \"filter\"");
	expect_error("{\"command\":\"trace\",\"filter\":7}", "must be a string");
	expect_error("{\"command\":\"trace\",\"filter\":\"irq\\u0007\"}", "printable");
	expect_error("{\"command\":\"trace\",\"filter\":\"\u00e9\"}", "printable");
	char too_long[400];
	snprintf(too_long, sizeof(too_long), "{\"command\":\"trace\",\"filter\":\"%0256d\"}", 0);
	expect_error(too_long, "at most 255");
	expect_error("{\"command\":\"status\",\"command\":\"kill\"}", "bad JSON"); /* duplicate key */
	expect_error("{\"command\":\"status\"} {\"command\":\"kill\"}", "bad JSON");
	/* A NUL inside the request (length-delimited, so it is seen). */
	char *text = control_handle_request(&fake_ops, "{\"command\":\"sta\0tus\"}", 21);
	ck_assert_ptr_nonnull(strstr(text, "\"ok\":false"));
	free(text);
}
END_TEST

START_TEST(oversized_and_deep)
{
	/* 1 MiB of garbage: refused by its size before parsing. */
	size_t big = 1 << 20;
	char *garbage = malloc(big);
	for (size_t i = 0; i < big; i++)
		garbage[i] = (char)(i * 131 + 7);
	char *text = control_handle_request(&fake_ops, garbage, big);
	ck_assert_ptr_nonnull(strstr(text, "request too long"));
	free(text);

	/* 10,000 levels of nesting: over the size cap too. */
	char *deep = malloc(20001);
	memset(deep, '[', 10000);
	memset(deep + 10000, ']', 10000);
	deep[20000] = 0;
	text = control_handle_request(&fake_ops, deep, 20000);
	ck_assert_ptr_nonnull(strstr(text, "request too long"));
	free(text);

	/* Nesting beyond the parser's depth limit within the size cap:
	 * refused by jansson, without recursion trouble. */
	memset(deep, '[', 3000);
	memset(deep + 3000, ']', 1000);
	text = control_handle_request(&fake_ops, deep, 4000);
	ck_assert_ptr_nonnull(strstr(text, "\"ok\":false"));
	ck_assert_ptr_nonnull(strstr(text, "depth"));
	free(text);
	free(deep);
	free(garbage);
}
END_TEST

START_TEST(command_table)
{
	ck_assert_int_eq(control_command_find("balloon-set"), CONTROL_BALLOON_SET);
	ck_assert_int_eq(control_command_find("nope"), -1);
	ck_assert_str_eq(control_command_arg(CONTROL_BALLOON_SET), "mib");
	ck_assert_str_eq(control_command_arg(CONTROL_SHUTDOWN), "timeout");
	ck_assert_ptr_null(control_command_arg(CONTROL_STATUS));
	ck_assert_str_eq(control_command_arg(CONTROL_TRACE), "filter");
	ck_assert(control_command_arg_is_text(CONTROL_TRACE));
	ck_assert(!control_command_arg_is_text(CONTROL_BALLOON_SET));
	ck_assert_ptr_null(control_command_name((enum control_command)99));
}
END_TEST

/* ---- trace on and off, carried out on a machine ---- */

static struct machine machine; /* only its device names are used */

static json_t *machine_reply(const char *req)
{
	const struct control_ops ops = { .run = machine_control_run, .ctx = &machine };
	char *text = control_handle_request(&ops, req, strlen(req));
	ck_assert_ptr_nonnull(text);
	json_t *j = json_loads(text, 0, NULL);
	ck_assert_ptr_nonnull(j);
	free(text);
	return j;
}

/* Lines one interrupt of virtio-blk0 and one of virtio-rng0 trace. */
static unsigned irq_lines(void)
{
	log_capture_start();
	TRACE(TRACE_IRQ, "virtio-blk0", "irq msix vector 1");
	TRACE(TRACE_IRQ, "virtio-rng0", "irq msix vector 2");
	return log_capture_stop("skiff: trace: ");
}

START_TEST(trace_on_and_off)
{
	snprintf(machine.virtio.slot[0].name, sizeof(machine.virtio.slot[0].name), "virtio-rng0");
	snprintf(machine.virtio.slot[1].name, sizeof(machine.virtio.slot[1].name), "virtio-blk0");
	machine.virtio.nr_slots = 2;
	ck_assert_uint_eq(irq_lines(), 0);

	json_t *j = machine_reply("{\"command\":\"trace\",\"filter\":\"virtio-blk0,irq\"}");
	ck_assert(json_is_true(json_object_get(j, "ok")));
	ck_assert_str_eq(json_string_value(json_object_get(j, "trace")), "irq of virtio-blk0");
	json_decref(j);
	ck_assert_uint_eq(trace_mask, 1u << TRACE_IRQ);
	ck_assert_uint_eq(irq_lines(), 1);

	/* A filter that cannot be, or names a device the machine lacks:
	 * refused, and the one in force stays. */
	j = machine_reply("{\"command\":\"trace\",\"filter\":\"virtio-net0\"}");
	ck_assert(json_is_false(json_object_get(j, "ok")));
	ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(j, "error")), "no device named 'virtio-net0'"));
	json_decref(j);
	j = machine_reply("{\"command\":\"trace\",\"filter\":\"irq;kick\"}");
	ck_assert(json_is_false(json_object_get(j, "ok")));
	json_decref(j);
	ck_assert_uint_eq(irq_lines(), 1);

	j = machine_reply("{\"command\":\"trace\",\"filter\":\"all\"}");
	ck_assert_str_eq(json_string_value(json_object_get(j, "trace")), "exit,kick,request,irq,status of every device");
	json_decref(j);
	ck_assert_uint_eq(irq_lines(), 2);

	j = machine_reply("{\"command\":\"trace\",\"filter\":\"off\"}");
	ck_assert(json_is_true(json_object_get(j, "ok")));
	ck_assert_str_eq(json_string_value(json_object_get(j, "trace")), "off");
	json_decref(j);
	ck_assert_uint_eq(trace_mask, 0);
	ck_assert_uint_eq(irq_lines(), 0);
}
END_TEST

/* ---- the socket, on a real reactor ---- */

static char dir[64], path[128];
static struct reactor reactor;
static struct control_socket cs;

static void sock_setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/skiff-ctl-test.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/api.sock", dir);
	ck_assert_int_eq(reactor_init(&reactor), 0);
	nr_runs = 0;
}

static void sock_teardown(void)
{
	reactor_stop(&reactor);
	control_socket_close(&cs);
	reactor_destroy(&reactor);
	unlink(path);
	rmdir(dir);
}

static void serve(unsigned idle_ms)
{
	char err[256];
	ck_assert_int_eq(control_socket_open(&cs, path, err, sizeof(err)), 0);
	ck_assert_int_eq(control_socket_attach(&cs, &reactor, &fake_ops, idle_ms), 0);
	ck_assert_int_eq(reactor_start(&reactor), 0);
}

static int client(void)
{
	return unix_client(path);
}

/* Read one reply line (or EOF: returns NULL) within timeout_ms. */
static char *read_reply(int fd, int timeout_ms)
{
	static char buf[8192];
	size_t len = 0;

	while (len < sizeof(buf) - 1) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ck_assert_int_eq(poll(&p, 1, timeout_ms), 1);
		ssize_t n = read(fd, buf + len, 1);
		if (n <= 0)
			return NULL;
		len++;
		if (buf[len - 1] == '\n')
			break;
	}
	buf[len] = 0;
	return buf;
}

static void ask(int fd, const char *req, const char *expect)
{
	ck_assert_int_eq(write(fd, req, strlen(req)), (ssize_t)strlen(req));
	char *r = read_reply(fd, 2000);
	ck_assert_ptr_nonnull(r);
	ck_assert_msg(strstr(r, expect), "reply '%s' lacks '%s'", r, expect);
}

static bool closed_within(int fd, int timeout_ms)
{
	char c;
	struct pollfd p = { .fd = fd, .events = POLLIN };
	/* EOF, or ECONNRESET when the server closed with our bytes unread. */
	return poll(&p, 1, timeout_ms) == 1 && read(fd, &c, 1) <= 0;
}

START_TEST(socket_requests_and_permissions)
{
	serve(0);
	struct stat st;
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert(S_ISSOCK(st.st_mode));
	ck_assert_uint_eq(st.st_mode & 0777, 0600);
	int fd = client();
	ask(fd, "{\"command\":\"status\"}\n", "\"ok\":true");
	/* Two requests in one write: two replies, in order. */
	ask(fd, "{\"command\":\"pause\"}\n{\"command\":\"resume\"}\n", "\"command\":\"pause\"");
	char *r = read_reply(fd, 2000);
	ck_assert_ptr_nonnull(strstr(r, "\"command\":\"resume\""));
	/* A request split over writes. */
	ck_assert_int_eq(write(fd, "{\"command\":", 11), 11);
	usleep(50000);
	ask(fd, "\"stats\"}\n", "\"command\":\"stats\"");
	ask(fd, "not json\n", "bad JSON");
	ask(fd, "{\"command\":\"\xff\"}\n", "bad JSON");
	ask(fd, "{\"command\":\"status\"}\n", "\"ok\":true"); /* still served after errors */
	close(fd);
}
END_TEST

/* skiff ctl's reply line (--json) for argv, and its exit status. */
static int run_client(char **argv, int argc, char *out, size_t outlen)
{
	FILE *capture = tmpfile();
	int saved = dup(STDOUT_FILENO);

	ck_assert_ptr_nonnull(capture);
	fflush(stdout);
	dup2(fileno(capture), STDOUT_FILENO);
	int status = control_client_main(argc, argv);
	fflush(stdout);
	dup2(saved, STDOUT_FILENO);
	close(saved);
	rewind(capture);
	if (!fgets(out, (int)outlen, capture))
		out[0] = '\0';
	fclose(capture);
	return status;
}

START_TEST(socket_client_trace_on_off)
{
	char out[512];

	serve(0);
	ck_assert_int_eq(run_client((char *[]){ "ctl", "--json", path, "trace", "on", "virtio-blk0,irq" }, 6, out,
				    sizeof(out)), 0);
	ck_assert_msg(strstr(out, "\"command\":\"trace\"") && strstr(out, "\"text\":\"virtio-blk0,irq\""), "%s", out);
	ck_assert_int_eq(run_client((char *[]){ "ctl", "--json", path, "trace", "on" }, 5, out, sizeof(out)), 0);
	ck_assert_msg(strstr(out, "\"text\":\"all\""), "%s", out);
	ck_assert_int_eq(run_client((char *[]){ "ctl", "--json", path, "trace", "off" }, 5, out, sizeof(out)), 0);
	ck_assert_msg(strstr(out, "\"text\":\"off\""), "%s", out);
	/* Refused by the client before anything is sent. */
	ck_assert_int_ne(run_client((char *[]){ "ctl", path, "trace", "off", "irq" }, 5, out, sizeof(out)), 0);
	ck_assert_int_ne(run_client((char *[]){ "ctl", path, "trace" }, 3, out, sizeof(out)), 0);
	ck_assert_int_ne(run_client((char *[]){ "ctl", path, "trace", "irq" }, 4, out, sizeof(out)), 0);
}
END_TEST

START_TEST(socket_idle_client_does_not_stall_others)
{
	serve(1000);
	int idle = client();
	int busy = client();
	/* Served at once although the other client holds a connection and
	 * says nothing. */
	for (int i = 0; i < 3; i++)
		ask(busy, "{\"command\":\"status\"}\n", "\"ok\":true");
	ck_assert(closed_within(idle, 5000)); /* hung up on after 1 s of silence */
	close(idle);
	close(busy);
}
END_TEST

START_TEST(socket_garbage_and_deep_nesting)
{
	serve(0);
	int other = client();
	int bad = client();
	/* 1 MiB of garbage without a newline: an error reply, then closed. */
	size_t big = 1 << 20;
	char *garbage = malloc(big);
	for (size_t i = 0; i < big; i++)
		garbage[i] = (char)('a' + i % 26);
	fcntl(bad, F_SETFL, O_NONBLOCK);
	size_t sent = 0;
	while (sent < big) {
		ssize_t n = write(bad, garbage + sent, big - sent);
		if (n <= 0)
			break; /* the server hung up (EPIPE) or the buffer is full */
		sent += (size_t)n;
	}
	fcntl(bad, F_SETFL, 0);
	char *r = read_reply(bad, 2000);
	ck_assert_ptr_nonnull(r);
	ck_assert_ptr_nonnull(strstr(r, "request too long"));
	ck_assert(closed_within(bad, 2000));
	close(bad);
	/* 10,000 levels of nesting: the same. */
	bad = client();
	memset(garbage, '[', 10000);
	garbage[10000] = '\n';
	(void)!write(bad, garbage, 10001);
	r = read_reply(bad, 2000);
	ck_assert_ptr_nonnull(strstr(r, "request too long"));
	close(bad);
	/* The other client never noticed. */
	ask(other, "{\"command\":\"status\"}\n", "\"ok\":true");
	close(other);
	free(garbage);
}
END_TEST

START_TEST(socket_client_that_never_reads)
{
	serve(0);
	int lazy = client();
	int other = client();
	/* Thousands of requests, no reads: the server must give up on it
	 * rather than block on its full buffer. */
	char line[] = "{\"command\":\"status\"}\n";
	fcntl(lazy, F_SETFL, O_NONBLOCK);
	for (int i = 0; i < 20000; i++)
		if (write(lazy, line, sizeof(line) - 1) < 0)
			break;
	ask(other, line, "\"ok\":true");
	close(lazy);
	close(other);
}
END_TEST

START_TEST(socket_too_many_clients)
{
	serve(0);
	int fds[CONTROL_MAX_CLIENTS + 1];
	for (int i = 0; i < CONTROL_MAX_CLIENTS; i++) {
		fds[i] = client();
		ask(fds[i], "{\"command\":\"status\"}\n", "\"ok\":true");
	}
	fds[CONTROL_MAX_CLIENTS] = client();
	char *r = read_reply(fds[CONTROL_MAX_CLIENTS], 2000);
	ck_assert_ptr_nonnull(strstr(r, "too many clients"));
	for (int i = 0; i <= CONTROL_MAX_CLIENTS; i++)
		close(fds[i]);
}
END_TEST

START_TEST(socket_stale_live_and_bad_paths)
{
	char err[256];
	struct control_socket other;

	/* A socket file nobody listens on (a skiff that died): replaced. */
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	strcpy(sa.sun_path, path);
	int dead = socket(AF_UNIX, SOCK_STREAM, 0);
	ck_assert_int_eq(bind(dead, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(dead);
	serve(0);
	int fd = client();
	ask(fd, "{\"command\":\"status\"}\n", "\"ok\":true");
	close(fd);
	/* A live one: refused, and left working. */
	ck_assert_int_eq(control_socket_open(&other, path, err, sizeof(err)), -EADDRINUSE);
	ck_assert_ptr_nonnull(strstr(err, "in use"));
	fd = client();
	ask(fd, "{\"command\":\"status\"}\n", "\"ok\":true");
	close(fd);
	/* A missing directory, a regular file, an over-long path. */
	char bad[300];
	snprintf(bad, sizeof(bad), "%s/missing/api.sock", dir);
	ck_assert_int_eq(control_socket_open(&other, bad, err, sizeof(err)), -ENOENT);
	ck_assert_ptr_nonnull(strstr(err, "directory does not exist"));
	snprintf(bad, sizeof(bad), "%s/file", dir);
	close(open(bad, O_CREAT | O_WRONLY, 0600));
	ck_assert_int_lt(control_socket_open(&other, bad, err, sizeof(err)), 0);
	ck_assert_ptr_nonnull(strstr(err, "not a socket"));
	struct stat st;
	ck_assert_int_eq(stat(bad, &st), 0); /* not removed */
	unlink(bad);
	memset(bad, 'x', sizeof(bad) - 1);
	bad[sizeof(bad) - 1] = 0;
	ck_assert_int_lt(control_socket_open(&other, bad, err, sizeof(err)), 0);
	ck_assert_ptr_nonnull(strstr(err, "too long"));
}
END_TEST

int main(void)
{
	signal(SIGPIPE, SIG_IGN); /* writing to a client the server hung up on */
	Suite *s = suite_create("control");
	TCase *proto = tcase_create("protocol");
	tcase_add_test(proto, every_command);
	tcase_add_test(proto, bad_requests);
	tcase_add_test(proto, oversized_and_deep);
	tcase_add_test(proto, command_table);
	tcase_add_test(proto, trace_on_and_off);
	suite_add_tcase(s, proto);

	TCase *sock = tcase_create("socket");
	tcase_add_checked_fixture(sock, sock_setup, sock_teardown);
	tcase_set_timeout(sock, 20);
	tcase_add_test(sock, socket_requests_and_permissions);
	tcase_add_test(sock, socket_client_trace_on_off);
	tcase_add_test(sock, socket_idle_client_does_not_stall_others);
	tcase_add_test(sock, socket_garbage_and_deep_nesting);
	tcase_add_test(sock, socket_client_that_never_reads);
	tcase_add_test(sock, socket_too_many_clients);
	tcase_add_test(sock, socket_stale_live_and_bad_paths);
	suite_add_tcase(s, sock);
	return check_run_suite(s);
}
