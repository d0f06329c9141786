/* A client connected to the Unix stream socket at path (the control
 * socket tests). Include after <check.h>. */
#ifndef SKIFF_TEST_UNIX_CLIENT_H
#define SKIFF_TEST_UNIX_CLIENT_H

#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

static inline int unix_client(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	strcpy(sa.sun_path, path);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

#endif
