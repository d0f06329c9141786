# N short processes, each a fresh exec of the static busybox (glibc's
# start-up, its AVX string functions): each must give the right answer,
# and the kernel must log no segfault. ":N" sets the count (default 300).
check_exec() {
	local n=${1#:} i=0 wrong=0 before after start end
	[ -n "$n" ] || n=300
	before=$(dmesg | grep -c 'segfault at')
	read -r start _ < /proc/uptime
	while [ $i -lt "$n" ]; do
		[ "$(/bin/busybox expr $i + 1)" = $((i + 1)) ] || wrong=$((wrong + 1))
		i=$((i + 1))
	done
	read -r end _ < /proc/uptime
	after=$(dmesg | grep -c 'segfault at')
	echo "skiff-guest: exec: $n processes in $start s -> $end s uptime, $wrong wrong answers, $((after - before)) segfaults"
	if [ "$wrong" -eq 0 ] && [ "$after" -eq "$before" ]; then
		pass exec "$n processes, 0 wrong, 0 segfaults"
	else
		fail exec "$n processes: $wrong wrong answers, $((after - before)) segfaults"
	fi
}
