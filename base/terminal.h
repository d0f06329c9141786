/* The host terminal while a guest runs: raw mode (so the guest's shell
 * gets every key, Ctrl-C included), restored on every way out. */
#ifndef SKIFF_TERMINAL_H
#define SKIFF_TERMINAL_H

#include <stdbool.h>

/* Put stdin in raw mode if it is a terminal; returns whether it is one.
 * Also registers an atexit() restore. */
bool terminal_enter_raw(void);
/* Restore the saved mode (idempotent, async-signal-safe). */
void terminal_restore(void);

/* The console escape: Ctrl-A x quits, Ctrl-A Ctrl-A sends one Ctrl-A. */
#define TERMINAL_ESCAPE_CHAR 0x01

struct terminal_escape {
	bool pending; /* the previous byte was Ctrl-A */
};

/* Filter n input bytes into out (room for n + 1 bytes: a Ctrl-A held back
 * from the previous call may come out now); returns the number of bytes
 * to pass to the guest and sets *quit when Ctrl-A x was typed. */
unsigned terminal_filter_input(struct terminal_escape *esc, const unsigned char *in, unsigned n, unsigned char *out,
			       bool *quit);

#endif
