/* test-guest: boots by PVH under skiff or QEMU, checks the ring-3 round
 * trip, enumerates PCI and virtio-mmio, drives every virtio-rng it finds
 * and ends through debug-exit. See README. */
#include "pci.h"
#include "attack.h"
#include "trap.h"

#define HVM_START_MAGIC 0x336ec578

struct hvm_start_info {
	uint32_t magic, version, flags, nr_modules;
	uint64_t modlist_paddr, cmdline_paddr, rsdp_paddr, memmap_paddr;
	uint32_t memmap_entries, reserved;
};

struct hvm_memmap_entry {
	uint64_t addr, size;
	uint32_t type, reserved;
};

long user_selftest(void *arg);
long user_crash(void *arg);

/* Does the token at s (ending at space/NUL) start with key? Returns the value. */
static const char *value_of(const char *s, const char *key)
{
	size_t n = strlen(key);
	return strncmp(s, key, n) == 0 ? s + n : 0;
}

static bool tok_is(const char *s, const char *word, size_t len)
{
	return strlen(word) == len && strncmp(s, word, len) == 0;
}

static void add_mmio(uint64_t a)
{
	if (opt.nr_mmio < MAX_MMIO_ADDRS)
		opt.mmio_addr[opt.nr_mmio++] = a;
	opt.mmio_given = true;
}

/* Options (space separated; unknown words, e.g. console=ttyS0, ignored):
 *   expect=pci,pci-legacy,mmio,mmio-legacy   transports that must pass
 *   mmio=ADDR[,ADDR...]                     virtio-mmio addresses to probe
 *   virtio_mmio.device=SIZE@ADDR[:IRQ]      (Linux's syntax) likewise
 *   pci=cf8|ecam|off  ecam=ADDR  pcimem=ADDR[,SIZE]  pciio=PORT[,SIZE]
 *   requests=N  timeout=MS  features=min  ring=auto|split|packed  blk-bench=MS  net-bench=MS
 *   crash=ud3|gp3|pf3|de3|ud0  attack=all|NAME[,NAME...] */
static void parse_cmdline(const char *c)
{
	while (*c) {
		while (*c == ' ')
			c++;
		const char *t = c, *v;
		while (*c && *c != ' ')
			c++;
		size_t len = (size_t)(c - t);
		if (!len)
			break;
		uint64_t x;
		if ((v = value_of(t, "expect="))) {
			opt.expect_given = true;
			while (v < c) {
				const char *w = v;
				while (v < c && *v != ',')
					v++;
				size_t wl = (size_t)(v - w);
				if (tok_is(w, "pci", wl))
					opt.expect |= TRANSPORT_PCI;
				else if (tok_is(w, "pci-legacy", wl))
					opt.expect |= TRANSPORT_PCI_LEGACY;
				else if (tok_is(w, "mmio", wl))
					opt.expect |= TRANSPORT_MMIO;
				else if (tok_is(w, "mmio-legacy", wl))
					opt.expect |= TRANSPORT_MMIO_LEGACY;
				else if (!tok_is(w, "none", wl) && wl)
					printf("test-guest: unknown transport in expect=: %.*s\n", (int)wl, w);
				if (v < c)
					v++;
			}
		} else if ((v = value_of(t, "mmio="))) {
			while (v < c) {
				int n = parse_u64(v, &x);
				if (!n)
					break;
				add_mmio(x);
				v += n;
				if (*v == ',')
					v++;
			}
		} else if ((v = value_of(t, "virtio_mmio.device="))) {
			int n = parse_u64(v, &x); /* size */
			if (n && v[n] == '@' && parse_u64(v + n + 1, &x))
				add_mmio(x);
		} else if ((v = value_of(t, "pci="))) {
			if (tok_is(v, "ecam", (size_t)(c - v)))
				opt.pci_mode = PCI_MODE_ECAM;
			else if (tok_is(v, "off", (size_t)(c - v)))
				opt.pci_mode = PCI_MODE_OFF;
			else
				opt.pci_mode = PCI_MODE_CF8;
		} else if ((v = value_of(t, "ecam="))) {
			if (parse_u64(v, &x))
				opt.ecam_base = x;
		} else if ((v = value_of(t, "pcimem="))) {
			int n = parse_u64(v, &x);
			if (n) {
				opt.pci_mem_base = x;
				if (v[n] == ',' && parse_u64(v + n + 1, &x))
					opt.pci_mem_size = x;
			}
		} else if ((v = value_of(t, "pciio="))) {
			int n = parse_u64(v, &x);
			if (n) {
				opt.pci_io_base = (uint32_t)x;
				if (v[n] == ',' && parse_u64(v + n + 1, &x))
					opt.pci_io_size = (uint32_t)x;
			}
		} else if ((v = value_of(t, "requests="))) {
			if (parse_u64(v, &x))
				opt.requests = (unsigned)x;
		} else if ((v = value_of(t, "timeout="))) {
			if (parse_u64(v, &x))
				opt.timeout_ms = (unsigned)x;
		} else if ((v = value_of(t, "ring="))) {
			if (tok_is(v, "split", (size_t)(c - v)))
				opt.ring = RING_SPLIT;
			else if (tok_is(v, "packed", (size_t)(c - v)))
				opt.ring = RING_PACKED;
			else
				opt.ring = RING_AUTO;
		} else if ((v = value_of(t, "blk-bench="))) {
			if (parse_u64(v, &x))
				opt.bench_ms = (unsigned)x;
		} else if ((v = value_of(t, "net-bench="))) {
			if (parse_u64(v, &x))
				opt.net_bench_ms = (unsigned)x;
		} else if (value_of(t, "features=min")) {
			opt.features_min = true;
		} else if ((v = value_of(t, "attack="))) {
			opt.attack = v;
		} else if ((v = value_of(t, "crash="))) {
			opt.crash = v;
		}
	}
}

static void print_cmdline(const char *c)
{
	printf("test-guest: command line \"");
	for (unsigned i = 0; c[i] && i < 1024; i++)
		putchar_serial(c[i]);
	printf("\"\n");
}

static void ring3_selftest(void)
{
	uint64_t t0 = rdtsc();
	long cs = user_call(user_selftest, 0);
	uint64_t t1 = rdtsc();
	/* Ring 3 can only read user pages: copy the message there first. */
	static char msg[80] __attribute__((section(".user.bss")));
	const char *hello = "test-guest: hello from ring 3 (out through the TSS I/O bitmap)\n";
	memcpy(msg, hello, strlen(hello) + 1);
	long cs2 = user_call(user_selftest, msg);
	/* Steady state: the cheapest of a few more round trips. */
	uint64_t best = ~0ull;
	for (unsigned i = 0; i < 8; i++) {
		uint64_t a = rdtsc();
		user_call(user_selftest, 0);
		uint64_t b = rdtsc();
		if (b - a < best)
			best = b - a;
	}
	if ((cs & 3) == 3 && cs2 == cs) {
		printf("test-guest: ring-3 round trip OK (cs 0x%lx, first %lu TSC cycles, then %lu)\n", cs, t1 - t0,
		       best);
		result_pass();
	} else {
		printf("test-guest: ring-3 round trip FAIL (cs 0x%lx / 0x%lx)\n", cs, cs2);
		result_fail();
	}
}

void kmain(uint32_t start_info_paddr)
{
	uint64_t t_start = rdtsc();
	const struct hvm_start_info *si = (const void *)(uintptr_t)start_info_paddr;

	serial_init();
	printf("\ntest-guest: skiff freestanding test guest (PVH, long mode, ring-3 polling)\n");
	if (!start_info_paddr || si->magic != HVM_START_MAGIC) {
		printf("test-guest: FAIL bad hvm_start_info at 0x%x (magic 0x%x)\n", start_info_paddr,
		       start_info_paddr ? si->magic : 0);
		debug_exit(EXIT_INTERNAL);
	}
	const char *cmdline = si->cmdline_paddr ? (const char *)(uintptr_t)si->cmdline_paddr : "";
	printf("test-guest: hvm_start_info at 0x%x version %u, %u memmap entries, rsdp 0x%lx\n", start_info_paddr,
	       si->version, si->version >= 1 ? si->memmap_entries : 0, si->rsdp_paddr);
	if (si->version >= 1 && si->memmap_paddr) {
		const struct hvm_memmap_entry *m = (const void *)(uintptr_t)si->memmap_paddr;
		for (unsigned i = 0; i < si->memmap_entries && i < 16; i++) {
			printf("  memmap 0x%09lx-0x%09lx type %u\n", m[i].addr, m[i].addr + m[i].size - 1, m[i].type);
			if (m[i].type == 1 && m[i].addr + m[i].size <= 0x100000000ull && m[i].addr + m[i].size > ram_top)
				ram_top = m[i].addr + m[i].size;
		}
	}
	print_cmdline(cmdline);
	parse_cmdline(cmdline);

	trap_init();
	iopb_allow(COM1, 8); /* the ring-3 self-test writes to the UART */

	if (opt.crash) {
		printf("test-guest: crash=%.3s requested: expect an exception report\n", opt.crash);
		if (opt.crash[0] && opt.crash[1] && opt.crash[2] == '0')
			__asm__ volatile("ud2");
		user_call(user_crash, (void *)(uintptr_t)opt.crash[0]);
		printf("test-guest: FAIL crash=%.3s did not fault\n", opt.crash);
		debug_exit(EXIT_INTERNAL);
	}

	ring3_selftest();

	static struct pci_func funcs[PCI_MAX_FUNCS];
	unsigned nfunc = pci_enumerate(funcs, PCI_MAX_FUNCS);
	if (opt.attack) {
		const struct attack_table tables[] = { { ring_attacks, nr_ring_attacks }, { dev_attacks, nr_dev_attacks } };
		unsigned failed = attack_main(funcs, nfunc, tables, sizeof(tables) / sizeof(tables[0]));
		debug_exit(failed ? (uint8_t)(EXIT_FAIL_BASE + (failed > 0x2f ? 0x2f : failed)) : EXIT_PASS);
	}
	unsigned found = 0, passed = 0;
	virtio_pci_probe(funcs, nfunc, &found, &passed);
	virtio_mmio_probe(&found, &passed);

	for (unsigned t = 1; t <= TRANSPORT_MMIO_LEGACY; t <<= 1) {
		if (!(opt.expect & t))
			continue;
		if (!(found & t)) {
			printf("virtio-rng %s: FAIL expected (expect=) but not found\n", transport_name(t));
			result_fail();
		} else if (!(passed & t)) {
			printf("virtio-rng %s: expected, found, but did not pass\n", transport_name(t));
		}
	}

	printf("test-guest: %u ring-3 calls, %lu TSC cycles since entry\n", user_calls, rdtsc() - t_start);
	printf("test-guest: %u passed, %u failed\n", tests_passed, tests_failed);
	if (tests_failed) {
		unsigned n = tests_failed > EXIT_FAIL_MAX ? EXIT_FAIL_MAX : tests_failed;
		debug_exit((uint8_t)(EXIT_FAIL_BASE + n));
	}
	debug_exit(EXIT_PASS);
}
