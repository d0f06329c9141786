# The user-mode networking check's guest side (host side: netuser_* in
# tests/boot/lib.sh): DHCP on the first virtio-net interface; a DNS query
# for skiff-dns.test to slirp's forwarder (10.0.2.3); a TCP round trip to
# a listener on the host's loopback through the slirp gateway (10.0.2.2:
# 5300 sends a line, 5301 takes it back) and a UDP exchange with the echo
# server on 5302 there; then answer one TCP connection on port 5400
# ("guest-hostfwd-ok") and one UDP datagram on port 5401 (net-stream
# udp-echo) that come through the host's hostfwd rules.
check_netuser() {
	. /lib/skiff/checks/net.sh
	local ifaces iface bad= line addr
	ifaces=$(net_ifaces)
	iface=${ifaces%% *}
	[ -n "$iface" ] || { fail netuser "no virtio-net interface"; return; }
	net_link_up "$iface" 5 || bad="$bad no-carrier"
	net_configure "$iface" dhcp || bad="$bad no-dhcp-lease"
	addr=$(net_dns_lookup skiff-dns.test 10.0.2.3)
	echo "skiff-guest: dns skiff-dns.test ${addr:-no-answer}"
	[ -n "$addr" ] || bad="$bad no-dns-answer"
	# Listen before telling the host we are ready: its hostfwd may connect at once.
	echo guest-hostfwd-ok | timeout 120 nc -l -p 5400 > /tmp/hostfwd.in &
	net-stream udp-echo 5401 600 > /tmp/udp.in &
	net_wait_listen 5400 30 || bad="$bad listener-not-up"
	net_wait_listen 5401 30 udp || bad="$bad udp-listener-not-up"
	echo "skiff-ready: netuser $iface"
	mkfifo /tmp/hold
	exec 3<>/tmp/hold
	line=$(timeout 60 nc 10.0.2.2 5300 <&3)
	exec 3>&-
	echo "skiff-guest: from the host loopback: '$line'"
	[ -n "$line" ] || bad="$bad loopback-unreachable"
	echo "$line" | timeout 60 nc 10.0.2.2 5301 || bad="$bad loopback-send-failed"
	line=$(net-stream udp-ask 10.0.2.2 5302 guest-udp 30) || bad="$bad udp-no-answer"
	echo "skiff-guest: $line"
	wait
	read -r line < /tmp/hostfwd.in
	echo "skiff-guest: through hostfwd: '$line'"
	[ -n "$line" ] || bad="$bad hostfwd-nothing-arrived"
	read -r line < /tmp/udp.in
	echo "skiff-guest: $line"
	[ -n "$line" ] || bad="$bad udp-hostfwd-nothing-arrived"
	if [ -z "$bad" ]; then
		pass netuser "$iface: DHCP, DNS, TCP and UDP to the host loopback through the gateway, TCP and UDP hostfwd"
	else
		fail netuser "$bad"
	fi
}
