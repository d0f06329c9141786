/* A virtio PCI function's state and the layout of its BARs: what the
 * transport (virtio-pci.c: building the function, interrupts, ioeventfds)
 * and its register files (virtio-pci-regs.c) both use. The register
 * files never call into virtio-pci.c, so this sits below both. */
#ifndef SKIFF_VIRTIO_PCI_LAYOUT_H
#define SKIFF_VIRTIO_PCI_LAYOUT_H

#include <linux/virtio_pci.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "bus/pci.h"
#include "virtio/platform.h"
#include "virtio/virtio-device.h"

enum virtio_pci_mode {
	VIRTIO_PCI_MODERN,
	VIRTIO_PCI_TRANSITIONAL,
	VIRTIO_PCI_LEGACY,
};

/* BAR numbers and the layout of the modern BAR (also used by tests). */
#define VIRTIO_PCI_LEGACY_BAR      0
#define VIRTIO_PCI_MSIX_BAR        1
#define VIRTIO_PCI_MODERN_BAR      4
#define VIRTIO_PCI_MODERN_BAR_SIZE 0x4000
#define VIRTIO_PCI_COMMON_OFFSET   0x0000
#define VIRTIO_PCI_ISR_OFFSET      0x1000
#define VIRTIO_PCI_DEVICE_OFFSET   0x2000
#define VIRTIO_PCI_NOTIFY_OFFSET   0x3000
#define VIRTIO_PCI_NOTIFY_MULTIPLIER 4
#define VIRTIO_PCI_MSIX_TABLE_OFFSET 0x000
#define VIRTIO_PCI_MSIX_PBA_OFFSET   0x800
#define VIRTIO_PCI_MSIX_BAR_SIZE     0x1000
/* Device config beyond this would not fit the legacy I/O BAR (256 bytes)
 * or the modern device-config window. */
#define VIRTIO_PCI_MAX_CONFIG      (256 - 24)

/* One queue's notify register, as registered with the platform. */
struct virtio_pci_notifier {
	bool registered;     /* notify_add() succeeded: must notify_del() */
};

/* An MSI-X vector's route (see struct virtio_platform.msi_route_set). */
struct virtio_pci_msi_route {
	int route;           /* -1 until the vector is first delivered or programmed */
	uint64_t address;
	uint32_t data;
};

/* Where a BAR's notify registers are registered with the platform. */
struct virtio_pci_notify_bar {
	bool registered;
	uint64_t addr;       /* BAR address at registration */
	struct virtio_pci_notifier queue[VIRTIO_MAX_QUEUES];
};

struct virtio_pci {
	struct pci_device pci;
	struct pci_msix msix;
	struct virtio_device *dev;
	enum virtio_pci_mode mode;
	const struct virtio_platform *plat;

	/* Transport registers (guarded by dev->lock). */
	uint32_t device_feature_select, driver_feature_select;
	uint16_t queue_select;
	uint16_t config_vector;                      /* msix_config */
	uint16_t queue_vector[VIRTIO_MAX_QUEUES];    /* queue_msix_vector */
	uint8_t isr;                                 /* bit 0 queue, bit 1 config */
	bool intx;                                   /* level we drive on INTA */

	/* ioeventfd registrations follow the BARs (guarded by notify_lock). */
	pthread_mutex_t notify_lock;
	struct virtio_pci_notify_bar modern_notify, legacy_notify;

	/* One MSI route per vector (guarded by msi_lock; taken on the
	 * interrupt path only when a vector changed). */
	pthread_mutex_t msi_lock;
	struct virtio_pci_msi_route msi_route[PCI_MSIX_MAX_VECTORS];
};

/* The legacy header and the modern BAR's structures. */
#define LEGACY_HEADER_SIZE            20      /* up to the ISR; MSI-X adds 4 */
#define LEGACY_HEADER_SIZE_MSIX       24
#define MODERN_REGION_SIZE            0x1000  /* each structure owns 4 KiB of the BAR */
#define COMMON_CFG_LENGTH             (VIRTIO_PCI_COMMON_Q_RESET + 2)

#endif
