/* A flattened device tree describing the machine, built with libfdt.
 * skiff writes it for people (--dump-dtb FILE; read it with
 * `dtc -I dtb -O dts FILE`). The guest itself learns the machine from
 * ACPI: x86 Linux only instantiates device-tree devices below the CE4100
 * buses, so passing this tree as SETUP_DTB would describe nothing the
 * guest uses. */
#ifndef SKIFF_DTB_H
#define SKIFF_DTB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct dtb_virtio_mmio {
	uint64_t base, size;
	unsigned gsi;
};

struct dtb_config {
	unsigned nr_cpus;
	uint64_t ram_low, ram_high;   /* bytes below 3 GiB, and from 4 GiB */
	const char *cmdline;
	unsigned nr_virtio_mmio;
	const struct dtb_virtio_mmio *virtio_mmio;
	bool pci;                     /* ECAM host bridge present */
};

/* Build into buf (size len). 0 or a negative libfdt error. */
int dtb_build(void *buf, size_t len, const struct dtb_config *cfg);
/* Build and write to path; err gets one line. */
int dtb_write_file(const char *path, const struct dtb_config *cfg, char *err, size_t errlen);

#endif
