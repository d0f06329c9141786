/* skiff ctl: the control socket's client. See control-client.h. */
#include "vmm/control-client.h"
#include "base/monotonic.h"

#include <errno.h>
#include <jansson.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "vmm/control-protocol.h"
#include "vmm/exit-status.h"

#define REPLY_MAX (1 << 20)
#define REPLY_TIMEOUT_MS 15000

static void usage(FILE *f)
{
	fputs("Usage: skiff ctl [--json] PATH COMMAND [ARG]\n"
	      "Send COMMAND to the skiff serving --api-sock PATH and print its reply.\n"
	      "\n"
	      "  status                 running, pausing or paused; uptime, vCPUs, memory, devices\n"
	      "  pause | resume         stop / restart every vCPU\n"
	      "  shutdown [--timeout S] press the ACPI power button; skiff stops the guest\n"
	      "                         itself if it has not powered off after S seconds\n"
	      "                         (default 30); waits until skiff has exited\n"
	      "  kill                   stop the guest at once\n"
	      "  balloon-set MIB        set the balloon's target size\n"
	      "  balloon-stats          the guest's latest memory statistics\n"
	      "  stats                  device counters, exits by reason, emulation counts\n"
	      "  trace on [FILTER]      log events on skiff's stderr as --trace=FILTER does\n"
	      "                         (default all); FILTER as in skiff(1)\n"
	      "  trace off              stop tracing\n"
	      "\n"
	      "  --json                 print the reply as the JSON line skiff sent\n",
	      f);
}

static bool parse_number(const char *s, uint64_t *out)
{
	char *end;

	if (!*s || *s == '-' || *s == '+')
		return false;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || *end)
		return false;
	*out = v;
	return true;
}

/* Read until a newline or EOF, waiting at most until deadline_ms.
 * Returns the bytes read (the line, without its newline), -1 on timeout
 * or error. */
static long read_line(int fd, char *buf, size_t cap, int64_t deadline_ms)
{
	size_t len = 0;

	while (len < cap) {
		int64_t left = deadline_ms - monotonic_ms();
		struct pollfd p = { .fd = fd, .events = POLLIN };
		if (left <= 0 || poll(&p, 1, (int)left) <= 0)
			return -1;
		ssize_t n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return len ? (long)len : -1;
		char *nl = memchr(buf + len, '\n', (size_t)n);
		len += (size_t)n;
		if (nl)
			return nl - buf;
	}
	return -1;
}

/* Wait until skiff closes the connection (it exited). */
static bool wait_for_close(int fd, int64_t deadline_ms)
{
	char buf[256];

	for (;;) {
		int64_t left = deadline_ms - monotonic_ms();
		struct pollfd p = { .fd = fd, .events = POLLIN };
		if (left <= 0 || poll(&p, 1, (int)left) <= 0)
			return false;
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN))
			return true;
	}
}

static void print_value(const json_t *v, int indent);

static void print_scalar(const json_t *v)
{
	if (json_is_string(v))
		printf("%s", json_string_value(v));
	else if (json_is_integer(v))
		printf("%lld", (long long)json_integer_value(v));
	else if (json_is_real(v))
		printf("%.2f", json_real_value(v));
	else if (json_is_true(v))
		printf("yes");
	else if (json_is_false(v))
		printf("no");
	else
		printf("-");
}

/* An object or array element in one line: "name=virtio-rng0 type=rng". */
static void print_inline(const json_t *v)
{
	const char *key;
	json_t *e;
	bool first = true;

	if (!json_is_object(v)) {
		print_scalar(v);
		return;
	}
	json_object_foreach((json_t *)v, key, e) {
		printf("%s%s=", first ? "" : " ", key);
		print_scalar(e);
		first = false;
	}
}

static void print_value(const json_t *v, int indent)
{
	const char *key;
	json_t *e;
	size_t i;

	if (json_is_object(v)) {
		json_object_foreach((json_t *)v, key, e) {
			if (strcmp(key, "ok") == 0 && indent == 0)
				continue;
			printf("%*s%s:", indent, "", key);
			if (json_is_object(e) || json_is_array(e)) {
				printf("\n");
				print_value(e, indent + 2);
			} else {
				printf(" ");
				print_scalar(e);
				printf("\n");
			}
		}
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, e) {
			printf("%*s- ", indent, "");
			print_inline(e);
			printf("\n");
		}
	}
}

int control_client_main(int argc, char **argv)
{
	bool raw = false;
	const char *path = NULL, *cmd_name = NULL, *arg_text = NULL, *filter = NULL;
	uint64_t arg = 0;
	bool have_arg = false;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			raw = true;
		else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			return EXIT_GUEST_OK;
		} else if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc)
			arg_text = argv[++i];
		else if (!path)
			path = argv[i];
		else if (!cmd_name)
			cmd_name = argv[i];
		else if (!arg_text)
			arg_text = argv[i];
		else if (!filter && strcmp(cmd_name, "trace") == 0)
			filter = argv[i];
		else {
			fprintf(stderr, "skiff ctl: unexpected argument '%s'\n", argv[i]);
			return EXIT_ERROR;
		}
	}
	if (!path || !cmd_name) {
		usage(stderr);
		return EXIT_ERROR;
	}
	int cmd = control_command_find(cmd_name);
	if (cmd < 0) {
		fprintf(stderr, "skiff ctl: unknown command '%s' (try 'skiff ctl --help')\n", cmd_name);
		return EXIT_ERROR;
	}
	const char *arg_key = control_command_arg(cmd);
	if (cmd == CONTROL_TRACE) {
		/* "trace on [FILTER]" / "trace off": the wire has the filter or "off". */
		if (!arg_text || (strcmp(arg_text, "on") != 0 && strcmp(arg_text, "off") != 0) ||
		    (filter && strcmp(arg_text, "off") == 0)) {
			fprintf(stderr, "skiff ctl: use 'trace on [FILTER]' or 'trace off'\n");
			return EXIT_ERROR;
		}
		arg_text = strcmp(arg_text, "off") == 0 ? "off" : filter ? filter : "all";
	} else if (arg_text) {
		if (!arg_key) {
			fprintf(stderr, "skiff ctl: %s takes no argument\n", cmd_name);
			return EXIT_ERROR;
		}
		if (!parse_number(arg_text, &arg)) {
			fprintf(stderr, "skiff ctl: %s: '%s' is not a whole number\n", cmd_name, arg_text);
			return EXIT_ERROR;
		}
		have_arg = true;
	} else if (cmd == CONTROL_BALLOON_SET) {
		fprintf(stderr, "skiff ctl: balloon-set needs a size in MiB\n");
		return EXIT_ERROR;
	}

	json_t *req = json_pack("{s:s}", "command", cmd_name);
	if (cmd == CONTROL_TRACE)
		json_object_set_new(req, arg_key, json_string(arg_text));
	else if (have_arg)
		json_object_set_new(req, arg_key, json_integer((json_int_t)arg));
	char *body = json_dumps(req, JSON_COMPACT);
	json_decref(req);

	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "skiff ctl: %s: path too long for a Unix socket\n", path);
		free(body);
		return EXIT_ERROR;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		fprintf(stderr, "skiff ctl: cannot connect to %s: %s\n", path, strerror(errno));
		free(body);
		if (fd >= 0)
			close(fd);
		return EXIT_ERROR;
	}
	size_t len = strlen(body);
	body[len] = '\n'; /* json_dumps' NUL becomes the request's newline */
	bool sent = send(fd, body, len + 1, MSG_NOSIGNAL) == (ssize_t)(len + 1);
	free(body);

	char *reply_text = malloc(REPLY_MAX);
	long n = sent && reply_text ? read_line(fd, reply_text, REPLY_MAX, monotonic_ms() + REPLY_TIMEOUT_MS) : -1;
	if (n < 0) {
		fprintf(stderr, "skiff ctl: no reply from %s\n", path);
		free(reply_text);
		close(fd);
		return EXIT_ERROR;
	}
	json_error_t jerr;
	json_t *reply = json_loadb(reply_text, (size_t)n, 0, &jerr);
	if (raw)
		printf("%.*s\n", (int)n, reply_text);
	free(reply_text);
	if (!json_is_object(reply)) {
		fprintf(stderr, "skiff ctl: unreadable reply: %s\n", reply ? "not an object" : jerr.text);
		json_decref(reply);
		close(fd);
		return EXIT_ERROR;
	}
	int status = EXIT_GUEST_OK;
	if (!json_is_true(json_object_get(reply, "ok"))) {
		const char *why = json_string_value(json_object_get(reply, "error"));
		fprintf(stderr, "skiff ctl: %s: %s\n", cmd_name, why ? why : "refused");
		status = 1;
	} else if (!raw) {
		print_value(reply, 0);
	}
	if (status == EXIT_GUEST_OK && (cmd == CONTROL_SHUTDOWN || cmd == CONTROL_KILL)) {
		uint64_t wait_s = cmd == CONTROL_KILL ? 10 : (have_arg ? arg : CONTROL_DEFAULT_SHUTDOWN_TIMEOUT) + 10;
		if (!wait_for_close(fd, monotonic_ms() + (int64_t)wait_s * 1000)) {
			fprintf(stderr, "skiff ctl: skiff did not exit within %llu s\n", (unsigned long long)wait_s);
			status = 1;
		} else if (!raw) {
			printf("skiff exited\n");
		}
	}
	json_decref(reply);
	close(fd);
	return status;
}
