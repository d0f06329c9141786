/* 8042 keyboard controller, reset line and probe answers only. Command
 * numbers and status bits as in Linux's include/linux/i8042.h; the probe
 * sequence we answer is drivers/input/serio/i8042.c. */
#include "devices/i8042.h"

#include <errno.h>
#include <string.h>

#include "base/log.h"

#define LOG_NAME "i8042"

/* Status register (read at 0x64). */
#define STR_OBF     0x01 /* output buffer full: a byte waits at 0x60 */
#define STR_IBF     0x02 /* input buffer full: never, we take writes at once */
#define STR_SYS     0x04 /* system flag, a copy of CTR bit 2 */
#define STR_CMDDAT  0x08 /* last write was a command (0x64), not data (0x60) */
#define STR_KEYLOCK 0x10 /* set = keyboard not inhibited (else Linux warns) */

/* Controller configuration byte. */
#define CTR_KBDINT 0x01
#define CTR_SYS    0x04
#define CTR_KBDDIS 0x10
#define CTR_AUXDIS 0x20
#define CTR_XLATE  0x40
/* What a BIOS leaves behind: keyboard interrupt on, scancode translation,
 * POST passed; no AUX port, so it stays disabled. */
#define CTR_RESET_VALUE (CTR_KBDINT | CTR_SYS | CTR_AUXDIS | CTR_XLATE)

/* Commands (written to 0x64). */
#define CMD_READ_CTR      0x20
#define CMD_WRITE_CTR     0x60 /* data byte follows at 0x60 */
#define CMD_AUX_DISABLE   0xa7
#define CMD_AUX_ENABLE    0xa8
#define CMD_AUX_TEST      0xa9
#define CMD_SELF_TEST     0xaa
#define CMD_KBD_TEST      0xab
#define CMD_KBD_DISABLE   0xad
#define CMD_KBD_ENABLE    0xae
#define CMD_READ_OUTPORT  0xd0
#define CMD_WRITE_OUTPORT 0xd1 /* data byte follows */
#define CMD_KBD_LOOP      0xd2 /* data byte follows, comes back as keyboard data */
#define CMD_AUX_LOOP      0xd3 /* data byte follows, would come back as AUX data */
#define CMD_AUX_SEND      0xd4 /* data byte follows, goes to the AUX device */
#define CMD_PULSE_FIRST   0xf0 /* 0xf0-0xff: pulse output port bits 0-3 low */

#define SELF_TEST_OK      0x55
#define PORT_TEST_OK      0x00
#define PORT_TEST_CLK_LOW 0x01 /* "clock line stuck low": nothing there */

#define OUTPORT_RESET     0x01 /* active low */
#define OUTPORT_A20       0x02

static void i8042_reply(struct i8042 *k, uint8_t byte)
{
	/* One-byte buffer: a newer reply replaces one the guest never read. */
	k->out = byte;
	k->out_full = true;
}

/* Returns true if the command pulsed the reset line. */
static bool i8042_command(struct i8042 *k, uint8_t cmd)
{
	k->pending_cmd = 0;
	switch (cmd) {
	case CMD_READ_CTR:
		i8042_reply(k, k->ctr);
		break;
	case CMD_WRITE_CTR:
	case CMD_WRITE_OUTPORT:
	case CMD_KBD_LOOP:
	case CMD_AUX_LOOP:
	case CMD_AUX_SEND:
		k->pending_cmd = cmd;
		break;
	case CMD_AUX_DISABLE:
		k->ctr |= CTR_AUXDIS;
		break;
	case CMD_AUX_ENABLE:
		k->ctr &= ~CTR_AUXDIS;
		break;
	case CMD_AUX_TEST:
		i8042_reply(k, PORT_TEST_CLK_LOW);
		break;
	case CMD_SELF_TEST:
		i8042_reply(k, SELF_TEST_OK);
		break;
	case CMD_KBD_TEST:
		i8042_reply(k, PORT_TEST_OK);
		break;
	case CMD_KBD_DISABLE:
		k->ctr |= CTR_KBDDIS;
		break;
	case CMD_KBD_ENABLE:
		k->ctr &= ~CTR_KBDDIS;
		break;
	case CMD_READ_OUTPORT:
		i8042_reply(k, k->output_port);
		break;
	default:
		/* 0xf0-0xff pulse the output-port bits that are 0 in the
		 * command's low nibble; bit 0 is the CPU reset line. */
		if (cmd >= CMD_PULSE_FIRST)
			return !(cmd & OUTPORT_RESET);
		log_debug(LOG_NAME, "command 0x%02x ignored", cmd);
		break;
	}
	return false;
}

/* A byte at 0x60: the parameter of the pending command, or else a byte for
 * the keyboard, which is not there. Returns true on a reset request. */
static bool i8042_data(struct i8042 *k, uint8_t v)
{
	uint8_t cmd = k->pending_cmd;

	k->pending_cmd = 0;
	switch (cmd) {
	case CMD_WRITE_CTR:
		k->ctr = v;
		break;
	case CMD_WRITE_OUTPORT:
		k->output_port = v;
		return !(v & OUTPORT_RESET);
	case CMD_KBD_LOOP:
		i8042_reply(k, v);
		break;
	case CMD_AUX_LOOP:
		/* There is no AUX channel. Linux detects one by looping a byte
		 * through it and checking that it comes back marked as AUX
		 * data; we hand it back as keyboard data, so the check fails
		 * at once (then CMD_AUX_TEST reports the port dead) instead of
		 * Linux waiting 0.5 s for an answer. */
		i8042_reply(k, v);
		break;
	case CMD_AUX_SEND:
		break; /* no mouse to send it to */
	default:
		log_debug(LOG_NAME, "byte 0x%02x for the keyboard dropped: none attached", v);
		break;
	}
	return false;
}

static uint8_t i8042_status(const struct i8042 *k)
{
	return STR_KEYLOCK | (k->ctr & CTR_SYS ? STR_SYS : 0) |
	       (k->last_was_cmd ? STR_CMDDAT : 0) | (k->out_full ? STR_OBF : 0);
}

/* ---- bus_ops: both ports are one byte wide; other byte lanes read 0xff
 * and are ignored on write. ---- */

static void i8042_data_read(void *opaque, uint64_t offset, uint8_t *data, unsigned len)
{
	struct i8042 *k = opaque;

	memset(data, 0xff, len);
	if (offset != 0)
		return;
	pthread_mutex_lock(&k->lock);
	data[0] = k->out; /* an empty buffer repeats the last byte, like the chip */
	k->out_full = false;
	pthread_mutex_unlock(&k->lock);
}

static void i8042_data_write(void *opaque, uint64_t offset, const uint8_t *data, unsigned len)
{
	struct i8042 *k = opaque;
	bool reset;

	if (offset != 0)
		return;
	pthread_mutex_lock(&k->lock);
	k->last_was_cmd = false;
	reset = i8042_data(k, data[0]);
	pthread_mutex_unlock(&k->lock);
	/* Outside the lock: the machine may do anything in its stop hook. */
	if (reset)
		stop_hook_fire(&k->stop, STOP_RESET, 0);
}

static void i8042_cmd_read(void *opaque, uint64_t offset, uint8_t *data, unsigned len)
{
	struct i8042 *k = opaque;

	memset(data, 0xff, len);
	if (offset != 0)
		return;
	pthread_mutex_lock(&k->lock);
	data[0] = i8042_status(k);
	pthread_mutex_unlock(&k->lock);
}

static void i8042_cmd_write(void *opaque, uint64_t offset, const uint8_t *data, unsigned len)
{
	struct i8042 *k = opaque;
	bool reset;

	if (offset != 0)
		return;
	pthread_mutex_lock(&k->lock);
	k->last_was_cmd = true;
	reset = i8042_command(k, data[0]);
	pthread_mutex_unlock(&k->lock);
	if (reset)
		stop_hook_fire(&k->stop, STOP_RESET, 0);
}

const struct bus_ops i8042_data_ops = {
	.read = i8042_data_read,
	.write = i8042_data_write,
};

const struct bus_ops i8042_cmd_ops = {
	.read = i8042_cmd_read,
	.write = i8042_cmd_write,
};

int i8042_init(struct i8042 *k, struct stop_hook stop)
{
	int err;

	memset(k, 0, sizeof(*k));
	err = pthread_mutex_init(&k->lock, NULL);
	if (err)
		return -err;
	k->stop = stop;
	k->ctr = CTR_RESET_VALUE;
	k->output_port = OUTPORT_RESET | OUTPORT_A20; /* running, A20 on */
	return 0;
}

void i8042_destroy(struct i8042 *k)
{
	pthread_mutex_destroy(&k->lock);
}
