/* Unit tests of the device core around the virtqueue engine: MSI routes
 * per vector and the notifier table behind a fake KVM (fake-kvm.c), kicks
 * through eventfds and the reactor, two devices of one type, asynchronous
 * requests (out of order, from another thread), a reset racing a request
 * in service, a queue restarted under a held request, and a BAR move
 * racing kicks. */
#include <check.h>
#include "tests/unit/check-run.h"
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <linux/pci_regs.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>

#include "bus/pci.h"
#include "virtio/virtio-pci.h"
#include "virtio/virtio-device.h"
#include "devices/virtio-rng.h"
#include "tests/unit/fake-kvm.h"
#include "kvm/x86/layout.h"
#include "virtqueue/driver.h"
#include "base/reactor.h"
#include "virtio/kvm-platform.h"

#define RAM_SIZE (1u << 20)
#define QSIZE    16

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};
	nanosleep(&ts, NULL);
}

static uint64_t eventfd_take(int fd)
{
	uint64_t count = 0;
	return read(fd, &count, sizeof(count)) == sizeof(count) ? count : 0;
}

/* ---- fake guest RAM and a driver-side queue ---- */

static uint8_t *ram;
static struct guest_mem mem;
static struct fake_kvm fk;

static void setup(void)
{
	ram = aligned_alloc(4096, RAM_SIZE);
	ck_assert_ptr_nonnull(ram);
	memset(ram, 0, RAM_SIZE);
	mem = (struct guest_mem){.region = {{.gpa = 0, .size = RAM_SIZE, .host = ram}}, .nr_regions = 1};
	fake_kvm_init(&fk);
}

static void teardown(void)
{
	free(ram);
}

/* Lay out a split ring at gpa ring_off and start queue q of dev on it. */
static void queue_start(struct virtio_device *dev, unsigned q, struct vqd *d, uint64_t ring_off)
{
	ck_assert_int_eq(vqd_init_split(d, QSIZE, ram + ring_off, ring_off, 0), 0);
	struct virtqueue *vq = &dev->vqs[q];
	pthread_mutex_lock(&dev->lock);
	vq->size = QSIZE;
	vq->desc_addr = d->desc_gpa;
	vq->avail_addr = d->avail_gpa;
	vq->used_addr = d->used_gpa;
	ck_assert_int_eq(virtio_device_enable_queue(dev, q), 0);
	pthread_mutex_unlock(&dev->lock);
}

/* Post one device-writable buffer of len bytes at gpa buf. */
static void post(struct vqd *d, uint64_t buf, uint32_t len, void *token)
{
	struct vqd_buf in = {.addr = buf, .len = len};
	ck_assert_int_eq(vqd_add(d, NULL, 0, &in, 1, token, false), 0);
}

static uint16_t used_idx(const struct vqd *d)
{
	return __atomic_load_n((uint16_t *)d->used + 1, __ATOMIC_ACQUIRE);
}

/* ---- MSI routes ---- */

START_TEST(msi_route_per_vector_no_update_on_fire)
{
	struct irq_routing r;
	struct kvm_vm_ioctl kvm = fake_kvm_ops(&fk);

	ck_assert_int_eq(irq_routing_init(&r, &kvm), 0);
	ck_assert_uint_eq(fk.set_gsi_routing, 1); /* the pins */
	int v0 = irq_msi_route_set(&r, -1, 0xfee00000, 0x41);
	int v1 = irq_msi_route_set(&r, -1, 0xfee01000, 0x42);
	ck_assert_int_eq(v0, 0);
	ck_assert_int_eq(v1, 1);
	ck_assert_uint_eq(fk.set_gsi_routing, 3);
	ck_assert_uint_eq(fk.nr_irqfds, 2);
	ck_assert_uint_eq(fk.irqfd[1].gsi, IRQ_MSI_GSI_BASE + 1);
	ck_assert_uint_eq(fake_kvm_route(&fk, IRQ_MSI_GSI_BASE + 1)->u.msi.data, 0x42);

	/* The fast path: a thousand interrupts, no table update, each one an
	 * eventfd write on the vector's own irqfd. */
	for (int i = 0; i < 1000; i++)
		ck_assert_int_eq(irq_msi_route_fire(&r, v1), 0);
	ck_assert_uint_eq(fk.set_gsi_routing, 3);
	ck_assert_uint_eq(eventfd_take((int)fk.irqfd[1].fd), 1000);
	ck_assert_uint_eq(eventfd_take((int)fk.irqfd[0].fd), 0);

	/* Re-setting the same message costs nothing; a new one one update. */
	ck_assert_int_eq(irq_msi_route_set(&r, v0, 0xfee00000, 0x41), v0);
	ck_assert_uint_eq(fk.set_gsi_routing, 3);
	ck_assert_int_eq(irq_msi_route_set(&r, v0, 0xfee02000, 0x51), v0);
	ck_assert_uint_eq(fk.set_gsi_routing, 4);
	ck_assert_uint_eq(fake_kvm_route(&fk, IRQ_MSI_GSI_BASE)->u.msi.address_lo, 0xfee02000);
	ck_assert_uint_eq(fake_kvm_route(&fk, IRQ_MSI_GSI_BASE)->u.msi.data, 0x51);
	ck_assert_uint_eq(fk.nr_irqfds, 2); /* still the same two irqfds */
	ck_assert_int_eq(irq_msi_route_fire(&r, 7), -EINVAL);
	ck_assert_int_eq(irq_msi_route_set(&r, 7, 0xfee00000, 1), -EINVAL);
	irq_routing_destroy(&r);
}
END_TEST

START_TEST(msi_route_without_irqfd_signals_msi)
{
	struct irq_routing r;
	struct kvm_vm_ioctl kvm = fake_kvm_ops(&fk);

	fk.no_irqfd = true;
	ck_assert_int_eq(irq_routing_init(&r, &kvm), 0);
	int v = irq_msi_route_set(&r, -1, 0xfee00000, 0x33);
	ck_assert_int_eq(v, 0);
	ck_assert_int_eq(irq_msi_route_fire(&r, v), 0);
	ck_assert_uint_eq(fk.signal_msi, 1);
	ck_assert_uint_eq(fk.last_msi.data, 0x33);
	ck_assert_uint_eq(fk.set_gsi_routing, 1); /* the pins still follow the MADT */
	irq_routing_destroy(&r);
}
END_TEST

/* The IRQCHIP pin gsi reaches in the last table, or -1. */
static int routed_pin(unsigned gsi, unsigned irqchip)
{
	int pin = -1;

	for (unsigned i = 0; i < fk.nr_entries; i++)
		if (fk.entry[i].gsi == gsi && fk.entry[i].type == KVM_IRQ_ROUTING_IRQCHIP &&
		    fk.entry[i].u.irqchip.irqchip == irqchip) {
			ck_assert_int_eq(pin, -1); /* one route per chip */
			pin = (int)fk.entry[i].u.irqchip.pin;
		}
	return pin;
}

/* The MADT says ISA IRQ 0 arrives on IOAPIC pin 2: the PIT's GSI 0 must
 * go there, or Linux finds no timer on that pin and falls back to ExtINT
 * (and under load panics: "IO-APIC + timer doesn't work!"). */
START_TEST(timer_reaches_the_ioapic_pin_the_madt_names)
{
	struct irq_routing r;
	struct kvm_vm_ioctl kvm = fake_kvm_ops(&fk);

	ck_assert_int_eq(irq_routing_init(&r, &kvm), 0);
	ck_assert_int_eq(routed_pin(IRQ_TIMER_GSI, KVM_IRQCHIP_IOAPIC), IRQ_TIMER_IOAPIC_PIN);
	ck_assert_int_eq(routed_pin(IRQ_TIMER_GSI, KVM_IRQCHIP_PIC_MASTER), 0);
	ck_assert_int_eq(routed_pin(2, KVM_IRQCHIP_IOAPIC), -1);   /* the cascade: nothing */
	ck_assert_int_eq(routed_pin(2, KVM_IRQCHIP_PIC_MASTER), -1);
	ck_assert_int_eq(routed_pin(IRQ_COM1, KVM_IRQCHIP_IOAPIC), IRQ_COM1);
	ck_assert_int_eq(routed_pin(IRQ_COM1, KVM_IRQCHIP_PIC_MASTER), IRQ_COM1);
	ck_assert_int_eq(routed_pin(IRQ_ACPI_SCI, KVM_IRQCHIP_PIC_SLAVE), IRQ_ACPI_SCI - 8);
	ck_assert_int_eq(routed_pin(23, KVM_IRQCHIP_IOAPIC), 23);
	ck_assert_int_eq(routed_pin(23, KVM_IRQCHIP_PIC_MASTER), -1);
	ck_assert_int_eq(routed_pin(23, KVM_IRQCHIP_PIC_SLAVE), -1);
	irq_routing_destroy(&r);
}
END_TEST

/* One thread fires vector 0 while another keeps reprogramming vector 1:
 * every interrupt of vector 0 arrives on its own irqfd (TSan watches). */
static struct irq_routing race_routing;
static atomic_bool race_stop;

static void *reprogram_vector1(void *arg)
{
	for (uint32_t i = 0; !atomic_load(&race_stop); i++)
		irq_msi_route_set(&race_routing, 1, 0xfee00000, 0x40 + (i & 0xf));
	return NULL;
}

START_TEST(msi_fire_races_reprogramming)
{
	struct kvm_vm_ioctl kvm = fake_kvm_ops(&fk);
	pthread_t t;

	ck_assert_int_eq(irq_routing_init(&race_routing, &kvm), 0);
	ck_assert_int_eq(irq_msi_route_set(&race_routing, -1, 0xfee00000, 0x30), 0);
	ck_assert_int_eq(irq_msi_route_set(&race_routing, -1, 0xfee00000, 0x40), 1);
	atomic_store(&race_stop, false);
	pthread_create(&t, NULL, reprogram_vector1, NULL);
	for (int i = 0; i < 5000; i++)
		ck_assert_int_eq(irq_msi_route_fire(&race_routing, 0), 0);
	atomic_store(&race_stop, true);
	pthread_join(t, NULL);
	ck_assert_uint_eq(eventfd_take((int)fk.irqfd[0].fd), 5000);
	ck_assert_uint_eq(fake_kvm_route(&fk, IRQ_MSI_GSI_BASE)->u.msi.data, 0x30);
	irq_routing_destroy(&race_routing);
}
END_TEST

/* ---- a synchronous fake device, counting what reaches it ---- */

struct count_dev {
	struct virtio_device vdev;
	atomic_uint notified;
};

static bool count_queue_notify(struct virtio_device *dev, unsigned q, unsigned budget)
{
	struct count_dev *cd = dev->priv;
	atomic_fetch_add(&cd->notified, 1);
	return false;
}

static const struct virtio_device_ops count_ops = {
    .type = "count",
    .device_id = VIRTIO_ID_RNG,
    .nr_queues = 1,
    .queue_max_size = QSIZE,
    .queue_notify = count_queue_notify,
};

/* ---- kicks ---- */

START_TEST(exit_kick_signals_eventfd_not_device)
{
	struct count_dev cd;
	struct vqd d;

	virtio_device_init(&cd.vdev, &count_ops, &cd, "count0", &mem);
	atomic_store(&cd.notified, 0);
	queue_start(&cd.vdev, 0, &d, 0x1000);
	cd.vdev.kick_fd[0] = eventfd(0, EFD_NONBLOCK);
	virtio_device_kick(&cd.vdev, 0);
	virtio_device_kick(&cd.vdev, 0);
	virtio_device_kick(&cd.vdev, 5);                 /* no such queue: ignored */
	ck_assert_uint_eq(atomic_load(&cd.notified), 0); /* device code did not run here */
	ck_assert_uint_eq(eventfd_take(cd.vdev.kick_fd[0]), 2);
	/* The reactor's side: serve it. */
	ck_assert(!virtio_device_service(&cd.vdev, 0, 4));
	ck_assert_uint_eq(atomic_load(&cd.notified), 1);
	close(cd.vdev.kick_fd[0]);
}
END_TEST

/* ---- the notifier table ---- */

static struct kvm_platform plat;

struct mover {
	struct virtio_device *dev;
	uint64_t base;
	unsigned rounds;
};

/* A vCPU moving a BAR: drop the old registration, add the new one. */
static void *move_notifier(void *arg)
{
	struct mover *m = arg;
	uint64_t addr = m->base;

	ck_assert_int_eq(plat.ops.notify_add(plat.ops.ctx, false, addr, 2, false, 0, m->dev, 0), 0);
	for (unsigned i = 1; i <= m->rounds; i++) {
		plat.ops.notify_del(plat.ops.ctx, false, addr, 2, false, 0);
		addr = m->base + (i % 4) * 0x1000;
		ck_assert_int_eq(plat.ops.notify_add(plat.ops.ctx, false, addr, 2, false, 0, m->dev, 0), 0);
	}
	return NULL;
}

START_TEST(notifier_table_two_vcpus_move_bars)
{
	struct kvm_vm_ioctl kvm = fake_kvm_ops(&fk);
	struct reactor r;
	struct count_dev a, b;
	pthread_t ta, tb;

	ck_assert_int_eq(reactor_init(&r), 0);
	kvm_platform_init(&plat, &kvm, true, &r, NULL);
	virtio_device_init(&a.vdev, &count_ops, &a, "count0", &mem);
	virtio_device_init(&b.vdev, &count_ops, &b, "count1", &mem);
	ck_assert_int_eq(kvm_platform_attach_queues(&plat, &a.vdev), 0);
	ck_assert_int_eq(kvm_platform_attach_queues(&plat, &b.vdev), 0);
	ck_assert_int_ne(a.vdev.kick_fd[0], b.vdev.kick_fd[0]);

	struct mover ma = {&a.vdev, 0xc0000000, 2000}, mb = {&b.vdev, 0xc1000000, 2000};
	pthread_create(&ta, NULL, move_notifier, &ma);
	pthread_create(&tb, NULL, move_notifier, &mb);
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);
	/* Exactly one registration each, where each BAR ended, on its own fd. */
	ck_assert_uint_eq(fk.errors, 0);
	ck_assert_uint_eq(kvm_platform_notifiers(&plat), 2);
	ck_assert_uint_eq(fake_kvm_ioeventfds(&fk), 2);
	for (unsigned i = 0; i < FAKE_KVM_IOEVENTFDS; i++) {
		const struct fake_ioeventfd *e = &fk.ioeventfd[i];
		if (!e->used)
			continue;
		if (e->addr == 0xc0000000)
			ck_assert_int_eq(e->fd, a.vdev.kick_fd[0]);
		else
			ck_assert(e->addr == 0xc1000000 && e->fd == b.vdev.kick_fd[0]);
	}
	kvm_platform_destroy(&plat);
	ck_assert_uint_eq(fake_kvm_ioeventfds(&fk), 0);
	ck_assert_int_eq(a.vdev.kick_fd[0], -1);
	reactor_destroy(&r);
}
END_TEST

START_TEST(notifier_refused_without_ioeventfd)
{
	struct kvm_vm_ioctl kvm = fake_kvm_ops(&fk);
	struct reactor r;
	struct count_dev a;

	ck_assert_int_eq(reactor_init(&r), 0);
	kvm_platform_init(&plat, &kvm, false, &r, NULL);
	virtio_device_init(&a.vdev, &count_ops, &a, "count0", &mem);
	/* No kick eventfd yet: the write must keep exiting. */
	ck_assert_int_lt(plat.ops.notify_add(plat.ops.ctx, false, 0xc0000000, 2, false, 0, &a.vdev, 0), 0);
	ck_assert_int_eq(kvm_platform_attach_queues(&plat, &a.vdev), 0);
	/* No ioeventfd in this KVM: refused too, so the transport serves exits. */
	ck_assert_int_lt(plat.ops.notify_add(plat.ops.ctx, false, 0xc0000000, 2, false, 0, &a.vdev, 0), 0);
	ck_assert_uint_eq(fake_kvm_ioeventfds(&fk), 0);
	kvm_platform_destroy(&plat);
	reactor_destroy(&r);
}
END_TEST

/* ---- two devices of one type, served by the reactor ---- */

START_TEST(two_rng_devices_on_the_reactor)
{
	struct kvm_vm_ioctl kvm = fake_kvm_ops(&fk);
	struct reactor r;
	struct virtio_rng *rng = calloc(2, sizeof(*rng));
	struct vqd d[2];
	int token[2][4];

	ck_assert_int_eq(reactor_init(&r), 0);
	kvm_platform_init(&plat, &kvm, true, &r, NULL);
	virtio_rng_init(&rng[0], "virtio-rng0", &mem, 0);
	virtio_rng_init(&rng[1], "virtio-rng1", &mem, 0);
	for (unsigned i = 0; i < 2; i++) {
		ck_assert_int_eq(kvm_platform_attach_queues(&plat, &rng[i].vdev), 0);
		queue_start(&rng[i].vdev, 0, &d[i], 0x10000 + i * 0x10000);
		for (unsigned k = 0; k < 4; k++)
			post(&d[i], 0x40000 + i * 0x10000 + k * 0x100, 64, &token[i][k]);
	}
	ck_assert_str_ne(rng[0].vdev.name, rng[1].vdev.name);
	ck_assert_int_eq(reactor_start(&r), 0);
	virtio_device_kick(&rng[0].vdev, 0); /* as from a vCPU exit */
	virtio_device_kick(&rng[1].vdev, 0);
	for (int wait = 0; wait < 2000 && (used_idx(&d[0]) < 4 || used_idx(&d[1]) < 4); wait++)
		sleep_ms(1);
	reactor_stop(&r);
	for (unsigned i = 0; i < 2; i++) {
		uint32_t len;
		for (unsigned k = 0; k < 4; k++) {
			ck_assert_ptr_eq(vqd_get_used(&d[i], &len), &token[i][k]);
			ck_assert_uint_eq(len, 64);
		}
		/* Random bytes, not the zeroes the RAM started with. */
		static const uint8_t zero[64];
		ck_assert(memcmp(ram + 0x40000 + i * 0x10000, zero, 64) != 0);
	}
	kvm_platform_destroy(&plat);
	reactor_destroy(&r);
	free(rng);
}
END_TEST

/* ---- an asynchronous fake device: a worker thread completes requests ---- */

#define ASYNC_MAX 8

struct async_dev {
	struct virtio_device vdev;
	pthread_mutex_t lock; /* nests inside vdev.lock */
	pthread_cond_t cond;
	struct virtio_request req[ASYNC_MAX];
	unsigned nreq;
	atomic_bool completed;
	unsigned delay_ms;
	bool reverse; /* complete in reverse order */
};

static bool async_queue_notify(struct virtio_device *dev, unsigned q, unsigned budget)
{
	struct async_dev *ad = dev->priv;

	pthread_mutex_lock(&ad->lock);
	while (ad->nreq < ASYNC_MAX && virtio_request_pop(dev, q, &ad->req[ad->nreq]) == 1)
		ad->nreq++;
	pthread_cond_broadcast(&ad->cond);
	pthread_mutex_unlock(&ad->lock);
	return false;
}

static const struct virtio_device_ops async_ops = {
    .type = "async",
    .device_id = VIRTIO_ID_BLOCK,
    .nr_queues = 1,
    .queue_max_size = QSIZE,
    .queue_notify = async_queue_notify,
};

/* Wait for `want` requests, then finish them (writing i+1 bytes of 0x5a
 * through the iovec view into request i) without any device lock held. */
struct worker_arg {
	struct async_dev *ad;
	unsigned want;
};

static void *async_worker(void *arg)
{
	struct worker_arg *wa = arg;
	struct async_dev *ad = wa->ad;
	struct virtio_request req[ASYNC_MAX];

	pthread_mutex_lock(&ad->lock);
	while (ad->nreq < wa->want)
		pthread_cond_wait(&ad->cond, &ad->lock);
	memcpy(req, ad->req, sizeof(req));
	ad->nreq = 0;
	pthread_mutex_unlock(&ad->lock);

	sleep_ms(ad->delay_ms);
	for (unsigned n = 0; n < wa->want; n++) {
		unsigned i = ad->reverse ? wa->want - 1 - n : n;
		struct iovec iov[4];
		ck_assert_int_eq(virtio_request_iov(&req[i], true, iov, 4), 1);
		memset(iov[0].iov_base, 0x5a, i + 1); /* straight into guest RAM */
		if (n == wa->want - 1)
			atomic_store(&ad->completed, true);
		virtio_request_complete(&req[i], i + 1);
	}
	return NULL;
}

static void async_init(struct async_dev *ad)
{
	memset(ad, 0, sizeof(*ad));
	pthread_mutex_init(&ad->lock, NULL);
	pthread_cond_init(&ad->cond, NULL);
	virtio_device_init(&ad->vdev, &async_ops, ad, "async0", &mem);
}

START_TEST(requests_complete_out_of_order_from_another_thread)
{
	struct async_dev *ad = malloc(sizeof(*ad));
	struct worker_arg wa = {ad, 3};
	struct vqd d;
	int token[3];
	pthread_t t;
	uint32_t len;

	async_init(ad);
	ad->reverse = true;
	queue_start(&ad->vdev, 0, &d, 0x1000);
	for (unsigned i = 0; i < 3; i++)
		post(&d, 0x40000 + i * 0x100, 64, &token[i]);
	pthread_create(&t, NULL, async_worker, &wa);
	virtio_device_kick(&ad->vdev, 0); /* no kick eventfd: served inline */
	pthread_join(t, NULL);
	ck_assert_uint_eq(ad->vdev.inflight, 0);
	for (int i = 2; i >= 0; i--) {
		ck_assert_ptr_eq(vqd_get_used(&d, &len), &token[i]);
		ck_assert_uint_eq(len, (uint32_t)i + 1);
		ck_assert_uint_eq(ram[0x40000 + i * 0x100 + i], 0x5a);
	}
	ck_assert_ptr_null(vqd_get_used(&d, &len));
	free(ad);
}
END_TEST

/* The driver resets the device while a request is being served: the
 * reset returns only after the request finished, and the finished request
 * does not land in the forgotten ring. With disable_first the driver
 * stopped the queue before: the request is void already, but its
 * buffers may still be written, so the reset waits for it all the same. */
static void reset_waits_for_worker(bool disable_first)
{
	struct async_dev *ad = malloc(sizeof(*ad));
	struct worker_arg wa = {ad, 1};
	struct vqd d;
	int token;
	pthread_t t;

	async_init(ad);
	ad->delay_ms = 50;
	queue_start(&ad->vdev, 0, &d, 0x1000);
	post(&d, 0x40000, 64, &token);
	pthread_create(&t, NULL, async_worker, &wa);
	virtio_device_kick(&ad->vdev, 0);
	pthread_mutex_lock(&ad->vdev.lock);
	ck_assert_uint_eq(ad->vdev.inflight, 1);
	if (disable_first)
		virtio_device_disable_queue(&ad->vdev, 0);
	virtio_device_reset(&ad->vdev);         /* as from a status write of 0 */
	ck_assert(atomic_load(&ad->completed)); /* it waited for the worker */
	ck_assert_uint_eq(ad->vdev.inflight, 0);
	ck_assert(!ad->vdev.vqs[0].ready);
	pthread_mutex_unlock(&ad->vdev.lock);
	pthread_join(t, NULL);
	ck_assert_uint_eq(used_idx(&d), 0); /* the stale completion was dropped */
	free(ad);
}

START_TEST(reset_waits_for_request_in_service) { reset_waits_for_worker(false); }
END_TEST

START_TEST(reset_waits_for_request_voided_by_disable) { reset_waits_for_worker(true); }
END_TEST

/* The driver stops the queue (MMIO QueueReady=0, PFN=0) while the device
 * holds a request, and starts it on new rings: the request belongs to
 * the old rings, so its completion is dropped as after a reset. */
START_TEST(disable_drops_request_held_across_restart)
{
	struct async_dev *ad = malloc(sizeof(*ad));
	struct vqd old, fresh;
	int token[2];
	uint32_t len;

	async_init(ad);
	queue_start(&ad->vdev, 0, &old, 0x1000);
	post(&old, 0x40000, 64, &token[0]);
	virtio_device_kick(&ad->vdev, 0);
	ck_assert_uint_eq(ad->nreq, 1);
	pthread_mutex_lock(&ad->vdev.lock);
	virtio_device_disable_queue(&ad->vdev, 0);
	pthread_mutex_unlock(&ad->vdev.lock);
	queue_start(&ad->vdev, 0, &fresh, 0x8000);
	post(&fresh, 0x50000, 64, &token[1]);
	virtio_device_kick(&ad->vdev, 0);
	ck_assert_uint_eq(ad->nreq, 2);

	virtio_request_complete(&ad->req[0], 1); /* the stale one */
	ck_assert_uint_eq(used_idx(&fresh), 0);
	ck_assert_uint_eq(used_idx(&old), 0);
	virtio_request_complete(&ad->req[1], 2);
	ck_assert_ptr_eq(vqd_get_used(&fresh, &len), &token[1]);
	ck_assert_uint_eq(len, 2);
	ck_assert_ptr_null(vqd_get_used(&fresh, &len));
	ck_assert_uint_eq(ad->vdev.inflight, 0);
	ck_assert_uint_eq(ad->vdev.status & VIRTIO_CONFIG_S_NEEDS_RESET, 0);
	free(ad);
}
END_TEST

/* ---- a BAR move racing kicks, through virtio-pci and the PCI host ---- */

static struct virtio_pci *race_vp;
static atomic_bool mover_stop;

static void *move_modern_bar(void *arg)
{
	uint32_t *final = arg;
	uint32_t base = pci_config_read(&race_vp->pci, PCI_BASE_ADDRESS_4, 4) & ~0xfu;

	for (unsigned i = 1; !atomic_load(&mover_stop) || i % 2; i++) {
		*final = base + (i % 2) * 0x100000;
		pci_config_write(&race_vp->pci, PCI_BASE_ADDRESS_4, 4, *final);
	}
	return NULL;
}

START_TEST(bar_move_races_kicks)
{
	struct kvm_vm_ioctl kvm = fake_kvm_ops(&fk);
	struct reactor r;
	struct irq_routing routing;
	struct pci_host *host = calloc(1, sizeof(*host));
	struct bus pio, mmio;
	struct virtio_rng *rng = calloc(1, sizeof(*rng));
	pthread_t t;
	uint32_t final = 0;

	race_vp = calloc(1, sizeof(*race_vp));
	bus_init(&pio, "pio");
	bus_init(&mmio, "mmio");
	ck_assert_int_eq(reactor_init(&r), 0);
	ck_assert_int_eq(irq_routing_init(&routing, &kvm), 0);
	kvm_platform_init(&plat, &kvm, true, &r, &routing);
	ck_assert_int_eq(pci_host_init(host, &pio, &mmio, NULL, NULL), 0);
	virtio_rng_init(rng, "virtio-rng0", &mem, 0);
	ck_assert_int_eq(kvm_platform_attach_queues(&plat, &rng->vdev), 0);
	ck_assert_int_eq(virtio_pci_create(race_vp, &rng->vdev, VIRTIO_PCI_TRANSITIONAL, host, &plat.ops), 0);
	ck_assert_uint_eq(fake_kvm_ioeventfds(&fk), 2); /* modern notify + legacy port */
	ck_assert_int_eq(reactor_start(&r), 0);

	atomic_store(&mover_stop, false);
	pthread_create(&t, NULL, move_modern_bar, &final);
	for (int i = 0; i < 20000; i++)
		virtio_device_kick(&rng->vdev, 0); /* an exit: signals the eventfd */
	atomic_store(&mover_stop, true);
	pthread_join(t, NULL);
	reactor_stop(&r);

	/* No leaked, duplicated or stale registration: one at the BAR's final
	 * place, one on the legacy port. */
	ck_assert_uint_eq(fk.errors, 0);
	ck_assert_uint_eq(fake_kvm_ioeventfds(&fk), 2);
	bool found = false;
	for (unsigned i = 0; i < FAKE_KVM_IOEVENTFDS; i++)
		if (fk.ioeventfd[i].used && !fk.ioeventfd[i].pio)
			found = fk.ioeventfd[i].addr == final + VIRTIO_PCI_NOTIFY_OFFSET &&
			        fk.ioeventfd[i].fd == rng->vdev.kick_fd[0];
	ck_assert(found);
	virtio_pci_destroy(race_vp);
	ck_assert_uint_eq(fake_kvm_ioeventfds(&fk), 0);
	kvm_platform_destroy(&plat);
	irq_routing_destroy(&routing);
	reactor_destroy(&r);
	free(race_vp);
	free(rng);
	free(host);
}
END_TEST

/* ---- limits ---- */

static const struct virtio_device_ops many_ops = {
    .type = "many",
    .device_id = VIRTIO_ID_NET,
    .nr_queues = VIRTIO_MAX_QUEUES,
    .queue_max_size = QSIZE,
    .queue_notify = count_queue_notify,
};

START_TEST(device_with_max_queues_on_pci)
{
	struct pci_host *host = calloc(1, sizeof(*host));
	struct virtio_pci *vp = calloc(1, sizeof(*vp));
	struct count_dev *cd = calloc(1, sizeof(*cd));
	struct bus pio, mmio;

	bus_init(&pio, "pio");
	bus_init(&mmio, "mmio");
	ck_assert_int_eq(pci_host_init(host, &pio, &mmio, NULL, NULL), 0);
	virtio_device_init(&cd->vdev, &many_ops, cd, "many0", &mem);
	ck_assert_int_eq(virtio_pci_create(vp, &cd->vdev, VIRTIO_PCI_MODERN, host, NULL), 0);
	/* More queues than MSI-X vectors: the table is full, the driver shares. */
	ck_assert_uint_eq(vp->msix.nr_vectors, PCI_MSIX_MAX_VECTORS);
	ck_assert_str_eq(cd->vdev.vqs[VIRTIO_MAX_QUEUES - 1].name, "many0.q63");
	virtio_pci_destroy(vp);
	free(cd);
	free(vp);
	free(host);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("device-core");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, msi_route_per_vector_no_update_on_fire);
	tcase_add_test(tc, msi_route_without_irqfd_signals_msi);
	tcase_add_test(tc, timer_reaches_the_ioapic_pin_the_madt_names);
	tcase_add_test(tc, msi_fire_races_reprogramming);
	tcase_add_test(tc, exit_kick_signals_eventfd_not_device);
	tcase_add_test(tc, notifier_table_two_vcpus_move_bars);
	tcase_add_test(tc, notifier_refused_without_ioeventfd);
	tcase_add_test(tc, two_rng_devices_on_the_reactor);
	tcase_add_test(tc, requests_complete_out_of_order_from_another_thread);
	tcase_add_test(tc, reset_waits_for_request_in_service);
	tcase_add_test(tc, disable_drops_request_held_across_restart);
	tcase_add_test(tc, reset_waits_for_request_voided_by_disable);
	tcase_add_test(tc, bar_move_races_kicks);
	tcase_add_test(tc, device_with_max_queues_on_pci);
	suite_add_tcase(s, tc);
	return check_run_suite(s);
}
