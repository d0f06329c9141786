/* bzImage parsing: check that a file follows the Linux x86 boot protocol
 * (Documentation/x86/boot.rst) well enough for skiff's 64-bit entry, and
 * pull out the setup header fields a loader needs.
 *
 * File layout of a bzImage:
 *   [0, setup_size)        real-mode setup: boot sector + setup_sects
 *                          sectors; the setup header sits at 0x1f1
 *   [setup_size, EOF)      protected-mode kernel (the compressed kernel
 *                          plus its decompressor), loaded at 1 MiB or
 *                          higher; its 64-bit entry is at +0x200
 * skiff never runs the real-mode setup: it builds boot_params itself. */
#ifndef SKIFF_X86_BZIMAGE_H
#define SKIFF_X86_BZIMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <asm/bootparam.h>

#define BZIMAGE_HDR_OFFSET     0x1f1   /* struct setup_header in the file */
#define BZIMAGE_SECTOR_SIZE    512
#define BZIMAGE_BOOT_FLAG      0xaa55
#define BZIMAGE_MAGIC          0x53726448 /* "HdrS", little endian */
#define BZIMAGE_MIN_VERSION    0x020c  /* 2.12: first with xloadflags */
#define BZIMAGE_ENTRY64_OFFSET 0x200   /* startup_64 from the load address */

struct bzimage_info {
	/* The kernel's own setup header, as in the file; bytes past the
	 * header length the kernel declares are zero (they are setup code,
	 * not header fields, in older kernels). */
	struct setup_header hdr;
	size_t hdr_len;           /* bytes of hdr the kernel defines */
	uint16_t version;         /* boot protocol, e.g. 0x020f = 2.15 */

	size_t setup_size;        /* (setup_sects + 1) * 512 */
	size_t kernel_offset;     /* file offset of the protected-mode kernel */
	size_t kernel_size;       /* its size in the file */

	uint64_t pref_address;    /* preferred load address (0 = none) */
	uint32_t init_size;       /* contiguous bytes needed from the load address */
	uint32_t kernel_alignment;
	bool relocatable;
	uint32_t initrd_addr_max; /* highest byte the initrd may occupy */
	uint32_t cmdline_size;    /* max command line length, without the NUL */
	uint16_t xloadflags;
	uint32_t payload_offset;  /* compressed payload, relative to kernel_offset */
	uint32_t payload_length;
};

/* Validate buf[0, len) as a bzImage skiff can boot. On success fills
 * *info and returns 0; otherwise returns -ENOEXEC with one line in err. */
int bzimage_parse(const uint8_t *buf, size_t len, struct bzimage_info *info, char *err, size_t errlen);

#endif
