# The TAP boot test's guest side (tests/boot/net-tap.sh). The test gives
# NIC N the MAC 52:54:00:77:0N:02 and puts its TAP, 10.77.N.1/24, in the
# test's network namespace; the interface with that MAC gets 10.77.N.2/24
# (the MAC, not the probe order, says which TAP an interface is on). For
# each: ping the host side; print "skiff-ready", and wait until the host
# has pinged us and says "go" on port 5000; then a TCP round trip through
# busybox nc: receive what the host sends on port 5100+N, print its
# md5sum, send it back to port 5200+N, where the host compares.
# nettap:ping skips the transfers.
nettap_index() {
	local mac
	read -r mac < "/sys/class/net/$1/address"
	case $mac in 52:54:00:77:0?:02) echo "${mac#52:54:00:77:0}" | { IFS=: read -r n _; echo "$n"; } ;; esac
}

check_nettap() {
	. /lib/skiff/checks/net.sh
	local ifaces i n bad= sum size features mode=$1
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
	# Our transfers would queue the host's echo requests behind hundreds
	# of TCP segments, each costing this emulated kernel milliseconds, and
	# its ping would give up on the late replies; so wait for its "go".
	[ "$mode" = :ping ] || timeout 600 nc -l -p 5000 </dev/null >/dev/null || bad="$bad no-go-from-host"
	mkfifo /tmp/hold
	exec 3<>/tmp/hold # nc's stdin: never at EOF, so nc waits for the host to finish
	[ "$mode" = :ping ] || for i in $ifaces; do
		n=$(nettap_index "$i")
		[ -n "$n" ] || continue
		timeout 600 nc "10.77.$n.1" $((5100 + n)) <&3 > /tmp/rx || bad="$bad $i:receive-failed"
		sum=$(md5sum < /tmp/rx)
		size=$(wc -c < /tmp/rx)
		echo "skiff-guest: $i received $size bytes md5 ${sum%% *}"
		timeout 600 nc "10.77.$n.1" $((5200 + n)) < /tmp/rx || bad="$bad $i:send-failed"
		rm -f /tmp/rx
	done
	exec 3>&-
	if [ -z "$bad" ]; then
		pass nettap "$ifaces: link, address, ping$([ "$mode" = :ping ] || echo ', TCP both ways')"
	else
		fail nettap "$bad"
	fi
}
