/* Unpacking a bzImage's compressed payload on the host.
 *
 * Why this exists: on a software-KVM host (see swkvm.h) guest ring-0 code
 * is emulated at ~250 ns per instruction, so the bzImage's own in-guest
 * decompressor takes tens of seconds (~37 s for the Debian cloud
 * kernel's LZ4 payload, plus KASLR relocation processing). The payload
 * is the kernel's ELF vmlinux (followed by its relocation table), so the
 * host can decompress it in well under a second and boot the ELF through
 * the 64-bit entry instead.
 *
 * The payload (setup header payload_offset/payload_length, boot protocol
 * 2.08+) is one of the formats the kernel build can produce, recognised
 * by its magic number; the kernel build appends the uncompressed size as
 * 4 little-endian bytes (gzip's own trailer ends with it too). Every
 * decompressor here is a library from the distribution, writing into one
 * buffer of exactly that size (capped by the caller), so hostile input
 * costs bounded memory and never more than a failed unpack. */
#ifndef SKIFF_X86_BZIMAGE_UNPACK_H
#define SKIFF_X86_BZIMAGE_UNPACK_H

#include <stddef.h>
#include <stdint.h>

enum payload_format {
	PAYLOAD_UNKNOWN,
	PAYLOAD_GZIP,
	PAYLOAD_XZ,
	PAYLOAD_LZMA,
	PAYLOAD_ZSTD,
	PAYLOAD_LZ4, /* the legacy lz4 frame ("lz4 -l") the kernel uses */
	PAYLOAD_BZIP2,
	PAYLOAD_LZO, /* recognised, not unpacked: lzop framing */
};

/* The format a payload's first bytes announce. */
enum payload_format payload_format_of(const uint8_t *payload, size_t len);

/* "gzip", "lz4", ... ("unknown" for PAYLOAD_UNKNOWN). */
const char *payload_format_name(enum payload_format fmt);

struct unpacked_kernel {
	uint8_t *data; /* malloc'd; free() it */
	size_t size;   /* the size the payload's trailer claims */
	enum payload_format format;
};

/* Decompress payload[0, len) into a new buffer. The result must be
 * exactly as large as the payload's trailing size field, which must not
 * exceed max_size. Returns 0 and fills *out, or a negative errno with one
 * line in why (out->data is then NULL, out->format still says what the
 * magic announced):
 *   -EPROTONOSUPPORT  unknown or unsupported format
 *   -EFBIG            claimed size is 0 or larger than max_size
 *   -EBADMSG          corrupt or truncated stream, or a size mismatch
 *   -ENOMEM           no memory for the output */
int payload_unpack(const uint8_t *payload, size_t len, size_t max_size, struct unpacked_kernel *out, char *why,
                   size_t whylen);

#endif
