/* The virtio-rng request loop, run in ring 3 (linker.ld puts this file in
 * the user section): add a buffer, kick the device if it wants it, poll
 * the used ring in memory. On this software-KVM host ring-0 code is
 * emulated (~250 ns an instruction) while ring 3 runs natively, so the
 * polling loop belongs here. Kicks are MMIO writes (user-bit pages) or
 * `out` to a port the TSS I/O bitmap opens. No printing from here. */
#include "virtio.h"

void vnotify_kick(const struct vnotify *n)
{
	switch (n->kind) {
	case NOTIFY_MMIO16:
		*(volatile uint16_t *)n->addr = (uint16_t)n->value;
		break;
	case NOTIFY_MMIO32:
		*(volatile uint32_t *)n->addr = n->value;
		break;
	case NOTIFY_PIO16:
		__asm__ volatile("outw %0, %1" ::"a"((uint16_t)n->value), "Nd"((uint16_t)n->addr));
		break;
	}
}

/* Wait for the next used buffer: its token (or, for vring.c, id + 1);
 * 0 on timeout; (void *)-1 if the device returned something impossible. */
static void *wait_used(struct rng_job *job, uint32_t *len)
{
	uint64_t t0 = u_rdtsc();
	unsigned spins = 0;

	for (;;) {
		if (job->vqd) {
			void *tok = vqd_get_used(job->vqd, len);
			if (tok)
				return tok;
			if (job->vqd->broken)
				return (void *)-1;
		} else if (vring_drv_has_used(job->vq)) {
			int id = vring_drv_get_used(job->vq, len);
			return id < 0 ? (void *)-1 : (void *)(uintptr_t)(id + 1);
		}
		__asm__ volatile("pause");
		if ((++spins & 1023) == 0 && u_rdtsc() - t0 > job->timeout_cycles)
			return 0;
	}
}

long rng_user_run(void *arg)
{
	struct rng_job *job = arg;
	uint64_t start = u_rdtsc();

	for (unsigned r = 0; r < job->nreq; r++) {
		uint8_t *buf = job->bufs + (size_t)r * job->req_len;
		for (uint32_t i = 0; i < job->req_len; i++)
			buf[i] = 0;

		/* Odd requests go through an indirect table (two halves) when
		 * INDIRECT_DESC was negotiated; even ones are one descriptor. */
		bool indirect = (r & 1) && (job->vqd ? job->vqd->indirect : job->indirect != 0);
		uint32_t half = job->req_len / 2;
		void *expect;
		int ret;
		if (job->vqd) {
			struct vqd_buf b[2] = { { (uint64_t)(uintptr_t)buf, indirect ? half : job->req_len },
						{ (uint64_t)(uintptr_t)(buf + half), job->req_len - half } };
			ret = vqd_add(job->vqd, 0, 0, b, indirect ? 2 : 1, buf, indirect);
			expect = buf;
		} else if (indirect) {
			struct vring_buf b[2] = { { (uint64_t)(uintptr_t)buf, half, true },
						  { (uint64_t)(uintptr_t)(buf + half), job->req_len - half, true } };
			ret = vring_drv_add(job->vq, b, 2, job->indirect + 2 * (r % 64));
			expect = (void *)(uintptr_t)(ret + 1);
		} else {
			struct vring_buf b = { (uint64_t)(uintptr_t)buf, job->req_len, true };
			ret = vring_drv_add(job->vq, &b, 1, 0);
			expect = (void *)(uintptr_t)(ret + 1);
		}
		if (ret < 0) {
			job->error = -3, job->err_req = r;
			break;
		}
		if (job->vqd ? vqd_kick_needed(job->vqd) : vring_drv_kick_needed(job->vq)) {
			vnotify_kick(&job->notify);
			job->kicks++;
		}

		uint32_t len = 0;
		void *got = wait_used(job, &len);
		if (!got) {
			job->error = -1, job->err_req = r;
			break;
		}
		if (got != expect) {
			job->error = -2, job->err_req = r;
			break;
		}
		job->used_len[r] = len;
	}
	job->cycles = u_rdtsc() - start;
	return job->error;
}

/* ---- ring-3 self-test and deliberate faults (also run in ring 3) ---- */

static void u_outb(uint16_t port, uint8_t v) { __asm__ volatile("outb %0, %1" ::"a"(v), "Nd"(port)); }
static uint8_t u_inb(uint16_t port)
{
	uint8_t v;
	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

/* Returns CS (its low bits are the ring we ran in) and, when arg is a
 * string, writes it to COM1 with `out` through the TSS I/O bitmap. */
long user_selftest(void *arg)
{
	const char *s = arg;
	uint16_t cs;
	__asm__ volatile("mov %%cs, %0" : "=r"(cs));
	for (; s && *s; s++) {
		for (unsigned i = 0; i < 100000 && !(u_inb(0x3f8 + 5) & 0x20); i++)
			;
		u_outb(0x3f8, (uint8_t)*s);
	}
	return cs;
}

/* crash=ud3|gp3|pf3|de3: an exception ring 3 did not plan. */
long user_crash(void *arg)
{
	char k = (char)(uintptr_t)arg; /* the first letter, not a pointer: the command line is not a user page */
	if (k == 'u') {
		__asm__ volatile("ud2");
	} else if (k == 'g') {
		__asm__ volatile("hlt"); /* privileged: #GP in ring 3 */
	} else if (k == 'p') {
		return *(volatile long *)(uintptr_t)KERNEL_BASE; /* supervisor page: #PF */
	} else if (k == 'd') {
		uint32_t eax = 1, edx = 0, zero = 0;
		__asm__ volatile("divl %2" : "+a"(eax), "+d"(edx) : "r"(zero)); /* #DE */
		return eax;
	}
	return 0;
}
