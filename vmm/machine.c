/* Building and running a skiff machine. See machine.h.
 *
 * Order matters and follows what a PC does: memory, interrupt controllers,
 * the devices on their buses, then the kernel and the tables that describe
 * the machine to it, and last the vCPUs. */
#include "vmm/machine.h"
#include "kvm/x86/acpi.h"
#include "kvm/x86/boot-params.h"
#include "kvm/x86/cpu-boot.h"
#include "kvm/x86/cpuid.h"
#include "kvm/x86/e820.h"
#include "kvm/x86/layout.h"
#include "vmm/dtb.h"
#include "vmm/exit-status.h"
#include "base/log.h"
#include "vmm/machine-control.h"
#include "vmm/sandbox.h"
#include "base/terminal.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Always on the guest's command line unless --cmdline-replace: the serial
 * console, reset through the keyboard controller (skiff sees it as a
 * clean reboot), and reboot at once on panic (pvpanic tells skiff first). */
static const char default_cmdline[] = "console=ttyS0 reboot=k panic=-1";
/* With --console virtio the kernel's console is the virtio one (hvc0);
 * early messages need earlycon or console=ttyS0 too (docs/devices.md). */
static const char default_cmdline_hvc[] = "console=hvc0 reboot=k panic=-1";

static int64_t monotonic_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t machine_now_ns(void)
{
	return monotonic_ns();
}

/* ---- hooks handed to devices and vCPUs ---- */

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

static void machine_irq_set(void *ctx, int level, unsigned gsi)
{
	struct machine *m = ctx;
	kvm_vm_irq_line(&m->vm, gsi, level);
}

static void sci_irq_set(void *ctx, int level)
{
	machine_irq_set(ctx, level, IRQ_ACPI_SCI);
}

static void uart_irq_set(void *ctx, int level)
{
	machine_irq_set(ctx, level, IRQ_COM1);
}

/* The UART's output, with its lock held on a vCPU thread: it must not
 * block (see vmm/console-out.h). */
static void console_write(void *ctx, const uint8_t *buf, size_t n)
{
	struct machine *m = ctx;
	if (m->opts->console == CONSOLE_NONE)
		return;
	console_out_write(&m->console_out, buf, n);
}

/* ---- building ---- */

static int machine_add_devices(struct machine *m, char *err, size_t errlen)
{
	struct stop_hook stop = { .stop = machine_stop, .ctx = m };
	int ret = 0;

	int out_fd = m->opts->console == CONSOLE_LOG ? m->opts->console_fd : STDOUT_FILENO;
	if ((ret = console_out_init(&m->console_out, out_fd)) < 0) {
		snprintf(err, errlen, "cannot set up the console output: %s", strerror(-ret));
		return ret;
	}
	m->console_out_ready = true;
	uart_8250_init(&m->uart, (struct irq_line){ .set = uart_irq_set, .ctx = m },
		       (struct uart_output){ .write = console_write, .ctx = m });
	i8042_init(&m->i8042, stop);
	cmos_rtc_init(&m->cmos, NULL, NULL);
	acpi_pm_init(&m->acpi_pm, stop);
	acpi_pm_set_sci(&m->acpi_pm, (struct irq_line){ .set = sci_irq_set, .ctx = m });
	pvpanic_init(&m->pvpanic, stop);

	struct {
		uint64_t port, len;
		const struct bus_ops *ops;
		void *dev;
		const char *name;
	} pio[] = {
		{ PORT_COM1, 8, &uart_8250_ops, &m->uart, "serial0" },
		{ PORT_I8042_DATA, 1, &i8042_data_ops, &m->i8042, "i8042" },
		{ PORT_I8042_CMD, 1, &i8042_cmd_ops, &m->i8042, "i8042" },
		{ PORT_CMOS, 2, &cmos_rtc_ops, &m->cmos, "cmos" },
		{ PORT_ACPI_PM1A_EVT, 4, &acpi_pm_evt_ops, &m->acpi_pm, "acpi-pm" },
		{ PORT_ACPI_PM1A_CNT, 2, &acpi_pm_cnt_ops, &m->acpi_pm, "acpi-pm" },
		{ PORT_PVPANIC, 1, &pvpanic_ops, &m->pvpanic, "pvpanic" },
	};
	for (size_t i = 0; i < sizeof(pio) / sizeof(pio[0]) && ret == 0; i++)
		ret = bus_register(&m->pio, pio[i].port, pio[i].len, pio[i].ops, pio[i].dev, pio[i].name);
	if (ret == 0 && m->opts->debug_exit_port) {
		debug_exit_init(&m->debug_exit, 1, stop);
		ret = bus_register(&m->pio, m->opts->debug_exit_port, 1, &debug_exit_ops, &m->debug_exit, "debug-exit");
		if (ret == -EEXIST)
			snprintf(err, errlen, "--debug-exit-port %#x: port already used by another device",
				 m->opts->debug_exit_port);
	}
	if (ret < 0 && !err[0])
		snprintf(err, errlen, "cannot register legacy devices: %s", strerror(-ret));
	return ret;
}

/* skiff's defaults, the software-KVM switches, then the user's words
 * (later words win in Linux, so the user can override any default). */
static char *machine_build_cmdline(const struct machine *m)
{
	const struct options *o = m->opts;
	const char *user = o->cmdline ? o->cmdline : "";
	char *s = NULL;
	int n;

	if (o->cmdline_replace)
		n = asprintf(&s, "%s", user);
	else
		n = asprintf(&s, "%s%s%s%s%s", o->console == CONSOLE_VIRTIO ? default_cmdline_hvc : default_cmdline,
			     m->swkvm.active ? " " : "",
			     m->swkvm.active ? swkvm_cmdline : "", *user ? " " : "", user);
	return n < 0 ? NULL : s;
}

/* --dump-dtb: the same machine, as a device tree for people to read. */
static int machine_dump_dtb(const struct machine *m, const char *cmdline, char *err, size_t errlen)
{
	struct dtb_virtio_mmio mmio[VIRTIO_MMIO_MAX_DEVICES];
	for (unsigned i = 0; i < m->virtio.nr_mmio; i++)
		mmio[i] = (struct dtb_virtio_mmio){ .base = m->virtio.mmio_acpi[i].base,
						    .size = m->virtio.mmio_acpi[i].size,
						    .gsi = m->virtio.mmio_acpi[i].gsi };
	const struct guest_mem *mem = &m->vm.mem;
	struct dtb_config cfg = {
		.nr_cpus = m->opts->cpus,
		.ram_low = mem->region[0].size,
		.ram_high = mem->nr_regions > 1 ? mem->region[1].size : 0,
		.cmdline = cmdline,
		.nr_virtio_mmio = m->virtio.nr_mmio,
		.virtio_mmio = mmio,
		.pci = true, /* the host bridge is always there */
	};
	int ret = dtb_write_file(m->opts->dump_dtb, &cfg, err, errlen);
	if (ret == 0)
		log_info(NULL, "device tree written to %s", m->opts->dump_dtb);
	return ret;
}

/* Read the initrd straight into guest memory, as high as the kernel allows. */
static int machine_load_initrd(struct machine *m, const struct kernel_entry *entry, uint64_t *addr, uint64_t *size,
			       char *err, size_t errlen)
{
	const char *path = m->opts->initrd;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;

	*addr = *size = 0;
	if (fd < 0 || fstat(fd, &st) < 0) {
		snprintf(err, errlen, "--initrd %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -errno;
	}
	uint64_t low_end = m->vm.mem.region[0].gpa + m->vm.mem.region[0].size;
	int ret = initrd_place(low_end, entry->initrd_addr_max, st.st_size, entry->end, addr, err, errlen);
	if (ret < 0) {
		close(fd);
		return ret;
	}
	uint8_t *dst = guest_mem_ptr(&m->vm.mem, *addr, st.st_size);
	uint64_t done = 0;
	while (dst && done < (uint64_t)st.st_size) {
		ssize_t r = read(fd, dst + done, st.st_size - done);
		if (r <= 0) {
			snprintf(err, errlen, "--initrd %s: %s", path, r < 0 ? strerror(errno) : "file shrank while reading");
			close(fd);
			return -EIO;
		}
		done += r;
	}
	close(fd);
	*size = st.st_size;
	return 0;
}

/* The vCPUs hand every port and MMIO exit to the machine's two buses. */
static void machine_pio_exit(void *ctx, uint16_t port, uint8_t *data, unsigned len, bool is_write)
{
	struct machine *m = ctx;
	bus_dispatch(&m->pio, port, data, len, is_write);
}

static void machine_mmio_exit(void *ctx, uint64_t addr, uint8_t *data, unsigned len, bool is_write)
{
	struct machine *m = ctx;
	bus_dispatch(&m->mmio, addr, data, len, is_write);
}

static int machine_create_vcpus(struct machine *m, char *err, size_t errlen)
{
	struct kvm_cpuid2 *cpuid = cpuid_get_supported(m->vm.kvm_fd);
	if (!cpuid) {
		snprintf(err, errlen, "KVM_GET_SUPPORTED_CPUID failed: %s", strerror(errno));
		return -errno;
	}
	size_t sz = sizeof(*cpuid) + cpuid->nent * sizeof(cpuid->entries[0]);
	struct kvm_cpuid2 *mine = malloc(sz);
	int ret = mine ? 0 : -ENOMEM;

	m->vcpu_env = (struct vcpu_env){
		.vm = &m->vm,
		.exits = { .pio = machine_pio_exit, .mmio = machine_mmio_exit, .ctx = m },
		.stop = { .stop = machine_stop, .ctx = m },
		.stopping = &m->stopping,
		.swkvm = &m->swkvm,
		.first_run_ns = &m->first_run_ns,
		.pause = &m->pause,
	};
	for (unsigned i = 0; i < m->opts->cpus && ret == 0; i++) {
		memcpy(mine, cpuid, sz);
		cpuid_apply_policy(mine, &(struct cpuid_policy){ .vcpu_index = i,
								  .nr_vcpus = m->opts->cpus,
								  .hide_pv_features = m->swkvm.active });
		ret = vcpu_create(&m->vcpus[i], &m->vcpu_env, i, mine);
		if (ret < 0)
			snprintf(err, errlen, "cannot create vCPU %u: %s", i, strerror(-ret));
		else
			m->nr_vcpus_created = i + 1;
	}
	free(mine);
	free(cpuid);
	return ret;
}

int machine_create(struct machine *m, const struct options *opts, char *err, size_t errlen)
{
	struct kernel_entry entry;
	uint64_t initrd_addr = 0, initrd_size = 0, rsdp = 0;
	char *cmdline = NULL;
	int ret;

	/* m arrives zero-filled (machine.h): clearing it here would write
	 * all 1.7 MiB (the console buffer, the device tables) and make every
	 * page of it resident before the guest has run. */
	m->opts = opts;
	m->start_ns = monotonic_ns();
	m->vm.kvm_fd = m->vm.vm_fd = m->stop_eventfd = m->watch.fd = -1;
	m->shutdown_timer = m->pause_parked_source = m->pause_timer = -1;
	m->control.listen_fd = -1;
	if ((ret = vcpu_pause_init(&m->pause)) < 0) {
		snprintf(err, errlen, "cannot create the pause eventfd: %s", strerror(-ret));
		return ret;
	}
	err[0] = 0;
	/* Before the first thread: threads started while the machine is
	 * built wait for the sandbox before they serve the guest. */
	sandbox_plan(opts);
	if (opts->switch_user && geteuid() != 0) {
		snprintf(err, errlen, "--user: skiff must be started as root to switch to another user");
		return -EPERM;
	}

	/* The kernel file is checked before anything else is set up. */
	if ((ret = kernel_image_open(opts->kernel, &m->kernel, err, errlen)) < 0)
		return ret;
	/* Then the control socket: a bad path or a live skiff on it is a
	 * command-line error. */
	if (opts->api_sock) {
		if ((ret = control_socket_open(&m->control, opts->api_sock, err, errlen)) < 0)
			goto fail;
		m->control_open = true;
	}
	m->stop_eventfd = eventfd(0, EFD_CLOEXEC);
	bus_init(&m->pio, "pio");
	bus_init(&m->mmio, "mmio");

	if ((ret = kvm_vm_create(&m->vm, err, errlen)) < 0)
		goto fail;
	if (opts->cpus > m->vm.max_vcpus) {
		snprintf(err, errlen, "--cpus %u: this host's KVM allows at most %u", opts->cpus, m->vm.max_vcpus);
		ret = -EINVAL;
		goto fail;
	}
	swkvm_init(&m->swkvm, opts->swkvm);
	/* Emulated ring 0 makes the in-guest decompressor cost tens of
	 * seconds; unpacking on the host costs a fraction of one. A failure
	 * is logged and leaves the bzImage to decompress itself. */
	if (m->swkvm.active && m->kernel.format == KERNEL_FORMAT_BZIMAGE)
		kernel_image_unpack(&m->kernel);

	struct e820_ram_region ram[E820_MAX_RAM_REGIONS];
	int nr_ram = e820_split_ram(opts->mem_bytes, ram);
	for (int i = 0; i < nr_ram; i++) {
		if ((ret = kvm_vm_add_ram(&m->vm, ram[i].gpa, ram[i].size)) < 0) {
			snprintf(err, errlen, "cannot give the guest %llu MiB of RAM: %s",
				 (unsigned long long)(opts->mem_bytes >> 20), strerror(-ret));
			goto fail;
		}
	}
	if ((ret = kvm_vm_create_irqchip(&m->vm)) < 0) {
		snprintf(err, errlen, "cannot create the in-kernel interrupt controllers: %s", strerror(-ret));
		goto fail;
	}
	if ((ret = machine_add_devices(m, err, errlen)) < 0)
		goto fail;
	if ((ret = reactor_init(&m->reactor)) < 0) {
		snprintf(err, errlen, "cannot create the event loop: %s", strerror(-ret));
		goto fail;
	}
	m->reactor_ready = true;
	m->virtio_created = true;
	if ((ret = virtio_devices_create(&m->virtio, &m->vm, &m->reactor, &m->pio, &m->mmio, opts, err, errlen)) < 0)
		goto fail;
	virtio_devices_set_stop_hook(&m->virtio, (struct stop_hook){ .stop = machine_stop, .ctx = m });
	if ((ret = console_out_attach(&m->console_out, &m->reactor)) < 0) {
		snprintf(err, errlen, "cannot watch the console output: %s", strerror(-ret));
		goto fail;
	}
	if (m->control_open) {
		struct control_ops ops = { .run = machine_control_run, .ctx = m };
		if ((ret = control_socket_attach(&m->control, &m->reactor, &ops, 0)) < 0) {
			snprintf(err, errlen, "--api-sock %s: cannot serve it: %s", opts->api_sock, strerror(-ret));
			goto fail;
		}
	}

	if ((ret = cpu_boot_write_tables(&m->vm.mem)) < 0) {
		snprintf(err, errlen, "guest memory too small for the boot page tables");
		goto fail;
	}
	if ((ret = kernel_image_load(&m->kernel, &m->vm.mem, &entry, err, errlen)) < 0)
		goto fail;
	uint64_t text_lo, text_hi;
	if (m->swkvm.active && m->kernel.format == KERNEL_FORMAT_ELF &&
	    swkvm_elf_text_range(m->kernel.data, m->kernel.size, &text_lo, &text_hi))
		swkvm_set_kernel_text(&m->swkvm, text_lo, text_hi);
	if (opts->initrd && (ret = machine_load_initrd(m, &entry, &initrd_addr, &initrd_size, err, errlen)) < 0)
		goto fail;

	struct acpi_config acpi = { .nr_cpus = opts->cpus, .pvpanic = true, .com1 = true };
	virtio_devices_describe(&m->virtio, &acpi);
	if ((ret = acpi_build(&m->vm.mem, &acpi, &rsdp)) < 0) {
		snprintf(err, errlen, "cannot build the ACPI tables: %s", strerror(-ret));
		goto fail;
	}

	cmdline = machine_build_cmdline(m);
	if (!cmdline) {
		ret = -ENOMEM;
		goto fail;
	}
	log_debug(NULL, "guest command line: %s", cmdline);
	if (opts->dump_dtb && (ret = machine_dump_dtb(m, cmdline, err, errlen)) < 0)
		goto fail;
	struct boot_config boot = {
		.hdr = entry.has_setup_header ? &entry.hdr : NULL,
		.cmdline = cmdline,
		.initrd_addr = initrd_addr,
		.initrd_size = initrd_size,
		.ram_size = opts->mem_bytes,
		.rsdp_addr = rsdp,
	};
	if (entry.mode == ENTRY_PVH32)
		ret = pvh_start_info_build(&m->vm.mem, &boot, err, errlen);
	else
		ret = boot_params_build(&m->vm.mem, &boot, err, errlen);
	if (ret < 0)
		goto fail;

	if ((ret = machine_create_vcpus(m, err, errlen)) < 0)
		goto fail;
	if (entry.mode == ENTRY_PVH32)
		ret = vcpu_enter_pvh(&m->vcpus[0], entry.rip, entry.boot_info);
	else
		ret = vcpu_enter_long_mode(&m->vcpus[0], entry.rip, entry.boot_info);
	if (ret < 0) {
		snprintf(err, errlen, "cannot set the boot vCPU's registers: %s", strerror(-ret));
		goto fail;
	}
	free(cmdline);
	return 0;

fail:
	free(cmdline);
	machine_destroy(m);
	return ret < 0 ? ret : -EINVAL;
}

/* ---- running ---- */

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

void machine_destroy(struct machine *m)
{
	sandbox_release(); /* threads still waiting for it can be joined */
	if (m->control_open)
		control_socket_close(&m->control); /* before the reactor goes */
	m->control_open = false;
	for (unsigned i = 0; i < m->nr_vcpus_created; i++)
		vcpu_destroy(&m->vcpus[i]);
	m->nr_vcpus_created = 0;
	if (m->console_out_ready)
		console_out_destroy(&m->console_out); /* before the reactor goes */
	m->console_out_ready = false;
	if (m->reactor_ready)
		reactor_stop(&m->reactor); /* no handler runs while devices go */
	if (m->virtio_created)
		virtio_devices_destroy(&m->virtio);
	m->virtio_created = false;
	if (m->reactor_ready)
		reactor_destroy(&m->reactor);
	m->reactor_ready = false;
	kvm_vm_destroy(&m->vm);
	kernel_image_close(&m->kernel);
	if (m->stop_eventfd >= 0)
		close(m->stop_eventfd);
	m->stop_eventfd = -1;
	vcpu_pause_destroy(&m->pause);
}
