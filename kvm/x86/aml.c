/* AML byte-code encoder; see aml.h. Opcode values are from the ACPI
 * specification, chapter 20 ("ACPI Machine Language Specification"), and
 * resource descriptor layouts from chapter 6.4 ("Resource Data Types"). */
#include "kvm/x86/aml.h"

#include <string.h>

/* Opcodes and prefixes (ACPI 6.x, 20.2) */
#define AML_ZERO_OP          0x00
#define AML_ONE_OP           0x01
#define AML_NAME_OP          0x08
#define AML_BYTE_PREFIX      0x0a
#define AML_WORD_PREFIX      0x0b
#define AML_DWORD_PREFIX     0x0c
#define AML_STRING_PREFIX    0x0d
#define AML_QWORD_PREFIX     0x0e
#define AML_SCOPE_OP         0x10
#define AML_BUFFER_OP        0x11
#define AML_PACKAGE_OP       0x12
#define AML_METHOD_OP        0x14
#define AML_DUAL_NAME_PREFIX 0x2e
#define AML_MULTI_NAME_PREFIX 0x2f
#define AML_EXT_OP_PREFIX    0x5b
#define AML_DEVICE_OP        0x82   /* after AML_EXT_OP_PREFIX */
#define AML_ROOT_CHAR        0x5c   /* '\' */
#define AML_PARENT_PREFIX    0x5e   /* '^' */
#define AML_RETURN_OP        0xa4
#define AML_NULL_NAME        0x00

/* Resource descriptor tags (6.4.2 small, 6.4.3 large) */
#define RES_IRQ_NOFLAGS      0x22   /* small item 0x04, length 2 */
#define RES_IO               0x47   /* small item 0x08, length 7 */
#define RES_END_TAG          0x79   /* small item 0x0f, length 1 */
#define RES_MEMORY32_FIXED   0x86
#define RES_DWORD_ADDRESS    0x87
#define RES_WORD_ADDRESS     0x88
#define RES_EXT_INTERRUPT    0x89
#define RES_QWORD_ADDRESS    0x8a

/* Address space descriptor fields */
#define ADDR_TYPE_MEMORY     0
#define ADDR_TYPE_IO         1
#define ADDR_TYPE_BUS        2
#define ADDR_MIN_FIXED       0x04
#define ADDR_MAX_FIXED       0x08
#define ADDR_MEM_RW          0x01
#define ADDR_MEM_PREFETCH    (3 << 1)
#define ADDR_IO_ENTIRE_RANGE 0x03

/* What aml_end() closes: everything has a PkgLength; a Buffer also has
 * its BufferSize inserted after it. */
enum { OPEN_PKG, OPEN_BUFFER };

void aml_init(struct aml_buf *b, uint8_t *data, size_t cap)
{
	memset(b, 0, sizeof(*b));
	b->data = data;
	b->cap = cap;
}

bool aml_ok(const struct aml_buf *b)
{
	return !b->error && b->depth == 0;
}

void aml_bytes(struct aml_buf *b, const void *bytes, size_t n)
{
	if (b->error)
		return;
	if (n > b->cap - b->len) {
		b->error = true;
		return;
	}
	memcpy(b->data + b->len, bytes, n);
	b->len += n;
}

void aml_byte(struct aml_buf *b, uint8_t byte)
{
	aml_bytes(b, &byte, 1);
}

/* Append the low nbytes of value, little-endian as AML requires. */
static void put_le(struct aml_buf *b, uint64_t value, unsigned nbytes)
{
	uint8_t bytes[8];

	for (unsigned i = 0; i < nbytes; i++)
		bytes[i] = (uint8_t)(value >> (8 * i));
	aml_bytes(b, bytes, nbytes);
}

/* Insert n bytes at offset pos, shifting what follows (used to put a
 * PkgLength in front of a body that is already written). */
static void insert_bytes(struct aml_buf *b, size_t pos, const uint8_t *bytes, size_t n)
{
	if (b->error)
		return;
	if (n > b->cap - b->len) {
		b->error = true;
		return;
	}
	memmove(b->data + pos + n, b->data + pos, b->len - pos);
	memcpy(b->data + pos, bytes, n);
	b->len += n;
}

/* Largest value a PkgLength of n bytes can hold: 6 bits in a lone lead
 * byte, else 4 bits in the lead byte plus 8 per following byte. */
static uint32_t pkglength_max(size_t n)
{
	return n == 1 ? 0x3f : (1u << (4 + 8 * (n - 1))) - 1;
}

size_t aml_pkglength_encode(uint32_t value, uint8_t out[4])
{
	size_t n;

	for (n = 1; n <= 4; n++)
		if (value <= pkglength_max(n))
			break;
	if (n > 4)
		return 0;
	if (n == 1) {
		out[0] = (uint8_t)value;
		return 1;
	}
	/* Lead byte: bits 7-6 = count of following bytes, bits 3-0 = low nibble. */
	out[0] = (uint8_t)(((n - 1) << 6) | (value & 0x0f));
	for (size_t i = 1; i < n; i++)
		out[i] = (uint8_t)(value >> (4 + 8 * (i - 1)));
	return n;
}

/* PkgLength for a body of body_len bytes. The length counts its own bytes,
 * so pick the smallest size n with body_len + n still encodable in n. */
static size_t pkglength_for_body(size_t body_len, uint8_t out[4])
{
	for (size_t n = 1; n <= 4; n++)
		if (body_len <= pkglength_max(n) - n)
			return aml_pkglength_encode((uint32_t)(body_len + n), out);
	return 0;
}

/* A NameSeg is 1-4 characters: a leading A-Z or '_', then A-Z, 0-9 or '_'. */
static bool valid_seg_char(char c, bool leading)
{
	return (c >= 'A' && c <= 'Z') || c == '_' || (!leading && c >= '0' && c <= '9');
}

/* Validate the segments of a dotted path and count them (0 if invalid). */
static unsigned count_segments(const char *p)
{
	unsigned nr = 0;

	for (;;) {
		size_t n = 0;
		while (p[n] && p[n] != '.') {
			if (n == 4 || !valid_seg_char(p[n], n == 0))
				return 0;
			n++;
		}
		if (n == 0)
			return 0;
		nr++;
		if (!p[n])
			return nr;
		p += n + 1;
	}
}

/* NameSeg := LeadNameChar NameChar NameChar NameChar, padded with '_'. */
static const char *emit_seg(struct aml_buf *b, const char *p)
{
	char seg[4] = { '_', '_', '_', '_' };
	size_t n = 0;

	while (p[n] && p[n] != '.') {
		seg[n] = p[n];
		n++;
	}
	aml_bytes(b, seg, 4);
	return p[n] ? p + n + 1 : p + n;
}

void aml_namestring(struct aml_buf *b, const char *path)
{
	const char *start = path;
	unsigned nr_segs;

	/* PrefixPath or RootChar */
	if (*path == '\\') {
		aml_byte(b, AML_ROOT_CHAR);
		path++;
	} else {
		while (*path == '^') {
			aml_byte(b, AML_PARENT_PREFIX);
			path++;
		}
	}
	if (!*path && path != start) {
		aml_byte(b, AML_NULL_NAME);   /* bare prefix: the root or parent scope itself */
		return;
	}
	nr_segs = count_segments(path);
	if (nr_segs == 0 || nr_segs > 255) {
		b->error = true;
		return;
	}
	/* NamePath := NameSeg | DualNamePath | MultiNamePath */
	if (nr_segs == 2) {
		aml_byte(b, AML_DUAL_NAME_PREFIX);
	} else if (nr_segs > 2) {
		aml_byte(b, AML_MULTI_NAME_PREFIX);
		aml_byte(b, (uint8_t)nr_segs);
	}
	for (unsigned i = 0; i < nr_segs; i++)
		path = emit_seg(b, path);
}

void aml_name(struct aml_buf *b, const char *path)
{
	aml_byte(b, AML_NAME_OP);
	aml_namestring(b, path);
}

void aml_integer(struct aml_buf *b, uint64_t value)
{
	if (value == 0) {
		aml_byte(b, AML_ZERO_OP);
	} else if (value == 1) {
		aml_byte(b, AML_ONE_OP);
	} else if (value <= UINT8_MAX) {
		aml_byte(b, AML_BYTE_PREFIX);
		put_le(b, value, 1);
	} else if (value <= UINT16_MAX) {
		aml_byte(b, AML_WORD_PREFIX);
		put_le(b, value, 2);
	} else if (value <= UINT32_MAX) {
		aml_byte(b, AML_DWORD_PREFIX);
		put_le(b, value, 4);
	} else {
		aml_byte(b, AML_QWORD_PREFIX);
		put_le(b, value, 8);
	}
}

void aml_string(struct aml_buf *b, const char *s)
{
	size_t n = strlen(s);

	for (size_t i = 0; i < n; i++) {
		if ((unsigned char)s[i] > 0x7f) {
			b->error = true;
			return;
		}
	}
	aml_byte(b, AML_STRING_PREFIX);
	aml_bytes(b, s, n + 1);     /* with the NullChar */
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

bool aml_eisaid(const char *id, uint32_t *out)
{
	uint16_t vendor = 0, product = 0;

	if (strlen(id) != 7)
		return false;
	/* Three letters, 5 bits each ('A' = 1), packed into 15 bits. */
	for (int i = 0; i < 3; i++) {
		if (id[i] < 'A' || id[i] > 'Z')
			return false;
		vendor = (uint16_t)((vendor << 5) | (id[i] - 0x40));
	}
	for (int i = 3; i < 7; i++) {
		int v = hex_value(id[i]);
		if (v < 0)
			return false;
		product = (uint16_t)((product << 4) | v);
	}
	/* The ID is stored big-endian (vendor high byte first) but read back
	 * as a little-endian DWORD, hence the byte order here. */
	*out = (uint32_t)(vendor >> 8) | (uint32_t)(vendor & 0xff) << 8 |
	       (uint32_t)(product >> 8) << 16 | (uint32_t)(product & 0xff) << 24;
	return true;
}

void aml_eisaid_integer(struct aml_buf *b, const char *id)
{
	uint32_t value;

	if (!aml_eisaid(id, &value)) {
		b->error = true;
		return;
	}
	aml_integer(b, value);
}

/* Remember where a construct's body starts; aml_end() fills in its length. */
static void open_construct(struct aml_buf *b, uint8_t kind)
{
	if (b->error)
		return;
	if (b->depth == AML_MAX_DEPTH) {
		b->error = true;
		return;
	}
	b->open[b->depth].start = b->len;
	b->open[b->depth].kind = kind;
	b->depth++;
}

void aml_scope_begin(struct aml_buf *b, const char *path)
{
	aml_byte(b, AML_SCOPE_OP);
	open_construct(b, OPEN_PKG);
	aml_namestring(b, path);
}

void aml_device_begin(struct aml_buf *b, const char *path)
{
	aml_byte(b, AML_EXT_OP_PREFIX);
	aml_byte(b, AML_DEVICE_OP);
	open_construct(b, OPEN_PKG);
	aml_namestring(b, path);
}

void aml_method_begin(struct aml_buf *b, const char *path, unsigned nr_args, bool serialized)
{
	if (nr_args > 7) {
		b->error = true;
		return;
	}
	aml_byte(b, AML_METHOD_OP);
	open_construct(b, OPEN_PKG);
	aml_namestring(b, path);
	/* MethodFlags: bits 0-2 ArgCount, bit 3 SerializeFlag, bits 4-7 SyncLevel 0 */
	aml_byte(b, (uint8_t)(nr_args | (serialized ? 0x08 : 0)));
}

void aml_return(struct aml_buf *b)
{
	aml_byte(b, AML_RETURN_OP);
}

void aml_package_begin(struct aml_buf *b, unsigned nr_elements)
{
	if (nr_elements > 255) {
		b->error = true;    /* would need VarPackageOp */
		return;
	}
	aml_byte(b, AML_PACKAGE_OP);
	open_construct(b, OPEN_PKG);
	aml_byte(b, (uint8_t)nr_elements);
}

void aml_buffer_begin(struct aml_buf *b)
{
	aml_byte(b, AML_BUFFER_OP);
	open_construct(b, OPEN_BUFFER);
}

void aml_end(struct aml_buf *b)
{
	uint8_t prefix[4 + 9];  /* PkgLength, then for a Buffer its BufferSize */
	size_t start, body_len, n = 0;

	if (b->error)
		return;
	if (b->depth == 0) {
		b->error = true;
		return;
	}
	b->depth--;
	start = b->open[b->depth].start;
	body_len = b->len - start;

	if (b->open[b->depth].kind == OPEN_BUFFER) {
		/* BufferSize is an Integer object, encoded in a scratch buffer
		 * to learn its size; it belongs inside the PkgLength. */
		uint8_t size_bytes[9];
		struct aml_buf size_buf;

		aml_init(&size_buf, size_bytes, sizeof(size_bytes));
		aml_integer(&size_buf, body_len);
		n = pkglength_for_body(body_len + size_buf.len, prefix);
		if (n == 0) {
			b->error = true;
			return;
		}
		memcpy(prefix + n, size_bytes, size_buf.len);
		n += size_buf.len;
	} else {
		n = pkglength_for_body(body_len, prefix);
		if (n == 0) {
			b->error = true;
			return;
		}
	}
	insert_bytes(b, start, prefix, n);
}

void aml_resource_begin(struct aml_buf *b)
{
	aml_buffer_begin(b);
}

void aml_resource_end(struct aml_buf *b)
{
	if (b->error)
		return;
	if (b->depth == 0 || b->open[b->depth - 1].kind != OPEN_BUFFER) {
		b->error = true;
		return;
	}
	/* End Tag; checksum 0 means "the template is not checksummed". */
	aml_byte(b, RES_END_TAG);
	aml_byte(b, 0);
	aml_end(b);
}

void aml_io(struct aml_buf *b, uint16_t min, uint16_t max, uint8_t align, uint8_t len)
{
	aml_byte(b, RES_IO);
	aml_byte(b, 0x01);          /* information: decodes 16 address bits */
	put_le(b, min, 2);
	put_le(b, max, 2);
	aml_byte(b, align);
	aml_byte(b, len);
}

void aml_irq_noflags(struct aml_buf *b, unsigned irq)
{
	if (irq > 15) {
		b->error = true;
		return;
	}
	aml_byte(b, RES_IRQ_NOFLAGS);
	put_le(b, 1u << irq, 2);    /* mask of ISA IRQs */
}

void aml_memory32_fixed(struct aml_buf *b, uint32_t base, uint32_t size, bool writable)
{
	aml_byte(b, RES_MEMORY32_FIXED);
	put_le(b, 9, 2);            /* length of the data that follows */
	aml_byte(b, writable ? 1 : 0);
	put_le(b, base, 4);
	put_le(b, size, 4);
}

void aml_interrupt(struct aml_buf *b, uint32_t gsi, uint8_t flags)
{
	if (flags & ~(AML_IRQ_EDGE | AML_IRQ_ACTIVE_LOW | AML_IRQ_SHARED)) {
		b->error = true;
		return;
	}
	aml_byte(b, RES_EXT_INTERRUPT);
	put_le(b, 6, 2);            /* flags, count and one DWORD */
	aml_byte(b, 0x01 | flags);  /* bit 0: ResourceConsumer */
	aml_byte(b, 1);             /* interrupt table length */
	put_le(b, gsi, 4);
}

/* Word/DWord/QWord Address Space Descriptor: tag, length, resource type,
 * general flags, type-specific flags, then granularity, minimum, maximum,
 * translation offset and length, each `width` bytes. */
static void address_space(struct aml_buf *b, uint8_t tag, unsigned width, uint8_t type,
			  uint8_t type_flags, uint64_t min, uint64_t max)
{
	uint64_t field_max = width == 8 ? UINT64_MAX : (1ull << (8 * width)) - 1;

	/* The length max - min + 1 must fit the field too (0..0xffff won't in a Word). */
	if (min > max || max > field_max || max - min >= field_max) {
		b->error = true;
		return;
	}
	aml_byte(b, tag);
	put_le(b, 3 + 5 * width, 2);
	aml_byte(b, type);
	/* ResourceProducer (bit 0 clear), PosDecode (bit 1 clear) */
	aml_byte(b, ADDR_MIN_FIXED | ADDR_MAX_FIXED);
	aml_byte(b, type_flags);
	put_le(b, 0, width);        /* granularity */
	put_le(b, min, width);
	put_le(b, max, width);
	put_le(b, 0, width);        /* translation offset */
	put_le(b, max - min + 1, width);
}

void aml_word_bus_number(struct aml_buf *b, uint16_t min, uint16_t max)
{
	address_space(b, RES_WORD_ADDRESS, 2, ADDR_TYPE_BUS, 0, min, max);
}

void aml_word_io(struct aml_buf *b, uint16_t min, uint16_t max)
{
	address_space(b, RES_WORD_ADDRESS, 2, ADDR_TYPE_IO, ADDR_IO_ENTIRE_RANGE, min, max);
}

void aml_dword_memory(struct aml_buf *b, uint32_t min, uint32_t max, bool prefetchable)
{
	address_space(b, RES_DWORD_ADDRESS, 4, ADDR_TYPE_MEMORY,
		      ADDR_MEM_RW | (prefetchable ? ADDR_MEM_PREFETCH : 0), min, max);
}

void aml_qword_memory(struct aml_buf *b, uint64_t min, uint64_t max, bool prefetchable)
{
	address_space(b, RES_QWORD_ADDRESS, 8, ADDR_TYPE_MEMORY,
		      ADDR_MEM_RW | (prefetchable ? ADDR_MEM_PREFETCH : 0), min, max);
}
