/* Host terminal handling. See terminal.h. */
#include "base/terminal.h"

#include <stdlib.h>
#include <termios.h>
#include <unistd.h>

static struct termios saved;
static volatile int saved_valid;

void terminal_restore(void)
{
	if (saved_valid) {
		tcsetattr(STDIN_FILENO, TCSANOW, &saved);
		saved_valid = 0;
	}
}

bool terminal_enter_raw(void)
{
	struct termios raw;

	if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &saved) < 0)
		return false;
	saved_valid = 1;
	atexit(terminal_restore);
	raw = saved;
	cfmakeraw(&raw);
	/* Keep output post-processing off too: the guest sends its own \r\n. */
	tcsetattr(STDIN_FILENO, TCSANOW, &raw);
	return true;
}

unsigned terminal_filter_input(struct terminal_escape *esc, const unsigned char *in, unsigned n, unsigned char *out,
			       bool *quit)
{
	unsigned len = 0;

	*quit = false;
	for (unsigned i = 0; i < n; i++) {
		unsigned char c = in[i];
		if (esc->pending) {
			esc->pending = false;
			if (c == 'x' || c == 'X') {
				*quit = true;
				return len;
			}
			/* Ctrl-A Ctrl-A sends one Ctrl-A; Ctrl-A anything-else sends both. */
			out[len++] = TERMINAL_ESCAPE_CHAR;
			if (c != TERMINAL_ESCAPE_CHAR)
				out[len++] = c;
			continue;
		}
		if (c == TERMINAL_ESCAPE_CHAR)
			esc->pending = true;
		else
			out[len++] = c;
	}
	return len;
}
