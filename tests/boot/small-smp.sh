#!/bin/bash
# The small kernel on 2 vCPUs: SMP bring-up, the extended-state canary and
# the exec loop with processes on both CPUs, and the transitional PCI rng
# driven through its legacy interface (virtio_pci.force_legacy=1) next to
# a virtio-mmio one; and a virtio-blk disk on transitional PCI, also driven
# as legacy, with two request queues (MQ: two vCPUs, so Linux uses both):
# ext4 made on the host, read and written by the guest, checked with
# debugfs and e2fsck.
. "$(dirname "$0")/lib.sh"
require_kvm
require_file "$SMALL_KERNEL"
require_file "$INITRAMFS"

work=$(mktemp -d "$LOG_DIR/small-smp.XXXXXX")
trap 'rm -rf "$work"' EXIT
blk_make_fs "$work/fs-fl.img" 32
boot 2cpu 1800 --kernel "$SMALL_KERNEL" --initrd "$INITRAMFS" --cpus 2 \
	--cmdline "skiff.test=virtio,rng,blk,xstate,exec virtio_pci.force_legacy=1" \
	--device rng,transport=pci --device rng,transport=mmio \
	--device "blk,path=$work/fs-fl.img,serial=fs-force-legacy,transport=pci,queues=2"
check "kernel brought up 2 CPUs" log_has 'smp: Brought up 1 node, 2 CPUs'
check "banner reports 2 CPUs" log_has 'skiff-guest: init reached after .* s (uptime), 2 CPUs'
expect_checks virtio rng blk xstate exec
check "force_legacy: transitional PCI driven as legacy" device_is virtio_rng legacy '.*/0000:00:01.0'
check "virtio-mmio v2 bound, modern" device_is virtio_rng modern '.*/LNRO0005:00'
check "force_legacy: the transitional PCI disk (00:02.0) driven as legacy" device_is virtio_blk legacy '.*/0000:00:02.0'
check "the disk uses 2 request queues (MQ)" log_has 'virtio_blk virtio[0-9]*: 2/0/0 default/read/poll queues'
disk_check_fs blk "$work/fs-fl.img" fs-force-legacy "$blk_hello_sha"
check "exit status 0" status_is 0
finish
