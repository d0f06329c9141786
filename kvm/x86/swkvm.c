/* Software-KVM hosts: setting the workarounds up and accounting for them.
 * Detection and --swkvm, the kernel command line (workaround 1), the
 * kernel text the page-fault trap may use, and the counters of the
 * closing log lines. The workarounds themselves are in swkvm-emul.c (2),
 * swkvm-tick.c (3) and swkvm-pf-trap.c (4); read swkvm.h first. The
 * measurements behind them are in docs/software-kvm.md. */
#include "kvm/x86/swkvm.h"
#include "base/log.h"

#include <elf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cpuid.h>

/* Workaround 1. clearcpuid= is read into a 128-byte buffer by Linux 6.1
 * (longer lists are cut mid-name), so many features are given as bit
 * numbers, which are shorter than their names: 151 popcnt, 150 movbe,
 * 288 fsgsbase, 534 rdpid, 158 rdrand, 306 rdseed, 129 pclmulqdq,
 * 137 ssse3, 147 sse4_1, 148 sse4_2, 153 aes, 317 sha_ni, 520 gfni,
 * 590 serialize, and 320 xsaveopt, 321 xsavec, 322 xgetbv1, 323 xsaves,
 * 319 avx512vl. The last keeps the Debian kernel's built-in BLAKE2s (used
 * by the RNG) off its AVX-512 code, which the host cannot emulate in ring
 * 0; user space still sees AVX512VL through CPUID.
 * Keeping SIMD out keeps the kernel's SSE crypto/RAID code out of
 * (emulated) ring 0.
 *
 * No `noxsave`: guest ring 3 runs natively with the host's XCR0 (AVX and
 * AVX-512 on), so the guest kernel must save the full extended state on
 * every task switch or user processes corrupt each other's YMM/ZMM
 * registers. The host's emulator rejects XSAVE/XRSTOR in ring 0; skiff
 * emulates them (insn-emul.c). Clearing XSAVEOPT/XSAVEC/XSAVES keeps the
 * kernel on plain XSAVE/XRSTOR in the standard format.
 * cryptomgr.notests: the RSA self-test runs minutes under emulation;
 * rodata=off skips a 48 s W+X page-table walk.
 * nowatchdog: emulated ring 0 is so slow that the soft-lockup detector
 * reports every long initcall (the Debian kernel's ftrace and kallsyms
 * passes take minutes) and prints a full register dump each time, a few
 * KiB through the emulated UART; its per-CPU stopper work also piles onto
 * the stop_machine() of the clocksource switch. */
#define SWKVM_CLEARCPUID                                                                                    \
	"cx16,smap,smep,151,bmi1,bmi2,150,288,534,158,306,abm,adx,erms,fsrm,umip,129,137,147,148,153,317,520,590," \
	"320,321,322,323,319"
_Static_assert(sizeof(SWKVM_CLEARCPUID) <= 128, "Linux 6.1 reads clearcpuid= into 128 bytes");
const char swkvm_cmdline[] = "clearcpuid=" SWKVM_CLEARCPUID
			     " mitigations=off rodata=off cryptomgr.notests=1 init_on_alloc=0 nowatchdog";

bool swkvm_cpuinfo_has_hw_virt(const char *cpuinfo)
{
	for (const char *line = cpuinfo; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
		if (strncmp(line, "flags", 5) != 0)
			continue;
		const char *end = strchr(line, '\n');
		size_t n = end ? (size_t)(end - line) : strlen(line);
		for (const char *p = line; p + 4 <= line + n; p++) {
			if ((p[0] == ' ' || p[0] == '\t') && (!strncmp(p + 1, "vmx", 3) || !strncmp(p + 1, "svm", 3)) &&
			    (p + 4 == line + n || p[4] == ' ' || p[4] == '\n'))
				return true;
		}
		return false; /* the first CPU's flags decide */
	}
	return false;
}

bool swkvm_detect(char *why, size_t whylen)
{
	FILE *f = fopen("/proc/cpuinfo", "r");
	if (!f) {
		snprintf(why, whylen, "cannot read /proc/cpuinfo; assuming hardware KVM");
		return false;
	}
	static char buf[1 << 16];
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	if (swkvm_cpuinfo_has_hw_virt(buf)) {
		snprintf(why, whylen, "CPU has vmx/svm");
		return false;
	}
	bool pvm = access("/sys/module/kvm_pvm", F_OK) == 0;
	snprintf(why, whylen, "CPU has no vmx/svm flag%s", pvm ? ", kvm_pvm module loaded" : "");
	return true;
}

/* The standard XSAVE layout of this CPU (CPUID leaf 0xD). The guest sees
 * the host's CPUID here, and KVM_GET_XSAVE uses the same offsets. */
static void xstate_layout_init(struct insn_xstate_layout *l)
{
	unsigned a, b, c, d;
	memset(l, 0, sizeof(*l));
	if (__get_cpuid_max(0, NULL) < 0xd)
		return;
	__cpuid_count(0xd, 0, a, b, c, d);
	l->supported = a | (uint64_t)d << 32;
	l->size = c;
	for (unsigned i = 2; i < 64; i++) {
		if (!(l->supported >> i & 1))
			continue;
		__cpuid_count(0xd, i, a, b, c, d);
		l->length[i] = a;
		l->offset[i] = b;
	}
}

void swkvm_init(struct swkvm *sw, enum swkvm_mode mode)
{
	char why[128];
	memset(sw, 0, sizeof(*sw));
	bool detected = swkvm_detect(why, sizeof(why));

	switch (mode) {
	case SWKVM_ON:
		sw->active = true;
		log_info(NULL, "software-KVM workarounds on (--swkvm=on; %s)", why);
		break;
	case SWKVM_OFF:
		log_info(NULL, "software-KVM workarounds off (--swkvm=off; %s)", why);
		break;
	case SWKVM_AUTO:
		sw->active = detected;
		log_info(NULL, "%s KVM detected (%s): software-KVM workarounds %s", detected ? "software" : "hardware",
			 why, detected ? "on" : "off");
		break;
	}
	if (sw->active)
		xstate_layout_init(&sw->xlayout);
	/* For measuring the tick's cost: SKIFF_SWKVM_FAST_TICK=1 keeps 100 Hz. */
	sw->fast_tick = getenv("SKIFF_SWKVM_FAST_TICK") != NULL;
}

void swkvm_count_insn(struct swkvm *sw, const char *name, long ns)
{
	for (unsigned i = 0; i < SWKVM_INSN_KINDS; i++) {
		const char *cur = atomic_load(&sw->insn_name[i]);
		if (!cur) {
			const char *expected = NULL;
			if (!atomic_compare_exchange_strong(&sw->insn_name[i], &expected, name))
				cur = expected;
			else
				cur = name;
		}
		if (cur == name || strcmp(cur, name) == 0) {
			atomic_fetch_add(&sw->insn_count[i], 1);
			atomic_fetch_add(&sw->insn_ns[i], ns);
			return;
		}
	}
}

void swkvm_log_stats(struct swkvm *sw)
{
	char buf[512];
	size_t used = 0;
	buf[0] = 0;
	for (unsigned i = 0; i < SWKVM_INSN_KINDS && used < sizeof(buf); i++) {
		const char *name = atomic_load(&sw->insn_name[i]);
		if (!name)
			break;
		unsigned long n = atomic_load(&sw->insn_count[i]);
		used += snprintf(buf + used, sizeof(buf) - used, "%s%s %lu (%.1f us CPU each in skiff)", i ? ", " : "",
				 name, n, n ? atomic_load(&sw->insn_ns[i]) / 1e3 / n : 0.0);
	}
	log_info("swkvm", "emulated: %s; #PF injected for emulated accesses: %lu; ring-3 rejections: %lu; "
			  "watchdog ticks: %lu",
		 used ? buf : "nothing", atomic_load(&sw->nr_page_faults_injected), atomic_load(&sw->nr_user_rejected),
		 atomic_load(&sw->nr_ticks));
}

/* The guest-physical range of the .text section of an x86-64 vmlinux:
 * its section header gives the virtual range, the PT_LOAD that holds it
 * the physical one. Every bound is checked: the file is untrusted. */
bool swkvm_elf_text_range(const uint8_t *elf, size_t len, uint64_t *lo, uint64_t *hi)
{
	Elf64_Ehdr eh;
	if (!elf || len < sizeof(eh) || memcmp(elf, ELFMAG, SELFMAG) != 0 || elf[EI_CLASS] != ELFCLASS64)
		return false;
	memcpy(&eh, elf, sizeof(eh));
	if (eh.e_shentsize != sizeof(Elf64_Shdr) || eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_shnum == 0 ||
	    eh.e_shstrndx >= eh.e_shnum || eh.e_shoff > len || (uint64_t)eh.e_shnum * sizeof(Elf64_Shdr) > len - eh.e_shoff ||
	    eh.e_phoff > len || (uint64_t)eh.e_phnum * sizeof(Elf64_Phdr) > len - eh.e_phoff)
		return false;
	Elf64_Shdr strtab, sh;
	memcpy(&strtab, elf + eh.e_shoff + (uint64_t)eh.e_shstrndx * sizeof(sh), sizeof(sh));
	if (strtab.sh_offset > len || strtab.sh_size > len - strtab.sh_offset)
		return false;
	for (unsigned i = 0; i < eh.e_shnum; i++) {
		memcpy(&sh, elf + eh.e_shoff + (uint64_t)i * sizeof(sh), sizeof(sh));
		if (sh.sh_name >= strtab.sh_size || strtab.sh_size - sh.sh_name < 6 ||
		    memcmp(elf + strtab.sh_offset + sh.sh_name, ".text", 6) != 0)
			continue;
		if (!(sh.sh_flags & SHF_EXECINSTR) || sh.sh_size == 0 || sh.sh_addr + sh.sh_size < sh.sh_addr)
			return false;
		for (unsigned j = 0; j < eh.e_phnum; j++) {
			Elf64_Phdr ph;
			memcpy(&ph, elf + eh.e_phoff + (uint64_t)j * sizeof(ph), sizeof(ph));
			if (ph.p_type != PT_LOAD || sh.sh_addr < ph.p_vaddr || sh.sh_addr - ph.p_vaddr > ph.p_memsz ||
			    sh.sh_size > ph.p_memsz - (sh.sh_addr - ph.p_vaddr))
				continue;
			*lo = ph.p_paddr + (sh.sh_addr - ph.p_vaddr);
			*hi = *lo + sh.sh_size;
			return *hi > *lo;
		}
		return false;
	}
	return false;
}

void swkvm_set_kernel_text(struct swkvm *sw, uint64_t gpa_lo, uint64_t gpa_hi)
{
	sw->text_gpa_lo = gpa_lo;
	sw->text_gpa_hi = gpa_hi;
	log_debug("swkvm", "kernel text at guest physical [%#llx, %#llx)", (unsigned long long)gpa_lo,
		  (unsigned long long)gpa_hi);
}
