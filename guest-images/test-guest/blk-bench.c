/* blk-bench=MS: a virtio-blk benchmark from inside the guest (the same
 * PVH file under skiff and QEMU). Ring 0 sets the device up and times the
 * TSC against the CMOS clock; the request loop runs in ring 3 (section
 * .user.text), natively even on a software-KVM host, polling the used
 * ring: 4 KiB random reads at queue depth 1 and 32, 1 MiB sequential
 * reads and writes at depth 1. One line per figure:
 *   virtio-blk <transport> <where>: <test> <N> IOPS|MB/s (<requests> requests) */
#include "trap.h"
#include "virtio.h"

#define BENCH_QSIZE 128
#define MAX_QD      32

/* Data buffers: 32 x 4 KiB or 1 x 1 MiB. Not from dma_alloc(), which
 * zeroes in ring 0 (emulated on a software-KVM host: seconds for 2 MiB). */
static uint8_t bench_data[2u << 20] __attribute__((aligned(4096), section(".user.bss")));

struct blk_hdr {
	uint32_t type, ioprio;
	uint64_t sector;
};

struct blk_job {
	struct vqd *vqd;
	struct vnotify notify;
	unsigned qd;
	uint32_t bs;
	bool write, random;
	uint64_t sectors;       /* capacity */
	uint64_t run_cycles;    /* stop submitting after this long */
	uint64_t timeout_cycles;
	struct blk_hdr *hdr;    /* qd headers */
	uint8_t *status;        /* qd status bytes */
	uint8_t *data;          /* qd * bs */
	uint64_t rng, next;
	/* results */
	uint64_t done, cycles;
	unsigned bad_status;
	int error;              /* 0; -1 timeout; -2 wrong token; -3 ring full */
};

/* Put request slot i on the ring. */
__attribute__((section(".user.text"))) static int u_submit(struct blk_job *j, unsigned i)
{
	uint64_t blocks = j->sectors / (j->bs / 512);
	uint64_t blk;
	if (j->random) {
		j->rng ^= j->rng << 13;
		j->rng ^= j->rng >> 7;
		j->rng ^= j->rng << 17;
		blk = j->rng % blocks;
	} else {
		blk = j->next++ % blocks;
	}
	j->hdr[i] = (struct blk_hdr){.type = j->write ? 1 : 0, .ioprio = 0, .sector = blk * (j->bs / 512)};
	j->status[i] = 0xff;
	struct vqd_buf h = {(uint64_t)(uintptr_t)&j->hdr[i], sizeof(struct blk_hdr)};
	struct vqd_buf d = {(uint64_t)(uintptr_t)(j->data + (uint64_t)i * j->bs), j->bs};
	struct vqd_buf s = {(uint64_t)(uintptr_t)&j->status[i], 1};
	struct vqd_buf out[2] = {h, d}, in[2] = {d, s};
	return j->write ? vqd_add(j->vqd, out, 2, &s, 1, &j->hdr[i], false)
			: vqd_add(j->vqd, &h, 1, in, 2, &j->hdr[i], false);
}

__attribute__((section(".user.text"))) long blk_user_run(void *arg)
{
	struct blk_job *j = arg;
	uint64_t start = u_rdtsc(), last = start;
	unsigned inflight = 0;

	for (unsigned i = 0; i < j->qd; i++) {
		if (u_submit(j, i) < 0)
			return j->error = -3;
		inflight++;
	}
	if (vqd_kick_needed(j->vqd))
		vnotify_kick(&j->notify);
	while (inflight) {
		uint32_t len;
		struct blk_hdr *tok = vqd_get_used(j->vqd, &len);
		if (!tok) {
			if (j->vqd->broken)
				return j->error = -2;
			__asm__ volatile("pause");
			if (u_rdtsc() - last > j->timeout_cycles)
				return j->error = -1;
			continue;
		}
		last = u_rdtsc();
		unsigned i = (unsigned)(tok - j->hdr);
		if (i >= j->qd)
			return j->error = -2;
		if (j->status[i] != 0)
			j->bad_status++;
		j->done++;
		inflight--;
		if (last - start < j->run_cycles) {
			if (u_submit(j, i) < 0)
				return j->error = -3;
			inflight++;
			if (vqd_kick_needed(j->vqd))
				vnotify_kick(&j->notify);
		}
	}
	j->cycles = u_rdtsc() - start;
	return 0;
}

/* TSC ticks per second against the CMOS clock's seconds (two edges). */
uint64_t tsc_hz(void)
{
	static uint64_t hz;
	if (hz)
		return hz;
	uint8_t s;
	outb(0x70, 0);
	s = inb(0x71);
	do {
		outb(0x70, 0);
	} while (inb(0x71) == s);
	uint64_t t0 = rdtsc();
	outb(0x70, 0);
	s = inb(0x71);
	do {
		outb(0x70, 0);
	} while (inb(0x71) == s);
	hz = rdtsc() - t0;
	return hz;
}

static uint32_t devcfg_read32(struct vdev *d, unsigned off)
{
	if (d->transport == TRANSPORT_PCI)
		return mmio_read32(d->devcfg + off);
	return mmio_read32(d->mmio + 0x100 + off); /* virtio-mmio config space */
}

bool virtio_blk_bench(struct vdev *d)
{
	static const struct {
		const char *name;
		uint32_t bs;
		unsigned qd;
		bool write, random, mbps;
	} tests[] = {
		{"4k-randread-qd1", 4096, 1, false, true, false},
		{"4k-randread-qd32", 4096, 32, false, true, false},
		{"1m-seqread-qd1", 1u << 20, 1, false, false, true},
		{"1m-seqwrite-qd1", 1u << 20, 1, true, false, true},
	};
	struct vqueue rq;
	bool ok = true;

	d->kind = "virtio-blk";
	if (d->transport != TRANSPORT_PCI && d->transport != TRANSPORT_MMIO) {
		printf("virtio-blk %s %s: skipped (the benchmark drives modern devices)\n", transport_name(d->transport),
		       d->where);
		return true;
	}
	uint64_t hz = tsc_hz();
	if (!virtio_queue_init(d, 0, BENCH_QSIZE, &rq))
		return false;
	uint64_t sectors = devcfg_read32(d, 0) | (uint64_t)devcfg_read32(d, 4) << 32;
	struct blk_job *j = dma_alloc(sizeof(*j), 64);
	struct blk_hdr *hdr = dma_alloc(MAX_QD * sizeof(*hdr), 16);
	uint8_t *status = dma_alloc(MAX_QD, 16);
	uint8_t *data = bench_data;
	if (!j || !hdr || !status || !data || sectors < 4096) {
		printf("virtio-blk %s %s: FAIL no DMA memory or a disk under 2 MiB (%lu sectors)\n",
		       transport_name(d->transport), d->where, sectors);
		d->ops->set_status(d, 0);
		return false;
	}
	printf("virtio-blk %s %s: %lu sectors, TSC %lu MHz, %u ms a figure\n", transport_name(d->transport), d->where,
	       sectors, hz / 1000000, opt.bench_ms);
	for (unsigned t = 0; t < sizeof(tests) / sizeof(tests[0]) && ok; t++) {
		memset(j, 0, sizeof(*j));
		j->vqd = rq.vqd;
		d->ops->queue_notify(d, 0, &j->notify);
		j->qd = tests[t].qd;
		j->bs = tests[t].bs;
		j->write = tests[t].write;
		j->random = tests[t].random;
		j->sectors = sectors;
		j->run_cycles = hz / 1000 * opt.bench_ms;
		j->timeout_cycles = hz * 10;
		j->hdr = hdr, j->status = status, j->data = data;
		j->rng = 0x9e3779b97f4a7c15ull + t;
		long r = user_call(blk_user_run, j);
		if (r != 0 || j->bad_status) {
			printf("virtio-blk %s %s: FAIL %s: error %ld, %u bad status bytes\n", transport_name(d->transport),
			       d->where, tests[t].name, r, j->bad_status);
			ok = false;
			break;
		}
		uint64_t per_sec = j->done * hz / (j->cycles ? j->cycles : 1);
		if (tests[t].mbps)
			printf("virtio-blk %s %s: %s %lu MB/s (%lu requests)\n", transport_name(d->transport), d->where,
			       tests[t].name, per_sec * tests[t].bs / 1000000, j->done);
		else
			printf("virtio-blk %s %s: %s %lu IOPS (%lu requests)\n", transport_name(d->transport), d->where,
			       tests[t].name, per_sec, j->done);
	}
	d->ops->set_status(d, 0);
	if (ok)
		result_pass();
	else
		result_fail();
	return ok;
}
