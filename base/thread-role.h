/* What a thread of skiff is for, told to the sandbox by the thread itself
 * when it starts: each role gets a seccomp filter of its own (vmm/sandbox.c)
 * on top of the process-wide one. Device code names its threads' roles
 * here without knowing anything of the sandbox: the machine installs the
 * hook; with none installed (unit tests, --seccomp off) it does nothing. */
#ifndef SKIFF_THREAD_ROLE_H
#define SKIFF_THREAD_ROLE_H

enum thread_role {
	THREAD_ROLE_MAIN,       /* the console loop and the clean-up at exit */
	THREAD_ROLE_VCPU,       /* KVM_RUN and the device models behind MMIO/PIO exits */
	THREAD_ROLE_REACTOR,    /* queue kicks, TAP, the control socket (base/reactor.c) */
	THREAD_ROLE_BLOCK_IO,   /* a disk's io_uring reaper and worker pool */
	THREAD_ROLE_CONSOLE_IO, /* virtio-console's port thread */
	THREAD_ROLE_NET_USER,   /* libslirp's poll loop (backend=user) */
	THREAD_ROLE_COUNT
};

/* Called by a thread at its start, before it runs guest-driven code. May
 * wait until the machine is set up and the sandbox goes on. */
void thread_role_enter(enum thread_role role);

/* For the machine: what thread_role_enter() does (NULL: nothing). */
void thread_role_set_hook(void (*enter)(enum thread_role role));

#endif
