# virtio-console named ports, found through /sys/class/virtio-ports/*/name
# (busybox has no udev to make /dev/virtio-ports/NAME):
#   log    write a line; the host finds it in the port's file
#   echo   a cat with the port open read-write as its stdin and stdout,
#          left running: the host sends through the socket and reads it back
#          (the marker comes once the port is open)
# Also says which tty is the console (hvc0 with --console virtio).
check_console() {
	local port name n=0 log= echo=
	for port in /sys/class/virtio-ports/*; do
		[ -e "$port/name" ] || continue
		read -r name < "$port/name"
		echo "skiff-guest: console port ${port##*/} name=$name"
		n=$((n + 1))
		case $name in
		log) log=/dev/${port##*/} ;;
		echo) echo=/dev/${port##*/} ;;
		esac
	done
	echo "skiff-guest: console active: $(cat /sys/class/tty/console/active)"
	if [ -z "$log" ] || [ -z "$echo" ]; then
		fail console "ports log and echo not found ($n named ports)"
		return
	fi
	echo "skiff console port log: hello from the guest" > "$log"
	(
		exec 0<>"$echo" 1>&0 # one open, read-write: a port allows one opener
		echo "skiff-guest: console echo ready" >/dev/console
		exec cat
	) &
	pass console "$n named ports; echo running"
}
