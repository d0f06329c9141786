/* See thread-role.h. */
#include "base/thread-role.h"

#include <stddef.h>

/* Set once by the machine before it starts any thread; pthread_create
 * orders that store before the threads' reads. */
static void (*role_hook)(enum thread_role role);

void thread_role_set_hook(void (*enter)(enum thread_role role))
{
	role_hook = enter;
}

void thread_role_enter(enum thread_role role)
{
	if (role_hook)
		role_hook(role);
}
