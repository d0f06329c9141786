/* skiff exec's status protocol: see vmm/exec-status.h. */
#include "vmm/exec-status.h"

#include <stdlib.h>
#include <string.h>

static int parse_number(const char *s, int max)
{
	char *end;
	if (*s < '0' || *s > '9' || strlen(s) > 3)
		return -1;
	long v = strtol(s, &end, 10);
	return *end || v > max ? -1 : (int)v;
}

static enum exec_msg parse_line(const char *line, int *value)
{
	if (strcmp(line, "hello") == 0)
		return EXEC_MSG_HELLO;
	if (strncmp(line, "exit ", 5) == 0 && (*value = parse_number(line + 5, 255)) >= 0)
		return EXEC_MSG_EXIT;
	if (strncmp(line, "signal ", 7) == 0 && (*value = parse_number(line + 7, 127)) >= 1)
		return EXEC_MSG_SIGNAL;
	return EXEC_MSG_BAD;
}

enum exec_msg exec_status_byte(struct exec_status_parser *p, char c, int *value)
{
	if (c != '\n') {
		if (p->len < EXEC_STATUS_LINE_MAX)
			p->line[p->len++] = c;
		else
			p->overlong = 1;
		return EXEC_MSG_NONE;
	}
	p->line[p->len] = '\0';
	enum exec_msg m = p->overlong || memchr(p->line, '\0', p->len) ? EXEC_MSG_BAD : parse_line(p->line, value);
	p->len = 0;
	p->overlong = 0;
	return m;
}
