/* Logging to stderr. The terminal may be in raw mode while the guest runs,
 * so every line ends in "\r\n" to keep the left margin. */
#include "base/log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

enum log_level log_threshold = LOG_INFO;

static void log_vwrite(const char *prefix, const char *component, const char *fmt, va_list ap)
{
	char line[1024];
	int n;

	n = snprintf(line, sizeof(line), "skiff: %s%s%s", prefix, component ? component : "", component ? ": " : "");
	if (n >= 0 && (size_t)n < sizeof(line))
		n += vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof(line) - 3)
		n = sizeof(line) - 3;
	line[n++] = isatty(STDERR_FILENO) ? '\r' : '\n';
	if (line[n - 1] == '\r')
		line[n++] = '\n';
	/* One write per line: lines from different threads never mix. */
	(void)!write(STDERR_FILENO, line, n);
}

void log_msg(enum log_level level, const char *component, const char *fmt, ...)
{
	va_list ap;

	if (level > log_threshold)
		return;
	va_start(ap, fmt);
	log_vwrite(level == LOG_ERROR ? "error: " : level == LOG_WARN ? "warning: " : "", component, fmt, ap);
	va_end(ap);
}

void log_vtagged(const char *tag, const char *component, const char *fmt, va_list ap)
{
	char prefix[32];

	snprintf(prefix, sizeof(prefix), "%s: ", tag);
	log_vwrite(prefix, component, fmt, ap);
}

void log_limited(struct log_limit *limit, enum log_level level, const char *component, const char *fmt, ...)
{
	char msg[900];
	struct timespec now;
	va_list ap;

	if (level > log_threshold && LOG_DEBUG > log_threshold)
		return; /* neither the line nor its debug form would show */
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	clock_gettime(CLOCK_MONOTONIC_COARSE, &now); /* vDSO: no system call */
	long long next = atomic_load(&limit->next);
	if (now.tv_sec < next ||
	    !atomic_compare_exchange_strong(&limit->next, &next, (long long)now.tv_sec + LOG_LIMIT_INTERVAL)) {
		atomic_fetch_add(&limit->suppressed, 1);
		log_msg(LOG_DEBUG, component, "%s", msg);
		return;
	}
	unsigned long held = atomic_exchange(&limit->suppressed, 0);
	if (held)
		log_msg(level, component, "%s (and %lu more like it since the last one logged)", msg, held);
	else
		log_msg(level, component, "%s", msg);
}

void err_printf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}
