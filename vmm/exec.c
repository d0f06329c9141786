/* skiff exec: see vmm/exec.h and docs/exec.md. */
#include "vmm/exec.h"
#include "base/monotonic.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "devices/uart-8250.h"
#include "kvm/kvm.h"
#include "vmm/exec-copy-out.h"
#include "vmm/exec-initrd.h"
#include "vmm/exec-results.h"
#include "vmm/exec-status.h"
#include "vmm/exit-status.h"
#include "base/log.h"
#include "vmm/machine.h"
#include "vmm/options.h"

#define SYSRQ_GRACE_MS 500   /* between sysrq keys, and checks that the log went quiet */
#define SYSRQ_MAX_STEPS 20   /* at most 10 s of dumping before the guest is stopped */

/* ---- the command line ---- */

static int parse_fail_on(const char *v, unsigned *bits)
{
	char buf[64];
	snprintf(buf, sizeof(buf), "%s", v);
	*bits = 0;
	for (char *save, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		if (strcmp(t, "oops") == 0)
			*bits |= EXEC_FAIL_OOPS;
		else if (strcmp(t, "warn") == 0)
			*bits |= EXEC_FAIL_WARN;
		else if (strcmp(t, "none") != 0)
			return -1;
	}
	return 0;
}

/* GUEST:HOST, split at the first ':'; GUEST absolute and clean. */
static int parse_copy_out(const char *v, struct exec_options *xo, char *err, size_t errlen)
{
	const char *colon = strchr(v, ':');
	size_t glen = colon ? (size_t)(colon - v) : 0;
	if (xo->nr_copy_out == EXEC_MAX_COPY_OUT) {
		snprintf(err, errlen, "skiff exec: at most %d --copy-out", EXEC_MAX_COPY_OUT);
		return -1;
	}
	if (!colon || !colon[1] || glen >= EXEC_COPY_OUT_GUEST_MAX) {
		snprintf(err, errlen, "skiff exec: --copy-out %s: must be GUEST:HOST", v);
		return -1;
	}
	char *guest = xo->copy_out_guest[xo->nr_copy_out];
	memcpy(guest, v, glen);
	guest[glen] = '\0';
	if (!exec_guest_path(guest)) {
		snprintf(err, errlen, "skiff exec: --copy-out %s: GUEST must be an absolute path without . or ..", v);
		return -1;
	}
	xo->copy_out_host[xo->nr_copy_out++] = colon + 1;
	return 0;
}

int exec_parse(int argc, char **argv, struct exec_options *xo, char **run_argv, int *run_argc, char *err,
	       size_t errlen)
{
	memset(xo, 0, sizeof(*xo));
	xo->workdir = true;
	*run_argc = 0;
	run_argv[(*run_argc)++] = "skiff";
	run_argv[(*run_argc)++] = "run";
	/* First, so the user's --cmdline comes after it and wins.
	 * sysrq_always_enabled: --timeout's dump must work whatever the
	 * kernel's default mask (Debian's leaves out the task dump).
	 * loglevel=5: warnings and worse only (what --fail-on and the
	 * failure messages read); each byte on COM1 is an exit, and the
	 * full boot log is ~4x the bytes.
	 * (Not no_timer_check: skiff's PIT reaches Linux only through the
	 * fallback that check leads to; without it no guest got a timer.) */
	run_argv[(*run_argc)++] = "--cmdline";
	run_argv[(*run_argc)++] = "rdinit=/skiff/init sysrq_always_enabled loglevel=5";
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "--") == 0) {
			xo->cmd = argv + i + 1;
			xo->cmd_argc = argc - i - 1;
			break;
		}
		if (strcmp(a, "--no-workdir") == 0) {
			xo->workdir = false;
			continue;
		}
		if (strcmp(a, "--ktap") == 0) {
			xo->ktap = true;
			continue;
		}
		bool takes = strcmp(a, "--timeout") == 0 || strcmp(a, "--kernel-log") == 0 || strcmp(a, "--fail-on") == 0 ||
			     strcmp(a, "--copy-in") == 0 || strcmp(a, "--copy-out") == 0 || strcmp(a, "--junit") == 0;
		if (takes && !v) {
			snprintf(err, errlen, "skiff exec: %s needs a value", a);
			return -1;
		}
		if (strcmp(a, "--timeout") == 0) {
			char *end;
			xo->timeout_s = strtod(v, &end);
			if (*end || !(xo->timeout_s > 0 && xo->timeout_s <= 86400)) {
				snprintf(err, errlen, "skiff exec: --timeout %s: must be seconds, more than 0 and at most 86400", v);
				return -1;
			}
		} else if (strcmp(a, "--kernel-log") == 0) {
			xo->kernel_log = v;
		} else if (strcmp(a, "--junit") == 0) {
			xo->junit = v;
		} else if (strcmp(a, "--fail-on") == 0) {
			if (parse_fail_on(v, &xo->fail_on) < 0) {
				snprintf(err, errlen, "skiff exec: --fail-on %s: must be a list of oops, warn (or none)", v);
				return -1;
			}
		} else if (strcmp(a, "--copy-in") == 0) {
			if (xo->nr_copy_in == EXEC_MAX_COPY_IN) {
				snprintf(err, errlen, "skiff exec: at most %d --copy-in", EXEC_MAX_COPY_IN);
				return -1;
			}
			xo->copy_in[xo->nr_copy_in++] = v;
		} else if (strcmp(a, "--copy-out") == 0) {
			if (parse_copy_out(v, xo, err, errlen) < 0)
				return -1;
		} else if (strcmp(a, "--console") == 0 || strcmp(a, "--cmdline-replace") == 0 ||
			   strcmp(a, "--api-sock") == 0) {
			snprintf(err, errlen, "skiff exec: %s is skiff run's, not exec's (exec owns the console and init)", a);
			return -1;
		} else {
			run_argv[(*run_argc)++] = argv[i];
			continue;
		}
		i++; /* the value */
	}
	if (xo->cmd_argc == 0) {
		snprintf(err, errlen, "skiff exec: no command: skiff exec --kernel FILE [OPTIONS] -- CMD [ARGS...]");
		return -1;
	}
	return 0;
}

/* ---- while the guest runs ---- */

struct exec_run {
	const struct exec_options *xo;
	struct machine *m;
	int status_fd;             /* our end of the skiff.status port */
	int log_fd;                /* the kernel log (COM1) */
	struct exec_status_parser parser;
	bool reached_init, got_status, bad_status, timed_out;
	enum exec_msg result;
	int value;
	unsigned sysrq_step, sysrq_keys_sent;
	off_t log_len_seen;
};

static void on_status(void *ctx, struct machine *m)
{
	struct exec_run *x = ctx;
	char buf[256];
	ssize_t n = read(x->status_fd, buf, sizeof(buf));
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		m->watch.fd = -1; /* closed: nothing more to hear */
		return;
	}
	for (ssize_t i = 0; i < n && !x->got_status && !x->bad_status; i++) {
		int v = 0;
		switch (exec_status_byte(&x->parser, buf[i], &v)) {
		case EXEC_MSG_NONE:
			break;
		case EXEC_MSG_HELLO:
			x->reached_init = true;
			break;
		case EXEC_MSG_EXIT:
		case EXEC_MSG_SIGNAL:
			x->result = x->parser.line[0] == 'e' ? EXEC_MSG_EXIT : EXEC_MSG_SIGNAL;
			x->value = v;
			x->got_status = true;
			/* The guest waits for this before it powers off. A full
			 * socket (a guest that never reads) only loses the ack. */
			if (write(x->status_fd, EXEC_STATUS_ACK, strlen(EXEC_STATUS_ACK)) < 0)
				log_warn("exec", "cannot acknowledge the status: %s", strerror(errno));
			break;
		case EXEC_MSG_BAD:
			x->bad_status = true;
			machine_stop(m, STOP_GUEST_ERROR, 0);
			break;
		}
	}
}

/* --timeout: dump the guest's tasks and locks through the serial
 * console's magic SysRq (a BREAK, then the key), wait until the kernel
 * log goes quiet (bounded), then stop the guest. */
static void on_deadline(void *ctx, struct machine *m)
{
	/* console loglevel 8 (the dumps print at KERN_INFO, under exec's
	 * loglevel=5); show tasks; show locks held (with lockdep) */
	static const char keys[] = {'8', 't', 'd'};
	struct exec_run *x = ctx;

	if (!x->timed_out) {
		x->timed_out = true;
		log_info("exec", "--timeout %g s ran out: dumping the guest's tasks through sysrq", x->xo->timeout_s);
	}
	off_t len = lseek(x->log_fd, 0, SEEK_CUR);
	unsigned step = x->sysrq_step++;
	/* A BREAK goes only into an empty FIFO: a guest that does not read
	 * its serial port (hung, or its tty never opened) gets fewer keys. */
	if (x->sysrq_keys_sent < sizeof(keys) && step < SYSRQ_MAX_STEPS) {
		if (uart_8250_send_break(&m->uart))
			uart_8250_receive(&m->uart, (const uint8_t *)&keys[x->sysrq_keys_sent++], 1);
	} else if (len == x->log_len_seen || step >= SYSRQ_MAX_STEPS) {
		machine_stop(m, STOP_SIGNAL, EXIT_EXEC_TIMEOUT);
		return;
	}
	x->log_len_seen = len;
	m->watch.deadline_ns = monotonic_ns() + (int64_t)SYSRQ_GRACE_MS * 1000000;
}

/* ---- after: the kernel log ---- */

/* The log as written so far (its fd's offset: the memfd is pre-sized).
 * lseek and read, not pread: the main thread's seccomp filter is on. */
static char *read_log(int fd, size_t *len)
{
	off_t end = lseek(fd, 0, SEEK_CUR);
	char *buf = malloc((size_t)(end > 0 ? end : 0) + 1);
	size_t got = 0;

	if (!buf)
		return NULL;
	if (end > 0 && lseek(fd, 0, SEEK_SET) == 0)
		while (got < (size_t)end) {
			ssize_t n = read(fd, buf + got, (size_t)end - got);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				break;
			got += (size_t)n;
		}
	*len = got;
	buf[got] = '\0';
	return buf;
}

/* The first log line containing one of pats, copied into line; or false. */
static bool find_line(const char *log, size_t len, const char *const *pats, char *line, size_t linelen)
{
	for (const char *p = log; p < log + len;) {
		const char *eol = memchr(p, '\n', (size_t)(log + len - p));
		size_t n = eol ? (size_t)(eol - p) : (size_t)(log + len - p);
		for (unsigned i = 0; pats[i]; i++)
			if (memmem(p, n, pats[i], strlen(pats[i]))) {
				while (n && (p[n - 1] == '\r'))
					n--;
				snprintf(line, linelen, "%.*s", (int)n, p);
				return true;
			}
		p += n + 1;
	}
	return false;
}

static void show_log_tail(const char *log, size_t len, const struct exec_options *xo)
{
	const char *start = log + len;
	unsigned lines = 0;
	while (start > log && lines <= EXEC_LOG_TAIL_LINES)
		if (*--start == '\n')
			lines++;
	if (start > log)
		start++;
	fprintf(stderr, "skiff exec: last lines of the kernel log%s%s%s:\n", xo->kernel_log ? " (all of it in " : "",
		xo->kernel_log ? xo->kernel_log : "", xo->kernel_log ? ")" : "");
	fwrite(start, 1, (size_t)(log + len - start), stderr);
	if (len && log[len - 1] != '\n')
		fputc('\n', stderr);
}

static const char *const panic_pats[] = {"Kernel panic - not syncing", NULL};
static const char *const oops_pats[] = {"Oops:", "BUG:", "kernel BUG at", "KASAN:", "general protection fault", NULL};
static const char *const warn_pats[] = {"WARNING:", NULL};

/* skiff's exit status from what happened; one line on stderr if it is not CMD's own. */
static int exec_verdict(const struct exec_run *x, int machine_status)
{
	size_t len = 0;
	char *log = read_log(x->log_fd, &len);
	char line[256] = "";
	int status;

	if (!log)
		return EXIT_EXEC_ERROR;
	if (x->got_status && x->result == EXEC_MSG_EXIT) {
		status = x->value;
		if ((x->xo->fail_on & EXEC_FAIL_OOPS) && find_line(log, len, oops_pats, line, sizeof(line)))
			status = EXIT_EXEC_OOPS;
		else if ((x->xo->fail_on & EXEC_FAIL_WARN) && find_line(log, len, warn_pats, line, sizeof(line)))
			status = EXIT_EXEC_OOPS;
		if (status == EXIT_EXEC_OOPS)
			fprintf(stderr, "skiff exec: CMD exited with %d, but the kernel log has: %s\n", x->value, line);
	} else if (x->got_status) {
		status = EXIT_EXEC_CMD_SIGNAL;
		fprintf(stderr, "skiff exec: CMD was killed by signal %d (%s)\n", x->value, strsignal(x->value));
	} else if (x->timed_out) {
		status = EXIT_EXEC_TIMEOUT;
		fprintf(stderr, "skiff exec: --timeout %g s ran out%s\n", x->xo->timeout_s,
			x->reached_init ? " while CMD ran" : " before the guest reached init");
	} else if (x->m->stop_reason == STOP_SIGNAL) {
		status = machine_status; /* stopped from the host: 128 + signal */
	} else if (x->bad_status) {
		status = EXIT_EXEC_ERROR;
		fprintf(stderr, "skiff exec: the guest sent a malformed status line; stopped it\n");
	} else if (!x->reached_init) {
		/* A panic on the way (no root, no init) is this class too. */
		status = EXIT_EXEC_NO_INIT;
		find_line(log, len, panic_pats, line, sizeof(line));
		fprintf(stderr, "skiff exec: the guest never reached skiff's init%s%s\n", line[0] ? ": " : "", line);
	} else if (find_line(log, len, panic_pats, line, sizeof(line)) || x->m->stop_reason == STOP_PANIC) {
		status = EXIT_EXEC_PANIC;
		fprintf(stderr, "skiff exec: %s\n", line[0] ? line : "guest kernel panicked (pvpanic)");
	} else {
		status = EXIT_EXEC_PANIC;
		fprintf(stderr, "skiff exec: the guest stopped (exit status %d from the machine) before CMD's status "
				"arrived\n", machine_status);
	}
	/* The kernel's failures, not CMD's: show where the kernel was. */
	if ((!x->got_status || status == EXIT_EXEC_OOPS) && !(x->m->stop_reason == STOP_SIGNAL && !x->timed_out))
		show_log_tail(log, len, x->xo);
	free(log);
	return status;
}

/* ---- setting up ---- */

/* Where COM1 goes: --kernel-log FILE, or a memfd sized to the cap (so the
 * guest cannot grow our memory past it; pages are touched as written). */
static int open_kernel_log(const struct exec_options *xo, char *err, size_t errlen)
{
	int fd;
	if (xo->kernel_log) {
		fd = open(xo->kernel_log, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd < 0)
			snprintf(err, errlen, "skiff exec: --kernel-log %s: %s", xo->kernel_log, strerror(errno));
		return fd < 0 ? -errno : fd;
	}
	fd = memfd_create("skiff-kernel-log", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0 || ftruncate(fd, EXEC_KERNEL_LOG_MAX) < 0 || fcntl(fd, F_ADD_SEALS, F_SEAL_GROW | F_SEAL_SHRINK) < 0) {
		snprintf(err, errlen, "skiff exec: cannot keep the kernel log: %s", strerror(errno));
		if (fd >= 0)
			close(fd);
		return -errno;
	}
	return fd;
}

static uint64_t host_mem_bytes(void)
{
	long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGE_SIZE);
	return pages > 0 && size > 0 ? (uint64_t)pages * (uint64_t)size : 0;
}

static int exec_boot(const struct exec_options *xo, int run_argc, char **run_argv, int status_fd, int log_fd)
{
	static struct machine machine; /* large: not on the stack */
	struct options opts;
	struct options_limits limits = {.host_mem_bytes = host_mem_bytes(), .max_cpus = kvm_max_vcpus_probe()};
	char err[512] = "";
	int status = EXIT_EXEC_ERROR;

	int r = options_parse(run_argc, run_argv, &limits, &opts, err, sizeof(err));
	if (r != OPTIONS_RUN) {
		fprintf(stderr, "%s\n", r == OPTIONS_ERROR ? err : "skiff exec: see skiff --help");
		return EXIT_EXEC_ERROR;
	}
	if (options_check_files(&opts, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		options_free(&opts);
		return EXIT_EXEC_ERROR;
	}
	int initrd = exec_initrd_build(opts.initrd, xo, err, sizeof(err));
	if (initrd < 0) {
		fprintf(stderr, "%s\n", err);
		options_free(&opts);
		return EXIT_EXEC_ERROR;
	}
	free(opts.initrd);
	if (asprintf(&opts.initrd, "/proc/self/fd/%d", initrd) < 0)
		opts.initrd = NULL;
	opts.console = CONSOLE_LOG;
	opts.console_fd = log_fd;
	if (opts.quiet)
		log_threshold = LOG_ERROR;
	else if (opts.verbose)
		log_threshold = LOG_DEBUG;
	else
		log_threshold = LOG_WARN; /* CI output is CMD's; skiff speaks when something is wrong */

	if (!opts.initrd || machine_create(&machine, &opts, err, sizeof(err)) < 0) {
		fprintf(stderr, "skiff exec: %s\n", err);
		goto out;
	}
	close(initrd); /* loaded into guest memory */
	initrd = -1;
	struct exec_run x = {.xo = xo, .m = &machine, .status_fd = status_fd, .log_fd = log_fd};
	machine.watch = (struct machine_watch){
		.fd = status_fd, .on_readable = on_status, .on_deadline = on_deadline, .ctx = &x,
		.deadline_ns = xo->timeout_s ? monotonic_ns() + (int64_t)(xo->timeout_s * 1e9) : 0,
	};
	int machine_status = machine_run(&machine);
	machine_destroy(&machine);
	status = exec_verdict(&x, machine_status);
out:
	if (initrd >= 0)
		close(initrd);
	options_free(&opts);
	return status;
}

int exec_main(int argc, char **argv)
{
	struct exec_options xo;
	char err[512];
	char **run_argv = calloc((size_t)argc + 16, sizeof(*run_argv));
	int run_argc, status = EXIT_EXEC_ERROR, pair[2] = {-1, -1}, log_fd = -1, stdout_fd = STDOUT_FILENO;
	char *ports = NULL;
	struct exec_results results;
	bool results_on = false;
	struct exec_copy_out copy_out = {0};

	if (!run_argv)
		return EXIT_EXEC_ERROR;
	if (exec_parse(argc, argv, &xo, run_argv, &run_argc, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		goto out;
	}
	/* First: the helpers must not inherit the other pipes' ends. */
	if (exec_copy_out_start(&copy_out, &xo, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		goto out;
	}
	/* The status port: one end for the guest's port, one for us. */
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) < 0 || fcntl(pair[0], F_SETFL, O_NONBLOCK) < 0) {
		fprintf(stderr, "skiff exec: socketpair: %s\n", strerror(errno));
		goto out;
	}
	if ((log_fd = open_kernel_log(&xo, err, sizeof(err))) < 0) {
		fprintf(stderr, "%s\n", err);
		goto out;
	}
	/* --junit/--ktap: CMD's stdout through a relay that keeps a copy. */
	if (xo.junit || xo.ktap) {
		if (exec_results_start(&results, xo.junit, err, sizeof(err)) < 0) {
			fprintf(stderr, "%s\n", err);
			goto out;
		}
		results_on = true;
		stdout_fd = results.port_fd;
	}
	if (asprintf(&ports, "console,port=skiff.stdout:fd=%d,port=skiff.stderr:fd=%d,port=skiff.status:fd=%d",
		     stdout_fd, STDERR_FILENO, pair[1]) < 0)
		goto out;
	for (unsigned i = 0; i < copy_out.nr; i++) {
		char *more = NULL;
		if (asprintf(&more, "%s,port=skiff.copy%u:fd=%d", ports, i, copy_out.port_fd[i]) < 0)
			goto out;
		free(ports);
		ports = more;
	}
	run_argv[run_argc++] = "--device";
	run_argv[run_argc++] = ports;
	status = exec_boot(&xo, run_argc, run_argv, pair[0], log_fd);
	/* A failed copy-out replaces a status below its own (CMD's 0-117);
	 * skiff's failure classes and CMD's 118-255 stand. */
	int copied = exec_copy_out_finish(&copy_out, true);
	if (copied && status < EXIT_EXEC_COPY_MISSING)
		status = copied;
out:
	exec_copy_out_finish(&copy_out, false); /* the guest never ran: nothing to say */
	if (results_on) {
		const char *suite = strrchr(xo.cmd[0], '/') ? strrchr(xo.cmd[0], '/') + 1 : xo.cmd[0];
		/* A JUnit file that could not be written fails a run that passed. */
		if (exec_results_finish(&results, xo.junit, xo.ktap, suite) < 0 && status == 0)
			status = EXIT_EXEC_ERROR;
	}
	for (int i = 0; i < 2; i++)
		if (pair[i] >= 0)
			close(pair[i]);
	if (log_fd >= 0)
		close(log_fd);
	free(ports);
	free(run_argv);
	return status;
}
