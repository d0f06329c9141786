# Every virtio-console port whose name starts with "log": one line written
# to it, naming the port; the host finds that line in the port's file
# (--device console,port=log-X:file=PATH). Proves the multiport control
# queue (the name arrived) and the port's transmit queue on whatever
# transport the console device sits on.
check_portlog() {
	local port name n=0 bad=0
	for port in /sys/class/virtio-ports/*; do
		[ -e "$port/name" ] || continue
		read -r name < "$port/name"
		case $name in log*) ;; *) continue ;; esac
		n=$((n + 1))
		echo "skiff port $name: hello from the guest" > "/dev/${port##*/}" || bad=$((bad + 1))
	done
	if [ "$n" -eq 0 ]; then
		fail portlog "no console port named log*"
	elif [ "$bad" -eq 0 ]; then
		pass portlog "$n ports written"
	else
		fail portlog "$bad of $n ports could not be written"
	fi
}
