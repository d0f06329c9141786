/* What the guest kernel is handed. See machine-boot.h. */
#include "vmm/machine-boot.h"
#include "kvm/x86/boot-params.h"
#include "vmm/dtb.h"
#include "base/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Always on the guest's command line unless --cmdline-replace: the serial
 * console, reset through the keyboard controller (skiff sees it as a
 * clean reboot), and reboot at once on panic (pvpanic tells skiff first). */
static const char default_cmdline[] = "console=ttyS0 reboot=k panic=-1";
/* With --console virtio the kernel's console is the virtio one (hvc0);
 * early messages need earlycon or console=ttyS0 too (docs/devices.md). */
static const char default_cmdline_hvc[] = "console=hvc0 reboot=k panic=-1";

/* skiff's defaults, the software-KVM switches, then the user's words
 * (later words win in Linux, so the user can override any default). */
char *machine_build_cmdline(const struct machine *m)
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
int machine_dump_dtb(const struct machine *m, const char *cmdline, char *err, size_t errlen)
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
int machine_load_initrd(struct machine *m, const struct kernel_entry *entry, uint64_t *addr, uint64_t *size,
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
	/* initrd_place keeps it inside RAM; should it ever not, say so rather
	 * than report an initrd that was never copied */
	uint8_t *dst = guest_mem_ptr(&m->vm.mem, *addr, st.st_size);
	if (!dst) {
		snprintf(err, errlen, "--initrd %s: placed at %#llx, outside guest RAM", path,
			 (unsigned long long)*addr);
		close(fd);
		return -EINVAL;
	}
	uint64_t done = 0;
	while (done < (uint64_t)st.st_size) {
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
