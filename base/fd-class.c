/* See fd-class.h. */
#include "base/fd-class.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

static struct {
	int fd[FD_CLASS_MAX];
	unsigned n;
	bool overflow; /* a note did not fit: the list would be wrong */
} classes[FD_CLASS_COUNT];
static pthread_mutex_t classes_lock = PTHREAD_MUTEX_INITIALIZER;

void fd_class_note(enum fd_class class, int fd)
{
	if (fd < 0)
		return;
	pthread_mutex_lock(&classes_lock);
	if (classes[class].n < FD_CLASS_MAX)
		classes[class].fd[classes[class].n++] = fd;
	else
		classes[class].overflow = true;
	pthread_mutex_unlock(&classes_lock);
}

void fd_class_forget(enum fd_class class, int fd)
{
	pthread_mutex_lock(&classes_lock);
	for (unsigned i = 0; i < classes[class].n; i++)
		if (classes[class].fd[i] == fd) {
			classes[class].fd[i] = classes[class].fd[--classes[class].n];
			break;
		}
	pthread_mutex_unlock(&classes_lock);
}

static int by_value(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

int fd_class_list(enum fd_class class, int fds[FD_CLASS_MAX])
{
	pthread_mutex_lock(&classes_lock);
	int n = classes[class].overflow ? -ENOSPC : (int)classes[class].n;
	for (int i = 0; i < n; i++)
		fds[i] = classes[class].fd[i];
	pthread_mutex_unlock(&classes_lock);
	if (n > 0)
		qsort(fds, (size_t)n, sizeof(fds[0]), by_value);
	return n;
}
