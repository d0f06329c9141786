/* Exceptions, the TSS (ring-0 stack for traps from ring 3, I/O permission
 * bitmap) and the ring-0 -> ring-3 -> ring-0 round trip. */
#ifndef TG_TRAP_H
#define TG_TRAP_H

#include "tg.h"

struct trap_frame {
	uint64_t r15, r14, r13, r12, r11, r10, r9, r8, rbp, rdi, rsi, rdx, rcx, rbx, rax;
	uint64_t vector, error;
	uint64_t rip, cs, rflags, rsp, ss;
};

void trap_init(void);
/* Let ring 3 use ports [port, port + n) through the TSS I/O bitmap. */
void iopb_allow(uint16_t port, unsigned n);
/* Run fn(arg) in ring 3 on the user stack; returns its result when it
 * comes back through ud2. */
long user_call(long (*fn)(void *), void *arg);
/* How many ring-3 round trips were made (for the log). */
extern unsigned user_calls;

#endif
