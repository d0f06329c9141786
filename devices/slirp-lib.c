/* libslirp, opened at run time: see slirp-lib.h. */
#include "devices/slirp-lib.h"

#include <dlfcn.h>
#include <stdbool.h>
#include <stdio.h>

static struct slirp_lib lib;
static void *handle;

/* One symbol into *slot; false with the reason in err. */
static bool find(void **slot, const char *symbol, char *err, size_t errlen)
{
	*slot = dlsym(handle, symbol);
	if (!*slot)
		snprintf(err, errlen, "backend=user: %s has no %s (libslirp too old?)", SLIRP_LIB_SONAME, symbol);
	return *slot != NULL;
}

const struct slirp_lib *slirp_lib_open(char *err, size_t errlen)
{
	if (lib.slirp_add_hostfwd) /* the last one found: the table is complete */
		return &lib;
	if (!handle && !(handle = dlopen(SLIRP_LIB_SONAME, RTLD_NOW | RTLD_LOCAL))) {
		snprintf(err, errlen, "backend=user: cannot load %s (install the Debian package libslirp0): %s",
			 SLIRP_LIB_SONAME, dlerror());
		return NULL;
	}
	if (!find((void **)&lib.slirp_new, "slirp_new", err, errlen) ||
	    !find((void **)&lib.slirp_cleanup, "slirp_cleanup", err, errlen) ||
	    !find((void **)&lib.slirp_input, "slirp_input", err, errlen) ||
	    !find((void **)&lib.slirp_pollfds_fill, "slirp_pollfds_fill", err, errlen) ||
	    !find((void **)&lib.slirp_pollfds_poll, "slirp_pollfds_poll", err, errlen) ||
	    !find((void **)&lib.slirp_add_hostfwd, "slirp_add_hostfwd", err, errlen))
		return NULL;
	return &lib;
}
