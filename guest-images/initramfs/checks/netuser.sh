# The user-mode networking boot test's guest side (tests/boot/net-user.sh):
# DHCP on the first virtio-net interface, then a TCP round trip to a
# listener on the host's loopback through the slirp gateway (10.0.2.2:5300:
# the host sends a line, the guest sends it back with its md5sum), then
# serve one connection on guest port 5400 for the host's hostfwd (answer
# "guest-hostfwd-ok" to whatever comes).
check_netuser() {
	. /lib/skiff/checks/net.sh
	local ifaces iface bad= line
	ifaces=$(net_ifaces)
	iface=${ifaces%% *}
	[ -n "$iface" ] || { fail netuser "no virtio-net interface"; return; }
	net_link_up "$iface" 5 || bad="$bad no-carrier"
	net_configure "$iface" dhcp || bad="$bad no-dhcp-lease"
	# Listen before telling the host we are ready: its hostfwd may connect at once.
	echo guest-hostfwd-ok | timeout 120 nc -l -p 5400 > /tmp/hostfwd.in &
	net_wait_listen 5400 30 || bad="$bad listener-not-up"
	echo "skiff-ready: netuser $iface"
	mkfifo /tmp/hold
	exec 3<>/tmp/hold
	line=$(timeout 60 nc 10.0.2.2 5300 <&3)
	exec 3>&-
	echo "skiff-guest: from the host loopback: '$line'"
	[ -n "$line" ] || bad="$bad loopback-unreachable"
	echo "$line" | timeout 60 nc 10.0.2.2 5301 || bad="$bad loopback-send-failed"
	wait
	read -r line < /tmp/hostfwd.in
	echo "skiff-guest: through hostfwd: '$line'"
	[ -n "$line" ] || bad="$bad hostfwd-nothing-arrived"
	if [ -z "$bad" ]; then
		pass netuser "$iface: DHCP, host loopback through the gateway, hostfwd"
	else
		fail netuser "$bad"
	fi
}
