/* libslirp, opened at run time by the first backend=user NIC.
 *
 * Why not link it: libslirp brings glib and pcre2, and the dynamic loader
 * maps and relocates all three before main() in every skiff, NIC or not:
 * about 250,000 instructions, a third of a `skiff --version` (issue 20).
 * So skiff links none of them, and net-user.c calls libslirp through this
 * table, filled once with dlopen/dlsym. The library stays loaded until
 * exit (glib cannot be unloaded).
 */
#ifndef SKIFF_SLIRP_LIB_H
#define SKIFF_SLIRP_LIB_H

#include <stddef.h>

#include <slirp/libslirp.h>

/* Debian's libslirp0 package; the soname has been 0 since libslirp 4.0. */
#define SLIRP_LIB_SONAME "libslirp.so.0"

/* The libslirp calls net-user.c makes, typed by the library's header. */
struct slirp_lib {
	__typeof__(slirp_new) *slirp_new;
	__typeof__(slirp_cleanup) *slirp_cleanup;
	__typeof__(slirp_input) *slirp_input;
	__typeof__(slirp_pollfds_fill) *slirp_pollfds_fill;
	__typeof__(slirp_pollfds_poll) *slirp_pollfds_poll;
	__typeof__(slirp_add_hostfwd) *slirp_add_hostfwd;
};

/* The table, loading the library on the first call (main thread, while
 * the machine is built: before the sandbox locks file access down).
 * NULL with one line in err if the library or a symbol is missing. */
const struct slirp_lib *slirp_lib_open(char *err, size_t errlen);

#endif
