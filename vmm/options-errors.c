/* The option parser's error lines (options-errors.h): the floor every
 * options*.c file stands on. */
#include "vmm/options-errors.h"

#include <stdarg.h>
#include <stdio.h>

int options_errorf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!err || errlen == 0)
		return -1;
	n = snprintf(err, errlen, "skiff: ");
	if (n < 0 || (size_t)n >= errlen)
		return -1;
	va_start(ap, fmt);
	vsnprintf(err + n, errlen - n, fmt, ap);
	va_end(ap);
	return -1;
}
