# Boot-and-ping (tools/skiff-ping-test drives it): configure the first
# virtio-net interface from skiff.net=, ping skiff.ping=, and end the boot
# through the debug-exit port with the first step that failed:
#   11 no virtio-net device bound     13 no address (DHCP timeout)
#   12 no link (carrier)              14 no reply to the pings
# Success powers off (skiff exits 0). Before the pings the guest prints
# "skiff-ready: ..." on the console: the host may start its side then.
check_netping() {
	. /lib/skiff/checks/net.sh
	local ifaces iface spec target count
	spec=$(net_arg skiff.net dhcp)
	target=$(net_arg skiff.ping '')
	count=3
	case $target in *,*) count=${target#*,}; target=${target%%,*} ;; esac

	ifaces=$(net_ifaces)
	iface=${ifaces%% *}
	if [ -z "$iface" ]; then
		fail netping "step device: no virtio-net device bound"; action=debug-exit=11; return
	fi
	if ! net_link_up "$iface" 5; then
		fail netping "step link: $iface has no carrier"; action=debug-exit=12; return
	fi
	if ! net_configure "$iface" "$spec"; then
		fail netping "step address: $iface got no address ($spec)"; action=debug-exit=13; return
	fi
	# Default target: the default gateway.
	[ -n "$target" ] || target=$(ip route | while read -r a b c _; do [ "$a" = default ] && echo "$c"; done)
	echo "skiff-ready: net $iface up"
	if [ -z "$target" ] || ! net_ping "$target" "$count"; then
		fail netping "step ping: no reply from ${target:-(no gateway)}"; action=debug-exit=14; return
	fi
	pass netping "$iface ($spec) reached $target"
}
