#!/bin/bash
# Every device type on every transport (pci, pci-legacy, pci-modern, mmio,
# mmio-legacy) under the unmodified Debian cloud kernel and its own
# modules, in two boots (the machine has 9 virtio-mmio slots, and each
# boot uses 6 of them):
#   storage  rng, blk and scsi (a controller with one disk) on each
#            transport: 16 bytes from every hwrng; an ext4 disk on every
#            blk and every scsi device, read and written by the guest and
#            checked by the host (debugfs, e2fsck); with --poll, so the
#            reactor polls those request queues and every driver runs
#            with its kicks turned off while it does (small-blk.sh and
#            small-scsi.sh run the same drivers without)
#   ports    net (backend=user), console and balloon on each transport: a
#            DHCP lease from slirp on every NIC, a line through every
#            console port into its file on the host, every balloon bound
# Each device must be bound to its driver, in the mode its transport
# implies (legacy on pci-legacy and mmio-legacy, modern elsewhere), at the
# place skiff put it (PCI slot, or ACPI LNRO0005 for virtio-mmio).
# On software-KVM hosts a Debian boot takes ~10 minutes: there the small
# kernel (the same drivers, built in) runs the same devices and checks.
. "$(dirname "$0")/lib.sh"
require_kvm
require_file "$SMALL_KERNEL"
command -v mkfs.ext4 >/dev/null && command -v debugfs >/dev/null || skip_or_fail "e2fsprogs missing"

if [ "$SKIFF_BOOT_HOST" = software ]; then
	kernel=$SMALL_KERNEL initrd=$INITRAMFS
	echo "software-KVM host: the small kernel stands in for the Debian kernel"
else
	require_file "$DEBIAN_VMLINUX"
	require_file "$SKIFF_CACHE/initramfs-debian.cpio"
	kernel=$DEBIAN_VMLINUX initrd=$SKIFF_CACHE/initramfs-debian.cpio
fi

work=$(mktemp -d "$LOG_DIR/all-transports.XXXXXX")
trap 'rm -rf "$work"' EXIT
# modules MODULE...: the kernel command line word that loads them (the
# Debian kernel; the small kernel has its drivers built in).
modules() {
	[ "$kernel" = "$SMALL_KERNEL" ] || (IFS=,; echo "skiff.modules=virtio_pci,virtio_mmio,$*")
}

transports=(pci pci-legacy pci-modern mmio mmio-legacy)
declare -A mode=([pci]=modern [pci-legacy]=legacy [pci-modern]=modern [mmio]=modern [mmio-legacy]=legacy)

# Where skiff puts the devices: PCI functions in slot order from 00:01.0,
# virtio-mmio devices in ACPI order from LNRO0005:00, each in the order
# of the --device options.
devices=() expect=() pci_slot=1 mmio_slot=0
add_device() { # DRIVER TRANSPORT --device SPEC: one device, and where it must show
	local driver=$1 t=$2 at
	if [ "${t%%-*}" = pci ]; then
		at=$(printf '.*/0000:00:%02x.0' "$pci_slot")
		pci_slot=$((pci_slot + 1))
	else
		at=$(printf '.*/LNRO0005:%02x' "$mmio_slot")
		mmio_slot=$((mmio_slot + 1))
	fi
	devices+=(--device "$3")
	expect+=("$driver $t $at")
}
devices_bound() { # every device added since the last call, bound as expected
	local e driver t at
	for e in "${expect[@]}"; do
		read -r driver t at <<<"$e"
		check "$driver on $t bound, ${mode[$t]}" device_is "$driver" "${mode[$t]}" "$at"
	done
	devices=() expect=() pci_slot=1 mmio_slot=0
}

declare -A sha
for t in "${transports[@]}"; do
	blk_make_fs "$work/blk-$t.img" 16;  sha[blk-$t]=$blk_hello_sha
	blk_make_fs "$work/scsi-$t.img" 16; sha[scsi-$t]=$blk_hello_sha
	add_device virtio_rng "$t" "rng,transport=$t"
	add_device virtio_blk "$t" "blk,path=$work/blk-$t.img,serial=fs-blk-$t,transport=$t"
	add_device virtio_scsi "$t" "scsi,transport=$t"
	devices+=(--device "scsi,path=$work/scsi-$t.img,serial=fs-scsi-$t")
done
boot storage 3000 --poll 50 --kernel "$kernel" --initrd "$initrd" --cmdline "skiff.test=virtio,rng,blk,scsi:5" \
	--cmdline "$(modules virtio_rng virtio_blk virtio_scsi sd_mod)" "${devices[@]}"
devices_bound
expect_checks virtio rng blk scsi
check "rng: 5 hwrngs answered" log_has 'skiff-check: rng ok: 5 hwrngs'
for t in "${transports[@]}"; do
	disk_check_fs blk "$work/blk-$t.img" "fs-blk-$t" "${sha[blk-$t]}"
	disk_check_fs scsi "$work/scsi-$t.img" "fs-scsi-$t" "${sha[scsi-$t]}"
done
check "storage: exit status 0" status_is 0

for t in "${transports[@]}"; do
	add_device virtio_net "$t" "net,backend=user,transport=$t"
	add_device virtio_console "$t" "console,port=log-$t:file=$work/port-$t.log,transport=$t"
	add_device virtio_balloon "$t" "balloon,transport=$t"
done
boot ports 3000 --kernel "$kernel" --initrd "$initrd" --cmdline "skiff.test=virtio,netdhcp,portlog" \
	--cmdline "$(modules virtio_net virtio_console virtio_balloon)" "${devices[@]}"
devices_bound
expect_checks virtio netdhcp portlog
check "net: a lease on all 5 NICs" log_has 'skiff-check: netdhcp ok: 5 interfaces'
for t in "${transports[@]}"; do
	check "console on $t: the guest's line is in the port's file" \
		grep -q -x "skiff port log-$t: hello from the guest" "$work/port-$t.log"
done
check "ports: exit status 0" status_is 0
finish
