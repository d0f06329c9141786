/* The control protocol: validate a request, dispatch it, build the reply.
 * See control-protocol.h for the wire format. */
#include "vmm/control-protocol.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
	const char *name;
	const char *arg;    /* the one argument it takes, or NULL */
	bool arg_required;
	uint64_t arg_max;
	uint64_t arg_default;
	bool arg_is_text;   /* a string of printable ASCII, not a number */
} commands[] = {
	[CONTROL_STATUS] = { "status" },
	[CONTROL_PAUSE] = { "pause" },
	[CONTROL_RESUME] = { "resume" },
	[CONTROL_SHUTDOWN] = { "shutdown", "timeout", false, CONTROL_MAX_SHUTDOWN_TIMEOUT,
			       CONTROL_DEFAULT_SHUTDOWN_TIMEOUT },
	[CONTROL_KILL] = { "kill" },
	[CONTROL_BALLOON_SET] = { "balloon-set", "mib", true, UINT32_MAX, 0 },
	[CONTROL_BALLOON_STATS] = { "balloon-stats" },
	[CONTROL_STATS] = { "stats" },
	[CONTROL_TRACE] = { "trace", "filter", true, 0, 0, true },
};

#define NR_COMMANDS (sizeof(commands) / sizeof(commands[0]))

const char *control_command_name(enum control_command cmd)
{
	return (unsigned)cmd < NR_COMMANDS ? commands[cmd].name : NULL;
}

const char *control_command_arg(enum control_command cmd)
{
	return (unsigned)cmd < NR_COMMANDS ? commands[cmd].arg : NULL;
}

bool control_command_arg_is_text(enum control_command cmd)
{
	return (unsigned)cmd < NR_COMMANDS && commands[cmd].arg_is_text;
}

int control_command_find(const char *name)
{
	for (unsigned i = 0; i < NR_COMMANDS; i++)
		if (strcmp(commands[i].name, name) == 0)
			return (int)i;
	return -1;
}

/* Compact, one line, newline-terminated: what goes on the wire. */
static char *reply_text(json_t *reply)
{
	char *body = json_dumps(reply, JSON_COMPACT | JSON_ENSURE_ASCII);
	char *line = NULL;

	if (body && asprintf(&line, "%s\n", body) < 0)
		line = NULL;
	free(body);
	return line;
}

char *control_error_reply(const char *message)
{
	json_t *reply = json_pack("{s:b, s:s}", "ok", 0, "error", message);
	char *line = reply ? reply_text(reply) : NULL;

	json_decref(reply);
	return line;
}

static bool printable_text(const char *s)
{
	size_t n = 0;

	for (; s[n]; n++)
		if (s[n] < 0x20 || s[n] > 0x7e)
			return false;
	return n <= CONTROL_MAX_TEXT_ARG;
}

/* Check the request's shape: an object with a known "command" string and
 * at most that command's argument, a whole number in range or a short
 * printable string. Returns the command, or -1 with the reason in err;
 * *text points into req. */
static int parse_request(json_t *req, uint64_t *arg, const char **text, char *err, size_t errlen)
{
	const char *key, *name;
	json_t *value;
	int cmd;

	if (!json_is_object(req)) {
		snprintf(err, errlen, "a request must be a JSON object");
		return -1;
	}
	value = json_object_get(req, "command");
	if (!json_is_string(value)) {
		snprintf(err, errlen, "missing \"command\" (a string)");
		return -1;
	}
	name = json_string_value(value);
	cmd = control_command_find(name);
	if (cmd < 0) {
		/* name may hold anything; keep the echo short and printable. */
		snprintf(err, errlen, "unknown command \"%.32s\"", name);
		return -1;
	}
	*arg = commands[cmd].arg_default;
	bool have_arg = false;
	json_object_foreach(req, key, value) {
		if (strcmp(key, "command") == 0)
			continue;
		if (!commands[cmd].arg || strcmp(key, commands[cmd].arg) != 0) {
			snprintf(err, errlen, "%s: unexpected argument \"%.32s\"", commands[cmd].name, key);
			return -1;
		}
		if (commands[cmd].arg_is_text) {
			if (!json_is_string(value) || !printable_text(json_string_value(value))) {
				snprintf(err, errlen, "%s: \"%s\" must be a string of at most %d printable characters",
					 commands[cmd].name, key, CONTROL_MAX_TEXT_ARG);
				return -1;
			}
			*text = json_string_value(value);
		} else if (!json_is_integer(value) || json_integer_value(value) < 0 ||
			   (uint64_t)json_integer_value(value) > commands[cmd].arg_max) {
			snprintf(err, errlen, "%s: \"%s\" must be a whole number from 0 to %llu", commands[cmd].name,
				 key, (unsigned long long)commands[cmd].arg_max);
			return -1;
		} else {
			*arg = (uint64_t)json_integer_value(value);
		}
		have_arg = true;
	}
	if (commands[cmd].arg_required && !have_arg) {
		snprintf(err, errlen, "%s: missing \"%s\"", commands[cmd].name, commands[cmd].arg);
		return -1;
	}
	return cmd;
}

char *control_handle_request(const struct control_ops *ops, const char *request, size_t len)
{
	char err[256] = "";
	json_error_t jerr;
	uint64_t arg = 0;
	const char *text = NULL;
	json_t *req, *reply;
	int cmd;

	if (len > CONTROL_MAX_REQUEST)
		return control_error_reply("request too long");
	/* jansson refuses invalid UTF-8, NUL bytes and nesting beyond its
	 * depth limit (2048) here, with a message saying which. */
	req = json_loadb(request, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!req) {
		snprintf(err, sizeof(err), "bad JSON: %s", jerr.text);
		return control_error_reply(err);
	}
	cmd = parse_request(req, &arg, &text, err, sizeof(err));
	if (cmd < 0) {
		json_decref(req);
		return control_error_reply(err);
	}

	reply = json_pack("{s:b, s:s}", "ok", 1, "command", commands[cmd].name);
	if (!reply) {
		json_decref(req);
		return NULL;
	}
	int ret = ops->run(ops->ctx, (enum control_command)cmd, arg, text, reply, err, sizeof(err));
	json_decref(req); /* text lives in req */
	if (ret == CONTROL_LATER) {
		json_decref(reply);
		return strdup("");
	}
	if (ret < 0) {
		json_decref(reply);
		return control_error_reply(err[0] ? err : "command failed");
	}
	char *line = reply_text(reply);
	json_decref(reply);
	return line;
}

char *control_late_reply(enum control_command cmd, int ret, const char *err)
{
	if (ret < 0)
		return control_error_reply(err && err[0] ? err : "command failed");
	json_t *reply = json_pack("{s:b, s:s}", "ok", 1, "command", commands[cmd].name);
	char *line = reply ? reply_text(reply) : NULL;

	json_decref(reply);
	return line;
}
