#!/bin/bash
# Build the nested test host's L1 in $SKIFF_CACHE/nested (default
# /var/cache/skiff/nested), only from Debian packages:
#   kernel/vmlinuz   Debian's generic kernel (linux-image-amd64): it has
#                    kvm-amd, 9p and tun as modules (the cloud kernel has no 9p)
#   l1.cpio          busybox-static, the modules L1 needs (in load order,
#                    dependencies from the package's modules.dep) and
#                    tests/nested/l1-init as /init
#
#   build-l1.sh [--quiet]
#
# Idempotent: does nothing when both are there and l1-init has not changed.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache=${SKIFF_CACHE:-/var/cache/skiff}
out=$cache/nested
busybox=${BUSYBOX:-/bin/busybox}

quiet=''
[ "${1:-}" != --quiet ] || quiet=1
say() { [ -n "$quiet" ] || echo "nested host: $*"; }
die() { echo "nested host: error: $*" >&2; exit 1; }

# What L1 loads, in this order: virtio-pci for its disks and ports, 9p for
# the host's root, ext4 for the scratch disk (O_DIRECT and reliable locks,
# which 9p and 6.1's tmpfs lack), kvm-amd for /dev/kvm, and what the
# network tests build on the host side (TAP devices, veth pairs, bridges).
modules="virtio_pci virtio_blk virtio_console 9pnet_virtio 9p crc32c_generic ext4
	kvm_amd tun veth bridge"

[ -x "$busybox" ] || die "$busybox missing (apt-get install busybox-static)"
"$here/../../guest-images/fetch-debian-kernel.sh" --package linux-image-amd64 --out "$out/kernel" |
	{ if [ -n "$quiet" ]; then cat >/dev/null; else cat; fi; }
moddir=$(readlink -f "$out/kernel/modules")
kver=$(basename "$moddir")
root=${moddir%/lib/modules/"$kver"}

# The archive's inputs: rebuild when the kernel, the module list or /init changes.
stamp="$kver $(sha256sum "$here/l1-init" | cut -c1-16) $(echo "$modules" | tr -s ' \t\n' ' ' | sha256sum | cut -c1-16)"
if [ -f "$out/l1.cpio" ] && [ "$(cat "$out/l1.stamp" 2>/dev/null)" = "$stamp" ]; then
	say "L1 ready in $out ($kver)"
	exit 0
fi

say "building $out/l1.cpio for $kver"
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage"/{bin,dev,proc,sys,mnt/root,mnt/run,mnt/scratch,lib/modules}
cp "$busybox" "$stage/bin/busybox"
# The kernel opens /dev/console for init before anything is mounted.
mknod -m 600 "$stage/dev/console" c 5 1
cp "$here/l1-init" "$stage/init"
chmod 755 "$stage/init"
: > "$stage/modules.order"
# modprobe prints "insmod PATH" for each module and its dependencies, in
# load order; a module named twice is loaded once.
for m in $modules; do
	/usr/sbin/modprobe -d "$root" -S "$kver" --show-depends "$m" ||
		die "module $m not found for $kver"
done | awk '$1 == "insmod" && !seen[$2]++ { print $2 }' | while read -r ko; do
	cp "$ko" "$stage/lib/modules/"
	basename "$ko" >> "$stage/modules.order"
done
(cd "$stage" && find . | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0) > "$out/l1.cpio.tmp"
mv "$out/l1.cpio.tmp" "$out/l1.cpio"
echo "$stamp" > "$out/l1.stamp"
say "L1 ready: $out/kernel/vmlinuz and $out/l1.cpio ($(du -h "$out/l1.cpio" | cut -f1), $(wc -l < "$stage/modules.order") modules)"
