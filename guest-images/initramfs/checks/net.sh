# Networking helpers for the net checks (netping, nettap, netuser), and the
# `net` check itself: list the virtio-net interfaces and their link state.
#
# Kernel command line (read by /init into $cmdline):
#   skiff.net=dhcp | ADDR/PREFIX[,GW]   how the first virtio-net interface
#                                        gets its address (default: dhcp)
#   skiff.ping=ADDR[,COUNT]              what netping pings (default: the
#                                        gateway, 3 times)
# Exec costs ~0.6 s on a software-KVM host: builtins where possible.

# The interfaces virtio_net bound, in virtio device order: "eth0 eth1 ...".
net_ifaces() {
	local d n list=
	for d in /sys/bus/virtio/drivers/virtio_net/virtio*; do
		for n in "$d"/net/*; do
			[ -e "$n" ] && list="$list ${n##*/}"
		done
	done
	echo $list
}

# The value of KEY= on the kernel command line, or $2.
net_arg() {
	local arg
	set -f
	for arg in $cmdline; do
		case $arg in "$1="*) echo "${arg#"$1="}"; set +f; return ;; esac
	done
	set +f
	echo "$2"
}

# Bring IFACE up and wait up to $2 seconds (default 5) for carrier.
net_link_up() {
	local i=0 carrier=0
	ip link set "$1" up 2>/dev/null
	while [ $i -lt $((${2:-5} * 4)) ]; do
		read -r carrier < "/sys/class/net/$1/carrier" 2>/dev/null
		[ "$carrier" = 1 ] && return 0
		sleep 0.25
		i=$((i + 1))
	done
	return 1
}

# net_wait_listen PORT SECONDS [udp]: wait until a TCP socket listens on
# PORT (or a UDP socket is bound to it). Exec is slow here: a program
# started in the background may take seconds to get there.
net_wait_listen() {
	local hex i=0 sl local rest proto=${3:-tcp} state=0A
	[ "$proto" = tcp ] || state=07 # TCP_CLOSE: how an unconnected UDP socket shows
	hex=$(printf '%04X' "$1")
	while [ $i -lt $(($2 * 4)) ]; do
		for f in /proc/net/$proto /proc/net/${proto}6; do
			while read -r sl local rest; do
				case "$local ${rest#* }" in *":$hex $state "*) return 0 ;; esac
			done < "$f" 2>/dev/null
		done
		sleep 0.25
		i=$((i + 1))
	done
	return 1
}

# net_dns_lookup NAME SERVER: the first address SERVER gives for NAME
# (busybox nslookup prints the server's own "Address:" before "Name:").
net_dns_lookup() {
	local word name_seen= take=
	for word in $(nslookup "$1" "$2" 2>/dev/null); do
		[ -n "$take" ] && { echo "$word"; return 0; }
		case $word in
		Name:) name_seen=1 ;;
		Address:) [ -z "$name_seen" ] || take=1 ;;
		esac
	done
	return 1
}

# udhcpc calls this (as `$0 EVENT`) with the lease in its environment.
net_dhcp_script() {
	cat > /tmp/udhcpc.script <<'SCRIPT'
#!/bin/sh
case $1 in
bound|renew)
	ip addr flush dev "$interface"
	ip addr add "$ip/${mask:-24}" dev "$interface"
	for r in $router; do ip route add default via "$r" dev "$interface"; break; done
	echo "skiff-guest: dhcp $interface $ip/${mask:-24} router ${router:-none} dns ${dns:-none}" > /dev/console
	: > "/tmp/dhcp.$interface" ;;
esac
SCRIPT
	chmod +x /tmp/udhcpc.script
}

# Configure IFACE from SPEC (dhcp | ADDR/PREFIX[,GW]). 0 = has an address.
net_configure() {
	local iface=$1 spec=$2 addr gw
	case $spec in
	dhcp)
		net_dhcp_script
		# 4 discovers 1 s apart, then give up (-n): a DHCP timeout.
		udhcpc -i "$iface" -n -q -t 4 -T 1 -s /tmp/udhcpc.script >/dev/null 2>&1
		[ -e "/tmp/dhcp.$iface" ] ;;
	*/*)
		addr=${spec%%,*}
		gw=
		case $spec in *,*) gw=${spec#*,} ;; esac
		ip addr add "$addr" dev "$iface" || return 1
		[ -z "$gw" ] || ip route add default via "$gw" dev "$iface" || return 1
		echo "skiff-guest: $iface $addr${gw:+ via $gw}" ;;
	*)
		return 1 ;;
	esac
}

# Ping ADDR COUNT times (1 s apart, 3 s for the last reply); print the
# round-trip times. 0 = at least one reply.
net_ping() {
	local out line got=0
	out=$(ping -c "$2" -W 3 "$1" 2>&1)
	echo "$out" | while read -r line; do echo "skiff-guest: ping: $line"; done
	case $out in *" 0 packets received"*|"") return 1 ;; esac
	return 0
}

check_net() {
	local ifaces i carrier desc=
	ifaces=$(net_ifaces)
	[ -n "$ifaces" ] || { fail net "no virtio-net interface"; return; }
	for i in $ifaces; do
		read -r carrier < "/sys/class/net/$i/carrier" 2>/dev/null || carrier=down
		desc="$desc $i"
	done
	pass net "interfaces:$desc"
}
