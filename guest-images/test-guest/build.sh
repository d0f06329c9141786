#!/bin/sh
# Build the freestanding test guest with the host gcc and binutils.
#   guest-images/test-guest/build.sh [OUTPUT]     (default: $SKIFF_CACHE/test-guest.elf,
#                                                 SKIFF_CACHE defaults to /var/cache/skiff)
# Objects go to a directory next to OUTPUT (OUTPUT.d/). The result is an
# ELF32 (i386) file holding 64-bit code, with the PVH entry note in a
# PT_NOTE segment: skiff and QEMU enter ELF32 kernels through that note.
set -eu
src=$(cd "$(dirname "$0")" && pwd)
out=${1:-${SKIFF_CACHE:-/var/cache/skiff}/test-guest.elf}
obj=$out.d
mkdir -p "$obj"
CC=${CC:-gcc}
LD=${LD:-ld}
OBJCOPY=${OBJCOPY:-objcopy}
CFLAGS="-std=gnu11 -O2 -g0 -Wall -Wextra -m64 -ffreestanding -fno-pic -fno-pie -fno-stack-protector \
 -fno-asynchronous-unwind-tables -fno-tree-loop-distribute-patterns -fno-jump-tables -fcf-protection=none \
 -mno-red-zone -mno-sse -mno-sse2 -mno-mmx -mno-80387 -mcmodel=small -nostdinc -isystem $($CC -print-file-name=include)"
objs=""
for f in boot.S main.c options.c runtime.c string.c trap.c pci.c virtio.c blk-bench.c net-bench.c virtio-pci.c virtio-mmio.c vring.c user-rng.c attack.c attack-ring.c attack-dev.c ../../virtqueue/driver.c; do
	o=$obj/$(basename "${f%.*}").o
	$CC $CFLAGS -I"$src" -I"$src/../.." -c "$src/$f" -o "$o"
	objs="$objs $o"
done
$LD -m elf_x86_64 -nostdlib -static -no-pie --no-warn-rwx-segments -T "$src/linker.ld" -o "$obj/test-guest.elf64" $objs
$OBJCOPY -O elf32-i386 "$obj/test-guest.elf64" "$out"
echo "built $out"
