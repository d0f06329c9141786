/* Logging: one line per message, prefixed "skiff: " (and the component). */
#ifndef SKIFF_LOG_H
#define SKIFF_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

enum log_level { LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG };

extern enum log_level log_threshold;

void log_msg(enum log_level level, const char *component, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define log_error(comp, ...) log_msg(LOG_ERROR, comp, __VA_ARGS__)
#define log_warn(comp, ...)  log_msg(LOG_WARN, comp, __VA_ARGS__)
#define log_info(comp, ...)  log_msg(LOG_INFO, comp, __VA_ARGS__)
#define log_debug(comp, ...) log_msg(LOG_DEBUG, comp, __VA_ARGS__)

/* "skiff: TAG: COMPONENT: message", whatever the threshold: for lines
 * the user asked for by name (--trace). */
void log_vtagged(const char *tag, const char *component, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

/* Rate limiting, for every line a guest can trigger at will (a driver
 * error, a full queue, a bad BAR): a hostile guest must not fill the
 * log. Each struct log_limit (kept per device or per queue, zeroed to
 * start) lets one line out at its level, then at most one per
 * LOG_LIMIT_INTERVAL seconds, which says how many were held back; the
 * lines in between go out at debug level only. Thread-safe. */
#define LOG_LIMIT_INTERVAL 60

struct log_limit {
	_Atomic long long next;           /* CLOCK_MONOTONIC second from which a line may go out; 0 = now */
	_Atomic unsigned long suppressed; /* lines held back since the last one out */
};

void log_limited(struct log_limit *limit, enum log_level level, const char *component, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Format one error line into a caller's buffer (err may be NULL). Used by
 * parsers and loaders that report to their caller rather than log. */
void err_printf(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
