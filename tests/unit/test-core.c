/* Unit tests for the core pieces written without KVM in mind: the bus,
 * CPUID topology, boot page tables, the console escape, and the pure
 * parts of the software-KVM workarounds. */
#include <check.h>
#include <errno.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>

#include "bus/bus.h"
#include "base/guest-mem.h"
#include "kvm/x86/cpu-boot.h"
#include "kvm/x86/cpuid.h"
#include "kvm/x86/layout.h"
#include "kvm/x86/swkvm.h"
#include "kvm/x86/swkvm-pf-trap.h"
#include "tests/unit/log-capture.h"
#include "base/log.h"
#include "base/terminal.h"

/* ---- bus ---- */

struct fake_dev {
	uint64_t last_offset;
	unsigned last_len, reads, writes;
	uint8_t last_data[8];
};

static void fake_read(void *opaque, uint64_t offset, uint8_t *data, unsigned len)
{
	struct fake_dev *d = opaque;
	d->reads++;
	d->last_offset = offset;
	d->last_len = len;
	memset(data, 0x5a, len);
}

static void fake_write(void *opaque, uint64_t offset, const uint8_t *data, unsigned len)
{
	struct fake_dev *d = opaque;
	d->writes++;
	d->last_offset = offset;
	d->last_len = len;
	memcpy(d->last_data, data, len);
}

static const struct bus_ops fake_ops = { .read = fake_read, .write = fake_write };

START_TEST(bus_dispatches_to_owner_with_offset)
{
	struct bus bus;
	struct fake_dev a = { 0 }, b = { 0 };
	uint8_t data[4] = { 1, 2, 3, 4 };

	bus_init(&bus, "test");
	ck_assert_int_eq(bus_register(&bus, 0x3f8, 8, &fake_ops, &a, "a"), 0);
	ck_assert_int_eq(bus_register(&bus, 0x60, 1, &fake_ops, &b, "b"), 0);
	ck_assert(bus_dispatch(&bus, 0x3fb, data, 1, true));
	ck_assert_uint_eq(a.writes, 1);
	ck_assert_uint_eq(a.last_offset, 3);
	ck_assert_uint_eq(a.last_data[0], 1);
	ck_assert(bus_dispatch(&bus, 0x60, data, 1, false));
	ck_assert_uint_eq(b.reads, 1);
	ck_assert_uint_eq(data[0], 0x5a);
}
END_TEST

START_TEST(bus_unclaimed_read_is_all_ones)
{
	struct bus bus;
	uint8_t data[4] = { 0 };

	bus_init(&bus, "test");
	ck_assert(!bus_dispatch(&bus, 0x1234, data, 4, false));
	ck_assert_uint_eq(data[0] & data[1] & data[2] & data[3], 0xff);
}
END_TEST

START_TEST(bus_rejects_overlap_and_bad_ranges)
{
	struct bus bus;
	struct fake_dev a = { 0 };

	bus_init(&bus, "test");
	ck_assert_int_eq(bus_register(&bus, 0x100, 0x10, &fake_ops, &a, "a"), 0);
	ck_assert_int_eq(bus_register(&bus, 0x10f, 1, &fake_ops, &a, "b"), -EEXIST);
	ck_assert_int_eq(bus_register(&bus, 0xf8, 9, &fake_ops, &a, "c"), -EEXIST);
	ck_assert_int_eq(bus_register(&bus, 0xf8, 8, &fake_ops, &a, "d"), 0);
	ck_assert_int_eq(bus_register(&bus, 0x200, 0, &fake_ops, &a, "e"), -EINVAL);
	ck_assert_int_eq(bus_register(&bus, UINT64_MAX - 1, 4, &fake_ops, &a, "f"), -EINVAL);
}
END_TEST

START_TEST(bus_access_straddling_range_end_is_unclaimed)
{
	struct bus bus;
	struct fake_dev a = { 0 };
	uint8_t data[4];

	bus_init(&bus, "test");
	ck_assert_int_eq(bus_register(&bus, 0x100, 4, &fake_ops, &a, "a"), 0);
	ck_assert(!bus_dispatch(&bus, 0x102, data, 4, true));
	ck_assert_uint_eq(a.writes, 0);
	ck_assert(bus_dispatch(&bus, 0x100, data, 4, true));
}
END_TEST

START_TEST(bus_unregister_and_full)
{
	struct bus bus;
	struct fake_dev a = { 0 };
	uint8_t data[1];

	bus_init(&bus, "test");
	for (unsigned i = 0; i < BUS_MAX_RANGES; i++)
		ck_assert_int_eq(bus_register(&bus, i * 16, 16, &fake_ops, &a, "x"), 0);
	ck_assert_int_eq(bus_register(&bus, 0x100000, 16, &fake_ops, &a, "y"), -ENOSPC);
	ck_assert_int_eq(bus_unregister(&bus, 32), 0);
	ck_assert_int_eq(bus_unregister(&bus, 32), -ENOENT);
	ck_assert(!bus_dispatch(&bus, 40, data, 1, false));
	ck_assert(bus_dispatch(&bus, 48, data, 1, false));
}
END_TEST

/* ---- guest memory ---- */

START_TEST(guest_mem_checks_both_ends)
{
	static uint8_t low[4096], high[4096];
	struct guest_mem mem = { .nr_regions = 2,
				 .region = { { .gpa = 0, .size = 4096, .host = low },
					     { .gpa = 1ull << 32, .size = 4096, .host = high } } };

	ck_assert_ptr_eq(guest_mem_ptr(&mem, 0, 4096), low);
	ck_assert_ptr_null(guest_mem_ptr(&mem, 1, 4096));
	ck_assert_ptr_null(guest_mem_ptr(&mem, 4096, 1));
	ck_assert_ptr_eq(guest_mem_ptr(&mem, (1ull << 32) + 4095, 1), high + 4095);
	ck_assert_ptr_null(guest_mem_ptr(&mem, (1ull << 32) + 4095, 2));
	ck_assert_ptr_null(guest_mem_ptr(&mem, UINT64_MAX, 2));
	ck_assert_ptr_null(guest_mem_ptr(&mem, 8, UINT64_MAX));
}
END_TEST

/* ---- CPUID ---- */

static struct kvm_cpuid2 *fake_cpuid(void)
{
	struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + 6 * sizeof(c->entries[0]));
	c->nent = 6;
	c->entries[0] = (struct kvm_cpuid_entry2){ .function = 1, .ebx = 0xff00abcd, .edx = 1 << 28 };
	c->entries[1] = (struct kvm_cpuid_entry2){ .function = 4, .index = 0, .eax = 0xfc004121 };
	c->entries[2] = (struct kvm_cpuid_entry2){ .function = 0xb, .index = 0 };
	c->entries[3] = (struct kvm_cpuid_entry2){ .function = 0xb, .index = 1 };
	c->entries[4] = (struct kvm_cpuid_entry2){ .function = 0x40000001, .eax = 0x01ffffff };
	c->entries[5] = (struct kvm_cpuid_entry2){ .function = 0xb, .index = 2, .ecx = 0x77 };
	return c;
}

START_TEST(cpuid_topology_for_each_vcpu)
{
	for (unsigned n = 1; n <= 8; n *= 2) {
		for (unsigned i = 0; i < n; i++) {
			struct kvm_cpuid2 *c = fake_cpuid();
			cpuid_apply_policy(c, &(struct cpuid_policy){ .vcpu_index = i, .nr_vcpus = n });
			ck_assert_uint_eq(c->entries[0].ebx >> 24, i);
			ck_assert_uint_eq((c->entries[0].ebx >> 16) & 0xff, n);
			ck_assert_uint_eq(c->entries[0].ebx & 0xffff, 0xabcd);
			ck_assert_uint_eq(!!(c->entries[0].edx & (1 << 28)), n > 1);
			ck_assert_uint_eq(c->entries[1].eax >> 26, n - 1);
			ck_assert_uint_eq(c->entries[2].edx, i);
			ck_assert_uint_eq(c->entries[2].ebx, 1);
			ck_assert_uint_eq(c->entries[3].ebx, n);
			ck_assert_uint_eq(1u << c->entries[3].eax >= n, 1);
			ck_assert_uint_eq((c->entries[3].ecx >> 8) & 0xff, 2);
			ck_assert_uint_eq(c->entries[5].ecx, 2); /* invalid level: type 0 */
			ck_assert_uint_eq(c->entries[4].eax, 0x01ffffff);
			ck_assert(c->entries[0].ecx & CPUID_1_ECX_HYPERVISOR);
			ck_assert(!(c->entries[0].ecx & CPUID_1_ECX_TSC_DEADLINE));
			free(c);
		}
	}
}
END_TEST

START_TEST(cpuid_hides_pv_features_on_request)
{
	struct kvm_cpuid2 *c = fake_cpuid();
	cpuid_apply_policy(c, &(struct cpuid_policy){ .vcpu_index = 0, .nr_vcpus = 2, .hide_pv_features = true });
	ck_assert_uint_eq(c->entries[4].eax & 0x2a80, 0);
	ck_assert_uint_eq(c->entries[4].eax, 0x01ffffff & ~0x2a80u);
	free(c);
}
END_TEST

START_TEST(cpuid_tsc_deadline_when_kvm_emulates_it)
{
	struct kvm_cpuid2 *c = fake_cpuid();
	cpuid_apply_policy(c, &(struct cpuid_policy){ .vcpu_index = 0, .nr_vcpus = 1, .tsc_deadline = true });
	ck_assert(c->entries[0].ecx & CPUID_1_ECX_TSC_DEADLINE);
	ck_assert(c->entries[0].ecx & CPUID_1_ECX_HYPERVISOR);
	free(c);
}
END_TEST

/* ---- boot tables ---- */

START_TEST(boot_tables_identity_map_4g)
{
	struct guest_mem mem = { .nr_regions = 1 };
	mem.region[0] = (struct guest_region){ .gpa = 0, .size = 1 << 20, .host = calloc(1, 1 << 20) };

	ck_assert_int_eq(cpu_boot_write_tables(&mem), 0);
	uint64_t *pml4 = guest_mem_ptr(&mem, LAYOUT_PML4, 8);
	uint64_t *pdpt = guest_mem_ptr(&mem, LAYOUT_PDPT, 32);
	ck_assert_uint_eq(pml4[0] & ~0xfffull, LAYOUT_PDPT);
	for (uint64_t gib = 0; gib < 4; gib++) {
		uint64_t *pd = guest_mem_ptr(&mem, pdpt[gib] & ~0xfffull, 4096);
		ck_assert_ptr_nonnull(pd);
		for (int i = 0; i < 512; i += 101)
			ck_assert_uint_eq(pd[i], ((gib << 30) + ((uint64_t)i << 21)) | 0x83);
	}
	uint64_t *gdt = guest_mem_ptr(&mem, LAYOUT_GDT, 40);
	ck_assert_uint_eq((gdt[2] >> 53) & 1, 1); /* __BOOT_CS is 64-bit code */
	free(mem.region[0].host);

	struct guest_mem tiny = { .nr_regions = 1 };
	static uint8_t small[0x8000];
	tiny.region[0] = (struct guest_region){ .gpa = 0, .size = sizeof(small), .host = small };
	ck_assert_int_eq(cpu_boot_write_tables(&tiny), -EFAULT);
}
END_TEST

START_TEST(boot_long_mode_registers)
{
	struct kvm_sregs s = { 0 };
	struct kvm_regs r;

	cpu_boot_long_mode(&s, &r, 0x1000000, LAYOUT_BOOT_PARAMS);
	ck_assert_uint_eq(r.rip, 0x1000000);
	ck_assert_uint_eq(r.rsi, LAYOUT_BOOT_PARAMS);
	ck_assert_uint_eq(s.cs.selector, 0x10);
	ck_assert_uint_eq(s.ds.selector, 0x18);
	ck_assert_uint_eq(s.cs.l, 1);
	ck_assert_uint_eq(s.efer & 0x500, 0x500);
	ck_assert_uint_eq(s.cr0 >> 31, 1);
	ck_assert_uint_eq(s.cr3, LAYOUT_PML4);

	cpu_boot_pvh(&s, &r, 0x100000, 0x7000);
	ck_assert_uint_eq(r.rbx, 0x7000);
	ck_assert_uint_eq(s.cs.l, 0);
	ck_assert_uint_eq(s.cs.db, 1);
	ck_assert_uint_eq(s.cr0 & 0x80000001, 1);
}
END_TEST

/* ---- console escape ---- */

START_TEST(terminal_escape_sequences)
{
	struct terminal_escape esc = { 0 };
	unsigned char out[16];
	bool quit;

	unsigned n = terminal_filter_input(&esc, (const unsigned char *)"ab", 2, out, &quit);
	ck_assert_uint_eq(n, 2);
	ck_assert(!quit);
	n = terminal_filter_input(&esc, (const unsigned char *)"\x01\x01z", 3, out, &quit);
	ck_assert_uint_eq(n, 2);
	ck_assert_uint_eq(out[0], 1);
	ck_assert_uint_eq(out[1], 'z');
	/* Ctrl-A at the end of one read, x at the start of the next. */
	n = terminal_filter_input(&esc, (const unsigned char *)"q\x01", 2, out, &quit);
	ck_assert_uint_eq(n, 1);
	n = terminal_filter_input(&esc, (const unsigned char *)"x", 1, out, &quit);
	ck_assert(quit);
	/* Ctrl-A then another key passes both through, even across reads. */
	esc.pending = false;
	n = terminal_filter_input(&esc, (const unsigned char *)"\x01", 1, out, &quit);
	ck_assert_uint_eq(n, 0);
	n = terminal_filter_input(&esc, (const unsigned char *)"cd", 2, out, &quit);
	ck_assert_uint_eq(n, 3);
	ck_assert(memcmp(out, "\x01" "cd", 3) == 0);
}
END_TEST

/* ---- software-KVM helpers ---- */

START_TEST(swkvm_detects_hw_virt_flags)
{
	ck_assert(swkvm_cpuinfo_has_hw_virt("processor\t: 0\nflags\t\t: fpu vme vmx sse\n"));
	ck_assert(swkvm_cpuinfo_has_hw_virt("flags\t: fpu svm\n"));
	ck_assert(!swkvm_cpuinfo_has_hw_virt("flags\t: fpu vmxnot sse\n"));
	ck_assert(!swkvm_cpuinfo_has_hw_virt("flags\t: fpu sse hypervisor\n"));
	ck_assert(!swkvm_cpuinfo_has_hw_virt("vmx flags\t: ept\n"));
	ck_assert(!swkvm_cpuinfo_has_hw_virt(""));
}
END_TEST

START_TEST(swkvm_idt_gate_round_trip)
{
	uint8_t raw[16], again[16];
	struct idt_gate64 g = { .offset = 0xffffffff81a01234ull, .selector = 0x10, .ist = 0, .type_attr = 0x8e };
	struct idt_gate64 d;

	swkvm_idt_gate_encode(&g, raw);
	ck_assert_uint_eq(raw[0], 0x34);
	ck_assert_uint_eq(raw[1], 0x12);
	ck_assert_uint_eq(raw[2], 0x10);
	ck_assert_uint_eq(raw[5], 0x8e);
	ck_assert_uint_eq(raw[6], 0xa0);
	ck_assert_uint_eq(raw[7], 0x81);
	ck_assert_uint_eq(raw[8], 0xff);
	swkvm_idt_gate_decode(raw, &d);
	ck_assert_uint_eq(d.offset, g.offset);
	ck_assert_uint_eq(d.selector, 0x10);
	ck_assert_uint_eq(d.type_attr, 0x8e);
	swkvm_idt_gate_encode(&d, again);
	ck_assert(memcmp(raw, again, 16) == 0);
}
END_TEST

START_TEST(swkvm_trap_byte_prefers_padding)
{
	const uint8_t text1[] = { 0x55, 0xcc, 0x90, 0xc3, 0xcc, 0xcc, 0xcc };
	const uint8_t text2[] = { 0x55, 0x90, 0xcc };
	const uint8_t text3[] = { 0x55, 0x90, 0xc3 };
	ck_assert_int_eq(swkvm_find_trap_byte(text1, sizeof(text1)), 4);
	ck_assert_int_eq(swkvm_find_trap_byte(text2, sizeof(text2)), 2);
	ck_assert_int_eq(swkvm_find_trap_byte(text3, sizeof(text3)), -1);
	ck_assert_int_eq(swkvm_find_trap_byte(text1, 0), -1);
}
END_TEST

START_TEST(swkvm_trampoline_encodes_targets)
{
	const uint64_t at = 0xffffffff81801590ull, lstar = 0xffffffff81800080ull, handler = 0xffffffff81800b30ull;
	uint8_t b[SWKVM_PF_TRAMP_LEN];
	int32_t rel;

	ck_assert(swkvm_pf_tramp_build(b, at, lstar, 0x47700, handler));
	ck_assert(memcmp(b, (const uint8_t[]){ 0x48, 0x81, 0x7c, 0x24, 0x08 }, 5) == 0); /* cmpq $imm32, 8(%rsp) */
	ck_assert_uint_eq((uint32_t)(b[5] | b[6] << 8 | b[7] << 16 | (uint32_t)b[8] << 24), (uint32_t)lstar);
	ck_assert_uint_eq(b[9], 0x75);                 /* jne ... */
	ck_assert_uint_eq(11 + b[10], 39);             /* ... to the final jmp */
	ck_assert_uint_eq(b[16], 0x74);                /* jz ... */
	ck_assert_uint_eq(18 + b[17], 39);
	/* andq with ~(SFMASK | RF): IF, TF, DF, AC, NT, IOPL and RF cleared. */
	uint32_t keep = b[24] | b[25] << 8 | b[26] << 16 | (uint32_t)b[27] << 24;
	ck_assert_uint_eq(keep, (uint32_t)~(0x47700u | 0x10000u));
	memcpy(&rel, &b[35], 4);
	ck_assert_uint_eq(at + 39 + (int64_t)rel, lstar);
	memcpy(&rel, &b[40], 4);
	ck_assert_uint_eq(at + 44 + (int64_t)rel, handler);
}
END_TEST

START_TEST(swkvm_trampoline_refuses_what_it_cannot_express)
{
	uint8_t b[SWKVM_PF_TRAMP_LEN];
	/* SYSCALL_MASK without IF: the two instructions on the user stack could be interrupted. */
	ck_assert(!swkvm_pf_tramp_build(b, 0xffffffff81000000ull, 0xffffffff81000100ull, 0x500, 0xffffffff81000200ull));
	/* LSTAR outside the top 2 GiB: not a sign-extended imm32. */
	ck_assert(!swkvm_pf_tramp_build(b, 0xffffffff81000000ull, 0xffff888000000000ull, 0x47700, 0xffffffff81000200ull));
	/* Handler out of rel32 reach. */
	ck_assert(!swkvm_pf_tramp_build(b, 0xffffffff81000000ull, 0xffffffff81000100ull, 0x47700, 0x100000000000ull));
}
END_TEST

START_TEST(swkvm_padding_needs_an_aligned_run)
{
	uint8_t text[256];
	memset(text, 0x90, sizeof(text));
	ck_assert_int_eq(swkvm_find_padding(text, sizeof(text), 44), -1);
	memset(text + 13, 0xcc, 50); /* 13..62: an aligned 44-byte run fits at 16 */
	ck_assert_int_eq(swkvm_find_padding(text, sizeof(text), 44), 16);
	memset(text + 13, 0x90, 50);
	memset(text + 13, 0xcc, 46); /* 13..58: from 16 only 43 bytes remain */
	ck_assert_int_eq(swkvm_find_padding(text, sizeof(text), 44), -1);
	memset(text + 100, 0xcc, 100);
	long at = swkvm_find_padding(text, sizeof(text), 44);
	ck_assert_int_eq(at % 8, 0);
	ck_assert_int_ge(at, 100);
	for (long i = at; i < at + 44; i++)
		ck_assert_uint_eq(text[i], 0xcc);
}
END_TEST

START_TEST(swkvm_broken_syscall_recognised)
{
	const uint64_t lstar = 0xffffffff81c00080ull;
	ck_assert(swkvm_fault_is_broken_syscall(lstar, 0x33, lstar));
	ck_assert(!swkvm_fault_is_broken_syscall(lstar, 0x10, lstar));     /* from ring 0: real fault */
	ck_assert(!swkvm_fault_is_broken_syscall(0x401000, 0x33, lstar));  /* user fault elsewhere */
	ck_assert(!swkvm_fault_is_broken_syscall(0, 0x33, 0));             /* LSTAR not set up */
}
END_TEST

START_TEST(swkvm_hypercall_opcodes)
{
	ck_assert(swkvm_is_hypercall((const uint8_t[]){ 0x0f, 0x01, 0xc1 }, 3));
	ck_assert(swkvm_is_hypercall((const uint8_t[]){ 0x0f, 0x01, 0xd9 }, 3));
	ck_assert(!swkvm_is_hypercall((const uint8_t[]){ 0x0f, 0x01, 0xca }, 3)); /* clac */
	ck_assert(!swkvm_is_hypercall((const uint8_t[]){ 0x0f, 0x01 }, 2));
}
END_TEST

START_TEST(swkvm_cmdline_fits_linux_clearcpuid_buffer)
{
	/* Linux 6.1 copies clearcpuid= into a 128-byte buffer. */
	const char *p = strstr(swkvm_cmdline, "clearcpuid=");
	ck_assert_ptr_nonnull(p);
	p += strlen("clearcpuid=");
	size_t len = strcspn(p, " ");
	ck_assert_uint_lt(len, 128);
	/* noxsave corrupts guest user space (ring 3 runs with the host's
	 * XCR0); the kernel stays on plain XSAVE: xsaveopt/xsavec/xsaves off. */
	ck_assert_ptr_null(strstr(swkvm_cmdline, "noxsave"));
	ck_assert_ptr_nonnull(strstr(p, ",320,321,322,323"));
}
END_TEST

/* ---- rate-limited log lines ---- */

/* A flood shows as one line; the next one let out (here: as if the
 * interval had passed) says how many were held back; another limit is
 * not held back by this one. */
START_TEST(log_limited_lets_one_through)
{
	struct log_limit flood = {0}, other = {0};

	log_capture_start();
	for (int i = 0; i < 100; i++)
		log_limited(&flood, LOG_WARN, "test", "flood %d", i);
	log_limited(&other, LOG_WARN, "test", "another kind");
	flood.next = 0; /* LOG_LIMIT_INTERVAL later */
	log_limited(&flood, LOG_WARN, "test", "flood again");
	ck_assert_uint_eq(log_capture_stop("flood"), 2);

	log_capture_start();
	log_limited(&other, LOG_WARN, "test", "another kind");
	ck_assert_uint_eq(log_capture_stop("another kind"), 0); /* within the interval */
	ck_assert_uint_eq(other.suppressed, 1);
	ck_assert_uint_eq(flood.suppressed, 0);
}
END_TEST

START_TEST(log_limited_counts_what_it_held_back)
{
	struct log_limit flood = {0};

	log_capture_start();
	for (int i = 0; i < 100; i++)
		log_limited(&flood, LOG_WARN, "test", "flood");
	flood.next = 0;
	log_limited(&flood, LOG_WARN, "test", "flood");
	ck_assert_uint_eq(log_capture_stop("(and 99 more like it since the last one logged)"), 1);
}
END_TEST

Suite *core_suite(void)
{
	Suite *s = suite_create("core");
	TCase *bus = tcase_create("bus");
	tcase_add_test(bus, bus_dispatches_to_owner_with_offset);
	tcase_add_test(bus, bus_unclaimed_read_is_all_ones);
	tcase_add_test(bus, bus_rejects_overlap_and_bad_ranges);
	tcase_add_test(bus, bus_access_straddling_range_end_is_unclaimed);
	tcase_add_test(bus, bus_unregister_and_full);
	tcase_add_test(bus, guest_mem_checks_both_ends);
	tcase_add_test(bus, log_limited_lets_one_through);
	tcase_add_test(bus, log_limited_counts_what_it_held_back);
	suite_add_tcase(s, bus);
	TCase *cpu = tcase_create("cpu");
	tcase_add_test(cpu, cpuid_topology_for_each_vcpu);
	tcase_add_test(cpu, cpuid_hides_pv_features_on_request);
	tcase_add_test(cpu, cpuid_tsc_deadline_when_kvm_emulates_it);
	tcase_add_test(cpu, boot_tables_identity_map_4g);
	tcase_add_test(cpu, boot_long_mode_registers);
	suite_add_tcase(s, cpu);
	TCase *misc = tcase_create("console+swkvm");
	tcase_add_test(misc, terminal_escape_sequences);
	tcase_add_test(misc, swkvm_detects_hw_virt_flags);
	tcase_add_test(misc, swkvm_idt_gate_round_trip);
	tcase_add_test(misc, swkvm_trap_byte_prefers_padding);
	tcase_add_test(misc, swkvm_broken_syscall_recognised);
	tcase_add_test(misc, swkvm_trampoline_encodes_targets);
	tcase_add_test(misc, swkvm_trampoline_refuses_what_it_cannot_express);
	tcase_add_test(misc, swkvm_padding_needs_an_aligned_run);
	tcase_add_test(misc, swkvm_hypercall_opcodes);
	tcase_add_test(misc, swkvm_cmdline_fits_linux_clearcpuid_buffer);
	suite_add_tcase(s, misc);
	return s;
}

#ifndef SKIFF_UNIT_NO_MAIN
int main(void)
{
	SRunner *sr = srunner_create(core_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
#endif
