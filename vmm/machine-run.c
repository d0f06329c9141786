/* Running a skiff machine until it stops. See machine-run.h. */
#include "vmm/machine-run.h"
#include "base/monotonic.h"
#include "vmm/exit-status.h"
#include "vmm/sandbox.h"
#include "base/log.h"
#include "base/terminal.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

/* ---- stopping ---- */

void machine_stop(void *ctx, enum stop_reason why, int status)
{
	struct machine *m = ctx;
	bool expected = false;

	if (!atomic_compare_exchange_strong(&m->stopping, &expected, true))
		return; /* someone else stopped it first */
	m->stop_reason = why;
	m->stop_status = status;
	uint64_t one = 1;
	(void)!write(m->stop_eventfd, &one, sizeof(one));
}

static int machine_exit_status(const struct machine *m)
{
	switch (m->stop_reason) {
	case STOP_POWEROFF:
	case STOP_RESET:
		return EXIT_GUEST_OK;
	case STOP_DEBUG_EXIT:
	case STOP_SIGNAL:
		return m->stop_status;
	case STOP_PANIC:
		return EXIT_GUEST_PANIC;
	case STOP_TRIPLE_FAULT:
		return EXIT_TRIPLE_FAULT;
	case STOP_GUEST_ERROR:
		break;
	}
	return EXIT_VCPU_ERROR;
}

static const char *stop_reason_text(enum stop_reason why)
{
	switch (why) {
	case STOP_POWEROFF: return "guest powered off";
	case STOP_RESET: return "guest reset";
	case STOP_DEBUG_EXIT: return "guest wrote the debug-exit port";
	case STOP_PANIC: return "guest kernel panicked";
	case STOP_TRIPLE_FAULT: return "guest triple-faulted";
	case STOP_GUEST_ERROR: return "vCPU error";
	case STOP_SIGNAL: return "stopped from the host";
	}
	return "?";
}

/* The main thread's job while the guest runs: move console input to the
 * UART, and turn signals and stop requests into a clean stop. */
static void machine_console_loop(struct machine *m, int sigfd, bool interactive)
{
	struct terminal_escape esc = { 0 };
	unsigned char in[256], pending[sizeof(in) + 1];
	unsigned pending_len = 0, pending_off = 0;
	bool stdin_open = m->opts->console == CONSOLE_SERIAL;

	while (!atomic_load(&m->stopping)) {
		struct pollfd fds[4] = {
			{ .fd = m->stop_eventfd, .events = POLLIN },
			{ .fd = sigfd, .events = POLLIN },
			{ .fd = stdin_open && pending_len == 0 ? STDIN_FILENO : -1, .events = POLLIN },
			{ .fd = m->watch.fd, .events = POLLIN },
		};
		/* While the UART's FIFO is full, come back soon to push the rest. */
		int timeout = pending_len ? 10 : -1;
		if (m->watch.deadline_ns) {
			int64_t left_ms = (m->watch.deadline_ns - monotonic_ns()) / 1000000 + 1;
			if (left_ms <= 0) {
				m->watch.deadline_ns = 0;
				m->watch.on_deadline(m->watch.ctx, m); /* may set a new deadline */
				continue;
			}
			if (timeout < 0 || left_ms < timeout)
				timeout = left_ms > INT32_MAX ? INT32_MAX : (int)left_ms;
		}
		if (poll(fds, 4, timeout) < 0 && errno != EINTR)
			break;
		if (fds[3].revents)
			m->watch.on_readable(m->watch.ctx, m);
		if (fds[1].revents & POLLIN) {
			struct signalfd_siginfo si;
			if (read(sigfd, &si, sizeof(si)) == sizeof(si)) {
				log_info(NULL, "received signal %u, stopping the guest", si.ssi_signo);
				machine_stop(m, STOP_SIGNAL, EXIT_SIGNAL(si.ssi_signo));
			}
		}
		if (fds[2].revents & (POLLIN | POLLHUP)) {
			ssize_t n = read(STDIN_FILENO, in, sizeof(in));
			if (n <= 0) {
				stdin_open = false; /* EOF: the guest keeps running without input */
			} else {
				bool quit = false;
				pending_len = interactive ? terminal_filter_input(&esc, in, n, pending, &quit) : (unsigned)n;
				if (!interactive)
					memcpy(pending, in, n);
				pending_off = 0;
				if (quit)
					machine_stop(m, STOP_SIGNAL, EXIT_GUEST_OK);
			}
		}
		if (pending_len) {
			size_t took = uart_8250_receive(&m->uart, pending + pending_off, pending_len);
			pending_off += took;
			pending_len -= took;
		}
	}
}

int machine_run(struct machine *m)
{
	sigset_t stop_signals;
	int ret;

	/* Signals arrive through a signalfd in the main thread; vCPU threads
	 * inherit the mask, so a SIGTERM never interrupts a device model. */
	sigemptyset(&stop_signals);
	sigaddset(&stop_signals, SIGTERM);
	sigaddset(&stop_signals, SIGINT);
	sigaddset(&stop_signals, SIGHUP);
	sigaddset(&stop_signals, SIGQUIT);
	pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
	int sigfd = signalfd(-1, &stop_signals, SFD_CLOEXEC);
	if (sigfd < 0 || vcpu_signals_init() < 0) {
		log_error(NULL, "cannot set up signal handling: %s", strerror(errno));
		return EXIT_ERROR;
	}
	signal(SIGPIPE, SIG_IGN);

	char err[256];
	if ((ret = sandbox_lock_down(err, sizeof(err))) < 0) {
		log_error(NULL, "%s", err);
		return EXIT_ERROR;
	}
	if ((ret = reactor_start(&m->reactor)) < 0 || (ret = virtio_devices_start(&m->virtio)) < 0) {
		log_error(NULL, "cannot start the device reactor: %s", strerror(-ret));
		return EXIT_ERROR;
	}
	bool interactive = (m->opts->console == CONSOLE_SERIAL || m->opts->console == CONSOLE_VIRTIO) &&
			   terminal_enter_raw();
	for (unsigned i = 0; i < m->nr_vcpus_created; i++) {
		if ((ret = vcpu_start(&m->vcpus[i])) < 0) {
			log_error(NULL, "cannot start vCPU %u: %s", i, strerror(-ret));
			machine_stop(m, STOP_GUEST_ERROR, 0);
			break;
		}
	}
	/* Every thread is started: the main thread's own filter can go on. */
	thread_role_enter(THREAD_ROLE_MAIN);

	machine_console_loop(m, sigfd, interactive);

	vcpu_resume_all(&m->pause); /* parked vCPUs see `stopping` and leave */
	for (unsigned i = 0; i < m->nr_vcpus_created; i++)
		vcpu_kick(&m->vcpus[i]);
	for (unsigned i = 0; i < m->nr_vcpus_created; i++)
		vcpu_join(&m->vcpus[i]);
	reactor_stop(&m->reactor);
	terminal_restore();
	close(sigfd);

	int status = machine_exit_status(m);
	int64_t end = monotonic_ns();
	int64_t first = atomic_load(&m->first_run_ns);
	log_info(NULL, "%s after %.2f s (first KVM_RUN %.1f ms after start); exit status %d",
		 stop_reason_text(m->stop_reason), (end - m->start_ns) / 1e9,
		 first ? (first - m->start_ns) / 1e6 : -1.0, status);
	/* Stopped from outside (a test's timeout, Ctrl-C): say where the guest was. */
	if (m->stop_reason == STOP_SIGNAL)
		for (unsigned i = 0; i < m->nr_vcpus_created; i++)
			vcpu_log_last_position(&m->vcpus[i]);
	if (m->swkvm.active) {
		char fixup[96];
		if (m->swkvm.pf_tramp_va)
			snprintf(fixup, sizeof(fixup), "done by the in-guest trampoline");
		else if (atomic_load(&m->swkvm.nr_page_faults))
			snprintf(fixup, sizeof(fixup), "%lu page faults trapped, %lu syscalls completed",
				 atomic_load(&m->swkvm.nr_page_faults), atomic_load(&m->swkvm.nr_syscalls_fixed));
		else
			snprintf(fixup, sizeof(fixup), "not used");
		log_info("swkvm", "%lu instructions emulated, %lu hypercalls skipped; syscall fix-up %s",
			 atomic_load(&m->swkvm.nr_emulated), atomic_load(&m->swkvm.nr_hypercalls_skipped), fixup);
		swkvm_log_stats(&m->swkvm);
	}
	return status;
}
