/* KVM VM wrappers. See kvm.h. */
#include "kvm/kvm.h"
#include "kvm/x86/layout.h"
#include "base/fd-class.h"
#include "base/log.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

int kvm_vm_create(struct kvm_vm *vm, char *err, size_t errlen)
{
	int ret;

	memset(vm, 0, sizeof(*vm));
	vm->vm_fd = -1;
	vm->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (vm->kvm_fd < 0) {
		ret = -errno;
		snprintf(err, errlen, "cannot open /dev/kvm: %s%s", strerror(errno),
			 errno == ENOENT ? " (is the kvm module loaded?)" :
			 errno == EACCES ? " (add yourself to the kvm group or run as root)" : "");
		return ret;
	}
	ret = ioctl(vm->kvm_fd, KVM_GET_API_VERSION, 0);
	if (ret != KVM_API_VERSION) {
		snprintf(err, errlen, "/dev/kvm speaks API version %d, skiff needs %d", ret, KVM_API_VERSION);
		ret = -EINVAL;
		goto fail;
	}
	vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
	if (vm->vm_fd < 0) {
		ret = -errno;
		snprintf(err, errlen, "KVM_CREATE_VM failed: %s", strerror(errno));
		goto fail;
	}
	ret = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (ret <= 0) {
		ret = -errno;
		snprintf(err, errlen, "KVM_GET_VCPU_MMAP_SIZE failed: %s", strerror(errno));
		goto fail;
	}
	vm->vcpu_mmap_size = ret;
	fd_class_note(FD_CLASS_KVM, vm->kvm_fd);
	fd_class_note(FD_CLASS_VM, vm->vm_fd);
	ret = kvm_vm_check_extension(vm, KVM_CAP_MAX_VCPUS);
	if (ret <= 0)
		ret = kvm_vm_check_extension(vm, KVM_CAP_NR_VCPUS);
	vm->max_vcpus = ret > 0 ? ret : 1;
	return 0;
fail:
	kvm_vm_destroy(vm);
	return ret;
}

void kvm_vm_destroy(struct kvm_vm *vm)
{
	for (unsigned i = 0; i < vm->mem.nr_regions; i++)
		munmap(vm->mem.region[i].host, vm->mem.region[i].size);
	vm->mem.nr_regions = 0;
	if (vm->vm_fd >= 0) {
		fd_class_forget(FD_CLASS_VM, vm->vm_fd);
		close(vm->vm_fd);
	}
	if (vm->kvm_fd >= 0) {
		fd_class_forget(FD_CLASS_KVM, vm->kvm_fd);
		close(vm->kvm_fd);
	}
	vm->vm_fd = vm->kvm_fd = -1;
}

/* Anonymous memory for guest RAM, its start aligned to 2 MiB like every
 * region's guest-physical base, so that the host can back it with
 * transparent huge pages: a guest TLB miss then walks a 2 MiB leaf in the
 * host's (nested) page table instead of a 4 KiB one. MADV_HUGEPAGE asks
 * for them where THP is "madvise" only (Debian's default); it fails
 * harmlessly without THP. */
static void *map_guest_ram(uint64_t size)
{
	const uintptr_t huge = 2u << 20, page = (uintptr_t)sysconf(_SC_PAGESIZE);
	size_t len = (size_t)size + huge;
	uint8_t *raw = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (raw == MAP_FAILED)
		return MAP_FAILED;
	/* Keep the aligned middle; give back the pages before and after it. */
	uint8_t *host = (uint8_t *)(((uintptr_t)raw + huge - 1) & ~(huge - 1));
	uintptr_t keep_end = ((uintptr_t)host + size + page - 1) & ~(page - 1);
	uintptr_t map_end = ((uintptr_t)raw + len + page - 1) & ~(page - 1);
	if (host > raw)
		munmap(raw, (size_t)(host - raw));
	if (map_end > keep_end)
		munmap((void *)keep_end, map_end - keep_end);
	/* Guest RAM is never worth a core dump of gigabytes. */
	madvise(host, size, MADV_DONTDUMP);
	madvise(host, size, MADV_HUGEPAGE);
	return host;
}

int kvm_vm_add_ram(struct kvm_vm *vm, uint64_t gpa, uint64_t size)
{
	if (vm->mem.nr_regions == GUEST_MEM_MAX_REGIONS)
		return -ENOSPC;
	void *host = map_guest_ram(size);
	if (host == MAP_FAILED)
		return -errno;
	struct kvm_userspace_memory_region region = {
		.slot = vm->nr_slots,
		.guest_phys_addr = gpa,
		.memory_size = size,
		.userspace_addr = (uintptr_t)host,
	};
	if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &region) < 0) {
		int ret = -errno;
		munmap(host, size);
		return ret;
	}
	vm->nr_slots++;
	vm->mem.region[vm->mem.nr_regions++] = (struct guest_region){ .gpa = gpa, .size = size, .host = host };
	return 0;
}

int kvm_vm_create_irqchip(struct kvm_vm *vm)
{
	/* Intel VMX needs three pages for the real-mode TSS and one for the
	 * EPT identity map, somewhere the guest never uses: just under the
	 * IOAPIC, in the MMIO hole. Harmless elsewhere. */
	if (ioctl(vm->vm_fd, KVM_SET_TSS_ADDR, (unsigned long)(LAYOUT_IOAPIC - 0x4000)) < 0)
		return -errno;
	uint64_t identity = LAYOUT_IOAPIC - 0x5000;
	if (ioctl(vm->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &identity) < 0)
		return -errno;
	if (ioctl(vm->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0)
		return -errno;
	struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };
	if (ioctl(vm->vm_fd, KVM_CREATE_PIT2, &pit) < 0)
		return -errno;
	return 0;
}

int kvm_vm_irq_line(struct kvm_vm *vm, unsigned gsi, int level)
{
	struct kvm_irq_level irq = { .irq = gsi, .level = level };
	return ioctl(vm->vm_fd, KVM_IRQ_LINE, &irq) < 0 ? -errno : 0;
}

int kvm_vm_check_extension(struct kvm_vm *vm, long cap)
{
	int ret = ioctl(vm->vm_fd, KVM_CHECK_EXTENSION, cap);
	if (ret < 0)
		ret = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, cap);
	return ret;
}

unsigned kvm_max_vcpus_probe(void)
{
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return 0;
	int n = ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);
	if (n <= 0)
		n = ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_VCPUS);
	close(fd);
	return n > 0 ? (unsigned)n : 0;
}
