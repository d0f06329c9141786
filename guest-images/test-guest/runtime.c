/* Serial console (16550A, polled), printf-lite and debug-exit. Ring 0. */
#include "tg.h"

void serial_init(void)
{
	outb(COM1 + 1, 0x00); /* no interrupts */
	outb(COM1 + 3, 0x80); /* DLAB */
	outb(COM1 + 0, 0x01); /* 115200 baud */
	outb(COM1 + 1, 0x00);
	outb(COM1 + 3, 0x03); /* 8N1 */
	outb(COM1 + 2, 0x07); /* FIFO on, cleared */
	outb(COM1 + 4, 0x03); /* DTR, RTS */
}

void putchar_serial(char c)
{
	if (c == '\n')
		putchar_serial('\r');
	/* LSR bit 5: transmit holding register empty. Bounded, so a missing
	 * UART cannot hang the guest. */
	for (unsigned i = 0; i < 100000 && !(inb(COM1 + 5) & 0x20); i++)
		;
	outb(COM1, (uint8_t)c);
}

void puts_serial(const char *s)
{
	while (*s)
		putchar_serial(*s++);
}

static void put_num(uint64_t v, unsigned base, int width, char pad, bool neg)
{
	char buf[24];
	int n = 0;
	do {
		unsigned d = v % base;
		buf[n++] = (char)(d < 10 ? '0' + d : 'a' + d - 10);
		v /= base;
	} while (v);
	if (neg)
		buf[n++] = '-';
	for (int i = n; i < width; i++)
		putchar_serial(pad);
	while (n)
		putchar_serial(buf[--n]);
}

/* %s %c %d %u %x %p, with l/ll/z size prefixes, a width, 0 padding and
 * a precision for %s (%.3s, %.*s). */
int vprintf(const char *fmt, va_list ap)
{
	for (; *fmt; fmt++) {
		if (*fmt != '%') {
			putchar_serial(*fmt);
			continue;
		}
		fmt++;
		char pad = ' ';
		int width = 0, longs = 0, prec = -1;
		if (*fmt == '0')
			pad = '0', fmt++;
		while (*fmt >= '0' && *fmt <= '9')
			width = width * 10 + (*fmt++ - '0');
		if (*fmt == '.') {
			fmt++;
			prec = 0;
			if (*fmt == '*')
				prec = va_arg(ap, int), fmt++;
			while (*fmt >= '0' && *fmt <= '9')
				prec = prec * 10 + (*fmt++ - '0');
		}
		while (*fmt == 'l' || *fmt == 'z')
			longs++, fmt++;
		switch (*fmt) {
		case 's': {
			const char *s = va_arg(ap, const char *);
			if (!s)
				s = "(null)";
			int len = 0;
			while (s[len] && (prec < 0 || len < prec))
				len++;
			for (int i = len; i < width; i++)
				putchar_serial(' ');
			for (int i = 0; i < len; i++)
				putchar_serial(s[i]);
			break;
		}
		case 'c':
			putchar_serial((char)va_arg(ap, int));
			break;
		case 'd': {
			int64_t v = longs ? va_arg(ap, int64_t) : va_arg(ap, int);
			put_num(v < 0 ? -(uint64_t)v : (uint64_t)v, 10, width, pad, v < 0);
			break;
		}
		case 'u':
			put_num(longs ? va_arg(ap, uint64_t) : va_arg(ap, unsigned), 10, width, pad, false);
			break;
		case 'x':
			put_num(longs ? va_arg(ap, uint64_t) : va_arg(ap, unsigned), 16, width, pad, false);
			break;
		case 'p':
			puts_serial("0x");
			put_num((uint64_t)va_arg(ap, void *), 16, width, pad, false);
			break;
		case '%':
			putchar_serial('%');
			break;
		case '\0':
			return 0;
		default:
			putchar_serial('%');
			putchar_serial(*fmt);
		}
	}
	return 0;
}

int printf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	return 0;
}

void debug_exit(uint8_t value)
{
	outb(DEBUG_EXIT_PORT, value);
	/* No debug-exit device: stop here (the harness's timeout ends us). */
	for (;;)
		__asm__ volatile("cli; hlt");
}

int parse_u64(const char *s, uint64_t *out)
{
	const char *p = s;
	uint64_t v = 0;
	unsigned base = 10;

	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X') &&
	    ((p[2] >= '0' && p[2] <= '9') || (p[2] >= 'a' && p[2] <= 'f') || (p[2] >= 'A' && p[2] <= 'F')))
		base = 16, p += 2;
	const char *digits = p;
	for (;; p++) {
		unsigned d;
		if (*p >= '0' && *p <= '9')
			d = *p - '0';
		else if (base == 16 && *p >= 'a' && *p <= 'f')
			d = *p - 'a' + 10;
		else if (base == 16 && *p >= 'A' && *p <= 'F')
			d = *p - 'A' + 10;
		else
			break;
		v = v * base + d;
	}
	if (p == digits)
		return 0;
	if (*p == 'K' || *p == 'k')
		v <<= 10, p++;
	else if (*p == 'M' || *p == 'm')
		v <<= 20, p++;
	*out = v;
	return (int)(p - s);
}
