#!/bin/bash
# virtio-blk benchmark (not a test: prints figures, asserts nothing). The
# freestanding test guest (guest-images/test-guest, blk-bench=MS) drives a
# modern virtio-blk PCI device on one raw image, from ring 3 polling the
# used ring, under skiff (io_uring, the thread pool, and io_uring with
# --poll 50) and under QEMU (Debian's qemu-system-x86, q35 + qboot,
# virtio-blk-pci, aio=io_uring, same image, same cache mode: the host page
# cache; on its main loop, and on an IOThread, which polls); the host's own
# fio on the same file is the ceiling.
#
#   tests/bench/blk-guest.sh [IMAGE [MS]]
#
# IMAGE (default /var/tmp/skiff-bench.img) gets 256 MiB of data if it is
# smaller; MS (default 2000) is each figure's duration.
set -u
here=$(cd "$(dirname "$0")/../.." && pwd)
SKIFF=${SKIFF:-$here/skiff}
image=${1:-/var/tmp/skiff-bench.img}
ms=${2:-2000}
work=$(mktemp -d /var/tmp/skiff-blkbench.XXXXXX)
trap 'rm -rf "$work"' EXIT

# (bench-row and bench-skip lines: for make bench's summary, tests/bench/summary.)
[ -c /dev/kvm ] || { echo "bench-skip|blk in the guest (vs QEMU, limit: host fio)|no /dev/kvm (run it through tests/nested/run)"; exit 0; }
if [ "$(stat -c %s "$image" 2>/dev/null || echo 0)" -lt $((256 << 20)) ]; then
	head -c 256M /dev/urandom > "$image"
fi
"$here/guest-images/test-guest/build.sh" "$work/tg.elf" > "$work/build.log" 2>&1 || { cat "$work/build.log"; exit 2; }

tests="4k-randread-qd1 4k-randread-qd32 1m-seqread-qd1 1m-seqwrite-qd1"
declare -A R

# run NAME COMMAND...: the guest's figures into R[NAME,test]. The image is
# read whole first, so that every run starts with it in the page cache
# (cache=writeback): without that, the first VMM after fio (which drops
# the file's cache by default) or after a reboot paid the disk reads.
run() {
	local name=$1 line t
	shift
	cat "$image" > /dev/null
	"$@" > "$work/$name.log" 2>&1 </dev/null
	for t in $tests; do
		line=$(grep -a -o "$t [0-9]* \(IOPS\|MB/s\)" "$work/$name.log" | head -1)
		R[$name,$t]=$(echo "$line" | cut -d' ' -f2)
	done
	grep -a -q "virtio-blk .*FAIL" "$work/$name.log" && { echo "$name: the guest reported a failure:"; grep -a FAIL "$work/$name.log"; }
}

run skiff timeout 300 "$SKIFF" run --kernel "$work/tg.elf" --console serial \
	--device "blk,path=$image,transport=pci-modern" --cmdline "blk-bench=$ms"
run skiff-threads timeout 300 "$SKIFF" run --kernel "$work/tg.elf" --console serial \
	--device "blk,path=$image,transport=pci-modern,aio=threads" --cmdline "blk-bench=$ms"
# Polling, on both sides: skiff's reactor with --poll 50, QEMU's disk on
# an IOThread (which polls up to 32 us by default). Where the host has no
# CPU to spare for the spin, expect these to lose (tests/bench/README).
run skiff-poll timeout 300 "$SKIFF" run --poll 50 --kernel "$work/tg.elf" --console serial \
	--device "blk,path=$image,transport=pci-modern" --cmdline "blk-bench=$ms"
if command -v qemu-system-x86_64 >/dev/null && [ -f /usr/share/qemu/qboot.rom ]; then
	run qemu timeout 300 qemu-system-x86_64 -machine q35,accel=kvm -bios /usr/share/qemu/qboot.rom -m 256M \
		-nodefaults -nographic -serial stdio -no-reboot -kernel "$work/tg.elf" \
		-device isa-debug-exit,iobase=0xf4,iosize=1 \
		-drive "file=$image,if=none,id=d0,format=raw,cache=writeback,aio=io_uring" \
		-device virtio-blk-pci,drive=d0,disable-legacy=on -append "blk-bench=$ms"
	run qemu-iothread timeout 300 qemu-system-x86_64 -machine q35,accel=kvm -bios /usr/share/qemu/qboot.rom -m 256M \
		-nodefaults -nographic -serial stdio -no-reboot -kernel "$work/tg.elf" \
		-device isa-debug-exit,iobase=0xf4,iosize=1 -object iothread,id=io0 \
		-drive "file=$image,if=none,id=d0,format=raw,cache=writeback,aio=io_uring" \
		-device virtio-blk-pci,drive=d0,disable-legacy=on,iothread=io0 -append "blk-bench=$ms"
else
	echo "qemu-system-x86_64 (and qboot.rom) not installed: no QEMU column"
fi
if command -v fio >/dev/null; then
	secs=$(( (ms + 999) / 1000 ))
	fio_one() { # TEST RW BS QD
		fio --name=f --filename="$image" --rw="$2" --bs="$3" --iodepth="$4" --ioengine=io_uring --invalidate=0 \
			--runtime="$secs" --time_based --output-format=json 2>/dev/null |
			python3 -c 'import json,sys; j=json.load(sys.stdin)["jobs"][0]; d=j["read"] if j["read"]["io_bytes"] else j["write"]; print(int(d["iops"]) if sys.argv[1]=="iops" else int(d["bw_bytes"]/1e6))' "$5"
	}
	R[fio,4k-randread-qd1]=$(fio_one x randread 4k 1 iops)
	R[fio,4k-randread-qd32]=$(fio_one x randread 4k 32 iops)
	R[fio,1m-seqread-qd1]=$(fio_one x read 1M 1 mbps)
	R[fio,1m-seqwrite-qd1]=$(fio_one x write 1M 1 mbps)
fi

ratio() { [ -n "${1:-}" ] && [ -n "${2:-}" ] && [ "${2:-0}" != 0 ] && echo "scale=2; $1 / $2" | bc || echo -; }
printf '%-18s %6s %10s %14s %10s %10s %10s %10s %10s %10s\n' test unit skiff skiff-threads qemu skiff/qemu \
	skiff-poll qemu-ioth poll/ioth host-fio
for t in $tests; do
	unit=IOPS; case $t in 1m-*) unit=MB/s ;; esac
	printf '%-18s %6s %10s %14s %10s %10s %10s %10s %10s %10s\n' "$t" "$unit" "${R[skiff,$t]:--}" \
		"${R[skiff-threads,$t]:--}" "${R[qemu,$t]:--}" "$(ratio "${R[skiff,$t]:-}" "${R[qemu,$t]:-}")" \
		"${R[skiff-poll,$t]:--}" "${R[qemu-iothread,$t]:--}" \
		"$(ratio "${R[skiff-poll,$t]:-}" "${R[qemu-iothread,$t]:-}")" "${R[fio,$t]:--}"
done
for t in $tests; do
	unit=IOPS; case $t in 1m-*) unit=MB/s ;; esac
	echo "bench-row|blk in the guest (vs QEMU, limit: host fio)|$t|$unit|higher|${R[skiff,$t]:-}|${R[qemu,$t]:-}|${R[fio,$t]:-}"
	echo "bench-row|blk in the guest (vs QEMU, limit: host fio)|$t aio=threads|$unit|higher|${R[skiff-threads,$t]:-}|${R[qemu,$t]:-}|${R[fio,$t]:-}"
	echo "bench-row|blk in the guest (vs QEMU, limit: host fio)|$t polling (vs IOThread)|$unit|higher|${R[skiff-poll,$t]:-}|${R[qemu-iothread,$t]:-}|${R[fio,$t]:-}"
done
