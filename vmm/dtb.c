/* Device-tree description of the machine. See dtb.h. */
#include "vmm/dtb.h"
#include "kvm/x86/layout.h"

#include <errno.h>
#include <fcntl.h>
#include <libfdt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PHANDLE_IOAPIC 1

/* fdt_* sequential-write calls return <0 on error; stop at the first. */
#define TRY(call)                    \
	do {                         \
		int _r = (call);     \
		if (_r < 0)          \
			return _r;   \
	} while (0)

static int dtb_reg(void *fdt, uint64_t base, uint64_t size)
{
	fdt64_t reg[2] = { cpu_to_fdt64(base), cpu_to_fdt64(size) };
	return fdt_property(fdt, "reg", reg, sizeof(reg));
}

static int dtb_memory(void *fdt, uint64_t base, uint64_t size)
{
	char name[40];
	snprintf(name, sizeof(name), "memory@%llx", (unsigned long long)base);
	TRY(fdt_begin_node(fdt, name));
	TRY(fdt_property_string(fdt, "device_type", "memory"));
	TRY(dtb_reg(fdt, base, size));
	return fdt_end_node(fdt);
}

int dtb_build(void *buf, size_t len, const struct dtb_config *cfg)
{
	void *fdt = buf;
	char name[48];

	TRY(fdt_create(fdt, len));
	TRY(fdt_finish_reservemap(fdt));
	TRY(fdt_begin_node(fdt, ""));
	TRY(fdt_property_string(fdt, "compatible", "skiff,x86-vm"));
	TRY(fdt_property_string(fdt, "model", "skiff virtual machine"));
	TRY(fdt_property_u32(fdt, "#address-cells", 2));
	TRY(fdt_property_u32(fdt, "#size-cells", 2));

	TRY(fdt_begin_node(fdt, "chosen"));
	TRY(fdt_property_string(fdt, "bootargs", cfg->cmdline ? cfg->cmdline : ""));
	TRY(fdt_property_string(fdt, "stdout-path", "/isa/serial@3f8"));
	TRY(fdt_end_node(fdt));

	TRY(fdt_begin_node(fdt, "cpus"));
	TRY(fdt_property_u32(fdt, "#address-cells", 1));
	TRY(fdt_property_u32(fdt, "#size-cells", 0));
	for (unsigned i = 0; i < cfg->nr_cpus; i++) {
		snprintf(name, sizeof(name), "cpu@%u", i);
		TRY(fdt_begin_node(fdt, name));
		TRY(fdt_property_string(fdt, "device_type", "cpu"));
		TRY(fdt_property_u32(fdt, "reg", i)); /* APIC ID */
		TRY(fdt_end_node(fdt));
	}
	TRY(fdt_end_node(fdt));

	TRY(dtb_memory(fdt, 0, cfg->ram_low));
	if (cfg->ram_high)
		TRY(dtb_memory(fdt, LAYOUT_4G, cfg->ram_high));

	snprintf(name, sizeof(name), "ioapic@%llx", (unsigned long long)LAYOUT_IOAPIC);
	TRY(fdt_begin_node(fdt, name));
	TRY(fdt_property_string(fdt, "compatible", "intel,ce4100-ioapic"));
	TRY(dtb_reg(fdt, LAYOUT_IOAPIC, 0x1000));
	TRY(fdt_property_u32(fdt, "#interrupt-cells", 2));
	TRY(fdt_property(fdt, "interrupt-controller", NULL, 0));
	TRY(fdt_property_u32(fdt, "phandle", PHANDLE_IOAPIC));
	TRY(fdt_end_node(fdt));

	/* Legacy ports, as an ISA bus: reg = <space port size>, space 1 = I/O. */
	TRY(fdt_begin_node(fdt, "isa"));
	TRY(fdt_property_string(fdt, "compatible", "isa"));
	TRY(fdt_property_u32(fdt, "#address-cells", 2));
	TRY(fdt_property_u32(fdt, "#size-cells", 1));
	TRY(fdt_begin_node(fdt, "serial@3f8"));
	TRY(fdt_property_string(fdt, "compatible", "ns16550a"));
	fdt32_t uart_reg[3] = { cpu_to_fdt32(1), cpu_to_fdt32(PORT_COM1), cpu_to_fdt32(8) };
	TRY(fdt_property(fdt, "reg", uart_reg, sizeof(uart_reg)));
	TRY(fdt_property_u32(fdt, "clock-frequency", 1843200));
	fdt32_t uart_irq[2] = { cpu_to_fdt32(IRQ_COM1), cpu_to_fdt32(0) };
	TRY(fdt_property(fdt, "interrupts", uart_irq, sizeof(uart_irq)));
	TRY(fdt_property_u32(fdt, "interrupt-parent", PHANDLE_IOAPIC));
	TRY(fdt_end_node(fdt));
	TRY(fdt_end_node(fdt));

	for (unsigned i = 0; i < cfg->nr_virtio_mmio; i++) {
		const struct dtb_virtio_mmio *v = &cfg->virtio_mmio[i];
		snprintf(name, sizeof(name), "virtio_mmio@%llx", (unsigned long long)v->base);
		TRY(fdt_begin_node(fdt, name));
		TRY(fdt_property_string(fdt, "compatible", "virtio,mmio"));
		TRY(dtb_reg(fdt, v->base, v->size));
		fdt32_t irq[2] = { cpu_to_fdt32(v->gsi), cpu_to_fdt32(1) }; /* level */
		TRY(fdt_property(fdt, "interrupts", irq, sizeof(irq)));
		TRY(fdt_property_u32(fdt, "interrupt-parent", PHANDLE_IOAPIC));
		TRY(fdt_end_node(fdt));
	}

	if (cfg->pci) {
		snprintf(name, sizeof(name), "pci@%llx", (unsigned long long)LAYOUT_PCI_ECAM);
		TRY(fdt_begin_node(fdt, name));
		TRY(fdt_property_string(fdt, "compatible", "pci-host-ecam-generic"));
		TRY(fdt_property_string(fdt, "device_type", "pci"));
		TRY(dtb_reg(fdt, LAYOUT_PCI_ECAM, LAYOUT_PCI_ECAM_SIZE));
		fdt32_t bus_range[2] = { cpu_to_fdt32(0), cpu_to_fdt32(LAYOUT_PCI_LAST_BUS) };
		TRY(fdt_property(fdt, "bus-range", bus_range, sizeof(bus_range)));
		TRY(fdt_property_u32(fdt, "#address-cells", 3));
		TRY(fdt_property_u32(fdt, "#size-cells", 2));
		/* ranges: <flags pci-addr(2) cpu-addr(2) size(2)>: I/O window, 32-bit memory window. */
		fdt32_t ranges[] = {
			cpu_to_fdt32(0x01000000), 0, cpu_to_fdt32(0xc000), 0, cpu_to_fdt32(0xc000), 0, cpu_to_fdt32(0x3000),
			cpu_to_fdt32(0x02000000), 0, cpu_to_fdt32(LAYOUT_PCI_MMIO), 0, cpu_to_fdt32(LAYOUT_PCI_MMIO), 0,
			cpu_to_fdt32(LAYOUT_PCI_MMIO_SIZE),
		};
		TRY(fdt_property(fdt, "ranges", ranges, sizeof(ranges)));
		TRY(fdt_end_node(fdt));
	}

	TRY(fdt_end_node(fdt));
	return fdt_finish(fdt);
}

int dtb_write_file(const char *path, const struct dtb_config *cfg, char *err, size_t errlen)
{
	size_t len = 64 * 1024;
	void *buf = calloc(1, len);
	int ret = buf ? dtb_build(buf, len, cfg) : -FDT_ERR_NOSPACE;

	if (ret < 0) {
		snprintf(err, errlen, "--dump-dtb: cannot build the device tree: %s", fdt_strerror(ret));
		free(buf);
		return -EINVAL;
	}
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	size_t size = fdt_totalsize(buf);
	if (fd < 0 || write(fd, buf, size) != (ssize_t)size) {
		snprintf(err, errlen, "--dump-dtb %s: %s", path, strerror(errno));
		ret = -errno;
	}
	if (fd >= 0)
		close(fd);
	free(buf);
	return ret < 0 ? ret : 0;
}
