#!/bin/bash
# virtio-net benchmark (not a test: prints figures, asserts nothing). The
# freestanding test guest (guest-images/test-guest, net-bench=MS) drives a
# modern virtio-net PCI device from ring 3, polling the used rings, under
# skiff (backend=tap) and under QEMU (Debian's qemu-system-x86: q35 + qboot,
# virtio-net-pci, -netdev tap without vhost), both on the same TAP in a
# network namespace this script creates and removes. On the host end,
# tests/bench/net-peer.c (built here) answers the guest on a raw AF_PACKET
# socket: an Ethernet-level echo (ping-rtt: guest -> VMM -> TAP -> user-
# space responder -> back, not ICMP), the TAP's own counters for what the
# guest sent, and a blast of frames for the guest to receive.
#
#   tests/bench/net-guest.sh [MS [ROUNDS]]     (root: ip netns, TAP)
#
# MS (default 2000) is each figure's duration. ROUNDS (default 3) runs of
# each VMM, alternating, and the table shows each figure's median: on a
# shared host one run is noise (the rx figures are bimodal for both VMMs:
# see tests/bench/README). NETBENCH_VERBOSE=1 also prints the guest's
# lines (frame counts, min/max RTT) and the peer's; NETBENCH_WINDOW=N sets
# the peer's frames in flight when it sends (default: half the TAP queue).
# Figures: ping-rtt (mean round trip, us), tx-64 / rx-64 (64-byte frames
# a second, guest to host / host to guest), tx-1514 / rx-1514 (MB/s of
# 1514-byte Ethernet frames, 1500-byte MTU).
set -u
here=$(cd "$(dirname "$0")/../.." && pwd)
SKIFF=${SKIFF:-$here/skiff}
ms=${1:-2000}
rounds=${2:-3}
# Not root: say so and let `make bench` go on.
# (bench-row and bench-skip lines: for make bench's summary, tests/bench/summary.)
[ "$(id -u)" = 0 ] || { echo "net-guest.sh: skipped: needs root (a network namespace and a TAP device)"
	echo "bench-skip|net in the guest (vs QEMU)|needs root (a network namespace and a TAP device)"; exit 0; }
[ -c /dev/kvm ] || { echo "bench-skip|net in the guest (vs QEMU)|no /dev/kvm (run it through tests/nested/run)"; exit 0; }
work=$(mktemp -d /var/tmp/skiff-netbench.XXXXXX)
ns=skiff-netbench-$$
tap=nb0
mac=52:54:00:12:34:56
peer_pid=
cleanup() {
	[ -n "$peer_pid" ] && kill "$peer_pid" 2>/dev/null && wait "$peer_pid" 2>/dev/null
	ip netns del "$ns" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT

"$here/guest-images/test-guest/build.sh" "$work/tg.elf" > "$work/build.log" 2>&1 || { cat "$work/build.log"; exit 2; }
${CC:-cc} -O2 -Wall -o "$work/net-peer" "$here/tests/bench/net-peer.c" || exit 2

# The namespace: a persistent TAP that both VMMs attach to in turn, IPv6
# off so the host kernel sends the guest nothing of its own.
ip netns add "$ns" || exit 2
ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
ip -n "$ns" link set lo up
ip -n "$ns" tuntap add dev "$tap" mode tap || exit 2
ip -n "$ns" link set "$tap" up

tests="ping-rtt tx-64 tx-1514 rx-64 rx-1514"
declare -A R

# pin_threads NAME PID: PID (timeout) runs the VMM; put the VMM's vCPU
# thread (skiff "vcpu0", QEMU "CPU 0/KVM") on CPU 1 and its other threads
# on CPU 0 with the peer, so that both VMMs get the same placement. No
# vCPU thread within 10 s: say so and pin nothing (pinning every thread to
# CPU 0 would squeeze that VMM onto one CPU).
pin=${NETBENCH_PIN:-}
pin_threads() {
	local vmm= t comm end=$((SECONDS + 10))
	while [ "$SECONDS" -lt "$end" ]; do
		vmm=$(pgrep -P "$2" | head -1)
		[ -n "$vmm" ] && [ -n "$(grep -l -E '^(vcpu|CPU )' /proc/"$vmm"/task/*/comm 2>/dev/null)" ] && break
		vmm=
		sleep 0.01
	done
	[ -n "$vmm" ] || { echo "net-guest.sh: NETBENCH_PIN: no vCPU thread found in $1 within 10 s: not pinned"; return; }
	for t in /proc/"$vmm"/task/*; do
		comm=$(cat "$t/comm" 2>/dev/null) || continue
		case $comm in vcpu* | "CPU "*) taskset -pc 1 "${t##*/}" ;; *) taskset -pc 0 "${t##*/}" ;; esac >/dev/null
	done
}

# run NAME ROUND COMMAND...: the peer on the TAP, the VMM in the
# namespace, the guest's figures into R[NAME,test,ROUND].
run() {
	local name=$1 round=$2 line t v
	shift 2
	ip netns exec "$ns" ${pin:+taskset -c 0} "$work/net-peer" "$tap" 300 ${NETBENCH_WINDOW:-} 2> "$work/$name.peer" &
	peer_pid=$!
	sleep 0.2
	ip netns exec "$ns" "$@" > "$work/$name.log" 2>&1 </dev/null &
	[ -n "$pin" ] && pin_threads "$name #$round" $!
	wait $!
	kill "$peer_pid" 2>/dev/null
	wait "$peer_pid" 2>/dev/null
	peer_pid=
	for t in $tests; do
		line=$(grep -a -o "$t [0-9]* \(ns\|pps\|MB/s\)" "$work/$name.log" | head -1)
		v=$(echo "$line" | cut -d' ' -f2)
		[ "$t" = ping-rtt ] && [ -n "$v" ] && v=$(echo "scale=1; $v / 1000" | bc)
		R[$name,$t,$round]=$v
	done
	if [ -n "${NETBENCH_VERBOSE:-}" ]; then
		grep -a "virtio-net" "$work/$name.log" | sed "s/^/$name #$round: /"
		sed "s/^/$name #$round: /" "$work/$name.peer"
	elif grep -a -q "virtio-net .*\(FAIL\|the TAP took\)" "$work/$name.log" || ! grep -a -q "virtio-net pci" "$work/$name.log"; then
		echo "$name #$round: the guest reported a problem:"
		grep -a "virtio-net\|test-guest: [0-9]* passed" "$work/$name.log"
		cat "$work/$name.peer"
	fi
}

have_qemu=
if command -v qemu-system-x86_64 >/dev/null && [ -f /usr/share/qemu/qboot.rom ]; then
	have_qemu=1
else
	echo "qemu-system-x86_64 (and qboot.rom) not installed: no QEMU column"
fi
for round in $(seq "$rounds"); do
	run skiff "$round" timeout 120 "$SKIFF" run --kernel "$work/tg.elf" --console serial \
		--device "net,backend=tap,ifname=$tap,transport=pci-modern,mac=$mac" --cmdline "net-bench=$ms ring=split"
	[ -n "$have_qemu" ] || continue
	# debug-threads=on names QEMU's vCPU thread "CPU 0/KVM" (without it every
	# thread is "qemu-system-x86"), so that pin_threads can place it.
	run qemu "$round" timeout 120 qemu-system-x86_64 -machine q35,accel=kvm -bios /usr/share/qemu/qboot.rom -m 256M \
		-name qemu,debug-threads=on \
		-nodefaults -nographic -serial stdio -no-reboot -kernel "$work/tg.elf" \
		-device isa-debug-exit,iobase=0xf4,iosize=1 \
		-netdev "tap,id=n0,ifname=$tap,script=no,downscript=no" \
		-device "virtio-net-pci,netdev=n0,disable-legacy=on,mac=$mac" -append "net-bench=$ms ring=split"
done

# median NAME TEST: the middle of the rounds' figures (- if none);
# all NAME TEST: every round's figure.
median() {
	local r
	for r in $(seq "$rounds"); do [ -n "${R[$1,$2,$r]:-}" ] && echo "${R[$1,$2,$r]}"; done |
		sort -n | awk '{ v[NR] = $1 } END { print NR ? v[int((NR + 1) / 2)] : "" }'
}
all() {
	local r out=
	for r in $(seq "$rounds"); do out="$out${out:+ }${R[$1,$2,$r]:--}"; done
	echo "$out"
}

# ratio A B: A/B, or B/A for the round trip (lower is better): > 1 means skiff is better.
ratio() {
	[ -n "${2:-}" ] && [ -n "${3:-}" ] && [ "${2:-0}" != 0 ] && [ "${3:-0}" != 0 ] || { echo -; return; }
	if [ "$1" = ping-rtt ]; then echo "scale=2; $3 / $2" | bc; else echo "scale=2; $2 / $3" | bc; fi
}
echo "median of $rounds rounds, $ms ms a figure (every round in brackets)"
printf '%-9s %5s %9s %9s %11s   %-24s %s\n' test unit skiff qemu skiff/qemu "[skiff]" "[qemu]"
for t in $tests; do
	case $t in ping-*) unit=us ;; *-64) unit=pps ;; *) unit=MB/s ;; esac
	s=$(median skiff "$t") q=$(median qemu "$t")
	printf '%-9s %5s %9s %9s %11s   %-24s %s\n' "$t" "$unit" "${s:--}" "${q:--}" "$(ratio "$t" "$s" "$q")" \
		"[$(all skiff "$t")]" "[$(all qemu "$t")]"
done
echo "(skiff/qemu > 1: skiff better; for ping-rtt that is qemu's RTT over skiff's)"
for t in $tests; do
	case $t in ping-*) unit=us better=lower ;; *-64) unit=pps better=higher ;; *) unit=MB/s better=higher ;; esac
	echo "bench-row|net in the guest (vs QEMU)|$t|$unit|$better|$(median skiff "$t")|$(median qemu "$t")|"
done
