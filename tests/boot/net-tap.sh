#!/bin/bash
# virtio-net on TAP devices, one boot of the small kernel with three NICs:
# transitional PCI with two queue pairs on a multi-queue TAP (the driver
# picks modern and negotiates MQ), legacy-only PCI, and virtio-mmio v2.
# Each NIC's TAP lives in a network namespace this test creates (skiff
# runs inside it), so no traffic leaves it. For each NIC: the guest pings
# the host side, the host side pings the guest, and 64 MiB go each way
# over TCP with the same md5sum at both ends ($NET_TAP_MIB MiB): busybox nc
# on the host, the initramfs's net-stream in the guest, which hashes in
# ring 3 (busybox nc moves 1 KiB a system call: ~5x slower here).
# Needs root (ip netns, TAP devices).
. "$(dirname "$0")/lib.sh"
require_kvm
require_file "$SMALL_KERNEL"
require_file "$INITRAMFS"
[ "$(id -u)" = 0 ] || skip_or_fail "needs root for network namespaces and TAP devices"
command -v ip >/dev/null || skip_or_fail "ip (iproute2) missing"
BUSYBOX=${BUSYBOX:-/bin/busybox}
[ -x "$BUSYBOX" ] || skip_or_fail "$BUSYBOX missing (busybox-static)"
MIB=${NET_TAP_MIB:-64}

ns=skiff-nettap-$$
work=$(mktemp -d)
cleanup() {
	jobs -p | xargs -r kill 2>/dev/null
	ip netns pids "$ns" 2>/dev/null | xargs -r kill 2>/dev/null
	ip netns del "$ns" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT
in_ns() { ip netns exec "$ns" "$@"; }

ip netns add "$ns"
ip -n "$ns" link set lo up
# Answer ARP only on the TAP that owns the address: a NIC wired to the
# wrong TAP then fails instead of being answered by its neighbour.
in_ns sysctl -q -w net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2
# Our host side sends in large TSO packets: each packet costs a software-
# KVM guest's emulated kernel milliseconds, whatever its size. BBR (the
# default on some hosts) paces to its estimate of that slow receiver and
# sends 2 segments a packet, ignoring tcp_min_tso_segs; Reno (which a
# namespace may always choose) does not pace. Measured here, 4 MiB to the
# guest: BBR 400 KiB/s, 2.9 KB a packet; Reno and 44 segments 1750 KiB/s,
# 37 KB a packet.
in_ns sysctl -q -w net.ipv4.tcp_congestion_control=reno net.ipv4.tcp_min_tso_segs=44 ||
	echo "$test_name: could not choose Reno and 44-segment TSO packets: the transfers will be slower"
for n in 1 2 3; do
	ip -n "$ns" tuntap add dev "tap$n" mode tap $([ "$n" = 1 ] && echo multi_queue)
	ip -n "$ns" addr add "10.77.$n.1/24" dev "tap$n"
	ip -n "$ns" link set "tap$n" up
done

head -c "${MIB}M" /dev/urandom > "$work/data"
sum=$(md5sum < "$work/data" | cut -d' ' -f1)
mkfifo "$work/hold"
exec 3<>"$work/hold" # the receivers' stdin: never at EOF, so they wait for the guest's
# The guest sends MIB MiB of net-stream's generated stream and prints its
# md5sum; we compare that with the md5sum of what arrived.
for n in 1 2 3; do
	in_ns "$BUSYBOX" nc -l -p $((5100 + n)) < "$work/data" > /dev/null &
	in_ns "$BUSYBOX" nc -l -p $((5200 + n)) <&3 > "$work/back$n" &
done

log=$LOG_DIR/$test_name-3nics.log
start=$(date +%s.%N)
in_ns timeout --signal=TERM --kill-after=10 1800 "$SKIFF" run --kernel "$SMALL_KERNEL" --initrd "$INITRAMFS" \
	--mem 512M --cmdline "skiff.test=virtio,net,nettap:$MIB" \
	--device net,backend=tap,ifname=tap1,queues=2,mac=52:54:00:77:01:02,transport=pci \
	--device net,backend=tap,ifname=tap2,mac=52:54:00:77:02:02,transport=pci-legacy \
	--device net,backend=tap,ifname=tap3,mac=52:54:00:77:03:02,transport=mmio \
	</dev/null >"$log" 2>&1 &
skiff_pid=$!

# The guest says when its addresses are up; then ping it from the host side
# while it waits for us.
for _ in $(seq 1200); do
	grep -aq 'skiff-ready: nettap' "$log" && break
	kill -0 "$skiff_pid" 2>/dev/null || break
	sleep 0.5
done
for n in 1 2 3; do
	if in_ns "$BUSYBOX" ping -c 3 -W 5 "10.77.$n.2" > "$work/ping$n" 2>&1; then
		echo "host -> guest NIC $n: $(tail -1 "$work/ping$n")"
	else
		echo "host -> guest NIC $n: no reply"; cat "$work/ping$n"
	fi
done
# Then let the guest start its transfers (it waits so that they do not
# delay the echo replies above). Its listener may not be up yet (an exec
# costs it ~0.6 s), so knock until it answers; any NIC that is up will do.
go_sent() {
	local n
	for n in 1 2 3; do
		echo go | in_ns timeout 30 "$BUSYBOX" nc -w 1 "10.77.$n.2" 5000 2>/dev/null && return 0
	done
	return 1
}
for _ in $(seq 60); do
	go_sent && break
	kill -0 "$skiff_pid" 2>/dev/null || break
	sleep 1
done
wait "$skiff_pid"
status=$?
elapsed=$(echo "$(date +%s.%N) - $start" | bc)
printf '%s: 3nics: exit status %s after %.1f s (log: %s)\n' "$test_name" "$status" "$elapsed" "$log"
grep -a 'skiff-guest: init reached\|skiff-check:\|net-stream:\|round-trip' "$log" | tr -d '\r' | sed 's/^/  | /'

expect_checks virtio net nettap
check "transitional PCI (00:01.0) bound to virtio_net, modern" device_is virtio_net modern '.*/0000:00:01.0'
check "legacy-only PCI (00:02.0) bound to virtio_net, legacy" device_is virtio_net legacy '.*/0000:00:02.0'
check "virtio-mmio v2 (LNRO0005:00) bound to virtio_net, modern" device_is virtio_net modern '.*/LNRO0005:00'
# Feature bits as the guest's driver shows them (a string from bit 0).
feature() { log_has "skiff-guest: eth[0-9] nic $1 rx-queues $2 features $(head -c "$3" /dev/zero | tr '\0' .)1"; }
# With one vCPU the driver asks for one active pair (VQ_PAIRS_SET 1 on the
# control queue, which sits at index 4 once MQ is negotiated).
check "NIC 1: MQ negotiated (1 pair in use on 1 vCPU)" feature 1 1 22
check "NIC 1: MRG_RXBUF negotiated" feature 1 1 15
check "NIC 1: GUEST_TSO4 negotiated (TAP takes receive offloads)" feature 1 1 7
check "NIC 1: HOST_TSO4 negotiated" feature 1 1 11
check "NIC 2 (legacy): CTRL_VQ negotiated" feature 2 1 17
check "NIC 3 (mmio): CSUM negotiated" feature 3 1 0
for n in 1 2 3; do
	check "NIC $n: the host side pinged the guest" grep -q ' 0% packet loss' "$work/ping$n"
	check "NIC $n: guest received $MIB MiB with the host's md5sum" \
		log_has "skiff-guest: eth[0-9] net-stream: received $((MIB * 1048576)) bytes md5 $sum "
	back=$(md5sum < "$work/back$n" | cut -d' ' -f1)
	check "NIC $n: host received the guest's $MIB MiB with the guest's md5sum" \
		log_has "skiff-guest: eth[0-9] net-stream: sent $((MIB * 1048576)) bytes md5 $back "
	rx=$(in_ns cat "/sys/class/net/tap$n/statistics/rx_bytes")
	check "NIC $n: the traffic went through tap$n ($rx bytes in)" test "$rx" -gt $((MIB * 1048576))
done
check "exit status 0" status_is 0
finish
