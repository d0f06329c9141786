/* What kind of kernel object a descriptor is, told by the code that opens
 * it: the sandbox (vmm/sandbox.c) binds each ioctl request to the
 * descriptors of its class when it locks down, so KVM_RUN works on a vCPU
 * and nowhere else. Lower layers name their descriptors here without
 * knowing anything of the sandbox; with no sandbox the notes are unused. */
#ifndef SKIFF_FD_CLASS_H
#define SKIFF_FD_CLASS_H

enum fd_class {
	FD_CLASS_KVM,  /* /dev/kvm */
	FD_CLASS_VM,   /* KVM_CREATE_VM */
	FD_CLASS_VCPU, /* KVM_CREATE_VCPU */
	FD_CLASS_TAP,  /* a TAP device's queue */
	FD_CLASS_COUNT
};

/* Descriptors one class can hold: a vCPU each (64 at most), a TAP queue
 * each. */
#define FD_CLASS_MAX 256

/* Note fd (>= 0) as one of class's, until fd_class_forget(). */
void fd_class_note(enum fd_class class, int fd);
/* fd is about to be closed. */
void fd_class_forget(enum fd_class class, int fd);
/* The class's descriptors into fds (FD_CLASS_MAX of them), ascending.
 * Their number, or -ENOSPC if more were noted than a class holds. */
int fd_class_list(enum fd_class class, int fds[FD_CLASS_MAX]);

#endif
