/* libFuzzer target for the control protocol parser (vmm/control-protocol.c).
 *
 * Each input is one request as a client could send it (any bytes, any
 * length). The target serves it with a fake machine that records what it
 * was asked, and aborts if the reply is not exactly one line of valid
 * JSON with a boolean "ok", if a request that reached the machine was not
 * a known command with an argument in range, or if an error reply was
 * produced after the machine ran. Build and run: see tests/fuzz/README. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/control-protocol.h"

static int ran_cmd;
static uint64_t ran_arg;

static int fake_run(void *ctx, enum control_command cmd, uint64_t arg, const char *text, json_t *reply, char *err,
		    size_t errlen)
{
	(void)ctx;
	(void)text;
	(void)reply;
	(void)err;
	(void)errlen;
	ran_cmd = (int)cmd;
	ran_arg = arg;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct control_ops ops = { .run = fake_run };

	ran_cmd = -1;
	char *line = control_handle_request(&ops, (const char *)data, size);
	if (!line)
		abort();
	size_t len = strlen(line);
	if (len < 2 || line[len - 1] != '\n' || memchr(line, '\n', len - 1))
		abort();
	json_error_t e;
	json_t *reply = json_loadb(line, len - 1, 0, &e);
	json_t *ok = reply ? json_object_get(reply, "ok") : NULL;
	if (!json_is_boolean(ok))
		abort();
	if (ran_cmd >= 0) {
		if (!json_is_true(ok) || !control_command_name((enum control_command)ran_cmd))
			abort();
		if (ran_cmd == CONTROL_BALLOON_SET && ran_arg > UINT32_MAX)
			abort();
		if (ran_cmd == CONTROL_SHUTDOWN && ran_arg > CONTROL_MAX_SHUTDOWN_TIMEOUT)
			abort();
	} else if (json_is_true(ok)) {
		abort(); /* ok without the machine having run anything */
	}
	if (size > CONTROL_MAX_REQUEST && ran_cmd >= 0)
		abort();
	json_decref(reply);
	free(line);
	return 0;
}
