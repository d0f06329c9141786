# Every virtio device: where it sits (PCI function, or ACPI LNRO0005 /
# virtio-mmio platform device), its driver, and whether the driver
# negotiated VIRTIO_F_VERSION_1 (feature bit 32: modern) or not (legacy).
check_virtio() {
	local dev path drv features mode n=0 unbound=0
	for dev in /sys/bus/virtio/devices/*; do
		[ -e "$dev" ] || continue
		path=$(readlink -f "$dev")
		drv=$(readlink -f "$dev/driver" 2>/dev/null)
		read -r features < "$dev/features"
		case $features in ????????????????????????????????1*) mode=modern ;; *) mode=legacy ;; esac
		echo "skiff-guest: virtio ${dev##*/} driver=${drv##*/} $mode at ${path%/*}"
		n=$((n + 1))
		[ -n "$drv" ] || unbound=$((unbound + 1))
	done
	if [ "$unbound" -eq 0 ]; then
		pass virtio "$n devices, all bound to a driver"
	else
		fail virtio "$unbound of $n devices have no driver"
	fi
}
