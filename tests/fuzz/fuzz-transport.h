/* The input format of fuzz-transport.c, shared with its seed generator
 * (make-transport-seeds.c):
 *
 *   struct ft_header, then hdr.nsteps struct ft_step (fewer if the input
 *   ends first), then the initial contents of guest RAM: region 0, then
 *   region 1 (zeros where the input stops).
 *
 * All fields little-endian. */
#ifndef SKIFF_FUZZ_TRANSPORT_H
#define SKIFF_FUZZ_TRANSPORT_H

#include <stdint.h>

#define FT_RAM0_GPA  0x0ull
#define FT_RAM0_SIZE (16u << 10)
#define FT_RAM1_GPA  0x100000ull   /* after a hole */
#define FT_RAM1_SIZE (4u << 10)

enum ft_transport { FT_MMIO_V1, FT_MMIO_V2, FT_PCI_MODERN, FT_PCI_TRANSITIONAL, FT_PCI_LEGACY, FT_NR_TRANSPORTS };

/* holder: a device double that keeps every request until the program
 * completes it; balloon: the real balloon (its stats buffer is held);
 * rng: the real rng, rate-limited (requests are given back unserved). */
enum ft_device { FT_HOLDER, FT_BALLOON, FT_RNG, FT_NR_DEVICES };

struct ft_header {
	uint8_t transport;  /* enum ft_transport, modulo */
	uint8_t device;     /* enum ft_device, modulo */
	uint8_t flags;      /* holder: bits 0-2 pops per kick (0: all), bit 3 give the last back;
			       balloon: bit 0 deflate-on-oom, bit 1 free page reporting;
			       rng: rate in units of 64 bytes/s (0: unlimited) */
	uint8_t nsteps;
};

enum ft_op {
	FT_OP_WRITE,      /* register write: sel = width | region << 2 | unaligned << 5, off, value */
	FT_OP_READ,       /* register read, the same */
	FT_OP_KICK,       /* the driver notifies queue `value` (what an ioeventfd would do) */
	FT_OP_DEVICE,     /* the device acts: holder completes held[off] (sel bit 0: with its
			     batch; bit 1: from a thread, without dev->lock) writing `value`
			     bytes; balloon asks for stats (sel bit 0: sets
			     the target to `value` pages); rng: `value` microseconds pass */
	FT_OP_POKE,       /* the driver writes 4 bytes `value` at offset `off` of region sel & 1 */
	FT_OP_PCI_CONFIG, /* PCI config space write at `off` (sel bit 4: from the MSI-X capability) */
	FT_NR_OPS,
};

/* Register regions. MMIO: 0 registers, 1 device config (bit 0 only).
 * PCI: 0 common config, 1 ISR, 2 device config, 3 notify, 4 legacy I/O
 * BAR, 5 MSI-X BAR, 6 the whole modern BAR. */
#define FT_SEL(width_log2, region) ((uint8_t)((width_log2) | (region) << 2))

struct ft_step {
	uint8_t op;         /* enum ft_op, modulo */
	uint8_t sel;
	uint16_t off;
	uint32_t value;
};

#endif
