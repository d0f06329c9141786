/* Building a skiff machine and taking it apart. See machine.h.
 *
 * Order matters and follows what a PC does: memory, interrupt controllers,
 * the devices on their buses (machine-board.c), then the kernel and the
 * tables that describe the machine to it (machine-boot.c), and last the
 * vCPUs. Running it is machine-run.c. */
#include "vmm/machine.h"
#include "base/monotonic.h"
#include "kvm/x86/acpi.h"
#include "kvm/x86/boot-params.h"
#include "kvm/x86/cpu-boot.h"
#include "kvm/x86/e820.h"
#include "vmm/machine-board.h"
#include "vmm/machine-boot.h"
#include "vmm/machine-control.h"
#include "vmm/sandbox.h"
#include "base/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

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
	reactor_set_poll_ns(&m->reactor, (uint64_t)opts->poll_us * 1000);
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
