/* bzImage validation. Every field is read from an untrusted file, so each
 * offset and size is checked against the file length before use, in
 * 64-bit arithmetic that cannot overflow for 32-bit header fields. */
#include "kvm/x86/bzimage.h"
#include "base/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* The header layout is ABI: pin the offsets boot.rst documents (file
 * offset minus 0x1f1), in case a libc header ever disagrees. */
#define HDR_OFF(field) (offsetof(struct setup_header, field) + BZIMAGE_HDR_OFFSET)
_Static_assert(HDR_OFF(setup_sects) == 0x1f1, "setup_sects offset");
_Static_assert(HDR_OFF(syssize) == 0x1f4, "syssize offset");
_Static_assert(HDR_OFF(boot_flag) == 0x1fe, "boot_flag offset");
_Static_assert(HDR_OFF(header) == 0x202, "header offset");
_Static_assert(HDR_OFF(version) == 0x206, "version offset");
_Static_assert(HDR_OFF(loadflags) == 0x211, "loadflags offset");
_Static_assert(HDR_OFF(code32_start) == 0x214, "code32_start offset");
_Static_assert(HDR_OFF(initrd_addr_max) == 0x22c, "initrd_addr_max offset");
_Static_assert(HDR_OFF(kernel_alignment) == 0x230, "kernel_alignment offset");
_Static_assert(HDR_OFF(relocatable_kernel) == 0x234, "relocatable_kernel offset");
_Static_assert(HDR_OFF(xloadflags) == 0x236, "xloadflags offset");
_Static_assert(HDR_OFF(cmdline_size) == 0x238, "cmdline_size offset");
_Static_assert(HDR_OFF(payload_offset) == 0x248, "payload_offset offset");
_Static_assert(HDR_OFF(pref_address) == 0x258, "pref_address offset");
_Static_assert(HDR_OFF(init_size) == 0x260, "init_size offset");
_Static_assert(HDR_OFF(kernel_info_offset) == 0x268, "kernel_info_offset offset");
_Static_assert(sizeof(struct setup_header) == 0x26c - 0x1f1, "setup_header size");

/* A 2.12 header must reach at least to the end of init_size. */
#define HDR_MIN_END (HDR_OFF(init_size) + 4)

static uint16_t get_le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static bool is_power_of_two(uint64_t x)
{
	return x && !(x & (x - 1));
}

/* Magic numbers and protocol version: is this a bzImage at all? */
static int check_identity(const uint8_t *buf, size_t len, char *err, size_t errlen)
{
	if (len < HDR_OFF(version) + 2) {
		err_printf(err, errlen, "not a bzImage: %zu bytes is too small for a setup header", len);
		return -ENOEXEC;
	}
	if (get_le16(buf + HDR_OFF(boot_flag)) != BZIMAGE_BOOT_FLAG) {
		err_printf(err, errlen, "not a bzImage: missing boot flag 0xaa55 at offset 0x1fe");
		return -ENOEXEC;
	}
	if (get_le32(buf + HDR_OFF(header)) != BZIMAGE_MAGIC) {
		err_printf(err, errlen, "not a bzImage: missing HdrS magic");
		return -ENOEXEC;
	}
	if (len < BZIMAGE_HDR_OFFSET + sizeof(struct setup_header)) {
		err_printf(err, errlen, "bzImage truncated: setup header needs %zu bytes, file has %zu",
			BZIMAGE_HDR_OFFSET + sizeof(struct setup_header), len);
		return -ENOEXEC;
	}
	uint16_t version = get_le16(buf + HDR_OFF(version));
	if (version < BZIMAGE_MIN_VERSION) {
		err_printf(err, errlen, "bzImage boot protocol %u.%02u is too old: skiff needs 2.12 or newer",
			version >> 8, version & 0xff);
		return -ENOEXEC;
	}
	return 0;
}

/* Copy the header. Its length is self-describing: the 2-byte short jump
 * at 0x200 jumps over it, so it ends at 0x202 + the jump's offset byte. */
static int copy_header(const uint8_t *buf, struct bzimage_info *info, char *err, size_t errlen)
{
	size_t hdr_end = 0x202 + (size_t)buf[0x201];

	if (hdr_end < HDR_MIN_END) {
		err_printf(err, errlen, "bzImage setup header ends at 0x%zx, too short for protocol 2.12 (needs 0x%zx)",
			hdr_end, (size_t)HDR_MIN_END);
		return -ENOEXEC;
	}
	info->hdr_len = hdr_end - BZIMAGE_HDR_OFFSET;
	if (info->hdr_len > sizeof(info->hdr))
		info->hdr_len = sizeof(info->hdr);
	memcpy(&info->hdr, buf + BZIMAGE_HDR_OFFSET, info->hdr_len);
	return 0;
}

/* Where the protected-mode kernel is in the file, and is all of it there? */
static int check_sizes(size_t len, struct bzimage_info *info, char *err, size_t errlen)
{
	const struct setup_header *h = &info->hdr;
	unsigned sects = h->setup_sects ? h->setup_sects : 4; /* 0 means 4, for old loaders */

	info->setup_size = ((size_t)sects + 1) * BZIMAGE_SECTOR_SIZE;
	if (info->setup_size > len) {
		err_printf(err, errlen, "bzImage truncated: setup needs %zu bytes, file has %zu", info->setup_size, len);
		return -ENOEXEC;
	}
	if (info->setup_size == len) {
		err_printf(err, errlen, "bzImage has no protected-mode kernel after its %zu-byte setup", info->setup_size);
		return -ENOEXEC;
	}
	info->kernel_offset = info->setup_size;
	info->kernel_size = len - info->setup_size;
	if (info->kernel_size <= BZIMAGE_ENTRY64_OFFSET) {
		err_printf(err, errlen, "bzImage protected-mode kernel (%zu bytes) is too small to hold the 64-bit entry at +0x%x",
			info->kernel_size, BZIMAGE_ENTRY64_OFFSET);
		return -ENOEXEC;
	}

	/* syssize counts 16-byte paragraphs, rounded down by the build tool. */
	uint64_t sys_bytes = (uint64_t)h->syssize * 16;
	if (sys_bytes == 0) {
		err_printf(err, errlen, "bzImage syssize is 0: kernel size unknown");
		return -ENOEXEC;
	}
	if (sys_bytes > info->kernel_size) {
		err_printf(err, errlen, "bzImage truncated: syssize says the kernel is %llu bytes, file has %zu after the setup",
			(unsigned long long)sys_bytes, info->kernel_size);
		return -ENOEXEC;
	}

	if (h->init_size == 0) {
		err_printf(err, errlen, "bzImage init_size is 0");
		return -ENOEXEC;
	}
	if (h->init_size < sys_bytes) {
		err_printf(err, errlen, "bzImage init_size (%u bytes) is smaller than the kernel itself (%llu bytes)",
			h->init_size, (unsigned long long)sys_bytes);
		return -ENOEXEC;
	}

	/* The compressed payload must be inside the protected-mode part. */
	if (h->payload_length &&
	    (uint64_t)h->payload_offset + h->payload_length > info->kernel_size) {
		err_printf(err, errlen, "bzImage payload [0x%x, +0x%x) lies outside the %zu-byte protected-mode kernel",
			h->payload_offset, h->payload_length, info->kernel_size);
		return -ENOEXEC;
	}
	return 0;
}

/* Flags and placement fields: can skiff enter it, and where may it go? */
static int check_placement(struct bzimage_info *info, char *err, size_t errlen)
{
	const struct setup_header *h = &info->hdr;

	if (!(h->loadflags & LOADED_HIGH)) {
		err_printf(err, errlen, "not a bzImage: LOADED_HIGH clear (a zImage loads at 0x10000; skiff needs a bzImage)");
		return -ENOEXEC;
	}
	if (!(h->xloadflags & XLF_KERNEL_64)) {
		err_printf(err, errlen, "bzImage has no 64-bit entry point (XLF_KERNEL_64 clear in xloadflags)");
		return -ENOEXEC;
	}
	if (h->relocatable_kernel) {
		if (!is_power_of_two(h->kernel_alignment) || h->kernel_alignment > (1u << 30)) {
			err_printf(err, errlen, "bzImage kernel_alignment 0x%x is not a power of two up to 1 GiB",
				h->kernel_alignment);
			return -ENOEXEC;
		}
	} else if (h->pref_address < 0x100000) {
		/* A fixed kernel runs at pref_address: it must not land on
		 * the low-memory boot structures. */
		err_printf(err, errlen, "non-relocatable bzImage wants to run at 0x%llx, below 1 MiB",
			(unsigned long long)h->pref_address);
		return -ENOEXEC;
	}
	if (h->initrd_addr_max < 0x100000) {
		err_printf(err, errlen, "bzImage initrd_addr_max 0x%x is below 1 MiB", h->initrd_addr_max);
		return -ENOEXEC;
	}
	return 0;
}

int bzimage_parse(const uint8_t *buf, size_t len, struct bzimage_info *info, char *err, size_t errlen)
{
	int ret;

	memset(info, 0, sizeof(*info));
	if (!buf)
		len = 0;
	ret = check_identity(buf, len, err, errlen);
	if (!ret)
		ret = copy_header(buf, info, err, errlen);
	if (!ret)
		ret = check_placement(info, err, errlen);
	if (!ret)
		ret = check_sizes(len, info, err, errlen);
	if (ret) {
		memset(info, 0, sizeof(*info));
		return ret;
	}

	const struct setup_header *h = &info->hdr;
	info->version = h->version;
	info->pref_address = h->pref_address;
	info->init_size = h->init_size;
	info->kernel_alignment = h->kernel_alignment;
	info->relocatable = h->relocatable_kernel != 0;
	info->initrd_addr_max = h->initrd_addr_max;
	info->cmdline_size = h->cmdline_size;
	info->xloadflags = h->xloadflags;
	info->payload_offset = h->payload_offset;
	info->payload_length = h->payload_length;
	return 0;
}
