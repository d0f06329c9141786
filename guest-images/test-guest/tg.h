/* test-guest runtime: port and MMIO access, serial console, printf-lite,
 * debug-exit, command-line options. Freestanding: no libc. */
#ifndef TG_H
#define TG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tg-layout.h"

/* ---- debug-exit values (skiff and QEMU exit with (value << 1) | 1) ---- */
#define EXIT_PASS        0x00  /* status 1 */
#define EXIT_FAIL_BASE   0x10  /* + number of failures (max 0x3f): status 33.. */
#define EXIT_FAIL_MAX    0x3f
#define EXIT_INTERNAL    0x50  /* no hvm_start_info, or crash= did not fault: status 161 */
#define EXIT_EXCEPTION   0x60  /* + vector (0..31): status 193 + 2 * vector */
#define DEBUG_EXIT_PORT  0xf4

#define COM1 0x3f8

/* ---- port I/O and MMIO ---- */
static inline void outb(uint16_t port, uint8_t v) { __asm__ volatile("outb %0, %1" ::"a"(v), "Nd"(port)); }
static inline void outw(uint16_t port, uint16_t v) { __asm__ volatile("outw %0, %1" ::"a"(v), "Nd"(port)); }
static inline void outl(uint16_t port, uint32_t v) { __asm__ volatile("outl %0, %1" ::"a"(v), "Nd"(port)); }
static inline uint8_t inb(uint16_t port) { uint8_t v; __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline uint16_t inw(uint16_t port) { uint16_t v; __asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline uint32_t inl(uint16_t port) { uint32_t v; __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port)); return v; }

static inline uint8_t mmio_read8(uint64_t a) { return *(volatile uint8_t *)a; }
static inline uint16_t mmio_read16(uint64_t a) { return *(volatile uint16_t *)a; }
static inline uint32_t mmio_read32(uint64_t a) { return *(volatile uint32_t *)a; }
static inline void mmio_write8(uint64_t a, uint8_t v) { *(volatile uint8_t *)a = v; }
static inline void mmio_write16(uint64_t a, uint16_t v) { *(volatile uint16_t *)a = v; }
static inline void mmio_write32(uint64_t a, uint32_t v) { *(volatile uint32_t *)a = v; }

static inline void barrier(void) { __asm__ volatile("" ::: "memory"); }
static inline void mb(void) { __asm__ volatile("mfence" ::: "memory"); }

static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return (uint64_t)hi << 32 | lo;
}

/* ---- string.c (placed in the user section: callable from both rings) ---- */
void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strncmp(const char *a, const char *b, size_t n);

/* ---- runtime.c ---- */
void serial_init(void);
void putchar_serial(char c);
void puts_serial(const char *s);
int printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int vprintf(const char *fmt, va_list ap);
void debug_exit(uint8_t value) __attribute__((noreturn));
/* Parse an unsigned number: decimal, 0x hex, optional K/M suffix.
 * Returns the number of characters used (0 = none). */
int parse_u64(const char *s, uint64_t *out);

/* ---- options from the command line (options.c; main.c parses them) ---- */
#define MAX_MMIO_ADDRS 32
struct options {
	const char *cmdline;
	unsigned expect;               /* TRANSPORT_* bits that must be found and pass */
	bool expect_given;
	uint64_t mmio_addr[MAX_MMIO_ADDRS];
	unsigned nr_mmio;              /* explicit list (mmio= / virtio_mmio.device=) */
	bool mmio_given;
	int pci_mode;                  /* PCI_MODE_* */
	uint64_t ecam_base;
	uint64_t pci_mem_base, pci_mem_size; /* window for BARs left unassigned */
	uint32_t pci_io_base, pci_io_size;
	unsigned requests;             /* rng requests per device (>= 2) */
	unsigned timeout_ms;           /* per request, ring-3 poll */
	const char *crash;             /* self-test of the exception path */
	bool features_min;             /* don't negotiate EVENT_IDX / INDIRECT / RING_PACKED */
	int ring;                      /* RING_* for modern transports */
	unsigned bench_ms;             /* blk-bench=MS: benchmark virtio-blk devices, MS per figure */
	unsigned net_bench_ms;         /* net-bench=MS: benchmark virtio-net devices, MS per figure */
	const char *attack;            /* attack=all|NAME[,NAME...]: the hostile guest (attack.c) */
};
extern struct options opt;

enum { TRANSPORT_PCI = 1, TRANSPORT_PCI_LEGACY = 2, TRANSPORT_MMIO = 4, TRANSPORT_MMIO_LEGACY = 8 };
enum { PCI_MODE_CF8, PCI_MODE_ECAM, PCI_MODE_OFF };
enum { RING_AUTO, RING_SPLIT, RING_PACKED }; /* auto: packed when offered, as Linux does */
const char *transport_name(unsigned t);

/* ---- results (options.c) ---- */
extern unsigned tests_passed, tests_failed;
void result_pass(void);
void result_fail(void);

#endif
