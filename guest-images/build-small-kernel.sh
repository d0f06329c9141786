#!/bin/bash
# Build skiff's small guest kernel from Debian's linux-source-6.1 package.
# Idempotent: the result is cached in $SKIFF_CACHE (default /var/cache/skiff)
# and rebuilt only when the config fragment changes.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache=${SKIFF_CACHE:-/var/cache/skiff}
fragment=$here/kernel/skiff-small.config
tarball=/usr/src/linux-source-6.1.tar.xz
out=$cache/small
stamp=$(sha256sum "$fragment" | cut -c1-16)

if [ -f "$out/vmlinux" ] && [ "$(cat "$out/stamp" 2>/dev/null)" = "$stamp" ]; then
	echo "small kernel: cached in $out"
	exit 0
fi
[ -f "$tarball" ] || { echo "small kernel: $tarball missing (apt-get install linux-source-6.1)" >&2; exit 1; }
mkdir -p "$cache"
src=$cache/linux-source-6.1
if [ ! -f "$src/Makefile" ]; then
	echo "small kernel: unpacking $tarball"
	tar -C "$cache" -xf "$tarball"
fi
cd "$src"
echo "small kernel: configuring (x86_64_defconfig + kvm_guest.config + skiff-small.config)"
make -s x86_64_defconfig
./scripts/kconfig/merge_config.sh -m .config kernel/configs/kvm_guest.config "$fragment" >/dev/null
make -s olddefconfig
echo "small kernel: building vmlinux and bzImage with $(nproc) jobs (about 7 minutes on 2 cores)"
start=$(date +%s)
make -j"$(nproc)" vmlinux bzImage 2>&1 | grep -E '^(  LD|  OBJCOPY|  BUILD|.*[Ee]rror)' || true
[ -f vmlinux ] && [ -f arch/x86/boot/bzImage ] || { echo "small kernel: build failed" >&2; exit 1; }
mkdir -p "$out"
cp vmlinux arch/x86/boot/bzImage .config "$out/"
echo "$stamp" > "$out/stamp"
echo "small kernel: built in $(( $(date +%s) - start )) s -> $out/vmlinux, $out/bzImage"
