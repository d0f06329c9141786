/* Counting large heap blocks in a unit test: see alloc-watch.h. */
#include "tests/unit/alloc-watch.h"

#include <check.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

void *__real_malloc(size_t size);
int __real_posix_memalign(void **p, size_t align, size_t size);
void __real_free(void *p);

static pthread_mutex_t watch_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
	void *p;
	size_t size;
} live[1024];
static size_t live_bytes, start_bytes, peak_bytes;
static bool overflowed; /* more large blocks alive than live[] holds: the counts are wrong */

static void *track(void *p, size_t size)
{
	if (!p || size < ALLOC_WATCH_MIN)
		return p;
	pthread_mutex_lock(&watch_lock);
	unsigned i = 0;
	while (i < sizeof(live) / sizeof(live[0]) && live[i].p)
		i++;
	if (i < sizeof(live) / sizeof(live[0])) {
		live[i].p = p;
		live[i].size = size;
		live_bytes += size;
		if (live_bytes > peak_bytes)
			peak_bytes = live_bytes;
	} else {
		overflowed = true;
	}
	pthread_mutex_unlock(&watch_lock); /* no check calls in here: they may allocate */
	return p;
}

void *__wrap_malloc(size_t size)
{
	return track(__real_malloc(size), size);
}

int __wrap_posix_memalign(void **p, size_t align, size_t size)
{
	int ret = __real_posix_memalign(p, align, size);
	if (ret == 0)
		track(*p, size);
	return ret;
}

void __wrap_free(void *p)
{
	pthread_mutex_lock(&watch_lock);
	for (unsigned i = 0; p && i < sizeof(live) / sizeof(live[0]); i++)
		if (live[i].p == p) {
			live_bytes -= live[i].size;
			live[i].p = NULL;
			break;
		}
	pthread_mutex_unlock(&watch_lock);
	__real_free(p);
}

void alloc_watch_start(void)
{
	pthread_mutex_lock(&watch_lock);
	start_bytes = peak_bytes = live_bytes;
	pthread_mutex_unlock(&watch_lock);
}

size_t alloc_watch_growth(void)
{
	pthread_mutex_lock(&watch_lock);
	size_t grew = peak_bytes - start_bytes;
	bool lost = overflowed;
	pthread_mutex_unlock(&watch_lock);
	ck_assert_msg(!lost, "alloc-watch: too many large blocks alive to count");
	return grew;
}
