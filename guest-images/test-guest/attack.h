/* The hostile guest (attack= on the command line): attacks on skiff's
 * devices and transports, each followed by the same checks. See README
 * ("Attack mode") and docs/hostile-guest.md.
 *
 * attack.c        the harness: targets, the checks after each attack, and a
 *                 raw split-ring driver that writes whatever it is told to
 * attack-ring.c   rings, descriptors, queue sizes, features, queue restarts,
 *                 reset storms (on virtio-rng, every transport)
 * attack-dev.c    device requests (blk, scsi, balloon, console, net) and
 *                 PCI (BARs, MSI-X, config space)
 * Ring 0 only: polling in ring 0 is fine on hardware KVM (the nested test
 * host), and attacks need the registers anyway. */
#ifndef TG_ATTACK_H
#define TG_ATTACK_H

#include "virtio.h"

#define VIRTIO_ID_CONSOLE 3
#define VIRTIO_ID_BALLOON 5
#define VIRTIO_ID_SCSI 8
#define CONSOLE_F_MULTIPORT (1ull << 1)

/* One interface of one device, as the attacker drives it. */
struct target {
	struct vdev d;
	unsigned type;      /* VIRTIO_ID_* */
	bool slow;          /* a rate-limited rng: keeps requests waiting */
	bool transitional;  /* PCI function with both interfaces */
	struct pci_func *pci;
	uint64_t legacy_desc; /* legacy interfaces: the ring tq_enable() gives as PFN */
};

/* A split ring the attacker writes by hand. Addresses are guest physical
 * (identity-mapped). avail->flags stays 0: the device may interrupt
 * (interrupts stay off in the guest, so nothing is delivered). */
struct aq {
	struct target *t;
	unsigned q;
	uint16_t size;
	uint64_t desc, avail, used;
	uint16_t avail_idx, last_used, next_desc;
	struct vnotify kick;
};
#define AQ_DESC(a, i) (((volatile struct vring_desc *)(uintptr_t)(a)->desc)[(i) % (a)->size])

/* Where guest RAM below 4 GiB ends (the e820 map), and a scratch area of
 * RAM nobody uses (big buffers), 16 MiB from 64 MiB on. */
extern uint64_t ram_top;
#define SCRATCH 0x4000000ull
#define SCRATCH_SIZE 0x1000000ull

/* ---- the device side of an attack (attack.c) ---- */
/* reset, ACK, DRIVER, features (offered & want; VERSION_1 on modern
 * interfaces), FEATURES_OK. False (with a note) if the device refused. */
bool dev_begin(struct target *t, uint64_t want);
/* DRIVER_OK; false if the device shows NEEDS_RESET/FAILED or no DRIVER_OK. */
bool dev_ready(struct target *t);
void dev_reset(struct target *t);
uint8_t dev_status(struct target *t);
uint64_t dev_features(struct target *t); /* what dev_begin accepted */
/* Queue q with `size` entries (legacy PCI: the device's own size), rings
 * at base (0: the DMA pool; legacy interfaces need 4 KiB alignment), in
 * the legacy layout, enabled. False if the device refused it. */
bool aq_setup(struct target *t, struct aq *a, unsigned q, uint16_t size, uint64_t base);
/* The bytes the rings of `size` entries take in aq_setup's layout. */
uint64_t aq_bytes(struct target *t, uint16_t size);
uint64_t aq_layout(struct target *t, uint16_t size, uint64_t *avail_off, uint64_t *used_off);
/* A chain of n descriptors from consecutive free slots, NEXT-linked;
 * returns the head. */
struct abuf {
	uint64_t addr;
	uint32_t len;
	bool write;
};
uint16_t aq_chain(struct aq *a, const struct abuf *b, unsigned n);
void aq_publish(struct aq *a, uint16_t head);
void aq_kick(struct aq *a);
/* Wait up to ms for the next used entry: true with *id and *len. */
bool aq_wait(struct aq *a, unsigned ms, uint32_t *id, uint32_t *len);
/* chain + publish + kick + wait, for one request that must come back. */
bool aq_request(struct aq *a, const struct abuf *b, unsigned n, unsigned ms, uint32_t *len);
/* Transport registers the attacks write directly. */
void tq_select(struct target *t, unsigned q);
uint16_t tq_max(struct target *t);     /* of the selected queue */
void tq_num(struct target *t, uint16_t n);
void tq_addrs(struct target *t, uint64_t desc, uint64_t avail, uint64_t used);
void tq_enable(struct target *t, bool on); /* legacy: PFN of the desc address / 0 */
bool tq_enabled(struct target *t);
void mdelay(unsigned ms);

/* The verdict's detail: attacks call note() with a printf format and up to
 * two numbers; the harness prints it in the result line. */
void note(const char *fmt, uint64_t a, uint64_t b);

/* ---- the attack table ---- */
enum {
	A_SLOW = 1,          /* needs a rate-limited rng */
	A_TRANSITIONAL = 2,  /* needs a transitional PCI function */
	A_ONCE = 4,          /* one transport is enough (the first that fits) */
};
#define ALL_TRANSPORTS (TRANSPORT_PCI | TRANSPORT_PCI_LEGACY | TRANSPORT_MMIO | TRANSPORT_MMIO_LEGACY)
#define MODERN_TRANSPORTS (TRANSPORT_PCI | TRANSPORT_MMIO)
struct attack {
	const char *name;
	unsigned type;       /* VIRTIO_ID_* of the target */
	unsigned transports; /* TRANSPORT_* it runs on, once on each */
	unsigned flags;
	/* 0: survived so far (the harness's checks follow); <0: FAILED. */
	int (*run)(struct target *t);
};
/* The attacks, in attack-ring.c and attack-dev.c. */
extern const struct attack ring_attacks[];
extern const unsigned nr_ring_attacks;
extern const struct attack dev_attacks[];
extern const unsigned nr_dev_attacks;
struct attack_table {
	const struct attack *attacks;
	unsigned n;
};

/* Run the attacks of the tables that opt.attack names ("all" or
 * NAME[,NAME...]) against the devices found; prints one line each;
 * returns the failures. main.c hands the tables in, so the harness
 * (attack.c) never calls up into the attacks that call it. */
unsigned attack_main(struct pci_func *funcs, unsigned nfunc, const struct attack_table *tables, unsigned nr_tables);
/* The neighbour a PCI attack moves onto: an interface of another PCI
 * function (legacy or modern). */
struct target *attack_other_pci(const struct target *t, bool legacy);
/* The other interface of a transitional PCI function. */
struct target *attack_twin(const struct target *t);
/* A functional request on t (reset, set up, one request): true if served. */
bool target_works(struct target *t);

#endif
