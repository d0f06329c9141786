# The TAP boot test's guest side (tests/boot/net-tap.sh). The test gives
# NIC N the MAC 52:54:00:77:0N:02 and puts its TAP, 10.77.N.1/24, in the
# test's network namespace; the interface with that MAC gets 10.77.N.2/24
# (the MAC, not the probe order, says which TAP an interface is on). For
# each: ping the host side; print "skiff-ready", and wait until the host
# has pinged us and says "go" on port 5000; then TCP both ways through
# net-stream (busybox nc moves 1 KiB a system call, far too slow under
# software KVM): receive what the host sends on port 5100+N and print its
# md5sum, then send MIB MiB of net-stream's generated stream (seed N) to
# port 5200+N, where the host compares. nettap:MIB sets MIB (default 1);
# nettap:ping skips the transfers.
nettap_index() {
	local mac
	read -r mac < "/sys/class/net/$1/address"
	case $mac in 52:54:00:77:0?:02) echo "${mac#52:54:00:77:0}" | { IFS=: read -r n _; echo "$n"; } ;; esac
}

check_nettap() {
	. /lib/skiff/checks/net.sh
	local ifaces i n bad= features mode=${1#:} mib=1 got
	case $mode in [1-9]*) mib=$mode ;; esac
	ifaces=$(net_ifaces)
	[ -n "$ifaces" ] || { fail nettap "no virtio-net interface"; return; }
	for i in $ifaces; do
		n=$(nettap_index "$i")
		[ -n "$n" ] || { bad="$bad $i:unexpected-mac"; continue; }
		# What the driver negotiated (bit string from bit 0) and its rx queues.
		read -r features < "/sys/class/net/$i/device/features"
		set -- /sys/class/net/$i/queues/rx-*
		echo "skiff-guest: $i nic $n rx-queues $# features $features"
		net_link_up "$i" 5 || bad="$bad $i:no-carrier"
		net_configure "$i" "10.77.$n.2/24" || bad="$bad $i:no-address"
	done
	for i in $ifaces; do
		n=$(nettap_index "$i")
		[ -z "$n" ] || net_ping "10.77.$n.1" 2 || bad="$bad $i:no-ping-reply"
	done
	echo "skiff-ready: nettap $ifaces"
	# Our TCP paces itself at what it has measured of this slow path, and
	# sizes its TSO packets at 1 ms of that: 2 segments. Each packet costs
	# this emulated kernel milliseconds whatever its size, so ask for up to
	# 44 segments (64 KB) a packet: ~6x the throughput here.
	echo 44 > /proc/sys/net/ipv4/tcp_min_tso_segs
	# Our transfers would queue the host's echo requests behind hundreds
	# of TCP segments, each costing this emulated kernel milliseconds, and
	# its ping would give up on the late replies; so wait for its "go".
	[ "$mode" = ping ] || timeout 600 nc -l -p 5000 </dev/null >/dev/null || bad="$bad no-go-from-host"
	[ "$mode" = ping ] || for i in $ifaces; do
		n=$(nettap_index "$i")
		[ -n "$n" ] || continue
		got=$(timeout 1800 net-stream recv "10.77.$n.1" $((5100 + n))) || bad="$bad $i:receive-failed"
		echo "skiff-guest: $i $got"
		got=$(timeout 1800 net-stream send "10.77.$n.1" $((5200 + n)) "$mib" "$n") || bad="$bad $i:send-failed"
		echo "skiff-guest: $i $got"
	done
	if [ -z "$bad" ]; then
		pass nettap "$ifaces: link, address, ping$([ "$mode" = ping ] || echo ', TCP both ways')"
	else
		fail nettap "$bad"
	fi
}
