/* xstate-canary: do guest processes keep their own vector registers?
 *
 *   canary [procs] [iterations]        (default: 4 processes x 2500)
 *
 * Each of `procs` forked processes fills its vector registers with a
 * pattern of its own (process, iteration, register, lane), enters the
 * kernel with a raw `syscall` (sched_yield, so other processes run on this
 * CPU; every 8th iteration kill(self, SIGUSR1) instead, so a signal
 * handler runs before the syscall returns), stores the registers back and
 * compares. Registers: XMM0-15 always; YMM0-15 when CPUID and XGETBV say
 * the OS enabled AVX; ZMM0-31 and k0-7 when they say AVX-512 is usable.
 * Handlers for SIGUSR1 and for a SIGVTALRM interval timer overwrite every
 * vector register: if the kernel does not save the interrupted state into
 * the signal frame (XSAVE) and restore it on sigreturn (XRSTOR), the
 * clobber shows up as a corruption. SIGUSR1 runs on an alternate stack
 * that is freshly mapped and never touched before each kill, so the
 * kernel's XSAVE into the signal frame hits a page that is not present
 * yet (the page-fault path of that XSAVE).
 *
 * Load, syscall and store are one asm block, so no compiler-generated code
 * touches the registers in between.
 *
 * Prints one line:
 *   xstate-canary: N procs x M iterations, K corruptions (avx512=yes|no)
 * and exits 0 only if K is 0 (1 on corruption, 2 on usage/setup errors).
 *
 * CANARY_NO_SIGNALS=1 in the environment leaves out both signals (plain
 * yield loops: for measuring the cost of a context switch alone).
 *
 * Build (static, so it runs from any initramfs):
 *   gcc -O2 -static -o canary canary.c
 */
#define _GNU_SOURCE
#include <cpuid.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

enum level { SSE, AVX, AVX512 };

/* Register image: 32 registers x 64 bytes, then 8 opmask registers. */
struct regs {
	uint64_t v[32][8];
	uint64_t k[8];
} __attribute__((aligned(64)));

static enum level level;
static int has_bw; /* AVX512BW: 64-bit opmask moves */
static volatile sig_atomic_t nr_signals;
static int use_signals = 1;

static uint64_t xgetbv0(void)
{
	uint32_t lo, hi;
	__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
	return lo | (uint64_t)hi << 32;
}

static void detect(void)
{
	unsigned a, b, c, d;
	level = SSE;
	if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 27)) || !(c & (1u << 28)))
		return; /* no OSXSAVE or no AVX: XGETBV itself may #UD */
	uint64_t xcr0 = xgetbv0();
	if ((xcr0 & 6) != 6)
		return;
	level = AVX;
	if (__get_cpuid_max(0, NULL) < 7)
		return;
	__cpuid_count(7, 0, a, b, c, d);
	if ((b & (1u << 16)) && (xcr0 & 0xe0) == 0xe0) {
		level = AVX512;
		has_bw = !!(b & (1u << 30));
	}
}

#define R8(M) M(0) M(1) M(2) M(3) M(4) M(5) M(6) M(7)
#define R16(M) R8(M) M(8) M(9) M(10) M(11) M(12) M(13) M(14) M(15)
#define R32(M) R16(M) M(16) M(17) M(18) M(19) M(20) M(21) M(22) M(23) \
	M(24) M(25) M(26) M(27) M(28) M(29) M(30) M(31)

#define LX(n) "movdqu " #n "*64(%[in]), %%xmm" #n "\n\t"
#define SX(n) "movdqu %%xmm" #n ", " #n "*64(%[out])\n\t"
#define LY(n) "vmovdqu " #n "*64(%[in]), %%ymm" #n "\n\t"
#define SY(n) "vmovdqu %%ymm" #n ", " #n "*64(%[out])\n\t"
#define LZ(n) "vmovdqu64 " #n "*64(%[in]), %%zmm" #n "\n\t"
#define SZ(n) "vmovdqu64 %%zmm" #n ", " #n "*64(%[out])\n\t"
#define LKW(n) "kmovw 2048+" #n "*8(%[in]), %%k" #n "\n\t"
#define SKW(n) "kmovw %%k" #n ", 2048+" #n "*8(%[out])\n\t"
#define LKQ(n) "kmovq 2048+" #n "*8(%[in]), %%k" #n "\n\t"
#define SKQ(n) "kmovq %%k" #n ", 2048+" #n "*8(%[out])\n\t"

#define XMM_CLOBBERS "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", \
	"xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15"
#define ZMM_CLOBBERS XMM_CLOBBERS, "xmm16", "xmm17", "xmm18", "xmm19", "xmm20", "xmm21", "xmm22", "xmm23", \
	"xmm24", "xmm25", "xmm26", "xmm27", "xmm28", "xmm29", "xmm30", "xmm31", \
	"k0", "k1", "k2", "k3", "k4", "k5", "k6", "k7"

/* Load registers from *in, syscall(nr, a0, a1), store them to *out. */
#define ROUND(LOADS, STORES, ...)                                                                  \
	do {                                                                                       \
		long ret = nr;                                                                     \
		__asm__ volatile(LOADS "syscall\n\t" STORES                                        \
				 : "+a"(ret)                                                       \
				 : [in] "r"(in), [out] "r"(out), "D"(a0), "S"(a1)                  \
				 : "rcx", "r11", "memory", __VA_ARGS__);                           \
	} while (0)

/* Only these functions may name AVX-512 registers; they contain nothing
 * but the asm, so the compiler has nothing to vectorize in them. */
#define AVX512_FN __attribute__((target("avx512f"), noinline))
AVX512_FN static void round_trip_zmm_q(const struct regs *in, struct regs *out, long nr, long a0, long a1)
{
	ROUND(R32(LZ) R8(LKQ), R32(SZ) R8(SKQ), ZMM_CLOBBERS);
}

AVX512_FN static void round_trip_zmm_w(const struct regs *in, struct regs *out, long nr, long a0, long a1)
{
	ROUND(R32(LZ) R8(LKW), R32(SZ) R8(SKW), ZMM_CLOBBERS);
}

static void round_trip(const struct regs *in, struct regs *out, long nr, long a0, long a1)
{
	switch (level) {
	case SSE:
		ROUND(R16(LX), R16(SX), XMM_CLOBBERS);
		break;
	case AVX:
		ROUND(R16(LY), R16(SY), XMM_CLOBBERS);
		break;
	case AVX512:
		if (has_bw)
			round_trip_zmm_q(in, out, nr, a0, a1);
		else
			round_trip_zmm_w(in, out, nr, a0, a1);
		break;
	}
}

#define CX(n) "pcmpeqd %%xmm" #n ", %%xmm" #n "\n\t"
#define CY(n) "vpcmpeqd %%ymm" #n ", %%ymm" #n ", %%ymm" #n "\n\t"
#define CZ(n) "vpternlogd $0xff, %%zmm" #n ", %%zmm" #n ", %%zmm" #n "\n\t"
#define CK(n) "kxnorw %%k" #n ", %%k" #n ", %%k" #n "\n\t"

AVX512_FN static void clobber_zmm(void)
{
	__asm__ volatile(R32(CZ) R8(CK)::: ZMM_CLOBBERS);
}

/* A signal handler that overwrites every vector register with ones. */
static void clobber(int sig)
{
	(void)sig;
	nr_signals++;
	switch (level) {
	case SSE:
		__asm__ volatile(R16(CX)::: XMM_CLOBBERS);
		break;
	case AVX:
		__asm__ volatile(R16(CY)::: XMM_CLOBBERS);
		break;
	case AVX512:
		clobber_zmm();
		break;
	}
}

static void fill(struct regs *r, unsigned proc, unsigned iter)
{
	memset(r, 0, sizeof(*r));
	for (unsigned i = 0; i < 32; i++)
		for (unsigned l = 0; l < 8; l++)
			r->v[i][l] = 0x5a00000000000000ull | (uint64_t)proc << 48 | (uint64_t)iter << 16 | i << 8 | l;
	for (unsigned i = 0; i < 8; i++)
		r->k[i] = 0xa500000000000000ull | (uint64_t)proc << 48 | (uint64_t)iter << 16 | 0x80 | i;
}

/* Does out hold what in held, for the registers this level uses? */
static int same(const struct regs *in, const struct regs *out)
{
	unsigned nregs = level == AVX512 ? 32 : 16, bytes = level == SSE ? 16 : level == AVX ? 32 : 64;
	for (unsigned i = 0; i < nregs; i++)
		if (memcmp(in->v[i], out->v[i], bytes) != 0)
			return 0;
	if (level == AVX512)
		for (unsigned i = 0; i < 8; i++)
			if ((in->k[i] & (has_bw ? ~0ull : 0xffff)) != out->k[i])
				return 0;
	return 1;
}

#define ALTSTACK_SIZE (64 * 1024)

/* A new, untouched alternate signal stack: its pages are not present. */
static void fresh_altstack(void)
{
	static void *cur;
	if (cur)
		munmap(cur, ALTSTACK_SIZE);
	cur = mmap(NULL, ALTSTACK_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (cur == MAP_FAILED) {
		cur = NULL;
		return;
	}
	stack_t ss = { .ss_sp = cur, .ss_size = ALTSTACK_SIZE };
	sigaltstack(&ss, NULL);
}

static unsigned long child(unsigned proc, unsigned iterations)
{
	static struct regs in, out;
	unsigned long bad = 0;
	pid_t self = getpid();

	for (unsigned it = 0; it < iterations; it++) {
		fill(&in, proc, it);
		memset(&out, 0, sizeof(out));
		if (it % 8 == 7 && use_signals) {
			fresh_altstack();
			round_trip(&in, &out, SYS_kill, self, SIGUSR1);
		}
		else
			round_trip(&in, &out, SYS_sched_yield, 0, 0);
		if (!same(&in, &out)) {
			if (bad < 3)
				fprintf(stderr, "xstate-canary: process %u iteration %u: registers changed "
						"(reg0 lane0 %#llx, expected %#llx)\n",
					proc, it, (unsigned long long)out.v[0][0], (unsigned long long)in.v[0][0]);
			bad++;
		}
	}
	return bad;
}

int main(int argc, char **argv)
{
	long procs = argc > 1 ? strtol(argv[1], NULL, 0) : 4;
	long iterations = argc > 2 ? strtol(argv[2], NULL, 0) : 2500;
	if (procs < 1 || procs > 256 || iterations < 1 || iterations > 100000000 || argc > 3) {
		fprintf(stderr, "usage: canary [procs (1-256)] [iterations]\n");
		return 2;
	}
	detect();
	use_signals = !getenv("CANARY_NO_SIGNALS");

	struct sigaction sa = { .sa_handler = clobber }, sa_alt = { .sa_handler = clobber, .sa_flags = SA_ONSTACK };
	sigemptyset(&sa.sa_mask);
	sigemptyset(&sa_alt.sa_mask);
	if (sigaction(SIGUSR1, &sa_alt, NULL) < 0 || sigaction(SIGVTALRM, &sa, NULL) < 0) {
		perror("xstate-canary: sigaction");
		return 2;
	}
	unsigned long *bad = mmap(NULL, procs * sizeof(*bad), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
				  -1, 0);
	if (bad == MAP_FAILED) {
		perror("xstate-canary: mmap");
		return 2;
	}
	for (long p = 0; p < procs; p++) {
		bad[p] = ~0ul; /* stays so if the child dies */
		pid_t pid = fork();
		if (pid < 0) {
			perror("xstate-canary: fork");
			return 2;
		}
		if (pid == 0) {
			/* SIGVTALRM at random points of the loop (and of the C
			 * code): a timer on the process's own user time, so it
			 * fires only while the process runs and cannot flood a
			 * slow (emulated) guest kernel with signals. */
			struct itimerval t = { { 0, 2000 + 1000 * (p % 4) }, { 0, 2000 + 1000 * (p % 4) } };
			if (use_signals)
				setitimer(ITIMER_VIRTUAL, &t, NULL);
			unsigned long n = child((unsigned)p, (unsigned)iterations);
			struct itimerval off = { { 0, 0 }, { 0, 0 } };
			setitimer(ITIMER_VIRTUAL, &off, NULL);
			bad[p] = n;
			_exit(0);
		}
	}
	unsigned long total = 0;
	int status;
	while (wait(&status) > 0)
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			fprintf(stderr, "xstate-canary: a process died (status %#x)\n", status);
	for (long p = 0; p < procs; p++) {
		if (bad[p] == ~0ul) {
			fprintf(stderr, "xstate-canary: process %ld did not report\n", p);
			total += iterations; /* count every iteration of a lost process */
		} else {
			total += bad[p];
		}
	}
	printf("xstate-canary: %ld procs x %ld iterations, %lu corruptions (avx512=%s)\n", procs, iterations, total,
	       level == AVX512 ? "yes" : "no");
	if (level == SSE)
		printf("xstate-canary: note: AVX is not enabled (XCR0), only XMM0-15 were checked\n");
	return total ? 1 : 0;
}
