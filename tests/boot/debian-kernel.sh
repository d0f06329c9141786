#!/bin/bash
# The unmodified Debian cloud kernel (vmlinux, 64-bit entry) on 2 vCPUs,
# its virtio drivers loaded as modules from our initramfs, and one boot for
# every device whose Debian driver the tests must prove:
#   blk    virtio_blk: two host-made ext4 disks, one on PCI, one on
#          virtio-mmio (found only through ACPI, LNRO0005); the guest
#          verifies a file and writes one, the host checks both images
#          (debugfs, e2fsck)
#   scsi   virtio_scsi + sd_mod: an ext4 disk at target 0 LUN 0, verified
#          the same way
#   net    virtio_net with backend=user (libslirp): DHCP, DNS through
#          slirp's forwarder, TCP and UDP to the host's loopback through
#          the gateway, and TCP and UDP hostfwd rules into the guest
#          (netuser_* in lib.sh)
# The whole test runs in a network namespace of its own (unshare -n, only
# its loopback exists), so no traffic leaves it, and a mount namespace
# where /etc/resolv.conf names the test's own DNS server.
# On software-KVM hosts this kernel takes ~10 minutes to reach /init, its
# 14 module loads a few seconds each, as is every exec in its user space (docs/software-kvm.md,
# "What to expect"), hence the long limit. virtio_rng is proven on the
# small kernel (every transport) and is left out here to save a load.
. "$(dirname "$0")/lib.sh"
require_kvm
require_file "$DEBIAN_VMLINUX"
require_file "$SKIFF_CACHE/initramfs-debian.cpio"
command -v mkfs.ext4 >/dev/null && command -v debugfs >/dev/null || skip_or_fail "e2fsprogs missing"
BUSYBOX=${BUSYBOX:-/bin/busybox}
[ -x "$BUSYBOX" ] || skip_or_fail "$BUSYBOX missing (busybox-static)"
if [ -z "${SKIFF_TEST_NETNS:-}" ]; then
	[ "$(id -u)" = 0 ] || skip_or_fail "needs root (a network namespace of its own)"
	exec env SKIFF_TEST_NETNS=1 unshare -mn "$0" "$@"
fi
ip link set lo up

work=$(mktemp -d "$LOG_DIR/debian-kernel.XXXXXX")
# The listeners are killed by pid: they hold this script's stdout, and a
# survivor would keep the test harness waiting for ever.
trap 'kill $listeners 2>/dev/null; rm -rf "$work"' EXIT
echo "nameserver 127.0.0.1" > "$work/resolv.conf"
mount --bind "$work/resolv.conf" /etc/resolv.conf || skip_or_fail "cannot bind-mount /etc/resolv.conf"

blk_make_fs "$work/blk-pci.img" 32;  sha_blk_pci=$blk_hello_sha
blk_make_fs "$work/blk-mmio.img" 32; sha_blk_mmio=$blk_hello_sha
blk_make_fs "$work/scsi.img" 32;     sha_scsi=$blk_hello_sha

netuser_host_start "$work"

# Where boots are cheap (hardware KVM, the nested host) the same boot also
# runs the extended-state canary at 10,000 context switches (4 x 2500) and
# 300 execs on both CPUs; on software KVM they would take hours.
loops=(xstate:2500 exec:300)
[ "$SKIFF_BOOT_HOST" != software ] || loops=()
extra=''
for l in "${loops[@]}"; do extra+=",$l"; done

boot_start 2cpu 3000 --kernel "$DEBIAN_VMLINUX" --initrd "$SKIFF_CACHE/initramfs-debian.cpio" --cpus 2 \
	--cmdline "skiff.test=virtio,blk,scsi:1,netuser$extra skiff.modules=virtio_pci,virtio_mmio,virtio_blk,virtio_scsi,sd_mod,virtio_net" \
	--device "blk,path=$work/blk-pci.img,serial=fs-blk-pci,transport=pci" \
	--device "blk,path=$work/blk-mmio.img,serial=fs-blk-mmio,transport=mmio" \
	--device "scsi,path=$work/scsi.img,serial=fs-scsi0" \
	--device "net,backend=user,$NETUSER_HOSTFWD"
wait_for 'skiff-ready: netuser' 3000 && netuser_host_connect "$work"
# The sandbox (docs/sandbox.md) with disk I/O threads, slirp, the reactor
# and two vCPUs all running: every one confined.
check "every skiff thread has its seccomp filter and no_new_privs" threads_confined "$skiff_pid"
boot_wait
grep -a 'skiff-guest: \(loaded modules\|blk\|scsi\|dhcp\|dns\|net-stream\|from the host\|through hostfwd\)' "$log" | tr -d '\r' | sed 's/^/  | /'

check "Debian kernel started" log_has 'Linux version 6.1.*cloud-amd64'
check "kernel brought up 2 CPUs" log_has 'smp: Brought up 1 node, 2 CPUs'
check "modules loaded, virtio_net among them" log_has 'skiff-guest: loaded modules:.* virtio_net@'
check "no module failed to load" log_lacks 'skiff-guest: loaded modules:.*(failed'
expect_checks virtio blk scsi netuser "${loops[@]%%:*}"
check "blk on PCI (00:01.0) bound to virtio_blk, modern" device_is virtio_blk modern '.*/0000:00:01.0'
check "blk on virtio-mmio found through ACPI (LNRO0005:00), modern" device_is virtio_blk modern '.*/LNRO0005:00'
check "scsi controller (00:02.0) bound to virtio_scsi, modern" device_is virtio_scsi modern '.*/0000:00:02.0'
check "net (00:03.0) bound to virtio_net, modern" device_is virtio_net modern '.*/0000:00:03.0'
disk_check_fs blk "$work/blk-pci.img" fs-blk-pci "$sha_blk_pci"
disk_check_fs blk "$work/blk-mmio.img" fs-blk-mmio "$sha_blk_mmio"
check "fs-scsi0: sdX at target 0 LUN 0, 32 MiB" log_has 'skiff-guest: scsi fs-scsi0 (sd[a-z]*) hctl [0-9]*:0:0:0 sectors 65536'
disk_check_fs scsi "$work/scsi.img" fs-scsi0 "$sha_scsi"
netuser_checks "$work"
check "Landlock on (no warning that it is missing)" log_lacks 'no file-system sandbox'
check "exit status 0" status_is 0
finish
