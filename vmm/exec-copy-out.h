/* skiff exec --copy-out GUEST:HOST: after CMD ends, skiff's init packs
 * each GUEST path (a file, a directory tree or a symlink) as a cpio newc
 * stream onto its own port, skiff.copyN; here a helper process per
 * --copy-out unpacks it under the host directory HOST (made if missing)
 * with vmm/cpio-unpack.c. HOST gets GUEST's last component, as cp -r
 * would: --copy-out /tmp/out:res gives res/out/...
 *
 * The helpers are forked before the sandbox locks skiff down (they write
 * files it may not) and hold only their pipe ends and HOST's fd.
 *
 *     exec_copy_out_start(&co, xo, err, len);   port fds: co.port_fd[i]
 *     ... the guest runs, its ports skiff.copyN write into them ...
 *     exec_copy_out_finish(&co);                 after machine_destroy */
#ifndef SKIFF_EXEC_COPY_OUT_H
#define SKIFF_EXEC_COPY_OUT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "vmm/exec.h"

struct exec_copy_out {
	unsigned nr;
	int port_fd[EXEC_MAX_COPY_OUT];   /* the stream pipe's write end, for port skiff.copyN */
	int result_fd[EXEC_MAX_COPY_OUT]; /* the helper's one result line */
	pid_t pid[EXEC_MAX_COPY_OUT];
	const struct exec_options *xo;
};

/* Makes the HOST directories and starts the helpers. 0, or -errno with
 * one line in err. */
int exec_copy_out_start(struct exec_copy_out *co, const struct exec_options *xo, char *err, size_t errlen);
/* Closes the ports' ends, waits for every helper's result and (if
 * report) prints a line for each failure. 0 when all arrived, else EXIT_EXEC_COPY_MISSING
 * or EXIT_EXEC_COPY_BAD (the first failure's). */
int exec_copy_out_finish(struct exec_copy_out *co, bool report);

#endif
