/* Device callbacks deferred until host->lock is dropped. See pci-pending.h. */
#include "bus/pci-pending.h"

#include <string.h>

void pci_pending_init(struct pci_pending *p, struct pci_device *dev)
{
	p->dev = dev;
	p->msix_changed = p->msix_deliver = 0;
	memset(p->bars_changed, 0, sizeof(p->bars_changed));
}

void pci_pending_run(struct pci_pending *p)
{
	for (unsigned s = 0; s < PCI_MAX_SLOTS; s++) {
		struct pci_device *dev = p->bar_dev[s];
		for (unsigned i = 0; i < PCI_NR_BARS; i++) {
			if ((p->bars_changed[s] & (1u << i)) && dev->bar_changed)
				dev->bar_changed(dev, i, p->bar_state[s][i].mapped, p->bar_state[s][i].addr);
		}
	}
	struct pci_msix *msix = p->dev ? p->dev->msix : NULL;
	if (!msix)
		return;
	/* Routing first, so a delivered message finds it up to date. */
	for (unsigned v = 0; v < msix->nr_vectors; v++) {
		if ((p->msix_changed >> v & 1) && msix->changed)
			msix->changed(msix->ctx, v);
	}
	for (unsigned v = 0; v < msix->nr_vectors; v++) {
		if ((p->msix_deliver >> v & 1) && msix->deliver)
			msix->deliver(msix->ctx, v, p->msix_addr[v], p->msix_data[v]);
	}
}
