/* Small I/O helpers shared by skiff exec's parts (initrd, results, copy-out). */
#ifndef SKIFF_EXEC_IO_H
#define SKIFF_EXEC_IO_H

#include <stddef.h>

/* All n bytes to fd, retrying short writes and EINTR. 0 or -errno
 * (-EIO for a write that returned 0). */
int write_all(int fd, const void *buf, size_t n);

#endif
