/* Internal to the option parser (vmm/options*.c): its error lines. */
#ifndef SKIFF_OPTIONS_ERRORS_H
#define SKIFF_OPTIONS_ERRORS_H

#include <stddef.h>

/* Write "skiff: MESSAGE" into err. Always returns -1 so callers can write
 * `return options_errorf(...)`. */
int options_errorf(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
