/* Guest access through a stopped vCPU, for every software-KVM workaround:
 * the vCPU ioctl seam the unit tests fake, KVM_TRANSLATE, exception
 * injection, and the guest's own page walk. It knows nothing of the
 * workarounds (swkvm-tick.c, swkvm-pf-trap.c) or the emulator adapter
 * (swkvm-emul.c), which stand on it; see swkvm-guest.h. */
#include "kvm/x86/swkvm-guest.h"

#include <errno.h>
#include <linux/kvm.h>
#include <sys/ioctl.h>

static int real_ioctl(int fd, unsigned long req, void *arg)
{
	return ioctl(fd, req, arg);
}
int (*swkvm_vcpu_ioctl)(int fd, unsigned long req, void *arg) = real_ioctl;

int swkvm_gva_to_gpa(int vcpu_fd, uint64_t gva, uint64_t *gpa)
{
	struct kvm_translation tr = { .linear_address = gva };
	if (vioctl(vcpu_fd, KVM_TRANSLATE, &tr) < 0)
		return -errno;
	if (!tr.valid)
		return -EFAULT;
	*gpa = tr.physical_address;
	return 0;
}

int swkvm_inject_exception(int vcpu_fd, unsigned vector, bool has_error_code, uint32_t error_code)
{
	struct kvm_vcpu_events ev;
	if (vioctl(vcpu_fd, KVM_GET_VCPU_EVENTS, &ev) < 0)
		return -errno;
	ev.exception.injected = 1;
	ev.exception.nr = vector;
	ev.exception.has_error_code = has_error_code;
	ev.exception.error_code = error_code;
	ev.flags = 0;
	return vioctl(vcpu_fd, KVM_SET_VCPU_EVENTS, &ev) < 0 ? -errno : 0;
}

/* Walk the guest's 4- or 5-level page tables for an access by ring-0 code
 * (CR0.WP honoured, U/S not checked: SMAP is off in the guest), setting
 * Accessed and, for writes, Dirty bits as the CPU would. KVM_TRANSLATE
 * cannot serve the emulator: it reports every page as writable, so an
 * emulated write would go straight through a read-only copy-on-write page
 * into memory another process shares. */
int swkvm_walk(const struct guest_mem *mem, uint64_t cr3, bool la57, bool wp, uint64_t gva, bool write,
	       uint64_t *gpa, uint32_t *pf_error)
{
	const uint64_t addr_mask = 0x000ffffffffff000ull;
	uint64_t table = cr3 & addr_mask;
	int levels = la57 ? 5 : 4;
	uint32_t err = write ? SWKVM_PF_W : 0;

	/* Non-canonical addresses #GP on hardware; report them as not present. */
	int va_bits = la57 ? 57 : 48;
	if ((uint64_t)((int64_t)(gva << (64 - va_bits)) >> (64 - va_bits)) != gva)
		goto fault;
	for (int level = levels; level >= 1; level--) {
		unsigned shift = 12 + 9 * (level - 1);
		uint64_t *pte = guest_mem_ptr(mem, table + ((gva >> shift) & 511) * 8, 8);
		if (!pte)
			goto fault;
		uint64_t e = __atomic_load_n(pte, __ATOMIC_ACQUIRE);
		if (!(e & 1))
			goto fault;
		if (write && wp && !(e & 2)) {
			err |= SWKVM_PF_P;
			goto fault;
		}
		bool leaf = level == 1 || ((level == 2 || level == 3) && (e & 0x80));
		uint64_t set = 0x20 | (leaf && write ? 0x40 : 0); /* Accessed, Dirty */
		if ((e & set) != set)
			__atomic_fetch_or(pte, set, __ATOMIC_ACQ_REL);
		if (leaf) {
			uint64_t page = (1ull << shift) - 1;
			uint64_t base = e & addr_mask & ~page;
			*gpa = base | (gva & page);
			return 0;
		}
		table = e & addr_mask;
	}
fault:
	*pf_error = err;
	return -EFAULT;
}

size_t swkvm_gva_access(struct swkvm_gva_view *c, uint64_t gva, void *buf, size_t len, bool write)
{
	size_t done = 0;
	while (done < len) {
		uint64_t gpa = 0, va = gva + done;
		size_t chunk = 4096 - (va & 4095);
		if (chunk > len - done)
			chunk = len - done;
		int r = c->walk ? swkvm_walk(c->mem, c->cr3, c->la57, c->wp, va, write, &gpa, &c->fault_error)
				: swkvm_gva_to_gpa(c->vcpu_fd, va, &gpa);
		if (r < 0) {
			if (!c->walk)
				c->fault_error = write ? SWKVM_PF_W : 0;
			break;
		}
		bool ok = write ? guest_mem_write(c->mem, gpa, (const uint8_t *)buf + done, chunk)
				: guest_mem_read(c->mem, gpa, (uint8_t *)buf + done, chunk);
		if (!ok) { /* not RAM (MMIO): no XSAVE image lives there */
			c->fault_error = SWKVM_PF_P | (write ? SWKVM_PF_W : 0);
			break;
		}
		done += chunk;
	}
	return done;
}

size_t swkvm_read_gva(int vcpu_fd, const struct guest_mem *mem, uint64_t gva, void *buf, size_t len)
{
	struct swkvm_gva_view c = { .vcpu_fd = vcpu_fd, .mem = mem };
	return swkvm_gva_access(&c, gva, buf, len, false);
}
