/* skiff exec's initramfs: the user's (if any), padded to 4 bytes, then an
 * archive of skiff's own: /skiff/init (vmm/exec-init.c), /skiff/argv (CMD,
 * NUL-separated), /skiff/copy-out (--copy-out's GUEST paths, NUL-separated),
 * /skiff/work (the working directory, if shared) and the
 * --copy-in files. Written to a memfd that machine_create() loads as the
 * initrd. */
#ifndef SKIFF_EXEC_INITRD_H
#define SKIFF_EXEC_INITRD_H

#include <stddef.h>

#include "vmm/exec.h"

/* The embedded init (vmm/exec-init-blob.S). */
extern const unsigned char exec_init_start[], exec_init_end[];

/* GUEST: absolute, without ".", ".." or empty components; returned
 * relative (without its leading '/'), or NULL. */
const char *exec_guest_path(const char *g);

/* A memfd holding the whole initrd, or -errno with one line in err. */
int exec_initrd_build(const char *user_initrd, const struct exec_options *xo, char *err, size_t errlen);

#endif
