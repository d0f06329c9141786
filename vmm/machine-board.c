/* The machine's fixed hardware and its wiring. See machine-board.h. */
#include "vmm/machine-board.h"
#include "kvm/x86/cpuid.h"
#include "kvm/x86/layout.h"
#include "vmm/machine-run.h"

#include <errno.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- hooks handed to the devices ---- */

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

/* ---- the legacy devices on the port bus ---- */

int machine_add_devices(struct machine *m, char *err, size_t errlen)
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

/* ---- the vCPUs ---- */

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

int machine_create_vcpus(struct machine *m, char *err, size_t errlen)
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
	bool tsc_deadline = kvm_vm_check_extension(&m->vm, KVM_CAP_TSC_DEADLINE_TIMER) > 0;
	for (unsigned i = 0; i < m->opts->cpus && ret == 0; i++) {
		memcpy(mine, cpuid, sz);
		cpuid_apply_policy(mine, &(struct cpuid_policy){ .vcpu_index = i,
								  .nr_vcpus = m->opts->cpus,
								  .hide_pv_features = m->swkvm.active,
								  .tsc_deadline = tsc_deadline });
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
