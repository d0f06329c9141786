#!/bin/bash
# skiff exec end to end against QEMU: `skiff exec -- true` (boot, skiff's
# init mounts and runs `true`, sends the status, powers off) against
# Debian's qemu-system-x86 (q35 + qboot, -enable-kvm, no network, no
# disks) booting the same kernel and initramfs with busybox as init
# running `poweroff -f`: the least a QEMU-based runner does for one
# command. Whole processes, wall time, the two in turn (A B A B ...), so a
# drifting machine affects both; prints each side's median and the ratio
# of medians. A benchmark: it asserts nothing. `make bench` runs it too
# (bench-row and bench-skip lines: for its summary, tests/bench/summary).
#
#   tests/bench/exec-bench.sh [RUNS]      (default 7; on a host without
#   /dev/kvm run it through tests/nested/run)
set -u
here=$(cd "$(dirname "$0")" && pwd)
SKIFF=${SKIFF:-$here/../../skiff}
SKIFF_CACHE=${SKIFF_CACHE:-/var/cache/skiff}
kernel=$SKIFF_CACHE/small/bzImage
initrd=$SKIFF_CACHE/initramfs.cpio
runs=${1:-7}

skip() {
	echo "exec-bench: skipped: $1"
	echo "bench-skip|skiff exec -- true (vs QEMU)|$1"
	exit 0
}
for f in "$SKIFF" "$kernel" "$initrd"; do
	[ -e "$f" ] || skip "$f missing (./setup makes the small kernel and initramfs)"
done
[ -c /dev/kvm ] || skip "no /dev/kvm (run it through tests/nested/run)"
qemu=
if command -v qemu-system-x86_64 >/dev/null && [ -f /usr/share/qemu/qboot.rom ]; then
	qemu=(qemu-system-x86_64 -machine q35,accel=kvm -bios /usr/share/qemu/qboot.rom -m 256M -smp 1
	      -nodefaults -no-user-config -display none -serial null -no-reboot
	      -kernel "$kernel" -initrd "$initrd"
	      -append "console=ttyS0 reboot=k panic=-1 rdinit=/bin/busybox -- poweroff -f")
fi
work=$(mktemp -d "${TMPDIR:-/var/tmp}/exec-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT

# ms RUN...: wall milliseconds of one whole run (its output discarded).
ms() {
	local t0 t1
	t0=$(date +%s%N)
	"$@" >/dev/null 2>&1 </dev/null
	local rc=$?
	t1=$(date +%s%N)
	[ $rc -eq 0 ] || echo "exec-bench: '$1' exited $rc" >&2
	echo $(((t1 - t0) / 1000000))
}
median() { sort -n | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }

cd "$work" # an empty working directory: nothing to share
skiff_run=("$SKIFF" exec --kernel "$kernel" --initrd "$initrd" --mem 256M -- true)
ms "${skiff_run[@]}" >/dev/null # warm-up: page cache
[ -z "$qemu" ] || ms "${qemu[@]}" >/dev/null
for i in $(seq "$runs"); do
	ms "${skiff_run[@]}" >>skiff.ms
	[ -z "$qemu" ] || ms "${qemu[@]}" >>qemu.ms
done
s=$(median <skiff.ms)
echo "skiff exec -- true:         median $s ms over $runs runs (min $(sort -n skiff.ms | head -1), max $(sort -n skiff.ms | tail -1))"
if [ -n "$qemu" ]; then
	q=$(median <qemu.ms)
	echo "qemu, busybox poweroff -f:  median $q ms over $runs runs (min $(sort -n qemu.ms | head -1), max $(sort -n qemu.ms | tail -1))"
	echo "ratio skiff/qemu (medians): $(awk -v s="$s" -v q="$q" 'BEGIN {printf "%.2f", s / q}')"
else
	echo "qemu-system-x86_64 (and qboot.rom) not installed: no QEMU column"
fi
echo "bench-row|skiff exec -- true (vs QEMU)|boot, run, power off|ms|lower|$s|${q:-}|"
