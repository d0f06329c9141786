#!/bin/bash
# The small kernel on 2 vCPUs: SMP bring-up, the extended-state canary and
# the exec loop with processes on both CPUs, and the transitional PCI rng
# driven through its legacy interface (virtio_pci.force_legacy=1) next to
# a virtio-mmio one.
. "$(dirname "$0")/lib.sh"
require_kvm
require_file "$SMALL_KERNEL"
require_file "$INITRAMFS"

boot 2cpu 1800 --kernel "$SMALL_KERNEL" --initrd "$INITRAMFS" --cpus 2 \
	--cmdline "skiff.test=virtio,rng,xstate,exec virtio_pci.force_legacy=1" \
	--device rng,transport=pci --device rng,transport=mmio
check "kernel brought up 2 CPUs" log_has 'smp: Brought up 1 node, 2 CPUs'
check "banner reports 2 CPUs" log_has 'skiff-guest: init reached after .* s (uptime), 2 CPUs'
expect_checks virtio rng xstate exec
check "force_legacy: transitional PCI driven as legacy" device_is virtio_rng legacy '.*/0000:00:01.0'
check "virtio-mmio v2 bound, modern" device_is virtio_rng modern '.*/LNRO0005:00'
check "exit status 0" status_is 0
finish
