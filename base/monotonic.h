/* The monotonic clock, for deadlines, timeouts and measurements: the one
 * helper every part of skiff shares (the vDSO answers it without a
 * system call on most hosts). Signed, so that "deadline - now" may go
 * below zero. */
#ifndef SKIFF_MONOTONIC_H
#define SKIFF_MONOTONIC_H

#include <stdint.h>
#include <time.h>

static inline int64_t monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static inline int64_t monotonic_ms(void)
{
	return monotonic_ns() / 1000000;
}

#endif
