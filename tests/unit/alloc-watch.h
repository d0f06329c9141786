/* Counting a unit test's large heap blocks, to show that hostile input
 * does not make the code under test allocate more than its limit. The
 * test binary links alloc-watch.c with
 *     -Wl,--wrap=malloc -Wl,--wrap=posix_memalign -Wl,--wrap=free
 * so every malloc()/posix_memalign() of ALLOC_WATCH_MIN bytes or more made
 * by the test or libskiff (not by shared libraries) is counted while it
 * lives. */
#ifndef SKIFF_TEST_ALLOC_WATCH_H
#define SKIFF_TEST_ALLOC_WATCH_H

#include <stddef.h>

#define ALLOC_WATCH_MIN (16u << 10)

/* From now on, record the most bytes alive at once. */
void alloc_watch_start(void);
/* That most, less what was alive at alloc_watch_start(). */
size_t alloc_watch_growth(void);

#endif
