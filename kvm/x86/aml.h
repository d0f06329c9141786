/* A tiny encoder for AML, the byte code inside the DSDT that describes
 * devices to the guest's ACPI interpreter. It emits only what skiff
 * needs: names, integers, strings, packages, scopes, devices, trivial
 * methods and resource templates. Each function names the grammar rule of
 * the ACPI specification (chapter 20, "ACPI Machine Language") it emits.
 *
 * Output goes into a caller-provided fixed buffer. Nothing is ever written
 * past its end: when something does not fit, or an argument is invalid,
 * the buffer's error flag is set and later calls do nothing. Callers check
 * aml_ok() once at the end instead of after every call.
 *
 * Constructs with a PkgLength (Scope, Device, Method, Package, Buffer) are
 * opened with *_begin() and closed with aml_end(): the length is only
 * known at the end, so aml_end() inserts the encoded PkgLength in front of
 * the body. */
#ifndef SKIFF_X86_AML_H
#define SKIFF_X86_AML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* How deeply begin/end constructs may nest (Scope > Device > Method > ...). */
#define AML_MAX_DEPTH 16

/* Largest value a PkgLength can encode (28 bits). */
#define AML_PKGLENGTH_MAX 0x0fffffffu

struct aml_buf {
	uint8_t *data;          /* output bytes (not owned) */
	size_t len;             /* bytes written so far */
	size_t cap;             /* size of data */
	bool error;             /* out of room, bad argument or unbalanced end */
	unsigned depth;         /* number of open constructs */
	struct {
		size_t start;   /* offset of the body, where PkgLength goes */
		uint8_t kind;   /* which construct, so aml_end() knows what to insert */
	} open[AML_MAX_DEPTH];
};

void aml_init(struct aml_buf *b, uint8_t *data, size_t cap);

/* True if no error happened and every begin has its aml_end(). */
bool aml_ok(const struct aml_buf *b);

/* Raw bytes, for callers that know the encoding. */
void aml_byte(struct aml_buf *b, uint8_t byte);
void aml_bytes(struct aml_buf *b, const void *bytes, size_t n);

/* PkgLength := PkgLeadByte | <PkgLeadByte ByteData> | ... (1 to 4 bytes).
 * value counts the PkgLength bytes themselves. Writes the encoding to out
 * and returns its size, or 0 if value > AML_PKGLENGTH_MAX. */
size_t aml_pkglength_encode(uint32_t value, uint8_t out[4]);

/* NameString := <RootChar NamePath> | <PrefixPath NamePath>
 * path is ASL-style: "\\" (the root), "_SB_", "\\_SB_.PCI0", "_S5".
 * Segments shorter than 4 characters are padded with '_', as ASL does. */
void aml_namestring(struct aml_buf *b, const char *path);

/* DefName := NameOp NameString DataRefObject
 * Emits NameOp and the name; the next object emitted is the value. */
void aml_name(struct aml_buf *b, const char *path);

/* Integer: ZeroOp | OneOp | BytePrefix ByteData | WordPrefix WordData |
 * DWordPrefix DWordData | QWordPrefix QWordData, the shortest that fits. */
void aml_integer(struct aml_buf *b, uint64_t value);

/* String := StringPrefix AsciiCharList NullChar (ASCII 0x01..0x7f only). */
void aml_string(struct aml_buf *b, const char *s);

/* EISAID("PNP0A08"): compress a 7-character PnP ID (3 letters, 4 hex
 * digits) into the 32-bit integer ACPI uses. False if id is malformed. */
bool aml_eisaid(const char *id, uint32_t *out);

/* The EISAID as an integer object (sets the error flag if malformed). */
void aml_eisaid_integer(struct aml_buf *b, const char *id);

/* DefScope := ScopeOp PkgLength NameString TermList */
void aml_scope_begin(struct aml_buf *b, const char *path);

/* DefDevice := DeviceOp PkgLength NameString TermList (DeviceOp = 0x5B 0x82) */
void aml_device_begin(struct aml_buf *b, const char *path);

/* DefMethod := MethodOp PkgLength NameString MethodFlags TermList */
void aml_method_begin(struct aml_buf *b, const char *path, unsigned nr_args, bool serialized);

/* DefReturn := ReturnOp ArgObject; the next object emitted is returned. */
void aml_return(struct aml_buf *b);

/* DefPackage := PackageOp PkgLength NumElements PackageElementList
 * nr_elements must be 0..255 and match what is emitted before aml_end(). */
void aml_package_begin(struct aml_buf *b, unsigned nr_elements);

/* DefBuffer := BufferOp PkgLength BufferSize ByteList
 * aml_end() inserts BufferSize, computed from the bytes emitted. */
void aml_buffer_begin(struct aml_buf *b);

/* Close the innermost open construct. */
void aml_end(struct aml_buf *b);

/* Resource templates: a Buffer holding resource descriptors and ending in
 * an End Tag. aml_resource_end() appends the End Tag and closes the Buffer. */
void aml_resource_begin(struct aml_buf *b);
void aml_resource_end(struct aml_buf *b);

/* I/O Port Descriptor (small item 0x47), 16-bit decode:
 * IO(Decode16, min, max, align, len) */
void aml_io(struct aml_buf *b, uint16_t min, uint16_t max, uint8_t align, uint8_t len);

/* IRQ Descriptor without flags (small item 0x22): IRQNoFlags() {irq},
 * an ISA IRQ 0..15, edge-triggered active-high. */
void aml_irq_noflags(struct aml_buf *b, unsigned irq);

/* 32-bit Fixed Memory Range Descriptor (large item 0x86):
 * Memory32Fixed(ReadWrite/ReadOnly, base, size) */
void aml_memory32_fixed(struct aml_buf *b, uint32_t base, uint32_t size, bool writable);

/* Extended Interrupt Descriptor (large item 0x89), one interrupt,
 * ResourceConsumer: Interrupt(ResourceConsumer, mode, polarity, sharing) {gsi}
 * flags: level/active-high/exclusive unless these bits are set. */
#define AML_IRQ_EDGE        0x02
#define AML_IRQ_ACTIVE_LOW  0x04
#define AML_IRQ_SHARED      0x08
void aml_interrupt(struct aml_buf *b, uint32_t gsi, uint8_t flags);

/* Address Space Descriptors (large items 0x88 Word, 0x87 DWord, 0x8A
 * QWord) for the windows a bridge produces: ResourceProducer, PosDecode,
 * MinFixed, MaxFixed, granularity and translation 0, length max-min+1. */
void aml_word_bus_number(struct aml_buf *b, uint16_t min, uint16_t max);
void aml_word_io(struct aml_buf *b, uint16_t min, uint16_t max);
void aml_dword_memory(struct aml_buf *b, uint32_t min, uint32_t max, bool prefetchable);
void aml_qword_memory(struct aml_buf *b, uint64_t min, uint64_t max, bool prefetchable);

#endif
