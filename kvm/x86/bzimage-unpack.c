/* Unpacking a bzImage payload on the host: format detection and one
 * small adapter per decompression library. Why this exists is in the
 * header. The libraries are the distribution's (zlib, liblzma, libzstd,
 * liblz4, libbz2): maintained, fuzzed and security-patched, unlike a
 * decompressor written here. */
#include "kvm/x86/bzimage-unpack.h"

#include <bzlib.h>
#include <errno.h>
#include <lz4.h>
#include <lzma.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include "base/log.h"

/* The size the kernel build appends after the compressed stream. */
#define PAYLOAD_SIZE_TRAILER 4

/* Legacy lz4 frame ("lz4 -l", lib/decompress_unlz4.c): this magic, then
 * blocks of [4-byte compressed size][data], each unpacking to at most
 * 8 MiB. The magic may reappear between blocks (concatenated frames). */
#define LZ4_LEGACY_MAGIC     0x184c2102u
#define LZ4_LEGACY_BLOCK_MAX (8u << 20)

/* liblzma's memory limit: the kernel's xz uses a 32 MiB dictionary and
 * its lzma -9 one of 64 MiB; a hostile header asking for more fails. */
#define LZMA_DECODER_MEMLIMIT (256ULL << 20)

static const struct {
	enum payload_format format;
	const char *name;
	uint8_t magic[6];
	size_t magic_len;
} formats[] = {
    {PAYLOAD_GZIP, "gzip", {0x1f, 0x8b}, 2},           {PAYLOAD_XZ, "xz", {0xfd, '7', 'z', 'X', 'Z', 0x00}, 6},
    {PAYLOAD_LZMA, "lzma", {0x5d, 0x00, 0x00}, 3},     {PAYLOAD_ZSTD, "zstd", {0x28, 0xb5, 0x2f, 0xfd}, 4},
    {PAYLOAD_LZ4, "lz4", {0x02, 0x21, 0x4c, 0x18}, 4}, {PAYLOAD_BZIP2, "bzip2", {'B', 'Z', 'h'}, 3},
    {PAYLOAD_LZO, "lzo", {0x89, 'L', 'Z', 'O'}, 4},
};

enum payload_format payload_format_of(const uint8_t *payload, size_t len)
{
	for (size_t i = 0; payload && i < sizeof(formats) / sizeof(formats[0]); i++)
		if (len >= formats[i].magic_len && memcmp(payload, formats[i].magic, formats[i].magic_len) == 0)
			return formats[i].format;
	return PAYLOAD_UNKNOWN;
}

const char *payload_format_name(enum payload_format fmt)
{
	for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++)
		if (formats[i].format == fmt)
			return formats[i].name;
	return "unknown";
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Each adapter decompresses in[0, len) into exactly out[0, size) and
 * returns 0, or -EBADMSG (corrupt, truncated, or a different size). */

static int unpack_gzip(const uint8_t *in, size_t len, uint8_t *out, size_t size)
{
	z_stream zs;
	int rc;

	memset(&zs, 0, sizeof(zs));
	if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) /* 16: gzip wrapper */
		return -ENOMEM;
	zs.next_in = (Bytef *)in;
	zs.avail_in = (uInt)len; /* callers keep len and size below 4 GiB */
	zs.next_out = out;
	zs.avail_out = (uInt)size;
	rc = inflate(&zs, Z_FINISH);
	size_t got = zs.total_out;
	inflateEnd(&zs);
	return rc == Z_STREAM_END && got == size ? 0 : -EBADMSG;
}

static int unpack_xz_or_lzma(bool xz, const uint8_t *in, size_t len, uint8_t *out, size_t size)
{
	lzma_stream ls = LZMA_STREAM_INIT;
	lzma_ret rc =
	    xz ? lzma_stream_decoder(&ls, LZMA_DECODER_MEMLIMIT, 0) : lzma_alone_decoder(&ls, LZMA_DECODER_MEMLIMIT);

	if (rc != LZMA_OK)
		return -ENOMEM;
	ls.next_in = in;
	ls.avail_in = len;
	ls.next_out = out;
	ls.avail_out = size;
	do /* liblzma answers LZMA_BUF_ERROR once it can make no progress */
		rc = lzma_code(&ls, LZMA_FINISH);
	while (rc == LZMA_OK);
	size_t got = (size_t)ls.total_out;
	lzma_end(&ls);
	return rc == LZMA_STREAM_END && got == size ? 0 : -EBADMSG;
}

static int unpack_zstd(const uint8_t *in, size_t len, uint8_t *out, size_t size)
{
	/* One-shot into a flat buffer: no window allocation, whatever the
	 * frame header claims. */
	size_t got = ZSTD_decompress(out, size, in, len);

	return !ZSTD_isError(got) && got == size ? 0 : -EBADMSG;
}

static int unpack_lz4_legacy(const uint8_t *in, size_t len, uint8_t *out, size_t size)
{
	size_t pos = 4, done = 0; /* past the magic */

	while (pos < len) {
		if (len - pos < 4)
			return -EBADMSG;
		uint32_t block = le32(in + pos);
		pos += 4;
		if (block == LZ4_LEGACY_MAGIC)
			continue;
		if (block == 0) /* the kernel's unlz4 reads 0 as end of input */
			break;
		if (block > len - pos || block > (uint32_t)LZ4_compressBound(LZ4_LEGACY_BLOCK_MAX))
			return -EBADMSG;
		size_t room = size - done < LZ4_LEGACY_BLOCK_MAX ? size - done : LZ4_LEGACY_BLOCK_MAX;
		int got = LZ4_decompress_safe((const char *)in + pos, (char *)out + done, (int)block, (int)room);
		if (got < 0)
			return -EBADMSG;
		done += (size_t)got;
		pos += block;
	}
	return done == size ? 0 : -EBADMSG;
}

static int unpack_bzip2(const uint8_t *in, size_t len, uint8_t *out, size_t size)
{
	unsigned int got = (unsigned int)size;
	int rc = BZ2_bzBuffToBuffDecompress((char *)out, &got, (char *)in, (unsigned int)len, 0, 0);

	return rc == BZ_OK && got == size ? 0 : -EBADMSG;
}

static int unpack_stream(enum payload_format fmt, const uint8_t *in, size_t len, uint8_t *out, size_t size)
{
	switch (fmt) {
	case PAYLOAD_GZIP:
		return unpack_gzip(in, len, out, size);
	case PAYLOAD_XZ:
		return unpack_xz_or_lzma(true, in, len, out, size);
	case PAYLOAD_LZMA:
		return unpack_xz_or_lzma(false, in, len, out, size);
	case PAYLOAD_ZSTD:
		return unpack_zstd(in, len, out, size);
	case PAYLOAD_LZ4:
		return unpack_lz4_legacy(in, len, out, size);
	case PAYLOAD_BZIP2:
		return unpack_bzip2(in, len, out, size);
	default:
		return -EPROTONOSUPPORT;
	}
}

int payload_unpack(const uint8_t *payload, size_t len, size_t max_size, struct unpacked_kernel *out, char *why,
                   size_t whylen)
{
	memset(out, 0, sizeof(*out));
	out->format = payload_format_of(payload, len);
	const char *name = payload_format_name(out->format);

	if (out->format == PAYLOAD_UNKNOWN || out->format == PAYLOAD_LZO) {
		err_printf(why, whylen, "%s payload compression is not supported", name);
		return -EPROTONOSUPPORT;
	}
	if (len <= PAYLOAD_SIZE_TRAILER + 4 || len > UINT32_MAX) {
		err_printf(why, whylen, "%s payload of %zu bytes is truncated", name, len);
		return -EBADMSG;
	}
	uint32_t claimed = le32(payload + len - PAYLOAD_SIZE_TRAILER);
	if (claimed == 0 || claimed > max_size) {
		err_printf(why, whylen, "%s payload claims %u uncompressed bytes (limit %zu)", name, claimed, max_size);
		return -EFBIG;
	}
	/* gzip's trailer is its own; the others' was appended after the stream. */
	size_t stream_len = out->format == PAYLOAD_GZIP ? len : len - PAYLOAD_SIZE_TRAILER;

	uint8_t *buf = malloc(claimed);
	if (!buf) {
		err_printf(why, whylen, "no memory for the %u-byte unpacked kernel", claimed);
		return -ENOMEM;
	}
	int ret = unpack_stream(out->format, payload, stream_len, buf, claimed);
	if (ret) {
		free(buf);
		err_printf(why, whylen,
		           ret == -ENOMEM ? "%s decoder could not start: out of memory"
		                          : "%s payload is corrupt or truncated (expected %u bytes)",
		           name, claimed);
		return ret;
	}
	out->data = buf;
	out->size = claimed;
	return 0;
}
