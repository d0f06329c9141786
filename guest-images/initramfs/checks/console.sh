# virtio-console named ports, found through /sys/class/virtio-ports/*/name
# (busybox has no udev to make /dev/virtio-ports/NAME):
#   log    write a line; the host finds it in the port's file
#   echo   a shell loop with the port open read-write as its stdin and
#          stdout, left running: the host sends lines through the socket and
#          reads them back (the marker comes once the port is open). Linux
#          gives a reader EOF on a port with no host program connected, so
#          the loop waits for the host to connect, then serves it until it
#          leaves.
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
		# Shell builtins echo the lines. A read ends at once (EOF) while
		# no host program is connected: wait for one, serve it until it
		# leaves, then stop.
		served=
		while :; do
			while IFS= read -r line; do
				printf '%s\n' "$line"
				served=1
			done
			[ -z "$served" ] || break
			sleep 1
		done
	) &
	pass console "$n named ports; echo running"
}
