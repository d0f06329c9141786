# Every virtio-net interface, one after the other: link up, then a DHCP
# lease from the host's user-mode network (--device net,backend=user:
# slirp answers on every NIC with 10.0.2.15). A lease is a frame sent
# (DISCOVER, REQUEST) and frames received (OFFER, ACK) on that NIC, so
# this proves tx and rx on whatever transport the NIC sits on. The
# address is removed again before the next NIC, so the leases never
# share a route. Needs net.sh's helpers.
check_netdhcp() {
	. /lib/skiff/checks/net.sh
	local ifaces i n=0 bad=0
	ifaces=$(net_ifaces)
	[ -n "$ifaces" ] || { fail netdhcp "no virtio-net interface"; return; }
	for i in $ifaces; do
		n=$((n + 1))
		if net_link_up "$i" 10 && net_configure "$i" dhcp; then
			ip addr flush dev "$i"
			ip link set "$i" down
		else
			echo "skiff-guest: netdhcp $i: no lease"
			bad=$((bad + 1))
		fi
	done
	if [ "$bad" -eq 0 ]; then
		pass netdhcp "$n interfaces, a DHCP lease on each"
	else
		fail netdhcp "$bad of $n interfaces got no lease"
	fi
}
